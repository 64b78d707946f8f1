//! The repository implementations and what they share: connecting, write transactions, outbox rows,
//! mapping database errors to domain errors, batched reference lookups and paged listing.

mod acl;
mod audit;
mod carts;
mod catalog;
mod customers;
mod foreign_keys;
mod glossary;
mod oms;
mod orders;
pub mod outbox;
pub mod popularity;
pub(crate) use outbox::entry_from_row as outbox_entry;
mod pricing;
mod resource;
mod reviews;
mod stock;
mod store;
mod tax;
mod users;

use crate::entity::outbox as outbox_table;
use crate::migration::Migrator;
use kontor_core::{Clock, SystemClock};
use kontor_domain::outbox::ChangeKind;
use kontor_domain::{DomainError, FieldError};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, Set, SqlErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The relational database behind the Back Office. Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct SqlDatabase {
    connection: DatabaseConnection,
    clock: Arc<dyn Clock>,
    /// SQLite has one writer. Writers of this process take turns here, first come first served,
    /// instead of all waiting in SQLite's busy handler, whose growing sleeps made the slowest writes
    /// take seconds under load (see BENCHMARKS.md).
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Ids of rarely changing rows looked up by name on hot paths (currency codes, price types, locales).
    ids: Arc<IdCache>,
    /// Order numbers reserved in blocks per store (see `orders::take_order_number`).
    pub(crate) order_numbers: Arc<std::sync::Mutex<HashMap<i64, std::collections::VecDeque<i64>>>>,
    /// Signalled when a write transaction of this process ends, and on PostgreSQL when any process
    /// commits outbox rows; see [`SqlDatabase::outbox_commits`].
    outbox_commits: Arc<tokio::sync::Notify>,
    /// PostgreSQL: rows this process added per table since it last had the table analyzed; see
    /// [`SqlDatabase::note_growth`].
    growth: Arc<std::sync::Mutex<HashMap<String, TableGrowth>>>,
}

/// Rows added to a table by this process: at the last `ANALYZE` it asked for, and since.
#[derive(Default)]
struct TableGrowth {
    analyzed_at: u64,
    added: u64,
}

/// New rows after which a growing table is analyzed the first time; then each time it has doubled.
const ANALYZE_AFTER_ROWS: u64 = 5_000;

/// How long a cached name → id lookup is trusted. Ids never change; a renamed or re-created row is
/// found again after this long.
const ID_CACHE_TTL: Duration = Duration::from_secs(30);

/// Name → id lookups of small reference tables, so a checkout does not ask the database for the id
/// of `EUR` every time. Only found ids are kept.
#[derive(Default)]
pub(crate) struct IdCache(std::sync::Mutex<HashMap<IdKey, (i64, std::time::Instant)>>);

/// A cached lookup: table and name.
type IdKey = (&'static str, String);

/// Held for the life of a write transaction: on SQLite the process's write turn. Dropped after the
/// commit (or the rollback), it wakes the outbox relay of this process: the least invasive hook that sees
/// every repository commit, since outbox rows are only ever written inside write transactions. It cannot
/// tell whether the transaction added outbox rows, so some wake-ups find nothing; each costs the relay
/// one indexed look (`relayed_at IS NULL`), and wake-ups during a relay round collapse into one.
pub(crate) struct WriteTurn {
    _sqlite_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    outbox_commits: Arc<tokio::sync::Notify>,
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        // `notify_one` keeps a permit when the relay is busy, so a commit during a round is not missed.
        self.outbox_commits.notify_one();
    }
}

impl std::fmt::Debug for SqlDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlDatabase").field("backend", &self.backend()).finish()
    }
}

