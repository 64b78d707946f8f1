//! `kontor scheduler` as an operator uses it, on a SQLite file of its own: running a job by hand, the
//! history, the role itself on a fast schedule until SIGTERM, and a bad jobs file named by file, job and
//! field; the transition-log purge by hand and as a job.

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
        "oms-purge-log",
        "sync-verify",
        "carts-purge-guests",
        "catalog-refresh-popularity",
    ] {
        assert!(jobs.contains(job), "{jobs}");
    }
    let recount = succeeded(&site.run(&["scheduler", "run-now", "catalog-refresh-popularity"]));
    assert!(
        recount.contains("succeeded") && recount.contains("0 product(s) ordered in the last 30 day(s)"),
        "{recount}"
    );
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

/// Writes a transition-log row of order 1 into the site's SQLite file, `age` before now.
/// A site with a migrated embedded database, and that database.
async fn migrated_site() -> (Site, kontor_db::SqlDatabase) {
    let site = Site::new();
    succeeded(&site.run(&["migrate"]));
    let url = format!("sqlite://{}/kontor.db", site.dir.join("var").display());
    let database = kontor_db::SqlDatabase::connect(&url, 1)
        .await
        .expect("open the site's database");
    (site, database)
}

/// A purge `command` refuses zero days, from its flag and from its configuration `key` (set through the
/// environment), naming each.
fn refuses_zero_days(site: &Site, command: &[&str], key: &str) {
    let flag = [command, &["--older-than-days", "0"]].concat();
    let zero_days = failed(&site.run(&flag));
    assert!(zero_days.contains("--older-than-days"), "{zero_days}");
    let variable = format!("KONTOR_{}", key.to_ascii_uppercase().replace('.', "__"));
    let bad_config = failed(&site.command().args(command).env(variable, "0").output().expect("run"));
    assert!(bad_config.contains(key), "{bad_config}");
}

async fn old_log_row(database: &kontor_db::SqlDatabase, label: &str, age: chrono::Duration) {
    use kontor_domain::oms::{OmsRepository, TransitionFailure};
    let failure = TransitionFailure {
        order_id: 1,
        item_id: 1,
        event: Some("pay".to_owned()),
        source: "payment pending".to_owned(),
        command: Some("Payment/Capture".to_owned()),
        condition: None,
        origin: "test".to_owned(),
        message: label.to_owned(),
    };
    database
        .log_failure(&failure, chrono::Utc::now() - age)
        .await
        .expect("log row written");
}

