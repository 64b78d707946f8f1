//! Rebuilding KV and search from the storage tables (`kontor sync`) and finding drift between them
//! (`kontor sync verify`). The storage tables are the single SQL copy of the read model, so both work
//! at any time from them alone.

use crate::SyncError;
use crate::projections::{Document, Projection};
use crate::writers::{write_kv_owned, write_search_owned};
use kontor_db::{SqlDatabase, StorageRow};
use kontor_kv::KvStore;
use kontor_readmodel::{FeedCursor, FeedPage, SyncEntry, SyncOp};
use kontor_search::SearchIndex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio_util::task::AbortOnDropHandle;

const PAGE: u64 = 500;
/// KV documents per page while `sync verify` walks a projection's keys.
const KV_WALK_PAGE: usize = 1000;

/// Tombstones deleted per transaction by [`purge_tombstones`].
pub const TOMBSTONE_PURGE_BATCH: u64 = 1000;

/// Deletes tombstone rows (deleted documents) older than `retention` from every projection's table;
/// returns the number purged per projection, in projection order (`kontor sync purge-tombstones` and the
/// built-in `sync-purge-tombstones` job).
///
/// Why a tombstone must outlive every late message: a publisher stamps its rows with the start of its read
/// snapshot, and the stale-write guard drops a row that is not newer than the stored one. A publisher
/// that read the document just before it was deleted, and writes after the delete (a slow batch, a retry,
/// a worker paused for a while), carries an older stamp than the tombstone and is dropped — but only while
/// the tombstone is there: against a missing row the same write would insert the document again. Purging
/// only tombstones whose own stamp is older than `retention` keeps that protection for any write delayed
/// by less than `retention` (default a week, against seconds of normal publishing). The KV store keeps its
/// own tombstones (24 h TTL) for the same reason one hop later. A search replica catching up from the
/// storage feed also learns deletes only from tombstones, so one that was down longer than `retention`
/// must be rebuilt rather than caught up.
pub async fn purge_tombstones(
    db: &SqlDatabase,
    retention: std::time::Duration,
) -> Result<Vec<(&'static str, u64)>, SyncError> {
    let retention_micros = i64::try_from(retention.as_micros()).unwrap_or(i64::MAX);
    let before = chrono::Utc::now().timestamp_micros().saturating_sub(retention_micros);
    let mut purged = Vec::new();
    for projection in crate::projections::all() {
        let count = db
            .purge_storage_tombstones(projection.name(), before, TOMBSTONE_PURGE_BATCH)
            .await?;
        purged.push((projection.name(), count));
    }
    Ok(purged)
}

/// One page of a projection's live storage rows as sync write ops, and the row id to continue after
/// (`None` when the table is exhausted).
pub async fn stored_page(
    db: &SqlDatabase,
    projection: &dyn Projection,
    after: i64,
) -> Result<(Vec<SyncOp>, Option<i64>), SyncError> {
    let page = db.scan_storage(projection.name(), after, PAGE).await?;
    let next = page.last().map(|(id, _)| *id);
    let ops = page
        .iter()
        .map(|(_, row)| write_op(projection, row))
        .collect::<Result<_, _>>()?;
    Ok((ops, next))
}

/// One page of a projection's change feed after `cursor`: live rows as writes, tombstones as deletes
/// (carrying the tombstone's timestamp, so an older write cannot resurrect the document).
pub async fn changes_page(
    db: &SqlDatabase,
    projection: &dyn Projection,
    cursor: FeedCursor,
    limit: u64,
) -> Result<FeedPage, SyncError> {
    let rows = db
        .storage_changes(projection.name(), cursor.ts, cursor.id, limit)
        .await?;
    let next = match rows.last() {
        Some((id, row)) if rows.len() as u64 == limit => Some(FeedCursor {
            ts: row.source_ts,
            id: *id,
        }),
        _ => None,
    };
    let ops = rows
        .iter()
        .map(|(_, row)| match row.data {
            Some(_) => write_op(projection, row),
            None => Ok(SyncOp::Delete(SyncEntry {
                key: row.key.clone(),
                resource: projection.name().to_owned(),
                params: crate::publisher::sync_params(projection, row),
                value: kontor_readmodel::stamp(json!({}), row.source_ts),
            })),
        })
        .collect::<Result<_, _>>()?;
    Ok(FeedPage { ops, next })
}

/// The sync write op that puts a stored row into KV or search.
fn write_op(projection: &dyn Projection, row: &StorageRow) -> Result<SyncOp, SyncError> {
    let value: Value = serde_json::from_str(row.data.as_deref().unwrap_or("{}")).map_err(SyncError::json)?;
    let params = crate::publisher::sync_params(projection, row);
    Ok(write_entry(projection, row.key.clone(), params, value))
}

