//! A replica's copy of the database and how far it has come.
//!
//! The copy is a SQLite file that Litestream's follow mode (`litestream restore -f`, run
//! by [`prepare`] or by a sidecar) keeps current from the primary's replica storage. The
//! server only reads it ([`crate::db::Db::followed`]).
//!
//! What changed reaches this node through the copy itself: the primary's writer appends
//! each commit's change set to `change_log` in the same transaction, at a position. The
//! tailer ([`Follow::tail`]) reads new rows as they arrive and runs the same hooks the
//! writer runs after a commit on the primary (the search index's patch, the bestsellers'
//! note, the L1's tag bumps), then publishes the position: a request waiting for a
//! position ([`Follow::wait_for`]) is answered only once everything up to it is in the
//! copy and in this node's caches and indexes.
//!
//! Lag: the replica learns the primary's latest position from a probe of the primary's
//! `/health` (every 200 ms) and from the answers to the writes it forwards. Its lag is the
//! time since it first learned of a position its copy has not reached yet (0 when it has
//! reached every position it knows of). While the primary cannot be reached no newer
//! position is known: the copy keeps serving reads at its last position (`/ready` shows
//! the primary unreachable).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::db::writer::{ChangeSet, CommitHook};
use crate::db::FollowedConn;
use crate::error::StoreError;

use super::litestream::Supervisor;

/// A change-log row: position and change set (JSON).
type LogRow = (u64, String);

/// How often the tailer looks for new positions in the copy.
const POLL: Duration = Duration::from_millis(10);
/// Change-log rows read per step.
const ROWS_PER_STEP: i64 = 512;
/// Positions the primary is known to have reached, kept while the copy lacks them.
const MAX_PENDING: usize = 4096;

/// Run when the copy cannot be followed row by row (rows purged before the tailer read
/// them, or a copy restored anew from an earlier point): everything derived from the copy
/// starts over.
pub type ResetHook = Box<dyn Fn() + Send + Sync>;

pub struct Follow {
    path: PathBuf,
    /// the position this node's copy, caches and indexes have reached (the detached
    /// writer's position cell, so [`crate::db::writer::Writer::position`] reads it too)
    position: Arc<AtomicU64>,
    notify: tokio::sync::watch::Sender<u64>,
    heads: Mutex<Heads>,
    hooks: Mutex<Vec<CommitHook>>,
    resets: Mutex<Vec<ResetHook>>,
    primary_reachable: AtomicBool,
    stop: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// one probe of the primary's head at a time for readers that claim more than is known
    probing: tokio::sync::Mutex<()>,
}

/// Positions the primary had reached, with when this node learned of each, that the copy
/// has not reached yet (increasing).
#[derive(Default)]
struct Heads {
    pending: VecDeque<(u64, Instant)>,
    /// the furthest position the primary is known to have reached, and when it was asked
    known: Option<(u64, Instant)>,
}

impl Follow {
    /// Follows the copy at `path`, which holds positions up to the one it has now.
    pub fn new(path: &Path, position: Arc<AtomicU64>) -> anyhow::Result<Arc<Follow>> {
        let conn = crate::db::open_read(path).context("opening the copy")?;
        let at = head(&conn).context("reading the copy's change log")?;
        position.store(at, Ordering::SeqCst);
        let (notify, _) = tokio::sync::watch::channel(at);
        Ok(Arc::new(Follow {
            path: path.to_owned(),
            position,
            notify,
            heads: Mutex::new(Heads::default()),
            hooks: Mutex::new(Vec::new()),
            resets: Mutex::new(Vec::new()),
            primary_reachable: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            probing: tokio::sync::Mutex::new(()),
        }))
    }

