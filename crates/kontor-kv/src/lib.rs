//! The `KvStore` port: where storefronts read their documents and sync writers put them.
//!
//! Three backends implement it, chosen once at start-up from a URL by [`open`]:
//! - `redb://<path>` — an embedded redb file, the default of `serve` and `demo` ([`RedbKv`]);
//! - `redis://host:port[/db]` (also `valkey://`) — Redis or Valkey for scaled deployments ([`RedisKv`]);
//! - `memory://` — a map in memory, for unit tests of other crates ([`MemoryKv`]).
//!
//! Invariants every backend keeps (one conformance suite in `tests/it` checks them on all three):
//! - Keys are given without the `kv:` prefix; a backend stores them under `kv:<namespace><key>`.
//!   A key has 1 to [`MAX_KEY_BYTES`] bytes.
//! - [`KvStore::apply`] is set-if-newer: an op is applied only when its timestamp is greater than or
//!   equal to the stored one (a document's or a tombstone's), so replayed and reordered sync messages
//!   never make data older, and replaying the same batch is harmless. Ops of one batch apply in order.
//! - A written value is a JSON object carrying `"_timestamp"` (Unix seconds with microseconds) equal to
//!   the op's `timestamp_micros`; it is stored as given. `"_deleted"` is reserved for tombstones.
//! - A delete leaves a tombstone `{"_timestamp": …, "_deleted": true}` for [`KvOptions::tombstone_ttl`]
//!   (24 h by default) that blocks older writes; reads and scans treat it as absent.
//! - A batch is validated as a whole before anything is written: an invalid op changes nothing.
//! - Values are never logged, and errors name keys but never carry values.

mod document;
mod error;
mod key;
mod memory;
mod record;
mod redb_store;
mod redis_store;

use async_trait::async_trait;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use document::{MAX_VALUE_BYTES, document_timestamp_micros};
pub use error::KvError;
pub use key::MAX_KEY_BYTES;
pub use memory::MemoryKv;
pub use redb_store::RedbKv;
pub use redis_store::RedisKv;

/// How long a tombstone blocks older writes unless configured otherwise (Spryker's 24 h).
pub const DEFAULT_TOMBSTONE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Settings shared by every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvOptions {
    /// Inserted between `kv:` and the key, e.g. `shop1:` gives `kv:shop1:product_abstract:de:en_us:1`.
    /// Lets several deployments (or parallel tests) share one Redis database. Empty by default.
    pub namespace: String,
    /// How long a delete's tombstone is kept; an older write arriving after that may recreate the key.
    pub tombstone_ttl: Duration,
    /// Bytes of redb's page cache (`kv.cache_size_mb`); the other backends ignore it.
    pub cache_bytes: usize,
}

/// redb's page cache unless configured otherwise; see `kv.cache_size_mb` in `kontor-config` for why 256 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

impl Default for KvOptions {
    fn default() -> Self {
        Self {
            namespace: String::new(),
            tombstone_ttl: DEFAULT_TOMBSTONE_TTL,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

impl KvOptions {
    /// Options with the given namespace and the default tombstone TTL.
    pub fn with_namespace(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            ..Self::default()
        }
    }
}

/// One change of a sync batch. Its `Debug` output leaves the value out, so an op can be logged.
#[derive(Clone, PartialEq)]
pub enum KvOp {
    /// Stores `value` (a document whose `_timestamp` equals `timestamp_micros`) unless the stored
    /// document or tombstone is newer.
    Write {
        key: String,
        value: Value,
        timestamp_micros: i64,
    },
    /// Replaces the key by a tombstone unless the stored document or tombstone is newer.
    Delete { key: String, timestamp_micros: i64 },
}

impl KvOp {
    /// A write whose timestamp is read from the document's `_timestamp`, as the sync messages carry it.
    pub fn write_document(key: impl Into<String>, value: Value) -> Result<Self, KvError> {
        let key = key.into();
        let Some(timestamp_micros) = document_timestamp_micros(&value) else {
            return Err(KvError::InvalidDocument {
                key,
                reason: "the document has no numeric `_timestamp`",
            });
        };
        Ok(Self::Write {
            key,
            value,
            timestamp_micros,
        })
    }

    /// A delete at `timestamp_micros` (Unix microseconds).
    pub fn delete(key: impl Into<String>, timestamp_micros: i64) -> Self {
        Self::Delete {
            key: key.into(),
            timestamp_micros,
        }
    }

    /// The key without the `kv:` prefix.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Write { key, .. } | KvOp::Delete { key, .. } => key,
        }
    }

    /// The op's timestamp in Unix microseconds, compared by the set-if-newer guard.
    pub fn timestamp_micros(&self) -> i64 {
        match self {
            KvOp::Write { timestamp_micros, .. } | KvOp::Delete { timestamp_micros, .. } => *timestamp_micros,
        }
    }
}

impl fmt::Debug for KvOp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            KvOp::Write { .. } => "Write",
            KvOp::Delete { .. } => "Delete",
        };
        formatter
            .debug_struct(kind)
            .field("key", &self.key())
            .field("timestamp_micros", &self.timestamp_micros())
            .finish_non_exhaustive()
    }
}

/// What [`KvStore::apply`] did with a batch: every op is counted exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Ops written (their timestamp was ≥ the stored one, or nothing was stored).
    pub applied: usize,
    /// Ops dropped because the stored document or tombstone is newer.
    pub skipped_stale: usize,
}

