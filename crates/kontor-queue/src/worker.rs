//! The worker runtime: long-running consumer loops that feed batches to handlers (publish-sync spec §8).
//!
//! Each registered queue runs `concurrency` loops. A loop receives up to the batch size, lingers briefly to
//! fill a partial batch, and calls the handler. A successful batch is acked. A failed batch is bisected:
//! each half is retried on its own until single failing messages remain, which are nacked with the error
//! text (and so retried with backoff, then dead-lettered) while the rest of the batch is acked — one poison
//! message never holds back the others. Handlers must be idempotent: bisection and redelivery run a
//! message through the handler more than once.
//!
//! Shutdown (a cancelled `CancellationToken`): loops stop receiving, and a batch in progress gets
//! `shutdown_timeout` to finish; past that its handler is aborted and the unsettled messages are released
//! back to the queue unchanged (no attempt counted), for another worker to take.

use crate::{Delivery, MessageBus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Why a batch failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BatchError {
    message: String,
    /// False for failures that are not about the messages (a backend down): the whole batch is retried
    /// later as is, without bisecting.
    bisect: bool,
}

impl BatchError {
    /// A failure that may be caused by some message of the batch: the batch is bisected.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            bisect: true,
        }
    }

    /// A failure unrelated to the messages (a dependency is down): every message is nacked as is.
    pub fn transient(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            bisect: false,
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Processes one batch of one queue. Runs on the async runtime: CPU-heavy work belongs in
/// `tokio::task::spawn_blocking`.
#[async_trait::async_trait]
pub trait BatchHandler: Send + Sync {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError>;
}

/// Knobs of the runtime; the defaults are the spec's.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Loops per registered queue.
    pub concurrency: usize,
    /// How long a partial batch waits for more messages.
    pub linger: Duration,
    /// How long one receive waits when the queue is empty; bounds how late shutdown is noticed.
    pub idle_wait: Duration,
    /// How long a batch in progress may run on after shutdown was requested.
    pub shutdown_timeout: Duration,
    /// Pause after a failed receive (backend down) before trying again.
    pub error_pause: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 1,
            linger: Duration::from_millis(50),
            idle_wait: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(30),
            error_pause: Duration::from_secs(1),
        }
    }
}

/// What a worker did, returned by [`Worker::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Messages acked after their handler succeeded.
    pub acked: u64,
    /// Messages nacked (retried later or dead-lettered).
    pub nacked: u64,
    /// Messages handed back unprocessed at shutdown.
    pub released: u64,
}

#[derive(Default)]
struct Counters {
    acked: AtomicU64,
    nacked: AtomicU64,
    released: AtomicU64,
}

struct Registration {
    queue: String,
    batch_size: usize,
    concurrency: usize,
    handler: Arc<dyn BatchHandler>,
}

/// Consumes registered queues until shut down.
pub struct Worker {
    bus: Arc<dyn MessageBus>,
    options: WorkerOptions,
    registrations: Vec<Registration>,
}

impl Worker {
    pub fn new(bus: Arc<dyn MessageBus>) -> Self {
        Self {
            bus,
            options: WorkerOptions::default(),
            registrations: Vec::new(),
        }
    }

    pub fn with_options(mut self, options: WorkerOptions) -> Self {
        self.options = options;
        self
    }

    /// Consumes `queue` in batches of up to `batch_size` with `options.concurrency` loops.
    pub fn register(
        &mut self,
        queue: impl Into<String>,
        batch_size: usize,
        handler: Arc<dyn BatchHandler>,
    ) -> &mut Self {
        let concurrency = self.options.concurrency;
        self.register_with_concurrency(queue, batch_size, concurrency, handler)
    }

