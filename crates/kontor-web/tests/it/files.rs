//! The file routes on every file-store backend: public files with cache headers and 304s, private files
//! only with a valid signed URL, 404 for what does not exist.

use axum::Router;
use axum::body::Body;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use kontor_files::testing::{TestFiles, test_signer};
use kontor_files::{FileKey, FileMeta, UrlSigner, files_test_suite};
use kontor_web::files::{FileServingOptions, routes, routes_with};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: axum::http::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|value| value.to_str().expect("ascii header"))
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Asserts a JSON:API error answer with `status` and `code`.
    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header(CONTENT_TYPE), "application/vnd.api+json");
        assert_eq!(self.json()["errors"][0]["code"], code);
    }
}

async fn send(router: &Router, method: Method, uri: &str, headers: &[(axum::http::HeaderName, &str)]) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, headers, body }
}

async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Method::GET, uri, &[]).await
}

fn router(files: &TestFiles) -> Router {
    routes(files.store.clone(), test_signer())
}

async fn put(files: &TestFiles, key: &str, content: &'static [u8], content_type: Option<&str>) -> FileMeta {
    let key = FileKey::parse(key).expect("valid key");
    files
        .store
        .put(&key, Bytes::from_static(content), content_type)
        .await
        .expect("put")
}

async fn public_file_is_served_with_cache_headers(files: Arc<TestFiles>) {
    let meta = put(&files, "public/images/products/001.png", b"\x89PNG fake", None).await;
    let router = router(&files);
    let reply = get(&router, "/files/public/images/products/001.png").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, Bytes::from_static(b"\x89PNG fake"));
    assert_eq!(reply.header(CONTENT_TYPE), "image/png");
    assert_eq!(reply.header(CONTENT_LENGTH), "9");
    assert_eq!(reply.header(CACHE_CONTROL), "public, max-age=86400");
    assert_eq!(reply.header(X_CONTENT_TYPE_OPTIONS), "nosniff");
    let etag = meta.etag.expect("the backend has etags");
    assert_eq!(reply.header(ETAG), format!("\"{etag}\""));
    assert_eq!(
        reply.header(LAST_MODIFIED),
        meta.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    );

    let head = send(&router, Method::HEAD, "/files/public/images/products/001.png", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header(CONTENT_TYPE), "image/png");

    let custom = routes_with(
        files.store.clone(),
        test_signer(),
        FileServingOptions {
            public_max_age: std::time::Duration::from_secs(600),
        },
    );
    let reply = get(&custom, "/files/public/images/products/001.png").await;
    assert_eq!(reply.header(CACHE_CONTROL), "public, max-age=600");
}

async fn public_file_revalidates_with_304(files: Arc<TestFiles>) {
    put(&files, "public/images/logo.gif", b"GIF89a", None).await;
    let router = router(&files);
    let first = get(&router, "/files/public/images/logo.gif").await;
    let etag = first.header(ETAG).to_owned();
    let last_modified = first.header(LAST_MODIFIED).to_owned();
    let uri = "/files/public/images/logo.gif";

    for if_none_match in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".to_owned(),
    ] {
        let reply = send(&router, Method::GET, uri, &[(IF_NONE_MATCH, &if_none_match)]).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "If-None-Match: {if_none_match}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header(ETAG), etag);
        assert_eq!(reply.header(CACHE_CONTROL), "public, max-age=86400");
    }
    let stale = send(&router, Method::GET, uri, &[(IF_NONE_MATCH, "\"not-the-etag\"")]).await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, Bytes::from_static(b"GIF89a"));

    let unchanged = send(&router, Method::GET, uri, &[(IF_MODIFIED_SINCE, &last_modified)]).await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    let long_ago = send(
        &router,
        Method::GET,
        uri,
        &[(IF_MODIFIED_SINCE, "Mon, 01 Jan 2001 00:00:00 GMT")],
    )
    .await;
    assert_eq!(long_ago.status, StatusCode::OK);

    // A new version answers the old ETag with the new content.
    put(&files, "public/images/logo.gif", b"GIF89a, second version", None).await;
    let changed = send(&router, Method::GET, uri, &[(IF_NONE_MATCH, &etag)]).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body, Bytes::from_static(b"GIF89a, second version"));
    assert_ne!(changed.header(ETAG), etag);
}

