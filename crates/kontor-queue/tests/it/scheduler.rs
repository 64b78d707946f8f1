//! The scheduler on every SQL backend, driven step by step with a test clock: one active node out of
//! two, takeover after the holder stops renewing, no overlapping runs (a fire time that finds the job
//! still running is recorded as `skipped`), the missed-run policy, the history, failures, timeouts and
//! runs of dead nodes. Plus the jobs-file validation, whose errors name file, job and field.

use chrono::{DateTime, Duration as TimeSpan, Utc};
use kontor_core::Clock;
use kontor_db::SqlDatabase;
use kontor_queue::scheduler::{
    JobContext, JobError, JobRegistry, JobSpec, RunOutcome, Schedule, Scheduler, SchedulerError, SchedulerOptions,
    TickReport, parse_jobs,
};
use kontor_testkit::repo_test_suite;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const LEASE: Duration = Duration::from_secs(30);

/// A clock the test moves by hand.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn at(time: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(time)))
    }

    fn set(&self, time: DateTime<Utc>) {
        *self.0.lock().expect("clock") = time;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// 2026-03-02 10:00:30 UTC: half a minute after a fire time of an every-minute job.
fn start() -> DateTime<Utc> {
    time("2026-03-02T10:00:30Z")
}

fn minutes(count: i64) -> TimeSpan {
    TimeSpan::minutes(count)
}

fn every_minute(name: &str, command: &str) -> JobSpec {
    JobSpec::new(name, Schedule::new("* * * * *", "UTC").expect("valid cron"), command)
}

/// A registry whose `count` command counts its runs.
fn counting_registry(counter: &Arc<AtomicUsize>) -> JobRegistry {
    let mut registry = JobRegistry::new();
    let counter = Arc::clone(counter);
    registry.register_fn("count", move |_context: JobContext| {
        let counter = Arc::clone(&counter);
        async move {
            let runs = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(format!("counted {runs}"))
        }
    });
    registry
}

fn scheduler(
    db: &SqlDatabase,
    node: &str,
    jobs: Vec<JobSpec>,
    registry: JobRegistry,
    clock: &Arc<TestClock>,
) -> Scheduler {
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    Scheduler::new(
        db.connection().clone(),
        jobs,
        registry,
        clock,
        SchedulerOptions::new(node).with_lease(LEASE),
    )
    .expect("a valid scheduler")
}

/// Sets the clock and ticks, as `Scheduler::run` does.
async fn tick_at(scheduler: &Scheduler, clock: &TestClock, now: DateTime<Utc>) -> TickReport {
    clock.set(now);
    scheduler.tick(now).await.expect("tick")
}

/// A gate that blocks a job until the test opens it, and counts how often the job started.
#[derive(Clone)]
struct Gate {
    open: Arc<tokio::sync::Semaphore>,
    started: Arc<AtomicUsize>,
}

impl Gate {
    fn new() -> Self {
        Self {
            open: Arc::new(tokio::sync::Semaphore::new(0)),
            started: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn registry(&self, command: &str) -> JobRegistry {
        let mut registry = JobRegistry::new();
        let gate = self.clone();
        registry.register_fn(command, move |_context: JobContext| {
            let gate = gate.clone();
            async move {
                gate.started.fetch_add(1, Ordering::SeqCst);
                let _permit = gate.open.acquire().await.map_err(JobError::new)?;
                Ok("passed the gate".to_owned())
            }
        });
        registry
    }

    fn open(&self) {
        self.open.add_permits(1000);
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

async fn one_of_two_nodes_holds_the_lease_and_takes_over_when_it_stops_renewing(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let runs_on_a = Arc::new(AtomicUsize::new(0));
    let runs_on_b = Arc::new(AtomicUsize::new(0));
    let node_a = scheduler(
        &db,
        "node-a",
        vec![every_minute("tick", "count")],
        counting_registry(&runs_on_a),
        &clock,
    );
    let node_b = scheduler(
        &db,
        "node-b",
        vec![every_minute("tick", "count")],
        counting_registry(&runs_on_b),
        &clock,
    );

    let first_a = tick_at(&node_a, &clock, start()).await;
    let first_b = tick_at(&node_b, &clock, start()).await;
    assert!(first_a.leader, "{first_a:?}");
    assert!(!first_b.leader, "{first_b:?}");
    assert_eq!(first_b.lease_holder.as_deref(), Some("node-a"));

    // Five fire times, both nodes ticking at each (and in between, renewing and polling).
    for minute in 1..=5 {
        let fire = time("2026-03-02T10:00:00Z") + minutes(minute);
        for now in [fire, fire + TimeSpan::seconds(20)] {
            let report_a = tick_at(&node_a, &clock, now).await;
            let report_b = tick_at(&node_b, &clock, now).await;
            assert!(report_a.leader, "node a keeps the lease at {now}: {report_a:?}");
            assert!(!report_b.leader && report_b.started.is_empty(), "{report_b:?}");
        }
        node_a.wait_for_runs().await;
    }
    assert_eq!(runs_on_a.load(Ordering::SeqCst), 5);
    assert_eq!(runs_on_b.load(Ordering::SeqCst), 0);
    let history = node_a.recent_runs(Some("tick"), 100).await.expect("history");
    assert_eq!(history.len(), 5);
    assert!(
        history
            .iter()
            .all(|run| run.node == "node-a" && run.outcome == RunOutcome::Succeeded)
    );

    // Node a stops renewing (it died at 10:05:20, its last renewal). Before the lease expires node b
    // still may not run anything; once it has expired node b takes over.
    let last_renewal = time("2026-03-02T10:05:20Z");
    let too_early = tick_at(&node_b, &clock, last_renewal + TimeSpan::seconds(29)).await;
    assert!(!too_early.leader, "{too_early:?}");
    let taken = tick_at(&node_b, &clock, last_renewal + TimeSpan::seconds(30)).await;
    assert!(taken.leader, "{taken:?}");
    assert!(taken.started.is_empty(), "10:05 was handled by node a: {taken:?}");
    let next = tick_at(&node_b, &clock, time("2026-03-02T10:06:00Z")).await;
    assert_eq!(next.started.len(), 1, "{next:?}");
    node_b.wait_for_runs().await;
    assert_eq!(runs_on_b.load(Ordering::SeqCst), 1);

    // Node a comes back while node b renews: node a is a follower now and starts nothing.
    let renewed = tick_at(&node_b, &clock, time("2026-03-02T10:06:40Z")).await;
    assert!(renewed.leader, "{renewed:?}");
    let back = tick_at(&node_a, &clock, time("2026-03-02T10:06:50Z")).await;
    assert!(!back.leader && back.started.is_empty(), "{back:?}");
    assert_eq!(back.lease_holder.as_deref(), Some("node-b"));
    let newest = node_b.recent_runs(Some("tick"), 1).await.expect("history");
    assert_eq!(newest[0].node, "node-b");
    assert_eq!(newest[0].scheduled_for, Some(time("2026-03-02T10:06:00Z")));
}

async fn a_graceful_shutdown_hands_the_lease_over_at_once(db: SqlDatabase) {
    let clock = TestClock::at(Utc::now());
    let counter = Arc::new(AtomicUsize::new(0));
    let node_a = Arc::new(scheduler(
        &db,
        "node-a",
        Vec::new(),
        counting_registry(&counter),
        &clock,
    ));
    let node_b = scheduler(&db, "node-b", Vec::new(), counting_registry(&counter), &clock);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let node_a = Arc::clone(&node_a);
        let shutdown = shutdown.clone();
        async move { node_a.run(shutdown).await }
    });
    // `run` takes the lease on its first tick.
    for _ in 0..500 {
        if node_a.holds_lease() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let follower = node_b.tick(clock.now()).await.expect("tick");
    assert_eq!(follower.lease_holder.as_deref(), Some("node-a"), "{follower:?}");
    shutdown.cancel();
    running.await.expect("the scheduler loop ends");
    let after = node_b.tick(clock.now()).await.expect("tick");
    assert!(after.leader, "the lease was released, not left to expire: {after:?}");
}

async fn a_job_still_running_is_not_started_again_and_the_fire_time_is_recorded_as_skipped(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let gate = Gate::new();
    let node = scheduler(
        &db,
        "node-a",
        vec![every_minute("slow", "wait")],
        gate.registry("wait"),
        &clock,
    );
    tick_at(&node, &clock, start()).await;

    let first = tick_at(&node, &clock, time("2026-03-02T10:01:00Z")).await;
    assert_eq!(first.started.len(), 1, "{first:?}");
    let second = tick_at(&node, &clock, time("2026-03-02T10:02:00Z")).await;
    assert!(second.started.is_empty(), "{second:?}");
    assert_eq!(second.skipped.len(), 1, "{second:?}");
    let skipped = node
        .history()
        .run(second.skipped[0])
        .await
        .expect("read")
        .expect("the skipped run is recorded");
    assert_eq!(skipped.outcome, RunOutcome::Skipped);
    assert_eq!(skipped.scheduled_for, Some(time("2026-03-02T10:02:00Z")));
    assert!(
        skipped
            .output
            .as_deref()
            .unwrap_or_default()
            .contains(&first.started[0].to_string()),
        "{skipped:?}"
    );
    // A tick between fire times changes nothing.
    let idle = tick_at(&node, &clock, time("2026-03-02T10:02:30Z")).await;
    assert!(idle.started.is_empty() && idle.skipped.is_empty(), "{idle:?}");

    gate.open();
    node.wait_for_runs().await;
    let finished = node.history().run(first.started[0]).await.expect("read").expect("run");
    assert_eq!(finished.outcome, RunOutcome::Succeeded);

    let third = tick_at(&node, &clock, time("2026-03-02T10:03:00Z")).await;
    assert_eq!(third.started.len(), 1, "free again once the run ended: {third:?}");
    node.wait_for_runs().await;
    assert_eq!(gate.started(), 2, "the job never ran twice at once");
}

async fn fire_times_missed_during_downtime_run_once(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let counter = Arc::new(AtomicUsize::new(0));
    let node = scheduler(
        &db,
        "node-a",
        vec![every_minute("tick", "count")],
        counting_registry(&counter),
        &clock,
    );
    let first = tick_at(&node, &clock, start()).await;
    assert!(
        first.started.is_empty(),
        "a new job waits for its next fire time: {first:?}"
    );
    assert_eq!(first.next_fire, Some(time("2026-03-02T10:01:00Z")));

    // Ten fire times (10:01 … 10:10) pass while no scheduler runs.
    let woke = tick_at(&node, &clock, time("2026-03-02T10:10:45Z")).await;
    assert_eq!(woke.started.len(), 1, "{woke:?}");
    assert_eq!(woke.next_fire, Some(time("2026-03-02T10:11:00Z")));
    let again = tick_at(&node, &clock, time("2026-03-02T10:10:50Z")).await;
    assert!(again.started.is_empty(), "{again:?}");
    node.wait_for_runs().await;
    let runs = node.recent_runs(Some("tick"), 100).await.expect("history");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].scheduled_for,
        Some(time("2026-03-02T10:10:00Z")),
        "run for the latest fire time"
    );

    // Then it continues on its schedule.
    let on_time = tick_at(&node, &clock, time("2026-03-02T10:11:00Z")).await;
    assert_eq!(on_time.started.len(), 1, "{on_time:?}");
    node.wait_for_runs().await;
    assert_eq!(counter.load(Ordering::SeqCst), 2);
}

async fn the_history_keeps_outcome_output_and_error_of_every_run(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let mut registry = JobRegistry::new();
    registry.register_fn("say hello", |context: JobContext| async move {
        Ok(format!("hello from {} (run {})", context.job, context.run_id))
    });
    registry.register_fn("fail", |_context: JobContext| async move {
        Err(JobError::new("the warehouse API answered 503").with_output("checked 3 of 7 items"))
    });
    registry.register_fn(
        "chatty",
        |_context: JobContext| async move { Ok("x".repeat(100 * 1024)) },
    );
    registry.register_fn("panic", |_context: JobContext| async move {
        if Utc::now().timestamp() > 0 {
            panic!("an unexpected state");
        }
        Ok(String::new())
    });
    let jobs = vec![
        every_minute("greet", "say hello"),
        every_minute("broken", "fail"),
        every_minute("noisy", "chatty"),
        every_minute("crashing", "panic"),
    ];
    let node = scheduler(&db, "node-a", jobs, registry, &clock);
    tick_at(&node, &clock, start()).await;
    // Runs end on the clock: set it ahead of the tick so that every end is recorded at 10:01:02.
    clock.set(time("2026-03-02T10:01:02Z"));
    let fired = node.tick(time("2026-03-02T10:01:00Z")).await.expect("tick");
    assert_eq!(fired.started.len(), 4, "{fired:?}");
    node.wait_for_runs().await;

    let all = node.recent_runs(None, 10).await.expect("history");
    assert_eq!(all.len(), 4);
    let greet = &node.recent_runs(Some("greet"), 10).await.expect("history")[0];
    assert_eq!(greet.outcome, RunOutcome::Succeeded);
    assert_eq!(greet.command, "say hello");
    assert_eq!(greet.node, "node-a");
    assert_eq!(greet.started_at, time("2026-03-02T10:01:00Z"));
    assert_eq!(greet.finished_at, Some(time("2026-03-02T10:01:02Z")));
    assert_eq!(
        greet.output.as_deref(),
        Some(format!("hello from greet (run {})", greet.id).as_str())
    );
    assert_eq!(greet.error, None);

    let broken = &node.recent_runs(Some("broken"), 10).await.expect("history")[0];
    assert_eq!(broken.outcome, RunOutcome::Failed);
    assert_eq!(broken.error.as_deref(), Some("the warehouse API answered 503"));
    assert_eq!(broken.output.as_deref(), Some("checked 3 of 7 items"));

    let noisy = &node.recent_runs(Some("noisy"), 10).await.expect("history")[0];
    let output = noisy.output.as_deref().unwrap_or_default();
    assert!(
        output.len() < 65 * 1024 && output.ends_with("(truncated, 102400 bytes in all)"),
        "{}",
        output.len()
    );

    let crashing = &node.recent_runs(Some("crashing"), 10).await.expect("history")[0];
    assert_eq!(crashing.outcome, RunOutcome::Failed);
    assert!(
        crashing
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("an unexpected state"),
        "{crashing:?}"
    );
}

async fn a_run_past_its_timeout_is_stopped_and_recorded_as_timed_out(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let gate = Gate::new();
    let job = every_minute("stuck", "wait").with_timeout(Duration::from_millis(300));
    let node = scheduler(&db, "node-a", vec![job], gate.registry("wait"), &clock);
    tick_at(&node, &clock, start()).await;
    let fired = tick_at(&node, &clock, time("2026-03-02T10:01:00Z")).await;
    assert_eq!(fired.started.len(), 1);
    node.wait_for_runs().await;
    let run = node.history().run(fired.started[0]).await.expect("read").expect("run");
    assert_eq!(run.outcome, RunOutcome::TimedOut);
    assert!(run.error.as_deref().unwrap_or_default().contains("300ms"), "{run:?}");
    // The timed-out run no longer blocks the job.
    let next = tick_at(&node, &clock, time("2026-03-02T10:02:00Z")).await;
    assert_eq!(next.started.len(), 1, "{next:?}");
    gate.open();
    node.wait_for_runs().await;
}

async fn a_dead_nodes_run_is_given_up_after_its_timeout_and_the_job_runs_again(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let gate = Gate::new();
    let job = || every_minute("sweep", "sweep").with_timeout(Duration::from_secs(120));
    let node_a = scheduler(&db, "node-a", vec![job()], gate.registry("sweep"), &clock);
    let counter = Arc::new(AtomicUsize::new(0));
    let mut registry_b = counting_registry(&counter);
    registry_b.register_fn("sweep", |_context: JobContext| async move { Ok("swept".to_owned()) });
    let node_b = scheduler(&db, "node-b", vec![job()], registry_b, &clock);

    tick_at(&node_a, &clock, start()).await;
    let started = tick_at(&node_a, &clock, time("2026-03-02T10:01:00Z")).await;
    assert_eq!(started.started.len(), 1);
    let orphan = started.started[0];
    // Node a hangs from here on: no renewals, no end of its run.
    let within_timeout = tick_at(&node_b, &clock, time("2026-03-02T10:02:00Z")).await;
    assert!(within_timeout.leader, "{within_timeout:?}");
    assert!(
        within_timeout.started.is_empty() && within_timeout.skipped.len() == 1,
        "{within_timeout:?}"
    );

    // 10:01 + 2 min timeout + 30 s lease: given up, and the job runs again.
    let given_up = tick_at(&node_b, &clock, time("2026-03-02T10:03:30Z")).await;
    assert_eq!(given_up.abandoned, vec![orphan], "{given_up:?}");
    assert_eq!(given_up.started.len(), 1, "{given_up:?}");
    node_b.wait_for_runs().await;
    let abandoned = node_b.history().run(orphan).await.expect("read").expect("run");
    assert_eq!(abandoned.outcome, RunOutcome::TimedOut);
    assert!(
        abandoned.error.as_deref().unwrap_or_default().contains("abandoned"),
        "{abandoned:?}"
    );
    let rerun = node_b
        .history()
        .run(given_up.started[0])
        .await
        .expect("read")
        .expect("run");
    assert_eq!((rerun.node.as_str(), rerun.outcome), ("node-b", RunOutcome::Succeeded));
    // Node a's handler is still stuck: it never ran twice at once, and its late end changes nothing.
    assert_eq!(gate.started(), 1);
}

async fn run_now_runs_a_job_by_hand_and_refuses_to_overlap(db: SqlDatabase) {
    let clock = TestClock::at(start());
    let gate = Gate::new();
    let mut registry = gate.registry("wait");
    let counter = Arc::new(AtomicUsize::new(0));
    let counter_in_job = Arc::clone(&counter);
    registry.register_fn("count", move |_context: JobContext| {
        let counter = Arc::clone(&counter_in_job);
        async move { Ok(format!("counted {}", counter.fetch_add(1, Ordering::SeqCst) + 1)) }
    });
    let mut disabled = every_minute("manual", "count");
    disabled.enabled = false;
    let node = scheduler(
        &db,
        "node-a",
        vec![every_minute("slow", "wait"), disabled],
        registry,
        &clock,
    );

    let record = node.run_now("manual").await.expect("run by hand");
    assert_eq!(record.outcome, RunOutcome::Succeeded);
    assert_eq!(record.output.as_deref(), Some("counted 1"));
    assert_eq!(record.scheduled_for, None);
    match node.run_now("nope").await {
        Err(SchedulerError::UnknownJob { job, known }) => {
            assert_eq!(job, "nope");
            assert!(known.contains("manual"), "{known}");
        }
        other => panic!("expected an unknown job, got {other:?}"),
    }

    tick_at(&node, &clock, start()).await;
    let fired = tick_at(&node, &clock, time("2026-03-02T10:01:00Z")).await;
    assert_eq!(fired.started.len(), 1, "the disabled job is not scheduled: {fired:?}");
    match node.run_now("slow").await {
        Err(SchedulerError::AlreadyRunning { run, .. }) => assert_eq!(run, fired.started[0]),
        other => panic!("expected a refusal, got {other:?}"),
    }
    gate.open();
    node.wait_for_runs().await;
}

repo_test_suite!(
    one_of_two_nodes_holds_the_lease_and_takes_over_when_it_stops_renewing,
    a_graceful_shutdown_hands_the_lease_over_at_once,
    a_job_still_running_is_not_started_again_and_the_fire_time_is_recorded_as_skipped,
    fire_times_missed_during_downtime_run_once,
    the_history_keeps_outcome_output_and_error_of_every_run,
    a_run_past_its_timeout_is_stopped_and_recorded_as_timed_out,
    a_dead_nodes_run_is_given_up_after_its_timeout_and_the_job_runs_again,
    run_now_runs_a_job_by_hand_and_refuses_to_overlap,
);

/// The commands of Kontor's built-in jobs.
fn builtin_commands() -> JobRegistry {
    let mut registry = JobRegistry::new();
    for command in [
        "oms check-timeouts",
        "oms check-conditions",
        "oms clear-locks",
        "oms purge-log",
        "sync purge-tombstones",
        "sync verify",
        "carts purge-guests",
        "catalog refresh-popularity",
    ] {
        registry.register_fn(command, |_context: JobContext| async move { Ok(String::new()) });
    }
    registry
}

fn parse_error(text: &str) -> String {
    parse_jobs(text, Path::new("config/jobs.toml"), &builtin_commands())
        .expect_err("the file is rejected")
        .to_string()
}

#[test]
fn the_shipped_jobs_file_is_valid() {
    let jobs = parse_jobs(
        include_str!("../../../../config/jobs.toml"),
        Path::new("config/jobs.toml"),
        &builtin_commands(),
    )
    .expect("config/jobs.toml is valid");
    let names: Vec<&str> = jobs.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "oms-check-timeouts",
            "oms-check-conditions",
            "oms-clear-locks",
            "oms-purge-log",
            "sync-purge-tombstones",
            "carts-purge-guests",
            "sync-verify",
            "catalog-refresh-popularity"
        ]
    );
    assert!(jobs.iter().all(|job| job.enabled));
}

