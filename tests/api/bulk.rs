//! Imports and exports through the admin API (jobs with progress) and the command line,
//! archives and backups: bad rows reported exactly, imported products listed, searchable
//! and cached correctly at once, exports that import back, archived orders still found.

use std::process::Command;

use serde_json::{json, Value};

use crate::common::{self, column, TestApp};

async fn admin_app() -> (TestApp, String) {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.cache_debug_header = true).start().await;
    let admin = app.admin("root@example.net").await;
    (app, admin)
}

async fn upload(app: &TestApp, admin: &str, content_type: &str, body: &str) -> common::Resp {
    let auth = format!("Bearer {admin}");
    common::send(
        app.addr,
        "POST",
        b"/api/admin/imports",
        &[("Authorization", &auth), ("Content-Type", content_type)],
        body.as_bytes(),
    )
    .await
}

/// Waits for job `id` to finish; returns it.
async fn finished(app: &TestApp, admin: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = app.call("GET", &format!("/api/admin/jobs/{id}"), Some(admin), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let job = r.json()["data"].clone();
        if ["completed", "failed", "cancelled"].contains(&job["state"].as_str().unwrap()) {
            return job;
        }
        assert!(tokio::time::Instant::now() < deadline, "job {id} still {}", job["state"]);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

const CSV: &str = "sku,name,category,brand,price,sale_price,stock,description
LAMP-1,Zephyr Desk Lamp,kitchen,acme,3999,,12,A bright lamp.
KETTLE-1,Quasar Kettle,kitchen,,2499,1999,3,
BAD-PRICE,Broken Price,kitchen,,19.99,,1,
BAD-CAT,Lost Category,garden,,100,,1,
,No Sku,kitchen,,100,,1,
AUR-1,Aurora Wireless Headphones II,headphones,acme,18999,,7,
SLUG-1,Nimbus Earbuds,kitchen,,100,,1,
MUG-1,Quasar Mug,kitchen,globex,899,,40,\"A mug, \"\"large\"\"\"
AUR-1-BLK,Clashing Lamp,kitchen,,100,,1,
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_reports_exactly_its_bad_rows_and_the_rest_shows_at_once() {
    let (app, admin) = admin_app().await;
    // cached views the import must reach
    assert_eq!(app.json("/api/search?q=quasar").await["meta"]["total"], 0);
    assert_eq!(app.json("/api/products?category=kitchen").await["meta"]["total"], 1);
    assert_eq!(app.json("/api/products/aurora-wireless-headphones").await["data"]["price"]["amount"], 14999);

    let r = upload(&app, &admin, "text/csv", CSV).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["data"]["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &admin, &id).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["kind"], "import_products");
    assert_eq!(job["progress"], json!({"done": 9, "total": 9}));
    let result = &job["result"];
    assert_eq!((result["created"].as_i64(), result["updated"].as_i64()), (Some(4), Some(1)), "{result}");
    let rejected: Vec<(i64, &str)> = result["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    // SLUG-1's name makes the slug of an existing product: it gets one made with its sku;
    // the last row's sku is a variant's of another product: the database refuses that row
    // alone, the rest of its batch goes in
    assert_eq!(rejected, [(4, "price"), (5, "category"), (6, "sku"), (10, "row")], "{result}");
    assert!(result["rejected"][0]["reason"].as_str().unwrap().contains("minor units"));
    assert!(result["rejected"][1]["reason"].as_str().unwrap().contains("garden"));

    // listed, searchable and cached correctly at once
    assert_eq!(app.json("/api/search?q=quasar").await["meta"]["total"], 2);
    assert_eq!(app.json("/api/products?category=kitchen").await["meta"]["total"], 5);
    let aurora = app.json("/api/products/aurora-wireless-headphones").await["data"].clone();
    assert_eq!(
        (aurora["name"].as_str(), aurora["price"]["amount"].as_i64()),
        (Some("Aurora Wireless Headphones II"), Some(18999))
    );
    let mug = app.json("/api/products/quasar-mug").await["data"].clone();
    assert_eq!(mug["description"], "A mug, \"large\"");
    assert_eq!(app.json("/api/products/nimbus-earbuds-slug-1").await["data"]["sku"], "SLUG-1");
    let c = app.conn();
    assert_eq!(
        column::<i64>(
            &c,
            "SELECT available FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'KETTLE-1'"
        ),
        [3]
    );

    // the same file again changes nothing
    let r = upload(&app, &admin, "text/csv", CSV).await;
    let again = finished(&app, &admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
    let result = &again["result"];
    assert_eq!(
        (
            result["created"].as_i64(),
            result["updated"].as_i64(),
            result["unchanged"].as_i64(),
            result["rejected_count"].as_i64()
        ),
        (Some(0), Some(0), Some(5), Some(4)),
        "{result}"
    );

    // JSON lines, a bad line among good ones
    let lines = "{\"sku\": \"TEA-1\", \"name\": \"Quasar Tea\", \"category\": \"kitchen\", \"price\": 450, \"stock\": 9, \"active\": false}\n\
                 not json\n\
                 {\"sku\": \"TEA-2\", \"name\": \"Quasar Tea Two\", \"category\": \"kitchen\", \"price\": 450, \"stock\": 9, \"colour\": \"red\"}\n\
                 {\"sku\": \"TEA-3\", \"name\": \"Quasar Tea Three\", \"category\": \"kitchen\", \"price\": \"450\", \"stock\": 9}\n";
    let r = upload(&app, &admin, "application/x-ndjson", lines).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let job = finished(&app, &admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
    let rejected: Vec<(i64, String)> = job["result"]["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["field"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(rejected, [(2, "row".to_owned()), (3, "colour".to_owned())]);
    assert_eq!(job["result"]["created"], 2);
    // a draft is not listed
    assert_eq!(app.json("/api/search?q=quasar").await["meta"]["total"], 3);

    // refused uploads change nothing
    let before = common::digest(&c);
    let r = upload(&app, &admin, "application/json", "{}").await;
    assert_eq!((r.status, r.error_code()), (415, "unsupported_media_type".into()));
    let r = upload(&app, &admin, "text/csv", "").await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = upload(&app, &admin, "text/csv", "sku,name,category,stock\nX,Y,kitchen,1\n").await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["details"]["body"].as_str().unwrap().contains("price"), "{}", r.text());
    let r = upload(&app, &admin, "text/csv", "sku,name,category,price,stock,colour\n").await;
    assert!(r.status == 422 && r.text().contains("colour"), "{}", r.text());
    let r = upload(&app, &admin, "text/csv", "sku,name,category,price,stock\n").await;
    assert!(r.status == 422 && r.text().contains("no rows"), "{}", r.text());
    let r = upload(&app, &admin, "application/x-ndjson", "true\n{\"sku\": \"X\"}\n").await;
    assert!(r.status == 422 && r.text().contains("line 1"), "{}", r.text());
    assert_eq!(common::digest(&c), before);
    assert!(
        std::fs::read_dir(storefront::bulk::imports_dir(&app.state.config)).unwrap().next().is_none(),
        "uploads are removed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_longer_than_a_mebibyte_fails_the_import_naming_its_line_and_imports_nothing() {
    let (app, admin) = admin_app().await;
    let c = app.conn();
    let products =
        |c: &rusqlite::Connection| -> i64 { c.query_row("SELECT count(*) FROM products", [], |r| r.get(0)).unwrap() };
    let before = products(&c);
    let long = "x".repeat(2 << 20);
    // a long cell; a quote never closed, so the "row" runs over many short lines to the end;
    // the same in JSON lines
    let files = [
        ("text/csv", format!("sku,name,category,price,stock\nOK-1,Fine,kitchen,100,1\nLONG-1,{long},kitchen,100,1\n"), 3),
        (
            "text/csv",
            format!("sku,name,category,price,stock\nOK-1,Fine,kitchen,100,1\nOK-2,\"open,kitchen,100,1\n{}", "y\n".repeat(1 << 20)),
            3,
        ),
        (
            "application/x-ndjson",
            format!(
                "{{\"sku\":\"OK-1\",\"name\":\"Fine\",\"category\":\"kitchen\",\"price\":100,\"stock\":1}}\n\n{{\"sku\":\"L\",\"name\":\"{long}\"}}\n"
            ),
            3,
        ),
    ];
    for (content_type, body, line) in files {
        let r = upload(&app, &admin, content_type, &body).await;
        assert_eq!(r.status, 202, "{}", r.text());
        let job = finished(&app, &admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "failed", "{job}");
        let error = job["errors"][0]["error"].as_str().unwrap_or_else(|| panic!("{job}"));
        assert!(error.contains(&format!("line {line}: the row is longer than 1 MiB")), "{content_type}: {error}");
        assert_eq!(products(&c), before, "{content_type}: nothing imported");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_jobs_whose_files_stream_and_import_back() {
    let (app, admin) = admin_app().await;
    let c = app.conn();
    // cells a spreadsheet would run as formulas (OWASP's CSV injection)
    app.write("UPDATE products SET name = '=HYPERLINK(\"http://evil.example\",\"x\")' WHERE id = 1").await;
    app.write("UPDATE customers SET name = '@SUM(1+1)*cmd' WHERE email = 'root@example.net'").await;
    let mut files = Vec::new();
    for (kind, format) in [("products", "csv"), ("orders", "jsonl"), ("customers", "csv")] {
        let r = app
            .call("POST", "/api/admin/exports", Some(&admin), Some(&json!({"kind": kind, "format": format})), &[])
            .await;
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["data"]["job_id"].as_str().unwrap().to_owned();
        let job = finished(&app, &admin, &id).await;
        assert_eq!(job["state"], "completed", "{job}");
        let r = app.call("GET", &format!("/api/admin/exports/{id}"), Some(&admin), None, &[]).await;
        assert_eq!(r.status, 200);
        assert!(r.header("content-disposition").unwrap().contains(&format!("{kind}-{id}.{format}")));
        assert_eq!(job["result"]["rows"], job["progress"]["done"]);
        files.push((kind, r.text(), job["result"]["rows"].as_i64().unwrap()));
    }
    let products: i64 = column(&c, "SELECT count(*) FROM products WHERE status <> 'retired'")[0];
    let (_, csv, rows) = &files[0];
    assert_eq!(*rows, products);
    assert_eq!(csv.lines().next(), Some("sku,name,slug,description,category,brand,price,sale_price,stock,active"));
    assert_eq!(csv.lines().count() as i64, products + 1);
    let orders: i64 = column(&c, "SELECT count(*) FROM orders")[0];
    let (_, jsonl, _) = &files[1];
    assert_eq!(jsonl.lines().count() as i64, orders);
    for l in jsonl.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["total"].is_i64() && v["id"].is_string(), "{v}");
    }
    assert!(files[2].1.contains("root@example.net"));
    // every download is audited
    let downloads: Vec<i64> = column(&c, "SELECT count(*) FROM audit_log WHERE action = 'export.download'");
    assert_eq!(downloads[0], 3);
    // defused: such a cell starts with a quote, in every CSV export; numbers stay numbers
    assert!(csv.contains("'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")"), "{csv}");
    assert!(files[2].1.contains("'@SUM(1+1)*cmd"), "{}", files[2].1);
    for (_, text, _) in [&files[0], &files[2]] {
        let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        for rec in r.records() {
            let rec = rec.unwrap();
            for cell in rec.iter() {
                assert!(!cell.starts_with(['=', '+', '@', '\t', '\r']), "an armed cell: {cell:?}");
                assert!(!cell.starts_with('-') || cell.parse::<i64>().is_ok(), "an armed cell: {cell:?}");
            }
        }
    }
    // not an export, or no such job: 404
    let r = app.call("GET", "/api/admin/exports/999999", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 404);
    let r = app
        .call("POST", "/api/admin/exports", Some(&admin), Some(&json!({"kind": "reviews", "format": "csv"})), &[])
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .call(
            "POST",
            "/api/admin/exports",
            Some(&admin),
            Some(&json!({"kind": "orders", "format": "csv", "since": "2026-02-30"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 422);

    // the products file imports back into another shop as it is
    let (other, other_admin) = admin_app().await;
    other.write("UPDATE inventory SET available = 0").await;
    other.write("UPDATE products SET base_price = 1, sale_price = NULL").await;
    let r = upload(&other, &other_admin, "text/csv", csv).await;
    let job = finished(&other, &other_admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["rejected_count"], 0, "{job}");
    // (the names too: a defused cell imports back as it was)
    let digest = |c: &rusqlite::Connection| -> Vec<(String, String, i64, Option<i64>, i64)> {
        let mut s = c
            .prepare(
                "SELECT p.sku, p.name, p.base_price, p.sale_price, i.available FROM products p
                 JOIN variants v ON v.product_id = p.id
                 JOIN inventory i ON i.variant_id = v.id WHERE p.status <> 'retired' ORDER BY p.sku",
            )
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(digest(&other.conn()), digest(&c));
    other.stop().await;
    app.stop().await;
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_storefront"));
    for (k, _) in std::env::vars() {
        if k.starts_with("STOREFRONT_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_imports_exports_backs_up_and_refuses_a_served_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::make_db(dir.path(), &common::Data::Fixture("small-catalog.sql"));
    let file = dir.path().join("products.csv");
    std::fs::write(&file, CSV).unwrap();
    let (code, out, err) = run(bin().args(["import", "products"]).arg(&file).arg("--db").arg(&db));
    assert_eq!(code, 2, "rows were rejected: {out}{err}");
    assert!(
        err.contains("line 4: price:") && err.contains("line 5: category:") && err.contains("line 6: sku:"),
        "{err}"
    );
    assert!(err.contains("line 10: row:"), "{err}");
    assert!(out.contains("9 rows") && out.contains("4 created, 1 updated"), "{out}");
    let c = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(column::<String>(&c, "SELECT name FROM products WHERE sku = 'LAMP-1'"), ["Zephyr Desk Lamp"]);
    let (code, out, _) = run(bin().args(["import", "products"]).arg(&file).arg("--db").arg(&db));
    assert!(code == 2 && out.contains("0 created, 0 updated, 5 unchanged"), "{out}");

    let export = dir.path().join("out.jsonl");
    // links planted where the file and its part go are replaced, never written through
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&victim, &export).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("out.part")).unwrap();
    }
    let (code, _, err) =
        run(bin().args(["export", "products", "--format", "jsonl", "--out"]).arg(&export).arg("--db").arg(&db));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me", "written through a link");
    assert!(!std::fs::symlink_metadata(&export).unwrap().file_type().is_symlink());
    let n: i64 = column(&c, "SELECT count(*) FROM products WHERE status <> 'retired'")[0];
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count() as i64, n);
    let (code, _, err) = run(bin().args(["export", "reviews", "--db"]).arg(&db));
    assert!(code != 0 && err.contains("products, orders or customers"), "{err}");

    // beside a running server: an online backup works, an import is refused
    let app = TestApp::builder().same_data_as_path(&db).start().await;
    let copy = dir.path().join("copy.db");
    let (code, out, err) = run(bin().args(["backup", "--out"]).arg(&copy).arg("--db").arg(&db));
    assert_eq!(code, 0, "{out}{err}");
    let backup = rusqlite::Connection::open(&copy).unwrap();
    assert_eq!(common::digest(&backup), common::digest(&c));
    let (code, _, err) = run(bin().args(["backup", "--out"]).arg(&copy).arg("--db").arg(&db));
    assert!(code != 0 && err.contains("exists"), "{err}");
    let before = common::digest(&c);
    let (code, _, err) = run(bin().args(["import", "products"]).arg(&file).arg("--db").arg(&db));
    assert!(code == 1 && err.contains("a server is running"), "{err}");
    assert_eq!(common::digest(&c), before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_orders_audit_rows_and_jobs_move_to_monthly_files_and_orders_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::make_db(dir.path(), &common::Data::Fixture("small-catalog.sql"));
    let c = rusqlite::Connection::open(&db).unwrap();
    // finished orders in January and February 2025, one paid (waiting to ship) and one recent
    let jan = storefront::util::parse_utc("2025-01-15").unwrap();
    let feb = storefront::util::parse_utc("2025-02-10").unwrap();
    for (id, status, at) in
        [(901, "fulfilled", jan), (902, "cancelled", jan), (903, "expired", feb), (904, "paid", feb)]
    {
        c.execute(
            "INSERT INTO orders(id, customer_id, status, currency, subtotal, total, created_at, email) VALUES (?1, 1, ?2, 'USD', 500, 500, ?3, 'ada@example.com')",
            rusqlite::params![id, status, at],
        )
        .unwrap();
        c.execute(
            "INSERT INTO order_items(order_id, line, product_id, variant_id, sku, name, unit_price, quantity, line_total)
             SELECT ?1, 1, p.id, v.id, p.sku, p.name, 500, 1, 500 FROM products p JOIN variants v ON v.product_id = p.id WHERE p.id = 1 LIMIT 1",
            [id],
        )
        .unwrap();
        c.execute(
            "INSERT INTO order_status_history(order_id, status, note, created_at) VALUES (?1, ?2, 'x', ?3)",
            rusqlite::params![id, status, at],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO payment_events(event_id, order_id, outcome, received_at) VALUES ('evt-901', 901, 'paid', ?1)",
        [jan],
    )
    .unwrap();
    c.execute(
        "INSERT INTO audit_log(action, entity, entity_id, created_at) VALUES ('product.update', 'product', 1, ?1)",
        [jan],
    )
    .unwrap();
    c.execute(
        "INSERT INTO jobs(kind, queue, priority, state, max_attempts, run_at, created_at, finished_at) VALUES ('noop', 'low', 2, 'completed', 1, ?1, ?1, ?1)",
        [feb],
    )
    .unwrap();
    let recent_orders: i64 = column(&c, "SELECT count(*) FROM orders WHERE id < 900")[0];

    let archive = dir.path().join("archive");
    let (code, out, err) =
        run(bin().args(["archive", "--before", "2025-03-01", "--dir"]).arg(&archive).arg("--db").arg(&db));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("archived 3 orders, 1 audit rows and 1 jobs"), "{out}");
    assert_eq!(column::<i64>(&c, "SELECT id FROM orders WHERE id > 900"), [904], "the paid order stays");
    assert_eq!(column::<i64>(&c, "SELECT count(*) FROM orders WHERE id < 900")[0], recent_orders);
    assert_eq!(column::<i64>(&c, "SELECT count(*) FROM order_items WHERE order_id IN (901, 902, 903)"), [0]);
    assert_eq!(column::<i64>(&c, "SELECT count(*) FROM payment_events"), [0]);
    let jan_file = rusqlite::Connection::open(archive.join("archive-2025-01.db")).unwrap();
    assert_eq!(column::<i64>(&jan_file, "SELECT id FROM orders ORDER BY id"), [901, 902]);
    assert_eq!(column::<i64>(&jan_file, "SELECT count(*) FROM order_items"), [2]);
    assert_eq!(column::<i64>(&jan_file, "SELECT count(*) FROM audit_log"), [1]);
    let feb_file = rusqlite::Connection::open(archive.join("archive-2025-02.db")).unwrap();
    assert_eq!(column::<i64>(&feb_file, "SELECT id FROM orders"), [903]);
    assert_eq!(column::<i64>(&feb_file, "SELECT count(*) FROM jobs"), [1]);
    // again: nothing left to move
    let (code, out, _) =
        run(bin().args(["archive", "--before", "2025-03-01", "--dir"]).arg(&archive).arg("--db").arg(&db));
    assert!(code == 0 && out.contains("nothing to move"), "{out}");

    // an administrator still reads the archived order
    let app =
        TestApp::builder().same_data_as_path(&db).config(|cfg| cfg.archive_dir = Some(archive.clone())).start().await;
    let admin = app.admin("root@example.net").await;
    let r = app.call("GET", "/api/admin/orders/901", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let o = r.json()["data"].clone();
    assert_eq!((o["status"].as_str(), o["items"].as_array().unwrap().len()), (Some("fulfilled"), 1));
    assert_eq!(o["status_history"][0]["status"], "fulfilled");
    assert_eq!(app.call("GET", "/api/admin/orders/904", Some(&admin), None, &[]).await.status, 200);
    assert_eq!(app.call("GET", "/api/admin/orders/999", Some(&admin), None, &[]).await.status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_carries_translations_and_reports_its_bad_ones_exactly() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.locales = "en, de, pt-BR".into();
        })
        .start()
        .await;
    let admin = app.admin("root@example.net").await;
    // the German page of the first product is cached before the import
    assert_eq!(
        app.json("/api/products/aurora-wireless-headphones?locale=de").await["data"]["name"],
        "Aurora Wireless Headphones"
    );
    let csv = "sku,name,category,price,stock,name@de,description@de,slug@de,NAME@pt-br
AUR-1,Aurora Wireless Headphones,headphones,14999,7,Aurora Kabellose Kopfhörer,Mit Geräuschunterdrückung.,aurora-kopfhoerer,Fones Aurora
LAMP-1,Zephyr Desk Lamp,kitchen,3999,12,Zephyr Schreibtischlampe,,,
KETTLE-1,Quasar Kettle,kitchen,2499,3,,Ein Wasserkocher.,,
MUG-1,Quasar Mug,kitchen,899,40,Quasar Becher,,aurora-kopfhoerer,
CUP-1,Quasar Cup,kitchen,599,4,Quasar Tasse,,Not A Slug,
";
    let r = upload(&app, &admin, "text/csv", csv).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["data"]["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &admin, &id).await;
    assert_eq!(job["state"], "completed", "{job}");
    let result = &job["result"];
    let rejected: Vec<(i64, String)> = result["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["field"].as_str().unwrap().to_owned()))
        .collect();
    // a description without a name; a slug another product has in German; a malformed slug
    assert_eq!(rejected, [(4, "name@de".to_owned()), (5, "slug@de".to_owned()), (6, "slug@de".to_owned())], "{result}");
    assert_eq!((result["created"].as_i64(), result["updated"].as_i64()), (Some(1), Some(1)), "{result}");
    // the translations show at once, in every language's cached answer
    let de = app.json("/api/products/aurora-wireless-headphones?locale=de").await["data"].clone();
    assert_eq!(
        (de["name"].as_str(), de["slug"].as_str()),
        (Some("Aurora Kabellose Kopfhörer"), Some("aurora-kopfhoerer"))
    );
    assert_eq!(de["description"], "Mit Geräuschunterdrückung.");
    let pt = app.get_with("/api/products/aurora-wireless-headphones", &[("accept-language", "pt-BR")]).await;
    assert_eq!(pt.json()["data"]["name"], "Fones Aurora");
    let lamp = app.json("/api/search?q=schreibtischlampe&locale=de").await;
    assert_eq!(lamp["data"][0]["name"], "Zephyr Schreibtischlampe", "{lamp}");
    assert_eq!(lamp["data"][0]["slug"], "zephyr-schreibtischlampe", "a slug made from the name");
    // a rejected row leaves nothing behind, not even its product
    assert_eq!(app.get("/api/products/quasar-mug").await.status, 404);
    // the same file again changes nothing (the bad rows are reported again)
    let r = upload(&app, &admin, "text/csv", csv).await;
    let job = finished(&app, &admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (job["result"]["created"].as_i64(), job["result"]["updated"].as_i64(), job["result"]["unchanged"].as_i64()),
        (Some(0), Some(0), Some(2)),
        "{job}"
    );
    // JSON lines say the same with an object per language; a language the shop lacks is refused
    let jsonl = r#"{"sku":"KETTLE-1","name":"Quasar Kettle","category":"kitchen","price":2499,"stock":3,"translations":{"de":{"name":"Quasar Wasserkocher"}}}
{"sku":"TEA-1","name":"Quasar Tea","category":"kitchen","price":499,"stock":3,"translations":{"fr":{"name":"Thé Quasar"}}}
{"sku":"TEA-2","name":"Quasar Tea 2","category":"kitchen","price":499,"stock":3,"translations":{"de":{"titel":"Tee"}}}
"#;
    let r = upload(&app, &admin, "application/x-ndjson", jsonl).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let job = finished(&app, &admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
    let fields: Vec<(i64, String)> = job["result"]["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["field"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(fields, [(2, "name@fr".to_owned()), (3, "translations".to_owned())], "{job}");
    assert_eq!(app.json("/api/products/quasar-kettle?locale=de").await["data"]["name"], "Quasar Wasserkocher");
    let audit: i64 = app
        .conn()
        .query_row("SELECT count(*) FROM product_translations WHERE locale = 'de'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit, 3, "Aurora, the lamp and the kettle");

    // exports carry each language's columns (JSON lines: translations) and import back as
    // they are: nothing changes
    for format in ["csv", "jsonl"] {
        let r = app
            .call("POST", "/api/admin/exports", Some(&admin), Some(&json!({"kind": "products", "format": format})), &[])
            .await;
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["data"]["job_id"].as_str().unwrap().to_owned();
        assert_eq!(finished(&app, &admin, &id).await["state"], "completed");
        let file = app.call("GET", &format!("/api/admin/exports/{id}"), Some(&admin), None, &[]).await.text();
        if format == "csv" {
            assert_eq!(
                file.lines().next(),
                Some(
                    "sku,name,slug,description,category,brand,price,sale_price,stock,active,name@de,description@de,\
                     slug@de,name@pt-BR,description@pt-BR,slug@pt-BR"
                )
            );
            assert!(file.contains("Aurora Kabellose Kopfhörer,Mit Geräuschunterdrückung.,aurora-kopfhoerer,Fones Aurora,,fones-aurora"), "{file}");
        } else {
            let aurora =
                file.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|v| v["sku"] == "AUR-1").unwrap();
            assert_eq!(
                aurora["translations"]["pt-BR"],
                json!({"name": "Fones Aurora", "description": "", "slug": "fones-aurora"})
            );
        }
        let content_type = if format == "csv" { "text/csv" } else { "application/x-ndjson" };
        let r = upload(&app, &admin, content_type, &file).await;
        assert_eq!(r.status, 202, "{}", r.text());
        let job = finished(&app, &admin, r.json()["data"]["job_id"].as_str().unwrap()).await;
        let result = &job["result"];
        assert_eq!(
            (result["created"].as_i64(), result["updated"].as_i64(), result["rejected"].as_array().map(Vec::len)),
            (Some(0), Some(0), Some(0)),
            "{format}: {job}"
        );
    }
    app.stop().await;
}
