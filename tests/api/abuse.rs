//! Abuse, black-box: floods and guesses through real HTTP, each ending with the server
//! ready and nothing lost. Clients at different addresses are told apart through
//! `X-Forwarded-For` from a trusted proxy (the loopback), as behind a load balancer.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::redis_server::RedisServer;
use crate::common::{column, send, Resp, TestApp};
use crate::observability::{sample, scrape};

/// A server behind a trusted proxy (127.0.0.1), with `f` applied to its configuration.
async fn behind_proxy(f: impl FnOnce(&mut storefront::config::Config)) -> TestApp {
    TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.trusted_proxies = vec!["127.0.0.1".into()];
            c.rate_limits_enabled = true;
            f(c);
        })
        .start()
        .await
}

/// A JSON call from the client at `ip`.
async fn from(app: &TestApp, ip: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Resp {
    app.call(method, path, token, body, &[("X-Forwarded-For", ip)]).await
}

fn rate(s: &str) -> Option<storefront::limits::Rate> {
    Some(storefront::limits::Rate::parse(s).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_reach_the_password_only_as_often_as_allowed() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    app.register("target@example.com").await;
    let wrong = json!({"email": "target@example.com", "password": "guess guess"});
    let tries: Vec<_> = (0..40)
        .map(|_| {
            let (addr, body) = (app.addr, serde_json::to_vec(&wrong).unwrap());
            tokio::spawn(async move {
                send(addr, "POST", b"/api/auth/login", &[("Content-Type", "application/json")], &body).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        let r = t.await.unwrap();
        if r.status == 429 {
            assert!(r.header("retry-after").is_some());
        }
        statuses.push(r.status);
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 5, "only auth_failures_per_account guesses are checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 35);
    let failures: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM auth_attempts WHERE succeeded = 0");
    assert_eq!(failures[0], 5, "refused guesses are not attempts");
    assert_eq!(app.get("/ready").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_refused_at_the_hashing_queue_not_queued_without_bound() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.password_hash_queue = 3;
            c.auth_failures_per_address = 1000;
        })
        .start()
        .await;
    app.register("real@example.com").await;
    // a burst holds both hashing slots
    let (a, b) = (app.state.hasher.occupy().await, app.state.hasher.occupy().await);
    let logins: Vec<_> = (0..10)
        .map(|i| {
            let body = serde_json::to_vec(&json!({"email": format!("bot{i}@example.com"), "password": "x"})).unwrap();
            let addr = app.addr;
            tokio::spawn(async move {
                send(addr, "POST", b"/api/auth/login", &[("Content-Type", "application/json")], &body).await
            })
        })
        .collect();
    // three wait for a slot; the other seven are refused at once, while the slots are held
    let mut waiting = logins;
    let mut refused = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while refused < 7 {
        assert!(tokio::time::Instant::now() < deadline, "7 refusals while the slots are held ({refused} so far)");
        let mut still = Vec::new();
        for l in waiting {
            if l.is_finished() {
                let r = l.await.unwrap();
                assert_eq!(r.status, 503, "{}", r.text());
                assert!(r.header("retry-after").is_some());
                refused += 1;
            } else {
                still.push(l);
            }
        }
        waiting = still;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(waiting.len(), 3);
    drop((a, b));
    for l in waiting {
        assert_eq!(l.await.unwrap().status, 401, "the queued ones are answered once a slot is free");
    }
    let ok = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"email": "real@example.com", "password": "correct horse 1"})),
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "a real customer logs in after the flood");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_reset_codes_lock_out_their_sender_only() {
    let app = behind_proxy(|c| {
        c.auth_failures_per_address = 5;
        c.rate_limits_enabled = false; // the failure throttle alone
    })
    .await;
    app.register("lee@example.com").await;
    let r = from(
        &app,
        "198.51.100.7",
        "POST",
        "/api/auth/password/forgot",
        None,
        Some(&json!({"email": "lee@example.com"})),
    )
    .await;
    assert_eq!(r.status, 202);
    let mails = app.reset_mails();
    let token = mails[0].split("Your reset code: ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    // a stranger guesses codes
    let mut statuses = Vec::new();
    for i in 0..8 {
        let guess = json!({"token": format!("guess-{i}"), "password": "brand new pass"});
        statuses.push(from(&app, "203.0.113.66", "POST", "/api/auth/password/reset", None, Some(&guess)).await.status);
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429, 429, 429]);
    // the customer, elsewhere, is not locked out
    let reset = json!({"token": token, "password": "brand new pass"});
    let r = from(&app, "198.51.100.7", "POST", "/api/auth/password/reset", None, Some(&reset)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_sessions_are_limited_per_address_and_per_ipv6_64() {
    let app = behind_proxy(|c| c.rate_limits.guest.per_address = rate("3/1h")).await;
    for i in 1..=3 {
        let r = from(&app, &format!("2001:db8:1:2::{i}"), "POST", "/api/auth/guest", None, None).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.header("ratelimit-policy"), Some("3;w=3600"));
        let remaining = format!("remaining={}", 3 - i);
        assert!(r.header("ratelimit").unwrap().contains(&remaining), "{:?}", r.header("ratelimit"));
    }
    // the same /64, another address in it
    let r = from(&app, "2001:db8:1:2:ffff::9", "POST", "/api/auth/guest", None, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "rate_limited");
    assert_eq!(r.json()["error"]["details"]["rule"], "guest");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1200).contains(&retry), "one allowance comes back in 20 minutes: {retry}");
    assert!(r.header("ratelimit").unwrap().starts_with("limit=3, remaining=0"));
    // other clients are not affected
    assert_eq!(from(&app, "2001:db8:1:3::1", "POST", "/api/auth/guest", None, None).await.status, 201);
    assert_eq!(from(&app, "203.0.113.1", "POST", "/api/auth/guest", None, None).await.status, 201);
    // an untrusted peer cannot pick its address: without trusted proxies the header is noise
    let sessions: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM sessions");
    assert_eq!(sessions[0], 5, "a refused request creates nothing");
    let m = scrape(&app).await;
    assert_eq!(sample(&m, "storefront_rate_limited_total", &[("rule", "guest")]), 1.0);
    assert_eq!(sample(&m, "storefront_rate_limited_total", &[("rule", "login")]), 0.0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.rate_limits_enabled = true;
            c.rate_limits.guest.per_address = rate("2/1h");
        })
        .start()
        .await;
    // every request claims another address; the server sees the loopback each time
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(from(&app, &format!("203.0.113.{i}"), "POST", "/api/auth/guest", None, None).await.status);
    }
    assert_eq!(statuses, [201, 201, 429, 429]);
    // a proxy this node does not trust is said once, to administrators in /ready
    let admin = app.admin("ops@example.com").await;
    let ready = app.call("GET", "/ready", Some(&admin), None, &[]).await;
    let said = ready.json()["data"]["checks"]["forwarded_for"].as_str().unwrap_or_default().to_owned();
    assert!(said.contains("127.0.0.1") && said.contains("trusted_proxies"), "{}", ready.text());
    assert!(app.get("/ready").await.json()["data"]["checks"].get("forwarded_for").is_none(), "not to the public");
    app.stop().await;
}