#[test]
fn a_valid_job_with_every_field() {
    let jobs = parse_jobs(
        r#"
[[job]]
name = "nightly"
schedule = "0 30 2 * * *"
timezone = "Europe/Berlin"
command = "sync   verify"
enabled = false
timeout = "1h30m"
"#,
        Path::new("jobs.toml"),
        &builtin_commands(),
    )
    .expect("valid");
    let job = &jobs[0];
    assert_eq!(job.command, "sync verify");
    assert!(!job.enabled);
    assert_eq!(job.timeout, Duration::from_secs(5400));
    assert_eq!(job.schedule.timezone().name(), "Europe/Berlin");
    // 02:30 in Berlin in summer is 00:30 UTC.
    assert_eq!(
        job.schedule.next_after(time("2026-07-01T12:00:00Z")),
        Some(time("2026-07-02T00:30:00Z"))
    );
}

#[test]
fn a_bad_cron_expression_names_file_job_and_field() {
    let error = parse_error("[[job]]\nname = \"a\"\nschedule = \"61 * * * *\"\ncommand = \"oms clear-locks\"\n");
    assert!(
        error.starts_with("config/jobs.toml: job \"a\", field `schedule`: "),
        "{error}"
    );
    assert!(error.contains("61 * * * *"), "{error}");
}

