//! Review documents: `product_abstract_review:<abstract id>` (average rating and count, Spryker's
//! ProductReviewStorage) and `product_review:<locale>:<abstract id>` (the approved reviews written in
//! the locale, newest first), both keyed by the abstract product.
//!
//! Only approved reviews are published. A product whose last approved review was rejected or deleted
//! builds no document, so the publisher tombstones what the storefront showed.

use super::snapshot::in_chunks;
use super::{Document, Projection};
use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_db::entity::{locale, product_review};
use kontor_domain::review::{ReviewStatus, average_rating};
use kontor_readmodel::key;
use kontor_readmodel::storage::{
    MAX_PUBLISHED_REVIEWS, ProductAbstractReviewStorage, ProductReviewEntry, ProductReviewStorage, projection,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeMap, HashMap};

pub struct ProductAbstractReviewProjection;
pub struct ProductReviewProjection;

/// Approved ratings of these abstract products: id → (sum of ratings, number of reviews).
pub async fn rating_totals(db: &SqlDatabase, abstract_ids: &[i64]) -> Result<HashMap<i64, (i64, i64)>, SyncError> {
    // Grouped by product and rating value, so every backend returns plain integer counts (a SUM is a
    // DECIMAL on MariaDB): at most five rows per product.
    let rows: Vec<(i64, i32, i64)> = in_chunks!(abstract_ids, |chunk| product_review::Entity::find()
        .select_only()
        .column(product_review::Column::ProductAbstractId)
        .column(product_review::Column::Rating)
        .column_as(product_review::Column::Id.count(), "reviews")
        .filter(product_review::Column::ProductAbstractId.is_in(chunk.iter().copied()))
        .filter(product_review::Column::Status.eq(ReviewStatus::Approved.as_str()))
        .group_by(product_review::Column::ProductAbstractId)
        .group_by(product_review::Column::Rating)
        .into_tuple::<(i64, i32, i64)>()
        .all(db.connection()));
    let mut totals: HashMap<i64, (i64, i64)> = HashMap::new();
    for (abstract_id, rating, reviews) in rows {
        let total = totals.entry(abstract_id).or_default();
        total.0 = total.0.saturating_add(i64::from(rating).saturating_mul(reviews));
        total.1 = total.1.saturating_add(reviews);
    }
    Ok(totals)
}

/// Abstract ids above `after` that have reviews of any status, ascending: a full re-publish visits
/// those that may have documents, and builds nothing for the others.
async fn reviewed_ids_after(db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
    product_review::Entity::find()
        .select_only()
        .column(product_review::Column::ProductAbstractId)
        .distinct()
        .filter(product_review::Column::ProductAbstractId.gt(after))
        .order_by_asc(product_review::Column::ProductAbstractId)
        .limit(limit)
        .into_tuple()
        .all(db.connection())
        .await
        .map_err(SyncError::from_db)
}

fn document_key(resource: &str, locale: Option<&str>, id: i64) -> Result<String, SyncError> {
    key(resource, None, locale, Some(&id.to_string())).map_err(|error| SyncError::Document(error.to_string()))
}

#[async_trait]
impl Projection for ProductAbstractReviewProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_ABSTRACT_REVIEW
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let totals = rating_totals(db, ids).await?;
        let mut documents = Vec::new();
        for id in ids {
            let Some(&(sum, count)) = totals.get(id) else {
                continue;
            };
            let Some(average) = average_rating(sum, count) else {
                continue;
            };
            let document = ProductAbstractReviewStorage {
                id_product_abstract: *id,
                average_rating: average,
                review_count: count,
            };
            documents.push(Document {
                key: document_key(self.name(), None, *id)?,
                entity_id: *id,
                store: None,
                locale: None,
                data: serde_json::to_value(document).map_err(SyncError::json)?,
            });
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        reviewed_ids_after(db, after, limit).await
    }
}

#[async_trait]
impl Projection for ProductReviewProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_REVIEW
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let reviews: Vec<product_review::Model> = in_chunks!(ids, |chunk| product_review::Entity::find()
            .filter(product_review::Column::ProductAbstractId.is_in(chunk.iter().copied()))
            .filter(product_review::Column::Status.eq(ReviewStatus::Approved.as_str()))
            .order_by_desc(product_review::Column::CreatedAt)
            .order_by_desc(product_review::Column::Id)
            .all(db.connection()));
        if reviews.is_empty() {
            return Ok(Vec::new());
        }
        let locales: HashMap<i64, String> = locale::Entity::find()
            .all(db.connection())
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect();
        // Chunks were each in date order; merge them back into one order before grouping.
        let mut reviews = reviews;
        reviews.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let mut grouped: BTreeMap<(i64, i64), Vec<ProductReviewEntry>> = BTreeMap::new();
        for review in reviews {
            let entries = grouped
                .entry((review.product_abstract_id, review.locale_id))
                .or_default();
            if entries.len() < MAX_PUBLISHED_REVIEWS {
                entries.push(ProductReviewEntry {
                    id_product_review: review.id,
                    rating: i64::from(review.rating),
                    nickname: review.nickname,
                    summary: review.summary,
                    description: review.description,
                    created_at: review.created_at.div_euclid(1_000_000),
                });
            }
        }
        let mut documents = Vec::new();
        for ((abstract_id, locale_id), entries) in grouped {
            let Some(locale_name) = locales.get(&locale_id) else {
                continue;
            };
            let document = ProductReviewStorage {
                id_product_abstract: abstract_id,
                reviews: entries,
            };
            documents.push(Document {
                key: document_key(self.name(), Some(locale_name), abstract_id)?,
                entity_id: abstract_id,
                store: None,
                locale: Some(locale_name.clone()),
                data: serde_json::to_value(document).map_err(SyncError::json)?,
            });
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        reviewed_ids_after(db, after, limit).await
    }
}
