//! The admin API through HTTP: the role is checked, every change shows in the next read
//! (cached views and search included) and leaves an audit row, bad input changes nothing.

mod common;

use common::TestApp;
use serde_json::json;

async fn admin_app() -> (TestApp, String, String) {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.cache_debug_header = true).start().await;
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

    let audit = app.call("GET", "/api/admin/audit", Some(&admin), None, &[]).await.json();
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec!["product.retire", "product.update", "product.inventory", "product.price", "product.create"]
    );
    let price = &audit["data"][3];
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
