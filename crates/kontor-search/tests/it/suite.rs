//! The conformance suite: every `SearchIndex` backend must pass these.

use std::collections::BTreeMap;

use kontor_core::ids::CategoryNodeId;
use kontor_readmodel::search::{ProductPageDocument, SearchResultData};
use kontor_search::{
    ApplyOutcome, CategoryCount, FacetValueCount, IntegerRange, RangeFacet, SearchError, SearchIndex, SearchOp,
    SearchResult, SearchSort,
};

use crate::fixtures::{CATALOG, PRICE, Product, catalog_ops, de, en, request, store};

fn skus(result: &SearchResult) -> Vec<&str> {
    result.hits.iter().map(|hit| hit.data.abstract_sku.as_str()).collect()
}

/// For results whose order is unspecified (no query, relevance sort).
fn sorted_skus(result: &SearchResult) -> Vec<&str> {
    let mut skus = skus(result);
    skus.sort_unstable();
    skus
}

fn facet<'a>(result: &'a SearchResult, name: &str) -> Vec<(&'a str, u64)> {
    result
        .value_facets
        .iter()
        .find(|facet| facet.name == name)
        .map(|facet| {
            facet
                .values
                .iter()
                .map(|v: &FacetValueCount| (v.value.as_str(), v.doc_count))
                .collect()
        })
        .unwrap_or_default()
}

async fn load_catalog(index: &dyn SearchIndex) {
    let outcome = index.apply(catalog_ops(10)).await.expect("applies");
    assert_eq!(
        outcome,
        ApplyOutcome {
            applied: CATALOG.len(),
            skipped: 0
        }
    );
}

pub async fn full_text_is_stemmed_per_locale(index: &dyn SearchIndex) {
    let german = Product {
        name: "Digitale Kamera",
        sku: "K1",
        ..CATALOG[0]
    };
    index.apply(vec![german.upsert("de_DE", 1)]).await.expect("applies");
    let found = index
        .search(kontor_search::SearchRequest::new(store(), de()).with_query("Kameras"))
        .await
        .expect("searches");
    assert_eq!(skus(&found), ["K1"]);

    load_catalog(index).await;
    let found = index.search(request().with_query("jackets")).await.expect("searches");
    assert_eq!(found.total, 3, "english plural finds the singular names");
    let found = index
        .search(request().with_query("fjell jacket"))
        .await
        .expect("searches");
    assert_eq!(skus(&found), ["100"], "all words must match");
    let found = index.search(request().with_query("kamera")).await.expect("searches");
    assert_eq!(found.total, 0, "the german document is in another index");
}

pub async fn sku_search_is_exact_and_case_insensitive(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let found = index.search(request().with_query("102")).await.expect("searches");
    assert_eq!(skus(&found), ["102"]);
    let found = index.search(request().with_query("103_BLUE")).await.expect("searches");
    assert_eq!(skus(&found), ["103"], "add-to-cart SKU, upper-cased input");
}

pub async fn value_facets_count_without_their_own_filter(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let all = index.search(request()).await.expect("searches");
    assert_eq!(facet(&all, "brand"), [("Fjell", 2), ("Havn", 2), ("Alpen", 1)]);
    assert_eq!(
        facet(&all, "color"),
        [("Blue", 2), ("Red", 2), ("Black", 1), ("Green", 1)]
    );

    let mut fjell = request();
    fjell
        .filters
        .string_facets
        .insert("brand".to_owned(), vec!["Fjell".to_owned()]);
    let found = index.search(fjell.clone()).await.expect("searches");
    assert_eq!(sorted_skus(&found), ["100", "102"]);
    assert_eq!(
        facet(&found, "brand"),
        [("Fjell", 2), ("Havn", 2), ("Alpen", 1)],
        "own filter ignored"
    );
    assert_eq!(
        facet(&found, "color"),
        [("Blue", 1), ("Green", 1), ("Red", 1)],
        "other facets filtered"
    );

    fjell
        .filters
        .string_facets
        .insert("brand".to_owned(), vec!["Fjell".to_owned(), "Alpen".to_owned()]);
    fjell
        .filters
        .string_facets
        .insert("color".to_owned(), vec!["Blue".to_owned()]);
    let found = index.search(fjell).await.expect("searches");
    assert_eq!(
        sorted_skus(&found),
        ["100", "103"],
        "values OR-ed within a facet, facets AND-ed"
    );
}

