//! The commands' bodies: connect what the command needs, do it, report it.

use anyhow::{Context, bail};
use kontor_config::{Settings, redact_url_password};
use kontor_core::ids::RoleId;
use kontor_db::SqlDatabase;
use kontor_domain::DomainError;
use kontor_domain::acl::{ADMINISTRATOR, AclService, Permission};
use kontor_domain::gateway::BackendGateway;
use kontor_domain::users::UserService;
use kontor_web::access_token::AccessTokenKeys;
use std::io::BufRead;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

async fn connect(settings: &Settings) -> anyhow::Result<SqlDatabase> {
    if let Some(path) = settings.database.url.strip_prefix("sqlite://")
        && let Some(parent) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("create the data directory {}", parent.display()))?;
    }
    let shown_url = redact_url_password(&settings.database.url);
    SqlDatabase::connect(&settings.database.url, settings.database.max_connections)
        .await
        .with_context(|| format!("connect to the database at {shown_url}"))
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let database = connect(settings).await?;
    let before = database.applied_migrations().await.unwrap_or_default();
    database.migrate().await.context("apply migrations")?;
    let after = database.applied_migrations().await.context("list applied migrations")?;
    let applied = after.len().saturating_sub(before.len());
    tracing::info!(applied, total = after.len(), "migrations done");
    println!(
        "{applied} migration(s) applied, {} in total; schema is current",
        after.len()
    );
    Ok(())
}

/// Connects and checks that the schema is current, pointing at `kontor migrate` otherwise.
pub async fn connect_current(settings: &Settings) -> anyhow::Result<SqlDatabase> {
    let database = connect(settings).await?;
    let applied = database.applied_migrations().await.unwrap_or_default();
    let known = kontor_db::migration::migration_names();
    if known.iter().any(|name| !applied.contains(name)) {
        bail!("the database schema is not current: run `kontor migrate` first");
    }
    Ok(database)
}

/// A token cancelled by SIGINT or SIGTERM.
pub(crate) fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    token
}

/// The process' metrics, rendered at `/metrics` in Prometheus text format.
pub static METRICS: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> = std::sync::OnceLock::new();

async fn render_metrics() -> String {
    METRICS
        .get()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .unwrap_or_default()
}

/// What the backend's live features use: the KV store holding Back Office sessions and the notifier
/// for order announcements and the Back Office WebSocket.
struct BackendLive {
    session_kv: Arc<dyn kontor_kv::KvStore>,
    notifier: Arc<dyn kontor_notify::Notifier>,
}

async fn serve_backend(
    settings: &Settings,
    database: SqlDatabase,
    gateway: Arc<dyn BackendGateway>,
    live: BackendLive,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mailer =
        kontor_mail::from_settings(&settings.mail, &settings.data_dir).context("set up outgoing mail (mail.*)")?;
    let oms = crate::oms::Oms::open(settings, &database, mailer)?.announcing(Arc::clone(&live.notifier));
    oms.engine.check_occupied_states().await?;
    let (files, signer) = file_store(settings).await?;
    let imports =
        crate::imports::BackgroundImports::new(database.clone(), Arc::clone(&live.notifier), &settings.data_dir);
    let state = kontor_backoffice::AdminState::new(Arc::new(database.clone()))
        .with_orders(oms.order_admin(&database))
        .with_scheduler(kontor_queue::scheduler::RunHistory::new(database.connection().clone()))
        .with_files(kontor_backoffice::files::FilesAdmin::new(
            Arc::clone(&files),
            signer.clone(),
        ))
        .with_queues(crate::pipeline::open_bus(settings, &database).await?)
        .with_imports(Arc::new(imports))
        .with_ui(crate::web::backoffice_kit(settings, live.session_kv, live.notifier)?);
    let callbacks = kontor_backoffice::orders::callback_routes(
        Arc::new(oms.order_admin(&database)),
        &settings.payment.callback_secret,
    );
    // `/metrics` sits next to the admin API: the backend is meant to be reachable only from inside.
    let router = axum::Router::new()
        .route("/metrics", axum::routing::get(render_metrics))
        .merge(kontor_backoffice::gateway::internal_routes(
            gateway,
            &settings.internal.token,
        ))
        .merge(kontor_backoffice::feed::feed_routes(
            Arc::new(crate::replica::SqlStorageFeed { db: database.clone() }),
            &settings.internal.token,
        ))
        .merge(callbacks)
        .merge(kontor_web::files::routes(files, signer))
        .merge(kontor_backoffice::router(state));
    let listener = tokio::net::TcpListener::bind(settings.backend.listen)
        .await
        .with_context(|| format!("listen on {} (backend.listen)", settings.backend.listen))?;
    let address = listener.local_addr().context("read the bound address")?;
    tracing::info!(%address, "backend listening");
    println!("backend listening on http://{address}");
    // Connect info gives handlers the client address (login throttling).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .context("serve HTTP")?;
    tracing::info!("backend stopped");
    Ok(())
}

