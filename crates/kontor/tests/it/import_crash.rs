//! An import killed halfway and run again ends with the same database as an uninterrupted one (spec
//! data-import §6.5, issue 7).
//!
//! A generated catalog (plus a customer file) is imported into database A in one go; the same recipe is
//! imported into database B by a `kontor import` that is SIGKILLed three times, each time once a
//! multi-batch data set has committed about three fifths of its rows (product-concrete, product-price,
//! customer; the database is polled, so each kill lands inside that data set), and is then run to the
//! end. A and B are then compared table by table, every table of the schema: rows are matched by
//! content with every foreign key replaced by the row it points to, so surrogate ids, which a crash may
//! shift (a PostgreSQL sequence does not roll back), do not matter; only the columns that hold the time
//! of the run, and one key spelled from ids, are left out ([`is_run_dependent`]).
//!
//! The dump and comparison helpers are shared with the dry-run test (`import_flags.rs`).

use crate::cli::{Shop, stdout};
use kontor_testkit::{TestBackend, TestDatabase};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, JsonValue, Statement};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Abstract products of the catalog: about 5,300 concretes, 6,700 prices and 10,600 stock rows, which a
/// debug build imports into SQLite in about 3 s, long enough to kill it inside a data set.
const PRODUCTS: &str = "2000";
/// Customers added to the generated catalog, so that a customer data set of several batches is killed too.
const CUSTOMERS: usize = 3000;
/// Small batches make many commit points, so that a kill lands between two of them.
const BATCH_SIZE: &str = "100";

/// Columns that hold the time of the import run rather than data: they differ between any two runs.
/// `price_key` is built from surrogate ids (`c<concrete id>:<type id>:<store id>:<currency id>`), which
/// the foreign key columns next to it already compare by content. `customer.created_at` is data (the
/// file's `registered`), so it is compared.
fn is_run_dependent(table: &str, column: &str) -> bool {
    match column {
        "created_at" => table != "customer",
        "updated_at" | "applied_at" | "price_key" => true,
        _ => false,
    }
}

/// Every table of a database, its rows as JSON objects and its single-column foreign keys.
pub(crate) struct Dump {
    pub(crate) tables: BTreeMap<String, Vec<Map<String, Value>>>,
    foreign_keys: HashMap<String, HashMap<String, String>>,
}

impl Dump {
    pub(crate) async fn read(connection: &DatabaseConnection) -> Self {
        let backend = connection.get_database_backend();
        let names = match backend {
            DbBackend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            _ => {
                "SELECT table_name AS name FROM information_schema.tables \
                  WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
            }
        };
        let mut tables = BTreeMap::new();
        let mut foreign_keys = HashMap::new();
        for name in query(connection, names).await {
            let table = name["name"].as_str().expect("a table name").to_owned();
            let rows = query(connection, &format!("SELECT * FROM \"{table}\"")).await;
            let keys_sql = match backend {
                DbBackend::Sqlite => {
                    format!(
                        "SELECT \"from\" AS column_name, \"table\" AS target FROM pragma_foreign_key_list('{table}')"
                    )
                }
                _ => format!(
                    "SELECT a.attname AS column_name, t.relname AS target FROM pg_constraint c \
                     JOIN pg_class s ON s.oid = c.conrelid JOIN pg_class t ON t.oid = c.confrelid \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                     WHERE c.contype = 'f' AND s.relname = '{table}' AND s.relnamespace = to_regnamespace(current_schema())"
                ),
            };
            let keys = query(connection, &keys_sql)
                .await
                .into_iter()
                .map(|key| {
                    (
                        key["column_name"].as_str().expect("a column").to_owned(),
                        key["target"].as_str().expect("a table").to_owned(),
                    )
                })
                .collect();
            foreign_keys.insert(table.clone(), keys);
            tables.insert(table, rows);
        }
        Self { tables, foreign_keys }
    }

    pub(crate) fn count(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, Vec::len)
    }

    /// Every table's rows in canonical form (see the module docs), sorted, and the outbox apart.
    fn canonical(&self) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
        let by_id: HashMap<&str, HashMap<i64, &Map<String, Value>>> = self
            .tables
            .iter()
            .map(|(table, rows)| {
                let ids = rows
                    .iter()
                    .filter_map(|row| row.get("id").and_then(Value::as_i64).map(|id| (id, row)))
                    .collect();
                (table.as_str(), ids)
            })
            .collect();
        let mut canon = Canonicalizer {
            dump: self,
            by_id,
            memo: HashMap::new(),
        };
        let mut tables = BTreeMap::new();
        for (table, rows) in &self.tables {
            if table == "outbox" {
                continue;
            }
            let mut canonical: Vec<String> = rows.iter().map(|row| canon.row(table, row).to_string()).collect();
            canonical.sort();
            tables.insert(table.clone(), canonical);
        }
        // The outbox as (resource, the changed entity by content, event): its ids, times and foreign
        // key lists are run-dependent.
        let mut outbox: Vec<String> = self
            .tables
            .get("outbox")
            .into_iter()
            .flatten()
            .map(|row| {
                let resource = row["resource"].as_str().unwrap_or_default();
                let entity = row["entity_id"]
                    .as_i64()
                    .and_then(|id| canon.identity(resource, id))
                    .unwrap_or_else(|| Value::String(format!("{resource} (gone)")));
                format!("{resource} {} {entity}", row["event"])
            })
            .collect();
        outbox.sort();
        (tables, outbox)
    }
}

