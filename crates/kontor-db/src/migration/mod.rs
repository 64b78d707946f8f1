//! The one migration history, written with SeaORM's schema builder so that the same steps run on
//! SQLite, PostgreSQL and MariaDB. Applied migrations are recorded in `seaql_migrations`, so running
//! them again is a no-op. Past migrations are never edited; a change is a new migration.

mod m20261125_000001_catalog;
mod m20261125_000002_queue;
mod m20261125_000003_read_model;
mod m20261125_000004_customers;
mod m20261125_000005_carts;
mod m20261125_000006_image_storage;
mod m20261125_000007_orders;
mod m20261125_000008_scheduler;
mod m20261125_000009_fan_out;
mod m20261125_000010_acl_audit;
mod m20261126_000011_image_keys;
mod m20261126_000012_outbox_notify;
mod m20261127_000013_cart_idempotency;
mod m20261127_000014_volume_prices;
mod m20261127_000015_product_reviews;
mod m20261127_000016_product_popularity;
pub(crate) mod schema;

use sea_orm_migration::prelude::*;

pub use m20261125_000003_read_model::table_name as storage_table_name;
pub use m20261126_000012_outbox_notify::OUTBOX_CHANNEL;

pub struct Migrator;

/// The names of every migration this binary knows, oldest first.
pub fn migration_names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect()
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_catalog::Migration),
            Box::new(m20261125_000002_queue::Migration),
            Box::new(m20261125_000003_read_model::Migration),
            Box::new(m20261125_000004_customers::Migration),
            Box::new(m20261125_000005_carts::Migration),
            Box::new(m20261125_000006_image_storage::Migration),
            Box::new(m20261125_000007_orders::Migration),
            Box::new(m20261125_000008_scheduler::Migration),
            Box::new(m20261125_000009_fan_out::Migration),
            Box::new(m20261125_000010_acl_audit::Migration),
            Box::new(m20261126_000011_image_keys::Migration),
            Box::new(m20261126_000012_outbox_notify::Migration),
            Box::new(m20261127_000013_cart_idempotency::Migration),
            Box::new(m20261127_000014_volume_prices::Migration),
            Box::new(m20261127_000015_product_reviews::Migration),
            Box::new(m20261127_000016_product_popularity::Migration),
        ]
    }
}
