//! The checkout in steps, for guests and signed-in customers: address → shipment → payment → summary,
//! then `POST /checkout/place` and the confirmation page.
//!
//! What each step accepted is kept in the session ([`PROGRESS`]); a step reached before the ones it
//! needs redirects to the first missing one, and an empty cart sends the shopper back to the cart.
//! The address step checks its fields with the same rules the backend applies (the domain's address
//! validation), so mistakes show at once next to their fields; placing the order re-checks everything
//! on the backend, and its refusals are shown on the step they concern. Methods come from the
//! backend's `checkout-data`, so the shop offers exactly what the order will accept.
//!
//! One idempotency key per checkout makes a "Place order" sent twice place one order. A guest sees
//! their confirmation through the session ([`LAST_ORDER`]); a customer can always reach it from
//! their account.

use super::cart::{CartView, cart_view, current_cart, frame, gateway_failure, owner, plain_page, unexpected_reply};
use super::order_states::StateNames;
use super::{Layout, Shopper, SignedInCustomer, flash, keys, render};
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kontor_domain::customer::validation::{Problems, new_address};
use kontor_domain::gateway::{
    Address, AddressInput, Cart, CartOwner, CheckoutAddress, CheckoutCommand, CheckoutCustomer, CheckoutData,
    CheckoutDataInput, CheckoutInput, CustomerCommand, GatewayError, GatewayReply, GatewayRequest, Order,
    PaymentSelection, Rejection, ShipmentSelection,
};
use kontor_domain::users::Email;
use kontor_web::html::forms::FORM;
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Session key of the checkout's [`Progress`].
pub(super) const PROGRESS: &str = "checkout";
/// Session key of the order placed last in this session, for its confirmation page.
const LAST_ORDER: &str = "last_order";

/// The form field prefixes of the two addresses; the billing one is also the backend's attribute name.
const BILLING: &str = "billingAddress";
const SHIPPING: &str = "shippingAddress";

pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/checkout", get(|| async { Redirect::to(Step::Address.path()) }))
        .route("/checkout/address", get(address_form).post(save_address))
        .route("/checkout/shipment", get(shipment_form).post(save_shipment))
        .route("/checkout/payment", get(payment_form).post(save_payment))
        .route("/checkout/summary", get(summary))
        .route("/checkout/place", post(place))
        .route("/checkout/confirmation/{reference}", get(confirmation))
}

/// What the steps accepted so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    /// The address form as accepted, shown again when the shopper comes back to it.
    address_form: BTreeMap<String, String>,
    /// Who orders; `None` for customers (the backend takes their account).
    customer: Option<CheckoutCustomer>,
    billing: Option<CheckoutAddress>,
    /// `None`: shipped to the billing address.
    shipping: Option<CheckoutAddress>,
    shipment_method: Option<i64>,
    payment: Option<PaymentSelection>,
    idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Address,
    Shipment,
    Payment,
    Summary,
}

impl Step {
    const ALL: [Step; 4] = [Step::Address, Step::Shipment, Step::Payment, Step::Summary];

    fn path(self) -> &'static str {
        match self {
            Step::Address => "/checkout/address",
            Step::Shipment => "/checkout/shipment",
            Step::Payment => "/checkout/payment",
            Step::Summary => "/checkout/summary",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Step::Address => "Address",
            Step::Shipment => "Shipping",
            Step::Payment => "Payment",
            Step::Summary => "Summary",
        }
    }
}

impl Progress {
    /// The first step whose choice is missing; `Summary` when everything is there.
    fn first_missing(&self) -> Step {
        if self.billing.is_none() {
            Step::Address
        } else if self.shipment_method.is_none() {
            Step::Shipment
        } else if self.payment.is_none() {
            Step::Payment
        } else {
            Step::Summary
        }
    }

    fn save(&mut self, session: &Session) {
        if self.idempotency_key.is_none() {
            self.idempotency_key = Some(uuid::Uuid::new_v4().to_string());
        }
        session.insert(PROGRESS, &*self);
    }
}

/// The step list above each step's form.
#[derive(Debug, Serialize)]
struct StepLink {
    label: &'static str,
    path: &'static str,
    current: bool,
    /// Reachable: every step before it is done.
    reachable: bool,
}

