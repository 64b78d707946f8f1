//! Storage tables (stale-write guard, tombstones, scans) and the outbox relay claim.

use crate::fixtures::*;
use kontor_db::{OutboxReader, RowOutcome, SqlDatabase, StorageRow};
use kontor_domain::store::LocaleAttributes;
use kontor_testkit::repo_test_suite;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn row(key: &str, entity_id: i64, data: Option<&str>, hash: &str, source_ts: i64) -> StorageRow {
    StorageRow {
        key: key.to_owned(),
        entity_id: Some(entity_id),
        store: Some("DE".to_owned()),
        locale: Some("en_US".to_owned()),
        data: data.map(str::to_owned),
        data_hash: hash.to_owned(),
        source_ts,
    }
}

async fn storage_rows_pass_the_stale_write_guard(db: SqlDatabase) {
    let projection = "product_abstract";
    let first = row("product_abstract:de:en_us:1", 1, Some(r#"{"sku":"1"}"#), "h1", 100);
    assert_eq!(
        db.write_storage_rows(projection, std::slice::from_ref(&first), 1)
            .await
            .expect("write"),
        [RowOutcome::Written]
    );
    // Same timestamp or older: dropped, whatever the content.
    let older = row("product_abstract:de:en_us:1", 1, Some(r#"{"sku":"old"}"#), "h0", 100);
    assert_eq!(
        db.write_storage_rows(projection, &[older], 2).await.expect("write"),
        [RowOutcome::Stale]
    );
    // Newer, same document: only the timestamp moves.
    let same = row("product_abstract:de:en_us:1", 1, Some(r#"{"sku":"1"}"#), "h1", 200);
    assert_eq!(
        db.write_storage_rows(projection, &[same], 3).await.expect("write"),
        [RowOutcome::Unchanged]
    );
    let stored = db
        .storage_rows_by_keys(projection, &["product_abstract:de:en_us:1".to_owned()])
        .await
        .expect("read");
    assert_eq!(stored[0].source_ts, 200);
    // A tombstone, then an older write cannot resurrect the row.
    let tombstone = row("product_abstract:de:en_us:1", 1, None, "", 300);
    assert_eq!(
        db.write_storage_rows(projection, &[tombstone], 4).await.expect("write"),
        [RowOutcome::Written]
    );
    let late = row("product_abstract:de:en_us:1", 1, Some(r#"{"sku":"1"}"#), "h1", 250);
    assert_eq!(
        db.write_storage_rows(projection, &[late], 5).await.expect("write"),
        [RowOutcome::Stale]
    );
    let stored = db.storage_rows_by_entity(projection, &[1]).await.expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, None);
    assert!(
        db.scan_storage(projection, 0, 10).await.expect("scan").is_empty(),
        "tombstones are not scanned"
    );
    // A newer write revives it.
    let revived = row("product_abstract:de:en_us:1", 1, Some(r#"{"sku":"1"}"#), "h1", 400);
    assert_eq!(
        db.write_storage_rows(projection, &[revived], 6).await.expect("write"),
        [RowOutcome::Written]
    );
    assert_eq!(db.count_storage(projection).await.expect("count"), 1);
}

async fn many_rows_are_written_in_chunks_and_scanned_in_order(db: SqlDatabase) {
    let rows: Vec<StorageRow> = (1..=450)
        .map(|id| {
            row(
                &format!("product_page:de:en_us:{id}"),
                id,
                Some("{}"),
                &format!("h{id}"),
                10,
            )
        })
        .collect();
    let outcomes = db.write_storage_rows("product_page", &rows, 1).await.expect("write");
    assert!(outcomes.iter().all(|outcome| *outcome == RowOutcome::Written));
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = db.scan_storage("product_page", after, 100).await.expect("scan");
        let Some((last, _)) = page.last() else { break };
        after = *last;
        seen.extend(page.into_iter().map(|(_, row)| row.entity_id.unwrap_or_default()));
    }
    assert_eq!(seen, (1..=450).collect::<Vec<_>>());
}

/// A storage table filled from empty by a first publish is analyzed on PostgreSQL once 5 000 rows
/// were added (then on doubling), so its lookups by entity are not planned as on an empty table.
async fn a_growing_storage_table_gets_planner_statistics(db: SqlDatabase) {
    let estimated = || kontor_testkit::planner_row_estimate(&db, "product_page_search");
    let batch = |first: i64| -> Vec<StorageRow> {
        (first..first + 1_000)
            .map(|id| row(&format!("product_page:de:en_us:{id}"), id, Some("{}"), "h", 10))
            .collect()
    };
    for first in (0..4).map(|page| page * 1_000 + 1) {
        db.write_storage_rows("product_page", &batch(first), 1)
            .await
            .expect("write");
    }
    // Rewriting known keys adds nothing.
    db.write_storage_rows("product_page", &batch(1), 1)
        .await
        .expect("rewrite");
    if let Some(estimate) = estimated().await {
        assert!(estimate <= 0.0, "4 000 new rows: not analyzed yet ({estimate})");
    }
    db.write_storage_rows("product_page", &batch(4_001), 1)
        .await
        .expect("write");
    if let Some(estimate) = estimated().await {
        assert_eq!(estimate, 5_000.0, "analyzed at 5 000 new rows");
    }
    assert_eq!(db.count_storage("product_page").await.expect("count"), 5_000);
}

async fn the_relay_claims_each_outbox_row_once(db: SqlDatabase) {
    for name in ["de_DE", "en_US", "fr_FR"] {
        create(
            &db,
            LocaleAttributes {
                name: locale(name),
                is_active: true,
            },
        )
        .await;
    }
    assert_eq!(db.outbox_backlog().await.expect("backlog"), 3);
    // A failing publish leaves the rows for the next round.
    let failed = db
        .relay_outbox(10, |_| async {
            Err(kontor_domain::DomainError::Storage("broker down".into()))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(db.outbox_backlog().await.expect("backlog"), 3);

    let relayed = Arc::new(AtomicUsize::new(0));
    let counter = relayed.clone();
    let claimed = db
        .relay_outbox(2, move |rows| async move {
            counter.fetch_add(rows.len(), Ordering::SeqCst);
            Ok(())
        })
        .await
        .expect("relay");
    assert_eq!(claimed, 2);
    let counter = relayed.clone();
    let rest = db
        .relay_outbox(10, move |rows| async move {
            counter.fetch_add(rows.len(), Ordering::SeqCst);
            Ok(())
        })
        .await
        .expect("relay");
    assert_eq!(rest, 1);
    assert_eq!(relayed.load(Ordering::SeqCst), 3);
    assert_eq!(db.outbox_backlog().await.expect("backlog"), 0);
    assert!(
        db.outbox_after(0, 10)
            .await
            .expect("outbox")
            .iter()
            .all(|entry| entry.relayed_at.is_some())
    );
    assert_eq!(db.relay_outbox(10, |_| async { Ok(()) }).await.expect("relay"), 0);
}

async fn concurrent_relays_never_claim_the_same_row(db: SqlDatabase) {
    if db.backend() == kontor_db::DbBackend::Sqlite {
        // Documented: on SQLite concurrent relays may both send a row (at-least-once).
        return;
    }
    for index in 0..40 {
        let name = format!(
            "{}{}_DE",
            (b'a' + (index / 26) as u8) as char,
            (b'a' + (index % 26) as u8) as char
        );
        create(
            &db,
            LocaleAttributes {
                name: locale(&name),
                is_active: true,
            },
        )
        .await;
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let db = db.clone();
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let seen = seen.clone();
                let claimed = db
                    .relay_outbox(5, move |rows| async move {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        seen.lock().expect("lock").extend(rows.into_iter().map(|row| row.id));
                        Ok(())
                    })
                    .await
                    .expect("relay");
                if claimed == 0 {
                    break;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let mut ids = seen.lock().expect("lock").clone();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(total, 40, "every row relayed exactly once");
    assert_eq!(ids.len(), 40);
}

async fn outbox_rows_carry_the_foreign_keys_to_route_by(db: SqlDatabase) {
    use kontor_domain::ResourceRepository;
    use kontor_domain::pricing::PriceAttributes;
    base_shop(&db).await;
    let (abstract_id, concrete_ids) = crate::pricing::insert_product(&db, "100", &["100_a"]).await;
    let mark = outbox_mark(&db).await;
    let price = create(
        &db,
        PriceAttributes {
            abstract_sku: None,
            concrete_sku: Some(kontor_core::Sku::parse("100_a").expect("sku")),
            price_type: "DEFAULT".into(),
            store: store_name("DE"),
            currency: currency("EUR"),
            net_amount: None,
            gross_amount: Some(999),
            volume_prices: Vec::new(),
        },
    )
    .await;
    ResourceRepository::<PriceAttributes>::delete(&db, price.id)
        .await
        .expect("delete");
    let entries = db.outbox_after(mark, 10).await.expect("outbox");
    assert_eq!(entries.len(), 2);
    for entry in &entries {
        assert_eq!(entry.foreign_key_ids("fk_product_abstract"), [abstract_id], "{entry:?}");
        assert_eq!(entry.foreign_key_ids("fk_product_concrete"), concrete_ids, "{entry:?}");
        assert!(entry.foreign_key_ids("fk_price_product_abstract").is_empty());
    }
    assert_eq!(entries[1].event, "Entity.price_product.delete");
}

repo_test_suite!(
    outbox_rows_carry_the_foreign_keys_to_route_by,
    storage_rows_pass_the_stale_write_guard,
    many_rows_are_written_in_chunks_and_scanned_in_order,
    a_growing_storage_table_gets_planner_statistics,
    the_relay_claims_each_outbox_row_once,
    concurrent_relays_never_claim_the_same_row,
);
