//! Product images: `POST /backoffice/products/{id}/images?_csrf=` (files.write), a `multipart/form-data`
//! upload whose `image` part is stored under `public/images/products/<id>/` in the file store.
//!
//! The form is parsed here rather than by a multipart crate: a browser's file form is one small,
//! well-defined shape, and only the `image` part is read. The image's format is decided by its first
//! bytes (JPEG, PNG, GIF, WebP or AVIF), never by what the browser declared, since the storefront
//! serves these files to every visitor from its own origin.

use super::{FailedForm, IMAGES_PREFIX, load_or_404, not_found, product_url, refused_page, with_audit};
use crate::acl::Principal;
use crate::state::AdminState;
use crate::ui::ws::announce_change;
use crate::ui::{Layout, flash};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kontor_domain::Resource;
use kontor_domain::catalog::ProductAbstractAttributes;
use kontor_files::FileKey;
use kontor_web::html::{CsrfToken, FormErrors, Session};
use serde_json::json;
use std::collections::BTreeMap;

/// Multipart framing around the file: headers and boundaries are far below this.
const MULTIPART_OVERHEAD_BYTES: usize = 64 * 1024;

/// One file of a `multipart/form-data` body.
#[derive(Debug, PartialEq, Eq)]
struct UploadedFile {
    field: String,
    file_name: String,
    content: Vec<u8>,
}

/// The `boundary` parameter of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let essence = parts.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|boundary| !boundary.is_empty() && boundary.len() <= 70)
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|position| position + from)
}

/// A parameter of a `Content-Disposition` header (`name="image"`).
fn disposition_parameter(header: &str, parameter: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|part| {
        let (name, value) = part.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(parameter)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The file parts of a `multipart/form-data` body (RFC 7578); other parts are skipped. Only what a
/// browser's file form sends is understood: no nested multiparts, no transfer encodings.
fn multipart_files(body: &[u8], boundary: &str) -> Result<Vec<UploadedFile>, &'static str> {
    let malformed = "the upload is not a readable multipart form";
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut position = find(body, delimiter.as_bytes(), 0).ok_or(malformed)? + delimiter.len();
    let mut files = Vec::new();
    loop {
        let rest = body.get(position..).ok_or(malformed)?;
        if rest.starts_with(b"--") {
            return Ok(files);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(malformed);
        }
        let headers_start = position + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start).ok_or(malformed)?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        let content_start = headers_end + 4;
        let content_end = find(body, next_delimiter.as_bytes(), content_start).ok_or(malformed)?;
        let disposition = headers.split("\r\n").find(|line| {
            line.split(':')
                .next()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case("content-disposition"))
        });
        if let Some(disposition) = disposition
            && let Some(file_name) = disposition_parameter(disposition, "filename")
        {
            files.push(UploadedFile {
                field: disposition_parameter(disposition, "name").unwrap_or_default(),
                file_name,
                content: body[content_start..content_end].to_vec(),
            });
        }
        position = content_end + next_delimiter.len();
    }
}

