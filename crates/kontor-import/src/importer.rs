//! The driver: header check, pass 1 (validate every row), pass 2 (write in batches), summary.
//!
//! Each batch is one write transaction (`BEGIN IMMEDIATE` on SQLite) holding the data set's upserts
//! and the batch's deduplicated outbox rows, so an interrupted import re-run converges to the same
//! database.
//!
//! A dry run is the same import inside one transaction that is rolled back at the end: every data set
//! is validated against what the earlier ones would have written (a recipe's product-concrete step
//! sees the abstracts its product-abstract step created), and the summary counts are the real ones.
//! The lookups of each data set are read through that transaction, and each batch becomes a savepoint
//! in it. The price is that a dry run holds the write lock (SQLite) or the row locks (PostgreSQL,
//! MariaDB) of everything it would change until it ends.

use crate::error::ImportError;
use crate::reader::{CsvSource, Header, RowView};
use crate::recipe::{DataEntity, Recipe};
use crate::sets;
use crate::summary::{DataSetSummary, ImportSummary};
use kontor_db::SqlDatabase;
use kontor_db::entity::outbox;
use kontor_domain::outbox::ChangeKind;
use sea_orm::{
    DatabaseTransaction, DbErr, EntityTrait, Set, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Called with the data set name and rows written so far, after every batch.
pub type ProgressFn = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// How an import behaves.
#[derive(Clone)]
pub struct ImportOptions {
    /// Rows per write transaction.
    pub batch_size: usize,
    /// Write the good rows of a data set with bad ones, and the bad ones to `<file>.rejects.csv`.
    pub skip_invalid: bool,
    /// A recipe step whose entity Kontor does not import is an error instead of a skipped step.
    pub strict: bool,
    /// Where rejects files go; next to the data file when `None`.
    pub rejects_dir: Option<PathBuf>,
    /// How many row problems an error lists (the total is always given).
    pub max_reported: usize,
    pub progress: Option<ProgressFn>,
    /// Run everything, then roll it back: the same validation, errors and summary, nothing written
    /// (rejects files with `skip_invalid` are still written: they are the report).
    pub dry_run: bool,
    /// Recipe steps to run; the others are left out (and listed in [`ImportSummary::not_selected`]).
    /// Empty means every step. Each must be a step of the recipe.
    pub only: Vec<DataEntity>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            skip_invalid: false,
            strict: false,
            rejects_dir: None,
            max_reported: 100,
            progress: None,
            dry_run: false,
            only: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOptions")
            .field("batch_size", &self.batch_size)
            .field("skip_invalid", &self.skip_invalid)
            .field("strict", &self.strict)
            .field("rejects_dir", &self.rejects_dir)
            .field("dry_run", &self.dry_run)
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

/// Imports Spryker-layout CSV files into the relational database.
pub struct Importer {
    database: SqlDatabase,
    options: ImportOptions,
    /// The transaction a dry run runs in; `None` for a real import, whose batches commit one by one.
    scope: Option<DatabaseTransaction>,
}

/// A row problem: the column (or `-` for the whole row) and why.
#[derive(Debug, Clone)]
pub(crate) struct RowError {
    pub column: String,
    pub reason: String,
}

impl RowError {
    pub fn new(column: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            reason: reason.into(),
        }
    }
}

/// How a column of a header is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Used,
    /// A Spryker column Kontor does not store; skipped with a note.
    Ignored,
    Unknown,
}

/// One data set's parsing and writing. `parse` must be deterministic for a file so that pass 2 sees
/// exactly the rows pass 1 accepted; `begin_pass` resets per-pass state (keys seen in the file).
/// `prepare` loads the lookups through a transaction: a short read-only one for a real import, the
/// dry run's own one otherwise, so that it sees what earlier data sets of the dry run wrote.
pub(crate) trait DataSet: Sized + Send {
    type Row: Send;
    const REQUIRED: &'static [&'static str];
    /// Tables the data set fills and, in later batches of the same run, looks up by key: on PostgreSQL
    /// they are analyzed as they grow (see `SqlDatabase::note_growth`), or a lookup planned on the empty
    /// table scans the whole growing table (product images at 100k: 2.5-3.3 s per batch).
    const GROWS: &'static [&'static str] = &[];
    fn column_kind(column: &str) -> ColumnKind;
    fn prepare(
        connection: &DatabaseTransaction,
        header: &Header,
        notes: &mut Vec<String>,
    ) -> impl Future<Output = Result<Self, DbErr>> + Send;
    fn begin_pass(&mut self);
    fn parse(&mut self, row: &RowView<'_>, warnings: &mut Vec<RowError>) -> Result<Self::Row, RowError>;
    fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<Self::Row>,
        batch: &mut Batch,
    ) -> impl Future<Output = Result<(), DbErr>> + Send;
}

