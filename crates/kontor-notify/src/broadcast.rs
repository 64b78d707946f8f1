//! `memory://` (or `broadcast://`): the embedded default, one process delivering to itself.
//!
//! `publish` hands the notification straight to the local hub, so every subscription of the channel
//! in this process gets it before `publish` returns. Two instances do not see each other: the
//! embedded deployment is one process holding one notifier. The namespace is validated for parity
//! with Redis but isolates nothing further, an instance being its own world already.

use crate::hub::{HubItem, LocalHub};
use crate::notification::prepare;
use crate::{Notification, Notifier, NotifierOptions, NotifyError, Subscription};
use async_trait::async_trait;
use std::sync::Arc;

/// A [`Notifier`] inside one process; see the module docs.
pub struct BroadcastNotifier {
    hub: Arc<LocalHub>,
    node_id: String,
}

impl std::fmt::Debug for BroadcastNotifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BroadcastNotifier")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl BroadcastNotifier {
    /// A notifier with validated `options`.
    pub fn new(options: NotifierOptions) -> Result<Self, NotifyError> {
        options.validate()?;
        Ok(Self {
            hub: Arc::new(LocalHub::new(options.channel_capacity, None)),
            node_id: options.node_id,
        })
    }
}

#[async_trait]
impl Notifier for BroadcastNotifier {
    fn backend_name(&self) -> &'static str {
        "broadcast"
    }

    fn node_id(&self) -> &str {
        &self.node_id
    }

    async fn publish(&self, channel: &str, notification: Notification) -> Result<(), NotifyError> {
        let (stamped, _encoded) = prepare(channel, notification, &self.node_id)?;
        let receiver_count = self.hub.deliver(channel, HubItem::Notification(Arc::new(stamped)));
        tracing::trace!(channel, receiver_count, "notification delivered in process");
        Ok(())
    }

    async fn subscribe(&self, channels: &[&str]) -> Result<Subscription, NotifyError> {
        self.hub.join(channels)
    }
}
