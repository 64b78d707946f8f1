//! Wiring and commands of publish & synchronize: opening the queue, KV store and search index chosen
//! in the configuration, and the `worker`, `publish`, `sync`, `sync verify` and `queue stats` commands.

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kontor_config::{Settings, redact_url_password};
use kontor_db::SqlDatabase;
use kontor_kv::{KvOptions, KvStore};
use kontor_queue::MessageBus;
use kontor_queue::worker::{Worker, WorkerOptions};
use kontor_search::{SearchIndex, TantivySearchIndex};
use kontor_sync::messages::publish_queue;
use kontor_sync::pipeline::{QueueSelection, Relay, publish_payloads, register_all, send_ops, send_ops_on_task};
use kontor_sync::projections::{self, Projection};
use kontor_sync::publisher::publish_concurrency;
use kontor_sync::{Publisher, maintenance};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub async fn open_bus(settings: &Settings, db: &SqlDatabase) -> anyhow::Result<Arc<dyn MessageBus>> {
    let shown = redact_url_password(&settings.queue.url);
    let bus = kontor_queue::open(
        &settings.queue.url,
        Some(db.connection().clone()),
        kontor_queue::BusOptions::default(),
    )
    .await
    .with_context(|| format!("open the queue at {shown} (queue.url)"))?;
    let bus = kontor_queue::with_prefix(bus, &settings.queue.prefix);
    // Every queue of the pipeline shows in `queue stats`, the gauges and the Back Office, also from a
    // process that has not used it (RabbitMQ only reports queues a process names).
    bus.track_queues(&kontor_sync::pipeline::queue_names())
        .context("track the pipeline's queues")?;
    if !settings.search.replicas {
        // The one search index's queue is bound before anything is published, also by a `kontor publish`
        // that runs before any worker ever started: with no subscriber the search topic drops messages.
        kontor_sync::pipeline::subscribe_search_queue(bus.as_ref(), |projection| {
            kontor_sync::messages::sync_queue(projection, true)
        })
        .await
        .context("subscribe the search index's queue to the search topic")?;
    }
    Ok(bus)
}

pub async fn open_kv(settings: &Settings) -> anyhow::Result<Arc<dyn KvStore>> {
    if let Some(path) = settings.kv.url.strip_prefix("redb://")
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    let shown = redact_url_password(&settings.kv.url);
    let options = KvOptions {
        cache_bytes: usize::try_from(settings.kv.cache_size_mb)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024 * 1024),
        ..KvOptions::with_namespace(settings.kv.namespace.clone())
    };
    kontor_kv::open(&settings.kv.url, options).await.with_context(|| {
        format!("open the KV store at {shown} (kv.url); an embedded redb file is open in one process at a time, so stop `kontor serve` first or use its worker")
    })
}

pub fn open_search(settings: &Settings) -> anyhow::Result<Arc<dyn SearchIndex>> {
    let index = TantivySearchIndex::open(&settings.data_dir)
        .with_context(|| format!("open the search index under {}/search", settings.data_dir.display()))?;
    Ok(Arc::new(index))
}

/// The notifier of `notify.url` for this process, named `node_id` among the others.
pub async fn open_notifier(settings: &Settings, node_id: &str) -> anyhow::Result<Arc<dyn kontor_notify::Notifier>> {
    let shown = redact_url_password(&settings.notify.url);
    kontor_notify::open(&settings.notify.url, &settings.notify.namespace, node_id)
        .await
        .with_context(|| format!("open notifications at {shown} (notify.url)"))
}

/// The storefront's read side, opened once per process: the embedded redb file and Tantivy index admit
/// one opener, so `serve` shares them between the sync writers and the storefront.
#[derive(Clone)]
pub struct ReadStores {
    pub kv: Arc<dyn KvStore>,
    pub search: Arc<dyn SearchIndex>,
}

impl ReadStores {
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            kv: open_kv(settings).await?,
            search: open_search(settings)?,
        })
    }
}

/// What a worker writes to besides SQL and the queue.
pub struct WorkerTargets {
    pub kv: Arc<dyn KvStore>,
    /// The one search index, when the worker keeps it (without, storefront nodes keep replicas).
    pub search: Option<Arc<dyn SearchIndex>>,
    /// Where sync writers announce changed KV resources (`kv.changed`).
    pub notifier: Arc<dyn kontor_notify::Notifier>,
}

