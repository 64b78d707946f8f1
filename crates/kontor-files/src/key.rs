//! File keys: the one name of a file in every backend, its visibility, and the rules that keep a key a
//! safe path on a disk, in an S3 bucket and in a URL.
//!
//! A key is `public/<path>` or `private/<path>`: the first segment is its [`Visibility`]. Segments are
//! separated by `/`, are 1 to [`MAX_SEGMENT_BYTES`] bytes of ASCII letters, digits, `-`, `_` and `.`, and
//! never start with a dot — that rules out `.` and `..` (no escaping the store's root) and hidden files,
//! and leaves names starting with a dot free for the store's own bookkeeping (the local backend's
//! content-type sidecars). Such keys need no percent-encoding in URLs or S3 requests.

use crate::error::FileError;
use std::fmt;

/// Longest key accepted, in bytes (S3 allows 1024; a file system path must stay well below 4096).
pub const MAX_KEY_BYTES: usize = 512;

/// Longest segment accepted, in bytes: the file-name limit of common file systems.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Who may read a file over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Anyone, with long cache lifetimes (product images): keys under `public/`.
    Public,
    /// Only through a signed, expiring URL or an authorized route (import uploads, invoices): keys under
    /// `private/`.
    Private,
}

impl Visibility {
    /// `public` or `private`: the first segment of the key and the word used in URLs and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    /// Parses `public` or `private`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A validated key such as `public/images/products/001.jpg`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey(String);

impl FileKey {
    /// Validates a whole key (`public/…` or `private/…`).
    pub fn parse(key: &str) -> Result<Self, FileError> {
        let invalid = |reason: &'static str| FileError::InvalidKey {
            key: key.to_owned(),
            reason,
        };
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid("a key has at most 512 bytes"));
        }
        let Some((first, rest)) = key.split_once('/') else {
            return Err(invalid(
                "a key starts with `public/` or `private/` and names a file below it",
            ));
        };
        if Visibility::parse(first).is_none() {
            return Err(invalid("a key starts with `public/` or `private/`"));
        }
        validate_path(rest, PathKind::Key).map_err(invalid)?;
        Ok(Self(key.to_owned()))
    }

    /// The key of `path` (e.g. `images/001.jpg`) under `visibility`'s prefix.
    pub fn new(visibility: Visibility, path: &str) -> Result<Self, FileError> {
        Self::parse(&format!("{}/{path}", visibility.as_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn visibility(&self) -> Visibility {
        if self.0.starts_with("public/") {
            Visibility::Public
        } else {
            Visibility::Private
        }
    }

    /// The key without its visibility segment: `images/001.jpg` of `public/images/001.jpg`.
    pub fn path(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, path)| path)
    }

    /// The last segment: `001.jpg`.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The lower-cased extension of the file name, without the dot (`jpg`), if it has one.
    pub fn extension(&self) -> Option<String> {
        let (_, extension) = self.file_name().rsplit_once('.')?;
        Some(extension.to_ascii_lowercase())
    }

    /// Whether the key lies under `prefix`, which ends at a segment boundary (`public/images/`).
    pub fn is_under(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for FileKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "FileKey({:?})", self.0)
    }
}

impl AsRef<str> for FileKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for FileKey {
    type Err = FileError;

    fn from_str(key: &str) -> Result<Self, FileError> {
        Self::parse(key)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    /// Every segment complete, no trailing slash.
    Key,
    /// A listing prefix: may be empty, may end with `/` or in the middle of a segment.
    Prefix,
}

/// Validates a listing prefix such as `public/images/` or `private/imports/2026-`: the characters and
/// segment rules of keys, but it may be empty and may end anywhere.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), FileError> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(FileError::InvalidKey {
            key: prefix.to_owned(),
            reason: "a prefix has at most 512 bytes",
        });
    }
    validate_path(prefix, PathKind::Prefix).map_err(|reason| FileError::InvalidKey {
        key: prefix.to_owned(),
        reason,
    })
}

fn validate_path(path: &str, kind: PathKind) -> Result<(), &'static str> {
    if kind == PathKind::Key && path.is_empty() {
        return Err("a key names a file below `public/` or `private/`");
    }
    if path.starts_with('/') {
        return Err("a key is relative: it must not start with `/`");
    }
    let segments: Vec<&str> = path.split('/').collect();
    let last_index = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        let is_last = index == last_index;
        if segment.is_empty() {
            // A prefix may end with `/` (its last segment is then empty); nothing else may be empty.
            if kind == PathKind::Prefix && is_last {
                continue;
            }
            return Err("a key has no empty segments (`//` or a trailing `/`)");
        }
        if segment.starts_with('.') {
            return Err("a segment must not start with `.` (no `.`, `..` or hidden files)");
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return Err("a segment has at most 255 bytes");
        }
        if !segment
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        {
            return Err("a key may only contain ASCII letters, digits, `-`, `_`, `.` and `/`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        let key = FileKey::parse("public/images/products/001_black.JPG").expect("valid");
        assert_eq!(key.visibility(), Visibility::Public);
        assert_eq!(key.path(), "images/products/001_black.JPG");
        assert_eq!(key.file_name(), "001_black.JPG");
        assert_eq!(key.extension().as_deref(), Some("jpg"));
        let private = FileKey::new(Visibility::Private, "imports/2026-11-25.csv").expect("valid");
        assert_eq!(private.as_str(), "private/imports/2026-11-25.csv");
        assert_eq!(private.visibility(), Visibility::Private);
        assert_eq!(FileKey::parse("private/README").expect("valid").extension(), None);
    }

    #[test]
    fn rejects_unsafe_keys_naming_them() {
        for key in [
            "",
            "public",
            "public/",
            "images/a.jpg",
            "/public/a.jpg",
            "public//a.jpg",
            "public/a/",
            "public/../private/a.pdf",
            "public/./a.jpg",
            "public/.hidden",
            "public/a b.jpg",
            "public/a%2e.jpg",
            "public/ä.jpg",
            "public/a\\b.jpg",
            "public/a\nb",
            "Public/a.jpg",
        ] {
            let error = FileKey::parse(key).expect_err(key);
            assert!(
                error.to_string().contains(&format!("`{}`", key.escape_debug())),
                "{error} names {key:?}"
            );
        }
        let long = format!("public/{}", "a".repeat(300));
        assert!(FileKey::parse(&long).is_err());
    }

    #[test]
    fn prefixes_may_end_anywhere() {
        for prefix in ["", "public/", "public/images/", "private/imports/2026-", "pub"] {
            validate_prefix(prefix).expect(prefix);
        }
        for prefix in ["/public", "public//", "public/../", "public/.x", "public/a b"] {
            assert!(validate_prefix(prefix).is_err(), "{prefix}");
        }
    }
}