/// The backend role alone, until SIGINT/SIGTERM. Split storefronts reach it at `/internal/gateway`.
pub async fn backend(settings: &Settings) -> anyhow::Result<()> {
    let database = connect_current(settings).await?;
    if settings.internal.token.is_empty() {
        tracing::warn!(
            "internal.token is empty: split storefronts cannot reach this backend (/internal/gateway answers 401)"
        );
    }
    let notifier = crate::pipeline::open_notifier(settings, &format!("backend-{}", std::process::id())).await?;
    let gateway: Arc<dyn BackendGateway> = Arc::new(crate::live::AnnouncingGateway {
        inner: local_gateway(settings, &database)?,
        notifier: Arc::clone(&notifier),
    });
    let live = BackendLive {
        session_kv: crate::web::backend_session_kv(settings).await?,
        notifier,
    };
    serve_backend(settings, database, gateway, live, shutdown_token()).await
}

/// The customer access-token keys: `auth.token_secret`, or else a random secret created once in
/// `<data_dir>/token-secret` (owner-only), so tokens survive restarts of a single-machine shop.
pub fn token_keys(settings: &Settings) -> anyhow::Result<AccessTokenKeys> {
    let secret = configured_or_generated_secret(
        settings,
        &settings.auth.token_secret,
        "token-secret",
        "auth.token_secret",
    )?;
    Ok(AccessTokenKeys::from_secret(
        secret.as_bytes(),
        settings.auth.access_token_lifetime,
    ))
}

/// A secret from the configuration, or else one created once in `<data_dir>/<file>` (owner-only), so it
/// survives restarts of a single-machine shop. Several nodes must configure the same value instead.
pub(crate) fn configured_or_generated_secret(
    settings: &Settings,
    configured: &str,
    file: &str,
    key: &str,
) -> anyhow::Result<String> {
    if !configured.is_empty() {
        return Ok(configured.to_owned());
    }
    let path = settings.data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => Ok(secret.trim().to_owned()),
        Ok(_) => bail!(
            "{} is shorter than 32 characters; delete it or set {key}",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&settings.data_dir)
                .with_context(|| format!("create the data directory {}", settings.data_dir.display()))?;
            let secret = generated_secret();
            write_private(&path, &secret)?;
            tracing::info!(path = %path.display(), key, "created a secret");
            Ok(secret)
        }
        Err(error) => Err(error).with_context(|| format!("read {}", path.display())),
    }
}

/// The file store of `files.url` and the signer of its private files' URLs.
pub async fn file_store(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn kontor_files::FileStore>, kontor_files::UrlSigner)> {
    let shown = redact_url_password(&settings.files.url);
    let store = kontor_files::open(&settings.files.url, &settings.data_dir)
        .await
        .with_context(|| format!("open the file store {shown:?} (files.url)"))?;
    let secret = configured_or_generated_secret(
        settings,
        &settings.files.signing_secret,
        "files-secret",
        "files.signing_secret",
    )?;
    let signer = kontor_files::UrlSigner::new(secret.as_bytes()).map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok((store, signer))
}

