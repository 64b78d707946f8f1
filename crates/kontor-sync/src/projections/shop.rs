//! Shop-wide documents: `store:<store>`, `translation:<locale>:<glossary key>` and `url:<path>`.

use super::snapshot::{Shop, in_chunks};
use super::{Document, Projection};
use crate::SyncError;
use async_trait::async_trait;
use kontor_db::SqlDatabase;
use kontor_db::entity::{glossary_key, glossary_translation, store, url, url_redirect};
use kontor_readmodel::key;
use kontor_readmodel::storage::{Redirect, StoreStorage, TranslationStorage, UrlStorage, projection};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;

pub struct StoreProjection;
pub struct TranslationProjection;
pub struct UrlProjection;

fn document_key(
    resource: &str,
    store: Option<&str>,
    locale: Option<&str>,
    reference: Option<&str>,
) -> Result<String, SyncError> {
    key(resource, store, locale, reference).map_err(|error| SyncError::Document(error.to_string()))
}

#[async_trait]
impl Projection for StoreProjection {
    fn name(&self) -> &'static str {
        projection::STORE
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        shop.stores
            .iter()
            .filter(|store| ids.contains(&store.id))
            .map(|store| {
                let document = StoreStorage {
                    name: store.name.clone(),
                    default_locale: store.default_locale.clone(),
                    available_locales: store.locales.iter().map(|(_, name)| name.clone()).collect(),
                    default_currency: store.default_currency.clone(),
                    available_currencies: store.currencies.iter().map(|(_, code)| code.clone()).collect(),
                    timezone: store.timezone.clone(),
                };
                Ok(Document {
                    key: document_key(self.name(), None, None, Some(&store.name))?,
                    entity_id: store.id,
                    store: Some(store.name.clone()),
                    locale: None,
                    data: serde_json::to_value(document).map_err(SyncError::json)?,
                })
            })
            .collect()
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        super::snapshot::ids_after::<store::Entity>(db, store::Column::Id, after, limit).await
    }
}

#[async_trait]
impl Projection for TranslationProjection {
    fn name(&self) -> &'static str {
        projection::TRANSLATION
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let used_locales = shop.used_locales();
        let keys: Vec<glossary_key::Model> = in_chunks!(ids, |chunk| glossary_key::Entity::find()
            .filter(glossary_key::Column::Id.is_in(chunk.iter().copied()))
            .all(db.connection()));
        let translations: Vec<glossary_translation::Model> =
            in_chunks!(ids, |chunk| glossary_translation::Entity::find()
                .filter(glossary_translation::Column::GlossaryKeyId.is_in(chunk.iter().copied()))
                .all(db.connection()));
        let names: HashMap<i64, &str> = keys.iter().map(|row| (row.id, row.key.as_str())).collect();
        translations
            .iter()
            .filter_map(|row| {
                let locale = used_locales.get(&row.locale_id)?;
                let glossary_key = names.get(&row.glossary_key_id)?;
                Some((row, locale, *glossary_key))
            })
            .map(|(row, locale, glossary_key)| {
                Ok(Document {
                    key: document_key(self.name(), None, Some(locale), Some(glossary_key))?,
                    entity_id: row.glossary_key_id,
                    store: None,
                    locale: Some(locale.clone()),
                    data: serde_json::to_value(TranslationStorage {
                        value: row.value.clone(),
                    })
                    .map_err(SyncError::json)?,
                })
            })
            .collect()
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        super::snapshot::ids_after::<glossary_key::Entity>(db, glossary_key::Column::Id, after, limit).await
    }
}

#[async_trait]
impl Projection for UrlProjection {
    fn name(&self) -> &'static str {
        projection::URL
    }

    async fn build(&self, db: &SqlDatabase, ids: &[i64]) -> Result<Vec<Document>, SyncError> {
        let shop = Shop::load(db).await?;
        let rows: Vec<url::Model> = in_chunks!(ids, |chunk| url::Entity::find()
            .filter(url::Column::Id.is_in(chunk.iter().copied()))
            .all(db.connection()));
        let redirect_ids: Vec<i64> = rows.iter().filter_map(|row| row.url_redirect_id).collect();
        let redirects: HashMap<i64, url_redirect::Model> =
            in_chunks!(redirect_ids, |chunk| url_redirect::Entity::find()
                .filter(url_redirect::Column::Id.is_in(chunk.iter().copied()))
                .all(db.connection()))
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        rows.iter()
            .map(|row| {
                let redirect = row
                    .url_redirect_id
                    .and_then(|id| redirects.get(&id))
                    .map(|target| Redirect {
                        to_url: target.to_url.clone(),
                        status: target.status_code,
                    });
                let document = UrlStorage {
                    url: row.url.clone(),
                    locale_name: shop.locale_names.get(&row.locale_id).cloned().unwrap_or_default(),
                    fk_resource_product_abstract: row.product_abstract_id,
                    fk_resource_category_node: row.category_node_id,
                    fk_resource_redirect: row.url_redirect_id,
                    redirect,
                };
                Ok(Document {
                    key: document_key(self.name(), None, None, Some(&row.url))?,
                    entity_id: row.id,
                    store: None,
                    locale: Some(document.locale_name.clone()),
                    data: serde_json::to_value(document).map_err(SyncError::json)?,
                })
            })
            .collect()
    }

    async fn ids_after(&self, db: &SqlDatabase, after: i64, limit: u64) -> Result<Vec<i64>, SyncError> {
        super::snapshot::ids_after::<url::Entity>(db, url::Column::Id, after, limit).await
    }
}
