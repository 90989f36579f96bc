//! `/api/admin/jobs`: the queue as administrators see it; retry and cancel.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::{audit, AdminSession, PER_PAGE};
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::{res, PathId};
use crate::http::respond::data;
use crate::http::{OneOf, Param, QueryParams};
use crate::jobs::store::{self, ChangeError, JobView, QueueStats};
use crate::jobs::{Queue, State as JobState};
use crate::openapi::{AdminErrors, Data, ErrorBody, NotFound, QueryErrors, ReadErrors, WriteErrors};
use crate::util::now_ms;

const STATE: OneOf<JobState> = OneOf::new("state", "");
const QUEUE: OneOf<Queue> = OneOf::new("queue", "");
const KIND: OneOf<crate::jobs::Kind> = OneOf::new("kind", "");
const JOBS_BEFORE: Param =
    Param::int("before", 1, i64::MAX).doc("jobs with ids below this one (the last id of the previous page)");

crate::http::query_params!(
    pub struct JobFilter [STATE.param, QUEUE.param, KIND.param, JOBS_BEFORE, PER_PAGE]
);

#[derive(Serialize, ToSchema)]
pub struct JobsMeta {
    /// per queue: jobs ready to run now, and the age in seconds of the oldest of them
    queues: BTreeMap<String, QueueStats>,
    /// the `before` of the next page; null on the last
    next_before: Option<Id>,
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    data: Vec<JobView>,
    meta: JobsMeta,
}

/// Jobs, newest first
///
/// Filtered by `state`, `queue` and `kind`; `meta.queues` holds each queue's depth (jobs ready to
/// run now) and lag (age of the oldest of them, seconds).
#[utoipa::path(get, path = "/api/admin/jobs", tag = "admin", security(("bearer" = ["admin"])),
    params(JobFilter),
    responses((status = 200, description = "jobs", body = JobList), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_jobs(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let state = q.one_of(&STATE);
    let queue = q.one_of(&QUEUE);
    let kind = q.one_of(&KIND);
    let before = q.int(&JOBS_BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    let (jobs, stats) = app
        .db
        .read(move |c| {
            let jobs = store::list(c, state, queue, kind, before, limit)?;
            let stats = store::queue_stats(c, now_ms())?;
            Ok::<_, ApiError>((jobs, stats))
        })
        .await?;
    let next_before = (jobs.len() as i64 == limit).then(|| jobs.last().map(|j| j.id)).flatten();
    let meta = JobsMeta { queues: stats.into_iter().map(|(q, s)| (q.as_str().to_owned(), s)).collect(), next_before };
    let body = serde_json::to_vec(&JobList { data: jobs, meta }).expect("jobs serialize");
    Ok(crate::http::respond::private_json(StatusCode::OK, body))
}

/// One job
///
/// `{id, kind, queue, state, attempts, max_attempts, run_at, progress: {done, total},
/// errors: [...]}` and what it was given and reported.
#[utoipa::path(get, path = "/api/admin/jobs/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a job id")),
    responses((status = 200, description = "the job", body = Data<JobView>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn get_job(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Job>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let job = app.db.read(move |c| store::get(c, id).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &job.ok_or_else(|| ApiError::not_found("job"))?))
}

fn change_error(e: ChangeError) -> ApiError {
    match e {
        ChangeError::NotFound => ApiError::not_found("job"),
        ChangeError::NotNow(state, why) => {
            ApiError::new(StatusCode::CONFLICT, "job_state", format!("the job is {state}: {why}"))
                .with_detail("state", state)
        }
        ChangeError::Duplicate => ApiError::new(
            StatusCode::CONFLICT,
            "job_duplicate",
            "a job with the same unique key is already waiting; it will do this work",
        ),
        ChangeError::Store(e) => e.into(),
    }
}

async fn change(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    action: &'static str,
    f: fn(&crate::db::writer::WriteTx, i64, i64) -> Result<(), ChangeError>,
) -> Result<Response, ApiError> {
    let job = app
        .db
        .writer
        .run(move |tx| {
            let before = store::get(tx, id)?.ok_or_else(|| ApiError::not_found("job"))?;
            f(tx, id, now_ms()).map_err(change_error)?;
            let after = store::get(tx, id)?.expect("exists");
            let state = |j: &JobView| serde_json::json!({"state": j.state, "max_attempts": j.max_attempts});
            audit(tx, &admin, action, "job", id, Some(&state(&before)), Some(&state(&after)))?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::OK, &job))
}

/// Run a job again now
///
/// For failed, cancelled, retryable or scheduled jobs; a job out of attempts gets one
/// more. 409 `job_state` for a running or completed job, `job_duplicate` when a job with
/// the same unique key waits. Audited.
#[utoipa::path(post, path = "/api/admin/jobs/{id}/retry", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a job id")),
    responses((status = 200, description = "the job, available again", body = Data<JobView>), AdminErrors, NotFound,
        (status = 409, description = "job_state, job_duplicate", body = ErrorBody), WriteErrors))]
pub async fn retry_job(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Job>,
) -> Result<Response, ApiError> {
    change(&app, admin, id, "job.retry", store::retry).await
}

/// Cancel a job
///
/// For jobs that have not finished; a running job's current attempt runs to its end but
/// its outcome is dropped. 409 `job_state` for a finished job. Audited.
#[utoipa::path(delete, path = "/api/admin/jobs/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a job id")),
    responses((status = 200, description = "the job, cancelled", body = Data<JobView>), AdminErrors, NotFound,
        (status = 409, description = "job_state", body = ErrorBody), WriteErrors))]
pub async fn cancel_job(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Job>,
) -> Result<Response, ApiError> {
    change(&app, admin, id, "job.cancel", store::cancel).await
}
