//! The Back Office's order and customer pages through a browser-like client, on every SQL backend:
//! orders placed by the real checkout into Kontor's default process, listed and filtered, shown with
//! their manual events and process diagram, moved by a manual event (refused while the order is
//! locked); customers listed, searched and shown with their addresses and orders.

use crate::ui_catalog::camera_shop;
use crate::ui_support::{Page, UiApp};
use async_trait::async_trait;
use axum::http::StatusCode;
use kontor_backoffice::orders::OrderAdmin;
use kontor_db::SqlDatabase;
use kontor_db::entity::orders::{
    payment_method, payment_method_store, shipment_method, shipment_method_price, shipment_method_store,
};
use kontor_db::entity::{currency, store};
use kontor_domain::acl::{AuditFilter, AuditOutcome};
use kontor_domain::cart::CartService;
use kontor_domain::checkout::{CheckoutService, OrderProcesses, OrderRepository};
use kontor_domain::customer::{CustomerRepository, Mail, MailError, Mailer, NewCustomer, ProfileFields};
use kontor_domain::gateway::{
    Address, CartCommand, CartOwner, CheckoutAddress, CheckoutCommand, CheckoutCustomer, CheckoutInput, GatewayReply,
    ItemInput, PaymentSelection, ShipmentSelection,
};
use kontor_domain::oms::builtin::{BuiltinServices, PaymentProviders};
use kontor_domain::oms::{OmsEngine, OmsRegistry, OmsRepository};
use kontor_domain::users::Email;
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use std::sync::Arc;

fn assert_status(page: &Page, status: StatusCode, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
}

/// Order confirmations go nowhere.
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _mail: &Mail) -> Result<(), MailError> {
        Ok(())
    }
}

/// The catalog of the catalog tests, a shipment method, the invoice payment and the checkout into
/// `KontorDefault01`, with the UI's order pages on top.
struct OrderShop {
    app: UiApp,
    carts: CartService,
    checkout: CheckoutService,
    engine: OmsEngine,
    shipment_method_id: i64,
}

async fn order_shop(db: SqlDatabase) -> OrderShop {
    let mut registry = OmsRegistry::default();
    kontor_domain::oms::builtin::register(
        &mut registry,
        &BuiltinServices {
            oms: Arc::new(db.clone()),
            mailer: Arc::new(NoMail),
            payments: PaymentProviders::builtin(),
            shop_name: "Test Shop".to_owned(),
        },
    );
    let registry = Arc::new(registry);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/oms");
    let (processes, _) = kontor_oms::ProcessSet::load(
        &[dir],
        &["KontorDefault01".to_owned()],
        registry.as_ref(),
        kontor_oms::Checks::Full,
    )
    .expect("the default process loads");
    let processes = Arc::new(processes);
    let shared = Arc::new(db.clone());
    let engine = OmsEngine::new(processes.clone(), registry.clone(), shared.clone(), shared.clone());
    let admin = OrderAdmin {
        orders: shared.clone(),
        oms: shared.clone(),
        engine: engine.clone(),
        registry,
    };
    let app = UiApp::with_state(db.clone(), |state| state.with_orders(admin)).await;
    camera_shop(&app).await;

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
    .expect("shipment method");
    shipment_method_store::ActiveModel {
        shipment_method_id: Set(method.id),
        store_id: Set(store_id),
    }
    .insert(connection)
    .await
    .expect("shipment method store");
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
    .expect("shipment method price");
    let payment = payment_method::ActiveModel {
        method_key: Set("kt-invoice".to_owned()),
        name: Set("Invoice".to_owned()),
        provider_key: Set("DummyPayment".to_owned()),
        provider_name: Set("DummyPayment".to_owned()),
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
        payment_method_id: Set(payment.id),
        store_id: Set(store_id),
    }
    .insert(connection)
    .await
    .expect("payment method store");

    let carts = CartService::new(shared.clone(), shared.clone());
    let checkout = CheckoutService::new(
        shared.clone(),
        shared.clone(),
        shared.clone(),
        shared,
        OrderProcesses {
            processes,
            payment_processes: [("DummyPayment/Invoice".to_owned(), "KontorDefault01".to_owned())].into(),
            default_process: None,
            initial_state: "new".to_owned(),
        },
    );
    OrderShop {
        app,
        carts,
        checkout,
        engine,
        shipment_method_id: method.id,
    }
}

