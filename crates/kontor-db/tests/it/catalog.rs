//! Catalog repositories: attribute keys, abstract and concrete products, categories and assignments,
//! including reference checks, URLs with redirects, the category tree and list filters.

use crate::fixtures::*;
use kontor_core::{PageRequest, Sku};
use kontor_db::SqlDatabase;
use kontor_db::entity::{category_node, tax_set, url, url_redirect};
use kontor_domain::catalog::{
    AbstractLocalized, AttributeKeyAttributes, CategoryAttributes, CategoryLocalized, ConcreteLocalized,
    ProductAbstractAttributes, ProductCategoryAttributes, ProductConcreteAttributes,
};
use kontor_domain::{DomainError, ListQuery, Record, ResourceRepository};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::BTreeMap;

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("valid sku")
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn abstract_text(name: &str, url: Option<&str>) -> AbstractLocalized {
    AbstractLocalized {
        name: name.to_owned(),
        description: format!("{name} description"),
        meta_title: String::new(),
        meta_keywords: String::new(),
        meta_description: String::new(),
        attributes: BTreeMap::new(),
        url: url.map(str::to_owned),
    }
}

/// An abstract product in store DE with a German name; the URL is generated.
fn abstract_product(raw_sku: &str, german_name: &str) -> ProductAbstractAttributes {
    ProductAbstractAttributes {
        sku: sku(raw_sku),
        attributes: BTreeMap::new(),
        tax_set: None,
        stores: vec![store_name("DE")],
        localized_attributes: BTreeMap::from([(locale("de_DE"), abstract_text(german_name, None))]),
    }
}

fn concrete_product(raw_sku: &str, abstract_sku: &str, name: &str) -> ProductConcreteAttributes {
    ProductConcreteAttributes {
        sku: sku(raw_sku),
        abstract_sku: sku(abstract_sku),
        attributes: BTreeMap::new(),
        is_active: true,
        localized_attributes: BTreeMap::from([(
            locale("en_US"),
            ConcreteLocalized {
                name: name.to_owned(),
                description: String::new(),
                is_searchable: true,
                attributes: BTreeMap::new(),
            },
        )]),
    }
}

fn category(key: &str, parent: Option<&str>, german_name: &str) -> CategoryAttributes {
    CategoryAttributes {
        category_key: key.to_owned(),
        parent_category_key: parent.map(str::to_owned),
        is_active: true,
        sort_order: 0,
        stores: vec![store_name("DE")],
        localized_attributes: BTreeMap::from([(
            locale("de_DE"),
            CategoryLocalized {
                name: german_name.to_owned(),
                meta_title: String::new(),
                meta_description: String::new(),
                url: None,
            },
        )]),
    }
}

async fn attribute_key(db: &SqlDatabase, key: &str, is_super: bool) -> Record<AttributeKeyAttributes> {
    create(
        db,
        AttributeKeyAttributes {
            key: key.to_owned(),
            is_super,
        },
    )
    .await
}

/// Tax sets belong to another module; a row is all a product needs to reference one.
async fn tax_set_named(db: &SqlDatabase, name: &str) {
    tax_set::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(0),
        updated_at: Set(0),
        ..Default::default()
    }
    .insert(db.connection())
    .await
    .expect("tax set");
}

fn pointers(error: &DomainError) -> Vec<&str> {
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    fields.iter().map(|field| field.pointer.as_str()).collect()
}

fn assert_conflict(error: &DomainError, expected: &str) {
    assert!(
        matches!(error, DomainError::Conflict { pointer, .. } if pointer == expected),
        "{error:?}"
    );
}

