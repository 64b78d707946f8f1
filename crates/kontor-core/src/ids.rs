//! Typed identifiers. Each entity has its own id newtype so that an abstract product id can never be
//! passed where a concrete product id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                Self(raw)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id_type! {
    /// A store (`DE`, `AT`): a sales channel with its own locales, currencies and prices.
    StoreId;
    LocaleId;
    CurrencyId;
    GlossaryKeyId;
    AttributeKeyId;
    TaxSetId;
    ProductAbstractId;
    ProductConcreteId;
    CategoryId;
    CategoryNodeId;
    ProductCategoryId;
    PriceProductId;
    WarehouseId;
    StockId;
    ProductImageSetId;
    ProductReviewId;
    UserId;
    ApiTokenId;
    /// A Back Office role: a named set of permissions.
    RoleId;
    /// One row of the Back Office audit log.
    AuditEntryId;
    OutboxId;
}
