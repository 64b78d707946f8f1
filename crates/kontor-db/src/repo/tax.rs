//! Tax sets in SQL: one `tax_set` row and one `tax_rate` row per country.
//!
//! Rates are stored as integer basis points (19.00 % → 1900) so that every backend compares and sums
//! them exactly; a write replaces all rates of the set, and they read back in input order.

use super::resource::SqlResource;
use super::rows_in;
use super::store::in_id_order;
use super::{contains_ignoring_case, group_by, insert_all, storage_error};
use crate::entity::{tax_rate, tax_set};
use kontor_domain::tax::{TaxRateAttributes, TaxSetAttributes};
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder,
};

impl SqlResource for TaxSetAttributes {
    type Entity = tax_set::Entity;

    fn id_column() -> tax_set::Column {
        tax_set::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let row = tax_set::ActiveModel {
            id: id.map_or(NotSet, Set),
            name: Set(attributes.name.trim().to_owned()),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let set_id = saved.map_err(storage_error)?.id;

        tax_rate::Entity::delete_many()
            .filter(tax_rate::Column::TaxSetId.eq(set_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        // Inserted in input order, so ordering by id on load gives that order back.
        let rate_rows = attributes.rates.iter().map(|rate| tax_rate::ActiveModel {
            id: NotSet,
            tax_set_id: Set(set_id),
            country: Set(rate.country.clone()),
            name: Set(rate.name.trim().to_owned()),
            rate_basis_points: Set(rate.basis_points()),
        });
        insert_all(transaction, rate_rows.collect()).await?;
        Ok(set_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<tax_set::Entity, _>(connection, tax_set::Column::Id, ids).await?;
        let rates = tax_rate::Entity::find()
            .filter(tax_rate::Column::TaxSetId.is_in(ids.iter().copied()))
            .order_by_asc(tax_rate::Column::Id)
            .all(connection)
            .await
            .map_err(storage_error)?;
        let mut rates_by_set = group_by(rates, |rate| rate.tax_set_id);
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let rates = rates_by_set
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|rate| TaxRateAttributes::from_basis_points(rate.country, rate.name, rate.rate_basis_points))
                    .collect();
                Ok(TaxSetAttributes { name: row.name, rates })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(contains_ignoring_case(tax_set::Column::Name, name));
        }
        condition
    }
}
