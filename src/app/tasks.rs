//! The bodies of the shop's work, registered where the application is assembled: each
//! job kind's body (one exhaustive `match` over [`Kind`]: a new kind cannot be enqueued
//! without one) and each recurring node task's. Which tasks recur, and how often, is
//! `crate::jobs::schedule`'s one list.

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::AppState;
use crate::error::StoreError;
use crate::jobs::kinds::{args, Done, JobCtx, JobResult, Kind};
use crate::jobs::schedule::{tasks, NodeTask, Scope};
use crate::util::now_ms;

#[derive(serde::Deserialize)]
struct Sleep {
    ms: u64,
}

/// Runs one attempt of a job (the queue's registry: `crate::jobs::kinds::Perform`).
pub fn perform<'a>(ctx: &'a mut JobCtx, kind: Kind, raw_args: &'a str) -> BoxFuture<'a, JobResult> {
    async move {
        match kind {
            Kind::Noop => Ok(Done::Completed(None)),
            Kind::Sleep => {
                let a: Sleep = args(raw_args)?;
                tokio::time::sleep(Duration::from_millis(a.ms.min(600_000))).await;
                Ok(Done::Completed(None))
            }
            Kind::Mail => crate::mail::send_job(ctx, args(raw_args)?).await,
            Kind::Refund => crate::orders::provider::job(ctx, args(raw_args)?).await,
            Kind::OrderExpiry => {
                let n = crate::orders::expire_round(&ctx.app).await?;
                Ok(Done::Completed((n > 0).then(|| serde_json::json!({"expired": n}))))
            }
            Kind::Purge => purge(&ctx.app).await.map(|r| Done::Completed(Some(r))),
            Kind::ImportProducts => crate::bulk::import_job(ctx, args(raw_args)?).await,
            Kind::Export => crate::bulk::export_job(ctx, args(raw_args)?).await,
            Kind::Archive => {
                let app = ctx.app.clone();
                let before = now_ms() - app.config.archive_after_days as i64 * 86_400_000;
                let report =
                    crate::archive::run(&app.db.writer, &app.db.path, &app.config.archive_dir(), before, &mut |_| {})
                        .await?;
                Ok(Done::Completed(Some(serde_json::to_value(report)?)))
            }
            Kind::Webhook => crate::webhooks::deliver::job(ctx, args(raw_args)?).await,
            Kind::SearchUpkeep => search_upkeep(&ctx.app).await.map(|()| Done::Completed(None)),
            Kind::MediaThumbnail => {
                crate::media::thumbnail_job(&ctx.app, args(raw_args)?).await.map(|r| Done::Completed(Some(r)))
            }
            Kind::MediaSweep => {
                crate::media::sweep_job(&ctx.app, args(raw_args)?).await.map(|r| Done::Completed(Some(r)))
            }
        }
    }
    .boxed()
}

/// Starts this node's own recurring tasks; they end when the returned tasks are aborted.
pub fn start_node_tasks(app: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    tasks(&app.config)
        .into_iter()
        .filter_map(|t| match t.scope {
            Scope::Node(task) => Some((task, t.every, t.at_start)),
            Scope::Shop(_) => None,
        })
        .map(|(task, every, at_start)| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut first = true;
                loop {
                    if first && !at_start {
                        tokio::time::sleep(every).await;
                    }
                    let wait = run_node_task(&app, task, first).await.unwrap_or(every).min(every);
                    first = false;
                    tokio::time::sleep(wait).await;
                }
            })
        })
        .collect()
}

/// One run of a node task; returns how long to wait before the next when sooner than its
/// period.
async fn run_node_task(app: &AppState, task: NodeTask, first: bool) -> Option<Duration> {
    match task {
        NodeTask::CacheWarm => {
            crate::catalog::warm::warm(app).await;
            None
        }
        NodeTask::Bestsellers => {
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
        NodeTask::MetricsUpkeep => {
            app.metrics.upkeep();
            app.limits.upkeep();
            None
        }
        NodeTask::PriceWindows => {
            let (prices, path) = (app.group_prices.clone(), app.db.path.clone());
            match tokio::task::spawn_blocking(move || prices.windows(&path, now_ms())).await {
                Ok(Ok((passed, next))) => {
                    if passed {
                        // prices changed by the clock, not by a commit: every node renews its
                        // answers itself (each runs this task)
                        app.cache.bump_committed(&[crate::catalog::tags::Tag::Catalog.to_string()]);
                        app.search.forget_markets();
                    }
                    // until the next start or end, or a change of the lists (a new window)
                    let until = next.map_or(Duration::from_secs(60), |t| {
                        Duration::from_millis((t - now_ms()).max(0) as u64 + 1).min(Duration::from_secs(60))
                    });
                    app.group_prices.changed_within(until).await;
                    Some(Duration::ZERO)
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "price windows: cannot read the price lists");
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "price windows: the check panicked");
                    None
                }
            }
        }
        NodeTask::MetricsHistory => {
            let sample = crate::admin::dashboard::sample(app).await;
            app.history.record(sample);
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
            let keys = crate::db::idempotency::purge(tx, now)?;
            let auth = crate::customers::store::purge(tx, now)?;
            let jobs = crate::jobs::store::prune(tx, now - keep_jobs, 20_000)?;
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
    // export files go with their jobs: a file older than a completed job is kept
    let exports = remove_older(&crate::bulk::exports_dir(&app.config), keep_jobs);
    let mut out = out;
    out["export_files"] = serde_json::json!(exports);
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

/// Deletes the files of `dir` last written more than `keep_ms` ago; answers how many.
fn remove_older(dir: &std::path::Path, keep_ms: i64) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let keep = std::time::Duration::from_millis(keep_ms.max(0) as u64);
    let mut n = 0;
    for e in entries.flatten() {
        let old =
            e.metadata().ok().filter(|m| m.is_file()).and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if old.is_some_and(|age| age > keep) && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}
