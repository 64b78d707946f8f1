//! Kontor's typed settings and where they come from.
//!
//! Layers, later ones winning: defaults compiled into the binary → `kontor.toml` (or `--config FILE`) →
//! `KONTOR_*` environment variables, with `__` separating nested keys (`KONTOR_DATABASE__URL`).
//! Loading validates every value and names the key in the error; `Settings::redacted` gives a copy safe
//! to print or log.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What stands in for a secret whenever settings are shown.
pub const REDACTED: &str = "********";

/// Why settings could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value has the wrong type or shape; `key` is spelled as in `kontor.toml`.
    #[error("invalid value for `{key}`: {reason} (from {origin})")]
    Source {
        key: String,
        reason: String,
        origin: String,
    },
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
}

/// The effective configuration of one Kontor process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Root of every embedded file (SQLite, redb, search index, files); `KONTOR_DATA_DIR`.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub kv: KvSettings,
    pub queue: QueueSettings,
    pub files: FilesSettings,
    pub backend: BackendSettings,
    pub storefront: StorefrontSettings,
    pub search: SearchSettings,
    pub notify: NotifySettings,
    pub internal: InternalSettings,
    pub auth: AuthSettings,
    pub mail: MailSettings,
    pub oms: OmsSettings,
    pub sync: SyncSettings,
    pub scheduler: SchedulerSettings,
    pub theme: ThemeSettings,
    pub session: SessionSettings,
    pub payment: PaymentSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…`, `postgres://…` or `mysql://…`; empty means `sqlite://<data_dir>/kontor.db`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvSettings {
    /// `redb://path` or `redis://…`; empty means `redb://<data_dir>/kv.redb`.
    pub url: String,
    /// Prefix inside the store (`kv:<namespace>…`), to share one Redis between shops or test runs.
    pub namespace: String,
    /// redb's page cache in MiB (1 to [`MAX_KV_CACHE_SIZE_MB`]); Redis ignores it.
    pub cache_size_mb: u32,
}

/// redb's page cache by default. Only one process opens the redb file at a time (`serve`, or a `sync`
/// without it), and that process's RSS grows by about this much: redb's own default of 1 GiB made
/// `serve` ~1–2 GiB large (BENCHMARKS.md). 256 MiB holds the whole KV of a 10 000-product shop (153 MB
/// measured), so a typical embedded storefront reads from the cache; larger catalogs miss into the OS
/// page cache (a `pread` and a copy, not a disk read), which costs CPU per miss but no correctness.
pub const DEFAULT_KV_CACHE_SIZE_MB: u32 = 256;
/// 64 GiB: anything above is a typo rather than a sizing decision.
pub const MAX_KV_CACHE_SIZE_MB: u32 = 65_536;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// `sql` (the SQL table queue) or `amqp://…`.
    pub url: String,
    /// Prepended to every queue name, to share one broker between shops or test runs.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSettings {
    /// `file://path` or `s3://bucket/prefix`; empty means `file://<data_dir>/files`.
    pub url: String,
    /// HMAC secret of private files' signed URLs (at least 32 characters, the same on every node that
    /// serves files); empty: one generated once in `<data_dir>/files-secret`. Never printed.
    pub signing_secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSettings {
    pub listen: SocketAddr,
    /// Where a split storefront reaches the backend's internal API.
    pub url: String,
    /// Guest carts untouched for this many days are deleted by `kontor carts purge-guests` and the
    /// built-in `carts-purge-guests` job; 1 to [`MAX_GUEST_CART_LIFETIME_DAYS`].
    pub guest_cart_lifetime_days: u32,
}

