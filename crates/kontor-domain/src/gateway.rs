//! The `BackendGateway` port: every write a storefront makes (register, sign in, addresses, carts) and
//! every read of customer-owned data goes through it, because only the backend touches SQL
//! (ARCHITECTURE §1).
//!
//! The port is one method over a closed set of serialisable commands, so the two transports stay
//! trivially in step: in `kontor serve` the storefront calls the backend's implementation in process;
//! when the roles run apart, the same [`GatewayRequest`] travels as JSON to the backend's `/internal/gateway`
//! and the [`GatewayReply`] (or [`GatewayError`]) comes back as JSON.
//!
//! Field names are the Glue attribute names (camelCase), so request attributes deserialise straight into
//! the inputs and the views serialise straight into response attributes. Rejections carry Glue's error
//! code and a JSON pointer into the storefront request document (`/data/attributes/email`). Views carry
//! their id and internal fields too (the internal API needs them); the storefront moves the id out of the
//! attributes and drops the internal fields when it renders a resource.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The backend as a storefront sees it.
#[async_trait]
pub trait BackendGateway: Send + Sync {
    /// Runs one command. Each command is atomic: it either happened completely or not at all.
    async fn execute(&self, request: GatewayRequest) -> Result<GatewayReply, GatewayError>;
}

/// One command to the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayRequest {
    Customer(CustomerCommand),
    Cart(CartCommand),
    Checkout(CheckoutCommand),
    Review(ReviewCommand),
}

/// Product reviews written in the storefront (`abstract-products/{sku}/product-reviews`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewCommand {
    /// → [`GatewayReply::Review`]: a pending review by the signed-in customer, shown once approved.
    /// Invalid fields → `901` at `/data/attributes/…`; an unknown SKU → `301`.
    Submit {
        customer_reference: String,
        /// The locale the storefront request was answered in.
        locale: String,
        abstract_sku: String,
        review: ReviewInput,
    },
}

/// The attributes of `POST /abstract-products/{sku}/product-reviews`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewInput {
    pub rating: i64,
    pub nickname: String,
    pub summary: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A review as the storefront shows it (Glue's `RestProductReviewsAttributes` plus the id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    pub id: String,
    pub rating: i64,
    pub nickname: String,
    pub summary: String,
    pub description: String,
}

/// Customer accounts, sign-in and addresses. `customer_reference` always comes from a verified access
/// token, never from the request path alone: a command for someone else's data finds nothing (404).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerCommand {
    /// → [`GatewayReply::Customer`]. Validation errors point into `/data/attributes/…`; a taken e-mail is `402`.
    Register { store: String, registration: Registration },
    /// → [`GatewayReply::Tokens`]. Wrong e-mail or password → `003`; throttled → `009`. With
    /// `anonymous_id`, that guest's cart is merged into the customer's default cart.
    Login {
        store: String,
        email: String,
        password: Secret,
        anonymous_id: Option<String>,
        /// The client address as the storefront saw it, for per-IP throttling.
        client_ip: Option<String>,
    },
    /// → [`GatewayReply::Tokens`]; rotates the refresh token (single use). Unknown, used, expired → `004`.
    Refresh { refresh_token: Secret },
    /// → [`GatewayReply::Done`] always (no existence leak).
    RevokeRefreshToken {
        customer_reference: String,
        refresh_token: Secret,
    },
    /// → [`GatewayReply::Done`]: revokes every refresh token of the customer (logout everywhere).
    RevokeAllRefreshTokens { customer_reference: String },
    /// → [`GatewayReply::Customer`].
    GetCustomer { customer_reference: String },
    /// → [`GatewayReply::Customer`]; absent fields stay unchanged.
    UpdateCustomer {
        customer_reference: String,
        changes: CustomerChanges,
    },
    /// → [`GatewayReply::Done`]: anonymises the account, revokes its tokens and deletes its addresses and carts.
    DeleteCustomer { customer_reference: String },
    /// → [`GatewayReply::Done`]. Wrong current password → `003` at `/data/attributes/password`.
    ChangePassword {
        customer_reference: String,
        change: PasswordChange,
    },
    /// → [`GatewayReply::Done`] always; mails a single-use key valid 2 h when the e-mail is known.
    ForgotPassword { store: String, email: String },
    /// → [`GatewayReply::Done`]; an unknown, used or expired key is `901` at `/data/attributes/restorePasswordKey`.
    RestorePassword { restore: PasswordRestore },
    /// → [`GatewayReply::Addresses`].
    ListAddresses { customer_reference: String },
    /// → [`GatewayReply::Address`]; not the customer's → `411`.
    GetAddress {
        customer_reference: String,
        address_id: String,
    },
    /// → [`GatewayReply::Address`].
    CreateAddress {
        customer_reference: String,
        address: AddressInput,
    },
    /// → [`GatewayReply::Address`]; absent fields stay unchanged.
    UpdateAddress {
        customer_reference: String,
        address_id: String,
        changes: AddressChanges,
    },
    /// → [`GatewayReply::Done`].
    DeleteAddress {
        customer_reference: String,
        address_id: String,
    },
}

