//! `redb://<path>`: the embedded default, one redb file (`var/kv.redb`) opened by one process.
//!
//! All keys live in one table `kv` as `kv:<namespace><key>` → a [`Record`] (integer timestamp, then the
//! document's JSON or a tombstone's expiry). redb calls block on disk I/O, so each call runs on
//! tokio's blocking pool and the async workers never stall.
//!
//! Set-if-newer: [`KvStore::apply`] runs the whole batch in ONE write transaction: for each op it reads
//! the stored record's timestamp, compares it with the op's (integer microseconds, exact) and writes
//! only when the op is not older. redb has a single writer at a time, so concurrent batches are
//! serialized and the guard can never race; the commit makes the batch durable all at once.
//! Expired tombstones are removed on open and by [`KvStore::purge_expired_tombstones`].

use crate::document;
use crate::error::redb_error;
use crate::key::{self, physical_prefix};
use crate::record::{Record, admits, now_millis};
use crate::{ApplyReport, KvError, KvOp, KvOptions, KvStore};
use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

/// A [`KvStore`] on a redb file; see the module docs.
pub struct RedbKv {
    database: Arc<Database>,
    prefix: String,
    tombstone_ttl_millis: i64,
    path: PathBuf,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedbKv")
            .field("path", &self.path)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// An op checked and encoded before the blocking transaction starts.
struct PreparedOp {
    physical_key: String,
    timestamp_micros: i64,
    /// The encoded document; `None` for a delete, whose tombstone expiry is set at commit time.
    document: Option<Vec<u8>>,
}

impl RedbKv {
    /// Opens (or creates) the redb file at `path`, creating its parent directories, and removes
    /// expired tombstones. Fails when another process has the file open.
    pub async fn open(path: impl AsRef<Path>, options: KvOptions) -> Result<Self, KvError> {
        let path = path.as_ref().to_path_buf();
        let prefix = physical_prefix(&options.namespace);
        let opened_path = path.clone();
        // redb's own default (1 GiB) made every process that opens the file about 1 GiB large
        // (BENCHMARKS.md); the size is a setting, `kv.cache_size_mb`.
        let cache_bytes = options.cache_bytes;
        let database = tokio::task::spawn_blocking(move || -> Result<Database, KvError> {
            if let Some(parent) = opened_path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| KvError::CreateDirectory {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            let database = redb::Builder::new()
                .set_cache_size(cache_bytes)
                .create(&opened_path)
                .map_err(redb_error)?;
            // Creating the table up front lets readers assume it exists.
            let transaction = database.begin_write().map_err(redb_error)?;
            transaction.open_table(TABLE).map_err(redb_error)?;
            transaction.commit().map_err(redb_error)?;
            Ok(database)
        })
        .await??;
        let store = Self {
            database: Arc::new(database),
            prefix,
            tombstone_ttl_millis: i64::try_from(options.tombstone_ttl.as_millis()).unwrap_or(i64::MAX),
            path,
        };
        let purged = store.purge_expired_tombstones().await?;
        tracing::debug!(path = %store.path.display(), purged, "opened redb kv store");
        Ok(store)
    }

    fn physical(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs blocking redb work on tokio's blocking pool (writes, scans, big reads).
    async fn blocking<T, F>(&self, work: F) -> Result<T, KvError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, KvError> + Send + 'static,
    {
        let database = Arc::clone(&self.database);
        tokio::task::spawn_blocking(move || work(&database)).await?
    }
}

/// Reads of up to this many keys run on the calling task. A storefront request reads a handful of
/// documents from pages that are almost always cached: microseconds of work, whereas a hop to the
/// blocking pool and back (twice per product page) cost more CPU than the reads themselves (futex
/// wake-ups and context switches dominated a profile). Larger batches still go to the blocking pool.
const INLINE_READ_KEYS: usize = 64;

/// The live document stored under `physical_key` in an open table.
fn read_document(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    physical_key: &str,
) -> Result<Option<Value>, KvError> {
    let Some(stored) = table.get(physical_key).map_err(redb_error)? else {
        return Ok(None);
    };
    let bytes = stored.value();
    match Record::decode(physical_key, bytes)?.live_document() {
        Some(document) => document::decode(physical_key, document).map(Some),
        None => Ok(None),
    }
}

#[async_trait]
impl KvStore for RedbKv {
    fn backend_name(&self) -> &'static str {
        "redb"
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        key::validate(key)?;
        let physical_key = self.physical(key);
        let transaction = self.database.begin_read().map_err(redb_error)?;
        let table = transaction.open_table(TABLE).map_err(redb_error)?;
        read_document(&table, &physical_key)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>, KvError> {
        for key in keys {
            key::validate(key)?;
        }
        let physical_keys: Vec<String> = keys.iter().map(|key| self.physical(key)).collect();
        let read = move |database: &Database| {
            // One read transaction: every document comes from the same snapshot.
            let transaction = database.begin_read().map_err(redb_error)?;
            let table = transaction.open_table(TABLE).map_err(redb_error)?;
            physical_keys
                .iter()
                .map(|physical_key| read_document(&table, physical_key))
                .collect()
        };
        if keys.len() <= INLINE_READ_KEYS {
            read(&self.database)
        } else {
            self.blocking(read).await
        }
    }

    async fn apply(&self, ops: &[KvOp]) -> Result<ApplyReport, KvError> {
        let mut prepared = Vec::with_capacity(ops.len());
        for op in ops {
            key::validate(op.key())?;
            let document = match op {
                KvOp::Write {
                    key,
                    value,
                    timestamp_micros,
                } => Some(document::encode_document(key, value, *timestamp_micros)?),
                KvOp::Delete { .. } => None,
            };
            prepared.push(PreparedOp {
                physical_key: self.physical(op.key()),
                timestamp_micros: op.timestamp_micros(),
                document,
            });
        }
        if prepared.is_empty() {
            return Ok(ApplyReport::default());
        }
        let tombstone_ttl_millis = self.tombstone_ttl_millis;
        let report = self
            .blocking(move |database| {
                let transaction = database.begin_write().map_err(redb_error)?;
                let mut report = ApplyReport::default();
                {
                    let mut table = transaction.open_table(TABLE).map_err(redb_error)?;
                    let now = now_millis();
                    for op in prepared {
                        let stored_timestamp = match table.get(op.physical_key.as_str()).map_err(redb_error)? {
                            Some(stored) => Record::decode(&op.physical_key, stored.value())?.guard_timestamp(now),
                            None => None,
                        };
                        if !admits(stored_timestamp, op.timestamp_micros) {
                            report.skipped_stale += 1;
                            continue;
                        }
                        let record = match op.document {
                            Some(document) => Record::Document {
                                timestamp_micros: op.timestamp_micros,
                                document,
                            },
                            None => Record::Tombstone {
                                timestamp_micros: op.timestamp_micros,
                                expires_at_millis: now.saturating_add(tombstone_ttl_millis),
                            },
                        };
                        table
                            .insert(op.physical_key.as_str(), record.encode().as_slice())
                            .map_err(redb_error)?;
                        report.applied += 1;
                    }
                }
                // An error above drops the transaction uncommitted: the batch applies whole or not at all.
                transaction.commit().map_err(redb_error)?;
                Ok(report)
            })
            .await?;
        tracing::debug!(
            backend = "redb",
            applied = report.applied,
            skipped_stale = report.skipped_stale,
            "kv batch applied"
        );
        Ok(report)
    }

    async fn scan_prefix(
        &self,
        prefix: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, KvError> {
        key::validate_prefix(prefix)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let physical_prefix = self.physical(prefix);
        let physical_after = after_key.map(|after| self.physical(after));
        let namespace_len = self.prefix.len();
        self.blocking(move |database| {
            let transaction = database.begin_read().map_err(redb_error)?;
            let table = transaction.open_table(TABLE).map_err(redb_error)?;
            let start = match physical_after.as_deref() {
                Some(after) if after >= physical_prefix.as_str() => Bound::Excluded(after),
                _ => Bound::Included(physical_prefix.as_str()),
            };
            let mut page = Vec::with_capacity(limit.min(1024));
            for entry in table.range::<&str>((start, Bound::Unbounded)).map_err(redb_error)? {
                let (stored_key, stored) = entry.map_err(redb_error)?;
                let physical_key = stored_key.value();
                if !physical_key.starts_with(&physical_prefix) {
                    break;
                }
                if let Some(document) = Record::decode(physical_key, stored.value())?.live_document() {
                    let value = document::decode(physical_key, document)?;
                    page.push((physical_key[namespace_len..].to_owned(), value));
                    if page.len() == limit {
                        break;
                    }
                }
            }
            Ok(page)
        })
        .await
    }

    async fn clear(&self) -> Result<u64, KvError> {
        let prefix = self.prefix.clone();
        self.blocking(move |database| {
            let transaction = database.begin_write().map_err(redb_error)?;
            let mut removed = 0_u64;
            {
                let mut table = transaction.open_table(TABLE).map_err(redb_error)?;
                table
                    .retain(|physical_key, _| {
                        let in_namespace = physical_key.starts_with(&prefix);
                        removed += u64::from(in_namespace);
                        !in_namespace
                    })
                    .map_err(redb_error)?;
            }
            transaction.commit().map_err(redb_error)?;
            Ok(removed)
        })
        .await
    }

    async fn purge_expired_tombstones(&self) -> Result<u64, KvError> {
        let prefix = self.prefix.clone();
        self.blocking(move |database| {
            let now = now_millis();
            let transaction = database.begin_write().map_err(redb_error)?;
            let mut removed = 0_u64;
            {
                let mut table = transaction.open_table(TABLE).map_err(redb_error)?;
                table
                    .retain(|physical_key, stored| {
                        // A record that does not decode is kept: purging must never lose a document.
                        let expired = physical_key.starts_with(&prefix)
                            && Record::decode(physical_key, stored)
                                .is_ok_and(|record| record.is_expired_tombstone(now));
                        removed += u64::from(expired);
                        !expired
                    })
                    .map_err(redb_error)?;
            }
            transaction.commit().map_err(redb_error)?;
            Ok(removed)
        })
        .await
    }
}
