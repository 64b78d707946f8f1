//! Image documents (Spryker's `product_abstract_image` / `product_concrete_image` storage): per locale,
//! the named image sets of an abstract product, and the *own* image sets of a concrete product.
//!
//! A set belongs to one locale or to none (`locale_id` NULL: shown in every locale). For a locale, the
//! document holds the locale's sets plus the locale-independent sets whose name the locale does not
//! override. Locales are those of the stores the (abstract) product is assigned to. A product without
//! any set for a locale gets no document there, so the publisher tombstones what was shown before.
//!
//! Concrete documents deliberately leave the abstract's sets out: the storefront adds them by name when
//! it reads (it has the abstract's document at hand anyway), so an abstract's image change never has
//! to rewrite the documents of all its variants.

use super::snapshot::{Shop, in_chunks};
use super::{Document, Projection};
use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_db::entity::{product_abstract, product_abstract_store, product_concrete, product_image, product_image_set};
use kontor_readmodel::key;
use kontor_readmodel::storage::{
    ProductAbstractImageStorage, ProductConcreteImageStorage, ProductImageSetStorage, ProductImageStorage, projection,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};

pub struct ProductAbstractImageProjection;
pub struct ProductConcreteImageProjection;

/// The sets of one owner (abstract or concrete) with their images, in set id order.
#[derive(Default)]
struct OwnedSets {
    sets: Vec<(product_image_set::Model, Vec<ProductImageStorage>)>,
}

impl OwnedSets {
    /// The sets shown in `locale_id`: the locale's own, then the locale-independent ones of other names.
    fn for_locale(&self, locale_id: i64) -> Vec<ProductImageSetStorage> {
        let localized: Vec<&(product_image_set::Model, Vec<ProductImageStorage>)> = self
            .sets
            .iter()
            .filter(|(set, _)| set.locale_id == Some(locale_id))
            .collect();
        let fallback = self
            .sets
            .iter()
            .filter(|(set, _)| set.locale_id.is_none() && !localized.iter().any(|(own, _)| own.name == set.name));
        localized
            .iter()
            .copied()
            .chain(fallback)
            .filter(|(_, images)| !images.is_empty())
            .map(|(set, images)| ProductImageSetStorage {
                name: set.name.clone(),
                images: images.clone(),
            })
            .collect()
    }
}

/// Loads the image sets owned by these abstract (or concrete) products, grouped by owner id.
async fn sets_by_owner(
    db: &SqlDatabase,
    owner_ids: &[i64],
    concrete: bool,
) -> Result<HashMap<i64, OwnedSets>, SyncError> {
    let connection = db.connection();
    let owner_column = if concrete {
        product_image_set::Column::ProductConcreteId
    } else {
        product_image_set::Column::ProductAbstractId
    };
    let sets: Vec<product_image_set::Model> = in_chunks!(owner_ids, |chunk| product_image_set::Entity::find()
        .filter(owner_column.is_in(chunk.iter().copied()))
        .order_by_asc(product_image_set::Column::Id)
        .all(connection));
    let set_ids: Vec<i64> = sets.iter().map(|set| set.id).collect();
    let images: Vec<product_image::Model> = in_chunks!(set_ids, |chunk| product_image::Entity::find()
        .filter(product_image::Column::ProductImageSetId.is_in(chunk.iter().copied()))
        .order_by_asc(product_image::Column::SortOrder)
        .order_by_asc(product_image::Column::Id)
        .all(connection));
    let mut images_by_set: HashMap<i64, Vec<ProductImageStorage>> = HashMap::new();
    for image in images {
        images_by_set
            .entry(image.product_image_set_id)
            .or_default()
            .push(ProductImageStorage {
                id_product_image: image.id,
                external_url_large: image.external_url_large,
                external_url_small: image.external_url_small,
            });
    }
    let mut by_owner: HashMap<i64, OwnedSets> = HashMap::new();
    for set in sets {
        let owner = if concrete {
            set.product_concrete_id
        } else {
            set.product_abstract_id
        };
        if let Some(owner) = owner {
            let images = images_by_set.remove(&set.id).unwrap_or_default();
            by_owner.entry(owner).or_default().sets.push((set, images));
        }
    }
    Ok(by_owner)
}

