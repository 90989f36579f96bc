//! Shipments through HTTP with the real parts: an order ships in parcels (partially, then
//! wholly fulfilled), the "shipped" mail reaches a real SMTP server and the
//! `order.fulfilled` event a real HTTP receiver once per parcel; bad requests change
//! nothing; two admins shipping the last units at once ship them once; deliveries are
//! marked once, by the shop or by a carrier's signed report; a refund after a partial
//! shipment returns only what had not shipped.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::common::receiver::Receiver;
use crate::common::smtp_server::SmtpServer;
use crate::common::{self, address, column, send, sign, TestApp};

const SECRET: &str = "whsec-parcels-api-0123456789";
const CARRIER_SECRET: &str = "carrier-secret-0123456789";

async fn shop(f: impl FnOnce(&mut storefront::config::Config)) -> (TestApp, String) {
    common::after_sale_shop(SECRET, |c| {
        c.carrier_webhook_secret = Some(CARRIER_SECRET.into());
        f(c);
    })
    .await
}

/// A paid order of 2 × product 1 and 3 × product 3 for a guest: (order id, guest token).
async fn paid_order(app: &TestApp) -> (String, String) {
    paid_order_of(app, json!([{"product_id": "1", "quantity": 2}, {"product_id": "3", "quantity": 3}])).await
}

async fn paid_order_of(app: &TestApp, items: Value) -> (String, String) {
    let guest = app.guest().await;
    let body =
        json!({"items": items, "shipping_address": address(), "payment_method": "card", "email": "parcel@example.com"});
    let r = app.call("POST", "/api/orders", Some(&guest), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let order = d["order_id"].as_str().unwrap().to_owned();
    let paid = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded",
                      "amount": d["total"]["amount"]});
    app.payment_webhook(SECRET, &paid.to_string()).await;
    (order, guest)
}

/// The order's lines as `(line, product_id, quantity)`.
async fn lines(app: &TestApp, admin: &str, order: &str) -> Vec<(i64, String, i64)> {
    let v = app.call("GET", &format!("/api/admin/orders/{order}"), Some(admin), None, &[]).await.json();
    v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["line"].as_i64().unwrap(), i["product_id"].as_str().unwrap().to_owned(), i["quantity"].as_i64().unwrap())
        })
        .collect()
}

/// What a shipment would change: the orders, their lines, history and shipments, stock,
/// the audit log, and how many mails and events were queued. (Not the whole file: mail and
/// webhook deliveries go on in the background and move their own rows.)
fn state(app: &TestApp) -> Vec<String> {
    let tables = [
        "orders",
        "order_items",
        "order_status_history",
        "fulfillments",
        "fulfillment_lines",
        "inventory",
        "audit_log",
    ];
    common::rows_of(&app.conn(), &tables, &["mail_outbox", "webhook_events"])
}

async fn ship(app: &TestApp, admin: &str, order: &str, body: Value) -> common::Resp {
    app.call("POST", &format!("/api/admin/orders/{order}/fulfillments"), Some(admin), Some(&body), &[]).await
}

