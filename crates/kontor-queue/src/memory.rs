//! In-process `MessageBus` for unit tests: the same lease, retry and dead-letter rules as the SQL table
//! queue, kept in a mutex-guarded map. Nothing survives the process. Clones share the queues, so two clones
//! behave like two worker processes on one database.

use crate::{
    BusOptions, DeadLetter, Delivery, MessageBus, MessageId, QueueError, QueueStats, Receipt, duration_micros,
    main_queue_name, micros_to_datetime, now_micros, poll_receive, truncate_reason, validate_queue_name,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The memory backend. Cheap to clone; clones share the queues.
#[derive(Clone)]
pub struct MemoryBus {
    shared: Arc<Shared>,
    options: BusOptions,
    /// Per handle, like a process's own knowledge of the application's queues.
    tracked: Arc<crate::TrackedQueues>,
}

struct Shared {
    state: Mutex<State>,
    published: crate::QueueWakers,
}

#[derive(Default)]
struct State {
    next_id: i64,
    next_lease: i64,
    queues: BTreeMap<String, MemoryQueue>,
    /// Topic → subscribed queues.
    subscriptions: BTreeMap<String, std::collections::BTreeSet<String>>,
}

#[derive(Default)]
struct MemoryQueue {
    messages: BTreeMap<i64, Stored>,
    dead: BTreeMap<i64, DeadLetter>,
}

struct Stored {
    payload: Vec<u8>,
    attempt: u32,
    enqueued_at: i64,
    /// When it may be delivered; while leased, the lease expiry.
    available_at: i64,
    lease: Option<i64>,
    first_failed_at: Option<i64>,
}

impl MemoryBus {
    pub fn new(options: BusOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                published: crate::QueueWakers::default(),
            }),
            options,
            tracked: Arc::default(),
        }
    }

    /// Another handle on the same queues with different options (a second "process").
    pub fn with_options(&self, options: BusOptions) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            options,
            tracked: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change behind (every change is a
        // single map operation), so a poisoned lock is still consistent.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn claim(&self, queue: &str, max: usize) -> Vec<Delivery> {
        let now = now_micros();
        let lease_until = now.saturating_add(duration_micros(self.options.lease));
        let mut state = self.state();
        state.next_lease += 1;
        let lease = state.next_lease;
        let Some(entries) = state.queues.get_mut(queue) else {
            return Vec::new();
        };
        let mut ready: Vec<(i64, i64)> = entries
            .messages
            .iter()
            .filter(|(_, message)| message.available_at <= now)
            .map(|(id, message)| (message.available_at, *id))
            .collect();
        ready.sort_unstable();
        ready
            .into_iter()
            .take(max)
            .filter_map(|(_, id)| {
                let message = entries.messages.get_mut(&id)?;
                message.available_at = lease_until;
                message.lease = Some(lease);
                Some(Delivery {
                    id: MessageId(id),
                    queue: queue.to_owned(),
                    payload: message.payload.clone(),
                    attempt: message.attempt,
                    enqueued_at: micros_to_datetime(message.enqueued_at),
                    receipt: Receipt {
                        lease,
                        tag: 0,
                        first_failed_at: message.first_failed_at,
                    },
                })
            })
            .collect()
    }

    fn append(state: &mut State, queue: &str, payloads: Vec<Vec<u8>>) {
        let now = now_micros();
        let mut next_id = state.next_id;
        let entries = state.queues.entry(queue.to_owned()).or_default();
        for payload in payloads {
            next_id += 1;
            let message = Stored {
                payload,
                attempt: 1,
                enqueued_at: now,
                available_at: now,
                lease: None,
                first_failed_at: None,
            };
            entries.messages.insert(next_id, message);
        }
        state.next_id = next_id;
    }

    /// The stored message a delivery refers to, if the delivery still holds its lease.
    fn held<'a>(state: &'a mut State, delivery: &Delivery) -> Option<&'a mut MemoryQueue> {
        let queue = state.queues.get_mut(&delivery.queue)?;
        let message = queue.messages.get(&delivery.id.0)?;
        (message.lease == Some(delivery.receipt.lease)).then_some(queue)
    }
}

#[async_trait::async_trait]
impl MessageBus for MemoryBus {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn publish(&self, queue: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        validate_queue_name(queue)?;
        Self::append(&mut self.state(), queue, payloads);
        self.shared.published.wake(queue);
        Ok(())
    }

