//! The commands' bodies: connect what the command needs, do it, report it.

use anyhow::{Context, bail};
use kontor_config::{Settings, redact_url_password};
use kontor_db::SqlDatabase;
use kontor_domain::DomainError;
use kontor_domain::users::UserService;
use std::io::BufRead;
use std::sync::Arc;

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

/// Runs the backend role until SIGINT/SIGTERM. With `migrate_first` (the all-in-one `serve`), pending
/// migrations are applied; otherwise a schema behind the binary is an error pointing at `kontor migrate`.
pub async fn backend(settings: &Settings, migrate_first: bool) -> anyhow::Result<()> {
    let database = connect(settings).await?;
    if migrate_first {
        database.migrate().await.context("apply migrations")?;
    } else {
        let applied = database.applied_migrations().await.unwrap_or_default();
        let known = kontor_db::migration::migration_names();
        if known.iter().any(|name| !applied.contains(name)) {
            bail!("the database schema is not current: run `kontor migrate` first");
        }
    }
    let state = kontor_backoffice::AdminState::new(Arc::new(database));
    let router = kontor_backoffice::router(state);
    let listener = tokio::net::TcpListener::bind(settings.backend.listen)
        .await
        .with_context(|| format!("listen on {} (backend.listen)", settings.backend.listen))?;
    let address = listener.local_addr().context("read the bound address")?;
    tracing::info!(%address, "backend listening");
    println!("backend listening on http://{address}");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serve HTTP")?;
    tracing::info!("backend stopped");
    Ok(())
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

pub async fn create_user(
    settings: &Settings,
    email: &str,
    password: Option<String>,
    token_name: Option<&str>,
) -> anyhow::Result<()> {
    let database = connect(settings).await?;
    let users = UserService::new(Arc::new(database));
    let generated = password.is_none();
    let password = password.unwrap_or_else(generated_password);
    let user = users.create_user(email, &password).await.map_err(describe)?;
    println!("created user {} <{}>", user.id, user.email);
    if generated {
        println!("password (shown once): {password}");
    }
    if let Some(name) = token_name {
        let token = users.issue_api_token(user.id, name).await.map_err(describe)?;
        println!("api token (shown once): {}", token.secret);
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
