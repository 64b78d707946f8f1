//! Reading the outbox: what the relay (and tests) see of committed changes.

use super::{SqlDatabase, storage_error};
use crate::entity::outbox;
use kontor_domain::DomainError;
use kontor_domain::outbox::OutboxEntry;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Reads committed outbox rows in insertion order.
pub trait OutboxReader {
    /// Up to `limit` rows with an id above `after`, oldest first.
    fn outbox_after(
        &self,
        after: i64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, DomainError>> + Send;
}

impl OutboxReader for SqlDatabase {
    async fn outbox_after(&self, after: i64, limit: u64) -> Result<Vec<OutboxEntry>, DomainError> {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Id.gt(after))
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(entry_from_row).collect())
    }
}

pub(crate) fn entry_from_row(row: outbox::Model) -> OutboxEntry {
    let micros = |value: i64| chrono::DateTime::from_timestamp_micros(value).unwrap_or_default();
    OutboxEntry {
        id: row.id,
        resource: row.resource,
        entity_id: row.entity_id,
        event: row.event,
        foreign_keys: row
            .foreign_keys
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok()),
        changed_at: micros(row.changed_at),
        relayed_at: row.relayed_at.map(micros),
    }
}