    async fn subscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        validate_queue_name(topic)?;
        validate_queue_name(queue)?;
        self.state()
            .subscriptions
            .entry(topic.to_owned())
            .or_default()
            .insert(queue.to_owned());
        Ok(())
    }

    async fn unsubscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        if let Some(queues) = self.state().subscriptions.get_mut(topic) {
            queues.remove(queue);
        }
        Ok(())
    }

    async fn publish_to_topic(&self, topic: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        validate_queue_name(topic)?;
        let queues: Vec<String> = {
            let mut state = self.state();
            let queues: Vec<String> = state
                .subscriptions
                .get(topic)
                .map(|queues| queues.iter().cloned().collect())
                .unwrap_or_default();
            for queue in &queues {
                Self::append(&mut state, queue, payloads.clone());
            }
            queues
        };
        for queue in &queues {
            self.shared.published.wake(queue);
        }
        Ok(())
    }

    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        validate_queue_name(queue)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        poll_receive(
            wait,
            self.options.poll_interval,
            &self.shared.published.of(queue),
            || async { Ok(self.claim(queue, max)) },
        )
        .await
    }

    async fn ack(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        let mut state = self.state();
        for delivery in deliveries {
            if let Some(queue) = Self::held(&mut state, delivery) {
                queue.messages.remove(&delivery.id.0);
            }
        }
        Ok(())
    }

    async fn nack(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        let now = now_micros();
        let retry = &self.options.retry;
        let mut state = self.state();
        let Some(queue) = Self::held(&mut state, delivery) else {
            return Ok(());
        };
        let Some(message) = queue.messages.get_mut(&delivery.id.0) else {
            return Ok(());
        };
        let first_failed_at = *message.first_failed_at.get_or_insert(now);
        if retry.is_exhausted(message.attempt) {
            let attempts = message.attempt;
            let enqueued_at = message.enqueued_at;
            let payload = std::mem::take(&mut message.payload);
            queue.messages.remove(&delivery.id.0);
            let dead = DeadLetter {
                id: delivery.id,
                queue: delivery.queue.clone(),
                payload,
                attempts,
                reason: truncate_reason(reason),
                enqueued_at: micros_to_datetime(enqueued_at),
                first_failed_at: micros_to_datetime(first_failed_at),
                last_failed_at: micros_to_datetime(now),
            };
            queue.dead.insert(delivery.id.0, dead);
        } else {
            message.available_at = now.saturating_add(duration_micros(retry.delay_after(message.attempt)));
            message.attempt += 1;
            message.lease = None;
        }
        Ok(())
    }

    async fn release(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        let now = now_micros();
        {
            let mut state = self.state();
            for delivery in deliveries {
                if let Some(queue) = Self::held(&mut state, delivery)
                    && let Some(message) = queue.messages.get_mut(&delivery.id.0)
                {
                    message.available_at = now;
                    message.lease = None;
                }
            }
        }
        self.shared.published.wake_all();
        Ok(())
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let queue = main_queue_name(queue);
        validate_queue_name(queue)?;
        let state = self.state();
        Ok(state
            .queues
            .get(queue)
            .map(|entries| entries.dead.values().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn requeue_dead_letters(&self, queue: &str, ids: Option<&[MessageId]>) -> Result<u64, QueueError> {
        let queue = main_queue_name(queue);
        validate_queue_name(queue)?;
        let now = now_micros();
        let moved = {
            let mut state = self.state();
            let Some(entries) = state.queues.get_mut(queue) else {
                return Ok(0);
            };
            let chosen: Vec<i64> = entries
                .dead
                .keys()
                .copied()
                .filter(|id| ids.is_none_or(|ids| ids.contains(&MessageId(*id))))
                .collect();
            for id in &chosen {
                if let Some(dead) = entries.dead.remove(id) {
                    let message = Stored {
                        payload: dead.payload,
                        attempt: 1,
                        enqueued_at: now,
                        available_at: now,
                        lease: None,
                        first_failed_at: None,
                    };
                    entries.messages.insert(*id, message);
                }
            }
            chosen.len()
        };
        self.shared.published.wake_all();
        Ok(u64::try_from(moved).unwrap_or(u64::MAX))
    }

    fn track_queues(&self, queues: &[String]) -> Result<(), QueueError> {
        self.tracked.add(queues)
    }

    async fn stats(&self) -> Result<Vec<QueueStats>, QueueError> {
        let now = now_micros();
        let state = self.state();
        let stats: Vec<QueueStats> = state
            .queues
            .iter()
            .map(|(name, entries)| {
                let mut stats = QueueStats {
                    queue: name.clone(),
                    dead_letters: entries.dead.len() as u64,
                    ..QueueStats::default()
                };
                let mut oldest_ready: Option<i64> = None;
                for message in entries.messages.values() {
                    if message.available_at <= now {
                        stats.ready += 1;
                        oldest_ready = Some(oldest_ready.map_or(message.available_at, |o| o.min(message.available_at)));
                    } else if message.lease.is_some() {
                        stats.in_flight += 1;
                    } else {
                        stats.delayed += 1;
                    }
                }
                stats.oldest_ready_age = oldest_ready.map(|since| age(now, since));
                stats
            })
            .collect();
        Ok(self.tracked.complete(stats))
    }
}

pub(crate) fn age(now: i64, since: i64) -> Duration {
    Duration::from_micros(u64::try_from(now.saturating_sub(since)).unwrap_or(0))
}
