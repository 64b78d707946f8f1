//! Orders in the Back Office: viewing needs orders.read, firing a process event orders.write.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/orders?store=&customer=&email=&state=&from=&to=&page=` | orders, newest first, filtered, paged |
//! | GET | `/backoffice/orders/{reference}` | one order: customer, addresses, totals, items with state and history, transition log, manual events, process diagram |
//! | POST | `/backoffice/orders/{reference}/events` | `event` and `items` (item ids; none = every item that can take it) |
//!
//! The pages read and act through the same [`OrderAdmin`](crate::orders::OrderAdmin) as the admin API:
//! only events marked manual in the item's process are offered and accepted, fired with the user as
//! origin (`user:<id>`) so the transition log names who did it. While another run holds the order the
//! event is refused with 409 and the page says to try again; nothing has changed then.
//!
//! Dates of the filter are days (`YYYY-MM-DD`, UTC), `to` inclusive. A filter that cannot be read is
//! shown next to its field and nothing is listed, rather than silently listing everything.

use super::audit::Pager;
use super::ws::announce_change;
use super::{Layout, flash, render};
use crate::acl::{AuditDetail, GuardedRouter, Principal};
use crate::orders::OrderAdmin;
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use kontor_domain::acl::Permission;
use kontor_domain::checkout::{OrderFilter, StoredOrder};
use kontor_domain::oms::OmsError;
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/orders", Permission::OrdersRead, list)
        .get("/backoffice/orders/{reference}", Permission::OrdersRead, show)
        .post(
            "/backoffice/orders/{reference}/events",
            Permission::OrdersWrite,
            fire_event,
        )
}

/// Orders per page of the list.
const PAGE_SIZE: u64 = 25;
/// The query parameters that make up the filter (everything but `page`).
const FILTER_FIELDS: [&str; 6] = ["store", "customer", "email", "state", "from", "to"];
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A page that cannot be shown: no such order or customer, or no order management in this backend.
pub(super) fn not_found(state: &AdminState, layout: &Layout, message: String) -> Response {
    render(
        state,
        StatusCode::NOT_FOUND,
        "backoffice/orders_not_found.html",
        layout,
        json!({"message": message}),
    )
}

fn storage_error(error: impl std::fmt::Display) -> Response {
    kontor_web::AppError::internal(&error).into_response()
}

/// One row of an order list (also the customer page's).
#[derive(Debug, Serialize)]
pub(super) struct OrderRow {
    reference: String,
    created_at: i64,
    store: String,
    customer_reference: Option<String>,
    email: String,
    name: String,
    currency: String,
    grand_total: i64,
    /// The distinct states of its items.
    states: Vec<String>,
}

impl From<&StoredOrder> for OrderRow {
    fn from(order: &StoredOrder) -> Self {
        let states: BTreeSet<&str> = order.items.iter().map(|item| item.state.as_str()).collect();
        Self {
            reference: order.reference.clone(),
            created_at: order.created_at_micros,
            store: order.store.clone(),
            customer_reference: order.customer_reference.clone(),
            email: order.email.clone(),
            name: format!("{} {}", order.first_name, order.last_name).trim().to_owned(),
            currency: order.currency.clone(),
            grand_total: order.totals.grand_total,
            states: states.into_iter().map(str::to_owned).collect(),
        }
    }
}

