//! `kontor-bench-lag`: commit → storage / KV lag of publish & synchronize at a steady write rate.
//!
//! Open loop: every `1/--rate` seconds one `PATCH /admin/prices/<id>` sets a new `grossAmount` on a
//! different abstract-level price (each price is written once, so each storage row and KV key changes
//! once), whatever the previous requests are doing. Lags are measured three ways:
//!
//! - **KV (live, with `--kv-url`)**: one loop reads every still-pending key
//!   `price_product_abstract:<store>:<abstract id>` with a single `MGET` every `--poll-ms` and notes
//!   when the document shows the new amount. Reported from the PATCH's answer (a lower bound of
//!   commit → visible: the commit happened before the answer) and from the outbox row's `changed_at`
//!   (stamped inside the write transaction, just before its commit: a slight upper bound).
//! - **Storage (after the run, from SQL)**: `price_product_abstract_storage.updated_at` minus the
//!   outbox row's `changed_at`, i.e. commit → publisher's row written (before the sync writer).
//!
//! Both clocks are this machine's wall clock (server and driver share it). Meant for loopback only.

use anyhow::{Context, bail};
use clap::Parser;
use kontor_db::SqlDatabase;
use kontor_db::entity::{currency, price_product, price_type, store};
use kontor_kv::{KvOptions, KvStore};
use reqwest::Client;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const MEDIA_TYPE: &str = "application/vnd.api+json";

#[derive(Debug, Parser)]
#[command(about = "Commit → storage/KV lag of publish & synchronize at a steady price-update rate")]
struct Args {
    /// Where the backend listens, e.g. http://127.0.0.1:8081.
    #[arg(long)]
    base_url: String,
    /// An admin API token (`kontor user create --api-token`).
    #[arg(long, env = "KONTOR_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// The server's database (read only: the prices to update, then storage rows and outbox times).
    #[arg(long)]
    database_url: String,
    /// The server's KV store, when this process can read it (`redis://…`); without it only the
    /// storage-table lag is measured (an embedded redb file is locked by the server).
    #[arg(long)]
    kv_url: Option<String>,
    /// The KV namespace the server writes under (`kv.namespace`), e.g. a cluster's name.
    #[arg(long, default_value = "")]
    kv_namespace: String,
    /// Writes per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of writing.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Milliseconds between two KV reads of the pending keys.
    #[arg(long, default_value_t = 5)]
    poll_ms: u64,
    /// Seconds to wait after the last write for the remaining keys to become visible.
    #[arg(long, default_value_t = 30.0)]
    settle: f64,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One price to update.
#[derive(Debug, Clone)]
struct Target {
    price_id: i64,
    abstract_id: i64,
    key: String,
}

/// What happened to write number `n`.
#[derive(Debug, Clone, Default)]
struct Write {
    sent: Option<Instant>,
    acked: Option<Instant>,
    failed: Option<String>,
    /// Wall-clock microseconds when the KV showed the new amount.
    visible_wall: Option<i64>,
    visible: Option<Instant>,
}

fn wall_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

/// The new gross amount of write `n`: unique per write and per run (a run writing the amounts of an
/// earlier one would change nothing), and unlike any seeded amount.
fn amount(base: i64, n: usize) -> i64 {
    base + n as i64
}

/// `prices.EUR.GROSS_MODE.DEFAULT` of a `price_product_abstract` document.
fn gross_default(document: &Value) -> Option<i64> {
    document["prices"]["EUR"]["GROSS_MODE"]["DEFAULT"].as_i64()
}

/// Nearest-rank percentiles of microsecond samples, in milliseconds.
fn summary(samples: &mut [i64]) -> Value {
    if samples.is_empty() {
        return json!({"count": 0});
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1] as f64 / 1000.0
    };
    json!({"count": samples.len(), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)})
}

