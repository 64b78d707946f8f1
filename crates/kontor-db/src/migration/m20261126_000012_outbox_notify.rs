//! On PostgreSQL, every statement that inserts outbox rows sends a `NOTIFY kontor_outbox`, so an outbox
//! relay in another process (`kontor worker` beside `kontor backend`) wakes up at the commit instead of
//! at its next poll (publish-sync.md §1: "woken by commit notification; 100 ms poll fallback").
//!
//! A trigger rather than a `NOTIFY` in the application: it covers every writer (repositories, the
//! importer's bulk inserts, SQL typed by hand) with no code at the call sites. PostgreSQL delivers
//! notifications only when the transaction commits, drops them on rollback and sends identical ones of
//! one transaction once, so a batch of 1 000 outbox rows is one wake-up. The trigger fires per statement,
//! not per row. SQLite and MariaDB have no such channel: their relays in other processes poll, and a
//! relay in the writing process is woken in memory (`SqlDatabase::outbox_commits`).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000012_outbox_notify"
    }
}

/// The channel the trigger notifies and the relay listens on.
pub const OUTBOX_CHANNEL: &str = "kontor_outbox";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        connection
            .execute_unprepared(&format!(
                "CREATE OR REPLACE FUNCTION kontor_outbox_notify() RETURNS trigger AS $$ \
                 BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END \
                 $$ LANGUAGE plpgsql"
            ))
            .await?;
        connection
            .execute_unprepared(
                "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox \
                 FOR EACH STATEMENT EXECUTE PROCEDURE kontor_outbox_notify()",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        connection
            .execute_unprepared("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
            .await?;
        connection
            .execute_unprepared("DROP FUNCTION IF EXISTS kontor_outbox_notify()")
            .await?;
        Ok(())
    }
}
