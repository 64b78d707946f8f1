//! `KvError`: every way a KV call fails.
//!
//! Messages are lower-case and name the key, URL or limit involved, never a stored or written value
//! (documents can hold customer data). URLs are shown with their password removed.

use crate::key::preview;

/// The error of every [`KvStore`](crate::KvStore) call and of [`open`](crate::open).
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("invalid kv url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: &'static str },

    #[error("invalid kv options: {0}")]
    InvalidOptions(&'static str),

    #[error("invalid kv key `{}` ({} bytes): {reason}", preview(key), key.len())]
    InvalidKey { key: String, reason: &'static str },

    #[error("invalid document for kv key `{}`: {reason}", preview(key))]
    InvalidDocument { key: String, reason: &'static str },

    #[error(
        "document `_timestamp` of kv key `{}` is {document_micros} µs but the op says {op_micros} µs",
        preview(key)
    )]
    TimestampMismatch {
        key: String,
        document_micros: i64,
        op_micros: i64,
    },

    #[error(
        "document for kv key `{}` is {bytes} bytes, more than the limit of {limit}",
        preview(key)
    )]
    ValueTooLarge { key: String, bytes: usize, limit: usize },

    #[error("stored value of kv key `{}` is unreadable: {reason}", preview(key))]
    CorruptValue { key: String, reason: String },

    #[error("cannot create the directory of the redb file `{path}`: {source}")]
    CreateDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("redb storage failed: {0}")]
    Redb(#[source] redb::Error),

    #[error("cannot connect to redis at `{url}`: {source}")]
    RedisConnect {
        url: String,
        #[source]
        source: redis::RedisError,
    },

    #[error("redis command failed: {0}")]
    Redis(#[from] redis::RedisError),

    #[error("kv storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Converts any of redb's per-operation error types (they all convert into `redb::Error`).
pub(crate) fn redb_error(error: impl Into<redb::Error>) -> KvError {
    KvError::Redb(error.into())
}

pub(crate) use kontor_core::redact::redact_url;
