//! Signed, expiring URLs: how a private file is handed to a browser without opening the route to
//! everybody.
//!
//! A URL is `/files/<key>?expires=<unix seconds>&signature=<hex HMAC-SHA256>`. The MAC covers a version
//! tag, the whole key and the expiry, so a signature is good for exactly one key until exactly one
//! moment: changing either refuses the URL. Verification compares in constant time. The secret is
//! never printed (`Debug` leaves it out).

use crate::error::{FileError, SignatureError};
use crate::key::FileKey;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::Duration;

/// Where the HTTP layer serves files: `/files/public/…` and `/files/private/…`.
pub const URL_PATH_PREFIX: &str = "/files";

/// Shortest secret accepted: as many bytes as the MAC has.
pub const MIN_SECRET_BYTES: usize = 32;

/// Separates these MACs from any other use of the same secret, and lets the scheme change later.
const MAC_DOMAIN: &[u8] = b"kontor-files-url-v1\n";

/// The URL path of a file without a signature: how public files are linked.
pub fn url_path(key: &FileKey) -> String {
    // Keys hold only characters that need no percent-encoding in a path.
    format!("{URL_PATH_PREFIX}/{key}")
}

/// Signs and verifies URLs of private files with one secret (from config, shared by every node that
/// serves files).
#[derive(Clone)]
pub struct UrlSigner {
    mac: Hmac<Sha256>,
}

impl UrlSigner {
    /// A signer with `secret`, which must have at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, FileError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(FileError::InvalidSecret("the secret needs at least 32 bytes"));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| FileError::InvalidSecret("the secret cannot key HMAC-SHA256"))?;
        Ok(Self { mac })
    }

    /// `/files/<key>?expires=…&signature=…`, valid until `expires_at` (whole seconds, rounded down).
    pub fn sign(&self, key: &FileKey, expires_at: DateTime<Utc>) -> String {
        let expires = expires_at.timestamp();
        format!(
            "{}?expires={expires}&signature={}",
            url_path(key),
            self.signature(key, expires)
        )
    }

    /// [`sign`](Self::sign) for `lifetime` from now; also returns the expiry.
    pub fn sign_for(&self, key: &FileKey, lifetime: Duration) -> (String, DateTime<Utc>) {
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(365));
        let expires_at = Utc::now() + lifetime;
        (self.sign(key, expires_at), expires_at)
    }

    /// The hex signature of `key` until `expires` (Unix seconds).
    pub fn signature(&self, key: &FileKey, expires: i64) -> String {
        hex::encode(self.mac_of(key, expires).finalize().into_bytes())
    }

    /// Accepts the signature only if it was made by this secret for `key` and `expires`, and `now` is
    /// before `expires`. The signature is checked first, so a forged URL is `Invalid` whatever its expiry.
    pub fn verify(
        &self,
        key: &FileKey,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let signature = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        self.mac_of(key, expires)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Invalid)?;
        if now.timestamp() >= expires {
            let expired_at = DateTime::from_timestamp(expires, 0).unwrap_or_default();
            return Err(SignatureError::Expired { expired_at });
        }
        Ok(())
    }

    /// [`verify`](Self::verify) with `expires` and `signature` read from a raw query string (as the
    /// HTTP route receives it); other parameters are ignored.
    pub fn verify_query(&self, key: &FileKey, query: Option<&str>, now: DateTime<Utc>) -> Result<(), SignatureError> {
        let mut expires = None;
        let mut signature = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "expires" => expires = Some(value.into_owned()),
                "signature" => signature = Some(value.into_owned()),
                _ => {}
            }
        }
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(SignatureError::Missing);
        };
        // An expiry that is not a number was never signed by us.
        let expires: i64 = expires.parse().map_err(|_| SignatureError::Invalid)?;
        self.verify(key, expires, &signature, now)
    }

    fn mac_of(&self, key: &FileKey, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(MAC_DOMAIN);
        mac.update(key.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("UrlSigner").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        assert!(UrlSigner::new("too short").is_err());
        assert!(UrlSigner::new([7_u8; 32]).is_ok());
    }

    #[test]
    fn debug_hides_the_secret() {
        let signer = UrlSigner::new("a-very-secret-value-of-32-bytes!!").expect("signer");
        assert_eq!(format!("{signer:?}"), "UrlSigner { .. }");
    }
}
