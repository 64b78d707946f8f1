//! Product popularity: the units of each abstract product ordered since a point in time, kept in
//! `product_abstract_popularity` for the search page's `popularity` sort.
//!
//! [`SqlDatabase::refresh_popularity`] recounts from the order items in one grouped query, writes only
//! the products whose count changed (new, different, or fallen out of the window) and records an outbox
//! row for each, so the search pages of exactly those products are re-published. Run daily by the
//! `catalog-refresh-popularity` job; a run that changes nothing publishes nothing.

use super::resource::ForeignKeys;
use super::{SqlDatabase, record_change, storage_error};
use crate::entity::orders::{sales_order, sales_order_item};
use crate::entity::{product_abstract, product_abstract_popularity};
use kontor_domain::DomainError;
use kontor_domain::outbox::ChangeKind;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect};
use std::collections::HashMap;

/// The outbox resource of a changed popularity row (routed to the product's search pages).
pub const POPULARITY_OUTBOX: &str = "product_abstract_popularity";

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PopularityRefresh {
    /// Products with orders in the window.
    pub products: u64,
    /// Products whose count changed (written and re-published), including those that dropped to none.
    pub changed: u64,
}

/// SKUs per lookup of product ids, well below every backend's bind-parameter limit.
const SKU_CHUNK: usize = 1_000;

impl SqlDatabase {
    /// Recounts the units ordered per abstract product in orders placed at or after `since` (epoch
    /// microseconds) and stores the counts that changed, with their outbox rows, in one transaction.
    pub async fn refresh_popularity(&self, since: i64) -> Result<PopularityRefresh, DomainError> {
        // Grouped by SKU and line quantity, so that every backend returns plain integer counts (a SUM is
        // a DECIMAL on MariaDB): a handful of rows per product.
        let lines: Vec<(String, i64, i64)> = sales_order_item::Entity::find()
            .select_only()
            .column(sales_order_item::Column::AbstractSku)
            .column(sales_order_item::Column::Quantity)
            .column_as(sales_order_item::Column::Id.count(), "lines")
            .join(
                JoinType::InnerJoin,
                sales_order_item::Entity::belongs_to(sales_order::Entity)
                    .from(sales_order_item::Column::OrderId)
                    .to(sales_order::Column::Id)
                    .into(),
            )
            .filter(sales_order::Column::CreatedAt.gte(since))
            .group_by(sales_order_item::Column::AbstractSku)
            .group_by(sales_order_item::Column::Quantity)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        let mut units_by_sku: HashMap<String, i64> = HashMap::new();
        for (sku, quantity, lines) in lines {
            let units = units_by_sku.entry(sku).or_default();
            *units = units.saturating_add(quantity.max(0).saturating_mul(lines));
        }
        let skus: Vec<String> = units_by_sku.keys().cloned().collect();
        let mut counted: HashMap<i64, i64> = HashMap::new();
        for chunk in skus.chunks(SKU_CHUNK) {
            let products: Vec<(i64, String)> = product_abstract::Entity::find()
                .select_only()
                .column(product_abstract::Column::Id)
                .column(product_abstract::Column::Sku)
                .filter(product_abstract::Column::Sku.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(storage_error)?;
            // Orders of products deleted since have no product to rank.
            for (id, sku) in products {
                if let Some(units) = units_by_sku.get(&sku).copied().filter(|units| *units > 0) {
                    counted.insert(id, units);
                }
            }
        }

        let (transaction, _turn) = self.write_transaction().await?;
        let now = self.now_micros();
        let stored: HashMap<i64, i64> = product_abstract_popularity::Entity::find()
            .all(&transaction)
            .await
            .map_err(storage_error)?
            .into_iter()
            .map(|row| (row.product_abstract_id, row.units_sold))
            .collect();
        let changed: Vec<(i64, i64)> = counted
            .iter()
            .filter(|(id, units)| stored.get(id) != Some(units))
            .map(|(id, units)| (*id, *units))
            .collect();
        let gone: Vec<i64> = stored.keys().filter(|id| !counted.contains_key(id)).copied().collect();
        for chunk in changed.chunks(500) {
            let rows = chunk
                .iter()
                .map(|(id, units)| product_abstract_popularity::ActiveModel {
                    product_abstract_id: Set(*id),
                    units_sold: Set(*units),
                    updated_at: Set(now),
                });
            product_abstract_popularity::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(product_abstract_popularity::Column::ProductAbstractId)
                        .update_columns([
                            product_abstract_popularity::Column::UnitsSold,
                            product_abstract_popularity::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&transaction)
                .await
                .map_err(storage_error)?;
        }
        for chunk in gone.chunks(500) {
            product_abstract_popularity::Entity::delete_many()
                .filter(product_abstract_popularity::Column::ProductAbstractId.is_in(chunk.iter().copied()))
                .exec(&transaction)
                .await
                .map_err(storage_error)?;
        }
        for id in changed.iter().map(|(id, _)| *id).chain(gone.iter().copied()) {
            let mut keys = ForeignKeys::default();
            keys.add("fk_product_abstract", Some(id));
            record_change(&transaction, POPULARITY_OUTBOX, id, ChangeKind::Update, &keys, now).await?;
        }
        transaction.commit().await.map_err(storage_error)?;
        Ok(PopularityRefresh {
            products: counted.len() as u64,
            changed: (changed.len() + gone.len()) as u64,
        })
    }
}