fn generated_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The backend's own services behind the gateway port (what `serve` hands its storefront in process).
fn local_gateway(settings: &Settings, database: &SqlDatabase) -> anyhow::Result<Arc<dyn BackendGateway>> {
    let mailer =
        kontor_mail::from_settings(&settings.mail, &settings.data_dir).context("set up outgoing mail (mail.*)")?;
    let database = Arc::new(database.clone());
    let customers = kontor_domain::customer::CustomerService::new(
        database.clone(),
        Arc::new(token_keys(settings)?),
        Arc::clone(&mailer),
        settings.auth.refresh_token_lifetime_days,
    );
    let oms = crate::oms::Oms::open(settings, &database, Arc::clone(&mailer))?;
    let carts = kontor_domain::cart::CartService::new(database.clone(), database.clone());
    let checkout = kontor_domain::checkout::CheckoutService::new(
        database.clone(),
        database.clone(),
        database.clone(),
        database.clone(),
        crate::oms::order_processes(settings, oms.processes),
    );
    let reviews = kontor_domain::review::ReviewService::new(database);
    Ok(Arc::new(kontor_backoffice::gateway::LocalGateway::new(
        customers, carts, checkout, reviews,
    )))
}

async fn serve_storefront(
    settings: &Settings,
    stores: crate::pipeline::ReadStores,
    gateway: Arc<dyn BackendGateway>,
    search_replica: Option<Arc<kontor_search::ReplicaStatus>>,
    notifier: Arc<dyn kontor_notify::Notifier>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let html = crate::web::storefront_kit(settings, stores.kv.clone(), Arc::clone(&notifier))?;
    let state = kontor_storefront::StorefrontState::new(
        stores.kv,
        stores.search,
        gateway,
        token_keys(settings)?,
        kontor_storefront::StorefrontOptions {
            default_store: Some(settings.storefront.default_store.clone()).filter(|name| !name.is_empty()),
            public_url: Some(settings.storefront.public_url.clone()).filter(|url| !url.is_empty()),
            cors_origins: settings.storefront.cors_origins.clone(),
            search_replica,
            store_cache_ttl: Some(kontor_storefront::invalidation::NOTIFIED_STORE_CACHE_TTL),
            html: Some(Arc::new(html)),
            response_cache: response_cache_options(settings),
        },
    );
    tokio::spawn(kontor_storefront::invalidation::follow_kv_changes(
        state.clone(),
        notifier,
        shutdown.clone(),
    ));
    // Product images and signed private files (invoices) are served by every storefront node.
    let (files, signer) = file_store(settings).await?;
    let router = kontor_storefront::router(state).merge(kontor_web::files::routes(files, signer));
    let listener = tokio::net::TcpListener::bind(settings.storefront.listen)
        .await
        .with_context(|| format!("listen on {} (storefront.listen)", settings.storefront.listen))?;
    let address = listener.local_addr().context("read the bound address")?;
    tracing::info!(%address, "storefront listening");
    // Scripts and tests read this line: the shop is at the root, the JSON:API under `/api`.
    println!("storefront listening on http://{address}/api");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .context("serve HTTP")?;
    tracing::info!("storefront stopped");
    Ok(())
}

/// The response cache, when this node hears of every KV write: an embedded redb file is written only by
/// the process holding it (whose sync writers announce on the in-process broadcast), and on Redis
/// notifications reach every node. A shared Redis KV with in-process notifications could be written by
/// another process's worker unheard, so that combination gets no cache.
fn response_cache_options(settings: &Settings) -> Option<kontor_storefront::response_cache::ResponseCacheOptions> {
    let hears_every_write = settings.kv.url.starts_with("redb://") || settings.notify.url.starts_with("redis://");
    let max_bytes = usize::try_from(settings.storefront.response_cache_mb)
        .unwrap_or(usize::MAX)
        .saturating_mul(1024 * 1024);
    (hears_every_write && max_bytes > 0).then(|| kontor_storefront::response_cache::ResponseCacheOptions {
        max_bytes,
        ttl: std::time::Duration::from_secs(settings.storefront.response_cache_ttl_seconds),
    })
}