fn step_links(current: Step, progress: &Progress) -> Vec<StepLink> {
    let reached = progress.first_missing();
    Step::ALL
        .iter()
        .map(|step| StepLink {
            label: step.label(),
            path: step.path(),
            current: *step == current,
            reachable: *step <= reached,
        })
        .collect()
}

/// One checkout request: the page frame, the non-empty cart and the progress so far.
struct Checkout {
    shopper: Shopper,
    layout: Layout,
    cart: Cart,
    owner: CartOwner,
    progress: Progress,
}

/// Starts a checkout request at `step`: an empty cart goes back to the cart page, a step whose
/// predecessors are missing redirects to the first missing one.
async fn begin(state: &StorefrontState, session: &Session, csrf: &CsrfToken, step: Step) -> Result<Checkout, Response> {
    let (shopper, layout) = frame(state, session, csrf, step.path()).await?;
    let cart = current_cart(state, session, &shopper.store.name)
        .await
        .map_err(|error| gateway_failure(&error))?;
    let (Some(cart), Some(owner)) = (cart.filter(|cart| !cart.items.is_empty()), owner(session)) else {
        flash(
            session,
            "info",
            "Your cart is empty. Add a product before you check out.",
        );
        return Err(Redirect::to("/cart").into_response());
    };
    let progress: Progress = session.get(PROGRESS).unwrap_or_default();
    let missing = progress.first_missing();
    if missing < step {
        return Err(Redirect::to(missing.path()).into_response());
    }
    Ok(Checkout {
        shopper,
        layout,
        cart,
        owner,
        progress,
    })
}

fn is_guest(checkout: &Checkout) -> bool {
    matches!(checkout.owner, CartOwner::Guest(_))
}

async fn checkout_data(state: &StorefrontState, checkout: &Checkout) -> Result<CheckoutData, Response> {
    let command = CheckoutCommand::CheckoutData {
        owner: checkout.owner.clone(),
        input: Box::new(CheckoutDataInput {
            id_cart: checkout.cart.id.clone(),
            ..CheckoutDataInput::default()
        }),
    };
    match state.gateway.execute(GatewayRequest::Checkout(command)).await {
        Ok(GatewayReply::CheckoutData(data)) => Ok(data),
        Ok(other) => Err(unexpected_reply(&other)),
        Err(error) => Err(gateway_failure(&error)),
    }
}

/// The saved addresses a customer may pick; none for guests.
async fn saved_addresses(state: &StorefrontState, session: &Session) -> Result<Vec<Address>, Response> {
    let Some(customer) = session.get::<SignedInCustomer>(keys::CUSTOMER) else {
        return Ok(Vec::new());
    };
    let command = CustomerCommand::ListAddresses {
        customer_reference: customer.reference,
    };
    match state.gateway.execute(GatewayRequest::Customer(command)).await {
        Ok(GatewayReply::Addresses(addresses)) => Ok(addresses),
        Ok(other) => Err(unexpected_reply(&other)),
        Err(error) => Err(gateway_failure(&error)),
    }
}

// ---------------------------------------------------------------------------------------------------
// Address

#[derive(Debug, Serialize)]
struct AddressPage {
    steps: Vec<StepLink>,
    guest: bool,
    values: BTreeMap<String, String>,
    errors: FormErrors,
    saved: Vec<Address>,
}

/// What the address form starts with: the accepted form, else the customer's default addresses, name
/// and the store's country when the store is named by one.
fn initial_address_values(checkout: &Checkout, session: &Session, saved: &[Address]) -> BTreeMap<String, String> {
    if !checkout.progress.address_form.is_empty() {
        return checkout.progress.address_form.clone();
    }
    let mut values = BTreeMap::new();
    values.insert("shippingTo".to_owned(), "billing".to_owned());
    if let Some(billing) = saved.iter().find(|address| address.is_default_billing) {
        values.insert(format!("{BILLING}.id"), billing.id.clone());
    }
    if let Some(shipping) = saved
        .iter()
        .find(|address| address.is_default_shipping && !address.is_default_billing)
    {
        values.insert("shippingTo".to_owned(), "other".to_owned());
        values.insert(format!("{SHIPPING}.id"), shipping.id.clone());
    }
    let store = &checkout.shopper.store.name;
    if store.len() == 2 && store.chars().all(|ch| ch.is_ascii_alphabetic()) {
        values.insert(format!("{BILLING}.iso2Code"), store.to_ascii_uppercase());
        values.insert(format!("{SHIPPING}.iso2Code"), store.to_ascii_uppercase());
    }
    if let Some(customer) = session.get::<SignedInCustomer>(keys::CUSTOMER) {
        values.insert(format!("{BILLING}.firstName"), customer.first_name);
    }
    values
}

