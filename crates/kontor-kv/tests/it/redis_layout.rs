//! Redis only: what `redis-cli` sees under `kv:<namespace>`, and documents written by other tools.
//!
//! The conformance suite checks behaviour through the trait; these tests pin the stored layout the
//! Lua script relies on (timestamp first, tombstones with a TTL) and its fallback for JSON that
//! another writer stored in a different member order.

use crate::harness::{T0, TestBackend, TestKv, delete, name_of, write};

/// A direct connection to the test server, beside the store under test.
fn raw_connection(kv: &TestKv) -> redis::Connection {
    redis::Client::open(kv.url())
        .and_then(|client| client.get_connection())
        .expect("connect to the test redis")
}

/// Milliseconds until `physical_key` expires; -1 when it never does.
fn pttl(connection: &mut redis::Connection, physical_key: &str) -> i64 {
    redis::cmd("PTTL").arg(physical_key).query(connection).expect("pttl")
}

fn namespace_key(kv: &TestKv, key: &str) -> String {
    format!("kv:{}{key}", kv.namespace())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_tombstones_are_plain_json_strings() {
    if !TestBackend::Redis.is_selected() {
        eprintln!("redis deselected by KONTOR_TEST_BACKENDS");
        return;
    }
    let kv = TestKv::new(TestBackend::Redis).await;
    kv.store
        .apply(&[write("p:1", T0, "jacket"), delete("p:2", 1_795_511_702_123_999)])
        .await
        .expect("apply");
    let mut connection = raw_connection(&kv);

    let stored: String = redis::cmd("GET")
        .arg(namespace_key(&kv, "p:1"))
        .query(&mut connection)
        .expect("get document");
    assert!(stored.starts_with(r#"{"_timestamp":1795511702.123456,"#), "{stored}");
    let document_ttl = pttl(&mut connection, &namespace_key(&kv, "p:1"));
    assert_eq!(document_ttl, -1, "documents do not expire");

    let tombstone: String = redis::cmd("GET")
        .arg(namespace_key(&kv, "p:2"))
        .query(&mut connection)
        .expect("get tombstone");
    assert_eq!(tombstone, r#"{"_timestamp":1795511702.123999,"_deleted":true}"#);
    let tombstone_ttl = pttl(&mut connection, &namespace_key(&kv, "p:2"));
    assert!(
        tombstone_ttl > 23 * 3600 * 1000 && tombstone_ttl <= 24 * 3600 * 1000,
        "24 h tombstone ttl, got {tombstone_ttl} ms"
    );

    // A newer write over a tombstone drops its TTL.
    kv.store
        .apply(&[write("p:2", T0 + 1_000, "back")])
        .await
        .expect("apply");
    let revived_ttl = pttl(&mut connection, &namespace_key(&kv, "p:2"));
    assert_eq!(revived_ttl, -1, "a write over a tombstone drops its ttl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_reads_timestamps_of_json_written_by_other_tools() {
    if !TestBackend::Redis.is_selected() {
        eprintln!("redis deselected by KONTOR_TEST_BACKENDS");
        return;
    }
    let kv = TestKv::new(TestBackend::Redis).await;
    let mut connection = raw_connection(&kv);
    // `_timestamp` last and spaced: the script's fast path misses, its cjson fallback must not.
    let foreign = r#"{"name": "foreign", "_timestamp": 1795511702.123456}"#;
    let _: () = redis::cmd("SET")
        .arg(namespace_key(&kv, "p:1"))
        .arg(foreign)
        .query(&mut connection)
        .expect("set");
    let older = kv.store.apply(&[write("p:1", T0 - 1, "older")]).await.expect("apply");
    assert_eq!(older.skipped_stale, 1);
    let equal = kv.store.apply(&[write("p:1", T0, "equal")]).await.expect("apply");
    assert_eq!(equal.applied, 1);
    assert_eq!(name_of(&kv, "p:1").await.as_deref(), Some("equal"));

    // A value without any readable timestamp does not block a write.
    let _: () = redis::cmd("SET")
        .arg(namespace_key(&kv, "p:2"))
        .arg("not json")
        .query(&mut connection)
        .expect("set");
    let report = kv.store.apply(&[write("p:2", T0, "fixed")]).await.expect("apply");
    assert_eq!(report.applied, 1);
    assert_eq!(name_of(&kv, "p:2").await.as_deref(), Some("fixed"));
}

/// A walk lists the prefix with one `SCAN` when it starts and then only reads values: a key written
/// after the start is not picked up by a later page (a walk that re-scanned per page would return it),
/// and a key removed meanwhile is left out rather than failing the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_lists_the_keys_once_when_it_starts() {
    if !TestBackend::Redis.is_selected() {
        eprintln!("redis deselected by KONTOR_TEST_BACKENDS");
        return;
    }
    let kv = TestKv::new(TestBackend::Redis).await;
    let ops: Vec<_> = (0..30)
        .map(|index| write(&format!("r:{index:02}"), T0, "doc"))
        .collect();
    kv.store.apply(&ops).await.expect("apply");
    let mut walk = kv.store.walk_prefix("r:", 10).await.expect("walk");
    let first: Vec<String> = walk
        .next_page()
        .await
        .expect("page")
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(first.first().map(String::as_str), Some("r:00"));
    assert_eq!(first.len(), 10);

    kv.store.apply(&[write("r:25a", T0, "late")]).await.expect("apply");
    let mut connection = raw_connection(&kv);
    let _: u64 = redis::cmd("DEL")
        .arg(namespace_key(&kv, "r:15"))
        .query(&mut connection)
        .expect("del");

    let mut rest = Vec::new();
    loop {
        let page = walk.next_page().await.expect("page");
        if page.is_empty() {
            break;
        }
        rest.extend(page.into_iter().map(|(key, _)| key));
    }
    let expected: Vec<String> = (10..30)
        .filter(|index| *index != 15)
        .map(|index| format!("r:{index:02}"))
        .collect();
    assert_eq!(rest, expected);
}
