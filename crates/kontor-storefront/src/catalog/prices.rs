//! Price resources (`abstract-product-prices`, `concrete-product-prices`) and the `currency` /
//! `priceMode` parameters every priced resource takes (`storefront-api.md` §4, §8.4).
//!
//! Amounts are minor units. In gross mode `grossAmount` is set and `netAmount` is null, and the other way
//! round in net mode, as Glue does. The DEFAULT price carries `volumePrices` (lower unit prices from a
//! quantity on) in the same mode; they come with the price they belong to, so a concrete product with a
//! DEFAULT price of its own shows its own volume prices, not the abstract's.

use super::currency::currency_json;
use crate::context::{RequestContext, query_value};
use kontor_readmodel::storage::{GROSS_MODE, NET_MODE, PriceProductStorage, VolumeAmount};
use kontor_web::{AppError, ErrorCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The price type shown as `price` and used for search filters and sorts.
pub(crate) const DEFAULT_PRICE_TYPE: &str = "DEFAULT";

/// The currency and price mode a request shows prices in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pricing {
    /// Upper-case ISO code, one of the store's currencies.
    pub currency: String,
    pub mode: &'static str,
}

impl Pricing {
    /// Prices in `currency` as the HTML shop shows them: gross (the shop has no price-mode switch).
    pub fn gross(currency: &str) -> Self {
        Self {
            currency: currency.to_ascii_uppercase(),
            mode: GROSS_MODE,
        }
    }

    /// Reads `currency` (default: the store's) and `priceMode` (default: gross); an unknown currency is
    /// 422 `313`, an unknown mode 422 `314`.
    pub fn from_request(ctx: &RequestContext) -> Result<Self, AppError> {
        let query = super::query_of(ctx);
        let currency = match query_value(query, "currency").map(|raw| raw.trim().to_ascii_uppercase()) {
            None => ctx.store.default_currency.clone(),
            Some(code) if code.is_empty() => ctx.store.default_currency.clone(),
            Some(code) => {
                let offered = ctx
                    .store
                    .available_currencies
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(&code))
                    || ctx.store.default_currency.eq_ignore_ascii_case(&code);
                if !offered {
                    return Err(AppError::at_parameter(
                        ErrorCode::CurrencyInvalid,
                        "currency",
                        format!("currency {code} is not offered by store {}", ctx.store.name),
                    ));
                }
                code
            }
        };
        let mode = match query_value(query, "priceMode").as_deref().map(str::trim) {
            None | Some("") => GROSS_MODE,
            Some(GROSS_MODE) => GROSS_MODE,
            Some(NET_MODE) => NET_MODE,
            Some(other) => {
                return Err(AppError::at_parameter(
                    ErrorCode::PriceModeInvalid,
                    "priceMode",
                    format!("price mode {other} is invalid; use GROSS_MODE or NET_MODE"),
                ));
            }
        };
        Ok(Self { currency, mode })
    }

    /// The search index's price facet and sort name: `price-DEFAULT-EUR-GROSS_MODE`.
    pub fn search_field(&self) -> String {
        format!("price-{DEFAULT_PRICE_TYPE}-{}-{}", self.currency, self.mode)
    }

    /// `(netAmount, grossAmount)` of `amount`: the mode's side set, the other null.
    fn net_and_gross(&self, amount: i64) -> (Value, Value) {
        if self.mode == NET_MODE {
            (json!(amount), Value::Null)
        } else {
            (Value::Null, json!(amount))
        }
    }

    /// `grossAmount` or `netAmount`, the attribute the mode fills.
    pub fn amount_attribute(&self) -> &'static str {
        if self.mode == NET_MODE {
            "netAmount"
        } else {
            "grossAmount"
        }
    }
}

/// The type of the price a product was sold at before (shown struck through when higher).
pub(crate) const ORIGINAL_PRICE_TYPE: &str = "ORIGINAL";

/// Price type → amount in the request's currency and mode: `own` first, types it lacks from `fallback`
/// (a concrete product inherits the abstract's prices type by type, as Spryker resolves them).
pub(crate) fn amounts(
    own: Option<&PriceProductStorage>,
    fallback: Option<&PriceProductStorage>,
    pricing: &Pricing,
) -> BTreeMap<String, i64> {
    let of = |document: Option<&PriceProductStorage>| {
        document
            .and_then(|document| document.prices.get(&pricing.currency))
            .and_then(|modes| modes.get(pricing.mode))
            .cloned()
            .unwrap_or_default()
    };
    let mut merged = of(fallback);
    merged.extend(of(own));
    merged
}

/// The volume prices of the DEFAULT price shown: `own`'s when it has a DEFAULT price in the request's
/// currency and mode, else `fallback`'s.
pub(crate) fn volume_amounts<'a>(
    own: Option<&'a PriceProductStorage>,
    fallback: Option<&'a PriceProductStorage>,
    pricing: &Pricing,
) -> &'a [VolumeAmount] {
    let has_default = |document: &PriceProductStorage| {
        document
            .prices
            .get(&pricing.currency)
            .and_then(|modes| modes.get(pricing.mode))
            .is_some_and(|types| types.contains_key(DEFAULT_PRICE_TYPE))
    };
    own.filter(|document| has_default(document))
        .or(fallback)
        .and_then(|document| document.volume_prices.get(&pricing.currency))
        .and_then(|modes| modes.get(pricing.mode))
        .map_or(&[], Vec::as_slice)
}

