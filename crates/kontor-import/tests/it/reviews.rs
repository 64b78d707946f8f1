//! The `product-review` data set: Spryker's columns, reviews matched by their content so that a
//! re-import changes nothing and a changed status updates, one outbox row per written review, and
//! every bad row named by file, line and column.

use crate::fixtures::*;
use kontor_db::SqlDatabase;
use kontor_db::entity::product_review;
use kontor_import::ImportError;
use kontor_testkit::repo_test_suite;
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};

const HEADER: &str = "customer_reference,abstract_product_sku,locale_name,nickname,summary,description,rating,status\n";

async fn stored(db: &SqlDatabase) -> Vec<(String, i32, String)> {
    product_review::Entity::find()
        .order_by_asc(product_review::Column::Id)
        .all(db.connection())
        .await
        .expect("reviews")
        .into_iter()
        .map(|row| (row.summary, row.rating, row.status))
        .collect()
}

async fn reviews_import_once_and_follow_status_changes(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    importer(&db).run_recipe(&shop(dir.path())).await.expect("shop");
    let csv = format!(
        "{HEADER}\
DE--1,200,en_US,Spencer,Leaks at the seams,\"Wore it twice, then it leaked.\",1,approved
DE--2,200,de_DE,Maria,Super Jacke,,5,pending
DE--3,201,en_US,Maggie,Nice,Short text.,4,
"
    );
    let file = write(dir.path(), "common/common/product_review.csv", &csv);
    let outbox_before = outbox_count(&db).await;
    let summary = importer(&db).run_file("product-review", &file).await.expect("imported");
    assert_eq!((summary.inserted, summary.updated, summary.unchanged), (3, 0, 0));
    assert_eq!(outbox_count(&db).await, outbox_before + 3, "one outbox row per review");
    assert_eq!(
        stored(&db).await,
        [
            ("Leaks at the seams".to_owned(), 1, "approved".to_owned()),
            ("Super Jacke".to_owned(), 5, "pending".to_owned()),
            ("Nice".to_owned(), 4, "pending".to_owned()),
        ]
    );

    let again = importer(&db)
        .run_file("product-review", &file)
        .await
        .expect("re-imported");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(outbox_count(&db).await, outbox_before + 3, "nothing to publish");

    write(
        dir.path(),
        "common/common/product_review.csv",
        csv.replace("Super Jacke,,5,pending", "Super Jacke,,5,approved"),
    );
    let changed = importer(&db)
        .run_file("product-review", &file)
        .await
        .expect("status change");
    assert_eq!((changed.inserted, changed.updated, changed.unchanged), (0, 1, 2));
    assert_eq!(stored(&db).await[1].2, "approved");
    assert_eq!(outbox_count(&db).await, outbox_before + 4);
}

async fn bad_review_rows_name_file_line_and_column(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    importer(&db).run_recipe(&shop(dir.path())).await.expect("shop");
    let long = "x".repeat(256);
    let file = write(
        dir.path(),
        "bad/product_review.csv",
        format!(
            "{HEADER}\
DE--1,999,en_US,Ann,Fine,,4,approved
DE--1,200,fr_FR,Ann,Fine,,4,approved
DE--1,200,en_US,Ann,Fine,,6,approved
DE--1,200,en_US,Ann,Fine,,four,approved
DE--1,200,en_US,Ann,Fine,,4,published
DE--1,200,en_US,,Fine,,4,approved
DE--1,200,en_US,Ann,{long},,4,approved
DE--1,200,en_US,Ann,Fine,,4,approved
"
        ),
    );
    let error = importer(&db)
        .run_file("product-review", &file)
        .await
        .expect_err("invalid rows");
    let name = file.display();
    let ImportError::InvalidRows { total, shown, .. } = &error else {
        panic!("unexpected error: {error}");
    };
    assert_eq!(*total, 7);
    assert_eq!(
        shown,
        &[
            format!("{name}:2: abstract_product_sku: abstract product \"999\" is unknown"),
            format!("{name}:3: locale_name: locale \"fr_FR\" is unknown"),
            format!("{name}:4: rating: \"6\" is not a whole number from 1 to 5"),
            format!("{name}:5: rating: \"four\" is not a whole number from 1 to 5"),
            format!("{name}:6: status: \"published\" is not one of pending, approved, rejected"),
            format!("{name}:7: nickname: must not be empty"),
            format!("{name}:8: summary: must be at most 255 characters long"),
        ]
    );
    let count = product_review::Entity::find()
        .count(db.connection())
        .await
        .expect("count");
    assert_eq!(count, 0, "nothing of a bad file is imported");
}

repo_test_suite!(
    reviews_import_once_and_follow_status_changes,
    bad_review_rows_name_file_line_and_column,
);
