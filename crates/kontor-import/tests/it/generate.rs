//! The synthetic catalog generator: deterministic bytes, the promised shape, and a clean import.

use kontor_core::PageRequest;
use kontor_db::entity::orders::{payment_method_store, shipment_method, shipment_method_price};
use kontor_db::entity::{product_image, product_image_set};
use kontor_domain::catalog::{ProductAbstractAttributes, ProductConcreteAttributes};
use kontor_domain::{ListQuery, ResourceRepository};
use kontor_import::generate::{CatalogSpec, generate};
use kontor_import::{ImportOptions, Importer};
use kontor_testkit::{TestBackend, TestDatabase};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Every file under `root` with its bytes, by relative path.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("under root").display().to_string();
                files.insert(relative, std::fs::read(&path).expect("read file"));
            }
        }
    }
    files
}

fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("open csv");
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|record| {
            let record = record.expect("record");
            headers
                .iter()
                .zip(record.iter())
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect()
        })
        .collect()
}

fn spec(products: usize, seed: u64) -> CatalogSpec {
    CatalogSpec {
        products,
        seed,
        ..CatalogSpec::default()
    }
}

#[test]
fn generate_is_deterministic_per_seed() {
    let first = tempfile::tempdir().expect("temp dir");
    let second = tempfile::tempdir().expect("temp dir");
    let other = tempfile::tempdir().expect("temp dir");
    let a = generate(&spec(120, 7), first.path()).expect("generate");
    let b = generate(&spec(120, 7), second.path()).expect("generate");
    let c = generate(&spec(120, 8), other.path()).expect("generate");
    let (a_files, b_files) = (snapshot(first.path()), snapshot(second.path()));
    assert_eq!(a_files.keys().collect::<Vec<_>>(), b_files.keys().collect::<Vec<_>>());
    assert!(a_files == b_files, "same spec, same bytes");
    assert_eq!(
        (a.abstracts, a.concretes, a.prices),
        (b.abstracts, b.concretes, b.prices)
    );
    let c_files = snapshot(other.path());
    let abstract_file = "common/common/product_abstract.csv";
    assert_ne!(a_files[abstract_file], c_files[abstract_file], "another seed differs");
    assert_eq!(c.abstracts, 120);
}

