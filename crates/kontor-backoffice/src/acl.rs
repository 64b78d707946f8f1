//! The Back Office ACL: every route of the admin API and of the Back Office UI names the permission it
//! needs, and no route can be added without one.
//!
//! Routes are registered through [`GuardedRouter`], which wraps each handler in [`require`]: the
//! signed-in [`Principal`] (put into the request by the API-token or the session middleware) must hold
//! the route's permission, else the answer is 403 and a `denied` entry goes to the audit log. Every
//! request that may change something (any method but GET and HEAD) is audited with its outcome after
//! the handler ran. The table of [`RouteRule`]s is what the ACL test walks: each rule is requested by
//! a user without its permission (403 + audit entry) and by one with it.

use crate::state::AdminState;
use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::header::ACCEPT;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use kontor_domain::acl::{AuditOutcome, AuditRepository, NewAuditEntry, Permission, PermissionSet};
use kontor_domain::users::User;
use kontor_web::{AppError, ErrorCode};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who is asking, with what they may do. Put into the request's extensions by authentication.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub permissions: PermissionSet,
}

impl Principal {
    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }
}

/// Where the guard appends audit entries; put into the request's extensions by authentication.
#[derive(Clone)]
pub struct AuditSink(pub Arc<dyn AuditRepository>);

/// Details a handler wants in the audit entry of its request (e.g. the changed fields), set as a
/// response extension. Secrets are stripped before they are stored.
#[derive(Debug, Clone)]
pub struct AuditDetail(pub serde_json::Value);

/// One guarded route: method, path pattern (axum syntax) and the permission it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: Method,
    pub path: String,
    pub permission: Permission,
}

/// A router whose every route carries a permission check. Build with [`route`](Self::route), then
/// [`into_parts`](Self::into_parts).
#[derive(Default)]
pub struct GuardedRouter {
    paths: BTreeMap<String, MethodRouter<AdminState>>,
    rules: Vec<RouteRule>,
}

impl GuardedRouter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method path` to `handler` for principals holding `permission`.
    pub fn route<H, T>(mut self, method: Method, path: impl Into<String>, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, AdminState>,
        T: 'static,
    {
        let path = path.into();
        let filter = MethodFilter::try_from(method.clone()).expect("Back Office routes use standard methods");
        let guarded = on(filter, handler).route_layer(axum::middleware::from_fn_with_state(permission, require));
        let entry = match self.paths.remove(&path) {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        self.paths.insert(path.clone(), entry);
        self.rules.push(RouteRule {
            method,
            path,
            permission,
        });
        self
    }

    pub fn get<H: Handler<T, AdminState>, T: 'static>(
        self,
        path: impl Into<String>,
        permission: Permission,
        handler: H,
    ) -> Self {
        self.route(Method::GET, path, permission, handler)
    }

    pub fn post<H: Handler<T, AdminState>, T: 'static>(
        self,
        path: impl Into<String>,
        permission: Permission,
        handler: H,
    ) -> Self {
        self.route(Method::POST, path, permission, handler)
    }

    pub fn merge(mut self, other: GuardedRouter) -> Self {
        for (path, method_router) in other.paths {
            let entry = match self.paths.remove(&path) {
                Some(existing) => existing.merge(method_router),
                None => method_router,
            };
            self.paths.insert(path, entry);
        }
        self.rules.extend(other.rules);
        self
    }

    /// The axum router and the rule table.
    pub fn into_parts(self) -> (Router<AdminState>, Vec<RouteRule>) {
        let router = self
            .paths
            .into_iter()
            .fold(Router::new(), |router, (path, method_router)| {
                router.route(&path, method_router)
            });
        (router, self.rules)
    }
}

/// The guard around every Back Office handler (see the module docs).
pub async fn require(State(permission): State<Permission>, request: Request, next: Next) -> Response {
    let principal = request.extensions().get::<Principal>().cloned();
    let sink = request.extensions().get::<AuditSink>().cloned();
    let wants_html = wants_html(&request);
    let Some(principal) = principal else {
        return if wants_html {
            axum::response::Redirect::to("/backoffice/login").into_response()
        } else {
            AppError::new(ErrorCode::MissingAccessToken, "sign in or send an API token").into_response()
        };
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if !principal.may(permission) {
        audit(
            sink.as_ref(),
            &principal,
            permission,
            &method,
            &path,
            AuditOutcome::Denied,
            serde_json::Value::Null,
        )
        .await;
        return forbidden(permission, wants_html);
    }
    let mut response = next.run(request).await;
    if !matches!(method, Method::GET | Method::HEAD) {
        let outcome = if response.status().is_success() || response.status().is_redirection() {
            AuditOutcome::Allowed
        } else {
            AuditOutcome::Failed
        };
        let detail = response
            .extensions_mut()
            .remove::<AuditDetail>()
            .map(|detail| detail.0)
            .unwrap_or(serde_json::Value::Null);
        audit(sink.as_ref(), &principal, permission, &method, &path, outcome, detail).await;
    }
    response
}

fn wants_html(request: &Request) -> bool {
    request.uri().path().starts_with("/backoffice")
        || request
            .headers()
            .get(ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

fn forbidden(permission: Permission, wants_html: bool) -> Response {
    let message = format!("this needs the permission {}", permission.as_str());
    if wants_html {
        let body = format!(
            "<!doctype html><html lang=\"en\"><title>Not allowed</title><link rel=\"stylesheet\" href=\"/assets/backoffice.css\">\
             <main class=\"denied\"><h1>Not allowed</h1><p>Your role does not allow this: {message}.</p>\
             <p><a href=\"/backoffice\">Back to the dashboard</a></p></main></html>"
        );
        (StatusCode::FORBIDDEN, Html(body)).into_response()
    } else {
        AppError::new(ErrorCode::Forbidden, message).into_response()
    }
}

/// Resource type and id of an admin path: `/admin/prices/12` → (`prices`, `12`),
/// `/backoffice/products/12/prices` → (`products`, `12`).
fn resource_of(path: &str) -> (Option<String>, Option<String>) {
    let mut segments = path.trim_start_matches('/').split('/').skip(1);
    let kind = segments.next().filter(|kind| !kind.is_empty()).map(str::to_owned);
    let id = segments.next().filter(|id| !id.is_empty()).map(str::to_owned);
    (kind, id)
}

async fn audit(
    sink: Option<&AuditSink>,
    principal: &Principal,
    permission: Permission,
    method: &Method,
    path: &str,
    outcome: AuditOutcome,
    detail: serde_json::Value,
) {
    let Some(sink) = sink else {
        tracing::error!(path, "no audit sink on a guarded route; the entry is lost");
        return;
    };
    let (resource_type, resource_id) = resource_of(path);
    let entry = NewAuditEntry {
        resource_type,
        resource_id,
        detail,
        ..NewAuditEntry::new(permission.as_str(), method.as_str(), path, outcome).by(&principal.user)
    };
    if let Err(error) = sink.0.append(&entry).await {
        tracing::error!(%error, path, "the audit log could not be written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_read_off_the_path() {
        assert_eq!(
            resource_of("/admin/prices/12"),
            (Some("prices".into()), Some("12".into()))
        );
        assert_eq!(resource_of("/backoffice/products"), (Some("products".into()), None));
        assert_eq!(resource_of("/backoffice"), (None, None));
    }
}
