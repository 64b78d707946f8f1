use crate::fixtures::camera_shop;
use kontor_core::{LocaleName, StoreName};
use kontor_db::SqlDatabase;
use kontor_domain::ResourceRepository;
use kontor_domain::pricing::PriceAttributes;
use kontor_kv::{KvOptions, KvStore, MemoryKv};
use kontor_readmodel::{SyncEntry, SyncOp, stamp};
use kontor_search::{SearchIndex, SearchRequest, TantivySearchIndex};
use kontor_sync::direct::{DirectSync, RoundReport};
use kontor_testkit::repo_test_suite;
use serde_json::json;
use std::sync::Arc;

struct Targets {
    kv: Arc<dyn KvStore>,
    search: Arc<dyn SearchIndex>,
    sync: DirectSync,
}

fn targets(db: &SqlDatabase) -> Targets {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryKv::new(KvOptions::default()));
    let search: Arc<dyn SearchIndex> = Arc::new(TantivySearchIndex::in_memory());
    Targets {
        sync: DirectSync::new(db.clone(), kv.clone(), search.clone()),
        kv,
        search,
    }
}

/// A search of store DE in `locale`.
fn de_request(locale: &str) -> SearchRequest {
    SearchRequest::new(
        StoreName::parse("DE").expect("store"),
        LocaleName::parse(locale).expect("locale"),
    )
}

async fn search_names(search: &dyn SearchIndex, locale: &str, query: &str) -> Vec<String> {
    let mut request = de_request(locale);
    request.query = Some(query.to_owned());
    let result = search.search(request).await.expect("search");
    result.hits.into_iter().map(|hit| hit.data.abstract_name).collect()
}

async fn catalog_writes_reach_kv_and_search(db: SqlDatabase) {
    let catalog = camera_shop(&db).await;
    let targets = targets(&db);
    let report: RoundReport = targets.sync.drain().await.expect("sync");
    assert!(report.outbox_rows >= 10, "{report:?}");

    let id = catalog.abstract_id;
    let product = targets
        .kv
        .get(&format!("product_abstract:de:en_us:{id}"))
        .await
        .expect("get")
        .expect("product document");
    assert_eq!(product["name"], "Fjell Camera");
    assert_eq!(product["url"], format!("/en/fjell-camera-{id}"));
    assert_eq!(product["super_attributes_definition"], json!(["color"]));
    assert_eq!(
        product["attribute_map"]["super_attributes"]["color"],
        json!(["black", "red"])
    );
    assert!(product["_timestamp"].as_f64().is_some());
    let mapping = targets
        .kv
        .get("product_abstract:de:en_us:sku:100")
        .await
        .expect("get")
        .expect("sku mapping");
    assert_eq!(mapping["id"], id);
    let concrete = targets
        .kv
        .get(&format!("product_concrete:en_us:{}", catalog.concrete_ids[0]))
        .await
        .expect("get")
        .expect("concrete document");
    assert_eq!(concrete["name"], "Fjell Camera black");
    let price = targets
        .kv
        .get(&format!("price_product_abstract:de:{id}"))
        .await
        .expect("get")
        .expect("price document");
    assert_eq!(price["prices"]["EUR"]["GROSS_MODE"]["DEFAULT"], 12900);
    let availability = targets
        .kv
        .get(&format!("availability:de:{id}"))
        .await
        .expect("get")
        .expect("availability");
    assert_eq!(availability["quantity"], 4);
    assert_eq!(availability["concretes"]["100_red"]["is_available"], false);
    let url = targets
        .kv
        .get(&format!("url:/de/kamera-fjell-{id}"))
        .await
        .expect("get")
        .expect("url document");
    assert_eq!(url["fk_resource_product_abstract"], id);
    let tree = targets
        .kv
        .get("category_tree:de:de_de")
        .await
        .expect("get")
        .expect("tree");
    assert_eq!(tree["category_nodes_storage"][0]["name"], "Kameras");
    assert!(targets.kv.get("store:de").await.expect("get").is_some());

    assert_eq!(
        search_names(targets.search.as_ref(), "de_DE", "Kameras").await,
        ["Kamera Fjell"]
    );
    assert_eq!(
        search_names(targets.search.as_ref(), "en_US", "rugged").await,
        ["Fjell Camera"]
    );

    // Nothing changed: a second full pass sends nothing downstream.
    let again = targets.sync.drain().await.expect("sync");
    assert_eq!(again.outbox_rows, 0);

    // A full re-publish of unchanged data writes nothing downstream and leaves no drift.
    for projection in kontor_sync::projections::all() {
        let mut report = RoundReport::default();
        targets
            .sync
            .publish_all(&projection, &mut report)
            .await
            .expect("re-publish");
        assert_eq!(report.written, 0, "{}: {report:?}", projection.name());
        let drift =
            kontor_sync::maintenance::verify(&db, projection.as_ref(), targets.kv.as_ref(), targets.search.as_ref())
                .await
                .expect("verify");
        assert_eq!(drift.total(), 0, "{}: {drift:?}", projection.name());
    }
}

