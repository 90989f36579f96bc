//! Every malformed request gets a clear 4xx in the error envelope: never a 500, never a
//! panic, never a change. Table-driven; the database file is compared before and after.

use crate::common;

use crate::common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_catalog_requests_get_clear_4xx() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let long_q = format!("/api/products?q={}", "a".repeat(10 * 1024));
    let many_words = format!("/api/search?q={}", "word+".repeat(60));
    let cases: Vec<(&[u8], u16, &str)> = vec![
        (b"/api/products?page=-1", 422, "validation_failed"),
        (b"/api/products?page=0", 422, "validation_failed"),
        (b"/api/products?page=abc", 422, "validation_failed"),
        (b"/api/products?per_page=10000", 422, "validation_failed"),
        (b"/api/products?per_page=0", 422, "validation_failed"),
        (b"/api/products?page=99999999999999999999999", 422, "validation_failed"),
        (b"/api/products?page=600", 422, "validation_failed"),
        (b"/api/products?sort=cheapest", 422, "validation_failed"),
        (b"/api/products?cursor=not-a-cursor", 400, "invalid_cursor"),
        (b"/api/products?cursor=MXxuZXdlc3R8YXx4fDE", 400, "invalid_cursor"),
        (b"/api/products?cursor=&page=2", 422, "validation_failed"),
        (b"/api/products?min_price=5000&max_price=100", 422, "validation_failed"),
        (b"/api/products?min_price=-1", 422, "validation_failed"),
        (b"/api/products?in_stock=maybe", 422, "validation_failed"),
        (b"/api/products?category=no-such-category", 422, "validation_failed"),
        (b"/api/products?category=Bad%20Slug", 422, "validation_failed"),
        (b"/api/products?brand=nope", 422, "validation_failed"),
        (b"/api/products?fields=id,password_hash", 422, "validation_failed"),
        (b"/api/products?fields=,", 422, "validation_failed"),
        (b"/api/products?q=%22%2A%28%29", 422, "validation_failed"),
        (b"/api/products?q=%00evil", 422, "validation_failed"),
        (long_q.as_bytes(), 414, "uri_too_long"),
        (b"/api/products?q=%FF%FE", 400, "invalid_query"),
        (b"/api/products?q=%E2%28%A1", 400, "invalid_query"),
        (b"/api/products?page=1&page=2", 400, "invalid_query"),
        (b"/api/products?min_prcie=10", 400, "unknown_parameter"),
        (b"/api/search", 422, "validation_failed"),
        (b"/api/search?q=", 422, "validation_failed"),
        (b"/api/search?q=---", 422, "validation_failed"),
        (b"/api/search?q=x&page=51", 422, "validation_failed"),
        (b"/api/search?q=x&sort=random", 422, "validation_failed"),
        (b"/api/products/bestsellers?limit=0", 422, "validation_failed"),
        (b"/api/products/bestsellers?days=1000", 422, "validation_failed"),
        (b"/api/products/aurora-wireless-headphones?x=1", 400, "unknown_parameter"),
        (b"/api/products/aurora-wireless-headphones/reviews?per_page=51", 422, "validation_failed"),
        (b"/api/products/no-such-product/reviews", 404, "not_found"),
        (b"/api/products/%FF", 404, "not_found"),
        (b"/api/categories/%E2%28%A1", 404, "not_found"),
        (b"/api/nothing-here", 404, "not_found"),
        (b"/api/products/a/b/c", 404, "not_found"),
        (many_words.as_bytes(), 422, "validation_failed"),
    ];
    let before = common::digest(&app.conn());
    for (target, status, code) in &cases {
        let r = app.request("GET", target, &[]).await;
        let shown = String::from_utf8_lossy(&target[..target.len().min(80)]).into_owned();
        assert_eq!(r.status, *status, "GET {shown}: {}", r.text());
        if *status >= 400 {
            assert_eq!(r.error_code(), *code, "GET {shown}");
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.header("cache-control"), Some("no-store"), "errors are not cached");
        }
    }
    // 422 details name each bad field
    let r = app.get("/api/products?page=-1&per_page=500&sort=x&min_price=9&max_price=1").await;
    let details = r.json()["error"]["details"].clone();
    for f in ["page", "per_page", "sort", "min_price", "max_price"] {
        assert!(details.get(f).is_some(), "details name {f}: {details}");
    }
    // SQL and FTS syntax in q is just text: no error, no effect
    for q in
        ["%27%3B%20DROP%20TABLE%20products%3B%20--", "wireless%20OR%20%2A", "NEAR%28a%20b%29", "a%22b", "%5E%24%40"]
    {
        let r = app.get(&format!("/api/search?q={q}")).await;
        assert!(r.status == 200 || r.status == 422, "q={q}: {} {}", r.status, r.text());
        let r = app.get(&format!("/api/products?q={q}")).await;
        assert!(r.status == 200 || r.status == 422, "q={q}: {} {}", r.status, r.text());
    }
    // wrong methods on read-only resources
    for (m, t) in [("POST", "/api/products"), ("DELETE", "/api/brands"), ("PUT", "/api/search")] {
        let r = app.request(m, t.as_bytes(), &[]).await;
        assert_eq!(r.status, 405, "{m} {t}");
        assert_eq!(r.error_code(), "method_not_allowed");
    }
    let v = app.json("/api/products?per_page=100").await;
    assert_eq!(v["meta"]["total"], 4, "the catalog is intact");
    assert_eq!(common::digest(&app.conn()), before, "bad requests changed nothing");
    app.stop().await;
}