/// Carts of customers and guests. Someone else's cart is `101` (404), never 403.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartCommand {
    /// → [`GatewayReply::Carts`]: the owner's carts in the store, default first.
    ListCarts { owner: CartOwner, store: String },
    /// → [`GatewayReply::Cart`].
    GetCart { owner: CartOwner, cart_id: String },
    /// → [`GatewayReply::Cart`]. Guests cannot create carts this way (their cart appears with the first item).
    /// With `idempotency_key`, a repeat within 24 h answers as the first request did and creates nothing.
    CreateCart {
        owner: CartOwner,
        store: String,
        cart: CartInput,
        #[serde(default)]
        idempotency_key: Option<String>,
    },
    /// → [`GatewayReply::Cart`]. Changing the price mode of a cart with items is `111`.
    UpdateCart {
        owner: CartOwner,
        cart_id: String,
        changes: CartChanges,
    },
    /// → [`GatewayReply::Done`].
    DeleteCart { owner: CartOwner, cart_id: String },
    /// → [`GatewayReply::Cart`]. `cart_id: None` means the guest's one cart (created on first use) or the
    /// customer's default cart. Unknown or inactive SKU, or more than is available → `113` naming the SKU.
    /// Adding a SKU already in the cart adds to its quantity. With `idempotency_key`, a repeat within 24 h
    /// answers as the first request did and adds nothing.
    AddItem {
        owner: CartOwner,
        store: String,
        cart_id: Option<String>,
        item: ItemInput,
        #[serde(default)]
        idempotency_key: Option<String>,
    },
    /// → [`GatewayReply::Cart`]. Quantity 0 removes the item.
    UpdateItem {
        owner: CartOwner,
        cart_id: String,
        group_key: String,
        quantity: u32,
    },
    /// → [`GatewayReply::Done`].
    RemoveItem {
        owner: CartOwner,
        cart_id: String,
        group_key: String,
    },
}

impl CartCommand {
    /// Takes the `Idempotency-Key` out of the command (leaving the request it guards) and returns it.
    pub fn take_idempotency_key(&mut self) -> Option<String> {
        match self {
            CartCommand::CreateCart { idempotency_key, .. } | CartCommand::AddItem { idempotency_key, .. } => {
                idempotency_key.take()
            }
            _ => None,
        }
    }
}

/// Checkout and the customer's orders (storefront-api.md §8.10–§8.11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutCommand {
    /// → [`GatewayReply::CheckoutData`]; nothing is created. Unknown cart → `1103`.
    CheckoutData {
        owner: CartOwner,
        input: Box<CheckoutDataInput>,
    },
    /// → [`GatewayReply::OrderPlaced`]. Prices and availability are re-checked; an SKU that cannot be
    /// supplied → `1102` naming it. With `idempotency_key`, a retry returns the first order.
    PlaceOrder {
        owner: CartOwner,
        locale: String,
        idempotency_key: Option<String>,
        input: Box<CheckoutInput>,
    },
    /// → [`GatewayReply::Orders`]: the customer's orders, newest first.
    ListOrders {
        customer_reference: String,
        offset: u64,
        limit: u64,
    },
    /// → [`GatewayReply::Order`]; someone else's order → `801`.
    GetOrder {
        customer_reference: String,
        order_reference: String,
    },
}

/// `POST /checkout-data` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutDataInput {
    pub id_cart: String,
    #[serde(default)]
    pub billing_address: Option<CheckoutAddress>,
    #[serde(default)]
    pub payments: Vec<PaymentSelection>,
    #[serde(default)]
    pub shipments: Vec<ShipmentSelection>,
    #[serde(default)]
    pub customer: Option<CheckoutCustomer>,
}

/// `POST /checkout` attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutInput {
    #[serde(default)]
    pub customer: Option<CheckoutCustomer>,
    pub id_cart: String,
    #[serde(default)]
    pub billing_address: Option<CheckoutAddress>,
    #[serde(default)]
    pub payments: Vec<PaymentSelection>,
    #[serde(default)]
    pub shipments: Vec<ShipmentSelection>,
}

