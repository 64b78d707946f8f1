//! Warehouses and stock per concrete product × warehouse.

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::store::yes;
use crate::validate::Checks;
use kontor_core::ids::{StockId, WarehouseId};
use kontor_core::{Sku, StoreName};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarehouseAttributes {
    #[schema(example = "Warehouse1")]
    pub name: String,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Stores this warehouse delivers to.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub stores: Vec<StoreName>,
}

impl Resource for WarehouseAttributes {
    const TYPE: &'static str = "warehouses";
    const OUTBOX: &'static str = "warehouse";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = WarehouseId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("/name", &self.name, 255);
        checks.unique("/stores", &self.stores);
        checks.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StockAttributes {
    /// The concrete product.
    #[schema(value_type = String, example = "001_25904006")]
    pub sku: Sku,
    #[schema(example = "Warehouse1")]
    pub warehouse: String,
    /// Units on hand; never negative.
    #[serde(default)]
    pub quantity: i64,
    /// Always available, whatever the quantity.
    #[serde(default)]
    pub is_never_out_of_stock: bool,
}

impl Resource for StockAttributes {
    const TYPE: &'static str = "stocks";
    const OUTBOX: &'static str = "stock_product";
    const FILTERS: &'static [Filter] = &[Filter::Sku];
    type Id = StockId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("/warehouse", &self.warehouse, 255);
        if self.quantity < 0 {
            checks.fail("/quantity", "must not be negative");
        }
        checks.finish()
    }
}
