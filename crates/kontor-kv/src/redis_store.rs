//! `redis://host:port[/db]` (or `valkey://`): Redis / Valkey for deployments with many storefront nodes.
//!
//! Each key is a plain string `kv:<namespace><key>` holding the document's JSON as written (with
//! `_timestamp` as its first member, see `document`), so `redis-cli GET` shows what the storefront
//! reads. Tombstones are `{"_timestamp":…,"_deleted":true}` with a `PX` TTL, so Redis expires them.
//!
//! Set-if-newer: [`KvStore::apply`] sends the whole batch as ONE `EVALSHA` of [`APPLY_SCRIPT`]
//! (loaded and retried on `NOSCRIPT`). Redis runs a script atomically, so reading the stored
//! timestamp and writing cannot interleave with another writer. The script reads the stored
//! `_timestamp` with an anchored pattern (cjson as a fallback) and compares integer microseconds:
//! the op's timestamp arrives as an integer string (exact in Lua's doubles below 2⁵³), and the
//! stored seconds are turned into microseconds with the same rounding as on the Rust side.
//!
//! The [`ConnectionManager`] reconnects by itself after an outage; a call during the outage fails.
//! A batch script touches keys of many hash slots, so Redis Cluster would need hash-tagged keys.

use crate::document;
use crate::key::{self, physical_prefix};
use crate::{ApplyReport, KvError, KvOp, KvOptions, KvStore, PrefixWalk};
use async_trait::async_trait;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Value;
use std::sync::LazyLock;
use std::time::Duration;

/// Set-if-newer for a whole batch. KEYS[i] is op i's key; ARGV[1] the tombstone TTL in ms, then per op
/// three ARGV: kind (`w` write, `d` delete), timestamp in integer microseconds, JSON to store.
/// Returns `{applied, skipped_stale}`.
const APPLY_SCRIPT_SOURCE: &str = r#"
local function stored_micros(raw)
  -- Kontor writes `_timestamp` first: one anchored match, no decoding of the whole document.
  local seconds = tonumber(string.match(raw, '^{"_timestamp":(%-?[%d%.eE%+%-]+)[,}]') or '')
  if seconds == nil then
    local ok, stored = pcall(cjson.decode, raw)
    if ok and type(stored) == 'table' and type(stored['_timestamp']) == 'number' then
      seconds = stored['_timestamp']
    else
      return nil
    end
  end
  return math.floor(seconds * 1000000 + 0.5)
end

local ttl = ARGV[1]
local applied, skipped = 0, 0
for i = 1, #KEYS do
  local at = 2 + (i - 1) * 3
  local kind, incoming, payload = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
  local stored = redis.call('GET', KEYS[i])
  local current = stored and stored_micros(stored)
  if current and incoming < current then
    skipped = skipped + 1
  else
    if kind == 'd' then
      redis.call('SET', KEYS[i], payload, 'PX', ttl)
    else
      redis.call('SET', KEYS[i], payload)
    end
    applied = applied + 1
  end
end
return {applied, skipped}
"#;

/// The batch script, hashed once per process.
static APPLY_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(APPLY_SCRIPT_SOURCE));

/// Keys asked per `SCAN` step and deleted per `UNLINK`.
const SCAN_COUNT: usize = 1000;
/// Keys per `MGET` while filling a scan page (tombstones make pages need more than `limit` keys).
const SCAN_MGET_CHUNK: usize = 500;

const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Generous: a batch of 500 documents of up to 256 KB is one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`KvStore`] on Redis or Valkey; see the module docs.
#[derive(Clone)]
pub struct RedisKv {
    connection: ConnectionManager,
    prefix: String,
    tombstone_ttl_millis: u64,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisKv")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisKv {
    /// Connects to `url`; an unreachable server is an error (after the manager's connection retries).
    pub async fn connect(url: &str, options: KvOptions) -> Result<Self, KvError> {
        let redacted = crate::error::redact_url(url);
        let client = redis::Client::open(url).map_err(|source| KvError::RedisConnect {
            url: redacted.clone(),
            source,
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|source| KvError::RedisConnect { url: redacted, source })?;
        Ok(Self {
            connection,
            prefix: physical_prefix(&options.namespace),
            tombstone_ttl_millis: u64::try_from(options.tombstone_ttl.as_millis()).unwrap_or(u64::MAX),
        })
    }

    fn physical(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// All string keys matching `pattern`, each once, sorted.
    async fn scan_keys(&self, pattern: &str) -> Result<Vec<String>, KvError> {
        let mut connection = self.connection.clone();
        let mut cursor = 0_u64;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .cursor_arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .arg("TYPE")
                .arg("string")
                .query_async(&mut connection)
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once (when the keyspace is rehashed meanwhile).
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// Raw values of `physical_keys` in one `MGET`.
    async fn mget(&self, physical_keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        if physical_keys.is_empty() {
            // MGET without keys is a syntax error in Redis.
            return Ok(Vec::new());
        }
        let mut connection = self.connection.clone();
        let values = redis::cmd("MGET")
            .arg(physical_keys)
            .query_async(&mut connection)
            .await?;
        Ok(values)
    }
}

/// A walk over a prefix on Redis: the sorted key list of one `SCAN` pass, read page by page with `MGET`.
/// Holding the key list costs memory in proportion to the prefix (about 100 bytes per key), traded for
/// not scanning the whole keyspace again for every page.
struct RedisWalk<'a> {
    store: &'a RedisKv,
    /// Physical keys, sorted and without duplicates.
    keys: Vec<String>,
    /// Index of the first key not read yet.
    next: usize,
    page_size: usize,
}

#[async_trait]
impl PrefixWalk for RedisWalk<'_> {
    async fn next_page(&mut self) -> Result<Vec<(String, Value)>, KvError> {
        let mut page = Vec::with_capacity(self.page_size.min(1024));
        // Tombstones and keys gone since the SCAN leave gaps, so a page may take several reads.
        while page.len() < self.page_size && self.next < self.keys.len() {
            let wanted = (self.page_size - page.len()).min(SCAN_MGET_CHUNK);
            let end = (self.next + wanted).min(self.keys.len());
            let chunk = &self.keys[self.next..end];
            let raws = self.store.mget(chunk).await?;
            for (physical_key, raw) in chunk.iter().zip(raws) {
                if let Some(value) = live_document(physical_key, raw)? {
                    page.push((physical_key[self.store.prefix.len()..].to_owned(), value));
                }
            }
            self.next = end;
        }
        Ok(page)
    }
}

/// The document a reader sees in a raw stored value: tombstones are absent.
fn live_document(physical_key: &str, raw: Option<Vec<u8>>) -> Result<Option<Value>, KvError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let value = document::decode(physical_key, &raw)?;
    Ok((!document::is_tombstone(&value)).then_some(value))
}

