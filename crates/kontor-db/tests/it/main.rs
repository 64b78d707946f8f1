//! Repository conformance suite: every test runs on SQLite, PostgreSQL and MariaDB.

mod fixtures;
mod migrations;
mod stores;
