//! The error type of every `MessageBus` backend.
//!
//! Policy: messages are lowercase and name the queue or the operation, never a payload and never a
//! URL (which may carry a password); the broker's and the database's own errors are kept as sources.

/// What can go wrong talking to a queue backend.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Queue names are dotted lowercase identifiers (`publish.product_abstract`).
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName { name: String, reason: &'static str },

    /// `open` was given a URL whose scheme no backend handles; only the scheme is reported.
    #[error("unsupported queue url scheme {scheme:?} (expected `sql`, `memory` or `amqp://…`)")]
    UnsupportedUrl { scheme: String },

    /// The `sql` backend was chosen but no database connection was handed to `open`.
    #[error("the sql queue backend needs the application's database connection")]
    MissingDatabase,

    /// The table queue's database failed.
    #[error("queue database error: {0}")]
    Database(#[from] sea_orm::DbErr),

    /// The broker refused or failed an operation.
    #[error("broker error during {operation}: {source}")]
    Broker {
        operation: &'static str,
        #[source]
        source: lapin::Error,
    },

    /// The broker did not confirm a publish (it nacked it), so the message may not be stored.
    #[error("broker did not confirm a message published to {queue}")]
    NotConfirmed { queue: String },

    /// No connection to the broker could be established, even after retrying with backoff.
    #[error("broker unreachable after {attempts} attempts: {source}")]
    Unavailable {
        attempts: u32,
        #[source]
        source: lapin::Error,
    },

    /// The broker closed a consumer (for example because its queue was deleted).
    #[error("consumer of {queue} was closed by the broker")]
    ConsumerClosed { queue: String },
}

impl QueueError {
    pub(crate) fn broker(operation: &'static str) -> impl FnOnce(lapin::Error) -> QueueError {
        move |source| QueueError::Broker { operation, source }
    }
}
