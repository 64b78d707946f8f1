//! Back Office users and their API tokens.
//!
//! Passwords are stored as argon2id PHC strings. API tokens are 256 random bits shown once at
//! creation; only their SHA-256 is stored, which is enough for secrets of that strength and keeps the
//! per-request lookup a single indexed read.

use crate::DomainError;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_core::ids::{ApiTokenId, UserId};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// Every API token starts with this, so leaked tokens are easy to recognise in logs and scanners.
pub const API_TOKEN_PREFIX: &str = "kontor_";
pub const MIN_PASSWORD_LENGTH: usize = 12;

/// A checked, lower-cased e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let normalized = raw.trim().to_lowercase();
        let valid = match normalized.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !normalized.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !valid || normalized.len() > 254 {
            return Err(DomainError::field("/email", "is not a valid e-mail address"));
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Back Office user as stored, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

/// A freshly issued API token. The secret exists only here; storage keeps its hash.
#[derive(Clone)]
pub struct IssuedToken {
    pub id: ApiTokenId,
    pub secret: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("secret", &"********")
            .finish()
    }
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Fails with a conflict on `/email` when the address is taken.
    async fn create_user(&self, email: &Email, password_hash: &str) -> Result<User, DomainError>;
    async fn find_user_by_email(&self, email: &Email) -> Result<Option<(User, String)>, DomainError>;
    async fn create_api_token(&self, user: UserId, name: &str, token_hash: &str) -> Result<ApiTokenId, DomainError>;
    /// The active user owning a non-revoked token with this hash.
    async fn find_user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>, DomainError>;
    async fn revoke_api_token(&self, id: ApiTokenId) -> Result<(), DomainError>;
}

#[derive(Clone)]
pub struct UserService {
    repository: Arc<dyn UserRepository>,
}

impl UserService {
    pub fn new(repository: Arc<dyn UserRepository>) -> Self {
        Self { repository }
    }

    /// Creates a user; the password must be at least [`MIN_PASSWORD_LENGTH`] characters.
    /// Hashing takes tens of milliseconds on purpose: call it off the async executor.
    pub async fn create_user(&self, email: &str, password: &str) -> Result<User, DomainError> {
        let email = Email::parse(email)?;
        let hash = hash_password(password)?;
        self.repository.create_user(&email, &hash).await
    }

    /// Checks an e-mail and password; any mismatch is the same `Unauthorized`.
    pub async fn verify_password(&self, email: &str, password: &str) -> Result<User, DomainError> {
        let email = Email::parse(email).map_err(|_| DomainError::Unauthorized)?;
        let Some((user, hash)) = self.repository.find_user_by_email(&email).await? else {
            return Err(DomainError::Unauthorized);
        };
        if !user.is_active || !password_matches(password, &hash) {
            return Err(DomainError::Unauthorized);
        }
        Ok(user)
    }

    pub async fn issue_api_token(&self, user: UserId, name: &str) -> Result<IssuedToken, DomainError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(DomainError::field("/name", "must be 1 to 255 characters long"));
        }
        let secret = new_token_secret();
        let id = self
            .repository
            .create_api_token(user, name, &token_hash(&secret))
            .await?;
        Ok(IssuedToken { id, secret })
    }

    /// The user a bearer token belongs to, or `Unauthorized`.
    pub async fn authenticate_token(&self, secret: &str) -> Result<User, DomainError> {
        if !secret.starts_with(API_TOKEN_PREFIX) {
            return Err(DomainError::Unauthorized);
        }
        self.repository
            .find_user_by_token_hash(&token_hash(secret))
            .await?
            .ok_or(DomainError::Unauthorized)
    }

    pub async fn revoke_api_token(&self, id: ApiTokenId) -> Result<(), DomainError> {
        self.repository.revoke_api_token(id).await
    }
}

pub fn hash_password(password: &str) -> Result<String, DomainError> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(DomainError::field(
            "/password",
            format!("must be at least {MIN_PASSWORD_LENGTH} characters long"),
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| DomainError::Storage(format!("password hashing failed: {error}")))
}

pub fn password_matches(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

fn new_token_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{API_TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a token.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Admin@Example.COM ").map(|e| e.to_string()).ok(),
            Some("admin@example.com".into())
        );
        for bad in [
            "",
            "admin",
            "admin@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2_and_verify() {
        let hash = hash_password("correct horse battery").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("wrong horse battery", &hash));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn token_secrets_are_prefixed_and_only_their_hash_is_kept() {
        let secret = new_token_secret();
        assert!(secret.starts_with(API_TOKEN_PREFIX));
        assert_eq!(secret.len(), API_TOKEN_PREFIX.len() + 64);
        assert_eq!(token_hash(&secret).len(), 64);
        assert_ne!(token_hash(&secret), secret);
        let issued = IssuedToken {
            id: ApiTokenId(1),
            secret,
        };
        assert!(!format!("{issued:?}").contains(API_TOKEN_PREFIX));
    }
}
