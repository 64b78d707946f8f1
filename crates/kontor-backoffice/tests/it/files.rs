//! `/admin/files`: uploads behind the admin token, image checks, limits, and links that the file routes
//! of `kontor-web` really serve. On SQLite only: the database holds just the API token here, and the
//! file stores have their own conformance suite in `kontor-files`.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::files::FilesAdmin;
use kontor_backoffice::{AdminState, router};
use kontor_files::{FileStore, UrlSigner};
use kontor_testkit::{TestBackend, TestDatabase};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

const SECRET: &str = "backoffice-test-signing-secret-0123456789";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png";

struct FilesApi {
    admin: Router,
    files: Router,
    token: String,
    store: Arc<dyn FileStore>,
    _database: TestDatabase,
    _directory: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn attribute(&self, name: &str) -> Value {
        self.json()["data"]["attributes"][name].clone()
    }

    fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
    }

    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.error_code(), code, "{}", String::from_utf8_lossy(&self.body));
    }
}

impl FilesApi {
    async fn new(max_upload_bytes: usize) -> Self {
        let database = TestDatabase::new(TestBackend::Sqlite).await;
        let token = kontor_testkit::admin_token(&database.database, "files@example.com", &["administrator"]).await;
        let directory = tempfile::tempdir().expect("temp dir");
        let store = kontor_files::open("", directory.path()).await.expect("file store");
        let signer = UrlSigner::new(SECRET).expect("signer");
        let mut files_admin = FilesAdmin::new(store.clone(), signer.clone());
        files_admin.max_upload_bytes = max_upload_bytes;
        let state = AdminState::new(Arc::new(database.database.clone())).with_files(files_admin);
        Self {
            admin: router(state),
            files: kontor_web::files::routes(store.clone(), signer),
            token,
            store,
            _database: database,
            _directory: directory,
        }
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: &[u8],
        token: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body.to_vec())).expect("request");
        let router = if uri.starts_with("/files/") {
            &self.files
        } else {
            &self.admin
        };
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    async fn upload(&self, query: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
        let uri = format!("/admin/files?{query}");
        self.send(Method::POST, &uri, content_type, body, Some(&self.token))
            .await
    }
}

#[tokio::test]
async fn uploads_need_the_admin_token() {
    let api = FilesApi::new(1024 * 1024).await;
    let uri = "/admin/files?key=public/images/a.png";
    api.send(Method::POST, uri, Some("image/png"), PNG, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "002");
    api.send(Method::POST, uri, Some("image/png"), PNG, Some("kontor_wrong"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "001");
    api.send(Method::GET, "/admin/files/public/images/a.png", None, b"", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "002");
    api.send(Method::DELETE, "/admin/files/public/images/a.png", None, b"", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "002");
    let key = kontor_files::FileKey::parse("public/images/a.png").expect("valid key");
    assert!(api.store.head(&key).await.expect_err("nothing stored").is_not_found());
}

#[tokio::test]
async fn public_image_upload_answers_its_public_url() {
    let api = FilesApi::new(1024 * 1024).await;
    let reply = api
        .upload(
            "key=public/images/products/001.png&visibility=public",
            Some("image/png"),
            PNG,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.headers["content-type"], "application/vnd.api+json");
    let document = reply.json();
    assert_eq!(document["data"]["type"], "files");
    assert_eq!(document["data"]["id"], "public/images/products/001.png");
    assert_eq!(reply.attribute("size"), PNG.len());
    assert_eq!(reply.attribute("contentType"), "image/png");
    assert_eq!(reply.attribute("visibility"), "public");
    assert_eq!(reply.attribute("url"), "/files/public/images/products/001.png");
    assert_eq!(reply.attribute("urlExpiresAt"), Value::Null);

    let served = api
        .send(Method::GET, "/files/public/images/products/001.png", None, b"", None)
        .await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, PNG);
    assert_eq!(served.headers["content-type"], "image/png");

    // curl's default type for --data-binary says nothing: the extension decides.
    let guessed = api
        .upload(
            "key=public/images/logo.png",
            Some("application/x-www-form-urlencoded"),
            PNG,
        )
        .await;
    assert_eq!(guessed.status, StatusCode::CREATED);
    assert_eq!(guessed.attribute("contentType"), "image/png");
}

