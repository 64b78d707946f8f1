//! Rendered catalog answers kept in memory, dropped key by key when the KV documents they were built
//! from change.
//!
//! A product answer is built from a dozen KV documents (mapping, product, prices, availability, images,
//! variants, labels); building it costs far more than sending it. Each entry remembers every KV key its
//! handler asked for, found or not, so a `kv.changed` notification naming any of them drops exactly the
//! answers that could differ now, and a document that appears later (a missing image set, a new variant)
//! drops the answers that looked for it.
//!
//! Notifications arrive after the KV write. A handler that read a document before a write and stores its
//! answer after the write's notification would keep stale data, so every insertion carries a
//! [`Ticket`] taken before the reads, and an insertion is refused when any invalidation happened since.
//! Entries also expire after a lifetime, which bounds staleness for writes nobody announces (a
//! `kontor sync` run against a shared Redis, a lost notification the subscriber could not tell about).

use axum::body::Bytes;
use axum::http::HeaderMap;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Size and lifetime of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseCacheOptions {
    /// Upper bound of the cached bodies and their bookkeeping, in bytes; the oldest entries go first.
    pub max_bytes: usize,
    /// How long an entry is served without any notification about its keys.
    pub ttl: Duration,
}

/// A rendered answer: status 200, its headers (content type, language, `ETag`, `Last-Modified`) and body.
#[derive(Debug)]
pub struct CachedResponse {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The `ETag` header's value, compared with `If-None-Match` on a hit.
    pub entity_tag: Option<String>,
}

/// Proof of when a handler started reading: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Hits, misses and what the cache holds (also counted on `/metrics` as
/// `kontor_storefront_response_cache_lookups_total{result}`, `…_refused_total` and `…_bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseCacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    /// Insertions refused because an invalidation overlapped the handler's reads.
    pub refused: u64,
}

pub struct ResponseCache {
    options: ResponseCacheOptions,
    /// Counts invalidations; written only under the `entries` write lock, read by [`Self::ticket`].
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    refused: AtomicU64,
    entries: RwLock<Entries>,
}

struct Entry {
    response: Arc<CachedResponse>,
    guard: u64,
    keys: Box<[Arc<str>]>,
    expires: Instant,
    bytes: usize,
    /// Tells this entry from a later one under the same fingerprint in the insertion queue.
    serial: u64,
}

#[derive(Default)]
struct Entries {
    by_fingerprint: HashMap<Arc<str>, Entry>,
    /// Which fingerprints read each KV key.
    by_key: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// Insertion order, for eviction; holds stale pairs for replaced or dropped entries.
    queue: VecDeque<(Arc<str>, u64)>,
    bytes: usize,
    serial: u64,
}

/// Bookkeeping charged per entry and per key on top of the body and strings, so that many tiny entries
/// cannot grow the maps past the bound unnoticed.
const ENTRY_OVERHEAD: usize = 256;
const KEY_OVERHEAD: usize = 64;

impl ResponseCache {
    pub fn new(options: ResponseCacheOptions) -> Self {
        Self {
            options,
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            entries: RwLock::new(Entries::default()),
        }
    }

    /// Taken before a handler's first KV read.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// The live entry of a fingerprint, if it was stored under the same `guard` (see [`Self::insert`]).
    pub fn get(&self, fingerprint: &str, guard: u64) -> Option<Arc<CachedResponse>> {
        let found = self.find(fingerprint, guard);
        self.count(found.is_some());
        found
    }

    /// Like [`get`](Self::get) for a lookup ahead of routing, which may concern a request no handler
    /// caches: only a hit is counted, since on a miss the handler (if any) looks up and counts again.
    pub fn get_ahead(&self, fingerprint: &str, guard: u64) -> Option<Arc<CachedResponse>> {
        let found = self.find(fingerprint, guard);
        if found.is_some() {
            self.count(true);
        }
        found
    }

    fn find(&self, fingerprint: &str, guard: u64) -> Option<Arc<CachedResponse>> {
        self.entries.read().ok().and_then(|entries| {
            entries
                .by_fingerprint
                .get(fingerprint)
                .filter(|entry| entry.guard == guard && Instant::now() < entry.expires)
                .map(|entry| Arc::clone(&entry.response))
        })
    }