async fn a_price_change_is_republished_and_a_delete_removes_everything(db: SqlDatabase) {
    let catalog = camera_shop(&db).await;
    let targets = targets(&db);
    targets.sync.drain().await.expect("sync");
    let id = catalog.abstract_id;

    let price: PriceAttributes = serde_json::from_value(
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": 9900, "netAmount": 8319,
               "volumePrices": [{"quantity": 5, "grossAmount": 9500}, {"quantity": 3, "grossAmount": 9700, "netAmount": 8151}]}),
    )
    .expect("parse");
    ResourceRepository::<PriceAttributes>::update(
        &db,
        kontor_core::ids::PriceProductId(catalog.abstract_price_id),
        &kontor_domain::Valid::new(price).expect("valid"),
    )
    .await
    .expect("update");
    let report = targets.sync.drain().await.expect("sync");
    assert_eq!(report.outbox_rows, 1);
    let document = targets
        .kv
        .get(&format!("price_product_abstract:de:{id}"))
        .await
        .expect("get")
        .expect("price");
    assert_eq!(document["prices"]["EUR"]["GROSS_MODE"]["DEFAULT"], 9900);
    assert_eq!(
        document["volume_prices"]["EUR"],
        json!({"GROSS_MODE": [{"quantity": 3, "amount": 9700}, {"quantity": 5, "amount": 9500}],
               "NET_MODE": [{"quantity": 3, "amount": 8151}]}),
        "the volume prices in each mode that has an amount"
    );
    let mut request = de_request("en_US");
    request.query = Some("camera".to_owned());
    let hits = targets.search.search(request).await.expect("search").hits;
    let prices = hits[0].data.prices.clone().unwrap_or_default();
    assert!(
        prices
            .iter()
            .any(|price| price.amount == 9900 && price.price_mode == "GROSS_MODE"),
        "{prices:?}"
    );

    // Deleting the product (its concretes first) removes its documents, mappings and search hits.
    for concrete in &catalog.concrete_ids {
        ResourceRepository::<kontor_domain::catalog::ProductConcreteAttributes>::delete(
            &db,
            kontor_core::ids::ProductConcreteId(*concrete),
        )
        .await
        .expect("delete concrete");
    }
    ResourceRepository::<kontor_domain::catalog::ProductAbstractAttributes>::delete(
        &db,
        kontor_core::ids::ProductAbstractId(id),
    )
    .await
    .expect("delete abstract");
    targets.sync.drain().await.expect("sync");
    for key in [
        format!("product_abstract:de:en_us:{id}"),
        "product_abstract:de:en_us:sku:100".to_owned(),
        format!("price_product_abstract:de:{id}"),
        format!("availability:de:{id}"),
        format!("url:/de/kamera-fjell-{id}"),
        format!("product_concrete:en_us:{}", catalog.concrete_ids[0]),
        "product_concrete:en_us:sku:100_black".to_owned(),
    ] {
        assert_eq!(targets.kv.get(&key).await.expect("get"), None, "{key} must be gone");
    }
    assert!(
        search_names(targets.search.as_ref(), "en_US", "camera")
            .await
            .is_empty()
    );
    assert_eq!(db.count_storage("product_abstract").await.expect("count"), 0);
}

/// A KV document that must exist.
async fn stored_document(kv: &dyn KvStore, key: &str) -> serde_json::Value {
    kv.get(key)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("{key} is missing"))
}

/// The search hit of the camera in DE × en_US, as the storefront sorts by rating.
async fn rated_hits(search: &dyn SearchIndex) -> Vec<kontor_search::SearchHit> {
    let mut request = de_request("en_US");
    request.sort = kontor_search::SearchSort::IntegerDesc("rating".to_owned());
    search.search(request).await.expect("search").hits
}

