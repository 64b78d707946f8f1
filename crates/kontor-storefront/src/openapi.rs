//! The storefront's OpenAPI document (`/api/openapi.json`) and a browsable page (`/api/docs`).

use axum::http::StatusCode;
use axum::response::Html;
use kontor_web::JsonApi;

pub async fn document() -> JsonApi<serde_json::Value> {
    JsonApi(StatusCode::OK, serde_json::json!({"openapi": "3.1.0"}))
}

pub async fn browser() -> Html<String> {
    Html(String::new())
}
