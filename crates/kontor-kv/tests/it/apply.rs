//! `apply`: the set-if-newer guard, batches, replays and concurrent writers.

use crate::harness::{T0, TestKv, name_of, write};
use kontor_kv::{ApplyReport, KvOp};
use std::sync::Arc;

async fn older_write_after_newer_is_skipped(kv: TestKv) {
    let newer = kv.store.apply(&[write("p:1", T0 + 10, "newer")]).await.expect("apply");
    assert_eq!(
        newer,
        ApplyReport {
            applied: 1,
            skipped_stale: 0
        }
    );
    let older = kv.store.apply(&[write("p:1", T0, "older")]).await.expect("apply");
    assert_eq!(
        older,
        ApplyReport {
            applied: 0,
            skipped_stale: 1
        }
    );
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("newer"));
}

async fn one_microsecond_decides(kv: TestKv) {
    kv.store.apply(&[write("p:1", T0, "first")]).await.expect("apply");
    let older = kv.store.apply(&[write("p:1", T0 - 1, "older")]).await.expect("apply");
    assert_eq!(older.skipped_stale, 1, "1 µs older is older");
    let newer = kv.store.apply(&[write("p:1", T0 + 1, "newer")]).await.expect("apply");
    assert_eq!(newer.applied, 1, "1 µs newer is newer");
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("newer"));
}

async fn equal_timestamp_applies(kv: TestKv) {
    kv.store.apply(&[write("p:1", T0, "first")]).await.expect("apply");
    let report = kv.store.apply(&[write("p:1", T0, "second")]).await.expect("apply");
    assert_eq!(
        report,
        ApplyReport {
            applied: 1,
            skipped_stale: 0
        }
    );
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("second"));
}

async fn replaying_a_batch_is_idempotent(kv: TestKv) {
    let batch = [
        write("p:1", T0, "one"),
        write("p:2", T0 + 5, "two"),
        crate::harness::delete("p:3", T0 + 7),
    ];
    kv.store.apply(&batch).await.expect("apply");
    let before = kv.store.scan_prefix("p:", None, 10).await.expect("scan");
    for _ in 0..3 {
        let report = kv.store.apply(&batch).await.expect("replay");
        assert_eq!(report.applied + report.skipped_stale, batch.len());
    }
    let after = kv.store.scan_prefix("p:", None, 10).await.expect("scan");
    assert_eq!(before, after);
    assert_eq!(after.len(), 2);
}

async fn ops_of_one_batch_apply_in_order(kv: TestKv) {
    let batch = [
        write("p:1", T0, "first"),
        write("p:1", T0 + 2, "third"),
        write("p:1", T0 + 1, "second is stale"),
        write("p:2", T0, "other"),
    ];
    let report = kv.store.apply(&batch).await.expect("apply");
    assert_eq!(
        report,
        ApplyReport {
            applied: 3,
            skipped_stale: 1
        }
    );
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("third"));
    assert_eq!(name_of(&kv, "p:2").await.as_deref(), Some("other"));
}

async fn empty_batch_does_nothing(kv: TestKv) {
    let report = kv.store.apply(&[]).await.expect("apply");
    assert_eq!(report, ApplyReport::default());
}

async fn batch_of_1000_ops(kv: TestKv) {
    let ops: Vec<KvOp> = (0..1000)
        .map(|index| {
            write(
                &format!("product_abstract:de:en_us:{index:04}"),
                T0 + index,
                &format!("product {index}"),
            )
        })
        .collect();
    let report = kv.store.apply(&ops).await.expect("apply");
    assert_eq!(
        report,
        ApplyReport {
            applied: 1000,
            skipped_stale: 0
        }
    );
    let keys: Vec<String> = ops.iter().map(|op| op.key().to_owned()).collect();
    let documents = kv.store.get_many(&keys).await.expect("get_many");
    for (index, document) in documents.iter().enumerate() {
        let document = document.as_ref().expect("every key was written");
        assert_eq!(document["name"], format!("product {index}"));
    }
    // Half of them again, older: all skipped, nothing changed.
    let stale: Vec<KvOp> = (0..500)
        .map(|index| write(&format!("product_abstract:de:en_us:{index:04}"), T0 - 1, "stale"))
        .collect();
    let report = kv.store.apply(&stale).await.expect("apply");
    assert_eq!(
        report,
        ApplyReport {
            applied: 0,
            skipped_stale: 500
        }
    );
    assert_eq!(
        name_of(&kv, "product_abstract:de:en_us:0000").await.as_deref(),
        Some("product 0")
    );
}

async fn concurrent_applies_end_with_the_newest_value(kv: TestKv) {
    const TASKS: i64 = 8;
    const ROUNDS: i64 = 25;
    let store = Arc::clone(&kv.store);
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                // Timestamps interleave across tasks, so writers keep overtaking each other.
                let micros = T0 + round * TASKS + task;
                let ops = [
                    write("hot:1", micros, &format!("{micros}")),
                    write("hot:2", micros, &format!("{micros}")),
                ];
                store.apply(&ops).await.expect("apply");
                tokio::task::yield_now().await;
            }
        }));
    }
    for handle in handles {
        handle.await.expect("writer task");
    }
    drop(store);
    let newest = (T0 + (ROUNDS - 1) * TASKS + (TASKS - 1)).to_string();
    assert_eq!(name_of(&kv, "hot:1").await.as_deref(), Some(newest.as_str()));
    assert_eq!(name_of(&kv, "hot:2").await.as_deref(), Some(newest.as_str()));
}

kv_test_suite!(
    older_write_after_newer_is_skipped,
    one_microsecond_decides,
    equal_timestamp_applies,
    replaying_a_batch_is_idempotent,
    ops_of_one_batch_apply_in_order,
    empty_batch_does_nothing,
    batch_of_1000_ops,
    concurrent_applies_end_with_the_newest_value,
);
