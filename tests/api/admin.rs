//! The admin API through HTTP: the role is checked, every change shows in the next read
//! (cached views and search included) and leaves an audit row, bad input changes nothing.

use crate::common;

use crate::common::TestApp;
use serde_json::json;

const SECRET: &str = "whsec-admin-test-0123456789";

async fn admin_app() -> (TestApp, String, String) {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.payment_webhook_secret = Some(SECRET.into());
        })
        .start()
        .await;
    let admin = app.register("root@example.com").await;
    app.write("UPDATE customers SET role = 'admin' WHERE email = 'root@example.com'").await;
    let user = app.register("user@example.com").await;
    (app, admin, user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_show_at_once_and_are_audited() {
    let (app, admin, user) = admin_app().await;
    let new = json!({"sku": "LAMP-1", "name": "Zephyr Desk Lamp", "category_id": "6", "brand_id": "2",
                     "base_price": 3999, "quantity": 4, "description": "A bright lamp."});
    let r = app.call("POST", "/api/admin/products", Some(&user), Some(&new), &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "forbidden".into()));
    // warm the caches that the change must reach
    assert_eq!(app.json("/api/search?q=zephyr").await["meta"]["total"], 0);
    let list = app.json("/api/products?category=kitchen").await;
    assert_eq!(list["meta"]["total"], 1);
    let r = app.call("POST", "/api/admin/products", Some(&admin), Some(&new), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p = r.json()["data"].clone();
    assert_eq!((p["slug"].as_str(), p["in_stock"].as_bool()), (Some("zephyr-desk-lamp"), Some(true)));
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(app.json("/api/search?q=zephyr").await["meta"]["total"], 1, "searchable at once");
    assert_eq!(app.json("/api/products?category=kitchen").await["meta"]["total"], 2, "listed at once");
    let r = app.call("POST", "/api/admin/products", Some(&admin), Some(&new), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "product_exists".into()));

    // price, stock, name: each visible in the next (cached) read
    let detail = "/api/products/zephyr-desk-lamp";
    assert_eq!(app.json(detail).await["data"]["price"]["amount"], 3999);
    let r = app
        .call(
            "PUT",
            &format!("/api/admin/products/{id}/price"),
            Some(&admin),
            Some(&json!({"base": 3999, "sale": 2999})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.json(detail).await["data"]["price"]["amount"], 2999);
    let r = app
        .call("PUT", &format!("/api/admin/products/{id}/inventory"), Some(&admin), Some(&json!({"quantity": 0})), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.json(detail).await["data"]["in_stock"], false);
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/products/{id}"),
            Some(&admin),
            Some(&json!({"name": "Zephyr Reading Lamp"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.json(detail).await["data"]["name"], "Zephyr Reading Lamp");
    assert_eq!(app.json("/api/search?q=reading").await["meta"]["total"], 1);

    // retiring hides it from listings, search and its page, and keeps order history
    let r = app.call("DELETE", &format!("/api/admin/products/{id}"), Some(&admin), None, &[]).await;
    assert_eq!(r.json()["data"]["status"], "retired");
    assert_eq!(app.get(detail).await.status, 404);
    assert_eq!(app.json("/api/search?q=zephyr").await["meta"]["total"], 0);
    assert_eq!(app.json("/api/products?category=kitchen").await["meta"]["total"], 1);

    // retired is not gone: a change of status brings it back to the shop
    let patch = format!("/api/admin/products/{id}");
    let r = app.call("PATCH", &patch, Some(&admin), Some(&json!({"status": "active"})), &[]).await;
    assert_eq!(r.json()["data"]["status"], "active");
    assert_eq!(app.json(detail).await["data"]["name"], "Zephyr Reading Lamp");
    assert_eq!(app.json("/api/search?q=zephyr").await["meta"]["total"], 1);
    let r = app.call("DELETE", &patch, Some(&admin), None, &[]).await;
    assert_eq!(r.json()["data"]["status"], "retired");
    assert_eq!(app.get(detail).await.status, 404);

    let audit = app.call("GET", "/api/admin/audit", Some(&admin), None, &[]).await.json();
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec![
            "product.retire",
            "product.update",
            "product.retire",
            "product.update",
            "product.inventory",
            "product.price",
            "product.create"
        ]
    );
    let price = &audit["data"][5];
    assert_eq!(
        (price["before"]["sale_price"].clone(), price["after"]["sale_price"].clone()),
        (json!(null), json!(2999))
    );
    assert_eq!(price["client_addr"], "127.0.0.1");
    assert_eq!(app.call("GET", "/api/admin/audit", Some(&user), None, &[]).await.status, 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_moves_the_rating_and_bad_admin_input_changes_nothing() {
    let (app, admin, _) = admin_app().await;
    let queue = app.call("GET", "/api/admin/reviews", Some(&admin), None, &[]).await.json();
    let pending = queue["data"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "the fixture's spam review waits");
    let rid = pending[0]["id"].as_str().unwrap().to_owned();
    let before =
        app.json("/api/products/aurora-wireless-headphones").await["data"]["rating"]["count"].as_i64().unwrap();
    let r = app
        .call("PATCH", &format!("/api/admin/reviews/{rid}"), Some(&admin), Some(&json!({"status": "approved"})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = app.json("/api/products/aurora-wireless-headphones").await["data"]["rating"]["count"].as_i64().unwrap();
    assert_eq!(after, before + 1, "approval counts at once, through the cache");

    let digest = common::digest(&app.conn());
    let cases: Vec<(&str, String, serde_json::Value, u16)> = vec![
        (
            "POST",
            "/api/admin/products".into(),
            json!({"sku": "", "name": "x", "category_id": "1", "base_price": 1}),
            422,
        ),
        (
            "POST",
            "/api/admin/products".into(),
            json!({"sku": "S", "name": "x", "category_id": "999", "base_price": 1}),
            422,
        ),
        (
            "POST",
            "/api/admin/products".into(),
            json!({"sku": "S", "name": "x", "category_id": "1", "base_price": -5}),
            422,
        ),
        (
            "POST",
            "/api/admin/products".into(),
            json!({"sku": "S", "name": "x", "category_id": "1", "base_price": 5, "sale_price": 9}),
            422,
        ),
        (
            "POST",
            "/api/admin/products".into(),
            json!({"sku": "S", "name": "x", "category_id": "1", "base_price": 5, "status": "gone"}),
            422,
        ),
        ("PUT", "/api/admin/products/3/inventory".into(), json!({"quantity": -1}), 422),
        ("PUT", "/api/admin/products/3/inventory".into(), json!({"quantity": 1, "variant_id": "11"}), 422),
        ("PUT", "/api/admin/products/999/price".into(), json!({"base": 100}), 404),
        ("PUT", "/api/admin/products/3/price".into(), json!({"base": 100, "sale": 100}), 422),
        ("PATCH", "/api/admin/products/3".into(), json!({"slug": "Bad Slug"}), 422),
        ("PATCH", "/api/admin/products/3".into(), json!({"slug": "chef-knife"}), 409),
        ("PATCH", "/api/admin/products/3".into(), json!({"price": 1}), 422),
        ("PATCH", format!("/api/admin/reviews/{rid}"), json!({"status": "burned"}), 422),
        ("PATCH", "/api/admin/reviews/999".into(), json!({"status": "approved"}), 404),
    ];
    for (method, path, body, status) in &cases {
        let r = app.call(method, path, Some(&admin), Some(body), &[]).await;
        assert_eq!(r.status, *status, "{method} {path} {body}: {}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), digest, "bad admin requests changed nothing");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_brands_promotions_and_rates_are_managed_and_take_effect() {
    let (app, admin, user) = admin_app().await;
    let call = |m: &'static str, p: String, b: Option<serde_json::Value>| {
        let (app, admin) = (&app, admin.clone());
        async move { app.call(m, &p, Some(&admin), b.as_ref(), &[]).await }
    };
    // a sub-category of Speakers (depth 2) lands at depth 3 and shows in the (cached) tree
    app.json("/api/categories").await;
    let r = call(
        "POST",
        "/api/admin/categories".into(),
        Some(json!({"name": "Soundbars", "slug": "soundbars", "parent_id": "4"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let cat = r.json()["data"]["id"].as_str().unwrap().to_owned();
    assert!(app.get("/api/categories").await.text().contains("Soundbars"));
    let depth: Vec<i64> = common::column(&app.conn(), &format!("SELECT depth FROM categories WHERE id = {cat}"));
    assert_eq!(depth, vec![3]);
    // moving it to the top recomputes its depth; under itself is refused
    let r = call("PATCH", format!("/api/admin/categories/{cat}"), Some(json!({"parent_id": null}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(common::column::<i64>(&app.conn(), &format!("SELECT depth FROM categories WHERE id = {cat}")), vec![0]);
    let r = call("PATCH", "/api/admin/categories/1".into(), Some(json!({"parent_id": "3"}))).await;
    assert_eq!(r.status, 422, "a cycle: {}", r.text());
    let r = call("POST", "/api/admin/categories".into(), Some(json!({"name": "Dup", "slug": "audio"}))).await;
    assert_eq!(r.status, 409);
    let r = call("DELETE", "/api/admin/categories/6".into(), None).await;
    assert_eq!((r.status, r.error_code()), (409, "in_use".into()), "Kitchen holds a product");
    assert_eq!(call("DELETE", format!("/api/admin/categories/{cat}"), None).await.status, 204);

    // a renamed brand is found by its new name at once
    assert_eq!(app.json("/api/search?q=initech").await["meta"]["total"], 0);
    let r = call("PATCH", "/api/admin/brands/1".into(), Some(json!({"name": "Initech"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.json("/api/search?q=initech").await["meta"]["total"], 2);
    assert_eq!(app.json("/api/products/boom-speaker").await["data"]["brand"]["name"], "Initech");

    // a new code and a new tax rate apply to carts
    let r = call("POST", "/api/admin/promotions".into(), Some(json!({"code": "HALF", "kind": "percent", "value": 50})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["active"], true);
    let r = call("POST", "/api/admin/promotions".into(), Some(json!({"code": "BAD", "kind": "percent", "value": 150})))
        .await;
    assert_eq!(r.status, 422, "a percent above 100 breaks a rule: {}", r.text());
    let r = call(
        "POST",
        "/api/admin/tax-rates".into(),
        Some(json!({"country": "us", "region": "WA", "name": "Washington", "rate_bp": 650})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let t = app.guest().await;
    app.add_to_cart(&t, 3, 2).await;
    let r = app.call("POST", "/api/cart/discount", Some(&t), Some(&json!({"code": "HALF"})), &[]).await;
    assert_eq!(r.json()["data"]["discount"]["amount"], 4999);
    let v = app.call("GET", "/api/cart?country=US&state=WA", Some(&t), None, &[]).await.json();
    assert_eq!(v["data"]["tax"]["amount"], 325, "6.5% of 49.99");
    let r = call(
        "POST",
        "/api/admin/shipping-rates".into(),
        Some(json!({"code": "drone", "name": "Drone", "country": "US", "price": 99})),
    )
    .await;
    assert_eq!(r.status, 201);
    let opts = app.call("GET", "/api/cart/shipping-options?country=US", Some(&t), None, &[]).await.json();
    assert_eq!(opts["data"][0]["code"], "drone");

    // bad input, and the role
    for (p, b) in [
        ("/api/admin/brands", json!({"name": "X"})),
        ("/api/admin/brands", json!({"name": "X", "slug": "x", "colour": "red"})),
        ("/api/admin/tax-rates", json!({"country": "Narnia", "name": "X", "rate_bp": 1})),
        ("/api/admin/tax-rates", json!({"country": "FR", "name": "X", "rate_bp": 20000})),
        ("/api/admin/shipping-rates", json!({"code": "x", "name": "x", "country": "US", "price": "free"})),
        ("/api/admin/categories", json!({"name": "X", "slug": "x", "parent_id": "999"})),
    ] {
        let r = call("POST", p.into(), Some(b.clone())).await;
        assert_eq!(r.status, 422, "{p} {b}: {}", r.text());
    }
    assert_eq!(call("PATCH", "/api/admin/brands/999".into(), Some(json!({"name": "X"}))).await.status, 404);
    let r = app.call("POST", "/api/admin/brands", Some(&user), Some(&json!({"name": "X", "slug": "x"})), &[]).await;
    assert_eq!(r.status, 403);
    let audit = call("GET", "/api/admin/audit".into(), None).await.json();
    assert!(audit["data"].as_array().unwrap().len() >= 7, "every change is audited");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_fulfil_cancel_and_refund_orders() {
    let (app, admin, user) = admin_app().await;
    let t = app.guest().await;
    let buy = |product: &'static str| {
        let (app, t) = (&app, t.clone());
        async move {
            let b = json!({"items": [{"product_id": product, "quantity": 1}], "shipping_address": common::address(), "payment_method": "card"});
            let v = app.call("POST", "/api/orders", Some(&t), Some(&b), &[]).await.json();
            (v["data"]["order_id"].as_str().unwrap().to_owned(), v["data"]["total"]["amount"].as_i64().unwrap())
        }
    };
    let pay = |order: String, total: i64| {
        let app = &app;
        async move {
            let body =
                json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded", "amount": total})
                    .to_string();
            let sig = common::sign(SECRET, &body);
            let r = common::send(
                app.addr,
                "POST",
                b"/api/webhooks/payments",
                &[("Content-Type", "application/json"), ("X-Signature", &sig)],
                body.as_bytes(),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    };
    let stock = || common::column::<i64>(&app.conn(), "SELECT available FROM inventory WHERE variant_id = 51")[0];
    let patch = |order: String, status: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.call(
                "PATCH",
                &format!("/api/admin/orders/{order}"),
                Some(&admin),
                Some(&json!({"status": status})),
                &[],
            )
            .await
        }
    };
    let (o1, _) = buy("5").await;
    assert_eq!(stock(), 2);
    let r = patch(o1.clone(), "fulfilled").await;
    assert_eq!((r.status, r.error_code()), (409, "invalid_transition".into()), "not paid yet");
    assert_eq!(patch(o1.clone(), "cancelled").await.json()["data"]["status"], "cancelled");
    assert_eq!(stock(), 3, "a cancelled pending order returns its stock");

    let (o2, total) = buy("5").await;
    pay(o2.clone(), total).await;
    let v = patch(o2.clone(), "fulfilled").await.json();
    assert_eq!(v["data"]["status"], "fulfilled");
    assert_eq!(v["data"]["status_history"].as_array().unwrap().last().unwrap()["note"], "shipped");
    let v = patch(o2.clone(), "refunded").await.json();
    assert_eq!(v["data"]["status"], "refunded");
    assert_eq!(v["data"]["refunded"]["amount"], v["data"]["total"]["amount"], "everything went back");
    assert_eq!(v["data"]["refunds"][0]["status"], "succeeded", "a card paid offline: recorded");
    assert_eq!(stock(), 2, "a refund after shipping does not restock");
    let r = patch(o2.clone(), "refunded").await;
    assert_eq!((r.status, r.error_code()), (409, "exceeds_captured".into()), "nothing is left to refund");

    let (o3, total) = buy("5").await;
    pay(o3.clone(), total).await;
    assert_eq!(patch(o3.clone(), "refunded").await.status, 200);
    assert_eq!(stock(), 2, "refunded before shipping: back in stock");
    assert_eq!(patch(o3.clone(), "fulfilled").await.status, 409);

    // a paid order cancelled gives its payment back
    let (o4, total) = buy("5").await;
    pay(o4.clone(), total).await;
    let v = patch(o4.clone(), "cancelled").await.json();
    assert_eq!(v["data"]["status"], "cancelled");
    assert_eq!(
        (v["data"]["refunds"][0]["amount"]["amount"].as_i64(), v["data"]["refunds"][0]["status"].as_str()),
        (Some(total), Some("succeeded"))
    );
    assert_eq!(stock(), 2, "back in stock once");

    let list = app.call("GET", "/api/admin/orders?status=cancelled", Some(&admin), None, &[]).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let list = app.call("GET", "/api/admin/orders?status=refunded", Some(&admin), None, &[]).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(app.call("GET", "/api/admin/orders?status=lost", Some(&admin), None, &[]).await.status, 422);
    assert_eq!(app.call("GET", "/api/admin/orders", Some(&user), None, &[]).await.status, 403);
    assert_eq!(patch("999".into(), "cancelled").await.status, 404);
    let r = app
        .call("PATCH", &format!("/api/admin/orders/{o3}"), Some(&admin), Some(&json!({"status": "lost"})), &[])
        .await;
    assert_eq!(r.status, 422);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_product_list_walks_every_product_once_by_status_words_sku_and_low_stock() {
    let app = TestApp::builder().seeded(300, 5).start().await;
    let admin = app.admin("lists@example.com").await;
    let c = app.conn();
    let list = |query: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app.call("GET", &format!("/api/admin/products?{query}"), Some(admin), None, &[]).await;
            assert_eq!(r.status, 200, "{query}: {}", r.text());
            r.json()
        }
    };
    // keyset pages of 40, newest first: every product exactly once, any status
    let mut seen: Vec<i64> = Vec::new();
    let mut before = String::new();
    loop {
        let page = list(format!("per_page=40{before}")).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().parse::<i64>().unwrap()));
        match page["meta"]["next_before"].as_str() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }
    let all: Vec<i64> = common::column(&c, "SELECT id FROM products ORDER BY id DESC");
    assert_eq!(seen, all);
    // by status: retire two, draft one
    app.write("UPDATE products SET status = 'retired' WHERE id IN (3, 7)").await;
    app.write("UPDATE products SET status = 'draft' WHERE id = 11").await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&list("status=retired".into()).await), ["7", "3"]);
    assert_eq!(ids(&list("status=draft".into()).await), ["11"]);
    assert!(!ids(&list("status=active&per_page=200".into()).await).contains(&"3".to_owned()));
    // by words, and a whole sku first
    let (sku, name): (String, String) =
        c.query_row("SELECT sku, name FROM products WHERE id = 42", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let found = list(format!("q={}", sku)).await;
    assert_eq!(found["data"][0]["id"], "42", "{found}");
    let word = name.split_whitespace().last().unwrap();
    let found = ids(&list(format!("q={word}&per_page=200")).await);
    assert!(found.contains(&"42".to_owned()));
    // low stock: the products with a variant of 5 or fewer units
    let low: Vec<i64> = common::column(
        &c,
        "SELECT DISTINCT v.product_id FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE i.available <= 5",
    );
    let mut shown: Vec<i64> = Vec::new();
    let mut before = String::new();
    loop {
        let page = list(format!("low_stock=true&per_page=25{before}")).await;
        shown
            .extend(page["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().parse::<i64>().unwrap()));
        match page["meta"]["next_before"].as_str() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }
    shown.sort_unstable();
    shown.dedup();
    let mut low = low;
    low.sort_unstable();
    assert!(!low.is_empty(), "the generated catalog has low stock");
    assert_eq!(shown, low);
    // bad input: 4xx, nothing changed
    let shopper = app.register("shopper@example.com").await;
    let before_digest = common::digest(&c);
    for (query, field) in [
        ("status=sold", "status"),
        ("low_stock=true&q=lamp", "low_stock"),
        ("low_stock=maybe", "low_stock"),
        ("q=%2B%2B", "q"),
        ("before=0", "before"),
        ("per_page=500", "per_page"),
        ("colour=red", "colour"),
    ] {
        let r = app.call("GET", &format!("/api/admin/products?{query}"), Some(&admin), None, &[]).await;
        assert!(r.status == 422 || r.status == 400, "{query}: {}", r.status);
        assert!(r.json()["error"]["details"].get(field).is_some(), "{query}: {}", r.text());
    }
    assert_eq!(app.call("GET", "/api/admin/products", Some(&shopper), None, &[]).await.status, 403);
    assert_eq!(common::digest(&c), before_digest);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_listed_found_by_email_or_name_shown_with_orders_and_sessions_and_their_sessions_end() {
    use serde_json::json;
    let app = TestApp::builder().seeded(300, 5).start().await;
    let admin = app.admin("people@example.com").await;
    let c = app.conn();
    let list = |query: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app.call("GET", &format!("/api/admin/customers?{query}"), Some(admin), None, &[]).await;
            assert_eq!(r.status, 200, "{query}: {}", r.text());
            r.json()
        }
    };
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().parse::<i64>().unwrap()).collect()
    };
    // keyset pages, newest first: every customer exactly once
    let mut seen: Vec<i64> = Vec::new();
    let mut before = String::new();
    loop {
        let page = list(format!("per_page=17{before}")).await;
        seen.extend(ids(&page));
        match page["meta"]["next_before"].as_str() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }
    assert_eq!(seen, common::column::<i64>(&c, "SELECT id FROM customers ORDER BY id DESC"));
    // a customer registered now is found by a whole e-mail, a word of the name, the
    // beginning of a word, and the part of the e-mail before the @
    let body = json!({"email": "ada.lovelace@example.org", "password": "correct horse 1", "name": "Ada Byron"});
    let r = app.call("POST", "/api/auth/register", None, Some(&body), &[]).await;
    assert_eq!(r.status, 201);
    let ada_token = r.json()["data"]["token"].as_str().unwrap().to_owned();
    let ada: i64 =
        c.query_row("SELECT id FROM customers WHERE email = 'ada.lovelace@example.org'", [], |r| r.get(0)).unwrap();
    for q in
        ["ada.lovelace@example.org", "ADA.LOVELACE@EXAMPLE.ORG", "byron", "Byr", "ada%20byron", "lovelace%20example"]
    {
        let found = list(format!("q={q}")).await;
        assert_eq!(ids(&found).first(), Some(&ada), "{q}: {found}");
    }
    assert!(ids(&list("q=babbage".into()).await).is_empty());
    // a renamed customer is found by the new name, no longer by the old one
    let r = app.call("PATCH", "/api/me", Some(&ada_token), Some(&json!({"name": "Augusta King"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ids(&list("q=augusta%20king".into()).await), [ada]);
    assert!(ids(&list("q=byron".into()).await).is_empty());
    // one customer: orders (newest first) and live sessions
    app.add_to_cart(&ada_token, 1, 1).await;
    let order = json!({"shipping_address": common::address(), "payment_method": "card"});
    let r = app.call("POST", "/api/checkout", Some(&ada_token), Some(&order), &[("Idempotency-Key", "ada-1")]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let second = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"email": "ada.lovelace@example.org", "password": "correct horse 1"})),
            &[("User-Agent", "second device")],
        )
        .await;
    let second = second.json()["data"]["token"].as_str().unwrap().to_owned();
    let r = app.call("GET", &format!("/api/admin/customers/{ada}"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json()["data"].clone();
    assert_eq!(
        (d["email"].as_str(), d["name"].as_str(), d["role"].as_str()),
        (Some("ada.lovelace@example.org"), Some("Augusta King"), Some("customer"))
    );
    assert_eq!(d["two_factor"], false);
    assert_eq!(d["orders"].as_array().unwrap().len(), 1);
    assert_eq!(d["sessions"].as_array().unwrap().len(), 2, "{d}");
    // ending the sessions: both tokens stop working at once; audited; the detail shows none
    let audits = |c: &rusqlite::Connection| -> i64 {
        c.query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'customer.sessions_end' AND entity_id = ?1",
            [ada],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(audits(&c), 0);
    let r = app.call("DELETE", &format!("/api/admin/customers/{ada}/sessions"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["ended"], 2);
    for t in [&ada_token, &second] {
        assert_eq!(app.call("GET", "/api/me", Some(t), None, &[]).await.status, 401);
    }
    assert_eq!(audits(&c), 1);
    let d = app.call("GET", &format!("/api/admin/customers/{ada}"), Some(&admin), None, &[]).await.json();
    assert!(d["data"]["sessions"].as_array().unwrap().is_empty());
    // an integration's key with the orders scope reads customers but cannot end sessions
    let make = json!({"name": "support desk", "scopes": ["orders:read"]});
    let key = app.call("POST", "/api/admin/api-keys", Some(&admin), Some(&make), &[]).await.json()["data"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.call("GET", "/api/admin/customers", Some(&key), None, &[]).await.status, 200);
    assert_eq!(
        app.call("DELETE", &format!("/api/admin/customers/{ada}/sessions"), Some(&key), None, &[]).await.status,
        403
    );
    // bad input: 4xx, nothing changed
    let shopper = app.register("nosy@example.com").await;
    let before_digest = common::digest(&c);
    for (query, field) in [
        ("q=%2B%2B", "q"),
        ("before=0", "before"),
        ("per_page=0", "per_page"),
        ("per_page=201", "per_page"),
        ("role=admin", "role"),
    ] {
        let r = app.call("GET", &format!("/api/admin/customers?{query}"), Some(&admin), None, &[]).await;
        assert!(r.status == 422 || r.status == 400, "{query}: {}", r.status);
        assert!(r.json()["error"]["details"].get(field).is_some(), "{query}: {}", r.text());
    }
    for path in ["/api/admin/customers/999999", "/api/admin/customers/abc", "/api/admin/customers/0"] {
        assert_eq!(app.call("GET", path, Some(&admin), None, &[]).await.status, 404, "{path}");
    }
    assert_eq!(app.call("DELETE", "/api/admin/customers/999999/sessions", Some(&admin), None, &[]).await.status, 404);
    assert_eq!(app.call("GET", "/api/admin/customers", Some(&shopper), None, &[]).await.status, 403);
    assert_eq!(
        app.call("DELETE", &format!("/api/admin/customers/{ada}/sessions"), Some(&shopper), None, &[]).await.status,
        403
    );
    assert_eq!(app.call("GET", "/api/admin/customers", None, None, &[]).await.status, 401);
    assert_eq!(common::digest(&c), before_digest);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_shipping_and_tax_rates_are_listed_in_keyset_pages() {
    use serde_json::json;
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let admin = app.admin("rates@example.com").await;
    let c = app.conn();
    for i in 0..7 {
        let p = json!({"code": format!("SPRING{i}"), "kind": "percent", "value": 5 + i});
        assert_eq!(app.call("POST", "/api/admin/promotions", Some(&admin), Some(&p), &[]).await.status, 201);
    }
    for (path, table) in
        [("promotions", "promotions"), ("shipping-rates", "shipping_rates"), ("tax-rates", "tax_rates")]
    {
        let want: Vec<String> = common::column::<i64>(&c, &format!("SELECT id FROM {table} ORDER BY id DESC"))
            .into_iter()
            .map(|i| i.to_string())
            .collect();
        assert!(!want.is_empty(), "{table}");
        let mut seen = Vec::new();
        let mut before = String::new();
        loop {
            let r = app.call("GET", &format!("/api/admin/{path}?per_page=3{before}"), Some(&admin), None, &[]).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text());
            let page = r.json();
            for row in page["data"].as_array().unwrap() {
                seen.push(row["id"].as_str().unwrap().to_owned());
            }
            match page["meta"]["next_before"].as_str() {
                Some(n) => before = format!("&before={n}"),
                None => break,
            }
        }
        assert_eq!(seen, want, "{path}");
    }
    // the rows are what a create answered
    let r = app.call("GET", "/api/admin/promotions?per_page=1", Some(&admin), None, &[]).await;
    let newest = &r.json()["data"][0];
    assert_eq!(
        (newest["code"].as_str(), newest["value"].as_i64(), newest["active"].as_bool()),
        (Some("SPRING6"), Some(11), Some(true))
    );
    let shopper = app.register("peek@example.com").await;
    for path in ["promotions", "shipping-rates", "tax-rates"] {
        assert_eq!(app.call("GET", &format!("/api/admin/{path}"), Some(&shopper), None, &[]).await.status, 403);
        let r = app.call("GET", &format!("/api/admin/{path}?before=-1"), Some(&admin), None, &[]).await;
        assert_eq!(r.status, 422, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_are_added_and_changed_with_their_options_and_bad_ones_change_nothing() {
    let (app, admin, user) = admin_app().await;
    let new = json!({"sku": "TEE-1", "name": "Quokka Tee", "category_id": "6", "base_price": 2500, "quantity": 2});
    let r = app.call("POST", "/api/admin/products", Some(&admin), Some(&new), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let default = r.json()["data"]["stock"][0]["variant_id"].as_str().unwrap().to_owned();
    let shop = "/api/products/quokka-tee";
    assert_eq!(app.json(shop).await["data"]["variants"].as_array().unwrap().len(), 1, "cached before the change");
    let variants = format!("/api/admin/products/{id}/variants");

    // the product's default variant becomes "White / M"; a "Black / M" with its own price
    let r = app
        .call(
            "PATCH",
            &format!("{variants}/{default}"),
            Some(&admin),
            Some(&json!({"options": {"Colour": "White", "Size": "M"}})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["stock"][0]["name"], "White / M");
    let black = json!({"sku": "TEE-1-BLK-M", "options": {"Colour": "Black", "Size": "M"}, "base_price": 2900,
                       "quantity": 3});
    let r = app.call("POST", &variants, Some(&admin), Some(&black), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let added = r.json()["data"]["stock"][1].clone();
    assert_eq!(added["name"], "Black / M");
    assert_eq!(added["options"], json!({"Colour": "Black", "Size": "M"}));
    assert_eq!((added["base_price"].as_i64(), added["available"].as_i64()), (Some(2900), Some(3)));
    let vid = added["variant_id"].as_str().unwrap().to_owned();

    // the shop shows both at once, each with its options and price
    let p = app.json(shop).await["data"].clone();
    let names: Vec<&str> = p["variants"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["White / M", "Black / M"]);
    assert_eq!(p["variants"][0]["price"]["amount"], 2500, "the product's price");
    assert_eq!(p["variants"][1]["price"]["amount"], 2900, "its own");
    let colour = p["options"].as_array().unwrap().iter().find(|o| o["name"] == "Colour").unwrap().clone();
    assert_eq!(colour["values"], json!(["White", "Black"]));
    // and it sells at its price
    let r = app.call("POST", "/api/cart", Some(&user), Some(&json!({"variant_id": vid, "quantity": 1})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["subtotal"]["amount"], 2900);

    // bad input: said, and nothing changes
    let before = app.call("GET", &format!("/api/admin/products/{id}"), Some(&admin), None, &[]).await.json();
    let four = json!({"a": "1", "b": "2", "c": "3", "d": "4"});
    let other_product_variant = "11";
    let cases: Vec<(&str, String, serde_json::Value, u16, &str)> = vec![
        ("POST", variants.clone(), json!({"sku": "TEE-1-BLK-M", "options": {"Colour": "Red"}}), 409, "sku_taken"),
        (
            "POST",
            variants.clone(),
            json!({"sku": "TEE-X", "options": {"Size": "M", "Colour": "Black"}}),
            409,
            "variant_exists",
        ),
        ("POST", variants.clone(), json!({"sku": "TEE-X", "options": four}), 422, "validation_failed"),
        ("POST", variants.clone(), json!({"sku": "TEE-X", "options": {"!!!": "x"}}), 422, "validation_failed"),
        (
            "POST",
            variants.clone(),
            json!({"sku": "TEE-X", "options": {"Colour": "Red", "colour": "Blue"}}),
            422,
            "validation_failed",
        ),
        ("POST", variants.clone(), json!({"sku": "TEE-X", "sale_price": 100}), 422, "validation_failed"),
        ("POST", variants.clone(), json!({"sku": "", "options": {"Colour": "Red"}}), 422, "validation_failed"),
        (
            "POST",
            variants.clone(),
            json!({"sku": "TEE-X", "base_price": 100, "sale_price": 200}),
            422,
            "validation_failed",
        ),
        ("POST", "/api/admin/products/999999/variants".into(), json!({"sku": "TEE-X"}), 404, "not_found"),
        (
            "PATCH",
            format!("{variants}/{default}"),
            json!({"options": {"Colour": "Black", "Size": "M"}}),
            409,
            "variant_exists",
        ),
        ("PATCH", format!("{variants}/{default}"), json!({"sku": "TEE-1-BLK-M"}), 409, "sku_taken"),
        ("PATCH", format!("{variants}/{other_product_variant}"), json!({"name": "Mine"}), 404, "not_found"),
        ("PATCH", format!("{variants}/999999"), json!({"name": "Mine"}), 404, "not_found"),
        ("PATCH", format!("{variants}/{vid}"), json!({"sale_price": 100}), 422, "validation_failed"),
        ("PATCH", format!("{variants}/{vid}"), json!({"colour": "Red"}), 422, "validation_failed"),
    ];
    for (method, path, body, status, code) in cases {
        let r = app.call(method, &path, Some(&admin), Some(&body), &[]).await;
        assert_eq!((r.status, r.error_code()), (status, code.to_owned()), "{method} {path} {body}: {}", r.text());
    }
    let r = app.call("POST", &variants, Some(&user), Some(&json!({"sku": "TEE-Y"})), &[]).await;
    assert_eq!(r.status, 403, "a customer is not an administrator");
    let after = app.call("GET", &format!("/api/admin/products/{id}"), Some(&admin), None, &[]).await.json();
    assert_eq!(before, after, "refused changes change nothing");

    // its own price given back: the product's again
    let r =
        app.call("PATCH", &format!("{variants}/{vid}"), Some(&admin), Some(&json!({"base_price": null})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.json(shop).await["data"]["variants"][1]["price"]["amount"], 2500);
    let audit = app.call("GET", "/api/admin/audit", Some(&admin), None, &[]).await.json();
    let actions: Vec<&str> =
        audit["data"].as_array().unwrap().iter().take(3).map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["product.variant_update", "product.variant_add", "product.variant_update"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_groups_hold_customers_who_are_listed_by_group_and_bad_changes_change_nothing() {
    let app = TestApp::builder().seeded(120, 9).start().await;
    let admin = app.admin("people@example.com").await;
    let call = |method: &'static str, path: String, body: Option<serde_json::Value>| {
        let (app, admin) = (&app, &admin);
        async move { app.call(method, &path, Some(admin), body.as_ref(), &[]).await }
    };
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().parse::<i64>().unwrap()).collect()
    };
    // two groups; a name is unique whatever its case
    let mut groups = Vec::new();
    for (name, about) in [("Wholesale", "trade accounts"), ("VIP", "")] {
        let r =
            call("POST", "/api/admin/customer-groups".into(), Some(json!({"name": name, "description": about}))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        groups.push(r.json()["data"]["id"].as_str().unwrap().to_owned());
    }
    let r = call("POST", "/api/admin/customer-groups".into(), Some(json!({"name": "wholesale"}))).await;
    assert_eq!((r.status, r.error_code()), (409, "conflict".into()), "{}", r.text());
    let listed = call("GET", "/api/admin/customer-groups".into(), None).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    // three customers join: one in both, two in one
    let customers: Vec<i64> =
        common::column(&app.conn(), "SELECT id FROM customers WHERE role = 'customer' ORDER BY id LIMIT 3");
    let (wholesale, vip) = (&groups[0], &groups[1]);
    for (c, gs) in
        [(customers[0], vec![wholesale, vip]), (customers[1], vec![wholesale]), (customers[2], vec![vip, vip])]
    {
        let r = call("PUT", format!("/api/admin/customers/{c}/groups"), Some(json!({"group_ids": gs}))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let now = r.json()["data"]["groups"].as_array().unwrap().len();
        let asked = gs.iter().collect::<std::collections::BTreeSet<_>>().len();
        assert_eq!(now, asked, "the same group twice counts once");
    }
    let one = call("GET", format!("/api/admin/customers/{}", customers[0]), None).await.json();
    let names: Vec<&str> =
        one["data"]["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["VIP", "Wholesale"], "by name");

    // the list by group: its members, newest first, in keyset pages
    let members = |g: &str, extra: &str| call("GET", format!("/api/admin/customers?group={g}{extra}"), None);
    let w = members(wholesale, "").await.json();
    assert_eq!(ids(&w), vec![customers[1], customers[0]]);
    let p1 = members(vip, "&per_page=1").await.json();
    assert_eq!(ids(&p1), vec![customers[2]]);
    let next = p1["meta"]["next_before"].as_str().unwrap().to_owned();
    let p2 = members(vip, &format!("&per_page=1&before={next}")).await.json();
    assert_eq!(ids(&p2), vec![customers[0]]);
    // with words: the members whose e-mail or name matches
    let email: String =
        common::column::<String>(&app.conn(), &format!("SELECT email FROM customers WHERE id = {}", customers[1]))[0]
            .clone();
    let found = members(wholesale, &format!("&q={email}")).await.json();
    assert_eq!(ids(&found), vec![customers[1]]);
    let found = members(vip, &format!("&q={email}")).await.json();
    assert!(ids(&found).is_empty(), "not a member: {found}");
    assert!(ids(&members("999999", "").await.json()).is_empty(), "no such group: nobody");

    // bad requests change nothing
    let shopper = app.register("shopper@example.com").await;
    let before = common::digest(&app.conn());
    for (body, status) in [
        (json!({"group_ids": ["999999"]}), 422),
        (json!({"group_ids": [wholesale, "0"]}), 422),
        (json!({"group_ids": "1"}), 422),
        (json!({"groups": []}), 422),
        (json!({}), 422),
    ] {
        let r = call("PUT", format!("/api/admin/customers/{}/groups", customers[1]), Some(body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let r = call("PUT", "/api/admin/customers/999999/groups".into(), Some(json!({"group_ids": []}))).await;
    assert_eq!(r.status, 404);
    for q in ["group=0", "group=x", "group=1&group=2"] {
        let r = call("GET", format!("/api/admin/customers?{q}"), None).await;
        assert!(r.status == 422 || r.status == 400, "{q}: {}", r.text());
    }
    let r = call("POST", "/api/admin/customer-groups".into(), Some(json!({"name": ""}))).await;
    assert_eq!(r.status, 422);
    let r = app
        .call(
            "PUT",
            &format!("/api/admin/customers/{}/groups", customers[1]),
            Some(&shopper),
            Some(&json!({"group_ids": []})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "a customer cannot");
    assert_eq!(common::digest(&app.conn()), before, "nothing changed");

    // every change is audited; deleting a group takes its members out of it
    let audited: Vec<String> =
        common::column(&app.conn(), "SELECT action FROM audit_log WHERE action = 'customer.groups'");
    assert_eq!(audited.len(), 3);
    let r = call("DELETE", format!("/api/admin/customer-groups/{vip}"), None).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let one = call("GET", format!("/api/admin/customers/{}", customers[0]), None).await.json();
    assert_eq!(one["data"]["groups"].as_array().unwrap().len(), 1);
    assert!(ids(&members(vip, "").await.json()).is_empty());
    // and an empty list takes a customer out of every group
    let r = call("PUT", format!("/api/admin/customers/{}/groups", customers[0]), Some(json!({"group_ids": []}))).await;
    assert_eq!(r.json()["data"]["groups"], json!([]));
    assert_eq!(ids(&members(wholesale, "").await.json()), vec![customers[1]]);
    app.stop().await;
}
