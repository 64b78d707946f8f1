//! `product_review.csv`: customer reviews of abstract products (Spryker's `product-review` data set).
//!
//! Columns: `customer_reference,abstract_product_sku,locale_name,nickname,summary,description,rating,
//! status`. The customer is kept by reference only (as Spryker does; the account need not exist here).
//! `rating` is a whole number from 1 to 5; `status` is `pending`, `approved` or `rejected` (empty:
//! pending); nickname and summary are required, at most 255 characters, the description optional.
//!
//! A review has no key of its own in the file, so a row is the same review as a stored one when
//! product, locale, customer, nickname, summary, description and rating all match — Spryker's writer
//! matches on the same fields. Re-importing a file therefore changes nothing; a changed status updates
//! the stored review. Each written review gets an outbox row carrying its product, so the product's
//! rating, review list and search page are re-published.

use super::config::lookup;
use super::required;
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_db::entity::{locale, product_abstract, product_review};
use kontor_domain::outbox::ChangeKind;
use kontor_domain::review::{MAX_DESCRIPTION, MAX_RATING, MAX_SHORT_TEXT, MIN_RATING, ReviewStatus};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use std::collections::{HashMap, HashSet};

/// The columns of `product_review.csv`, in Spryker's order (the generator writes them so).
pub(crate) const COLUMNS: &[&str] = &[
    "customer_reference",
    "abstract_product_sku",
    "locale_name",
    "nickname",
    "summary",
    "description",
    "rating",
    "status",
];

/// What makes two reviews the same review (everything but the status).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReviewKey {
    product_abstract_id: i64,
    locale_id: i64,
    customer_reference: String,
    nickname: String,
    summary: String,
    description: String,
    rating: i32,
}

impl ReviewKey {
    fn of(model: &product_review::Model) -> Self {
        Self {
            product_abstract_id: model.product_abstract_id,
            locale_id: model.locale_id,
            customer_reference: model.customer_reference.clone(),
            nickname: model.nickname.clone(),
            summary: model.summary.clone(),
            description: model.description.clone(),
            rating: model.rating,
        }
    }
}

pub(crate) struct ReviewRow {
    key: ReviewKey,
    status: ReviewStatus,
}

/// `product_review.csv`.
pub(crate) struct Reviews {
    abstracts: HashMap<String, i64>,
    locales: HashMap<String, i64>,
}

fn text<'r>(row: &'r RowView<'_>, column: &str, required_value: bool, max: usize) -> Result<&'r str, RowError> {
    let value = if required_value {
        required(row, column)?
    } else {
        row.value(column).unwrap_or("")
    };
    if value.chars().count() > max {
        return Err(RowError::new(column, format!("must be at most {max} characters long")));
    }
    Ok(value)
}

