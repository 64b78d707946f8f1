//! Storefront integration tests: the HTTP API against real KV and search backends.

/// Runs each scenario (an `async fn name(backend: Backend)` in scope, `Backend` imported) on the
/// embedded KV store (redb) and on Redis.
macro_rules! on_both_kv_backends {
    ($($test:ident),+ $(,)?) => {
        mod redb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Redb).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Redis).await;
                }
            )+
        }
    };
}

mod accounts;
mod carts;
mod catalog;
mod checkout;
mod html_catalog;
mod html_shop;
mod invalidation;
mod response_cache;
mod reviews;
