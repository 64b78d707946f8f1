//! The `MessageBus` conformance suite and the worker runtime tests, run on every backend.
//!
//! Timing: backoffs and leases are short, waits generous, and no test asserts an upper bound on time.

use crate::bus_test_suite;
use crate::harness::Harness;
use async_trait::async_trait;
use kontor_queue::worker::{BatchError, BatchHandler, Worker, WorkerOptions};
use kontor_queue::{BusOptions, Delivery, MessageBus, QueueStats, RetryPolicy};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(20);

fn options() -> BusOptions {
    BusOptions {
        poll_interval: Duration::from_millis(20),
        ..BusOptions::default()
    }
}

fn options_with_retry(max_attempts: u32, backoff_ms: &[u64]) -> BusOptions {
    BusOptions {
        retry: RetryPolicy {
            max_attempts,
            backoff: backoff_ms.iter().copied().map(Duration::from_millis).collect(),
        },
        ..options()
    }
}

fn payloads(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|i| format!("{prefix}-{i:03}").into_bytes()).collect()
}

fn text(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.payload).into_owned()
}

/// Receives until `count` messages arrived or patience ran out.
async fn receive_n(bus: &Arc<dyn MessageBus>, queue: &str, count: usize) -> Vec<Delivery> {
    let deadline = Instant::now() + PATIENCE;
    let mut received = Vec::new();
    while received.len() < count && Instant::now() < deadline {
        let batch = bus
            .receive(queue, count - received.len(), Duration::from_millis(500))
            .await
            .expect("receive");
        received.extend(batch);
    }
    received
}

async fn stats_of(bus: &Arc<dyn MessageBus>, queue: &str) -> QueueStats {
    bus.stats()
        .await
        .expect("stats")
        .into_iter()
        .find(|stats| stats.queue == queue)
        .unwrap_or_default()
}

/// Polls `check` until it holds or patience runs out; returns whether it held.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn publish_receive_ack_in_fifo_order(h: Arc<Harness>) {
    let bus = h.bus(options()).await;
    let queue = h.queue("publish.product_abstract");
    bus.publish(&queue, payloads("first", 10)).await.expect("publish");
    bus.publish(&queue, payloads("second", 5)).await.expect("publish");

    let received = receive_n(&bus, &queue, 15).await;
    let expected: Vec<String> = payloads("first", 10)
        .into_iter()
        .chain(payloads("second", 5))
        .map(|payload| String::from_utf8(payload).expect("utf-8"))
        .collect();
    assert_eq!(received.iter().map(text).collect::<Vec<_>>(), expected);
    assert!(
        received
            .iter()
            .all(|delivery| delivery.attempt == 1 && delivery.queue == queue)
    );
    bus.ack(&received).await.expect("ack");

    let after_ack = bus
        .receive(&queue, 10, Duration::from_millis(300))
        .await
        .expect("receive");
    assert!(after_ack.is_empty(), "acked messages are gone");
}

async fn unacked_messages_come_back_after_a_crash(h: Arc<Harness>) {
    let queue = h.queue("sync.storage.price_product_abstract");
    let crashed = h
        .bus(BusOptions {
            lease: Duration::from_secs(2),
            ..options()
        })
        .await;
    crashed.publish(&queue, payloads("m", 3)).await.expect("publish");
    let held = receive_n(&crashed, &queue, 3).await;
    assert_eq!(held.len(), 3);

    let survivor = h.bus(options()).await;
    let while_leased = survivor
        .receive(&queue, 3, Duration::from_millis(100))
        .await
        .expect("receive");
    assert!(while_leased.is_empty(), "leased messages are not handed out twice");

    // The worker dies without acking: its process (bus, connection) goes away.
    drop(crashed);
    let redelivered = receive_n(&survivor, &queue, 3).await;
    let mut texts: Vec<String> = redelivered.iter().map(text).collect();
    texts.sort();
    assert_eq!(texts, vec!["m-000", "m-001", "m-002"]);
    survivor.ack(&redelivered).await.expect("ack");
    let leftover = survivor
        .receive(&queue, 3, Duration::from_millis(300))
        .await
        .expect("receive");
    assert!(leftover.is_empty());
}

