//! The publisher: rebuilds a projection's documents for a set of entities, writes them through the
//! storage tables' stale-write guard, and returns the sync operations for what really changed.

use crate::SyncError;
use crate::direct::PUBLISH_BATCH;
use crate::projections::{Document, Projection};
use futures_util::TryStreamExt;
use kontor_db::{RowOutcome, SqlDatabase, StorageRow};
use kontor_readmodel::{SyncEntry, SyncOp, stamp, timestamp_seconds};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio_util::task::AbortOnDropHandle;

/// What one publish did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PublishReport {
    pub documents: usize,
    pub written: usize,
    pub unchanged: usize,
    pub stale: usize,
    pub deleted: usize,
    /// The operations to send to `sync.storage.*` / `sync.search.*`.
    pub ops: Vec<SyncOp>,
}

#[derive(Clone)]
pub struct Publisher {
    db: SqlDatabase,
}

/// How many pages a full re-publish builds at once: two per core. A page spends much of its time waiting
/// (for its reads, for SQLite's write turn, for the queue), and with one page per core a 2-core machine
/// stood idle for a third of `kontor publish` (BENCHMARKS.md, session 15); a second page per core fills
/// those waits.
pub fn publish_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |cores| cores.get())
        .saturating_mul(2)
        .clamp(4, 16)
}

/// Hash of a document without `_timestamp`: canonical JSON (object keys sorted), SHA-256, 128 bits.
pub fn document_hash(data: &Value) -> String {
    text_hash(&serde_json::to_string(data).unwrap_or_default())
}

fn text_hash(canonical: &str) -> String {
    hex::encode(&Sha256::digest(canonical.as_bytes())[..16])
}

/// The stored text of a document: its canonical JSON with `_timestamp` put in front, so the document is
/// serialized once for both its hash and its row (the text parses to the same value as the stamped
/// document; key order in the text carries no meaning).
fn stamped_text(canonical: &str, data: &Value, micros: i64) -> Result<String, SyncError> {
    if !data.is_object() || data.get("_timestamp").is_some() {
        // `stamp` wraps anything else, and replaces a `_timestamp` a document already carries (which the
        // text would then hold twice); the rare cases take the long way.
        return serde_json::to_string(&stamp(data.clone(), micros)).map_err(SyncError::json);
    }
    let seconds = serde_json::to_string(&Value::from(timestamp_seconds(micros))).map_err(SyncError::json)?;
    let rest = &canonical[1..];
    let separator = if rest == "}" { "" } else { "," };
    Ok(format!("{{\"_timestamp\":{seconds}{separator}{rest}"))
}

impl Publisher {
    pub fn new(db: SqlDatabase) -> Self {
        Self { db }
    }

    /// Re-publishes every entity of `projection`: pages of [`PUBLISH_BATCH`] ids in ascending order, up to
    /// `concurrency` pages built and written at once. A page's documents are independent of other pages'
    /// (disjoint entities, so disjoint keys), and the storage tables' stale-write guard orders writes per
    /// key, so pages may finish in any order. Each finished page's size and report go to `on_page`.
    ///
    /// `on_page` runs inside the page's own future, beside the others, not in a loop that consumes
    /// finished pages: such a loop leaves the pending pages unpolled while it waits, and a page that
    /// meanwhile was handed what it queued for (a pooled connection, SQLite's write turn) holds it
    /// unpolled. When the loop's own step queues for the same thing (the SQL queue's send needs a
    /// connection), that is a deadlock: `kontor serve` stalled at its first re-publish in a trial where
    /// the SQL queue's sends took SQLite's write turn (BENCHMARKS.md, session 9).
    pub async fn publish_all<F, Fut>(
        &self,
        projection: &Arc<dyn Projection>,
        concurrency: usize,
        on_page: F,
    ) -> Result<(), SyncError>
    where
        F: Fn(usize, PublishReport) -> Fut,
        Fut: Future<Output = Result<(), SyncError>>,
    {
        let pages = futures_util::stream::try_unfold(Some(i64::MIN), move |after| async move {
            let Some(after) = after else { return Ok(None) };
            let page = projection.ids_after(&self.db, after, PUBLISH_BATCH).await?;
            let Some(last) = page.last().copied() else {
                return Ok(None);
            };
            // A short page is the last one: no query just to learn that nothing follows.
            let next = (page.len() as u64 == PUBLISH_BATCH).then_some(last);
            Ok::<_, SyncError>(Some((page, next)))
        });
        let on_page = &on_page;
        pages
            .try_for_each_concurrent(concurrency.max(1), |page| async move {
                let size = page.len();
                let report = self.publish_on_task(projection, page).await?;
                on_page(size, report).await
            })
            .await
    }

