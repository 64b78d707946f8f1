//! OMS wiring: the process files (configured, or Kontor's built-in ones), the plugin registry with the
//! built-in commands, the engine, the worker's OMS duties (the `oms.events` consumer, due timeouts,
//! the condition sweep), the transition-log purge and the `kontor oms …` commands.

use anyhow::{Context, bail};
use kontor_config::Settings;
use kontor_db::SqlDatabase;
use kontor_domain::checkout::OrderProcesses;
use kontor_domain::customer::Mailer;
use kontor_domain::oms::builtin::{self, BuiltinServices, PaymentProviders};
use kontor_domain::oms::{OmsEngine, OmsError, OmsRegistry};
use kontor_oms::{Checks, DrawOptions, ProcessSet, Severity};
use kontor_queue::Delivery;
use kontor_queue::worker::{BatchError, BatchHandler};
use kontor_sync::messages::PublishMessage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The default `oms.process_dirs` entry; when it does not exist Kontor's built-in processes are used.
const DEFAULT_PROCESS_DIR: &str = "config/oms";

/// Kontor's own processes, compiled in so a binary without the repository still has them.
const BUILTIN_PROCESSES: &[(&str, &str)] = &[
    (
        "KontorDefault01.xml",
        include_str!("../../../config/oms/KontorDefault01.xml"),
    ),
    (
        "KontorSubprocess/KontorReturn01.xml",
        include_str!("../../../config/oms/KontorSubprocess/KontorReturn01.xml"),
    ),
];

/// How often the worker looks for due timeouts: due events fire within about this long.
const TIMEOUT_POLL: Duration = Duration::from_secs(1);
/// How often the worker sweeps for items waiting on onEnter events or background transitions.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Rows claimed per pass.
const BATCH: u64 = 500;
/// Orders of one `oms.events` batch advanced concurrently.
const ORDERS_AT_ONCE: usize = 8;

/// The directories to load: configured ones must exist, except the default, which falls back to the
/// built-in processes (written under `<data_dir>/oms-builtin/`).
pub fn process_dirs(settings: &Settings) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for dir in &settings.oms.process_dirs {
        if dir.is_dir() {
            dirs.push(dir.clone());
        } else if dir == Path::new(DEFAULT_PROCESS_DIR) {
            let target = settings.data_dir.join("oms-builtin");
            for (name, content) in BUILTIN_PROCESSES {
                let path = target.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
                }
                std::fs::write(&path, content).with_context(|| format!("write {}", path.display()))?;
            }
            dirs.push(target);
        } else {
            bail!("oms.process_dirs: {} is not a directory", dir.display());
        }
    }
    Ok(dirs)
}

/// The registry with every built-in plugin.
pub fn registry(database: &SqlDatabase, mailer: Arc<dyn Mailer>) -> OmsRegistry {
    let mut registry = OmsRegistry::default();
    builtin::register(
        &mut registry,
        &BuiltinServices {
            oms: Arc::new(database.clone()),
            mailer,
            payments: PaymentProviders::builtin(),
            shop_name: "Kontor Shop".to_owned(),
        },
    );
    registry
}

/// Loads and validates the active processes; every error names file and line.
pub fn load_processes(settings: &Settings, registry: &OmsRegistry) -> anyhow::Result<Arc<ProcessSet>> {
    let dirs = process_dirs(settings)?;
    match ProcessSet::load(&dirs, &settings.oms.active_processes, registry, Checks::Full) {
        Ok((set, warnings)) => {
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            Ok(Arc::new(set))
        }
        Err(error) => bail!("the OMS processes are invalid (oms.*):\n{error}"),
    }
}

/// Process selection for checkout.
pub fn order_processes(settings: &Settings, processes: Arc<ProcessSet>) -> OrderProcesses {
    OrderProcesses {
        processes,
        payment_processes: settings
            .oms
            .payment_processes
            .iter()
            .map(|(method, process)| (method.clone(), process.clone()))
            .collect(),
        default_process: Some(settings.oms.default_process.clone()).filter(|name| !name.is_empty()),
        initial_state: settings.oms.initial_state.clone(),
    }
}

/// Everything the OMS needs in one process.
#[derive(Clone)]
pub struct Oms {
    pub processes: Arc<ProcessSet>,
    pub engine: OmsEngine,
    pub registry: Arc<OmsRegistry>,
}

impl Oms {
    pub fn open(settings: &Settings, database: &SqlDatabase, mailer: Arc<dyn Mailer>) -> anyhow::Result<Self> {
        let registry = Arc::new(registry(database, mailer));
        let processes = load_processes(settings, &registry)?;
        let engine = OmsEngine::new(
            Arc::clone(&processes),
            Arc::clone(&registry),
            Arc::new(database.clone()),
            Arc::new(database.clone()),
        );
        Ok(Self {
            processes,
            engine,
            registry,
        })
    }

    /// Announces every committed OMS run that moved items on `notifier` (`order.status`).
    pub fn announcing(mut self, notifier: Arc<dyn kontor_notify::Notifier>) -> Self {
        self.engine = self
            .engine
            .with_observer(Arc::new(crate::live::OrderAnnouncer { notifier }));
        self
    }

    /// The admin API's order endpoints over this OMS.
    pub fn order_admin(&self, database: &SqlDatabase) -> kontor_backoffice::orders::OrderAdmin {
        kontor_backoffice::orders::OrderAdmin {
            orders: Arc::new(database.clone()),
            oms: Arc::new(database.clone()),
            engine: self.engine.clone(),
            registry: Arc::clone(&self.registry),
        }
    }
}

/// Consumes `oms.events`: each message names orders whose items may have steps to take.
pub struct OmsEventsHandler {
    pub engine: OmsEngine,
}

