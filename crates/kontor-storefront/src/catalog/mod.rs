//! Catalog reads: products, prices, availability, image sets, categories, URLs, stores and search,
//! answered from the KV store and the search index only.

use crate::state::StorefrontState;
use axum::Router;

/// Routes of the catalog resources (relative to `/api`).
pub fn routes() -> Router<StorefrontState> {
    Router::new()
}
