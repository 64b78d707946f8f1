//! The Back Office's upload forms (`multipart/form-data`), read with axum's [`Multipart`] into their
//! text fields and files, under a byte limit the caller knows only at run time.
//!
//! The router's [`DefaultBodyLimit`] (`MAX_BODY_BYTES`) is far below an upload's limit, and the image
//! limit is configured per backend, so the form sets its own limit on its request instead of on the
//! route: the file's limit plus room for the framing and the small text fields beside it. The body is
//! capped as a whole because the parser buffers a part's headers until they end; the files are capped
//! as they stream in, so that an oversized one is refused before it is held in full.

use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request};
use axum::http::StatusCode;
use std::collections::BTreeMap;

/// Multipart framing and the text fields beside the file: headers and boundaries are far below this.
const OVERHEAD_BYTES: usize = 64 * 1024;

/// A file of an upload form: a part with a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadedFile {
    /// The form field it was sent as (`image`).
    pub field: String,
    /// As the browser sent it, possibly with a client path or empty (no file chosen).
    pub file_name: String,
    pub content: Vec<u8>,
}

/// An upload form as it was sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MultipartForm {
    /// Text fields by name; of a name sent twice the last counts, as in a URL-encoded form.
    pub fields: BTreeMap<String, String>,
    /// Files in the order they were sent.
    pub files: Vec<UploadedFile>,
}

impl MultipartForm {
    /// Takes the first file sent as `field`.
    pub fn take_file(&mut self, field: &str) -> Option<UploadedFile> {
        let index = self.files.iter().position(|file| file.field == field)?;
        Some(self.files.remove(index))
    }

    /// The text field `name`, trimmed; empty when it was not sent.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |value| value.trim())
    }
}

/// Why an upload form could not be read; the pages put their own words to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultipartRefused {
    /// Not a `multipart/form-data` request with a boundary: not sent by the upload form.
    NotMultipart,
    /// A file above the limit, or a body above the limit and its overhead (413).
    TooLarge,
    /// Malformed, or cut off before its end.
    Unreadable,
}

impl MultipartRefused {
    fn of(error: &MultipartError) -> Self {
        // axum reports a body over its limit as 413, whichever part it was in.
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge
        } else {
            Self::Unreadable
        }
    }
}

/// Reads every field of the upload form in `request`, accepting files of at most `max_file_bytes`.
pub(crate) async fn read_form(mut request: Request, max_file_bytes: usize) -> Result<MultipartForm, MultipartRefused> {
    DefaultBodyLimit::max(max_file_bytes.saturating_add(OVERHEAD_BYTES)).apply(&mut request);
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| MultipartRefused::NotMultipart)?;
    let mut form = MultipartForm::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|error| MultipartRefused::of(&error))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let mut content = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|error| MultipartRefused::of(&error))? {
            // Text fields are bounded by the body's limit; a file by its own.
            if file_name.is_some() && content.len() + chunk.len() > max_file_bytes {
                return Err(MultipartRefused::TooLarge);
            }
            content.extend_from_slice(&chunk);
        }
        match file_name {
            Some(file_name) => form.files.push(UploadedFile {
                field: name,
                file_name,
                content,
            }),
            None => {
                form.fields.insert(name, String::from_utf8_lossy(&content).into_owned());
            }
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header::CONTENT_TYPE;

    fn request(content_type: &str, body: impl Into<Body>) -> Request {
        Request::post("/upload")
            .header(CONTENT_TYPE, content_type)
            .body(body.into())
            .expect("request")
    }

    fn form_request(body: &'static [u8]) -> Request {
        request("multipart/form-data; boundary=\"XyZ\"", body)
    }

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"data_entity\"\r\n\r\n tax \r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"C:\\pictures\\My Photo (1).PNG\"\r\n\
        Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n--not-the-end\r\n--XyZ--\r\n";

    #[tokio::test]
    async fn fields_and_files_are_read() {
        let mut form = read_form(form_request(FORM), 1024).await.expect("readable");
        assert_eq!(form.field("data_entity"), "tax");
        assert_eq!(form.field("missing"), "");
        assert_eq!(form.take_file("file"), None);
        assert_eq!(
            form.take_file("image"),
            Some(UploadedFile {
                field: "image".to_owned(),
                file_name: "C:\\pictures\\My Photo (1).PNG".to_owned(),
                content: b"\x89PNG\r\n\x1a\n--not-the-end".to_vec(),
            })
        );
    }

    #[tokio::test]
    async fn the_routers_smaller_body_limit_does_not_apply() {
        let mut small = form_request(FORM);
        DefaultBodyLimit::max(16).apply(&mut small);
        assert!(read_form(small, 1024).await.is_ok());
    }

    #[tokio::test]
    async fn files_and_bodies_above_the_limit_are_too_large() {
        // The PNG part is 21 bytes.
        assert_eq!(read_form(form_request(FORM), 20).await, Err(MultipartRefused::TooLarge));
        assert!(read_form(form_request(FORM), 21).await.is_ok());
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n".to_vec();
        body.resize(body.len() + OVERHEAD_BYTES + 2, b'x');
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        assert_eq!(
            read_form(request("multipart/form-data; boundary=XyZ", body), 1).await,
            Err(MultipartRefused::TooLarge)
        );
    }

    #[tokio::test]
    async fn other_bodies_are_refused() {
        assert_eq!(
            read_form(request("application/x-www-form-urlencoded", "a=b"), 1024).await,
            Err(MultipartRefused::NotMultipart)
        );
        assert_eq!(
            read_form(form_request(b"--XyZ\r\nbroken"), 1024).await,
            Err(MultipartRefused::Unreadable)
        );
    }
}
