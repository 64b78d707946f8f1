//! Prices: per product (abstract or concrete) × price type × store × currency, net and gross, in
//! integer minor units, with volume prices: lower unit prices from a quantity on (Spryker's
//! `price_data.volume_prices`). A line of `quantity` pieces costs the unit price of the volume price
//! with the largest quantity not above it, else the base price. A concrete product's own price, volume
//! prices included, replaces its abstract's.

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::validate::Checks;
use kontor_core::ids::PriceProductId;
use kontor_core::{CurrencyCode, Sku, StoreName};
use serde::{Deserialize, Serialize};

/// The price types every shop has; more can be added as rows of `price_type`.
pub const PRICE_TYPE_DEFAULT: &str = "DEFAULT";
pub const PRICE_TYPE_ORIGINAL: &str = "ORIGINAL";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceAttributes {
    /// Set exactly one of `abstractSku` and `concreteSku`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "001")]
    pub abstract_sku: Option<Sku>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub concrete_sku: Option<Sku>,
    /// `DEFAULT` (the selling price) or `ORIGINAL` (shown struck through).
    #[serde(default = "default_price_type")]
    #[schema(example = "DEFAULT")]
    pub price_type: String,
    #[schema(value_type = String, example = "DE")]
    pub store: StoreName,
    #[schema(value_type = String, example = "EUR")]
    pub currency: CurrencyCode,
    /// Minor units (cents); at least one of net and gross.
    #[serde(default)]
    #[schema(example = 8403)]
    pub net_amount: Option<i64>,
    #[serde(default)]
    #[schema(example = 9999)]
    pub gross_amount: Option<i64>,
    /// Lower unit prices from a quantity on, ascending by quantity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_prices: Vec<VolumePrice>,
}

/// A unit price that applies from `quantity` pieces on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumePrice {
    /// At least 2: from one piece on is the base price.
    #[schema(example = 5)]
    pub quantity: u32,
    /// Minor units; at least one of net and gross.
    #[serde(default)]
    pub net_amount: Option<i64>,
    #[serde(default)]
    #[schema(example = 8999)]
    pub gross_amount: Option<i64>,
}

impl VolumePrice {
    /// The unit amount in gross or net mode.
    pub fn amount(&self, gross: bool) -> Option<i64> {
        if gross { self.gross_amount } else { self.net_amount }
    }
}

/// The stored form of volume prices (`price_product.volume_prices`): their JSON, `None` for none.
pub fn encode_volume_prices(prices: &[VolumePrice]) -> Option<String> {
    if prices.is_empty() {
        return None;
    }
    serde_json::to_string(prices).ok()
}

