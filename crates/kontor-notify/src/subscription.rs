//! `Subscription`: what a subscriber holds, and `Received`: what it gets.
//!
//! A subscription listens on one or more channels. Notifications of one channel arrive in the order
//! they were published (per publishing node); channels are interleaved fairly, so a busy channel
//! cannot starve a quiet one. Dropping the subscription unsubscribes it; when the notifier that
//! created it is dropped, [`Subscription::recv`] returns `None`.

use crate::Notification;
use crate::hub::{HubItem, LocalHub};
use futures_util::Stream;
use futures_util::future::select_all;
use std::fmt;
use std::sync::{Arc, Weak};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// One event of a [`Subscription`].
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A notification published on `channel`.
    Notification {
        channel: String,
        notification: Arc<Notification>,
    },
    /// This subscription fell more than the channel capacity behind: the `count` oldest
    /// notifications of `channel` it had not read yet were dropped. Re-read what they would have
    /// told from SQL or KV.
    Missed { channel: String, count: u64 },
    /// The connection to the other nodes was lost and is back (Redis backend only). Notifications of
    /// `channel` published in between are lost, how many is unknown: re-read what they would have told.
    Interrupted { channel: String },
}

impl Received {
    /// The channel the event belongs to.
    pub fn channel(&self) -> &str {
        match self {
            Received::Notification { channel, .. }
            | Received::Missed { channel, .. }
            | Received::Interrupted { channel } => channel,
        }
    }

    /// The notification, when this event is one.
    pub fn notification(&self) -> Option<&Notification> {
        match self {
            Received::Notification { notification, .. } => Some(notification),
            Received::Missed { .. } | Received::Interrupted { .. } => None,
        }
    }
}

/// The receiving end of one local broadcast channel.
pub(crate) struct ChannelReceiver {
    pub(crate) channel: String,
    pub(crate) receiver: broadcast::Receiver<HubItem>,
}

impl ChannelReceiver {
    fn received(&self, item: HubItem) -> Received {
        let channel = self.channel.clone();
        match item {
            HubItem::Notification(notification) => Received::Notification { channel, notification },
            HubItem::Interrupted => Received::Interrupted { channel },
        }
    }

    fn missed(&self, count: u64) -> Received {
        Received::Missed {
            channel: self.channel.clone(),
            count,
        }
    }
}

/// A live subscription to one or more channels, created by [`Notifier::subscribe`](crate::Notifier::subscribe).
pub struct Subscription {
    receivers: Vec<ChannelReceiver>,
    hub: Weak<LocalHub>,
    /// The receiver looked at first by the next `recv`, rotated so every channel gets its turn.
    next_first: usize,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Subscription")
            .field("channels", &self.channels().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(receivers: Vec<ChannelReceiver>, hub: Weak<LocalHub>) -> Self {
        Self {
            receivers,
            hub,
            next_first: 0,
        }
    }

    /// The channels this subscription listens on, each once, in the order first asked for.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.receivers.iter().map(|receiver| receiver.channel.as_str())
    }

    /// The next event, waiting for one; `None` once the notifier is gone. Cancel safe: a `recv`
    /// dropped before it completes (e.g. in `tokio::select!`) loses nothing.
    pub async fn recv(&mut self) -> Option<Received> {
        if let Some(ready) = self.try_recv_ready() {
            return ready;
        }
        // Nothing is waiting: park on every channel at once. Each broadcast `recv` is cancel safe,
        // so the futures that lose the race drop without consuming anything.
        let (result, index) = {
            let waits = self
                .receivers
                .iter_mut()
                .map(|channel_receiver| Box::pin(channel_receiver.receiver.recv()));
            let (result, index, _still_waiting) = select_all(waits).await;
            (result, index)
        };
        self.next_first = (index + 1) % self.receivers.len();
        let channel_receiver = &self.receivers[index];
        match result {
            Ok(item) => Some(channel_receiver.received(item)),
            Err(RecvError::Lagged(count)) => Some(channel_receiver.missed(count)),
            Err(RecvError::Closed) => None,
        }
    }

    /// An event that is already waiting, looking at the channels round-robin: `Some(Some(event))`,
    /// `Some(None)` when the notifier is gone, `None` when nothing is waiting.
    fn try_recv_ready(&mut self) -> Option<Option<Received>> {
        let channel_count = self.receivers.len();
        for offset in 0..channel_count {
            let index = (self.next_first + offset) % channel_count;
            let channel_receiver = &mut self.receivers[index];
            let event = match channel_receiver.receiver.try_recv() {
                Ok(item) => channel_receiver.received(item),
                Err(TryRecvError::Lagged(count)) => channel_receiver.missed(count),
                Err(TryRecvError::Closed) => return Some(None),
                Err(TryRecvError::Empty) => continue,
            };
            self.next_first = (index + 1) % channel_count;
            return Some(Some(event));
        }
        None
    }

    /// This subscription as a [`Stream`] (e.g. to forward into a WebSocket); it ends when the
    /// notifier is gone, and dropping it unsubscribes.
    pub fn into_stream(self) -> impl Stream<Item = Received> + Send + 'static {
        futures_util::stream::unfold(self, |mut subscription| async move {
            let received = subscription.recv().await?;
            Some((received, subscription))
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.leave(self.channels());
        }
    }
}