/// The operator's own address (`limit_exempt`, by default loopback) is not one client
/// held to per-address limits; a client a trusted proxy names is, even when the proxy runs
/// on the box; per-session limits hold for everybody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_own_address_is_not_held_to_per_address_limits() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            let defaults = storefront::config::Config::default();
            c.trusted_proxies = defaults.trusted_proxies;
            c.limit_exempt = defaults.limit_exempt;
            c.rate_limits_enabled = true;
            c.rate_limits.guest.per_address = rate("2/1h");
            c.rate_limits.cart_write.per_address = rate("1000/1m");
            c.rate_limits.cart_write.per_account = rate("2/1m");
            c.auth_failures_per_address = 2;
        })
        .start()
        .await;
    // from the box itself: more guests than one address may open
    for _ in 0..4 {
        assert_eq!(app.call("POST", "/api/auth/guest", None, None, &[]).await.status, 201);
    }
    // a client named by a proxy on the box is held to them
    let mut named = Vec::new();
    for _ in 0..3 {
        named.push(from(&app, "198.51.100.20", "POST", "/api/auth/guest", None, None).await.status);
    }
    assert_eq!(named, [201, 201, 429]);
    // nor is the box locked out by failed logins (another address is)
    // (each attempt names another account: the per-account lockout is not what is tested)
    let wrong = |i: usize| json!({"email": format!("nobody{i}@example.com"), "password": "wrong password"});
    for i in 0..4 {
        assert_eq!(app.call("POST", "/api/auth/login", None, Some(&wrong(i)), &[]).await.status, 401);
    }
    let mut named = Vec::new();
    for i in 10..13 {
        named.push(from(&app, "198.51.100.21", "POST", "/api/auth/login", None, Some(&wrong(i))).await.status);
    }
    assert_eq!(named, [401, 401, 429]);
    // per-session limits still hold for the box
    let guest = app.guest().await;
    let add = json!({"product_id": "1", "quantity": 1});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.call("POST", "/api/cart", Some(&guest), Some(&add), &[]).await.status);
    }
    assert_eq!(statuses[2], 429, "{statuses:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_shared_through_redis_and_hold_per_node_without_it() {
    limits_shared_through_redis(64).await;
}

