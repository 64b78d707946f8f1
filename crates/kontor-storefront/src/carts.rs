//! Cart resources (`storefront-api.md` §7, §8.8, §8.9): `carts` and `carts/{id}/items` for signed-in
//! customers, `guest-carts` and `guest-cart-items` for guests identified by
//! `X-Anonymous-Customer-Unique-Id`. Carts live in SQL on the backend; every request here is one gateway
//! command, and the cart in the answer (items, totals) is what the backend computed.

use crate::account::{attributes_of, unexpected};
use crate::auth::{Customer, Guest};
use crate::context::RequestContext;
use crate::document::{Document, Includes, Resource};
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{Path, State};
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
        .route("/carts", get(list_carts).post(create_cart))
        .route("/carts/{cart_id}", get(get_cart).patch(update_cart).delete(delete_cart))
        .route("/carts/{cart_id}/items", post(add_item))
        .route(
            "/carts/{cart_id}/items/{group_key}",
            patch(update_item).delete(remove_item),
        )
        .route("/guest-carts", get(list_guest_carts))
        .route(
            "/guest-carts/{cart_id}",
            get(get_guest_cart).patch(update_guest_cart).delete(delete_guest_cart),
        )
        .route("/guest-cart-items", post(add_guest_item))
        .route("/guest-carts/{cart_id}/guest-cart-items", post(add_guest_item_to))
        .route(
            "/guest-carts/{cart_id}/guest-cart-items/{group_key}",
            patch(update_guest_item).delete(remove_guest_item),
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

async fn list_carts(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
) -> Result<Response, AppError> {
    let reply = cart_command(
        &state,
        CartCommand::ListCarts {
            owner: CartOwner::Customer(customer.reference),
            store: ctx.store.name.clone(),
        },
    )
    .await?;
    respond_cart(&ctx, CUSTOMER, reply, StatusCode::OK)
}

async fn create_cart(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("carts")?;
    let cart: CartInput = parse_attributes(body.attributes)?;
    let reply = cart_command(
        &state,
        CartCommand::CreateCart {
            owner: CartOwner::Customer(customer.reference),
            store: ctx.store.name.clone(),
            cart,
        },
    )
    .await?;
    respond_cart(&ctx, CUSTOMER, reply, StatusCode::CREATED)
}

async fn get_one(
    state: &StorefrontState,
    ctx: &RequestContext,
    flavour: Flavour,
    owner: CartOwner,
    cart_id: String,
) -> Result<Response, AppError> {
    let reply = cart_command(state, CartCommand::GetCart { owner, cart_id }).await?;
    respond_cart(ctx, flavour, reply, StatusCode::OK)
}

async fn get_cart(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(cart_id): Path<String>,
) -> Result<Response, AppError> {
    get_one(&state, &ctx, CUSTOMER, CartOwner::Customer(customer.reference), cart_id).await
}

async fn update_one(
    state: &StorefrontState,
    ctx: &RequestContext,
    flavour: Flavour,
    owner: CartOwner,
    cart_id: String,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(flavour.cart_type)?;
    let changes: CartChanges = parse_attributes(body.attributes)?;
    let reply = cart_command(
        state,
        CartCommand::UpdateCart {
            owner,
            cart_id,
            changes,
        },
    )
    .await?;
    respond_cart(ctx, flavour, reply, StatusCode::OK)
}

async fn update_cart(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(cart_id): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    update_one(
        &state,
        &ctx,
        CUSTOMER,
        CartOwner::Customer(customer.reference),
        cart_id,
        body,
    )
    .await
}

async fn delete_cart(
    State(state): State<StorefrontState>,
    customer: Customer,
    Path(cart_id): Path<String>,
) -> Result<Response, AppError> {
    let owner = CartOwner::Customer(customer.reference);
    no_content(cart_command(&state, CartCommand::DeleteCart { owner, cart_id }).await?)
}

async fn add_one(
    state: &StorefrontState,
    ctx: &RequestContext,
    flavour: Flavour,
    owner: CartOwner,
    cart_id: Option<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(flavour.item_type)?;
    let item = parse_item(body.attributes)?;
    let reply = cart_command(
        state,
        CartCommand::AddItem {
            owner,
            store: ctx.store.name.clone(),
            cart_id,
            item,
        },
    )
    .await?;
    respond_cart(ctx, flavour, reply, StatusCode::CREATED)
}

async fn add_item(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(cart_id): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    let owner = CartOwner::Customer(customer.reference);
    add_one(&state, &ctx, CUSTOMER, owner, Some(cart_id), body).await
}

async fn update_one_item(
    state: &StorefrontState,
    ctx: &RequestContext,
    flavour: Flavour,
    owner: CartOwner,
    (cart_id, group_key): (String, String),
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(flavour.item_type)?;
    let quantity = parse_update_quantity(&body.attributes)?;
    let reply = cart_command(
        state,
        CartCommand::UpdateItem {
            owner,
            cart_id,
            group_key,
            quantity,
        },
    )
    .await?;
    respond_cart(ctx, flavour, reply, StatusCode::OK)
}

async fn update_item(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(path): Path<(String, String)>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    let owner = CartOwner::Customer(customer.reference);
    update_one_item(&state, &ctx, CUSTOMER, owner, path, body).await
}

async fn remove_item(
    State(state): State<StorefrontState>,
    customer: Customer,
    Path((cart_id, group_key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let owner = CartOwner::Customer(customer.reference);
    no_content(
        cart_command(
            &state,
            CartCommand::RemoveItem {
                owner,
                cart_id,
                group_key,
            },
        )
        .await?,
    )
}

async fn list_guest_carts(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
) -> Result<Response, AppError> {
    let reply = cart_command(
        &state,
        CartCommand::ListCarts {
            owner: CartOwner::Guest(guest.anonymous_id),
            store: ctx.store.name.clone(),
        },
    )
    .await?;
    respond_cart(&ctx, GUEST, reply, StatusCode::OK)
}

async fn get_guest_cart(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
    Path(cart_id): Path<String>,
) -> Result<Response, AppError> {
    get_one(&state, &ctx, GUEST, CartOwner::Guest(guest.anonymous_id), cart_id).await
}

async fn update_guest_cart(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
    Path(cart_id): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    update_one(&state, &ctx, GUEST, CartOwner::Guest(guest.anonymous_id), cart_id, body).await
}

async fn delete_guest_cart(
    State(state): State<StorefrontState>,
    guest: Guest,
    Path(cart_id): Path<String>,
) -> Result<Response, AppError> {
    let owner = CartOwner::Guest(guest.anonymous_id);
    no_content(cart_command(&state, CartCommand::DeleteCart { owner, cart_id }).await?)
}

/// `POST /guest-cart-items`: adds to the guest's cart, creating it on first use.
async fn add_guest_item(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    add_one(&state, &ctx, GUEST, CartOwner::Guest(guest.anonymous_id), None, body).await
}

async fn add_guest_item_to(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
    Path(cart_id): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    add_one(
        &state,
        &ctx,
        GUEST,
        CartOwner::Guest(guest.anonymous_id),
        Some(cart_id),
        body,
    )
    .await
}

async fn update_guest_item(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    guest: Guest,
    Path(path): Path<(String, String)>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    update_one_item(&state, &ctx, GUEST, CartOwner::Guest(guest.anonymous_id), path, body).await
}

async fn remove_guest_item(
    State(state): State<StorefrontState>,
    guest: Guest,
    Path((cart_id, group_key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let owner = CartOwner::Guest(guest.anonymous_id);
    no_content(
        cart_command(
            &state,
            CartCommand::RemoveItem {
                owner,
                cart_id,
                group_key,
            },
        )
        .await?,
    )
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
