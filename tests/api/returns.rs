//! Returns through HTTP with the real parts: a shopper asks to send back shipped items; the
//! owner approves, receives (restocking one line, not the other) and refunds, with a mail
//! at each step (a real SMTP server) and `return.requested` / `return.received` once each
//! (a real HTTP receiver); a unit is returned once; bad requests and moves the return's
//! status does not allow change nothing; twelve admins receiving at once restock once and
//! six refunding at once refund once.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::common::receiver::Receiver;
use crate::common::smtp_server::SmtpServer;
use crate::common::{self, address, available, column, TestApp};

const SECRET: &str = "whsec-returns-api-0123456789";

async fn shop(f: impl FnOnce(&mut storefront::config::Config)) -> (TestApp, String) {
    common::after_sale_shop(SECRET, f).await
}

/// A paid and shipped order of 2 × product 1 and 3 × product 3 for a guest:
/// (order, its two lines, guest token).
async fn shipped_order(app: &TestApp, admin: &str) -> (String, [i64; 2], String) {
    shipped_order_paid_with(app, admin, "card").await
}

async fn shipped_order_paid_with(app: &TestApp, admin: &str, method: &str) -> (String, [i64; 2], String) {
    let guest = app.guest().await;
    let items = json!([{"product_id": "1", "quantity": 2}, {"product_id": "3", "quantity": 3}]);
    let body =
        json!({"items": items, "shipping_address": address(), "payment_method": method, "email": "back@example.com"});
    let r = app.call("POST", "/api/orders", Some(&guest), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let order = d["order_id"].as_str().unwrap().to_owned();
    let paid = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded",
                      "amount": d["total"]["amount"]});
    app.payment_webhook(SECRET, &paid.to_string()).await;
    let r = app
        .call(
            "POST",
            &format!("/api/admin/orders/{order}/fulfillments"),
            Some(admin),
            Some(&json!({"carrier": "UPS", "tracking_number": format!("1Z{order}")})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let o = r.json()["data"].clone();
    assert_eq!(o["status"], "fulfilled");
    let lines = [o["items"][0]["line"].as_i64().unwrap(), o["items"][1]["line"].as_i64().unwrap()];
    (order, lines, guest)
}

async fn ask(app: &TestApp, token: &str, order: &str, body: Value) -> common::Resp {
    app.call("POST", &format!("/api/orders/{order}/returns"), Some(token), Some(&body), &[]).await
}

async fn act(app: &TestApp, admin: &str, id: &str, body: Value) -> common::Resp {
    app.call("PATCH", &format!("/api/admin/returns/{id}"), Some(admin), Some(&body), &[]).await
}

/// What a return's step would change (not the rows background work moves).
fn state(app: &TestApp) -> Vec<String> {
    let tables = [
        "orders",
        "order_items",
        "order_status_history",
        "returns",
        "return_lines",
        "return_history",
        "refunds",
        "refund_lines",
        "inventory",
        "audit_log",
    ];
    common::rows_of(&app.conn(), &tables, &["mail_outbox", "webhook_events", "jobs"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_goes_from_request_to_refund_with_a_mail_and_an_event_at_each_step() {
    let smtp = SmtpServer::start();
    let receiver = Receiver::start(&[], 200).await;
    let (app, admin) = shop(|c| c.smtp_url = Some(smtp.url())).await;
    common::subscribe(
        &app,
        &admin,
        &receiver.url("/hooks"),
        &["return.requested", "return.received", "order.refunded"],
    )
    .await;
    let (order, [a, b], guest) = shipped_order(&app, &admin).await;
    let stock_shipped = available(&app);

    // the shopper asks to send back 1 of the first line and 2 of the second
    let r = ask(
        &app,
        &guest,
        &order,
        json!({"lines": [{"line_id": a, "quantity": 1, "reason": "too small"}, {"line_id": b, "quantity": 2, "reason": "arrived broken"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let ret = r.json()["data"].clone();
    assert_eq!(ret["status"], "requested");
    assert_eq!(ret["order_id"], order.as_str());
    let id = ret["id"].as_str().unwrap().to_owned();
    assert_eq!(ret["lines"][0]["reason"], "too small");
    assert_eq!((ret["lines"][1]["quantity"].as_i64(), ret["lines"][1]["received"].as_i64()), (Some(2), Some(0)));
    // those units are spoken for: the same again is too many
    let r = ask(&app, &guest, &order, json!({"lines": [{"line_id": a, "quantity": 2, "reason": "both"}]})).await;
    assert_eq!((r.status, r.error_code()), (409, "over_return".into()), "{}", r.text());

    // the owner sees it waiting, approves it with instructions
    let list = app.call("GET", "/api/admin/returns?status=requested", Some(&admin), None, &[]).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json()["data"][0]["id"], id.as_str());
    let r = act(&app, &admin, &id, json!({"action": "approve", "note": "Send it to 1 Dock Road"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["status"], "approved");
    assert_eq!(r.json()["data"]["note"], "Send it to 1 Dock Road");

    // the parcel arrives: the first line goes back on sale, the broken ones do not
    let r = act(
        &app,
        &admin,
        &id,
        json!({"action": "receive", "lines": [{"line_id": a, "quantity": 1, "restock": true}, {"line_id": b, "quantity": 2, "restock": false}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json()["data"].clone();
    assert_eq!(d["status"], "received");
    assert_eq!((d["lines"][0]["restocked"].as_i64(), d["lines"][1]["restocked"].as_i64()), (Some(1), Some(0)));
    let after = available(&app);
    let moved: Vec<i64> = after.iter().zip(&stock_shipped).map(|(x, y)| x - y).collect();
    assert_eq!(moved.iter().sum::<i64>(), 1, "one unit back on sale: {moved:?}");

    // the refund: those three units at their part of the total
    let r = act(&app, &admin, &id, json!({"action": "refund"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json()["data"].clone();
    assert_eq!(d["status"], "refunded");
    let refund_id = d["refund_id"].as_str().unwrap().to_owned();
    let o = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json()["data"].clone();
    assert_eq!(o["status"], "partially_refunded");
    let refund = o["refunds"].as_array().unwrap().iter().find(|r| r["id"] == refund_id.as_str()).unwrap().clone();
    assert_eq!(refund["status"], "succeeded");
    let units: Vec<(i64, i64, i64)> = refund["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["line_id"].as_i64().unwrap(), l["quantity"].as_i64().unwrap(), l["cancelled"].as_i64().unwrap()))
        .collect();
    assert_eq!(units, vec![(a, 1, 0), (b, 2, 0)], "shipped units: none cancelled");
    assert_eq!(available(&app), after, "the refund moves no stock: the receipt did");
    // the shopper's answer carries the return with its history
    let shown = &o["returns"][0];
    assert_eq!(shown["status"], "refunded");
    let steps: Vec<&str> = shown["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["requested", "approved", "received", "refunded"]);
    // what is left may still be asked back: 1 of the first line, 1 of the second
    let r = ask(&app, &guest, &order, json!({"lines": [{"line_id": b, "quantity": 2, "reason": "again"}]})).await;
    assert_eq!((r.status, r.error_code()), (409, "over_return".into()));
    // a refunded return is done
    let r = act(&app, &admin, &id, json!({"action": "refund"})).await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()));

    // a mail at each step, and the refund's own
    for (n, subject) in [
        (1, "We got your return request"),
        (1, "is approved"),
        (1, "returned items for order"),
        (1, "Refund for order"),
    ] {
        let mails = smtp.wait_for(n, 20, |m| m.contains(subject)).await;
        assert_eq!(mails.len(), n, "{subject}");
        assert!(mails[0].contains("back@example.com"));
    }
    assert!(smtp.messages().iter().any(|m| m.contains("Send it to 1 Dock Road")), "the note reaches the shopper");
    for kind in ["return.requested", "return.received", "order.refunded"] {
        common::until(kind, 20, || {
            let r = &receiver;
            async move { !r.events_of(kind).is_empty() }
        })
        .await;
    }
    let requested = receiver.events_of("return.requested");
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["data"]["id"], id.as_str());
    assert_eq!(receiver.events_of("return.received").len(), 1);
    let audited = column::<String>(&app.conn(), "SELECT action FROM audit_log WHERE entity = 'return' ORDER BY id");
    assert_eq!(audited, vec!["return.approve", "return.receive", "return.refund"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_returns_are_refused_and_change_nothing() {
    let (app, admin) = shop(|_| {}).await;
    let (order, [a, b], guest) = shipped_order(&app, &admin).await;
    let stranger = app.register("stranger@example.com").await;
    let before = state(&app);
    let one = |line: i64, quantity: Value, reason: Value| json!({"lines": [{"line_id": line, "quantity": quantity, "reason": reason}]});
    let cases = [
        (json!({}), 422),
        (json!({"lines": []}), 422),
        (one(a, json!(0), json!("zero")), 422),
        (one(a, json!(1001), json!("too many to count")), 422),
        (one(a, json!("1"), json!("text")), 422),
        (one(0, json!(1), json!("line zero")), 422),
        (one(99, json!(1), json!("no such line")), 422),
        (one(a, json!(1), json!("")), 422),
        (one(a, json!(1), json!("a\u{7}bell")), 422),
        (json!({"lines": [{"line_id": a, "quantity": 1}]}), 422),
        (json!({"lines": [{"line_id": a, "quantity": 1, "reason": "x", "extra": 1}]}), 422),
        (
            json!({"lines": [{"line_id": a, "quantity": 1, "reason": "x"}, {"line_id": a, "quantity": 1, "reason": "y"}]}),
            422,
        ),
        (one(a, json!(3), json!("more than shipped")), 409),
    ];
    for (body, status) in &cases {
        let r = ask(&app, &guest, &order, body.clone()).await;
        assert_eq!(r.status, *status, "{body}: {}", r.text());
        assert_eq!(state(&app), before, "{body} changed something");
    }
    let r = ask(&app, &guest, &order, one(99, json!(1), json!("no such line"))).await;
    assert!(r.json()["error"]["details"].get("lines[0].line_id").is_some(), "{}", r.text());
    // another's order is not there; no session at all is 401
    let r = ask(&app, &stranger, &order, one(a, json!(1), json!("not mine"))).await;
    assert_eq!(r.status, 404);
    let r = common::send(
        app.addr,
        "POST",
        format!("/api/orders/{order}/returns").as_bytes(),
        &[("Content-Type", "application/json")],
        one(a, json!(1), json!("who")).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401);
    // an order that has not shipped has nothing to return
    let unshipped = {
        let body = json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(),
                          "payment_method": "card", "email": "back@example.com"});
        let r = app.call("POST", "/api/orders", Some(&guest), Some(&body), &[]).await;
        r.json()["data"]["order_id"].as_str().unwrap().to_owned()
    };
    let line = app.call("GET", &format!("/api/orders/{unshipped}"), Some(&guest), None, &[]).await.json()["data"]
        ["items"][0]["line"]
        .as_i64()
        .unwrap();
    let before = state(&app);
    let r = ask(&app, &guest, &unshipped, one(line, json!(1), json!("never came"))).await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()));
    assert_eq!(state(&app), before);

    // a real request, then the moves its status does not allow
    let r = ask(&app, &guest, &order, one(b, json!(2), json!("wrong colour"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let before = state(&app);
    let moves = [
        (json!({"action": "refund"}), 409, "invalid_transition"),
        (json!({"action": "bogus"}), 422, "validation_failed"),
        (json!({}), 422, "validation_failed"),
        (json!({"action": "approve", "lines": [{"line_id": b, "quantity": 1}]}), 422, "validation_failed"),
        (json!({"action": "receive", "lines": []}), 422, "validation_failed"),
        (json!({"action": "receive", "lines": [{"line_id": b, "quantity": -1}]}), 422, "validation_failed"),
        (json!({"action": "receive", "lines": [{"line_id": b, "quantity": 3}]}), 409, "over_return"),
        (json!({"action": "receive", "lines": [{"line_id": a, "quantity": 1}]}), 422, "validation_failed"),
        (json!({"action": "receive", "lines": [{"line_id": b, "quantity": 0}]}), 409, "nothing_to_refund"),
        (json!({"action": "approve", "note": "x".repeat(501)}), 422, "validation_failed"),
    ];
    for (body, status, code) in &moves {
        let r = act(&app, &admin, &id, body.clone()).await;
        assert_eq!((r.status, r.error_code()), (*status, code.to_string()), "{body}: {}", r.text());
        assert_eq!(state(&app), before, "{body} changed something");
    }
    assert_eq!(act(&app, &admin, "999999", json!({"action": "approve"})).await.status, 404);
    let r = app
        .call("PATCH", &format!("/api/admin/returns/{id}"), Some(&guest), Some(&json!({"action": "approve"})), &[])
        .await;
    assert!(matches!(r.status, 401 | 403), "a shopper does not approve: {}", r.status);
    assert_eq!(app.call("GET", "/api/admin/returns?status=lost", Some(&admin), None, &[]).await.status, 422);
    assert_eq!(state(&app), before);
    // rejected: the units may be asked for again, and a rejected return moves no further
    let r = act(&app, &admin, &id, json!({"action": "reject", "note": "worn"})).await;
    assert_eq!(r.json()["data"]["status"], "rejected", "{}", r.text());
    let before = state(&app);
    for body in [json!({"action": "approve"}), json!({"action": "receive"}), json!({"action": "reject"})] {
        let r = act(&app, &admin, &id, body.clone()).await;
        assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()), "{body}");
    }
    assert_eq!(state(&app), before);
    // the owner stops taking returns: the next request is refused
    let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&json!({"return_window_days": 0})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let before = state(&app);
    let r = ask(&app, &guest, &order, one(b, json!(2), json!("wrong colour"))).await;
    assert_eq!((r.status, r.error_code()), (409, "return_window_closed".into()));
    assert_eq!(state(&app), before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_admins_receiving_at_once_restock_once_and_six_refunding_at_once_refund_once() {
    let (app, admin) = shop(|_| {}).await;
    let app = Arc::new(app);
    let (order, [a, b], guest) = shipped_order(&app, &admin).await;
    let r = ask(
        &app,
        &guest,
        &order,
        json!({"lines": [{"line_id": a, "quantity": 2, "reason": "spare"}, {"line_id": b, "quantity": 3, "reason": "spare"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let shipped = available(&app);
    let sold = || column::<i64>(&app.conn(), "SELECT sum(sales_count) FROM products")[0];
    let sold_before = sold();

    let race = |body: Value, n: usize| {
        let (app, admin, id) = (app.clone(), admin.clone(), id.clone());
        async move {
            let mut tasks = Vec::new();
            for _ in 0..n {
                let (app, admin, id, body) = (app.clone(), admin.clone(), id.clone(), body.clone());
                tasks.push(tokio::spawn(async move { act(&app, &admin, &id, body).await }));
            }
            let mut out = Vec::new();
            for t in tasks {
                let r = t.await.unwrap();
                out.push((r.status, if r.status == 200 { String::new() } else { r.error_code() }));
            }
            out
        }
    };
    let got = race(json!({"action": "receive"}), 12).await;
    assert_eq!(got.iter().filter(|s| s.0 == 200).count(), 1, "{got:?}");
    assert!(got.iter().all(|s| s.0 == 200 || s.1 == "invalid_transition"), "{got:?}");
    let back: i64 = available(&app).iter().zip(&shipped).map(|(x, y)| x - y).sum();
    assert_eq!(back, 5, "every unit of the return back on sale, once");
    assert_eq!(sold_before - sold(), 5, "and no longer counted sold, once");

    let got = race(json!({"action": "refund"}), 6).await;
    assert_eq!(got.iter().filter(|s| s.0 == 200).count(), 1, "{got:?}");
    assert!(got.iter().all(|s| s.0 == 200 || s.1 == "invalid_transition"), "{got:?}");
    let (refunds, refunded, total) = {
        let c = app.conn();
        let refunds = column::<i64>(&c, &format!("SELECT count(*) FROM refunds WHERE order_id = {order}"))[0];
        let refunded = column::<i64>(
            &c,
            &format!("SELECT sum(amount) FROM refunds WHERE order_id = {order} AND status <> 'failed'"),
        )[0];
        let total = column::<i64>(&c, &format!("SELECT total FROM orders WHERE id = {order}"))[0];
        (refunds, refunded, total)
    };
    assert_eq!((refunds, refunded), (1, total), "everything came back: one refund of the whole total");
    let o = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json()["data"].clone();
    assert_eq!(o["status"], "refunded");
    assert_eq!(available(&app).iter().zip(&shipped).map(|(x, y)| x - y).sum::<i64>(), 5, "and stock moved once");
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_whose_refund_the_provider_refused_is_refunded_again() {
    // the provider refuses the first refund, then pays the next
    let provider = Receiver::start(&[402], 200).await;
    let url = provider.url("/v1");
    let (app, admin) = shop(|c| {
        c.payment_provider_url = Some(url);
        c.payment_provider_key = Some("sk_test_returns".into());
    })
    .await;
    let (order, [a, _], guest) = shipped_order_paid_with(&app, &admin, "pm_card_visa").await;
    let r = ask(&app, &guest, &order, json!({"lines": [{"line_id": a, "quantity": 1, "reason": "faulty"}]})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(act(&app, &admin, &id, json!({"action": "receive"})).await.status, 200);
    let refund_of = |app: &TestApp, rid: String| {
        let c = app.conn();
        column::<String>(&c, &format!("SELECT status FROM refunds WHERE id = {rid}")).pop().unwrap_or_default()
    };
    let r = act(&app, &admin, &id, json!({"action": "refund"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = r.json()["data"]["refund_id"].as_str().unwrap().to_owned();
    common::until("the provider's refusal", 30, || {
        let (app, first) = (&app, first.clone());
        async move { refund_of(app, first) == "failed" }
    })
    .await;
    // its units are still the return's: the shopper cannot ask for them again
    let r = ask(&app, &guest, &order, json!({"lines": [{"line_id": a, "quantity": 2, "reason": "both"}]})).await;
    assert_eq!((r.status, r.error_code()), (409, "over_return".into()));
    let r = act(&app, &admin, &id, json!({"action": "refund"})).await;
    assert_eq!(r.status, 200, "the money of a refused refund may be sent again: {}", r.text());
    let second = r.json()["data"]["refund_id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    common::until("the provider's payment", 30, || {
        let (app, second) = (&app, second.clone());
        async move { refund_of(app, second) == "succeeded" }
    })
    .await;
    let r = act(&app, &admin, &id, json!({"action": "refund"})).await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()), "refunded once");
    let o = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json()["data"].clone();
    let second_amount = o["refunds"].as_array().unwrap().iter().find(|r| r["id"] == second.as_str()).unwrap()["amount"]
        ["amount"]
        .as_i64();
    assert_eq!(o["refunded"]["amount"].as_i64(), second_amount, "only the paid refund counts");
    let keys: Vec<String> =
        provider.hits().iter().map(|h| h.header("idempotency-key").unwrap_or("").to_owned()).collect();
    assert!(
        keys.contains(&format!("storefront-refund-{first}")) && keys.contains(&format!("storefront-refund-{second}"))
    );
    app.stop().await;
}
