//! The SQL side of publish & synchronize (`../shared/spec/publish-sync.md` §2, §5): claiming outbox rows
//! for the relay, and the per-projection storage tables with their stale-write guard.
//!
//! Storage tables share one shape, so they are addressed by projection name with sea-query statements
//! instead of one SeaORM entity per table; the statements are still built once for every engine.

use crate::SqlDatabase;
use crate::entity::outbox;
use crate::migration::storage_table_name;
use crate::repo::{outbox_entry, storage_error};
use kontor_domain::DomainError;
use kontor_domain::outbox::OutboxEntry;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

/// One row of a `<projection>_storage` / `product_page_search` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRow {
    pub key: String,
    pub entity_id: Option<i64>,
    pub store: Option<String>,
    pub locale: Option<String>,
    /// The document with `_timestamp`, as JSON text; `None` is a tombstone.
    pub data: Option<String>,
    /// Hash of the document without `_timestamp`; equal hashes mean nothing to send downstream.
    pub data_hash: String,
    /// Microseconds; equals the document's `_timestamp`.
    pub source_ts: i64,
}

/// What the stale-write guard decided for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// New or different: stored, and the change must go downstream.
    Written,
    /// Newer but the same document: only the timestamp advanced; nothing to send.
    Unchanged,
    /// Not newer than what is stored: dropped.
    Stale,
}

const COLUMNS: [&str; 7] = ["key", "entity_id", "store", "locale", "data", "data_hash", "source_ts"];
/// Rows per INSERT … ON CONFLICT statement, well under every engine's bind-parameter limit.
const UPSERT_CHUNK: usize = 200;

fn row_from(result: &QueryResult) -> Result<StorageRow, sea_orm::DbErr> {
    Ok(StorageRow {
        key: result.try_get("", "key")?,
        entity_id: result.try_get("", "entity_id")?,
        store: result.try_get("", "store")?,
        locale: result.try_get("", "locale")?,
        data: result.try_get("", "data")?,
        data_hash: result.try_get("", "data_hash")?,
        source_ts: result.try_get("", "source_ts")?,
    })
}

impl SqlDatabase {
    /// Storage rows of these entities (tombstones included).
    pub async fn storage_rows_by_entity(
        &self,
        projection: &str,
        entity_ids: &[i64],
    ) -> Result<Vec<StorageRow>, DomainError> {
        let mut rows = Vec::new();
        for chunk in entity_ids.chunks(1000) {
            let query = Query::select()
                .columns(COLUMNS.map(Alias::new))
                .from(Alias::new(storage_table_name(projection)))
                .and_where(Expr::col(Alias::new("entity_id")).is_in(chunk.iter().copied()))
                .to_owned();
            let results = self.connection().query_all(&query).await.map_err(storage_error)?;
            for result in &results {
                rows.push(row_from(result).map_err(storage_error)?);
            }
        }
        Ok(rows)
    }

    /// Storage rows with these keys (tombstones included).
    pub async fn storage_rows_by_keys(
        &self,
        projection: &str,
        keys: &[String],
    ) -> Result<Vec<StorageRow>, DomainError> {
        let mut rows = Vec::new();
        for chunk in keys.chunks(500) {
            let query = Query::select()
                .columns(COLUMNS.map(Alias::new))
                .from(Alias::new(storage_table_name(projection)))
                .and_where(Expr::col(Alias::new("key")).is_in(chunk.iter().cloned()))
                .to_owned();
            let results = self.connection().query_all(&query).await.map_err(storage_error)?;
            for result in &results {
                rows.push(row_from(result).map_err(storage_error)?);
            }
        }
        Ok(rows)
    }