/// Default of `backend.guest_cart_lifetime_days`: a week, as most shops keep an anonymous basket.
pub const DEFAULT_GUEST_CART_LIFETIME_DAYS: u32 = 7;
/// Largest `backend.guest_cart_lifetime_days`.
pub const MAX_GUEST_CART_LIFETIME_DAYS: u32 = 365;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorefrontSettings {
    pub listen: SocketAddr,
    /// The store of requests that name none (`Store` header, `_store`); empty: the first store by name.
    pub default_store: String,
    /// Absolute origin for links in API documents (`https://shop.example`); empty: from the `Host` header.
    pub public_url: String,
    /// Browser origins allowed to call the API cross-site (CORS), e.g. `https://pwa.example`; `*` allows any.
    pub cors_origins: Vec<String>,
    /// This node's name among several storefronts (its search replica's queue is
    /// `sync.search.product_page.<node_id>`): `a-z`, `0-9`, `-`, `_`; empty: derived from the host name.
    pub node_id: String,
    /// Memory for rendered product answers, dropped key by key on `kv.changed`; 0 turns the cache off.
    /// Used only where every KV write is announced to this node (embedded KV, or `notify.url` on Redis).
    pub response_cache_mb: u64,
    /// How long a cached answer is served without any notification about it (bounds staleness for
    /// writes nobody announces); 1–3600.
    pub response_cache_ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// `broadcast` (in-process, the embedded default) or `redis://…` (every node hears every node).
    pub url: String,
    /// Prefix of the notification channels, so that several deployments share one Redis (end it with `:`).
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// `false` (embedded default): the worker keeps the one search index under `<data_dir>/search`.
    /// `true` (split deployment): every storefront node keeps its own replica, fed by its own queue
    /// subscribed to the search topic, and workers keep none.
    pub replicas: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalSettings {
    /// Bearer secret between storefront and backend; never printed.
    pub token: String,
}

/// Customer sign-in: the storefront verifies access tokens locally with this secret, the backend signs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC secret of customer access tokens (JWT, HS256), shared by every storefront and the backend;
    /// never printed. Empty: a random secret is created once in `<data_dir>/token-secret`.
    pub token_secret: String,
    /// Access-token lifetime in seconds (Glue's 8 h by default).
    pub access_token_lifetime: u64,
    /// Refresh-token lifetime in days.
    pub refresh_token_lifetime_days: u64,
}

/// Outgoing mail (password reset, later order confirmations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `smtp://user:password@host:587` or `smtps://…`; empty: each mail is written to `<data_dir>/mail/`.
    pub smtp_url: String,
    /// The sender address.
    pub from: String,
}

/// Payment providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// The shared secret payment services sign their callbacks with (HMAC-SHA256); at least 32
    /// characters. Empty: `POST /payments/callback` refuses every call.
    pub callback_secret: String,
}

/// The order state machines (oms.md §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmsSettings {
    /// Directories whose `*.xml` files hold main processes (subprocess files sit below them).
    /// A missing `config/oms` (the default) means Kontor's built-in processes.
    pub process_dirs: Vec<PathBuf>,
    /// Process names loaded at start; an order's items keep running the process they started with.
    pub active_processes: Vec<String>,
    /// The state every item of a new order starts in.
    pub initial_state: String,
    /// `"<provider>/<method name>"` → process, as in Spryker's `PAYMENT_METHOD_STATEMACHINE_MAPPING`.
    pub payment_processes: std::collections::BTreeMap<String, String>,
    /// The process of payment methods without a mapping; empty refuses them at checkout.
    pub default_process: String,
    /// Transition-log rows older than this many days are deleted by `kontor oms purge-log` and the
    /// built-in `oms-purge-log` job (oms.md §5); 1 to [`MAX_TRANSITION_LOG_RETENTION_DAYS`].
    pub transition_log_retention_days: u32,
}

/// How long transition-log rows are kept by default (oms.md §5: 180 days).
pub const DEFAULT_TRANSITION_LOG_RETENTION_DAYS: u32 = 180;
/// The longest retention accepted: ten years. Far beyond any audit need, and keeps the cut-off date
/// well inside the range of timestamps.
pub const MAX_TRANSITION_LOG_RETENTION_DAYS: u32 = 3650;

/// Publish & synchronize (publish-sync.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Tombstone rows of the storage tables (deleted documents) older than this many hours are purged by
    /// `kontor sync purge-tombstones` and the built-in `sync-purge-tombstones` job; 1 to
    /// [`MAX_TOMBSTONE_RETENTION_HOURS`]. A tombstone blocks late, older writes of its key, and a search
    /// replica catching up from the change feed learns deletes only from tombstones, so keep it longer
    /// than any publish delay and any replica outage.
    pub tombstone_retention_hours: u32,
}

/// A week: far beyond the seconds a publisher holds its read snapshot and the minutes of queue retries,
/// and long enough for a storefront replica that was down over a weekend to catch up from the feed.
pub const DEFAULT_TOMBSTONE_RETENTION_HOURS: u32 = 168;
/// Ten years; the cut-off date stays well inside the range of timestamps.
pub const MAX_TOMBSTONE_RETENTION_HOURS: u32 = 87_600;

/// Where `kontor scheduler` and `kontor serve` find their jobs when `scheduler.jobs_file` is not set; a
/// missing file at this path means the jobs built into the binary.
pub const DEFAULT_JOBS_FILE: &str = "config/jobs.toml";

/// The scheduler role (`config/jobs.toml`; one active scheduler at a time by a lease in the database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    /// The jobs file. At the default path a missing file means the built-in jobs; a file configured
    /// elsewhere must exist.
    pub jobs_file: PathBuf,
    /// This scheduler's name in the lease and the run history, unique per running process; empty:
    /// `<host name>-<process id>`.
    pub node_id: String,
    /// How long the lease lasts without renewal (renewed every third of it): how soon another node
    /// takes over from one that died.
    pub lease_seconds: u64,
    /// Whether `kontor serve` runs the scheduler in its process.
    pub enabled_in_serve: bool,
}