/// The content type and file extension of an image, read from its first bytes: JPEG, PNG, GIF, WebP
/// or AVIF, the formats the storefront serves. Whatever the browser declared does not count.
fn image_format(content: &[u8]) -> Option<(&'static str, &'static str)> {
    if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if content.starts_with(b"GIF87a") || content.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if content.len() >= 12 && content.starts_with(b"RIFF") && &content[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else if content.len() >= 12 && &content[4..8] == b"ftyp" && matches!(&content[8..12], b"avif" | b"avis") {
        Some(("image/avif", "avif"))
    } else {
        None
    }
}

/// A file name as a key segment: lower-case letters, digits, `-` and `_`, at most 100 of them.
fn file_stem(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let mut cleaned = String::with_capacity(stem.len());
    for character in stem.chars().flat_map(char::to_lowercase) {
        let kept = if character.is_ascii_alphanumeric() || character == '_' {
            character
        } else {
            '-'
        };
        if !(kept == '-' && cleaned.ends_with('-')) {
            cleaned.push(kept);
        }
    }
    let cleaned: String = cleaned.trim_matches('-').chars().take(100).collect();
    if cleaned.is_empty() {
        "image".to_owned()
    } else {
        cleaned
    }
}

/// Why an upload was refused, and with which status.
struct UploadRefused(StatusCode, String);

async fn read_upload(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
) -> Result<(UploadedFile, &'static str, &'static str), UploadRefused> {
    let refused = |message: &str| UploadRefused(StatusCode::UNPROCESSABLE_ENTITY, message.to_owned());
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = multipart_boundary(content_type) else {
        return Err(refused("Send the image with the upload form."));
    };
    let Ok(bytes) = axum::body::to_bytes(body, max_bytes + MULTIPART_OVERHEAD_BYTES).await else {
        return Err(UploadRefused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The image is larger than {} MB.", max_bytes / (1024 * 1024)),
        ));
    };
    // Scanning a large body for its boundaries is CPU work; it runs off the request threads.
    let parsed = tokio::task::spawn_blocking(move || multipart_files(&bytes, &boundary))
        .await
        .map_err(|_| refused("The upload could not be read."))?;
    let files = parsed.map_err(|_| refused("The upload could not be read."))?;
    let Some(file) = files.into_iter().find(|file| file.field == "image") else {
        return Err(refused("Choose an image to upload."));
    };
    if file.content.is_empty() {
        return Err(refused("Choose an image to upload."));
    }
    if file.content.len() > max_bytes {
        return Err(UploadRefused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The image is larger than {} MB.", max_bytes / (1024 * 1024)),
        ));
    }
    let Some((image_type, extension)) = image_format(&file.content) else {
        return Err(refused("This is not a JPEG, PNG, GIF, WebP or AVIF image."));
    };
    Ok((file, image_type, extension))
}

pub(super) async fn upload_image(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, &format!("/backoffice/products/{raw_id}"));
    let loaded = match load_or_404(&state, &layout, &raw_id).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let id = loaded.product.id;
    let Some(files) = state.files.as_deref() else {
        return not_found(&state, &layout, "This backend does not store files.".to_owned());
    };
    let (file, image_type, extension) = match read_upload(&headers, body, files.max_upload_bytes).await {
        Ok(upload) => upload,
        Err(UploadRefused(status, message)) => {
            let mut errors = FormErrors::new();
            errors.add("image", message);
            let failed = FailedForm {
                form: "image",
                target: id.to_string(),
                values: BTreeMap::new(),
                errors,
            };
            return refused_page(&state, &layout, status, &loaded, failed).await;
        }
    };
    let key_text = format!("{IMAGES_PREFIX}/{id}/{}.{extension}", file_stem(&file.file_name));
    let key = match FileKey::parse(&key_text) {
        Ok(key) => key,
        Err(error) => return kontor_web::AppError::internal(&error).into_response(),
    };
    let size = file.content.len();
    match files.store.put(&key, file.content.into(), Some(image_type)).await {
        Ok(meta) => {
            tracing::info!(key = %meta.key, size = meta.size, user_id = principal.user.id.0, "product image uploaded");
            announce_change(&state, &principal, &format!("{}:{id}", ProductAbstractAttributes::TYPE)).await;
            flash(&session, "success", format!("The image {} is uploaded.", key.as_str()));
            let detail = json!({"image": {"key": key.as_str(), "size": size, "contentType": image_type}});
            with_audit(Redirect::to(&product_url(id, "images")).into_response(), detail)
        }
        Err(error) => kontor_web::AppError::internal(&error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_files_are_found_by_their_boundary() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"My Photo (1).PNG\"\r\n\
            Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n--not-the-end\r\n--XyZ--\r\n";
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"XyZ\""),
            Some("XyZ".to_owned())
        );
        assert_eq!(multipart_boundary("application/json"), None);
        let files = multipart_files(body, "XyZ").expect("readable");
        assert_eq!(
            files,
            [UploadedFile {
                field: "image".to_owned(),
                file_name: "My Photo (1).PNG".to_owned(),
                content: b"\x89PNG\r\n\x1a\n--not-the-end".to_vec(),
            }]
        );
        assert!(multipart_files(b"--XyZ\r\nbroken", "XyZ").is_err());
        assert_eq!(file_stem("C:\\pictures\\My Photo (1).PNG"), "my-photo-1");
        assert_eq!(file_stem("..."), "image");
        assert_eq!(image_format(b"\x89PNG\r\n\x1a\n...."), Some(("image/png", "png")));
        assert_eq!(image_format(b"<svg onload=alert(1)>"), None);
    }
}
