//! Orders in the admin API: the list with filters, one order with its items' states, state history,
//! transition log and the manual events each item can take now, firing those events, and the process
//! diagrams (oms.md §8).
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/admin/orders?filter[store]&filter[customerReference]&filter[email]&filter[state]&filter[createdFrom]&filter[createdTo]&page[offset]&page[limit]` | 200, newest first, `meta.total` |
//! | GET | `/admin/orders/{reference}` | 200 with items, history, manual events, transition log |
//! | POST | `/admin/orders/{reference}/events` `{"data": {"type": "oms-events", "attributes": {"event": "pay", "items": [12]}}}` | 200 with the order after the event (`meta.stoppedBy` when a later step such as a mail failed after the event was saved); 409 while another run holds the order; 422 when no item can take the event |
//! | GET | `/admin/oms/draw?process=KontorDefault01&format=svg\|dot&state=paid` | the diagram |
//!
//! And, outside the admin token, the payment service's callback [`callback_routes`]:
//! `POST /payments/callback` with `X-Kontor-Signature: sha256=<hex HMAC-SHA256 of the body>`.

use crate::acl::GuardedRouter;
use crate::auth::CurrentUser;
use crate::state::AdminState;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use kontor_domain::acl::Permission;
use kontor_domain::checkout::{OrderFilter, OrderRepository, StoredOrder};
use kontor_domain::oms::{OmsEngine, OmsError, OmsRegistry, OmsRepository};
use kontor_web::jsonapi::parse_attributes;
use kontor_web::{AppError, ErrorCode, JsonApi, JsonApiRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// What the order endpoints work with.
pub struct OrderAdmin {
    pub orders: Arc<dyn OrderRepository>,
    pub oms: Arc<dyn OmsRepository>,
    pub engine: OmsEngine,
    pub registry: Arc<OmsRegistry>,
}

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/admin/orders", Permission::OrdersRead, list)
        .get("/admin/orders/{reference}", Permission::OrdersRead, read)
        .post("/admin/orders/{reference}/events", Permission::OrdersWrite, fire_event)
        .get("/admin/oms/draw", Permission::OrdersRead, draw)
}

fn admin(state: &AdminState) -> Result<&OrderAdmin, AppError> {
    state
        .orders
        .as_deref()
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "this backend does not manage orders"))
}

fn storage(error: impl std::fmt::Display) -> AppError {
    AppError::internal(&error)
}

/// `filter[name]=value` and `page[…]` pairs of a query string.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

fn micros_of(field: &str, value: &str) -> Result<i64, AppError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|time| time.timestamp_micros())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map(|date| {
                date.and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .timestamp_micros()
            })
        })
        .map_err(|_| {
            AppError::new(
                ErrorCode::InvalidParameter,
                format!("{field} must be a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
        })
}

async fn list(State(state): State<AdminState>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let admin = admin(&state)?;
    let mut filter = OrderFilter::default();
    let (mut offset, mut limit) = (0_u64, 20_u64);
    for (key, value) in query_pairs(raw.as_deref()) {
        match key.as_str() {
            "filter[store]" => filter.store = Some(value),
            "filter[customerReference]" => filter.customer_reference = Some(value),
            "filter[email]" => filter.email = Some(value),
            "filter[state]" => filter.state = Some(value),
            "filter[createdFrom]" => filter.created_from_micros = Some(micros_of(&key, &value)?),
            "filter[createdTo]" => filter.created_to_micros = Some(micros_of(&key, &value)?),
            "page[offset]" | "page[limit]" => {
                let number: u64 = value.parse().map_err(|_| {
                    AppError::new(
                        ErrorCode::InvalidParameter,
                        format!("{key} must be a non-negative integer"),
                    )
                })?;
                if key == "page[offset]" {
                    offset = number;
                } else if (1..=100).contains(&number) {
                    limit = number;
                } else {
                    return Err(AppError::new(
                        ErrorCode::InvalidParameter,
                        "page[limit] must be 1 to 100",
                    ));
                }
            }
            other => {
                return Err(AppError::new(
                    ErrorCode::InvalidParameter,
                    format!("unknown query parameter {other}"),
                ));
            }
        }
    }
    let (orders, total) = admin
        .orders
        .list_orders(&filter, offset, limit)
        .await
        .map_err(storage)?;
    let data: Vec<Value> = orders
        .iter()
        .map(|order| {
            json!({
                "type": "orders",
                "id": order.reference,
                "attributes": summary(order),
                "links": {"self": format!("/admin/orders/{}", order.reference)},
            })
        })
        .collect();
    Ok(JsonApi(StatusCode::OK, json!({"data": data, "meta": {"total": total}})).into_response())
}

fn time(micros: i64) -> String {
    kontor_domain::checkout::micros_to_rfc3339(micros)
}

fn summary(order: &StoredOrder) -> Value {
    let mut states: Vec<&str> = order.items.iter().map(|item| item.state.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    json!({
        "store": order.store,
        "customerReference": order.customer_reference,
        "email": order.email,
        "firstName": order.first_name,
        "lastName": order.last_name,
        "currencyIsoCode": order.currency,
        "priceMode": order.price_mode,
        "totals": order.totals,
        "itemStates": states,
        "createdAt": time(order.created_at_micros),
    })
}

async fn order_document(admin: &OrderAdmin, order: &StoredOrder) -> Result<Value, AppError> {
    let manual = admin.engine.manual_events(order);
    let log = admin.oms.transition_log(order.id).await.map_err(storage)?;
    let mut attributes = summary(order);
    attributes["billingAddress"] = json!(order.billing_address);
    attributes["items"] = order
        .items
        .iter()
        .map(|item| {
            json!({
                "id": item.id,
                "uuid": item.uuid,
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "sumPrice": item.sum_price,
                "process": item.process,
                "state": item.state,
                "stateEnteredAt": time(item.state_entered_at_micros),
                "history": item.history,
                "manualEvents": manual.get(&item.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    attributes["payments"] = order
        .payments
        .iter()
        .map(|payment| {
            json!({"provider": payment.provider, "method": payment.method, "amount": payment.amount,
                   "status": payment.status, "capturedAmount": payment.captured_amount,
                   "refundedAmount": payment.refunded_amount})
        })
        .collect();
    attributes["shipments"] = order
        .shipments
        .iter()
        .map(|shipment| {
            json!({"id": shipment.id, "method": shipment.method_name, "carrier": shipment.carrier_name,
                   "address": shipment.address, "requestedDeliveryDate": shipment.requested_delivery_date})
        })
        .collect();
    attributes["transitionLog"] = log
        .iter()
        .map(|row| {
            json!({"item": row.item_id, "event": row.event, "source": row.source, "target": row.target,
                   "command": row.command, "condition": row.condition, "origin": row.origin,
                   "error": row.error, "at": time(row.created_at_micros)})
        })
        .collect();
    Ok(json!({"data": {
        "type": "orders",
        "id": order.reference,
        "attributes": attributes,
        "links": {"self": format!("/admin/orders/{}", order.reference)},
    }}))
}

async fn find(admin: &OrderAdmin, reference: &str) -> Result<StoredOrder, AppError> {
    admin
        .orders
        .find_order(reference)
        .await
        .map_err(storage)?
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("order {reference} does not exist")))
}

async fn read(State(state): State<AdminState>, Path(reference): Path<String>) -> Result<Response, AppError> {
    let admin = admin(&state)?;
    let order = find(admin, &reference).await?;
    Ok(JsonApi(StatusCode::OK, order_document(admin, &order).await?).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventInput {
    event: String,
    /// Item ids; absent = every item that can take the event.
    #[serde(default)]
    items: Option<Vec<i64>>,
}

/// Fires a manual event. Only events marked `manual` in the process are accepted here.
async fn fire_event(
    State(state): State<AdminState>,
    Extension(user): Extension<CurrentUser>,
    Path(reference): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    let admin = admin(&state)?;
    body.expect_type("oms-events")?;
    let input: EventInput = parse_attributes(body.attributes)?;
    let order = find(admin, &reference).await?;
    let manual = admin.engine.manual_events(&order);
    if let Some(items) = &input.items
        && let Some(unknown) = items.iter().find(|id| !manual.contains_key(id))
    {
        return Err(AppError::at_pointer(
            ErrorCode::Unprocessable,
            "/data/attributes/items",
            format!("item {unknown} is not an item of order {reference}"),
        ));
    }
    let eligible: Vec<i64> = manual
        .iter()
        .filter(|(id, events)| {
            input.items.as_ref().is_none_or(|items| items.contains(id)) && events.contains(&input.event)
        })
        .map(|(id, _)| *id)
        .collect();
    if eligible.is_empty() {
        return Err(AppError::at_pointer(
            ErrorCode::Unprocessable,
            "/data/attributes/event",
            format!(
                "no item of order {reference} can take the manual event {:?} now",
                input.event
            ),
        ));
    }
    let origin = format!("user:{}", user.0.id.0);
    let stopped_by = match admin
        .engine
        .trigger_event(order.id, Some(&eligible), &input.event, &origin)
        .await
    {
        Ok(outcome) => outcome.stopped_by,
        Err(OmsError::Busy(_)) => {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "the order is being processed right now; try again in a moment",
            )
            .with_retry_after(1));
        }
        Err(OmsError::CommandFailed { command, message }) => {
            return Err(AppError::new(
                ErrorCode::Unprocessable,
                format!("command {command} failed: {message}; the items stay where they are"),
            ));
        }
        Err(error) => return Err(storage(error)),
    };
    let order = find(admin, &reference).await?;
    let mut document = order_document(admin, &order).await?;
    if let Some(stop) = stopped_by {
        document["meta"] =
            json!({"stoppedBy": format!("{stop}; the items wait where they are and the step is retried")});
    }
    Ok(JsonApi(StatusCode::OK, document).into_response())
}

async fn draw(State(state): State<AdminState>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let admin = admin(&state)?;
    let (mut process, mut format, mut highlight) = (None, "svg".to_owned(), None);
    for (key, value) in query_pairs(raw.as_deref()) {
        match key.as_str() {
            "process" => process = Some(value),
            "format" => format = value,
            "state" => highlight = Some(value),
            other => {
                return Err(AppError::new(
                    ErrorCode::InvalidParameter,
                    format!("unknown query parameter {other}"),
                ));
            }
        }
    }
    let Some(process) = process else {
        return Err(AppError::new(ErrorCode::InvalidParameter, "process is required"));
    };
    let Some(definition) = admin.engine.processes().get(&process) else {
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!("process {process} is not loaded"),
        ));
    };
    if let Some(state) = &highlight
        && definition.state(state).is_none()
    {
        return Err(AppError::new(
            ErrorCode::InvalidParameter,
            format!("process {process} has no state {state:?}"),
        ));
    }
    let options = kontor_oms::DrawOptions {
        highlight: highlight.as_deref(),
        keys: admin.registry.as_ref(),
    };
    let (body, content_type) = match format.as_str() {
        "svg" => (kontor_oms::draw_svg(definition, &options), "image/svg+xml"),
        "dot" => (
            kontor_oms::draw_dot(definition, &options),
            "text/vnd.graphviz; charset=utf-8",
        ),
        other => {
            return Err(AppError::new(
                ErrorCode::InvalidParameter,
                format!("format must be svg or dot, not {other:?}"),
            ));
        }
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// The payment service's confirmation: `{"orderReference": "DE--12", "status": "captured" | "failed",
/// "amount": 26290, "externalReference": "psp-123"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PaymentCallback {
    order_reference: String,
    status: String,
    amount: i64,
    #[serde(default)]
    external_reference: Option<String>,
}

