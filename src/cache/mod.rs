//! The response cache (L1): final response bytes of public catalog reads, kept in the
//! process by moka, bounded by bytes (`cache_mb`), pre-compressed and with their ETag, so
//! a hit does no SQL, no JSON and no compression.
//!
//! Freshness: every entry carries tags, opaque strings to this module (the catalog owns
//! their vocabulary: [`crate::catalog::tags`]). The writer's post-commit hook maps what a
//! commit changed to tags and bumps them here — before any writer caller hears back. Bumping stamps each tag with the next
//! value of a clock; an entry remembers the clock as it was when its load began (before its
//! read transaction), and a hit is served only if none of its tags was bumped since. So a
//! request that starts after a commit was acknowledged never sees what that commit
//! changed, even if a load that began before the commit finishes after it (its entry is
//! stale on arrival). Stale entries are replaced on their next miss and evicted by size
//! or TTL; nothing has to find and delete them at commit time.
//!
//! Single flight: concurrent misses on one key run one load and the others wait for it —
//! but only requests that began after the same latest bump share a load, so no request
//! is handed what a load read before a commit the request already saw acknowledged.
//!
//! Hot front: the hit path first looks in a small quick_cache map of recently hit
//! entries (an eighth of the budget), which answers a lookup in a fraction of moka's time
//! (`benches/cache_maps.rs`); moka holds the rest, with the TTL and the eviction counts.
//! Both hold the same `Arc`s, and moka gets seven eighths of the budget, so the two
//! together stay within `cache_mb`.
//!
//! Behind L1, optionally, Redis as the second tier shared by every node ([`l2`]): an L1
//! miss asks Redis before SQLite, a load from SQLite is stored there, and every bump is
//! published so the other nodes bump the same tags in their L1.

mod l2;

pub use l2::{L2Stats, L2};

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::ApiError;
use crate::http::Rendered;

/// A cached response and what it depends on.
pub struct Entry {
    pub rendered: Rendered,
    tags: Vec<String>,
    /// the clock when the load began
    loaded_at: u64,
    /// when it was loaded (bounds its age while this node cannot hear other nodes)
    born: Instant,
    /// the latest bump it was checked fresh against (so a hit checks its tags once per bump)
    checked: AtomicU64,
    /// the commit position the data it was loaded from held at least (`u64::MAX`: all
    /// that was committed, as on a primary, or an entry Redis vouched for)
    as_of: u64,
}

impl Entry {
    /// What the response depends on: an answer built from it depends on the same.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    fn new(rendered: Rendered, tags: Vec<String>, loaded_at: u64, as_of: u64) -> Entry {
        Entry { rendered, tags, loaded_at, born: Instant::now(), checked: AtomicU64::new(0), as_of }
    }
}

#[derive(Clone)]
struct EntryWeight;

impl quick_cache::Weighter<String, Arc<Entry>> for EntryWeight {
    fn weight(&self, key: &String, e: &Arc<Entry>) -> u64 {
        weight(key, e) as u64
    }
}

type HotMap = quick_cache::sync::Cache<String, Arc<Entry>, EntryWeight>;

/// Where a response came from (the `X-Cache` debug header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// served from this process's cache (or from a concurrent load of the same key)
    HitL1,
    /// served from the second tier (Redis)
    HitL2,
    /// loaded from the database
    Miss,
    /// the cache is off
    Off,
}

impl Served {
    pub fn header(self) -> &'static str {
        match self {
            Served::HitL1 => "hit-l1",
            Served::HitL2 => "hit-l2",
            Served::Miss | Served::Off => "miss",
        }
    }
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    evictions: AtomicU64,
    bumps: AtomicU64,
}

/// One load under way, awaited by every request for the same key that comes meanwhile.
type Flight = Arc<tokio::sync::OnceCell<Arc<Entry>>>;

