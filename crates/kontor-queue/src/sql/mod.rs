//! The table queue: `MessageBus` on the application's relational database (SQLite, PostgreSQL, MariaDB),
//! written once with SeaORM. The embedded default; no broker to run.
//!
//! Leases: a claim selects the oldest rows of a queue whose `available_at` has passed and, in the same
//! transaction, moves `available_at` to the lease expiry and stamps a random `lease_token`. On PostgreSQL and
//! MariaDB the select takes row locks with `FOR UPDATE SKIP LOCKED` (READ COMMITTED), so competing workers
//! claim disjoint rows without waiting on each other; SQLite has a single writer, so the claim runs in a
//! `BEGIN IMMEDIATE` transaction that takes the write lock up front. A lease that expires (the worker
//! crashed) makes the row claimable again: that is the redelivery. Ack, nack and release only touch rows that
//! still carry the delivery's lease token, so a late worker cannot settle a message someone else now holds.
//!
//! Retries update the row in place (`attempt + 1`, `available_at = now + backoff`); after the last attempt
//! the row moves to `queue_dead_letter` with the reason.

pub mod entity;

use crate::memory::age;
use crate::{
    BusOptions, DeadLetter, Delivery, MessageBus, MessageId, QueueError, QueueStats, Receipt, duration_micros,
    main_queue_name, micros_to_datetime, now_micros, poll_receive, truncate_reason, validate_queue_name,
};
use entity::{dead_letter, message, subscription};
use sea_orm::sea_query::{Expr, Func, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IsolationLevel, QueryFilter, QueryOrder, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Rows per multi-row insert; keeps statements well under every engine's bind-parameter limit.
const INSERT_CHUNK: usize = 500;

/// The SQL backend. Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct SqlBus {
    connection: DatabaseConnection,
    options: BusOptions,
    /// Wakes this process's waiting receivers of a queue on its own publishes to it; other processes'
    /// publishes are found by polling.
    published: Arc<crate::QueueWakers>,
    tracked: Arc<crate::TrackedQueues>,
}

impl SqlBus {
    /// Uses the application's pool (`kontor_db::SqlDatabase::connection()`); the tables come from its
    /// migrations.
    pub fn new(connection: DatabaseConnection, options: BusOptions) -> Self {
        Self {
            connection,
            options,
            published: Arc::new(crate::QueueWakers::default()),
            tracked: Arc::default(),
        }
    }

    fn backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.connection).await
    }

    async fn claim(&self, queue: &str, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let now = now_micros();
        let lease_until = now.saturating_add(duration_micros(self.options.lease));
        let lease_token = new_lease_token();
        // An empty queue is the common case of a poll: one plain read answers it, without a write
        // transaction (which on SQLite would take the database's write lock every time).
        let ready: Option<i64> = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::Queue.eq(queue))
            .filter(message::Column::AvailableAt.lte(now))
            .limit(1)
            .into_tuple()
            .one(&self.connection)
            .await?;
        if ready.is_none() {
            return Ok(Vec::new());
        }
        let transaction = self.begin_write().await?;
        let mut select = message::Entity::find()
            .filter(message::Column::Queue.eq(queue))
            .filter(message::Column::AvailableAt.lte(now))
            .order_by_asc(message::Column::AvailableAt)
            .order_by_asc(message::Column::Id)
            .limit(u64::try_from(max).unwrap_or(u64::MAX));
        if self.backend() != DbBackend::Sqlite {
            select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = select.all(&transaction).await?;
        if rows.is_empty() {
            transaction.commit().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        message::Entity::update_many()
            .col_expr(message::Column::AvailableAt, Expr::value(lease_until))
            .col_expr(message::Column::LeaseToken, Expr::value(lease_token))
            .filter(message::Column::Id.is_in(ids))
            .exec(&transaction)
            .await?;
        transaction.commit().await?;
        Ok(rows
            .into_iter()
            .map(|row| Delivery {
                id: MessageId(row.id),
                queue: row.queue,
                payload: row.payload,
                attempt: u32::try_from(row.attempt).unwrap_or(1),
                enqueued_at: micros_to_datetime(row.enqueued_at),
                receipt: Receipt {
                    lease: lease_token,
                    tag: 0,
                    first_failed_at: row.first_failed_at,
                },
            })
            .collect())
    }

    /// The row a delivery refers to, if the delivery still holds its lease.
    fn held(delivery: &Delivery) -> sea_orm::Condition {
        sea_orm::Condition::all()
            .add(message::Column::Id.eq(delivery.id.0))
            .add(message::Column::LeaseToken.eq(delivery.receipt.lease))
    }
}