/// Who orders: required for guests; for customers it defaults to the account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutCustomer {
    #[serde(default)]
    pub salutation: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// A full address, or `{"id": …}` naming a saved address of the signed-in customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutAddress {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub salutation: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub address1: Option<String>,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub address3: Option<String>,
    #[serde(default)]
    pub zip_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub iso2_code: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub is_default_shipping: Option<bool>,
    #[serde(default)]
    pub is_default_billing: Option<bool>,
}

/// One chosen payment method, by Glue's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentSelection {
    pub payment_method_name: String,
    pub payment_provider_name: String,
    #[serde(default)]
    pub amount: Option<i64>,
}

/// One shipment: which cart items (SKUs; empty = all), where, and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShipmentSelection {
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub shipping_address: Option<CheckoutAddress>,
    #[serde(default)]
    pub id_shipment_method: Option<i64>,
    #[serde(default)]
    pub requested_delivery_date: Option<String>,
}

/// What a cart can be checked out with (`checkout-data` attributes and includes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutData {
    pub addresses: Vec<Address>,
    pub payment_providers: Vec<PaymentProviderView>,
    pub shipment_methods: Vec<ShipmentMethodView>,
    pub payment_methods: Vec<PaymentMethodView>,
    pub selected_shipment_methods: Vec<ShipmentMethodView>,
    pub selected_payment_methods: Vec<PaymentMethodView>,
}

/// A payment provider with its methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentProviderView {
    pub payment_provider_name: String,
    pub payment_methods: Vec<PaymentMethodView>,
}

/// `payment-methods` attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodView {
    /// The method key; the resource id.
    pub id: String,
    pub payment_method_name: String,
    pub payment_provider_name: String,
    pub priority: i32,
    pub required_request_data: Vec<String>,
}

/// `shipment-methods` attributes, priced in the cart's currency and price mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentMethodView {
    /// The numeric method id (Glue's `idShipmentMethod`), as a string resource id.
    pub id: String,
    pub name: String,
    pub carrier_name: String,
    pub price: i64,
    #[serde(with = "rust_decimal::serde::float")]
    pub tax_rate: rust_decimal::Decimal,
    pub currency_iso_code: String,
    pub delivery_time: Option<String>,
}

/// The answer to a placed order (`checkout` attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub order_reference: String,
    pub redirect_url: Option<String>,
    pub is_external_redirect: Option<bool>,
    /// The order itself, for `include=orders`.
    pub order: Order,
}

/// Order totals in minor units of the order's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTotals {
    pub expense_total: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub subtotal: i64,
    pub grand_total: i64,
    pub canceled_total: i64,
    pub remuneration_total: i64,
}

/// An order as its customer sees it (`orders` attributes; `orderReference` is the resource id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_reference: String,
    pub created_at: String,
    pub currency_iso_code: String,
    pub price_mode: String,
    pub store: String,
    pub item_states: Vec<String>,
    pub totals: OrderTotals,
    pub billing_address: Option<OrderAddress>,
    pub items: Vec<OrderItem>,
    pub expenses: Vec<OrderExpense>,
    pub payments: Vec<OrderPayment>,
    pub shipments: Vec<OrderShipment>,
    pub calculated_discounts: serde_json::Map<String, serde_json::Value>,
}

/// An address stored with an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAddress {
    pub salutation: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    pub address2: Option<String>,
    pub address3: Option<String>,
    pub zip_code: String,
    pub city: String,
    pub iso2_code: String,
    pub company: Option<String>,
    pub phone: Option<String>,
}

/// One order line with its customer-visible OMS state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub uuid: String,
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub sum_price: i64,
    #[serde(with = "rust_decimal::serde::float")]
    pub tax_rate: rust_decimal::Decimal,
    pub sum_tax_amount: i64,
    pub state: String,
    pub refundable_amount: i64,
    pub canceled_amount: i64,
    pub is_returnable: bool,
    pub id_shipment: Option<i64>,
}

/// An order expense (shipping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderExpense {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub sum_price: i64,
    #[serde(with = "rust_decimal::serde::float")]
    pub tax_rate: rust_decimal::Decimal,
    pub sum_tax_amount: i64,
    pub id_shipment: Option<i64>,
}

/// A payment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPayment {
    pub amount: i64,
    pub payment_provider: String,
    pub payment_method: String,
    pub status: String,
}