/// Midnight (UTC) of a `YYYY-MM-DD` day in microseconds.
fn day_start_micros(text: &str) -> Option<i64> {
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

/// The order filter of the query string, or the messages of the fields that cannot be read.
fn filter_of(query: &FormFields) -> Result<OrderFilter, FormErrors> {
    let given = |name: &str| Some(query.text(name)).filter(|value| !value.is_empty());
    let mut errors = FormErrors::new();
    let mut day = |name: &str| {
        let text = given(name)?;
        let start = day_start_micros(&text);
        if start.is_none() {
            errors.add(name, "Enter a date as YYYY-MM-DD.");
        }
        start
    };
    let created_from_micros = day("from");
    // `to` names the last day listed; the repository's bound is exclusive.
    let created_to_micros = day("to").map(|start| start + MICROS_PER_DAY);
    let filter = OrderFilter {
        store: given("store").map(|store| store.to_uppercase()),
        customer_reference: given("customer").map(|reference| reference.to_uppercase()),
        email: given("email"),
        state: given("state"),
        created_from_micros,
        created_to_micros,
    };
    if errors.is_empty() { Ok(filter) } else { Err(errors) }
}

/// Every state of the loaded processes, for the state filter.
fn known_states(admin: &OrderAdmin) -> Vec<String> {
    let processes = admin.engine.processes();
    let states: BTreeSet<String> = processes
        .names()
        .filter_map(|name| processes.get(name))
        .flat_map(|process| process.states().map(|state| state.name.clone()).collect::<Vec<_>>())
        .collect();
    states.into_iter().collect()
}

/// The page of a backend that does not run the OMS.
fn without_orders(state: &AdminState, layout: &Layout) -> Response {
    not_found(state, layout, "This backend does not manage orders.".to_owned())
}

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let Some(admin) = state.orders.as_deref() else {
        return without_orders(&state, &layout);
    };
    let values: BTreeMap<&str, String> = FILTER_FIELDS.iter().map(|name| (*name, query.text(name))).collect();
    let requested = Pager::new(Pager::number_from(&query), PAGE_SIZE, 0);
    let (status, rows, total, errors) = match filter_of(&query) {
        Ok(filter) => match admin.orders.list_orders(&filter, requested.offset(), PAGE_SIZE).await {
            Ok((orders, total)) => (
                StatusCode::OK,
                orders.iter().map(OrderRow::from).collect::<Vec<_>>(),
                total,
                FormErrors::new(),
            ),
            Err(error) => return storage_error(error),
        },
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, Vec::new(), 0, errors),
    };
    let mut link = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &values {
        if !value.is_empty() {
            link.append_pair(name, value);
        }
    }
    let page = json!({
        "orders": rows,
        "pager": Pager::new(requested.number, PAGE_SIZE, total),
        "base": format!("/backoffice/orders?{}", link.finish()),
        "values": values,
        "errors": errors,
        "states": known_states(admin),
    });
    render(&state, status, "backoffice/orders.html", &layout, page)
}

// ---- one order ----

#[derive(Debug, Serialize)]
struct ItemView {
    id: i64,
    sku: String,
    name: String,
    quantity: i64,
    unit_price: i64,
    sum_price: i64,
    process: String,
    state: String,
    state_entered_at: i64,
    history: Vec<String>,
    /// The manual events this item can take now.
    events: Vec<String>,
}

/// A manual event offered for the whole order: every item that can take it now.
#[derive(Debug, Serialize)]
struct OrderEvent {
    name: String,
    items: Vec<i64>,
}

#[derive(Debug, Serialize)]
struct LogView {
    item: i64,
    event: Option<String>,
    source: String,
    target: Option<String>,
    command: Option<String>,
    condition: Option<String>,
    origin: String,
    error: Option<String>,
    at: i64,
}

/// A process drawn with one of the order's states highlighted.
#[derive(Debug, Serialize)]
struct DiagramView {
    process: String,
    state: String,
    /// A standalone SVG document, every text in it escaped by the drawer.
    svg: String,
}

