//! `kontor-bench`: a small closed-loop HTTP load driver for the admin JSON:API.
//!
//! `--concurrency` workers each send one request, wait for the answer, and send the next, until
//! `--duration` seconds have passed or `--max-requests` have been sent, whichever comes first. Every
//! request's latency is kept (microseconds), so percentiles are exact rather than bucketed.
//!
//! Scenarios:
//! - `create-products`: `POST /admin/abstract-products`, one new product per request; SKUs are
//!   `<run-id>-<counter>` so that runs against the same database never collide.
//! - `list-products`: `GET /admin/abstract-products?page[offset]=N&page[limit]=L`, walking the pages
//!   over every existing product in turn (offsets wrap around).
//! - `get-product`: `GET /admin/abstract-products/<id>`, cycling over the existing products' ids.
//!
//! Any non-2xx answer and any transport failure counts as an error; the first few error bodies are
//! printed. The listing and reading scenarios discover the data set before the clock starts.
//! Meant for loopback only: the driver shares the machine with the server it measures.

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MEDIA_TYPE: &str = "application/vnd.api+json";
/// How many error bodies are kept for printing.
const SHOWN_ERRORS: usize = 5;
/// The admin API's largest page, used to discover product ids.
const MAX_PAGE: u64 = 500;

#[derive(Debug, Parser)]
#[command(about = "Load driver for the Kontor admin JSON:API (loopback benchmarks)")]
struct Args {
    /// Where the backend listens, e.g. http://127.0.0.1:8081.
    #[arg(long)]
    base_url: String,
    /// An admin API token (`kontor user create --api-token`).
    #[arg(long, env = "KONTOR_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Requests in flight at once (one per worker).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop sending after this many requests, even if time is left.
    #[arg(long, default_value_t = u64::MAX)]
    max_requests: u64,
    /// Page size for `list-products` (1–500).
    #[arg(long, default_value_t = 100)]
    page_size: u64,
    /// Prefix of the SKUs `create-products` makes; defaults to `b<unix seconds>`.
    #[arg(long)]
    run_id: Option<String>,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    CreateProducts,
    ListProducts,
    GetProduct,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::CreateProducts => "create-products",
            Self::ListProducts => "list-products",
            Self::GetProduct => "get-product",
        }
    }
}

/// What a worker needs to build its `n`-th request.
enum Plan {
    Create { run_id: String },
    List { total: u64, page_size: u64 },
    Get { ids: Vec<String> },
}

impl Plan {
    /// The method, path and body of request number `n` (0-based, unique per run).
    fn request(&self, n: u64) -> (Method, String, Option<String>) {
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
                (
                    Method::POST,
                    "/admin/abstract-products".to_owned(),
                    Some(body.to_string()),
                )
            }
            Self::List { total, page_size } => {
                let pages = total.div_ceil(*page_size).max(1);
                let offset = (n % pages) * page_size;
                let path = format!("/admin/abstract-products?page[offset]={offset}&page[limit]={page_size}");
                (Method::GET, path, None)
            }
            Self::Get { ids } => {
                let id = &ids[(n % ids.len() as u64) as usize];
                (Method::GET, format!("/admin/abstract-products/{id}"), None)
            }
        }
    }
}

/// Shared between workers: the request counter and the first error bodies.
struct Shared {
    client: Client,
    base_url: String,
    token: String,
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
    errors: u64,
}

async fn worker(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < shared.deadline {
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if n >= shared.max_requests {
            break;
        }
        let (method, path, body) = shared.plan.request(n);
        let started = Instant::now();
        let outcome = send(&shared, method, &path, body).await;
        tally.latencies_us.push(started.elapsed().as_micros() as u64);
        if let Err(message) = outcome {
            tally.errors += 1;
            let mut samples = shared
                .error_samples
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if samples.len() < SHOWN_ERRORS {
                samples.push(format!("{path}: {message}"));
            }
        }
    }
    tally
}

/// Sends one request and reads the whole body; a non-2xx status or a transport failure is an error.
async fn send(shared: &Shared, method: Method, path: &str, body: Option<String>) -> Result<(), String> {
    let mut request = shared
        .client
        .request(method, format!("{}{path}", shared.base_url))
        .bearer_auth(&shared.token)
        .header(reqwest::header::ACCEPT, MEDIA_TYPE);
    if let Some(body) = body {
        request = request.header(reqwest::header::CONTENT_TYPE, MEDIA_TYPE).body(body);
    }
    let response = request.send().await.map_err(|error| error.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|error| error.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", text.chars().take(400).collect::<String>()))
    }
}

