//! The outbox (ARCHITECTURE §3, `../shared/spec/publish-sync.md` §2): a row per changed entity, written
//! in the same transaction as the change, later relayed to `publish.<resource>` queues.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened to the entity, in Spryker's event vocabulary (`Entity.<table>.<op>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "create" => Some(ChangeKind::Create),
            "update" => Some(ChangeKind::Update),
            "delete" => Some(ChangeKind::Delete),
            _ => None,
        }
    }

    /// The event name stored in the outbox: `Entity.product_abstract.update`.
    pub fn event_name(self, resource: &str) -> String {
        format!("Entity.{resource}.{}", self.as_str())
    }

    /// Reads the operation back from an event name such as `Entity.price_product.delete`.
    pub fn from_event_name(event: &str) -> Option<Self> {
        event
            .strip_prefix("Entity.")
            .and_then(|rest| rest.rsplit_once('.'))
            .and_then(|(_, op)| Self::parse(op))
    }
}

/// The named event of a reservation change that moved quantities but took no product in or out of stock
/// in its store (known to the checkout, which read the stock and the reservations it changed). Its rows
/// re-publish availability only: the search page shows no quantity, just whether the product is in stock.
/// Every other reservation change (`Entity.oms_product_reservation.update`) re-publishes both.
pub const RESERVATION_QUANTITY_EVENT: &str = "Reservation.quantity";

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: i64,
    /// The changed source table, e.g. `price_product`.
    pub resource: String,
    /// Primary key of the changed row.
    pub entity_id: i64,
    /// `Entity.<resource>.<op>` or a named event such as `Product.publish`.
    pub event: String,
    /// Ids the changed row pointed to, e.g. `{"fk_product_abstract": [12]}`, for routing.
    pub foreign_keys: Option<serde_json::Value>,
    pub changed_at: DateTime<Utc>,
    /// When the relay handed the row to the queue; `None` while it waits.
    pub relayed_at: Option<DateTime<Utc>>,
}

impl OutboxEntry {
    /// The ids recorded under a foreign-key name (`fk_product_abstract`).
    pub fn foreign_key_ids(&self, name: &str) -> Vec<i64> {
        self.foreign_keys
            .as_ref()
            .and_then(|keys| keys.get(name))
            .and_then(serde_json::Value::as_array)
            .map(|ids| ids.iter().filter_map(serde_json::Value::as_i64).collect())
            .unwrap_or_default()
    }

    /// The operation of an `Entity.*` event; named events have none.
    pub fn change_kind(&self) -> Option<ChangeKind> {
        ChangeKind::from_event_name(&self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::ChangeKind;

    #[test]
    fn event_names_round_trip() {
        for kind in [ChangeKind::Create, ChangeKind::Update, ChangeKind::Delete] {
            let event = kind.event_name("price_product");
            assert_eq!(ChangeKind::from_event_name(&event), Some(kind), "{event}");
        }
        assert_eq!(
            ChangeKind::event_name(ChangeKind::Update, "product_abstract"),
            "Entity.product_abstract.update"
        );
        assert_eq!(ChangeKind::from_event_name("Product.publish"), None);
    }
}