/// A shipment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderShipment {
    pub id_shipment: i64,
    pub shipment_method_name: String,
    pub carrier_name: String,
    pub requested_delivery_date: Option<String>,
    pub shipping_address: Option<OrderAddress>,
}

/// A page of a customer's orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub total: u64,
}

/// Who a cart belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartOwner {
    /// A signed-in customer, by customer reference.
    Customer(String),
    /// A guest, by `X-Anonymous-Customer-Unique-Id`.
    Guest(String),
}

/// What the backend answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayReply {
    Done,
    Customer(CustomerProfile),
    Tokens(TokenPair),
    Addresses(Vec<Address>),
    Address(Address),
    Carts(Vec<Cart>),
    Cart(Cart),
    CheckoutData(CheckoutData),
    OrderPlaced(Box<PlacedOrder>),
    Orders(OrderPage),
    Order(Box<Order>),
    Review(ReviewView),
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayError {
    /// The command was refused for a reason the client can act on; nothing changed.
    #[error("rejected: {}", .0.first().map_or("", |rejection| rejection.detail.as_str()))]
    Rejected(Vec<Rejection>),
    /// The backend (or its database) cannot be reached; nothing changed. Storefronts answer 503.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The backend failed; details are in the backend's log, not here.
    #[error("backend failed: {0}")]
    Internal(String),
}

impl GatewayError {
    /// One rejection with a Glue code and no field.
    pub fn rejected(code: &str, detail: impl Into<String>) -> Self {
        Self::Rejected(vec![Rejection::new(code, detail)])
    }

    /// One rejection of a field of the request document.
    pub fn rejected_at(code: &str, pointer: &str, detail: impl Into<String>) -> Self {
        Self::Rejected(vec![Rejection::new(code, detail).at(pointer)])
    }
}

/// One client-facing reason, in the storefront's error shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Glue's error code (`../shared/spec/storefront-api.md` §5), which also decides the HTTP status.
    pub code: String,
    pub detail: String,
    /// A JSON pointer into the storefront request document, e.g. `/data/attributes/email`.
    pub pointer: Option<String>,
}

impl Rejection {
    pub fn new(code: &str, detail: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            detail: detail.into(),
            pointer: None,
        }
    }

    pub fn at(mut self, pointer: &str) -> Self {
        self.pointer = Some(pointer.to_owned());
        self
    }
}

/// A password or token in transit: serialised as is (the internal API needs it) but never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// `POST /customers` attributes. Presence and JSON types are checked by the storefront; the rules
/// (salutation values, password length, accepted terms, e-mail syntax and uniqueness) by the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    pub salutation: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password: Secret,
    pub confirm_password: Secret,
    pub accepted_terms: bool,
    #[serde(default)]
    pub gender: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: Option<String>,
}

/// `PATCH /customers/{ref}` attributes; absent fields stay unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerChanges {
    #[serde(default)]
    pub salutation: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<String>,
}

/// `PATCH /customer-password/{ref}` attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordChange {
    pub password: Secret,
    pub new_password: Secret,
    pub confirm_password: Secret,
}

/// `PATCH /customer-restore-password/{key}` attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordRestore {
    pub restore_password_key: Secret,
    pub password: Secret,
    pub confirm_password: Secret,
}

/// A customer as the storefront shows it (`customers` attributes plus the reference used as id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProfile {
    /// `DE--7`: store prefix and sequence. The resource id, not an attribute (the storefront strips it).
    pub customer_reference: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub salutation: String,
    pub gender: Option<String>,
    pub date_of_birth: Option<String>,
    /// RFC 3339 UTC with microseconds.
    pub created_at: String,
    pub updated_at: String,
}

/// The answer to a sign-in or refresh (`access-tokens` attributes).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub token_type: String,
    pub expires_in: u64,
    pub access_token: String,
    pub refresh_token: String,
    /// Whose tokens these are; not shown to clients (the JWT's `sub` says it).
    pub customer_reference: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("customer_reference", &self.customer_reference)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// `addresses` attributes on create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    pub salutation: String,
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub address3: Option<String>,
    pub zip_code: String,
    pub city: String,
    /// Shown name; derived from `iso2Code` when absent.
    #[serde(default)]
    pub country: Option<String>,
    pub iso2_code: String,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub is_default_shipping: bool,
    #[serde(default)]
    pub is_default_billing: bool,
}

/// `addresses` attributes on PATCH; absent fields stay unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressChanges {
    #[serde(default)]
    pub salutation: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub address1: Option<String>,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub address3: Option<String>,
    #[serde(default)]
    pub zip_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub iso2_code: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub is_default_shipping: Option<bool>,
    #[serde(default)]
    pub is_default_billing: Option<bool>,
}

