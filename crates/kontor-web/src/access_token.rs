//! Customer access tokens: short-lived JWTs (HS256) that the backend signs at sign-in and every storefront
//! node verifies locally, so no request needs a backend call to know who is asking
//! (`../shared/spec/storefront-api.md` §6).
//!
//! Claims: `sub` = customer reference, `aud` = `frontend`, `scopes` = `["customer"]`, `iat`, `exp`, `jti`.
//! Expiry is checked without leeway: an expired token is refused at once.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The audience every customer token carries.
pub const AUDIENCE: &str = "frontend";

/// The claims of a customer access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The customer reference (`DE--7`).
    pub sub: String,
    pub aud: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a token was refused. Deliberately coarse: clients get `001` whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is malformed or its signature is wrong")]
    Invalid,
    #[error("the access token could not be signed: {0}")]
    Signing(String),
}

/// A freshly signed token and its lifetime in seconds.
#[derive(Clone)]
pub struct SignedAccessToken {
    pub token: String,
    pub expires_in: u64,
}

/// Signs and verifies customer access tokens with one shared secret.
#[derive(Clone)]
pub struct AccessTokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime_seconds: u64,
}

impl fmt::Debug for AccessTokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenKeys")
            .field("lifetime_seconds", &self.lifetime_seconds)
            .finish_non_exhaustive()
    }
}

impl AccessTokenKeys {
    pub fn from_secret(secret: &[u8], lifetime_seconds: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetime_seconds,
        }
    }

    pub fn lifetime_seconds(&self) -> u64 {
        self.lifetime_seconds
    }

    /// Signs a token for `customer_reference`, valid for the configured lifetime from now.
    pub fn issue(&self, customer_reference: &str) -> Result<SignedAccessToken, AccessTokenError> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: customer_reference.to_owned(),
            aud: AUDIENCE.to_owned(),
            scopes: vec!["customer".to_owned()],
            iat: now,
            exp: now.saturating_add(i64::try_from(self.lifetime_seconds).unwrap_or(i64::MAX)),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        self.sign(&claims).map(|token| SignedAccessToken {
            token,
            expires_in: self.lifetime_seconds,
        })
    }

    /// Signs arbitrary claims (tests use it to forge expired tokens with the right key).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AccessTokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|error| AccessTokenError::Signing(error.to_string()))
    }

    /// Checks signature, algorithm, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccessTokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AccessTokenError::Expired,
                _ => AccessTokenError::Invalid,
            })
    }
}

/// The backend's customer service signs access tokens at sign-in and refresh through this port.
impl kontor_domain::customer::AccessTokenIssuer for AccessTokenKeys {
    fn issue_access_token(
        &self,
        customer_reference: &str,
    ) -> Result<(String, u64), kontor_domain::customer::TokenIssueError> {
        self.issue(customer_reference)
            .map(|signed| (signed.token, signed.expires_in))
            .map_err(|error| kontor_domain::customer::TokenIssueError(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify_and_name_the_customer() {
        let keys = AccessTokenKeys::from_secret(SECRET, 600);
        let signed = keys.issue("DE--7").expect("signs");
        let claims = keys.verify(&signed.token).expect("verifies");
        assert_eq!(claims.sub, "DE--7");
        assert_eq!(claims.aud, AUDIENCE);
        assert_eq!(claims.exp - claims.iat, 600);
    }

    #[test]
    fn the_customer_service_port_issues_verifiable_tokens() {
        use kontor_domain::customer::AccessTokenIssuer;
        let keys = AccessTokenKeys::from_secret(SECRET, 600);
        let (token, expires_in) = keys.issue_access_token("DE--7").expect("signs");
        assert_eq!(expires_in, 600);
        assert_eq!(keys.verify(&token).expect("verifies").sub, "DE--7");
    }

    #[test]
    fn forged_expired_and_garbled_tokens_are_refused() {
        let keys = AccessTokenKeys::from_secret(SECRET, 600);
        let other = AccessTokenKeys::from_secret(b"another-secret-another-secret-xx", 600);
        let forged = other.issue("DE--7").expect("signs");
        assert_eq!(keys.verify(&forged.token), Err(AccessTokenError::Invalid));
        let now = Utc::now().timestamp();
        let expired = keys
            .sign(&AccessClaims {
                sub: "DE--7".to_owned(),
                aud: AUDIENCE.to_owned(),
                scopes: vec!["customer".to_owned()],
                iat: now - 100,
                exp: now - 10,
                jti: "x".to_owned(),
            })
            .expect("signs");
        assert_eq!(keys.verify(&expired), Err(AccessTokenError::Expired));
        assert_eq!(keys.verify("not.a.jwt"), Err(AccessTokenError::Invalid));
        let wrong_audience = keys
            .sign(&AccessClaims {
                sub: "DE--7".to_owned(),
                aud: "backoffice".to_owned(),
                scopes: vec![],
                iat: now,
                exp: now + 100,
                jti: "y".to_owned(),
            })
            .expect("signs");
        assert_eq!(keys.verify(&wrong_audience), Err(AccessTokenError::Invalid));
    }
}
