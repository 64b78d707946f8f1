//! The one [`FileStore`] implementation, on an `object_store` backend (local directory, S3, memory).
//!
//! The backends differ in one respect only: where the content type lives. S3 and memory keep it as an
//! object attribute (S3's `Content-Type`); a local directory has nowhere to put it, so the local backend
//! writes a sidecar file `.content-types/<key>` holding just the type (keys never start with a dot, so a
//! sidecar can never collide with a file). The sidecar is written before the file, so a crash between
//! the two leaves at worst a stale sidecar that the next write replaces; a file without a sidecar (copied
//! into the directory by hand) gets the type its extension suggests.

use crate::content_type;
use crate::error::FileError;
use crate::key::{self, FileKey};
use crate::{ByteStream, FileMeta, FileStore, FileStream, ListedFile, StoredFile};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use std::sync::Arc;

/// Part size of multipart uploads (S3's minimum is 5 MiB for every part but the last).
const PART_BYTES: usize = 5 * 1024 * 1024;

/// Streams up to this size are sent in one request; larger ones become multipart uploads.
const SINGLE_PUT_MAX_BYTES: usize = PART_BYTES;

/// Parts uploaded at the same time by one streaming put.
const PARTS_IN_FLIGHT: usize = 2;

/// Where the local backend keeps content types.
const SIDECAR_ROOT: &str = ".content-types";

/// How a backend keeps content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentTypes {
    /// As the object's `Content-Type` attribute (S3, memory).
    Attribute,
    /// In a sidecar file under [`SIDECAR_ROOT`] (local directory).
    Sidecar,
}

pub(crate) struct ObjectFileStore {
    store: Arc<dyn ObjectStore>,
    backend: &'static str,
    content_types: ContentTypes,
}