async fn competing_consumers_never_get_the_same_message(h: Arc<Harness>) {
    const TOTAL: usize = 120;
    let queue = h.queue("publish.competing");
    let producer = h.bus(options()).await;
    producer.publish(&queue, payloads("c", TOTAL)).await.expect("publish");

    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut consumers = Vec::new();
    for _ in 0..2 {
        let bus = h.bus(options()).await;
        let queue = queue.clone();
        let seen = Arc::clone(&seen);
        consumers.push(tokio::spawn(async move {
            let deadline = Instant::now() + PATIENCE;
            while Instant::now() < deadline && seen.lock().expect("seen").len() < TOTAL {
                let batch = bus
                    .receive(&queue, 7, Duration::from_millis(200))
                    .await
                    .expect("receive");
                seen.lock().expect("seen").extend(batch.iter().map(text));
                bus.ack(&batch).await.expect("ack");
            }
        }));
    }
    for consumer in consumers {
        consumer.await.expect("consumer task");
    }
    let seen = seen.lock().expect("seen").clone();
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no message was delivered twice");
    assert_eq!(seen.len(), TOTAL, "every message was delivered");
}

async fn nack_retries_with_backoff_then_dead_letters(h: Arc<Harness>) {
    let bus = h.bus(options_with_retry(3, &[60, 120])).await;
    let queue = h.queue("publish.retry");
    bus.publish(&queue, vec![b"poison".to_vec(), b"good-1".to_vec()])
        .await
        .expect("publish");

    let mut poison_attempts = Vec::new();
    let mut poison_times = Vec::new();
    let mut good = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while poison_attempts.len() < 3 && Instant::now() < deadline {
        let batch = bus
            .receive(&queue, 10, Duration::from_millis(200))
            .await
            .expect("receive");
        for delivery in batch {
            if delivery.payload == b"poison" {
                poison_attempts.push(delivery.attempt);
                poison_times.push(Instant::now());
                let reason = format!("boom on attempt {}", delivery.attempt);
                bus.nack(&delivery, &reason).await.expect("nack");
                if delivery.attempt == 1 {
                    // Other messages keep flowing while the poison message waits for its retries.
                    bus.publish(&queue, vec![b"good-2".to_vec()]).await.expect("publish");
                }
            } else {
                good.push(text(&delivery));
                bus.ack(std::slice::from_ref(&delivery)).await.expect("ack");
            }
        }
    }
    assert_eq!(poison_attempts, vec![1, 2, 3]);
    // Backoff: a retry never comes before its delay (lower bounds only; allow for clock granularity).
    assert!(poison_times[1] - poison_times[0] >= Duration::from_millis(50));
    assert!(poison_times[2] - poison_times[1] >= Duration::from_millis(100));
    let good_after = receive_n(&bus, &queue, 2 - good.len().min(2)).await;
    good.extend(good_after.iter().map(text));
    bus.ack(&good_after).await.expect("ack");
    good.sort();
    assert_eq!(good, vec!["good-1", "good-2"]);

    let deadline = Instant::now() + PATIENCE;
    let mut dead = bus.dead_letters(&queue, 10).await.expect("dead letters");
    while dead.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        dead = bus.dead_letters(&queue, 10).await.expect("dead letters");
    }
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter.payload, b"poison");
    assert_eq!(letter.attempts, 3);
    assert_eq!(letter.reason, "boom on attempt 3");
    assert_eq!(letter.queue, queue);
    assert!(letter.first_failed_at < letter.last_failed_at);
    let leftover = bus
        .receive(&queue, 10, Duration::from_millis(400))
        .await
        .expect("receive");
    assert!(leftover.is_empty(), "a dead letter is not delivered again");
}

async fn dead_letters_can_be_requeued(h: Arc<Harness>) {
    let bus = h.bus(options_with_retry(1, &[10])).await;
    let queue = h.queue("publish.requeue");
    bus.publish(&queue, vec![b"a".to_vec(), b"b".to_vec()])
        .await
        .expect("publish");
    for delivery in receive_n(&bus, &queue, 2).await {
        bus.nack(&delivery, "failed").await.expect("nack");
    }
    let dead = bus.dead_letters(&queue, 10).await.expect("dead letters");
    assert_eq!(
        dead.iter().map(|d| d.payload.clone()).collect::<Vec<_>>(),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    assert!(dead.iter().all(|d| d.reason == "failed" && d.attempts == 1));

    let first = [dead[0].id];
    assert_eq!(
        bus.requeue_dead_letters(&queue, Some(&first)).await.expect("requeue"),
        1
    );
    let again = receive_n(&bus, &queue, 1).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, b"a");
    assert_eq!(again[0].attempt, 1, "a re-queued message starts over");
    bus.ack(&again).await.expect("ack");
    let remaining = bus
        .dead_letters(&format!("{queue}.error"), 10)
        .await
        .expect("dead letters");
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].payload, b"b");

    let error_queue = format!("{queue}.error");
    assert_eq!(bus.requeue_dead_letters(&error_queue, None).await.expect("requeue"), 1);
    let rest = receive_n(&bus, &queue, 1).await;
    assert_eq!(rest.iter().map(text).collect::<Vec<_>>(), vec!["b"]);
    bus.ack(&rest).await.expect("ack");
    assert!(bus.dead_letters(&queue, 10).await.expect("dead letters").is_empty());
}