    /// Writes rows through the stale-write guard in one transaction: a row not newer than the stored
    /// one is dropped; a newer row with the same hash only advances `source_ts`; anything else is stored.
    /// Returns one outcome per input row, in order.
    pub async fn write_storage_rows(
        &self,
        projection: &str,
        rows: &[StorageRow],
        now: i64,
    ) -> Result<Vec<RowOutcome>, DomainError> {
        let keys: Vec<String> = rows.iter().map(|row| row.key.clone()).collect();
        let (transaction, _turn) = self.write_transaction().await?;
        let mut stored: HashMap<String, (i64, String, bool)> = HashMap::new();
        for chunk in keys.chunks(500) {
            let query = Query::select()
                .columns(["key", "source_ts", "data_hash"].map(Alias::new))
                .expr_as(Expr::col(Alias::new("data")).is_null(), Alias::new("is_tombstone"))
                .from(Alias::new(storage_table_name(projection)))
                .and_where(Expr::col(Alias::new("key")).is_in(chunk.iter().cloned()))
                .to_owned();
            for result in transaction.query_all(&query).await.map_err(storage_error)? {
                let key: String = result.try_get("", "key").map_err(storage_error)?;
                let source_ts: i64 = result.try_get("", "source_ts").map_err(storage_error)?;
                let hash: String = result.try_get("", "data_hash").map_err(storage_error)?;
                let tombstone: bool = result.try_get("", "is_tombstone").map_err(storage_error)?;
                stored.insert(key, (source_ts, hash, tombstone));
            }
        }
        let keys_before = stored.len();
        let mut outcomes = Vec::with_capacity(rows.len());
        // Per key the last accepted row, and whether any accepted row for it changed the document.
        let mut to_write: Vec<(&StorageRow, bool)> = Vec::new();
        let mut latest: HashMap<&str, usize> = HashMap::new();
        for row in rows {
            let outcome = match stored.get(&row.key) {
                Some((source_ts, _, _)) if *source_ts >= row.source_ts => RowOutcome::Stale,
                Some((_, hash, tombstone)) if *hash == row.data_hash && *tombstone == row.data.is_none() => {
                    RowOutcome::Unchanged
                }
                _ => RowOutcome::Written,
            };
            if outcome != RowOutcome::Stale {
                stored.insert(
                    row.key.clone(),
                    (row.source_ts, row.data_hash.clone(), row.data.is_none()),
                );
                let changed = outcome == RowOutcome::Written;
                match latest.get(row.key.as_str()) {
                    Some(index) => {
                        let earlier_changed = to_write[*index].1;
                        to_write[*index] = (row, changed || earlier_changed);
                    }
                    None => {
                        latest.insert(&row.key, to_write.len());
                        to_write.push((row, changed));
                    }
                }
            }
            outcomes.push(outcome);
        }
        // Unchanged documents only move `source_ts` forward: the stored document (and its `_timestamp`)
        // stays what KV and search hold, so `sync verify` keeps comparing equal.
        let mut unchanged: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (row, changed) in &to_write {
            if !changed {
                unchanged.entry(row.source_ts).or_default().push(row.key.clone());
            }
        }
        for (source_ts, keys) in unchanged {
            for chunk in keys.chunks(500) {
                let update = Query::update()
                    .table(Alias::new(storage_table_name(projection)))
                    .value(Alias::new("source_ts"), source_ts)
                    .value(Alias::new("updated_at"), now)
                    .and_where(Expr::col(Alias::new("key")).is_in(chunk.iter().cloned()))
                    .to_owned();
                transaction.execute(&update).await.map_err(storage_error)?;
            }
        }
        let to_write: Vec<&StorageRow> = to_write
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(row, _)| row)
            .collect();
        for chunk in to_write.chunks(UPSERT_CHUNK) {
            let mut insert = Query::insert();
            insert.into_table(Alias::new(storage_table_name(projection))).columns(
                COLUMNS
                    .map(Alias::new)
                    .into_iter()
                    .chain([Alias::new("created_at"), Alias::new("updated_at")]),
            );
            for row in chunk {
                insert
                    .values([
                        row.key.clone().into(),
                        row.entity_id.into(),
                        row.store.clone().into(),
                        row.locale.clone().into(),
                        row.data.clone().into(),
                        row.data_hash.clone().into(),
                        row.source_ts.into(),
                        now.into(),
                        now.into(),
                    ])
                    .map_err(|error| DomainError::Storage(error.to_string()))?;
            }
            insert.on_conflict(
                OnConflict::column(Alias::new("key"))
                    .update_columns(
                        [
                            "entity_id",
                            "store",
                            "locale",
                            "data",
                            "data_hash",
                            "source_ts",
                            "updated_at",
                        ]
                        .map(Alias::new),
                    )
                    .to_owned(),
            );
            transaction.execute(&insert).await.map_err(storage_error)?;
        }
        transaction.commit().await.map_err(storage_error)?;
        drop(_turn);
        self.note_growth(&storage_table_name(projection), stored.len() - keys_before)
            .await
            .map_err(storage_error)?;
        Ok(outcomes)
    }

    /// Up to `limit` live rows (no tombstones) with a row id above `after_id`, in id order; for
    /// rebuilding KV and search from the tables.
    pub async fn scan_storage(
        &self,
        projection: &str,
        after_id: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StorageRow)>, DomainError> {
        let query = Query::select()
            .column(Alias::new("id"))
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new(storage_table_name(projection)))
            .and_where(Expr::col(Alias::new("id")).gt(after_id))
            .and_where(Expr::col(Alias::new("data")).is_not_null())
            .order_by(Alias::new("id"), Order::Asc)
            .limit(limit)
            .to_owned();
        self.rows_with_ids(&query).await
    }

    /// Up to `limit` rows, tombstones included, after `(after_ts, after_id)` in `(source_ts, id)` order:
    /// the change feed a search replica catches up from.
    pub async fn storage_changes(
        &self,
        projection: &str,
        after_ts: i64,
        after_id: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StorageRow)>, DomainError> {
        let source_ts = || Expr::col(Alias::new("source_ts"));
        let query = Query::select()
            .column(Alias::new("id"))
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new(storage_table_name(projection)))
            .cond_where(
                sea_orm::Condition::any().add(source_ts().gt(after_ts)).add(
                    sea_orm::Condition::all()
                        .add(source_ts().eq(after_ts))
                        .add(Expr::col(Alias::new("id")).gt(after_id)),
                ),
            )
            .order_by(Alias::new("source_ts"), Order::Asc)
            .order_by(Alias::new("id"), Order::Asc)
            .limit(limit)
            .to_owned();
        self.rows_with_ids(&query).await
    }

    /// Runs a select of `id` and [`COLUMNS`] into `(row id, row)` pairs.
    async fn rows_with_ids(
        &self,
        query: &sea_orm::sea_query::SelectStatement,
    ) -> Result<Vec<(i64, StorageRow)>, DomainError> {
        let results = self.connection().query_all(query).await.map_err(storage_error)?;
        results
            .iter()
            .map(|result| {
                let id: i64 = result.try_get("", "id").map_err(storage_error)?;
                Ok((id, row_from(result).map_err(storage_error)?))
            })
            .collect()
    }

    /// Deletes the tombstones (rows with `data` NULL) of a projection whose `source_ts` is before `before`
    /// (epoch µs), `batch` rows per transaction so writers are never held up for long; returns how many.
    ///
    /// A tombstone is what stops a late, older write from bringing a deleted document back: the
    /// stale-write guard of [`SqlDatabase::write_storage_rows`] drops a row whose `source_ts` is not newer
    /// than the stored row's, and without a stored row there is nothing to compare with. So only
    /// tombstones far older than any write can still be in flight may go: the caller picks `before` (the
    /// `sync.tombstone_retention_hours` setting). The cut-off is on `source_ts`, the very value the guard
    /// compares, so a write older than a purged tombstone is also older than the cut-off.
    ///
    /// Rows are found by walking the primary key (each batch continues after the last id found), so the
    /// whole purge reads the table once without an index on `data` or `source_ts`; the delete repeats the
    /// condition, so a tombstone overwritten by a new document in between is kept.
    pub async fn purge_storage_tombstones(
        &self,
        projection: &str,
        before: i64,
        batch: u64,
    ) -> Result<u64, DomainError> {
        let table = storage_table_name(projection);
        let is_old_tombstone = || {
            sea_orm::Condition::all()
                .add(Expr::col(Alias::new("data")).is_null())
                .add(Expr::col(Alias::new("source_ts")).lt(before))
        };
        let batch = Ord::max(batch, 1);
        let mut after_id = i64::MIN;
        let mut purged = 0_u64;
        loop {
            let query = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(table.as_str()))
                .and_where(Expr::col(Alias::new("id")).gt(after_id))
                .cond_where(is_old_tombstone())
                .order_by(Alias::new("id"), Order::Asc)
                .limit(batch)
                .to_owned();
            let ids: Vec<i64> = self
                .connection()
                .query_all(&query)
                .await
                .map_err(storage_error)?
                .iter()
                .map(|result| result.try_get("", "id"))
                .collect::<Result<_, _>>()
                .map_err(storage_error)?;
            let Some(last) = ids.last().copied() else {
                return Ok(purged);
            };
            let found = ids.len() as u64;
            let delete = Query::delete()
                .from_table(Alias::new(table.as_str()))
                .and_where(Expr::col(Alias::new("id")).is_in(ids))
                .cond_where(is_old_tombstone())
                .to_owned();
            let (transaction, _turn) = self.write_transaction().await?;
            let deleted = transaction
                .execute(&delete)
                .await
                .map_err(storage_error)?
                .rows_affected();
            transaction.commit().await.map_err(storage_error)?;
            purged += deleted;
            if found < batch {
                return Ok(purged);
            }
            after_id = last;
        }
    }

    /// Number of live rows in a projection's table.
    pub async fn count_storage(&self, projection: &str) -> Result<u64, DomainError> {
        let query = Query::select()
            .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("total"))
            .from(Alias::new(storage_table_name(projection)))
            .and_where(Expr::col(Alias::new("data")).is_not_null())
            .to_owned();
        let result = self.connection().query_one(&query).await.map_err(storage_error)?;
        let total: i64 = match result {
            Some(row) => row.try_get("", "total").map_err(storage_error)?,
            None => 0,
        };
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Claims up to `limit` unrelayed outbox rows, hands them to `relay` (which publishes them), and marks
    /// them relayed when it succeeds. A failed publish leaves them for the next round; a crash after
    /// publishing re-sends them (publishers are idempotent).
    ///
    /// On PostgreSQL and MariaDB the rows stay locked (`FOR UPDATE SKIP LOCKED`) while `relay` runs, so
    /// concurrent relays never send the same row. SQLite has a single writer, and `relay` may itself
    /// need to write (the SQL queue), so there the rows are read without a lock and marked afterwards;
    /// two relays on one SQLite file may then both send a row, which at-least-once delivery allows.
    pub async fn relay_outbox<F, Fut>(&self, limit: u64, relay: F) -> Result<usize, DomainError>
    where
        F: FnOnce(Vec<OutboxEntry>) -> Fut + Send,
        Fut: Future<Output = Result<(), DomainError>> + Send,
    {
        let unrelayed = self.unrelayed_outbox().limit(limit);
        if self.backend() == DbBackend::Sqlite {
            let rows = unrelayed.all(self.connection()).await.map_err(storage_error)?;
            if rows.is_empty() {
                return Ok(0);
            }
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            relay(rows.into_iter().map(outbox_entry).collect()).await?;
            let (transaction, _turn) = self.write_transaction().await?;
            self.mark_relayed(&transaction, &ids).await?;
            transaction.commit().await.map_err(storage_error)?;
            return Ok(ids.len());
        }
        // Most rounds find nothing: one plain read says so without opening a transaction.
        let pending: Option<i64> = self
            .unrelayed_outbox()
            .select_only()
            .column(outbox::Column::Id)
            .limit(1)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        if pending.is_none() {
            return Ok(0);
        }
        let (transaction, _turn) = self.write_transaction().await?;
        let rows = unrelayed
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&transaction)
            .await
            .map_err(storage_error)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        if let Err(error) = relay(rows.into_iter().map(outbox_entry).collect()).await {
            // Release the row locks now rather than when the pool gets round to it, so the next
            // round can claim the rows again at once.
            let _ = transaction.rollback().await;
            return Err(error);
        }
        self.mark_relayed(&transaction, &ids).await?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(ids.len())
    }

    /// Unrelayed outbox rows, oldest first.
    ///
    /// On PostgreSQL ordered as the (relayed_at, id) index is, which then hands out the oldest
    /// unrelayed rows directly. Ordered by id alone, PostgreSQL walked the primary key past every
    /// relayed row, or (without statistics) fetched and sorted the whole backlog, each round; without
    /// any order, statistics taken while an import's rows were still unrelayed made it scan the whole
    /// table for the first NULL on every poll (BENCHMARKS.md). Not on MariaDB: there, relays locking
    /// through that index while others move rows within it (marking them relayed) deadlocked (InnoDB
    /// error 1213).
    fn unrelayed_outbox(&self) -> sea_orm::Select<outbox::Entity> {
        let mut unrelayed = outbox::Entity::find().filter(outbox::Column::RelayedAt.is_null());
        if self.backend() == DbBackend::Postgres {
            unrelayed = unrelayed.order_by_asc(outbox::Column::RelayedAt);
        }
        unrelayed.order_by_asc(outbox::Column::Id)
    }

    async fn mark_relayed(&self, transaction: &sea_orm::DatabaseTransaction, ids: &[i64]) -> Result<(), DomainError> {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::RelayedAt, Expr::value(self.now_micros()))
            .filter(outbox::Column::Id.is_in(ids.iter().copied()))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Number of outbox rows still waiting for the relay.
    pub async fn outbox_backlog(&self) -> Result<u64, DomainError> {
        use sea_orm::PaginatorTrait;
        outbox::Entity::find()
            .filter(outbox::Column::RelayedAt.is_null())
            .count(self.connection())
            .await
            .map_err(storage_error)
    }

    /// Deletes relayed outbox rows older than `before` (epoch µs); returns how many.
    pub async fn purge_relayed_outbox(&self, before: i64) -> Result<u64, DomainError> {
        let deleted = outbox::Entity::delete_many()
            .filter(outbox::Column::RelayedAt.lt(before))
            .exec(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(deleted.rows_affected)
    }
}
