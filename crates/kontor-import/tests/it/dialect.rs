//! Spryker-tolerant CSV dialect: BOM, quoted header, CRLF, fields spanning lines, `""` escapes, text
//! after a closing quote, no final newline.

use crate::fixtures::*;
use kontor_db::SqlDatabase;
use kontor_db::entity::{glossary_key, glossary_translation};
use kontor_testkit::repo_test_suite;
use sea_orm::EntityTrait;
use std::collections::BTreeMap;

async fn tolerant_dialect_reads_every_quirk(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let importer = importer(&db);
    let stores = write(dir.path(), "store.csv", "name\nDE\n");
    importer.run_file("store", &stores).await.expect("store");
    let locales = write(dir.path(), "locale_store.csv", "locale_name,store_name\nen_US,DE\n");
    importer.run_file("locale-store", &locales).await.expect("locales");

    let mut content = b"\xEF\xBB\xBF\"key\",\"translation\",\"locale\"\r\n".to_vec();
    content.extend_from_slice(b"multi,\"line one\r\nline two\",en_US\r\n");
    content.extend_from_slice(b"quote,\"say \"\"hi\"\"\",en_US\r\n");
    content.extend_from_slice(b"after,\"closed\"tail,en_US\r\n");
    content.extend_from_slice(b"last,no newline,en_US");
    let file = write(dir.path(), "glossary.csv", content);
    let summary = importer.run_file("glossary", &file).await.expect("glossary");
    assert_eq!((summary.rows_read, summary.inserted), (4, 4));

    let keys: BTreeMap<i64, String> = glossary_key::Entity::find()
        .all(db.connection())
        .await
        .expect("keys")
        .into_iter()
        .map(|row| (row.id, row.key))
        .collect();
    let translations: BTreeMap<String, String> = glossary_translation::Entity::find()
        .all(db.connection())
        .await
        .expect("translations")
        .into_iter()
        .map(|row| (keys[&row.glossary_key_id].clone(), row.value))
        .collect();
    assert_eq!(translations["multi"], "line one\r\nline two");
    assert_eq!(translations["quote"], "say \"hi\"");
    assert_eq!(translations["after"], "closedtail");
    assert_eq!(translations["last"], "no newline");
}

async fn batches_and_progress_cover_every_row(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut warehouses = String::from("name,is_active\n");
    for number in 0..25 {
        warehouses.push_str(&format!("Hall {number},1\n"));
    }
    let file = write(dir.path(), "warehouse.csv", warehouses);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let options = kontor_import::ImportOptions {
        batch_size: 10,
        progress: Some(std::sync::Arc::new(move |set: &str, done: u64| {
            sink.lock().expect("lock").push((set.to_owned(), done));
        })),
        ..kontor_import::ImportOptions::default()
    };
    let summary = kontor_import::Importer::new(db.clone(), options)
        .run_file("stock", &file)
        .await
        .expect("warehouses");
    assert_eq!(summary.inserted, 25);
    let progress: Vec<u64> = seen.lock().expect("lock").iter().map(|(_, done)| *done).collect();
    assert_eq!(progress, [10, 20, 25]);
    assert_eq!(outbox_count(&db).await, 25);
}

repo_test_suite!(tolerant_dialect_reads_every_quirk, batches_and_progress_cover_every_row);
