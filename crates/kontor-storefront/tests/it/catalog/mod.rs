//! Catalog reads end to end: a small catalog written to SQLite through the repositories, published with
//! kontor-sync's direct mode into a real KV store (redb, and Redis under a per-test namespace) and a
//! Tantivy index, then read through `kontor_storefront::router` with `oneshot`.
//!
//! Every test runs once per KV backend (`redb::…`, `redis::…`); both compare against the same insta
//! snapshots, which proves the answers do not depend on the backend.

mod contract;
pub mod fixture;
mod rules;

/// Instantiates each `async fn name(backend: Backend)` once per KV backend.
macro_rules! kv_backends {
    ($($test:ident),+ $(,)?) => {
        mod redb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::catalog::fixture::Backend::Redb).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::catalog::fixture::Backend::Redis).await;
                }
            )+
        }
    };
}
pub(crate) use kv_backends;
