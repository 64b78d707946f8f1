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

pub fn sync_queue(projection: &str, search: bool) -> String {
    if search {
        format!("sync.search.{projection}")
    } else {
        format!("sync.storage.{projection}")
    }
}
