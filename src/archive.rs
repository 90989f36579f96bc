//! Archiving: finished orders (with their lines, status history and payment events), audit
//! rows and finished jobs older than a date move out of the hot tables into one SQLite file
//! per month (`archive-YYYY-MM.db` in the archive directory), so the shop's database stays
//! the size of its recent business.
//!
//! Safe at any moment, on a live shop, and on kill -9: a bounded batch (500 orders, 2,000
//! audit rows or jobs) is copied into its month's file (`INSERT OR REPLACE` from the hot
//! database attached read-only, committed and synced), the copied rows are counted in the
//! archive, and only then deleted from the hot tables in one short writer unit, which also
//! records where each order went (`archived_orders`). A crash between the two leaves the
//! rows in both places; the next run copies them again (replacing) and deletes them.
//!
//! What moves: orders that are `fulfilled`, `cancelled`, `expired` or `refunded` with no refund
//! waiting for the payment provider and no return the shop has yet to finish (a paid order
//! waiting to ship stays), with their shipments, refunds and returns; audit rows, and
//! jobs that are `completed`, `failed` or `cancelled`. Admin order reads still find an
//! archived order by id, in its month's file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::{params_from_iter, Connection, OpenFlags};
use serde::Serialize;

use crate::db::writer::Writer;
use crate::error::StoreError;
use crate::util::now_ms;

const ORDER_BATCH: usize = 500;
const ROW_BATCH: usize = 2000;

/// What a run moved.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub orders: u64,
    pub audit_rows: u64,
    pub jobs: u64,
    /// the month files written to
    pub files: Vec<String>,
}

/// The month file of a timestamp (unix ms): `archive-YYYY-MM.db`.
pub fn month_of(ms: i64) -> String {
    crate::util::rfc3339(ms)[..7].to_owned()
}

pub fn file_of(dir: &Path, month: &str) -> PathBuf {
    dir.join(format!("archive-{month}.db"))
}

/// The archived tables: (table, key column, the hot rows of a batch by key).
const TABLES: [&str; 13] = [
    "orders",
    "order_items",
    "order_status_history",
    "payment_events",
    "fulfillments",
    "fulfillment_lines",
    "refunds",
    "refund_lines",
    "returns",
    "return_lines",
    "return_history",
    "audit_log",
    "jobs",
];

/// Opens (creating) a month's file, with the archived tables as the hot database defines
/// them, and the hot database attached read-only as `hot`.
fn open_month(hot: &Path, dir: &Path, month: &str) -> anyhow::Result<Connection> {
    let path = file_of(dir, month);
    if !path.exists() {
        // readable by its owner only, like a backup
        crate::util::create_private(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    let conn = Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")?;
    conn.execute("ATTACH DATABASE ?1 AS hot", [format!("file:{}?mode=ro", hot.display())])
        .or_else(|_| conn.execute("ATTACH DATABASE ?1 AS hot", [hot.display().to_string()]))?;
    for table in TABLES {
        let exists: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )?;
        if !exists {
            // the table and its indexes as the hot database has them (reads of an archived
            // order use the same queries, index hints included)
            let sql: Vec<String> = conn
                .prepare(
                    "SELECT sql FROM hot.sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL
                     AND type IN ('table', 'index') ORDER BY type = 'index'",
                )?
                .query_map([table], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for s in sql {
                conn.execute_batch(&s)?;
            }
        }
        // a file made by an older schema gets the columns added since (as the hot
        // database got them: at the end, with their defaults)
        let missing: Vec<(String, String, bool, Option<String>)> = conn
            .prepare(
                "SELECT h.name, h.type, h.\"notnull\", h.dflt_value FROM pragma_table_info(?1, 'hot') h
                 WHERE h.name NOT IN (SELECT name FROM pragma_table_info(?1, 'main')) ORDER BY h.cid",
            )?
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, ty, not_null, default) in missing {
            let mut add = format!("ALTER TABLE main.{table} ADD COLUMN \"{name}\" {ty}");
            if let Some(d) = &default {
                if not_null {
                    add.push_str(" NOT NULL");
                }
                add.push_str(&format!(" DEFAULT {d}"));
            }
            conn.execute_batch(&add)?;
        }
    }
    // a file made before version 12 takes the order statuses added since
    crate::db::migrate::widen_order_statuses(&conn, "main")?;
    Ok(conn)
}

/// The columns of `table` in the hot database, as a list for INSERT … SELECT.
fn columns(conn: &Connection, table: &str) -> anyhow::Result<String> {
    let names: Vec<String> = conn
        .prepare("SELECT '\"' || name || '\"' FROM pragma_table_info(?1, 'hot') ORDER BY cid")?
        .query_map([table], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names.join(", "))
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// Copies rows `ids` (keyed by `key`) of each `(table, key)` into `conn`'s month file and
/// checks that every one is there.
fn copy(conn: &mut Connection, parts: &[(&str, &str)], ids: &[i64]) -> anyhow::Result<()> {
    let list = placeholders(ids.len());
    let tx = conn.transaction()?;
    for (table, key) in parts {
        let cols = columns(&tx, table)?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO main.{table} ({cols}) SELECT {cols} FROM hot.{table} WHERE {key} IN ({list})"
            ),
            params_from_iter(ids),
        )?;
    }
    tx.commit()?;
    for (table, key) in parts {
        let count = |schema: &str| -> rusqlite::Result<i64> {
            conn.query_row(
                &format!("SELECT count(*) FROM {schema}.{table} WHERE {key} IN ({list})"),
                params_from_iter(ids),
                |r| r.get(0),
            )
        };
        let (hot, kept) = (count("hot")?, count("main")?);
        anyhow::ensure!(hot == kept, "{table}: {kept} of {hot} rows reached the archive; nothing deleted");
    }
    Ok(())
}

