//! The test shop: store DE (de_DE, en_US; EUR, CHF), a category tree Outdoor → Jackets, Tents, three
//! products with variants, DEFAULT and ORIGINAL prices, stock (one product sold out), URLs, attribute
//! labels and image sets; published for real, served through the storefront router.

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::gateway::LocalGateway;
use kontor_core::{LocaleName, StoreName};
use kontor_db::SqlDatabase;
use kontor_db::entity::{outbox, product_image, product_image_set};
use kontor_domain::cart::CartService;
use kontor_domain::checkout::{CheckoutService, OrderProcesses};
use kontor_domain::customer::{CustomerService, Mail, MailError, Mailer};
use kontor_domain::gateway::{BackendGateway, GatewayError, GatewayReply, GatewayRequest};
use kontor_domain::review::ReviewService;
use kontor_domain::{Record, Resource, ResourceRepository, Valid};
use kontor_kv::{ApplyReport, KvError, KvOp, KvOptions, KvStore};
use kontor_search::{
    ApplyOutcome, KeyVersion, SearchError, SearchIndex, SearchOp, SearchRequest, SearchResult, StoredDocument,
    Suggestions, TantivySearchIndex,
};
use kontor_storefront::response_cache::ResponseCacheOptions;
use kontor_storefront::{StorefrontOptions, StorefrontState};
use kontor_sync::direct::DirectSync;
use kontor_testkit::{TestBackend, TestDatabase};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redb,
    Redis,
}

/// Counts the calls a request makes, so tests can hold the storefront to its round-trip budget.
pub struct CountingKv {
    pub inner: Arc<dyn KvStore>,
    pub gets: AtomicUsize,
    pub multi_gets: AtomicUsize,
}

#[async_trait]
impl KvStore for CountingKv {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>, KvError> {
        self.multi_gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get_many(keys).await
    }
    async fn apply(&self, ops: &[KvOp]) -> Result<ApplyReport, KvError> {
        self.inner.apply(ops).await
    }
    async fn scan_prefix(
        &self,
        prefix: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, KvError> {
        self.inner.scan_prefix(prefix, after_key, limit).await
    }
    async fn clear(&self) -> Result<u64, KvError> {
        self.inner.clear().await
    }
}

/// Counts searches, so product reads can be shown to never use the index.
pub struct CountingSearch {
    pub inner: TantivySearchIndex,
    pub searches: AtomicUsize,
}

#[async_trait]
impl SearchIndex for CountingSearch {
    async fn apply(&self, ops: Vec<SearchOp>) -> Result<ApplyOutcome, SearchError> {
        self.inner.apply(ops).await
    }
    async fn search(&self, request: SearchRequest) -> Result<SearchResult, SearchError> {
        self.searches.fetch_add(1, Ordering::SeqCst);
        self.inner.search(request).await
    }
    async fn suggest(
        &self,
        store: &StoreName,
        locale: &LocaleName,
        prefix: &str,
        limit: usize,
    ) -> Result<Suggestions, SearchError> {
        self.searches.fetch_add(1, Ordering::SeqCst);
        self.inner.suggest(store, locale, prefix, limit).await
    }
    async fn get(&self, key: &str) -> Result<Option<StoredDocument>, SearchError> {
        self.inner.get(key).await
    }
    async fn keys(&self, store: &StoreName, locale: &LocaleName) -> Result<Vec<KeyVersion>, SearchError> {
        self.inner.keys(store, locale).await
    }
    async fn clear(&self, store: &StoreName, locale: &LocaleName) -> Result<(), SearchError> {
        self.inner.clear(store, locale).await
    }
    fn generation(&self, store: &StoreName, locale: &LocaleName) -> Option<u64> {
        self.inner.generation(store, locale)
    }
}

/// Catalog reads must not need the backend: every command fails as if it were down.
pub struct DownGateway;

#[async_trait]
impl BackendGateway for DownGateway {
    async fn execute(&self, _request: GatewayRequest) -> Result<GatewayReply, GatewayError> {
        Err(GatewayError::Unavailable("the test backend is down".to_owned()))
    }
}

/// Keeps the mails the backend sends (password reset), instead of delivering them.
#[derive(Default)]
pub struct RecordingMailer(std::sync::Mutex<Vec<Mail>>);

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if let Ok(mut mails) = self.0.lock() {
            mails.push(mail.clone());
        }
        Ok(())
    }
}

