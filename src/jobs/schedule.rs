//! The one place that registers every recurring task, with its schedule.
//!
//! Two scopes:
//! - `Shop` tasks change the shop's data (expire orders, purge old rows, compact the
//!   full-text index, archive): they run once per shop, as jobs in the queue, so whichever
//!   node runs jobs (the primary) takes them, leases and retries included. Each waits as one
//!   job with the unique key `recurring:<name>`; finishing it (or failing for good)
//!   enqueues the next run in the same writer unit, so a crash can neither lose the
//!   schedule nor double it.
//! - `Node` tasks keep this process's memory current (the response cache's hottest pages,
//!   the bestsellers board): every node runs its own, on a timer, while it serves.

use std::time::Duration;

use super::{NewJob, Queue};
use crate::app::AppState;
use crate::config::Config;
use crate::db::writer::WriteTx;
use crate::error::StoreError;
use crate::util::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Shop,
    Node,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub name: &'static str,
    pub scope: Scope,
    pub every: Duration,
    /// the first run comes at once (true) or one period after start
    pub at_start: bool,
    pub queue: Queue,
    pub about: &'static str,
}

/// Every recurring task of the product.
pub fn tasks(c: &Config) -> Vec<Task> {
    let secs = Duration::from_secs;
    let mut tasks = vec![
        Task {
            name: "order_expiry",
            scope: Scope::Shop,
            every: secs(c.order_expiry_check_secs),
            at_start: true,
            queue: Queue::High,
            about: "expire unpaid orders past their deadline; their stock returns",
        },
        Task {
            name: "purge",
            scope: Scope::Shop,
            every: secs(600),
            at_start: false,
            queue: Queue::Low,
            about: "delete idempotency keys past 24 h, auth attempts and reset codes past a day, \
                    completed jobs past jobs_keep_completed_hours, webhook events past webhook_keep_days, \
                    sessions a week after they ended, guest and finished carts past cart_keep_days, \
                    sent mail past mail_keep_days, the change log past a day",
        },
        Task {
            name: "search_upkeep",
            scope: Scope::Shop,
            every: secs(3600),
            at_start: false,
            queue: Queue::Low,
            about: "merge the full-text index's segments (SQLite FTS5), a bounded step at a time",
        },
        Task {
            name: "bestsellers",
            scope: Scope::Node,
            every: secs(c.bestsellers_refresh_secs),
            at_start: true,
            queue: Queue::Low,
            about: "rebuild the bestsellers board when sales came in, and after midnight UTC",
        },
    ];
    tasks.push(Task {
        name: "metrics_upkeep",
        scope: Scope::Node,
        // latency samples wait in memory until folded: at 100k requests/s a second of them
        // is under a megabyte
        every: secs(1),
        at_start: false,
        queue: Queue::Low,
        about: "fold latency samples into their histogram buckets between scrapes; forget rate-limit keys whose quotas are full again",
    });
    if c.archive_after_days > 0 {
        tasks.push(Task {
            name: "archive",
            scope: Scope::Shop,
            every: secs(86_400),
            at_start: false,
            queue: Queue::Low,
            about: "move orders, audit rows and finished jobs older than archive_after_days to monthly files",
        });
    }
    if c.cache_mb > 0 && c.cache_warm_products > 0 {
        tasks.push(Task {
            name: "cache_warm",
            scope: Scope::Node,
            every: secs(c.cache_warm_interval_secs),
            at_start: true,
            queue: Queue::Low,
            about: "refill the response cache's hottest pages",
        });
    }
    tasks
}

fn key(name: &str) -> String {
    format!("recurring:{name}")
}

fn job(task: &Task, run_at: i64) -> NewJob {
    NewJob::new(task.name, serde_json::json!({})).queue(task.queue).unique(key(task.name)).at(run_at)
}

/// Makes sure every shop task has its next run waiting (at the runner's start), and that
/// mail left unsent in the outbox has its sending job.
pub async fn ensure(app: &AppState) -> Result<(), StoreError> {
    let shop: Vec<Task> = tasks(&app.config).into_iter().filter(|t| t.scope == Scope::Shop).collect();
    let sends_mail = app.mailer.sends();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            for t in &shop {
                let at = if t.at_start { now } else { now + t.every.as_millis() as i64 };
                super::store::enqueue_at(tx, &job(t, at), now)?;
            }
            if sends_mail {
                let n = crate::mail::enqueue_unsent(tx, now)?;
                if n > 0 {
                    tracing::info!(mails = n, "sending the mail that waited in the outbox");
                }
            }
            Ok(())
        })
        .await
}

