//! `product_review`: customer reviews of abstract products (Spryker's `spy_product_review`), and the
//! storage tables of the two review projections (`product_abstract_review_storage`,
//! `product_review_storage`).
//!
//! A review belongs to its product (deleted with it) and is written in a locale; the customer is kept
//! by reference only, as in Spryker, so a review outlives an anonymised account. Publishers read the
//! approved reviews of a set of products, hence the index on (product, status).
//!
//! The storage tables are created only when missing: a database migrated from scratch already has them
//! from `m20261125_000003_read_model`, whose `projection::ALL` now lists the review projections.

use super::m20261125_000003_read_model::{create_missing_storage_table, table_name};
use super::schema::TableBuilder;
use kontor_readmodel::storage::projection;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000015_product_reviews"
    }
}

const REVIEW_PROJECTIONS: [&str; 2] = [projection::PRODUCT_ABSTRACT_REVIEW, projection::PRODUCT_REVIEW];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict};
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "product_review")
            .id()
            .reference("product_abstract_id", "product_abstract", Cascade)
            .reference("locale_id", "locale", Restrict)
            .string("customer_reference", 255)
            .string("nickname", 255)
            .string("summary", 255)
            .text("description")
            .integer("rating", 0)
            .string("status", 16)
            .timestamps()
            .index(&["product_abstract_id", "status"])
            .index(&["status"])
            .create(manager)
            .await?;
        for projection_name in REVIEW_PROJECTIONS {
            create_missing_storage_table(manager, projection_name).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for projection_name in REVIEW_PROJECTIONS.iter().rev() {
            manager
                .drop_table(Table::drop().table(table_name(projection_name)).if_exists().to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("product_review").if_exists().to_owned())
            .await
    }
}
