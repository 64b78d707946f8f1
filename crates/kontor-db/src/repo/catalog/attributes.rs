//! Product attribute keys in SQL: the declared keys every attribute map of a product must use.

use crate::entity::product_attribute_key;
use crate::repo::resource::SqlResource;
use crate::repo::rows_in;
use crate::repo::store::in_id_order;
use crate::repo::{contains_ignoring_case, storage_error};
use kontor_domain::catalog::AttributeKeyAttributes;
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, Condition, ConnectionTrait, DatabaseTransaction};

impl SqlResource for AttributeKeyAttributes {
    type Entity = product_attribute_key::Entity;

    fn id_column() -> product_attribute_key::Column {
        product_attribute_key::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        _now: i64,
    ) -> Result<i64, DomainError> {
        let row = product_attribute_key::ActiveModel {
            id: id.map_or(NotSet, Set),
            key: Set(attributes.key.clone()),
            is_super: Set(attributes.is_super),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        Ok(saved.map_err(storage_error)?.id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows =
            rows_in::<product_attribute_key::Entity, _>(connection, product_attribute_key::Column::Id, ids).await?;
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                Ok(AttributeKeyAttributes {
                    key: row.key,
                    is_super: row.is_super,
                })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(contains_ignoring_case(product_attribute_key::Column::Key, name));
        }
        condition
    }
}
