//! Carts tables: `cart` (one row per customer or guest cart, store-scoped) and `cart_item` (its lines,
//! one per group key). Prices are not stored; carts are priced from the catalog on every read.
//!
//! `default_owner_key` is `c:<customer reference>` or `g:<anonymous id>` on the owner's default cart in a
//! store and NULL on every other cart, so the unique index over (store, default_owner_key) lets each owner
//! have at most one default cart per store (a guest's one cart is its default) on all three engines, NULLs
//! never colliding. Owners are plain strings: no foreign key to the customer tables.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000005_carts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict};
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "cart")
            .id()
            .string("uuid", 36)
            .reference("store_id", "store", Restrict)
            .string_null("customer_reference", 255)
            .string_null("anonymous_id", 255)
            .string_null("default_owner_key", 260)
            .string("name", 255)
            .reference("currency_id", "currency", Restrict)
            .string("price_mode", 16)
            .boolean("is_default", false)
            .timestamps()
            .big_integer("version")
            .unique(&["uuid"])
            .unique(&["store_id", "default_owner_key"])
            .index(&["customer_reference", "store_id"])
            .index(&["anonymous_id", "store_id"])
            .index(&["updated_at"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "cart_item")
            .id()
            .reference("cart_id", "cart", Cascade)
            .string("sku", 255)
            .string("group_key", 255)
            .big_integer("quantity")
            .unique(&["cart_id", "group_key"])
            .create(manager)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["cart_item", "cart"] {
            manager
                .drop_table(Table::drop().table(name).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
