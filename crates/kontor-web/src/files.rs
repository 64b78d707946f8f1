//! Serving stored files over HTTP: `GET /files/public/{*key}` to anyone, `GET /files/private/{*key}` only
//! with a valid signed URL from [`UrlSigner`].
//!
//! Public files carry `Cache-Control: public, max-age=…`, `ETag` and `Last-Modified` and answer
//! `If-None-Match` / `If-Modified-Since` with 304, so browsers and a CDN in front revalidate cheaply.
//! Private files are `Cache-Control: private, no-store`: a signed link must not outlive its expiry in a
//! shared cache. The signature is checked before the store is asked, so an unsigned request learns
//! nothing, not even whether the file exists. Every answer has `X-Content-Type-Options: nosniff`, so a
//! browser treats an uploaded file as the type it was stored with and never as a page of this origin.
//! Errors are JSON:API error documents like every other answer: 403 (908) for a missing, forged or
//! expired signature, 404 (903) for a missing file or a key that cannot exist.

use crate::error::{AppError, ErrorCode};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDateTime, Utc};
use kontor_files::{FileError, FileKey, FileMeta, FileStore, UrlSigner, Visibility};
use std::sync::Arc;
use std::time::Duration;

/// How long browsers and CDNs may keep a public file without revalidating, unless configured otherwise.
pub const DEFAULT_PUBLIC_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// `Cache-Control` of private files.
const PRIVATE_CACHE_CONTROL: &str = "private, no-store";

/// The HTTP date format (RFC 9110 IMF-fixdate), always in GMT.
const HTTP_DATE_FORMAT: &str = "%a, %d %b %Y %H:%M:%S GMT";

/// Settings of the file routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileServingOptions {
    /// `max-age` of public files.
    pub public_max_age: Duration,
}

impl Default for FileServingOptions {
    fn default() -> Self {
        Self {
            public_max_age: DEFAULT_PUBLIC_MAX_AGE,
        }
    }
}

struct FileServing {
    store: Arc<dyn FileStore>,
    signer: UrlSigner,
    public_cache_control: HeaderValue,
}

/// The file routes with default options; merge them into a role's router.
pub fn routes<S>(store: Arc<dyn FileStore>, signer: UrlSigner) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes_with(store, signer, FileServingOptions::default())
}

/// The file routes: `GET /files/public/{*key}` and `GET /files/private/{*key}?expires=…&signature=…`.
pub fn routes_with<S>(store: Arc<dyn FileStore>, signer: UrlSigner, options: FileServingOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let public_cache_control = HeaderValue::from_str(&format!("public, max-age={}", options.public_max_age.as_secs()))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=86400"));
    let serving = Arc::new(FileServing {
        store,
        signer,
        public_cache_control,
    });
    Router::new()
        .route("/files/public/{*path}", get(serve_public))
        .route("/files/private/{*path}", get(serve_private))
        .with_state(serving)
}

async fn serve_public(
    State(serving): State<Arc<FileServing>>,
    Path(path): Path<String>,
    request_headers: HeaderMap,
) -> Result<Response, AppError> {
    // A path that is no valid key names no file (`..` and friends end here).
    let key = FileKey::new(Visibility::Public, &path).map_err(|_| AppError::not_found())?;
    let cache_control = serving.public_cache_control.clone();
    if has_conditions(&request_headers) {
        let meta = serving.store.head(&key).await.map_err(file_error)?;
        if is_not_modified(&request_headers, &meta) {
            return Ok(not_modified(&meta, cache_control));
        }
    }
    let file = serving.store.get_stream(&key).await.map_err(file_error)?;
    Ok(file_response(&file.meta, Body::from_stream(file.body), cache_control))
}

async fn serve_private(
    State(serving): State<Arc<FileServing>>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let key = FileKey::new(Visibility::Private, &path).map_err(|_| AppError::not_found())?;
    serving
        .signer
        .verify_query(&key, query.as_deref(), Utc::now())
        .map_err(|refusal| {
            tracing::debug!(key = %key, reason = %refusal, "private file refused");
            AppError::new(ErrorCode::Forbidden, refusal.to_string())
        })?;
    let file = serving.store.get_stream(&key).await.map_err(file_error)?;
    Ok(file_response(
        &file.meta,
        Body::from_stream(file.body),
        HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
    ))
}

fn file_error(error: FileError) -> AppError {
    if error.is_not_found() {
        AppError::not_found()
    } else {
        AppError::internal(&error)
    }
}

