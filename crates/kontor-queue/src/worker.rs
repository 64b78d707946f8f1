//! The worker runtime: long-running consumer loops that feed batches to handlers (publish-sync spec §8).
//!
//! Each registered queue runs `concurrency` loops. A loop receives up to the batch size, lingers briefly to
//! fill a partial batch, and calls the handler. A successful batch is acked. A failed batch is bisected:
//! each half is retried on its own until single failing messages remain, which are nacked with the error
//! text (and so retried with backoff, then dead-lettered) while the rest of the batch is acked — one poison
//! message never holds back the others. Handlers must be idempotent: bisection and redelivery run a
//! message through the handler more than once.
//!
//! Queues given precedence ([`Worker::give_precedence`]) come first while they have work: from the moment
//! one of their batches starts until `precedence_grace` after the last one ended, the other queues' loops
//! take turns, one batch at a time among them all, instead of each running freely; a batch received
//! meanwhile waits, leased, for its turn. After a bulk import the storefront's search documents are thus
//! built and applied ahead of the many other documents that share the same cores; in steady operation
//! the gate is open nearly always. Taking turns rather than pausing bounds how long any queue waits.
//!
//! Shutdown (a cancelled `CancellationToken`): loops stop receiving, and a batch in progress gets
//! `shutdown_timeout` to finish; past that its handler is aborted and the unsettled messages are released
//! back to the queue unchanged (no attempt counted), for another worker to take.

use crate::{Delivery, MessageBus};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// How long after a precedence queue's last batch the other queues still take turns: covers the gap
    /// between two batches of a queue that is working through a backlog.
    pub precedence_grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 1,
            linger: Duration::from_millis(50),
            idle_wait: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(30),
            error_pause: Duration::from_secs(1),
            precedence_grace: Duration::from_secs(1),
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
    precedence: bool,
}

/// Whether precedence queues are at work, and the turn the other queues take meanwhile.
struct PrecedenceGate {
    /// Precedence batches in progress.
    busy: AtomicUsize,
    /// When the last precedence batch ended, in milliseconds since `epoch`.
    last_ended_ms: AtomicU64,
    epoch: std::time::Instant,
    grace: Duration,
    /// One permit: the turn among the other queues while the gate is engaged.
    turn: tokio::sync::Semaphore,
}

impl PrecedenceGate {
    fn new(grace: Duration) -> Self {
        Self {
            busy: AtomicUsize::new(0),
            last_ended_ms: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            grace,
            turn: tokio::sync::Semaphore::new(1),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// True while a precedence batch runs or ended less than `grace` ago.
    fn engaged(&self) -> bool {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let last = self.last_ended_ms.load(Ordering::SeqCst);
        last > 0 && self.now_ms().saturating_sub(last) < u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX)
    }

    /// Marks a precedence batch as running until the guard drops.
    fn enter(self: &Arc<Self>) -> PrecedenceBatch {
        self.busy.fetch_add(1, Ordering::SeqCst);
        PrecedenceBatch(Arc::clone(self))
    }
}

struct PrecedenceBatch(Arc<PrecedenceGate>);

impl Drop for PrecedenceBatch {
    fn drop(&mut self) {
        // Never 0, which means "never ran".
        self.0.last_ended_ms.store(self.0.now_ms().max(1), Ordering::SeqCst);
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
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
            precedence: false,
        });
        self
    }

    /// Gives a registered queue precedence over the queues without (see the module documentation).
    /// Returns false when no queue of that name is registered.
    pub fn give_precedence(&mut self, queue: &str) -> bool {
        let mut found = false;
        for registration in self
            .registrations
            .iter_mut()
            .filter(|registration| registration.queue == queue)
        {
            registration.precedence = true;
            found = true;
        }
        found
    }

    /// Runs every loop until `shutdown` is cancelled and each has finished or released its batch.
    pub async fn run(self, shutdown: CancellationToken) -> WorkerReport {
        let counters = Arc::new(Counters::default());
        let gate = Arc::new(PrecedenceGate::new(self.options.precedence_grace));
        let any_precedence = self.registrations.iter().any(|registration| registration.precedence);
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
                    gate: any_precedence.then(|| Arc::clone(&gate)),
                    precedence: registration.precedence,
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
    /// Present when some queue of the worker has precedence.
    gate: Option<Arc<PrecedenceGate>>,
    /// This queue has it.
    precedence: bool,
}

/// Shutdown was requested while a loop waited for its turn.
struct ShutdownRequested;

impl QueueLoop {
    async fn run(self) {
        // A receive is never cancelled halfway (its messages would stay leased until the lease or
        // connection ends); shutdown is checked between receives, which wait at most `idle_wait`.
        while !self.shutdown.is_cancelled() {
            match self.receive_batch().await {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => match self.turn().await {
                    Ok(turn) => {
                        self.process(batch).await;
                        drop(turn);
                    }
                    Err(ShutdownRequested) => self.release(&batch).await,
                },
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

    /// While precedence queues are at work, a queue without precedence waits for its turn among the
    /// others before processing what it received (well within the lease). Returns the turn to hold while
    /// processing, or `None` when no precedence queue is at work.
    async fn turn(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, ShutdownRequested> {
        let Some(gate) = self.gate.as_ref().filter(|gate| !self.precedence && gate.engaged()) else {
            return Ok(None);
        };
        tokio::select! {
            () = self.shutdown.cancelled() => Err(ShutdownRequested),
            permit = gate.turn.acquire() => permit.map(Some).map_err(|_closed| ShutdownRequested),
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
        let _precedence = self
            .gate
            .as_ref()
            .filter(|_| self.precedence)
            .map(PrecedenceGate::enter);
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
        self.release(&unsettled).await;
    }

    /// Hands messages back unprocessed at shutdown, counting no attempt.
    async fn release(&self, deliveries: &[Delivery]) {
        tracing::info!(queue = %self.queue, count = deliveries.len(), "shutdown: returning unfinished batch");
        match self.bus.release(deliveries).await {
            Ok(()) => {
                self.counters
                    .released
                    .fetch_add(deliveries.len() as u64, Ordering::Relaxed);
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
