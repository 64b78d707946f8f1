//! The `FileStore` port: where product images, import uploads and invoices are kept.
//!
//! Backends, chosen once at start-up from a URL by [`open`] (see [`backends`] for the URL forms):
//! a local directory (`<data_dir>/files`, the embedded default), an S3-compatible bucket, or memory
//! (tests of other crates). All of them sit on the `object_store` crate.
//!
//! Invariants every backend keeps (one conformance suite in `tests/it` checks them on local and S3):
//! - Files are named by a [`FileKey`]: `public/…` (served to anyone, with cache headers) or `private/…`
//!   (only through a URL signed by [`UrlSigner`] or an authorized route). Unsafe keys (`..`, absolute
//!   paths, odd characters) are refused with an error naming the key.
//! - Every file has a content type: the one given on write, else the one its extension suggests; it is
//!   returned by every read.
//! - A write replaces the whole file atomically; readers see the old or the new content, never a mix.
//! - Reading or heading a missing file is [`FileError::NotFound`]; deleting one is not an error.
//! - Credentials never appear in errors or logs.

pub mod backends;
mod content_type;
mod error;
mod key;
mod object;
mod signer;
#[cfg(feature = "test-support")]
pub mod testing;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use std::path::Path;
use std::sync::Arc;

pub use content_type::{OCTET_STREAM, guess as guess_content_type, resolve as resolve_content_type};
pub use error::{FileError, SignatureError, redact_url};
pub use key::{FileKey, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, Visibility};
pub use signer::{MIN_SECRET_BYTES, URL_PATH_PREFIX, UrlSigner, url_path};

/// File content as a stream of chunks, for uploads and downloads that should not sit in memory whole.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// What is known about a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub key: FileKey,
    /// Bytes.
    pub size: u64,
    /// As stored (given on write or guessed from the extension), e.g. `image/jpeg`.
    pub content_type: String,
    /// The backend's entity tag, without quotes; changes whenever the content does.
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
}

/// A file read whole.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub meta: FileMeta,
    pub bytes: Bytes,
}

/// A file being read as a stream.
pub struct FileStream {
    pub meta: FileMeta,
    pub body: ByteStream,
}

/// An entry of [`FileStore::list`]. Listings carry no content type: S3 returns none without one request
/// per file; [`FileStore::head`] has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    pub key: FileKey,
    pub size: u64,
    /// When the backend lists it (AWS S3 and the local backend do; some S3-compatible servers do not).
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
}

/// The file storage every role shares. Object safe: held as `Arc<dyn FileStore>`.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Short backend name for logs and metrics: `local`, `s3` or `memory`.
    fn backend_name(&self) -> &'static str;

    /// Stores `bytes` under `key`, replacing any file there. `content_type` is checked; without one the
    /// extension decides. Returns the stored file's metadata.
    async fn put(&self, key: &FileKey, bytes: Bytes, content_type: Option<&str>) -> Result<FileMeta, FileError>;

    /// Like [`put`](Self::put) for content that arrives as a stream: small bodies go up in one request,
    /// larger ones in 5 MiB parts. A failing stream stores nothing and fails with [`FileError::Body`].
    async fn put_stream(
        &self,
        key: &FileKey,
        body: ByteStream,
        content_type: Option<&str>,
    ) -> Result<FileMeta, FileError>;

    /// The whole file and its metadata.
    async fn get(&self, key: &FileKey) -> Result<StoredFile, FileError>;

    /// The file's metadata and its content as a stream (what the HTTP layer serves).
    async fn get_stream(&self, key: &FileKey) -> Result<FileStream, FileError>;

    /// The file's metadata without its content.
    async fn head(&self, key: &FileKey) -> Result<FileMeta, FileError>;

    /// Removes the file; removing a missing file succeeds.
    async fn delete(&self, key: &FileKey) -> Result<(), FileError>;

    /// Every file whose key starts with `prefix` (e.g. `public/images/`, or `private/imports/2026-`),
    /// ordered by key. The prefix follows the key rules but may be empty or end anywhere.
    async fn list(&self, prefix: &str) -> Result<Vec<ListedFile>, FileError>;
}

/// Opens the backend named by `url`, resolving local paths against `data_dir` (see [`backends`]):
/// `""` or `file://` for `<data_dir>/files`, `file:///abs/path`, `file://rel/path`, `s3://bucket[/prefix]?…`,
/// `memory://`.
///
/// A local directory is created if missing. An S3 bucket is listed once, so a wrong endpoint, bucket or
/// credentials fail here rather than on the first upload.
pub async fn open(url: &str, data_dir: &Path) -> Result<Arc<dyn FileStore>, FileError> {
    let backend = backends::parse(url, data_dir, &backends::process_env)?;
    backends::build(backend, url).await
}
