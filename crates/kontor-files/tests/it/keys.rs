//! Invalid keys and prefixes are refused by every backend, with an error naming them, and write nothing.

use kontor_files::testing::TestFiles;
use kontor_files::{FileError, FileKey, Visibility, files_test_suite};
use std::sync::Arc;

const UNSAFE_KEYS: [&str; 10] = [
    "../etc/passwd",
    "public/../private/invoices/1.pdf",
    "/public/a.jpg",
    "public//a.jpg",
    "public/.content-types/public/a.jpg",
    "public/a b.jpg",
    "public/a?.jpg",
    "images/a.jpg",
    "public/",
    "private/über.pdf",
];

#[test]
fn unsafe_keys_are_refused_naming_the_key() {
    for key in UNSAFE_KEYS {
        let error = FileKey::parse(key).expect_err(key);
        assert!(matches!(error, FileError::InvalidKey { .. }), "{error}");
        assert!(error.to_string().contains(&format!("`{key}`")), "{error} names {key}");
    }
    assert!(FileKey::new(Visibility::Public, "../private/a.pdf").is_err());
    assert!(FileKey::new(Visibility::Private, "/abs").is_err());
}

async fn invalid_list_prefixes_are_refused(files: Arc<TestFiles>) {
    for prefix in ["../", "public/../private/", "/public", "public/.content-types/"] {
        let error = files.store.list(prefix).await.expect_err(prefix);
        assert!(matches!(error, FileError::InvalidKey { .. }), "{error}");
        assert!(error.to_string().contains(prefix), "{error}");
    }
}

async fn sidecars_and_foreign_files_are_not_listed(files: Arc<TestFiles>) {
    let key = FileKey::parse("private/imports/upload").expect("valid key");
    files
        .store
        .put(&key, bytes::Bytes::from_static(b"a,b"), Some("text/csv"))
        .await
        .expect("put");
    let everything = files.store.list("").await.expect("list");
    let keys: Vec<&str> = everything.iter().map(|file| file.key.as_str()).collect();
    assert_eq!(keys, ["private/imports/upload"]);
}

files_test_suite!(
    invalid_list_prefixes_are_refused,
    sidecars_and_foreign_files_are_not_listed
);
