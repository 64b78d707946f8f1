//! Scheduler wiring: the registry of built-in job commands (the same code paths as the CLI commands of
//! the same name), the jobs file (configured, or the one compiled in), the `kontor scheduler …` commands
//! and the in-process scheduler of `kontor serve`.

use anyhow::{Context, bail};
use clap::Subcommand;
use kontor_config::{DEFAULT_JOBS_FILE, Settings};
use kontor_core::SystemClock;
use kontor_db::SqlDatabase;
use kontor_kv::KvStore;
use kontor_queue::scheduler::{
    JobContext, JobError, JobRegistry, JobSpec, RunOutcome, RunRecord, Scheduler, SchedulerOptions, parse_jobs,
};
use kontor_search::SearchIndex;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Kontor's default jobs, compiled in so a binary without the repository still has them.
const BUILTIN_JOBS: &str = include_str!("../../../config/jobs.toml");
/// Rows an OMS job handles per run, as the CLI commands' default `--limit`.
const OMS_BATCH: u64 = 500;

#[derive(Debug, Subcommand)]
pub enum SchedulerCommand {
    /// Run the scheduler role until SIGINT/SIGTERM (what `kontor scheduler` alone does).
    Run,
    /// List recent runs, newest first.
    History {
        /// Only this job's runs.
        #[arg(long, value_name = "NAME")]
        job: Option<String>,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        limit: u64,
    },
    /// Run a job now, in this process, and wait for it (refused while the job is running elsewhere).
    RunNow { job: String },
    /// List the configured jobs and when each fires next.
    Jobs,
    /// Which node is the active scheduler (holds the lease) and until when.
    Status,
}

/// `kontor scheduler [run|history|run-now|jobs]`.
pub async fn command(settings: &Settings, command: Option<SchedulerCommand>) -> anyhow::Result<()> {
    let database = crate::commands::connect_current(settings).await?;
    match command.unwrap_or(SchedulerCommand::Run) {
        SchedulerCommand::Run => {
            let scheduler = build(settings, &database, ReadSide::OpenPerRun)?;
            println!(
                "scheduler {} running {} job(s)",
                scheduler.node_id(),
                scheduler.jobs().iter().filter(|job| job.enabled).count()
            );
            scheduler.run(crate::commands::shutdown_token()).await;
            Ok(())
        }
        SchedulerCommand::History { job, limit } => {
            let history = kontor_queue::scheduler::RunHistory::new(database.connection().clone());
            let runs = history.recent_runs(job.as_deref(), limit).await?;
            print_history(&runs);
            Ok(())
        }
        SchedulerCommand::Status => {
            let history = kontor_queue::scheduler::RunHistory::new(database.connection().clone());
            match history.lease().await? {
                Some((holder, until)) if until > chrono::Utc::now() => {
                    println!("active scheduler: {holder} (lease until {})", until.to_rfc3339());
                }
                Some((holder, until)) => {
                    println!(
                        "no active scheduler: {holder}'s lease expired at {}",
                        until.to_rfc3339()
                    );
                }
                None => println!("no scheduler has run yet"),
            }
            Ok(())
        }
        SchedulerCommand::RunNow { job } => {
            let scheduler = build(settings, &database, ReadSide::OpenPerRun)?;
            let run = scheduler.run_now(&job).await?;
            print_history(std::slice::from_ref(&run));
            if run.outcome != RunOutcome::Succeeded {
                bail!("job {job} {}", run.outcome);
            }
            Ok(())
        }
        SchedulerCommand::Jobs => {
            let registry = registry(settings, &database, ReadSide::OpenPerRun)?;
            let jobs = load_jobs(settings, &registry)?;
            let now = chrono::Utc::now();
            println!(
                "{:<24} {:<16} {:<16} {:<22} {:>7} {:<8} next fire (UTC)",
                "job", "schedule", "time zone", "command", "timeout", "enabled"
            );
            for job in jobs {
                let next = job
                    .schedule
                    .next_after(now)
                    .map_or_else(|| "-".to_owned(), |time| time.to_rfc3339());
                println!(
                    "{:<24} {:<16} {:<16} {:<22} {:>7} {:<8} {next}",
                    job.name,
                    job.schedule.expression(),
                    job.schedule.timezone().name(),
                    job.command,
                    format!("{}s", job.timeout.as_secs()),
                    job.enabled
                );
            }
            Ok(())
        }
    }
}