    /// [`Publisher::publish`] on a task of its own. Building documents is CPU work: pages driven by one
    /// task (`try_for_each_concurrent`, or `kontor publish`'s main thread) take turns on one core while the
    /// others idle, so a full re-publish used 1.2 of 2 cores (BENCHMARKS.md, session 15). The task is
    /// aborted if the caller gives up on it, so a failed page does not leave others publishing on.
    pub async fn publish_on_task(
        &self,
        projection: &Arc<dyn Projection>,
        ids: Vec<i64>,
    ) -> Result<PublishReport, SyncError> {
        let (publisher, projection) = (self.clone(), Arc::clone(projection));
        let task = tokio::spawn(async move { publisher.publish(projection.as_ref(), &ids).await });
        AbortOnDropHandle::new(task)
            .await
            .map_err(|error| SyncError::Document(format!("publishing task failed: {error}")))?
    }

    /// Rebuilds the documents of `ids`. Documents that no longer exist become tombstones; their sync ops
    /// delete the KV keys / search documents (and any alternate-key mappings they carried).
    pub async fn publish(&self, projection: &dyn Projection, ids: &[i64]) -> Result<PublishReport, SyncError> {
        // The stamp is taken before reading, so a later read always carries a later stamp.
        let timestamp = chrono::Utc::now().timestamp_micros();
        let documents = projection.build(&self.db, ids).await?;
        let previous = self.db.storage_rows_by_entity(projection.name(), ids).await?;
        let previous_by_key: HashMap<&str, &StorageRow> = previous.iter().map(|row| (row.key.as_str(), row)).collect();
        let mut report = PublishReport {
            documents: documents.len(),
            ..PublishReport::default()
        };

        // Each document is stamped in place and kept by key until its row's outcome is known, so the
        // sync op takes the very value that was stored (no copy of the document, no re-parse).
        let mut rows = Vec::with_capacity(documents.len());
        let mut stamped: HashMap<String, Document> = HashMap::with_capacity(documents.len());
        for mut document in documents {
            let canonical = serde_json::to_string(&document.data).map_err(SyncError::json)?;
            let data = stamped_text(&canonical, &document.data, timestamp)?;
            document.data = stamp(std::mem::take(&mut document.data), timestamp);
            rows.push(StorageRow {
                key: document.key.clone(),
                entity_id: Some(document.entity_id),
                store: document.store.clone(),
                locale: document.locale.clone(),
                data: Some(data),
                data_hash: text_hash(&canonical),
                source_ts: timestamp,
            });
            stamped.insert(document.key.clone(), document);
        }
        let vanished: Vec<&StorageRow> = previous
            .iter()
            .filter(|row| row.data.is_some() && !stamped.contains_key(row.key.as_str()))
            .collect();
        for row in &vanished {
            rows.push(StorageRow {
                data: None,
                data_hash: String::new(),
                source_ts: timestamp,
                ..(*row).clone()
            });
        }

        let outcomes = self.db.write_storage_rows(projection.name(), &rows, timestamp).await?;
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                RowOutcome::Stale => report.stale += 1,
                RowOutcome::Unchanged => report.unchanged += 1,
                RowOutcome::Written => {
                    let before = previous_by_key
                        .get(row.key.as_str())
                        .and_then(|stored| stored_document(stored, false));
                    if row.data.is_some() {
                        report.written += 1;
                        // A key a projection built twice in one batch: the later rows read the stored text.
                        let document = match stamped.remove(row.key.as_str()) {
                            Some(document) => document,
                            None => stored_document(row, true)
                                .ok_or_else(|| SyncError::Document(format!("unreadable document {}", row.key)))?,
                        };
                        emit_write(projection, row, document, before.as_ref(), timestamp, &mut report.ops);
                    } else {
                        report.deleted += 1;
                        emit_delete(projection, row, before.as_ref(), timestamp, &mut report.ops);
                    }
                }
            }
        }
        Ok(report)
    }
}