    fn count(&self, hit: bool) {
        let (counter, result) = if hit {
            (&self.hits, "hit")
        } else {
            (&self.misses, "miss")
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("kontor_storefront_response_cache_lookups_total", "result" => result).increment(1);
    }

    /// Keeps an answer built from `keys`, unless an invalidation happened after `ticket` was taken or
    /// the answer alone exceeds the bound. Returns whether it was kept. `guard` is what the answer
    /// depends on besides KV documents, e.g. the search index generation it was searched in: a lookup
    /// under another guard misses.
    pub fn insert(
        &self,
        ticket: Ticket,
        fingerprint: &str,
        guard: u64,
        keys: &[String],
        response: Arc<CachedResponse>,
    ) -> bool {
        let bytes = ENTRY_OVERHEAD
            + fingerprint.len()
            + response.body.len()
            + keys.iter().map(|key| key.len() + KEY_OVERHEAD).sum::<usize>();
        if bytes > self.options.max_bytes {
            return false;
        }
        let Ok(mut entries) = self.entries.write() else {
            return false;
        };
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("kontor_storefront_response_cache_refused_total").increment(1);
            return false;
        }
        let fingerprint: Arc<str> = Arc::from(fingerprint);
        entries.remove(&fingerprint);
        while entries.bytes + bytes > self.options.max_bytes {
            let Some((oldest, serial)) = entries.queue.pop_front() else {
                break;
            };
            if entries
                .by_fingerprint
                .get(&oldest)
                .is_some_and(|entry| entry.serial == serial)
            {
                entries.remove(&oldest);
            }
        }
        let keys: Box<[Arc<str>]> = keys.iter().map(|key| Arc::from(key.as_str())).collect();
        for key in &keys {
            entries
                .by_key
                .entry(Arc::clone(key))
                .or_default()
                .insert(Arc::clone(&fingerprint));
        }
        entries.serial += 1;
        let serial = entries.serial;
        entries.queue.push_back((Arc::clone(&fingerprint), serial));
        entries.bytes += bytes;
        entries.compact_queue();
        metrics::gauge!("kontor_storefront_response_cache_bytes").set(entries.bytes as f64);
        entries.by_fingerprint.insert(
            fingerprint,
            Entry {
                response,
                guard,
                keys,
                expires: Instant::now() + self.options.ttl,
                bytes,
                serial,
            },
        );
        true
    }

