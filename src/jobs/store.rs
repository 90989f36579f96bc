//! Every SQL statement of the job queue. Writes take a [`WriteTx`] (they run on the writer
//! thread, inside a unit); reads take a `&Connection` from the read pool.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Kind, NewJob, Queue, State};
use crate::db::writer::WriteTx;
use crate::util::rfc3339;

/// The writer's change set carries `jobs@enqueued` for a unit that made work available:
/// the runner's commit hook wakes it for exactly these.
pub const ENQUEUED: &str = "jobs@enqueued";

fn note_enqueued(tx: &WriteTx, id: i64) {
    tx.note_only("jobs", "enqueued", id);
}

/// Enqueues `job` in the unit of `tx`. `None`: a job with the same unique key is waiting,
/// and nothing was enqueued.
pub fn enqueue(tx: &WriteTx, job: &NewJob) -> rusqlite::Result<Option<i64>> {
    enqueue_at(tx, job, crate::util::now_ms())
}

pub fn enqueue_at(tx: &WriteTx, job: &NewJob, now: i64) -> rusqlite::Result<Option<i64>> {
    let run_at = job.run_at.unwrap_or(now);
    let state = if run_at > now { State::Scheduled } else { State::Available };
    // DO NOTHING on the partial unique index: the key is taken only while a job waits
    let n = tx
        .prepare_cached(
            "INSERT INTO jobs(kind, queue, priority, state, args, unique_key, max_attempts, run_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            job.kind.name(),
            job.queue.as_str(),
            job.queue.priority(),
            state.as_str(),
            job.args.to_string(),
            job.unique_key,
            job.max_attempts,
            run_at,
            now
        ])?;
    if n == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    note_enqueued(tx, id);
    Ok(Some(id))
}

/// A job a worker has taken.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub queue: String,
    pub args: String,
    /// this attempt's number, from 1
    pub attempt: i64,
    pub max_attempts: i64,
    pub unique_key: Option<String>,
    priority: i64,
    run_at: i64,
}

/// A job that ended without a worker's report (its lease ran out on its last attempt).
#[derive(Debug, Clone)]
pub struct Ended {
    pub id: i64,
    pub kind: String,
    pub unique_key: Option<String>,
}

