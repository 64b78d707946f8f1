//! Price documents per store (`price_product_abstract`, `price_product_concrete`) and availability per
//! store (`availability`, keyed by abstract product, with each concrete).

use super::snapshot::{self, Shop, in_chunks};
use super::{Document, Projection};
use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_db::entity::{product_abstract, product_abstract_store, product_concrete, stock_product};
use kontor_domain::pricing::{PRICE_TYPE_DEFAULT, decode_volume_prices};
use kontor_readmodel::key;
use kontor_readmodel::storage::{
    AvailabilityStorage, ConcreteAvailability, GROSS_MODE, NET_MODE, PriceProductStorage, VolumeAmount, projection,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};

/// Prices of one level: abstract-level prices keyed by abstract id, or concrete-level by concrete id.
pub struct PriceProjection {
    concrete: bool,
}

impl PriceProjection {
    pub fn abstract_level() -> Self {
        Self { concrete: false }
    }

    pub fn concrete_level() -> Self {
        Self { concrete: true }
    }
}

#[async_trait]
impl Projection for PriceProjection {
    fn name(&self) -> &'static str {
        if self.concrete {
            projection::PRICE_PRODUCT_CONCRETE
        } else {
            projection::PRICE_PRODUCT_ABSTRACT
        }
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let prices = if self.concrete {
            snapshot::prices_for(db, &[], ids).await?
        } else {
            snapshot::prices_for(db, ids, &[]).await?
        };
        // (owner id, store id) → currency → mode → type → amount, and the DEFAULT price's volume prices
        let mut documents: BTreeMap<(i64, i64), PriceProductStorage> = BTreeMap::new();
        for price in prices {
            let owner = if self.concrete {
                price.product_concrete_id
            } else {
                price.product_abstract_id
            };
            let (Some(owner), Some(currency), Some(price_type)) = (
                owner,
                shop.currency_codes.get(&price.currency_id),
                shop.price_types.get(&price.price_type_id),
            ) else {
                continue;
            };
            let document = documents.entry((owner, price.store_id)).or_default();
            let modes = document.prices.entry(currency.clone()).or_default();
            for (mode, amount) in [(GROSS_MODE, price.gross_amount), (NET_MODE, price.net_amount)] {
                if let Some(amount) = amount {
                    modes
                        .entry(mode.to_owned())
                        .or_default()
                        .insert(price_type.clone(), amount);
                }
            }
            // Only the selling price has volume prices on the storefront (Glue shows them on DEFAULT).
            if price_type == PRICE_TYPE_DEFAULT {
                let tiers = decode_volume_prices(price.volume_prices.as_deref());
                for (mode, gross, has_base) in [
                    (GROSS_MODE, true, price.gross_amount.is_some()),
                    (NET_MODE, false, price.net_amount.is_some()),
                ] {
                    let amounts: Vec<VolumeAmount> = tiers
                        .iter()
                        .filter_map(|tier| {
                            tier.amount(gross).map(|amount| VolumeAmount {
                                quantity: tier.quantity,
                                amount,
                            })
                        })
                        .collect();
                    if has_base && !amounts.is_empty() {
                        document
                            .volume_prices
                            .entry(currency.clone())
                            .or_default()
                            .insert(mode.to_owned(), amounts);
                    }
                }
            }
        }
        documents
            .into_iter()
            .filter_map(|((owner, store_id), document)| shop.store(store_id).map(|store| (owner, store, document)))
            .map(|(owner, store, document)| {
                Ok(Document {
                    key: key(self.name(), Some(&store.name), None, Some(&owner.to_string()))
                        .map_err(|error| SyncError::Document(error.to_string()))?,
                    entity_id: owner,
                    store: Some(store.name.clone()),
                    locale: None,
                    data: serde_json::to_value(document).map_err(SyncError::json)?,
                })
            })
            .collect()
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        if self.concrete {
            super::snapshot::ids_after::<product_concrete::Entity>(db, product_concrete::Column::Id, after, limit).await
        } else {
            super::snapshot::ids_after::<product_abstract::Entity>(db, product_abstract::Column::Id, after, limit).await
        }
    }
}

/// Availability = stock in the store's warehouses less the units reserved by open orders (OMS states
/// flagged `reserved`); never-out-of-stock makes a concrete always available.
pub struct AvailabilityProjection;

