//! Deletes: tombstones block older writes, newer writes revive, readers never see them, TTL ends them.

use crate::harness::{T0, TestBackend, TestKv, delete, name_of, write};
use kontor_kv::ApplyReport;
use std::time::Duration;

async fn delete_blocks_an_older_write(kv: TestKv) {
    kv.store.apply(&[write("p:1", T0, "live")]).await.expect("apply");
    let deleted = kv.store.apply(&[delete("p:1", T0 + 10)]).await.expect("delete");
    assert_eq!(
        deleted,
        ApplyReport {
            applied: 1,
            skipped_stale: 0
        }
    );
    assert_eq!(name_of(&kv, "p:1").await, None);
    // A late write from before the delete must not resurrect the key.
    let late = kv
        .store
        .apply(&[write("p:1", T0 + 5, "resurrected")])
        .await
        .expect("apply");
    assert_eq!(
        late,
        ApplyReport {
            applied: 0,
            skipped_stale: 1
        }
    );
    assert_eq!(name_of(&kv, "p:1").await, None);
}

async fn delete_of_a_missing_key_still_blocks(kv: TestKv) {
    // Reordered messages: the delete overtook the write it follows.
    kv.store.apply(&[delete("p:1", T0 + 10)]).await.expect("delete");
    let late = kv.store.apply(&[write("p:1", T0, "too late")]).await.expect("apply");
    assert_eq!(late.skipped_stale, 1);
    assert_eq!(name_of(&kv, "p:1").await, None);
}

async fn newer_write_revives_a_deleted_key(kv: TestKv) {
    kv.store.apply(&[write("p:1", T0, "old")]).await.expect("apply");
    kv.store.apply(&[delete("p:1", T0 + 10)]).await.expect("delete");
    let equal = kv
        .store
        .apply(&[write("p:1", T0 + 10, "same time")])
        .await
        .expect("apply");
    assert_eq!(equal.applied, 1, "an equal timestamp applies after a delete too");
    kv.store.apply(&[delete("p:1", T0 + 20)]).await.expect("delete");
    let revived = kv
        .store
        .apply(&[write("p:1", T0 + 30, "revived")])
        .await
        .expect("apply");
    assert_eq!(revived.applied, 1);
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("revived"));
}

async fn older_delete_is_skipped(kv: TestKv) {
    kv.store
        .apply(&[write("p:1", T0 + 10, "current")])
        .await
        .expect("apply");
    let stale = kv.store.apply(&[delete("p:1", T0)]).await.expect("delete");
    assert_eq!(
        stale,
        ApplyReport {
            applied: 0,
            skipped_stale: 1
        }
    );
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("current"));
}

async fn tombstone_is_invisible_to_every_read(kv: TestKv) {
    kv.store
        .apply(&[write("t:a", T0, "a"), write("t:b", T0, "b"), write("t:c", T0, "c")])
        .await
        .expect("apply");
    kv.store.apply(&[delete("t:b", T0 + 1)]).await.expect("delete");
    assert_eq!(kv.store.get("t:b").await.expect("get"), None);
    let many = kv
        .store
        .get_many(&["t:a".to_owned(), "t:b".to_owned()])
        .await
        .expect("get_many");
    assert!(many[0].is_some());
    assert_eq!(many[1], None);
    let keys: Vec<String> = kv
        .store
        .scan_prefix("t:", None, 10)
        .await
        .expect("scan")
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(keys, ["t:a", "t:c"]);
    // A page of one starting at the tombstone skips it rather than coming back short.
    let page = kv.store.scan_prefix("t:", Some("t:a"), 1).await.expect("scan");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].0, "t:c");
}

async fn tombstone_expires_after_its_ttl(mut kv: TestKv) {
    kv.reopen_with_tombstone_ttl(Duration::from_millis(300)).await;
    kv.store.apply(&[delete("p:1", T0 + 10)]).await.expect("delete");
    let blocked = kv.store.apply(&[write("p:1", T0, "blocked")]).await.expect("apply");
    assert_eq!(blocked.skipped_stale, 1, "the tombstone guards while it lives");
    tokio::time::sleep(Duration::from_millis(600)).await;
    // After the TTL the key is forgotten; a late write may recreate it (the documented trade-off).
    let after = kv.store.apply(&[write("p:1", T0, "after ttl")]).await.expect("apply");
    assert_eq!(after.applied, 1);
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("after ttl"));
    kv.store.apply(&[delete("p:2", T0)]).await.expect("delete");
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Redis expires by itself (0 purged); the embedded backends purge on request.
    let purged = kv.store.purge_expired_tombstones().await.expect("purge");
    let expected = if kv.backend() == TestBackend::Redis { 0 } else { 1 };
    assert_eq!(purged, expected);
    assert_eq!(
        kv.store.clear().await.expect("clear"),
        1,
        "only the revived document is left"
    );
}

kv_test_suite!(
    delete_blocks_an_older_write,
    delete_of_a_missing_key_still_blocks,
    newer_write_revives_a_deleted_key,
    older_delete_is_skipped,
    tombstone_is_invisible_to_every_read,
    tombstone_expires_after_its_ttl,
);
