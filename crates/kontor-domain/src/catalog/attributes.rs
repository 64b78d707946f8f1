//! Product attribute keys (`color`, `storage_capacity`). Super attributes are the axes variants differ by.

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::validate::Checks;
use kontor_core::ids::AttributeKeyId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeKeyAttributes {
    #[schema(example = "color")]
    pub key: String,
    /// A variant axis: concrete products of one abstract differ in these.
    #[serde(default)]
    pub is_super: bool,
}

impl Resource for AttributeKeyAttributes {
    const TYPE: &'static str = "product-attribute-keys";
    const OUTBOX: &'static str = "product_attribute_key";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = AttributeKeyId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.key("/key", &self.key);
        checks.finish()
    }
}
