//! The binary as a user runs it: configuration precedence and redaction, the deterministic
//! seeder, migrations, and `serve --demo` from an empty directory to a clean shutdown.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_storefront"));
    for (k, _) in std::env::vars() {
        if k.starts_with("STOREFRONT_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_precedence_validation_and_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("storefront.toml");
    std::fs::write(&file, "cache_mb = 3\nread_pool_size = 5\nredis_url = \"redis://app:s3cret@cache:6379\"\n").unwrap();

    let (ok, out, _) = run(bin().args(["config", "print"]));
    assert!(ok);
    assert!(out.contains("listen = \"127.0.0.1:8080\"") && out.contains("cache_mb = 64"), "{out}");

    let (ok, out, _) = run(bin().args(["config", "print", "--config"]).arg(&file));
    assert!(ok);
    assert!(out.contains("cache_mb = 3") && out.contains("read_pool_size = 5"), "file over defaults: {out}");
    assert!(!out.contains("s3cret") && out.contains("redis://app:***@cache:6379"), "secret redacted: {out}");

    let (_, out, _) = run(bin().args(["config", "print", "--config"]).arg(&file).env("STOREFRONT_CACHE_MB", "9"));
    assert!(out.contains("cache_mb = 9"), "env over file: {out}");
    let (_, out, _) =
        run(bin().args(["config", "print", "--cache-mb", "11", "--config"]).arg(&file).env("STOREFRONT_CACHE_MB", "9"));
    assert!(out.contains("cache_mb = 11"), "flag over env: {out}");
    let (_, out, _) = run(bin().args(["config", "print"]).env("STOREFRONT_CONFIG", &file));
    assert!(out.contains("cache_mb = 3"), "config file from the environment: {out}");

    std::fs::write(&file, "cache_megabytes = 3\n").unwrap();
    let (ok, _, err) = run(bin().args(["config", "check", "--config"]).arg(&file));
    assert!(!ok && err.contains("unknown field"), "{err}");
    let (ok, _, err) = run(bin().args(["config", "check", "--read-pool-size", "0"]));
    assert!(!ok && err.contains("read_pool_size"), "{err}");
    let (ok, _, err) = run(bin().args(["config", "check", "--listen", "not-an-address"]));
    assert!(!ok && err.contains("--listen"), "{err}");
}

fn open(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn one(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn seed_is_deterministic_consistent_and_refuses_a_full_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a.db"), dir.path().join("b.db"), dir.path().join("c.db"));
    for (path, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let (ok, out, err) =
            run(bin().args(["seed", "--products", "400", "--quiet", "--seed", seed, "--db"]).arg(path));
        assert!(ok, "{err}");
        assert!(out.contains("seeded 400 products"), "{out}");
    }
    let (da, db, dc) = (common::digest(&open(&a)), common::digest(&open(&b)), common::digest(&open(&c)));
    assert_eq!(da, db, "same seed, same catalog");
    assert_ne!(da, dc, "another seed, another catalog");

    let conn = open(&a);
    assert_eq!(conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok");
    assert_eq!(one(&conn, "SELECT count(*) FROM pragma_foreign_key_check"), 0, "every reference resolves");
    assert_eq!(conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    // derived data equals what the triggers would keep
    assert_eq!(
        one(&conn, "SELECT count(*) FROM products p WHERE in_stock <> EXISTS (SELECT 1 FROM variants v JOIN inventory i ON i.variant_id = v.id WHERE v.product_id = p.id AND i.available > 0)"),
        0
    );
    assert_eq!(
        one(&conn, "SELECT count(*) FROM (SELECT category_id, in_stock, count(*) n FROM products WHERE status = 'active' GROUP BY 1, 2 EXCEPT SELECT category_id, in_stock, n FROM category_product_counts)"),
        0
    );
    assert_eq!(
        one(&conn, "SELECT count(*) FROM (SELECT in_stock, count(*) n FROM products WHERE status = 'active' GROUP BY 1 EXCEPT SELECT in_stock, n FROM product_totals)"),
        0
    );
    assert_eq!(
        one(&conn, "SELECT count(*) FROM products p WHERE rating_count <> (SELECT count(*) FROM reviews r WHERE r.product_id = p.id AND r.status = 'approved')"),
        0
    );
    assert!(one(&conn, "SELECT count(*) FROM products_fts WHERE products_fts MATCH 'classic'") > 0);
    assert!(
        one(&conn, "SELECT count(*) FROM reviews") > 0 && one(&conn, "SELECT count(*) FROM product_sales_daily") > 0
    );
    // every review comes from a customer who bought the product
    assert_eq!(
        one(&conn, "SELECT count(*) FROM reviews r WHERE NOT EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.customer_id = r.customer_id AND i.product_id = r.product_id)"),
        0
    );
    let depth = one(&conn, "SELECT max(depth) FROM categories");
    assert_eq!(depth, 2, "three levels");

    let (ok, _, err) = run(bin().args(["seed", "--products", "10", "--quiet", "--db"]).arg(&a));
    assert!(!ok && err.contains("already holds 400 products"), "{err}");
    assert_eq!(common::digest(&open(&a)), da, "a refused seed changed nothing");
}

#[test]
fn migrate_creates_upgrades_and_refuses_newer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let (ok, out, _) = run(bin().args(["migrate", "--db"]).arg(&path));
    let v = storefront::db::migrate::SCHEMA_VERSION;
    assert!(ok && out.contains(&format!("Created({v})")), "{out}");
    let (ok, out, _) = run(bin().args(["migrate", "--db"]).arg(&path));
    assert!(ok && out.contains(&format!("Current({v})")), "{out}");
    open(&path).execute_batch("PRAGMA user_version = 99").unwrap();
    let (ok, _, err) = run(bin().args(["migrate", "--db"]).arg(&path));
    assert!(!ok && err.contains("newer than this binary"), "{err}");

    // the upgrade path, with a step this test supplies
    use storefront::db::migrate::{migrate_with, Migrated, Step, SCHEMA_SQL};
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    assert_eq!(migrate_with(&mut conn, SCHEMA_SQL, 1, &[]).unwrap(), Migrated::Created(1));
    conn.execute("INSERT INTO brands(name, slug, created_at) VALUES ('B', 'b', 0)", []).unwrap();
    let steps = [Step { to: 2, sql: "ALTER TABLE brands ADD COLUMN website TEXT".into(), code: None }];
    assert_eq!(migrate_with(&mut conn, SCHEMA_SQL, 2, &steps).unwrap(), Migrated::Upgraded { from: 1, to: 2 });
    assert_eq!(one(&conn, "SELECT count(*) FROM brands WHERE website IS NULL"), 1, "data kept");
    // a failing step leaves the database at the last complete version
    let bad = [Step { to: 3, sql: "ALTER TABLE brands ADD COLUMN x TEXT; THIS IS NOT SQL".into(), code: None }];
    assert!(migrate_with(&mut conn, SCHEMA_SQL, 3, &bad).is_err());
    assert_eq!(one(&conn, "PRAGMA user_version"), 2);
    assert_eq!(one(&conn, "SELECT count(*) FROM pragma_table_info('brands') WHERE name = 'x'"), 0);
}

/// The shape of a database: every table's columns (name, type, not null, default, key),
/// foreign keys and every index and trigger definition, whitespace folded.
fn shape(conn: &rusqlite::Connection) -> Vec<String> {
    let fold = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'products_fts_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let cols: Vec<String> = conn
            .prepare(&format!(
                "SELECT name, type, \"notnull\", coalesce(dflt_value, ''), pk FROM pragma_table_xinfo('{t}')"
            ))
            .unwrap()
            .query_map([], |r| {
                Ok(format!(
                    "{t}.{}: {} {} {} {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.extend(cols);
        let fks: Vec<String> = conn
            .prepare(&format!(
                "SELECT \"from\", \"table\", coalesce(\"to\", ''), on_delete FROM pragma_foreign_key_list('{t}')"
            ))
            .unwrap()
            .query_map([], |r| {
                Ok(format!(
                    "{t} fk {} -> {}.{} {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.extend(fks);
    }
    let defs: Vec<String> = conn
        .prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema WHERE type IN ('index', 'trigger') ORDER BY type, name")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    out.extend(defs.into_iter().map(fold));
    out.sort();
    out
}

#[test]
fn upgrading_a_version_1_database_gives_the_current_schema_and_keeps_its_data() {
    use storefront::db::migrate::{migrate, version, Migrated};
    let v1 = std::fs::read_to_string(common::fixture_path("schema-v1.sql")).unwrap();
    let mut old = rusqlite::Connection::open_in_memory().unwrap();
    old.execute_batch(&v1).unwrap();
    old.execute_batch(
        "PRAGMA user_version = 1;
         INSERT INTO customers(id, email, name, password_hash, created_at, updated_at) VALUES (1, 'a@b.c', 'A', '!', 0, 0);
         INSERT INTO orders(id, customer_id, status, currency, subtotal, total, created_at) VALUES (7, 1, 'paid', 'USD', 100, 100, 5);",
    )
    .unwrap();
    assert_eq!(migrate(&mut old).unwrap(), Migrated::Upgraded { from: 1, to: storefront::db::migrate::SCHEMA_VERSION });
    let mut fresh = rusqlite::Connection::open_in_memory().unwrap();
    assert_eq!(migrate(&mut fresh).unwrap(), Migrated::Created(storefront::db::migrate::SCHEMA_VERSION));
    assert_eq!(version(&old).unwrap(), version(&fresh).unwrap());
    let (a, b) = (shape(&old), shape(&fresh));
    let only_old: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_fresh: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    assert!(only_old.is_empty() && only_fresh.is_empty(), "upgraded only: {only_old:#?}\nfresh only: {only_fresh:#?}");
    assert_eq!(one(&old, "SELECT count(*) FROM orders WHERE id = 7 AND email = '' AND updated_at = 0"), 1, "data kept");
    // the CHECK of an order's status took the statuses of version 12 in place, and still
    // refuses others (the shape above does not show a CHECK)
    fresh
        .execute_batch(
            "INSERT INTO customers(id, email, name, password_hash, created_at, updated_at) VALUES (1, 'a@b.c', 'A', '!', 0, 0);
             INSERT INTO orders(id, customer_id, status, currency, subtotal, total, created_at) VALUES (7, 1, 'paid', 'USD', 100, 100, 5);",
        )
        .unwrap();
    for db in [&old, &fresh] {
        for status in ["partially_fulfilled", "refunded", "partially_refunded", "paid"] {
            assert_eq!(db.execute("UPDATE orders SET status = ?1 WHERE id = 7", [status]).unwrap(), 1);
        }
        assert!(db.execute("UPDATE orders SET status = 'shipped' WHERE id = 7", []).is_err());
    }
    let ok: String = old.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn upgrading_a_version_21_database_keeps_gift_card_balances_and_indexes_translations_for_search() {
    use storefront::db::migrate::{migrate, migrate_with, steps, Migrated, SCHEMA_SQL, SCHEMA_VERSION};
    let v1 = std::fs::read_to_string(common::fixture_path("schema-v1.sql")).unwrap();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(&v1).unwrap();
    db.execute_batch("PRAGMA user_version = 1;").unwrap();
    assert_eq!(migrate_with(&mut db, SCHEMA_SQL, 21, &steps()).unwrap(), Migrated::Upgraded { from: 1, to: 21 });
    // at version 21: a card's balance on its row, its ledger by rowid; a translated product
    db.execute_batch(
        "INSERT INTO categories(id, name, slug, created_at) VALUES (1, 'Headphones', 'headphones', 0);
         INSERT INTO products(id, sku, slug, name, description, category_id, base_price, created_at, updated_at)
             VALUES (1, 'A-1', 'aurora', 'Aurora Headphones', 'Wireless.', 1, 1000, 0, 0),
                    (2, 'B-1', 'boom', 'Boom Speaker', 'Loud.', 1, 1000, 0, 0);
         INSERT INTO product_translations(product_id, locale, name, description, slug, updated_at)
             VALUES (1, 'de', 'Aurora Kopfhörer', 'Kabellos.', 'aurora-de', 0);
         INSERT INTO category_translations(category_id, locale, name, slug, updated_at)
             VALUES (1, 'de', 'Hörgeräte', 'hoergeraete', 0);
         INSERT INTO gift_cards(id, code_hash, last4, initial, balance, created_at) VALUES
             (1, x'01', 'AAAA', 5000, 1200, 0), (2, x'02', 'BBBB', 700, 700, 0);
         INSERT INTO gift_card_ledger(id, gift_card_id, amount, balance, kind, order_id, created_at) VALUES
             (10, 1, 5000, 5000, 'issued', NULL, 1), (11, 2, 700, 700, 'issued', NULL, 2),
             (12, 1, -3000, 2000, 'spent', 7, 3), (13, 1, -800, 1200, 'spent', 8, 4);",
    )
    .unwrap();
    let fts = |db: &rusqlite::Connection, word: &str| -> Vec<i64> {
        db.prepare("SELECT rowid FROM products_fts WHERE products_fts MATCH ?1 ORDER BY rowid")
            .unwrap()
            .query_map([word], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert!(fts(&db, "kabellos").is_empty(), "version 21 indexed the default language only");

    assert_eq!(migrate(&mut db).unwrap(), Migrated::Upgraded { from: 21, to: SCHEMA_VERSION });
    // every entry kept, in the order written, each linked to its card's one before; each
    // card's balance and last entry on its row
    let ledger: Vec<(i64, i64, Option<i64>, i64, String)> = db
        .prepare("SELECT id, gift_card_id, prev, balance, kind FROM gift_card_ledger ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let kinds: Vec<_> = ledger.iter().map(|(i, c, p, b, k)| (*i, *c, *p, *b, k.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (1, 1, None, 5000, "issued"),
            (2, 2, None, 700, "issued"),
            (3, 1, Some(1), 2000, "spent"),
            (4, 1, Some(3), 1200, "spent")
        ]
    );
    let card = |id| storefront::gift_cards::card(&db, id).unwrap().unwrap();
    assert_eq!(
        (card(1).balance, card(1).last_entry, card(2).balance, card(2).last_entry),
        (1200, Some(4), 700, Some(2))
    );
    // a card's ledger read back along its links, oldest first
    let one_card = storefront::gift_cards::detail(&db, 1, 0).unwrap().unwrap();
    let walked: Vec<(String, i64)> = one_card.ledger.unwrap().into_iter().map(|l| (l.kind, l.balance.amount)).collect();
    assert_eq!(walked, [("issued".to_owned(), 5000), ("spent".to_owned(), 2000), ("spent".to_owned(), 1200)]);
    assert_eq!(one(&db, "SELECT count(*) FROM gift_card_ledger WHERE order_id = 8"), 1, "the order's index");
    // the full-text rows of translated products (and of a translated category's) hold every language
    assert_eq!(fts(&db, "kabellos"), [1]);
    assert_eq!(fts(&db, "kopfhorer"), [1]);
    assert_eq!(fts(&db, "horgerate"), [1, 2]);
    assert_eq!(fts(&db, "speaker"), [2]);
    let ok: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn a_demo_shop_selling_in_euros_has_sold_in_euros() {
    let dir = tempfile::tempdir().unwrap();
    let config = storefront::config::Config {
        db: dir.path().join("demo.db"),
        demo: true,
        demo_products: 120,
        currencies: "EUR, USD 1.1".into(),
        ..storefront::config::Config::default()
    };
    storefront::commands::fill_demo(&config).unwrap();
    let conn = rusqlite::Connection::open(&config.db).unwrap();
    let currencies: Vec<String> = conn
        .prepare("SELECT DISTINCT currency FROM orders ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(currencies, ["EUR"], "its past orders are in its default currency");
    assert!(one(&conn, "SELECT count(*) FROM orders") >= 100);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    Some((status, out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

#[test]
fn serve_demo_from_nothing_to_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "demo_products = 500\nlog_level = \"warn\"\naccess_log = true\n").unwrap();
    let port = free_port();
    let access = dir.path().join("access.log");
    let said = dir.path().join("stderr.log");
    let mut child = bin()
        .current_dir(dir.path())
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&cfg)
        .stdout(std::fs::File::create(&access).unwrap())
        .stderr(std::fs::File::create(&said).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let ready = loop {
        if let Some((200, _)) = http_get(port, "/ready") {
            break true;
        }
        if started.elapsed() > Duration::from_secs(60) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(ready, "the demo server became ready");
    assert!(dir.path().join("storefront.db").exists(), "./storefront.db created");
    // the demo's owner is told how to reach the dashboard, and that login works
    let said = std::fs::read_to_string(&said).unwrap();
    assert!(said.contains(&format!("http://127.0.0.1:{port}/admin")), "{said}");
    let password = said.split("with the password ").nth(1).and_then(|s| s.split_whitespace().next()).expect(&said);
    let form = format!("email=owner%40example.com&password={password}");
    let answer = raw_request(
        port,
        &format!(
            "POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nSec-Fetch-Site: same-origin\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 303") && answer.contains("location: /admin\r\n"), "{answer}");
    assert!(answer.contains("set-cookie: sf_session="), "{answer}");
    let (status, body) = http_get(port, "/api/products?per_page=1").unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["meta"]["total"], 500);
    // SIGTERM: drains and exits 0
    send_sigterm(child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "stopped in time");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // the access log: a JSON line per request, the last of them the product list
    let log = std::fs::read_to_string(&access).unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let list = lines.last().expect("lines were logged");
    assert_eq!(list["route"], "/api/products");
    assert_eq!(list["path"], "/api/products");
    assert_eq!(list["method"], "GET");
    assert_eq!(list["status"], 200);
    assert_eq!(list["client"], "127.0.0.1");
    assert!(list["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(list["request_id"].as_str().unwrap().len(), 24);
    assert!(lines[..lines.len() - 1].iter().all(|l| l["route"] == "/ready" || l["route"] == "/admin/login"), "{log}");
    // a second start finds the catalog and does not seed again
    let conn = open(&dir.path().join("storefront.db"));
    assert_eq!(one(&conn, "SELECT count(*) FROM products"), 500);
}

/// One raw request; the whole answer as text.
fn raw_request(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn send_sigterm(pid: u32) {
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_mail_pending_lists_the_outbox() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let create = |email: &str, password: &str| {
        let mut child = bin()
            .args(["admin", "create", "--email", email, "--password-stdin", "--db"])
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = create("boss@example.com", "short");
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, out) = create("not-an-email", "long enough pw");
    assert!(!ok && out.contains("e-mail"), "{out}");
    let (ok, out) = create("boss@example.com", "long enough pw");
    assert!(ok && out.contains("administrator boss@example.com ready"), "{out}");
    let c = open(&path);
    let (role, hash): (String, String) = c
        .query_row("SELECT role, password_hash FROM customers WHERE email = 'boss@example.com'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(role, "admin");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("long enough pw"));
    // running it again for the same address resets the password, still one account
    assert!(create("BOSS@example.com", "another long pw").0);
    assert_eq!(one(&c, "SELECT count(*) FROM customers"), 1);

    let (ok, out, _) = run(bin().args(["mail", "pending", "--db"]).arg(&path));
    assert!(ok && out.contains("no mail waiting"), "{out}");
    c.execute(
        "INSERT INTO mail_outbox(kind, to_email, subject, body, created_at) VALUES ('password_reset', 'a@b.co', 'Reset', 'code: xyz', 0)",
        [],
    )
    .unwrap();
    let (ok, out, _) = run(bin().args(["mail", "pending", "--db"]).arg(&path));
    assert!(ok && out.contains("to a@b.co") && out.contains("code: xyz"), "{out}");
}

#[test]
fn jobs_are_listed_retried_and_cancelled_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    assert!(run(bin().args(["migrate", "--db"]).arg(&path)).0);
    let c = open(&path);
    c.execute_batch(
        "INSERT INTO jobs(id, kind, queue, priority, state, max_attempts, attempts, run_at, created_at, finished_at, errors)
             VALUES (7, 'mail', 'high', 0, 'failed', 2, 2, 0, 0, 5, '[{\"attempt\": 2, \"at\": \"x\", \"error\": \"smtp down\"}]');
         INSERT INTO jobs(id, kind, queue, priority, state, max_attempts, run_at, created_at)
             VALUES (8, 'export', 'default', 1, 'scheduled', 3, 99999999999999, 0);",
    )
    .unwrap();
    let (ok, out, _) = run(bin().args(["jobs", "list", "--state", "failed", "--db"]).arg(&path));
    assert!(ok && out.contains("mail") && out.contains("smtp down") && !out.contains("export"), "{out}");
    assert!(out.contains("queue high"), "depth and lag per queue: {out}");
    let (ok, _, err) = run(bin().args(["jobs", "list", "--state", "done", "--db"]).arg(&path));
    assert!(!ok && err.contains("--state must be one of"), "{err}");

    let (ok, out, err) = run(bin().args(["jobs", "retry", "7", "--db"]).arg(&path));
    assert!(ok, "{out}{err}");
    assert_eq!(one(&c, "SELECT count(*) FROM jobs WHERE id = 7 AND state = 'available' AND max_attempts = 3"), 1);
    let (ok, _, _) = run(bin().args(["jobs", "cancel", "8", "--db"]).arg(&path));
    assert!(ok);
    assert_eq!(one(&c, "SELECT count(*) FROM jobs WHERE id = 8 AND state = 'cancelled'"), 1);
    let before = common::digest(&c);
    let (ok, _, err) = run(bin().args(["jobs", "cancel", "8", "--db"]).arg(&path));
    assert!(!ok && err.contains("has finished"), "{err}");
    let (ok, _, err) = run(bin().args(["jobs", "retry", "99", "--db"]).arg(&path));
    assert!(!ok && err.contains("no such job"), "{err}");
    assert_eq!(common::digest(&c), before, "refused changes change nothing");
}
