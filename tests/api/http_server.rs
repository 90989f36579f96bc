//! HTTP behaviour of the contract: request ids, gzip, ETag/304, caching headers, health,
//! readiness, the OpenAPI document, and overload answered with 503 + Retry-After.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::{self, gunzip, TestApp};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_made_or_echoed() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let a = app.get("/api/brands").await;
    let b = app.get("/api/brands").await;
    let (ida, idb) = (a.header("x-request-id").unwrap(), b.header("x-request-id").unwrap());
    assert!(!ida.is_empty() && ida != idb, "fresh ids: {ida} {idb}");
    let r = app.get_with("/api/brands", &[("X-Request-Id", "client-trace-42")]).await;
    assert_eq!(r.header("x-request-id"), Some("client-trace-42"));
    let r = app.get_with("/api/nope", &[("X-Request-Id", "client-trace-43")]).await;
    assert_eq!(r.json()["error"]["request_id"], "client-trace-43", "errors carry the id too");
    let long = "x".repeat(200);
    let r = app.get_with("/api/brands", &[("X-Request-Id", &long)]).await;
    assert_ne!(r.header("x-request-id"), Some(long.as_str()), "an unreasonable id is replaced");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_etags_and_caching_headers() {
    let app = TestApp::builder().seeded(300, 1).start().await;
    let plain = app.get("/api/products?per_page=50").await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    let cc = plain.header("cache-control").unwrap();
    assert!(cc.starts_with("public, max-age=") && cc.contains("stale-while-revalidate="), "{cc}");
    let etag = plain.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong validator: {etag}");

    let gz = app.get_with("/api/products?per_page=50", &[("Accept-Encoding", "gzip, br")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(gz.body.len() < plain.body.len() / 2, "compressed: {} vs {}", gz.body.len(), plain.body.len());
    assert_eq!(gunzip(&gz.body), plain.body, "same representation, compressed");
    let gz_etag = gz.header("etag").unwrap().to_owned();
    assert_ne!(gz_etag, etag, "each encoding has its own validator");
    let r = app.get_with("/api/products?per_page=50", &[("Accept-Encoding", "gzip;q=0")]).await;
    assert_eq!(r.header("content-encoding"), None, "q=0 refuses gzip");

    for tag in [etag.as_str(), gz_etag.as_str(), &format!("W/{etag}"), &format!("\"zzz\", {etag}")] {
        let r = app.get_with("/api/products?per_page=50", &[("If-None-Match", tag)]).await;
        assert_eq!(r.status, 304, "If-None-Match: {tag}");
        assert!(r.body.is_empty());
        assert!(r.header("etag").is_some() && r.header("cache-control").is_some());
    }
    let r = app.get_with("/api/products?per_page=50", &[("If-None-Match", "\"stale\"")]).await;
    assert_eq!(r.status, 200);
    // different content, different validator
    let other = app.get("/api/products?per_page=49").await;
    assert_ne!(other.header("etag").unwrap(), etag);

    let h = app.get("/health").await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("cache-control"), Some("private, no-store"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_its_checks() {
    // no warming: its reads would make the read queue depth anything from 0 to the pool size
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.cache_warm_products = 0).start().await;
    let r = app.get("/ready").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"]["checks"]["database"], "ok");
    assert_eq!(v["data"]["checks"]["writer"], "ok");
    // internals only for administrators
    for internal in ["read_queue", "write_queue", "writer_stats"] {
        assert!(v["data"]["checks"].get(internal).is_none(), "{internal} shown to anyone: {v}");
    }
    let customer = app.register("c@example.com").await;
    let v = app.call("GET", "/ready", Some(&customer), None, &[]).await.json();
    assert!(v["data"]["checks"].get("writer_stats").is_none(), "not to customers either");
    let admin = app.admin("ops@example.com").await;
    let v = app.call("GET", "/ready", Some(&admin), None, &[]).await.json();
    assert_eq!(v["data"]["checks"]["read_queue"], 0);
    assert_eq!(v["data"]["checks"]["write_queue"], 0);
    assert!(v["data"]["checks"]["writer_stats"]["batches"].as_u64().unwrap() >= 1);
    // shutting down: the same flag the server raises when it starts draining
    app.state.draining.store(true, Ordering::SeqCst);
    let r = app.get("/ready").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.error_code(), "not_ready");
    assert_eq!(r.json()["error"]["details"]["checks"]["draining"], true);
    assert!(r.header("retry-after").is_some());
    app.state.draining.store(false, Ordering::SeqCst);
    // a stopped writer makes the node unready
    let st = app.state.clone();
    tokio::task::spawn_blocking(move || st.db.writer.shutdown()).await.unwrap();
    let r = app.get("/ready").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["details"]["checks"]["writer"], "stopped");
    app.stop().await;
}

/// Occupies a reader until the gate opens; returns once it is held.
async fn hold_reader(
    app: &TestApp,
) -> (tokio::task::JoinHandle<Result<(), storefront::error::ApiError>>, common::Gate) {
    let st = app.state.clone();
    let (mut gate, held) = common::gate();
    let holder = tokio::spawn(async move {
        st.db
            .read(move |_| {
                held.wait();
                Ok::<_, storefront::error::ApiError>(())
            })
            .await
    });
    gate.entered().await;
    (holder, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_read_pool_answers_503_with_retry_after() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.read_pool_size = 1;
            c.read_wait_ms = 50;
        })
        .start()
        .await;
    let (holder, gate) = hold_reader(&app).await;
    let r = app.get("/api/brands").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.error_code(), "unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    gate.open();
    holder.await.unwrap().unwrap();
    assert_eq!(app.get("/api/brands").await.status, 200, "served again once a connection is free");
    app.stop().await;
}

