//! The ports of checkout and sales: [`OrderRepository`] (methods, placement in one transaction, order
//! reads) and the records that cross it.

use crate::cart::{CartError, PriceMode, StoreSettings};
use crate::gateway::{CartOwner, OrderAddress, OrderTotals};
use async_trait::async_trait;
use rust_decimal::Decimal;

/// A shipment method of a store, priced in one currency and price mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentMethod {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub carrier_name: String,
    pub delivery_time: Option<String>,
    /// In the asked price mode; methods without a price there are not offered.
    pub price: i64,
    /// Percent, from the method's tax set for the store's tax country; 0 without one.
    pub tax_rate: Decimal,
}

/// A payment method of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub key: String,
    pub name: String,
    pub provider_key: String,
    pub provider_name: String,
    pub priority: i32,
}

impl PaymentMethod {
    /// Whether a Glue selection (`paymentProviderName`, `paymentMethodName`) names this method. Spryker
    /// clients send either the provider's key or its display name, and the method's name or key.
    pub fn matches(&self, provider: &str, method: &str) -> bool {
        let provider_ok =
            provider.eq_ignore_ascii_case(&self.provider_key) || provider.eq_ignore_ascii_case(&self.provider_name);
        let method_ok = method.eq_ignore_ascii_case(&self.name) || method.eq_ignore_ascii_case(&self.key);
        provider_ok && method_ok
    }

    /// `"<provider key>/<method name>"`, the key of `oms.payment_processes`.
    pub fn process_key(&self) -> String {
        format!("{}/{}", self.provider_key, self.name)
    }
}

/// One order line to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderItem {
    pub sku: String,
    pub abstract_sku: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub sum_price: i64,
    pub tax_rate_basis_points: i32,
    pub sum_tax_amount: i64,
    /// Index into [`NewOrder::shipments`].
    pub shipment: usize,
    /// The product can be sold without stock (never out of stock): no stock check, still reserved.
    pub is_never_out_of_stock: bool,
}

/// One shipment to write with its expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipment {
    pub method: ShipmentMethod,
    pub address: OrderAddress,
    pub requested_delivery_date: Option<String>,
    pub expense_tax: i64,
}

/// Everything an order is written from. Computed and validated by the checkout service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub store: StoreSettings,
    pub owner: CartOwner,
    pub cart_uuid: String,
    pub idempotency_key: Option<String>,
    pub email: String,
    pub salutation: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub locale: String,
    pub currency: String,
    pub price_mode: PriceMode,
    pub billing_address: OrderAddress,
    pub shipments: Vec<NewShipment>,
    pub items: Vec<NewOrderItem>,
    pub payment: PaymentMethod,
    pub totals: OrderTotals,
    /// The OMS process and initial state every item starts in.
    pub process: String,
    pub initial_state: String,
    /// The initial state holds stock: reservations are written with the order.
    pub initial_state_reserved: bool,
    /// Timed events leaving the initial state and their due times (epoch microseconds).
    pub initial_timeouts: Vec<(String, i64)>,
    pub created_at_micros: i64,
}

/// The owner as one string, `c:<reference>` or `g:<anonymous id>`: `sales_order.owner_key`, the default
/// cart's `cart.default_owner_key` and the owner of a cart's idempotency keys.
pub fn owner_key(owner: &CartOwner) -> String {
    match owner {
        CartOwner::Customer(reference) => format!("c:{reference}"),
        CartOwner::Guest(anonymous_id) => format!("g:{anonymous_id}"),
    }
}

/// A SKU the shop cannot supply in the asked quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortage {
    pub sku: String,
    pub requested: i64,
    pub available: i64,
}

/// What placing an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    /// Written now: the order as stored.
    Placed(Box<StoredOrder>),
    /// The idempotency key was used before: that order, nothing written.
    Existing { order_id: i64, order_reference: String },
    /// Nothing written: these SKUs cannot be supplied.
    OutOfStock(Vec<Shortage>),
    /// Nothing written: the cart changed or is gone since it was read.
    CartChanged,
}

