//! Errors of the search port. Messages are lower-case and name the key or index concerned; the engine's
//! own error is kept as the source so logs show the cause without it leaking into HTTP responses.

/// Why a search index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A key does not have the `resource:store:locale:reference` shape, so no index can be chosen.
    #[error("search key {key:?} has no store and locale segment")]
    InvalidKey { key: String },
    /// An op contradicts itself (e.g. its document names another store than its key); nothing of the
    /// batch was applied.
    #[error("invalid search op for key {key:?}: {reason}")]
    InvalidOp { key: String, reason: String },
    /// A request the index refuses to run (e.g. a page limit above the maximum).
    #[error("invalid search request: {0}")]
    InvalidRequest(String),
    /// The search engine failed (I/O, corrupt index, schema mismatch).
    #[error("search engine error in index {index}")]
    Engine {
        index: String,
        #[source]
        source: ::tantivy::TantivyError,
    },
    /// Creating the index directory or a similar file operation failed.
    #[error("search index i/o error at {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A stored document could not be read back; the index must be rebuilt (`kontor sync`).
    #[error("stored search document {key:?} is unreadable")]
    CorruptDocument {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    /// A document could not be serialised for storage.
    #[error("search document {key:?} cannot be serialised")]
    Serialize {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    /// A previous writer panicked while holding the index; the process should restart.
    #[error("search index {index} is poisoned by an earlier panic")]
    Poisoned { index: String },
    /// The blocking task running the operation panicked or was cancelled.
    #[error("search task failed")]
    Task(#[source] tokio::task::JoinError),
}