#[test]
fn an_unknown_time_zone_names_file_job_and_field() {
    let error = parse_error(
        "[[job]]\nname = \"a\"\nschedule = \"* * * * *\"\ntimezone = \"Mars/Olympus\"\ncommand = \"oms clear-locks\"\n",
    );
    assert!(
        error.starts_with("config/jobs.toml: job \"a\", field `timezone`: "),
        "{error}"
    );
    assert!(error.contains("Mars/Olympus"), "{error}");
}

#[test]
fn a_duplicate_name_names_file_job_and_field() {
    let entry = "[[job]]\nname = \"twice\"\nschedule = \"* * * * *\"\ncommand = \"oms clear-locks\"\n";
    let error = parse_error(&format!("{entry}{entry}"));
    assert_eq!(
        error,
        "config/jobs.toml: job \"twice\", field `name`: duplicate job name \"twice\""
    );
}

#[test]
fn an_unknown_command_names_file_job_field_and_the_known_commands() {
    let error = parse_error("[[job]]\nname = \"a\"\nschedule = \"* * * * *\"\ncommand = \"queue requeue-stale\"\n");
    assert!(
        error.starts_with("config/jobs.toml: job \"a\", field `command`: "),
        "{error}"
    );
    assert!(error.contains("\"queue requeue-stale\""), "{error}");
    assert!(error.contains("oms check-timeouts"), "{error}");
}

