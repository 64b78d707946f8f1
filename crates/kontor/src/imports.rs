//! The Back Office's import jobs ([`ImportRunner`]): an upload is stored under
//! `<data_dir>/imports/<job id>/`, imported by a background task with `kontor-import`, and followed
//! live through `import.progress` notifications on the `imports` channel.
//!
//! Rows with errors do not stop a job: the importer runs with `skip_invalid`, writes the good rows and
//! puts the bad ones, each with its error, into rejects files in the job's directory, from which the
//! error report is made. A job fails only when a whole data set cannot be imported (its header, the
//! recipe, the database).
//!
//! A recipe is uploaded alone, so the files it names must already be on the server: its sources are
//! read relative to the data directory and must be `.csv` files under `<data_dir>/data/import/`
//! (Spryker's `data/import/…` paths thus work unchanged). Nothing else of the data directory can be
//! named: it holds secrets, mail and the file store, and an importer's messages quote what it read.
//!
//! Jobs run one at a time, in the order they were started, so that two imports do not compete for
//! the database's write lock. The history is per process and in memory: the last [`JOBS_KEPT`] jobs
//! are remembered until the backend restarts, and the directory of a job that is forgotten is
//! deleted with it. Directories left by an earlier process stay until removed by hand.

use anyhow::Context;
use async_trait::async_trait;
use kontor_backoffice::ui::imports::{
    ImportDataSet, ImportJob, ImportJobId, ImportRunner, ImportStartError, ImportState, ImportUpload,
};
use kontor_backoffice::ui::ws::{IMPORT_PROGRESS, IMPORTS_CHANNEL};
use kontor_db::SqlDatabase;
use kontor_import::{DataEntity, DataSetSummary, ImportError, ImportOptions, Importer, ProgressFn, Recipe};
use kontor_notify::{Notification, Notifier};
use std::collections::VecDeque;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Jobs remembered, finished or not; older finished ones are forgotten and their files deleted.
pub const JOBS_KEPT: usize = 50;
/// Jobs queued or running at most; a further upload is refused until one has finished.
const JOBS_PENDING_MAX: usize = 10;
/// Progress notifications of one job are this far apart at least (plus a final one).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Warnings kept per data set for the job page; the importer's log has them all.
const WARNINGS_KEPT: usize = 100;
/// Where a recipe's sources must lie, relative to the data directory.
const RECIPE_SOURCES: &str = "data/import";
/// A file name's stem as stored: the importer names rejects files after it.
const MAX_STEM_CHARS: usize = 80;

/// A job with what only the runner needs: its directory and its rejects files.
struct TrackedJob {
    job: ImportJob,
    dir: PathBuf,
    /// Data set name and rejects file, in the order the data sets ran.
    rejects: Vec<(String, PathBuf)>,
}

/// One data set to import: a recipe step or the single uploaded CSV file.
struct Step {
    entity: DataEntity,
    path: PathBuf,
}

/// What a job will do, decided when it is started.
struct Plan {
    steps: Vec<Step>,
    /// Recipe steps of entities Kontor does not import (yet).
    skipped: Vec<String>,
}

/// Server paths shortened in messages shown to users: a message names `tax.csv:3` or
/// `data/import/tax.csv:3`, not where the backend keeps its files.
#[derive(Clone)]
struct MessagePaths {
    /// `<job dir>/`, `<data dir>/` and the canonical `<data dir>/` (recipe sources are canonical), the
    /// job's first since it lies inside the data directory.
    prefixes: Vec<String>,
}

impl MessagePaths {
    fn new(job_dir: &Path, data_dir: &Path) -> Self {
        let canonical_data_dir = data_dir.canonicalize().ok();
        let prefixes = [Some(job_dir), Some(data_dir), canonical_data_dir.as_deref()]
            .into_iter()
            .flatten()
            .map(|dir| format!("{}/", dir.display()))
            .collect();
        Self { prefixes }
    }

    fn tidy(&self, message: &str) -> String {
        self.prefixes
            .iter()
            .fold(message.to_owned(), |tidied, prefix| tidied.replace(prefix, ""))
    }
}

