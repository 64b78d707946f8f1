//! `redis://host:port[/db]` (or `valkey://`): Redis / Valkey pub/sub, every node hears every node.
//!
//! Two connections per notifier (so one notifier per process):
//! - `PUBLISH notify:<namespace><channel> <json>` on a multiplexed [`ConnectionManager`], which
//!   reconnects by itself after an outage (a publish during the outage fails);
//! - one dedicated subscriber connection, named `kontor-notify:<node_id>` (`CLIENT LIST` shows which
//!   node it belongs to), owned by a background task (`redis_subscriber`). It SUBSCRIBEs to exactly
//!   the channels local subscriptions want, fans incoming messages out through the local hub, and
//!   reconnects with backoff when the connection is lost, then re-subscribes and tells every
//!   subscription it was [`Interrupted`](crate::Received::Interrupted).
//!
//! A notification published here reaches this node's own subscriptions through Redis too, not by a
//! local shortcut: every node then sees one channel in the same order, and nothing twice.
//!
//! The subscriber connection speaks RESP3 (Redis ≥ 6, any Valkey), whatever the URL says, because a
//! RESP3 connection that is subscribed still answers ordinary commands: `CLIENT SETNAME` and the
//! `PING` health check run on it, so a half-open TCP connection is noticed within
//! `PING_INTERVAL + RESPONSE_TIMEOUT` instead of never.
//!
//! Namespaces share the physical channel space: with namespaces `""` and `shop1:`, channel
//! `shop1:orders` of the first is channel `orders` of the second. Deployments sharing a Redis use
//! distinct non-empty namespaces ending in `:`, like kontor-kv's.

use crate::error::redact_url;
use crate::hub::LocalHub;
use crate::names::physical_prefix;
use crate::notification::prepare;
use crate::redis_subscriber::{SubscriberConnection, SubscriberTask};
use crate::{Notification, Notifier, NotifierOptions, NotifyError, Subscription};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ProtocolVersion};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub(crate) const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// A PUBLISH or SUBSCRIBE is one small command; no answer within this means the link is broken.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Notifier`] on Redis or Valkey pub/sub; see the module docs.
pub struct RedisNotifier {
    publisher: ConnectionManager,
    /// The only strong reference: dropping the notifier closes every subscription and the task.
    hub: Arc<LocalHub>,
    subscriber_task: JoinHandle<()>,
    physical_prefix: String,
    node_id: String,
    client_name: String,
}

impl std::fmt::Debug for RedisNotifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisNotifier")
            .field("physical_prefix", &self.physical_prefix)
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl RedisNotifier {
    /// Connects both connections to `url`; an unreachable server is an error. Must run inside a
    /// tokio runtime, which the subscriber task is spawned on.
    pub async fn connect(url: &str, options: NotifierOptions) -> Result<Self, NotifyError> {
        options.validate()?;
        let redacted_url = redact_url(url);
        let connect_error = |source| NotifyError::RedisConnect {
            url: redacted_url.clone(),
            source,
        };
        let publisher_client = Client::open(url).map_err(connect_error)?;
        let connection_info = publisher_client.get_connection_info().clone();
        let resp3_settings = connection_info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let subscriber_client =
            Client::open(connection_info.set_redis_settings(resp3_settings)).map_err(connect_error)?;

        let client_name = format!("kontor-notify:{}", options.node_id);
        // The subscriber connection first: it tries once, so an unreachable server fails fast,
        // where the connection manager would retry for seconds.
        let first_connection = SubscriberConnection::open(&subscriber_client, &client_name)
            .await
            .map_err(connect_error)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let publisher = ConnectionManager::new_with_config(publisher_client, manager_config)
            .await
            .map_err(connect_error)?;

        let physical_prefix = physical_prefix(&options.namespace);
        let (membership_sender, membership_changes) = mpsc::unbounded_channel();
        let hub = Arc::new(LocalHub::new(options.channel_capacity, Some(membership_sender)));
        let task = SubscriberTask {
            client: subscriber_client,
            client_name: client_name.clone(),
            physical_prefix: physical_prefix.clone(),
            node_id: options.node_id.clone(),
            hub: Arc::downgrade(&hub),
            membership_changes,
        };
        let subscriber_task = tokio::spawn(task.run(first_connection));
        Ok(Self {
            publisher,
            hub,
            subscriber_task,
            physical_prefix,
            node_id: options.node_id,
            client_name,
        })
    }

    /// The name of the subscriber connection in `CLIENT LIST`: `kontor-notify:<node_id>`.
    pub fn client_name(&self) -> &str {
        &self.client_name
    }
}

impl Drop for RedisNotifier {
    fn drop(&mut self) {
        // The task would also stop on its own once the hub is gone, but maybe only after a
        // reconnect attempt; aborting closes its connection now.
        self.subscriber_task.abort();
    }
}

#[async_trait]
impl Notifier for RedisNotifier {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    fn node_id(&self) -> &str {
        &self.node_id
    }

    async fn publish(&self, channel: &str, notification: Notification) -> Result<(), NotifyError> {
        let (stamped, encoded) = prepare(channel, notification, &self.node_id)?;
        let physical_channel = format!("{}{channel}", self.physical_prefix);
        let mut connection = self.publisher.clone();
        let receiving_connections: i64 = redis::cmd("PUBLISH")
            .arg(&physical_channel)
            .arg(encoded)
            .query_async(&mut connection)
            .await
            .map_err(|source| NotifyError::Publish {
                channel: channel.to_owned(),
                source,
            })?;
        tracing::trace!(channel, kind = %stamped.kind, receiving_connections, "notification published to redis");
        Ok(())
    }

    async fn subscribe(&self, channels: &[&str]) -> Result<Subscription, NotifyError> {
        let subscription = self.hub.join(channels)?;
        let (confirmed_sender, confirmed) = oneshot::channel();
        if !self.hub.announce_membership_change(Some(confirmed_sender)) {
            return Err(NotifyError::SubscriberStopped);
        }
        // The task answers after Redis confirmed the SUBSCRIBE, or at once during an outage; no
        // answer at all means it is gone.
        confirmed.await.map_err(|_task_gone| NotifyError::SubscriberStopped)?;
        Ok(subscription)
    }
}
