//! Admin API and Back Office UI tests: the real router over a real database, on SQLite, PostgreSQL and MariaDB.

mod acl;
mod api;
mod catalog_flow;
mod errors;
mod files;
mod openapi;
mod scheduler;
mod ui_admin;
mod ui_catalog;
mod ui_imports;
mod ui_orders;
pub mod ui_support;
