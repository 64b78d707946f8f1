//! `open`: the URL forms and the local default under the data dir.

use bytes::Bytes;
use kontor_files::FileKey;

#[tokio::test]
async fn default_is_a_directory_under_the_data_dir() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let store = kontor_files::open("", data_dir.path()).await.expect("open the default");
    assert_eq!(store.backend_name(), "local");
    let key = FileKey::parse("public/images/a.png").expect("valid key");
    store.put(&key, Bytes::from_static(b"png"), None).await.expect("put");
    let on_disk = data_dir.path().join("files/public/images/a.png");
    assert_eq!(std::fs::read(&on_disk).expect("the file is on disk"), b"png");

    // A file dropped into the directory by hand is served with the type its extension suggests.
    std::fs::write(data_dir.path().join("files/public/images/b.jpg"), b"jpeg").expect("write by hand");
    let by_hand = FileKey::parse("public/images/b.jpg").expect("valid key");
    assert_eq!(store.head(&by_hand).await.expect("head").content_type, "image/jpeg");

    let relative = kontor_files::open("file://media", data_dir.path())
        .await
        .expect("relative");
    relative.put(&key, Bytes::from_static(b"x"), None).await.expect("put");
    assert!(data_dir.path().join("media/public/images/a.png").exists());
}

#[tokio::test]
async fn memory_store_keeps_content_types() {
    let store = kontor_files::open("memory://", std::path::Path::new("unused"))
        .await
        .expect("open memory");
    assert_eq!(store.backend_name(), "memory");
    let key = FileKey::parse("private/x").expect("valid key");
    store
        .put(&key, Bytes::from_static(b"x"), Some("text/plain"))
        .await
        .expect("put");
    assert_eq!(store.head(&key).await.expect("head").content_type, "text/plain");
}

#[tokio::test]
async fn unreachable_s3_fails_on_open_without_leaking_the_secret() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let url = "s3://bucket?endpoint=http://127.0.0.1:1&allow_http=true&access_key_id=a&secret_access_key=topsecret";
    let error = kontor_files::open(url, std::path::Path::new("var"))
        .await
        .err()
        .expect("an unreachable endpoint fails");
    let message = error.to_string();
    assert!(!message.contains("topsecret"), "{message}");
    assert!(message.contains("s3"), "{message}");
}