/// Moves everything older than `before` (unix ms) from the database at `db` into month
/// files in `dir`; deletes go through `writer`. `progress` hears each batch's report.
pub async fn run(
    writer: &Writer,
    db: &Path,
    dir: &Path,
    before: i64,
    progress: &mut (dyn FnMut(&Report) + Send),
) -> anyhow::Result<Report> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut report = Report::default();
    let read = crate::db::open_read(db)?;
    // orders, a batch at a time, grouped by month
    loop {
        let batch: Vec<(i64, i64, Option<i64>)> = read
            .prepare_cached(
                "SELECT id, created_at, customer_id FROM orders o
                 WHERE created_at < ?1 AND status IN ('fulfilled', 'cancelled', 'expired', 'refunded')
                   AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id AND r.status = 'pending')
                   AND NOT EXISTS (SELECT 1 FROM returns r INDEXED BY idx_returns_order
                                   WHERE r.order_id = o.id AND r.status IN ('requested', 'approved', 'received'))
                 ORDER BY id LIMIT ?2",
            )?
            .query_map(rusqlite::params![before, ORDER_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if batch.is_empty() {
            break;
        }
        let mut by_month: BTreeMap<String, Vec<(i64, Option<i64>)>> = BTreeMap::new();
        for (id, at, customer) in &batch {
            by_month.entry(month_of(*at)).or_default().push((*id, *customer));
        }
        for (month, orders) in by_month {
            let ids: Vec<i64> = orders.iter().map(|(id, _)| *id).collect();
            let (hot, d, m, i) = (db.to_owned(), dir.to_owned(), month.clone(), ids.clone());
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = open_month(&hot, &d, &m)?;
                copy(
                    &mut conn,
                    &[
                        ("orders", "id"),
                        ("order_items", "order_id"),
                        ("order_status_history", "order_id"),
                        ("payment_events", "order_id"),
                        ("fulfillments", "order_id"),
                        ("fulfillment_lines", "order_id"),
                        ("refunds", "order_id"),
                        ("refund_lines", "order_id"),
                        ("returns", "order_id"),
                        ("return_lines", "order_id"),
                        ("return_history", "order_id"),
                    ],
                    &i,
                )
            })
            .await??;
            let m = month.clone();
            writer
                .run(move |tx| {
                    let list = placeholders(ids.len());
                    let now = now_ms();
                    for (id, customer) in &orders {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO archived_orders(order_id, customer_id, month, archived_at) VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(rusqlite::params![id, customer, m, now])?;
                    }
                    // lines and history go with their order (ON DELETE CASCADE)
                    tx.execute(&format!("DELETE FROM payment_events WHERE order_id IN ({list})"), params_from_iter(&ids))?;
                    tx.execute(&format!("DELETE FROM orders WHERE id IN ({list})"), params_from_iter(&ids))?;
                    Ok::<_, StoreError>(())
                })
                .await?;
            report.orders += orders_len(&batch, &month);
            note_file(&mut report, &month);
        }
        progress(&report);
    }
    // audit rows and finished jobs: by id, a batch at a time
    for (table, time, filter) in
        [("audit_log", "created_at", ""), ("jobs", "finished_at", " AND state IN ('completed', 'failed', 'cancelled')")]
    {
        loop {
            let batch: Vec<(i64, i64)> = read
                .prepare(&format!("SELECT id, {time} FROM {table} WHERE {time} < ?1{filter} ORDER BY id LIMIT ?2"))?
                .query_map(rusqlite::params![before, ROW_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if batch.is_empty() {
                break;
            }
            let mut by_month: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for (id, at) in &batch {
                by_month.entry(month_of(*at)).or_default().push(*id);
            }
            for (month, ids) in by_month {
                let (hot, d, m, i) = (db.to_owned(), dir.to_owned(), month.clone(), ids.clone());
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    let mut conn = open_month(&hot, &d, &m)?;
                    copy(&mut conn, &[(table, "id")], &i)
                })
                .await??;
                let n = ids.len() as u64;
                writer
                    .run(move |tx| {
                        tx.execute(
                            &format!("DELETE FROM {table} WHERE id IN ({})", placeholders(ids.len())),
                            params_from_iter(&ids),
                        )?;
                        Ok::<_, StoreError>(())
                    })
                    .await?;
                if table == "jobs" {
                    report.jobs += n;
                } else {
                    report.audit_rows += n;
                }
                note_file(&mut report, &month);
            }
            progress(&report);
        }
    }
    Ok(report)
}

