//! Per-test backends for the conformance suite.
//!
//! Each test gets fresh state: a new memory bus, a new migrated database (kontor-testkit), or a unique
//! queue-name prefix on the local RabbitMQ whose queues are deleted when the test ends (also after a
//! failure). A server that is down fails the test; only `KONTOR_TEST_BACKENDS` (a deliberate choice, e.g.
//! `memory,sqlite`) leaves a backend out.

use kontor_queue::rabbitmq::topology_queue_names;
use kontor_queue::{BusOptions, MemoryBus, MessageBus, RabbitMqBus, RetryPolicy, SqlBus};
use kontor_testkit::{TestBackend, TestDatabase};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
    MariaDb,
    RabbitMq,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MariaDb => "mariadb",
            Backend::RabbitMq => "rabbitmq",
        }
    }

    /// Mirrors `TestBackend::is_selected`: `KONTOR_TEST_BACKENDS` (default: all) names the backends to run.
    pub fn is_selected(self) -> bool {
        match std::env::var("KONTOR_TEST_BACKENDS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .any(|name| name.trim().eq_ignore_ascii_case(self.name())),
            _ => true,
        }
    }

    fn sql(self) -> Option<TestBackend> {
        match self {
            Backend::Sqlite => Some(TestBackend::Sqlite),
            Backend::Postgres => Some(TestBackend::Postgres),
            Backend::MariaDb => Some(TestBackend::MariaDb),
            Backend::Memory | Backend::RabbitMq => None,
        }
    }
}

fn amqp_url() -> String {
    std::env::var("KONTOR_TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// One test's backend: opens any number of buses on the same underlying queues.
pub struct Harness {
    pub backend: Backend,
    prefix: String,
    memory: MemoryBus,
    database: Option<TestDatabase>,
    /// Queues and retry policies used, so the RabbitMQ topology can be deleted afterwards.
    queues: Mutex<Vec<String>>,
    policies: Mutex<Vec<RetryPolicy>>,
}

impl Harness {
    async fn new(backend: Backend) -> Self {
        let database = match backend.sql() {
            Some(sql) => Some(TestDatabase::new(sql).await),
            None => None,
        };
        let unique = uuid::Uuid::new_v4().simple().to_string();
        Self {
            backend,
            prefix: format!("t_{}", &unique[..12]),
            memory: MemoryBus::new(BusOptions::default()),
            database,
            queues: Mutex::new(Vec::new()),
            policies: Mutex::new(vec![RetryPolicy::default()]),
        }
    }

    /// A queue name unique to this test.
    pub fn queue(&self, name: &str) -> String {
        let queue = format!("{}.{name}", self.prefix);
        self.queues.lock().expect("queue list").push(queue.clone());
        queue
    }

    /// A new bus (a new "process") on this test's queues.
    pub async fn bus(&self, options: BusOptions) -> Arc<dyn MessageBus> {
        self.policies.lock().expect("policy list").push(options.retry.clone());
        match self.backend {
            Backend::Memory => Arc::new(self.memory.with_options(options)),
            Backend::Sqlite | Backend::Postgres | Backend::MariaDb => {
                let database = self.database.as_ref().expect("a test database");
                Arc::new(SqlBus::new(database.database.connection().clone(), options))
            }
            Backend::RabbitMq => Arc::new(
                RabbitMqBus::connect(&amqp_url(), options)
                    .await
                    .unwrap_or_else(|error| panic!("rabbitmq test server is not reachable: {error}")),
            ),
        }
    }
}

impl Harness {
    /// Whether `name` exists on the test broker, asked with a passive declare on a connection of its own.
    pub async fn rabbitmq_queue_exists(&self, name: &str) -> bool {
        let connection = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("connect to rabbitmq");
        let channel = connection.create_channel().await.expect("open a channel");
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..lapin::options::QueueDeclareOptions::default()
        };
        let declared = channel
            .queue_declare(name.into(), passive, lapin::types::FieldTable::default())
            .await;
        let _ = connection.close(200, "done".into()).await;
        declared.is_ok()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.backend != Backend::RabbitMq {
            return;
        }
        let queues = std::mem::take(&mut *self.queues.lock().unwrap_or_else(|e| e.into_inner()));
        let policies = std::mem::take(&mut *self.policies.lock().unwrap_or_else(|e| e.into_inner()));
        let mut names: Vec<String> = queues
            .iter()
            .flat_map(|queue| policies.iter().flat_map(|policy| topology_queue_names(queue, policy)))
            .collect();
        names.sort();
        names.dedup();
        // The test's runtime cannot be blocked on from here; a short-lived thread with its own runtime
        // deletes the queues, also after a panicking test.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(bus) = RabbitMqBus::connect(&amqp_url(), BusOptions::default()).await
                    && let Err(error) = bus.delete_queues(&names).await
                {
                    eprintln!("could not delete test queues: {error}");
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Runs `test` on a fresh harness for `backend`, or says that the backend was deselected.
pub async fn run_on<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<Harness>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !backend.is_selected() {
        eprintln!("{} deselected by KONTOR_TEST_BACKENDS", backend.name());
        return;
    }
    let harness = Arc::new(Harness::new(backend).await);
    tokio::time::timeout(Duration::from_secs(120), test(Arc::clone(&harness)))
        .await
        .expect("test finished within 120 s");
    drop(harness);
}

/// Instantiates each `async fn name(h: Arc<Harness>)` in scope once per backend:
/// `memory::name`, `sqlite::name`, `postgres::name`, `mariadb::name`, `rabbitmq::name`.
#[macro_export]
macro_rules! bus_test_suite {
    ($($test:ident),+ $(,)?) => {
        $crate::bus_test_suite!(@backend memory, Memory, $($test),+);
        $crate::bus_test_suite!(@backend sqlite, Sqlite, $($test),+);
        $crate::bus_test_suite!(@backend postgres, Postgres, $($test),+);
        $crate::bus_test_suite!(@backend mariadb, MariaDb, $($test),+);
        $crate::bus_test_suite!(@backend rabbitmq, RabbitMq, $($test),+);
    };
    (@backend $module:ident, $variant:ident, $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run_on($crate::harness::Backend::$variant, super::$test).await;
                }
            )+
        }
    };
}
