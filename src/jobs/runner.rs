//! The job runner: takes available jobs with a lease, runs each in a task of its own
//! (panics and time limits contained), and records outcomes in batches.
//!
//! - Taking: one writer unit takes as many jobs as there are free slots (`jobs_concurrency`),
//!   in queue priority order, after making due jobs available and taking back jobs whose
//!   lease ran out.
//! - Waiting: with nothing to take, the runner sleeps until the writer's commit hook says a
//!   unit enqueued work, a slot frees while all were busy, or the earliest `run_at` / lease
//!   end it read comes. No timer runs while the queue is empty.
//! - Leases: a heartbeat renews the leases of the running jobs every third of the lease.
//! - Outcomes: finished attempts go to one task that records them in batches (one writer
//!   unit for many), enqueueing the next run of recurring tasks in the same unit.
//! - Shutdown: stop taking jobs, let the running ones finish until the grace deadline,
//!   abort the rest and give them back (available again at once, the attempt not counted).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::{mpsc, watch, Notify, Semaphore};

use super::kinds::{Done, JobCtx, Kind, Perform};
use super::store::{self, Claimed, Outcome};
use super::{backoff, State};
use crate::app::AppState;
use crate::config::Config;
use crate::db::writer::CommitHook;
use crate::error::StoreError;
use crate::util::now_ms;

/// Most jobs taken in one unit.
const MAX_CLAIM: usize = 512;
/// Most outcomes recorded in one unit.
const MAX_FINISH: usize = 2048;

/// The runner's settings, from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// jobs run at once on this node; 0: this node runs none
    pub concurrency: usize,
    pub lease: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub grace: Duration,
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            concurrency: c.jobs_concurrency,
            lease: Duration::from_secs(c.job_lease_secs),
            retry_base: Duration::from_millis(c.job_retry_base_ms),
            retry_max: Duration::from_secs(c.job_retry_max_secs),
            grace: Duration::from_secs(c.jobs_shutdown_grace_secs),
        }
    }
}

/// The queue's handle in the application state: who this worker is and how to wake it.
pub struct Jobs {
    pub settings: Settings,
    worker: String,
    wake: Notify,
    /// set while the runner waits with every slot busy: a finishing job must wake it
    starved: AtomicBool,
    /// jobs completed by this process (the benchmark waits on it)
    pub completed: AtomicU64,
    /// the body of each kind (registered with the application)
    perform: Perform,
}

impl Jobs {
    pub fn new(settings: Settings, perform: Perform) -> Jobs {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".into());
        let mut tag = [0u8; 4];
        let _ = getrandom::fill(&mut tag);
        let worker = format!("{host}:{}:{:08x}", std::process::id(), u32::from_le_bytes(tag));
        Jobs {
            settings,
            worker,
            wake: Notify::new(),
            starved: AtomicBool::new(false),
            completed: AtomicU64::new(0),
            perform,
        }
    }

    /// This process's name on the leases it holds.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The writer's commit hook: a unit that made work available wakes the runner.
    pub fn commit_hook(self: &Arc<Self>) -> CommitHook {
        let me = Arc::downgrade(self);
        Arc::new(move |changes| {
            if changes.tables.contains_key(store::ENQUEUED) {
                if let Some(me) = me.upgrade() {
                    me.wake.notify_one();
                }
            }
        })
    }
}

/// A running runner; [`Runner::shutdown`] stops it.
pub struct Runner {
    stop: watch::Sender<bool>,
    main: tokio::task::JoinHandle<()>,
}

impl Runner {
    /// Stops taking jobs, lets running ones finish until the grace deadline, gives the rest
    /// back, and returns when every outcome is recorded.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.main.await;
    }
}

/// Starts the runner (when this node runs jobs).
pub fn start(app: AppState) -> Option<Runner> {
    if app.jobs.settings.concurrency == 0 {
        return None;
    }
    let (stop, stopped) = watch::channel(false);
    let main = tokio::spawn(main_loop(app, stopped));
    Some(Runner { stop, main })
}

struct Finished {
    id: i64,
    attempt: i64,
    kind: String,
    unique_key: Option<String>,
    outcome: Outcome,
    at: i64,
}

type Running = Arc<Mutex<HashMap<i64, tokio::task::AbortHandle>>>;