fn orders_len(batch: &[(i64, i64, Option<i64>)], month: &str) -> u64 {
    batch.iter().filter(|(_, at, _)| month_of(*at) == month).count() as u64
}

fn note_file(report: &mut Report, month: &str) {
    let name = format!("archive-{month}.db");
    if !report.files.contains(&name) {
        report.files.push(name);
    }
}

/// An archived order's file, if it was archived.
pub fn archived_file(conn: &Connection, dir: &Path, order: i64) -> rusqlite::Result<Option<PathBuf>> {
    use rusqlite::OptionalExtension;
    let month: Option<String> = conn
        .prepare_cached("SELECT month FROM archived_orders WHERE order_id = ?1")?
        .query_row([order], |r| r.get(0))
        .optional()?;
    Ok(month.map(|m| file_of(dir, &m)))
}

/// An archived order, read from its month's file.
pub fn archived_order(file: &Path, order: i64) -> rusqlite::Result<Option<crate::orders::store::OrderOut>> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // a file written before shipments (refunds, returns) existed has none to show
    let has = |table: &str| -> rusqlite::Result<bool> {
        conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)", [table], |r| {
            r.get(0)
        })
    };
    // …and an order's columns added since (gift cards, edits, tax-inclusive prices)
    let column = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row("SELECT EXISTS (SELECT 1 FROM pragma_table_info('orders') WHERE name = ?1)", [name], |r| {
            r.get(0)
        })
    };
    let parts = crate::orders::store::Parts {
        shipments: has("fulfillment_lines")?,
        refunds: has("refund_lines")?,
        returns: has("return_history")?,
        gift_cards: false,
        gift_card_paid: column("gift_card_paid")?,
        balance_due: column("balance_due")?,
        tax_included: column("tax_included")?,
    };
    crate::orders::store::detail_in(&conn, order, parts)
}

/// A consistent online copy of the database at `db` into `out` (`VACUUM INTO`: one read
/// transaction, so the copy is the database at one moment, while writes go on).
pub fn backup(db: &Path, out: &Path) -> anyhow::Result<u64> {
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    anyhow::ensure!(!out.exists(), "{} exists; choose a new file", out.display());
    // a plain connection: VACUUM INTO only reads its source, but SQLite refuses it on a
    // connection opened read-only
    let conn = Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // readable by its owner only: a copy holds customers, orders and sessions
    crate::util::create_private(out).with_context(|| format!("creating {}", out.display()))?;
    conn.execute("VACUUM INTO ?1", [out.display().to_string()])
        .with_context(|| format!("writing {}", out.display()))?;
    let check = Connection::open_with_flags(out, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ok: String = check.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    anyhow::ensure!(ok == "ok", "the copy does not pass integrity_check: {ok}");
    Ok(std::fs::metadata(out)?.len())
}
