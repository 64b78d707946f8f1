//! The `Notifier` port: best-effort notifications to every node (WebSocket fan-out, cache
//! invalidation, import progress).
//!
//! Two backends implement it, chosen once at start-up from a URL by [`open`]:
//! - `memory` / `broadcast` (also `memory://`, `broadcast://`) — in-process `tokio::sync::broadcast`,
//!   the embedded default of `serve` and `demo` ([`BroadcastNotifier`]);
//! - `redis://host:port[/db]` (also `valkey://`) — Redis / Valkey pub/sub, so a notification
//!   published on one node reaches the subscribers of every node ([`RedisNotifier`]).
//!
//! Notifications are hints, not data. Delivery is at-most-once: a subscription that falls behind
//! loses the oldest notifications and is told how many ([`Received::Missed`]); on Redis, what is
//! published while a node's connection is down never reaches that node, which is told afterwards
//! ([`Received::Interrupted`]). The source of truth stays in SQL and KV: a receiver re-reads from
//! there what a notification points at, and after `Missed` or `Interrupted` re-reads everything it
//! caches. Nothing that must not be lost goes through here; that is the outbox and the queue.
//!
//! Invariants every backend keeps (one conformance suite in `tests/it` checks them on both):
//! - Channel names, kinds and node ids use `a-z 0-9 . _ - :` and have 1 to [`MAX_NAME_BYTES`] bytes;
//!   anything else is refused with an error naming it. A namespace (may be empty) uses the same
//!   alphabet; on Redis a channel `c` is the physical channel `notify:<namespace>c`, so several
//!   deployments or tests share one Redis.
//! - Every subscription of a channel gets every notification published on it while it exists (up to
//!   the loss cases above); subscriptions of other channels get nothing. Notifications of one channel
//!   from one publishing node arrive in publishing order.
//! - `publish` stamps `origin_node` and `sent_at_micros`; a notification is at most
//!   [`MAX_NOTIFICATION_BYTES`] as JSON on every backend, so what works embedded works on Redis.
//! - Dropping a [`Subscription`] unsubscribes it; dropping the notifier ends its subscriptions.
//! - Payloads are never logged, and errors never carry them.

mod broadcast;
mod error;
mod hub;
mod names;
mod notification;
mod redis_notifier;
mod redis_subscriber;
mod subscription;

use async_trait::async_trait;
use std::sync::Arc;

pub use broadcast::BroadcastNotifier;
pub use error::NotifyError;
pub use names::MAX_NAME_BYTES;
pub use notification::{MAX_NOTIFICATION_BYTES, Notification};
pub use redis_notifier::RedisNotifier;
pub use subscription::{Received, Subscription};

/// How many notifications per channel a subscription may fall behind before it loses the oldest.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 1024;

/// A larger backlog is a configuration mistake: each slot may hold a notification of up to 64 KB.
const MAX_CHANNEL_CAPACITY: usize = 65_536;

/// Settings shared by every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierOptions {
    /// Inserted between `notify:` and the channel on Redis, e.g. `shop1:` gives `notify:shop1:orders`.
    /// Empty by default.
    pub namespace: String,
    /// This node's name, stamped on what it publishes as `origin_node` (so a node can skip its own
    /// cache invalidations) and used as the Redis client name `kontor-notify:<node_id>`.
    pub node_id: String,
    /// Per channel, how many notifications a subscription may fall behind before the oldest are
    /// dropped. Rounded up to a power of two; 1 to 65 536. [`DEFAULT_CHANNEL_CAPACITY`] by default.
    pub channel_capacity: usize,
}

impl NotifierOptions {
    /// Options with the given namespace and node id and the default capacity.
    pub fn new(namespace: impl Into<String>, node_id: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            node_id: node_id.into(),
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
        }
    }

    fn validate(&self) -> Result<(), NotifyError> {
        names::validate_namespace(&self.namespace)?;
        names::validate_node_id(&self.node_id)?;
        if !(1..=MAX_CHANNEL_CAPACITY).contains(&self.channel_capacity) {
            return Err(NotifyError::InvalidOptions(
                "the channel capacity must be between 1 and 65536",
            ));
        }
        Ok(())
    }
}