pub async fn price_range_filters_and_range_facets(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let all = index.search(request()).await.expect("searches");
    assert_eq!(
        all.range_facets,
        [RangeFacet {
            name: PRICE.to_owned(),
            min: 5900,
            max: 34900
        }]
    );

    let mut ranged = request().with_sort(SearchSort::price_asc(PRICE));
    ranged.filters.integer_ranges.insert(
        PRICE.to_owned(),
        IntegerRange {
            min: Some(10000),
            max: Some(20000),
        },
    );
    let found = index.search(ranged.clone()).await.expect("searches");
    assert_eq!(skus(&found), ["100", "101"]);
    assert_eq!(found.range_facets[0].min, 5900, "the slider keeps its full extent");

    ranged.filters.integer_ranges.insert(
        PRICE.to_owned(),
        IntegerRange {
            min: Some(19900),
            max: None,
        },
    );
    let found = index.search(ranged.clone()).await.expect("searches");
    assert_eq!(skus(&found), ["101", "102"], "bounds are inclusive, open max");

    ranged.filters.integer_ranges.insert(
        PRICE.to_owned(),
        IntegerRange {
            min: None,
            max: Some(5899),
        },
    );
    let found = index.search(ranged).await.expect("searches");
    assert_eq!(found.total, 0);
}

pub async fn category_filter_and_counts(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let all = index.search(request()).await.expect("searches");
    let count = |category, doc_count| CategoryCount {
        category: CategoryNodeId(category),
        doc_count,
    };
    assert_eq!(
        all.category_counts,
        [count(1, 5), count(2, 4), count(4, 3), count(5, 1), count(7, 1)]
    );

    let mut jackets = request().with_sort(SearchSort::name_asc());
    jackets.filters.category = Some(CategoryNodeId(4));
    let found = index.search(jackets).await.expect("searches");
    assert_eq!(skus(&found), ["103", "100", "101"]);
    assert_eq!(
        found.category_counts, all.category_counts,
        "counted without the own category filter"
    );
    assert_eq!(facet(&found, "brand"), [("Alpen", 1), ("Fjell", 1), ("Havn", 1)]);

    let mut outdoor = request();
    outdoor.filters.category = Some(CategoryNodeId(2));
    assert_eq!(
        index.search(outdoor).await.expect("searches").total,
        4,
        "a parent covers its subtree"
    );
}

pub async fn sorts_by_name_and_price(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let sorted =
        |sort| async move { skus(&index.search(request().with_sort(sort)).await.expect("searches")).join(",") };
    assert_eq!(sorted(SearchSort::name_asc()).await, "103,102,100,101,104");
    assert_eq!(sorted(SearchSort::name_desc()).await, "104,101,100,102,103");
    assert_eq!(
        sorted(SearchSort::price_asc(PRICE)).await,
        "103,100,101,102,104",
        "no price sorts last"
    );
    assert_eq!(
        sorted(SearchSort::price_desc(PRICE)).await,
        "102,101,100,103,104",
        "no price sorts last"
    );
    let unknown_key = sorted(SearchSort::price_asc("price-DEFAULT-CHF-GROSS_MODE")).await;
    assert_eq!(
        unknown_key.split(',').count(),
        5,
        "an unknown sort key still lists everything"
    );

    let relevance = index
        .search(
            request()
                .with_query("fjell jacket rain")
                .with_sort(SearchSort::Relevance),
        )
        .await
        .expect("searches");
    assert_eq!(skus(&relevance), ["100"]);
    let relevance = index.search(request().with_query("jacket")).await.expect("searches");
    assert_eq!(relevance.total, 3);
}

pub async fn pagination_and_total(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let page = |offset, limit| {
        request()
            .with_sort(SearchSort::price_asc(PRICE))
            .with_page(offset, limit)
    };
    let first = index.search(page(0, 2)).await.expect("searches");
    let second = index.search(page(2, 2)).await.expect("searches");
    let third = index.search(page(4, 2)).await.expect("searches");
    let beyond = index.search(page(10, 2)).await.expect("searches");
    assert_eq!((first.total, second.total, third.total, beyond.total), (5, 5, 5, 5));
    assert_eq!(
        [skus(&first), skus(&second), skus(&third)].concat(),
        ["103", "100", "101", "102", "104"]
    );
    assert!(beyond.hits.is_empty());
    let counts_only = index.search(page(0, 0)).await.expect("searches");
    assert_eq!((counts_only.total, counts_only.hits.len()), (5, 0));
    assert!(matches!(
        index.search(page(0, 5000)).await,
        Err(SearchError::InvalidRequest(_))
    ));
}

