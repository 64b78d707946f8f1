//! The transition log's retention (oms.md §5): rows written before the cut-off are deleted, at most a
//! batch per statement, across orders; rows at or after the cut-off stay.

use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use kontor_db::SqlDatabase;
use kontor_domain::oms::{OmsRepository, TransitionFailure, purge_transition_log, retention_cutoff};
use kontor_testkit::repo_test_suite;

/// Writes a log row for `order_id` at `at`, labelled `label` (its error message).
async fn log_row(db: &SqlDatabase, order_id: i64, label: &str, at: DateTime<Utc>) {
    let failure = TransitionFailure {
        order_id,
        item_id: order_id * 10,
        event: Some("pay".to_owned()),
        source: "payment pending".to_owned(),
        command: Some("Payment/Capture".to_owned()),
        condition: None,
        origin: "test".to_owned(),
        message: label.to_owned(),
    };
    db.log_failure(&failure, at).await.expect("log row written");
}

/// The labels of an order's remaining rows, oldest first.
async fn labels(db: &SqlDatabase, order_id: i64) -> Vec<String> {
    db.transition_log(order_id)
        .await
        .expect("log read")
        .into_iter()
        .filter_map(|row| row.error)
        .collect()
}

async fn old_transition_log_rows_are_purged_in_batches_and_recent_ones_stay(db: SqlDatabase) {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).single().expect("date");
    let cutoff = retention_cutoff(now, 180);
    let rows = [
        (1, "old: a year and more", cutoff - TimeDelta::days(220)),
        (2, "old: weeks before", cutoff - TimeDelta::days(20)),
        (1, "old: a day before", cutoff - TimeDelta::days(1)),
        (2, "old: a second before", cutoff - TimeDelta::seconds(1)),
        (1, "old: a microsecond before", cutoff - TimeDelta::microseconds(1)),
        (1, "kept: exactly at the cut-off", cutoff),
        (2, "kept: a second after", cutoff + TimeDelta::seconds(1)),
        (1, "kept: yesterday", now - TimeDelta::days(1)),
        (2, "kept: now", now),
    ];
    for (order_id, label, at) in rows {
        log_row(&db, order_id, label, at).await;
    }

    // One batch deletes no more than its limit, oldest first.
    assert_eq!(db.delete_transition_log_batch(cutoff, 2).await.expect("batch"), 2);
    assert_eq!(
        labels(&db, 1).await,
        [
            "old: a day before",
            "old: a microsecond before",
            "kept: exactly at the cut-off",
            "kept: yesterday"
        ]
    );

    // The purge repeats batches until the old rows are gone; three left with batches of three means
    // a full batch and then an empty one.
    assert_eq!(purge_transition_log(&db, cutoff, 3).await.expect("purge"), 3);
    assert_eq!(
        labels(&db, 1).await,
        ["kept: exactly at the cut-off", "kept: yesterday"]
    );
    assert_eq!(labels(&db, 2).await, ["kept: a second after", "kept: now"]);

    // Nothing old is left: a second purge deletes nothing.
    assert_eq!(purge_transition_log(&db, cutoff, 3).await.expect("purge"), 0);
    assert_eq!(labels(&db, 1).await.len() + labels(&db, 2).await.len(), 4);
}

async fn a_purge_of_many_rows_takes_several_batches(db: SqlDatabase) {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).single().expect("date");
    let cutoff = retention_cutoff(now, 90);
    for index in 0..23 {
        log_row(&db, 7, &format!("old {index}"), cutoff - TimeDelta::hours(index + 1)).await;
    }
    log_row(&db, 7, "recent", now).await;
    assert_eq!(purge_transition_log(&db, cutoff, 5).await.expect("purge"), 23);
    assert_eq!(labels(&db, 7).await, ["recent"]);
}

repo_test_suite!(
    old_transition_log_rows_are_purged_in_batches_and_recent_ones_stay,
    a_purge_of_many_rows_takes_several_batches,
);