impl SqlDatabase {
    /// Connects to `sqlite://path`, `postgres://…` or `mysql://…`. A SQLite file is created when
    /// missing and opened in WAL mode with foreign keys enforced.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbErr> {
        let connection = if url.starts_with("sqlite:") {
            connect_sqlite(url, max_connections).await?
        } else {
            let url = loopback_without_tls(&url.replacen("mariadb://", "mysql://", 1));
            let mut options = ConnectOptions::new(url);
            options
                .max_connections(max_connections)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                // sqlx pings a connection on every acquire by default: a second round trip for each
                // statement outside a transaction. Only a connection idle long enough to have been
                // dropped by the server or a proxy is tested.
                .test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE)
                .sqlx_logging(false);
            Database::connect(options).await?
        };
        let write_turn =
            (connection.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            connection,
            clock: Arc::new(SystemClock),
            write_turn,
            ids: Arc::new(IdCache::default()),
            order_numbers: Arc::default(),
            outbox_commits: Arc::default(),
            growth: Arc::default(),
        })
    }

    /// Replaces the clock, so tests can pin timestamps.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Applies every pending migration; already applied ones are skipped.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.connection, None).await
    }

    /// Names of the migrations applied so far, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, DbErr> {
        let applied = Migrator::get_applied_migrations(&self.connection).await?;
        Ok(applied.iter().map(|migration| migration.name().to_owned()).collect())
    }

    pub fn backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.connection.close().await
    }

    /// The id of the `table` row named `name`: cached, else `load`ed (and cached when found).
    pub(crate) async fn cached_id<F, Fut>(&self, table: &'static str, name: &str, load: F) -> Result<Option<i64>, DbErr>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<i64>, DbErr>>,
    {
        let key = (table, name.to_owned());
        {
            let cache = self.ids.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((id, at)) = cache.get(&key)
                && at.elapsed() < ID_CACHE_TTL
            {
                return Ok(Some(*id));
            }
        }
        let found = load().await?;
        if let Some(id) = found {
            let mut cache = self.ids.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.insert(key, (id, std::time::Instant::now()));
        }
        Ok(found)
    }

    pub(crate) fn now_micros(&self) -> i64 {
        self.clock.now().timestamp_micros()
    }

    /// Has PostgreSQL sample the statistics of every table that holds rows afresh: after a bulk load,
    /// the planner otherwise plans on the sizes it last saw (an empty table: sequential scans, sorts of
    /// whole tables) until autovacuum gets round to it, minutes later or, where it is off, never.
    ///
    /// Empty tables are left alone. One analyzed while empty (carts, orders, right after an import) is
    /// planned as known to be empty until the next `ANALYZE`, which cost checkouts on PostgreSQL a
    /// quarter of their rate as those tables filled (BENCHMARKS.md, session 10); never analyzed, it is
    /// planned as at least ten pages, which holds up while it grows.
    ///
    /// SQLite plans on its indexes without statistics, and InnoDB refreshes its own; nothing to do there.
    pub async fn refresh_statistics(&self) -> Result<(), DbErr> {
        if self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        let tables: Vec<String> = self
            .connection
            .query_all_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
            ))
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<_, _>>()?;
        let mut filled = Vec::new();
        for table in tables {
            // Names come from the catalog; quoted as identifiers all the same.
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            let holds_rows = self
                .connection
                .query_one_raw(sea_orm::Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT 1 FROM {quoted} LIMIT 1"),
                ))
                .await?
                .is_some();
            if holds_rows {
                filled.push(quoted);
            }
        }
        if !filled.is_empty() {
            self.connection
                .execute_unprepared(&format!("ANALYZE {}", filled.join(", ")))
                .await?;
        }
        Ok(())
    }

    /// Counts rows this process added to `table` and, on PostgreSQL, has the table analyzed once it
    /// has grown by [`ANALYZE_AFTER_ROWS`] and then each time it doubled: a table filled from empty by
    /// a first publish or an import, and read by key meanwhile, would otherwise be planned as empty
    /// throughout (BENCHMARKS.md, session 9: a sequential scan per page, quadratic over the catalog).
    /// A handful of `ANALYZE`s per table, each a sample of fixed size.
    pub async fn note_growth(&self, table: &str, added: usize) -> Result<(), DbErr> {
        if added == 0 || self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        let due = {
            let mut growth = self.growth.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let table_growth = growth.entry(table.to_owned()).or_default();
            table_growth.added += added as u64;
            let due = table_growth.added >= std::cmp::max(ANALYZE_AFTER_ROWS, table_growth.analyzed_at);
            if due {
                table_growth.analyzed_at += table_growth.added;
                table_growth.added = 0;
            }
            due
        };
        if due {
            // The name is one of the schema's tables, named in Kontor's code (a projection's storage
            // table, a data set's table), never input.
            self.connection
                .execute_unprepared(&format!("ANALYZE \"{table}\""))
                .await?;
            tracing::debug!(table, "analyzed a growing table");
        }
        Ok(())
    }

    /// Runs one write statement and answers the rows it affected: on SQLite in the process's write turn
    /// (a transaction), on the servers on its own, which saves the `BEGIN` and `COMMIT` round trips a
    /// transaction of one statement costs.
    pub(crate) async fn execute_write<S: sea_orm::StatementBuilder + Send>(
        &self,
        statement: &S,
    ) -> Result<u64, DomainError> {
        if self.write_turn.is_none() {
            let result = self.connection.execute(statement).await.map_err(storage_error)?;
            return Ok(result.rows_affected());
        }
        let (transaction, _turn) = self.write_transaction().await?;
        let result = transaction.execute(statement).await.map_err(storage_error)?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(result.rows_affected())
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`) so
    /// that two writers queue on the busy timeout instead of failing when a read turns into a write.
    ///
    /// Keep the returned turn alive until the transaction has committed: dropping it wakes the relay.
    pub(crate) async fn write_transaction(&self) -> Result<(DatabaseTransaction, WriteTurn), DomainError> {
        let sqlite_turn = match &self.write_turn {
            Some(turn) => Some(Arc::clone(turn).lock_owned().await),
            None => None,
        };
        let turn = WriteTurn {
            _sqlite_turn: sqlite_turn,
            outbox_commits: Arc::clone(&self.outbox_commits),
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let transaction = self
            .connection
            .begin_with_options(options)
            .await
            .map_err(storage_error)?;
        Ok((transaction, turn))
    }
}

/// On loopback, TLS to PostgreSQL protects nothing, and sqlx's default `sslmode=prefer` turned on TLS
/// whose record splitting stalled large statements ~45 ms each (BENCHMARKS.md, publish on PostgreSQL).
/// A loopback URL without an explicit `sslmode` therefore gets `sslmode=disable`; anything else is kept.
fn loopback_without_tls(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let is_postgres = matches!(parsed.scheme(), "postgres" | "postgresql");
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
    let explicit = parsed.query_pairs().any(|(key, _)| key == "sslmode");
    if !is_postgres || !loopback || explicit {
        return url.to_owned();
    }
    let separator = if parsed.query().is_some() { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// How long a pooled server connection may sit idle before it is pinged on acquire.
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// Rows a SQLite connection's thread may read ahead of the task consuming them. sqlx's default of 50
/// stops the thread every 50 rows of a large read until the task has caught up: a futex wait and a
/// wake-up on each side, which a re-publish, reading hundreds of thousands of rows, pays thousands of
/// times.
const SQLITE_ROW_BUFFER: usize = 1024;

async fn connect_sqlite(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| DbErr::Custom(format!("invalid SQLite URL: {error}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        .row_buffer_size(SQLITE_ROW_BUFFER);
    // A file cannot drop a connection the way a server can, so the ping on acquire, a hand-off to
    // the connection's thread and back, tests nothing.
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(Arc::new(error))))?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Inserts one outbox row; call it inside the transaction of the change it announces.
pub(crate) async fn record_change(
    transaction: &DatabaseTransaction,
    resource: &str,
    entity_id: i64,
    change: ChangeKind,
    foreign_keys: &resource::ForeignKeys,
    changed_at: i64,
) -> Result<(), DomainError> {
    let row = OutboxRow {
        resource,
        entity_id,
        event: change.event_name(resource),
        foreign_keys: foreign_keys.to_json(),
    };
    record_changes(transaction, vec![row], changed_at).await
}

/// One outbox row for [`record_changes`].
pub(crate) struct OutboxRow<'a> {
    pub resource: &'a str,
    pub entity_id: i64,
    /// `Entity.<resource>.<op>` ([`ChangeKind::event_name`]) or a named event.
    pub event: String,
    /// [`resource::ForeignKeys::to_json`].
    pub foreign_keys: Option<String>,
}

/// Inserts outbox rows in one statement, inside the transaction of the changes they announce.
pub(crate) async fn record_changes(
    transaction: &DatabaseTransaction,
    rows: Vec<OutboxRow<'_>>,
    changed_at: i64,
) -> Result<(), DomainError> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.into_iter().map(|row| outbox_table::ActiveModel {
        resource: Set(row.resource.to_owned()),
        entity_id: Set(row.entity_id),
        event: Set(row.event),
        changed_columns: Set(None),
        foreign_keys: Set(row.foreign_keys),
        changed_at: Set(changed_at),
        relayed_at: Set(None),
        ..Default::default()
    });
    outbox_table::Entity::insert_many(models)
        .exec_without_returning(transaction)
        .await
        .map_err(storage_error)?;
    Ok(())
}

/// Unique indexes and the input field each one guards. Each entry names the index (PostgreSQL and
/// MariaDB report it) and the `table.column` SQLite reports.
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    ("uq_locale_name", "locale.name", "/name"),
    ("uq_currency_code", "currency.code", "/code"),
    ("uq_store_name", "store.name", "/name"),
    ("uq_glossary_key_key", "glossary_key.key", "/key"),
    ("uq_product_attribute_key_key", "product_attribute_key.key", "/key"),
    ("uq_tax_set_name", "tax_set.name", "/name"),
    ("uq_product_abstract_sku", "product_abstract.sku", "/sku"),
    ("uq_product_concrete_sku", "product_concrete.sku", "/sku"),
    ("uq_category_category_key", "category.category_key", "/categoryKey"),
    (
        "uq_product_category_product_abstract_id_category_id",
        "product_category.product_abstract_id",
        "/categoryKey",
    ),
    ("uq_url_url", "url.url", "/localizedAttributes"),
    ("uq_price_product_price_key", "price_product.price_key", "/priceType"),
    ("uq_warehouse_name", "warehouse.name", "/name"),
    (
        "uq_stock_product_product_concrete_id_warehouse_id",
        "stock_product.product_concrete_id",
        "/warehouse",
    ),
    ("uq_backoffice_user_email", "backoffice_user.email", "/email"),
    ("uq_acl_role_name", "acl_role.name", "/name"),
];

/// Maps a database error to the domain: unique violations become a conflict on the guarded field,
/// foreign-key violations a conflict on the record (still referenced), anything else a storage error.
pub(crate) fn storage_error(error: DbErr) -> DomainError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => {
            let field = UNIQUE_FIELDS
                .iter()
                .find(|(index, sqlite_column, _)| message.contains(index) || message.contains(sqlite_column))
                .map_or("/", |(_, _, field)| field);
            DomainError::conflict(field, "this value is already taken")
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            DomainError::conflict("/", "the record is still referenced by other data")
        }
        // SQLite reports RESTRICT violations with an extended code SeaORM does not classify.
        _ if error.to_string().contains("FOREIGN KEY constraint failed") => {
            DomainError::conflict("/", "the record is still referenced by other data")
        }
        _ => DomainError::Storage(error.to_string()),
    }
}

/// Looks up ids by a unique name column in one query: `{name → id}` for those that exist.
pub(crate) async fn ids_by_name<E, C>(
    connection: &C,
    name_column: E::Column,
    id_column: E::Column,
    names: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, i64>, DomainError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let mut found = HashMap::with_capacity(names.len());
    // Chunked so that very long lists stay under every engine's bind-parameter limit.
    for chunk in names.chunks(1000) {
        let rows: Vec<(String, i64)> = E::find()
            .select_only()
            .column(name_column)
            .column(id_column)
            .filter(name_column.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(connection)
            .await
            .map_err(storage_error)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Names referenced by one input: each with the pointer of the field that mentions it.
#[derive(Debug, Default)]
pub(crate) struct References {
    wanted: Vec<(String, String)>,
}

impl References {
    pub fn add(&mut self, pointer: impl Into<String>, name: impl Into<String>) {
        self.wanted.push((pointer.into(), name.into()));
    }

    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.wanted.iter().map(|(_, name)| name.clone())
    }

    /// Checks every wanted name against `found`, reporting each missing one at its pointer.
    pub fn check(&self, found: &HashMap<String, i64>, what: &str, errors: &mut Vec<FieldError>) {
        for (pointer, name) in &self.wanted {
            if !found.contains_key(name) {
                errors.push(FieldError::new(pointer.clone(), format!("unknown {what} {name}")));
            }
        }
    }
}

/// Resolves the names in `references` in one query, adding one field error per unknown name to
/// `errors`, so that all unknown references of an input are reported together.
pub(crate) async fn resolve<E, C>(
    connection: &C,
    name_column: E::Column,
    id_column: E::Column,
    references: &References,
    what: &str,
    errors: &mut Vec<FieldError>,
) -> Result<HashMap<String, i64>, DomainError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let found = ids_by_name::<E, C>(connection, name_column, id_column, references.names()).await?;
    references.check(&found, what, errors);
    Ok(found)
}

/// Resolves one name referenced at `pointer`, adding a field error to `errors` when it is unknown.
pub(crate) async fn resolve_one<E, C>(
    connection: &C,
    name_column: E::Column,
    id_column: E::Column,
    pointer: &str,
    name: &str,
    what: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<i64>, DomainError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut references = References::default();
    references.add(pointer, name);
    let found = resolve::<E, C>(connection, name_column, id_column, &references, what, errors).await?;
    Ok(found.get(name).copied())
}

/// Fails with every collected field error, if there are any.
pub(crate) fn fail_on(errors: Vec<FieldError>) -> Result<(), DomainError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Inserts rows in one statement, doing nothing for none.
pub(crate) async fn insert_all<A>(transaction: &DatabaseTransaction, rows: Vec<A>) -> Result<(), DomainError>
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    <A::Entity as EntityTrait>::insert_many(rows)
        .exec_without_returning(transaction)
        .await
        .map_err(storage_error)?;
    Ok(())
}

/// A name read back from storage that no longer parses means the database was edited by hand.
pub(crate) fn stored<T>(parsed: Result<T, kontor_core::NameError>, what: &str, raw: &str) -> Result<T, DomainError> {
    parsed.map_err(|error| DomainError::Storage(format!("stored {what} {raw:?} is invalid: {error}")))
}

/// Every row of `E` whose `column` is one of `ids`, in chunks under the engines' bind-parameter limits:
/// the batched load behind every repository's `load`.
pub(crate) async fn rows_in<E, C>(connection: &C, column: E::Column, ids: &[i64]) -> Result<Vec<E::Model>, DomainError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        rows.extend(
            E::find()
                .filter(column.is_in(chunk.iter().copied()))
                .all(connection)
                .await
                .map_err(storage_error)?,
        );
    }
    Ok(rows)
}

/// Reverse lookup: `{id → name}` for a set of ids, in one query.
pub(crate) async fn names_by_id<E, C>(
    connection: &C,
    id_column: E::Column,
    name_column: E::Column,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, String>, DomainError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let rows: Vec<(i64, String)> = E::find()
            .select_only()
            .column(id_column)
            .column(name_column)
            .filter(id_column.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(connection)
            .await
            .map_err(storage_error)?;
        found.extend(rows);
    }
    Ok(found)
}

/// `LOWER(column) LIKE '%needle%'`, with the needle's own `%`, `_` and `\` taken literally.
pub(crate) fn contains_ignoring_case(column: impl sea_orm::IntoSimpleExpr, needle: &str) -> sea_orm::sea_query::Expr {
    let pattern = format!("%{}%", escape_like(&needle.to_lowercase()));
    Expr::expr(Func::lower(column.into_simple_expr())).like(LikeExpr::new(pattern).escape('\\'))
}

/// `column LIKE 'prefix%'`, with the prefix's own wildcards taken literally.
pub(crate) fn starts_with(column: impl sea_orm::IntoSimpleExpr, prefix: &str) -> sea_orm::sea_query::Expr {
    let pattern = format!("{}%", escape_like(prefix));
    Expr::expr(column.into_simple_expr()).like(LikeExpr::new(pattern).escape('\\'))
}

fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for ch in raw.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

/// Decodes a JSON attribute map stored as text; a corrupt value reads as empty rather than failing
/// every listing that touches the row.
pub(crate) fn decode_map(raw: &str) -> std::collections::BTreeMap<String, String> {
    serde_json::from_str(raw).unwrap_or_default()
}

pub(crate) fn encode_map(map: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

/// Groups rows by a key, keeping their order.
pub(crate) fn group_by<T, K: std::hash::Hash + Eq>(rows: Vec<T>, key: impl Fn(&T) -> K) -> HashMap<K, Vec<T>> {
    let mut groups: HashMap<K, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn loopback_postgres_urls_skip_tls_unless_asked() {
        use super::loopback_without_tls;
        assert_eq!(
            loopback_without_tls("postgres://u@127.0.0.1:5432/db"),
            "postgres://u@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://u@localhost/db?x=1"),
            "postgres://u@localhost/db?x=1&sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://u@127.0.0.1/db?sslmode=require"),
            "postgres://u@127.0.0.1/db?sslmode=require"
        );
        assert_eq!(
            loopback_without_tls("postgres://u@db.internal/db"),
            "postgres://u@db.internal/db"
        );
        assert_eq!(
            loopback_without_tls("mysql://root@127.0.0.1/db"),
            "mysql://root@127.0.0.1/db"
        );
    }

    #[test]
    fn like_wildcards_in_input_are_literal() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
