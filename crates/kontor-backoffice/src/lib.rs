//! The backend role's HTTP surface: the admin JSON:API (`/admin/<type>`) with API-token auth and its
//! OpenAPI document, the Back Office HTML UI (`/backoffice`, [`ui`]) and the internal gateway API. Every
//! admin and UI route is behind the ACL ([`acl`]).
//!
//! Every admin-managed resource gets the same five endpoints from one generic implementation
//! ([`resources`]): list (paged, filtered), create, read, partial update (JSON:API PATCH, merged into the
//! stored attributes and validated as a whole), delete.

pub mod acl;
pub mod auth;
pub mod feed;
pub mod files;
pub mod gateway;
pub mod openapi;
pub mod orders;
pub mod resources;
pub mod scheduler;
pub mod state;
pub mod ui;

pub use state::{AdminRepository, AdminServices, AdminState};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use kontor_web::{AppError, JsonApi};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Bodies above this are refused before they are parsed.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The backend's router: admin API behind token auth, plus the open health and OpenAPI endpoints.
pub fn router(state: AdminState) -> Router {
    let (admin, _) = admin_api_routes().into_parts();
    let admin = admin.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_api_token,
    ));
    let ui = match state.ui.clone() {
        Some(kit) => ui::routes(&state, &kit),
        None => Router::new(),
    };
    Router::new()
        .route("/health", get(health))
        .route("/admin/openapi.json", get(openapi_document))
        .merge(admin)
        .merge(ui)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(AppError::internal(&"a request handler panicked"))
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Every route of the admin API, each with its permission (the ACL test walks this table).
pub fn admin_api_routes() -> acl::GuardedRouter {
    resources::routes()
        .merge(orders::routes())
        .merge(scheduler::routes())
        .merge(files::routes())
}

async fn health() -> JsonApi<serde_json::Value> {
    JsonApi(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

async fn openapi_document() -> JsonApi<serde_json::Value> {
    JsonApi(StatusCode::OK, openapi::document())
}

async fn not_found() -> AppError {
    AppError::not_found()
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        kontor_web::ErrorCode::MethodNotAllowed,
        "this method is not allowed on this path",
    )
}
