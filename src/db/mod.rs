//! Storage: one SQLite file in WAL mode, read by an r2d2 pool of read-only connections and
//! written by exactly one writer thread (see [`writer`]).
//!
//! Invariants:
//! - This module is the only place that sets PRAGMAs ([`configure_read`], [`configure_write`]).
//! - Request paths never run SQLite on the async worker threads: reads go through
//!   [`Db::read`] (reader threads, bounded wait), writes through [`writer::Writer::run`].
//! - Plans stay stable and prepared statements stay prepared. Every connection turns on the
//!   query planner stability guarantee (QPSG): without it, SQLite marks a statement whose
//!   plan could use a bound value (a `LIMIT ?`, a bound value tested against a partial
//!   index, STAT4 samples) and re-prepares it each time that parameter is bound — measured
//!   here as a third of the listing path's CPU. Statistics are refreshed by [`optimize`],
//!   which keeps `sqlite_stat1` and drops `sqlite_stat4`.

pub mod idempotency;
pub mod migrate;

/// Held (a shared lock on `<db>.lock`) by every process serving the database, for as long
/// as it serves: commands whose writes must reach a server's caches and search index
/// (`storefront import`) refuse to run beside one ([`is_served`]).
pub struct ServingMark(#[allow(dead_code)] std::fs::File);

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    db.with_file_name(name)
}

pub fn mark_serving(db: &Path) -> std::io::Result<ServingMark> {
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path(db))?;
    f.lock_shared()?;
    Ok(ServingMark(f))
}

/// Does a server hold the database now?
pub fn is_served(db: &Path) -> std::io::Result<bool> {
    let path = lock_path(db);
    if !path.exists() {
        return Ok(false);
    }
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    match f.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}
pub mod writer;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

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
    // every statement's run time is reported to the thread's slow-statement log, if any
    conn.trace_v2(rusqlite::trace::TraceEventCodes::SQLITE_TRACE_PROFILE, Some(on_profile));
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // No mmap: pages are read through each connection's bounded page cache, so the
    // process's resident memory stays within the caches' budget (mapped file pages count
    // as resident) and the OS page cache shares the file between connections.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 0;",
    )
}

/// Pragmas of a read-only pool connection: an 8 MiB page cache each.
///
/// A database in a rollback-journal mode is a replica's copy, which another process
/// (Litestream's follow mode) rewrites in place, page by page, under SQLite's file locks.
/// SQLite notices such a change only through the header's change counter, which a commit
/// on the primary (in WAL mode) does not always touch, so a page cache kept across
/// transactions could serve old pages next to new ones. There reads go through a memory
/// map of the whole file instead ([`FOLLOWED_MMAP`]): mapped pages are the file's pages as
/// they are now, never a private copy. SQLite still reads two pages into its cache (page
/// 1, and the file's last page, which it never serves from the map), so every read
/// transaction on a copy begins by dropping them ([`begin_read`]).
pub fn configure_read(conn: &Connection) -> rusqlite::Result<()> {
    configure_common(conn)?;
    // Interrupts a statement that runs past the reader thread's deadline: every 4,000
    // virtual-machine steps (a few microseconds) it looks at the clock.
    conn.progress_handler(4_000, Some(past_read_deadline))?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -8192;")?;
    if is_followed_copy(conn)? {
        conn.execute_batch(&format!("PRAGMA mmap_size = {FOLLOWED_MMAP};"))?;
    }
    Ok(())
}

/// Begins a read transaction; on a replica's copy, first drops the pages SQLite kept from
/// earlier transactions (see [`configure_read`]): they may be older than the file.
pub fn begin_read(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.prepare_cached("PRAGMA journal_mode")?.query_row([], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.release_memory()?;
    }
    conn.prepare_cached("BEGIN")?.execute([])?;
    Ok(())
}

/// The memory map of a replica's copy: larger than any database (SQLite bounds it by its
/// compile-time maximum, raised for this build in `.cargo/config.toml`).
pub const FOLLOWED_MMAP: i64 = 1 << 40;

