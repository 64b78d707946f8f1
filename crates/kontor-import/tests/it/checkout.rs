//! The shipment and payment data sets (`shipment`, `shipment-method-store`, `shipment-price`,
//! `payment-method`, `payment-method-store`): invented methods imported and read back, re-imported
//! without a write, partial files, and row errors that import nothing of their file.

use crate::fixtures::*;
use kontor_db::SqlDatabase;
use kontor_db::entity::orders::{
    payment_method, payment_method_store, shipment_method, shipment_method_price, shipment_method_store,
};
use kontor_db::entity::{currency, store, tax_set};
use kontor_import::{DataSetSummary, ImportError};
use kontor_testkit::repo_test_suite;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::path::{Path, PathBuf};

/// The five files in import order: (data entity, path under the import root).
const FILES: [(&str, &str); 5] = [
    ("shipment", "common/common/shipment.csv"),
    ("shipment-method-store", "common/DE/shipment_method_store.csv"),
    ("shipment-price", "common/DE/shipment_price.csv"),
    ("payment-method", "common/common/payment_method.csv"),
    ("payment-method-store", "common/DE/payment_method_store.csv"),
];

/// Stores, currencies and tax sets, which the methods refer to.
async fn base(db: &SqlDatabase, root: &Path) {
    shop(root);
    let importer = importer(db);
    for (entity, file) in [
        ("store", "common/EU/store.csv"),
        ("currency", "common/common/currency.csv"),
        ("currency-store", "common/DE/currency_store.csv"),
        ("tax", "common/common/tax.csv"),
    ] {
        importer.run_file(entity, &root.join(file)).await.expect(entity);
    }
}

async fn import_all(db: &SqlDatabase, root: &Path) -> Vec<DataSetSummary> {
    let mut summaries = Vec::new();
    for (entity, file) in FILES {
        summaries.push(importer(db).run_file(entity, &root.join(file)).await.expect(entity));
    }
    summaries
}

/// Every row of the five tables, in a stable order.
#[derive(Debug, PartialEq)]
struct Tables {
    shipments: Vec<shipment_method::Model>,
    shipment_stores: Vec<shipment_method_store::Model>,
    shipment_prices: Vec<shipment_method_price::Model>,
    payments: Vec<payment_method::Model>,
    payment_stores: Vec<payment_method_store::Model>,
}

async fn tables(db: &SqlDatabase) -> Tables {
    let connection = db.connection();
    Tables {
        shipments: shipment_method::Entity::find()
            .order_by_asc(shipment_method::Column::Id)
            .all(connection)
            .await
            .expect("shipment methods"),
        shipment_stores: shipment_method_store::Entity::find()
            .order_by_asc(shipment_method_store::Column::ShipmentMethodId)
            .order_by_asc(shipment_method_store::Column::StoreId)
            .all(connection)
            .await
            .expect("shipment stores"),
        shipment_prices: shipment_method_price::Entity::find()
            .order_by_asc(shipment_method_price::Column::Id)
            .all(connection)
            .await
            .expect("shipment prices"),
        payments: payment_method::Entity::find()
            .order_by_asc(payment_method::Column::Id)
            .all(connection)
            .await
            .expect("payment methods"),
        payment_stores: payment_method_store::Entity::find()
            .order_by_asc(payment_method_store::Column::PaymentMethodId)
            .order_by_asc(payment_method_store::Column::StoreId)
            .all(connection)
            .await
            .expect("payment stores"),
    }
}

/// Names by id of stores, currencies and tax sets, to read rows back by their natural keys.
struct Names {
    stores: std::collections::HashMap<i64, String>,
    currencies: std::collections::HashMap<i64, String>,
    tax_sets: std::collections::HashMap<i64, String>,
}

async fn names(db: &SqlDatabase) -> Names {
    let connection = db.connection();
    Names {
        stores: store::Entity::find()
            .all(connection)
            .await
            .expect("stores")
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect(),
        currencies: currency::Entity::find()
            .all(connection)
            .await
            .expect("currencies")
            .into_iter()
            .map(|row| (row.id, row.code))
            .collect(),
        tax_sets: tax_set::Entity::find()
            .all(connection)
            .await
            .expect("tax sets")
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect(),
    }
}

fn counts(summary: &DataSetSummary) -> (u64, u64, u64) {
    (summary.inserted, summary.updated, summary.unchanged)
}

