//! Checkout and orders over HTTP against the real backend services (SQLite) behind the in-process
//! gateway: checkout data, placing orders as guest and customer, idempotent retries, refusals with
//! their codes and pointers, stock re-checked at placement, and the customer's order history.

use crate::catalog::fixture::{Backend, Shop, snapshot};
use axum::http::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-battery";

async fn customer_token(shop: &Shop, email: &str) -> String {
    let registration = json!({"data": {"type": "customers", "attributes": {
        "salutation": "Ms", "firstName": "Erika", "lastName": "Muster", "email": email,
        "password": PASSWORD, "confirmPassword": PASSWORD, "acceptedTerms": true}}});
    let created = shop.post("/customers", &[], registration).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let login = json!({"data": {"type": "access-tokens", "attributes": {"username": email, "password": PASSWORD}}});
    let tokens = shop.post("/access-tokens", &[], login).await;
    assert_eq!(tokens.status, StatusCode::CREATED, "{}", tokens.body);
    format!(
        "Bearer {}",
        tokens.body["data"]["attributes"]["accessToken"]
            .as_str()
            .expect("token")
    )
}

fn address() -> Value {
    json!({"salutation": "Ms", "firstName": "Erika", "lastName": "Muster", "address1": "Hauptstraße 5",
           "zipCode": "10115", "city": "Berlin", "iso2Code": "DE"})
}

fn checkout_body(cart_id: &str, customer: Option<Value>, method: &str, shipment_method: i64) -> Value {
    let mut attributes = json!({
        "idCart": cart_id,
        "billingAddress": address(),
        "payments": [{"paymentMethodName": method, "paymentProviderName": "DummyPayment"}],
        "shipments": [{"items": [], "shippingAddress": address(), "idShipmentMethod": shipment_method}],
    });
    if let Some(customer) = customer {
        attributes["customer"] = customer;
    }
    json!({"data": {"type": "checkout", "attributes": attributes}})
}

