//! Documents as the KV layer sees them: a JSON object with a `_timestamp`, and the tombstone.
//!
//! `_timestamp` is Unix seconds with microseconds as a JSON number (spec §6). The guard compares
//! integer microseconds: an `f64` of today's seconds has a resolution of about 0.24 µs, so rounding
//! `seconds × 10⁶` recovers the writer's microseconds exactly (until about the year 2255, where the
//! product passes 2⁵³). Integer `_timestamp`s are converted without floating point at all.
//!
//! Documents are serialized with `_timestamp` as their first member. JSON member order carries no
//! meaning, and it lets the Redis script read the stored timestamp with one anchored pattern match
//! instead of decoding the whole document for every op.

use crate::KvError;
use serde_json::{Map, Number, Value};

/// The largest serialized document accepted, in bytes (spec §6: 256 KB, never truncated).
pub const MAX_VALUE_BYTES: usize = 256 * 1024;

pub(crate) const TIMESTAMP_FIELD: &str = "_timestamp";
pub(crate) const DELETED_FIELD: &str = "_deleted";

/// The document's `_timestamp` in Unix microseconds, or `None` when it is missing, not a number, or
/// out of range.
pub fn document_timestamp_micros(document: &Value) -> Option<i64> {
    match document.get(TIMESTAMP_FIELD)? {
        Value::Number(seconds) => seconds_to_micros(seconds),
        _ => None,
    }
}

fn seconds_to_micros(seconds: &Number) -> Option<i64> {
    if let Some(whole) = seconds.as_i64() {
        return whole.checked_mul(1_000_000);
    }
    let micros = (seconds.as_f64()? * 1_000_000.0).round();
    // The range check keeps the `as` conversion from saturating silently.
    let in_range = micros.is_finite() && micros >= i64::MIN as f64 && micros < i64::MAX as f64;
    in_range.then_some(micros as i64)
}