#[test]
fn missing_and_unknown_fields_and_bad_timeouts_are_named() {
    let missing = parse_error("[[job]]\nname = \"a\"\ncommand = \"oms clear-locks\"\n");
    assert!(missing.contains("job \"a\", field `schedule`"), "{missing}");
    let unknown = parse_error("[[job]]\nname = \"a\"\nshedule = \"* * * * *\"\ncommand = \"oms clear-locks\"\n");
    assert!(
        unknown.contains("job \"a\"") && unknown.contains("shedule"),
        "{unknown}"
    );
    let nameless = parse_error("[[job]]\nschedule = \"* * * * *\"\ncommand = \"oms clear-locks\"\n");
    assert!(nameless.contains("job #1, field `name`"), "{nameless}");
    let timeout = parse_error(
        "[[job]]\nname = \"a\"\nschedule = \"* * * * *\"\ncommand = \"oms clear-locks\"\ntimeout = \"ten minutes\"\n",
    );
    assert!(timeout.contains("job \"a\", field `timeout`"), "{timeout}");
    let bad_name =
        parse_error("[[job]]\nname = \"Nightly Run\"\nschedule = \"* * * * *\"\ncommand = \"oms clear-locks\"\n");
    assert!(bad_name.contains("field `name`"), "{bad_name}");
    let syntax = parse_error("[[job]\nname = ");
    assert!(syntax.starts_with("config/jobs.toml: "), "{syntax}");
}