pub async fn suggestions_complete_prefixes(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let suggestions = index.suggest(&store(), &en(), "fje", 10).await.expect("suggests");
    assert_eq!(
        suggestions.completion,
        ["Fjell", "Fjell Dome Tent", "Fjell Rain Jacket"]
    );
    let mut products: Vec<&str> = suggestions
        .products
        .iter()
        .map(|hit| hit.data.abstract_sku.as_str())
        .collect();
    products.sort_unstable();
    assert_eq!(products, ["100", "102"]);

    let suggestions = index.suggest(&store(), &en(), "Fjell ra", 10).await.expect("suggests");
    assert_eq!(suggestions.completion, ["Fjell Rain Jacket"]);
    assert_eq!(suggestions.products.len(), 1);

    let suggestions = index.suggest(&store(), &en(), "jack", 1).await.expect("suggests");
    assert_eq!(
        (suggestions.completion.len(), suggestions.products.len()),
        (1, 1),
        "limit applies to both"
    );
    let none = index.suggest(&store(), &en(), "f", 10).await.expect("suggests");
    assert!(
        none.completion.is_empty() && none.products.is_empty(),
        "one letter is too short"
    );
    let none = index.suggest(&store(), &de(), "fje", 10).await.expect("suggests");
    assert!(none.products.is_empty(), "unknown index is empty");
}

pub async fn stale_ops_are_skipped(index: &dyn SearchIndex) {
    let product = &CATALOG[0];
    let key = product.key("en_US");
    index.apply(vec![product.upsert("en_US", 200)]).await.expect("applies");

    let mut older = product.document("en_US");
    older.search_result_data.abstract_name = "Old Name".to_owned();
    let outcome = index
        .apply(vec![SearchOp::upsert(key.clone(), older.clone(), 100)])
        .await
        .expect("applies");
    assert_eq!(outcome, ApplyOutcome { applied: 0, skipped: 1 });
    let stored = index.get(&key).await.expect("gets").expect("present");
    assert_eq!(
        (
            stored.timestamp_micros,
            stored.document.search_result_data.abstract_name.as_str()
        ),
        (200, "Fjell Rain Jacket")
    );

    // Within one batch the order of versions, not of ops, decides.
    let outcome = index
        .apply(vec![
            SearchOp::upsert(key.clone(), older.clone(), 300),
            SearchOp::upsert(key.clone(), product.document("en_US"), 250),
        ])
        .await
        .expect("applies");
    assert_eq!(outcome, ApplyOutcome { applied: 1, skipped: 1 });
    let stored = index.get(&key).await.expect("gets").expect("present");
    assert_eq!((stored.timestamp_micros, stored.document), (300, older));

    // The same version again is re-applied (re-sync repair) and keeps one document per key.
    let outcome = index.apply(vec![product.upsert("en_US", 300)]).await.expect("applies");
    assert_eq!(outcome.applied, 1);
    assert_eq!(index.search(request()).await.expect("searches").total, 1);
}

pub async fn deletes_leave_tombstones(index: &dyn SearchIndex) {
    let product = &CATALOG[1];
    let key = product.key("en_US");
    index.apply(vec![product.upsert("en_US", 100)]).await.expect("applies");
    let outcome = index
        .apply(vec![SearchOp::delete(key.clone(), 200)])
        .await
        .expect("applies");
    assert_eq!(outcome.applied, 1);
    assert_eq!(index.get(&key).await.expect("gets"), None);
    assert_eq!(
        index
            .search(request().with_query("havn"))
            .await
            .expect("searches")
            .total,
        0
    );

    let outcome = index.apply(vec![product.upsert("en_US", 150)]).await.expect("applies");
    assert_eq!(
        outcome,
        ApplyOutcome { applied: 0, skipped: 1 },
        "older upsert does not resurrect"
    );
    assert_eq!(index.get(&key).await.expect("gets"), None);
    assert!(
        index.keys(&store(), &en()).await.expect("lists").is_empty(),
        "tombstones are not keys"
    );

    let outcome = index.apply(vec![product.upsert("en_US", 300)]).await.expect("applies");
    assert_eq!(outcome.applied, 1, "newer upsert revives");
    assert_eq!(
        index
            .get(&key)
            .await
            .expect("gets")
            .map(|stored| stored.timestamp_micros),
        Some(300)
    );
    assert_eq!(
        index
            .search(request().with_query("havn"))
            .await
            .expect("searches")
            .total,
        1
    );

    let outcome = index
        .apply(vec![SearchOp::delete("product_abstract:de:en_us:999", 5)])
        .await
        .expect("applies");
    assert_eq!(outcome.applied, 1, "deleting an unknown key records its tombstone");
}

pub async fn inactive_documents_are_not_found(index: &dyn SearchIndex) {
    let mut inactive = CATALOG[0].document("en_US");
    inactive.is_active = false;
    let key = CATALOG[0].key("en_US");
    index
        .apply(vec![SearchOp::upsert(key.clone(), inactive, 1)])
        .await
        .expect("applies");
    assert_eq!(
        index
            .search(request().with_query("fjell"))
            .await
            .expect("searches")
            .total,
        0
    );
    assert!(
        index
            .suggest(&store(), &en(), "fje", 5)
            .await
            .expect("suggests")
            .products
            .is_empty()
    );
    assert!(
        index.get(&key).await.expect("gets").is_some(),
        "still stored for sync verify"
    );
}