    /// Runs `hook` with what each newly arrived commit changed (the writer's hooks, on a
    /// replica).
    pub fn on_commit(&self, hook: CommitHook) {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).push(hook);
    }

    /// Runs `hook` when the copy has to be taken as new.
    pub fn on_reset(&self, hook: ResetHook) {
        self.resets.lock().unwrap_or_else(|p| p.into_inner()).push(hook);
    }

    /// The position this node serves (its copy, caches and indexes have reached it).
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::SeqCst)
    }

    /// How far behind the primary this node is (see the module documentation).
    pub fn lag(&self) -> Duration {
        let h = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        h.pending.front().map_or(Duration::ZERO, |(_, at)| at.elapsed())
    }

    pub fn primary_reachable(&self) -> bool {
        self.primary_reachable.load(Ordering::SeqCst)
    }

    /// The primary had reached `position` at `seen` (a probe's answer, a forwarded
    /// write's). Only the primary's own word counts: a client's claimed position does not
    /// move the lag.
    pub fn note_head(&self, position: u64, seen: Instant) {
        let mut h = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        if h.known.is_none_or(|(p, at)| position >= p && seen >= at) {
            h.known = Some((position, seen));
        }
        if position > self.position()
            && h.pending.back().is_none_or(|(p, _)| *p < position)
            && h.pending.len() < MAX_PENDING
        {
            h.pending.push_back((position, seen));
        }
    }

    /// The furthest position the primary had reached when last asked, and when.
    pub fn known_head(&self) -> Option<(u64, Instant)> {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).known
    }

    /// A position a reader claims, as far as the primary has gone: a claim beyond the
    /// known head asks the primary once (concurrent claims share one probe), then counts
    /// as that head, so a made-up position costs no wait. Without an answer, the claim
    /// stands (the wait is bounded by `replica_wait_ms`).
    pub async fn credible(&self, claimed: u64, forward: &super::forward::Forwarder) -> u64 {
        let asked = Instant::now();
        if self.known_head().is_some_and(|(head, _)| claimed <= head) {
            return claimed;
        }
        let _one = self.probing.lock().await;
        // a probe sent after this claim arrived may have answered meanwhile
        if let Some((head, _)) = self.known_head().filter(|(_, at)| *at >= asked) {
            return claimed.min(head);
        }
        let sent = Instant::now();
        match forward.primary_position().await {
            Some(p) => {
                self.note_head(p, sent);
                claimed.min(p)
            }
            None => claimed,
        }
    }

    /// Waits until this node serves `position` or later, at most `max`: true if it does.
    pub async fn wait_for(&self, position: u64, max: Duration) -> bool {
        if self.position() >= position {
            return true;
        }
        let mut rx = self.notify.subscribe();
        let reached = tokio::time::timeout(max, rx.wait_for(|p| *p >= position)).await.is_ok_and(|r| r.is_ok());
        reached
    }

    /// Starts the tailer thread.
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let me = self.clone();
        let handle = std::thread::Builder::new().name("storefront-follow".into()).spawn(move || me.tail())?;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(())
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            h.thread().unpark();
            let _ = h.join();
        }
    }

    fn tail(&self) {
        let mut conn = FollowedConn::default();
        // the first opening is not a new copy
        let _ = conn.get(&self.path);
        let mut failing = false;
        while !self.stop.load(Ordering::SeqCst) {
            match self.step(&mut conn) {
                Ok(more) => {
                    if failing {
                        tracing::info!("following the copy again");
                        failing = false;
                    }
                    if more {
                        continue;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the copy's change log; retrying");
                        failing = true;
                    }
                }
            }
            std::thread::park_timeout(POLL);
        }
    }

    /// Reads what arrived since the last step and applies it; true when there is more.
    fn step(&self, fc: &mut FollowedConn) -> Result<bool, StoreError> {
        let (conn, renewed) = fc.get(&self.path)?;
        let at = self.position();
        crate::db::begin_read(conn)?;
        let read = (|| -> rusqlite::Result<(u64, u64, Vec<LogRow>)> {
            let (low, high) = bounds(conn)?;
            let mut rows = Vec::new();
            if high > at && low <= at + 1 {
                let mut stmt = conn.prepare_cached(
                    "SELECT position, changes FROM change_log WHERE position > ?1 ORDER BY position LIMIT ?2",
                )?;
                let found = stmt.query_map(rusqlite::params![at as i64, ROWS_PER_STEP], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
                })?;
                for row in found {
                    rows.push(row?);
                }
            }
            Ok((low, high, rows))
        })();
        let _ = conn.execute_batch("COMMIT");
        let (low, high, rows) = read?;
        if high == at {
            return Ok(false);
        }
        if renewed || high < at || low > at + 1 {
            // a new copy (restored anew: its history may differ), a copy that went back, or
            // rows purged before they were seen: take it as new
            tracing::warn!(
                served = at,
                copy_from = low,
                copy_to = high,
                "the copy cannot be followed row by row; starting over from it"
            );
            for reset in self.resets.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                reset();
            }
            self.publish(high);
            return Ok(false);
        }
        let Some(last) = rows.last().map(|(p, _)| *p) else { return Ok(false) };
        let mut changes = ChangeSet::default();
        for (position, text) in &rows {
            match ChangeSet::from_json(text) {
                Some(c) => changes.merge(c),
                None => tracing::warn!(position, "unreadable change-log row; skipped"),
            }
        }
        let hooks = self.hooks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for hook in hooks {
            hook(&changes);
        }
        self.publish(last);
        Ok(last < high)
    }

    /// This node now serves `position`.
    fn publish(&self, position: u64) {
        {
            let mut h = self.heads.lock().unwrap_or_else(|p| p.into_inner());
            self.position.store(position, Ordering::SeqCst);
            while h.pending.front().is_some_and(|(p, _)| *p <= position) {
                h.pending.pop_front();
            }
        }
        self.notify.send_replace(position);
    }

    /// Asks the primary for its position every 200 ms for as long as the process runs
    /// (see the module documentation).
    pub async fn probe(self: Arc<Self>, forward: Arc<super::forward::Forwarder>) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let sent = Instant::now();
            match forward.primary_position().await {
                Some(p) => {
                    self.primary_reachable.store(true, Ordering::SeqCst);
                    self.note_head(p, sent);
                }
                None => {
                    if self.primary_reachable.swap(false, Ordering::SeqCst) {
                        tracing::warn!("the primary does not answer; serving reads from the copy as it is");
                    }
                }
            }
        }
    }
}

