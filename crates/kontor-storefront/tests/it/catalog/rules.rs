//! The rules around the catalog resources: include dedupe, sparse fieldsets, locale and store
//! negotiation, ETags, media types, paging, error codes and the KV round-trip budget.

use super::fixture::{Backend, Shop};
use super::kv_backends;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

const ALL_INCLUDES: &str = "abstract-product-prices,abstract-product-availabilities,abstract-product-image-sets,\
                            concrete-products,concrete-product-prices,concrete-product-availabilities,\
                            concrete-product-image-sets,category-nodes";

fn included_pairs(body: &Value) -> Vec<(String, String)> {
    body["included"]
        .as_array()
        .map(|included| {
            included
                .iter()
                .map(|resource| {
                    (
                        resource["type"].as_str().unwrap_or_default().to_owned(),
                        resource["id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn a_product_with_every_include_costs_a_few_kv_round_trips_and_no_search(backend: Backend) {
    let shop = Shop::open(backend).await;
    // The store list is cached by the state; warm it so the count is about the product alone.
    assert_eq!(shop.get("/stores").await.status, StatusCode::OK);
    shop.take_round_trips();
    let answer = shop
        .get(&format!("/abstract-products/100?include={ALL_INCLUDES}"))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let (multi_gets, gets, searches) = shop.take_round_trips();
    assert_eq!(
        (multi_gets, gets, searches),
        (4, 0, 0),
        "mapping, product documents, variants, category node neighbours"
    );
    let answer = shop
        .get("/abstract-products/100?include=concrete-products,concrete-product-prices")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(shop.take_round_trips(), (3, 0, 0));
    let answer = shop
        .get("/concrete-products/100_red?include=concrete-product-prices")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(shop.take_round_trips(), (3, 0, 0));
    shop.close().await;
}

async fn includes_appear_once_and_apply_to_included_resources(backend: Backend) {
    let shop = Shop::open(backend).await;
    let answer = shop
        .get(&format!("/abstract-products/100?include={ALL_INCLUDES},unknown-type"))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let pairs = included_pairs(&answer.body);
    let unique: std::collections::BTreeSet<&(String, String)> = pairs.iter().collect();
    assert_eq!(unique.len(), pairs.len(), "each (type, id) is included once: {pairs:?}");
    for expected in [
        ("concrete-products", "100_blue"),
        ("concrete-products", "100_red"),
        ("concrete-product-prices", "100_red"),
        ("concrete-product-availabilities", "100_blue"),
        ("concrete-product-image-sets", "100_red"),
        ("abstract-product-prices", "100"),
    ] {
        assert!(
            pairs.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {pairs:?}"
        );
    }
    let red = answer.body["included"]
        .as_array()
        .and_then(|included| {
            included
                .iter()
                .find(|resource| resource["id"] == "100_red" && resource["type"] == "concrete-products")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        red["relationships"]["concrete-product-prices"]["data"][0]["id"], "100_red",
        "included concretes carry their own relationships"
    );
    // Search results include the same product documents, deduplicated.
    let search = shop
        .get("/catalog-search?q=fjell&include=abstract-products,concrete-products")
        .await;
    let pairs = included_pairs(&search.body);
    let unique: std::collections::BTreeSet<&(String, String)> = pairs.iter().collect();
    assert_eq!(unique.len(), pairs.len());
    assert!(pairs.contains(&("abstract-products".to_owned(), "300".to_owned())));
    assert!(pairs.contains(&("concrete-products".to_owned(), "300_black".to_owned())));
    shop.close().await;
}

async fn sparse_fieldsets_keep_only_the_named_attributes(backend: Backend) {
    let shop = Shop::open(backend).await;
    let answer = shop
        .get("/abstract-products/100?include=concrete-products&fields[abstract-products]=name,sku&fields[concrete-products]=sku")
        .await;
    let attributes = answer.body["data"]["attributes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(attributes.keys().collect::<Vec<_>>(), ["name", "sku"]);
    let concrete = answer.body["included"][0]["attributes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(concrete.keys().collect::<Vec<_>>(), ["sku"]);
    shop.close().await;
}

async fn locale_and_store_come_from_the_headers(backend: Backend) {
    let shop = Shop::open(backend).await;
    let german = shop.get("/abstract-products/100").await;
    assert_eq!(german.headers["content-language"], "de_DE");
    assert_eq!(german.body["data"]["attributes"]["name"], "Fjell Regenjacke");
    assert_eq!(german.body["data"]["attributes"]["attributeNames"]["color"], "Farbe");
    let english = shop
        .get_with("/abstract-products/100", &[("accept-language", "fr, en-US;q=0.8")])
        .await;
    assert_eq!(english.headers["content-language"], "en_US");
    assert_eq!(english.body["data"]["attributes"]["name"], "Fjell Rain Jacket");
    assert_eq!(
        english.body["data"]["attributes"]["attributeNames"]["material"], "Material",
        "untranslated attributes get their humanized key"
    );
    let explicit = shop.get_with("/abstract-products/100", &[("store", "de")]).await;
    assert_eq!(explicit.status, StatusCode::OK);
    let unknown = shop.get_with("/abstract-products/100", &[("store", "XX")]).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::BAD_REQUEST, "112"));
    let by_query = shop.get("/category-trees?_store=AT").await;
    assert_eq!((by_query.status, by_query.code()), (StatusCode::BAD_REQUEST, "112"));
    shop.close().await;
}

async fn etags_answer_304_when_nothing_changed(backend: Backend) {
    let shop = Shop::open(backend).await;
    let paths = [
        "/abstract-products/100?include=concrete-products".to_owned(),
        "/concrete-products/100_blue".to_owned(),
        "/category-trees".to_owned(),
        format!("/category-nodes/{}", shop.ids.outdoor_node),
        "/stores".to_owned(),
    ];
    for path in paths {
        let first = shop.get(&path).await;
        assert_eq!(first.status, StatusCode::OK, "{path}");
        let etag = first
            .headers
            .get("etag")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(etag.starts_with("W/\""), "{path}: {etag:?}");
        assert!(first.headers.contains_key("last-modified"), "{path}");
        let again = shop.get_with(&path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.body, Value::Null);
        let other = shop.get_with(&path, &[("if-none-match", "W/\"0-0\"")]).await;
        assert_eq!(other.status, StatusCode::OK, "{path}");
    }
    // Another locale is another representation with another tag.
    let german = shop.get("/abstract-products/100").await;
    let english = shop
        .get_with("/abstract-products/100", &[("accept-language", "en")])
        .await;
    assert_ne!(german.headers["etag"], english.headers["etag"]);
    shop.close().await;
}

async fn media_types_are_enforced(backend: Backend) {
    let shop = Shop::open(backend).await;
    let xml = shop
        .get_with("/abstract-products/100", &[("accept", "application/xml")])
        .await;
    assert_eq!(xml.status, StatusCode::NOT_ACCEPTABLE);
    for accept in ["application/vnd.api+json", "application/json", "*/*"] {
        let ok = shop.get_with("/abstract-products/100", &[("accept", accept)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{accept}");
        assert_eq!(ok.headers["content-type"], "application/vnd.api+json");
    }
    let request = Request::post("/api/catalog-search")
        .header("content-type", "text/plain")
        .body(Body::from("q=jacket"))
        .expect("request");
    let plain = shop.send(request).await;
    assert_eq!(plain.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let request = Request::post("/api/catalog-search")
        .header("content-type", "application/vnd.api+json")
        .body(Body::from("{}"))
        .expect("request");
    let wrong_method = shop.send(request).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    shop.close().await;
}

async fn search_pages_with_links_and_glue_aliases(backend: Backend) {
    let shop = Shop::open(backend).await;
    let first = shop.get("/catalog-search?sort=name_asc&page[limit]=1").await;
    assert_eq!(first.status, StatusCode::OK);
    let attributes = &first.body["data"][0]["attributes"];
    assert_eq!(attributes["pagination"]["numFound"], 3);
    assert_eq!(attributes["pagination"]["maxPage"], 3);
    let links = &first.body["links"];
    // Only the path and query are checked: the origin part is `RequestContext`'s business.
    let link = |name: &str| links[name].as_str().unwrap_or_default().to_owned();
    assert!(
        link("next").ends_with("/catalog-search?sort=name_asc&page%5Boffset%5D=1&page%5Blimit%5D=1"),
        "{links}"
    );
    assert!(
        link("last").ends_with("/catalog-search?sort=name_asc&page%5Boffset%5D=2&page%5Blimit%5D=1"),
        "{links}"
    );
    assert!(links.get("prev").is_none());
    let second = shop.get("/catalog-search?sort=name_asc&page=2&ipp=1").await;
    let second_attributes = &second.body["data"][0]["attributes"];
    assert_eq!(second_attributes["pagination"]["currentPage"], 2);
    assert_eq!(second_attributes["pagination"]["currentItemsPerPage"], 1);
    assert_ne!(
        second_attributes["abstractProducts"][0]["abstractSku"],
        attributes["abstractProducts"][0]["abstractSku"]
    );
    assert!(second.body["links"]["prev"].is_string());
    for bad in [
        "page[offset]=x",
        "page[limit]=1.5",
        "page=two",
        "ipp=x",
        "category=outdoor",
        "page[limit]=500",
    ] {
        let answer = shop.get(&format!("/catalog-search?{bad}")).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "503"),
            "{bad}"
        );
    }
    let bad_price = shop.get("/catalog-search?price[min]=cheap").await;
    assert_eq!((bad_price.status, bad_price.code()), (StatusCode::BAD_REQUEST, "905"));
    // A parameter that names no facet is ignored rather than emptying the result.
    let tracking = shop.get("/catalog-search?utm_source=newsletter").await;
    assert_eq!(tracking.body["data"][0]["attributes"]["pagination"]["numFound"], 3);
    // Unsupported sort keys fall back to relevance and say so.
    let unknown_sort = shop.get("/catalog-search?sort=newest").await;
    assert_eq!(unknown_sort.status, StatusCode::OK);
    assert_eq!(
        unknown_sort.body["data"][0]["attributes"]["sort"]["currentSortParam"],
        Value::Null
    );
    shop.close().await;
}

async fn errors_use_the_glue_codes(backend: Backend) {
    let shop = Shop::open(backend).await;
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("/abstract-products/nope".to_owned(), StatusCode::NOT_FOUND, "301"),
        (
            "/abstract-products/nope/abstract-product-prices".to_owned(),
            StatusCode::NOT_FOUND,
            "301",
        ),
        ("/abstract-products".to_owned(), StatusCode::BAD_REQUEST, "311"),
        ("/abstract-products/".to_owned(), StatusCode::BAD_REQUEST, "311"),
        ("/concrete-products/nope".to_owned(), StatusCode::NOT_FOUND, "302"),
        (
            "/concrete-products/nope/concrete-product-image-sets".to_owned(),
            StatusCode::NOT_FOUND,
            "302",
        ),
        ("/concrete-products".to_owned(), StatusCode::BAD_REQUEST, "312"),
        (
            "/abstract-products/100?currency=USD".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "313",
        ),
        (
            "/catalog-search?currency=USD".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "313",
        ),
        (
            "/concrete-products/100_red/concrete-product-prices?priceMode=CHEAP".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "314",
        ),
        ("/category-nodes/99999".to_owned(), StatusCode::NOT_FOUND, "703"),
        ("/category-nodes/abc".to_owned(), StatusCode::NOT_FOUND, "703"),
        ("/url-resolver?url=/en/nowhere".to_owned(), StatusCode::NOT_FOUND, "903"),
        ("/url-resolver".to_owned(), StatusCode::BAD_REQUEST, "905"),
        ("/stores/XX".to_owned(), StatusCode::NOT_FOUND, "903"),
    ];
    for (path, status, code) in cases {
        let answer = shop.get(&path).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{path}: {}",
            answer.body
        );
    }
    // SKUs and URLs are case-insensitive.
    assert_eq!(shop.get("/concrete-products/100_BLUE").await.status, StatusCode::OK);
    shop.close().await;
}

kv_backends!(
    a_product_with_every_include_costs_a_few_kv_round_trips_and_no_search,
    includes_appear_once_and_apply_to_included_resources,
    sparse_fieldsets_keep_only_the_named_attributes,
    locale_and_store_come_from_the_headers,
    etags_answer_304_when_nothing_changed,
    media_types_are_enforced,
    search_pages_with_links_and_glue_aliases,
    errors_use_the_glue_codes,
);
