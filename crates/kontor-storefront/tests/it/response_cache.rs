//! The response cache of product answers, on both KV backends: a repeated read is answered without
//! touching KV (and with 304 for its `ETag`); a KV write is served once `kv.changed` names its key, and
//! not before (which proves the answer came from the cache); a notification naming other keys leaves the
//! answer cached; store, locale and query each have their own answer. A search answer is kept until the
//! search index of its store × locale commits.

use crate::catalog::fixture::{Backend, Shop};
use axum::http::StatusCode;
use kontor_core::{LocaleName, StoreName};
use kontor_kv::KvOp;
use kontor_notify::{Notification, Notifier};
use kontor_readmodel::storage::projection;
use kontor_readmodel::{KV_CHANGED_CHANNEL, KV_CHANGED_KIND, KvChanged};
use kontor_search::SearchIndex;
use kontor_storefront::StorefrontOptions;
use kontor_storefront::response_cache::ResponseCacheOptions;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

on_both_kv_backends!(
    a_cached_product_answer_changes_when_its_keys_are_announced,
    a_cached_answer_is_served_only_where_the_router_would_serve_it,
    a_cached_search_answer_lasts_until_the_index_commits
);

const ENGLISH: &[(&str, &str)] = &[("accept-language", "en-US")];
const PRODUCT: &str = "/abstract-products/100?include=abstract-product-prices";

async fn announce(notifier: &Arc<dyn Notifier>, resources: &[&str], keys: Option<Vec<String>>) {
    let changed = KvChanged {
        resources: resources.iter().map(|resource| (*resource).to_owned()).collect(),
        keys,
    };
    notifier
        .publish(KV_CHANGED_CHANNEL, Notification::new(KV_CHANGED_KIND, json!(changed)))
        .await
        .expect("publish");
}

/// The test shop with a cache that nothing but invalidations empties during a test.
async fn cached_shop(backend: Backend) -> Shop {
    Shop::open_cached(
        backend,
        ResponseCacheOptions {
            max_bytes: 16 << 20,
            ttl: Duration::from_secs(3600),
        },
    )
    .await
}

