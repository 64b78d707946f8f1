//! Batched loaders shared by the projections. Each function issues a fixed number of queries for any
//! number of ids (chunked under the engines' parameter limits).

use crate::SyncError;
use kontor_db::SqlDatabase;
use kontor_db::entity::{
    category_node, currency, locale, price_product, price_type, product_abstract, product_abstract_localized,
    product_abstract_store, product_attribute_key, product_category, product_concrete, product_concrete_localized,
    stock_product, store, store_currency, store_locale, url, warehouse, warehouse_store,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap, HashSet};

pub(crate) const CHUNK: usize = 1000;

/// Runs `load` over `ids` in chunks and concatenates the rows.
macro_rules! in_chunks {
    ($ids:expr, |$chunk:ident| $load:expr) => {{
        let mut rows = Vec::new();
        for $chunk in $ids.chunks(crate::projections::snapshot::CHUNK) {
            rows.extend($load.await.map_err(SyncError::from_db)?);
        }
        rows
    }};
}
pub(crate) use in_chunks;

/// A store with what scopes documents: its locales and currencies.
#[derive(Debug, Clone)]
pub struct StoreScope {
    pub id: i64,
    pub name: String,
    pub default_locale: String,
    pub default_currency: String,
    /// (locale id, locale name), in the store's order.
    pub locales: Vec<(i64, String)>,
    /// (currency id, code), in the store's order.
    pub currencies: Vec<(i64, String)>,
    pub timezone: String,
    /// Warehouses that deliver to this store.
    pub warehouse_ids: HashSet<i64>,
}

/// The small, shop-wide tables every projection needs, loaded whole.
#[derive(Debug, Clone, Default)]
pub struct Shop {
    pub stores: Vec<StoreScope>,
    pub locale_names: HashMap<i64, String>,
    pub currency_codes: HashMap<i64, String>,
    pub price_types: HashMap<i64, String>,
    pub super_attributes: HashSet<String>,
}

impl Shop {
    pub async fn load(db: &SqlDatabase) -> Result<Self, SyncError> {
        let connection = db.connection();
        let locale_names: HashMap<i64, String> = locale::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect();
        let currency_codes: HashMap<i64, String> = currency::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| (row.id, row.code))
            .collect();
        let price_types = price_type::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect();
        let super_attributes = product_attribute_key::Entity::find()
            .filter(product_attribute_key::Column::IsSuper.eq(true))
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| row.key)
            .collect();
        let store_rows = store::Entity::find()
            .order_by_asc(store::Column::Id)
            .all(connection)
            .await
            .map_err(SyncError::from_db)?;
        let locale_links = store_locale::Entity::find()
            .order_by_asc(store_locale::Column::Position)
            .all(connection)
            .await
            .map_err(SyncError::from_db)?;
        let currency_links = store_currency::Entity::find()
            .order_by_asc(store_currency::Column::Position)
            .all(connection)
            .await
            .map_err(SyncError::from_db)?;
        let active_warehouses: HashSet<i64> = warehouse::Entity::find()
            .filter(warehouse::Column::IsActive.eq(true))
            .all(connection)
            .await
            .map_err(SyncError::from_db)?
            .into_iter()
            .map(|row| row.id)
            .collect();
        let warehouse_links = warehouse_store::Entity::find()
            .all(connection)
            .await
            .map_err(SyncError::from_db)?;
        let stores = store_rows
            .into_iter()
            .map(|row| StoreScope {
                id: row.id,
                default_locale: locale_names.get(&row.default_locale_id).cloned().unwrap_or_default(),
                default_currency: currency_codes
                    .get(&row.default_currency_id)
                    .cloned()
                    .unwrap_or_default(),
                locales: locale_links
                    .iter()
                    .filter(|link| link.store_id == row.id)
                    .filter_map(|link| {
                        locale_names
                            .get(&link.locale_id)
                            .map(|name| (link.locale_id, name.clone()))
                    })
                    .collect(),
                currencies: currency_links
                    .iter()
                    .filter(|link| link.store_id == row.id)
                    .filter_map(|link| {
                        currency_codes
                            .get(&link.currency_id)
                            .map(|code| (link.currency_id, code.clone()))
                    })
                    .collect(),
                warehouse_ids: warehouse_links
                    .iter()
                    .filter(|link| link.store_id == row.id && active_warehouses.contains(&link.warehouse_id))
                    .map(|link| link.warehouse_id)
                    .collect(),
                name: row.name,
                timezone: row.timezone,
            })
            .collect();
        Ok(Self {
            stores,
            locale_names,
            currency_codes,
            price_types,
            super_attributes,
        })
    }

    pub fn store(&self, id: i64) -> Option<&StoreScope> {
        self.stores.iter().find(|store| store.id == id)
    }

    /// Every locale used by any store, by id.
    pub fn used_locales(&self) -> BTreeMap<i64, String> {
        self.stores
            .iter()
            .flat_map(|store| store.locales.iter().cloned())
            .collect()
    }
}