/// A stored order line with its OMS state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrderItem {
    pub id: i64,
    pub uuid: String,
    pub sku: String,
    pub abstract_sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub sum_price: i64,
    pub tax_rate_basis_points: i32,
    pub sum_tax_amount: i64,
    pub canceled_amount: i64,
    pub refunded_amount: i64,
    pub shipment_id: Option<i64>,
    pub process: String,
    pub state: String,
    pub state_entered_at_micros: i64,
    /// States entered so far, oldest first (the current one last).
    pub history: Vec<String>,
}

/// A stored shipment and its expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShipment {
    pub id: i64,
    pub method_key: String,
    pub method_name: String,
    pub carrier_name: String,
    pub requested_delivery_date: Option<String>,
    pub address: Option<OrderAddress>,
}

/// A stored expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExpense {
    pub kind: String,
    pub name: String,
    pub sum_price: i64,
    pub tax_rate_basis_points: i32,
    pub sum_tax_amount: i64,
}

/// Payment states a provider moves through.
pub mod payment_status {
    pub const PENDING: &str = "pending";
    pub const AUTHORIZED: &str = "authorized";
    pub const CAPTURED: &str = "captured";
    pub const CANCELLED: &str = "cancelled";
    pub const REFUNDED: &str = "refunded";
    pub const FAILED: &str = "failed";
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub id: i64,
    pub provider: String,
    pub method: String,
    pub amount: i64,
    pub status: String,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub external_reference: Option<String>,
}

/// A stored order with everything the storefront, the Back Office and OMS commands show or need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub id: i64,
    pub reference: String,
    pub store: String,
    pub store_id: i64,
    pub customer_reference: Option<String>,
    pub email: String,
    pub salutation: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub locale: String,
    pub currency: String,
    pub price_mode: String,
    pub totals: OrderTotals,
    pub created_at_micros: i64,
    pub billing_address: Option<OrderAddress>,
    pub shipments: Vec<StoredShipment>,
    pub expenses: Vec<StoredExpense>,
    pub items: Vec<StoredOrderItem>,
    pub payments: Vec<StoredPayment>,
}

/// Filters of the admin order list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub store: Option<String>,
    pub customer_reference: Option<String>,
    pub email: Option<String>,
    /// Orders with at least one item in this state.
    pub state: Option<String>,
    pub created_from_micros: Option<i64>,
    pub created_to_micros: Option<i64>,
}

/// Checkout and sales storage (the backend's SQL database).
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Active methods assigned to the store with a price in `currency` and `mode`, by name.
    async fn shipment_methods(
        &self,
        store: &StoreSettings,
        currency: &str,
        mode: PriceMode,
    ) -> Result<Vec<ShipmentMethod>, CartError>;

    /// Active payment methods assigned to the store, by priority then name.
    async fn payment_methods(&self, store: &StoreSettings) -> Result<Vec<PaymentMethod>, CartError>;

    /// In ONE transaction: the idempotency key's earlier order if any; else lock the stock of the
    /// ordered SKUs, re-check availability (stock − reservations), write the order with its items in
    /// the initial state, history rows, reservations, outbox rows, and delete the cart.
    async fn place_order(&self, order: &NewOrder) -> Result<PlaceOutcome, CartError>;

    /// The order an owner placed with an idempotency key, if any.
    async fn find_order_by_idempotency_key(
        &self,
        owner_key: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredOrder>, CartError>;

    /// One order by reference, with items, history, shipments and payments.
    async fn find_order(&self, order_reference: &str) -> Result<Option<StoredOrder>, CartError>;

    /// One order by id.
    async fn find_order_by_id(&self, order_id: i64) -> Result<Option<StoredOrder>, CartError>;

    /// Orders matching `filter`, newest first, and how many match in all.
    async fn list_orders(
        &self,
        filter: &OrderFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredOrder>, u64), CartError>;
}