/// Is this database a replica's copy (a rollback-journal file: every database a server
/// writes is in WAL mode)?
pub fn is_followed_copy(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    Ok(!mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory"))
}

/// How much of a replica's copy SQLite maps (its compile-time maximum may be lower than
/// [`FOLLOWED_MMAP`]): a copy larger than this would be read partly through the page
/// cache, which the server refuses.
pub fn followed_mmap_limit(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA mmap_size = {FOLLOWED_MMAP}"), [], |r| r.get(0))
}

/// Pragmas of the one read-write connection.
pub fn configure_write(conn: &Connection, sync: Synchronous) -> rusqlite::Result<()> {
    configure_common(conn)?;
    conn.execute_batch("PRAGMA cache_size = -16384;")?;
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

/// Opens one read-only connection outside the pool (for a component that reads on a
/// thread of its own, such as the search index's refresh on the writer thread).
pub fn open_read(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    configure_read(&conn)?;
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
        // There is one reader thread per connection, so a checkout never waits; this is
        // the backstop for callers that use the pool directly.
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

/// Statements slower than `threshold` on the threads that watch them are logged with
/// their SQL (never their bound values, which can be personal) and counted.
pub struct SlowStatements {
    pub threshold: Duration,
    pub counter: metrics::Counter,
}

thread_local! {
    /// The slow-statement log of this thread (reader and writer threads of a server).
    static SLOW: std::cell::RefCell<Option<Arc<SlowStatements>>> = const { std::cell::RefCell::new(None) };
    /// When the read job running on this thread must end (reader threads).
    static READ_DEADLINE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Makes the current thread report its slow statements to `slow`.
pub fn watch_slow_statements(slow: &Arc<SlowStatements>) {
    SLOW.with(|s| {
        let mut s = s.borrow_mut();
        if !s.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, slow)) {
            *s = Some(slow.clone());
        }
    });
}

fn on_profile(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Profile(stmt, took) = event {
        SLOW.with(|s| {
            if let Some(slow) = s.borrow().as_ref().filter(|s| took >= s.threshold) {
                slow.counter.increment(1);
                tracing::warn!(sql = %stmt.sql(), ms = took.as_millis() as u64, "slow statement");
            }
        });
    }
}

fn past_read_deadline() -> bool {
    READ_DEADLINE.with(|d| d.get().is_some_and(|d| std::time::Instant::now() >= d))
}

/// What the read path reports and how long a read may run.
#[derive(Clone, Default)]
pub struct ReadObserver {
    /// time a read job waited for a reader thread, in seconds
    pub wait_seconds: Option<metrics::Histogram>,
    pub slow: Option<Arc<SlowStatements>>,
    /// a read job's statements are interrupted after this long (`None`: never)
    pub time_limit: Option<Duration>,
}

/// A read job: runs on a reader thread with a pooled connection inside a read transaction.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

struct Queued {
    job: ReadJob,
    queued_at: std::time::Instant,
    /// QUEUED until a reader claims it (RUNNING) or the caller gives up waiting (ABANDONED)
    state: Arc<AtomicU8>,
}

/// The database as request handlers see it: the read path and the writer.
///
/// Reads run on a fixed set of reader threads, one per pooled connection, fed by a bounded
/// queue. Under load a reader finds the next job already queued and never sleeps, where a
/// blocking-pool task per request paid a thread wake-up (futex) each time — measured at a
/// quarter of the CPU of a product page. Waiting is bounded: a job not started within
/// `read_wait` is abandoned and its caller gets [`StoreError::Busy`] (503 + Retry-After).
#[derive(Clone)]
pub struct Db {
    queue: crossbeam_channel::Sender<Queued>,
    read_wait: Duration,
    pub writer: writer::Writer,
    pub path: PathBuf,
}

impl Db {
    pub fn new(
        pool: ReadPool,
        writer: writer::Writer,
        path: PathBuf,
        read_wait: Duration,
        observer: ReadObserver,
    ) -> Db {
        let readers = pool.max_size() as usize;
        Db::start(readers, Readers::Pool(pool), writer, path, read_wait, observer)
    }

    /// The read path of a replica, on its copy at `path` (see [`configure_read`]): each
    /// reader thread holds its own connection and opens a new one when the file at `path`
    /// is replaced (a copy restored anew). `writer` is a [`writer::Writer::detached`]: a
    /// replica writes nothing.
    pub fn followed(
        readers: usize,
        writer: writer::Writer,
        path: PathBuf,
        read_wait: Duration,
        observer: ReadObserver,
    ) -> Db {
        let source = Readers::Followed(path.clone());
        Db::start(readers.max(1), source, writer, path, read_wait, observer)
    }

    fn start(
        readers: usize,
        source: Readers,
        writer: writer::Writer,
        path: PathBuf,
        read_wait: Duration,
        observer: ReadObserver,
    ) -> Db {
        // room for a burst of a few hundred requests per reader; beyond that, 503 at once
        let (queue, rx) = crossbeam_channel::bounded::<Queued>(readers * 256);
        for i in 0..readers {
            let rx = rx.clone();
            let source = source.clone();
            let observer = observer.clone();
            std::thread::Builder::new()
                .name(format!("storefront-reader-{i}"))
                .spawn(move || reader_loop(&rx, &source, &observer))
                .expect("spawning a reader thread");
        }
        Db { queue, read_wait, writer, path }
    }

    /// Runs `f` on a read-only connection, inside one read transaction (one snapshot for
    /// the whole request), on a reader thread. Fails with [`StoreError::Busy`] when the
    /// queue is full or no reader started the job within the configured bound.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: ReadJob = Box::new(move |conn| {
            // the caller may have gone away (client disconnected): nothing to tell
            let _ = tx.send(f(conn));
        });
        let state = Arc::new(AtomicU8::new(QUEUED));
        self.queue
            .try_send(Queued { job, queued_at: std::time::Instant::now(), state: state.clone() })
            .map_err(|_| StoreError::Busy("read pool"))?;
        // If this future is dropped (the client went away, a timeout fired upstream), the
        // job is abandoned: a reader skips it instead of working for nobody.
        let _abandon = AbandonOnDrop(state.clone());
        let answer = tokio::select! {
            r = &mut rx => r,
            _ = tokio::time::sleep(self.read_wait) => {
                if state.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    return Err(StoreError::Busy("read pool").into());
                }
                // a reader has it already: wait for the answer however long the job takes
                rx.await
            }
        };
        match answer {
            Ok(result) => result,
            // the job was dropped without an answer: it panicked
            Err(_) => Err(StoreError::Aborted("the read job did not complete (see the log)".into()).into()),
        }
    }

    /// Read jobs waiting for a reader (for readiness and metrics).
    pub fn read_queue_depth(&self) -> usize {
        self.queue.len()
    }
}