#[derive(Clone)]
struct CallbackState {
    admin: Arc<OrderAdmin>,
    secret: Arc<Vec<u8>>,
}

/// The signature header of payment callbacks.
pub const SIGNATURE_HEADER: &str = "x-kontor-signature";

/// `POST /payments/callback`, for payments confirmed asynchronously (provider `AsyncPay`). The body
/// must be signed with `secret` (HMAC-SHA256, hex, `sha256=` prefix); an empty secret disables the
/// endpoint (every call is 401). A confirmed capture marks the payment captured and fires the
/// order's `pay` event; repeating the same callback changes nothing.
pub fn callback_routes(admin: Arc<OrderAdmin>, secret: &str) -> Router {
    Router::new()
        .route("/payments/callback", post(payment_callback))
        .with_state(CallbackState {
            admin,
            secret: Arc::new(secret.as_bytes().to_vec()),
        })
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC of `body` under `secret`, compared in constant time.
pub fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    use hmac::{Hmac, Mac};
    if secret.is_empty() {
        return false;
    }
    let Some(given) = signature
        .strip_prefix("sha256=")
        .and_then(|hex_text| hex::decode(hex_text).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// `sha256=<hex>` for `body`: what a payment service sends (and what tests sign with).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        // HMAC accepts keys of any length; this branch cannot be taken.
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn payment_callback(
    State(state): State<CallbackState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !signature_matches(&state.secret, &body, signature) {
        return Err(AppError::new(
            ErrorCode::InvalidAccessToken,
            "the callback signature is missing or wrong",
        ));
    }
    let callback: PaymentCallback = serde_json::from_slice(&body).map_err(|error| {
        AppError::new(
            ErrorCode::MalformedBody,
            format!("the callback body is invalid: {error}"),
        )
    })?;
    let admin = &state.admin;
    let order = find(admin, &callback.order_reference).await?;
    let Some(payment) = order.payments.iter().find(|payment| {
        payment
            .provider
            .eq_ignore_ascii_case(kontor_domain::oms::builtin::ASYNC_PROVIDER)
    }) else {
        return Err(AppError::at_pointer(
            ErrorCode::Unprocessable,
            "/orderReference",
            "the order has no asynchronously confirmed payment",
        ));
    };
    use kontor_domain::checkout::payment_status;
    let now = chrono::Utc::now();
    match callback.status.as_str() {
        "captured" => {
            if callback.amount != payment.amount {
                return Err(AppError::at_pointer(
                    ErrorCode::Unprocessable,
                    "/amount",
                    format!("the order's payment is {}, not {}", payment.amount, callback.amount),
                ));
            }
            if payment.status != payment_status::CAPTURED {
                admin
                    .oms
                    .update_payment(
                        payment.id,
                        payment_status::CAPTURED,
                        payment.amount,
                        payment.refunded_amount,
                        now,
                    )
                    .await
                    .map_err(storage)?;
            }
            tracing::info!(order = %order.reference, external = ?callback.external_reference, "payment confirmed");
            // Items waiting for the money move on; items already past it make this a no-op.
            match admin
                .engine
                .trigger_event(order.id, None, "pay", "payment-callback")
                .await
            {
                Ok(_) => {}
                // The payment is recorded; the service retries the callback and the event follows then.
                Err(OmsError::Busy(_)) => {
                    return Err(
                        AppError::new(ErrorCode::Unavailable, "the order is busy; send the callback again")
                            .with_retry_after(5),
                    );
                }
                Err(error) => tracing::warn!(order = %order.reference, %error, "pay after the payment callback failed"),
            }
        }
        "failed" => {
            admin
                .oms
                .update_payment(payment.id, payment_status::FAILED, 0, payment.refunded_amount, now)
                .await
                .map_err(storage)?;
        }
        other => {
            return Err(AppError::at_pointer(
                ErrorCode::Unprocessable,
                "/status",
                format!("status must be captured or failed, not {other:?}"),
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
