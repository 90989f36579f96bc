//! Schema versions. `schema.sql` is the whole current schema: a fresh database runs it once
//! and records [`SCHEMA_VERSION`] in `PRAGMA user_version`. An older database runs the
//! [`STEPS`] above its version, each in its own transaction with the version bump, so an
//! interrupted upgrade leaves the database at the last complete version. A database newer
//! than this binary is refused rather than guessed at.

use std::borrow::Cow;

use rusqlite::Connection;

/// The schema, embedded so the binary needs no file next to it.
pub const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// The version `schema.sql` describes.
pub const SCHEMA_VERSION: i64 = 24;

/// One upgrade: from `to - 1` to `to`.
pub struct Step {
    pub to: i64,
    pub sql: Cow<'static, str>,
    /// what SQL alone cannot say, run first in the step's transaction
    pub code: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

/// Where `schema.sql`'s version-2 section begins: the upgrade runs that section as it
/// stands, so the two cannot drift apart.
const V2_MARKER: &str = "-- version 2: sessions, carts";

/// Where the version-3 section begins (and the version-2 section ends).
const V3_MARKER: &str = "-- version 3: the job queue";

/// Where the version-4 section begins.
const V4_MARKER: &str = "-- version 4: what the purge task deletes";

/// Where the version-5 section begins.
const V5_MARKER: &str = "-- version 5: two-factor login";

/// Where the version-6 section begins.
const V6_MARKER: &str = "-- version 6: the change log";

/// Where the version-7 section begins.
const V7_MARKER: &str = "-- version 7: a session remembers";

/// Where the version-8 section begins.
const V8_MARKER: &str = "-- version 8: the dashboard's product lists";

/// Where the version-9 section begins.
const V9_MARKER: &str = "-- version 9: the dashboard's customer search";

/// Where the version-10 section begins.
const V10_MARKER: &str = "-- version 10: the dashboard's list of one kind of job";

/// Where the version-11 section begins.
const V11_MARKER: &str = "-- version 11: uploaded product images, and settings";

/// Where the version-12 section begins.
const V12_MARKER: &str = "-- version 12: shipments";

/// Where the version-13 section begins.
const V13_MARKER: &str = "-- version 13: refunds";

/// Where the version-14 section begins.
const V14_MARKER: &str = "-- version 14: returns";

/// Where the version-15 section begins.
const V15_MARKER: &str = "-- version 15: gift cards";

/// Where the version-16 section begins.
const V16_MARKER: &str = "-- version 16: order edits";

/// Where the version-17 section begins.
const V17_MARKER: &str = "-- version 17: draft orders";

/// Where the version-18 section begins.
const V18_MARKER: &str = "-- version 18: tax-inclusive prices";

/// Where the version-19 section begins.
const V19_MARKER: &str = "-- version 19: translations";

/// Where the version-20 section begins.
const V20_MARKER: &str = "-- version 20: currencies and price lists";

/// Where the version-21 section begins.
const V21_MARKER: &str = "-- version 21: amounts per currency, and the language of mail";

/// Where the version-22 section begins.
const V22_MARKER: &str = "-- version 22: a gift card's ledger kept together by card";

/// Where the version-23 section begins.
const V23_MARKER: &str = "-- version 23: the full-text index finds a product by its words in every language";

/// Where the version-24 section begins.
const V24_MARKER: &str = "-- version 24: a gift card's balance on its row, its ledger appended";

/// The end of the CHECK on `orders.status` before version 12, and after it.
const STATUS_CHECK_V1: &str = "'cancelled', 'expired'))";
const STATUS_CHECK_V12: &str = "'cancelled', 'expired', 'partially_fulfilled', 'refunded', 'partially_refunded'))";

/// Widens the CHECK of `orders.status` in the database `schema` (`main`, or an attached
/// archive file) to the statuses of version 12, in place. SQLite cannot alter a CHECK, and
/// rebuilding a table of a million orders to loosen one would copy every row; SQLite's
/// documented procedure for a change no stored row can violate is to edit the table's
/// definition with `writable_schema` and bump `schema_version` in the same transaction, so
/// every connection reloads the schema. Returns whether it changed anything.
pub fn widen_order_statuses(conn: &Connection, schema: &str) -> rusqlite::Result<bool> {
    use rusqlite::OptionalExtension;
    let sql: Option<String> = conn
        .query_row(
            &format!("SELECT sql FROM {schema}.sqlite_schema WHERE type = 'table' AND name = 'orders'"),
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(sql) = sql.filter(|s| s.contains(STATUS_CHECK_V1)) else { return Ok(false) };
    let version: i64 = conn.query_row(&format!("PRAGMA {schema}.schema_version"), [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA writable_schema = ON")?;
    let edited = conn.execute(
        &format!("UPDATE {schema}.sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = 'orders'"),
        [sql.replacen(STATUS_CHECK_V1, STATUS_CHECK_V12, 1)],
    );
    let bumped = conn.execute_batch(&format!("PRAGMA {schema}.schema_version = {}", version + 1));
    conn.execute_batch("PRAGMA writable_schema = OFF")?;
    edited?;
    bumped?;
    Ok(true)
}

fn widen_main_order_statuses(conn: &Connection) -> rusqlite::Result<()> {
    widen_order_statuses(conn, "main").map(drop)
}

/// Version 2 adds columns to `orders`: `schema.sql` lists them last, as ALTER leaves them.
const V2_ALTER: &str = "
    ALTER TABLE orders ADD COLUMN session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL;
    ALTER TABLE orders ADD COLUMN cart_id INTEGER REFERENCES carts(id) ON DELETE SET NULL;
    ALTER TABLE orders ADD COLUMN email TEXT NOT NULL DEFAULT '';
    ALTER TABLE orders ADD COLUMN shipping_address TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE orders ADD COLUMN shipping_option TEXT NOT NULL DEFAULT '';
    ALTER TABLE orders ADD COLUMN payment_method TEXT NOT NULL DEFAULT '';
    ALTER TABLE orders ADD COLUMN discount_code TEXT;
    ALTER TABLE orders ADD COLUMN expires_at INTEGER;
    ALTER TABLE orders ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE orders ADD COLUMN payment_ref TEXT;
";

/// Upgrade steps, in order. A step's SQL must leave the database exactly as `schema.sql`
/// creates it at that version (the migration test compares the two).
pub fn steps() -> Vec<Step> {
    let at = |marker: &str| SCHEMA_SQL.find(marker).expect("schema.sql has its version sections");
    let (v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24) = (
        at(V2_MARKER),
        at(V3_MARKER),
        at(V4_MARKER),
        at(V5_MARKER),
        at(V6_MARKER),
        at(V7_MARKER),
        at(V8_MARKER),
        at(V9_MARKER),
        at(V10_MARKER),
        at(V11_MARKER),
        at(V12_MARKER),
        at(V13_MARKER),
        at(V14_MARKER),
        at(V15_MARKER),
        at(V16_MARKER),
        at(V17_MARKER),
        at(V18_MARKER),
        at(V19_MARKER),
        at(V20_MARKER),
        at(V21_MARKER),
        at(V22_MARKER),
        at(V23_MARKER),
        at(V24_MARKER),
    );
    // a section ends where the next one's banner (the dashed line before it) begins
    let end = |next: usize| SCHEMA_SQL[..next].rfind("-- ----").unwrap_or(next);
    vec![
        Step { to: 2, sql: format!("{V2_ALTER}\n{}", &SCHEMA_SQL[v2..end(v3)]).into(), code: None },
        Step { to: 3, sql: SCHEMA_SQL[v3..end(v4)].into(), code: None },
        Step { to: 4, sql: SCHEMA_SQL[v4..end(v5)].into(), code: None },
        Step { to: 5, sql: SCHEMA_SQL[v5..end(v6)].into(), code: None },
        Step { to: 6, sql: SCHEMA_SQL[v6..end(v7)].into(), code: None },
        Step { to: 7, sql: SCHEMA_SQL[v7..end(v8)].into(), code: None },
        Step { to: 8, sql: SCHEMA_SQL[v8..end(v9)].into(), code: None },
        Step { to: 9, sql: SCHEMA_SQL[v9..end(v10)].into(), code: None },
        Step { to: 10, sql: SCHEMA_SQL[v10..end(v11)].into(), code: None },
        Step { to: 11, sql: SCHEMA_SQL[v11..end(v12)].into(), code: None },
        Step { to: 12, sql: SCHEMA_SQL[v12..end(v13)].into(), code: Some(widen_main_order_statuses) },
        Step { to: 13, sql: SCHEMA_SQL[v13..end(v14)].into(), code: None },
        Step { to: 14, sql: SCHEMA_SQL[v14..end(v15)].into(), code: None },
        Step { to: 15, sql: SCHEMA_SQL[v15..end(v16)].into(), code: None },
        Step { to: 16, sql: SCHEMA_SQL[v16..end(v17)].into(), code: None },
        Step { to: 17, sql: SCHEMA_SQL[v17..end(v18)].into(), code: None },
        Step { to: 18, sql: SCHEMA_SQL[v18..end(v19)].into(), code: None },
        Step { to: 19, sql: SCHEMA_SQL[v19..end(v20)].into(), code: None },
        Step { to: 20, sql: SCHEMA_SQL[v20..end(v21)].into(), code: None },
        Step { to: 21, sql: SCHEMA_SQL[v21..end(v22)].into(), code: None },
        Step { to: 22, sql: SCHEMA_SQL[v22..end(v23)].into(), code: None },
        Step { to: 23, sql: SCHEMA_SQL[v23..end(v24)].into(), code: None },
        Step { to: 24, sql: SCHEMA_SQL[v24..].into(), code: None },
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the database is at schema version {found}, newer than this binary's {known}; use a newer storefront")]
    TooNew { found: i64, known: i64 },
    #[error("no upgrade step from schema version {0}")]
    MissingStep(i64),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// What [`migrate`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Migrated {
    Created(i64),
    Upgraded { from: i64, to: i64 },
    Current(i64),
}

pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Creates or upgrades the schema to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<Migrated, MigrateError> {
    migrate_with(conn, SCHEMA_SQL, SCHEMA_VERSION, &steps())
}

/// [`migrate`] with an explicit schema and steps (tests use it to exercise upgrades).
pub fn migrate_with(
    conn: &mut Connection,
    schema: &str,
    target: i64,
    steps: &[Step],
) -> Result<Migrated, MigrateError> {
    let found = version(conn)?;
    if found > target {
        return Err(MigrateError::TooNew { found, known: target });
    }
    if found == target {
        return Ok(Migrated::Current(found));
    }
    if found == 0 {
        let user_tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )?;
        if user_tables == 0 {
            let tx = conn.transaction()?;
            tx.execute_batch(schema)?;
            tx.pragma_update(None, "user_version", target)?;
            tx.commit()?;
            return Ok(Migrated::Created(target));
        }
    }
    let mut at = found;
    while at < target {
        let step = steps.iter().find(|s| s.to == at + 1).ok_or(MigrateError::MissingStep(at))?;
        let tx = conn.transaction()?;
        if let Some(code) = step.code {
            code(&tx)?;
        }
        tx.execute_batch(&step.sql)?;
        tx.pragma_update(None, "user_version", step.to)?;
        tx.commit()?;
        at = step.to;
    }
    Ok(Migrated::Upgraded { from: found, to: target })
}
