//! The second cache tier: Redis, shared by every node of a shop (`--redis URL`).
//!
//! What lives in Redis, under the configured prefix `P:`:
//! - `P:e:<gen>:<cache key>`: a cached response. Its value is one header line
//!   `<clock at load> <tag> <tag> ...` and then the bincode encoding of the response
//!   (ETag and body; the body flate2-compressed, the very gzip bytes a client is sent).
//! - `P:clock`: a clock (it only grows, and never falls below Redis's time in µs, so
//!   an evicted clock cannot restart below old stamps), and `P:t:<tag>`: the clock value
//!   of the tag's last bump (a missing stamp counts as a bump now: evicting one costs a
//!   miss, never a stale answer).
//!   A commit's post-commit hook bumps its tags (one script: count up, stamp every tag,
//!   publish) before any writer caller hears back. `P:tp:<tag>` keeps the highest commit
//!   position that bumped the tag: an entry loaded from data older than that position (a
//!   replica whose copy is behind) is refused when stored. An entry is served only if none of its
//!   tags was stamped after the clock value read before its load began — the script that
//!   reads an entry checks this in Redis, so an entry in Redis is never served stale, to
//!   any node, after the commit that changed it was acknowledged.
//! - `P:gen`: the generation, a random token in every entry key. When a node could not
//!   publish a bump (Redis down or slow), entries in Redis may be stale: before it uses
//!   Redis again it sets a new generation, which orphans every entry at once (they expire
//!   by their TTL). A Redis that restarted empty has no generation and gets a new one.
//! - `P:invalidate`: the channel on which bumps are published; every other node bumps the
//!   same tags in its L1. A node re-subscribes after Redis comes back and then drops its L1
//!   (it may have missed messages); while it cannot hear the channel, its L1 serves only
//!   entries younger than `redis_detached_max_age_secs`.
//!
//! Redis is never on the failure path of a request: each call is bounded by
//! `redis_timeout_ms`, a failure marks the tier unusable (requests then skip it without
//! waiting) until a background ping succeeds, and `/ready` reports it as degraded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::ResponseCache;
use crate::http::Rendered;

/// The Lua functions the scripts share.
///
/// `clock(p)`: the shop's clock. It only grows, and it is never below Redis's time in
/// microseconds when it was set, so a clock key that was evicted (or lost in a restart)
/// starts again (from Redis's time) above every value it ever had, instead of back at zero
/// where new stamps would look older than the entries they must refuse.
///
/// `stale(p, v, ttl)`: is entry `v` (header line `<clock> <tag> ...`) stale, a tag of it
/// stamped after its clock? A stamp that is missing — never made, expired, or evicted
/// under memory pressure — counts as made now (and is made, `NX`), so an evicted stamp can
/// only cost a miss, never serve a stale entry.
macro_rules! shared_fns {
    () => {
        r#"
local function clock(p)
  local c = redis.call('GET', p .. 'clock')
  if c then return tonumber(c) end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', p .. 'clock', string.format('%.0f', now))
  return now
end
local function stale(p, v, ttl)
  local nl = string.find(v, '\n', 1, true)
  if not nl then return true end
  local at = nil
  for w in string.gmatch(string.sub(v, 1, nl - 1), '%S+') do
    if at == nil then
      at = tonumber(w)
    else
      local b = redis.call('GET', p .. 't:' .. w)
      if not b then
        b = clock(p)
        redis.call('SET', p .. 't:' .. w, string.format('%.0f', b), 'EX', ttl, 'NX')
      end
      if tonumber(b) > at then return true end
    end
  end
  return false
end
"#
    };
}

const LOOKUP: &str = concat!(
    shared_fns!(),
    r#"
local p = ARGV[1]
local gen = redis.call('GET', p .. 'gen')
if not gen then
  gen = ARGV[3]
  redis.call('SET', p .. 'gen', gen)
end
local now = clock(p)
local v = redis.call('GET', p .. 'e:' .. gen .. ':' .. ARGV[2])
if v and stale(p, v, ARGV[4]) then v = false end
return {gen, string.format('%.0f', now), v or ''}
"#
);

