//! Checkout and orders (`storefront-api.md` §8.10–§8.11): `checkout-data` shows what a cart can be
//! checked out with, `checkout` places the order (for customers and guests, idempotent with an
//! `Idempotency-Key` header), `orders` lists the signed-in customer's orders. Everything is one gateway
//! command; the backend re-checks prices and stock and writes the order in one transaction.

use crate::account::{attributes_of, unexpected};
use crate::auth::{Customer, anonymous_id};
use crate::context::RequestContext;
use crate::document::{Document, Includes, Page, Resource};
use crate::idempotency::IdempotencyKey;
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use kontor_domain::gateway::{
    CartOwner, CheckoutCommand, CheckoutData, CheckoutDataInput, CheckoutInput, GatewayReply, GatewayRequest, Order,
};
use kontor_web::jsonapi::parse_attributes;
use kontor_web::{AppError, ErrorCode, JsonApiRequest};

pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/checkout-data", post(checkout_data))
        .route("/checkout", post(checkout))
        .route("/orders", get(list_orders))
        .route("/orders/{order_reference}", get(get_order))
}

/// A customer (by token) or a guest (by `X-Anonymous-Customer-Unique-Id`); neither is 400 `1105`.
struct Orderer(CartOwner);

impl FromRequestParts<StorefrontState> for Orderer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &StorefrontState) -> Result<Self, AppError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            let customer = Customer::from_request_parts(parts, state).await?;
            return Ok(Orderer(CartOwner::Customer(customer.reference)));
        }
        match anonymous_id(&parts.headers)? {
            Some(id) => Ok(Orderer(CartOwner::Guest(id))),
            None => Err(AppError::new(
                ErrorCode::CheckoutCallerMissing,
                "checkout needs an access token or the X-Anonymous-Customer-Unique-Id header",
            )),
        }
    }
}

async fn command(state: &StorefrontState, command: CheckoutCommand) -> Result<GatewayReply, AppError> {
    Ok(state.gateway.execute(GatewayRequest::Checkout(command)).await?)
}

fn includes(ctx: &RequestContext) -> Includes {
    Includes::from_query(ctx.path_and_query.split_once('?').map(|(_, query)| query))
}

/// `POST /checkout-data`.
async fn checkout_data(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    Orderer(owner): Orderer,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("checkout-data")?;
    let input: CheckoutDataInput = parse_attributes(body.attributes)?;
    let data = match command(
        &state,
        CheckoutCommand::CheckoutData {
            owner,
            input: Box::new(input),
        },
    )
    .await?
    {
        GatewayReply::CheckoutData(data) => data,
        other => return Err(unexpected(&other)),
    };
    let document = checkout_data_document(&ctx, &data)?;
    Ok(document.respond(&ctx, &HeaderMap::new(), StatusCode::OK))
}

fn checkout_data_document(ctx: &RequestContext, data: &CheckoutData) -> Result<Document, AppError> {
    let includes = includes(ctx);
    let mut resource = Resource::with_link(
        "checkout-data",
        None,
        attributes_of(data, &[])?,
        Some(format!("{}/checkout-data", ctx.api_base)),
    );
    let mut included = Vec::new();
    if includes.has("shipment-methods") {
        for method in &data.shipment_methods {
            let link = format!("{}/shipment-methods/{}", ctx.api_base, method.id);
            included.push(Resource::with_link(
                "shipment-methods",
                Some(&method.id),
                attributes_of(method, &["id"])?,
                Some(link),
            ));
        }
    }
    if includes.has("payment-methods") {
        for method in &data.payment_methods {
            let link = format!("{}/payment-methods/{}", ctx.api_base, method.id);
            included.push(Resource::with_link(
                "payment-methods",
                Some(&method.id),
                attributes_of(method, &["id"])?,
                Some(link),
            ));
        }
    }
    for related in &included {
        resource.relate(related);
    }
    let mut document = Document::one(resource);
    for related in included {
        document.include(related);
    }
    Ok(document)
}

/// `POST /checkout`: 201 with the order reference; `include=orders` adds the order.
async fn checkout(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    Orderer(owner): Orderer,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("checkout")?;
    let input: CheckoutInput = parse_attributes(body.attributes)?;
    let placed = match command(
        &state,
        CheckoutCommand::PlaceOrder {
            owner,
            locale: ctx.locale.clone(),
            idempotency_key,
            input: Box::new(input),
        },
    )
    .await?
    {
        GatewayReply::OrderPlaced(placed) => placed,
        other => return Err(unexpected(&other)),
    };
    let mut resource = Resource::with_link(
        "checkout",
        None,
        attributes_of(&placed, &["order"])?,
        Some(format!("{}/checkout", ctx.api_base)),
    );
    let document = if includes(&ctx).has("orders") {
        let order = order_resource(&ctx, &placed.order)?;
        resource.relate(&order);
        let mut document = Document::one(resource);
        document.include(order);
        document
    } else {
        Document::one(resource)
    };
    Ok(document.respond(&ctx, &HeaderMap::new(), StatusCode::CREATED))
}

fn order_resource(ctx: &RequestContext, order: &Order) -> Result<Resource, AppError> {
    Ok(Resource::new(
        ctx,
        "orders",
        &order.order_reference,
        attributes_of(order, &["orderReference", "store"])?,
    ))
}

/// `GET /orders`: the customer's orders, newest first, with the list attributes only.
async fn list_orders(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
) -> Result<Response, AppError> {
    let query = ctx.path_and_query.split_once('?').map(|(_, query)| query);
    let page = Page::from_query(query, ErrorCode::InvalidParameter)?;
    let reply = command(
        &state,
        CheckoutCommand::ListOrders {
            customer_reference: customer.reference,
            offset: page.offset as u64,
            limit: page.limit as u64,
        },
    )
    .await?;
    let GatewayReply::Orders(orders) = reply else {
        return Err(unexpected(&reply));
    };
    let resources = orders
        .orders
        .iter()
        .map(|order| {
            let attributes = serde_json::json!({
                "createdAt": order.created_at,
                "currencyIsoCode": order.currency_iso_code,
                "priceMode": order.price_mode,
                "totals": order.totals,
            });
            Resource::new(&ctx, "orders", &order.order_reference, attributes)
        })
        .collect();
    let total = usize::try_from(orders.total).unwrap_or(usize::MAX);
    let document = Document::many(resources).with_links(page.links(&ctx, total));
    Ok(document.respond(&ctx, &HeaderMap::new(), StatusCode::OK))
}

/// `GET /orders/{reference}`: one of the customer's orders with items and their states.
async fn get_order(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(order_reference): Path<String>,
) -> Result<Response, AppError> {
    let reply = command(
        &state,
        CheckoutCommand::GetOrder {
            customer_reference: customer.reference,
            order_reference,
        },
    )
    .await?;
    let GatewayReply::Order(order) = reply else {
        return Err(unexpected(&reply));
    };
    let document = Document::one(order_resource(&ctx, &order)?);
    Ok(document.respond(&ctx, &HeaderMap::new(), StatusCode::OK))
}
