//! Glossary keys in SQL: one `glossary_key` row and one `glossary_translation` row per locale.
//!
//! A write replaces all translations of the key, so the stored set always equals the last input.

use super::resource::SqlResource;
use super::rows_in;
use super::store::in_id_order;
use super::{
    References, contains_ignoring_case, fail_on, group_by, insert_all, names_by_id, resolve, storage_error, stored,
};
use crate::entity::{glossary_key, glossary_translation, locale};
use kontor_core::LocaleName;
use kontor_domain::glossary::GlossaryKeyAttributes;
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use std::collections::BTreeMap;

impl SqlResource for GlossaryKeyAttributes {
    type Entity = glossary_key::Entity;

    fn id_column() -> glossary_key::Column {
        glossary_key::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut locale_refs = References::default();
        for locale in attributes.translations.keys() {
            locale_refs.add(format!("/translations/{locale}"), locale.as_str());
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
        fail_on(errors)?;

        let row = glossary_key::ActiveModel {
            id: id.map_or(NotSet, Set),
            key: Set(attributes.key.clone()),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let key_id = saved.map_err(storage_error)?.id;

        glossary_translation::Entity::delete_many()
            .filter(glossary_translation::Column::GlossaryKeyId.eq(key_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let translation_rows =
            attributes
                .translations
                .iter()
                .map(|(locale, value)| glossary_translation::ActiveModel {
                    id: NotSet,
                    glossary_key_id: Set(key_id),
                    locale_id: Set(locale_ids[locale.as_str()]),
                    value: Set(value.clone()),
                });
        insert_all(transaction, translation_rows.collect()).await?;
        Ok(key_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<glossary_key::Entity, _>(connection, glossary_key::Column::Id, ids).await?;
        let translations =
            rows_in::<glossary_translation::Entity, _>(connection, glossary_translation::Column::GlossaryKeyId, ids)
                .await?;
        let locale_names = names_by_id::<locale::Entity, _>(
            connection,
            locale::Column::Id,
            locale::Column::Name,
            translations.iter().map(|translation| translation.locale_id),
        )
        .await?;
        let mut translations_by_key = group_by(translations, |translation| translation.glossary_key_id);
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let mut texts = BTreeMap::new();
                for translation in translations_by_key.remove(&row.id).unwrap_or_default() {
                    let name = locale_names.get(&translation.locale_id).map_or("", String::as_str);
                    texts.insert(stored(LocaleName::parse(name), "locale", name)?, translation.value);
                }
                Ok(GlossaryKeyAttributes {
                    key: row.key,
                    translations: texts,
                })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(contains_ignoring_case(glossary_key::Column::Key, name));
        }
        condition
    }
}
