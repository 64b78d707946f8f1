//! Media-type rules of the API (`storefront-api.md` §1): `Accept` must admit JSON:API (`*/*` and
//! `application/json` are accepted too), else 406; a body must be `application/vnd.api+json` (optionally
//! with `version=1.1`) or `application/json`, else 415; an unknown `version` is 404. `OPTIONS` answers
//! 200 with `Allow` for every path.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kontor_web::{AppError, ErrorCode, JSON_API_MEDIA_TYPE};

const SUPPORTED_VERSIONS: &[&str] = &["1.0", "1.1"];

pub(crate) async fn negotiate(request: Request<Body>, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::OK.into_response();
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, POST, PATCH, DELETE, OPTIONS"));
        return response;
    }
    if let Some(accept) = request.headers().get(ACCEPT).and_then(|value| value.to_str().ok())
        && !accepts_json_api(accept)
    {
        return AppError::new(
            ErrorCode::NotAcceptable,
            format!("this API answers only {JSON_API_MEDIA_TYPE}"),
        )
        .into_response();
    }
    let has_body = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|length| length != "0")
        || request.headers().contains_key(CONTENT_TYPE);
    // `/token` is the OAuth2 form endpoint and checks its own media type.
    let oauth_form = request.uri().path().ends_with("/token");
    if has_body && !oauth_form && matches!(*request.method(), Method::POST | Method::PATCH) {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let mut parts = content_type.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != JSON_API_MEDIA_TYPE && essence != "application/json" {
            return AppError::new(
                ErrorCode::UnsupportedMediaType,
                format!("send request bodies as {JSON_API_MEDIA_TYPE}"),
            )
            .into_response();
        }
        let version = parts.find_map(|parameter| parameter.trim().strip_prefix("version=").map(str::to_owned));
        if let Some(version) = version
            && !SUPPORTED_VERSIONS.contains(&version.trim_matches('"'))
        {
            return AppError::new(ErrorCode::NotFound, format!("API version {version} does not exist")).into_response();
        }
    }
    next.run(request).await
}

pub(crate) fn accepts_json_api(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let essence = range.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        matches!(
            essence.as_str(),
            "" | "*/*" | "application/*" | "application/json" | JSON_API_MEDIA_TYPE
        )
    })
}
