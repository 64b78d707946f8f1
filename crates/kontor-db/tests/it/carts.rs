//! Carts end to end through `CartService` on each SQL backend: multi-carts, guest carts and their merge,
//! ownership, availability, pricing and totals, concurrent adds, idempotency keys and the purge of stale
//! guest carts and expired keys.

use crate::fixtures::*;
use crate::pricing::insert_product;
use chrono::{DateTime, Utc};
use kontor_core::{Clock, Sku};
use kontor_db::SqlDatabase;
use kontor_db::entity::carts::cart_idempotency_key;
use kontor_db::entity::{price_product, product_abstract, product_abstract_store, product_concrete, store_currency};
use kontor_domain::cart::{CartCatalog, CartService, DEFAULT_GUEST_CART_LIFETIME, IDEMPOTENCY_KEY_LIFETIME, PriceMode};
use kontor_domain::gateway::{
    Cart, CartChanges, CartCommand, CartInput, CartOwner, GatewayError, GatewayReply, ItemInput,
};
use kontor_domain::pricing::{PriceAttributes, VolumePrice, encode_volume_prices};
use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
use kontor_domain::store::StoreAttributes;
use kontor_domain::tax::{TaxRateAttributes, TaxSetAttributes};
use kontor_testkit::repo_test_suite;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A clock the test moves by hand, shared by the database (timestamps) and the service (purge cutoff).
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock");
        *now += chrono::Duration::from_std(by).expect("duration");
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

fn customer(reference: &str) -> CartOwner {
    CartOwner::Customer(reference.to_owned())
}

fn guest(id: &str) -> CartOwner {
    CartOwner::Guest(id.to_owned())
}

fn price(
    abstract_sku: Option<&str>,
    concrete_sku: Option<&str>,
    code: &str,
    net: Option<i64>,
    gross: Option<i64>,
) -> PriceAttributes {
    PriceAttributes {
        abstract_sku: abstract_sku.map(|sku| Sku::parse(sku).expect("sku")),
        concrete_sku: concrete_sku.map(|sku| Sku::parse(sku).expect("sku")),
        price_type: "DEFAULT".to_owned(),
        store: store_name("DE"),
        currency: currency(code),
        net_amount: net,
        gross_amount: gross,
        volume_prices: Vec::new(),
    }
}

fn stock(sku: &str, quantity: i64, never_out: bool) -> StockAttributes {
    StockAttributes {
        sku: Sku::parse(sku).expect("sku"),
        warehouse: "Warehouse1".to_owned(),
        quantity,
        is_never_out_of_stock: never_out,
    }
}

/// An abstract product sold in DE, taxed by `tax_set_id`.
async fn product(db: &SqlDatabase, abstract_sku: &str, concretes: &[&str], tax_set_id: i64, store_id: i64) {
    let (abstract_id, _) = insert_product(db, abstract_sku, concretes).await;
    let mut row: product_abstract::ActiveModel = product_abstract::Entity::find_by_id(abstract_id)
        .one(db.connection())
        .await
        .expect("read")
        .expect("product")
        .into();
    row.tax_set_id = Set(Some(tax_set_id));
    row.update(db.connection()).await.expect("tax set");
    product_abstract_store::ActiveModel {
        product_abstract_id: Set(abstract_id),
        store_id: Set(store_id),
    }
    .insert(db.connection())
    .await
    .expect("store link");
}

/// Store DE (EUR, CHF) with a 19 % tax set and:
/// - `100_blue` (5 in stock), `100_red` (10), abstract `100` at 1190 gross / 1000 net EUR, 1100 gross CHF;
///   `100_red` has its own gross EUR price 2000 (its net falls back to the abstract's 1000);
/// - `200_a`: never out of stock, own price 1999 gross / 1680 net EUR;
/// - `300_off`: inactive, priced; `400_free`: no price at all, in stock.
async fn shop(db: SqlDatabase) -> (CartService, Arc<TestClock>, SqlDatabase) {
    let clock = Arc::new(TestClock(Mutex::new(
        DateTime::from_timestamp(1_780_000_000, 0).expect("time"),
    )));
    let db = db.with_clock(clock.clone());
    let store = base_shop(&db).await;
    let taxes = create(
        &db,
        TaxSetAttributes {
            name: "Standard".to_owned(),
            rates: vec![
                TaxRateAttributes::from_basis_points("DE".to_owned(), "Germany".to_owned(), 1900),
                TaxRateAttributes::from_basis_points("AT".to_owned(), "Austria".to_owned(), 2000),
            ],
        },
    )
    .await;
    let (tax_set_id, store_id) = (taxes.id.0, store.id.0);
    product(&db, "100", &["100_blue", "100_red"], tax_set_id, store_id).await;
    product(&db, "200", &["200_a"], tax_set_id, store_id).await;
    product(&db, "300", &["300_off"], tax_set_id, store_id).await;
    product(&db, "400", &["400_free"], tax_set_id, store_id).await;
    let mut inactive: product_concrete::ActiveModel = product_concrete::Entity::find()
        .filter(product_concrete::Column::Sku.eq("300_off"))
        .one(db.connection())
        .await
        .expect("read")
        .expect("concrete")
        .into();
    inactive.is_active = Set(false);
    inactive.update(db.connection()).await.expect("deactivate");

    for attributes in [
        price(Some("100"), None, "EUR", Some(1000), Some(1190)),
        price(Some("100"), None, "CHF", None, Some(1100)),
        price(None, Some("100_red"), "EUR", None, Some(2000)),
        price(None, Some("200_a"), "EUR", Some(1680), Some(1999)),
        price(Some("300"), None, "EUR", Some(100), Some(119)),
    ] {
        create(&db, attributes).await;
    }
    create(
        &db,
        WarehouseAttributes {
            name: "Warehouse1".to_owned(),
            is_active: true,
            stores: vec![store_name("DE")],
        },
    )
    .await;
    for attributes in [
        stock("100_blue", 5, false),
        stock("100_red", 10, false),
        stock("200_a", 0, true),
        stock("300_off", 10, false),
        stock("400_free", 10, false),
    ] {
        create(&db, attributes).await;
    }
    let service = CartService::new(Arc::new(db.clone()), Arc::new(db.clone())).with_clock(clock.clone());
    (service, clock, db)
}

