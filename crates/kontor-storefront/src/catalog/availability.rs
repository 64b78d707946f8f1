//! Availability resources (`abstract-product-availabilities`, `concrete-product-availabilities`) from
//! the store's `availability:<store>:<abstract id>` document, which holds the abstract and each variant.
//!
//! Glue sends quantities as decimal strings with ten fraction digits. A product without an availability
//! document (never stocked in this store) is shown as unavailable with quantity 0 rather than as an error,
//! because it is a valid state of the catalog.

use kontor_readmodel::storage::{AvailabilityStorage, ConcreteAvailability};
use serde_json::{Value, json};

/// `7` → `"7.0000000000"`.
fn quantity(units: i64) -> String {
    format!("{units}.0000000000")
}

pub(crate) fn abstract_attributes(document: Option<&AvailabilityStorage>) -> Value {
    match document {
        Some(document) => json!({"availability": document.is_available, "quantity": quantity(document.quantity)}),
        None => json!({"availability": false, "quantity": quantity(0)}),
    }
}

/// A variant's entry in its product's availability document; `None`: never stocked in the store.
pub(crate) fn concrete_availability<'d>(
    document: Option<&'d AvailabilityStorage>,
    concrete_sku: &str,
) -> Option<&'d ConcreteAvailability> {
    document.and_then(|document| document.concretes.get(concrete_sku))
}

pub(crate) fn concrete_attributes(document: Option<&AvailabilityStorage>, concrete_sku: &str) -> Value {
    match concrete_availability(document, concrete_sku) {
        Some(concrete) => json!({
            "availability": concrete.is_available,
            "quantity": quantity(concrete.quantity),
            "isNeverOutOfStock": concrete.is_never_out_of_stock,
        }),
        None => json!({"availability": false, "quantity": quantity(0), "isNeverOutOfStock": false}),
    }
}
