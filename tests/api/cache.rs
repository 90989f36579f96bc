//! The response cache through HTTP: hits serve the same bytes and validators, every commit
//! shows in the next read, concurrent misses load once, readers during a burst of writes
//! never go back in time, nothing personal is cached, and the admin view.

use crate::common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::common::TestApp;

async fn cached_app() -> TestApp {
    // no warming here: these tests count hits and misses themselves
    TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
        })
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warming_fills_the_hottest_pages_at_start_and_after_a_commit() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_interval_secs = 1;
        })
        .start()
        .await;
    let warmed = |path: &'static str| {
        let app = &app;
        async move {
            for _ in 0..300 {
                // looked up directly: a request would fill it itself
                if app.state.cache.fresh_hit(path).await.is_some() {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            false
        }
    };
    for p in ["/api/categories", "/api/brands", "/api/products", "/api/products/boom-speaker"] {
        assert!(warmed(p).await, "{p} is warmed at start");
    }
    assert_eq!(app.get("/api/products/boom-speaker").await.header("x-cache"), Some("hit-l1"));
    app.write("UPDATE products SET sale_price = 3999 WHERE id = 3").await;
    assert!(app.state.cache.fresh_hit("/api/products/boom-speaker").await.is_none(), "the commit made it stale");
    assert!(warmed("/api/products/boom-speaker").await, "re-filled by the next round");
    assert_eq!(app.json("/api/products/boom-speaker").await["data"]["price"]["amount"], 3999);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_serve_the_same_bytes_and_validators() {
    let app = cached_app().await;
    for path in [
        "/api/products/aurora-wireless-headphones",
        "/api/products?per_page=3",
        "/api/search?q=wireless",
        "/api/categories",
        "/api/brands",
        "/api/products/bestsellers",
        "/api/products/aurora-wireless-headphones/reviews",
    ] {
        let first = app.get(path).await;
        assert_eq!((first.status, first.header("x-cache")), (200, Some("miss")), "{path}");
        let second = app.get_with(path, &[("X-Request-Id", "client-chosen-id-1")]).await;
        assert_eq!(second.header("x-cache"), Some("hit-l1"), "{path}");
        // a hit answers like the full path: the client's request id, public caching
        assert_eq!(second.header("x-request-id"), Some("client-chosen-id-1"));
        assert_eq!(second.header("cache-control"), first.header("cache-control"));
        assert_eq!(second.header("content-type"), Some("application/json"));
        assert_eq!(first.body, second.body, "{path}");
        assert_eq!(first.header("etag"), second.header("etag"));
        let gz = app.get_with(path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(gz.header("x-cache"), Some("hit-l1"));
        if gz.header("content-encoding") == Some("gzip") {
            assert_eq!(common::gunzip(&gz.body), first.body, "{path}: the stored gzip form is the same document");
        }
        let etag = first.header("etag").unwrap().to_owned();
        let r = app.get_with(path, &[("If-None-Match", &etag)]).await;
        assert_eq!(r.status, 304, "{path}");
    }
    // errors are not cached, and different queries are different entries
    assert_eq!(app.get("/api/products/nope").await.status, 404);
    assert_eq!(app.get("/api/products/nope").await.header("x-cache"), None);
    assert_eq!(app.get("/api/products?per_page=4").await.header("x-cache"), Some("miss"));
    app.stop().await;
}

fn price(v: &serde_json::Value) -> i64 {
    v["data"]["price"]["amount"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commit_shows_in_the_next_read() {
    let app = cached_app().await;
    let detail = "/api/products/boom-speaker";
    let list = "/api/products?sort=price_asc&per_page=10";
    assert_eq!(price(&app.json(detail).await), 4999);
    let listed = app.json(list).await;
    app.json(detail).await; // now cached
    app.json(list).await;

    app.write("UPDATE products SET sale_price = 3999 WHERE id = 3").await;
    let r = app.get(detail).await;
    assert_eq!(r.header("x-cache"), Some("miss"), "the commit made it stale");
    assert_eq!(price(&r.json()), 3999);
    let after = app.json(list).await;
    assert_ne!(after, listed, "the listing shows the new price");
    let boom = after["data"].as_array().unwrap().iter().find(|p| p["slug"] == "boom-speaker").unwrap();
    assert_eq!(boom["price"]["amount"], 3999);

    // a variant selling out shows on the product page (only the variant row changes)
    let v = app.json("/api/products/aurora-wireless-headphones").await;
    assert_eq!(v["data"]["variants"][0]["in_stock"], true);
    app.write("UPDATE inventory SET available = 0 WHERE variant_id = 11").await;
    let v = app.json("/api/products/aurora-wireless-headphones").await;
    assert_eq!(v["data"]["variants"][0]["in_stock"], false);
    assert_eq!(v["data"]["in_stock"], false);
    // an approved review moves the rating; a renamed category shows in the tree and on pages
    app.json("/api/products/boom-speaker").await;
    app.write(
        "INSERT INTO reviews(product_id, customer_id, rating, status, created_at) VALUES (3, 1, 2, 'approved', 1)",
    )
    .await;
    let v = app.json("/api/products/boom-speaker").await;
    assert_eq!(v["data"]["rating"]["count"], 1);
    app.json("/api/categories").await;
    app.write("UPDATE categories SET name = 'Loudspeakers' WHERE id = 4").await;
    assert!(app.get("/api/categories").await.text().contains("Loudspeakers"));
    assert_eq!(app.json(detail).await["data"]["category"]["name"], "Loudspeakers");
    // a commit that touches nothing public leaves entries alone
    app.json(detail).await;
    app.write("INSERT INTO mail_outbox(kind, to_email, subject, body, created_at) VALUES ('x', 'a@b.co', 's', 'b', 0)")
        .await;
    assert_eq!(app.get(detail).await.header("x-cache"), Some("hit-l1"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_load_once() {
    let app = Arc::new(cached_app().await);
    let before = app.state.cache.stats().await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let app = app.clone();
        set.spawn(async move { app.get("/api/search?q=speaker").await });
    }
    let mut bodies = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, 200);
        bodies.push(r.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let after = app.state.cache.stats().await;
    assert_eq!(after.misses - before.misses, 1, "one load for 50 concurrent misses: {after:?}");
    assert_eq!(after.hits - before.hits, 49);
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_during_a_burst_of_writes_never_see_an_older_value() {
    let app = Arc::new(cached_app().await);
    // the writer sets the price to 10_000 + i, one commit after another; `acked` is the
    // last value whose commit has been acknowledged
    let acked = Arc::new(AtomicI64::new(4999));
    let writer = {
        let (app, acked) = (app.clone(), acked.clone());
        tokio::spawn(async move {
            for i in 0..150i64 {
                let p = 10_000 + i;
                app.state
                    .db
                    .writer
                    .run(move |tx| {
                        tx.execute("UPDATE products SET base_price = ?1 WHERE id = 3", [p])
                            .map_err(storefront::error::StoreError::from)
                    })
                    .await
                    .unwrap();
                acked.store(p, Ordering::SeqCst);
            }
        })
    };
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (app, acked) = (app.clone(), acked.clone());
        readers.spawn(async move {
            let mut seen = 0;
            loop {
                let floor = acked.load(Ordering::SeqCst);
                let v = app.json("/api/products/boom-speaker").await;
                let p = price(&v);
                assert!(p >= floor, "read {p} after {floor} was acknowledged");
                seen += 1;
                if floor == 10_149 {
                    return seen;
                }
            }
        });
    }
    writer.await.unwrap();
    while let Some(r) = readers.join_next().await {
        assert!(r.unwrap() > 10);
    }
    assert!(app.state.cache.stats().await.hits > 0, "the cache was used meanwhile");
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_personal_is_cached_or_shared() {
    let app = cached_app().await;
    let (a, b) = (app.guest().await, app.guest().await);
    app.add_to_cart(&a, 3, 1).await;
    app.add_to_cart(&b, 5, 2).await;
    let entries = app.state.cache.stats().await.entries;
    for _ in 0..2 {
        let ra = app.call("GET", "/api/cart", Some(&a), None, &[]).await;
        let rb = app.call("GET", "/api/cart", Some(&b), None, &[]).await;
        assert_eq!(ra.json()["data"]["items"][0]["slug"], "boom-speaker");
        assert_eq!(rb.json()["data"]["items"][0]["slug"], "chef-knife");
        for r in [&ra, &rb] {
            assert_eq!(r.header("cache-control"), Some("private, no-store"));
            assert_eq!(r.header("x-cache"), None);
            assert_eq!(r.header("etag"), None);
        }
    }
    let me = app.register("p@example.com").await;
    assert_eq!(
        app.call("GET", "/api/me", Some(&me), None, &[]).await.header("cache-control"),
        Some("private, no-store")
    );
    assert_eq!(app.state.cache.stats().await.entries, entries, "no personal response entered the cache");
    // public responses are the same whoever asks: a token changes nothing about them
    let anon = app.get("/api/products/boom-speaker").await;
    let with_token = app.call("GET", "/api/products/boom-speaker", Some(&a), None, &[]).await;
    assert_eq!(anon.body, with_token.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_and_flush_the_cache_and_zero_turns_it_off() {
    let app = cached_app().await;
    let t = app.register("ops@example.com").await;
    let r = app.call("GET", "/api/admin/cache", Some(&t), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden".into()));
    assert_eq!(app.call("GET", "/api/admin/cache", None, None, &[]).await.status, 401);
    app.write("UPDATE customers SET role = 'admin' WHERE email = 'ops@example.com'").await;
    app.get("/api/brands").await;
    app.get("/api/brands").await;
    let v = app.call("GET", "/api/admin/cache", Some(&t), None, &[]).await.json();
    let l1 = &v["data"]["l1"];
    assert!(l1["hits"].as_u64().unwrap() >= 1 && l1["entries"].as_u64().unwrap() >= 1, "{l1}");
    assert!(l1["bytes"].as_u64().unwrap() > 0 && l1["bytes"].as_u64() <= l1["budget_bytes"].as_u64());
    let r = app.call("DELETE", "/api/admin/cache?tag=brands", Some(&t), None, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.get("/api/brands").await.header("x-cache"), Some("miss"), "flushed by tag");
    app.stop().await;

    let off = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_mb = 0;
            c.cache_debug_header = true;
        })
        .start()
        .await;
    for _ in 0..2 {
        assert_eq!(off.get("/api/brands").await.header("x-cache"), Some("miss"));
    }
    assert!(!off.state.cache.stats().await.enabled);
    off.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_change_reaches_exactly_the_entries_that_show_it() {
    let app = cached_app().await;
    let admin = app.register("prices@example.com").await;
    app.write("UPDATE customers SET role = 'admin' WHERE email = 'prices@example.com'").await;
    let set_price = |id: i64, base: i64| {
        let (app, admin) = (&app, &admin);
        async move {
            let body = serde_json::json!({"base": base});
            let path = format!("/api/admin/products/{id}/price");
            let r = app.call("PUT", &path, Some(admin), Some(&body), &[]).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    };
    // newest first: chef-knife (5), boom-speaker (3), nimbus-earbuds (2), aurora (1)
    let newest_first = "/api/products?per_page=1";
    let all = "/api/products?per_page=10";
    let cheapest = "/api/products?per_page=1&sort=price_asc";
    let dear = "/api/products?min_price=10000";
    let search = "/api/search?q=wireless";
    let other_page = "/api/products/boom-speaker";
    let page = "/api/products/aurora-wireless-headphones";
    let targets = [newest_first, all, cheapest, dear, search, other_page, page];
    for t in targets {
        app.get(t).await;
        assert_eq!(app.get(t).await.header("x-cache"), Some("hit-l1"), "{t}");
    }
    assert_eq!(app.json(dear).await["meta"]["total"], 1, "aurora at 14999");
    assert_eq!(app.json(cheapest).await["data"][0]["slug"], "chef-knife");

    // aurora (not on the newest page, not boom-speaker) becomes the cheapest
    set_price(1, 999).await;
    for (t, shows_it) in [
        (newest_first, false),
        (other_page, false),
        (all, true),
        (cheapest, true),
        (dear, true),
        (search, true),
        (page, true),
    ] {
        let r = app.get(t).await;
        let expect = if shows_it { "miss" } else { "hit-l1" };
        assert_eq!(r.header("x-cache"), Some(expect), "{t}: {}", r.text());
    }
    assert_eq!(amount(&app.json(page).await["data"]), 999);
    assert_eq!(app.json(cheapest).await["data"][0]["slug"], "aurora-wireless-headphones");
    assert_eq!(app.json(dear).await["meta"]["total"], 0);
    let listed = app.json(all).await;
    let aurora = listed["data"].as_array().unwrap().iter().find(|p| p["id"] == "1").unwrap().clone();
    assert_eq!(amount(&aurora), 999);
    let found = app.json(search).await;
    assert!(found["data"].as_array().unwrap().iter().any(|p| p["id"] == "1" && amount(p) == 999), "{found}");

    // a product on the newest page: that page changes
    set_price(5, 1999).await;
    let r = app.get(newest_first).await;
    assert_eq!(r.header("x-cache"), Some("miss"));
    assert_eq!(amount(&r.json()["data"][0]), 1999);
    // anything but the price (a rename) still reaches every list
    app.get(newest_first).await;
    let r = app
        .call("PATCH", "/api/admin/products/1", Some(&admin), Some(&serde_json::json!({"name": "Aurora II"})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.get(newest_first).await.header("x-cache"), Some("miss"), "membership and order may change");
    app.stop().await;
}

/// The price of one product object (a summary or a page's data).
fn amount(p: &serde_json::Value) -> i64 {
    p["price"]["amount"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sell_out_reaches_exactly_the_entries_that_show_it() {
    const SECRET: &str = "whsec_cache_test";
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
            c.payment_webhook_secret = Some(SECRET.into());
        })
        .start()
        .await;
    // chef-knife (5): newest, cheapest, 3 in stock, "a steel knife"
    let newest_first = "/api/products?per_page=1";
    let cheapest = "/api/products?per_page=1&sort=price_asc";
    let dearest = "/api/products?per_page=1&sort=price_desc";
    let stocked = "/api/products?in_stock=true&sort=price_desc&per_page=1";
    let popular = "/api/products?sort=popular&per_page=1";
    let knife_search = "/api/search?q=steel";
    let other_search = "/api/search?q=wireless";
    let knife = "/api/products/chef-knife";
    let boom = "/api/products/boom-speaker";
    let tree = "/api/categories";
    let targets = [newest_first, cheapest, dearest, stocked, popular, knife_search, other_search, knife, boom, tree];
    let warm = || async {
        for t in targets {
            app.get(t).await;
            assert_eq!(app.get(t).await.header("x-cache"), Some("hit-l1"), "{t}");
        }
    };
    async fn expect(app: &TestApp, targets: &[&str], changed: &[&str]) {
        for t in targets {
            let r = app.get(t).await;
            let want = if changed.contains(t) { "miss" } else { "hit-l1" };
            assert_eq!(r.header("x-cache"), Some(want), "{t}: {}", r.text());
        }
    }
    warm().await;
    let stocked_total = app.json(stocked).await["meta"]["total"].as_i64().unwrap();

    // one unit of boom-speaker (10 in stock) reserved: no product's stock state flips, so
    // no list or search changes; its page shows the variant's stock
    let t = app.guest().await;
    app.add_to_cart(&t, 3, 1).await;
    let mut body = common::checkout_body();
    body["email"] = serde_json::json!("guest@example.com");
    let r = app.call("POST", "/api/checkout", Some(&t), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let boom_order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let boom_total = r.json()["data"]["total"]["amount"].as_i64().unwrap();
    expect(&app, &targets, &[boom]).await;

    // it is paid: a unit sold reaches what units sold order (popular lists, relevance)
    warm().await;
    let event = serde_json::json!({"event_id": "evt_c1", "order_id": boom_order, "status": "succeeded",
                                   "amount": boom_total, "reference": "pi_c1"})
    .to_string();
    let sig = common::sign(SECRET, &event);
    let headers = [("Content-Type", "application/json"), ("X-Signature", sig.as_str())];
    let r = common::send(app.addr, "POST", b"/api/webhooks/payments", &headers, event.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    expect(&app, &targets, &[popular, knife_search, other_search, boom]).await;

    // the knife's last 3 units: it sells out
    warm().await;
    let t = app.guest().await;
    app.add_to_cart(&t, 5, 3).await;
    let mut body = common::checkout_body();
    body["email"] = serde_json::json!("guest@example.com");
    let r = app.call("POST", "/api/checkout", Some(&t), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let sold_out = [newest_first, cheapest, stocked, knife_search, knife];
    expect(&app, &targets, &sold_out).await;
    assert_eq!(app.json(knife).await["data"]["in_stock"], false);
    assert_eq!(app.json(newest_first).await["data"][0]["in_stock"], false);
    assert_eq!(app.json(stocked).await["meta"]["total"], stocked_total - 1);
    let found = app.json(knife_search).await;
    assert_eq!(found["data"][0]["in_stock"], false, "{found}");

    // the order cancelled: the units return, the knife comes back — the same entries change
    warm().await;
    let r = app.call("POST", &format!("/api/orders/{order}/cancel"), Some(&t), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    expect(&app, &targets, &sold_out).await;
    assert_eq!(app.json(knife).await["data"]["in_stock"], true);
    assert_eq!(app.json(stocked).await["meta"]["total"], stocked_total);
    app.stop().await;
}
