//! The scheduler's SQL: the lease, the job states and the run history, written once with SeaORM so the
//! same statements run on SQLite, PostgreSQL and MariaDB.
//!
//! Every decision that two nodes could race on is one atomic statement or a compare-and-set inside a
//! short write transaction:
//! - the lease is taken by `UPDATE … WHERE name = ? AND (holder = me OR expires_at <= now)` and, while
//!   the row does not exist, by an INSERT that the primary key lets only one node win;
//! - a run starts by inserting its row and moving `scheduler_job_state` from the fire time it read to the
//!   new one with `running_run_id IS NULL`, in one transaction that is rolled back when the UPDATE matched
//!   nothing (another node handled that fire time, or a run is still going);
//! - a run ends by updating its row only while it is still `running` and clearing `running_run_id` only
//!   while it still points at this run.
//!
//! Row counts are reliable on every engine: PostgreSQL and SQLite report matched rows, and sqlx connects
//! to MariaDB with `CLIENT_FOUND_ROWS`, so an UPDATE that writes the values a row already has counts too.

use super::entity::{job_state, lease, run};
use super::{RunId, RunOutcome, RunRecord};
use crate::micros_to_datetime;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
};
use std::collections::HashMap;

/// The lease all schedulers of one database compete for.
pub(crate) const LEASE_NAME: &str = "scheduler";

/// Who holds the lease after an attempt to take or renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LeaseState {
    /// This node holds it until the expiry it asked for.
    Held,
    /// Another node does.
    HeldBy { holder: String, expires_at: i64 },
}

/// A run row to insert.
pub(crate) struct NewRun<'a> {
    pub job: &'a str,
    pub command: &'a str,
    pub node: &'a str,
    pub scheduled_for: Option<i64>,
    pub started_at: i64,
}

/// How a run ended, as stored.
pub(crate) struct RunEnd<'a> {
    pub outcome: RunOutcome,
    pub finished_at: i64,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
}

#[derive(Clone)]
pub(crate) struct SchedulerStore {
    connection: DatabaseConnection,
}

