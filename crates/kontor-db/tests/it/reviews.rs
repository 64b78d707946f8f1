//! Product reviews: stored by product and locale, read back as written, listed by status and SKU,
//! routed by their product in the outbox, gone with their product.

use crate::fixtures::*;
use crate::pricing::insert_product;
use kontor_core::Sku;
use kontor_db::entity::product_abstract;
use kontor_db::{OutboxReader, SqlDatabase};
use kontor_domain::gateway::{GatewayError, GatewayReply, ReviewCommand, ReviewInput};
use kontor_domain::review::{ProductReviewAttributes, ReviewService, ReviewStatus};
use kontor_domain::{DomainError, ListQuery, ResourceRepository, ResourceService};
use kontor_testkit::repo_test_suite;
use sea_orm::EntityTrait;
use std::sync::Arc;

fn review(sku: &str, rating: i64, status: ReviewStatus) -> ProductReviewAttributes {
    ProductReviewAttributes {
        abstract_sku: Sku::parse(sku).expect("sku"),
        locale: locale("en_US"),
        customer_reference: "DE--1".to_owned(),
        nickname: "Maria".to_owned(),
        summary: "Keeps the rain out".to_owned(),
        description: "Worn in a storm, stayed dry.".to_owned(),
        rating,
        status,
    }
}

async fn reviews_round_trip_and_route_by_product(db: SqlDatabase) {
    base_shop(&db).await;
    let (product_id, _) = insert_product(&db, "100", &[]).await;
    let (other_id, _) = insert_product(&db, "200", &[]).await;
    let mark = outbox_mark(&db).await;
    let created = create(&db, review("100", 4, ReviewStatus::Pending)).await;
    assert_eq!(created.attributes, review("100", 4, ReviewStatus::Pending));
    let moved = ResourceRepository::<ProductReviewAttributes>::update(
        &db,
        created.id,
        &valid(review("200", 5, ReviewStatus::Approved)),
    )
    .await
    .expect("update");
    assert_eq!(moved.attributes.status, ReviewStatus::Approved);
    let id = created.id.0;
    assert_eq!(
        outbox_since(&db, mark).await,
        [
            ("product_review".to_owned(), id, "create".to_owned()),
            ("product_review".to_owned(), id, "update".to_owned())
        ]
    );
    // The update names both products, so the old one loses the review in the storefront too.
    let entries = db.outbox_after(mark, 10).await.expect("outbox");
    assert_eq!(
        entries[1].foreign_key_ids("fk_product_abstract"),
        [product_id, other_id]
    );

    // A review goes with its product.
    product_abstract::Entity::delete_by_id(other_id)
        .exec(db.connection())
        .await
        .expect("delete product");
    let error = ResourceRepository::<ProductReviewAttributes>::get(&db, created.id)
        .await
        .expect_err("gone");
    assert!(matches!(error, DomainError::NotFound { .. }), "{error:?}");
}

async fn unknown_products_and_locales_are_named(db: SqlDatabase) {
    base_shop(&db).await;
    let mark = outbox_mark(&db).await;
    let mut broken = review("999", 3, ReviewStatus::Approved);
    broken.locale = locale("fr_FR");
    let error = ResourceRepository::<ProductReviewAttributes>::create(&db, &valid(broken))
        .await
        .expect_err("unknown references");
    let DomainError::Validation(fields) = error else {
        panic!("expected a validation error, got {error:?}")
    };
    let pointers: Vec<&str> = fields.iter().map(|field| field.pointer.as_str()).collect();
    assert_eq!(pointers, ["/abstractSku", "/locale"]);
    assert!(outbox_since(&db, mark).await.is_empty());
}

async fn reviews_list_by_status_and_sku(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "100", &[]).await;
    insert_product(&db, "200", &[]).await;
    for (sku, status) in [
        ("100", ReviewStatus::Pending),
        ("100", ReviewStatus::Approved),
        ("200", ReviewStatus::Pending),
        ("200", ReviewStatus::Rejected),
    ] {
        create(&db, review(sku, 3, status)).await;
    }
    let service = ResourceService::<ProductReviewAttributes>::new(Arc::new(db.clone()));
    let listed = |sku: Option<&str>, status: Option<&str>| ListQuery {
        sku: sku.map(str::to_owned),
        status: status.map(str::to_owned),
        ..ListQuery::default()
    };
    let pending = service.list(&listed(None, Some("pending"))).await.expect("list");
    assert_eq!(pending.total, 2);
    let of_200 = service.list(&listed(Some("200"), Some("pending"))).await.expect("list");
    assert_eq!(of_200.total, 1);
    assert_eq!(of_200.items[0].attributes.abstract_sku.as_str(), "200");
    let error = service
        .list(&listed(None, Some("spam")))
        .await
        .expect_err("unknown status");
    assert_eq!(
        error.to_string(),
        "invalid input: filter[status]: must be one of pending, approved, rejected"
    );
}

async fn storefront_submissions_are_pending_and_checked(db: SqlDatabase) {
    base_shop(&db).await;
    insert_product(&db, "100", &[]).await;
    let service = ReviewService::new(Arc::new(db.clone()));
    let submit = |sku: &str, rating: i64, nickname: &str| ReviewCommand::Submit {
        customer_reference: "DE--7".to_owned(),
        locale: "de_DE".to_owned(),
        abstract_sku: sku.to_owned(),
        review: ReviewInput {
            rating,
            nickname: nickname.to_owned(),
            summary: "Gut".to_owned(),
            description: None,
        },
    };
    let reply = service.execute(submit("100", 5, "Max")).await.expect("stored");
    let GatewayReply::Review(view) = reply else {
        panic!("expected a review, got {reply:?}")
    };
    let stored = ResourceRepository::<ProductReviewAttributes>::get(&db, view.id.parse::<i64>().expect("id").into())
        .await
        .expect("stored");
    assert_eq!(stored.attributes.status, ReviewStatus::Pending);
    assert_eq!(stored.attributes.customer_reference, "DE--7");
    assert_eq!(stored.attributes.locale.as_str(), "de_DE");

    let GatewayError::Rejected(rejections) = service.execute(submit("100", 6, " ")).await.expect_err("invalid") else {
        panic!("expected rejections")
    };
    let found: Vec<(&str, Option<&str>)> = rejections
        .iter()
        .map(|rejection| (rejection.code.as_str(), rejection.pointer.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("901", Some("/data/attributes/nickname")),
            ("901", Some("/data/attributes/rating"))
        ]
    );
    let GatewayError::Rejected(rejections) = service.execute(submit("404", 5, "Max")).await.expect_err("unknown")
    else {
        panic!("expected a rejection")
    };
    assert_eq!(rejections[0].code, "301");
    let all = ResourceRepository::<ProductReviewAttributes>::list(&db, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(all.total, 1, "refused submissions store nothing");
}

repo_test_suite!(
    reviews_round_trip_and_route_by_product,
    unknown_products_and_locales_are_named,
    reviews_list_by_status_and_sku,
    storefront_submissions_are_pending_and_checked,
);