#[test]
fn generate_writes_the_promised_shape() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let catalog = generate(&spec(200, 42), root).expect("generate");
    assert_eq!(catalog.recipe, root.join("full_EU.yml"));
    assert_eq!(catalog.abstracts, 200);
    assert_eq!(catalog.images, 200);
    assert_eq!(catalog.categories, 1 + 4 + 16 + 64);
    assert_eq!(catalog.leaf_categories, 64);
    assert_eq!(catalog.stock_rows, catalog.concretes * 2);

    // Reviews: about a fifth of the products, 1–3 each, ratings 1–5, mostly approved, every status seen.
    let reviews = rows(&root.join("common/common/product_review.csv"));
    assert_eq!(reviews.len(), catalog.reviews);
    let reviewed: HashSet<&str> = reviews.iter().map(|row| row["abstract_product_sku"].as_str()).collect();
    assert!(
        (20..=60).contains(&reviewed.len()),
        "{} of 200 products reviewed",
        reviewed.len()
    );
    assert!(
        reviews
            .iter()
            .all(|row| matches!(row["rating"].as_str(), "1" | "2" | "3" | "4" | "5"))
    );
    for status in ["approved", "pending", "rejected"] {
        assert!(reviews.iter().any(|row| row["status"] == status), "{status}");
    }
    let approved = reviews.iter().filter(|row| row["status"] == "approved").count();
    assert!(
        approved * 10 >= reviews.len() * 8,
        "{approved} of {} approved",
        reviews.len()
    );

    // 1–5 concretes per abstract, SKUs `<abstract>_<colour>_<size>`, variants differ in colour/size.
    let concretes = rows(&root.join("common/common/product_concrete.csv"));
    assert_eq!(concretes.len(), catalog.concretes);
    let mut per_abstract: BTreeMap<String, HashSet<(String, String)>> = BTreeMap::new();
    for row in &concretes {
        let sku = &row["concrete_sku"];
        let expected = format!(
            "{}_{}_{}",
            row["abstract_sku"],
            row["value_1"].to_lowercase(),
            row["value_2"].to_lowercase()
        );
        assert_eq!(sku, &expected);
        assert_eq!(
            (row["attribute_key_1"].as_str(), row["attribute_key_2"].as_str()),
            ("color", "size")
        );
        assert!(!row["name.de_DE"].is_empty() && !row["name.en_US"].is_empty());
        let variant = (row["value_1"].clone(), row["value_2"].clone());
        assert!(
            per_abstract
                .entry(row["abstract_sku"].clone())
                .or_default()
                .insert(variant),
            "{sku} repeats a variant"
        );
    }
    assert_eq!(per_abstract.len(), 200);
    assert!(per_abstract.values().all(|variants| (1..=5).contains(&variants.len())));
    assert!(per_abstract.values().any(|variants| variants.len() == 1));
    assert!(per_abstract.values().any(|variants| variants.len() == 5));

    // Abstracts: leaf categories, names and descriptions in every locale, brand/material attributes.
    let categories = rows(&root.join("common/common/category.csv"));
    let parents: HashSet<&str> = categories
        .iter()
        .map(|row| row["parent_category_key"].as_str())
        .collect();
    let leaves: HashSet<&str> = categories
        .iter()
        .map(|row| row["category_key"].as_str())
        .filter(|key| !parents.contains(key))
        .collect();
    assert_eq!(leaves.len(), 64);
    let abstracts = rows(&root.join("common/common/product_abstract.csv"));
    assert_eq!(abstracts.len(), 200);
    assert_eq!(abstracts[0]["abstract_sku"], "100000");
    for row in &abstracts {
        assert!(leaves.contains(row["category_key"].as_str()));
        for locale in ["de_DE", "en_US"] {
            assert!(!row[&format!("name.{locale}")].is_empty());
            assert!(row[&format!("description.{locale}")].ends_with('.'));
        }
        assert_eq!(
            (row["attribute_key_1"].as_str(), row["attribute_key_2"].as_str()),
            ("brand", "material")
        );
        assert_eq!(row["tax_set_name"], "Standard");
        assert!(row["url.de_DE"].starts_with("/de/") && row["url.en_US"].starts_with("/en/"));
        assert!(root.join(format!("images/{}.svg", row["abstract_sku"])).is_file());
    }

    // Prices: every abstract has a DEFAULT per store; roughly a fifth an ORIGINAL above it.
    for store in ["DE", "AT"] {
        let prices = rows(&root.join(format!("common/{store}/product_price.csv")));
        let defaults: HashMap<&str, u64> = prices
            .iter()
            .filter(|row| row["price_type"] == "DEFAULT" && row["concrete_sku"].is_empty())
            .map(|row| (row["abstract_sku"].as_str(), row["value_gross"].parse().expect("gross")))
            .collect();
        assert_eq!(defaults.len(), 200);
        let originals: Vec<_> = prices.iter().filter(|row| row["price_type"] == "ORIGINAL").collect();
        assert!((20..=60).contains(&originals.len()), "{} originals", originals.len());
        for row in originals {
            let gross: u64 = row["value_gross"].parse().expect("gross");
            assert!(gross > defaults[row["abstract_sku"].as_str()]);
        }
        assert!(
            prices
                .iter()
                .all(|row| row["store"] == store && row["currency"] == "EUR")
        );
    }

    // Stock in both warehouses, some zero, a few never out of stock.
    let stock = rows(&root.join("common/common/product_stock.csv"));
    assert!(stock.iter().any(|row| row["name"] == "Warehouse 1"));
    assert!(stock.iter().any(|row| row["name"] == "Warehouse 2"));
    assert!(stock.iter().any(|row| row["quantity"] == "0"));
    assert!(stock.iter().any(|row| row["is_never_out_of_stock"] == "1"));

    // Shipment methods with prices in every store, payment methods offered in every store.
    let shipments = rows(&root.join("common/common/shipment.csv"));
    let shipment_keys: Vec<(&str, &str, &str, &str)> = shipments
        .iter()
        .map(|row| {
            (
                row["shipment_method_key"].as_str(),
                row["name"].as_str(),
                row["carrier"].as_str(),
                row["taxSetName"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        shipment_keys,
        [
            ("kt_standard", "Standard", "Kontor Post", "Standard"),
            ("kt_express", "Express", "Kontor Post", "Standard")
        ]
    );
    let payments = rows(&root.join("common/common/payment_method.csv"));
    let payment_keys: Vec<(&str, &str, &str)> = payments
        .iter()
        .map(|row| {
            (
                row["payment_method_key"].as_str(),
                row["payment_method_name"].as_str(),
                row["payment_provider_key"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        payment_keys,
        [
            ("kt-invoice", "Invoice", "DummyPayment"),
            ("kt-card", "Credit Card", "DummyPayment"),
            ("kt-prepayment", "Prepayment", "Kontor")
        ]
    );
    for (store, rate) in [("DE", 119), ("AT", 120)] {
        let prices: Vec<(String, String, u64, u64)> = rows(&root.join(format!("common/{store}/shipment_price.csv")))
            .into_iter()
            .map(|row| {
                assert_eq!(row["store"], store);
                (
                    row["shipment_method_key"].clone(),
                    row["currency"].clone(),
                    row["value_net"].parse().expect("net"),
                    row["value_gross"].parse().expect("gross"),
                )
            })
            .collect();
        let net = |gross: u64| (gross * 100 + rate / 2) / rate;
        assert_eq!(
            prices,
            [
                ("kt_standard".to_owned(), "EUR".to_owned(), net(490), 490),
                ("kt_express".to_owned(), "EUR".to_owned(), net(1290), 1290),
            ]
        );
        let links = rows(&root.join(format!("common/{store}/shipment_method_store.csv")));
        assert_eq!(links.len(), 2);
        assert!(links.iter().all(|row| row["store"] == store));
        let links = rows(&root.join(format!("common/{store}/payment_method_store.csv")));
        assert_eq!(links.len(), 3);
        assert!(links.iter().all(|row| row["store"] == store));
    }

    let recipe = std::fs::read_to_string(&catalog.recipe).expect("recipe");
    assert!(recipe.starts_with("version: 0\nactions:\n"));
    for step in [
        "shipment",
        "shipment-method-store",
        "shipment-price",
        "payment-method",
        "payment-method-store",
    ] {
        assert!(
            recipe.contains(&format!("  - data_entity: {step}\n")),
            "{step} is in the recipe"
        );
    }
    assert!(recipe.contains("  - data_entity: product-review\n    source: common/common/product_review.csv"));
    let images = recipe.find("source: common/common/product_image.csv").expect("images");
    let prices = recipe.find("data_entity: product-price").expect("prices");
    assert!(images > prices, "images after the products they belong to");
}

#[test]
fn generate_handles_more_stores_and_locales() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = CatalogSpec {
        products: 10,
        seed: 3,
        stores: vec!["DE".to_owned(), "CH".to_owned()],
        locales: vec!["de_DE".to_owned(), "en_US".to_owned(), "fr_CH".to_owned()],
    };
    generate(&spec, dir.path()).expect("generate");
    let prices = rows(&dir.path().join("common/CH/product_price.csv"));
    assert!(prices.iter().all(|row| row["currency"] == "CHF"));
    let abstracts = rows(&dir.path().join("common/common/product_abstract.csv"));
    assert!(abstracts[0]["name.fr_CH"].ends_with("[fr_CH]"));
    let tax = rows(&dir.path().join("common/common/tax.csv"));
    assert_eq!(tax.len(), 2);
    let defaults = rows(&dir.path().join("common/CH/default_locale_store.csv"));
    assert_eq!(defaults[0]["locale_name"], "fr_CH");

    let bad = CatalogSpec {
        stores: vec!["DE".to_owned(), "DE".to_owned()],
        ..CatalogSpec::default()
    };
    assert!(generate(&bad, dir.path()).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_catalog_imports_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = generate(&spec(50, 11), dir.path()).expect("generate");
    let test_db = TestDatabase::new(TestBackend::Sqlite).await;
    let db = test_db.database.clone();
    let summary = Importer::new(db.clone(), ImportOptions::default())
        .run_recipe(&catalog.recipe)
        .await
        .expect("import");
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    for set in &summary.data_sets {
        assert_eq!(set.rejected, 0, "{}: {:?}", set.data_set, set.warnings);
        // Only notes about Spryker columns Kontor does not use (`color_code`, `bundled`, …).
        assert!(
            set.warnings.iter().all(|note| note.contains("is not used by Kontor")),
            "{}: {:?}",
            set.data_set,
            set.warnings
        );
    }
    let read = |name: &str| -> u64 {
        summary
            .data_sets
            .iter()
            .filter(|set| set.data_set == name)
            .map(|set| set.rows_read)
            .sum()
    };
    assert_eq!(read("product-abstract"), 50);
    assert_eq!(read("product-concrete"), catalog.concretes as u64);
    assert_eq!(read("product-price"), catalog.prices as u64);
    assert_eq!(read("product-stock"), catalog.stock_rows as u64);
    assert_eq!(read("category"), 85);
    assert_eq!(read("product-image"), catalog.images as u64);
    assert_eq!(
        [
            "shipment",
            "shipment-method-store",
            "shipment-price",
            "payment-method",
            "payment-method-store"
        ]
        .map(read),
        [2, 4, 4, 3, 6],
        "two stores"
    );
    let connection = db.connection();
    // One keyed, locale-independent set per abstract, holding its placeholder image.
    let image_sets = product_image_set::Entity::find().all(connection).await.expect("sets");
    assert_eq!(image_sets.len(), 50);
    assert!(image_sets.iter().all(|set| {
        set.locale_id.is_none()
            && set.product_abstract_id.is_some()
            && set
                .product_image_set_key
                .as_deref()
                .is_some_and(|key| key.starts_with("set-"))
    }));
    let images = product_image::Entity::find().all(connection).await.expect("images");
    assert_eq!(images.len(), catalog.images);
    assert!(images.iter().all(|image| image.external_url_large.starts_with("/images/")
        && image.external_url_large.ends_with(".svg")));
    let shipment_methods = shipment_method::Entity::find().all(connection).await.expect("methods");
    assert!(shipment_methods.iter().all(|method| method.tax_set_id.is_some()));
    assert_eq!(shipment_methods.len(), 2);
    assert_eq!(
        shipment_method_price::Entity::find()
            .count(connection)
            .await
            .expect("count"),
        4
    );
    assert_eq!(
        payment_method_store::Entity::find()
            .count(connection)
            .await
            .expect("count"),
        6
    );

    let query = ListQuery {
        page: PageRequest { offset: 0, limit: 1 },
        ..ListQuery::default()
    };
    let abstracts = ResourceRepository::<ProductAbstractAttributes>::list(&db, &query)
        .await
        .expect("list abstracts");
    assert_eq!(abstracts.total, 50);
    let concretes = ResourceRepository::<ProductConcreteAttributes>::list(&db, &query)
        .await
        .expect("list concretes");
    assert_eq!(concretes.total, catalog.concretes as u64);

    // Re-importing the same files changes nothing.
    let again = Importer::new(db.clone(), ImportOptions::default())
        .run_recipe(&catalog.recipe)
        .await
        .expect("re-import");
    assert!(again.data_sets.iter().all(|set| set.inserted == 0 && set.updated == 0));
    drop(test_db);
}

/// The planner's statistics are fresh after an import on PostgreSQL (`reltuples` stays -1 or 0 until a
/// table is analyzed): publishing right after a bulk load must not be planned on empty tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_postgres_leaves_fresh_planner_statistics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = generate(&spec(20, 5), dir.path()).expect("generate");
    let test_db = TestDatabase::new(TestBackend::Postgres).await;
    let db = test_db.database.clone();
    let estimated = || async {
        kontor_testkit::planner_row_estimate(&db, "product_abstract")
            .await
            .expect("PostgreSQL")
    };
    assert!(estimated().await <= 0.0, "not analyzed before the import");
    Importer::new(db.clone(), ImportOptions::default())
        .run_recipe(&catalog.recipe)
        .await
        .expect("import");
    assert_eq!(estimated().await, 20.0, "analyzed at the end of the import");
    // A table the import leaves empty stays unanalyzed, so it is not planned as empty while it fills.
    assert!(
        kontor_testkit::planner_row_estimate(&db, "cart")
            .await
            .expect("PostgreSQL")
            < 0.0,
        "an empty table is not analyzed"
    );
    drop(test_db);
}

/// `cargo nextest run -p kontor-import generate_ten_thousand --run-ignored only --no-capture`; with
/// `KONTOR_GENERATE_OUT=<dir>` the catalog is kept there for inspection, `KONTOR_GENERATE_PRODUCTS=N` sets
/// the size.
#[test]
#[ignore = "timing only"]
fn generate_ten_thousand_products_timing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::env::var_os("KONTOR_GENERATE_OUT").map_or_else(|| dir.path().to_path_buf(), Into::into);
    let started = std::time::Instant::now();
    let products = std::env::var("KONTOR_GENERATE_PRODUCTS").map_or(10_000, |raw| raw.parse().expect("a number"));
    let catalog = generate(&spec(products, 1), &out).expect("generate");
    eprintln!(
        "{products} products: {} concretes, {} prices, {} stock rows in {:.2?}",
        catalog.concretes,
        catalog.prices,
        catalog.stock_rows,
        started.elapsed()
    );
}
