//! The node's one handle on Redis (`redis_url`), shared by the response cache's second
//! tier (`crate::cache::L2`) and the rate limiter (`crate::limits`): the client, the
//! multiplexed connection every call goes through, the key prefix and the per-call time
//! limit. Whenever `redis_url` is set the limits are shared through it, whether the cache
//! is on or off.
//!
//! Who keeps the connection: the cache's tier when there is one (its session connects,
//! subscribes to invalidations and pings every second); otherwise [`Redis::keep`] (connect,
//! ping every second, reconnect after a failure). Redis is never on the failure path of
//! a request: each call is bounded by the time limit, and a failed call marks the handle
//! down until the keeper's next successful ping; callers then do without it (the limiter
//! counts per node).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// GCRA on Redis's clock (shared by every node): KEYS[1] holds the theoretical arrival
/// time in ms; ARGV[1] is the interval per request (ms), ARGV[2] the burst. Answers
/// {allowed, remaining, wait ms}. The key expires once the quota is full again, so an
/// idle client leaves nothing behind (and an evicted key only forgives, never blocks).
const LIMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, math.floor((now - allow_at) / interval), 0}
"#;

pub struct Redis {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// `<redis_prefix>:`
    prefix: String,
    timeout: Duration,
    /// the last call or ping succeeded: calls are worth making
    up: AtomicBool,
    errors: AtomicU64,
    limit: redis::Script,
}

impl Redis {
    /// A handle on `url` (validated with the configuration); nothing connects yet.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> redis::RedisResult<Redis> {
        Ok(Redis {
            client: redis::Client::open(url)?,
            conn: Mutex::new(None),
            prefix: format!("{prefix}:"),
            timeout,
            up: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            limit: redis::Script::new(LIMIT),
        })
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Every key of this shop begins so.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The time limit of one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// Calls that failed (or timed out) since the start.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn connection(&self) -> Option<MultiplexedConnection> {
        // a short critical section, never held across an await
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Opens a new connection, bounded by the time limit (at least 500 ms to connect),
    /// and makes it the one calls use.
    pub async fn connect(&self) -> anyhow::Result<MultiplexedConnection> {
        let connect = self.timeout.max(Duration::from_millis(500));
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(self.timeout));
        let conn = tokio::time::timeout(connect, self.client.get_multiplexed_async_connection_with_config(&cfg))
            .await
            .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
        self.up.store(true, Ordering::SeqCst);
        Ok(conn)
    }

    /// Drops the connection (the keeper connects anew).
    pub fn disconnect(&self) {
        self.up.store(false, Ordering::SeqCst);
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A successful ping marks the handle up again.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.connection().ok_or_else(|| anyhow::anyhow!("not connected"))?;
        match tokio::time::timeout(self.timeout, redis::cmd("PING").query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => {
                self.up.store(true, Ordering::SeqCst);
                Ok(())
            }
            Ok(Err(e)) => anyhow::bail!("ping failed: {e}"),
            Err(_) => anyhow::bail!("ping timed out"),
        }
    }

    /// Runs a script invocation, bounded by the time limit. A failure is counted, marks
    /// the handle down, and is answered as `Err` with what failed.
    pub async fn call<T: redis::FromRedisValue>(&self, inv: redis::ScriptInvocation<'_>) -> Result<T, String> {
        let mut conn = self.connection().ok_or_else(|| "not connected".to_owned())?;
        let failed = |e: String| {
            self.errors.fetch_add(1, Ordering::Relaxed);
            self.up.store(false, Ordering::SeqCst);
            e
        };
        match tokio::time::timeout(self.timeout, inv.invoke_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Err(_) => Err(failed("timed out".to_owned())),
        }
    }

    /// One request against the shared rate-limit quota `key`: allowed, requests left,
    /// and the wait when refused; `None` when Redis cannot answer now (the caller limits
    /// on its own).
    pub async fn rate_limit(&self, key: &str, interval: Duration, burst: u32) -> Option<(bool, u32, Duration)> {
        if !self.up() {
            return None;
        }
        let mut inv = self.limit.key(format!("{}rl:{key}", self.prefix));
        inv.arg(interval.as_millis().max(1) as u64).arg(burst);
        let (allowed, remaining, wait) = match self.call::<(i64, i64, i64)>(inv).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "redis: rate limit check failed; limiting on this node");
                return None;
            }
        };
        Some((allowed == 1, remaining.clamp(0, i64::from(burst)) as u32, Duration::from_millis(wait.max(0) as u64)))
    }

    /// Keeps the connection when no cache tier does: connects, pings every second,
    /// connects again after a failure. Runs until aborted.
    pub async fn keep(self: std::sync::Arc<Self>) {
        let mut was_up = false;
        loop {
            let ok = match self.connection() {
                Some(_) => self.ping().await,
                None => self.connect().await.map(|_| ()),
            };
            match ok {
                Ok(()) if !was_up => {
                    tracing::info!("redis connected: rate limits are shared with the other nodes");
                    was_up = true;
                }
                Ok(()) => {}
                Err(e) => {
                    if was_up {
                        tracing::warn!(error = %e, "redis unreachable; rate limits count on this node until it is back");
                    }
                    was_up = false;
                    self.disconnect();
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