/// A transaction that will write: SQLite takes the write lock at `BEGIN` (two writers then queue on the
/// busy timeout instead of failing on lock upgrade); the servers use READ COMMITTED, so a locking read
/// takes no gap locks that would block concurrent publishes, and a blocked UPDATE re-reads the row it
/// waited for (which the scheduler's compare-and-set statements rely on).
pub(crate) async fn begin_write(connection: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = match connection.get_database_backend() {
        DbBackend::Sqlite => TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        },
        _ => TransactionOptions {
            isolation_level: Some(IsolationLevel::ReadCommitted),
            ..TransactionOptions::default()
        },
    };
    connection.begin_with_options(options).await
}

/// A first-attempt message of `queue`, ready at `now`.
fn fresh_message(queue: &str, payload: Vec<u8>, now: i64) -> message::ActiveModel {
    message::ActiveModel {
        queue: Set(queue.to_owned()),
        payload: Set(payload),
        attempt: Set(1),
        enqueued_at: Set(now),
        available_at: Set(now),
        lease_token: Set(None),
        first_failed_at: Set(None),
        last_failed_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    }
}

/// Appends `payloads` to `queue` inside `transaction`, in multi-row inserts.
async fn insert_messages(
    transaction: &DatabaseTransaction,
    queue: &str,
    payloads: Vec<Vec<u8>>,
    now: i64,
) -> Result<(), DbErr> {
    let mut rows = payloads.into_iter().map(|payload| fresh_message(queue, payload, now));
    loop {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        message::Entity::insert_many(chunk)
            .exec_without_returning(transaction)
            .await?;
    }
}

/// A random positive token per claim: a stale delivery (lease expired, message re-claimed) cannot match.
fn new_lease_token() -> i64 {
    rand::random::<i64>() & i64::MAX
}

fn entry(stats: &mut HashMap<String, QueueStats>, queue: String) -> &mut QueueStats {
    stats.entry(queue.clone()).or_insert_with(|| QueueStats {
        queue,
        ..QueueStats::default()
    })
}

fn to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

