//! Direct mode (`../shared/spec/publish-sync.md` §8): relay, publish and write KV/search in one step,
//! without the queues. For tests, commands and small embedded shops; the queue-driven workers do the
//! same steps across processes.

use crate::SyncError;
use crate::projections::{self, Projection};
use crate::publisher::{PublishReport, Publisher, publish_concurrency};
use crate::routing::{Route, routes};
use crate::writers::{WriteReport, write_kv_owned, write_search_owned};
use kontor_db::SqlDatabase;
use kontor_domain::DomainError;
use kontor_kv::KvStore;
use kontor_search::SearchIndex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Outbox rows claimed per round.
pub const RELAY_BATCH: u64 = 1000;
/// Entity ids published per batch during a full re-publish.
pub const PUBLISH_BATCH: u64 = 500;

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RoundReport {
    pub outbox_rows: usize,
    pub documents: usize,
    pub written: usize,
    pub deleted: usize,
    pub kv: WriteReport,
    pub search: WriteReport,
}

#[derive(Clone)]
pub struct DirectSync {
    db: SqlDatabase,
    publisher: Publisher,
    kv: Arc<dyn KvStore>,
    search: Arc<dyn SearchIndex>,
}

/// Routes grouped by projection: the ids to rebuild, or everything.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub by_projection: BTreeMap<&'static str, (BTreeSet<i64>, bool)>,
}

impl Pending {
    pub fn add(&mut self, route: Route) {
        let entry = self.by_projection.entry(route.projection).or_default();
        entry.0.extend(route.ids);
        entry.1 |= route.all;
    }
}

impl DirectSync {
    pub fn new(db: SqlDatabase, kv: Arc<dyn KvStore>, search: Arc<dyn SearchIndex>) -> Self {
        Self {
            publisher: Publisher::new(db.clone()),
            db,
            kv,
            search,
        }
    }

    /// Relays outbox rows until none are left, publishing and applying each round; returns the totals.
    pub async fn drain(&self) -> Result<RoundReport, SyncError> {
        let mut total = RoundReport::default();
        loop {
            let round = self.run_once().await?;
            if round.outbox_rows == 0 {
                return Ok(total);
            }
            total.outbox_rows += round.outbox_rows;
            total.documents += round.documents;
            total.written += round.written;
            total.deleted += round.deleted;
            total.kv.applied += round.kv.applied;
            total.kv.skipped_stale += round.kv.skipped_stale;
            total.search.applied += round.search.applied;
            total.search.skipped_stale += round.search.skipped_stale;
        }
    }

    /// One round: claim up to [`RELAY_BATCH`] outbox rows and bring every document they touch up to date.
    pub async fn run_once(&self) -> Result<RoundReport, SyncError> {
        let mut report = RoundReport::default();
        let mut failure = None;
        let claimed = self
            .db
            .relay_outbox(RELAY_BATCH, |entries| {
                let mut pending = Pending::default();
                for entry in &entries {
                    for route in routes(entry) {
                        pending.add(route);
                    }
                }
                let report = &mut report;
                let failure = &mut failure;
                async move {
                    match self.apply_pending(pending, report).await {
                        Ok(()) => Ok(()),
                        Err(error) => {
                            let message = error.to_string();
                            *failure = Some(error);
                            Err(DomainError::Storage(message))
                        }
                    }
                }
            })
            .await;
        if let Some(error) = failure {
            return Err(error);
        }
        report.outbox_rows = claimed?;
        Ok(report)
    }

    async fn apply_pending(&self, pending: Pending, report: &mut RoundReport) -> Result<(), SyncError> {
        for (name, (ids, all)) in pending.by_projection {
            let Some(projection) = projections::by_name(name) else {
                continue;
            };
            if all {
                self.publish_all(&projection, report).await?;
            } else {
                let ids: Vec<i64> = ids.into_iter().collect();
                self.publish_ids(projection.as_ref(), &ids, report).await?;
            }
        }
        Ok(())
    }

    /// Re-publishes every entity of a projection (`kontor publish --resource R`), several pages at once.
    pub async fn publish_all(
        &self,
        projection: &Arc<dyn Projection>,
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        // Pages finish in any order; their counts go into the one report, one page at a time.
        let report = tokio::sync::Mutex::new(report);
        self.publisher
            .publish_all(projection, publish_concurrency(), |_, published| {
                let report = &report;
                async move {
                    let mut report = report.lock().await;
                    self.apply(projection.as_ref(), published, &mut report).await
                }
            })
            .await
    }

    /// Publishes these entities and applies the resulting ops.
    pub async fn publish_ids(
        &self,
        projection: &dyn Projection,
        ids: &[i64],
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        let published = self.publisher.publish(projection, ids).await?;
        self.apply(projection, published, report).await
    }

    /// Writes what a publish changed to the KV store or the search index.
    async fn apply(
        &self,
        projection: &dyn Projection,
        published: PublishReport,
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        report.documents += published.documents;
        report.written += published.written;
        report.deleted += published.deleted;
        let applied = if projection.is_search() {
            write_search_owned(self.search.as_ref(), published.ops).await?
        } else {
            write_kv_owned(self.kv.as_ref(), published.ops).await?
        };
        let target = if projection.is_search() {
            &mut report.search
        } else {
            &mut report.kv
        };
        target.applied += applied.applied;
        target.skipped_stale += applied.skipped_stale;
        Ok(())
    }
}
