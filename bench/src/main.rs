//! `kontor-bench`: a small closed-loop HTTP load driver for Kontor's admin and storefront JSON:APIs.
//!
//! `--concurrency` workers each own one kept-alive HTTP/1.1 connection (opened before the clock
//! starts, `TCP_NODELAY`), send one request, read the whole answer, and send the next, until
//! `--duration` seconds have passed or `--max-requests` have been sent, whichever comes first. Every
//! request's latency is kept (microseconds), so percentiles are exact rather than bucketed. Being
//! closed-loop, a slow answer delays the worker's next request: latencies are those of a server
//! kept busy by `--concurrency` clients, not of an open arrival rate.
//!
//! Admin API scenarios (`--base-url` = the backend, `--token` = an admin API token):
//! - `create-products`: `POST /admin/abstract-products`, one new product per request; SKUs are
//!   `<run-id>-<counter>` so that runs against the same database never collide.
//! - `list-products`: `GET /admin/abstract-products?page[offset]=N&page[limit]=L`, walking the pages
//!   over every existing product in turn (offsets wrap around).
//! - `get-product`: `GET /admin/abstract-products/<id>`, cycling over the existing products' ids.
//!
//! Storefront scenarios (`--base-url` = the storefront API base, e.g. `http://127.0.0.1:8080/api`):
//! - `hello-world`: `GET <base-url>` against `kontor hello-world`, the ceiling of the HTTP stack.
//! - `storefront-product`: `GET /abstract-products/<sku>` over the abstract SKUs in a random order
//!   (`--sku-file`, else discovered by paging `catalog-search`).
//! - `storefront-search`: `GET /catalog-search?q=<word>&<facet>=<value>`, cycling over combinations
//!   discovered up front: words from product names, the top values of one value facet (`--facet`,
//!   else the one with the most values; `valueFacets[].config.parameterName`, `name[]` when
//!   multi-valued); only combinations that find at least one product are kept.
//! - `storefront-add-to-cart`: `POST /guest-cart-items` with `X-Anonymous-Customer-Unique-Id` spread
//!   over `--guests` guests and a random concrete SKU among those found available (with at least
//!   `--min-stock` units, or never out of stock) through `concrete-product-availabilities`.
//! - `storefront-checkout`: `POST /checkout` of guest carts with one item each, prepared before the
//!   clock starts (`--carts` of them, filled through `POST /guest-cart-items` with SKUs found
//!   available as for add-to-cart, shipment method from `checkout-data`, payment `Invoice` of
//!   `DummyPayment`); each request places one order, so requests/s is orders/s. The run ends when the
//!   carts are used up or `--duration` has passed.
//! - `paths`: `GET <base-url><path>` over the paths of `--path-file` (one per line, e.g.
//!   `/product/001` or `/api/catalog-search?category=5&ipp=48`) in a random order: HTML pages and their
//!   JSON:API counterparts measured the same way (`--base-url` = the storefront's root).
//!
//! Any non-2xx answer and any transport failure counts as an error, tallied by status; the first
//! few error bodies are printed. Data is discovered before the clock starts. With `--server-pid`
//! the server's CPU time over the run is read from `/proc`, as is the driver's own, so a report
//! shows whether the driver or the server used the cores. Meant for loopback only: the driver
//! shares the machine with the server it measures.

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;

const MEDIA_TYPE: &str = "application/vnd.api+json";
/// How many error bodies are kept for printing.
const SHOWN_ERRORS: usize = 5;
/// The admin API's largest page, used to discover product ids.
const MAX_PAGE: u64 = 500;
/// The storefront's largest page (spec §3), used to discover SKUs through `catalog-search`.
const STOREFRONT_PAGE: usize = 100;
/// The guest header of the storefront API (spec §7).
const GUEST_HEADER: &str = "x-anonymous-customer-unique-id";
/// `/proc/<pid>/stat` counts CPU time in clock ticks of 1/100 s (`USER_HZ` on Linux).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Parser)]
#[command(about = "Load driver for the Kontor admin and storefront JSON:APIs (loopback benchmarks)")]
struct Args {
    /// Where the server listens: the backend (http://127.0.0.1:8081), the storefront API base
    /// (http://127.0.0.1:8080/api) or `kontor hello-world`. Plain http only.
    #[arg(long)]
    base_url: String,
    /// An admin API token (`kontor user create --api-token`); required by the admin scenarios.
    #[arg(long, env = "KONTOR_BENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Requests in flight at once (one worker and one connection each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop sending after this many requests, even if time is left.
    #[arg(long, default_value_t = u64::MAX)]
    max_requests: u64,
    /// Threads of the driver's async runtime; 0 = one per core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Page size for `list-products` (1–500).
    #[arg(long, default_value_t = 100)]
    page_size: u64,
    /// Prefix of the SKUs `create-products` makes and of the guest ids of `storefront-add-to-cart`;
    /// defaults to `b<unix seconds>`.
    #[arg(long)]
    run_id: Option<String>,
    /// Abstract SKUs for `storefront-product`, one per line; default: page through `catalog-search`.
    #[arg(long, value_name = "FILE")]
    sku_file: Option<PathBuf>,
    /// Paths for `paths`, one per line, relative to `--base-url`.
    #[arg(long, value_name = "FILE")]
    path_file: Option<PathBuf>,
    /// Concrete SKUs to pick the cart's items from, one per line; default: from the products'
    /// `attributeMap.product_concrete_ids`.
    #[arg(long, value_name = "FILE")]
    concrete_sku_file: Option<PathBuf>,
    /// At most this many abstract SKUs are used.
    #[arg(long, default_value_t = 10_000)]
    max_skus: usize,
    /// How many concrete SKUs (spread over the candidates) have their availability checked.
    #[arg(long, default_value_t = 200)]
    cart_candidates: usize,
    /// A concrete goes into carts only with at least this many units (or never out of stock).
    #[arg(long, default_value_t = 10)]
    min_stock: u64,
    /// Carts prepared for `storefront-checkout` (one order each).
    #[arg(long, default_value_t = 5_000)]
    carts: usize,
    /// Distinct guest ids the cart requests are spread over (round robin).
    #[arg(long, default_value_t = 10_000)]
    guests: u64,
    /// Search words (repeatable); default: the last word of some product names.
    #[arg(long = "query", value_name = "WORD")]
    queries: Vec<String>,
    /// The value facet to filter on (its `config.parameterName`); default: the one with the most values.
    #[arg(long)]
    facet: Option<String>,
    /// The server's process id, to report its CPU time over the run (from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the result as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    CreateProducts,
    ListProducts,
    GetProduct,
    HelloWorld,
    StorefrontProduct,
    StorefrontSearch,
    StorefrontAddToCart,
    StorefrontCheckout,
    Paths,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::CreateProducts => "create-products",
            Self::ListProducts => "list-products",
            Self::GetProduct => "get-product",
            Self::HelloWorld => "hello-world",
            Self::StorefrontProduct => "storefront-product",
            Self::StorefrontSearch => "storefront-search",
            Self::StorefrontAddToCart => "storefront-add-to-cart",
            Self::StorefrontCheckout => "storefront-checkout",
            Self::Paths => "paths",
        }
    }

    fn is_admin(self) -> bool {
        matches!(self, Self::CreateProducts | Self::ListProducts | Self::GetProduct)
    }
}

