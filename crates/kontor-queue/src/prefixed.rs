//! A bus whose queue names all start with a fixed prefix, so that several tenants, test runs or
//! deployments can share one broker or database without seeing each other's queues.

use crate::{DeadLetter, Delivery, MessageBus, MessageId, QueueError, QueueStats};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

pub struct PrefixedBus {
    inner: Arc<dyn MessageBus>,
    prefix: String,
}

impl PrefixedBus {
    /// `prefix` is prepended verbatim: end it with a dot (`t1.`) to keep names readable.
    pub fn new(inner: Arc<dyn MessageBus>, prefix: impl Into<String>) -> Self {
        Self {
            inner,
            prefix: prefix.into(),
        }
    }

    fn name(&self, queue: &str) -> String {
        format!("{}{queue}", self.prefix)
    }
}

/// Wraps `bus` when `prefix` is not empty.
pub fn with_prefix(bus: Arc<dyn MessageBus>, prefix: &str) -> Arc<dyn MessageBus> {
    if prefix.is_empty() {
        bus
    } else {
        Arc::new(PrefixedBus::new(bus, prefix))
    }
}

#[async_trait]
impl MessageBus for PrefixedBus {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn publish(&self, queue: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        self.inner.publish(&self.name(queue), payloads).await
    }

    async fn subscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        self.inner.subscribe(&self.name(topic), &self.name(queue)).await
    }

    async fn unsubscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        self.inner.unsubscribe(&self.name(topic), &self.name(queue)).await
    }

    async fn publish_to_topic(&self, topic: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        self.inner.publish_to_topic(&self.name(topic), payloads).await
    }

    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        self.inner.receive(&self.name(queue), max, wait).await
    }

    async fn ack(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        self.inner.ack(deliveries).await
    }

    async fn nack(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        self.inner.nack(delivery, reason).await
    }

    async fn release(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        self.inner.release(deliveries).await
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut letters = self.inner.dead_letters(&self.name(queue), limit).await?;
        for letter in &mut letters {
            if let Some(stripped) = letter.queue.strip_prefix(&self.prefix) {
                letter.queue = stripped.to_owned();
            }
        }
        Ok(letters)
    }

    async fn requeue_dead_letters(&self, queue: &str, ids: Option<&[MessageId]>) -> Result<u64, QueueError> {
        self.inner.requeue_dead_letters(&self.name(queue), ids).await
    }

    fn track_queues(&self, queues: &[String]) -> Result<(), QueueError> {
        let named: Vec<String> = queues.iter().map(|queue| self.name(queue)).collect();
        self.inner.track_queues(&named)
    }

    async fn stats(&self) -> Result<Vec<QueueStats>, QueueError> {
        let stats = self.inner.stats().await?;
        Ok(stats
            .into_iter()
            .filter_map(|mut entry| {
                let stripped = entry.queue.strip_prefix(&self.prefix)?.to_owned();
                entry.queue = stripped;
                Some(entry)
            })
            .collect())
    }
}
