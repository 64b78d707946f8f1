//! The outbox relay wakes on commits instead of waiting for its poll (spec §1: "woken by commit
//! notification; 100 ms poll fallback").
//!
//! Each test gives the relay a 60 s poll, so a change relayed within the test's patience can only have
//! been relayed because a commit woke the relay. No upper bound on time is asserted (a loaded machine
//! can be slow); the measured commit → publish queue time is printed.

use crate::fixtures::{Catalog, camera_shop};
use kontor_db::SqlDatabase;
use kontor_domain::ResourceRepository;
use kontor_domain::pricing::PriceAttributes;
use kontor_queue::{BusOptions, MemoryBus, MessageBus};
use kontor_sync::pipeline::Relay;
use kontor_testkit::{TestBackend, TestDatabase};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Far longer than the test waits: only a wake-up relays within [`PATIENCE`].
const POLL: Duration = Duration::from_secs(60);
const PATIENCE: Duration = Duration::from_secs(20);
const PRICE_QUEUE: &str = "publish.price_product_abstract";

async fn set_price(db: &SqlDatabase, catalog: &Catalog, gross: i64) {
    let price: PriceAttributes =
        serde_json::from_value(json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": gross}))
            .expect("price");
    ResourceRepository::<PriceAttributes>::update(
        db,
        kontor_core::ids::PriceProductId(catalog.abstract_price_id),
        &kontor_domain::Valid::new(price).expect("valid"),
    )
    .await
    .expect("price update");
}

async fn ready_in(bus: &dyn MessageBus, queue: &str) -> u64 {
    let stats = bus.stats().await.expect("stats");
    stats
        .iter()
        .find(|entry| entry.queue == queue)
        .map_or(0, |entry| entry.ready)
}

/// Starts a relay with the long poll on `db` and waits until it has relayed the backlog and gone idle.
async fn idle_relay(db: &SqlDatabase, bus: &Arc<dyn MessageBus>) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let relay = Relay::new(db.clone(), Arc::clone(bus)).with_idle(POLL);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move { relay.run(stop).await });
    let started = Instant::now();
    while db.outbox_backlog().await.expect("backlog") > 0 {
        assert!(
            started.elapsed() < PATIENCE,
            "the relay drains the fixture's outbox rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The rounds its own bookkeeping commits caused are over well before this; then it sleeps for `POLL`.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (shutdown, task)
}

/// Time from the commit of a price change (through `writer`) until its message is in the publish queue.
async fn commit_to_queue(writer: &SqlDatabase, catalog: &Catalog, bus: &dyn MessageBus) -> Duration {
    let before = ready_in(bus, PRICE_QUEUE).await;
    set_price(writer, catalog, 4_242).await;
    let committed = Instant::now();
    loop {
        if ready_in(bus, PRICE_QUEUE).await > before {
            return committed.elapsed();
        }
        assert!(
            committed.elapsed() < PATIENCE,
            "the commit did not wake the relay (its poll is {POLL:?})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `kontor serve`: the write and the relay share one `SqlDatabase`.
async fn a_commit_in_the_same_process_wakes_the_idle_relay(db: SqlDatabase) {
    let catalog = camera_shop(&db).await;
    let bus: Arc<dyn MessageBus> = Arc::new(MemoryBus::new(BusOptions::default()));
    let (shutdown, task) = idle_relay(&db, &bus).await;
    let lag = commit_to_queue(&db, &catalog, bus.as_ref()).await;
    eprintln!("{:?}: commit → publish queue {lag:?} (poll {POLL:?})", db.backend());
    shutdown.cancel();
    task.await.expect("relay task");
}

/// `kontor backend` + `kontor worker` on PostgreSQL: the write comes from another pool (another process as
/// far as the in-process signal is concerned), so only LISTEN/NOTIFY can wake the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_in_another_process_wakes_the_idle_relay_on_postgres() {
    if !TestBackend::Postgres.is_selected() {
        eprintln!("postgres deselected by KONTOR_TEST_BACKENDS");
        return;
    }
    let database = TestDatabase::new(TestBackend::Postgres).await;
    let relay_db = database.database.clone();
    let writer = SqlDatabase::connect(&database.url, 2).await.expect("a second pool");
    let catalog = camera_shop(&writer).await;
    let bus: Arc<dyn MessageBus> = Arc::new(MemoryBus::new(BusOptions::default()));
    let (shutdown, task) = idle_relay(&relay_db, &bus).await;
    let lag = commit_to_queue(&writer, &catalog, bus.as_ref()).await;
    eprintln!("postgres, other process: commit → publish queue {lag:?} (poll {POLL:?})");
    shutdown.cancel();
    task.await.expect("relay task");
    writer.close().await.expect("close the second pool");
}

kontor_testkit::repo_test_suite!(a_commit_in_the_same_process_wakes_the_idle_relay);