/// Every malformed or unauthorized write: the right 4xx, and the database unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unauthorized_writes_get_clear_4xx_and_change_nothing() {
    use serde_json::json;
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let guest = app.guest().await;
    let cart = app.add_to_cart(&guest, 3, 1).await;
    let item = cart["data"]["items"][0]["id"].as_str().unwrap().to_owned();
    let other = app.register("other@example.com").await;
    let b = json!({"items": [{"product_id": "5", "quantity": 1}], "shipping_address": common::address(), "payment_method": "card"});
    let r = app.call("POST", "/api/orders", Some(&other), Some(&b), &[]).await;
    assert_eq!(r.status, 201);
    let others_order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let revoked = app.guest().await;
    assert_eq!(app.call("POST", "/api/auth/logout", Some(&revoked), None, &[]).await.status, 204);
    let before = common::digest(&app.conn());

    let bearer = format!("Bearer {guest}");
    let auth: &[(&str, &str)] = &[("Authorization", &bearer), ("Content-Type", "application/json")];
    let huge = format!("{{\"product_id\": \"3\", \"quantity\": 1, \"pad\": \"{}\"}}", "x".repeat(1 << 20));
    let mut bad_address = common::checkout_body();
    bad_address["shipping_address"]["country"] = json!("Narnia");
    bad_address["shipping_address"]["name"] = json!("");
    let mut bad_payment = common::checkout_body();
    bad_payment["payment_method"] = json!("pay with goats");
    let mut bad_option = common::checkout_body();
    bad_option["shipping_option"] = json!("teleport");
    let item_path = format!("/api/cart/items/{item}");
    let order_path = format!("/api/orders/{others_order}");
    let cancel_path = format!("{order_path}/cancel");
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/api/cart", "{".into(), 400, "malformed_json"),
        ("POST", "/api/cart", "[1, 2]".into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3"}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": "two"}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": 0}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": -1}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": 1000000}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": 1.5}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "999", "quantity": 1}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "4", "quantity": 1}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "abc", "quantity": 1}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": 1, "price": 1}"#.into(), 422, "validation_failed"),
        (
            "POST",
            "/api/cart",
            r#"{"variant_id": "51", "product_id": "3", "quantity": 1}"#.into(),
            422,
            "validation_failed",
        ),
        ("POST", "/api/cart", r#"{"product_id": "3", "quantity": 11}"#.into(), 409, "out_of_stock"),
        ("POST", "/api/cart", huge, 413, "payload_too_large"),
        ("PATCH", &item_path, r#"{"quantity": 0}"#.into(), 422, "validation_failed"),
        ("PATCH", "/api/cart/items/999", r#"{"quantity": 1}"#.into(), 404, "not_found"),
        ("PATCH", "/api/cart/items/x", r#"{"quantity": 1}"#.into(), 404, "not_found"),
        ("POST", "/api/cart/discount", r#"{"code": ""}"#.into(), 422, "validation_failed"),
        ("POST", "/api/cart/discount", r#"{"code": "SUMMER"}"#.into(), 422, "invalid_discount"),
        ("POST", "/api/checkout", bad_address.to_string(), 422, "validation_failed"),
        ("POST", "/api/checkout", bad_payment.to_string(), 422, "validation_failed"),
        ("POST", "/api/checkout", bad_option.to_string(), 422, "shipping_unavailable"),
        ("POST", "/api/checkout", "{}".into(), 422, "validation_failed"),
        (
            "POST",
            "/api/orders",
            r#"{"items": [], "shipping_address": {}, "payment_method": "card"}"#.into(),
            422,
            "validation_failed",
        ),
        ("POST", &cancel_path, String::new(), 404, "not_found"),
        (
            "POST",
            "/api/auth/register",
            r#"{"email": "not-an-email", "password": "long enough", "name": "X"}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/api/auth/register",
            r#"{"email": "a@b.co", "password": "short", "name": "X"}"#.into(),
            422,
            "validation_failed",
        ),
        ("POST", "/api/auth/login", r#"{"email": "a@b.co"}"#.into(), 422, "validation_failed"),
        ("POST", "/api/me/addresses", r#"{"name": "x"}"#.into(), 401, "login_required"),
        ("POST", "/api/products/boom-speaker/reviews", r#"{"rating": 5}"#.into(), 401, "login_required"),
    ];
    for (method, path, body, status, code) in &cases {
        let r = common::send(app.addr, method, path.as_bytes(), auth, body.as_bytes()).await;
        assert_eq!(
            (r.status, r.error_code()),
            (*status, code.to_string()),
            "{method} {path} {}: {}",
            &body[..body.len().min(80)],
            r.text()
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // the cart holds exactly what it held
    assert_eq!(app.call("GET", "/api/cart", Some(&guest), None, &[]).await.json()["data"]["item_count"], 1);
    // wrong content type, no token, bad tokens, someone else's order
    let r = common::send(
        app.addr,
        "POST",
        b"/api/cart",
        &[("Authorization", &bearer), ("Content-Type", "text/plain")],
        br#"{"product_id":"3","quantity":1}"#,
    )
    .await;
    assert_eq!((r.status, r.error_code()), (415, "unsupported_media_type".into()));
    let r = app.call("POST", "/api/cart", None, Some(&json!({"product_id": "3", "quantity": 1})), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "unauthenticated".into()));
    for token in [revoked.as_str(), "made-up-token", "x".repeat(500).as_str()] {
        let r = app.call("POST", "/api/cart", Some(token), Some(&json!({"product_id": "3", "quantity": 1})), &[]).await;
        assert_eq!((r.status, r.error_code()), (401, "invalid_token".into()));
    }
    let r = common::send(app.addr, "GET", b"/api/cart", &[("Authorization", "Basic dXNlcjpwdw==")], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(app.call("GET", &order_path, Some(&guest), None, &[]).await.status, 404, "another's order is not found");
    let r = app
        .call("POST", "/api/checkout", Some(&guest), Some(&common::checkout_body()), &[("Idempotency-Key", "")])
        .await;
    assert_eq!(r.status, 400);
    let r =
        common::send(app.addr, "POST", b"/api/webhooks/payments", &[("Content-Type", "application/json")], b"{}").await;
    assert_eq!(r.status, 401, "no webhook secret configured: every call is refused");
    assert_eq!(common::digest(&app.conn()), before, "bad requests changed nothing");
    app.stop().await;
}
