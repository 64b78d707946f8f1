//! Repository conformance suite: every test runs on SQLite, PostgreSQL and MariaDB.

mod acl;
mod audit;
mod carts;
mod catalog;
mod customers;
mod fixtures;
mod glossary;
mod migrations;
mod oms_lock;
mod oms_log;
mod popularity;
mod pricing;
mod read_model;
mod reviews;
mod stock;
mod stores;
mod tax;
mod users;