/// Turns rows into JSON with foreign keys replaced by the referenced row's canonical form.
struct Canonicalizer<'d> {
    dump: &'d Dump,
    by_id: HashMap<&'d str, HashMap<i64, &'d Map<String, Value>>>,
    memo: HashMap<(String, i64), Value>,
}

impl Canonicalizer<'_> {
    fn row(&mut self, table: &str, row: &Map<String, Value>) -> Value {
        let no_keys = HashMap::new();
        let keys = self.dump.foreign_keys.get(table).unwrap_or(&no_keys);
        let mut canonical = Map::new();
        for (column, value) in row {
            if column == "id" || is_run_dependent(table, column) {
                continue;
            }
            let value = match (keys.get(column), value.as_i64()) {
                (Some(target), Some(id)) => self
                    .identity(target, id)
                    .unwrap_or_else(|| Value::String(format!("dangling {target} {id}"))),
                _ => value.clone(),
            };
            canonical.insert(column.clone(), value);
        }
        Value::Object(canonical)
    }

    /// The canonical form of row `id` of `table`, `None` when there is no such row.
    fn identity(&mut self, table: &str, id: i64) -> Option<Value> {
        if let Some(known) = self.memo.get(&(table.to_owned(), id)) {
            return Some(known.clone());
        }
        let row = *self.by_id.get(table)?.get(&id)?;
        let canonical = self.row(table, row);
        self.memo.insert((table.to_owned(), id), canonical.clone());
        Some(canonical)
    }
}

pub(crate) async fn query(connection: &DatabaseConnection, sql: &str) -> Vec<Map<String, Value>> {
    let statement = Statement::from_string(connection.get_database_backend(), sql.to_owned());
    JsonValue::find_by_statement(statement)
        .all(connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .into_iter()
        .map(|row| match row {
            Value::Object(map) => map,
            other => panic!("{sql}: not a row: {other}"),
        })
        .collect()
}

async fn count(connection: &DatabaseConnection, table: &str) -> i64 {
    // Read by type, not through JSON: SQLite gives an expression column no declared type.
    let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\"");
    let statement = Statement::from_string(connection.get_database_backend(), sql.clone());
    let row = connection
        .query_one_raw(statement)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get::<i64>("", "n")
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Rows of each table that only one side has, at most a few per table; empty when they match.
fn differences(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) -> String {
    let mut report = String::new();
    let tables: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for table in tables {
        let empty = Vec::new();
        let only_a = minus(a.get(table).unwrap_or(&empty), b.get(table).unwrap_or(&empty));
        let only_b = minus(b.get(table).unwrap_or(&empty), a.get(table).unwrap_or(&empty));
        if only_a.is_empty() && only_b.is_empty() {
            continue;
        }
        let _ = writeln!(
            report,
            "{table}: {} row(s) only in A, {} only in B",
            only_a.len(),
            only_b.len()
        );
        for row in only_a.iter().take(3) {
            let _ = writeln!(report, "  A: {row}");
        }
        for row in only_b.iter().take(3) {
            let _ = writeln!(report, "  B: {row}");
        }
    }
    report
}

/// The rows of `left` not matched by a row of `right`, counting duplicates (both sorted).
fn minus<'a>(left: &'a [String], right: &[String]) -> Vec<&'a String> {
    let mut missing = Vec::new();
    let mut at = 0;
    for row in left {
        while at < right.len() && right[at] < *row {
            at += 1;
        }
        if at < right.len() && right[at] == *row {
            at += 1;
        } else {
            missing.push(row);
        }
    }
    missing
}

/// A generated catalog of `products` abstracts under `shop.dir`, with `customers` customers added as
/// the recipe's last step; returns the recipe.
pub(crate) fn catalog(shop: &Shop, products: &str, customers: usize) -> PathBuf {
    let dir = shop.dir.join("catalog");
    let dir_arg = dir.to_str().expect("utf-8 path");
    stdout(&shop.run(&["generate-catalog", "--products", products, "--out", dir_arg]));
    let mut file = String::from(
        "customer_reference,locale_name,phone,email,salutation,first_name,last_name,company,gender,date_of_birth,password,registered\n",
    );
    for number in 1..=customers {
        let (salutation, gender) = if number % 2 == 0 {
            ("Ms", "Female")
        } else {
            ("Mr", "Male")
        };
        let _ = writeln!(
            file,
            "DE--{number},de_DE,,customer{number}@example.com,{salutation},Kunde,Nummer {number},,{gender},1980-01-{:02},,2026-01-15",
            number % 28 + 1
        );
    }
    std::fs::write(dir.join("common/common/customer.csv"), file).expect("write customer.csv");
    let recipe = dir.join("full_EU.yml");
    let mut steps = std::fs::read_to_string(&recipe).expect("read the recipe");
    steps.push_str("  - data_entity: customer\n    source: common/common/customer.csv\n");
    std::fs::write(&recipe, steps).expect("write the recipe");
    recipe
}

