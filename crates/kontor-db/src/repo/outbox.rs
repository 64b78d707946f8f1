//! Reading the outbox: what the relay (and tests) see of committed changes.

use super::{SqlDatabase, storage_error};
use crate::entity::outbox;
use kontor_domain::DomainError;
use kontor_domain::outbox::{ChangeKind, OutboxEntry};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Reads committed outbox rows in commit order.
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
        rows.into_iter()
            .map(|row| {
                let event = ChangeKind::parse(&row.event)
                    .ok_or_else(|| DomainError::Storage(format!("unknown outbox event {:?}", row.event)))?;
                let changed_at = chrono::DateTime::from_timestamp_micros(row.changed_at).unwrap_or_default();
                Ok(OutboxEntry {
                    id: row.id,
                    resource: row.resource,
                    resource_id: row.resource_id,
                    event,
                    changed_at,
                })
            })
            .collect()
    }
}
