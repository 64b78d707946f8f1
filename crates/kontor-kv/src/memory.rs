//! `memory://`: a `BTreeMap` behind a lock, for unit tests of crates that need a `KvStore`.
//!
//! It follows the same rules as the real backends (validation, set-if-newer, tombstones with expiry,
//! sorted scans), so a test written against it means the same on redb and Redis. Nothing is
//! persisted; every [`MemoryKv`] is its own empty store. Critical sections never await, so a
//! standard `RwLock` is enough; a poisoned lock is recovered because every op leaves the map
//! consistent on its own.

use crate::document;
use crate::key::{self, physical_prefix};
use crate::record::{Record, admits, now_millis};
use crate::{ApplyReport, KvError, KvOp, KvOptions, KvStore};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An in-memory [`KvStore`]; see the module docs.
#[derive(Debug)]
pub struct MemoryKv {
    prefix: String,
    tombstone_ttl_millis: i64,
    entries: RwLock<BTreeMap<String, Record<Value>>>,
}

impl MemoryKv {
    pub fn new(options: KvOptions) -> Self {
        Self {
            prefix: physical_prefix(&options.namespace),
            tombstone_ttl_millis: i64::try_from(options.tombstone_ttl.as_millis()).unwrap_or(i64::MAX),
            entries: RwLock::new(BTreeMap::new()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Record<Value>>> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Record<Value>>> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn physical(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl KvStore for MemoryKv {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        key::validate(key)?;
        let entries = self.read();
        Ok(entries
            .get(&self.physical(key))
            .and_then(Record::live_document)
            .cloned())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>, KvError> {
        for key in keys {
            key::validate(key)?;
        }
        let entries = self.read();
        Ok(keys
            .iter()
            .map(|key| {
                entries
                    .get(&self.physical(key))
                    .and_then(Record::live_document)
                    .cloned()
            })
            .collect())
    }

    async fn apply(&self, ops: &[KvOp]) -> Result<ApplyReport, KvError> {
        for op in ops {
            key::validate(op.key())?;
            if let KvOp::Write {
                key,
                value,
                timestamp_micros,
            } = op
            {
                document::check_document(key, value, *timestamp_micros)?;
            }
        }
        let now = now_millis();
        let mut report = ApplyReport::default();
        let mut entries = self.write();
        for op in ops {
            let physical = self.physical(op.key());
            let stored_timestamp = entries.get(&physical).and_then(|record| record.guard_timestamp(now));
            if !admits(stored_timestamp, op.timestamp_micros()) {
                report.skipped_stale += 1;
                continue;
            }
            let record = match op {
                KvOp::Write {
                    value,
                    timestamp_micros,
                    ..
                } => Record::Document {
                    timestamp_micros: *timestamp_micros,
                    document: value.clone(),
                },
                KvOp::Delete { timestamp_micros, .. } => Record::Tombstone {
                    timestamp_micros: *timestamp_micros,
                    expires_at_millis: now.saturating_add(self.tombstone_ttl_millis),
                },
            };
            entries.insert(physical, record);
            report.applied += 1;
        }
        Ok(report)
    }

    async fn scan_prefix(
        &self,
        prefix: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, KvError> {
        key::validate_prefix(prefix)?;
        let physical_prefix = self.physical(prefix);
        let start = match after_key.map(|after| self.physical(after)) {
            Some(after) if after >= physical_prefix => Bound::Excluded(after),
            _ => Bound::Included(physical_prefix.clone()),
        };
        let entries = self.read();
        let page = entries
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(|(physical, _)| physical.starts_with(&physical_prefix))
            .filter_map(|(physical, record)| {
                let document = record.live_document()?;
                Some((physical[self.prefix.len()..].to_owned(), document.clone()))
            })
            .take(limit)
            .collect();
        Ok(page)
    }

    async fn clear(&self) -> Result<u64, KvError> {
        let mut entries = self.write();
        let before = entries.len();
        entries.retain(|physical, _| !physical.starts_with(&self.prefix));
        Ok(u64::try_from(before - entries.len()).unwrap_or(u64::MAX))
    }

    async fn purge_expired_tombstones(&self) -> Result<u64, KvError> {
        let now = now_millis();
        let mut entries = self.write();
        let before = entries.len();
        entries.retain(|_, record| !record.is_expired_tombstone(now));
        Ok(u64::try_from(before - entries.len()).unwrap_or(u64::MAX))
    }
}
