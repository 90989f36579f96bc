//! Replicas through the real parts: a primary that runs Litestream's `replicate` to a
//! replica storage directory, replicas that restore and follow their own copy from it with
//! Litestream's follow mode, Redis shared by all. What a user must be able to count on:
//! reads on a replica come from its copy; writes sent to a replica are done by the primary
//! (client address and idempotency key passed on); a client reads its own write from any
//! node; a change shows on every node, caches and search index included, and no node
//! hands another an entry older than a change it has seen; lag is measured and bounds
//! readiness; a primary that is gone is a prompt 503, never a hang.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::redis_server::RedisServer;
use crate::common::{self, TestApp};
use crate::redis_tier::{eventually, price, set_price};

const DETAIL: &str = "/api/products/boom-speaker";

fn litestream_path() -> String {
    common::venv_tool("litestream").to_string_lossy().into_owned()
}

/// A primary replicating to a fresh storage directory, and the directory.
async fn primary(redis: Option<&RedisServer>) -> (TestApp, tempfile::TempDir) {
    let storage = tempfile::tempdir().unwrap();
    let url = format!("file://{}", storage.path().display());
    let redis = redis.map(|r| r.url());
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(move |c| {
            c.replicate_to = Some(url);
            c.litestream = litestream_path();
            c.replication_interval_ms = 50;
            // replicas forward their clients' addresses
            c.trusted_proxies = vec!["127.0.0.1/32".into()];
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
            c.redis_url = redis;
        })
        .start()
        .await;
    // the first sync has reached the storage before a replica restores from it
    let level0 = storage.path().join("ltx/0");
    common::wait_for("litestream's first sync", 30, || {
        std::fs::read_dir(&level0).is_ok_and(|mut d| d.next().is_some())
    })
    .await;
    (app, storage)
}

/// A replica of `primary` with its copy at `copy` (restored from `storage`).
async fn replica(
    primary: &TestApp,
    storage: &Path,
    copy: &Path,
    tweak: impl FnOnce(&mut storefront::config::Config),
) -> TestApp {
    let (of, from) = (format!("http://{}", primary.addr), format!("file://{}", storage.display()));
    let redis = primary.state.config.redis_url.clone();
    TestApp::builder()
        .same_data_as_path(copy)
        .config(move |c| {
            c.replica_of = Some(of);
            c.replicate_from = Some(from);
            c.litestream = litestream_path();
            c.replication_interval_ms = 50;
            // its own clients come through a proxy on loopback in some tests
            c.trusted_proxies = vec!["127.0.0.1/32".into()];
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
            c.redis_url = redis;
            tweak(c);
        })
        .start()
        .await
}

