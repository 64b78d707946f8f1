//! Prices: one per product × price type × store × currency, references named by pointer, currencies
//! checked against the store, list filtered by SKU prefix.

use crate::fixtures::*;
use kontor_core::{PageRequest, Sku};
use kontor_db::SqlDatabase;
use kontor_db::entity::{price_product, price_type, product_abstract, product_concrete};
use kontor_domain::pricing::{PriceAttributes, VolumePrice};
use kontor_domain::store::{CurrencyAttributes, StoreAttributes};
use kontor_domain::{DomainError, ListQuery, ResourceRepository, Valid};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// Inserts an abstract product and its concretes straight through the entities, so these tests do
/// not depend on the catalog repository. Returns the abstract id and the concrete ids.
pub async fn insert_product(db: &SqlDatabase, abstract_sku: &str, concrete_skus: &[&str]) -> (i64, Vec<i64>) {
    let product = product_abstract::ActiveModel {
        sku: Set(abstract_sku.to_owned()),
        attributes: Set("{}".to_owned()),
        tax_set_id: Set(None),
        created_at: Set(0),
        updated_at: Set(0),
        ..Default::default()
    }
    .insert(db.connection())
    .await
    .expect("abstract product");
    let mut concrete_ids = Vec::new();
    for sku in concrete_skus {
        let concrete = product_concrete::ActiveModel {
            sku: Set((*sku).to_owned()),
            product_abstract_id: Set(product.id),
            attributes: Set("{}".to_owned()),
            is_active: Set(true),
            created_at: Set(0),
            updated_at: Set(0),
            ..Default::default()
        }
        .insert(db.connection())
        .await
        .expect("concrete product");
        concrete_ids.push(concrete.id);
    }
    (product.id, concrete_ids)
}

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("valid sku")
}

/// A gross EUR price in store DE of the default type for an abstract product.
fn abstract_price(abstract_sku: &str, gross: i64) -> PriceAttributes {
    PriceAttributes {
        abstract_sku: Some(sku(abstract_sku)),
        concrete_sku: None,
        price_type: "DEFAULT".to_owned(),
        store: store_name("DE"),
        currency: currency("EUR"),
        net_amount: None,
        gross_amount: Some(gross),
        volume_prices: Vec::new(),
    }
}

fn concrete_price(concrete_sku: &str, gross: i64) -> PriceAttributes {
    PriceAttributes {
        abstract_sku: None,
        concrete_sku: Some(sku(concrete_sku)),
        ..abstract_price("x", gross)
    }
}

async fn price_type_id(db: &SqlDatabase, name: &str) -> i64 {
    price_type::Entity::find()
        .filter(price_type::Column::Name.eq(name))
        .one(db.connection())
        .await
        .expect("price types")
        .expect("seeded")
        .id
}

