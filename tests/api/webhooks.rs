//! Outgoing webhooks to real HTTP receivers: signed deliveries, retried after failures and
//! kept in order, a delivery log, a receiver that hangs delaying no other, manual retry,
//! and subscriptions refused when malformed.

use serde_json::json;

use crate::common::receiver::{Hit, Receiver};
use crate::common::{self, address, column, TestApp};

const SECRET: &str = "whsec-hooks-test-0123456789";

async fn app_with(f: impl FnOnce(&mut storefront::config::Config)) -> (TestApp, String) {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.payment_webhook_secret = Some(SECRET.into());
            c.job_retry_base_ms = 30;
            // the receivers listen on loopback
            c.webhook_private_targets = true;
            f(c);
        })
        .start()
        .await;
    let admin = app.admin("root@example.com").await;
    (app, admin)
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let r =
        app.call("POST", "/api/admin/webhooks", Some(admin), Some(&json!({"url": url, "events": events})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    (d["id"].as_str().unwrap().to_owned(), d["secret"].as_str().unwrap().to_owned())
}

/// Checks `Storefront-Signature` the way a receiver would.
fn verify(hit: &Hit, secret: &str) {
    use hmac::{Hmac, Mac};
    let sig = hit.header("storefront-signature").expect("signed");
    let (t, v1) = sig.split_once(",v1=").expect("t=…,v1=…");
    let t = t.strip_prefix("t=").expect("t=");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&hit.body);
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v1, want, "the signature verifies");
    let age = storefront::util::now_ms() / 1000 - t.parse::<i64>().unwrap();
    assert!((0..600).contains(&age), "a current timestamp");
}

async fn buy(app: &TestApp, token: &str) -> (String, i64) {
    let b =
        json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(), "payment_method": "card"});
    let r = app.call("POST", "/api/orders", Some(token), Some(&b), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    (d["order_id"].as_str().unwrap().to_owned(), d["total"]["amount"].as_i64().unwrap())
}

async fn pay(app: &TestApp, order: &str, amount: i64) {
    let body = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded", "amount": amount});
    app.payment_webhook(SECRET, &body.to_string()).await;
}