/// `kontor hello-world`: the ceiling the storefront benchmark compares against — the same HTTP stack
/// answering a constant, with no middleware, KV or search.
pub async fn hello_world(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen} (--listen)"))?;
    let address = listener.local_addr().context("read the bound address")?;
    println!("hello-world listening on http://{address}");
    let shutdown = shutdown_token();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("serve HTTP")
}

/// The storefront role alone: reads KV and search, writes through the backend at `backend.url`.
pub async fn storefront(settings: &Settings) -> anyhow::Result<()> {
    if settings.internal.token.is_empty() {
        bail!("internal.token is empty: a split storefront needs the backend's shared secret (KONTOR_INTERNAL__TOKEN)");
    }
    let gateway = kontor_storefront::http_gateway::HttpGateway::new(&settings.backend.url, &settings.internal.token)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let gateway = Arc::new(gateway);
    let stores = crate::pipeline::ReadStores::open(settings).await?;
    let notifier = crate::pipeline::open_notifier(settings, &settings.storefront_node_id()).await?;
    let shutdown = shutdown_token();
    if !settings.search.replicas {
        return serve_storefront(settings, stores, gateway, None, notifier, shutdown).await;
    }
    let status = Arc::new(kontor_search::ReplicaStatus::default());
    let replica = crate::replica::run(
        settings.clone(),
        Arc::clone(&stores.search),
        Arc::clone(&gateway),
        Arc::clone(&status),
        shutdown.clone(),
    );
    let web = serve_storefront(settings, stores, gateway, Some(status), notifier, shutdown.clone());
    // Either ending ends the other: a node must not serve search results nobody keeps current.
    let (replica, web) = tokio::join!(
        async {
            let result = replica.await;
            shutdown.cancel();
            result
        },
        async {
            let result = web.await;
            shutdown.cancel();
            result
        }
    );
    replica.and(web)
}

/// The worker role alone: relay + publish/sync consumers.
pub async fn worker(settings: &Settings, queues: Vec<String>, concurrency: usize) -> anyhow::Result<()> {
    let known = kontor_sync::pipeline::queue_names();
    if let Some(unknown) = queues.iter().find(|queue| !known.contains(queue)) {
        bail!("unknown queue {unknown:?} (--queue); known: {}", known.join(", "));
    }
    let database = connect_current(settings).await?;
    let selection = kontor_sync::pipeline::QueueSelection { only: queues };
    let kv = crate::pipeline::open_kv(settings).await?;
    // With replicas, each storefront node keeps its own index; the worker opens none.
    let search = if settings.search.replicas {
        None
    } else {
        Some(crate::pipeline::open_search(settings)?)
    };
    let notifier = crate::pipeline::open_notifier(settings, &format!("worker-{}", std::process::id())).await?;
    let targets = crate::pipeline::WorkerTargets { kv, search, notifier };
    crate::pipeline::run_worker(settings, database, targets, selection, concurrency, shutdown_token()).await
}

