//! One implementation of the domain's `ResourceRepository` for every resource stored in SQL.
//!
//! A resource says how to write its rows ([`SqlResource::write`]), how to load a batch of records
//! ([`SqlResource::load`], a fixed number of queries whatever the batch size) and how to filter a list;
//! transactions, outbox rows, not-found handling and paging live here once.

use super::{SqlDatabase, record_change, storage_error};
use async_trait::async_trait;
use kontor_core::Page;
use kontor_domain::outbox::ChangeKind;
use kontor_domain::{DomainError, ListQuery, Record, Resource, ResourceRepository, Valid};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::future::Future;

pub(crate) trait SqlResource: Resource {
    type Entity: EntityTrait<Model: Sync>;

    fn id_column() -> <Self::Entity as EntityTrait>::Column;

    /// Inserts (`id` none) or overwrites (`id` given) the record and its child rows inside
    /// `transaction`, checking every reference; returns the record's id.
    fn write(
        transaction: &DatabaseTransaction,
        id: Option<i64>,
        attributes: &Self,
        now: i64,
    ) -> impl Future<Output = Result<i64, DomainError>> + Send;

    /// Loads the records with these ids, in that order, skipping ids that do not exist.
    fn load<C: ConnectionTrait + Sync>(
        connection: &C,
        ids: &[i64],
    ) -> impl Future<Output = Result<Vec<(i64, Self)>, DomainError>> + Send;

    /// The condition a list query's filters add; the domain has already rejected unsupported ones.
    fn list_filter(_query: &ListQuery) -> Condition {
        Condition::all()
    }

    /// The ids of the rows this record points to that publishers route by, such as
    /// `{"fk_product_abstract": [12]}` for a price; stored with the outbox row so that even a delete can
    /// be routed to the documents it affects.
    fn foreign_keys(
        _transaction: &DatabaseTransaction,
        _id: i64,
    ) -> impl Future<Output = Result<ForeignKeys, DomainError>> + Send {
        async { Ok(ForeignKeys::default()) }
    }
}

/// Foreign keys of a changed row, by name; several values when an update moved the row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ForeignKeys(std::collections::BTreeMap<&'static str, Vec<i64>>);

impl ForeignKeys {
    pub fn add(&mut self, name: &'static str, id: Option<i64>) {
        if let Some(id) = id {
            let ids = self.0.entry(name).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    pub fn merge(mut self, other: ForeignKeys) -> Self {
        for (name, ids) in other.0 {
            for id in ids {
                self.add(name, Some(id));
            }
        }
        self
    }

    /// `{"fk_product_abstract": [12]}`, or nothing when there are none.
    pub fn to_json(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }
}

async fn load_one<R: SqlResource, C: ConnectionTrait + Sync>(
    connection: &C,
    id: i64,
) -> Result<Record<R>, DomainError> {
    R::load(connection, &[id])
        .await?
        .into_iter()
        .next()
        .map(|(id, attributes)| Record {
            id: R::Id::from(id),
            attributes,
        })
        .ok_or_else(|| DomainError::not_found(R::TYPE, id))
}

async fn exists<R: SqlResource>(transaction: &DatabaseTransaction, id: i64) -> Result<bool, DomainError> {
    let count = R::Entity::find()
        .filter(R::id_column().eq(id))
        .count(transaction)
        .await
        .map_err(storage_error)?;
    Ok(count > 0)
}

#[async_trait]
impl<R: SqlResource> ResourceRepository<R> for SqlDatabase {
    async fn create(&self, attributes: &Valid<R>) -> Result<Record<R>, DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let now = self.now_micros();
        let id = R::write(&transaction, None, attributes, now).await?;
        let foreign_keys = R::foreign_keys(&transaction, id).await?;
        record_change(&transaction, R::OUTBOX, id, ChangeKind::Create, &foreign_keys, now).await?;
        let record = load_one::<R, _>(&transaction, id).await?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(record)
    }

    async fn get(&self, id: R::Id) -> Result<Record<R>, DomainError> {
        load_one::<R, _>(self.connection(), id.into()).await
    }

    async fn update(&self, id: R::Id, attributes: &Valid<R>) -> Result<Record<R>, DomainError> {
        let raw_id: i64 = id.into();
        let (transaction, _turn) = self.write_transaction().await?;
        if !exists::<R>(&transaction, raw_id).await? {
            return Err(DomainError::not_found(R::TYPE, raw_id));
        }
        let now = self.now_micros();
        let before = R::foreign_keys(&transaction, raw_id).await?;
        R::write(&transaction, Some(raw_id), attributes, now).await?;
        let foreign_keys = before.merge(R::foreign_keys(&transaction, raw_id).await?);
        record_change(&transaction, R::OUTBOX, raw_id, ChangeKind::Update, &foreign_keys, now).await?;
        let record = load_one::<R, _>(&transaction, raw_id).await?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(record)
    }

    async fn delete(&self, id: R::Id) -> Result<(), DomainError> {
        let raw_id: i64 = id.into();
        let (transaction, _turn) = self.write_transaction().await?;
        let foreign_keys = R::foreign_keys(&transaction, raw_id).await?;
        let deleted = R::Entity::delete_many()
            .filter(R::id_column().eq(raw_id))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        if deleted.rows_affected == 0 {
            return Err(DomainError::not_found(R::TYPE, raw_id));
        }
        record_change(
            &transaction,
            R::OUTBOX,
            raw_id,
            ChangeKind::Delete,
            &foreign_keys,
            self.now_micros(),
        )
        .await?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<Record<R>>, DomainError> {
        let filter = R::list_filter(query);
        let total = R::Entity::find()
            .filter(filter.clone())
            .count(self.connection())
            .await
            .map_err(storage_error)?;
        let ids: Vec<i64> = R::Entity::find()
            .select_only()
            .column(R::id_column())
            .filter(filter)
            .order_by_asc(R::id_column())
            .offset(query.page.offset)
            .limit(query.page.limit)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        let records = R::load(self.connection(), &ids).await?;
        let items = records
            .into_iter()
            .map(|(id, attributes)| Record {
                id: R::Id::from(id),
                attributes,
            })
            .collect();
        Ok(Page {
            items,
            total,
            request: query.page,
        })
    }
}
