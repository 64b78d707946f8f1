//! Content types: the one a caller gives, checked, or else the one its extension suggests.
//!
//! Every stored file has a content type, so serving never has to guess: what a caller passes is parsed
//! as a media type (this also keeps line breaks out of the `Content-Type` header); without one, the key's
//! extension decides, and [`OCTET_STREAM`] is the fallback for unknown or missing extensions.

use crate::error::FileError;
use crate::key::FileKey;

/// The content type of bytes nothing more is known about.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The content type guessed from `key`'s extension (`public/a.JPG` → `image/jpeg`).
pub fn guess(key: &FileKey) -> String {
    key.extension()
        .and_then(|extension| mime_guess::from_ext(&extension).first())
        .map_or_else(|| OCTET_STREAM.to_owned(), |mime| mime.essence_str().to_owned())
}

/// The content type to store for `key`: `given` when there is one (checked and normalized to lower-case
/// type and subtype, parameters kept), else [`guess`].
pub fn resolve(key: &FileKey, given: Option<&str>) -> Result<String, FileError> {
    let Some(given) = given.map(str::trim).filter(|given| !given.is_empty()) else {
        return Ok(guess(key));
    };
    let invalid = || FileError::InvalidContentType {
        key: key.to_string(),
        content_type: given.to_owned(),
    };
    // `mime` accepts some bytes a header value cannot carry; only visible ASCII and spaces pass.
    if !given.bytes().all(|byte| byte == b' ' || byte.is_ascii_graphic()) || given.len() > 255 {
        return Err(invalid());
    }
    let parsed: mime::Mime = given.parse().map_err(|_| invalid())?;
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str) -> FileKey {
        FileKey::parse(key).expect("valid key")
    }

    #[test]
    fn guesses_from_the_extension() {
        assert_eq!(guess(&key("public/images/a.JPG")), "image/jpeg");
        assert_eq!(guess(&key("public/images/a.webp")), "image/webp");
        assert_eq!(guess(&key("private/imports/products.csv")), "text/csv");
        assert_eq!(guess(&key("private/invoices/1.pdf")), "application/pdf");
        assert_eq!(guess(&key("private/blob")), OCTET_STREAM);
        assert_eq!(guess(&key("private/blob.unknownext")), OCTET_STREAM);
    }

    #[test]
    fn given_types_win_and_are_checked() {
        let file = key("private/imports/upload");
        assert_eq!(
            resolve(&file, Some("text/csv; charset=utf-8")).expect("valid"),
            "text/csv; charset=utf-8"
        );
        assert_eq!(resolve(&file, Some("Image/PNG")).expect("valid"), "image/png");
        assert_eq!(resolve(&file, Some("  ")).expect("blank means none"), OCTET_STREAM);
        for bad in ["text", "text/csv\r\nX-Evil: 1", "/", "ä/b"] {
            let error = resolve(&file, Some(bad)).expect_err(bad);
            assert!(error.to_string().contains("private/imports/upload"), "{error}");
        }
    }
}
