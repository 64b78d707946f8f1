//! Product images: `POST /backoffice/products/{id}/images?_csrf=` (files.write), a `multipart/form-data`
//! upload whose `image` part is stored under `public/images/products/<id>/` in the file store.
//!
//! The form is read by [`read_form`] (axum's multipart parser, the file store's size limit); only the
//! `image` file is used. The image's format is decided by its first bytes (JPEG, PNG, GIF, WebP or
//! AVIF), never by what the browser declared, since the storefront serves these files to every visitor
//! from its own origin.

use super::{FailedForm, IMAGES_PREFIX, load_or_404, not_found, product_url, refused_page, with_audit};
use crate::acl::Principal;
use crate::state::AdminState;
use crate::ui::multipart::{MultipartRefused, UploadedFile, read_form};
use crate::ui::ws::announce_change;
use crate::ui::{Layout, flash};
use axum::Extension;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kontor_domain::Resource;
use kontor_domain::catalog::ProductAbstractAttributes;
use kontor_files::FileKey;
use kontor_web::html::{CsrfToken, FormErrors, Session};
use serde_json::json;
use std::collections::BTreeMap;

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
    request: Request,
    max_bytes: usize,
) -> Result<(UploadedFile, &'static str, &'static str), UploadRefused> {
    let refused = |message: &str| UploadRefused(StatusCode::UNPROCESSABLE_ENTITY, message.to_owned());
    let mut form = read_form(request, max_bytes).await.map_err(|refusal| match refusal {
        MultipartRefused::NotMultipart => refused("Send the image with the upload form."),
        MultipartRefused::TooLarge => UploadRefused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The image is larger than {} MB.", max_bytes / (1024 * 1024)),
        ),
        MultipartRefused::Unreadable => refused("The upload could not be read."),
    })?;
    // A browser sends the field with an empty file when no file was chosen.
    let Some(file) = form.take_file("image").filter(|file| !file.content.is_empty()) else {
        return Err(refused("Choose an image to upload."));
    };
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
    request: Request,
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
    let (file, image_type, extension) = match read_upload(request, files.max_upload_bytes).await {
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
    fn images_are_named_and_typed_by_their_content() {
        assert_eq!(file_stem("C:\\pictures\\My Photo (1).PNG"), "my-photo-1");
        assert_eq!(file_stem("..."), "image");
        assert_eq!(image_format(b"\x89PNG\r\n\x1a\n...."), Some(("image/png", "png")));
        assert_eq!(image_format(b"<svg onload=alert(1)>"), None);
    }
}
