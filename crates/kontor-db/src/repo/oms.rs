//! SQL storage of the OMS runtime (`OmsRepository`, oms.md §5): order locks with expiry, item moves
//! in one transaction each (state, history, log, timeouts, reservations, outbox), timeouts, the
//! transition log and its purge in bounded batches, and the stock and payment changes of the built-in
//! commands.

use super::orders::{active_warehouses, adjust_reservation};
use super::{SqlDatabase, record_change, storage_error};
use crate::entity::orders::{
    oms_command_run, oms_event_timeout, oms_lock, oms_state_history, oms_transition_log, sales_order, sales_order_item,
    sales_payment,
};
use crate::entity::{product_concrete, stock_product};
use crate::repo::resource::ForeignKeys;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_domain::DomainError;
use kontor_domain::oms::{DueTimeout, ItemMove, OmsRepository, TransitionFailure, TransitionLogRow};
use kontor_domain::outbox::ChangeKind;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, SqlErr,
};
use std::collections::HashMap;

fn storage(error: DbErr) -> DomainError {
    storage_error(error)
}

/// Inserts the idempotency key of a command step; false if it was there already.
async fn claim_key(transaction: &DatabaseTransaction, key: &str, now: i64) -> Result<bool, DbErr> {
    let exists = oms_command_run::Entity::find_by_id(key.to_owned())
        .one(transaction)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    oms_command_run::ActiveModel {
        idempotency_key: Set(key.to_owned()),
        created_at: Set(now),
    }
    .insert(transaction)
    .await?;
    Ok(true)
}

/// The order items among `item_ids` with their concrete ids, and the order's store.
async fn items_of(
    transaction: &DatabaseTransaction,
    order_id: i64,
    item_ids: &[i64],
) -> Result<Vec<sales_order_item::Model>, DbErr> {
    sales_order_item::Entity::find()
        .filter(sales_order_item::Column::OrderId.eq(order_id))
        .filter(sales_order_item::Column::Id.is_in(item_ids.iter().copied()))
        .all(transaction)
        .await
}

/// The store an order was placed in.
async fn store_of(transaction: &DatabaseTransaction, order_id: i64) -> Result<i64, DbErr> {
    sales_order::Entity::find_by_id(order_id)
        .select_only()
        .column(sales_order::Column::StoreId)
        .into_tuple()
        .one(transaction)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("order {order_id}")))
}

/// Changes one stock row by `delta` and announces it.
async fn change_stock(
    transaction: &DatabaseTransaction,
    row: &stock_product::Model,
    delta: i64,
    now: i64,
) -> Result<(), DomainError> {
    stock_product::Entity::update_many()
        .col_expr(
            stock_product::Column::Quantity,
            Expr::col(stock_product::Column::Quantity).add(delta),
        )
        .filter(stock_product::Column::Id.eq(row.id))
        .exec(transaction)
        .await
        .map_err(storage)?;
    let keys = super::foreign_keys::of_stock(transaction, row.id).await?;
    record_change(transaction, "stock_product", row.id, ChangeKind::Update, &keys, now).await
}

impl SqlDatabase {
    /// Takes an order lock by reading it under a row lock (MariaDB: see `try_lock`).
    async fn try_lock_by_reading(
        &self,
        identifier: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let current = oms_lock::Entity::find_by_id(identifier.to_owned())
            .lock_exclusive()
            .one(&transaction)
            .await
            .map_err(storage)?;
        let taken = match current {
            Some(lock) if lock.holder != holder && lock.expires_at > now.timestamp_micros() => false,
            Some(_) => {
                oms_lock::Entity::update_many()
                    .col_expr(oms_lock::Column::Holder, Expr::value(holder))
                    .col_expr(oms_lock::Column::ExpiresAt, Expr::value(until.timestamp_micros()))
                    .filter(oms_lock::Column::Identifier.eq(identifier))
                    .exec(&transaction)
                    .await
                    .map_err(storage)?;
                true
            }
            None => {
                let inserted = oms_lock::ActiveModel {
                    identifier: Set(identifier.to_owned()),
                    holder: Set(holder.to_owned()),
                    expires_at: Set(until.timestamp_micros()),
                }
                .insert(&transaction)
                .await;
                match inserted {
                    Ok(_) => true,
                    // Someone inserted it first: theirs.
                    Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                        return Ok(false);
                    }
                    Err(error) if error.to_string().to_ascii_lowercase().contains("deadlock") => return Ok(false),
                    Err(error) => return Err(storage(error)),
                }
            }
        };
        transaction.commit().await.map_err(storage)?;
        Ok(taken)
    }
}

