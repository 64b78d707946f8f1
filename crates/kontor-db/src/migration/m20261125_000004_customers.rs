//! Customer accounts: customers with their per-store reference sequence, addresses, refresh tokens,
//! password reset keys and the failed sign-ins that throttling counts.
//!
//! Secrets are stored as SHA-256 hex (64 characters) under unique indexes, so each look-up is one
//! indexed read. E-mails are stored lower-case under a unique index, which makes them unique
//! case-insensitively on every engine.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000004_customers"
    }
}

/// Every table of this migration, parents before children; `down` drops them in reverse.
const TABLES: &[&str] = &[
    "customer_reference_sequence",
    "customer",
    "customer_address",
    "customer_refresh_token",
    "customer_password_reset",
    "customer_login_failure",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict};
        let backend = manager.get_database_backend();
        let table = |name| TableBuilder::new(backend, name);

        // The last number handed out per store: references are `<STORE>--<n>`.
        table("customer_reference_sequence")
            .id()
            .reference("store_id", "store", Cascade)
            .big_integer("last_number")
            .unique(&["store_id"])
            .create(manager)
            .await?;
        table("customer")
            .id()
            .string("customer_reference", 255)
            .reference("store_id", "store", Restrict)
            .string("email", 254)
            .string("salutation", 8)
            .string("first_name", 100)
            .string("last_name", 100)
            .string_null("gender", 16)
            .string_null("date_of_birth", 10)
            .string("password_hash", 255)
            .timestamp_null("deleted_at")
            .timestamps()
            .unique(&["customer_reference"])
            .unique(&["email"])
            .create(manager)
            .await?;
        table("customer_address")
            .id()
            .string("uuid", 36)
            .reference("customer_id", "customer", Cascade)
            .string("salutation", 8)
            .string("first_name", 100)
            .string("last_name", 100)
            .string("address1", 255)
            .string_null("address2", 255)
            .string_null("address3", 255)
            .string("zip_code", 32)
            .string("city", 255)
            .string("country", 255)
            .string("iso2_code", 2)
            .string_null("company", 255)
            .string_null("phone", 255)
            .boolean("is_default_shipping", false)
            .boolean("is_default_billing", false)
            .timestamps()
            .unique(&["uuid"])
            .index(&["customer_id"])
            .create(manager)
            .await?;
        table("customer_refresh_token")
            .id()
            .reference("customer_id", "customer", Cascade)
            .string("token_hash", 64)
            .timestamp("created_at")
            .timestamp("expires_at")
            .timestamp_null("used_at")
            .timestamp_null("revoked_at")
            .unique(&["token_hash"])
            .index(&["customer_id"])
            .create(manager)
            .await?;
        table("customer_password_reset")
            .id()
            .reference("customer_id", "customer", Cascade)
            .string("key_hash", 64)
            .timestamp("created_at")
            .timestamp("expires_at")
            .timestamp_null("used_at")
            .unique(&["key_hash"])
            .index(&["customer_id"])
            .create(manager)
            .await?;
        // Keyed by the e-mail as typed (lower-cased), not by customer: unknown addresses count too.
        table("customer_login_failure")
            .id()
            .string("email", 254)
            .string_null("client_ip", 64)
            .timestamp("failed_at")
            .index(&["email", "failed_at"])
            .index(&["client_ip", "failed_at"])
            .index(&["failed_at"])
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
