//! The `MessageBus` port, its backends and the worker runtime (ARCHITECTURE.md §2, publish-sync spec §8).
//!
//! Producers `publish` batches of opaque payloads to dotted queues (`publish.product_abstract`,
//! `sync.storage.price_product_abstract`); consumers `receive` batches, which stay leased (unacked) until
//! they are acked. Invariants every backend keeps, checked by one conformance suite (`tests/it`):
//! - delivery is at-least-once: `publish` returns only once the messages are durable, and a delivery
//!   that is neither acked nor nacked (a crashed worker, a lost connection, an expired lease) is delivered
//!   again; consumers must be idempotent;
//! - a leased message is never handed to a second consumer while the lease holds;
//! - a nacked message is retried after a backoff with `attempt + 1`, and after its last attempt it moves to
//!   `<queue>.error` with the reason, the attempt count and its first and last failure times, where it stays
//!   until it is re-queued;
//! - within a queue, messages that are ready at the same time are delivered oldest first.
//!
//! Backends are picked once by [`open`]: `sql` (the application's database, the embedded default),
//! `amqp://…` (RabbitMQ) or `memory` (tests). The [`worker`] module runs batch handlers on top of any of them.
//! The [`scheduler`] module runs the cron jobs of `config/jobs.toml`, one active node at a time (SQL lease).

mod error;
pub mod memory;
pub mod prefixed;
pub mod rabbitmq;
pub mod scheduler;
pub mod sql;
pub mod worker;

pub use error::QueueError;
pub use memory::MemoryBus;
pub use prefixed::{PrefixedBus, with_prefix};
pub use rabbitmq::RabbitMqBus;
pub use sql::SqlBus;

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Suffix of the dead-letter queue of a queue (`publish.product_abstract.error`).
pub const ERROR_QUEUE_SUFFIX: &str = ".error";

/// The identity of a message, stable across retries (and, on RabbitMQ, across dead-lettering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub i64);

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Proof that a consumer holds a message: the lease token (SQL, memory) or the channel generation and
/// delivery tag (RabbitMQ). Acks and nacks with a stale receipt do nothing, because the message has already
/// been handed to someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub(crate) lease: i64,
    pub(crate) tag: u64,
    /// When the message first failed, carried along on brokers that keep it in headers.
    pub(crate) first_failed_at: Option<i64>,
}

/// A received, not yet acknowledged message.
#[derive(Clone)]
pub struct Delivery {
    pub id: MessageId,
    pub queue: String,
    pub payload: Vec<u8>,
    /// 1 on the first delivery, incremented by every nack (not by a redelivery after a crash).
    pub attempt: u32,
    pub enqueued_at: DateTime<Utc>,
    pub(crate) receipt: Receipt,
}

// Payloads may hold customer data: debug output shows their size only.
impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .field("payload_bytes", &self.payload.len())
            .field("attempt", &self.attempt)
            .field("enqueued_at", &self.enqueued_at)
            .finish()
    }
}

/// A message in `<queue>.error`: it failed its last attempt.
#[derive(Clone)]
pub struct DeadLetter {
    pub id: MessageId,
    /// The queue it failed on (without the `.error` suffix).
    pub queue: String,
    pub payload: Vec<u8>,
    pub attempts: u32,
    pub reason: String,
    pub enqueued_at: DateTime<Utc>,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
}

impl std::fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetter")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .field("payload_bytes", &self.payload.len())
            .field("attempts", &self.attempts)
            .field("reason", &self.reason)
            .field("first_failed_at", &self.first_failed_at)
            .field("last_failed_at", &self.last_failed_at)
            .finish()
    }
}

/// Depth of one queue, for `kontor queue stats` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub queue: String,
    /// Deliverable now.
    pub ready: u64,
    /// Waiting for a retry backoff to pass.
    pub delayed: u64,
    /// Leased to a consumer and not yet acked. On RabbitMQ: held by this process only.
    pub in_flight: u64,
    /// In `<queue>.error`.
    pub dead_letters: u64,
    /// How long the oldest ready message has been waiting (unknown on RabbitMQ).
    pub oldest_ready_age: Option<Duration>,
    /// Consumers attached to the queue, where the broker counts them (RabbitMQ); `None` on the polling
    /// backends, whose consumers are not registered anywhere.
    pub consumers: Option<u64>,
}

