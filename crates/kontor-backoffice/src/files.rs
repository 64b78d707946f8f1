//! Files in the admin API: uploading product images and private documents, reading a file's metadata
//! with a fresh link, deleting a file. Behind the admin API token like every `/admin` route.
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/admin/files?key=public/images/products/001.jpg[&visibility=public]`, the raw file as body, its type as `Content-Type` | 201 with key, size, content type and URL |
//! | GET | `/admin/files/{*key}` | 200, the same document; a private file gets a freshly signed URL |
//! | DELETE | `/admin/files/{*key}` | 204, also when the file did not exist |
//!
//! The body is the file itself (no multipart): one request per file, nothing to parse, any HTTP client
//! can send it (`curl --data-binary @001.jpg -H 'Content-Type: image/jpeg'`). A `Content-Type` of
//! `application/octet-stream` or curl's default `application/x-www-form-urlencoded` counts as unknown,
//! and the key's extension decides. Files under `public/images/` must be JPEG, PNG, GIF, WebP or AVIF —
//! by their declared type and their first bytes — since the storefront serves them to every visitor
//! from this origin (SVG is refused: it can carry scripts).

use crate::auth::CurrentUser;
use crate::state::AdminState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use axum::Extension;
use futures_util::StreamExt;
use kontor_files::{FileError, FileKey, FileMeta, FileStore, UrlSigner, Visibility};
use kontor_web::{AppError, ErrorCode, JsonApi};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Largest upload accepted unless configured otherwise.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;

/// How long the signed URL of a private file in an answer stays valid unless configured otherwise.
pub const DEFAULT_SIGNED_URL_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Keys under this prefix must be images.
const IMAGES_PREFIX: &str = "public/images/";

/// What the file endpoints work with.
pub struct FilesAdmin {
    pub store: Arc<dyn FileStore>,
    pub signer: UrlSigner,
    pub max_upload_bytes: usize,
    pub signed_url_lifetime: Duration,
}

impl FilesAdmin {
    /// The endpoints on `store`, signing private links with `signer`, with the default limits.
    pub fn new(store: Arc<dyn FileStore>, signer: UrlSigner) -> Self {
        Self {
            store,
            signer,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            signed_url_lifetime: DEFAULT_SIGNED_URL_LIFETIME,
        }
    }
}

pub fn routes() -> crate::acl::GuardedRouter {
    use kontor_domain::acl::Permission;
    crate::acl::GuardedRouter::new()
        .post("/admin/files", Permission::FilesWrite, upload)
        .get("/admin/files/{*key}", Permission::CatalogRead, read)
        .route(
            axum::http::Method::DELETE,
            "/admin/files/{*key}",
            Permission::FilesWrite,
            remove,
        )
}

fn files_admin(state: &AdminState) -> Result<&FilesAdmin, AppError> {
    state
        .files
        .as_deref()
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "this backend does not store files"))
}

fn store_error(error: FileError) -> AppError {
    match error {
        FileError::NotFound { key } => AppError::new(ErrorCode::NotFound, format!("file {key} does not exist")),
        FileError::InvalidContentType { .. } => AppError::new(ErrorCode::UnsupportedMediaType, error.to_string()),
        FileError::InvalidKey { .. } => AppError::new(ErrorCode::InvalidParameter, error.to_string()),
        other => AppError::internal(&other),
    }
}

/// The upload's `key` and optional `visibility` (which must agree with the key).
fn upload_key(raw_query: Option<&str>) -> Result<FileKey, AppError> {
    let mut key = None;
    let mut visibility = None;
    for (name, value) in url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "key" => key = Some(value.into_owned()),
            "visibility" => visibility = Some(value.into_owned()),
            other => {
                return Err(AppError::at_parameter(
                    ErrorCode::InvalidParameter,
                    other.to_owned(),
                    format!("unknown query parameter {other}; expected key and visibility"),
                ));
            }
        }
    }
    let Some(key) = key else {
        return Err(AppError::at_parameter(
            ErrorCode::InvalidParameter,
            "key",
            "key is required, e.g. key=public/images/products/001.jpg",
        ));
    };
    let key = FileKey::parse(&key)
        .map_err(|error| AppError::at_parameter(ErrorCode::InvalidParameter, "key", error.to_string()))?;
    if let Some(visibility) = visibility {
        let Some(visibility) = Visibility::parse(&visibility) else {
            return Err(AppError::at_parameter(
                ErrorCode::InvalidParameter,
                "visibility",
                "visibility must be public or private",
            ));
        };
        if visibility != key.visibility() {
            return Err(AppError::at_parameter(
                ErrorCode::InvalidParameter,
                "visibility",
                format!("visibility is {visibility} but the key {key} is {}", key.visibility()),
            ));
        }
    }
    Ok(key)
}

/// The declared content type, or `None` when the client did not really declare one.
fn declared_content_type(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "the Content-Type header is not readable text",
        )
    })?;
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence.is_empty() || essence == kontor_files::OCTET_STREAM || essence == "application/x-www-form-urlencoded" {
        return Ok(None);
    }
    Ok(Some(value.to_owned()))
}

/// Reads the body, refusing it as soon as it exceeds `limit` bytes.
async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, AppError> {
    let too_large = || {
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is larger than the limit of {limit} bytes"),
        )
    };
    let declared_length = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut content = Vec::with_capacity(declared_length.map_or(0, |length| length as usize));
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|error| AppError::new(ErrorCode::MalformedBody, format!("the upload was interrupted: {error}")))?;
        if content.len() + chunk.len() > limit {
            return Err(too_large());
        }
        content.extend_from_slice(&chunk);
    }
    Ok(content)
}

/// Whether `content` starts like an image of `content_type`'s format.
fn looks_like(content_type: &str, content: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => content.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => content.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/gif" => content.starts_with(b"GIF87a") || content.starts_with(b"GIF89a"),
        "image/webp" => content.len() >= 12 && content.starts_with(b"RIFF") && &content[8..12] == b"WEBP",
        "image/avif" => {
            content.len() >= 12 && &content[4..8] == b"ftyp" && matches!(&content[8..12], b"avif" | b"avis")
        }
        _ => false,
    }
}

/// Refuses anything under `public/images/` that is not a JPEG, PNG, GIF, WebP or AVIF image.
fn check_image(key: &FileKey, content_type: &str, content: &[u8]) -> Result<(), AppError> {
    if !key.is_under(IMAGES_PREFIX) {
        return Ok(());
    }
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(
        essence,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "image/avif"
    ) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!("files under {IMAGES_PREFIX} must be JPEG, PNG, GIF, WebP or AVIF images, not {essence}"),
        ));
    }
    if !looks_like(essence, content) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!("the content of {key} is not a {essence} image"),
        ));
    }
    Ok(())
}

/// The JSON:API document of a stored file, with its public URL or a freshly signed one.
fn file_document(admin: &FilesAdmin, meta: &FileMeta) -> Value {
    let (url, url_expires_at) = match meta.key.visibility() {
        Visibility::Public => (kontor_files::url_path(&meta.key), None),
        Visibility::Private => {
            let (url, expires_at) = admin.signer.sign_for(&meta.key, admin.signed_url_lifetime);
            (url, Some(expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        }
    };
    json!({
        "data": {
            "type": "files",
            "id": meta.key.as_str(),
            "attributes": {
                "key": meta.key.as_str(),
                "visibility": meta.key.visibility().as_str(),
                "size": meta.size,
                "contentType": meta.content_type,
                "etag": meta.etag,
                "lastModified": meta.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "url": url,
                "urlExpiresAt": url_expires_at,
            },
            "links": {"self": format!("/admin/files/{}", meta.key)},
        }
    })
}

async fn upload(
    State(state): State<AdminState>,
    Extension(user): Extension<CurrentUser>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let admin = files_admin(&state)?;
    let key = upload_key(raw_query.as_deref())?;
    let declared = declared_content_type(&headers)?;
    let content_type = kontor_files::resolve_content_type(&key, declared.as_deref()).map_err(store_error)?;
    let content = read_limited(&headers, body, admin.max_upload_bytes).await?;
    if content.is_empty() {
        return Err(AppError::new(ErrorCode::Unprocessable, "the file is empty"));
    }
    check_image(&key, &content_type, &content)?;
    let meta = admin
        .store
        .put(&key, content.into(), Some(&content_type))
        .await
        .map_err(store_error)?;
    tracing::info!(
        key = %meta.key,
        size = meta.size,
        content_type = %meta.content_type,
        user_id = user.0.id.0,
        "file uploaded"
    );
    Ok(JsonApi(StatusCode::CREATED, file_document(admin, &meta)).into_response())
}

fn path_key(path: &str) -> Result<FileKey, AppError> {
    FileKey::parse(path).map_err(|error| AppError::new(ErrorCode::NotFound, error.to_string()))
}

async fn read(State(state): State<AdminState>, Path(path): Path<String>) -> Result<Response, AppError> {
    let admin = files_admin(&state)?;
    let key = path_key(&path)?;
    let meta = admin.store.head(&key).await.map_err(store_error)?;
    Ok(JsonApi(StatusCode::OK, file_document(admin, &meta)).into_response())
}

async fn remove(
    State(state): State<AdminState>,
    Extension(user): Extension<CurrentUser>,
    Path(path): Path<String>,
) -> Result<Response, AppError> {
    let admin = files_admin(&state)?;
    let key = path_key(&path)?;
    admin.store.delete(&key).await.map_err(store_error)?;
    tracing::info!(key = %key, user_id = user.0.id.0, "file deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_signatures_are_recognised() {
        assert!(looks_like("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(looks_like("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(looks_like("image/gif", b"GIF89a..."));
        assert!(looks_like("image/webp", b"RIFF\x10\0\0\0WEBPVP8 "));
        assert!(looks_like("image/avif", b"\0\0\0\x1cftypavif\0\0\0\0"));
        assert!(!looks_like("image/png", b"<svg onload=alert(1)>"));
        assert!(!looks_like("image/jpeg", b""));
        assert!(!looks_like("image/svg+xml", b"<svg/>"));
    }

    #[test]
    fn upload_key_and_visibility_must_agree() {
        let key = upload_key(Some("key=public/images/a.jpg&visibility=public")).expect("agrees");
        assert_eq!(key.as_str(), "public/images/a.jpg");
        assert!(upload_key(Some("key=public/images/a.jpg&visibility=private")).is_err());
        assert!(upload_key(Some("key=public/images/a.jpg&visibility=secret")).is_err());
        assert!(upload_key(Some("key=../a.jpg")).is_err());
        assert!(upload_key(Some("visibility=public")).is_err());
        assert!(upload_key(Some("key=public/a.jpg&name=x")).is_err());
        assert!(upload_key(None).is_err());
    }
}