/// Marks a still-queued read job abandoned when its caller stops waiting.
struct AbandonOnDrop(Arc<AtomicU8>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        // only a queued job: a running one finishes, a finished one is done
        let _ = self.0.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Where reader threads get their connections.
#[derive(Clone)]
enum Readers {
    /// the pool (a primary's database, in WAL mode)
    Pool(ReadPool),
    /// a connection per thread to a replica's copy, opened anew when the file is replaced
    Followed(PathBuf),
}

/// A reader thread's own connection to a replica's copy and the file it was opened on.
#[derive(Default)]
pub struct FollowedConn {
    open: Option<(Connection, u64)>,
}

impl FollowedConn {
    /// The connection, opened (again) if the file at `path` is not the one it was opened
    /// on (a copy restored anew is a new file: the old connection would read the old one);
    /// true when it was opened now.
    pub fn get(&mut self, path: &Path) -> Result<(&Connection, bool), StoreError> {
        use std::os::unix::fs::MetadataExt;
        let missing = |e: std::io::Error| StoreError::Pool(format!("the copy at {}: {e}", path.display()));
        let ino = std::fs::metadata(path).map_err(missing)?.ino();
        let renewed = self.open.as_ref().is_none_or(|(_, i)| *i != ino);
        if renewed {
            self.open = None;
            // A copy just restored says WAL mode in its header; opened so, every
            // connection would hold a shared lock for its whole life and Litestream could
            // never apply a change again.
            switch_out_of_wal(path)?;
            let conn = open_read(path)?;
            self.open = Some((conn, ino));
        }
        Ok((&self.open.as_ref().expect("opened above").0, renewed))
    }
}

/// Does the file's header say WAL mode (bytes 18 and 19 are 2)?
pub fn is_wal_file(db: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let mut f = std::fs::File::open(db)?;
    let n = f.read(&mut header)?;
    Ok(n == 20 && header.starts_with(b"SQLite format 3\0") && header[18] == 2 && header[19] == 2)
}

/// Switches a replica's copy restored from a WAL-mode primary (its header says WAL) to a
/// rollback journal, once, before any reader opens it; Litestream's follow mode keeps it
/// so afterwards.
pub fn switch_out_of_wal(db: &Path) -> rusqlite::Result<()> {
    if !is_wal_file(db).unwrap_or(false) {
        return Ok(());
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("the copy stayed in journal mode {mode}")),
        ));
    }
    Ok(())
}

