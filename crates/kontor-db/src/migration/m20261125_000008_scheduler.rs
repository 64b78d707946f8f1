//! The scheduler's tables (kontor-queue's `scheduler` module, issue 9).
//!
//! - `scheduler_lease`: one row per lease name; `holder` is the node id of the active scheduler, which
//!   keeps `expires_at` in the future by renewing it. A node takes the lease with a conditional UPDATE
//!   (`holder = me OR expires_at <= now`) or, when the row does not exist yet, an INSERT that only one
//!   node can win (primary key).
//! - `scheduler_run`: the history, one row per run (also skipped ones): when it was due, when it started
//!   and ended, its outcome (`running`, `succeeded`, `failed`, `timed_out`, `skipped`), output and error.
//!   Indexed by `(job, started_at)` for a job's history and by `started_at` for the list of all jobs.
//! - `scheduler_job_state`: per job, the last fire time that was handled and the run that is still going,
//!   if any. Both change only by compare-and-set UPDATEs, so a fire time is handled once and a job never
//!   runs twice at the same time, even while two nodes briefly both believe they hold the lease.
//!
//! Times are epoch microseconds like every other table.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000008_scheduler"
    }
}

/// Tables in creation order; dropped in reverse.
const TABLES: &[&str] = &["scheduler_lease", "scheduler_run", "scheduler_job_state"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "scheduler_lease")
            .string("name", 100)
            .string("holder", 255)
            .timestamp("expires_at")
            .timestamp("renewed_at")
            .primary_key(&["name"])
            .create(manager)
            .await?;

        TableBuilder::new(backend, "scheduler_run")
            .id()
            .string("job", 100)
            .string("command", 255)
            .string("node", 255)
            .timestamp_null("scheduled_for")
            .timestamp("started_at")
            .timestamp_null("finished_at")
            .string("outcome", 16)
            .text_null("output")
            .text_null("error")
            .index(&["job", "started_at"])
            .index(&["started_at"])
            .create(manager)
            .await?;

        TableBuilder::new(backend, "scheduler_job_state")
            .string("job", 100)
            .timestamp("last_fire_at")
            .big_integer_null("running_run_id")
            .timestamp("updated_at")
            .primary_key(&["job"])
            .create(manager)
            .await
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