async fn targets(db: &SqlDatabase, wanted: usize) -> anyhow::Result<Vec<Target>> {
    let stores: HashMap<i64, String> = store::Entity::find()
        .all(db.connection())
        .await?
        .into_iter()
        .map(|row| (row.id, row.name.to_lowercase()))
        .collect();
    // Only what the KV check reads (`prices.EUR.GROSS_MODE.DEFAULT`), and one price per product: a
    // catalog with ORIGINAL or CHF prices would otherwise have writes that no check can see, and a
    // second write to a product (even in another store: both stores' rows are rebuilt) would move its
    // storage rows on and be measured as the first write's lag.
    let default_type: Option<i64> = price_type::Entity::find()
        .filter(price_type::Column::Name.eq("DEFAULT"))
        .one(db.connection())
        .await?
        .map(|row| row.id);
    let euro: Option<i64> = currency::Entity::find()
        .filter(currency::Column::Code.eq("EUR"))
        .one(db.connection())
        .await?
        .map(|row| row.id);
    let (Some(default_type), Some(euro)) = (default_type, euro) else {
        bail!("the database has no DEFAULT price type or no EUR currency");
    };
    let mut documents = std::collections::HashSet::new();
    let prices: Vec<price_product::Model> = price_product::Entity::find()
        .filter(price_product::Column::ProductAbstractId.is_not_null())
        .filter(price_product::Column::PriceTypeId.eq(default_type))
        .filter(price_product::Column::CurrencyId.eq(euro))
        .order_by_asc(price_product::Column::Id)
        .all(db.connection())
        .await?
        .into_iter()
        .filter(|row| documents.insert(row.product_abstract_id))
        .collect();
    if prices.len() < wanted {
        bail!(
            "{wanted} writes need as many abstract DEFAULT EUR prices, one per product; the database has {}",
            prices.len()
        );
    }
    // Spread the writes evenly over the catalog rather than over its first rows.
    let stride = prices.len() / wanted;
    Ok(prices
        .iter()
        .step_by(stride)
        .take(wanted)
        .map(|row| {
            let abstract_id = row.product_abstract_id.unwrap_or_default();
            let store = stores.get(&row.store_id).cloned().unwrap_or_default();
            Target {
                price_id: row.id,
                abstract_id,
                key: format!("price_product_abstract:{store}:{abstract_id}"),
            }
        })
        .collect())
}

async fn patch(client: &Client, args: &Args, target: &Target, gross: i64) -> Result<(), String> {
    let body = json!({"data": {"type": "prices", "id": target.price_id.to_string(),
        "attributes": {"grossAmount": gross}}});
    let response = client
        .patch(format!("{}/admin/prices/{}", args.base_url, target.price_id))
        .bearer_auth(&args.token)
        .header(reqwest::header::ACCEPT, MEDIA_TYPE)
        .header(reqwest::header::CONTENT_TYPE, MEDIA_TYPE)
        .body(body.to_string())
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|error| error.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", text.chars().take(300).collect::<String>()))
    }
}

