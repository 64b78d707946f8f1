//! Checkout and the customer's orders (storefront-api.md §8.10–§8.11, oms.md §3).
//!
//! Placing an order:
//! 1. A retried request with the same `Idempotency-Key` (per owner) returns the first order.
//! 2. The cart is read and priced again from the catalog's current DEFAULT prices; a product that is no
//!    longer active, assigned to the store or priced makes the order fail (`1102`, naming the SKU).
//! 3. Customer, billing address, exactly one payment method of the store (`1107` for several, `1108`
//!    for an unknown one) and shipments (every cart item in exactly one shipment, a method of the
//!    store priced in the cart's currency, an address) are checked, every mistake reported at once.
//! 4. The repository writes the order in one transaction that locks the stock of the ordered SKUs and
//!    re-checks availability, so concurrent checkouts can never sell the same unit (`1102` with the
//!    available quantity otherwise). Items start in the initial state of the process the payment
//!    method maps to; OMS events leaving it run in a worker, not in this request.
//!
//! Totals follow the cart's arithmetic ([`crate::cart::totals`]) plus one shipping expense per
//! shipment, taxed at the method's rate.

mod ports;

pub use ports::{
    NewOrder, NewOrderItem, NewShipment, OrderFilter, OrderRepository, PaymentMethod, PlaceOutcome, ShipmentMethod,
    Shortage, StoredExpense, StoredOrder, StoredOrderItem, StoredPayment, StoredShipment, owner_key, payment_status,
};

use crate::cart::totals::{item_calculations, tax_in_gross, tax_on_net};
use crate::cart::{CartCatalog, CartLocator, CartRepository, PriceMode, StoreSettings, StoredCart, tax_percent};
use crate::customer::validation::{Problems, new_address};
use crate::customer::{CustomerId, CustomerRepository};
use crate::gateway::{
    Address, AddressInput, CartOwner, CheckoutAddress, CheckoutCommand, CheckoutCustomer, CheckoutData,
    CheckoutDataInput, CheckoutInput, GatewayError, GatewayReply, Order, OrderAddress, OrderExpense, OrderItem,
    OrderPage, OrderPayment, OrderShipment, OrderTotals, PaymentMethodView, PaymentProviderView, PaymentSelection,
    PlacedOrder, Rejection, ShipmentMethodView,
};
use crate::users::Email;
use kontor_core::{Clock, SystemClock};
use kontor_oms::ProcessSet;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Glue's checkout and order codes (storefront-api.md §5).
pub mod code {
    pub const ORDER_NOT_FOUND: &str = "801";
    pub const CHECKOUT_DATA_INVALID: &str = "1101";
    pub const ORDER_NOT_PLACED: &str = "1102";
    pub const CART_NOT_FOUND: &str = "1103";
    pub const CART_EMPTY: &str = "1104";
    pub const MULTIPLE_PAYMENTS: &str = "1107";
    pub const PAYMENT_METHOD_INVALID: &str = "1108";
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;
/// The expense kind of shipping costs (Spryker's `SHIPMENT_EXPENSE_TYPE`).
pub const SHIPMENT_EXPENSE: &str = "SHIPMENT_EXPENSE_TYPE";

/// Which OMS process an order's items run and where they start (`[oms]` in the configuration).
#[derive(Clone)]
pub struct OrderProcesses {
    pub processes: Arc<ProcessSet>,
    /// `"<provider>/<method name>"` → process name.
    pub payment_processes: HashMap<String, String>,
    /// Used for payment methods without a mapping; `None` refuses them (`1108`).
    pub default_process: Option<String>,
    pub initial_state: String,
}

impl OrderProcesses {
    /// The process of a payment method: its mapping (matched case-insensitively by provider key or
    /// name and method name or key), else the default.
    pub fn process_for(&self, method: &PaymentMethod) -> Option<&str> {
        let candidates = [
            format!("{}/{}", method.provider_key, method.name),
            format!("{}/{}", method.provider_name, method.name),
            format!("{}/{}", method.provider_key, method.key),
        ];
        self.payment_processes
            .iter()
            .find(|(key, _)| candidates.iter().any(|candidate| candidate.eq_ignore_ascii_case(key)))
            .map(|(_, process)| process.as_str())
            .or(self.default_process.as_deref())
            .filter(|process| self.processes.get(process).is_some())
    }

