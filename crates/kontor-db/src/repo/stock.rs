//! Warehouses and stock in SQL.
//!
//! A warehouse is a `warehouse` row plus one `warehouse_store` link per store it delivers to; a write
//! replaces the links. The links keep no order, so stores read back sorted by name. Stock is one
//! `stock_product` row per concrete product × warehouse.

use super::resource::SqlResource;
use super::rows_in;
use super::store::in_id_order;
use super::{
    References, contains_ignoring_case, fail_on, group_by, insert_all, names_by_id, resolve, starts_with,
    storage_error, stored,
};
use crate::entity::{product_concrete, stock_product, store, warehouse, warehouse_store};
use kontor_core::{Sku, StoreName};
use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
use kontor_domain::{DomainError, ListQuery};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait,
};

impl SqlResource for WarehouseAttributes {
    type Entity = warehouse::Entity;

    fn id_column() -> warehouse::Column {
        warehouse::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut store_refs = References::default();
        for (index, store) in attributes.stores.iter().enumerate() {
            store_refs.add(format!("/stores/{index}"), store.as_str());
        }
        let mut errors = Vec::new();
        let store_ids = resolve::<store::Entity, _>(
            transaction,
            store::Column::Name,
            store::Column::Id,
            &store_refs,
            "store",
            &mut errors,
        )
        .await?;
        fail_on(errors)?;

        let row = warehouse::ActiveModel {
            id: id.map_or(NotSet, Set),
            name: Set(attributes.name.trim().to_owned()),
            is_active: Set(attributes.is_active),
            created_at: if id.is_some() { NotSet } else { Set(now) },
            updated_at: Set(now),
        };
        let saved = if id.is_some() {
            row.update(transaction).await
        } else {
            row.insert(transaction).await
        };
        let warehouse_id = saved.map_err(storage_error)?.id;

        warehouse_store::Entity::delete_many()
            .filter(warehouse_store::Column::WarehouseId.eq(warehouse_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let links = attributes.stores.iter().map(|store| warehouse_store::ActiveModel {
            warehouse_id: Set(warehouse_id),
            store_id: Set(store_ids[store.as_str()]),
        });
        insert_all(transaction, links.collect()).await?;
        Ok(warehouse_id)
    }

    async fn load<C: ConnectionTrait + Sync>(connection: &C, ids: &[i64]) -> Result<Vec<(i64, Self)>, DomainError> {
        let rows = rows_in::<warehouse::Entity, _>(connection, warehouse::Column::Id, ids).await?;
        let links =
            rows_in::<warehouse_store::Entity, _>(connection, warehouse_store::Column::WarehouseId, ids).await?;
        let store_names = names_by_id::<store::Entity, _>(
            connection,
            store::Column::Id,
            store::Column::Name,
            links.iter().map(|link| link.store_id),
        )
        .await?;
        let mut links_by_warehouse = group_by(links, |link| link.warehouse_id);
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let mut stores = links_by_warehouse
                    .remove(&row.id)
                    .unwrap_or_default()
                    .iter()
                    .map(|link| {
                        let name = store_names.get(&link.store_id).map_or("", String::as_str);
                        stored(StoreName::parse(name), "store", name)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                stores.sort();
                Ok(WarehouseAttributes {
                    name: row.name,
                    is_active: row.is_active,
                    stores,
                })
            },
        )
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(name) = &query.name {
            condition = condition.add(contains_ignoring_case(warehouse::Column::Name, name));
        }
        condition
    }
}

impl SqlResource for StockAttributes {
    type Entity = stock_product::Entity;

    fn id_column() -> stock_product::Column {
        stock_product::Column::Id
    }

    async fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> Result<i64, DomainError> {
        let mut product_refs = References::default();
        product_refs.add("/sku", attributes.sku.as_str());
        // Warehouse names are stored trimmed, so they are looked up trimmed.
        let warehouse_name = attributes.warehouse.trim();
        let mut warehouse_refs = References::default();
        warehouse_refs.add("/warehouse", warehouse_name);
        let mut errors = Vec::new();
        let product_ids = resolve::<product_concrete::Entity, _>(
            transaction,
            product_concrete::Column::Sku,
            product_concrete::Column::Id,
            &product_refs,
            "concrete product",
            &mut errors,
        )
        .await?;
        let warehouse_ids = resolve::<warehouse::Entity, _>(
            transaction,
            warehouse::Column::Name,
            warehouse::Column::Id,
            &warehouse_refs,
            "warehouse",
            &mut errors,
        )
        .await?;
        fail_on(errors)?;
        let product_id = product_ids[attributes.sku.as_str()];
        let warehouse_id = warehouse_ids[warehouse_name];

        // Checked up front for a clear answer; the unique index still guards against a concurrent writer.
        let mut taken = stock_product::Entity::find()
            .filter(stock_product::Column::ProductConcreteId.eq(product_id))
            .filter(stock_product::Column::WarehouseId.eq(warehouse_id));
        if let Some(id) = id {
            taken = taken.filter(stock_product::Column::Id.ne(id));
        }
        if taken.count(transaction).await.map_err(storage_error)? > 0 {
            return Err(DomainError::conflict(
                "/warehouse",
                format!("{} already has stock in warehouse {warehouse_name}", attributes.sku),
            ));
        }

        let row = stock_product::ActiveModel {
            id: id.map_or(NotSet, Set),
            product_concrete_id: Set(product_id),
            warehouse_id: Set(warehouse_id),
            quantity: Set(attributes.quantity),
            is_never_out_of_stock: Set(attributes.is_never_out_of_stock),
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
        let rows = rows_in::<stock_product::Entity, _>(connection, stock_product::Column::Id, ids).await?;
        let skus = names_by_id::<product_concrete::Entity, _>(
            connection,
            product_concrete::Column::Id,
            product_concrete::Column::Sku,
            rows.iter().map(|row| row.product_concrete_id),
        )
        .await?;
        let warehouse_names = names_by_id::<warehouse::Entity, _>(
            connection,
            warehouse::Column::Id,
            warehouse::Column::Name,
            rows.iter().map(|row| row.warehouse_id),
        )
        .await?;
        in_id_order(
            ids,
            rows,
            |row| row.id,
            |row| {
                let sku = skus.get(&row.product_concrete_id).map_or("", String::as_str);
                Ok(StockAttributes {
                    sku: stored(Sku::parse(sku), "sku", sku)?,
                    warehouse: warehouse_names.get(&row.warehouse_id).cloned().unwrap_or_default(),
                    quantity: row.quantity,
                    is_never_out_of_stock: row.is_never_out_of_stock,
                })
            },
        )
    }

    async fn foreign_keys(
        transaction: &DatabaseTransaction,
        id: i64,
    ) -> Result<crate::repo::resource::ForeignKeys, DomainError> {
        crate::repo::foreign_keys::of_stock(transaction, id).await
    }

    fn list_filter(query: &ListQuery) -> Condition {
        let mut condition = Condition::all();
        if let Some(sku) = &query.sku {
            let concrete_ids = product_concrete::Entity::find()
                .select_only()
                .column(product_concrete::Column::Id)
                .filter(starts_with(product_concrete::Column::Sku, sku))
                .into_query();
            condition = condition.add(stock_product::Column::ProductConcreteId.in_subquery(concrete_ids));
        }
        condition
    }
}