    /// Like [`Worker::register`] with its own number of loops.
    pub fn register_with_concurrency(
        &mut self,
        queue: impl Into<String>,
        batch_size: usize,
        concurrency: usize,
        handler: Arc<dyn BatchHandler>,
    ) -> &mut Self {
        self.registrations.push(Registration {
            queue: queue.into(),
            batch_size: batch_size.max(1),
            concurrency: concurrency.max(1),
            handler,
        });
        self
    }

    /// Runs every loop until `shutdown` is cancelled and each has finished or released its batch.
    pub async fn run(self, shutdown: CancellationToken) -> WorkerReport {
        let counters = Arc::new(Counters::default());
        let mut loops = JoinSet::new();
        for registration in &self.registrations {
            for _ in 0..registration.concurrency {
                let consumer = QueueLoop {
                    bus: Arc::clone(&self.bus),
                    queue: registration.queue.clone(),
                    batch_size: registration.batch_size,
                    handler: Arc::clone(&registration.handler),
                    options: self.options.clone(),
                    counters: Arc::clone(&counters),
                    shutdown: shutdown.clone(),
                };
                loops.spawn(consumer.run());
            }
        }
        tracing::info!(queues = self.registrations.len(), "worker started");
        while let Some(joined) = loops.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a queue loop ended abnormally");
            }
        }
        let report = WorkerReport {
            acked: counters.acked.load(Ordering::Relaxed),
            nacked: counters.nacked.load(Ordering::Relaxed),
            released: counters.released.load(Ordering::Relaxed),
        };
        tracing::info!(?report, "worker stopped");
        report
    }
}

/// One consumer loop of one queue.
struct QueueLoop {
    bus: Arc<dyn MessageBus>,
    queue: String,
    batch_size: usize,
    handler: Arc<dyn BatchHandler>,
    options: WorkerOptions,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
}

impl QueueLoop {
    async fn run(self) {
        // A receive is never cancelled halfway (its messages would stay leased until the lease or
        // connection ends); shutdown is checked between receives, which wait at most `idle_wait`.
        while !self.shutdown.is_cancelled() {
            match self.receive_batch().await {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => self.process(batch).await,
                Err(error) => {
                    tracing::warn!(queue = %self.queue, %error, "receive failed; pausing");
                    tokio::select! {
                        () = self.shutdown.cancelled() => {}
                        () = tokio::time::sleep(self.options.error_pause) => {}
                    }
                }
            }
        }
    }

    /// Up to one batch: waits for a first message, then lingers to fill the batch.
    async fn receive_batch(&self) -> Result<Vec<Delivery>, crate::QueueError> {
        let mut batch = self
            .bus
            .receive(&self.queue, self.batch_size, self.options.idle_wait)
            .await?;
        if batch.is_empty() {
            return Ok(batch);
        }
        let deadline = tokio::time::Instant::now() + self.options.linger;
        while batch.len() < self.batch_size {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            let more = match self
                .bus
                .receive(&self.queue, self.batch_size - batch.len(), deadline - now)
                .await
            {
                Ok(more) => more,
                Err(error) => {
                    // Keep what we hold; it is processed and the error shows again on the next receive.
                    tracing::warn!(queue = %self.queue, %error, "receive failed while lingering");
                    break;
                }
            };
            if more.is_empty() {
                break;
            }
            batch.extend(more);
        }
        Ok(batch)
    }

    async fn process(&self, batch: Vec<Delivery>) {
        let started = std::time::Instant::now();
        let size = batch.len();
        self.process_batch(batch).await;
        let seconds = started.elapsed().as_secs_f64();
        metrics::histogram!("kontor_queue_batch_seconds", "queue" => self.queue.clone()).record(seconds);
        tracing::debug!(queue = %self.queue, size, seconds, "batch processed");
    }

