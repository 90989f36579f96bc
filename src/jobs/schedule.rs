//! The one place that registers every recurring task, with its schedule (the bodies are
//! registered with the application: `crate::app::tasks`).
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

use super::{Kind, NewJob, Queue};
use crate::app::AppState;
use crate::config::Config;
use crate::db::writer::WriteTx;
use crate::error::StoreError;
use crate::util::now_ms;

/// What a recurring task runs: a job of the queue (once per shop), or work of this
/// node's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Shop(Kind),
    Node(NodeTask),
}

/// The recurring work every node does for its own memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTask {
    Bestsellers,
    MetricsUpkeep,
    MetricsHistory,
    CacheWarm,
    PriceWindows,
}

#[derive(Debug, Clone)]
pub struct Task {
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
            scope: Scope::Shop(Kind::OrderExpiry),
            every: secs(c.order_expiry_check_secs),
            at_start: true,
            queue: Queue::High,
            about: "expire unpaid orders past their deadline; their stock returns",
        },
        Task {
            scope: Scope::Shop(Kind::Purge),
            every: secs(600),
            at_start: false,
            queue: Queue::Low,
            about: "delete idempotency keys past 24 h, auth attempts and reset codes past a day, \
                    completed jobs past jobs_keep_completed_hours, webhook events past webhook_keep_days, \
                    sessions a week after they ended, guest and finished carts past cart_keep_days, \
                    sent mail past mail_keep_days, the change log past a day",
        },
        Task {
            scope: Scope::Shop(Kind::SearchUpkeep),
            every: secs(3600),
            at_start: false,
            queue: Queue::Low,
            about: "merge the full-text index's segments (SQLite FTS5), a bounded step at a time",
        },
        Task {
            scope: Scope::Node(NodeTask::PriceWindows),
            every: secs(60),
            at_start: true,
            queue: Queue::Low,
            about: "when a price list's time window starts or ends (a sale), show its prices from that moment: \
                    wakes at the next start or end and renews every cached catalog answer",
        },
        Task {
            scope: Scope::Node(NodeTask::Bestsellers),
            every: secs(c.bestsellers_refresh_secs),
            at_start: true,
            queue: Queue::Low,
            about: "rebuild the bestsellers board when sales came in, and after midnight UTC",
        },
    ];
    tasks.push(Task {
        scope: Scope::Node(NodeTask::MetricsUpkeep),
        // latency samples wait in memory until folded: at 100k requests/s a second of them
        // is under a megabyte
        every: secs(1),
        at_start: false,
        queue: Queue::Low,
        about: "fold latency samples into their histogram buckets between scrapes; forget rate-limit keys whose quotas are full again",
    });
    tasks.push(Task {
        scope: Scope::Node(NodeTask::MetricsHistory),
        every: secs(60),
        at_start: true,
        queue: Queue::Low,
        about: "keep a sample a minute of this node's request and cache figures for the dashboard's charts (an hour, in memory)",
    });
    if c.archive_after_days > 0 {
        tasks.push(Task {
            scope: Scope::Shop(Kind::Archive),
            every: secs(86_400),
            at_start: false,
            queue: Queue::Low,
            about: "move orders, audit rows and finished jobs older than archive_after_days to monthly files",
        });
    }
    if c.cache_mb > 0 && c.cache_warm_products > 0 {
        tasks.push(Task {
            scope: Scope::Node(NodeTask::CacheWarm),
            every: secs(c.cache_warm_interval_secs),
            at_start: true,
            queue: Queue::Low,
            about: "refill the response cache's hottest pages",
        });
    }
    tasks
}

impl Task {
    pub fn name(&self) -> &'static str {
        match self.scope {
            Scope::Shop(kind) => kind.name(),
            Scope::Node(NodeTask::Bestsellers) => "bestsellers",
            Scope::Node(NodeTask::MetricsUpkeep) => "metrics_upkeep",
            Scope::Node(NodeTask::MetricsHistory) => "metrics_history",
            Scope::Node(NodeTask::CacheWarm) => "cache_warm",
            Scope::Node(NodeTask::PriceWindows) => "price_windows",
        }
    }
}

fn key(kind: Kind) -> String {
    format!("recurring:{}", kind.name())
}

fn job(kind: Kind, task: &Task, run_at: i64) -> NewJob {
    NewJob::new(kind, serde_json::json!({})).queue(task.queue).unique(key(kind)).at(run_at)
}

/// The shop's tasks (jobs of the queue).
fn shop_tasks(c: &Config) -> impl Iterator<Item = (Kind, Task)> {
    tasks(c).into_iter().filter_map(|t| match t.scope {
        Scope::Shop(kind) => Some((kind, t)),
        Scope::Node(_) => None,
    })
}

/// Makes sure every shop task has its next run waiting (at the runner's start), and that
/// mail left unsent in the outbox has its sending job.
pub async fn ensure(app: &AppState) -> Result<(), StoreError> {
    let shop: Vec<(Kind, Task)> = shop_tasks(&app.config).collect();
    let sends_mail = app.mailer.sends();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            for (kind, t) in &shop {
                let at = if t.at_start { now } else { now + t.every.as_millis() as i64 };
                super::store::enqueue_at(tx, &job(*kind, t, at), now)?;
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
    if let Some((kind, t)) = shop_tasks(c).find(|(k, _)| k.name() == kind) {
        super::store::enqueue_at(tx, &job(kind, &t, now + t.every.as_millis() as i64), now)?;
    }
    Ok(())
}
