//! Bad input gets a precise 4xx naming the field, and changes nothing.

use crate::api::{Api, document};
use axum::http::{Method, StatusCode};
use kontor_db::SqlDatabase;
use kontor_testkit::repo_test_suite;
use serde_json::json;

/// Sends `body` to `path`, expects `status` with the error at `source`, and checks nothing was written.
async fn rejected(api: &Api, path: &str, body: &str, status: StatusCode, source: &str) {
    let before = api.outbox_len().await;
    let reply = api.post_raw(path, body).await;
    assert_eq!(reply.status, status, "{path} {body}: {}", reply.body);
    assert_eq!(reply.error_source(), source, "{path} {body}: {}", reply.body);
    assert_eq!(reply.body["errors"][0]["status"], status.as_u16());
    assert_eq!(reply.headers["content-type"], "application/vnd.api+json");
    assert_eq!(api.outbox_len().await, before, "{path} {body} must not write");
}

async fn malformed_json_and_documents_are_400(db: SqlDatabase) {
    let api = Api::new(db).await;
    rejected(&api, "/admin/locales", "{\"data\": {", StatusCode::BAD_REQUEST, "").await;
    rejected(&api, "/admin/locales", "[]", StatusCode::BAD_REQUEST, "").await;
    rejected(
        &api,
        "/admin/locales",
        r#"{"data": {"attributes": {}}}"#,
        StatusCode::BAD_REQUEST,
        "/data/type",
    )
    .await;
    rejected(
        &api,
        "/admin/locales",
        r#"{"data": {"type": "stores", "attributes": {"name": "de_DE"}}}"#,
        StatusCode::BAD_REQUEST,
        "/data/type",
    )
    .await;
    rejected(
        &api,
        "/admin/locales",
        r#"{"data": {"type": "locales", "id": "7", "attributes": {"name": "de_DE"}}}"#,
        StatusCode::BAD_REQUEST,
        "/data/id",
    )
    .await;
}

