//! `product-reviews` below abstract products (Glue's ProductReviewsRestApi): the approved reviews
//! written in the request's locale, newest first, from the `product_review:<locale>:<id>` document;
//! one review by id; and `POST` for a signed-in customer, which the backend stores as pending (it is
//! listed once the Back Office approved it, hence 202 Accepted, as Glue answers).
//!
//! Paging: `page[offset]`/`page[limit]`, 10 per page unless asked (Glue's default for reviews).
//! `abstract-products?include=product-reviews` includes every published review of the locale.

use super::fetch::{Cacheable, KvReader};
use super::products::{ABSTRACT_PRODUCTS, abstract_part};
use super::query_of;
use crate::account::{attributes_of, unexpected};
use crate::auth::Customer;
use crate::context::{RequestContext, query_value};
use crate::document::{Document, Page, Resource};
use crate::state::StorefrontState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kontor_domain::gateway::{GatewayReply, GatewayRequest, ReviewCommand, ReviewInput};
use kontor_readmodel::key;
use kontor_readmodel::storage::{ProductReviewEntry, ProductReviewStorage, projection};
use kontor_web::error::ApiError;
use kontor_web::{AppError, ErrorCode, JsonApiRequest};
use serde_json::{Map, Value, json};

pub(crate) const PRODUCT_REVIEWS: &str = "product-reviews";
/// Reviews per page when `page[limit]` is not given (Glue's `DEFAULT_REVIEWS_PER_PAGE`).
const DEFAULT_REVIEWS_PER_PAGE: usize = 10;

/// `product_review:<locale>:<abstract id>`.
pub(crate) fn review_list_key(ctx: &RequestContext, abstract_id: i64) -> Option<String> {
    key(
        projection::PRODUCT_REVIEW,
        None,
        Some(&ctx.locale),
        Some(&abstract_id.to_string()),
    )
    .ok()
}

/// A review below its product: `<api>/abstract-products/{sku}/product-reviews/{id}`.
fn review_resource(ctx: &RequestContext, sku: &str, id: &str, attributes: Value) -> Resource {
    let link = format!("{}/{ABSTRACT_PRODUCTS}/{sku}/{PRODUCT_REVIEWS}/{id}", ctx.api_base);
    Resource::with_link(PRODUCT_REVIEWS, Some(id), attributes, Some(link))
}

pub(crate) fn entry_resource(ctx: &RequestContext, sku: &str, entry: &ProductReviewEntry) -> Resource {
    let attributes = json!({"rating": entry.rating, "nickname": entry.nickname, "summary": entry.summary,
                            "description": entry.description});
    review_resource(ctx, sku, &entry.id_product_review.to_string(), attributes)
}

fn review_not_found(id: &str) -> AppError {
    AppError::new(
        ErrorCode::ProductReviewNotFound,
        format!("Product review is not found: {id}."),
    )
}

/// `GET /abstract-products/{sku}/product-reviews`.
pub(crate) async fn list(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let query = query_of(&ctx);
    let mut page = Page::from_query(query, ErrorCode::InvalidParameter)?;
    if query_value(query, "page[limit]").is_none() {
        page.limit = DEFAULT_REVIEWS_PER_PAGE;
    }
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let (reviews, sku) = abstract_part::<ProductReviewStorage>(&mut reader, &ctx, &sku, review_list_key).await?;
    let reviews = reviews.map(|document| document.reviews).unwrap_or_default();
    let resources = reviews
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(|entry| entry_resource(&ctx, &sku, entry))
        .collect();
    let document = Document::many(resources).with_links(page.links(&ctx, reviews.len()));
    Ok(reader.respond(document, &ctx, &headers))
}