impl ObjectFileStore {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, backend: &'static str, content_types: ContentTypes) -> Self {
        Self {
            store,
            backend,
            content_types,
        }
    }

    fn storage_error(&self, operation: &'static str, key: &str, source: object_store::Error) -> FileError {
        match source {
            object_store::Error::NotFound { .. } => FileError::NotFound { key: key.to_owned() },
            source => FileError::Storage {
                backend: self.backend,
                operation,
                key: key.to_owned(),
                source: Box::new(source),
            },
        }
    }

    fn object_path(&self, key: &FileKey) -> Result<Path, FileError> {
        Path::parse(key.as_str()).map_err(|source| self.storage_error("address", key.as_str(), source.into()))
    }

    fn sidecar_path(&self, key: &FileKey) -> Result<Path, FileError> {
        Path::parse(format!("{SIDECAR_ROOT}/{key}"))
            .map_err(|source| self.storage_error("address", key.as_str(), source.into()))
    }

    fn attributes_for(&self, content_type: &str) -> Attributes {
        let mut attributes = Attributes::new();
        if self.content_types == ContentTypes::Attribute {
            attributes.insert(Attribute::ContentType, AttributeValue::from(content_type.to_owned()));
        }
        attributes
    }

    async fn write_sidecar(&self, key: &FileKey, content_type: &str) -> Result<(), FileError> {
        if self.content_types != ContentTypes::Sidecar {
            return Ok(());
        }
        let path = self.sidecar_path(key)?;
        let payload = PutPayload::from(content_type.as_bytes().to_vec());
        self.store
            .put(&path, payload)
            .await
            .map_err(|source| self.storage_error("write the content type of", key.as_str(), source))?;
        Ok(())
    }

    /// The stored content type: the attribute or sidecar, else the guess from the extension.
    async fn content_type_of(&self, key: &FileKey, attributes: &Attributes) -> Result<String, FileError> {
        let stored = match self.content_types {
            ContentTypes::Attribute => attributes
                .get(&Attribute::ContentType)
                .map(|value| value.as_ref().to_owned()),
            ContentTypes::Sidecar => self.read_sidecar(key).await?,
        };
        Ok(stored.unwrap_or_else(|| content_type::guess(key)))
    }

    async fn read_sidecar(&self, key: &FileKey) -> Result<Option<String>, FileError> {
        let path = self.sidecar_path(key)?;
        let bytes = match self.store.get(&path).await {
            Ok(result) => result.bytes().await,
            Err(error) => Err(error),
        };
        match bytes {
            Ok(bytes) => Ok(String::from_utf8(bytes.to_vec())
                .ok()
                .map(|text| text.trim().to_owned())
                .filter(|text| !text.is_empty())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(self.storage_error("read the content type of", key.as_str(), source)),
        }
    }

    async fn meta_of(
        &self,
        key: &FileKey,
        meta: &object_store::ObjectMeta,
        attributes: &Attributes,
    ) -> Result<FileMeta, FileError> {
        Ok(FileMeta {
            key: key.clone(),
            size: meta.size,
            content_type: self.content_type_of(key, attributes).await?,
            etag: meta.e_tag.as_deref().map(normalize_etag),
            last_modified: meta.last_modified,
        })
    }

    async fn put_payload(&self, key: &FileKey, payload: PutPayload, content_type: &str) -> Result<(), FileError> {
        let path = self.object_path(key)?;
        self.write_sidecar(key, content_type).await?;
        let options = PutOptions {
            attributes: self.attributes_for(content_type),
            ..PutOptions::default()
        };
        self.store
            .put_opts(&path, payload, options)
            .await
            .map_err(|source| self.storage_error("write", key.as_str(), source))?;
        Ok(())
    }

    /// Uploads `first` and the rest of `body` in parts; aborts the upload when the body fails.
    async fn put_multipart(
        &self,
        key: &FileKey,
        first: Vec<Bytes>,
        mut body: ByteStream,
        content_type: &str,
    ) -> Result<(), FileError> {
        let path = self.object_path(key)?;
        self.write_sidecar(key, content_type).await?;
        let options = PutMultipartOptions {
            attributes: self.attributes_for(content_type),
            ..PutMultipartOptions::default()
        };
        let upload = self
            .store
            .put_multipart_opts(&path, options)
            .await
            .map_err(|source| self.storage_error("start the upload of", key.as_str(), source))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        for chunk in first {
            writer.put(chunk);
        }
        loop {
            let next = body.next().await;
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(source)) => {
                    // The upload is abandoned; an abort that fails leaves parts the bucket's lifecycle
                    // rules remove, so its error is only logged.
                    if let Err(abort_error) = writer.abort().await {
                        tracing::warn!(key = %key, error = %abort_error, "aborting a failed upload failed");
                    }
                    return Err(FileError::Body {
                        key: key.to_string(),
                        source,
                    });
                }
            };
            if let Err(source) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(self.storage_error("upload a part of", key.as_str(), source));
            }
            writer.put(chunk);
        }
        writer
            .finish()
            .await
            .map_err(|source| self.storage_error("complete the upload of", key.as_str(), source))?;
        Ok(())
    }
}

/// ETags without quotes or the weak marker: S3 sends `"abc"`, the local backend `abc`.
fn normalize_etag(etag: &str) -> String {
    etag.trim_start_matches("W/").trim_matches('"').to_owned()
}

fn io_error(error: object_store::Error) -> std::io::Error {
    std::io::Error::other(error)
}