/// The order page; `message` explains why an event was refused.
async fn order_page(
    state: &AdminState,
    layout: &Layout,
    status: StatusCode,
    admin: &OrderAdmin,
    order: &StoredOrder,
    message: Option<String>,
) -> Response {
    let log = match admin.oms.transition_log(order.id).await {
        Ok(log) => log,
        Err(error) => return storage_error(error),
    };
    let manual = admin.engine.manual_events(order);
    let items: Vec<ItemView> = order
        .items
        .iter()
        .map(|item| ItemView {
            id: item.id,
            sku: item.sku.clone(),
            name: item.name.clone(),
            quantity: item.quantity,
            unit_price: item.unit_price,
            sum_price: item.sum_price,
            process: item.process.clone(),
            state: item.state.clone(),
            state_entered_at: item.state_entered_at_micros,
            history: item.history.clone(),
            events: manual.get(&item.id).cloned().unwrap_or_default(),
        })
        .collect();
    let mut by_event: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for item in &items {
        for event in &item.events {
            by_event.entry(event.as_str()).or_default().push(item.id);
        }
    }
    let order_events: Vec<OrderEvent> = by_event
        .into_iter()
        .map(|(name, items)| OrderEvent {
            name: name.to_owned(),
            items,
        })
        .collect();
    let drawn: BTreeSet<(&str, &str)> = order
        .items
        .iter()
        .map(|item| (item.process.as_str(), item.state.as_str()))
        .collect();
    let diagrams: Vec<DiagramView> = drawn
        .into_iter()
        .filter_map(|(process, current)| {
            let definition = admin.engine.processes().get(process)?;
            let options = kontor_oms::DrawOptions {
                highlight: Some(current),
                keys: admin.registry.as_ref(),
            };
            Some(DiagramView {
                process: process.to_owned(),
                state: current.to_owned(),
                svg: kontor_oms::draw_svg(definition, &options),
            })
        })
        .collect();
    let log: Vec<LogView> = log
        .into_iter()
        .map(|row| LogView {
            item: row.item_id,
            event: row.event,
            source: row.source,
            target: row.target,
            command: row.command,
            condition: row.condition,
            origin: row.origin,
            error: row.error,
            at: row.created_at_micros,
        })
        .collect();
    let page = json!({
        "order": {
            "reference": order.reference,
            "record": format!("orders:{}", order.reference),
            "store": order.store,
            "created_at": order.created_at_micros,
            "customer_reference": order.customer_reference,
            "email": order.email,
            "salutation": order.salutation,
            "first_name": order.first_name,
            "last_name": order.last_name,
            "locale": order.locale,
            "currency": order.currency,
            "price_mode": order.price_mode,
            "totals": order.totals,
            "billing_address": order.billing_address,
            "shipments": order.shipments.iter().map(|shipment| json!({
                "method": shipment.method_name, "carrier": shipment.carrier_name,
                "requested_delivery_date": shipment.requested_delivery_date, "address": shipment.address,
            })).collect::<Vec<_>>(),
            "payments": order.payments.iter().map(|payment| json!({
                "provider": payment.provider, "method": payment.method, "amount": payment.amount,
                "status": payment.status, "captured_amount": payment.captured_amount,
                "refunded_amount": payment.refunded_amount,
            })).collect::<Vec<_>>(),
            "expenses": order.expenses.iter().map(|expense| json!({
                "name": expense.name, "kind": expense.kind, "sum_price": expense.sum_price,
            })).collect::<Vec<_>>(),
            "items": items,
        },
        "order_events": order_events,
        "log": log,
        "diagrams": diagrams,
        "message": message,
    });
    render(state, status, "backoffice/order.html", layout, page)
}

async fn find(admin: &OrderAdmin, reference: &str) -> Result<Option<StoredOrder>, Response> {
    admin.orders.find_order(reference).await.map_err(storage_error)
}

async fn show(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(reference): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let Some(admin) = state.orders.as_deref() else {
        return without_orders(&state, &layout);
    };
    match find(admin, &reference).await {
        Ok(Some(order)) => order_page(&state, &layout, StatusCode::OK, admin, &order, None).await,
        Ok(None) => not_found(&state, &layout, format!("There is no order {reference}.")),
        Err(response) => response,
    }
}

