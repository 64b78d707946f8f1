//! Fan-out for search replicas (issue 9): `queue_subscription` binds a queue to a topic of the SQL table
//! queue, so every storefront node's replica gets its own copy of `sync.search.*` (one consumer group
//! per node), and an index on `product_page_search (source_ts, id)` lets a replica that starts or fell
//! behind read the changes since its watermark without scanning the table.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000009_fan_out"
    }
}

const FEED_INDEX: &str = "idx_product_page_search_feed";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "queue_subscription")
            .string("topic", 255)
            .string("queue", 255)
            .timestamp("created_at")
            .primary_key(&["topic", "queue"])
            .create(manager)
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(FEED_INDEX)
                    .table("product_page_search")
                    .col("source_ts")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(FEED_INDEX).table("product_page_search").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("queue_subscription").if_exists().to_owned())
            .await
    }
}