/// The state the request handlers and the job tasks share.
struct Shared {
    database: SqlDatabase,
    notifier: Arc<dyn Notifier>,
    data_dir: PathBuf,
    jobs_dir: PathBuf,
    /// Newest first.
    jobs: Mutex<VecDeque<TrackedJob>>,
    /// Held by the running job: jobs run one at a time (tokio's mutex queues its waiters in order).
    turn: tokio::sync::Mutex<()>,
}

/// Imports started from the Back Office, run in background tasks of this process.
pub struct BackgroundImports {
    shared: Arc<Shared>,
}

impl BackgroundImports {
    /// Jobs keep their files under `<data_dir>/imports/`; recipes read theirs from
    /// `<data_dir>/data/import/`.
    pub fn new(database: SqlDatabase, notifier: Arc<dyn Notifier>, data_dir: &Path) -> Self {
        Self {
            shared: Arc::new(Shared {
                database,
                notifier,
                data_dir: data_dir.to_path_buf(),
                jobs_dir: data_dir.join("imports"),
                jobs: Mutex::new(VecDeque::new()),
                turn: tokio::sync::Mutex::new(()),
            }),
        }
    }
}

#[async_trait]
impl ImportRunner for BackgroundImports {
    fn data_entities(&self) -> Vec<&'static str> {
        DataEntity::ALL.iter().map(|entity| entity.name()).collect()
    }

    async fn start(&self, upload: ImportUpload) -> Result<ImportJobId, ImportStartError> {
        let pending = self
            .shared
            .jobs()
            .iter()
            .filter(|tracked| !tracked.job.state.is_finished())
            .count();
        if pending >= JOBS_PENDING_MAX {
            return Err(ImportStartError::Invalid {
                field: kontor_web::html::forms::FORM,
                message: format!(
                    "{pending} imports are waiting or running already; start this one when one of them has finished."
                ),
            });
        }
        let id = new_job_id();
        let dir = self.shared.jobs_dir.join(id.as_str());
        let paths = MessagePaths::new(&dir, &self.shared.data_dir);
        let data_dir = self.shared.data_dir.clone();
        let job = ImportJob {
            id: id.clone(),
            file_name: upload.file_name.clone(),
            data_entity: upload.data_entity.clone(),
            started_by: upload.started_by.clone(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            state: ImportState::Queued,
            processed: 0,
            total: None,
            data_sets: Vec::new(),
            skipped: Vec::new(),
            error: None,
            has_report: false,
        };
        let job_dir = dir.clone();
        // Writing up to the upload limit and reading a recipe's files is blocking work.
        let prepared = tokio::task::spawn_blocking(move || prepare(&job_dir, &data_dir, &paths, upload))
            .await
            .map_err(|error| ImportStartError::Unavailable(error.to_string()))?;
        let plan = match prepared {
            Ok(plan) => plan,
            Err(error) => {
                remove_dirs(vec![dir]);
                return Err(error);
            }
        };
        let forgotten = self.shared.admit(TrackedJob {
            job: ImportJob {
                skipped: plan.skipped.clone(),
                ..job
            },
            dir,
            rejects: Vec::new(),
        });
        remove_dirs(forgotten);
        tokio::spawn(run_job(Arc::clone(&self.shared), id.clone(), plan));
        Ok(id)
    }

    async fn jobs(&self) -> Vec<ImportJob> {
        self.shared.jobs().iter().map(|tracked| tracked.job.clone()).collect()
    }

    async fn job(&self, id: &ImportJobId) -> Option<ImportJob> {
        self.shared.find(id, |tracked| tracked.job.clone())
    }

    async fn report(&self, id: &ImportJobId) -> Option<Vec<u8>> {
        let rejects = self.shared.find(id, |tracked| tracked.rejects.clone())?;
        if rejects.is_empty() {
            return None;
        }
        match tokio::task::spawn_blocking(move || error_report(&rejects)).await {
            Ok(Ok(report)) => Some(report),
            Ok(Err(error)) => {
                tracing::error!(job = %id, error = %format!("{error:#}"), "the import's error report cannot be read");
                None
            }
            Err(error) => {
                tracing::error!(job = %id, %error, "the import's error report cannot be read");
                None
            }
        }
    }
}