async fn main_loop(app: AppState, mut stop: watch::Receiver<bool>) {
    let jobs = app.jobs.clone();
    let total = jobs.settings.concurrency;
    let slots = Arc::new(Semaphore::new(total));
    let running: Running = Arc::default();
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Finished>();
    let completer = tokio::spawn(complete_loop(app.clone(), done_rx));
    let busy = Arc::new(Notify::new());
    let heartbeat = tokio::spawn(heartbeat_loop(app.clone(), slots.clone(), total, busy.clone()));
    if let Err(e) = super::schedule::ensure(&app).await {
        tracing::warn!(error = %e, "could not schedule the recurring tasks; they start with the next run");
    }
    tracing::info!(worker = jobs.worker(), concurrency = total, "job runner started");

    let mut errors = 0u32;
    // the earliest run_at or lease end the last claim saw (read in its unit)
    let mut due: Option<i64> = None;
    while !*stop.borrow() {
        // announced before looking at the slots: a job finishing after the look sees it
        jobs.starved.store(true, Ordering::SeqCst);
        let free = slots.available_permits();
        if free > 0 {
            jobs.starved.store(false, Ordering::SeqCst);
            let want = free.min(MAX_CLAIM);
            match claim(&app, want).await {
                Ok((list, next)) => {
                    due = next;
                    errors = 0;
                    let full = list.len() == want;
                    if !list.is_empty() {
                        busy.notify_one();
                    }
                    for job in list {
                        let permit = slots.clone().try_acquire_owned().expect("claimed no more than the free slots");
                        let id = job.id;
                        let task = tokio::spawn(execute(app.clone(), job, permit, done_tx.clone(), running.clone()));
                        running.lock().expect("running map poisoned").insert(id, task.abort_handle());
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    // the writer is busy or gone: back off rather than spin
                    errors += 1;
                    if !app.db.writer.is_alive() {
                        break;
                    }
                    tracing::warn!(error = %e, "job runner: taking jobs failed");
                    let wait = Duration::from_millis(50u64 << errors.min(6));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
        }
        // with every slot busy, a finishing job wakes the loop; else the next due time does
        let sleep = if free > 0 { due.map(|t| (t - now_ms()).max(0) as u64 + 1) } else { None };
        tokio::select! {
            _ = jobs.wake.notified() => {}
            _ = async {
                match sleep {
                    Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    None => std::future::pending::<()>().await,
                }
            } => {}
            _ = stop.changed() => {}
        }
    }

    // shutdown: no more taking; the running jobs get until the deadline
    let grace = jobs.settings.grace;
    let busy = total - slots.available_permits();
    if busy > 0 {
        tracing::info!(running = busy, grace_secs = grace.as_secs(), "job runner: waiting for running jobs");
    }
    let all_back = tokio::time::timeout(grace, slots.acquire_many(total as u32)).await.is_ok();
    if !all_back {
        let handles: Vec<_> = running.lock().expect("running map poisoned").drain().map(|(_, h)| h).collect();
        tracing::warn!(aborted = handles.len(), "job runner: grace over; giving the unfinished jobs back");
        for h in &handles {
            h.abort();
        }
        // the aborted tasks drop their permits as they unwind
        let _ = tokio::time::timeout(Duration::from_secs(5), slots.acquire_many(total as u32)).await;
    }
    drop(done_tx);
    let _ = completer.await;
    heartbeat.abort();
    let worker = jobs.worker().to_owned();
    match app.db.writer.run(move |tx| store::release(tx, &worker).map_err(StoreError::from)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(released = n, "job runner: jobs given back"),
        Err(e) => tracing::warn!(error = %e, "job runner: could not give jobs back; their leases will run out"),
    }
    tracing::info!("job runner stopped");
}

/// Takes up to `want` jobs; also answers when to look again unwoken (the earliest `run_at`
/// or lease end, read in the same unit, so waiting costs no extra read).
async fn claim(app: &AppState, want: usize) -> Result<(Vec<Claimed>, Option<i64>), StoreError> {
    let worker = app.jobs.worker().to_owned();
    let lease = app.jobs.settings.lease.as_millis() as i64;
    let config = app.config.clone();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let (jobs, ended) = store::claim(tx, &worker, want, now, now + lease)?;
            for e in ended {
                tracing::warn!(job.id = e.id, job.kind = %e.kind, "job failed: its last lease ran out");
                super::schedule::after(tx, &config, &e.kind, e.unique_key.as_deref(), now)?;
            }
            let next = store::next_due(tx, &worker)?;
            Ok::<_, StoreError>((jobs, next))
        })
        .await
}

async fn execute(
    app: AppState,
    job: Claimed,
    permit: tokio::sync::OwnedSemaphorePermit,
    done: mpsc::UnboundedSender<Finished>,
    running: Running,
) {
    let started = Instant::now();
    let jobs = app.jobs.clone();
    let app_metrics = app.clone();
    let mut ctx = JobCtx::new(app, job.id, job.attempt, job.max_attempts, jobs.worker().to_owned());
    let kind = Kind::parse(&job.kind);
    let limit = kind.map_or(Duration::from_secs(120), Kind::time_limit);
    let body = async {
        match kind {
            Some(kind) => AssertUnwindSafe((jobs.perform)(&mut ctx, kind, &job.args)).catch_unwind().await,
            None => Ok(Err(anyhow::anyhow!("unknown job kind {:?} (written by another version?)", job.kind))),
        }
    };
    let result = match tokio::time::timeout(limit, body).await {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(anyhow::anyhow!("the job panicked: {what}"))
        }
        Err(_) => Err(anyhow::anyhow!("the attempt ran past its time limit of {} s", limit.as_secs())),
    };
    drop(ctx);
    let at = now_ms();
    let outcome = match result {
        Ok(Done::Completed(result)) => {
            jobs.completed.fetch_add(1, Ordering::Relaxed);
            Outcome::Completed { result }
        }
        Ok(Done::Snooze(wait)) => Outcome::Snoozed { until: at + wait.as_millis() as i64 },
        Err(e) => {
            let error = format!("{e:#}");
            let s = &jobs.settings;
            let jitter = crate::util::Rng::derive(at as u64, job.id as u64, job.attempt as u64).unit();
            let wait = backoff(job.attempt, s.retry_base, s.retry_max, jitter);
            let permanent = e.downcast_ref::<super::Permanent>().is_some();
            let last = permanent || job.attempt >= job.max_attempts;
            tracing::warn!(job.id = job.id, job.kind = %job.kind, attempt = job.attempt, last, error = %error,
                "job attempt failed");
            Outcome::Failed { error, retry_at: (!permanent).then(|| at + wait.as_millis() as i64) }
        }
    };
    let took = started.elapsed();
    // a snooze is not a run (the job waited for something else)
    if !matches!(outcome, Outcome::Snoozed { .. }) {
        app_metrics.metrics.job_ran(&job.kind, took);
    }
    tracing::debug!(job.id = job.id, job.kind = %job.kind, ms = took.as_millis() as u64, "job ran");
    let _ = done.send(Finished {
        id: job.id,
        attempt: job.attempt,
        kind: job.kind,
        unique_key: job.unique_key,
        outcome,
        at,
    });
    running.lock().expect("running map poisoned").remove(&job.id);
    drop(permit);
    if jobs.starved.swap(false, Ordering::SeqCst) {
        jobs.wake.notify_one();
    }
}