async fn ready_checks(app: &TestApp) -> (u16, Value) {
    let r = app.get("/ready").await;
    let checks = if r.status == 200 {
        r.json()["data"]["checks"].clone()
    } else {
        r.json()["error"]["details"]["checks"].clone()
    };
    (r.status, checks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_reads_its_copy_and_the_primary_takes_its_writes() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |_| {}).await;

    // reads: the same catalog, from its own file
    assert_eq!(r.json(DETAIL).await, primary.json(DETAIL).await);
    let (status, checks) = ready_checks(&r).await;
    assert_eq!(status, 200, "{checks}");
    assert_eq!(checks["writer"], "primary");
    assert_eq!(checks["replication"]["state"], "ok");
    assert!(checks["replica_lag_ms"].is_u64(), "{checks}");

    // a write sent to the replica is done by the primary, with the client's address (the
    // replica trusts its proxy on loopback and passes the client on)
    let body = json!({"email": "grace.h@example.com", "password": "correct horse 1", "name": "Grace"});
    let w = r.call("POST", "/api/auth/register", None, Some(&body), &[("X-Forwarded-For", "203.0.113.9")]).await;
    assert_eq!(w.status, 201, "{}", w.text());
    let token = w.json()["data"]["token"].as_str().unwrap().to_owned();
    let at = common::commit_position(&w);
    assert!(w.headers.iter().any(|(k, v)| k == "set-cookie" && v.starts_with(&format!("sf_commit={at}"))));
    let addr: String = primary
        .conn()
        .query_row("SELECT client_addr FROM sessions ORDER BY id DESC LIMIT 1", [], |row| row.get(0))
        .unwrap();
    assert_eq!(addr, "203.0.113.9");

    // read-your-writes: the position (header or cookie) is served from a copy that has it
    let me = r.call("GET", "/api/me", Some(&token), None, &[("X-Storefront-Commit", &at)]).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["data"]["email"], "grace.h@example.com");
    let cookie = format!("theme=dark; sf_commit={at}");
    let me = r.call("GET", "/api/me", Some(&token), None, &[("Cookie", &cookie)]).await;
    assert_eq!(me.status, 200, "{}", me.text());

    // the idempotency key reaches the primary: a retried checkout is one order
    r.call("GET", "/api/cart", Some(&token), None, &[("X-Storefront-Commit", &at)]).await;
    let line = json!({"product_id": "3", "quantity": 1});
    let c = r.call("POST", "/api/cart", Some(&token), Some(&line), &[]).await;
    assert_eq!(c.status, 201, "{}", c.text());
    let key = [("Idempotency-Key", "replica-retry-1")];
    let first = r.call("POST", "/api/checkout", Some(&token), Some(&common::checkout_body()), &key).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let again = r.call("POST", "/api/checkout", Some(&token), Some(&common::checkout_body()), &key).await;
    assert_eq!(again.json()["data"]["order_id"], first.json()["data"]["order_id"], "{}", again.text());
    let orders: i64 = primary
        .conn()
        .query_row(
            "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = 'grace.h@example.com'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(orders, 1);
    // the order reads back from the replica with the checkout's position
    let id = first.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let mine = r
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some(&token),
            None,
            &[("X-Storefront-Commit", &common::commit_position(&first))],
        )
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text());

    // the replica's copy is written by Litestream only: nothing of the above was written there
    let copy_sessions: i64 = r
        .conn()
        .query_row("SELECT count(*) FROM sessions WHERE client_addr = '203.0.113.9'", [], |row| row.get(0))
        .unwrap();
    let primary_sessions: i64 = primary
        .conn()
        .query_row("SELECT count(*) FROM sessions WHERE client_addr = '203.0.113.9'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(copy_sessions, primary_sessions, "the copy holds the primary's rows");
    r.stop().await;
    primary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_shows_on_every_replica_caches_and_search_included() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let a = replica(&primary, storage.path(), &dir.path().join("a.db"), |_| {}).await;
    let b = replica(&primary, storage.path(), &dir.path().join("b.db"), |_| {}).await;
    let token = primary.admin("root@example.com").await;
    for node in [&a, &b] {
        // cached on each replica
        price(&node.get(DETAIL).await);
        let hit = node.get(DETAIL).await;
        assert_eq!(hit.header("x-cache"), Some("hit-l1"));
        assert_eq!(price(&hit), 4999);
    }
    let w = set_price(&primary, &token, 3111).await;
    let at = common::commit_position(&w);
    // with the position, the first read already has it; without, it arrives on its own
    assert_eq!(price(&a.get_with(DETAIL, &[("X-Storefront-Commit", &at)]).await), 3111);
    eventually(&b, DETAIL, "the new price on the other replica", |r| r.status == 200 && price(r) == 3111).await;

    // a new product is found by each replica's search index
    let p = json!({"sku": "ZEB-1", "name": "Zebraphone Deluxe", "category_id": "6", "brand_id": "2",
                   "base_price": 12345, "quantity": 5, "description": "A striped phone."});
    let created = primary.call("POST", "/api/admin/products", Some(&token), Some(&p), &[]).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let at = common::commit_position(&created);
    for node in [&a, &b] {
        let s = node.get_with("/api/search?q=zebraphone", &[("X-Storefront-Commit", &at)]).await;
        assert_eq!(s.status, 200, "{}", s.text());
        assert_eq!(s.json()["data"][0]["slug"], "zebraphone-deluxe", "{}", s.text());
        assert!(node.state.search.is_ready(), "answered by the in-memory index");
    }
    a.stop().await;
    b.stop().await;
    primary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_is_measured_and_a_replica_too_far_behind_is_not_ready() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |c| c.replica_max_lag_ms = 300).await;
    let token = primary.admin("root@example.com").await;
    let (status, checks) = ready_checks(&r).await;
    assert_eq!(status, 200, "{checks}");
    let metrics = r.get("/metrics").await.text();
    assert!(metrics.contains("storefront_replica_lag_seconds "), "{metrics}");

    // replication paused on the primary: its commits stop reaching the storage
    let pid = primary.state.replication.litestream().unwrap().pid().expect("litestream runs");
    common::signal(pid, "STOP");
    let w = set_price(&primary, &token, 2222).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let checks = loop {
        let (status, checks) = ready_checks(&r).await;
        if status == 503 {
            break checks;
        }
        assert!(Instant::now() < deadline, "the replica stayed ready: {checks}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(checks["replica_lag_ms"].as_u64().unwrap() > 300, "{checks}");
    // a read that asks for the new position is served by the primary after the wait
    let read = r.get_with(DETAIL, &[("X-Storefront-Commit", &common::commit_position(&w))]).await;
    assert_eq!(price(&read), 2222);
    let lag: f64 = r
        .get("/metrics")
        .await
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("storefront_replica_lag_seconds "))
        .expect("the lag metric")
        .parse()
        .unwrap();
    assert!(lag > 0.3, "lag {lag}");

    // resumed: the replica catches up by itself and is ready again
    common::signal(pid, "CONT");
    eventually(&r, "/ready", "ready again", |resp| resp.status == 200).await;
    assert_eq!(price(&r.get(DETAIL).await), 2222);
    r.stop().await;
    primary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_restarted_or_started_late_catches_up() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let token = primary.admin("root@example.com").await;
    let r = replica(&primary, storage.path(), &copy, |_| {}).await;
    price(&r.get(DETAIL).await);
    r.stop().await;
    // changes while it is down
    set_price(&primary, &token, 1234).await;
    let r = replica(&primary, storage.path(), &copy, |_| {}).await;
    eventually(&r, DETAIL, "the change made while the replica was down", |resp| {
        resp.status == 200 && price(resp) == 1234
    })
    .await;
    r.stop().await;
    primary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_primary_a_replica_refuses_writes_promptly_and_still_reads() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |_| {}).await;
    let before = common::digest(&r.conn());
    primary.stop().await;
    let started = Instant::now();
    let body = json!({"email": "late@example.com", "password": "correct horse 1", "name": "Late"});
    let w = r.call("POST", "/api/auth/register", None, Some(&body), &[]).await;
    assert_eq!(w.status, 503, "{}", w.text());
    assert_eq!(w.error_code(), "primary_unavailable");
    assert_eq!(w.header("retry-after"), Some("1"));
    assert!(started.elapsed() < Duration::from_secs(5), "answered promptly: {:?}", started.elapsed());
    // reads go on from the copy, and nothing changed in it
    assert_eq!(price(&r.get(DETAIL).await), 4999);
    assert_eq!(common::digest(&r.conn()), before);
    let (_, checks) = ready_checks(&r).await;
    assert!(checks["primary"] == "unreachable" || checks["primary"] == "ok", "{checks}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_commit_position_is_refused_on_every_node() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |_| {}).await;
    for node in [&primary, &r] {
        for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
            let resp = node.get_with(DETAIL, &[("X-Storefront-Commit", bad)]).await;
            assert_eq!(resp.status, 400, "{bad}: {}", resp.text());
            assert_eq!(resp.error_code(), "invalid_commit");
        }
        // a malformed cookie is only ignored (cookies are often someone else's)
        assert_eq!(node.get_with(DETAIL, &[("Cookie", "sf_commit=zzz")]).await.status, 200);
    }
    r.stop().await;
    primary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_behind_never_hands_redis_an_entry_older_than_a_change() {
    let redis = RedisServer::start();
    let (primary, storage) = primary(Some(&redis)).await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |_| {}).await;
    let token = primary.admin("root@example.com").await;
    crate::redis_tier::redis_status(&primary, "ok").await;
    crate::redis_tier::redis_status(&r, "ok").await;

    // the replica falls behind: the primary's replication is paused
    let l2 = r.state.cache.l2().unwrap().clone();
    // cached in the replica's L1 before the change
    price(&r.get(DETAIL).await);
    assert_eq!(r.get(DETAIL).await.header("x-cache"), Some("hit-l1"));
    let heard = l2.stats().await.invalidations_received;
    let pid = primary.state.replication.litestream().unwrap().pid().expect("litestream runs");
    common::signal(pid, "STOP");
    set_price(&primary, &token, 2500).await;
    // the replica hears of the change (Redis) before its copy has it
    common::until("the invalidation to reach the replica", 10, || async {
        l2.stats().await.invalidations_received > heard
    })
    .await;
    // the replica loads the old row from its copy (right for a client that asked nothing
    // of it) and offers it to Redis, which refuses it: the tag was bumped at a later
    // position than the copy holds
    let offered = |s: storefront::cache::L2Stats| s.stores + s.stores_refused_stale;
    let before = offered(l2.stats().await);
    let old = r.get(DETAIL).await;
    assert_eq!(price(&old), 4999);
    assert_eq!(old.header("x-cache"), Some("miss"));
    common::until("the replica's store to reach redis", 10, || async { offered(l2.stats().await) > before }).await;
    assert_eq!(l2.stats().await.stores_refused_stale, 1, "refused");
    // nor does the replica keep it: the next read loads again (from its copy, still old)
    let again = r.get(DETAIL).await;
    assert_eq!((price(&again), again.header("x-cache")), (4999, Some("miss")));
    // so the primary (and any node) reads the new price, never the replica's old one
    let fresh = primary.get(DETAIL).await;
    assert_eq!(price(&fresh), 2500, "{:?}", fresh.header("x-cache"));
    common::signal(pid, "CONT");
    eventually(&r, DETAIL, "the replica catching up", |resp| resp.status == 200 && price(resp) == 2500).await;
    r.stop().await;
    primary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_can_follow_a_copy_kept_by_a_litestream_sidecar() {
    let (primary, storage) = primary(None).await;
    let token = primary.admin("root@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    // the sidecar: Litestream's follow mode, run by someone else
    let _sidecar = common::Reaped(
        std::process::Command::new(litestream_path())
            .args(["restore", "-f", "-follow-interval", "50ms", "-o"])
            .arg(&copy)
            .arg(format!("file://{}", storage.path().display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let r = replica(&primary, storage.path(), &copy, |c| c.replicate_from = None).await;
    let (status, checks) = ready_checks(&r).await;
    assert_eq!(status, 200, "{checks}");
    assert!(checks.get("replication").is_none(), "no Litestream of its own: {checks}");
    let w = set_price(&primary, &token, 4321).await;
    assert_eq!(price(&r.get_with(DETAIL, &[("X-Storefront-Commit", &common::commit_position(&w))]).await), 4321);
    r.stop().await;
    primary.stop().await;
}

/// Waits anyone can trigger are bounded: a position beyond anything the primary has
/// reached counts as the primary's head (one probe), so the replica answers from its copy
/// at once instead of waiting `replica_wait_ms` and handing the read to the primary; and a
/// replica applies its own quotas to writes before forwarding them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_positions_cost_no_wait_and_replicas_apply_their_quotas() {
    let (primary, storage) = primary(None).await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |c| {
        c.replica_wait_ms = 10_000;
        c.rate_limits_enabled = true;
        c.rate_limits.register.per_address = storefront::limits::Rate::parse("2/1h").ok();
    })
    .await;
    let route = [("method", "GET"), ("route", "/api/products/{slug}"), ("status", "200")];
    let on_primary = || async {
        crate::observability::sample(
            &crate::observability::scrape(&primary).await,
            "storefront_http_requests_total",
            &route,
        )
    };
    let before = on_primary().await;
    for claim in ["18446744073709551615", "9223372036854775807", "4000000000"] {
        let started = std::time::Instant::now();
        let resp = r.get_with(DETAIL, &[("X-Storefront-Commit", claim)]).await;
        assert_eq!(resp.status, 200, "{claim}: {}", resp.text());
        assert!(started.elapsed() < Duration::from_secs(5), "{claim}: waited {:?}", started.elapsed());
    }
    assert_eq!(on_primary().await, before, "the replica answered from its copy, not the primary");
    // the replica's quota stops the third registration from one client before it forwards
    let mut statuses = Vec::new();
    for i in 0..3 {
        let body = json!({"email": format!("quota{i}@example.com"), "password": "correct horse 1", "name": "Q"});
        let resp =
            r.call("POST", "/api/auth/register", None, Some(&body), &[("X-Forwarded-For", "198.51.100.30")]).await;
        statuses.push(resp.status);
    }
    assert_eq!(statuses, [201, 201, 429], "{statuses:?}");
    let registered: Vec<i64> =
        common::column(&primary.conn(), "SELECT count(*) FROM customers WHERE email LIKE 'quota%'");
    assert_eq!(registered[0], 2, "the refused registration never reached the primary");
    r.stop().await;
    primary.stop().await;
}

/// An upload forwarded by a replica is bounded by its body's idle time, not cut at
/// `request_timeout_secs`: an import whose file takes longer than that to arrive still
/// reaches the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upload_through_a_replica_is_not_cut_at_the_request_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (primary, storage) = primary(None).await;
    let admin = primary.admin("uploader@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let r = replica(&primary, storage.path(), &dir.path().join("copy.db"), |c| c.request_timeout_secs = 1).await;
    let rows =
        ["sku,name,category,price,stock\n", "SLOW-1,Slow Lamp,kitchen,1000,3\n", "SLOW-2,Slow Mug,kitchen,500,4\n"];
    let len: usize = rows.iter().map(|s| s.len()).sum();
    let mut s = tokio::net::TcpStream::connect(r.addr).await.unwrap();
    let head = format!(
        "POST /api/admin/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: text/csv\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // the file arrives over about two seconds, a piece at a time (well within the body's
    // idle time, past the request time)
    for row in rows {
        s.write_all(row.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    r.stop().await;
    primary.stop().await;
}