fn file_response(meta: &FileMeta, body: Body, cache_control: HeaderValue) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    // Stored types were checked on write; a type that still cannot be a header is served as bytes.
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static(kontor_files::OCTET_STREAM));
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(meta.size));
    insert_validators(headers, meta, cache_control);
    response
}

fn not_modified(meta: &FileMeta, cache_control: HeaderValue) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    insert_validators(response.headers_mut(), meta, cache_control);
    response
}

/// The headers a 200 and a 304 share (RFC 9110 §15.4.5: a 304 repeats the validators and caching).
fn insert_validators(headers: &mut HeaderMap, meta: &FileMeta, cache_control: HeaderValue) {
    headers.insert(CACHE_CONTROL, cache_control);
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some(etag) = &meta.etag
        && let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\""))
    {
        headers.insert(ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&http_date(meta.last_modified)) {
        headers.insert(LAST_MODIFIED, value);
    }
}

fn has_conditions(headers: &HeaderMap) -> bool {
    headers.contains_key(IF_NONE_MATCH) || headers.contains_key(IF_MODIFIED_SINCE)
}

/// RFC 9110 §13.2.2: `If-None-Match` decides when present (weak comparison); otherwise
/// `If-Modified-Since`, at whole seconds as `Last-Modified` carries them.
fn is_not_modified(headers: &HeaderMap, meta: &FileMeta) -> bool {
    if let Some(if_none_match) = headers.get(IF_NONE_MATCH) {
        let Some(etag) = &meta.etag else {
            return false;
        };
        let Ok(if_none_match) = if_none_match.to_str() else {
            return false;
        };
        return if_none_match.split(',').map(str::trim).any(|candidate| {
            candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == etag.as_str()
        });
    }
    let since = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_http_date);
    since.is_some_and(|since| meta.last_modified.timestamp() <= since.timestamp())
}

fn http_date(time: DateTime<Utc>) -> String {
    time.format(HTTP_DATE_FORMAT).to_string()
}

fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value.trim(), HTTP_DATE_FORMAT)
        .ok()
        .map(|time| time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn meta(etag: Option<&str>) -> FileMeta {
        FileMeta {
            key: FileKey::parse("public/a.png").expect("valid key"),
            size: 1,
            content_type: "image/png".to_owned(),
            etag: etag.map(str::to_owned),
            last_modified: Utc.with_ymd_and_hms(2026, 11, 25, 8, 49, 37).single().expect("a time"),
        }
    }

    fn headers(name: axum::http::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
        headers
    }

    #[test]
    fn http_dates_round_trip() {
        let time = meta(None).last_modified;
        assert_eq!(http_date(time), "Wed, 25 Nov 2026 08:49:37 GMT");
        assert_eq!(parse_http_date("Wed, 25 Nov 2026 08:49:37 GMT"), Some(time));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn if_none_match_compares_weakly_and_wins() {
        let file = meta(Some("abc"));
        assert!(is_not_modified(&headers(IF_NONE_MATCH, "\"abc\""), &file));
        assert!(is_not_modified(&headers(IF_NONE_MATCH, "\"x\", W/\"abc\""), &file));
        assert!(is_not_modified(&headers(IF_NONE_MATCH, "*"), &file));
        assert!(!is_not_modified(&headers(IF_NONE_MATCH, "\"abd\""), &file));
        assert!(!is_not_modified(&headers(IF_NONE_MATCH, "\"abc\""), &meta(None)));
        let mut both = headers(IF_NONE_MATCH, "\"other\"");
        both.insert(
            IF_MODIFIED_SINCE,
            HeaderValue::from_static("Wed, 25 Nov 2026 08:49:37 GMT"),
        );
        assert!(!is_not_modified(&both, &file), "If-None-Match decides when present");
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let file = meta(Some("abc"));
        assert!(is_not_modified(
            &headers(IF_MODIFIED_SINCE, "Wed, 25 Nov 2026 08:49:37 GMT"),
            &file
        ));
        assert!(is_not_modified(
            &headers(IF_MODIFIED_SINCE, "Thu, 26 Nov 2026 00:00:00 GMT"),
            &file
        ));
        assert!(!is_not_modified(
            &headers(IF_MODIFIED_SINCE, "Wed, 25 Nov 2026 08:49:36 GMT"),
            &file
        ));
        assert!(!is_not_modified(&headers(IF_MODIFIED_SINCE, "garbage"), &file));
    }
}
