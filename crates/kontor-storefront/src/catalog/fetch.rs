//! Batched KV reads for one request: handlers name the keys a step needs ([`KvReader::want`]), fetch
//! them in one `get_many` ([`KvReader::flush`]), then take the typed documents out. The reader keeps the
//! newest `_timestamp` of every document it fetched, which becomes the answer's `ETag` version.

use crate::context::RequestContext;
use crate::document::{Document, answer_cached};
use crate::response_cache::{ResponseCache, Ticket};
use crate::state::StorefrontState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    /// Every key fetched so far, found or not: what a cached answer depends on.
    requested: Vec<String>,
    newest: Option<i64>,
    /// Where [`respond`](Self::respond) keeps the answer, when the storefront caches answers.
    caching: Option<Caching<'a>>,
}

struct Caching<'a> {
    cache: &'a ResponseCache,
    ticket: Ticket,
    fingerprint: String,
    guard: u64,
}

/// Everything a cached answer depends on besides KV (and its [`cache_guard`]): store, locale, link base,
/// path and query.
pub(crate) fn cache_fingerprint(ctx: &RequestContext) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        ctx.store.name, ctx.locale, ctx.api_base, ctx.path_and_query
    )
}

/// What an answer for `ctx` depends on besides KV and its fingerprint, as the response cache's guard: the
/// searcher generation of the store × locale for a search (every index commit retires the answers
/// searched before it), nothing (0) for the other catalog reads. `None`: a search index that does not
/// tell its generation; such answers are not cached.
pub(crate) fn cache_guard(state: &StorefrontState, ctx: &RequestContext) -> Option<u64> {
    let path = ctx.path_and_query.split('?').next().unwrap_or_default();
    if path.strip_prefix("/api/") == Some(super::search::CATALOG_SEARCH) {
        let (store, locale) = super::search::scope(ctx).ok()?;
        state.search.generation(&store, &locale)
    } else {
        Some(0)
    }
}

/// A cacheable handler's start: the cached answer, or a reader that will keep the answer it builds.
pub(crate) enum Cacheable<'a> {
    Hit(Response),
    Miss(KvReader<'a>),
}

impl<'a> KvReader<'a> {
    pub fn new(kv: &'a dyn KvStore) -> Self {
        Self {
            kv,
            pending: Vec::new(),
            pending_set: HashSet::new(),
            loaded: HashMap::new(),
            requested: Vec::new(),
            newest: None,
            caching: None,
        }
    }

    /// For a handler whose answer depends only on `ctx` and what it reads from KV (not on the customer),
    /// plus, for a search, the index generation ([`cache_guard`]): the cached answer when there is one,
    /// otherwise a reader whose [`respond`](Self::respond) keeps the answer.
    pub fn cacheable(state: &'a StorefrontState, ctx: &RequestContext, headers: &HeaderMap) -> Cacheable<'a> {
        let mut reader = Self::new(state.kv.as_ref());
        if let (Some(cache), Some(guard)) = (state.response_cache.as_ref(), cache_guard(state, ctx)) {
            let fingerprint = cache_fingerprint(ctx);
            if let Some(cached) = cache.get(&fingerprint, guard) {
                return Cacheable::Hit(answer_cached(&cached, headers));
            }
            // The ticket is taken before the first read (KV or search), as the cache requires.
            reader.caching = Some(Caching {
                cache,
                ticket: cache.ticket(),
                fingerprint,
                guard,
            });
        }
        Cacheable::Miss(reader)
    }

    /// Answers 200 with `document`, versioned by the newest document read; kept in the response cache
    /// when the reader came from [`cacheable`](Self::cacheable).
    pub fn respond(&self, mut document: Document, ctx: &RequestContext, headers: &HeaderMap) -> Response {
        if let Some(version) = self.newest {
            document.observe_version(version);
        }
        self.respond_unversioned(document, ctx, headers)
    }

    /// Like [`respond`](Self::respond), without `ETag` and `Last-Modified`: for answers that depend on
    /// more than the KV documents' timestamps (a search).
    pub fn respond_unversioned(&self, document: Document, ctx: &RequestContext, headers: &HeaderMap) -> Response {
        let Some(caching) = &self.caching else {
            return document.respond(ctx, headers, StatusCode::OK);
        };
        match document.render(ctx) {
            Ok(rendered) => {
                let rendered = std::sync::Arc::new(rendered);
                caching.cache.insert(
                    caching.ticket,
                    &caching.fingerprint,
                    caching.guard,
                    &self.requested,
                    std::sync::Arc::clone(&rendered),
                );
                answer_cached(&rendered, headers)
            }
            Err(error) => error.into_response(),
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
        self.requested.extend(keys.iter().cloned());
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