/// How often and how late a nacked message is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries before a message is dead-lettered (attempts `1..=max_attempts`).
    pub max_attempts: u32,
    /// Delay after the n-th failed attempt is `backoff[n - 1]`; the last step repeats when the list is short.
    pub backoff: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// Spec §8: 5 attempts, backing off 1 s, 5 s, 30 s, 2 min (and 10 min when `max_attempts` is raised).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: [1, 5, 30, 120, 600].map(Duration::from_secs).to_vec(),
        }
    }
}

impl RetryPolicy {
    /// The delay before the attempt that follows failed attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(index)
            .or_else(|| self.backoff.last())
            .copied()
            .unwrap_or(Duration::ZERO)
    }

    /// Whether failed attempt `attempt` was the last one.
    pub fn is_exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts.max(1)
    }
}

/// Settings shared by the backends.
#[derive(Debug, Clone)]
pub struct BusOptions {
    pub retry: RetryPolicy,
    /// How long a received message stays invisible to other consumers (SQL, memory); past it the message is
    /// redelivered, so it must exceed the time a batch takes. RabbitMQ leases last as long as the connection.
    pub lease: Duration,
    /// How often an idle `receive` looks for new messages (SQL, memory).
    pub poll_interval: Duration,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_millis(200),
        }
    }
}

/// The message queue port. Object safe; held as `Arc<dyn MessageBus>`.
#[async_trait::async_trait]
pub trait MessageBus: Send + Sync {
    /// `sql`, `rabbitmq` or `memory`.
    fn backend(&self) -> &'static str;

