//! Integration tests of the importer: invented CSV fixtures written to a temp dir, imported into a
//! fresh database per test on SQLite, PostgreSQL and MariaDB.

mod checkout;
mod customers;
mod dialect;
mod errors;
mod fixtures;
mod generate;
mod images;
mod recipe;
mod reviews;
mod shop;