const STORE: &str = concat!(
    shared_fns!(),
    r#"
local p = ARGV[1]
if redis.call('GET', p .. 'gen') ~= ARGV[3] then return 0 end
if stale(p, ARGV[5], ARGV[6]) then return 0 end
local nl = string.find(ARGV[5], '\n', 1, true)
local first = true
for w in string.gmatch(string.sub(ARGV[5], 1, nl - 1), '%S+') do
  if first then
    first = false
  else
    local at = redis.call('GET', p .. 'tp:' .. w)
    if at and tonumber(at) > tonumber(ARGV[7]) then return 0 end
  end
end
redis.call('SET', p .. 'e:' .. ARGV[3] .. ':' .. ARGV[2], ARGV[5], 'EX', ARGV[4])
return 1
"#
);

const BUMP: &str = concat!(
    shared_fns!(),
    r#"
local p = ARGV[1]
local t = redis.call('TIME')
local v = math.max(clock(p) + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
local s = string.format('%.0f', v)
local pos = tonumber(ARGV[4])
redis.call('SET', p .. 'clock', s)
for i = 5, #ARGV do
  redis.call('SET', p .. 't:' .. ARGV[i], s, 'EX', ARGV[3])
  local had = redis.call('GET', p .. 'tp:' .. ARGV[i])
  if not had or tonumber(had) < pos then
    redis.call('SET', p .. 'tp:' .. ARGV[i], ARGV[4], 'EX', ARGV[3])
  end
end
redis.call('PUBLISH', p .. 'invalidate', ARGV[2] .. ' ' .. ARGV[4] .. ' ' .. table.concat(ARGV, ' ', 5))
return s
"#
);

const REGEN: &str = r#"
redis.call('SET', ARGV[1] .. 'gen', ARGV[3])
redis.call('PUBLISH', ARGV[1] .. 'invalidate', ARGV[2] .. ' !all')
return 1
"#;

/// What a miss learned from Redis, needed to store the loaded response.
#[derive(Debug, Clone)]
pub struct MissToken {
    gen: String,
    clock: u64,
}

pub enum Lookup {
    Hit {
        rendered: Rendered,
        tags: Vec<String>,
    },
    Miss(MissToken),
    /// Redis could not be asked (down, slow, or not yet connected)
    Unavailable,
}

/// A response as Redis keeps it (after the header line).
#[derive(Serialize, Deserialize)]
struct Stored {
    etag: String,
    media: crate::http::Media,
    /// the gzip body, when the response is large enough to be sent compressed
    gzip: Option<Vec<u8>>,
    /// the identity body, when it is not
    json: Option<Vec<u8>>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    stores_refused: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
    published: AtomicU64,
    publish_failures: AtomicU64,
    received: AtomicU64,
    reconnects: AtomicU64,
}

pub struct L2 {
    /// the node's handle on Redis (shared with the rate limiter)
    redis: Arc<crate::redis::Redis>,
    prefix: String,
    node: String,
    timeout: Duration,
    entry_ttl_secs: u64,
    /// requests may ask Redis
    usable: AtomicBool,
    /// subscribed to the invalidation channel
    attached: AtomicBool,
    /// a bump was not published: entries in Redis may be stale until a new generation
    must_regen: AtomicBool,
    runtime: tokio::runtime::Handle,
    lookup: redis::Script,
    store: redis::Script,
    bump: redis::Script,
    regen: redis::Script,
    counters: Counters,
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl L2 {
    /// A tier on the node's Redis handle; connects in [`L2::watch`].
    pub fn new(redis: Arc<crate::redis::Redis>, entry_ttl: Duration) -> L2 {
        L2 {
            prefix: redis.prefix().to_owned(),
            timeout: redis.timeout(),
            redis,
            node: random_hex(8),
            entry_ttl_secs: entry_ttl.as_secs().max(1),
            usable: AtomicBool::new(false),
            attached: AtomicBool::new(false),
            must_regen: AtomicBool::new(false),
            runtime: tokio::runtime::Handle::current(),
            lookup: redis::Script::new(LOOKUP),
            store: redis::Script::new(STORE),
            bump: redis::Script::new(BUMP),
            regen: redis::Script::new(REGEN),
            counters: Counters::default(),
        }
    }

    /// Entries in Redis may be stale (a bump could not be told): a new generation is set
    /// before Redis is used again.
    pub fn must_regenerate(&self) {
        self.must_regen.store(true, Ordering::SeqCst);
        self.usable.store(false, Ordering::SeqCst);
    }

    pub fn usable(&self) -> bool {
        self.usable.load(Ordering::SeqCst)
    }

    /// This node hears other nodes' invalidations.
    pub fn attached(&self) -> bool {
        self.attached.load(Ordering::SeqCst)
    }

    fn failed(&self, what: &str, e: &dyn std::fmt::Display) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if self.usable.swap(false, Ordering::SeqCst) {
            tracing::warn!(error = %e, what, "redis unusable; serving without the second cache tier");
        }
    }

    async fn call<T: redis::FromRedisValue>(&self, what: &str, inv: redis::ScriptInvocation<'_>) -> Option<T> {
        self.redis.call(inv).await.map_err(|e| self.failed(what, &e)).ok()
    }

    /// The response for `key` from Redis, if a fresh one is there.
    pub async fn lookup(&self, key: &str) -> Lookup {
        if !self.usable() {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Lookup::Unavailable;
        }
        let mut inv = self.lookup.prepare_invoke();
        inv.arg(&self.prefix).arg(key).arg(random_hex(8)).arg(self.entry_ttl_secs + 5);
        let Some((gen, clock, value)) = self.call::<(String, u64, Vec<u8>)>("lookup", inv).await else {
            return Lookup::Unavailable;
        };
        if !value.is_empty() {
            match decode(&value) {
                Some((rendered, tags)) => {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Lookup::Hit { rendered, tags };
                }
                None => tracing::warn!(key, "undecodable entry in redis; loading instead"),
            }
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        Lookup::Miss(MissToken { gen, clock })
    }

    /// Stores a loaded response in the background (the request does not wait for it).
    /// Redis refuses it if the generation changed, if one of its tags was bumped since
    /// the lookup that missed, or if one of its tags was bumped by a commit after
    /// `as_of`, the commit position the load's data was known to hold (a replica whose
    /// copy is behind must not hand its old rows to the nodes that are not).
    pub fn store_later(
        self: &Arc<Self>,
        key: String,
        miss: MissToken,
        rendered: &Rendered,
        tags: &[String],
        as_of: u64,
    ) {
        let value = encode(miss.clock, rendered, tags);
        let me = self.clone();
        tokio::spawn(async move {
            let mut inv = me.store.prepare_invoke();
            inv.arg(&me.prefix)
                .arg(&key)
                .arg(&miss.gen)
                .arg(me.entry_ttl_secs)
                .arg(value)
                .arg(me.entry_ttl_secs + 5)
                .arg(as_of);
            match me.call::<i64>("store", inv).await {
                Some(1) => me.counters.stores.fetch_add(1, Ordering::Relaxed),
                Some(_) => me.counters.stores_refused.fetch_add(1, Ordering::Relaxed),
                None => 0,
            };
        });
    }

    /// Publishes a commit's tags: stamps them in Redis and tells the other nodes. Runs on
    /// the writer thread, before the commit's callers hear back; bounded by the timeout.
    /// When Redis cannot be told, the entries there may be stale: a new generation is
    /// set before Redis is used again.
    pub fn publish_blocking(&self, tags: &[String], position: u64) {
        if tags.is_empty() {
            return;
        }
        if !self.usable() {
            self.must_regen.store(true, Ordering::SeqCst);
            return;
        }
        if !self.runtime.block_on(self.publish(tags, position)) {
            self.must_regenerate();
        }
    }

    /// [`L2::publish_blocking`] for async callers (an operator's flush). `position` is
    /// the commit that changed the tags' data: entries loaded from data before it are not
    /// stored any more.
    pub async fn publish(&self, tags: &[String], position: u64) -> bool {
        let mut inv = self.bump.prepare_invoke();
        inv.arg(&self.prefix).arg(&self.node).arg(self.entry_ttl_secs + 5).arg(position);
        for t in tags {
            inv.arg(t);
        }
        let ok = self.call::<u64>("publish", inv).await.is_some();
        let c = if ok { &self.counters.published } else { &self.counters.publish_failures };
        c.fetch_add(1, Ordering::Relaxed);
        ok
    }

    /// Orphans every entry in Redis (a new generation) and tells the other nodes to drop
    /// their L1.
    pub async fn new_generation(&self) -> bool {
        let mut inv = self.regen.prepare_invoke();
        inv.arg(&self.prefix).arg(&self.node).arg(random_hex(8));
        self.call::<i64>("new generation", inv).await.is_some()
    }

    /// Connects, subscribes and serves invalidations for as long as the process runs;
    /// after any failure, connects again (backing off up to 2 s).
    pub async fn watch(self: Arc<Self>, cache: Weak<ResponseCache>) {
        let mut backoff = Duration::from_millis(50);
        let mut first = true;
        loop {
            match self.session(&cache, first).await {
                Ok(()) => return, // the cache is gone
                Err(e) => {
                    if first || self.attached.load(Ordering::SeqCst) {
                        tracing::warn!(error = %e, "redis unreachable; retrying");
                    }
                }
            }
            first = false;
            self.usable.store(false, Ordering::SeqCst);
            self.attached.store(false, Ordering::SeqCst);
            self.redis.disconnect();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            if self.counters.reconnects.fetch_add(1, Ordering::Relaxed).is_multiple_of(16) {
                backoff = backoff.max(Duration::from_millis(200));
            }
        }
    }

    async fn session(&self, cache: &Weak<ResponseCache>, first: bool) -> anyhow::Result<()> {
        let connect = self.timeout.max(Duration::from_millis(500));
        self.redis.connect().await?;
        let mut pubsub = tokio::time::timeout(connect, self.redis.client().get_async_pubsub())
            .await
            .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
        let channel = format!("{}invalidate", self.prefix);
        tokio::time::timeout(connect, pubsub.subscribe(&channel))
            .await
            .map_err(|_| anyhow::anyhow!("subscribing timed out"))??;
        // subscribed: from here on no invalidation is missed; what came before is dropped
        let Some(c) = cache.upgrade() else { return Ok(()) };
        c.drop_local();
        drop(c);
        self.attached.store(true, Ordering::SeqCst);
        self.regen_if_needed().await?;
        self.usable.store(true, Ordering::SeqCst);
        tracing::info!(node = %self.node, reconnected = !first, "redis attached: second cache tier in use");

        let mut messages = pubsub.on_message();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tokio::select! {
                m = messages.next() => {
                    let Some(msg) = m else { anyhow::bail!("the subscription ended") };
                    let Some(c) = cache.upgrade() else { return Ok(()) };
                    self.counters.received.fetch_add(1, Ordering::Relaxed);
                    self.apply_message(&c, msg.get_payload_bytes());
                }
                _ = tick.tick() => {
                    if cache.strong_count() == 0 {
                        return Ok(());
                    }
                    self.redis.ping().await?;
                    self.regen_if_needed().await?;
                    if !self.usable.swap(true, Ordering::SeqCst) {
                        tracing::info!("redis usable again");
                    }
                }
            }
        }
    }

    async fn regen_if_needed(&self) -> anyhow::Result<()> {
        if self.must_regen.swap(false, Ordering::SeqCst) {
            // `call` needs the tier marked usable to be worth asking; ask directly
            if !self.new_generation().await {
                self.must_regen.store(true, Ordering::SeqCst);
                anyhow::bail!("could not set a new generation");
            }
            tracing::info!("redis entries orphaned: a bump could not be published while redis was away");
        }
        Ok(())
    }

    fn apply_message(&self, cache: &ResponseCache, payload: &[u8]) {
        let Ok(text) = std::str::from_utf8(payload) else { return };
        let mut words = text.split(' ');
        if words.next() == Some(self.node.as_str()) {
            return; // our own commit: bumped locally already
        }
        let rest: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
        if rest.contains(&"!all") {
            cache.drop_local();
        } else if let Some((position, tags)) = rest.split_first() {
            // `<node> <commit position> <tag>...`
            cache.bump_remote(tags, position.parse().unwrap_or(0));
        }
    }

    pub async fn stats(&self) -> L2Stats {
        let c = &self.counters;
        let (hits, misses) = (c.hits.load(Ordering::Relaxed), c.misses.load(Ordering::Relaxed));
        let mut server = None;
        if self.usable() {
            if let Some(mut conn) = self.redis.connection() {
                let dbsize = redis::cmd("DBSIZE");
                let keys = dbsize.query_async::<u64>(&mut conn);
                if let Ok(Ok(keys)) = tokio::time::timeout(self.timeout * 4, keys).await {
                    let mut info_cmd = redis::cmd("INFO");
                    info_cmd.arg("all");
                    let info = info_cmd.query_async::<String>(&mut conn);
                    let info = tokio::time::timeout(self.timeout * 4, info).await.ok().and_then(Result::ok);
                    let field = |name: &str| -> u64 {
                        info.as_deref()
                            .and_then(|i| {
                                i.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
                            })
                            .unwrap_or(0)
                    };
                    server = Some(RedisServerStats {
                        keys,
                        used_memory_bytes: field("used_memory"),
                        evicted_keys: field("evicted_keys"),
                    });
                }
            }
        }
        L2Stats {
            enabled: true,
            status: self.status(),
            hits,
            misses,
            hit_ratio: if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
            stores: c.stores.load(Ordering::Relaxed),
            stores_refused_stale: c.stores_refused.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            skipped_while_unusable: c.skipped.load(Ordering::Relaxed),
            invalidations_published: c.published.load(Ordering::Relaxed),
            invalidations_unpublished: c.publish_failures.load(Ordering::Relaxed),
            invalidations_received: c.received.load(Ordering::Relaxed),
            server,
        }
    }

    /// `ok`, or `degraded` (requests are served without it).
    pub fn status(&self) -> &'static str {
        if self.usable() && self.attached() {
            "ok"
        } else {
            "degraded"
        }
    }
}

