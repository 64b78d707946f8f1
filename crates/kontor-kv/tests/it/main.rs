//! Integration tests of `kontor-kv`: one conformance suite, run on every backend.
//!
//! `kv_test_suite!(test_a, test_b, …)` turns each `async fn test(kv: TestKv)` of the calling module
//! into `memory::test`, `redb::test` and `redis::test`. redb tests get a temp file each; Redis tests a
//! unique namespace on the local server (`KONTOR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`),
//! removed afterwards. A Redis that cannot be reached FAILS its tests; only `KONTOR_TEST_BACKENDS`
//! (a deliberate comma list such as `memory,redb`) leaves a backend out.

mod harness;

/// Instantiates every listed test once per backend; see the crate-level docs of this test binary.
macro_rules! kv_test_suite {
    ($($test:ident),+ $(,)?) => {
        kv_test_suite!(@backend memory, Memory, $($test),+);
        kv_test_suite!(@backend redb, Redb, $($test),+);
        kv_test_suite!(@backend redis, Redis, $($test),+);
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

mod apply;
mod read;
mod redis_layout;
mod scan;
mod tombstones;
mod validation;
