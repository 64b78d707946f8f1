//! Product documents: `product_abstract` (store × locale, with the variant map), `product_concrete`
//! (locale) and the `product_page` search document (store × locale).

use super::snapshot::{self, AbstractProduct, Shop, in_chunks};
use super::{Document, Projection};
use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_db::entity::{product_abstract, product_concrete};
use kontor_readmodel::storage::{
    AttributeMap, GROSS_MODE, NET_MODE, ProductAbstractStorage, ProductConcreteStorage, VariantRef, projection,
};
use kontor_readmodel::{key, mapping_key};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct ProductAbstractProjection;
pub struct ProductConcreteProjection;
pub struct ProductPageProjection;

async fn abstract_ids_after(db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
    super::snapshot::ids_after::<product_abstract::Entity>(db, product_abstract::Column::Id, after, limit).await
}

fn build_key(resource: &str, store: Option<&str>, locale: Option<&str>, reference: &str) -> Result<String, SyncError> {
    key(resource, store, locale, Some(reference)).map_err(|error| SyncError::Document(error.to_string()))
}

fn sku_mapping(resource: &str, document: &Document) -> Vec<(String, Value)> {
    let Some(sku) = document.data.get("sku").and_then(Value::as_str) else {
        return Vec::new();
    };
    mapping_key(
        resource,
        document.store.as_deref(),
        document.locale.as_deref(),
        "sku",
        sku,
    )
    .map(|mapping| vec![(mapping, json!({"id": document.entity_id}))])
    .unwrap_or_default()
}

/// Shared attributes overlaid with the localized ones.
fn merged_attributes(shared: &str, localized: Option<&str>) -> BTreeMap<String, String> {
    let mut attributes = snapshot::attribute_map(shared);
    if let Some(localized) = localized {
        attributes.extend(snapshot::attribute_map(localized));
    }
    attributes
}

/// Which super attribute values lead to which active concrete.
fn attribute_map(product: &AbstractProduct, shop: &Shop) -> (Vec<String>, AttributeMap) {
    let mut map = AttributeMap::default();
    let mut definition = BTreeSet::new();
    for concrete in product.concretes.iter().filter(|concrete| concrete.row.is_active) {
        map.product_concrete_ids.push(concrete.row.id);
        let attributes = snapshot::attribute_map(&concrete.row.attributes);
        let supers: Vec<(&String, &String)> = attributes
            .iter()
            .filter(|(name, _)| shop.super_attributes.contains(*name))
            .collect();
        for (name, value) in &supers {
            definition.insert((*name).clone());
            let values = map.super_attributes.entry((*name).clone()).or_default();
            if !values.contains(value) {
                values.push((*value).clone());
            }
            map.attribute_variants
                .entry(format!("{name}:{value}"))
                .or_insert(VariantRef {
                    id_product_concrete: concrete.row.id,
                });
        }
        if supers.len() > 1 {
            let combination = supers
                .iter()
                .map(|(name, value)| format!("{name}:{value}"))
                .collect::<Vec<_>>()
                .join("|");
            map.attribute_variants.insert(
                combination,
                VariantRef {
                    id_product_concrete: concrete.row.id,
                },
            );
        }
    }
    for values in map.super_attributes.values_mut() {
        values.sort();
    }
    (definition.into_iter().collect(), map)
}

/// Main category node id → its parent node, for computing every ancestor.
struct CategoryIndex {
    node_of_category: HashMap<i64, i64>,
    parent_of_node: HashMap<i64, i64>,
}

impl CategoryIndex {
    async fn load(db: &SqlDatabase) -> Result<Self, SyncError> {
        let nodes = snapshot::category_nodes(db).await?;
        Ok(Self {
            node_of_category: nodes
                .iter()
                .filter(|node| node.is_main)
                .map(|node| (node.category_id, node.id))
                .collect(),
            parent_of_node: nodes
                .iter()
                .filter_map(|node| node.parent_node_id.map(|parent| (node.id, parent)))
                .collect(),
        })
    }

