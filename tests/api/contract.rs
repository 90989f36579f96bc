//! The published contract, checked by a machine: schemathesis (an off-the-shelf API
//! fuzzer, installed by `./test.sh` into `.venv`) reads the served `/openapi.json`, checks
//! it against the OpenAPI 3.1 specification, and then runs every phase (examples,
//! coverage, fuzzing, stateful) with every check against the real server on a generated
//! catalog, with a customer's and an administrator's token. Any failure, schema error or
//! server error fails the test. Exceptions for deliberate contract choices live in
//! `schemathesis.toml`, each with its reason.

use std::process::Command;
use std::time::Duration;

use crate::common::TestApp;

/// Operations that end the caller's own session (logout; revoking a session, which the
/// stateful phase finds through the session list): they run last, with a token of their
/// own, so the customer's run keeps its session.
const ENDS_SESSION: &str = r"^/api/auth/(logout|sessions/\{id\})$";

/// The shop's run-time settings: a change holds for every later request (a generated
/// `admin_require_2fa: true` refuses this administrator's every request after it, a
/// `cart_max_lines` of 1 every second line), so they run after the other operations, as
/// the last administrator's run.
const SETTINGS: &str = r"^/api/admin/settings$";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing() {
    let app = TestApp::builder()
        .seeded(300, 7)
        .config(|c| {
            c.payment_webhook_secret = Some("whsec-contract-0123456789".into());
            // which hosts are internal is no part of a URL's schema (a generated host such as
            // `000…0` is 0.0.0.0): the refusal of internal targets has tests of its own
            c.webhook_private_targets = true;
            // a second language: catalog answers then vary by it
            c.locales = "en, de".into();
        })
        .start()
        .await;
    let admin = app.register("admin@example.com").await;
    app.write("UPDATE customers SET role = 'admin' WHERE email = 'admin@example.com'").await;
    let customer = app.register("customer@example.com").await;
    let spare = app.register("spare@example.com").await;
    let base = format!("http://{}", app.addr);

    let doc = std::env::temp_dir().join(format!("storefront-openapi-{}.json", std::process::id()));
    std::fs::write(&doc, app.get("/openapi.json").await.body).unwrap();
    let valid = Command::new(crate::common::venv_tool("openapi-spec-validator")).arg(&doc).output().unwrap();
    let _ = std::fs::remove_file(&doc);
    assert!(
        valid.status.success(),
        "the document is valid OpenAPI 3.1: {}{}",
        String::from_utf8_lossy(&valid.stdout),
        String::from_utf8_lossy(&valid.stderr)
    );

    let secs: u64 = std::env::var("STOREFRONT_CONTRACT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    // (who, operations, share of the time)
    // the customer's run first: what an administrator changes (prices, stock, rates,
    // settings) holds for the shop from then on
    let runs = [
        ("customer", customer, vec!["--exclude-tag", "admin", "--exclude-path-regex", ENDS_SESSION], 3),
        ("administrator", admin.clone(), vec!["--include-tag", "admin", "--exclude-path-regex", SETTINGS], 2),
        ("administrator, the settings", admin, vec!["--include-path-regex", SETTINGS], 0),
        ("a session of its own", spare, vec!["--include-path-regex", ENDS_SESSION], 0),
    ];
    let mut failed = Vec::new();
    for (who, token, filter, share) in runs {
        let budget = (secs * share / 5).max(10).to_string();
        let url = format!("{base}/openapi.json");
        let run = tokio::task::spawn_blocking(move || {
            Command::new(crate::common::venv_tool("schemathesis"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("NO_COLOR", "1")
                // serializers for the import bodies (CSV, JSON lines)
                .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
                .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests"))
                .args(["--no-color", "run", &url])
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(filter)
                .args(["--phases", "examples,coverage,fuzzing,stateful"])
                .args(["--max-time", &budget, "--workers", "1", "--request-timeout", "10"])
                .args(["--suppress-health-check", "too_slow,filter_too_much"])
                .output()
                .expect("schemathesis runs")
        });
        let out = tokio::time::timeout(Duration::from_secs(600), run).await.expect("bounded").unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("--- schemathesis as {who} ---\n{text}");
        if !out.status.success() {
            // what schemathesis found, again at the end, where a shortened log keeps it
            let found = text.find("FAILURES").map_or(text.len().saturating_sub(8000), |at| at);
            failed.push(format!("--- as {who} ---\n{}", &text[text.floor_char_boundary(found)..]));
        }
    }
    assert!(failed.is_empty(), "schemathesis found problems:\n{}", failed.join("\n"));
    app.stop().await;
}