async fn a_cached_product_answer_changes_when_its_keys_are_announced(backend: Backend) {
    let shop = cached_shop(backend).await;
    let cache = shop.state.response_cache.as_ref().expect("cache configured");
    let notifier = kontor_notify::open("broadcast", "", "serve").await.expect("broadcast");
    let shutdown = CancellationToken::new();
    let follower = tokio::spawn(kontor_storefront::invalidation::follow_kv_changes(
        shop.state.clone(),
        Arc::clone(&notifier),
        shutdown.clone(),
    ));

    let first = shop.get(PRODUCT).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let (multi_gets, _, _) = shop.take_round_trips();
    assert!(multi_gets > 0, "the first read builds the answer from KV");
    assert_eq!(cache.stats().entries, 1);

    // Answered from the cache: same document and headers, no KV round trip; 304 for its ETag.
    let second = shop.get(PRODUCT).await;
    assert_eq!((second.status, &second.body), (StatusCode::OK, &first.body));
    assert_eq!(second.headers.get("etag"), first.headers.get("etag"));
    assert_eq!(second.headers.get("content-type"), first.headers.get("content-type"));
    let etag = first
        .headers
        .get("etag")
        .expect("etag")
        .to_str()
        .expect("ascii")
        .to_owned();
    let not_modified = shop.get_with(PRODUCT, &[("if-none-match", etag.as_str())]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(shop.take_round_trips(), (0, 0, 0), "cached answers read nothing");
    assert_eq!(cache.stats().hits, 2);

    // Another locale and another query are other answers.
    let english = shop.get_with(PRODUCT, &[("accept-language", "en-US")]).await;
    assert_eq!(english.headers.get("content-language").expect("language"), "en_US");
    let bare = shop.get("/abstract-products/100").await;
    assert!(bare.body.get("included").is_none(), "{}", bare.body);
    assert_eq!(cache.stats().entries, 3);

    // A KV write nobody announced is not seen: the answer comes from the cache.
    let key = kontor_readmodel::key(
        projection::PRODUCT_ABSTRACT,
        Some("DE"),
        Some("de_DE"),
        Some(&shop.ids.jacket.to_string()),
    )
    .expect("key");
    let mut document = shop.kv.inner.get(&key).await.expect("read").expect("product document");
    document["name"] = json!("Fjell Rain Jacket II");
    let document = kontor_readmodel::stamp(document, chrono::Utc::now().timestamp_micros());
    shop.kv
        .inner
        .apply(&[KvOp::write_document(key.clone(), document).expect("op")])
        .await
        .expect("write");
    assert_eq!(shop.get(PRODUCT).await.body, first.body);

    // A notification about other keys of the same resource keeps it.
    announce(
        &notifier,
        &[projection::PRODUCT_ABSTRACT],
        Some(vec![format!("{key}0")]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(shop.get(PRODUCT).await.body, first.body);
    assert_eq!(cache.stats().entries, 3);

    // Naming the key drops the answers that read it, and only those.
    announce(&notifier, &[projection::PRODUCT_ABSTRACT], Some(vec![key.clone()])).await;
    let started = Instant::now();
    loop {
        let answer = shop.get(PRODUCT).await;
        if answer.body["data"]["attributes"]["name"] == "Fjell Rain Jacket II" {
            assert_ne!(
                answer.headers.get("etag"),
                first.headers.get("etag"),
                "a new version, a new ETag"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the change never showed: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let english_again = shop.get_with(PRODUCT, &[("accept-language", "en-US")]).await;
    assert_eq!(
        english_again.body, english.body,
        "the English answer did not read the German document"
    );

    // A notification without keys (a rewrite) drops everything.
    announce(&notifier, &[projection::PRODUCT_ABSTRACT], None).await;
    let started = Instant::now();
    while cache.stats().entries > 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the cache was not cleared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    shutdown.cancel();
    follower.await.expect("follower");
    shop.close().await;
}

/// Cached answers are served ahead of routing; what the router and its layers would answer differently
/// (media type, store, method, CORS) must still be answered as without the cache.
async fn a_cached_answer_is_served_only_where_the_router_would_serve_it(backend: Backend) {
    const ORIGIN: &str = "https://app.example";
    let shop = Shop::open_with_options(
        backend,
        StorefrontOptions {
            response_cache: Some(ResponseCacheOptions {
                max_bytes: 16 << 20,
                ttl: Duration::from_secs(3600),
            }),
            cors_origins: vec![ORIGIN.to_owned()],
            ..StorefrontOptions::default()
        },
    )
    .await;
    let cache = shop.state.response_cache.as_ref().expect("cache configured");
    let first = shop.get_with(PRODUCT, &[("origin", ORIGIN)]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(cache.stats().entries, 1);
    shop.take_round_trips();

    // A hit carries the CORS headers of a routed answer.
    let hit = shop.get_with(PRODUCT, &[("origin", ORIGIN)]).await;
    assert_eq!((hit.status, &hit.body), (StatusCode::OK, &first.body));
    assert_eq!(shop.take_round_trips(), (0, 0, 0), "answered from the cache");
    assert_eq!(cache.stats().hits, 1);
    for answer in [&first, &hit] {
        assert_eq!(
            answer
                .headers
                .get("access-control-allow-origin")
                .map(|value| value.as_bytes()),
            Some(ORIGIN.as_bytes())
        );
    }
    assert_eq!(hit.headers.get("vary"), first.headers.get("vary"));

    // What the router refuses is refused, cached or not.
    let html_only = shop.get_with(PRODUCT, &[("accept", "text/html")]).await;
    assert_eq!(html_only.status, StatusCode::NOT_ACCEPTABLE, "{}", html_only.body);
    let unknown_store = shop.get_with(PRODUCT, &[("store", "XX")]).await;
    assert_eq!(unknown_store.status, StatusCode::BAD_REQUEST, "{}", unknown_store.body);
    assert_eq!(unknown_store.body["errors"][0]["detail"], "store XX does not exist");
    let post = shop
        .request_json("POST", PRODUCT, &[], Some(json!({"data": {}}).to_string()))
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED, "{}", post.body);
    assert_eq!(cache.stats().hits, 1, "none of them was a hit");

    // A preflight is answered by the CORS layer, not from the cache.
    let preflight = shop
        .send(
            axum::http::Request::builder()
                .method("OPTIONS")
                .uri(format!("/api{PRODUCT}"))
                .header("origin", ORIGIN)
                .header("access-control-request-method", "GET")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(preflight.status, StatusCode::OK);
    assert!(preflight.headers.contains_key("access-control-allow-methods"));
    shop.close().await;
}

async fn a_cached_search_answer_lasts_until_the_index_commits(backend: Backend) {
    let shop = cached_shop(backend).await;
    let search = "/catalog-search?q=jacket";
    let first = shop.get_with(search, ENGLISH).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let found = first.body["data"][0]["attributes"]["pagination"]["numFound"].clone();
    assert!(found.as_u64().is_some_and(|found| found > 0), "{}", first.body);
    assert!(
        first.headers.get("etag").is_none(),
        "a search answer is not versioned by KV timestamps"
    );
    let (_, _, searches) = shop.take_round_trips();
    assert_eq!(searches, 1);

    let second = shop.get_with(search, ENGLISH).await;
    assert_eq!(second.body, first.body);
    assert_eq!(shop.take_round_trips(), (0, 0, 0), "answered from the cache");

    // A commit of the index retires the cached answer.
    let store = StoreName::parse("DE").expect("store");
    let locale = LocaleName::parse("en_US").expect("locale");
    shop.search.inner.clear(&store, &locale).await.expect("clear");
    let third = shop.get_with(search, ENGLISH).await;
    assert_eq!(
        third.body["data"][0]["attributes"]["pagination"]["numFound"], 0,
        "{}",
        third.body
    );
    let (_, _, searches) = shop.take_round_trips();
    assert_eq!(searches, 1, "searched again after the commit");
    shop.close().await;
}
