//! The second cache tier through the real parts: a real redis-server started here, and
//! two or three nodes on one database file sharing it. What a user must be able to count
//! on: a node finds what another node loaded; after a committed change no node's Redis
//! read serves the old value, and every node's L1 drops it when the invalidation arrives;
//! Redis killed or hung never fails a request, and the node says so in `/ready`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::redis_server::RedisServer;
use crate::common::{self, Resp, TestApp};
use serde_json::{json, Value};

const DETAIL: &str = "/api/products/boom-speaker";

/// A node on `redis`: the first one builds the database, later ones share its file.
async fn node(redis_url: &str, first: Option<&TestApp>) -> TestApp {
    let url = redis_url.to_owned();
    let second = first.is_some();
    let builder = match first {
        Some(f) => TestApp::builder().same_data_as(f),
        None => TestApp::builder().fixture("small-catalog.sql"),
    };
    builder
        .config(move |c| {
            c.redis_url = Some(url);
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
            // the in-memory search index follows its own node's writer only
            c.search_index = !second;
        })
        .start()
        .await
}

/// Polls `/ready` until the node reports Redis as `status`.
pub async fn redis_status(app: &TestApp, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.get("/ready").await;
        assert_eq!(r.status, 200, "a node without Redis is still ready: {}", r.text());
        let checks = r.json()["data"]["checks"].clone();
        if checks["redis"] == status {
            return checks;
        }
        assert!(Instant::now() < deadline, "redis never became {status}: {checks}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `target` on `app` until `ok` holds (10 s at most).
pub async fn eventually(app: &TestApp, target: &str, what: &str, ok: impl Fn(&Resp) -> bool) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get(target).await;
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {} {:?} {}", r.status, r.header("x-cache"), r.text());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn price(r: &Resp) -> i64 {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["price"]["amount"].as_i64().expect("a price")
}

async fn admin(app: &TestApp) -> String {
    let t = app.register("root@example.com").await;
    app.write("UPDATE customers SET role = 'admin' WHERE email = 'root@example.com'").await;
    t
}

/// The administrator sets product 3's base price (asserting 200); the answer.
pub async fn set_price(app: &TestApp, token: &str, base: i64) -> Resp {
    let body = json!({"base": base});
    let r = app.call("PUT", "/api/admin/products/3/price", Some(token), Some(&body), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// Waits until `app` has stored `n` entries in Redis (stores run after the response).
async fn stored(app: &TestApp, token: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache_stats(app, token).await["l2"]["stores"].as_u64().unwrap() < n {
        assert!(Instant::now() < deadline, "{n} entries never stored in redis");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn cache_stats(app: &TestApp, token: &str) -> Value {
    let r = app.call("GET", "/api/admin/cache", Some(token), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"].clone()
}

/// Two attached nodes on one database and an admin token.
async fn two_nodes(redis: &RedisServer) -> (TestApp, TestApp, String) {
    let a = node(&redis.url(), None).await;
    let b = node(&redis.url(), Some(&a)).await;
    redis_status(&a, "ok").await;
    redis_status(&b, "ok").await;
    let token = admin(&a).await;
    (a, b, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_entries_and_hear_each_others_changes() {
    let redis = RedisServer::start();
    let (a, b, token) = two_nodes(&redis).await;

    let first = a.get(DETAIL).await;
    assert_eq!((first.status, first.header("x-cache")), (200, Some("miss")));
    // stored in Redis in the background: the other node finds it there, byte for byte
    stored(&a, &token, 1).await;
    let shared = b.get(DETAIL).await;
    assert_eq!(shared.header("x-cache"), Some("hit-l2"));
    assert_eq!(shared.body, first.body);
    assert_eq!(shared.header("etag"), first.header("etag"));
    assert_eq!(b.get(DETAIL).await.header("x-cache"), Some("hit-l1"));
    let gz = b.get_with(DETAIL, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));

    // a third node that has not read the product yet
    let c = node(&redis.url(), Some(&a)).await;
    redis_status(&c, "ok").await;
    let old = price(&first);
    set_price(&a, &token, old + 1000).await;
    // a node whose first read goes to Redis: Redis refuses the entry the change made stale
    let rc = c.get(DETAIL).await;
    assert_eq!((price(&rc), rc.header("x-cache")), (old + 1000, Some("miss")));
    // the node that made the change: at once
    assert_eq!(price(&a.get(DETAIL).await), old + 1000);
    // a node that holds the old response in L1 drops it when the invalidation arrives,
    // and never serves it again
    eventually(&b, DETAIL, "b hears the change", |r| price(r) == old + 1000).await;
    for _ in 0..20 {
        assert_eq!(price(&b.get(DETAIL).await), old + 1000);
    }

    let sa = cache_stats(&a, &token).await;
    let sb = cache_stats(&b, &token).await;
    assert_eq!(sb["l2"]["status"], "ok");
    assert!(sb["l2"]["hits"].as_u64().unwrap() >= 1, "{sb}");
    assert!(sa["l2"]["stores"].as_u64().unwrap() >= 1, "{sa}");
    assert!(sa["l2"]["invalidations_published"].as_u64().unwrap() >= 1, "{sa}");
    assert!(sb["l2"]["invalidations_received"].as_u64().unwrap() >= 1, "{sb}");
    assert!(sb["l2"]["server"]["keys"].as_u64().unwrap() >= 1, "{sb}");

    // an operator's flush on one node empties every node and Redis
    assert_eq!(b.get(DETAIL).await.header("x-cache"), Some("hit-l1"));
    let r = a.call("DELETE", "/api/admin/cache", Some(&token), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(&b, DETAIL, "b drops everything", |r| r.header("x-cache") == Some("miss")).await;
    for bad in ["a%20b", "product:0", "listings", "product:x", "", "%20catalog"] {
        let r = a.call("DELETE", &format!("/api/admin/cache?tag={bad}"), Some(&token), None, &[]).await;
        assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{bad}");
    }

    c.stop().await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_fails_no_request() {
    let mut redis = RedisServer::start();
    let a = Arc::new(node(&redis.url(), None).await);
    let b = Arc::new(node(&redis.url(), Some(&a)).await);
    redis_status(&a, "ok").await;
    redis_status(&b, "ok").await;
    let token = admin(&a).await;
    let old = price(&a.get(DETAIL).await);

    let targets = [
        "/api/products",
        DETAIL,
        "/api/categories",
        "/api/brands",
        "/api/products?sort=price_asc",
        "/api/products/aurora-wireless-headphones",
        "/api/search?q=wireless",
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut readers = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        readers.push(tokio::spawn(async move {
            let mut n = i;
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = app.get(targets[n % targets.len()]).await;
                n += 1;
                if r.status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    failures.push(format!("{} {}", r.status, r.text()));
                }
            }
            failures
        }));
    }
    // some load served through Redis, then Redis dies under it
    let served = |n: u64| {
        let ok = ok.clone();
        async move {
            let mark = ok.load(Ordering::Relaxed);
            common::wait_for("readers served", 20, || ok.load(Ordering::Relaxed) >= mark + n).await;
        }
    };
    served(50).await;
    let before = ok.load(Ordering::Relaxed);
    redis.kill();
    let checks = redis_status(&a, "degraded").await;
    assert_eq!(checks["database"], "ok");
    redis_status(&b, "degraded").await;
    // a change while Redis is away: the node that made it shows it at once
    set_price(&a, &token, old + 500).await;
    assert_eq!(price(&a.get(DETAIL).await), old + 500);
    served(50).await;
    let during = ok.load(Ordering::Relaxed) - before;
    redis.restart();
    redis_status(&a, "ok").await;
    redis_status(&b, "ok").await;
    served(50).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for r in readers {
        failures.extend(r.await.unwrap());
    }
    assert!(failures.is_empty(), "{} failed requests, e.g. {:?}", failures.len(), &failures[..failures.len().min(3)]);
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(before > 0 && during > 0, "requests were served before ({before}) and while Redis was down ({during})");

    // re-attached: b dropped what it may have missed, and hears changes again
    assert_eq!(price(&b.get(DETAIL).await), old + 500);
    set_price(&a, &token, old + 700).await;
    eventually(&b, DETAIL, "b hears changes after Redis came back", |r| price(r) == old + 700).await;

    let b = Arc::into_inner(b).unwrap();
    b.stop().await;
    Arc::into_inner(a).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_redis_never_heard_of_orphans_every_shared_entry() {
    let redis = RedisServer::start();
    let (a, b, token) = two_nodes(&redis).await;
    let old = price(&a.get(DETAIL).await);
    stored(&a, &token, 1).await;
    assert_eq!(b.get(DETAIL).await.header("x-cache"), Some("hit-l2"));

    // Redis hangs: the commit is acknowledged without it (bounded wait), so Redis still
    // holds the old entry with nothing saying it is stale
    redis.pause(true);
    let started = Instant::now();
    set_price(&a, &token, old + 300).await;
    assert!(started.elapsed() < Duration::from_secs(2), "the writer waited {:?} for a hung redis", started.elapsed());
    assert_eq!(price(&a.get(DETAIL).await), old + 300);
    redis.pause(false);
    redis_status(&a, "ok").await;

    // a node started now reads through Redis: the old entry must be gone (a new generation)
    let c = node(&redis.url(), Some(&a)).await;
    redis_status(&c, "ok").await;
    assert_eq!(price(&c.get(DETAIL).await), old + 300);
    // and b, which could not hear the change, dropped its L1 when it re-attached
    redis_status(&b, "ok").await;
    assert_eq!(price(&b.get(DETAIL).await), old + 300);
    let sa = cache_stats(&a, &token).await;
    assert!(sa["l2"]["invalidations_unpublished"].as_u64().unwrap() >= 1 || sa["l2"]["errors"].as_u64().unwrap() >= 1);

    c.stop().await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_redis_is_unreachable_serves_and_says_degraded() {
    // a port nobody listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = node(&format!("redis://127.0.0.1:{port}/"), None).await;
    let checks = redis_status(&app, "degraded").await;
    assert_eq!((checks["database"].as_str(), checks["writer"].as_str()), (Some("ok"), Some("ok")));
    assert_eq!(app.get(DETAIL).await.header("x-cache"), Some("miss"));
    assert_eq!(app.get(DETAIL).await.header("x-cache"), Some("hit-l1"));
    app.stop().await;

    let bad =
        storefront::config::Config { redis_url: Some("redis://127.0.0.1:notaport/".into()), ..Default::default() };
    assert!(bad.validate().is_err());
    let bad = storefront::config::Config { redis_prefix: "a b".into(), ..Default::default() };
    assert!(bad.validate().is_err());
}

/// Deletes `pattern`'s keys from Redis, as its eviction under memory pressure would.
fn evict(redis: &RedisServer, pattern: &str) -> usize {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(&mut conn).unwrap();
    for k in &keys {
        let _: () = redis::cmd("DEL").arg(k).query(&mut conn).unwrap();
    }
    keys.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_stamps_and_clock_never_let_a_stale_entry_out() {
    let redis = RedisServer::start();
    let (a, b, token) = two_nodes(&redis).await;
    let first = a.get(DETAIL).await;
    stored(&a, &token, 1).await;
    let old = price(&first);
    set_price(&a, &token, old + 1000).await;
    // Redis drops the change's stamps and the clock under memory pressure, keeping the
    // (now stale) entry
    assert!(evict(&redis, "storefront:t:*") > 0, "stamps were there to evict");
    assert_eq!(evict(&redis, "storefront:clock"), 1);
    let c = node(&redis.url(), Some(&a)).await;
    redis_status(&c, "ok").await;
    // a node that reads through Redis gets the new price, not the entry from before
    let r = c.get(DETAIL).await;
    assert_eq!(price(&r), old + 1000, "x-cache: {:?}", r.header("x-cache"));
    // and the tier goes on working: the fresh answer is stored and shared again
    stored(&c, &token, 1).await;
    let d = node(&redis.url(), Some(&a)).await;
    redis_status(&d, "ok").await;
    let r = d.get(DETAIL).await;
    assert_eq!((price(&r), r.header("x-cache")), (old + 1000, Some("hit-l2")));
    for app in [a, b, c, d] {
        app.stop().await;
    }
}