const TOKEN_SECRET: &[u8] = b"catalog-tests-secret-0123456789abcdef";

/// A published shop and a router over it.
pub struct Shop {
    pub router: axum::Router,
    pub state: StorefrontState,
    pub kv: Arc<CountingKv>,
    pub search: Arc<CountingSearch>,
    pub ids: Ids,
    pub mailer: Arc<RecordingMailer>,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// Database ids the assertions need.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub jacket: i64,
    /// The newest approved English review of the jacket.
    pub review: i64,
    pub jackets_node: i64,
    pub outdoor_node: i64,
}

/// A response reduced to what the contract is about.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The first error code, for error answers.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or_default()
    }

    /// Status, the headers a client relies on (ETag reduced to its presence) and the body.
    pub fn contract(&self) -> Value {
        let header = |name: &str| self.headers.get(name).and_then(|value| value.to_str().ok());
        json!({
            "status": self.status.as_u16(),
            "content-type": header("content-type"),
            "content-language": header("content-language"),
            "etag": header("etag").map(|_| "[etag]"),
            "body": self.body,
        })
    }
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

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// An image set with its images, and the outbox row its writer would commit with it.
async fn image_set(db: &SqlDatabase, owner: (&str, i64), name: &str, locale_id: Option<i64>, images: &[(&str, &str)]) {
    let connection = db.connection();
    let now = now_micros();
    let (fk, id) = owner;
    let set = product_image_set::ActiveModel {
        name: Set(name.to_owned()),
        product_abstract_id: Set((fk == "fk_product_abstract").then_some(id)),
        product_concrete_id: Set((fk == "fk_product_concrete").then_some(id)),
        locale_id: Set(locale_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("image set");
    for (position, (large, small)) in images.iter().enumerate() {
        product_image::ActiveModel {
            product_image_set_id: Set(set.id),
            external_url_large: Set((*large).to_owned()),
            external_url_small: Set((*small).to_owned()),
            sort_order: Set(i32::try_from(position).expect("few images")),
            ..Default::default()
        }
        .insert(connection)
        .await
        .expect("image");
    }
    outbox::ActiveModel {
        resource: Set("product_image_set".to_owned()),
        entity_id: Set(set.id),
        event: Set("Entity.product_image_set.create".to_owned()),
        changed_columns: Set(None),
        foreign_keys: Set(Some(json!({ fk: [id] }).to_string())),
        changed_at: Set(now),
        relayed_at: Set(None),
        ..Default::default()
    }
    .insert(connection)
    .await
    .expect("outbox row");
}

async fn write_catalog(db: &SqlDatabase) -> Ids {
    use kontor_domain::catalog::*;
    use kontor_domain::glossary::GlossaryKeyAttributes;
    use kontor_domain::pricing::PriceAttributes;
    use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
    use kontor_domain::store::*;
    let de = create::<LocaleAttributes>(db, json!({"name": "de_DE"})).await;
    create::<LocaleAttributes>(db, json!({"name": "en_US"})).await;
    create::<CurrencyAttributes>(db, json!({"code": "EUR", "name": "Euro"})).await;
    create::<CurrencyAttributes>(db, json!({"code": "CHF", "name": "Swiss Franc"})).await;
    create::<StoreAttributes>(
        db,
        json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR", "locales": ["de_DE", "en_US"],
               "currencies": ["EUR", "CHF"], "timezone": "Europe/Berlin"}),
    )
    .await;
    create::<AttributeKeyAttributes>(db, json!({"key": "color", "isSuper": true})).await;
    create::<AttributeKeyAttributes>(db, json!({"key": "brand"})).await;
    create::<AttributeKeyAttributes>(db, json!({"key": "material"})).await;
    for (key, german, english) in [
        ("product.attribute.color", "Farbe", "Colour"),
        ("product.attribute.brand", "Marke", "Brand"),
    ] {
        create::<GlossaryKeyAttributes>(
            db,
            json!({"key": key, "translations": {"de_DE": german, "en_US": english}}),
        )
        .await;
    }
    create::<CategoryAttributes>(
        db,
        json!({"categoryKey": "outdoor", "stores": ["DE"], "sortOrder": 90,
               "localizedAttributes": {"de_DE": {"name": "Draußen", "metaTitle": "Draußen"},
                                       "en_US": {"name": "Outdoor", "metaTitle": "Outdoor"}}}),
    )
    .await;
    create::<CategoryAttributes>(
        db,
        json!({"categoryKey": "jackets", "parentCategoryKey": "outdoor", "stores": ["DE"], "sortOrder": 100,
               "localizedAttributes": {"de_DE": {"name": "Jacken"}, "en_US": {"name": "Jackets", "metaDescription": "Jackets for rain and cold"}}}),
    )
    .await;
    create::<CategoryAttributes>(
        db,
        json!({"categoryKey": "tents", "parentCategoryKey": "outdoor", "stores": ["DE"], "sortOrder": 50,
               "localizedAttributes": {"de_DE": {"name": "Zelte"}, "en_US": {"name": "Tents"}}}),
    )
    .await;

    let jacket = create::<ProductAbstractAttributes>(
        db,
        json!({"sku": "100", "stores": ["DE"], "attributes": {"brand": "Fjell", "material": "Polyamide"},
               "localizedAttributes": {
                   "de_DE": {"name": "Fjell Regenjacke", "description": "Leicht, getapte Nähte",
                             "metaTitle": "Fjell Regenjacke", "metaKeywords": "Fjell,Jacken", "metaDescription": "Leichte Regenjacke"},
                   "en_US": {"name": "Fjell Rain Jacket", "description": "Light, taped seams",
                             "metaTitle": "Fjell Rain Jacket", "metaKeywords": "Fjell,Jackets", "metaDescription": "Light rain jacket"}}}),
    )
    .await;
    let tent = create::<ProductAbstractAttributes>(
        db,
        json!({"sku": "200", "stores": ["DE"], "attributes": {"brand": "Havn"},
               "localizedAttributes": {"de_DE": {"name": "Havn Zelt", "description": "Zwei Personen"},
                                       "en_US": {"name": "Havn Tent", "description": "Sleeps two"}}}),
    )
    .await;
    create::<ProductAbstractAttributes>(
        db,
        json!({"sku": "300", "stores": ["DE"], "attributes": {"brand": "Fjell"},
               "localizedAttributes": {"de_DE": {"name": "Fjell Daunenjacke", "description": "Warm"},
                                       "en_US": {"name": "Fjell Down Jacket", "description": "Warm and light"}}}),
    )
    .await;
    let mut concrete_ids = std::collections::HashMap::new();
    for (sku, abstract_sku, color, english, german) in [
        (
            "100_blue",
            "100",
            Some("Blue"),
            "Fjell Rain Jacket Blue",
            "Fjell Regenjacke Blau",
        ),
        (
            "100_red",
            "100",
            Some("Red"),
            "Fjell Rain Jacket Red",
            "Fjell Regenjacke Rot",
        ),
        ("200_std", "200", None, "Havn Tent", "Havn Zelt"),
        (
            "300_black",
            "300",
            Some("Black"),
            "Fjell Down Jacket Black",
            "Fjell Daunenjacke Schwarz",
        ),
    ] {
        let attributes = color.map_or_else(|| json!({}), |color| json!({"color": color}));
        let concrete = create::<ProductConcreteAttributes>(
            db,
            json!({"sku": sku, "abstractSku": abstract_sku, "attributes": attributes,
                   "localizedAttributes": {"en_US": {"name": english}, "de_DE": {"name": german}}}),
        )
        .await;
        concrete_ids.insert(sku, concrete.id.0);
    }
    for (sku, category) in [("100", "jackets"), ("300", "jackets"), ("200", "tents")] {
        create::<ProductCategoryAttributes>(db, json!({"abstractSku": sku, "categoryKey": category})).await;
    }
    for price in [
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": 12900, "netAmount": 10840,
               "volumePrices": [{"quantity": 5, "grossAmount": 11900, "netAmount": 10000}]}),
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "priceType": "ORIGINAL", "grossAmount": 15900, "netAmount": 13361}),
        json!({"abstractSku": "100", "store": "DE", "currency": "CHF", "grossAmount": 13900, "netAmount": 12870}),
        json!({"concreteSku": "100_red", "store": "DE", "currency": "EUR", "grossAmount": 11900, "netAmount": 10000}),
        json!({"abstractSku": "200", "store": "DE", "currency": "EUR", "grossAmount": 34900, "netAmount": 29328}),
        json!({"abstractSku": "300", "store": "DE", "currency": "EUR", "grossAmount": 19900, "netAmount": 16723}),
    ] {
        create::<PriceAttributes>(db, price).await;
    }
    create::<WarehouseAttributes>(db, json!({"name": "Main", "stores": ["DE"]})).await;
    create::<StockAttributes>(db, json!({"sku": "100_blue", "warehouse": "Main", "quantity": 7})).await;
    create::<StockAttributes>(db, json!({"sku": "100_red", "warehouse": "Main", "quantity": 0})).await;
    create::<StockAttributes>(
        db,
        json!({"sku": "200_std", "warehouse": "Main", "isNeverOutOfStock": true}),
    )
    .await;

    // The jacket: three approved reviews (4.3 on average; two English, one German), one pending and
    // one rejected, neither shown nor counted. The trekking jacket: one approved review.
    let mut review = 0;
    for (sku, locale, nickname, summary, rating, status) in [
        ("100", "en_US", "Maria", "Keeps the rain out", 5, "approved"),
        ("100", "de_DE", "Jonas", "Hält dicht", 4, "approved"),
        ("100", "en_US", "Tom", "Runs a size small", 4, "approved"),
        ("100", "en_US", "Lena", "Never arrived", 1, "pending"),
        ("100", "en_US", "Spam", "Cheap watches here", 1, "rejected"),
        ("300", "en_US", "Anna", "Fine for the money", 3, "approved"),
    ] {
        let created = create::<kontor_domain::review::ProductReviewAttributes>(
            db,
            json!({"abstractSku": sku, "locale": locale, "customerReference": "DE--1", "nickname": nickname,
                   "summary": summary, "description": format!("{summary}."), "rating": rating, "status": status}),
        )
        .await;
        if nickname == "Tom" {
            review = created.id.0;
        }
    }

    // Units sold recently (what the daily popularity job stores): the tent outsells the jacket; the
    // trekking jacket has sold nothing.
    for (product_abstract_id, units_sold) in [(tent.id.0, 12), (jacket.id.0, 3)] {
        kontor_db::entity::product_abstract_popularity::ActiveModel {
            product_abstract_id: Set(product_abstract_id),
            units_sold: Set(units_sold),
            updated_at: Set(0),
        }
        .insert(db.connection())
        .await
        .expect("popularity");
    }

    checkout_methods(db).await;
    let img = |name: &str| {
        (
            format!("https://img.example/{name}-l.jpg"),
            format!("https://img.example/{name}-s.jpg"),
        )
    };
    let (jacket_l, jacket_s) = img("100");
    let (jacket_back_l, jacket_back_s) = img("100-back");
    let (jacket_de_l, jacket_de_s) = img("100-de");
    let (red_l, red_s) = img("100_red");
    let (tent_l, tent_s) = img("200");
    image_set(
        db,
        ("fk_product_abstract", jacket.id.0),
        "default",
        None,
        &[(&jacket_l, &jacket_s), (&jacket_back_l, &jacket_back_s)],
    )
    .await;
    image_set(
        db,
        ("fk_product_abstract", jacket.id.0),
        "default",
        Some(de.id.0),
        &[(&jacket_de_l, &jacket_de_s)],
    )
    .await;
    image_set(
        db,
        ("fk_product_concrete", concrete_ids["100_red"]),
        "default",
        None,
        &[(&red_l, &red_s)],
    )
    .await;
    image_set(
        db,
        ("fk_product_abstract", tent.id.0),
        "default",
        None,
        &[(&tent_l, &tent_s)],
    )
    .await;

    let nodes = node_ids(db).await;
    Ids {
        jacket: jacket.id.0,
        review,
        jackets_node: nodes.iter().find(|(key, _)| key == "jackets").map_or(0, |(_, id)| *id),
        outdoor_node: nodes.iter().find(|(key, _)| key == "outdoor").map_or(0, |(_, id)| *id),
    }
}

