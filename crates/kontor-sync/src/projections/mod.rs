//! Projections: how each storefront document is built from the SQL source tables.
//!
//! A projection loads the current state of a set of its entities in a fixed number of queries
//! (never one per entity) and returns one [`Document`] per scope (store × locale, locale, store or
//! global). Entities that no longer exist simply produce no documents; the publisher turns their old
//! rows into tombstones.

mod catalog;
mod category;
mod images;
mod prices;
mod reviews;
mod shop;
mod snapshot;

use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_readmodel::storage::projection as names;
use serde_json::Value;
use std::sync::Arc;

/// One document of a projection, without `_timestamp` (the publisher stamps it).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub key: String,
    pub entity_id: i64,
    pub store: Option<String>,
    pub locale: Option<String>,
    pub data: Value,
}

#[async_trait]
pub trait Projection: Send + Sync {
    /// The projection's name (`product_abstract`): queue suffix, table prefix, key resource.
    fn name(&self) -> &'static str;

    /// Whether its documents go to the search index rather than the KV store.
    fn is_search(&self) -> bool {
        false
    }

    /// The documents of these entities as they are now.
    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError>;

    /// Entity ids in ascending order after `after`, for a full re-publish.
    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError>;

    /// Alternate-key mappings a document carries, e.g. `product_abstract:de:en_us:sku:100` → `{"id": 123}`.
    /// Derived from the document, so the mappings of an old document can be found to delete them.
    fn mappings(&self, _document: &Document) -> Vec<(String, Value)> {
        Vec::new()
    }
}

/// Every projection Kontor publishes.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(shop::StoreProjection),
        Arc::new(shop::TranslationProjection),
        Arc::new(category::CategoryNodeProjection),
        Arc::new(category::CategoryTreeProjection),
        Arc::new(shop::UrlProjection),
        Arc::new(catalog::ProductAbstractProjection),
        Arc::new(catalog::ProductConcreteProjection),
        Arc::new(prices::PriceProjection::abstract_level()),
        Arc::new(prices::PriceProjection::concrete_level()),
        Arc::new(prices::AvailabilityProjection),
        Arc::new(images::ProductAbstractImageProjection),
        Arc::new(images::ProductConcreteImageProjection),
        Arc::new(reviews::ProductAbstractReviewProjection),
        Arc::new(reviews::ProductReviewProjection),
        Arc::new(catalog::ProductPageProjection),
    ]
}

/// The projection with this name.
pub fn by_name(name: &str) -> Option<Arc<dyn Projection>> {
    all().into_iter().find(|projection| projection.name() == name)
}

/// Names of all projections, for command-line validation.
pub fn names() -> &'static [&'static str] {
    names::ALL
}
