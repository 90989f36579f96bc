//! An acknowledged order is never lost: the real binary under checkout load is killed
//! with SIGKILL at a random moment, restarted on the same file, and every order whose 201
//! a client received is there; the database passes `PRAGMA integrity_check` and its stock
//! adds up. Several rounds on one database.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{address, make_db, try_send, Data};
use serde_json::json;

fn start(db: &std::path::Path, port: u16) -> Child {
    // the clients all come from the loopback: no rate limits
    let config = db.with_extension("toml");
    std::fs::write(&config, "rate_limits_enabled = false\nmax_connections_per_address = 100000\nunpaid_orders_per_owner = 1000000000\nreserved_units_per_owner = 1000000000\nunpaid_orders_per_address = 1000000000\nreserved_units_per_address = 1000000000\n").unwrap();
    Command::new(env!("CARGO_BIN_EXE_storefront"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log-level", "warn", "--db"])
        .arg(db)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

async fn wait_ready(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(r) = try_send(addr, "GET", b"/ready", &[], b"").await {
            if r.status == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server did not become ready");
}

/// One shopper: a guest session, then buy-now orders until the server goes away.
async fn shopper(addr: std::net::SocketAddr, acked: Arc<Mutex<Vec<i64>>>, n: usize) {
    let Some(r) = try_send(addr, "POST", b"/api/auth/guest", &[], b"").await else { return };
    if r.status != 201 {
        return;
    }
    let auth = format!("Bearer {}", r.json()["data"]["token"].as_str().unwrap());
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    for i in 0.. {
        let product = ["3", "5", "1"][(n + i) % 3];
        let body = json!({"items": [{"product_id": product, "quantity": 1}],
                          "shipping_address": address(), "payment_method": "card"})
        .to_string();
        match try_send(addr, "POST", b"/api/orders", &headers, body.as_bytes()).await {
            Some(r) if r.status == 201 => {
                let id: i64 = r.json()["data"]["order_id"].as_str().unwrap().parse().unwrap();
                acked.lock().unwrap().push(id);
            }
            Some(r) if r.status < 500 => panic!("unexpected answer {}: {}", r.status, r.text()),
            _ => return, // killed (or refusing while it dies)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_db(dir.path(), &Data::Fixture("small-catalog.sql"));
    let initial: i64 = {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("UPDATE inventory SET available = 1000000").unwrap();
        c.query_row("SELECT sum(available + reserved) FROM inventory", [], |r| r.get(0)).unwrap()
    };
    let mut all_acked: Vec<i64> = Vec::new();
    let mut seed = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for round in 0..4 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = start(&db, port);
        wait_ready(addr).await;
        let acked = Arc::new(Mutex::new(Vec::new()));
        let shoppers: Vec<_> = (0..24).map(|n| tokio::spawn(shopper(addr, acked.clone(), n))).collect();
        // a random moment, 300 to 1,500 ms into the load
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(300 + seed % 1200)).await;
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        child.wait().unwrap();
        for s in shoppers {
            s.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(!acked.is_empty(), "round {round}: the load placed orders before the kill");
        eprintln!("round {round}: {} orders acknowledged before SIGKILL", acked.len());
        all_acked.extend(acked);

        // restart on the same file: recovery replays the WAL
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = start(&db, port);
        wait_ready(addr).await;
        {
            let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            let list = serde_json::to_string(&all_acked).unwrap();
            let found: i64 = c
                .query_row("SELECT count(*) FROM orders WHERE id IN (SELECT value FROM json_each(?1))", [&list], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(found as usize, all_acked.len(), "round {round}: every acknowledged order is there");
            let check: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(check, "ok");
            // each order holds exactly its reserved line: stock adds up
            let (stock, ordered, lines): (i64, i64, i64) = c
                .query_row(
                    "SELECT (SELECT sum(available + reserved) FROM inventory),
                            (SELECT coalesce(sum(quantity), 0) FROM order_items),
                            (SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id))",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!(stock, initial, "no unit appeared or vanished");
            let reserved: i64 = c.query_row("SELECT sum(reserved) FROM inventory", [], |r| r.get(0)).unwrap();
            assert_eq!(reserved, ordered, "every reserved unit belongs to an order");
            assert_eq!(lines, 0, "no order without its lines");
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
