//! Batched KV reads for one request: handlers name the keys a step needs ([`KvReader::want`]), fetch
//! them in one `get_many` ([`KvReader::flush`]), then take the typed documents out. The reader keeps the
//! newest `_timestamp` of every document it fetched, which becomes the answer's `ETag` version.

use kontor_kv::KvStore;
use kontor_web::{AppError, ErrorCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

pub(crate) struct KvReader<'a> {
    kv: &'a dyn KvStore,
    pending: Vec<String>,
    pending_set: HashSet<String>,
    loaded: HashMap<String, Value>,
    newest: Option<i64>,
}

impl<'a> KvReader<'a> {
    pub fn new(kv: &'a dyn KvStore) -> Self {
        Self {
            kv,
            pending: Vec::new(),
            pending_set: HashSet::new(),
            loaded: HashMap::new(),
            newest: None,
        }
    }

    /// Queues a key for the next [`flush`](Self::flush). `None` (a key that could not be built, e.g.
    /// too long) is ignored: such a document cannot exist.
    pub fn want(&mut self, key: Option<String>) {
        if let Some(key) = key
            && !self.loaded.contains_key(&key)
            && self.pending_set.insert(key.clone())
        {
            self.pending.push(key);
        }
    }

    /// Fetches every queued key in one round trip; nothing happens when none is queued.
    pub async fn flush(&mut self) -> Result<(), AppError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let keys = std::mem::take(&mut self.pending);
        self.pending_set.clear();
        let values = self.kv.get_many(&keys).await.map_err(unavailable)?;
        for (key, value) in keys.into_iter().zip(values) {
            if let Some(value) = value {
                if let Some(micros) = kontor_kv::document_timestamp_micros(&value) {
                    self.newest = Some(self.newest.map_or(micros, |known| known.max(micros)));
                }
                self.loaded.insert(key, value);
            }
        }
        Ok(())
    }

    /// Takes a fetched document out, decoded; `None` when missing or not of the expected shape (a
    /// malformed document is logged and treated as absent, so one bad key cannot fail a whole page).
    pub fn take<T: DeserializeOwned>(&mut self, key: Option<&str>) -> Option<T> {
        let value = self.loaded.remove(key?)?;
        match serde_json::from_value(value) {
            Ok(document) => Some(document),
            Err(error) => {
                tracing::warn!(key = key.unwrap_or_default(), %error, "KV document has an unexpected shape");
                None
            }
        }
    }

    /// A fetched document decoded without taking it out (for documents several resources share).
    pub fn peek<T: DeserializeOwned>(&self, key: Option<&str>) -> Option<T> {
        let value = self.loaded.get(key?)?;
        T::deserialize(value).ok()
    }

    /// The raw fetched document, left in place.
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.loaded.get(key)
    }

    /// The newest `_timestamp` (µs) of the documents fetched so far.
    pub fn newest(&self) -> Option<i64> {
        self.newest
    }
}

/// A KV outage is a 503: the catalog cannot be read, and saying so lets clients retry.
pub(crate) fn unavailable(error: kontor_kv::KvError) -> AppError {
    tracing::error!(%error, "catalog read: KV store failed");
    AppError::new(ErrorCode::Unavailable, "the catalog is temporarily unavailable")
}