/// Runs the relay and every publish/sync consumer until `shutdown`.
pub async fn run_worker(
    settings: &Settings,
    db: SqlDatabase,
    targets: WorkerTargets,
    selection: QueueSelection,
    concurrency: usize,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let bus = open_bus(settings, &db).await?;
    let WorkerTargets { kv, search, notifier } = targets;
    let mut worker = Worker::new(Arc::clone(&bus)).with_options(WorkerOptions {
        concurrency,
        ..WorkerOptions::default()
    });
    register_all(
        &mut worker,
        &selection,
        &db,
        &bus,
        &kv,
        search.as_ref(),
        Some(&notifier),
    )
    .await
    .context("register the pipeline's consumers")?;
    let mailer =
        kontor_mail::from_settings(&settings.mail, &settings.data_dir).context("set up outgoing mail (mail.*)")?;
    let oms = crate::oms::Oms::open(settings, &db, mailer)?.announcing(Arc::clone(&notifier));
    if selection.wants(kontor_sync::routing::OMS_EVENTS) {
        worker.register(
            kontor_sync::routing::OMS_EVENTS.to_owned(),
            64,
            Arc::new(crate::oms::OmsEventsHandler {
                engine: oms.engine.clone(),
            }),
        );
    }
    let timers = tokio::spawn(crate::oms::run_timers(oms.engine.clone(), shutdown.clone()));
    let relay = Relay::new(db.clone(), Arc::clone(&bus));
    let relay_shutdown = shutdown.clone();
    let relay_task = tokio::spawn(async move { relay.run(relay_shutdown).await });
    tokio::spawn(export_queue_gauges(db, Arc::clone(&bus), shutdown.clone()));
    tracing::info!(queue = %bus.backend(), kv = %kv.backend_name(), "worker started");
    let report = worker.run(shutdown).await;
    relay_task.await.context("the relay task failed")?;
    timers.await.context("the OMS timer task failed")?;
    tracing::info!(
        acked = report.acked,
        nacked = report.nacked,
        released = report.released,
        "worker stopped"
    );
    Ok(())
}

/// Every few seconds, publishes queue depths and the outbox backlog as gauges, so a stopped consumer
/// or a growing backlog shows on `/metrics` before anyone notices stale pages.
async fn export_queue_gauges(db: SqlDatabase, bus: Arc<dyn MessageBus>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Ok(stats) = bus.stats().await {
            for queue in stats {
                let name = queue.queue.clone();
                metrics::gauge!("kontor_queue_ready", "queue" => name.clone()).set(queue.ready as f64);
                metrics::gauge!("kontor_queue_in_flight", "queue" => name.clone()).set(queue.in_flight as f64);
                metrics::gauge!("kontor_queue_dead_letters", "queue" => name.clone()).set(queue.dead_letters as f64);
                let oldest = queue.oldest_ready_age.map_or(0.0, |age| age.as_secs_f64());
                metrics::gauge!("kontor_queue_oldest_ready_seconds", "queue" => name).set(oldest);
            }
        }
        if let Ok(backlog) = db.outbox_backlog().await {
            metrics::gauge!("kontor_outbox_backlog").set(backlog as f64);
        }
        tokio::select! {
            () = shutdown.cancelled() => {},
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {},
        }
    }
}

fn selected(resource: Option<&str>) -> anyhow::Result<Vec<Arc<dyn Projection>>> {
    match resource {
        None => Ok(projections::all()),
        Some(name) => match projections::by_name(name) {
            Some(projection) => Ok(vec![projection]),
            None => bail!(
                "unknown resource {name:?} (--resource); one of: {}",
                projections::names().join(", ")
            ),
        },
    }
}

fn progress(label: &str, total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(label.to_owned());
    bar
}

