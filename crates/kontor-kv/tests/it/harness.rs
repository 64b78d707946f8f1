//! Per-test stores: which backends run, how each test gets an isolated store, and document helpers.

use kontor_kv::{KvOp, KvOptions, KvStore};
use serde_json::{Number, Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A realistic `_timestamp` in microseconds (2026-11-25, with all six decimals used).
pub const T0: i64 = 1_795_511_702_123_456;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Memory,
    Redb,
    Redis,
}

impl TestBackend {
    pub fn name(self) -> &'static str {
        match self {
            TestBackend::Memory => "memory",
            TestBackend::Redb => "redb",
            TestBackend::Redis => "redis",
        }
    }

    /// Whether `KONTOR_TEST_BACKENDS` (default: all) includes this backend; as `kontor-testkit`'s.
    /// The memory backend needs no server or file and always runs.
    pub fn is_selected(self) -> bool {
        if self == TestBackend::Memory {
            return true;
        }
        match std::env::var("KONTOR_TEST_BACKENDS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .any(|name| name.trim().eq_ignore_ascii_case(self.name())),
            _ => true,
        }
    }
}

fn redis_url() -> String {
    std::env::var("KONTOR_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// A store that exists for one test: a temp redb file or a unique Redis namespace, removed on drop
/// (also when the test panics).
pub struct TestKv {
    pub store: Arc<dyn KvStore>,
    backend: TestBackend,
    url: String,
    options: KvOptions,
    _redb_dir: Option<tempfile::TempDir>,
}

impl TestKv {
    pub async fn new(backend: TestBackend) -> Self {
        let namespace = format!("t_{}:", uuid::Uuid::new_v4().simple());
        let options = KvOptions::with_namespace(namespace);
        let (url, redb_dir) = match backend {
            TestBackend::Memory => ("memory://".to_owned(), None),
            TestBackend::Redb => {
                let dir = tempfile::tempdir().expect("create a temp directory for redb");
                (format!("redb://{}", dir.path().join("kv.redb").display()), Some(dir))
            }
            TestBackend::Redis => (redis_url(), None),
        };
        let store = kontor_kv::open(&url, options.clone())
            .await
            .unwrap_or_else(|error| panic!("{} test store at {url} cannot be opened: {error}", backend.name()));
        Self {
            store,
            backend,
            url,
            options,
            _redb_dir: redb_dir,
        }
    }

    pub fn backend(&self) -> TestBackend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The namespace between `kv:` and the key (unique per test).
    pub fn namespace(&self) -> &str {
        &self.options.namespace
    }

    /// Closes the store and opens it again on the same file or namespace. A memory store lives only as
    /// long as its handle, so it is kept as it is.
    pub async fn reopen(&mut self) {
        self.reopen_with(self.options.clone()).await;
    }

    /// Reopens with another tombstone TTL (a memory store starts empty).
    pub async fn reopen_with_tombstone_ttl(&mut self, ttl: Duration) {
        let options = KvOptions {
            tombstone_ttl: ttl,
            ..self.options.clone()
        };
        if self.backend == TestBackend::Memory {
            self.store = kontor_kv::open(&self.url, options.clone())
                .await
                .expect("open memory store");
        }
        self.reopen_with(options).await;
    }

    async fn reopen_with(&mut self, options: KvOptions) {
        self.options = options;
        if self.backend == TestBackend::Memory {
            return;
        }
        // redb allows one open handle per file: the old one must be gone before the new one opens.
        let placeholder = kontor_kv::open("memory://", KvOptions::default())
            .await
            .expect("open memory store");
        let previous = std::mem::replace(&mut self.store, placeholder);
        assert_eq!(
            Arc::strong_count(&previous),
            1,
            "a test still holds the store it wants reopened"
        );
        drop(previous);
        self.store = kontor_kv::open(&self.url, self.options.clone())
            .await
            .expect("reopen the test store");
    }
}

impl Drop for TestKv {
    fn drop(&mut self) {
        if self.backend != TestBackend::Redis {
            return; // the temp directory removes itself
        }
        // Drop cannot await; a short synchronous connection removes the namespace, also after a panic.
        let pattern = format!("kv:{}*", self.options.namespace);
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_connection() else {
            return;
        };
        let mut cursor = 0_u64;
        loop {
            let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .cursor_arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut connection)
            else {
                return;
            };
            if !keys.is_empty() {
                let _: redis::RedisResult<u64> = redis::cmd("DEL").arg(&keys).query(&mut connection);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

/// Runs `test` against a fresh store on `backend`, or says that the backend was deselected.
pub async fn run_on<F, Fut>(backend: TestBackend, test: F)
where
    F: FnOnce(TestKv) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !backend.is_selected() {
        eprintln!("{} deselected by KONTOR_TEST_BACKENDS", backend.name());
        return;
    }
    let kv = TestKv::new(backend).await;
    test(kv).await;
}

/// `body` (an object) with `_timestamp` set to `micros` as Unix seconds, the way publishers write it.
pub fn document(micros: i64, body: Value) -> Value {
    let mut document = body;
    let seconds = Number::from_f64(micros as f64 / 1_000_000.0).expect("finite timestamp");
    document
        .as_object_mut()
        .expect("a document body is an object")
        .insert("_timestamp".to_owned(), Value::Number(seconds));
    document
}

/// A write op of `{"name": name, "_timestamp": micros}`.
pub fn write(key: &str, micros: i64, name: &str) -> KvOp {
    KvOp::write_document(key, document(micros, json!({ "name": name }))).expect("document has a timestamp")
}

pub fn delete(key: &str, micros: i64) -> KvOp {
    KvOp::delete(key, micros)
}

/// The `name` member of a stored document, for short assertions.
pub async fn name_of(kv: &TestKv, key: &str) -> Option<String> {
    let document = kv.store.get(key).await.expect("get succeeds")?;
    Some(document["name"].as_str().expect("document has a name").to_owned())
}
