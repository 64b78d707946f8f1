//! Warehouses (with the stores they deliver to) and stock per concrete product × warehouse.

use crate::fixtures::*;
use crate::pricing::insert_product;
use kontor_core::{PageRequest, Sku};
use kontor_db::SqlDatabase;
use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
use kontor_domain::store::StoreAttributes;
use kontor_domain::{DomainError, ListQuery, ResourceRepository, Valid};
use kontor_testkit::repo_test_suite;

fn warehouse(name: &str, stores: &[&str]) -> WarehouseAttributes {
    WarehouseAttributes {
        name: name.to_owned(),
        is_active: true,
        stores: stores.iter().map(|name| store_name(name)).collect(),
    }
}

fn stock(sku: &str, warehouse: &str, quantity: i64) -> StockAttributes {
    StockAttributes {
        sku: Sku::parse(sku).expect("valid sku"),
        warehouse: warehouse.to_owned(),
        quantity,
        is_never_out_of_stock: false,
    }
}

/// Store AT next to the base shop's DE, for warehouses serving several stores.
async fn shop_with_two_stores(db: &SqlDatabase) {
    let de = base_shop(db).await;
    create(
        db,
        StoreAttributes {
            name: store_name("AT"),
            timezone: "Europe/Vienna".to_owned(),
            ..de.attributes
        },
    )
    .await;
}

async fn warehouses_round_trip_and_replace_their_stores(db: SqlDatabase) {
    shop_with_two_stores(&db).await;
    let mark = outbox_mark(&db).await;
    let created = create(&db, warehouse("Warehouse1", &["DE", "AT"])).await;
    assert_eq!(
        created.attributes.stores,
        [store_name("AT"), store_name("DE")],
        "stores read back sorted by name"
    );
    let read = ResourceRepository::<WarehouseAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);

    let changed = WarehouseAttributes {
        is_active: false,
        ..warehouse("Warehouse1", &["DE"])
    };
    let updated = ResourceRepository::<WarehouseAttributes>::update(&db, created.id, &valid(changed.clone()))
        .await
        .expect("update");
    assert_eq!(updated.attributes, changed);
    let id = created.id.0;
    assert_eq!(
        outbox_since(&db, mark).await,
        [
            ("warehouse".to_owned(), id, "create".to_owned()),
            ("warehouse".to_owned(), id, "update".to_owned())
        ]
    );
}

async fn unknown_stores_are_named_by_index_and_nothing_is_written(db: SqlDatabase) {
    base_shop(&db).await;
    let mark = outbox_mark(&db).await;
    let error =
        ResourceRepository::<WarehouseAttributes>::create(&db, &valid(warehouse("Warehouse1", &["DE", "AT", "CH"])))
            .await
            .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/stores/1", "/stores/2"]);
    assert!(fields[0].detail.contains("AT"), "{}", fields[0].detail);
    assert!(outbox_since(&db, mark).await.is_empty());
    let warehouses = ResourceRepository::<WarehouseAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(warehouses.total, 0);
}

async fn duplicate_warehouse_names_conflict_and_lists_filter_by_name(db: SqlDatabase) {
    base_shop(&db).await;
    for name in ["Warehouse1", "Warehouse2", "Outlet Berlin", "warehouse-zurich"] {
        create(&db, warehouse(name, &["DE"])).await;
    }
    let mark = outbox_mark(&db).await;
    let error = ResourceRepository::<WarehouseAttributes>::create(&db, &valid(warehouse("Warehouse1", &[])))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/name"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty());

    let filtered = ResourceRepository::<WarehouseAttributes>::list(
        &db,
        &ListQuery {
            name: Some("WAREHOUSE".into()),
            page: PageRequest::new(1, 5),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(filtered.total, 3);
    let names: Vec<&str> = filtered
        .items
        .iter()
        .map(|record| record.attributes.name.as_str())
        .collect();
    assert_eq!(names, ["Warehouse2", "warehouse-zurich"]);
    assert_eq!(filtered.items[0].attributes.stores, [store_name("DE")]);
}

async fn stock_round_trips_per_concrete_and_warehouse(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &["001_1"]).await;
    create(&db, warehouse("Warehouse1", &["DE"])).await;
    create(&db, warehouse("Warehouse2", &["DE"])).await;
    let mark = outbox_mark(&db).await;
    let created = create(&db, stock("001_1", "Warehouse1", 10)).await;
    let read = ResourceRepository::<StockAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);
    // The same product in another warehouse is another row.
    create(
        &db,
        StockAttributes {
            is_never_out_of_stock: true,
            ..stock("001_1", "Warehouse2", 0)
        },
    )
    .await;

    let updated =
        ResourceRepository::<StockAttributes>::update(&db, created.id, &valid(stock("001_1", "Warehouse1", 7)))
            .await
            .expect("update");
    assert_eq!(updated.attributes.quantity, 7);
    let events: Vec<(String, String)> = outbox_since(&db, mark)
        .await
        .into_iter()
        .map(|(resource, _, event)| (resource, event))
        .collect();
    assert_eq!(
        events,
        [
            ("stock_product".to_owned(), "create".to_owned()),
            ("stock_product".to_owned(), "create".to_owned()),
            ("stock_product".to_owned(), "update".to_owned()),
        ]
    );
}

