//! The operator's own load: the sale scenario of `benches/sale.js` run with k6 on the same
//! machine against `storefront serve --demo` with its defaults passes its own thresholds
//! (every step answered, no request failed). Its virtual users come from loopback, which is
//! the operator's own address by default: not one client held to per-address rate limits,
//! connection caps and unpaid-order bounds (each shopper's own session still is).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}

#[test]
fn the_sale_scenario_from_the_box_passes_its_thresholds_on_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::smtp_server::free_port();
    // defaults but for a smaller demo catalog (the scenario buys from its first pages)
    let server = common::Reaped(
        Command::new(env!("CARGO_BIN_EXE_storefront"))
            .current_dir(dir.path())
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}"), "--log-level", "error"])
            .env("STOREFRONT_DEMO_PRODUCTS", "1000")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while !ready(port) {
        assert!(started.elapsed() < Duration::from_secs(120), "the demo server did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // a tenth of the time and a twentieth of the shoppers of the full scenario (up to 100 at
    // once, about 12 s), more than the per-address defaults allow one client
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/sale.js");
    let summary = dir.path().join("summary.json");
    let k6 = Command::new(common::venv_tool("k6"))
        .current_dir(dir.path())
        .args(["run", "--quiet", "--no-usage-report"])
        .arg(&script)
        .env("BASE", format!("http://127.0.0.1:{port}"))
        .env("SCALE", "0.1")
        .env("VUS", "0.05")
        .env("SUMMARY", &summary)
        .env("K6_NO_COLOR", "1")
        .output()
        .unwrap();
    let report = std::fs::read_to_string(&summary).unwrap_or_default();
    assert!(
        k6.status.success(),
        "k6 failed its thresholds ({:?}): {report}\n{}",
        k6.status,
        String::from_utf8_lossy(&k6.stderr)
    );
    let s: serde_json::Value = serde_json::from_str(&report).unwrap();
    // the scenario ran its course: many shoppers, each through to the checkout
    assert!(s["requests"].as_f64().unwrap() > 300.0, "{s}");
    assert!(s["checkout"]["p(50)"].is_number(), "{s}");
    assert!(s["checks"].as_f64().unwrap() > 0.99, "{s}");
    drop(server);
}
