//! The typed TypeScript client (`clients/typescript`): its types are those of the OpenAPI
//! document the server serves (regenerated with the pinned openapi-typescript and compared
//! with the committed ones), it type-checks with the pinned TypeScript, and its own tests
//! (Node's test runner) pass against the real server: a guest's checkout, one order for one
//! idempotency key, the error envelope, keyset pages, read-your-writes, an API key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::TestApp;

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/typescript")
}

fn tool(name: &str) -> PathBuf {
    let path = client_dir().join("node_modules/.bin").join(name);
    assert!(path.exists(), "{} is missing: run ./test.sh, which installs the client's pinned packages", path.display());
    path
}

/// Runs `cmd` to its end off the async runtime, its output kept.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("the command starts")).await.unwrap()
}

fn said(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_client_is_current_type_checks_and_works_against_the_server() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let admin = app.admin("owner@example.com").await;
    let dir = tempfile::tempdir().unwrap();

    // the committed types are the served document's
    let doc = app.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc_path = dir.path().join("openapi.json");
    std::fs::write(&doc_path, &doc.body).unwrap();
    let fresh = dir.path().join("schema.ts");
    let mut generate = Command::new(tool("openapi-typescript"));
    generate.arg(&doc_path).arg("-o").arg(&fresh).current_dir(client_dir());
    let out = run(generate).await;
    assert!(out.status.success(), "openapi-typescript: {}", said(&out));
    let committed = client_dir().join("src/schema.ts");
    assert!(
        std::fs::read_to_string(&fresh).unwrap() == std::fs::read_to_string(&committed).unwrap(),
        "clients/typescript/src/schema.ts differs from the served OpenAPI document: regenerate it \
         (`npm run generate` in clients/typescript, with the server running; see its README)"
    );

    // it type-checks, and its tests pass against this server
    let mut build = Command::new(tool("tsc"));
    build.args(["-p", "."]).current_dir(client_dir());
    let out = run(build).await;
    assert!(out.status.success(), "tsc: {}", said(&out));
    let mut test = Command::new("node");
    test.args(["--test", "dist/test/"])
        .current_dir(client_dir())
        .env("STOREFRONT_URL", format!("http://{}", app.addr))
        .env("STOREFRONT_ADMIN_TOKEN", &admin)
        .env("NO_COLOR", "1");
    let out = run(test).await;
    let text = said(&out);
    assert!(out.status.success(), "the client's tests: {text}");
    assert!(text.contains("# pass 5") && text.contains("# fail 0"), "every test of the client ran: {text}");
    assert_client_files_are_tracked(&client_dir());
    app.stop().await;
}

/// What the client's README and package promise is in the repository (not only built here).
fn assert_client_files_are_tracked(dir: &Path) {
    for f in [
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "README.md",
        "src/index.ts",
        "src/checkout.ts",
        "test/client.test.ts",
    ] {
        assert!(dir.join(f).exists(), "clients/typescript/{f}");
    }
}
