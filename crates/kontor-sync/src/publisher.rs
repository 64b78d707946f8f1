//! The publisher: rebuilds a projection's documents for a set of entities, writes them through the
//! storage tables' stale-write guard, and returns the sync operations for what really changed.

use crate::SyncError;
use crate::projections::{Document, Projection};
use kontor_db::{RowOutcome, SqlDatabase, StorageRow};
use kontor_readmodel::{SyncEntry, SyncOp, stamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

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

/// Hash of a document without `_timestamp`: canonical JSON (object keys sorted), SHA-256, 128 bits.
pub fn document_hash(data: &Value) -> String {
    let canonical = serde_json::to_string(data).unwrap_or_default();
    hex::encode(&Sha256::digest(canonical.as_bytes())[..16])
}

impl Publisher {
    pub fn new(db: SqlDatabase) -> Self {
        Self { db }
    }

    /// Rebuilds the documents of `ids`. Documents that no longer exist become tombstones; their sync ops
    /// delete the KV keys / search documents (and any alternate-key mappings they carried).
    pub async fn publish(&self, projection: &dyn Projection, ids: &[i64]) -> Result<PublishReport, SyncError> {
        // The stamp is taken before reading, so a later read always carries a later stamp.
        let timestamp = chrono::Utc::now().timestamp_micros();
        let documents = projection.build(&self.db, ids).await?;
        let previous = self.db.storage_rows_by_entity(projection.name(), ids).await?;
        let previous_by_key: HashMap<&str, &StorageRow> = previous.iter().map(|row| (row.key.as_str(), row)).collect();
        let new_keys: HashSet<&str> = documents.iter().map(|document| document.key.as_str()).collect();

        let mut rows = Vec::with_capacity(documents.len());
        for document in &documents {
            let stamped = stamp(document.data.clone(), timestamp);
            rows.push(StorageRow {
                key: document.key.clone(),
                entity_id: Some(document.entity_id),
                store: document.store.clone(),
                locale: document.locale.clone(),
                data: Some(serde_json::to_string(&stamped).map_err(SyncError::json)?),
                data_hash: document_hash(&document.data),
                source_ts: timestamp,
            });
        }
        let vanished: Vec<&StorageRow> = previous
            .iter()
            .filter(|row| row.data.is_some() && !new_keys.contains(row.key.as_str()))
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
        let mut report = PublishReport {
            documents: documents.len(),
            ..PublishReport::default()
        };
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                RowOutcome::Stale => report.stale += 1,
                RowOutcome::Unchanged => report.unchanged += 1,
                RowOutcome::Written => {
                    let before = previous_by_key
                        .get(row.key.as_str())
                        .and_then(|stored| previous_document(stored));
                    match row.data.as_deref() {
                        Some(data) => {
                            report.written += 1;
                            let value: Value = serde_json::from_str(data).map_err(SyncError::json)?;
                            let document = documents.iter().find(|document| document.key == row.key);
                            emit_write(
                                projection,
                                row,
                                value,
                                document,
                                before.as_ref(),
                                timestamp,
                                &mut report.ops,
                            );
                        }
                        None => {
                            report.deleted += 1;
                            emit_delete(projection, row, before.as_ref(), timestamp, &mut report.ops);
                        }
                    }
                }
            }
        }
        Ok(report)
    }
}

/// The stored document of a row, unstamped, to find the mappings it carried.
fn previous_document(row: &StorageRow) -> Option<Document> {
    let mut data: Value = serde_json::from_str(row.data.as_deref()?).ok()?;
    if let Some(object) = data.as_object_mut() {
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

fn emit_write(
    projection: &dyn Projection,
    row: &StorageRow,
    value: Value,
    document: Option<&Document>,
    before: Option<&Document>,
    timestamp: i64,
    ops: &mut Vec<SyncOp>,
) {
    ops.push(SyncOp::Write(entry(
        projection,
        row.key.clone(),
        sync_params(projection, row),
        value,
    )));
    let mappings = document
        .map(|document| projection.mappings(document))
        .unwrap_or_default();
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
