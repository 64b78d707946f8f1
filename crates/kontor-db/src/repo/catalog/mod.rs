//! The catalog in SQL: attribute keys, abstract and concrete products, categories and product-category
//! assignments.
//!
//! What the resources share lives here: the batched lookups of locales, stores and declared attribute
//! keys (every unknown one reported at its JSON pointer), and the storefront URLs of abstract products
//! and categories, which keep a 301 redirect whenever a URL changes.

mod attributes;
mod categories;
mod products;

use super::{References, names_by_id, resolve, storage_error, stored};
use crate::entity::{locale, product_attribute_key, store, url, url_redirect};
use kontor_core::{LocaleName, StoreName};
use kontor_domain::{DomainError, FieldError};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Resolves locale names in one query: `{name → id}`; unknown ones are reported at their pointers.
async fn resolve_locales<'a>(
    transaction: &DatabaseTransaction,
    locales: impl IntoIterator<Item = (String, &'a LocaleName)>,
    errors: &mut Vec<FieldError>,
) -> Result<HashMap<String, i64>, DomainError> {
    let mut references = References::default();
    for (pointer, locale) in locales {
        references.add(pointer, locale.as_str());
    }
    resolve::<locale::Entity, _>(
        transaction,
        locale::Column::Name,
        locale::Column::Id,
        &references,
        "locale",
        errors,
    )
    .await
}

/// Resolves the stores at `/stores/<index>` in one query: `{name → id}`.
async fn resolve_stores(
    transaction: &DatabaseTransaction,
    stores: &[StoreName],
    errors: &mut Vec<FieldError>,
) -> Result<HashMap<String, i64>, DomainError> {
    let mut references = References::default();
    for (index, store) in stores.iter().enumerate() {
        references.add(format!("/stores/{index}"), store.as_str());
    }
    resolve::<store::Entity, _>(
        transaction,
        store::Column::Name,
        store::Column::Id,
        &references,
        "store",
        errors,
    )
    .await
}

/// Checks in one query that every attribute key used in an attribute map is declared in
/// `product_attribute_key`; `maps` pairs each map with the pointer it sits at (`/attributes`).
async fn check_attribute_keys<'a>(
    transaction: &DatabaseTransaction,
    maps: impl IntoIterator<Item = (String, &'a BTreeMap<String, String>)>,
    errors: &mut Vec<FieldError>,
) -> Result<(), DomainError> {
    let mut references = References::default();
    for (base, map) in maps {
        for key in map.keys() {
            references.add(format!("{base}/{key}"), key.as_str());
        }
    }
    resolve::<product_attribute_key::Entity, _>(
        transaction,
        product_attribute_key::Column::Key,
        product_attribute_key::Column::Id,
        &references,
        "attribute key",
        errors,
    )
    .await?;
    Ok(())
}

