//! The HTML surfaces' wiring from config: the theme (`theme.*`), sessions in the KV store and CSRF keys
//! (`session.*`), login throttles, and the live-announcement hooks of the OMS and the gateway.

use anyhow::Context;
use kontor_config::Settings;
use kontor_kv::KvStore;
use kontor_notify::Notifier;
use kontor_web::html::{CsrfProtection, LoginThrottle, SessionStore, Theme, ThemeDirs};
use std::sync::Arc;
use std::time::Duration;

/// The theme named by `theme.*`, every template compiled once, so a broken override stops the start.
pub fn theme(settings: &Settings) -> anyhow::Result<Theme> {
    let override_dir = Some(settings.theme.dir.as_path()).filter(|dir| !dir.as_os_str().is_empty());
    let dirs = ThemeDirs::resolve(&settings.theme.default_dir, override_dir).context("open the theme (theme.*)")?;
    let theme = Theme::new(dirs, settings.theme.reload);
    let templates = theme.check().context("compile the theme's templates")?;
    tracing::debug!(templates, "theme loaded");
    Ok(theme)
}

/// The forms' CSRF key: `session.secret`, or one generated once in `<data_dir>/session-secret`.
pub fn csrf(settings: &Settings) -> anyhow::Result<CsrfProtection> {
    let secret = crate::commands::configured_or_generated_secret(
        settings,
        &settings.session.secret,
        "session-secret",
        "session.secret",
    )?;
    Ok(CsrfProtection::new(secret.as_bytes(), settings.session.secure_cookies))
}

/// Sessions of one surface (`storefront` or `backoffice`) in `kv`.
pub fn sessions(settings: &Settings, kv: Arc<dyn KvStore>, scope: &'static str) -> SessionStore {
    SessionStore::new(
        kv,
        scope,
        Duration::from_secs(settings.session.idle_minutes * 60),
        settings.session.secure_cookies,
    )
}

pub fn throttle(settings: &Settings) -> LoginThrottle {
    LoginThrottle::new(
        settings.session.max_login_failures,
        Duration::from_secs(settings.session.login_window_minutes * 60),
    )
}

/// The shop's HTML kit over the storefront's KV store.
pub fn storefront_kit(
    settings: &Settings,
    kv: Arc<dyn KvStore>,
    notifier: Arc<dyn Notifier>,
) -> anyhow::Result<kontor_storefront::html::HtmlKit> {
    Ok(kontor_storefront::html::HtmlKit {
        theme: theme(settings)?,
        sessions: sessions(settings, kv, "storefront"),
        csrf: csrf(settings)?,
        throttle: throttle(settings),
        notifier: Some(notifier),
    })
}

/// The Back Office UI kit; its sessions live in `kv`.
pub fn backoffice_kit(
    settings: &Settings,
    kv: Arc<dyn KvStore>,
    notifier: Arc<dyn Notifier>,
) -> anyhow::Result<kontor_backoffice::ui::UiKit> {
    Ok(kontor_backoffice::ui::UiKit {
        theme: theme(settings)?,
        sessions: sessions(settings, kv, "backoffice"),
        csrf: csrf(settings)?,
        throttle: throttle(settings),
        notifier: Some(notifier),
    })
}

/// Where the standalone backend keeps Back Office sessions: the configured Redis, or — when the KV store
/// is the embedded redb file, which belongs to the worker — process memory (sessions end on restart).
pub async fn backend_session_kv(settings: &Settings) -> anyhow::Result<Arc<dyn KvStore>> {
    if settings.kv.url.starts_with("redis://") || settings.kv.url.starts_with("valkey://") {
        return crate::pipeline::open_kv(settings).await;
    }
    tracing::info!("Back Office sessions are kept in memory: the embedded KV file belongs to the worker");
    Ok(Arc::new(kontor_kv::MemoryKv::new(kontor_kv::KvOptions::default())))
}
