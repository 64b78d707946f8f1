//! The SQL table queue behind `kontor-queue`'s `sql` backend (the embedded default of the `MessageBus`).
//!
//! `queue_message` holds ready, delayed (waiting for a retry) and leased messages in one table: a claim
//! moves `available_at` into the future (the lease expiry) and sets `lease_token`, so one index on
//! `(queue, available_at)` finds both new messages and messages whose lease ran out (a crashed worker).
//! `queue_dead_letter` is `<queue>.error`: messages that failed their last attempt, with the reason.
//! Payloads are opaque bytes (`bytea` / `blob` / `longblob`, since a sync batch can exceed 64 KiB).

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_queue"
    }
}

/// Every table of this migration; `down` drops them in reverse.
const TABLES: &[&str] = &["queue_message", "queue_dead_letter"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();

        TableBuilder::new(backend, "queue_message")
            .id()
            .string("queue", 255)
            .integer("attempt", 1)
            .timestamp("enqueued_at")
            .timestamp("available_at")
            .big_integer_null("lease_token")
            .timestamp_null("first_failed_at")
            .timestamp_null("last_failed_at")
            .text_null("last_error")
            .index(&["queue", "available_at"])
            .create(manager)
            .await?;
        add_payload_column(manager, backend, "queue_message").await?;

        TableBuilder::new(backend, "queue_dead_letter")
            .id()
            .string("queue", 255)
            .integer("attempts", 1)
            .text("reason")
            .timestamp("enqueued_at")
            .timestamp("first_failed_at")
            .timestamp("last_failed_at")
            .timestamp("dead_at")
            .index(&["queue", "id"])
            .create(manager)
            .await?;
        add_payload_column(manager, backend, "queue_dead_letter").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Adds the binary `payload` column, which `TableBuilder` has no helper for. The empty default exists
/// only because SQLite refuses to add a NOT NULL column without one; every insert sets the payload.
async fn add_payload_column(manager: &SchemaManager<'_>, backend: DbBackend, table: &'static str) -> Result<(), DbErr> {
    let mut payload = ColumnDef::new("payload");
    match backend {
        // `blob` stops at 64 KiB on MariaDB.
        DbBackend::MySql => payload.custom("longblob"),
        _ => payload.blob(),
    };
    payload.not_null().default(Expr::cust("''"));
    manager
        .alter_table(Table::alter().table(table).add_column(payload).to_owned())
        .await
}