impl Shared {
    fn jobs(&self) -> MutexGuard<'_, VecDeque<TrackedJob>> {
        // A panic while the lock was held cannot leave a job half-written in a way that matters more
        // than losing the whole history would.
        self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn find<T>(&self, id: &ImportJobId, read: impl FnOnce(&TrackedJob) -> T) -> Option<T> {
        self.jobs().iter().find(|tracked| tracked.job.id == *id).map(read)
    }

    fn update(&self, id: &ImportJobId, change: impl FnOnce(&mut TrackedJob)) {
        if let Some(tracked) = self.jobs().iter_mut().find(|tracked| tracked.job.id == *id) {
            change(tracked);
        }
    }

    /// Adds a job as the newest; returns the directories of the finished jobs forgotten to make room.
    fn admit(&self, tracked: TrackedJob) -> Vec<PathBuf> {
        let mut jobs = self.jobs();
        jobs.push_front(tracked);
        let mut forgotten = Vec::new();
        while jobs.len() > JOBS_KEPT {
            let Some(oldest_finished) = jobs.iter().rposition(|tracked| tracked.job.state.is_finished()) else {
                break;
            };
            if let Some(removed) = jobs.remove(oldest_finished) {
                forgotten.push(removed.dir);
            }
        }
        forgotten
    }

    /// Tells open Back Office pages where job `id` stands.
    async fn publish_progress(&self, id: &ImportJobId, done: bool) {
        let payload = self.find(id, |tracked| {
            let errors: u64 = tracked.job.data_sets.iter().map(|data_set| data_set.rejected).sum();
            serde_json::json!({
                "job": tracked.job.id,
                "processed": tracked.job.processed,
                "total": tracked.job.total,
                "errors": errors,
                "done": done,
            })
        });
        let Some(payload) = payload else { return };
        // Progress is a hint for open pages; the job page shows the truth on the next load.
        if let Err(error) = self
            .notifier
            .publish(IMPORTS_CHANNEL, Notification::new(IMPORT_PROGRESS, payload))
            .await
        {
            tracing::warn!(job = %id, %error, "import progress could not be announced");
        }
    }
}

/// `20260314-093012-1a2b3c`: sortable by start time, unique enough within one process.
fn new_job_id() -> ImportJobId {
    let random = rand::random::<u32>() & 0x00ff_ffff;
    let raw = format!("{}-{random:06x}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    ImportJobId::parse(&raw).expect("a job id is digits and dashes")
}

/// Deletes directories of jobs in the background; a failure is only logged.
fn remove_dirs(dirs: Vec<PathBuf>) {
    if dirs.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        for dir in dirs {
            if let Err(error) = std::fs::remove_dir_all(&dir)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(dir = %dir.display(), %error, "an import job's directory could not be deleted");
            }
        }
    });
}

fn invalid(field: &'static str, message: impl Into<String>) -> ImportStartError {
    ImportStartError::Invalid {
        field,
        message: message.into(),
    }
}

/// `My Products (2).CSV` → `my-products-2`: a stem safe as a file name, never empty.
fn safe_stem(file_name: &str) -> String {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    let mut cleaned = String::with_capacity(stem.len());
    for character in stem.chars().flat_map(char::to_lowercase) {
        let kept = if character.is_ascii_alphanumeric() || character == '_' {
            character
        } else {
            '-'
        };
        if !(kept == '-' && cleaned.ends_with('-')) {
            cleaned.push(kept);
        }
    }
    let cleaned: String = cleaned.trim_matches('-').chars().take(MAX_STEM_CHARS).collect();
    if cleaned.is_empty() {
        "upload".to_owned()
    } else {
        cleaned
    }
}