/// Volume prices from their stored form. Only validated lists are stored, so unreadable text counts as
/// none rather than failing every read of the price.
pub fn decode_volume_prices(stored: Option<&str>) -> Vec<VolumePrice> {
    stored
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// The unit price of a line of `quantity`: the amount of the tier (from quantity, amount) with the
/// largest quantity not above `quantity`, else `base`. Tiers may come in any order.
pub fn unit_price_for(base: i64, tiers: &[(u32, i64)], quantity: u32) -> i64 {
    tiers
        .iter()
        .filter(|(from, _)| *from <= quantity)
        .max_by_key(|(from, _)| *from)
        .map_or(base, |(_, amount)| *amount)
}

fn default_price_type() -> String {
    PRICE_TYPE_DEFAULT.to_owned()
}

impl PriceAttributes {
    /// The SKU the price belongs to, whichever kind it is.
    pub fn sku(&self) -> Option<&Sku> {
        self.abstract_sku.as_ref().or(self.concrete_sku.as_ref())
    }
}

impl Resource for PriceAttributes {
    const TYPE: &'static str = "prices";
    const OUTBOX: &'static str = "price_product";
    const FILTERS: &'static [Filter] = &[Filter::Sku];
    type Id = PriceProductId;

    fn normalize(&mut self) {
        self.price_type = self.price_type.trim().to_ascii_uppercase();
        self.volume_prices.sort_by_key(|price| price.quantity);
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        match (&self.abstract_sku, &self.concrete_sku) {
            (None, None) => checks.fail("/abstractSku", "either abstractSku or concreteSku is required"),
            (Some(_), Some(_)) => checks.fail("/concreteSku", "give abstractSku or concreteSku, not both"),
            _ => {}
        }
        checks.text("/priceType", &self.price_type, 255);
        if self.net_amount.is_none() && self.gross_amount.is_none() {
            checks.fail("/grossAmount", "at least one of netAmount and grossAmount is required");
        }
        for (pointer, amount) in [("/netAmount", self.net_amount), ("/grossAmount", self.gross_amount)] {
            if amount.is_some_and(|value| value < 0) {
                checks.fail(pointer, "must not be negative");
            }
        }
        for (index, price) in self.volume_prices.iter().enumerate() {
            let at = |field: &str| format!("/volumePrices/{index}/{field}");
            if price.quantity < 2 {
                checks.fail(at("quantity"), "must be at least 2 (one piece costs the base price)");
            }
            if self.volume_prices[..index]
                .iter()
                .any(|earlier| earlier.quantity == price.quantity)
            {
                checks.fail(at("quantity"), format!("quantity {} appears twice", price.quantity));
            }
            if price.net_amount.is_none() && price.gross_amount.is_none() {
                checks.fail(
                    at("grossAmount"),
                    "at least one of netAmount and grossAmount is required",
                );
            }
            for (field, amount) in [("netAmount", price.net_amount), ("grossAmount", price.gross_amount)] {
                if amount.is_some_and(|value| value < 0) {
                    checks.fail(at(field), "must not be negative");
                }
            }
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(quantity: u32, gross: Option<i64>) -> VolumePrice {
        VolumePrice {
            quantity,
            net_amount: None,
            gross_amount: gross,
        }
    }

    #[test]
    fn a_line_costs_the_largest_tier_it_reaches() {
        // Spryker's own files list tiers in any order.
        let tiers = [(10, 145), (5, 150), (20, 140)];
        let unit = |quantity| unit_price_for(165, &tiers, quantity);
        assert_eq!(
            [
                unit(1),
                unit(4),
                unit(5),
                unit(9),
                unit(10),
                unit(19),
                unit(20),
                unit(500)
            ],
            [165, 165, 150, 150, 145, 145, 140, 140]
        );
        assert_eq!(unit_price_for(165, &[], 50), 165);
    }

    #[test]
    fn volume_prices_round_trip_through_their_stored_form() {
        let prices = vec![volume(5, Some(900)), volume(10, Some(800))];
        let stored = encode_volume_prices(&prices);
        assert_eq!(decode_volume_prices(stored.as_deref()), prices);
        assert_eq!(encode_volume_prices(&[]), None);
        assert!(decode_volume_prices(Some("not json")).is_empty());
    }

    #[test]
    fn volume_prices_are_validated_by_position() {
        let mut price = PriceAttributes {
            abstract_sku: Some(Sku::parse("100").expect("sku")),
            concrete_sku: None,
            price_type: "default".to_owned(),
            store: StoreName::parse("DE").expect("store"),
            currency: CurrencyCode::parse("EUR").expect("currency"),
            net_amount: None,
            gross_amount: Some(1000),
            volume_prices: vec![
                volume(10, Some(800)),
                volume(1, Some(950)),
                volume(10, None),
                volume(5, Some(-1)),
            ],
        };
        price.normalize();
        assert_eq!(
            price
                .volume_prices
                .iter()
                .map(|price| price.quantity)
                .collect::<Vec<_>>(),
            [1, 5, 10, 10]
        );
        let problems: Vec<(String, String)> = price
            .validate()
            .into_iter()
            .map(|error| (error.pointer, error.detail))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "/volumePrices/0/quantity".to_owned(),
                    "must be at least 2 (one piece costs the base price)".to_owned()
                ),
                (
                    "/volumePrices/1/grossAmount".to_owned(),
                    "must not be negative".to_owned()
                ),
                (
                    "/volumePrices/3/quantity".to_owned(),
                    "quantity 10 appears twice".to_owned()
                ),
                (
                    "/volumePrices/3/grossAmount".to_owned(),
                    "at least one of netAmount and grossAmount is required".to_owned()
                ),
            ]
        );
    }
}