async fn stats_count_ready_in_flight_and_dead_letters(h: Arc<Harness>) {
    let bus = h.bus(options_with_retry(1, &[10])).await;
    let busy = h.queue("publish.busy");
    let failing = h.queue("publish.failing");
    bus.publish(&busy, payloads("x", 3)).await.expect("publish");
    bus.publish(&failing, vec![b"bad".to_vec()]).await.expect("publish");
    let held = receive_n(&bus, &busy, 1).await;
    assert_eq!(held.len(), 1);
    for delivery in receive_n(&bus, &failing, 1).await {
        bus.nack(&delivery, "bad input").await.expect("nack");
    }

    let expected_busy = (2, 1, 0);
    let expected_failing = (0, 0, 1);
    let shape = |s: &QueueStats| (s.ready, s.in_flight, s.dead_letters);
    let deadline = Instant::now() + PATIENCE;
    let (mut last, mut matched) = ((QueueStats::default(), QueueStats::default()), false);
    while !matched && Instant::now() < deadline {
        last = (stats_of(&bus, &busy).await, stats_of(&bus, &failing).await);
        matched = shape(&last.0) == expected_busy && shape(&last.1) == expected_failing;
        if !matched {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(matched, "stats reached the expected counts, last seen {last:?}");
    if h.backend != crate::harness::Backend::RabbitMq {
        assert!(
            last.0.oldest_ready_age.is_some(),
            "the age of the oldest ready message is known"
        );
    }
    bus.ack(&held).await.expect("ack");
    assert!(eventually(|| async { stats_of(&bus, &busy).await.in_flight == 0 }).await);
}

/// `kontor queue stats` runs as its own process: it has declared nothing, yet must see the depth of every
/// application queue, and must not create the ones that do not exist.
async fn stats_of_a_fresh_process_cover_tracked_queues(h: Arc<Harness>) {
    let producer = h.bus(options_with_retry(1, &[10])).await;
    let full = h.queue("publish.full");
    let failing = h.queue("publish.failing");
    let missing = h.queue("publish.never_used");
    producer.publish(&full, payloads("x", 3)).await.expect("publish");
    producer
        .publish(&failing, vec![b"bad".to_vec()])
        .await
        .expect("publish");
    for delivery in receive_n(&producer, &failing, 1).await {
        producer.nack(&delivery, "bad input").await.expect("nack");
    }

    let observer = h.bus(options_with_retry(1, &[10])).await;
    let invalid = observer.track_queues(&[full.clone(), "Not A Queue".to_owned()]);
    assert!(invalid.is_err(), "an invalid queue name is refused");
    observer
        .track_queues(&[full.clone(), failing.clone(), missing.clone()])
        .expect("track");
    let shape = |s: &QueueStats| (s.ready, s.delayed, s.dead_letters);
    let deadline = Instant::now() + PATIENCE;
    let (mut last, mut seen) = (Vec::new(), false);
    while !seen && Instant::now() < deadline {
        last = observer.stats().await.expect("stats");
        let find = |queue: &str| last.iter().find(|entry| entry.queue == queue).map(shape);
        seen = find(&full) == Some((3, 0, 0)) && find(&failing) == Some((0, 0, 1)) && find(&missing) == Some((0, 0, 0));
        if !seen {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(seen, "a fresh bus sees the tracked queues' depths, last seen {last:?}");

    let untracked = h.bus(options()).await;
    let listed = untracked.stats().await.expect("stats");
    assert!(
        listed.iter().all(|entry| entry.queue != missing),
        "stats created no queue: {listed:?}"
    );
    if h.backend == crate::harness::Backend::RabbitMq {
        assert!(
            h.rabbitmq_queue_exists(&full).await,
            "the probe sees a queue that exists"
        );
        assert!(
            !h.rabbitmq_queue_exists(&missing).await,
            "a passive declare does not create the queue"
        );
    }
}

/// Records every payload of every batch it succeeds on; fails batches holding `poison`.
#[derive(Default)]
struct Recorder {
    handled: Mutex<Vec<String>>,
}

#[async_trait]
impl BatchHandler for Recorder {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        if batch.iter().any(|delivery| delivery.payload == b"poison") {
            return Err(BatchError::new("poison pill in the batch"));
        }
        self.handled.lock().expect("handled").extend(batch.iter().map(text));
        Ok(())
    }
}

fn fast_worker() -> WorkerOptions {
    WorkerOptions {
        concurrency: 2,
        linger: Duration::from_millis(20),
        idle_wait: Duration::from_millis(200),
        shutdown_timeout: Duration::from_secs(5),
        error_pause: Duration::from_millis(100),
        precedence_grace: Duration::from_millis(200),
    }
}

async fn worker_processes_a_queue(h: Arc<Harness>) {
    let bus = h.bus(options()).await;
    let queue = h.queue("publish.worker");
    bus.publish(&queue, payloads("w", 50)).await.expect("publish");
    let recorder = Arc::new(Recorder::default());
    let mut worker = Worker::new(Arc::clone(&bus)).with_options(fast_worker());
    worker.register(queue.clone(), 10, recorder.clone());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    let done = eventually(|| async { recorder.handled.lock().expect("handled").len() >= 50 }).await;
    shutdown.cancel();
    let report = running.await.expect("worker task");
    assert!(done, "the worker handled every message");
    let mut handled = recorder.handled.lock().expect("handled").clone();
    handled.sort();
    handled.dedup();
    assert_eq!(handled.len(), 50);
    assert!(report.acked >= 50);
    assert!(
        bus.receive(&queue, 10, Duration::from_millis(300))
            .await
            .expect("receive")
            .is_empty()
    );
}

async fn worker_isolates_a_poison_message_by_bisection(h: Arc<Harness>) {
    let bus = h.bus(options_with_retry(2, &[50])).await;
    let queue = h.queue("publish.bisect");
    let mut messages = payloads("g", 15);
    messages.insert(7, b"poison".to_vec());
    bus.publish(&queue, messages).await.expect("publish");
    let recorder = Arc::new(Recorder::default());
    let mut worker = Worker::new(Arc::clone(&bus)).with_options(WorkerOptions {
        concurrency: 1,
        linger: Duration::from_millis(200),
        ..fast_worker()
    });
    worker.register(queue.clone(), 16, recorder.clone());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    let dead_lettered = eventually(|| {
        let bus = Arc::clone(&bus);
        let queue = queue.clone();
        async move { !bus.dead_letters(&queue, 10).await.expect("dead letters").is_empty() }
    })
    .await;
    let all_good = eventually(|| async {
        let handled = recorder.handled.lock().expect("handled").clone();
        handled.into_iter().collect::<HashSet<_>>().len() == 15
    })
    .await;
    shutdown.cancel();
    let report = running.await.expect("worker task");
    assert!(dead_lettered, "the poison message was dead-lettered");
    assert!(all_good, "every good message was handled despite the poison one");
    let dead = bus.dead_letters(&queue, 10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload, b"poison");
    assert_eq!(dead[0].attempts, 2);
    assert!(
        dead[0].reason.contains("poison pill"),
        "reason kept: {}",
        dead[0].reason
    );
    assert!(report.nacked >= 2);
}

/// Signals that it started, then never finishes on its own.
#[derive(Default)]
struct Stuck {
    started: AtomicBool,
}

#[async_trait]
impl BatchHandler for Stuck {
    async fn handle(&self, _batch: &[Delivery]) -> Result<(), BatchError> {
        self.started.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
}

async fn worker_shutdown_returns_the_unfinished_batch(h: Arc<Harness>) {
    let bus = h.bus(options()).await;
    let queue = h.queue("publish.shutdown");
    bus.publish(&queue, payloads("s", 3)).await.expect("publish");
    let handler = Arc::new(Stuck::default());
    let mut worker = Worker::new(Arc::clone(&bus)).with_options(WorkerOptions {
        concurrency: 1,
        linger: Duration::from_millis(200),
        shutdown_timeout: Duration::from_millis(300),
        ..fast_worker()
    });
    worker.register(queue.clone(), 10, handler.clone());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    assert!(eventually(|| async { handler.started.load(Ordering::SeqCst) }).await);
    shutdown.cancel();
    let report = tokio::time::timeout(PATIENCE, running)
        .await
        .expect("the worker stops after its shutdown timeout")
        .expect("worker task");
    assert_eq!(report.released, 3);
    assert_eq!(report.acked, 0);

    let returned = receive_n(&bus, &queue, 3).await;
    let mut texts: Vec<String> = returned.iter().map(text).collect();
    texts.sort();
    assert_eq!(texts, vec!["s-000", "s-001", "s-002"]);
    assert!(
        returned.iter().all(|delivery| delivery.attempt == 1),
        "a released batch counts no attempt"
    );
    bus.ack(&returned).await.expect("ack");
}

/// Batches running at once on a precedence queue and on the others.
#[derive(Default)]
struct Contention {
    precedence_running: AtomicUsize,
    precedence_handled: AtomicUsize,
    others_running: AtomicUsize,
    others_handled: AtomicUsize,
    /// Most batches of the other queues seen at once while a precedence batch ran.
    most_others_beside_precedence: AtomicUsize,
    /// Most batches of the other queues seen at once after every precedence message was handled.
    most_others_afterwards: AtomicUsize,
    /// Batches of the other queues that began while a precedence batch ran.
    others_beside_precedence: AtomicUsize,
}

struct PrecedenceWork(Arc<Contention>);

#[async_trait]
impl BatchHandler for PrecedenceWork {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        self.0.precedence_running.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.0.precedence_handled.fetch_add(batch.len(), Ordering::SeqCst);
        self.0.precedence_running.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

struct OtherWork {
    contention: Arc<Contention>,
    precedence_total: usize,
}

#[async_trait]
impl BatchHandler for OtherWork {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        let stats = &self.contention;
        let running = stats.others_running.fetch_add(1, Ordering::SeqCst) + 1;
        if stats.precedence_running.load(Ordering::SeqCst) > 0 {
            stats.others_beside_precedence.fetch_add(1, Ordering::SeqCst);
            stats.most_others_beside_precedence.fetch_max(running, Ordering::SeqCst);
        } else if stats.precedence_handled.load(Ordering::SeqCst) >= self.precedence_total {
            stats.most_others_afterwards.fetch_max(running, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        stats.others_handled.fetch_add(batch.len(), Ordering::SeqCst);
        stats.others_running.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// While a precedence queue works through its backlog, the other queues' loops (two queues, two loops
/// each) run one batch at a time among them all, yet keep moving; once it is done they run side by side.
async fn worker_lets_precedence_queues_go_first(h: Arc<Harness>) {
    let bus = h.bus(options()).await;
    let first = h.queue("publish.first");
    let others = [h.queue("publish.other-a"), h.queue("publish.other-b")];
    let precedence_total = 20;
    bus.publish(&first, payloads("p", precedence_total))
        .await
        .expect("publish");
    let contention = Arc::new(Contention::default());
    // A grace far above the gap between two precedence batches even on a loaded machine: the gate never
    // opens while the precedence queue still has messages.
    let mut worker = Worker::new(Arc::clone(&bus)).with_options(WorkerOptions {
        precedence_grace: Duration::from_secs(1),
        ..fast_worker()
    });
    worker.register(first.clone(), 1, Arc::new(PrecedenceWork(Arc::clone(&contention))));
    for queue in &others {
        let handler = OtherWork {
            contention: Arc::clone(&contention),
            precedence_total,
        };
        worker.register(queue.clone(), 1, Arc::new(handler));
    }
    assert!(worker.give_precedence(&first));
    assert!(!worker.give_precedence("publish.not-registered"));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    // The other queues' messages arrive once the precedence queue is at work.
    assert!(eventually(|| async { contention.precedence_running.load(Ordering::SeqCst) > 0 }).await);
    for queue in &others {
        bus.publish(queue, payloads("o", 60)).await.expect("publish");
    }
    let done = eventually(|| async { contention.others_handled.load(Ordering::SeqCst) >= 120 }).await;
    shutdown.cancel();
    running.await.expect("worker task");
    assert!(done, "every message of the other queues was handled");
    assert_eq!(contention.precedence_handled.load(Ordering::SeqCst), precedence_total);
    assert!(
        contention.others_beside_precedence.load(Ordering::SeqCst) > 0,
        "the other queues kept moving beside the precedence queue"
    );
    assert_eq!(
        contention.most_others_beside_precedence.load(Ordering::SeqCst),
        1,
        "one batch of the other queues at a time while the precedence queue works"
    );
    assert!(
        contention.most_others_afterwards.load(Ordering::SeqCst) >= 2,
        "the other queues run side by side again afterwards"
    );
}

/// Two subscribers of one topic (two storefront nodes' search replicas) each get every message, with
/// their own acks and retries; a queue subscribed later gets only what came after; an unsubscribed
/// queue gets nothing more; a topic without subscribers drops its messages.
async fn topic_fan_out_gives_every_subscriber_its_own_copy(h: Arc<Harness>) {
    let bus = h.bus(options_with_retry(3, &[50])).await;
    let topic = h.queue("sync.search.product_page");
    let node_a = h.queue("sync.search.product_page.node-a");
    let node_b = h.queue("sync.search.product_page.node-b");
    let late = h.queue("sync.search.product_page.node-c");

    bus.publish_to_topic(&topic, payloads("before", 2))
        .await
        .expect("publishing without subscribers is fine");
    bus.subscribe(&topic, &node_a).await.expect("subscribe a");
    bus.subscribe(&topic, &node_b).await.expect("subscribe b");
    bus.subscribe(&topic, &node_a)
        .await
        .expect("subscribing twice is a no-op");
    bus.publish_to_topic(&topic, payloads("first", 3))
        .await
        .expect("publish");

    let at_a = receive_n(&bus, &node_a, 3).await;
    let at_b = receive_n(&bus, &node_b, 3).await;
    let expected: Vec<String> = payloads("first", 3)
        .into_iter()
        .map(|payload| String::from_utf8(payload).expect("utf-8"))
        .collect();
    assert_eq!(
        at_a.iter().map(text).collect::<Vec<_>>(),
        expected,
        "node a got each message once"
    );
    assert_eq!(
        at_b.iter().map(text).collect::<Vec<_>>(),
        expected,
        "node b got its own copy"
    );
    bus.ack(&at_a).await.expect("ack a");
    // Node b fails one message: only b's copy is retried.
    bus.nack(&at_b[0], "index busy").await.expect("nack b");
    bus.ack(&at_b[1..]).await.expect("ack b");
    let retried = receive_n(&bus, &node_b, 1).await;
    assert_eq!(
        retried.iter().map(text).collect::<Vec<_>>(),
        vec!["first-000".to_owned()]
    );
    assert_eq!(retried[0].attempt, 2);
    bus.ack(&retried).await.expect("ack retried");
    let nothing_more = bus
        .receive(&node_a, 10, Duration::from_millis(300))
        .await
        .expect("receive");
    assert!(nothing_more.is_empty(), "node a's copy is not touched by b's retry");

    bus.subscribe(&topic, &late).await.expect("subscribe c");
    bus.unsubscribe(&topic, &node_b).await.expect("unsubscribe b");
    bus.publish_to_topic(&topic, payloads("second", 1))
        .await
        .expect("publish");
    assert_eq!(
        receive_n(&bus, &late, 1).await.iter().map(text).collect::<Vec<_>>(),
        vec!["second-000".to_owned()]
    );
    assert_eq!(
        receive_n(&bus, &node_a, 1).await.iter().map(text).collect::<Vec<_>>(),
        vec!["second-000".to_owned()]
    );
    let after_leaving = bus
        .receive(&node_b, 10, Duration::from_millis(300))
        .await
        .expect("receive");
    assert!(after_leaving.is_empty(), "an unsubscribed queue gets nothing more");
    let direct = bus
        .receive(&topic, 10, Duration::from_millis(100))
        .await
        .expect("receive");
    assert!(direct.is_empty(), "nothing lands in a queue named like the topic");
}

bus_test_suite!(
    topic_fan_out_gives_every_subscriber_its_own_copy,
    publish_receive_ack_in_fifo_order,
    unacked_messages_come_back_after_a_crash,
    competing_consumers_never_get_the_same_message,
    nack_retries_with_backoff_then_dead_letters,
    dead_letters_can_be_requeued,
    stats_count_ready_in_flight_and_dead_letters,
    stats_of_a_fresh_process_cover_tracked_queues,
    worker_processes_a_queue,
    worker_isolates_a_poison_message_by_bisection,
    worker_shutdown_returns_the_unfinished_batch,
    worker_lets_precedence_queues_go_first,
);