/// What a worker needs to build its `n`-th request.
enum Plan {
    Create {
        run_id: String,
    },
    List {
        total: u64,
        page_size: u64,
    },
    Get {
        ids: Vec<String>,
    },
    Hello,
    Product {
        skus: Vec<String>,
    },
    /// Query strings (without `?`), each with a word and a facet filter.
    Search {
        queries: Vec<String>,
    },
    AddToCart {
        skus: Vec<String>,
        guests: u64,
        run_id: String,
    },
    /// Prepared `(guest id, cart id)` pairs, one order each, and the shipment method to use.
    Checkout {
        carts: Vec<(String, String)>,
        shipment_method: i64,
    },
    /// Paths (with query) relative to the base URL.
    Paths {
        paths: Vec<String>,
    },
}

/// One request: method, path below the base URL, extra headers, body.
struct Call {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, String)>,
    body: Option<String>,
}

impl Call {
    fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            headers: Vec::new(),
            body: None,
        }
    }
}

/// A well-mixed index in `0..len` for request `n` (SplitMix64), so that reads do not walk the data
/// in storage order; the same `n` always gives the same index.
fn spread(n: u64, len: usize) -> usize {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % len.max(1) as u64) as usize
}

impl Plan {
    /// Request number `n` (0-based, unique per run).
    fn request(&self, n: u64) -> Call {
        match self {
            Self::Create { run_id } => {
                let sku = format!("{run_id}-{n:08}");
                let body = json!({"data": {"type": "abstract-products", "attributes": {
                    "sku": sku,
                    "stores": ["DE"],
                    "localizedAttributes": {
                        "de_DE": {"name": format!("Bench Produkt {sku}"), "description": "Ein Produkt für den Lasttest."},
                        "en_US": {"name": format!("Bench product {sku}")}
                    }
                }}});
                Call {
                    method: Method::POST,
                    path: "/admin/abstract-products".to_owned(),
                    headers: Vec::new(),
                    body: Some(body.to_string()),
                }
            }
            Self::List { total, page_size } => {
                let pages = total.div_ceil(*page_size).max(1);
                let offset = (n % pages) * page_size;
                Call::get(format!(
                    "/admin/abstract-products?page[offset]={offset}&page[limit]={page_size}"
                ))
            }
            Self::Get { ids } => Call::get(format!("/admin/abstract-products/{}", ids[n as usize % ids.len()])),
            Self::Hello => Call::get(String::new()),
            Self::Product { skus } => Call::get(format!("/abstract-products/{}", skus[spread(n, skus.len())])),
            Self::Search { queries } => Call::get(format!("/catalog-search?{}", queries[n as usize % queries.len()])),
            Self::Paths { paths } => Call::get(paths[spread(n, paths.len())].clone()),
            Self::AddToCart { skus, guests, run_id } => {
                let sku = &skus[spread(n, skus.len())];
                let body = json!({"data": {"type": "guest-cart-items", "attributes": {"sku": sku, "quantity": 1}}});
                Call {
                    method: Method::POST,
                    path: "/guest-cart-items".to_owned(),
                    headers: vec![(
                        HeaderName::from_static(GUEST_HEADER),
                        format!("{run_id}-guest-{}", n % guests.max(&1)),
                    )],
                    body: Some(body.to_string()),
                }
            }
            Self::Checkout { carts, shipment_method } => {
                let (guest, cart) = &carts[n as usize % carts.len()];
                let address = json!({"salutation": "Ms", "firstName": "Erika", "lastName": "Muster",
                    "address1": "Hauptstraße 5", "zipCode": "10115", "city": "Berlin", "iso2Code": "DE"});
                let body = json!({"data": {"type": "checkout", "attributes": {
                    "customer": {"email": format!("{guest}@bench.example"), "firstName": "Erika", "lastName": "Muster"},
                    "idCart": cart,
                    "billingAddress": address,
                    "payments": [{"paymentMethodName": "Invoice", "paymentProviderName": "DummyPayment"}],
                    "shipments": [{"items": [], "shippingAddress": address, "idShipmentMethod": shipment_method}]
                }}});
                Call {
                    method: Method::POST,
                    path: "/checkout".to_owned(),
                    headers: vec![(HeaderName::from_static(GUEST_HEADER), guest.clone())],
                    body: Some(body.to_string()),
                }
            }
        }
    }
}

