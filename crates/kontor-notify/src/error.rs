//! `NotifyError`: every way opening a notifier, publishing or subscribing fails.
//!
//! Messages are lower-case and name the channel, kind, node id or URL involved, never a payload
//! (notifications can carry customer data such as an order reference). URLs are shown with their
//! password removed.

use crate::names::preview;

/// The error of [`open`](crate::open) and of every [`Notifier`](crate::Notifier) call.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid notifier url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: &'static str },

    #[error("invalid notifier options: {0}")]
    InvalidOptions(&'static str),

    #[error("invalid notification namespace `{}`: {reason}", preview(namespace))]
    InvalidNamespace { namespace: String, reason: &'static str },

    #[error("invalid notifier node id `{}`: {reason}", preview(node_id))]
    InvalidNodeId { node_id: String, reason: &'static str },

    #[error("invalid notification channel `{}`: {reason}", preview(channel))]
    InvalidChannel { channel: String, reason: &'static str },

    #[error("invalid notification kind `{}`: {reason}", preview(kind))]
    InvalidKind { kind: String, reason: &'static str },

    #[error("a subscription needs at least one channel")]
    NoChannels,

    #[error("notification for channel `{channel}` is {bytes} bytes as json, more than the limit of {limit}")]
    NotificationTooLarge {
        channel: String,
        bytes: usize,
        limit: usize,
    },

    #[error("notification for channel `{channel}` cannot be encoded as json: {source}")]
    Encode {
        channel: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("cannot connect to redis at `{url}`: {source}")]
    RedisConnect {
        url: String,
        #[source]
        source: redis::RedisError,
    },

    #[error("cannot publish to notification channel `{channel}` on redis: {source}")]
    Publish {
        channel: String,
        #[source]
        source: redis::RedisError,
    },

    #[error("the notification subscriber task of this notifier has stopped")]
    SubscriberStopped,
}

pub(crate) use kontor_core::redact::redact_url;
