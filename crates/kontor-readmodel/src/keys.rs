//! Keys in Spryker's format (`../shared/spec/publish-sync.md` §4):
//! `resource [":" store] [":" locale] [":" reference]`, empty parts skipped, lower-cased and trimmed,
//! `"` `'` space NUL LF CR replaced by `-`, at most 512 bytes. The KV layer adds its own `kv:` prefix.

/// The longest key the read model accepts; longer references are rejected at publish time.
pub const MAX_KEY_BYTES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key:.64}… is {length} bytes long; at most 512 are allowed")]
pub struct KeyTooLong {
    pub key: String,
    pub length: usize,
}

/// Builds a key from its parts.
pub fn key(
    resource: &str,
    store: Option<&str>,
    locale: Option<&str>,
    reference: Option<&str>,
) -> Result<String, KeyTooLong> {
    let parts = [Some(resource), store, locale, reference];
    let joined = parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(":");
    let normalized: String = joined
        .to_lowercase()
        .chars()
        .map(|ch| {
            if matches!(ch, '"' | '\'' | ' ' | '\0' | '\n' | '\r') {
                '-'
            } else {
                ch
            }
        })
        .collect();
    if normalized.len() > MAX_KEY_BYTES {
        return Err(KeyTooLong {
            length: normalized.len(),
            key: normalized,
        });
    }
    Ok(normalized)
}

/// Key of an alternate-key mapping: `<resource>:<store>:<locale>:<attribute>:<value>`, e.g.
/// `product_abstract:de:en_us:sku:100` → `{"id": 123}`.
pub fn mapping_key(
    resource: &str,
    store: Option<&str>,
    locale: Option<&str>,
    attribute: &str,
    value: &str,
) -> Result<String, KeyTooLong> {
    key(resource, store, locale, Some(&format!("{attribute}:{value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples() {
        let cases = [
            (None, None, None, "message"),
            (Some("DE"), Some("de_DE"), None, "message:de:de_de"),
            (None, None, Some("1"), "message:1"),
            (Some("DE"), None, Some("1"), "message:de:1"),
            (Some("DE"), Some("de_DE"), Some("1"), "message:de:de_de:1"),
            (None, Some("de_DE"), Some("1"), "message:de_de:1"),
        ];
        for (store, locale, reference, expected) in cases {
            assert_eq!(key("message", store, locale, reference).as_deref(), Ok(expected));
        }
    }

    #[test]
    fn keys_are_normalised() {
        assert_eq!(
            key("url", None, None, Some(" /DE/Kamera X\"1 ")).as_deref(),
            Ok("url:/de/kamera-x-1")
        );
        assert_eq!(
            mapping_key("product_abstract", Some("DE"), Some("en_US"), "sku", "M-100").as_deref(),
            Ok("product_abstract:de:en_us:sku:m-100")
        );
        assert!(key("url", None, None, Some(&"x".repeat(600))).is_err());
    }
}
