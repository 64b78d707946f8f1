//! Glossary: translation keys (`cart.add-to-cart`) with one text per locale.

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::validate::Checks;
use kontor_core::LocaleName;
use kontor_core::ids::GlossaryKeyId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlossaryKeyAttributes {
    #[schema(example = "cart.add-to-cart")]
    pub key: String,
    /// Text per locale, e.g. `{"de_DE": "In den Warenkorb"}`.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub translations: BTreeMap<LocaleName, String>,
}

impl Resource for GlossaryKeyAttributes {
    const TYPE: &'static str = "glossary-keys";
    const OUTBOX: &'static str = "glossary_key";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = GlossaryKeyId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.key("/key", &self.key);
        for (locale, text) in &self.translations {
            if text.chars().count() > 65_535 {
                checks.fail(
                    format!("/translations/{locale}"),
                    "must be at most 65535 characters long",
                );
            }
        }
        checks.finish()
    }
}
