//! Prices: per product (abstract or concrete) × price type × store × currency, net and gross, in
//! integer minor units.

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
        checks.finish()
    }
}
