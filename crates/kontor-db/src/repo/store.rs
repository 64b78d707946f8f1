//! Stores, locales and currencies in SQL.

use super::resource::SqlResource;
use super::rows_in;
use super::{
    References, contains_ignoring_case, fail_on, group_by, insert_all, names_by_id, resolve, storage_error, stored,
};
use crate::entity::{currency, locale, store, store_currency, store_locale};
use kontor_core::{CurrencyCode, LocaleName, StoreName};
use kontor_domain::store::{CurrencyAttributes, LocaleAttributes, StoreAttributes};
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder,
};

impl SqlResource for LocaleAttributes {
    type Entity = locale::Entity;

    fn id_column() -> locale::Column {
        locale::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        _now: i64,
    ) -> Result<i64, DomainError> {
        let row = locale::ActiveModel {
            id: id.map_or(NotSet, Set),
            name: Set(attributes.name.to_string()),
            is_active: Set(attributes.is_active),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        Ok(saved.map_err(storage_error)?.id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = locale::Entity::find()
            .filter(locale::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(locale::Column::Id)
            .all(connection)
            .await
            .map_err(storage_error)?;
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                Ok(LocaleAttributes {
                    name: stored(LocaleName::parse(&row.name), "locale", &row.name)?,
                    is_active: row.is_active,
                })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(contains_ignoring_case(locale::Column::Name, name));
        }
        condition
    }
}

impl SqlResource for CurrencyAttributes {
    type Entity = currency::Entity;

    fn id_column() -> currency::Column {
        currency::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        _now: i64,
    ) -> Result<i64, DomainError> {
        let row = currency::ActiveModel {
            id: id.map_or(NotSet, Set),
            code: Set(attributes.code.to_string()),
            name: Set(attributes.name.trim().to_owned()),
            fraction_digits: Set(i32::from(attributes.fraction_digits)),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        Ok(saved.map_err(storage_error)?.id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<currency::Entity, _>(connection, currency::Column::Id, ids).await?;
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                Ok(CurrencyAttributes {
                    code: stored(CurrencyCode::parse(&row.code), "currency", &row.code)?,
                    name: row.name,
                    fraction_digits: u8::try_from(row.fraction_digits).unwrap_or(2),
                })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(
                Condition::any()
                    .add(contains_ignoring_case(currency::Column::Code, name))
                    .add(contains_ignoring_case(currency::Column::Name, name)),
            );
        }
        condition
    }
}

impl SqlResource for StoreAttributes {
    type Entity = store::Entity;

    fn id_column() -> store::Column {
        store::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut locale_refs = References::default();
        locale_refs.add("/defaultLocale", attributes.default_locale.as_str());
        for (index, locale) in attributes.locales.iter().enumerate() {
            locale_refs.add(format!("/locales/{index}"), locale.as_str());
        }
        let mut currency_refs = References::default();
        currency_refs.add("/defaultCurrency", attributes.default_currency.as_str());
        for (index, currency) in attributes.currencies.iter().enumerate() {
            currency_refs.add(format!("/currencies/{index}"), currency.as_str());
        }
        let mut errors = Vec::new();
        let locale_ids = resolve::<locale::Entity, _>(
            transaction,
            locale::Column::Name,
            locale::Column::Id,
            &locale_refs,
            "locale",
            &mut errors,
        )
        .await?;
        let currency_ids = resolve::<currency::Entity, _>(
            transaction,
            currency::Column::Code,
            currency::Column::Id,
            &currency_refs,
            "currency",
            &mut errors,
        )
        .await?;
        fail_on(errors)?;

        let row = store::ActiveModel {
            id: id.map_or(NotSet, Set),
            name: Set(attributes.name.to_string()),
            default_locale_id: Set(locale_ids[attributes.default_locale.as_str()]),
            default_currency_id: Set(currency_ids[attributes.default_currency.as_str()]),
            timezone: Set(attributes.timezone.trim().to_owned()),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let store_id = saved.map_err(storage_error)?.id;

        store_locale::Entity::delete_many()
            .filter(store_locale::Column::StoreId.eq(store_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        store_currency::Entity::delete_many()
            .filter(store_currency::Column::StoreId.eq(store_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let locale_rows = attributes
            .locales
            .iter()
            .enumerate()
            .map(|(position, locale)| store_locale::ActiveModel {
                store_id: Set(store_id),
                locale_id: Set(locale_ids[locale.as_str()]),
                position: Set(position_of(position)),
            });
        insert_all(transaction, locale_rows.collect()).await?;
        let currency_rows =
            attributes
                .currencies
                .iter()
                .enumerate()
                .map(|(position, currency)| store_currency::ActiveModel {
                    store_id: Set(store_id),
                    currency_id: Set(currency_ids[currency.as_str()]),
                    position: Set(position_of(position)),
                });
        insert_all(transaction, currency_rows.collect()).await?;
        Ok(store_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<store::Entity, _>(connection, store::Column::Id, ids).await?;
        let locale_links = store_locale::Entity::find()
            .filter(store_locale::Column::StoreId.is_in(ids.iter().copied()))
            .order_by_asc(store_locale::Column::Position)
            .all(connection)
            .await
            .map_err(storage_error)?;
        let currency_links = store_currency::Entity::find()
            .filter(store_currency::Column::StoreId.is_in(ids.iter().copied()))
            .order_by_asc(store_currency::Column::Position)
            .all(connection)
            .await
            .map_err(storage_error)?;
        let locale_names = names_by_id::<locale::Entity, _>(
            connection,
            locale::Column::Id,
            locale::Column::Name,
            locale_links
                .iter()
                .map(|link| link.locale_id)
                .chain(rows.iter().map(|row| row.default_locale_id)),
        )
        .await?;
        let currency_codes = names_by_id::<currency::Entity, _>(
            connection,
            currency::Column::Id,
            currency::Column::Code,
            currency_links
                .iter()
                .map(|link| link.currency_id)
                .chain(rows.iter().map(|row| row.default_currency_id)),
        )
        .await?;
        let mut locales_by_store = group_by(locale_links, |link| link.store_id);
        let mut currencies_by_store = group_by(currency_links, |link| link.store_id);
        let locale = |id: i64| -> Result<LocaleName, DomainError> {
            let name = locale_names.get(&id).map_or("", String::as_str);
            stored(LocaleName::parse(name), "locale", name)
        };
        let currency = |id: i64| -> Result<CurrencyCode, DomainError> {
            let code = currency_codes.get(&id).map_or("", String::as_str);
            stored(CurrencyCode::parse(code), "currency", code)
        };
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let locales = locales_by_store.remove(&row.id).unwrap_or_default();
                let currencies = currencies_by_store.remove(&row.id).unwrap_or_default();
                Ok(StoreAttributes {
                    name: stored(StoreName::parse(&row.name), "store", &row.name)?,
                    default_locale: locale(row.default_locale_id)?,
                    default_currency: currency(row.default_currency_id)?,
                    locales: locales
                        .iter()
                        .map(|link| locale(link.locale_id))
                        .collect::<Result<_, _>>()?,
                    currencies: currencies
                        .iter()
                        .map(|link| currency(link.currency_id))
                        .collect::<Result<_, _>>()?,
                    timezone: row.timezone,
                })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(contains_ignoring_case(store::Column::Name, name));
        }
        condition
    }
}

fn position_of(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// Converts rows to records in the order of `ids`, which is the order a page was selected in.
pub(crate) fn in_id_order<Row, R>(
    ids: &[i64],
    rows: Vec<Row>,
    id_of: impl Fn(&Row) -> i64,
    mut convert: impl FnMut(Row) -> Result<R, DomainError>,
) -> Result<Vec<(i64, R)>, DomainError> {
    let mut by_id: std::collections::HashMap<i64, Row> = rows.into_iter().map(|row| (id_of(&row), row)).collect();
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(row) = by_id.remove(id) {
            records.push((*id, convert(row)?));
        }
    }
    Ok(records)
}