#[derive(Debug, Serialize)]
pub struct L2Stats {
    pub enabled: bool,
    pub status: &'static str,
    pub hits: u64,
    pub misses: u64,
    pub hit_ratio: f64,
    pub stores: u64,
    pub stores_refused_stale: u64,
    pub errors: u64,
    pub skipped_while_unusable: u64,
    pub invalidations_published: u64,
    pub invalidations_unpublished: u64,
    pub invalidations_received: u64,
    /// the Redis server's own figures (all its keys, not only this shop's)
    pub server: Option<RedisServerStats>,
}

#[derive(Debug, Serialize)]
pub struct RedisServerStats {
    pub keys: u64,
    pub used_memory_bytes: u64,
    pub evicted_keys: u64,
}

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

fn encode(clock: u64, r: &Rendered, tags: &[String]) -> Vec<u8> {
    let stored = Stored {
        etag: r.etag.to_str().unwrap_or("\"\"").to_owned(),
        media: r.media,
        gzip: r.gzip.as_ref().map(|g| g.to_vec()),
        json: r.gzip.is_none().then(|| r.json.to_vec()),
    };
    let mut out = clock.to_string().into_bytes();
    for t in tags {
        out.push(b' ');
        out.extend_from_slice(t.as_bytes());
    }
    out.push(b'\n');
    let body = bincode::serde::encode_to_vec(&stored, bincode_config()).expect("plain data encodes");
    out.extend_from_slice(&body);
    out
}