/// An abstract product with everything its documents draw on.
#[derive(Debug, Clone)]
pub struct AbstractProduct {
    pub row: product_abstract::Model,
    pub localized: HashMap<i64, product_abstract_localized::Model>,
    pub store_ids: Vec<i64>,
    pub concretes: Vec<ConcreteProduct>,
    /// Category ids the product is assigned to, with the assignment's sort order.
    pub category_ids: Vec<i64>,
    /// Locale id → the product's URL in that locale.
    pub urls: HashMap<i64, String>,
}

#[derive(Debug, Clone)]
pub struct ConcreteProduct {
    pub row: product_concrete::Model,
    pub localized: HashMap<i64, product_concrete_localized::Model>,
}

pub async fn abstract_products(db: &SqlDatabase, ids: &[i64]) -> Result<Vec<AbstractProduct>, SyncError> {
    let connection = db.connection();
    let rows: Vec<product_abstract::Model> = in_chunks!(ids, |chunk| product_abstract::Entity::find()
        .filter(product_abstract::Column::Id.is_in(chunk.iter().copied()))
        .order_by_asc(product_abstract::Column::Id)
        .all(connection));
    let localized: Vec<product_abstract_localized::Model> =
        in_chunks!(ids, |chunk| product_abstract_localized::Entity::find()
            .filter(product_abstract_localized::Column::ProductAbstractId.is_in(chunk.iter().copied()))
            .all(connection));
    let store_links: Vec<product_abstract_store::Model> =
        in_chunks!(ids, |chunk| product_abstract_store::Entity::find()
            .filter(product_abstract_store::Column::ProductAbstractId.is_in(chunk.iter().copied()))
            .all(connection));
    let category_links: Vec<product_category::Model> = in_chunks!(ids, |chunk| product_category::Entity::find()
        .filter(product_category::Column::ProductAbstractId.is_in(chunk.iter().copied()))
        .order_by_asc(product_category::Column::SortOrder)
        .all(connection));
    let urls: Vec<url::Model> = in_chunks!(ids, |chunk| url::Entity::find()
        .filter(url::Column::ProductAbstractId.is_in(chunk.iter().copied()))
        .all(connection));
    let concrete_rows: Vec<product_concrete::Model> = in_chunks!(ids, |chunk| product_concrete::Entity::find()
        .filter(product_concrete::Column::ProductAbstractId.is_in(chunk.iter().copied()))
        .order_by_asc(product_concrete::Column::Id)
        .all(connection));
    let mut concretes_by_abstract: HashMap<i64, Vec<ConcreteProduct>> = HashMap::new();
    for concrete in concretes(db, concrete_rows).await? {
        concretes_by_abstract
            .entry(concrete.row.product_abstract_id)
            .or_default()
            .push(concrete);
    }
    let mut localized_by_abstract: HashMap<i64, HashMap<i64, product_abstract_localized::Model>> = HashMap::new();
    for row in localized {
        localized_by_abstract
            .entry(row.product_abstract_id)
            .or_default()
            .insert(row.locale_id, row);
    }
    // Grouped once, so attaching them is a lookup per product rather than a scan of every row.
    let mut stores_by_abstract: HashMap<i64, Vec<i64>> = HashMap::new();
    for link in store_links {
        stores_by_abstract
            .entry(link.product_abstract_id)
            .or_default()
            .push(link.store_id);
    }
    let mut categories_by_abstract: HashMap<i64, Vec<i64>> = HashMap::new();
    for link in category_links {
        categories_by_abstract
            .entry(link.product_abstract_id)
            .or_default()
            .push(link.category_id);
    }
    let mut urls_by_abstract: HashMap<i64, HashMap<i64, String>> = HashMap::new();
    for entry in urls {
        if let Some(owner) = entry.product_abstract_id {
            urls_by_abstract
                .entry(owner)
                .or_default()
                .insert(entry.locale_id, entry.url);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| AbstractProduct {
            localized: localized_by_abstract.remove(&row.id).unwrap_or_default(),
            store_ids: stores_by_abstract.remove(&row.id).unwrap_or_default(),
            concretes: concretes_by_abstract.remove(&row.id).unwrap_or_default(),
            category_ids: categories_by_abstract.remove(&row.id).unwrap_or_default(),
            urls: urls_by_abstract.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// Attaches localized rows to concrete products.
pub async fn concretes(
    db: &SqlDatabase,
    rows: Vec<product_concrete::Model>,
) -> Result<Vec<ConcreteProduct>, SyncError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let localized: Vec<product_concrete_localized::Model> =
        in_chunks!(ids, |chunk| product_concrete_localized::Entity::find()
            .filter(product_concrete_localized::Column::ProductConcreteId.is_in(chunk.iter().copied()))
            .all(db.connection()));
    let mut by_concrete: HashMap<i64, HashMap<i64, product_concrete_localized::Model>> = HashMap::new();
    for row in localized {
        by_concrete
            .entry(row.product_concrete_id)
            .or_default()
            .insert(row.locale_id, row);
    }
    Ok(rows
        .into_iter()
        .map(|row| ConcreteProduct {
            localized: by_concrete.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// Prices of these abstract products and of their concretes.
pub async fn prices_for(
    db: &SqlDatabase,
    abstract_ids: &[i64],
    concrete_ids: &[i64],
) -> Result<Vec<price_product::Model>, SyncError> {
    let connection = db.connection();
    let mut rows: Vec<price_product::Model> = in_chunks!(abstract_ids, |chunk| price_product::Entity::find()
        .filter(price_product::Column::ProductAbstractId.is_in(chunk.iter().copied()))
        .all(connection));
    rows.extend(in_chunks!(concrete_ids, |chunk| price_product::Entity::find()
        .filter(price_product::Column::ProductConcreteId.is_in(chunk.iter().copied()))
        .all(connection)));
    Ok(rows)
}

pub async fn stock_for(db: &SqlDatabase, concrete_ids: &[i64]) -> Result<Vec<stock_product::Model>, SyncError> {
    Ok(in_chunks!(concrete_ids, |chunk| stock_product::Entity::find()
        .filter(stock_product::Column::ProductConcreteId.is_in(chunk.iter().copied()))
        .all(db.connection())))
}

/// Units reserved by open orders: `(sku, store id) → quantity`.
pub async fn reservations_for(db: &SqlDatabase, skus: &[String]) -> Result<HashMap<(String, i64), i64>, SyncError> {
    use kontor_db::entity::orders::oms_product_reservation;
    let rows: Vec<oms_product_reservation::Model> = in_chunks!(skus, |chunk| oms_product_reservation::Entity::find()
        .filter(oms_product_reservation::Column::Sku.is_in(chunk.iter().cloned()))
        .all(db.connection()));
    Ok(rows
        .into_iter()
        .map(|row| ((row.sku, row.store_id), Ord::max(row.quantity, 0)))
        .collect())
}

/// Units ordered in the popularity window, by abstract id (products without orders are absent).
pub async fn popularity_for(db: &SqlDatabase, abstract_ids: &[i64]) -> Result<HashMap<i64, i64>, SyncError> {
    use kontor_db::entity::product_abstract_popularity;
    let rows: Vec<product_abstract_popularity::Model> = in_chunks!(abstract_ids, |chunk| {
        product_abstract_popularity::Entity::find()
            .filter(product_abstract_popularity::Column::ProductAbstractId.is_in(chunk.iter().copied()))
            .all(db.connection())
    });
    Ok(rows
        .into_iter()
        .map(|row| (row.product_abstract_id, row.units_sold))
        .collect())
}

/// Category id → (main node id, parent node id) for every category, to compute all-parents.
pub async fn category_nodes(db: &SqlDatabase) -> Result<Vec<category_node::Model>, SyncError> {
    category_node::Entity::find()
        .all(db.connection())
        .await
        .map_err(SyncError::from_db)
}

/// Ids of `E` above `after`, ascending, at most `limit`: the paging of a full re-publish.
pub async fn ids_after<E>(db: &SqlDatabase, id_column: E::Column, after: i64, limit: u64) -> Result<Vec<i64>, SyncError>
where
    E: EntityTrait,
{
    use sea_orm::QuerySelect;
    E::find()
        .select_only()
        .column(id_column)
        .filter(id_column.gt(after))
        .order_by_asc(id_column)
        .limit(limit)
        .into_tuple()
        .all(db.connection())
        .await
        .map_err(SyncError::from_db)
}

/// Decodes a JSON attribute map stored as text.
pub fn attribute_map(raw: &str) -> BTreeMap<String, String> {
    serde_json::from_str(raw).unwrap_or_default()
}
