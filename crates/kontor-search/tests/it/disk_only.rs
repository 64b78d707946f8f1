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
