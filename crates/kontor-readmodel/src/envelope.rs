//! What travels between publishers and sync writers: the sync operation in Spryker's envelope
//! (`../shared/spec/publish-sync.md` §6), and the `_timestamp` convention.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Unix seconds with microseconds, as `_timestamp` carries it.
pub fn timestamp_seconds(micros: i64) -> f64 {
    // Two steps keep the microsecond digits exact for present-day dates.
    (micros / 1_000_000) as f64 + (micros % 1_000_000) as f64 / 1_000_000.0
}

/// Back from `_timestamp` seconds to microseconds, rounding to the nearest microsecond.
pub fn timestamp_micros(seconds: f64) -> i64 {
    (seconds * 1_000_000.0).round() as i64
}

/// Adds `_timestamp` to a document (an object); other values are wrapped as `{"value": …}`.
pub fn stamp(document: Value, micros: i64) -> Value {
    let mut object = match document {
        Value::Object(object) => object,
        other => {
            let mut wrapper = serde_json::Map::new();
            wrapper.insert("value".to_owned(), other);
            wrapper
        }
    };
    object.insert("_timestamp".to_owned(), Value::from(timestamp_seconds(micros)));
    Value::Object(object)
}

/// One operation of a sync message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncOp {
    Write(SyncEntry),
    Delete(SyncEntry),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncEntry {
    pub key: String,
    /// The projection, e.g. `product_abstract` or `product_page`.
    pub resource: String,
    /// Search ops carry `{"type": "page", "store": "de", "locale": "en_us"}`; storage ops `[]`.
    pub params: Value,
    /// The document with `_timestamp` (deletes: only `_timestamp`).
    pub value: Value,
}

impl SyncOp {
    pub fn entry(&self) -> &SyncEntry {
        match self {
            SyncOp::Write(entry) | SyncOp::Delete(entry) => entry,
        }
    }

    /// The operation's `_timestamp` in microseconds (0 when missing).
    pub fn timestamp_micros(&self) -> i64 {
        self.entry()
            .value
            .get("_timestamp")
            .and_then(Value::as_f64)
            .map_or(0, timestamp_micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_microseconds() {
        let micros = 1_795_511_702_123_456;
        let seconds = timestamp_seconds(micros);
        assert_eq!(timestamp_micros(seconds), micros);
        assert_eq!(timestamp_micros(timestamp_seconds(micros + 1)), micros + 1);
    }

    #[test]
    fn ops_use_the_spryker_envelope() {
        let op = SyncOp::Delete(SyncEntry {
            key: "product_abstract:de:en_us:124".into(),
            resource: "product_abstract".into(),
            params: serde_json::json!([]),
            value: stamp(serde_json::json!({}), 1_795_511_702_123_999),
        });
        let json = serde_json::to_value(&op).expect("serialises");
        assert_eq!(json["delete"]["key"], "product_abstract:de:en_us:124");
        assert_eq!(op.timestamp_micros(), 1_795_511_702_123_999);
        let back: SyncOp = serde_json::from_value(json).expect("parses");
        assert_eq!(back, op);
    }
}

/// A position in a projection's change feed: the last row seen, by `(source_ts, row id)`. The default
/// is the start of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedCursor {
    /// The row's document timestamp (epoch µs).
    pub ts: i64,
    pub id: i64,
}

/// One page of a projection's change feed (live rows as writes, tombstones as deletes), in cursor
/// order; what a search replica applies when it starts or fell behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    pub ops: Vec<SyncOp>,
    /// Where the next page starts; `None` when this page reached the end of the table.
    pub next: Option<FeedCursor>,
}

/// The notification channel on which sync writers announce which resources' KV documents changed, so
/// that every storefront node drops its caches of them at once (notifications are hints: caches still
/// expire on their own).
pub const KV_CHANGED_CHANNEL: &str = "kv.changed";
/// The kind of a [`KvChanged`] notification.
pub const KV_CHANGED_KIND: &str = "kv.changed";

/// The most bytes of keys a `kv.changed` notification lists (notifications are limited to 64 KiB); a
/// batch with more names its resources only, and receivers treat every cached answer as changed.
pub const KV_CHANGED_MAX_KEY_BYTES: usize = 32 * 1024;

/// The payload of a `kv.changed` notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvChanged {
    /// Projection names, e.g. `store`, `product_abstract`.
    pub resources: Vec<String>,
    /// The KV keys written or deleted; `None` when they were more than [`KV_CHANGED_MAX_KEY_BYTES`] (or
    /// the sender predates key lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}