impl SchedulerStore {
    pub(crate) fn new(connection: DatabaseConnection) -> Self {
        Self { connection }
    }

    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// The SQL bus's write transaction (see [`crate::sql::begin_write`]).
    async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        crate::sql::begin_write(&self.connection).await
    }

    /// Takes the lease for `node` until `until`, or renews it, when it is free, expired or already ours.
    pub(crate) async fn acquire_lease(&self, node: &str, now: i64, until: i64) -> Result<LeaseState, DbErr> {
        let updated = lease::Entity::update_many()
            .col_expr(lease::Column::Holder, Expr::value(node))
            .col_expr(lease::Column::ExpiresAt, Expr::value(until))
            .col_expr(lease::Column::RenewedAt, Expr::value(now))
            .filter(lease::Column::Name.eq(LEASE_NAME))
            .filter(
                Condition::any()
                    .add(lease::Column::Holder.eq(node))
                    .add(lease::Column::ExpiresAt.lte(now)),
            )
            .exec(&self.connection)
            .await?;
        if updated.rows_affected > 0 {
            return Ok(LeaseState::Held);
        }
        // Either someone else holds it, or no scheduler ever ran on this database. Looking first keeps
        // the common case (a follower polling) free of failing INSERTs that servers would log.
        if let Some(current) = lease::Entity::find_by_id(LEASE_NAME.to_owned())
            .one(&self.connection)
            .await?
        {
            return Ok(LeaseState::HeldBy {
                holder: current.holder,
                expires_at: current.expires_at,
            });
        }
        let inserted = lease::Entity::insert(lease::ActiveModel {
            name: Set(LEASE_NAME.to_owned()),
            holder: Set(node.to_owned()),
            expires_at: Set(until),
            renewed_at: Set(now),
        })
        .exec_without_returning(&self.connection)
        .await;
        match inserted {
            Ok(_) => Ok(LeaseState::Held),
            Err(error) if lost_insert_race(&error) => {
                let current = lease::Entity::find_by_id(LEASE_NAME.to_owned())
                    .one(&self.connection)
                    .await?;
                Ok(current.map_or(
                    LeaseState::HeldBy {
                        holder: String::new(),
                        expires_at: until,
                    },
                    |row| LeaseState::HeldBy {
                        holder: row.holder,
                        expires_at: row.expires_at,
                    },
                ))
            }
            Err(error) => Err(error),
        }
    }

    /// The current holder of the lease and when it expires (epoch µs), if anyone ever took it.
    pub(crate) async fn lease(&self) -> Result<Option<(String, i64)>, DbErr> {
        Ok(lease::Entity::find_by_id(LEASE_NAME.to_owned())
            .one(&self.connection)
            .await?
            .map(|lease| (lease.holder, lease.expires_at)))
    }

    /// Lets the lease go at once (graceful shutdown), so another node need not wait for it to expire.
    pub(crate) async fn release_lease(&self, node: &str, now: i64) -> Result<(), DbErr> {
        lease::Entity::update_many()
            .col_expr(lease::Column::ExpiresAt, Expr::value(now))
            .filter(lease::Column::Name.eq(LEASE_NAME))
            .filter(lease::Column::Holder.eq(node))
            .exec(&self.connection)
            .await?;
        Ok(())
    }

    pub(crate) async fn job_states(&self) -> Result<HashMap<String, job_state::Model>, DbErr> {
        let rows = job_state::Entity::find().all(&self.connection).await?;
        Ok(rows.into_iter().map(|row| (row.job.clone(), row)).collect())
    }

    pub(crate) async fn job_state(&self, job: &str) -> Result<Option<job_state::Model>, DbErr> {
        job_state::Entity::find_by_id(job.to_owned())
            .one(&self.connection)
            .await
    }

    /// Records a job seen for the first time: fire times up to `now` count as handled, so a new job
    /// first runs at its next fire time rather than for every fire time since the epoch.
    pub(crate) async fn init_job_state(&self, job: &str, now: i64) -> Result<(), DbErr> {
        let inserted = job_state::Entity::insert(job_state::ActiveModel {
            job: Set(job.to_owned()),
            last_fire_at: Set(now),
            running_run_id: Set(None),
            updated_at: Set(now),
        })
        .exec_without_returning(&self.connection)
        .await;
        match inserted {
            // Another node recorded it first; its row is as good as ours.
            Err(error) if lost_insert_race(&error) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Inserts a `running` run and marks it as the job's run in progress. With `fire` (a scheduled run)
    /// the job state must still be at `expected_last_fire`, and moves to the fire time; without it (a
    /// run started by hand) the fire times are left alone. `None` when the state changed meanwhile.
    pub(crate) async fn start_run(
        &self,
        new_run: NewRun<'_>,
        fire: Option<(i64, i64)>,
    ) -> Result<Option<RunId>, DbErr> {
        let transaction = self.begin_write().await?;
        let inserted = run::Entity::insert(running_row(&new_run)).exec(&transaction).await?;
        let run_id = inserted.last_insert_id;
        let mut claim = job_state::Entity::update_many()
            .col_expr(job_state::Column::RunningRunId, Expr::value(run_id))
            .col_expr(job_state::Column::UpdatedAt, Expr::value(new_run.started_at))
            .filter(job_state::Column::Job.eq(new_run.job))
            .filter(job_state::Column::RunningRunId.is_null());
        if let Some((expected_last_fire, fire_at)) = fire {
            claim = claim
                .col_expr(job_state::Column::LastFireAt, Expr::value(fire_at))
                .filter(job_state::Column::LastFireAt.eq(expected_last_fire));
        }
        if claim.exec(&transaction).await?.rows_affected == 0 {
            transaction.rollback().await?;
            return Ok(None);
        }
        transaction.commit().await?;
        Ok(Some(RunId(run_id)))
    }

    /// Consumes fire time `fire_at` without running it, because run `blocking` is still going, and
    /// records a `skipped` run saying so. `None` when another node handled the fire time first.
    pub(crate) async fn skip_run(
        &self,
        new_run: NewRun<'_>,
        expected_last_fire: i64,
        fire_at: i64,
        blocking: RunId,
    ) -> Result<Option<RunId>, DbErr> {
        let transaction = self.begin_write().await?;
        let moved = job_state::Entity::update_many()
            .col_expr(job_state::Column::LastFireAt, Expr::value(fire_at))
            .col_expr(job_state::Column::UpdatedAt, Expr::value(new_run.started_at))
            .filter(job_state::Column::Job.eq(new_run.job))
            .filter(job_state::Column::LastFireAt.eq(expected_last_fire))
            .filter(job_state::Column::RunningRunId.eq(blocking.0))
            .exec(&transaction)
            .await?;
        if moved.rows_affected == 0 {
            transaction.rollback().await?;
            return Ok(None);
        }
        let mut row = running_row(&new_run);
        row.outcome = Set(RunOutcome::Skipped.as_str().to_owned());
        row.finished_at = Set(Some(new_run.started_at));
        row.output = Set(Some(format!("run {blocking} of this job was still running")));
        let inserted = run::Entity::insert(row).exec(&transaction).await?;
        transaction.commit().await?;
        Ok(Some(RunId(inserted.last_insert_id)))
    }

    /// Stores how run `run_id` of `job` ended and frees the job for its next run. `false` when the run
    /// was no longer `running` (it had been given up as abandoned), in which case nothing changes.
    pub(crate) async fn finish_run(&self, job: &str, run_id: RunId, end: RunEnd<'_>) -> Result<bool, DbErr> {
        let transaction = self.begin_write().await?;
        let updated = run::Entity::update_many()
            .col_expr(run::Column::Outcome, Expr::value(end.outcome.as_str()))
            .col_expr(run::Column::FinishedAt, Expr::value(end.finished_at))
            .col_expr(run::Column::Output, Expr::value(end.output.map(str::to_owned)))
            .col_expr(run::Column::Error, Expr::value(end.error.map(str::to_owned)))
            .filter(run::Column::Id.eq(run_id.0))
            .filter(run::Column::Outcome.eq(RunOutcome::Running.as_str()))
            .exec(&transaction)
            .await?;
        job_state::Entity::update_many()
            .col_expr(job_state::Column::RunningRunId, Expr::value(Option::<i64>::None))
            .col_expr(job_state::Column::UpdatedAt, Expr::value(end.finished_at))
            .filter(job_state::Column::Job.eq(job))
            .filter(job_state::Column::RunningRunId.eq(run_id.0))
            .exec(&transaction)
            .await?;
        transaction.commit().await?;
        Ok(updated.rows_affected > 0)
    }

    /// Clears a `running_run_id` that points at a run which is not running any more.
    pub(crate) async fn clear_running(&self, job: &str, run_id: RunId, now: i64) -> Result<(), DbErr> {
        job_state::Entity::update_many()
            .col_expr(job_state::Column::RunningRunId, Expr::value(Option::<i64>::None))
            .col_expr(job_state::Column::UpdatedAt, Expr::value(now))
            .filter(job_state::Column::Job.eq(job))
            .filter(job_state::Column::RunningRunId.eq(run_id.0))
            .exec(&self.connection)
            .await?;
        Ok(())
    }

    pub(crate) async fn run(&self, run_id: RunId) -> Result<Option<RunRecord>, DbErr> {
        let row = run::Entity::find_by_id(run_id.0).one(&self.connection).await?;
        Ok(row.map(RunRecord::from))
    }

    /// The newest runs first, of one job or of all.
    pub(crate) async fn recent_runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, DbErr> {
        let mut select = run::Entity::find()
            .order_by_desc(run::Column::StartedAt)
            .order_by_desc(run::Column::Id)
            .limit(limit);
        if let Some(job) = job {
            select = select.filter(run::Column::Job.eq(job));
        }
        let rows = select.all(&self.connection).await?;
        Ok(rows.into_iter().map(RunRecord::from).collect())
    }
}

fn running_row(new_run: &NewRun<'_>) -> run::ActiveModel {
    run::ActiveModel {
        job: Set(new_run.job.to_owned()),
        command: Set(new_run.command.to_owned()),
        node: Set(new_run.node.to_owned()),
        scheduled_for: Set(new_run.scheduled_for),
        started_at: Set(new_run.started_at),
        finished_at: Set(None),
        outcome: Set(RunOutcome::Running.as_str().to_owned()),
        output: Set(None),
        error: Set(None),
        ..Default::default()
    }
}

/// Another node inserted the same key first. MariaDB may report the race on a fresh row as a deadlock.
fn lost_insert_race(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
        || error.to_string().to_ascii_lowercase().contains("deadlock")
}

impl From<run::Model> for RunRecord {
    fn from(row: run::Model) -> Self {
        Self {
            id: RunId(row.id),
            outcome: RunOutcome::parse(&row.outcome),
            job: row.job,
            command: row.command,
            node: row.node,
            scheduled_for: row.scheduled_for.map(micros_to_datetime),
            started_at: micros_to_datetime(row.started_at),
            finished_at: row.finished_at.map(micros_to_datetime),
            output: row.output,
            error: row.error,
        }
    }
}