async fn prices_round_trip_with_their_natural_key(db: SqlDatabase) {
    let store = base_shop(&db).await;
    let (abstract_id, concrete_ids) = insert_product(&db, "001", &["001_1"]).await;
    let mark = outbox_mark(&db).await;
    let created = create(
        &db,
        PriceAttributes {
            net_amount: Some(8403),
            // Given in any order, kept ascending by quantity.
            volume_prices: vec![
                VolumePrice {
                    quantity: 10,
                    net_amount: Some(7500),
                    gross_amount: Some(8925),
                },
                VolumePrice {
                    quantity: 5,
                    net_amount: None,
                    gross_amount: Some(9499),
                },
            ],
            ..abstract_price("001", 9999)
        },
    )
    .await;
    assert_eq!(created.attributes.net_amount, Some(8403));
    assert_eq!(
        created
            .attributes
            .volume_prices
            .iter()
            .map(|price| price.quantity)
            .collect::<Vec<_>>(),
        [5, 10]
    );
    let read = ResourceRepository::<PriceAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);

    // Lower-case price types are normalised; the concrete price has only a net amount.
    let concrete = create(
        &db,
        PriceAttributes {
            price_type: "original".to_owned(),
            currency: currency("CHF"),
            net_amount: Some(100),
            gross_amount: None,
            ..concrete_price("001_1", 0)
        },
    )
    .await;
    assert_eq!(concrete.attributes.price_type, "ORIGINAL");
    assert_eq!(concrete.attributes.gross_amount, None);
    assert_eq!(concrete.attributes.abstract_sku, None);

    let rows = price_product::Entity::find()
        .order_by_asc(price_product::Column::Id)
        .all(db.connection())
        .await
        .expect("rows");
    let keys: Vec<&str> = rows.iter().map(|row| row.price_key.as_str()).collect();
    let default_type = price_type_id(&db, "DEFAULT").await;
    let original_type = price_type_id(&db, "ORIGINAL").await;
    let eur = rows[0].currency_id;
    let chf = rows[1].currency_id;
    let store_id = store.id.0;
    assert_eq!(
        keys,
        [
            format!("a{abstract_id}:{default_type}:{store_id}:{eur}"),
            format!("c{}:{original_type}:{store_id}:{chf}", concrete_ids[0]),
        ]
    );

    let updated = ResourceRepository::<PriceAttributes>::update(&db, created.id, &valid(abstract_price("001", 8999)))
        .await
        .expect("update");
    assert_eq!(updated.attributes.gross_amount, Some(8999));
    assert_eq!(updated.attributes.net_amount, None);
    assert_eq!(
        outbox_since(&db, mark).await,
        [
            ("price_product".to_owned(), created.id.0, "create".to_owned()),
            ("price_product".to_owned(), concrete.id.0, "create".to_owned()),
            ("price_product".to_owned(), created.id.0, "update".to_owned()),
        ]
    );
}

async fn unknown_references_are_named_by_pointer_and_nothing_is_written(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &["001_1"]).await;
    let mark = outbox_mark(&db).await;
    let attributes = PriceAttributes {
        price_type: "SALE".to_owned(),
        store: store_name("AT"),
        currency: currency("USD"),
        ..abstract_price("404", 100)
    };
    let error = ResourceRepository::<PriceAttributes>::create(&db, &valid(attributes))
        .await
        .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/abstractSku", "/priceType", "/store", "/currency"]);
    assert!(fields[0].detail.contains("404"), "{}", fields[0].detail);

    // A concrete SKU is looked up among concrete products only.
    let error = ResourceRepository::<PriceAttributes>::create(&db, &valid(concrete_price("001", 100)))
        .await
        .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/concreteSku"]);

    assert!(outbox_since(&db, mark).await.is_empty());
    assert!(
        price_product::Entity::find()
            .all(db.connection())
            .await
            .expect("rows")
            .is_empty()
    );
}

async fn a_currency_the_store_does_not_sell_in_is_rejected(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &[]).await;
    create(
        &db,
        CurrencyAttributes {
            code: currency("USD"),
            name: "US Dollar".to_owned(),
            fraction_digits: 2,
        },
    )
    .await;
    let mark = outbox_mark(&db).await;
    let attributes = PriceAttributes {
        currency: currency("USD"),
        ..abstract_price("001", 100)
    };
    let error = ResourceRepository::<PriceAttributes>::create(&db, &valid(attributes))
        .await
        .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].pointer, "/currency");
    assert!(
        fields[0].detail.contains("does not sell in USD"),
        "{}",
        fields[0].detail
    );
    assert!(outbox_since(&db, mark).await.is_empty());
}

async fn a_second_price_for_the_same_key_conflicts(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &["001_1"]).await;
    let first = create(&db, abstract_price("001", 100)).await;
    // Other type, other currency and the concrete product are different keys.
    create(
        &db,
        PriceAttributes {
            price_type: "ORIGINAL".to_owned(),
            ..abstract_price("001", 120)
        },
    )
    .await;
    let chf = create(
        &db,
        PriceAttributes {
            currency: currency("CHF"),
            ..abstract_price("001", 110)
        },
    )
    .await;
    create(&db, concrete_price("001_1", 100)).await;

    let mark = outbox_mark(&db).await;
    let error = ResourceRepository::<PriceAttributes>::create(&db, &valid(abstract_price("001", 200)))
        .await
        .expect_err("duplicate");
    let DomainError::Conflict { pointer, detail } = &error else {
        panic!("expected a conflict, got {error:?}")
    };
    assert_eq!(pointer, "/priceType");
    assert!(
        detail.contains("001") && detail.contains("DEFAULT") && detail.contains("EUR"),
        "{detail}"
    );

    // Moving the CHF price onto the EUR key conflicts too; rewriting a price onto its own key does not.
    let error = ResourceRepository::<PriceAttributes>::update(&db, chf.id, &valid(abstract_price("001", 110)))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/priceType"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty());
    ResourceRepository::<PriceAttributes>::update(&db, first.id, &valid(abstract_price("001", 300)))
        .await
        .expect("same key");
}

