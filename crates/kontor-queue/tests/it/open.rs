//! Backend selection by URL and queue-name validation (no server needed).

use kontor_queue::{BusOptions, QueueError, open, validate_queue_name};

#[tokio::test]
async fn open_picks_the_backend_from_the_url() {
    let memory = open("memory", None, BusOptions::default()).await.expect("memory bus");
    assert_eq!(memory.backend(), "memory");
    let missing = open("sql", None, BusOptions::default()).await;
    assert!(matches!(missing, Err(QueueError::MissingDatabase)));
    let unknown = open("kafka://user:secret@host", None, BusOptions::default()).await;
    let Err(error) = unknown else {
        panic!("an unknown scheme is refused");
    };
    assert!(
        !error.to_string().contains("secret"),
        "no credentials in errors: {error}"
    );
}

#[test]
fn queue_names_are_dotted_lowercase() {
    assert!(validate_queue_name("sync.storage.price_product_abstract").is_ok());
    assert!(validate_queue_name("publish.product-abstract").is_ok());
    for bad in [
        "",
        ".leading",
        "trailing.",
        "Upper.case",
        "with space",
        &"x".repeat(201),
    ] {
        assert!(validate_queue_name(bad).is_err(), "{bad:?} is refused");
    }
}
