//! `LocalHub`: the in-process fan-out both backends deliver through.
//!
//! One `tokio::sync::broadcast` channel per notification channel that has at least one local
//! subscription, created by the first subscription and removed with the last. The broadcast backend
//! delivers into it when publishing; the Redis backend's subscriber task delivers what arrives from
//! Redis. A broadcast channel keeps the newest `capacity` items: a subscription that falls further
//! behind loses the oldest ones and learns how many ([`Received::Missed`](crate::Received::Missed)),
//! so one slow WebSocket never blocks the others or grows memory without bound.
//!
//! Ownership: the notifier holds the only strong reference. Subscriptions and the Redis subscriber
//! task hold weak ones, so dropping the notifier drops every sender, which ends every subscription
//! and (through the closed membership channel) stops the subscriber task.

use crate::subscription::{ChannelReceiver, Subscription};
use crate::{Notification, NotifyError, names};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{broadcast, mpsc, oneshot};

/// What a broadcast channel carries.
#[derive(Debug, Clone)]
pub(crate) enum HubItem {
    Notification(Arc<Notification>),
    /// Delivery was interrupted (lost Redis connection) and has resumed; what was published in
    /// between is lost.
    Interrupted,
}

/// Tells the Redis subscriber task that the set of wanted channels changed. `confirmed` is
/// answered once Redis has confirmed the new subscriptions, or at once while Redis is unreachable.
#[derive(Debug)]
pub(crate) struct MembershipChange {
    pub(crate) confirmed: Option<oneshot::Sender<()>>,
}

struct ChannelSlot {
    sender: broadcast::Sender<HubItem>,
    /// Live subscriptions that listen on this channel; the slot goes when it drops to zero.
    subscription_count: usize,
}

pub(crate) struct LocalHub {
    slots: Mutex<HashMap<String, ChannelSlot>>,
    capacity: usize,
    /// Present on the Redis backend, where Redis must be told about new and abandoned channels.
    membership_changes: Option<mpsc::UnboundedSender<MembershipChange>>,
}

impl LocalHub {
    /// A hub whose channels keep `capacity` items per subscription backlog (rounded up to a power of two).
    pub(crate) fn new(capacity: usize, membership_changes: Option<mpsc::UnboundedSender<MembershipChange>>) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity,
            membership_changes,
        }
    }

    /// The map is only changed by short non-panicking code, so a poisoned lock still holds
    /// consistent data and is used as is.
    fn lock_slots(&self) -> MutexGuard<'_, HashMap<String, ChannelSlot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a subscription on `channels` (validated as a whole first, duplicates ignored).
    pub(crate) fn join(self: &Arc<Self>, channels: &[&str]) -> Result<Subscription, NotifyError> {
        if channels.is_empty() {
            return Err(NotifyError::NoChannels);
        }
        for channel in channels {
            names::validate_channel(channel)?;
        }
        let mut unique_channels: Vec<&str> = Vec::with_capacity(channels.len());
        for channel in channels {
            if !unique_channels.contains(channel) {
                unique_channels.push(channel);
            }
        }
        let mut slots = self.lock_slots();
        let receivers = unique_channels
            .into_iter()
            .map(|channel| {
                let slot = slots.entry(channel.to_owned()).or_insert_with(|| ChannelSlot {
                    sender: broadcast::Sender::new(self.capacity),
                    subscription_count: 0,
                });
                slot.subscription_count += 1;
                ChannelReceiver {
                    channel: channel.to_owned(),
                    receiver: slot.sender.subscribe(),
                }
            })
            .collect();
        Ok(Subscription::new(receivers, Arc::downgrade(self)))
    }

    /// Unregisters a dropped subscription; channels nobody listens to any more are removed and,
    /// on Redis, unsubscribed.
    pub(crate) fn leave<'a>(&self, channels: impl Iterator<Item = &'a str>) {
        let mut removed_any = false;
        {
            let mut slots = self.lock_slots();
            for channel in channels {
                let Entry::Occupied(mut slot) = slots.entry(channel.to_owned()) else {
                    continue;
                };
                slot.get_mut().subscription_count -= 1;
                if slot.get().subscription_count == 0 {
                    slot.remove();
                    removed_any = true;
                }
            }
        }
        if removed_any {
            // Nobody waits for an unsubscribe, and a stopped task has nothing left to unsubscribe.
            self.announce_membership_change(None);
        }
    }

    /// Asks the Redis subscriber task to bring its subscriptions in line with the wanted channels.
    /// Returns false when there is no task (broadcast backend) or it has stopped.
    pub(crate) fn announce_membership_change(&self, confirmed: Option<oneshot::Sender<()>>) -> bool {
        let Some(membership_changes) = &self.membership_changes else {
            return false;
        };
        membership_changes.send(MembershipChange { confirmed }).is_ok()
    }

    /// Hands `item` to every local subscription of `channel`; returns how many received it.
    pub(crate) fn deliver(&self, channel: &str, item: HubItem) -> usize {
        let slots = self.lock_slots();
        let Some(slot) = slots.get(channel) else {
            return 0;
        };
        // `send` fails only without receivers, which the subscription count rules out; either way
        // nobody is left to tell.
        slot.sender.send(item).unwrap_or(0)
    }

    /// Tells every subscription that delivery was interrupted and has resumed.
    pub(crate) fn interrupt_all(&self) {
        let slots = self.lock_slots();
        for slot in slots.values() {
            let _receiver_count = slot.sender.send(HubItem::Interrupted);
        }
    }

    /// The channels with at least one local subscription.
    pub(crate) fn wanted_channels(&self) -> Vec<String> {
        self.lock_slots().keys().cloned().collect()
    }
}
