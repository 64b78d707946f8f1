//! Product reviews (Spryker's ProductReview): a customer rates an abstract product 1–5 with a nickname,
//! a summary and an optional text, in the locale they shop in.
//!
//! A review written in the storefront starts `pending` and is shown only once the Back Office approved
//! it; imported reviews carry their status. Only approved reviews count towards a product's average
//! rating and review count, which the storefront shows on products and sorts and filters the catalog by.
//! Reviews are an admin resource ([`crate::resource`]): the Back Office lists, approves (`PATCH
//! {"status": "approved"}`), rejects and deletes them; the storefront submits through the gateway
//! ([`ReviewService`]).

use crate::gateway::{GatewayError, GatewayReply, Rejection, ReviewCommand, ReviewInput, ReviewView};
use crate::resource::{Filter, Resource, ResourceRepository, Valid};
use crate::validate::Checks;
use crate::{DomainError, FieldError};
use kontor_core::ids::ProductReviewId;
use kontor_core::{LocaleName, Sku};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The lowest and highest rating (Spryker's `ProductReviewConfig::getMaximumRating()` is 5).
pub const MIN_RATING: i64 = 1;
pub const MAX_RATING: i64 = 5;
/// Nickname and summary are short texts (VARCHAR 255 in Spryker's validation).
pub const MAX_SHORT_TEXT: usize = 255;
/// The review text; Spryker stores TEXT, we bound it so one review cannot bloat a product's documents.
pub const MAX_DESCRIPTION: usize = 10_000;

/// Where a review stands in moderation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Written, not yet moderated: not shown, not counted.
    #[default]
    Pending,
    /// Shown in the storefront and counted in the product's rating.
    Approved,
    /// Kept for the record, never shown.
    Rejected,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 3] = [Self::Pending, Self::Approved, Self::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }
}

/// A review as the admin API reads and writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductReviewAttributes {
    /// The reviewed abstract product.
    #[schema(value_type = String, example = "100")]
    pub abstract_sku: Sku,
    /// The locale the review is written in; it is listed in that locale only.
    #[schema(value_type = String, example = "en_US")]
    pub locale: LocaleName,
    /// The reviewing customer's reference (as Spryker, not a foreign key: reviews outlive accounts).
    #[schema(example = "DE--1")]
    pub customer_reference: String,
    #[schema(example = "Maria")]
    pub nickname: String,
    #[schema(example = "Keeps the rain out")]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    /// 1 to 5.
    #[schema(example = 5)]
    pub rating: i64,
    #[serde(default)]
    pub status: ReviewStatus,
}

impl Resource for ProductReviewAttributes {
    const TYPE: &'static str = "product-reviews";
    const OUTBOX: &'static str = "product_review";
    const FILTERS: &'static [Filter] = &[Filter::Sku, Filter::Status];
    const STATUSES: &'static [&'static str] = &["pending", "approved", "rejected"];
    type Id = ProductReviewId;

    fn normalize(&mut self) {
        for text in [
            &mut self.customer_reference,
            &mut self.nickname,
            &mut self.summary,
            &mut self.description,
        ] {
            let trimmed = text.trim();
            if trimmed.len() != text.len() {
                *text = trimmed.to_owned();
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("/customerReference", &self.customer_reference, MAX_SHORT_TEXT);
        checks.text("/nickname", &self.nickname, MAX_SHORT_TEXT);
        checks.text("/summary", &self.summary, MAX_SHORT_TEXT);
        checks.optional_text("/description", Some(self.description.as_str()), MAX_DESCRIPTION);
        if !(MIN_RATING..=MAX_RATING).contains(&self.rating) {
            checks.fail(
                "/rating",
                format!("must be a whole number from {MIN_RATING} to {MAX_RATING}"),
            );
        }
        checks.finish()
    }
}

/// The average of approved ratings as the storefront shows it: one decimal (Spryker's storage value).
pub fn average_rating(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| ((sum as f64 / count as f64) * 10.0).round() / 10.0)
}

/// Storefront submissions: checks the input against Glue's rules, then stores a pending review.
#[derive(Clone)]
pub struct ReviewService {
    repository: Arc<dyn ResourceRepository<ProductReviewAttributes>>,
}

impl ReviewService {
    pub fn new(repository: Arc<dyn ResourceRepository<ProductReviewAttributes>>) -> Self {
        Self { repository }
    }