/// The key-value store the storefront reads and the sync writers write. Object safe: held as
/// `Arc<dyn KvStore>`.
#[async_trait]
pub trait KvStore: Send + Sync {
    /// Short backend name for logs and metrics: `memory`, `redb` or `redis`.
    fn backend_name(&self) -> &'static str;

    /// The document stored under `key`, or `None` when it is missing or deleted.
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError>;

    /// The documents of `keys` in one round trip, in the order of `keys` (`None` where missing or deleted).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>, KvError>;

    /// Applies a batch of writes and deletes with the set-if-newer guard, in one round trip (one
    /// script call on Redis, one write transaction on redb). The whole batch is validated first.
    async fn apply(&self, ops: &[KvOp]) -> Result<ApplyReport, KvError>;

    /// Up to `limit` live documents whose key starts with `prefix` and sorts after `after_key`,
    /// ordered by key. Tombstones are left out, so a page shorter than `limit` is the last one;
    /// the next page starts after the last key returned. For one page; to read a whole prefix use
    /// [`KvStore::walk_prefix`], which on Redis lists the keys once instead of once per page.
    async fn scan_prefix(
        &self,
        prefix: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, KvError>;

    /// Walks every live document whose key starts with `prefix`, in key order, in pages of at most
    /// `page_size` (at least 1); see [`PrefixWalk`]. The keyspace is read once per walk: Redis, which has
    /// no ordered index, lists and sorts the prefix's keys with one `SCAN` pass when the walk starts;
    /// ordered backends (redb, memory) continue their key range after each page's last key, which is
    /// what this default does through [`KvStore::scan_prefix`].
    async fn walk_prefix<'a>(&'a self, prefix: &str, page_size: usize) -> Result<Box<dyn PrefixWalk + 'a>, KvError> {
        key::validate_prefix(prefix)?;
        Ok(Box::new(PagedWalk {
            store: self,
            prefix: prefix.to_owned(),
            page_size: page_size.max(1),
            after: None,
            done: false,
        }))
    }

    /// Removes every key of this store's namespace, tombstones included (rebuilds and tests).
    /// Returns the number of keys removed. With an empty namespace this is every `kv:` key.
    async fn clear(&self) -> Result<u64, KvError>;

    /// Removes tombstones whose TTL has passed and returns how many. Redis expires them by itself;
    /// redb calls this on open and a scheduled job may call it on a long-running process.
    async fn purge_expired_tombstones(&self) -> Result<u64, KvError> {
        Ok(0)
    }
}

/// A walk over the live documents under a prefix, started by [`KvStore::walk_prefix`].
///
/// Pages come in key order and never repeat a key. Keys written or deleted while the walk runs may or may
/// not be seen (a key deleted meanwhile is left out), like a scan on any store that is being written.
#[async_trait]
pub trait PrefixWalk: Send {
    /// The next page of at most the walk's page size; an empty page ends the walk.
    async fn next_page(&mut self) -> Result<Vec<(String, Value)>, KvError>;
}

/// The walk of an ordered backend: each page is a [`KvStore::scan_prefix`] after the previous page's
/// last key, i.e. one range read continuing where the last one stopped.
struct PagedWalk<'a, S: ?Sized> {
    store: &'a S,
    prefix: String,
    page_size: usize,
    after: Option<String>,
    done: bool,
}

#[async_trait]
impl<S: KvStore + ?Sized> PrefixWalk for PagedWalk<'_, S> {
    async fn next_page(&mut self) -> Result<Vec<(String, Value)>, KvError> {
        if self.done {
            return Ok(Vec::new());
        }
        let page = self
            .store
            .scan_prefix(&self.prefix, self.after.as_deref(), self.page_size)
            .await?;
        // Tombstones are skipped inside a page, so only a short page proves the range is exhausted.
        self.done = page.len() < self.page_size;
        if let Some((last, _)) = page.last() {
            self.after = Some(last.clone());
        }
        Ok(page)
    }
}

/// Opens the backend named by `url`: `redb://<path>`, `redis://…` / `valkey://…` or `memory://`.
///
/// A relative redb path is relative to the working directory; its parent directories are created.
/// A Redis server that cannot be reached is an error here, later outages are reconnected.
pub async fn open(url: &str, options: KvOptions) -> Result<Arc<dyn KvStore>, KvError> {
    key::validate_namespace(&options.namespace)?;
    if options.tombstone_ttl < Duration::from_millis(1) {
        return Err(KvError::InvalidOptions("the tombstone TTL must be at least 1 ms"));
    }
    if options.cache_bytes == 0 {
        return Err(KvError::InvalidOptions("the kv cache size must be at least 1 MiB"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(KvError::InvalidUrl {
            url: error::redact_url(url),
            reason: "expected `redb://<path>`, `redis://host:port[/db]` or `memory://`",
        });
    };
    match scheme {
        "memory" if rest.is_empty() => Ok(Arc::new(MemoryKv::new(options))),
        "memory" => Err(KvError::InvalidUrl {
            url: error::redact_url(url),
            reason: "`memory://` takes no path",
        }),
        "redb" if rest.is_empty() => Err(KvError::InvalidUrl {
            url: error::redact_url(url),
            reason: "`redb://` needs a file path, e.g. `redb://var/kv.redb`",
        }),
        "redb" => Ok(Arc::new(RedbKv::open(rest, options).await?)),
        "redis" | "rediss" | "valkey" | "valkeys" => Ok(Arc::new(RedisKv::connect(url, options).await?)),
        _ => Err(KvError::InvalidUrl {
            url: error::redact_url(url),
            reason: "unknown scheme, expected `redb`, `redis`, `valkey` or `memory`",
        }),
    }
}