    /// The state a customer sees for an item: its current state unless flagged `exclude from
    /// customer`, else the last visible state it passed through.
    pub fn customer_state(&self, item: &StoredOrderItem) -> String {
        let Some(process) = self.processes.get(&item.process) else {
            return item.state.clone();
        };
        let visible = |state: &str| {
            process
                .state(state)
                .is_none_or(|definition| !definition.has_flag("exclude from customer"))
        };
        if visible(&item.state) {
            return item.state.clone();
        }
        item.history
            .iter()
            .rev()
            .find(|state| visible(state))
            .cloned()
            .unwrap_or_else(|| item.state.clone())
    }
}

/// Runs the checkout commands of the backend gateway.
pub struct CheckoutService {
    carts: Arc<dyn CartRepository>,
    catalog: Arc<dyn CartCatalog>,
    orders: Arc<dyn OrderRepository>,
    customers: Arc<dyn CustomerRepository>,
    processes: OrderProcesses,
    clock: Arc<dyn Clock>,
}

impl CheckoutService {
    pub fn new(
        carts: Arc<dyn CartRepository>,
        catalog: Arc<dyn CartCatalog>,
        orders: Arc<dyn OrderRepository>,
        customers: Arc<dyn CustomerRepository>,
        processes: OrderProcesses,
    ) -> Self {
        Self {
            carts,
            catalog,
            orders,
            customers,
            processes,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn processes(&self) -> &OrderProcesses {
        &self.processes
    }

    pub async fn execute(&self, command: CheckoutCommand) -> Result<GatewayReply, GatewayError> {
        match command {
            CheckoutCommand::CheckoutData { owner, input } => {
                Ok(GatewayReply::CheckoutData(self.checkout_data(&owner, &input).await?))
            }
            CheckoutCommand::PlaceOrder {
                owner,
                locale,
                idempotency_key,
                input,
            } => Ok(GatewayReply::OrderPlaced(Box::new(
                self.place_order(owner, &locale, idempotency_key, *input).await?,
            ))),
            CheckoutCommand::ListOrders {
                customer_reference,
                offset,
                limit,
            } => {
                let filter = OrderFilter {
                    customer_reference: Some(customer_reference),
                    ..OrderFilter::default()
                };
                let (orders, total) = self.orders.list_orders(&filter, offset, limit).await?;
                Ok(GatewayReply::Orders(OrderPage {
                    orders: orders.iter().map(|order| self.order_view(order)).collect(),
                    total,
                }))
            }
            CheckoutCommand::GetOrder {
                customer_reference,
                order_reference,
            } => {
                let order = self
                    .orders
                    .find_order(&order_reference)
                    .await?
                    .filter(|order| order.customer_reference.as_deref() == Some(customer_reference.as_str()))
                    .ok_or_else(|| {
                        GatewayError::rejected(code::ORDER_NOT_FOUND, format!("order {order_reference} not found"))
                    })?;
                Ok(GatewayReply::Order(Box::new(self.order_view(&order))))
            }
        }
    }

    async fn owned_cart(&self, owner: &CartOwner, cart_id: &str) -> Result<StoredCart, GatewayError> {
        self.carts
            .find_cart(owner, &CartLocator::Id(cart_id.to_owned()))
            .await?
            .ok_or_else(|| GatewayError::rejected(code::CART_NOT_FOUND, format!("cart {cart_id} not found")))
    }

    async fn store_settings(&self, store: &str) -> Result<StoreSettings, GatewayError> {
        self.catalog
            .store_settings(store)
            .await?
            .ok_or_else(|| GatewayError::rejected(code::ORDER_NOT_PLACED, format!("unknown store {store}")))
    }

    async fn saved_addresses(&self, owner: &CartOwner) -> Result<(Option<CustomerId>, Vec<Address>), GatewayError> {
        let CartOwner::Customer(reference) = owner else {
            return Ok((None, Vec::new()));
        };
        let customer = self
            .customers
            .find_customer_by_reference(reference)
            .await
            .map_err(|error| GatewayError::Internal(error.to_string()))?;
        let Some(customer) = customer else {
            return Ok((None, Vec::new()));
        };
        let addresses = self
            .customers
            .list_addresses(customer.id)
            .await
            .map_err(|error| GatewayError::Internal(error.to_string()))?;
        Ok((Some(customer.id), addresses))
    }

    async fn checkout_data(&self, owner: &CartOwner, input: &CheckoutDataInput) -> Result<CheckoutData, GatewayError> {
        let cart = self.owned_cart(owner, &input.id_cart).await?;
        let store = self.store_settings(&cart.store).await?;
        let (_, addresses) = self.saved_addresses(owner).await?;
        let shipment_methods = self
            .orders
            .shipment_methods(&store, &cart.currency, cart.price_mode)
            .await?;
        let payment_methods = self.orders.payment_methods(&store).await?;
        let method_views: Vec<ShipmentMethodView> = shipment_methods
            .iter()
            .map(|method| shipment_view(method, &cart.currency))
            .collect();
        let payment_views: Vec<PaymentMethodView> = payment_methods
            .iter()
            .filter(|method| self.processes.process_for(method).is_some())
            .map(payment_view)
            .collect();
        let mut providers: BTreeMap<String, Vec<PaymentMethodView>> = BTreeMap::new();
        for view in &payment_views {
            providers
                .entry(view.payment_provider_name.clone())
                .or_default()
                .push(view.clone());
        }
        let selected_shipment_methods = input
            .shipments
            .iter()
            .filter_map(|shipment| shipment.id_shipment_method)
            .filter_map(|id| method_views.iter().find(|view| view.id == id.to_string()).cloned())
            .collect();
        let selected_payment_methods = input
            .payments
            .iter()
            .filter_map(|selection| {
                payment_methods
                    .iter()
                    .find(|method| method.matches(&selection.payment_provider_name, &selection.payment_method_name))
                    .map(payment_view)
            })
            .collect();
        Ok(CheckoutData {
            addresses,
            payment_providers: providers
                .into_iter()
                .map(|(payment_provider_name, payment_methods)| PaymentProviderView {
                    payment_provider_name,
                    payment_methods,
                })
                .collect(),
            shipment_methods: method_views,
            payment_methods: payment_views,
            selected_shipment_methods,
            selected_payment_methods,
        })
    }

    async fn place_order(
        &self,
        owner: CartOwner,
        locale: &str,
        idempotency_key: Option<String>,
        input: CheckoutInput,
    ) -> Result<PlacedOrder, GatewayError> {
        if let Some(key) = &idempotency_key
            && (key.trim().is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LENGTH)
        {
            return Err(GatewayError::rejected(
                code::CHECKOUT_DATA_INVALID,
                "Idempotency-Key must be 1 to 255 characters",
            ));
        }
        if let Some(key) = &idempotency_key
            && let Some(order) = self.existing_order(&owner, key).await?
        {
            return Ok(self.placed(&order));
        }
        let cart = self.owned_cart(&owner, &input.id_cart).await?;
        if cart.items.is_empty() {
            return Err(GatewayError::rejected(code::CART_EMPTY, "the cart is empty"));
        }
        let store = self.store_settings(&cart.store).await?;
        let (customer_id, saved) = self.saved_addresses(&owner).await?;
        let mut problems = Problems::default();

        let (email, salutation, first_name, last_name) = self
            .orderer(&owner, customer_id, input.customer.as_ref(), &mut problems)
            .await?;
        let billing_address = match &input.billing_address {
            Some(address) => order_address(address, "billingAddress", &saved, &mut problems),
            None => {
                problems.push(
                    code::CHECKOUT_DATA_INVALID,
                    "billingAddress",
                    "billingAddress is required",
                );
                None
            }
        };

        let payment_methods = self.orders.payment_methods(&store).await?;
        let payment = self.payment(&input.payments, &payment_methods)?;
        let process = self.processes.process_for(&payment).map(str::to_owned).ok_or_else(|| {
            GatewayError::rejected_at(
                code::PAYMENT_METHOD_INVALID,
                "/data/attributes/payments/0",
                format!("payment method {} has no order process", payment.process_key()),
            )
        })?;
        let definition = self
            .processes
            .processes
            .get(&process)
            .ok_or_else(|| GatewayError::Internal(format!("OMS process {process} is not loaded")))?;
        let initial = definition.state(&self.processes.initial_state).ok_or_else(|| {
            GatewayError::Internal(format!(
                "OMS process {process} has no initial state {}",
                self.processes.initial_state
            ))
        })?;

        let methods = self
            .orders
            .shipment_methods(&store, &cart.currency, cart.price_mode)
            .await?;
        let skus: Vec<String> = cart.items.iter().map(|item| item.sku.clone()).collect();
        let shipment_of_sku = shipments_of(&input, &skus, &mut problems);
        let mut shipments = Vec::new();
        if input.shipments.is_empty() {
            problems.push(
                code::CHECKOUT_DATA_INVALID,
                "shipments",
                "at least one shipment is required",
            );
        }
        for (index, selection) in input.shipments.iter().enumerate() {
            let field = format!("shipments/{index}");
            let method = match selection.id_shipment_method {
                Some(id) => {
                    let found = methods.iter().find(|method| method.id == id).cloned();
                    if found.is_none() {
                        problems.push(
                            code::CHECKOUT_DATA_INVALID,
                            &format!("{field}/idShipmentMethod"),
                            format!("shipment method {id} is not available in store {}", store.name),
                        );
                    }
                    found
                }
                None => {
                    problems.push(
                        code::CHECKOUT_DATA_INVALID,
                        &format!("{field}/idShipmentMethod"),
                        "idShipmentMethod is required",
                    );
                    None
                }
            };
            let address = match &selection.shipping_address {
                Some(address) => order_address(address, &format!("{field}/shippingAddress"), &saved, &mut problems),
                None => billing_address.clone(),
            };
            if let Some(date) = &selection.requested_delivery_date
                && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err()
            {
                problems.push(
                    code::CHECKOUT_DATA_INVALID,
                    &format!("{field}/requestedDeliveryDate"),
                    "requestedDeliveryDate must be a date YYYY-MM-DD",
                );
            }
            if let (Some(method), Some(address)) = (method, address) {
                let expense_tax = match cart.price_mode {
                    PriceMode::Gross => tax_in_gross(method.price, method.tax_rate),
                    PriceMode::Net => tax_on_net(method.price, method.tax_rate),
                };
                shipments.push(NewShipment {
                    method,
                    address,
                    requested_delivery_date: selection.requested_delivery_date.clone(),
                    expense_tax,
                });
            }
        }
        if !problems.is_empty() {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        }
        let billing_address =
            billing_address.ok_or_else(|| GatewayError::Internal("billing address vanished".to_owned()))?;

        // Price the cart again, exactly as the storefront showed it.
        let catalog = self
            .catalog
            .catalog_prices(&store, &cart.currency, cart.price_mode, &skus)
            .await?;
        let mut items = Vec::with_capacity(cart.items.len());
        let mut rejections = Vec::new();
        for line in &cart.items {
            let Some(product) = catalog
                .get(&line.sku)
                .filter(|product| product.is_active && product.is_in_store)
            else {
                rejections.push(Rejection::new(
                    code::ORDER_NOT_PLACED,
                    format!("product {} is no longer available", line.sku),
                ));
                continue;
            };
            let Some(unit_price) = product.unit_price_for(line.quantity) else {
                rejections.push(Rejection::new(
                    code::ORDER_NOT_PLACED,
                    format!("product {} has no price in {}", line.sku, cart.currency),
                ));
                continue;
            };
            let calculations = item_calculations(cart.price_mode, unit_price, line.quantity, product.tax_rate);
            items.push(NewOrderItem {
                sku: line.sku.clone(),
                abstract_sku: product.abstract_sku.clone(),
                quantity: i64::from(line.quantity),
                unit_price: calculations.unit_price,
                sum_price: calculations.sum_price,
                tax_rate_basis_points: basis_points(product.tax_rate),
                sum_tax_amount: calculations.sum_tax_amount_full_aggregation,
                shipment: shipment_of_sku.get(&line.sku).copied().unwrap_or(0),
                is_never_out_of_stock: product.is_never_out_of_stock,
            });
        }
        if !rejections.is_empty() {
            return Err(GatewayError::Rejected(rejections));
        }
        let totals = order_totals(cart.price_mode, &items, &shipments);
        let now = self.clock.now();
        // Relative to placing the order, which is when the item enters the initial state.
        let initial_timeouts = definition
            .timed_events(&initial.name)
            .into_iter()
            .filter_map(|event| {
                let due = event.timeout.as_ref()?.due_after(now);
                Some((event.name.clone(), due.timestamp_micros()))
            })
            .collect();
        let order = NewOrder {
            store,
            owner: owner.clone(),
            cart_uuid: cart.uuid.clone(),
            idempotency_key,
            email,
            salutation,
            first_name,
            last_name,
            locale: locale.to_owned(),
            currency: cart.currency.clone(),
            price_mode: cart.price_mode,
            billing_address,
            shipments,
            items,
            payment,
            totals,
            process,
            initial_state: initial.name.clone(),
            initial_state_reserved: initial.reserved,
            initial_timeouts,
            created_at_micros: now.timestamp_micros(),
        };
        match self.orders.place_order(&order).await? {
            PlaceOutcome::Placed(stored) => Ok(self.placed(&stored)),
            PlaceOutcome::Existing { order_reference, .. } => {
                let stored =
                    self.orders.find_order(&order_reference).await?.ok_or_else(|| {
                        GatewayError::Internal(format!("order {order_reference} vanished after placing"))
                    })?;
                Ok(self.placed(&stored))
            }
            PlaceOutcome::OutOfStock(shortages) => Err(GatewayError::Rejected(
                shortages
                    .iter()
                    .map(|shortage| {
                        Rejection::new(
                            code::ORDER_NOT_PLACED,
                            format!(
                                "product {} is not available in the requested quantity ({} requested, {} available)",
                                shortage.sku, shortage.requested, shortage.available
                            ),
                        )
                    })
                    .collect(),
            )),
            PlaceOutcome::CartChanged => Err(GatewayError::rejected(
                code::ORDER_NOT_PLACED,
                "the cart changed during checkout; review it and try again",
            )),
        }
    }

    async fn existing_order(&self, owner: &CartOwner, key: &str) -> Result<Option<StoredOrder>, GatewayError> {
        // The repository also answers by (owner, key) while placing; this early lookup is what lets a
        // retry succeed although the first attempt already deleted the cart.
        Ok(self
            .orders
            .find_order_by_idempotency_key(&owner_key(owner), key)
            .await?)
    }

    async fn orderer(
        &self,
        owner: &CartOwner,
        customer_id: Option<CustomerId>,
        given: Option<&CheckoutCustomer>,
        problems: &mut Problems,
    ) -> Result<(String, Option<String>, String, String), GatewayError> {
        let account = match (owner, customer_id) {
            (CartOwner::Customer(reference), Some(_)) => self
                .customers
                .find_customer_by_reference(reference)
                .await
                .map_err(|error| GatewayError::Internal(error.to_string()))?,
            _ => None,
        };
        let given = given.cloned().unwrap_or_default();
        let pick = |given: Option<&String>, stored: Option<&str>| {
            given
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .or_else(|| stored.map(str::to_owned))
        };
        let profile = account.as_ref().map(|account| &account.profile);
        let email = pick(given.email.as_ref(), profile.map(|profile| profile.email.as_str()));
        let first_name = pick(
            given.first_name.as_ref(),
            profile.map(|profile| profile.first_name.as_str()),
        );
        let last_name = pick(
            given.last_name.as_ref(),
            profile.map(|profile| profile.last_name.as_str()),
        );
        let salutation = pick(
            given.salutation.as_ref(),
            profile.map(|profile| profile.salutation.as_str()),
        );
        let email = match email {
            Some(email) => match Email::parse(&email) {
                Ok(email) => email.as_str().to_owned(),
                Err(_) => {
                    problems.push(
                        code::CHECKOUT_DATA_INVALID,
                        "customer/email",
                        "not a valid e-mail address",
                    );
                    String::new()
                }
            },
            None => {
                problems.push(
                    code::CHECKOUT_DATA_INVALID,
                    "customer/email",
                    "customer.email is required",
                );
                String::new()
            }
        };
        let mut required = |value: Option<String>, field: &str| {
            value.unwrap_or_else(|| {
                problems.push(
                    code::CHECKOUT_DATA_INVALID,
                    &format!("customer/{field}"),
                    format!("customer.{field} is required"),
                );
                String::new()
            })
        };
        let first_name = required(first_name, "firstName");
        let last_name = required(last_name, "lastName");
        Ok((email, salutation, first_name, last_name))
    }

    fn payment(
        &self,
        selections: &[PaymentSelection],
        methods: &[PaymentMethod],
    ) -> Result<PaymentMethod, GatewayError> {
        match selections {
            [] => Err(GatewayError::rejected_at(
                code::CHECKOUT_DATA_INVALID,
                "/data/attributes/payments",
                "one payment method is required",
            )),
            [selection] => methods
                .iter()
                .find(|method| method.matches(&selection.payment_provider_name, &selection.payment_method_name))
                .cloned()
                .ok_or_else(|| {
                    GatewayError::rejected_at(
                        code::PAYMENT_METHOD_INVALID,
                        "/data/attributes/payments/0",
                        format!(
                            "payment method {} of provider {} is not available",
                            selection.payment_method_name, selection.payment_provider_name
                        ),
                    )
                }),
            _ => Err(GatewayError::rejected_at(
                code::MULTIPLE_PAYMENTS,
                "/data/attributes/payments",
                "only one payment method per order is allowed",
            )),
        }
    }

    fn placed(&self, order: &StoredOrder) -> PlacedOrder {
        PlacedOrder {
            order_reference: order.reference.clone(),
            redirect_url: None,
            is_external_redirect: None,
            order: self.order_view(order),
        }
    }

    /// An order as its customer sees it.
    pub fn order_view(&self, order: &StoredOrder) -> Order {
        let mut item_states: Vec<String> = Vec::new();
        let items: Vec<OrderItem> = order
            .items
            .iter()
            .map(|item| {
                let state = self.processes.customer_state(item);
                if !item_states.contains(&state) {
                    item_states.push(state.clone());
                }
                OrderItem {
                    uuid: item.uuid.clone(),
                    name: item.name.clone(),
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                    unit_price: item.unit_price,
                    sum_price: item.sum_price,
                    tax_rate: tax_percent(item.tax_rate_basis_points),
                    sum_tax_amount: item.sum_tax_amount,
                    state,
                    refundable_amount: item
                        .sum_price
                        .saturating_sub(item.refunded_amount)
                        .saturating_sub(item.canceled_amount),
                    canceled_amount: item.canceled_amount,
                    is_returnable: self
                        .processes
                        .processes
                        .get(&item.process)
                        .is_some_and(|process| process.manual_events(&item.state).contains(&"start return")),
                    id_shipment: item.shipment_id,
                }
            })
            .collect();
        Order {
            order_reference: order.reference.clone(),
            created_at: micros_to_rfc3339(order.created_at_micros),
            currency_iso_code: order.currency.clone(),
            price_mode: order.price_mode.clone(),
            store: order.store.clone(),
            item_states,
            totals: order.totals,
            billing_address: order.billing_address.clone(),
            items,
            expenses: order
                .expenses
                .iter()
                .zip(
                    order
                        .shipments
                        .iter()
                        .map(|shipment| Some(shipment.id))
                        .chain(std::iter::repeat(None)),
                )
                .map(|(expense, shipment)| OrderExpense {
                    kind: expense.kind.clone(),
                    name: expense.name.clone(),
                    sum_price: expense.sum_price,
                    tax_rate: tax_percent(expense.tax_rate_basis_points),
                    sum_tax_amount: expense.sum_tax_amount,
                    id_shipment: shipment,
                })
                .collect(),
            payments: order
                .payments
                .iter()
                .map(|payment| OrderPayment {
                    amount: payment.amount,
                    payment_provider: payment.provider.clone(),
                    payment_method: payment.method.clone(),
                    status: payment.status.clone(),
                })
                .collect(),
            shipments: order
                .shipments
                .iter()
                .map(|shipment| OrderShipment {
                    id_shipment: shipment.id,
                    shipment_method_name: shipment.method_name.clone(),
                    carrier_name: shipment.carrier_name.clone(),
                    requested_delivery_date: shipment.requested_delivery_date.clone(),
                    shipping_address: shipment.address.clone(),
                })
                .collect(),
            calculated_discounts: serde_json::Map::new(),
        }
    }
}

fn shipment_view(method: &ShipmentMethod, currency: &str) -> ShipmentMethodView {
    ShipmentMethodView {
        id: method.id.to_string(),
        name: method.name.clone(),
        carrier_name: method.carrier_name.clone(),
        price: method.price,
        tax_rate: method.tax_rate,
        currency_iso_code: currency.to_owned(),
        delivery_time: method.delivery_time.clone(),
    }
}

fn payment_view(method: &PaymentMethod) -> PaymentMethodView {
    PaymentMethodView {
        id: method.key.clone(),
        payment_method_name: method.name.clone(),
        payment_provider_name: method.provider_key.clone(),
        priority: method.priority,
        required_request_data: vec!["paymentMethod".to_owned(), "paymentProvider".to_owned()],
    }
}

/// A percentage (19) as basis points (1900).
pub fn basis_points(percent: Decimal) -> i32 {
    use rust_decimal::prelude::ToPrimitive;
    (percent * Decimal::ONE_HUNDRED).round().to_i32().unwrap_or(0)
}

/// Which shipment each cart SKU goes with. One shipment without item list takes every item; otherwise
/// every SKU must be listed in exactly one shipment.
fn shipments_of(input: &CheckoutInput, skus: &[String], problems: &mut Problems) -> HashMap<String, usize> {
    let mut assigned = HashMap::new();
    if input.shipments.len() == 1 && input.shipments[0].items.is_empty() {
        for sku in skus {
            assigned.insert(sku.clone(), 0);
        }
        return assigned;
    }
    for (index, shipment) in input.shipments.iter().enumerate() {
        for (position, sku) in shipment.items.iter().enumerate() {
            let field = format!("shipments/{index}/items/{position}");
            if !skus.contains(sku) {
                problems.push(code::CHECKOUT_DATA_INVALID, &field, format!("{sku} is not in the cart"));
            } else if assigned.insert(sku.clone(), index).is_some() {
                problems.push(
                    code::CHECKOUT_DATA_INVALID,
                    &field,
                    format!("{sku} is in more than one shipment"),
                );
            }
        }
    }
    if !input.shipments.is_empty() {
        for sku in skus.iter().filter(|sku| !assigned.contains_key(*sku)) {
            problems.push(
                code::CHECKOUT_DATA_INVALID,
                "shipments",
                format!("cart item {sku} is in no shipment"),
            );
        }
    }
    assigned
}

/// A checkout address: a saved address of the customer by `id`, or a full address checked like an
/// address book entry. Problems point below `field` (`billingAddress/zipCode`).
fn order_address(
    address: &CheckoutAddress,
    field: &str,
    saved: &[Address],
    problems: &mut Problems,
) -> Option<OrderAddress> {
    if let Some(id) = &address.id {
        let Some(found) = saved.iter().find(|saved| &saved.id == id) else {
            problems.push(
                code::CHECKOUT_DATA_INVALID,
                &format!("{field}/id"),
                format!("address {id} not found"),
            );
            return None;
        };
        return Some(OrderAddress {
            salutation: Some(found.salutation.clone()),
            first_name: found.first_name.clone(),
            last_name: found.last_name.clone(),
            address1: found.address1.clone(),
            address2: found.address2.clone(),
            address3: found.address3.clone(),
            zip_code: found.zip_code.clone(),
            city: found.city.clone(),
            iso2_code: found.iso2_code.clone(),
            company: found.company.clone(),
            phone: found.phone.clone(),
        });
    }
    let input = AddressInput {
        salutation: address.salutation.clone().unwrap_or_else(|| "Mr".to_owned()),
        first_name: address.first_name.clone().unwrap_or_default(),
        last_name: address.last_name.clone().unwrap_or_default(),
        address1: address.address1.clone().unwrap_or_default(),
        address2: address.address2.clone(),
        address3: address.address3.clone(),
        zip_code: address.zip_code.clone().unwrap_or_default(),
        city: address.city.clone().unwrap_or_default(),
        country: address.country.clone(),
        iso2_code: address.iso2_code.clone().unwrap_or_default(),
        company: address.company.clone(),
        phone: address.phone.clone(),
        is_default_shipping: false,
        is_default_billing: false,
    };
    let mut own = Problems::default();
    let checked = new_address(&input, &mut own);
    // Re-point the address book's rejections below this address and give them checkout's code.
    for rejection in own.into_rejections() {
        let inner = rejection
            .pointer
            .as_deref()
            .and_then(|pointer| pointer.strip_prefix("/data/attributes/"))
            .unwrap_or_default()
            .to_owned();
        problems.push(
            code::CHECKOUT_DATA_INVALID,
            &format!("{field}/{inner}"),
            rejection.detail,
        );
    }
    checked.map(|checked| OrderAddress {
        salutation: address.salutation.as_ref().map(|_| checked.salutation.clone()),
        first_name: checked.first_name,
        last_name: checked.last_name,
        address1: checked.address1,
        address2: checked.address2,
        address3: checked.address3,
        zip_code: checked.zip_code,
        city: checked.city,
        iso2_code: checked.iso2_code,
        company: checked.company,
        phone: checked.phone,
    })
}

/// Order totals: the cart's arithmetic plus shipping expenses.
fn order_totals(mode: PriceMode, items: &[NewOrderItem], shipments: &[NewShipment]) -> OrderTotals {
    let subtotal: i64 = items.iter().map(|item| item.sum_price).sum();
    let item_tax: i64 = items.iter().map(|item| item.sum_tax_amount).sum();
    let expense_total: i64 = shipments.iter().map(|shipment| shipment.method.price).sum();
    let expense_tax: i64 = shipments.iter().map(|shipment| shipment.expense_tax).sum();
    let tax_total = item_tax + expense_tax;
    let grand_total = match mode {
        PriceMode::Gross => subtotal + expense_total,
        PriceMode::Net => subtotal + expense_total + tax_total,
    };
    OrderTotals {
        expense_total,
        discount_total: 0,
        tax_total,
        subtotal,
        grand_total,
        canceled_total: 0,
        remuneration_total: 0,
    }
}

/// Epoch microseconds as RFC 3339 UTC with microseconds, as every API shows times.
pub fn micros_to_rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sum_price: i64, sum_tax_amount: i64) -> NewOrderItem {
        NewOrderItem {
            sku: "100_blue".to_owned(),
            abstract_sku: "100".to_owned(),
            quantity: 1,
            unit_price: sum_price,
            sum_price,
            tax_rate_basis_points: 1900,
            sum_tax_amount,
            shipment: 0,
            is_never_out_of_stock: false,
        }
    }

