//! The queue-driven pipeline as it runs in production: relay and worker tasks consuming real queues,
//! writing a real KV store and search index. Two stacks: embedded (SQLite + SQL queue + redb +
//! Tantivy on disk) and scaled (PostgreSQL + RabbitMQ + Redis + Tantivy).

use crate::fixtures::{Catalog, camera_shop};
use kontor_core::{LocaleName, StoreName};
use kontor_db::SqlDatabase;
use kontor_domain::ResourceRepository;
use kontor_domain::pricing::PriceAttributes;
use kontor_kv::{KvOptions, KvStore, RedbKv, RedisKv};
use kontor_queue::worker::{Worker, WorkerOptions};
use kontor_queue::{BusOptions, MessageBus, RabbitMqBus, RetryPolicy, SqlBus, with_prefix};
use kontor_search::{SearchIndex, SearchRequest, TantivySearchIndex};
use kontor_sync::maintenance;
use kontor_sync::pipeline::{QueueSelection, Relay, register_all};
use kontor_sync::projections;
use kontor_testkit::{TestBackend, TestDatabase};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Embedded,
    Scaled,
}

struct Stack {
    kind: Kind,
    db: SqlDatabase,
    kv: Arc<dyn KvStore>,
    search: Arc<dyn SearchIndex>,
    prefix: String,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// A worker (relay + consumers) running in this process on its own bus connection.
struct RunningWorker {
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    bus: Arc<dyn MessageBus>,
}

impl RunningWorker {
    /// Stops it like a crash: tasks aborted mid-batch, connection dropped, nothing acknowledged.
    fn crash(self) {
        for task in &self.tasks {
            task.abort();
        }
        drop(self.bus);
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn selected(names: &[&str]) -> bool {
    match std::env::var("KONTOR_TEST_BACKENDS") {
        Ok(list) if !list.trim().is_empty() => names
            .iter()
            .all(|name| list.split(',').any(|item| item.trim() == *name)),
        _ => true,
    }
}

fn bus_options() -> BusOptions {
    BusOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            backoff: vec![Duration::from_millis(50)],
        },
        // A crashed worker's SQL leases expire quickly, so redelivery is observable in a test.
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(20),
    }
}

impl Stack {
    async fn new(kind: Kind) -> Option<Self> {
        let needs: &[&str] = match kind {
            Kind::Embedded => &["sqlite"],
            Kind::Scaled => &["postgres", "redis", "rabbitmq"],
        };
        if !selected(needs) {
            eprintln!("{needs:?} deselected by KONTOR_TEST_BACKENDS");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let prefix = format!("t{}.", uuid::Uuid::new_v4().simple());
        let (database, kv): (TestDatabase, Arc<dyn KvStore>) = match kind {
            Kind::Embedded => (
                TestDatabase::new(TestBackend::Sqlite).await,
                Arc::new(
                    RedbKv::open(dir.path().join("kv.redb"), KvOptions::default())
                        .await
                        .expect("redb"),
                ),
            ),
            Kind::Scaled => (
                TestDatabase::new(TestBackend::Postgres).await,
                Arc::new(
                    RedisKv::connect("redis://127.0.0.1:6379", KvOptions::with_namespace(prefix.clone()))
                        .await
                        .expect("Redis at 127.0.0.1:6379 must be running"),
                ),
            ),
        };
        let search: Arc<dyn SearchIndex> = Arc::new(TantivySearchIndex::open(dir.path()).expect("search index"));
        Some(Self {
            kind,
            db: database.database.clone(),
            kv,
            search,
            prefix,
            _database: database,
            _dir: dir,
        })
    }

    async fn bus(&self) -> Arc<dyn MessageBus> {
        let bus: Arc<dyn MessageBus> = match self.kind {
            Kind::Embedded => Arc::new(SqlBus::new(self.db.connection().clone(), bus_options())),
            Kind::Scaled => Arc::new(
                RabbitMqBus::connect("amqp://guest:guest@127.0.0.1:5672/%2f", bus_options())
                    .await
                    .expect("RabbitMQ at 127.0.0.1:5672 must be running"),
            ),
        };
        with_prefix(bus, &self.prefix)
    }

    async fn start_worker(&self) -> RunningWorker {
        let bus = self.bus().await;
        let shutdown = CancellationToken::new();
        let options = WorkerOptions {
            linger: Duration::from_millis(10),
            idle_wait: Duration::from_millis(100),
            ..WorkerOptions::default()
        };
        let mut worker = Worker::new(Arc::clone(&bus)).with_options(options);
        register_all(
            &mut worker,
            &QueueSelection::default(),
            &self.db,
            &bus,
            &self.kv,
            Some(&self.search),
            None,
        )
        .await
        .expect("register the pipeline");
        let relay = Relay::new(self.db.clone(), Arc::clone(&bus));
        let relay_shutdown = shutdown.clone();
        let worker_shutdown = shutdown.clone();
        let tasks = vec![
            tokio::spawn(async move { relay.run(relay_shutdown).await }),
            tokio::spawn(async move {
                worker.run(worker_shutdown).await;
            }),
        ];
        RunningWorker { shutdown, tasks, bus }
    }

    /// Waits until `check` holds, polling; panics with `what` after `limit`. Returns how long it took.
    async fn eventually<F, Fut>(&self, what: &str, limit: Duration, mut check: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if check().await {
                return started.elapsed();
            }
            assert!(started.elapsed() < limit, "{what}: not reached within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the outbox is relayed, every queue is empty and KV and search match the storage tables.
    async fn settle(&self, limit: Duration) {
        let bus = self.bus().await;
        self.eventually("the pipeline settles with no drift", limit, || async {
            let idle = bus
                .stats()
                .await
                .expect("stats")
                .iter()
                .all(|queue| queue.ready + queue.delayed + queue.in_flight == 0);
            idle && self.db.outbox_backlog().await.expect("backlog") == 0 && self.drift().await == 0
        })
        .await;
    }

    async fn price_in_kv(&self, abstract_id: i64) -> Option<i64> {
        let document = self
            .kv
            .get(&format!("price_product_abstract:de:{abstract_id}"))
            .await
            .expect("kv get")?;
        document["prices"]["EUR"]["GROSS_MODE"]["DEFAULT"].as_i64()
    }

    async fn price_in_search(&self, query: &str) -> Option<i64> {
        let mut request = SearchRequest::new(
            StoreName::parse("DE").expect("store"),
            LocaleName::parse("en_US").expect("locale"),
        );
        request.query = Some(query.to_owned());
        let result = self.search.search(request).await.expect("search");
        let prices = result.hits.first()?.data.prices.clone()?;
        prices
            .iter()
            .find(|price| price.price_mode == "GROSS_MODE" && price.currency == "EUR")
            .map(|price| price.amount)
    }

    /// Total drift over every projection (0 = KV and search equal the storage tables).
    async fn drift(&self) -> usize {
        let mut total = 0;
        for projection in projections::all() {
            let drift = maintenance::verify(&self.db, projection.as_ref(), self.kv.as_ref(), self.search.as_ref())
                .await
                .expect("verify");
            total += drift.total();
        }
        total
    }

    async fn set_price(&self, catalog: &Catalog, gross: i64) {
        let price: PriceAttributes = serde_json::from_value(
            json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": gross}),
        )
        .expect("price");
        ResourceRepository::<PriceAttributes>::update(
            &self.db,
            kontor_core::ids::PriceProductId(catalog.abstract_price_id),
            &kontor_domain::Valid::new(price).expect("valid"),
        )
        .await
        .expect("price update");
    }

    async fn clean_up(&self) {
        if self.kind == Kind::Scaled {
            let _ = self.kv.clear().await;
        }
    }
}

/// The admin API over the stack's database, as an operator or ERP would call it.
struct AdminApi {
    router: axum::Router,
    token: String,
}

impl AdminApi {
    async fn new(db: &SqlDatabase) -> Self {
        let token = kontor_testkit::admin_token(db, "ops@example.com", &["administrator"]).await;
        let router = kontor_backoffice::router(kontor_backoffice::AdminState::new(Arc::new(db.clone())));
        Self { router, token }
    }

    async fn send(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> u16 {
        use tower::ServiceExt;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/vnd.api+json")
            .body(body.map_or_else(axum::body::Body::empty, |json| axum::body::Body::from(json.to_string())))
            .expect("request");
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible")
            .status()
            .as_u16()
    }
}

async fn price_change_and_delete_reach_kv_and_search(kind: Kind) {
    let Some(stack) = Stack::new(kind).await else { return };
    let catalog = camera_shop(&stack.db).await;
    let api = AdminApi::new(&stack.db).await;
    let worker = stack.start_worker().await;
    let id = catalog.abstract_id;
    stack
        .eventually("initial publish", Duration::from_secs(30), || async {
            stack.price_in_kv(id).await == Some(12900)
        })
        .await;
    stack
        .eventually("initial search document", Duration::from_secs(30), || async {
            stack.price_in_search("camera").await == Some(12900)
        })
        .await;

    let patch = json!({"data": {"type": "prices", "attributes": {"grossAmount": 9900}}});
    assert_eq!(
        api.send(
            "PATCH",
            &format!("/admin/prices/{}", catalog.abstract_price_id),
            Some(patch)
        )
        .await,
        200
    );
    let kv_lag = stack
        .eventually("new price in KV", Duration::from_secs(10), || async {
            stack.price_in_kv(id).await == Some(9900)
        })
        .await;
    let search_lag = stack
        .eventually("new price in search", Duration::from_secs(10), || async {
            stack.price_in_search("camera").await == Some(9900)
        })
        .await;
    eprintln!("commit → visible: KV {kv_lag:?}, search {search_lag:?} (measured in BENCHMARKS.md, not asserted)");

    for concrete in &catalog.concrete_ids {
        ResourceRepository::<kontor_domain::catalog::ProductConcreteAttributes>::delete(
            &stack.db,
            kontor_core::ids::ProductConcreteId(*concrete),
        )
        .await
        .expect("delete concrete");
    }
    ResourceRepository::<kontor_domain::catalog::ProductAbstractAttributes>::delete(
        &stack.db,
        kontor_core::ids::ProductAbstractId(id),
    )
    .await
    .expect("delete abstract");
    stack
        .eventually("product keys and search hit gone", Duration::from_secs(10), || async {
            stack
                .kv
                .get(&format!("product_abstract:de:en_us:{id}"))
                .await
                .expect("get")
                .is_none()
                && stack
                    .kv
                    .get("product_abstract:de:en_us:sku:100")
                    .await
                    .expect("get")
                    .is_none()
                && stack.price_in_search("camera").await.is_none()
        })
        .await;
    // The concretes' prices and availability are deleted by their own messages, which may still be in flight
    // when the abstract's keys are gone: wait until the whole pipeline is idle before checking for drift.
    stack.settle(Duration::from_secs(30)).await;
    worker.stop().await;
    assert_eq!(stack.drift().await, 0);
    stack.clean_up().await;
}

async fn a_crashed_worker_loses_nothing(kind: Kind) {
    let Some(stack) = Stack::new(kind).await else { return };
    camera_shop(&stack.db).await;
    // More work than one batch: 120 more products, each with a price.
    for index in 0..120 {
        crate::fixtures::create::<kontor_domain::catalog::ProductAbstractAttributes>(
            &stack.db,
            json!({"sku": format!("p{index}"), "stores": ["DE"], "localizedAttributes": {"en_US": {"name": format!("Lens {index}")}}}),
        )
        .await;
        crate::fixtures::create::<PriceAttributes>(
            &stack.db,
            json!({"abstractSku": format!("p{index}"), "store": "DE", "currency": "EUR", "grossAmount": 1000 + index}),
        )
        .await;
    }
    let first = stack.start_worker().await;
    // Crash as soon as the relay has handed the outbox to the queues, while publishers and writers work.
    stack
        .eventually("relay claimed the outbox", Duration::from_secs(30), || async {
            stack.db.outbox_backlog().await.expect("backlog") == 0
        })
        .await;
    first.crash();
    let unfinished = stack
        .kv
        .get("product_abstract:de:en_us:sku:p119")
        .await
        .expect("get")
        .is_none();
    eprintln!("crashed with work in flight: {unfinished}");
    let second = stack.start_worker().await;
    stack
        .eventually(
            "the last product published after the restart",
            Duration::from_secs(60),
            || async {
                stack
                    .kv
                    .get("product_abstract:de:en_us:sku:p119")
                    .await
                    .expect("get")
                    .is_some()
            },
        )
        .await;
    stack.settle(Duration::from_secs(60)).await;
    second.stop().await;
    for index in [0, 60, 119] {
        let key = format!(
            "price_product_abstract:de:{}",
            stack
                .kv
                .get(&format!("product_abstract:de:en_us:sku:p{index}"))
                .await
                .expect("get")
                .expect("mapping")["id"]
        );
        assert!(stack.kv.get(&key).await.expect("get").is_some(), "{key}");
    }
    stack.clean_up().await;
}

async fn a_poison_message_is_dead_lettered_and_the_queue_keeps_flowing(kind: Kind) {
    let Some(stack) = Stack::new(kind).await else { return };
    let catalog = camera_shop(&stack.db).await;
    let worker = stack.start_worker().await;
    let id = catalog.abstract_id;
    stack
        .eventually("initial publish", Duration::from_secs(30), || async {
            stack.price_in_kv(id).await == Some(12900)
        })
        .await;
    let bus = stack.bus().await;
    bus.publish("publish.price_product_abstract", vec![b"{not json".to_vec()])
        .await
        .expect("publish poison");
    stack.set_price(&catalog, 7700).await;
    stack
        .eventually("good change still applied", Duration::from_secs(15), || async {
            stack.price_in_kv(id).await == Some(7700)
        })
        .await;
    let letters = stack
        .eventually("poison dead-lettered", Duration::from_secs(15), || async {
            !bus.dead_letters("publish.price_product_abstract", 10)
                .await
                .expect("dead letters")
                .is_empty()
        })
        .await;
    let dead = bus
        .dead_letters("publish.price_product_abstract", 10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1, "{letters:?}");
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0].reason.contains("malformed publish message"),
        "{}",
        dead[0].reason
    );
    worker.stop().await;
    stack.clean_up().await;
}

macro_rules! on_both_stacks {
    ($($test:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Kind::Embedded).await;
                }
            )+
        }
        mod scaled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Kind::Scaled).await;
                }
            )+
        }
    };
}

on_both_stacks!(
    price_change_and_delete_reach_kv_and_search,
    a_crashed_worker_loses_nothing,
    a_poison_message_is_dead_lettered_and_the_queue_keeps_flowing,
);