async fn render_address(
    state: &StorefrontState,
    checkout: &Checkout,
    saved: Vec<Address>,
    status: StatusCode,
    values: BTreeMap<String, String>,
    errors: FormErrors,
) -> Result<Response, Response> {
    let page = AddressPage {
        steps: step_links(Step::Address, &checkout.progress),
        guest: is_guest(checkout),
        values,
        errors,
        saved,
    };
    Ok(render(
        state,
        status,
        "storefront/checkout_address.html",
        &checkout.layout,
        page,
    ))
}

/// `GET /checkout/address`.
async fn address_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
) -> Result<Response, Response> {
    let checkout = begin(&state, &session, &csrf, Step::Address).await?;
    let saved = saved_addresses(&state, &session).await?;
    let values = initial_address_values(&checkout, &session, &saved);
    render_address(&state, &checkout, saved, StatusCode::OK, values, FormErrors::new()).await
}

/// The address under `prefix` in the form: a saved address by `<prefix>.id`, or the typed fields
/// checked by the address book's rules, their problems pointing at `/data/attributes/<prefix>/<field>`.
fn address_of_form(
    form: &FormFields,
    prefix: &str,
    saved: &[Address],
    rejections: &mut Vec<Rejection>,
) -> CheckoutAddress {
    let field = |name: &str| form.text(&format!("{prefix}.{name}"));
    let saved_id = field("id");
    if !saved_id.is_empty() {
        if !saved.iter().any(|address| address.id == saved_id) {
            rejections.push(
                Rejection::new("1101", "Choose one of your addresses.").at(&format!("/data/attributes/{prefix}/id")),
            );
        }
        return CheckoutAddress {
            id: Some(saved_id),
            ..CheckoutAddress::default()
        };
    }
    let optional = |name: &str| Some(field(name)).filter(|value| !value.is_empty());
    let input = AddressInput {
        salutation: field("salutation"),
        first_name: field("firstName"),
        last_name: field("lastName"),
        address1: field("address1"),
        address2: optional("address2"),
        address3: None,
        zip_code: field("zipCode"),
        city: field("city"),
        country: None,
        iso2_code: field("iso2Code").to_ascii_uppercase(),
        company: optional("company"),
        phone: optional("phone"),
        is_default_shipping: false,
        is_default_billing: false,
    };
    let mut problems = Problems::default();
    new_address(&input, &mut problems);
    for rejection in problems.into_rejections() {
        let inner = rejection
            .pointer
            .as_deref()
            .and_then(|pointer| pointer.strip_prefix("/data/attributes/"))
            .unwrap_or_default()
            .to_owned();
        rejections
            .push(Rejection::new(&rejection.code, rejection.detail).at(&format!("/data/attributes/{prefix}/{inner}")));
    }
    CheckoutAddress {
        salutation: Some(input.salutation),
        first_name: Some(input.first_name),
        last_name: Some(input.last_name),
        address1: Some(input.address1),
        address2: input.address2,
        zip_code: Some(input.zip_code),
        city: Some(input.city),
        iso2_code: Some(input.iso2_code),
        company: input.company,
        phone: input.phone,
        ..CheckoutAddress::default()
    }
}

/// The guest's e-mail address, checked like the backend checks it.
fn guest_email(form: &FormFields, rejections: &mut Vec<Rejection>) -> String {
    let email = form.text("customer.email");
    let pointer = "/data/attributes/customer/email";
    if email.is_empty() {
        rejections.push(Rejection::new("1101", "Enter your e-mail address.").at(pointer));
        return email;
    }
    match Email::parse(&email) {
        Ok(parsed) => parsed.as_str().to_owned(),
        Err(_) => {
            rejections.push(Rejection::new("1101", "Enter a valid e-mail address.").at(pointer));
            email
        }
    }
}

