//! Every malformed request gets a clear 4xx in the error envelope: never a 500, never a
//! panic, never a change. Table-driven; the database file is compared before and after.

mod common;

use common::TestApp;

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