    /// Appends `payloads` to `queue` in order; returns once they are durable (committed / confirmed).
    async fn publish(&self, queue: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError>;

    /// Binds `queue` to the fan-out `topic`: from now on the queue gets its own copy of everything
    /// published with [`MessageBus::publish_to_topic`] (one consumer group per subscriber, e.g. one search
    /// replica per storefront node). Idempotent; the binding is durable and outlives the process.
    async fn subscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError>;

    /// Removes a binding, for a subscriber that leaves for good. The queue and what it holds stay.
    async fn unsubscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError>;

    /// Publishes `payloads` to every queue subscribed to `topic`, durably, before returning. With no
    /// subscriber the messages go nowhere: a subscriber catches up from its source when it joins.
    async fn publish_to_topic(&self, topic: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError>;

    /// Leases up to `max` messages, oldest first, waiting up to `wait` for the first one to arrive.
    /// Returns an empty batch when none came in time.
    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError>;

    /// Removes processed messages for good.
    async fn ack(&self, deliveries: &[Delivery]) -> Result<(), QueueError>;

    /// Records a failed attempt: the message comes back after the retry backoff, or moves to
    /// `<queue>.error` with `reason` after its last attempt.
    async fn nack(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError>;

    /// Gives messages back unprocessed (graceful shutdown): deliverable again at once, attempt unchanged.
    async fn release(&self, deliveries: &[Delivery]) -> Result<(), QueueError>;

    /// Up to `limit` dead letters of `queue` (with or without the `.error` suffix), oldest first.
    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, QueueError>;

    /// Moves dead letters of `queue` (all, or those with the given ids) back to it as fresh messages;
    /// returns how many moved.
    async fn requeue_dead_letters(&self, queue: &str, ids: Option<&[MessageId]>) -> Result<u64, QueueError>;

    /// Names queues that [`MessageBus::stats`] reports from now on, whether or not this process has used
    /// them: the application's queues, registered once when the bus is opened. A broker such as RabbitMQ
    /// has no listing over AMQP, so without this a process that has declared nothing (`kontor queue stats`)
    /// would see no queue at all. Tracking creates nothing; a tracked queue that does not exist is reported
    /// empty. Fails only on an invalid name.
    fn track_queues(&self, queues: &[String]) -> Result<(), QueueError>;

    /// Depth of every tracked queue and every other queue the backend knows about, sorted by name.
    async fn stats(&self) -> Result<Vec<QueueStats>, QueueError>;
}

/// Opens the backend named by `url`: `sql` (needs `database`), `memory`, or `amqp://…` (RabbitMQ).
pub async fn open(
    url: &str,
    database: Option<sea_orm::DatabaseConnection>,
    options: BusOptions,
) -> Result<Arc<dyn MessageBus>, QueueError> {
    let scheme = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    match scheme {
        "sql" => {
            let connection = database.ok_or(QueueError::MissingDatabase)?;
            Ok(Arc::new(SqlBus::new(connection, options)))
        }
        "memory" => Ok(Arc::new(MemoryBus::new(options))),
        "amqp" => Ok(Arc::new(RabbitMqBus::connect(url, options).await?)),
        other => Err(QueueError::UnsupportedUrl {
            scheme: other.to_owned(),
        }),
    }
}

/// Checks a queue name: 1–200 characters of `a-z`, `0-9`, `_`, `-` and `.`, not starting or ending
/// with a dot. The limit leaves room for the `.error` and retry suffixes within RabbitMQ's 255 bytes.
pub fn validate_queue_name(name: &str) -> Result<(), QueueError> {
    let invalid = |reason| {
        Err(QueueError::InvalidQueueName {
            name: name.chars().take(64).collect(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 200 {
        return invalid("must be 1 to 200 characters long");
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.');
    if !name.chars().all(allowed) {
        return invalid("only a-z, 0-9, '_', '-' and '.' are allowed");
    }
    if name.starts_with('.') || name.ends_with('.') {
        return invalid("must not start or end with a dot");
    }
    Ok(())
}

/// The queue a dead-letter call refers to: `x.error` and `x` both mean `x`.
pub(crate) fn main_queue_name(queue: &str) -> &str {
    queue.strip_suffix(ERROR_QUEUE_SUFFIX).unwrap_or(queue)
}

pub(crate) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub(crate) fn micros_to_datetime(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

pub(crate) fn duration_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Reasons are stored and sent in headers; a runaway error text must not bloat them.
pub(crate) fn truncate_reason(reason: &str) -> String {
    const MAX_REASON_BYTES: usize = 4096;
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

/// The queues a bus was told to report (see [`MessageBus::track_queues`]); per bus handle.
#[derive(Default)]
pub(crate) struct TrackedQueues(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl TrackedQueues {
    /// Adds `queues` after checking every name, so a bad name adds none.
    pub(crate) fn add(&self, queues: &[String]) -> Result<(), QueueError> {
        for queue in queues {
            validate_queue_name(queue)?;
        }
        let mut tracked = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tracked.extend(queues.iter().cloned());
        Ok(())
    }

    pub(crate) fn names(&self) -> std::collections::BTreeSet<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// `stats` plus an empty entry for every tracked queue it lacks, sorted by queue name.
    pub(crate) fn complete(&self, mut stats: Vec<QueueStats>) -> Vec<QueueStats> {
        let present: std::collections::HashSet<String> = stats.iter().map(|entry| entry.queue.clone()).collect();
        let missing: Vec<QueueStats> = self
            .names()
            .into_iter()
            .filter(|queue| !present.contains(queue))
            .map(|queue| QueueStats {
                queue,
                ..QueueStats::default()
            })
            .collect();
        stats.extend(missing);
        stats.sort_by(|a, b| a.queue.cmp(&b.queue));
        stats
    }
}

/// Repeats `attempt` until it yields messages, `wait` runs out or `wake` fires; used by the polling backends.
/// One wake-up per queue, so a publish wakes only the receivers of its own queue instead of every
/// consumer loop of the process (each of which would then poll the database for nothing).
#[derive(Default)]
pub(crate) struct QueueWakers(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Notify>>>);

impl QueueWakers {
    /// The wake-up of `queue`, created on first use.
    pub(crate) fn of(&self, queue: &str) -> Arc<tokio::sync::Notify> {
        let mut wakers = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(wakers.entry(queue.to_owned()).or_default())
    }

    /// Wakes the receivers waiting on `queue`.
    pub(crate) fn wake(&self, queue: &str) {
        self.of(queue).notify_waiters();
    }

    /// Wakes every waiting receiver (messages of unknown queues became ready).
    pub(crate) fn wake_all(&self) {
        let wakers = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for waker in wakers.values() {
            waker.notify_waiters();
        }
    }
}

pub(crate) async fn poll_receive<F, Fut>(
    wait: Duration,
    interval: Duration,
    wake: &tokio::sync::Notify,
    mut attempt: F,
) -> Result<Vec<Delivery>, QueueError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Delivery>, QueueError>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so a publish between the look and the sleep still wakes us.
        let woken = wake.notified();
        let batch = attempt().await?;
        let now = tokio::time::Instant::now();
        if !batch.is_empty() || now >= deadline {
            return Ok(batch);
        }
        let nap = interval.min(deadline - now);
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}
