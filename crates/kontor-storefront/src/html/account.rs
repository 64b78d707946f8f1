//! Accounts in the HTML shop: registration, sign-in and sign-out, the forgotten-password pair, and the
//! signed-in customer's pages (profile, address book, order history and order detail).
//!
//! The session is the shop's proof of sign-in: it holds the [`SignedInCustomer`] from the moment the
//! backend accepted the password, under a new session id (no fixation). The backend's access and
//! refresh tokens are not needed by pages, so the refresh token is revoked at once rather than left
//! valid and unused. A guest's cart is merged into the customer's default cart by the backend at
//! sign-in, and the guest id is then forgotten.
//!
//! Sign-in is throttled here per e-mail address and per client address ([`LoginThrottle`], before
//! the backend is asked) on top of the backend's own, slower limit, and the messages never tell
//! whether an e-mail address is registered. Account pages send signed-out visitors to the sign-in
//! page with a way back.
//!
//! [`LoginThrottle`]: kontor_web::html::LoginThrottle

use super::cart::{frame, gateway_failure, path_of, unexpected_reply};
use super::checkout::order_not_found;
use super::order_states::StateNames;
use super::{SignedInCustomer, flash, keys, kit, render, safe_return};
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kontor_domain::gateway::{
    AddressInput, CheckoutCommand, CustomerCommand, CustomerProfile, GatewayError, GatewayReply, GatewayRequest, Order,
    PasswordRestore, Registration, Rejection, Secret, TokenPair,
};
use kontor_web::html::forms::FORM;
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Orders per page of the order history.
const ORDERS_PER_PAGE: u64 = 20;
/// The backend's code for a wrong e-mail address or password, and for its own sign-in throttle.
const LOGIN_FAILED: &str = "003";
const TOO_MANY_LOGINS: &str = "009";
/// The window of the backend's own throttle, for its message.
const BACKEND_THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/register", get(register_form).post(register))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/password/forgot", get(forgot_form).post(forgot))
        .route("/password/reset", get(reset_form).post(reset))
        .route("/account", get(profile))
        .route("/account/addresses", get(addresses).post(change_addresses))
        .route("/account/orders", get(orders))
        .route("/account/orders/{reference}", get(order))
}

/// The signed-in customer, or the redirect to the sign-in page that comes back to `uri`.
pub(super) fn require_customer(session: &Session, uri: &Uri) -> Result<SignedInCustomer, Redirect> {
    session.get::<SignedInCustomer>(keys::CUSTOMER).ok_or_else(|| {
        let back: String = url::form_urlencoded::byte_serialize(path_of(uri).as_bytes()).collect();
        Redirect::to(&format!("/login?return_to={back}"))
    })
}

async fn customer_command(state: &StorefrontState, command: CustomerCommand) -> Result<GatewayReply, GatewayError> {
    state.gateway.execute(GatewayRequest::Customer(command)).await
}

/// A page of a form: what was typed and the messages next to the fields.
#[derive(Debug, Default, Serialize)]
struct FormPage {
    values: BTreeMap<String, String>,
    errors: FormErrors,
    /// A page-specific note (e.g. that the reset mail is on its way).
    notice: Option<String>,
}

// ---------------------------------------------------------------------------------------------------
// Sign-in

/// The client address for per-address throttling: the first `X-Forwarded-For` hop (storefronts sit
/// behind a load balancer), else `X-Real-IP`, else the peer address when the server records it.
fn client_ip(headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
    headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .or_else(|| headers.get("x-real-ip").and_then(|value| value.to_str().ok()))
        .map(|ip| ip.trim().to_owned())
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string())
        })
}

/// The throttle keys of a sign-in attempt. Without a known client address only the e-mail address
/// counts: one shared "unknown" key would let anyone lock everybody out.
fn throttle_keys(email: &str, ip: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("email:{}", email.to_lowercase())];
    keys.extend(ip.map(|ip| format!("ip:{ip}")));
    keys
}

fn too_many_attempts(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many attempts, try again in {minutes} {unit}.")
}

#[derive(Debug, Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

