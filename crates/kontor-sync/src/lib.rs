//! Publish & synchronize (`../shared/spec/publish-sync.md`): the outbox relay, the publishers that
//! turn SQL rows into storefront documents, and the sync writers that apply them to the KV store and
//! the search index.
//!
//! Delivery is at-least-once at every hop and every step is idempotent: publishers reload current
//! state for the ids they are given (a late or duplicated message can never publish old data), storage
//! rows and KV/search writes pass a set-if-newer guard on `_timestamp`, and deletes leave tombstones so
//! an older write cannot resurrect a document.

pub mod direct;
pub mod maintenance;
pub mod messages;
pub mod pipeline;
pub mod projections;
pub mod publisher;
pub mod routing;
pub mod writers;

pub use messages::PublishMessage;
pub use projections::{Document, Projection};
pub use publisher::{PublishReport, Publisher};

use kontor_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("storage: {0}")]
    Storage(String),
    #[error("document: {0}")]
    Document(String),
    #[error("queue: {0}")]
    Queue(String),
    #[error("key-value store: {0}")]
    Kv(String),
    #[error("search index: {0}")]
    Search(String),
    #[error("malformed message: {0}")]
    Message(String),
}

impl SyncError {
    pub fn from_db(error: sea_orm::DbErr) -> Self {
        Self::Storage(error.to_string())
    }

    pub fn json(error: serde_json::Error) -> Self {
        Self::Document(error.to_string())
    }
}

impl From<DomainError> for SyncError {
    fn from(error: DomainError) -> Self {
        Self::Storage(error.to_string())
    }
}