/// Where the load goes: `host:port` to connect to and the path prefix of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    authority: String,
    prefix: String,
}

impl Target {
    fn parse(base_url: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(base_url).with_context(|| format!("--base-url {base_url:?} is not a URL"))?;
        if url.scheme() != "http" {
            bail!(
                "--base-url must be plain http:// (loopback benchmarks), not {}",
                url.scheme()
            );
        }
        let host = url.host_str().context("--base-url has no host")?;
        let port = url.port_or_known_default().context("--base-url has no port")?;
        Ok(Self {
            authority: format!("{host}:{port}"),
            prefix: url.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The request target of `path` (which starts with `/` or `?`, or is empty for the base itself).
    fn uri(&self, path: &str) -> String {
        let uri = format!("{}{path}", self.prefix);
        if uri.is_empty() || uri.starts_with('?') {
            format!("/{uri}")
        } else {
            uri
        }
    }
}

/// The sending half of one HTTP/1.1 connection.
type Connection = SendRequest<Full<Bytes>>;

/// Opens one keep-alive HTTP/1.1 connection; its I/O runs on a task of its own until either side
/// drops it.
async fn connect(authority: &str) -> Result<Connection, Failure> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|error| Failure::Transport(format!("connect {authority}: {error}")))?;
    stream
        .set_nodelay(true)
        .map_err(|error| Failure::Transport(format!("TCP_NODELAY: {error}")))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| Failure::Transport(format!("handshake: {error}")))?;
    tokio::spawn(async move {
        // Ends when the worker drops its sender or the server closes the connection; a failure
        // surfaces as the failure of the request that was in flight.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Why one request did not count as a success.
#[derive(Debug)]
enum Failure {
    Transport(String),
    Status(u16, String),
}

impl Failure {
    /// The tally key: `HTTP 422` or `transport`.
    fn kind(&self) -> String {
        match self {
            Self::Transport(_) => "transport".to_owned(),
            Self::Status(status, _) => format!("HTTP {status}"),
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Transport(message) => format!("transport: {message}"),
            Self::Status(status, body) => format!("HTTP {status}: {body}"),
        }
    }
}

/// Shared between workers: the plan, the request counter and the first error bodies.
struct Shared {
    target: Target,
    /// `Bearer <token>` for the admin API.
    authorization: Option<String>,
    plan: Plan,
    deadline: Instant,
    max_requests: u64,
    issued: AtomicU64,
    error_samples: Mutex<Vec<String>>,
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
}

async fn worker(shared: Arc<Shared>, connection: Connection) -> Tally {
    let mut tally = Tally::default();
    let mut connection = Some(connection);
    while Instant::now() < shared.deadline {
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if n >= shared.max_requests {
            break;
        }
        let call = shared.plan.request(n);
        let started = Instant::now();
        let outcome = exchange(&shared, &mut connection, &call).await;
        tally.latencies_us.push(started.elapsed().as_micros() as u64);
        if let Err(failure) = outcome {
            *tally.errors.entry(failure.kind()).or_default() += 1;
            let mut samples = shared
                .error_samples
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if samples.len() < SHOWN_ERRORS {
                samples.push(format!("{} {}: {}", call.method, call.path, failure.message()));
            }
        }
    }
    tally
}

/// Sends one request on the worker's connection (reconnecting first if the previous one was lost)
/// and reads the whole answer; a non-2xx status or a transport failure is an error.
async fn exchange(shared: &Shared, slot: &mut Option<Connection>, call: &Call) -> Result<(), Failure> {
    let mut connection = match slot.take() {
        Some(connection) if !connection.is_closed() => connection,
        _ => connect(&shared.target.authority).await?,
    };
    let outcome = send(shared, &mut connection, call).await;
    // A connection that failed in transport is dropped; the next request opens a new one.
    if !matches!(outcome, Err(Failure::Transport(_))) {
        *slot = Some(connection);
    }
    outcome
}

async fn send(shared: &Shared, connection: &mut Connection, call: &Call) -> Result<(), Failure> {
    let transport = |error: hyper::Error| Failure::Transport(error.to_string());
    connection.ready().await.map_err(transport)?;
    let mut request = Request::builder()
        .method(call.method.clone())
        .uri(shared.target.uri(&call.path))
        .header(HOST, &shared.target.authority)
        .header(ACCEPT, MEDIA_TYPE);
    if let Some(authorization) = &shared.authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    let body = match &call.body {
        Some(body) => {
            request = request.header(CONTENT_TYPE, MEDIA_TYPE);
            Full::new(Bytes::from(body.clone()))
        }
        None => Full::new(Bytes::new()),
    };
    let request = request
        .body(body)
        .map_err(|error| Failure::Transport(format!("build the request: {error}")))?;
    let response = connection.send_request(request).await.map_err(transport)?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(transport)?.to_bytes();
    if status.is_success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body);
        Err(Failure::Status(status.as_u16(), text.chars().take(400).collect()))
    }
}

/// Setup requests (discovery), through a pooled client; not measured.
struct Setup {
    client: Client,
    base_url: String,
    token: Option<String>,
}

impl Setup {
    /// GETs a JSON document, failing on any non-2xx status.
    async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base_url))
            .header(reqwest::header::ACCEPT, MEDIA_TYPE);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("read GET {path}"))?;
        if status != StatusCode::OK {
            bail!(
                "GET {path} answered {status}: {}",
                text.chars().take(600).collect::<String>()
            );
        }
        serde_json::from_str(&text).with_context(|| format!("GET {path} is not JSON"))
    }

    /// Counts the products (for `list-products`).
    async fn admin_product_total(&self) -> anyhow::Result<u64> {
        let page = self.get_json("/admin/abstract-products?page[limit]=1").await?;
        page["meta"]["total"]
            .as_u64()
            .context("the product list has no meta.total")
    }

    /// Collects up to `limit` product ids (for `get-product`), a page of 500 at a time.
    async fn admin_product_ids(&self, limit: usize) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::new();
        while ids.len() < limit {
            let path = format!(
                "/admin/abstract-products?page[offset]={}&page[limit]={MAX_PAGE}",
                ids.len()
            );
            let page = self.get_json(&path).await?;
            let items = page["data"].as_array().context("the product list has no data array")?;
            if items.is_empty() {
                break;
            }
            ids.extend(items.iter().filter_map(|item| item["id"].as_str().map(str::to_owned)));
        }
        ids.truncate(limit);
        Ok(ids)
    }

    /// `GET /catalog-search?<query>`: the one `catalog-search` resource's attributes.
    async fn search(&self, query: &str) -> anyhow::Result<Value> {
        let document = self.get_json(&format!("/catalog-search?{query}")).await?;
        let attributes = &document["data"][0]["attributes"];
        if !attributes.is_object() {
            bail!("GET /catalog-search?{query}: no data[0].attributes in the answer");
        }
        Ok(attributes.clone())
    }

    /// Up to `limit` abstract SKUs, paging through `catalog-search` without a query.
    async fn storefront_skus(&self, limit: usize) -> anyhow::Result<Vec<String>> {
        let mut skus = Vec::new();
        while skus.len() < limit {
            let attributes = self
                .search(&format!("page[offset]={}&page[limit]={STOREFRONT_PAGE}", skus.len()))
                .await?;
            let products = abstract_products(&attributes)?;
            if products.is_empty() {
                break;
            }
            skus.extend(
                products
                    .iter()
                    .filter_map(|product| product["abstractSku"].as_str().map(str::to_owned)),
            );
        }
        skus.truncate(limit);
        Ok(skus)
    }

    /// Query strings `q=<word>&<facet>=<value>` that find at least one product.
    async fn search_queries(&self, words: &[String], facet: Option<&str>) -> anyhow::Result<(Vec<String>, String)> {
        let mut words = words.to_vec();
        if words.is_empty() {
            let attributes = self.search(&format!("page[limit]={STOREFRONT_PAGE}")).await?;
            words = name_words(abstract_products(&attributes)?, 6);
            if words.is_empty() {
                bail!("catalog-search lists no product names to take search words from");
            }
        }
        let mut facet = facet.map(str::to_owned);
        let mut queries = Vec::new();
        for word in &words {
            let attributes = self.search(&format!("q={}&page[limit]=1", encode(word))).await?;
            let facets = attributes["valueFacets"].as_array().cloned().unwrap_or_default();
            let chosen = choose_facet(&facets, facet.as_deref());
            let Some(chosen) = chosen else {
                continue;
            };
            let name = chosen["config"]["parameterName"]
                .as_str()
                .context("a value facet has no config.parameterName")?;
            facet.get_or_insert_with(|| name.to_owned());
            let parameter = if chosen["config"]["isMultiValued"].as_bool() == Some(true) {
                format!("{name}[]")
            } else {
                name.to_owned()
            };
            for value in top_values(chosen, 3) {
                let query = format!("q={}&{}={}", encode(word), encode(&parameter), encode(&value));
                let found = self.search(&query).await?;
                if found["pagination"]["numFound"].as_u64().unwrap_or(0) > 0 {
                    queries.push(query);
                }
            }
        }
        let facet = facet.unwrap_or_default();
        if queries.is_empty() {
            bail!(
                "no search word with a facet filter ({}) found anything; words tried: {}",
                if facet.is_empty() {
                    "no value facet with values"
                } else {
                    &facet
                },
                words.join(", ")
            );
        }
        Ok((queries, facet))
    }

    /// Concrete SKUs of the given abstract products (`attributeMap.product_concrete_ids`).
    async fn concrete_skus(&self, abstract_skus: &[String]) -> anyhow::Result<Vec<String>> {
        let mut skus = Vec::new();
        for sku in abstract_skus {
            let document = self.get_json(&format!("/abstract-products/{}", encode(sku))).await?;
            if let Some(ids) = document["data"]["attributes"]["attributeMap"]["product_concrete_ids"].as_array() {
                skus.extend(ids.iter().filter_map(|id| id.as_str().map(str::to_owned)));
            }
        }
        Ok(skus)
    }

    /// The candidates that are available with at least `min_stock` units (or never out of stock).
    async fn available(&self, candidates: &[String], min_stock: u64) -> anyhow::Result<Vec<String>> {
        let mut available = Vec::new();
        for sku in candidates {
            let path = format!("/concrete-products/{}/concrete-product-availabilities", encode(sku));
            let document = self.get_json(&path).await?;
            let data = &document["data"];
            let attributes = if data.is_array() {
                &data[0]["attributes"]
            } else {
                &data["attributes"]
            };
            if in_stock(attributes, min_stock) {
                available.push(sku.clone());
            }
        }
        Ok(available)
    }
}

