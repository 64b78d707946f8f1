//! Integration tests of `kontor-notify`: one conformance suite, run on every backend.
//!
//! `notify_test_suite!(test_a, test_b, …)` turns each `async fn test(notify: TestNotify)` of the calling
//! module into `broadcast::test` and `redis::test`. Each test gets its own namespace, so tests running in
//! parallel on the local Redis (`KONTOR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) never hear each
//! other. On Redis every `notify.node(…)` is a separate notifier with its own connections, which is what two
//! processes would be; on broadcast all nodes are one in-process notifier. A Redis that cannot be reached
//! FAILS its tests; only `KONTOR_TEST_BACKENDS` (a deliberate comma list such as `broadcast`) leaves it out.

mod chaos_proxy;
mod harness;

/// Instantiates every listed test once per backend; see the docs of this test binary.
macro_rules! notify_test_suite {
    ($($test:ident),+ $(,)?) => {
        notify_test_suite!(@backend broadcast, Broadcast, $($test),+);
        notify_test_suite!(@backend redis, Redis, $($test),+);
    };
    (@backend $module:ident, $variant:ident, $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run_on($crate::harness::TestBackend::$variant, super::$test).await;
                }
            )+
        }
    };
}

mod delivery;
mod lag;
mod redis_outage;
mod redis_wire;
mod validation;
