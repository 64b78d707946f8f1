//! Reads: `get`, `get_many` in key order, missing keys, values kept as given, reopen.

use crate::harness::{T0, TestBackend, TestKv, document, name_of, write};
use kontor_kv::KvOp;
use serde_json::json;

async fn missing_key_is_none(kv: TestKv) {
    assert_eq!(kv.store.get("product_abstract:de:en_us:404").await.expect("get"), None);
    let none = kv
        .store
        .get_many(&["a".to_owned(), "b".to_owned()])
        .await
        .expect("get_many");
    assert_eq!(none, vec![None, None]);
    assert!(kv.store.get_many(&[]).await.expect("get_many of nothing").is_empty());
}

async fn written_document_is_returned_as_given(kv: TestKv) {
    let value = document(
        T0,
        json!({
            "id_product_abstract": 123,
            "sku": "100",
            "name": "Fjell Regenjacke – grün",
            "attributes": {"brand": "Fjell", "sizes": ["S", "M"]},
            "attribute_map": {"super_attributes": {"color": ["Blue", "Red"]}, "nested": {"_timestamp": 1}},
            "price": 12900,
            "big": 9007199254740993_i64,
            "ratio": 0.1,
            "nothing": null,
        }),
    );
    let op = KvOp::write_document("product_abstract:de:en_us:123", value.clone()).expect("has a timestamp");
    let report = kv.store.apply(&[op]).await.expect("apply");
    assert_eq!(report.applied, 1);
    let stored = kv.store.get("product_abstract:de:en_us:123").await.expect("get");
    assert_eq!(stored, Some(value));
}

async fn get_many_returns_documents_in_key_order(kv: TestKv) {
    let ops = [write("k:c", T0, "c"), write("k:a", T0, "a"), write("k:b", T0, "b")];
    kv.store.apply(&ops).await.expect("apply");
    let keys = ["k:b", "k:missing", "k:a", "k:c", "k:a"].map(str::to_owned);
    let documents = kv.store.get_many(&keys).await.expect("get_many");
    let names: Vec<Option<&str>> = documents
        .iter()
        .map(|document| {
            document
                .as_ref()
                .map(|document| document["name"].as_str().expect("a name"))
        })
        .collect();
    assert_eq!(names, vec![Some("b"), None, Some("a"), Some("c"), Some("a")]);
}

async fn reopen_keeps_data(mut kv: TestKv) {
    kv.store
        .apply(&[write("keep:1", T0, "kept"), write("gone:1", T0, "x")])
        .await
        .expect("apply");
    kv.store
        .apply(&[crate::harness::delete("gone:1", T0 + 1)])
        .await
        .expect("delete");
    kv.reopen().await;
    assert_eq!(name_of(&kv, "keep:1").await.as_deref(), Some("kept"));
    assert_eq!(name_of(&kv, "gone:1").await, None);
    // The tombstone survived the reopen too: an older write is still blocked.
    let report = kv.store.apply(&[write("gone:1", T0, "old")]).await.expect("apply");
    assert_eq!(report.skipped_stale, 1);
    if kv.backend() == TestBackend::Redb {
        // A second handle on the same file is refused rather than risking the file.
        let second = kontor_kv::open(kv.url(), kontor_kv::KvOptions::default()).await;
        assert!(second.is_err(), "a redb file opens once");
    }
}

async fn namespaces_do_not_see_each_other(kv: TestKv) {
    if kv.backend() != TestBackend::Redis {
        return; // memory stores are separate anyway, and a redb file has one handle (one namespace)
    }
    kv.store.apply(&[write("shared:1", T0, "mine")]).await.expect("apply");
    let other_namespace = format!("t_{}:", uuid::Uuid::new_v4().simple());
    let other = kontor_kv::open(kv.url(), kontor_kv::KvOptions::with_namespace(other_namespace))
        .await
        .expect("open a second namespace");
    assert_eq!(other.get("shared:1").await.expect("get"), None);
    assert!(other.scan_prefix("", None, 10).await.expect("scan").is_empty());
    assert_eq!(other.clear().await.expect("clear"), 0);
    assert_eq!(name_of(&kv, "shared:1").await.as_deref(), Some("mine"));
}

async fn clear_removes_every_key_of_the_namespace(kv: TestKv) {
    let ops: Vec<KvOp> = (0..25).map(|index| write(&format!("c:{index:02}"), T0, "x")).collect();
    kv.store.apply(&ops).await.expect("apply");
    kv.store
        .apply(&[crate::harness::delete("c:00", T0 + 1)])
        .await
        .expect("delete");
    assert_eq!(
        kv.store.clear().await.expect("clear"),
        25,
        "documents and the tombstone"
    );
    assert!(kv.store.scan_prefix("", None, 100).await.expect("scan").is_empty());
    // With the tombstone gone, an older write applies again: clear is a full reset.
    let report = kv.store.apply(&[write("c:00", T0, "again")]).await.expect("apply");
    assert_eq!(report.applied, 1);
}

kv_test_suite!(
    missing_key_is_none,
    written_document_is_returned_as_given,
    get_many_returns_documents_in_key_order,
    reopen_keeps_data,
    namespaces_do_not_see_each_other,
    clear_removes_every_key_of_the_namespace,
);
