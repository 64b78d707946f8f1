//! `kontor scheduler` as an operator uses it, on a SQLite file of its own: running a job by hand, the
//! history, the role itself on a fast schedule until SIGTERM, and a bad jobs file named by file, job and
//! field.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A data directory of its own and the binary pointed at it.
type Site = crate::cli::Shop;

/// Writes a file (a jobs file) into the site's directory.
fn write(site: &Site, name: &str, text: &str) {
    std::fs::write(site.dir.join(name), text).expect("write");
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn scheduler_runs_jobs_by_hand_and_on_schedule_and_keeps_their_history() {
    let site = Site::new();
    succeeded(&site.run(&["migrate"]));

    // The built-in jobs (no config/jobs.toml here).
    let jobs = succeeded(&site.run(&["scheduler", "jobs"]));
    for job in [
        "oms-check-timeouts",
        "oms-check-conditions",
        "oms-clear-locks",
        "sync-verify",
    ] {
        assert!(jobs.contains(job), "{jobs}");
    }
    let by_hand = succeeded(&site.run(&["scheduler", "run-now", "oms-clear-locks"]));
    assert!(
        by_hand.contains("succeeded") && by_hand.contains("expired lock(s) deleted"),
        "{by_hand}"
    );
    let unknown = failed(&site.run(&["scheduler", "run-now", "nope"]));
    assert!(unknown.contains("unknown job \"nope\""), "{unknown}");

    // The role, on a schedule firing every second, until SIGTERM.
    write(
        &site,
        "fast.toml",
        "[[job]]\nname = \"fast\"\nschedule = \"* * * * * *\"\ncommand = \"oms clear-locks\"\n",
    );
    let mut role = site
        .command()
        .args(["scheduler"])
        .env("KONTOR_SCHEDULER__JOBS_FILE", "fast.toml")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the scheduler");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut history = String::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        history = succeeded(&site.run(&["scheduler", "history", "--job", "fast"]));
        if history.matches("succeeded").count() >= 2 {
            break;
        }
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &role.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(terminated.success());
    let exit = role.wait().expect("the scheduler stops");
    assert!(exit.success(), "the scheduler ends cleanly on SIGTERM: {exit}");
    assert!(history.matches("succeeded").count() >= 2, "{history}");

    let all = succeeded(&site.run(&["scheduler", "history", "--limit", "100"]));
    assert!(all.contains("oms-clear-locks") && all.contains("fast"), "{all}");
}

#[test]
fn a_bad_jobs_file_is_refused_naming_file_job_and_field() {
    let site = Site::new();
    succeeded(&site.run(&["migrate"]));
    write(
        &site,
        "jobs.toml",
        "[[job]]\nname = \"nightly\"\nschedule = \"0 3 * * *\"\ntimezone = \"Berlin\"\ncommand = \"sync verify\"\n",
    );
    let error = failed(
        &site
            .command()
            .args(["scheduler", "jobs"])
            .env("KONTOR_SCHEDULER__JOBS_FILE", "jobs.toml")
            .output()
            .expect("run"),
    );
    assert!(
        error.contains("jobs.toml: job \"nightly\", field `timezone`: unknown time zone \"Berlin\""),
        "{error}"
    );
    let missing = failed(
        &site
            .command()
            .args(["scheduler", "jobs"])
            .env("KONTOR_SCHEDULER__JOBS_FILE", "elsewhere.toml")
            .output()
            .expect("run"),
    );
    assert!(missing.contains("scheduler.jobs_file"), "{missing}");
}
