//! Abstract and concrete products in SQL, with their localized texts, store links and (for abstracts)
//! storefront URLs. Attribute maps are JSON text; their keys must be declared attribute keys.

use super::{
    UrlOwner, WantedUrl, check_attribute_keys, current_urls, locale_names, locale_of, resolve_locales, resolve_stores,
    sorted_stores, store_names, sync_urls,
};
use crate::entity::{
    product_abstract, product_abstract_localized, product_abstract_store, product_concrete, product_concrete_localized,
    tax_set, url,
};
use crate::repo::resource::SqlResource;
use crate::repo::rows_in;
use crate::repo::store::in_id_order;
use crate::repo::{
    References, contains_ignoring_case, decode_map, encode_map, fail_on, group_by, insert_all, names_by_id, resolve,
    starts_with, storage_error, stored,
};
use kontor_core::Sku;
use kontor_core::ids::ProductAbstractId;
use kontor_domain::catalog::{
    AbstractLocalized, ConcreteLocalized, ProductAbstractAttributes, ProductConcreteAttributes,
};
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait,
};

impl SqlResource for ProductAbstractAttributes {
    type Entity = product_abstract::Entity;

    fn id_column() -> product_abstract::Column {
        product_abstract::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut errors = Vec::new();
        let mut tax_set_refs = References::default();
        if let Some(name) = &attributes.tax_set {
            tax_set_refs.add("/taxSet", name.as_str());
        }
        let tax_set_ids = resolve::<tax_set::Entity, _>(
            transaction,
            tax_set::Column::Name,
            tax_set::Column::Id,
            &tax_set_refs,
            "tax set",
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
        let localized_maps = attributes.localized_attributes.iter().map(|(locale, localized)| {
            (
                format!("/localizedAttributes/{locale}/attributes"),
                &localized.attributes,
            )
        });
        check_attribute_keys(
            transaction,
            std::iter::once(("/attributes".to_owned(), &attributes.attributes)).chain(localized_maps),
            &mut errors,
        )
        .await?;
        fail_on(errors)?;

        let row = product_abstract::ActiveModel {
            id: id.map_or(NotSet, Set),
            sku: Set(attributes.sku.to_string()),
            attributes: Set(encode_map(&attributes.attributes)),
            tax_set_id: Set(attributes.tax_set.as_ref().map(|name| tax_set_ids[name.as_str()])),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let product_id = saved.map_err(storage_error)?.id;

        product_abstract_localized::Entity::delete_many()
            .filter(product_abstract_localized::Column::ProductAbstractId.eq(product_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let localized_rows =
            attributes
                .localized_attributes
                .iter()
                .map(|(locale, localized)| product_abstract_localized::ActiveModel {
                    id: NotSet,
                    product_abstract_id: Set(product_id),
                    locale_id: Set(locale_ids[locale.as_str()]),
                    name: Set(localized.name.trim().to_owned()),
                    description: Set(localized.description.clone()),
                    meta_title: Set(localized.meta_title.clone()),
                    meta_keywords: Set(localized.meta_keywords.clone()),
                    meta_description: Set(localized.meta_description.clone()),
                    attributes: Set(encode_map(&localized.attributes)),
                });
        insert_all(transaction, localized_rows.collect()).await?;

        product_abstract_store::Entity::delete_many()
            .filter(product_abstract_store::Column::ProductAbstractId.eq(product_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let store_rows = attributes
            .stores
            .iter()
            .map(|store| product_abstract_store::ActiveModel {
                product_abstract_id: Set(product_id),
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
                    ProductAbstractAttributes::generated_url(locale, &localized.name, ProductAbstractId(product_id))
                }),
            })
            .collect();
        sync_urls(transaction, UrlOwner::ProductAbstract(product_id), &wanted, now).await?;
        Ok(product_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<product_abstract::Entity, _>(connection, product_abstract::Column::Id, ids).await?;
        let localized = rows_in::<product_abstract_localized::Entity, _>(
            connection,
            product_abstract_localized::Column::ProductAbstractId,
            ids,
        )
        .await?;
        let store_links = rows_in::<product_abstract_store::Entity, _>(
            connection,
            product_abstract_store::Column::ProductAbstractId,
            ids,
        )
        .await?;
        let urls = current_urls(
            connection,
            url::Column::ProductAbstractId,
            |row| row.product_abstract_id,
            ids.iter().copied(),
        )
        .await?;
        let locales = locale_names(connection, localized.iter().map(|row| row.locale_id)).await?;
        let stores = store_names(connection, store_links.iter().map(|link| link.store_id)).await?;
        let tax_sets = names_by_id::<tax_set::Entity, _>(
            connection,
            tax_set::Column::Id,
            tax_set::Column::Name,
            rows.iter().filter_map(|row| row.tax_set_id),
        )
        .await?;
        let mut localized_by_product = group_by(localized, |row| row.product_abstract_id);
        let mut stores_by_product = group_by(store_links, |link| link.product_abstract_id);
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let mut localized_attributes = std::collections::BTreeMap::new();
                for text in localized_by_product.remove(&row.id).unwrap_or_default() {
                    let locale = locale_of(&locales, text.locale_id)?;
                    let localized = AbstractLocalized {
                        name: text.name,
                        description: text.description,
                        meta_title: text.meta_title,
                        meta_keywords: text.meta_keywords,
                        meta_description: text.meta_description,
                        attributes: decode_map(&text.attributes),
                        url: urls.get(&(row.id, text.locale_id)).cloned(),
                    };
                    localized_attributes.insert(locale, localized);
                }
                let store_ids = stores_by_product
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|link| link.store_id);
                Ok(ProductAbstractAttributes {
                    sku: stored(Sku::parse(&row.sku), "sku", &row.sku)?,
                    attributes: decode_map(&row.attributes),
                    tax_set: row.tax_set_id.and_then(|tax_set_id| tax_sets.get(&tax_set_id).cloned()),
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
        crate::repo::foreign_keys::of_abstract(transaction, id).await
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(sku) = &query.sku {
            condition = condition.add(starts_with(product_abstract::Column::Sku, sku));
        }
        if let Some(name) = &query.name {
            let named = product_abstract_localized::Entity::find()
                .select_only()
                .column(product_abstract_localized::Column::ProductAbstractId)
                .filter(contains_ignoring_case(product_abstract_localized::Column::Name, name))
                .into_query();
            condition = condition.add(product_abstract::Column::Id.in_subquery(named));
        }
        condition
    }
}

impl SqlResource for ProductConcreteAttributes {
    type Entity = product_concrete::Entity;

    fn id_column() -> product_concrete::Column {
        product_concrete::Column::Id
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
        let locale_ids = resolve_locales(
            transaction,
            attributes
                .localized_attributes
                .keys()
                .map(|locale| (format!("/localizedAttributes/{locale}"), locale)),
            &mut errors,
        )
        .await?;
        let localized_maps = attributes.localized_attributes.iter().map(|(locale, localized)| {
            (
                format!("/localizedAttributes/{locale}/attributes"),
                &localized.attributes,
            )
        });
        check_attribute_keys(
            transaction,
            std::iter::once(("/attributes".to_owned(), &attributes.attributes)).chain(localized_maps),
            &mut errors,
        )
        .await?;
        fail_on(errors)?;

        let row = product_concrete::ActiveModel {
            id: id.map_or(NotSet, Set),
            sku: Set(attributes.sku.to_string()),
            product_abstract_id: Set(abstract_ids[attributes.abstract_sku.as_str()]),
            attributes: Set(encode_map(&attributes.attributes)),
            is_active: Set(attributes.is_active),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let product_id = saved.map_err(storage_error)?.id;

        product_concrete_localized::Entity::delete_many()
            .filter(product_concrete_localized::Column::ProductConcreteId.eq(product_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let localized_rows =
            attributes
                .localized_attributes
                .iter()
                .map(|(locale, localized)| product_concrete_localized::ActiveModel {
                    id: NotSet,
                    product_concrete_id: Set(product_id),
                    locale_id: Set(locale_ids[locale.as_str()]),
                    name: Set(localized.name.trim().to_owned()),
                    description: Set(localized.description.clone()),
                    is_searchable: Set(localized.is_searchable),
                    attributes: Set(encode_map(&localized.attributes)),
                });
        insert_all(transaction, localized_rows.collect()).await?;
        Ok(product_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<product_concrete::Entity, _>(connection, product_concrete::Column::Id, ids).await?;
        let localized = rows_in::<product_concrete_localized::Entity, _>(
            connection,
            product_concrete_localized::Column::ProductConcreteId,
            ids,
        )
        .await?;
        let locales = locale_names(connection, localized.iter().map(|row| row.locale_id)).await?;
        let abstract_skus = names_by_id::<product_abstract::Entity, _>(
            connection,
            product_abstract::Column::Id,
            product_abstract::Column::Sku,
            rows.iter().map(|row| row.product_abstract_id),
        )
        .await?;
        let mut localized_by_product = group_by(localized, |row| row.product_concrete_id);
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let mut localized_attributes = std::collections::BTreeMap::new();
                for text in localized_by_product.remove(&row.id).unwrap_or_default() {
                    let localized = ConcreteLocalized {
                        name: text.name,
                        description: text.description,
                        is_searchable: text.is_searchable,
                        attributes: decode_map(&text.attributes),
                    };
                    localized_attributes.insert(locale_of(&locales, text.locale_id)?, localized);
                }
                let abstract_sku = abstract_skus.get(&row.product_abstract_id).map_or("", String::as_str);
                Ok(ProductConcreteAttributes {
                    sku: stored(Sku::parse(&row.sku), "sku", &row.sku)?,
                    abstract_sku: stored(Sku::parse(abstract_sku), "sku", abstract_sku)?,
                    attributes: decode_map(&row.attributes),
                    is_active: row.is_active,
                    localized_attributes,
                })
            },
        )
    }

    async fn foreign_keys(
        transaction: &DatabaseTransaction,
        id: i64,
    ) -> Result<crate::repo::resource::ForeignKeys, DomainError> {
        crate::repo::foreign_keys::of_concrete(transaction, id).await
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(sku) = &query.sku {
            condition = condition.add(starts_with(product_concrete::Column::Sku, sku));
        }
        if let Some(name) = &query.name {
            let named = product_concrete_localized::Entity::find()
                .select_only()
                .column(product_concrete_localized::Column::ProductConcreteId)
                .filter(contains_ignoring_case(product_concrete_localized::Column::Name, name))
                .into_query();
            condition = condition.add(product_concrete::Column::Id.in_subquery(named));
        }
        condition
    }
}
