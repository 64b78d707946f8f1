//! Which rows a changed record points to, for routing its outbox row (see `SqlResource::foreign_keys`).
//! One small query per write; deletes read them before the row is gone.

use super::resource::ForeignKeys;
use super::storage_error;
use crate::entity::{category_node, price_product, product_category, product_concrete, stock_product};
use kontor_domain::DomainError;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

async fn abstract_of_concrete(transaction: &DatabaseTransaction, concrete_id: i64) -> Result<Option<i64>, DomainError> {
    let concrete = product_concrete::Entity::find_by_id(concrete_id).one(transaction).await.map_err(storage_error)?;
    Ok(concrete.map(|row| row.product_abstract_id))
}

pub(crate) async fn of_concrete(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    keys.add("fk_product_abstract", abstract_of_concrete(transaction, id).await?);
    Ok(keys)
}

pub(crate) async fn of_price(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    if let Some(price) = price_product::Entity::find_by_id(id).one(transaction).await.map_err(storage_error)? {
        keys.add("fk_product_concrete", price.product_concrete_id);
        let owner = match (price.product_abstract_id, price.product_concrete_id) {
            (Some(abstract_id), _) => Some(abstract_id),
            (None, Some(concrete_id)) => abstract_of_concrete(transaction, concrete_id).await?,
            (None, None) => None,
        };
        keys.add("fk_product_abstract", owner);
        // Abstract-level prices say so, so that only the abstract price document is rebuilt.
        if price.product_abstract_id.is_some() {
            keys.add("fk_price_product_abstract", owner);
        }
    }
    Ok(keys)
}

pub(crate) async fn of_stock(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    if let Some(stock) = stock_product::Entity::find_by_id(id).one(transaction).await.map_err(storage_error)? {
        keys.add("fk_product_concrete", Some(stock.product_concrete_id));
        keys.add("fk_product_abstract", abstract_of_concrete(transaction, stock.product_concrete_id).await?);
    }
    Ok(keys)
}

pub(crate) async fn of_product_category(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    if let Some(link) = product_category::Entity::find_by_id(id).one(transaction).await.map_err(storage_error)? {
        keys.add("fk_product_abstract", Some(link.product_abstract_id));
        keys.add("fk_category", Some(link.category_id));
    }
    Ok(keys)
}

pub(crate) async fn of_category(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    let nodes = category_node::Entity::find()
        .filter(category_node::Column::CategoryId.eq(id))
        .all(transaction)
        .await
        .map_err(storage_error)?;
    for node in nodes {
        keys.add("fk_category_node", Some(node.id));
        keys.add("fk_parent_category_node", node.parent_node_id);
    }
    Ok(keys)
}
