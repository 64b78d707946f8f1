//! The built-in OMS plugins (oms.md §4) under the keys Kontor's and Spryker's demo processes use:
//! mails (`Oms/SendOrderConfirmation`, `Oms/SendOrderShipped`, `Invoice/Generate`,
//! `Oms/SendOrderCancelled`), payments through
//! a provider chosen by the order's payment (`Payment/*`, and Spryker's test payment `DummyPayment/*`,
//! which authorises and pays every order), stock (`Shipment/Ship` takes shipped units out of stock,
//! `Return/Receive` puts returned units back, `WarehouseAllocation/WarehouseAllocate` checks a
//! warehouse of the store holds each SKU), `Return/StartReturn`, and the timeout processor
//! `OmsTimeout/Initiation` (due relative to the order's creation).

use super::{
    CommandContext, CommandError, CommandMode, OmsCommand, OmsCondition, OmsRegistry, OmsRepository, TimeoutProcessor,
};
use crate::checkout::{StoredOrder, StoredOrderItem, StoredPayment, payment_status};
use crate::customer::{Mail, Mailer};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_oms::Timeout;
use std::collections::HashMap;
use std::sync::Arc;

/// A payment provider: moves a payment through authorise, capture, refund and cancel and answers its
/// new status. Providers are chosen by the payment's provider key.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    async fn capture(&self, order: &StoredOrder, payment: &StoredPayment) -> Result<PaymentChange, CommandError>;
    async fn refund(
        &self,
        order: &StoredOrder,
        payment: &StoredPayment,
        amount: i64,
    ) -> Result<PaymentChange, CommandError>;
    async fn cancel(&self, order: &StoredOrder, payment: &StoredPayment) -> Result<PaymentChange, CommandError>;
}

/// A payment's new status and amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentChange {
    pub status: &'static str,
    pub captured_amount: i64,
    pub refunded_amount: i64,
}

/// Payments settled outside any gateway: invoice, prepayment and Spryker's test payment. Capture
/// records the money as received (the merchant confirms it with the manual `pay` event); refunds and
/// cancellations are bookkeeping.
pub struct OfflinePayment;

#[async_trait]
impl PaymentProvider for OfflinePayment {
    async fn capture(&self, _order: &StoredOrder, payment: &StoredPayment) -> Result<PaymentChange, CommandError> {
        Ok(PaymentChange {
            status: payment_status::CAPTURED,
            captured_amount: payment.amount,
            refunded_amount: payment.refunded_amount,
        })
    }

    async fn refund(
        &self,
        _order: &StoredOrder,
        payment: &StoredPayment,
        amount: i64,
    ) -> Result<PaymentChange, CommandError> {
        let refunded = payment
            .refunded_amount
            .saturating_add(amount)
            .min(payment.captured_amount);
        Ok(PaymentChange {
            status: payment_status::REFUNDED,
            captured_amount: payment.captured_amount,
            refunded_amount: refunded,
        })
    }

    async fn cancel(&self, _order: &StoredOrder, payment: &StoredPayment) -> Result<PaymentChange, CommandError> {
        // Money already received is paid back in full; otherwise the claim is dropped.
        Ok(PaymentChange {
            status: if payment.captured_amount > 0 {
                payment_status::REFUNDED
            } else {
                payment_status::CANCELLED
            },
            captured_amount: payment.captured_amount,
            refunded_amount: payment.captured_amount,
        })
    }
}

/// A provider that confirms payments asynchronously: capturing only asks the payment service to
/// collect (the payment stays `pending`); the money counts as captured when the service's signed
/// callback arrives at the backend (`POST /payments/callback`), which then fires the `pay` event.
pub struct AsyncPayment;

/// The provider key of [`AsyncPayment`] in payment methods.
pub const ASYNC_PROVIDER: &str = "AsyncPay";

#[async_trait]
impl PaymentProvider for AsyncPayment {
    async fn capture(&self, _order: &StoredOrder, payment: &StoredPayment) -> Result<PaymentChange, CommandError> {
        Ok(PaymentChange {
            status: if payment.status == payment_status::CAPTURED {
                payment_status::CAPTURED
            } else {
                payment_status::PENDING
            },
            captured_amount: payment.captured_amount,
            refunded_amount: payment.refunded_amount,
        })
    }

    async fn refund(
        &self,
        order: &StoredOrder,
        payment: &StoredPayment,
        amount: i64,
    ) -> Result<PaymentChange, CommandError> {
        OfflinePayment.refund(order, payment, amount).await
    }

    async fn cancel(&self, order: &StoredOrder, payment: &StoredPayment) -> Result<PaymentChange, CommandError> {
        OfflinePayment.cancel(order, payment).await
    }
}