#[async_trait]
impl FileStore for ObjectFileStore {
    fn backend_name(&self) -> &'static str {
        self.backend
    }

    async fn put(&self, key: &FileKey, bytes: Bytes, content_type: Option<&str>) -> Result<FileMeta, FileError> {
        let content_type = content_type::resolve(key, content_type)?;
        self.put_payload(key, PutPayload::from(bytes), &content_type).await?;
        self.head(key).await
    }

    async fn put_stream(
        &self,
        key: &FileKey,
        mut body: ByteStream,
        content_type: Option<&str>,
    ) -> Result<FileMeta, FileError> {
        let content_type = content_type::resolve(key, content_type)?;
        // Small bodies (most uploads) are one request; only a body that outgrows the buffer is uploaded
        // in parts, so memory stays bounded by the buffer plus the parts in flight.
        let mut chunks = Vec::new();
        let mut buffered_bytes = 0_usize;
        loop {
            match body.next().await {
                None => {
                    let payload = PutPayload::from_iter(chunks);
                    self.put_payload(key, payload, &content_type).await?;
                    return self.head(key).await;
                }
                Some(Err(source)) => {
                    return Err(FileError::Body {
                        key: key.to_string(),
                        source,
                    });
                }
                Some(Ok(chunk)) => {
                    buffered_bytes += chunk.len();
                    chunks.push(chunk);
                    if buffered_bytes > SINGLE_PUT_MAX_BYTES {
                        break;
                    }
                }
            }
        }
        self.put_multipart(key, chunks, body, &content_type).await?;
        self.head(key).await
    }

    async fn get(&self, key: &FileKey) -> Result<StoredFile, FileError> {
        let FileStream { meta, body } = self.get_stream(key).await?;
        let bytes: Vec<Bytes> = body.try_collect().await.map_err(|source| FileError::Body {
            key: key.to_string(),
            source,
        })?;
        Ok(StoredFile {
            meta,
            bytes: Bytes::from(bytes.concat()),
        })
    }

    async fn get_stream(&self, key: &FileKey) -> Result<FileStream, FileError> {
        let path = self.object_path(key)?;
        let result = self
            .store
            .get_opts(&path, GetOptions::default())
            .await
            .map_err(|source| self.storage_error("read", key.as_str(), source))?;
        let meta = self.meta_of(key, &result.meta, &result.attributes).await?;
        let body = result.into_stream().map_err(io_error).boxed();
        Ok(FileStream { meta, body })
    }

    async fn head(&self, key: &FileKey) -> Result<FileMeta, FileError> {
        let path = self.object_path(key)?;
        // A HEAD through `get_opts` (not `head`) also returns the attributes, i.e. S3's Content-Type.
        let result = self
            .store
            .get_opts(&path, GetOptions::default().with_head(true))
            .await
            .map_err(|source| self.storage_error("read the metadata of", key.as_str(), source))?;
        self.meta_of(key, &result.meta, &result.attributes).await
    }

    async fn delete(&self, key: &FileKey) -> Result<(), FileError> {
        let path = self.object_path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => return Err(self.storage_error("delete", key.as_str(), source)),
        }
        if self.content_types == ContentTypes::Sidecar {
            let sidecar = self.sidecar_path(key)?;
            match self.store.delete(&sidecar).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => return Err(self.storage_error("delete the content type of", key.as_str(), source)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedFile>, FileError> {
        key::validate_prefix(prefix)?;
        // object_store lists by whole segments: list the directory the prefix is in, then keep the keys
        // that really start with it (`private/imports/2026-` lists `private/imports/`).
        let directory = prefix.rsplit_once('/').map(|(directory, _)| directory);
        let directory_path = match directory {
            Some(directory) => {
                Some(Path::parse(directory).map_err(|source| self.storage_error("list", prefix, source.into()))?)
            }
            None => None,
        };
        let objects: Vec<object_store::ObjectMeta> = self
            .store
            .list(directory_path.as_ref())
            .try_collect()
            .await
            .map_err(|source| self.storage_error("list", prefix, source))?;
        let mut files: Vec<ListedFile> = objects
            .into_iter()
            .filter(|object| object.location.as_ref().starts_with(prefix))
            // Sidecars and anything else that is not a key (a file copied in by hand) are not listed.
            .filter_map(|object| {
                let key = FileKey::parse(object.location.as_ref()).ok()?;
                Some(ListedFile {
                    key,
                    size: object.size,
                    etag: object.e_tag.as_deref().map(normalize_etag),
                    last_modified: object.last_modified,
                })
            })
            .collect();
        files.sort_by(|left, right| left.key.cmp(&right.key));
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_etag;

    #[test]
    fn etags_lose_quotes_and_weakness() {
        assert_eq!(
            normalize_etag("\"d41d8cd98f00b204e9800998ecf8427e\""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("1a-2b-3c"), "1a-2b-3c");
    }
}