/// `kontor publish`: rebuilds documents from the source tables into the storage tables and enqueues
/// what changed for the sync writers. Writes only SQL and the queue, so it is safe beside `serve`.
pub async fn publish(settings: &Settings, db: SqlDatabase, resource: Option<&str>, ids: &[i64]) -> anyhow::Result<()> {
    let bus = open_bus(settings, &db).await?;
    let publisher = Publisher::new(db.clone());
    for projection in selected(resource)? {
        let started = std::time::Instant::now();
        let (mut entities, mut written, mut deleted) = (0_usize, 0_usize, 0_usize);
        let bar = progress(projection.name(), ids.len() as u64);
        if ids.is_empty() {
            let totals = std::sync::Mutex::new((0_usize, 0_usize, 0_usize));
            publisher
                .publish_all(&projection, publish_concurrency(), |size, report| {
                    let (bus, projection, totals, bar) = (&bus, &projection, &totals, &bar);
                    async move {
                        send_ops_on_task(bus, projection, report.ops).await?;
                        let mut totals = totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        totals.0 += size;
                        totals.1 += report.written;
                        totals.2 += report.deleted;
                        bar.inc(size as u64);
                        Ok(())
                    }
                })
                .await?;
            (entities, written, deleted) = totals.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        } else {
            let report = publisher.publish(projection.as_ref(), ids).await?;
            send_ops(bus.as_ref(), projection.as_ref(), &report.ops).await?;
            entities += ids.len();
            written += report.written;
            deleted += report.deleted;
            bar.inc(ids.len() as u64);
        }
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            resource = projection.name(),
            entities,
            written,
            deleted,
            seconds,
            "published"
        );
        println!(
            "{:<24} {entities:>8} entities  {written:>8} documents changed  {deleted:>6} deleted  {:.1}/s",
            projection.name(),
            entities as f64 / seconds.max(0.001)
        );
    }
    Ok(())
}

