//! Passwords and random secrets of customer accounts.
//!
//! New passwords are hashed with argon2id (PHC strings). Accounts imported from Spryker carry bcrypt
//! hashes (`$2y$`, also `$2a$`/`$2b$`); those verify too and are reported as needing a re-hash, which
//! the sign-in stores. Refresh tokens and reset keys are 256 random bits; storage only sees their
//! SHA-256, which is enough for secrets of that strength and keeps look-ups a single indexed read.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

/// Every refresh token starts with this, so leaked tokens are easy to recognise.
pub const REFRESH_TOKEN_PREFIX: &str = "kr1_";

/// An argon2id hash (default parameters) of a random string nobody knows. Verifying a password against
/// it costs what a real verification costs, so an unknown e-mail answers as slowly as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bnLykiT7/zaKZFrAwhwZQw$ZqwFzDWzkdZXVlhplowR/vJ+eHuqt0rkpqULP2Hs5PU";

/// A password hash no password matches (stored for anonymised accounts).
pub const UNUSABLE_HASH: &str = "!";

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches; `needs_rehash` when the stored hash is bcrypt.
    Valid {
        needs_rehash: bool,
    },
    Invalid,
}

/// Hashes a password with argon2id. Length rules are the caller's: imported passwords may be shorter.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// Checks a password against an argon2 PHC string or a bcrypt hash; anything else never matches.
pub fn check_password(password: &str, stored_hash: &str) -> PasswordCheck {
    let is_bcrypt = ["$2y$", "$2a$", "$2b$"]
        .iter()
        .any(|prefix| stored_hash.starts_with(prefix));
    let matches = if is_bcrypt {
        bcrypt::verify(password, stored_hash).unwrap_or(false)
    } else if stored_hash.starts_with("$argon2") {
        PasswordHash::new(stored_hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    } else {
        false
    };
    if matches {
        PasswordCheck::Valid {
            needs_rehash: is_bcrypt,
        }
    } else {
        PasswordCheck::Invalid
    }
}

/// Spends the time of one real verification and matches nothing.
pub fn check_against_dummy(password: &str) {
    let _ = check_password(password, DUMMY_HASH);
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// A new refresh token: the prefix and 256 random bits in hex.
pub fn new_refresh_token() -> String {
    format!("{REFRESH_TOKEN_PREFIX}{}", random_hex(32))
}

/// A new password reset key: 256 random bits in hex (URL-safe, it travels in a path segment).
pub fn new_reset_key() -> String {
    random_hex(32)
}

/// A random RFC 4122 version 4 UUID, the id of an address.
pub fn new_uuid() -> String {
    let mut bytes = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A unique address for an anonymised account, in the reserved `.invalid` domain.
pub fn anonymised_email() -> String {
    format!("deleted-{}@anonymised.invalid", random_hex(12))
}

/// The stored form of a refresh token or reset key.
pub fn secret_hash(secret: &str) -> String {
    crate::users::token_hash(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_hashes_verify_and_need_no_rehash() {
        let hash = hash_password("correct horse battery").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(
            check_password("correct horse battery", &hash),
            PasswordCheck::Valid { needs_rehash: false }
        );
        assert_eq!(check_password("wrong horse battery", &hash), PasswordCheck::Invalid);
    }

    #[test]
    fn spryker_bcrypt_hashes_verify_and_need_a_rehash() {
        let hash_2b = bcrypt::hash("change123", 4).expect("hashes");
        for prefix in ["$2y$", "$2a$", "$2b$"] {
            let imported = format!("{prefix}{}", &hash_2b[4..]);
            assert_eq!(
                check_password("change123", &imported),
                PasswordCheck::Valid { needs_rehash: true },
                "{prefix}"
            );
            assert_eq!(check_password("change124", &imported), PasswordCheck::Invalid);
        }
    }

    #[test]
    fn unusable_and_garbled_hashes_match_nothing() {
        assert_eq!(check_password("", UNUSABLE_HASH), PasswordCheck::Invalid);
        assert_eq!(check_password("x", "$2y$garbage"), PasswordCheck::Invalid);
        assert_eq!(check_password("x", "plain"), PasswordCheck::Invalid);
        assert_eq!(check_password("anything", DUMMY_HASH), PasswordCheck::Invalid);
        assert!(
            PasswordHash::new(DUMMY_HASH).is_ok(),
            "the dummy hash parses, so it costs a real check"
        );
    }

    #[test]
    fn secrets_are_random_and_well_formed() {
        let token = new_refresh_token();
        assert!(token.starts_with(REFRESH_TOKEN_PREFIX));
        assert_eq!(token.len(), REFRESH_TOKEN_PREFIX.len() + 64);
        assert_ne!(token, new_refresh_token());
        assert_eq!(new_reset_key().len(), 64);
        assert_eq!(secret_hash(&token).len(), 64);
        let uuid = new_uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(anonymised_email().ends_with("@anonymised.invalid"));
    }
}
