//! The kinds of job this binary runs: each kind's queue, attempts and time limit, and the
//! one `match` that sends a job to its body. A job of a kind this binary does not know (a
//! newer version's) fails its attempts like any other poison job, blocking nothing.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::de::DeserializeOwned;

use super::Queue;
use crate::app::AppState;

/// A job body's answer.
#[derive(Debug)]
pub enum Done {
    /// finished; the value is kept as the job's `result`
    Completed(Option<serde_json::Value>),
    /// not now (an open circuit breaker): run again after this long, without spending an
    /// attempt
    Snooze(Duration),
}

pub type JobResult = anyhow::Result<Done>;

/// What a job body gets: the application, and its own record.
pub struct JobCtx {
    pub app: AppState,
    pub id: i64,
    pub attempt: i64,
    pub max_attempts: i64,
    worker: String,
    last_progress: Option<Instant>,
}

impl JobCtx {
    pub(super) fn new(app: AppState, id: i64, attempt: i64, max_attempts: i64, worker: String) -> JobCtx {
        JobCtx { app, id, attempt, max_attempts, worker, last_progress: None }
    }

    /// Reports `done/total`; written at most every 250 ms (and always when `force`).
    pub async fn progress(&mut self, done: i64, total: Option<i64>, force: bool) -> anyhow::Result<()> {
        if !force && self.last_progress.is_some_and(|t| t.elapsed() < Duration::from_millis(250)) {
            return Ok(());
        }
        self.last_progress = Some(Instant::now());
        let (id, worker) = (self.id, self.worker.clone());
        self.app
            .db
            .writer
            .run(move |tx| super::store::progress(tx, id, &worker, done, total).map_err(crate::error::StoreError::from))
            .await?;
        Ok(())
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// The kinds of work the shop enqueues (`noop` and `sleep` exist for tests and benchmarks).
pub const KINDS: &[&str] =
    &["mail", "webhook", "order_expiry", "import_products", "export", "purge", "search_upkeep", "archive"];

/// A kind's queue and attempts.
pub(super) fn defaults(kind: &str) -> (Queue, i64) {
    match kind {
        "mail" => (Queue::High, 12),
        "webhook" => (Queue::Default, 25),
        "order_expiry" => (Queue::High, 3),
        "import_products" | "export" => (Queue::Default, 3),
        "purge" | "search_upkeep" | "archive" => (Queue::Low, 3),
        _ => (Queue::Default, 5),
    }
}

/// Longest one attempt of a kind may run before it counts as failed.
pub(super) fn time_limit(kind: &str) -> Duration {
    match kind {
        "import_products" | "export" | "archive" => Duration::from_secs(6 * 3600),
        "webhook" => Duration::from_secs(300),
        _ => Duration::from_secs(120),
    }
}

fn args<T: DeserializeOwned>(raw: &str) -> anyhow::Result<T> {
    serde_json::from_str(raw).context("the job's arguments do not parse")
}

#[derive(serde::Deserialize)]
struct Sleep {
    ms: u64,
}

/// Runs one attempt of a job.
pub(super) async fn perform(ctx: &mut JobCtx, kind: &str, raw_args: &str) -> JobResult {
    match kind {
        // does nothing: the queue's own cost (benchmarks, health checks)
        "noop" => Ok(Done::Completed(None)),
        // holds a worker slot (tests of shutdown and leases)
        "sleep" => {
            let a: Sleep = args(raw_args)?;
            tokio::time::sleep(Duration::from_millis(a.ms.min(600_000))).await;
            Ok(Done::Completed(None))
        }
        "mail" => crate::mail::send_job(ctx, args(raw_args)?).await,
        "order_expiry" => {
            let n = crate::orders::expire_round(&ctx.app).await?;
            Ok(Done::Completed((n > 0).then(|| serde_json::json!({"expired": n}))))
        }
        "purge" => super::schedule::purge(&ctx.app).await.map(|r| Done::Completed(Some(r))),
        "import_products" => crate::bulk::import_job(ctx, args(raw_args)?).await,
        "export" => crate::bulk::export_job(ctx, args(raw_args)?).await,
        "archive" => {
            let app = ctx.app.clone();
            let before = crate::util::now_ms() - app.config.archive_after_days as i64 * 86_400_000;
            let report =
                crate::archive::run(&app.db.writer, &app.db.path, &app.config.archive_dir(), before, &mut |_| {})
                    .await?;
            Ok(Done::Completed(Some(serde_json::to_value(report)?)))
        }
        "webhook" => crate::webhooks::deliver::job(ctx, args(raw_args)?).await,
        "search_upkeep" => super::schedule::search_upkeep(&ctx.app).await.map(|()| Done::Completed(None)),
        other => anyhow::bail!("unknown job kind {other:?} (written by another version?)"),
    }
}
