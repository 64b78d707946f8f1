//! Sync writers: apply sync operations to the KV store and the search index, in one batch each.
//! Both targets guard by `_timestamp`, so replays and reordering never make data older.

use crate::SyncError;
use kontor_kv::{KvOp, KvStore};
use kontor_readmodel::search::ProductPageDocument;
use kontor_readmodel::{SyncOp, timestamp_micros};
use kontor_search::{SearchIndex, SearchOp};
use serde_json::Value;

/// What a writer did with a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteReport {
    pub applied: usize,
    pub skipped_stale: usize,
}

fn stamp_of(value: &Value) -> i64 {
    value
        .get("_timestamp")
        .and_then(Value::as_f64)
        .map_or(0, timestamp_micros)
}

/// Applies storage ops to the KV store in one round trip.
pub async fn write_kv(kv: &dyn KvStore, ops: &[SyncOp]) -> Result<WriteReport, SyncError> {
    write_kv_owned(kv, ops.to_vec()).await
}

/// [`write_kv`] for ops the caller is done with: their documents move into the KV ops uncopied.
pub async fn write_kv_owned(kv: &dyn KvStore, ops: Vec<SyncOp>) -> Result<WriteReport, SyncError> {
    let mut kv_ops = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            SyncOp::Write(entry) => {
                kv_ops.push(
                    KvOp::write_document(entry.key, entry.value).map_err(|error| SyncError::Kv(error.to_string()))?,
                );
            }
            SyncOp::Delete(entry) => {
                let stamp = stamp_of(&entry.value);
                kv_ops.push(KvOp::delete(entry.key, stamp));
            }
        }
    }
    if kv_ops.is_empty() {
        return Ok(WriteReport::default());
    }
    let report = kv
        .apply(&kv_ops)
        .await
        .map_err(|error| SyncError::Kv(error.to_string()))?;
    Ok(WriteReport {
        applied: report.applied,
        skipped_stale: report.skipped_stale,
    })
}

/// Applies search ops to the index: one commit per store × locale index for the batch.
pub async fn write_search(search: &dyn SearchIndex, ops: &[SyncOp]) -> Result<WriteReport, SyncError> {
    write_search_owned(search, ops.to_vec()).await
}

/// [`write_search`] for ops the caller is done with: their documents are converted without a copy.
pub async fn write_search_owned(search: &dyn SearchIndex, ops: Vec<SyncOp>) -> Result<WriteReport, SyncError> {
    let mut search_ops = Vec::with_capacity(ops.len());
    for op in ops {
        let version = u64::try_from(stamp_of(&op.entry().value)).unwrap_or(0);
        match op {
            SyncOp::Write(entry) => {
                let document: ProductPageDocument = serde_json::from_value(entry.value)
                    .map_err(|error| SyncError::Message(format!("search document {}: {error}", entry.key)))?;
                search_ops.push(SearchOp::upsert(entry.key, document, version));
            }
            SyncOp::Delete(entry) => search_ops.push(SearchOp::delete(entry.key, version)),
        }
    }
    if search_ops.is_empty() {
        return Ok(WriteReport::default());
    }
    let outcome = search
        .apply(search_ops)
        .await
        .map_err(|error| SyncError::Search(error.to_string()))?;
    Ok(WriteReport {
        applied: outcome.applied,
        skipped_stale: outcome.skipped,
    })
}
