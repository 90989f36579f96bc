//! Gift cards through HTTP with the real parts: the owner issues one (its code shown once,
//! only its hash kept), a shopper applies it to the cart and it pays part of an order (the
//! rest by card, the payment webhook checking what is due) or all of it (the order is paid
//! at once); a refund goes back to the card first; an order closed unpaid gives the card
//! back what it took; a gift card sold as a product is issued on payment and its code
//! mailed (a real SMTP server), and no code rests in the database once sent; refunding
//! it voids the card, never one spent from; 50
//! concurrent checkouts spending one card never take more than it holds; bad requests get
//! clear 4xx and change nothing; balance look-ups are throttled.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::common::smtp_server::SmtpServer;
use crate::common::{self, address, column, TestApp};

const SECRET: &str = "whsec-gift-cards-0123456789";

async fn shop(f: impl FnOnce(&mut storefront::config::Config)) -> (TestApp, String) {
    common::after_sale_shop(SECRET, f).await
}

/// Issues a card of `amount`: (id, code).
async fn issue(app: &TestApp, admin: &str, amount: i64) -> (String, String) {
    let body = json!({"amount": amount, "currency": "USD", "note": "for a test"});
    let r = app.call("POST", "/api/admin/gift-cards", Some(admin), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    (d["id"].as_str().unwrap().to_owned(), d["code"].as_str().unwrap().to_owned())
}

async fn card(app: &TestApp, admin: &str, id: &str) -> Value {
    let r = app.call("GET", &format!("/api/admin/gift-cards/{id}"), Some(admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"].clone()
}

fn amount(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap_or_else(|| panic!("money: {v}"))
}

/// A guest with `quantity` × product 3 in the cart and the card `code` applied: (guest,
/// the cart as the API answered the code).
async fn cart_with_card(app: &TestApp, quantity: i64, code: &str) -> (String, Value) {
    let guest = app.guest().await;
    app.add_to_cart(&guest, 3, quantity).await;
    let r = app.call("POST", "/api/cart/gift-card", Some(&guest), Some(&json!({"code": code})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    (guest, r.json()["data"].clone())
}

async fn checkout(app: &TestApp, token: &str) -> common::Resp {
    let body = json!({"shipping_address": address(), "payment_method": "card", "email": "gift@example.com"});
    app.call("POST", "/api/checkout", Some(token), Some(&body), &[]).await
}

/// A raw message's text, quoted-printable soft breaks undone.
fn text(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

fn ledger_kinds(c: &Value) -> Vec<String> {
    c["ledger"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gift_card_pays_part_of_an_order_and_a_refund_goes_back_to_it_first() {
    let smtp = SmtpServer::start();
    let (app, admin) = shop(|c| c.smtp_url = Some(smtp.url())).await;
    let (id, code) = issue(&app, &admin, 2_000).await;
    assert_eq!(code.len(), 19, "XXXX-XXXX-XXXX-XXXX: {code}");
    // only its hash is kept: the code is nowhere in the database
    let plain = code.replace('-', "");
    let conn = app.conn();
    let rows = common::rows_of(&conn, &["gift_cards", "gift_card_ledger", "audit_log"], &[]);
    assert!(rows.iter().all(|r| !r.contains(&code) && !r.contains(&plain)), "{rows:?}");
    let c = card(&app, &admin, &id).await;
    assert_eq!(
        (c["status"].as_str(), amount(&c["balance"]), c["last4"].as_str()),
        (Some("active"), 2_000, Some(&plain[12..]))
    );
    assert!(c.get("code").is_none(), "shown once: {c}");

    // typed as people type it: lower case, spaces for dashes
    let typed = code.to_lowercase().replace('-', " ");
    let (guest, cart) = cart_with_card(&app, 1, &typed).await;
    assert_eq!(amount(&cart["gift_card"]["applies"]), 2_000.min(amount(&cart["total"])));
    assert_eq!(amount(&cart["amount_due"]), amount(&cart["total"]) - amount(&cart["gift_card"]["applies"]));

    let r = checkout(&app, &guest).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    let (order, total) = (placed["order_id"].as_str().unwrap().to_owned(), amount(&placed["total"]));
    assert!(total > 2_000, "the card pays part of it: {placed}");
    assert_eq!((placed["status"].as_str(), amount(&placed["gift_card_paid"])), (Some("pending"), 2_000));
    assert_eq!(amount(&placed["amount_due"]), total - 2_000);
    let balance = app.get(&format!("/api/gift-cards/balance?code={}", code)).await;
    assert_eq!(balance.status, 200, "{}", balance.text());
    assert_eq!(
        (balance.json()["data"]["status"].as_str(), amount(&balance.json()["data"]["balance"])),
        (Some("used_up"), 0)
    );

    // the provider charges what is due, not the total
    let pay = |event: &str, charged: i64| {
        json!({"event_id": event, "order_id": order, "status": "succeeded", "amount": charged}).to_string()
    };
    assert_eq!(app.signed_payment(SECRET, &pay("evt-total", total)).await.status, 409);
    assert_eq!(app.signed_payment(SECRET, &pay("evt-due", total - 2_000)).await.status, 200);
    let o = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json()["data"].clone();
    assert_eq!(o["status"], "paid");
    let payments = o["gift_card_payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1, "{o}");
    assert_eq!((amount(&payments[0]["amount"]), payments[0]["last4"].as_str()), (2_000, Some(&plain[12..])));
    assert_eq!(amount(&o["amount_due"]), total - 2_000);

    // a refund goes back to the card first, at once
    let r = app
        .call(
            "POST",
            &format!("/api/admin/orders/{order}/refunds"),
            Some(&admin),
            Some(&json!({"amount": 500, "reason": "scratched"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let refund = r.json()["data"].clone();
    assert_eq!((refund["status"].as_str(), amount(&refund["to_gift_card"])), (Some("succeeded"), 500), "{refund}");
    // … and past what the card paid, the rest by the payment method
    let r = app
        .call(
            "POST",
            &format!("/api/admin/orders/{order}/refunds"),
            Some(&admin),
            Some(&json!({"amount": 2_000, "reason": "late"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(amount(&r.json()["data"]["to_gift_card"]), 1_500, "what the card paid and has not had back");
    let c = card(&app, &admin, &id).await;
    assert_eq!(amount(&c["balance"]), 2_000);
    assert_eq!(ledger_kinds(&c), ["issued", "spent", "refunded", "refunded"]);
    let o = app.call("GET", &format!("/api/orders/{order}"), Some(&guest), None, &[]).await.json()["data"].clone();
    assert_eq!(amount(&o["gift_card_payments"][0]["returned"]), 2_000);
    // the refund mails say where the money went
    let mails: Vec<String> =
        smtp.wait_for(2, 30, |m| m.contains("Refund for order")).await.iter().map(|m| text(m)).collect();
    assert!(mails.iter().any(|m| m.contains("back on your gift card (5.00 USD)")), "{mails:?}");
    assert!(mails.iter().any(|m| m.contains("15.00 USD of it is back on your gift card")), "{mails:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_that_covers_the_total_pays_the_order_and_a_closed_order_gives_back_what_it_took() {
    let (app, admin) = shop(|_| {}).await;
    let (id, code) = issue(&app, &admin, 100_000).await;
    let (guest, cart) = cart_with_card(&app, 1, &code).await;
    assert_eq!(amount(&cart["amount_due"]), 0, "{cart}");
    let r = checkout(&app, &guest).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    assert_eq!((placed["status"].as_str(), amount(&placed["amount_due"])), (Some("paid"), 0), "{placed}");
    let total = amount(&placed["total"]);
    let c = card(&app, &admin, &id).await;
    assert_eq!(amount(&c["balance"]), 100_000 - total);
    // paid in the same unit: the stock is sold, not reserved
    assert_eq!(column::<i64>(&app.conn(), "SELECT reserved FROM inventory WHERE variant_id = 31")[0], 0);

    // an order the card paid part of, cancelled before it was paid: the card has it back
    let (guest, _) = cart_with_card(&app, 2, &code).await;
    // (the card's balance is on its row)
    app.write("UPDATE gift_cards SET balance = 3000 WHERE id = (SELECT max(id) FROM gift_cards)").await;
    let r = checkout(&app, &guest).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    assert_eq!(amount(&placed["gift_card_paid"]), 3_000);
    assert_eq!(card(&app, &admin, &id).await["balance"]["amount"], 0);
    let order = placed["order_id"].as_str().unwrap();
    let r = app.call("POST", &format!("/api/orders/{order}/cancel"), Some(&guest), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let c = card(&app, &admin, &id).await;
    assert_eq!(amount(&c["balance"]), 3_000);
    assert_eq!(ledger_kinds(&c).last().map(String::as_str), Some("released"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_checkouts_never_take_more_than_the_card_holds() {
    let (app, admin) = shop(|_| {}).await;
    app.write("UPDATE inventory SET available = 100 WHERE variant_id = 31").await;
    let probe = app.guest().await;
    app.add_to_cart(&probe, 3, 1).await;
    let r = app.call("GET", "/api/cart?country=US&state=CA", Some(&probe), None, &[]).await;
    let total = amount(&r.json()["data"]["total"]);
    // ten orders and a half
    let initial = total * 10 + total / 2;
    let (id, code) = issue(&app, &admin, initial).await;
    let mut guests = Vec::new();
    for _ in 0..50 {
        guests.push(cart_with_card(&app, 1, &code).await.0);
    }
    let app = Arc::new(app);
    let tries: Vec<_> = guests
        .into_iter()
        .map(|g| {
            let app = app.clone();
            tokio::spawn(async move { checkout(&app, &g).await })
        })
        .collect();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for t in tries {
        let r = t.await.unwrap();
        match r.status {
            201 => accepted.push(r.json()["data"].clone()),
            422 => {
                assert_eq!(r.json()["error"]["code"], "invalid_gift_card", "{}", r.text());
                refused += 1;
            }
            s => panic!("{s}: {}", r.text()),
        }
    }
    assert_eq!((accepted.len(), refused), (11, 39), "ten paid in full, one in part, the rest refused");
    let mut taken = 0;
    for o in &accepted {
        assert_eq!(amount(&o["total"]), total);
        assert_eq!(
            amount(&o["gift_card_paid"]) + amount(&o["amount_due"]),
            total,
            "every accepted order is covered: {o}"
        );
        taken += amount(&o["gift_card_paid"]);
    }
    assert_eq!(taken, initial);
    assert_eq!(accepted.iter().filter(|o| o["status"] == "paid").count(), 10);
    let c = card(&app, &admin, &id).await;
    assert_eq!(amount(&c["balance"]), 0);
    let spent: i64 =
        c["ledger"].as_array().unwrap().iter().filter(|l| l["kind"] == "spent").map(|l| -amount(&l["amount"])).sum();
    assert_eq!(spent, initial, "the ledger adds up");
    // refused checkouts held nothing: stock moved for the accepted orders only
    let (available, reserved): (i64, i64) = {
        let conn = app.conn();
        (
            column::<i64>(&conn, "SELECT available FROM inventory WHERE variant_id = 31")[0],
            column::<i64>(&conn, "SELECT reserved FROM inventory WHERE variant_id = 31")[0],
        )
    };
    assert_eq!((available, reserved), (100 - 11, 1));
    Arc::try_unwrap(app).ok().expect("the tasks are done").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gift_card_sold_as_a_product_is_issued_on_payment_and_its_code_mailed_once() {
    let smtp = SmtpServer::start();
    let (app, admin) = shop(|c| c.smtp_url = Some(smtp.url())).await;
    let r = app.call("PATCH", "/api/admin/products/3", Some(&admin), Some(&json!({"gift_card": true})), &[]).await;
    assert_eq!((r.status, r.json()["data"]["gift_card"].as_bool()), (200, Some(true)), "{}", r.text());
    let guest = app.guest().await;
    let items = json!([{"product_id": "3", "quantity": 2}]);
    let body =
        json!({"items": items, "shipping_address": address(), "payment_method": "card", "email": "giver@example.com"});
    let r = app.call("POST", "/api/orders", Some(&guest), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let order = d["order_id"].as_str().unwrap().to_owned();
    assert_eq!(column::<i64>(&app.conn(), "SELECT count(*) FROM gift_cards")[0], 0, "nothing before payment");
    let paid = json!({"event_id": "evt-gift", "order_id": order, "status": "succeeded", "amount": amount(&d["total"])});
    assert_eq!(app.signed_payment(SECRET, &paid.to_string()).await.status, 200);
    let mails = smtp.wait_for(1, 30, |m| m.contains("Your gift cards")).await;
    assert_eq!(mails.len(), 1);
    let mail = text(&mails[0]);
    let codes: Vec<String> =
        mail.split_whitespace().filter(|w| w.len() == 19 && w.matches('-').count() == 3).map(str::to_owned).collect();
    assert_eq!(codes.len(), 2, "one card per unit: {mail}");
    for code in &codes {
        let b = app.get(&format!("/api/gift-cards/balance?code={code}")).await.json()["data"].clone();
        assert_eq!((b["status"].as_str(), amount(&b["balance"])), (Some("active"), 4_999), "{b}");
    }
    // once sent, no code rests in the database: the outbox keeps no body with it
    common::until("the mail is marked sent", 30, || async {
        column::<i64>(&app.conn(), "SELECT count(*) FROM mail_outbox WHERE kind = 'gift_cards' AND sent_at IS NOT NULL")
            [0]
            == 1
    })
    .await;
    let conn = app.conn();
    let tables: Vec<String> = column(
        &conn,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%fts%'",
    );
    let refs: Vec<&str> = tables.iter().map(String::as_str).collect();
    let rows = common::rows_of(&conn, &refs, &[]);
    for code in &codes {
        assert!(rows.iter().all(|r| !r.contains(code.as_str()) && !r.contains(&code.replace('-', ""))), "{code} kept");
    }
    // a repeated payment event issues nothing more
    assert_eq!(app.signed_payment(SECRET, &paid.to_string()).await.status, 200);
    assert_eq!(column::<i64>(&app.conn(), "SELECT count(*) FROM gift_cards")[0], 2);

    // the first card pays a knife (the whole order: paid at once)
    let spender = app.guest().await;
    app.add_to_cart(&spender, 5, 1).await;
    let r = app.call("POST", "/api/cart/gift-card", Some(&spender), Some(&json!({"code": codes[0]})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = checkout(&app, &spender).await;
    assert_eq!((r.status, r.json()["data"]["status"].as_str()), (201, Some("paid")), "{}", r.text());
    let balance = |code: &str| {
        let (app, code) = (&app, code.to_owned());
        async move {
            let b = app.get(&format!("/api/gift-cards/balance?code={code}")).await.json()["data"].clone();
            (b["status"].as_str().unwrap().to_owned(), amount(&b["balance"]))
        }
    };
    let spent_left = balance(&codes[0]).await.1;
    assert!(spent_left < 4_999, "{spent_left}");

    // refunding a card the order sold voids it; one spent from is not refunded
    let refund = |units: i64| {
        let body = json!({"lines": [{"line_id": 1, "quantity": units}], "reason": "not wanted"});
        let (app, admin, order) = (&app, &admin, order.clone());
        async move { app.call("POST", &format!("/api/admin/orders/{order}/refunds"), Some(admin), Some(&body), &[]).await }
    };
    let refunds = || column::<i64>(&app.conn(), "SELECT count(*) FROM refunds")[0];
    let r = refund(2).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("gift_card_used")), "{}", r.text());
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains("1 of them can be refunded, not 2"),
        "{}",
        r.text()
    );
    assert_eq!((refunds(), balance(&codes[1]).await), (0, ("active".to_owned(), 4_999)), "nothing changed");
    let r = refund(1).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(amount(&r.json()["data"]["amount"]) >= 4_999, "its price and its part of shipping and tax: {}", r.text());
    assert_eq!(balance(&codes[1]).await, ("disabled".to_owned(), 0), "the untouched card is void");
    assert_eq!(balance(&codes[0]).await, ("active".to_owned(), spent_left), "the spent one is as it was");
    let r = refund(1).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("gift_card_used")), "{}", r.text());
    assert_eq!(refunds(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_gift_card_requests_get_clear_errors_and_change_nothing() {
    let (app, admin) = shop(|_| {}).await;
    let (id, code) = issue(&app, &admin, 1_000).await;
    let before = common::digest(&app.conn());
    for (body, field) in [
        (json!({"amount": 0, "currency": "USD"}), "amount"),
        (json!({"amount": 10_000_001, "currency": "USD"}), "amount"),
        (json!({"amount": 100, "currency": "EUR"}), "currency"),
        (json!({"amount": 100, "currency": "USD", "expires_at": "2020-01-01"}), "expires_at"),
        (json!({"amount": 100, "currency": "USD", "expires_at": "soon"}), "expires_at"),
    ] {
        let r = app.call("POST", "/api/admin/gift-cards", Some(&admin), Some(&body), &[]).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.json()["error"]["details"].get(field).is_some(), "{body}: {}", r.text());
    }
    let r =
        app.call("PATCH", "/api/admin/gift-cards/999999", Some(&admin), Some(&json!({"disabled": true})), &[]).await;
    assert_eq!(r.status, 404);
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/gift-cards/{id}"),
            Some(&admin),
            Some(&json!({"expires_at": "2001-01-01"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(common::digest(&app.conn()), before, "refused changes change nothing");
    assert_eq!(app.get("/api/gift-cards/balance?code=AAAA-AAAA-AAAA-AAAA").await.status, 404);
    assert_eq!(app.get("/api/gift-cards/balance?code=nope").await.status, 404);
    assert_eq!(app.get("/api/gift-cards/balance").await.status, 422);
    let guest = app.guest().await;
    let r = app.call("POST", "/api/cart/gift-card", Some(&guest), Some(&json!({"code": code})), &[]).await;
    assert_eq!((r.status, r.json()["error"]["details"]["code"].as_str()), (422, Some("the cart is empty")));
    app.add_to_cart(&guest, 3, 1).await;
    let before_codes = common::digest(&app.conn());
    for typed in ["AAAA-AAAA-AAAA-AAAA", "not a code", ""] {
        let r = app.call("POST", "/api/cart/gift-card", Some(&guest), Some(&json!({"code": typed})), &[]).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (422, Some("invalid_gift_card")),
            "{typed}: {}",
            r.text()
        );
    }
    assert_eq!(common::digest(&app.conn()), before_codes, "a code that does not apply changes nothing");

    // a card turned off after it was applied: checkout refuses it and places nothing
    let r = app.call("POST", "/api/cart/gift-card", Some(&guest), Some(&json!({"code": code})), &[]).await;
    assert_eq!(r.status, 200);
    let r = app
        .call("PATCH", &format!("/api/admin/gift-cards/{id}"), Some(&admin), Some(&json!({"disabled": true})), &[])
        .await;
    assert_eq!((r.status, r.json()["data"]["status"].as_str()), (200, Some("disabled")), "{}", r.text());
    let cart = app.call("GET", "/api/cart", Some(&guest), None, &[]).await.json()["data"].clone();
    assert_eq!(cart["gift_card"]["problem"], "this gift card cannot be used", "{cart}");
    let unchanged = common::digest(&app.conn());
    let r = checkout(&app, &guest).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (422, Some("invalid_gift_card")), "{}", r.text());
    assert_eq!(common::digest(&app.conn()), unchanged, "a refused checkout changes nothing");
    // taken off the cart, the order goes through without it
    let r = app.call("DELETE", "/api/cart/gift-card", Some(&guest), None, &[]).await;
    assert!(r.status == 200 && r.json()["data"].get("gift_card").is_none(), "{}", r.text());
    assert_eq!(checkout(&app, &guest).await.status, 201);
    let c = card(&app, &admin, &id).await;
    assert_eq!((amount(&c["balance"]), ledger_kinds(&c)), (1_000, vec!["issued".to_owned(), "disabled".to_owned()]));
    app.stop().await;
}
