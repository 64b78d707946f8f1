//! The HTML shop's cart, checkout, account pages and live order status, driven like a browser without
//! JavaScript: a cookie jar, forms posted with the `_csrf` of the page they came from, redirects
//! followed. The shop is real all the way down: a small catalog written to SQLite, published into a
//! redb KV store and a Tantivy index, the backend services behind the in-process gateway, sessions in
//! the same KV store, and the in-process notifier for `/ws` (served on a real listener, reached with
//! a real WebSocket client). Order states are shown by their glossary display names.

use crate::catalog::fixture::{RecordingMailer, order_processes};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use kontor_backoffice::gateway::LocalGateway;
use kontor_db::SqlDatabase;
use kontor_domain::cart::CartService;
use kontor_domain::checkout::{CheckoutService, OrderRepository};
use kontor_domain::customer::{CustomerService, Mail, MailError, Mailer};
use kontor_domain::gateway::BackendGateway;
use kontor_domain::oms::builtin::{BuiltinServices, PaymentProviders};
use kontor_domain::oms::{OmsEngine, OmsRegistry};
use kontor_domain::review::ReviewService;
use kontor_domain::{Record, Resource, ResourceRepository, Valid};
use kontor_kv::{KvOptions, KvStore};
use kontor_notify::{BroadcastNotifier, Notification, Notifier, NotifierOptions};
use kontor_search::TantivySearchIndex;
use kontor_storefront::html::{HtmlKit, ORDERS_CHANNEL};
use kontor_storefront::{StorefrontOptions, StorefrontState};
use kontor_sync::direct::DirectSync;
use kontor_testkit::{TestBackend, TestDatabase};
use kontor_web::html::{CsrfProtection, LoginThrottle, SessionStore, Theme, ThemeDirs};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite;
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse-battery";

// ---------------------------------------------------------------------------------------------------
// The shop

/// Keeps the customer mails (password reset) for the test to read.
#[derive(Default)]
struct Mailbox(std::sync::Mutex<Vec<Mail>>);

