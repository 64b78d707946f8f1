//! Prices in SQL: one `price_product` row per product × price type × store × currency.
//!
//! The owning product is either abstract or concrete, so the row carries a natural key `price_key`
//! (`a<abstract id>` or `c<concrete id>`, then `:<price type id>:<store id>:<currency id>`) whose unique
//! index guards against a second price for the same thing; a unique index over the two nullable owner
//! columns could not, because NULLs never collide. Volume prices live in the row, as JSON.

use super::resource::SqlResource;
use super::rows_in;
use super::store::in_id_order;
use super::{fail_on, names_by_id, resolve_one, starts_with, storage_error, stored};
use crate::entity::{currency, price_product, price_type, product_abstract, product_concrete, store, store_currency};
use kontor_core::{CurrencyCode, Sku, StoreName};
use kontor_domain::pricing::{PriceAttributes, decode_volume_prices, encode_volume_prices};
use kontor_domain::{DomainError, FieldError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait,
};

/// The product a price belongs to, as resolved ids.
enum Owner {
    Abstract(i64),
    Concrete(i64),
}

impl Owner {
    fn key_prefix(&self) -> String {
        match self {
            Self::Abstract(id) => format!("a{id}"),
            Self::Concrete(id) => format!("c{id}"),
        }
    }
}

impl SqlResource for PriceAttributes {
    type Entity = price_product::Entity;

    fn id_column() -> price_product::Column {
        price_product::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut errors = Vec::new();
        let owner = resolve_owner(transaction, attributes, &mut errors).await?;
        let price_type_id = resolve_one::<price_type::Entity, _>(
            transaction,
            price_type::Column::Name,
            price_type::Column::Id,
            "/priceType",
            attributes.price_type.as_str(),
            "price type",
            &mut errors,
        )
        .await?;
        let store_id = resolve_one::<store::Entity, _>(
            transaction,
            store::Column::Name,
            store::Column::Id,
            "/store",
            attributes.store.as_str(),
            "store",
            &mut errors,
        )
        .await?;
        let currency_id = resolve_one::<currency::Entity, _>(
            transaction,
            currency::Column::Code,
            currency::Column::Id,
            "/currency",
            attributes.currency.as_str(),
            "currency",
            &mut errors,
        )
        .await?;
        // A known currency is still wrong when the store does not sell in it.
        if let (Some(store_id), Some(currency_id)) = (store_id, currency_id) {
            let sold = store_currency::Entity::find()
                .filter(store_currency::Column::StoreId.eq(store_id))
                .filter(store_currency::Column::CurrencyId.eq(currency_id))
                .count(transaction)
                .await
                .map_err(storage_error)?;
            if sold == 0 {
                errors.push(FieldError::new(
                    "/currency",
                    format!("store {} does not sell in {}", attributes.store, attributes.currency),
                ));
            }
        }
        fail_on(errors)?;
        let (Some(owner), Some(price_type_id), Some(store_id), Some(currency_id)) =
            (owner, price_type_id, store_id, currency_id)
        else {
            // Every missing reference has been reported above; this is only reached if the
            // validation let a price through without a SKU.
            return Err(DomainError::field(
                "/abstractSku",
                "either abstractSku or concreteSku is required",
            ));
        };

        let price_key = format!("{}:{price_type_id}:{store_id}:{currency_id}", owner.key_prefix());
        // Checked up front for a clear answer; the unique index still guards against a concurrent writer.
        let mut taken = price_product::Entity::find().filter(price_product::Column::PriceKey.eq(price_key.as_str()));
        if let Some(id) = id {
            taken = taken.filter(price_product::Column::Id.ne(id));
        }
        if taken.count(transaction).await.map_err(storage_error)? > 0 {
            let sku = attributes.sku().map_or_else(String::new, ToString::to_string);
            return Err(DomainError::conflict(
                "/priceType",
                format!(
                    "{sku} already has a {} price in store {} and {}",
                    attributes.price_type, attributes.store, attributes.currency
                ),
            ));
        }

        let (abstract_id, concrete_id) = match owner {
            Owner::Abstract(id) => (Some(id), None),
            Owner::Concrete(id) => (None, Some(id)),
        };
        let row = price_product::ActiveModel {
            id: id.map_or(NotSet, Set),
            price_key: Set(price_key),
            product_abstract_id: Set(abstract_id),
            product_concrete_id: Set(concrete_id),
            price_type_id: Set(price_type_id),
            store_id: Set(store_id),
            currency_id: Set(currency_id),
            net_amount: Set(attributes.net_amount),
            gross_amount: Set(attributes.gross_amount),
            volume_prices: Set(encode_volume_prices(&attributes.volume_prices)),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        Ok(saved.map_err(storage_error)?.id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<price_product::Entity, _>(connection, price_product::Column::Id, ids).await?;
        let abstract_skus = names_by_id::<product_abstract::Entity, _>(
            connection,
            product_abstract::Column::Id,
            product_abstract::Column::Sku,
            rows.iter().filter_map(|row| row.product_abstract_id),
        )
        .await?;
        let concrete_skus = names_by_id::<product_concrete::Entity, _>(
            connection,
            product_concrete::Column::Id,
            product_concrete::Column::Sku,
            rows.iter().filter_map(|row| row.product_concrete_id),
        )
        .await?;
        let type_names = names_by_id::<price_type::Entity, _>(
            connection,
            price_type::Column::Id,
            price_type::Column::Name,
            rows.iter().map(|row| row.price_type_id),
        )
        .await?;
        let store_names = names_by_id::<store::Entity, _>(
            connection,
            store::Column::Id,
            store::Column::Name,
            rows.iter().map(|row| row.store_id),
        )
        .await?;
        let currency_codes = names_by_id::<currency::Entity, _>(
            connection,
            currency::Column::Id,
            currency::Column::Code,
            rows.iter().map(|row| row.currency_id),
        )
        .await?;
        let sku =
            |skus: &std::collections::HashMap<i64, String>, id: Option<i64>| -> Result<Option<Sku>, DomainError> {
                id.map(|id| {
                    let raw = skus.get(&id).map_or("", String::as_str);
                    stored(Sku::parse(raw), "sku", raw)
                })
                .transpose()
            };
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let store_name = store_names.get(&row.store_id).map_or("", String::as_str);
                let currency_code = currency_codes.get(&row.currency_id).map_or("", String::as_str);
                Ok(PriceAttributes {
                    abstract_sku: sku(&abstract_skus, row.product_abstract_id)?,
                    concrete_sku: sku(&concrete_skus, row.product_concrete_id)?,
                    price_type: type_names.get(&row.price_type_id).cloned().unwrap_or_default(),
                    store: stored(StoreName::parse(store_name), "store", store_name)?,
                    currency: stored(CurrencyCode::parse(currency_code), "currency", currency_code)?,
                    net_amount: row.net_amount,
                    gross_amount: row.gross_amount,
                    volume_prices: decode_volume_prices(row.volume_prices.as_deref()),
                })
            },
        )
    }

