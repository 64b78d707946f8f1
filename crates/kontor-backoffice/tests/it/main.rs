//! Admin API tests: the real router over a real database, on SQLite, PostgreSQL and MariaDB.

mod api;
mod catalog_flow;
mod errors;
mod files;
mod openapi;
mod scheduler;