impl Setup {
    /// Posts a JSON:API document as a guest, failing on any non-2xx status.
    async fn post_json(&self, path: &str, guest: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header(reqwest::header::ACCEPT, MEDIA_TYPE)
            .header(reqwest::header::CONTENT_TYPE, MEDIA_TYPE)
            .header(GUEST_HEADER, guest)
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("read POST {path}"))?;
        if !status.is_success() {
            bail!(
                "POST {path} answered {status}: {}",
                text.chars().take(600).collect::<String>()
            );
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path} is not JSON"))
    }

    /// Fills `count` guest carts with one unit of a SKU each, 16 at a time; answers (guest, cart).
    async fn guest_carts(&self, skus: &[String], count: usize, run_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        use futures_util::StreamExt;
        let results: Vec<anyhow::Result<(String, String)>> = futures_util::stream::iter(0..count)
            .map(|index| {
                let guest = format!("{run_id}-buyer-{index}");
                let sku = skus[spread(index as u64, skus.len())].clone();
                async move {
                    let item = json!({"data": {"type": "guest-cart-items", "attributes": {"sku": sku, "quantity": 1}}});
                    let cart = self.post_json("/guest-cart-items", &guest, &item).await?;
                    let id = cart["data"]["id"].as_str().context("a cart id")?.to_owned();
                    Ok((guest, id))
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().collect()
    }
}

/// `abstractProducts` of a `catalog-search` resource.
fn abstract_products(attributes: &Value) -> anyhow::Result<&Vec<Value>> {
    attributes["abstractProducts"]
        .as_array()
        .context("catalog-search has no attributes.abstractProducts array")
}

/// Up to `limit` distinct last words of the products' names (the noun: "Jacket", "Regenjacke").
fn name_words(products: &[Value], limit: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut words = Vec::new();
    for product in products {
        let word = product["abstractName"]
            .as_str()
            .and_then(|name| name.split_whitespace().last())
            .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase());
        if let Some(word) = word
            && word.chars().count() >= 3
            && seen.insert(word.clone())
        {
            words.push(word);
            if words.len() == limit {
                break;
            }
        }
    }
    words
}

/// The value facet named `wanted` (its `config.parameterName`), else the one with the most distinct
/// values (the most selective filter: a brand or a colour rather than in-stock yes/no); only facets
/// that have values.
fn choose_facet<'a>(facets: &'a [Value], wanted: Option<&str>) -> Option<&'a Value> {
    let values = |facet: &Value| facet["values"].as_array().map_or(0, Vec::len);
    let mut candidates = facets.iter().filter(|facet| values(facet) > 0);
    match wanted {
        Some(wanted) => candidates.find(|facet| facet["config"]["parameterName"].as_str() == Some(wanted)),
        None => candidates.rev().max_by_key(|facet| values(facet)),
    }
}