/// Payment providers by provider key (case-insensitive); unknown keys use [`OfflinePayment`].
#[derive(Clone, Default)]
pub struct PaymentProviders {
    providers: HashMap<String, Arc<dyn PaymentProvider>>,
}

impl PaymentProviders {
    /// The built-in providers: [`AsyncPayment`] under [`ASYNC_PROVIDER`]; every other key is offline.
    pub fn builtin() -> Self {
        let mut providers = Self::default();
        providers.register(ASYNC_PROVIDER, AsyncPayment);
        providers
    }

    pub fn register(&mut self, provider_key: &str, provider: impl PaymentProvider + 'static) -> &mut Self {
        self.providers
            .insert(provider_key.to_ascii_lowercase(), Arc::new(provider));
        self
    }

    fn provider(&self, provider_key: &str) -> Arc<dyn PaymentProvider> {
        self.providers
            .get(&provider_key.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| Arc::new(OfflinePayment))
    }
}

/// What the built-in plugins work with.
#[derive(Clone)]
pub struct BuiltinServices {
    pub oms: Arc<dyn OmsRepository>,
    pub mailer: Arc<dyn Mailer>,
    pub payments: PaymentProviders,
    /// Shown in mails: `Kontor Shop`.
    pub shop_name: String,
}

/// Registers every built-in plugin.
pub fn register(registry: &mut OmsRegistry, services: &BuiltinServices) {
    let mail = |kind: MailKind| OrderMail {
        kind,
        services: services.clone(),
    };
    registry
        .command(
            "Oms/SendOrderConfirmation",
            CommandMode::ByOrder,
            mail(MailKind::Confirmation),
        )
        .command("Oms/SendOrderShipped", CommandMode::ByOrder, mail(MailKind::Shipped))
        .command("Invoice/Generate", CommandMode::ByOrder, mail(MailKind::Invoice))
        .command(
            "Oms/SendOrderCancelled",
            CommandMode::ByOrder,
            mail(MailKind::Cancelled),
        );
    for (key, action) in [
        ("Payment/Capture", PaymentAction::Capture),
        ("DummyPayment/Pay", PaymentAction::Capture),
        ("Payment/Refund", PaymentAction::Refund),
        ("DummyPayment/Refund", PaymentAction::Refund),
        ("Payment/Cancel", PaymentAction::Cancel),
    ] {
        registry.command(
            key,
            CommandMode::ByOrder,
            PaymentCommand {
                action,
                services: services.clone(),
            },
        );
    }
    registry
        .command(
            "Shipment/Ship",
            CommandMode::ByOrder,
            ShipCommand {
                services: services.clone(),
            },
        )
        .command("Return/StartReturn", CommandMode::ByOrder, StartReturn)
        .command(
            "Return/Receive",
            CommandMode::ByOrder,
            ReceiveReturn {
                services: services.clone(),
            },
        )
        .command(
            "WarehouseAllocation/WarehouseAllocate",
            CommandMode::ByOrder,
            AllocateWarehouse {
                services: services.clone(),
            },
        );
    registry
        .condition("Payment/IsCaptured", PaymentIs(&[payment_status::CAPTURED]))
        .condition("DummyPayment/IsPayed", PaymentIs(&[payment_status::CAPTURED]))
        .condition(
            "DummyPayment/IsAuthorized",
            PaymentIs(&[
                payment_status::PENDING,
                payment_status::AUTHORIZED,
                payment_status::CAPTURED,
            ]),
        )
        .condition(
            "Payment/IsAuthorized",
            PaymentIs(&[payment_status::AUTHORIZED, payment_status::CAPTURED]),
        );
    registry.timeout_processor("OmsTimeout/Initiation", FromOrderCreation);
}

#[derive(Clone, Copy)]
enum MailKind {
    Confirmation,
    Shipped,
    Invoice,
    Cancelled,
}

struct OrderMail {
    kind: MailKind,
    services: BuiltinServices,
}

#[async_trait]
impl OmsCommand for OrderMail {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError> {
        let mail = order_mail(self.kind, context.order, &context.items, &self.services.shop_name);
        self.services
            .mailer
            .send(&mail)
            .await
            .map_err(|error| CommandError(error.to_string()))
    }

    fn changes_order(&self) -> bool {
        false
    }
}

