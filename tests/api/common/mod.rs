//! The test harness: a real SQLite file built from `schema.sql` plus a fixture, the real
//! server on 127.0.0.1:0 with its own shutdown signal, and a small raw HTTP/1.1 client
//! (raw so tests can send bytes a polite client would refuse to: invalid UTF-8, 10 KB
//! query strings).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use storefront::app::AppState;
use storefront::config::Config;
use storefront::db;
use storefront::seed::{self, SeedOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod browser;
pub mod receiver;
pub mod redis_server;
pub mod smtp_server;

pub enum Data {
    Empty,
    /// a SQL file under fixtures/
    Fixture(&'static str),
    /// the generator: products and seed
    Seeded(u64, u64),
}

pub struct TestAppBuilder {
    data: Data,
    config: Config,
    /// another node's database file (a second node on the same data)
    shared_db: Option<PathBuf>,
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub db_path: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            data: Data::Empty,
            // limits off unless a test is about them: most tests act as many clients from one
            // address, and some hold many unpaid orders. The tests' loopback client stands
            // for a remote one: not a trusted proxy, not the operator's own
            config: Config {
                log_level: "warn".into(),
                trusted_proxies: Vec::new(),
                limit_exempt: Vec::new(),
                rate_limits_enabled: false,
                unpaid_orders_per_owner: 1_000_000,
                reserved_units_per_owner: 1_000_000,
                unpaid_orders_per_address: 1_000_000,
                reserved_units_per_address: 1_000_000,
                ..Config::default()
            },
            shared_db: None,
        }
    }
}

/// Builds a database file with `data` in `dir`.
pub fn make_db(dir: &std::path::Path, data: &Data) -> PathBuf {
    let path = dir.join("test.db");
    let mut conn = db::open_write(&path, db::Synchronous::Normal).expect("open test db");
    db::migrate::migrate(&mut conn).expect("migrate test db");
    match data {
        Data::Empty => {}
        Data::Fixture(name) => {
            let sql = std::fs::read_to_string(fixture_path(name)).expect("read fixture");
            conn.execute_batch(&sql).expect("load fixture");
            conn.execute_batch(seed::STORE_SETTINGS).expect("load shipping, tax and promotions");
        }
        Data::Seeded(n, s) => {
            let mut opts = SeedOptions::today(*n, *s);
            opts.progress = false;
            seed::seed(&mut conn, opts).expect("seed");
        }
    }
    db::optimize(&conn).expect("analyze");
    path
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

impl TestAppBuilder {
    pub fn fixture(mut self, name: &'static str) -> Self {
        self.data = Data::Fixture(name);
        self
    }
    pub fn seeded(mut self, products: u64, seed: u64) -> Self {
        self.data = Data::Seeded(products, seed);
        self
    }
    /// A second node on `other`'s database file (the first must outlive it).
    pub fn same_data_as(mut self, other: &TestApp) -> Self {
        self.shared_db = Some(other.db_path.clone());
        self
    }
    /// A node on the database file at `path` (which the caller keeps).
    pub fn same_data_as_path(mut self, path: &std::path::Path) -> Self {
        self.shared_db = Some(path.to_owned());
        self
    }
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    pub async fn start(self) -> TestApp {
        let (dir, path) = match self.shared_db {
            Some(path) => (None, path),
            None => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = make_db(dir.path(), &self.data);
                (Some(dir), path)
            }
        };
        let mut config = self.config;
        config.db = path.clone();
        let index_on = config.search_index;
        let state = tokio::task::spawn_blocking(move || AppState::open(config)).await.unwrap().expect("open app");
        if index_on {
            // searches are answered the same either way, but a test should know which path
            // it exercises: wait for the in-memory index (tests/search.rs compares the two)
            let ready = async {
                while !state.search.is_ready() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(30), ready).await.expect("search index built");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let server = tokio::spawn(async move {
            storefront::web::run(st, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server ran");
        });
        TestApp { addr, state, db_path: path, shutdown: Some(tx), server: Some(server), _dir: dir }
    }
}

impl TestApp {
    /// Stops the server (draining) and the writer.
    /// Drains the server and lets the writer commit what it holds, as a shutdown does.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), h).await;
        }
        let st = self.state.clone();
        tokio::task::spawn_blocking(move || st.close()).await.unwrap();
    }

    /// [`TestApp::stop`], keeping the database's directory for the caller to look into.
    pub async fn stop_keeping_files(mut self) -> Option<tempfile::TempDir> {
        let dir = self._dir.take();
        self.stop().await;
        dir
    }

    pub async fn get(&self, target: &str) -> Resp {
        self.request("GET", target.as_bytes(), &[]).await
    }

    pub async fn get_with(&self, target: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("GET", target.as_bytes(), headers).await
    }

    /// Data of a 200 JSON response (panics with the body otherwise).
    pub async fn json(&self, target: &str) -> Value {
        let r = self.get(target).await;
        assert_eq!(r.status, 200, "GET {target}: {}", r.text());
        r.json()
    }

    pub async fn request(&self, method: &str, target: &[u8], headers: &[(&str, &str)]) -> Resp {
        send(self.addr, method, target, headers, b"").await
    }

    /// A read-only connection to the app's database, for checking results independently.
    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(&self.db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
    }
}