/// The HTML theme of the shop and the Back Office: templates and assets resolved file by file, first in
/// `dir`, then in `default_dir`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeSettings {
    /// The complete default theme; a relative path is looked up from the working directory, then
    /// next to the executable's ancestors.
    pub default_dir: PathBuf,
    /// A shop's own theme overriding files of the default; empty: none.
    pub dir: PathBuf,
    /// Re-read templates changed on disk (development).
    pub reload: bool,
}

/// Sessions of the HTML shop and the Back Office, kept in the KV store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// The key of the forms' CSRF tokens, at least 32 characters; empty: one generated once in
    /// `<data_dir>/session-secret`. Every node of a shop needs the same value.
    pub secret: String,
    /// A session unused this long ends. 1 to 43200.
    pub idle_minutes: u64,
    /// Send cookies with `Secure` (set it when the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Failed sign-ins per e-mail address (and per client address) before further attempts wait. 1 to 1000.
    pub max_login_failures: usize,
    /// The window those failures are counted in. 1 to 1440.
    pub login_window_minutes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `kontor=debug,sqlx=warn`.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./var"),
            database: DatabaseSettings {
                url: String::new(),
                max_connections: 10,
            },
            kv: KvSettings {
                url: String::new(),
                namespace: String::new(),
                cache_size_mb: DEFAULT_KV_CACHE_SIZE_MB,
            },
            queue: QueueSettings {
                url: "sql".to_owned(),
                prefix: String::new(),
            },
            files: FilesSettings {
                url: String::new(),
                signing_secret: String::new(),
            },
            backend: BackendSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
                url: "http://127.0.0.1:8081".to_owned(),
                guest_cart_lifetime_days: DEFAULT_GUEST_CART_LIFETIME_DAYS,
            },
            storefront: StorefrontSettings {
                listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
                default_store: String::new(),
                public_url: String::new(),
                cors_origins: Vec::new(),
                node_id: String::new(),
                response_cache_mb: 64,
                response_cache_ttl_seconds: 30,
            },
            search: SearchSettings { replicas: false },
            notify: NotifySettings {
                url: "broadcast".to_owned(),
                namespace: String::new(),
            },
            internal: InternalSettings { token: String::new() },
            auth: AuthSettings {
                token_secret: String::new(),
                access_token_lifetime: 28_800,
                refresh_token_lifetime_days: 30,
            },
            mail: MailSettings {
                smtp_url: String::new(),
                from: "Kontor Shop <shop@localhost>".to_owned(),
            },
            oms: OmsSettings {
                process_dirs: vec![PathBuf::from("config/oms")],
                active_processes: vec!["KontorDefault01".to_owned()],
                initial_state: "new".to_owned(),
                payment_processes: [
                    ("DummyPayment/Invoice".to_owned(), "KontorDefault01".to_owned()),
                    ("DummyPayment/Credit Card".to_owned(), "KontorDefault01".to_owned()),
                ]
                .into(),
                default_process: "KontorDefault01".to_owned(),
                transition_log_retention_days: DEFAULT_TRANSITION_LOG_RETENTION_DAYS,
            },
            sync: SyncSettings {
                tombstone_retention_hours: DEFAULT_TOMBSTONE_RETENTION_HOURS,
            },
            scheduler: SchedulerSettings {
                jobs_file: PathBuf::from(DEFAULT_JOBS_FILE),
                node_id: String::new(),
                lease_seconds: 30,
                enabled_in_serve: true,
            },
            payment: PaymentSettings {
                callback_secret: String::new(),
            },
            theme: ThemeSettings {
                default_dir: PathBuf::from("themes/default"),
                dir: PathBuf::new(),
                reload: false,
            },
            session: SessionSettings {
                secret: String::new(),
                idle_minutes: 120,
                secure_cookies: false,
                max_login_failures: 5,
                login_window_minutes: 15,
            },
            log: LogSettings {
                filter: "info".to_owned(),
                format: LogFormat::Text,
            },
        }
    }
}

/// Top-level keys that `KONTOR_*` variables may set; other `KONTOR_` variables (such as the test
/// harness's `KONTOR_TEST_BACKENDS`) belong to other tools and are left alone.
const ENV_KEYS: &[&str] = &[
    "data_dir",
    "database",
    "kv",
    "queue",
    "files",
    "backend",
    "storefront",
    "search",
    "notify",
    "internal",
    "auth",
    "mail",
    "oms",
    "sync",
    "scheduler",
    "payment",
    "theme",
    "session",
    "log",
];

