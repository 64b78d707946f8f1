//! Cart resources (`storefront-api.md` §7, §8.8, §8.9): `carts` and `carts/{id}/items` for signed-in
//! customers, `guest-carts` and `guest-cart-items` for guests identified by
//! `X-Anonymous-Customer-Unique-Id`. Carts live in SQL on the backend; every request here is one gateway
//! command, and the cart in the answer (items, totals) is what the backend computed.

use crate::account::{attributes_of, unexpected};
use crate::auth::{Customer, Guest};
use crate::context::RequestContext;
use crate::document::{Document, Includes, Resource};
use crate::idempotency::IdempotencyKey;
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use kontor_domain::gateway::{
    Cart, CartChanges, CartCommand, CartInput, CartOwner, GatewayReply, GatewayRequest, ItemInput,
};
use kontor_web::jsonapi::parse_attributes;
use kontor_web::{AppError, ErrorCode, JsonApiRequest};
use serde_json::{Map, Value};

pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/carts", get(list::<Customer>).post(create_cart))
        .route(
            "/carts/{cart_id}",
            get(get_one::<Customer>)
                .patch(update::<Customer>)
                .delete(delete_cart::<Customer>),
        )
        .route("/carts/{cart_id}/items", post(add_to::<Customer>))
        .route(
            "/carts/{cart_id}/items/{group_key}",
            patch(update_item::<Customer>).delete(remove_item::<Customer>),
        )
        .route("/guest-carts", get(list::<Guest>))
        .route(
            "/guest-carts/{cart_id}",
            get(get_one::<Guest>)
                .patch(update::<Guest>)
                .delete(delete_cart::<Guest>),
        )
        .route("/guest-cart-items", post(add_guest_item))
        .route("/guest-carts/{cart_id}/guest-cart-items", post(add_to::<Guest>))
        .route(
            "/guest-carts/{cart_id}/guest-cart-items/{group_key}",
            patch(update_item::<Guest>).delete(remove_item::<Guest>),
        )
}

/// The two flavours of the same resources.
#[derive(Clone, Copy)]
struct Flavour {
    cart_type: &'static str,
    item_type: &'static str,
    /// Path segment of the items below a cart.
    items_path: &'static str,
}

const CUSTOMER: Flavour = Flavour {
    cart_type: "carts",
    item_type: "items",
    items_path: "items",
};

const GUEST: Flavour = Flavour {
    cart_type: "guest-carts",
    item_type: "guest-cart-items",
    items_path: "guest-cart-items",
};

async fn cart_command(state: &StorefrontState, command: CartCommand) -> Result<GatewayReply, AppError> {
    Ok(state.gateway.execute(GatewayRequest::Cart(command)).await?)
}

/// A cart resource; its items become relationships and included resources when `include` names them.
fn cart_document(ctx: &RequestContext, flavour: Flavour, carts: &[Cart], single: bool) -> Result<Document, AppError> {
    let includes = Includes::from_query(ctx.path_and_query.split_once('?').map(|(_, query)| query));
    let mut resources = Vec::with_capacity(carts.len());
    let mut included = Vec::new();
    for cart in carts {
        let mut resource = Resource::new(ctx, flavour.cart_type, &cart.id, attributes_of(cart, &["id", "items"])?);
        if includes.has(flavour.item_type) {
            for item in &cart.items {
                let link = format!(
                    "{}/{}/{}/{}/{}",
                    ctx.api_base, flavour.cart_type, cart.id, flavour.items_path, item.group_key
                );
                let item_resource = Resource::with_link(
                    flavour.item_type,
                    Some(&item.group_key),
                    attributes_of(item, &[])?,
                    Some(link),
                );
                resource.relate(&item_resource);
                included.push(item_resource);
            }
        }
        resources.push(resource);
    }
    let mut document = if single {
        match resources.pop() {
            Some(resource) => Document::one(resource),
            None => return Err(AppError::new(ErrorCode::CartNotFound, "the cart does not exist")),
        }
    } else {
        Document::many(resources)
    };
    for resource in included {
        document.include(resource);
    }
    Ok(document)
}

