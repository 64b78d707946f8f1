//! The scheduler role (ARCHITECTURE.md §1, issue 9): runs the jobs of `config/jobs.toml` on their cron
//! schedules, in-process in `kontor serve` or as `kontor scheduler` on a node of its own.
//!
//! Guarantees, all kept in the application's SQL database (tables of kontor-db's migration
//! `m20261125_000008_scheduler`), so they hold across any number of nodes:
//! - **One active scheduler.** Nodes compete for the `scheduler_lease` row; the holder renews it every
//!   third of the lease time and is the only one that starts scheduled runs. When it stops renewing (it
//!   died, or lost the database), the lease expires and the next node to tick takes it over. A node that
//!   shuts down gracefully lets the lease go at once.
//! - **No overlapping runs of a job.** `scheduler_job_state.running_run_id` points at the run in progress;
//!   a fire time that comes while it runs is recorded as a `skipped` run (and consumed), so the history
//!   shows it. A run whose node died is given up as `timed_out` once its timeout plus one lease time has
//!   passed, and the job runs again at its next fire time.
//! - **A missed run runs once.** The job state keeps the last handled fire time. When one or more fire
//!   times passed while no scheduler ran, the job runs once, for the latest of them, and then continues on
//!   its schedule. A job seen for the first time starts at its next fire time.
//! - **History.** Every run's node, fire time, start, end, outcome (`succeeded`, `failed`, `timed_out`,
//!   `skipped`), output and error (each cut to 64 KiB) are in `scheduler_run`; see [`RunHistory`].
//!
//! Time comes from an injected [`Clock`]: [`Scheduler::tick`] does one deterministic step at a given
//! instant (tests drive it with a test clock), [`Scheduler::run`] loops on it until shut down. Run
//! timeouts are enforced with the runtime's timer. Schedulers on different nodes must have clocks that
//! agree to well within the lease time.

mod entity;
mod execute;
mod jobs;
mod registry;
mod store;

pub use jobs::{DEFAULT_JOB_TIMEOUT, JobSpec, JobsFileError, Schedule, load_jobs, parse_duration, parse_jobs};
pub use registry::{JobContext, JobError, JobHandler, JobRegistry};

use crate::{duration_micros, micros_to_datetime};
use chrono::{DateTime, Utc};
use execute::{Ending, execute, humanize, record_end};
use kontor_core::Clock;
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use store::{LeaseState, NewRun, RunEnd, SchedulerStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Output and error texts are cut to this many bytes before they are stored.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// The default lease time (`scheduler.lease_seconds`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How long a graceful shutdown waits for runs in progress before it interrupts them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Fire times counted at most when reporting how many were missed.
const MISSED_COUNT_LIMIT: usize = 10_000;

/// The id of a `scheduler_run` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    /// Not run because the job's previous run was still going.
    Skipped,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Skipped => "skipped",
        }
    }

    /// Unknown values read as `failed`: a row written by a newer version is at least not a success.
    pub fn parse(value: &str) -> Self {
        match value {
            "running" => RunOutcome::Running,
            "succeeded" => RunOutcome::Succeeded,
            "timed_out" => RunOutcome::TimedOut,
            "skipped" => RunOutcome::Skipped,
            _ => RunOutcome::Failed,
        }
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run as kept in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: RunId,
    pub job: String,
    pub command: String,
    /// The node id of the scheduler that started it.
    pub node: String,
    /// The fire time it ran for; `None` when started by hand.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: RunOutcome,
    pub output: Option<String>,
    pub error: Option<String>,
}

/// What can go wrong running the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("scheduler database error: {0}")]
    Database(#[from] DbErr),
    #[error("unknown job {job:?}; configured: {known}")]
    UnknownJob { job: String, known: String },
    #[error("job {job:?} runs command {command:?}, for which no handler is registered")]
    UnknownCommand { job: String, command: String },
    #[error("duplicate job name {0:?}")]
    DuplicateJob(String),
    #[error("job {job:?} is already running (run {run})")]
    AlreadyRunning { job: String, run: RunId },
    #[error("invalid scheduler setting `{setting}`: {reason}")]
    InvalidSetting { setting: &'static str, reason: String },
}

/// How one scheduler node identifies itself and how long its lease lasts.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Unique per running scheduler process (`scheduler.node_id`).
    pub node_id: String,
    /// How long a lease lasts without renewal (`scheduler.lease_seconds`); renewed every third of it.
    pub lease: Duration,
}

impl SchedulerOptions {
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            lease: DEFAULT_LEASE,
        }
    }

    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
}

