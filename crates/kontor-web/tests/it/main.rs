//! Integration tests of `kontor-web`: the file routes over the real file stores (local and S3, via
//! `kontor_files::files_test_suite!`; see `kontor_files::testing` for how each test gets its store).

mod files;
