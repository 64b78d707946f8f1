//! `kontor import --dry-run` and `--only` as an operator uses them (issue 7).
//!
//! The dry run is checked on an empty database, where it must validate each data set against what the
//! earlier ones would have written (concretes against the abstracts of the same run), report exactly
//! the summary the real import then reports, report bad rows with a non-zero exit code, and leave
//! every table, the outbox included, as it was.

use crate::cli::{Shop, stdout};
use crate::import_crash::{Dump, catalog};
use kontor_testkit::{TestBackend, TestDatabase};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

fn import(shop: &Shop, url: &str, args: &[&str]) -> Output {
    shop.command()
        .env("KONTOR_DATABASE__URL", url)
        .arg("import")
        .args(args)
        .output()
        .expect("run kontor import")
}

/// Every table's rows exactly as stored (ids and times included), sorted: the database "unchanged".
async fn raw(db: &TestDatabase) -> BTreeMap<String, Vec<String>> {
    Dump::read(db.database.connection())
        .await
        .tables
        .into_iter()
        .map(|(table, rows)| {
            let mut rows: Vec<String> = rows
                .into_iter()
                .map(|row| serde_json::Value::Object(row).to_string())
                .collect();
            rows.sort();
            (table, rows)
        })
        .collect()
}

/// The summary table of `kontor import`'s output without the rows/s column (a timing).
fn summary(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|line| !line.starts_with(' ') && line.split_whitespace().count() == 8)
        .map(|line| line.split_whitespace().take(7).collect::<Vec<_>>().join(" "))
        .collect()
}

async fn dry_run_writes_nothing_and_reports_what_the_import_does(backend: TestBackend) {
    if !backend.is_selected() {
        eprintln!("{} deselected by KONTOR_TEST_BACKENDS", backend.name());
        return;
    }
    let shop = Shop::new();
    let recipe = catalog(&shop, "40", 25);
    let recipe_arg = recipe.to_str().expect("utf-8 path");
    let db = TestDatabase::new(backend).await;
    let empty = raw(&db).await;

    let dry = stdout(&import(&shop, &db.url, &[recipe_arg, "--dry-run"]));
    assert!(dry.contains("dry run: every change was rolled back"), "{dry}");
    let concretes = summary(&dry)
        .into_iter()
        .find(|line| line.starts_with("product-concrete "))
        .unwrap_or_else(|| panic!("no product-concrete line:\n{dry}"));
    let inserted: u64 = concretes
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("inserted");
    // On an empty database the concretes can only be valid against the abstracts of the same run.
    assert!(inserted > 0, "{concretes}");
    assert_eq!(raw(&db).await, empty, "the dry run changed the database");

    // Bad rows: the same report and a failing exit code, and still nothing written.
    let concretes_file = recipe.with_file_name("common/common/product_concrete.csv");
    let good = std::fs::read_to_string(&concretes_file).expect("read product_concrete.csv");
    let header = good.lines().next().expect("a header");
    let bad_row: Vec<&str> = header
        .split(',')
        .map(|column| match column {
            "abstract_sku" => "no-such-abstract",
            "concrete_sku" => "no-such-abstract_1",
            _ => "",
        })
        .collect();
    let bad_line = good.lines().count() + 1;
    std::fs::write(&concretes_file, format!("{good}{}\n", bad_row.join(","))).expect("write product_concrete.csv");
    let rejected = import(&shop, &db.url, &[recipe_arg, "--dry-run"]);
    assert!(!rejected.status.success(), "a dry run with a bad row fails");
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains(&format!("product_concrete.csv:{bad_line}: abstract_sku:")),
        "{stderr}"
    );
    assert_eq!(raw(&db).await, empty, "the failed dry run changed the database");
    std::fs::write(&concretes_file, good).expect("restore product_concrete.csv");

    // The real import reports what the dry run announced.
    let real = stdout(&import(&shop, &db.url, &[recipe_arg]));
    assert_eq!(summary(&real), summary(&dry), "dry run:\n{dry}\nimport:\n{real}");
    assert_ne!(raw(&db).await, empty);

    // A dry run on top of the imported catalog changes nothing either, outbox included.
    let imported = raw(&db).await;
    let again = stdout(&import(&shop, &db.url, &[recipe_arg, "--dry-run"]));
    assert!(
        summary(&again).iter().any(|line| line.starts_with("product-concrete ")),
        "{again}"
    );
    assert_eq!(
        raw(&db).await,
        imported,
        "a dry run after the import changed the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dry_run_writes_nothing_and_reports_what_the_import_does() {
    dry_run_writes_nothing_and_reports_what_the_import_does(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dry_run_writes_nothing_and_reports_what_the_import_does() {
    dry_run_writes_nothing_and_reports_what_the_import_does(TestBackend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_runs_the_named_recipe_steps() {
    let shop = Shop::new();
    let recipe = catalog(&shop, "10", 3);
    let recipe_arg = recipe.to_str().expect("utf-8 path");
    let db = TestDatabase::new(TestBackend::Sqlite).await;

    // `stock` is Spryker's alias of `warehouse`.
    let output = stdout(&import(&shop, &db.url, &[recipe_arg, "--only", "store,currency,stock"]));
    let ran: Vec<String> = summary(&output)
        .iter()
        .map(|line| line.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ran, ["store", "currency", "warehouse"], "{output}");
    assert!(output.contains("not run (not in --only): currency-store"), "{output}");
    assert!(output.contains("not run (not in --only): product-abstract"), "{output}");
    let dump = Dump::read(db.database.connection()).await;
    assert!(dump.count("store") > 0 && dump.count("currency") > 0 && dump.count("warehouse") > 0);
    for table in [
        "store_currency",
        "store_locale",
        "warehouse_store",
        "product_abstract",
        "customer",
    ] {
        assert_eq!(
            dump.count(table),
            0,
            "{table} was written by a step that was not selected"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_refuses_names_that_are_not_steps_of_the_recipe() {
    let shop = Shop::new();
    let db = TestDatabase::new(TestBackend::Sqlite).await;
    let data = shop.dir.join("import");
    std::fs::create_dir_all(data.join("common/EU")).expect("dirs");
    std::fs::write(data.join("common/EU/store.csv"), "name\nDE\n").expect("store.csv");
    let recipe = data.join("stores.yml");
    std::fs::write(
        &recipe,
        "version: 0\nactions:\n  - data_entity: store\n    source: common/EU/store.csv\n",
    )
    .expect("recipe");
    let recipe_arg = recipe.to_str().expect("utf-8 path");

    let absent = import(&shop, &db.url, &[recipe_arg, "--only", "currency"]);
    assert!(!absent.status.success());
    let stderr = String::from_utf8_lossy(&absent.stderr);
    assert!(
        stderr.contains("\"currency\"") && stderr.contains("not a step of the recipe"),
        "{stderr}"
    );

    let unknown = import(&shop, &db.url, &[recipe_arg, "--only", "stores"]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("\"stores\" is not a data entity"), "{stderr}");

    let store_file = data.join("common/EU/store.csv");
    let single = import(&shop, &db.url, &["store", path(&store_file), "--only", "store"]);
    assert!(!single.status.success(), "--only with a single data set is refused");

    let dump = Dump::read(db.database.connection()).await;
    assert_eq!(dump.count("store"), 0, "a refused import wrote");
}

fn path(file: &Path) -> &str {
    file.to_str().expect("utf-8 path")
}