/// Makes due jobs available, takes back jobs whose lease ran out, and takes up to `limit`
/// available jobs for `worker` with a lease until `lease_until`, in queue priority order.
/// Also returns the jobs that failed for good because their last lease ran out.
pub fn claim(
    tx: &WriteTx,
    worker: &str,
    limit: usize,
    now: i64,
    lease_until: i64,
) -> rusqlite::Result<(Vec<Claimed>, Vec<Ended>)> {
    tx.prepare_cached(
        "UPDATE jobs SET state = 'available' WHERE state IN ('scheduled', 'retryable') AND run_at <= ?1",
    )?
    .execute([now])?;
    // leases that ran out: back to available, or failed after the last attempt (one row at
    // a time: a job whose unique key another waiting job holds is superseded by it)
    let expired: Vec<(i64, String, Option<String>, bool)> = tx
        .prepare_cached(
            "SELECT id, kind, unique_key, attempts >= max_attempts FROM jobs
             WHERE state = 'running' AND locked_until < ?1",
        )?
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let at = rfc3339(now);
    let mut failed = Vec::new();
    for (id, kind, unique_key, last) in expired {
        let back = tx
            .prepare_cached(
                "UPDATE jobs SET
                     state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'available' END,
                     finished_at = CASE WHEN attempts >= max_attempts THEN ?1 END,
                     errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?2,
                              'error', 'the worker running it stopped (its lease ran out)')),
                     locked_by = NULL, locked_until = NULL
                 WHERE id = ?3 RETURNING state",
            )?
            .query_row(params![now, at, id], |r| r.get::<_, String>(0))
            .optional();
        superseded(back, || supersede(tx, id, now))?;
        if last {
            failed.push(Ended { id, kind, unique_key });
        } else {
            note_enqueued(tx, id);
        }
    }
    if limit == 0 {
        return Ok((Vec::new(), failed));
    }
    let mut jobs = tx
        .prepare_cached(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = ?1, locked_until = ?2,
                 started_at = ?3
             WHERE id IN (SELECT id FROM jobs WHERE state = 'available' ORDER BY priority, run_at, id LIMIT ?4)
             RETURNING id, kind, queue, args, attempts, max_attempts, unique_key, priority, run_at",
        )?
        .query_map(params![worker, lease_until, now, limit as i64], |r| {
            Ok(Claimed {
                id: r.get(0)?,
                kind: r.get(1)?,
                queue: r.get(2)?,
                args: r.get(3)?,
                attempt: r.get(4)?,
                max_attempts: r.get(5)?,
                unique_key: r.get(6)?,
                priority: r.get(7)?,
                run_at: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // RETURNING's order is not the subquery's
    jobs.sort_by_key(|j| (j.priority, j.run_at, j.id));
    Ok((jobs, failed))
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Completed {
        result: Option<serde_json::Value>,
    },
    /// not an attempt: wait and run again (an open circuit breaker)
    Snoozed {
        until: i64,
    },
    /// retried at `retry_at` unless it was the last attempt (or `None`: no retry can help)
    Failed {
        error: String,
        retry_at: Option<i64>,
    },
}

/// Records the outcome of `attempt` of job `id` run by `worker`. Returns the state the job
/// is now in, or `None` when the job is no longer this worker's (cancelled meanwhile, or
/// its lease ran out and another worker took it): then nothing changes.
pub fn finish(
    tx: &WriteTx,
    id: i64,
    attempt: i64,
    worker: &str,
    outcome: &Outcome,
    now: i64,
) -> rusqlite::Result<Option<State>> {
    let state: Option<String> = match outcome {
        Outcome::Completed { result } => tx
            .prepare_cached(
                "UPDATE jobs SET state = 'completed', finished_at = ?1, result = ?2, locked_by = NULL,
                     locked_until = NULL, progress_done = coalesce(progress_total, progress_done)
                 WHERE id = ?3 AND attempts = ?4 AND locked_by = ?5 AND state = 'running' RETURNING state",
            )?
            .query_row(params![now, result.as_ref().map(|r| r.to_string()), id, attempt, worker], |r| r.get(0))
            .optional()?,
        Outcome::Snoozed { until } => superseded(
            tx.prepare_cached(
                "UPDATE jobs SET state = 'scheduled', run_at = ?1, attempts = attempts - 1, locked_by = NULL,
                     locked_until = NULL
                 WHERE id = ?2 AND attempts = ?3 AND locked_by = ?4 AND state = 'running' RETURNING state",
            )?
            .query_row(params![until, id, attempt, worker], |r| r.get(0))
            .optional(),
            || supersede(tx, id, now),
        )?,
        Outcome::Failed { error, retry_at } => {
            let error: String = error.chars().take(2000).collect();
            let sql = tx.prepare_cached(
                "UPDATE jobs SET
                     state = CASE WHEN attempts >= max_attempts OR ?1 IS NULL THEN 'failed' ELSE 'retryable' END,
                     run_at = coalesce(?1, run_at),
                     finished_at = CASE WHEN attempts >= max_attempts OR ?1 IS NULL THEN ?2 END,
                     errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?3, 'error', ?4)),
                     locked_by = NULL, locked_until = NULL
                 WHERE id = ?5 AND attempts = ?6 AND locked_by = ?7 AND state = 'running' RETURNING state",
            );
            superseded(
                sql?.query_row(params![retry_at, now, rfc3339(now), error, id, attempt, worker], |r| r.get(0))
                    .optional(),
                || supersede(tx, id, now),
            )?
        }
    };
    // a job put back to wait (snoozed, or to be retried) is work with a new time: the
    // runner, asleep until the times it saw when it last took jobs, has to see this one
    if matches!(state.as_deref(), Some("scheduled" | "retryable")) {
        note_enqueued(tx, id);
    }
    Ok(state.and_then(|s| State::parse(&s)))
}

/// The result of a statement that put a job back to wait, or — when another job with its
/// unique key is waiting already (the unique index refused it) — of `fallback`.
fn superseded<T>(
    result: rusqlite::Result<Option<String>>,
    fallback: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<String>> {
    match result {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            fallback()?;
            Ok(Some(State::Completed.as_str().to_owned()))
        }
        other => other,
    }
}

/// Ends a job whose work a waiting job with the same unique key will do.
fn supersede(tx: &WriteTx, id: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE jobs SET state = 'completed', finished_at = ?1, locked_by = NULL, locked_until = NULL,
             result = json_object('superseded', 'a job with the same unique key waits and does this work')
         WHERE id = ?2",
    )?
    .execute(params![now, id])?;
    Ok(())
}

/// Extends the leases of every job `worker` runs.
pub fn renew(tx: &WriteTx, worker: &str, lease_until: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached("UPDATE jobs SET locked_until = ?1 WHERE locked_by = ?2 AND state = 'running'")?
        .execute(params![lease_until, worker])
}