/// The `limit` values of a value facet with the most documents.
fn top_values(facet: &Value, limit: usize) -> Vec<String> {
    let mut values: Vec<(u64, String)> = facet["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|value| {
                    let text = match &value["value"] {
                        Value::String(text) => text.clone(),
                        Value::Number(number) => number.to_string(),
                        _ => return None,
                    };
                    Some((value["doc_count"].as_u64().unwrap_or(0), text))
                })
                .collect()
        })
        .unwrap_or_default();
    values.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    values.into_iter().take(limit).map(|(_, text)| text).collect()
}

/// Whether an availability resource says the product can go into a cart `min_stock` times.
fn in_stock(attributes: &Value, min_stock: u64) -> bool {
    if attributes["availability"].as_bool() != Some(true) {
        return false;
    }
    if attributes["isNeverOutOfStock"].as_bool() == Some(true) {
        return true;
    }
    let quantity = match &attributes["quantity"] {
        Value::String(text) => text.parse::<f64>().ok(),
        Value::Number(number) => number.as_f64(),
        _ => None,
    };
    quantity.is_some_and(|quantity| quantity >= min_stock as f64)
}

/// Percent-encodes a query or path component.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Non-empty, non-comment lines of a file.
fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// `count` items spread evenly over `items` (all of them if there are fewer).
fn evenly(items: &[String], count: usize) -> Vec<String> {
    if items.len() <= count {
        return items.to_vec();
    }
    (0..count).map(|at| items[at * items.len() / count].clone()).collect()
}

fn default_run_id() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("b{seconds}")
}