/// Where a form goes after signing in: the given local path, else the account.
fn after_sign_in(given: &str) -> String {
    if given.is_empty() {
        "/account".to_owned()
    } else {
        safe_return(Some(given))
    }
}

/// `GET /login`.
async fn login_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    Query(query): Query<ReturnTo>,
) -> Result<Response, Response> {
    let return_to = query.return_to.unwrap_or_default();
    if session.get::<SignedInCustomer>(keys::CUSTOMER).is_some() {
        return Ok(Redirect::to(&after_sign_in(&return_to)).into_response());
    }
    let (_, layout) = frame(&state, &session, &csrf, "/login").await?;
    let page = FormPage {
        values: BTreeMap::from([("return_to".to_owned(), return_to)]),
        ..FormPage::default()
    };
    Ok(render(&state, StatusCode::OK, "storefront/login.html", &layout, page))
}

/// Makes the session a signed-in one for the owner of `tokens`: a new session id, the customer's
/// name for the header, the guest id forgotten (the backend merged that cart at sign-in).
async fn establish(state: &StorefrontState, session: &Session, tokens: TokenPair) -> Result<(), Response> {
    let reference = tokens.customer_reference.clone();
    let revoke = CustomerCommand::RevokeRefreshToken {
        customer_reference: reference.clone(),
        refresh_token: Secret(tokens.refresh_token),
    };
    if let Err(error) = customer_command(state, revoke).await {
        // Not fatal: an unused refresh token still expires on its own.
        tracing::warn!(%error, "could not revoke the refresh token of an HTML sign-in");
    }
    let profile = match customer_command(
        state,
        CustomerCommand::GetCustomer {
            customer_reference: reference,
        },
    )
    .await
    {
        Ok(GatewayReply::Customer(profile)) => profile,
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(error) => return Err(gateway_failure(&error)),
    };
    session.rotate();
    session.remove(keys::GUEST);
    session.remove(super::checkout::PROGRESS);
    session.insert(
        keys::CUSTOMER,
        SignedInCustomer {
            reference: profile.customer_reference,
            email: profile.email,
            first_name: profile.first_name,
        },
    );
    Ok(())
}

/// `POST /login` (`email`, `password`, `return_to`).
async fn login(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    headers: HeaderMap,
    extensions: Extensions,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let email = form.text("email");
    let password = form.0.get("password").cloned().unwrap_or_default();
    let ip = client_ip(&headers, &extensions);
    let keys_owned = throttle_keys(&email, ip.as_deref());
    let throttle_keys: Vec<&str> = keys_owned.iter().map(String::as_str).collect();
    let throttle = &kit(&state).throttle;

    let mut missing = FormErrors::new();
    missing.require("email", &email, "Enter your e-mail address.");
    missing.require("password", &password, "Enter your password.");
    let (status, errors) = if !missing.is_empty() {
        (StatusCode::UNPROCESSABLE_ENTITY, missing)
    } else if let Err(wait) = throttle.check(&throttle_keys) {
        let mut throttled = FormErrors::new();
        throttled.add(FORM, too_many_attempts(wait));
        (StatusCode::TOO_MANY_REQUESTS, throttled)
    } else {
        let shopper = super::Shopper::of(&state, &session).await?;
        let command = CustomerCommand::Login {
            store: shopper.store.name.clone(),
            email,
            password: Secret(password),
            anonymous_id: session.get::<String>(keys::GUEST),
            client_ip: ip,
        };
        match customer_command(&state, command).await {
            Ok(GatewayReply::Tokens(tokens)) => {
                throttle.succeeded(&throttle_keys);
                establish(&state, &session, tokens).await?;
                let target = after_sign_in(&form.text("return_to"));
                return Ok(Redirect::to(&target).into_response());
            }
            Ok(other) => return Err(unexpected_reply(&other)),
            Err(GatewayError::Rejected(rejections)) => login_refused(throttle, &throttle_keys, &rejections),
            Err(error) => return Err(gateway_failure(&error)),
        }
    };
    let (_, layout) = frame(&state, &session, &csrf, "/login").await?;
    let page = FormPage {
        values: form.echo(),
        errors,
        notice: None,
    };
    Ok(render(&state, status, "storefront/login.html", &layout, page))
}