async fn negative_or_missing_amounts_are_rejected_by_validation(db: SqlDatabase) {
    let error = Valid::new(PriceAttributes {
        net_amount: Some(-1),
        ..abstract_price("001", -5)
    })
    .expect_err("invalid");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/netAmount", "/grossAmount"]);
    let error = Valid::new(PriceAttributes {
        gross_amount: None,
        ..abstract_price("001", 0)
    })
    .expect_err("invalid");
    assert!(matches!(error, DomainError::Validation(_)), "{error:?}");
    let both = PriceAttributes {
        concrete_sku: Some(sku("001_1")),
        ..abstract_price("001", 1)
    };
    assert!(Valid::new(both).is_err());
    let prices = ResourceRepository::<PriceAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(prices.total, 0);
}

async fn price_lists_page_and_filter_by_sku_prefix(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "001", &["001_1", "001_2"]).await;
    insert_product(&db, "002", &["002_1"]).await;
    insert_product(&db, "1001", &[]).await;
    for attributes in [
        abstract_price("001", 100),
        concrete_price("001_1", 101),
        concrete_price("001_2", 102),
        abstract_price("002", 200),
        concrete_price("002_1", 201),
        abstract_price("1001", 300),
    ] {
        create(&db, attributes).await;
    }
    let page = ResourceRepository::<PriceAttributes>::list(
        &db,
        &ListQuery {
            page: PageRequest::new(1, 3),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(page.total, 6);
    let amounts: Vec<Option<i64>> = page.items.iter().map(|record| record.attributes.gross_amount).collect();
    assert_eq!(amounts, [Some(101), Some(102), Some(200)]);

    let by_sku = |prefix: &str| ListQuery {
        sku: Some(prefix.to_owned()),
        ..ListQuery::default()
    };
    let filtered = ResourceRepository::<PriceAttributes>::list(&db, &by_sku("001"))
        .await
        .expect("list");
    let amounts: Vec<Option<i64>> = filtered
        .items
        .iter()
        .map(|record| record.attributes.gross_amount)
        .collect();
    assert_eq!(
        amounts,
        [Some(100), Some(101), Some(102)],
        "abstract and concrete SKUs, prefix only"
    );
    let concrete_only = ResourceRepository::<PriceAttributes>::list(&db, &by_sku("002_"))
        .await
        .expect("list");
    assert_eq!(concrete_only.total, 1);
    let wildcard = ResourceRepository::<PriceAttributes>::list(&db, &by_sku("%"))
        .await
        .expect("list");
    assert_eq!(wildcard.total, 0, "% is matched literally");
}

async fn deleting_a_store_with_prices_is_a_conflict(db: SqlDatabase) {
    let store = base_shop(&db).await;
    insert_product(&db, "001", &[]).await;
    create(&db, abstract_price("001", 100)).await;
    let error = ResourceRepository::<StoreAttributes>::delete(&db, store.id)
        .await
        .expect_err("in use");
    assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
}

repo_test_suite!(
    prices_round_trip_with_their_natural_key,
    unknown_references_are_named_by_pointer_and_nothing_is_written,
    a_currency_the_store_does_not_sell_in_is_rejected,
    a_second_price_for_the_same_key_conflicts,
    negative_or_missing_amounts_are_rejected_by_validation,
    price_lists_page_and_filter_by_sku_prefix,
    deleting_a_store_with_prices_is_a_conflict,
);