/// A stored address (`addresses` attributes; `id` is the resource id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub id: String,
    pub salutation: String,
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    pub address2: Option<String>,
    pub address3: Option<String>,
    pub zip_code: String,
    pub city: String,
    pub country: String,
    pub iso2_code: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub is_default_shipping: bool,
    pub is_default_billing: bool,
}

/// `POST /carts` attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CartInput {
    #[serde(default)]
    pub name: Option<String>,
    /// Missing → `118`; unknown → `119`.
    #[serde(default)]
    pub price_mode: Option<String>,
    /// Missing → `116`; not a currency of the store → `117`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Must equal the request's store when given.
    #[serde(default)]
    pub store: Option<String>,
}

/// `PATCH /carts/{id}` attributes; absent fields stay unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CartChanges {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub price_mode: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub store: Option<String>,
}

/// `POST …/items` attributes, after the storefront accepted `quantity` as an integer or integer string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemInput {
    pub sku: String,
    pub quantity: u32,
}

/// A cart with its items and totals, as the storefront shows it (`carts` / `guest-carts` attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    /// The cart's UUID; the resource id.
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub price_mode: String,
    pub currency: String,
    pub store: String,
    pub totals: CartTotals,
    pub discounts: Vec<CartDiscount>,
    pub thresholds: Vec<serde_json::Value>,
    /// The items, for `include=items`; not an attribute.
    pub items: Vec<CartItem>,
}

/// Cart totals in minor units of the cart's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartTotals {
    pub expense_total: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub subtotal: i64,
    pub grand_total: i64,
    pub price_to_pay: i64,
}

/// A discount applied to a cart (none until discounts exist; kept for the Glue shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartDiscount {
    pub display_name: String,
    pub amount: i64,
    pub code: Option<String>,
}

/// One cart line (`items` / `guest-cart-items` attributes; id = `groupKey`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartItem {
    pub sku: String,
    pub abstract_sku: String,
    pub quantity: u32,
    pub group_key: String,
    pub amount: Option<i64>,
    pub calculations: ItemCalculations,
    pub selected_product_options: Vec<serde_json::Value>,
    pub sales_unit: Option<serde_json::Value>,
}

/// Per-item money in minor units; Glue's field names. `tax_rate` is a percentage such as 19.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCalculations {
    pub unit_price: i64,
    pub sum_price: i64,
    #[serde(with = "rust_decimal::serde::float")]
    pub tax_rate: rust_decimal::Decimal,
    pub unit_net_price: i64,
    pub sum_net_price: i64,
    pub unit_gross_price: i64,
    pub sum_gross_price: i64,
    pub unit_tax_amount_full_aggregation: i64,
    pub sum_tax_amount_full_aggregation: i64,
    pub unit_subtotal_aggregation: i64,
    pub sum_subtotal_aggregation: i64,
    pub unit_discount_amount_aggregation: i64,
    pub sum_discount_amount_aggregation: i64,
    pub unit_discount_amount_full_aggregation: i64,
    pub sum_discount_amount_full_aggregation: i64,
    pub unit_product_option_price_aggregation: i64,
    pub sum_product_option_price_aggregation: i64,
    pub unit_price_to_pay_aggregation: i64,
    pub sum_price_to_pay_aggregation: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_as_json_for_the_internal_api() {
        let request = GatewayRequest::Cart(CartCommand::AddItem {
            owner: CartOwner::Guest("5f1c-7a2e".to_owned()),
            store: "DE".to_owned(),
            cart_id: None,
            item: ItemInput {
                sku: "100_blue".to_owned(),
                quantity: 2,
            },
            idempotency_key: Some("7d2c0f3e-retry".to_owned()),
        });
        let json = serde_json::to_string(&request).expect("serialises");
        let back: GatewayRequest = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, request);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let login = CustomerCommand::Login {
            store: "DE".to_owned(),
            email: "erika@example.com".to_owned(),
            password: Secret("s3cret-pass-word".to_owned()),
            anonymous_id: None,
            client_ip: None,
        };
        let shown = format!("{login:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let tokens = TokenPair {
            token_type: "Bearer".to_owned(),
            expires_in: 28_800,
            access_token: "eyJ-access".to_owned(),
            refresh_token: "kr1-refresh".to_owned(),
            customer_reference: "DE--1".to_owned(),
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("eyJ") && !shown.contains("kr1"), "{shown}");
    }
}
