//! Test support (feature `test-support`): a fresh store per test on each backend, for this crate's
//! conformance suite and the HTTP tests of the crates above it.
//!
//! Local tests get a temp directory each. S3 tests share the bucket of `KONTOR_TEST_S3_URL` (default
//! [`DEFAULT_S3_URL`], the server `scripts/s3-server` starts) and each gets its own key prefix
//! `t_<uuid>`, so tests run in parallel; a passing test removes its files. A server that cannot be
//! reached FAILS the S3 tests with a hint to run `scripts/s3-server`; only `KONTOR_TEST_SKIP_S3=1` (a
//! deliberate choice) skips them.

use crate::{FileStore, UrlSigner};
use std::sync::Arc;
use std::time::Duration;

/// The S3-compatible test server `scripts/s3-server` runs (s3s-fs on 127.0.0.1:9000, bucket `kontor-test`).
pub const DEFAULT_S3_URL: &str = "s3://kontor-test?endpoint=http://127.0.0.1:9000&region=us-east-1&allow_http=true\
&access_key_id=kontor&secret_access_key=kontor-test-secret";

/// A fixed secret for signing test URLs.
pub const TEST_SIGNING_SECRET: &str = "kontor-test-url-signing-secret-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Local,
    S3,
}

impl TestBackend {
    pub fn name(self) -> &'static str {
        match self {
            TestBackend::Local => "local",
            TestBackend::S3 => "s3",
        }
    }

    /// Whether this backend's tests are skipped on purpose (`KONTOR_TEST_SKIP_S3=1`).
    pub fn is_skipped(self) -> bool {
        self == TestBackend::S3 && std::env::var("KONTOR_TEST_SKIP_S3").is_ok_and(|value| value.trim() == "1")
    }
}

/// The S3 URL tests use: `KONTOR_TEST_S3_URL` or [`DEFAULT_S3_URL`].
pub fn s3_base_url() -> String {
    std::env::var("KONTOR_TEST_S3_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_S3_URL.to_owned())
}

/// A signer with [`TEST_SIGNING_SECRET`].
pub fn test_signer() -> UrlSigner {
    UrlSigner::new(TEST_SIGNING_SECRET).expect("the test secret is long enough")
}

/// A store that exists for one test.
pub struct TestFiles {
    pub store: Arc<dyn FileStore>,
    pub backend: TestBackend,
    /// The URL the store was opened with (with its per-test prefix); secrets included, never print it.
    url: String,
    directory: tempfile::TempDir,
}

impl TestFiles {
    /// Opens a fresh store; panics with what to do when the S3 server is not reachable.
    pub async fn new(backend: TestBackend) -> Self {
        let directory = tempfile::tempdir().expect("create a temp directory");
        let url = match backend {
            TestBackend::Local => format!("file://{}", directory.path().join("files").display()),
            TestBackend::S3 => {
                let base = s3_base_url();
                assert_s3_reachable(&base).await;
                with_prefix(&base, &format!("t_{}", uuid::Uuid::new_v4().simple()))
            }
        };
        let store = crate::open(&url, directory.path()).await.unwrap_or_else(|error| {
            panic!(
                "the {} test file store cannot be opened: {error}\nrun `scripts/s3-server` (or set KONTOR_TEST_SKIP_S3=1 to skip S3 on purpose)",
                backend.name()
            )
        });
        Self {
            store,
            backend,
            url,
            directory,
        }
    }

    /// A second handle on the same files (what another node would open).
    pub async fn reopen(&self) -> Arc<dyn FileStore> {
        crate::open(&self.url, self.directory.path())
            .await
            .expect("reopen the test file store")
    }

    /// The data dir of a local store (its files are under `files/`).
    pub fn data_dir(&self) -> &std::path::Path {
        self.directory.path()
    }

    /// Removes what the test stored (S3; a temp directory removes itself).
    pub async fn clean_up(&self) {
        if self.backend != TestBackend::S3 {
            return;
        }
        let Ok(files) = self.store.list("").await else {
            return;
        };
        for file in files {
            let _ = self.store.delete(&file.key).await;
        }
    }
}

/// Runs `test` on a fresh store of `backend`, or says that S3 was skipped on purpose.
pub async fn run_on<F, Fut>(backend: TestBackend, test: F)
where
    F: FnOnce(Arc<TestFiles>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if backend.is_skipped() {
        eprintln!("{} skipped by KONTOR_TEST_SKIP_S3=1", backend.name());
        return;
    }
    let files = Arc::new(TestFiles::new(backend).await);
    test(files.clone()).await;
    files.clean_up().await;
}

/// `s3://bucket[/base]?query` with `/<prefix>` appended to the path.
fn with_prefix(url: &str, prefix: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let base = base.trim_end_matches('/');
    match query {
        Some(query) => format!("{base}/{prefix}?{query}"),
        None => format!("{base}/{prefix}"),
    }
}

/// Fails fast (2 s) with a hint when nothing listens at the URL's endpoint, instead of retrying.
async fn assert_s3_reachable(url: &str) {
    let endpoint = url::Url::parse(url).ok().and_then(|url| {
        url.query_pairs()
            .find(|(name, _)| name == "endpoint")
            .map(|(_, value)| value.into_owned())
    });
    let Some(endpoint) = endpoint.and_then(|endpoint| url::Url::parse(&endpoint).ok()) else {
        return; // AWS itself: nothing local to check
    };
    let host = endpoint.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = endpoint.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => panic!(
            "the S3 test server at {host}:{port} is not reachable ({error}): run `scripts/s3-server` first \
             (or set KONTOR_TEST_SKIP_S3=1 to skip the S3 tests on purpose)"
        ),
        Err(_) => panic!(
            "the S3 test server at {host}:{port} did not answer within 2 s: run `scripts/s3-server` first \
             (or set KONTOR_TEST_SKIP_S3=1 to skip the S3 tests on purpose)"
        ),
    }
}

/// Instantiates file-store tests once per backend: `files_test_suite!(put_and_get, …)` turns each
/// `async fn name(files: Arc<TestFiles>)` in scope into `local::name` and `s3::name`.
#[macro_export]
macro_rules! files_test_suite {
    ($($test:ident),+ $(,)?) => {
        $crate::files_test_suite!(@backend local, Local, $($test),+);
        $crate::files_test_suite!(@backend s3, S3, $($test),+);
    };
    (@backend $module:ident, $variant:ident, $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::testing::run_on($crate::testing::TestBackend::$variant, super::$test).await;
                }
            )+
        }
    };
}
