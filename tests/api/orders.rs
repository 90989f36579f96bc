//! Carts, checkout and orders through HTTP on a real SQLite file: prices, stock that is
//! never oversold under concurrency, idempotency, stock conservation through checkouts,
//! payments, cancellations and expiry, the payment webhook, reviews.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;

use crate::common::{address, checkout_body, column, TestApp};
use serde_json::{json, Value};

const SECRET: &str = "whsec-test-secret-0123456789";

async fn shop() -> TestApp {
    TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| c.payment_webhook_secret = Some(SECRET.into()))
        .start()
        .await
}

fn ok(r: &common::Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    r.json()
}

fn amount(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_prices_with_discounts_shipping_and_tax() {
    let app = shop().await;
    let t = app.guest().await;
    app.add_to_cart(&t, 1, 1).await; // Aurora, on sale at 149.99 (the in-stock Black variant)
    let v = app.add_to_cart(&t, 3, 2).await; // Boom, 49.99 each
    let cart = &v["data"];
    assert_eq!(cart["item_count"], 3);
    assert_eq!(amount(&cart["subtotal"]), 14999 + 2 * 4999);
    assert_eq!(cart["items"][0]["variant_id"], "11", "the variant with stock");
    assert_eq!(amount(&cart["items"][1]["line_total"]), 9998);

    let r = app.call("POST", "/api/cart/discount", Some(&t), Some(&json!({"code": "welcome10"})), &[]).await;
    let v = ok(&r, 200);
    assert_eq!(v["data"]["discount_code"], "WELCOME10", "codes are case-insensitive");
    assert_eq!(amount(&v["data"]["discount"]), 2500, "10% of 249.97, rounded half up");
    for (code, why) in [("SUMMER", "expired"), ("RETIRED", "no longer"), ("NOPE", "no such code")] {
        let r = app.call("POST", "/api/cart/discount", Some(&t), Some(&json!({"code": code})), &[]).await;
        assert_eq!((r.status, r.error_code()), (422, "invalid_discount".into()), "{code}");
        assert!(r.text().contains(why), "{code}: {}", r.text());
    }
    // priced for California: standard shipping is free above 50.00, tax 7.25% of goods
    let v = ok(&app.call("GET", "/api/cart?country=US&state=CA", Some(&t), None, &[]).await, 200);
    let c = &v["data"];
    assert_eq!(c["shipping_option"]["code"], "standard");
    assert_eq!(amount(&c["shipping"]), 0);
    assert_eq!(amount(&c["tax"]), 1631, "7.25% of 224.97 = 16.31");
    assert_eq!(amount(&c["total"]), 24997 - 2500 + 1631);
    let v = ok(&app.call("GET", "/api/cart?country=DE", Some(&t), None, &[]).await, 200);
    assert_eq!(amount(&v["data"]["tax"]), 4274, "19% of 224.97");
    let opts = ok(&app.call("GET", "/api/cart/shipping-options?country=JP", Some(&t), None, &[]).await, 200);
    assert_eq!(opts["data"][0]["code"], "international");
    let r = app.call("GET", "/api/cart/shipping-options", Some(&t), None, &[]).await;
    assert_eq!(r.status, 422, "a country is needed");

    // quantities change and lines go; stock bounds what a line may hold
    let item = v["data"]["items"][1]["id"].as_str().unwrap().to_owned();
    let r = app.call("PATCH", &format!("/api/cart/items/{item}"), Some(&t), Some(&json!({"quantity": 11})), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "out_of_stock".into()), "10 in stock");
    let v = ok(
        &app.call("PATCH", &format!("/api/cart/items/{item}"), Some(&t), Some(&json!({"quantity": 10})), &[]).await,
        200,
    );
    assert_eq!(v["data"]["item_count"], 11);
    let v = ok(&app.call("DELETE", &format!("/api/cart/items/{item}"), Some(&t), None, &[]).await, 200);
    assert_eq!(v["data"]["item_count"], 1);
    let r = app.call("POST", "/api/cart", Some(&t), Some(&json!({"product_id": "2", "quantity": 1})), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "out_of_stock".into()), "Nimbus is sold out");
    assert!(r.text().contains("\"variant_id\":\"21\""), "names the item: {}", r.text());
    let other = app.guest().await;
    let r = app.call("DELETE", &format!("/api/cart/items/{item}"), Some(&other), None, &[]).await;
    assert_eq!(r.status, 404, "another session's item");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tax_included_in_prices_is_their_part_and_the_shopper_pays_what_is_shown() {
    let (app, admin) = common::after_sale_shop(SECRET, |_| {}).await;
    let receiver = common::receiver::Receiver::start(&[], 200).await;
    common::subscribe(&app, &admin, &receiver.url("/hooks"), &["order.placed"]).await;
    let rate_of = |country: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let v = app.call("GET", "/api/admin/tax-rates?per_page=100", Some(&admin), None, &[]).await.json();
            v["data"].as_array().unwrap().iter().find(|r| r["country"] == country && r["region"] == "").unwrap().clone()
        }
    };
    let germany = rate_of("DE").await;
    assert_eq!(germany["inclusive"], false, "a rate is added on top unless it says otherwise");
    let path = format!("/api/admin/tax-rates/{}", germany["id"].as_str().unwrap());

    // values that are not true or false are refused, naming the field, and change nothing
    let before = common::digest(&app.conn());
    for bad in [json!({"inclusive": "yes"}), json!({"inclusive": null}), json!({"inclusive": 1})] {
        let r = app.call("PATCH", &path, Some(&admin), Some(&bad), &[]).await;
        assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{bad}: {}", r.text());
        assert!(r.text().contains("inclusive"), "{}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before, "nothing changed");
    let v = ok(&app.call("PATCH", &path, Some(&admin), Some(&json!({"inclusive": true})), &[]).await, 200);
    assert_eq!(v["data"]["inclusive"], true);
    assert_eq!(rate_of("DE").await["inclusive"], true);

    // the same cart for Germany (gross prices) and for California (tax on top)
    let t = app.guest().await;
    app.add_to_cart(&t, 1, 1).await; // 149.99
    app.add_to_cart(&t, 3, 2).await; // 2 × 49.99
    ok(&app.call("POST", "/api/cart/discount", Some(&t), Some(&json!({"code": "WELCOME10"})), &[]).await, 200);
    let de = ok(&app.call("GET", "/api/cart?country=DE", Some(&t), None, &[]).await, 200)["data"].clone();
    assert_eq!((amount(&de["subtotal"]), amount(&de["discount"]), amount(&de["shipping"])), (24997, 2500, 0));
    assert_eq!(de["tax_included"], true);
    assert_eq!(amount(&de["tax"]), 3592, "the 19 % in 224.97: 224.97 × 19 / 119 = 35.9196 → 35.92");
    assert_eq!(amount(&de["total"]), 22497, "the shopper pays the prices shown, less the discount");
    let us = ok(&app.call("GET", "/api/cart?country=US&state=CA", Some(&t), None, &[]).await, 200)["data"].clone();
    assert_eq!((us["tax_included"].as_bool(), amount(&us["tax"])), (Some(false), 1631), "7.25 % on top");
    assert_eq!(amount(&us["total"]), 22497 + 1631);

    // the order costs what the cart showed, and says so to the customer and in its event
    let mut to = address();
    to["country"] = json!("DE");
    to["state"] = json!("");
    to["city"] = json!("Berlin");
    to["postal_code"] = json!("10115");
    let body = json!({"shipping_address": to, "payment_method": "card", "email": "kunde@example.de"});
    let placed = ok(&app.call("POST", "/api/checkout", Some(&t), Some(&body), &[]).await, 201)["data"].clone();
    assert_eq!(amount(&placed["total"]), 22497);
    let order = placed["order_id"].as_str().unwrap().to_owned();
    let o = ok(&app.call("GET", &format!("/api/orders/{order}"), Some(&t), None, &[]).await, 200)["data"].clone();
    assert_eq!((o["tax_included"].as_bool(), amount(&o["tax"]), amount(&o["total"])), (Some(true), 3592, 22497));
    common::until("order.placed delivered", 20, || {
        let r = &receiver;
        async move { !r.events_of("order.placed").is_empty() }
    })
    .await;
    let event = receiver.events_of("order.placed")[0]["data"].clone();
    assert_eq!((event["tax_included"].as_bool(), amount(&event["total"])), (Some(true), 22497), "{event}");

    // paid, then refunded line by line: the refunds add up to what was paid, not more
    let paid = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded", "amount": 22497});
    app.payment_webhook(SECRET, &paid.to_string()).await;
    let lines: Vec<i64> = o["items"].as_array().unwrap().iter().map(|i| i["line"].as_i64().unwrap()).collect();
    let mut refunded = 0;
    for line in lines {
        let body = json!({"lines": [{"line_id": line, "quantity": 1}], "reason": "zurück"});
        let path = format!("/api/admin/orders/{order}/refunds");
        let r = ok(&app.call("POST", &path, Some(&admin), Some(&body), &[]).await, 201);
        refunded += amount(&r["data"]["amount"]);
    }
    let o =
        ok(&app.call("GET", &format!("/api/admin/orders/{order}"), Some(&admin), None, &[]).await, 200)["data"].clone();
    assert_eq!(o["status"], "partially_refunded", "one of the two speakers is still to ship");
    assert_eq!(amount(&o["refunded"]), refunded);
    let last = json!({"lines": [{"line_id": o["items"][1]["line"], "quantity": 1}], "reason": "zurück"});
    let r =
        ok(&app.call("POST", &format!("/api/admin/orders/{order}/refunds"), Some(&admin), Some(&last), &[]).await, 201);
    assert_eq!(refunded + amount(&r["data"]["amount"]), 22497, "every unit refunded is the total, exactly");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_reserves_stock_and_a_cart_becomes_one_order() {
    let app = shop().await;
    let t = app.guest().await;
    app.add_to_cart(&t, 5, 2).await; // Chef Knife: 3 in stock
    let mut body = checkout_body();
    body["email"] = json!("guest@example.com");
    let v = ok(&app.call("POST", "/api/checkout", Some(&t), Some(&body), &[]).await, 201);
    let order = v["data"]["order_id"].as_str().unwrap().to_owned();
    assert_eq!(v["data"]["status"], "pending");
    let stock: Vec<(i64, i64)> = {
        let c = app.conn();
        let mut s = c.prepare("SELECT available, reserved FROM inventory WHERE variant_id = 51").unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(stock, vec![(1, 2)], "reserved, not sold");
    let r = app.call("POST", "/api/checkout", Some(&t), Some(&checkout_body()), &[]).await;
    assert_eq!((r.status, r.error_code()), (422, "cart_empty".into()), "the cart became an order");
    let d = ok(&app.call("GET", &format!("/api/orders/{order}"), Some(&t), None, &[]).await, 200);
    let d = &d["data"];
    assert_eq!(d["items"][0]["quantity"], 2);
    assert_eq!(amount(&d["subtotal"]), 5998);
    assert_eq!(d["shipping_address"]["city"], "San Francisco");
    assert_eq!(d["status_history"][0]["status"], "pending");
    assert!(d["expires_at"].is_string(), "a pending order has a deadline");
    let mails: Vec<String> = column(&app.conn(), "SELECT to_email FROM mail_outbox WHERE kind = 'order_confirmation'");
    assert_eq!(mails, vec!["guest@example.com".to_owned()], "the confirmation is queued with the order");

    // someone else cannot see or cancel it
    let other = app.guest().await;
    assert_eq!(app.call("GET", &format!("/api/orders/{order}"), Some(&other), None, &[]).await.status, 404);
    assert_eq!(app.call("POST", &format!("/api/orders/{order}/cancel"), Some(&other), None, &[]).await.status, 404);
    // the owner cancels: the stock returns
    let v = ok(&app.call("POST", &format!("/api/orders/{order}/cancel"), Some(&t), None, &[]).await, 200);
    assert_eq!(v["data"]["status"], "cancelled");
    let avail: Vec<i64> = column(&app.conn(), "SELECT available FROM inventory WHERE variant_id = 51");
    assert_eq!(avail, vec![3]);
    let r = app.call("POST", &format!("/api/orders/{order}/cancel"), Some(&t), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "cannot_cancel".into()));

    // buy now, and the history pages newest first
    for _ in 0..3 {
        let b = json!({"items": [{"product_id": "3", "quantity": 1}], "shipping_address": address(), "payment_method": "card"});
        ok(&app.call("POST", "/api/orders", Some(&t), Some(&b), &[]).await, 201);
    }
    let p1 = ok(&app.call("GET", "/api/orders?per_page=2", Some(&t), None, &[]).await, 200);
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    assert_eq!(p1["meta"]["has_more"], true);
    let cursor = p1["meta"]["next_cursor"].as_str().unwrap();
    let p2 = ok(&app.call("GET", &format!("/api/orders?per_page=2&cursor={cursor}"), Some(&t), None, &[]).await, 200);
    let ids: Vec<i64> = p1["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["data"].as_array().unwrap())
        .map(|o| o["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, each once: {ids:?}");
    // a cursor the server never issued is 400 however it is spelled: 60 characters of
    // three bytes each are within the documented 100 characters (found by schemathesis)
    let foreign = "%E0%A4%AA".repeat(60);
    let r = app.call("GET", &format!("/api/orders?cursor={foreign}"), Some(&t), None, &[]).await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_cursor"), "{}", r.text());
    let r = app.call("GET", &format!("/api/orders?cursor={}", "x".repeat(101)), Some(&t), None, &[]).await;
    assert_eq!((r.status, r.error_code().as_str()), (422, "validation_failed"), "{}", r.text());
    assert_eq!(p2["meta"]["has_more"], false);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_oversell_under_200_concurrent_checkouts() {
    let app = Arc::new(shop().await);
    // Boom Speaker: 10 in stock; 200 shoppers each with one in the cart
    let mut tokens = Vec::new();
    for _ in 0..200 {
        let t = app.guest().await;
        app.add_to_cart(&t, 3, 1).await;
        tokens.push(t);
    }
    let mut set = tokio::task::JoinSet::new();
    for t in tokens {
        let app = app.clone();
        set.spawn(async move { app.call("POST", "/api/checkout", Some(&t), Some(&checkout_body()), &[]).await });
    }
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        if r.status == 409 {
            assert_eq!(r.error_code(), "out_of_stock");
        }
        *by_status.entry(r.status).or_default() += 1;
    }
    assert_eq!(by_status.get(&201), Some(&10), "{by_status:?}");
    assert_eq!(by_status.get(&409), Some(&190), "{by_status:?}");
    let c = app.conn();
    let (avail, reserved): (i64, i64) = c
        .query_row("SELECT available, reserved FROM inventory WHERE variant_id = 31", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((avail, reserved), (0, 10));
    let orders: i64 = c.query_row("SELECT count(*) FROM orders", [], |r| r.get(0)).unwrap();
    assert_eq!(orders, 10);
    let in_stock: bool = c.query_row("SELECT in_stock FROM products WHERE id = 3", [], |r| r.get(0)).unwrap();
    assert!(!in_stock, "the product shows sold out");
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_makes_one_order_however_many_retries() {
    let app = Arc::new(shop().await);
    let t = app.guest().await;
    app.add_to_cart(&t, 3, 2).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (app, t) = (app.clone(), t.clone());
        set.spawn(async move {
            app.call("POST", "/api/checkout", Some(&t), Some(&checkout_body()), &[("Idempotency-Key", "order-7f3a")])
                .await
        });
    }
    let mut bodies = Vec::new();
    let mut replayed = 0;
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        replayed += (r.header("idempotent-replayed") == Some("true")) as usize;
        bodies.push(r.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "50 identical bodies");
    assert_eq!(replayed, 49);
    let orders: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM orders");
    assert_eq!(orders, vec![1]);
    // the same key with another body is refused; the key works across both endpoints' scope
    let mut other = checkout_body();
    other["payment_method"] = json!("paypal");
    let r = app.call("POST", "/api/checkout", Some(&t), Some(&other), &[("X-Idempotency-Key", "order-7f3a")]).await;
    assert_eq!((r.status, r.error_code()), (409, "idempotency_key_reused".into()));
    // key order and spacing in the body do not make it another body
    let same = r#"{"payment_method":"card",  "shipping_address": {"country":"US","postal_code":"94100","state":"CA","city":"San Francisco","line1":"1 Main St","name":"Ada Lovelace"}}"#;
    let r = common::send(
        app.addr,
        "POST",
        b"/api/checkout",
        &[
            ("Authorization", &format!("Bearer {t}")),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "order-7f3a"),
        ],
        same.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    // another session's identical key is its own
    let t2 = app.guest().await;
    app.add_to_cart(&t2, 5, 1).await;
    let r = app
        .call("POST", "/api/checkout", Some(&t2), Some(&checkout_body()), &[("Idempotency-Key", "order-7f3a")])
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("idempotent-replayed"), None);
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

async fn webhook(app: &TestApp, body: &Value, signature: Option<&str>) -> common::Resp {
    let text = body.to_string();
    let sig = signature.map(str::to_owned).unwrap_or_else(|| common::sign(SECRET, &text));
    common::send(
        app.addr,
        "POST",
        b"/api/webhooks/payments",
        &[("Content-Type", "application/json"), ("X-Signature", &sig)],
        text.as_bytes(),
    )
    .await
}

async fn buy(app: &TestApp, t: &str, product: i64, quantity: i64) -> (String, i64) {
    let b = json!({"items": [{"product_id": product.to_string(), "quantity": quantity}], "shipping_address": address(), "payment_method": "card"});
    let v = ok(&app.call("POST", "/api/orders", Some(t), Some(&b), &[]).await, 201);
    (v["data"]["order_id"].as_str().unwrap().to_owned(), amount(&v["data"]["total"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_webhook_is_signed_and_applies_each_event_once() {
    let app = shop().await;
    let t = app.guest().await;
    let (order, total) = buy(&app, &t, 3, 2).await;
    let event =
        json!({"event_id": "evt_1", "order_id": order, "status": "succeeded", "amount": total, "reference": "pi_9"});
    let r = webhook(&app, &event, Some("sha256=00")).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_signature".into()));
    let r = webhook(&app, &event, Some("")).await;
    assert_eq!(r.status, 401);
    let v = ok(&webhook(&app, &event, None).await, 200);
    assert_eq!((v["data"]["outcome"].as_str(), v["data"]["replayed"].as_bool()), (Some("paid"), Some(false)));
    let v = ok(&webhook(&app, &event, None).await, 200);
    assert_eq!(v["data"]["replayed"], true, "a replayed event changes nothing");
    let c = app.conn();
    let (avail, reserved, sales): (i64, i64, i64) = c
        .query_row(
            "SELECT i.available, i.reserved, p.sales_count FROM inventory i JOIN products p ON p.id = 3 WHERE i.variant_id = 31",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((avail, reserved, sales), (8, 0, 12 + 2), "sold once: reserved → sold, counted once");
    let d = ok(&app.call("GET", &format!("/api/orders/{order}"), Some(&t), None, &[]).await, 200);
    assert_eq!(d["data"]["status"], "paid");
    assert!(d["data"]["paid_at"].is_string());
    // a second event for a paid order is recorded and ignored
    let late = json!({"event_id": "evt_2", "order_id": order, "status": "failed"});
    let v = ok(&webhook(&app, &late, None).await, 200);
    assert_eq!(v["data"]["outcome"], "ignored");
    assert_eq!(v["data"]["status"], "paid");
    // a failed payment cancels a pending order and frees its stock; a wrong amount is refused
    let (o2, total2) = buy(&app, &t, 5, 1).await;
    let wrong = json!({"event_id": "evt_3", "order_id": o2, "status": "succeeded", "amount": total2 + 1});
    assert_eq!(webhook(&app, &wrong, None).await.status, 409);
    let failed = json!({"event_id": "evt_4", "order_id": o2, "status": "failed"});
    assert_eq!(ok(&webhook(&app, &failed, None).await, 200)["data"]["status"], "cancelled");
    let avail: Vec<i64> = column(&app.conn(), "SELECT available FROM inventory WHERE variant_id = 51");
    assert_eq!(avail, vec![3]);
    let unknown = json!({"event_id": "evt_5", "order_id": "999999", "status": "succeeded"});
    assert_eq!(webhook(&app, &unknown, None).await.status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_providers_reference_is_kept_and_matched_by_the_webhook() {
    let app = shop().await;
    let t = app.guest().await;
    let b = json!({"items": [{"product_id": "3", "quantity": 1}], "shipping_address": address(),
                   "payment_method": "pm_card_visa"});
    let v = ok(&app.call("POST", "/api/orders", Some(&t), Some(&b), &[]).await, 201);
    let order = v["data"]["order_id"].as_str().unwrap().to_owned();
    let d = ok(&app.call("GET", &format!("/api/orders/{order}"), Some(&t), None, &[]).await, 200);
    assert_eq!(d["data"]["payment_method"], "pm_card_visa");
    // a success naming another method is refused and changes nothing
    let other = json!({"event_id": "evt_pm_1", "order_id": order, "status": "succeeded", "payment_method": "pm_card_mastercard"});
    let r = webhook(&app, &other, None).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["data"]["outcome"], "payment_method_mismatch");
    let d = ok(&app.call("GET", &format!("/api/orders/{order}"), Some(&t), None, &[]).await, 200);
    assert_eq!(d["data"]["status"], "pending");
    let same =
        json!({"event_id": "evt_pm_2", "order_id": order, "status": "succeeded", "payment_method": "pm_card_visa"});
    assert_eq!(ok(&webhook(&app, &same, None).await, 200)["data"]["status"], "paid");
    // an offline method is not matched: the shop settles it itself
    let (o2, _) = buy(&app, &t, 5, 1).await;
    let any = json!({"event_id": "evt_pm_3", "order_id": o2, "status": "succeeded", "payment_method": "pm_whatever"});
    assert_eq!(ok(&webhook(&app, &any, None).await, 200)["data"]["status"], "paid");
    // what is neither is refused at the door
    for bad in [json!(""), json!("pay with goats"), json!("x".repeat(256)), json!("pm_\u{e9}")] {
        let mut b = b.clone();
        b["payment_method"] = bad.clone();
        let r = app.call("POST", "/api/orders", Some(&t), Some(&b), &[]).await;
        assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{bad}");
    }
    app.stop().await;
}

/// The customer and the shop cancel one paid order at the same moment, twenty times over:
/// each order is cancelled once, its stock returns once, and the history says so once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lifecycle_moves_stock_once_whoever_cancels() {
    let app = Arc::new(shop().await);
    let admin = app.register("shop@example.com").await;
    app.write("UPDATE customers SET role = 'admin' WHERE email = 'shop@example.com'").await;
    let t = app.register("buyer@example.com").await;
    let stock = || column::<i64>(&app.conn(), "SELECT available FROM inventory WHERE variant_id = 31")[0];
    let before = stock();
    for round in 0..20 {
        let (order, total) = buy(&app, &t, 3, 1).await;
        let paid =
            json!({"event_id": format!("evt_race_{round}"), "order_id": order, "status": "succeeded", "amount": total});
        assert_eq!(ok(&webhook(&app, &paid, None).await, 200)["data"]["status"], "paid");
        let (a, c) = {
            let (app1, app2) = (app.clone(), app.clone());
            let (o1, o2, admin, t) = (order.clone(), order.clone(), admin.clone(), t.clone());
            tokio::join!(
                tokio::spawn(async move {
                    app1.call(
                        "PATCH",
                        &format!("/api/admin/orders/{o1}"),
                        Some(&admin),
                        Some(&json!({"status": "cancelled"})),
                        &[],
                    )
                    .await
                }),
                tokio::spawn(async move {
                    app2.call("POST", &format!("/api/orders/{o2}/cancel"), Some(&t), None, &[]).await
                })
            )
        };
        let mut statuses = [a.unwrap().status, c.unwrap().status];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "one cancel wins, the other is refused");
        let d = ok(&app.call("GET", &format!("/api/orders/{order}"), Some(&t), None, &[]).await, 200);
        let history: Vec<&str> =
            d["data"]["status_history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
        assert_eq!(history, ["pending", "paid", "cancelled", "cancelled"], "the cancel, then its refund");
        let refunds = d["data"]["refunds"].as_array().unwrap();
        assert_eq!(refunds.len(), 1, "round {round}: the payment went back once");
        assert_eq!(refunds[0]["amount"]["amount"].as_i64(), Some(total));
        assert_eq!(stock(), before, "round {round}: the unit sold came back once");
    }
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_is_conserved_through_checkouts_payments_cancels_and_expiry() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.payment_webhook_secret = Some(SECRET.into());
            c.order_expiry_check_secs = 1;
        })
        .start()
        .await;
    let app = Arc::new(app);
    let initial: HashMap<i64, i64> = {
        let c = app.conn();
        let mut s = c.prepare("SELECT variant_id, available + reserved FROM inventory").unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    };
    // 40 concurrent buyers of random lines (many will find the stock gone)
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40i64 {
        let app = app.clone();
        set.spawn(async move {
            let t = app.guest().await;
            let product = [1, 3, 5][(i % 3) as usize];
            let b = json!({"items": [{"product_id": product.to_string(), "quantity": 1 + i % 2}],
                           "shipping_address": address(), "payment_method": "card"});
            let r = app.call("POST", "/api/orders", Some(&t), Some(&b), &[]).await;
            assert!(r.status == 201 || r.status == 409, "{}", r.text());
            (t, r.status == 201, r.json())
        });
    }
    let mut placed = Vec::new();
    while let Some(r) = set.join_next().await {
        let (t, ok, v) = r.unwrap();
        if ok {
            placed.push((t, v["data"]["order_id"].as_str().unwrap().to_owned(), amount(&v["data"]["total"])));
        }
    }
    assert!(placed.len() >= 6, "some orders were placed: {}", placed.len());
    // pay a third, cancel a third (one of them after paying), let the rest expire
    for (i, (t, order, total)) in placed.iter().enumerate() {
        match i % 3 {
            0 => {
                let e = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded", "amount": total});
                ok(&webhook(&app, &e, None).await, 200);
                if i == 0 {
                    ok(&app.call("POST", &format!("/api/orders/{order}/cancel"), Some(t), None, &[]).await, 200);
                }
            }
            1 => {
                ok(&app.call("POST", &format!("/api/orders/{order}/cancel"), Some(t), None, &[]).await, 200);
            }
            _ => {}
        }
    }
    // the recurring expiry task (every second here) finds them due
    app.write("UPDATE orders SET expires_at = 0 WHERE status = 'pending'").await;
    let c = app.conn();
    let pending = || column::<i64>(&c, "SELECT count(*) FROM orders WHERE status = 'pending'")[0];
    common::wait_for("the expiry task", 30, || pending() == 0).await;
    let expired: Vec<i64> = column(&c, "SELECT count(*) FROM orders WHERE status = 'expired'");
    assert_eq!(expired[0] as usize, placed.len() / 3, "every unpaid order left expires");
    let statuses: Vec<String> = column(&c, "SELECT status FROM orders ORDER BY id");
    assert!(statuses.iter().all(|s| s == "paid" || s == "cancelled" || s == "expired"), "{statuses:?}");
    for (variant, start) in initial {
        let (avail, reserved): (i64, i64) = c
            .query_row("SELECT available, reserved FROM inventory WHERE variant_id = ?1", [variant], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        let sold: i64 = c
            .query_row(
                "SELECT coalesce(sum(oi.quantity), 0) FROM order_items oi JOIN orders o ON o.id = oi.order_id
                 WHERE oi.variant_id = ?1 AND o.status IN ('paid', 'fulfilled')",
                [variant],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(reserved, 0, "variant {variant}: nothing is pending any more");
        assert_eq!(avail + reserved + sold, start, "variant {variant}: available + reserved + sold = initial");
        assert!(avail >= 0);
    }
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_need_a_paid_order_and_wait_for_moderation() {
    let app = shop().await;
    let t = app.register("rev@example.com").await;
    let review = json!({"rating": 4, "title": "Loud", "body": "Fills the room."});
    let r = app.call("POST", "/api/products/boom-speaker/reviews", Some(&t), Some(&review), &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "purchase_required".into()));
    let (order, total) = buy(&app, &t, 3, 1).await;
    let r = app.call("POST", "/api/products/boom-speaker/reviews", Some(&t), Some(&review), &[]).await;
    assert_eq!(r.status, 403, "a pending order is not a purchase yet");
    let e = json!({"event_id": "evt-r", "order_id": order, "status": "succeeded", "amount": total});
    ok(&webhook(&app, &e, None).await, 200);
    let v = ok(&app.call("POST", "/api/products/boom-speaker/reviews", Some(&t), Some(&review), &[]).await, 201);
    assert_eq!(v["data"]["status"], "pending");
    let r = app.call("POST", "/api/products/boom-speaker/reviews", Some(&t), Some(&review), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "already_reviewed".into()));
    let listed = app.json("/api/products/boom-speaker/reviews").await;
    assert_eq!(listed["data"], json!([]), "held for moderation");
    let r = app.call("POST", "/api/products/boom-speaker/reviews", Some(&t), Some(&json!({"rating": 6})), &[]).await;
    assert_eq!(r.status, 422);
    let guest = app.guest().await;
    let r = app.call("POST", "/api/products/boom-speaker/reviews", Some(&guest), Some(&review), &[]).await;
    assert_eq!(r.status, 401);
    let r = app.call("POST", "/api/products/no-such-thing/reviews", Some(&t), Some(&review), &[]).await;
    assert_eq!(r.status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_shows_in_bestsellers_within_the_refresh() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.payment_webhook_secret = Some(SECRET.into());
            c.bestsellers_refresh_secs = 1;
        })
        .start()
        .await;
    let today = storefront::util::now_ms().div_euclid(storefront::util::DAY_MS);
    let state = app.state.clone();
    common::wait_for("the bestsellers board", 10, || state.bestsellers.for_day(today).is_some()).await;
    let top = |v: &Value| -> Vec<(String, i64)> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["slug"].as_str().unwrap().to_owned(), p["units_sold"].as_i64().unwrap()))
            .collect()
    };
    // from the board now: the same as the fixture's sums (boom 7, aurora 3; retired hidden)
    let v = app.json("/api/products/bestsellers").await;
    assert_eq!(top(&v), [("boom-speaker".to_owned(), 7), ("aurora-wireless-headphones".to_owned(), 3)]);

    // 2 chef knives bought and paid: in the list within the refresh (and not before payment)
    let t = app.guest().await;
    let (order, total) = buy(&app, &t, 5, 2).await;
    let event =
        json!({"event_id": "evt_b1", "order_id": order, "status": "succeeded", "amount": total, "reference": "pi_b1"});
    ok(&webhook(&app, &event, None).await, 200);
    let want =
        [("boom-speaker".to_owned(), 7), ("aurora-wireless-headphones".to_owned(), 3), ("chef-knife".to_owned(), 2)];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = app.json("/api/products/bestsellers").await;
        if top(&v) == want {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sale never showed: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(top(&app.json("/api/products/bestsellers?days=1").await), [("chef-knife".to_owned(), 2)]);
    app.stop().await;
}