    fn shipment(price: i64, expense_tax: i64) -> NewShipment {
        NewShipment {
            method: ShipmentMethod {
                id: 1,
                key: "kt_standard".to_owned(),
                name: "Standard".to_owned(),
                carrier_name: "Kontor Post".to_owned(),
                delivery_time: None,
                price,
                tax_rate: Decimal::from(19),
            },
            address: OrderAddress {
                salutation: None,
                first_name: "Erika".to_owned(),
                last_name: "Muster".to_owned(),
                address1: "Hauptstraße 5".to_owned(),
                address2: None,
                address3: None,
                zip_code: "10115".to_owned(),
                city: "Berlin".to_owned(),
                iso2_code: "DE".to_owned(),
                company: None,
                phone: None,
            },
            requested_delivery_date: None,
            expense_tax,
        }
    }

    #[test]
    fn gross_totals_add_shipping_and_count_its_tax() {
        let totals = order_totals(PriceMode::Gross, &[item(11_900, 1_900)], &[shipment(490, 78)]);
        assert_eq!(totals.subtotal, 11_900);
        assert_eq!(totals.expense_total, 490);
        assert_eq!(totals.tax_total, 1_978);
        assert_eq!(totals.grand_total, 12_390);
    }

    #[test]
    fn net_totals_add_the_tax_on_top() {
        let totals = order_totals(PriceMode::Net, &[item(10_000, 1_900)], &[shipment(400, 76)]);
        assert_eq!(totals.grand_total, 10_000 + 400 + 1_976);
    }

