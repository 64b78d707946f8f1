//! Queue mode: the outbox relay feeding `publish.<projection>` queues, publisher handlers feeding
//! `sync.storage.<projection>` / `sync.search.product_page`, and sync writer handlers applying them.
//! Each step acknowledges only after its effect is durable; a crash anywhere re-delivers.

use crate::SyncError;
use crate::direct::{PUBLISH_BATCH, Pending, RELAY_BATCH};
use crate::messages::{MAX_IDS_PER_MESSAGE, PublishMessage, publish_queue, search_topic, sync_queue};
use crate::projections::{self, Projection};
use crate::publisher::{Publisher, publish_concurrency};
use crate::routing::{OMS_EVENTS, routes};
use crate::writers::{write_kv_owned, write_search_owned};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use kontor_db::SqlDatabase;
use kontor_domain::DomainError;
use kontor_kv::KvStore;
use kontor_notify::{Notification, Notifier};
use kontor_queue::worker::{BatchError, BatchHandler, Worker};
use kontor_queue::{Delivery, MessageBus};
use kontor_readmodel::{
    KV_CHANGED_CHANNEL, KV_CHANGED_KIND, KV_CHANGED_MAX_KEY_BYTES, KvChanged, SyncEntry, SyncOp, stamp,
};
use kontor_search::{ReplicaStatus, SearchIndex};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// Sync operations per sync message (spec §10: 500 per storage batch).
pub const OPS_PER_MESSAGE: usize = 500;
/// Sync messages a KV writer applies per batch.
const KV_SYNC_BATCH: usize = 4;
/// Sync messages a search writer applies per batch: each batch costs one commit per touched index (with
/// a segment flush and a reader reload), so under a backlog larger batches apply many more documents per
/// second; a lone change is not delayed by it, as a batch takes what is there.
pub const SEARCH_SYNC_BATCH: usize = 16;
/// Relayed outbox rows are kept this long for inspection (spec §2), then purged.
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
const OUTBOX_PURGE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How long the relay sleeps when the outbox is empty unless a commit wakes it first (spec §1: 100 ms poll
/// fallback). Commits of this process wake it at once, and on PostgreSQL so do other processes' (LISTEN /
/// NOTIFY); the poll is what picks up other processes' commits on SQLite and MariaDB, and anything a lost
/// notification would otherwise leave behind. Polling an empty outbox is one indexed query.
pub const RELAY_IDLE: Duration = Duration::from_millis(100);

/// Moves committed outbox rows to the publish queues.
#[derive(Clone)]
pub struct Relay {
    db: SqlDatabase,
    bus: Arc<dyn MessageBus>,
    idle: Duration,
}

impl Relay {
    pub fn new(db: SqlDatabase, bus: Arc<dyn MessageBus>) -> Self {
        Self {
            db,
            bus,
            idle: RELAY_IDLE,
        }
    }

    /// Polls an empty outbox every `idle` instead of [`RELAY_IDLE`] (tests make it long, so that only a
    /// commit notification can explain a quick relay).
    pub fn with_idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Relays one claim of up to [`RELAY_BATCH`] rows; returns how many rows it relayed.
    pub async fn run_once(&self) -> Result<usize, SyncError> {
        let bus = Arc::clone(&self.bus);
        let relayed = self
            .db
            .relay_outbox(RELAY_BATCH, |entries| async move {
                let changed_at = entries
                    .iter()
                    .map(|entry| entry.changed_at.timestamp_micros())
                    .min()
                    .unwrap_or_default();
                let mut pending = Pending::default();
                for entry in &entries {
                    for route in routes(entry) {
                        pending.add(route);
                    }
                }
                for (projection, (ids, all)) in pending.by_projection {
                    let payloads = publish_payloads("Entity.outbox.relay", "outbox", ids, all, changed_at)
                        .map_err(|error| DomainError::Storage(error.to_string()))?;
                    let queue = if projection == OMS_EVENTS {
                        OMS_EVENTS.to_owned()
                    } else {
                        publish_queue(projection)
                    };
                    bus.publish(&queue, payloads)
                        .await
                        .map_err(|error| DomainError::Storage(format!("publish to the queue failed: {error}")))?;
                }
                Ok(())
            })
            .await?;
        Ok(relayed)
    }

    /// Relays until `shutdown`. With nothing to do it waits for a commit notification or the idle poll,
    /// whichever comes first; after an error it backs off without listening for commits.
    pub async fn run(&self, shutdown: CancellationToken) {
        let commits = self.db.outbox_commits();
        // PostgreSQL: other processes' commits wake this relay too.
        let listener = self.db.listen_for_outbox_commits();
        let mut last_purge = std::time::Instant::now() - OUTBOX_PURGE_EVERY;
        while !shutdown.is_cancelled() {
            if last_purge.elapsed() >= OUTBOX_PURGE_EVERY {
                last_purge = std::time::Instant::now();
                let before = chrono::Utc::now().timestamp_micros() - OUTBOX_RETENTION.as_micros() as i64;
                match self.db.purge_relayed_outbox(before).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "purged relayed outbox rows older than 24 h"),
                    Err(error) => tracing::warn!(%error, "outbox purge failed"),
                }
            }
            match self.run_once().await {
                // More may be waiting: go again at once.
                Ok(relayed) if relayed > 0 => {}
                Ok(_) => {
                    tokio::select! {
                        () = shutdown.cancelled() => {},
                        () = commits.notified() => {},
                        () = tokio::time::sleep(self.idle) => {},
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "outbox relay failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => {},
                        () = tokio::time::sleep(Duration::from_secs(1)) => {},
                    }
                }
            }
        }
        if let Some(listener) = listener {
            listener.stop().await;
        }
    }
}