#[async_trait]
impl OmsRepository for SqlDatabase {
    async fn try_lock(
        &self,
        identifier: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        // MariaDB reports a found duplicate as affected (sqlx sets CLIENT_FOUND_ROWS), so an upsert cannot
        // tell it whether it took the lock: there the lock is read under a row lock instead.
        if self.backend() == DbBackend::MySql {
            return self.try_lock_by_reading(identifier, holder, until, now).await;
        }
        // One upsert takes a free lock, an expired one or this holder's own; a lock held by another
        // holder is left alone, and the upsert affects no row.
        let row = oms_lock::ActiveModel {
            identifier: Set(identifier.to_owned()),
            holder: Set(holder.to_owned()),
            expires_at: Set(until.timestamp_micros()),
        };
        let current_holder = Expr::col((oms_lock::Entity, oms_lock::Column::Holder));
        let current_expiry = Expr::col((oms_lock::Entity, oms_lock::Column::ExpiresAt));
        let upsert = oms_lock::Entity::insert(row)
            .on_conflict(
                OnConflict::column(oms_lock::Column::Identifier)
                    .update_columns([oms_lock::Column::Holder, oms_lock::Column::ExpiresAt])
                    .action_and_where(current_holder.eq(holder).or(current_expiry.lte(now.timestamp_micros())))
                    .to_owned(),
            )
            .into_query();
        Ok(self.execute_write(&upsert).await? == 1)
    }

    async fn unlock(&self, identifier: &str, holder: &str) -> Result<(), DomainError> {
        let delete = oms_lock::Entity::delete_many()
            .filter(oms_lock::Column::Identifier.eq(identifier))
            .filter(oms_lock::Column::Holder.eq(holder))
            .into_query();
        self.execute_write(&delete).await?;
        Ok(())
    }

