//! Storage: one SQLite file in WAL mode, read by an r2d2 pool of read-only connections and
//! written by exactly one writer thread (see [`writer`]).
//!
//! Invariants:
//! - This module is the only place that sets PRAGMAs ([`configure_read`], [`configure_write`]).
//! - Request paths never run SQLite on the async worker threads: reads go through
//!   [`Db::read`] (a bounded blocking section), writes through [`writer::Writer::run`].
//! - Plans stay stable: statistics are refreshed by [`optimize`], which keeps `sqlite_stat1`
//!   but drops `sqlite_stat4` (with STAT4 rows, the bundled SQLite re-prepares every statement
//!   whose plan could depend on a bound value, on every execution).

pub mod migrate;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::error::StoreError;

pub type ReadPool = r2d2::Pool<SqliteConnectionManager>;

/// How durable a commit is. `Full` (the default) syncs the WAL on every commit, so an
/// acknowledged write survives power loss; `Normal` survives a process crash only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

/// Statement cache per connection: every request-path statement is prepared once per
/// connection and reused (`prepare_cached`).
const STATEMENT_CACHE: usize = 128;

fn configure_common(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16384;
         PRAGMA mmap_size = 268435456;",
    )
}

/// Pragmas of a read-only pool connection.
pub fn configure_read(conn: &Connection) -> rusqlite::Result<()> {
    configure_common(conn)?;
    conn.execute_batch("PRAGMA query_only = ON;")
}

/// Pragmas of the one read-write connection.
pub fn configure_write(conn: &Connection, sync: Synchronous) -> rusqlite::Result<()> {
    configure_common(conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("the database refused WAL mode (journal_mode = {mode})")),
        ));
    }
    let sync = match sync {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync};
         PRAGMA wal_autocheckpoint = 4000;
         PRAGMA journal_size_limit = 67108864;"
    ))
}

/// Opens the read-write connection (creating the file if needed).
pub fn open_write(path: &Path, sync: Synchronous) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    configure_write(&conn, sync)?;
    Ok(conn)
}

/// Builds the pool of read-only connections.
pub fn open_read_pool(path: &Path, size: u32) -> Result<ReadPool, r2d2::Error> {
    let manager = SqliteConnectionManager::file(path)
        .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI)
        .with_init(|c: &mut Connection| configure_read(c));
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size))
        // Waiting for a connection is bounded by the semaphore in `Db::read`; this is the
        // backstop for callers that use the pool directly.
        .connection_timeout(Duration::from_secs(2))
        .test_on_check_out(false)
        .build(manager)
}

/// Refreshes planner statistics the way the server wants them: `sqlite_stat1` only.
pub fn optimize(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE;")?;
    drop_stat4(conn)
}

/// Removes STAT4 samples (left by any ANALYZE, ours or a user's) and reloads the statistics.
pub fn drop_stat4(conn: &Connection) -> rusqlite::Result<()> {
    let has_stat4: bool =
        conn.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'", [], |r| r.get(0))?;
    if has_stat4 {
        conn.execute_batch("DELETE FROM sqlite_stat4; ANALYZE sqlite_schema;")?;
    }
    Ok(())
}

/// The database as request handlers see it: a bounded read section and the writer.
#[derive(Clone)]
pub struct Db {
    pool: ReadPool,
    /// One permit per pooled connection: waiting happens here, asynchronously and with a
    /// deadline, so blocking threads are only spawned for work that has a connection.
    permits: Arc<Semaphore>,
    read_wait: Duration,
    pub writer: writer::Writer,
    pub path: PathBuf,
}

impl Db {
    pub fn new(pool: ReadPool, writer: writer::Writer, path: PathBuf, read_wait: Duration) -> Db {
        let permits = Arc::new(Semaphore::new(pool.max_size() as usize));
        Db { pool, permits, read_wait, writer, path }
    }

    /// Runs `f` on a read-only connection on the blocking pool. Waits at most `read_wait`
    /// for a connection, then fails with [`StoreError::Busy`] (503 + Retry-After).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let permit = tokio::time::timeout(self.read_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Busy("read pool"))?
            // the semaphore is never closed
            .map_err(|_| StoreError::Busy("read pool"))?;
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool.get().map_err(|e| StoreError::Pool(e.to_string()))?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Panicked(e.to_string()))?
    }

    /// Connections currently handed out (for readiness and metrics).
    pub fn read_in_use(&self) -> usize {
        self.pool.max_size() as usize - self.permits.available_permits()
    }
}

/// Pragmas for an offline bulk load into a new database no server is using (`seed`): no
/// journal, no syncs, no per-row foreign-key lookups (the generator is consistent by
/// construction; a test runs `PRAGMA foreign_key_check` on its output), an exclusive lock
/// and a large cache. A load that dies half-way leaves
/// a file to delete, which is why only `seed` into an empty catalog uses this. The caller
/// restores normal settings with [`end_bulk_load`] when done.
pub fn configure_bulk_load(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA journal_mode = OFF", [], |_| Ok(()))?;
    conn.execute_batch(
        "PRAGMA synchronous = OFF;
         PRAGMA foreign_keys = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -1048576;
         PRAGMA temp_store = MEMORY;",
    )
}

/// Back to the normal settings of the read-write connection after a bulk load.
pub fn end_bulk_load(conn: &Connection, sync: Synchronous) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA locking_mode = NORMAL; PRAGMA cache_size = -16384; PRAGMA foreign_keys = ON;")?;
    configure_write(conn, sync)
}