/// What one [`Scheduler::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Whether this node holds the lease (and so may start runs).
    pub leader: bool,
    /// The node that holds the lease when it is not this one.
    pub lease_holder: Option<String>,
    /// When the lease expires: ours if `leader`, else the holder's.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Runs started by this tick (they go on in the background).
    pub started: Vec<RunId>,
    /// `skipped` runs recorded because the job was still running.
    pub skipped: Vec<RunId>,
    /// Runs of dead nodes given up as `timed_out`.
    pub abandoned: Vec<RunId>,
    /// The earliest upcoming fire time of the enabled jobs (when leader).
    pub next_fire: Option<DateTime<Utc>>,
}

/// Reads the run history; what `kontor scheduler history` and the admin API use. Cheap to clone.
#[derive(Clone)]
pub struct RunHistory {
    store: SchedulerStore,
}

impl RunHistory {
    pub fn new(connection: DatabaseConnection) -> Self {
        Self {
            store: SchedulerStore::new(connection),
        }
    }

    /// Up to `limit` runs, newest first, of `job` or of every job.
    pub async fn recent_runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, SchedulerError> {
        Ok(self.store.recent_runs(job, limit).await?)
    }

    /// Which node holds the scheduler lease, until when; `None` before any scheduler ran.
    pub async fn lease(&self) -> Result<Option<(String, DateTime<Utc>)>, SchedulerError> {
        Ok(self
            .store
            .lease()
            .await?
            .map(|(holder, expires_at)| (holder, micros_to_datetime(expires_at))))
    }

    pub async fn run(&self, run_id: RunId) -> Result<Option<RunRecord>, SchedulerError> {
        Ok(self.store.run(run_id).await?)
    }
}

/// This node's view of the lease.
#[derive(Debug, Default)]
struct LeaseView {
    /// Until when we hold it, as of our last successful take or renewal.
    held_until: Option<DateTime<Utc>>,
    renewed_at: Option<DateTime<Utc>>,
}

/// One scheduler node. Share it with `Arc` to tick from one task and read from others.
pub struct Scheduler {
    store: SchedulerStore,
    jobs: Arc<Vec<JobSpec>>,
    registry: JobRegistry,
    clock: Arc<dyn Clock>,
    options: SchedulerOptions,
    lease: Mutex<LeaseView>,
    /// Runs started by this node that have not been awaited yet.
    runs: Mutex<Vec<(RunId, JoinHandle<()>)>>,
    /// Cancelled when a shutdown gives up waiting: runs still going record themselves as interrupted.
    interrupt: CancellationToken,
}