#[async_trait]
impl Projection for AvailabilityProjection {
    fn name(&self) -> &'static str {
        projection::AVAILABILITY
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let connection = db.connection();
        let abstracts: Vec<product_abstract::Model> = in_chunks!(ids, |chunk| product_abstract::Entity::find()
            .filter(product_abstract::Column::Id.is_in(chunk.iter().copied()))
            .all(connection));
        let store_links: Vec<product_abstract_store::Model> =
            in_chunks!(ids, |chunk| product_abstract_store::Entity::find()
                .filter(product_abstract_store::Column::ProductAbstractId.is_in(chunk.iter().copied()))
                .all(connection));
        let concretes: Vec<product_concrete::Model> = in_chunks!(ids, |chunk| product_concrete::Entity::find()
            .filter(product_concrete::Column::ProductAbstractId.is_in(chunk.iter().copied()))
            .filter(product_concrete::Column::IsActive.eq(true))
            .order_by_asc(product_concrete::Column::Id)
            .all(connection));
        let concrete_ids: Vec<i64> = concretes.iter().map(|row| row.id).collect();
        let stock = snapshot::stock_for(db, &concrete_ids).await?;
        let skus: Vec<String> = concretes.iter().map(|row| row.sku.clone()).collect();
        let reserved = snapshot::reservations_for(db, &skus).await?;
        let mut concretes_by_abstract: HashMap<i64, Vec<&product_concrete::Model>> = HashMap::new();
        for concrete in &concretes {
            concretes_by_abstract
                .entry(concrete.product_abstract_id)
                .or_default()
                .push(concrete);
        }
        let mut documents = Vec::new();
        let mut stores_by_abstract: HashMap<i64, Vec<i64>> = HashMap::new();
        for link in &store_links {
            stores_by_abstract
                .entry(link.product_abstract_id)
                .or_default()
                .push(link.store_id);
        }
        let mut stock_by_concrete: HashMap<i64, Vec<&stock_product::Model>> = HashMap::new();
        for row in &stock {
            stock_by_concrete.entry(row.product_concrete_id).or_default().push(row);
        }
        for product in &abstracts {
            let stores = stores_by_abstract.get(&product.id).into_iter().flatten();
            for store in stores.filter_map(|store_id| shop.store(*store_id)) {
                let mut document = AvailabilityStorage {
                    id_product_abstract: product.id,
                    abstract_sku: product.sku.clone(),
                    is_available: false,
                    is_never_out_of_stock: false,
                    quantity: 0,
                    concretes: BTreeMap::new(),
                };
                for concrete in concretes_by_abstract.get(&product.id).into_iter().flatten() {
                    let rows = stock_by_concrete
                        .get(&concrete.id)
                        .into_iter()
                        .flatten()
                        .filter(|row| store.warehouse_ids.contains(&row.warehouse_id));
                    let (quantity, never_out) = rows.fold((0_i64, false), |(sum, never), row| {
                        (
                            sum.saturating_add(row.quantity.max(0)),
                            never || row.is_never_out_of_stock,
                        )
                    });
                    let held = reserved.get(&(concrete.sku.clone(), store.id)).copied().unwrap_or(0);
                    let quantity = Ord::max(quantity - held, 0);
                    let is_available = never_out || quantity > 0;
                    document.quantity = document.quantity.saturating_add(if never_out { 0 } else { quantity });
                    document.is_never_out_of_stock |= never_out;
                    document.is_available |= is_available;
                    document.concretes.insert(
                        concrete.sku.clone(),
                        ConcreteAvailability {
                            id_product_concrete: concrete.id,
                            quantity,
                            is_never_out_of_stock: never_out,
                            is_available,
                        },
                    );
                }
                documents.push(Document {
                    key: key(self.name(), Some(&store.name), None, Some(&product.id.to_string()))
                        .map_err(|error| SyncError::Document(error.to_string()))?,
                    entity_id: product.id,
                    store: Some(store.name.clone()),
                    locale: None,
                    data: serde_json::to_value(document).map_err(SyncError::json)?,
                });
            }
        }
        Ok(documents)
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        super::snapshot::ids_after::<product_abstract::Entity>(db, product_abstract::Column::Id, after, limit).await
    }
}
