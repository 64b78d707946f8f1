//! The publisher skips an entity whose documents were all built after the relay read the change naming
//! it: after a bulk import the relay runs ahead and the same product comes round once per data set, but
//! its first build already read everything committed. A change relayed after that build still rebuilds.

use crate::fixtures::camera_shop;
use kontor_db::SqlDatabase;
use kontor_queue::worker::BatchHandler;
use kontor_queue::{BusOptions, MessageBus, SqlBus};
use kontor_readmodel::storage::projection::PRODUCT_ABSTRACT;
use kontor_sync::PublishMessage;
use kontor_sync::pipeline::PublishHandler;
use kontor_sync::projections;
use sea_orm::ConnectionTrait;
use std::sync::Arc;
use std::time::Duration;

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Hands the handler one publish message for `id`, as a worker would: enqueued, received, handled.
async fn handle(handler: &PublishHandler, bus: &dyn MessageBus, id: i64, relayed_at: i64) {
    let message = PublishMessage {
        event: "Entity.outbox.relay".to_owned(),
        source: "outbox".to_owned(),
        ids: vec![id],
        all: false,
        changed_at: relayed_at.max(1),
        relayed_at,
    };
    let queue = format!("publish.{PRODUCT_ABSTRACT}");
    bus.publish(&queue, vec![serde_json::to_vec(&message).expect("json")])
        .await
        .expect("enqueue");
    let batch = bus.receive(&queue, 10, Duration::from_secs(1)).await.expect("receive");
    assert_eq!(batch.len(), 1);
    handler.handle(&batch).await.expect("publish");
    bus.ack(&batch).await.expect("ack");
}

/// The English name in the product's stored document for store DE.
async fn stored_name(db: &SqlDatabase, id: i64) -> String {
    let rows = db
        .storage_rows_by_entity(PRODUCT_ABSTRACT, &[id])
        .await
        .expect("storage rows");
    let row = rows
        .iter()
        .find(|row| row.locale.as_deref() == Some("en_US"))
        .expect("an en_US document");
    let document: serde_json::Value = serde_json::from_str(row.data.as_deref().expect("live")).expect("json");
    document["name"].as_str().expect("name").to_owned()
}

/// Renames the product behind the publisher's back (no relay runs in this test).
async fn rename(db: &SqlDatabase, id: i64, name: &str) {
    db.connection()
        .execute_unprepared(&format!(
            "UPDATE product_abstract_localized SET name = '{name}' WHERE product_abstract_id = {id}"
        ))
        .await
        .expect("rename");
}

async fn a_message_relayed_before_the_last_build_is_skipped_and_a_later_one_rebuilds(db: SqlDatabase) {
    let catalog = camera_shop(&db).await;
    let id = catalog.abstract_id;
    let bus: Arc<dyn MessageBus> = Arc::new(SqlBus::new(db.connection().clone(), BusOptions::default()));
    let projection = projections::by_name(PRODUCT_ABSTRACT).expect("projection");
    let handler = PublishHandler::new(projection, db.clone(), Arc::clone(&bus));

    let relayed_early = now_micros() - 10_000_000;
    handle(&handler, bus.as_ref(), id, relayed_early).await;
    assert_eq!(stored_name(&db, id).await, "Fjell Camera", "never built: built");

    rename(&db, id, "Renamed once").await;
    handle(&handler, bus.as_ref(), id, relayed_early).await;
    assert_eq!(
        stored_name(&db, id).await,
        "Fjell Camera",
        "relayed 10 s before the last build started: that build already saw it, so skipped"
    );

    handle(&handler, bus.as_ref(), id, 0).await;
    assert_eq!(
        stored_name(&db, id).await,
        "Renamed once",
        "relay instant unknown: always built"
    );

    rename(&db, id, "Renamed twice").await;
    // Relayed after the last build started (within the clock margin counts as after).
    handle(&handler, bus.as_ref(), id, now_micros()).await;
    assert_eq!(
        stored_name(&db, id).await,
        "Renamed twice",
        "relayed after the build: rebuilt"
    );
}

kontor_testkit::repo_test_suite!(a_message_relayed_before_the_last_build_is_skipped_and_a_later_one_rebuilds,);