async fn stock_with_unknown_references_or_twice_is_rejected(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &["001_1"]).await;
    create(&db, warehouse("Warehouse1", &["DE"])).await;
    create(&db, stock("001_1", "Warehouse1", 10)).await;
    let mark = outbox_mark(&db).await;

    // The abstract SKU is not a concrete product.
    let error = ResourceRepository::<StockAttributes>::create(&db, &valid(stock("001", "Nowhere", 1)))
        .await
        .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/sku", "/warehouse"]);

    let error = ResourceRepository::<StockAttributes>::create(&db, &valid(stock("001_1", "Warehouse1", 3)))
        .await
        .expect_err("duplicate");
    let DomainError::Conflict { pointer, detail } = &error else {
        panic!("expected a conflict, got {error:?}")
    };
    assert_eq!(pointer, "/warehouse");
    assert!(detail.contains("001_1") && detail.contains("Warehouse1"), "{detail}");

    let error = Valid::new(stock("001_1", "Warehouse1", -1)).expect_err("negative");
    assert!(
        matches!(&error, DomainError::Validation(fields) if fields[0].pointer == "/quantity"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty());
}

async fn stock_lists_filter_by_concrete_sku_and_keep_warehouses_in_use(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &["001_1", "001_2"]).await;
    insert_product(&db, "002", &["002_1"]).await;
    let warehouse_one = create(&db, warehouse("Warehouse1", &["DE"])).await;
    for (sku, quantity) in [("001_1", 1), ("001_2", 2), ("002_1", 3)] {
        create(&db, stock(sku, "Warehouse1", quantity)).await;
    }
    let page = ResourceRepository::<StockAttributes>::list(
        &db,
        &ListQuery {
            page: PageRequest::new(1, 1),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(page.total, 3);
    assert_eq!(page.items[0].attributes.sku.as_str(), "001_2");
    let by_sku = |prefix: &str| ListQuery {
        sku: Some(prefix.to_owned()),
        ..ListQuery::default()
    };
    let filtered = ResourceRepository::<StockAttributes>::list(&db, &by_sku("001_"))
        .await
        .expect("list");
    let quantities: Vec<i64> = filtered.items.iter().map(|record| record.attributes.quantity).collect();
    assert_eq!(quantities, [1, 2]);
    let none = ResourceRepository::<StockAttributes>::list(&db, &by_sku("_"))
        .await
        .expect("list");
    assert_eq!(none.total, 0, "_ is matched literally");

    let error = ResourceRepository::<WarehouseAttributes>::delete(&db, warehouse_one.id)
        .await
        .expect_err("in use");
    assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
}

repo_test_suite!(
    warehouses_round_trip_and_replace_their_stores,
    unknown_stores_are_named_by_index_and_nothing_is_written,
    duplicate_warehouse_names_conflict_and_lists_filter_by_name,
    stock_round_trips_per_concrete_and_warehouse,
    stock_with_unknown_references_or_twice_is_rejected,
    stock_lists_filter_by_concrete_sku_and_keep_warehouses_in_use,
);