async fn approved_reviews_reach_rating_list_and_search_and_leave_with_them(db: SqlDatabase) {
    use kontor_domain::review::ProductReviewAttributes;
    let catalog = camera_shop(&db).await;
    let targets = targets(&db);
    targets.sync.drain().await.expect("sync");
    let id = catalog.abstract_id;
    let review = |rating: i64, locale: &str, status: &str| {
        json!({"abstractSku": "100", "locale": locale, "customerReference": "DE--1", "nickname": "Maria",
               "summary": format!("{rating} stars"), "rating": rating, "status": status})
    };
    let first = crate::fixtures::create::<ProductReviewAttributes>(&db, review(5, "en_US", "approved")).await;
    crate::fixtures::create::<ProductReviewAttributes>(&db, review(4, "en_US", "approved")).await;
    crate::fixtures::create::<ProductReviewAttributes>(&db, review(4, "de_DE", "approved")).await;
    crate::fixtures::create::<ProductReviewAttributes>(&db, review(1, "en_US", "pending")).await;
    targets.sync.drain().await.expect("sync");

    let summary = stored_document(targets.kv.as_ref(), &format!("product_abstract_review:{id}")).await;
    assert_eq!(summary["averageRating"], 4.3, "approved only: (5 + 4 + 4) / 3");
    assert_eq!(summary["reviewCount"], 3);
    let english = stored_document(targets.kv.as_ref(), &format!("product_review:en_us:{id}")).await;
    let summaries: Vec<&str> = english["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .filter_map(|entry| entry["summary"].as_str())
        .collect();
    assert_eq!(
        summaries,
        ["4 stars", "5 stars"],
        "this locale's approved reviews, newest first"
    );
    let hits = rated_hits(targets.search.as_ref()).await;
    assert_eq!(hits[0].data.extra["rating"], 4.33);
    assert_eq!(hits[0].data.extra["review_count"], 3);

    // Rejecting and deleting the reviews takes the documents and the rating away again.
    let rejected: ProductReviewAttributes = serde_json::from_value(review(5, "en_US", "rejected")).expect("parse");
    ResourceRepository::<ProductReviewAttributes>::update(
        &db,
        first.id,
        &kontor_domain::Valid::new(rejected).expect("valid"),
    )
    .await
    .expect("reject");
    targets.sync.drain().await.expect("sync");
    let summary = stored_document(targets.kv.as_ref(), &format!("product_abstract_review:{id}")).await;
    assert_eq!(
        (summary["averageRating"].as_f64(), summary["reviewCount"].as_i64()),
        (Some(4.0), Some(2))
    );
    let all = ResourceRepository::<ProductReviewAttributes>::list(&db, &kontor_domain::ListQuery::default())
        .await
        .expect("list");
    for record in all.items {
        ResourceRepository::<ProductReviewAttributes>::delete(&db, record.id)
            .await
            .expect("delete");
    }
    targets.sync.drain().await.expect("sync");
    for key in [
        format!("product_abstract_review:{id}"),
        format!("product_review:en_us:{id}"),
        format!("product_review:de_de:{id}"),
    ] {
        assert_eq!(targets.kv.get(&key).await.expect("get"), None, "{key} must be gone");
    }
    let hits = rated_hits(targets.search.as_ref()).await;
    assert!(!hits[0].data.extra.contains_key("rating"), "{:?}", hits[0].data.extra);
}

async fn a_replayed_older_message_never_makes_data_older(db: SqlDatabase) {
    let catalog = camera_shop(&db).await;
    let targets = targets(&db);
    targets.sync.drain().await.expect("sync");
    let key = format!("product_abstract:de:en_us:{}", catalog.abstract_id);
    let current = targets.kv.get(&key).await.expect("get").expect("document");
    let current_stamp = current["_timestamp"].as_f64().expect("stamp");
    let old = SyncOp::Write(SyncEntry {
        key: key.clone(),
        resource: "product_abstract".into(),
        params: json!([]),
        value: stamp(
            json!({"name": "old name"}),
            kontor_readmodel::timestamp_micros(current_stamp) - 1_000_000,
        ),
    });
    let report = kontor_sync::writers::write_kv(targets.kv.as_ref(), std::slice::from_ref(&old))
        .await
        .expect("write");
    assert_eq!(report.skipped_stale, 1);
    assert_eq!(
        targets.kv.get(&key).await.expect("get").expect("document")["name"],
        "Fjell Camera"
    );
    let late_delete = SyncOp::Delete(SyncEntry {
        value: stamp(json!({}), kontor_readmodel::timestamp_micros(current_stamp) - 1),
        ..old.entry().clone()
    });
    kontor_sync::writers::write_kv(targets.kv.as_ref(), &[late_delete])
        .await
        .expect("write");
    assert!(
        targets.kv.get(&key).await.expect("get").is_some(),
        "an older delete must not remove a newer document"
    );
}

repo_test_suite!(
    catalog_writes_reach_kv_and_search,
    a_price_change_is_republished_and_a_delete_removes_everything,
    a_replayed_older_message_never_makes_data_older,
    approved_reviews_reach_rating_list_and_search_and_leave_with_them,
);
