//! Relational storage for the Back Office: SeaORM entities, the one migration history, and the
//! repositories that implement `kontor-domain`'s ports, written once for SQLite, PostgreSQL and MariaDB.
//!
//! Invariant: every write runs in one transaction that also inserts its `outbox` rows, so a change is
//! either stored together with the event that publishes it or not at all.

pub mod entity;
pub mod migration;
pub mod read_model;
mod repo;

pub use read_model::{RowOutcome, StorageRow};
pub use repo::{
    SqlDatabase,
    outbox::{OutboxListener, OutboxReader},
    popularity::{POPULARITY_OUTBOX, PopularityRefresh},
};
pub use sea_orm::{DatabaseConnection, DbBackend, DbErr};