pub async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    target: &[u8],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_send(addr, method, target, headers, body).await.expect("a complete response")
}

/// [`send`], with `None` where the connection fails or closes without a complete
/// response (a server that was killed).
pub async fn try_send(
    addr: std::net::SocketAddr,
    method: &str,
    target: &[u8],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Resp> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !body.is_empty() {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    stream.write_all(&req).await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await.ok()?.ok()?;
    Resp::try_parse(&raw)
}

/// One request on an open keep-alive connection, reading exactly its response (by its
/// `content-length`), leaving the connection open.
pub async fn request_on(stream: &mut TcpStream, method: &str, target: &str) -> Resp {
    let req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed before the response ended");
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if raw.len() >= end + 4 + len {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("a response in time");
    Resp::try_parse(&raw).expect("a complete response")
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    fn try_parse(raw: &[u8]) -> Option<Resp> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).expect("ascii head");
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect::<Vec<_>>();
        let mut body = raw[end + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok());
        if length.is_some_and(|n| body.len() < n) {
            return None; // cut off
        }
        Some(Resp { status, headers, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts the error envelope and returns its code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let e = &v["error"];
        assert!(e["message"].is_string() && e["details"].is_object(), "envelope: {v}");
        assert_eq!(e["request_id"].as_str(), self.header("x-request-id"), "request id in body and header");
        e["code"].as_str().expect("code").to_owned()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("valid gzip");
    out
}

/// The first column of every row of `sql`.
pub fn column<T: rusqlite::types::FromSql>(conn: &rusqlite::Connection, sql: &str) -> Vec<T> {
    conn.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// Every row of `tables` (as text, table by table) and the row count of `counted`: what a
/// refused request must leave as it was. Tables that background work moves (mail, webhook
/// deliveries, jobs) belong in `counted`, whose counts a unit adds to but never takes from.
pub fn rows_of(conn: &rusqlite::Connection, tables: &[&str], counted: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let row: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
            out.push(format!("{table}: {}", row.join(", ")));
        }
    }
    for table in counted {
        out.push(format!("{table}: {}", column::<i64>(conn, &format!("SELECT count(*) FROM {table}"))[0]));
    }
    out
}

/// A shop on the small catalog that takes payments signed with `secret`, sends webhooks to
/// local receivers and retries jobs fast, with `f`'s changes; and an administrator's token.
pub async fn after_sale_shop(secret: &str, f: impl FnOnce(&mut storefront::config::Config)) -> (TestApp, String) {
    let secret = secret.to_owned();
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(move |c| {
            c.payment_webhook_secret = Some(secret);
            c.webhook_private_targets = true;
            c.job_retry_base_ms = 30;
            f(c);
        })
        .start()
        .await;
    let admin = app.admin("owner@example.com").await;
    (app, admin)
}

/// Units available of each variant, by variant id.
pub fn available(app: &TestApp) -> Vec<i64> {
    column::<i64>(&app.conn(), "SELECT available FROM inventory ORDER BY variant_id")
}

/// Subscribes `url` to `events` as administrator `admin` (the subscription must be made).
pub async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) {
    let body = serde_json::json!({"url": url, "events": events});
    let r = app.call("POST", "/api/admin/webhooks", Some(admin), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// A digest of every row of every table: equal digests, equal data (the runs of recurring
/// tasks left out).
pub fn digest(conn: &rusqlite::Connection) -> u64 {
    use std::hash::{Hash, Hasher};
    let tables: Vec<String> =
        column(conn, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in tables {
        if t == "products_fts" {
            continue; // a virtual table; its shadow tables are hashed
        }
        // the runs of recurring tasks come and go on their own schedule
        let filter = match t.as_str() {
            "jobs" => " WHERE coalesce(unique_key, '') NOT LIKE 'recurring:%'",
            // …and the change log's rows of commits that changed only jobs
            "change_log" => " WHERE EXISTS (SELECT 1 FROM json_each(changes) WHERE key NOT LIKE 'jobs%')",
            _ => "",
        };
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"{filter}")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        t.hash(&mut h);
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                format!("{:?}", r.get_ref(i).unwrap()).hash(&mut h);
            }
        }
    }
    h.finish()
}

impl TestApp {
    /// A JSON request with an optional bearer token and extra headers.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Resp {
        call_at(self.addr, method, path, token, body, extra).await
    }

    /// A new guest session's token.
    pub async fn guest(&self) -> String {
        let r = self.call("POST", "/api/auth/guest", None, None, &[]).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["data"]["token"].as_str().unwrap().to_owned()
    }

    /// The bodies of the password-reset mail waiting to be sent, opened with the node's
    /// secrets key (they are sealed in the database).
    pub fn reset_mails(&self) -> Vec<String> {
        column::<String>(&self.conn(), "SELECT body FROM mail_outbox WHERE kind = 'password_reset' ORDER BY id")
            .iter()
            .map(|b| self.state.secrets.open_text(b).expect("a sealed body opens"))
            .collect()
    }

    /// Registers a customer; returns the session token.
    pub async fn register(&self, email: &str) -> String {
        let body = serde_json::json!({"email": email, "password": "correct horse 1", "name": "Test Customer"});
        let r = self.call("POST", "/api/auth/register", None, Some(&body), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["data"]["token"].as_str().unwrap().to_owned()
    }

    /// Registers an administrator; returns the session token.
    pub async fn admin(&self, email: &'static str) -> String {
        let token = self.register(email).await;
        self.state
            .db
            .writer
            .run(move |tx| {
                tx.execute("UPDATE customers SET role = 'admin' WHERE email = ?1", [email])
                    .map_err(storefront::error::StoreError::from)
            })
            .await
            .unwrap();
        token
    }

    /// The payment provider's call `body`, signed with `secret` (asserting 200).
    pub async fn payment_webhook(&self, secret: &str, body: &str) {
        let r = self.signed_payment(secret, body).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    /// A signed payment event, whatever it answers.
    pub async fn signed_payment(&self, secret: &str, body: &str) -> Resp {
        let sig = sign(secret, body);
        let headers = [("Content-Type", "application/json"), ("X-Signature", sig.as_str())];
        send(self.addr, "POST", b"/api/webhooks/payments", &headers, body.as_bytes()).await
    }

    /// Adds `quantity` of a product to the token's cart (asserting success).
    pub async fn add_to_cart(&self, token: &str, product: i64, quantity: i64) -> Value {
        let body = serde_json::json!({"product_id": product.to_string(), "quantity": quantity});
        let r = self.call("POST", "/api/cart", Some(token), Some(&body), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }

    /// Runs SQL through the app's writer (as an admin change would).
    pub async fn write(&self, sql: &'static str) {
        self.state
            .db
            .writer
            .run(move |tx| tx.execute_batch(sql).map_err(storefront::error::StoreError::from))
            .await
            .unwrap();
    }
}

/// [`TestApp::call`] to any server (one in a process of its own, a load balancer).
pub async fn call_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    send(addr, method, path.as_bytes(), &headers, &bytes).await
}

/// The commit position a write's answer carries (`X-Storefront-Commit`).
pub fn commit_position(r: &Resp) -> String {
    r.header("x-storefront-commit").expect("a write's answer carries its commit position").to_owned()
}

/// A program `./test.sh` installs into the local virtual environment (schemathesis,
/// Litestream, hadolint, ...).
pub fn venv_tool(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin").join(name);
    assert!(path.exists(), "{} is missing: run ./test.sh, which installs it", path.display());
    path
}

/// Sends `sig` (TERM, STOP, CONT, ...) to process `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok =
        std::process::Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

/// A shipping address the fixture's rates cover (US, California).
pub fn address() -> Value {
    serde_json::json!({"name": "Ada Lovelace", "line1": "1 Main St", "city": "San Francisco", "state": "CA",
                       "postal_code": "94100", "country": "US"})
}

pub fn checkout_body() -> Value {
    serde_json::json!({"shipping_address": address(), "payment_method": "card"})
}

/// `X-Signature` of a payment webhook body: `sha256=<hex HMAC-SHA256>`.
pub fn sign(secret: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Holds a thread (a reader, the writer) inside a unit of work until the test opens it:
/// the test knows the thread is held — no sleep to guess it — and decides when it ends.
pub struct Gate {
    entered: Option<tokio::sync::oneshot::Receiver<()>>,
    release: std::sync::mpsc::Sender<()>,
}

/// The inside of a [`Gate`]: moved into the unit of work, which calls [`Held::wait`].
pub struct Held {
    entered: tokio::sync::oneshot::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
}

pub fn gate() -> (Gate, Held) {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    (Gate { entered: Some(entered_rx), release: release_tx }, Held { entered: entered_tx, release: release_rx })
}

impl Held {
    /// Says it is inside, then blocks until the gate opens (or 30 s pass: a test that
    /// forgot to open it fails instead of hanging).
    pub fn wait(self) {
        let _ = self.entered.send(());
        let _ = self.release.recv_timeout(Duration::from_secs(30));
    }
}

impl Gate {
    /// Returns once the unit holding [`Held`] is inside.
    pub async fn entered(&mut self) {
        let entered = self.entered.take().expect("entered() is awaited once");
        tokio::time::timeout(Duration::from_secs(30), entered)
            .await
            .expect("the unit entered the gate in time")
            .expect("the unit is alive");
    }

    pub fn open(self) {
        let _ = self.release.send(());
    }
}

/// A child process that is killed and reaped however the test ends.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `cond` to hold, checking every few milliseconds, failing after `secs`.
pub async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// [`wait_for`] with a condition that has to ask a server (it is awaited each time).
pub async fn until<F: std::future::Future<Output = bool>>(what: &str, secs: u64, mut cond: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until no job but the recurring tasks' is waiting or running (a mail that arrived
/// may still be recorded as sent): a [`digest`] taken then moves only with what comes next.
pub async fn settled(app: &TestApp) {
    wait_for("the job queue to settle", 30, || {
        column::<i64>(
            &app.conn(),
            "SELECT count(*) FROM jobs WHERE state IN ('scheduled', 'available', 'running', 'retryable')
               AND coalesce(unique_key, '') NOT LIKE 'recurring:%'",
        )[0] == 0
    })
    .await;
}

/// A test that ends without [`TestApp::stop`] (a failed assertion, an early return) still
/// stops its server and its writer, so nothing outlives it but the temporary directory,
/// which goes too.
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // no Litestream outlives its test
        self.state.replication.stop();
        if let Some(h) = self.server.take() {
            h.abort();
        }
        // a stopped writer returns at once; a running one commits what it holds and ends
        self.state.close();
    }
}