/// Foreign key name → ids, the outbox's `foreign_keys` JSON (`{"fk_product_abstract":[12]}`).
type ForeignKeyIds = BTreeMap<&'static str, BTreeSet<i64>>;

/// What one write batch did: row counts and the outbox rows to add, one per changed entity.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub now: i64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    changes: BTreeMap<(&'static str, i64), (ChangeKind, ForeignKeyIds)>,
}

impl Batch {
    /// Counts one row by what happened to it.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Inserted => self.inserted += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    /// Records that an entity changed; several touches of one entity make one outbox row, a create
    /// winning over an update.
    pub fn touch(&mut self, resource: &'static str, id: i64, kind: ChangeKind, keys: &[(&'static str, i64)]) {
        let entry = self
            .changes
            .entry((resource, id))
            .or_insert_with(|| (kind, BTreeMap::new()));
        if kind == ChangeKind::Create {
            entry.0 = ChangeKind::Create;
        }
        for (name, value) in keys {
            entry.1.entry(*name).or_default().insert(*value);
        }
    }

    /// Whether `touch` was called for this entity in this batch.
    pub fn touched(&self, resource: &'static str, id: i64) -> bool {
        self.changes.contains_key(&(resource, id))
    }

    /// Adds foreign keys to an entity already touched (no-op otherwise).
    pub fn add_keys(&mut self, resource: &'static str, id: i64, keys: &[(&'static str, i64)]) {
        if let Some(entry) = self.changes.get_mut(&(resource, id)) {
            for (name, value) in keys {
                entry.1.entry(*name).or_default().insert(*value);
            }
        }
    }

    async fn flush(&mut self, transaction: &DatabaseTransaction) -> Result<(), DbErr> {
        let rows: Vec<outbox::ActiveModel> = std::mem::take(&mut self.changes)
            .into_iter()
            .map(|((resource, id), (kind, keys))| outbox::ActiveModel {
                resource: Set(resource.to_owned()),
                entity_id: Set(id),
                event: Set(kind.event_name(resource)),
                changed_columns: Set(None),
                foreign_keys: Set((!keys.is_empty()).then(|| serde_json::to_string(&keys).unwrap_or_default())),
                changed_at: Set(self.now),
                relayed_at: Set(None),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            outbox::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}

/// What an upsert did to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Inserted,
    Updated,
    Unchanged,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

impl Importer {
    pub fn new(database: SqlDatabase, options: ImportOptions) -> Self {
        Self {
            database,
            options,
            scope: None,
        }
    }

    /// Runs every step of a recipe in order (those of [`ImportOptions::only`] when given); the first
    /// failing data set stops the run.
    pub async fn run_recipe(&self, path: &Path) -> Result<ImportSummary, ImportError> {
        let recipe = Recipe::load(path, self.options.strict)?;
        let display = path.display().to_string();
        for wanted in &self.options.only {
            if !recipe.actions.iter().any(|action| action.entity == Some(*wanted)) {
                return Err(ImportError::NotInRecipe {
                    file: display,
                    data_set: wanted.name().to_owned(),
                });
            }
        }
        if !self.options.dry_run {
            let summary = self.run_steps(&recipe).await?;
            self.database.refresh_statistics().await?;
            return Ok(summary);
        }
        let dry_run = self.dry_run().await?;
        let result = dry_run.run_steps(&recipe).await;
        dry_run.roll_back().await?;
        result
    }

    /// A copy of this importer whose work happens in one transaction, for [`Self::roll_back`].
    async fn dry_run(&self) -> Result<Importer, ImportError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let transaction = self.database.connection().begin_with_options(options).await?;
        Ok(Importer {
            database: self.database.clone(),
            options: self.options.clone(),
            scope: Some(transaction),
        })
    }

    async fn roll_back(self) -> Result<(), ImportError> {
        if let Some(transaction) = self.scope {
            transaction.rollback().await?;
            tracing::info!("dry run: everything rolled back");
        }
        Ok(())
    }

    async fn run_steps(&self, recipe: &Recipe) -> Result<ImportSummary, ImportError> {
        let mut summary = ImportSummary::default();
        let only = &self.options.only;
        for action in &recipe.actions {
            let selected = only.is_empty() || action.entity.is_some_and(|entity| only.contains(&entity));
            if !selected {
                summary.not_selected.push(action.data_entity.clone());
                continue;
            }
            match action.entity {
                Some(entity) => {
                    let done = self.run_named(entity, &action.path, &action.source).await?;
                    summary.data_sets.push(done);
                }
                None => {
                    let reason = if crate::recipe::KNOWN_UNSUPPORTED.contains(&action.data_entity.as_str()) {
                        "not imported by Kontor yet"
                    } else {
                        "unknown data entity"
                    };
                    tracing::warn!(data_entity = %action.data_entity, reason, "recipe step skipped");
                    summary.skipped.push(action.data_entity.clone());
                }
            }
        }
        Ok(summary)
    }

    /// Imports one file as the named data set (aliases accepted).
    pub async fn run_file(&self, data_entity: &str, path: &Path) -> Result<DataSetSummary, ImportError> {
        let display = path.display().to_string();
        let entity = DataEntity::parse(data_entity).ok_or_else(|| ImportError::UnknownEntity {
            file: display.clone(),
            entity: data_entity.to_owned(),
        })?;
        if !self.options.dry_run {
            let summary = self.run_named(entity, path, &display).await?;
            self.database.refresh_statistics().await?;
            return Ok(summary);
        }
        let dry_run = self.dry_run().await?;
        let result = dry_run.run_named(entity, path, &display).await;
        dry_run.roll_back().await?;
        result
    }

    async fn run_named(&self, entity: DataEntity, path: &Path, display: &str) -> Result<DataSetSummary, ImportError> {
        use sets::*;
        match entity {
            DataEntity::Store => self.run::<config::Stores>(entity, path, display).await,
            DataEntity::Currency => self.run::<config::Currencies>(entity, path, display).await,
            DataEntity::CurrencyStore => self.run::<config::CurrencyStores>(entity, path, display).await,
            DataEntity::LocaleStore => self.run::<config::LocaleStores>(entity, path, display).await,
            DataEntity::DefaultLocaleStore => self.run::<config::DefaultLocaleStores>(entity, path, display).await,
            DataEntity::Glossary => self.run::<config::Glossary>(entity, path, display).await,
            DataEntity::Tax => self.run::<config::Tax>(entity, path, display).await,
            DataEntity::Warehouse => self.run::<config::Warehouses>(entity, path, display).await,
            DataEntity::WarehouseStore => self.run::<config::WarehouseStores>(entity, path, display).await,
            DataEntity::Category => self.run::<catalog::Categories>(entity, path, display).await,
            DataEntity::CategoryStore => self.run::<catalog::CategoryStores>(entity, path, display).await,
            DataEntity::ProductAttributeKey => self.run::<catalog::AttributeKeys>(entity, path, display).await,
            DataEntity::ProductAbstract => self.run::<products::Abstracts>(entity, path, display).await,
            DataEntity::ProductAbstractStore => self.run::<products::AbstractStores>(entity, path, display).await,
            DataEntity::ProductConcrete => self.run::<products::Concretes>(entity, path, display).await,
            DataEntity::ProductImage => self.run::<images::Images>(entity, path, display).await,
            DataEntity::ProductPrice => self.run::<commerce::Prices>(entity, path, display).await,
            DataEntity::ProductStock => self.run::<commerce::Stock>(entity, path, display).await,
            DataEntity::Shipment => self.run::<checkout::Shipments>(entity, path, display).await,
            DataEntity::ShipmentMethodStore => self.run::<checkout::ShipmentMethodStores>(entity, path, display).await,
            DataEntity::ShipmentPrice => self.run::<checkout::ShipmentPrices>(entity, path, display).await,
            DataEntity::PaymentMethod => self.run::<checkout::PaymentMethods>(entity, path, display).await,
            DataEntity::PaymentMethodStore => self.run::<checkout::PaymentMethodStores>(entity, path, display).await,
            DataEntity::Customer => self.run::<customers::Customers>(entity, path, display).await,
            DataEntity::ProductReview => self.run::<reviews::Reviews>(entity, path, display).await,
        }
    }

    async fn run<D: DataSet>(
        &self,
        entity: DataEntity,
        path: &Path,
        display: &str,
    ) -> Result<DataSetSummary, ImportError> {
        let started = Instant::now();
        let name = entity.name();
        let mut summary = DataSetSummary {
            data_set: name.to_owned(),
            file: display.to_owned(),
            ..DataSetSummary::default()
        };
        let mut source = CsvSource::open(path, display)?;
        let header = source.header.clone();
        check_header::<D>(&header, display, &mut summary.warnings)?;
        let mut notes = Vec::new();
        let mut data_set = match &self.scope {
            Some(dry_run) => D::prepare(dry_run, &header, &mut notes).await?,
            None => {
                let read = self.database.connection().begin().await?;
                let prepared = D::prepare(&read, &header, &mut notes).await?;
                read.commit().await?;
                prepared
            }
        };
        summary
            .warnings
            .extend(notes.into_iter().map(|note| format!("{display}: {note}")));

        // Pass 1: every row parsed and checked, nothing written.
        data_set.begin_pass();
        let mut problems = Vec::new();
        let mut rejected_lines = HashSet::new();
        let mut rejects = None;
        let mut row_warnings = Vec::new();
        while let Some((record, line)) = source.next_record()? {
            summary.rows_read += 1;
            let row = RowView {
                header: &header,
                record: &record,
                line,
            };
            let parsed = check_row(&mut data_set, &row, &mut row_warnings);
            for warning in row_warnings.drain(..) {
                summary
                    .warnings
                    .push(format!("{display}:{line}: {}: {}", warning.column, warning.reason));
            }
            if let Err(error) = parsed {
                problems.push(format!("{display}:{line}: {}: {}", error.column, error.reason));
                rejected_lines.insert(line);
                if self.options.skip_invalid {
                    let writer = match &mut rejects {
                        Some(writer) => writer,
                        None => rejects.insert(self.open_rejects(path, &header, &mut summary)?),
                    };
                    let mut out: Vec<&str> = record.iter().collect();
                    let reason = format!("{}: {}", error.column, error.reason);
                    out.push(&reason);
                    writer
                        .write_record(&out)
                        .map_err(|error| rejects_error(&summary, error))?;
                }
            }
        }
        if let Some(mut writer) = rejects {
            writer.flush().map_err(|source| ImportError::Io {
                file: summary.rejects_file.clone().unwrap_or_default(),
                source,
            })?;
        }
        summary.rejected = problems.len() as u64;
        if !problems.is_empty() {
            for problem in problems.iter().take(self.options.max_reported) {
                tracing::warn!(data_set = name, "{problem}");
            }
            if !self.options.skip_invalid {
                let total = problems.len() as u64;
                problems.truncate(self.options.max_reported);
                return Err(ImportError::InvalidRows {
                    data_set: name.to_owned(),
                    file: display.to_owned(),
                    total,
                    shown: problems,
                });
            }
        }

        // Pass 2: the accepted rows, written batch by batch.
        let mut source = CsvSource::open(path, display)?;
        data_set.begin_pass();
        let batch_size = self.options.batch_size.max(1);
        let mut rows = Vec::with_capacity(batch_size);
        let mut done = 0_u64;
        let mut ignored = Vec::new();
        while let Some((record, line)) = source.next_record()? {
            if rejected_lines.contains(&line) {
                continue;
            }
            let row = RowView {
                header: &header,
                record: &record,
                line,
            };
            // Pass 1 accepted this row, so it parses again; a failure here would be a bug, and skipping
            // is safer than writing half a row.
            if let Ok(parsed) = data_set.parse(&row, &mut ignored) {
                rows.push(parsed);
            }
            ignored.clear();
            if rows.len() >= batch_size {
                done += rows.len() as u64;
                self.write_batch(&mut data_set, std::mem::take(&mut rows), &mut summary)
                    .await?;
                self.report_progress(name, done);
            }
        }
        if !rows.is_empty() {
            done += rows.len() as u64;
            self.write_batch(&mut data_set, rows, &mut summary).await?;
            self.report_progress(name, done);
        }
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            data_set = name,
            file = summary.file.as_str(),
            read = summary.rows_read,
            inserted = summary.inserted,
            updated = summary.updated,
            unchanged = summary.unchanged,
            rejected = summary.rejected,
            warnings = summary.warnings.len(),
            seconds = summary.seconds,
            rows_per_second = summary.rows_per_second(),
            "data set imported"
        );
        Ok(summary)
    }

    fn report_progress(&self, name: &str, done: u64) {
        if let Some(progress) = &self.options.progress {
            progress(name, done);
        }
    }

    async fn write_batch<D: DataSet>(
        &self,
        data_set: &mut D,
        rows: Vec<D::Row>,
        summary: &mut DataSetSummary,
    ) -> Result<(), ImportError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        // In a dry run the batch is a savepoint, released into the transaction that is rolled back.
        let transaction = match &self.scope {
            Some(dry_run) => dry_run.begin().await?,
            None => self.database.connection().begin_with_options(options).await?,
        };
        let mut batch = Batch {
            now: now_micros(),
            ..Batch::default()
        };
        data_set.write(&transaction, rows, &mut batch).await?;
        batch.flush(&transaction).await?;
        transaction.commit().await?;
        if self.scope.is_none() {
            for table in D::GROWS {
                // Rows of the data set, not of each table: a measure of growth, which is all it needs.
                let added = usize::try_from(batch.inserted).unwrap_or(usize::MAX);
                self.database.note_growth(table, added).await?;
            }
        }
        summary.inserted += batch.inserted;
        summary.updated += batch.updated;
        summary.unchanged += batch.unchanged;
        Ok(())
    }

    fn open_rejects(
        &self,
        path: &Path,
        header: &Header,
        summary: &mut DataSetSummary,
    ) -> Result<csv::Writer<std::fs::File>, ImportError> {
        let file_name = format!(
            "{}.rejects.csv",
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let target = match &self.options.rejects_dir {
            Some(dir) => dir.join(file_name),
            None => path.with_file_name(file_name),
        };
        summary.rejects_file = Some(target.clone());
        let mut writer = csv::Writer::from_path(&target).map_err(|error| rejects_error(summary, error))?;
        let mut columns: Vec<&str> = header.names.iter().map(String::as_str).collect();
        columns.push("error");
        writer
            .write_record(&columns)
            .map_err(|error| rejects_error(summary, error))?;
        Ok(writer)
    }
}