impl Scheduler {
    /// A scheduler over the application's database; every job's command must be in `registry`.
    pub fn new(
        connection: DatabaseConnection,
        jobs: Vec<JobSpec>,
        registry: JobRegistry,
        clock: Arc<dyn Clock>,
        options: SchedulerOptions,
    ) -> Result<Self, SchedulerError> {
        let node = options.node_id.trim();
        if node.is_empty() || node.len() > 255 || node.chars().any(char::is_control) {
            return Err(SchedulerError::InvalidSetting {
                setting: "node_id",
                reason: "must be 1 to 255 printable characters".to_owned(),
            });
        }
        if options.lease < Duration::from_secs(1) {
            return Err(SchedulerError::InvalidSetting {
                setting: "lease",
                reason: "must be at least one second".to_owned(),
            });
        }
        let mut names = HashSet::new();
        for job in &jobs {
            if !names.insert(job.name.as_str()) {
                return Err(SchedulerError::DuplicateJob(job.name.clone()));
            }
            if !registry.contains(&job.command) {
                return Err(SchedulerError::UnknownCommand {
                    job: job.name.clone(),
                    command: job.command.clone(),
                });
            }
        }
        Ok(Self {
            store: SchedulerStore::new(connection),
            jobs: Arc::new(jobs),
            registry,
            clock,
            options,
            lease: Mutex::new(LeaseView::default()),
            runs: Mutex::new(Vec::new()),
            interrupt: CancellationToken::new(),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.options.node_id
    }

    /// Whether this node held the lease at its last tick and the lease has not run out since.
    pub fn holds_lease(&self) -> bool {
        let now = self.clock.now();
        self.lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .held_until
            .is_some_and(|until| now < until)
    }

    pub fn jobs(&self) -> &[JobSpec] {
        &self.jobs
    }

    pub fn history(&self) -> RunHistory {
        RunHistory::new(self.store.connection().clone())
    }

    /// Shortcut for [`RunHistory::recent_runs`].
    pub async fn recent_runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, SchedulerError> {
        self.history().recent_runs(job, limit).await
    }

    /// One step at `now`: take or renew the lease when due and, while holding it, give up runs of dead
    /// nodes and start (or skip) every job whose fire time has come.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, SchedulerError> {
        self.forget_finished_runs();
        let mut report = TickReport::default();
        match self.ensure_lease(now).await? {
            LeaseCheck::Leader { until } => {
                report.leader = true;
                report.lease_expires_at = Some(until);
            }
            LeaseCheck::Follower { holder, expires_at } => {
                report.lease_holder = Some(holder);
                report.lease_expires_at = Some(expires_at);
                return Ok(report);
            }
        }
        let states = self.store.job_states().await?;
        for job in self.jobs.iter().filter(|job| job.enabled) {
            let next_fire = self.tick_job(job, states.get(&job.name), now, &mut report).await?;
            report.next_fire = match (report.next_fire, next_fire) {
                (Some(earliest), Some(next)) => Some(earliest.min(next)),
                (earliest, next) => earliest.or(next),
            };
        }
        Ok(report)
    }

    /// Runs `job` now, by hand, whether or not this node holds the lease, and waits for it to end. Refused
    /// while a run of the job is going. The job's schedule is unaffected.
    pub async fn run_now(&self, job_name: &str) -> Result<RunRecord, SchedulerError> {
        let Some(job) = self.jobs.iter().find(|job| job.name == job_name) else {
            return Err(SchedulerError::UnknownJob {
                job: job_name.to_owned(),
                known: self.job_names(),
            });
        };
        let now = self.clock.now();
        let state = match self.store.job_state(&job.name).await? {
            Some(state) => state,
            None => {
                self.store.init_job_state(&job.name, now.timestamp_micros()).await?;
                self.store.job_state(&job.name).await?.ok_or_else(|| {
                    DbErr::RecordNotFound(format!("scheduler_job_state of {} after inserting it", job.name))
                })?
            }
        };
        let mut ignored = TickReport::default();
        if let Some(run) = self.running_run(job, &state, now, &mut ignored).await? {
            return Err(SchedulerError::AlreadyRunning {
                job: job.name.clone(),
                run,
            });
        }
        let started = self.store.start_run(self.new_run(job, None, now), None).await?;
        let Some(run_id) = started else {
            let current = self.store.job_state(&job.name).await?;
            return Err(SchedulerError::AlreadyRunning {
                job: job.name.clone(),
                run: RunId(current.and_then(|state| state.running_run_id).unwrap_or_default()),
            });
        };
        let task = self.spawn_run(job, run_id, None);
        // The task records the end itself; an error here only means the task is gone (the runtime is
        // shutting down), and the row then still says `running` until it is given up.
        let _ = task.await;
        self.store
            .run(run_id)
            .await?
            .ok_or_else(|| SchedulerError::Database(DbErr::RecordNotFound(format!("scheduler_run {run_id}"))))
    }

    /// Waits until every run this node started has ended and been recorded.
    pub async fn wait_for_runs(&self) {
        let runs = std::mem::take(&mut *self.runs.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, task) in runs {
            let _ = task.await;
        }
    }

    /// Ticks with the clock until `shutdown`: at each due fire time, and at least every third of the
    /// lease time (to renew it, or to try to take it over). Then waits up to 10 s for runs in progress,
    /// interrupts the rest (recorded as failed) and lets the lease go.
    pub async fn run(&self, shutdown: CancellationToken) {
        let renew_every = self.renew_interval();
        tracing::info!(
            node = %self.options.node_id,
            jobs = self.jobs.iter().filter(|job| job.enabled).count(),
            lease_seconds = self.options.lease.as_secs_f64(),
            "scheduler started"
        );
        while !shutdown.is_cancelled() {
            let now = self.clock.now();
            let mut wake_at = now + chrono_duration(renew_every);
            match self.tick(now).await {
                Ok(report) => {
                    if report.leader {
                        if let Some(next_fire) = report.next_fire {
                            wake_at = wake_at.min(next_fire);
                        }
                    } else if let Some(expires_at) = report.lease_expires_at {
                        // Be there the moment the holder's lease runs out.
                        wake_at = wake_at.min(expires_at + chrono::Duration::milliseconds(1));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, node = %self.options.node_id, "scheduler tick failed");
                    wake_at = wake_at.min(now + chrono::Duration::seconds(5));
                }
            }
            let nap = (wake_at - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(10));
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
        self.shut_down().await;
    }

    /// Waits for runs in progress (up to the grace time), interrupts the rest, releases the lease.
    async fn shut_down(&self) {
        if tokio::time::timeout(SHUTDOWN_GRACE, self.wait_for_runs())
            .await
            .is_err()
        {
            tracing::warn!("scheduler runs still going at shutdown are interrupted");
            self.interrupt.cancel();
            self.wait_for_runs().await;
        }
        let held = self
            .lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .held_until
            .take()
            .is_some();
        if held {
            let now = self.clock.now().timestamp_micros();
            if let Err(error) = self.store.release_lease(&self.options.node_id, now).await {
                tracing::warn!(%error, "could not release the scheduler lease; it expires by itself");
            }
        }
        tracing::info!(node = %self.options.node_id, "scheduler stopped");
    }

    fn renew_interval(&self) -> Duration {
        (self.options.lease / 3).max(Duration::from_millis(100))
    }

    fn job_names(&self) -> String {
        self.jobs
            .iter()
            .map(|job| job.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether this node holds the lease at `now`, renewing it when a third of it has passed.
    async fn ensure_lease(&self, now: DateTime<Utc>) -> Result<LeaseCheck, SchedulerError> {
        let lease = chrono_duration(self.options.lease);
        {
            let view = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
            if let (Some(until), Some(renewed_at)) = (view.held_until, view.renewed_at)
                && now < until
                && now < renewed_at + chrono_duration(self.renew_interval())
            {
                return Ok(LeaseCheck::Leader { until });
            }
        }
        let until = now + lease;
        let state = self
            .store
            .acquire_lease(&self.options.node_id, now.timestamp_micros(), until.timestamp_micros())
            .await?;
        let mut view = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        match state {
            LeaseState::Held => {
                if view.held_until.is_none() {
                    tracing::info!(node = %self.options.node_id, "took the scheduler lease");
                }
                view.held_until = Some(until);
                view.renewed_at = Some(now);
                Ok(LeaseCheck::Leader { until })
            }
            LeaseState::HeldBy { holder, expires_at } => {
                if view.held_until.is_some() {
                    tracing::warn!(node = %self.options.node_id, %holder, "lost the scheduler lease");
                }
                view.held_until = None;
                view.renewed_at = None;
                Ok(LeaseCheck::Follower {
                    holder,
                    expires_at: micros_to_datetime(expires_at),
                })
            }
        }
    }

    /// Handles one enabled job at `now` while holding the lease; returns its next fire time.
    async fn tick_job(
        &self,
        job: &JobSpec,
        state: Option<&entity::job_state::Model>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<Option<DateTime<Utc>>, SchedulerError> {
        let Some(state) = state else {
            self.store.init_job_state(&job.name, now.timestamp_micros()).await?;
            return Ok(job.schedule.next_after(now));
        };
        let last_fire = micros_to_datetime(state.last_fire_at);
        let Some(next) = job.schedule.next_after(last_fire) else {
            return Ok(None);
        };
        if next > now {
            return Ok(Some(next));
        }
        let blocking = self.running_run(job, state, now, report).await?;
        // Missed-run policy: however many fire times passed, run once, for the latest.
        let fire = job
            .schedule
            .latest_at_or_before(now)
            .filter(|latest| *latest >= next)
            .unwrap_or(next);
        let missed = self.count_fires_between(job, next, fire);
        if missed > 0 {
            tracing::info!(job = %job.name, missed, fire = %fire, "fire times were missed; running once for the latest");
        }
        if let Some(blocking) = blocking {
            let skipped = self
                .store
                .skip_run(
                    self.new_run(job, Some(fire), now),
                    state.last_fire_at,
                    fire.timestamp_micros(),
                    blocking,
                )
                .await?;
            if let Some(run_id) = skipped {
                tracing::info!(job = %job.name, run = %run_id, still_running = %blocking, "run skipped: the previous one is still going");
                report.skipped.push(run_id);
            }
            return Ok(job.schedule.next_after(fire));
        }
        let started = self
            .store
            .start_run(
                self.new_run(job, Some(fire), now),
                Some((state.last_fire_at, fire.timestamp_micros())),
            )
            .await?;
        match started {
            Some(run_id) => {
                self.spawn_run(job, run_id, Some(fire));
                report.started.push(run_id);
            }
            // Another node (that briefly also believed it held the lease) handled this fire time.
            None => tracing::debug!(job = %job.name, fire = %fire, "fire time already handled elsewhere"),
        }
        Ok(job.schedule.next_after(fire))
    }

    /// The run of `job` still in progress, if any. A run of another node (or of an earlier process) that
    /// outlived its timeout by a lease time is given up: its node is presumed dead.
    async fn running_run(
        &self,
        job: &JobSpec,
        state: &entity::job_state::Model,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<Option<RunId>, SchedulerError> {
        let Some(run_id) = state.running_run_id.map(RunId) else {
            return Ok(None);
        };
        // Our own runs end by our own timer; never second-guess them with the (possibly test) clock.
        if self.is_in_flight(run_id) {
            return Ok(Some(run_id));
        }
        let now_micros = now.timestamp_micros();
        let Some(run) = self.store.run(run_id).await? else {
            self.store.clear_running(&job.name, run_id, now_micros).await?;
            return Ok(None);
        };
        if run.outcome != RunOutcome::Running {
            self.store.clear_running(&job.name, run_id, now_micros).await?;
            return Ok(None);
        }
        let give_up_at = run.started_at + chrono_duration(job.timeout) + chrono_duration(self.options.lease);
        if now < give_up_at {
            return Ok(Some(run_id));
        }
        let reason = format!(
            "abandoned: node {} did not record an end within the timeout of {}",
            run.node,
            humanize(job.timeout)
        );
        let end = RunEnd {
            outcome: RunOutcome::TimedOut,
            finished_at: now_micros,
            output: None,
            error: Some(&reason),
        };
        self.store.finish_run(&job.name, run_id, end).await?;
        tracing::warn!(job = %job.name, run = %run_id, node = %run.node, "gave up a run whose node stopped answering");
        report.abandoned.push(run_id);
        Ok(None)
    }

    fn count_fires_between(&self, job: &JobSpec, first: DateTime<Utc>, last: DateTime<Utc>) -> usize {
        let mut count = 0;
        let mut at = first;
        while at < last && count < MISSED_COUNT_LIMIT {
            count += 1;
            match job.schedule.next_after(at) {
                Some(next) => at = next,
                None => break,
            }
        }
        count
    }

    fn new_run<'a>(&'a self, job: &'a JobSpec, fire: Option<DateTime<Utc>>, now: DateTime<Utc>) -> NewRun<'a> {
        NewRun {
            job: &job.name,
            command: &job.command,
            node: &self.options.node_id,
            scheduled_for: fire.map(|time| time.timestamp_micros()),
            started_at: now.timestamp_micros(),
        }
    }

    fn is_in_flight(&self, run_id: RunId) -> bool {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(id, task)| *id == run_id && !task.is_finished())
    }

    fn forget_finished_runs(&self) {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(_, task)| !task.is_finished());
    }

    /// Runs the job's handler in the background under its timeout and records how it ended. Returns a
    /// handle on the background task (also kept for [`Scheduler::wait_for_runs`]).
    fn spawn_run(&self, job: &JobSpec, run_id: RunId, scheduled_for: Option<DateTime<Utc>>) -> TaskWatch {
        let context = JobContext {
            job: job.name.clone(),
            command: job.command.clone(),
            run_id,
            scheduled_for,
        };
        let handler = self.registry.get(&job.command);
        let store = self.store.clone();
        let clock = Arc::clone(&self.clock);
        let interrupt = self.interrupt.clone();
        let timeout = job.timeout;
        let (done_sender, done) = tokio::sync::oneshot::channel();
        tracing::info!(job = %job.name, run = %run_id, command = %job.command, "run started");
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let ending = match handler {
                Some(handler) => execute(handler, context.clone(), timeout, interrupt).await,
                // Checked by `Scheduler::new`; kept as a failure rather than a panic all the same.
                None => Ending::Failed(JobError::new(format!("no handler for command {:?}", context.command))),
            };
            record_end(&store, clock.as_ref(), &context, ending, started.elapsed()).await;
            let _ = done_sender.send(());
        });
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((run_id, task));
        TaskWatch(done)
    }
}

/// Resolves when a spawned run has been recorded (or its task is gone).
struct TaskWatch(tokio::sync::oneshot::Receiver<()>);

impl std::future::IntoFuture for TaskWatch {
    type Output = Result<(), tokio::sync::oneshot::error::RecvError>;
    type IntoFuture = tokio::sync::oneshot::Receiver<()>;

    fn into_future(self) -> Self::IntoFuture {
        self.0
    }
}

enum LeaseCheck {
    Leader { until: DateTime<Utc> },
    Follower { holder: String, expires_at: DateTime<Utc> },
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::microseconds(duration_micros(duration))
}
