//! `scan_prefix`: sorted pages by key, limited to the prefix, continuing after a key; `walk_prefix`: a
//! whole prefix in pages, each key once, in order.

use crate::harness::{T0, TestKv, delete, write};
use kontor_kv::KvOp;

async fn scan_pages_through_a_prefix_in_key_order(kv: TestKv) {
    // Written out of order, with neighbours on both sides of the prefix.
    let mut ops: Vec<KvOp> = [7, 3, 11, 0, 5, 9, 1, 10, 2, 8, 4, 6]
        .into_iter()
        .map(|index| write(&format!("url:/de/p-{index:02}"), T0, &format!("{index}")))
        .collect();
    ops.push(write("url:/dd", T0, "before"));
    ops.push(write("url:/df", T0, "after"));
    ops.push(write("store:de", T0, "other resource"));
    kv.store.apply(&ops).await.expect("apply");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = kv
            .store
            .scan_prefix("url:/de/", after.as_deref(), 5)
            .await
            .expect("scan");
        assert!(page.len() <= 5);
        let last_page = page.len() < 5;
        after = page.last().map(|(key, _)| key.clone());
        for (key, document) in page {
            let index: u32 = document["name"].as_str().expect("a name").parse().expect("a number");
            assert_eq!(
                key,
                format!("url:/de/p-{index:02}"),
                "each key comes with its own document"
            );
            seen.push(key);
        }
        if last_page {
            break;
        }
    }
    let expected: Vec<String> = (0..12).map(|index| format!("url:/de/p-{index:02}")).collect();
    assert_eq!(seen, expected);
}

async fn scan_without_prefix_lists_the_whole_namespace(kv: TestKv) {
    kv.store
        .apply(&[write("b", T0, "b"), write("a", T0, "a"), write("c:1", T0, "c")])
        .await
        .expect("apply");
    let keys: Vec<String> = kv
        .store
        .scan_prefix("", None, 100)
        .await
        .expect("scan")
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(keys, ["a", "b", "c:1"]);
}

async fn scan_edges(kv: TestKv) {
    kv.store
        .apply(&[write("s:1", T0, "1"), write("s:2", T0, "2"), write("t:1", T0, "other")])
        .await
        .expect("apply");
    assert!(kv.store.scan_prefix("s:", None, 0).await.expect("limit 0").is_empty());
    assert!(
        kv.store
            .scan_prefix("nothing:", None, 10)
            .await
            .expect("no match")
            .is_empty()
    );
    // An `after_key` before the prefix starts at the prefix; one past it ends the scan.
    let from_start = kv.store.scan_prefix("s:", Some("a"), 10).await.expect("scan");
    assert_eq!(from_start.len(), 2);
    assert!(
        kv.store
            .scan_prefix("s:", Some("s:9"), 10)
            .await
            .expect("scan")
            .is_empty()
    );
    assert!(
        kv.store
            .scan_prefix("s:", Some("z"), 10)
            .await
            .expect("scan")
            .is_empty()
    );
    // Glob characters in a prefix are taken literally (Redis SCAN MATCH is a glob).
    kv.store.apply(&[write("g:a*b", T0, "star")]).await.expect("apply");
    let literal = kv.store.scan_prefix("g:a*", None, 10).await.expect("scan");
    assert_eq!(literal.len(), 1);
    assert!(kv.store.scan_prefix("g:*", None, 10).await.expect("scan").is_empty());
}

/// More keys than a page (and more than Redis's `MGET` chunk), with tombstones spread through them.
async fn walk_reads_a_whole_prefix_once_in_key_order(kv: TestKv) {
    const KEYS: usize = 2_345;
    let mut ops: Vec<KvOp> = (0..KEYS)
        .map(|index| write(&format!("w:{index:05}"), T0, &index.to_string()))
        .collect();
    ops.extend(
        (0..KEYS)
            .step_by(7)
            .map(|index| delete(&format!("w:{index:05}"), T0 + 1)),
    );
    ops.push(write("v:neighbour", T0, "before"));
    ops.push(write("wx:neighbour", T0, "after"));
    for chunk in ops.chunks(500) {
        kv.store.apply(chunk).await.expect("apply");
    }
    let expected: Vec<String> = (0..KEYS)
        .filter(|index| index % 7 != 0)
        .map(|index| format!("w:{index:05}"))
        .collect();

    let mut walk = kv.store.walk_prefix("w:", 1_000).await.expect("walk");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = walk.next_page().await.expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 1_000, "a page holds at most the page size");
        pages += 1;
        for (key, document) in page {
            let index: usize = document["name"].as_str().expect("a name").parse().expect("a number");
            assert_eq!(key, format!("w:{index:05}"), "each key comes with its own document");
            seen.push(key);
        }
    }
    assert_eq!(seen.len(), expected.len());
    assert_eq!(
        seen, expected,
        "every live key once, in key order, without its neighbours"
    );
    assert_eq!(pages, 3, "2 010 live keys fill two pages of 1 000 and a last one of 10");
    assert!(
        walk.next_page().await.expect("after the end").is_empty(),
        "a finished walk stays finished"
    );

    let mut empty = kv.store.walk_prefix("nothing:", 10).await.expect("walk");
    assert!(empty.next_page().await.expect("page").is_empty());
    let mut single = kv.store.walk_prefix("wx:", 0).await.expect("a page size of 0 means 1");
    assert_eq!(single.next_page().await.expect("page").len(), 1);
    let too_long = "w".repeat(kontor_kv::MAX_KEY_BYTES + 1);
    assert!(
        kv.store.walk_prefix(&too_long, 10).await.is_err(),
        "a prefix longer than a key is refused"
    );
}

kv_test_suite!(
    walk_reads_a_whole_prefix_once_in_key_order,
    scan_pages_through_a_prefix_in_key_order,
    scan_without_prefix_lists_the_whole_namespace,
    scan_edges,
);