/// Locale names by id, for reading localized rows back.
async fn locale_names<C: ConnectionTrait>(
    connection: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, LocaleName>, DomainError> {
    let names = names_by_id::<locale::Entity, _>(connection, locale::Column::Id, locale::Column::Name, ids).await?;
    names
        .into_iter()
        .map(|(id, name)| Ok((id, stored(LocaleName::parse(&name), "locale", &name)?)))
        .collect()
}

/// Store names by id, for reading store links back.
async fn store_names<C: ConnectionTrait>(
    connection: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, StoreName>, DomainError> {
    let names = names_by_id::<store::Entity, _>(connection, store::Column::Id, store::Column::Name, ids).await?;
    names
        .into_iter()
        .map(|(id, name)| Ok((id, stored(StoreName::parse(&name), "store", &name)?)))
        .collect()
}

/// A localized row's locale, which the foreign key guarantees exists.
fn locale_of(names: &HashMap<i64, LocaleName>, id: i64) -> Result<LocaleName, DomainError> {
    names
        .get(&id)
        .cloned()
        .ok_or_else(|| DomainError::Storage(format!("locale {id} vanished while loading")))
}

/// The linked stores' names, sorted: the link tables keep no order, so name order makes reads stable.
fn sorted_stores(
    names: &HashMap<i64, StoreName>,
    store_ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<StoreName>, DomainError> {
    let mut stores = store_ids
        .into_iter()
        .map(|id| {
            names
                .get(&id)
                .cloned()
                .ok_or_else(|| DomainError::Storage(format!("store {id} vanished while loading")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    stores.sort_by(|left, right| left.as_str().cmp(right.as_str()));
    Ok(stores)
}

/// The entity a `url` row leads to.
#[derive(Debug, Clone, Copy)]
enum UrlOwner {
    ProductAbstract(i64),
    CategoryNode(i64),
}

impl UrlOwner {
    fn rows(self) -> Expr {
        match self {
            Self::ProductAbstract(id) => url::Column::ProductAbstractId.eq(id),
            Self::CategoryNode(id) => url::Column::CategoryNodeId.eq(id),
        }
    }

    fn owns(self, row: &url::Model) -> bool {
        match self {
            Self::ProductAbstract(id) => row.product_abstract_id == Some(id),
            Self::CategoryNode(id) => row.category_node_id == Some(id),
        }
    }

    /// Points a row at this owner and nothing else.
    fn assign(self, row: &mut url::ActiveModel) {
        let (product_abstract_id, category_node_id) = match self {
            Self::ProductAbstract(id) => (Some(id), None),
            Self::CategoryNode(id) => (None, Some(id)),
        };
        row.product_abstract_id = Set(product_abstract_id);
        row.category_node_id = Set(category_node_id);
        row.url_redirect_id = Set(None);
    }
}

/// The URL one locale should have.
struct WantedUrl {
    locale: LocaleName,
    locale_id: i64,
    url: String,
}

fn url_conflict(locale: &LocaleName) -> DomainError {
    DomainError::conflict(
        format!("/localizedAttributes/{locale}/url"),
        "this URL is already used by another page",
    )
}

/// Makes `owner`'s URLs exactly `wanted`, one per locale.
///
/// A URL held by another page is a conflict, checked here so that it names the locale (the unique
/// index on `url.url` is only the backstop against a concurrent writer). A URL that is merely an old
/// redirect is taken over. When a locale's URL changes, the old row turns into a 301 redirect to the
/// new one, and redirects that led to the old URL are pointed at the new one so no chains build up.
/// URLs of locales no longer wanted are removed.
async fn sync_urls(
    transaction: &DatabaseTransaction,
    owner: UrlOwner,
    wanted: &[WantedUrl],
    now: i64,
) -> Result<(), DomainError> {
    let mut seen = HashSet::new();
    for entry in wanted {
        if !seen.insert(entry.url.as_str()) {
            return Err(url_conflict(&entry.locale));
        }
    }
    let taken: HashMap<String, url::Model> = url::Entity::find()
        .filter(url::Column::Url.is_in(wanted.iter().map(|entry| entry.url.clone())))
        .all(transaction)
        .await
        .map_err(storage_error)?
        .into_iter()
        .map(|row| (row.url.clone(), row))
        .collect();
    for entry in wanted {
        if let Some(row) = taken.get(&entry.url) {
            let owned_by_a_page = row.product_abstract_id.is_some() || row.category_node_id.is_some();
            let unchanged = owner.owns(row) && row.locale_id == entry.locale_id;
            if owned_by_a_page && !unchanged {
                return Err(url_conflict(&entry.locale));
            }
        }
    }

    let current: HashMap<i64, url::Model> = url::Entity::find()
        .filter(owner.rows())
        .all(transaction)
        .await
        .map_err(storage_error)?
        .into_iter()
        .map(|row| (row.locale_id, row))
        .collect();
    let dropped: Vec<i64> = current
        .values()
        .filter(|row| !wanted.iter().any(|entry| entry.locale_id == row.locale_id))
        .map(|row| row.id)
        .collect();
    if !dropped.is_empty() {
        url::Entity::delete_many()
            .filter(url::Column::Id.is_in(dropped))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
    }

    for entry in wanted {
        if let Some(old) = current.get(&entry.locale_id) {
            if old.url == entry.url {
                continue;
            }
            redirect(transaction, old, &entry.url, now).await?;
        }
        match taken.get(&entry.url) {
            Some(previous_redirect) => take_over(transaction, owner, previous_redirect, entry, now).await?,
            None => {
                let mut row = url::ActiveModel {
                    id: NotSet,
                    url: Set(entry.url.clone()),
                    locale_id: Set(entry.locale_id),
                    product_abstract_id: NotSet,
                    category_node_id: NotSet,
                    url_redirect_id: NotSet,
                    updated_at: Set(now),
                };
                owner.assign(&mut row);
                row.insert(transaction).await.map_err(storage_error)?;
            }
        }
    }
    Ok(())
}

/// Turns `old` into a 301 redirect to `new_url`, and repoints redirects that led to `old`.
async fn redirect(
    transaction: &DatabaseTransaction,
    old: &url::Model,
    new_url: &str,
    now: i64,
) -> Result<(), DomainError> {
    url_redirect::Entity::update_many()
        .col_expr(url_redirect::Column::ToUrl, Expr::value(new_url))
        .filter(url_redirect::Column::ToUrl.eq(old.url.as_str()))
        .exec(transaction)
        .await
        .map_err(storage_error)?;
    let target = url_redirect::ActiveModel {
        id: NotSet,
        to_url: Set(new_url.to_owned()),
        status_code: Set(301),
    }
    .insert(transaction)
    .await
    .map_err(storage_error)?;
    url::ActiveModel {
        id: Set(old.id),
        product_abstract_id: Set(None),
        category_node_id: Set(None),
        url_redirect_id: Set(Some(target.id)),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(transaction)
    .await
    .map_err(storage_error)?;
    Ok(())
}

/// Reuses a row that only redirects (nobody's page any more) for `entry`, dropping its redirect.
async fn take_over(
    transaction: &DatabaseTransaction,
    owner: UrlOwner,
    row: &url::Model,
    entry: &WantedUrl,
    now: i64,
) -> Result<(), DomainError> {
    let mut active = url::ActiveModel {
        id: Set(row.id),
        locale_id: Set(entry.locale_id),
        updated_at: Set(now),
        ..Default::default()
    };
    owner.assign(&mut active);
    active.update(transaction).await.map_err(storage_error)?;
    if let Some(redirect_id) = row.url_redirect_id {
        // Only after the row no longer references it: deleting a redirect cascades to its URL rows.
        url_redirect::Entity::delete_by_id(redirect_id)
            .exec(transaction)
            .await
            .map_err(storage_error)?;
    }
    Ok(())
}

/// Current URLs of the given owners: `{(owner id, locale id) → url}`, in one query. `owner_of` reads
/// the owner id back from the column `owner_column` selects on.
async fn current_urls<C: ConnectionTrait>(
    connection: &C,
    owner_column: url::Column,
    owner_of: fn(&url::Model) -> Option<i64>,
    owner_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<(i64, i64), String>, DomainError> {
    let owner_ids: Vec<i64> = owner_ids.into_iter().collect();
    if owner_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = url::Entity::find()
        .filter(owner_column.is_in(owner_ids))
        .all(connection)
        .await
        .map_err(storage_error)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| owner_of(&row).map(|owner| ((owner, row.locale_id), row.url)))
        .collect())
}
