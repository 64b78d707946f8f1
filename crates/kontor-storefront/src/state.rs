//! What every storefront handler shares: the read ports (KV, search), the backend gateway for writes,
//! the access-token keys, a short-lived cache of the store documents every request resolves against, and
//! the response cache of rendered product answers.

use crate::response_cache::{ResponseCache, ResponseCacheOptions};
use kontor_domain::gateway::BackendGateway;
use kontor_kv::KvStore;
use kontor_readmodel::storage::StoreStorage;
use kontor_search::SearchIndex;
use kontor_web::access_token::AccessTokenKeys;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Storefront settings that are not ports.
#[derive(Debug, Clone, Default)]
pub struct StorefrontOptions {
    /// The store used when a request names none; `None`: the first store in the KV store by name.
    pub default_store: Option<String>,
    /// Absolute base of links (`https://shop.example`); `None`: built from the request's `Host`.
    pub public_url: Option<String>,
    /// Origins allowed cross-site (CORS); `*` allows any; empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// This node's search replica (split deployment); `/ready` waits for it to catch up and reports it.
    pub search_replica: Option<Arc<kontor_search::ReplicaStatus>>,
    /// How long the store list is reused; `None`: [`STORE_CACHE_TTL`]. Longer when `kv.changed`
    /// notifications invalidate it (see [`crate::invalidation`]).
    pub store_cache_ttl: Option<Duration>,
    /// The HTML shop's theme, sessions and CSRF key; `None`: JSON:API only.
    pub html: Option<Arc<crate::html::HtmlKit>>,
    /// Keep rendered product answers ([`crate::response_cache`]); `None`: every request builds its
    /// answer. Only for a node that hears every KV change as a `kv.changed` notification with its keys
    /// ([`crate::invalidation::follow_kv_changes`]).
    pub response_cache: Option<ResponseCacheOptions>,
}

/// The router state: cheap to clone.
#[derive(Clone)]
pub struct StorefrontState(Arc<Inner>);

pub struct Inner {
    pub kv: Arc<dyn KvStore>,
    pub search: Arc<dyn SearchIndex>,
    pub gateway: Arc<dyn BackendGateway>,
    pub tokens: AccessTokenKeys,
    pub options: StorefrontOptions,
    pub response_cache: Option<ResponseCache>,
    stores: RwLock<Option<CachedStores>>,
    /// Counts invalidations, so that a reload that overlapped one does not store what it read as fresh.
    store_invalidations: std::sync::atomic::AtomicU64,
    /// Held by the one request that reloads the store list; the others keep using the stale list
    /// (or wait for it, when there is none yet), so an expiry never starts a scan per request.
    reloading: tokio::sync::Mutex<()>,
}

struct CachedStores {
    valid_until: Instant,
    stores: Arc<Vec<StoreStorage>>,
}

/// How long the store list is reused before it is read from KV again; store changes are rare and a
/// request must not pay a prefix scan (on Redis that scan walks the whole keyspace).
pub const STORE_CACHE_TTL: Duration = Duration::from_secs(5);
/// How long "no store yet" is believed: a shop being set up should appear within a second.
const EMPTY_STORE_LIST_TTL: Duration = Duration::from_secs(1);

impl StorefrontState {
    pub fn new(
        kv: Arc<dyn KvStore>,
        search: Arc<dyn SearchIndex>,
        gateway: Arc<dyn BackendGateway>,
        tokens: AccessTokenKeys,
        options: StorefrontOptions,
    ) -> Self {
        Self(Arc::new(Inner {
            kv,
            search,
            gateway,
            tokens,
            response_cache: options.response_cache.map(ResponseCache::new),
            options,
            stores: RwLock::new(None),
            store_invalidations: std::sync::atomic::AtomicU64::new(0),
            reloading: tokio::sync::Mutex::new(()),
        }))
    }

    /// Every store document in the KV store, sorted by name; cached for a few seconds. When the cache
    /// expires, one request reloads it while the others answer with the previous list.
    pub async fn stores(&self) -> Result<Arc<Vec<StoreStorage>>, kontor_kv::KvError> {
        let cached = self.cached_stores();
        if let Some((stores, fresh)) = &cached
            && *fresh
        {
            return Ok(stores.clone());
        }
        let _reload = match (&cached, self.0.reloading.try_lock()) {
            (_, Ok(guard)) => guard,
            // Someone else is reloading: the stale list is good enough for this request.
            (Some((stale, _)), Err(_)) => return Ok(stale.clone()),
            // Nothing to fall back on: wait for the reload in progress, then use its result.
            (None, Err(_)) => {
                let guard = self.0.reloading.lock().await;
                if let Some((stores, _)) = self.cached_stores() {
                    return Ok(stores);
                }
                guard
            }
        };
        let invalidations = self.0.store_invalidations.load(Ordering::Acquire);
        let stores = Arc::new(self.load_stores().await?);
        // What was read before an invalidation that came in meanwhile is served, but not kept; nor is an
        // empty list (nothing published yet) kept for long.
        let lifetime = if self.0.store_invalidations.load(Ordering::Acquire) != invalidations {
            Duration::ZERO
        } else if stores.is_empty() {
            EMPTY_STORE_LIST_TTL
        } else {
            self.0.options.store_cache_ttl.unwrap_or(STORE_CACHE_TTL)
        };
        if let Ok(mut guard) = self.0.stores.write() {
            *guard = Some(CachedStores {
                valid_until: Instant::now() + lifetime,
                stores: stores.clone(),
            });
        }
        Ok(stores)
    }

    /// The cached store list while it is fresh; never reads KV.
    pub(crate) fn fresh_stores(&self) -> Option<Arc<Vec<StoreStorage>>> {
        self.cached_stores().and_then(|(stores, fresh)| fresh.then_some(stores))
    }

    /// The cached list and whether it is still fresh.
    fn cached_stores(&self) -> Option<(Arc<Vec<StoreStorage>>, bool)> {
        let guard = self.0.stores.read().ok()?;
        let cached = guard.as_ref()?;
        Some((cached.stores.clone(), Instant::now() < cached.valid_until))
    }

    /// Marks the store list stale: the next request reloads it (the others meanwhile use the old list).
    pub fn invalidate_stores(&self) {
        self.0.store_invalidations.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut guard) = self.0.stores.write()
            && let Some(cached) = guard.as_mut()
        {
            cached.valid_until = Instant::now();
        }
    }

    async fn load_stores(&self) -> Result<Vec<StoreStorage>, kontor_kv::KvError> {
        let prefix = format!("{}:", kontor_readmodel::storage::projection::STORE);
        let mut stores = Vec::new();
        let mut walk = self.0.kv.walk_prefix(&prefix, 500).await?;
        loop {
            let page = walk.next_page().await?;
            if page.is_empty() {
                break;
            }
            stores.extend(
                page.into_iter()
                    .filter_map(|(_, value)| serde_json::from_value::<StoreStorage>(value).ok()),
            );
        }
        stores.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(stores)
    }
}

impl std::ops::Deref for StorefrontState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
