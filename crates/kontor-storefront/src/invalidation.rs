//! Cache invalidation across storefront nodes: sync writers publish `kv.changed` notifications (Redis
//! pub/sub when split, an in-process broadcast in `serve`) naming the resources whose KV documents they
//! wrote and, up to [`KV_CHANGED_MAX_KEY_BYTES`](kontor_readmodel::KV_CHANGED_MAX_KEY_BYTES), the
//! keys; every node drops its caches of those at once instead of waiting for them to expire. A lost or
//! missed notification drops every cache, so a node never serves stale data for longer than a cache's
//! own lifetime.

use crate::StorefrontState;
use kontor_notify::{Notifier, Received};
use kontor_readmodel::{KV_CHANGED_CHANNEL, KvChanged};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the store list is kept when invalidations arrive by notification.
pub const NOTIFIED_STORE_CACHE_TTL: Duration = Duration::from_secs(300);

/// Follows `kv.changed` until `shutdown`, invalidating `state`'s caches.
pub async fn follow_kv_changes(state: StorefrontState, notifier: Arc<dyn Notifier>, shutdown: CancellationToken) {
    let mut subscription = loop {
        match notifier.subscribe(&[KV_CHANGED_CHANNEL]).await {
            Ok(subscription) => break subscription,
            Err(error) => {
                tracing::warn!(%error, "cannot follow kv.changed notifications; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {},
                }
            }
        }
    };
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = subscription.recv() => received,
        };
        match received {
            Some(Received::Notification { notification, .. }) => {
                let changed: KvChanged = serde_json::from_value(notification.payload.clone()).unwrap_or_default();
                let stores_changed = changed
                    .resources
                    .iter()
                    .any(|resource| resource == kontor_readmodel::storage::projection::STORE);
                if stores_changed {
                    state.invalidate_stores();
                }
                if let Some(cache) = &state.response_cache {
                    match changed.keys.as_deref() {
                        // Every answer depends on its store's document (currencies, locales).
                        _ if stores_changed => cache.clear(),
                        Some(keys) => cache.invalidate_keys(keys.iter().map(String::as_str)),
                        // A sender that did not list its keys (too many, or an older version).
                        None => cache.clear(),
                    }
                }
            }
            Some(Received::Missed { .. } | Received::Interrupted { .. }) => {
                state.invalidate_stores();
                if let Some(cache) = &state.response_cache {
                    cache.clear();
                }
            }
            None => return,
        }
    }
}
