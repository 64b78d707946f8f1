//! What the embedded backends (redb, memory) store per key, and the set-if-newer guard they share.
//!
//! A record keeps its timestamp as an integer beside the document, so the guard never re-reads the
//! document. A tombstone carries its expiry instead of a document; once expired it counts as absent.
//!
//! Binary layout on redb (big-endian): `[kind: u8][timestamp_micros: i64]` followed by the document's
//! JSON for kind 1, or by `[expires_at_millis: i64]` for kind 2 (tombstone). The first byte leaves room
//! for a later format without a migration of existing files.

use crate::KvError;
use std::time::{SystemTime, UNIX_EPOCH};

const KIND_DOCUMENT: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
const HEADER_BYTES: usize = 1 + 8;

/// A stored entry; `D` is the document (`serde_json::Value` in memory, JSON bytes on redb).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record<D> {
    Document {
        timestamp_micros: i64,
        document: D,
    },
    Tombstone {
        timestamp_micros: i64,
        expires_at_millis: i64,
    },
}

impl<D> Record<D> {
    /// The timestamp an incoming op must reach, or `None` when nothing (or only an expired tombstone)
    /// is stored.
    pub(crate) fn guard_timestamp(&self, now_millis: i64) -> Option<i64> {
        match self {
            Record::Document { timestamp_micros, .. } => Some(*timestamp_micros),
            Record::Tombstone {
                timestamp_micros,
                expires_at_millis,
            } => (!is_expired(*expires_at_millis, now_millis)).then_some(*timestamp_micros),
        }
    }

    /// The document a reader sees: tombstones, expired or not, are absent.
    pub(crate) fn live_document(&self) -> Option<&D> {
        match self {
            Record::Document { document, .. } => Some(document),
            Record::Tombstone { .. } => None,
        }
    }

    pub(crate) fn is_expired_tombstone(&self, now_millis: i64) -> bool {
        matches!(self, Record::Tombstone { expires_at_millis, .. } if is_expired(*expires_at_millis, now_millis))
    }
}

/// The set-if-newer rule: an op applies when nothing is stored or its timestamp is ≥ the stored one.
/// Equal timestamps apply so that a replayed batch (or `kontor sync`) rewrites the same data harmlessly.
pub(crate) fn admits(stored_timestamp: Option<i64>, incoming_timestamp: i64) -> bool {
    stored_timestamp.is_none_or(|stored| incoming_timestamp >= stored)
}

fn is_expired(expires_at_millis: i64, now_millis: i64) -> bool {
    expires_at_millis <= now_millis
}

/// Wall-clock milliseconds since the Unix epoch; tombstone expiry is wall-clock based, like Redis `PX`.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

impl Record<Vec<u8>> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Record::Document {
                timestamp_micros,
                document,
            } => {
                let mut bytes = Vec::with_capacity(HEADER_BYTES + document.len());
                bytes.push(KIND_DOCUMENT);
                bytes.extend_from_slice(&timestamp_micros.to_be_bytes());
                bytes.extend_from_slice(document);
                bytes
            }
            Record::Tombstone {
                timestamp_micros,
                expires_at_millis,
            } => {
                let mut bytes = Vec::with_capacity(HEADER_BYTES + 8);
                bytes.push(KIND_TOMBSTONE);
                bytes.extend_from_slice(&timestamp_micros.to_be_bytes());
                bytes.extend_from_slice(&expires_at_millis.to_be_bytes());
                bytes
            }
        }
    }
}

impl<'a> Record<&'a [u8]> {
    /// Reads a record without copying its document; `key` only names the entry in an error.
    pub(crate) fn decode(key: &str, bytes: &'a [u8]) -> Result<Self, KvError> {
        let corrupt = |reason: &str| KvError::CorruptValue {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let (header, body) = bytes
            .split_at_checked(HEADER_BYTES)
            .ok_or_else(|| corrupt("record shorter than its header"))?;
        let timestamp_micros = read_i64(&header[1..]).ok_or_else(|| corrupt("bad timestamp"))?;
        match header[0] {
            KIND_DOCUMENT => Ok(Record::Document {
                timestamp_micros,
                document: body,
            }),
            KIND_TOMBSTONE => Ok(Record::Tombstone {
                timestamp_micros,
                expires_at_millis: read_i64(body).ok_or_else(|| corrupt("bad tombstone expiry"))?,
            }),
            _ => Err(corrupt("unknown record kind")),
        }
    }
}

fn read_i64(bytes: &[u8]) -> Option<i64> {
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some(i64::from_be_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_and_equal_timestamps_are_admitted() {
        assert!(admits(None, 5));
        assert!(admits(Some(5), 5));
        assert!(admits(Some(5), 6));
        assert!(!admits(Some(5), 4));
    }

    #[test]
    fn expired_tombstones_stop_guarding() {
        let tombstone: Record<Vec<u8>> = Record::Tombstone {
            timestamp_micros: 10,
            expires_at_millis: 1_000,
        };
        assert_eq!(tombstone.guard_timestamp(999), Some(10));
        assert_eq!(tombstone.guard_timestamp(1_000), None);
        assert!(tombstone.is_expired_tombstone(1_000));
        assert!(tombstone.live_document().is_none());
    }

    #[test]
    fn records_round_trip() {
        let document = Record::Document {
            timestamp_micros: -3,
            document: br#"{"_timestamp":0}"#.to_vec(),
        };
        let tombstone = Record::Tombstone {
            timestamp_micros: 1_795_511_702_123_456,
            expires_at_millis: 42,
        };
        for record in [document, tombstone] {
            let bytes = record.encode();
            let decoded = Record::decode("k", &bytes).expect("decodes");
            let owned = match decoded {
                Record::Document {
                    timestamp_micros,
                    document,
                } => Record::Document {
                    timestamp_micros,
                    document: document.to_vec(),
                },
                Record::Tombstone {
                    timestamp_micros,
                    expires_at_millis,
                } => Record::Tombstone {
                    timestamp_micros,
                    expires_at_millis,
                },
            };
            assert_eq!(owned, record);
        }
        assert!(Record::decode("k", &[1, 2]).is_err());
        assert!(Record::decode("k", &[9; 17]).is_err());
    }
}