    /// Drops every answer that read one of `keys`.
    pub fn invalidate_keys<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            if let Some(fingerprints) = entries.by_key.remove(key) {
                for fingerprint in fingerprints {
                    entries.remove(&fingerprint);
                }
            }
        }
        entries.compact_queue();
        metrics::gauge!("kontor_storefront_response_cache_bytes").set(entries.bytes as f64);
    }

    /// Drops every answer.
    pub fn clear(&self) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        *entries = Entries {
            serial: entries.serial,
            ..Entries::default()
        };
        metrics::gauge!("kontor_storefront_response_cache_bytes").set(0.0);
    }

    pub fn stats(&self) -> ResponseCacheStats {
        let (entries, bytes) = self
            .entries
            .read()
            .map(|entries| (entries.by_fingerprint.len(), entries.bytes))
            .unwrap_or_default();
        ResponseCacheStats {
            entries,
            bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

impl Entries {
    fn remove(&mut self, fingerprint: &Arc<str>) {
        let Some(entry) = self.by_fingerprint.remove(fingerprint) else {
            return;
        };
        self.bytes -= entry.bytes;
        for key in entry.keys.iter() {
            if let Some(fingerprints) = self.by_key.get_mut(key) {
                fingerprints.remove(fingerprint);
                if fingerprints.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
    }

    /// Drops the queue's pairs of entries that are gone once they outnumber the live ones, so that a
    /// steady stream of invalidations cannot grow the queue without bound.
    fn compact_queue(&mut self) {
        if self.queue.len() > 2 * self.by_fingerprint.len() + 1024 {
            let live = &self.by_fingerprint;
            self.queue
                .retain(|(fingerprint, serial)| live.get(fingerprint).is_some_and(|entry| entry.serial == *serial));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max_bytes: usize, ttl: Duration) -> ResponseCache {
        ResponseCache::new(ResponseCacheOptions { max_bytes, ttl })
    }

    fn answer(body: &str) -> Arc<CachedResponse> {
        Arc::new(CachedResponse {
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            entity_tag: None,
        })
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn body(cache: &ResponseCache, fingerprint: &str) -> Option<String> {
        cache
            .get(fingerprint, 0)
            .map(|response| String::from_utf8(response.body.to_vec()).expect("utf-8"))
    }

    #[test]
    fn an_invalidated_key_drops_exactly_the_answers_that_read_it() {
        let cache = cache(1 << 20, Duration::from_secs(60));
        let ticket = cache.ticket();
        assert!(cache.insert(ticket, "/a", 0, &keys(&["product:1", "label:color"]), answer("a")));
        assert!(cache.insert(ticket, "/b", 0, &keys(&["product:2", "label:color"]), answer("b")));
        assert!(cache.insert(ticket, "/c", 0, &keys(&["product:3"]), answer("c")));

        cache.invalidate_keys(["product:1"]);
        assert_eq!(body(&cache, "/a"), None);
        assert_eq!(body(&cache, "/b").as_deref(), Some("b"));

        cache.invalidate_keys(["label:color", "unrelated"]);
        assert_eq!(body(&cache, "/b"), None);
        assert_eq!(body(&cache, "/c").as_deref(), Some("c"));
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.hits, stats.misses), (1, 2, 2));
        // The key index forgets what nothing reads any more.
        assert_eq!(cache.entries.read().expect("lock").by_key.len(), 1);
    }

    #[test]
    fn an_answer_read_before_an_invalidation_is_not_kept() {
        let cache = cache(1 << 20, Duration::from_secs(60));
        let before = cache.ticket();
        cache.invalidate_keys(["product:9"]);
        assert!(!cache.insert(before, "/a", 0, &keys(&["product:1"]), answer("stale")));
        assert_eq!(body(&cache, "/a"), None);
        assert_eq!(cache.stats().refused, 1);
        assert!(cache.insert(cache.ticket(), "/a", 0, &keys(&["product:1"]), answer("fresh")));
        assert_eq!(body(&cache, "/a").as_deref(), Some("fresh"));
    }

    #[test]
    fn a_lookup_under_another_guard_misses() {
        let cache = cache(1 << 20, Duration::from_secs(60));
        assert!(cache.insert(cache.ticket(), "/search", 7, &keys(&["tree"]), answer("a")));
        assert!(cache.get("/search", 7).is_some());
        assert!(cache.get("/search", 8).is_none(), "the index moved on");
    }

    #[test]
    fn entries_expire_after_their_lifetime() {
        let cache = cache(1 << 20, Duration::from_millis(30));
        assert!(cache.insert(cache.ticket(), "/a", 0, &keys(&["product:1"]), answer("a")));
        assert_eq!(body(&cache, "/a").as_deref(), Some("a"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(body(&cache, "/a"), None);
    }

    #[test]
    fn the_oldest_entries_make_room_and_the_bound_holds() {
        let one_entry = ENTRY_OVERHEAD + 2 + 100 + 9 + KEY_OVERHEAD;
        let cache = cache(3 * one_entry, Duration::from_secs(60));
        let body_of_100 = "x".repeat(100);
        for n in 0..5 {
            let ticket = cache.ticket();
            assert!(cache.insert(
                ticket,
                &format!("/{n}"),
                0,
                &[format!("product:{n}")],
                answer(&body_of_100)
            ));
            assert!(cache.stats().bytes <= 3 * one_entry);
        }
        assert_eq!(body(&cache, "/0"), None);
        assert_eq!(body(&cache, "/1"), None);
        assert!(body(&cache, "/4").is_some() && body(&cache, "/3").is_some() && body(&cache, "/2").is_some());
        // Replacing an entry keeps one copy and its new keys only.
        assert!(cache.insert(cache.ticket(), "/4", 0, &keys(&["product:44"]), answer("new")));
        cache.invalidate_keys(["product:4"]);
        assert_eq!(body(&cache, "/4").as_deref(), Some("new"));
        assert!(!cache.insert(cache.ticket(), "/big", 0, &[], answer(&"x".repeat(4 * one_entry))));
    }

    #[test]
    fn clear_drops_everything_and_refuses_reads_from_before() {
        let cache = cache(1 << 20, Duration::from_secs(60));
        let ticket = cache.ticket();
        assert!(cache.insert(ticket, "/a", 0, &keys(&["product:1"]), answer("a")));
        cache.clear();
        assert_eq!(cache.stats().entries, 0);
        assert!(!cache.insert(ticket, "/b", 0, &keys(&["product:2"]), answer("b")));
    }

    #[test]
    fn invalidations_do_not_grow_the_queue_without_bound() {
        let cache = cache(1 << 30, Duration::from_secs(60));
        for n in 0..10_000 {
            assert!(cache.insert(
                cache.ticket(),
                &format!("/{n}"),
                0,
                &[format!("product:{n}")],
                answer("a")
            ));
            cache.invalidate_keys([format!("product:{n}").as_str()]);
        }
        let entries = cache.entries.read().expect("lock");
        assert!(entries.queue.len() <= 1024 + 1, "queue holds {}", entries.queue.len());
        assert_eq!((entries.by_fingerprint.len(), entries.bytes), (0, 0));
    }
}