/// Publish messages of at most [`MAX_IDS_PER_MESSAGE`] ids each.
pub fn publish_payloads(
    event: &str,
    source: &str,
    ids: BTreeSet<i64>,
    all: bool,
    changed_at: i64,
) -> Result<Vec<Vec<u8>>, SyncError> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let chunks: Vec<Vec<i64>> = if all || ids.is_empty() {
        vec![Vec::new()]
    } else {
        ids.chunks(MAX_IDS_PER_MESSAGE).map(<[i64]>::to_vec).collect()
    };
    chunks
        .into_iter()
        .map(|ids| {
            let message = PublishMessage {
                event: event.to_owned(),
                source: source.to_owned(),
                ids,
                all,
                changed_at,
            };
            serde_json::to_vec(&message).map_err(SyncError::json)
        })
        .collect()
}

/// Consumes `publish.<projection>`: rebuilds the documents and enqueues their sync operations.
pub struct PublishHandler {
    projection: Arc<dyn Projection>,
    publisher: Publisher,
    bus: Arc<dyn MessageBus>,
}

impl PublishHandler {
    pub fn new(projection: Arc<dyn Projection>, db: SqlDatabase, bus: Arc<dyn MessageBus>) -> Self {
        Self {
            projection,
            publisher: Publisher::new(db),
            bus,
        }
    }

    async fn publish(&self, ids: &[i64]) -> Result<(), SyncError> {
        let report = self.publisher.publish(self.projection.as_ref(), ids).await?;
        send_ops(self.bus.as_ref(), self.projection.as_ref(), &report.ops).await
    }

    /// Publishes `ids` in pages of [`PUBLISH_BATCH`], several at once, each on a task of its own. A
    /// consumer batch after an import names tens of thousands of ids; as one page they would be built on
    /// one core and held in memory together. A batch of one page (a lone change) is published right here.
    async fn publish_pages(&self, ids: &[i64]) -> Result<(), SyncError> {
        let page_size = usize::try_from(PUBLISH_BATCH).unwrap_or(500);
        if ids.len() <= page_size {
            return self.publish(ids).await;
        }
        futures_util::stream::iter(ids.chunks(page_size).map(Ok))
            .try_for_each_concurrent(publish_concurrency(), |page| async move {
                let report = self.publisher.publish_on_task(&self.projection, page.to_vec()).await?;
                send_ops_on_task(&self.bus, &self.projection, report.ops).await
            })
            .await
    }

    /// Re-publishes every entity of the projection, page by page (a route such as a warehouse change).
    async fn publish_everything(&self) -> Result<(), SyncError> {
        self.publisher
            .publish_all(&self.projection, publish_concurrency(), |_, report| async move {
                send_ops_on_task(&self.bus, &self.projection, report.ops).await
            })
            .await
    }
}

/// Sends a projection's sync operations in messages of [`OPS_PER_MESSAGE`]: storage operations to
/// `sync.storage.<projection>`, search operations to the fan-out topic every search index subscribes to.
pub async fn send_ops(bus: &dyn MessageBus, projection: &dyn Projection, ops: &[SyncOp]) -> Result<(), SyncError> {
    if ops.is_empty() {
        return Ok(());
    }
    let payloads = ops
        .chunks(OPS_PER_MESSAGE)
        .map(|chunk| serde_json::to_vec(chunk).map_err(SyncError::json))
        .collect::<Result<Vec<_>, _>>()?;
    let sent = if projection.is_search() {
        bus.publish_to_topic(&search_topic(projection.name()), payloads).await
    } else {
        bus.publish(&sync_queue(projection.name(), false), payloads).await
    };
    sent.map_err(|error| SyncError::Queue(error.to_string()))
}