    #[test]
    fn every_cart_item_must_be_in_exactly_one_shipment() {
        let input = CheckoutInput {
            customer: None,
            id_cart: "c".to_owned(),
            billing_address: None,
            payments: Vec::new(),
            shipments: vec![
                crate::gateway::ShipmentSelection {
                    items: vec!["a".to_owned(), "x".to_owned()],
                    ..Default::default()
                },
                crate::gateway::ShipmentSelection {
                    items: vec!["a".to_owned()],
                    ..Default::default()
                },
            ],
        };
        let mut problems = Problems::default();
        shipments_of(&input, &["a".to_owned(), "b".to_owned()], &mut problems);
        let pointers: Vec<String> = problems
            .into_rejections()
            .into_iter()
            .filter_map(|rejection| rejection.pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/data/attributes/shipments/0/items/1",
                "/data/attributes/shipments/1/items/0",
                "/data/attributes/shipments",
            ]
        );
    }

    #[test]
    fn a_bad_address_is_reported_below_its_field_with_the_checkout_code() {
        let mut problems = Problems::default();
        let address = CheckoutAddress {
            first_name: Some("Erika".to_owned()),
            ..CheckoutAddress::default()
        };
        assert!(order_address(&address, "billingAddress", &[], &mut problems).is_none());
        let rejections = problems.into_rejections();
        assert!(
            rejections
                .iter()
                .all(|rejection| rejection.code == code::CHECKOUT_DATA_INVALID)
        );
        assert!(
            rejections
                .iter()
                .any(|rejection| rejection.pointer.as_deref() == Some("/data/attributes/billingAddress/zipCode"))
        );
    }
}
