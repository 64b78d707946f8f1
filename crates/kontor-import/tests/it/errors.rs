//! Each error kind with its exact message; all or nothing per data set vs `skip_invalid` with the
//! rejects file.

use crate::fixtures::*;
use kontor_db::SqlDatabase;
use kontor_db::entity::{glossary_key, price_product, product_abstract};
use kontor_import::{ImportError, ImportOptions, Importer};
use kontor_testkit::repo_test_suite;
use sea_orm::{EntityTrait, PaginatorTrait};

/// Imports the shop up to the attribute keys, so products can be tested on their own.
async fn base(db: &SqlDatabase, root: &std::path::Path) {
    shop(root);
    let importer = importer(db);
    for (entity, file) in [
        ("store", "common/EU/store.csv"),
        ("currency", "common/common/currency.csv"),
        ("currency-store", "common/DE/currency_store.csv"),
        ("locale-store", "common/DE/locale_store.csv"),
        ("tax", "common/common/tax.csv"),
        ("category", "common/common/category.csv"),
        ("product-attribute-key", "common/common/product_attribute_key.csv"),
    ] {
        importer.run_file(entity, &root.join(file)).await.expect(entity);
    }
}

const BAD_ABSTRACTS: &str = "\
abstract_sku,name.en_US,tax_set_name
300,Fell Vest,Outerwear Std
301,Fell Cap,Outerwear Sdt
300,Fell Vest Again,Outerwear Std
";

async fn bad_rows_import_nothing_by_default(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    base(&db, dir.path()).await;
    let file = write(dir.path(), "bad/product_abstract.csv", BAD_ABSTRACTS);
    let error = importer(&db)
        .run_file("product-abstract", &file)
        .await
        .expect_err("invalid rows");
    let name = file.display();
    let ImportError::InvalidRows { total, shown, .. } = &error else {
        panic!("unexpected error: {error}");
    };
    assert_eq!(*total, 2);
    assert_eq!(
        shown,
        &[
            format!("{name}:3: tax_set_name: tax set \"Outerwear Sdt\" is unknown (did you mean \"Outerwear Std\"?)"),
            format!("{name}:4: abstract_sku: SKU \"300\" appears twice in the file (first on line 2)"),
        ]
    );
    assert!(error.to_string().starts_with(&format!(
        "{name}: 2 invalid row(s), nothing of \"product-abstract\" was imported:\n"
    )));
    assert_eq!(
        product_abstract::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        0
    );
}

async fn skip_invalid_imports_good_rows_and_writes_rejects(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    base(&db, dir.path()).await;
    let file = write(dir.path(), "bad/product_abstract.csv", BAD_ABSTRACTS);
    let rejects_dir = tempfile::tempdir().expect("rejects dir");
    let options = ImportOptions {
        skip_invalid: true,
        rejects_dir: Some(rejects_dir.path().to_path_buf()),
        ..ImportOptions::default()
    };
    let summary = Importer::new(db.clone(), options)
        .run_file("product-abstract", &file)
        .await
        .expect("skip invalid");
    assert_eq!((summary.rows_read, summary.inserted, summary.rejected), (3, 1, 2));
    let rejects_file = summary.rejects_file.expect("a rejects file");
    assert_eq!(rejects_file, rejects_dir.path().join("product_abstract.rejects.csv"));
    assert_eq!(
        std::fs::read_to_string(rejects_file).expect("rejects"),
        "abstract_sku,name.en_US,tax_set_name,error\n\
         301,Fell Cap,Outerwear Sdt,\"tax_set_name: tax set \"\"Outerwear Sdt\"\" is unknown (did you mean \"\"Outerwear Std\"\"?)\"\n\
         300,Fell Vest Again,Outerwear Std,\"abstract_sku: SKU \"\"300\"\" appears twice in the file (first on line 2)\"\n"
    );
    assert_eq!(
        product_abstract::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        1
    );
}

async fn header_problems_are_named_before_any_row(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    base(&db, dir.path()).await;
    let file = write(
        dir.path(),
        "bad/product_abstract.csv",
        "sku,name.en_US,colour_code\n300,Vest,#fff\n",
    );
    let error = importer(&db)
        .run_file("product-abstract", &file)
        .await
        .expect_err("bad header");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: required column \"abstract_sku\" is missing; unknown column \"sku\"; unknown column \"colour_code\"",
            file.display()
        )
    );
    let twice = write(dir.path(), "bad/store.csv", "name,name\nDE,DE\n");
    let error = importer(&db)
        .run_file("store", &twice)
        .await
        .expect_err("duplicate column");
    assert_eq!(
        error.to_string(),
        format!("{}: column \"name\" appears twice", twice.display())
    );
}