/// A stored row as its sync write op, followed by the alternate-key mappings the document carries
/// (KV only), which take the document's `_timestamp`. The document is parsed once and moved, not copied.
fn rebuild_ops(projection: &dyn Projection, row: StorageRow, ops: &mut Vec<SyncOp>) -> Result<(), SyncError> {
    let mut data: Value = serde_json::from_str(row.data.as_deref().unwrap_or("{}")).map_err(SyncError::json)?;
    let params = crate::publisher::sync_params(projection, &row);
    if projection.is_search() {
        ops.push(write_entry(projection, row.key, params, data));
        return Ok(());
    }
    let stamp = data.as_object_mut().and_then(|object| object.remove("_timestamp"));
    let document = Document {
        key: row.key,
        entity_id: row.entity_id.unwrap_or_default(),
        store: row.store,
        locale: row.locale,
        data,
    };
    let mappings = projection.mappings(&document);
    let Document { key, mut data, .. } = document;
    if let (Some(object), Some(stamp)) = (data.as_object_mut(), stamp.clone()) {
        object.insert("_timestamp".to_owned(), stamp);
    }
    ops.push(write_entry(projection, key, params, data));
    for (key, mut value) in mappings {
        if let (Some(object), Some(stamp)) = (value.as_object_mut(), stamp.clone()) {
            object.insert("_timestamp".to_owned(), stamp);
        }
        ops.push(write_entry(projection, key, json!([]), value));
    }
    Ok(())
}

fn write_entry(projection: &dyn Projection, key: String, params: Value, value: Value) -> SyncOp {
    SyncOp::Write(SyncEntry {
        key,
        resource: projection.name().to_owned(),
        params,
        value,
    })
}

/// Documents a rebuild writes to the search index per commit. Each commit flushes a segment per store ×
/// locale index; commits of one read page (500) left hundreds of small segments that the merge threads
/// then spent a third of `kontor sync`'s CPU combining (BENCHMARKS.md, session 15).
const SEARCH_REBUILD_BATCH: usize = 10_000;
/// KV documents a rebuild writes per transaction (one commit, one fsync on redb).
const KV_REBUILD_BATCH: usize = 5_000;

/// Rewrites a projection's KV keys or search documents from its storage table; `progress` is told how
/// many documents each batch wrote. Returns the number of documents.
///
/// A task of its own reads and parses the rows while this one writes the previous batch, so reading
/// (SQL, JSON) and writing (encoding, redb or Tantivy) use two cores; at most two batches wait between
/// them.
pub async fn rebuild(
    db: &SqlDatabase,
    projection: &Arc<dyn Projection>,
    kv: &dyn KvStore,
    search: &dyn SearchIndex,
    mut progress: impl FnMut(usize),
) -> Result<usize, SyncError> {
    let batch_size = if projection.is_search() {
        SEARCH_REBUILD_BATCH
    } else {
        KV_REBUILD_BATCH
    };
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Result<(Vec<SyncOp>, usize), SyncError>>(2);
    let reader = {
        let (db, projection) = (db.clone(), Arc::clone(projection));
        AbortOnDropHandle::new(tokio::spawn(async move {
            let read = async {
                let mut after = 0;
                let (mut ops, mut documents) = (Vec::new(), 0);
                loop {
                    let page = db.scan_storage(projection.name(), after, PAGE).await?;
                    let Some((last, _)) = page.last() else {
                        return Ok::<_, SyncError>((ops, documents));
                    };
                    after = *last;
                    for (_, row) in page {
                        rebuild_ops(projection.as_ref(), row, &mut ops)?;
                        documents += 1;
                    }
                    if documents >= batch_size {
                        let full = (std::mem::take(&mut ops), std::mem::take(&mut documents));
                        if sender.send(Ok(full)).await.is_err() {
                            // The writer failed and stopped listening.
                            return Ok((Vec::new(), 0));
                        }
                    }
                }
            };
            let last = read.await;
            let _ = sender.send(last).await;
        }))
    };
    let mut written = 0;
    while let Some(batch) = batches.recv().await {
        let (ops, documents) = batch?;
        if documents == 0 {
            continue;
        }
        if projection.is_search() {
            write_search_owned(search, ops).await?;
        } else {
            write_kv_owned(kv, ops).await?;
        }
        written += documents;
        progress(documents);
    }
    reader
        .await
        .map_err(|error| SyncError::Storage(format!("reading the storage table failed: {error}")))?;
    if projection.is_search() && written > 0 {
        search
            .compact()
            .await
            .map_err(|error| SyncError::Search(error.to_string()))?;
    }
    Ok(written)
}

/// Keys that differ between a projection's storage table and its target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    pub checked: usize,
    pub missing: Vec<String>,
    pub different: Vec<String>,
    pub extra: Vec<String>,
}

impl Drift {
    pub fn total(&self) -> usize {
        self.missing.len() + self.different.len() + self.extra.len()
    }