impl DataSet for Reviews {
    type Row = ReviewRow;
    const REQUIRED: &'static [&'static str] = &[
        "customer_reference",
        "abstract_product_sku",
        "locale_name",
        "nickname",
        "summary",
        "rating",
    ];
    const GROWS: &'static [&'static str] = &["product_review"];

    fn column_kind(column: &str) -> ColumnKind {
        if COLUMNS.contains(&column) {
            ColumnKind::Used
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            abstracts: name_map!(connection, product_abstract::Entity, sku),
            locales: name_map!(connection, locale::Entity, name),
        })
    }

    fn begin_pass(&mut self) {}

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<ReviewRow, RowError> {
        let customer_reference = text(row, "customer_reference", true, MAX_SHORT_TEXT)?;
        let sku = required(row, "abstract_product_sku")?;
        let product_abstract_id = lookup(&self.abstracts, "abstract_product_sku", "abstract product", sku)?;
        let locale_id = lookup(&self.locales, "locale_name", "locale", required(row, "locale_name")?)?;
        let nickname = text(row, "nickname", true, MAX_SHORT_TEXT)?;
        let summary = text(row, "summary", true, MAX_SHORT_TEXT)?;
        let description = text(row, "description", false, MAX_DESCRIPTION)?;
        let raw_rating = required(row, "rating")?;
        let rating = raw_rating
            .parse::<i64>()
            .ok()
            .filter(|rating| (MIN_RATING..=MAX_RATING).contains(rating))
            .ok_or_else(|| {
                RowError::new(
                    "rating",
                    format!("\"{raw_rating}\" is not a whole number from {MIN_RATING} to {MAX_RATING}"),
                )
            })?;
        let status = match row.value("status") {
            None => ReviewStatus::Pending,
            Some(raw) => ReviewStatus::parse(raw).ok_or_else(|| {
                RowError::new("status", format!("\"{raw}\" is not one of pending, approved, rejected"))
            })?,
        };
        Ok(ReviewRow {
            key: ReviewKey {
                product_abstract_id,
                locale_id,
                customer_reference: customer_reference.to_owned(),
                nickname: nickname.to_owned(),
                summary: summary.to_owned(),
                description: description.to_owned(),
                rating: i32::try_from(rating).unwrap_or_default(),
            },
            status,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<ReviewRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let product_ids: HashSet<i64> = rows.iter().map(|row| row.key.product_abstract_id).collect();
        let stored_reviews = |ids: Vec<i64>| {
            product_review::Entity::find()
                .filter(product_review::Column::ProductAbstractId.is_in(ids))
                .all(transaction)
        };
        let stored: HashMap<ReviewKey, product_review::Model> = stored_reviews(product_ids.iter().copied().collect())
            .await?
            .into_iter()
            .map(|model| (ReviewKey::of(&model), model))
            .collect();
        // The same review twice in a batch is one review; its last status wins.
        let mut wanted: Vec<(ReviewKey, ReviewStatus)> = Vec::new();
        let mut position: HashMap<ReviewKey, usize> = HashMap::new();
        for row in rows {
            match position.get(&row.key) {
                Some(&index) => {
                    wanted[index].1 = row.status;
                    batch.count(Outcome::Unchanged);
                }
                None => {
                    position.insert(row.key.clone(), wanted.len());
                    wanted.push((row.key, row.status));
                }
            }
        }
        let mut new_rows = Vec::new();
        for (key, status) in wanted {
            match stored.get(&key) {
                Some(found) if found.status == status.as_str() => batch.count(Outcome::Unchanged),
                Some(found) => {
                    let mut model: product_review::ActiveModel = found.clone().into();
                    model.status = Set(status.as_str().to_owned());
                    model.updated_at = Set(batch.now);
                    model.update(transaction).await?;
                    batch.touch(
                        "product_review",
                        found.id,
                        ChangeKind::Update,
                        &[("fk_product_abstract", found.product_abstract_id)],
                    );
                    batch.count(Outcome::Updated);
                }
                None => {
                    new_rows.push(product_review::ActiveModel {
                        id: NotSet,
                        product_abstract_id: Set(key.product_abstract_id),
                        locale_id: Set(key.locale_id),
                        customer_reference: Set(key.customer_reference),
                        nickname: Set(key.nickname),
                        summary: Set(key.summary),
                        description: Set(key.description),
                        rating: Set(key.rating),
                        status: Set(status.as_str().to_owned()),
                        created_at: Set(batch.now),
                        updated_at: Set(batch.now),
                    });
                    batch.count(Outcome::Inserted);
                }
            }
        }
        if new_rows.is_empty() {
            return Ok(());
        }
        let touched: Vec<i64> = new_rows
            .iter()
            .filter_map(|row| match &row.product_abstract_id {
                Set(id) => Some(*id),
                _ => None,
            })
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect();
        for chunk in new_rows.chunks(200) {
            product_review::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        // The new ids, for the outbox: every review of those products that was not stored before.
        let known: HashSet<i64> = stored.values().map(|model| model.id).collect();
        for created in stored_reviews(touched).await? {
            if !known.contains(&created.id) {
                batch.touch(
                    "product_review",
                    created.id,
                    ChangeKind::Create,
                    &[("fk_product_abstract", created.product_abstract_id)],
                );
            }
        }
        Ok(())
    }
}