/// Node ids by category key, read straight from SQL (the fixture's own bookkeeping).
async fn node_ids(db: &SqlDatabase) -> Vec<(String, i64)> {
    use kontor_db::entity::{category, category_node};
    use sea_orm::EntityTrait;
    let categories = category::Entity::find().all(db.connection()).await.expect("categories");
    let nodes = category_node::Entity::find().all(db.connection()).await.expect("nodes");
    nodes
        .into_iter()
        .filter_map(|node| {
            let key = categories
                .iter()
                .find(|row| row.id == node.category_id)?
                .category_key
                .clone();
            Some((key, node.id))
        })
        .collect()
}

impl Shop {
    /// Builds, publishes and serves the test shop on `backend`, with the backend gateway down.
    pub async fn open(backend: Backend) -> Self {
        Self::build(backend, false, StorefrontOptions::default()).await
    }

    /// Like [`Shop::open`], keeping rendered product answers in a response cache.
    pub async fn open_cached(backend: Backend, cache: ResponseCacheOptions) -> Self {
        Self::open_with_options(
            backend,
            StorefrontOptions {
                response_cache: Some(cache),
                ..StorefrontOptions::default()
            },
        )
        .await
    }

    /// Like [`Shop::open`] with `options` (its `public_url` is the test shop's).
    pub async fn open_with_options(backend: Backend, options: StorefrontOptions) -> Self {
        Self::build(backend, false, options).await
    }