/// Records outcomes, many per writer unit.
async fn complete_loop(app: AppState, mut rx: mpsc::UnboundedReceiver<Finished>) {
    let worker = app.jobs.worker().to_owned();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_FINISH {
            match rx.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let batch = Arc::new(batch);
        let mut tries = 0u32;
        loop {
            let (b, w, config) = (batch.clone(), worker.clone(), app.config.clone());
            let res = app
                .db
                .writer
                .run(move |tx| {
                    let mut failed = Vec::new();
                    for f in b.iter() {
                        let state = store::finish(tx, f.id, f.attempt, &w, &f.outcome, f.at)?;
                        if matches!(state, Some(State::Completed | State::Failed)) {
                            super::schedule::after(tx, &config, &f.kind, f.unique_key.as_deref(), f.at)?;
                        }
                        if state == Some(State::Failed) {
                            tracing::error!(job.id = f.id, job.kind = %f.kind, "job failed for good after its last attempt");
                            failed.push(f.kind.clone());
                        }
                    }
                    Ok::<_, StoreError>(failed)
                })
                .await;
            match res {
                Ok(failed) => {
                    for kind in failed {
                        app.metrics.job_failed(&kind);
                    }
                    break;
                }
                Err(StoreError::WriterGone) => return,
                Err(e) => {
                    // busy writer: try again; the jobs' leases keep them ours meanwhile
                    tries += 1;
                    tracing::warn!(error = %e, tries, "job runner: recording outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50u64 << tries.min(6))).await;
                }
            }
        }
    }
}

/// Renews this worker's leases while any job runs; sleeps without a timer while none does.
async fn heartbeat_loop(app: AppState, slots: Arc<Semaphore>, total: usize, busy: Arc<Notify>) {
    let lease = app.jobs.settings.lease;
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        if slots.available_permits() == total {
            busy.notified().await;
        }
        tokio::time::sleep(every).await;
        if slots.available_permits() == total {
            continue;
        }
        let worker = app.jobs.worker().to_owned();
        let until = now_ms() + lease.as_millis() as i64;
        if let Err(e) = app.db.writer.run(move |tx| store::renew(tx, &worker, until).map_err(StoreError::from)).await {
            tracing::warn!(error = %e, "job runner: renewing leases failed");
        }
    }
}
