//! Which rows a changed record points to, for routing its outbox row (see `SqlResource::foreign_keys`).
//! One small query per write; deletes read them before the row is gone.

use super::resource::ForeignKeys;
use super::storage_error;
use crate::entity::{
    category_node, price_product, product_category, product_concrete, stock_product, url, url_redirect,
};
use kontor_domain::DomainError;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

async fn abstract_of_concrete(transaction: &DatabaseTransaction, concrete_id: i64) -> Result<Option<i64>, DomainError> {
    let concrete = product_concrete::Entity::find_by_id(concrete_id)
        .one(transaction)
        .await
        .map_err(storage_error)?;
    Ok(concrete.map(|row| row.product_abstract_id))
}

pub(crate) async fn of_concrete(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    keys.add("fk_product_abstract", abstract_of_concrete(transaction, id).await?);
    Ok(keys)
}

pub(crate) async fn of_price(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    if let Some(price) = price_product::Entity::find_by_id(id)
        .one(transaction)
        .await
        .map_err(storage_error)?
    {
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
    if let Some(stock) = stock_product::Entity::find_by_id(id)
        .one(transaction)
        .await
        .map_err(storage_error)?
    {
        keys.add("fk_product_concrete", Some(stock.product_concrete_id));
        keys.add(
            "fk_product_abstract",
            abstract_of_concrete(transaction, stock.product_concrete_id).await?,
        );
    }
    Ok(keys)
}

pub(crate) async fn of_product_category(
    transaction: &DatabaseTransaction,
    id: i64,
) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    if let Some(link) = product_category::Entity::find_by_id(id)
        .one(transaction)
        .await
        .map_err(storage_error)?
    {
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
    let node_ids: Vec<i64> = nodes.iter().map(|node| node.id).collect();
    for node in nodes {
        keys.add("fk_category_node", Some(node.id));
        keys.add("fk_parent_category_node", node.parent_node_id);
    }
    for url_id in urls_of(transaction, url::Column::CategoryNodeId, &node_ids).await? {
        keys.add("fk_url", Some(url_id));
    }
    Ok(keys)
}

/// A product's or category node's URL rows and the redirect rows pointing at them, so that the URL
/// projection can rebuild (or tombstone) every key the change touches.
async fn urls_of(
    transaction: &DatabaseTransaction,
    owner: url::Column,
    owner_ids: &[i64],
) -> Result<Vec<i64>, DomainError> {
    if owner_ids.is_empty() {
        return Ok(Vec::new());
    }
    let own = url::Entity::find()
        .filter(owner.is_in(owner_ids.iter().copied()))
        .all(transaction)
        .await
        .map_err(storage_error)?;
    let paths: Vec<String> = own.iter().map(|row| row.url.clone()).collect();
    let mut ids: Vec<i64> = own.iter().map(|row| row.id).collect();
    if !paths.is_empty() {
        let redirects = url_redirect::Entity::find()
            .filter(url_redirect::Column::ToUrl.is_in(paths))
            .all(transaction)
            .await
            .map_err(storage_error)?;
        let redirect_ids: Vec<i64> = redirects.iter().map(|row| row.id).collect();
        if !redirect_ids.is_empty() {
            let redirected = url::Entity::find()
                .filter(url::Column::UrlRedirectId.is_in(redirect_ids))
                .all(transaction)
                .await
                .map_err(storage_error)?;
            ids.extend(redirected.iter().map(|row| row.id));
        }
    }
    Ok(ids)
}

pub(crate) async fn of_abstract(transaction: &DatabaseTransaction, id: i64) -> Result<ForeignKeys, DomainError> {
    let mut keys = ForeignKeys::default();
    for url_id in urls_of(transaction, url::Column::ProductAbstractId, &[id]).await? {
        keys.add("fk_url", Some(url_id));
    }
    Ok(keys)
}
