//! Categories and product-category assignments in SQL.
//!
//! Each category has exactly one main `category_node`, which places it in the tree: its parent is the
//! main node of the parent category, and it is a root when there is none. The node is updated in place,
//! never replaced, because child nodes and URLs reference it. The tree stays acyclic: a category cannot
//! move below itself.

use super::{
    UrlOwner, WantedUrl, current_urls, locale_names, locale_of, resolve_locales, resolve_stores, sorted_stores,
    store_names, sync_urls,
};
use crate::entity::{
    category, category_localized, category_node, category_store, product_abstract, product_category, url,
};
use crate::repo::resource::SqlResource;
use crate::repo::rows_in;
use crate::repo::store::in_id_order;
use crate::repo::{
    References, contains_ignoring_case, fail_on, group_by, insert_all, names_by_id, resolve, starts_with,
    storage_error, stored,
};
use kontor_core::Sku;
use kontor_domain::catalog::{CategoryAttributes, CategoryLocalized, ProductCategoryAttributes};
use kontor_domain::{DomainError, FieldError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The main node of each of these categories: `{category id → node}`, in one query.
async fn main_nodes<C: ConnectionTrait>(
    connection: &C,
    category_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, category_node::Model>, DomainError> {
    let nodes = category_node::Entity::find()
        .filter(category_node::Column::CategoryId.is_in(category_ids))
        .filter(category_node::Column::IsMain.eq(true))
        .all(connection)
        .await
        .map_err(storage_error)?;
    Ok(nodes.into_iter().map(|node| (node.category_id, node)).collect())
}

/// Whether `category_id` is `ancestor_node` or lies on the path from it up to its root, i.e. whether
/// hanging the category below that node would close a cycle. One query per level of the tree.
async fn is_on_path_to_root(
    transaction: &DatabaseTransaction,
    category_id: i64,
    ancestor_node: &category_node::Model,
) -> Result<bool, DomainError> {
    let mut visited = HashSet::new();
    let mut node = ancestor_node.clone();
    loop {
        if node.category_id == category_id {
            return Ok(true);
        }
        // A path that revisits a node is already a cycle in stored data; stop rather than loop forever.
        if !visited.insert(node.id) {
            return Ok(false);
        }
        let Some(parent_id) = node.parent_node_id else {
            return Ok(false);
        };
        let parent = category_node::Entity::find_by_id(parent_id)
            .one(transaction)
            .await
            .map_err(storage_error)?;
        let Some(parent) = parent else {
            return Ok(false);
        };
        node = parent;
    }
}

impl SqlResource for CategoryAttributes {
    type Entity = category::Entity;

    fn id_column() -> category::Column {
        category::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut errors = Vec::new();
        let mut parent_refs = References::default();
        if let Some(parent_key) = &attributes.parent_category_key {
            parent_refs.add("/parentCategoryKey", parent_key.as_str());
        }
        let parent_ids = resolve::<category::Entity, _>(
            transaction,
            category::Column::CategoryKey,
            category::Column::Id,
            &parent_refs,
            "category",
            &mut errors,
        )
        .await?;
        let store_ids = resolve_stores(transaction, &attributes.stores, &mut errors).await?;
        let locale_ids = resolve_locales(
            transaction,
            attributes
                .localized_attributes
                .keys()
                .map(|locale| (format!("/localizedAttributes/{locale}"), locale)),
            &mut errors,
        )
        .await?;
        let parent_id = attributes
            .parent_category_key
            .as_ref()
            .and_then(|key| parent_ids.get(key.as_str()).copied());
        let parent_node = match parent_id {
            Some(parent_id) => {
                let node = main_nodes(transaction, [parent_id]).await?.remove(&parent_id);
                let node =
                    node.ok_or_else(|| DomainError::Storage(format!("category {parent_id} has no main node")))?;
                Some(node)
            }
            None => None,
        };
        if let (Some(own_id), Some(parent_node)) = (id, &parent_node)
            && is_on_path_to_root(transaction, own_id, parent_node).await?
        {
            errors.push(FieldError::new(
                "/parentCategoryKey",
                "a category cannot move below itself or its descendants",
            ));
        }
        fail_on(errors)?;

        let row = category::ActiveModel {
            id: id.map_or(NotSet, Set),
            category_key: Set(attributes.category_key.clone()),
            is_active: Set(attributes.is_active),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let category_id = saved.map_err(storage_error)?.id;

        let existing_node = main_nodes(transaction, [category_id]).await?.remove(&category_id);
        let node = category_node::ActiveModel {
            id: existing_node.as_ref().map_or(NotSet, |node| Set(node.id)),
            category_id: Set(category_id),
            parent_node_id: Set(parent_node.as_ref().map(|node| node.id)),
            is_root: Set(parent_node.is_none()),
            is_main: Set(true),
            sort_order: Set(attributes.sort_order),
        };
        let saved_node = if existing_node.is_some() {
            node.update(transaction).await
        } else {
            node.insert(transaction).await
        };
        let node_id = saved_node.map_err(storage_error)?.id;

        category_localized::Entity::delete_many()
            .filter(category_localized::Column::CategoryId.eq(category_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let localized_rows =
            attributes
                .localized_attributes
                .iter()
                .map(|(locale, localized)| category_localized::ActiveModel {
                    id: NotSet,
                    category_id: Set(category_id),
                    locale_id: Set(locale_ids[locale.as_str()]),
                    name: Set(localized.name.trim().to_owned()),
                    meta_title: Set(localized.meta_title.clone()),
                    meta_description: Set(localized.meta_description.clone()),
                });
        insert_all(transaction, localized_rows.collect()).await?;

        category_store::Entity::delete_many()
            .filter(category_store::Column::CategoryId.eq(category_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let store_rows = attributes.stores.iter().map(|store| category_store::ActiveModel {
            category_id: Set(category_id),
            store_id: Set(store_ids[store.as_str()]),
        });
        insert_all(transaction, store_rows.collect()).await?;

        let wanted: Vec<WantedUrl> = attributes
            .localized_attributes
            .iter()
            .map(|(locale, localized)| WantedUrl {
                locale: locale.clone(),
                locale_id: locale_ids[locale.as_str()],
                url: localized.url.clone().unwrap_or_else(|| {
                    CategoryAttributes::generated_url(locale, &localized.name, &attributes.category_key)
                }),
            })
            .collect();
        sync_urls(transaction, UrlOwner::CategoryNode(node_id), &wanted, now).await?;
        Ok(category_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<category::Entity, _>(connection, category::Column::Id, ids).await?;
        let nodes = main_nodes(connection, ids.iter().copied()).await?;
        // Parent nodes are main nodes too, so their category ids lead to the parents' keys.
        let parent_nodes =
            categories_of_nodes(connection, nodes.values().filter_map(|node| node.parent_node_id)).await?;
        let parent_keys = names_by_id::<category::Entity, _>(
            connection,
            category::Column::Id,
            category::Column::CategoryKey,
            parent_nodes.values().copied(),
        )
        .await?;
        let localized =
            rows_in::<category_localized::Entity, _>(connection, category_localized::Column::CategoryId, ids).await?;
        let store_links =
            rows_in::<category_store::Entity, _>(connection, category_store::Column::CategoryId, ids).await?;
        let urls = current_urls(
            connection,
            url::Column::CategoryNodeId,
            |row| row.category_node_id,
            nodes.values().map(|node| node.id),
        )
        .await?;
        let locales = locale_names(connection, localized.iter().map(|row| row.locale_id)).await?;
        let stores = store_names(connection, store_links.iter().map(|link| link.store_id)).await?;
        let mut localized_by_category = group_by(localized, |row| row.category_id);
        let mut stores_by_category = group_by(store_links, |link| link.category_id);
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let node = nodes.get(&row.id);
                let node_id = node.map_or(0, |node| node.id);
                let parent_category_key = node
                    .and_then(|node| node.parent_node_id)
                    .and_then(|parent_node_id| parent_nodes.get(&parent_node_id))
                    .and_then(|parent_category_id| parent_keys.get(parent_category_id).cloned());
                let mut localized_attributes = BTreeMap::new();
                for text in localized_by_category.remove(&row.id).unwrap_or_default() {
                    let localized = CategoryLocalized {
                        name: text.name,
                        meta_title: text.meta_title,
                        meta_description: text.meta_description,
                        url: urls.get(&(node_id, text.locale_id)).cloned(),
                    };
                    localized_attributes.insert(locale_of(&locales, text.locale_id)?, localized);
                }
                let store_ids = stores_by_category
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|link| link.store_id);
                Ok(CategoryAttributes {
                    category_key: row.category_key,
                    parent_category_key,
                    is_active: row.is_active,
                    sort_order: node.map_or(0, |node| node.sort_order),
                    stores: sorted_stores(&stores, store_ids)?,
                    localized_attributes,
                })
            },
        )
    }

    async fn foreign_keys(
        transaction: &DatabaseTransaction,
        id: i64,
    ) -> Result<crate::repo::resource::ForeignKeys, DomainError> {
        crate::repo::foreign_keys::of_category(transaction, id).await
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            let named = category_localized::Entity::find()
                .select_only()
                .column(category_localized::Column::CategoryId)
                .filter(contains_ignoring_case(category_localized::Column::Name, name))
                .into_query();
            condition = condition.add(
                Condition::any()
                    .add(contains_ignoring_case(category::Column::CategoryKey, name))
                    .add(category::Column::Id.in_subquery(named)),
            );
        }
        condition
    }
}

/// The category of each of these nodes: `{node id → category id}`, in one query.
async fn categories_of_nodes<C: ConnectionTrait>(
    connection: &C,
    node_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, i64>, DomainError> {
    let node_ids: Vec<i64> = node_ids.into_iter().collect();
    if node_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let pairs: Vec<(i64, i64)> = category_node::Entity::find()
        .select_only()
        .column(category_node::Column::Id)
        .column(category_node::Column::CategoryId)
        .filter(category_node::Column::Id.is_in(node_ids))
        .into_tuple()
        .all(connection)
        .await
        .map_err(storage_error)?;
    Ok(pairs.into_iter().collect())
}

impl SqlResource for ProductCategoryAttributes {
    type Entity = product_category::Entity;

    fn id_column() -> product_category::Column {
        product_category::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut errors = Vec::new();
        let mut abstract_refs = References::default();
        abstract_refs.add("/abstractSku", attributes.abstract_sku.as_str());
        let abstract_ids = resolve::<product_abstract::Entity, _>(
            transaction,
            product_abstract::Column::Sku,
            product_abstract::Column::Id,
            &abstract_refs,
            "abstract product",
            &mut errors,
        )
        .await?;
        let mut category_refs = References::default();
        category_refs.add("/categoryKey", attributes.category_key.as_str());
        let category_ids = resolve::<category::Entity, _>(
            transaction,
            category::Column::CategoryKey,
            category::Column::Id,
            &category_refs,
            "category",
            &mut errors,
        )
        .await?;
        fail_on(errors)?;

        let row = product_category::ActiveModel {
            id: id.map_or(NotSet, Set),
            product_abstract_id: Set(abstract_ids[attributes.abstract_sku.as_str()]),
            category_id: Set(category_ids[attributes.category_key.as_str()]),
            sort_order: Set(attributes.sort_order),
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
        let rows = rows_in::<product_category::Entity, _>(connection, product_category::Column::Id, ids).await?;
        let skus = names_by_id::<product_abstract::Entity, _>(
            connection,
            product_abstract::Column::Id,
            product_abstract::Column::Sku,
            rows.iter().map(|row| row.product_abstract_id),
        )
        .await?;
        let keys = names_by_id::<category::Entity, _>(
            connection,
            category::Column::Id,
            category::Column::CategoryKey,
            rows.iter().map(|row| row.category_id),
        )
        .await?;
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let sku = skus.get(&row.product_abstract_id).map_or("", String::as_str);
                Ok(ProductCategoryAttributes {
                    abstract_sku: stored(Sku::parse(sku), "sku", sku)?,
                    category_key: keys.get(&row.category_id).cloned().unwrap_or_default(),
                    sort_order: row.sort_order,
                })
            },
        )
    }

    async fn foreign_keys(
        transaction: &DatabaseTransaction,
        id: i64,
    ) -> Result<crate::repo::resource::ForeignKeys, DomainError> {
        crate::repo::foreign_keys::of_product_category(transaction, id).await
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(sku) = &query.sku {
            let matching = product_abstract::Entity::find()
                .select_only()
                .column(product_abstract::Column::Id)
                .filter(starts_with(product_abstract::Column::Sku, sku))
                .into_query();
            condition = condition.add(product_category::Column::ProductAbstractId.in_subquery(matching));
        }
        condition
    }
}
