//! `GET /backoffice/audit` (audit.read): the audit log, newest first, filtered by user, outcome,
//! resource type and a date range, fifty entries a page. Also home of [`Pager`], the page navigation
//! every paged Back Office list hands to the `pager` macro.
//!
//! Filters come from the query string, so a filtered page can be bookmarked and works without
//! JavaScript. A filter that cannot be read (an unknown outcome, a date that is not `YYYY-MM-DD`) is
//! shown next to its field and nothing is listed, rather than silently listing everything.

use super::{Layout, render};
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use kontor_core::ids::UserId;
use kontor_domain::acl::{AuditEntry, AuditFilter, AuditOutcome, Permission};
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::Serialize;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new().get("/backoffice/audit", Permission::AuditRead, list)
}

/// Entries per page.
const PAGE_SIZE: u64 = 50;
/// Users offered in the user filter; Back Office teams are far smaller, and a bookmarked `user=<id>`
/// works beyond it.
const USERS_IN_FILTER: u64 = 500;
/// The query parameters that make up the filter (everything but `page`).
const FILTER_FIELDS: [&str; 5] = ["user", "outcome", "resource", "from", "to"];

/// The navigation of a paged list, as the `pager` macro reads it (`number`, `pages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pager {
    /// The current page, from 1.
    pub number: u64,
    /// At least 1, so an empty list still has its one (empty) page.
    pub pages: u64,
    pub total: u64,
    pub size: u64,
}

impl Pager {
    pub fn new(number: u64, size: u64, total: u64) -> Self {
        let size = size.max(1);
        Self {
            number: number.max(1),
            pages: total.div_ceil(size).max(1),
            total,
            size,
        }
    }

    /// The `page` query parameter; missing or unreadable is page 1.
    pub fn number_from(fields: &FormFields) -> u64 {
        fields
            .text("page")
            .parse()
            .ok()
            .filter(|number| *number > 0)
            .unwrap_or(1)
    }

    /// How many entries precede this page.
    pub fn offset(&self) -> u64 {
        (self.number - 1).saturating_mul(self.size)
    }
}

/// One row of the log as the template shows it.
#[derive(Debug, Serialize)]
struct EntryView {
    id: i64,
    at: String,
    user: Option<String>,
    action: String,
    method: String,
    target: String,
    resource: Option<String>,
    outcome: &'static str,
    /// Compact JSON, empty when there is none.
    detail: String,
}