/// `text` with the glob characters of `SCAN MATCH` escaped, so keys are matched literally.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[async_trait]
impl KvStore for RedisKv {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        key::validate(key)?;
        let physical_key = self.physical(key);
        let mut connection = self.connection.clone();
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&physical_key)
            .query_async(&mut connection)
            .await?;
        live_document(&physical_key, raw)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>, KvError> {
        for key in keys {
            key::validate(key)?;
        }
        let physical_keys: Vec<String> = keys.iter().map(|key| self.physical(key)).collect();
        let raws = self.mget(&physical_keys).await?;
        physical_keys
            .iter()
            .zip(raws)
            .map(|(physical_key, raw)| live_document(physical_key, raw))
            .collect()
    }

    async fn apply(&self, ops: &[KvOp]) -> Result<ApplyReport, KvError> {
        // Validate and encode everything first: an invalid op must not leave half a batch behind.
        let mut encoded = Vec::with_capacity(ops.len());
        for op in ops {
            key::validate(op.key())?;
            let (kind, payload) = match op {
                KvOp::Write {
                    key,
                    value,
                    timestamp_micros,
                } => ("w", document::encode_document(key, value, *timestamp_micros)?),
                KvOp::Delete { timestamp_micros, .. } => {
                    ("d", document::tombstone_json(*timestamp_micros).into_bytes())
                }
            };
            encoded.push((self.physical(op.key()), kind, op.timestamp_micros(), payload));
        }
        if encoded.is_empty() {
            return Ok(ApplyReport::default());
        }
        let mut invocation = APPLY_SCRIPT.prepare_invoke();
        invocation.arg(self.tombstone_ttl_millis);
        for (physical_key, kind, timestamp_micros, payload) in &encoded {
            invocation
                .key(physical_key)
                .arg(*kind)
                .arg(*timestamp_micros)
                .arg(payload.as_slice());
        }
        let mut connection = self.connection.clone();
        let (applied, skipped_stale): (usize, usize) = invocation.invoke_async(&mut connection).await?;
        tracing::debug!(backend = "redis", applied, skipped_stale, "kv batch applied");
        Ok(ApplyReport { applied, skipped_stale })
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
        let pattern = format!("{}*", glob_escape(&self.physical(prefix)));
        // Redis has no ordered key index: a page scans the whole keyspace and sorts. Fine for one page
        // (the store list); reading a whole prefix page by page would repeat that per page, so such
        // callers use `walk_prefix`, which scans once.
        let keys = self.scan_keys(&pattern).await?;
        let start = match after_key.map(|after| self.physical(after)) {
            Some(after) => keys.partition_point(|key| *key <= after),
            None => 0,
        };
        let mut page = Vec::with_capacity(limit.min(1024));
        for chunk in keys[start..].chunks(SCAN_MGET_CHUNK) {
            let raws = self.mget(chunk).await?;
            for (physical_key, raw) in chunk.iter().zip(raws) {
                // A key deleted or expired since the SCAN comes back as nil and is left out.
                if let Some(value) = live_document(physical_key, raw)? {
                    page.push((physical_key[self.prefix.len()..].to_owned(), value));
                    if page.len() == limit {
                        return Ok(page);
                    }
                }
            }
        }
        Ok(page)
    }

    async fn walk_prefix<'a>(&'a self, prefix: &str, page_size: usize) -> Result<Box<dyn PrefixWalk + 'a>, KvError> {
        key::validate_prefix(prefix)?;
        let pattern = format!("{}*", glob_escape(&self.physical(prefix)));
        let keys = self.scan_keys(&pattern).await?;
        Ok(Box::new(RedisWalk {
            store: self,
            keys,
            next: 0,
            page_size: page_size.max(1),
        }))
    }

    async fn clear(&self) -> Result<u64, KvError> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let mut connection = self.connection.clone();
        let mut cursor = 0_u64;
        let mut removed = 0_u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .cursor_arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut connection)
                .await?;
            if !batch.is_empty() {
                // UNLINK frees large values in the background instead of blocking the server.
                let unlinked: u64 = redis::cmd("UNLINK").arg(&batch).query_async(&mut connection).await?;
                removed += unlinked;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_escape;

    #[test]
    fn escapes_glob_characters() {
        assert_eq!(glob_escape("kv:url:/de/a*b?[c]"), r"kv:url:/de/a\*b\?\[c\]");
        assert_eq!(glob_escape(r"a\b"), r"a\\b");
    }
}
