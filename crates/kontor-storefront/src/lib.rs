//! The storefront role (`kontor storefront`, ARCHITECTURE §1): a JSON:API compatible with Spryker's Glue
//! storefront API (`../shared/spec/storefront-api.md`) under `/api`, for any frontend, and the HTML shop
//! ([`html`]) rendered from the theme.
//!
//! Catalog reads come only from the KV store and the search index; this crate does not depend on the SQL
//! crate at all (`scripts/check-storefront-deps` proves it in CI). Customer, address and cart requests go
//! to the backend through the [`BackendGateway`](kontor_domain::gateway::BackendGateway) port: in process
//! inside `kontor serve`, or over HTTP ([`http_gateway::HttpGateway`]) when the roles run apart. A
//! storefront whose backend is down keeps answering catalog reads; writes answer 503 and change nothing.

pub mod account;
pub mod auth;
mod cached_reads;
pub mod carts;
pub mod catalog;
pub mod checkout;
pub mod context;
pub mod document;
pub mod html;
pub mod http_gateway;
pub mod idempotency;
pub mod invalidation;
pub mod openapi;
pub mod response_cache;
pub mod state;
mod transport;

pub use state::{StorefrontOptions, StorefrontState};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use kontor_web::{AppError, ErrorCode, JsonApi};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Request bodies above this are refused before they are parsed.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The storefront router: the JSON:API under `/api`, health and readiness at the root, and the HTML shop
/// when it is configured. CORS, when origins are configured, applies to all of it.
pub fn router(state: StorefrontState) -> Router {
    let cors = cors_layer(&state.options.cors_origins);
    let api = Router::new()
        .merge(catalog::routes())
        .merge(account::routes())
        .merge(carts::routes())
        .merge(checkout::routes())
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::browser))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(transport::negotiate));
    let shop = match state.options.html.clone() {
        Some(kit) => html::routes(&state, &kit),
        None => Router::new(),
    };
    let router = Router::new()
        .nest("/api", api)
        .merge(shop)
        .route("/health", get(health))
        .route("/ready", get(ready))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            AppError::internal(&"a storefront handler panicked").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(15),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state.clone());
    // Cached catalog answers are served ahead of all of the above. CORS wraps both, so that a cached
    // answer carries the same CORS headers as a routed one.
    let app = Router::new().fallback_service(cached_reads::CachedReads { state, router });
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// CORS for the configured origins: the API's methods, the headers Glue clients send, and the headers
/// they may read. `None` when no origin is configured (same-origin use needs no CORS headers).
fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::ACCEPT,
                header::ACCEPT_LANGUAGE,
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static("store"),
                HeaderName::from_static(auth::ANONYMOUS_HEADER),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                header::CONTENT_LANGUAGE,
                header::ETAG,
                header::LAST_MODIFIED,
                header::RETRY_AFTER,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Liveness: the process answers.
async fn health() -> JsonApi<serde_json::Value> {
    JsonApi(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// Readiness: the KV store answers and holds at least one store document (a storefront without a
/// published catalog should not receive traffic). The backend is not required: reads work without it.
/// With a search replica (split deployment), also that it has caught up; its lag is reported.
async fn ready(axum::extract::State(state): axum::extract::State<StorefrontState>) -> impl IntoResponse {
    let replica = state.options.search_replica.as_ref().map(|status| status.report());
    if replica.is_some_and(|report| !report.caught_up) {
        return AppError::new(
            ErrorCode::Unavailable,
            "the search replica of this node is still catching up",
        )
        .into_response();
    }
    match state.stores().await {
        Ok(stores) if !stores.is_empty() => {
            let mut body =
                serde_json::json!({"status": "ready", "stores": stores.len(), "kv": state.kv.backend_name()});
            if let Some(report) = replica {
                body["search_replica"] = serde_json::json!(report);
            }
            JsonApi(StatusCode::OK, body).into_response()
        }
        Ok(_) => AppError::new(
            ErrorCode::Unavailable,
            "no store has been published to the KV store yet",
        )
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness: KV store unreachable");
            AppError::new(ErrorCode::Unavailable, "the KV store is unreachable").into_response()
        }
    }
}

async fn not_found() -> AppError {
    AppError::not_found()
}

async fn method_not_allowed() -> AppError {
    AppError::new(ErrorCode::MethodNotAllowed, "this method is not allowed on this path")
}