/// Abstract id → the locales (id, name) of the stores it is assigned to, in locale id order.
async fn locales_by_abstract(
    db: &SqlDatabase,
    shop: &Shop,
    abstract_ids: &[i64],
) -> Result<HashMap<i64, BTreeMap<i64, String>>, SyncError> {
    let links: Vec<product_abstract_store::Model> = in_chunks!(abstract_ids, |chunk| {
        product_abstract_store::Entity::find()
            .filter(product_abstract_store::Column::ProductAbstractId.is_in(chunk.iter().copied()))
            .all(db.connection())
    });
    let mut locales: HashMap<i64, BTreeMap<i64, String>> = HashMap::new();
    for link in links {
        if let Some(store) = shop.store(link.store_id) {
            locales
                .entry(link.product_abstract_id)
                .or_default()
                .extend(store.locales.iter().cloned());
        }
    }
    Ok(locales)
}

fn image_key(resource: &str, locale: &str, id: i64) -> Result<String, SyncError> {
    key(resource, None, Some(locale), Some(&id.to_string())).map_err(|error| SyncError::Document(error.to_string()))
}

#[async_trait]
impl Projection for ProductAbstractImageProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_ABSTRACT_IMAGE
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let sets = sets_by_owner(db, ids, false).await?;
        let owners: Vec<i64> = ids.iter().copied().filter(|id| sets.contains_key(id)).collect();
        let locales = locales_by_abstract(db, &shop, &owners).await?;
        let mut documents = Vec::new();
        for id in owners {
            let (Some(owned), Some(locales)) = (sets.get(&id), locales.get(&id)) else {
                continue;
            };
            for (locale_id, locale_name) in locales {
                let image_sets = owned.for_locale(*locale_id);
                if image_sets.is_empty() {
                    continue;
                }
                let document = ProductAbstractImageStorage {
                    id_product_abstract: id,
                    image_sets,
                };
                documents.push(Document {
                    key: image_key(self.name(), locale_name, id)?,
                    entity_id: id,
                    store: None,
                    locale: Some(locale_name.clone()),
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

#[async_trait]
impl Projection for ProductConcreteImageProjection {
    fn name(&self) -> &'static str {
        projection::PRODUCT_CONCRETE_IMAGE
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let sets = sets_by_owner(db, ids, true).await?;
        let owners: Vec<i64> = ids.iter().copied().filter(|id| sets.contains_key(id)).collect();
        let concretes: Vec<product_concrete::Model> = in_chunks!(owners, |chunk| product_concrete::Entity::find()
            .filter(product_concrete::Column::Id.is_in(chunk.iter().copied()))
            .all(db.connection()));
        let abstract_ids: Vec<i64> = concretes.iter().map(|row| row.product_abstract_id).collect();
        let locales = locales_by_abstract(db, &shop, &abstract_ids).await?;
        let mut documents = Vec::new();
        for concrete in &concretes {
            let (Some(owned), Some(locales)) = (sets.get(&concrete.id), locales.get(&concrete.product_abstract_id))
            else {
                continue;
            };
            for (locale_id, locale_name) in locales {
                let image_sets = owned.for_locale(*locale_id);
                if image_sets.is_empty() {
                    continue;
                }
                let document = ProductConcreteImageStorage {
                    id_product_concrete: concrete.id,
                    id_product_abstract: concrete.product_abstract_id,
                    image_sets,
                };
                documents.push(Document {
                    key: image_key(self.name(), locale_name, concrete.id)?,
                    entity_id: concrete.id,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(id: i64, name: &str, locale_id: Option<i64>) -> product_image_set::Model {
        product_image_set::Model {
            id,
            name: name.to_owned(),
            product_abstract_id: Some(1),
            product_concrete_id: None,
            locale_id,
            created_at: 0,
            updated_at: 0,
            product_image_set_key: None,
        }
    }

    fn image(id: i64) -> ProductImageStorage {
        ProductImageStorage {
            id_product_image: id,
            external_url_large: format!("https://img/{id}-l.jpg"),
            external_url_small: format!("https://img/{id}-s.jpg"),
        }
    }

    #[test]
    fn a_locale_sees_its_own_sets_and_the_shared_ones_it_does_not_override() {
        let owned = OwnedSets {
            sets: vec![
                (set(1, "default", None), vec![image(1)]),
                (set(2, "thumbnail", None), vec![image(2)]),
                (set(3, "default", Some(46)), vec![image(3)]),
                (set(4, "empty", None), Vec::new()),
            ],
        };
        let german: Vec<(String, i64)> = owned
            .for_locale(46)
            .into_iter()
            .map(|set| (set.name, set.images[0].id_product_image))
            .collect();
        assert_eq!(german, [("default".to_owned(), 3), ("thumbnail".to_owned(), 2)]);
        let english: Vec<String> = owned.for_locale(66).into_iter().map(|set| set.name).collect();
        assert_eq!(english, ["default", "thumbnail"], "empty sets are left out");
    }
}
