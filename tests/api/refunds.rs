//! Refunds through HTTP with the real parts: by lines they add up to the order's total
//! exactly, with one mail (a real SMTP server) and one `order.refunded` event (a real HTTP
//! receiver) each; bad requests change nothing; concurrent refunds never give back more
//! than was captured, and an idempotency key refunds once; a refund of a provider's
//! payment goes to the provider (a real HTTP server) with one key on every attempt, is
//! retried while the provider fails, and fails when the provider refuses; a server killed
//! (SIGKILL) while the provider holds the refund sends it again after a restart, with the
//! same key, and the refund succeeds once: one mail, one event.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::common::receiver::Receiver;
use crate::common::smtp_server::SmtpServer;
use crate::common::{self, address, available, column, TestApp};

const SECRET: &str = "whsec-refunds-api-0123456789";

async fn shop(f: impl FnOnce(&mut storefront::config::Config)) -> (TestApp, String) {
    common::after_sale_shop(SECRET, f).await
}

/// A paid order of 2 × product 1 and 3 × product 3, paid with `method`: (order, total, guest).
async fn paid_order(app: &TestApp, method: &str) -> (String, i64, String) {
    let guest = app.guest().await;
    let items = json!([{"product_id": "1", "quantity": 2}, {"product_id": "3", "quantity": 3}]);
    let body =
        json!({"items": items, "shipping_address": address(), "payment_method": method, "email": "back@example.com"});
    let r = app.call("POST", "/api/orders", Some(&guest), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let order = d["order_id"].as_str().unwrap().to_owned();
    let total = d["total"]["amount"].as_i64().unwrap();
    let paid = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded", "amount": total});
    app.payment_webhook(SECRET, &paid.to_string()).await;
    (order, total, guest)
}

async fn order_of(app: &TestApp, admin: &str, order: &str) -> Value {
    app.call("GET", &format!("/api/admin/orders/{order}"), Some(admin), None, &[]).await.json()["data"].clone()
}

async fn refund(app: &TestApp, admin: &str, order: &str, body: Value, key: Option<&str>) -> common::Resp {
    let headers: Vec<(&str, &str)> = key.map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
    app.call("POST", &format!("/api/admin/orders/{order}/refunds"), Some(admin), Some(&body), &headers).await
}

/// What a refund would change (not the rows background work moves: mail and deliveries).
fn state(app: &TestApp) -> Vec<String> {
    let tables = [
        "orders",
        "order_items",
        "order_status_history",
        "refunds",
        "refund_lines",
        "inventory",
        "audit_log",
        "idempotency_keys",
    ];
    common::rows_of(&app.conn(), &tables, &["mail_outbox", "webhook_events", "jobs"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_by_lines_add_up_to_the_total_with_one_mail_and_one_event_each() {
    let smtp = SmtpServer::start();
    let receiver = Receiver::start(&[], 200).await;
    let (app, admin) = shop(|c| c.smtp_url = Some(smtp.url())).await;
    common::subscribe(&app, &admin, &receiver.url("/hooks"), &["order.refunded"]).await;
    let stock_before = available(&app);
    let (order, total, guest) = paid_order(&app, "card").await;
    let o = order_of(&app, &admin, &order).await;
    let (a, b) = (o["items"][0]["line"].as_i64().unwrap(), o["items"][1]["line"].as_i64().unwrap());
    assert!(
        o["shipping"]["amount"].as_i64().unwrap() + o["tax"]["amount"].as_i64().unwrap() > 0,
        "shipping and tax to share"
    );

    let mut amounts = Vec::new();
    for (body, status) in [
        (json!({"lines": [{"line_id": a, "quantity": 1}], "reason": "arrived scratched"}), "partially_refunded"),
        (json!({"lines": [{"line_id": b, "quantity": 2}], "reason": "changed their mind"}), "partially_refunded"),
        (
            json!({"lines": [{"line_id": b, "quantity": 1}, {"line_id": a, "quantity": 1}], "reason": "the rest"}),
            "refunded",
        ),
    ] {
        let r = refund(&app, &admin, &order, body, None).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let d = r.json()["data"].clone();
        assert_eq!(d["status"], "succeeded", "a card paid offline is recorded as paid back");
        assert_eq!(d["method"], "offline");
        let amount = d["amount"]["amount"].as_i64().unwrap();
        assert!(amount > 0);
        let parts: i64 = d["lines"].as_array().unwrap().iter().map(|l| l["amount"]["amount"].as_i64().unwrap()).sum();
        assert_eq!(parts, amount, "the lines' parts make the amount");
        amounts.push(amount);
        assert_eq!(order_of(&app, &admin, &order).await["status"], status);
    }
    assert_eq!(amounts.iter().sum::<i64>(), total, "every unit refunded adds up to the total exactly: {amounts:?}");
    assert_eq!(available(&app), stock_before, "nothing had shipped: every unit is back on sale, once");

    // the customer sees them
    let v = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json();
    assert_eq!(v["data"]["refunds"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"]["refunded"]["amount"].as_i64(), Some(total));
    assert_eq!(v["data"]["status"], "refunded");
    // nothing more to give back, nothing more to ship
    let r = refund(&app, &admin, &order, json!({"amount": 1, "reason": "one more"}), None).await;
    assert_eq!((r.status, r.error_code()), (409, "exceeds_captured".into()));
    let r = app
        .call(
            "POST",
            &format!("/api/admin/orders/{order}/fulfillments"),
            Some(&admin),
            Some(&json!({"carrier": "UPS", "tracking_number": "1Z"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 409, "a refunded order ships nothing");

    let mails = smtp.wait_for(3, 20, |m| m.contains("Refund for order")).await;
    assert_eq!(mails.len(), 3);
    assert!(mails.iter().any(|m| m.contains("arrived scratched")));
    common::until("three order.refunded deliveries", 20, || {
        let r = &receiver;
        async move {
            let mut ids: Vec<String> =
                r.hits().iter().map(|h| h.json()["id"].as_str().unwrap_or("").to_owned()).collect();
            ids.sort();
            ids.dedup();
            ids.len() >= 3
        }
    })
    .await;
    let mut ids: Vec<String> = receiver.hits().iter().map(|h| h.json()["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one event per refund");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_refunds_are_refused_and_change_nothing() {
    let (app, admin) = shop(|_| {}).await;
    let (order, total, _) = paid_order(&app, "card").await;
    let line = order_of(&app, &admin, &order).await["items"][0]["line"].as_i64().unwrap();
    let shopper = app.register("shopper@example.com").await;
    let before = state(&app);
    let cases = [
        (json!({"reason": "nothing asked"}), 422),
        (json!({"amount": 100, "lines": [{"line_id": line, "quantity": 1}], "reason": "both"}), 422),
        (json!({"amount": 0, "reason": "zero"}), 422),
        (json!({"amount": -5, "reason": "negative"}), 422),
        (json!({"amount": "12", "reason": "text"}), 422),
        (json!({"amount": total + 1, "reason": "too much"}), 409),
        (json!({"lines": [], "reason": "no lines"}), 422),
        (json!({"lines": [{"line_id": 99, "quantity": 1}], "reason": "no such line"}), 422),
        (json!({"lines": [{"line_id": line, "quantity": 0}], "reason": "zero units"}), 422),
        (json!({"lines": [{"line_id": line, "quantity": 3}], "reason": "more than ordered"}), 409),
        (
            json!({"lines": [{"line_id": line, "quantity": 1}, {"line_id": line, "quantity": 2}], "reason": "twice, too many"}),
            409,
        ),
        (json!({"amount": 100, "reason": ""}), 422),
        (json!({"amount": 100, "reason": "a\u{7}bell"}), 422),
        (json!({"amount": 100}), 422),
        (json!({"amount": 100, "reason": "extra", "restock": true}), 422),
    ];
    for (body, status) in cases {
        let r = refund(&app, &admin, &order, body.clone(), None).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let r = refund(&app, &admin, &order, json!({"amount": 100, "reason": "bad key"}), Some("")).await;
    assert_eq!(r.status, 400, "an empty Idempotency-Key");
    let r = refund(&app, &admin, "999999", json!({"amount": 100, "reason": "no order"}), None).await;
    assert_eq!(r.status, 404);
    let r = refund(&app, &shopper, &order, json!({"amount": 100, "reason": "not an admin"}), None).await;
    assert_eq!(r.status, 403);
    assert_eq!(state(&app), before, "no refusal changed anything");

    // an order never paid has nothing to refund
    let t = app.guest().await;
    let body =
        json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(), "payment_method": "card"});
    let unpaid = app.call("POST", "/api/orders", Some(&t), Some(&body), &[]).await.json()["data"]["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = refund(&app, &admin, &unpaid, json!({"amount": 1, "reason": "not paid"}), None).await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refunds_never_give_back_more_than_was_captured() {
    let (app, admin) = shop(|_| {}).await;
    let app = Arc::new(app);
    // two rounds: the fixture's stock covers two orders that nothing returns to it
    for round in 0..2 {
        let (order, total, _) = paid_order(&app, "card").await;
        // eight admins each try to refund 60 % of it: one fits
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (app, admin, order) = (app.clone(), admin.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                refund(&app, &admin, &order, json!({"amount": total * 6 / 10, "reason": format!("admin {i}")}), None)
                    .await
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            statuses.push((r.status, if r.status == 201 { String::new() } else { r.error_code() }));
        }
        let won = statuses.iter().filter(|s| s.0 == 201).count();
        assert_eq!(won, 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|s| s.0 == 201 || (s.0 == 409 && s.1 == "exceeds_captured")), "{statuses:?}");
        let refunded: i64 = column::<i64>(
            &app.conn(),
            &format!("SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = {order} AND status <> 'failed'"),
        )[0];
        assert!(refunded <= total, "round {round}: {refunded} > {total}");

        // one key sent eight times at once: one refund, the others replay it
        let key = format!("refund-once-{round}");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (app, admin, order, key) = (app.clone(), admin.clone(), order.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                refund(&app, &admin, &order, json!({"amount": 1, "reason": "goodwill"}), Some(&key)).await
            }));
        }
        let mut ids = Vec::new();
        let mut replays = 0;
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, 201, "{}", r.text());
            replays += usize::from(r.header("idempotent-replayed") == Some("true"));
            ids.push(r.json()["data"]["id"].as_str().unwrap().to_owned());
        }
        ids.dedup();
        assert_eq!((ids.len(), replays), (1, 7), "round {round}: one refund, seven replays");
        let r = refund(&app, &admin, &order, json!({"amount": 2, "reason": "goodwill"}), Some(&key)).await;
        assert_eq!((r.status, r.error_code()), (409, "idempotency_key_reused".into()));
        let n = column::<i64>(&app.conn(), &format!("SELECT count(*) FROM refunds WHERE order_id = {order}"))[0];
        assert_eq!(n, 2, "round {round}: the 60 % and the one goodwill cent");
    }
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_refund_is_retried_with_one_key_until_it_succeeds_and_fails_when_refused() {
    // the provider fails twice (opening the breaker), then answers
    let provider = Receiver::start(&[503, 503], 200).await;
    let url = provider.url("/v1");
    let (app, admin) = shop(|c| {
        c.payment_provider_url = Some(url);
        c.payment_provider_key = Some("sk_test_refunds".into());
        c.breaker_failures = 2;
        c.breaker_cooldown_ms = 200;
    })
    .await;
    let (order, total, guest) = paid_order(&app, "pm_card_visa").await;
    let r = refund(&app, &admin, &order, json!({"amount": 500, "reason": "late delivery"}), None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    assert_eq!((d["status"].as_str(), d["method"].as_str()), (Some("pending"), Some("provider")));
    let id = d["id"].as_str().unwrap().to_owned();
    common::until("the provider's confirmation", 30, || {
        let (app, admin, order) = (&app, &admin, &order);
        async move { order_of(app, admin, order).await["refunds"][0]["status"] == "succeeded" }
    })
    .await;
    let hits = provider.hits();
    assert!(hits.len() >= 3, "two failures and a success: {}", hits.len());
    let key = format!("storefront-refund-{id}");
    for h in &hits {
        assert_eq!(h.header("idempotency-key"), Some(key.as_str()), "one key on every attempt");
        assert_eq!(h.header("authorization"), Some("Bearer sk_test_refunds"));
        let b = h.json();
        assert_eq!(
            (b["amount"].as_i64(), b["order_id"].as_str(), b["payment_method"].as_str()),
            (Some(500), Some(order.as_str()), Some("pm_card_visa"))
        );
    }
    assert_eq!(hits.iter().filter(|h| h.answered == 200).count(), 1, "sent until it went through, then never again");
    let v = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json();
    assert_eq!(
        (v["data"]["status"].as_str(), v["data"]["refunded"]["amount"].as_i64()),
        (Some("partially_refunded"), Some(500))
    );

    // the provider refuses the next one: it fails, and its money may be asked for again
    provider.answer(402);
    let r = refund(&app, &admin, &order, json!({"amount": total - 500, "reason": "all of it"}), None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    common::until("the provider's refusal", 30, || {
        let (app, admin, order) = (&app, &admin, &order);
        async move { order_of(app, admin, order).await["refunds"][1]["status"] == "failed" }
    })
    .await;
    let o = order_of(&app, &admin, &order).await;
    assert!(o["refunds"][1]["error"].as_str().unwrap().contains("402"), "{}", o["refunds"][1]);
    assert_eq!((o["status"].as_str(), o["refunded"]["amount"].as_i64()), (Some("partially_refunded"), Some(500)));
    provider.answer(200);
    let r = refund(&app, &admin, &order, json!({"amount": total - 500, "reason": "all of it, again"}), None).await;
    assert_eq!(r.status, 201, "a failed refund gave its amount back: {}", r.text());
    common::until("the retried refund", 30, || {
        let (app, admin, order) = (&app, &admin, &order);
        async move { order_of(app, admin, order).await["status"] == "refunded" }
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_the_provider_held_when_the_server_was_killed_goes_through_once_after_a_restart() {
    use std::process::{Command, Stdio};
    // the paid order, made by the shop in this process; then the real binary on its file
    let (app, admin) = shop(|_| {}).await;
    let hooks = Receiver::start(&[], 200).await;
    let listen = json!({"url": hooks.url("/hooks"), "events": ["order.refunded"]});
    let r = app.call("POST", "/api/admin/webhooks", Some(&admin), Some(&listen), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (order, _, _) = paid_order(&app, "pm_card_visa").await;
    let db = app.db_path.clone();
    let dir = app.stop_keeping_files().await.expect("the test's own files");
    let provider = Receiver::hanging().await;
    let config = dir.path().join("provider.toml");
    let toml = format!(
        "payment_provider_url = \"{}\"\npayment_provider_key = \"sk_test_kill\"\njob_lease_secs = 1\njob_retry_base_ms = 30\nrate_limits_enabled = false\nwebhook_private_targets = true\n",
        provider.url("/v1")
    );
    std::fs::write(&config, toml).unwrap();
    let start = || {
        let port = common::smtp_server::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_storefront"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log-level", "warn", "--db"])
            .arg(&db)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        (common::Reaped(child), std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    };
    let (mut server, addr) = start();
    common::until("the server to be ready", 30, || async move {
        common::try_send(addr, "GET", b"/ready", &[], b"").await.is_some_and(|r| r.status == 200)
    })
    .await;
    let auth = format!("Bearer {admin}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let body = json!({"amount": 700, "reason": "one scratched speaker"}).to_string();
    let target = format!("/api/admin/orders/{order}/refunds");
    let r = common::try_send(addr, "POST", target.as_bytes(), &headers, body.as_bytes()).await.expect("an answer");
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["data"]["status"], "pending");

    // the provider has the request and holds it; the server dies before it hears back
    provider.wait_for(1, 30).await;
    server.0.kill().expect("SIGKILL");
    server.0.wait().unwrap();
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let status = || column::<String>(&c, &format!("SELECT status FROM refunds WHERE id = {id}"))[0].clone();
    assert_eq!(status(), "pending", "the provider never answered");

    // it answers now: the restarted server sends the refund again and it goes through once
    provider.answer(200);
    let (_server, _) = start();
    common::wait_for("the refund to succeed after the restart", 60, || status() == "succeeded").await;
    let hits = provider.hits();
    let key = format!("storefront-refund-{id}");
    assert!(hits.len() >= 2, "held, then sent again: {}", hits.len());
    assert!(hits.iter().all(|h| h.header("idempotency-key") == Some(key.as_str())), "one key on every attempt");
    assert_eq!(hits.iter().filter(|h| h.answered == 200).count(), 1, "answered once, then never sent again");
    let count = |sql: &str| column::<i64>(&c, sql)[0];
    assert_eq!(count("SELECT count(*) FROM webhook_events WHERE type = 'order.refunded'"), 1, "one event");
    let told = hooks.wait_for(1, 30).await;
    assert_eq!(told[0].json()["data"]["id"].as_str(), Some(order.as_str()), "the event names the order");
    assert_eq!(count("SELECT count(*) FROM mail_outbox WHERE kind = 'order_refunded'"), 1, "one refund mail");
    assert_eq!(
        count(&format!("SELECT sum(amount) FROM refunds WHERE order_id = {order} AND status = 'succeeded'")),
        700
    );
    assert_eq!(column::<String>(&c, &format!("SELECT status FROM orders WHERE id = {order}"))[0], "partially_refunded");
}
