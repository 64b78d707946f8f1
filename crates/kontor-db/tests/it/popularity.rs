//! Product popularity: units ordered per product in the window, recounted from the order items; only
//! changed counts are written and re-published, and a product whose orders left the window drops out.

use crate::fixtures::*;
use crate::pricing::insert_product;
use kontor_db::entity::orders::{sales_order, sales_order_item};
use kontor_db::entity::product_abstract_popularity;
use kontor_db::{POPULARITY_OUTBOX, PopularityRefresh, SqlDatabase};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};

/// An order placed at `created_at` (epoch microseconds) with one line per (abstract SKU, quantity).
async fn order(db: &SqlDatabase, store_id: i64, number: i64, created_at: i64, lines: &[(&str, i64)]) {
    let order = sales_order::ActiveModel {
        order_reference: Set(format!("DE--{number}")),
        store_id: Set(store_id),
        owner_key: Set(format!("g:{number}")),
        customer_reference: Set(None),
        idempotency_key: Set(None),
        email: Set("guest@example.com".to_owned()),
        salutation: Set(None),
        first_name: Set("Erika".to_owned()),
        last_name: Set("Muster".to_owned()),
        locale: Set("de_DE".to_owned()),
        currency_code: Set("EUR".to_owned()),
        price_mode: Set("GROSS_MODE".to_owned()),
        subtotal: Set(0),
        expense_total: Set(0),
        tax_total: Set(0),
        grand_total: Set(0),
        canceled_total: Set(0),
        refunded_total: Set(0),
        created_at: Set(created_at),
        updated_at: Set(created_at),
        ..Default::default()
    }
    .insert(db.connection())
    .await
    .expect("order");
    for (line, (sku, quantity)) in lines.iter().enumerate() {
        sales_order_item::ActiveModel {
            uuid: Set(format!("{number}-{line}")),
            order_id: Set(order.id),
            shipment_id: Set(None),
            sku: Set(format!("{sku}_1")),
            abstract_sku: Set((*sku).to_owned()),
            name: Set((*sku).to_owned()),
            quantity: Set(*quantity),
            unit_price: Set(1000),
            sum_price: Set(1000 * quantity),
            tax_rate_basis_points: Set(1900),
            sum_tax_amount: Set(0),
            canceled_amount: Set(0),
            refunded_amount: Set(0),
            oms_process: Set("Kontor01".to_owned()),
            oms_state: Set("new".to_owned()),
            oms_state_entered_at: Set(created_at),
            oms_last_checked_at: Set(None),
            ..Default::default()
        }
        .insert(db.connection())
        .await
        .expect("order item");
    }
}

async fn stored(db: &SqlDatabase) -> Vec<(i64, i64)> {
    product_abstract_popularity::Entity::find()
        .order_by_asc(product_abstract_popularity::Column::ProductAbstractId)
        .all(db.connection())
        .await
        .expect("popularity")
        .into_iter()
        .map(|row| (row.product_abstract_id, row.units_sold))
        .collect()
}

async fn units_sold_are_recounted_and_only_changes_are_published(db: SqlDatabase) {
    let store = base_shop(&db).await;
    let (jacket, _) = insert_product(&db, "100", &[]).await;
    let (tent, _) = insert_product(&db, "200", &[]).await;
    let (_, _) = insert_product(&db, "300", &[]).await;
    let day = 86_400_000_000_i64;
    let now = 100 * day;
    order(&db, store.id.0, 1, now - day, &[("100", 2), ("200", 1)]).await;
    order(&db, store.id.0, 2, now - 2 * day, &[("100", 2), ("100", 3)]).await;
    order(&db, store.id.0, 3, now - 40 * day, &[("300", 9)]).await;
    // A line of a product deleted since counts for nobody.
    order(&db, store.id.0, 4, now - day, &[("gone", 5)]).await;

    let mark = outbox_mark(&db).await;
    let first = db.refresh_popularity(now - 30 * day).await.expect("refresh");
    assert_eq!(
        first,
        PopularityRefresh {
            products: 2,
            changed: 2
        }
    );
    assert_eq!(
        stored(&db).await,
        [(jacket, 7), (tent, 1)],
        "the 40-day-old order is outside the window"
    );
    let mut published = outbox_since(&db, mark).await;
    published.sort();
    assert_eq!(
        published,
        [
            (POPULARITY_OUTBOX.to_owned(), jacket, "update".to_owned()),
            (POPULARITY_OUTBOX.to_owned(), tent, "update".to_owned())
        ]
    );

    let mark = outbox_mark(&db).await;
    let again = db.refresh_popularity(now - 30 * day).await.expect("refresh");
    assert_eq!(
        again,
        PopularityRefresh {
            products: 2,
            changed: 0
        }
    );
    assert!(
        outbox_since(&db, mark).await.is_empty(),
        "nothing changed, nothing published"
    );

    // A narrower window drops order 2: the jacket's count changes, the tent's does not.
    let mark = outbox_mark(&db).await;
    let narrower = db.refresh_popularity(now - day - day / 2).await.expect("refresh");
    assert_eq!(
        narrower,
        PopularityRefresh {
            products: 2,
            changed: 1
        }
    );
    assert_eq!(stored(&db).await, [(jacket, 2), (tent, 1)]);
    // Half a day: only a new order of the tent counts, and the jacket drops out.
    order(&db, store.id.0, 5, now, &[("200", 1)]).await;
    let later = db.refresh_popularity(now - day / 2).await.expect("refresh");
    assert_eq!(
        later,
        PopularityRefresh {
            products: 1,
            changed: 1
        }
    );
    assert_eq!(stored(&db).await, [(tent, 1)]);
    let published: Vec<i64> = outbox_since(&db, mark).await.into_iter().map(|(_, id, _)| id).collect();
    assert_eq!(published, [jacket, jacket]);
}

repo_test_suite!(units_sold_are_recounted_and_only_changes_are_published);
