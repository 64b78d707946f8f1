//! Cart resources over HTTP against the real backend services (SQLite) behind the in-process gateway:
//! customer carts and guest carts, totals from the published prices, availability limits, refusals
//! with their codes, the merge of a guest cart at sign-in, and isolation between owners.

use crate::catalog::fixture::{Backend, Shop, snapshot};
use axum::http::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-battery";

pub(crate) async fn customer_token(shop: &Shop, email: &str, guest: Option<&str>) -> String {
    let registration = json!({"data": {"type": "customers", "attributes": {
        "salutation": "Ms", "firstName": "Erika", "lastName": "Muster", "email": email,
        "password": PASSWORD, "confirmPassword": PASSWORD, "acceptedTerms": true}}});
    let created = shop.post("/customers", &[], registration).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let login = json!({"data": {"type": "access-tokens", "attributes": {"username": email, "password": PASSWORD}}});
    let headers: Vec<(&str, &str)> = guest
        .map(|id| vec![("x-anonymous-customer-unique-id", id)])
        .unwrap_or_default();
    let tokens = shop.post("/access-tokens", &headers, login).await;
    assert_eq!(tokens.status, StatusCode::CREATED, "{}", tokens.body);
    format!(
        "Bearer {}",
        tokens.body["data"]["attributes"]["accessToken"]
            .as_str()
            .expect("token")
    )
}

fn item(kind: &str, sku: &str, quantity: Value) -> Value {
    json!({"data": {"type": kind, "attributes": {"sku": sku, "quantity": quantity}}})
}

/// Cart ids are random: the snapshot shows a placeholder.
fn redacted(mut value: Value, cart_id: &str) -> Value {
    let text = value.to_string().replace(cart_id, "[cart id]");
    value = serde_json::from_str(&text).unwrap_or(value);
    value
}

async fn customer_carts_items_and_totals(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let token = customer_token(&shop, "erika@example.com", None).await;
    let auth = [("authorization", token.as_str())];

    let created = shop
        .post(
            "/carts",
            &auth,
            json!({"data": {"type": "carts", "attributes": {"name": "Weekend", "currency": "EUR", "priceMode": "GROSS_MODE"}}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let cart_id = created.body["data"]["id"].as_str().expect("cart id").to_owned();
    let items = format!("/carts/{cart_id}/items?include=items");

    let added = shop.post(&items, &auth, item("items", "100_blue", json!(2))).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let again = shop.post(&items, &auth, item("items", "100_blue", json!("1"))).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    snapshot("cart_with_items", &redacted(again.contract(), &cart_id));
    let totals = &again.body["data"]["attributes"]["totals"];
    // 3 × 129.00 € from the published DEFAULT price: the storefront shows what the cart charges.
    assert_eq!(totals["subtotal"], 38700, "{totals}");
    assert_eq!(totals["grandTotal"], 38700, "{totals}");
    let price = shop.get("/concrete-products/100_blue/concrete-product-prices").await;
    assert_eq!(price.body["data"][0]["attributes"]["price"], 12900, "{}", price.body);

    // Refusals: unknown SKU, more than is in stock, an unavailable variant, bad quantities.
    let unknown = shop.post(&items, &auth, item("items", "nope", json!(1))).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "113"),
        "{}",
        unknown.body
    );
    assert!(
        unknown.body["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("nope")
    );
    let too_many = shop.post(&items, &auth, item("items", "100_blue", json!(5))).await;
    assert_eq!(
        too_many.code(),
        "113",
        "7 in stock, 3 in the cart: 5 more is too many: {}",
        too_many.body
    );
    let sold_out = shop.post(&items, &auth, item("items", "100_red", json!(1))).await;
    assert_eq!(sold_out.code(), "113", "{}", sold_out.body);
    let plenty = shop.post(&items, &auth, item("items", "200_std", json!(500))).await;
    assert_eq!(
        plenty.status,
        StatusCode::CREATED,
        "never out of stock: {}",
        plenty.body
    );
    for bad in [json!(0), json!(-2), json!("many"), json!(1.5)] {
        let refused = shop.post(&items, &auth, item("items", "100_blue", bad.clone())).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            refused.body
        );
        assert_eq!(
            refused.body["errors"][0]["source"]["pointer"],
            "/data/attributes/quantity"
        );
    }
    let wrong_type = shop.post(&items, &auth, item("carts", "100_blue", json!(1))).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST, "{}", wrong_type.body);
    let malformed = shop.post_raw(&items, &auth, "{\"data\": [").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.body);

    let updated = shop
        .patch(
            &format!("/carts/{cart_id}/items/100_blue"),
            &auth,
            json!({"data": {"type": "items", "attributes": {"quantity": 1}}}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let missing_item = shop
        .patch(
            &format!("/carts/{cart_id}/items/unknown"),
            &auth,
            json!({"data": {"type": "items", "attributes": {"quantity": 1}}}),
        )
        .await;
    assert_eq!(missing_item.code(), "103", "{}", missing_item.body);
    let locked = shop
        .patch(
            &format!("/carts/{cart_id}"),
            &auth,
            json!({"data": {"type": "carts", "attributes": {"priceMode": "NET_MODE"}}}),
        )
        .await;
    assert_eq!(locked.code(), "111", "{}", locked.body);
    let removed = shop.delete(&format!("/carts/{cart_id}/items/200_std"), &auth).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);

    let listed = shop.get_with("/carts", &auth).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));

    // Another customer finds nothing, and cannot write either.
    let other = customer_token(&shop, "max@example.com", None).await;
    let other_auth = [("authorization", other.as_str())];
    let foreign = shop.get_with(&format!("/carts/{cart_id}"), &other_auth).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "101"));
    let foreign_add = shop
        .post(
            &format!("/carts/{cart_id}/items"),
            &other_auth,
            item("items", "100_blue", json!(1)),
        )
        .await;
    assert_eq!(foreign_add.status, StatusCode::NOT_FOUND);
    let foreign_delete = shop.delete(&format!("/carts/{cart_id}"), &other_auth).await;
    assert_eq!(foreign_delete.status, StatusCode::NOT_FOUND);
    let anonymous = shop.get("/carts").await;
    assert_eq!((anonymous.status, anonymous.code()), (StatusCode::FORBIDDEN, "002"));

    let bad_currency = shop
        .post(
            "/carts",
            &auth,
            json!({"data": {"type": "carts", "attributes": {"name": "Dollars", "currency": "USD", "priceMode": "GROSS_MODE"}}}),
        )
        .await;
    assert_eq!(bad_currency.code(), "117", "{}", bad_currency.body);
    let deleted = shop.delete(&format!("/carts/{cart_id}"), &auth).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    shop.close().await;
}

