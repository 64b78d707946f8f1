//! Checkout and the order state machine on every SQL backend: concurrent checkouts never oversell and
//! the availability document follows the reservations; an order is driven through Kontor's default
//! process by onEnter events, manual events and timeouts on a test clock; a worker that died after
//! the order was committed loses nothing.

use crate::fixtures::{camera_shop, create};
use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use kontor_core::Clock;
use kontor_db::SqlDatabase;
use kontor_db::entity::orders::{
    oms_event_timeout, oms_product_reservation, payment_method, payment_method_store, sales_order, shipment_method,
    shipment_method_price, shipment_method_store,
};
use kontor_db::entity::{currency, outbox, stock_product, store};
use kontor_domain::cart::CartService;
use kontor_domain::checkout::{CheckoutService, OrderProcesses, OrderRepository, StoredOrder};
use kontor_domain::customer::{Mail, MailError, Mailer};
use kontor_domain::gateway::{
    CartCommand, CartOwner, CheckoutAddress, CheckoutCommand, CheckoutCustomer, CheckoutInput, GatewayError,
    GatewayReply, ItemInput, PaymentSelection, ShipmentSelection,
};
use kontor_domain::oms::builtin::{BuiltinServices, PaymentProviders};
use kontor_domain::oms::{OmsEngine, OmsError, OmsRegistry, OmsRepository, OrderObserver};
use kontor_domain::outbox::RESERVATION_QUANTITY_EVENT;
use kontor_kv::{KvOptions, KvStore, MemoryKv};
use kontor_search::TantivySearchIndex;
use kontor_sync::direct::DirectSync;
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A clock the test moves by hand.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: TimeDelta) {
        *self.0.lock().expect("clock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

/// Keeps the mails sent; while `failing` is set it refuses them, as a mail server that is down.
#[derive(Default)]
struct RecordingMailer {
    mails: Mutex<Vec<Mail>>,
    failing: AtomicBool,
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(MailError::Transport("connection refused".to_owned()));
        }
        self.mails.lock().expect("mails").push(mail.clone());
        Ok(())
    }
}

impl RecordingMailer {
    fn subjects(&self) -> Vec<String> {
        self.mails
            .lock()
            .expect("mails")
            .iter()
            .map(|mail| mail.subject.clone())
            .collect()
    }

    /// The mails with this subject.
    fn with_subject(&self, subject: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .expect("mails")
            .iter()
            .filter(|mail| mail.subject == subject)
            .cloned()
            .collect()
    }
}

struct OrderShop {
    db: SqlDatabase,
    clock: Arc<TestClock>,
    mailer: Arc<RecordingMailer>,
    carts: Arc<CartService>,
    checkout: Arc<CheckoutService>,
    engine: OmsEngine,
    tent_abstract_id: i64,
    shipment_method_id: i64,
    /// The storefront's read side, kept across syncs.
    kv: Arc<dyn KvStore>,
    sync: DirectSync,
}

fn registry(db: &SqlDatabase, mailer: Arc<RecordingMailer>) -> Arc<OmsRegistry> {
    let mut registry = OmsRegistry::default();
    kontor_domain::oms::builtin::register(
        &mut registry,
        &BuiltinServices {
            oms: Arc::new(db.clone()),
            mailer,
            payments: PaymentProviders::builtin(),
            shop_name: "Test Shop".to_owned(),
        },
    );
    Arc::new(registry)
}

