//! The OMS runtime (oms.md §3–§6): a registry of commands, conditions and timeout processors by string
//! key, and the engine that moves order items through their process.
//!
//! Every run takes the order's lock (60 s, in SQL, so any number of workers share the work), reads the
//! items, runs the event's command outside any transaction, picks each item's target (conditional
//! transitions in document order, else the unconditioned one), and commits the moves in one
//! transaction with history, log, timeouts, reservations and outbox rows. onEnter events of the new
//! states follow in the same run; background (event-less) transitions are taken by
//! [`OmsEngine::advance_order`], which the worker calls for every order the outbox reports changed and
//! the condition sweep calls for items that have waited. A chain longer than [`MAX_CHAIN`] steps is a
//! loop and stops.

pub mod builtin;
mod ports;
mod retention;

pub use ports::{DueTimeout, ItemMove, OmsRepository, TransitionFailure, TransitionLogRow};
pub use retention::{PURGE_BATCH, purge_transition_log, retention_cutoff};

use crate::checkout::{OrderRepository, StoredOrder, StoredOrderItem};
use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use kontor_core::{Clock, SystemClock};
use kontor_oms::{PluginKeys, Process, ProcessSet, Timeout};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The longest chain of automatic steps in one run.
pub const MAX_CHAIN: usize = 100;
/// How long an order lock lasts unless released.
pub const LOCK_TTL: TimeDelta = TimeDelta::seconds(60);
/// An item waits this long in a state with an onEnter event before the sweep fires it (its worker
/// probably crashed).
pub const STALE_ON_ENTER: TimeDelta = TimeDelta::seconds(30);
/// The sweep leaves items alone that were checked this recently.
pub const CHECK_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// Whether a command runs once for all items of an order taking the event, or once per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandMode {
    ByOrder,
    ByItem,
}

/// What a command sees.
pub struct CommandContext<'a> {
    pub order: &'a StoredOrder,
    pub items: Vec<&'a StoredOrderItem>,
    pub event: &'a str,
    /// `<command>@<order_item_id>:<history length>:<event>` of the first item: the same on a retry of
    /// the same step, so a command that stores something can store the key with it and skip repeats.
    pub idempotency_key: String,
    pub now: DateTime<Utc>,
}

/// Why a command or condition failed; the items stay where they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl From<crate::DomainError> for CommandError {
    fn from(error: crate::DomainError) -> Self {
        Self(error.to_string())
    }
}

/// A command plugin, run when its event fires.
#[async_trait]
pub trait OmsCommand: Send + Sync {
    async fn run(&self, context: &CommandContext<'_>) -> Result<(), CommandError>;

    /// Whether running it can change what a condition reads (payments, shipments, items). The engine
    /// reads the order again after such a command before it checks a condition; a command that only
    /// sends something, such as a mail, answers `false` and saves that read.
    fn changes_order(&self) -> bool {
        true
    }
}

/// A condition plugin, deciding a conditional transition for one item.
#[async_trait]
pub trait OmsCondition: Send + Sync {
    async fn check(&self, order: &StoredOrder, item: &StoredOrderItem) -> Result<bool, CommandError>;
}

/// Computes when a timed event is due, instead of "entered + timeout".
pub trait TimeoutProcessor: Send + Sync {
    fn due_at(&self, order: &StoredOrder, entered_at: DateTime<Utc>, timeout: Option<&Timeout>) -> DateTime<Utc>;
}

/// Plugins by key. An embedding crate registers its own next to the built-ins.
#[derive(Default, Clone)]
pub struct OmsRegistry {
    commands: HashMap<String, (CommandMode, Arc<dyn OmsCommand>)>,
    conditions: HashMap<String, Arc<dyn OmsCondition>>,
    timeout_processors: HashMap<String, Arc<dyn TimeoutProcessor>>,
}

impl OmsRegistry {
    pub fn command(&mut self, key: &str, mode: CommandMode, command: impl OmsCommand + 'static) -> &mut Self {
        self.commands.insert(key.to_owned(), (mode, Arc::new(command)));
        self
    }

