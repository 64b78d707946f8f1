//! Input the store rejects: oversized keys and documents that break the `_timestamp` contract. A
//! rejected batch changes nothing.

use crate::harness::{T0, TestKv, document, name_of, write};
use kontor_kv::{KvError, KvOp, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use serde_json::json;

async fn oversize_key_is_rejected_naming_it(kv: TestKv) {
    let long_key = format!("product_abstract:de:en_us:{}", "x".repeat(MAX_KEY_BYTES));
    let batch = [write("ok:1", T0, "valid"), write(&long_key, T0, "too long")];
    let error = kv.store.apply(&batch).await.expect_err("an oversize key is rejected");
    assert!(
        matches!(&error, KvError::InvalidKey { key, .. } if *key == long_key),
        "{error:?}"
    );
    assert!(error.to_string().contains("product_abstract:de:en_us:xxx"), "{error}");
    assert_eq!(
        name_of(&kv, "ok:1").await,
        None,
        "the valid op of the rejected batch was not written"
    );

    assert!(matches!(kv.store.get(&long_key).await, Err(KvError::InvalidKey { .. })));
    assert!(matches!(
        kv.store.get_many(&["ok:1".to_owned(), long_key.clone()]).await,
        Err(KvError::InvalidKey { .. })
    ));
    assert!(matches!(
        kv.store.apply(&[KvOp::delete(long_key, T0)]).await,
        Err(KvError::InvalidKey { .. })
    ));
    assert!(matches!(kv.store.get("").await, Err(KvError::InvalidKey { .. })));
}

async fn key_of_exactly_512_bytes_is_accepted(kv: TestKv) {
    let key = "k".repeat(MAX_KEY_BYTES);
    kv.store.apply(&[write(&key, T0, "edge")]).await.expect("apply");
    assert_eq!(name_of(&kv, &key).await.as_deref(), Some("edge"));
}

async fn documents_breaking_the_contract_are_rejected(kv: TestKv) {
    let mismatch = KvOp::Write {
        key: "p:1".to_owned(),
        value: document(T0, json!({"name": "x"})),
        timestamp_micros: T0 + 1,
    };
    assert!(matches!(
        kv.store.apply(&[mismatch]).await,
        Err(KvError::TimestampMismatch { .. })
    ));
    let without_timestamp = KvOp::Write {
        key: "p:1".to_owned(),
        value: json!({"name": "x"}),
        timestamp_micros: T0,
    };
    assert!(matches!(
        kv.store.apply(&[without_timestamp]).await,
        Err(KvError::InvalidDocument { .. })
    ));
    let fake_tombstone = KvOp::Write {
        key: "p:1".to_owned(),
        value: document(T0, json!({"_deleted": true})),
        timestamp_micros: T0,
    };
    assert!(matches!(
        kv.store.apply(&[fake_tombstone]).await,
        Err(KvError::InvalidDocument { .. })
    ));
    let too_large = KvOp::write_document("p:1", document(T0, json!({"text": "x".repeat(MAX_VALUE_BYTES)})))
        .expect("has a timestamp");
    let error = kv.store.apply(&[too_large]).await.expect_err("too large");
    assert!(matches!(error, KvError::ValueTooLarge { .. }));
    assert!(
        !error.to_string().contains("xxxx"),
        "errors never carry the value: {error}"
    );
    assert_eq!(name_of(&kv, "p:1").await, None);
}

kv_test_suite!(
    oversize_key_is_rejected_naming_it,
    key_of_exactly_512_bytes_is_accepted,
    documents_breaking_the_contract_are_rejected,
);

/// A zero cache would make redb read every page from disk; `open` refuses it on every backend so a bad
/// `kv.cache_size_mb` fails the same way whichever store is configured.
#[tokio::test]
async fn a_zero_cache_size_is_refused() {
    let options = kontor_kv::KvOptions {
        cache_bytes: 0,
        ..kontor_kv::KvOptions::default()
    };
    let error = kontor_kv::open("memory://", options).await.err().expect("refused");
    assert!(matches!(error, KvError::InvalidOptions(_)), "{error:?}");
    assert!(error.to_string().contains("cache"), "{error}");
}