/// After job `kind` finished: when it is a run of a recurring task, enqueue the next one.
pub fn after(tx: &WriteTx, c: &Config, kind: &str, unique_key: Option<&str>, now: i64) -> rusqlite::Result<()> {
    if unique_key.is_none_or(|k| k.strip_prefix("recurring:") != Some(kind)) {
        return Ok(());
    }
    if let Some(t) = tasks(c).into_iter().find(|t| t.name == kind && t.scope == Scope::Shop) {
        super::store::enqueue_at(tx, &job(&t, now + t.every.as_millis() as i64), now)?;
    }
    Ok(())
}

/// Starts this node's own recurring tasks; they end when the returned tasks are aborted.
pub fn start_node_tasks(app: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    tasks(&app.config)
        .into_iter()
        .filter(|t| t.scope == Scope::Node)
        .map(|t| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut first = true;
                loop {
                    if first && !t.at_start {
                        tokio::time::sleep(t.every).await;
                    }
                    let wait = run_node_task(&app, t.name, first).await.unwrap_or(t.every).min(t.every);
                    first = false;
                    tokio::time::sleep(wait).await;
                }
            })
        })
        .collect()
}

/// One run of a node task; returns how long to wait before the next when sooner than its
/// period.
async fn run_node_task(app: &AppState, name: &str, first: bool) -> Option<Duration> {
    match name {
        "cache_warm" => {
            crate::catalog::warm::warm(app).await;
            None
        }
        "bestsellers" => {
            let (board, path) = (app.bestsellers.clone(), app.db.path.clone());
            match tokio::task::spawn_blocking(move || board.refresh(&path, first)).await {
                Ok(Ok(true)) => app.cache.bump_committed(&[crate::catalog::tags::Tag::Bestsellers.to_string()]),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "bestsellers: rebuild failed; SQLite answers meanwhile"),
                Err(e) => tracing::warn!(error = %e, "bestsellers: rebuild panicked"),
            }
            // the day's board is rebuilt just after midnight UTC
            let day = 86_400_000;
            Some(Duration::from_millis((day - now_ms().rem_euclid(day) + 50) as u64))
        }
        "metrics_upkeep" => {
            app.metrics.upkeep();
            app.limits.upkeep();
            None
        }
        other => {
            tracing::error!(task = other, "no such node task");
            None
        }
    }
}

/// The `purge` task: old rows that nobody reads any more, in bounded deletes.
pub async fn purge(app: &AppState) -> anyhow::Result<serde_json::Value> {
    let keep_jobs = app.config.jobs_keep_completed_hours as i64 * 3_600_000;
    let keep_events = app.config.webhook_keep_days as i64 * 86_400_000;
    let keep_carts = app.config.cart_keep_days as i64 * 86_400_000;
    let keep_mail = app.config.mail_keep_days as i64 * 86_400_000;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let keys = crate::orders::store::purge_idempotency(tx, now)?;
            let auth = crate::customers::store::purge(tx, now)?;
            let jobs = super::store::prune(tx, now - keep_jobs, 20_000)?;
            let events = crate::webhooks::store::purge(tx, now - keep_events, 20_000)?;
            // a session is kept a week after it ended (its list of devices still shows it)
            let sessions = crate::customers::store::purge_sessions(tx, now - 7 * 86_400_000, 20_000)?;
            let carts = crate::cart::store::purge(tx, now - keep_carts, 20_000)?;
            let mail = crate::mail::purge_sent(tx, now - keep_mail, 20_000)?;
            // a day of the change log: a replica further behind restores a fresh copy
            let log = tx
                .prepare_cached(
                    "DELETE FROM change_log WHERE position IN
                         (SELECT position FROM change_log WHERE committed_at < ?1 ORDER BY position LIMIT 20000)",
                )?
                .execute([now - 86_400_000])?;
            Ok::<_, StoreError>(serde_json::json!({
                "idempotency_keys": keys, "auth_records": auth, "jobs": jobs, "webhook_events": events,
                "sessions": sessions, "carts": carts, "sent_mail": mail, "change_log": log
            }))
        })
        .await?;
    Ok(out)
}

/// The `search_upkeep` task: FTS5 merges its index's segments a bounded amount per step,
/// a step per writer unit, so search stays fast after many small writes and no unit holds
/// the writer long.
pub async fn search_upkeep(app: &AppState) -> anyhow::Result<()> {
    for _ in 0..50 {
        let changed = app
            .db
            .writer
            .run(|tx| {
                let before = tx.total_changes();
                tx.execute("INSERT INTO products_fts(products_fts, rank) VALUES ('merge', 200)", [])?;
                Ok::<_, StoreError>(tx.total_changes() - before > 1)
            })
            .await?;
        if !changed {
            break;
        }
    }
    Ok(())
}