/// Stores the upload in `job_dir` and decides the job's steps; refuses what cannot be imported.
fn prepare(
    job_dir: &Path,
    data_dir: &Path,
    paths: &MessagePaths,
    upload: ImportUpload,
) -> Result<Plan, ImportStartError> {
    let unavailable = |error: std::io::Error| ImportStartError::Unavailable(format!("{}: {error}", job_dir.display()));
    std::fs::create_dir_all(job_dir).map_err(unavailable)?;
    let stem = safe_stem(&upload.file_name);
    match upload.data_entity.as_deref() {
        Some(raw_entity) => {
            let entity = DataEntity::parse(raw_entity)
                .ok_or_else(|| invalid("data_entity", format!("Kontor does not import \"{raw_entity}\".")))?;
            let path = job_dir.join(format!("{stem}.csv"));
            std::fs::write(&path, &upload.bytes).map_err(unavailable)?;
            Ok(Plan {
                steps: vec![Step { entity, path }],
                skipped: Vec::new(),
            })
        }
        None => {
            let path = job_dir.join(format!("{stem}.yml"));
            std::fs::write(&path, &upload.bytes).map_err(unavailable)?;
            recipe_plan(&path, data_dir, paths)
        }
    }
}

/// The steps of a recipe, each source checked to be a CSV file under [`RECIPE_SOURCES`].
fn recipe_plan(recipe: &Path, data_dir: &Path, paths: &MessagePaths) -> Result<Plan, ImportStartError> {
    let recipe = Recipe::load(recipe, false).map_err(|error| invalid("file", paths.tidy(&error.to_string())))?;
    let Ok(sources_dir) = data_dir.join(RECIPE_SOURCES).canonicalize() else {
        return Err(invalid(
            "file",
            format!("This backend has no {RECIPE_SOURCES}/ directory, where a recipe's files must be."),
        ));
    };
    let mut plan = Plan {
        steps: Vec::new(),
        skipped: Vec::new(),
    };
    let mut refused = Vec::new();
    for action in recipe.actions {
        let Some(entity) = action.entity else {
            plan.skipped.push(action.data_entity);
            continue;
        };
        match recipe_source(data_dir, &sources_dir, &action.source) {
            Some(path) => plan.steps.push(Step { entity, path }),
            None => refused.push(action.source),
        }
    }
    if !refused.is_empty() {
        return Err(invalid(
            "file",
            format!(
                "The recipe names files that are not CSV files under {RECIPE_SOURCES}/ on the server: {}.",
                refused.join(", ")
            ),
        ));
    }
    if plan.steps.is_empty() {
        return Err(invalid("file", "The recipe names no data set that Kontor imports."));
    }
    Ok(plan)
}

/// `source` resolved against the data directory, when it is an existing `.csv` file under
/// `sources_dir` (canonical, so that neither `..` nor a symbolic link leads elsewhere).
fn recipe_source(data_dir: &Path, sources_dir: &Path, source: &str) -> Option<PathBuf> {
    let relative = Path::new(source);
    let plain = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    let is_csv = relative
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
    if !plain || !is_csv {
        return None;
    }
    let path = data_dir.join(relative).canonicalize().ok()?;
    (path.starts_with(sources_dir) && path.is_file()).then_some(path)
}

/// Rows in the files, as the progress' total; `None` when a file cannot be read (the import will say why).
fn count_rows(files: &[PathBuf]) -> Option<u64> {
    let mut total = 0;
    for file in files {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(file).ok()?;
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).ok()? {
            total += 1;
        }
    }
    Some(total)
}

/// One job, from its turn to its final notification.
async fn run_job(shared: Arc<Shared>, id: ImportJobId, plan: Plan) {
    let _turn = shared.turn.lock().await;
    shared.update(&id, |tracked| tracked.job.state = ImportState::Running);
    let files: Vec<PathBuf> = plan.steps.iter().map(|step| step.path.clone()).collect();
    let total = tokio::task::spawn_blocking(move || count_rows(&files))
        .await
        .ok()
        .flatten();
    shared.update(&id, |tracked| tracked.job.total = total);

    let (changed, watcher) = watch::channel(());
    let publisher = tokio::spawn(announce_progress(Arc::clone(&shared), id.clone(), watcher));
    changed.send_replace(());
    // The import runs in a task of its own, so that a panic in it fails the job instead of leaving
    // it running forever.
    let outcome = match tokio::spawn(import_steps(Arc::clone(&shared), id.clone(), plan, changed)).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(job = %id, %error, "an import task ended abnormally");
            Err("The import stopped unexpectedly; the details are in the backend's log.".to_owned())
        }
    };
    // The sender went with the import task, so the publisher ends after its last notification and
    // the final one below is the last the pages get.
    let _ = publisher.await;
    shared.update(&id, |tracked| {
        tracked.job.finished_at = Some(chrono::Utc::now());
        match outcome {
            Ok(()) => {
                tracked.job.state = ImportState::Done;
                tracked.job.total = Some(tracked.job.processed);
            }
            Err(message) => {
                tracked.job.state = ImportState::Failed;
                tracked.job.error = Some(message);
            }
        }
    });
    shared.publish_progress(&id, true).await;
}