/// `kontor serve`'s scheduler (when `scheduler.enabled_in_serve`): built now, so a bad jobs file stops
/// the start, and run in the background until `shutdown`; await the handle to let it release its lease.
pub fn spawn_in_serve(
    settings: &Settings,
    database: &SqlDatabase,
    stores: &crate::pipeline::ReadStores,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !settings.scheduler.enabled_in_serve {
        return Ok(None);
    }
    // The embedded KV file and index admit one opener: `sync verify` uses the ones `serve` holds.
    let read_side = ReadSide::Shared {
        kv: Arc::clone(&stores.kv),
        search: Arc::clone(&stores.search),
    };
    let scheduler = build(settings, database, read_side)?;
    Ok(Some(tokio::spawn(async move { scheduler.run(shutdown).await })))
}

/// Where `sync verify` finds the KV store and search index.
#[derive(Clone)]
enum ReadSide {
    /// Those of the process (`serve`).
    Shared {
        kv: Arc<dyn KvStore>,
        search: Arc<dyn SearchIndex>,
    },
    /// Opened for each run (`kontor scheduler`): Redis, or embedded files no other process holds.
    OpenPerRun,
}

fn build(settings: &Settings, database: &SqlDatabase, read_side: ReadSide) -> anyhow::Result<Scheduler> {
    let registry = registry(settings, database, read_side)?;
    let jobs = load_jobs(settings, &registry)?;
    let options = SchedulerOptions::new(settings.scheduler_node_id())
        .with_lease(Duration::from_secs(settings.scheduler.lease_seconds));
    Scheduler::new(
        database.connection().clone(),
        jobs,
        registry,
        Arc::new(SystemClock),
        options,
    )
    .context("set up the scheduler (scheduler.*)")
}

/// `scheduler.jobs_file`, or the built-in jobs when the default path has no file.
fn load_jobs(settings: &Settings, registry: &JobRegistry) -> anyhow::Result<Vec<JobSpec>> {
    let path = settings.scheduler.jobs_file.as_path();
    if path.is_file() {
        return kontor_queue::scheduler::load_jobs(path, registry).context("the scheduler's jobs are invalid");
    }
    if path != Path::new(DEFAULT_JOBS_FILE) {
        bail!("scheduler.jobs_file: {} does not exist", path.display());
    }
    parse_jobs(BUILTIN_JOBS, Path::new("(built-in) config/jobs.toml"), registry)
        .context("the built-in jobs are invalid")
}

/// The built-in commands. An embedding crate adds its own to the registry before the jobs are loaded.
fn registry(settings: &Settings, database: &SqlDatabase, read_side: ReadSide) -> anyhow::Result<JobRegistry> {
    let mailer =
        kontor_mail::from_settings(&settings.mail, &settings.data_dir).context("set up outgoing mail (mail.*)")?;
    let oms = crate::oms::Oms::open(settings, database, mailer)?;
    let mut registry = JobRegistry::new();

    let engine = oms.engine.clone();
    registry.register_fn("oms check-timeouts", move |_context: JobContext| {
        let engine = engine.clone();
        async move {
            let fired = engine.fire_due_timeouts(OMS_BATCH).await?;
            Ok(format!("{fired} timeout event(s) fired"))
        }
    });

    let engine = oms.engine.clone();
    registry.register_fn("oms check-conditions", move |_context: JobContext| {
        let engine = engine.clone();
        async move {
            let checked = engine.check_conditions(OMS_BATCH).await?;
            Ok(format!("{checked} order(s) checked"))
        }
    });

    let locks = database.clone();
    registry.register_fn("oms clear-locks", move |_context: JobContext| {
        let locks = locks.clone();
        async move {
            use kontor_domain::oms::OmsRepository;
            let purged = locks.purge_locks(chrono::Utc::now()).await?;
            Ok(format!("{purged} expired lock(s) deleted"))
        }
    });

    let log = database.clone();
    let retention_days = settings.oms.transition_log_retention_days;
    registry.register_fn("oms purge-log", move |_context: JobContext| {
        let log = log.clone();
        async move { Ok(crate::oms::purge_log(&log, retention_days).await?) }
    });

    let carts = database.clone();
    let lifetime_days = settings.backend.guest_cart_lifetime_days;
    registry.register_fn("carts purge-guests", move |_context: JobContext| {
        let carts = carts.clone();
        async move {
            crate::commands::purge_guest_carts(&carts, lifetime_days)
                .await
                .map_err(|error| JobError::new(error.to_string()))
        }
    });

    let catalog = database.clone();
    registry.register_fn("catalog refresh-popularity", move |_context: JobContext| {
        let catalog = catalog.clone();
        async move {
            crate::commands::refresh_popularity(&catalog, crate::commands::POPULARITY_WINDOW_DAYS)
                .await
                .map_err(|error| JobError::new(error.to_string()))
        }
    });

    let settings_for_purge = settings.clone();
    let storage = database.clone();
    registry.register_fn("sync purge-tombstones", move |_context: JobContext| {
        let settings = settings_for_purge.clone();
        let storage = storage.clone();
        async move {
            crate::pipeline::purge_tombstones(&settings, &storage)
                .await
                .map_err(describe)
        }
    });

    let settings_for_verify = settings.clone();
    let storage = database.clone();
    registry.register_fn("sync verify", move |_context: JobContext| {
        let settings = settings_for_verify.clone();
        let storage = storage.clone();
        let read_side = read_side.clone();
        async move { verify(&settings, &storage, read_side).await }
    });
    Ok(registry)
}