    /// Like [`Shop::open`], with the real backend services (customers, carts) behind the in-process
    /// gateway on the shop's SQLite database.
    pub async fn open_with_backend(backend: Backend) -> Self {
        Self::build(backend, true, StorefrontOptions::default()).await
    }

    async fn build(backend: Backend, with_backend: bool, options: StorefrontOptions) -> Self {
        let database = TestDatabase::new(TestBackend::Sqlite).await;
        let db = database.database.clone();
        let ids = write_catalog(&db).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let inner: Arc<dyn KvStore> = match backend {
            Backend::Redb => kontor_kv::open(
                &format!("redb://{}", dir.path().join("kv.redb").display()),
                KvOptions::default(),
            )
            .await
            .expect("redb"),
            Backend::Redis => {
                let namespace = format!("t{}:", uuid::Uuid::new_v4().simple());
                kontor_kv::open("redis://127.0.0.1:6379", KvOptions::with_namespace(namespace))
                    .await
                    .expect("redis at 127.0.0.1:6379")
            }
        };
        let kv = Arc::new(CountingKv {
            inner,
            gets: AtomicUsize::new(0),
            multi_gets: AtomicUsize::new(0),
        });
        let search = Arc::new(CountingSearch {
            inner: TantivySearchIndex::open(dir.path().join("search")).expect("tantivy"),
            searches: AtomicUsize::new(0),
        });
        DirectSync::new(db.clone(), kv.clone(), search.clone())
            .drain()
            .await
            .expect("publish & sync");
        let keys = kontor_web::access_token::AccessTokenKeys::from_secret(TOKEN_SECRET, 3600);
        let mailer = Arc::new(RecordingMailer::default());
        let gateway: Arc<dyn BackendGateway> = if with_backend {
            let shared = Arc::new(db.clone());
            let customers = CustomerService::new(shared.clone(), Arc::new(keys.clone()), mailer.clone(), 30);
            let carts = CartService::new(shared.clone(), shared.clone());
            let checkout = CheckoutService::new(
                shared.clone(),
                shared.clone(),
                shared.clone(),
                shared.clone(),
                order_processes(&db, mailer.clone()),
            );
            Arc::new(LocalGateway::new(
                customers,
                carts,
                checkout,
                ReviewService::new(shared),
            ))
        } else {
            Arc::new(DownGateway)
        };
        let state = StorefrontState::new(
            kv.clone(),
            search.clone(),
            gateway,
            keys,
            StorefrontOptions {
                public_url: Some("https://shop.example".to_owned()),
                ..options
            },
        );
        kv.multi_gets.store(0, Ordering::SeqCst);
        kv.gets.store(0, Ordering::SeqCst);
        search.searches.store(0, Ordering::SeqCst);
        Self {
            router: kontor_storefront::router(state.clone()),
            state,
            kv,
            search,
            ids,
            mailer,
            _database: database,
            _dir: dir,
        }
    }