fn cart_of(reply: Result<GatewayReply, GatewayError>) -> Cart {
    match reply {
        Ok(GatewayReply::Cart(cart)) => cart,
        other => panic!("expected a cart, got {other:?}"),
    }
}

fn carts_of(reply: Result<GatewayReply, GatewayError>) -> Vec<Cart> {
    match reply {
        Ok(GatewayReply::Carts(carts)) => carts,
        other => panic!("expected carts, got {other:?}"),
    }
}

/// `(code, pointer)` of every rejection; panics on anything but a rejection.
fn rejection_codes(reply: Result<GatewayReply, GatewayError>) -> Vec<(String, Option<String>)> {
    match reply {
        Err(GatewayError::Rejected(rejections)) => rejections
            .into_iter()
            .map(|rejection| (rejection.code, rejection.pointer))
            .collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn rejection_detail(reply: Result<GatewayReply, GatewayError>) -> (String, String) {
    match reply {
        Err(GatewayError::Rejected(rejections)) if rejections.len() == 1 => {
            (rejections[0].code.clone(), rejections[0].detail.clone())
        }
        other => panic!("expected one rejection, got {other:?}"),
    }
}

fn code(code: &str, pointer: Option<&str>) -> (String, Option<String>) {
    (code.to_owned(), pointer.map(str::to_owned))
}

fn new_cart(name: Option<&str>, currency: &str, mode: &str) -> CartInput {
    CartInput {
        name: name.map(str::to_owned),
        price_mode: Some(mode.to_owned()),
        currency: Some(currency.to_owned()),
        store: Some("DE".to_owned()),
    }
}

async fn create_cart(service: &CartService, owner: &CartOwner, cart: CartInput) -> Cart {
    cart_of(
        service
            .execute(CartCommand::CreateCart {
                owner: owner.clone(),
                store: "DE".to_owned(),
                cart,
                idempotency_key: None,
            })
            .await,
    )
}

async fn add(
    service: &CartService,
    owner: &CartOwner,
    cart_id: Option<&str>,
    sku: &str,
    quantity: u32,
) -> Result<GatewayReply, GatewayError> {
    service
        .execute(CartCommand::AddItem {
            owner: owner.clone(),
            store: "DE".to_owned(),
            cart_id: cart_id.map(str::to_owned),
            item: ItemInput {
                sku: sku.to_owned(),
                quantity,
            },
            idempotency_key: None,
        })
        .await
}

/// [`add`] with an `Idempotency-Key`.
async fn add_once(
    service: &CartService,
    owner: &CartOwner,
    cart_id: Option<&str>,
    sku: &str,
    quantity: u32,
    key: &str,
) -> Result<GatewayReply, GatewayError> {
    service
        .execute(CartCommand::AddItem {
            owner: owner.clone(),
            store: "DE".to_owned(),
            cart_id: cart_id.map(str::to_owned),
            item: ItemInput {
                sku: sku.to_owned(),
                quantity,
            },
            idempotency_key: Some(key.to_owned()),
        })
        .await
}

async fn update_item(
    service: &CartService,
    owner: &CartOwner,
    cart_id: &str,
    group_key: &str,
    quantity: u32,
) -> Result<GatewayReply, GatewayError> {
    service
        .execute(CartCommand::UpdateItem {
            owner: owner.clone(),
            cart_id: cart_id.to_owned(),
            group_key: group_key.to_owned(),
            quantity,
        })
        .await
}

async fn get(service: &CartService, owner: &CartOwner, cart_id: &str) -> Result<GatewayReply, GatewayError> {
    service
        .execute(CartCommand::GetCart {
            owner: owner.clone(),
            cart_id: cart_id.to_owned(),
        })
        .await
}

async fn list(service: &CartService, owner: &CartOwner) -> Vec<Cart> {
    carts_of(
        service
            .execute(CartCommand::ListCarts {
                owner: owner.clone(),
                store: "DE".to_owned(),
            })
            .await,
    )
}

fn quantities(cart: &Cart) -> Vec<(String, u32)> {
    cart.items
        .iter()
        .map(|item| (item.group_key.clone(), item.quantity))
        .collect()
}

async fn customers_create_list_update_and_delete_carts(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let weekly = create_cart(&service, &erika, new_cart(Some("Weekly"), "EUR", "GROSS_MODE")).await;
    assert!(weekly.is_default, "the first cart is the default");
    assert_eq!(
        (
            weekly.name.as_str(),
            weekly.currency.as_str(),
            weekly.price_mode.as_str(),
            weekly.store.as_str()
        ),
        ("Weekly", "EUR", "GROSS_MODE", "DE")
    );
    assert!(weekly.items.is_empty());
    let party = create_cart(&service, &erika, new_cart(None, "CHF", "NET_MODE")).await;
    assert!(!party.is_default);
    assert_eq!(party.name, "My Cart", "a cart without a name gets the default name");

    let carts = list(&service, &erika).await;
    let ids: Vec<&str> = carts.iter().map(|cart| cart.id.as_str()).collect();
    assert_eq!(ids, [weekly.id.as_str(), party.id.as_str()], "default first");
    assert!(list(&service, &customer("DE--2")).await.is_empty());

    let renamed = cart_of(
        service
            .execute(CartCommand::UpdateCart {
                owner: erika.clone(),
                cart_id: party.id.clone(),
                changes: CartChanges {
                    name: Some("Party".to_owned()),
                    currency: Some("EUR".to_owned()),
                    ..CartChanges::default()
                },
            })
            .await,
    );
    assert_eq!((renamed.name.as_str(), renamed.currency.as_str()), ("Party", "EUR"));
    assert_eq!(cart_of(get(&service, &erika, &party.id).await), renamed);

    let deleted = service
        .execute(CartCommand::DeleteCart {
            owner: erika.clone(),
            cart_id: weekly.id.clone(),
        })
        .await;
    assert_eq!(deleted, Ok(GatewayReply::Done));
    let carts = list(&service, &erika).await;
    assert_eq!(carts.len(), 1);
    assert!(carts[0].is_default, "the remaining cart becomes the default");
    // The last cart may go too (Glue allows it).
    let deleted = service
        .execute(CartCommand::DeleteCart {
            owner: erika.clone(),
            cart_id: party.id.clone(),
        })
        .await;
    assert_eq!(deleted, Ok(GatewayReply::Done));
    assert!(list(&service, &erika).await.is_empty());
    assert_eq!(
        rejection_codes(get(&service, &erika, &party.id).await),
        [code("101", None)]
    );
}

async fn cart_input_is_validated_with_glue_codes(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let create = |cart: CartInput, store: &str| CartCommand::CreateCart {
        owner: erika.clone(),
        store: store.to_owned(),
        cart,
        idempotency_key: None,
    };
    let missing = CartInput {
        name: Some("x".repeat(256)),
        price_mode: None,
        currency: None,
        store: None,
    };
    assert_eq!(
        rejection_codes(service.execute(create(missing, "DE")).await),
        [
            code("901", Some("/data/attributes/name")),
            code("118", Some("/data/attributes/priceMode")),
            code("116", Some("/data/attributes/currency")),
        ]
    );
    assert_eq!(
        rejection_codes(service.execute(create(new_cart(None, "USD", "BRUTTO"), "DE")).await),
        [
            code("119", Some("/data/attributes/priceMode")),
            code("117", Some("/data/attributes/currency")),
        ]
    );
    assert_eq!(
        rejection_codes(service.execute(create(new_cart(None, "EUR", "GROSS_MODE"), "XX")).await),
        [code("112", None)]
    );
    let guest_create = CartCommand::CreateCart {
        owner: guest("anon-1"),
        store: "DE".to_owned(),
        cart: new_cart(None, "EUR", "GROSS_MODE"),
        idempotency_key: None,
    };
    assert_eq!(
        rejection_codes(service.execute(guest_create).await),
        [code("107", None)]
    );
    assert_eq!(
        rejection_codes(
            service
                .execute(CartCommand::ListCarts {
                    owner: guest(""),
                    store: "DE".to_owned()
                })
                .await
        ),
        [code("109", None)]
    );
    assert!(list(&service, &erika).await.is_empty(), "nothing was created");
}

async fn someone_elses_cart_is_not_found(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let cart = cart_of(add(&service, &erika, None, "100_blue", 1).await);
    let not_found = [code("101", None)];
    for intruder in [customer("DE--2"), guest("anon-1")] {
        assert_eq!(rejection_codes(get(&service, &intruder, &cart.id).await), not_found);
        assert_eq!(
            rejection_codes(add(&service, &intruder, Some(&cart.id), "100_blue", 1).await),
            not_found
        );
        assert_eq!(
            rejection_codes(update_item(&service, &intruder, &cart.id, "100_blue", 2).await),
            not_found
        );
        let remove = CartCommand::RemoveItem {
            owner: intruder.clone(),
            cart_id: cart.id.clone(),
            group_key: "100_blue".to_owned(),
        };
        assert_eq!(rejection_codes(service.execute(remove).await), not_found);
        let update = CartCommand::UpdateCart {
            owner: intruder.clone(),
            cart_id: cart.id.clone(),
            changes: CartChanges {
                name: Some("Mine now".to_owned()),
                ..CartChanges::default()
            },
        };
        assert_eq!(rejection_codes(service.execute(update).await), not_found);
        let delete = CartCommand::DeleteCart {
            owner: intruder.clone(),
            cart_id: cart.id.clone(),
        };
        assert_eq!(rejection_codes(service.execute(delete).await), not_found);
        assert!(list(&service, &intruder).await.is_empty());
    }
    assert_eq!(cart_of(get(&service, &erika, &cart.id).await), cart, "untouched");
}

async fn adding_a_sku_again_adds_to_its_quantity_in_the_default_cart(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let created = cart_of(add(&service, &erika, None, "100_blue", 2).await);
    assert_eq!(
        (
            created.name.as_str(),
            created.currency.as_str(),
            created.price_mode.as_str(),
            created.is_default
        ),
        ("My Cart", "EUR", "GROSS_MODE", true),
        "the first add creates the default cart with the store's defaults"
    );
    let again = cart_of(add(&service, &erika, None, "100_blue", 1).await);
    assert_eq!(again.id, created.id);
    let again = cart_of(add(&service, &erika, Some(&created.id), "200_a", 1).await);
    assert_eq!(
        quantities(&again),
        [("100_blue".to_owned(), 3), ("200_a".to_owned(), 1)]
    );
    assert_eq!(again.items[0].abstract_sku, "100");
    assert_eq!(list(&service, &erika).await.len(), 1);

    // A second cart that is not the default does not receive `cart_id: None` adds.
    let other = create_cart(&service, &erika, new_cart(Some("Other"), "EUR", "GROSS_MODE")).await;
    let default = cart_of(add(&service, &erika, None, "100_red", 1).await);
    assert_eq!(default.id, created.id);
    assert!(cart_of(get(&service, &erika, &other.id).await).items.is_empty());

    assert_eq!(
        rejection_codes(add(&service, &erika, None, "100_blue", 0).await),
        [code("901", Some("/data/attributes/quantity"))]
    );
}

async fn quantities_stay_within_availability_unless_never_out_of_stock(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let cart = cart_of(add(&service, &erika, None, "100_blue", 3).await);
    let (code, detail) = rejection_detail(add(&service, &erika, Some(&cart.id), "100_blue", 3).await);
    assert_eq!(code, "113");
    assert!(detail.contains("100_blue") && detail.contains('5'), "{detail}");
    assert_eq!(
        quantities(&cart_of(get(&service, &erika, &cart.id).await)),
        [("100_blue".to_owned(), 3)]
    );
    assert_eq!(
        rejection_detail(add(&service, &erika, None, "100_blue", 6).await).0,
        "113"
    );

    let (code, detail) = rejection_detail(update_item(&service, &erika, &cart.id, "100_blue", 6).await);
    assert_eq!(code, "114");
    assert!(detail.contains("100_blue"), "{detail}");
    let full = cart_of(update_item(&service, &erika, &cart.id, "100_blue", 5).await);
    assert_eq!(quantities(&full), [("100_blue".to_owned(), 5)]);
    let fewer = cart_of(update_item(&service, &erika, &cart.id, "100_blue", 2).await);
    assert_eq!(quantities(&fewer), [("100_blue".to_owned(), 2)]);

    let plenty = cart_of(add(&service, &erika, None, "200_a", 100_000).await);
    assert_eq!(quantities(&plenty)[1], ("200_a".to_owned(), 100_000));
}

async fn unknown_inactive_and_unpriced_skus_are_refused_by_name(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    for sku in ["nope_42", "300_off", "400_free", "not a sku"] {
        let (code, detail) = rejection_detail(add(&service, &erika, None, sku, 1).await);
        assert_eq!(code, "113", "{sku}");
        assert!(detail.contains(sku), "{detail}");
    }
    assert!(
        list(&service, &erika).await.is_empty(),
        "a refused first add creates no cart"
    );
    // `100_red` has no CHF price of its own but its abstract has one; `200_a` has none in CHF.
    let chf = create_cart(&service, &erika, new_cart(None, "CHF", "GROSS_MODE")).await;
    assert!(add(&service, &erika, Some(&chf.id), "100_red", 1).await.is_ok());
    let (code, detail) = rejection_detail(add(&service, &erika, Some(&chf.id), "200_a", 1).await);
    assert_eq!(code, "113");
    assert!(detail.contains("200_a") && detail.contains("CHF"), "{detail}");
}

async fn price_mode_is_locked_once_a_cart_has_items_and_currency_reprices(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let empty = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    let to_net = |cart_id: &str| CartCommand::UpdateCart {
        owner: erika.clone(),
        cart_id: cart_id.to_owned(),
        changes: CartChanges {
            price_mode: Some("NET_MODE".to_owned()),
            ..CartChanges::default()
        },
    };
    let net = cart_of(service.execute(to_net(&empty.id)).await);
    assert_eq!(net.price_mode, "NET_MODE", "an empty cart may switch");
    let filled = cart_of(add(&service, &erika, Some(&empty.id), "100_blue", 1).await);
    assert_eq!(filled.totals.subtotal, 1000);
    let back_to_gross = CartCommand::UpdateCart {
        owner: erika.clone(),
        cart_id: empty.id.clone(),
        changes: CartChanges {
            price_mode: Some("GROSS_MODE".to_owned()),
            ..CartChanges::default()
        },
    };
    assert_eq!(
        rejection_codes(service.execute(back_to_gross).await),
        [code("111", Some("/data/attributes/priceMode"))]
    );
    let bad_currency = CartCommand::UpdateCart {
        owner: erika.clone(),
        cart_id: empty.id.clone(),
        changes: CartChanges {
            currency: Some("USD".to_owned()),
            ..CartChanges::default()
        },
    };
    assert_eq!(
        rejection_codes(service.execute(bad_currency).await),
        [code("117", Some("/data/attributes/currency"))]
    );

    let gross = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    let gross = cart_of(add(&service, &erika, Some(&gross.id), "100_blue", 2).await);
    assert_eq!(gross.totals.grand_total, 2380);
    let to_chf = CartCommand::UpdateCart {
        owner: erika.clone(),
        cart_id: gross.id.clone(),
        changes: CartChanges {
            currency: Some("CHF".to_owned()),
            ..CartChanges::default()
        },
    };
    let in_chf = cart_of(service.execute(to_chf).await);
    assert_eq!(in_chf.currency, "CHF");
    assert_eq!(
        in_chf.items[0].calculations.unit_price, 1100,
        "re-priced in the new currency"
    );
    assert_eq!(in_chf.totals.grand_total, 2200);
}

async fn gross_and_net_totals_have_exact_figures(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    let gross = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    add(&service, &erika, Some(&gross.id), "100_blue", 3)
        .await
        .expect("add");
    add(&service, &erika, Some(&gross.id), "100_red", 1).await.expect("add");
    let gross = cart_of(add(&service, &erika, Some(&gross.id), "200_a", 3).await);
    let blue = &gross.items[0].calculations;
    assert_eq!(blue.tax_rate.to_string(), "19");
    assert_eq!(
        (
            blue.unit_price,
            blue.unit_gross_price,
            blue.unit_tax_amount_full_aggregation,
            blue.unit_net_price
        ),
        (1190, 1190, 190, 1000)
    );
    assert_eq!(
        (
            blue.sum_price,
            blue.sum_gross_price,
            blue.sum_tax_amount_full_aggregation,
            blue.sum_net_price
        ),
        (3570, 3570, 570, 3000)
    );
    // The concrete's own price wins over the abstract's: 2000 × 19 / 119 = 319.33 → 319.
    let red = &gross.items[1].calculations;
    assert_eq!(
        (red.unit_price, red.sum_tax_amount_full_aggregation, red.sum_net_price),
        (2000, 319, 1681)
    );
    // Tax on the sum, not the rounded unit tax × 3: 5997 × 19 / 119 = 957.50… → 958 (3 × 319 would be 957).
    let a = &gross.items[2].calculations;
    assert_eq!(
        (
            a.unit_tax_amount_full_aggregation,
            a.sum_price,
            a.sum_tax_amount_full_aggregation
        ),
        (319, 5997, 958)
    );
    assert_eq!(gross.totals.subtotal, 3570 + 2000 + 5997);
    assert_eq!(gross.totals.tax_total, 570 + 319 + 958);
    assert_eq!(gross.totals.grand_total, 11_567);
    assert_eq!(gross.totals.price_to_pay, 11_567);
    assert_eq!((gross.totals.discount_total, gross.totals.expense_total), (0, 0));

    let net = create_cart(&service, &erika, new_cart(None, "EUR", "NET_MODE")).await;
    add(&service, &erika, Some(&net.id), "100_blue", 3).await.expect("add");
    let net = cart_of(add(&service, &erika, Some(&net.id), "100_red", 1).await);
    let blue = &net.items[0].calculations;
    assert_eq!(
        (
            blue.unit_price,
            blue.unit_net_price,
            blue.unit_tax_amount_full_aggregation,
            blue.unit_gross_price
        ),
        (1000, 1000, 190, 1190)
    );
    assert_eq!(
        (
            blue.sum_price,
            blue.sum_tax_amount_full_aggregation,
            blue.sum_gross_price
        ),
        (3000, 570, 3570)
    );
    assert_eq!(blue.sum_price_to_pay_aggregation, 3570);
    // `100_red` has no net price of its own: the abstract's 1000 applies.
    assert_eq!(net.items[1].calculations.unit_price, 1000);
    assert_eq!(net.totals.subtotal, 4000);
    assert_eq!(net.totals.tax_total, 760);
    assert_eq!(net.totals.grand_total, 4760);
    assert_eq!(net.totals.price_to_pay, 4760);
}

async fn items_are_updated_removed_and_unknown_group_keys_are_103(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let erika = customer("DE--1");
    add(&service, &erika, None, "100_blue", 1).await.expect("add");
    let cart = cart_of(add(&service, &erika, None, "100_red", 2).await);
    assert_eq!(
        rejection_codes(update_item(&service, &erika, &cart.id, "nope", 1).await),
        [code("103", None)]
    );
    let removed = cart_of(update_item(&service, &erika, &cart.id, "100_blue", 0).await);
    assert_eq!(
        quantities(&removed),
        [("100_red".to_owned(), 2)],
        "quantity 0 removes the item"
    );
    let remove = || CartCommand::RemoveItem {
        owner: erika.clone(),
        cart_id: cart.id.clone(),
        group_key: "100_red".to_owned(),
    };
    assert_eq!(service.execute(remove()).await, Ok(GatewayReply::Done));
    assert_eq!(rejection_codes(service.execute(remove()).await), [code("103", None)]);
    let emptied = cart_of(get(&service, &erika, &cart.id).await);
    assert!(emptied.items.is_empty());
    assert_eq!(emptied.totals.grand_total, 0);
}

async fn guest_carts_are_single_and_merge_into_the_customer_default_cart(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let anon = guest("anon-1");
    let first = cart_of(add(&service, &anon, None, "100_blue", 2).await);
    assert!(first.is_default);
    let second = cart_of(add(&service, &anon, None, "200_a", 1).await);
    assert_eq!(second.id, first.id, "a guest has one cart");
    let same = cart_of(add(&service, &anon, Some(&first.id), "100_red", 1).await);
    assert_eq!(same.id, first.id);
    assert_eq!(list(&service, &anon).await.len(), 1);
    assert_eq!(
        rejection_codes(get(&service, &guest("anon-2"), &first.id).await),
        [code("101", None)]
    );

    let erika = customer("DE--1");
    let mine = cart_of(add(&service, &erika, None, "100_blue", 1).await);
    let _second_cart = create_cart(&service, &erika, new_cart(Some("Later"), "EUR", "GROSS_MODE")).await;
    service.merge_guest_cart("anon-1", "DE--1", "DE").await.expect("merge");
    let merged = cart_of(get(&service, &erika, &mine.id).await);
    assert_eq!(
        quantities(&merged),
        [
            ("100_blue".to_owned(), 3),
            ("200_a".to_owned(), 1),
            ("100_red".to_owned(), 1)
        ]
    );
    assert_eq!(
        rejection_codes(get(&service, &anon, &first.id).await),
        [code("101", None)]
    );
    assert!(list(&service, &anon).await.is_empty());
    // Nothing to merge is fine, also twice.
    service
        .merge_guest_cart("anon-1", "DE--1", "DE")
        .await
        .expect("no guest cart");

    // A customer without a cart in the store takes the guest cart over as their default cart.
    let other = guest("anon-3");
    let guest_cart = cart_of(add(&service, &other, None, "100_red", 2).await);
    service.merge_guest_cart("anon-3", "DE--9", "DE").await.expect("merge");
    let taken_over = list(&service, &customer("DE--9")).await;
    assert_eq!(taken_over.len(), 1);
    assert_eq!(taken_over[0].id, guest_cart.id);
    assert!(taken_over[0].is_default);
    assert_eq!(quantities(&taken_over[0]), [("100_red".to_owned(), 2)]);
    assert!(list(&service, &other).await.is_empty());
}

async fn concurrent_adds_never_lose_a_quantity(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let service = Arc::new(service);
    let erika = customer("DE--1");
    let cart = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let service = Arc::clone(&service);
        let (owner, cart_id) = (erika.clone(), cart.id.clone());
        tasks.push(tokio::spawn(async move {
            add(&service, &owner, Some(&cart_id), "200_a", 1).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("add");
    }
    assert_eq!(
        quantities(&cart_of(get(&service, &erika, &cart.id).await)),
        [("200_a".to_owned(), 8)]
    );

    // A customer without carts adding from several tabs at once gets one default cart with everything.
    let fresh = customer("DE--2");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let service = Arc::clone(&service);
        let owner = fresh.clone();
        tasks.push(tokio::spawn(async move {
            add(&service, &owner, None, "200_a", 2).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("add");
    }
    let carts = list(&service, &fresh).await;
    assert_eq!(carts.len(), 1, "one default cart");
    assert_eq!(quantities(&carts[0]), [("200_a".to_owned(), 12)]);

    // Availability holds under concurrency too: 5 in stock, 8 tries of 1 → exactly 5 succeed.
    let limited = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let service = Arc::clone(&service);
        let (owner, cart_id) = (erika.clone(), limited.id.clone());
        tasks.push(tokio::spawn(async move {
            add(&service, &owner, Some(&cart_id), "100_blue", 1).await.is_ok()
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += usize::from(task.await.expect("task"));
    }
    assert_eq!(accepted, 5);
    assert_eq!(
        quantities(&cart_of(get(&service, &erika, &limited.id).await)),
        [("100_blue".to_owned(), 5)]
    );
}

async fn stale_guest_carts_are_purged(db: SqlDatabase) {
    let (service, clock, _) = shop(db).await;
    let old_guest = guest("anon-old");
    let old = cart_of(add(&service, &old_guest, None, "100_blue", 1).await);
    let other_old_guests = ["anon-old-2", "anon-old-3"].map(guest);
    for other in &other_old_guests {
        cart_of(add(&service, other, None, "100_blue", 1).await);
    }
    let erika = customer("DE--1");
    let customer_cart = cart_of(add(&service, &erika, None, "100_blue", 1).await);
    clock.advance(Duration::from_secs(6 * 24 * 3600));
    let touched_guest = guest("anon-touched");
    cart_of(add(&service, &touched_guest, None, "100_blue", 1).await);
    clock.advance(Duration::from_secs(2 * 24 * 3600));
    let fresh_guest = guest("anon-fresh");
    cart_of(add(&service, &fresh_guest, None, "100_blue", 1).await);

    // Two carts per transaction: the purge takes two batches of old carts and a short last one.
    let purged = service
        .purge_stale_guest_carts(DEFAULT_GUEST_CART_LIFETIME, 2)
        .await
        .expect("purge");
    assert_eq!(purged, 3, "only the guest carts untouched for 8 days");
    for other in &other_old_guests {
        assert!(list(&service, other).await.is_empty());
    }
    assert_eq!(
        rejection_codes(get(&service, &old_guest, &old.id).await),
        [code("101", None)]
    );
    assert_eq!(list(&service, &touched_guest).await.len(), 1);
    assert_eq!(list(&service, &fresh_guest).await.len(), 1);
    assert!(
        get(&service, &erika, &customer_cart.id).await.is_ok(),
        "customer carts are kept"
    );
    // The purged guest starts over with a new cart.
    let again = cart_of(add(&service, &old_guest, None, "100_blue", 1).await);
    assert_ne!(again.id, old.id);
}

async fn volume_prices_price_a_line_by_its_quantity(db: SqlDatabase) {
    let (service, _, db) = shop(db).await;
    // 200_a's own price (1999 gross / 1680 net) gets tiers from 5 (both modes) and 10 (gross only).
    let concrete_id = product_concrete::Entity::find()
        .filter(product_concrete::Column::Sku.eq("200_a"))
        .one(db.connection())
        .await
        .expect("read")
        .expect("concrete")
        .id;
    let tiers = [
        VolumePrice {
            quantity: 10,
            net_amount: None,
            gross_amount: Some(1600),
        },
        VolumePrice {
            quantity: 5,
            net_amount: Some(1500),
            gross_amount: Some(1785),
        },
    ];
    price_product::Entity::update_many()
        .col_expr(
            price_product::Column::VolumePrices,
            Expr::value(encode_volume_prices(&tiers)),
        )
        .filter(price_product::Column::ProductConcreteId.eq(concrete_id))
        .exec(db.connection())
        .await
        .expect("volume prices");
    let erika = customer("DE--1");
    let gross = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    let unit_price_at = |cart: Cart| (cart.items[0].quantity, cart.items[0].calculations.unit_price);
    let line = cart_of(add(&service, &erika, Some(&gross.id), "200_a", 4).await);
    assert_eq!(unit_price_at(line), (4, 1999), "below every tier: the base price");
    let line = cart_of(update_item(&service, &erika, &gross.id, "200_a", 5).await);
    assert_eq!(unit_price_at(line), (5, 1785));
    let line = cart_of(update_item(&service, &erika, &gross.id, "200_a", 12).await);
    assert_eq!(unit_price_at(line.clone()), (12, 1600));
    assert_eq!(line.totals.grand_total, 12 * 1600);
    // In net mode the 10-piece tier has no amount, so 12 pieces cost the 5-piece tier's.
    let net = create_cart(&service, &erika, new_cart(None, "EUR", "NET_MODE")).await;
    let line = cart_of(add(&service, &erika, Some(&net.id), "200_a", 12).await);
    assert_eq!(unit_price_at(line), (12, 1500));
}

async fn idempotent_writes_happen_once_and_repeat_the_first_answer(db: SqlDatabase) {
    let (service, clock, db) = shop(db).await;
    let erika = customer("DE--1");
    let create = |key: &str, name: &str| CartCommand::CreateCart {
        owner: erika.clone(),
        store: "DE".to_owned(),
        cart: new_cart(Some(name), "EUR", "GROSS_MODE"),
        idempotency_key: Some(key.to_owned()),
    };
    let created = cart_of(service.execute(create("create-1", "Weekly")).await);
    let repeated = cart_of(service.execute(create("create-1", "Weekly")).await);
    assert_eq!(repeated, created, "a repeat answers with the first cart");
    assert_eq!(list(&service, &erika).await.len(), 1, "and creates none");
    let (code, detail) = rejection_detail(service.execute(create("create-1", "Party")).await);
    assert_eq!(code, "107");
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    assert_eq!(
        list(&service, &erika).await.len(),
        1,
        "a different request under a used key writes nothing"
    );

    // Adding: the repeat adds nothing and answers as the first time, even after later changes.
    let first = cart_of(add_once(&service, &erika, Some(&created.id), "100_blue", 2, "add-1").await);
    assert_eq!(quantities(&first), [("100_blue".to_owned(), 2)]);
    cart_of(add(&service, &erika, Some(&created.id), "100_blue", 3).await);
    let repeat = cart_of(add_once(&service, &erika, Some(&created.id), "100_blue", 2, "add-1").await);
    assert_eq!(repeat, first, "the first answer, although the cart has changed since");
    assert_eq!(
        quantities(&cart_of(get(&service, &erika, &created.id).await)),
        [("100_blue".to_owned(), 5)],
        "2 + 3, the repeat added nothing (it would exceed the stock of 5)"
    );
    let (code, detail) = rejection_detail(add_once(&service, &erika, Some(&created.id), "100_blue", 1, "add-1").await);
    assert_eq!(code, "113");
    assert!(detail.contains("different request"), "{detail}");

    // Keys are per owner: a guest's key of the same spelling is its own.
    let anon = guest("anon-1");
    let guest_cart = cart_of(add_once(&service, &anon, None, "100_red", 1, "add-1").await);
    assert_eq!(quantities(&guest_cart), [("100_red".to_owned(), 1)]);
    let guest_repeat = cart_of(add_once(&service, &anon, None, "100_red", 1, "add-1").await);
    assert_eq!(
        guest_repeat.id, guest_cart.id,
        "the guest cart created by the first add, not a second one"
    );
    assert_eq!(quantities(&guest_repeat), [("100_red".to_owned(), 1)]);

    // Died after the commit, before the answer was kept: the repeat changes nothing and shows the cart.
    cart_idempotency_key::Entity::update_many()
        .col_expr(cart_idempotency_key::Column::Reply, Expr::value(Option::<String>::None))
        .filter(cart_idempotency_key::Column::OwnerKey.eq("g:anon-1"))
        .exec(db.connection())
        .await
        .expect("forget the answer");
    cart_of(add(&service, &anon, None, "100_red", 2).await);
    let unrecorded = cart_of(add_once(&service, &anon, None, "100_red", 1, "add-1").await);
    assert_eq!(quantities(&unrecorded), [("100_red".to_owned(), 3)]);

    // Keys expire after 24 h: then the same key is a new request, and the purge deletes the old ones.
    clock.advance(IDEMPOTENCY_KEY_LIFETIME + Duration::from_secs(1));
    let fresh = cart_of(add_once(&service, &anon, None, "100_red", 1, "add-1").await);
    assert_eq!(quantities(&fresh), [("100_red".to_owned(), 4)]);
    let stored = || cart_idempotency_key::Entity::find().count(db.connection());
    assert_eq!(
        stored().await.expect("count"),
        3,
        "the guest's expired key was replaced"
    );
    let purged = service.purge_expired_idempotency_keys(1).await.expect("purge");
    assert_eq!(purged, 2, "erika's two expired keys; the guest's renewed key stays");
    assert_eq!(stored().await.expect("count"), 1);
}

async fn concurrent_repeats_of_one_key_write_once(db: SqlDatabase) {
    let (service, _, _) = shop(db).await;
    let service = Arc::new(service);
    let erika = customer("DE--1");
    let cart = create_cart(&service, &erika, new_cart(None, "EUR", "GROSS_MODE")).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let service = Arc::clone(&service);
        let (owner, cart_id) = (erika.clone(), cart.id.clone());
        tasks.push(tokio::spawn(async move {
            cart_of(add_once(&service, &owner, Some(&cart_id), "100_red", 2, "double-click").await)
        }));
    }
    for task in tasks {
        let answer = task.await.expect("task");
        assert_eq!(
            quantities(&answer),
            [("100_red".to_owned(), 2)],
            "every repeat sees the one write"
        );
    }
    assert_eq!(
        quantities(&cart_of(get(&service, &erika, &cart.id).await)),
        [("100_red".to_owned(), 2)]
    );
}

/// The cart catalog's joined reads: store settings (currencies in the store's order, the default first
/// when the store does not list it), and per concrete its abstract SKU, store assignment, tax rate in
/// the store's country, and price (its own, else the abstract's).
async fn the_cart_catalog_reads_stores_and_concretes_with_what_they_join(db: SqlDatabase) {
    let (_service, _clock, db) = shop(db).await;
    let de = db.store_settings("DE").await.expect("read").expect("store DE");
    assert_eq!(
        (
            de.name.as_str(),
            de.currencies.clone(),
            de.default_currency.as_str(),
            de.tax_country.as_str()
        ),
        ("DE", vec!["EUR".to_owned(), "CHF".to_owned()], "EUR", "DE")
    );
    assert_eq!(db.store_settings("XX").await.expect("read"), None);
    // A store whose only listed currency is not its default.
    let store_ch = create(
        &db,
        StoreAttributes {
            name: store_name("CH"),
            default_locale: locale("de_DE"),
            default_currency: currency("CHF"),
            locales: vec![locale("de_DE")],
            currencies: vec![currency("CHF")],
            timezone: "Europe/Zurich".to_owned(),
        },
    )
    .await;
    store_currency::Entity::delete_many()
        .filter(store_currency::Column::StoreId.eq(store_ch.id.0))
        .exec(db.connection())
        .await
        .expect("unlist CHF");
    let ch = db.store_settings("CH").await.expect("read").expect("store CH");
    assert_eq!(
        (ch.currencies, ch.default_currency),
        (vec!["CHF".to_owned()], "CHF".to_owned())
    );

    // `500` is in no store and has no tax set.
    insert_product(&db, "500", &["500_x"]).await;
    create(&db, price(Some("500"), None, "EUR", Some(400), Some(476))).await;
    let skus: Vec<String> = [
        "100_blue", "100_red", "200_a", "300_off", "400_free", "500_x", "missing",
    ]
    .map(str::to_owned)
    .to_vec();
    let items = db
        .catalog_prices(&de, "EUR", PriceMode::Gross, &skus)
        .await
        .expect("catalog");
    let mut seen: Vec<(String, String, bool, bool, Option<i64>, String)> = items
        .into_values()
        .map(|item| {
            (
                item.sku,
                item.abstract_sku,
                item.is_active,
                item.is_in_store,
                item.unit_price,
                item.tax_rate.to_string(),
            )
        })
        .collect();
    seen.sort();
    let row = |sku: &str, abstract_sku: &str, active: bool, in_store: bool, price: Option<i64>, tax: &str| {
        (
            sku.to_owned(),
            abstract_sku.to_owned(),
            active,
            in_store,
            price,
            tax.to_owned(),
        )
    };
    assert_eq!(
        seen,
        vec![
            row("100_blue", "100", true, true, Some(1190), "19"),
            row("100_red", "100", true, true, Some(2000), "19"),
            row("200_a", "200", true, true, Some(1999), "19"),
            row("300_off", "300", false, true, Some(119), "19"),
            row("400_free", "400", true, true, None, "19"),
            row("500_x", "500", true, false, Some(476), "0"),
        ]
    );
    let net = db
        .catalog_prices(&de, "EUR", PriceMode::Net, &skus[..2])
        .await
        .expect("catalog");
    assert_eq!(
        (net["100_blue"].unit_price, net["100_red"].unit_price),
        (Some(1000), Some(1000)),
        "100_red has no net price of its own, so its abstract's applies"
    );
}

repo_test_suite!(
    the_cart_catalog_reads_stores_and_concretes_with_what_they_join,
    customers_create_list_update_and_delete_carts,
    cart_input_is_validated_with_glue_codes,
    someone_elses_cart_is_not_found,
    adding_a_sku_again_adds_to_its_quantity_in_the_default_cart,
    quantities_stay_within_availability_unless_never_out_of_stock,
    unknown_inactive_and_unpriced_skus_are_refused_by_name,
    price_mode_is_locked_once_a_cart_has_items_and_currency_reprices,
    gross_and_net_totals_have_exact_figures,
    items_are_updated_removed_and_unknown_group_keys_are_103,
    guest_carts_are_single_and_merge_into_the_customer_default_cart,
    concurrent_adds_never_lose_a_quantity,
    stale_guest_carts_are_purged,
    volume_prices_price_a_line_by_its_quantity,
    idempotent_writes_happen_once_and_repeat_the_first_answer,
    concurrent_repeats_of_one_key_write_once,
);
