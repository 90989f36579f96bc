//! Settings changed while the shop runs: listed with their configured values, changed by
//! the admin API (in force before the answer: pages, carts, the 2FA rule), audited, kept
//! across a restart, taken back; every bad change refused with a 422 naming its key and
//! nothing changed.

use serde_json::{json, Value};

use crate::common::{self, Data, TestApp};

fn setting<'a>(list: &'a Value, key: &str) -> &'a Value {
    list["data"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap_or_else(|| panic!("{key} listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_changes_settings_at_run_time_and_every_request_after_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::make_db(dir.path(), &Data::Fixture("small-catalog.sql"));
    let configure = |c: &mut storefront::config::Config| {
        c.shop_name = "Harbour Supply".into();
        c.cart_max_lines = 50;
        c.cache_debug_header = true;
        c.cache_warm_products = 0;
    };
    let app = TestApp::builder().same_data_as_path(&db).config(configure).start().await;
    let admin = app.admin("owner@example.com").await;
    let list = app.call("GET", "/api/admin/settings", Some(&admin), None, &[]).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    let keys: Vec<&str> = list["data"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "shop_name",
            "low_stock_threshold",
            "cart_max_lines",
            "order_expiry_mins",
            "guest_order_expiry_mins",
            "admin_require_2fa",
            "return_window_days",
            "draft_custom_prices",
            "locales",
            "currencies"
        ]
    );
    let name = setting(&list, "shop_name");
    assert_eq!((&name["value"], &name["configured"]), (&json!("Harbour Supply"), &json!("Harbour Supply")));
    assert!(name.get("changed_at").is_none());
    assert!(!name["description"].as_str().unwrap().is_empty());
    let lines = setting(&list, "cart_max_lines");
    assert_eq!((&lines["minimum"], &lines["maximum"]), (&json!(1), &json!(1000)));

    // the home page is cached with the name in force
    let home = app.get("/").await;
    assert!(home.text().contains("Harbour Supply"));
    assert_eq!(app.get("/").await.header("x-cache"), Some("hit-l1"));

    let r = app
        .call(
            "PATCH",
            "/api/admin/settings",
            Some(&admin),
            Some(&json!({"shop_name": "Quokka Goods", "cart_max_lines": 2})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = r.json();
    assert_eq!(setting(&after, "shop_name")["value"], "Quokka Goods");
    assert_eq!(setting(&after, "shop_name")["configured"], "Harbour Supply");
    assert!(setting(&after, "shop_name")["changed_at"].is_string());
    assert!(setting(&after, "low_stock_threshold").get("changed_at").is_none(), "only what was named changed");
    // in force at once: every page (the cached home page too), every cart
    let home = app.get("/").await.text();
    assert!(home.contains("Quokka Goods") && !home.contains("Harbour Supply"), "{home}");
    assert!(app.get("/p/nimbus-earbuds").await.text().contains("Quokka Goods"));
    let shopper = app.register("shopper@example.com").await;
    app.add_to_cart(&shopper, 1, 1).await;
    app.add_to_cart(&shopper, 3, 1).await;
    let r = app.call("POST", "/api/cart", Some(&shopper), Some(&json!({"product_id": "5", "quantity": 1})), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "cart_full".into()), "{}", r.text());

    // audited: who, before and after
    let (action, before, after): (String, String, String) = app
        .conn()
        .query_row(
            "SELECT action, before, after FROM audit_log WHERE entity = 'settings' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(action, "settings.update");
    // the settings are one of a kind: the audit row names no id, in the API and on the page
    let audit = app.call("GET", "/api/admin/audit", Some(&admin), None, &[]).await.json();
    let row = audit["data"].as_array().unwrap().iter().find(|r| r["action"] == "settings.update").unwrap().clone();
    assert!(row["entity_id"].is_null(), "{row}");
    let page =
        app.get_with("/admin/audit", &[("Accept", "text/html"), ("Cookie", &format!("sf_session={admin}"))]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("settings.update"));
    assert_eq!(
        serde_json::from_str::<Value>(&before).unwrap(),
        json!({"shop_name": "Harbour Supply", "cart_max_lines": 50})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&after).unwrap(),
        json!({"shop_name": "Quokka Goods", "cart_max_lines": 2})
    );

    // every bad change: 422 naming its key, nothing changed
    let digest = common::digest(&app.conn());
    for (body, key) in [
        (json!({"cart_max_lines": 0}), "cart_max_lines"),
        (json!({"cart_max_lines": 1001}), "cart_max_lines"),
        (json!({"cart_max_lines": "many"}), "cart_max_lines"),
        (json!({"cart_max_lines": 2.5}), "cart_max_lines"),
        (json!({"shop_name": ""}), "shop_name"),
        (json!({"shop_name": "x".repeat(101)}), "shop_name"),
        (json!({"shop_name": "Tab\there"}), "shop_name"),
        (json!({"admin_require_2fa": "yes"}), "admin_require_2fa"),
        (json!({"low_stock_threshold": -1}), "low_stock_threshold"),
        (json!({"order_expiry_mins": 0}), "order_expiry_mins"),
        (json!({"db": "/elsewhere.db"}), "db"),
        (json!({"shop_name": "Fine", "cart_max_lines": 0}), "cart_max_lines"),
        (json!({}), "settings"),
    ] {
        let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&body), &[]).await;
        assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{body}: {}", r.text());
        assert!(r.json()["error"]["details"][key].is_string(), "{body} names {key}: {}", r.text());
    }
    let r = common::send(
        app.addr,
        "PATCH",
        b"/api/admin/settings",
        &[("Authorization", &format!("Bearer {admin}")), ("Content-Type", "application/json")],
        b"[1, 2]",
    )
    .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text());
    let r = app.call("PATCH", "/api/admin/settings", Some(&shopper), Some(&json!({"shop_name": "Mine"})), &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(app.call("GET", "/api/admin/settings", Some(&shopper), None, &[]).await.status, 403);
    assert_eq!(
        app.call("PATCH", "/api/admin/settings", None, Some(&json!({"shop_name": "Mine"})), &[]).await.status,
        401
    );
    assert_eq!(common::digest(&app.conn()), digest, "refused changes change nothing");
    assert!(app.get("/").await.text().contains("Quokka Goods"));

    // an integration's key: settings:write may change them; catalog scopes may not
    let make = |scopes: Value| json!({"name": "ops", "scopes": scopes});
    let key = |r: common::Resp| r.json()["data"]["key"].as_str().unwrap_or_else(|| panic!("{}", r.text())).to_owned();
    let ops =
        key(app.call("POST", "/api/admin/api-keys", Some(&admin), Some(&make(json!(["settings:write"]))), &[]).await);
    let catalog =
        key(app.call("POST", "/api/admin/api-keys", Some(&admin), Some(&make(json!(["catalog:write"]))), &[]).await);
    let r =
        app.call("PATCH", "/api/admin/settings", Some(&catalog), Some(&json!({"admin_require_2fa": true})), &[]).await;
    assert_eq!(r.status, 403);
    // the 2FA rule: in force on the next request of a session opened without a code
    let r = app.call("PATCH", "/api/admin/settings", Some(&ops), Some(&json!({"admin_require_2fa": true})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.call("GET", "/api/admin/settings", Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "two_factor_required".into()));
    let r = app.call("PATCH", "/api/admin/settings", Some(&ops), Some(&json!({"admin_require_2fa": null})), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.call("GET", "/api/admin/settings", Some(&admin), None, &[]).await.status, 200);
    app.stop().await;

    // kept across a restart: the stored value wins over the configuration
    let app = TestApp::builder().same_data_as_path(&db).config(configure).start().await;
    assert!(app.get("/").await.text().contains("Quokka Goods"));
    let list = app.call("GET", "/api/admin/settings", Some(&admin), None, &[]).await.json();
    assert_eq!(setting(&list, "cart_max_lines")["value"], 2);
    // taken back: the configured value again; a value equal to the configured one is no change
    let body = json!({"shop_name": null, "cart_max_lines": 50});
    let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&body), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    for k in ["shop_name", "cart_max_lines"] {
        assert!(setting(&list, k).get("changed_at").is_none(), "{k}: {list}");
    }
    assert!(app.get("/").await.text().contains("Harbour Supply"));
    assert_eq!(common::column::<i64>(&app.conn(), "SELECT count(*) FROM settings"), [0]);
    app.stop().await;
}