/// All roles in one process: migrate, then backend and worker side by side until SIGINT/SIGTERM.
pub async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let database = connect(settings).await?;
    database.migrate().await.context("apply migrations")?;
    let shutdown = shutdown_token();
    let stores = crate::pipeline::ReadStores::open(settings).await?;
    let scheduler = crate::scheduler::spawn_in_serve(settings, &database, &stores, shutdown.clone())?;
    // One notifier for the process: the worker's announcements reach the storefront in it.
    let notifier = crate::pipeline::open_notifier(settings, &format!("serve-{}", std::process::id())).await?;
    let gateway: Arc<dyn BackendGateway> = Arc::new(crate::live::AnnouncingGateway {
        inner: local_gateway(settings, &database)?,
        notifier: Arc::clone(&notifier),
    });
    let targets = crate::pipeline::WorkerTargets {
        kv: stores.kv.clone(),
        search: Some(stores.search.clone()),
        notifier: Arc::clone(&notifier),
    };
    let worker = crate::pipeline::run_worker(
        settings,
        database.clone(),
        targets,
        kontor_sync::pipeline::QueueSelection::default(),
        1,
        shutdown.clone(),
    );
    let live = BackendLive {
        session_kv: stores.kv.clone(),
        notifier: Arc::clone(&notifier),
    };
    let backend = serve_backend(settings, database, gateway.clone(), live, shutdown.clone());
    let storefront = serve_storefront(settings, stores, gateway, None, notifier, shutdown.clone());
    // Any role ending (error or signal) ends the others, so the process never runs half a shop.
    let stop_all = |result: anyhow::Result<()>| {
        shutdown.cancel();
        result
    };
    let (worker, backend, storefront) = tokio::join!(
        async { stop_all(worker.await) },
        async { stop_all(backend.await) },
        async { stop_all(storefront.await) }
    );
    // The scheduler stops with the others; waiting lets it end its runs and release its lease.
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    worker.and(backend).and(storefront)
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

pub fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn generated_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// `kontor user create`: the roles (default: administrator) are looked up before the user is made, so a
/// misspelt role creates nothing.
pub async fn create_user(
    settings: &Settings,
    email: &str,
    password: Option<String>,
    token_name: Option<&str>,
    roles: &[String],
) -> anyhow::Result<()> {
    let database = connect(settings).await?;
    let acl = AclService::new(Arc::new(database.clone()));
    let users = UserService::new(Arc::new(database));
    let role_names: Vec<&str> = if roles.is_empty() {
        vec![ADMINISTRATOR]
    } else {
        roles.iter().map(String::as_str).collect()
    };
    let role_ids = role_ids(&acl, &role_names).await?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(generated_password);
    let user = users.create_user(email, &password).await.map_err(describe)?;
    acl.set_user_roles(user.id, &role_ids).await.map_err(describe)?;
    println!("created user {} <{}>", user.id, user.email);
    println!("roles: {}", role_names.join(", "));
    if generated {
        println!("password (shown once): {password}");
    }
    if let Some(name) = token_name {
        let token = users.issue_api_token(user.id, name).await.map_err(describe)?;
        println!("api token (shown once): {}", token.secret);
    }
    Ok(())
}

/// The ids of the named roles. An unknown name fails with the names that exist, before the caller
/// has changed anything.
async fn role_ids(acl: &AclService, names: &[&str]) -> anyhow::Result<Vec<RoleId>> {
    match acl.resolve_roles(names).await {
        Ok(roles) => Ok(roles.iter().map(|role| role.id).collect()),
        Err(DomainError::Validation(fields)) => {
            let problems: Vec<&str> = fields.iter().map(|field| field.detail.as_str()).collect();
            let known: Vec<String> = acl
                .list_roles()
                .await
                .map_err(describe)?
                .into_iter()
                .map(|role| role.name)
                .collect();
            bail!(
                "{}; nothing was created (roles: {}; see `kontor user roles`)",
                problems.join(", "),
                known.join(", ")
            )
        }
        Err(other) => Err(describe(other)),
    }
}

/// `kontor user roles`: every role with its permissions.
pub async fn list_roles(settings: &Settings) -> anyhow::Result<()> {
    let database = connect(settings).await?;
    let roles = AclService::new(Arc::new(database))
        .list_roles()
        .await
        .map_err(describe)?;
    for role in roles {
        let kind = if role.builtin { " (built-in)" } else { "" };
        println!("{}{kind}: {}", role.name, role.description);
        let permissions: Vec<&str> = role.permissions.iter().map(Permission::as_str).collect();
        println!("  {}", permissions.join(", "));
    }
    Ok(())
}