/// The labels of order 1's transition-log rows, oldest first.
async fn remaining(database: &kontor_db::SqlDatabase) -> Vec<String> {
    use kontor_domain::oms::OmsRepository;
    database
        .transition_log(1)
        .await
        .expect("log read")
        .into_iter()
        .filter_map(|row| row.error)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_log_keeps_the_configured_days_of_the_transition_log() {
    let (site, database) = migrated_site().await;
    let days = chrono::Duration::days;
    for (label, age) in [
        ("a year old", days(365)),
        ("half a year old", days(181)),
        ("a quarter old", days(91)),
        ("a month old", days(30)),
        ("a week old", days(7)),
    ] {
        old_log_row(&database, label, age).await;
    }

    // The configured retention: 180 days by default, then 90 from the environment.
    let by_default = succeeded(&site.run(&["oms", "purge-log"]));
    assert!(
        by_default.contains("2 transition log row(s) older than 180 day(s) deleted"),
        "{by_default}"
    );
    let configured = succeeded(
        &site
            .command()
            .args(["oms", "purge-log"])
            .env("KONTOR_OMS__TRANSITION_LOG_RETENTION_DAYS", "90")
            .output()
            .expect("run"),
    );
    assert!(
        configured.contains("1 transition log row(s) older than 90 day(s) deleted"),
        "{configured}"
    );
    assert_eq!(remaining(&database).await, ["a month old", "a week old"]);

    // The flag wins over the configuration; a bad value of either is refused, naming it.
    let flagged = succeeded(&site.run(&["oms", "purge-log", "--older-than-days", "10"]));
    assert!(
        flagged.contains("1 transition log row(s) older than 10 day(s) deleted"),
        "{flagged}"
    );
    refuses_zero_days(&site, &["oms", "purge-log"], "oms.transition_log_retention_days");

    // The built-in job does the same with the configured retention.
    old_log_row(&database, "two years old", days(730)).await;
    let job = succeeded(&site.run(&["scheduler", "run-now", "oms-purge-log"]));
    assert!(
        job.contains("succeeded") && job.contains("1 transition log row(s) older than 180 day(s) deleted"),
        "{job}"
    );
    assert_eq!(remaining(&database).await, ["a week old"]);
}

/// A cart of store 1 last changed `age` ago, named `label`: a guest's, or a customer's when `customer`.
async fn cart_row(database: &kontor_db::SqlDatabase, label: &str, customer: bool, age: chrono::Duration) {
    use sea_orm::ConnectionTrait;
    let changed = (chrono::Utc::now() - age).timestamp_micros();
    let (reference, anonymous) = if customer {
        (format!("'DE--{label}'"), "NULL".to_owned())
    } else {
        ("NULL".to_owned(), format!("'anon-{label}'"))
    };
    database
        .connection()
        .execute_unprepared(&format!(
            "INSERT INTO cart (uuid, store_id, customer_reference, anonymous_id, name, currency_id, price_mode, \
             is_default, created_at, updated_at, version) \
             VALUES ('cart-{}', 1, {reference}, {anonymous}, '{label}', 1, 'GROSS_MODE', 0, {changed}, {changed}, 1)",
            label.replace(' ', "-")
        ))
        .await
        .expect("cart row written");
}

async fn cart_names(database: &kontor_db::SqlDatabase) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = database.connection().get_database_backend();
    database
        .connection()
        .query_all_raw(Statement::from_string(backend, "SELECT name FROM cart ORDER BY name"))
        .await
        .expect("carts read")
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_guests_deletes_guest_carts_untouched_for_the_configured_days() {
    use sea_orm::ConnectionTrait;
    let (site, database) = migrated_site().await;
    let now = chrono::Utc::now().timestamp_micros();
    database
        .connection()
        .execute_unprepared(&format!(
            "INSERT INTO locale (id, name, is_active) VALUES (1, 'de_DE', 1); \
             INSERT INTO currency (id, code, name, fraction_digits) VALUES (1, 'EUR', 'Euro', 2); \
             INSERT INTO store (id, name, default_locale_id, default_currency_id, timezone, created_at, updated_at) \
             VALUES (1, 'DE', 1, 1, 'Europe/Berlin', {now}, {now})"
        ))
        .await
        .expect("a store");
    let days = chrono::Duration::days;
    for (label, customer, age) in [
        ("guest a month old", false, days(30)),
        ("guest 8 days old", false, days(8)),
        ("guest 3 days old", false, days(3)),
        ("customer a month old", true, days(30)),
    ] {
        cart_row(&database, label, customer, age).await;
    }

    // The configured lifetime, 7 days by default; customers' carts are never purged.
    let by_default = succeeded(&site.run(&["carts", "purge-guests"]));
    assert!(
        by_default.contains("2 guest cart(s) untouched for 7 day(s) deleted"),
        "{by_default}"
    );
    assert_eq!(
        cart_names(&database).await,
        ["customer a month old", "guest 3 days old"]
    );

    // The flag wins over the configuration; a bad value of either is refused, naming it.
    let flagged = succeeded(&site.run(&["carts", "purge-guests", "--older-than-days", "2"]));
    assert!(
        flagged.contains("1 guest cart(s) untouched for 2 day(s) deleted"),
        "{flagged}"
    );
    refuses_zero_days(&site, &["carts", "purge-guests"], "backend.guest_cart_lifetime_days");

    // The built-in job does the same with the configured lifetime.
    cart_row(&database, "guest two weeks old", false, days(14)).await;
    let job = succeeded(&site.run(&["scheduler", "run-now", "carts-purge-guests"]));
    assert!(
        job.contains("succeeded") && job.contains("1 guest cart(s) untouched for 7 day(s) deleted"),
        "{job}"
    );
    assert_eq!(cart_names(&database).await, ["customer a month old"]);
}