impl OrderShop {
    /// Places an order of one black camera for `owner` and lets it run to its first manual state
    /// (`payment pending`); returns its id and reference.
    async fn place(&self, owner: CartOwner, email: &str) -> (i64, String) {
        let reply = self
            .carts
            .execute(CartCommand::AddItem {
                owner: owner.clone(),
                store: "DE".to_owned(),
                cart_id: None,
                item: ItemInput {
                    sku: "100_black".to_owned(),
                    quantity: 1,
                },
                idempotency_key: None,
            })
            .await
            .expect("added to the cart");
        let GatewayReply::Cart(cart) = reply else {
            panic!("unexpected {reply:?}");
        };
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
        let input = CheckoutInput {
            customer: Some(CheckoutCustomer {
                salutation: Some("Ms".to_owned()),
                email: Some(email.to_owned()),
                first_name: Some("Erika".to_owned()),
                last_name: Some("Muster".to_owned()),
            }),
            id_cart: cart.id,
            billing_address: Some(address.clone()),
            payments: vec![PaymentSelection {
                payment_method_name: "Invoice".to_owned(),
                payment_provider_name: "DummyPayment".to_owned(),
                amount: None,
            }],
            shipments: vec![ShipmentSelection {
                items: Vec::new(),
                shipping_address: Some(address),
                id_shipment_method: Some(self.shipment_method_id),
                requested_delivery_date: None,
            }],
        };
        let reply = self
            .checkout
            .execute(CheckoutCommand::PlaceOrder {
                owner,
                locale: "en_US".to_owned(),
                idempotency_key: None,
                input: Box::new(input),
            })
            .await
            .expect("the order is placed");
        let GatewayReply::OrderPlaced(placed) = reply else {
            panic!("unexpected {reply:?}");
        };
        let order = self.order(&placed.order_reference).await;
        self.engine.advance_order(order.id, "worker").await.expect("advanced");
        (order.id, placed.order_reference)
    }

    async fn order(&self, reference: &str) -> kontor_domain::checkout::StoredOrder {
        self.app
            .db
            .find_order(reference)
            .await
            .expect("read")
            .expect("the order exists")
    }
}