/// `GET /abstract-products/{sku}/product-reviews/{id}`: an approved review of this product in the
/// request's locale; any other id is 404 `302`.
pub(crate) async fn one(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path((sku, review_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let (reviews, sku) = abstract_part::<ProductReviewStorage>(&mut reader, &ctx, &sku, review_list_key).await?;
    let entry = reviews
        .iter()
        .flat_map(|document| document.reviews.iter())
        .find(|entry| entry.id_product_review.to_string() == review_id)
        .ok_or_else(|| review_not_found(&review_id))?;
    let document = Document::one(entry_resource(&ctx, &sku, entry));
    Ok(reader.respond(document, &ctx, &headers))
}

/// `POST /abstract-products/{sku}/product-reviews` (access token required): 202 with the pending review.
pub(crate) async fn submit(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(sku): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type(PRODUCT_REVIEWS)?;
    let review = parse_review(body.attributes)?;
    let command = ReviewCommand::Submit {
        customer_reference: customer.reference,
        locale: ctx.locale.clone(),
        abstract_sku: sku.clone(),
        review,
    };
    let reply = state.gateway.execute(GatewayRequest::Review(command)).await?;
    let GatewayReply::Review(view) = reply else {
        return Err(unexpected(&reply));
    };
    let resource = review_resource(&ctx, &sku, &view.id, attributes_of(&view, &["id"])?);
    Ok(Document::one(resource).respond(&ctx, &HeaderMap::new(), StatusCode::ACCEPTED))
}

/// `{"rating": 5, "nickname": "…", "summary": "…", "description": "…"}`; the rating may be an integer
/// or an integer string (Glue checks "numeric"), `description` may be left out. Type errors are 422 with
/// a pointer each; the backend checks ranges and lengths.
fn parse_review(attributes: Map<String, Value>) -> Result<ReviewInput, AppError> {
    let mut errors = Vec::new();
    let mut fail = |name: &str, detail: String| {
        errors.push(ApiError::new(ErrorCode::Unprocessable, detail).at_pointer(format!("/data/attributes/{name}")));
    };
    for name in attributes.keys() {
        if !matches!(name.as_str(), "rating" | "nickname" | "summary" | "description") {
            fail(name, format!("unknown attribute {name}"));
        }
    }
    let rating = match attributes.get("rating") {
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse::<i64>().ok(),
        None => {
            fail("rating", "rating is required".to_owned());
            Some(0)
        }
        Some(_) => None,
    }
    .unwrap_or_else(|| {
        fail("rating", "rating must be a whole number from 1 to 5".to_owned());
        0
    });
    let mut text = |name: &str, required: bool| match attributes.get(name) {
        Some(Value::String(text)) => Some(text.clone()),
        None | Some(Value::Null) if !required => None,
        None => {
            fail(name, format!("{name} is required"));
            None
        }
        Some(_) => {
            fail(name, format!("{name} must be a string"));
            None
        }
    };
    let nickname = text("nickname", true).unwrap_or_default();
    let summary = text("summary", true).unwrap_or_default();
    let description = text("description", false);
    if errors.is_empty() {
        Ok(ReviewInput {
            rating,
            nickname,
            summary,
            description,
        })
    } else {
        Err(AppError::many(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn ratings_are_integers_or_integer_strings() {
        let parsed =
            parse_review(attributes(json!({"rating": "4", "nickname": "Max", "summary": "Gut"}))).expect("parses");
        assert_eq!((parsed.rating, parsed.description), (4, None));
        let parsed = parse_review(attributes(
            json!({"rating": 5, "nickname": "Max", "summary": "Gut", "description": "Sehr gut"}),
        ))
        .expect("parses");
        assert_eq!(parsed.description.as_deref(), Some("Sehr gut"));
    }

    #[test]
    fn every_type_problem_is_reported_with_its_pointer() {
        let error =
            parse_review(attributes(json!({"rating": 4.5, "summary": 3, "colour": "red"}))).expect_err("rejected");
        let pointers: Vec<String> = error
            .errors()
            .iter()
            .filter_map(|error| match &error.source {
                Some(kontor_web::error::ErrorSource::Pointer(pointer)) => Some(pointer.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            pointers,
            [
                "/data/attributes/colour",
                "/data/attributes/rating",
                "/data/attributes/nickname",
                "/data/attributes/summary"
            ]
        );
    }
}