/// Discovers the data set and returns the plan with a one-line description of it.
async fn plan(setup: &Setup, args: &Args) -> anyhow::Result<(Plan, String)> {
    Ok(match args.scenario {
        Scenario::CreateProducts => {
            let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
            let context = format!("SKU prefix {run_id}");
            (Plan::Create { run_id }, context)
        }
        Scenario::ListProducts => {
            if !(1..=MAX_PAGE).contains(&args.page_size) {
                bail!("--page-size must be between 1 and {MAX_PAGE}");
            }
            let total = setup.admin_product_total().await?;
            let context = format!("{total} products, page size {}", args.page_size);
            (
                Plan::List {
                    total,
                    page_size: args.page_size,
                },
                context,
            )
        }
        Scenario::GetProduct => {
            let ids = setup.admin_product_ids(10_000).await?;
            if ids.is_empty() {
                bail!("get-product needs existing products; run create-products first");
            }
            let context = format!("{} product ids", ids.len());
            (Plan::Get { ids }, context)
        }
        Scenario::HelloWorld => (Plan::Hello, "GET of a constant".to_owned()),
        Scenario::StorefrontProduct => {
            let skus = abstract_skus(setup, args).await?;
            let context = format!("{} abstract SKUs in random order", skus.len());
            (Plan::Product { skus }, context)
        }
        Scenario::StorefrontSearch => {
            let (queries, facet) = setup.search_queries(&args.queries, args.facet.as_deref()).await?;
            let context = format!(
                "{} queries with facet {facet}, e.g. ?{}",
                queries.len(),
                queries.first().map_or("", String::as_str)
            );
            (Plan::Search { queries }, context)
        }
        Scenario::StorefrontCheckout => checkout_plan(setup, args).await?,
        Scenario::Paths => {
            let Some(file) = &args.path_file else {
                bail!("--scenario paths needs --path-file");
            };
            let paths: Vec<String> = read_lines(file)?
                .into_iter()
                .filter(|path| path.starts_with('/'))
                .collect();
            if paths.is_empty() {
                bail!("{} holds no path starting with /", file.display());
            }
            let context = format!("{} paths in random order, e.g. {}", paths.len(), paths[0]);
            (Plan::Paths { paths }, context)
        }
        Scenario::StorefrontAddToCart => {
            let candidates = match &args.concrete_sku_file {
                Some(path) => read_lines(path)?,
                None => {
                    let abstracts = abstract_skus(setup, args).await?;
                    setup.concrete_skus(&evenly(&abstracts, args.cart_candidates)).await?
                }
            };
            let checked = evenly(&candidates, args.cart_candidates);
            let skus = setup.available(&checked, args.min_stock).await?;
            if skus.is_empty() {
                bail!(
                    "none of {} concrete SKUs checked is available with at least {} units",
                    checked.len(),
                    args.min_stock
                );
            }
            let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
            let context = format!(
                "{} available concretes (of {} checked), {} guests {run_id}-guest-N",
                skus.len(),
                checked.len(),
                args.guests
            );
            (
                Plan::AddToCart {
                    skus,
                    guests: args.guests,
                    run_id,
                },
                context,
            )
        }
    })
}

/// Prepares the carts of `storefront-checkout` and picks the first shipment method offered for them.
async fn checkout_plan(setup: &Setup, args: &Args) -> anyhow::Result<(Plan, String)> {
    let candidates = match &args.concrete_sku_file {
        Some(path) => read_lines(path)?,
        None => {
            let abstracts = abstract_skus(setup, args).await?;
            setup.concrete_skus(&evenly(&abstracts, args.cart_candidates)).await?
        }
    };
    let checked = evenly(&candidates, args.cart_candidates);
    let skus = setup.available(&checked, args.min_stock).await?;
    if skus.is_empty() {
        bail!("none of {} concrete SKUs checked is available", checked.len());
    }
    let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
    let started = Instant::now();
    let carts = setup.guest_carts(&skus, args.carts.max(1), &run_id).await?;
    let filled_in = started.elapsed();
    let (guest, cart) = &carts[0];
    let data = setup
        .post_json(
            "/checkout-data",
            guest,
            &json!({"data": {"type": "checkout-data", "attributes": {"idCart": cart}}}),
        )
        .await?;
    let shipment_method: i64 = data["data"]["attributes"]["shipmentMethods"][0]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .context("checkout-data offers no shipment method")?;
    let context = format!(
        "{} one-item guest carts over {} available concretes (filled in {:.1} s), shipment method {shipment_method}",
        carts.len(),
        skus.len(),
        filled_in.as_secs_f64()
    );
    Ok((Plan::Checkout { carts, shipment_method }, context))
}

/// The abstract SKUs for the storefront scenarios: from `--sku-file`, else from `catalog-search`.
async fn abstract_skus(setup: &Setup, args: &Args) -> anyhow::Result<Vec<String>> {
    let mut skus = match &args.sku_file {
        Some(path) => read_lines(path)?,
        None => setup.storefront_skus(args.max_skus).await?,
    };
    skus.truncate(args.max_skus);
    if skus.is_empty() {
        bail!("no abstract SKUs to request (empty --sku-file or catalog-search)");
    }
    Ok(skus)
}

/// User + system CPU seconds of a process so far (`/proc/<pid>/stat`; the driver itself without a
/// pid); `None` where there is no such file.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |pid| format!("/proc/{pid}/stat"));
    parse_cpu_seconds(&std::fs::read_to_string(path).ok()?)
}

