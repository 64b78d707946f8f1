//! Display data of currencies (`{"code", "name", "symbol"}` in price resources) and their minor-unit
//! digits (to turn the `price[min]` filter's currency units into minor units).
//!
//! The store documents in KV carry only currency codes, so the storefront keeps this small ISO 4217
//! table; an unknown code is shown with its code as name and symbol and two minor-unit digits, which is
//! right for almost every currency.

use serde_json::{Value, json};

struct CurrencyInfo {
    code: &'static str,
    name: &'static str,
    symbol: &'static str,
    digits: u32,
}

const CURRENCIES: &[CurrencyInfo] = &[
    CurrencyInfo {
        code: "EUR",
        name: "Euro",
        symbol: "€",
        digits: 2,
    },
    CurrencyInfo {
        code: "USD",
        name: "US Dollar",
        symbol: "$",
        digits: 2,
    },
    CurrencyInfo {
        code: "CHF",
        name: "Swiss Franc",
        symbol: "CHF",
        digits: 2,
    },
    CurrencyInfo {
        code: "GBP",
        name: "British Pound",
        symbol: "£",
        digits: 2,
    },
    CurrencyInfo {
        code: "PLN",
        name: "Polish Złoty",
        symbol: "zł",
        digits: 2,
    },
    CurrencyInfo {
        code: "CZK",
        name: "Czech Koruna",
        symbol: "Kč",
        digits: 2,
    },
    CurrencyInfo {
        code: "SEK",
        name: "Swedish Krona",
        symbol: "kr",
        digits: 2,
    },
    CurrencyInfo {
        code: "DKK",
        name: "Danish Krone",
        symbol: "kr",
        digits: 2,
    },
    CurrencyInfo {
        code: "NOK",
        name: "Norwegian Krone",
        symbol: "kr",
        digits: 2,
    },
    CurrencyInfo {
        code: "JPY",
        name: "Japanese Yen",
        symbol: "¥",
        digits: 0,
    },
];

fn find(code: &str) -> Option<&'static CurrencyInfo> {
    CURRENCIES.iter().find(|info| info.code.eq_ignore_ascii_case(code))
}

/// `{"code": "EUR", "name": "Euro", "symbol": "€"}`.
pub(crate) fn currency_json(code: &str) -> Value {
    match find(code) {
        Some(info) => json!({"code": info.code, "name": info.name, "symbol": info.symbol}),
        None => json!({"code": code, "name": code, "symbol": code}),
    }
}

/// The display name (`Euro`), for the `stores` resource.
pub(crate) fn currency_name(code: &str) -> String {
    find(code).map_or_else(|| code.to_owned(), |info| info.name.to_owned())
}

/// Currency units (`"99.99"`) to minor units (`9999`); `None` for anything that is not a non-negative
/// decimal with at most the currency's digits (extra digits would silently round a customer's filter).
pub(crate) fn to_minor_units(raw: &str, code: &str) -> Option<i64> {
    let digits = find(code).map_or(2, |info| info.digits);
    let raw = raw.trim();
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > digits as usize {
        return None;
    }
    let scale = 10_i64.checked_pow(digits)?;
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}", width = digits as usize).parse().ok()?
    };
    whole.checked_mul(scale)?.checked_add(fraction)
}

/// Minor units (`9999`) to currency units (`"99.99"`), the inverse of [`to_minor_units`] for values a
/// form shows back.
pub(crate) fn to_currency_units(minor: i64, code: &str) -> String {
    let digits = find(code).map_or(2, |info| info.digits);
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10_u64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_units_become_minor_units() {
        assert_eq!(to_minor_units("99.99", "EUR"), Some(9999));
        assert_eq!(to_minor_units("50", "EUR"), Some(5000));
        assert_eq!(to_minor_units("50.5", "EUR"), Some(5050));
        assert_eq!(to_minor_units("1200", "JPY"), Some(1200));
        assert_eq!(to_minor_units("1.5", "JPY"), None);
        assert_eq!(to_minor_units("1.999", "EUR"), None);
        assert_eq!(to_minor_units("-1", "EUR"), None);
        assert_eq!(to_minor_units("abc", "EUR"), None);
        assert_eq!(to_minor_units("", "EUR"), None);
        assert_eq!(to_currency_units(9999, "EUR"), "99.99");
        assert_eq!(to_currency_units(5005, "CHF"), "50.05");
        assert_eq!(to_currency_units(1200, "JPY"), "1200");
        assert_eq!(to_minor_units(&to_currency_units(12345, "EUR"), "EUR"), Some(12345));
    }

    #[test]
    fn unknown_currencies_show_their_code() {
        assert_eq!(
            currency_json("XTS"),
            json!({"code": "XTS", "name": "XTS", "symbol": "XTS"})
        );
        assert_eq!(currency_name("EUR"), "Euro");
    }
}