async fn guest_cart(shop: &Shop, guest: &str, sku: &str, quantity: u32) -> String {
    let added = shop
        .post(
            "/guest-cart-items",
            &[("x-anonymous-customer-unique-id", guest)],
            json!({"data": {"type": "guest-cart-items", "attributes": {"sku": sku, "quantity": quantity}}}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    added.body["data"]["id"].as_str().expect("cart id").to_owned()
}

/// Replaces generated ids (whole JSON strings, or inside links) by placeholders.
fn redacted(value: &Value, secrets: &[&str]) -> Value {
    let mut text = value.to_string();
    for (index, secret) in secrets.iter().enumerate() {
        text = text
            .replace(&format!("\"{secret}\""), &format!("\"[id {index}]\""))
            .replace(&format!("/{secret}\""), &format!("/[id {index}]\""));
    }
    serde_json::from_str(&text).expect("json")
}

fn codes_and_pointers(answer: &crate::catalog::fixture::Answer) -> Vec<(String, String)> {
    answer.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| {
            (
                error["code"].as_str().unwrap_or_default().to_owned(),
                error["source"]["pointer"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn guest_checkout(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let guest_id = "guest-checkout-1";
    let guest = [("x-anonymous-customer-unique-id", guest_id)];
    let cart_id = guest_cart(&shop, guest_id, "100_blue", 2).await;

    let data = shop
        .post(
            "/checkout-data?include=shipment-methods,payment-methods",
            &guest,
            json!({"data": {"type": "checkout-data", "attributes": {"idCart": cart_id}}}),
        )
        .await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.body);
    let methods = &data.body["data"]["attributes"]["shipmentMethods"];
    let standard = methods
        .as_array()
        .and_then(|methods| methods.iter().find(|method| method["name"] == "Standard"))
        .expect("Standard is offered");
    let standard_id: i64 = standard["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("numeric id");
    let express_id: i64 = methods
        .as_array()
        .and_then(|methods| methods.iter().find(|method| method["name"] == "Express"))
        .and_then(|method| method["id"].as_str()?.parse().ok())
        .expect("Express is offered");
    snapshot(
        "checkout_data",
        &redacted(
            &data.contract(),
            &[&cart_id, &standard_id.to_string(), &express_id.to_string()],
        ),
    );

    // Refusals, each naming its code and field; none of them places anything.
    let nobody = shop
        .post("/checkout", &[], checkout_body(&cart_id, None, "Invoice", standard_id))
        .await;
    assert_eq!(
        (nobody.status, nobody.code()),
        (StatusCode::BAD_REQUEST, "1105"),
        "{}",
        nobody.body
    );
    let malformed = shop.post_raw("/checkout", &guest, "{\"data\": ").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.body);
    let wrong_type = shop
        .post(
            "/checkout",
            &guest,
            json!({"data": {"type": "checkout", "attributes": {"idCart": 7}}}),
        )
        .await;
    assert_eq!(
        codes_and_pointers(&wrong_type),
        [("901".to_owned(), "/data/attributes/idCart".to_owned())],
        "{}",
        wrong_type.body
    );
    let unknown_cart = shop
        .post(
            "/checkout",
            &guest,
            checkout_body("00000000-0000-4000-8000-000000000000", None, "Invoice", standard_id),
        )
        .await;
    assert_eq!(
        (unknown_cart.status, unknown_cart.code()),
        (StatusCode::NOT_FOUND, "1103"),
        "{}",
        unknown_cart.body
    );
    let someone_elses = shop
        .post(
            "/checkout",
            &[("x-anonymous-customer-unique-id", "another-guest")],
            checkout_body(&cart_id, None, "Invoice", standard_id),
        )
        .await;
    assert_eq!(someone_elses.code(), "1103", "{}", someone_elses.body);
    let no_customer = shop
        .post(
            "/checkout",
            &guest,
            checkout_body(&cart_id, None, "Invoice", standard_id),
        )
        .await;
    assert_eq!(
        codes_and_pointers(&no_customer),
        [
            ("1101".to_owned(), "/data/attributes/customer/email".to_owned()),
            ("1101".to_owned(), "/data/attributes/customer/firstName".to_owned()),
            ("1101".to_owned(), "/data/attributes/customer/lastName".to_owned()),
        ],
        "{}",
        no_customer.body
    );
    let customer =
        json!({"salutation": "Ms", "email": "Erika@Example.com", "firstName": "Erika", "lastName": "Muster"});
    let mut bad_address = checkout_body(&cart_id, Some(customer.clone()), "Invoice", 999_999);
    bad_address["data"]["attributes"]["billingAddress"]["zipCode"] = json!("");
    let bad = shop.post("/checkout", &guest, bad_address).await;
    assert_eq!(
        codes_and_pointers(&bad),
        [
            ("1101".to_owned(), "/data/attributes/billingAddress/zipCode".to_owned()),
            (
                "1101".to_owned(),
                "/data/attributes/shipments/0/idShipmentMethod".to_owned()
            ),
        ],
        "{}",
        bad.body
    );
    let card = shop
        .post(
            "/checkout",
            &guest,
            checkout_body(&cart_id, Some(customer.clone()), "Credit Card", standard_id),
        )
        .await;
    assert_eq!(
        (card.status, card.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "1108"),
        "{}",
        card.body
    );
    let mut two = checkout_body(&cart_id, Some(customer.clone()), "Invoice", standard_id);
    two["data"]["attributes"]["payments"] = json!([
        {"paymentMethodName": "Invoice", "paymentProviderName": "DummyPayment"},
        {"paymentMethodName": "Invoice", "paymentProviderName": "DummyPayment"}
    ]);
    let two = shop.post("/checkout", &guest, two).await;
    assert_eq!(two.code(), "1107", "{}", two.body);
    let still_there = shop.get_with(&format!("/guest-carts/{cart_id}"), &guest).await;
    assert_eq!(still_there.status, StatusCode::OK, "refusals leave the cart alone");

    // Placed: 2 × 129.00 + 4.90 shipping, reference per store, the cart gone.
    let keyed = [
        ("x-anonymous-customer-unique-id", guest_id),
        ("idempotency-key", "5b0c3f6e-checkout-1"),
    ];
    let placed = shop
        .post(
            "/checkout?include=orders",
            &keyed,
            checkout_body(&cart_id, Some(customer.clone()), "Invoice", standard_id),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let reference = placed.body["data"]["attributes"]["orderReference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(reference, "DE--1");
    assert_eq!(placed.body["data"]["id"], Value::Null);
    let order = &placed.body["included"][0];
    assert_eq!(order["type"], "orders");
    assert_eq!(order["id"], "DE--1");
    let totals = &order["attributes"]["totals"];
    assert_eq!(
        (&totals["subtotal"], &totals["expenseTotal"], &totals["grandTotal"]),
        (&json!(25800), &json!(490), &json!(26290)),
        "{totals}"
    );
    assert_eq!(order["attributes"]["itemStates"], json!(["new"]));
    let name = order["attributes"]["items"][0]["name"].as_str().unwrap_or_default();
    assert!(
        name.contains("Regenjacke"),
        "named in the order's locale (de_DE): {name}"
    );
    assert_eq!(order["attributes"]["payments"][0]["status"], "pending");

    // A retry with the same key answers the same order, although the cart is gone.
    let retried = shop
        .post(
            "/checkout",
            &keyed,
            checkout_body(&cart_id, Some(customer.clone()), "Invoice", standard_id),
        )
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    assert_eq!(retried.body["data"]["attributes"]["orderReference"], "DE--1");
    let gone = shop.get_with(&format!("/guest-carts/{cart_id}"), &guest).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "the cart is deleted with the order");
    let again = shop
        .post(
            "/checkout",
            &guest,
            checkout_body(&cart_id, Some(customer), "Invoice", standard_id),
        )
        .await;
    assert_eq!(
        again.code(),
        "1103",
        "without the key a second checkout finds no cart: {}",
        again.body
    );
    shop.close().await;
}

async fn customer_orders_and_stock_at_placement(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let token = customer_token(&shop, "erika@example.com").await;
    let auth = [("authorization", token.as_str())];
    // 7 blue jackets in stock: a guest and the customer each put 4 in their carts.
    let guest_cart_id = guest_cart(&shop, "early-guest", "100_blue", 4).await;
    let added = shop
        .post(
            "/carts/mine/items",
            &auth,
            json!({"data": {"type": "items", "attributes": {"sku": "100_blue", "quantity": 4}}}),
        )
        .await;
    let customer_cart = if added.status == StatusCode::CREATED {
        added.body["data"]["id"].as_str().expect("cart").to_owned()
    } else {
        let created = shop
            .post(
                "/carts",
                &auth,
                json!({"data": {"type": "carts", "attributes": {"name": "Mine", "currency": "EUR", "priceMode": "GROSS_MODE"}}}),
            )
            .await;
        let id = created.body["data"]["id"].as_str().expect("cart").to_owned();
        let added = shop
            .post(
                &format!("/carts/{id}/items"),
                &auth,
                json!({"data": {"type": "items", "attributes": {"sku": "100_blue", "quantity": 4}}}),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        id
    };
    let methods = shop
        .post(
            "/checkout-data",
            &auth,
            json!({"data": {"type": "checkout-data", "attributes": {"idCart": customer_cart}}}),
        )
        .await;
    let standard: i64 = methods.body["data"]["attributes"]["shipmentMethods"]
        .as_array()
        .and_then(|methods| methods.iter().find(|method| method["name"] == "Standard"))
        .and_then(|method| method["id"].as_str()?.parse().ok())
        .expect("Standard is offered");
    let guest_customer = json!({"email": "guest@example.com", "firstName": "Gast", "lastName": "Kunde"});
    let first = shop
        .post(
            "/checkout",
            &[("x-anonymous-customer-unique-id", "early-guest")],
            checkout_body(&guest_cart_id, Some(guest_customer), "Invoice", standard),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);

    // Only 3 left: the customer's 4 cannot be placed, and the answer says how many there are.
    let short = shop
        .post(
            "/checkout",
            &auth,
            checkout_body(&customer_cart, None, "Invoice", standard),
        )
        .await;
    assert_eq!(
        (short.status, short.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "1102"),
        "{}",
        short.body
    );
    assert_eq!(
        short.body["errors"][0]["detail"],
        "product 100_blue is not available in the requested quantity (4 requested, 3 available)"
    );
    let lowered = shop
        .patch(
            &format!("/carts/{customer_cart}/items/100_blue"),
            &auth,
            json!({"data": {"type": "items", "attributes": {"quantity": 3}}}),
        )
        .await;
    assert_eq!(lowered.status, StatusCode::OK, "{}", lowered.body);
    // The customer block may be left out: the account's name and e-mail are used.
    let placed = shop
        .post(
            "/checkout",
            &auth,
            checkout_body(&customer_cart, None, "Invoice", standard),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let reference = placed.body["data"]["attributes"]["orderReference"]
        .as_str()
        .expect("reference")
        .to_owned();

    let orders = shop.get_with("/orders", &auth).await;
    assert_eq!(orders.status, StatusCode::OK, "{}", orders.body);
    let listed: Vec<&str> = orders.body["data"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|order| order["id"].as_str())
        .collect();
    assert_eq!(listed, [reference.as_str()], "only the customer's own orders");
    assert_eq!(
        orders.body["data"][0]["attributes"]["totals"]["grandTotal"],
        3 * 12900 + 490
    );
    let detail = shop.get_with(&format!("/orders/{reference}"), &auth).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    let attributes = &detail.body["data"]["attributes"];
    assert_eq!(attributes["items"][0]["state"], "new");
    assert_eq!(attributes["items"][0]["quantity"], 3);
    assert_eq!(attributes["billingAddress"]["city"], "Berlin");
    assert_eq!(attributes["shipments"][0]["shipmentMethodName"], "Standard");
    assert_eq!(attributes["expenses"][0]["sumPrice"], 490);
    // The guest's order is not the customer's: 404, no leak.
    let foreign = shop.get_with("/orders/DE--1", &auth).await;
    assert_eq!(
        (foreign.status, foreign.code()),
        (StatusCode::NOT_FOUND, "801"),
        "{}",
        foreign.body
    );
    let anonymous = shop.get("/orders").await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN, "{}", anonymous.body);
    shop.close().await;
}

on_both_kv_backends!(guest_checkout, customer_orders_and_stock_at_placement);