impl Settings {
    /// `storefront.node_id`, or a name derived from the host name (lower-cased, other characters as `-`).
    pub fn storefront_node_id(&self) -> String {
        if !self.storefront.node_id.is_empty() {
            return self.storefront.node_id.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .unwrap_or_default();
        let name: String = host
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' })
            .take(64)
            .collect();
        if name.is_empty() { "storefront".to_owned() } else { name }
    }

    /// `scheduler.node_id`, or `<host name>-<process id>`: unique per process, also when several
    /// schedulers run on one machine.
    pub fn scheduler_node_id(&self) -> String {
        if !self.scheduler.node_id.is_empty() {
            return self.scheduler.node_id.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .unwrap_or_default();
        let host = host.trim();
        let host = if host.is_empty() { "scheduler" } else { host };
        format!("{host}-{}", std::process::id())
    }

    /// Loads defaults → the config file → the process environment.
    ///
    /// `config_file` given explicitly must exist; without it `kontor.toml` in the working directory is
    /// read when present.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(config_file, Env::prefixed("KONTOR_"))
    }

    /// Like [`Settings::load`] but with an explicit environment, so tests need not touch the process'.
    pub fn load_with_env(config_file: Option<&Path>, vars: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let owned: Vec<(String, String)> = vars
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let figment = Self::figment(config_file)?.merge(EnvList(owned));
        Self::extract(figment)
    }

    fn load_from(config_file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let figment = Self::figment(config_file)?.merge(Self::env_layer(env));
        Self::extract(figment)
    }

    fn figment(config_file: Option<&Path>) -> Result<Figment, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) if !path.exists() => Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => Ok(figment.merge(Toml::file_exact(path))),
            None if Path::new("kontor.toml").exists() => Ok(figment.merge(Toml::file_exact("kontor.toml"))),
            None => Ok(figment),
        }
    }

    fn env_layer(env: Env) -> Env {
        // Lower-cased so that errors name keys the way config files spell them (`database.url`).
        env.map(|key| key.as_str().to_ascii_lowercase().into())
            .split("__")
            .filter(|key| {
                let top = key.as_str().split('.').next().unwrap_or_default();
                ENV_KEYS.iter().any(|known| known.eq_ignore_ascii_case(top))
            })
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let mut settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.fill_derived_defaults();
        settings.validate()?;
        Ok(settings)
    }

    /// Empty backend URLs mean "the embedded default under `data_dir`".
    fn fill_derived_defaults(&mut self) {
        let data_dir = self.data_dir.display().to_string();
        let data_dir = data_dir.trim_end_matches('/');
        if self.database.url.is_empty() {
            self.database.url = format!("sqlite://{data_dir}/kontor.db");
        }
        if self.kv.url.is_empty() {
            self.kv.url = format!("redb://{data_dir}/kv.redb");
        }
        if self.files.url.is_empty() {
            self.files.url = format!("file://{data_dir}/files");
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        let db_url = self.database.url.as_str();
        if !["sqlite:", "postgres://", "postgresql://", "mysql://", "mariadb://"]
            .iter()
            .any(|scheme| db_url.starts_with(scheme))
        {
            return invalid("database.url", "must start with sqlite:, postgres:// or mysql://");
        }
        if url::Url::parse(db_url).is_err() {
            return invalid("database.url", "is not a valid URL");
        }
        if !self.storefront.public_url.is_empty() && url::Url::parse(&self.storefront.public_url).is_err() {
            return invalid(
                "storefront.public_url",
                "must be an absolute URL such as https://shop.example",
            );
        }
        if let Some(origin) = self
            .storefront
            .cors_origins
            .iter()
            .find(|origin| origin.as_str() != "*" && url::Url::parse(origin).is_err())
        {
            return Err(ConfigError::Invalid {
                key: "storefront.cors_origins",
                reason: format!("{origin:?} is not an origin such as https://pwa.example or *"),
            });
        }
        if self.storefront.node_id.len() > 64
            || !self
                .storefront
                .node_id
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_')
        {
            return invalid(
                "storefront.node_id",
                "must be at most 64 characters of a-z, 0-9, - and _ (it names the node's search queue)",
            );
        }
        if !(1..=3600).contains(&self.storefront.response_cache_ttl_seconds) {
            return invalid(
                "storefront.response_cache_ttl_seconds",
                "must be between 1 and 3600 seconds",
            );
        }
        if self.storefront.response_cache_mb > 65_536 {
            return invalid(
                "storefront.response_cache_mb",
                "must be at most 65536 (64 GiB); 0 turns the cache off",
            );
        }
        if !(self.notify.url == "broadcast" || self.notify.url.starts_with("redis://")) {
            return invalid("notify.url", "must be broadcast or redis://host:port");
        }
        if !self.auth.token_secret.is_empty() && self.auth.token_secret.len() < 32 {
            return invalid("auth.token_secret", "must be at least 32 characters long");
        }
        if !(60..=604_800).contains(&self.auth.access_token_lifetime) {
            return invalid("auth.access_token_lifetime", "must be between 60 and 604800 seconds");
        }
        if !(1..=365).contains(&self.auth.refresh_token_lifetime_days) {
            return invalid("auth.refresh_token_lifetime_days", "must be between 1 and 365");
        }
        if !(self.mail.smtp_url.is_empty()
            || self.mail.smtp_url.starts_with("smtp://")
            || self.mail.smtp_url.starts_with("smtps://"))
        {
            return invalid("mail.smtp_url", "must be empty or start with smtp:// or smtps://");
        }
        if !self.files.signing_secret.is_empty() && self.files.signing_secret.len() < 32 {
            return invalid("files.signing_secret", "must be at least 32 characters long");
        }
        if !self.payment.callback_secret.is_empty() && self.payment.callback_secret.len() < 32 {
            return invalid("payment.callback_secret", "must be at least 32 characters long");
        }
        if self.oms.active_processes.is_empty() {
            return invalid("oms.active_processes", "must name at least one process");
        }
        if self.oms.initial_state.trim().is_empty() {
            return invalid("oms.initial_state", "must not be empty");
        }
        if !self.oms.default_process.is_empty() && !self.oms.active_processes.contains(&self.oms.default_process) {
            return invalid("oms.default_process", "must be one of oms.active_processes (or empty)");
        }
        if let Some((method, process)) = self
            .oms
            .payment_processes
            .iter()
            .find(|(_, process)| !self.oms.active_processes.contains(process))
        {
            return Err(ConfigError::Invalid {
                key: "oms.payment_processes",
                reason: format!("{method:?} maps to {process:?}, which is not in oms.active_processes"),
            });
        }
        if !(1..=MAX_TRANSITION_LOG_RETENTION_DAYS).contains(&self.oms.transition_log_retention_days) {
            return Err(ConfigError::Invalid {
                key: "oms.transition_log_retention_days",
                reason: format!("must be between 1 and {MAX_TRANSITION_LOG_RETENTION_DAYS} days"),
            });
        }
        if !(1..=MAX_GUEST_CART_LIFETIME_DAYS).contains(&self.backend.guest_cart_lifetime_days) {
            return Err(ConfigError::Invalid {
                key: "backend.guest_cart_lifetime_days",
                reason: format!("must be between 1 and {MAX_GUEST_CART_LIFETIME_DAYS} days"),
            });
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if !(self.kv.url.starts_with("redb://") || self.kv.url.starts_with("redis://")) {
            return invalid("kv.url", "must start with redb:// or redis://");
        }
        let name_like = |text: &str| text.chars().all(|ch| ch.is_ascii_alphanumeric() || "_-.:".contains(ch));
        if !name_like(&self.kv.namespace) {
            return invalid("kv.namespace", "may contain only letters, digits, _ - . :");
        }
        if !(1..=MAX_KV_CACHE_SIZE_MB).contains(&self.kv.cache_size_mb) {
            return Err(ConfigError::Invalid {
                key: "kv.cache_size_mb",
                reason: format!("must be between 1 and {MAX_KV_CACHE_SIZE_MB} MiB"),
            });
        }
        if !(1..=MAX_TOMBSTONE_RETENTION_HOURS).contains(&self.sync.tombstone_retention_hours) {
            return Err(ConfigError::Invalid {
                key: "sync.tombstone_retention_hours",
                reason: format!("must be between 1 and {MAX_TOMBSTONE_RETENTION_HOURS} hours"),
            });
        }
        if !name_like(&self.queue.prefix) || self.queue.prefix.chars().any(|ch| ch.is_ascii_uppercase() || ch == ':') {
            return invalid("queue.prefix", "may contain only lower-case letters, digits, _ - .");
        }
        if !(self.queue.url == "sql" || self.queue.url.starts_with("amqp://")) {
            return invalid("queue.url", "must be `sql` or start with amqp://");
        }
        if !(self.files.url.starts_with("file://") || self.files.url.starts_with("s3://")) {
            return invalid("files.url", "must start with file:// or s3://");
        }
        if url::Url::parse(&self.backend.url).is_err() {
            return invalid("backend.url", "is not a valid URL");
        }
        if self.scheduler.jobs_file.as_os_str().is_empty() {
            return invalid("scheduler.jobs_file", "must not be empty");
        }
        if self.scheduler.node_id.len() > 255
            || self
                .scheduler
                .node_id
                .chars()
                .any(|ch| ch.is_control() || ch.is_whitespace())
        {
            return invalid(
                "scheduler.node_id",
                "must be at most 255 characters without spaces or control characters",
            );
        }
        if !(3..=3600).contains(&self.scheduler.lease_seconds) {
            return invalid("scheduler.lease_seconds", "must be between 3 and 3600");
        }
        if self.theme.default_dir.as_os_str().is_empty() {
            return invalid("theme.default_dir", "must not be empty");
        }
        if !self.session.secret.is_empty() && self.session.secret.len() < 32 {
            return invalid("session.secret", "must be at least 32 characters long");
        }
        if !(1..=43_200).contains(&self.session.idle_minutes) {
            return invalid("session.idle_minutes", "must be between 1 and 43200");
        }
        if !(1..=1000).contains(&self.session.max_login_failures) {
            return invalid("session.max_login_failures", "must be between 1 and 1000");
        }
        if !(1..=1440).contains(&self.session.login_window_minutes) {
            return invalid("session.login_window_minutes", "must be between 1 and 1440");
        }
        Ok(())
    }

    /// A copy with every secret replaced by [`REDACTED`], safe to print or log.
    pub fn redacted(&self) -> Settings {
        let mut copy = self.clone();
        copy.database.url = redact_url_password(&copy.database.url);
        copy.kv.url = redact_url_password(&copy.kv.url);
        copy.queue.url = redact_url_password(&copy.queue.url);
        copy.files.url = redact_url_password(&copy.files.url);
        copy.notify.url = redact_url_password(&copy.notify.url);
        copy.mail.smtp_url = redact_url_password(&copy.mail.smtp_url);
        if !copy.auth.token_secret.is_empty() {
            copy.auth.token_secret = REDACTED.to_owned();
        }
        if !copy.internal.token.is_empty() {
            copy.internal.token = REDACTED.to_owned();
        }
        if !copy.files.signing_secret.is_empty() {
            copy.files.signing_secret = REDACTED.to_owned();
        }
        copy.files.url = redact_url_password(&copy.files.url);
        if !copy.payment.callback_secret.is_empty() {
            copy.payment.callback_secret = REDACTED.to_owned();
        }
        if !copy.session.secret.is_empty() {
            copy.session.secret = REDACTED.to_owned();
        }
        copy
    }

    /// The effective settings as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml_string(&self.redacted())
    }
}