async fn methods_import_and_reimport_changes_nothing(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    base(&db, root).await;
    let outbox_before = outbox_count(&db).await;

    let first = import_all(&db, root).await;
    let inserted: Vec<(&str, u64, u64)> = first
        .iter()
        .map(|set| (set.data_set.as_str(), set.rows_read, set.inserted))
        .collect();
    assert_eq!(
        inserted,
        [
            ("shipment", 2, 2),
            ("shipment-method-store", 3, 3),
            ("shipment-price", 4, 4),
            ("payment-method", 2, 2),
            ("payment-method-store", 3, 3),
        ]
    );
    assert!(first.iter().all(|set| set.warnings.is_empty()), "{first:?}");
    assert_eq!(outbox_count(&db).await, outbox_before, "methods publish nothing");

    // Read back by natural keys.
    let names = names(&db).await;
    let stored = tables(&db).await;
    let shipments: Vec<_> = stored
        .shipments
        .iter()
        .map(|row| {
            (
                row.method_key.as_str(),
                row.name.as_str(),
                row.carrier_name.as_str(),
                row.tax_set_id.map(|id| names.tax_sets[&id].as_str()),
                row.is_active,
                row.delivery_time.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shipments,
        [
            (
                "kt_standard",
                "Standard",
                "Kontor Post",
                Some("Outerwear Std"),
                true,
                None
            ),
            ("kt_pickup", "Pickup", "Self Service", None, true, None),
        ]
    );
    assert!(
        stored
            .shipments
            .iter()
            .all(|row| row.created_at > 1_700_000_000_000_000)
    );
    let method_key = |id: i64| {
        stored
            .shipments
            .iter()
            .find(|row| row.id == id)
            .map_or("?", |row| row.method_key.as_str())
    };
    let mut prices: Vec<_> = stored
        .shipment_prices
        .iter()
        .map(|row| {
            (
                method_key(row.shipment_method_id),
                names.stores[&row.store_id].as_str(),
                names.currencies[&row.currency_id].as_str(),
                row.net_amount,
                row.gross_amount,
            )
        })
        .collect();
    prices.sort();
    assert_eq!(
        prices,
        [
            ("kt_pickup", "DE", "EUR", Some(0), Some(0)),
            ("kt_standard", "AT", "EUR", Some(408), Some(490)),
            ("kt_standard", "DE", "CHF", None, Some(560)),
            ("kt_standard", "DE", "EUR", None, Some(490)),
        ]
    );
    let mut shipment_stores: Vec<(&str, &str)> = stored
        .shipment_stores
        .iter()
        .map(|row| (method_key(row.shipment_method_id), names.stores[&row.store_id].as_str()))
        .collect();
    shipment_stores.sort();
    assert_eq!(
        shipment_stores,
        [("kt_pickup", "DE"), ("kt_standard", "AT"), ("kt_standard", "DE")]
    );
    let payments: Vec<(&str, &str, &str, &str, i32, bool)> = stored
        .payments
        .iter()
        .map(|row| {
            (
                row.method_key.as_str(),
                row.name.as_str(),
                row.provider_key.as_str(),
                row.provider_name.as_str(),
                row.priority,
                row.is_active,
            )
        })
        .collect();
    assert_eq!(
        payments,
        [
            ("kt-invoice", "Invoice", "DummyPayment", "Dummy Payment", 0, true),
            ("kt-card", "Credit Card", "DummyPayment", "Dummy Payment", 0, false),
        ]
    );
    let payment_key = |id: i64| {
        stored
            .payments
            .iter()
            .find(|row| row.id == id)
            .map_or("?", |row| row.method_key.as_str())
    };
    let mut payment_stores: Vec<(&str, &str)> = stored
        .payment_stores
        .iter()
        .map(|row| (payment_key(row.payment_method_id), names.stores[&row.store_id].as_str()))
        .collect();
    payment_stores.sort();
    assert_eq!(
        payment_stores,
        [("kt-card", "DE"), ("kt-invoice", "AT"), ("kt-invoice", "DE")]
    );

    // The same files again: nothing written, not even a timestamp.
    let again = import_all(&db, root).await;
    for set in &again {
        assert_eq!(counts(set), (0, 0, set.rows_read), "{}", set.data_set);
    }
    assert_eq!(tables(&db).await, stored);
    assert_eq!(outbox_count(&db).await, outbox_before);

    // Partial files: absent columns keep stored values, Spryker's plugin columns are skipped with a note,
    // `tax_set_name` works like `taxSetName`, `priority` is Kontor's own column.
    let shipment_file = write(
        root,
        "partial/shipment.csv",
        "shipment_method_key,name,carrier,is_active,availabilityPlugin\n\
         kt_standard,Standard,Kontor Post,1,SomeAvailabilityPlugin\n\
         kt_pickup,Pickup,Self Service,0,\n",
    );
    let summary = importer(&db)
        .run_file("shipment", &shipment_file)
        .await
        .expect("partial shipment");
    assert_eq!(counts(&summary), (0, 1, 1));
    assert_eq!(
        summary.warnings,
        [format!(
            "{}: column \"availabilityPlugin\" is not used by Kontor, skipped",
            shipment_file.display()
        )]
    );
    let snake = write(
        root,
        "partial/shipment_snake.csv",
        "shipment_method_key,name,carrier,tax_set_name\nkt_pickup,Pickup,Self Service,Outerwear Std\n",
    );
    let summary = importer(&db).run_file("shipment", &snake).await.expect("snake case");
    assert_eq!(counts(&summary), (0, 1, 0));
    let changed = tables(&db).await;
    let standard = &changed.shipments[0];
    assert_eq!(standard, &stored.shipments[0], "unchanged row, untouched tax set");
    let pickup = &changed.shipments[1];
    assert!(!pickup.is_active);
    assert_eq!(pickup.tax_set_id, standard.tax_set_id);
    assert!(pickup.updated_at >= stored.shipments[1].updated_at);

    let price_file = write(
        root,
        "partial/shipment_price.csv",
        "shipment_method_key,store,currency,value_net,value_gross\nkt_standard,DE,EUR,412,\nkt_pickup,DE,EUR,0,0\n",
    );
    let summary = importer(&db)
        .run_file("shipment-price", &price_file)
        .await
        .expect("changed price");
    assert_eq!(counts(&summary), (0, 1, 1));
    let price = shipment_method_price::Entity::find()
        .filter(shipment_method_price::Column::ShipmentMethodId.eq(standard.id))
        .filter(shipment_method_price::Column::NetAmount.eq(412))
        .one(db.connection())
        .await
        .expect("query")
        .expect("the changed price");
    assert_eq!(price.gross_amount, None, "an empty value_gross means no gross price");

    let payment_file = write(
        root,
        "partial/payment_method.csv",
        "payment_method_key,payment_method_name,payment_provider_key,payment_provider_name,priority\n\
         kt-invoice,Invoice,DummyPayment,Dummy Payment,10\n\
         kt-prepayment,Prepayment,Kontor,Kontor,\n",
    );
    let summary = importer(&db)
        .run_file("payment-method", &payment_file)
        .await
        .expect("priorities");
    assert_eq!(counts(&summary), (1, 1, 0));
    let payments: Vec<(String, i32, bool)> = tables(&db)
        .await
        .payments
        .into_iter()
        .map(|row| (row.method_key, row.priority, row.is_active))
        .collect();
    assert_eq!(
        payments,
        [
            ("kt-invoice".to_owned(), 10, true),
            ("kt-card".to_owned(), 0, false),
            ("kt-prepayment".to_owned(), 0, true),
        ]
    );
    assert_eq!(outbox_count(&db).await, outbox_before, "changes publish nothing either");
}

/// Imports `content` as `entity` and returns the listed problems; `file` is where it was written.
async fn problems(
    db: &SqlDatabase,
    root: &Path,
    entity: &str,
    relative: &str,
    content: &str,
) -> (PathBuf, u64, Vec<String>) {
    let file = write(root, relative, content);
    let error = importer(db).run_file(entity, &file).await.expect_err("invalid rows");
    let ImportError::InvalidRows { total, shown, .. } = error else {
        panic!("unexpected error: {error}");
    };
    (file, total, shown)
}

async fn bad_rows_name_file_line_and_column_and_import_nothing(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    base(&db, root).await;
    import_all(&db, root).await;
    let stored = tables(&db).await;

    let (file, total, shown) = problems(
        &db,
        root,
        "shipment",
        "bad/shipment.csv",
        "shipment_method_key,name,carrier,taxSetName,pricePlugin\n\
         kt_new,New,Kontor Post,Outerwear Std,\n\
         kt_bad,Bad,Kontor Post,Outerwear Sdt,\n\
         kt_new,Again,Kontor Post,,\n\
         kt_nocarrier,No carrier,,,\n",
    )
    .await;
    let name = file.display();
    assert_eq!(total, 3);
    assert_eq!(
        shown,
        [
            format!("{name}:3: taxSetName: tax set \"Outerwear Sdt\" is unknown (did you mean \"Outerwear Std\"?)"),
            format!(
                "{name}:4: shipment_method_key: shipment method \"kt_new\" appears twice in the file (first on line 2)"
            ),
            format!("{name}:5: carrier: must not be empty"),
        ]
    );
    let (file, _, shown) = problems(
        &db,
        root,
        "shipment",
        "bad/shipment_both.csv",
        "shipment_method_key,name,carrier,taxSetName,tax_set_name\n\
         kt_standard,Standard,Kontor Post,Outerwear Std,Outerwear Std\n\
         kt_pickup,Pickup,Self Service,,Outerwear Std\n",
    )
    .await;
    assert_eq!(
        shown,
        [format!(
            "{}:3: tax_set_name: \"Outerwear Std\" differs from taxSetName \"\"",
            file.display()
        )]
    );

    let (file, total, shown) = problems(
        &db,
        root,
        "shipment-price",
        "bad/shipment_price.csv",
        "shipment_method_key,store,currency,value_net,value_gross\n\
         kt_standard,DE,EUR,,590\n\
         kt_standart,DE,EUR,,490\n\
         kt_standard,XX,EUR,,490\n\
         kt_standard,DE,USD,,490\n\
         kt_standard,AT,CHF,,490\n\
         kt_standard,DE,CHF,,12.5\n\
         kt_standard,DE,CHF,-1,490\n\
         kt_pickup,DE,EUR,,\n\
         kt_standard,DE,EUR,,600\n",
    )
    .await;
    let name = file.display();
    assert_eq!(total, 8);
    assert_eq!(
        shown,
        [
            format!(
                "{name}:3: shipment_method_key: shipment method \"kt_standart\" is unknown (did you mean \"kt_standard\"?)"
            ),
            format!("{name}:4: store: store \"XX\" is unknown"),
            format!("{name}:5: currency: currency \"USD\" is unknown"),
            format!("{name}:6: currency: store \"AT\" does not sell in CHF"),
            format!("{name}:7: value_gross: \"12.5\" is not an amount in minor units (a whole number ≥ 0, e.g. 12900)"),
            format!("{name}:8: value_net: \"-1\" is not an amount in minor units (a whole number ≥ 0, e.g. 12900)"),
            format!("{name}:9: value_gross: value_net and value_gross are both empty"),
            format!("{name}:10: currency: the price of \"kt_standard\" in DE and EUR is also on line 2"),
        ]
    );

    let (file, total, shown) = problems(
        &db,
        root,
        "shipment-method-store",
        "bad/shipment_method_store.csv",
        "shipment_method_key,store\nkt_pickup,AT\nkt_express,DE\nkt_pickup,CH\nkt_pickup,AT\n",
    )
    .await;
    let name = file.display();
    assert_eq!(total, 3);
    assert_eq!(
        shown,
        [
            format!("{name}:3: shipment_method_key: shipment method \"kt_express\" is unknown"),
            format!("{name}:4: store: store \"CH\" is unknown"),
            format!("{name}:5: store: \"kt_pickup\" in AT is also on line 2"),
        ]
    );

    let (file, total, shown) = problems(
        &db,
        root,
        "payment-method",
        "bad/payment_method.csv",
        "payment_method_key,payment_method_name,payment_provider_key,payment_provider_name,is_active,priority\n\
         kt-new,New,DummyPayment,Dummy Payment,1,5\n\
         kt-paypal,PayPal,DummyPayment,Dummy Pay,1,\n\
         kt-wallet,Wallet,Kontor,Kontor,maybe,\n\
         kt-gift,Gift card,Kontor,Kontor,1,first\n\
         kt-new,New again,Kontor,Kontor,1,\n\
         kt-empty,,Kontor,Kontor,1,\n",
    )
    .await;
    let name = file.display();
    assert_eq!(total, 5);
    assert_eq!(
        shown,
        [
            format!("{name}:3: payment_provider_name: provider \"DummyPayment\" is named \"Dummy Payment\" on line 2"),
            format!("{name}:4: is_active: \"maybe\" is not a boolean (use 1 or 0)"),
            format!("{name}:5: priority: \"first\" is not a whole number"),
            format!(
                "{name}:6: payment_method_key: payment method \"kt-new\" appears twice in the file (first on line 2)"
            ),
            format!("{name}:7: payment_method_name: must not be empty"),
        ]
    );

    let (file, _, shown) = problems(
        &db,
        root,
        "payment-method-store",
        "bad/payment_method_store.csv",
        "payment_method_key,store\nkt-card,AT\nkt-inovice,DE\n",
    )
    .await;
    assert_eq!(
        shown,
        [format!(
            "{}:3: payment_method_key: payment method \"kt-inovice\" is unknown (did you mean \"kt-invoice\"?)",
            file.display()
        )]
    );

    // All or nothing: the good rows of the bad files were not written either.
    assert_eq!(tables(&db).await, stored);

    // Header problems stop a file before any row: Spryker's pre-2018 `shipment.csv` had no key.
    let old = write(
        root,
        "bad/old_shipment.csv",
        "name,price,carrier,taxSetName\nStandard,490,Kontor Post,Outerwear Std\n",
    );
    let error = importer(&db).run_file("shipment", &old).await.expect_err("old header");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: required column \"shipment_method_key\" is missing; unknown column \"price\"",
            old.display()
        )
    );
    let count = shipment_method::Entity::find()
        .count(db.connection())
        .await
        .expect("count");
    assert_eq!(count, 2);
}

repo_test_suite!(
    methods_import_and_reimport_changes_nothing,
    bad_rows_name_file_line_and_column_and_import_nothing,
);