async fn attribute_keys_round_trip_and_filter(db: SqlDatabase) {
    let color = attribute_key(&db, "color", false).await;
    attribute_key(&db, "storage_capacity", true).await;
    let read = ResourceRepository::<AttributeKeyAttributes>::get(&db, color.id)
        .await
        .expect("read back");
    assert_eq!(read, color);

    let mark = outbox_mark(&db).await;
    let changed = AttributeKeyAttributes {
        key: "colour".to_owned(),
        is_super: true,
    };
    let updated = ResourceRepository::<AttributeKeyAttributes>::update(&db, color.id, &valid(changed.clone()))
        .await
        .expect("update");
    assert_eq!(updated.attributes, changed);
    assert_eq!(
        outbox_since(&db, mark).await,
        [("product_attribute_key".to_owned(), color.id.0, "update".to_owned())]
    );

    let filtered = ResourceRepository::<AttributeKeyAttributes>::list(
        &db,
        &ListQuery {
            name: Some("CAPAC".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(filtered.total, 1);
    assert_eq!(filtered.items[0].attributes.key, "storage_capacity");

    let error = ResourceRepository::<AttributeKeyAttributes>::create(
        &db,
        &valid(AttributeKeyAttributes {
            key: "colour".to_owned(),
            is_super: false,
        }),
    )
    .await
    .expect_err("duplicate");
    assert_conflict(&error, "/key");

    ResourceRepository::<AttributeKeyAttributes>::delete(&db, color.id)
        .await
        .expect("delete");
    let missing = ResourceRepository::<AttributeKeyAttributes>::get(&db, color.id)
        .await
        .expect_err("gone");
    assert!(matches!(missing, DomainError::NotFound { .. }));
}

async fn abstract_products_round_trip_with_urls_stores_and_tax_set(db: SqlDatabase) {
    base_shop(&db).await;
    attribute_key(&db, "brand", false).await;
    attribute_key(&db, "color", true).await;
    tax_set_named(&db, "Standard").await;

    let mut attributes = abstract_product("001", "Canon IXUS 160");
    attributes.attributes = map(&[("brand", "Canon")]);
    attributes.tax_set = Some("Standard".to_owned());
    let mut english = abstract_text("Canon IXUS 160", Some("/en/canon-ixus"));
    english.attributes = map(&[("color", "red")]);
    attributes.localized_attributes.insert(locale("en_US"), english);

    let mark = outbox_mark(&db).await;
    let created = create(&db, attributes.clone()).await;
    let id = created.id.0;
    assert_eq!(
        outbox_since(&db, mark).await,
        [("product_abstract".to_owned(), id, "create".to_owned())]
    );
    let german = &created.attributes.localized_attributes[&locale("de_DE")];
    assert_eq!(
        german.url.as_deref(),
        Some(format!("/de/canon-ixus-160-{id}").as_str()),
        "generated URL"
    );
    assert_eq!(
        created.attributes.localized_attributes[&locale("en_US")].url.as_deref(),
        Some("/en/canon-ixus")
    );
    assert_eq!(created.attributes.tax_set.as_deref(), Some("Standard"));
    assert_eq!(created.attributes.stores, [store_name("DE")]);
    assert_eq!(created.attributes.attributes, map(&[("brand", "Canon")]));
    assert_eq!(
        created.attributes.localized_attributes[&locale("en_US")].attributes,
        map(&[("color", "red")])
    );
    let read = ResourceRepository::<ProductAbstractAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);

    // Replacing the texts and links: English goes, the tax set and stores are cleared.
    let mut changed = created.attributes.clone();
    changed.localized_attributes.remove(&locale("en_US"));
    changed.tax_set = None;
    changed.stores = Vec::new();
    changed.attributes = map(&[("brand", "Canon"), ("color", "black")]);
    let updated = ResourceRepository::<ProductAbstractAttributes>::update(&db, created.id, &valid(changed.clone()))
        .await
        .expect("update");
    assert_eq!(updated.attributes, changed);
    let english_urls = url::Entity::find()
        .filter(url::Column::Url.eq("/en/canon-ixus"))
        .all(db.connection())
        .await
        .expect("urls");
    assert!(english_urls.is_empty(), "the URL of a dropped locale goes");

    ResourceRepository::<ProductAbstractAttributes>::delete(&db, created.id)
        .await
        .expect("delete");
    let left = url::Entity::find().all(db.connection()).await.expect("urls");
    assert!(left.is_empty(), "URLs go with their product: {left:?}");
}

async fn abstract_with_two_concretes(db: SqlDatabase) {
    base_shop(&db).await;
    attribute_key(&db, "color", true).await;
    let product = create(&db, abstract_product("001", "Kamera")).await;
    let mut red = concrete_product("001_red", "001", "Camera red");
    red.attributes = map(&[("color", "red")]);
    let red = create(&db, red).await;
    let mut black = concrete_product("001_black", "001", "Camera black");
    black.is_active = false;
    black
        .localized_attributes
        .get_mut(&locale("en_US"))
        .expect("en_US")
        .attributes = map(&[("color", "black")]);
    let black = create(&db, black).await;

    let read = ResourceRepository::<ProductConcreteAttributes>::get(&db, red.id)
        .await
        .expect("read back");
    assert_eq!(read, red);
    assert_eq!(read.attributes.abstract_sku, sku("001"));
    assert_eq!(read.attributes.attributes, map(&[("color", "red")]));
    let all = ResourceRepository::<ProductConcreteAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(all.items, [red.clone(), black.clone()]);

    let mark = outbox_mark(&db).await;
    let mut renamed = black.attributes.clone();
    renamed
        .localized_attributes
        .get_mut(&locale("en_US"))
        .expect("en_US")
        .name = "Camera noir".to_owned();
    renamed.localized_attributes.insert(
        locale("de_DE"),
        ConcreteLocalized {
            name: "Kamera schwarz".to_owned(),
            description: "d".to_owned(),
            is_searchable: false,
            attributes: BTreeMap::new(),
        },
    );
    let updated = ResourceRepository::<ProductConcreteAttributes>::update(&db, black.id, &valid(renamed.clone()))
        .await
        .expect("update");
    assert_eq!(updated.attributes, renamed);
    assert_eq!(
        outbox_since(&db, mark).await,
        [("product_concrete".to_owned(), black.id.0, "update".to_owned())]
    );

    let error = ResourceRepository::<ProductAbstractAttributes>::delete(&db, product.id)
        .await
        .expect_err("has variants");
    assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
    ResourceRepository::<ProductAbstractAttributes>::get(&db, product.id)
        .await
        .expect("still there");
    ResourceRepository::<ProductConcreteAttributes>::delete(&db, red.id)
        .await
        .expect("delete red");
    ResourceRepository::<ProductConcreteAttributes>::delete(&db, black.id)
        .await
        .expect("delete black");
    ResourceRepository::<ProductAbstractAttributes>::delete(&db, product.id)
        .await
        .expect("now without variants");
}

async fn unknown_references_are_named_and_nothing_is_written(db: SqlDatabase) {
    base_shop(&db).await;
    attribute_key(&db, "brand", false).await;
    let mark = outbox_mark(&db).await;

    let mut attributes = abstract_product("001", "Kamera");
    attributes.tax_set = Some("Missing".to_owned());
    attributes.stores = vec![store_name("DE"), store_name("XX")];
    attributes.attributes = map(&[("brand", "Canon"), ("weight", "1kg")]);
    let mut french = abstract_text("Appareil", None);
    french.attributes = map(&[("lens", "zoom")]);
    attributes.localized_attributes.insert(locale("fr_FR"), french);
    let mut german = abstract_text("Kamera", None);
    german.attributes = map(&[("size", "s")]);
    attributes.localized_attributes.insert(locale("de_DE"), german);
    let error = ResourceRepository::<ProductAbstractAttributes>::create(&db, &valid(attributes))
        .await
        .expect_err("rejected");
    let mut found = pointers(&error);
    found.sort_unstable();
    assert_eq!(
        found,
        [
            "/attributes/weight",
            "/localizedAttributes/de_DE/attributes/size",
            "/localizedAttributes/fr_FR",
            "/localizedAttributes/fr_FR/attributes/lens",
            "/stores/1",
            "/taxSet",
        ]
    );

    let mut concrete = concrete_product("002_a", "002", "Missing abstract");
    concrete.attributes = map(&[("color", "red")]);
    concrete.localized_attributes.insert(
        locale("fr_FR"),
        ConcreteLocalized {
            name: "x".to_owned(),
            description: String::new(),
            is_searchable: true,
            attributes: BTreeMap::new(),
        },
    );
    let error = ResourceRepository::<ProductConcreteAttributes>::create(&db, &valid(concrete))
        .await
        .expect_err("rejected");
    let mut found = pointers(&error);
    found.sort_unstable();
    assert_eq!(
        found,
        ["/abstractSku", "/attributes/color", "/localizedAttributes/fr_FR"]
    );

    let error =
        ResourceRepository::<CategoryAttributes>::create(&db, &valid(category("cameras", Some("missing"), "Kameras")))
            .await
            .expect_err("rejected");
    assert_eq!(pointers(&error), ["/parentCategoryKey"]);
    let assignment = ProductCategoryAttributes {
        abstract_sku: sku("404"),
        category_key: "missing".to_owned(),
        sort_order: 0,
    };
    let error = ResourceRepository::<ProductCategoryAttributes>::create(&db, &valid(assignment))
        .await
        .expect_err("rejected");
    assert_eq!(pointers(&error), ["/abstractSku", "/categoryKey"]);

    assert!(outbox_since(&db, mark).await.is_empty());
    let products = ResourceRepository::<ProductAbstractAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(products.total, 0);
    assert!(url::Entity::find().all(db.connection()).await.expect("urls").is_empty());
}

async fn duplicate_skus_conflict_on_sku(db: SqlDatabase) {
    base_shop(&db).await;
    create(&db, abstract_product("001", "Kamera")).await;
    create(&db, concrete_product("001_1", "001", "Camera")).await;
    let mark = outbox_mark(&db).await;
    let error =
        ResourceRepository::<ProductAbstractAttributes>::create(&db, &valid(abstract_product("001", "Andere Kamera")))
            .await
            .expect_err("duplicate");
    assert_conflict(&error, "/sku");
    let error =
        ResourceRepository::<ProductConcreteAttributes>::create(&db, &valid(concrete_product("001_1", "001", "Again")))
            .await
            .expect_err("duplicate");
    assert_conflict(&error, "/sku");
    assert!(outbox_since(&db, mark).await.is_empty());
}

async fn urls_conflict_and_leave_redirects(db: SqlDatabase) {
    base_shop(&db).await;
    let mut first = abstract_product("001", "Kamera");
    first.localized_attributes.get_mut(&locale("de_DE")).expect("de_DE").url = Some("/de/kamera".to_owned());
    let first = create(&db, first).await;

    // Another product, and a category, cannot take the URL; nothing of them is stored.
    let mark = outbox_mark(&db).await;
    let mut second = abstract_product("002", "Zweite Kamera");
    second
        .localized_attributes
        .get_mut(&locale("de_DE"))
        .expect("de_DE")
        .url = Some("/de/kamera".to_owned());
    let error = ResourceRepository::<ProductAbstractAttributes>::create(&db, &valid(second.clone()))
        .await
        .expect_err("taken");
    assert_conflict(&error, "/localizedAttributes/de_DE/url");
    let mut cameras = category("cameras", None, "Kameras");
    cameras
        .localized_attributes
        .get_mut(&locale("de_DE"))
        .expect("de_DE")
        .url = Some("/de/kamera".to_owned());
    let error = ResourceRepository::<CategoryAttributes>::create(&db, &valid(cameras))
        .await
        .expect_err("taken");
    assert_conflict(&error, "/localizedAttributes/de_DE/url");
    assert!(outbox_since(&db, mark).await.is_empty());
    let products = ResourceRepository::<ProductAbstractAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(products.total, 1);

    // Saving the product unchanged keeps its URL; changing it leaves a 301 from the old one.
    ResourceRepository::<ProductAbstractAttributes>::update(&db, first.id, &valid(first.attributes.clone()))
        .await
        .expect("same URL");
    let mut moved = first.attributes.clone();
    moved.localized_attributes.get_mut(&locale("de_DE")).expect("de_DE").url = Some("/de/neue-kamera".to_owned());
    let updated = ResourceRepository::<ProductAbstractAttributes>::update(&db, first.id, &valid(moved))
        .await
        .expect("move");
    assert_eq!(
        updated.attributes.localized_attributes[&locale("de_DE")].url.as_deref(),
        Some("/de/neue-kamera")
    );
    let old = url::Entity::find()
        .filter(url::Column::Url.eq("/de/kamera"))
        .one(db.connection())
        .await
        .expect("query");
    let old = old.expect("old URL kept");
    assert_eq!((old.product_abstract_id, old.category_node_id), (None, None));
    let redirect = url_redirect::Entity::find_by_id(old.url_redirect_id.expect("a redirect"))
        .one(db.connection())
        .await
        .expect("query")
        .expect("redirect row");
    assert_eq!(
        (redirect.to_url.as_str(), redirect.status_code),
        ("/de/neue-kamera", 301)
    );

    // A second move repoints the first redirect, so there are no chains.
    let mut moved_again = updated.attributes.clone();
    moved_again
        .localized_attributes
        .get_mut(&locale("de_DE"))
        .expect("de_DE")
        .url = Some("/de/beste-kamera".to_owned());
    ResourceRepository::<ProductAbstractAttributes>::update(&db, first.id, &valid(moved_again))
        .await
        .expect("move again");
    let redirects = url_redirect::Entity::find()
        .all(db.connection())
        .await
        .expect("redirects");
    assert_eq!(redirects.len(), 2);
    assert!(
        redirects.iter().all(|redirect| redirect.to_url == "/de/beste-kamera"),
        "{redirects:?}"
    );

    // A URL that only redirects is free for a new page.
    let second = create(&db, second).await;
    assert_eq!(
        second.attributes.localized_attributes[&locale("de_DE")].url.as_deref(),
        Some("/de/kamera")
    );
    let remaining = url_redirect::Entity::find()
        .all(db.connection())
        .await
        .expect("redirects");
    assert_eq!(remaining.len(), 1);
}

async fn category_tree_keeps_parents_and_refuses_cycles(db: SqlDatabase) {
    base_shop(&db).await;
    let root = create(&db, category("cameras", None, "Kameras")).await;
    let mut child_attributes = category("compact", Some("cameras"), "Kompaktkameras");
    child_attributes.sort_order = 10;
    child_attributes.localized_attributes.insert(
        locale("en_US"),
        CategoryLocalized {
            name: "Compact cameras".to_owned(),
            meta_title: "t".to_owned(),
            meta_description: "d".to_owned(),
            url: None,
        },
    );
    let child = create(&db, child_attributes).await;
    let grandchild = create(&db, category("pocket", Some("compact"), "Taschenkameras")).await;

    assert_eq!(root.attributes.parent_category_key, None);
    assert_eq!(child.attributes.parent_category_key.as_deref(), Some("cameras"));
    assert_eq!(child.attributes.sort_order, 10);
    assert_eq!(child.attributes.stores, [store_name("DE")]);
    assert_eq!(
        child.attributes.localized_attributes[&locale("de_DE")].url.as_deref(),
        Some("/de/kompaktkameras")
    );
    assert_eq!(
        child.attributes.localized_attributes[&locale("en_US")].url.as_deref(),
        Some("/en/compact-cameras")
    );
    let read = ResourceRepository::<CategoryAttributes>::get(&db, child.id)
        .await
        .expect("read back");
    assert_eq!(read, child);
    let nodes = category_node::Entity::find().all(db.connection()).await.expect("nodes");
    assert_eq!(nodes.len(), 3);
    let root_node = nodes
        .iter()
        .find(|node| node.category_id == root.id.0)
        .expect("root node");
    let child_node = nodes
        .iter()
        .find(|node| node.category_id == child.id.0)
        .expect("child node");
    assert!(root_node.is_root && root_node.is_main && root_node.parent_node_id.is_none());
    assert!(!child_node.is_root && child_node.parent_node_id == Some(root_node.id));

    // Moving the root below its grandchild, or below itself under a new key, would close a cycle.
    let mark = outbox_mark(&db).await;
    let mut below_grandchild = root.attributes.clone();
    below_grandchild.parent_category_key = Some("pocket".to_owned());
    let error = ResourceRepository::<CategoryAttributes>::update(&db, root.id, &valid(below_grandchild))
        .await
        .expect_err("cycle");
    assert_eq!(pointers(&error), ["/parentCategoryKey"]);
    let mut below_itself = child.attributes.clone();
    below_itself.category_key = "compact-cameras".to_owned();
    below_itself.parent_category_key = Some("compact".to_owned());
    let error = ResourceRepository::<CategoryAttributes>::update(&db, child.id, &valid(below_itself))
        .await
        .expect_err("cycle");
    assert_eq!(pointers(&error), ["/parentCategoryKey"]);
    assert!(outbox_since(&db, mark).await.is_empty());

    // Moving the grandchild up to the root is fine, and keeps its node.
    let mut moved = grandchild.attributes.clone();
    moved.parent_category_key = Some("cameras".to_owned());
    let updated = ResourceRepository::<CategoryAttributes>::update(&db, grandchild.id, &valid(moved))
        .await
        .expect("move");
    assert_eq!(updated.attributes.parent_category_key.as_deref(), Some("cameras"));
    let mut made_root = updated.attributes.clone();
    made_root.parent_category_key = None;
    let updated = ResourceRepository::<CategoryAttributes>::update(&db, grandchild.id, &valid(made_root))
        .await
        .expect("root");
    assert_eq!(updated.attributes.parent_category_key, None);
    assert_eq!(
        category_node::Entity::find()
            .all(db.connection())
            .await
            .expect("nodes")
            .len(),
        3
    );

    let error = ResourceRepository::<CategoryAttributes>::delete(&db, root.id)
        .await
        .expect_err("has children");
    assert!(matches!(error, DomainError::Conflict { .. }), "{error:?}");
    ResourceRepository::<CategoryAttributes>::get(&db, root.id)
        .await
        .expect("still there");
    ResourceRepository::<CategoryAttributes>::delete(&db, child.id)
        .await
        .expect("leaf");
    ResourceRepository::<CategoryAttributes>::delete(&db, root.id)
        .await
        .expect("now a leaf");
}

async fn category_url_changes_leave_redirects(db: SqlDatabase) {
    base_shop(&db).await;
    let cameras = create(&db, category("cameras", None, "Kameras")).await;
    let mut renamed = cameras.attributes.clone();
    let german = renamed.localized_attributes.get_mut(&locale("de_DE")).expect("de_DE");
    german.name = "Fotokameras".to_owned();
    german.url = None;
    let updated = ResourceRepository::<CategoryAttributes>::update(&db, cameras.id, &valid(renamed))
        .await
        .expect("rename");
    assert_eq!(
        updated.attributes.localized_attributes[&locale("de_DE")].url.as_deref(),
        Some("/de/fotokameras")
    );
    let old = url::Entity::find()
        .filter(url::Column::Url.eq("/de/kameras"))
        .one(db.connection())
        .await
        .expect("query");
    assert!(old.is_some_and(|row| row.category_node_id.is_none() && row.url_redirect_id.is_some()));
    let error = ResourceRepository::<ProductAbstractAttributes>::create(
        &db,
        &valid({
            let mut product = abstract_product("001", "Kamera");
            product
                .localized_attributes
                .get_mut(&locale("de_DE"))
                .expect("de_DE")
                .url = Some("/de/fotokameras".to_owned());
            product
        }),
    )
    .await
    .expect_err("taken by the category");
    assert_conflict(&error, "/localizedAttributes/de_DE/url");
}

async fn product_categories_assign_once(db: SqlDatabase) {
    base_shop(&db).await;
    create(&db, abstract_product("001", "Kamera")).await;
    create(&db, abstract_product("101", "Objektiv")).await;
    create(&db, category("cameras", None, "Kameras")).await;
    create(&db, category("lenses", None, "Objektive")).await;
    let assignment = ProductCategoryAttributes {
        abstract_sku: sku("001"),
        category_key: "cameras".to_owned(),
        sort_order: 5,
    };
    let mark = outbox_mark(&db).await;
    let created = create(&db, assignment.clone()).await;
    assert_eq!(created.attributes, assignment);
    assert_eq!(
        outbox_since(&db, mark).await,
        [("product_category".to_owned(), created.id.0, "create".to_owned())]
    );
    let read = ResourceRepository::<ProductCategoryAttributes>::get(&db, created.id)
        .await
        .expect("read back");
    assert_eq!(read, created);

    let error = ResourceRepository::<ProductCategoryAttributes>::create(&db, &valid(assignment.clone()))
        .await
        .expect_err("twice");
    assert_conflict(&error, "/categoryKey");

    let moved = ProductCategoryAttributes {
        category_key: "lenses".to_owned(),
        sort_order: 1,
        ..assignment
    };
    let updated = ResourceRepository::<ProductCategoryAttributes>::update(&db, created.id, &valid(moved.clone()))
        .await
        .expect("update");
    assert_eq!(updated.attributes, moved);
    create(
        &db,
        ProductCategoryAttributes {
            abstract_sku: sku("101"),
            category_key: "lenses".to_owned(),
            sort_order: 0,
        },
    )
    .await;

    let filtered = ResourceRepository::<ProductCategoryAttributes>::list(
        &db,
        &ListQuery {
            sku: Some("10".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(filtered.total, 1);
    assert_eq!(filtered.items[0].attributes.abstract_sku, sku("101"));
    ResourceRepository::<ProductCategoryAttributes>::delete(&db, created.id)
        .await
        .expect("delete");
    let all = ResourceRepository::<ProductCategoryAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(all.total, 1);
}

async fn lists_page_and_filter_by_sku_and_name(db: SqlDatabase) {
    base_shop(&db).await;
    for (raw_sku, name) in [
        ("001", "Canon Kamera"),
        ("002", "Nikon Kamera"),
        ("010", "Sony Objektiv"),
        ("100", "Stativ"),
        ("1_0", "Tasche"),
    ] {
        let mut product = abstract_product(raw_sku, name);
        product
            .localized_attributes
            .insert(locale("en_US"), abstract_text(&format!("{name} EN"), None));
        create(&db, product).await;
        create(
            &db,
            concrete_product(&format!("{raw_sku}-1"), raw_sku, &format!("{name} Variant")),
        )
        .await;
    }
    let page = ResourceRepository::<ProductAbstractAttributes>::list(
        &db,
        &ListQuery {
            page: PageRequest::new(1, 2),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(page.total, 5);
    let skus: Vec<&str> = page.items.iter().map(|record| record.attributes.sku.as_str()).collect();
    assert_eq!(skus, ["002", "010"]);

    let by_sku = ResourceRepository::<ProductAbstractAttributes>::list(
        &db,
        &ListQuery {
            sku: Some("00".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    let skus: Vec<&str> = by_sku
        .items
        .iter()
        .map(|record| record.attributes.sku.as_str())
        .collect();
    assert_eq!(skus, ["001", "002"], "a prefix, not a substring");
    let literal = ResourceRepository::<ProductAbstractAttributes>::list(
        &db,
        &ListQuery {
            sku: Some("1_".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(literal.total, 1, "_ is matched literally");

    let by_name = ResourceRepository::<ProductAbstractAttributes>::list(
        &db,
        &ListQuery {
            name: Some("kAMERA".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(by_name.total, 2, "each product counts once although both locales match");
    let by_english_name = ResourceRepository::<ProductAbstractAttributes>::list(
        &db,
        &ListQuery {
            name: Some("STATIV en".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(by_english_name.total, 1);

    let concretes = ResourceRepository::<ProductConcreteAttributes>::list(
        &db,
        &ListQuery {
            sku: Some("0".into()),
            name: Some("variant".into()),
            page: PageRequest::new(0, 2),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(concretes.total, 3);
    let skus: Vec<&str> = concretes
        .items
        .iter()
        .map(|record| record.attributes.sku.as_str())
        .collect();
    assert_eq!(skus, ["001-1", "002-1"]);

    create(&db, category("cameras", None, "Kameras")).await;
    create(&db, category("lenses", None, "Objektive")).await;
    let by_key = ResourceRepository::<CategoryAttributes>::list(
        &db,
        &ListQuery {
            name: Some("LENS".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(by_key.total, 1);
    let by_name = ResourceRepository::<CategoryAttributes>::list(
        &db,
        &ListQuery {
            name: Some("kamera".into()),
            ..ListQuery::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(by_name.items[0].attributes.category_key, "cameras");
}

repo_test_suite!(
    attribute_keys_round_trip_and_filter,
    abstract_products_round_trip_with_urls_stores_and_tax_set,
    abstract_with_two_concretes,
    unknown_references_are_named_and_nothing_is_written,
    duplicate_skus_conflict_on_sku,
    urls_conflict_and_leave_redirects,
    category_tree_keeps_parents_and_refuses_cycles,
    category_url_changes_leave_redirects,
    product_categories_assign_once,
    lists_page_and_filter_by_sku_and_name,
);
