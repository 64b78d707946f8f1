//! A client for the admin router that needs no network: requests go straight into the service.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::{AdminState, router};
use kontor_db::{OutboxReader, SqlDatabase};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub struct Api {
    router: Router,
    token: String,
    pub db: SqlDatabase,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The first error's `source.pointer` (or `source.parameter`).
    pub fn error_source(&self) -> String {
        let source = &self.body["errors"][0]["source"];
        source["pointer"]
            .as_str()
            .or_else(|| source["parameter"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["data"]["id"]
            .as_str()
            .expect("response has data.id")
            .to_owned()
    }

    pub fn attributes(&self) -> &Value {
        &self.body["data"]["attributes"]
    }
}

impl Api {
    pub async fn new(db: SqlDatabase) -> Self {
        let token = kontor_testkit::admin_token(&db, "admin@example.com", &["administrator"]).await;
        Self {
            router: router(AdminState::new(Arc::new(db.clone()))),
            token,
            db,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&str>, token: Option<&str>) -> Reply {
        self.send_as(method, path, "application/vnd.api+json", body, token)
            .await
    }

    pub async fn send_as(
        &self,
        method: Method,
        path: &str,
        media_type: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header("content-type", media_type);
        }
        let request = request
            .body(body.map_or_else(Body::empty, |text| Body::from(text.to_owned())))
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, Some(&self.token.clone())).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(&body.to_string()), Some(&self.token.clone()))
            .await
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> Reply {
        self.send(Method::POST, path, Some(body), Some(&self.token.clone()))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(&body.to_string()), Some(&self.token.clone()))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, Some(&self.token.clone())).await
    }

    /// Creates a resource and returns its id, failing the test with the error body otherwise.
    pub async fn create(&self, kind: &str, attributes: Value) -> String {
        let reply = self.post(&format!("/admin/{kind}"), document(kind, attributes)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "creating {kind}: {}", reply.body);
        reply.id()
    }

    /// Number of outbox rows, to prove a rejected request wrote nothing.
    pub async fn outbox_len(&self) -> usize {
        self.db.outbox_after(0, 1_000_000).await.expect("outbox").len()
    }

    /// The base shop of the tests: locales de_DE and en_US, EUR, store DE, tax set, warehouse.
    pub async fn base_shop(&self) {
        self.create("locales", serde_json::json!({"name": "de_DE"})).await;
        self.create("locales", serde_json::json!({"name": "en_US"})).await;
        self.create("currencies", serde_json::json!({"code": "EUR", "name": "Euro"}))
            .await;
        self.create(
            "stores",
            serde_json::json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR", "locales": ["de_DE", "en_US"]}),
        )
        .await;
    }
}

pub fn document(kind: &str, attributes: Value) -> Value {
    serde_json::json!({"data": {"type": kind, "attributes": attributes}})
}
