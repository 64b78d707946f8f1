//! The Redis subscriber task: one dedicated pub/sub connection per notifier, kept subscribed to
//! what local subscriptions want, and brought back after it is lost.
//!
//! The task owns the connection and is the only one to (un)subscribe on it, so no two changes can
//! interleave. Subscriptions announce changes through the hub; the task answers each batch of
//! announcements by reconciling: SUBSCRIBE what is wanted but not subscribed, UNSUBSCRIBE the
//! rest. Reconciling the whole set makes every announcement idempotent and order-free.
//!
//! Loss of the connection is noticed by the client library's disconnection push (EOF, reset, a
//! `CLIENT KILL`) or by a failed `PING` health check (half-open TCP). Then the task reconnects: at
//! once, then after 100 ms doubling up to 5 s, logging each failure; meanwhile it answers new
//! subscriptions at once (they are subscribed with the rest on reconnect). Once re-subscribed it
//! hands every channel an `Interrupted` marker, in order with the messages that follow.

use crate::Notification;
use crate::hub::{HubItem, LocalHub, MembershipChange};
use crate::redis_notifier::{CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Msg, PushInfo, PushKind, RedisResult};
use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

/// How often an idle subscriber connection is checked with a `PING`.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// The wait after the immediate reconnect attempt failed, doubled after each further failure.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Long enough not to hammer a restarting server, short enough to rejoin soon after it is back.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// An open subscriber connection and what Redis confirmed on it.
pub(crate) struct SubscriberConnection {
    connection: MultiplexedConnection,
    /// Messages, (un)subscribe confirmations and the library's disconnection notice.
    pushes: mpsc::UnboundedReceiver<PushInfo>,
    /// Physical channels Redis has confirmed on this connection.
    subscribed: HashSet<String>,
}

impl SubscriberConnection {
    /// Connects (RESP3 `client` expected) and names the connection `client_name`.
    pub(crate) async fn open(client: &Client, client_name: &str) -> RedisResult<Self> {
        let (push_sender, pushes) = mpsc::unbounded_channel();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_push_sender(push_sender);
        let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(client_name)
            .exec_async(&mut connection)
            .await?;
        Ok(Self {
            connection,
            pushes,
            subscribed: HashSet::new(),
        })
    }

    /// Subscribes to `wanted` physical channels not yet subscribed and unsubscribes from the others.
    async fn reconcile(&mut self, wanted: &HashSet<String>) -> RedisResult<()> {
        let missing: Vec<String> = wanted.difference(&self.subscribed).cloned().collect();
        if !missing.is_empty() {
            self.connection.subscribe(&missing).await?;
            self.subscribed.extend(missing);
        }
        let abandoned: Vec<String> = self.subscribed.difference(wanted).cloned().collect();
        if !abandoned.is_empty() {
            self.connection.unsubscribe(&abandoned).await?;
            for channel in &abandoned {
                self.subscribed.remove(channel);
            }
        }
        Ok(())
    }
}

/// Why [`SubscriberTask::serve`] returned.
enum ServeEnd {
    /// The notifier is gone.
    Shutdown,
    /// The connection is unusable; the reason is for the log.
    ConnectionLost(String),
}

pub(crate) struct SubscriberTask {
    pub(crate) client: Client,
    pub(crate) client_name: String,
    pub(crate) physical_prefix: String,
    pub(crate) node_id: String,
    pub(crate) hub: Weak<LocalHub>,
    pub(crate) membership_changes: mpsc::UnboundedReceiver<MembershipChange>,
}

impl SubscriberTask {
    /// Serves `first_connection`, then each reconnected one, until the notifier is dropped.
    pub(crate) async fn run(mut self, first_connection: SubscriberConnection) {
        let mut connection = first_connection;
        loop {
            let reason = match self.serve(&mut connection).await {
                ServeEnd::Shutdown => return,
                ServeEnd::ConnectionLost(reason) => reason,
            };
            tracing::warn!(
                node_id = %self.node_id,
                reason = %reason,
                "notification subscriber lost its redis connection, reconnecting"
            );
            match self.reconnect().await {
                Some(reconnected) => connection = reconnected,
                None => return,
            }
        }
    }