fn delivery_states(app: &TestApp, sub: &str) -> Vec<(String, i64)> {
    let c = app.conn();
    let mut s =
        c.prepare("SELECT state, attempts FROM webhook_deliveries WHERE subscription_id = ?1 ORDER BY id").unwrap();
    s.query_map([sub], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_retried_after_failures_and_kept_in_order() {
    let (app, admin) = app_with(|_| {}).await;
    let receiver = Receiver::start(&[500, 503], 200).await;
    let (sub, secret) = subscribe(&app, &admin, &receiver.url("/hooks"), &["order.placed", "order.paid"]).await;
    assert!(secret.starts_with("whsec_") && secret.len() > 30);
    let shown = app.call("GET", &format!("/api/admin/webhooks/{sub}"), Some(&admin), None, &[]).await.json();
    assert!(shown["data"].get("secret").is_none(), "the secret is shown once: {shown}");

    let customer = app.register("shopper@example.net").await;
    let (order, total) = buy(&app, &customer).await;
    pay(&app, &order, total).await;
    let want = [("succeeded".to_owned(), 3), ("succeeded".to_owned(), 1)];
    common::wait_for("both deliveries", 30, || delivery_states(&app, &sub) == want).await;

    let hits = receiver.hits();
    let kinds: Vec<&str> = hits.iter().map(|h| h.header("storefront-event-type").unwrap()).collect();
    assert_eq!(kinds, ["order.placed", "order.placed", "order.placed", "order.paid"], "retried, and in order");
    assert_eq!(hits.iter().map(|h| h.answered).collect::<Vec<_>>(), [500, 503, 200, 200]);
    let ids: Vec<&str> = hits.iter().map(|h| h.header("storefront-event-id").unwrap()).collect();
    assert!(ids[0] == ids[1] && ids[1] == ids[2] && ids[2] != ids[3], "the same event each retry: {ids:?}");
    for h in &hits {
        verify(h, &secret);
        let body = h.json();
        assert_eq!(body["id"].as_str(), h.header("storefront-event-id"));
        assert_eq!(body["type"].as_str(), h.header("storefront-event-type"));
        assert_eq!(body["data"]["id"], order.as_str());
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(h.header("content-type"), Some("application/json"));
    }
    assert_eq!(hits[3].json()["data"]["status"], "paid");
    assert_eq!(hits[0].json()["data"]["total"]["amount"], total);

    // the log, newest first
    let r = app.call("GET", &format!("/api/admin/webhooks/{sub}/deliveries"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let log = r.json()["data"].clone();
    let rows: Vec<(&str, &str, i64, i64)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["event"].as_str().unwrap(),
                d["state"].as_str().unwrap(),
                d["attempts"].as_i64().unwrap(),
                d["last_status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("order.paid", "succeeded", 1, 200), ("order.placed", "succeeded", 3, 200)]);
    assert_eq!(receiver.hits().len(), 4, "exactly the retried deliveries");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_delays_no_other_and_no_request() {
    let (app, admin) = app_with(|_| {}).await;
    let hanging = Receiver::hanging().await;
    let fast = Receiver::start(&[], 200).await;
    subscribe(&app, &admin, &hanging.url("/slow"), &["order.placed"]).await;
    let (fast_sub, secret) = subscribe(&app, &admin, &fast.url("/fast"), &["order.placed"]).await;
    let customer = app.register("shopper@example.net").await;
    let (order, _) = buy(&app, &customer).await;
    // the hanging receiver holds its delivery; the other gets its own meanwhile, well
    // before the 10 s the hanging one may take
    hanging.wait_for(1, 30).await;
    let got = fast.wait_for(1, 8).await;
    assert_eq!(hanging.hits()[0].answered, 0, "still hanging");
    verify(&got[0], &secret);
    assert_eq!(got[0].json()["data"]["id"], order.as_str());
    // and requests go on meanwhile
    let (second, _) = buy(&app, &customer).await;
    assert_ne!(second, order);
    let want = [("succeeded".to_owned(), 1), ("succeeded".to_owned(), 1)];
    common::wait_for("the fast receiver's deliveries", 8, || delivery_states(&app, &fast_sub) == want).await;
    hanging.release();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_can_be_retried_and_subscriptions_are_checked() {
    let (app, admin) = app_with(|c| c.webhook_attempts = 2).await;
    let receiver = Receiver::start(&[], 500).await;

    // malformed subscriptions are refused and change nothing
    let customer = app.register("user@example.net").await;
    let c = app.conn();
    let before = common::digest(&c);
    for (body, field) in [
        (json!({"url": "ftp://example.com/x", "events": ["order.paid"]}), "url"),
        (json!({"url": "not a url", "events": ["order.paid"]}), "url"),
        (json!({"url": receiver.url("/h"), "events": ["order.shipped"]}), "events[0]"),
        (json!({"url": receiver.url("/h"), "events": []}), "events"),
    ] {
        let r = app.call("POST", "/api/admin/webhooks", Some(&admin), Some(&body), &[]).await;
        assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{body}");
        assert!(r.json()["error"]["details"][field].is_string(), "{}", r.text());
    }
    let r = app
        .call(
            "POST",
            "/api/admin/webhooks",
            Some(&admin),
            Some(&json!({"url": receiver.url("/h"), "events": ["order.paid"], "x": 1})),
            &[],
        )
        .await;
    assert_eq!(r.status, 422);
    let body = json!({"url": receiver.url("/h"), "events": ["order.paid"]});
    assert_eq!(app.call("POST", "/api/admin/webhooks", Some(&customer), Some(&body), &[]).await.status, 403);
    assert_eq!(app.call("GET", "/api/admin/webhooks/999", Some(&admin), None, &[]).await.status, 404);
    assert_eq!(common::digest(&c), before);

    // a delivery that fails every attempt ends failed; a retry by hand delivers it
    let (sub, secret) = subscribe(&app, &admin, &receiver.url("/h"), &["customer.registered"]).await;
    app.register("new@example.com").await;
    let failed = [("failed".to_owned(), 2)];
    common::wait_for("the delivery to fail", 30, || delivery_states(&app, &sub) == failed).await;
    assert_eq!(receiver.hits().len(), 2);
    receiver.answer(200);
    let delivery: Vec<i64> = column(&c, "SELECT id FROM webhook_deliveries");
    let r = app
        .call("POST", &format!("/api/admin/webhooks/{sub}/deliveries/{}/retry", delivery[0]), Some(&admin), None, &[])
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let delivered = [("succeeded".to_owned(), 1)];
    common::wait_for("the retried delivery", 30, || delivery_states(&app, &sub) == delivered).await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3);
    verify(&hits[2], &secret);
    assert_eq!(hits[2].json()["data"]["email"], "new@example.com");
    let r =
        app.call("POST", &format!("/api/admin/webhooks/{sub}/deliveries/999999/retry"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 404);

    // an inactive subscription is sent nothing; deleting one removes it
    let r = app
        .call("PATCH", &format!("/api/admin/webhooks/{sub}"), Some(&admin), Some(&json!({"active": false})), &[])
        .await;
    assert_eq!((r.status, r.json()["data"]["active"].as_bool()), (200, Some(false)));
    app.register("quiet@example.com").await;
    assert_eq!(delivery_states(&app, &sub).len(), 1, "no delivery for an inactive subscription");
    let list = app.call("GET", "/api/admin/webhooks", Some(&admin), None, &[]).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.call("DELETE", &format!("/api/admin/webhooks/{sub}"), Some(&admin), None, &[]).await.status, 204);
    assert_eq!(app.call("GET", &format!("/api/admin/webhooks/{sub}"), Some(&admin), None, &[]).await.status, 404);
    let actions: Vec<String> = column(&c, "SELECT action FROM audit_log WHERE entity LIKE 'webhook%' ORDER BY id");
    assert_eq!(actions, ["webhook.create", "webhook.delivery.retry", "webhook.update", "webhook.delete"]);
    app.stop().await;
}

/// Subscriptions cannot make the server call its own loopback, the network behind it or
/// the cloud's metadata service: a literal internal address is refused when the
/// subscription is made (in any spelling), a name that resolves to one at delivery, where
/// the log says "refused" and nothing reaches the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_targets_are_refused_unless_allowed() {
    let (app, admin) = app_with(|c| {
        c.webhook_private_targets = false;
        c.webhook_attempts = 1;
    })
    .await;
    let receiver = Receiver::start(&[], 200).await;
    let port = receiver.url("/").split(':').nth(2).unwrap().trim_end_matches('/').to_owned();
    let c = app.conn();
    let before = common::digest(&c);
    for url in [
        receiver.url("/h"),
        format!("http://2130706433:{port}/h"),
        format!("http://0x7f.1:{port}/h"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::ffff:169.254.169.254]/".to_owned(),
        "http://10.0.0.1/h".to_owned(),
        "http://192.168.1.1/h".to_owned(),
        "http://100.64.0.1/h".to_owned(),
        "http://[fd00::1]/h".to_owned(),
        "http://[::1]/h".to_owned(),
        "http://0.0.0.0/h".to_owned(),
    ] {
        let r = app
            .call(
                "POST",
                "/api/admin/webhooks",
                Some(&admin),
                Some(&json!({"url": url, "events": ["order.paid"]})),
                &[],
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.text());
        // (an IPv6 literal is no URL the subscription pattern takes at all)
        let why = r.json()["error"]["details"]["url"].as_str().unwrap_or_default().to_owned();
        assert!(why.contains("public address") || url.contains('['), "{url}: {why}");
    }
    assert_eq!(common::digest(&c), before, "refused subscriptions change nothing");
    // a name is vetted where it is resolved: at delivery
    let (sub, _) = subscribe(&app, &admin, &format!("http://localhost:{port}/h"), &["customer.registered"]).await;
    app.register("someone@example.com").await;
    let failed = [("failed".to_owned(), 1)];
    common::wait_for("the delivery to be refused", 30, || delivery_states(&app, &sub) == failed).await;
    let log = app.call("GET", &format!("/api/admin/webhooks/{sub}/deliveries"), Some(&admin), None, &[]).await.json();
    assert_eq!(log["data"][0]["last_error"], "refused: the target is not a public address", "{log}");
    assert!(log["data"][0]["last_status"].is_null());
    assert!(receiver.hits().is_empty(), "nothing reached the address");
    app.stop().await;
}
