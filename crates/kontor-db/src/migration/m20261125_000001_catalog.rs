//! The foundation schema: stores, glossary, tax, catalog, URLs, prices, stock, images, Back Office users,
//! API tokens and the outbox.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000001_catalog"
    }
}

/// Every table of this migration, parents before children; `down` drops them in reverse.
const TABLES: &[&str] = &[
    "locale",
    "currency",
    "store",
    "store_locale",
    "store_currency",
    "glossary_key",
    "glossary_translation",
    "product_attribute_key",
    "tax_set",
    "tax_rate",
    "product_abstract",
    "product_abstract_localized",
    "product_abstract_store",
    "product_concrete",
    "product_concrete_localized",
    "category",
    "category_localized",
    "category_store",
    "category_node",
    "product_category",
    "url_redirect",
    "url",
    "price_type",
    "price_product",
    "warehouse",
    "warehouse_store",
    "stock_product",
    "product_image_set",
    "product_image",
    "backoffice_user",
    "api_token",
    "outbox",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict};
        let backend = manager.get_database_backend();
        let table = |name| TableBuilder::new(backend, name);

        table("locale")
            .id()
            .string("name", 16)
            .boolean("is_active", true)
            .unique(&["name"])
            .create(manager)
            .await?;
        table("currency")
            .id()
            .string("code", 3)
            .string("name", 255)
            .integer("fraction_digits", 2)
            .unique(&["code"])
            .create(manager)
            .await?;
        table("store")
            .id()
            .string("name", 64)
            .reference("default_locale_id", "locale", Restrict)
            .reference("default_currency_id", "currency", Restrict)
            .string("timezone", 64)
            .timestamps()
            .unique(&["name"])
            .create(manager)
            .await?;
        for (join, column, target) in [
            ("store_locale", "locale_id", "locale"),
            ("store_currency", "currency_id", "currency"),
        ] {
            table(join)
                .reference("store_id", "store", Cascade)
                .reference(column, target, Restrict)
                .integer("position", 0)
                .primary_key(&["store_id", column])
                .create(manager)
                .await?;
        }

        table("glossary_key")
            .id()
            .string("key", 255)
            .timestamps()
            .unique(&["key"])
            .create(manager)
            .await?;
        table("glossary_translation")
            .id()
            .reference("glossary_key_id", "glossary_key", Cascade)
            .reference("locale_id", "locale", Restrict)
            .text("value")
            .unique(&["glossary_key_id", "locale_id"])
            .create(manager)
            .await?;

        table("product_attribute_key")
            .id()
            .string("key", 255)
            .boolean("is_super", false)
            .unique(&["key"])
            .create(manager)
            .await?;

        table("tax_set")
            .id()
            .string("name", 255)
            .timestamps()
            .unique(&["name"])
            .create(manager)
            .await?;
        table("tax_rate")
            .id()
            .reference("tax_set_id", "tax_set", Cascade)
            .string("country", 2)
            .string("name", 255)
            .integer("rate_basis_points", 0)
            .unique(&["tax_set_id", "country"])
            .create(manager)
            .await?;

        table("product_abstract")
            .id()
            .string("sku", 255)
            .text("attributes")
            .reference_null("tax_set_id", "tax_set", Restrict)
            .timestamps()
            .unique(&["sku"])
            .create(manager)
            .await?;
        table("product_abstract_localized")
            .id()
            .reference("product_abstract_id", "product_abstract", Cascade)
            .reference("locale_id", "locale", Restrict)
            .string("name", 255)
            .text("description")
            .string("meta_title", 255)
            .string("meta_keywords", 255)
            .text("meta_description")
            .text("attributes")
            .unique(&["product_abstract_id", "locale_id"])
            .index(&["name"])
            .create(manager)
            .await?;
        table("product_abstract_store")
            .reference("product_abstract_id", "product_abstract", Cascade)
            .reference("store_id", "store", Restrict)
            .primary_key(&["product_abstract_id", "store_id"])
            .create(manager)
            .await?;
        table("product_concrete")
            .id()
            .string("sku", 255)
            .reference("product_abstract_id", "product_abstract", Restrict)
            .text("attributes")
            .boolean("is_active", true)
            .timestamps()
            .unique(&["sku"])
            .index(&["product_abstract_id"])
            .create(manager)
            .await?;
        table("product_concrete_localized")
            .id()
            .reference("product_concrete_id", "product_concrete", Cascade)
            .reference("locale_id", "locale", Restrict)
            .string("name", 255)
            .text("description")
            .boolean("is_searchable", true)
            .text("attributes")
            .unique(&["product_concrete_id", "locale_id"])
            .index(&["name"])
            .create(manager)
            .await?;

        table("category")
            .id()
            .string("category_key", 255)
            .boolean("is_active", true)
            .timestamps()
            .unique(&["category_key"])
            .create(manager)
            .await?;
        table("category_localized")
            .id()
            .reference("category_id", "category", Cascade)
            .reference("locale_id", "locale", Restrict)
            .string("name", 255)
            .string("meta_title", 255)
            .text("meta_description")
            .unique(&["category_id", "locale_id"])
            .create(manager)
            .await?;
        table("category_store")
            .reference("category_id", "category", Cascade)
            .reference("store_id", "store", Restrict)
            .primary_key(&["category_id", "store_id"])
            .create(manager)
            .await?;
        table("category_node")
            .id()
            .reference("category_id", "category", Cascade)
            .reference_null("parent_node_id", "category_node", Restrict)
            .boolean("is_root", false)
            .boolean("is_main", true)
            .integer("sort_order", 0)
            .index(&["category_id"])
            .index(&["parent_node_id"])
            .create(manager)
            .await?;
        table("product_category")
            .id()
            .reference("product_abstract_id", "product_abstract", Cascade)
            .reference("category_id", "category", Cascade)
            .integer("sort_order", 0)
            .timestamps()
            .unique(&["product_abstract_id", "category_id"])
            .index(&["category_id"])
            .create(manager)
            .await?;

        table("url_redirect")
            .id()
            .string("to_url", 255)
            .integer("status_code", 301)
            .create(manager)
            .await?;
        table("url")
            .id()
            .string("url", 255)
            .reference("locale_id", "locale", Restrict)
            .reference_null("product_abstract_id", "product_abstract", Cascade)
            .reference_null("category_node_id", "category_node", Cascade)
            .reference_null("url_redirect_id", "url_redirect", Cascade)
            .timestamp("updated_at")
            .unique(&["url"])
            .index(&["product_abstract_id"])
            .index(&["category_node_id"])
            .create(manager)
            .await?;

        table("price_type")
            .id()
            .string("name", 255)
            .string("price_mode", 16)
            .unique(&["name"])
            .create(manager)
            .await?;
        let seed_price_types = Query::insert()
            .into_table("price_type")
            .columns(["name", "price_mode"])
            .values_panic(["DEFAULT".into(), "BOTH".into()])
            .values_panic(["ORIGINAL".into(), "BOTH".into()])
            .to_owned();
        manager.exec_stmt(seed_price_types).await?;
        table("price_product")
            .id()
            // `a<id>` or `c<id>` + type + store + currency: one natural key whichever product kind
            // owns the price, because a unique index over two nullable owner columns would let
            // duplicates through (NULLs never collide).
            .string("price_key", 255)
            .reference_null("product_abstract_id", "product_abstract", Cascade)
            .reference_null("product_concrete_id", "product_concrete", Cascade)
            .reference("price_type_id", "price_type", Restrict)
            .reference("store_id", "store", Restrict)
            .reference("currency_id", "currency", Restrict)
            .big_integer_null("net_amount")
            .big_integer_null("gross_amount")
            .timestamps()
            .unique(&["price_key"])
            .index(&["product_abstract_id"])
            .index(&["product_concrete_id"])
            .create(manager)
            .await?;

        table("warehouse")
            .id()
            .string("name", 255)
            .boolean("is_active", true)
            .timestamps()
            .unique(&["name"])
            .create(manager)
            .await?;
        table("warehouse_store")
            .reference("warehouse_id", "warehouse", Cascade)
            .reference("store_id", "store", Restrict)
            .primary_key(&["warehouse_id", "store_id"])
            .create(manager)
            .await?;
        table("stock_product")
            .id()
            .reference("product_concrete_id", "product_concrete", Cascade)
            .reference("warehouse_id", "warehouse", Restrict)
            .big_integer("quantity")
            .boolean("is_never_out_of_stock", false)
            .timestamps()
            .unique(&["product_concrete_id", "warehouse_id"])
            .create(manager)
            .await?;

        table("product_image_set")
            .id()
            .string("name", 255)
            .reference_null("product_abstract_id", "product_abstract", Cascade)
            .reference_null("product_concrete_id", "product_concrete", Cascade)
            .reference_null("locale_id", "locale", Restrict)
            .timestamps()
            .index(&["product_abstract_id"])
            .index(&["product_concrete_id"])
            .create(manager)
            .await?;
        table("product_image")
            .id()
            .reference("product_image_set_id", "product_image_set", Cascade)
            .text("external_url_small")
            .text("external_url_large")
            .integer("sort_order", 0)
            .create(manager)
            .await?;

        table("backoffice_user")
            .id()
            .string("email", 254)
            .string("password_hash", 255)
            .boolean("is_active", true)
            .timestamps()
            .unique(&["email"])
            .create(manager)
            .await?;
        table("api_token")
            .id()
            .reference("user_id", "backoffice_user", Cascade)
            .string("name", 255)
            .string("token_hash", 64)
            .timestamp("created_at")
            .timestamp_null("revoked_at")
            .unique(&["token_hash"])
            .create(manager)
            .await?;

        // The outbox of ../shared/spec/publish-sync.md §2. `id` is an insertion id, not a commit order:
        // the relay claims rows whose `relayed_at` is NULL, never "ids above a mark".
        table("outbox")
            .id()
            .string("resource", 64)
            .big_integer("entity_id")
            .string("event", 128)
            .text_null("changed_columns")
            .text_null("foreign_keys")
            .timestamp("changed_at")
            .timestamp_null("relayed_at")
            .index(&["relayed_at", "id"])
            .index(&["resource", "entity_id"])
            .create(manager)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*name).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