/// The message of a refused sign-in; a wrong password counts against the throttle.
fn login_refused(
    throttle: &kontor_web::html::LoginThrottle,
    keys: &[&str],
    rejections: &[Rejection],
) -> (StatusCode, FormErrors) {
    let mut errors = FormErrors::new();
    if rejections.iter().any(|rejection| rejection.code == TOO_MANY_LOGINS) {
        errors.add(FORM, too_many_attempts(BACKEND_THROTTLE_WINDOW));
        return (StatusCode::TOO_MANY_REQUESTS, errors);
    }
    if rejections.iter().any(|rejection| rejection.code == LOGIN_FAILED) {
        throttle.failed(keys);
        // The same words for an unknown address and a wrong password.
        errors.add(FORM, "The e-mail address or the password is not correct.");
        return (StatusCode::UNPROCESSABLE_ENTITY, errors);
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        FormErrors::from_rejections(rejections),
    )
}

/// `POST /logout`: the session is deleted and its cookie cleared.
async fn logout(session: Session) -> Response {
    session.destroy();
    Redirect::to("/").into_response()
}

// ---------------------------------------------------------------------------------------------------
// Registration

/// `GET /register`.
async fn register_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
) -> Result<Response, Response> {
    if session.get::<SignedInCustomer>(keys::CUSTOMER).is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    let (_, layout) = frame(&state, &session, &csrf, "/register").await?;
    Ok(render(
        &state,
        StatusCode::OK,
        "storefront/register.html",
        &layout,
        FormPage::default(),
    ))
}

/// A checkbox is sent only when ticked.
fn ticked(form: &FormFields, name: &str) -> bool {
    matches!(form.text(name).as_str(), "1" | "on" | "true" | "yes")
}

/// `POST /register`: creates the account and signs it in; the backend's rules decide what is valid.
async fn register(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    headers: HeaderMap,
    extensions: Extensions,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let password = form.0.get("password").cloned().unwrap_or_default();
    let registration = Registration {
        salutation: form.text("salutation"),
        first_name: form.text("firstName"),
        last_name: form.text("lastName"),
        email: form.text("email"),
        password: Secret(password.clone()),
        confirm_password: Secret(form.0.get("confirmPassword").cloned().unwrap_or_default()),
        accepted_terms: ticked(&form, "acceptedTerms"),
        gender: None,
        date_of_birth: None,
    };
    let shopper = super::Shopper::of(&state, &session).await?;
    let command = CustomerCommand::Register {
        store: shopper.store.name.clone(),
        registration,
    };
    let rejections = match customer_command(&state, command).await {
        Ok(GatewayReply::Customer(profile)) => {
            return sign_in_registered(
                &state,
                &session,
                &shopper.store.name,
                profile,
                password,
                &headers,
                &extensions,
            )
            .await;
        }
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(GatewayError::Rejected(rejections)) => rejections,
        Err(error) => return Err(gateway_failure(&error)),
    };
    let (_, layout) = frame(&state, &session, &csrf, "/register").await?;
    let page = FormPage {
        values: form.echo(),
        errors: FormErrors::from_rejections(&rejections),
        notice: None,
    };
    Ok(render(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        "storefront/register.html",
        &layout,
        page,
    ))
}

