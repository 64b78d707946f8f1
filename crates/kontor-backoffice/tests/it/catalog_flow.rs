//! The acceptance walk-through: a store, its locale and currency, a category, an abstract product with
//! two concretes, prices and stock, created over the API and read back.

use crate::api::{Api, document};
use axum::http::StatusCode;
use kontor_db::SqlDatabase;
use kontor_testkit::repo_test_suite;
use serde_json::json;

async fn a_catalog_is_built_and_read_back_over_the_api(db: SqlDatabase) {
    let api = Api::new(db).await;
    api.base_shop().await;
    api.create(
        "tax-sets",
        json!({"name": "Standard", "rates": [{"country": "DE", "name": "DE 19%", "rate": "19.00"}]}),
    )
    .await;
    api.create("product-attribute-keys", json!({"key": "color", "isSuper": true}))
        .await;
    let category = api
        .create(
            "categories",
            json!({"categoryKey": "cameras", "stores": ["DE"], "localizedAttributes": {"de_DE": {"name": "Kameras"}, "en_US": {"name": "Cameras"}}}),
        )
        .await;
    let product = api
        .create(
            "abstract-products",
            json!({
                "sku": "001", "taxSet": "Standard", "stores": ["DE"],
                "localizedAttributes": {"de_DE": {"name": "Kamera X"}, "en_US": {"name": "Camera X", "description": "A camera."}}
            }),
        )
        .await;
    for (sku, color) in [("001_black", "black"), ("001_silver", "silver")] {
        api.create(
            "concrete-products",
            json!({"sku": sku, "abstractSku": "001", "attributes": {"color": color},
                   "localizedAttributes": {"en_US": {"name": format!("Camera X {color}")}}}),
        )
        .await;
    }
    api.create(
        "product-categories",
        json!({"abstractSku": "001", "categoryKey": "cameras"}),
    )
    .await;
    let price = api
        .create(
            "prices",
            json!({"abstractSku": "001", "store": "DE", "currency": "EUR", "netAmount": 8403, "grossAmount": 9999}),
        )
        .await;
    api.create(
        "prices",
        json!({"concreteSku": "001_black", "store": "DE", "currency": "EUR", "grossAmount": 9499}),
    )
    .await;
    api.create("warehouses", json!({"name": "Warehouse1", "stores": ["DE"]}))
        .await;
    api.create(
        "stocks",
        json!({"sku": "001_black", "warehouse": "Warehouse1", "quantity": 12}),
    )
    .await;
    api.create(
        "stocks",
        json!({"sku": "001_silver", "warehouse": "Warehouse1", "quantity": 0, "isNeverOutOfStock": true}),
    )
    .await;

    let read = api.get(&format!("/admin/abstract-products/{product}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.attributes()["sku"], "001");
    assert_eq!(read.attributes()["localizedAttributes"]["en_US"]["name"], "Camera X");
    assert_eq!(
        read.attributes()["localizedAttributes"]["de_DE"]["url"],
        format!("/de/kamera-x-{product}")
    );

    let concretes = api.get("/admin/concrete-products?filter[sku]=001_").await;
    assert_eq!(concretes.body["meta"]["total"], 2);
    assert_eq!(concretes.body["data"][1]["attributes"]["attributes"]["color"], "silver");

    let prices = api.get("/admin/prices?filter[sku]=001").await;
    assert_eq!(prices.body["meta"]["total"], 2);
    let abstract_price = api.get(&format!("/admin/prices/{price}")).await;
    assert_eq!(abstract_price.attributes()["grossAmount"], 9999);
    assert_eq!(abstract_price.attributes()["priceType"], "DEFAULT");

    let stock = api.get("/admin/stocks?filter[sku]=001_black").await;
    assert_eq!(stock.body["data"][0]["attributes"]["quantity"], 12);

    let category_read = api.get(&format!("/admin/categories/{category}")).await;
    assert_eq!(
        category_read.attributes()["localizedAttributes"]["de_DE"]["url"],
        "/de/kameras"
    );
    let assignments = api.get("/admin/product-categories?filter[sku]=001").await;
    assert_eq!(assignments.body["meta"]["total"], 1);
}

async fn patch_merges_into_stored_attributes(db: SqlDatabase) {
    let api = Api::new(db).await;
    api.base_shop().await;
    let product = api
        .create(
            "abstract-products",
            json!({"sku": "002", "localizedAttributes": {"de_DE": {"name": "Alt", "description": "bleibt"}, "en_US": {"name": "Old"}}}),
        )
        .await;
    let patched = api
        .patch(
            &format!("/admin/abstract-products/{product}"),
            document(
                "abstract-products",
                json!({"localizedAttributes": {"de_DE": {"name": "Neu"}}}),
            ),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let localized = &patched.attributes()["localizedAttributes"];
    assert_eq!(localized["de_DE"]["name"], "Neu");
    assert_eq!(localized["de_DE"]["description"], "bleibt");
    assert_eq!(localized["en_US"]["name"], "Old");
}

async fn lists_are_paged_with_links(db: SqlDatabase) {
    let api = Api::new(db).await;
    for name in ["de_DE", "de_AT", "de_CH", "en_US", "fr_FR"] {
        api.create("locales", json!({"name": name})).await;
    }
    let page = api.get("/admin/locales?page[offset]=2&page[limit]=2").await;
    assert_eq!(page.status, StatusCode::OK);
    let names: Vec<&str> = page.body["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(|item| item["attributes"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["de_CH", "en_US"]);
    assert_eq!(page.body["meta"]["total"], 5);
    assert_eq!(
        page.body["links"]["next"],
        "/admin/locales?page[offset]=4&page[limit]=2"
    );
    assert_eq!(
        page.body["links"]["prev"],
        "/admin/locales?page[offset]=0&page[limit]=2"
    );
    assert_eq!(
        page.body["links"]["last"],
        "/admin/locales?page[offset]=4&page[limit]=2"
    );
}

async fn delete_answers_204_then_404(db: SqlDatabase) {
    let api = Api::new(db).await;
    let locale = api.create("locales", json!({"name": "it_IT"})).await;
    let deleted = api.delete(&format!("/admin/locales/{locale}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.delete(&format!("/admin/locales/{locale}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&format!("/admin/locales/{locale}")).await.status,
        StatusCode::NOT_FOUND
    );
}

repo_test_suite!(
    a_catalog_is_built_and_read_back_over_the_api,
    patch_merges_into_stored_attributes,
    lists_are_paged_with_links,
    delete_answers_204_then_404,
);