    /// Delivers messages and follows membership changes on `connection` until it is lost.
    async fn serve(&mut self, connection: &mut SubscriberConnection) -> ServeEnd {
        let mut health_check = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        health_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                push = connection.pushes.recv() => match push {
                    Some(push) if push.kind != PushKind::Disconnection => self.dispatch(push),
                    _ => return ServeEnd::ConnectionLost("the connection was closed".to_owned()),
                },
                change = self.membership_changes.recv() => {
                    let Some(change) = change else {
                        return ServeEnd::Shutdown;
                    };
                    let waiting_subscribers = self.drain_membership_changes(change);
                    let Some(wanted) = self.wanted_physical_channels() else {
                        return ServeEnd::Shutdown;
                    };
                    let reconciled = connection.reconcile(&wanted).await;
                    // Answered also on failure: the channels are subscribed again on reconnect.
                    answer(waiting_subscribers);
                    if let Err(error) = reconciled {
                        return ServeEnd::ConnectionLost(format!("(un)subscribing failed: {error}"));
                    }
                },
                _ = health_check.tick() => {
                    if let Err(error) = redis::cmd("PING").exec_async(&mut connection.connection).await {
                        return ServeEnd::ConnectionLost(format!("the health check ping failed: {error}"));
                    }
                },
            }
        }
    }

    /// A new subscriber connection with every wanted channel subscribed, or `None` when the notifier
    /// was dropped meanwhile.
    async fn reconnect(&mut self) -> Option<SubscriberConnection> {
        let outage_started = Instant::now();
        let mut retry_delay = FIRST_RETRY_DELAY;
        let mut attempt = 0_u32;
        loop {
            attempt = attempt.saturating_add(1);
            let wanted = self.wanted_physical_channels()?;
            let error = match SubscriberConnection::open(&self.client, &self.client_name).await {
                Ok(mut connection) => match connection.reconcile(&wanted).await {
                    Ok(()) => {
                        tracing::info!(
                            node_id = %self.node_id,
                            attempt,
                            outage_ms = outage_started.elapsed().as_millis(),
                            channel_count = wanted.len(),
                            "notification subscriber reconnected to redis and re-subscribed"
                        );
                        self.hub.upgrade()?.interrupt_all();
                        return Some(connection);
                    }
                    Err(error) => error,
                },
                Err(error) => error,
            };
            tracing::warn!(
                node_id = %self.node_id,
                attempt,
                retry_in_ms = retry_delay.as_millis(),
                error = %error,
                "notification subscriber cannot reconnect to redis yet"
            );
            if !self.wait_answering_subscribers(retry_delay).await {
                return None;
            }
            retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    /// Sleeps `delay` while answering new subscriptions at once; false when the notifier is gone.
    async fn wait_answering_subscribers(&mut self, delay: Duration) -> bool {
        let deadline = tokio::time::sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return true,
                change = self.membership_changes.recv() => match change {
                    Some(change) => answer([change.confirmed]),
                    None => return false,
                },
            }
        }
    }

    /// `first` and every change already queued behind it: one reconcile answers them all.
    fn drain_membership_changes(&mut self, first: MembershipChange) -> Vec<Option<tokio::sync::oneshot::Sender<()>>> {
        let mut waiting_subscribers = vec![first.confirmed];
        while let Ok(change) = self.membership_changes.try_recv() {
            waiting_subscribers.push(change.confirmed);
        }
        waiting_subscribers
    }

    /// The physical channels local subscriptions want; `None` when the notifier is gone.
    fn wanted_physical_channels(&self) -> Option<HashSet<String>> {
        let hub = self.hub.upgrade()?;
        let wanted = hub
            .wanted_channels()
            .into_iter()
            .map(|channel| format!("{}{channel}", self.physical_prefix))
            .collect();
        Some(wanted)
    }

    /// Hands a message from Redis to the local subscriptions of its channel.
    fn dispatch(&self, push: PushInfo) {
        // Confirmations of (un)subscribe arrive here too; only messages convert.
        let Some(message) = Msg::from_push_info(push) else {
            return;
        };
        let Some(channel) = message.get_channel_name().strip_prefix(&self.physical_prefix) else {
            return;
        };
        let notification: Notification = match serde_json::from_slice(message.get_payload_bytes()) {
            Ok(notification) => notification,
            Err(error) => {
                // Someone else published on our channel; the payload is not logged (it may be data).
                tracing::warn!(channel, error = %error, "skipping a redis message that is not a notification");
                return;
            }
        };
        if let Some(hub) = self.hub.upgrade() {
            hub.deliver(channel, HubItem::Notification(Arc::new(notification)));
        }
    }
}

/// Releases every subscriber waiting for its subscription to be confirmed.
fn answer(waiting_subscribers: impl IntoIterator<Item = Option<tokio::sync::oneshot::Sender<()>>>) {
    for confirmed in waiting_subscribers.into_iter().flatten() {
        // The subscriber may have given up waiting (its future dropped); nothing to do then.
        let _ignored = confirmed.send(());
    }
}