/// Signs a just-registered customer in, so their guest cart comes along; should that fail, the
/// account exists anyway and the sign-in page says so.
async fn sign_in_registered(
    state: &StorefrontState,
    session: &Session,
    store: &str,
    profile: CustomerProfile,
    password: String,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Response, Response> {
    let command = CustomerCommand::Login {
        store: store.to_owned(),
        email: profile.email.clone(),
        password: Secret(password),
        anonymous_id: session.get::<String>(keys::GUEST),
        client_ip: client_ip(headers, extensions),
    };
    match customer_command(state, command).await {
        Ok(GatewayReply::Tokens(tokens)) => {
            establish(state, session, tokens).await?;
            flash(
                session,
                "success",
                format!("Welcome, {}! Your account is ready.", profile.first_name),
            );
            Ok(Redirect::to("/account").into_response())
        }
        Ok(other) => Err(unexpected_reply(&other)),
        Err(error) => {
            tracing::warn!(%error, "sign-in right after registration failed");
            flash(session, "success", "Your account is ready. Please sign in.");
            Ok(Redirect::to("/login").into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Forgotten password

/// `GET /password/forgot`.
async fn forgot_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
) -> Result<Response, Response> {
    let (_, layout) = frame(&state, &session, &csrf, "/password/forgot").await?;
    Ok(render(
        &state,
        StatusCode::OK,
        "storefront/password_forgot.html",
        &layout,
        FormPage::default(),
    ))
}

/// `POST /password/forgot` (`email`): the same answer whether or not the address has an account.
async fn forgot(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let email = form.text("email");
    let (shopper, layout) = frame(&state, &session, &csrf, "/password/forgot").await?;
    if email.is_empty() {
        let mut errors = FormErrors::new();
        errors.add("email", "Enter your e-mail address.");
        let page = FormPage {
            errors,
            ..FormPage::default()
        };
        return Ok(render(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "storefront/password_forgot.html",
            &layout,
            page,
        ));
    }
    let command = CustomerCommand::ForgotPassword {
        store: shopper.store.name.clone(),
        email,
    };
    match customer_command(&state, command).await {
        // A refusal (say, of a malformed address) must look like success, or it would tell which
        // addresses are worth trying.
        Ok(_) | Err(GatewayError::Rejected(_)) => {}
        Err(error) => return Err(gateway_failure(&error)),
    }
    let page = FormPage {
        notice: Some(
            "If an account exists for this address, we have sent it a link to choose a new password. \
             The link is valid for two hours."
                .to_owned(),
        ),
        ..FormPage::default()
    };
    Ok(render(
        &state,
        StatusCode::OK,
        "storefront/password_forgot.html",
        &layout,
        page,
    ))
}

#[derive(Debug, Deserialize)]
struct ResetQuery {
    token: Option<String>,
}

/// `GET /password/reset?token=…` (the link of the reset mail).
async fn reset_form(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    Query(query): Query<ResetQuery>,
) -> Result<Response, Response> {
    let (_, layout) = frame(&state, &session, &csrf, "/password/reset").await?;
    let token = query.token.unwrap_or_default();
    let mut errors = FormErrors::new();
    if token.is_empty() {
        errors.add(FORM, "This link is incomplete. Ask for a new one.");
    }
    // The token goes into the form only, never into `values` (which the layout may echo).
    let page = serde_json::json!({"values": {}, "errors": errors, "token": token});
    Ok(render(
        &state,
        StatusCode::OK,
        "storefront/password_reset.html",
        &layout,
        page,
    ))
}

/// `POST /password/reset` (`token`, `password`, `confirmPassword`).
async fn reset(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let token = form.text("token");
    let restore = PasswordRestore {
        restore_password_key: Secret(token.clone()),
        password: Secret(form.0.get("password").cloned().unwrap_or_default()),
        confirm_password: Secret(form.0.get("confirmPassword").cloned().unwrap_or_default()),
    };
    let rejections = match customer_command(&state, CustomerCommand::RestorePassword { restore }).await {
        Ok(_) => {
            flash(
                &session,
                "success",
                "Your password was changed. Sign in with the new one.",
            );
            return Ok(Redirect::to("/login").into_response());
        }
        Err(GatewayError::Rejected(rejections)) => rejections,
        Err(error) => return Err(gateway_failure(&error)),
    };
    let mut errors = FormErrors::from_rejections(&rejections);
    if errors.get("restorePasswordKey").is_some() {
        errors.add(FORM, "This link is invalid or has expired. Ask for a new one.");
    }
    let (_, layout) = frame(&state, &session, &csrf, "/password/reset").await?;
    let page = serde_json::json!({"values": {}, "errors": errors, "token": token});
    Ok(render(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        "storefront/password_reset.html",
        &layout,
        page,
    ))
}

// ---------------------------------------------------------------------------------------------------
// Account pages

/// A gateway refusal on an account page because the account is gone: signed out, back to sign-in.
fn account_gone(session: &Session) -> Response {
    session.destroy();
    Redirect::to("/login").into_response()
}

/// `GET /account`: the profile.
async fn profile(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, Response> {
    let customer = require_customer(&session, &uri).map_err(IntoResponse::into_response)?;
    let command = CustomerCommand::GetCustomer {
        customer_reference: customer.reference,
    };
    let profile = match customer_command(&state, command).await {
        Ok(GatewayReply::Customer(profile)) => profile,
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(GatewayError::Rejected(_)) => return Err(account_gone(&session)),
        Err(error) => return Err(gateway_failure(&error)),
    };
    let (_, layout) = frame(&state, &session, &csrf, "/account").await?;
    let page = serde_json::json!({"profile": profile});
    Ok(render(&state, StatusCode::OK, "storefront/account.html", &layout, page))
}

async fn render_addresses(
    state: &StorefrontState,
    session: &Session,
    csrf: &CsrfToken,
    customer: &SignedInCustomer,
    status: StatusCode,
    form: FormPage,
) -> Result<Response, Response> {
    let command = CustomerCommand::ListAddresses {
        customer_reference: customer.reference.clone(),
    };
    let addresses = match customer_command(state, command).await {
        Ok(GatewayReply::Addresses(addresses)) => addresses,
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(GatewayError::Rejected(_)) => return Err(account_gone(session)),
        Err(error) => return Err(gateway_failure(&error)),
    };
    let (shopper, layout) = frame(state, session, csrf, "/account/addresses").await?;
    let mut values = form.values;
    let store = &shopper.store.name;
    if !values.contains_key("iso2Code") && store.len() == 2 {
        values.insert("iso2Code".to_owned(), store.to_ascii_uppercase());
    }
    let page = serde_json::json!({"addresses": addresses, "values": values, "errors": form.errors});
    Ok(render(
        state,
        status,
        "storefront/account_addresses.html",
        &layout,
        page,
    ))
}

/// `GET /account/addresses`: the address book and a form for a new address.
async fn addresses(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, Response> {
    let customer = require_customer(&session, &uri).map_err(IntoResponse::into_response)?;
    render_addresses(&state, &session, &csrf, &customer, StatusCode::OK, FormPage::default()).await
}

/// `POST /account/addresses`: `action=delete` with `address_id` deletes that address; anything else
/// adds the address of the form.
async fn change_addresses(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let customer = require_customer(&session, &uri).map_err(IntoResponse::into_response)?;
    let (command, success) = if form.text("action") == "delete" {
        let command = CustomerCommand::DeleteAddress {
            customer_reference: customer.reference.clone(),
            address_id: form.text("address_id"),
        };
        (command, "The address was deleted.")
    } else {
        let optional = |name: &str| Some(form.text(name)).filter(|value| !value.is_empty());
        let address = AddressInput {
            salutation: form.text("salutation"),
            first_name: form.text("firstName"),
            last_name: form.text("lastName"),
            address1: form.text("address1"),
            address2: optional("address2"),
            address3: None,
            zip_code: form.text("zipCode"),
            city: form.text("city"),
            country: None,
            iso2_code: form.text("iso2Code").to_ascii_uppercase(),
            company: optional("company"),
            phone: optional("phone"),
            is_default_shipping: ticked(&form, "isDefaultShipping"),
            is_default_billing: ticked(&form, "isDefaultBilling"),
        };
        let command = CustomerCommand::CreateAddress {
            customer_reference: customer.reference.clone(),
            address,
        };
        (command, "The address was added.")
    };
    match customer_command(&state, command).await {
        Ok(_) => {
            flash(&session, "success", success);
            Ok(Redirect::to("/account/addresses").into_response())
        }
        Err(GatewayError::Rejected(rejections)) => {
            let page = FormPage {
                values: form.echo(),
                errors: FormErrors::from_rejections(&rejections),
                notice: None,
            };
            render_addresses(
                &state,
                &session,
                &csrf,
                &customer,
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
            )
            .await
        }
        Err(error) => Err(gateway_failure(&error)),
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

/// An order as the history lists it.
#[derive(Debug, Serialize)]
struct OrderRow {
    reference: String,
    created_at: String,
    currency: String,
    grand_total: i64,
    items: usize,
    status: String,
}

/// `GET /account/orders[?page=N]`: the customer's orders, newest first, each with its status (the
/// display names of its item states).
async fn orders(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<PageQuery>,
) -> Result<Response, Response> {
    let customer = require_customer(&session, &uri).map_err(IntoResponse::into_response)?;
    let page_number = query.page.unwrap_or(1).max(1);
    let command = CheckoutCommand::ListOrders {
        customer_reference: customer.reference,
        offset: (page_number - 1).saturating_mul(ORDERS_PER_PAGE),
        limit: ORDERS_PER_PAGE,
    };
    let listed = match state.gateway.execute(GatewayRequest::Checkout(command)).await {
        Ok(GatewayReply::Orders(listed)) => listed,
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(error) => return Err(gateway_failure(&error)),
    };
    let (shopper, layout) = frame(&state, &session, &csrf, path_of(&uri)).await?;
    let state_names = StateNames::of_orders(state.kv.as_ref(), &shopper.locale, &listed.orders).await;
    let rows: Vec<OrderRow> = listed
        .orders
        .iter()
        .map(|order| OrderRow {
            reference: order.order_reference.clone(),
            created_at: order.created_at.clone(),
            currency: order.currency_iso_code.clone(),
            grand_total: order.totals.grand_total,
            items: order.items.len(),
            status: state_names.order_status(order),
        })
        .collect();
    let pages = listed.total.div_ceil(ORDERS_PER_PAGE).max(1);
    let page = serde_json::json!({
        "orders": rows,
        "page": page_number,
        "pages": pages,
        "total": listed.total,
    });
    Ok(render(
        &state,
        StatusCode::OK,
        "storefront/account_orders.html",
        &layout,
        page,
    ))
}

/// `GET /account/orders/{reference}`: one order of the customer; its status follows live.
async fn order(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(reference): Path<String>,
) -> Result<Response, Response> {
    let customer = require_customer(&session, &uri).map_err(IntoResponse::into_response)?;
    let command = CheckoutCommand::GetOrder {
        customer_reference: customer.reference,
        order_reference: reference,
    };
    let order: Order = match state.gateway.execute(GatewayRequest::Checkout(command)).await {
        Ok(GatewayReply::Order(order)) => *order,
        Ok(other) => return Err(unexpected_reply(&other)),
        Err(GatewayError::Rejected(_)) => return Err(order_not_found()),
        Err(error) => return Err(gateway_failure(&error)),
    };
    let (shopper, layout) = frame(&state, &session, &csrf, path_of(&uri)).await?;
    let state_names = StateNames::of_orders(state.kv.as_ref(), &shopper.locale, std::slice::from_ref(&order)).await;
    let page = serde_json::json!({
        "status": state_names.order_status(&order),
        "state_names": state_names,
        "order": order,
    });
    Ok(render(&state, StatusCode::OK, "storefront/order.html", &layout, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_counts_per_address_and_says_how_long_to_wait() {
        assert_eq!(
            throttle_keys("Erika@Example.COM", Some("10.0.0.1")),
            ["email:erika@example.com", "ip:10.0.0.1"]
        );
        assert_eq!(throttle_keys("a@b.c", None), ["email:a@b.c"]);
        assert_eq!(
            too_many_attempts(Duration::from_secs(14 * 60 + 1)),
            "Too many attempts, try again in 15 minutes."
        );
        assert_eq!(
            too_many_attempts(Duration::from_secs(5)),
            "Too many attempts, try again in 1 minute."
        );
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(after_sign_in(""), "/account");
        assert_eq!(after_sign_in("/checkout/address"), "/checkout/address");
        assert_eq!(after_sign_in("//evil.example"), "/");
    }

    #[test]
    fn the_client_address_prefers_the_first_forwarded_hop() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().expect("header"));
        assert_eq!(client_ip(&headers, &Extensions::new()).as_deref(), Some("203.0.113.7"));
        assert_eq!(client_ip(&HeaderMap::new(), &Extensions::new()), None);
    }
}