async fn wrong_types_and_missing_fields_are_422_with_pointer(db: SqlDatabase) {
    let api = Api::new(db).await;
    api.base_shop().await;
    let product = |attributes: serde_json::Value| document("abstract-products", attributes).to_string();
    rejected(
        &api,
        "/admin/abstract-products",
        &product(json!({"sku": 17})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/sku",
    )
    .await;
    rejected(
        &api,
        "/admin/abstract-products",
        &product(json!({})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/sku",
    )
    .await;
    rejected(
        &api,
        "/admin/abstract-products",
        &product(json!({"sku": "has space"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/sku",
    )
    .await;
    rejected(
        &api,
        "/admin/abstract-products",
        &product(json!({"sku": "003", "localizedAttributes": {"de_DE": {"name": 5}}})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/localizedAttributes/de_DE/name",
    )
    .await;
    rejected(
        &api,
        "/admin/abstract-products",
        &product(json!({"sku": "003", "colour": "red"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/colour",
    )
    .await;
    rejected(
        &api,
        "/admin/stocks",
        &document("stocks", json!({"sku": "x", "warehouse": "W", "quantity": "12"})).to_string(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/quantity",
    )
    .await;
}

async fn negative_prices_are_422(db: SqlDatabase) {
    let api = Api::new(db).await;
    api.base_shop().await;
    api.create(
        "abstract-products",
        json!({"sku": "004", "localizedAttributes": {"de_DE": {"name": "Vier"}}}),
    )
    .await;
    let body = document(
        "prices",
        json!({"abstractSku": "004", "store": "DE", "currency": "EUR", "grossAmount": -1}),
    )
    .to_string();
    rejected(
        &api,
        "/admin/prices",
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/grossAmount",
    )
    .await;
    let body = document(
        "prices",
        json!({"abstractSku": "004", "store": "DE", "currency": "EUR", "netAmount": 1.5}),
    )
    .to_string();
    rejected(
        &api,
        "/admin/prices",
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/netAmount",
    )
    .await;
}

async fn unknown_locale_is_422_naming_it(db: SqlDatabase) {
    let api = Api::new(db).await;
    api.base_shop().await;
    let body = document(
        "abstract-products",
        json!({"sku": "005", "localizedAttributes": {"fr_FR": {"name": "Cinq"}}}),
    )
    .to_string();
    rejected(
        &api,
        "/admin/abstract-products",
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/localizedAttributes/fr_FR",
    )
    .await;
    let body = document(
        "stores",
        json!({"name": "FR", "defaultLocale": "fr_FR", "defaultCurrency": "EUR"}),
    )
    .to_string();
    rejected(
        &api,
        "/admin/stores",
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/defaultLocale",
    )
    .await;
    assert_eq!(api.get("/admin/abstract-products").await.body["meta"]["total"], 0);
}

async fn duplicate_sku_is_409_naming_it(db: SqlDatabase) {
    let api = Api::new(db).await;
    api.base_shop().await;
    api.create(
        "abstract-products",
        json!({"sku": "006", "localizedAttributes": {"de_DE": {"name": "Sechs"}}}),
    )
    .await;
    let body = document(
        "abstract-products",
        json!({"sku": "006", "localizedAttributes": {"de_DE": {"name": "Noch mal"}}}),
    )
    .to_string();
    rejected(
        &api,
        "/admin/abstract-products",
        &body,
        StatusCode::CONFLICT,
        "/data/attributes/sku",
    )
    .await;
    let listed = api.get("/admin/abstract-products").await;
    assert_eq!(listed.body["meta"]["total"], 1);
    assert_eq!(
        listed.body["data"][0]["attributes"]["localizedAttributes"]["de_DE"]["name"],
        "Sechs"
    );
}

async fn unknown_ids_are_404(db: SqlDatabase) {
    let api = Api::new(db).await;
    for path in [
        "/admin/stores/999",
        "/admin/stores/abc",
        "/admin/stores/-1",
        "/admin/no-such-type",
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_code(), "903", "{path}");
    }
    let patch = api
        .patch("/admin/locales/999", document("locales", json!({"isActive": false})))
        .await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
}

async fn authentication_is_required(db: SqlDatabase) {
    let api = Api::new(db).await;
    let missing = api.send(Method::GET, "/admin/stores", None, None).await;
    assert_eq!((missing.status, missing.error_code()), (StatusCode::FORBIDDEN, "002"));
    let wrong = api.send(Method::GET, "/admin/stores", None, Some("kontor_0000")).await;
    assert_eq!((wrong.status, wrong.error_code()), (StatusCode::UNAUTHORIZED, "001"));
    let open = api.send(Method::GET, "/admin/openapi.json", None, None).await;
    assert_eq!(open.status, StatusCode::OK);
}

async fn bad_query_parameters_are_400_naming_them(db: SqlDatabase) {
    let api = Api::new(db).await;
    for (path, parameter) in [
        ("/admin/stores?page[limit]=1000", "page[limit]"),
        ("/admin/stores?page[offset]=x", "page[offset]"),
        ("/admin/stores?sort=name", "sort"),
        ("/admin/stores?filter[sku]=1", "filter[sku]"),
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {}", reply.body);
        assert_eq!(reply.error_source(), parameter, "{path}");
    }
}

async fn wrong_media_type_is_415_and_wrong_method_405(db: SqlDatabase) {
    let api = Api::new(db).await;
    let body = r#"{"data":{"type":"locales","attributes":{"name":"de_DE"}}}"#;
    let reply = api
        .send_as(
            Method::POST,
            "/admin/locales",
            "text/plain",
            Some(body),
            Some(api.token()),
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "906")
    );
    let with_version = api
        .send_as(
            Method::POST,
            "/admin/locales",
            "application/vnd.api+json; version=1.1",
            Some(body),
            Some(api.token()),
        )
        .await;
    assert_eq!(with_version.status, StatusCode::CREATED);
    let reply = api
        .send(Method::PUT, "/admin/locales", Some("{}"), Some(api.token()))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::METHOD_NOT_ALLOWED, "907")
    );
    assert_eq!(api.outbox_len().await, 1);
}

repo_test_suite!(
    malformed_json_and_documents_are_400,
    wrong_types_and_missing_fields_are_422_with_pointer,
    negative_prices_are_422,
    unknown_locale_is_422_naming_it,
    duplicate_sku_is_409_naming_it,
    unknown_ids_are_404,
    authentication_is_required,
    bad_query_parameters_are_400_naming_them,
    wrong_media_type_is_415_and_wrong_method_405,
);