async fn missing_or_impossible_files_are_404(files: Arc<TestFiles>) {
    put(&files, "private/invoices/1.pdf", b"%PDF", None).await;
    let router = router(&files);
    get(&router, "/files/public/images/missing.png")
        .await
        .assert_error(StatusCode::NOT_FOUND, "903");
    // Path tricks never reach a private file through the public route.
    for uri in [
        "/files/public/../private/invoices/1.pdf",
        "/files/public/%2e%2e/private/invoices/1.pdf",
        "/files/public/.content-types/public/a.png",
        "/files/public/private/invoices/1.pdf",
    ] {
        get(&router, uri).await.assert_error(StatusCode::NOT_FOUND, "903");
    }
    let signer = test_signer();
    let missing = FileKey::parse("private/invoices/404.pdf").expect("valid key");
    get(&router, &signer.sign(&missing, Utc::now() + Duration::minutes(5)))
        .await
        .assert_error(StatusCode::NOT_FOUND, "903");
}

async fn private_file_needs_a_valid_signed_url(files: Arc<TestFiles>) {
    put(&files, "private/invoices/DE--1.pdf", b"%PDF-1.7 invoice", None).await;
    put(&files, "private/invoices/DE--2.pdf", b"%PDF-1.7 other invoice", None).await;
    let router = router(&files);
    let signer = test_signer();
    let invoice = FileKey::parse("private/invoices/DE--1.pdf").expect("valid key");
    let now = Utc::now();

    let unsigned = get(&router, "/files/private/invoices/DE--1.pdf").await;
    unsigned.assert_error(StatusCode::FORBIDDEN, "908");
    assert!(
        unsigned.json()["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not signed")
    );

    let expired = get(&router, &signer.sign(&invoice, now - Duration::seconds(1))).await;
    expired.assert_error(StatusCode::FORBIDDEN, "908");
    assert!(
        expired.json()["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );

    let valid = signer.sign(&invoice, now + Duration::minutes(5));
    let (_, query) = valid.split_once('?').expect("a query");
    let forged_expiry = format!(
        "/files/private/invoices/DE--1.pdf?expires={}&signature={}",
        (now + Duration::days(365)).timestamp(),
        query.split("signature=").nth(1).expect("a signature")
    );
    get(&router, &forged_expiry)
        .await
        .assert_error(StatusCode::FORBIDDEN, "908");
    let other_secret = UrlSigner::new("someone-elses-secret-of-32-bytes-or-more").expect("signer");
    get(&router, &other_secret.sign(&invoice, now + Duration::minutes(5)))
        .await
        .assert_error(StatusCode::FORBIDDEN, "908");
    // The signature of invoice 1 does not open invoice 2.
    get(&router, &format!("/files/private/invoices/DE--2.pdf?{query}"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "908");
    // Nor does the public route open a private file.
    get(&router, &format!("/files/public/invoices/DE--1.pdf?{query}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "903");

    let served = get(&router, &valid).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, Bytes::from_static(b"%PDF-1.7 invoice"));
    assert_eq!(served.header(CONTENT_TYPE), "application/pdf");
    assert_eq!(served.header(CACHE_CONTROL), "private, no-store");
    assert_eq!(served.header(X_CONTENT_TYPE_OPTIONS), "nosniff");
}

async fn large_file_is_streamed(files: Arc<TestFiles>) {
    let content: Vec<u8> = (0..6 * 1024 * 1024).map(|index: usize| (index % 253) as u8).collect();
    let key = FileKey::parse("private/exports/catalog.csv").expect("valid key");
    files
        .store
        .put(&key, Bytes::from(content.clone()), None)
        .await
        .expect("put");
    let router = router(&files);
    let url = test_signer().sign(&key, Utc::now() + Duration::minutes(5));
    let reply = get(&router, &url).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(CONTENT_LENGTH), content.len().to_string());
    assert!(reply.body == content, "the body is the file");
}

files_test_suite!(
    public_file_is_served_with_cache_headers,
    public_file_revalidates_with_304,
    missing_or_impossible_files_are_404,
    private_file_needs_a_valid_signed_url,
    large_file_is_streamed,
);