/// What the event form sent: the event and the chosen items (repeated `items` fields).
fn event_input(pairs: &[(String, String)]) -> Result<(String, Option<Vec<i64>>), String> {
    let event = pairs
        .iter()
        .find(|(name, _)| name == "event")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|event| !event.is_empty())
        .ok_or_else(|| "Choose an event.".to_owned())?;
    let mut items = Vec::new();
    for (_, value) in pairs.iter().filter(|(name, _)| name == "items") {
        let id = value
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{value:?} is not an item of this order."))?;
        items.push(id);
    }
    Ok((event, Some(items).filter(|items| !items.is_empty())))
}

/// Why an event was not fired; nothing changed either way.
enum Refusal {
    /// Something the user can fix or retry: the order page again, with this status and message.
    Shown(StatusCode, String),
    /// The storage or the engine failed; the detail goes to the log only.
    Failed(OmsError),
}

/// The chosen items (none chosen: all) of the order that can take the manual event now.
fn eligible_items(
    reference: &str,
    manual: &BTreeMap<i64, Vec<String>>,
    event: &str,
    chosen: Option<&[i64]>,
) -> Result<Vec<i64>, Refusal> {
    if let Some(unknown) = chosen.into_iter().flatten().find(|id| !manual.contains_key(id)) {
        return Err(Refusal::Shown(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Item {unknown} is not an item of order {reference}."),
        ));
    }
    let eligible: Vec<i64> = manual
        .iter()
        .filter(|(id, events)| {
            chosen.is_none_or(|chosen| chosen.contains(id)) && events.iter().any(|name| name == event)
        })
        .map(|(id, _)| *id)
        .collect();
    if eligible.is_empty() {
        return Err(Refusal::Shown(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No chosen item of order {reference} can take the event \"{event}\" now."),
        ));
    }
    Ok(eligible)
}

/// Fires the form's manual event for the items that can take it; answers the event and those items.
async fn fire(
    admin: &OrderAdmin,
    order: &StoredOrder,
    pairs: &[(String, String)],
    origin: &str,
) -> Result<(String, Vec<i64>, Option<String>), Refusal> {
    let (event, chosen) =
        event_input(pairs).map_err(|message| Refusal::Shown(StatusCode::UNPROCESSABLE_ENTITY, message))?;
    let manual = admin.engine.manual_events(order);
    let eligible = eligible_items(&order.reference, &manual, &event, chosen.as_deref())?;
    match admin
        .engine
        .trigger_event(order.id, Some(&eligible), &event, origin)
        .await
    {
        Ok(outcome) => Ok((event, eligible, outcome.stopped_by)),
        Err(OmsError::Busy(_)) => Err(Refusal::Shown(
            StatusCode::CONFLICT,
            "The order is being processed right now. Nothing was changed; try again in a moment.".to_owned(),
        )),
        Err(OmsError::CommandFailed { command, message }) => Err(Refusal::Shown(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The command {command} failed: {message}. The items stay where they are."),
        )),
        Err(error) => Err(Refusal::Failed(error)),
    }
}

/// Each item's state before and after, for the audit entry.
fn moves(before: &StoredOrder, after: &StoredOrder, items: &[i64]) -> Vec<Value> {
    let state_of = |order: &StoredOrder, id: i64| {
        order
            .items
            .iter()
            .find(|item| item.id == id)
            .map(|item| item.state.clone())
    };
    items
        .iter()
        .map(|id| json!({"id": id, "from": state_of(before, *id), "to": state_of(after, *id)}))
        .collect()
}

