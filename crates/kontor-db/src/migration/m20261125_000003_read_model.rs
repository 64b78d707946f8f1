//! Storage and search tables of the read model (`../shared/spec/publish-sync.md` §5): one table per
//! projection, `<projection>_storage` for KV documents and `product_page_search` for search documents.
//! They are the single SQL copy of the read model; `kontor sync` rebuilds KV and search from them.

use super::schema::TableBuilder;
use kontor_readmodel::storage::projection;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000003_read_model"
    }
}

/// The table a projection's documents are kept in.
pub fn table_name(projection_name: &str) -> String {
    if projection_name == projection::PRODUCT_PAGE {
        "product_page_search".to_owned()
    } else {
        format!("{projection_name}_storage")
    }
}

/// Creates the storage table of a projection; later migrations that add projections call it too, so
/// every storage table has exactly this layout.
pub(crate) async fn create_storage_table(manager: &SchemaManager<'_>, projection_name: &str) -> Result<(), DbErr> {
    TableBuilder::new(manager.get_database_backend(), table_name(projection_name))
        .id()
        .string("key", 512)
        .big_integer_null("entity_id")
        .string_null("store", 8)
        .string_null("locale", 16)
        // NULL marks a tombstone: the document was deleted at `source_ts`.
        .text_null("data")
        .string("data_hash", 32)
        .timestamp("source_ts")
        .timestamps()
        .unique(&["key"])
        .index(&["entity_id"])
        .create(manager)
        .await
}

/// Creates the storage table of a projection added after this migration shipped, unless it exists:
/// a database migrated from scratch already has it from this migration (`projection::ALL` lists it).
pub(crate) async fn create_missing_storage_table(
    manager: &SchemaManager<'_>,
    projection_name: &str,
) -> Result<(), DbErr> {
    if manager.has_table(table_name(projection_name).as_str()).await? {
        return Ok(());
    }
    create_storage_table(manager, projection_name).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for projection_name in projection::ALL {
            create_storage_table(manager, projection_name).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for projection_name in projection::ALL.iter().rev() {
            manager
                .drop_table(Table::drop().table(table_name(projection_name)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