/// GETs a JSON document from the API, failing on any non-2xx status.
async fn get_json(client: &Client, args: &Args, path: &str) -> anyhow::Result<Value> {
    let response = client
        .get(format!("{}{path}", args.base_url))
        .bearer_auth(&args.token)
        .header(reqwest::header::ACCEPT, MEDIA_TYPE)
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = response.status();
    let text = response.text().await.with_context(|| format!("read GET {path}"))?;
    if status != StatusCode::OK {
        bail!("GET {path} answered {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("GET {path} is not JSON"))
}

/// Counts the products (for `list-products`).
async fn product_total(client: &Client, args: &Args) -> anyhow::Result<u64> {
    let page = get_json(client, args, "/admin/abstract-products?page[limit]=1").await?;
    page["meta"]["total"]
        .as_u64()
        .context("the product list has no meta.total")
}

/// Collects up to `limit` product ids (for `get-product`), a page of 500 at a time.
async fn product_ids(client: &Client, args: &Args, limit: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    while ids.len() < limit {
        let path = format!(
            "/admin/abstract-products?page[offset]={}&page[limit]={MAX_PAGE}",
            ids.len()
        );
        let page = get_json(client, args, &path).await?;
        let items = page["data"].as_array().context("the product list has no data array")?;
        if items.is_empty() {
            break;
        }
        ids.extend(items.iter().filter_map(|item| item["id"].as_str().map(str::to_owned)));
    }
    ids.truncate(limit);
    Ok(ids)
}

async fn plan(client: &Client, args: &Args) -> anyhow::Result<Plan> {
    Ok(match args.scenario {
        Scenario::CreateProducts => Plan::Create {
            run_id: args.run_id.clone().unwrap_or_else(|| {
                let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                format!("b{seconds}")
            }),
        },
        Scenario::ListProducts => {
            if !(1..=MAX_PAGE).contains(&args.page_size) {
                bail!("--page-size must be between 1 and {MAX_PAGE}");
            }
            Plan::List {
                total: product_total(client, args).await?,
                page_size: args.page_size,
            }
        }
        Scenario::GetProduct => {
            let ids = product_ids(client, args, 10_000).await?;
            if ids.is_empty() {
                bail!("get-product needs existing products; run create-products first");
            }
            Plan::Get { ids }
        }
    })
}

/// The measured outcome of one run.
struct Report {
    scenario: &'static str,
    concurrency: usize,
    elapsed: Duration,
    requests: u64,
    errors: u64,
    /// Sorted ascending.
    latencies_us: Vec<u64>,
    context: String,
    error_samples: Vec<String>,
}

impl Report {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The `q`-quantile latency in milliseconds (nearest rank).
    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize).clamp(1, self.latencies_us.len());
        self.latencies_us[rank - 1] as f64 / 1000.0
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "context": self.context,
            "concurrency": self.concurrency,
            "elapsedSeconds": self.elapsed.as_secs_f64(),
            "requests": self.requests,
            "errors": self.errors,
            "requestsPerSecond": self.throughput(),
            "latencyMs": {
                "p50": self.percentile_ms(0.50),
                "p95": self.percentile_ms(0.95),
                "p99": self.percentile_ms(0.99),
                "max": self.percentile_ms(1.0),
            },
            "errorSamples": self.error_samples,
        })
    }

    fn print_table(&self) {
        println!("scenario     {} ({})", self.scenario, self.context);
        println!("concurrency  {}", self.concurrency);
        println!("elapsed      {:.1} s", self.elapsed.as_secs_f64());
        println!("requests     {}", self.requests);
        println!("errors       {}", self.errors);
        println!("throughput   {:.1} req/s", self.throughput());
        println!(
            "latency ms   p50 {:.2} | p95 {:.2} | p99 {:.2} | max {:.2}",
            self.percentile_ms(0.50),
            self.percentile_ms(0.95),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0)
        );
        for sample in &self.error_samples {
            println!("error        {sample}");
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.base_url = args.base_url.trim_end_matches('/').to_owned();
    if args.concurrency == 0 || args.duration.is_nan() || args.duration <= 0.0 {
        bail!("--concurrency and --duration must be positive");
    }
    // No proxy, whatever the environment says: the benchmark talks to loopback directly.
    let client = Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .context("build the HTTP client")?;
    let plan = plan(&client, &args).await?;
    let context = match &plan {
        Plan::Create { run_id } => format!("SKU prefix {run_id}"),
        Plan::List { total, page_size } => format!("{total} products, page size {page_size}"),
        Plan::Get { ids } => format!("{} product ids", ids.len()),
    };

    let started = Instant::now();
    let shared = Arc::new(Shared {
        client,
        base_url: args.base_url.clone(),
        token: args.token.clone(),
        plan,
        deadline: started + Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests,
        issued: AtomicU64::new(0),
        error_samples: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(worker(Arc::clone(&shared))))
        .collect();
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for handle in workers {
        let tally = handle.await.context("a worker panicked")?;
        latencies_us.extend(tally.latencies_us);
        errors += tally.errors;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    let error_samples = shared
        .error_samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let report = Report {
        scenario: args.scenario.name(),
        concurrency: args.concurrency,
        elapsed,
        requests: latencies_us.len() as u64,
        errors,
        latencies_us,
        context,
        error_samples,
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        report.print_table();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_offsets_wrap_around_the_pages() {
        let plan = Plan::List {
            total: 250,
            page_size: 100,
        };
        let paths: Vec<String> = (0..4).map(|n| plan.request(n).1).collect();
        assert!(paths[0].contains("page[offset]=0&"));
        assert!(paths[2].contains("page[offset]=200&"));
        assert!(paths[3].contains("page[offset]=0&"));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let report = Report {
            scenario: "x",
            concurrency: 1,
            elapsed: Duration::from_secs(1),
            requests: 100,
            errors: 0,
            latencies_us: (1..=100).map(|ms| ms * 1000).collect(),
            context: String::new(),
            error_samples: Vec::new(),
        };
        assert_eq!(report.percentile_ms(0.50), 50.0);
        assert_eq!(report.percentile_ms(0.99), 99.0);
        assert_eq!(report.percentile_ms(1.0), 100.0);
    }
}
