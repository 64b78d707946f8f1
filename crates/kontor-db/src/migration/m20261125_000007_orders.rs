//! Checkout, sales and OMS tables.
//!
//! - Shipment and payment methods (`shipment_method`, `shipment_method_store`, `shipment_method_price`,
//!   `payment_method`, `payment_method_store`), keyed by their import keys.
//! - Orders (`sales_order` and its addresses, items, expenses, shipments, payments). Amounts are minor
//!   units of the order's currency, tax rates basis points. `sales_order.idempotency_key` is unique per
//!   owner (`c:<customer reference>` / `g:<anonymous id>`), so a retried checkout finds its first order.
//! - The OMS runtime of `oms.md` §5: state history, timeouts (one row per item, state and timed event),
//!   the transition log, order locks with expiry, and reservations per SKU and store
//!   (`oms_product_reservation`, the Σ of quantities of items in reserved states), and the keys of
//!   commands that ran (`oms_command_run`), so a command repeated after a crash is skipped.
//!
//! Order items carry no foreign key to the catalog: an order outlives its products.

use super::schema::TableBuilder;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000007_orders"
    }
}

/// Tables in creation order; dropped in reverse.
const TABLES: &[&str] = &[
    "shipment_method",
    "shipment_method_store",
    "shipment_method_price",
    "payment_method",
    "payment_method_store",
    "sales_order_reference_sequence",
    "sales_order",
    "sales_order_address",
    "sales_shipment",
    "sales_order_item",
    "sales_expense",
    "sales_payment",
    "oms_state_history",
    "oms_event_timeout",
    "oms_transition_log",
    "oms_lock",
    "oms_product_reservation",
    "oms_command_run",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "shipment_method")
            .id()
            .string("method_key", 255)
            .string("name", 255)
            .string("carrier_name", 255)
            .string_null("delivery_time", 255)
            .reference_null("tax_set_id", "tax_set", SetNull)
            .boolean("is_active", true)
            .timestamps()
            .unique(&["method_key"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "shipment_method_store")
            .reference("shipment_method_id", "shipment_method", Cascade)
            .reference("store_id", "store", Cascade)
            .primary_key(&["shipment_method_id", "store_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "shipment_method_price")
            .id()
            .reference("shipment_method_id", "shipment_method", Cascade)
            .reference("store_id", "store", Cascade)
            .reference("currency_id", "currency", Cascade)
            .big_integer_null("net_amount")
            .big_integer_null("gross_amount")
            .unique(&["shipment_method_id", "store_id", "currency_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "payment_method")
            .id()
            .string("method_key", 255)
            .string("name", 255)
            .string("provider_key", 255)
            .string("provider_name", 255)
            .integer("priority", 0)
            .boolean("is_active", true)
            .timestamps()
            .unique(&["method_key"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "payment_method_store")
            .reference("payment_method_id", "payment_method", Cascade)
            .reference("store_id", "store", Cascade)
            .primary_key(&["payment_method_id", "store_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_order_reference_sequence")
            .reference("store_id", "store", Cascade)
            .big_integer("last_number")
            .primary_key(&["store_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_order")
            .id()
            .string("order_reference", 64)
            .reference("store_id", "store", Restrict)
            .string("owner_key", 260)
            .string_null("customer_reference", 255)
            .string_null("idempotency_key", 255)
            .string("email", 255)
            .string_null("salutation", 16)
            .string("first_name", 255)
            .string("last_name", 255)
            .string("locale", 16)
            .string("currency_code", 3)
            .string("price_mode", 16)
            .big_integer("subtotal")
            .big_integer("expense_total")
            .big_integer("tax_total")
            .big_integer("grand_total")
            .big_integer("canceled_total")
            .big_integer("refunded_total")
            .timestamps()
            .unique(&["order_reference"])
            .unique(&["owner_key", "idempotency_key"])
            .index(&["customer_reference", "created_at"])
            .index(&["created_at"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_order_address")
            .id()
            .reference("order_id", "sales_order", Cascade)
            .string("kind", 16)
            .string_null("salutation", 16)
            .string("first_name", 255)
            .string("last_name", 255)
            .string("address1", 255)
            .string_null("address2", 255)
            .string_null("address3", 255)
            .string("zip_code", 32)
            .string("city", 255)
            .string("iso2_code", 2)
            .string_null("company", 255)
            .string_null("phone", 64)
            .index(&["order_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_shipment")
            .id()
            .reference("order_id", "sales_order", Cascade)
            .reference_null("shipment_method_id", "shipment_method", SetNull)
            .string("method_key", 255)
            .string("method_name", 255)
            .string("carrier_name", 255)
            .reference_null("address_id", "sales_order_address", SetNull)
            .string_null("requested_delivery_date", 32)
            .index(&["order_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_order_item")
            .id()
            .string("uuid", 36)
            .reference("order_id", "sales_order", Cascade)
            .reference_null("shipment_id", "sales_shipment", SetNull)
            .string("sku", 255)
            .string("abstract_sku", 255)
            .string("name", 255)
            .big_integer("quantity")
            .big_integer("unit_price")
            .big_integer("sum_price")
            .integer("tax_rate_basis_points", 0)
            .big_integer("sum_tax_amount")
            .big_integer("canceled_amount")
            .big_integer("refunded_amount")
            .string("oms_process", 255)
            .string("oms_state", 255)
            .timestamp("oms_state_entered_at")
            .timestamp_null("oms_last_checked_at")
            .unique(&["uuid"])
            .index(&["order_id"])
            .index(&["oms_process", "oms_state"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_expense")
            .id()
            .reference("order_id", "sales_order", Cascade)
            .string("kind", 64)
            .string("name", 255)
            .big_integer("unit_price")
            .big_integer("sum_price")
            .integer("tax_rate_basis_points", 0)
            .big_integer("sum_tax_amount")
            .index(&["order_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "sales_payment")
            .id()
            .reference("order_id", "sales_order", Cascade)
            .string("provider", 255)
            .string("method", 255)
            .big_integer("amount")
            .string("status", 32)
            .big_integer("captured_amount")
            .big_integer("refunded_amount")
            .string_null("external_reference", 255)
            .timestamps()
            .index(&["order_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "oms_state_history")
            .id()
            .reference("order_item_id", "sales_order_item", Cascade)
            .string("process", 255)
            .string("state", 255)
            .timestamp("entered_at")
            .index(&["order_item_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "oms_event_timeout")
            .id()
            .reference("order_item_id", "sales_order_item", Cascade)
            .big_integer("order_id")
            .string("state", 255)
            .string("event", 255)
            .timestamp("due_at")
            .integer("attempts", 0)
            .unique(&["order_item_id", "state", "event"])
            .index(&["due_at"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "oms_transition_log")
            .id()
            .big_integer("order_id")
            .big_integer("order_item_id")
            .string_null("event", 255)
            .string("source_state", 255)
            .string_null("target_state", 255)
            .string_null("command_key", 255)
            .string_null("condition_key", 255)
            .string("origin", 255)
            .boolean("is_error", false)
            .text_null("error_message")
            .timestamp("created_at")
            .index(&["order_id"])
            .index(&["created_at"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "oms_lock")
            .string("identifier", 255)
            .string("holder", 255)
            .timestamp("expires_at")
            .primary_key(&["identifier"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "oms_product_reservation")
            .id()
            .string("sku", 255)
            .reference("store_id", "store", Cascade)
            .big_integer("quantity")
            .unique(&["sku", "store_id"])
            .create(manager)
            .await?;
        TableBuilder::new(backend, "oms_command_run")
            .string("idempotency_key", 255)
            .timestamp("created_at")
            .primary_key(&["idempotency_key"])
            .index(&["created_at"])
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
