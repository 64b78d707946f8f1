//! The Back Office HTML UI under `/backoffice` (issue 8): server-rendered pages from the theme's
//! `templates/backoffice/`, for signed-in Back Office users, every page and action behind the ACL.
//!
//! Sign-in is a session in the KV store (cookie `kontor_backoffice`), rate-limited per e-mail address
//! and client address, with a new session id on every sign-in. Each request of a signed-in user loads
//! the user and their permissions afresh, so a revoked role or a deactivated account takes effect at
//! once. Pages are registered through [`GuardedRouter`](crate::acl::GuardedRouter) like the admin API;
//! only sign-in, sign-out and the theme's assets are open.

pub mod audit;
pub mod categories;
pub mod customers;
pub mod dashboard;
pub mod imports;
pub mod login;
mod multipart;
pub mod orders;
pub mod products;
pub mod queues;
pub mod reviews;
pub mod scheduler;
pub mod users;
pub mod ws;

use crate::acl::{AuditSink, GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use kontor_core::ids::UserId;
use kontor_domain::acl::Permission;
use kontor_web::html::{CsrfProtection, CsrfToken, LoginThrottle, Session, SessionStore, Theme};
pub use kontor_web::html::{Flash, flash};
use serde::Serialize;
use std::sync::Arc;

/// What the UI needs besides the admin services.
pub struct UiKit {
    pub theme: Theme,
    pub sessions: SessionStore,
    pub csrf: CsrfProtection,
    /// Failed sign-ins per e-mail address and per client address.
    pub throttle: LoginThrottle,
    /// Live notifications for `/backoffice/ws` (new orders, import progress, records changed by others).
    pub notifier: Option<Arc<dyn kontor_notify::Notifier>>,
}

/// Session keys of the Back Office.
pub mod keys {
    /// The signed-in user's id.
    pub const USER: &str = "user_id";
    /// [`Flash`](kontor_web::html::Flash) shown once on the next page.
    pub const FLASH: &str = kontor_web::html::session::FLASH_KEY;
}

/// Every page of the UI with its permission; the ACL test walks this table. Page modules add theirs here.
pub fn page_routes() -> GuardedRouter {
    GuardedRouter::new()
        .merge(dashboard::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(queues::routes())
        .merge(scheduler::routes())
        .merge(products::routes())
        .merge(categories::routes())
        .merge(reviews::routes())
        .merge(orders::routes())
        .merge(customers::routes())
        .merge(imports::routes())
        // The live notifications' WebSocket, guarded like a page (dashboard.read).
        .merge(ws::routes())
}

/// The UI's router: open sign-in and assets, guarded pages, behind sessions and CSRF checks.
pub fn routes(state: &AdminState, kit: &Arc<UiKit>) -> Router<AdminState> {
    let (pages, _) = page_routes().into_parts();
    let pages = pages.route_layer(axum::middleware::from_fn_with_state(state.clone(), load_principal));
    Router::new()
        .merge(login::routes())
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            kit.csrf.clone(),
            CsrfProtection::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            kit.sessions.clone(),
            SessionStore::middleware,
        ))
        .merge(kontor_web::html::theme::assets_router(kit.theme.clone()))
        .route("/", axum::routing::get(|| async { Redirect::to("/backoffice") }))
}

/// The UI kit of a state built with one; UI routes are only mounted when it exists.
pub fn kit(state: &AdminState) -> &UiKit {
    state
        .ui
        .as_deref()
        .expect("UI routes are only mounted when the backend has a UI kit")
}

/// Turns the session's user into the request's [`Principal`] (user and permissions, read afresh).
/// A session of a deactivated or deleted user is ended.
async fn load_principal(
    State(state): State<AdminState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(user_id) = session.get::<i64>(keys::USER) {
        match state.acl.find_user(UserId(user_id)).await {
            Ok(Some(user)) if user.is_active => match state.acl.permissions_of(user.id).await {
                Ok(permissions) => {
                    request.extensions_mut().insert(Principal { user, permissions });
                }
                Err(error) => return kontor_web::AppError::from(error).into_response(),
            },
            Ok(_) => session.destroy(),
            Err(error) => return kontor_web::AppError::from(error).into_response(),
        }
    }
    request.extensions_mut().insert(AuditSink(state.audit.clone()));
    next.run(request).await
}

/// One entry of the navigation, shown only to users holding its permission.
#[derive(Debug, Serialize)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// The navigation: page, label, permission needed to see it.
pub const NAVIGATION: &[(&str, &str, Permission)] = &[
    ("/backoffice", "Dashboard", Permission::DashboardRead),
    ("/backoffice/products", "Products", Permission::CatalogRead),
    ("/backoffice/categories", "Categories", Permission::CatalogRead),
    ("/backoffice/reviews", "Reviews", Permission::CatalogRead),
    ("/backoffice/orders", "Orders", Permission::OrdersRead),
    ("/backoffice/customers", "Customers", Permission::CustomersRead),
    ("/backoffice/imports", "Imports", Permission::ImportsRun),
    ("/backoffice/queues", "Queues", Permission::QueuesRead),
    ("/backoffice/scheduler", "Scheduler", Permission::SchedulerRead),
    ("/backoffice/users", "Users & roles", Permission::UsersRead),
    ("/backoffice/audit", "Audit log", Permission::AuditRead),
];

/// What every template gets as `layout`.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub user_email: String,
    /// The user's permissions as strings, for templates that hide actions (`'catalog.write' in layout.permissions`).
    pub permissions: Vec<&'static str>,
    pub navigation: Vec<NavItem>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub path: String,
}

impl Layout {
    pub fn new(principal: &Principal, session: &Session, csrf: &CsrfToken, path: &str) -> Self {
        let navigation = NAVIGATION
            .iter()
            .filter(|(_, _, permission)| principal.may(*permission))
            .map(|(href, label, _)| NavItem {
                href,
                label,
                active: if *href == "/backoffice" {
                    path == *href
                } else {
                    path.starts_with(href)
                },
            })
            .collect();
        Self {
            user_email: principal.user.email.clone(),
            permissions: principal.permissions.iter().map(Permission::as_str).collect(),
            navigation,
            csrf: csrf.0.clone(),
            flash: session.take(keys::FLASH),
            path: path.to_owned(),
        }
    }
}

/// Renders `template` with `{layout, page}`.
pub fn render(
    state: &AdminState,
    status: StatusCode,
    template: &str,
    layout: &Layout,
    page: impl Serialize,
) -> Response {
    kit(state)
        .theme
        .page(status, template, serde_json::json!({"layout": layout, "page": page}))
}
