//! Draft orders through HTTP with the real parts: the owner builds an order for an e-mail
//! address or a customer, reads it priced as checkout prices a cart, completes it into an
//! order that awaits payment behind a payment link (mailed through a real SMTP server, and
//! opening the order without a session) or into a paid one; completions racing each other
//! make one order; stock too short refuses and changes nothing; every bad request is a
//! clear 4xx that changes nothing.

use serde_json::{json, Value};

use crate::common::receiver::Receiver;
use crate::common::smtp_server::SmtpServer;
use crate::common::{self, address, column, digest, TestApp};

const SECRET: &str = "whsec-drafts-api-0123456789";

/// A mail's text as its reader sees it: quoted-printable soft line breaks joined and `=XX`
/// escapes decoded.
fn quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn money(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap_or_else(|| panic!("not money: {v}"))
}

/// (available, reserved) of a variant.
fn stock(app: &TestApp, variant: i64) -> (i64, i64) {
    app.conn()
        .query_row("SELECT available, reserved FROM inventory WHERE variant_id = ?1", [variant], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
}

async fn create(app: &TestApp, admin: &str, body: &Value) -> common::Resp {
    app.call("POST", "/api/admin/draft-orders", Some(admin), Some(body), &[]).await
}

async fn complete(app: &TestApp, admin: &str, draft: &str, body: Value) -> common::Resp {
    app.call("POST", &format!("/api/admin/draft-orders/{draft}/complete"), Some(admin), Some(&body), &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_for_an_email_is_priced_like_a_cart_and_completes_into_an_order_paid_through_its_link() {
    let smtp = SmtpServer::start();
    let (app, admin) = common::after_sale_shop(SECRET, |c| c.smtp_url = Some(smtp.url())).await;
    app.write("INSERT INTO promotions(code, kind, value, created_at) VALUES ('PHONE10', 'percent', 10, 0)").await;

    let body = json!({
        "email": "caller@example.com",
        "lines": [{"variant_id": "31", "quantity": 2}, {"variant_id": "51", "quantity": 1}],
        "shipping_address": address(),
        "discount_code": "PHONE10",
        "note": "rang on Tuesday"
    });
    let r = create(&app, &admin, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let draft = d["id"].as_str().unwrap().to_owned();
    assert_eq!((d["status"].as_str(), d["email"].as_str()), (Some("open"), Some("caller@example.com")));
    assert!(d["customer_id"].is_null());
    assert_eq!(d["problems"], json!([]), "{d}");
    assert_eq!(money(&d["subtotal"]), 2 * 4999 + 2999);
    assert_eq!(
        money(&d["total"]),
        money(&d["subtotal"]) - money(&d["discount"]) + money(&d["shipping"]) + money(&d["tax"])
    );
    assert_eq!(stock(&app, 31), (10, 0), "a draft reserves nothing");

    // the same lines in a cart cost the same
    let guest = app.guest().await;
    for (variant, quantity) in [("31", 2), ("51", 1)] {
        let r = app
            .call("POST", "/api/cart", Some(&guest), Some(&json!({"variant_id": variant, "quantity": quantity})), &[])
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = app.call("POST", "/api/cart/discount", Some(&guest), Some(&json!({"code": "PHONE10"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = address();
    let cart = app
        .call(
            "GET",
            &format!("/api/cart?country={}&state={}", a["country"].as_str().unwrap(), a["state"].as_str().unwrap()),
            Some(&guest),
            None,
            &[],
        )
        .await
        .json()["data"]
        .clone();
    for part in ["subtotal", "discount", "shipping", "tax", "total"] {
        assert_eq!(money(&cart[part]), money(&d[part]), "{part}: draft {d}\ncart {cart}");
    }
    assert!(money(&d["discount"]) > 0, "the code applies: {d}");

    // completed awaiting payment: stock reserved, the link mailed, the code used
    let r = complete(&app, &admin, &draft, json!({"hold_hours": 48})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let o = r.json()["data"].clone();
    let order = o["id"].as_str().unwrap().to_owned();
    assert_eq!((o["status"].as_str(), o["email"].as_str()), (Some("pending"), Some("caller@example.com")));
    assert_eq!(money(&o["total"]), money(&d["total"]));
    assert_eq!(o["draft_id"], json!(draft));
    assert_eq!(stock(&app, 31), (8, 2));
    assert_eq!(stock(&app, 51), (2, 1));
    let url = o["payment_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1") && url.contains(&format!("/orders/{order}?key=")), "{url}");
    let used: i64 = column(&app.conn(), "SELECT times_used FROM promotions WHERE code = 'PHONE10'")[0];
    assert_eq!(used, 1);
    let expires = o["expires_at"].as_str().unwrap();
    let hours = (storefront::util::parse_utc(expires).unwrap() - storefront::util::now_ms()) / 3_600_000;
    assert!((47..=48).contains(&hours), "held for 48 hours: {expires}");
    let mails =
        smtp.wait_for(1, 20, |m| m.contains("caller@example.com") && m.contains(&format!("order {order}"))).await;
    assert!(quoted_printable(&mails[0]).contains(&url), "the mail carries the link: {}", mails[0]);
    // only the key's hash is kept; the mail's body rests sealed
    let key = url.split("key=").nth(1).unwrap();
    let stored: Vec<String> = column(&app.conn(), "SELECT body FROM mail_outbox");
    assert!(stored.iter().all(|b| !b.contains(key)), "the key rests in no mail: {stored:?}");
    let kept: i64 = column(&app.conn(), "SELECT count(*) FROM draft_orders WHERE pay_key_hash IS NOT NULL")[0];
    assert_eq!(kept, 1);

    // the link opens the order without a session; a wrong key does not
    let r = app.get(&format!("/api/orders/{order}?key={key}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["id"], json!(order));
    let r = app.get(&format!("/api/orders/{order}?key=wrong{}", &key[5..])).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = app.get(&format!("/api/orders/{order}")).await;
    assert_eq!(r.status, 401, "no session, no key: {}", r.text());
    let other = app.guest().await;
    // what cannot be a key is bad input, with a session or without
    for bad in ["%5BFiltered%5D", "two%20words", ""] {
        for who in [None, Some(other.as_str())] {
            let r = app.call("GET", &format!("/api/orders/{order}?key={bad}"), who, None, &[]).await;
            assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{bad}: {}", r.text());
            assert!(r.text().contains("\"key\""), "{}", r.text());
        }
    }
    let r = app.call("GET", &format!("/api/orders/{order}"), Some(&other), None, &[]).await;
    assert_eq!(r.status, 404, "another's session: {}", r.text());
    let page = app.get_with(&format!("/orders/{order}?key={key}"), &[("accept", "text/html")]).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("To pay:"), "{}", page.text());

    // a link sent again is a new one: the old key no longer opens the order, the new one
    // does, and the customer is mailed it; an open draft has no link to send
    let link = |draft: String| {
        let (app, admin) = (&app, &admin);
        async move {
            app.call("POST", &format!("/api/admin/draft-orders/{draft}/payment-link"), Some(admin), None, &[]).await
        }
    };
    let r = link(draft.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["order_id"], json!(order));
    let fresh = r.json()["data"]["payment_url"].as_str().unwrap().to_owned();
    let new_key = fresh.split("key=").nth(1).unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(app.get(&format!("/api/orders/{order}?key={key}")).await.status, 404, "the old link is void");
    assert_eq!(app.get(&format!("/api/orders/{order}?key={new_key}")).await.status, 200);
    let mails = smtp.wait_for(1, 20, |m| m.contains(&format!("Pay for your order {order}"))).await;
    assert!(quoted_printable(&mails[0]).contains(&fresh), "the mail carries the new link: {}", mails[0]);
    let stored: Vec<String> = column(&app.conn(), "SELECT body FROM mail_outbox");
    assert!(stored.iter().all(|b| !b.contains(&new_key)), "the new key rests in no mail either");
    let d = app.call("GET", &format!("/api/admin/draft-orders/{draft}"), Some(&admin), None, &[]).await.json()["data"]
        .clone();
    assert_eq!(d["order_status"], "pending");
    let open = create(&app, &admin, &body).await.json()["data"]["id"].as_str().unwrap().to_owned();
    let r = link(open.clone()).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "draft_open"), "{}", r.text());
    let r = app.call("DELETE", &format!("/api/admin/draft-orders/{open}"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204);

    // the payment provider pays it as any order
    let paid = json!({"event_id": format!("evt-draft-{order}"), "order_id": order, "status": "succeeded", "amount": money(&o["total"])});
    let r = app.signed_payment(SECRET, &paid.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(stock(&app, 31), (8, 0));

    // paid: no link to send
    let r = link(draft.clone()).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "invalid_transition"), "{}", r.text());

    // completed once: a second completion, a change and a deletion are refused
    let r = complete(&app, &admin, &draft, json!({})).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "draft_completed"), "{}", r.text());
    assert_eq!(r.json()["error"]["details"]["order_id"], json!(order));
    let path = format!("/api/admin/draft-orders/{draft}");
    let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"note": "late"})), &[]).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "draft_completed"));
    let r = app.call("DELETE", &path, Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "draft_completed"));
    let d = app.call("GET", &path, Some(&admin), None, &[]).await.json()["data"].clone();
    assert_eq!((d["status"].as_str(), d["order_id"].as_str()), (Some("completed"), Some(order.as_str())));
    let audited: Vec<String> =
        column(&app.conn(), "SELECT action FROM audit_log WHERE entity = 'draft_order' ORDER BY id");
    assert_eq!(
        audited,
        [
            "draft_order.create",
            "draft_order.complete",
            "draft_order.payment_link",
            "draft_order.create",
            "draft_order.delete"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_for_a_customer_with_an_own_price_completes_paid_and_shows_in_their_account() {
    let (app, admin) = common::after_sale_shop(SECRET, |_| {}).await;
    let receiver = Receiver::start(&[], 200).await;
    common::subscribe(&app, &admin, &receiver.url("/hooks"), &["order.placed", "order.paid"]).await;
    let shopper = app.register("regular@example.com").await;
    let me = app.call("GET", "/api/me", Some(&shopper), None, &[]).await.json()["data"].clone();
    let customer = me["id"].as_str().unwrap().to_owned();

    let body = json!({
        "customer_id": customer,
        "lines": [{"variant_id": "11", "quantity": 1, "unit_price": 12000}],
        "shipping_address": address(),
        "payment_method": "bank_transfer"
    });
    let r = create(&app, &admin, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let draft = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["email"], "regular@example.com");
    let line = &d["lines"][0];
    assert_eq!(
        (money(&line["unit_price"]), money(&line["list_price"]), line["custom_price"].as_bool()),
        (12000, 14999, Some(true))
    );

    // an e-mail that is a customer's own makes the draft theirs too
    let mut by_mail = body.clone();
    by_mail.as_object_mut().unwrap().remove("customer_id");
    by_mail["email"] = json!("regular@example.com");
    let r = create(&app, &admin, &by_mail).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["customer_id"], json!(customer));

    let r = complete(&app, &admin, &draft, json!({"paid": true})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let o = r.json()["data"].clone();
    let order = o["id"].as_str().unwrap().to_owned();
    assert_eq!(o["status"], "paid");
    assert!(o["payment_url"].is_null(), "a paid order has no payment link");
    assert_eq!(money(&o["items"][0]["unit_price"]), 12000);
    assert_eq!(money(&o["captured"]), money(&o["total"]));
    assert_eq!(stock(&app, 11), (4, 0), "sold, not reserved");
    // one order.placed and one order.paid arrive at a subscriber
    common::until("order.placed and order.paid delivered", 20, || {
        let r = &receiver;
        async move { r.events_of("order.placed").len() == 1 && r.events_of("order.paid").len() == 1 }
    })
    .await;
    for kind in ["order.placed", "order.paid"] {
        let events = receiver.events_of(kind);
        assert_eq!(events.len(), 1, "{kind}: {events:?}");
        assert_eq!(events[0]["data"]["id"], json!(order), "{kind}: {events:?}");
    }

    // the customer sees it in their account
    let mine = app.call("GET", "/api/orders", Some(&shopper), None, &[]).await.json();
    assert!(mine["data"].as_array().unwrap().iter().any(|o| o["id"] == json!(order)), "{mine}");
    let r = app.call("GET", &format!("/api/orders/{order}"), Some(&shopper), None, &[]).await;
    assert_eq!(r.status, 200);

    // with own prices turned off, a draft keeping one cannot be completed, nor saved
    let r = create(&app, &admin, &by_mail).await;
    let second = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let off = json!({"draft_custom_prices": false});
    let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&off), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = app.call("GET", &format!("/api/admin/draft-orders/{second}"), Some(&admin), None, &[]).await.json()["data"]
        .clone();
    assert_eq!(d["problems"][0]["field"], "lines[0].unit_price", "{d}");
    let before = digest(&app.conn());
    let r = complete(&app, &admin, &second, json!({"paid": true})).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.json()["error"]["details"]["lines[0].unit_price"].is_string(), "{}", r.text());
    let r = create(&app, &admin, &by_mail).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(digest(&app.conn()), before, "refused, nothing changed");
    // without the own price it completes at the price it sells at
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/draft-orders/{second}"),
            Some(&admin),
            Some(&json!({"lines": [{"variant_id": "11", "quantity": 1}]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(money(&r.json()["data"]["lines"][0]["unit_price"]), 14999);
    let r = complete(&app, &admin, &second, json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_racing_make_one_order_and_short_stock_refuses_changing_nothing() {
    let (app, admin) = common::after_sale_shop(SECRET, |_| {}).await;
    let app = std::sync::Arc::new(app);
    let body = json!({"email": "race@example.com", "lines": [{"variant_id": "51", "quantity": 2}], "shipping_address": address()});
    let draft = create(&app, &admin, &body).await.json()["data"]["id"].as_str().unwrap().to_owned();

    let tries: Vec<_> = (0..8)
        .map(|i| {
            let (app, admin, draft) = (app.clone(), admin.clone(), draft.clone());
            tokio::spawn(async move { complete(&app, &admin, &draft, json!({"paid": i % 2 == 0})).await })
        })
        .collect();
    let mut made = Vec::new();
    for t in tries {
        let r = t.await.unwrap();
        match r.status {
            201 => made.push(r.json()["data"]["id"].as_str().unwrap().to_owned()),
            409 => assert_eq!(r.error_code(), "draft_completed", "{}", r.text()),
            s => panic!("{s}: {}", r.text()),
        }
    }
    assert_eq!(made.len(), 1, "one order from one draft");
    let orders: i64 = column(&app.conn(), "SELECT count(*) FROM orders")[0];
    assert_eq!(orders, 1);
    let (available, reserved) = stock(&app, 51);
    let sold = 3 - available - reserved;
    assert_eq!(available, 1, "two knives left the shelf, once");
    assert!(reserved + sold == 2, "reserved {reserved}, sold {sold}");

    // two more than are left: refused, naming the line, nothing changes; the draft stays open
    let draft = create(&app, &admin, &body).await.json()["data"]["id"].as_str().unwrap().to_owned();
    let before = digest(&app.conn());
    let r = complete(&app, &admin, &draft, json!({})).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "out_of_stock"), "{}", r.text());
    assert_eq!(r.json()["error"]["details"]["items"][0]["sku"], "KNIFE-1-STD");
    assert_eq!(digest(&app.conn()), before);
    let d = app.call("GET", &format!("/api/admin/draft-orders/{draft}"), Some(&admin), None, &[]).await.json()["data"]
        .clone();
    assert_eq!(d["status"], "open");
    assert_eq!(d["lines"][0]["available"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_draft_requests_are_refused_and_change_nothing() {
    let (app, admin) = common::after_sale_shop(SECRET, |_| {}).await;
    let good = json!({"email": "ok@example.com", "lines": [{"variant_id": "31", "quantity": 1}], "shipping_address": address()});
    let draft = create(&app, &admin, &good).await.json()["data"]["id"].as_str().unwrap().to_owned();
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let before = digest(&app.conn());
    let bad: Vec<(Value, u16, &str)> = vec![
        (without("email"), 422, "email"),
        (with("customer_id", json!("1")), 422, "customer_id"),
        (json!({"customer_id": "999", "lines": [], "shipping_address": address()}), 422, "customer_id"),
        (with("email", json!("not-an-address")), 422, "email"),
        (with("lines", json!([{"variant_id": "999", "quantity": 1}])), 422, "lines[0].variant_id"),
        (with("lines", json!([{"variant_id": "31", "quantity": 0}])), 422, "lines[0].quantity"),
        (with("lines", json!([{"variant_id": "31", "quantity": 1001}])), 422, "lines[0].quantity"),
        (with("lines", json!([{"variant_id": "31", "quantity": 1, "unit_price": -1}])), 422, "lines[0].unit_price"),
        (
            with("lines", json!([{"variant_id": "31", "quantity": 1}, {"variant_id": "31", "quantity": 2}])),
            422,
            "lines[1].variant_id",
        ),
        (with("payment_method", json!("")), 422, "payment_method"),
        (
            with(
                "shipping_address",
                json!({"name": "", "line1": "x", "city": "y", "postal_code": "1", "country": "US"}),
            ),
            422,
            "shipping_address.name",
        ),
        (
            with(
                "shipping_address",
                json!({"name": "A", "line1": "x", "city": "y", "postal_code": "1", "country": "USA"}),
            ),
            422,
            "shipping_address.country",
        ),
        (with("note", json!("x".repeat(501))), 422, "note"),
        (with("surprise", json!(1)), 422, "surprise"),
        (json!([1, 2]), 0, ""),
    ];
    for (body, status, field) in &bad {
        let r = create(&app, &admin, body).await;
        match status {
            // not an object at all
            0 => assert!(matches!(r.status, 400 | 422), "{body}: {}", r.text()),
            s => assert_eq!(r.status, *s, "{body}: {}", r.text()),
        }
        if !field.is_empty() {
            assert!(r.json()["error"]["details"][*field].is_string(), "{body}: {}", r.text());
        }
    }
    let path = format!("/api/admin/draft-orders/{draft}");
    let patches = [
        (json!({"lines": [{"variant_id": "999", "quantity": 1}]}), 422),
        (json!({"customer_id": "1", "email": "a@example.com"}), 422),
        (json!({"discount_code": ""}), 422),
        (json!({"status": "completed"}), 422),
    ];
    for (body, status) in &patches {
        let r = app.call("PATCH", &path, Some(&admin), Some(body), &[]).await;
        assert_eq!(r.status, *status, "{body}: {}", r.text());
    }
    for body in [json!({"hold_hours": 0}), json!({"hold_hours": 721}), json!({"paid": "yes"})] {
        let r = complete(&app, &admin, &draft, body.clone()).await;
        assert!(matches!(r.status, 400 | 422), "{body}: {}", r.text());
    }
    // a code that does not apply, a shipping option that does not exist: the draft says so,
    // and completing is refused
    let r = app
        .call("PATCH", &path, Some(&admin), Some(&json!({"discount_code": "NOPE", "shipping_option": "teleport"})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let problems: Vec<String> = r.json()["data"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(problems, ["shipping_option", "discount_code"], "{}", r.text());
    let mid = digest(&app.conn());
    let r = complete(&app, &admin, &draft, json!({})).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(digest(&app.conn()), mid);
    // who may: a customer is forbidden, no session is asked to log in, no such draft is 404
    let customer = app.register("nosy@example.com").await;
    let r = app.call("GET", "/api/admin/draft-orders", Some(&customer), None, &[]).await;
    assert_eq!(r.status, 403);
    let r = create(&app, &customer, &good).await;
    assert_eq!(r.status, 403);
    let r = app.get("/api/admin/draft-orders").await;
    assert_eq!(r.status, 401);
    let r = complete(&app, &admin, "99999", json!({})).await;
    assert_eq!(r.status, 404);
    let r = app.call("GET", "/api/admin/draft-orders?status=lost", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let drafts: i64 = column(&app.conn(), "SELECT count(*) FROM draft_orders")[0];
    assert_eq!(drafts, 1, "no bad request made a draft");
    let _ = before;

    // the list: newest first, by status, in keyset pages
    for i in 0..3 {
        let r = create(&app, &admin, &with("email", json!(format!("list{i}@example.com")))).await;
        assert_eq!(r.status, 201);
    }
    let page = app.call("GET", "/api/admin/draft-orders?status=open&per_page=2", Some(&admin), None, &[]).await.json();
    let ids: Vec<i64> =
        page["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] > ids[1]);
    let rest = app
        .call("GET", &format!("/api/admin/draft-orders?status=open&before={}", ids[1]), Some(&admin), None, &[])
        .await
        .json();
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    let r = app.call("DELETE", &format!("/api/admin/draft-orders/{}", ids[0]), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204);
    let r = app.call("GET", &format!("/api/admin/draft-orders/{}", ids[0]), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 404);
}
