//! The cart page and its forms: `GET /cart`, `POST /cart/add` (the product page's "add to cart"),
//! `POST /cart/items/{group_key}` (change the quantity; 0 removes) and `POST /cart/items/{group_key}/remove`.
//!
//! A guest's cart belongs to an anonymous customer id kept in the session ([`keys::GUEST`]), created
//! by the first add, so browsing never creates a session; a signed-in customer's cart is their default
//! cart. Carts, prices and totals are the backend's (one gateway command per request); only the names,
//! pictures and links of the lines come from the KV store, as on every catalog page.
//!
//! This module also holds what the shop's other pages share: the page frame (shopper and layout) and
//! the answers to gateway failures that are no form problem.

use super::{Layout, Shopper, flash, keys, render, safe_return};
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kontor_domain::gateway::{
    Cart, CartCommand, CartOwner, CartTotals, GatewayError, GatewayReply, GatewayRequest, ItemInput,
};
use kontor_readmodel::storage::{
    Mapping, ProductAbstractImageStorage, ProductAbstractStorage, ProductConcreteImageStorage, ProductConcreteStorage,
    ProductImageSetStorage, projection,
};
use kontor_readmodel::{key, mapping_key};
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The most of one SKU a form may ask for; the backend caps by stock anyway, this only keeps typos
/// like `10000000` from reaching it.
const MAX_QUANTITY: u32 = 9_999;

pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/cart", get(show))
        .route("/cart/add", post(add))
        .route("/cart/items/{group_key}", post(change_quantity))
        .route("/cart/items/{group_key}/remove", post(remove))
}

// ---------------------------------------------------------------------------------------------------
// Shared by the shop's pages

/// The shopper and the layout of a page at `path`, or the answer when the shop cannot be shown.
pub(super) async fn frame(
    state: &StorefrontState,
    session: &Session,
    csrf: &CsrfToken,
    path: &str,
) -> Result<(Shopper, Layout), Response> {
    let shopper = Shopper::of(state, session).await?;
    let layout = Layout::new(state, session, &shopper, csrf, path).await;
    Ok((shopper, layout))
}

/// The path and query of a request, where a page's switchers and sign-in links return to.
pub(super) fn path_of(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |path| path.as_str())
}

/// A short page without the layout, for answers that have no page of their own.
pub(super) fn plain_page(status: StatusCode, title: &str, message: &str) -> Response {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!doctype html><title>{title}</title><main><h1>{title}</h1><p>{message}</p><p><a href=\"/\">Back to the shop</a></p></main>",
        title = escape(title),
        message = escape(message),
    );
    (status, Html(html)).into_response()
}

/// The answer to a gateway failure that no form can fix: 503 while the backend is down (nothing was
/// changed), 500 when it failed (details are in the backend's log), 422 for an unexpected refusal.
pub(super) fn gateway_failure(error: &GatewayError) -> Response {
    match error {
        GatewayError::Unavailable(detail) => {
            tracing::warn!(%detail, "backend unavailable for an HTML page");
            plain_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again in a moment",
                "The shop cannot save changes right now. Nothing was changed.",
            )
        }
        GatewayError::Internal(detail) => {
            tracing::error!(%detail, "backend failed for an HTML page");
            plain_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Your request could not be completed. Please try again.",
            )
        }
        GatewayError::Rejected(rejections) => plain_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This cannot be done",
            rejections
                .first()
                .map_or("The request was refused.", |rejection| rejection.detail.as_str()),
        ),
    }
}

/// A reply of the wrong kind is a backend bug: logged, answered 500.
pub(super) fn unexpected_reply(reply: &GatewayReply) -> Response {
    gateway_failure(&GatewayError::Internal(format!("unexpected gateway reply {reply:?}")))
}

// ---------------------------------------------------------------------------------------------------
// Whose cart

/// Who owns the session's cart: the signed-in customer, else the guest's anonymous id, else nobody yet.
pub(super) fn owner(session: &Session) -> Option<CartOwner> {
    if let Some(customer) = session.get::<super::SignedInCustomer>(keys::CUSTOMER) {
        return Some(CartOwner::Customer(customer.reference));
    }
    session.get::<String>(keys::GUEST).map(CartOwner::Guest)
}

