//! The HTML shop (issue 8): server-rendered pages from the theme's `templates/storefront/`, reading the
//! catalog only from KV and search like the JSON:API (the same loading code), writing carts, accounts
//! and orders through the backend gateway. Works without JavaScript; `assets/storefront.js` only
//! enhances (search suggestions, live order status).
//!
//! Every page gets the [`Layout`]: the shopper's store, locale and currency (session, else the
//! defaults), the switchers' choices, the signed-in customer, the cart's item count, the CSRF token and
//! a flash message. Sessions live in the KV store and are created only when something must be kept
//! (a switch, a cart, a sign-in), so anonymous catalog pages cost no write.

pub mod account;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod live;
pub mod order_states;

use crate::state::StorefrontState;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kontor_readmodel::storage::StoreStorage;
use kontor_web::html::{CsrfProtection, CsrfToken, LoginThrottle, Session, SessionStore, Theme};
pub use kontor_web::html::{Flash, flash};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the HTML pages need besides the storefront's ports.
pub struct HtmlKit {
    pub theme: Theme,
    pub sessions: SessionStore,
    pub csrf: CsrfProtection,
    /// Failed sign-ins per e-mail address and per client address.
    pub throttle: LoginThrottle,
    /// Order status notifications for the customers' `/ws` (channel [`ORDERS_CHANNEL`]); `None`: no live status.
    pub notifier: Option<Arc<dyn kontor_notify::Notifier>>,
}

/// The notifier channel on which the backend announces order changes. Notification kinds:
/// - `order.status` with payload `{"reference", "customer_reference" (null for guests), "store",
///   "status" (the order's distinct item states, sorted, joined by ", "), "item_states": [..]}`;
/// - `order.placed` with payload `{"reference", "customer_reference", "store", "grand_total", "currency"}`.
pub const ORDERS_CHANNEL: &str = "orders";

impl std::fmt::Debug for HtmlKit {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("HtmlKit").finish_non_exhaustive()
    }
}

/// Session keys of the shop.
pub mod keys {
    pub const STORE: &str = "store";
    pub const LOCALE: &str = "locale";
    pub const CURRENCY: &str = "currency";
    /// [`super::SignedInCustomer`] while signed in.
    pub const CUSTOMER: &str = "customer";
    /// The anonymous customer id that owns a guest's cart (`X-Anonymous-Customer-Unique-Id` in the API).
    pub const GUEST: &str = "guest";
    /// [`Flash`](kontor_web::html::Flash) shown once on the next page.
    pub const FLASH: &str = kontor_web::html::session::FLASH_KEY;
}

/// The customer a session is signed in as.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedInCustomer {
    pub reference: String,
    pub email: String,
    pub first_name: String,
}

/// The HTML routes, behind the session and CSRF middlewares. Pages are added by the modules of this one.
pub fn routes(state: &StorefrontState, kit: &Arc<HtmlKit>) -> Router<StorefrontState> {
    let _ = state;
    Router::new()
        .route("/switch", axum::routing::post(switch))
        .merge(catalog::routes())
        .merge(cart::routes())
        .merge(checkout::routes())
        .merge(account::routes())
        .merge(live::routes())
        // Product and category URLs (`/en/...`) and the HTML 404, behind the session and CSRF layers too.
        .fallback(catalog::page_by_url)
        .layer(axum::middleware::from_fn_with_state(
            kit.csrf.clone(),
            CsrfProtection::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            kit.sessions.clone(),
            SessionStore::middleware,
        ))
        .merge(kontor_web::html::theme::assets_router(kit.theme.clone()))
}

/// The kit of a state built with HTML pages; handlers are only routed when it exists.
pub fn kit(state: &StorefrontState) -> &HtmlKit {
    state
        .options
        .html
        .as_deref()
        .expect("HTML routes are only mounted when the storefront has an HTML kit")
}

/// Where and for whom a page is rendered.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub store: StoreStorage,
    pub locale: String,
    pub currency: String,
    pub customer: Option<SignedInCustomer>,
}