/// The document a storage row holds; without `_timestamp` unless `stamped`, to find the mappings it carried.
fn stored_document(row: &StorageRow, stamped: bool) -> Option<Document> {
    let mut data: Value = serde_json::from_str(row.data.as_deref()?).ok()?;
    if !stamped && let Some(object) = data.as_object_mut() {
        object.remove("_timestamp");
    }
    Some(Document {
        key: row.key.clone(),
        entity_id: row.entity_id.unwrap_or_default(),
        store: row.store.clone(),
        locale: row.locale.clone(),
        data,
    })
}

/// The `params` of a sync op: the search index scope for search documents, `[]` for KV.
pub(crate) fn sync_params(projection: &dyn Projection, row: &StorageRow) -> Value {
    if projection.is_search() {
        json!({
            "type": "page",
            "store": row.store.as_deref().unwrap_or_default().to_lowercase(),
            "locale": row.locale.as_deref().unwrap_or_default().to_lowercase(),
        })
    } else {
        json!([])
    }
}

fn entry(projection: &dyn Projection, key: String, params: Value, value: Value) -> SyncEntry {
    SyncEntry {
        key,
        resource: projection.name().to_owned(),
        params,
        value,
    }
}

/// The write of a stamped document, plus its mappings: new ones written, those of `before` it no longer
/// carries deleted.
fn emit_write(
    projection: &dyn Projection,
    row: &StorageRow,
    document: Document,
    before: Option<&Document>,
    timestamp: i64,
    ops: &mut Vec<SyncOp>,
) {
    let mappings = projection.mappings(&document);
    ops.push(SyncOp::Write(entry(
        projection,
        row.key.clone(),
        sync_params(projection, row),
        document.data,
    )));
    let current: HashSet<&str> = mappings.iter().map(|(key, _)| key.as_str()).collect();
    if let Some(before) = before {
        for (key, _) in projection.mappings(before) {
            if !current.contains(key.as_str()) {
                ops.push(SyncOp::Delete(entry(
                    projection,
                    key,
                    json!([]),
                    stamp(json!({}), timestamp),
                )));
            }
        }
    }
    for (key, mapping) in mappings {
        ops.push(SyncOp::Write(entry(
            projection,
            key,
            json!([]),
            stamp(mapping, timestamp),
        )));
    }
}

fn emit_delete(
    projection: &dyn Projection,
    row: &StorageRow,
    before: Option<&Document>,
    timestamp: i64,
    ops: &mut Vec<SyncOp>,
) {
    ops.push(SyncOp::Delete(entry(
        projection,
        row.key.clone(),
        sync_params(projection, row),
        stamp(json!({}), timestamp),
    )));
    for (key, _) in before.map(|document| projection.mappings(document)).unwrap_or_default() {
        ops.push(SyncOp::Delete(entry(
            projection,
            key,
            json!([]),
            stamp(json!({}), timestamp),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_text_is_the_stamped_document() {
        let micros = 1_795_511_702_123_456;
        for data in [
            json!({"sku": "100", "Name": "Fjell", "attributes": {"color": "Blue"}, "ids": [1, 2]}),
            json!({}),
            json!([1, 2]),
            json!({"_timestamp": 1.5, "sku": "100"}),
        ] {
            let canonical = serde_json::to_string(&data).expect("serialises");
            let text = stamped_text(&canonical, &data, micros).expect("stamps");
            let parsed: Value = serde_json::from_str(&text).expect("parses");
            assert_eq!(parsed, stamp(data.clone(), micros), "{text}");
            assert_eq!(text_hash(&canonical), document_hash(&data));
        }
    }
}