fn rejects_error(summary: &DataSetSummary, error: csv::Error) -> ImportError {
    ImportError::Io {
        file: summary.rejects_file.clone().unwrap_or_default(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// The header check of pass 1: required columns present, every column known (or a Spryker column
/// Kontor skips, noted in `notes`).
pub(crate) fn check_header<D: DataSet>(
    header: &Header,
    display: &str,
    notes: &mut Vec<String>,
) -> Result<(), ImportError> {
    let mut problems = Vec::new();
    for required in D::REQUIRED {
        if !header.has(required) {
            problems.push(format!("required column \"{required}\" is missing"));
        }
    }
    for name in &header.names {
        match D::column_kind(name) {
            ColumnKind::Used => {}
            ColumnKind::Ignored => notes.push(format!("{display}: column \"{name}\" is not used by Kontor, skipped")),
            ColumnKind::Unknown => problems.push(format!("unknown column \"{name}\"")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ImportError::Header {
            file: display.to_owned(),
            problems,
        })
    }
}

/// The row check of pass 1: the row's width, then the data set's own parsing and validation.
pub(crate) fn check_row<D: DataSet>(
    data_set: &mut D,
    row: &RowView<'_>,
    warnings: &mut Vec<RowError>,
) -> Result<D::Row, RowError> {
    check_width(row).and_then(|()| data_set.parse(row, warnings))
}

/// A row with more fields than the header has columns is malformed (a missing quote, usually).
fn check_width(row: &RowView<'_>) -> Result<(), RowError> {
    let expected = row.header.names.len();
    let found = row.record.len();
    if found > expected && row.record.iter().skip(expected).any(|field| !field.trim().is_empty()) {
        return Err(RowError::new(
            "-",
            format!("the row has {found} fields, the header {expected}"),
        ));
    }
    Ok(())
}