async fn guest_carts_and_the_merge_at_sign_in(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let guest = [("x-anonymous-customer-unique-id", "guest-5f1c-7a2e")];

    let without_header = shop
        .post("/guest-cart-items", &[], item("guest-cart-items", "100_blue", json!(1)))
        .await;
    assert_eq!(
        (without_header.status, without_header.code()),
        (StatusCode::BAD_REQUEST, "109")
    );
    let added = shop
        .post(
            "/guest-cart-items?include=guest-cart-items",
            &guest,
            item("guest-cart-items", "100_blue", json!(2)),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let cart_id = added.body["data"]["id"].as_str().expect("cart id").to_owned();
    snapshot("guest_cart_with_items", &redacted(added.contract(), &cart_id));

    let listed = shop.get_with("/guest-carts", &guest).await;
    assert_eq!(listed.body["data"][0]["id"], json!(cart_id));
    let stranger = [("x-anonymous-customer-unique-id", "someone-else")];
    let foreign = shop.get_with(&format!("/guest-carts/{cart_id}"), &stranger).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "101"));
    let foreign_item = shop
        .post(
            &format!("/guest-carts/{cart_id}/guest-cart-items"),
            &stranger,
            item("guest-cart-items", "100_blue", json!(1)),
        )
        .await;
    assert_eq!(foreign_item.status, StatusCode::NOT_FOUND);

    // Signing in with the guest header moves the guest cart into the customer's default cart.
    let token = customer_token(&shop, "erika@example.com", Some("guest-5f1c-7a2e")).await;
    let carts = shop
        .get_with("/carts?include=items", &[("authorization", token.as_str())])
        .await;
    assert_eq!(carts.status, StatusCode::OK, "{}", carts.body);
    let merged: Vec<(Value, Value)> = carts.body["included"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    (
                        item["attributes"]["sku"].clone(),
                        item["attributes"]["quantity"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(merged, [(json!("100_blue"), json!(2))], "{}", carts.body);
    let gone = shop.get_with(&format!("/guest-carts/{cart_id}"), &guest).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "the guest cart was merged away");
    shop.close().await;
}

/// `Idempotency-Key` on `POST /carts` and the item POSTs: a retry answers as the first request and
/// writes nothing; the key on a different request, or a malformed key, is refused.
async fn retried_cart_writes_with_an_idempotency_key_happen_once(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let guest = [
        ("x-anonymous-customer-unique-id", "guest-retry"),
        ("idempotency-key", "0b6f1a52-add-1"),
    ];
    let first = shop
        .post(
            "/guest-cart-items?include=guest-cart-items",
            &guest,
            item("guest-cart-items", "100_blue", json!(1)),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let retry = shop
        .post(
            "/guest-cart-items?include=guest-cart-items",
            &guest,
            item("guest-cart-items", "100_blue", json!(1)),
        )
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(retry.body, first.body, "the same answer");
    assert_eq!(
        retry.body["included"][0]["attributes"]["quantity"],
        json!(1),
        "added once"
    );
    let other = shop
        .post(
            "/guest-cart-items",
            &guest,
            item("guest-cart-items", "100_blue", json!(2)),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "113"),
        "{}",
        other.body
    );

    let token = customer_token(&shop, "erika@example.com", None).await;
    let create = json!({"data": {"type": "carts", "attributes": {"name": "Weekend", "currency": "EUR", "priceMode": "GROSS_MODE"}}});
    let keyed = [
        ("authorization", token.as_str()),
        ("idempotency-key", "0b6f1a52-create-1"),
    ];
    let created = shop.post("/carts", &keyed, create.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let again = shop.post("/carts", &keyed, create.clone()).await;
    assert_eq!(again.body["data"]["id"], created.body["data"]["id"], "{}", again.body);
    let carts = shop.get_with("/carts", &[("authorization", token.as_str())]).await;
    assert_eq!(carts.body["data"].as_array().map(Vec::len), Some(1), "{}", carts.body);

    let too_long = "k".repeat(256);
    for bad in ["", "two words", too_long.as_str()] {
        let refused = shop
            .post(
                "/carts",
                &[("authorization", token.as_str()), ("idempotency-key", bad)],
                create.clone(),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", refused.body);
        let detail = refused.body["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("Idempotency-Key"), "{detail}");
    }
    shop.close().await;
}

on_both_kv_backends!(
    customer_carts_items_and_totals,
    guest_carts_and_the_merge_at_sign_in,
    retried_cart_writes_with_an_idempotency_key_happen_once
);