async fn carrier(app: &TestApp, body: &Value, secret: Option<&str>) -> common::Resp {
    let text = body.to_string();
    let sig = secret.map(|s| sign(s, &text));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = &sig {
        headers.push(("X-Signature", s.as_str()));
    }
    send(app.addr, "POST", b"/api/webhooks/carriers", &headers, text.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_ships_in_two_parcels_with_one_mail_and_one_event_each() {
    let smtp = SmtpServer::start();
    let receiver = Receiver::start(&[], 200).await;
    let (app, admin) = shop(|c| c.smtp_url = Some(smtp.url())).await;
    common::subscribe(&app, &admin, &receiver.url("/hooks"), &["order.fulfilled", "order.delivered"]).await;
    let (order, guest) = paid_order(&app).await;
    let l = lines(&app, &admin, &order).await;
    let (first, second) = (&l[0], &l[1]);
    let stock = |app: &TestApp| -> Vec<(i64, i64)> {
        let c = app.conn();
        let mut s = c.prepare("SELECT available, reserved FROM inventory ORDER BY variant_id").unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let stock_paid = stock(&app);

    // parcel 1: all of the first line and one of the second
    let body = json!({"lines": [{"line_id": first.0, "quantity": first.2}, {"line_id": second.0, "quantity": 1}],
                      "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
                      "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"});
    let r = ship(&app, &admin, &order, body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"]["status"], "partially_fulfilled");
    let f = &v["data"]["fulfillments"];
    assert_eq!(f.as_array().unwrap().len(), 1);
    assert_eq!(f[0]["carrier"], "UPS");
    assert_eq!(f[0]["lines"], json!([{"line_id": first.0, "quantity": first.2}, {"line_id": second.0, "quantity": 1}]));
    let shipped: Vec<i64> =
        v["data"]["items"].as_array().unwrap().iter().map(|i| i["fulfilled"].as_i64().unwrap()).collect();
    assert_eq!(shipped, vec![first.2, 1]);

    // parcel 2: no lines = everything left
    let r = ship(&app, &admin, &order, json!({"carrier": "DHL", "tracking_number": "JD014600003828"})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"]["status"], "fulfilled");
    assert_eq!(v["data"]["fulfillments"][1]["lines"], json!([{"line_id": second.0, "quantity": second.2 - 1}]));
    assert_eq!(stock(&app), stock_paid, "shipping moves no stock: payment sold it");

    // nothing is left: another parcel is refused and changes nothing
    let before = state(&app);
    let r = ship(&app, &admin, &order, json!({"carrier": "DHL", "tracking_number": "JD0000"})).await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()));
    assert_eq!(state(&app), before);

    // the customer sees both parcels and how to follow them
    let mine = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json();
    assert_eq!(mine["data"]["fulfillments"].as_array().unwrap().len(), 2);
    assert_eq!(
        mine["data"]["fulfillments"][0]["tracking_url"],
        "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    );
    let stranger = app.guest().await;
    assert_eq!(app.call("GET", &format!("/api/orders/{order}"), Some(&stranger), None, &[]).await.status, 404);

    // one "shipped" mail per parcel, with its tracking number
    let mails = smtp.wait_for(2, 30, |m| m.contains("has shipped") || m.contains("Part of order")).await;
    let text: Vec<String> = mails.iter().map(|m| m.replace("=\r\n", "").replace("=3D", "=")).collect();
    assert!(text.iter().any(
        |m| m.contains(&format!("Subject: Part of order {order} has shipped")) && m.contains("1Z999AA10123456784")
    ));
    assert!(text
        .iter()
        .any(|m| m.contains(&format!("Subject: Order {order} has shipped")) && m.contains("JD014600003828")));
    // one order.fulfilled event per parcel, the second with both parcels in it
    common::until("two order.fulfilled events", 30, || {
        let n = receiver.events_of("order.fulfilled").len();
        async move { n >= 2 }
    })
    .await;
    let events = receiver.events_of("order.fulfilled");
    assert_eq!(events.len(), 2, "one event per parcel");
    assert_eq!(events[0]["data"]["status"], "partially_fulfilled");
    assert_eq!(events[1]["data"]["status"], "fulfilled");
    assert_eq!(events[1]["data"]["fulfillments"].as_array().unwrap().len(), 2);

    // delivered: once by the shop, once more changes nothing
    let fid = v["data"]["fulfillments"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/admin/orders/{order}/fulfillments/{fid}");
    let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"delivered": true})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let at = r.json()["data"]["fulfillments"][0]["delivered_at"].clone();
    assert!(at.is_string());
    let before = state(&app);
    let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"delivered": true})), &[]).await;
    assert_eq!(r.json()["data"]["fulfillments"][0]["delivered_at"], at, "the first time stays");
    assert_eq!(state(&app), before);
    let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"delivered": false})), &[]).await;
    assert_eq!(r.status, 422);
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/orders/{order}/fulfillments/999999"),
            Some(&admin),
            Some(&json!({"delivered": true})),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);

    // the carrier reports the second parcel: unsigned or wrongly signed is refused unread
    let report = json!({"tracking_number": "JD014600003828", "status": "delivered"});
    assert_eq!(carrier(&app, &report, None).await.status, 401);
    assert_eq!(carrier(&app, &report, Some("not-the-secret-at-all")).await.status, 401);
    assert_eq!(state(&app), before);
    let moving = json!({"tracking_number": "JD014600003828", "status": "in_transit"});
    assert_eq!(carrier(&app, &moving, Some(CARRIER_SECRET)).await.json()["data"]["outcome"], "noted");
    let r = carrier(&app, &report, Some(CARRIER_SECRET)).await;
    assert_eq!((r.status, r.json()["data"]["outcome"].clone()), (200, json!("delivered")), "{}", r.text());
    let r = carrier(&app, &report, Some(CARRIER_SECRET)).await;
    assert_eq!(r.json()["data"]["outcome"], "already_delivered");
    let unknown = json!({"tracking_number": "NO-SUCH-PARCEL", "status": "delivered"});
    assert_eq!(carrier(&app, &unknown, Some(CARRIER_SECRET)).await.status, 404);
    let bad = json!({"tracking_number": "JD014600003828", "status": "lost in space"});
    assert_eq!(carrier(&app, &bad, Some(CARRIER_SECRET)).await.status, 422);
    let mine = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json();
    assert!(mine["data"]["fulfillments"].as_array().unwrap().iter().all(|f| f["delivered_at"].is_string()));
    common::until("two order.delivered events", 30, || {
        let n = receiver.events_of("order.delivered").len();
        async move { n >= 2 }
    })
    .await;

    // each parcel and each delivery by the shop is audited
    let audited: Vec<String> = column(&app.conn(), "SELECT action FROM audit_log WHERE entity = 'order' ORDER BY id");
    assert_eq!(audited, vec!["order.fulfillment", "order.fulfillment", "order.delivered"]);
    // the mails went out once each
    let shipped_mails = smtp.messages().iter().filter(|m| m.contains("has shipped")).count();
    assert_eq!(shipped_mails, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shipments_get_a_clear_4xx_and_change_nothing() {
    let (app, admin) = shop(|_| {}).await;
    let (order, _) = paid_order(&app).await;
    let l = lines(&app, &admin, &order).await;
    let line = l[0].0;
    let ok = |extra: Value| {
        let mut b = json!({"carrier": "UPS", "tracking_number": "1Z1"});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    let before = state(&app);
    for (body, status, field) in [
        (json!({"tracking_number": "1Z1"}), 422, ""),
        (ok(json!({"carrier": "   "})), 422, "carrier"),
        (ok(json!({"tracking_number": "a\u{7}b"})), 422, "tracking_number"),
        (ok(json!({"tracking_url": "javascript:alert(1)"})), 422, "tracking_url"),
        (ok(json!({"tracking_url": "ftp://example.com/x"})), 422, "tracking_url"),
        (ok(json!({"lines": []})), 422, "lines"),
        (ok(json!({"lines": [{"line_id": line, "quantity": 0}]})), 422, "lines[0].quantity"),
        (
            // a line named twice ships the sum: here more than is left
            ok(json!({"lines": [{"line_id": line, "quantity": 1}, {"line_id": line, "quantity": l[0].2}]})),
            409,
            "",
        ),
        (ok(json!({"lines": [{"line_id": 99, "quantity": 1}]})), 422, "lines[0].line_id"),
        (ok(json!({"lines": [{"line_id": line, "quantity": 1, "box": 3}]})), 422, ""),
        (ok(json!({"lines": [{"line_id": line, "quantity": l[0].2 + 1}]})), 409, ""),
        (ok(json!({"weight": 3})), 422, ""),
    ] {
        let r = ship(&app, &admin, &order, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        if !field.is_empty() {
            assert!(r.json()["error"]["details"][field].is_string(), "{body}: {}", r.text());
        }
        assert_eq!(state(&app), before, "{body} changed nothing");
    }
    let over = ship(&app, &admin, &order, ok(json!({"lines": [{"line_id": line, "quantity": l[0].2 + 1}]}))).await;
    assert_eq!(over.error_code(), "over_fulfillment");
    // an order not yet paid, or someone else's id, ships nothing
    let guest = app.guest().await;
    let body =
        json!({"items": [{"product_id": "3", "quantity": 1}], "shipping_address": address(), "payment_method": "card"});
    let pending = app.call("POST", "/api/orders", Some(&guest), Some(&body), &[]).await.json();
    let pending = pending["data"]["order_id"].as_str().unwrap().to_owned();
    let before = state(&app);
    let r = ship(&app, &admin, &pending, ok(json!({}))).await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()));
    assert_eq!(ship(&app, &admin, "999999", ok(json!({}))).await.status, 404);
    // a shopper is not the shop
    let shopper = app.register("shopper@example.com").await;
    assert_eq!(ship(&app, &shopper, &order, ok(json!({}))).await.status, 403);
    assert_eq!(ship(&app, &guest, &order, ok(json!({}))).await.status, 401);
    assert_eq!(state(&app), before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_shipping_the_last_units_at_once_ship_them_once() {
    let (app, admin) = shop(|_| {}).await;
    let app = Arc::new(app);
    let mut orders = Vec::new();
    for _ in 0..3 {
        let items = json!([{"product_id": "3", "quantity": 2}, {"product_id": "1", "quantity": 1}]);
        orders.push(paid_order_of(&app, items).await.0);
    }
    // for each order, eight concurrent "ship everything left": exactly one ships
    let mut tasks = Vec::new();
    for order in &orders {
        for i in 0..8 {
            let (app, admin, order) = (app.clone(), admin.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let r = ship(&app, &admin, &order, json!({"carrier": "UPS", "tracking_number": format!("T{i}")})).await;
                r.status
            }));
        }
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), orders.len(), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let c = app.conn();
    let over: Vec<i64> = column(&c, "SELECT count(*) FROM order_items WHERE fulfilled <> quantity");
    assert_eq!(over[0], 0, "every unit shipped exactly once");
    let parcels: Vec<i64> = column(&c, "SELECT count(*) FROM fulfillments");
    assert_eq!(parcels[0] as usize, orders.len());
    let lines_shipped: Vec<i64> = column(&c, "SELECT coalesce(sum(quantity), 0) FROM fulfillment_lines");
    let ordered: Vec<i64> = column(&c, "SELECT coalesce(sum(quantity), 0) FROM order_items");
    assert_eq!(lines_shipped, ordered);
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_after_part_shipped_returns_only_what_had_not_shipped() {
    let (app, admin) = shop(|_| {}).await;
    let available = |app: &TestApp, variant: i64| -> i64 {
        app.conn().query_row("SELECT available FROM inventory WHERE variant_id = ?1", [variant], |r| r.get(0)).unwrap()
    };
    let (order, _) = paid_order(&app).await;
    let l = lines(&app, &admin, &order).await;
    let speakers = l.iter().find(|x| x.1 == "3").unwrap().clone(); // variant 31, 3 ordered
    let after_payment = available(&app, 31);
    let r = ship(
        &app,
        &admin,
        &order,
        json!({"lines": [{"line_id": speakers.0, "quantity": 1}], "carrier": "UPS", "tracking_number": "1Z2"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // a partly shipped order is not cancelled; it is refunded
    let patch = |status: &str| json!({"status": status});
    let r =
        app.call("PATCH", &format!("/api/admin/orders/{order}"), Some(&admin), Some(&patch("cancelled")), &[]).await;
    assert_eq!(r.status, 409);
    let r = app.call("PATCH", &format!("/api/admin/orders/{order}"), Some(&admin), Some(&patch("refunded")), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["status"], "refunded");
    assert_eq!(available(&app, 31), after_payment + 2, "the two speakers that had not shipped are back on sale");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_an_order_fulfilled_ships_what_is_left_without_tracking() {
    let (app, admin) = shop(|_| {}).await;
    let (order, guest) = paid_order(&app).await;
    let l = lines(&app, &admin, &order).await;
    let r = ship(
        &app,
        &admin,
        &order,
        json!({"lines": [{"line_id": l[0].0, "quantity": 1}], "carrier": "UPS", "tracking_number": "1Z3"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let r = app
        .call("PATCH", &format!("/api/admin/orders/{order}"), Some(&admin), Some(&json!({"status": "fulfilled"})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json();
    assert_eq!(v["data"]["status"], "fulfilled");
    let f = v["data"]["fulfillments"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    assert!(f[1]["carrier"].is_null() && f[1]["tracking_number"].is_null());
    assert!(v["data"]["items"].as_array().unwrap().iter().all(|i| i["fulfilled"] == i["quantity"]));
    app.stop().await;
}