impl Shopper {
    /// The session's choices where still valid, else the store default and its default locale and currency.
    pub async fn of(state: &StorefrontState, session: &Session) -> Result<Self, Response> {
        let stores = state.stores().await.map_err(|error| {
            tracing::warn!(%error, "KV store unreachable while rendering a page");
            unavailable()
        })?;
        let wanted = session.get::<String>(keys::STORE);
        let store = wanted
            .as_deref()
            .and_then(|name| stores.iter().find(|store| store.name.eq_ignore_ascii_case(name)))
            .or_else(|| {
                state
                    .options
                    .default_store
                    .as_deref()
                    .and_then(|name| stores.iter().find(|store| store.name.eq_ignore_ascii_case(name)))
            })
            .or_else(|| stores.first())
            .ok_or_else(unavailable)?
            .clone();
        let locale = session
            .get::<String>(keys::LOCALE)
            .filter(|locale| store.available_locales.contains(locale) || *locale == store.default_locale)
            .unwrap_or_else(|| store.default_locale.clone());
        let currency = session
            .get::<String>(keys::CURRENCY)
            .filter(|currency| store.available_currencies.contains(currency) || *currency == store.default_currency)
            .unwrap_or_else(|| store.default_currency.clone());
        Ok(Self {
            store,
            locale,
            currency,
            customer: session.get(keys::CUSTOMER),
        })
    }
}

/// What every template gets as `layout`.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub store: String,
    pub locale: String,
    pub currency: String,
    /// `[{name, locales, currencies}]` for the switchers.
    pub stores: Vec<serde_json::Value>,
    pub customer: Option<SignedInCustomer>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// The current path and query, where switchers and sign-in return to.
    pub path: String,
}

impl Layout {
    pub async fn new(
        state: &StorefrontState,
        session: &Session,
        shopper: &Shopper,
        csrf: &CsrfToken,
        path: &str,
    ) -> Self {
        let stores = state
            .stores()
            .await
            .map(|stores| {
                stores
                    .iter()
                    .map(|store| {
                        serde_json::json!({
                            "name": store.name,
                            "locales": store.available_locales,
                            "currencies": store.available_currencies,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            store: shopper.store.name.clone(),
            locale: shopper.locale.clone(),
            currency: shopper.currency.clone(),
            stores,
            customer: shopper.customer.clone(),
            csrf: csrf.0.clone(),
            flash: session.take(keys::FLASH),
            path: path.to_owned(),
        }
    }
}

/// Renders `template` with `{layout, page}`.
pub fn render(
    state: &StorefrontState,
    status: StatusCode,
    template: &str,
    layout: &Layout,
    page: impl Serialize,
) -> Response {
    kit(state)
        .theme
        .page(status, template, serde_json::json!({"layout": layout, "page": page}))
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::response::Html(
            "<!doctype html><title>Shop unavailable</title><main><h1>The shop is not available right now</h1>\
             <p>Please try again in a moment.</p></main>",
        ),
    )
        .into_response()
}

/// A local path to return to: only paths on this site, never `//host` or a scheme.
pub fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct SwitchForm {
    store: Option<String>,
    locale: Option<String>,
    currency: Option<String>,
    return_to: Option<String>,
}

/// `POST /switch`: the store, locale or currency switcher. Unknown values are ignored.
async fn switch(
    axum::extract::State(state): axum::extract::State<StorefrontState>,
    session: Session,
    axum::Form(form): axum::Form<SwitchForm>,
) -> Response {
    let stores = match state.stores().await {
        Ok(stores) => stores,
        Err(_) => return unavailable(),
    };
    if let Some(store) = form
        .store
        .as_deref()
        .and_then(|name| stores.iter().find(|store| store.name.eq_ignore_ascii_case(name)))
    {
        session.insert(keys::STORE, &store.name);
        session.remove(keys::LOCALE);
        session.remove(keys::CURRENCY);
    }
    if let Some(locale) = form.locale.filter(|locale| !locale.is_empty()) {
        session.insert(keys::LOCALE, locale);
    }
    if let Some(currency) = form.currency.filter(|currency| !currency.is_empty()) {
        session.insert(keys::CURRENCY, currency);
    }
    Redirect::to(&safe_return(form.return_to.as_deref())).into_response()
}