pub struct ResponseCache {
    l1: Option<moka::future::Cache<String, Arc<Entry>>>,
    /// the hot front of L1 (see the module documentation)
    hot: Option<HotMap>,
    /// tag → clock value, time and commit position of its last bump
    versions: RwLock<HashMap<String, (u64, Instant, u64)>>,
    /// the size of `versions` at which bumps older than any live entry are forgotten
    prune_at: AtomicUsize,
    ttl: Duration,
    clock: AtomicU64,
    /// the clock of the latest bump
    last_bump: AtomicU64,
    /// entries loaded before this clock are stale whatever their tags ([`Self::drop_local`])
    floor: AtomicU64,
    /// loads under way, by key and the last bump before they began
    flights: Mutex<HashMap<(String, u64), Flight>>,
    counters: Arc<Counters>,
    budget: u64,
    l2: OnceLock<Arc<L2>>,
    detached_max_age: OnceLock<Duration>,
    /// the commit position this node's data holds (the writer's, or a replica's copy's)
    position: OnceLock<Arc<AtomicU64>>,
    /// a replica: its data lags the commits it hears of (see [`ResponseCache::follow`])
    follows: std::sync::atomic::AtomicBool,
}

/// `versions` is pruned when it grows past this many tags (and then past twice what was
/// left): a bump older than the TTL (plus a margin) predates every live entry.
const PRUNE_MIN: usize = 4096;

/// Finished flights kept before they are pruned (see [`ResponseCache::get_or_load`]).
const MAX_FLIGHTS: usize = 64;

/// Bytes an entry is charged: its bodies, its key and tags, and a fixed overhead.
fn weight(key: &str, e: &Entry) -> u32 {
    let tags: usize = e.tags.iter().map(|t| t.len() + 24).sum();
    let n = e.rendered.json.len() + e.rendered.gzip.as_ref().map_or(0, |g| g.len()) + key.len() + tags + 160;
    n.min(u32::MAX as usize) as u32
}