    async fn process_batch(&self, batch: Vec<Delivery>) {
        let settled = Arc::new(Mutex::new(vec![false; batch.len()]));
        let batch = Arc::new(batch);
        // The handler runs in its own task so that it can be aborted when shutdown runs out of time.
        let mut task = tokio::spawn(settle(
            Arc::clone(&self.bus),
            Arc::clone(&self.handler),
            Arc::clone(&batch),
            Arc::clone(&settled),
            Arc::clone(&self.counters),
        ));
        let finished = tokio::select! {
            joined = &mut task => Some(joined),
            () = self.shutdown.cancelled() => {
                tokio::time::timeout(self.options.shutdown_timeout, &mut task).await.ok()
            }
        };
        let panicked = match finished {
            Some(Ok(())) => return,
            Some(Err(error)) => {
                tracing::error!(queue = %self.queue, %error, "batch handler panicked");
                true
            }
            None => {
                task.abort();
                // Wait for the abort, so nothing settles a message after we released it.
                let _ = task.await;
                false
            }
        };
        let unsettled: Vec<Delivery> = {
            let settled = settled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            batch
                .iter()
                .zip(settled.iter())
                .filter(|(_, done)| !**done)
                .map(|(delivery, _)| delivery.clone())
                .collect()
        };
        if unsettled.is_empty() {
            return;
        }
        if panicked {
            for delivery in &unsettled {
                self.nack(delivery, "batch handler panicked").await;
            }
            return;
        }
        tracing::info!(queue = %self.queue, count = unsettled.len(), "shutdown: returning unfinished batch");
        match self.bus.release(&unsettled).await {
            Ok(()) => {
                self.counters
                    .released
                    .fetch_add(unsettled.len() as u64, Ordering::Relaxed);
            }
            Err(error) => {
                // The leases run out (or the connection closes) and the messages come back anyway.
                tracing::warn!(queue = %self.queue, %error, "could not release the unfinished batch");
            }
        }
    }

    async fn nack(&self, delivery: &Delivery, reason: &str) {
        match self.bus.nack(delivery, reason).await {
            Ok(()) => {
                self.counters.nacked.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::warn!(queue = %self.queue, id = %delivery.id, %error, "nack failed"),
        }
    }
}

/// Runs the handler on `batch`, bisecting failures down to single messages, and acks or nacks every
/// message, marking each in `settled` as soon as it is.
async fn settle(
    bus: Arc<dyn MessageBus>,
    handler: Arc<dyn BatchHandler>,
    batch: Arc<Vec<Delivery>>,
    settled: Arc<Mutex<Vec<bool>>>,
    counters: Arc<Counters>,
) {
    let mark = |range: std::ops::Range<usize>| {
        let mut settled = settled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for done in &mut settled[range] {
            *done = true;
        }
    };
    // Ranges still to run, processed front to back (a stack holding them in reverse).
    let whole = 0..batch.len();
    let mut pending = vec![whole];
    while let Some(range) = pending.pop() {
        let part = &batch[range.clone()];
        match handler.handle(part).await {
            Ok(()) => match bus.ack(part).await {
                Ok(()) => {
                    mark(range.clone());
                    counters.acked.fetch_add(part.len() as u64, Ordering::Relaxed);
                }
                // Unacked messages are redelivered; the handler is idempotent.
                Err(error) => tracing::warn!(queue = %part[0].queue, %error, "ack failed"),
            },
            Err(error) if part.len() > 1 && error.bisect => {
                let middle = range.start + part.len() / 2;
                tracing::debug!(queue = %part[0].queue, size = part.len(), %error, "batch failed; bisecting");
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
            Err(error) => {
                for (offset, delivery) in part.iter().enumerate() {
                    tracing::warn!(queue = %delivery.queue, id = %delivery.id, attempt = delivery.attempt, %error, "message failed");
                    match bus.nack(delivery, error.message()).await {
                        Ok(()) => {
                            let index = range.start + offset;
                            mark(index..index + 1);
                            counters.nacked.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(nack_error) => {
                            tracing::warn!(queue = %delivery.queue, id = %delivery.id, error = %nack_error, "nack failed");
                        }
                    }
                }
            }
        }
    }
}