    pub fn condition(&mut self, key: &str, condition: impl OmsCondition + 'static) -> &mut Self {
        self.conditions.insert(key.to_owned(), Arc::new(condition));
        self
    }

    pub fn timeout_processor(&mut self, key: &str, processor: impl TimeoutProcessor + 'static) -> &mut Self {
        self.timeout_processors.insert(key.to_owned(), Arc::new(processor));
        self
    }

    /// Registered keys, sorted, for `kontor oms validate` output.
    pub fn keys(&self) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
        fn sorted(mut keys: Vec<&str>) -> Vec<&str> {
            keys.sort_unstable();
            keys
        }
        (
            sorted(self.commands.keys().map(String::as_str).collect()),
            sorted(self.conditions.keys().map(String::as_str).collect()),
            sorted(self.timeout_processors.keys().map(String::as_str).collect()),
        )
    }
}

impl PluginKeys for OmsRegistry {
    fn has_command(&self, key: &str) -> bool {
        self.commands.contains_key(key)
    }

    fn has_condition(&self, key: &str) -> bool {
        self.conditions.contains_key(key)
    }

    fn has_timeout_processor(&self, key: &str) -> bool {
        self.timeout_processors.contains_key(key)
    }

    fn command_is_by_order(&self, key: &str) -> bool {
        self.commands
            .get(key)
            .is_some_and(|(mode, _)| *mode == CommandMode::ByOrder)
    }
}

/// Why a run did not happen or stopped.
#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    /// Another run holds the order's lock; try again later (admin API: 409).
    #[error("order {0} is already being processed")]
    Busy(i64),
    #[error("order {0} not found")]
    OrderNotFound(i64),
    /// The event's command failed; the items stayed in their state.
    #[error("command {command} failed: {message}")]
    CommandFailed { command: String, message: String },
    #[error("the automatic chain of order {0} exceeded {MAX_CHAIN} steps (a loop in the process?)")]
    Loop(i64),
    #[error("OMS process {0} is not loaded")]
    UnknownProcess(String),
    /// The loaded processes do not fit the orders in the database (a new process version is needed).
    #[error(
        "the OMS processes do not fit the stored orders: {0}; keep the old version active and map new checkouts to a new one"
    )]
    Definition(String),
    #[error(transparent)]
    Storage(#[from] crate::DomainError),
}

impl From<crate::cart::CartError> for OmsError {
    fn from(error: crate::cart::CartError) -> Self {
        Self::Storage(crate::DomainError::Storage(error.to_string()))
    }
}

/// What one event run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventOutcome {
    /// Items that changed state (also by following onEnter events).
    pub moved: Vec<i64>,
    /// Items the event was not possible for, with the reason.
    pub skipped: Vec<(i64, String)>,
    /// A command that failed after the moves in `moved` were saved (an onEnter step of a state the
    /// event reached, such as its mail): the run stopped there, the items wait in the state they
    /// reached, and the condition sweep retries the step. The failure is in the items' transition log.
    pub stopped_by: Option<String>,
}

/// Told after items of an order changed state, once the change is committed: live order status in the
/// shop and the Back Office. Best effort — an implementation logs its own failures and must not block.
#[async_trait]
pub trait OrderObserver: Send + Sync {
    /// `order` is as the run left it: its items in the states they reached.
    async fn items_moved(&self, order: &StoredOrder);
}

/// The engine: processes, plugins, storage and a clock.
#[derive(Clone)]
pub struct OmsEngine {
    processes: Arc<ProcessSet>,
    registry: Arc<OmsRegistry>,
    oms: Arc<dyn OmsRepository>,
    orders: Arc<dyn OrderRepository>,
    clock: Arc<dyn Clock>,
    holder: String,
    observer: Option<Arc<dyn OrderObserver>>,
}