impl ResponseCache {
    /// A cache of at most `mb` MiB (0: no cache), entries living at most `ttl`.
    pub fn new(mb: u64, ttl: Duration) -> ResponseCache {
        let counters = Arc::new(Counters::default());
        let budget = mb * 1024 * 1024;
        let hot_budget = budget / 8;
        let hot = (mb > 0).then(|| {
            // a few hundred of the hottest responses (a product page is a few KiB)
            let items = (hot_budget / 4096).clamp(64, 65_536) as usize;
            HotMap::with(items, hot_budget, EntryWeight, Default::default(), Default::default())
        });
        let l1 = (mb > 0).then(|| {
            let c = counters.clone();
            moka::future::Cache::builder()
                .max_capacity(budget - hot_budget)
                .weigher(|k: &String, e: &Arc<Entry>| weight(k, e))
                .time_to_live(ttl)
                .eviction_listener(move |_, _, cause| {
                    if cause == moka::notification::RemovalCause::Size {
                        c.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .build()
        });
        ResponseCache {
            l1,
            hot,
            versions: RwLock::new(HashMap::new()),
            prune_at: AtomicUsize::new(PRUNE_MIN),
            ttl,
            clock: AtomicU64::new(1),
            last_bump: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            flights: Mutex::new(HashMap::new()),
            counters,
            budget,
            l2: OnceLock::new(),
            detached_max_age: OnceLock::new(),
            position: OnceLock::new(),
            follows: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Where to read the commit position this node's data holds: the bumps it publishes
    /// carry it (see [`L2::store_later`]).
    pub fn track_position(&self, position: Arc<AtomicU64>) {
        let _ = self.position.set(position);
    }

    /// This node is a replica: its data (a copy) may be behind a change it hears of from
    /// another node. Such a change's tags are then bumped at once, but an entry loaded
    /// from a copy older than the change is not kept (nor stored in Redis): it is served
    /// to the request that loaded it only, until the copy has caught up.
    pub fn follow(&self) {
        self.follows.store(true, Ordering::SeqCst);
    }

    fn position(&self) -> u64 {
        self.position.get().map_or(0, |p| p.load(Ordering::SeqCst))
    }

    /// What a load beginning now is known to hold: on a primary, everything committed (it
    /// reads the database itself); on a replica, its copy's position.
    fn as_of(&self) -> u64 {
        if self.follows.load(Ordering::Relaxed) {
            self.position()
        } else {
            u64::MAX
        }
    }

    /// Was `e` loaded from data at least as new as every change to its tags this node
    /// has heard of?
    fn current(&self, e: &Entry) -> bool {
        if e.as_of == u64::MAX {
            return true;
        }
        let v = self.versions.read().unwrap_or_else(|p| p.into_inner());
        e.tags.iter().all(|t| v.get(t).is_none_or(|(_, _, at)| *at <= e.as_of))
    }

    /// Puts Redis behind L1 and keeps it attached for as long as the cache lives. While
    /// this node cannot hear other nodes' invalidations, L1 serves only entries younger
    /// than `detached_max_age`.
    pub fn attach_l2(self: &Arc<Self>, l2: L2, detached_max_age: Duration) {
        let l2 = Arc::new(l2);
        if self.l2.set(l2.clone()).is_ok() {
            let _ = self.detached_max_age.set(detached_max_age);
            tokio::spawn(l2.watch(Arc::downgrade(self)));
        }
    }

    pub fn l2(&self) -> Option<&Arc<L2>> {
        self.l2.get()
    }

    pub fn enabled(&self) -> bool {
        self.l1.is_some()
    }

    fn fresh(&self, e: &Entry) -> bool {
        if let Some(l2) = self.l2.get() {
            if !l2.attached() && self.detached_max_age.get().is_some_and(|max| e.born.elapsed() > *max) {
                return false;
            }
        }
        // No bump since the load began, or none since the tags were last checked: fresh
        // without looking at them. (A bump stores `last_bump` after its tags, under the
        // write lock, and before the commit's callers hear back.)
        if e.loaded_at < self.floor.load(Ordering::SeqCst) {
            return false; // loaded before the node dropped everything
        }
        let last = self.last_bump.load(Ordering::SeqCst);
        if last < e.loaded_at || last <= e.checked.load(Ordering::Relaxed) {
            return true;
        }
        let v = self.versions.read().unwrap_or_else(|p| p.into_inner());
        let fresh = e.tags.iter().all(|t| v.get(t).is_none_or(|(bumped, _, _)| *bumped < e.loaded_at));
        if fresh {
            // every bump up to `last` is in the map read above
            e.checked.fetch_max(last, Ordering::Relaxed);
        }
        fresh
    }

    /// The cached response for `key`, or `load`'s (which returns the response and the
    /// tags it depends on beyond `tags`), kept for the next request.
    pub async fn get_or_load(
        &self,
        key: String,
        tags: &[&str],
        load: impl Future<Output = Result<(Rendered, Vec<String>), ApiError>>,
    ) -> Result<(Arc<Entry>, Served), ApiError> {
        let Some(l1) = &self.l1 else {
            let (rendered, _) = load.await?;
            return Ok((Arc::new(Entry::new(rendered, Vec::new(), 0, u64::MAX)), Served::Off));
        };
        if let Some(e) = l1.get(&key).await {
            if self.fresh(&e) {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok((e, Served::HitL1));
            }
            self.counters.stale.fetch_add(1, Ordering::Relaxed);
            l1.invalidate(&key).await;
        }
        // Single flight, but only among loads that began after the same last bump: a
        // request that starts after a commit was acknowledged must not share a load that
        // began before it (that load may have read the old rows).
        let flight_key = (key.clone(), self.last_bump.load(Ordering::SeqCst));
        let key = &key;
        let cell = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            // A finished flight stays a little while: a request that missed just before
            // the entry was stored still finds the result here instead of loading again.
            // Kept few, so results held outside the budget stay small.
            if flights.len() >= MAX_FLIGHTS {
                flights.retain(|_, c| !c.initialized());
            }
            flights.entry(flight_key.clone()).or_default().clone()
        };
        // how this request's flight was served: 0 by another request's load, else below
        const SHARED: u8 = 0;
        const FROM_L2: u8 = 1;
        const FROM_DB: u8 = 2;
        let origin = AtomicU8::new(SHARED);
        let result = cell
            .get_or_try_init(|| async {
                // a load that finished between our miss and our flight lookup
                if let Some(e) = l1.get(key).await.filter(|e| self.fresh(e)) {
                    return Ok(e);
                }
                // the clock before the load's read transaction begins (SeqCst: ordered
                // with the writer hook's bump)
                let loaded_at = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
                // the data read below holds at least this position
                let as_of = self.as_of();
                let mut miss = None;
                if let Some(l2) = self.l2.get() {
                    match l2.lookup(key).await {
                        l2::Lookup::Hit { rendered, tags } => {
                            origin.store(FROM_L2, Ordering::Relaxed);
                            // Redis keeps only entries as new as every change it heard of
                            return Ok(Arc::new(Entry::new(rendered, tags, loaded_at, u64::MAX)));
                        }
                        l2::Lookup::Miss(token) => miss = Some((l2, token)),
                        l2::Lookup::Unavailable => {}
                    }
                }
                origin.store(FROM_DB, Ordering::Relaxed);
                let (rendered, extra) = load.await?;
                let mut all: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
                all.extend(extra);
                let rendered = rendered.with_gzip(6);
                if let Some((l2, token)) = miss {
                    l2.store_later(key.clone(), token, &rendered, &all, as_of);
                }
                Ok::<_, ApiError>(Arc::new(Entry::new(rendered, all, loaded_at, as_of)))
            })
            .await
            .cloned();
        let origin = origin.load(Ordering::Relaxed);
        let ran = origin != SHARED;
        if let (true, Ok(entry)) = (ran, &result) {
            // stored before the flight ends, so no request finds neither
            if self.fresh(entry) && self.current(entry) {
                l1.insert(key.clone(), entry.clone()).await;
            } else if !self.current(entry) {
                // nor shared with the requests that come after this one: their flight key
                // stays this one's until the copy catches up (the bump then comes from
                // the copy's change log)
                let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
                if flights.get(&flight_key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                    flights.remove(&flight_key);
                }
            }
            // else a commit bumped one of its tags while it loaded: right for this request
            // (which began before that commit was acknowledged), not for the next; or (a
            // replica) its copy is older than a change it heard of
        }
        if result.is_err() {
            // nothing to share (an error is not cached): the flight ends here
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.get(&flight_key).is_some_and(|c| Arc::ptr_eq(c, &cell) && !c.initialized()) {
                flights.remove(&flight_key);
            }
        }
        let entry = result?;
        let counter = if ran { &self.counters.misses } else { &self.counters.hits };
        counter.fetch_add(1, Ordering::Relaxed);
        let source = match origin {
            FROM_DB => Served::Miss,
            FROM_L2 => Served::HitL2,
            _ => Served::HitL1,
        };
        Ok((entry, source))
    }

    /// A fresh entry for `key`, if there is one, without loading (the server's fast path):
    /// counted as a hit, and an entry found in the main map moves to the hot front.
    pub async fn fresh_hit(&self, key: &str) -> Option<Arc<Entry>> {
        if let Some(e) = self.fresh_hot(key, std::time::Instant::now()) {
            return Some(e);
        }
        let hot = self.hot.as_ref()?;
        let e = self.l1.as_ref()?.get(key).await?;
        if self.fresh(&e) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            hot.insert(key.to_owned(), e.clone());
            Some(e)
        } else {
            None
        }
    }

    /// A fresh entry for `key` in the hot front (no waiting of any kind: the server answers
    /// it before it awaits anything), counted as a hit.
    pub fn fresh_hot(&self, key: &str, now: std::time::Instant) -> Option<Arc<Entry>> {
        let hot = self.hot.as_ref()?;
        let e = hot.get(key)?;
        if self.fresh(&e) && now.saturating_duration_since(e.born) < self.ttl {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Some(e);
        }
        hot.remove(key);
        None
    }

    /// Lets the fast path find `entry` under another spelling of its request (`spelling`,
    /// the raw target a client sent): only in the hot front, whose budget bounds how many
    /// such spellings are remembered; freshness is the entry's own.
    pub fn alias(&self, spelling: &str, entry: &Arc<Entry>) {
        if let Some(hot) = &self.hot {
            if self.fresh(entry) && self.current(entry) {
                hot.insert(spelling.to_owned(), entry.clone());
            }
        }
    }

    /// Marks every entry of this node's L1 with one of `tags` stale (a change this node's
    /// data already holds).
    pub fn bump_local<S: AsRef<str>>(&self, tags: impl IntoIterator<Item = S>) {
        self.bump_at(tags, 0);
    }

    /// [`ResponseCache::bump_local`] for a change another node made at commit `position`:
    /// on a replica, loads from a copy older than it are not kept.
    pub fn bump_remote<S: AsRef<str>>(&self, tags: impl IntoIterator<Item = S>, position: u64) {
        let position = if self.follows.load(Ordering::Relaxed) { position } else { 0 };
        self.bump_at(tags, position);
    }

    fn bump_at<S: AsRef<str>>(&self, tags: impl IntoIterator<Item = S>, position: u64) {
        let mut v = self.versions.write().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        let at = Instant::now();
        for t in tags {
            let t = t.as_ref();
            // a later bump without a position keeps the position an earlier one waits for
            let keep = v.get(t).map_or(0, |(_, _, p)| *p);
            v.insert(t.to_owned(), (now, at, position.max(keep)));
            self.counters.bumps.fetch_add(1, Ordering::Relaxed);
        }
        self.last_bump.store(now, Ordering::SeqCst);
        if v.len() >= self.prune_at.load(Ordering::Relaxed) {
            // an entry lives at most the TTL from its insertion, which follows its load's
            // start by far less than the margin: older bumps can no longer matter
            let horizon = self.ttl + Duration::from_secs(60);
            v.retain(|_, (_, when, _)| when.elapsed() < horizon);
            self.prune_at.store((v.len() * 2).max(PRUNE_MIN), Ordering::Relaxed);
        }
    }

    /// Marks every entry of this node stale (its L1 may have missed invalidations).
    pub fn drop_local(&self) {
        let _v = self.versions.write().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        self.floor.store(now, Ordering::SeqCst);
        self.last_bump.store(now, Ordering::SeqCst);
        self.counters.bumps.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks every entry with one of `tags` stale, here, in Redis and on every other node.
    pub async fn invalidate(&self, tags: &[String]) {
        self.bump_local(tags);
        if let Some(l2) = self.l2.get() {
            if !l2.publish(tags, self.position()).await {
                l2.must_regenerate();
            }
        }
    }

    /// For the writer's post-commit hook: the tags a commit's changes can show in, bumped
    /// here and (with Redis) in Redis and on every other node, before the commit's
    /// callers hear back (blocking: it runs on the writer thread).
    pub fn bump_committed(&self, tags: &[String]) {
        if !tags.is_empty() {
            self.bump_local(tags);
            if let Some(l2) = self.l2.get() {
                l2.publish_blocking(tags, self.position());
            }
        }
    }

    pub async fn stats(&self) -> CacheStats {
        if let Some(l1) = &self.l1 {
            // entry counts and sizes are settled by moka's housekeeping
            l1.run_pending_tasks().await;
        }
        let c = &self.counters;
        let (hits, misses) = (c.hits.load(Ordering::Relaxed), c.misses.load(Ordering::Relaxed));
        let (entries, bytes) = match &self.l1 {
            Some(l1) => (l1.entry_count(), l1.weighted_size()),
            None => (0, 0),
        };
        CacheStats {
            enabled: self.l1.is_some(),
            hits,
            misses,
            hit_ratio: if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
            stale_hits_refused: c.stale.load(Ordering::Relaxed),
            entries,
            bytes,
            hot_entries: self.hot.as_ref().map_or(0, |h| h.len() as u64),
            hot_bytes: self.hot.as_ref().map_or(0, |h| h.weight()),
            budget_bytes: self.budget,
            evictions: c.evictions.load(Ordering::Relaxed),
            tag_bumps: c.bumps.load(Ordering::Relaxed),
        }
    }

    /// Drops every entry, on every node and in Redis (an operator's flush).
    pub async fn clear(&self) {
        self.drop_local();
        if let Some(l1) = &self.l1 {
            l1.invalidate_all();
        }
        if let Some(hot) = &self.hot {
            hot.clear();
        }
        if let Some(l2) = self.l2.get() {
            if !l2.new_generation().await {
                l2.must_regenerate();
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CacheStats {
    pub enabled: bool,
    pub hits: u64,
    pub misses: u64,
    pub hit_ratio: f64,
    pub stale_hits_refused: u64,
    /// in moka (seven eighths of the budget)
    pub entries: u64,
    pub bytes: u64,
    /// in the hot front (the same entries as in moka, or ones moka evicted since)
    pub hot_entries: u64,
    pub hot_bytes: u64,
    pub budget_bytes: u64,
    pub evictions: u64,
    pub tag_bumps: u64,
}