/// Publishes the job's progress whenever it changed, at most every [`PROGRESS_EVERY`], until the
/// import drops its sender.
async fn announce_progress(shared: Arc<Shared>, id: ImportJobId, mut changed: watch::Receiver<()>) {
    while changed.changed().await.is_ok() {
        shared.publish_progress(&id, false).await;
        tokio::time::sleep(PROGRESS_EVERY).await;
    }
}

/// Imports the plan's data sets in order; the first that fails stops the job with a message for users.
async fn import_steps(
    shared: Arc<Shared>,
    id: ImportJobId,
    plan: Plan,
    changed: watch::Sender<()>,
) -> Result<(), String> {
    let Some(dir) = shared.find(&id, |tracked| tracked.dir.clone()) else {
        return Ok(());
    };
    let paths = MessagePaths::new(&dir, &shared.data_dir);
    let changed = Arc::new(changed);
    let mut rows_before = 0;
    for (index, step) in plan.steps.into_iter().enumerate() {
        let name = step.entity.name();
        // A directory per step: two files of one recipe may share a name, and so would their rejects.
        let rejects_dir = dir.join("rejects").join(format!("{index}-{name}"));
        let created = tokio::task::spawn_blocking({
            let rejects_dir = rejects_dir.clone();
            move || std::fs::create_dir_all(rejects_dir)
        })
        .await;
        if !matches!(created, Ok(Ok(()))) {
            tracing::error!(job = %id, dir = %rejects_dir.display(), "the rejects directory cannot be created");
            return Err(
                "The import could not store its error report; the details are in the backend's log.".to_owned(),
            );
        }
        let progress: ProgressFn = {
            let shared = Arc::clone(&shared);
            let id = id.clone();
            let changed = Arc::clone(&changed);
            Arc::new(move |_: &str, written: u64| {
                shared.update(&id, |tracked| tracked.job.processed = rows_before + written);
                changed.send_replace(());
            })
        };
        let options = ImportOptions {
            skip_invalid: true,
            rejects_dir: Some(rejects_dir),
            progress: Some(progress),
            ..ImportOptions::default()
        };
        let summary = Importer::new(shared.database.clone(), options)
            .run_file(name, &step.path)
            .await
            .map_err(|error| failure_message(&id, &error, &paths))?;
        rows_before += summary.rows_read;
        shared.update(&id, |tracked| record_data_set(tracked, summary, rows_before, &paths));
        changed.send_replace(());
    }
    Ok(())
}

fn record_data_set(tracked: &mut TrackedJob, summary: DataSetSummary, rows_before: u64, paths: &MessagePaths) {
    tracked.job.processed = rows_before;
    if let Some(rejects) = summary.rejects_file {
        tracked.rejects.push((summary.data_set.clone(), rejects));
        tracked.job.has_report = true;
    }
    tracked.job.data_sets.push(ImportDataSet {
        name: summary.data_set,
        rows: summary.rows_read,
        inserted: summary.inserted,
        updated: summary.updated,
        unchanged: summary.unchanged,
        rejected: summary.rejected,
        warnings: summary
            .warnings
            .iter()
            .take(WARNINGS_KEPT)
            .map(|warning| paths.tidy(warning))
            .collect(),
    });
}

/// Why a data set failed, for users: what is wrong with the files in full, storage trouble only in
/// the log.
fn failure_message(id: &ImportJobId, error: &ImportError, paths: &MessagePaths) -> String {
    match error {
        ImportError::Database(_) | ImportError::Io { .. } => {
            tracing::error!(job = %id, %error, "an import failed");
            "The import stopped on a storage error; the details are in the backend's log.".to_owned()
        }
        other => paths.tidy(&other.to_string()),
    }
}

