//! Product reviews in SQL: one `product_review` row each, pointing to its product and locale by id.
//!
//! The outbox row of a review carries `fk_product_abstract` (before and after a move), so the rating,
//! the review list and the search page of every product it touched are re-published.

use super::resource::{ForeignKeys, SqlResource};
use super::rows_in;
use super::store::in_id_order;
use super::{fail_on, names_by_id, resolve_one, starts_with, storage_error, stored};
use crate::entity::{locale, product_abstract, product_review};
use kontor_core::{LocaleName, Sku};
use kontor_domain::review::{ProductReviewAttributes, ReviewStatus};
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait,
};

impl SqlResource for ProductReviewAttributes {
    type Entity = product_review::Entity;

    fn id_column() -> product_review::Column {
        product_review::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut errors = Vec::new();
        let product_abstract_id = resolve_one::<product_abstract::Entity, _>(
            transaction,
            product_abstract::Column::Sku,
            product_abstract::Column::Id,
            "/abstractSku",
            attributes.abstract_sku.as_str(),
            "abstract product",
            &mut errors,
        )
        .await?;
        let locale_id = resolve_one::<locale::Entity, _>(
            transaction,
            locale::Column::Name,
            locale::Column::Id,
            "/locale",
            attributes.locale.as_str(),
            "locale",
            &mut errors,
        )
        .await?;
        fail_on(errors)?;
        let (Some(product_abstract_id), Some(locale_id)) = (product_abstract_id, locale_id) else {
            return Err(DomainError::field("/abstractSku", "the product or locale vanished"));
        };
        let row = product_review::ActiveModel {
            id: id.map_or(NotSet, Set),
            product_abstract_id: Set(product_abstract_id),
            locale_id: Set(locale_id),
            customer_reference: Set(attributes.customer_reference.clone()),
            nickname: Set(attributes.nickname.clone()),
            summary: Set(attributes.summary.clone()),
            description: Set(attributes.description.clone()),
            // Validation keeps it within 1–5.
            rating: Set(i32::try_from(attributes.rating).unwrap_or_default()),
            status: Set(attributes.status.as_str().to_owned()),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        Ok(saved.map_err(storage_error)?.id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<product_review::Entity, _>(connection, product_review::Column::Id, ids).await?;
        let skus = names_by_id::<product_abstract::Entity, _>(
            connection,
            product_abstract::Column::Id,
            product_abstract::Column::Sku,
            rows.iter().map(|row| row.product_abstract_id),
        )
        .await?;
        let locales = names_by_id::<locale::Entity, _>(
            connection,
            locale::Column::Id,
            locale::Column::Name,
            rows.iter().map(|row| row.locale_id),
        )
        .await?;
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let sku = skus.get(&row.product_abstract_id).map_or("", String::as_str);
                let locale = locales.get(&row.locale_id).map_or("", String::as_str);
                Ok(ProductReviewAttributes {
                    abstract_sku: stored(Sku::parse(sku), "sku", sku)?,
                    locale: stored(LocaleName::parse(locale), "locale", locale)?,
                    customer_reference: row.customer_reference,
                    nickname: row.nickname,
                    summary: row.summary,
                    description: row.description,
                    rating: i64::from(row.rating),
                    status: ReviewStatus::parse(&row.status).ok_or_else(|| {
                        DomainError::Storage(format!("product review {} has status {:?}", row.id, row.status))
                    })?,
                })
            },
        )
    }

    async fn foreign_keys(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
        let mut keys = ForeignKeys::default();
        let review = product_review::Entity::find_by_id(id)
            .one(transaction)
            .await
            .map_err(storage_error)?;
        keys.add("fk_product_abstract", review.map(|row| row.product_abstract_id));
        Ok(keys)
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(sku) = &query.sku {
            let product_ids = product_abstract::Entity::find()
                .select_only()
                .column(product_abstract::Column::Id)
                .filter(starts_with(product_abstract::Column::Sku, sku))
                .into_query();
            condition = condition.add(product_review::Column::ProductAbstractId.in_subquery(product_ids));
        }
        if let Some(status) = &query.status {
            condition = condition.add(product_review::Column::Status.eq(status.as_str()));
        }
        condition
    }
}
