//! Storage tables of the image projections (`product_abstract_image_storage`,
//! `product_concrete_image_storage`), added after the read-model migration had shipped.
//!
//! `m20261125_000003_read_model` creates one table per name in `projection::ALL`, and that list now
//! holds the image projections too, so a database migrated from scratch already has these tables when
//! this step runs. A database migrated before they existed does not. This step therefore creates each
//! table only when it is missing, with exactly the read-model layout, so both paths end in the same
//! schema.

use super::m20261125_000003_read_model::{create_missing_storage_table, table_name};
use kontor_readmodel::storage::projection;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000006_image_storage"
    }
}

const IMAGE_PROJECTIONS: [&str; 2] = [projection::PRODUCT_ABSTRACT_IMAGE, projection::PRODUCT_CONCRETE_IMAGE];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for projection_name in IMAGE_PROJECTIONS {
            create_missing_storage_table(manager, projection_name).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for projection_name in IMAGE_PROJECTIONS.iter().rev() {
            manager
                .drop_table(Table::drop().table(table_name(projection_name)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
