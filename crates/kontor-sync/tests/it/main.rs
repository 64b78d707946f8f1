//! Publish & synchronize end to end on every SQL backend: repository writes → outbox → publishers →
//! storage tables → KV store and search index.

mod fixtures;
mod orders;
mod pipeline;
mod queued;
mod relay;
mod tombstones;