/// Publishes notifications to, and subscribes to them from, every node. Object safe: held as
/// `Arc<dyn Notifier>`, one per process (on Redis each holds a pub/sub connection).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Short backend name for logs and metrics: `broadcast` or `redis`.
    fn backend_name(&self) -> &'static str;

    /// The node id stamped on what this notifier publishes.
    fn node_id(&self) -> &str;

    /// Sends `notification` to every subscription of `channel` on every node, stamped with this
    /// node's id and the current time. Succeeds when nobody listens. On Redis it fails while the
    /// server is unreachable (the caller decides whether a lost hint matters; usually it does not).
    async fn publish(&self, channel: &str, notification: Notification) -> Result<(), NotifyError>;

    /// A subscription to `channels` (at least one; duplicates ignored). All names are validated
    /// before anything is subscribed. On Redis it returns once Redis has confirmed the subscription,
    /// so a notification published afterwards is received; while Redis is unreachable it returns
    /// at once and the channels are subscribed when the connection is back.
    async fn subscribe(&self, channels: &[&str]) -> Result<Subscription, NotifyError>;
}

/// Opens the backend named by `url` (`memory`, `broadcast`, `redis://…` or `valkey://…`) for
/// `namespace` and `node_id`, with the default channel capacity.
pub async fn open(url: &str, namespace: &str, node_id: &str) -> Result<Arc<dyn Notifier>, NotifyError> {
    open_with_options(url, NotifierOptions::new(namespace, node_id)).await
}

/// Like [`open`], with every option given. A Redis server that cannot be reached is an error here;
/// later outages are reconnected.
pub async fn open_with_options(url: &str, options: NotifierOptions) -> Result<Arc<dyn Notifier>, NotifyError> {
    options.validate()?;
    let (scheme, rest) = url.split_once("://").unwrap_or((url, ""));
    match scheme {
        "memory" | "broadcast" if rest.is_empty() => Ok(Arc::new(BroadcastNotifier::new(options)?)),
        "memory" | "broadcast" => Err(NotifyError::InvalidUrl {
            url: error::redact_url(url),
            reason: "the in-process notifier takes no address",
        }),
        "redis" | "rediss" | "valkey" | "valkeys" => Ok(Arc::new(RedisNotifier::connect(url, options).await?)),
        _ => Err(NotifyError::InvalidUrl {
            url: error::redact_url(url),
            reason: "expected `memory`, `broadcast`, `redis://host:port[/db]` or `valkey://host:port[/db]`",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open_error(url: &str, options: NotifierOptions) -> String {
        match open_with_options(url, options).await {
            Ok(notifier) => panic!("{url} opened a {} notifier", notifier.backend_name()),
            Err(error) => error.to_string(),
        }
    }

    #[tokio::test]
    async fn opens_the_in_process_backend_by_any_of_its_names() {
        for url in ["memory", "memory://", "broadcast", "broadcast://"] {
            let notifier = open(url, "", "node-1").await.expect("opens");
            assert_eq!(notifier.backend_name(), "broadcast");
            assert_eq!(notifier.node_id(), "node-1");
        }
    }

    #[tokio::test]
    async fn refuses_unknown_urls_and_bad_options() {
        let options = NotifierOptions::new("", "node-1");
        assert!(
            open_error("kafka://host", options.clone())
                .await
                .contains("expected `memory`")
        );
        assert!(
            open_error("memory://x", options.clone())
                .await
                .contains("takes no address")
        );
        assert!(
            open_error("memory", NotifierOptions::new("", "Node 1"))
                .await
                .contains("node id `Node 1`")
        );
        assert!(
            open_error("memory", NotifierOptions::new("Shop", "node-1"))
                .await
                .contains("namespace `Shop`")
        );
        let zero_capacity = NotifierOptions {
            channel_capacity: 0,
            ..options
        };
        assert!(open_error("memory", zero_capacity).await.contains("capacity"));
    }

    #[tokio::test]
    async fn redacts_the_password_of_an_unreachable_redis() {
        // Port 1 refuses connections at once on any test machine.
        let message = open_error("redis://:secret@127.0.0.1:1", NotifierOptions::new("", "node-1")).await;
        assert!(message.contains("redis://:***@127.0.0.1:1"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
