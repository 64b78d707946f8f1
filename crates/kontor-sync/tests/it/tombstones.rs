//! Purging old tombstone rows of the storage tables (`kontor sync purge-tombstones`), and why the
//! retention matters: the stale-write guard can only refuse a late, older write while the tombstone of
//! its key is still there.

use kontor_db::{RowOutcome, SqlDatabase, StorageRow};
use kontor_readmodel::storage::projection::URL;
use kontor_sync::maintenance;
use std::time::Duration;

const HOUR: i64 = 3_600_000_000;
const WEEK: Duration = Duration::from_secs(168 * 3600);

fn row(key: &str, source_ts: i64, data: Option<&str>) -> StorageRow {
    StorageRow {
        key: key.to_owned(),
        entity_id: Some(1),
        store: None,
        locale: None,
        data: data.map(str::to_owned),
        data_hash: data.map_or_else(String::new, |data| format!("{:0>32}", data.len())),
        source_ts,
    }
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn stored(db: &SqlDatabase, key: &str) -> Option<StorageRow> {
    let rows = db.storage_rows_by_keys(URL, &[key.to_owned()]).await.expect("read");
    rows.into_iter().next()
}

async fn old_tombstones_are_purged_in_batches_and_recent_ones_keep_guarding(db: SqlDatabase) {
    let now = now_micros();
    // More old tombstones than a batch, a recent one, and an old live document.
    let mut rows: Vec<StorageRow> = (0..250)
        .map(|index| row(&format!("url:/old-{index:03}"), now - 200 * HOUR, None))
        .collect();
    rows.push(row("url:/recent", now - HOUR, None));
    rows.push(row("url:/live", now - 500 * HOUR, Some(r#"{"url":"/live"}"#)));
    db.write_storage_rows(URL, &rows, now).await.expect("write");

    let before = now - 168 * HOUR;
    let purged = db.purge_storage_tombstones(URL, before, 100).await.expect("purge");
    assert_eq!(
        purged, 250,
        "every tombstone older than the cut-off, over three batches"
    );
    assert!(stored(&db, "url:/old-000").await.is_none());
    assert!(stored(&db, "url:/old-249").await.is_none());
    let live = stored(&db, "url:/live").await.expect("an old live document stays");
    assert!(live.data.is_some());
    assert!(stored(&db, "url:/recent").await.is_some(), "a recent tombstone stays");
    assert_eq!(
        db.purge_storage_tombstones(URL, before, 100).await.expect("purge"),
        0,
        "a second purge finds nothing"
    );

    // The recent tombstone still refuses a write older than the delete.
    let late = row("url:/recent", now - 2 * HOUR, Some(r#"{"url":"/recent"}"#));
    let outcome = db.write_storage_rows(URL, &[late], now).await.expect("write");
    assert_eq!(outcome, [RowOutcome::Stale], "the tombstone guards its key");
    assert!(stored(&db, "url:/recent").await.expect("row").data.is_none());
    // Without its tombstone a key has no guard: an even older write lands. The retention exists so that
    // no write can still be that late.
    let very_late = row("url:/old-000", now - 300 * HOUR, Some(r#"{"url":"/old"}"#));
    let outcome = db.write_storage_rows(URL, &[very_late], now).await.expect("write");
    assert_eq!(outcome, [RowOutcome::Written]);
}

async fn the_purge_covers_every_projection_and_honours_the_retention(db: SqlDatabase) {
    let now = now_micros();
    db.write_storage_rows(URL, &[row("url:/a", now - 10 * HOUR, None)], now)
        .await
        .expect("write");
    db.write_storage_rows("store", &[row("store:xx", now - 200 * HOUR, None)], now)
        .await
        .expect("write");

    let purged = maintenance::purge_tombstones(&db, WEEK).await.expect("purge");
    let count = |name: &str, purged: &[(&str, u64)]| {
        purged
            .iter()
            .find(|(projection, _)| *projection == name)
            .map(|(_, count)| *count)
    };
    assert_eq!(
        purged.len(),
        kontor_sync::projections::all().len(),
        "one count per projection"
    );
    assert_eq!(count("store", &purged), Some(1));
    assert_eq!(count(URL, &purged), Some(0), "10 h is within a week's retention");

    let shorter = maintenance::purge_tombstones(&db, Duration::from_secs(3600))
        .await
        .expect("purge");
    assert_eq!(
        count(URL, &shorter),
        Some(1),
        "with a 1 h retention the 10 h old tombstone goes"
    );
    assert!(stored(&db, "url:/a").await.is_none());
}

kontor_testkit::repo_test_suite!(
    old_tombstones_are_purged_in_batches_and_recent_ones_keep_guarding,
    the_purge_covers_every_projection_and_honours_the_retention,
);
