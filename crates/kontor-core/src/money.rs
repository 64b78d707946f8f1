//! Money as integer minor units with an ISO 4217 currency, never floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code: exactly three ASCII upper-case letters (`EUR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    /// Parses a code, accepting only three upper-case ASCII letters.
    pub fn parse(raw: &str) -> Result<Self, crate::NameError> {
        let bytes = raw.as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Self([*a, *b, *c])),
            _ => Err(crate::NameError::new(
                "must be a three-letter upper-case ISO 4217 code such as EUR",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CurrencyCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CurrencyCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: CurrencyCode,
}

impl Money {
    pub fn new(amount: i64, currency: CurrencyCode) -> Self {
        Self { amount, currency }
    }

    /// Adds two amounts of the same currency; `None` on a currency mismatch or overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let amount = self.amount.checked_add(other.amount)?;
        Some(Money::new(amount, self.currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert_eq!(
            CurrencyCode::parse("EUR").map(|c| c.to_string()).ok(),
            Some("EUR".to_owned())
        );
        for bad in ["eur", "EU", "EURO", "E1R", "", "ÄUR"] {
            assert!(CurrencyCode::parse(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn money_adds_only_within_one_currency() {
        let eur = CurrencyCode::parse("EUR").expect("valid");
        let chf = CurrencyCode::parse("CHF").expect("valid");
        assert_eq!(
            Money::new(150, eur).checked_add(Money::new(50, eur)),
            Some(Money::new(200, eur))
        );
        assert_eq!(Money::new(150, eur).checked_add(Money::new(50, chf)), None);
        assert_eq!(Money::new(i64::MAX, eur).checked_add(Money::new(1, eur)), None);
    }
}