fn reader_loop(rx: &crossbeam_channel::Receiver<Queued>, source: &Readers, observer: &ReadObserver) {
    if let Some(slow) = &observer.slow {
        watch_slow_statements(slow);
    }
    let mut followed = FollowedConn::default();
    // ends when every `Db` handle (and so every sender) is gone
    while let Ok(q) = rx.recv() {
        if q.state.compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            continue; // its caller stopped waiting
        }
        let started = std::time::Instant::now();
        if let Some(h) = &observer.wait_seconds {
            h.record(started.saturating_duration_since(q.queued_at).as_secs_f64());
        }
        READ_DEADLINE.with(|d| d.set(observer.time_limit.map(|t| started + t)));
        let pooled;
        let conn: &Connection = match source {
            Readers::Pool(pool) => match pool.get() {
                Ok(c) => {
                    pooled = c;
                    &pooled
                }
                Err(e) => {
                    // dropping the job unrun tells the caller (as a failed job)
                    tracing::error!(error = %e, "no read connection");
                    continue;
                }
            },
            Readers::Followed(path) => match followed.get(path) {
                Ok((c, _)) => c,
                Err(e) => {
                    tracing::error!(error = %e, "no read connection");
                    continue;
                }
            },
        };
        // a replica's copy: no page kept from an earlier transaction (see configure_read)
        if matches!(source, Readers::Followed(_)) {
            if let Err(e) = conn.release_memory() {
                tracing::error!(error = %e, "could not drop cached pages of the copy");
                continue;
            }
        }
        // One read transaction per job: every query of the request sees the same snapshot,
        // and the WAL read lock is taken once instead of once per statement.
        if let Err(e) = conn.prepare_cached("BEGIN").and_then(|mut s| s.execute([])) {
            tracing::error!(error = %e, "could not begin a read transaction");
            continue;
        }
        let job = q.job;
        if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            tracing::error!("a read job panicked");
        }
        READ_DEADLINE.with(|d| d.set(None));
        if let Err(e) = conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])) {
            // a read-only transaction has nothing to lose; make sure the connection goes
            // back to the pool clean
            tracing::warn!(error = %e, "ending a read transaction failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_replicas_copy_is_mapped_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = DELETE; CREATE TABLE t(x);").unwrap();
        // this build maps up to a TiB (.cargo/config.toml), not SQLite's default 2 GiB
        assert_eq!(super::followed_mmap_limit(&conn).unwrap(), super::FOLLOWED_MMAP);
        drop(conn);
        let read = super::open_read(&path).unwrap();
        assert!(super::is_followed_copy(&read).unwrap());
        let mapped: i64 = read.query_row("PRAGMA mmap_size", [], |r| r.get(0)).unwrap();
        assert_eq!(mapped, super::FOLLOWED_MMAP);
    }

    /// Litestream rewrites a copy's pages in place and changes the header only when page 1
    /// is among them: a page SQLite kept in its cache (the file's last page is never read
    /// from the map) must not outlive the transaction that read it.
    #[test]
    fn a_copy_changed_under_a_reader_is_read_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = DELETE; CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('AAAAAAAAAAAAAAAA');",
        )
        .unwrap();
        drop(conn);
        let read = super::open_read(&path).unwrap();
        let value = |begin: &dyn Fn(&rusqlite::Connection)| {
            begin(&read);
            let v: String = read.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
            read.execute_batch("COMMIT").unwrap();
            v
        };
        let plain = |c: &rusqlite::Connection| c.execute_batch("BEGIN").unwrap();
        let fresh = |c: &rusqlite::Connection| super::begin_read(c).unwrap();
        assert_eq!(value(&fresh), "AAAAAAAAAAAAAAAA");
        // the row's page rewritten the way Litestream does it: the header left as it was
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(16).position(|w| w == b"AAAAAAAAAAAAAAAA").unwrap();
        bytes[at..at + 16].copy_from_slice(b"BBBBBBBBBBBBBBBB");
        std::fs::write(&path, &bytes).unwrap();
        // the trap: a plain transaction still sees the cached page
        assert_eq!(value(&plain), "AAAAAAAAAAAAAAAA");
        assert_eq!(value(&fresh), "BBBBBBBBBBBBBBBB");
    }
}
