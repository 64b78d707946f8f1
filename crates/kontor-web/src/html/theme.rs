//! Themes: minijinja templates and static assets resolved file by file, first in the configured theme
//! directory, then in the default theme (ARCHITECTURE §5, §6). A shop overrides one template or one
//! stylesheet by putting a file of the same relative path in its theme directory; everything else
//! still comes from `themes/default/`.
//!
//! Templates are read from disk when first used and then kept compiled; with `reload` (development)
//! a changed file is picked up on the next render. Templates whose name ends in `.html` are
//! auto-escaped, so data from the catalog or a customer can never inject markup.

use crate::AppError;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{Serde, Value};
use minijinja::{Environment, ErrorKind};
use serde::Serialize;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Where a theme comes from: the default theme and, optionally, a directory overriding it.
#[derive(Debug, Clone)]
pub struct ThemeDirs {
    /// The complete default theme (`themes/default`).
    pub default_dir: PathBuf,
    /// A shop's theme: any file here wins over the default's file of the same path.
    pub override_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("the default theme directory {0} does not exist (set theme.default_dir)")]
    MissingDefault(PathBuf),
    #[error("the theme directory {0} does not exist (theme.dir)")]
    MissingOverride(PathBuf),
    #[error("template {name}: {detail}")]
    Template { name: String, detail: String },
}

impl ThemeDirs {
    /// Resolves a configured default directory: as given when it exists, else relative to the running
    /// executable's ancestors (a binary in `target/debug/` of a checkout, or installed next to `themes/`).
    pub fn resolve(default_dir: &Path, override_dir: Option<&Path>) -> Result<Self, ThemeError> {
        let default_dir = locate(default_dir).ok_or_else(|| ThemeError::MissingDefault(default_dir.to_owned()))?;
        let override_dir = match override_dir {
            Some(dir) if dir.is_dir() => Some(dir.to_owned()),
            Some(dir) => return Err(ThemeError::MissingOverride(dir.to_owned())),
            None => None,
        };
        Ok(Self {
            default_dir,
            override_dir,
        })
    }

    /// The file of `relative` path: the override's when it has one, else the default's. `None` for
    /// paths that try to leave the theme (`..`, absolute) and for files neither has.
    pub fn find(&self, relative: &str) -> Option<PathBuf> {
        let relative = safe_relative(relative)?;
        self.override_dir
            .iter()
            .chain(std::iter::once(&self.default_dir))
            .map(|dir| dir.join(&relative))
            .find(|path| path.is_file())
    }
}

fn locate(dir: &Path) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir.to_owned());
    }
    if dir.is_absolute() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .map(|base| base.join(dir))
        .find(|path| path.is_dir())
}

fn safe_relative(relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    path.components()
        .all(|component| matches!(component, Component::Normal(_)))
        .then(|| path.to_owned())
}

/// The compiled templates of one theme and the helpers every page may use. Cheap to clone.
#[derive(Clone)]
pub struct Theme {
    dirs: Arc<ThemeDirs>,
    environment: Arc<RwLock<Environment<'static>>>,
}

impl Theme {
    /// Loads the theme; with `reload` templates changed on disk are recompiled on their next use.
    pub fn new(dirs: ThemeDirs, reload: bool) -> Self {
        let mut environment = Environment::new();
        let loader_dirs = dirs.clone();
        environment.set_loader(move |name| {
            let Some(path) = loader_dirs.find(&format!("templates/{name}")) else {
                return Ok(None);
            };
            let source = std::fs::read_to_string(&path).map_err(|error| {
                minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot read {}: {error}", path.display()),
                )
            })?;
            let loaded_at = modified(&path);
            Ok(Some(
                minijinja::TemplateSource::new(source).with_uptodate_check(move || modified(&path) == loaded_at),
            ))
        });
        environment.set_auto_reload(reload);
        environment.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        environment.add_filter("money", money);
        environment.add_filter("datetime", datetime);
        environment.add_function("asset", asset_url);
        Self {
            dirs: Arc::new(dirs),
            environment: Arc::new(RwLock::new(environment)),
        }
    }

    pub fn dirs(&self) -> &ThemeDirs {
        &self.dirs
    }

    /// Renders `name` (relative to the theme's `templates/`) with `context`.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, ThemeError> {
        let environment = self.environment.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let template = environment
            .get_template(name)
            .map_err(|error| template_error(name, &error))?;
        template
            .render(Value::from(Serde(context)))
            .map_err(|error| template_error(name, &error))
    }

    /// [`render`](Self::render) as an HTML response with status `status`; a template error is a 500
    /// whose detail stays in the log.
    pub fn page(&self, status: StatusCode, name: &str, context: impl Serialize) -> Response {
        match self.render(name, context) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => AppError::internal(&error).into_response(),
        }
    }

    /// Checks that every template under the theme's `templates/` compiles, so a broken override
    /// fails at start rather than on the first customer's request.
    pub fn check(&self) -> Result<usize, ThemeError> {
        let mut names = std::collections::BTreeSet::new();
        for dir in self
            .dirs
            .override_dir
            .iter()
            .chain(std::iter::once(&self.dirs.default_dir))
        {
            collect_templates(&dir.join("templates"), "", &mut names);
        }
        let environment = self.environment.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        for name in &names {
            environment
                .get_template(name)
                .map_err(|error| template_error(name, &error))?;
        }
        Ok(names.len())
    }
}

