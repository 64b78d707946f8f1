//! `MessageBus` on RabbitMQ (`amqp://…`) with lapin: the scaled-out queue.
//!
//! Topology, declared on first use of a queue `Q` (idempotent, so every process may declare it):
//! - `Q` — durable; messages are published persistent through a confirm-mode channel and `publish` awaits
//!   every confirm, so a returned `publish` means the broker has stored them;
//! - `Q.error` — durable dead-letter queue; messages carry the reason, attempt count and failure times as
//!   `x-kontor-*` headers;
//! - `Q.retry.<ms>ms` — one durable delay queue per backoff step, with `x-message-ttl = ms` and a
//!   dead-letter exchange routing expired messages back to `Q`. A queue per delay (not a per-message TTL)
//!   keeps expiry in order, since RabbitMQ only expires messages at the head of a queue.
//!
//! Leases are the broker's own: a consumer per queue (prefetch = batch size) holds deliveries unacked until
//! `ack`; a closed channel or connection (a crashed worker) makes the broker redeliver them. A nack publishes
//! a copy with `attempt + 1` to the delay queue (or to `Q.error` after the last attempt), waits for the
//! confirm and only then acks the original, so a failure in between duplicates rather than loses it.
//!
//! Fan-out topics (`subscribe` / `publish_to_topic`) are durable `fanout` exchanges named like the topic;
//! each subscriber's queue (with its error and delay queues) is bound to it, so every subscriber gets its own
//! copy and its own retries. An exchange without bindings drops what is published to it.
//!
//! `stats` reads depths with passive declares, which never create a queue: for the queues this process
//! declared and for those named by `track_queues` (the application's queues), so a process that has
//! declared nothing still sees every queue. AMQP has no unacked count, so `in_flight` is this process's own.
//!
//! Connections are re-established with backoff when lost; deliveries from before a reconnect carry an old
//! generation in their receipt and are skipped by ack/nack (the broker has already requeued them). Heartbeats
//! are lapin's own (its I/O task). Plain `amqp://` only: TLS (`amqps://`) is not compiled in.

use crate::{
    BusOptions, DeadLetter, Delivery, ERROR_QUEUE_SUFFIX, MessageBus, MessageId, QueueError, QueueStats, Receipt,
    RetryPolicy, main_queue_name, micros_to_datetime, now_micros, truncate_reason, validate_queue_name,
};
use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const HEADER_ATTEMPT: &str = "x-kontor-attempt";
const HEADER_ENQUEUED_AT: &str = "x-kontor-enqueued-at";
const HEADER_FIRST_FAILED_AT: &str = "x-kontor-first-failed-at";
const HEADER_LAST_FAILED_AT: &str = "x-kontor-last-failed-at";
const HEADER_ERROR: &str = "x-kontor-error";
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;
/// Connection attempts per operation before giving up with `QueueError::Unavailable`.
const CONNECT_ATTEMPTS: u32 = 5;

/// The RabbitMQ backend. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RabbitMqBus {
    inner: Arc<Inner>,
}

struct Inner {
    /// May hold a password: never logged; `redacted` is the printable form.
    url: String,
    redacted: String,
    options: BusOptions,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    generation: AtomicI64,
    /// Main queues this process has declared, for `stats`.
    known: Mutex<BTreeSet<String>>,
    /// Main queues `stats` reports although this process may not have declared them.
    tracked: crate::TrackedQueues,
    /// Fan-out exchanges this process has declared, for tear-down.
    topics: Mutex<BTreeSet<String>>,
    /// Deliveries handed out and not yet settled, per queue (the broker does not report unacked counts
    /// over AMQP).
    in_flight: Mutex<HashMap<String, u64>>,
}

/// One connection and what lives on it; replaced as a whole when the connection is lost.
struct Session {
    generation: i64,
    connection: Connection,
    /// Confirm-mode channel for publishing and declaring.
    publisher: Channel,
    declared: Mutex<HashSet<String>>,
    consumers: tokio::sync::Mutex<HashMap<String, Arc<QueueConsumer>>>,
}

struct QueueConsumer {
    channel: Channel,
    stream: tokio::sync::Mutex<Consumer>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps are updated by single operations, so a poisoned lock is still consistent.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The URL with its password replaced, fit for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one just had.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable url>".to_owned(),
    }
}