/// `kontor import` against the database at `url`, its output kept in `log`.
pub(crate) fn import_command(shop: &Shop, url: &str, recipe: &Path, log: &Path) -> Command {
    let mut command = shop.command();
    command
        .env("KONTOR_DATABASE__URL", url)
        .args([
            "import",
            recipe.to_str().expect("utf-8 path"),
            "--batch-size",
            BATCH_SIZE,
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create the log"));
    command
}

/// Starts the import and SIGKILLs it once `table` holds `threshold` rows; returns how many rows the
/// table had after the kill.
async fn kill_inside(shop: &Shop, db: &TestDatabase, recipe: &Path, table: &str, threshold: i64) -> i64 {
    let log = shop.dir.join(format!("killed-in-{table}.log"));
    let mut child = import_command(shop, &db.url, recipe, &log)
        .spawn()
        .expect("start kontor import");
    let connection = db.database.connection();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll the import") {
            panic!(
                "the import ended ({status}) before {table} had {threshold} rows; a bigger catalog is needed:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if count(connection, table).await >= threshold {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{table} never grew");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no rollback by the process itself.
    child.kill().expect("SIGKILL the import");
    let status = child.wait().expect("reap the import");
    assert!(!status.success(), "the import was killed, not finished");
    count(connection, table).await
}

async fn killed_import_converges(backend: TestBackend) {
    if !backend.is_selected() {
        eprintln!("{} deselected by KONTOR_TEST_BACKENDS", backend.name());
        return;
    }
    let shop = Shop::new();
    let recipe = catalog(&shop, PRODUCTS, CUSTOMERS);
    let uninterrupted = TestDatabase::new(backend).await;
    let killed = TestDatabase::new(backend).await;

    let log = shop.dir.join("uninterrupted.log");
    let started = Instant::now();
    let status = import_command(&shop, &uninterrupted.url, &recipe, &log)
        .status()
        .expect("run kontor import");
    let uninterrupted_seconds = started.elapsed().as_secs_f64();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let a = Dump::read(uninterrupted.database.connection()).await;
    eprintln!(
        "{}: the uninterrupted import took {uninterrupted_seconds:.1} s",
        backend.name()
    );

    for table in ["product_concrete", "price_product", "customer"] {
        // A little past halfway (the polling sees the batches commit, and the kill lands a batch or
        // two later): not exactly half, where the prices of the first store's file end.
        let total = a.count(table);
        let left = kill_inside(&shop, &killed, &recipe, table, total as i64 * 3 / 5).await;
        eprintln!("{}: killed with {left} of {total} {table} rows written", backend.name());
        assert!(
            left > 0 && (left as usize) < total,
            "the kill was to land inside the {table} data set ({left} of {total} rows)"
        );
    }
    let log = shop.dir.join("rerun.log");
    let status = import_command(&shop, &killed.url, &recipe, &log)
        .status()
        .expect("run kontor import");
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let b = Dump::read(killed.database.connection()).await;

    // The comparison must not pass for want of data: every kind of row the recipe writes is there.
    for table in [
        "store",
        "locale",
        "glossary_translation",
        "tax_rate",
        "category_node",
        "product_abstract_localized",
        "product_concrete_localized",
        "product_category",
        "url",
        "price_product",
        "stock_product",
        "shipment_method_price",
        "payment_method_store",
        "customer",
    ] {
        assert!(a.count(table) > 0, "the catalog imported no {table} rows");
    }
    let (a_tables, a_outbox) = a.canonical();
    let (b_tables, b_outbox) = b.canonical();
    let report = differences(&a_tables, &b_tables);
    assert!(
        report.is_empty(),
        "A (uninterrupted) and B (killed, re-run) differ:\n{report}"
    );

    // The outbox is compared by inclusion, not equality. It is a log of changes, not data: a killed
    // batch's outbox rows roll back with its rows and the re-run writes them again, so nothing may be
    // missing; but B is allowed extra unrelayed rows (a re-run announces whatever it writes, and the
    // relay, not running here, publishes an entity's current state, so announcing it twice is
    // harmless). What must hold is that every change A announces, B announces too.
    eprintln!(
        "{}: outbox rows: {} uninterrupted, {} killed and re-run",
        backend.name(),
        a_outbox.len(),
        b_outbox.len()
    );
    let missing = minus(&a_outbox, &b_outbox);
    assert!(
        missing.is_empty(),
        "{} outbox row(s) of A are missing in B, e.g. {:?}",
        missing.len(),
        missing.iter().take(3).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_import_killed_three_times_and_rerun_equals_an_uninterrupted_one() {
    killed_import_converges(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_import_killed_three_times_and_rerun_equals_an_uninterrupted_one() {
    killed_import_converges(TestBackend::Postgres).await;
}