fn respond_cart(
    ctx: &RequestContext,
    flavour: Flavour,
    reply: GatewayReply,
    status: StatusCode,
) -> Result<Response, AppError> {
    match reply {
        GatewayReply::Cart(cart) => {
            Ok(cart_document(ctx, flavour, std::slice::from_ref(&cart), true)?.respond(ctx, &HeaderMap::new(), status))
        }
        GatewayReply::Carts(carts) => {
            Ok(cart_document(ctx, flavour, &carts, false)?.respond(ctx, &HeaderMap::new(), status))
        }
        other => Err(unexpected(&other)),
    }
}

fn no_content(reply: GatewayReply) -> Result<Response, AppError> {
    match reply {
        GatewayReply::Done | GatewayReply::Cart(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        other => Err(unexpected(&other)),
    }
}

/// `{"sku": "100_blue", "quantity": 2}` where the quantity may be an integer or an integer string
/// (Glue accepts both); anything else is 422 with a pointer.
fn parse_item(attributes: Map<String, Value>) -> Result<ItemInput, AppError> {
    let mut errors = Vec::new();
    let sku = match attributes.get("sku") {
        Some(Value::String(sku)) if !sku.trim().is_empty() => Some(sku.trim().to_owned()),
        Some(Value::String(_)) => {
            errors.push(("/data/attributes/sku", "sku must not be empty"));
            None
        }
        Some(_) => {
            errors.push(("/data/attributes/sku", "sku must be a string"));
            None
        }
        None => {
            errors.push(("/data/attributes/sku", "sku is required"));
            None
        }
    };
    let quantity =
        parse_quantity(attributes.get("quantity")).map_err(|detail| errors.push(("/data/attributes/quantity", detail)));
    for name in attributes.keys() {
        if !matches!(
            name.as_str(),
            "sku" | "quantity" | "productOptions" | "salesUnit" | "amount"
        ) {
            return Err(AppError::at_pointer(
                ErrorCode::Unprocessable,
                format!("/data/attributes/{name}"),
                format!("unknown attribute {name}"),
            ));
        }
    }
    match (sku, quantity) {
        (Some(sku), Ok(quantity)) if errors.is_empty() => Ok(ItemInput { sku, quantity }),
        _ => Err(AppError::many(
            errors
                .into_iter()
                .map(|(pointer, detail)| {
                    kontor_web::error::ApiError::new(ErrorCode::Unprocessable, detail).at_pointer(pointer)
                })
                .collect(),
        )),
    }
}

fn parse_quantity(value: Option<&Value>) -> Result<u32, &'static str> {
    let number = match value {
        None => return Err("quantity is required"),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match number {
        Some(quantity) if quantity >= 1 => u32::try_from(quantity).map_err(|_| "quantity is too large"),
        Some(_) => Err("quantity must be at least 1"),
        None => Err("quantity must be a positive integer"),
    }
}

fn parse_update_quantity(attributes: &Map<String, Value>) -> Result<u32, AppError> {
    match attributes.get("quantity") {
        Some(Value::Number(number)) if number.as_u64() == Some(0) => Ok(0),
        Some(Value::String(text)) if text.trim() == "0" => Ok(0),
        other => parse_quantity(other)
            .map_err(|detail| AppError::at_pointer(ErrorCode::Unprocessable, "/data/attributes/quantity", detail)),
    }
}

/// Who owns the carts of a route: a signed-in customer (`carts`) or a guest (`guest-carts`). The
/// handlers are written once over this, so both flavours follow the same rules.
trait CartCaller: FromRequestParts<StorefrontState, Rejection = AppError> + Send {
    const FLAVOUR: Flavour;
    fn owner(self) -> CartOwner;
}

impl CartCaller for Customer {
    const FLAVOUR: Flavour = CUSTOMER;
    fn owner(self) -> CartOwner {
        CartOwner::Customer(self.reference)
    }
}

impl CartCaller for Guest {
    const FLAVOUR: Flavour = GUEST;
    fn owner(self) -> CartOwner {
        CartOwner::Guest(self.anonymous_id)
    }
}

async fn list<C: CartCaller>(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    caller: C,
) -> Result<Response, AppError> {
    let store = ctx.store.name.clone();
    let reply = cart_command(
        &state,
        CartCommand::ListCarts {
            owner: caller.owner(),
            store,
        },
    )
    .await?;
    respond_cart(&ctx, C::FLAVOUR, reply, StatusCode::OK)
}

/// `POST /carts`; guests get their one cart with their first item instead.
async fn create_cart(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("carts")?;
    let cart: CartInput = parse_attributes(body.attributes)?;
    let command = CartCommand::CreateCart {
        owner: customer.owner(),
        store: ctx.store.name.clone(),
        cart,
        idempotency_key,
    };
    respond_cart(
        &ctx,
        CUSTOMER,
        cart_command(&state, command).await?,
        StatusCode::CREATED,
    )
}

async fn get_one<C: CartCaller>(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    caller: C,
    Path(cart_id): Path<String>,
) -> Result<Response, AppError> {
    let reply = cart_command(
        &state,
        CartCommand::GetCart {
            owner: caller.owner(),
            cart_id,
        },
    )
    .await?;
    respond_cart(&ctx, C::FLAVOUR, reply, StatusCode::OK)
}

async fn update<C: CartCaller>(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    caller: C,
    Path(cart_id): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(C::FLAVOUR.cart_type)?;
    let changes: CartChanges = parse_attributes(body.attributes)?;
    let command = CartCommand::UpdateCart {
        owner: caller.owner(),
        cart_id,
        changes,
    };
    respond_cart(&ctx, C::FLAVOUR, cart_command(&state, command).await?, StatusCode::OK)
}

async fn delete_cart<C: CartCaller>(
    State(state): State<StorefrontState>,
    caller: C,
    Path(cart_id): Path<String>,
) -> Result<Response, AppError> {
    no_content(
        cart_command(
            &state,
            CartCommand::DeleteCart {
                owner: caller.owner(),
                cart_id,
            },
        )
        .await?,
    )
}

async fn add_item(
    state: &StorefrontState,
    ctx: &RequestContext,
    flavour: Flavour,
    owner: CartOwner,
    cart_id: Option<String>,
    idempotency_key: Option<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(flavour.item_type)?;
    let item = parse_item(body.attributes)?;
    let command = CartCommand::AddItem {
        owner,
        store: ctx.store.name.clone(),
        cart_id,
        item,
        idempotency_key,
    };
    respond_cart(ctx, flavour, cart_command(state, command).await?, StatusCode::CREATED)
}

async fn add_to<C: CartCaller>(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    caller: C,
    Path(cart_id): Path<String>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    let owner = caller.owner();
    add_item(&state, &ctx, C::FLAVOUR, owner, Some(cart_id), idempotency_key, body).await
}

/// `POST /guest-cart-items`: adds to the guest's cart, creating it on first use.
async fn add_guest_item(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    add_item(&state, &ctx, GUEST, guest.owner(), None, idempotency_key, body).await
}

async fn update_item<C: CartCaller>(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    caller: C,
    Path((cart_id, group_key)): Path<(String, String)>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(C::FLAVOUR.item_type)?;
    let quantity = parse_update_quantity(&body.attributes)?;
    let command = CartCommand::UpdateItem {
        owner: caller.owner(),
        cart_id,
        group_key,
        quantity,
    };
    respond_cart(&ctx, C::FLAVOUR, cart_command(&state, command).await?, StatusCode::OK)
}

async fn remove_item<C: CartCaller>(
    State(state): State<StorefrontState>,
    caller: C,
    Path((cart_id, group_key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let command = CartCommand::RemoveItem {
        owner: caller.owner(),
        cart_id,
        group_key,
    };
    no_content(cart_command(&state, command).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attributes(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn quantities_are_integers_or_integer_strings() {
        let parsed = parse_item(attributes(json!({"sku": "100_blue", "quantity": "3"}))).expect("parses");
        assert_eq!(parsed.quantity, 3);
        let parsed = parse_item(attributes(json!({"sku": "100_blue", "quantity": 2}))).expect("parses");
        assert_eq!(parsed.quantity, 2);
        for bad in [json!(0), json!(-1), json!(1.5), json!("two"), json!(null), json!(true)] {
            let error = parse_item(attributes(json!({"sku": "100_blue", "quantity": bad}))).expect_err("rejected");
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn every_field_problem_is_reported_with_its_pointer() {
        let error = parse_item(attributes(json!({"sku": 5}))).expect_err("rejected");
        let pointers: Vec<_> = error
            .errors()
            .iter()
            .filter_map(|error| match &error.source {
                Some(kontor_web::error::ErrorSource::Pointer(pointer)) => Some(pointer.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(pointers, ["/data/attributes/sku", "/data/attributes/quantity"]);
    }
}