/// [`send_ops`] on a task of its own: encoding a page's documents as JSON is CPU work that should not
/// queue behind the other pages on the caller's thread.
pub async fn send_ops_on_task(
    bus: &Arc<dyn MessageBus>,
    projection: &Arc<dyn Projection>,
    ops: Vec<SyncOp>,
) -> Result<(), SyncError> {
    if ops.is_empty() {
        return Ok(());
    }
    let (bus, projection) = (Arc::clone(bus), Arc::clone(projection));
    let task = tokio::spawn(async move { send_ops(bus.as_ref(), projection.as_ref(), &ops).await });
    AbortOnDropHandle::new(task)
        .await
        .map_err(|error| SyncError::Queue(format!("sending task failed: {error}")))?
}

/// Subscribes `queue` to the sync topic of every search projection, so that the search index consuming
/// it gets every search operation from now on (call before consuming; it is durable and idempotent).
pub async fn subscribe_search_queue(
    bus: &dyn MessageBus,
    queue_of: impl Fn(&str) -> String,
) -> Result<Vec<String>, SyncError> {
    let mut queues = Vec::new();
    for projection in projections::all()
        .into_iter()
        .filter(|projection| projection.is_search())
    {
        let queue = queue_of(projection.name());
        bus.subscribe(&search_topic(projection.name()), &queue)
            .await
            .map_err(|error| SyncError::Queue(error.to_string()))?;
        queues.push(queue);
    }
    Ok(queues)
}

/// Seconds since `micros` (epoch microseconds), never negative.
fn seconds_since(micros: i64) -> f64 {
    let now = chrono::Utc::now().timestamp_micros();
    (now.saturating_sub(micros)).max(0) as f64 / 1_000_000.0
}

#[async_trait]
impl BatchHandler for PublishHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        let mut ids = BTreeSet::new();
        let mut all = false;
        let mut oldest_change = i64::MAX;
        for delivery in batch {
            let message: PublishMessage = serde_json::from_slice(&delivery.payload)
                .map_err(|error| BatchError::new(format!("malformed publish message: {error}")))?;
            all |= message.all;
            oldest_change = oldest_change.min(message.changed_at);
            ids.extend(message.ids);
        }
        let result = if all {
            self.publish_everything().await
        } else {
            let ids: Vec<i64> = ids.into_iter().collect();
            self.publish_pages(&ids).await
        };
        if result.is_ok() && oldest_change > 0 && oldest_change < i64::MAX {
            // Commit → storage table; the sync writers record the rest of the way.
            metrics::histogram!("kontor_publish_lag_seconds", "projection" => self.projection.name())
                .record(seconds_since(oldest_change));
        }
        result.map_err(|error| BatchError::new(error.to_string()))
    }
}

/// Records storage table → KV/search lag for the oldest op of an applied batch.
fn record_sync_lag(kind: &'static str, ops: &[SyncOp]) {
    if let Some(oldest) = ops
        .iter()
        .map(SyncOp::timestamp_micros)
        .filter(|micros| *micros > 0)
        .min()
    {
        metrics::histogram!("kontor_sync_lag_seconds", "target" => kind).record(seconds_since(oldest));
    }
}

/// Consumes `sync.storage.<projection>` into the KV store, then announces which resources changed on
/// `kv.changed` so every storefront node drops its caches of them.
pub struct KvSyncHandler {
    kv: Arc<dyn KvStore>,
    notifier: Option<Arc<dyn Notifier>>,
}

impl KvSyncHandler {
    pub fn new(kv: Arc<dyn KvStore>, notifier: Option<Arc<dyn Notifier>>) -> Self {
        Self { kv, notifier }
    }

    /// Best effort: the write is durable already and caches expire on their own.
    async fn announce(&self, ops: &[SyncOp]) {
        let Some(notifier) = &self.notifier else { return };
        let resources: BTreeSet<&str> = ops.iter().map(|op| op.entry().resource.as_str()).collect();
        // Quotes and comma per key in JSON.
        let key_bytes: usize = ops.iter().map(|op| op.entry().key.len() + 3).sum();
        let mut changed = KvChanged {
            resources: resources.into_iter().map(str::to_owned).collect(),
            keys: (key_bytes <= KV_CHANGED_MAX_KEY_BYTES)
                .then(|| ops.iter().map(|op| op.entry().key.clone()).collect()),
        };
        loop {
            let notification = Notification::new(KV_CHANGED_KIND, serde_json::json!(changed));
            match notifier.publish(KV_CHANGED_CHANNEL, notification).await {
                Ok(()) => return,
                // Too big after all (escaped keys): without keys, receivers drop every cached answer.
                Err(kontor_notify::NotifyError::NotificationTooLarge { .. }) if changed.keys.is_some() => {
                    changed.keys = None;
                }
                Err(error) => {
                    tracing::warn!(%error, "kv.changed notification not sent");
                    return;
                }
            }
        }
    }
}