    /// (direct node ids, all node ids including ancestors) of these categories.
    fn parents(&self, category_ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
        let direct: Vec<i64> = category_ids
            .iter()
            .filter_map(|id| self.node_of_category.get(id).copied())
            .collect();
        let mut all = BTreeSet::new();
        for node in &direct {
            let mut current = Some(*node);
            // The depth bound guards against a cycle someone wrote into the database by hand.
            for _ in 0..64 {
                let Some(node) = current else { break };
                if !all.insert(node) {
                    break;
                }
                current = self.parent_of_node.get(&node).copied();
            }
        }
        (direct, all.into_iter().collect())
    }
}

#[async_trait]
impl Projection for ProductAbstractProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_ABSTRACT
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let categories = CategoryIndex::load(db).await?;
        let products = snapshot::abstract_products(db, ids).await?;
        let mut documents = Vec::new();
        for product in &products {
            let (super_attributes_definition, attribute_map) = attribute_map(product, &shop);
            let (direct_nodes, _) = categories.parents(&product.category_ids);
            // The document depends on the locale, not the store: built once per locale and copied to every
            // store that sells in it.
            let mut by_locale: HashMap<i64, Value> = HashMap::new();
            for store in product.store_ids.iter().filter_map(|id| shop.store(*id)) {
                for (locale_id, locale_name) in &store.locales {
                    let Some(localized) = product.localized.get(locale_id) else {
                        continue;
                    };
                    let data = match by_locale.entry(*locale_id) {
                        Entry::Occupied(built) => built.get().clone(),
                        Entry::Vacant(slot) => {
                            let document = ProductAbstractStorage {
                                id_product_abstract: product.row.id,
                                sku: product.row.sku.clone(),
                                name: localized.name.clone(),
                                description: localized.description.clone(),
                                url: product.urls.get(locale_id).cloned(),
                                meta_title: localized.meta_title.clone(),
                                meta_keywords: localized.meta_keywords.clone(),
                                meta_description: localized.meta_description.clone(),
                                attributes: merged_attributes(&product.row.attributes, Some(&localized.attributes)),
                                super_attributes_definition: super_attributes_definition.clone(),
                                attribute_map: attribute_map.clone(),
                                category_node_ids: direct_nodes.clone(),
                            };
                            slot.insert(serde_json::to_value(document).map_err(SyncError::json)?)
                                .clone()
                        }
                    };
                    documents.push(Document {
                        key: build_key(
                            self.name(),
                            Some(&store.name),
                            Some(locale_name),
                            &product.row.id.to_string(),
                        )?,
                        entity_id: product.row.id,
                        store: Some(store.name.clone()),
                        locale: Some(locale_name.clone()),
                        data,
                    });
                }
            }
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        abstract_ids_after(db, after, limit).await
    }

    fn mappings(&self, document: &Document) -> Vec<(String, Value)> {
        sku_mapping(self.name(), document)
    }
}