async fn fire_event(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(reference): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let url = format!("/backoffice/orders/{reference}");
    let layout = Layout::new(&principal, &session, &csrf, &url);
    let Some(admin) = state.orders.as_deref() else {
        return without_orders(&state, &layout);
    };
    let missing = || not_found(&state, &layout, format!("There is no order {reference}."));
    let order = match find(admin, &reference).await {
        Ok(Some(order)) => order,
        Ok(None) => return missing(),
        Err(response) => return response,
    };
    let origin = format!("user:{}", principal.user.id.0);
    let (event, fired, stopped_by) = match fire(admin, &order, &pairs, &origin).await {
        Ok(fired) => fired,
        Err(Refusal::Shown(status, message)) => {
            let event = pairs.iter().find(|(name, _)| name == "event").map(|(_, value)| value);
            let detail = json!({"event": event, "refused": message});
            let mut response = order_page(&state, &layout, status, admin, &order, Some(message)).await;
            response.extensions_mut().insert(AuditDetail(detail));
            return response;
        }
        Err(Refusal::Failed(error)) => return storage_error(error),
    };
    let after = match find(admin, &reference).await {
        Ok(Some(after)) => after,
        Ok(None) => return missing(),
        Err(response) => return response,
    };
    announce_change(&state, &principal, &format!("orders:{reference}")).await;
    let items_text = match fired.len() {
        1 => "1 item".to_owned(),
        count => format!("{count} items"),
    };
    match &stopped_by {
        None => flash(
            &session,
            "success",
            format!("The event \"{event}\" was fired for {items_text}."),
        ),
        Some(stop) => flash(
            &session,
            "warning",
            format!(
                "The event \"{event}\" was fired for {items_text}, then the {stop}. The items wait where they are; the step is retried."
            ),
        ),
    }
    let mut response = Redirect::to(&url).into_response();
    let mut detail = json!({"event": event, "items": moves(&order, &after, &fired)});
    if let Some(stop) = stopped_by {
        detail["stoppedBy"] = json!(stop);
    }
    response.extensions_mut().insert(AuditDetail(detail));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> FormFields {
        FormFields(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn filters_read_days_and_refuse_what_is_not_one() {
        let filter = filter_of(&query(&[
            ("store", "de"),
            ("from", "2026-11-01"),
            ("to", "2026-11-01"),
            ("email", ""),
        ]))
        .expect("readable");
        assert_eq!(filter.store.as_deref(), Some("DE"));
        assert_eq!(filter.email, None);
        let from = filter.created_from_micros.expect("from");
        assert_eq!(filter.created_to_micros, Some(from + MICROS_PER_DAY), "to is inclusive");
        let errors = filter_of(&query(&[("from", "yesterday"), ("to", "2026-13-01")])).expect_err("unreadable");
        assert!(errors.get("from").is_some() && errors.get("to").is_some());
    }

    #[test]
    fn events_go_to_the_chosen_items_that_can_take_them() {
        let manual: BTreeMap<i64, Vec<String>> = [
            (1, vec!["cancel".to_owned(), "pay".to_owned()]),
            (2, vec!["ship".to_owned()]),
            (3, vec!["pay".to_owned()]),
        ]
        .into();
        assert!(matches!(eligible_items("DE--1", &manual, "pay", None), Ok(items) if items == [1, 3]));
        assert!(matches!(eligible_items("DE--1", &manual, "pay", Some(&[3])), Ok(items) if items == [3]));
        assert!(matches!(
            eligible_items("DE--1", &manual, "pay", Some(&[2])),
            Err(Refusal::Shown(StatusCode::UNPROCESSABLE_ENTITY, message)) if message.contains("can take")
        ));
        assert!(matches!(
            eligible_items("DE--1", &manual, "pay", Some(&[9])),
            Err(Refusal::Shown(_, message)) if message == "Item 9 is not an item of order DE--1."
        ));
    }

    #[test]
    fn event_forms_name_an_event_and_items() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect()
        };
        assert_eq!(
            event_input(&pairs(&[("event", "pay"), ("items", "3"), ("items", "4")])),
            Ok(("pay".to_owned(), Some(vec![3, 4])))
        );
        assert_eq!(event_input(&pairs(&[("event", "pay")])), Ok(("pay".to_owned(), None)));
        assert!(event_input(&pairs(&[("items", "3")])).is_err());
        assert!(event_input(&pairs(&[("event", "pay"), ("items", "x")])).is_err());
    }
}
