//! `kontor`: the one binary that runs every role of the platform (ARCHITECTURE §1) and its
//! maintenance commands. It reads the configuration, wires the chosen backends and hands over to the
//! library crates; all business logic lives there.

mod commands;
mod imports;
mod live;
mod oms;
mod pipeline;
mod replica;
mod scheduler;
mod web;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kontor_config::{LogFormat, Settings};
use std::path::PathBuf;

// Every role allocates many small, short-lived JSON values and strings on several threads, which glibc's
// allocator serves with lock contention and consolidation passes (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "kontor", version, about = "Kontor commerce platform")]
struct Cli {
    /// Configuration file (default: ./kontor.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations (a no-op when the schema is current).
    Migrate,
    /// Run the backend role: admin API (and later the Back Office UI) on `backend.listen`.
    Backend,
    /// Run the storefront role alone (JSON:API on `storefront.listen`), reading KV and search and writing
    /// through the backend at `backend.url` with `internal.token`.
    Storefront,
    /// Run every role in one process on the embedded default; migrates first.
    Serve,
    /// Benchmark ceiling: a bare axum hello-world on `--listen`, same binary and runtime as the roles.
    #[command(hide = true)]
    HelloWorld {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
    /// Run the outbox relay and the queue consumers (publishers, sync writers).
    Worker {
        /// Consume only these queues (repeatable); default: all.
        #[arg(long = "queue", value_name = "NAME")]
        queues: Vec<String>,
        /// Consumer loops per queue.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
    },
    /// Re-publish documents from the source tables (all resources, or one).
    Publish {
        #[arg(long, value_name = "RESOURCE")]
        resource: Option<String>,
        /// Only these entity ids, comma-separated.
        #[arg(long, value_delimiter = ',', requires = "resource")]
        ids: Vec<i64>,
        /// Leave the work to a running worker instead of doing it here.
        #[arg(long)]
        enqueue: bool,
    },
    /// Rewrite the KV store and search index from the storage tables, or check them (`verify`).
    Sync {
        #[command(subcommand)]
        action: Option<SyncAction>,
        #[arg(long, value_name = "RESOURCE")]
        resource: Option<String>,
    },
    /// Import Spryker-format CSV: a recipe (`full_EU.yml`) or one data set (`product-price FILE.csv`).
    /// Writes only SQL and outbox rows, so it is safe beside a running `serve`.
    Import {
        /// A recipe file, or a data entity name such as `product-abstract`.
        target: String,
        /// The CSV file, when `target` is a data entity.
        file: Option<PathBuf>,
        /// Import the good rows and write the rejected ones with their reasons to a CSV.
        #[arg(long)]
        skip_invalid: bool,
        /// Fail on recipe steps Kontor does not import yet instead of listing them as skipped.
        #[arg(long)]
        strict: bool,
        /// Rows per transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
        /// Where rejected rows are written with `--skip-invalid` (default: next to each file).
        #[arg(long, value_name = "DIR")]
        rejects_dir: Option<PathBuf>,
        /// Validate and count everything as an import would, then roll it all back: nothing is
        /// written. It holds the database's write lock (SQLite) or the changed rows' locks until done.
        #[arg(long)]
        dry_run: bool,
        /// Run only these recipe steps (data entities, comma-separated); the others are left out.
        #[arg(long, value_delimiter = ',', value_name = "DATA_ENTITY")]
        only: Vec<String>,
    },
    /// Write a deterministic synthetic catalog in the import format, with its recipe.
    GenerateCatalog {
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        products: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Store codes, comma-separated (default DE,AT).
        #[arg(long, value_delimiter = ',')]
        stores: Vec<String>,
        /// Locales, comma-separated (default de_DE,en_US).
        #[arg(long, value_delimiter = ',')]
        locales: Vec<String>,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Generate a catalog (once), migrate, import, create an admin user (once), then serve everything.
    Demo {
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        products: u32,
    },
    /// Maintain carts.
    Carts {
        #[command(subcommand)]
        command: CartsCommand,
    },
    /// Maintain catalog figures derived from orders.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Inspect the message queues.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Manage Back Office users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The order state machines: validate and draw processes, run due timeouts and condition checks.
    Oms {
        #[command(subcommand)]
        command: OmsCommand,
    },
    /// The scheduler role: runs the jobs of `scheduler.jobs_file`, one active node at a time (a lease in
    /// the database), until SIGINT/SIGTERM; or lists its run history, runs a job now, lists the jobs.
    Scheduler {
        #[command(subcommand)]
        command: Option<scheduler::SchedulerCommand>,
    },
}

#[derive(Debug, Subcommand)]
enum CartsCommand {
    /// Delete guest carts untouched for `backend.guest_cart_lifetime_days` and cart idempotency keys older
    /// than 24 h (a daily job does this), a bounded batch per transaction.
    PurgeGuests {
        /// Delete those untouched for this many days instead of the configured lifetime.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(kontor_config::MAX_GUEST_CART_LIFETIME_DAYS)))]
        older_than_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Recount the units of each product ordered in the last days (the search's `popularity` sort) and
    /// re-publish the products whose count changed; a daily job does this.
    RefreshPopularity {
        /// The window in days.
        #[arg(long, value_name = "N", default_value_t = commands::POPULARITY_WINDOW_DAYS,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
enum OmsCommand {
    /// Validate the configured processes, or the given process files; errors name file and line.
    Validate {
        /// Main process files (default: the active processes of `oms.process_dirs`).
        files: Vec<PathBuf>,
        /// Do not require command, condition and timeout-processor keys to be registered.
        #[arg(long)]
        structure_only: bool,
    },
    /// Draw a process as SVG or Graphviz DOT.
    Draw {
        process: String,
        #[arg(long, default_value = "svg")]
        format: String,
        /// Highlight this state.
        #[arg(long)]
        state: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Fire the timeouts that are due now (a worker does this every second).
    CheckTimeouts {
        #[arg(long, default_value_t = 500)]
        limit: u64,
    },
    /// Take background transitions and fire stale onEnter events (a worker does this every minute).
    CheckConditions {
        #[arg(long, default_value_t = 500)]
        limit: u64,
    },
    /// Delete expired order locks.
    ClearLocks,
    /// Delete transition-log rows older than `oms.transition_log_retention_days` (a daily job does
    /// this), a bounded batch per statement.
    PurgeLog {
        /// Keep this many days instead of the configured retention.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(kontor_config::MAX_TRANSITION_LOG_RETENTION_DAYS)))]
        older_than_days: Option<u32>,
    },
    /// Fire an event (such as a manual one) for the items of an order.
    Event {
        /// The order reference, e.g. DE--12.
        order: String,
        event: String,
        /// Only these item ids, comma-separated (default: every item the event applies to).
        #[arg(long, value_delimiter = ',')]
        items: Vec<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a Back Office user, optionally with an API token for the admin API.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input; otherwise one is generated and shown once.
        #[arg(long)]
        password_stdin: bool,
        /// Also issue an API token (shown once).
        #[arg(long)]
        api_token: bool,
        /// A label for the token, e.g. the client that uses it.
        #[arg(long, default_value = "cli", requires = "api_token")]
        token_name: String,
        /// A role to give the user; repeat or separate by commas for several (default: administrator).
        /// See `kontor user roles`.
        #[arg(long = "role", value_name = "NAME", value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// List the roles and their permissions.
    Roles,
}

#[derive(Debug, Subcommand)]
enum SyncAction {
    /// Report keys missing, extra or different between the storage tables and KV/search; exits 1 on drift.
    Verify {
        #[arg(long, value_name = "RESOURCE")]
        resource: Option<String>,
    },
    /// Delete tombstone rows (deleted documents) of the storage tables older than
    /// `sync.tombstone_retention_hours`. SQL only, so it is safe beside a running `serve`.
    PurgeTombstones,
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Depth, in-flight messages and dead letters per queue, and the outbox backlog.
    Stats,
    /// List the dead letters of a queue with their failure reasons.
    DeadLetters {
        queue: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Move dead letters back to their queue (all, or the given ids).
    Requeue {
        queue: String,
        #[arg(long, value_delimiter = ',')]
        ids: Vec<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML, with secrets redacted.
    Show,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("configuration is invalid")?;
    init_logging(&settings)?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
        .context("configure metric buckets")?
        .install_recorder()
        .context("install the metrics recorder")?;
    commands::METRICS.set(metrics).ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(run(cli.command, settings))
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Migrate => commands::migrate(&settings).await,
        Command::Backend => commands::backend(&settings).await,
        Command::Storefront => commands::storefront(&settings).await,
        Command::Serve => commands::serve(&settings).await,
        Command::HelloWorld { listen } => commands::hello_world(listen).await,
        Command::Worker { queues, concurrency } => commands::worker(&settings, queues, usize::from(concurrency)).await,
        Command::Publish { resource, ids, enqueue } => {
            let db = commands::connect_current(&settings).await?;
            if enqueue {
                pipeline::request_publish(&settings, &db, resource.as_deref(), &ids).await
            } else {
                pipeline::publish(&settings, db, resource.as_deref(), &ids).await
            }
        }
        Command::Sync { action: None, resource } => {
            let db = commands::connect_current(&settings).await?;
            pipeline::sync(&settings, db, resource.as_deref()).await
        }
        Command::Sync {
            action: Some(SyncAction::PurgeTombstones),
            ..
        } => {
            let db = commands::connect_current(&settings).await?;
            println!("{}", pipeline::purge_tombstones(&settings, &db).await?);
            Ok(())
        }
        Command::Sync {
            action: Some(SyncAction::Verify { resource }),
            resource: outer,
        } => {
            let db = commands::connect_current(&settings).await?;
            let drift = pipeline::verify(&settings, db, resource.or(outer).as_deref()).await?;
            if drift > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Import {
            target,
            file,
            skip_invalid,
            strict,
            batch_size,
            rejects_dir,
            dry_run,
            only,
        } => {
            let db = commands::connect_current(&settings).await?;
            let options = commands::ImportRequest {
                skip_invalid,
                strict,
                batch_size: batch_size as usize,
                rejects_dir,
                dry_run,
                only,
            };
            commands::import(db, &target, file.as_deref(), options).await
        }
        Command::GenerateCatalog {
            products,
            seed,
            stores,
            locales,
            out,
        } => commands::generate_catalog(products as usize, seed, stores, locales, &out),
        Command::Demo { products } => commands::demo(&settings, products as usize).await,
        Command::Queue { command } => {
            let db = commands::connect_current(&settings).await?;
            match command {
                QueueCommand::Stats => pipeline::queue_stats(&settings, &db).await,
                QueueCommand::DeadLetters { queue, limit } => {
                    pipeline::dead_letters(&settings, &db, &queue, limit).await
                }
                QueueCommand::Requeue { queue, ids } => pipeline::requeue(&settings, &db, &queue, &ids).await,
            }
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password_stdin,
                    api_token,
                    token_name,
                    roles,
                },
        } => {
            let password = if password_stdin {
                Some(commands::read_password_line()?)
            } else {
                None
            };
            let token_name = api_token.then_some(token_name.as_str());
            commands::create_user(&settings, &email, password, token_name, &roles).await
        }
        Command::User {
            command: UserCommand::Roles,
        } => commands::list_roles(&settings).await,
        Command::Carts {
            command: CartsCommand::PurgeGuests { older_than_days },
        } => {
            let days = older_than_days.unwrap_or(settings.backend.guest_cart_lifetime_days);
            let database = commands::connect_current(&settings).await?;
            println!("{}", commands::purge_guest_carts(&database, days).await?);
            Ok(())
        }
        Command::Catalog {
            command: CatalogCommand::RefreshPopularity { days },
        } => {
            let database = commands::connect_current(&settings).await?;
            println!("{}", commands::refresh_popularity(&database, days).await?);
            Ok(())
        }
        Command::Oms { command } => commands::oms(&settings, command).await,
        Command::Scheduler { command } => scheduler::command(&settings, command).await,
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", settings.to_redacted_toml());
            Ok(())
        }
    }
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let mut filter = tracing_subscriber::EnvFilter::try_new(&settings.log.filter)
        .with_context(|| format!("invalid value for `log.filter`: {:?}", settings.log.filter))?;
    if !settings.log.filter.contains("lapin") {
        // lapin logs every channel the broker closes at ERROR, also the expected 404 of `queue stats`
        // asking after a queue that does not exist yet (a passive declare is AMQP's only way to ask).
        // Every close also fails the operation on it, which the RabbitMQ bus reports itself; a filter
        // that names `lapin` keeps the library's own logs.
        filter = filter.add_directive("lapin::channel=off".parse().context("the lapin log directive")?);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