    /// A request with a JSON:API body.
    pub async fn request_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api{path}"))
            .header("accept", "application/vnd.api+json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/vnd.api+json");
                Body::from(body)
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> Answer {
        self.request_json("POST", path, headers, Some(body.to_string())).await
    }

    /// A POST whose body is sent as given (malformed JSON tests).
    pub async fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        self.request_json("POST", path, headers, Some(body.to_owned())).await
    }

    pub async fn patch(&self, path: &str, headers: &[(&str, &str)], body: Value) -> Answer {
        self.request_json("PATCH", path, headers, Some(body.to_string())).await
    }

    pub async fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.request_json("DELETE", path, headers, None).await
    }

    /// A form-encoded POST (the OAuth2 `token` endpoint).
    pub async fn post_form(&self, path: &str, form: &str) -> Answer {
        let request = Request::post(format!("/api{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("request");
        self.send(request).await
    }

    /// The mails the backend sent so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mailer.0.lock().map(|mails| mails.clone()).unwrap_or_default()
    }

    /// A token for `customer_reference` signed with the shop's key but already expired.
    pub fn expired_token(&self, customer_reference: &str) -> String {
        let keys = kontor_web::access_token::AccessTokenKeys::from_secret(TOKEN_SECRET, 3600);
        let now = chrono::Utc::now().timestamp();
        keys.sign(&kontor_web::access_token::AccessClaims {
            sub: customer_reference.to_owned(),
            aud: kontor_web::access_token::AUDIENCE.to_owned(),
            scopes: vec!["customer".to_owned()],
            iat: now - 7200,
            exp: now - 60,
            jti: "expired".to_owned(),
        })
        .expect("sign")
    }

    /// `GET /api<path>` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::get(format!("/api{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        Answer { status, headers, body }
    }

    /// The backend's database, for writes the Back Office would make.
    pub fn database(&self) -> &SqlDatabase {
        &self._database.database
    }

    /// Publishes and syncs what the backend wrote since (as the worker would).
    pub async fn republish(&self) {
        DirectSync::new(self._database.database.clone(), self.kv.clone(), self.search.clone())
            .drain()
            .await
            .expect("publish & sync");
    }

    /// KV `get_many` calls since the last reset, and resets the counters.
    pub fn take_round_trips(&self) -> (usize, usize, usize) {
        (
            self.kv.multi_gets.swap(0, Ordering::SeqCst),
            self.kv.gets.swap(0, Ordering::SeqCst),
            self.search.searches.swap(0, Ordering::SeqCst),
        )
    }

    /// Removes the Redis namespace's keys (redb lives in the temp dir).
    pub async fn close(self) {
        let _ = self.kv.clear().await;
    }
}

