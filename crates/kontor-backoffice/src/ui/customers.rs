//! Customers in the Back Office (customers.read): read-only; accounts are changed by their owners in
//! the shop.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/customers?q=&page=` | customers, newest first, searched by e-mail, name or reference |
//! | GET | `/backoffice/customers/{reference}` | one customer: profile, addresses and, for users with orders.read, orders |
//!
//! Anonymised (deleted) customers are neither listed nor found. The password hash never reaches a page.

use super::audit::Pager;
use super::orders::{OrderRow, not_found};
use super::{Layout, render};
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kontor_domain::DomainError;
use kontor_domain::acl::Permission;
use kontor_domain::checkout::OrderFilter;
use kontor_domain::customer::CustomerRecord;
use kontor_web::html::{CsrfToken, FormFields, Session};
use serde::Serialize;
use serde_json::json;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/customers", Permission::CustomersRead, list)
        .get("/backoffice/customers/{reference}", Permission::CustomersRead, show)
}

/// Customers per page of the list.
const PAGE_SIZE: u64 = 25;
/// Orders shown on a customer's page, newest first; the order list filtered by the customer has all.
const ORDERS_SHOWN: u64 = 20;

fn storage_error(error: DomainError) -> Response {
    kontor_web::AppError::from(error).into_response()
}

/// A customer as the pages show them: the profile, never the password hash.
#[derive(Debug, Serialize)]
struct CustomerView {
    reference: String,
    email: String,
    salutation: String,
    first_name: String,
    last_name: String,
    gender: Option<String>,
    date_of_birth: Option<String>,
    created_at: String,
}

impl From<&CustomerRecord> for CustomerView {
    fn from(customer: &CustomerRecord) -> Self {
        let profile = &customer.profile;
        Self {
            reference: customer.reference.clone(),
            email: profile.email.as_str().to_owned(),
            salutation: profile.salutation.clone(),
            first_name: profile.first_name.clone(),
            last_name: profile.last_name.clone(),
            gender: profile.gender.clone(),
            date_of_birth: profile.date_of_birth.clone(),
            created_at: customer.created_at.to_rfc3339(),
        }
    }
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
    let search = query.text("q");
    let requested = Pager::new(Pager::number_from(&query), PAGE_SIZE, 0);
    let found = state
        .customers
        .list_customers(
            Some(search.as_str()).filter(|search| !search.is_empty()),
            requested.offset(),
            PAGE_SIZE,
        )
        .await;
    let (customers, total) = match found {
        Ok(found) => found,
        Err(error) => return storage_error(error),
    };
    let rows: Vec<CustomerView> = customers.iter().map(CustomerView::from).collect();
    let base = format!(
        "/backoffice/customers?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &search)
            .finish()
    );
    let page = json!({
        "customers": rows,
        "pager": Pager::new(requested.number, PAGE_SIZE, total),
        "base": base,
        "values": {"q": search},
    });
    render(&state, StatusCode::OK, "backoffice/customers.html", &layout, page)
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
    let customer = match state.customers.find_customer_by_reference(&reference).await {
        Ok(Some(customer)) => customer,
        Ok(None) => return not_found(&state, &layout, format!("There is no customer {reference}.")),
        Err(error) => return storage_error(error),
    };
    let addresses = match state.customers.list_addresses(customer.id).await {
        Ok(addresses) => addresses,
        Err(error) => return storage_error(error),
    };
    // Orders are shown only to users who may read them, and only where this backend manages orders.
    let orders = match state
        .orders
        .as_deref()
        .filter(|_| principal.may(Permission::OrdersRead))
    {
        Some(admin) => {
            let filter = OrderFilter {
                customer_reference: Some(customer.reference.clone()),
                ..OrderFilter::default()
            };
            match admin.orders.list_orders(&filter, 0, ORDERS_SHOWN).await {
                Ok((orders, total)) => Some(json!({
                    "rows": orders.iter().map(OrderRow::from).collect::<Vec<_>>(),
                    "total": total,
                })),
                Err(error) => return kontor_web::AppError::internal(&error).into_response(),
            }
        }
        None => None,
    };
    let page = json!({
        "customer": CustomerView::from(&customer),
        "addresses": addresses,
        "orders": orders,
    });
    render(&state, StatusCode::OK, "backoffice/customers_show.html", &layout, page)
}