/// The plain-text mail of `kind` about `items` of `order`, to the order's e-mail address.
fn order_mail(kind: MailKind, order: &StoredOrder, items: &[&StoredOrderItem], shop_name: &str) -> Mail {
    let (subject, intro) = match kind {
        MailKind::Confirmation => (format!("Your order {}", order.reference), "Thank you for your order."),
        MailKind::Shipped => (
            format!("Order {} has shipped", order.reference),
            "These items are on their way:",
        ),
        MailKind::Invoice => (format!("Invoice for order {}", order.reference), "Your invoice:"),
        MailKind::Cancelled => (
            format!("Order {} was cancelled", order.reference),
            "These items of your order were cancelled:",
        ),
    };
    let mut body = format!("Hello {} {},\n\n{intro}\n\n", order.first_name, order.last_name);
    for item in items {
        body.push_str(&format!(
            "  {} × {} ({})  {}\n",
            item.quantity,
            item.name,
            item.sku,
            money(item.sum_price, &order.currency)
        ));
    }
    match kind {
        // The order's totals may predate the cancellation (and would read like a bill); what counts
        // is what was cancelled and what happens to the money.
        MailKind::Cancelled => {
            let cancelled: i64 = items.iter().map(|item| item.sum_price).sum();
            body.push_str(&format!(
                "\nCancelled: {}\nYou will not be charged for these items; anything you already paid \
                 for them is refunded.\n",
                money(cancelled, &order.currency)
            ));
        }
        MailKind::Confirmation | MailKind::Shipped | MailKind::Invoice => body.push_str(&format!(
            "\nSubtotal: {}\nShipping: {}\nTax included: {}\nTotal: {}\n",
            money(order.totals.subtotal, &order.currency),
            money(order.totals.expense_total, &order.currency),
            money(order.totals.tax_total, &order.currency),
            money(order.totals.grand_total, &order.currency),
        )),
    }
    body.push_str(&format!("\nOrder reference: {}\n\n{shop_name}\n", order.reference));
    Mail {
        to: order.email.clone(),
        subject,
        body,
    }
}

/// `12390` EUR → `123.90 EUR`.
fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", minor / 100, minor % 100)
}

#[derive(Clone, Copy)]
enum PaymentAction {
    Capture,
    Refund,
    Cancel,
}

struct PaymentCommand {
    action: PaymentAction,
    services: BuiltinServices,
}

#[async_trait]
impl OmsCommand for PaymentCommand {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError> {
        let order = context.order;
        let item_ids: Vec<i64> = context.items.iter().map(|item| item.id).collect();
        for payment in &order.payments {
            let provider = self.services.payments.provider(&payment.provider);
            let change = match self.action {
                PaymentAction::Capture if payment.status == payment_status::CAPTURED => continue,
                PaymentAction::Capture => provider.capture(order, payment).await?,
                PaymentAction::Refund => {
                    let amount: i64 = context
                        .items
                        .iter()
                        .map(|item| item.sum_price.saturating_sub(item.refunded_amount))
                        .sum();
                    provider.refund(order, payment, amount).await?
                }
                PaymentAction::Cancel => provider.cancel(order, payment).await?,
            };
            self.services
                .oms
                .update_payment(
                    payment.id,
                    change.status,
                    change.captured_amount,
                    change.refunded_amount,
                    context.now,
                )
                .await?;
        }
        match self.action {
            PaymentAction::Capture => {}
            PaymentAction::Refund => {
                self.services
                    .oms
                    .record_item_amounts(order.id, &item_ids, false, true)
                    .await?
            }
            PaymentAction::Cancel => {
                self.services
                    .oms
                    .record_item_amounts(order.id, &item_ids, true, false)
                    .await?
            }
        }
        Ok(())
    }
}

struct ShipCommand {
    services: BuiltinServices,
}

#[async_trait]
impl OmsCommand for ShipCommand {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError> {
        let item_ids: Vec<i64> = context.items.iter().map(|item| item.id).collect();
        self.services
            .oms
            .take_from_stock(context.order.id, &item_ids, &context.idempotency_key)
            .await?;
        OrderMail {
            kind: MailKind::Shipped,
            services: self.services.clone(),
        }
        .run(context)
        .await
    }
}

/// Opens a return; the items' return is then received with `Return/Receive`.
struct StartReturn;

#[async_trait]
impl OmsCommand for StartReturn {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError> {
        tracing::info!(order = %context.order.reference, items = context.items.len(), "return started");
        Ok(())
    }
}

struct ReceiveReturn {
    services: BuiltinServices,
}

#[async_trait]
impl OmsCommand for ReceiveReturn {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError> {
        let item_ids: Vec<i64> = context.items.iter().map(|item| item.id).collect();
        self.services
            .oms
            .return_to_stock(context.order.id, &item_ids, &context.idempotency_key)
            .await?;
        Ok(())
    }
}

struct AllocateWarehouse {
    services: BuiltinServices,
}