async fn row_errors_name_file_line_and_column(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = shop(dir.path());
    importer(&db).run_recipe(&recipe).await.expect("shop");

    let concretes = write(
        dir.path(),
        "bad/product_concrete.csv",
        "abstract_sku,concrete_sku,attribute_key_1,value_1\n200,200_green,colour,Green\n999,999_a,color,Red\n200,200_blau,color,Blue\n",
    );
    let error = importer(&db)
        .run_file("product-concrete", &concretes)
        .await
        .expect_err("bad concretes");
    let ImportError::InvalidRows { shown, .. } = error else {
        panic!("unexpected: {error}")
    };
    let name = concretes.display();
    assert_eq!(
        shown,
        [
            format!("{name}:2: value_1: attribute key \"colour\" is unknown (did you mean \"color\"?)"),
            format!("{name}:3: abstract_sku: abstract product \"999\" is unknown"),
        ]
    );

    let prices = write(
        dir.path(),
        "bad/product_price.csv",
        "abstract_sku,concrete_sku,price_type,store,currency,value_net,value_gross\n200,,DEFAULT,XX,EUR,,100\n200,,DEFAULT,AT,CHF,,100\n200,,DEFAULT,DE,EUR,,12.5\n",
    );
    let error = importer(&db)
        .run_file("product-price", &prices)
        .await
        .expect_err("bad prices");
    let ImportError::InvalidRows { shown, .. } = error else {
        panic!("unexpected: {error}")
    };
    let name = prices.display();
    assert_eq!(
        shown,
        [
            format!("{name}:2: store: store \"XX\" is unknown"),
            format!("{name}:3: currency: store \"AT\" does not sell in CHF"),
            format!("{name}:4: value_gross: \"12.5\" is not an amount in minor units (a whole number ≥ 0, e.g. 12900)"),
        ]
    );

    // A malformed volume price is a warning; the price itself imports, without volume prices: not JSON,
    // a quantity below 2, a quantity twice, a negative amount, a tier without any amount.
    let volume = write(
        dir.path(),
        "bad/volume_price.csv",
        "abstract_sku,concrete_sku,price_type,store,currency,value_net,value_gross,price_data.volume_prices\n\
         201,,DEFAULT,DE,EUR,8000,9520,[{quantity:5}\n\
         201,,DEFAULT,DE,CHF,8000,9520,\"[{\"\"quantity\"\":1,\"\"gross_price\"\":9000}]\"\n\
         200,,DEFAULT,AT,EUR,,12900,\"[{\"\"quantity\"\":5,\"\"gross_price\"\":9000},{\"\"quantity\"\":5,\"\"gross_price\"\":8000}]\"\n\
         201,,DEFAULT,AT,EUR,8000,9520,\"[{\"\"quantity\"\":5,\"\"gross_price\"\":-1}]\"\n\
         201,,ORIGINAL,AT,EUR,8000,9520,\"[{\"\"quantity\"\":5,\"\"net_price\"\":null}]\"\n",
    );
    let with_volume_prices = || async {
        price_product::Entity::find()
            .all(db.connection())
            .await
            .expect("prices")
            .into_iter()
            .filter(|price| price.volume_prices.is_some())
            .count()
    };
    let before = with_volume_prices().await;
    let summary = importer(&db)
        .run_file("product-price", &volume)
        .await
        .expect("warning only");
    let warning = |line: u32| {
        format!(
            "{}:{line}: price_data.volume_prices: not a JSON list of volume prices ([{{\"quantity\":5,\"net_price\":…,\"gross_price\":…}}], quantities of at least 2, each once), left empty",
            volume.display()
        )
    };
    assert_eq!(summary.warnings, [2, 3, 4, 5, 6].map(warning));
    assert_eq!(
        with_volume_prices().await,
        before,
        "the malformed volume prices were left empty"
    );
}

async fn non_utf8_is_rejected_before_any_row(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    base(&db, dir.path()).await;
    let mut latin1 = b"key,translation,locale\nok.key,fine,en_US\nbad.key,Gr".to_vec();
    latin1.extend_from_slice(&[0xFC]); // `ü` in Latin-1
    latin1.extend_from_slice(b"n,de_DE\n");
    let file = write(dir.path(), "bad/glossary.csv", latin1);
    let error = importer(&db).run_file("glossary", &file).await.expect_err("latin-1");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:3: the file is not UTF-8 (invalid UTF-8 in field 2); convert it to UTF-8",
            file.display()
        )
    );
    let utf16 = write(dir.path(), "bad/glossary16.csv", [0xFF, 0xFE, b'k', 0]);
    let error = importer(&db).run_file("glossary", &utf16).await.expect_err("utf-16");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:1: the file is not UTF-8 (UTF-16 byte order mark); convert it to UTF-8",
            utf16.display()
        )
    );
    assert_eq!(
        glossary_key::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        0
    );
}

repo_test_suite!(
    bad_rows_import_nothing_by_default,
    skip_invalid_imports_good_rows_and_writes_rejects,
    header_problems_are_named_before_any_row,
    row_errors_name_file_line_and_column,
    non_utf8_is_rejected_before_any_row,
);
