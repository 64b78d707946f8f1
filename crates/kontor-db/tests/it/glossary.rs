//! Glossary keys: translations per locale, replaced on update, unknown locales named by pointer.

use crate::fixtures::*;
use kontor_core::PageRequest;
use kontor_db::SqlDatabase;
use kontor_domain::glossary::GlossaryKeyAttributes;
use kontor_domain::{DomainError, ListQuery, ResourceRepository};
use kontor_testkit::repo_test_suite;
use std::collections::BTreeMap;

fn glossary_key(key: &str, translations: &[(&str, &str)]) -> GlossaryKeyAttributes {
    GlossaryKeyAttributes {
        key: key.to_owned(),
        translations: translations
            .iter()
            .map(|(name, text)| (locale(name), (*text).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

async fn glossary_keys_round_trip_and_replace_translations(db: SqlDatabase) {
    base_shop(&db).await;
    let mark = outbox_mark(&db).await;
    let created = create(
        &db,
        glossary_key(
            "cart.add-to-cart",
            &[("de_DE", "In den Warenkorb"), ("en_US", "Add to cart")],
        ),
    )
    .await;
    let read = ResourceRepository::<GlossaryKeyAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);
    assert_eq!(read.attributes.translations[&locale("de_DE")], "In den Warenkorb");

    let changed = glossary_key("cart.add-to-cart", &[("en_US", "Add to basket")]);
    let updated = ResourceRepository::<GlossaryKeyAttributes>::update(&db, created.id, &valid(changed.clone()))
        .await
        .expect("update");
    assert_eq!(
        updated.attributes, changed,
        "the German text is gone, the English one replaced"
    );
    let id = created.id.0;
    assert_eq!(
        outbox_since(&db, mark).await,
        [
            ("glossary_key".to_owned(), id, "create".to_owned()),
            ("glossary_key".to_owned(), id, "update".to_owned())
        ]
    );

    ResourceRepository::<GlossaryKeyAttributes>::delete(&db, created.id)
        .await
        .expect("delete");
    let missing = ResourceRepository::<GlossaryKeyAttributes>::get(&db, created.id)
        .await
        .expect_err("gone");
    assert!(matches!(missing, DomainError::NotFound { .. }), "{missing:?}");
}

async fn unknown_locales_are_named_by_pointer_and_nothing_is_written(db: SqlDatabase) {
    base_shop(&db).await;
    let mark = outbox_mark(&db).await;
    let attributes = glossary_key(
        "cart.title",
        &[("de_DE", "Warenkorb"), ("fr_FR", "Panier"), ("xx_XX", "?")],
    );
    let error = ResourceRepository::<GlossaryKeyAttributes>::create(&db, &valid(attributes))
        .await
        .expect_err("rejected");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/translations/fr_FR", "/translations/xx_XX"]);
    assert!(fields[0].detail.contains("fr_FR"), "{}", fields[0].detail);
    assert!(outbox_since(&db, mark).await.is_empty());
    let keys = ResourceRepository::<GlossaryKeyAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(keys.total, 0);
}

async fn duplicate_glossary_keys_conflict_on_key(db: SqlDatabase) {
    base_shop(&db).await;
    create(&db, glossary_key("cart.title", &[("de_DE", "Warenkorb")])).await;
    let mark = outbox_mark(&db).await;
    let error = ResourceRepository::<GlossaryKeyAttributes>::create(&db, &valid(glossary_key("cart.title", &[])))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/key"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty());
}

async fn glossary_lists_page_and_filter_by_key(db: SqlDatabase) {
    base_shop(&db).await;
    for key in [
        "cart.title",
        "cart.add-to-cart",
        "checkout.title",
        "global.search",
        "cart_total",
    ] {
        create(&db, glossary_key(key, &[("en_US", key)])).await;
    }
    let page = ResourceRepository::<GlossaryKeyAttributes>::list(
        &db,
        &ListQuery {
            page: PageRequest::new(1, 2),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(page.total, 5);
    let keys: Vec<&str> = page.items.iter().map(|record| record.attributes.key.as_str()).collect();
    assert_eq!(keys, ["cart.add-to-cart", "checkout.title"]);
    assert_eq!(
        page.items[0].attributes.translations[&locale("en_US")],
        "cart.add-to-cart"
    );

    let filtered = ResourceRepository::<GlossaryKeyAttributes>::list(
        &db,
        &ListQuery {
            name: Some("CART.".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    let keys: Vec<&str> = filtered
        .items
        .iter()
        .map(|record| record.attributes.key.as_str())
        .collect();
    assert_eq!(keys, ["cart.title", "cart.add-to-cart"]);
    let literal = ResourceRepository::<GlossaryKeyAttributes>::list(
        &db,
        &ListQuery {
            name: Some("t_t".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(literal.total, 1, "_ is matched literally");
}

repo_test_suite!(
    glossary_keys_round_trip_and_replace_translations,
    unknown_locales_are_named_by_pointer_and_nothing_is_written,
    duplicate_glossary_keys_conflict_on_key,
    glossary_lists_page_and_filter_by_key,
);
