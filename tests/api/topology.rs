//! The scale-out topology on loopback, every part real and a process of its own: a primary
//! replicating with Litestream (100 ms intervals), two replicas following their own copies,
//! Redis shared by the three, and nginx in front with deploy/nginx/storefront.conf (only
//! the addresses changed). A shopper's flow passes through the balancer; writes land on
//! the primary; reads after a write see it; a price change reaches every node; a replica
//! killed under load, and a rolling restart of both, fail no request; the lag from a
//! commit on the primary to its arrival on a replica is measured.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common;
use crate::common::redis_server::RedisServer;
use crate::common::smtp_server::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_storefront");

/// A server process, killed when dropped.
struct Proc {
    child: Option<Child>,
    port: u16,
    /// the child leads a process group of its own (nginx: its workers outlive a killed
    /// master), killed whole
    group: bool,
}

impl Proc {
    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// SIGKILL: gone at once (with its process group, when it leads one).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.group {
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", c.id())]).status();
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the drain to end (30 s at most).
    fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            common::signal(c.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is missing: run ./test.sh, which installs it")
}

struct Topology {
    dir: tempfile::TempDir,
    config: PathBuf,
    storage: PathBuf,
    redis: RedisServer,
    primary: Proc,
    replicas: Vec<Proc>,
    lb: Proc,
}

impl Topology {
    fn start() -> Topology {
        let dir = tempfile::tempdir().unwrap();
        let redis = RedisServer::start();
        let config = dir.path().join("storefront.toml");
        // every node trusts loopback (nginx, the replicas) for the client address, by default;
        // the load here comes from one address: no rate limits, no caps on unpaid orders
        std::fs::write(
            &config,
            format!(
                "litestream = {:?}\nreplication_interval_ms = 100\nauth_failures_per_address = 5\n\
                 rate_limits_enabled = false\nmax_connections_per_address = 100000\n\
                 unpaid_orders_per_owner = 1000000\nreserved_units_per_owner = 1000000\n\
                 unpaid_orders_per_address = 1000000\nreserved_units_per_address = 1000000\n\
                 cache_warm_products = 10\nshutdown_grace_secs = 10\nredis_url = {:?}\n",
                common::venv_tool("litestream").display().to_string(),
                redis.url()
            ),
        )
        .unwrap();
        let db = dir.path().join("primary.db");
        let seeded =
            Command::new(BIN).args(["seed", "--products", "300", "--quiet", "--db"]).arg(&db).output().unwrap();
        assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
        let mut admin = Command::new(BIN)
            .args(["admin", "create", "--email", "ops@example.com", "--password-stdin", "--db"])
            .arg(&db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(admin.stdin.as_mut().unwrap(), b"correct horse 1\n").unwrap();
        assert!(admin.wait().unwrap().success());
        let storage = dir.path().join("storage");
        let primary = serve(
            dir.path(),
            "primary",
            &config,
            &db,
            free_port(),
            &["--replicate-to".into(), format!("file://{}", storage.display())],
        );
        wait_ready(primary.addr(), "the primary");
        let level0 = storage.join("ltx/0");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_dir(&level0).is_ok_and(|mut d| d.next().is_some()) {
            assert!(Instant::now() < deadline, "litestream's first sync never came");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut t = Topology {
            dir,
            config,
            storage,
            redis,
            primary,
            replicas: Vec::new(),
            lb: Proc { child: None, port: 0, group: false },
        };
        for i in 0..2 {
            let r = t.replica(i, free_port());
            t.replicas.push(r);
        }
        t.lb = t.nginx();
        t
    }

    /// Starts replica `i` on `port` (its copy restored anew) and waits until it is ready.
    fn replica(&self, i: usize, port: u16) -> Proc {
        let p = serve(
            self.dir.path(),
            &format!("replica{i}"),
            &self.config,
            &self.dir.path().join(format!("replica{i}.db")),
            port,
            &[
                "--replica-of".into(),
                format!("http://{}", self.primary.addr()),
                "--replicate-from".into(),
                format!("file://{}", self.storage.display()),
            ],
        );
        wait_ready(p.addr(), "a replica");
        p
    }

    /// nginx with the deploy configuration, pointed at these nodes.
    fn nginx(&self) -> Proc {
        let port = free_port();
        let conf =
            std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/storefront.conf"))
                .unwrap()
                .replace("10.0.0.11:8080", &self.replicas[0].addr().to_string())
                .replace("10.0.0.12:8080", &self.replicas[1].addr().to_string())
                .replace("10.0.0.10:8080", &self.primary.addr().to_string())
                .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        assert!(
            conf.lines().filter(|l| !l.trim_start().starts_with('#')).all(|l| !l.contains("10.0.0.")),
            "every address replaced"
        );
        let prefix = self.dir.path().join("nginx");
        std::fs::create_dir_all(&prefix).unwrap();
        std::fs::write(prefix.join("storefront.conf"), conf).unwrap();
        std::fs::write(
            prefix.join("nginx.conf"),
            "pid nginx.pid;\nerror_log error.log warn;\ndaemon off;\nworker_processes 2;\nevents { worker_connections 4096; }\n\
             http { access_log off; include storefront.conf; }\n",
        )
        .unwrap();
        let child = Command::new(nginx())
            // its own process group: the workers go with the master however the test ends
            .process_group(0)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .args(["-e", "stderr"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Proc { child: Some(child), port, group: true };
        wait_ready(p.addr(), "nginx");
        p
    }
}

/// `storefront serve` on `port` (its log in `<name>.log`, appended to across restarts).
fn serve(dir: &Path, name: &str, config: &Path, db: &Path, port: u16, extra: &[String]) -> Proc {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--log-level", "warn", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Proc { child: Some(child), port, group: false }
}

fn wait_ready(addr: std::net::SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    loop {
        let ready = rt.block_on(common::try_send(addr, "GET", b"/ready", &[], b"")).is_some_and(|r| r.status == 200);
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "{what} on {addr} never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads through the balancer until stopped, counting answers that are not 200.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(lb: std::net::SocketAddr, slugs: Vec<String>, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let slugs = Arc::new(slugs);
        let tasks = (0..clients)
            .map(|c| {
                let (stop, ok, failed, slugs) = (stop.clone(), ok.clone(), failed.clone(), slugs.clone());
                tokio::spawn(async move {
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        i += 7;
                        let target = match i % 3 {
                            0 => format!("/api/products/{}", slugs[i % slugs.len()]),
                            1 => format!("/api/products?page={}&per_page=20", 1 + i % 5),
                            _ => "/api/search?q=shirt".to_owned(),
                        };
                        match common::try_send(lb, "GET", target.as_bytes(), &[], b"").await {
                            Some(r) if r.status == 200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            other => failed.lock().unwrap().push(format!(
                                "{target}: {}",
                                other.map_or("no answer".into(), |r| format!("{} {}", r.status, r.text()))
                            )),
                        }
                    }
                })
            })
            .collect();
        Load { stop, ok, failed, tasks }
    }

    /// Waits until `n` more requests were answered.
    async fn answered(&self, n: u64) {
        let target = self.ok.load(Ordering::Relaxed) + n;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.ok.load(Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "the load stalled: {:?}", self.failed.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let failed = self.failed.lock().unwrap().clone();
        (self.ok.load(Ordering::Relaxed), failed)
    }
}

/// Returns once the node at `node` serves commit position `at` (its `/health` says so).
async fn reached(node: std::net::SocketAddr, at: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = common::call_at(node, "GET", "/health", None, None, &[]).await;
        if h.header("x-storefront-commit").and_then(|p| p.parse::<u64>().ok()).is_some_and(|p| p >= at) {
            return;
        }
        assert!(Instant::now() < deadline, "position {at} never reached {node}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_two_replicas_redis_and_nginx_serve_as_one_shop() {
    let mut t = tokio::task::spawn_blocking(Topology::start).await.unwrap();
    let lb = t.lb.addr();

    // a shopper's flow through the balancer (the seed's sale flow)
    let r = common::call_at(lb, "POST", "/api/auth/guest", None, None, &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let guest = r.json()["data"]["token"].as_str().unwrap().to_owned();
    let list = common::call_at(lb, "GET", "/api/products?in_stock=true&per_page=20", None, None, &[]).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let items = list.json()["data"].as_array().unwrap().clone();
    let slugs: Vec<String> = items.iter().map(|p| p["slug"].as_str().unwrap().to_owned()).collect();
    let product = &items[0];
    let slug = product["slug"].as_str().unwrap();
    assert_eq!(common::call_at(lb, "GET", &format!("/api/products/{slug}"), None, None, &[]).await.status, 200);
    let add = json!({"product_id": product["id"], "quantity": 1});
    let added = common::call_at(lb, "POST", "/api/cart", Some(&guest), Some(&add), &[]).await;
    assert_eq!(added.status, 201, "{}", added.text());
    let cart = common::call_at(
        lb,
        "GET",
        "/api/cart",
        Some(&guest),
        None,
        &[("X-Storefront-Commit", &common::commit_position(&added))],
    )
    .await;
    assert_eq!(cart.status, 200, "{}", cart.text());
    assert_eq!(cart.json()["data"]["items"].as_array().map(Vec::len), Some(1), "{}", cart.text());
    let address = json!({"name": "Sale Shopper", "line1": "1 Main St", "city": "Austin", "state": "TX",
                         "postal_code": "73301", "country": "US"});
    let body = json!({"shipping_address": address, "payment_method": "card"});
    let key = [("Idempotency-Key", "topology-order-1")];
    let order = common::call_at(lb, "POST", "/api/checkout", Some(&guest), Some(&body), &key).await;
    assert_eq!(order.status, 201, "{}", order.text());
    let id = order.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let again = common::call_at(lb, "POST", "/api/checkout", Some(&guest), Some(&body), &key).await;
    assert_eq!(again.json()["data"]["order_id"].as_str(), Some(id.as_str()), "{}", again.text());
    // read after write, through the balancer (a replica, or the primary after the wait)
    let mine = common::call_at(
        lb,
        "GET",
        &format!("/api/orders/{id}"),
        Some(&guest),
        None,
        &[("X-Storefront-Commit", &common::commit_position(&order))],
    )
    .await;
    assert_eq!(mine.status, 200, "{}", mine.text());
    // the write is the primary's: in its file, once
    let primary_db = rusqlite::Connection::open_with_flags(
        t.dir.path().join("primary.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let n: i64 = primary_db
        .query_row("SELECT count(*) FROM orders WHERE id = ?1", [id.parse::<i64>().unwrap()], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);

    // behind the balancer each client is itself (nginx runs on loopback, which every node
    // trusts by default): one client guessing passwords locks out its own address, and
    // another client's login through the same nginx still works
    let (a, b) = ([("X-Forwarded-For", "198.51.100.1")], [("X-Forwarded-For", "198.51.100.2")]);
    for i in 0..5 {
        let guess = json!({"email": format!("guess{i}@example.com"), "password": "not the password"});
        let r = common::call_at(lb, "POST", "/api/auth/login", None, Some(&guess), &a).await;
        assert_ne!(r.status, 429, "attempt {i} is within the address's allowance: {}", r.text());
        assert!(r.status >= 400, "{}", r.text());
    }
    let guess = json!({"email": "guess5@example.com", "password": "not the password"});
    let locked = common::call_at(lb, "POST", "/api/auth/login", None, Some(&guess), &a).await;
    assert_eq!(locked.status, 429, "the guessing client is locked out: {}", locked.text());
    let login = json!({"email": "ops@example.com", "password": "correct horse 1"});
    let other = common::call_at(lb, "POST", "/api/auth/login", None, Some(&login), &b).await;
    assert_eq!(other.status, 200, "another client behind the same balancer logs in: {}", other.text());

    // a price change by the administrator shows on every node
    let r = common::call_at(lb, "POST", "/api/auth/login", None, Some(&login), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let admin = r.json()["data"]["token"].as_str().unwrap().to_owned();
    for node in [t.replicas[0].addr(), t.replicas[1].addr(), t.primary.addr()] {
        // cached on each node first
        assert_eq!(common::call_at(node, "GET", &format!("/api/products/{slug}"), None, None, &[]).await.status, 200);
    }
    let pid = product["id"].as_str().unwrap();
    let change = common::call_at(
        lb,
        "PUT",
        &format!("/api/admin/products/{pid}/price"),
        Some(&admin),
        Some(&json!({"base": 777})),
        &[],
    )
    .await;
    assert_eq!(change.status, 200, "{}", change.text());
    for node in [t.primary.addr(), t.replicas[0].addr(), t.replicas[1].addr()] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = common::call_at(node, "GET", &format!("/api/products/{slug}"), None, None, &[]).await;
            if r.status == 200 && r.json()["data"]["price"]["amount"] == 777 {
                break;
            }
            assert!(Instant::now() < deadline, "{node} still shows {}", r.text());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // a replica killed under load: the balancer routes around it, no request fails
    let load = Load::start(lb, slugs.clone(), 8);
    load.answered(300).await;
    t.replicas[0].kill();
    load.answered(600).await;
    let (ok, failed) = load.finish().await;
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), ok, &failed[..failed.len().min(5)]);
    // back on its address (the balancer's configuration names it)
    let mut t = tokio::task::spawn_blocking(move || {
        t.replicas[0] = t.replica(0, t.replicas[0].port);
        t
    })
    .await
    .unwrap();

    // a rolling restart of both replicas under load: no request fails
    let load = Load::start(lb, slugs, 8);
    load.answered(300).await;
    for i in 0..2 {
        t = tokio::task::spawn_blocking(move || {
            t.replicas[i].terminate();
            t.replicas[i] = t.replica(i, t.replicas[i].port);
            t
        })
        .await
        .unwrap();
        load.answered(200).await;
    }
    let (ok, failed) = load.finish().await;
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), ok, &failed[..failed.len().min(5)]);

    // lag: from a commit on the primary to its arrival on a replica (100 ms intervals)
    let mut lags = Vec::new();
    for i in 0..30 {
        let started = Instant::now();
        let w = common::call_at(
            t.primary.addr(),
            "PUT",
            &format!("/api/admin/products/{pid}/price"),
            Some(&admin),
            Some(&json!({"base": 800 + i})),
            &[],
        )
        .await;
        assert_eq!(w.status, 200, "{}", w.text());
        let at: u64 = common::commit_position(&w).parse().unwrap();
        reached(t.replicas[i as usize % 2].addr(), at).await;
        lags.push(started.elapsed());
    }
    lags.sort();
    eprintln!(
        "replica lag at 100 ms intervals over {} commits: p50 {:?}, p99 {:?}, max {:?}",
        lags.len(),
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        lags.last().unwrap()
    );
    drop(t.redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_primary_is_restored_from_its_replica_storage() {
    let mut t = tokio::task::spawn_blocking(Topology::start).await.unwrap();
    let primary = t.primary.addr();
    let list = common::call_at(primary, "GET", "/api/products?in_stock=true&per_page=100", None, None, &[]).await;
    let ids: Vec<String> =
        list.json()["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    let guest = common::call_at(primary, "POST", "/api/auth/guest", None, None, &[]).await.json()["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let address = json!({"name": "Rpo Shopper", "line1": "1 Main St", "city": "Austin", "state": "TX",
                         "postal_code": "73301", "country": "US"});
    // orders, each acknowledged (201) with its id and position
    let mut acked: Vec<(i64, u64, Instant)> = Vec::new();
    // a product sold out by the orders before is skipped (the seed's stock is small)
    let next = std::sync::atomic::AtomicUsize::new(0);
    let order = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let body = json!({"items": [{"product_id": ids[i % ids.len()], "quantity": 1}],
                              "shipping_address": address, "payment_method": "card"});
            let r = common::call_at(primary, "POST", "/api/orders", Some(&guest), Some(&body), &[]).await;
            if r.status == 409 && r.error_code() == "out_of_stock" {
                continue;
            }
            assert_eq!(r.status, 201, "{}", r.text());
            let id = r.json()["data"]["order_id"].as_str().unwrap().parse::<i64>().unwrap();
            return (id, common::commit_position(&r).parse::<u64>().unwrap(), Instant::now());
        }
    };
    for _ in 0..40 {
        acked.push(order().await);
    }
    // the first 40 are in the replica storage for certain: a replica restored them
    let shipped = acked.last().unwrap().1;
    reached(t.replicas[0].addr(), shipped).await;
    let certain = acked.len();
    // more orders as fast as they come, then the primary dies with its disk
    for _ in 40..140 {
        acked.push(order().await);
    }
    t.primary.kill();
    let killed = Instant::now();
    let db = t.dir.path().join("primary.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }

    // the documented restore: `litestream restore -o DB URL`
    let restored = t.dir.path().join("restored.db");
    let out = Command::new(common::venv_tool("litestream"))
        .args(["restore", "-o"])
        .arg(&restored)
        .arg(format!("file://{}", t.storage.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = rusqlite::Connection::open_with_flags(&restored, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let present = |id: i64| {
        conn.query_row("SELECT count(*) FROM orders WHERE id = ?1", [id], |r| r.get::<_, i64>(0)).unwrap() == 1
    };
    for (id, _, _) in &acked[..certain] {
        assert!(present(*id), "order {id}, shipped before the loss, is restored");
    }
    // what was lost is a tail: the newest acknowledged orders, never a hole
    let kept: Vec<bool> = acked.iter().map(|(id, _, _)| present(*id)).collect();
    let first_lost = kept.iter().position(|k| !k).unwrap_or(kept.len());
    assert!(kept[first_lost..].iter().all(|k| !k), "the restored orders are a prefix: {kept:?}");
    let lost = kept.len() - first_lost;
    let window = acked.get(first_lost).map_or(Duration::ZERO, |(_, _, at)| killed.duration_since(*at));
    eprintln!(
        "RPO at 100 ms intervals: {lost} of {} acknowledged orders lost, acknowledged in the last {:?} before the kill",
        acked.len(),
        window
    );
    drop(conn);

    // the restored file is a working primary again
    let primary = serve(t.dir.path(), "restored", &t.config, &restored, free_port(), &[]);
    tokio::task::spawn_blocking({
        let addr = primary.addr();
        move || wait_ready(addr, "the restored primary")
    })
    .await
    .unwrap();
    let (id, _, _) = acked[certain - 1];
    let admin = json!({"email": "ops@example.com", "password": "correct horse 1"});
    let token = common::call_at(primary.addr(), "POST", "/api/auth/login", None, Some(&admin), &[]).await.json()
        ["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = common::call_at(primary.addr(), "GET", &format!("/api/admin/orders/{id}"), Some(&token), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}
