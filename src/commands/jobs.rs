//! `storefront jobs list | retry | cancel`.

use std::path::Path;

use crate::error::StoreError;
use crate::jobs::store::{self, ChangeError};
use crate::jobs::{Queue, State};
use crate::util::{now_ms, rfc3339};

/// Prints jobs, newest first, and each queue's depth and lag.
pub fn list(db: &Path, state: Option<&str>, queue: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let state = state
        .map(|s| {
            State::parse(s)
                .ok_or_else(|| anyhow::anyhow!("--state must be one of {}", names(&State::ALL.map(State::as_str))))
        })
        .transpose()?;
    let queue = queue
        .map(|q| {
            Queue::parse(q)
                .ok_or_else(|| anyhow::anyhow!("--queue must be one of {}", names(&Queue::ALL.map(Queue::as_str))))
        })
        .transpose()?;
    let conn = crate::db::open_read(db)?;
    let jobs = store::list(&conn, state, queue, None, i64::MAX, limit)?;
    println!(
        "{:>8}  {:<16} {:<8} {:<10} {:>8}  {:<24} last error",
        "id", "kind", "queue", "state", "attempts", "run at"
    );
    for j in &jobs {
        let error = j.errors.last().map(|e| e.error.chars().take(60).collect::<String>()).unwrap_or_default();
        let progress = j.progress.as_ref().map(|p| match p.total {
            Some(t) => format!(" [{}/{}]", p.done, t),
            None => format!(" [{}]", p.done),
        });
        println!(
            "{:>8}  {:<16} {:<8} {:<10} {:>8}  {:<24} {}{}",
            j.id.0,
            j.kind,
            j.queue.as_str(),
            j.state.as_str(),
            format!("{}/{}", j.attempts, j.max_attempts),
            rfc3339(j.run_at.0),
            error,
            progress.unwrap_or_default()
        );
    }
    if jobs.is_empty() {
        println!("(no jobs)");
    }
    for (q, s) in store::queue_stats(&conn, now_ms())? {
        println!("queue {:<8} ready {:>6}, oldest waiting {:.1} s", q.as_str(), s.depth, s.lag_seconds);
    }
    Ok(())
}

fn names(all: &[&str]) -> String {
    all.join(", ")
}

fn change(
    db: &Path,
    id: i64,
    f: fn(&crate::db::writer::WriteTx, i64, i64) -> Result<(), ChangeError>,
) -> anyhow::Result<()> {
    let tool = super::Tool::open(db)?;
    let outcome = tool.write(move |tx| Ok::<_, StoreError>(f(tx, id, now_ms())))?;
    match outcome {
        Ok(()) => Ok(()),
        Err(ChangeError::Store(e)) => Err(e.into()),
        Err(e) => Err(anyhow::anyhow!("job {id}: {e}")),
    }
}

/// Runs a failed, cancelled, retryable or scheduled job again now. A server running on the
/// database takes it at its next wake-up (at the latest with its next recurring task).
pub fn retry(db: &Path, id: i64) -> anyhow::Result<()> {
    change(db, id, store::retry)?;
    println!("job {id} is available again");
    Ok(())
}

pub fn cancel(db: &Path, id: i64) -> anyhow::Result<()> {
    change(db, id, store::cancel)?;
    println!("job {id} cancelled");
    Ok(())
}
