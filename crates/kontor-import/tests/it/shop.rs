//! A recipe importing a small shop end to end, read back through the domain repositories, and
//! re-imported without any change.

use crate::fixtures::*;
use kontor_core::ids::{ProductAbstractId, ProductConcreteId};
use kontor_core::{LocaleName, StoreName};
use kontor_db::SqlDatabase;
use kontor_db::entity::{
    category, category_node, category_store, glossary_translation, outbox, price_product, product_abstract_localized,
    product_category, product_concrete, product_concrete_localized, stock_product, store, url, warehouse_store,
};
use kontor_domain::ResourceRepository;
use kontor_domain::catalog::{ProductAbstractAttributes, ProductConcreteAttributes};
use kontor_testkit::repo_test_suite;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn recipe_imports_a_small_shop(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = shop(dir.path());
    let summary = importer(&db).run_recipe(&recipe).await.expect("import");
    assert_eq!(summary.skipped, ["category-template"]);
    let counts: Vec<(&str, u64, u64)> = summary
        .data_sets
        .iter()
        .map(|set| (set.data_set.as_str(), set.rows_read, set.inserted))
        .collect();
    assert_eq!(counts[0], ("store", 2, 2));
    assert_eq!(
        counts.iter().find(|c| c.0 == "product-concrete"),
        Some(&("product-concrete", 3, 3))
    );
    assert_eq!(
        counts.iter().find(|c| c.0 == "product-image"),
        Some(&("product-image", 6, 6))
    );
    assert_eq!(
        counts.iter().find(|c| c.0 == "product-price"),
        Some(&("product-price", 4, 4))
    );
    assert_eq!(
        counts.iter().find(|c| c.0 == "product-stock"),
        Some(&("product-stock", 2, 2))
    );
    // Shipment and payment methods in Spryker's recipe order (prices before store links).
    let checkout: Vec<&(&str, u64, u64)> = counts
        .iter()
        .filter(|c| c.0.starts_with("shipment") || c.0.starts_with("payment"))
        .collect();
    assert_eq!(
        checkout,
        [
            &("shipment", 2, 2),
            &("shipment-price", 4, 4),
            &("payment-method", 2, 2),
            &("shipment-method-store", 3, 3),
            &("payment-method-store", 3, 3),
        ]
    );
    assert!(summary.data_sets.iter().all(|set| set.rejected == 0));

    // The product reads back through the Back Office repository.
    let id = abstract_id(&db, "200").await;
    let record = ResourceRepository::<ProductAbstractAttributes>::get(&db, ProductAbstractId::from(id))
        .await
        .expect("read back");
    let product = record.attributes;
    assert_eq!(product.tax_set.as_deref(), Some("Outerwear Std"));
    assert_eq!(product.attributes.get("material").map(String::as_str), Some("Nylon"));
    assert_eq!(product.attributes.get("brand").map(String::as_str), Some("Tarn"));
    let stores: Vec<&str> = product.stores.iter().map(StoreName::as_str).collect();
    assert_eq!(stores.len(), 2);
    let en = &product.localized_attributes[&LocaleName::parse("en_US").expect("locale")];
    assert_eq!(en.name, "Tarn Shell Jacket");
    assert_eq!(en.url.as_deref(), Some("/en/tarn-shell-jacket-200"));
    let de = &product.localized_attributes[&LocaleName::parse("de_DE").expect("locale")];
    assert_eq!(
        de.url.as_deref(),
        Some("/de/tarn-schalenjacke-200"),
        "generated from the name"
    );
    assert_eq!(de.attributes.get("material").map(String::as_str), Some("Nylon DE"));

    // Undeclared attribute key `brand` was created; the concretes read back too.
    let concretes = product_concrete::Entity::find()
        .filter(product_concrete::Column::ProductAbstractId.eq(id))
        .all(db.connection())
        .await
        .expect("concretes");
    assert_eq!(concretes.len(), 2);
    let red = concretes.iter().find(|row| row.sku == "200_red").expect("red");
    let concrete = ResourceRepository::<ProductConcreteAttributes>::get(&db, ProductConcreteId::from(red.id))
        .await
        .expect("concrete");
    assert_eq!(
        concrete.attributes.attributes.get("color").map(String::as_str),
        Some("Red")
    );
    assert_eq!(concrete.attributes.abstract_sku.as_str(), "200");
    let de_red = &concrete.attributes.localized_attributes[&LocaleName::parse("de_DE").expect("locale")];
    assert!(!de_red.is_searchable);

    // Categories: tree, URLs from the name path, product links, store links.
    let jackets = category::Entity::find()
        .filter(category::Column::CategoryKey.eq("jackets"))
        .one(db.connection())
        .await
        .expect("query")
        .expect("jackets");
    let node = category_node::Entity::find()
        .filter(category_node::Column::CategoryId.eq(jackets.id))
        .one(db.connection())
        .await
        .expect("query")
        .expect("node");
    assert!(node.parent_node_id.is_some());
    let mut urls: Vec<String> = url::Entity::find()
        .filter(url::Column::CategoryNodeId.eq(node.id))
        .all(db.connection())
        .await
        .expect("urls")
        .into_iter()
        .map(|row| row.url)
        .collect();
    urls.sort();
    assert_eq!(urls, ["/de/draussen/jacken", "/en/outdoor/jackets"]);
    assert_eq!(
        product_category::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        3
    );
    let jacket_stores = category_store::Entity::find()
        .filter(category_store::Column::CategoryId.eq(jackets.id))
        .count(db.connection())
        .await
        .expect("count");
    assert_eq!(jacket_stores, 1, "every store but the excluded AT");

    // Prices, stock, warehouses, glossary (last row wins), store defaults.
    let prices = price_product::Entity::find()
        .all(db.connection())
        .await
        .expect("prices");
    assert_eq!(prices.len(), 4);
    let jacket_price = prices
        .iter()
        .find(|price| price.product_abstract_id == Some(id) && price.gross_amount == Some(12900))
        .expect("the jacket's abstract price");
    assert_eq!(
        kontor_domain::pricing::decode_volume_prices(jacket_price.volume_prices.as_deref()),
        [kontor_domain::pricing::VolumePrice {
            quantity: 5,
            net_amount: Some(10840),
            gross_amount: Some(11900)
        }],
        "volume prices are kept with their price"
    );
    assert!(
        prices.iter().filter(|price| price.volume_prices.is_none()).count() == 3,
        "prices without volume prices store none"
    );
    assert_eq!(
        stock_product::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        warehouse_store::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        2
    );
    let translations: Vec<String> = glossary_translation::Entity::find()
        .all(db.connection())
        .await
        .expect("glossary")
        .into_iter()
        .map(|row| row.value)
        .collect();
    assert!(translations.contains(&"Basket".to_owned()) && !translations.contains(&"Cart".to_owned()));
    let de_store = store::Entity::find()
        .filter(store::Column::Name.eq("DE"))
        .one(db.connection())
        .await
        .expect("query")
        .expect("DE");
    let de_locale = kontor_db::entity::locale::Entity::find()
        .filter(kontor_db::entity::locale::Column::Name.eq("de_DE"))
        .one(db.connection())
        .await
        .expect("query")
        .expect("de_DE");
    assert_eq!(de_store.default_locale_id, de_locale.id);

    // One outbox row per changed entity, routed like the repositories route them.
    let rows = outbox::Entity::find().all(db.connection()).await.expect("outbox");
    let abstract_rows: Vec<&outbox::Model> = rows
        .iter()
        .filter(|row| row.resource == "product_abstract" && row.entity_id == id)
        .collect();
    assert!(abstract_rows.iter().all(|row| row.relayed_at.is_none()));
    let first = abstract_rows.first().expect("an abstract outbox row");
    assert_eq!(first.event, "Entity.product_abstract.create");
    assert!(first.foreign_keys.as_deref().unwrap_or("").contains("fk_url"));
    let price_row = rows
        .iter()
        .find(|row| {
            row.resource == "price_product"
                && row
                    .foreign_keys
                    .as_deref()
                    .unwrap_or("")
                    .contains("fk_price_product_abstract")
        })
        .expect("an abstract price row");
    assert_eq!(
        price_row.foreign_keys.as_deref(),
        Some(format!("{{\"fk_price_product_abstract\":[{id}],\"fk_product_abstract\":[{id}]}}").as_str())
    );
    let red_row = rows
        .iter()
        .find(|row| row.resource == "product_concrete" && row.entity_id == red.id)
        .expect("concrete row");
    assert_eq!(
        red_row.foreign_keys.as_deref(),
        Some(format!("{{\"fk_product_abstract\":[{id}]}}").as_str())
    );
    for resource in [
        "store",
        "locale",
        "currency",
        "glossary_key",
        "tax_set",
        "category",
        "product_attribute_key",
        "product_category",
        "warehouse",
        "stock_product",
        "product_image_set",
        "product_image",
    ] {
        assert!(
            rows.iter().any(|row| row.resource == resource),
            "an outbox row for {resource}"
        );
    }
    let mut seen = std::collections::HashSet::new();
    let batch_one: Vec<_> = rows.iter().filter(|row| row.resource == "price_product").collect();
    assert!(
        batch_one.iter().all(|row| seen.insert(row.entity_id)),
        "one row per price"
    );
}

