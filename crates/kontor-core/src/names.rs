//! Checked names that cross the system boundary: SKUs, store names, locale names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a raw string is not a valid name; the text is meant for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub &'static str);

impl NameError {
    pub const fn new(reason: &'static str) -> Self {
        Self(reason)
    }
}

macro_rules! string_name {
    ($(#[$meta:meta])* $name:ident, $check:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                let check: fn(&str) -> Result<(), NameError> = $check;
                check(raw)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_name!(
    /// A stock keeping unit: 1–255 characters of letters, digits and `-_.:/+`, no white space.
    /// Spryker shops use SKUs like `001_25904006` or `M1000-blue-xl`.
    Sku,
    |raw| {
        if raw.is_empty() || raw.len() > 255 {
            return Err(NameError::new("must be 1 to 255 characters long"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:/+".contains(c);
        if !raw.chars().all(allowed) {
            return Err(NameError::new("may contain only letters, digits and - _ . : / +"));
        }
        Ok(())
    }
);

string_name!(
    /// A store name: upper-case letters, digits and `_`, 1–64 characters (`DE`, `AT`, `US_WEST`).
    StoreName,
    |raw| {
        let allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(allowed) {
            return Err(NameError::new(
                "must be 1 to 64 upper-case letters, digits or underscores, such as DE",
            ));
        }
        Ok(())
    }
);

string_name!(
    /// A locale in Spryker's spelling: language `_` region, such as `de_DE` or `en_US`.
    LocaleName,
    |raw| {
        let bytes = raw.as_bytes();
        let valid = matches!(bytes, [l1, l2, b'_', r1, r2]
            if l1.is_ascii_lowercase() && l2.is_ascii_lowercase()
                && r1.is_ascii_uppercase() && r2.is_ascii_uppercase());
        if !valid {
            return Err(NameError::new("must look like de_DE: two lower-case letters, _, two upper-case letters"));
        }
        Ok(())
    }
);

impl LocaleName {
    /// The language part (`de` of `de_DE`), used in URL prefixes.
    pub fn language(&self) -> &str {
        &self.0[..2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_accept_real_world_shapes_and_reject_whitespace() {
        for good in ["001", "001_25904006", "M1000-blue-xl", "a.b:c/d+e"] {
            assert!(Sku::parse(good).is_ok(), "{good}");
        }
        for bad in ["", " 001", "00 1", "ä", &"x".repeat(256)] {
            assert!(Sku::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locale_names_follow_spryker_spelling() {
        assert_eq!(
            LocaleName::parse("de_DE").map(|l| l.language().to_owned()).ok(),
            Some("de".to_owned())
        );
        for bad in ["de-DE", "DE_de", "de", "deu_DEU", ""] {
            assert!(LocaleName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_names_are_upper_case() {
        assert!(StoreName::parse("DE").is_ok());
        assert!(StoreName::parse("US_WEST2").is_ok());
        assert!(StoreName::parse("de").is_err());
        assert!(StoreName::parse("").is_err());
    }
}
