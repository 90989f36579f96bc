//! The single writer: one named thread owns the only read-write connection.
//!
//! Callers hand it a unit of work (a closure) over a bounded queue and await the result.
//! The thread takes every unit waiting in the queue (up to `max_batch`) and runs them in ONE
//! transaction, each inside its own savepoint: a unit that fails (or panics) rolls back
//! alone and its neighbours still commit. One commit — one WAL sync with
//! `synchronous=FULL` — then acknowledges the whole batch, which is what makes concurrent
//! writes cheap (group commit). Results are delivered only after the commit succeeded, so
//! an acknowledged write is durable.
//!
//! After each commit the writer runs the commit hooks with the set of rows that changed
//! (captured by SQLite's update hook, so no unit can forget to report a change), before any
//! caller sees its result: a cache invalidated there can never serve a value older than a
//! write its client has seen acknowledged.
//!
//! A full queue is refused at once ([`StoreError::Busy`], 503 + Retry-After): the queue is
//! bounded so overload turns into fast refusals, never into unbounded memory or latency.

use std::collections::{BTreeSet, HashMap};
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::hooks::Action;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::StoreError;

/// The connection as a unit of work sees it: inside the writer's transaction (and the
/// unit's savepoint). Only the writer thread can make one.
pub struct WriteTx<'a>(&'a Connection, &'a Mutex<ChangeSet>);

impl Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.0
    }
}

impl WriteTx<'_> {
    /// Tells the cache tier that this unit changed row `id` of `table` only in `aspect`
    /// (e.g. a product's price): its change set then carries `table@aspect` for the row
    /// instead of `table`, so only what shows that aspect is invalidated. Another unit of
    /// the batch that changes the same row otherwise still reports `table`.
    pub fn note_only(&self, table: &str, aspect: &str, id: i64) {
        self.1.lock().expect("change buffer poisoned").record(&format!("{table}@{aspect}"), id);
    }
}

/// Rows changed by one committed batch, per table. Past [`MAX_IDS_PER_TABLE`] rows a table
/// is reported as changed as a whole.
#[derive(Debug, Default, Clone)]
pub struct ChangeSet {
    pub tables: HashMap<String, TableChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableChange {
    Rows(BTreeSet<i64>),
    All,
}

const MAX_IDS_PER_TABLE: usize = 10_000;

impl ChangeSet {
    fn record(&mut self, table: &str, rowid: i64) {
        let entry = match self.tables.get_mut(table) {
            Some(e) => e,
            None => self.tables.entry(table.to_owned()).or_insert_with(|| TableChange::Rows(BTreeSet::new())),
        };
        if let TableChange::Rows(rows) = entry {
            rows.insert(rowid);
            if rows.len() > MAX_IDS_PER_TABLE {
                *entry = TableChange::All;
            }
        }
    }

    /// Applies the unit's [`WriteTx::note_only`] notes: a row noted `table@aspect` leaves
    /// `table`'s rows.
    fn fold_notes(&mut self) {
        let notes: Vec<(String, BTreeSet<i64>)> = self
            .tables
            .iter()
            .filter_map(|(k, v)| match (k.split_once('@'), v) {
                (Some((table, _)), TableChange::Rows(ids)) => Some((table.to_owned(), ids.clone())),
                _ => None,
            })
            .collect();
        for (table, ids) in notes {
            if let Some(TableChange::Rows(rows)) = self.tables.get_mut(&table) {
                rows.retain(|r| !ids.contains(r));
                if rows.is_empty() {
                    self.tables.remove(&table);
                }
            }
        }
    }