/// Snapshots `value` under `name`, shared by every backend (no module prefix in the file name).
pub fn snapshot(name: &str, value: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("../snapshots");
    settings.bind(|| insta::assert_json_snapshot!(name, value));
}

/// Kontor's default process, with the built-in plugins (mails recorded), as checkout selects it.
pub fn order_processes(db: &SqlDatabase, mailer: Arc<RecordingMailer>) -> OrderProcesses {
    let mut registry = kontor_domain::oms::OmsRegistry::default();
    kontor_domain::oms::builtin::register(
        &mut registry,
        &kontor_domain::oms::builtin::BuiltinServices {
            oms: Arc::new(db.clone()),
            mailer,
            payments: kontor_domain::oms::builtin::PaymentProviders::builtin(),
            shop_name: "Test Shop".to_owned(),
        },
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/oms");
    let (processes, _) = kontor_oms::ProcessSet::load(
        &[dir],
        &["KontorDefault01".to_owned()],
        &registry,
        kontor_oms::Checks::Full,
    )
    .expect("the default process loads");
    OrderProcesses {
        processes: Arc::new(processes),
        payment_processes: [("DummyPayment/Invoice".to_owned(), "KontorDefault01".to_owned())].into(),
        default_process: None,
        initial_state: "new".to_owned(),
    }
}

/// Shipment methods Standard (4.90 EUR) and Express (12.90 EUR, not in CHF), payment methods Invoice
/// and Credit Card of the test provider, all in store DE; an inactive method that is never offered.
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
    let currency_id = |code: &'static str| async move {
        currency::Entity::find()
            .filter(currency::Column::Code.eq(code))
            .one(connection)
            .await
            .expect("read")
            .expect("currency")
            .id
    };
    let (eur, chf) = (currency_id("EUR").await, currency_id("CHF").await);
    let now = now_micros();
    for (key, name, active, prices) in [
        ("kt_standard", "Standard", true, vec![(eur, 412, 490), (chf, 500, 590)]),
        ("kt_express", "Express", true, vec![(eur, 1084, 1290)]),
        ("kt_pigeon", "Pigeon", false, vec![(eur, 1, 1)]),
    ] {
        let method = shipment_method::ActiveModel {
            method_key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            carrier_name: Set("Kontor Post".to_owned()),
            delivery_time: Set(Some("1-3 days".to_owned())),
            tax_set_id: Set(None),
            is_active: Set(active),
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
        for (currency_id, net, gross) in prices {
            shipment_method_price::ActiveModel {
                shipment_method_id: Set(method.id),
                store_id: Set(store_id),
                currency_id: Set(currency_id),
                net_amount: Set(Some(net)),
                gross_amount: Set(Some(gross)),
                ..Default::default()
            }
            .insert(connection)
            .await
            .expect("shipment price");
        }
    }
    for (key, name, priority) in [("kt-invoice", "Invoice", 2), ("kt-card", "Credit Card", 1)] {
        let method = payment_method::ActiveModel {
            method_key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            provider_key: Set("DummyPayment".to_owned()),
            provider_name: Set("Dummy Payment".to_owned()),
            priority: Set(priority),
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
}