/// The attributes of a price resource: `price` (DEFAULT) and `prices` (DEFAULT first, then the other
/// types by name).
pub(crate) fn price_attributes(
    own: Option<&PriceProductStorage>,
    fallback: Option<&PriceProductStorage>,
    pricing: &Pricing,
) -> Value {
    let amounts = amounts(own, fallback, pricing);
    let mut ordered: Vec<(&String, &i64)> = amounts.iter().collect();
    ordered.sort_by_key(|(name, _)| (name.as_str() != DEFAULT_PRICE_TYPE, name.as_str()));
    let prices: Vec<Value> = ordered
        .into_iter()
        .map(|(price_type, amount)| {
            let mut entry = Map::new();
            entry.insert("priceTypeName".to_owned(), json!(price_type));
            let (net, gross) = pricing.net_and_gross(*amount);
            entry.insert("netAmount".to_owned(), net);
            entry.insert("grossAmount".to_owned(), gross);
            entry.insert("currency".to_owned(), currency_json(&pricing.currency));
            if price_type == DEFAULT_PRICE_TYPE {
                let volume_prices: Vec<Value> = volume_amounts(own, fallback, pricing)
                    .iter()
                    .map(|tier| {
                        let (net, gross) = pricing.net_and_gross(tier.amount);
                        json!({"quantity": tier.quantity, "netAmount": net, "grossAmount": gross})
                    })
                    .collect();
                entry.insert("volumePrices".to_owned(), Value::Array(volume_prices));
            }
            Value::Object(entry)
        })
        .collect();
    json!({"price": amounts.get(DEFAULT_PRICE_TYPE), "prices": prices})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(entries: &[(&str, &str, &str, i64)]) -> PriceProductStorage {
        let mut document = PriceProductStorage::default();
        for (currency, mode, price_type, amount) in entries {
            document
                .prices
                .entry((*currency).to_owned())
                .or_default()
                .entry((*mode).to_owned())
                .or_default()
                .insert((*price_type).to_owned(), *amount);
        }
        document
    }

    #[test]
    fn concrete_prices_inherit_missing_types_from_the_abstract() {
        let pricing = Pricing {
            currency: "EUR".to_owned(),
            mode: GROSS_MODE,
        };
        let own = document(&[("EUR", GROSS_MODE, "DEFAULT", 9900)]);
        let inherited = document(&[
            ("EUR", GROSS_MODE, "DEFAULT", 12900),
            ("EUR", GROSS_MODE, "ORIGINAL", 15900),
        ]);
        let attributes = price_attributes(Some(&own), Some(&inherited), &pricing);
        assert_eq!(attributes["price"], 9900);
        assert_eq!(attributes["prices"][0]["priceTypeName"], "DEFAULT");
        assert_eq!(attributes["prices"][1]["grossAmount"], 15900);
        assert_eq!(attributes["prices"][1]["netAmount"], Value::Null);
        assert!(attributes["prices"][1].get("volumePrices").is_none());
    }

    fn with_volume_prices(mut document: PriceProductStorage, mode: &str, tiers: &[(u32, i64)]) -> PriceProductStorage {
        document.volume_prices.entry("EUR".to_owned()).or_default().insert(
            mode.to_owned(),
            tiers
                .iter()
                .map(|&(quantity, amount)| VolumeAmount { quantity, amount })
                .collect(),
        );
        document
    }

    #[test]
    fn volume_prices_come_with_the_default_price_they_belong_to() {
        let gross = Pricing {
            currency: "EUR".to_owned(),
            mode: GROSS_MODE,
        };
        let abstract_level = with_volume_prices(
            document(&[
                ("EUR", GROSS_MODE, "DEFAULT", 12900),
                ("EUR", NET_MODE, "DEFAULT", 10840),
            ]),
            GROSS_MODE,
            &[(5, 11900), (10, 10900)],
        );
        let inherited = price_attributes(None, Some(&abstract_level), &gross);
        assert_eq!(
            inherited["prices"][0]["volumePrices"],
            json!([{"quantity": 5, "netAmount": null, "grossAmount": 11900},
                   {"quantity": 10, "netAmount": null, "grossAmount": 10900}])
        );
        // A concrete with its own DEFAULT price has only its own volume prices (here none).
        let own = document(&[("EUR", GROSS_MODE, "DEFAULT", 9900)]);
        let overridden = price_attributes(Some(&own), Some(&abstract_level), &gross);
        assert_eq!(overridden["prices"][0]["volumePrices"], json!([]));
        // Net mode shows the net tiers, and there are none.
        let net = Pricing {
            currency: "EUR".to_owned(),
            mode: NET_MODE,
        };
        let in_net = price_attributes(None, Some(&abstract_level), &net);
        assert_eq!(in_net["prices"][0]["volumePrices"], json!([]));
        assert_eq!(in_net["price"], 10840);
    }

    #[test]
    fn no_price_in_the_currency_is_a_null_price() {
        let pricing = Pricing {
            currency: "CHF".to_owned(),
            mode: NET_MODE,
        };
        let own = document(&[("EUR", NET_MODE, "DEFAULT", 9900)]);
        assert_eq!(
            price_attributes(Some(&own), None, &pricing),
            json!({"price": null, "prices": []})
        );
    }
}
