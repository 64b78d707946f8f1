//! Reading the outbox: what the relay (and tests) see of committed changes, and how the relay learns
//! that there is something to see.
//!
//! Commit signal: [`SqlDatabase::outbox_commits`] is notified after every write transaction of this
//! process (repositories write outbox rows only inside them), so a relay in the same process (`kontor
//! serve`) wakes right after a commit. Across processes only PostgreSQL can tell: a trigger sends
//! `NOTIFY kontor_outbox` when outbox rows commit (migration `m20261126_000012_outbox_notify`) and
//! [`SqlDatabase::listen_for_outbox_commits`] forwards those to the same signal. SQLite and MariaDB
//! relays in other processes rely on their poll. Either way the signal only shortens the wait: the relay
//! always polls as well, so a lost notification (a reconnect, a rollback) delays a change, never loses it.

use super::{SqlDatabase, storage_error};
use crate::entity::outbox;
use kontor_domain::DomainError;
use kontor_domain::outbox::OutboxEntry;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::sync::Arc;
use std::time::Duration;

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

/// The listener task of [`SqlDatabase::listen_for_outbox_commits`]; dropping it stops the task.
pub struct OutboxListener(Option<tokio::task::JoinHandle<()>>);

impl OutboxListener {
    /// Stops the task and waits until it is gone with its connection (so a test database can be dropped).
    pub async fn stop(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for OutboxListener {
    /// Also when the relay's future is dropped rather than run to its end.
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Backoff between attempts to (re)open the listening connection.
const LISTEN_RETRY_FIRST: Duration = Duration::from_secs(1);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(30);

impl SqlDatabase {
    /// Notified (with one stored permit, so a wake-up while the relay works is not lost) after every
    /// write transaction of this process and, while [`SqlDatabase::listen_for_outbox_commits`] runs, when
    /// any process commits outbox rows on PostgreSQL. Clones of this `SqlDatabase` share it.
    pub fn outbox_commits(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox_commits)
    }

    /// On PostgreSQL, starts a task that listens on the outbox channel over a connection of its own
    /// (not one of the pool's) and notifies [`SqlDatabase::outbox_commits`] for every notification;
    /// `None` on SQLite and MariaDB. The task reconnects with backoff and stops when the returned guard
    /// is dropped.
    pub fn listen_for_outbox_commits(&self) -> Option<OutboxListener> {
        if self.backend() != DbBackend::Postgres {
            return None;
        }
        let options = (*self.connection().get_postgres_connection_pool().connect_options()).clone();
        let wake = self.outbox_commits();
        Some(OutboxListener(Some(tokio::spawn(forward_outbox_notifications(
            options, wake,
        )))))
    }
}

/// Forwards `NOTIFY kontor_outbox` to `wake` until aborted.
async fn forward_outbox_notifications(
    options: sea_orm::sqlx::postgres::PgConnectOptions,
    wake: Arc<tokio::sync::Notify>,
) {
    use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
    let mut retry = LISTEN_RETRY_FIRST;
    loop {
        // A pool of one that never expires its connection: the listener's reconnects go through it.
        let listening = async {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.clone())
                .await?;
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(crate::migration::OUTBOX_CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        let error = match listening.await {
            Ok(mut listener) => {
                retry = LISTEN_RETRY_FIRST;
                tracing::debug!(
                    channel = crate::migration::OUTBOX_CHANNEL,
                    "listening for outbox commits"
                );
                // Whatever committed while nobody listened is found by the relay's next look.
                wake.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => wake.notify_one(),
                        // The connection was lost and re-established: notifications in between are gone.
                        Ok(None) => wake.notify_one(),
                        Err(error) => break error,
                    }
                }
            }
            Err(error) => error,
        };
        tracing::warn!(%error, retry_in = ?retry, "outbox listener failed; the relay polls meanwhile");
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LISTEN_RETRY_MAX);
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
