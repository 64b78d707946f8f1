//! Search replicas of the split deployment (`search.replicas = true`): every storefront node keeps its
//! own Tantivy index, fed by its own queue `sync.search.<projection>.<node_id>` subscribed to the search
//! topic, and catches up from the backend's storage feed when it starts (the queue then delivers what
//! came after; the index's timestamp guard makes the overlap harmless). The backend side of the feed,
//! over the storage tables, is [`SqlStorageFeed`].

use anyhow::{Context, bail};
use async_trait::async_trait;
use kontor_backoffice::feed::{FeedError, StorageFeed};
use kontor_config::Settings;
use kontor_db::SqlDatabase;
use kontor_queue::worker::{Worker, WorkerOptions};
use kontor_readmodel::{FeedCursor, FeedPage};
use kontor_search::{ReplicaStatus, SearchIndex};
use kontor_storefront::http_gateway::HttpGateway;
use kontor_sync::messages::replica_queue;
use kontor_sync::pipeline::{SEARCH_SYNC_BATCH, SearchSyncHandler, subscribe_search_queue};
use kontor_sync::projections::{self, Projection};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows per feed page while catching up.
const CATCH_UP_PAGE: u64 = 1000;
/// How far before its watermark a restarted replica re-reads the feed: publishers stamp documents
/// before they commit, so a row may become visible with a timestamp older than ones already applied.
const WATERMARK_MARGIN_MICROS: i64 = 60_000_000;
const WATERMARK_FILE: &str = "replica-watermark";

/// The backend's change feed over the storage tables.
pub struct SqlStorageFeed {
    pub db: SqlDatabase,
}

#[async_trait]
impl StorageFeed for SqlStorageFeed {
    async fn changes(&self, projection: &str, after: FeedCursor, limit: u64) -> Result<FeedPage, FeedError> {
        let Some(projection) = projections::by_name(projection) else {
            return Err(FeedError::UnknownProjection(projection.to_owned()));
        };
        kontor_sync::maintenance::changes_page(&self.db, projection.as_ref(), after, limit)
            .await
            .map_err(|error| FeedError::Storage(error.to_string()))
    }
}

fn search_projections() -> Vec<Arc<dyn Projection>> {
    projections::all()
        .into_iter()
        .filter(|projection| projection.is_search())
        .collect()
}

/// Runs this node's replica until `shutdown`: subscribe, catch up, then consume the node's queue.
pub async fn run(
    settings: Settings,
    search: Arc<dyn SearchIndex>,
    backend: Arc<HttpGateway>,
    status: Arc<ReplicaStatus>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if !settings.queue.url.starts_with("amqp://") {
        bail!(
            "search.replicas needs queue.url = amqp://…: a storefront node never connects to the database the SQL queue lives in"
        );
    }
    let node = settings.storefront_node_id();
    let bus = kontor_queue::open(&settings.queue.url, None, kontor_queue::BusOptions::default())
        .await
        .context("open the queue (queue.url)")?;
    let bus = kontor_queue::with_prefix(bus, &settings.queue.prefix);
    // Subscribe before reading the feed: whatever commits from now on reaches the queue, and whatever
    // committed before is in the feed.
    let queues = retry_until(&shutdown, "subscribe the search replica queue", || {
        subscribe_search_queue(bus.as_ref(), |projection| replica_queue(projection, &node))
    })
    .await?;
    let watermark_path = settings.data_dir.join("search").join(WATERMARK_FILE);
    let start = std::fs::read_to_string(&watermark_path)
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .map_or(0, |watermark| watermark.saturating_sub(WATERMARK_MARGIN_MICROS).max(0));
    let started = std::time::Instant::now();
    let mut documents = 0;
    for projection in search_projections() {
        documents += retry_until(&shutdown, "catch up from the backend's storage feed", || {
            catch_up(projection.as_ref(), start, search.as_ref(), backend.as_ref(), &status)
        })
        .await?;
    }
    status.mark_caught_up();
    tracing::info!(
        node,
        documents,
        from = start,
        seconds = started.elapsed().as_secs_f64(),
        "search replica caught up"
    );
    println!("search replica {node} caught up ({documents} documents from the backend)");

    let mut worker = Worker::new(Arc::clone(&bus)).with_options(WorkerOptions::default());
    for queue in queues {
        worker.register(
            queue,
            SEARCH_SYNC_BATCH,
            Arc::new(SearchSyncHandler::for_replica(Arc::clone(&search), Arc::clone(&status))),
        );
    }
    let saver = tokio::spawn(save_watermark(watermark_path, Arc::clone(&status), shutdown.clone()));
    worker.run(shutdown).await;
    saver.await.context("the watermark task failed")?;
    Ok(())
}

/// Applies a projection's feed from `start` (epoch µs) to the end; returns how many operations.
async fn catch_up(
    projection: &dyn Projection,
    start: i64,
    search: &dyn SearchIndex,
    backend: &HttpGateway,
    status: &ReplicaStatus,
) -> anyhow::Result<usize> {
    let mut cursor = FeedCursor { ts: start, id: 0 };
    let mut applied = 0;
    loop {
        let page = backend
            .storage_feed(projection.name(), cursor, CATCH_UP_PAGE)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        kontor_sync::writers::write_search(search, &page.ops)
            .await
            .context("apply the feed to the search index")?;
        // Only the watermark: the age of old documents read from the table is not a lag.
        let newest = page.ops.iter().map(kontor_readmodel::SyncOp::timestamp_micros).max();
        status.record(page.ops.len(), newest.unwrap_or(0), 0);
        applied += page.ops.len();
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(applied),
        }
    }
}

/// Retries `operation` with backoff (the backend or broker may still be starting) until it succeeds or
/// `shutdown`.
async fn retry_until<T, F, Fut, E>(shutdown: &CancellationToken, what: &str, mut operation: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                tracing::warn!(%error, "{what} failed; retrying in {delay:?}");
                tokio::select! {
                    () = shutdown.cancelled() => bail!("stopped before the search replica could {what}"),
                    () = tokio::time::sleep(delay) => {},
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Writes the replica's watermark every few seconds and at shutdown, so a restart re-reads only what
/// changed since (minus a margin).
async fn save_watermark(path: std::path::PathBuf, status: Arc<ReplicaStatus>, shutdown: CancellationToken) {
    let mut saved = 0;
    loop {
        let stopping = tokio::select! {
            () = shutdown.cancelled() => true,
            () = tokio::time::sleep(Duration::from_secs(5)) => false,
        };
        let watermark = status.applied_ts();
        if watermark > saved {
            let temporary = path.with_extension("tmp");
            let written =
                std::fs::write(&temporary, watermark.to_string()).and_then(|()| std::fs::rename(&temporary, &path));
            match written {
                Ok(()) => saved = watermark,
                Err(error) => tracing::warn!(%error, path = %path.display(), "could not save the replica watermark"),
            }
        }
        if stopping {
            return;
        }
    }
}