impl From<AuditEntry> for EntryView {
    fn from(entry: AuditEntry) -> Self {
        let resource = match (entry.resource_type, entry.resource_id) {
            (Some(kind), Some(id)) => Some(format!("{kind} {id}")),
            (Some(kind), None) => Some(kind),
            _ => None,
        };
        Self {
            id: entry.id.0,
            at: entry.at.to_rfc3339(),
            user: entry.user_email,
            action: entry.action,
            method: entry.method,
            target: entry.target,
            resource,
            outcome: entry.outcome.as_str(),
            detail: if entry.detail.is_null() {
                String::new()
            } else {
                entry.detail.to_string()
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct UserChoice {
    id: i64,
    email: String,
}

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(fields): Query<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let users: Vec<UserChoice> = match state.acl.list_users(0, USERS_IN_FILTER).await {
        Ok((users, _)) => users
            .into_iter()
            .map(|listed| UserChoice {
                id: listed.user.id.0,
                email: listed.user.email,
            })
            .collect(),
        Err(error) => return kontor_web::AppError::from(error).into_response(),
    };
    let (filter, errors) = parse_filter(&fields);
    let outcomes = [AuditOutcome::Allowed, AuditOutcome::Denied, AuditOutcome::Failed].map(AuditOutcome::as_str);
    let base = base_link(&fields);
    if !errors.is_empty() {
        let page = serde_json::json!({
            "entries": [], "pager": Pager::new(1, PAGE_SIZE, 0), "base": base, "users": users,
            "outcomes": outcomes, "values": fields.echo(), "errors": errors,
        });
        return render(&state, StatusCode::BAD_REQUEST, "backoffice/audit.html", &layout, page);
    }
    let requested = Pager::new(Pager::number_from(&fields), PAGE_SIZE, 0);
    let (entries, total) = match state.audit.list(&filter, requested.offset(), PAGE_SIZE).await {
        Ok(found) => found,
        Err(error) => return kontor_web::AppError::from(error).into_response(),
    };
    let entries: Vec<EntryView> = entries.into_iter().map(EntryView::from).collect();
    let page = serde_json::json!({
        "entries": entries, "pager": Pager::new(requested.number, PAGE_SIZE, total), "base": base,
        "users": users, "outcomes": outcomes, "values": fields.echo(), "errors": errors,
    });
    render(&state, StatusCode::OK, "backoffice/audit.html", &layout, page)
}

/// The repository filter of the query's fields, and a message per field that cannot be read.
fn parse_filter(fields: &FormFields) -> (AuditFilter, FormErrors) {
    let mut filter = AuditFilter::default();
    let mut errors = FormErrors::new();
    let user = fields.text("user");
    if !user.is_empty() {
        match user.parse::<i64>() {
            Ok(id) => filter.user_id = Some(UserId(id)),
            Err(_) => errors.add("user", "Choose a user from the list."),
        }
    }
    let outcome = fields.text("outcome");
    if !outcome.is_empty() {
        match outcome.parse::<AuditOutcome>() {
            Ok(parsed) => filter.outcome = Some(parsed),
            Err(_) => errors.add("outcome", "Choose allowed, denied or failed."),
        }
    }
    let resource = fields.text("resource");
    if !resource.is_empty() {
        filter.resource_type = Some(resource);
    }
    filter.from = read_day(fields, "from", &mut errors);
    // The form's "to" day is inclusive; the filter's bound is exclusive: the next midnight.
    filter.to = read_day(fields, "to", &mut errors).map(|day| day + chrono::Duration::days(1));
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        errors.add("to", "The end date must not be before the start date.");
    }
    (filter, errors)
}

/// Midnight (UTC) of the `YYYY-MM-DD` day in `name`, if given.
fn read_day(fields: &FormFields, name: &str, errors: &mut FormErrors) -> Option<DateTime<Utc>> {
    let text = fields.text(name);
    if text.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(day) => day.and_hms_opt(0, 0, 0).map(|midnight| midnight.and_utc()),
        Err(_) => {
            errors.add(name, "Enter a date as YYYY-MM-DD.");
            None
        }
    }
}

/// The list's address with the current filter and no page, for the pager's links.
fn base_link(fields: &FormFields) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for name in FILTER_FIELDS {
        let value = fields.text(name);
        if !value.is_empty() {
            query.append_pair(name, &value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        "/backoffice/audit".to_owned()
    } else {
        format!("/backoffice/audit?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> FormFields {
        FormFields(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn pages_are_counted_from_one() {
        assert_eq!(Pager::new(1, 50, 0).pages, 1);
        assert_eq!(Pager::new(3, 50, 101).pages, 3);
        assert_eq!(Pager::new(3, 50, 101).offset(), 100);
        assert_eq!(Pager::number_from(&fields(&[("page", "0")])), 1);
        assert_eq!(Pager::number_from(&fields(&[("page", "x")])), 1);
        assert_eq!(Pager::number_from(&fields(&[("page", "4")])), 4);
    }

    #[test]
    fn the_filter_is_read_with_an_inclusive_end_day() {
        let (filter, errors) = parse_filter(&fields(&[
            ("user", "7"),
            ("outcome", "denied"),
            ("resource", "prices"),
            ("from", "2026-11-01"),
            ("to", "2026-11-01"),
        ]));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(filter.user_id, Some(UserId(7)));
        assert_eq!(filter.outcome, Some(AuditOutcome::Denied));
        assert_eq!(filter.resource_type.as_deref(), Some("prices"));
        assert_eq!(
            filter.to.zip(filter.from).map(|(to, from)| to - from),
            Some(chrono::Duration::days(1))
        );
        let (_, errors) = parse_filter(&fields(&[("outcome", "maybe"), ("from", "1.11.2026"), ("user", "me")]));
        assert!(errors.get("outcome").is_some() && errors.get("from").is_some() && errors.get("user").is_some());
        let (_, errors) = parse_filter(&fields(&[("from", "2026-11-02"), ("to", "2026-11-01")]));
        assert!(errors.get("to").is_some());
    }

    #[test]
    fn pager_links_keep_the_filter() {
        assert_eq!(base_link(&fields(&[("page", "2")])), "/backoffice/audit");
        assert_eq!(
            base_link(&fields(&[("outcome", "denied"), ("resource", "a b"), ("page", "2")])),
            "/backoffice/audit?outcome=denied&resource=a+b"
        );
    }
}