/// `POST /checkout/address`.
async fn save_address(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let mut checkout = begin(&state, &session, &csrf, Step::Address).await?;
    let saved = saved_addresses(&state, &session).await?;
    let mut rejections = Vec::new();
    let email = is_guest(&checkout).then(|| guest_email(&form, &mut rejections));
    let billing = address_of_form(&form, BILLING, &saved, &mut rejections);
    let ship_elsewhere = form.text("shippingTo") == "other";
    let shipping = ship_elsewhere.then(|| address_of_form(&form, SHIPPING, &saved, &mut rejections));
    if !rejections.is_empty() {
        let errors = FormErrors::from_rejections(&rejections);
        return render_address(
            &state,
            &checkout,
            saved,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.echo(),
            errors,
        )
        .await;
    }
    checkout.progress.customer = email.map(|email| CheckoutCustomer {
        salutation: billing.salutation.clone(),
        email: Some(email),
        first_name: billing.first_name.clone(),
        last_name: billing.last_name.clone(),
    });
    checkout.progress.billing = Some(billing);
    checkout.progress.shipping = shipping;
    checkout.progress.address_form = form.echo();
    checkout.progress.save(&session);
    Ok(Redirect::to(Step::Shipment.path()).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Shipment and payment

#[derive(Debug, Serialize)]
struct MethodsPage {
    steps: Vec<StepLink>,
    currency: String,
    /// `[{id, name, detail, price}]`.
    methods: Vec<serde_json::Value>,
    selected: Option<String>,
    errors: FormErrors,
}

fn shipment_methods(data: &CheckoutData) -> Vec<serde_json::Value> {
    data.shipment_methods
        .iter()
        .map(|method| {
            let detail = [Some(method.carrier_name.as_str()), method.delivery_time.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            serde_json::json!({"id": method.id, "name": method.name, "detail": detail, "price": method.price})
        })
        .collect()
}

fn payment_methods(data: &CheckoutData) -> Vec<serde_json::Value> {
    data.payment_methods
        .iter()
        .map(|method| {
            serde_json::json!({
                "id": method.id,
                "name": method.payment_method_name,
                "detail": method.payment_provider_name,
                "price": null,
            })
        })
        .collect()
}

async fn render_methods(
    state: &StorefrontState,
    checkout: &Checkout,
    step: Step,
    status: StatusCode,
    errors: FormErrors,
) -> Result<Response, Response> {
    let data = checkout_data(state, checkout).await?;
    let (methods, selected, template) = match step {
        Step::Shipment => (
            shipment_methods(&data),
            checkout.progress.shipment_method.map(|id| id.to_string()),
            "storefront/checkout_shipment.html",
        ),
        _ => (
            payment_methods(&data),
            checkout.progress.payment.as_ref().and_then(|chosen| {
                data.payment_methods
                    .iter()
                    .find(|method| {
                        method.payment_method_name == chosen.payment_method_name
                            && method.payment_provider_name == chosen.payment_provider_name
                    })
                    .map(|method| method.id.clone())
            }),
            "storefront/checkout_payment.html",
        ),
    };
    let page = MethodsPage {
        steps: step_links(step, &checkout.progress),
        currency: checkout.cart.currency.clone(),
        methods,
        selected,
        errors,
    };
    Ok(render(state, status, template, &checkout.layout, page))
}

/// `GET /checkout/shipment`.
async fn shipment_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
) -> Result<Response, Response> {
    let checkout = begin(&state, &session, &csrf, Step::Shipment).await?;
    render_methods(&state, &checkout, Step::Shipment, StatusCode::OK, FormErrors::new()).await
}

/// `POST /checkout/shipment` (`shipmentMethod`: one of the offered method ids).
async fn save_shipment(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let mut checkout = begin(&state, &session, &csrf, Step::Shipment).await?;
    let data = checkout_data(&state, &checkout).await?;
    let chosen = form.text("shipmentMethod");
    let Some(method) = data.shipment_methods.iter().find(|method| method.id == chosen) else {
        let mut errors = FormErrors::new();
        errors.add("shipmentMethod", "Choose a shipping method.");
        return render_methods(
            &state,
            &checkout,
            Step::Shipment,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    };
    checkout.progress.shipment_method = method.id.parse().ok();
    checkout.progress.save(&session);
    Ok(Redirect::to(Step::Payment.path()).into_response())
}

/// `GET /checkout/payment`.
async fn payment_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
) -> Result<Response, Response> {
    let checkout = begin(&state, &session, &csrf, Step::Payment).await?;
    render_methods(&state, &checkout, Step::Payment, StatusCode::OK, FormErrors::new()).await
}

/// `POST /checkout/payment` (`paymentMethod`: one of the offered method keys).
async fn save_payment(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let mut checkout = begin(&state, &session, &csrf, Step::Payment).await?;
    let data = checkout_data(&state, &checkout).await?;
    let chosen = form.text("paymentMethod");
    let Some(method) = data.payment_methods.iter().find(|method| method.id == chosen) else {
        let mut errors = FormErrors::new();
        errors.add("paymentMethod", "Choose a payment method.");
        return render_methods(
            &state,
            &checkout,
            Step::Payment,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    };
    checkout.progress.payment = Some(PaymentSelection {
        payment_method_name: method.payment_method_name.clone(),
        payment_provider_name: method.payment_provider_name.clone(),
        amount: None,
    });
    checkout.progress.save(&session);
    Ok(Redirect::to(Step::Summary.path()).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Summary and placing the order

#[derive(Debug, Serialize)]
struct SummaryPage {
    steps: Vec<StepLink>,
    cart: CartView,
    email: Option<String>,
    billing: Option<CheckoutAddress>,
    /// `None`: to the billing address.
    shipping: Option<CheckoutAddress>,
    shipment: Option<serde_json::Value>,
    payment: Option<PaymentSelection>,
    /// The cart's total plus shipping; the backend computes the order's own total when placing it.
    total: i64,
    errors: FormErrors,
}

/// A saved address chosen by id, shown with its fields.
fn shown(address: Option<&CheckoutAddress>, saved: &[Address]) -> Option<CheckoutAddress> {
    let address = address?;
    let Some(id) = &address.id else {
        return Some(address.clone());
    };
    let found = saved.iter().find(|saved| &saved.id == id)?;
    Some(CheckoutAddress {
        id: Some(found.id.clone()),
        salutation: Some(found.salutation.clone()),
        first_name: Some(found.first_name.clone()),
        last_name: Some(found.last_name.clone()),
        address1: Some(found.address1.clone()),
        address2: found.address2.clone(),
        zip_code: Some(found.zip_code.clone()),
        city: Some(found.city.clone()),
        iso2_code: Some(found.iso2_code.clone()),
        company: found.company.clone(),
        phone: found.phone.clone(),
        ..CheckoutAddress::default()
    })
}

async fn render_summary(
    state: &StorefrontState,
    session: &Session,
    checkout: &Checkout,
    status: StatusCode,
    errors: FormErrors,
) -> Result<Response, Response> {
    let data = checkout_data(state, checkout).await?;
    let method = checkout
        .progress
        .shipment_method
        .and_then(|id| data.shipment_methods.iter().find(|method| method.id == id.to_string()));
    let cart = cart_view(state, &checkout.shopper, &checkout.cart).await;
    let email = checkout
        .progress
        .customer
        .as_ref()
        .and_then(|customer| customer.email.clone())
        .or_else(|| {
            session
                .get::<SignedInCustomer>(keys::CUSTOMER)
                .map(|customer| customer.email)
        });
    let page = SummaryPage {
        steps: step_links(Step::Summary, &checkout.progress),
        total: cart.totals.grand_total + method.map_or(0, |method| method.price),
        cart,
        email,
        billing: shown(checkout.progress.billing.as_ref(), &data.addresses),
        shipping: shown(checkout.progress.shipping.as_ref(), &data.addresses),
        shipment: method.map(
            |method| serde_json::json!({"name": method.name, "carrier": method.carrier_name, "price": method.price}),
        ),
        payment: checkout.progress.payment.clone(),
        errors,
    };
    Ok(render(
        state,
        status,
        "storefront/checkout_summary.html",
        &checkout.layout,
        page,
    ))
}

/// `GET /checkout/summary`.
async fn summary(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
) -> Result<Response, Response> {
    let checkout = begin(&state, &session, &csrf, Step::Summary).await?;
    render_summary(&state, &session, &checkout, StatusCode::OK, FormErrors::new()).await
}

/// The form field a refusal of the order points at: the backend's pointers into the checkout
/// document, renamed to the step forms' fields (`shipments/0/shippingAddress/city` → `shippingAddress.city`).
fn field_of(pointer: &str) -> Option<(Step, String)> {
    let attribute = pointer.strip_prefix("/data/attributes/")?;
    let (step, field) = if let Some(rest) = attribute.strip_prefix("customer/") {
        match rest {
            "email" => (Step::Address, "customer.email".to_owned()),
            // The guest's name is the billing address's.
            other => (Step::Address, format!("{BILLING}.{other}")),
        }
    } else if let Some(rest) = attribute.strip_prefix("billingAddress/") {
        (Step::Address, format!("{BILLING}.{}", rest.replace('/', ".")))
    } else if let Some(rest) = attribute.strip_prefix("shipments/0/shippingAddress/") {
        (Step::Address, format!("{SHIPPING}.{}", rest.replace('/', ".")))
    } else if attribute.starts_with("shipments") {
        (Step::Shipment, "shipmentMethod".to_owned())
    } else if attribute.starts_with("payments") {
        (Step::Payment, "paymentMethod".to_owned())
    } else {
        return None;
    };
    Some((step, field))
}

/// The refusals of an order by the step that can fix them, with their form fields; refusals of no
/// field (stock, prices, a changed cart) belong to the summary.
fn route_rejections(rejections: &[Rejection]) -> (Step, FormErrors) {
    let located: Vec<(Step, String, &str)> = rejections
        .iter()
        .map(|rejection| {
            let (step, field) = rejection
                .pointer
                .as_deref()
                .and_then(field_of)
                .unwrap_or((Step::Summary, FORM.to_owned()));
            (step, field, rejection.detail.as_str())
        })
        .collect();
    let step = located.iter().map(|(step, _, _)| *step).min().unwrap_or(Step::Summary);
    let mut errors = FormErrors::new();
    for (_, field, detail) in located.iter().filter(|(at, _, _)| *at == step) {
        errors.add(field, *detail);
    }
    (step, errors)
}

/// `POST /checkout/place`: places the order from the accepted steps and shows its confirmation.
async fn place(State(state): State<StorefrontState>, session: Session, csrf: CsrfToken) -> Result<Response, Response> {
    let mut checkout = begin(&state, &session, &csrf, Step::Summary).await?;
    let progress = &checkout.progress;
    let input = CheckoutInput {
        customer: progress.customer.clone(),
        id_cart: checkout.cart.id.clone(),
        billing_address: progress.billing.clone(),
        payments: progress.payment.clone().into_iter().collect(),
        shipments: vec![ShipmentSelection {
            items: Vec::new(),
            shipping_address: progress.shipping.clone().or_else(|| progress.billing.clone()),
            id_shipment_method: progress.shipment_method,
            requested_delivery_date: None,
        }],
    };
    let command = CheckoutCommand::PlaceOrder {
        owner: checkout.owner.clone(),
        locale: checkout.shopper.locale.clone(),
        idempotency_key: progress.idempotency_key.clone(),
        input: Box::new(input),
    };
    let rejections = match state.gateway.execute(GatewayRequest::Checkout(command)).await {
        Ok(GatewayReply::OrderPlaced(placed)) => {
            session.remove(PROGRESS);
            session.insert(LAST_ORDER, &placed.order);
            let target = format!("/checkout/confirmation/{}", encode_segment(&placed.order_reference));
            return Ok(Redirect::to(&target).into_response());
        }
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(GatewayError::Rejected(rejections)) => rejections,
        Err(error) => return Err(gateway_failure(&error)),
    };
    let (step, errors) = route_rejections(&rejections);
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    match step {
        Step::Address => {
            let saved = saved_addresses(&state, &session).await?;
            let values = checkout.progress.address_form.clone();
            render_address(&state, &checkout, saved, status, values, errors).await
        }
        Step::Shipment | Step::Payment => {
            // The refused choice is no choice any more: the step must be taken again.
            if step == Step::Shipment {
                checkout.progress.shipment_method = None;
            } else {
                checkout.progress.payment = None;
            }
            checkout.progress.save(&session);
            render_methods(&state, &checkout, step, status, errors).await
        }
        Step::Summary => render_summary(&state, &session, &checkout, status, errors).await,
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[derive(Debug, Serialize)]
struct ConfirmationPage {
    order: Order,
    /// The order's distinct item states by display name, as the live status shows them.
    status: String,
    /// Display names of the item states.
    state_names: StateNames,
    /// Whether the page may follow the status live (signed-in customers only).
    live: bool,
}

/// `GET /checkout/confirmation/{reference}`: the order placed in this session, or one of the signed-in
/// customer's orders; anything else is not found, so references cannot be probed.
async fn confirmation(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    Path(reference): Path<String>,
) -> Result<Response, Response> {
    let path = format!("/checkout/confirmation/{}", encode_segment(&reference));
    let (shopper, layout) = frame(&state, &session, &csrf, &path).await?;
    let customer = session.get::<SignedInCustomer>(keys::CUSTOMER);
    let placed = session
        .get::<Order>(LAST_ORDER)
        .filter(|order| order.order_reference == reference);
    let order = match (placed, &customer) {
        (Some(order), _) => order,
        (None, Some(customer)) => {
            let command = CheckoutCommand::GetOrder {
                customer_reference: customer.reference.clone(),
                order_reference: reference,
            };
            match state.gateway.execute(GatewayRequest::Checkout(command)).await {
                Ok(GatewayReply::Order(order)) => *order,
                Ok(other) => return Err(unexpected_reply(&other)),
                Err(GatewayError::Rejected(_)) => return Err(order_not_found()),
                Err(error) => return Err(gateway_failure(&error)),
            }
        }
        (None, None) => return Err(order_not_found()),
    };
    let state_names = StateNames::of_orders(state.kv.as_ref(), &shopper.locale, std::slice::from_ref(&order)).await;
    let page = ConfirmationPage {
        status: state_names.order_status(&order),
        state_names,
        order,
        live: customer.is_some(),
    };
    Ok(render(
        &state,
        StatusCode::OK,
        "storefront/confirmation.html",
        &layout,
        page,
    ))
}

pub(super) fn order_not_found() -> Response {
    plain_page(
        StatusCode::NOT_FOUND,
        "Order not found",
        "There is no such order, or it is not yours.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_land_on_the_step_that_can_fix_them() {
        let (step, errors) = route_rejections(&[
            Rejection::new("1101", "no city").at("/data/attributes/shipments/0/shippingAddress/city"),
            Rejection::new("1101", "no method").at("/data/attributes/shipments/0/idShipmentMethod"),
            Rejection::new("1101", "name").at("/data/attributes/customer/firstName"),
        ]);
        assert_eq!(step, Step::Address);
        assert_eq!(errors.get("shippingAddress.city"), Some("no city"));
        assert_eq!(errors.get("billingAddress.firstName"), Some("name"));
        assert_eq!(errors.get("shipmentMethod"), None, "shown once the address is fixed");
        let (step, errors) = route_rejections(&[Rejection::new("1102", "sold out")]);
        assert_eq!((step, errors.get(FORM)), (Step::Summary, Some("sold out")));
        let (step, _) = route_rejections(&[Rejection::new("1104", "no").at("/data/attributes/payments/0")]);
        assert_eq!(step, Step::Payment);
    }

    #[test]
    fn a_step_needs_the_ones_before_it() {
        let mut progress = Progress::default();
        assert_eq!(progress.first_missing(), Step::Address);
        progress.billing = Some(CheckoutAddress::default());
        progress.payment = Some(PaymentSelection {
            payment_method_name: "Invoice".to_owned(),
            payment_provider_name: "DummyPayment".to_owned(),
            amount: None,
        });
        assert_eq!(progress.first_missing(), Step::Shipment);
        progress.shipment_method = Some(1);
        assert_eq!(progress.first_missing(), Step::Summary);
        assert_eq!(encode_segment("DE--1 x"), "DE--1%20x");
    }
}
