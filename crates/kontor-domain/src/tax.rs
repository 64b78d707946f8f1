//! Tax sets: a named set of rates per country (`Standard`: DE 19 %, AT 20 %).

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::validate::Checks;
use kontor_core::ids::TaxSetId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaxSetAttributes {
    #[schema(example = "Standard Taxes")]
    pub name: String,
    #[serde(default)]
    pub rates: Vec<TaxRateAttributes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaxRateAttributes {
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "DE")]
    pub country: String,
    #[schema(example = "Germany Standard")]
    pub name: String,
    /// Percent with at most two decimals, 0–100; a string or a number.
    #[schema(value_type = String, example = "19.00")]
    pub rate: Decimal,
}

impl TaxRateAttributes {
    /// The rate in basis points (19.00 % → 1900), as it is stored.
    pub fn basis_points(&self) -> i32 {
        let scaled = self.rate * Decimal::ONE_HUNDRED;
        i32::try_from(scaled.trunc().mantissa() / 10_i128.pow(scaled.trunc().scale())).unwrap_or(i32::MAX)
    }

    pub fn from_basis_points(country: String, name: String, basis_points: i32) -> Self {
        Self {
            country,
            name,
            rate: Decimal::new(i64::from(basis_points), 2),
        }
    }
}

impl Resource for TaxSetAttributes {
    const TYPE: &'static str = "tax-sets";
    const OUTBOX: &'static str = "tax_set";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = TaxSetId;

    fn normalize(&mut self) {
        for rate in &mut self.rates {
            rate.country = rate.country.trim().to_ascii_uppercase();
            rate.rate = rate.rate.round_dp(2);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("/name", &self.name, 255);
        for (index, rate) in self.rates.iter().enumerate() {
            let is_country = rate.country.len() == 2 && rate.country.chars().all(|c| c.is_ascii_uppercase());
            if !is_country {
                checks.fail(
                    format!("/rates/{index}/country"),
                    "must be a two-letter ISO 3166 country code",
                );
            }
            checks.text(&format!("/rates/{index}/name"), &rate.name, 255);
            if rate.rate < Decimal::ZERO || rate.rate > Decimal::ONE_HUNDRED {
                checks.fail(format!("/rates/{index}/rate"), "must be between 0 and 100");
            }
        }
        let countries: Vec<&str> = self.rates.iter().map(|rate| rate.country.as_str()).collect();
        for (index, country) in countries.iter().enumerate() {
            if countries[..index].contains(country) {
                checks.fail(
                    format!("/rates/{index}/country"),
                    format!("{country} has more than one rate"),
                );
            }
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_convert_to_basis_points_and_back() {
        let rate = TaxRateAttributes::from_basis_points("DE".into(), "Standard".into(), 1900);
        assert_eq!(rate.rate.to_string(), "19.00");
        assert_eq!(rate.basis_points(), 1900);
        let reduced = TaxRateAttributes {
            rate: Decimal::new(75, 1),
            ..rate
        };
        assert_eq!(reduced.basis_points(), 750);
    }
}