    async fn purge_locks(&self, before: DateTime<Utc>) -> Result<u64, DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let deleted = oms_lock::Entity::delete_many()
            .filter(oms_lock::Column::ExpiresAt.lt(before.timestamp_micros()))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)?;
        Ok(deleted.rows_affected)
    }

    async fn apply_moves(
        &self,
        order_id: i64,
        moves: &[ItemMove],
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, DomainError> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let now_micros = now.timestamp_micros();
        let (transaction, _turn) = self.write_transaction().await?;
        let item_ids: Vec<i64> = moves.iter().map(|item_move| item_move.item_id).collect();
        let items = items_of(&transaction, order_id, &item_ids).await.map_err(storage)?;
        let items: HashMap<i64, sales_order_item::Model> = items.into_iter().map(|item| (item.id, item)).collect();
        let mut moved = Vec::new();
        let mut follow_up = false;
        let mut reservation: HashMap<String, i64> = HashMap::new();
        let mut history = Vec::new();
        let mut log = Vec::new();
        let mut timeouts = Vec::new();
        for item_move in moves {
            let Some(item) = items.get(&item_move.item_id) else {
                continue;
            };
            // Only from the state the engine saw: a concurrent run that moved it first wins.
            let updated = sales_order_item::Entity::update_many()
                .col_expr(
                    sales_order_item::Column::OmsState,
                    Expr::value(item_move.target.as_str()),
                )
                .col_expr(sales_order_item::Column::OmsStateEnteredAt, Expr::value(now_micros))
                .col_expr(
                    sales_order_item::Column::OmsLastCheckedAt,
                    Expr::value(Option::<i64>::None),
                )
                .filter(sales_order_item::Column::Id.eq(item.id))
                .filter(sales_order_item::Column::OmsState.eq(item_move.source.as_str()))
                .exec(&transaction)
                .await
                .map_err(storage)?;
            if updated.rows_affected == 0 {
                continue;
            }
            moved.push(item.id);
            follow_up |= item_move.follow_up;
            history.push(oms_state_history::ActiveModel {
                id: NotSet,
                order_item_id: Set(item.id),
                process: Set(item.oms_process.clone()),
                state: Set(item_move.target.clone()),
                entered_at: Set(now_micros),
            });
            log.push(oms_transition_log::ActiveModel {
                id: NotSet,
                order_id: Set(order_id),
                order_item_id: Set(item.id),
                event: Set(item_move.event.clone()),
                source_state: Set(item_move.source.clone()),
                target_state: Set(Some(item_move.target.clone())),
                command_key: Set(item_move.command.clone()),
                condition_key: Set(item_move.condition.clone()),
                origin: Set(origin.to_owned()),
                is_error: Set(false),
                error_message: Set(None),
                created_at: Set(now_micros),
            });
            timeouts.extend(
                item_move
                    .timeouts
                    .iter()
                    .map(|(event, due_at)| oms_event_timeout::ActiveModel {
                        id: NotSet,
                        order_item_id: Set(item.id),
                        order_id: Set(order_id),
                        state: Set(item_move.target.clone()),
                        event: Set(event.clone()),
                        due_at: Set(due_at.timestamp_micros()),
                        attempts: Set(0),
                    }),
            );
            let delta = match (item_move.source_reserved, item_move.target_reserved) {
                (false, true) => item.quantity,
                (true, false) => -item.quantity,
                _ => 0,
            };
            if delta != 0 {
                *reservation.entry(item.sku.clone()).or_default() += delta;
            }
        }
        if moved.is_empty() {
            transaction.commit().await.map_err(storage)?;
            return Ok(moved);
        }
        // What the moved items left and entered: one statement per table, whatever the number of items.
        oms_state_history::Entity::insert_many(history)
            .exec_without_returning(&transaction)
            .await
            .map_err(storage)?;
        oms_transition_log::Entity::insert_many(log)
            .exec_without_returning(&transaction)
            .await
            .map_err(storage)?;
        // The timeouts of the states the items left end with them.
        oms_event_timeout::Entity::delete_many()
            .filter(oms_event_timeout::Column::OrderItemId.is_in(moved.iter().copied()))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        if !timeouts.is_empty() {
            oms_event_timeout::Entity::insert_many(timeouts)
                .exec_without_returning(&transaction)
                .await
                .map_err(storage)?;
        }
        let mut skus: Vec<(String, i64)> = reservation.into_iter().collect();
        // A fixed order of reservation rows keeps concurrent transactions from deadlocking.
        skus.sort();
        // The order's store is read only when a reservation changes.
        if !skus.is_empty() {
            let store_id = store_of(&transaction, order_id).await.map_err(storage)?;
            for (sku, delta) in skus {
                adjust_reservation(&transaction, &sku, store_id, delta, now_micros)
                    .await
                    .map_err(storage)?;
            }
        }
        if follow_up {
            record_change(
                &transaction,
                "sales_order",
                order_id,
                ChangeKind::Update,
                &ForeignKeys::default(),
                now_micros,
            )
            .await?;
        }
        transaction.commit().await.map_err(storage)?;
        Ok(moved)
    }

    async fn log_failure(&self, failure: &TransitionFailure, now: DateTime<Utc>) -> Result<(), DomainError> {
        oms_transition_log::ActiveModel {
            id: NotSet,
            order_id: Set(failure.order_id),
            order_item_id: Set(failure.item_id),
            event: Set(failure.event.clone()),
            source_state: Set(failure.source.clone()),
            target_state: Set(None),
            command_key: Set(failure.command.clone()),
            condition_key: Set(failure.condition.clone()),
            origin: Set(failure.origin.clone()),
            is_error: Set(true),
            error_message: Set(Some(failure.message.clone())),
            created_at: Set(now.timestamp_micros()),
        }
        .insert(self.connection())
        .await
        .map_err(storage)?;
        Ok(())
    }

    async fn transition_log(&self, order_id: i64) -> Result<Vec<TransitionLogRow>, DomainError> {
        Ok(oms_transition_log::Entity::find()
            .filter(oms_transition_log::Column::OrderId.eq(order_id))
            .order_by_asc(oms_transition_log::Column::Id)
            .all(self.connection())
            .await
            .map_err(storage)?
            .into_iter()
            .map(|row| TransitionLogRow {
                item_id: row.order_item_id,
                event: row.event,
                source: row.source_state,
                target: row.target_state,
                command: row.command_key,
                condition: row.condition_key,
                origin: row.origin,
                error: row.error_message,
                created_at_micros: row.created_at,
            })
            .collect())
    }

    async fn delete_transition_log_batch(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, DomainError> {
        // Ids first, then a delete by primary key: one portable way to bound a delete (PostgreSQL
        // has no `DELETE … LIMIT`, MariaDB no `LIMIT` in an `IN` subquery). The select reads the
        // `created_at` index outside any transaction; only the delete takes locks, on these rows.
        let ids: Vec<i64> = oms_transition_log::Entity::find()
            .select_only()
            .column(oms_transition_log::Column::Id)
            .filter(oms_transition_log::Column::CreatedAt.lt(before.timestamp_micros()))
            .order_by_asc(oms_transition_log::Column::CreatedAt)
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(storage)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let (transaction, _turn) = self.write_transaction().await?;
        let deleted = oms_transition_log::Entity::delete_many()
            .filter(oms_transition_log::Column::Id.is_in(ids))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)?;
        Ok(deleted.rows_affected)
    }

    async fn due_timeouts(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<DueTimeout>, DomainError> {
        Ok(oms_event_timeout::Entity::find()
            .filter(oms_event_timeout::Column::DueAt.lte(now.timestamp_micros()))
            .order_by_asc(oms_event_timeout::Column::DueAt)
            .order_by_asc(oms_event_timeout::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(storage)?
            .into_iter()
            .map(|row| DueTimeout {
                id: row.id,
                order_id: row.order_id,
                item_id: row.order_item_id,
                state: row.state,
                event: row.event,
                attempts: row.attempts,
            })
            .collect())
    }

    async fn next_timeout(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        let next: Option<i64> = oms_event_timeout::Entity::find()
            .select_only()
            .column(oms_event_timeout::Column::DueAt)
            .order_by_asc(oms_event_timeout::Column::DueAt)
            .limit(1)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(storage)?;
        Ok(next.and_then(DateTime::from_timestamp_micros))
    }

    async fn postpone_timeout(&self, id: i64, due_at: DateTime<Utc>, attempts: i32) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        oms_event_timeout::Entity::update_many()
            .col_expr(oms_event_timeout::Column::DueAt, Expr::value(due_at.timestamp_micros()))
            .col_expr(oms_event_timeout::Column::Attempts, Expr::value(attempts))
            .filter(oms_event_timeout::Column::Id.eq(id))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)
    }

    async fn orders_to_check(
        &self,
        process: &str,
        states: &[String],
        entered_before: DateTime<Utc>,
        checked_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<i64>, DomainError> {
        Ok(sales_order_item::Entity::find()
            .select_only()
            .column(sales_order_item::Column::OrderId)
            .filter(sales_order_item::Column::OmsProcess.eq(process))
            .filter(sales_order_item::Column::OmsState.is_in(states.iter().cloned()))
            .filter(sales_order_item::Column::OmsStateEnteredAt.lt(entered_before.timestamp_micros()))
            .filter(
                Condition::any()
                    .add(sales_order_item::Column::OmsLastCheckedAt.is_null())
                    .add(sales_order_item::Column::OmsLastCheckedAt.lt(checked_before.timestamp_micros())),
            )
            .distinct()
            .order_by_asc(sales_order_item::Column::OrderId)
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(storage)?)
    }

    async fn mark_checked(&self, order_id: i64, now: DateTime<Utc>) -> Result<(), DomainError> {
        let update = sales_order_item::Entity::update_many()
            .col_expr(
                sales_order_item::Column::OmsLastCheckedAt,
                Expr::value(now.timestamp_micros()),
            )
            .filter(sales_order_item::Column::OrderId.eq(order_id))
            .into_query();
        self.execute_write(&update).await?;
        Ok(())
    }

    async fn update_payment(
        &self,
        payment_id: i64,
        status: &str,
        captured_amount: i64,
        refunded_amount: i64,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        sales_payment::Entity::update_many()
            .col_expr(sales_payment::Column::Status, Expr::value(status))
            .col_expr(sales_payment::Column::CapturedAmount, Expr::value(captured_amount))
            .col_expr(sales_payment::Column::RefundedAmount, Expr::value(refunded_amount))
            .col_expr(sales_payment::Column::UpdatedAt, Expr::value(now.timestamp_micros()))
            .filter(sales_payment::Column::Id.eq(payment_id))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)
    }

    async fn take_from_stock(&self, order_id: i64, item_ids: &[i64], idempotency_key: &str) -> Result<(), DomainError> {
        let now = self.now_micros();
        let (transaction, _turn) = self.write_transaction().await?;
        if !claim_key(&transaction, &format!("{idempotency_key}#stock"), now)
            .await
            .map_err(storage)?
        {
            return Ok(());
        }
        let items = items_of(&transaction, order_id, item_ids).await.map_err(storage)?;
        let store_id = store_of(&transaction, order_id).await.map_err(storage)?;
        let warehouses = active_warehouses(&transaction, store_id).await.map_err(storage)?;
        for item in items {
            let Some(concrete) = product_concrete::Entity::find()
                .filter(product_concrete::Column::Sku.eq(item.sku.as_str()))
                .one(&transaction)
                .await
                .map_err(storage)?
            else {
                continue;
            };
            let mut rows = stock_product::Entity::find()
                .filter(stock_product::Column::ProductConcreteId.eq(concrete.id))
                .filter(stock_product::Column::WarehouseId.is_in(warehouses.iter().copied()))
                .order_by_desc(stock_product::Column::Quantity)
                .order_by_asc(stock_product::Column::Id)
                .lock_exclusive()
                .all(&transaction)
                .await
                .map_err(storage)?;
            let mut remaining = item.quantity;
            for row in &mut rows {
                if remaining == 0 {
                    break;
                }
                let taken = Ord::min(remaining, Ord::max(row.quantity, 0));
                if taken > 0 {
                    change_stock(&transaction, row, -taken, now).await?;
                    remaining -= taken;
                }
            }
        }
        transaction.commit().await.map_err(storage)
    }

    async fn return_to_stock(&self, order_id: i64, item_ids: &[i64], idempotency_key: &str) -> Result<(), DomainError> {
        let now = self.now_micros();
        let (transaction, _turn) = self.write_transaction().await?;
        if !claim_key(&transaction, &format!("{idempotency_key}#stock"), now)
            .await
            .map_err(storage)?
        {
            return Ok(());
        }
        let items = items_of(&transaction, order_id, item_ids).await.map_err(storage)?;
        let store_id = store_of(&transaction, order_id).await.map_err(storage)?;
        let warehouses = active_warehouses(&transaction, store_id).await.map_err(storage)?;
        for item in items {
            let Some(concrete) = product_concrete::Entity::find()
                .filter(product_concrete::Column::Sku.eq(item.sku.as_str()))
                .one(&transaction)
                .await
                .map_err(storage)?
            else {
                continue;
            };
            let row = stock_product::Entity::find()
                .filter(stock_product::Column::ProductConcreteId.eq(concrete.id))
                .filter(stock_product::Column::WarehouseId.is_in(warehouses.iter().copied()))
                .order_by_asc(stock_product::Column::Id)
                .lock_exclusive()
                .one(&transaction)
                .await
                .map_err(storage)?;
            match row {
                Some(row) => change_stock(&transaction, &row, item.quantity, now).await?,
                None => {
                    let Some(warehouse_id) = warehouses.first().copied() else {
                        continue;
                    };
                    let row = stock_product::ActiveModel {
                        id: NotSet,
                        product_concrete_id: Set(concrete.id),
                        warehouse_id: Set(warehouse_id),
                        quantity: Set(0),
                        is_never_out_of_stock: Set(false),
                        ..Default::default()
                    }
                    .insert(&transaction)
                    .await
                    .map_err(storage)?;
                    change_stock(&transaction, &row, item.quantity, now).await?;
                }
            }
        }
        transaction.commit().await.map_err(storage)
    }

    async fn unallocatable_skus(&self, order_id: i64, item_ids: &[i64]) -> Result<Vec<String>, DomainError> {
        let connection = self.connection();
        let items = sales_order_item::Entity::find()
            .filter(sales_order_item::Column::OrderId.eq(order_id))
            .filter(sales_order_item::Column::Id.is_in(item_ids.iter().copied()))
            .all(connection)
            .await
            .map_err(storage)?;
        let store_id = sales_order::Entity::find_by_id(order_id)
            .one(connection)
            .await
            .map_err(storage)?
            .map(|order| order.store_id)
            .ok_or_else(|| DomainError::Storage(format!("order {order_id} not found")))?;
        let warehouses = active_warehouses(connection, store_id).await.map_err(storage)?;
        let skus: Vec<String> = items.iter().map(|item| item.sku.clone()).collect();
        let concretes: HashMap<i64, String> = product_concrete::Entity::find()
            .filter(product_concrete::Column::Sku.is_in(skus.iter().cloned()))
            .all(connection)
            .await
            .map_err(storage)?
            .into_iter()
            .map(|row| (row.id, row.sku))
            .collect();
        let mut held: Vec<String> = Vec::new();
        if !warehouses.is_empty() && !concretes.is_empty() {
            for row in stock_product::Entity::find()
                .filter(stock_product::Column::ProductConcreteId.is_in(concretes.keys().copied()))
                .filter(stock_product::Column::WarehouseId.is_in(warehouses))
                .all(connection)
                .await
                .map_err(storage)?
            {
                if (row.quantity > 0 || row.is_never_out_of_stock)
                    && let Some(sku) = concretes.get(&row.product_concrete_id)
                {
                    held.push(sku.clone());
                }
            }
        }
        let mut missing: Vec<String> = skus.into_iter().filter(|sku| !held.contains(sku)).collect();
        missing.sort();
        missing.dedup();
        Ok(missing)
    }

    async fn record_item_amounts(
        &self,
        order_id: i64,
        item_ids: &[i64],
        canceled: bool,
        refunded: bool,
    ) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let items = items_of(&transaction, order_id, item_ids).await.map_err(storage)?;
        let mut canceled_total = 0;
        let mut refunded_total = 0;
        for item in items {
            let mut update = sales_order_item::Entity::update_many().filter(sales_order_item::Column::Id.eq(item.id));
            if canceled && item.canceled_amount == 0 {
                canceled_total += item.sum_price;
                update = update.col_expr(sales_order_item::Column::CanceledAmount, Expr::value(item.sum_price));
            }
            if refunded && item.refunded_amount == 0 {
                refunded_total += item.sum_price;
                update = update.col_expr(sales_order_item::Column::RefundedAmount, Expr::value(item.sum_price));
            }
            if (canceled && item.canceled_amount == 0) || (refunded && item.refunded_amount == 0) {
                update.exec(&transaction).await.map_err(storage)?;
            }
        }
        sales_order::Entity::update_many()
            .col_expr(
                sales_order::Column::CanceledTotal,
                Expr::col(sales_order::Column::CanceledTotal).add(canceled_total),
            )
            .col_expr(
                sales_order::Column::RefundedTotal,
                Expr::col(sales_order::Column::RefundedTotal).add(refunded_total),
            )
            .filter(sales_order::Column::Id.eq(order_id))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)
    }

    async fn occupied_states(&self) -> Result<Vec<(String, String, u64)>, DomainError> {
        let rows: Vec<(String, String, i64)> = sales_order_item::Entity::find()
            .select_only()
            .column(sales_order_item::Column::OmsProcess)
            .column(sales_order_item::Column::OmsState)
            .column_as(sales_order_item::Column::Id.count(), "items")
            .group_by(sales_order_item::Column::OmsProcess)
            .group_by(sales_order_item::Column::OmsState)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|(process, state, items)| (process, state, u64::try_from(items).unwrap_or(0)))
            .collect())
    }

    async fn command_ran(&self, key: &str) -> Result<bool, DomainError> {
        Ok(oms_command_run::Entity::find_by_id(key.to_owned())
            .one(self.connection())
            .await
            .map_err(storage)?
            .is_some())
    }

    async fn record_command_run(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        oms_command_run::Entity::insert(oms_command_run::ActiveModel {
            idempotency_key: Set(key.to_owned()),
            created_at: Set(now.timestamp_micros()),
        })
        .on_conflict(
            OnConflict::column(oms_command_run::Column::IdempotencyKey)
                .do_nothing_on([oms_command_run::Column::IdempotencyKey])
                .to_owned(),
        )
        .exec_without_returning(self.connection())
        .await
        .map_err(storage)?;
        Ok(())
    }
}
