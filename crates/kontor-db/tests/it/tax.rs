//! Tax sets: rates stored in basis points, replaced on update, names unique.

use crate::fixtures::*;
use kontor_core::PageRequest;
use kontor_db::SqlDatabase;
use kontor_db::entity::{product_abstract, tax_rate};
use kontor_domain::tax::{TaxRateAttributes, TaxSetAttributes};
use kontor_domain::{DomainError, ListQuery, ResourceRepository, Valid};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};

fn rate(country: &str, basis_points: i32) -> TaxRateAttributes {
    TaxRateAttributes::from_basis_points(country.to_owned(), format!("{country} Standard"), basis_points)
}

fn tax_set(name: &str, rates: Vec<TaxRateAttributes>) -> TaxSetAttributes {
    TaxSetAttributes {
        name: name.to_owned(),
        rates,
    }
}

async fn tax_sets_round_trip_in_basis_points(db: SqlDatabase) {
    let mark = outbox_mark(&db).await;
    // A client may send "7.5" and lower-case countries; they are normalised and stored exactly.
    let input: TaxSetAttributes = serde_json::from_value(serde_json::json!({
        "name": "Reduced",
        "rates": [
            { "country": "de", "name": "Germany Reduced", "rate": "7.5" },
            { "country": "AT", "name": "Austria Reduced", "rate": 10 },
        ],
    }))
    .expect("parses");
    let created = create(&db, input).await;
    assert_eq!(created.attributes.rates[0].country, "DE");
    assert_eq!(created.attributes.rates[0].rate.to_string(), "7.50");
    assert_eq!(created.attributes.rates[1].rate.to_string(), "10.00");
    let stored: Vec<(String, i32)> = tax_rate::Entity::find()
        .order_by_asc(tax_rate::Column::Id)
        .all(db.connection())
        .await
        .expect("rates")
        .into_iter()
        .map(|row| (row.country, row.rate_basis_points))
        .collect();
    assert_eq!(stored, [("DE".to_owned(), 750), ("AT".to_owned(), 1000)]);
    let read = ResourceRepository::<TaxSetAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);

    let changed = tax_set("Reduced", vec![rate("CH", 260)]);
    let updated = ResourceRepository::<TaxSetAttributes>::update(&db, created.id, &valid(changed.clone()))
        .await
        .expect("update");
    assert_eq!(updated.attributes, changed);
    assert_eq!(
        tax_rate::Entity::find()
            .all(db.connection())
            .await
            .expect("rates")
            .len(),
        1,
        "old rates are gone"
    );
    let id = created.id.0;
    assert_eq!(
        outbox_since(&db, mark).await,
        [
            ("tax_set".to_owned(), id, "create".to_owned()),
            ("tax_set".to_owned(), id, "update".to_owned())
        ]
    );
}

async fn invalid_rates_are_rejected_before_storage(db: SqlDatabase) {
    let error = Valid::new(tax_set(
        "Broken",
        vec![rate("DE", 10_100), rate("DEU", 1900), rate("AT", -1)],
    ))
    .expect_err("invalid");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/rates/0/rate", "/rates/1/country", "/rates/2/rate"]);
    let sets = ResourceRepository::<TaxSetAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(sets.total, 0);
}

async fn duplicate_tax_set_names_conflict_and_used_sets_stay(db: SqlDatabase) {
    let standard = create(&db, tax_set("Standard", vec![rate("DE", 1900)])).await;
    let mark = outbox_mark(&db).await;
    let error = ResourceRepository::<TaxSetAttributes>::create(&db, &valid(tax_set("Standard", vec![])))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/name"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty());

    product_abstract::ActiveModel {
        sku: Set("001".to_owned()),
        attributes: Set("{}".to_owned()),
        tax_set_id: Set(Some(standard.id.0)),
        created_at: Set(0),
        updated_at: Set(0),
        ..Default::default()
    }
    .insert(db.connection())
    .await
    .expect("product");
    let error = ResourceRepository::<TaxSetAttributes>::delete(&db, standard.id)
        .await
        .expect_err("in use");
    assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
}

async fn tax_set_lists_page_and_filter_by_name(db: SqlDatabase) {
    for name in ["Standard", "Reduced", "Zero", "Standard Food", "Export"] {
        create(&db, tax_set(name, vec![rate("DE", 1900)])).await;
    }
    let page = ResourceRepository::<TaxSetAttributes>::list(
        &db,
        &ListQuery {
            page: PageRequest::new(2, 2),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(page.total, 5);
    let names: Vec<&str> = page
        .items
        .iter()
        .map(|record| record.attributes.name.as_str())
        .collect();
    assert_eq!(names, ["Zero", "Standard Food"]);
    assert_eq!(page.items[0].attributes.rates, [rate("DE", 1900)]);
    let filtered = ResourceRepository::<TaxSetAttributes>::list(
        &db,
        &ListQuery {
            name: Some("standard".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    let names: Vec<&str> = filtered
        .items
        .iter()
        .map(|record| record.attributes.name.as_str())
        .collect();
    assert_eq!(names, ["Standard", "Standard Food"]);
}

repo_test_suite!(
    tax_sets_round_trip_in_basis_points,
    invalid_rates_are_rejected_before_storage,
    duplicate_tax_set_names_conflict_and_used_sets_stay,
    tax_set_lists_page_and_filter_by_name,
);
