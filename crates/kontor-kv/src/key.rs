//! Key rules and the physical key layout `kv:<namespace><key>`.
//!
//! Callers build keys with the key builders of `kontor-readmodel` (lower-case Spryker format); this
//! module only enforces what the store itself relies on: a key is non-empty and at most
//! [`MAX_KEY_BYTES`] bytes, so a key always fits the `VARCHAR(512)` of the storage tables.

use crate::KvError;

/// The longest key accepted, in bytes, without the `kv:` prefix and namespace (spec §4).
pub const MAX_KEY_BYTES: usize = 512;

/// A namespace longer than this is a configuration mistake, not a deliberate choice.
const MAX_NAMESPACE_BYTES: usize = 128;

/// Characters shown of a key in an error message; a 600-byte key would drown the message.
const PREVIEW_CHARS: usize = 80;

/// Rejects an empty or oversized key, naming it.
pub(crate) fn validate(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::InvalidKey {
            key: key.to_owned(),
            reason: "a key must not be empty",
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::InvalidKey {
            key: key.to_owned(),
            reason: "a key must be at most 512 bytes",
        });
    }
    Ok(())
}

/// A scan prefix may be empty (everything) but not longer than a key.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), KvError> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(KvError::InvalidKey {
            key: prefix.to_owned(),
            reason: "a scan prefix must be at most 512 bytes",
        });
    }
    Ok(())
}

pub(crate) fn validate_namespace(namespace: &str) -> Result<(), KvError> {
    if namespace.len() > MAX_NAMESPACE_BYTES {
        return Err(KvError::InvalidOptions("the kv namespace must be at most 128 bytes"));
    }
    Ok(())
}

/// The physical key prefix `kv:<namespace>` every stored key starts with.
pub(crate) fn physical_prefix(namespace: &str) -> String {
    format!("kv:{namespace}")
}

/// The start of `key` for error messages, cut at a character boundary.
pub(crate) fn preview(key: &str) -> String {
    match key.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_keys_up_to_the_limit() {
        assert!(validate("product_abstract:de:en_us:123").is_ok());
        assert!(validate(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(validate(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(validate("").is_err());
    }

    #[test]
    fn counts_bytes_not_characters() {
        // 'ü' is two bytes in UTF-8: 257 of them are 514 bytes.
        assert!(validate(&"ü".repeat(257)).is_err());
    }

    #[test]
    fn previews_long_keys_on_a_char_boundary() {
        let key = "ü".repeat(100);
        let shown = preview(&key);
        assert_eq!(shown.chars().count(), PREVIEW_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(preview("short"), "short");
    }
}