/// Consumes `sync.search.product_page` (or a storefront node's replica queue) into the search index.
pub struct SearchSyncHandler {
    search: Arc<dyn SearchIndex>,
    replica: Option<Arc<ReplicaStatus>>,
}

impl SearchSyncHandler {
    pub fn new(search: Arc<dyn SearchIndex>) -> Self {
        Self { search, replica: None }
    }

    /// A storefront node's replica: every applied batch is recorded in `status` (watermark and lag).
    pub fn for_replica(search: Arc<dyn SearchIndex>, status: Arc<ReplicaStatus>) -> Self {
        Self {
            search,
            replica: Some(status),
        }
    }
}

/// Records an applied batch of a search replica: newest timestamp, lag of the oldest op, a gauge.
pub fn record_replica_batch(status: &ReplicaStatus, ops: &[SyncOp]) {
    let stamps = ops.iter().map(SyncOp::timestamp_micros).filter(|micros| *micros > 0);
    let newest = stamps.clone().max().unwrap_or(0);
    let lag = stamps.min().map_or(0.0, seconds_since);
    status.record(ops.len(), newest, (lag * 1000.0) as i64);
    metrics::gauge!("kontor_search_replica_lag_seconds").set(lag);
}

fn sync_ops(batch: &[Delivery]) -> Result<Vec<SyncOp>, BatchError> {
    let mut ops = Vec::new();
    for delivery in batch {
        let mut message: Vec<SyncOp> = serde_json::from_slice(&delivery.payload)
            .map_err(|error| BatchError::new(format!("malformed sync message: {error}")))?;
        ops.append(&mut message);
    }
    Ok(ops)
}

/// The ops without their documents (key, resource and `_timestamp` kept), for what follows a write: the
/// lag metric, `kv.changed`, a replica's watermark. The documents themselves move into the write uncopied.
fn envelopes(ops: &[SyncOp]) -> Vec<SyncOp> {
    ops.iter()
        .map(|op| {
            let entry = op.entry();
            let envelope = SyncEntry {
                key: entry.key.clone(),
                resource: entry.resource.clone(),
                params: Value::Null,
                value: stamp(json!({}), op.timestamp_micros()),
            };
            match op {
                SyncOp::Write(_) => SyncOp::Write(envelope),
                SyncOp::Delete(_) => SyncOp::Delete(envelope),
            }
        })
        .collect()
}

#[async_trait]
impl BatchHandler for KvSyncHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        let ops = sync_ops(batch)?;
        let written = envelopes(&ops);
        write_kv_owned(self.kv.as_ref(), ops)
            .await
            .map_err(|error| BatchError::new(error.to_string()))?;
        record_sync_lag("kv", &written);
        self.announce(&written).await;
        Ok(())
    }
}

#[async_trait]
impl BatchHandler for SearchSyncHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        let ops = sync_ops(batch)?;
        let written = envelopes(&ops);
        write_search_owned(self.search.as_ref(), ops)
            .await
            .map_err(|error| BatchError::new(error.to_string()))?;
        record_sync_lag("search", &written);
        if let Some(status) = &self.replica {
            record_replica_batch(status, &written);
        }
        Ok(())
    }
}

/// Which queues a worker consumes.
#[derive(Debug, Clone, Default)]
pub struct QueueSelection {
    /// Only these queues (names as in `kontor queue stats`); empty means all.
    pub only: Vec<String>,
}

impl QueueSelection {
    pub fn wants(&self, queue: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|name| name == queue)
    }
}

