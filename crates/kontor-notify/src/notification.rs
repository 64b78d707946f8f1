//! `Notification`: the small JSON message every backend carries, and its wire encoding.
//!
//! A notification is a hint that something changed (`order.status_changed`, `cache.invalidate`,
//! `import.progress`), never the change itself: a receiver that needs the data reads it from SQL or
//! KV. That keeps notifications small (at most [`MAX_NOTIFICATION_BYTES`] as JSON) and makes losing
//! one harmless.

use crate::NotifyError;
use crate::names;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest notification accepted, measured as its JSON encoding. Generous for a hint, small
/// enough that a burst of them cannot fill a Redis client output buffer or a WebSocket.
pub const MAX_NOTIFICATION_BYTES: usize = 64 * 1024;

/// One message on a channel. Its JSON form (`{"kind":…,"payload":…,"origin_node":…,"sent_at_micros":…}`)
/// is what Redis carries and what a WebSocket client may be sent as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// What happened, dotted lower case: `order.status_changed`, `cache.invalidate`, `import.progress`.
    pub kind: String,
    /// Kind-specific details, e.g. `{"order_reference": "DE--1", "status": "shipped"}`.
    pub payload: Value,
    /// The node id of the notifier that published it; set by [`Notifier::publish`](crate::Notifier::publish).
    pub origin_node: String,
    /// When it was published, in Unix microseconds; set by [`Notifier::publish`](crate::Notifier::publish).
    pub sent_at_micros: i64,
}

impl Notification {
    /// A notification of `kind` carrying `payload`; origin and time are stamped when it is published.
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            origin_node: String::new(),
            sent_at_micros: 0,
        }
    }
}

/// Validates `notification` for `channel`, stamps it with `node_id` and the current time and
/// returns it with its JSON encoding. Every backend publishes through this, so a notification
/// that is refused in production is refused by the embedded backend too.
pub(crate) fn prepare(
    channel: &str,
    mut notification: Notification,
    node_id: &str,
) -> Result<(Notification, Vec<u8>), NotifyError> {
    names::validate_channel(channel)?;
    names::validate_kind(&notification.kind)?;
    node_id.clone_into(&mut notification.origin_node);
    notification.sent_at_micros = now_micros();
    let encoded = serde_json::to_vec(&notification).map_err(|source| NotifyError::Encode {
        channel: channel.to_owned(),
        source,
    })?;
    if encoded.len() > MAX_NOTIFICATION_BYTES {
        return Err(NotifyError::NotificationTooLarge {
            channel: channel.to_owned(),
            bytes: encoded.len(),
            limit: MAX_NOTIFICATION_BYTES,
        });
    }
    Ok((notification, encoded))
}

/// The current time in Unix microseconds; a clock before 1970 reads as 0 rather than failing a publish.
fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamps_origin_and_time() {
        let before = now_micros();
        let mut given = Notification::new("cache.invalidate", json!({"key": "url:/de"}));
        given.origin_node = "someone-else".into();
        let (stamped, encoded) = prepare("cache", given, "storefront-1").expect("valid");
        assert_eq!(stamped.origin_node, "storefront-1");
        assert!(stamped.sent_at_micros >= before);
        let decoded: Notification = serde_json::from_slice(&encoded).expect("round trip");
        assert_eq!(decoded, stamped);
    }

    #[test]
    fn refuses_oversized_notifications_and_bad_kinds() {
        let large = Notification::new("import.progress", json!({"blob": "x".repeat(MAX_NOTIFICATION_BYTES)}));
        assert!(matches!(
            prepare("imports", large, "node"),
            Err(NotifyError::NotificationTooLarge { .. })
        ));
        let badly_named = Notification::new("Order Changed", Value::Null);
        assert!(matches!(
            prepare("orders", badly_named, "node"),
            Err(NotifyError::InvalidKind { .. })
        ));
    }
}