fn toml_string(settings: &Settings) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    toml::to_string(settings).unwrap_or_default()
}

/// Re-words a figment error so that it names the key as config files spell it: figment's own message
/// shows environment keys upper-cased, which matches neither the file nor the variable.
fn describe_figment_error(error: figment::Error) -> ConfigError {
    let key = error.path.join(".").to_ascii_lowercase();
    let origin = match error.metadata.as_ref() {
        Some(metadata) => match &metadata.source {
            Some(figment::Source::File(path)) => path.display().to_string(),
            _ => metadata.name.to_string(),
        },
        None => "defaults".to_owned(),
    };
    let key = if key.is_empty() { "(top level)".to_owned() } else { key };
    ConfigError::Source {
        key,
        reason: error.kind.to_string(),
        origin,
    }
}

/// Replaces the password of `scheme://user:password@host` with [`REDACTED`].
/// Also hides query parameters that carry credentials (`s3://…?secret_access_key=…`).
pub fn redact_url_password(raw: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    let secret_pairs = parsed.query_pairs().any(|(name, _)| is_secret_parameter(&name));
    if parsed.password().is_none() && !secret_pairs {
        return raw.to_owned();
    }
    if parsed.password().is_some() {
        // set_password only fails for URLs that cannot have one, which we ruled out above.
        let _ = parsed.set_password(Some(REDACTED));
    }
    if secret_pairs {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_parameter(&name) {
                    REDACTED.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["secret", "password", "token"].iter().any(|word| name.contains(word))
}

/// A fixed list of `KONTOR_*` variables, for tests.
struct EnvList(Vec<(String, String)>);

impl figment::Provider for EnvList {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("test environment")
    }

    fn data(&self) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (key, value) in &self.0 {
            let Some(stripped) = key.strip_prefix("KONTOR_") else {
                continue;
            };
            let path = stripped.to_ascii_lowercase().replace("__", ".");
            let top = path.split('.').next().unwrap_or_default();
            if !ENV_KEYS.contains(&top) {
                continue;
            }
            let parsed: figment::value::Value = value.parse().unwrap_or_else(|_| value.clone().into());
            let nested = figment::util::nest(&path, parsed);
            if let Some(nested_dict) = nested.into_dict() {
                merge_dicts(&mut dict, nested_dict);
            }
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn merge_dicts(into: &mut figment::value::Dict, from: figment::value::Dict) {
    use figment::value::Value;
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Dict(_, existing)), Value::Dict(_, incoming)) => merge_dicts(existing, incoming),
            (_, incoming) => {
                into.insert(key, incoming);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_with_env(None, vars)
    }

    #[test]
    fn embedded_defaults_need_no_server() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.database.url, "sqlite://./var/kontor.db");
        assert_eq!(settings.kv.url, "redb://./var/kv.redb");
        assert_eq!(settings.queue.url, "sql");
        assert_eq!(settings.backend.listen.to_string(), "127.0.0.1:8081");
    }

    #[test]
    fn environment_overrides_with_double_underscore_nesting() {
        let settings = load(&[
            ("KONTOR_DATA_DIR", "/srv/kontor"),
            ("KONTOR_BACKEND__LISTEN", "127.0.0.1:9999"),
            ("KONTOR_TEST_BACKENDS", "sqlite"),
        ])
        .expect("loads");
        assert_eq!(settings.database.url, "sqlite:///srv/kontor/kontor.db");
        assert_eq!(settings.backend.listen.port(), 9999);
    }

    #[test]
    fn file_store_credentials_are_redacted() {
        let settings = load(&[
            (
                "KONTOR_FILES__URL",
                "s3://shop?endpoint=http://127.0.0.1:9000&access_key_id=kontor&secret_access_key=very-secret",
            ),
            ("KONTOR_FILES__SIGNING_SECRET", "a-signing-secret-of-at-least-32-chars"),
        ])
        .expect("loads");
        let shown = settings.to_redacted_toml();
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("a-signing-secret"), "{shown}");
        assert!(shown.contains("access_key_id=kontor"), "{shown}");
        let short = load(&[("KONTOR_FILES__SIGNING_SECRET", "short")]).expect_err("rejected");
        assert!(short.to_string().contains("files.signing_secret"), "{short}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load(&[("KONTOR_DATABASE__URL", "oracle://x")]).expect_err("rejected");
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = load(&[("KONTOR_BACKEND__LISTEN", "not-an-address")]).expect_err("rejected");
        assert!(err.to_string().contains("listen"), "{err}");
        let err = load(&[("KONTOR_DATABASE__MAX_CONNECTIONS", "0")]).expect_err("rejected");
        assert!(err.to_string().contains("database.max_connections"), "{err}");
    }

    #[test]
    fn config_file_layer_and_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("kontor-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("kontor.toml");
        std::fs::write(&file, "[database]\nurl = \"postgres://kontor:s3cret@db/kontor\"\n").expect("write");
        let settings = Settings::load_with_env(Some(&file), &[]).expect("loads");
        assert_eq!(settings.database.url, "postgres://kontor:s3cret@db/kontor");

        std::fs::write(&file, "[database]\nurll = \"x\"\n").expect("write");
        let err = Settings::load_with_env(Some(&file), &[]).expect_err("unknown key rejected");
        assert!(err.to_string().contains("urll"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_example_config_documents_the_defaults() {
        let dir = std::env::temp_dir().join(format!("kontor-config-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("kontor.toml");
        std::fs::write(&file, include_str!("../../../config/kontor.example.toml")).expect("write");
        let from_example = Settings::load_with_env(Some(&file), &[]).expect("the example loads");
        assert_eq!(from_example, load(&[]).expect("defaults"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn scheduler_defaults_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.scheduler.jobs_file, PathBuf::from(DEFAULT_JOBS_FILE));
        assert_eq!(settings.scheduler.lease_seconds, 30);
        assert!(settings.scheduler.enabled_in_serve);
        assert!(
            settings
                .scheduler_node_id()
                .ends_with(&format!("-{}", std::process::id()))
        );
        let named = load(&[
            ("KONTOR_SCHEDULER__NODE_ID", "cron-1"),
            ("KONTOR_SCHEDULER__ENABLED_IN_SERVE", "false"),
        ])
        .expect("loads");
        assert_eq!(named.scheduler_node_id(), "cron-1");
        assert!(!named.scheduler.enabled_in_serve);
        let err = load(&[("KONTOR_SCHEDULER__LEASE_SECONDS", "1")]).expect_err("rejected");
        assert!(err.to_string().contains("scheduler.lease_seconds"), "{err}");
        let err = load(&[("KONTOR_SCHEDULER__NODE_ID", "two words")]).expect_err("rejected");
        assert!(err.to_string().contains("scheduler.node_id"), "{err}");
        let err = load(&[("KONTOR_SCHEDULER__JOBS_FILE", "")]).expect_err("rejected");
        assert!(err.to_string().contains("scheduler.jobs_file"), "{err}");
        let err = load(&[("KONTOR_SCHEDULER__LEASE_SECONDS", "soon")]).expect_err("rejected");
        assert!(err.to_string().contains("scheduler.lease_seconds"), "{err}");
    }

    #[test]
    fn theme_and_session_defaults_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.theme.default_dir, PathBuf::from("themes/default"));
        assert_eq!(settings.session.idle_minutes, 120);
        for (key, value, named) in [
            ("KONTOR_SESSION__SECRET", "short", "session.secret"),
            ("KONTOR_SESSION__IDLE_MINUTES", "0", "session.idle_minutes"),
            ("KONTOR_SESSION__MAX_LOGIN_FAILURES", "0", "session.max_login_failures"),
            (
                "KONTOR_SESSION__LOGIN_WINDOW_MINUTES",
                "2000",
                "session.login_window_minutes",
            ),
            ("KONTOR_THEME__DEFAULT_DIR", "", "theme.default_dir"),
        ] {
            let err = load(&[(key, value)]).expect_err("rejected");
            assert!(err.to_string().contains(named), "{key}: {err}");
        }
        let secret = "s".repeat(40);
        let redacted = load(&[("KONTOR_SESSION__SECRET", &secret)]).expect("loads").redacted();
        assert_eq!(redacted.session.secret, REDACTED);
    }

    #[test]
    fn transition_log_retention_defaults_to_180_days_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.oms.transition_log_retention_days, 180);
        let shorter = load(&[("KONTOR_OMS__TRANSITION_LOG_RETENTION_DAYS", "30")]).expect("loads");
        assert_eq!(shorter.oms.transition_log_retention_days, 30);
        let longest = load(&[("KONTOR_OMS__TRANSITION_LOG_RETENTION_DAYS", "3650")]).expect("loads");
        assert_eq!(longest.oms.transition_log_retention_days, 3650);
        // Zero would purge the log of every run right after it is written.
        for value in ["0", "3651", "-1", "ninety", "1.5"] {
            let err = load(&[("KONTOR_OMS__TRANSITION_LOG_RETENTION_DAYS", value)]).expect_err("rejected");
            assert!(
                err.to_string().contains("oms.transition_log_retention_days"),
                "{value}: {err}"
            );
        }
    }

    #[test]
    fn guest_cart_lifetime_defaults_to_a_week_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.backend.guest_cart_lifetime_days, 7);
        let longer = load(&[("KONTOR_BACKEND__GUEST_CART_LIFETIME_DAYS", "30")]).expect("loads");
        assert_eq!(longer.backend.guest_cart_lifetime_days, 30);
        // Zero would delete a guest's cart while the guest is still shopping.
        for value in ["0", "366", "-1", "week"] {
            let err = load(&[("KONTOR_BACKEND__GUEST_CART_LIFETIME_DAYS", value)]).expect_err("rejected");
            assert!(
                err.to_string().contains("backend.guest_cart_lifetime_days"),
                "{value}: {err}"
            );
        }
    }

    #[test]
    fn kv_cache_size_defaults_to_256_mib_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.kv.cache_size_mb, DEFAULT_KV_CACHE_SIZE_MB);
        let small = load(&[("KONTOR_KV__CACHE_SIZE_MB", "32")]).expect("loads");
        assert_eq!(small.kv.cache_size_mb, 32);
        for value in ["0", "65537", "-1", "lots"] {
            let error = load(&[("KONTOR_KV__CACHE_SIZE_MB", value)]).expect_err("rejected");
            assert!(error.to_string().contains("kv.cache_size_mb"), "{value}: {error}");
        }
    }

    #[test]
    fn tombstone_retention_defaults_to_a_week_and_bad_values_name_the_key() {
        let settings = load(&[]).expect("defaults load");
        assert_eq!(settings.sync.tombstone_retention_hours, 168);
        let day = load(&[("KONTOR_SYNC__TOMBSTONE_RETENTION_HOURS", "24")]).expect("loads");
        assert_eq!(day.sync.tombstone_retention_hours, 24);
        for value in ["0", "87601", "-5", "a week"] {
            let error = load(&[("KONTOR_SYNC__TOMBSTONE_RETENTION_HOURS", value)]).expect_err("rejected");
            assert!(
                error.to_string().contains("sync.tombstone_retention_hours"),
                "{value}: {error}"
            );
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let settings = load(&[
            ("KONTOR_DATABASE__URL", "postgres://kontor:s3cret@db/kontor"),
            ("KONTOR_INTERNAL__TOKEN", "top-secret-token"),
        ])
        .expect("loads");
        let shown = settings.to_redacted_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("top-secret-token"), "{shown}");
        assert!(shown.contains("[database]"), "{shown}");
        assert!(shown.contains(REDACTED), "{shown}");
    }
}