/// The document is generated from the route table; this walks both ways. Every documented
/// operation is served by the real router (never its bare 404/405), every other method on a
/// documented path is the router's 405, the route table registers nothing but documented
/// handlers, and each operation states its path parameters, its security and the errors
/// its inputs can cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_is_the_route_table() {
    let app = TestApp::builder().start().await;
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300, stale-while-revalidate=3600"));
    let v = r.json();
    assert_eq!(v["openapi"], "3.1.0");
    assert_eq!(v, serde_json::from_slice::<Value>(&storefront::web::spec::document().json).unwrap());
    let paths = v["paths"].as_object().unwrap();
    assert!(paths.len() >= 50, "{} paths", paths.len());
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
    for (path, item) in paths {
        let item = item.as_object().unwrap();
        let concrete = path.replace("{slug}", "no-such-slug").replace("{id}", "999999");
        for method in METHODS {
            let r = app.call(&method.to_uppercase(), &concrete, None, None, &[]).await;
            let error: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let bare = error["error"]["message"].as_str().map(str::to_owned).unwrap_or_default();
            match item.get(method) {
                Some(op) => {
                    assert_ne!(r.status, 405, "{method} {path} is served");
                    assert!(!(r.status == 404 && bare == "no such resource"), "{method} {path} is routed");
                    check_operation(path, method, op);
                }
                None => assert_eq!(r.status, 405, "{method} {path} is not served: it is not documented"),
            }
        }
    }
    // every API route goes through `routes!`, which takes only handlers with a description;
    // the one other registration is the web pages' (`Table::page`), none under /api
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/routes.rs")).unwrap();
    assert_eq!(table.matches(".route(").count(), 1, "API routes are registered with routes!(...), never .route(...)");
    let pages: Vec<&str> = table.split(".page(\"").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert!(pages.contains(&"/") && pages.iter().all(|p| !p.starts_with("/api")), "{pages:?}");
    for page in &pages {
        assert!(paths.get(*page).is_none(), "{page} is a page, not in the API's document");
    }
    // every $ref points at a schema that exists
    let text = v.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(v["components"]["schemas"].get(name).is_some(), "schema {name} exists");
    }
    app.stop().await;
}