#[async_trait]
impl OmsCommand for AllocateWarehouse {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError> {
        let item_ids: Vec<i64> = context.items.iter().map(|item| item.id).collect();
        let missing = self
            .services
            .oms
            .unallocatable_skus(context.order.id, &item_ids)
            .await?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CommandError(format!(
                "no active warehouse of store {} holds {}",
                context.order.store,
                missing.join(", ")
            )))
        }
    }
}

/// True when every payment of the order is in one of the statuses.
struct PaymentIs(&'static [&'static str]);

#[async_trait]
impl OmsCondition for PaymentIs {
    async fn check(&self, order: &StoredOrder, _item: &StoredOrderItem) -> Result<bool, CommandError> {
        Ok(!order.payments.is_empty()
            && order
                .payments
                .iter()
                .all(|payment| self.0.contains(&payment.status.as_str())))
    }
}

/// Due a timeout after the order was placed rather than after the state was entered.
struct FromOrderCreation;

impl TimeoutProcessor for FromOrderCreation {
    fn due_at(&self, order: &StoredOrder, entered_at: DateTime<Utc>, timeout: Option<&Timeout>) -> DateTime<Utc> {
        let created = DateTime::from_timestamp_micros(order.created_at_micros).unwrap_or(entered_at);
        timeout.map_or(entered_at, |timeout| timeout.due_after(created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::OrderTotals;

    #[test]
    fn money_is_shown_in_major_units() {
        assert_eq!(money(12_390, "EUR"), "123.90 EUR");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
    }

    fn item(id: i64, name: &str, quantity: i64, sum_price: i64) -> StoredOrderItem {
        StoredOrderItem {
            id,
            uuid: format!("uuid-{id}"),
            sku: format!("sku-{id}"),
            abstract_sku: "abstract".to_owned(),
            name: name.to_owned(),
            quantity,
            unit_price: sum_price / quantity,
            sum_price,
            tax_rate_basis_points: 1900,
            sum_tax_amount: 0,
            canceled_amount: 0,
            refunded_amount: 0,
            shipment_id: None,
            process: "KontorDefault01".to_owned(),
            state: "payment cancelled".to_owned(),
            state_entered_at_micros: 0,
            history: Vec::new(),
        }
    }

    fn order(items: Vec<StoredOrderItem>) -> StoredOrder {
        StoredOrder {
            id: 1,
            reference: "DE--7".to_owned(),
            store: "DE".to_owned(),
            store_id: 1,
            customer_reference: None,
            email: "erika@example.com".to_owned(),
            salutation: Some("Ms".to_owned()),
            first_name: "Erika".to_owned(),
            last_name: "Muster".to_owned(),
            locale: "de_DE".to_owned(),
            currency: "EUR".to_owned(),
            price_mode: "GROSS_MODE".to_owned(),
            totals: OrderTotals {
                subtotal: 20_000,
                expense_total: 490,
                grand_total: 20_490,
                ..OrderTotals::default()
            },
            created_at_micros: 0,
            billing_address: None,
            shipments: Vec::new(),
            expenses: Vec::new(),
            items,
            payments: Vec::new(),
        }
    }

    #[test]
    fn the_cancellation_mail_names_the_cancelled_items_and_their_amount_not_the_order_total() {
        let order = order(vec![item(1, "Tent", 2, 10_000), item(2, "Stove", 1, 10_000)]);
        let cancelled = [&order.items[0]];
        let mail = order_mail(MailKind::Cancelled, &order, &cancelled, "Kontor Shop");
        assert_eq!(mail.to, "erika@example.com");
        assert_eq!(mail.subject, "Order DE--7 was cancelled");
        assert_eq!(
            mail.body,
            "Hello Erika Muster,\n\nThese items of your order were cancelled:\n\n  2 × Tent (sku-1)  100.00 EUR\n\n\
             Cancelled: 100.00 EUR\nYou will not be charged for these items; anything you already paid for them \
             is refunded.\n\nOrder reference: DE--7\n\nKontor Shop\n"
        );
    }

    #[test]
    fn the_confirmation_mail_lists_the_items_and_the_order_totals() {
        let order = order(vec![item(1, "Tent", 2, 10_000), item(2, "Stove", 1, 10_000)]);
        let items: Vec<&StoredOrderItem> = order.items.iter().collect();
        let mail = order_mail(MailKind::Confirmation, &order, &items, "Kontor Shop");
        assert_eq!(mail.subject, "Your order DE--7");
        assert!(mail.body.contains("  1 × Stove (sku-2)  100.00 EUR\n"), "{}", mail.body);
        assert!(
            mail.body
                .contains("\nSubtotal: 200.00 EUR\nShipping: 4.90 EUR\nTax included: 0.00 EUR\nTotal: 204.90 EUR\n"),
            "{}",
            mail.body
        );
        assert!(!mail.body.contains("Cancelled"), "{}", mail.body);
    }
}