    pub async fn execute(&self, command: ReviewCommand) -> Result<GatewayReply, GatewayError> {
        match command {
            ReviewCommand::Submit {
                customer_reference,
                locale,
                abstract_sku,
                review,
            } => self
                .submit(customer_reference, locale, abstract_sku, review)
                .await
                .map(GatewayReply::Review),
        }
    }

    async fn submit(
        &self,
        customer_reference: String,
        locale: String,
        abstract_sku: String,
        review: ReviewInput,
    ) -> Result<ReviewView, GatewayError> {
        let not_found = || GatewayError::rejected("301", "Abstract product is not found.");
        let abstract_sku = Sku::parse(&abstract_sku).map_err(|_| not_found())?;
        let locale = LocaleName::parse(&locale)
            .map_err(|error| GatewayError::Internal(format!("storefront sent locale {locale:?}: {error}")))?;
        let attributes = ProductReviewAttributes {
            abstract_sku,
            locale,
            customer_reference,
            nickname: review.nickname,
            summary: review.summary,
            description: review.description.unwrap_or_default(),
            rating: review.rating,
            status: ReviewStatus::Pending,
        };
        let valid = Valid::new(attributes).map_err(rejections)?;
        let record = self.repository.create(&valid).await.map_err(|error| match error {
            DomainError::Validation(errors) if errors.iter().any(|error| error.pointer == "/abstractSku") => {
                not_found()
            }
            other => rejections(other),
        })?;
        Ok(ReviewView::of(record.id.0, &record.attributes))
    }
}

/// Field errors point into the storefront request (`/data/attributes/rating`) with Glue's code 901.
fn rejections(error: DomainError) -> GatewayError {
    match error {
        DomainError::Validation(errors) => GatewayError::Rejected(
            errors
                .into_iter()
                .map(|error| Rejection::new("901", error.detail).at(&format!("/data/attributes{}", error.pointer)))
                .collect(),
        ),
        DomainError::Storage(reason) => GatewayError::Internal(reason),
        other => GatewayError::Internal(other.to_string()),
    }
}

impl ReviewView {
    pub fn of(id: i64, attributes: &ProductReviewAttributes) -> Self {
        Self {
            id: id.to_string(),
            rating: attributes.rating,
            nickname: attributes.nickname.clone(),
            summary: attributes.summary.clone(),
            description: attributes.description.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review() -> ProductReviewAttributes {
        ProductReviewAttributes {
            abstract_sku: Sku::parse("100").expect("sku"),
            locale: LocaleName::parse("en_US").expect("locale"),
            customer_reference: "DE--1".into(),
            nickname: "Maria".into(),
            summary: "Keeps the rain out".into(),
            description: String::new(),
            rating: 5,
            status: ReviewStatus::Approved,
        }
    }

    #[test]
    fn every_broken_field_is_named() {
        let broken = ProductReviewAttributes {
            customer_reference: " ".into(),
            nickname: String::new(),
            summary: "x".repeat(256),
            description: "y".repeat(MAX_DESCRIPTION + 1),
            rating: 6,
            ..review()
        };
        let pointers: Vec<String> = broken.validate().into_iter().map(|error| error.pointer).collect();
        assert_eq!(
            pointers,
            ["/customerReference", "/nickname", "/summary", "/description", "/rating"]
        );
        assert!(review().validate().is_empty());
        assert_eq!(ProductReviewAttributes { rating: 0, ..review() }.validate().len(), 1);
    }

    #[test]
    fn statuses_read_as_spryker_writes_them() {
        assert_eq!(ReviewStatus::parse("approved"), Some(ReviewStatus::Approved));
        assert_eq!(ReviewStatus::parse("Approved"), None);
        let json: ProductReviewAttributes = serde_json::from_value(serde_json::json!({
            "abstractSku": "100", "locale": "de_DE", "customerReference": "DE--2", "nickname": "Max",
            "summary": "Gut", "rating": 4
        }))
        .expect("minimal review");
        assert_eq!(json.status, ReviewStatus::Pending);
        assert_eq!(json.description, "");
    }

    #[test]
    fn averages_have_one_decimal() {
        assert_eq!(average_rating(0, 0), None);
        assert_eq!(average_rating(14, 3), Some(4.7));
        assert_eq!(average_rating(9, 2), Some(4.5));
    }
}