/// The copy's last position (0 for none).
fn head(conn: &rusqlite::Connection) -> rusqlite::Result<u64> {
    Ok(bounds(conn)?.1)
}

/// The first and last position in the copy's change log (0, 0 when empty).
fn bounds(conn: &rusqlite::Connection) -> rusqlite::Result<(u64, u64)> {
    conn.prepare_cached(
        "SELECT coalesce((SELECT min(position) FROM change_log), 0), coalesce((SELECT max(position) FROM change_log), 0)",
    )?
    .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))
}

/// Gets the copy at `db` ready to serve: starts Litestream's follow mode when `from` is
/// given (else a sidecar is expected to), waits for the copy, switches it out of WAL
/// mode once (readers then see Litestream's in-place changes; see
/// [`crate::db::configure_read`]) and checks its schema.
pub fn prepare(
    db: &Path,
    from: Option<&str>,
    litestream: &str,
    interval: Duration,
) -> anyhow::Result<Option<Arc<Supervisor>>> {
    let txid = sidecar(db, "-txid");
    let supervisor = match from {
        Some(url) => {
            if db.exists() {
                anyhow::ensure!(
                    txid.exists() || !crate::db::is_wal_file(db)?,
                    "{} is a database in WAL mode, not a replica's copy: give the replica a file of its own",
                    db.display()
                );
                // A copy left by an earlier run is restored anew rather than resumed:
                // Litestream resumes only up to its latest snapshot, which a copy that
                // followed past it never can, and a refused resume would take the copy
                // away under a serving replica.
                tracing::info!(db = %db.display(), "restoring the copy anew");
                remove_copy(db);
            }
            // the storage's URL in a 0600 file, not on the command line
            let config =
                super::litestream::write_restore_config(db, url).context("writing the restore configuration")?;
            let args = vec![
                "restore".into(),
                "-config".into(),
                config.into_os_string(),
                "-f".into(),
                "-follow-interval".into(),
                format!("{}ms", interval.as_millis().max(1)).into(),
                "-o".into(),
                db.as_os_str().to_owned(),
                std::path::absolute(db).context("the copy's path")?.into_os_string(),
            ];
            let copy = db.to_owned();
            let on_exit: super::litestream::OnExit = Box::new(move |lines: &[String]| {
                // Litestream cannot resume from the copy (the storage's history moved past
                // it, or it never finished): the copy is restored anew
                if lines.iter().any(|l| l.contains("re-restore")) {
                    tracing::warn!(db = %copy.display(), "the copy cannot be resumed; restoring it anew");
                    remove_copy(&copy);
                }
            });
            Some(Supervisor::start("restore", litestream, args, on_exit).context("starting litestream restore")?)
        }
        None => None,
    };
    // the copy appears (renamed into place) once restored; the transaction id file follows
    let started = Instant::now();
    let mut told = Instant::now();
    loop {
        let present = db.exists() && (from.is_none() || txid.exists());
        let not_yet = if present {
            crate::db::switch_out_of_wal(db).err().map(|e| e.to_string())
        } else {
            Some("no copy yet".into())
        };
        let Some(why) = not_yet else { break };
        // said every 10 s while it lasts
        if told.elapsed() > Duration::from_secs(10) {
            tracing::info!(db = %db.display(), waited_secs = started.elapsed().as_secs(), why, "waiting for the copy of the database");
            told = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let conn = crate::db::open_read(db)?;
    let version = crate::db::migrate::version(&conn)?;
    anyhow::ensure!(
        version == crate::db::migrate::SCHEMA_VERSION,
        "the copy's schema is version {version}, this server's is {}: run the same version as the primary",
        crate::db::migrate::SCHEMA_VERSION
    );
    let limit = crate::db::followed_mmap_limit(&conn)?;
    let size = std::fs::metadata(db)?.len() as i64;
    anyhow::ensure!(
        size <= limit,
        "the copy ({size} bytes) is larger than SQLite's memory map limit of this build ({limit} bytes)"
    );
    tracing::info!(db = %db.display(), secs = started.elapsed().as_secs_f32(), "the copy is ready");
    Ok(supervisor)
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_copy(db: &Path) {
    for p in [db.to_owned(), sidecar(db, "-txid"), sidecar(db, "-wal"), sidecar(db, "-shm"), sidecar(db, "-journal")] {
        let _ = std::fs::remove_file(p);
    }
}
