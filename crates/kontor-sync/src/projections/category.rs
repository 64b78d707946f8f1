//! Category documents: each node per store × locale (`category_node`, with parents and children) and the
//! whole tree per store × locale (`category_tree`). Categories are few, so both load the full tree.

use super::snapshot::Shop;
use super::{Document, Projection};
use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_db::entity::{category, category_localized, category_node, category_store, url};
use kontor_readmodel::key;
use kontor_readmodel::storage::{
    CategoryNodeRef, CategoryNodeStorage, CategoryTreeNode, CategoryTreeStorage, projection,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{HashMap, HashSet};

pub struct CategoryNodeProjection;
pub struct CategoryTreeProjection;

/// The tree documents have no entity of their own; they are stored under this entity id.
const TREE_ENTITY: i64 = 0;

struct Tree {
    nodes: Vec<category_node::Model>,
    categories: HashMap<i64, category::Model>,
    names: HashMap<(i64, i64), category_localized::Model>,
    stores: HashMap<i64, HashSet<i64>>,
    urls: HashMap<(i64, i64), String>,
}

impl Tree {
    async fn load(db: &SqlDatabase) -> Result<Self, SyncError> {
        let connection = db.connection();
        let nodes = category_node::Entity::find()
            .order_by_desc(category_node::Column::SortOrder)
            .order_by_asc(category_node::Column::Id)
            .all(connection)
            .await
            .map_err(SyncError::from_db)?;
        let categories = category::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let names = category_localized::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| ((row.category_id, row.locale_id), row))
            .collect();
        let mut stores: HashMap<i64, HashSet<i64>> = HashMap::new();
        for link in category_store::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
        {
            stores.entry(link.category_id).or_default().insert(link.store_id);
        }
        let urls = url::Entity::find()
            .filter(url::Column::CategoryNodeId.is_not_null())
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .filter_map(|row| row.category_node_id.map(|node| ((node, row.locale_id), row.url)))
            .collect();
        Ok(Self {
            nodes,
            categories,
            names,
            stores,
            urls,
        })
    }

    fn visible(&self, node: &category_node::Model, store_id: i64, locale_id: i64) -> bool {
        let active = self
            .categories
            .get(&node.category_id)
            .is_some_and(|category| category.is_active);
        let in_store = self
            .stores
            .get(&node.category_id)
            .is_some_and(|stores| stores.contains(&store_id));
        active && in_store && self.names.contains_key(&(node.category_id, locale_id))
    }

    fn reference(&self, node: &category_node::Model, locale_id: i64) -> CategoryNodeRef {
        CategoryNodeRef {
            node_id: node.id,
            name: self
                .names
                .get(&(node.category_id, locale_id))
                .map(|row| row.name.clone())
                .unwrap_or_default(),
            url: self.urls.get(&(node.id, locale_id)).cloned(),
        }
    }

    fn node(&self, id: i64) -> Option<&category_node::Model> {
        self.nodes.iter().find(|node| node.id == id)
    }

    fn subtree(&self, node: &category_node::Model, store_id: i64, locale_id: i64, depth: usize) -> CategoryTreeNode {
        let children = if depth > 64 {
            Vec::new()
        } else {
            self.nodes
                .iter()
                .filter(|child| child.parent_node_id == Some(node.id) && self.visible(child, store_id, locale_id))
                .map(|child| self.subtree(child, store_id, locale_id, depth + 1))
                .collect()
        };
        let reference = self.reference(node, locale_id);
        CategoryTreeNode {
            node_id: node.id,
            id_category: node.category_id,
            name: reference.name,
            url: reference.url,
            order: node.sort_order,
            children,
        }
    }
}

#[async_trait]
impl Projection for CategoryNodeProjection {
    fn name(&self) -> &'static str {
        projection::CATEGORY_NODE
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let tree = Tree::load(db).await?;
        let wanted: HashSet<i64> = ids.iter().copied().collect();
        let mut documents = Vec::new();
        for node in tree.nodes.iter().filter(|node| wanted.contains(&node.id)) {
            let Some(category) = tree.categories.get(&node.category_id) else {
                continue;
            };
            for store in &shop.stores {
                for (locale_id, locale_name) in &store.locales {
                    if !tree.visible(node, store.id, *locale_id) {
                        continue;
                    }
                    let mut parents = Vec::new();
                    let mut current = node.parent_node_id;
                    while let Some(parent) = current.and_then(|id| tree.node(id)) {
                        if parents.len() > 64 {
                            break;
                        }
                        parents.insert(0, tree.reference(parent, *locale_id));
                        current = parent.parent_node_id;
                    }
                    let children = tree
                        .nodes
                        .iter()
                        .filter(|child| {
                            child.parent_node_id == Some(node.id) && tree.visible(child, store.id, *locale_id)
                        })
                        .map(|child| tree.reference(child, *locale_id))
                        .collect();
                    let localized = &tree.names[&(node.category_id, *locale_id)];
                    let document = CategoryNodeStorage {
                        node_id: node.id,
                        id_category: node.category_id,
                        category_key: category.category_key.clone(),
                        name: localized.name.clone(),
                        url: tree.urls.get(&(node.id, *locale_id)).cloned(),
                        meta_title: localized.meta_title.clone(),
                        meta_description: localized.meta_description.clone(),
                        order: node.sort_order,
                        is_active: category.is_active,
                        parents,
                        children,
                    };
                    documents.push(Document {
                        key: key(
                            self.name(),
                            Some(&store.name),
                            Some(locale_name),
                            Some(&node.id.to_string()),
                        )
                        .map_err(|error| SyncError::Document(error.to_string()))?,
                        entity_id: node.id,
                        store: Some(store.name.clone()),
                        locale: Some(locale_name.clone()),
                        data: serde_json::to_value(document).map_err(SyncError::json)?,
                    });
                }
            }
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        super::snapshot::ids_after::<category_node::Entity>(db, category_node::Column::Id, after, limit).await
    }
}

#[async_trait]
impl Projection for CategoryTreeProjection {
    fn name(&self) -> &'static str {
        projection::CATEGORY_TREE
    }

    /// Any change rebuilds every store's tree: they are small and a rename can touch all of them.
    async fn build(&self, db: &SqlDatabase, _ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let tree = Tree::load(db).await?;
        let mut documents = Vec::new();
        for store in &shop.stores {
            for (locale_id, locale_name) in &store.locales {
                let roots = tree
                    .nodes
                    .iter()
                    .filter(|node| node.parent_node_id.is_none() && tree.visible(node, store.id, *locale_id))
                    .map(|node| tree.subtree(node, store.id, *locale_id, 0))
                    .collect();
                let document = CategoryTreeStorage {
                    category_nodes_storage: roots,
                };
                documents.push(Document {
                    key: key(self.name(), Some(&store.name), Some(locale_name), None)
                        .map_err(|error| SyncError::Document(error.to_string()))?,
                    entity_id: TREE_ENTITY,
                    store: Some(store.name.clone()),
                    locale: Some(locale_name.clone()),
                    data: serde_json::to_value(document).map_err(SyncError::json)?,
                });
            }
        }
        Ok(documents)
    }

    async fn ids_after(&self, _db: &SqlDatabase, after: i64, _limit: u64) -> Result<Vec<i64>, SyncError> {
        Ok(if after < TREE_ENTITY {
            vec![TREE_ENTITY]
        } else {
            Vec::new()
        })
    }
}
