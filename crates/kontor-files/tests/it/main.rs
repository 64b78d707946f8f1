//! Integration tests of `kontor-files`: one conformance suite, run on the local and the S3 backend.
//!
//! `files_test_suite!(test_a, …)` (from `kontor_files::testing`) turns each `async fn test(files)` of the
//! calling module into `local::test` and `s3::test`. Local tests get a temp directory each; S3 tests a key
//! prefix of their own in the bucket of `KONTOR_TEST_S3_URL` (default: the server `scripts/s3-server`
//! starts). An S3 server that cannot be reached FAILS its tests; only `KONTOR_TEST_SKIP_S3=1` skips them.
//! The HTTP routes are tested where they live, in `kontor-web`.

mod content_types;
mod keys;
mod large;
mod opening;
mod read_write;
mod signing;