#[async_trait]
impl Projection for ProductConcreteProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_CONCRETE
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let rows: Vec<product_concrete::Model> = in_chunks!(ids, |chunk| product_concrete::Entity::find()
            .filter(product_concrete::Column::Id.is_in(chunk.iter().copied()))
            .all(db.connection()));
        let abstract_ids: Vec<i64> = rows
            .iter()
            .map(|row| row.product_abstract_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let abstracts: HashMap<i64, AbstractProduct> = snapshot::abstract_products(db, &abstract_ids)
            .await?
            .into_iter()
            .map(|product| (product.row.id, product))
            .collect();
        let concretes = snapshot::concretes(db, rows).await?;
        let mut documents = Vec::new();
        for concrete in concretes {
            let Some(product) = abstracts.get(&concrete.row.product_abstract_id) else {
                continue;
            };
            let (super_attributes_definition, _) = attribute_map(product, &shop);
            let locales: BTreeMap<i64, String> = product
                .store_ids
                .iter()
                .filter_map(|id| shop.store(*id))
                .flat_map(|store| store.locales.iter().cloned())
                .collect();
            for (locale_id, locale_name) in locales {
                let own = concrete.localized.get(&locale_id);
                let inherited = product.localized.get(&locale_id);
                let Some(name) = own
                    .map(|row| row.name.clone())
                    .or_else(|| inherited.map(|row| row.name.clone()))
                else {
                    continue;
                };
                let mut attributes =
                    merged_attributes(&product.row.attributes, inherited.map(|row| row.attributes.as_str()));
                attributes.extend(merged_attributes(
                    &concrete.row.attributes,
                    own.map(|row| row.attributes.as_str()),
                ));
                let document = ProductConcreteStorage {
                    id_product_concrete: concrete.row.id,
                    id_product_abstract: product.row.id,
                    sku: concrete.row.sku.clone(),
                    abstract_sku: product.row.sku.clone(),
                    name,
                    description: own
                        .map(|row| row.description.clone())
                        .filter(|text| !text.is_empty())
                        .or_else(|| inherited.map(|row| row.description.clone()))
                        .unwrap_or_default(),
                    attributes,
                    super_attributes_definition: super_attributes_definition.clone(),
                    is_active: concrete.row.is_active,
                    is_searchable: own.is_none_or(|row| row.is_searchable),
                };
                documents.push(Document {
                    key: build_key(self.name(), None, Some(&locale_name), &concrete.row.id.to_string())?,
                    entity_id: concrete.row.id,
                    store: None,
                    locale: Some(locale_name.clone()),
                    data: serde_json::to_value(document).map_err(SyncError::json)?,
                });
            }
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        super::snapshot::ids_after::<product_concrete::Entity>(db, product_concrete::Column::Id, after, limit).await
    }

    fn mappings(&self, document: &Document) -> Vec<(String, Value)> {
        sku_mapping(self.name(), document)
    }
}

/// The locale-dependent parts of a search document: value facets from the abstract's and the searchable
/// variants' attributes, full text and boosted full text.
struct PageTexts {
    facets: BTreeMap<String, BTreeSet<String>>,
    full_text: Vec<String>,
    boosted: Vec<String>,
}

impl PageTexts {
    fn build(
        product: &AbstractProduct,
        active: &[&snapshot::ConcreteProduct],
        locale_id: i64,
        localized: &kontor_db::entity::product_abstract_localized::Model,
    ) -> Self {
        let attributes = merged_attributes(&product.row.attributes, Some(&localized.attributes));
        let mut facets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, value) in &attributes {
            facets.entry(name.clone()).or_default().insert(value.clone());
        }
        let mut full_text = vec![localized.description.clone()];
        let mut boosted = vec![localized.name.clone(), product.row.sku.clone()];
        for concrete in active {
            boosted.push(concrete.row.sku.clone());
            let concrete_localized = concrete.localized.get(&locale_id);
            if concrete_localized.is_some_and(|row| !row.is_searchable) {
                continue;
            }
            let variant_attributes = merged_attributes(
                &concrete.row.attributes,
                concrete_localized.map(|row| row.attributes.as_str()),
            );
            for (name, value) in variant_attributes {
                facets.entry(name).or_default().insert(value);
            }
            if let Some(row) = concrete_localized {
                full_text.push(row.name.clone());
            }
        }
        full_text.extend(attributes.into_values());
        full_text.retain(|text| !text.is_empty());
        Self {
            facets,
            full_text,
            boosted,
        }
    }
}

/// A product's approved rating as Spryker's ProductReviewSearch maps it into the page: the average to two
/// decimals in the result data, and × 100 as the `rating` integer facet and sort. Products without an
/// approved review carry none of it (and sort last by rating).
struct PageRating {
    average: f64,
    count: i64,
}

impl PageRating {
    fn of(sum: i64, count: i64) -> Option<Self> {
        (count > 0).then(|| Self {
            average: (sum as f64 / count as f64 * 100.0).round() / 100.0,
            count,
        })
    }

    fn add_to(&self, data: &mut Value) {
        let scaled = (self.average * 100.0).round() as i64;
        data["search-result-data"]["rating"] = json!(self.average);
        data["search-result-data"]["review_count"] = json!(self.count);
        data["integer-sort"]["rating"] = json!(scaled);
        if let Some(facets) = data["integer-facet"].as_array_mut() {
            facets.push(json!({"facet-name": "rating", "facet-value": [scaled]}));
        }
    }
}