    /// The lines `kontor sync verify` prints for `projection`: the counts, then up to ten keys of each kind.
    pub fn report(&self, projection: &str) -> Vec<String> {
        let mut lines = vec![format!(
            "{projection:<24} {:>8} checked  {:>5} missing  {:>5} different  {:>5} extra",
            self.checked,
            self.missing.len(),
            self.different.len(),
            self.extra.len()
        )];
        for (label, keys) in [
            ("missing", &self.missing),
            ("different", &self.different),
            ("extra", &self.extra),
        ] {
            lines.extend(keys.iter().take(10).map(|key| format!("  {label}: {key}")));
        }
        lines
    }
}

/// Compares a projection's storage table with the KV store or the search index.
pub async fn verify(
    db: &SqlDatabase,
    projection: &dyn Projection,
    kv: &dyn KvStore,
    search: &dyn SearchIndex,
) -> Result<Drift, SyncError> {
    if projection.is_search() {
        verify_search(db, projection, search).await
    } else {
        verify_kv(db, projection, kv).await
    }
}

async fn verify_kv(db: &SqlDatabase, projection: &dyn Projection, kv: &dyn KvStore) -> Result<Drift, SyncError> {
    let kv_error = |error: kontor_kv::KvError| SyncError::Kv(error.to_string());
    let mut drift = Drift::default();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut after = 0;
    loop {
        let (ops, next) = stored_page(db, projection, after).await?;
        let Some(next) = next else { break };
        after = next;
        let keys: Vec<String> = ops.iter().map(|op| op.entry().key.clone()).collect();
        let stored = kv.get_many(&keys).await.map_err(kv_error)?;
        for (op, actual) in ops.iter().zip(stored) {
            let key = &op.entry().key;
            drift.checked += 1;
            match actual {
                None => drift.missing.push(key.clone()),
                Some(actual) if actual != op.entry().value => drift.different.push(key.clone()),
                Some(_) => {}
            }
            expected.insert(key.clone());
        }
    }
    let prefix = format!("{}:", projection.name());
    // One walk over the prefix: on Redis paging with `scan_prefix` would scan the whole keyspace per page.
    let mut walk = kv.walk_prefix(&prefix, KV_WALK_PAGE).await.map_err(kv_error)?;
    loop {
        let page = walk.next_page().await.map_err(kv_error)?;
        if page.is_empty() {
            break;
        }
        for (key, _) in page {
            // Alternate-key mappings (`…:sku:100`) are derived from documents, not stored rows.
            if !expected.contains(&key) && !key.contains(":sku:") {
                drift.extra.push(key);
            }
        }
    }
    Ok(drift)
}

async fn verify_search(
    db: &SqlDatabase,
    projection: &dyn Projection,
    search: &dyn SearchIndex,
) -> Result<Drift, SyncError> {
    let mut drift = Drift::default();
    let mut expected: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
    let mut after = 0;
    loop {
        let (ops, next) = stored_page(db, projection, after).await?;
        let Some(next) = next else { break };
        after = next;
        for op in ops {
            let entry = op.entry();
            let store = entry.params["store"].as_str().unwrap_or_default().to_uppercase();
            let locale = entry.params["locale"].as_str().unwrap_or_default().to_owned();
            expected
                .entry((store, locale))
                .or_default()
                .insert(entry.key.clone(), op.timestamp_micros());
        }
    }
    for ((store, locale), keys) in expected {
        let store_name = kontor_core::StoreName::parse(&store)
            .map_err(|error| SyncError::Document(format!("store {store}: {error}")))?;
        let locale_name = locale_name(&locale)?;
        let indexed: HashMap<String, u64> = search
            .keys(&store_name, &locale_name)
            .await
            .map_err(|error| SyncError::Search(error.to_string()))?
            .into_iter()
            .map(|entry| (entry.key, entry.timestamp_micros))
            .collect();
        for (key, version) in &keys {
            drift.checked += 1;
            match indexed.get(key) {
                None => drift.missing.push(key.clone()),
                Some(indexed) if i64::try_from(*indexed).unwrap_or_default() < *version => {
                    drift.different.push(key.clone())
                }
                Some(_) => {}
            }
        }
        drift
            .extra
            .extend(indexed.keys().filter(|key| !keys.contains_key(*key)).cloned());
    }
    Ok(drift)
}

/// `en_us` (as keys spell it) back to `en_US`.
fn locale_name(lower: &str) -> Result<kontor_core::LocaleName, SyncError> {
    let fixed = match lower.split_once('_') {
        Some((language, region)) => format!("{language}_{}", region.to_uppercase()),
        None => lower.to_owned(),
    };
    kontor_core::LocaleName::parse(&fixed).map_err(|error| SyncError::Document(format!("locale {lower}: {error}")))
}
