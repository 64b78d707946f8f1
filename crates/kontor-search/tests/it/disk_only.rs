//! Behaviour only an on-disk index has: surviving a restart.

use kontor_search::{SearchIndex, SearchOp, TantivySearchIndex};

use crate::fixtures::{CATALOG, catalog_ops, en, request, store};

#[tokio::test]
async fn reopening_keeps_documents_and_tombstones() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let index = TantivySearchIndex::open(dir.path()).expect("opens");
        index.apply(catalog_ops(10)).await.expect("applies");
        index
            .apply(vec![SearchOp::delete(CATALOG[0].key("en_US"), 20)])
            .await
            .expect("applies");
    }
    assert!(
        dir.path().join("search/de_en_us/meta.json").exists(),
        "index lives under search/<store>_<locale>"
    );

    let reopened = TantivySearchIndex::open(dir.path()).expect("reopens");
    assert_eq!(
        reopened.keys(&store(), &en()).await.expect("lists").len(),
        CATALOG.len() - 1
    );
    let found = reopened.search(request().with_query("jacket")).await.expect("searches");
    assert_eq!(found.total, 2);
    let outcome = reopened
        .apply(vec![CATALOG[0].upsert("en_US", 15)])
        .await
        .expect("applies");
    assert_eq!(outcome.skipped, 1, "the tombstone survived the restart");
}

#[tokio::test]
async fn reading_an_unknown_scope_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = TantivySearchIndex::open(dir.path()).expect("opens");
    assert_eq!(index.search(request()).await.expect("searches").total, 0);
    assert!(!dir.path().join("search/de_en_us").exists());
}

/// The committed segments of the English index, as its `meta.json` lists them.
fn segment_count(dir: &std::path::Path) -> usize {
    let meta = std::fs::read(dir.join("search/de_en_us/meta.json")).expect("meta.json");
    let meta: serde_json::Value = serde_json::from_slice(&meta).expect("meta.json is JSON");
    meta["segments"].as_array().expect("segments").len()
}

#[tokio::test]
async fn compacting_merges_the_segments_without_changing_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = TantivySearchIndex::open(dir.path()).expect("opens");
    // One commit per product: a segment each (fewer than the merge policy waits for).
    for product in CATALOG.iter().take(3) {
        index.apply(vec![product.upsert("en_US", 10)]).await.expect("applies");
    }
    assert_eq!(segment_count(dir.path()), 3);
    let before = index.search(request().with_query("jacket")).await.expect("searches");
    let generation = index.generation(&store(), &en()).expect("generation");
    assert_eq!(
        index.generation(&store(), &en()),
        Some(generation),
        "stable while nothing changes"
    );

    index.compact().await.expect("compacts");
    assert_eq!(segment_count(dir.path()), 1);
    let after = index.search(request().with_query("jacket")).await.expect("searches");
    assert_eq!(after, before, "the same answer from one segment");
    assert_ne!(
        index.generation(&store(), &en()),
        Some(generation),
        "the merge is a new generation: answers cached under the old one are retired"
    );
    index.compact().await.expect("a single segment is left alone");
    assert_eq!(segment_count(dir.path()), 1);
}