#[async_trait::async_trait]
impl MessageBus for SqlBus {
    fn backend(&self) -> &'static str {
        "sql"
    }

    async fn publish(&self, queue: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        validate_queue_name(queue)?;
        if payloads.is_empty() {
            return Ok(());
        }
        // One transaction: the whole batch is durable, or none of it.
        let transaction = self.begin_write().await?;
        insert_messages(&transaction, queue, payloads, now_micros()).await?;
        transaction.commit().await?;
        self.published.wake(queue);
        Ok(())
    }

    async fn subscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        validate_queue_name(topic)?;
        validate_queue_name(queue)?;
        let binding = subscription::ActiveModel {
            topic: Set(topic.to_owned()),
            queue: Set(queue.to_owned()),
            created_at: Set(now_micros()),
        };
        subscription::Entity::insert(binding)
            .on_conflict(
                sea_orm::sea_query::OnConflict::columns([subscription::Column::Topic, subscription::Column::Queue])
                    .do_nothing_on([subscription::Column::Topic])
                    .to_owned(),
            )
            .exec_without_returning(&self.connection)
            .await?;
        Ok(())
    }

    async fn unsubscribe(&self, topic: &str, queue: &str) -> Result<(), QueueError> {
        subscription::Entity::delete_many()
            .filter(subscription::Column::Topic.eq(topic))
            .filter(subscription::Column::Queue.eq(queue))
            .exec(&self.connection)
            .await?;
        Ok(())
    }

    async fn publish_to_topic(&self, topic: &str, payloads: Vec<Vec<u8>>) -> Result<(), QueueError> {
        validate_queue_name(topic)?;
        if payloads.is_empty() {
            return Ok(());
        }
        let transaction = self.begin_write().await?;
        // Read in the publishing transaction: a subscriber is either bound before it commits (and gets
        // the copy) or after (and catches up from its source).
        let queues: Vec<String> = subscription::Entity::find()
            .select_only()
            .column(subscription::Column::Queue)
            .filter(subscription::Column::Topic.eq(topic))
            .order_by_asc(subscription::Column::Queue)
            .into_tuple()
            .all(&transaction)
            .await?;
        let now = now_micros();
        for queue in &queues {
            insert_messages(&transaction, queue, payloads.clone(), now).await?;
        }
        transaction.commit().await?;
        for queue in &queues {
            self.published.wake(queue);
        }
        Ok(())
    }

    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        validate_queue_name(queue)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        poll_receive(wait, self.options.poll_interval, &self.published.of(queue), || {
            self.claim(queue, max)
        })
        .await
    }

    async fn ack(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        // One delete per claim: deliveries of one claim share a lease token.
        let mut by_lease: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for delivery in deliveries {
            by_lease.entry(delivery.receipt.lease).or_default().push(delivery.id.0);
        }
        for (lease, ids) in by_lease {
            message::Entity::delete_many()
                .filter(message::Column::Id.is_in(ids))
                .filter(message::Column::LeaseToken.eq(lease))
                .exec(&self.connection)
                .await?;
        }
        Ok(())
    }

    async fn nack(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        let now = now_micros();
        let retry = &self.options.retry;
        let reason = truncate_reason(reason);
        let transaction = self.begin_write().await?;
        let Some(row) = message::Entity::find()
            .filter(Self::held(delivery))
            .one(&transaction)
            .await?
        else {
            // The lease ran out and the message belongs to another delivery now; its fate is theirs.
            tracing::warn!(queue = %delivery.queue, id = %delivery.id, "nack of a message whose lease expired");
            transaction.commit().await?;
            return Ok(());
        };
        let attempt = u32::try_from(row.attempt).unwrap_or(1);
        let first_failed_at = row.first_failed_at.unwrap_or(now);
        if retry.is_exhausted(attempt) {
            let dead = dead_letter::ActiveModel {
                queue: Set(row.queue),
                payload: Set(row.payload),
                attempts: Set(row.attempt),
                reason: Set(reason),
                enqueued_at: Set(row.enqueued_at),
                first_failed_at: Set(first_failed_at),
                last_failed_at: Set(now),
                dead_at: Set(now),
                ..Default::default()
            };
            dead_letter::Entity::insert(dead)
                .exec_without_returning(&transaction)
                .await?;
            message::Entity::delete_many()
                .filter(Self::held(delivery))
                .exec(&transaction)
                .await?;
        } else {
            let available_at = now.saturating_add(duration_micros(retry.delay_after(attempt)));
            message::Entity::update_many()
                .col_expr(message::Column::Attempt, Expr::value(row.attempt + 1))
                .col_expr(message::Column::AvailableAt, Expr::value(available_at))
                .col_expr(message::Column::LeaseToken, Expr::value(Option::<i64>::None))
                .col_expr(message::Column::FirstFailedAt, Expr::value(first_failed_at))
                .col_expr(message::Column::LastFailedAt, Expr::value(now))
                .col_expr(message::Column::LastError, Expr::value(reason))
                .filter(Self::held(delivery))
                .exec(&transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn release(&self, deliveries: &[Delivery]) -> Result<(), QueueError> {
        let now = now_micros();
        let mut by_lease: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for delivery in deliveries {
            by_lease.entry(delivery.receipt.lease).or_default().push(delivery.id.0);
        }
        for (lease, ids) in by_lease {
            message::Entity::update_many()
                .col_expr(message::Column::AvailableAt, Expr::value(now))
                .col_expr(message::Column::LeaseToken, Expr::value(Option::<i64>::None))
                .filter(message::Column::Id.is_in(ids))
                .filter(message::Column::LeaseToken.eq(lease))
                .exec(&self.connection)
                .await?;
        }
        self.published.wake_all();
        Ok(())
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let queue = main_queue_name(queue);
        validate_queue_name(queue)?;
        let rows = dead_letter::Entity::find()
            .filter(dead_letter::Column::Queue.eq(queue))
            .order_by_asc(dead_letter::Column::Id)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .all(&self.connection)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| DeadLetter {
                id: MessageId(row.id),
                queue: row.queue,
                payload: row.payload,
                attempts: u32::try_from(row.attempts).unwrap_or(0),
                reason: row.reason,
                enqueued_at: micros_to_datetime(row.enqueued_at),
                first_failed_at: micros_to_datetime(row.first_failed_at),
                last_failed_at: micros_to_datetime(row.last_failed_at),
            })
            .collect())
    }

    async fn requeue_dead_letters(&self, queue: &str, ids: Option<&[MessageId]>) -> Result<u64, QueueError> {
        let queue = main_queue_name(queue);
        validate_queue_name(queue)?;
        let now = now_micros();
        let transaction = self.begin_write().await?;
        let mut select = dead_letter::Entity::find()
            .filter(dead_letter::Column::Queue.eq(queue))
            .order_by_asc(dead_letter::Column::Id);
        if let Some(ids) = ids {
            select = select.filter(dead_letter::Column::Id.is_in(ids.iter().map(|id| id.0)));
        }
        let rows = select.all(&transaction).await?;
        let moved = rows.len();
        for chunk in rows.chunks(INSERT_CHUNK) {
            let messages = chunk
                .iter()
                .map(|row| fresh_message(&row.queue, row.payload.clone(), now));
            message::Entity::insert_many(messages)
                .exec_without_returning(&transaction)
                .await?;
            dead_letter::Entity::delete_many()
                .filter(dead_letter::Column::Id.is_in(chunk.iter().map(|row| row.id)))
                .exec(&transaction)
                .await?;
        }
        transaction.commit().await?;
        self.published.wake_all();
        Ok(u64::try_from(moved).unwrap_or(u64::MAX))
    }

    fn track_queues(&self, queues: &[String]) -> Result<(), QueueError> {
        self.tracked.add(queues)
    }

    async fn stats(&self) -> Result<Vec<QueueStats>, QueueError> {
        let now = now_micros();
        let mut stats: HashMap<String, QueueStats> = HashMap::new();
        // Four grouped counts rather than one conditional aggregate: each is a plain indexed query on
        // every engine. They are not one snapshot, which a depth gauge does not need.
        let ready: Vec<(String, i64, Option<i64>)> = message::Entity::find()
            .select_only()
            .column(message::Column::Queue)
            .column_as(Expr::from(Func::count(Expr::col(message::Column::Id))), "count")
            .column_as(Expr::from(Func::min(Expr::col(message::Column::AvailableAt))), "oldest")
            .filter(message::Column::AvailableAt.lte(now))
            .group_by(message::Column::Queue)
            .into_tuple()
            .all(&self.connection)
            .await?;
        for (queue, count, oldest) in ready {
            let stats = entry(&mut stats, queue);
            stats.ready = to_u64(count);
            stats.oldest_ready_age = oldest.map(|since| age(now, since));
        }
        for leased in [true, false] {
            let lease_filter = if leased {
                message::Column::LeaseToken.is_not_null()
            } else {
                message::Column::LeaseToken.is_null()
            };
            let waiting: Vec<(String, i64)> = message::Entity::find()
                .select_only()
                .column(message::Column::Queue)
                .column_as(Expr::from(Func::count(Expr::col(message::Column::Id))), "count")
                .filter(message::Column::AvailableAt.gt(now))
                .filter(lease_filter)
                .group_by(message::Column::Queue)
                .into_tuple()
                .all(&self.connection)
                .await?;
            for (queue, count) in waiting {
                let stats = entry(&mut stats, queue);
                if leased {
                    stats.in_flight = to_u64(count);
                } else {
                    stats.delayed = to_u64(count);
                }
            }
        }
        let dead: Vec<(String, i64)> = dead_letter::Entity::find()
            .select_only()
            .column(dead_letter::Column::Queue)
            .column_as(Expr::from(Func::count(Expr::col(dead_letter::Column::Id))), "count")
            .group_by(dead_letter::Column::Queue)
            .into_tuple()
            .all(&self.connection)
            .await?;
        for (queue, count) in dead {
            entry(&mut stats, queue).dead_letters = to_u64(count);
        }
        Ok(self.tracked.complete(stats.into_values().collect()))
    }
}
