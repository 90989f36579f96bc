//! The monitoring kit in deploy/: the alert rules pass `promtool check rules` and their
//! unit tests, the scrape configuration passes `promtool check config`, every metric the
//! rules and the Grafana dashboard use is one a server exports, and a real Prometheus
//! scraping a real server reads back exactly what clients did.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{send, TestApp};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(found.status.success(), "{name} is not installed (./test.sh installs Debian's prometheus package)");
    Command::new(name)
}

fn promtool(args: &[&str]) -> String {
    let out = tool("promtool").args(args).current_dir(deploy("prometheus")).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_and_scrape_config_pass_promtool() {
    let rules = promtool(&["check", "rules", "alerts.yml"]);
    assert!(rules.contains("SUCCESS: 14 rules found"), "{rules}");
    promtool(&["check", "config", "prometheus.yml"]);
    // each alert fires on the series of its test and stays silent on the others
    let tested = promtool(&["test", "rules", "alerts_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // and every alert of the file has a test
    let rules_text = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    let tests_text = std::fs::read_to_string(deploy("prometheus/alerts_test.yml")).unwrap();
    for line in rules_text.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")) {
        assert!(tests_text.contains(&format!("alertname: {line}")), "{line} has no test in alerts_test.yml");
    }
}

/// Every `storefront_*` name in `text`, with the histogram suffixes taken off.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("storefront_") {
        let name: String =
            rest[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        rest = &rest[i + name.len()..];
        let base = ["_bucket", "_count", "_sum"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
        out.insert(base.to_owned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_and_the_dashboard_use_only_exported_metrics() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    assert_eq!(app.get("/api/products").await.status, 200);
    // a job runs, so its duration has a series
    let id = app
        .state
        .db
        .writer
        .run(|tx| {
            storefront::jobs::store::enqueue(
                tx,
                &storefront::jobs::NewJob::new(storefront::jobs::Kind::Noop, serde_json::json!({})),
            )
            .map_err(storefront::error::StoreError::from)
        })
        .await
        .unwrap()
        .unwrap();
    let conn = app.conn();
    let state = || conn.query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get::<_, String>(0)).unwrap();
    crate::common::wait_for("the job to complete", 30, || state() == "completed").await;
    let scraped = app.get("/metrics").await.text();
    let exported: BTreeSet<String> = scraped
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    let alerts = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(deploy("grafana/storefront.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert_eq!(dash["uid"], "storefront");
    let used: BTreeSet<String> = metric_names(&alerts).into_iter().chain(metric_names(&dashboard)).collect();
    // a replica's lag exists on replicas only, Litestream's figures where it runs
    let elsewhere =
        ["storefront_replica_lag_seconds", "storefront_litestream_up", "storefront_litestream_restarts_total"];
    let missing: Vec<&String> =
        used.iter().filter(|n| !exported.contains(*n) && !elsewhere.contains(&n.as_str())).collect();
    assert!(missing.is_empty(), "used in deploy/ but not exported: {missing:?}");
    // the contract's names are all there (but the replica's lag, on replicas)
    for name in [
        "storefront_http_requests_total",
        "storefront_http_request_duration_seconds",
        "storefront_http_requests_in_flight",
        "storefront_cache_requests_total",
        "storefront_cache_evictions_total",
        "storefront_db_read_queue_depth",
        "storefront_db_read_wait_seconds",
        "storefront_writer_queue_depth",
        "storefront_writer_batch_size",
        "storefront_writer_commit_seconds",
        "storefront_jobs",
        "storefront_job_lag_seconds",
        "storefront_jobs_failed_total",
        "storefront_webhook_deliveries_total",
        "storefront_slow_queries_total",
        "storefront_rate_limited_total",
        "storefront_build_info",
    ] {
        assert!(exported.contains(name), "{name} is not exported");
    }
    // the text is what Prometheus's own linter accepts
    let mut check = tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check.stdin.take().unwrap().write_all(scraped.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let lint = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // promtool names style nits (e.g. a gauge ending in _total) but must find no error
    assert!(!lint.contains("error"), "{lint}");
    app.stop().await;
}

/// A Prometheus server, stopped when dropped.
struct Prometheus {
    child: Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus with deploy/'s configuration, pointed at `target` and scraping
    /// every second.
    fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = std::fs::read_to_string(deploy("prometheus/prometheus.yml")).unwrap();
        assert!(config.contains("127.0.0.1:8080"), "the sample target is where this test expects it");
        let config = config
            .replace("127.0.0.1:8080", &target.to_string())
            .replace("scrape_interval: 15s", "scrape_interval: 1s")
            .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
            .replace("scrape_timeout: 10s", "scrape_timeout: 1s");
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        std::fs::copy(deploy("prometheus/alerts.yml"), dir.path().join("alerts.yml")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = tool("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus { child, addr, _dir: dir }
    }

    /// The answer of the HTTP API at `path` (`None` while it does not answer).
    async fn api(&self, path: &str) -> Option<serde_json::Value> {
        let r = crate::common::try_send(self.addr, "GET", path.as_bytes(), &[], b"").await?;
        (r.status == 200).then(|| r.json())
    }

    /// The value of the one series `query` selects, if there is exactly one.
    async fn value(&self, query: &str) -> Option<f64> {
        let q = percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC);
        let v = self.api(&format!("/api/v1/query?query={q}")).await?;
        let result = v["data"]["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_reads_what_clients_did() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.cache_warm_products = 0).start().await;
    for _ in 0..3 {
        let r = send(app.addr, "GET", b"/api/products/aurora-wireless-headphones", &[], b"").await;
        assert_eq!(r.status, 200);
    }
    let prom = Prometheus::start(app.addr);
    let detail = r#"storefront_http_requests_total{job="storefront",route="/api/products/{slug}",status="200"}"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if prom.value(detail).await == Some(3.0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "Prometheus did not read the 3 requests back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(prom.value(r#"up{job="storefront"}"#).await, Some(1.0));
    // a histogram works through PromQL
    let p = prom
        .value(r#"histogram_quantile(0.5, sum by (le) (storefront_http_request_duration_seconds_bucket{route="/api/products/{slug}"}))"#)
        .await
        .expect("a median of the route's latency");
    assert!(p > 0.0 && p < 10.0, "{p}");
    // the alert rules are loaded and evaluate without errors
    let mut rules = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = prom.api("/api/v1/rules").await {
            let all: Vec<serde_json::Value> = v["data"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["rules"].as_array().unwrap().clone())
                .collect();
            if all.len() == 14 && all.iter().all(|r| r["health"] == "ok") {
                rules = Some(all);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rules = rules.expect("14 healthy rules");
    // this node is up and its writer alive: those alerts are quiet
    for name in ["StorefrontDown", "StorefrontWriterDown", "StorefrontHighErrorRate"] {
        let rule = rules.iter().find(|r| r["name"] == name).unwrap();
        assert_eq!(rule["state"], "inactive", "{rule:#}");
    }
    drop(prom);
    app.stop().await;
}