/// Gives back the jobs `worker` still holds (at shutdown, past the grace): available again
/// at once, the interrupted attempt not counted.
pub fn release(tx: &WriteTx, worker: &str) -> rusqlite::Result<usize> {
    let ids: Vec<i64> = tx
        .prepare_cached("SELECT id FROM jobs WHERE locked_by = ?1 AND state = 'running'")?
        .query_map([worker], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let now = crate::util::now_ms();
    for id in &ids {
        let back = tx
            .prepare_cached(
                "UPDATE jobs SET state = 'available', attempts = attempts - 1, locked_by = NULL, locked_until = NULL
                 WHERE id = ?1 RETURNING state",
            )?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional();
        superseded(back, || supersede(tx, *id, now))?;
        note_enqueued(tx, *id);
    }
    Ok(ids.len())
}

/// A running job's progress.
pub fn progress(tx: &WriteTx, id: i64, worker: &str, done: i64, total: Option<i64>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE jobs SET progress_done = ?1, progress_total = ?2 WHERE id = ?3 AND locked_by = ?4 AND state = 'running'",
    )?
    .execute(params![done, total, id, worker])?;
    Ok(())
}

/// When the runner must look again without being woken: the earliest `run_at` of a
/// waiting job, or the earliest end of another worker's lease.
pub fn next_due(conn: &Connection, worker: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT min(t) FROM (
             SELECT min(run_at) AS t FROM jobs WHERE state IN ('scheduled', 'retryable')
             UNION ALL
             SELECT min(locked_until) FROM jobs WHERE state = 'running' AND locked_by IS NOT ?1)",
    )?
    .query_row([worker], |r| r.get(0))
}

/// Deletes up to `limit` completed jobs that finished before `before`; returns how many.
pub fn prune(tx: &WriteTx, before: i64, limit: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM jobs WHERE id IN
             (SELECT id FROM jobs WHERE finished_at < ?1 AND state = 'completed' LIMIT ?2)",
    )?
    .execute(params![before, limit])
}

/// A job as the admin API and the command line show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: crate::domain::Id,
    pub kind: String,
    pub queue: Queue,
    pub state: State,
    pub attempts: i64,
    pub max_attempts: i64,
    /// when it runs (scheduled), ran (running, finished) or runs again (retryable)
    pub run_at: crate::domain::Timestamp,
    /// `done/total` of a long job (an import); null for jobs that do not report it
    pub progress: Option<Progress>,
    /// one entry per failed attempt
    pub errors: Vec<AttemptError>,
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    /// what a finished job reports (an import's rejected rows, an export's size)
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub unique_key: Option<String>,
    pub created_at: crate::domain::Timestamp,
    pub started_at: Option<crate::domain::Timestamp>,
    pub finished_at: Option<crate::domain::Timestamp>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub done: i64,
    /// null while unknown (a file still being read)
    pub total: Option<i64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AttemptError {
    pub attempt: i64,
    /// RFC 3339
    pub at: String,
    pub error: String,
}

const VIEW_COLUMNS: &str = "id, kind, queue, state, attempts, max_attempts, run_at, progress_done, progress_total,
     errors, args, result, unique_key, created_at, started_at, finished_at";

fn view(r: &rusqlite::Row) -> rusqlite::Result<JobView> {
    let json = |i: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| serde_json::from_str(&s).ok()))
    };
    let done: Option<i64> = r.get(7)?;
    Ok(JobView {
        id: crate::domain::Id(r.get(0)?),
        kind: r.get(1)?,
        queue: Queue::parse(&r.get::<_, String>(2)?).unwrap_or(Queue::Default),
        state: State::parse(&r.get::<_, String>(3)?).unwrap_or(State::Failed),
        attempts: r.get(4)?,
        max_attempts: r.get(5)?,
        run_at: crate::domain::Timestamp(r.get(6)?),
        progress: done.map(|done| Progress { done, total: r.get(8).ok().flatten() }),
        errors: json(9)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        args: json(10)?.unwrap_or(serde_json::Value::Null),
        result: json(11)?,
        unique_key: r.get(12)?,
        created_at: crate::domain::Timestamp(r.get(13)?),
        started_at: r.get::<_, Option<i64>>(14)?.map(crate::domain::Timestamp),
        finished_at: r.get::<_, Option<i64>>(15)?.map(crate::domain::Timestamp),
    })
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<JobView>> {
    conn.prepare_cached(&format!("SELECT {VIEW_COLUMNS} FROM jobs WHERE id = ?1"))?.query_row([id], view).optional()
}

