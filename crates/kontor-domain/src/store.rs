//! Stores, locales and currencies: the axes every other piece of data is split by.

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::validate::Checks;
use kontor_core::ids::{CurrencyId, LocaleId, StoreId};
use kontor_core::{CurrencyCode, LocaleName, StoreName};
use serde::{Deserialize, Serialize};

/// A store (`DE`) with the locales and currencies it sells in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreAttributes {
    #[schema(value_type = String, example = "DE")]
    pub name: StoreName,
    #[schema(value_type = String, example = "de_DE")]
    pub default_locale: LocaleName,
    #[schema(value_type = String, example = "EUR")]
    pub default_currency: CurrencyCode,
    /// Locales the store sells in; the default locale is added when missing.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub locales: Vec<LocaleName>,
    /// Currencies the store accepts; the default currency is added when missing.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub currencies: Vec<CurrencyCode>,
    /// IANA time zone for order numbers and reports.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

impl Resource for StoreAttributes {
    const TYPE: &'static str = "stores";
    const OUTBOX: &'static str = "store";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = StoreId;

    fn normalize(&mut self) {
        if !self.locales.contains(&self.default_locale) {
            self.locales.insert(0, self.default_locale.clone());
        }
        if !self.currencies.contains(&self.default_currency) {
            self.currencies.insert(0, self.default_currency);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.unique("/locales", &self.locales);
        checks.unique("/currencies", &self.currencies);
        checks.text("/timezone", &self.timezone, 64);
        checks.finish()
    }
}

/// A locale (`de_DE`) that content can be translated into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocaleAttributes {
    #[schema(value_type = String, example = "de_DE")]
    pub name: LocaleName,
    #[serde(default = "yes")]
    pub is_active: bool,
}

pub(crate) fn yes() -> bool {
    true
}

impl Resource for LocaleAttributes {
    const TYPE: &'static str = "locales";
    const OUTBOX: &'static str = "locale";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = LocaleId;

    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// A currency (`EUR`) and how many minor units it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrencyAttributes {
    #[schema(value_type = String, example = "EUR")]
    pub code: CurrencyCode,
    #[schema(example = "Euro")]
    pub name: String,
    /// Digits after the decimal point: 2 for EUR, 0 for JPY.
    #[serde(default = "two")]
    pub fraction_digits: u8,
}

fn two() -> u8 {
    2
}

impl Resource for CurrencyAttributes {
    const TYPE: &'static str = "currencies";
    const OUTBOX: &'static str = "currency";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = CurrencyId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("/name", &self.name, 255);
        if self.fraction_digits > 4 {
            checks.fail("/fractionDigits", "must be between 0 and 4");
        }
        checks.finish()
    }
}