#[async_trait::async_trait]
impl BatchHandler for OmsEventsHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<(), BatchError> {
        let mut orders = std::collections::BTreeSet::new();
        for delivery in batch {
            let message: PublishMessage = serde_json::from_slice(&delivery.payload)
                .map_err(|error| BatchError::new(format!("not an oms.events message: {error}")))?;
            orders.extend(message.ids);
        }
        use futures_util::StreamExt;
        // Orders are independent (each run holds only its order's lock): run several at once.
        let results: Vec<(i64, Result<(), OmsError>)> = futures_util::stream::iter(orders)
            .map(|order_id| async move {
                let result = self.engine.advance_order(order_id, "worker").await.map(|_| ());
                (order_id, result)
            })
            .buffer_unordered(ORDERS_AT_ONCE)
            .collect()
            .await;
        let mut busy = Vec::new();
        for (order_id, result) in results {
            match result {
                Ok(()) => {}
                // Another run holds the order; it may have read the order before this change, so the
                // message is retried rather than dropped.
                Err(OmsError::Busy(_)) => busy.push(order_id),
                // A failed command is logged on the items and retried by the sweep; not a poison message.
                Err(OmsError::CommandFailed { command, message }) => {
                    tracing::warn!(order_id, %command, %message, "OMS command failed");
                }
                Err(OmsError::OrderNotFound(_)) => {}
                Err(error) => return Err(BatchError::transient(error)),
            }
        }
        if busy.is_empty() {
            Ok(())
        } else {
            Err(BatchError::transient(format!(
                "orders {busy:?} are being processed elsewhere"
            )))
        }
    }
}

/// The worker's timers: due timeouts every second, the condition sweep every minute.
pub async fn run_timers(engine: OmsEngine, shutdown: CancellationToken) {
    let mut last_sweep = std::time::Instant::now();
    while !shutdown.is_cancelled() {
        match engine.fire_due_timeouts(BATCH).await {
            Ok(0) => {}
            Ok(fired) => tracing::debug!(fired, "OMS timeouts fired"),
            Err(error) => tracing::warn!(%error, "firing OMS timeouts failed"),
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = std::time::Instant::now();
            if let Err(error) = engine.check_conditions(BATCH).await {
                tracing::warn!(%error, "OMS condition check failed");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => {},
            () = tokio::time::sleep(TIMEOUT_POLL) => {},
        }
    }
}

/// `kontor oms purge-log` and the `oms purge-log` job: deletes transition-log rows older than
/// `retention_days` days in bounded batches; answers what it did, for the terminal or the run history.
pub async fn purge_log(database: &SqlDatabase, retention_days: u32) -> Result<String, kontor_domain::DomainError> {
    let cutoff = kontor_domain::oms::retention_cutoff(chrono::Utc::now(), retention_days);
    let purged = kontor_domain::oms::purge_transition_log(database, cutoff, kontor_domain::oms::PURGE_BATCH).await?;
    Ok(format!(
        "{purged} transition log row(s) older than {retention_days} day(s) deleted"
    ))
}

/// `kontor oms validate`: the configured processes, or the given files.
pub fn validate(
    settings: &Settings,
    registry: &OmsRegistry,
    files: &[PathBuf],
    structure_only: bool,
) -> anyhow::Result<()> {
    let checks = if structure_only {
        Checks::StructureOnly
    } else {
        Checks::Full
    };
    let mut failed = false;
    let report = |name: &str, result: Result<Vec<kontor_oms::Diagnostic>, kontor_oms::LoadError>| -> bool {
        match result {
            Ok(warnings) => {
                for warning in &warnings {
                    println!("{warning}");
                }
                println!("{name}: valid ({} warning(s))", warnings.len());
                false
            }
            Err(error) => {
                for diagnostic in &error.diagnostics {
                    println!("{diagnostic}");
                }
                let errors = error
                    .diagnostics
                    .iter()
                    .filter(|diagnostic| diagnostic.severity == Severity::Error)
                    .count();
                println!("{name}: {errors} error(s)");
                true
            }
        }
    };
    if files.is_empty() {
        let dirs = process_dirs(settings)?;
        let result = ProcessSet::load(&dirs, &settings.oms.active_processes, registry, checks);
        failed |= report(
            &settings.oms.active_processes.join(", "),
            result.map(|(_, warnings)| warnings),
        );
    } else {
        for file in files {
            let result = kontor_oms::load_process_file(file, registry, checks);
            failed |= report(&file.display().to_string(), result.map(|(_, warnings)| warnings));
        }
    }
    if failed {
        bail!("invalid OMS process definition");
    }
    Ok(())
}

/// `kontor oms draw`: the diagram of a loaded process as DOT or SVG.
pub fn draw(
    settings: &Settings,
    registry: &OmsRegistry,
    process: &str,
    format: &str,
    state: Option<&str>,
) -> anyhow::Result<String> {
    let dirs = process_dirs(settings)?;
    let (set, _) = ProcessSet::load(&dirs, &settings.oms.active_processes, registry, Checks::StructureOnly)
        .map_err(|error| anyhow::anyhow!("the OMS processes are invalid:\n{error}"))?;
    let Some(definition) = set.get(process) else {
        bail!(
            "unknown process {process:?}; loaded: {}",
            set.names().collect::<Vec<_>>().join(", ")
        );
    };
    if let Some(state) = state
        && definition.state(state).is_none()
    {
        bail!("process {process} has no state {state:?} (--state)");
    }
    let options = DrawOptions {
        highlight: state,
        keys: registry,
    };
    match format {
        "dot" => Ok(kontor_oms::draw_dot(definition, &options)),
        "svg" => Ok(kontor_oms::draw_svg(definition, &options)),
        other => bail!("unknown format {other:?} (--format); one of: svg, dot"),
    }
}
