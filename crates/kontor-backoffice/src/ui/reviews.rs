//! Product reviews in the Back Office: moderation (Spryker's ProductReviewGui).
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/reviews?status=&sku=&page=` | reviews of a status (pending by default), newest first |
//! | POST | `/backoffice/reviews/{id}` | `action=approve`, `reject` or `delete` (catalog.write) |
//!
//! Decisions go through the same service as the admin API, so an approval is validated, audited and
//! re-publishes the product's rating, review list and search page like any other write.

use super::audit::Pager;
use super::products::{not_found, storage_error, with_audit};
use super::{Layout, flash, render};
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use kontor_core::PageRequest;
use kontor_core::ids::ProductReviewId;
use kontor_domain::acl::Permission;
use kontor_domain::review::{MAX_RATING, ProductReviewAttributes, ReviewStatus};
use kontor_domain::{DomainError, ListQuery};
use kontor_web::html::{CsrfToken, FormFields, Session};
use serde_json::json;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/reviews", Permission::CatalogRead, list)
        .post("/backoffice/reviews/{id}", Permission::CatalogWrite, decide)
}

/// Reviews per page.
const PAGE_SIZE: u64 = 25;

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let status = ReviewStatus::parse(&query.text("status")).unwrap_or(ReviewStatus::Pending);
    let sku = query.text("sku");
    let requested = Pager::new(Pager::number_from(&query), PAGE_SIZE, 0);
    // Newest first: the last page of the id-ordered list, read backwards.
    let filter = ListQuery {
        sku: Some(sku.clone()).filter(|sku| !sku.is_empty()),
        status: Some(status.as_str().to_owned()),
        ..ListQuery::default()
    };
    let total = match state
        .product_reviews
        .list(&ListQuery {
            page: PageRequest::new(0, 1),
            ..filter.clone()
        })
        .await
    {
        Ok(page) => page.total,
        Err(error) => return storage_error(error),
    };
    let pager = Pager::new(requested.number, PAGE_SIZE, total);
    let end = total.saturating_sub(pager.offset());
    let start = end.saturating_sub(PAGE_SIZE);
    // A page past the end shows nothing (not the oldest review).
    let records = if end == 0 {
        Vec::new()
    } else {
        match state
            .product_reviews
            .list(&ListQuery {
                page: PageRequest::new(start, end - start),
                ..filter
            })
            .await
        {
            Ok(page) => page.items,
            Err(error) => return storage_error(error),
        }
    };
    let rows: Vec<serde_json::Value> = records
        .iter()
        .rev()
        .map(|record| {
            let review = &record.attributes;
            json!({
                "id": record.id.0,
                "sku": review.abstract_sku.as_str(),
                "locale": review.locale.as_str(),
                "customer_reference": review.customer_reference,
                "nickname": review.nickname,
                "summary": review.summary,
                "description": review.description,
                "rating": review.rating,
                "stars": stars(review.rating),
                "status": review.status.as_str(),
            })
        })
        .collect();
    let base = format!(
        "/backoffice/reviews?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", status.as_str())
            .append_pair("sku", &sku)
            .finish()
    );
    let body = json!({
        "reviews": rows,
        "pager": pager,
        "base": base,
        "statuses": ReviewStatus::ALL.map(ReviewStatus::as_str),
        "values": {"status": status.as_str(), "sku": sku},
    });
    render(&state, StatusCode::OK, "backoffice/reviews.html", &layout, body)
}

/// `★★★★☆` for 4.
fn stars(rating: i64) -> String {
    let filled = usize::try_from(rating.clamp(0, MAX_RATING)).unwrap_or(0);
    let empty = usize::try_from(MAX_RATING).unwrap_or(5) - filled;
    format!("{}{}", "★".repeat(filled), "☆".repeat(empty))
}

async fn decide(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
    Form(fields): Form<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let missing = || not_found(&state, &layout, format!("There is no review {raw_id}."));
    let Some(id) = raw_id.parse::<i64>().ok().filter(|id| *id > 0).map(ProductReviewId) else {
        return missing();
    };
    let back = format!("/backoffice/reviews?status={}", fields.text("back_status"));
    let action = fields.text("action");
    let status = match action.as_str() {
        "approve" => ReviewStatus::Approved,
        "reject" => ReviewStatus::Rejected,
        "delete" => {
            return match state.product_reviews.delete(id).await {
                Ok(()) => {
                    flash(&session, "success", format!("Review {id} is deleted."));
                    with_audit(Redirect::to(&back).into_response(), json!({"deleted": id.0}))
                }
                Err(DomainError::NotFound { .. }) => missing(),
                Err(error) => storage_error(error),
            };
        }
        other => {
            flash(&session, "error", format!("Unknown action \"{other}\"."));
            return Redirect::to(&back).into_response();
        }
    };
    let review = match state.product_reviews.get(id).await {
        Ok(review) => review,
        Err(DomainError::NotFound { .. }) => return missing(),
        Err(error) => return storage_error(error),
    };
    let before = review.attributes.status;
    let changed = ProductReviewAttributes {
        status,
        ..review.attributes
    };
    match state.product_reviews.update(id, changed).await {
        Ok(_) => {
            flash(&session, "success", format!("Review {id} is {}.", status.as_str()));
            with_audit(
                Redirect::to(&back).into_response(),
                json!({"status": {"from": before.as_str(), "to": status.as_str()}}),
            )
        }
        Err(error) => storage_error(error),
    }
}
