//! Storage tables of the image projections (`product_abstract_image_storage`,
//! `product_concrete_image_storage`), added after the read-model migration had shipped.
//!
//! `m20261125_000003_read_model` creates one table per name in `projection::ALL`, and that list now
//! holds the image projections too, so a database migrated from scratch already has these tables when
//! this step runs. A database migrated before they existed does not. This step therefore creates each
//! table only when it is missing, with exactly the read-model layout, so both paths end in the same
//! schema.

use super::m20261125_000003_read_model::table_name;
use super::schema::TableBuilder;
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
        let backend = manager.get_database_backend();
        for projection_name in IMAGE_PROJECTIONS {
            let table = table_name(projection_name);
            if manager.has_table(table.as_str()).await? {
                continue;
            }
            // The same columns as every other storage table (see m20261125_000003_read_model).
            TableBuilder::new(backend, table)
                .id()
                .string("key", 512)
                .big_integer_null("entity_id")
                .string_null("store", 8)
                .string_null("locale", 16)
                .text_null("data")
                .string("data_hash", 32)
                .timestamp("source_ts")
                .timestamps()
                .unique(&["key"])
                .index(&["entity_id"])
                .create(manager)
                .await?;
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
