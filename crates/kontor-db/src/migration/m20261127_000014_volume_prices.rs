//! `price_product.volume_prices`: a price's volume prices (lower unit prices from a quantity on, Spryker's
//! `price_data.volume_prices`) as the JSON list of `kontor_domain::pricing::VolumePrice`, ascending by
//! quantity; NULL for none. They are only ever read with their price, so a column beats a table.

use super::schema::text_column;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000014_volume_prices"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = text_column(manager.get_database_backend(), "volume_prices");
        manager
            .alter_table(
                Table::alter()
                    .table("price_product")
                    .add_column(column.null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("price_product")
                    .drop_column("volume_prices")
                    .to_owned(),
            )
            .await
    }
}