async fn orders_are_filtered_shown_and_moved_by_manual_events(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let (first_id, first) = shop.place(CartOwner::Guest("g1".to_owned()), "erika@example.com").await;
    let (_, second) = shop.place(CartOwner::Guest("g2".to_owned()), "max@example.com").await;
    let app = &shop.app;
    let browser = app.signed_in("orders@example.com", &["order_manager"]).await;

    let list = browser.get("/backoffice/orders").await;
    assert_status(&list, StatusCode::OK, "the order list");
    assert!(list.shows(&first) && list.shows(&second), "{}", list.body);
    let by_email = browser.get("/backoffice/orders?email=MAX%40example.com").await;
    assert!(by_email.shows(&second) && !by_email.shows(&first), "{}", by_email.body);
    let today = chrono::Utc::now().date_naive().to_string();
    let by_day = browser
        .get(&format!("/backoffice/orders?store=de&from={today}&to={today}"))
        .await;
    assert!(by_day.shows("2 orders"), "{}", by_day.body);
    let by_state = browser.get("/backoffice/orders?state=paid").await;
    assert!(by_state.shows("0 orders"), "{}", by_state.body);
    let unreadable = browser.get("/backoffice/orders?from=yesterday").await;
    assert_status(&unreadable, StatusCode::UNPROCESSABLE_ENTITY, "a date that is not one");
    assert_eq!(
        unreadable.field_error("from").as_deref(),
        Some("Enter a date as YYYY-MM-DD.")
    );

    let path = format!("/backoffice/orders/{first}");
    let page = browser.get(&path).await;
    assert_status(&page, StatusCode::OK, "the order page");
    let item = shop.order(&first).await.items[0].id;
    for shown in [
        "payment pending",
        "erika@example.com",
        "Hauptstraße 5",
        "Oms/SendOrderConfirmation",
    ] {
        assert!(page.shows(shown), "{shown}: {}", page.body);
    }
    assert!(
        page.body.contains(&format!("name=\"items\" value=\"{item}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("name=\"event\" value=\"pay\"") && page.body.contains("name=\"event\" value=\"cancel\""),
        "the manual events are buttons: {}",
        page.body
    );
    assert!(
        page.body.contains("<svg") && page.body.contains("#FFFFCC"),
        "the diagram with its state highlighted"
    );
    assert!(page.body.contains(&format!("data-record=\"orders:{first}\"")));

    let events = format!("{path}/events");
    let item_id = item.to_string();
    let refused = browser.post(&events, &[("event", "ship"), ("items", &item_id)]).await;
    assert_status(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an event the item cannot take",
    );
    assert!(refused.shows("can take the event"), "{}", refused.body);

    // While another run holds the order, nothing happens and the page says so.
    let now = chrono::Utc::now();
    let lock = format!("order:{first_id}");
    assert!(
        app.db
            .try_lock(&lock, "someone", now + chrono::Duration::seconds(60), now)
            .await
            .expect("lock")
    );
    let busy = browser.post(&events, &[("event", "pay"), ("items", &item_id)]).await;
    assert_status(&busy, StatusCode::CONFLICT, "a locked order");
    assert!(busy.shows("being processed right now"), "{}", busy.body);
    assert_eq!(shop.order(&first).await.items[0].state, "payment pending");
    app.db.unlock(&lock, "someone").await.expect("unlock");

    let fired = browser.post(&events, &[("event", "pay"), ("items", &item_id)]).await;
    assert_status(&fired, StatusCode::SEE_OTHER, "firing pay");
    assert_eq!(fired.location.as_deref(), Some(path.as_str()));
    let paid = shop.order(&first).await;
    assert_eq!(paid.items[0].state, "paid");
    assert_eq!(
        shop.order(&second).await.items[0].state,
        "payment pending",
        "only the chosen order moved"
    );
    let entry = app
        .audit(&AuditFilter {
            outcome: Some(AuditOutcome::Allowed),
            resource_type: Some("orders".into()),
            ..AuditFilter::default()
        })
        .await
        .into_iter()
        .next()
        .expect("audited");
    assert_eq!(entry.action, "orders.write");
    assert_eq!(
        entry.detail,
        json!({"event": "pay", "items": [{"id": item, "from": "payment pending", "to": "paid"}]})
    );
    let page = browser.get(&path).await;
    assert!(page.shows("The event \"pay\" was fired for 1 item."), "{}", page.body);
    let log = app.db.transition_log(first_id).await.expect("log");
    assert!(log.iter().any(|row| row.origin.starts_with("user:")), "{log:?}");

    let viewer = app.signed_in("viewer@example.com", &["read_only"]).await;
    let read_only = viewer.get(&format!("/backoffice/orders/{second}")).await;
    assert_status(&read_only, StatusCode::OK, "reading an order");
    assert!(
        !read_only.body.contains("name=\"event\""),
        "no event buttons without orders.write"
    );
    let denied = viewer
        .post(&format!("/backoffice/orders/{second}/events"), &[("event", "pay")])
        .await;
    assert_status(&denied, StatusCode::FORBIDDEN, "firing without orders.write");
    let catalog = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    assert_status(
        &catalog.get("/backoffice/orders").await,
        StatusCode::FORBIDDEN,
        "no orders.read",
    );
    assert_status(
        &browser.get("/backoffice/orders/DE--999").await,
        StatusCode::NOT_FOUND,
        "an unknown order",
    );
}

async fn customers_are_listed_and_shown_with_addresses_and_orders(db: SqlDatabase) {
    let shop = order_shop(db).await;
    let app = &shop.app;
    let now = chrono::Utc::now();
    let mut references = Vec::new();
    for (email, first_name) in [("erika@example.com", "Erika"), ("max@example.com", "Max")] {
        let customer = app
            .db
            .create_customer(
                &NewCustomer {
                    store: "DE".to_owned(),
                    profile: ProfileFields {
                        email: Email::parse(email).expect("e-mail"),
                        salutation: "Ms".to_owned(),
                        first_name: first_name.to_owned(),
                        last_name: "Muster".to_owned(),
                        gender: None,
                        date_of_birth: None,
                    },
                    password_hash: "not-a-real-hash".to_owned(),
                },
                now,
            )
            .await
            .expect("customer");
        references.push(customer.reference.clone());
        app.db
            .create_address(
                customer.id,
                &Address {
                    id: format!("address-of-{first_name}"),
                    salutation: "Ms".to_owned(),
                    first_name: first_name.to_owned(),
                    last_name: "Muster".to_owned(),
                    address1: format!("{first_name}straße 1"),
                    address2: None,
                    address3: None,
                    zip_code: "10115".to_owned(),
                    city: "Berlin".to_owned(),
                    country: "Germany".to_owned(),
                    iso2_code: "DE".to_owned(),
                    company: None,
                    phone: None,
                    is_default_shipping: true,
                    is_default_billing: true,
                },
                now,
            )
            .await
            .expect("address");
    }
    let (_, order) = shop
        .place(CartOwner::Customer(references[0].clone()), "erika@example.com")
        .await;
    let browser = app.signed_in("orders@example.com", &["order_manager"]).await;

    let list = browser.get("/backoffice/customers").await;
    assert_status(&list, StatusCode::OK, "the customer list");
    assert!(
        list.shows("erika@example.com") && list.shows("max@example.com"),
        "{}",
        list.body
    );
    let found = browser.get("/backoffice/customers?q=MAX").await;
    assert!(
        found.shows("max@example.com") && !found.shows("erika@example.com"),
        "{}",
        found.body
    );

    let page = browser.get(&format!("/backoffice/customers/{}", references[0])).await;
    assert_status(&page, StatusCode::OK, "a customer");
    for shown in ["erika@example.com", "Erikastraße 1", "default billing", order.as_str()] {
        assert!(page.shows(shown), "{shown}: {}", page.body);
    }
    assert!(
        !page.body.contains("not-a-real-hash"),
        "the password hash stays out of the page"
    );
    assert_status(
        &browser.get("/backoffice/customers/DE--999").await,
        StatusCode::NOT_FOUND,
        "an unknown customer",
    );
    let catalog = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    assert_status(
        &catalog.get("/backoffice/customers").await,
        StatusCode::FORBIDDEN,
        "no customers.read",
    );
}

repo_test_suite!(
    orders_are_filtered_shown_and_moved_by_manual_events,
    customers_are_listed_and_shown_with_addresses_and_orders,
);