/// The limits reach Redis through the node's own handle, not through the cache's tier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_shared_through_redis_with_the_cache_off() {
    limits_shared_through_redis(0).await;
}

async fn limits_shared_through_redis(cache_mb: u64) {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let config = move |c: &mut storefront::config::Config| {
        c.cache_mb = cache_mb;
        c.redis_url = Some(url.clone());
        c.cache_warm_products = 0;
        c.rate_limits_enabled = true;
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.rate_limits.guest.per_address = rate("4/1h");
    };
    let a = TestApp::builder().fixture("small-catalog.sql").config(config.clone()).start().await;
    let b = TestApp::builder().same_data_as(&a).config(config).config(|c| c.search_index = false).start().await;
    for app in [&a, &b] {
        crate::redis_tier::redis_status(app, "ok").await;
    }
    let ip = "192.0.2.44";
    assert_eq!(from(&a, ip, "POST", "/api/auth/guest", None, None).await.status, 201);
    assert_eq!(from(&b, ip, "POST", "/api/auth/guest", None, None).await.status, 201);
    assert_eq!(from(&a, ip, "POST", "/api/auth/guest", None, None).await.status, 201);
    assert_eq!(from(&b, ip, "POST", "/api/auth/guest", None, None).await.status, 201);
    // the fifth, on either node, is over the shared quota
    assert_eq!(from(&b, ip, "POST", "/api/auth/guest", None, None).await.status, 429);
    assert_eq!(from(&a, ip, "POST", "/api/auth/guest", None, None).await.status, 429);
    // Redis goes away: each node limits on its own (its own quota, fresh), never fails
    redis.kill();
    for app in [&a, &b] {
        crate::redis_tier::redis_status(app, "degraded").await;
    }
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(from(&a, ip, "POST", "/api/auth/guest", None, None).await.status);
        }
        v
    };
    assert_eq!(statuses, [201, 201, 201, 201, 429]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_session_cannot_move_the_account_email() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let owner = app.register("owner@example.com").await;
    let login = json!({"email": "owner@example.com", "password": "correct horse 1"});
    let stolen = app.call("POST", "/api/auth/login", None, Some(&login), &[]).await.json()["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // without the password: refused, nothing changes
    let r = app.call("PATCH", "/api/me", Some(&stolen), Some(&json!({"email": "thief@example.com"})), &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "password_required".into()));
    assert!(r.json()["error"]["details"]["current_password"].is_string());
    // with a wrong one: refused, and counted against the account's throttle
    let wrong = json!({"email": "thief@example.com", "current_password": "guess"});
    let r = app.call("PATCH", "/api/me", Some(&stolen), Some(&wrong), &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "invalid_password".into()));
    let failures: Vec<i64> =
        column(&app.conn(), "SELECT count(*) FROM auth_attempts WHERE email = 'owner@example.com' AND succeeded = 0");
    assert_eq!(failures[0], 1);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.call("PATCH", "/api/me", Some(&stolen), Some(&wrong), &[]).await.status);
    }
    assert_eq!(statuses, [403, 403, 403, 403, 429], "the account's failures are throttled on this path too");
    let me = app.call("GET", "/api/me", Some(&owner), None, &[]).await.json();
    assert_eq!(me["data"]["email"], "owner@example.com");
    // a name needs no password
    let r = app.call("PATCH", "/api/me", Some(&owner), Some(&json!({"name": "Owen"})), &[]).await;
    assert_eq!(r.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_email_with_the_password_ends_the_other_sessions() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let laptop = app.register("mia@example.com").await;
    let login = json!({"email": "mia@example.com", "password": "correct horse 1"});
    let phone = app.call("POST", "/api/auth/login", None, Some(&login), &[]).await.json()["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = json!({"email": "mia.new@example.com", "current_password": "correct horse 1"});
    let r = app.call("PATCH", "/api/me", Some(&laptop), Some(&change), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["email"], "mia.new@example.com");
    assert_eq!(app.call("GET", "/api/me", Some(&laptop), None, &[]).await.status, 200, "this session goes on");
    assert_eq!(app.call("GET", "/api/me", Some(&phone), None, &[]).await.status, 401, "the others end");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carts_hold_a_bounded_number_of_lines_also_when_merged() {
    let app = TestApp::builder().seeded(60, 11).config(|c| c.cart_max_lines = 5).start().await;
    let products: Vec<i64> = column(
        &app.conn(),
        "SELECT p.id FROM products p WHERE p.status = 'active' AND NOT EXISTS (
             SELECT 1 FROM variants v JOIN inventory i ON i.variant_id = v.id
             WHERE v.product_id = p.id AND i.available < 5) ORDER BY p.id LIMIT 8",
    );
    assert_eq!(products.len(), 8, "the seeded catalog has products in stock");
    // a flood of distinct lines stops at the bound, and the refusals change nothing
    let flood = app.guest().await;
    for p in &products[..5] {
        app.add_to_cart(&flood, *p, 1).await;
    }
    let before = crate::common::digest(&app.conn());
    for p in &products[5..] {
        let body = json!({"product_id": p.to_string(), "quantity": 1});
        let r = app.call("POST", "/api/cart", Some(&flood), Some(&body), &[]).await;
        assert_eq!((r.status, r.error_code()), (409, "cart_full".into()));
    }
    assert_eq!(crate::common::digest(&app.conn()), before, "a refused line changes nothing");
    // more of a line already there is fine
    let cart = app.add_to_cart(&flood, products[0], 1).await;
    assert_eq!(cart["data"]["items"].as_array().unwrap().len(), 5);

    // a customer's cart of 4 meets a guest cart of 3 (one line in common) at login
    let customer = app.register("merge@example.com").await;
    for p in &products[..4] {
        app.add_to_cart(&customer, *p, 1).await;
    }
    let guest = app.guest().await;
    for p in &products[3..6] {
        app.add_to_cart(&guest, *p, 1).await;
    }
    let login = json!({"email": "merge@example.com", "password": "correct horse 1"});
    let r = app.call("POST", "/api/auth/login", Some(&guest), Some(&login), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["data"]["token"].as_str().unwrap().to_owned();
    let cart = app.call("GET", "/api/cart", Some(&token), None, &[]).await.json();
    let items = cart["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "merged up to the bound: {cart}");
    let qty = |p: i64| {
        items
            .iter()
            .find(|i| i["product_id"].as_str() == Some(p.to_string().as_str()))
            .map(|i| i["quantity"].as_i64().unwrap())
    };
    assert_eq!(qty(products[3]), Some(2), "the common line's quantities add up");
    assert_eq!(qty(products[4]), Some(1), "the guest's oldest other line joined");
    assert_eq!(qty(products[5]), None, "no room for the rest");
    assert_eq!(app.get("/ready").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_task_deletes_ended_sessions_old_carts_and_sent_mail() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.rate_limits_enabled = false).start().await;
    let live = app.guest().await;
    app.add_to_cart(&live, 3, 1).await;
    let customer = app.register("keeps@example.com").await;
    app.add_to_cart(&customer, 3, 1).await;
    // the past, written as it would have been (days ago)
    app.write(
        "INSERT INTO sessions(token_hash, customer_id, created_at, last_seen_at, expires_at, revoked_at) VALUES
           (randomblob(32), NULL, 0, 0, unixepoch('now', '-8 days') * 1000, NULL),
           (randomblob(32), 1, 0, 0, unixepoch('now', '+8 days') * 1000, unixepoch('now', '-8 days') * 1000),
           (randomblob(32), 1, 0, 0, unixepoch('now', '+8 days') * 1000, unixepoch('now', '-1 days') * 1000);
         INSERT INTO carts(session_id, customer_id, status, created_at, updated_at) VALUES
           (NULL, NULL, 'open', 0, unixepoch('now', '-31 days') * 1000),
           (NULL, 2, 'merged', 0, unixepoch('now', '-31 days') * 1000),
           (NULL, NULL, 'open', 0, unixepoch('now', '-2 days') * 1000);
         UPDATE carts SET updated_at = unixepoch('now', '-40 days') * 1000
           WHERE customer_id = (SELECT id FROM customers WHERE email = 'keeps@example.com');
         INSERT INTO mail_outbox(kind, to_email, subject, body, created_at, sent_at) VALUES
           ('x', 'a@b.co', 's', 'old and sent', 0, unixepoch('now', '-8 days') * 1000),
           ('x', 'a@b.co', 's', 'old, never sent', 0, NULL),
           ('x', 'a@b.co', 's', 'sent yesterday', 0, unixepoch('now', '-1 days') * 1000);",
    )
    .await;
    let count = |sql: &str| column::<i64>(&app.conn(), sql)[0];
    let (sessions, carts, mail) = (
        count("SELECT count(*) FROM sessions"),
        count("SELECT count(*) FROM carts"),
        count("SELECT count(*) FROM mail_outbox"),
    );
    // an export file older than its job's retention, and a fresh one
    let exports = storefront::bulk::exports_dir(&app.state.config);
    std::fs::create_dir_all(&exports).unwrap();
    let (stale, fresh) = (exports.join("export-1.csv"), exports.join("export-2.csv"));
    for f in [&stale, &fresh] {
        std::fs::write(f, "sku\n").unwrap();
    }
    let long_ago =
        std::time::SystemTime::now() - Duration::from_secs(app.state.config.jobs_keep_completed_hours * 3600 + 3600);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(long_ago).unwrap();
    let report = storefront::app::tasks::purge(&app.state).await.unwrap();
    assert_eq!(report["export_files"], 1, "{report}");
    assert!(!stale.exists() && fresh.exists(), "export files go with their jobs");
    assert_eq!(report["sessions"], 2, "{report}");
    assert_eq!(report["carts"], 2, "{report}");
    assert_eq!(report["sent_mail"], 1, "{report}");
    assert_eq!(count("SELECT count(*) FROM sessions"), sessions - 2);
    assert_eq!(count("SELECT count(*) FROM carts"), carts - 2);
    assert_eq!(count("SELECT count(*) FROM mail_outbox"), mail - 1);
    assert_eq!(count("SELECT count(*) FROM mail_outbox WHERE body = 'old, never sent'"), 1, "unsent mail waits");
    // the live sessions and carts work on, the customer's old open cart included
    assert_eq!(app.call("GET", "/api/cart", Some(&live), None, &[]).await.json()["data"]["item_count"], 1);
    assert_eq!(app.call("GET", "/api/cart", Some(&customer), None, &[]).await.json()["data"]["item_count"], 1);
    app.stop().await;
}

/// Reads what the server sends until it closes or `secs` pass (then `None`).
async fn read_to_close(stream: &mut tokio::net::TcpStream, secs: u64) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(secs), stream.read_to_end(&mut out)).await.ok()?.ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_are_served_meanwhile() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.request_body_timeout_secs = 1).start().await;
    // a body that stops half-way
    let mut slow_body = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow_body
        .write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
        .await
        .unwrap();
    // headers that never end
    let mut slow_head = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow_head.write_all(b"GET /api/products HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    assert_eq!(app.get("/ready").await.status, 200, "others are served while they dawdle");
    let answer = read_to_close(&mut slow_body, 15).await.expect("the slow body is answered and closed in time");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let answer = read_to_close(&mut slow_head, 15).await.expect("the slow header is closed in time");
    assert!(!answer.contains("200 OK"), "{answer}");
    assert_eq!(app.get("/ready").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_is_answered_503() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.request_timeout_secs = 1).start().await;
    // the writer is held: a write waits for it past the request's time
    let (mut gate, held) = crate::common::gate();
    let writer = app.state.db.writer.clone();
    let holder = tokio::spawn(async move {
        writer
            .run(move |_| {
                held.wait();
                Ok::<_, storefront::error::StoreError>(())
            })
            .await
    });
    gate.entered().await;
    let r = app.call("POST", "/api/auth/guest", None, None, &[]).await;
    assert_eq!((r.status, r.error_code()), (503, "timeout".into()));
    assert!(r.header("retry-after").is_some());
    gate.open();
    holder.await.unwrap().unwrap();
    assert_eq!(app.call("POST", "/api/auth/guest", None, None, &[]).await.status, 201);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_a_bounded_number_of_connections() {
    let app =
        TestApp::builder().fixture("small-catalog.sql").config(|c| c.max_connections_per_address = 3).start().await;
    // three keep-alive connections, each answered once and left open
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let r = crate::common::request_on(&mut s, "GET", "/health").await;
        assert_eq!(r.status, 200);
        open.push(s);
    }
    // a fourth is told and closed
    let mut fourth = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let answer = read_to_close(&mut fourth, 10).await.expect("closed at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections") && answer.to_ascii_lowercase().contains("retry-after: 5"));
    // one closes: room for another
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = crate::common::try_send(app.addr, "GET", b"/health", &[], b"").await {
            if r.status == 200 {
                break;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "a connection was freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

/// A buy-now of `quantity` boom speakers (stock 10) by `token` from `ip`.
async fn buy(app: &TestApp, ip: &str, token: &str, quantity: i64) -> Resp {
    let b = json!({"items": [{"product_id": "3", "quantity": quantity}], "shipping_address": crate::common::address(),
                   "payment_method": "card", "email": "buyer@example.com"});
    from(app, ip, "POST", "/api/orders", Some(token), Some(&b)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_orders_are_bounded_per_owner_and_per_address() {
    let app = behind_proxy(|c| {
        c.rate_limits_enabled = false; // the bounds on holding stock alone
        c.unpaid_orders_per_owner = 2;
        c.reserved_units_per_owner = 5;
        c.unpaid_orders_per_address = 3;
        c.reserved_units_per_address = 100;
    })
    .await;
    let reserved = || column::<i64>(&app.conn(), "SELECT reserved FROM inventory WHERE variant_id = 31")[0];
    let (a, b, c, d) = (app.guest().await, app.guest().await, app.guest().await, app.guest().await);
    let home = "198.51.100.1";
    let first = buy(&app, home, &a, 1).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(buy(&app, home, &a, 1).await.status, 201);
    // a third unpaid order of the same guest
    let r = buy(&app, home, &a, 1).await;
    assert_eq!((r.status, r.error_code()), (429, "too_many_unpaid_orders".into()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "until a guest's hold ends: {retry}");
    // another guest at the same address: the address's third is fine, its fourth is not
    assert_eq!(buy(&app, home, &b, 1).await.status, 201);
    let r = buy(&app, home, &c, 1).await;
    assert_eq!((r.status, r.error_code()), (429, "too_many_unpaid_orders".into()));
    assert_eq!(reserved(), 3, "refused orders reserve nothing");
    // elsewhere: units bound the holding too
    let r = buy(&app, "203.0.113.9", &d, 6).await;
    assert_eq!((r.status, r.error_code()), (429, "too_many_unpaid_orders".into()));
    assert_eq!(buy(&app, "203.0.113.9", &d, 5).await.status, 201);
    assert_eq!(reserved(), 8);
    // a guest's hold is shorter than a customer's
    let id = first.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let hold: Vec<i64> = column(&app.conn(), &format!("SELECT expires_at - created_at FROM orders WHERE id = {id}"));
    assert_eq!(hold[0], 15 * 60_000);
    // cancelling one frees a place
    let r = from(&app, home, "POST", &format!("/api/orders/{id}/cancel"), Some(&a), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(buy(&app, home, &a, 1).await.status, 201);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_holds_let_one_address_hold_many_orders() {
    // 0: no bound (a benchmark from one address); units still bounded when set
    let app = behind_proxy(|c| {
        c.rate_limits_enabled = false;
        c.unpaid_orders_per_owner = 0;
        c.reserved_units_per_owner = 0;
        c.unpaid_orders_per_address = 0;
        c.reserved_units_per_address = 7;
    })
    .await;
    let a = app.guest().await;
    let home = "198.51.100.7";
    for _ in 0..7 {
        let r = buy(&app, home, &a, 1).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = buy(&app, home, &a, 1).await;
    assert_eq!((r.status, r.error_code()), (429, "too_many_unpaid_orders".into()), "the units bound holds");
    assert_eq!(buy(&app, "203.0.113.7", &app.guest().await, 1).await.status, 201);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn respelled_queries_share_one_cache_entry() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
        })
        .start()
        .await;
    let spellings = [
        "/api/products?sort=price_asc&per_page=5&in_stock=true",
        "/api/products?per_page=05&in_stock=1&sort=price_asc",
        "/api/products?in_stock=true&sort=%70rice_asc&per_page=+5",
        "/api/products?per_page=5&sort=price_asc&in_stock=true",
    ];
    let first = app.get(spellings[0]).await;
    assert_eq!((first.status, first.header("x-cache")), (200, Some("miss")));
    let entries = app.state.cache.stats().await.entries;
    for s in &spellings[1..] {
        let r = app.get(s).await;
        assert_eq!((r.status, r.header("x-cache")), (200, Some("hit-l1")), "{s}");
        assert_eq!(r.body, first.body, "{s}");
    }
    assert_eq!(app.state.cache.stats().await.entries, entries, "no new entries for other spellings");
    // a second read of a spelling is a hit ahead of the router (it was remembered)
    assert_eq!(app.get(spellings[1]).await.header("x-cache"), Some("hit-l1"));
    // and every spelling sees a change at once
    app.write("UPDATE products SET sale_price = 1999 WHERE id = 3").await;
    for s in &spellings {
        let r = app.get(s).await;
        assert_ne!(r.body, first.body, "{s} shows the new price");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_stuffing_across_accounts_is_stopped_by_address() {
    let app = behind_proxy(|c| {
        c.rate_limits.login.per_address = rate("8/1m");
        c.auth_failures_per_address = 50;
    })
    .await;
    for i in 0..3 {
        app.register(&format!("victim{i}@example.com")).await;
    }
    // one address tries a leaked list: every account once
    let mut statuses = Vec::new();
    for i in 0..20 {
        let body = json!({"email": format!("victim{}@example.com", i % 3), "password": format!("leaked-{i}")});
        statuses.push(from(&app, "198.51.100.200", "POST", "/api/auth/login", None, Some(&body)).await.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 8, "{statuses:?}");
    assert!(statuses[8..].iter().all(|s| *s == 429), "{statuses:?}");
    let checked: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM auth_attempts");
    assert_eq!(checked[0], 8, "refused tries never reach a password");
    // the real owners, elsewhere, log in
    let owner = json!({"email": "victim1@example.com", "password": "correct horse 1"});
    assert_eq!(from(&app, "203.0.113.5", "POST", "/api/auth/login", None, Some(&owner)).await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discount_codes_cannot_be_enumerated() {
    let app = behind_proxy(|c| {
        c.rate_limits.discount.per_address = rate("20/10m");
        c.rate_limits.discount.per_account = rate("5/10m");
    })
    .await;
    let guest = app.guest().await;
    app.add_to_cart(&guest, 3, 1).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let body = json!({"code": format!("GUESS{i:03}")});
        statuses
            .push(from(&app, "198.51.100.77", "POST", "/api/cart/discount", Some(&guest), Some(&body)).await.status);
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429, 429, 429], "per session");
    // new sessions from the same address: the address's quota ends it
    let mut more = Vec::new();
    for _ in 0..5 {
        let t = from(&app, "198.51.100.77", "POST", "/api/auth/guest", None, None).await.json()["data"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        for i in 0..5 {
            let body = json!({"code": format!("TRY{i:03}")});
            more.push(from(&app, "198.51.100.77", "POST", "/api/cart/discount", Some(&t), Some(&body)).await.status);
        }
    }
    assert_eq!(more.iter().filter(|s| **s != 429).count(), 12, "20 per address in all: {more:?}");
    let m = scrape(&app).await;
    assert_eq!(sample(&m, "storefront_rate_limited_total", &[("rule", "discount")]), (3 + 13) as f64);
    assert_eq!(app.get("/ready").await.status, 200);
    app.stop().await;
}

/// Only a session the server issued is a key of the per-session quotas: a flood of made-up
/// bearer tokens (each a new key before) leaves the limiter's memory where it was, and a
/// request refused by one quota is charged no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_tokens_are_never_limiter_keys() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.rate_limits_enabled = true;
            c.rate_limits.cart_write.per_address = rate("100000/1m");
            c.rate_limits.cart_write.per_account = rate("2/1m");
        })
        .start()
        .await;
    let add = json!({"product_id": "1", "quantity": 1});
    let before = app.state.limits.keys();
    for i in 0..2000 {
        let token = format!("made-up-token-{i:08}-{}", i * 7919);
        let r = app.call("POST", "/api/cart", Some(&token), Some(&add), &[]).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let after = app.state.limits.keys();
    assert!(after <= before + 1, "the flood added keys: {before} then {after}");
    // a real session is held to its quota
    let guest = app.guest().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.call("POST", "/api/cart", Some(&guest), Some(&add), &[]).await.status);
    }
    assert_eq!(statuses, [201, 201, 429], "{statuses:?}");
    app.stop().await;
}

/// Small holes of the throttles: an account is one whatever the case of its e-mail, a
/// reset revokes the API keys the account made, and a session token never reads as an API
/// key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttles_fold_case_and_a_reset_revokes_api_keys() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.rate_limits_enabled = true;
            c.rate_limits.login.per_account = rate("3/1m");
            c.rate_limits.login.per_address = rate("1000/1m");
        })
        .start()
        .await;
    let admin = app.admin("case@example.com").await;
    let mut statuses = Vec::new();
    for email in ["case@example.com", "CASE@example.com", "Case@Example.com", "cAsE@example.COM"] {
        let body = json!({"email": email, "password": "wrong password"});
        statuses.push(app.call("POST", "/api/auth/login", None, Some(&body), &[]).await.status);
    }
    assert_eq!(statuses, [401, 401, 401, 429], "one account, however cased: {statuses:?}");
    // a key made by the account stops working when its password is reset
    let make = json!({"name": "left behind", "scopes": ["orders:read"]});
    let key = app.call("POST", "/api/admin/api-keys", Some(&admin), Some(&make), &[]).await.json()["data"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.call("GET", "/api/admin/orders", Some(&key), None, &[]).await.status, 200);
    let r = app.call("POST", "/api/auth/password/forgot", None, Some(&json!({"email": "case@example.com"})), &[]).await;
    assert_eq!(r.status, 202);
    let code =
        app.reset_mails()[0].split("Your reset code: ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let reset = json!({"token": code, "password": "a brand new pass"});
    assert_eq!(app.call("POST", "/api/auth/password/reset", None, Some(&reset), &[]).await.status, 204);
    let r = app.call("GET", "/api/admin/orders", Some(&key), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_token".into()), "{}", r.text());
    // session tokens are never taken for keys
    for _ in 0..2000 {
        assert!(!storefront::auth::new_token().0.starts_with(storefront::auth::api_keys::PREFIX));
    }
    app.stop().await;
}