/// Domain errors as a person at a terminal should read them.
fn describe(error: DomainError) -> anyhow::Error {
    match error {
        DomainError::Validation(fields) => {
            let lines: Vec<String> = fields
                .iter()
                .map(|field| format!("{}: {}", field.pointer.trim_start_matches('/'), field.detail))
                .collect();
            anyhow::anyhow!("{}", lines.join("; "))
        }
        DomainError::Conflict { pointer, detail } => {
            anyhow::anyhow!("{}: {detail}", pointer.trim_start_matches('/'))
        }
        other => anyhow::anyhow!(other),
    }
}

/// Options of `kontor import` as given on the command line.
pub struct ImportRequest {
    pub skip_invalid: bool,
    pub strict: bool,
    pub batch_size: usize,
    pub rejects_dir: Option<std::path::PathBuf>,
    /// Everything rolled back at the end.
    pub dry_run: bool,
    /// Recipe steps to run, as typed (`--only product-price,stock`); empty: all.
    pub only: Vec<String>,
}

/// `kontor import <recipe.yml>` or `kontor import <data-entity> <file.csv>`: progress on a terminal,
/// a summary per data set at the end, the same figures in the log.
pub async fn import(
    database: SqlDatabase,
    target: &str,
    file: Option<&std::path::Path>,
    request: ImportRequest,
) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    use std::io::IsTerminal;
    if file.is_some() && !request.only.is_empty() {
        bail!("--only selects steps of a recipe; with a data entity and a file there is only one");
    }
    let mut only = Vec::with_capacity(request.only.len());
    for name in request
        .only
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
    {
        let Some(entity) = kontor_import::DataEntity::parse(name) else {
            let known: Vec<&str> = kontor_import::DataEntity::ALL
                .iter()
                .map(|entity| entity.name())
                .collect();
            bail!(
                "--only: \"{name}\" is not a data entity Kontor imports ({})",
                known.join(", ")
            );
        };
        only.push(entity);
    }
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>24} {pos} rows {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let progress_bar = bar.clone();
    let progress: kontor_import::ProgressFn = Arc::new(move |data_set: &str, rows: u64| {
        progress_bar.set_message(data_set.to_owned());
        progress_bar.set_position(rows);
    });
    let options = kontor_import::ImportOptions {
        batch_size: request.batch_size,
        skip_invalid: request.skip_invalid,
        strict: request.strict,
        rejects_dir: request.rejects_dir,
        progress: Some(progress),
        dry_run: request.dry_run,
        only,
        ..kontor_import::ImportOptions::default()
    };
    let importer = kontor_import::Importer::new(database, options);
    let summary = match file {
        Some(file) => kontor_import::ImportSummary {
            data_sets: vec![importer.run_file(target, file).await?],
            ..kontor_import::ImportSummary::default()
        },
        None => {
            let recipe = std::path::Path::new(target);
            if !recipe.is_file() {
                bail!("{target} is neither a recipe file nor a data entity followed by a CSV file");
            }
            importer.run_recipe(recipe).await?
        }
    };
    bar.finish_and_clear();
    println!(
        "{:<30} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
        "data set", "rows", "inserted", "updated", "unchanged", "rejected", "warnings", "rows/s"
    );
    for data_set in &summary.data_sets {
        println!(
            "{:<30} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9.0}",
            data_set.data_set,
            data_set.rows_read,
            data_set.inserted,
            data_set.updated,
            data_set.unchanged,
            data_set.rejected,
            data_set.warnings.len(),
            data_set.rows_per_second()
        );
        for warning in data_set.warnings.iter().take(20) {
            println!("  warning: {warning}");
        }
        if let Some(rejects) = &data_set.rejects_file {
            println!("  rejected rows: {}", rejects.display());
        }
    }
    for skipped in &summary.skipped {
        println!("skipped (not supported yet): {skipped}");
    }
    for left_out in &summary.not_selected {
        println!("not run (not in --only): {left_out}");
    }
    if request.dry_run {
        println!("dry run: every change was rolled back, nothing was written");
    }
    Ok(())
}