    pub fn merge(&mut self, other: ChangeSet) {
        for (table, change) in other.tables {
            match change {
                TableChange::All => {
                    self.tables.insert(table, TableChange::All);
                }
                TableChange::Rows(rows) => {
                    for id in rows {
                        self.record(&table, id);
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// As the change log keeps it: `{"table": [rowid, ...] | "all", ...}`.
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .tables
            .iter()
            .map(|(t, c)| {
                let v = match c {
                    TableChange::All => serde_json::json!("all"),
                    TableChange::Rows(rows) => serde_json::json!(rows),
                };
                (t.clone(), v)
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// A change set read back from the change log.
    pub fn from_json(text: &str) -> Option<ChangeSet> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
        let mut out = ChangeSet::default();
        for (t, v) in map {
            let change = match v {
                serde_json::Value::String(s) if s == "all" => TableChange::All,
                serde_json::Value::Array(ids) => TableChange::Rows(ids.iter().filter_map(|i| i.as_i64()).collect()),
                _ => return None,
            };
            out.tables.insert(t, change);
        }
        Some(out)
    }

    /// Did `table` change at all (in any aspect)?
    pub fn touches(&self, table: &str) -> bool {
        self.tables.keys().any(|k| k == table || k.strip_prefix(table).is_some_and(|rest| rest.starts_with('@')))
    }

    /// Every changed row of `table`, whatever aspect its unit noted (`table` and every
    /// `table@aspect`): for readers that mirror the rows rather than show aspects of them.
    pub fn all_rows(&self, table: &str) -> Option<TableChange> {
        let mut out: Option<TableChange> = None;
        for (k, v) in &self.tables {
            if !(k == table || k.strip_prefix(table).is_some_and(|rest| rest.starts_with('@'))) {
                continue;
            }
            out = Some(match (out, v) {
                (Some(TableChange::All), _) | (_, TableChange::All) => TableChange::All,
                (Some(TableChange::Rows(mut a)), TableChange::Rows(b)) => {
                    a.extend(b.iter().copied());
                    TableChange::Rows(a)
                }
                (None, TableChange::Rows(b)) => TableChange::Rows(b.clone()),
            });
        }
        out
    }
}

pub type CommitHook = Arc<dyn Fn(&ChangeSet) + Send + Sync>;

/// Counters of the writer's work, readable from any thread.
#[derive(Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub units: AtomicU64,
    pub units_failed: AtomicU64,
    pub commit_failures: AtomicU64,
    pub max_batch_seen: AtomicU64,
    /// total commit latency (BEGIN to COMMIT done) in microseconds
    pub commit_micros: AtomicU64,
    /// queued units not yet taken by the writer
    pub queue_depth: AtomicUsize,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StatsSnapshot {
    pub batches: u64,
    pub units: u64,
    pub units_failed: u64,
    pub commit_failures: u64,
    pub max_batch: u64,
    pub mean_batch: f64,
    pub mean_commit_micros: f64,
    pub queue_depth: usize,
}

/// Settings of the writer thread.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Units waiting beyond this are refused with 503.
    pub queue_capacity: usize,
    /// At most this many units share one transaction (1 = one transaction per unit).
    pub max_batch: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { queue_capacity: 4096, max_batch: 512 }
    }
}

type Deliver = Box<dyn FnOnce(Option<&StoreError>) + Send>;

struct Outcome {
    ok: bool,
    deliver: Deliver,
}

/// A unit of work as the writer thread holds it.
type Unit = Box<dyn FnOnce(&WriteTx<'_>) -> Outcome + Send>;

enum Msg {
    Unit(Unit),
    Shutdown,
}

struct Shared {
    stats: WriterStats,
    hooks: Mutex<Vec<CommitHook>>,
    alive: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    observer: std::sync::OnceLock<WriterObserver>,
    /// the change log's last position, committed (see [`Writer::position`]); on a
    /// replica, the last position its copy was seen to hold
    position: Arc<AtomicU64>,
}

/// Where the writer reports each batch (metrics), set once by whoever exports them.
#[derive(Clone)]
pub struct WriterObserver {
    /// units per committed transaction
    pub batch_size: metrics::Histogram,
    /// BEGIN to COMMIT done, in seconds
    pub commit_seconds: metrics::Histogram,
    /// statements over the slow-statement bound on the writer thread
    pub slow: Option<Arc<super::SlowStatements>>,
}

/// Clears `alive` however the writer thread ends, a panic included (e.g. in a commit
/// hook): readiness must then report the writer stopped rather than a node that accepts
/// writes it can never commit.
struct AliveGuard<'a>(&'a AtomicBool);

impl Drop for AliveGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Msg>,
    shared: Arc<Shared>,
}

impl Writer {
    /// Starts the writer thread on `conn`, which must be the read-write connection.
    pub fn start(conn: Connection, config: WriterConfig) -> std::io::Result<Writer> {
        let (queue, rx) = sync_channel(config.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            stats: WriterStats::default(),
            hooks: Mutex::new(Vec::new()),
            alive: AtomicBool::new(true),
            thread: Mutex::new(None),
            observer: std::sync::OnceLock::new(),
            position: Arc::new(AtomicU64::new(0)),
        });
        // a database without the change log (a bare test schema) is written without one
        let logged = conn
            .query_row("SELECT coalesce((SELECT max(position) FROM change_log), 0)", [], |r| r.get::<_, i64>(0))
            .ok();
        if let Some(p) = logged {
            shared.position.store(p as u64, Ordering::SeqCst);
        }
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new().name("storefront-writer".into()).spawn(move || {
            let _alive = AliveGuard(&thread_shared.alive);
            writer_loop(conn, rx, &thread_shared, config.max_batch.max(1), logged.is_some());
        })?;
        *shared.thread.lock().expect("writer thread slot poisoned") = Some(handle);
        Ok(Writer { queue, shared })
    }

    /// The writer of a replica: there is none. Every unit fails at once with
    /// [`StoreError::WriterGone`] (a replica forwards writes to its primary before they
    /// reach a handler; what is left are best-effort touches, such as a session's last
    /// use, which the primary records when the session writes). [`Writer::position`] is
    /// the position the replica's copy has reached ([`Writer::set_position`]).
    pub fn detached() -> Writer {
        let (queue, _rx) = sync_channel(1);
        let shared = Arc::new(Shared {
            stats: WriterStats::default(),
            hooks: Mutex::new(Vec::new()),
            alive: AtomicBool::new(false),
            thread: Mutex::new(None),
            observer: std::sync::OnceLock::new(),
            position: Arc::new(AtomicU64::new(0)),
        });
        Writer { queue, shared }
    }

    /// A replica's copy reached `position` (see [`Writer::detached`]).
    pub fn set_position(&self, position: u64) {
        self.shared.position.store(position, Ordering::SeqCst);
    }

    /// The position as a shared cell, for readers that must not hold the writer.
    pub fn position_cell(&self) -> Arc<AtomicU64> {
        self.shared.position.clone()
    }

    /// Runs `f` in the writer's transaction and returns its result once committed.
    /// An `Err` from `f` rolls back `f`'s own changes only.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&WriteTx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let unit = move |wtx: &WriteTx<'_>| {
            let result = f(wtx);
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_error: Option<&StoreError>| {
                let result = match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(E::from(e.clone())),
                    (_, result) => result,
                };
                // the caller may have gone away (client disconnected): nothing to tell
                let _ = tx.send(result);
            });
            Outcome { ok, deliver }
        };
        self.shared.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(Msg::Unit(Box::new(unit))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.shared.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                return Err(StoreError::Busy("writer queue").into());
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                return Err(StoreError::WriterGone.into());
            }
        }
        match rx.await {
            Ok(result) => result,
            // the unit was dropped without delivering: it panicked
            Err(_) => Err(StoreError::Panicked("a write unit panicked".into()).into()),
        }
    }

    /// Registers a hook the writer runs after every commit that changed something.
    pub fn on_commit(&self, hook: CommitHook) {
        self.shared.hooks.lock().expect("writer hooks poisoned").push(hook);
    }

    /// Reports every batch to `observer` from now on (the first call wins).
    pub fn observe(&self, observer: WriterObserver) {
        let _ = self.shared.observer.set(observer);
    }

    /// The position of the last committed transaction that changed something (its row in
    /// the change log): a write acknowledged to a caller is at this position or before.
    pub fn position(&self) -> u64 {
        self.shared.position.load(Ordering::SeqCst)
    }

    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.shared.stats;
        let batches = s.batches.load(Ordering::Relaxed);
        let units = s.units.load(Ordering::Relaxed);
        StatsSnapshot {
            batches,
            units,
            units_failed: s.units_failed.load(Ordering::Relaxed),
            commit_failures: s.commit_failures.load(Ordering::Relaxed),
            max_batch: s.max_batch_seen.load(Ordering::Relaxed),
            mean_batch: if batches == 0 { 0.0 } else { units as f64 / batches as f64 },
            mean_commit_micros: if batches == 0 {
                0.0
            } else {
                s.commit_micros.load(Ordering::Relaxed) as f64 / batches as f64
            },
            queue_depth: s.queue_depth.load(Ordering::Relaxed),
        }
    }

    /// Lets the writer commit everything queued before this call, then stops the thread.
    /// Units submitted afterwards fail with [`StoreError::WriterGone`].
    pub fn shutdown(&self) {
        // A blocking send: the queue may be full, and everything in it gets committed first.
        let _ = self.queue.send(Msg::Shutdown);
        let handle = self.shared.thread.lock().expect("writer thread slot poisoned").take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

fn writer_loop(mut conn: Connection, rx: Receiver<Msg>, shared: &Shared, max_batch: usize, logged: bool) {
    // Changes of the running unit, filled by SQLite's update hook on this thread.
    let pending: Arc<Mutex<ChangeSet>> = Arc::default();
    let hook_pending = pending.clone();
    if let Err(e) = conn.update_hook(Some(move |_: Action, _db: &str, table: &str, rowid: i64| {
        if !table.starts_with("sqlite_") {
            hook_pending.lock().expect("change buffer poisoned").record(table, rowid);
        }
    })) {
        tracing::error!(error = %e, "could not install the update hook; cache invalidation will be coarse");
    }

    let mut batch = Vec::with_capacity(max_batch);
    let mut stopping = false;
    while !stopping {
        match rx.recv() {
            Ok(Msg::Unit(u)) => batch.push(u),
            Ok(Msg::Shutdown) | Err(_) => break,
        }
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(Msg::Unit(u)) => batch.push(u),
                Ok(Msg::Shutdown) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        shared.stats.queue_depth.fetch_sub(batch.len(), Ordering::Relaxed);
        run_batch(&mut conn, &mut batch, shared, &pending, logged);
    }
    // Anything still queued after Shutdown is refused: its senders see the channel close.
    drop(rx);
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
        tracing::warn!(error = %e, "checkpoint at writer shutdown failed");
    }
    tracing::info!("writer stopped");
}