/// A payment method offered in the store.
async fn payment_method_in(
    connection: &sea_orm::DatabaseConnection,
    store_id: i64,
    key: &str,
    name: &str,
    provider: &str,
) {
    let method = payment_method::ActiveModel {
        method_key: Set(key.to_owned()),
        name: Set(name.to_owned()),
        provider_key: Set(provider.to_owned()),
        provider_name: Set(provider.to_owned()),
        priority: Set(0),
        is_active: Set(true),
        created_at: Set(0),
        updated_at: Set(0),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("payment method");
    payment_method_store::ActiveModel {
        payment_method_id: Set(method.id),
        store_id: Set(store_id),
    }
    .insert(connection)
    .await
    .expect("payment method store");
}

/// The camera shop plus a tent with 10 units in stock, one shipment method and the test payment.
async fn order_shop(db: SqlDatabase) -> OrderShop {
    use kontor_domain::catalog::{ProductAbstractAttributes, ProductConcreteAttributes};
    use kontor_domain::pricing::PriceAttributes;
    use kontor_domain::stock::StockAttributes;
    let clock = Arc::new(TestClock(Mutex::new(
        DateTime::from_timestamp(1_780_000_000, 0).expect("time"),
    )));
    let db = db.with_clock(clock.clone());
    camera_shop(&db).await;
    let tent = create::<ProductAbstractAttributes>(
        &db,
        json!({"sku": "200", "stores": ["DE"], "localizedAttributes": {"en_US": {"name": "Tent"}, "de_DE": {"name": "Zelt"}}}),
    )
    .await;
    create::<ProductConcreteAttributes>(&db, json!({"sku": "200_tent", "abstractSku": "200"})).await;
    create::<PriceAttributes>(
        &db,
        json!({"abstractSku": "200", "store": "DE", "currency": "EUR", "grossAmount": 5000, "netAmount": 4202}),
    )
    .await;
    create::<StockAttributes>(&db, json!({"sku": "200_tent", "warehouse": "Main", "quantity": 10})).await;

    let connection = db.connection();
    let store_id = store::Entity::find()
        .one(connection)
        .await
        .expect("read")
        .expect("store")
        .id;
    let eur = currency::Entity::find()
        .one(connection)
        .await
        .expect("read")
        .expect("EUR")
        .id;
    let method = shipment_method::ActiveModel {
        method_key: Set("kt_standard".to_owned()),
        name: Set("Standard".to_owned()),
        carrier_name: Set("Kontor Post".to_owned()),
        delivery_time: Set(None),
        tax_set_id: Set(None),
        is_active: Set(true),
        created_at: Set(0),
        updated_at: Set(0),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("method");
    shipment_method_store::ActiveModel {
        shipment_method_id: Set(method.id),
        store_id: Set(store_id),
    }
    .insert(connection)
    .await
    .expect("method store");
    shipment_method_price::ActiveModel {
        shipment_method_id: Set(method.id),
        store_id: Set(store_id),
        currency_id: Set(eur),
        net_amount: Set(Some(412)),
        gross_amount: Set(Some(490)),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("method price");
    for (key, name, provider) in [
        ("kt-invoice", "Invoice", "DummyPayment"),
        ("kt-online", "Online", "AsyncPay"),
    ] {
        payment_method_in(connection, store_id, key, name, provider).await;
    }

    let mailer = Arc::new(RecordingMailer::default());
    let registry = registry(&db, mailer.clone());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/oms");
    let (processes, warnings) = kontor_oms::ProcessSet::load(
        &[dir],
        &["KontorDefault01".to_owned()],
        registry.as_ref(),
        kontor_oms::Checks::Full,
    )
    .expect("the default process loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    let processes = Arc::new(processes);
    let shared = Arc::new(db.clone());
    let carts = CartService::new(shared.clone(), shared.clone()).with_clock(clock.clone());
    let checkout = CheckoutService::new(
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        OrderProcesses {
            processes: processes.clone(),
            payment_processes: [
                ("DummyPayment/Invoice".to_owned(), "KontorDefault01".to_owned()),
                ("AsyncPay/Online".to_owned(), "KontorDefault01".to_owned()),
            ]
            .into(),
            default_process: None,
            initial_state: "new".to_owned(),
        },
    )
    .with_clock(clock.clone());
    let engine = OmsEngine::new(processes, registry, shared.clone(), shared).with_clock(clock.clone());
    let kv: Arc<dyn KvStore> = Arc::new(MemoryKv::new(KvOptions::default()));
    let sync = DirectSync::new(db.clone(), kv.clone(), Arc::new(TantivySearchIndex::in_memory()));
    OrderShop {
        kv,
        sync,
        db,
        clock,
        mailer,
        carts: Arc::new(carts),
        checkout: Arc::new(checkout),
        engine,
        tent_abstract_id: tent.id.0,
        shipment_method_id: method.id,
    }
}

impl OrderShop {
    async fn guest_cart(&self, guest: &str, quantity: u32) -> String {
        let reply = self
            .carts
            .execute(CartCommand::AddItem {
                owner: CartOwner::Guest(guest.to_owned()),
                store: "DE".to_owned(),
                cart_id: None,
                item: ItemInput {
                    sku: "200_tent".to_owned(),
                    quantity,
                },
                idempotency_key: None,
            })
            .await
            .expect("add to cart");
        match reply {
            GatewayReply::Cart(cart) => cart.id,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn input(&self, cart_id: &str) -> CheckoutInput {
        self.input_paying(cart_id, "Invoice", "DummyPayment")
    }

    fn input_paying(&self, cart_id: &str, method: &str, provider: &str) -> CheckoutInput {
        let address = CheckoutAddress {
            salutation: Some("Ms".to_owned()),
            first_name: Some("Erika".to_owned()),
            last_name: Some("Muster".to_owned()),
            address1: Some("Hauptstraße 5".to_owned()),
            zip_code: Some("10115".to_owned()),
            city: Some("Berlin".to_owned()),
            iso2_code: Some("DE".to_owned()),
            ..CheckoutAddress::default()
        };
        CheckoutInput {
            customer: Some(CheckoutCustomer {
                salutation: Some("Ms".to_owned()),
                email: Some("erika@example.com".to_owned()),
                first_name: Some("Erika".to_owned()),
                last_name: Some("Muster".to_owned()),
            }),
            id_cart: cart_id.to_owned(),
            billing_address: Some(address.clone()),
            payments: vec![PaymentSelection {
                payment_method_name: method.to_owned(),
                payment_provider_name: provider.to_owned(),
                amount: None,
            }],
            shipments: vec![ShipmentSelection {
                items: Vec::new(),
                shipping_address: Some(address),
                id_shipment_method: Some(self.shipment_method_id),
                requested_delivery_date: None,
            }],
        }
    }

    async fn place(&self, guest: &str, cart_id: &str) -> Result<(i64, String), GatewayError> {
        self.place_with(guest, self.input(cart_id)).await
    }

    async fn place_with(&self, guest: &str, input: CheckoutInput) -> Result<(i64, String), GatewayError> {
        let reply = self
            .checkout
            .execute(CheckoutCommand::PlaceOrder {
                owner: CartOwner::Guest(guest.to_owned()),
                locale: "en_US".to_owned(),
                idempotency_key: None,
                input: Box::new(input),
            })
            .await?;
        let GatewayReply::OrderPlaced(placed) = reply else {
            panic!("unexpected {reply:?}");
        };
        let order = self
            .db
            .find_order(&placed.order_reference)
            .await
            .expect("read")
            .expect("order");
        Ok((order.id, placed.order_reference))
    }

    async fn states(&self, order_id: i64) -> Vec<String> {
        let order = self.db.find_order_by_id(order_id).await.expect("read").expect("order");
        order.items.iter().map(|item| item.state.clone()).collect()
    }

    async fn stock(&self) -> i64 {
        stock_product::Entity::find()
            .all(self.db.connection())
            .await
            .expect("read")
            .iter()
            .filter(|row| row.quantity != 4)
            .map(|row| row.quantity)
            .sum()
    }

    async fn reserved(&self) -> i64 {
        oms_product_reservation::Entity::find()
            .filter(oms_product_reservation::Column::Sku.eq("200_tent"))
            .one(self.db.connection())
            .await
            .expect("read")
            .map_or(0, |row| row.quantity)
    }

    /// The events of the reservation outbox rows that `step` wrote.
    async fn reservation_events_of<F, Fut, T>(&self, step: F) -> Vec<String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, GatewayError>>,
        T: std::fmt::Debug,
    {
        let last_id = || async {
            outbox::Entity::find()
                .order_by_desc(outbox::Column::Id)
                .one(self.db.connection())
                .await
                .expect("read")
                .map_or(0, |row| row.id)
        };
        let before = last_id().await;
        step().await.expect("placed");
        outbox::Entity::find()
            .filter(outbox::Column::Id.gt(before))
            .filter(outbox::Column::Resource.eq("oms_product_reservation"))
            .all(self.db.connection())
            .await
            .expect("read")
            .into_iter()
            .map(|row| row.event)
            .collect()
    }

    /// Whether each search page of the tent (one per locale of its store) shows it in stock.
    async fn search_page_in_stock(&self) -> Vec<bool> {
        self.sync.drain().await.expect("publish & sync");
        let mut flags: Vec<bool> = self
            .db
            .storage_rows_by_entity("product_page", &[self.tent_abstract_id])
            .await
            .expect("read")
            .iter()
            .filter_map(|row| row.data.as_deref())
            .map(|data| {
                let page: serde_json::Value = serde_json::from_str(data).expect("a JSON document");
                page["search-result-data"]["is_available"].as_bool().expect("a flag")
            })
            .collect();
        flags.dedup();
        flags
    }

    async fn availability(&self) -> serde_json::Value {
        self.sync.drain().await.expect("publish & sync");
        self.kv
            .get(&format!("availability:de:{}", self.tent_abstract_id))
            .await
            .expect("get")
            .expect("availability document")
    }
}

/// 100 checkouts of one unit each race for 10 units: exactly 10 orders, 90 precise refusals.
async fn concurrent_checkouts_never_oversell(db: SqlDatabase) {
    let shop = Arc::new(order_shop(db).await);
    let mut carts = Vec::new();
    for index in 0..100 {
        let guest = format!("guest-{index}");
        let cart = shop.guest_cart(&guest, 1).await;
        carts.push((guest, cart));
    }
    let mut tasks = Vec::new();
    for (guest, cart) in carts {
        let shop = Arc::clone(&shop);
        tasks.push(tokio::spawn(async move { shop.place(&guest, &cart).await }));
    }
    let (mut placed, mut refused) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("task") {
            Ok((_, reference)) => placed.push(reference),
            Err(error) => refused.push(error),
        }
    }
    assert_eq!(placed.len(), 10, "{refused:?}");
    assert_eq!(refused.len(), 90);
    for error in &refused {
        let GatewayError::Rejected(rejections) = error else {
            panic!("not a refusal: {error:?}");
        };
        assert_eq!(rejections.len(), 1, "{rejections:?}");
        assert_eq!(rejections[0].code, "1102");
        assert_eq!(
            rejections[0].detail,
            "product 200_tent is not available in the requested quantity (1 requested, 0 available)"
        );
    }
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), 10, "ten distinct order references");
    let orders = sales_order::Entity::find()
        .count(shop.db.connection())
        .await
        .expect("count");
    assert_eq!(orders, 10);
    assert_eq!(
        shop.stock().await,
        10,
        "physical stock is untouched until shipping, never below zero"
    );
    assert_eq!(shop.reserved().await, 10);
    let availability = shop.availability().await;
    assert_eq!(availability["concretes"]["200_tent"]["quantity"], 0, "{availability}");
    assert_eq!(
        availability["concretes"]["200_tent"]["is_available"], false,
        "{availability}"
    );
    assert_eq!(availability["is_available"], false, "{availability}");
}

/// The search page shows only whether a product is in stock: a checkout that leaves units re-publishes
/// the availability document alone, the one that takes the last units the search page as well.
async fn the_search_page_is_re_published_only_when_the_stock_flag_changes(db: SqlDatabase) {
    let shop = order_shop(db).await;
    assert_eq!(shop.availability().await["is_available"], true);
    assert_eq!(shop.search_page_in_stock().await, [true]);

    let cart = shop.guest_cart("g1", 4).await;
    let events = shop.reservation_events_of(|| shop.place("g1", &cart)).await;
    assert_eq!(events, [RESERVATION_QUANTITY_EVENT], "6 of 10 units left");
    let availability = shop.availability().await;
    assert_eq!(availability["concretes"]["200_tent"]["quantity"], 6, "{availability}");
    assert_eq!(shop.search_page_in_stock().await, [true]);

    let cart = shop.guest_cart("g2", 6).await;
    let events = shop.reservation_events_of(|| shop.place("g2", &cart)).await;
    assert_eq!(events, ["Entity.oms_product_reservation.update"], "the last 6 units");
    let availability = shop.availability().await;
    assert_eq!(availability["is_available"], false, "{availability}");
    assert_eq!(shop.search_page_in_stock().await, [false], "the search page followed");
}

/// One order through the default process: onEnter confirmation, manual pay, pick and ship, then the
/// delivery and closing timeouts; another one cancelled by the unpaid timeout, releasing its stock and
/// mailing the customer once.
async fn an_order_runs_through_the_default_process(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let cart = shop.guest_cart("g1", 2).await;
    let (order_id, reference) = shop.place("g1", &cart).await.expect("placed");
    assert_eq!(shop.states(order_id).await, ["new"]);
    assert_eq!(shop.reserved().await, 2);
    let availability = shop.availability().await;
    assert_eq!(availability["concretes"]["200_tent"]["quantity"], 8, "{availability}");

    // What the worker does for the order's oms.events message: the onEnter event sends the mail.
    shop.engine.advance_order(order_id, "worker").await.expect("advance");
    assert_eq!(shop.states(order_id).await, ["payment pending"]);
    assert_eq!(shop.mailer.subjects(), [format!("Your order {reference}")]);
    // A redelivered message finds nothing to do and sends nothing twice.
    shop.engine.advance_order(order_id, "worker").await.expect("advance");
    assert_eq!(shop.mailer.subjects().len(), 1);

    let order = shop.db.find_order_by_id(order_id).await.expect("read").expect("order");
    let manual = shop.engine.manual_events(&order);
    assert_eq!(manual.values().next().expect("item"), &["cancel", "pay"]);
    let skipped = shop
        .engine
        .trigger_event(order_id, None, "ship", "admin:1")
        .await
        .expect("event");
    assert_eq!(skipped.moved.len(), 0);
    assert_eq!(
        skipped.skipped[0].1,
        "event ship is not possible from state payment pending"
    );

    shop.engine
        .trigger_event(order_id, None, "pay", "admin:1")
        .await
        .expect("pay");
    assert_eq!(shop.states(order_id).await, ["paid"]);
    let order = shop.db.find_order_by_id(order_id).await.expect("read").expect("order");
    assert_eq!(order.payments[0].status, "captured");
    assert_eq!(order.payments[0].captured_amount, order.totals.grand_total);
    shop.engine
        .trigger_event(order_id, None, "pick", "admin:1")
        .await
        .expect("pick");
    assert_eq!(shop.reserved().await, 2, "picked is still reserved");
    shop.engine
        .trigger_event(order_id, None, "ship", "admin:1")
        .await
        .expect("ship");
    assert_eq!(shop.states(order_id).await, ["shipped"]);
    assert_eq!(shop.stock().await, 8, "shipping takes the units out of stock");
    assert_eq!(shop.reserved().await, 0, "and releases the reservation");
    assert!(
        shop.mailer
            .subjects()
            .contains(&format!("Order {reference} has shipped"))
    );
    let availability = shop.availability().await;
    assert_eq!(availability["concretes"]["200_tent"]["quantity"], 8, "{availability}");

    // Timeouts: nothing before they are due; delivery confirmed after 14 days, closed 30 days later.
    shop.clock.advance(TimeDelta::days(13));
    assert_eq!(shop.engine.fire_due_timeouts(500).await.expect("timeouts"), 0);
    shop.clock.advance(TimeDelta::days(1) + TimeDelta::seconds(1));
    assert_eq!(shop.engine.fire_due_timeouts(500).await.expect("timeouts"), 1);
    assert_eq!(shop.states(order_id).await, ["delivered"]);
    shop.clock.advance(TimeDelta::days(30));
    shop.engine.fire_due_timeouts(500).await.expect("timeouts");
    assert_eq!(shop.states(order_id).await, ["closed"]);
    let history = shop
        .db
        .find_order_by_id(order_id)
        .await
        .expect("read")
        .expect("order")
        .items[0]
        .history
        .clone();
    assert_eq!(
        history,
        [
            "new",
            "payment pending",
            "paid",
            "picked",
            "shipped",
            "delivered",
            "closed"
        ]
    );
    let log = shop.db.transition_log(order_id).await.expect("log");
    let origins: Vec<&str> = log.iter().map(|row| row.origin.as_str()).collect();
    assert_eq!(
        origins,
        ["worker", "admin:1", "admin:1", "admin:1", "timeout", "timeout"]
    );
    let remaining = oms_event_timeout::Entity::find()
        .count(shop.db.connection())
        .await
        .expect("count");
    assert_eq!(remaining, 0, "a closed item has no timeouts left");

    // An unpaid order is cancelled after 7 days, and its units are for sale again.
    let cart = shop.guest_cart("g2", 3).await;
    let (unpaid, unpaid_reference) = shop.place("g2", &cart).await.expect("placed");
    shop.engine.advance_order(unpaid, "worker").await.expect("advance");
    assert_eq!(shop.reserved().await, 3);
    let cancellation = format!("Order {unpaid_reference} was cancelled");
    assert!(shop.mailer.with_subject(&cancellation).is_empty());
    shop.clock.advance(TimeDelta::days(7) + TimeDelta::seconds(1));
    shop.engine.fire_due_timeouts(500).await.expect("timeouts");
    assert_eq!(shop.states(unpaid).await, ["cancelled"]);
    assert_eq!(shop.reserved().await, 0);
    let mails = shop.mailer.with_subject(&cancellation);
    assert_eq!(mails.len(), 1, "one cancellation mail");
    assert_eq!(mails[0].to, "erika@example.com");
    assert!(
        mails[0].body.contains("3 × Tent (200_tent)  150.00 EUR"),
        "{}",
        mails[0].body
    );
    // Nothing fires twice: no timeout is left, and the sweep and a redelivered message find nothing.
    shop.clock.advance(TimeDelta::minutes(5));
    assert_eq!(shop.engine.fire_due_timeouts(500).await.expect("timeouts"), 0);
    shop.engine.check_conditions(500).await.expect("sweep");
    shop.engine.advance_order(unpaid, "worker").await.expect("advance");
    assert_eq!(shop.mailer.with_subject(&cancellation).len(), 1);
    let history = shop
        .db
        .find_order_by_id(unpaid)
        .await
        .expect("read")
        .expect("order")
        .items[0]
        .history
        .clone();
    assert_eq!(history, ["new", "payment pending", "payment cancelled", "cancelled"]);
    let order = shop.db.find_order_by_id(unpaid).await.expect("read").expect("order");
    assert_eq!(order.payments[0].status, "cancelled");
    assert_eq!(order.totals.canceled_total, 3 * 5000);
    let availability = shop.availability().await;
    assert_eq!(availability["concretes"]["200_tent"]["quantity"], 8, "{availability}");
}

/// The worker died after checkout committed and before the first OMS step: the condition sweep of
/// the next worker continues the order, once. A lock left by a dead run expires.
async fn a_crash_after_checkout_loses_nothing(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let cart = shop.guest_cart("g1", 1).await;
    let (order_id, reference) = shop.place("g1", &cart).await.expect("placed");
    // No worker ran. The dead worker also left the order locked.
    let now = shop.clock.now();
    assert!(
        shop.db
            .try_lock(
                &format!("order:{order_id}"),
                "dead-worker",
                now + TimeDelta::seconds(60),
                now
            )
            .await
            .expect("lock")
    );
    // Too fresh for the sweep: a live worker is probably on it.
    assert_eq!(shop.engine.check_conditions(500).await.expect("sweep"), 0);
    shop.clock.advance(TimeDelta::seconds(31));
    assert!(matches!(
        shop.engine.advance_order(order_id, "worker").await,
        Err(OmsError::Busy(_))
    ));
    assert_eq!(
        shop.engine.check_conditions(500).await.expect("sweep"),
        1,
        "found, but locked"
    );
    assert_eq!(shop.states(order_id).await, ["new"]);
    shop.clock.advance(TimeDelta::seconds(30));
    shop.engine.check_conditions(500).await.expect("sweep");
    assert_eq!(shop.states(order_id).await, ["payment pending"]);
    assert_eq!(shop.mailer.subjects(), [format!("Your order {reference}")]);
    shop.clock.advance(TimeDelta::minutes(5));
    shop.engine.check_conditions(500).await.expect("sweep");
    assert_eq!(shop.mailer.subjects().len(), 1, "nothing happens twice");

    // A new definition without the state the item is in is refused at start, naming it.
    shop.engine
        .check_occupied_states()
        .await
        .expect("the loaded process fits");
    let xml = r#"<statemachine xmlns="spryker:oms-01"><process name="KontorDefault01" main="true">
        <states><state name="fresh"/><state name="done"/></states>
        <transitions><transition><source>fresh</source><target>done</target><event>finish</event></transition></transitions>
        <events><event name="finish" manual="true"/></events></process></statemachine>"#;
    let (renamed, _) = kontor_oms::load_process_str(
        std::path::Path::new("renamed.xml"),
        xml,
        &kontor_oms::NoPlugins,
        kontor_oms::Checks::Full,
    )
    .expect("valid");
    let engine = OmsEngine::new(
        Arc::new(kontor_oms::ProcessSet::from_processes(vec![renamed])),
        registry(&shop.db, shop.mailer.clone()),
        Arc::new(shop.db.clone()),
        Arc::new(shop.db.clone()),
    );
    let refused = engine.check_occupied_states().await.expect_err("refused");
    assert!(
        refused
            .to_string()
            .contains("1 order item(s) are in state \"payment pending\" of process KontorDefault01"),
        "{refused}"
    );
}

/// A manual cancellation mails the customer exactly once: right away when the mail goes out; when the
/// mail server is down the items are cancelled anyway (payment cancelled, stock released) and the
/// condition sweep sends the mail later, once.
async fn a_cancelled_order_mails_the_customer_exactly_once(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let cart = shop.guest_cart("g1", 2).await;
    let (first, first_reference) = shop.place("g1", &cart).await.expect("placed");
    shop.engine.advance_order(first, "worker").await.expect("advance");
    let outcome = shop
        .engine
        .trigger_event(first, None, "cancel", "admin:1")
        .await
        .expect("cancel");
    assert_eq!(outcome.moved.len(), 2, "into payment cancelled, then cancelled");
    assert_eq!(shop.states(first).await, ["cancelled"]);
    assert_eq!(shop.reserved().await, 0);
    let cancellation = format!("Order {first_reference} was cancelled");
    let mails = shop.mailer.with_subject(&cancellation);
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].body.contains("2 × Tent (200_tent)  100.00 EUR"),
        "{}",
        mails[0].body
    );
    // Cancelling again is not possible, and nothing else sends the mail a second time.
    let again = shop
        .engine
        .trigger_event(first, None, "cancel", "admin:1")
        .await
        .expect("event");
    assert_eq!(again.skipped[0].1, "event cancel is not possible from state cancelled");
    shop.clock.advance(TimeDelta::minutes(5));
    shop.engine.check_conditions(500).await.expect("sweep");
    assert_eq!(shop.mailer.with_subject(&cancellation).len(), 1);
    let log = shop.db.transition_log(first).await.expect("log");
    let commands: Vec<Option<&str>> = log.iter().map(|row| row.command.as_deref()).collect();
    assert_eq!(
        commands,
        [
            Some("Oms/SendOrderConfirmation"),
            Some("Payment/Cancel"),
            Some("Oms/SendOrderCancelled")
        ]
    );

    // The mail server is down while a paid order is cancelled.
    let cart = shop.guest_cart("g2", 1).await;
    let (second, second_reference) = shop.place("g2", &cart).await.expect("placed");
    shop.engine.advance_order(second, "worker").await.expect("advance");
    shop.engine
        .trigger_event(second, None, "pay", "admin:1")
        .await
        .expect("pay");
    shop.mailer.failing.store(true, Ordering::SeqCst);
    // The cancel happened, so it is no error; the outcome says which later step stopped the run.
    let cancelled = shop
        .engine
        .trigger_event(second, None, "cancel", "admin:1")
        .await
        .expect("the cancel is saved although its mail failed");
    assert_eq!(cancelled.moved.len(), 1, "into payment cancelled");
    assert_eq!(
        cancelled.stopped_by.as_deref(),
        Some("command Oms/SendOrderCancelled failed: mail could not be delivered: connection refused")
    );
    assert_eq!(
        shop.states(second).await,
        ["payment cancelled"],
        "cancelled, not yet told"
    );
    assert_eq!(shop.reserved().await, 0, "the stock is released all the same");
    let order = shop.db.find_order_by_id(second).await.expect("read").expect("order");
    assert_eq!(
        order.payments[0].status, "refunded",
        "the captured payment is paid back"
    );
    let failed = shop.db.transition_log(second).await.expect("log");
    assert_eq!(
        failed.last().and_then(|row| row.error.as_deref()),
        Some("mail could not be delivered: connection refused")
    );

    // Back up: the sweep (not a second cancel) sends the mail and finishes the cancellation, once.
    shop.mailer.failing.store(false, Ordering::SeqCst);
    shop.clock.advance(TimeDelta::seconds(31));
    shop.engine.check_conditions(500).await.expect("sweep");
    assert_eq!(shop.states(second).await, ["cancelled"]);
    let cancellation = format!("Order {second_reference} was cancelled");
    assert_eq!(shop.mailer.with_subject(&cancellation).len(), 1);
    shop.clock.advance(TimeDelta::minutes(5));
    shop.engine.check_conditions(500).await.expect("sweep");
    shop.engine.advance_order(second, "worker").await.expect("advance");
    assert_eq!(shop.mailer.with_subject(&cancellation).len(), 1);
}

/// The admin API over the same shop, signed in with an API token.
async fn admin_api(shop: &OrderShop) -> (axum::Router, String) {
    let token = kontor_testkit::admin_token(&shop.db, "ops@example.com", &["administrator"]).await;
    let registry = registry(&shop.db, shop.mailer.clone());
    let admin = kontor_backoffice::orders::OrderAdmin {
        orders: Arc::new(shop.db.clone()),
        oms: Arc::new(shop.db.clone()),
        engine: shop.engine.clone(),
        registry,
    };
    let state = kontor_backoffice::AdminState::new(Arc::new(shop.db.clone())).with_orders(admin);
    (kontor_backoffice::router(state), token)
}

async fn call(
    router: &axum::Router,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/vnd.api+json")
        .body(body.map_or_else(axum::body::Body::empty, |json| axum::body::Body::from(json.to_string())))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

/// Orders in the admin API: filtered list, detail with manual events, a manual event fired by a
/// user (logged with the user as origin), refusals, and the process diagram.
async fn admin_api_lists_orders_and_fires_manual_events(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let (router, token) = admin_api(&shop).await;
    let cart = shop.guest_cart("g1", 1).await;
    let (first, first_reference) = shop.place("g1", &cart).await.expect("placed");
    shop.clock.advance(TimeDelta::seconds(5));
    let cart = shop.guest_cart("g2", 2).await;
    let (_, second_reference) = shop.place("g2", &cart).await.expect("placed");
    shop.engine.advance_order(first, "worker").await.expect("advance");

    let (status, body) = call(&router, &token, "GET", "/admin/orders", None).await;
    assert_eq!(status, 200, "{body}");
    let listed = json_of(&body);
    let references: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|order| order["id"].as_str())
        .collect();
    assert_eq!(
        references,
        [second_reference.as_str(), first_reference.as_str()],
        "newest first"
    );
    assert_eq!(listed["meta"]["total"], 2);
    let (_, body) = call(
        &router,
        &token,
        "GET",
        "/admin/orders?filter[state]=payment%20pending",
        None,
    )
    .await;
    let filtered = json_of(&body);
    assert_eq!(filtered["meta"]["total"], 1, "{filtered}");
    assert_eq!(filtered["data"][0]["id"], first_reference.as_str());
    let (status, body) = call(&router, &token, "GET", "/admin/orders?filter[colour]=red", None).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(
        &router,
        &token,
        "GET",
        "/admin/orders?filter[createdFrom]=yesterday",
        None,
    )
    .await;
    assert_eq!(status, 400);

    let (status, body) = call(
        &router,
        &token,
        "GET",
        &format!("/admin/orders/{first_reference}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let detail = json_of(&body);
    let item = &detail["data"]["attributes"]["items"][0];
    assert_eq!(item["state"], "payment pending");
    assert_eq!(item["history"], json!(["new", "payment pending"]));
    assert_eq!(item["manualEvents"], json!(["cancel", "pay"]));
    assert_eq!(
        detail["data"]["attributes"]["transitionLog"][0]["command"],
        "Oms/SendOrderConfirmation"
    );

    let event = |name: &str| json!({"data": {"type": "oms-events", "attributes": {"event": name}}});
    let path = format!("/admin/orders/{first_reference}/events");
    let (status, body) = call(&router, &token, "POST", &path, Some(event("ship"))).await;
    assert_eq!(status, 422, "not possible from payment pending: {body}");
    assert!(body.contains("/data/attributes/event"), "{body}");
    let (status, body) = call(
        &router,
        &token,
        "POST",
        &path,
        Some(json!({"data": {"type": "oms-events", "attributes": {"event": "pay", "items": [999999]}}})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = call(
        &router,
        &token,
        "POST",
        "/admin/orders/DE--999/events",
        Some(event("pay")),
    )
    .await;
    assert_eq!(status, 404);
    // Another run holds the order: 409, nothing changes.
    let now = shop.clock.now();
    assert!(
        shop.db
            .try_lock(&format!("order:{first}"), "someone", now + TimeDelta::seconds(60), now)
            .await
            .expect("lock")
    );
    let (status, _) = call(&router, &token, "POST", &path, Some(event("pay"))).await;
    assert_eq!(status, 409);
    shop.db
        .unlock(&format!("order:{first}"), "someone")
        .await
        .expect("unlock");
    let (status, body) = call(&router, &token, "POST", &path, Some(event("pay"))).await;
    assert_eq!(status, 200, "{body}");
    let paid = json_of(&body);
    assert_eq!(paid["data"]["attributes"]["items"][0]["state"], "paid");
    assert_eq!(paid["data"]["attributes"]["payments"][0]["status"], "captured");
    let log = paid["data"]["attributes"]["transitionLog"]
        .as_array()
        .expect("log")
        .clone();
    assert!(
        log.last().expect("row")["origin"]
            .as_str()
            .expect("origin")
            .starts_with("user:"),
        "{log:?}"
    );

    let (status, svg) = call(
        &router,
        &token,
        "GET",
        "/admin/oms/draw?process=KontorDefault01&state=paid",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..svg.len().min(80)]
    );
    assert!(
        svg.contains("payment pending") && svg.contains("#FFFFCC"),
        "highlighted state"
    );
    let (status, dot) = call(
        &router,
        &token,
        "GET",
        "/admin/oms/draw?process=KontorDefault01&format=dot",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(dot.starts_with("digraph"), "{dot}");
    let (status, _) = call(&router, &token, "GET", "/admin/oms/draw?process=Nope", None).await;
    assert_eq!(status, 404);
}

/// A payment confirmed by the payment service's signed callback: `pay` alone does not make it paid;
/// the callback does, once, and a forged or wrong one changes nothing.
async fn an_asynchronous_payment_is_confirmed_by_a_signed_callback(db: SqlDatabase) {
    use kontor_backoffice::orders::{SIGNATURE_HEADER, callback_routes, sign};
    let shop = order_shop(db).await;
    let cart = shop.guest_cart("g1", 1).await;
    let (order_id, reference) = shop
        .place_with("g1", shop.input_paying(&cart, "Online", "AsyncPay"))
        .await
        .expect("placed");
    shop.engine.advance_order(order_id, "worker").await.expect("advance");
    shop.engine
        .trigger_event(order_id, None, "pay", "admin:1")
        .await
        .expect("pay");
    assert_eq!(
        shop.states(order_id).await,
        ["payment pending"],
        "not paid until the service confirms"
    );
    let order = shop.db.find_order_by_id(order_id).await.expect("read").expect("order");
    let amount = order.payments[0].amount;

    let secret = "payment-callback-secret-0123456789abcdef";
    let admin = kontor_backoffice::orders::OrderAdmin {
        orders: Arc::new(shop.db.clone()),
        oms: Arc::new(shop.db.clone()),
        engine: shop.engine.clone(),
        registry: registry(&shop.db, shop.mailer.clone()),
    };
    let router = callback_routes(Arc::new(admin), secret);
    let post = |body: String, signature: Option<String>| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let mut request =
                axum::http::Request::post("/payments/callback").header("content-type", "application/json");
            if let Some(signature) = signature {
                request = request.header(SIGNATURE_HEADER, signature);
            }
            let request = request.body(axum::body::Body::from(body)).expect("request");
            router.oneshot(request).await.expect("infallible").status().as_u16()
        }
    };
    let body =
        json!({"orderReference": reference, "status": "captured", "amount": amount, "externalReference": "psp-1"})
            .to_string();
    assert_eq!(post(body.clone(), None).await, 401);
    assert_eq!(
        post(
            body.clone(),
            Some(sign(b"another-secret-of-32-characters!!", body.as_bytes()))
        )
        .await,
        401
    );
    let tampered = body.replace(&amount.to_string(), "1");
    assert_eq!(
        post(tampered, Some(sign(secret.as_bytes(), body.as_bytes()))).await,
        401
    );
    let wrong_amount = json!({"orderReference": reference, "status": "captured", "amount": amount - 1}).to_string();
    assert_eq!(
        post(
            wrong_amount.clone(),
            Some(sign(secret.as_bytes(), wrong_amount.as_bytes()))
        )
        .await,
        422
    );
    assert_eq!(shop.states(order_id).await, ["payment pending"]);

    assert_eq!(
        post(body.clone(), Some(sign(secret.as_bytes(), body.as_bytes()))).await,
        204
    );
    assert_eq!(shop.states(order_id).await, ["paid"]);
    let order = shop.db.find_order_by_id(order_id).await.expect("read").expect("order");
    assert_eq!(
        (order.payments[0].status.as_str(), order.payments[0].captured_amount),
        ("captured", amount)
    );
    // The service retries: nothing changes.
    assert_eq!(
        post(body.clone(), Some(sign(secret.as_bytes(), body.as_bytes()))).await,
        204
    );
    assert_eq!(shop.states(order_id).await, ["paid"]);
    // A disabled endpoint (no secret configured) refuses everything.
    let closed = callback_routes(
        Arc::new(kontor_backoffice::orders::OrderAdmin {
            orders: Arc::new(shop.db.clone()),
            oms: Arc::new(shop.db.clone()),
            engine: shop.engine.clone(),
            registry: registry(&shop.db, shop.mailer.clone()),
        }),
        "",
    );
    use tower::ServiceExt;
    let request = axum::http::Request::post("/payments/callback")
        .header(SIGNATURE_HEADER, sign(b"", body.as_bytes()))
        .body(axum::body::Body::from(body))
        .expect("request");
    assert_eq!(
        closed.oneshot(request).await.expect("infallible").status().as_u16(),
        401
    );
}

/// A process in the shape of Spryker's demo processes, naming only Spryker's plugin keys, loads under
/// full validation with the built-in registry and runs: onEnter warehouse allocation, a 1-second
/// authorisation timeout with a condition, manual pay with Spryker's timeout processor, onEnter
/// confirmation and invoice mails, shipping, return and refund.
async fn a_spryker_style_process_runs_with_the_built_in_plugins(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let registry = registry(&shop.db, shop.mailer.clone());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oms");
    let (processes, warnings) = kontor_oms::ProcessSet::load(
        &[dir],
        &["SprykerStyle01".to_owned()],
        registry.as_ref(),
        kontor_oms::Checks::Full,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(warnings.iter().any(|warning| warning.contains("pay")), "{warnings:?}");
    let processes = Arc::new(processes);
    let shared = Arc::new(shop.db.clone());
    let order_processes = OrderProcesses {
        processes: processes.clone(),
        payment_processes: [("DummyPayment/Invoice".to_owned(), "SprykerStyle01".to_owned())].into(),
        default_process: None,
        initial_state: "new".to_owned(),
    };
    let checkout = CheckoutService::new(
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared.clone(),
        order_processes,
    )
    .with_clock(shop.clock.clone());
    let engine = OmsEngine::new(processes, registry, shared.clone(), shared).with_clock(shop.clock.clone());
    let cart = shop.guest_cart("g1", 1).await;
    let reply = checkout
        .execute(CheckoutCommand::PlaceOrder {
            owner: CartOwner::Guest("g1".to_owned()),
            locale: "en_US".to_owned(),
            idempotency_key: None,
            input: Box::new(shop.input(&cart)),
        })
        .await
        .expect("placed");
    let GatewayReply::OrderPlaced(placed) = reply else {
        panic!("unexpected {reply:?}");
    };
    let order_id = shop
        .db
        .find_order(&placed.order_reference)
        .await
        .expect("read")
        .expect("order")
        .id;

    engine.advance_order(order_id, "worker").await.expect("advance");
    assert_eq!(shop.states(order_id).await, ["warehouse allocated"]);
    let order = shop.db.find_order_by_id(order_id).await.expect("read").expect("order");
    let mut hidden = order.items[0].clone();
    hidden.state = "waiting for allocation".to_owned();
    hidden.history = vec!["new".to_owned(), "waiting for allocation".to_owned()];
    assert_eq!(
        checkout.processes().customer_state(&hidden),
        "new",
        "excluded states are not shown"
    );

    shop.clock.advance(TimeDelta::seconds(2));
    engine.fire_due_timeouts(500).await.expect("timeouts");
    assert_eq!(shop.states(order_id).await, ["payment pending"]);
    let due: Vec<i64> = oms_event_timeout::Entity::find()
        .all(shop.db.connection())
        .await
        .expect("read")
        .iter()
        .map(|row| row.due_at)
        .collect();
    assert_eq!(
        due,
        [order.created_at_micros + 3_600_000_000],
        "OmsTimeout/Initiation counts from the order's creation"
    );

    engine
        .trigger_event(order_id, None, "pay", "admin:1")
        .await
        .expect("pay");
    assert_eq!(
        shop.states(order_id).await,
        ["invoiced"],
        "pay, then the onEnter confirm and invoice steps"
    );
    let subjects = shop.mailer.subjects();
    assert!(
        subjects.iter().any(|subject| subject.starts_with("Your order")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|subject| subject.starts_with("Invoice for order")),
        "{subjects:?}"
    );
    for event in ["ship", "start-return", "refund"] {
        engine
            .trigger_event(order_id, None, event, "admin:1")
            .await
            .expect(event);
    }
    assert_eq!(shop.states(order_id).await, ["refunded"]);
    let order = shop.db.find_order_by_id(order_id).await.expect("read").expect("order");
    assert_eq!(order.payments[0].status, "refunded");
    assert_eq!(order.totals.remuneration_total, order.items[0].sum_price);
}

/// Records the item states of every order the engine announces.
#[derive(Default)]
struct RecordingObserver(Mutex<Vec<(i64, Vec<String>)>>);

#[async_trait]
impl OrderObserver for RecordingObserver {
    async fn items_moved(&self, order: &StoredOrder) {
        let states = order.items.iter().map(|item| item.state.clone()).collect();
        self.0.lock().expect("observer").push((order.id, states));
    }
}

/// The observer hears every run that moved items, with the states the run left them in (without the
/// engine reading the order again), and nothing from a run that moved nothing.
async fn the_observer_hears_each_run_with_the_states_it_reached(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let observer = Arc::new(RecordingObserver::default());
    let engine = shop.engine.clone().with_observer(observer.clone());
    let cart = shop.guest_cart("g1", 1).await;
    let (order_id, _) = shop.place("g1", &cart).await.expect("placed");

    // onEnter mail (a command that changes nothing) → payment pending; nothing further without payment.
    engine.advance_order(order_id, "worker").await.expect("advance");
    engine.advance_order(order_id, "worker").await.expect("advance again");
    // The capture changes the payment, so the condition reads the order again and lets it on to paid.
    engine
        .trigger_event(order_id, None, "pay", "admin:1")
        .await
        .expect("pay");
    assert_eq!(shop.states(order_id).await, ["paid"]);
    let heard = observer.0.lock().expect("observer").clone();
    assert_eq!(
        heard,
        [
            (order_id, vec!["payment pending".to_owned()]),
            (order_id, vec!["paid".to_owned()]),
        ]
    );
}

repo_test_suite!(
    the_observer_hears_each_run_with_the_states_it_reached,
    a_spryker_style_process_runs_with_the_built_in_plugins,
    an_asynchronous_payment_is_confirmed_by_a_signed_callback,
    admin_api_lists_orders_and_fires_manual_events,
    concurrent_checkouts_never_oversell,
    the_search_page_is_re_published_only_when_the_stock_flag_changes,
    an_order_runs_through_the_default_process,
    a_cancelled_order_mails_the_customer_exactly_once,
    a_crash_after_checkout_loses_nothing,
);