fn check_operation(path: &str, method: &str, op: &Value) {
    let at = format!("{method} {path}");
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    for name in path.split('{').skip(1).map(|p| p.split('}').next().unwrap()) {
        assert!(
            params.iter().any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
            "{at}: path parameter {name} declared"
        );
    }
    let security = op["security"].as_array().unwrap_or_else(|| panic!("{at}: security stated"));
    let responses = op["responses"].as_object().unwrap();
    let has = |s: &str| responses.contains_key(s);
    let public = security.iter().any(|s| s.as_object().is_some_and(|o| o.is_empty()));
    let admin = security.iter().any(|s| s["bearer"].as_array().is_some_and(|r| r.iter().any(|x| x == "admin")));
    if !public {
        assert!(has("401"), "{at}: 401 documented");
    }
    if admin {
        assert!(path.starts_with("/api/admin/") && has("403"), "{at}: admin and 403");
    } else {
        assert!(!path.starts_with("/api/admin/"), "{at}: admin routes need the role");
    }
    if op.get("requestBody").is_some() {
        for s in ["400", "413", "415", "422"] {
            assert!(has(s), "{at}: {s} documented for a body");
        }
    }
    if params.iter().any(|p| p["in"] == "query") {
        for s in ["400", "414", "422"] {
            assert!(has(s), "{at}: {s} documented for a query");
        }
    }
    assert!(responses.keys().any(|s| s.starts_with('2')), "{at}: a success documented");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_caller_has_gone_is_never_run() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.read_pool_size = 1).start().await;
    // occupy the only reader
    let (holder, gate) = hold_reader(&app).await;
    // a caller that gives up while its job is still queued (as a disconnected client does)
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        app.state.db.read(move |_| {
            flag.store(true, Ordering::SeqCst);
            Ok::<_, storefront::error::ApiError>(())
        }),
    )
    .await;
    assert!(gave_up.is_err(), "the caller stopped waiting");
    gate.open();
    holder.await.unwrap().unwrap();
    // the reader is free again and has passed the abandoned job by
    assert_eq!(app.get("/api/brands").await.status, 200);
    assert!(!ran.load(Ordering::SeqCst), "abandoned work was skipped");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answer_their_commit_position() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.cache_warm_products = 0).start().await;
    let position =
        |r: &crate::common::Resp| -> u64 { r.header("x-storefront-commit").expect("a position").parse().unwrap() };
    let first = app.call("POST", "/api/auth/guest", None, None, &[]).await;
    assert_eq!(first.status, 201);
    let p1 = position(&first);
    assert_eq!(first.header("set-cookie"), Some(format!("sf_commit={p1}; Path=/; SameSite=Lax").as_str()));
    let token = first.json()["data"]["token"].as_str().unwrap().to_owned();
    let second = app
        .call("POST", "/api/cart", Some(&token), Some(&serde_json::json!({"product_id": "3", "quantity": 1})), &[])
        .await;
    assert_eq!(second.status, 201);
    let p2 = position(&second);
    assert!(p2 > p1, "{p1} then {p2}");
    // the change log holds what each commit changed; a write's answer names its commit's
    // position or a later one (a background commit may land in between)
    let conn = app.conn();
    let between = |after: u64, upto: u64| -> Vec<String> {
        let mut st = conn.prepare("SELECT changes FROM change_log WHERE position > ?1 AND position <= ?2").unwrap();
        st.query_map([after as i64, upto as i64], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let first_changes = between(0, p1);
    assert!(first_changes.iter().any(|c| c.contains("\"sessions\"")), "{first_changes:?}");
    let second_changes = between(p1, p2);
    let changes = second_changes.iter().find(|c| c.contains("\"cart_items\"")).cloned();
    let changes = changes.unwrap_or_else(|| panic!("no commit in ({p1}, {p2}] added the line: {second_changes:?}"));
    let back = storefront::db::writer::ChangeSet::from_json(&changes).unwrap();
    assert!(back.touches("cart_items") && back.touches("carts"));
    // reads and refused writes carry no position
    assert!(app.get("/api/products").await.header("x-storefront-commit").is_none());
    let bad = app
        .call("POST", "/api/cart", Some(&token), Some(&serde_json::json!({"product_id": "3", "quantity": 0})), &[])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.header("x-storefront-commit").is_none());
    // a restart goes on from the last position
    let dir = app.stop_keeping_files().await.unwrap();
    let again = TestApp::builder().same_data_as_path(&dir.path().join("test.db")).start().await;
    let r = again.call("POST", "/api/auth/guest", None, None, &[]).await;
    assert!(position(&r) > p2);
    again.stop().await;
}