/// The error report: a single rejects file as it is (Spryker's columns plus `error`, so that it can be
/// corrected and uploaded again); several as one table of `data_set`, `error` and the row as
/// `column=value` pairs, since their columns differ.
fn error_report(rejects: &[(String, PathBuf)]) -> anyhow::Result<Vec<u8>> {
    if let [(_, file)] = rejects {
        return std::fs::read(file).with_context(|| format!("read {}", file.display()));
    }
    let mut report = csv::Writer::from_writer(Vec::new());
    report.write_record(["data_set", "error", "row"])?;
    for (data_set, file) in rejects {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(file)
            .with_context(|| format!("read {}", file.display()))?;
        let columns = reader.headers()?.clone();
        for record in reader.records() {
            let record = record?;
            // The importer appends the error as the last column.
            let error_at = record.len().saturating_sub(1);
            let row = columns
                .iter()
                .zip(record.iter())
                .take(error_at)
                .map(|(column, value)| format!("{column}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            report.write_record([data_set.as_str(), record.get(error_at).unwrap_or_default(), &row])?;
        }
    }
    report.into_inner().context("finish the error report")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_notify::{BroadcastNotifier, NotifierOptions, Received};

    const TAX: &str = "\
tax_set_name,country_name,tax_rate_name,tax_rate_percent
Standard,Germany,DE Std,19
Standard,Nowhere,XX Std,10
Standard,AT,AT Std,20
";

    struct Harness {
        imports: BackgroundImports,
        notifier: Arc<BroadcastNotifier>,
        data_dir: tempfile::TempDir,
    }

    async fn harness() -> Harness {
        let data_dir = tempfile::tempdir().expect("a temp data directory");
        let url = format!("sqlite://{}/kontor.db", data_dir.path().display());
        let database = SqlDatabase::connect(&url, 5).await.expect("SQLite opens");
        database.migrate().await.expect("migrations apply");
        let notifier = Arc::new(BroadcastNotifier::new(NotifierOptions::new("", "test-node")).expect("notifier"));
        let imports = BackgroundImports::new(database, notifier.clone(), data_dir.path());
        Harness {
            imports,
            notifier,
            data_dir,
        }
    }

    fn upload(file_name: &str, content: &str, data_entity: Option<&str>) -> ImportUpload {
        ImportUpload {
            file_name: file_name.to_owned(),
            bytes: content.as_bytes().to_vec(),
            data_entity: data_entity.map(str::to_owned),
            started_by: "catalog@example.com".to_owned(),
        }
    }

    /// The progress notifications of job `id` up to the final one.
    async fn progress_until_done(
        subscription: &mut kontor_notify::Subscription,
        id: &ImportJobId,
    ) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        loop {
            let received = tokio::time::timeout(Duration::from_secs(30), subscription.recv())
                .await
                .expect("the job reports within 30 s")
                .expect("the notifier is open");
            let Received::Notification { notification, .. } = received else {
                continue;
            };
            if notification.payload["job"] != id.as_str() {
                continue;
            }
            seen.push(notification.payload.clone());
            if notification.payload["done"] == true {
                return seen;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_csv_is_imported_in_the_background_and_its_bad_row_reported() {
        let harness = harness().await;
        let mut subscription = harness.notifier.subscribe(&[IMPORTS_CHANNEL]).await.expect("subscribe");
        let id = harness
            .imports
            .start(upload("My Taxes.csv", TAX, Some("tax")))
            .await
            .expect("the job starts");

        let progress = progress_until_done(&mut subscription, &id).await;
        let last = progress.last().expect("a final notification");
        assert_eq!(
            (&last["processed"], &last["total"], &last["errors"]),
            (&serde_json::json!(3), &serde_json::json!(3), &serde_json::json!(1)),
            "{progress:?}"
        );

        let job = harness.imports.job(&id).await.expect("the job is remembered");
        assert_eq!(job.state, ImportState::Done, "{job:?}");
        assert_eq!(job.file_name, "My Taxes.csv");
        let data_set = &job.data_sets[0];
        assert_eq!(
            (
                data_set.name.as_str(),
                data_set.rows,
                data_set.inserted,
                data_set.rejected
            ),
            ("tax", 3, 2, 1)
        );
        assert!(job.has_report && job.finished_at.is_some());
        assert_eq!(harness.imports.jobs().await.len(), 1);

        let report = harness.imports.report(&id).await.expect("a report");
        let report = String::from_utf8(report).expect("UTF-8");
        assert_eq!(
            report,
            "tax_set_name,country_name,tax_rate_name,tax_rate_percent,error\n\
             Standard,Nowhere,XX Std,10,\"country_name: country \"\"Nowhere\"\" is unknown\"\n"
        );
        let stored = harness
            .data_dir
            .path()
            .join("imports")
            .join(id.as_str())
            .join("my-taxes.csv");
        assert!(stored.is_file(), "the upload is kept in the job's directory");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recipe_reads_only_csv_files_under_data_import() {
        let harness = harness().await;
        let sources = harness.data_dir.path().join(RECIPE_SOURCES);
        std::fs::create_dir_all(&sources).expect("data/import");
        std::fs::write(sources.join("tax.csv"), TAX).expect("tax.csv");
        std::fs::write(harness.data_dir.path().join("secret.csv"), "secret\n").expect("a file outside");

        for source in [
            "secret.csv",
            "data/import/../../secret.csv",
            "/etc/passwd",
            "data/import/missing.csv",
        ] {
            let recipe = format!("version: 0\nactions:\n  - data_entity: tax\n    source: {source}\n");
            let refused = harness.imports.start(upload("shop.yml", &recipe, None)).await;
            let Err(ImportStartError::Invalid { field, message }) = refused else {
                panic!("{source} is refused: {refused:?}");
            };
            assert_eq!(field, "file");
            assert!(message.contains(source), "{message}");
        }
        let unknown = harness.imports.start(upload("tax.csv", TAX, Some("tax-rate"))).await;
        assert!(
            matches!(
                unknown,
                Err(ImportStartError::Invalid {
                    field: "data_entity",
                    ..
                })
            ),
            "{unknown:?}"
        );
        assert!(harness.imports.jobs().await.is_empty(), "refused uploads leave no job");

        let mut subscription = harness.notifier.subscribe(&[IMPORTS_CHANNEL]).await.expect("subscribe");
        let recipe = "version: 0\nactions:\n  - data_entity: tax\n    source: data/import/tax.csv\n  \
                      - data_entity: product-price-schedule\n    source: data/import/product_price_schedule.csv\n";
        let id = harness
            .imports
            .start(upload("shop.yml", recipe, None))
            .await
            .expect("the recipe starts");
        progress_until_done(&mut subscription, &id).await;
        let job = harness.imports.job(&id).await.expect("the job is remembered");
        assert_eq!(
            (job.state, job.skipped.as_slice(), job.data_sets.len()),
            (ImportState::Done, ["product-price-schedule".to_owned()].as_slice(), 1),
            "{job:?}"
        );
        assert_eq!(job.data_sets[0].rejected, 1);
    }

    #[test]
    fn several_rejects_files_make_one_report() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tax = dir.path().join("tax.rejects.csv");
        std::fs::write(
            &tax,
            "tax_set_name,country_name,error\nStandard,Nowhere,\"country_name: unknown\"\n",
        )
        .expect("write");
        let store = dir.path().join("store.rejects.csv");
        std::fs::write(&store, "name,error\nXX,name: bad\n").expect("write");
        let report = error_report(&[("tax".to_owned(), tax), ("store".to_owned(), store)]).expect("a report");
        assert_eq!(
            String::from_utf8(report).expect("UTF-8"),
            "data_set,error,row\n\
             tax,country_name: unknown,tax_set_name=Standard; country_name=Nowhere\n\
             store,name: bad,name=XX\n"
        );
        assert_eq!(safe_stem("C Files/My Taxes (2).CSV"), "c-files-my-taxes-2");
        assert_eq!(safe_stem(".csv"), "upload");
    }
}
