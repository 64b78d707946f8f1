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

/// The URL without the password of its user info (`redis://user:secret@host` → `redis://user:***@host`),
/// so connection errors can be logged.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = user_info.split_once(':').map_or(user_info, |(user, _password)| user);
    format!("{scheme}://{user}:***@{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(redact_url("redis://:secret@host:6379/2"), "redis://:***@host:6379/2");
        assert_eq!(redact_url("redis://app:secret@host"), "redis://app:***@host");
        assert_eq!(redact_url("redis://host:6379/0"), "redis://host:6379/0");
        assert_eq!(redact_url("memory://"), "memory://");
    }
}
