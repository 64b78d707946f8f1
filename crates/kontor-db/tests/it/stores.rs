use crate::fixtures::*;
use kontor_core::PageRequest;
use kontor_db::SqlDatabase;
use kontor_domain::store::{LocaleAttributes, StoreAttributes};
use kontor_domain::{DomainError, ListQuery, ResourceRepository};
use kontor_testkit::repo_test_suite;

async fn stores_round_trip_with_locales_and_currencies(db: SqlDatabase) {
    let store = base_shop(&db).await;
    let read = ResourceRepository::<StoreAttributes>::get(&db, store.id)
        .await
        .expect("read back");
    assert_eq!(read, store);
    assert_eq!(read.attributes.locales, [locale("de_DE"), locale("en_US")]);
    assert_eq!(read.attributes.currencies, [currency("EUR"), currency("CHF")]);

    let mut changed = read.attributes.clone();
    changed.locales = vec![locale("en_US"), locale("de_DE")];
    changed.default_currency = currency("CHF");
    let mark = outbox_mark(&db).await;
    let updated = ResourceRepository::<StoreAttributes>::update(&db, store.id, &valid(changed))
        .await
        .expect("update");
    assert_eq!(updated.attributes.locales, [locale("en_US"), locale("de_DE")]);
    assert_eq!(updated.attributes.default_currency, currency("CHF"));
    assert_eq!(
        outbox_since(&db, mark).await,
        [("store".to_owned(), store.id.0, "update".to_owned())]
    );
}

async fn each_write_leaves_exactly_its_outbox_row(db: SqlDatabase) {
    let mark = outbox_mark(&db).await;
    let created = create(
        &db,
        LocaleAttributes {
            name: locale("fr_FR"),
            is_active: true,
        },
    )
    .await;
    ResourceRepository::<LocaleAttributes>::update(
        &db,
        created.id,
        &valid(LocaleAttributes {
            name: locale("fr_FR"),
            is_active: false,
        }),
    )
    .await
    .expect("update");
    ResourceRepository::<LocaleAttributes>::delete(&db, created.id)
        .await
        .expect("delete");
    let id = created.id.0;
    assert_eq!(
        outbox_since(&db, mark).await,
        [
            ("locale".to_owned(), id, "create".to_owned()),
            ("locale".to_owned(), id, "update".to_owned()),
            ("locale".to_owned(), id, "delete".to_owned()),
        ]
    );
}

async fn unknown_locale_names_the_field_and_writes_nothing(db: SqlDatabase) {
    base_shop(&db).await;
    let mark = outbox_mark(&db).await;
    let attributes = StoreAttributes {
        name: store_name("AT"),
        default_locale: locale("de_AT"),
        default_currency: currency("EUR"),
        locales: vec![locale("de_AT"), locale("xx_XX")],
        currencies: vec![currency("EUR"), currency("USD")],
        timezone: "Europe/Vienna".to_owned(),
    };
    let error = ResourceRepository::<StoreAttributes>::create(&db, &valid(attributes))
        .await
        .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        ["/defaultLocale", "/locales/0", "/locales/1", "/currencies/1"]
    );
    assert!(fields[0].detail.contains("de_AT"));
    assert!(outbox_since(&db, mark).await.is_empty());
    let stores = ResourceRepository::<StoreAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(stores.total, 1);
}

async fn duplicate_names_conflict_on_the_field(db: SqlDatabase) {
    base_shop(&db).await;
    let mark = outbox_mark(&db).await;
    let error = ResourceRepository::<LocaleAttributes>::create(
        &db,
        &valid(LocaleAttributes {
            name: locale("de_DE"),
            is_active: true,
        }),
    )
    .await
    .expect_err("duplicate");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/name"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty());
}

async fn referenced_records_cannot_be_deleted(db: SqlDatabase) {
    let store = base_shop(&db).await;
    let locales = ResourceRepository::<LocaleAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    let de = locales
        .items
        .iter()
        .find(|record| record.attributes.name.as_str() == "de_DE")
        .expect("de_DE")
        .id;
    let error = ResourceRepository::<LocaleAttributes>::delete(&db, de)
        .await
        .expect_err("in use");
    assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
    ResourceRepository::<StoreAttributes>::delete(&db, store.id)
        .await
        .expect("store goes");
    ResourceRepository::<LocaleAttributes>::delete(&db, de)
        .await
        .expect("now unused");
    let missing = ResourceRepository::<StoreAttributes>::get(&db, store.id)
        .await
        .expect_err("gone");
    assert!(matches!(missing, DomainError::NotFound { .. }));
}

async fn lists_page_and_filter(db: SqlDatabase) {
    for name in ["de_DE", "de_AT", "de_CH", "en_US", "fr_FR"] {
        create(
            &db,
            LocaleAttributes {
                name: locale(name),
                is_active: true,
            },
        )
        .await;
    }
    let page = ResourceRepository::<LocaleAttributes>::list(
        &db,
        &ListQuery {
            page: PageRequest::new(1, 2),
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
    assert_eq!(names, ["de_AT", "de_CH"]);
    let filtered = ResourceRepository::<LocaleAttributes>::list(
        &db,
        &ListQuery {
            name: Some("DE_".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(filtered.total, 3);
    let wildcard = ResourceRepository::<LocaleAttributes>::list(
        &db,
        &ListQuery {
            name: Some("%".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(wildcard.total, 0, "% is matched literally");
}

repo_test_suite!(
    stores_round_trip_with_locales_and_currencies,
    each_write_leaves_exactly_its_outbox_row,
    unknown_locale_names_the_field_and_writes_nothing,
    duplicate_names_conflict_on_the_field,
    referenced_records_cannot_be_deleted,
    lists_page_and_filter,
);
