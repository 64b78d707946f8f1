//! The storefront's read model: the documents publishers write to the KV store and the search index,
//! and the keys they live under (`../shared/spec/publish-sync.md` §3–§7).
//!
//! Types only: no I/O. The storefront and the sync writers both depend on this crate, so a document's
//! shape is defined exactly once.

pub mod envelope;
pub mod keys;
pub mod search;
pub mod storage;

pub use envelope::{
    FeedCursor, FeedPage, KV_CHANGED_CHANNEL, KV_CHANGED_KIND, KV_CHANGED_MAX_KEY_BYTES, KvChanged, SyncEntry, SyncOp,
    stamp, timestamp_micros, timestamp_seconds,
};
pub use keys::{KeyTooLong, key, mapping_key};