    async fn foreign_keys(
        transaction: &DatabaseTransaction,
        id: i64,
    ) -> Result<crate::repo::resource::ForeignKeys, DomainError> {
        crate::repo::foreign_keys::of_price(transaction, id).await
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(sku) = &query.sku {
            let abstract_ids = product_abstract::Entity::find()
                .select_only()
                .column(product_abstract::Column::Id)
                .filter(starts_with(product_abstract::Column::Sku, sku))
                .into_query();
            let concrete_ids = product_concrete::Entity::find()
                .select_only()
                .column(product_concrete::Column::Id)
                .filter(starts_with(product_concrete::Column::Sku, sku))
                .into_query();
            condition = condition.add(
                Condition::any()
                    .add(price_product::Column::ProductAbstractId.in_subquery(abstract_ids))
                    .add(price_product::Column::ProductConcreteId.in_subquery(concrete_ids)),
            );
        }
        condition
    }
}

/// Resolves the abstract or concrete SKU, reporting an unknown one at its own pointer.
async fn resolve_owner(
    transaction: &DatabaseTransaction,
    attributes: &PriceAttributes,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Owner>, DomainError> {
    if let Some(sku) = &attributes.abstract_sku {
        let id = resolve_one::<product_abstract::Entity, _>(
            transaction,
            product_abstract::Column::Sku,
            product_abstract::Column::Id,
            "/abstractSku",
            sku.as_str(),
            "abstract product",
            errors,
        )
        .await?;
        return Ok(id.map(Owner::Abstract));
    }
    if let Some(sku) = &attributes.concrete_sku {
        let id = resolve_one::<product_concrete::Entity, _>(
            transaction,
            product_concrete::Column::Sku,
            product_concrete::Column::Id,
            "/concreteSku",
            sku.as_str(),
            "concrete product",
            errors,
        )
        .await?;
        return Ok(id.map(Owner::Concrete));
    }
    Ok(None)
}