fn decode(value: &[u8]) -> Option<(Rendered, Vec<String>)> {
    use std::io::Read;
    let nl = value.iter().position(|b| *b == b'\n')?;
    let head = std::str::from_utf8(&value[..nl]).ok()?;
    let tags = head.split(' ').skip(1).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    let (stored, _): (Stored, usize) = bincode::serde::decode_from_slice(&value[nl + 1..], bincode_config()).ok()?;
    let etag = axum::http::HeaderValue::from_str(&stored.etag).ok()?;
    let (json, gzip) = match (stored.gzip, stored.json) {
        (Some(gz), _) => {
            let mut json = Vec::with_capacity(gz.len() * 4);
            flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut json).ok()?;
            (json, Some(Bytes::from(gz)))
        }
        (None, Some(json)) => (json, None),
        (None, None) => return None,
    };
    Some((Rendered::from_parts(Bytes::from(json), stored.media, gzip, etag), tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for body in [b"{\"data\":[]}".to_vec(), format!("{{\"data\":\"{}\"}}", "x".repeat(4000)).into_bytes()] {
            let r = Rendered::new(body.clone()).with_gzip(6);
            let tags = vec!["catalog".to_owned(), "product:42".to_owned()];
            let v = encode(17, &r, &tags);
            assert!(v.starts_with(b"17 catalog product:42\n"));
            let (back, t) = decode(&v).expect("decodes");
            assert_eq!(back.json, r.json);
            assert_eq!(back.gzip, r.gzip);
            assert_eq!(back.etag, r.etag);
            assert_eq!(t, tags);
        }
        assert!(decode(b"no header").is_none());
        assert!(decode(b"1 a\n\xff\xff").is_none());
    }
}