impl OmsEngine {
    pub fn new(
        processes: Arc<ProcessSet>,
        registry: Arc<OmsRegistry>,
        oms: Arc<dyn OmsRepository>,
        orders: Arc<dyn OrderRepository>,
    ) -> Self {
        let holder = format!("{}:{}", std::process::id(), crate::cart::new_cart_uuid());
        Self {
            processes,
            registry,
            oms,
            orders,
            clock: Arc::new(SystemClock),
            holder,
            observer: None,
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Tells `observer` about every committed run that moved items.
    pub fn with_observer(mut self, observer: Arc<dyn OrderObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Tells the observer about a run that moved items, with the order the run ended on; read again
    /// only when the run stopped on a failure after moving some items, which left no snapshot.
    async fn announce(&self, order_id: i64, outcome: &Result<EventOutcome, OmsError>, order: Option<StoredOrder>) {
        let (Some(observer), Ok(outcome)) = (&self.observer, outcome) else {
            return;
        };
        if outcome.moved.is_empty() {
            return;
        }
        let order = match order {
            Some(order) => order,
            None => match self.load(order_id).await {
                Ok(order) => order,
                Err(error) => {
                    tracing::warn!(order_id, %error, "order status not announced: the order could not be read");
                    return;
                }
            },
        };
        observer.items_moved(&order).await;
    }

    pub fn processes(&self) -> &Arc<ProcessSet> {
        &self.processes
    }

    fn process(&self, name: &str) -> Result<&Arc<Process>, OmsError> {
        self.processes
            .get(name)
            .ok_or_else(|| OmsError::UnknownProcess(name.to_owned()))
    }

    /// Refuses definitions that lost a state items are in (oms.md §1): such items could never move
    /// again. Names process, state and item count; a process that is no longer active is an error too.
    pub async fn check_occupied_states(&self) -> Result<(), OmsError> {
        let mut problems = Vec::new();
        for (process, state, items) in self.oms.occupied_states().await? {
            match self.processes.get(&process) {
                None => problems.push(format!("{items} order item(s) run process {process}, which is not active")),
                Some(definition) if definition.state(&state).is_none() => problems.push(format!(
                    "{items} order item(s) are in state {state:?} of process {process}, which the definition no longer has"
                )),
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(OmsError::Definition(problems.join("; ")))
        }
    }

    /// The manual events each item of an order can take now, by item id.
    pub fn manual_events(&self, order: &StoredOrder) -> BTreeMap<i64, Vec<String>> {
        order
            .items
            .iter()
            .map(|item| {
                let events = self
                    .processes
                    .get(&item.process)
                    .map(|process| {
                        process
                            .manual_events(&item.state)
                            .into_iter()
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                (item.id, events)
            })
            .collect()
    }

    /// Fires `event` for the order's items (all of them, or those in `item_ids`) and follows onEnter
    /// events of the states reached. A failed command is an error only when nothing moved; a later
    /// step's failure ends the run with [`EventOutcome::stopped_by`].
    pub async fn trigger_event(
        &self,
        order_id: i64,
        item_ids: Option<&[i64]>,
        event: &str,
        origin: &str,
    ) -> Result<EventOutcome, OmsError> {
        let lock = self.lock(order_id).await?;
        let mut outcome = EventOutcome::default();
        let result = match self.load(order_id).await {
            Ok(order) => {
                self.run_event(
                    order_id,
                    Snapshot::fresh(order),
                    item_ids,
                    event,
                    origin,
                    &mut outcome,
                    0,
                )
                .await
            }
            Err(error) => Err(error),
        };
        self.unlock(lock).await;
        let (result, order) = match result {
            Ok(snapshot) => (Ok(outcome), Some(snapshot.order)),
            // The event itself happened: saying it failed would invite a second try of what is done.
            Err(OmsError::CommandFailed { command, message }) if !outcome.moved.is_empty() => {
                outcome.stopped_by = Some(format!("command {command} failed: {message}"));
                (Ok(outcome), None)
            }
            Err(error) => (Err(error), None),
        };
        self.announce(order_id, &result, order).await;
        result
    }

    /// Runs onEnter events and background transitions of the order's items until nothing moves.
    pub async fn advance_order(&self, order_id: i64, origin: &str) -> Result<EventOutcome, OmsError> {
        let lock = self.lock(order_id).await?;
        let result = self.advance_locked(order_id, origin).await;
        self.unlock(lock).await;
        let (result, order) = match result {
            Ok((outcome, order)) => (Ok(outcome), Some(order)),
            Err(error) => (Err(error), None),
        };
        self.announce(order_id, &result, order).await;
        result
    }

    /// The run's outcome and the order as the run left it.
    async fn advance_locked(&self, order_id: i64, origin: &str) -> Result<(EventOutcome, StoredOrder), OmsError> {
        let mut outcome = EventOutcome::default();
        let mut snapshot = Snapshot::fresh(self.load(order_id).await?);
        for _ in 0..MAX_CHAIN {
            // onEnter events first: one run per (state, event) group.
            let mut on_enter: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            let mut background = false;
            for item in &snapshot.order.items {
                let process = self.process(&item.process)?;
                if let Some(event) = process.on_enter_event(&item.state) {
                    on_enter.entry(event.name.clone()).or_default().push(item.id);
                }
                background |= process.has_background_transitions(&item.state);
            }
            let before = outcome.moved.len();
            for (event, items) in &on_enter {
                snapshot = self
                    .run_event(order_id, snapshot, Some(items), event, origin, &mut outcome, 0)
                    .await?;
            }
            if outcome.moved.len() > before {
                continue;
            }
            // Nothing automatic is left: done without reading the order again.
            if !background {
                if !on_enter.is_empty() {
                    self.oms.mark_checked(order_id, self.clock.now()).await?;
                }
                return Ok((outcome, snapshot.order));
            }
            if snapshot.stale {
                snapshot = Snapshot::fresh(self.load(order_id).await?);
            }
            if !self
                .take_background_transitions(&snapshot.order, origin, &mut outcome)
                .await?
            {
                self.oms.mark_checked(order_id, self.clock.now()).await?;
                return Ok((outcome, snapshot.order));
            }
            snapshot = Snapshot::fresh(self.load(order_id).await?);
        }
        Err(OmsError::Loop(order_id))
    }

    /// Fires due timeouts (at most `limit`); answers how many events fired.
    pub async fn fire_due_timeouts(&self, limit: u64) -> Result<usize, OmsError> {
        let now = self.clock.now();
        let due = self.oms.due_timeouts(now, limit).await?;
        let mut fired = 0;
        let mut groups: BTreeMap<(i64, String), Vec<&DueTimeout>> = BTreeMap::new();
        for timeout in &due {
            groups
                .entry((timeout.order_id, timeout.event.clone()))
                .or_default()
                .push(timeout);
        }
        for ((order_id, event), timeouts) in groups {
            let items: Vec<i64> = timeouts.iter().map(|timeout| timeout.item_id).collect();
            let result = self.trigger_event(order_id, Some(&items), &event, "timeout").await;
            let moved = match &result {
                Ok(outcome) => {
                    if let Some(stop) = &outcome.stopped_by {
                        tracing::warn!(order_id, %event, %stop, "timeout event moved the items, a later step failed; the sweep retries it");
                    }
                    outcome.moved.clone()
                }
                Err(OmsError::Busy(_)) => continue,
                Err(error) => {
                    tracing::warn!(order_id, %event, %error, "timeout event failed; retrying later");
                    Vec::new()
                }
            };
            fired += 1;
            // A timeout whose item did not move (command failed, condition false) is retried later
            // with backoff instead of firing on every pass.
            for timeout in timeouts.iter().filter(|timeout| !moved.contains(&timeout.item_id)) {
                let attempts = timeout.attempts.saturating_add(1);
                self.oms
                    .postpone_timeout(timeout.id, now + retry_delay(attempts), attempts)
                    .await?;
            }
        }
        Ok(fired)
    }

    /// The safety-net sweep: advances orders whose items wait in states with onEnter events or
    /// background transitions; answers how many orders it looked at.
    pub async fn check_conditions(&self, limit: u64) -> Result<usize, OmsError> {
        let now = self.clock.now();
        let mut checked = 0;
        for name in self.processes.names().map(str::to_owned).collect::<Vec<_>>() {
            let process = self.process(&name)?;
            let states: Vec<String> = process
                .states()
                .filter(|state| {
                    process.on_enter_event(&state.name).is_some() || process.has_background_transitions(&state.name)
                })
                .map(|state| state.name.clone())
                .collect();
            if states.is_empty() {
                continue;
            }
            let orders = self
                .oms
                .orders_to_check(&name, &states, now - STALE_ON_ENTER, now - CHECK_INTERVAL, limit)
                .await?;
            for order_id in orders {
                checked += 1;
                match self.advance_order(order_id, "condition-check").await {
                    Ok(_) | Err(OmsError::Busy(_)) => {}
                    Err(error) => tracing::warn!(order_id, %error, "condition check failed"),
                }
            }
        }
        Ok(checked)
    }

    async fn lock(&self, order_id: i64) -> Result<OrderLock, OmsError> {
        let identifier = format!("order:{order_id}");
        let now = self.clock.now();
        if !self
            .oms
            .try_lock(&identifier, &self.holder, now + LOCK_TTL, now)
            .await?
        {
            return Err(OmsError::Busy(order_id));
        }
        Ok(OrderLock { identifier })
    }

    /// Releases a lock; if that fails the lock expires by itself after [`LOCK_TTL`].
    async fn unlock(&self, lock: OrderLock) {
        if let Err(error) = self.oms.unlock(&lock.identifier, &self.holder).await {
            tracing::warn!(identifier = %lock.identifier, %error, "releasing the OMS lock failed; it expires by itself");
        }
    }

    async fn load(&self, order_id: i64) -> Result<StoredOrder, OmsError> {
        self.orders
            .find_order_by_id(order_id)
            .await?
            .ok_or(OmsError::OrderNotFound(order_id))
    }

    /// One event for some items, then the onEnter events of where they land (recursively, by depth).
    /// Works on `snapshot` and answers it with the moves applied, so a chain reads the order once;
    /// the order is read again only when a condition must see what a command changed.
    #[allow(clippy::too_many_arguments)]
    fn run_event<'a>(
        &'a self,
        order_id: i64,
        snapshot: Snapshot,
        item_ids: Option<&'a [i64]>,
        event: &'a str,
        origin: &'a str,
        outcome: &'a mut EventOutcome,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Snapshot, OmsError>> + Send + 'a>> {
        Box::pin(async move {
            if depth >= MAX_CHAIN {
                return Err(OmsError::Loop(order_id));
            }
            let mut snapshot = snapshot;
            let mut groups: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
            for item in snapshot
                .order
                .items
                .iter()
                .filter(|item| item_ids.is_none_or(|ids| ids.contains(&item.id)))
            {
                let process = self.process(&item.process)?;
                if process.candidates(&item.state, Some(event)).is_empty() {
                    outcome.skipped.push((
                        item.id,
                        format!("event {event} is not possible from state {}", item.state),
                    ));
                    continue;
                }
                groups
                    .entry((item.process.clone(), item.state.clone()))
                    .or_default()
                    .push(item.id);
            }
            let mut landed: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for ((process_name, source), ids) in groups {
                let process = Arc::clone(self.process(&process_name)?);
                let command = process.event(event).and_then(|definition| definition.command.clone());
                let candidates = process.candidates(&source, Some(event));
                if let Some(key) = &command {
                    let items = snapshot.items(&ids, &source);
                    self.run_command(&snapshot.order, &items, event, key, origin).await?;
                    snapshot.stale |= self
                        .registry
                        .commands
                        .get(key)
                        .is_none_or(|(_, command)| command.changes_order());
                }
                // Conditions see what the command changed (a captured payment).
                if snapshot.stale && candidates.iter().any(|transition| transition.condition.is_some()) {
                    snapshot = Snapshot::fresh(self.load(order_id).await?);
                }
                let now = self.clock.now();
                let mut moves = Vec::new();
                for item in snapshot.items(&ids, &source) {
                    let Some((target, condition)) =
                        self.choose_target(&snapshot.order, item, &candidates, origin).await?
                    else {
                        continue;
                    };
                    moves.push(self.item_move(
                        &process,
                        &snapshot.order,
                        item,
                        &target,
                        Some(event),
                        command.clone(),
                        condition,
                        now,
                    ));
                }
                let moved = self.oms.apply_moves(order_id, &moves, origin, now).await?;
                for item_move in moves.iter().filter(|item_move| moved.contains(&item_move.item_id)) {
                    snapshot.entered(item_move.item_id, &item_move.target, now);
                    outcome.moved.push(item_move.item_id);
                    if let Some(next) = process.on_enter_event(&item_move.target) {
                        landed.entry(next.name.clone()).or_default().push(item_move.item_id);
                    }
                }
            }
            for (next, items) in landed {
                snapshot = self
                    .run_event(order_id, snapshot, Some(&items), &next, origin, outcome, depth + 1)
                    .await?;
            }
            Ok(snapshot)
        })
    }

    async fn run_command(
        &self,
        order: &StoredOrder,
        items: &[&StoredOrderItem],
        event: &str,
        key: &str,
        origin: &str,
    ) -> Result<(), OmsError> {
        let Some((mode, command)) = self.registry.commands.get(key) else {
            return self
                .fail(
                    order,
                    items,
                    event,
                    Some(key),
                    None,
                    origin,
                    "command is not registered",
                )
                .await;
        };
        let groups: Vec<Vec<&StoredOrderItem>> = match mode {
            CommandMode::ByOrder => vec![items.to_vec()],
            CommandMode::ByItem => items.iter().map(|item| vec![*item]).collect(),
        };
        for group in groups {
            let first = group[0];
            let context = CommandContext {
                order,
                idempotency_key: format!("{key}@{}:{}:{event}", first.id, first.history.len()),
                items: group,
                event,
                now: self.clock.now(),
            };
            // A step that completed before a crash is not repeated (no second mail, no second capture).
            if self.oms.command_ran(&context.idempotency_key).await? {
                continue;
            }
            if let Err(error) = command.run(&context).await {
                return self
                    .fail(order, &context.items, event, Some(key), None, origin, &error.0)
                    .await;
            }
            self.oms
                .record_command_run(&context.idempotency_key, context.now)
                .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn fail(
        &self,
        order: &StoredOrder,
        items: &[&StoredOrderItem],
        event: &str,
        command: Option<&str>,
        condition: Option<&str>,
        origin: &str,
        message: &str,
    ) -> Result<(), OmsError> {
        let now = self.clock.now();
        for item in items {
            self.oms
                .log_failure(
                    &TransitionFailure {
                        order_id: order.id,
                        item_id: item.id,
                        event: Some(event.to_owned()),
                        source: item.state.clone(),
                        command: command.map(str::to_owned),
                        condition: condition.map(str::to_owned),
                        origin: origin.to_owned(),
                        message: message.to_owned(),
                    },
                    now,
                )
                .await?;
        }
        Err(OmsError::CommandFailed {
            command: command.or(condition).unwrap_or_default().to_owned(),
            message: message.to_owned(),
        })
    }

    /// The first conditional transition whose condition holds, else the unconditioned one, else none.
    async fn choose_target(
        &self,
        order: &StoredOrder,
        item: &StoredOrderItem,
        candidates: &[&kontor_oms::Transition],
        origin: &str,
    ) -> Result<Option<(String, Option<String>)>, OmsError> {
        for transition in candidates {
            let Some(key) = &transition.condition else {
                continue;
            };
            let Some(condition) = self.registry.conditions.get(key) else {
                self.fail(
                    order,
                    &[item],
                    transition.event.as_deref().unwrap_or(""),
                    None,
                    Some(key),
                    origin,
                    "condition is not registered",
                )
                .await?;
                continue;
            };
            match condition.check(order, item).await {
                Ok(true) => return Ok(Some((transition.target.clone(), Some(key.clone())))),
                Ok(false) => {}
                Err(error) => {
                    self.fail(
                        order,
                        &[item],
                        transition.event.as_deref().unwrap_or(""),
                        None,
                        Some(key),
                        origin,
                        &error.0,
                    )
                    .await?;
                }
            }
        }
        Ok(candidates
            .iter()
            .find(|transition| transition.condition.is_none())
            .map(|transition| (transition.target.clone(), None)))
    }

    #[allow(clippy::too_many_arguments)]
    fn item_move(
        &self,
        process: &Process,
        order: &StoredOrder,
        item: &StoredOrderItem,
        target: &str,
        event: Option<&str>,
        command: Option<String>,
        condition: Option<String>,
        now: DateTime<Utc>,
    ) -> ItemMove {
        let reserved = |state: &str| process.state(state).is_some_and(|state| state.reserved);
        ItemMove {
            item_id: item.id,
            source: item.state.clone(),
            target: target.to_owned(),
            event: event.map(str::to_owned),
            command,
            condition,
            source_reserved: reserved(&item.state),
            target_reserved: reserved(target),
            timeouts: self.timeouts_of(process, order, target, now),
            follow_up: process.on_enter_event(target).is_some() || process.has_background_transitions(target),
        }
    }

    /// The due times of the timed events leaving `state`, entered at `now`.
    pub fn timeouts_of(
        &self,
        process: &Process,
        order: &StoredOrder,
        state: &str,
        now: DateTime<Utc>,
    ) -> Vec<(String, DateTime<Utc>)> {
        process
            .timed_events(state)
            .into_iter()
            .map(|event| {
                let processor = event
                    .timeout_processor
                    .as_ref()
                    .and_then(|key| self.registry.timeout_processors.get(key));
                let due = match (processor, &event.timeout) {
                    (Some(processor), timeout) => processor.due_at(order, now, timeout.as_ref()),
                    (None, Some(timeout)) => timeout.due_after(now),
                    (None, None) => now,
                };
                (event.name.clone(), due)
            })
            .collect()
    }

    /// Takes every background transition whose condition holds; answers whether any item moved.
    async fn take_background_transitions(
        &self,
        order: &StoredOrder,
        origin: &str,
        outcome: &mut EventOutcome,
    ) -> Result<bool, OmsError> {
        let now = self.clock.now();
        let mut moves = Vec::new();
        for item in &order.items {
            let process = Arc::clone(self.process(&item.process)?);
            let candidates = process.candidates(&item.state, None);
            if candidates.is_empty() {
                continue;
            }
            if let Some((target, condition)) = self.choose_target(order, item, &candidates, origin).await? {
                moves.push(self.item_move(&process, order, item, &target, None, None, condition, now));
            }
        }
        if moves.is_empty() {
            return Ok(false);
        }
        let moved = self.oms.apply_moves(order.id, &moves, origin, now).await?;
        outcome.moved.extend(moved.iter().copied());
        Ok(!moved.is_empty())
    }
}

/// Backoff of a timeout-fired event that failed: 1 min, 5 min, 30 min, then every 2 h (oms.md §3).
pub fn retry_delay(attempts: i32) -> TimeDelta {
    match attempts {
        ..=1 => TimeDelta::minutes(1),
        2 => TimeDelta::minutes(5),
        3 => TimeDelta::minutes(30),
        _ => TimeDelta::hours(2),
    }
}

/// The order a run works on. Item states and histories are kept current by the run's own moves;
/// `stale` says a command may have changed something else (payments), to be read again before a
/// condition looks at it.
struct Snapshot {
    order: StoredOrder,
    stale: bool,
}

impl Snapshot {
    fn fresh(order: StoredOrder) -> Self {
        Self { order, stale: false }
    }

    /// The items among `ids` still in `state`.
    fn items(&self, ids: &[i64], state: &str) -> Vec<&StoredOrderItem> {
        self.order
            .items
            .iter()
            .filter(|item| ids.contains(&item.id) && item.state == state)
            .collect()
    }

    /// Records a committed move.
    fn entered(&mut self, item_id: i64, state: &str, at: DateTime<Utc>) {
        if let Some(item) = self.order.items.iter_mut().find(|item| item.id == item_id) {
            item.state = state.to_owned();
            item.state_entered_at_micros = at.timestamp_micros();
            item.history.push(state.to_owned());
        }
    }
}

/// A held order lock (released by [`OmsEngine::unlock`], or by expiry if the run died).
struct OrderLock {
    identifier: String,
}