/// `kontor generate-catalog`: a deterministic synthetic catalog in the import format.
pub fn generate_catalog(
    products: usize,
    seed: u64,
    stores: Vec<String>,
    locales: Vec<String>,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let mut spec = kontor_import::generate::CatalogSpec {
        seed,
        ..kontor_import::generate::CatalogSpec::new(products)
    };
    if !stores.is_empty() {
        spec.stores = stores;
    }
    if !locales.is_empty() {
        spec.locales = locales;
    }
    let started = std::time::Instant::now();
    let generated = kontor_import::generate::generate(&spec, out)
        .with_context(|| format!("generate a catalog into {}", out.display()))?;
    println!(
        "generated {} products in {:.1} s; import with: kontor import {}",
        products,
        started.elapsed().as_secs_f64(),
        generated.recipe.display()
    );
    Ok(())
}

/// `kontor demo`: generate a catalog (once), migrate, import it, make sure an admin exists, then serve.
/// A second run reuses the catalog, the database and the credentials.
pub async fn demo(settings: &Settings, products: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("create the data directory {}", settings.data_dir.display()))?;
    let catalog = settings.data_dir.join("demo-catalog");
    let recipe = catalog.join("full_EU.yml");
    // A catalog generated by an older Kontor lacks later data sets (shipment and payment methods):
    // generate again, which is deterministic, and the re-import adds only what is new.
    if !recipe.is_file() || !catalog.join("common/common/shipment.csv").is_file() {
        println!(
            "generating a demo catalog of {products} products into {}",
            catalog.display()
        );
        generate_catalog(products, 42, Vec::new(), Vec::new(), &catalog)?;
    }
    let database = connect(settings).await?;
    database.migrate().await.context("apply migrations")?;
    import(
        database.clone(),
        recipe.to_str().context("the data directory path is not UTF-8")?,
        None,
        ImportRequest {
            skip_invalid: false,
            strict: false,
            batch_size: 1000,
            rejects_dir: None,
            dry_run: false,
            only: Vec::new(),
        },
    )
    .await?;
    let credentials = settings.data_dir.join("demo-credentials");
    if !credentials.is_file() {
        let users = UserService::new(Arc::new(database.clone()));
        let password = generated_password();
        let user = match users.create_user("admin@example.com", &password).await {
            Ok(user) => user,
            Err(DomainError::Conflict { .. }) => {
                bail!(
                    "admin@example.com exists but {} is missing; create another user with `kontor user create`",
                    credentials.display()
                )
            }
            Err(error) => return Err(describe(error)),
        };
        let acl = AclService::new(Arc::new(database.clone()));
        let administrator = role_ids(&acl, &[ADMINISTRATOR]).await?;
        acl.set_user_roles(user.id, &administrator).await.map_err(describe)?;
        let token = users.issue_api_token(user.id, "demo").await.map_err(describe)?;
        let text = format!(
            "email: admin@example.com\npassword: {password}\napi token: {}\n",
            token.secret
        );
        write_private(&credentials, &text)?;
    }
    println!(
        "\nKontor demo: shop on http://{shop}/ (JSON:API on /api, browse /api/docs), Back Office on http://{backend}/backoffice \
         and admin API on http://{backend}/admin (sign-in and API token in {})",
        credentials.display(),
        shop = settings.storefront.listen,
        backend = settings.backend.listen,
    );
    println!("the worker publishes the imported catalog to the KV store and search index in the background\n");
    serve(settings).await
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// `kontor carts purge-guests` and the `carts-purge-guests` job: deletes guest carts untouched for
/// `lifetime_days` and the expired idempotency keys of cart writes, a bounded batch per transaction;
/// answers with a one-line summary.
pub async fn purge_guest_carts(
    database: &SqlDatabase,
    lifetime_days: u32,
) -> Result<String, kontor_domain::gateway::GatewayError> {
    use kontor_domain::cart::{CartService, GUEST_CART_PURGE_BATCH, IDEMPOTENCY_KEY_PURGE_BATCH};
    let shared = Arc::new(database.clone());
    let carts = CartService::new(shared.clone(), shared);
    let lifetime = std::time::Duration::from_secs(u64::from(lifetime_days) * 24 * 60 * 60);
    let purged = carts.purge_stale_guest_carts(lifetime, GUEST_CART_PURGE_BATCH).await?;
    let expired_keys = carts
        .purge_expired_idempotency_keys(IDEMPOTENCY_KEY_PURGE_BATCH)
        .await?;
    Ok(format!(
        "{purged} guest cart(s) untouched for {lifetime_days} day(s) deleted; \
         {expired_keys} expired idempotency key(s) deleted"
    ))
}

