//! Which physical index a key or request belongs to: one per store × locale (spec §7).

use std::fmt;

use kontor_core::{LocaleName, StoreName};

use crate::SearchError;

/// A store × locale pair in the lower-case spelling keys use (`de`, `en_us`); names the index directory
/// `<store>_<locale>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexScope {
    store: String,
    locale: String,
}

impl IndexScope {
    /// The scope of a storefront request.
    pub fn new(store: &StoreName, locale: &LocaleName) -> Self {
        Self {
            store: store.as_str().to_lowercase(),
            locale: locale.as_str().to_lowercase(),
        }
    }

    /// The scope of a search key `resource:store:locale:reference…` (spec §4); keys are lower-case already,
    /// lower-casing again makes a hand-written key behave the same.
    pub fn from_key(key: &str) -> Result<Self, SearchError> {
        let mut segments = key.split(':');
        let (Some(_resource), Some(store), Some(locale), Some(_reference)) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(SearchError::InvalidKey { key: key.to_owned() });
        };
        let valid =
            |segment: &str| !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid(store) || !valid(locale) {
            return Err(SearchError::InvalidKey { key: key.to_owned() });
        }
        Ok(Self {
            store: store.to_lowercase(),
            locale: locale.to_lowercase(),
        })
    }

    /// Lower-case store code (`de`).
    pub fn store(&self) -> &str {
        &self.store
    }

    /// Lower-case locale (`en_us`).
    pub fn locale(&self) -> &str {
        &self.locale
    }

    /// The language part of the locale (`en`), which picks the stemmer.
    pub fn language(&self) -> &str {
        self.locale.split('_').next().unwrap_or_default()
    }

    /// Whether a document's own `store` / `locale` fields belong to this scope.
    pub(crate) fn matches(&self, store: &str, locale: &str) -> bool {
        self.store.eq_ignore_ascii_case(store) && self.locale.eq_ignore_ascii_case(locale)
    }
}

impl fmt::Display for IndexScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.store, self.locale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_comes_from_the_key_segments() {
        let scope = IndexScope::from_key("product_abstract:de:en_us:123").expect("valid key");
        assert_eq!(scope.to_string(), "de_en_us");
        assert_eq!(scope.language(), "en");
        assert!(scope.matches("DE", "en_US"));
        assert!(!scope.matches("AT", "en_US"));
    }

    #[test]
    fn keys_without_store_and_locale_are_rejected() {
        for key in ["product_abstract:123", "url:/de/x", "a:../..:x:1", "a::en_us:1"] {
            assert!(IndexScope::from_key(key).is_err(), "{key}");
        }
    }
}