/// [`owner`], giving a guest an anonymous id first when they have none (their first add).
fn owner_or_new_guest(session: &Session) -> CartOwner {
    owner(session).unwrap_or_else(|| {
        let id = uuid::Uuid::new_v4().to_string();
        session.insert(keys::GUEST, &id);
        CartOwner::Guest(id)
    })
}

/// The session's cart in `store` (a customer's default cart comes first), `None` when there is none.
pub(super) async fn current_cart(
    state: &StorefrontState,
    session: &Session,
    store: &str,
) -> Result<Option<Cart>, GatewayError> {
    let Some(owner) = owner(session) else {
        return Ok(None);
    };
    let command = CartCommand::ListCarts {
        owner,
        store: store.to_owned(),
    };
    match state.gateway.execute(GatewayRequest::Cart(command)).await? {
        GatewayReply::Carts(carts) => Ok(carts.into_iter().next()),
        other => Err(GatewayError::Internal(format!("unexpected gateway reply {other:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------------
// What the pages show of a cart

/// A cart as the cart, checkout and summary pages show it.
#[derive(Debug, Serialize)]
pub(super) struct CartView {
    pub id: String,
    pub currency: String,
    pub price_mode: String,
    pub totals: CartTotals,
    pub lines: Vec<Line>,
    /// Pieces over all lines.
    pub quantity: u32,
}

/// One cart line with what the catalog knows of its product.
#[derive(Debug, Serialize)]
pub(super) struct Line {
    pub group_key: String,
    pub sku: String,
    pub name: String,
    pub image: Option<String>,
    /// The product page, when the product has one in this locale.
    pub url: Option<String>,
    pub quantity: u32,
    pub unit_price: i64,
    pub sum_price: i64,
}

/// The page view of `cart`, its lines named in the shopper's locale.
pub(super) async fn cart_view(state: &StorefrontState, shopper: &Shopper, cart: &Cart) -> CartView {
    let skus: Vec<String> = cart.items.iter().map(|item| item.sku.clone()).collect();
    let details = product_details(state, &shopper.store.name, &shopper.locale, &skus).await;
    let lines = cart
        .items
        .iter()
        .map(|item| {
            let found = details.get(&item.sku);
            Line {
                group_key: item.group_key.clone(),
                sku: item.sku.clone(),
                name: found.map_or_else(|| item.sku.clone(), |details| details.name.clone()),
                image: found.and_then(|details| details.image.clone()),
                url: found.and_then(|details| details.url.clone()),
                quantity: item.quantity,
                unit_price: item.calculations.unit_price,
                sum_price: item.calculations.sum_price,
            }
        })
        .collect();
    CartView {
        id: cart.id.clone(),
        currency: cart.currency.clone(),
        price_mode: cart.price_mode.clone(),
        totals: cart.totals,
        lines,
        quantity: cart.items.iter().map(|item| item.quantity).sum(),
    }
}

/// What a line shows of its product.
#[derive(Debug, Clone)]
struct Details {
    name: String,
    image: Option<String>,
    url: Option<String>,
}

/// Names, pictures and product links of `skus` in three KV round trips however many lines there are:
/// SKU mappings; concrete documents and their images; abstract documents and their images. A KV
/// failure leaves the lines with their SKUs: the cart still works without the catalog's extras.
async fn product_details(
    state: &StorefrontState,
    store: &str,
    locale: &str,
    skus: &[String],
) -> HashMap<String, Details> {
    match load_details(state, store, locale, skus).await {
        Ok(details) => details,
        Err(error) => {
            tracing::warn!(%error, "KV store unreachable while naming cart lines");
            HashMap::new()
        }
    }
}

async fn load_details(
    state: &StorefrontState,
    store: &str,
    locale: &str,
    skus: &[String],
) -> Result<HashMap<String, Details>, kontor_kv::KvError> {
    let mut details = HashMap::new();
    if skus.is_empty() {
        return Ok(details);
    }
    let by_id = |projection: &str, store: Option<&str>, id: i64| {
        key(projection, store, Some(locale), Some(&id.to_string())).ok()
    };

    // Keys that cannot be built (too long) cannot exist; they are simply not asked for.
    let mappings: Vec<(String, String)> = skus
        .iter()
        .filter_map(|sku| {
            mapping_key(projection::PRODUCT_CONCRETE, None, Some(locale), "sku", sku)
                .ok()
                .map(|key| (sku.clone(), key))
        })
        .collect();
    let mapping_keys: Vec<String> = mappings.iter().map(|(_, key)| key.clone()).collect();
    let ids: Vec<(String, i64)> = mappings
        .iter()
        .zip(state.kv.get_many(&mapping_keys).await?)
        .filter_map(|((sku, _), value)| Some((sku.clone(), decode::<Mapping>(value?)?.id)))
        .collect();

    let mut concrete_keys = Vec::with_capacity(ids.len() * 2);
    for (_, id) in &ids {
        concrete_keys.extend(by_id(projection::PRODUCT_CONCRETE, None, *id));
        concrete_keys.extend(by_id(projection::PRODUCT_CONCRETE_IMAGE, None, *id));
    }
    let mut concrete_documents = fetch(state, &concrete_keys).await?;
    let mut take = |key: Option<String>| key.and_then(|key| concrete_documents.remove(&key));
    let concretes: Vec<(String, ProductConcreteStorage, Vec<ProductImageSetStorage>)> = ids
        .iter()
        .filter_map(|(sku, id)| {
            let concrete = decode::<ProductConcreteStorage>(take(by_id(projection::PRODUCT_CONCRETE, None, *id))?)?;
            let images = take(by_id(projection::PRODUCT_CONCRETE_IMAGE, None, *id))
                .and_then(decode::<ProductConcreteImageStorage>)
                .map(|images| images.image_sets)
                .unwrap_or_default();
            Some((sku.clone(), concrete, images))
        })
        .collect();

    let mut abstract_keys = Vec::with_capacity(concretes.len() * 2);
    for (_, concrete, _) in &concretes {
        abstract_keys.extend(by_id(
            projection::PRODUCT_ABSTRACT,
            Some(store),
            concrete.id_product_abstract,
        ));
        abstract_keys.extend(by_id(
            projection::PRODUCT_ABSTRACT_IMAGE,
            None,
            concrete.id_product_abstract,
        ));
    }
    // Several lines may share an abstract product, so its documents are read, not taken.
    let abstract_documents = fetch(state, &abstract_keys).await?;
    for (sku, concrete, own_images) in concretes {
        let abstract_id = concrete.id_product_abstract;
        let product = by_id(projection::PRODUCT_ABSTRACT, Some(store), abstract_id)
            .and_then(|key| abstract_documents.get(&key).cloned())
            .and_then(decode::<ProductAbstractStorage>);
        let inherited = by_id(projection::PRODUCT_ABSTRACT_IMAGE, None, abstract_id)
            .and_then(|key| abstract_documents.get(&key).cloned())
            .and_then(decode::<ProductAbstractImageStorage>)
            .map(|images| images.image_sets)
            .unwrap_or_default();
        let image = first_image(&own_images).or_else(|| first_image(&inherited));
        details.insert(
            sku,
            Details {
                name: concrete.name,
                image,
                url: product.and_then(|product| product.url),
            },
        );
    }
    Ok(details)
}

/// The documents of `keys` that exist, in one round trip.
async fn fetch(
    state: &StorefrontState,
    keys: &[String],
) -> Result<HashMap<String, serde_json::Value>, kontor_kv::KvError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let values = state.kv.get_many(keys).await?;
    Ok(keys
        .iter()
        .cloned()
        .zip(values)
        .filter_map(|(key, value)| Some((key, value?)))
        .collect())
}

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Option<T> {
    serde_json::from_value(value).ok()
}

/// The small picture of the `default` image set, else of the first set.
fn first_image(sets: &[ProductImageSetStorage]) -> Option<String> {
    sets.iter()
        .find(|set| set.name == "default")
        .or_else(|| sets.first())
        .and_then(|set| set.images.first())
        .map(|image| image.external_url_small.clone())
}

// ---------------------------------------------------------------------------------------------------
// Handlers

#[derive(Debug, Serialize)]
struct CartPage {
    cart: Option<CartView>,
    /// Messages per line, by group key (a quantity that could not be set).
    errors: BTreeMap<String, String>,
    /// The quantities typed per line, shown again next to their message.
    typed: BTreeMap<String, String>,
}

async fn render_cart(
    state: &StorefrontState,
    session: &Session,
    csrf: &CsrfToken,
    status: StatusCode,
    errors: BTreeMap<String, String>,
    typed: BTreeMap<String, String>,
) -> Result<Response, Response> {
    let (shopper, layout) = frame(state, session, csrf, "/cart").await?;
    let cart = current_cart(state, session, &shopper.store.name)
        .await
        .map_err(|error| gateway_failure(&error))?;
    let cart = match cart {
        Some(cart) if !cart.items.is_empty() => Some(cart_view(state, &shopper, &cart).await),
        _ => None,
    };
    Ok(render(
        state,
        status,
        "storefront/cart.html",
        &layout,
        CartPage { cart, errors, typed },
    ))
}

/// `GET /cart`.
async fn show(State(state): State<StorefrontState>, session: Session, csrf: CsrfToken) -> Result<Response, Response> {
    render_cart(
        &state,
        &session,
        &csrf,
        StatusCode::OK,
        BTreeMap::new(),
        BTreeMap::new(),
    )
    .await
}

/// A quantity field: a whole number from `min` to [`MAX_QUANTITY`]; empty means `default`.
fn parse_quantity(raw: &str, min: u32, default: u32) -> Result<u32, String> {
    if raw.is_empty() {
        return Ok(default);
    }
    match raw.parse::<u32>() {
        Ok(quantity) if (min..=MAX_QUANTITY).contains(&quantity) => Ok(quantity),
        _ => Err(format!("Enter a whole number from {min} to {MAX_QUANTITY}.")),
    }
}

/// `POST /cart/add` (`sku`, `quantity`, `return_to`): adds to the session's cart, then back to the page
/// the form was on with a message either way (the product page is not re-rendered from here).
async fn add(
    State(state): State<StorefrontState>,
    session: Session,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let back = match form.text("return_to") {
        given if given.is_empty() => "/cart".to_owned(),
        given => safe_return(Some(&given)),
    };
    let sku = form.text("sku");
    let quantity = parse_quantity(&form.text("quantity"), 1, 1);
    let (sku, quantity) = match (sku, quantity) {
        (sku, _) if sku.is_empty() => {
            flash(
                &session,
                "error",
                "Choose a variant before adding the product to the cart.",
            );
            return Ok(Redirect::to(&back).into_response());
        }
        (_, Err(message)) => {
            flash(&session, "error", message);
            return Ok(Redirect::to(&back).into_response());
        }
        (sku, Ok(quantity)) => (sku, quantity),
    };
    let shopper = Shopper::of(&state, &session).await?;
    let command = CartCommand::AddItem {
        owner: owner_or_new_guest(&session),
        store: shopper.store.name.clone(),
        cart_id: None,
        item: ItemInput {
            sku: sku.clone(),
            quantity,
        },
        idempotency_key: None,
    };
    match state.gateway.execute(GatewayRequest::Cart(command)).await {
        Ok(GatewayReply::Cart(cart)) => {
            let view = cart_view(&state, &shopper, &cart).await;
            let name = view
                .lines
                .iter()
                .find(|line| line.sku == sku)
                .map_or(sku.clone(), |line| line.name.clone());
            flash(&session, "success", format!("Added {quantity} × {name} to your cart."));
            Ok(Redirect::to(&back).into_response())
        }
        Ok(other) => Err(unexpected_reply(&other)),
        Err(GatewayError::Rejected(rejections)) => {
            let message = rejections
                .first()
                .map_or("The product could not be added.", |rejection| rejection.detail.as_str());
            flash(&session, "error", format!("Not added to the cart: {message}"));
            Ok(Redirect::to(&back).into_response())
        }
        Err(error) => Err(gateway_failure(&error)),
    }
}

/// The cart a line form is about: the form's `cart_id`, else the session's current cart.
async fn cart_of_form(
    state: &StorefrontState,
    session: &Session,
    form: &FormFields,
) -> Result<Option<(CartOwner, String)>, Response> {
    let Some(owner) = owner(session) else {
        return Ok(None);
    };
    let given = form.text("cart_id");
    if !given.is_empty() {
        return Ok(Some((owner, given)));
    }
    let shopper = Shopper::of(state, session).await?;
    let cart = current_cart(state, session, &shopper.store.name)
        .await
        .map_err(|error| gateway_failure(&error))?;
    Ok(cart.map(|cart| (owner, cart.id)))
}

/// `POST /cart/items/{group_key}` (`quantity`): sets a line's quantity; 0 removes the line.
async fn change_quantity(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    Path(group_key): Path<String>,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let typed = form.text("quantity");
    let quantity = match parse_quantity(&typed, 0, 1) {
        Ok(quantity) => quantity,
        Err(message) => {
            let errors = BTreeMap::from([(group_key.clone(), message)]);
            let typed = BTreeMap::from([(group_key, typed)]);
            return render_cart(&state, &session, &csrf, StatusCode::UNPROCESSABLE_ENTITY, errors, typed).await;
        }
    };
    let Some((owner, cart_id)) = cart_of_form(&state, &session, &form).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let command = CartCommand::UpdateItem {
        owner,
        cart_id,
        group_key: group_key.clone(),
        quantity,
    };
    match state.gateway.execute(GatewayRequest::Cart(command)).await {
        Ok(_) => {
            let message = if quantity == 0 {
                "The item was removed from your cart."
            } else {
                "The quantity was updated."
            };
            flash(&session, "success", message);
            Ok(Redirect::to("/cart").into_response())
        }
        Err(GatewayError::Rejected(rejections)) => {
            let errors = FormErrors::from_rejections(&rejections);
            let message = errors
                .get("quantity")
                .or_else(|| errors.get(kontor_web::html::forms::FORM))
                .or_else(|| rejections.first().map(|rejection| rejection.detail.as_str()))
                .unwrap_or("The quantity could not be changed.")
                .to_owned();
            let errors = BTreeMap::from([(group_key.clone(), message)]);
            let typed = BTreeMap::from([(group_key, typed)]);
            render_cart(&state, &session, &csrf, StatusCode::UNPROCESSABLE_ENTITY, errors, typed).await
        }
        Err(error) => Err(gateway_failure(&error)),
    }
}

/// `POST /cart/items/{group_key}/remove`.
async fn remove(
    State(state): State<StorefrontState>,
    session: Session,
    Path(group_key): Path<String>,
    axum::Form(form): axum::Form<FormFields>,
) -> Result<Response, Response> {
    let Some((owner, cart_id)) = cart_of_form(&state, &session, &form).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let command = CartCommand::RemoveItem {
        owner,
        cart_id,
        group_key,
    };
    match state.gateway.execute(GatewayRequest::Cart(command)).await {
        // An item that is already gone is what the shopper wanted.
        Ok(_) | Err(GatewayError::Rejected(_)) => {
            flash(&session, "success", "The item was removed from your cart.");
            Ok(Redirect::to("/cart").into_response())
        }
        Err(error) => Err(gateway_failure(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_whole_numbers_in_range() {
        assert_eq!(parse_quantity("", 1, 1), Ok(1));
        assert_eq!(parse_quantity("3", 1, 1), Ok(3));
        assert_eq!(parse_quantity("0", 0, 1), Ok(0));
        for bad in ["0", "-1", "1.5", "two", "10000"] {
            assert!(parse_quantity(bad, 1, 1).is_err(), "{bad}");
        }
    }
}
