//! `product-reviews` over HTTP against the real backend (SQLite) behind the in-process gateway: what a
//! customer submits is pending until approved, then listed and counted; every refusal has its code.

use crate::accounts::pointers;
use crate::carts::customer_token;
use crate::catalog::fixture::{Backend, Shop};
use crate::catalog::kv_backends;
use axum::http::StatusCode;
use kontor_domain::review::{ProductReviewAttributes, ReviewStatus};
use kontor_domain::{ListQuery, ResourceRepository, Valid};
use serde_json::{Value, json};

fn review(attributes: Value) -> Value {
    json!({"data": {"type": "product-reviews", "attributes": attributes}})
}

async fn summaries(shop: &Shop, path: &str) -> Vec<String> {
    let answer = shop.get_with(path, &[("accept-language", "en")]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["data"]
        .as_array()
        .expect("a collection")
        .iter()
        .filter_map(|review| review["attributes"]["summary"].as_str().map(str::to_owned))
        .collect()
}

async fn a_submitted_review_is_listed_once_approved(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let anonymous = shop
        .post(
            "/abstract-products/100/product-reviews",
            &[],
            review(json!({"rating": 5, "nickname": "Erika", "summary": "Great"})),
        )
        .await;
    assert_eq!((anonymous.status, anonymous.code()), (StatusCode::FORBIDDEN, "002"));

    let token = customer_token(&shop, "erika@example.com", None).await;
    let auth = [("authorization", token.as_str()), ("accept-language", "en")];
    let accepted = shop
        .post(
            "/abstract-products/100/product-reviews",
            &auth,
            review(json!({"rating": "5", "nickname": "Erika", "summary": "Great", "description": "Dry all day."})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        accepted.body["data"]["attributes"],
        json!({"rating": 5, "nickname": "Erika", "summary": "Great", "description": "Dry all day."})
    );
    shop.republish().await;
    assert_eq!(
        summaries(&shop, "/abstract-products/100/product-reviews").await,
        ["Runs a size small", "Keeps the rain out"],
        "pending reviews are not shown"
    );
    let pending = shop
        .get_with(&format!("/abstract-products/100/product-reviews/{id}"), &auth)
        .await;
    assert_eq!((pending.status, pending.code()), (StatusCode::NOT_FOUND, "302"));

    // The Back Office approves it: listed first, counted, and stored under the customer's reference.
    let repository: &dyn ResourceRepository<ProductReviewAttributes> = shop.database();
    let stored = repository
        .list(&ListQuery::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|record| record.id.0.to_string() == id)
        .expect("stored");
    assert_eq!(stored.attributes.status, ReviewStatus::Pending);
    assert!(
        stored.attributes.customer_reference.starts_with("DE--"),
        "{:?}",
        stored.attributes
    );
    let approved = ProductReviewAttributes {
        status: ReviewStatus::Approved,
        ..stored.attributes
    };
    repository
        .update(stored.id, &Valid::new(approved).expect("valid"))
        .await
        .expect("approve");
    shop.republish().await;
    assert_eq!(
        summaries(&shop, "/abstract-products/100/product-reviews").await,
        ["Great", "Runs a size small", "Keeps the rain out"]
    );
    let product = shop.get_with("/abstract-products/100", &auth).await;
    assert_eq!(product.body["data"]["attributes"]["reviewCount"], 4);
    assert_eq!(product.body["data"]["attributes"]["averageRating"], 4.5);
    let one = shop
        .get_with(&format!("/abstract-products/100/product-reviews/{id}"), &auth)
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(
        one.body["data"]["links"]["self"],
        format!("https://shop.example/api/abstract-products/100/product-reviews/{id}")
    );
    shop.close().await;
}

async fn bad_reviews_are_refused_with_their_codes(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let token = customer_token(&shop, "max@example.com", None).await;
    let auth = [("authorization", token.as_str())];
    let post = |sku: &'static str, attributes: Value| {
        let shop = &shop;
        async move {
            shop.post(
                &format!("/abstract-products/{sku}/product-reviews"),
                &auth,
                review(attributes),
            )
            .await
        }
    };

    let types = post("100", json!({"rating": 4.5, "summary": 3, "colour": "red"})).await;
    assert_eq!((types.status, types.code()), (StatusCode::UNPROCESSABLE_ENTITY, "901"));
    assert_eq!(
        pointers(&types),
        [
            "/data/attributes/colour",
            "/data/attributes/rating",
            "/data/attributes/nickname",
            "/data/attributes/summary"
        ]
    );
    let rules = post("100", json!({"rating": 6, "nickname": " ", "summary": "x".repeat(256)})).await;
    assert_eq!((rules.status, rules.code()), (StatusCode::UNPROCESSABLE_ENTITY, "901"));
    assert_eq!(
        pointers(&rules),
        [
            "/data/attributes/nickname",
            "/data/attributes/summary",
            "/data/attributes/rating"
        ]
    );
    let unknown = post("999", json!({"rating": 4, "nickname": "Max", "summary": "Gut"})).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "301"));
    let forged = shop
        .post(
            "/abstract-products/100/product-reviews",
            &[("authorization", "Bearer not-a-token")],
            review(json!({"rating": 4, "nickname": "Max", "summary": "Gut"})),
        )
        .await;
    assert_eq!((forged.status, forged.code()), (StatusCode::UNAUTHORIZED, "001"));

    let missing_product = shop.get("/abstract-products/999/product-reviews").await;
    assert_eq!(
        (missing_product.status, missing_product.code()),
        (StatusCode::NOT_FOUND, "301")
    );
    let missing_review = shop.get("/abstract-products/100/product-reviews/999999").await;
    assert_eq!(
        (missing_review.status, missing_review.code()),
        (StatusCode::NOT_FOUND, "302")
    );
    let paging = shop.get("/abstract-products/100/product-reviews?page[limit]=x").await;
    assert_eq!(paging.status, StatusCode::BAD_REQUEST);

    let repository: &dyn ResourceRepository<ProductReviewAttributes> = shop.database();
    let stored = repository.list(&ListQuery::default()).await.expect("list");
    assert_eq!(
        stored.total, 6,
        "only the fixture's reviews: every refusal stored nothing"
    );
    shop.close().await;
}

kv_backends!(
    a_submitted_review_is_listed_once_approved,
    bad_reviews_are_refused_with_their_codes
);
