//! `kontor sync purge-tombstones` and its built-in job: wired to `sync.tombstone_retention_hours`. What
//! the purge deletes is tested on every SQL backend in kontor-sync (`tests/it/tombstones.rs`).

use crate::cli::{Shop, stdout};

#[test]
fn tombstones_are_purged_by_command_and_by_the_built_in_job() {
    let shop = Shop::new();
    stdout(&shop.run(&["migrate"]));

    let default = stdout(&shop.run(&["sync", "purge-tombstones"]));
    assert!(default.contains("0 tombstone(s) older than 168 h purged"), "{default}");
    let day = shop
        .command()
        .args(["sync", "purge-tombstones"])
        .env("KONTOR_SYNC__TOMBSTONE_RETENTION_HOURS", "24")
        .output()
        .expect("run kontor");
    assert!(stdout(&day).contains("older than 24 h"));
    let zero = shop
        .command()
        .args(["sync", "purge-tombstones"])
        .env("KONTOR_SYNC__TOMBSTONE_RETENTION_HOURS", "0")
        .output()
        .expect("run kontor");
    assert!(!zero.status.success(), "a zero retention is refused");
    assert!(String::from_utf8_lossy(&zero.stderr).contains("sync.tombstone_retention_hours"));

    let jobs = stdout(&shop.run(&["scheduler", "jobs"]));
    assert!(jobs.contains("sync-purge-tombstones"), "{jobs}");
    let run = stdout(&shop.run(&["scheduler", "run-now", "sync-purge-tombstones"]));
    assert!(run.contains("succeeded") && run.contains("tombstone(s)"), "{run}");
}
