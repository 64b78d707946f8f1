//! Put, get, head, delete and list, overwrites, and missing files.

use bytes::Bytes;
use kontor_files::testing::TestFiles;
use kontor_files::{FileError, FileKey, files_test_suite};
use std::sync::Arc;

fn key(key: &str) -> FileKey {
    FileKey::parse(key).expect("valid key")
}

async fn put_then_get_head_and_delete(files: Arc<TestFiles>) {
    let store = &files.store;
    let invoice = key("private/invoices/2026/DE--1.pdf");
    let content = Bytes::from_static(b"%PDF-1.7 an invoice");
    let written = store
        .put(&invoice, content.clone(), Some("application/pdf"))
        .await
        .expect("put");
    assert_eq!(written.key, invoice);
    assert_eq!(written.size, content.len() as u64);
    assert_eq!(written.content_type, "application/pdf");
    assert!(
        written
            .etag
            .as_deref()
            .is_some_and(|etag| !etag.is_empty() && !etag.contains('"'))
    );

    let read = store.get(&invoice).await.expect("get");
    assert_eq!(read.bytes, content);
    assert_eq!(read.meta, written, "get returns what put reported");
    assert_eq!(store.head(&invoice).await.expect("head"), written);

    store.delete(&invoice).await.expect("delete");
    assert!(matches!(store.get(&invoice).await, Err(FileError::NotFound { .. })));
    assert!(matches!(store.head(&invoice).await, Err(FileError::NotFound { .. })));
    store.delete(&invoice).await.expect("deleting a missing file succeeds");
}

async fn missing_files_are_not_found_naming_the_key(files: Arc<TestFiles>) {
    let missing = key("public/images/nothing-here.jpg");
    for error in [
        files.store.get(&missing).await.expect_err("get"),
        files.store.head(&missing).await.expect_err("head"),
        files.store.get_stream(&missing).await.err().expect("get_stream"),
    ] {
        assert!(error.is_not_found(), "{error}");
        assert!(error.to_string().contains("public/images/nothing-here.jpg"), "{error}");
    }
}

async fn overwrite_replaces_content_type_and_etag(files: Arc<TestFiles>) {
    let store = &files.store;
    let image = key("public/images/products/001.png");
    let first = store
        .put(&image, Bytes::from_static(b"first version"), Some("image/png"))
        .await
        .expect("first put");
    let second = store
        .put(
            &image,
            Bytes::from_static(b"second, longer version"),
            Some("image/webp"),
        )
        .await
        .expect("second put");
    assert_ne!(first.etag, second.etag, "the etag changes with the content");
    assert_eq!(second.size, 22);
    let read = store.get(&image).await.expect("get");
    assert_eq!(read.bytes, Bytes::from_static(b"second, longer version"));
    assert_eq!(read.meta.content_type, "image/webp");
    assert_eq!(store.list("public/images/").await.expect("list").len(), 1);
}

async fn empty_files_are_files(files: Arc<TestFiles>) {
    let empty = key("private/exports/empty.csv");
    let meta = files.store.put(&empty, Bytes::new(), None).await.expect("put");
    assert_eq!(meta.size, 0);
    assert_eq!(meta.content_type, "text/csv");
    assert!(files.store.get(&empty).await.expect("get").bytes.is_empty());
}

async fn list_by_prefix_in_key_order(files: Arc<TestFiles>) {
    let store = &files.store;
    for name in [
        "public/images/b.jpg",
        "public/images/a.jpg",
        "public/images/sub/c.jpg",
        "public/imagesque.jpg",
        "private/imports/2026-01-01.csv",
        "private/imports/2026-02-01.csv",
        "private/imports/2025-12-01.csv",
    ] {
        store
            .put(&key(name), Bytes::from(name.as_bytes().to_vec()), None)
            .await
            .expect("put");
    }
    let keys = |listed: Vec<kontor_files::ListedFile>| -> Vec<String> {
        listed.into_iter().map(|file| file.key.to_string()).collect()
    };
    assert_eq!(
        keys(store.list("public/images/").await.expect("list images")),
        ["public/images/a.jpg", "public/images/b.jpg", "public/images/sub/c.jpg"]
    );
    assert_eq!(
        keys(
            store
                .list("private/imports/2026-")
                .await
                .expect("list by a partial segment")
        ),
        ["private/imports/2026-01-01.csv", "private/imports/2026-02-01.csv"]
    );
    assert_eq!(keys(store.list("public/").await.expect("list public")).len(), 4);
    assert_eq!(keys(store.list("").await.expect("list all")).len(), 7);
    assert!(store.list("private/nothing/").await.expect("list empty").is_empty());

    let listed = store.list("public/images/a").await.expect("list one");
    assert_eq!(listed.len(), 1);
    let head = store.head(&key("public/images/a.jpg")).await.expect("head");
    assert_eq!(listed[0].size, head.size);
    // Not every S3-compatible server lists ETags (s3s-fs does not); when one is listed it is the same.
    if let Some(listed_etag) = &listed[0].etag {
        assert_eq!(Some(listed_etag), head.etag.as_ref());
    }

    store.delete(&key("public/images/sub/c.jpg")).await.expect("delete");
    assert_eq!(keys(store.list("public/images/").await.expect("list")).len(), 2);
}

async fn another_handle_sees_the_same_files(files: Arc<TestFiles>) {
    let logo = key("public/images/logo.gif");
    files
        .store
        .put(&logo, Bytes::from_static(b"GIF89a"), None)
        .await
        .expect("put");
    let other_node = files.reopen().await;
    let read = other_node.get(&logo).await.expect("get through another handle");
    assert_eq!(read.bytes, Bytes::from_static(b"GIF89a"));
    assert_eq!(read.meta.content_type, "image/gif");
}

files_test_suite!(
    put_then_get_head_and_delete,
    missing_files_are_not_found_naming_the_key,
    overwrite_replaces_content_type_and_etag,
    empty_files_are_files,
    list_by_prefix_in_key_order,
    another_handle_sees_the_same_files,
);
