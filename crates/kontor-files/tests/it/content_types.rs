//! Content types: given ones are kept, missing ones come from the extension, bad ones are refused.

use bytes::Bytes;
use kontor_files::testing::TestFiles;
use kontor_files::{FileError, FileKey, OCTET_STREAM, files_test_suite};
use std::sync::Arc;

fn key(key: &str) -> FileKey {
    FileKey::parse(key).expect("valid key")
}

async fn extension_decides_without_a_given_type(files: Arc<TestFiles>) {
    for (name, expected) in [
        ("public/images/a.jpg", "image/jpeg"),
        ("public/images/b.JPEG", "image/jpeg"),
        ("public/images/c.png", "image/png"),
        ("public/images/d.webp", "image/webp"),
        ("private/imports/e.csv", "text/csv"),
        ("private/invoices/f.pdf", "application/pdf"),
        ("private/blobs/no-extension", OCTET_STREAM),
    ] {
        let written = files
            .store
            .put(&key(name), Bytes::from_static(b"x"), None)
            .await
            .expect("put");
        assert_eq!(written.content_type, expected, "{name}");
        assert_eq!(files.store.head(&key(name)).await.expect("head").content_type, expected);
    }
}

async fn given_type_is_stored_and_returned(files: Arc<TestFiles>) {
    // No extension, so only the store can know the type.
    let upload = key("private/imports/upload-17");
    files
        .store
        .put(
            &upload,
            Bytes::from_static(b"sku,name\n"),
            Some("text/csv; charset=utf-8"),
        )
        .await
        .expect("put");
    let read = files.store.get(&upload).await.expect("get");
    assert_eq!(read.meta.content_type, "text/csv; charset=utf-8");
    let streamed = files.store.get_stream(&upload).await.expect("get_stream");
    assert_eq!(streamed.meta.content_type, "text/csv; charset=utf-8");
    let other_node = files.reopen().await;
    assert_eq!(
        other_node.head(&upload).await.expect("head").content_type,
        "text/csv; charset=utf-8"
    );

    // The given type wins over the extension.
    let odd = key("public/images/really-a.png");
    files
        .store
        .put(&odd, Bytes::from_static(b"x"), Some("image/avif"))
        .await
        .expect("put");
    assert_eq!(files.store.head(&odd).await.expect("head").content_type, "image/avif");
}

async fn invalid_types_are_refused_before_writing(files: Arc<TestFiles>) {
    let target = key("public/images/x.jpg");
    for bad in ["jpeg", "image/jpeg\r\nSet-Cookie: a=b"] {
        let error = files
            .store
            .put(&target, Bytes::from_static(b"x"), Some(bad))
            .await
            .expect_err(bad);
        assert!(matches!(error, FileError::InvalidContentType { .. }), "{error}");
        assert!(error.to_string().contains("public/images/x.jpg"), "{error}");
    }
    assert!(
        files
            .store
            .head(&target)
            .await
            .expect_err("nothing written")
            .is_not_found()
    );
}

files_test_suite!(
    extension_decides_without_a_given_type,
    given_type_is_stored_and_returned,
    invalid_types_are_refused_before_writing,
);