fn collect_templates(dir: &Path, prefix: &str, names: &mut std::collections::BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            collect_templates(&path, &format!("{prefix}{name}/"), names);
        } else if name.ends_with(".html") {
            names.insert(format!("{prefix}{name}"));
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|meta| meta.modified()).ok()
}

fn template_error(name: &str, error: &minijinja::Error) -> ThemeError {
    use std::fmt::Write;
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(detail, ": {cause}");
        source = cause.source();
    }
    ThemeError::Template {
        name: name.to_owned(),
        detail,
    }
}

/// `{{ price.amount | money(price.currency) }}`: integer minor units as `12.34 EUR`-style text with
/// the currency's symbol where it has a common one.
fn money(amount: Value, currency: Option<String>) -> String {
    let minor = amount.as_i64().unwrap_or_default();
    format_money(minor, currency.as_deref().unwrap_or(""))
}

/// Integer minor units (two decimals) as text with the currency's symbol: `€12.34`, `CHF 1,234.50`.
pub fn format_money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let units = (minor / 100).to_string();
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (index, digit) in units.chars().enumerate() {
        if index > 0 && (units.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let amount = format!("{grouped}.{:02}", minor % 100);
    match currency.to_ascii_uppercase().as_str() {
        "EUR" => format!("{sign}€{amount}"),
        "USD" => format!("{sign}${amount}"),
        "GBP" => format!("{sign}£{amount}"),
        "" => format!("{sign}{amount}"),
        other => format!("{sign}{other} {amount}"),
    }
}

/// `{{ order.created_at | datetime }}`: an RFC 3339 time or Unix microseconds as `2026-11-26 14:05 UTC`.
fn datetime(value: Value) -> String {
    let time = if let Some(micros) = value.as_i64() {
        chrono::DateTime::from_timestamp_micros(micros)
    } else {
        value
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&chrono::Utc))
    };
    match time {
        Some(time) => time.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => value.to_string(),
    }
}

/// `{{ asset("storefront.css") }}`: the URL of a theme asset.
fn asset_url(path: String) -> String {
    format!("{ASSETS_PATH}/{path}")
}

/// Where [`assets_router`] serves a theme's `assets/` directory.
pub const ASSETS_PATH: &str = "/assets";

/// `GET /assets/{*path}`: the theme's static files (override first), cached for an hour.
pub fn assets_router<S: Clone + Send + Sync + 'static>(theme: Theme) -> axum::Router<S> {
    axum::Router::new()
        .route(&format!("{ASSETS_PATH}/{{*path}}"), axum::routing::get(serve_asset))
        .with_state(theme)
}

async fn serve_asset(State(theme): State<Theme>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(file) = theme.dirs.find(&format!("assets/{path}")) else {
        return AppError::not_found().into_response();
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let content_type = mime_guess::from_path(&file).first_or_octet_stream();
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(content_type.as_ref()) {
                headers.insert(CONTENT_TYPE, value);
            }
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            response
        }
        Err(_) => AppError::not_found().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme_in(dir: &Path) -> Theme {
        Theme::new(
            ThemeDirs {
                default_dir: dir.join("default"),
                override_dir: Some(dir.join("shop")),
            },
            true,
        )
    }

    fn write(path: PathBuf, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn an_override_wins_file_by_file_and_html_is_escaped() {
        let dir = std::env::temp_dir().join(format!("kontor-theme-{}", rand::random::<u64>()));
        write(
            dir.join("default/templates/base.html"),
            "<b>{% block body %}{% endblock %}</b>",
        );
        write(
            dir.join("default/templates/page.html"),
            "{% extends 'base.html' %}{% block body %}{{ name }}{% endblock %}",
        );
        write(
            dir.join("shop/templates/base.html"),
            "<i>{% block body %}{% endblock %}</i>",
        );
        let theme = theme_in(&dir);
        let html = theme
            .render("page.html", serde_json::json!({"name": "<script>"}))
            .expect("render");
        assert_eq!(html, "<i>&lt;script&gt;</i>");
        assert_eq!(theme.check().expect("check"), 2);
        assert!(matches!(
            theme.render("missing.html", ()),
            Err(ThemeError::Template { name, .. }) if name == "missing.html"
        ));
        assert_eq!(theme.dirs().find("../etc/passwd"), None);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn money_is_grouped_with_its_symbol() {
        assert_eq!(format_money(123_456, "EUR"), "€1,234.56");
        assert_eq!(format_money(-5, "CHF"), "-CHF 0.05");
        assert_eq!(format_money(100_000_000, "usd"), "$1,000,000.00");
    }
}