/// Every publish and sync queue with its handler; `kontor worker` runs these. With `search`, the worker
/// also keeps that search index (the embedded default), its queue subscribed to the search topic here;
/// without, storefront nodes keep their own replicas.
pub async fn register_all(
    worker: &mut Worker,
    selection: &QueueSelection,
    db: &SqlDatabase,
    bus: &Arc<dyn MessageBus>,
    kv: &Arc<dyn KvStore>,
    search: Option<&Arc<dyn SearchIndex>>,
    notifier: Option<&Arc<dyn Notifier>>,
) -> Result<(), SyncError> {
    for projection in projections::all() {
        let [publish, sync] = queues_of(projection.as_ref());
        if selection.wants(&publish) {
            let handler = PublishHandler::new(Arc::clone(&projection), db.clone(), Arc::clone(bus));
            worker.register(
                publish,
                usize::try_from(PUBLISH_BATCH).unwrap_or(500),
                Arc::new(handler),
            );
        }
        if !selection.wants(&sync) {
            continue;
        }
        if projection.is_search() {
            if let Some(search) = search {
                bus.subscribe(&search_topic(projection.name()), &sync)
                    .await
                    .map_err(|error| SyncError::Queue(error.to_string()))?;
                worker.register(
                    sync,
                    SEARCH_SYNC_BATCH,
                    Arc::new(SearchSyncHandler::new(Arc::clone(search))),
                );
            }
        } else {
            worker.register(
                sync,
                KV_SYNC_BATCH,
                Arc::new(KvSyncHandler::new(Arc::clone(kv), notifier.cloned())),
            );
        }
    }
    for queue in precedence_queues() {
        worker.give_precedence(&queue);
    }
    Ok(())
}

/// Projections whose queues go first while they have work, besides the search projections: what every
/// storefront request needs (the store: without it the storefront answers 503) and what every page shows
/// (glossary, category tree). Each is a handful of documents.
const FOUNDATION_PROJECTIONS: [&str; 4] = {
    use kontor_readmodel::storage::projection::{CATEGORY_NODE, CATEGORY_TREE, STORE, TRANSLATION};
    [STORE, TRANSLATION, CATEGORY_TREE, CATEGORY_NODE]
};

/// The queues that go first while they have work: the foundation projections' and those that build and
/// apply search documents. After a bulk import every product is findable long before prices, stock and the
/// other KV documents of all products are in (see BENCHMARKS.md); a single change is not held back.
fn precedence_queues() -> Vec<String> {
    projections::all()
        .iter()
        .filter(|projection| projection.is_search() || FOUNDATION_PROJECTIONS.contains(&projection.name()))
        .flat_map(|projection| queues_of(projection.as_ref()))
        .collect()
}

/// A projection's publish queue and sync queue.
fn queues_of(projection: &dyn Projection) -> [String; 2] {
    [
        publish_queue(projection.name()),
        sync_queue(projection.name(), projection.is_search()),
    ]
}

/// All queue names the pipeline uses, for validating `--queue`.
pub fn queue_names() -> Vec<String> {
    projections::all()
        .iter()
        .flat_map(|projection| queues_of(projection.as_ref()))
        .chain([OMS_EVENTS.to_owned()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_kv::{KvOptions, MemoryKv};
    use kontor_notify::Received;
    use kontor_readmodel::SyncEntry;

    fn write(key: String) -> SyncOp {
        SyncOp::Write(SyncEntry {
            key,
            resource: "product_abstract".to_owned(),
            params: serde_json::json!([]),
            value: serde_json::json!({"_timestamp": 1.0}),
        })
    }

    async fn announced(ops: &[SyncOp]) -> KvChanged {
        let notifier = kontor_notify::open("broadcast", "", "worker").await.expect("broadcast");
        let mut subscription = notifier.subscribe(&[KV_CHANGED_CHANNEL]).await.expect("subscribe");
        let handler = KvSyncHandler::new(Arc::new(MemoryKv::new(KvOptions::default())), Some(notifier));
        handler.announce(ops).await;
        match subscription.recv().await {
            Some(Received::Notification { notification, .. }) => {
                serde_json::from_value(notification.payload.clone()).expect("kv.changed payload")
            }
            other => panic!("no notification: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_batch_announces_its_keys_and_a_huge_one_its_resources_only() {
        let small: Vec<SyncOp> = (0..3)
            .map(|n| write(format!("product_abstract:de:de_de:{n}")))
            .collect();
        let changed = announced(&small).await;
        assert_eq!(changed.resources, vec!["product_abstract".to_owned()]);
        assert_eq!(
            changed.keys.as_deref(),
            Some(&small.iter().map(|op| op.entry().key.clone()).collect::<Vec<_>>()[..])
        );

        // 2 000 keys of ~40 bytes are more than a notification may carry: it still goes out, keyless.
        let big: Vec<SyncOp> = (0..2_000)
            .map(|n| write(format!("product_abstract:de:de_de:{n:0>16}")))
            .collect();
        let changed = announced(&big).await;
        assert_eq!(changed.resources, vec!["product_abstract".to_owned()]);
        assert_eq!(changed.keys, None);
    }
}
