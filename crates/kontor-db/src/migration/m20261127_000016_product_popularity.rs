//! `product_abstract_popularity`: units of each abstract product ordered in the recent window (30 days),
//! recomputed by the daily `catalog-refresh-popularity` job. The search page's `popularity` sort key
//! reads it; a product without orders in the window has no row.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000016_product_popularity"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "product_abstract_popularity")
            .reference("product_abstract_id", "product_abstract", ForeignKeyAction::Cascade)
            .big_integer("units_sold")
            .timestamp("updated_at")
            .primary_key(&["product_abstract_id"])
            .create(manager)
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("product_abstract_popularity")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