/// Integer pairs from a two-column query.
async fn pairs(db: &SqlDatabase, sql: String, first: &str, second: &str) -> anyhow::Result<HashMap<i64, i64>> {
    let rows = db
        .connection()
        .query_all_raw(Statement::from_string(db.backend(), sql))
        .await?;
    let mut map = HashMap::new();
    for row in rows {
        map.insert(row.try_get::<i64>("", first)?, row.try_get::<i64>("", second)?);
    }
    Ok(map)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.base_url = args.base_url.trim_end_matches('/').to_owned();
    if !(args.rate > 0.0 && args.duration > 0.0 && args.settle >= 0.0) {
        bail!("--rate and --duration must be positive");
    }
    let total = (args.rate * args.duration).round() as usize;
    let db = SqlDatabase::connect(&args.database_url, 2)
        .await
        .context("connect to the database")?;
    let targets = Arc::new(targets(&db, total).await?);
    let kv: Option<Arc<dyn KvStore>> = match &args.kv_url {
        Some(url) => Some(
            kontor_kv::open(url, KvOptions::with_namespace(args.kv_namespace.clone()))
                .await
                .context("open the KV store")?,
        ),
        None => None,
    };
    let client = Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .context("build the HTTP client")?;
    let args = Arc::new(args);
    let base = 10_000_000 + (wall_micros() / 1_000_000 % 1_000_000) * 10_000;

    // Writer: one request per tick, each on its own task so a slow answer never delays the next.
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant, Instant, Result<(), String>)>();
    let started = Instant::now();
    let writer = {
        let (args, targets, client) = (Arc::clone(&args), Arc::clone(&targets), client.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
            let mut tasks = Vec::with_capacity(total);
            for n in 0..total {
                ticks.tick().await;
                let (args, targets, client, tx) = (Arc::clone(&args), Arc::clone(&targets), client.clone(), tx.clone());
                tasks.push(tokio::spawn(async move {
                    let sent = Instant::now();
                    let outcome = patch(&client, &args, &targets[n], amount(base, n)).await;
                    let _ = tx.send((n, sent, Instant::now(), outcome));
                }));
            }
            for task in tasks {
                let _ = task.await;
            }
        })
    };

    // Poller: collect answers; read the pending keys from KV in one round trip per poll.
    let mut writes = vec![Write::default(); total];
    let mut pending: Vec<usize> = Vec::new();
    let mut answered = 0;
    let mut settle_deadline: Option<Instant> = None;
    let mut kv_reads = 0_u64;
    loop {
        while let Ok((n, sent, acked, outcome)) = rx.try_recv() {
            answered += 1;
            writes[n].sent = Some(sent);
            writes[n].acked = Some(acked);
            match outcome {
                Ok(()) => pending.push(n),
                Err(message) => writes[n].failed = Some(message),
            }
        }
        if let Some(kv) = &kv
            && !pending.is_empty()
        {
            let keys: Vec<String> = pending.iter().map(|&n| targets[n].key.clone()).collect();
            let values = kv.get_many(&keys).await.context("read KV")?;
            kv_reads += 1;
            let (now, now_wall) = (Instant::now(), wall_micros());
            let mut still = Vec::with_capacity(pending.len());
            for (n, value) in pending.iter().copied().zip(values) {
                if value.as_ref().and_then(gross_default) == Some(amount(base, n)) {
                    writes[n].visible = Some(now);
                    writes[n].visible_wall = Some(now_wall);
                } else {
                    still.push(n);
                }
            }
            pending = still;
        } else if kv.is_none() {
            pending.clear();
        }
        if answered == total {
            let deadline =
                *settle_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs_f64(args.settle));
            if pending.is_empty() || Instant::now() >= deadline {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
    }
    writer.await.context("the writer task panicked")?;
    let writing = writes
        .iter()
        .filter_map(|write| write.sent)
        .max()
        .map_or(Duration::ZERO, |last| last - started);

    // Storage rows and outbox times, read after the run.
    let ok: Vec<usize> = (0..total).filter(|&n| writes[n].failed.is_none()).collect();
    let price_ids: Vec<String> = ok.iter().map(|&n| targets[n].price_id.to_string()).collect();
    let abstract_ids: Vec<String> = ok.iter().map(|&n| targets[n].abstract_id.to_string()).collect();
    // The publisher may still be writing the last rows: wait (up to --settle) until every written
    // price's storage row is at least as new as its outbox row.
    let settle_deadline = Instant::now() + Duration::from_secs_f64(args.settle);
    let (changed_at, stored_at) = loop {
        if ok.is_empty() {
            break (HashMap::new(), HashMap::new());
        }
        let changed = pairs(
            &db,
            format!(
                "SELECT entity_id, MAX(changed_at) AS changed_at FROM outbox WHERE resource = 'price_product' \
                 AND entity_id IN ({}) GROUP BY entity_id",
                price_ids.join(",")
            ),
            "entity_id",
            "changed_at",
        )
        .await?;
        let stored = pairs(
            &db,
            format!(
                "SELECT entity_id, updated_at FROM price_product_abstract_storage WHERE entity_id IN ({})",
                abstract_ids.join(",")
            ),
            "entity_id",
            "updated_at",
        )
        .await?;
        let complete = ok
            .iter()
            .filter(|&&n| {
                let target = &targets[n];
                matches!((stored.get(&target.abstract_id), changed.get(&target.price_id)), (Some(s), Some(c)) if s >= c)
            })
            .count();
        if complete == ok.len() || Instant::now() >= settle_deadline {
            break (changed, stored);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut request_us = Vec::new();
    let (mut ack_to_kv, mut send_to_kv, mut commit_to_kv, mut commit_to_storage) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut not_visible = 0;
    let mut storage_stale = 0;
    for &n in &ok {
        let write = &writes[n];
        let target = &targets[n];
        let (Some(sent), Some(acked)) = (write.sent, write.acked) else {
            continue;
        };
        request_us.push((acked - sent).as_micros() as i64);
        let changed = changed_at.get(&target.price_id).copied();
        match stored_at.get(&target.abstract_id).copied().zip(changed) {
            Some((stored, changed)) if stored >= changed => commit_to_storage.push(stored - changed),
            _ => storage_stale += 1,
        }
        if kv.is_some() {
            match (write.visible, write.visible_wall) {
                (Some(visible), Some(visible_wall)) => {
                    ack_to_kv.push(visible.saturating_duration_since(acked).as_micros() as i64);
                    send_to_kv.push((visible - sent).as_micros() as i64);
                    if let Some(changed) = changed {
                        commit_to_kv.push(visible_wall - changed);
                    }
                }
                _ => not_visible += 1,
            }
        }
    }
    let errors: Vec<&String> = writes.iter().filter_map(|write| write.failed.as_ref()).collect();
    let report = json!({
        "scenario": "price-lag",
        "targetRate": args.rate,
        "writes": total,
        "errors": errors.len(),
        "errorSamples": errors.iter().take(5).collect::<Vec<_>>(),
        "writingSeconds": writing.as_secs_f64(),
        "achievedRate": total as f64 / writing.as_secs_f64().max(f64::EPSILON),
        "patchLatencyMs": summary(&mut request_us),
        "commitToStorageMs": summary(&mut commit_to_storage),
        "storageRowsMissingOrOlder": storage_stale,
        "kv": kv.as_ref().map(|_| json!({
            "pollMs": args.poll_ms,
            "reads": kv_reads,
            "notVisibleAfterSettle": not_visible,
            "ackToVisibleMs": summary(&mut ack_to_kv),
            "sendToVisibleMs": summary(&mut send_to_kv),
            "commitToVisibleMs": summary(&mut commit_to_kv),
        })),
    });
    if args.json {
        println!("{report}");
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(report: &Value) {
    let line = |label: &str, value: &Value| {
        if value["count"].as_u64().unwrap_or(0) == 0 {
            println!("{label:<28} (no samples)");
        } else {
            println!(
                "{label:<28} n={} p50 {:.1} | p95 {:.1} | p99 {:.1} | max {:.1} ms",
                value["count"], value["p50"], value["p95"], value["p99"], value["max"]
            );
        }
    };
    println!(
        "scenario     price-lag: {} writes at {}/s (achieved {:.1}/s over {:.1} s), {} errors",
        report["writes"],
        report["targetRate"],
        report["achievedRate"].as_f64().unwrap_or(0.0),
        report["writingSeconds"].as_f64().unwrap_or(0.0),
        report["errors"]
    );
    for sample in report["errorSamples"].as_array().into_iter().flatten() {
        println!("error        {sample}");
    }
    line("PATCH latency", &report["patchLatencyMs"]);
    line("commit → storage row", &report["commitToStorageMs"]);
    println!(
        "{:<28} {}",
        "storage rows missing/older", report["storageRowsMissingOrOlder"]
    );
    let kv = &report["kv"];
    if kv.is_null() {
        println!("KV lag                       not measured (no --kv-url)");
    } else {
        line("commit → KV visible", &kv["commitToVisibleMs"]);
        line("PATCH answer → KV visible", &kv["ackToVisibleMs"]);
        line("PATCH sent → KV visible", &kv["sendToVisibleMs"]);
        println!(
            "{:<28} {} (KV polled every {} ms, {} reads)",
            "not visible after settle", kv["notVisibleAfterSettle"], kv["pollMs"], kv["reads"]
        );
    }
}