/// The window of `kontor catalog refresh-popularity` and its daily job.
pub const POPULARITY_WINDOW_DAYS: u32 = 30;

/// `kontor catalog refresh-popularity` and the `catalog-refresh-popularity` job: recounts the units
/// ordered per product in the last `days` days; answers with a one-line summary.
pub async fn refresh_popularity(database: &SqlDatabase, days: u32) -> anyhow::Result<String> {
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let refresh = database
        .refresh_popularity(since.timestamp_micros())
        .await
        .context("recount the units sold per product")?;
    Ok(format!(
        "{} product(s) ordered in the last {days} day(s); {} changed and re-published",
        refresh.products, refresh.changed
    ))
}

/// `kontor oms …`.
pub async fn oms(settings: &Settings, command: crate::OmsCommand) -> anyhow::Result<()> {
    use crate::OmsCommand;
    let files_only = matches!(&command, OmsCommand::Validate { .. } | OmsCommand::Draw { .. });
    // Validating and drawing need the registry's keys, not a database.
    let database = if files_only {
        SqlDatabase::connect("sqlite::memory:", 1)
            .await
            .context("open an in-memory database")?
    } else {
        connect_current(settings).await?
    };
    let mailer =
        kontor_mail::from_settings(&settings.mail, &settings.data_dir).context("set up outgoing mail (mail.*)")?;
    let registry = crate::oms::registry(&database, Arc::clone(&mailer));
    match command {
        OmsCommand::Validate { files, structure_only } => {
            crate::oms::validate(settings, &registry, &files, structure_only)
        }
        OmsCommand::Draw {
            process,
            format,
            state,
            out,
        } => {
            let drawing = crate::oms::draw(settings, &registry, &process, &format, state.as_deref())?;
            match out {
                Some(path) => std::fs::write(&path, drawing).with_context(|| format!("write {}", path.display())),
                None => {
                    println!("{drawing}");
                    Ok(())
                }
            }
        }
        OmsCommand::CheckTimeouts { limit } => {
            let oms = crate::oms::Oms::open(settings, &database, mailer)?;
            let fired = oms.engine.fire_due_timeouts(limit).await?;
            println!("{fired} timeout event(s) fired");
            Ok(())
        }
        OmsCommand::CheckConditions { limit } => {
            let oms = crate::oms::Oms::open(settings, &database, mailer)?;
            let checked = oms.engine.check_conditions(limit).await?;
            println!("{checked} order(s) checked");
            Ok(())
        }
        OmsCommand::ClearLocks => {
            use kontor_domain::oms::OmsRepository;
            let purged = database.purge_locks(chrono::Utc::now()).await?;
            println!("{purged} expired lock(s) deleted");
            Ok(())
        }
        OmsCommand::PurgeLog { older_than_days } => {
            let days = older_than_days.unwrap_or(settings.oms.transition_log_retention_days);
            println!("{}", crate::oms::purge_log(&database, days).await?);
            Ok(())
        }
        OmsCommand::Event { order, event, items } => {
            use kontor_domain::checkout::OrderRepository;
            let oms = crate::oms::Oms::open(settings, &database, mailer)?;
            let Some(found) = database.find_order(&order).await? else {
                bail!("order {order} not found");
            };
            let scope = (!items.is_empty()).then_some(items.as_slice());
            let outcome = oms.engine.trigger_event(found.id, scope, &event, "cli").await?;
            for (item, reason) in &outcome.skipped {
                println!("item {item}: {reason}");
            }
            println!("{} item move(s)", outcome.moved.len());
            Ok(())
        }
    }
}