/// `sync verify` as a job: the drift report is the output; any drift fails the run, as it makes the
/// command exit 1.
async fn verify(settings: &Settings, storage: &SqlDatabase, read_side: ReadSide) -> Result<String, JobError> {
    // A standalone scheduler's own index is not the storefronts': with replicas, search is each node's.
    let skip_search = settings.search.replicas && matches!(read_side, ReadSide::OpenPerRun);
    let (kv, search) = match read_side {
        ReadSide::Shared { kv, search } => (kv, search),
        ReadSide::OpenPerRun => {
            let kv = crate::pipeline::open_kv(settings).await.map_err(describe)?;
            let search = crate::pipeline::open_search(settings).map_err(describe)?;
            (kv, search)
        }
    };
    let mut report = String::new();
    let mut total = 0;
    for projection in kontor_sync::projections::all() {
        if skip_search && projection.is_search() {
            let _ = writeln!(
                report,
                "{:<24} skipped: every storefront node keeps its own replica",
                projection.name()
            );
            continue;
        }
        let drift = kontor_sync::maintenance::verify(storage, projection.as_ref(), kv.as_ref(), search.as_ref())
            .await
            .map_err(JobError::new)?;
        total += drift.total();
        for line in drift.report(projection.name()) {
            let _ = writeln!(report, "{line}");
        }
    }
    let _ = write!(report, "drift: {total}");
    if total > 0 {
        return Err(JobError::new(format!("{total} key(s) drifted; run `kontor sync`")).with_output(report));
    }
    Ok(report)
}

/// An `anyhow` error with its causes, as a job error.
fn describe(error: anyhow::Error) -> JobError {
    JobError::new(format!("{error:#}"))
}

fn print_history(runs: &[RunRecord]) {
    println!(
        "{:>8}  {:<24} {:<10} {:<20} {:>9}  node",
        "run", "job", "outcome", "started (UTC)", "took"
    );
    for run in runs {
        let took = run.finished_at.map_or_else(
            || "-".to_owned(),
            |finished| format!("{:.1}s", (finished - run.started_at).num_milliseconds() as f64 / 1000.0),
        );
        println!(
            "{:>8}  {:<24} {:<10} {:<20} {:>9}  {}",
            run.id,
            run.job,
            run.outcome,
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            took,
            run.node
        );
        for (label, text) in [("output", &run.output), ("error", &run.error)] {
            if let Some(text) = text.as_deref().filter(|text| !text.is_empty()) {
                // The first lines are enough at a terminal; the full text is in the admin API.
                for (index, line) in text.lines().take(5).enumerate() {
                    let prefix = if index == 0 { label } else { "" };
                    println!("{:>10}{prefix:<8}{line}", "");
                }
            }
        }
    }
}