/// Jobs, newest first, filtered by state and queue, below id `before`.
pub fn list(
    conn: &Connection,
    state: Option<State>,
    queue: Option<Queue>,
    kind: Option<Kind>,
    before: i64,
    limit: i64,
) -> rusqlite::Result<Vec<JobView>> {
    let sql = match (state.is_some(), queue.is_some(), kind.is_some()) {
        // one kind walks its own index back (state and queue checked on the way)
        (_, _, true) => {
            "INDEXED BY idx_jobs_kind WHERE kind = ?5 AND (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR queue = ?2)
             AND id < ?3"
        }
        (true, true, false) => "WHERE state = ?1 AND queue = ?2 AND id < ?3 AND ?5 IS NULL",
        (true, false, false) => "WHERE state = ?1 AND ?2 IS NULL AND id < ?3 AND ?5 IS NULL",
        (false, true, false) => "WHERE ?1 IS NULL AND queue = ?2 AND id < ?3 AND ?5 IS NULL",
        (false, false, false) => "WHERE ?1 IS NULL AND ?2 IS NULL AND id < ?3 AND ?5 IS NULL",
    };
    let args = params![state.map(State::as_str), queue.map(Queue::as_str), before, limit, kind.map(Kind::name)];
    conn.prepare_cached(&format!("SELECT {VIEW_COLUMNS} FROM jobs {sql} ORDER BY id DESC LIMIT ?4"))?
        .query_map(args, view)?
        .collect()
}

/// Depth (jobs ready to run now) and lag (age of the oldest of them) of a queue.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub depth: i64,
    pub lag_seconds: f64,
}

pub fn queue_stats(conn: &Connection, now: i64) -> rusqlite::Result<Vec<(Queue, QueueStats)>> {
    let mut out = Vec::new();
    for q in Queue::ALL {
        let (n, oldest): (i64, Option<i64>) = conn
            .prepare_cached(
                "SELECT sum(n), min(oldest) FROM (
                     SELECT count(*) AS n, min(run_at) AS oldest FROM jobs
                         WHERE state = 'available' AND priority = ?1
                     UNION ALL
                     SELECT count(*), min(run_at) FROM jobs
                         WHERE state IN ('scheduled', 'retryable') AND run_at <= ?2 AND queue = ?3)",
            )?
            .query_row(params![q.priority(), now, q.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let lag = oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        out.push((q, QueueStats { depth: n, lag_seconds: lag }));
    }
    Ok(out)
}

/// Jobs per queue and state (the metrics' `storefront_jobs{queue, state}`).
pub fn counts(conn: &Connection) -> rusqlite::Result<Vec<(String, String, i64)>> {
    conn.prepare_cached("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// Why a retry or a cancel was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such job")]
    NotFound,
    #[error("the job is {0}: {1}")]
    NotNow(String, &'static str),
    #[error("a job with the same unique key is already waiting")]
    Duplicate,
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

fn state_of(tx: &Connection, id: i64) -> Result<String, ChangeError> {
    tx.query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get(0)).optional()?.ok_or(ChangeError::NotFound)
}

/// Runs a failed, cancelled, retryable or scheduled job again now; a job out of attempts
/// gets one more.
pub fn retry(tx: &WriteTx, id: i64, now: i64) -> Result<(), ChangeError> {
    let state = state_of(tx, id)?;
    if !["failed", "cancelled", "retryable", "scheduled"].contains(&state.as_str()) {
        return Err(ChangeError::NotNow(state, "only failed, cancelled, retryable or scheduled jobs can be retried"));
    }
    let n = tx
        .prepare_cached(
            "UPDATE jobs SET state = 'available', run_at = ?1, max_attempts = max(max_attempts, attempts + 1),
                 finished_at = NULL
             WHERE id = ?2",
        )?
        .execute(params![now, id]);
    match n {
        Ok(_) => {
            note_enqueued(tx, id);
            Ok(())
        }
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            Err(ChangeError::Duplicate)
        }
        Err(e) => Err(e.into()),
    }
}

/// Cancels a job that has not finished. A running job's attempt runs to its end, but its
/// outcome is dropped.
pub fn cancel(tx: &WriteTx, id: i64, now: i64) -> Result<(), ChangeError> {
    let state = state_of(tx, id)?;
    if ["completed", "failed", "cancelled"].contains(&state.as_str()) {
        return Err(ChangeError::NotNow(state, "it has finished"));
    }
    // a run of a recurring task enqueues the next when it ends: cancelled, the chain
    // (order expiry, the purge, ...) would stop for good
    let unique: Option<String> = tx.query_row("SELECT unique_key FROM jobs WHERE id = ?1", [id], |r| r.get(0))?;
    if unique.is_some_and(|k| k.starts_with("recurring:")) {
        return Err(ChangeError::NotNow(state, "it is a run of a recurring task, which cannot be cancelled"));
    }
    tx.prepare_cached(
        "UPDATE jobs SET state = 'cancelled', finished_at = ?1, locked_by = NULL, locked_until = NULL WHERE id = ?2",
    )?
    .execute(params![now, id])?;
    Ok(())
}