fn run_batch(conn: &mut Connection, batch: &mut Vec<Unit>, shared: &Shared, pending: &Mutex<ChangeSet>, logged: bool) {
    let observer = shared.observer.get();
    if let Some(slow) = observer.and_then(|o| o.slow.as_ref()) {
        super::watch_slow_statements(slow);
    }
    let started = Instant::now();
    let size = batch.len() as u64;
    let mut delivers: Vec<Deliver> = Vec::with_capacity(batch.len());
    let mut committed = ChangeSet::default();
    let mut failure: Option<StoreError> = None;

    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        failure = Some(StoreError::from(e));
    }
    for unit in batch.drain(..) {
        if failure.is_some() {
            // The transaction is gone: refuse the rest of the batch rather than run it
            // outside a transaction.
            drop(unit);
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT unit") {
            failure = Some(StoreError::from(e));
            continue;
        }
        *pending.lock().expect("change buffer poisoned") = ChangeSet::default();
        let wtx = WriteTx(conn, pending);
        let outcome = catch_unwind(AssertUnwindSafe(|| unit(&wtx)));
        let keep = matches!(&outcome, Ok(o) if o.ok);
        let mut changes = std::mem::take(&mut *pending.lock().expect("change buffer poisoned"));
        changes.fold_notes();
        if conn.is_autocommit() {
            // SQLite rolled back the whole transaction (e.g. disk full): the units before
            // this one are lost too, so the whole batch fails.
            failure = Some(StoreError::Aborted("the transaction was rolled back by the database".into()));
        } else if keep {
            if let Err(e) = conn.execute_batch("RELEASE unit") {
                failure = Some(StoreError::from(e));
            }
            committed.merge(changes);
        } else {
            shared.stats.units_failed.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = conn.execute_batch("ROLLBACK TO unit; RELEASE unit") {
                failure = Some(StoreError::from(e));
            }
        }
        match outcome {
            Ok(o) => delivers.push(o.deliver),
            Err(_) => tracing::error!("a write unit panicked; its changes were rolled back"),
        }
    }
    // the change log's row, in the same transaction: what this commit changed, at which
    // position
    let mut position = None;
    if failure.is_none() && logged && !committed.is_empty() {
        let row = conn
            .prepare_cached("INSERT INTO change_log(committed_at, changes) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(rusqlite::params![crate::util::now_ms(), committed.to_json()]));
        match row {
            Ok(_) => position = Some(conn.last_insert_rowid()),
            Err(e) => failure = Some(StoreError::from(e)),
        }
    }
    if failure.is_none() {
        if let Err(e) = conn.execute_batch("COMMIT") {
            failure = Some(StoreError::from(e));
        }
    }
    if let (None, Some(p)) = (&failure, position) {
        shared.position.store(p as u64, Ordering::SeqCst);
    }
    if let Some(e) = &failure {
        shared.stats.commit_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, units = size, "write batch failed; rolling back");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    } else if !committed.is_empty() {
        let hooks = shared.hooks.lock().expect("writer hooks poisoned").clone();
        for hook in hooks {
            hook(&committed);
        }
    }

    let stats = &shared.stats;
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.units.fetch_add(size, Ordering::Relaxed);
    stats.max_batch_seen.fetch_max(size, Ordering::Relaxed);
    let took = started.elapsed();
    stats.commit_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    if let Some(o) = observer {
        o.batch_size.record(size as f64);
        o.commit_seconds.record(took.as_secs_f64());
    }

    for deliver in delivers {
        deliver(failure.as_ref());
    }
}
