//! `cart_idempotency_key`: the `Idempotency-Key`s of cart writes (storefront-api.md §1: same key and
//! same body within 24 h return the first response).
//!
//! A row is inserted in the transaction of the write it guards, so it exists exactly when the write
//! committed: a retry after a crash finds it and changes nothing. `fingerprint` is the SHA-256 of the
//! request without its key (a different request under a used key is refused); `reply` is the first
//! answer as gateway JSON, filled in right after the commit (NULL until then, or for good if the
//! process died in between: a repeat then answers with the cart as it is). Keys are per owner
//! (`c:<customer reference>` / `g:<anonymous id>`). Expired rows are deleted by `kontor carts
//! purge-guests`, hence the index on `created_at`.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000013_cart_idempotency"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "cart_idempotency_key")
            .string("owner_key", 260)
            .string("idempotency_key", 255)
            .string("fingerprint", 64)
            .string("cart_uuid", 36)
            .text_null("reply")
            .timestamp("created_at")
            .primary_key(&["owner_key", "idempotency_key"])
            .index(&["created_at"])
            .create(manager)
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("cart_idempotency_key").if_exists().to_owned())
            .await
    }
}
