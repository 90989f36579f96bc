//! What an operator sees: `/metrics` counts exactly what clients did, slow statements are
//! counted, long reads are cut off, a dead writer makes the node unready.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use storefront::error::StoreError;

use crate::common::TestApp;

/// The samples of a text-format scrape: `name{k="v",…}` (labels sorted) → value.
pub fn scrape_text(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut labels: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
        labels.sort_unstable();
        out.insert(format!("{name}{{{}}}", labels.join(",")), value.parse::<f64>().expect("a number"));
    }
    out
}

pub async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let r = app.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    scrape_text(&r.text())
}

/// The value of `name` with exactly `labels` (0 when the series does not exist).
pub fn sample(m: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    l.sort_unstable();
    m.get(&format!("{name}{{{}}}", l.join(","))).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_clients_did() {
    // no warming: the first read of the page is the miss that fills the cache
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.cache_warm_products = 0).start().await;
    let before = scrape(&app).await;
    let detail = "/api/products/{slug}";
    let get = [("method", "GET"), ("route", detail), ("status", "200")];
    assert_eq!(sample(&before, "storefront_http_requests_total", &get), 0.0);

    // 5 reads of one product page: the first fills the cache, the rest are hits answered
    // ahead of the router, and each is counted under the route's template
    for _ in 0..5 {
        assert_eq!(app.get("/api/products/aurora-wireless-headphones").await.status, 200);
    }
    for _ in 0..3 {
        assert_eq!(app.get("/api/products/no-such-product").await.status, 404);
    }
    assert_eq!(app.get("/no/such/route").await.status, 404);
    let r = app.call("POST", "/api/auth/login", None, Some(&serde_json::json!({"email": "x"})), &[]).await;
    assert_eq!(r.status, 422);
    app.guest().await; // a write

    let m = scrape(&app).await;
    assert_eq!(sample(&m, "storefront_http_requests_total", &get), 5.0);
    assert_eq!(
        sample(&m, "storefront_http_requests_total", &[("method", "GET"), ("route", detail), ("status", "404")]),
        3.0
    );
    assert_eq!(
        sample(&m, "storefront_http_requests_total", &[("method", "GET"), ("route", "unmatched"), ("status", "404")]),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "storefront_http_requests_total",
            &[("method", "POST"), ("route", "/api/auth/login"), ("status", "422")]
        ),
        1.0
    );
    // the latency histogram saw the 8 requests of the route, each in a bucket
    let hist = [("method", "GET"), ("route", detail)];
    assert_eq!(sample(&m, "storefront_http_request_duration_seconds_count", &hist), 8.0);
    let le_inf = [("method", "GET"), ("route", detail), ("le", "+Inf")];
    assert_eq!(sample(&m, "storefront_http_request_duration_seconds_bucket", &le_inf), 8.0);
    assert!(sample(&m, "storefront_http_request_duration_seconds_sum", &hist) > 0.0);
    // the cache: 4 hits of the page (404s are not cached)
    let hits = sample(&m, "storefront_cache_requests_total", &[("tier", "l1"), ("result", "hit")])
        - sample(&before, "storefront_cache_requests_total", &[("tier", "l1"), ("result", "hit")]);
    assert_eq!(hits, 4.0);
    // the scrape itself is in flight while it renders
    assert_eq!(sample(&m, "storefront_http_requests_in_flight", &[]), 1.0);
    assert_eq!(sample(&m, "storefront_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(sample(&m, "storefront_writer_alive", &[]), 1.0);
    assert!(sample(&m, "storefront_process_resident_memory_bytes", &[]) > 1e6);
    assert!(sample(&m, "storefront_db_size_bytes", &[]) > 0.0);
    assert!(sample(&m, "storefront_disk_free_bytes", &[]) > 0.0);
    // every queue and state is there, zeros included
    for q in ["high", "default", "low"] {
        for s in ["scheduled", "available", "running", "retryable", "completed", "failed", "cancelled"] {
            assert!(m.contains_key(&format!("storefront_jobs{{queue=\"{q}\",state=\"{s}\"}}")), "{q} {s}");
        }
        assert!(m.contains_key(&format!("storefront_job_lag_seconds{{queue=\"{q}\"}}")));
    }
    // the writer's batches and the reads' waits were recorded
    assert!(sample(&m, "storefront_writer_batch_size_count", &[]) >= 1.0);
    assert!(sample(&m, "storefront_writer_commit_seconds_count", &[]) >= 1.0);
    assert!(sample(&m, "storefront_db_read_wait_seconds_count", &[]) >= 1.0);
    // a bad query string is refused like anywhere else
    assert_eq!(app.get("/metrics?x=1").await.status, 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_statements_are_counted_and_long_reads_cut_off() {
    let app = TestApp::builder()
        .config(|c| {
            c.slow_query_ms = 20;
            c.read_time_limit_ms = 3000;
        })
        .start()
        .await;
    let slow_before = sample(&scrape(&app).await, "storefront_slow_queries_total", &[]);
    // statements of about 50–150 ms (each far under the time limit, even on a busy machine)
    let n: i64 = app
        .state
        .db
        .read(|c| {
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < Duration::from_millis(40) {
                n = c.query_row(
                    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 400000) SELECT count(*) FROM r",
                    [],
                    |r| r.get(0),
                )?;
            }
            Ok::<_, StoreError>(n)
        })
        .await
        .unwrap();
    assert_eq!(n, 400_000);
    let m = scrape(&app).await;
    assert!(sample(&m, "storefront_slow_queries_total", &[]) > slow_before, "the slow statement was counted");

    // a statement that would run for minutes is interrupted at the limit
    let started = Instant::now();
    let r = app
        .state
        .db
        .read(|c| {
            c.query_row(
                "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 10000000000) SELECT count(*) FROM r",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(StoreError::from)
        })
        .await;
    assert!(matches!(r, Err(StoreError::TimedOut)), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "interrupted near its limit: {:?}", started.elapsed());
    // the reader thread is fine afterwards
    assert_eq!(app.get("/ready").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_makes_the_node_unready() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    assert_eq!(app.get("/ready").await.status, 200);
    // a commit hook that panics (a bug in an index or cache patch) kills the writer thread
    app.state.db.writer.on_commit(Arc::new(|changes| {
        if changes.touches("brands") {
            panic!("a commit hook failed");
        }
    }));
    let r = app
        .state
        .db
        .writer
        .run(|tx| {
            tx.execute("INSERT INTO brands(name, slug, created_at) VALUES ('b', 'b-dead', 0)", [])
                .map_err(StoreError::from)
        })
        .await;
    assert!(r.is_err(), "the unit whose commit killed the writer is not acknowledged");
    crate::common::wait_for("the writer to be seen stopped", 10, || !app.state.db.writer.is_alive()).await;
    let r = app.get("/ready").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.error_code(), "not_ready");
    assert_eq!(r.json()["error"]["details"]["checks"]["writer"], "stopped");
    assert_eq!(sample(&scrape(&app).await, "storefront_writer_alive", &[]), 0.0);
    // writes are refused with 503, not hung
    let r = app.call("POST", "/api/auth/guest", None, None, &[]).await;
    assert_eq!(r.status, 503, "{}", r.text());
}

/// `/metrics` kept from the public: behind a token (`metrics_token`), or on a listener of
/// its own (`metrics_listen`), the main one answering 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_token_or_a_listener_of_their_own() {
    let app = TestApp::builder().config(|c| c.metrics_token = Some("scrape-token-0123456789".into())).start().await;
    let r = app.get("/metrics").await;
    assert_eq!((r.status, r.error_code()), (401, "unauthenticated".into()));
    let r = app.get_with("/metrics", &[("Authorization", "Bearer scrape-token-0123456789-not")]).await;
    assert_eq!(r.status, 401);
    let r = app.get_with("/metrics", &[("Authorization", "Bearer scrape-token-0123456789")]).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("storefront_http_requests_total"));
    app.stop().await;

    let port = crate::common::smtp_server::free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = TestApp::builder().config(move |c| c.metrics_listen = Some(addr)).start().await;
    assert_eq!(app.get("/metrics").await.status, 404, "not on the main listener");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let own = loop {
        let r = crate::common::try_send(addr, "GET", b"/metrics", &[], b"").await;
        if let Some(r) = r.filter(|r| r.status == 200) {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "the metrics listener did not answer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(own.text().contains("storefront_http_requests_total"));
    app.stop().await;
}
