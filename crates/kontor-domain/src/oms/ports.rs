//! The OMS runtime's storage port ([`OmsRepository`]): order locks, item state changes in one
//! transaction each, timeouts, the transition log, and the operations built-in commands perform on
//! payments and stock.

use crate::DomainError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One item changing state; written with its history row, log row, timeouts and reservation change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemMove {
    pub item_id: i64,
    pub source: String,
    pub target: String,
    pub event: Option<String>,
    pub command: Option<String>,
    pub condition: Option<String>,
    /// Whether `source` / `target` hold stock (`reserved="true"`); a change adjusts the reservation.
    pub source_reserved: bool,
    pub target_reserved: bool,
    /// Timed events leaving `target` and when they are due.
    pub timeouts: Vec<(String, DateTime<Utc>)>,
    /// `target` has an onEnter event or background transitions: the order goes to `oms.events` so a
    /// worker takes the next step.
    pub follow_up: bool,
}

/// A failed command or condition, kept in the transition log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionFailure {
    pub order_id: i64,
    pub item_id: i64,
    pub event: Option<String>,
    pub source: String,
    pub command: Option<String>,
    pub condition: Option<String>,
    pub origin: String,
    pub message: String,
}

/// A timeout row that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimeout {
    pub id: i64,
    pub order_id: i64,
    pub item_id: i64,
    pub state: String,
    pub event: String,
    pub attempts: i32,
}

/// One row of the transition log, for the Back Office and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionLogRow {
    pub item_id: i64,
    pub event: Option<String>,
    pub source: String,
    pub target: Option<String>,
    pub command: Option<String>,
    pub condition: Option<String>,
    pub origin: String,
    pub error: Option<String>,
    pub created_at_micros: i64,
}

/// OMS state in SQL.
#[async_trait]
pub trait OmsRepository: Send + Sync {
    /// Takes `identifier` for `holder` until `until` unless someone else holds an unexpired lock on it.
    async fn try_lock(
        &self,
        identifier: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError>;

    /// Releases a lock this holder took.
    async fn unlock(&self, identifier: &str, holder: &str) -> Result<(), DomainError>;

    /// Deletes locks that expired before `before`; answers how many.
    async fn purge_locks(&self, before: DateTime<Utc>) -> Result<u64, DomainError>;

    /// In ONE transaction, per move whose item is still in `source` (others are skipped): the new
    /// state, a history row, a log row, the old state's timeouts replaced by the new ones, the
    /// reservation adjusted when the reserved flag changes, and outbox rows (availability of changed
    /// reservations, the order for `oms.events` when a moved item needs a follow-up). Answers the ids
    /// of the items that moved.
    async fn apply_moves(
        &self,
        order_id: i64,
        moves: &[ItemMove],
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, DomainError>;

    /// Records a failed command or condition.
    async fn log_failure(&self, failure: &TransitionFailure, now: DateTime<Utc>) -> Result<(), DomainError>;

    /// The transition log of an order, oldest first.
    async fn transition_log(&self, order_id: i64) -> Result<Vec<TransitionLogRow>, DomainError>;

    /// Deletes at most `limit` transition-log rows written before `before`, in one short statement
    /// and transaction; answers how many went. [`super::purge_transition_log`] repeats it until the
    /// old rows are gone.
    async fn delete_transition_log_batch(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, DomainError>;

    /// Up to `limit` timeouts due at `now`, earliest first.
    async fn due_timeouts(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<DueTimeout>, DomainError>;

    /// The earliest due time of any timeout, to sleep until.
    async fn next_timeout(&self) -> Result<Option<DateTime<Utc>>, DomainError>;

    /// Moves a timeout that could not fire to `due_at`, counting the attempt.
    async fn postpone_timeout(&self, id: i64, due_at: DateTime<Utc>, attempts: i32) -> Result<(), DomainError>;

    /// Orders with an item of `process` in one of `states` (states with onEnter events or background
    /// transitions) that entered it before `entered_before` and was not checked since `checked_before`.
    async fn orders_to_check(
        &self,
        process: &str,
        states: &[String],
        entered_before: DateTime<Utc>,
        checked_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<i64>, DomainError>;

    /// Notes that the items of an order were checked at `now`.
    async fn mark_checked(&self, order_id: i64, now: DateTime<Utc>) -> Result<(), DomainError>;

    /// Sets a payment's status and amounts.
    async fn update_payment(
        &self,
        payment_id: i64,
        status: &str,
        captured_amount: i64,
        refunded_amount: i64,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    /// Takes the items' quantities out of physical stock in the store's warehouses (the ones holding
    /// most first, never below zero) and writes stock outbox rows. Idempotent per `idempotency_key`.
    async fn take_from_stock(&self, order_id: i64, item_ids: &[i64], idempotency_key: &str) -> Result<(), DomainError>;

    /// Puts returned items back into stock of the store's first active warehouse. Idempotent per key.
    async fn return_to_stock(&self, order_id: i64, item_ids: &[i64], idempotency_key: &str) -> Result<(), DomainError>;

    /// Whether the store of the order has an active warehouse holding each item's SKU (or never out of
    /// stock); answers the SKUs without one.
    async fn unallocatable_skus(&self, order_id: i64, item_ids: &[i64]) -> Result<Vec<String>, DomainError>;

    /// Adds canceled or refunded amounts to the items and the order totals.
    async fn record_item_amounts(
        &self,
        order_id: i64,
        item_ids: &[i64],
        canceled: bool,
        refunded: bool,
    ) -> Result<(), DomainError>;

    /// `(process, state, items)` for every state some order item is in now.
    async fn occupied_states(&self) -> Result<Vec<(String, String, u64)>, DomainError>;

    /// Whether the command step with this idempotency key completed before.
    async fn command_ran(&self, key: &str) -> Result<bool, DomainError>;

    /// Notes that the command step with this key completed (doing nothing if already noted).
    async fn record_command_run(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError>;
}