/// Enqueues a re-publish for the worker instead of doing it here.
pub async fn request_publish(
    settings: &Settings,
    db: &SqlDatabase,
    resource: Option<&str>,
    ids: &[i64],
) -> anyhow::Result<()> {
    let bus = open_bus(settings, db).await?;
    for projection in selected(resource)? {
        let payloads = publish_payloads(
            "Projection.publish",
            projection.name(),
            ids.iter().copied().collect::<BTreeSet<_>>(),
            ids.is_empty(),
            chrono_now(),
        )?;
        bus.publish(&publish_queue(projection.name()), payloads).await?;
        println!("requested a re-publish of {}", projection.name());
    }
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

/// `kontor sync`: rewrites KV and search from the storage tables.
pub async fn sync(settings: &Settings, db: SqlDatabase, resource: Option<&str>) -> anyhow::Result<()> {
    let kv = open_kv(settings).await?;
    let search = open_search(settings)?;
    // Draws on stderr only when it is a terminal, like `progress`.
    let bars = MultiProgress::new();
    let (searched, stored): (Vec<_>, Vec<_>) = selected(resource)?
        .into_iter()
        .partition(|projection| projection.is_search());
    let rewritten: Vec<String> = stored.iter().map(|projection| projection.name().to_owned()).collect();
    // The search index and the KV store are rebuilt side by side: Tantivy's indexing and redb's writes
    // are separate work on separate threads, and one after the other they left a core idle.
    let rebuild_all = |projections: Vec<Arc<dyn Projection>>| {
        let (db, kv, search, bars) = (&db, &kv, &search, &bars);
        async move {
            for projection in projections {
                let total = db.count_storage(projection.name()).await?;
                let bar = bars.add(progress(projection.name(), total));
                let written = maintenance::rebuild(db, &projection, kv.as_ref(), search.as_ref(), |count| {
                    bar.inc(count as u64);
                })
                .await?;
                bar.finish_and_clear();
                tracing::info!(resource = projection.name(), written, "synchronized");
                bars.suspend(|| println!("{:<24} {written:>8} documents written", projection.name()));
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    tokio::try_join!(rebuild_all(stored), rebuild_all(searched))?;
    announce_rewrite(settings, rewritten).await;
    Ok(())
}

/// Tells running storefronts that KV documents of `resources` were rewritten behind the sync writers'
/// back, without keys (there may be millions): they drop their cached answers. Best effort: their
/// caches expire on their own.
async fn announce_rewrite(settings: &Settings, resources: Vec<String>) {
    if resources.is_empty() {
        return;
    }
    let changed = kontor_readmodel::KvChanged { resources, keys: None };
    let notification = kontor_notify::Notification::new(kontor_readmodel::KV_CHANGED_KIND, serde_json::json!(changed));
    let sent = match open_notifier(settings, &format!("sync-{}", std::process::id())).await {
        Ok(notifier) => notifier
            .publish(kontor_readmodel::KV_CHANGED_CHANNEL, notification)
            .await
            .map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    if let Err(error) = sent {
        tracing::warn!(error = format!("{error:#}"), "kv.changed notification not sent");
    }
}

/// `kontor sync verify`: compares the storage tables with KV and search; returns the total drift.
pub async fn verify(settings: &Settings, db: SqlDatabase, resource: Option<&str>) -> anyhow::Result<usize> {
    let kv = open_kv(settings).await?;
    let search = open_search(settings)?;
    let mut total = 0;
    for projection in selected(resource)? {
        if settings.search.replicas && projection.is_search() {
            // This process's index is not the storefronts': each node reports its replica in `/ready`.
            println!(
                "{:<24} skipped: every storefront node keeps its own replica",
                projection.name()
            );
            continue;
        }
        let drift = maintenance::verify(&db, projection.as_ref(), kv.as_ref(), search.as_ref()).await?;
        total += drift.total();
        for line in drift.report(projection.name()) {
            println!("{line}");
        }
    }
    println!("drift: {total}");
    Ok(total)
}

/// `kontor sync purge-tombstones` and the `sync purge-tombstones` job: tombstones older than
/// `sync.tombstone_retention_hours`, with a per-projection summary of what went.
pub async fn purge_tombstones(settings: &Settings, db: &SqlDatabase) -> anyhow::Result<String> {
    let hours = settings.sync.tombstone_retention_hours;
    let retention = std::time::Duration::from_secs(u64::from(hours) * 3600);
    let purged = maintenance::purge_tombstones(db, retention)
        .await
        .context("purge the storage tables' tombstones")?;
    let total: u64 = purged.iter().map(|(_, count)| count).sum();
    let mut summary: Vec<String> = purged
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(projection, count)| format!("{projection}: {count}"))
        .collect();
    summary.insert(0, format!("{total} tombstone(s) older than {hours} h purged"));
    Ok(summary.join("\n"))
}

/// `kontor queue stats`.
pub async fn queue_stats(settings: &Settings, db: &SqlDatabase) -> anyhow::Result<()> {
    let bus = open_bus(settings, db).await?;
    let stats = bus.stats().await?;
    println!(
        "{:<44} {:>8} {:>8} {:>9} {:>8} {:>12} {:>9}",
        "queue", "ready", "delayed", "in-flight", "errors", "oldest", "consumers"
    );
    for queue in stats {
        let oldest = queue
            .oldest_ready_age
            .map_or_else(|| "-".to_owned(), |age| format!("{:.1}s", age.as_secs_f64()));
        let consumers = queue
            .consumers
            .map_or_else(|| "-".to_owned(), |count| count.to_string());
        println!(
            "{:<44} {:>8} {:>8} {:>9} {:>8} {:>12} {:>9}",
            queue.queue, queue.ready, queue.delayed, queue.in_flight, queue.dead_letters, oldest, consumers
        );
    }
    println!("outbox backlog: {}", db.outbox_backlog().await?);
    Ok(())
}

fn known_queue(queue: &str) -> anyhow::Result<String> {
    let base = queue
        .strip_suffix(kontor_queue::ERROR_QUEUE_SUFFIX)
        .unwrap_or(queue)
        .to_owned();
    let known = kontor_sync::pipeline::queue_names();
    if !known.contains(&base) {
        bail!("unknown queue {queue:?}; known: {}", known.join(", "));
    }
    Ok(base)
}

/// `kontor queue dead-letters <queue>`.
pub async fn dead_letters(settings: &Settings, db: &SqlDatabase, queue: &str, limit: usize) -> anyhow::Result<()> {
    let queue = known_queue(queue)?;
    let bus = open_bus(settings, db).await?;
    let letters = bus.dead_letters(&queue, limit).await?;
    for letter in &letters {
        println!(
            "{:>10}  attempts {}  first failed {}  last failed {}  {} bytes\n            reason: {}",
            letter.id,
            letter.attempts,
            letter.first_failed_at.to_rfc3339(),
            letter.last_failed_at.to_rfc3339(),
            letter.payload.len(),
            letter.reason
        );
    }
    println!("{} dead letter(s) on {queue}.error", letters.len());
    Ok(())
}

/// `kontor queue requeue <queue> [--ids …]`.
pub async fn requeue(settings: &Settings, db: &SqlDatabase, queue: &str, ids: &[i64]) -> anyhow::Result<()> {
    let queue = known_queue(queue)?;
    let bus = open_bus(settings, db).await?;
    let ids: Vec<kontor_queue::MessageId> = ids.iter().copied().map(kontor_queue::MessageId).collect();
    let moved = bus
        .requeue_dead_letters(&queue, (!ids.is_empty()).then_some(ids.as_slice()))
        .await?;
    println!("{moved} message(s) moved back to {queue}");
    Ok(())
}
