//! Large files: streamed up in parts and streamed back, byte for byte; a failing upload stores nothing.

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use kontor_files::testing::{TestBackend, TestFiles};
use kontor_files::{ByteStream, FileError, FileKey, files_test_suite};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const MIB: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// `len` bytes that differ per position, so a lost, doubled or reordered chunk changes the hash.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|index| (index % 251) as u8 ^ (index / 251 % 256) as u8)
        .collect()
}

fn chunked(content: &[u8]) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = content
        .chunks(CHUNK)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    stream::iter(chunks).boxed()
}

async fn eight_mib_stream_round_trips(files: Arc<TestFiles>) {
    let archive = FileKey::parse("private/exports/catalog.zip").expect("valid key");
    let content = pattern(8 * MIB + 123);
    let written = files
        .store
        .put_stream(&archive, chunked(&content), None)
        .await
        .expect("put_stream");
    assert_eq!(written.size, content.len() as u64);
    assert_eq!(written.content_type, "application/zip");
    if files.backend == TestBackend::S3 {
        // S3 tags a multipart object `<hash>-<parts>`: 8 MiB went up as a 5 MiB and a 3 MiB part.
        let etag = written.etag.as_deref().unwrap_or_default();
        assert!(etag.ends_with("-2"), "multipart etag, got {etag}");
    }

    let streamed = files.store.get_stream(&archive).await.expect("get_stream");
    assert_eq!(streamed.meta.size, content.len() as u64);
    let mut hasher = Sha256::new();
    let mut received = 0_usize;
    let mut body = streamed.body;
    while let Some(chunk) = body.try_next().await.expect("chunk") {
        received += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(received, content.len());
    assert_eq!(hasher.finalize().as_slice(), Sha256::digest(&content).as_slice());

    let whole = files.store.get(&archive).await.expect("get");
    assert!(whole.bytes == content, "get returns the same bytes");
}

async fn small_stream_is_one_put(files: Arc<TestFiles>) {
    let note = FileKey::parse("private/notes/a.txt").expect("valid key");
    let parts: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(Bytes::from_static(b"hello ")), Ok(Bytes::from_static(b"world"))];
    let written = files
        .store
        .put_stream(&note, stream::iter(parts).boxed(), Some("text/plain"))
        .await
        .expect("put_stream");
    assert_eq!(written.size, 11);
    assert_eq!(
        files.store.get(&note).await.expect("get").bytes,
        Bytes::from_static(b"hello world")
    );
}

async fn failing_stream_stores_nothing(files: Arc<TestFiles>) {
    for (name, good_bytes) in [
        ("private/uploads/small.bin", 1000),
        ("private/uploads/large.bin", 7 * MIB),
    ] {
        let key = FileKey::parse(name).expect("valid key");
        let good = stream::iter(
            pattern(good_bytes)
                .chunks(CHUNK)
                .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
                .collect::<Vec<_>>(),
        );
        let broken = stream::once(async { Err(std::io::Error::other("client went away")) });
        let error = files
            .store
            .put_stream(&key, good.chain(broken).boxed(), None)
            .await
            .expect_err("a failing body fails the put");
        assert!(matches!(error, FileError::Body { .. }), "{error}");
        assert!(error.to_string().contains(name), "{error}");
        assert!(
            files.store.head(&key).await.expect_err("nothing stored").is_not_found(),
            "{name}"
        );
    }
}

files_test_suite!(
    eight_mib_stream_round_trips,
    small_stream_is_one_put,
    failing_stream_stores_nothing,
);