#[tokio::test]
async fn private_upload_answers_a_signed_url_that_works() {
    let api = FilesApi::new(1024 * 1024).await;
    let reply = api
        .upload(
            "key=private/imports/products.csv",
            Some("text/csv"),
            b"abstract_sku,name\n001,Camera\n",
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.attribute("visibility"), "private");
    let url = reply.attribute("url").as_str().expect("a url").to_owned();
    assert!(url.starts_with("/files/private/imports/products.csv?expires="), "{url}");
    assert!(reply.attribute("urlExpiresAt").is_string());

    let served = api.send(Method::GET, &url, None, b"", None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, b"abstract_sku,name\n001,Camera\n");
    api.send(Method::GET, "/files/private/imports/products.csv", None, b"", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "908");

    let read = api
        .send(
            Method::GET,
            "/admin/files/private/imports/products.csv",
            None,
            b"",
            Some(&api.token),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.attribute("size"), 29);
    let fresh = read.attribute("url").as_str().expect("a url").to_owned();
    assert_eq!(
        api.send(Method::GET, &fresh, None, b"", None).await.status,
        StatusCode::OK
    );

    let deleted = api
        .send(
            Method::DELETE,
            "/admin/files/private/imports/products.csv",
            None,
            b"",
            Some(&api.token),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    api.send(
        Method::GET,
        "/admin/files/private/imports/products.csv",
        None,
        b"",
        Some(&api.token),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "903");
    api.send(Method::GET, &fresh, None, b"", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "903");
}

#[tokio::test]
async fn only_real_images_go_under_public_images() {
    let api = FilesApi::new(1024 * 1024).await;
    api.upload("key=public/images/a.txt", Some("text/plain"), b"hello")
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "906");
    api.upload("key=public/images/a.svg", None, b"<svg onload=\"alert(1)\"/>")
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "906");
    // Declared a PNG, but the bytes are not one.
    api.upload(
        "key=public/images/a.png",
        Some("image/png"),
        b"<html>not an image</html>",
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "906");
    api.upload("key=public/images/a.png", Some("not a type"), PNG)
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "906");
    // Outside public/images/ other types are fine.
    let document = api.upload("key=public/docs/terms.txt", None, b"terms").await;
    assert_eq!(document.status, StatusCode::CREATED);
    assert_eq!(document.attribute("contentType"), "text/plain");
    assert!(api.store.list("public/images/").await.expect("list").is_empty());
}

#[tokio::test]
async fn bad_requests_are_explained_and_store_nothing() {
    let api = FilesApi::new(1024).await;
    let too_large = api
        .upload("key=private/imports/big.csv", Some("text/csv"), &vec![b'x'; 2048])
        .await;
    too_large.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "910");
    let missing_key = api.upload("visibility=private", Some("text/csv"), b"a").await;
    missing_key.assert_error(StatusCode::BAD_REQUEST, "905");
    assert_eq!(missing_key.json()["errors"][0]["source"]["parameter"], "key");
    let bad_key = api.upload("key=private/../etc/passwd", Some("text/plain"), b"a").await;
    bad_key.assert_error(StatusCode::BAD_REQUEST, "905");
    assert!(
        bad_key.json()["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("private/../etc/passwd")
    );
    api.upload("key=private/a.csv&visibility=public", None, b"a")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "905");
    api.upload("key=private/a.csv&colour=red", None, b"a")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "905");
    api.upload("key=private/a.csv", None, b"")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "901");
    assert!(api.store.list("").await.expect("list").is_empty());
}

#[tokio::test]
async fn a_backend_without_file_storage_says_so() {
    let database = TestDatabase::new(TestBackend::Sqlite).await;
    let token = kontor_testkit::admin_token(&database.database, "nofiles@example.com", &["administrator"]).await;
    let admin = router(AdminState::new(Arc::new(database.database.clone())));
    let request = Request::builder()
        .method(Method::POST)
        .uri("/admin/files?key=private/a.csv")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from("a"))
        .expect("request");
    let response = admin.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