impl Mailbox {
    fn mails(&self) -> Vec<Mail> {
        self.0.lock().map(|mails| mails.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Mailer for Mailbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if let Ok(mut mails) = self.0.lock() {
            mails.push(mail.clone());
        }
        Ok(())
    }
}

/// A published shop with its HTML pages, and what the assertions look behind.
struct HtmlShop {
    router: axum::Router,
    db: SqlDatabase,
    /// The default process on the shop's database, for moving orders on as a worker would.
    engine: OmsEngine,
    notifier: Arc<dyn Notifier>,
    mailbox: Arc<Mailbox>,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

async fn create<R: Resource>(db: &SqlDatabase, attributes: Value) -> Record<R>
where
    SqlDatabase: ResourceRepository<R>,
{
    let parsed: R = serde_json::from_value(attributes).expect("fixture attributes parse");
    ResourceRepository::<R>::create(db, &Valid::new(parsed).expect("fixture is valid"))
        .await
        .expect("fixture is stored")
}

/// Store DE (de_DE; EUR), one jacket in blue (7 in stock, with a picture), Standard and Express
/// shipping, invoice payment; a German display name for the OMS state `payment pending` (and none for
/// the other states).
async fn write_catalog(db: &SqlDatabase) {
    use kontor_domain::catalog::*;
    use kontor_domain::glossary::GlossaryKeyAttributes;
    use kontor_domain::pricing::PriceAttributes;
    use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
    use kontor_domain::store::*;
    create::<LocaleAttributes>(db, json!({"name": "de_DE"})).await;
    create::<CurrencyAttributes>(db, json!({"code": "EUR", "name": "Euro"})).await;
    create::<StoreAttributes>(
        db,
        json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR", "locales": ["de_DE"],
               "currencies": ["EUR"], "timezone": "Europe/Berlin"}),
    )
    .await;
    let jacket = create::<ProductAbstractAttributes>(
        db,
        json!({"sku": "100", "stores": ["DE"], "attributes": {},
               "localizedAttributes": {"de_DE": {"name": "Fjell Regenjacke", "description": "Leicht"}}}),
    )
    .await;
    create::<ProductConcreteAttributes>(
        db,
        json!({"sku": "100_blue", "abstractSku": "100", "attributes": {},
               "localizedAttributes": {"de_DE": {"name": "Fjell Regenjacke Blau"}}}),
    )
    .await;
    create::<PriceAttributes>(
        db,
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": 12900, "netAmount": 10840}),
    )
    .await;
    create::<WarehouseAttributes>(db, json!({"name": "Main", "stores": ["DE"]})).await;
    create::<StockAttributes>(db, json!({"sku": "100_blue", "warehouse": "Main", "quantity": 7})).await;
    abstract_image(db, jacket.id.0, "https://img.example/100-s.jpg").await;
    checkout_methods(db).await;
    create::<GlossaryKeyAttributes>(
        db,
        json!({"key": "oms.state.payment-pending", "translations": {"de_DE": "Zahlung ausstehend"}}),
    )
    .await;
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A `default` image set of an abstract product, with the outbox row its writer would commit.
async fn abstract_image(db: &SqlDatabase, abstract_id: i64, small: &str) {
    use kontor_db::entity::{outbox, product_image, product_image_set};
    let connection = db.connection();
    let now = now_micros();
    let set = product_image_set::ActiveModel {
        name: Set("default".to_owned()),
        product_abstract_id: Set(Some(abstract_id)),
        product_concrete_id: Set(None),
        locale_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("image set");
    product_image::ActiveModel {
        product_image_set_id: Set(set.id),
        external_url_large: Set(small.replace("-s.", "-l.")),
        external_url_small: Set(small.to_owned()),
        sort_order: Set(0),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("image");
    outbox::ActiveModel {
        resource: Set("product_image_set".to_owned()),
        entity_id: Set(set.id),
        event: Set("Entity.product_image_set.create".to_owned()),
        changed_columns: Set(None),
        foreign_keys: Set(Some(json!({"fk_product_abstract": [abstract_id]}).to_string())),
        changed_at: Set(now),
        relayed_at: Set(None),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("outbox row");
}

async fn checkout_methods(db: &SqlDatabase) {
    use kontor_db::entity::orders::{
        payment_method, payment_method_store, shipment_method, shipment_method_price, shipment_method_store,
    };
    use kontor_db::entity::{currency, store};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let connection = db.connection();
    let store_id = store::Entity::find()
        .filter(store::Column::Name.eq("DE"))
        .one(connection)
        .await
        .expect("read")
        .expect("store DE")
        .id;
    let eur = currency::Entity::find()
        .filter(currency::Column::Code.eq("EUR"))
        .one(connection)
        .await
        .expect("read")
        .expect("EUR")
        .id;
    let now = now_micros();
    for (key, name, gross) in [("kt_standard", "Standard", 490), ("kt_express", "Express", 1290)] {
        let method = shipment_method::ActiveModel {
            method_key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            carrier_name: Set("Kontor Post".to_owned()),
            delivery_time: Set(Some("1-3 days".to_owned())),
            tax_set_id: Set(None),
            is_active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
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
            net_amount: Set(Some(gross * 100 / 119)),
            gross_amount: Set(Some(gross)),
            ..Default::default()
        }
        .insert(connection)
        .await
        .expect("shipment price");
    }
    let method = payment_method::ActiveModel {
        method_key: Set("kt-invoice".to_owned()),
        name: Set("Invoice".to_owned()),
        provider_key: Set("DummyPayment".to_owned()),
        provider_name: Set("Dummy Payment".to_owned()),
        priority: Set(1),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
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

impl HtmlShop {
    async fn open() -> Self {
        let database = TestDatabase::new(TestBackend::Sqlite).await;
        let db = database.database.clone();
        write_catalog(&db).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kv: Arc<dyn KvStore> = kontor_kv::open(
            &format!("redb://{}", dir.path().join("kv.redb").display()),
            KvOptions::default(),
        )
        .await
        .expect("redb");
        let search = Arc::new(TantivySearchIndex::open(dir.path().join("search")).expect("tantivy"));
        DirectSync::new(db.clone(), kv.clone(), search.clone())
            .drain()
            .await
            .expect("publish & sync");

        let keys = kontor_web::access_token::AccessTokenKeys::from_secret(b"html-shop-tests-secret-0123456789", 3600);
        let mailbox = Arc::new(Mailbox::default());
        let shared = Arc::new(db.clone());
        let processes = order_processes(&db, Arc::new(RecordingMailer::default()));
        let mut registry = OmsRegistry::default();
        kontor_domain::oms::builtin::register(
            &mut registry,
            &BuiltinServices {
                oms: shared.clone(),
                mailer: Arc::new(RecordingMailer::default()),
                payments: PaymentProviders::builtin(),
                shop_name: "Test Shop".to_owned(),
            },
        );
        let engine = OmsEngine::new(
            Arc::clone(&processes.processes),
            Arc::new(registry),
            shared.clone(),
            shared.clone(),
        );
        let customers = CustomerService::new(shared.clone(), Arc::new(keys.clone()), mailbox.clone(), 30);
        let carts = CartService::new(shared.clone(), shared.clone());
        let checkout = CheckoutService::new(
            shared.clone(),
            shared.clone(),
            shared.clone(),
            shared.clone(),
            processes,
        );
        let reviews = ReviewService::new(shared);
        let gateway: Arc<dyn BackendGateway> = Arc::new(LocalGateway::new(customers, carts, checkout, reviews));

        let notifier: Arc<dyn Notifier> =
            Arc::new(BroadcastNotifier::new(NotifierOptions::new("", "html-shop-test")).expect("notifier"));
        let kit = HtmlKit {
            theme: Theme::new(
                ThemeDirs {
                    default_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../../themes/default").into(),
                    override_dir: None,
                },
                false,
            ),
            sessions: SessionStore::new(kv.clone(), "storefront", Duration::from_secs(3600), false),
            csrf: CsrfProtection::new(b"test-secret", false),
            throttle: LoginThrottle::new(5, Duration::from_secs(900)),
            notifier: Some(notifier.clone()),
        };
        let state = StorefrontState::new(
            kv,
            search,
            gateway,
            keys,
            StorefrontOptions {
                html: Some(Arc::new(kit)),
                ..StorefrontOptions::default()
            },
        );
        Self {
            router: kontor_storefront::router(state),
            db,
            engine,
            notifier,
            mailbox,
            _database: database,
            _dir: dir,
        }
    }

    fn browser(&self) -> Browser<'_> {
        Browser {
            shop: self,
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// What the worker does after checkout: the order's onEnter steps (`new` → `payment pending`).
    async fn advance(&self, reference: &str) {
        let order = OrderRepository::find_order(&self.db, reference)
            .await
            .expect("read the order")
            .expect("the order exists");
        self.engine
            .advance_order(order.id, "worker")
            .await
            .expect("the order advances");
    }

    async fn order_exists(&self, reference: &str) -> bool {
        OrderRepository::find_order(&self.db, reference)
            .await
            .expect("read the order")
            .is_some()
    }
}

// ---------------------------------------------------------------------------------------------------
// A browser without JavaScript

/// An answer as a browser sees it.
#[derive(Debug)]
struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// Keeps cookies and the CSRF token of the last page with a form.
struct Browser<'a> {
    shop: &'a HtmlShop,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
}

impl Browser<'_> {
    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = self
            .shop
            .router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("router answers");
        for set_cookie in response.headers().get_all("set-cookie") {
            // `name=value; Path=/; Max-Age=…`: an empty value or `Max-Age=0` deletes the cookie.
            let text = set_cookie.to_str().expect("ascii");
            let mut parts = text.split(';').map(str::trim);
            let (name, value) = parts.next().and_then(|pair| pair.split_once('=')).expect("name=value");
            let expired = parts.any(|attribute| attribute.eq_ignore_ascii_case("max-age=0"));
            if expired || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().expect("ascii").to_owned());
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(token) = hidden_value(&body, "_csrf") {
            self.csrf = Some(token);
        }
        Page { status, location, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path), Body::empty()).await
    }

    /// Posts `fields` as a form, with the CSRF token of the last page unless `with_csrf` is false.
    async fn post_form(&mut self, path: &str, fields: &[(&str, &str)], with_csrf: bool) -> Page {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        if with_csrf {
            form.append_pair(
                "_csrf",
                self.csrf.as_deref().expect("a page with a form was seen first"),
            );
        }
        let request = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        self.send(request, Body::from(form.finish())).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_form(path, fields, true).await
    }

    /// Follows redirects of `page` to the page they end on.
    async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..5 {
            let Some(location) = page.location.clone().filter(|_| page.status.is_redirection()) else {
                return page;
            };
            page = self.get(&location).await;
        }
        panic!("too many redirects");
    }

    async fn post_and_follow(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.post(path, fields).await;
        self.follow(page).await
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The value of the first `<input … name="<name>" value="…">` in `html`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The values of the radio buttons or options named `name`, in page order.
fn choices(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .filter_map(|(index, _)| {
            let start = index + marker.len();
            let end = html[start..].find('"')? + start;
            Some(html[start..end].to_owned())
        })
        .collect()
}

/// The text of the first element after `before` up to the next `<`.
fn text_after(html: &str, before: &str) -> Option<String> {
    let start = html.find(before)? + before.len();
    let end = html[start..].find('<')? + start;
    Some(html[start..end].trim().to_owned())
}

const ADDRESS: &[(&str, &str)] = &[
    ("billingAddress.salutation", "Ms"),
    ("billingAddress.firstName", "Erika"),
    ("billingAddress.lastName", "Muster"),
    ("billingAddress.address1", "Hauptstraße 5"),
    ("billingAddress.zipCode", "10115"),
    ("billingAddress.city", "Berlin"),
    ("billingAddress.iso2Code", "DE"),
    ("shippingTo", "billing"),
];

/// Puts `quantity` blue jackets into the browser's cart, as the product page's form does.
async fn add_jackets(browser: &mut Browser<'_>, quantity: &str) -> Page {
    if browser.csrf.is_none() {
        browser.get("/cart").await;
    }
    let added = browser
        .post(
            "/cart/add",
            &[("sku", "100_blue"), ("quantity", quantity), ("return_to", "/cart")],
        )
        .await;
    assert_eq!(
        (added.status, added.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/cart")),
        "{}",
        added.body
    );
    browser.follow(added).await
}

/// Takes the browser's cart through shipment, payment and summary (the address step is done) and
/// places the order; returns the confirmation page and the order reference.
async fn finish_checkout(browser: &mut Browser<'_>) -> (Page, String) {
    let shipment = browser.get("/checkout/shipment").await;
    assert_eq!(shipment.status, StatusCode::OK, "{}", shipment.body);
    assert!(shipment.has("Standard") && shipment.has("€4.90"), "{}", shipment.body);
    let methods = choices(&shipment.body, "shipmentMethod");
    assert_eq!(methods.len(), 2, "{}", shipment.body);
    let payment = browser
        .post_and_follow("/checkout/shipment", &[("shipmentMethod", &methods[0])])
        .await;
    assert!(payment.has("Invoice"), "{}", payment.body);
    let summary = browser
        .post_and_follow("/checkout/payment", &[("paymentMethod", "kt-invoice")])
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    assert!(
        summary.has("Place order") && summary.has("Hauptstraße 5"),
        "{}",
        summary.body
    );
    let placed = browser.post("/checkout/place", &[]).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let reference = placed
        .location
        .as_deref()
        .and_then(|location| location.strip_prefix("/checkout/confirmation/"))
        .expect("the confirmation page")
        .to_owned();
    let confirmation = browser.follow(placed).await;
    assert_eq!(confirmation.status, StatusCode::OK, "{}", confirmation.body);
    (confirmation, reference)
}

/// A signed-in customer orders one jacket to a typed address; the confirmation page and the reference.
async fn order_one_jacket(browser: &mut Browser<'_>) -> (Page, String) {
    add_jackets(browser, "1").await;
    browser.get("/checkout/address").await;
    let accepted = browser.post("/checkout/address", ADDRESS).await;
    assert_eq!(
        accepted.location.as_deref(),
        Some("/checkout/shipment"),
        "{}",
        accepted.body
    );
    finish_checkout(browser).await
}

async fn register(browser: &mut Browser<'_>, email: &str) -> Page {
    browser.get("/register").await;
    let fields = [
        ("salutation", "Ms"),
        ("firstName", "Erika"),
        ("lastName", "Muster"),
        ("email", email),
        ("password", PASSWORD),
        ("confirmPassword", PASSWORD),
        ("acceptedTerms", "1"),
    ];
    let registered = browser.post("/register", &fields).await;
    assert_eq!(
        (registered.status, registered.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/account")),
        "{}",
        registered.body
    );
    browser.follow(registered).await
}

async fn sign_in(browser: &mut Browser<'_>, email: &str, password: &str) -> Page {
    browser.get("/login").await;
    browser
        .post("/login", &[("email", email), ("password", password)])
        .await
}

// ---------------------------------------------------------------------------------------------------
// Scenarios

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_checks_out_in_steps_and_sees_the_confirmation() {
    let shop = HtmlShop::open().await;
    let mut guest = shop.browser();

    let empty = guest.get("/cart").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.has("Your cart is empty"), "{}", empty.body);
    assert!(
        !guest.cookies.contains_key("kontor_storefront"),
        "looking at an empty cart creates no session"
    );
    let early = guest.get("/checkout/address").await;
    assert_eq!(
        early.location.as_deref(),
        Some("/cart"),
        "an empty cart cannot be checked out"
    );

    let cart = add_jackets(&mut guest, "2").await;
    assert!(cart.has("Added 2 × Fjell Regenjacke Blau"), "{}", cart.body);
    // minijinja escapes `/` in attributes (`&#x2f;`), which browsers read back as `/`.
    assert!(
        cart.has("SKU 100_blue") && cart.has("img.example&#x2f;100-s.jpg"),
        "{}",
        cart.body
    );
    assert!(
        cart.has("€129.00") && cart.has("€258.00"),
        "unit and sum: {}",
        cart.body
    );
    let more = guest
        .post_and_follow("/cart/items/100_blue", &[("quantity", "3")])
        .await;
    assert!(more.has("€387.00"), "{}", more.body);
    let too_many = guest.post("/cart/items/100_blue", &[("quantity", "99")]).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", too_many.body);
    assert!(
        too_many.has("id=\"qe-1\"") && too_many.has("value=\"99\""),
        "{}",
        too_many.body
    );

    // A step reached before the ones it needs sends back to the first missing one.
    let skipped = guest.get("/checkout/summary").await;
    assert_eq!(skipped.location.as_deref(), Some("/checkout/address"));

    // Bad input: a message next to each field, and what was typed is still there.
    guest.get("/checkout/address").await;
    let bad = guest
        .post(
            "/checkout/address",
            &[
                ("customer.email", "not-an-email"),
                ("billingAddress.salutation", "Ms"),
                ("billingAddress.firstName", "Erika"),
                ("billingAddress.lastName", ""),
                ("billingAddress.address1", "Hauptstraße 5"),
                ("billingAddress.zipCode", ""),
                ("billingAddress.city", "Typed-City"),
                ("billingAddress.iso2Code", "DE"),
                ("shippingTo", "billing"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    for field in ["customer.email", "billingAddress.zipCode", "billingAddress.lastName"] {
        assert!(
            bad.has(&format!("<p class=\"error\" id=\"e-{field}\">")),
            "{field}: {}",
            bad.body
        );
        assert!(
            bad.has(&format!("aria-describedby=\"e-{field}\"")),
            "{field}: {}",
            bad.body
        );
    }
    assert!(
        bad.has("value=\"Typed-City\"") && bad.has("value=\"not-an-email\""),
        "{}",
        bad.body
    );
    assert!(!bad.has("id=\"e-billingAddress.city\""), "a good field has no message");
    let still = guest.get("/checkout/shipment").await;
    assert_eq!(
        still.location.as_deref(),
        Some("/checkout/address"),
        "nothing was accepted"
    );

    let mut fields = ADDRESS.to_vec();
    fields.push(("customer.email", "Guest@Example.com"));
    let accepted = guest.post("/checkout/address", &fields).await;
    assert_eq!(
        accepted.location.as_deref(),
        Some("/checkout/shipment"),
        "{}",
        accepted.body
    );
    let (confirmation, reference) = finish_checkout(&mut guest).await;
    assert!(reference.starts_with("DE--"), "{reference}");
    assert!(
        confirmation.has(&reference) && confirmation.has("Fjell Regenjacke Blau"),
        "{}",
        confirmation.body
    );
    assert!(
        !confirmation.has("data-order-status"),
        "a guest has no live status (the socket is for customers)"
    );
    assert!(shop.order_exists(&reference).await, "the order is stored");

    let after = guest.get("/cart").await;
    assert!(
        after.has("Your cart is empty"),
        "the ordered cart is gone: {}",
        after.body
    );
    let stranger = shop.browser().get(&format!("/checkout/confirmation/{reference}")).await;
    assert_eq!(
        stranger.status,
        StatusCode::NOT_FOUND,
        "only this session sees the guest's order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let shop = HtmlShop::open().await;
    let mut guest = shop.browser();
    guest.get("/cart").await;
    let forged = guest
        .post_form("/cart/add", &[("sku", "100_blue"), ("quantity", "1")], false)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    let wrong = guest
        .post_form(
            "/cart/add",
            &[("sku", "100_blue"), ("quantity", "1"), ("_csrf", "00ff")],
            false,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let cart = guest.get("/cart").await;
    assert!(cart.has("Your cart is empty"), "{}", cart.body);

    let mut stranger = shop.browser();
    let no_cookie = stranger
        .post_form("/login", &[("email", "a@example.com"), ("password", PASSWORD)], false)
        .await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_registers_orders_and_follows_the_order_in_the_account() {
    let shop = HtmlShop::open().await;
    let mut browser = shop.browser();

    // The account is behind the sign-in, which comes back to the page asked for.
    let guarded = browser.get("/account/orders").await;
    assert_eq!(
        guarded.location.as_deref(),
        Some("/login?return_to=%2Faccount%2Forders")
    );

    let refused = {
        browser.get("/register").await;
        browser
            .post(
                "/register",
                &[
                    ("salutation", "Ms"),
                    ("firstName", "Erika"),
                    ("lastName", "Muster"),
                    ("email", "not-an-email"),
                    ("password", "short"),
                    ("confirmPassword", "short"),
                ],
            )
            .await
    };
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(
        refused.has("id=\"e-email\"") && refused.has("id=\"e-password\""),
        "{}",
        refused.body
    );
    assert!(
        refused.has("value=\"Erika\"") && !refused.has("value=\"short\""),
        "passwords are not echoed"
    );

    // A guest cart comes along into the account.
    add_jackets(&mut browser, "1").await;
    let welcome = register(&mut browser, "erika@example.com").await;
    assert!(
        welcome.has("Welcome, Erika!") && welcome.has("erika@example.com"),
        "{}",
        welcome.body
    );
    let cart = browser.get("/cart").await;
    assert!(
        cart.has("Fjell Regenjacke Blau"),
        "the guest cart was merged: {}",
        cart.body
    );

    let signed_out = browser.post("/logout", &[]).await;
    assert_eq!(signed_out.location.as_deref(), Some("/"));
    assert!(
        !browser.cookies.contains_key("kontor_storefront"),
        "the session cookie is cleared"
    );
    assert_eq!(
        browser.get("/account").await.location.as_deref(),
        Some("/login?return_to=%2Faccount")
    );

    let signed_in = sign_in(&mut browser, "Erika@Example.com", PASSWORD).await;
    assert_eq!(signed_in.location.as_deref(), Some("/account"), "{}", signed_in.body);

    // An address for the book, first with a mistake.
    browser.get("/account/addresses").await;
    let mut address: Vec<(&str, &str)> = ADDRESS
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix("billingAddress.")?, *value)))
        .collect();
    address.push(("action", "add"));
    let mut bad_address = address.clone();
    bad_address.retain(|(name, _)| *name != "zipCode");
    let bad = browser.post("/account/addresses", &bad_address).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.has("id=\"e-zipCode\"") && bad.has("value=\"Hauptstraße 5\""),
        "{}",
        bad.body
    );
    let book = browser.post_and_follow("/account/addresses", &address).await;
    assert!(
        book.has("The address was added") && book.has("10115 Berlin"),
        "{}",
        book.body
    );
    let address_id = hidden_value(&book.body, "address_id").expect("a saved address");

    // The customer checks out with the saved address (no e-mail asked).
    let form = browser.get("/checkout/address").await;
    assert!(!form.has("customer.email"), "{}", form.body);
    assert!(form.has(&format!("<option value=\"{address_id}\"")), "{}", form.body);
    let accepted = browser
        .post(
            "/checkout/address",
            &[("billingAddress.id", &address_id), ("shippingTo", "billing")],
        )
        .await;
    assert_eq!(
        accepted.location.as_deref(),
        Some("/checkout/shipment"),
        "{}",
        accepted.body
    );
    let (confirmation, reference) = finish_checkout(&mut browser).await;
    assert!(
        confirmation.has(&format!("data-order-status=\"{reference}\"")),
        "{}",
        confirmation.body
    );

    let history = browser.get("/account/orders").await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(
        history.has(&format!("href=\"/account/orders/{reference}\"")),
        "{}",
        history.body
    );
    let status = text_after(
        &history.body,
        &format!("data-order-status=\"{reference}\" aria-live=\"polite\">"),
    )
    .expect("a status per order");
    assert!(!status.is_empty(), "{}", history.body);
    let detail = browser.get(&format!("/account/orders/{reference}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert!(
        detail.has(&format!("data-order-status=\"{reference}\"")) && detail.has("Fjell Regenjacke Blau"),
        "{}",
        detail.body
    );

    // Someone else cannot see it.
    let mut other = shop.browser();
    register(&mut other, "max@example.com").await;
    let foreign = other.get(&format!("/account/orders/{reference}")).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let foreign_history = other.get("/account/orders").await;
    assert!(!foreign_history.has(&reference), "{}", foreign_history.body);
}

/// The item states on the order pages: the glossary's display name in the page's locale where there
/// is one (`oms.state.payment-pending`), else the state name (`new` has no entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_pages_show_state_display_names_from_the_glossary() {
    let shop = HtmlShop::open().await;
    let mut browser = shop.browser();
    register(&mut browser, "erika@example.com").await;
    let (confirmation, waiting) = order_one_jacket(&mut browser).await;
    let status = |reference: &str| format!("data-order-status=\"{reference}\" aria-live=\"polite\">");
    assert_eq!(
        text_after(&confirmation.body, &status(&waiting)).as_deref(),
        Some("new"),
        "no display name for new: {}",
        confirmation.body
    );
    assert!(confirmation.has("data-state=\"new\">new</td>"), "{}", confirmation.body);
    shop.advance(&waiting).await;
    let (_, fresh) = order_one_jacket(&mut browser).await;

    let detail = browser.get(&format!("/account/orders/{waiting}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(
        text_after(&detail.body, &status(&waiting)).as_deref(),
        Some("Zahlung ausstehend"),
        "{}",
        detail.body
    );
    assert!(
        detail.has("data-state=\"payment pending\">Zahlung ausstehend</td>"),
        "{}",
        detail.body
    );
    assert!(!detail.has(">payment pending<"), "{}", detail.body);
    let other = browser.get(&format!("/account/orders/{fresh}")).await;
    assert!(other.has("data-state=\"new\">new</td>"), "{}", other.body);

    let history = browser.get("/account/orders").await;
    assert_eq!(
        text_after(&history.body, &status(&waiting)).as_deref(),
        Some("Zahlung ausstehend"),
        "{}",
        history.body
    );
    assert_eq!(
        text_after(&history.body, &status(&fresh)).as_deref(),
        Some("new"),
        "{}",
        history.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_throttle_even_the_right_one() {
    let shop = HtmlShop::open().await;
    let mut browser = shop.browser();
    register(&mut browser, "erika@example.com").await;
    browser.post("/logout", &[]).await;
    for attempt in 1..=5 {
        let wrong = sign_in(&mut browser, "erika@example.com", "wrong-password-123").await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "attempt {attempt}: {}",
            wrong.body
        );
        assert!(
            wrong.has("The e-mail address or the password is not correct."),
            "{}",
            wrong.body
        );
        assert!(
            wrong.has("value=\"erika@example.com\""),
            "the address is kept: {}",
            wrong.body
        );
    }
    let throttled = sign_in(&mut browser, "ERIKA@example.com", PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "{}", throttled.body);
    assert!(
        throttled.has("Too many attempts, try again in 15 minutes."),
        "{}",
        throttled.body
    );
    assert_eq!(
        browser.get("/account").await.location.as_deref(),
        Some("/login?return_to=%2Faccount"),
        "not signed in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_answers_alike_for_unknown_addresses_and_the_key_resets_it() {
    let shop = HtmlShop::open().await;
    let mut browser = shop.browser();
    register(&mut browser, "erika@example.com").await;
    browser.post("/logout", &[]).await;

    let mut answers = Vec::new();
    for email in ["erika@example.com", "nobody@example.com"] {
        browser.get("/password/forgot").await;
        let answer = browser.post("/password/forgot", &[("email", email)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let csrf = hidden_value(&answer.body, "_csrf").unwrap_or_default();
        answers.push(answer.body.replace(&csrf, ""));
    }
    assert_eq!(answers[0], answers[1], "the answer does not tell which addresses exist");
    assert!(answers[0].contains("If an account exists for this address"));

    let mails = shop.mailbox.mails();
    assert_eq!(mails.len(), 1, "only the known address gets a mail");
    let key = mails[0]
        .body
        .lines()
        .map(str::trim)
        .find(|line| line.len() >= 20 && !line.contains(' '))
        .expect("the reset key")
        .to_owned();

    let bad = {
        browser.get(&format!("/password/reset?token={key}")).await;
        browser
            .post(
                "/password/reset",
                &[
                    ("token", "not-the-key"),
                    ("password", "new-password-456"),
                    ("confirmPassword", "new-password-456"),
                ],
            )
            .await
    };
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.has("This link is invalid or has expired"), "{}", bad.body);
    let reset = browser
        .post_and_follow(
            "/password/reset",
            &[
                ("token", &key),
                ("password", "new-password-456"),
                ("confirmPassword", "new-password-456"),
            ],
        )
        .await;
    assert!(reset.has("Your password was changed"), "{}", reset.body);
    let signed_in = sign_in(&mut browser, "erika@example.com", "new-password-456").await;
    assert_eq!(signed_in.location.as_deref(), Some("/account"), "{}", signed_in.body);
}

// ---------------------------------------------------------------------------------------------------
// Live order status

async fn serve(shop: &HtmlShop) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let address = listener.local_addr().expect("address");
    let router = shop.router.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}

async fn open_socket(
    address: std::net::SocketAddr,
    cookie: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tungstenite::Error,
> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{address}/ws").into_client_request().expect("request");
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

async fn publish_status(notifier: &Arc<dyn Notifier>, reference: &str, customer: &str, status: &str) {
    let payload = json!({"reference": reference, "customer_reference": customer, "store": "DE",
                         "status": status, "item_states": [status]});
    notifier
        .publish(ORDERS_CHANNEL, Notification::new("order.status", payload))
        .await
        .expect("publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_forwards_only_the_customers_own_order_statuses() {
    let shop = HtmlShop::open().await;
    let address = serve(&shop).await;

    match open_socket(address, None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::UNAUTHORIZED),
        other => panic!("an anonymous socket must be refused, got {other:?}"),
    }

    let mut erika = shop.browser();
    register(&mut erika, "erika@example.com").await;
    let profile = erika.get("/account").await;
    let erika_reference = text_after(&profile.body, "<dt>Customer number</dt><dd>").expect("reference");
    let mut socket = open_socket(address, Some(&erika.cookie_header()))
        .await
        .expect("a signed-in customer connects");

    // Someone else's order first: were it forwarded, it would arrive before Erika's.
    publish_status(&shop.notifier, "DE--99", "DE--someone-else", "shipped").await;
    publish_status(&shop.notifier, "DE--7", &erika_reference, "paid").await;
    let message = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    return serde_json::from_str::<Value>(&text).expect("json");
                }
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the customer's status arrives");
    assert_eq!(
        message,
        json!({"type": "order.status", "reference": "DE--7", "status": "paid"}),
        "no display name for paid"
    );
    // A state with a display name goes out in the session's locale, as the pages show it.
    publish_status(&shop.notifier, "DE--7", &erika_reference, "payment pending").await;
    let translated = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    return serde_json::from_str::<Value>(&text).expect("json");
                }
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the second status arrives");
    assert_eq!(
        translated,
        json!({"type": "order.status", "reference": "DE--7", "status": "Zahlung ausstehend"})
    );
    socket.close(None).await.expect("close");

    // A browser page of another site may not open it with the customer's cookies.
    use tungstenite::client::IntoClientRequest;
    let mut cross_site = format!("ws://{address}/ws").into_client_request().expect("request");
    cross_site
        .headers_mut()
        .insert("cookie", erika.cookie_header().parse().expect("header"));
    cross_site
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    match tokio_tungstenite::connect_async(cross_site).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::FORBIDDEN),
        other => panic!("a cross-site socket must be refused, got {other:?}"),
    }
}