pub async fn keys_get_and_clear(index: &dyn SearchIndex) {
    load_catalog(index).await;
    let keys = index.keys(&store(), &en()).await.expect("lists");
    let listed: Vec<&str> = keys.iter().map(|key| key.key.as_str()).collect();
    assert_eq!(
        listed,
        (1..=5)
            .map(|id| format!("product_abstract:de:en_us:{id}"))
            .collect::<Vec<_>>()
    );
    assert!(keys.iter().all(|key| key.timestamp_micros == 10));

    let stored = index
        .get(&CATALOG[2].key("en_US"))
        .await
        .expect("gets")
        .expect("present");
    assert_eq!(stored.document, CATALOG[2].document("en_US"));
    assert_eq!(index.get("product_abstract:de:en_us:404").await.expect("gets"), None);
    assert_eq!(
        index.get("product_abstract:at:en_us:1").await.expect("gets"),
        None,
        "unknown index"
    );
    assert!(matches!(
        index.get("no-scope").await,
        Err(SearchError::InvalidKey { .. })
    ));

    index.clear(&store(), &en()).await.expect("clears");
    assert!(index.keys(&store(), &en()).await.expect("lists").is_empty());
    assert_eq!(index.search(request()).await.expect("searches").total, 0);
    let outcome = index.apply(catalog_ops(1)).await.expect("applies");
    assert_eq!(
        outcome.applied,
        CATALOG.len(),
        "a rebuild may use older versions after clear"
    );
}

pub async fn invalid_ops_fail_the_whole_batch(index: &dyn SearchIndex) {
    let wrong_store = SearchOp::upsert("product_abstract:at:en_us:1", CATALOG[0].document("en_US"), 1);
    let result = index.apply(vec![CATALOG[1].upsert("en_US", 1), wrong_store]).await;
    assert!(matches!(result, Err(SearchError::InvalidOp { .. })), "{result:?}");
    let result = index
        .apply(vec![CATALOG[1].upsert("en_US", 1), SearchOp::delete("nonsense", 1)])
        .await;
    assert!(matches!(result, Err(SearchError::InvalidKey { .. })), "{result:?}");
    assert_eq!(
        index.search(request()).await.expect("searches").total,
        0,
        "nothing was written"
    );
}

pub async fn one_batch_spans_several_indexes(index: &dyn SearchIndex) {
    let ops = vec![
        CATALOG[0].upsert("en_US", 1),
        CATALOG[0].upsert("de_DE", 1),
        CATALOG[1].upsert("de_DE", 1),
    ];
    assert_eq!(index.apply(ops).await.expect("applies").applied, 3);
    assert_eq!(index.keys(&store(), &en()).await.expect("lists").len(), 1);
    assert_eq!(index.keys(&store(), &de()).await.expect("lists").len(), 2);
}

pub async fn thousand_document_batch(index: &dyn SearchIndex) {
    let ops: Vec<SearchOp> = (0..1000i64)
        .map(|n| {
            let sku = format!("B{n:04}");
            let mut result = SearchResultData::new(n.into(), &sku, &format!("Bulk Item {n}"), &format!("/en/{sku}"));
            result.add_to_cart_sku = None;
            let mut document = ProductPageDocument::new("DE", "en_US", result)
                .with_string_facet("parity", &[if n % 2 == 0 { "even" } else { "odd" }])
                .with_integer_facet(PRICE, &[n * 10]);
            document.full_text_boosted = vec![format!("Bulk Item {n}"), sku];
            document.integer_sort = BTreeMap::from([(PRICE.to_owned(), n * 10)]);
            SearchOp::upsert(format!("product_abstract:de:en_us:{n}"), document, 1)
        })
        .collect();
    assert_eq!(index.apply(ops).await.expect("applies").applied, 1000);
    let found = index
        .search(
            request()
                .with_query("bulk")
                .with_sort(SearchSort::price_desc(PRICE))
                .with_page(990, 20),
        )
        .await
        .expect("searches");
    assert_eq!(found.total, 1000);
    assert_eq!(
        skus(&found),
        [
            "B0009", "B0008", "B0007", "B0006", "B0005", "B0004", "B0003", "B0002", "B0001", "B0000"
        ]
    );
    assert_eq!(facet(&found, "parity"), [("even", 500), ("odd", 500)]);
    assert_eq!(
        found.range_facets[0],
        RangeFacet {
            name: PRICE.to_owned(),
            min: 0,
            max: 9990
        }
    );
    assert_eq!(index.keys(&store(), &en()).await.expect("lists").len(), 1000);
}
