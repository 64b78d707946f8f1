//! Cache invalidation by notification: a storefront keeps its store list for minutes, yet a new store
//! appears at the next request once a sync writer announces `kv.changed` for `store` — on the in-process
//! broadcast and through Redis pub/sub between two notifiers (two nodes).

use crate::catalog::fixture::DownGateway;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kontor_kv::{KvOp, KvOptions, KvStore, MemoryKv};
use kontor_notify::{Notification, Notifier};
use kontor_readmodel::{KV_CHANGED_CHANNEL, KV_CHANGED_KIND, KvChanged};
use kontor_search::TantivySearchIndex;
use kontor_storefront::{StorefrontOptions, StorefrontState};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

async fn put_store(kv: &MemoryKv, name: &str) {
    let document = kontor_readmodel::stamp(
        json!({"name": name, "default_locale": "de_DE", "available_locales": ["de_DE"], "default_currency": "EUR",
               "available_currencies": ["EUR"], "timezone": "Europe/Berlin"}),
        chrono::Utc::now().timestamp_micros(),
    );
    let op = KvOp::write_document(format!("store:{}", name.to_lowercase()), document).expect("op");
    kv.apply(&[op]).await.expect("write");
}

async fn store_count(router: &axum::Router) -> usize {
    let response = router
        .clone()
        .oneshot(Request::get("/api/stores").body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.expect("body").to_bytes()).expect("json");
    body["data"].as_array().map_or(0, Vec::len)
}

async fn new_store_appears_on_notification(node_a: Arc<dyn Notifier>, node_b: Arc<dyn Notifier>) {
    let kv = Arc::new(MemoryKv::new(KvOptions::default()));
    put_store(&kv, "DE").await;
    let state = StorefrontState::new(
        kv.clone(),
        Arc::new(TantivySearchIndex::in_memory()),
        Arc::new(DownGateway),
        kontor_web::access_token::AccessTokenKeys::from_secret(b"a-test-secret-of-at-least-32-bytes!!", 3600),
        StorefrontOptions {
            store_cache_ttl: Some(Duration::from_secs(3600)),
            ..StorefrontOptions::default()
        },
    );
    let shutdown = CancellationToken::new();
    let follower = tokio::spawn(kontor_storefront::invalidation::follow_kv_changes(
        state.clone(),
        node_b,
        shutdown.clone(),
    ));
    let router = kontor_storefront::router(state);
    assert_eq!(store_count(&router).await, 1);

    put_store(&kv, "AT").await;
    assert_eq!(store_count(&router).await, 1, "the store list is cached for an hour");

    // Another resource's change does not drop the store list.
    let other = KvChanged {
        resources: vec!["product_abstract".to_owned()],
        keys: None,
    };
    node_a
        .publish(KV_CHANGED_CHANNEL, Notification::new(KV_CHANGED_KIND, json!(other)))
        .await
        .expect("publish");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store_count(&router).await,
        1,
        "only a store change invalidates the store list"
    );

    let stores = KvChanged {
        resources: vec!["store".to_owned()],
        keys: None,
    };
    let started = Instant::now();
    loop {
        // Published until seen: the follower may subscribe after the first one went out.
        node_a
            .publish(KV_CHANGED_CHANNEL, Notification::new(KV_CHANGED_KIND, json!(stores)))
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(50)).await;
        if store_count(&router).await == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new store never appeared"
        );
    }
    shutdown.cancel();
    follower.await.expect("follower");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_notification_drops_the_store_cache() {
    let notifier = kontor_notify::open("broadcast", "", "serve").await.expect("broadcast");
    new_store_appears_on_notification(Arc::clone(&notifier), notifier).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_notification_from_another_node_drops_the_store_cache() {
    let url = std::env::var("KONTOR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let namespace = format!("test-invalidation-{}:", uuid::Uuid::new_v4().simple());
    let worker = kontor_notify::open(&url, &namespace, "worker-1")
        .await
        .expect("Redis at 127.0.0.1:6379 must be running");
    let storefront = kontor_notify::open(&url, &namespace, "storefront-a")
        .await
        .expect("redis");
    new_store_appears_on_notification(worker, storefront).await;
}