/// The price facet/sort name Spryker uses: `price-DEFAULT-EUR-GROSS_MODE`.
pub fn price_field(price_type: &str, currency: &str, mode: &str) -> String {
    format!("price-{price_type}-{currency}-{mode}")
}

#[async_trait]
impl Projection for ProductPageProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_PAGE
    }

    fn is_search(&self) -> bool {
        true
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let categories = CategoryIndex::load(db).await?;
        let products = snapshot::abstract_products(db, ids).await?;
        let concrete_ids: Vec<i64> = products
            .iter()
            .flat_map(|product| product.concretes.iter().map(|concrete| concrete.row.id))
            .collect();
        // Prices and stock grouped by the abstract product they belong to, so each product looks at its own
        // rows only instead of scanning the whole batch's.
        let abstract_of: HashMap<i64, i64> = products
            .iter()
            .flat_map(|product| {
                product
                    .concretes
                    .iter()
                    .map(|concrete| (concrete.row.id, product.row.id))
            })
            .collect();
        let mut prices_by_abstract: HashMap<i64, Vec<kontor_db::entity::price_product::Model>> = HashMap::new();
        for price in snapshot::prices_for(db, ids, &concrete_ids).await? {
            let owner = price
                .product_abstract_id
                .or_else(|| price.product_concrete_id.and_then(|id| abstract_of.get(&id).copied()));
            if let Some(owner) = owner {
                prices_by_abstract.entry(owner).or_default().push(price);
            }
        }
        let mut stock_by_abstract: HashMap<i64, Vec<kontor_db::entity::stock_product::Model>> = HashMap::new();
        for row in snapshot::stock_for(db, &concrete_ids).await? {
            if let Some(owner) = abstract_of.get(&row.product_concrete_id) {
                stock_by_abstract.entry(*owner).or_default().push(row);
            }
        }
        let skus: Vec<String> = products
            .iter()
            .flat_map(|product| product.concretes.iter().map(|concrete| concrete.row.sku.clone()))
            .collect();
        let reserved = snapshot::reservations_for(db, &skus).await?;
        let ratings = super::reviews::rating_totals(db, ids).await?;
        let popularity = snapshot::popularity_for(db, ids).await?;
        let mut documents = Vec::new();
        for product in &products {
            let rating = ratings
                .get(&product.row.id)
                .and_then(|&(sum, count)| PageRating::of(sum, count));
            let prices = prices_by_abstract.get(&product.row.id).map_or(&[][..], Vec::as_slice);
            let stock = stock_by_abstract.get(&product.row.id).map_or(&[][..], Vec::as_slice);
            let own_concretes: Vec<i64> = product.concretes.iter().map(|concrete| concrete.row.id).collect();
            let active: Vec<&snapshot::ConcreteProduct> = product
                .concretes
                .iter()
                .filter(|concrete| concrete.row.is_active)
                .collect();
            let (direct_nodes, all_nodes) = categories.parents(&product.category_ids);
            let mut texts_by_locale: HashMap<i64, PageTexts> = HashMap::new();
            for store in product.store_ids.iter().filter_map(|id| shop.store(*id)) {
                // The lowest DEFAULT price per currency and mode: the abstract's own, else its cheapest variant.
                let mut integer_facets: BTreeMap<String, i64> = BTreeMap::new();
                for (currency_id, currency_code) in &store.currencies {
                    for (mode, pick) in [(GROSS_MODE, true), (NET_MODE, false)] {
                        let amount_of = |price: &kontor_db::entity::price_product::Model| {
                            if pick { price.gross_amount } else { price.net_amount }
                        };
                        let in_scope = |price: &&kontor_db::entity::price_product::Model| {
                            price.store_id == store.id
                                && price.currency_id == *currency_id
                                && shop.price_types.get(&price.price_type_id).map(String::as_str) == Some("DEFAULT")
                        };
                        let abstract_price = prices
                            .iter()
                            .filter(in_scope)
                            .filter(|price| price.product_abstract_id == Some(product.row.id))
                            .find_map(amount_of);
                        let variant_price = prices
                            .iter()
                            .filter(in_scope)
                            .filter(|price| price.product_concrete_id.is_some_and(|id| own_concretes.contains(&id)))
                            .filter_map(amount_of)
                            .min();
                        if let Some(amount) = abstract_price.or(variant_price) {
                            integer_facets.insert(price_field("DEFAULT", currency_code, mode), amount);
                        }
                    }
                }
                // Available when some active variant has stock in the store beyond what open orders hold.
                let available = active.iter().any(|concrete| {
                    let rows = stock.iter().filter(|row| {
                        row.product_concrete_id == concrete.row.id && store.warehouse_ids.contains(&row.warehouse_id)
                    });
                    let (quantity, never_out) = rows.fold((0_i64, false), |(sum, never), row| {
                        (
                            sum.saturating_add(Ord::max(row.quantity, 0)),
                            never || row.is_never_out_of_stock,
                        )
                    });
                    let held = reserved
                        .get(&(concrete.row.sku.clone(), store.id))
                        .copied()
                        .unwrap_or(0);
                    never_out || quantity > held
                });
                for (locale_id, locale_name) in &store.locales {
                    let Some(localized) = product.localized.get(locale_id) else {
                        continue;
                    };
                    // The texts depend on the locale only: built once per product and locale, whatever the
                    // number of stores sharing the locale.
                    let texts = texts_by_locale
                        .entry(*locale_id)
                        .or_insert_with(|| PageTexts::build(product, &active, *locale_id, localized));
                    let PageTexts {
                        facets,
                        full_text,
                        boosted,
                    } = &*texts;
                    let string_facets: Vec<Value> = facets
                        .iter()
                        .map(|(name, values)| json!({"facet-name": name, "facet-value": values}))
                        .chain([json!({"facet-name": "availability", "facet-value": [if available { "in-stock" } else { "out-of-stock" }]})])
                        .collect();
                    let url = product.urls.get(locale_id).cloned().unwrap_or_default();
                    let prices: Vec<Value> = integer_facets
                        .iter()
                        .filter_map(|(field, amount)| {
                            let mut parts = field.splitn(4, '-').skip(1);
                            let (price_type, currency, mode) = (parts.next()?, parts.next()?, parts.next()?);
                            Some(json!({"price_type": price_type, "currency": currency, "price_mode": mode, "amount": amount}))
                        })
                        .collect();
                    let add_to_cart_sku = (active.len() == 1).then(|| active[0].row.sku.clone());
                    let mut data = json!({
                        "store": store.name,
                        "locale": locale_name,
                        "type": "product_abstract",
                        "is-active": !active.is_empty() || product.concretes.is_empty(),
                        "search-result-data": {
                            "id_product_abstract": product.row.id,
                            "abstract_sku": product.row.sku,
                            "abstract_name": localized.name,
                            "url": url,
                            "type": "product_abstract",
                            "add_to_cart_sku": add_to_cart_sku,
                            "prices": prices,
                            "is_available": available,
                        },
                        "full-text": full_text,
                        "full-text-boosted": boosted,
                        "suggestion-terms": [localized.name],
                        "completion-terms": [localized.name, product.row.sku],
                        "string-facet": string_facets,
                        "integer-facet": integer_facets.iter().map(|(name, value)| json!({"facet-name": name, "facet-value": [value]})).collect::<Vec<_>>(),
                        "string-sort": {"name": localized.name.to_lowercase()},
                        "integer-sort": integer_facets,
                        "category": {"all-parents": all_nodes, "direct-parents": direct_nodes},
                    });
                    if let Some(rating) = &rating {
                        rating.add_to(&mut data);
                    }
                    if let Some(units) = popularity.get(&product.row.id) {
                        data["integer-sort"]["popularity"] = json!(units);
                    }
                    documents.push(Document {
                        key: build_key(
                            projection::PRODUCT_ABSTRACT,
                            Some(&store.name),
                            Some(locale_name),
                            &product.row.id.to_string(),
                        )?,
                        entity_id: product.row.id,
                        store: Some(store.name.clone()),
                        locale: Some(locale_name.clone()),
                        data,
                    });
                }
            }
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        abstract_ids_after(db, after, limit).await
    }
}