/// Checks a written document against the op and serializes it `_timestamp` first.
pub(crate) fn encode_document(key: &str, document: &Value, op_micros: i64) -> Result<Vec<u8>, KvError> {
    let object = checked_object(key, document, op_micros)?;
    let mut encoded = Vec::with_capacity(256);
    encoded.push(b'{');
    append_member(&mut encoded, key, TIMESTAMP_FIELD, &object[TIMESTAMP_FIELD])?;
    for (name, value) in object.iter().filter(|(name, _)| name.as_str() != TIMESTAMP_FIELD) {
        encoded.push(b',');
        append_member(&mut encoded, key, name, value)?;
    }
    encoded.push(b'}');
    if encoded.len() > MAX_VALUE_BYTES {
        return Err(KvError::ValueTooLarge {
            key: key.to_owned(),
            bytes: encoded.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(encoded)
}

/// Checks a written document against the op without serializing it for storage (memory backend);
/// the size check still needs its serialized length.
pub(crate) fn check_document(key: &str, document: &Value, op_micros: i64) -> Result<(), KvError> {
    encode_document(key, document, op_micros).map(drop)
}

fn checked_object<'a>(key: &str, document: &'a Value, op_micros: i64) -> Result<&'a Map<String, Value>, KvError> {
    let invalid = |reason| KvError::InvalidDocument {
        key: key.to_owned(),
        reason,
    };
    let Value::Object(object) = document else {
        return Err(invalid("a document must be a JSON object"));
    };
    if object.contains_key(DELETED_FIELD) {
        return Err(invalid("`_deleted` is reserved for tombstones"));
    }
    let Some(document_micros) = document_timestamp_micros(document) else {
        return Err(invalid("a document needs a numeric `_timestamp` (Unix seconds)"));
    };
    // The stored `_timestamp` is what the next op is compared with, so it must be the op's.
    if document_micros != op_micros {
        return Err(KvError::TimestampMismatch {
            key: key.to_owned(),
            document_micros,
            op_micros,
        });
    }
    Ok(object)
}

fn append_member(encoded: &mut Vec<u8>, key: &str, name: &str, value: &Value) -> Result<(), KvError> {
    serde_json::to_writer(&mut *encoded, name)
        .and_then(|()| {
            encoded.push(b':');
            serde_json::to_writer(&mut *encoded, value)
        })
        .map_err(|_| KvError::InvalidDocument {
            key: key.to_owned(),
            reason: "the document cannot be serialized",
        })
}

/// The stored form of a delete: `{"_timestamp":<seconds>,"_deleted":true}`. The seconds are written
/// from the integer microseconds as an exact decimal, so no precision is lost on the way.
pub(crate) fn tombstone_json(timestamp_micros: i64) -> String {
    format!(
        r#"{{"{TIMESTAMP_FIELD}":{},"{DELETED_FIELD}":true}}"#,
        seconds_text(timestamp_micros)
    )
}

fn seconds_text(timestamp_micros: i64) -> String {
    let sign = if timestamp_micros < 0 { "-" } else { "" };
    let magnitude = timestamp_micros.unsigned_abs();
    format!("{sign}{}.{:06}", magnitude / 1_000_000, magnitude % 1_000_000)
}

/// Whether a stored JSON value is a tombstone (Redis stores them as plain JSON next to documents).
pub(crate) fn is_tombstone(stored: &Value) -> bool {
    stored.get(DELETED_FIELD).and_then(Value::as_bool) == Some(true)
}

/// Parses a stored document, naming the key (not the content) when it is not JSON.
pub(crate) fn decode(key: &str, bytes: &[u8]) -> Result<Value, KvError> {
    serde_json::from_slice(bytes).map_err(|error| {
        // `Display` of a serde_json error may quote the offending input; its category and position are safe.
        let category = match error.classify() {
            serde_json::error::Category::Io => "i/o error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "data error",
            serde_json::error::Category::Eof => "unexpected end",
        };
        KvError::CorruptValue {
            key: key.to_owned(),
            reason: format!(
                "not JSON: {category} at line {} column {}",
                error.line(),
                error.column()
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fractional_and_integer_timestamps_exactly() {
        let fractional = json!({"_timestamp": 1795511702.123456});
        assert_eq!(document_timestamp_micros(&fractional), Some(1_795_511_702_123_456));
        let whole = json!({"_timestamp": 1795511702});
        assert_eq!(document_timestamp_micros(&whole), Some(1_795_511_702_000_000));
        assert_eq!(document_timestamp_micros(&json!({"_timestamp": "1"})), None);
        assert_eq!(document_timestamp_micros(&json!({})), None);
    }

    #[test]
    fn every_microsecond_of_a_second_survives_the_f64_round_trip() {
        let second = 1_795_511_702_i64;
        for micro in 0..1_000_000 {
            let text = format!(r#"{{"_timestamp":{second}.{micro:06}}}"#);
            let parsed: Value = serde_json::from_str(&text).expect("valid json");
            assert_eq!(document_timestamp_micros(&parsed), Some(second * 1_000_000 + micro));
        }
    }

    #[test]
    fn encodes_the_timestamp_first_and_keeps_every_member() {
        let document = json!({"a": 1, "_timestamp": 1795511702.5, "z": {"_timestamp": 1}});
        let encoded = encode_document("k", &document, 1_795_511_702_500_000).expect("valid document");
        let text = String::from_utf8(encoded).expect("utf-8");
        assert!(text.starts_with(r#"{"_timestamp":1795511702.5,"#), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), document);
    }

    #[test]
    fn rejects_documents_that_break_the_contract() {
        let micros = 1_000_000;
        assert!(matches!(
            encode_document("k", &json!([1]), micros),
            Err(KvError::InvalidDocument { .. })
        ));
        assert!(matches!(
            encode_document("k", &json!({"a": 1}), micros),
            Err(KvError::InvalidDocument { .. })
        ));
        assert!(matches!(
            encode_document("k", &json!({"_timestamp": 1, "_deleted": true}), micros),
            Err(KvError::InvalidDocument { .. })
        ));
        assert!(matches!(
            encode_document("k", &json!({"_timestamp": 2}), micros),
            Err(KvError::TimestampMismatch { .. })
        ));
        let huge = json!({"_timestamp": 1, "text": "x".repeat(MAX_VALUE_BYTES)});
        assert!(matches!(
            encode_document("k", &huge, micros),
            Err(KvError::ValueTooLarge { .. })
        ));
    }

    #[test]
    fn tombstones_carry_exact_seconds() {
        assert_eq!(
            tombstone_json(1_795_511_702_000_001),
            r#"{"_timestamp":1795511702.000001,"_deleted":true}"#
        );
        assert_eq!(tombstone_json(-500_000), r#"{"_timestamp":-0.500000,"_deleted":true}"#);
        let parsed: Value = serde_json::from_str(&tombstone_json(1_795_511_702_123_999)).expect("json");
        assert!(is_tombstone(&parsed));
        assert_eq!(document_timestamp_micros(&parsed), Some(1_795_511_702_123_999));
    }
}
