//! The publish message (`publish.<projection>` queues): ids and metadata only, never entity data, so
//! the publisher always reloads current state.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishMessage {
    /// `Entity.price_product.update`, or `Projection.publish` for a manual re-publish.
    pub event: String,
    /// The changed source table.
    pub source: String,
    /// Entity ids of the projection to rebuild (the relay has already mapped source rows to them).
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Rebuild every entity of the projection (e.g. a warehouse changed stores).
    #[serde(default)]
    pub all: bool,
    /// When the source change was committed (epoch µs), for the lag metric.
    pub changed_at: i64,
}

/// The most ids one publish message carries.
pub const MAX_IDS_PER_MESSAGE: usize = 500;

/// Queue names.
pub fn publish_queue(projection: &str) -> String {
    format!("publish.{projection}")
}

/// The queue a projection's sync operations are consumed from: `sync.storage.<projection>`, or for search
/// projections the queue of the search index kept beside the worker, which is subscribed to
/// [`search_topic`] under the topic's own name.
pub fn sync_queue(projection: &str, search: bool) -> String {
    if search {
        format!("sync.search.{projection}")
    } else {
        format!("sync.storage.{projection}")
    }
}

/// The fan-out topic of a search projection's sync operations: every search index (the worker's, or
/// one replica per storefront node) consumes its own queue subscribed to it.
pub fn search_topic(projection: &str) -> String {
    format!("sync.search.{projection}")
}

/// The queue of one storefront node's search replica, e.g. `sync.search.product_page.node-1`.
pub fn replica_queue(projection: &str, node_id: &str) -> String {
    format!("sync.search.{projection}.{node_id}")
}