/// Fields 14 (utime) and 15 (stime) of a `/proc/<pid>/stat` line, counted after the `(comm)`
/// field, which may itself contain spaces and parentheses.
fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / CLOCK_TICKS_PER_SECOND)
}

/// The measured outcome of one run.
struct Report {
    scenario: &'static str,
    concurrency: usize,
    threads: usize,
    elapsed: Duration,
    requests: u64,
    errors: BTreeMap<String, u64>,
    /// Sorted ascending.
    latencies_us: Vec<u64>,
    context: String,
    error_samples: Vec<String>,
    /// CPU seconds the driver used during the run.
    driver_cpu: Option<f64>,
    /// CPU seconds the server (`--server-pid`) used during the run.
    server_cpu: Option<f64>,
}

impl Report {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The `q`-quantile latency in milliseconds (nearest rank).
    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize).clamp(1, self.latencies_us.len());
        self.latencies_us[rank - 1] as f64 / 1000.0
    }

    /// CPU seconds as a share of one core over the run, in percent.
    fn core_percent(&self, seconds: f64) -> f64 {
        100.0 * seconds / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "context": self.context,
            "concurrency": self.concurrency,
            "driverThreads": self.threads,
            "elapsedSeconds": self.elapsed.as_secs_f64(),
            "requests": self.requests,
            "errors": self.error_count(),
            "errorsByKind": self.errors,
            "requestsPerSecond": self.throughput(),
            "latencyMs": {
                "p50": self.percentile_ms(0.50),
                "p90": self.percentile_ms(0.90),
                "p95": self.percentile_ms(0.95),
                "p99": self.percentile_ms(0.99),
                "p999": self.percentile_ms(0.999),
                "max": self.percentile_ms(1.0),
            },
            "driverCpuSeconds": self.driver_cpu,
            "serverCpuSeconds": self.server_cpu,
            "errorSamples": self.error_samples,
        })
    }

    fn print_table(&self) {
        println!("scenario     {} ({})", self.scenario, self.context);
        println!(
            "concurrency  {} (one connection each; driver threads {})",
            self.concurrency, self.threads
        );
        println!("elapsed      {:.1} s", self.elapsed.as_secs_f64());
        println!("requests     {}", self.requests);
        let kinds: Vec<String> = self
            .errors
            .iter()
            .map(|(kind, count)| format!("{kind} × {count}"))
            .collect();
        if kinds.is_empty() {
            println!("errors       0");
        } else {
            println!("errors       {} ({})", self.error_count(), kinds.join(", "));
        }
        println!("throughput   {:.1} req/s", self.throughput());
        println!(
            "latency ms   p50 {:.2} | p90 {:.2} | p95 {:.2} | p99 {:.2} | p99.9 {:.2} | max {:.2}",
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.95),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999),
            self.percentile_ms(1.0)
        );
        let cpu = |seconds: Option<f64>| {
            seconds.map_or_else(
                || "n/a".to_owned(),
                |seconds| format!("{seconds:.1} s ({:.0} % of one core)", self.core_percent(seconds)),
            )
        };
        println!(
            "cpu          driver {} | server {}",
            cpu(self.driver_cpu),
            cpu(self.server_cpu)
        );
        for sample in &self.error_samples {
            println!("error        {sample}");
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        runtime.worker_threads(args.threads);
    }
    let runtime = runtime.enable_all().build().context("start the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(mut args: Args) -> anyhow::Result<()> {
    args.base_url = args.base_url.trim_end_matches('/').to_owned();
    if args.concurrency == 0 || args.duration.is_nan() || args.duration <= 0.0 {
        bail!("--concurrency and --duration must be positive");
    }
    if args.scenario.is_admin() && args.token.is_none() {
        bail!("{} needs --token (or KONTOR_BENCH_TOKEN)", args.scenario.name());
    }
    let target = Target::parse(&args.base_url)?;
    // No proxy, whatever the environment says: the benchmark talks to loopback directly.
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .context("build the HTTP client")?;
    let token = args.token.clone().filter(|_| args.scenario.is_admin());
    let setup = Setup {
        client,
        base_url: args.base_url.clone(),
        token: token.clone(),
    };
    let (plan, context) = plan(&setup, &args).await?;
    drop(setup);
    if let Plan::Checkout { carts, .. } = &plan {
        // Each cart is one order: a second checkout of it would only measure a refusal.
        args.max_requests = args.max_requests.min(carts.len() as u64);
    }

    let mut connections = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let connection = connect(&target.authority)
            .await
            .map_err(|failure| anyhow::anyhow!(failure.message()))?;
        connections.push(connection);
    }

    let driver_cpu_before = cpu_seconds(None);
    let server_cpu_before = args.server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    let started = Instant::now();
    let shared = Arc::new(Shared {
        target,
        authorization: token.map(|token| format!("Bearer {token}")),
        plan,
        deadline: started + Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests,
        issued: AtomicU64::new(0),
        error_samples: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> = connections
        .into_iter()
        .map(|connection| tokio::spawn(worker(Arc::clone(&shared), connection)))
        .collect();
    let mut latencies_us = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for handle in workers {
        let tally = handle.await.context("a worker panicked")?;
        latencies_us.extend(tally.latencies_us);
        for (kind, count) in tally.errors {
            *errors.entry(kind).or_default() += count;
        }
    }
    let elapsed = started.elapsed();
    let driver_cpu = cpu_seconds(None)
        .zip(driver_cpu_before)
        .map(|(after, before)| after - before);
    let server_cpu = args
        .server_pid
        .and_then(|pid| cpu_seconds(Some(pid)))
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    latencies_us.sort_unstable();
    let error_samples = shared
        .error_samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let report = Report {
        scenario: args.scenario.name(),
        concurrency: args.concurrency,
        threads: if args.threads > 0 {
            args.threads
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        },
        elapsed,
        requests: latencies_us.len() as u64,
        errors,
        latencies_us,
        context,
        error_samples,
        driver_cpu,
        server_cpu,
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        report.print_table();
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{}\n", report.to_json())).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(latencies_us: Vec<u64>) -> Report {
        Report {
            scenario: "x",
            concurrency: 1,
            threads: 1,
            elapsed: Duration::from_secs(1),
            requests: latencies_us.len() as u64,
            errors: BTreeMap::new(),
            latencies_us,
            context: String::new(),
            error_samples: Vec::new(),
            driver_cpu: None,
            server_cpu: None,
        }
    }

    #[test]
    fn list_offsets_wrap_around_the_pages() {
        let plan = Plan::List {
            total: 250,
            page_size: 100,
        };
        let paths: Vec<String> = (0..4).map(|n| plan.request(n).path).collect();
        assert!(paths[0].contains("page[offset]=0&"));
        assert!(paths[2].contains("page[offset]=200&"));
        assert!(paths[3].contains("page[offset]=0&"));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let report = report((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!(report.percentile_ms(0.50), 50.0);
        assert_eq!(report.percentile_ms(0.90), 90.0);
        assert_eq!(report.percentile_ms(0.99), 99.0);
        assert_eq!(report.percentile_ms(1.0), 100.0);
    }

    #[test]
    fn targets_keep_the_api_prefix() {
        let target = Target::parse("http://127.0.0.1:8080/api").expect("a valid URL");
        assert_eq!(target.authority, "127.0.0.1:8080");
        assert_eq!(target.uri("/abstract-products/100000"), "/api/abstract-products/100000");
        let root = Target::parse("http://127.0.0.1:9000").expect("a valid URL");
        assert_eq!(root.uri(""), "/");
        assert_eq!(root.uri("/admin/x"), "/admin/x");
        assert!(Target::parse("https://127.0.0.1/api").is_err());
    }

    #[test]
    fn spread_covers_the_skus_in_a_mixed_order() {
        let hits: BTreeSet<usize> = (0..1000).map(|n| spread(n, 100)).collect();
        assert!(hits.len() > 90, "{} of 100 indexes hit", hits.len());
        assert_ne!((0..5).map(|n| spread(n, 100)).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn cart_requests_spread_over_guests() {
        let plan = Plan::AddToCart {
            skus: vec!["100000_red_m".to_owned()],
            guests: 3,
            run_id: "r".to_owned(),
        };
        let guests: Vec<String> = (0..4).map(|n| plan.request(n).headers[0].1.clone()).collect();
        assert_eq!(guests, ["r-guest-0", "r-guest-1", "r-guest-2", "r-guest-0"]);
        let body: Value = serde_json::from_str(plan.request(0).body.as_deref().unwrap_or("")).expect("JSON body");
        assert_eq!(body["data"]["attributes"]["sku"], "100000_red_m");
        assert_eq!(body["data"]["attributes"]["quantity"], 1);
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "1234 (kontor (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 5 6 7";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
        assert!(cpu_seconds(None).is_some_and(|seconds| seconds >= 0.0));
    }

    #[test]
    fn availability_needs_enough_stock() {
        assert!(in_stock(
            &json!({"availability": true, "quantity": "12.0000000000"}),
            10
        ));
        assert!(!in_stock(
            &json!({"availability": true, "quantity": "7.0000000000"}),
            10
        ));
        assert!(in_stock(
            &json!({"availability": true, "quantity": "0.0000000000", "isNeverOutOfStock": true}),
            10
        ));
        assert!(!in_stock(&json!({"availability": false, "quantity": "50"}), 10));
    }

    #[test]
    fn search_words_and_facet_values_come_from_the_answer() {
        let products = vec![
            json!({"abstractName": "Fjell Alpine Regenjacke"}),
            json!({"abstractName": "Havn Urban Regenjacke"}),
            json!({"abstractName": "Nord Trail Shoe"}),
        ];
        assert_eq!(name_words(&products, 5), ["regenjacke", "shoe"]);
        let facet = json!({"values": [{"value": "Havn", "doc_count": 3}, {"value": "Fjell", "doc_count": 9}]});
        assert_eq!(top_values(&facet, 1), ["Fjell"]);
        let facets = vec![
            json!({"config": {"parameterName": "availability"}, "values": [{"value": "in-stock"}]}),
            facet.clone(),
            json!({"config": {"parameterName": "color"}, "values": []}),
        ];
        assert_eq!(choose_facet(&facets, None), Some(&facets[1]));
        assert_eq!(choose_facet(&facets, Some("availability")), Some(&facets[0]));
        assert_eq!(choose_facet(&facets, Some("color")), None);
        assert_eq!(encode("color[]"), "color%5B%5D");
        assert_eq!(encode("Größe L"), "Gr%C3%B6%C3%9Fe+L");
    }
}