async fn reimport_changes_nothing(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = shop(dir.path());
    importer(&db).run_recipe(&recipe).await.expect("first import");
    let before = outbox_count(&db).await;
    let summary = importer(&db).run_recipe(&recipe).await.expect("second import");
    for set in &summary.data_sets {
        assert_eq!(
            (set.data_set.as_str(), set.inserted, set.updated),
            (set.data_set.as_str(), 0, 0)
        );
        assert_eq!(set.unchanged, set.rows_read, "{}", set.data_set);
    }
    assert_eq!(outbox_count(&db).await, before, "no outbox rows on re-import");

    // A real change writes exactly the changed entity's row.
    write(
        dir.path(),
        "common/common/product_stock.csv",
        "concrete_sku,name,quantity,is_never_out_of_stock,is_bundle\n200_blue,North Hall,24,0,0\n200_red,South Hall,0,1,0\n",
    );
    let changed = importer(&db)
        .run_file("product-stock", &dir.path().join("common/common/product_stock.csv"))
        .await
        .expect("stock");
    assert_eq!((changed.updated, changed.unchanged), (1, 1));
    assert_eq!(outbox_count(&db).await, before + 1);
}

/// A second import that changes texts, a URL, category links and a variant, and adds a variant: the
/// bulk writers update what differs, insert what is new, and write an outbox row per changed entity.
async fn reimport_applies_changes_to_products(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = shop(dir.path());
    importer(&db).run_recipe(&recipe).await.expect("first import");
    let before = outbox_count(&db).await;
    let (tarn, moor) = (abstract_id(&db, "200").await, abstract_id(&db, "201").await);

    let abstracts = PRODUCT_ABSTRACT
        .replace(
            "jackets,10,200,Tarn Shell Jacket,Tarn Schalenjacke,/en/tarn-shell-jacket-200,",
            "outdoor,3,200,Tarn Shell Jacket II,Tarn Schalenjacke,/en/tarn-shell-jacket-ii,",
        )
        .replace("\"5,7\"", "\"5,8\"");
    let file = write(dir.path(), "common/common/product_abstract.csv", abstracts);
    let summary = importer(&db)
        .run_file("product-abstract", &file)
        .await
        .expect("abstracts");
    assert_eq!((summary.inserted, summary.rejected), (0, 0));
    assert_eq!(
        summary.updated, 2,
        "200 (texts, URL, category) and 201 (category order)"
    );

    let texts = product_abstract_localized::Entity::find()
        .filter(product_abstract_localized::Column::ProductAbstractId.eq(tarn))
        .all(db.connection())
        .await
        .expect("texts");
    let names: Vec<&str> = texts.iter().map(|text| text.name.as_str()).collect();
    assert!(
        names.contains(&"Tarn Shell Jacket II") && names.contains(&"Tarn Schalenjacke"),
        "{names:?}"
    );
    let urls: Vec<String> = url::Entity::find()
        .filter(url::Column::ProductAbstractId.eq(tarn))
        .all(db.connection())
        .await
        .expect("urls")
        .into_iter()
        .map(|row| row.url)
        .collect();
    assert!(urls.contains(&"/en/tarn-shell-jacket-ii".to_owned()), "{urls:?}");
    assert!(!urls.contains(&"/en/tarn-shell-jacket-200".to_owned()), "{urls:?}");
    let links = |owner: i64| {
        let db = db.clone();
        async move {
            let mut links: Vec<(String, i32)> = Vec::new();
            for link in product_category::Entity::find()
                .filter(product_category::Column::ProductAbstractId.eq(owner))
                .all(db.connection())
                .await
                .expect("links")
            {
                let key = category::Entity::find_by_id(link.category_id)
                    .one(db.connection())
                    .await
                    .expect("category")
                    .expect("category exists")
                    .category_key;
                links.push((key, link.sort_order));
            }
            links.sort();
            links
        }
    };
    assert_eq!(links(tarn).await, [("outdoor".to_owned(), 3)]);
    assert_eq!(
        links(moor).await,
        [("jackets".to_owned(), 5), ("outdoor".to_owned(), 8)]
    );
    let category_rows: Vec<String> = outbox::Entity::find()
        .filter(outbox::Column::Resource.eq("product_category"))
        .all(db.connection())
        .await
        .expect("outbox")
        .into_iter()
        .map(|row| row.event)
        .collect();
    assert!(
        category_rows.iter().any(|event| event.ends_with(".delete")),
        "the jackets link of 200 went: {category_rows:?}"
    );

    let concretes = "abstract_sku,concrete_sku,name.en_US,name.de_DE,attribute_key_1,value_1,attribute_key_2,value_2,is_searchable.en_US,is_searchable.de_DE,bundled\n\
         200,200_blue,Tarn Blue,Tarn Blau II,color,Blue,weight,400 g,1,1,\n\
         200,200_red,Tarn Red,Tarn Rot,color,Red,weight,400 g,1,0,\n\
         201,201_two,Moor Green,Moor Grün,color,Green,,,1,1,\n";
    let file = write(dir.path(), "common/common/product_concrete.csv", concretes);
    let summary = importer(&db)
        .run_file("product-concrete", &file)
        .await
        .expect("concretes");
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged, summary.rejected),
        (1, 1, 1, 0)
    );
    let blue = product_concrete::Entity::find()
        .filter(product_concrete::Column::Sku.eq("200_blue"))
        .one(db.connection())
        .await
        .expect("query")
        .expect("200_blue");
    let blue_names: Vec<String> = product_concrete_localized::Entity::find()
        .filter(product_concrete_localized::Column::ProductConcreteId.eq(blue.id))
        .all(db.connection())
        .await
        .expect("texts")
        .into_iter()
        .map(|text| text.name)
        .collect();
    assert!(blue_names.contains(&"Tarn Blau II".to_owned()), "{blue_names:?}");
    let two = product_concrete::Entity::find()
        .filter(product_concrete::Column::Sku.eq("201_two"))
        .one(db.connection())
        .await
        .expect("query")
        .expect("201_two was inserted");
    assert_eq!(two.product_abstract_id, moor);
    let two_texts = product_concrete_localized::Entity::find()
        .filter(product_concrete_localized::Column::ProductConcreteId.eq(two.id))
        .count(db.connection())
        .await
        .expect("count");
    assert_eq!(two_texts, 2, "a localized row per locale of the header");
    // 200 (update), the new and the deleted link of 200, 201's re-ordered link (201 itself is unchanged:
    // its link's row routes the re-publish), then 200_blue and 201_two.
    assert_eq!(outbox_count(&db).await, before + 6);
}

repo_test_suite!(
    recipe_imports_a_small_shop,
    reimport_changes_nothing,
    reimport_applies_changes_to_products
);
