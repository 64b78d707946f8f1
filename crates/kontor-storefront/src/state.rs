//! What every storefront handler shares: the read ports (KV, search), the backend gateway for writes,
//! the access-token keys, and a short-lived cache of the store documents every request resolves against.

use kontor_domain::gateway::BackendGateway;
use kontor_kv::KvStore;
use kontor_readmodel::storage::StoreStorage;
use kontor_search::SearchIndex;
use kontor_web::access_token::AccessTokenKeys;
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
    stores: RwLock<Option<CachedStores>>,
}

struct CachedStores {
    loaded_at: Instant,
    stores: Arc<Vec<StoreStorage>>,
}

/// How long the store list is reused before it is read from KV again; store changes are rare and a
/// request must not pay a prefix scan.
const STORE_CACHE_TTL: Duration = Duration::from_secs(5);

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
            options,
            stores: RwLock::new(None),
        }))
    }

    /// Every store document in the KV store, sorted by name; cached for a few seconds.
    pub async fn stores(&self) -> Result<Arc<Vec<StoreStorage>>, kontor_kv::KvError> {
        if let Ok(guard) = self.0.stores.read()
            && let Some(cached) = guard.as_ref()
            && cached.loaded_at.elapsed() < STORE_CACHE_TTL
        {
            return Ok(cached.stores.clone());
        }
        let prefix = format!("{}:", kontor_readmodel::storage::projection::STORE);
        let mut stores = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.0.kv.scan_prefix(&prefix, after.as_deref(), 500).await?;
            let done = page.len() < 500;
            for (key, value) in page {
                after = Some(key);
                if let Ok(store) = serde_json::from_value::<StoreStorage>(value) {
                    stores.push(store);
                }
            }
            if done {
                break;
            }
        }
        stores.sort_by(|a, b| a.name.cmp(&b.name));
        let stores = Arc::new(stores);
        if let Ok(mut guard) = self.0.stores.write() {
            *guard = Some(CachedStores {
                loaded_at: Instant::now(),
                stores: stores.clone(),
            });
        }
        Ok(stores)
    }
}

impl std::ops::Deref for StorefrontState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