/// Every queue the bus declares for `queue` under `retry`: the queue, its error queue and its delay queues.
pub fn topology_queue_names(queue: &str, retry: &RetryPolicy) -> Vec<String> {
    let mut names = vec![queue.to_owned(), format!("{queue}{ERROR_QUEUE_SUFFIX}")];
    let delays: BTreeSet<u128> = retry.backoff.iter().map(Duration::as_millis).collect();
    names.extend(delays.into_iter().map(|ms| retry_queue_name(queue, ms)));
    names
}

fn retry_queue_name(queue: &str, delay_ms: u128) -> String {
    format!("{queue}.retry.{delay_ms}ms")
}

fn header_i64(properties: &BasicProperties, name: &str) -> Option<i64> {
    let value = properties.headers().as_ref()?.inner().get(name)?;
    match value {
        AMQPValue::LongLongInt(number) => Some(*number),
        AMQPValue::LongInt(number) => Some(i64::from(*number)),
        AMQPValue::LongUInt(number) => Some(i64::from(*number)),
        _ => None,
    }
}

fn header_string(properties: &BasicProperties, name: &str) -> Option<String> {
    let value = properties.headers().as_ref()?.inner().get(name)?;
    match value {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

fn message_id(properties: &BasicProperties) -> MessageId {
    let id = properties
        .message_id()
        .as_ref()
        .and_then(|id| id.as_str().parse().ok())
        .unwrap_or(0);
    MessageId(id)
}

/// Properties of a persistent message with our headers.
fn properties(id: MessageId, headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(ShortString::from(id.0.to_string()))
        .with_headers(headers)
}

/// First-attempt messages with fresh ids, as `publish` sends them.
fn fresh_messages(payloads: Vec<Vec<u8>>) -> Vec<(Vec<u8>, BasicProperties)> {
    let now = now_micros();
    payloads
        .into_iter()
        .map(|payload| {
            let id = MessageId(rand::random::<i64>() & i64::MAX);
            let headers = headers(&[
                (HEADER_ATTEMPT, AMQPValue::LongLongInt(1)),
                (HEADER_ENQUEUED_AT, AMQPValue::LongLongInt(now)),
            ]);
            (payload, properties(id, headers))
        })
        .collect()
}

fn headers(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in entries {
        table.insert(ShortString::from(*name), value.clone());
    }
    table
}

impl RabbitMqBus {
    /// Connects to `url` (`amqp://user:pass@host:5672/%2f`), retrying with backoff.
    pub async fn connect(url: &str, options: BusOptions) -> Result<Self, QueueError> {
        let bus = Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                redacted: redact_url(url),
                options,
                session: tokio::sync::Mutex::new(None),
                generation: AtomicI64::new(0),
                known: Mutex::new(BTreeSet::new()),
                tracked: crate::TrackedQueues::default(),
                topics: Mutex::new(BTreeSet::new()),
                in_flight: Mutex::new(HashMap::new()),
            }),
        };
        bus.session().await?;
        Ok(bus)
    }

    /// Deletes every queue (with its error and delay queues) and fan-out exchange this process declared; for tests and
    /// tear-down scripts. Returns how many were deleted.
    pub async fn delete_declared_queues(&self) -> Result<usize, QueueError> {
        let queues: Vec<String> = lock(&self.inner.known).iter().cloned().collect();
        let mut deleted = 0;
        for queue in queues {
            deleted += self.delete_topology(&queue).await?;
        }
        lock(&self.inner.known).clear();
        let topics: Vec<String> = std::mem::take(&mut *lock(&self.inner.topics)).into_iter().collect();
        if !topics.is_empty() {
            let session = self.session().await?;
            for topic in &topics {
                session
                    .publisher
                    .exchange_delete(ShortString::from(topic.as_str()), ExchangeDeleteOptions::default())
                    .await
                    .map_err(QueueError::broker("exchange.delete"))?;
                lock(&session.declared).remove(&format!("exchange:{topic}"));
            }
        }
        Ok(deleted)
    }

    /// Deletes `queue`, its error queue and its delay queues under this bus's retry policy.
    pub async fn delete_topology(&self, queue: &str) -> Result<usize, QueueError> {
        let names = topology_queue_names(queue, &self.inner.options.retry);
        self.delete_queues(&names).await
    }

    /// Deletes the named queues with whatever they hold (missing ones are fine); returns how many.
    pub async fn delete_queues(&self, names: &[String]) -> Result<usize, QueueError> {
        let session = self.session().await?;
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(QueueError::broker("channel.open"))?;
        for name in names {
            channel
                .queue_delete(ShortString::from(name.as_str()), QueueDeleteOptions::default())
                .await
                .map_err(QueueError::broker("queue.delete"))?;
        }
        // Re-declare on next use: the cache would otherwise claim the deleted queues still exist.
        lock(&session.declared).clear();
        let _ = channel.close(200, ShortString::from("done")).await;
        Ok(names.len())
    }

    /// The live session, reconnecting with exponential backoff when there is none or it broke.
    async fn session(&self) -> Result<Arc<Session>, QueueError> {
        let mut current = self.inner.session.lock().await;
        if let Some(session) = current.as_ref()
            && session.connection.status().connected()
            && session.publisher.status().connected()
        {
            return Ok(Arc::clone(session));
        }
        if current.take().is_some() {
            tracing::warn!(url = %self.inner.redacted, "rabbitmq connection lost; reconnecting");
            // Deliveries of the old connection went back to the broker.
            lock(&self.inner.in_flight).clear();
        }
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self.open_session().await {
                Ok(session) => {
                    let session = Arc::new(session);
                    *current = Some(Arc::clone(&session));
                    return Ok(session);
                }
                Err(source) if attempt >= CONNECT_ATTEMPTS => {
                    return Err(QueueError::Unavailable {
                        attempts: attempt,
                        source,
                    });
                }
                Err(error) => {
                    tracing::warn!(url = %self.inner.redacted, attempt, %error, "rabbitmq connection failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
            }
        }
    }

    async fn open_session(&self) -> Result<Session, lapin::Error> {
        let connection = Connection::connect(&self.inner.url, ConnectionProperties::default()).await?;
        let publisher = connection.create_channel().await?;
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Session {
            generation,
            connection,
            publisher,
            declared: Mutex::new(HashSet::new()),
            consumers: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Declares `name` once per session.
    async fn declare(&self, session: &Session, name: &str, arguments: FieldTable) -> Result<(), QueueError> {
        if lock(&session.declared).contains(name) {
            return Ok(());
        }
        session
            .publisher
            .queue_declare(ShortString::from(name), QueueDeclareOptions::durable(), arguments)
            .await
            .map_err(QueueError::broker("queue.declare"))?;
        lock(&session.declared).insert(name.to_owned());
        Ok(())
    }

    /// Declares the durable fan-out exchange `topic` once per session.
    async fn declare_topic(&self, session: &Session, topic: &str) -> Result<(), QueueError> {
        let marker = format!("exchange:{topic}");
        if lock(&session.declared).contains(&marker) {
            return Ok(());
        }
        session
            .publisher
            .exchange_declare(
                ShortString::from(topic),
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(QueueError::broker("exchange.declare"))?;
        lock(&session.declared).insert(marker);
        lock(&self.inner.topics).insert(topic.to_owned());
        Ok(())
    }

    /// Declares the whole topology of `queue` up front, so that `stats` finds every part of it.
    async fn declare_queue(&self, session: &Session, queue: &str) -> Result<(), QueueError> {
        self.declare(session, queue, FieldTable::default()).await?;
        self.declare(session, &format!("{queue}{ERROR_QUEUE_SUFFIX}"), FieldTable::default())
            .await?;
        for delay in &self.inner.options.retry.backoff {
            self.declare_retry_queue(session, queue, *delay).await?;
        }
        lock(&self.inner.known).insert(queue.to_owned());
        Ok(())
    }

    async fn declare_retry_queue(&self, session: &Session, queue: &str, delay: Duration) -> Result<String, QueueError> {
        let delay_ms = delay.as_millis();
        let name = retry_queue_name(queue, delay_ms);
        let arguments = headers(&[
            (
                "x-message-ttl",
                AMQPValue::LongLongInt(i64::try_from(delay_ms).unwrap_or(i64::MAX)),
            ),
            // The default exchange routes by queue name: expired messages land back in `queue`.
            ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
            ("x-dead-letter-routing-key", AMQPValue::LongString(queue.into())),
        ]);
        self.declare(session, &name, arguments).await?;
        Ok(name)
    }

    /// Publishes persistent messages to `queue` through the confirm channel and waits for every confirm.
    async fn publish_confirmed(
        &self,
        session: &Session,
        queue: &str,
        messages: Vec<(Vec<u8>, BasicProperties)>,
    ) -> Result<(), QueueError> {
        self.publish_confirmed_via(session, "", queue, messages).await
    }

    /// Publishes persistent messages through `exchange` (`""`, the default exchange, routes by queue name)
    /// and waits for every confirm.
    async fn publish_confirmed_via(
        &self,
        session: &Session,
        exchange: &str,
        queue: &str,
        messages: Vec<(Vec<u8>, BasicProperties)>,
    ) -> Result<(), QueueError> {
        let mut confirms = Vec::with_capacity(messages.len());
        for (payload, properties) in messages {
            let confirm = session
                .publisher
                .basic_publish(
                    ShortString::from(exchange),
                    ShortString::from(queue),
                    BasicPublishOptions::default(),
                    &payload,
                    properties,
                )
                .await
                .map_err(QueueError::broker("basic.publish"))?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            let confirmation = confirm.await.map_err(QueueError::broker("publisher confirm"))?;
            if !confirmation.is_ack() {
                return Err(QueueError::NotConfirmed {
                    queue: queue.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The consumer of `queue` on this session, started on first use with prefetch `prefetch`.
    async fn consumer(
        &self,
        session: &Session,
        queue: &str,
        prefetch: usize,
    ) -> Result<Arc<QueueConsumer>, QueueError> {
        let mut consumers = session.consumers.lock().await;
        if let Some(consumer) = consumers.get(queue)
            && consumer.channel.status().connected()
        {
            return Ok(Arc::clone(consumer));
        }
        self.declare_queue(session, queue).await?;
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(QueueError::broker("channel.open"))?;
        // Prefetch bounds what the broker pushes ahead of acks: one batch.
        let prefetch = u16::try_from(prefetch).unwrap_or(u16::MAX).max(1);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(QueueError::broker("basic.qos"))?;
        let stream = channel
            .basic_consume(
                ShortString::from(queue),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(QueueError::broker("basic.consume"))?;
        let consumer = Arc::new(QueueConsumer {
            channel,
            stream: tokio::sync::Mutex::new(stream),
        });
        consumers.insert(queue.to_owned(), Arc::clone(&consumer));
        Ok(consumer)
    }

    fn to_delivery(&self, session: &Session, queue: &str, delivery: lapin::message::Delivery) -> Delivery {
        let properties = &delivery.properties;
        Delivery {
            id: message_id(properties),
            queue: queue.to_owned(),
            attempt: header_i64(properties, HEADER_ATTEMPT)
                .and_then(|attempt| u32::try_from(attempt).ok())
                .unwrap_or(1),
            enqueued_at: micros_to_datetime(header_i64(properties, HEADER_ENQUEUED_AT).unwrap_or(0)),
            receipt: Receipt {
                lease: session.generation,
                tag: delivery.delivery_tag,
                first_failed_at: header_i64(properties, HEADER_FIRST_FAILED_AT),
            },
            payload: delivery.data,
        }
    }

    /// The consumer channel a delivery came from, if its connection is still the current one.
    async fn holder(&self, delivery: &Delivery) -> Option<(Arc<Session>, Arc<QueueConsumer>)> {
        let session = self.inner.session.lock().await.clone()?;
        if session.generation != delivery.receipt.lease {
            tracing::debug!(queue = %delivery.queue, id = %delivery.id, "delivery from a closed connection; the broker requeued it");
            return None;
        }
        let consumer = session.consumers.lock().await.get(&delivery.queue).cloned()?;
        Some((session, consumer))
    }

    fn settled(&self, queue: &str, count: u64) {
        if let Some(in_flight) = lock(&self.inner.in_flight).get_mut(queue) {
            *in_flight = in_flight.saturating_sub(count);
        }
    }

    /// Drops a broken session so the next call reconnects.
    async fn invalidate(&self, generation: i64) {
        let mut current = self.inner.session.lock().await;
        if current.as_ref().is_some_and(|session| session.generation == generation) {
            *current = None;
            lock(&self.inner.in_flight).clear();
        }
    }

    /// Runs `operation` on the current session; on failure drops the session so the next call reconnects.
    async fn on_session<T, F, Fut>(&self, operation: F) -> Result<T, QueueError>
    where
        F: FnOnce(Arc<Session>) -> Fut,
        Fut: std::future::Future<Output = Result<T, QueueError>>,
    {
        let session = self.session().await?;
        let generation = session.generation;
        let result = operation(session).await;
        if matches!(
            result,
            Err(QueueError::Broker { .. } | QueueError::ConsumerClosed { .. })
        ) {
            self.invalidate(generation).await;
        }
        result
    }

    /// Takes up to `limit` messages of `Q.error` unacked on a private channel; the caller acks those it
    /// moves and closes the channel, which puts the rest back.
    async fn scan_dead_letters(
        &self,
        session: &Session,
        queue: &str,
        limit: usize,
    ) -> Result<(Channel, Vec<(u64, DeadLetter, BasicProperties)>), QueueError> {
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(QueueError::broker("channel.open"))?;
        let error_queue = format!("{queue}{ERROR_QUEUE_SUFFIX}");
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(message) = channel
                .basic_get(
                    ShortString::from(error_queue.as_str()),
                    BasicGetOptions { no_ack: false },
                )
                .await
                .map_err(QueueError::broker("basic.get"))?
            else {
                break;
            };
            let delivery = message.delivery;
            let properties = delivery.properties.clone();
            let dead = DeadLetter {
                id: message_id(&properties),
                queue: queue.to_owned(),
                attempts: header_i64(&properties, HEADER_ATTEMPT)
                    .and_then(|attempt| u32::try_from(attempt).ok())
                    .unwrap_or(0),
                reason: header_string(&properties, HEADER_ERROR).unwrap_or_default(),
                enqueued_at: micros_to_datetime(header_i64(&properties, HEADER_ENQUEUED_AT).unwrap_or(0)),
                first_failed_at: micros_to_datetime(header_i64(&properties, HEADER_FIRST_FAILED_AT).unwrap_or(0)),
                last_failed_at: micros_to_datetime(header_i64(&properties, HEADER_LAST_FAILED_AT).unwrap_or(0)),
                payload: delivery.data,
            };
            found.push((delivery.delivery_tag, dead, properties));
        }
        Ok((channel, found))
    }
}

/// What a passive `queue.declare` reports about one queue.
struct Depth {
    messages: u64,
    consumers: u64,
}

/// Reads queue depths with passive declares, which never create a queue. The broker answers a passive
/// declare of a missing queue by closing the channel (404), so the probe runs on its own channel and
/// opens a fresh one after each miss: one missing queue does not hide the others.
struct Probe<'a> {
    session: &'a Session,
    channel: Option<Channel>,
}

impl<'a> Probe<'a> {
    fn new(session: &'a Session) -> Self {
        Self { session, channel: None }
    }

    /// The depth of `name`, or `None` when no such queue exists.
    async fn depth(&mut self, name: &str) -> Result<Option<Depth>, QueueError> {
        let channel = match self.channel.take() {
            Some(channel) if channel.status().connected() => channel,
            _ => self
                .session
                .connection
                .create_channel()
                .await
                .map_err(QueueError::broker("channel.open"))?,
        };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        match channel
            .queue_declare(ShortString::from(name), passive, FieldTable::default())
            .await
        {
            Ok(queue) => {
                self.channel = Some(channel);
                Ok(Some(Depth {
                    messages: u64::from(queue.message_count()),
                    consumers: u64::from(queue.consumer_count()),
                }))
            }
            // The broker has closed this channel; the next probe opens another.
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(QueueError::broker("queue.declare")(error)),
        }
    }

    async fn close(self) {
        if let Some(channel) = self.channel {
            let _ = channel.close(200, ShortString::from("stats")).await;
        }
    }
}

/// Whether the broker refused an operation because the queue or exchange does not exist (404).
fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        lapin::ErrorKind::ProtocolError(amqp)
            if *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)
    )
}

impl Drop for Inner {
    /// Closes the connection so the broker requeues this process's unacked deliveries at once.
    fn drop(&mut self) {
        let Some(session) = self.session.get_mut().take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = session.connection.close(200, ShortString::from("bus dropped")).await;
            });
        }
    }
}

#[async_trait::async_trait]
impl MessageBus for RabbitMqBus {
    fn backend(&self) -> &'static str {
        "rabbitmq"
    }

    async fn publish(&self, queue: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        validate_queue_name(queue)?;
        if payloads.is_empty() {
            return Ok(());
        }
        let messages = fresh_messages(payloads);
        self.on_session(|session| async move {
            self.declare_queue(&session, queue).await?;
            self.publish_confirmed(&session, queue, messages).await
        })
        .await
    }

    async fn subscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        validate_queue_name(topic)?;
        validate_queue_name(queue)?;
        self.on_session(|session| async move {
            self.declare_topic(&session, topic).await?;
            self.declare_queue(&session, queue).await?;
            session
                .publisher
                .queue_bind(
                    ShortString::from(queue),
                    ShortString::from(topic),
                    ShortString::from(""),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(QueueError::broker("queue.bind"))
        })
        .await
    }

    async fn unsubscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        self.on_session(|session| async move {
            self.declare_topic(&session, topic).await?;
            session
                .publisher
                .queue_unbind(
                    ShortString::from(queue),
                    ShortString::from(topic),
                    ShortString::from(""),
                    FieldTable::default(),
                )
                .await
                .map_err(QueueError::broker("queue.unbind"))
        })
        .await
    }

    async fn publish_to_topic(&self, topic: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        validate_queue_name(topic)?;
        if payloads.is_empty() {
            return Ok(());
        }
        let messages = fresh_messages(payloads);
        self.on_session(|session| async move {
            self.declare_topic(&session, topic).await?;
            self.publish_confirmed_via(&session, topic, "", messages).await
        })
        .await
    }

    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        validate_queue_name(queue)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let batch = self
            .on_session(|session| async move {
                let consumer = self.consumer(&session, queue, max).await?;
                let mut stream = consumer.stream.lock().await;
                let mut batch = Vec::new();
                let closed = || QueueError::ConsumerClosed {
                    queue: queue.to_owned(),
                };
                match tokio::time::timeout(wait, stream.next()).await {
                    Err(_elapsed) => return Ok(batch),
                    Ok(None) => return Err(closed()),
                    Ok(Some(delivery)) => {
                        let delivery = delivery.map_err(QueueError::broker("basic.deliver"))?;
                        batch.push(self.to_delivery(&session, queue, delivery));
                    }
                }
                // Take what has already arrived without waiting; the worker's linger asks again.
                while batch.len() < max {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(delivery))) => batch.push(self.to_delivery(&session, queue, delivery)),
                        Some(Some(Err(error))) => return Err(QueueError::broker("basic.deliver")(error)),
                        Some(None) => return Err(closed()),
                        None => break,
                    }
                }
                Ok(batch)
            })
            .await?;
        *lock(&self.inner.in_flight).entry(queue.to_owned()).or_default() += batch.len() as u64;
        Ok(batch)
    }

    async fn ack(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        for delivery in deliveries {
            let Some((session, consumer)) = self.holder(delivery).await else {
                continue;
            };
            let acked = consumer
                .channel
                .basic_ack(delivery.receipt.tag, BasicAckOptions::default())
                .await;
            if let Err(error) = acked {
                self.invalidate(session.generation).await;
                return Err(QueueError::broker("basic.ack")(error));
            }
            self.settled(&delivery.queue, 1);
        }
        Ok(())
    }

    async fn nack(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        let Some((session, consumer)) = self.holder(delivery).await else {
            return Ok(());
        };
        let now = now_micros();
        let retry = &self.inner.options.retry;
        let queue = delivery.queue.as_str();
        let first_failed_at = delivery.receipt.first_failed_at.unwrap_or(now);
        let attempt = delivery.attempt;
        let (target, next_attempt) = if retry.is_exhausted(attempt) {
            (format!("{queue}{ERROR_QUEUE_SUFFIX}"), attempt)
        } else {
            let delay = retry.delay_after(attempt);
            (self.declare_retry_queue(&session, queue, delay).await?, attempt + 1)
        };
        let headers = headers(&[
            (HEADER_ATTEMPT, AMQPValue::LongLongInt(i64::from(next_attempt))),
            (
                HEADER_ENQUEUED_AT,
                AMQPValue::LongLongInt(delivery.enqueued_at.timestamp_micros()),
            ),
            (HEADER_FIRST_FAILED_AT, AMQPValue::LongLongInt(first_failed_at)),
            (HEADER_LAST_FAILED_AT, AMQPValue::LongLongInt(now)),
            (HEADER_ERROR, AMQPValue::LongString(truncate_reason(reason).into())),
        ]);
        let copy = vec![(delivery.payload.clone(), properties(delivery.id, headers))];
        let generation = session.generation;
        let outcome = async {
            self.publish_confirmed(&session, &target, copy).await?;
            // Only once the copy is confirmed: a crash in between duplicates instead of losing.
            consumer
                .channel
                .basic_ack(delivery.receipt.tag, BasicAckOptions::default())
                .await
                .map_err(QueueError::broker("basic.ack"))
        }
        .await;
        if outcome.is_err() {
            self.invalidate(generation).await;
        } else {
            self.settled(queue, 1);
        }
        outcome
    }

    async fn release(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        for delivery in deliveries {
            let Some((session, consumer)) = self.holder(delivery).await else {
                continue;
            };
            let options = BasicNackOptions {
                multiple: false,
                requeue: true,
            };
            if let Err(error) = consumer.channel.basic_nack(delivery.receipt.tag, options).await {
                self.invalidate(session.generation).await;
                return Err(QueueError::broker("basic.nack")(error));
            }
            self.settled(&delivery.queue, 1);
        }
        Ok(())
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let queue = main_queue_name(queue);
        validate_queue_name(queue)?;
        self.on_session(|session| async move {
            self.declare_queue(&session, queue).await?;
            let (channel, found) = self.scan_dead_letters(&session, queue, limit).await?;
            // Closing the channel returns the peeked messages to the error queue, in order.
            let _ = channel.close(200, ShortString::from("peeked")).await;
            Ok(found.into_iter().map(|(_, dead, _)| dead).collect())
        })
        .await
    }

    async fn requeue_dead_letters(&self, queue: &str, ids: Option<&[MessageId]>) -> Result<u64, QueueError> {
        let queue = main_queue_name(queue);
        validate_queue_name(queue)?;
        self.on_session(|session| async move {
            self.declare_queue(&session, queue).await?;
            let (channel, found) = self.scan_dead_letters(&session, queue, usize::MAX).await?;
            let mut moved = 0;
            let now = now_micros();
            for (tag, dead, _) in found {
                if ids.is_some_and(|ids| !ids.contains(&dead.id)) {
                    continue;
                }
                let headers = headers(&[
                    (HEADER_ATTEMPT, AMQPValue::LongLongInt(1)),
                    (HEADER_ENQUEUED_AT, AMQPValue::LongLongInt(now)),
                ]);
                let message = vec![(dead.payload, properties(dead.id, headers))];
                self.publish_confirmed(&session, queue, message).await?;
                channel
                    .basic_ack(tag, BasicAckOptions::default())
                    .await
                    .map_err(QueueError::broker("basic.ack"))?;
                moved += 1;
            }
            // Unselected dead letters were left unacked: closing the channel puts them back.
            let _ = channel.close(200, ShortString::from("requeued")).await;
            Ok(moved)
        })
        .await
    }

    fn track_queues(&self, queues: &[String]) -> Result<(), QueueError> {
        self.inner.tracked.add(queues)
    }

    async fn stats(&self) -> Result<Vec<QueueStats>, QueueError> {
        let mut queues: BTreeSet<String> = lock(&self.inner.known).clone();
        queues.extend(self.inner.tracked.names());
        let retry = self.inner.options.retry.clone();
        let stats = self
            .on_session(|session| async move {
                let mut probe = Probe::new(&session);
                let mut stats = Vec::with_capacity(queues.len());
                for queue in queues {
                    let mut entry = QueueStats {
                        queue: queue.clone(),
                        ..QueueStats::default()
                    };
                    let mut names = topology_queue_names(&queue, &retry).into_iter();
                    let Some(main) = names.next() else { continue };
                    let Some(depth) = probe.depth(&main).await? else {
                        // `declare_queue` creates the error and delay queues together with the main queue, so
                        // they are missing too: probing them would only log one broker error each.
                        stats.push(entry);
                        continue;
                    };
                    entry.ready = depth.messages;
                    entry.consumers = Some(depth.consumers);
                    for (index, name) in names.enumerate() {
                        let count = probe.depth(&name).await?.map_or(0, |depth| depth.messages);
                        if index == 0 {
                            entry.dead_letters = count;
                        } else {
                            entry.delayed += count;
                        }
                    }
                    stats.push(entry);
                }
                probe.close().await;
                Ok(stats)
            })
            .await?;
        let in_flight = lock(&self.inner.in_flight);
        Ok(stats
            .into_iter()
            .map(|mut entry| {
                entry.in_flight = in_flight.get(&entry.queue).copied().unwrap_or(0);
                entry
            })
            .collect())
    }
}
