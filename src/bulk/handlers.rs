//! `/api/admin/imports` and `/api/admin/exports`: start a job, follow it at
//! `/api/admin/jobs/{id}`, fetch an export's file when it is done.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::export::Kind;
use super::import::{Format, Source};
use crate::admin::{audit, AdminSession};
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::{res, PathId};
use crate::http::respond::data;
use crate::http::{Checks, JsonBody, QueryParams};
use crate::jobs::NewJob;
use crate::openapi::{AdminErrors, BodyErrors, Data, ErrorBody, NotFound, QueryErrors, ReadErrors, WriteErrors};

#[derive(Serialize, ToSchema)]
pub struct JobStarted {
    /// follow it at `GET /api/admin/jobs/{job_id}`
    job_id: Id,
}

/// One product row of an import file (a CSV row under its header, or a JSON line).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportRow {
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    sku: String,
    #[schema(max_length = 300, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    name: String,
    /// default: made from the name (or the sku)
    #[schema(extensions(("x-pattern" = json!(crate::domain::SLUG_PATTERN))))]
    slug: Option<String>,
    #[schema(max_length = 20000, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    description: Option<String>,
    /// a category's slug (a row naming none that exists is rejected)
    #[schema(extensions(("x-pattern" = json!(crate::domain::SLUG_PATTERN))))]
    category: String,
    /// a brand's slug
    #[schema(extensions(("x-pattern" = json!(crate::domain::SLUG_PATTERN))))]
    brand: Option<String>,
    /// minor units
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    price: i64,
    /// minor units, below price; empty: no sale
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    sale_price: Option<i64>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: i64,
    /// false: a draft (not listed); default true for a new product, unchanged for a known one
    active: Option<bool>,
}

fn format_of(headers: &HeaderMap) -> Option<Format> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    match mime.as_str() {
        "text/csv" => Some(Format::Csv),
        "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" => Some(Format::Jsonl),
        _ => None,
    }
}

fn random_name() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("the OS random source works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Import products from a file
///
/// The body is the file: `text/csv` with a header row, or `application/x-ndjson` (one JSON
/// object per line), of products `sku, name, slug?, description?, category (slug), brand
/// (slug)?, price, sale_price?, stock, active?` (prices in minor units), and translations:
/// CSV columns `name@de`, `description@de`, `slug@de` (any of the shop's other languages),
/// in JSON lines `"translations": {"de": {"name", "description", "slug"}}`; a language
/// with any text needs its name, and its slug (made from the name when not given) must be
/// free in that language (else the row is rejected naming `slug@de`). Rows are upserted
/// by `sku` in batches while the shop keeps serving: a new sku creates an active product
/// (draft with `active=false`); a known one gets the row's name, category, prices (an empty
/// `sale_price` ends a sale) and stock, and its slug, description, brand and status when
/// given. Answers 202 with the job; `GET /api/admin/jobs/{id}` shows `progress` (rows
/// done/total) and, when done, `result`: counts and each rejected row (line, field,
/// reason). Refused at once with 422: a file without rows, a CSV whose header lacks a
/// required column or names an unknown one, JSON lines whose first line is not a JSON
/// object. Up to `import_max_mb` (1024) MiB, else 413. A row may be up to 1 MiB: a longer
/// one (a quote never closed, a file that is not CSV) fails the job, naming its line, before
/// any row is written.
#[utoipa::path(post, path = "/api/admin/imports", tag = "admin", security(("bearer" = ["admin"])),
    request_body(description = "the file: its rows as CSV under a header row naming the columns, or one JSON object per line",
        content((Vec<ImportRow> = "text/csv"), (Vec<ImportRow> = "application/x-ndjson"))),
    responses((status = 202, description = "the import job", body = Data<JobStarted>), AdminErrors,
        (status = 400, description = "body_read: the upload broke off before its end", body = ErrorBody),
        (status = 408, description = "request_timeout: nothing of the file arrived for request_body_timeout_secs", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 415, description = "unsupported_media_type: not text/csv or application/x-ndjson", body = ErrorBody),
        (status = 422, description = "validation_failed: empty, or a CSV header without the required columns", body = ErrorBody),
        WriteErrors))]
pub async fn create_import(
    State(app): State<AppState>,
    admin: AdminSession,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(format) = format_of(&headers) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as text/csv or application/x-ndjson",
        ));
    };
    let dir = super::imports_dir(&app.config);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| {
        tracing::error!(error = %e, dir = %dir.display(), "cannot create the imports directory");
        ApiError::internal()
    })?;
    let path = dir.join(format!("import-{}.{}", random_name(), format.extension()));
    let max = app.config.import_max_mb * 1024 * 1024;
    let idle = std::time::Duration::from_secs(app.config.request_body_timeout_secs);
    let received = receive(body, &path, max, idle).await;
    let refuse = |e: ApiError| {
        let p = path.clone();
        async move {
            let _ = tokio::fs::remove_file(&p).await;
            Err(e)
        }
    };
    let size = match received {
        Ok(n) => n,
        Err(e) => return refuse(e).await,
    };
    if size == 0 {
        return refuse(ApiError::validation([("body".to_owned(), "the file is empty".to_owned())].into())).await;
    }
    // the file's shape is checked now (its rows, by the job): a header naming the columns
    // and a first row; for JSON lines, a first row that is a JSON object
    let p = path.clone();
    let first = tokio::task::spawn_blocking(move || -> Result<Option<String>, super::import::FileError> {
        let mut source = Source::open(&p, format)?;
        let batch = source.next_batch(1)?;
        Ok(if batch.read == 0 {
            Some("the file has no rows".to_owned())
        } else {
            batch.rejected.first().filter(|r| r.field == "row").map(|r| format!("line {}: {}", r.line, r.reason))
        })
    })
    .await
    .map_err(|_| ApiError::internal())?;
    match first {
        Ok(None) => {}
        Ok(Some(problem)) => return refuse(ApiError::validation([("body".to_owned(), problem)].into())).await,
        Err(e) => return refuse(ApiError::validation([("body".to_owned(), e.to_string())].into())).await,
    }
    let args = serde_json::json!({ "path": path, "format": format });
    let job = app
        .db
        .writer
        .run(move |tx| {
            let id = crate::jobs::enqueue(tx, &NewJob::new(crate::jobs::Kind::ImportProducts, args.clone()))?
                .expect("no unique key");
            audit(
                tx,
                &admin,
                "import.create",
                "job",
                id,
                None,
                Some(&serde_json::json!({"bytes": size, "format": format})),
            )?;
            Ok::<_, ApiError>(id)
        })
        .await;
    match job {
        Ok(id) => Ok(data(StatusCode::ACCEPTED, &JobStarted { job_id: Id(id) })),
        Err(e) => refuse(e).await,
    }
}

/// Streams `body` into `path`, at most `max` bytes (else 413); returns the size.
/// A client that sends nothing for `idle` is answered 408 (a large file may take long, as
/// long as it keeps coming).
async fn receive(body: Body, path: &std::path::Path, max: u64, idle: std::time::Duration) -> Result<u64, ApiError> {
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an upload failed");
        ApiError::internal()
    };
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) =
        tokio::time::timeout(idle, stream.next()).await.map_err(|_| crate::http::body::body_timed_out(idle))?
    {
        let chunk = chunk.map_err(|_| ApiError::bad_request("body_read", "the body could not be read to its end"))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("an import is at most {} MiB", max / 1024 / 1024),
            ));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    Ok(size)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportIn {
    pub kind: Kind,
    pub format: Format,
    /// only rows changed (products) or created (orders, customers) at or after this: a
    /// date (`2026-01-31`) or an RFC 3339 UTC timestamp
    #[schema(extensions(("x-pattern" = json!(crate::util::UTC_PATTERN))))]
    pub since: Option<String>,
}

/// Export products, orders or customers
///
/// Starts a job that writes the file (CSV with a header row, or JSON lines); 202 with the
/// job. Follow it at `GET /api/admin/jobs/{id}` (progress in rows); fetch the file at
/// `GET /api/admin/exports/{job_id}` once it is done. A products export has the import's
/// columns, with each language its products are translated into (`name@de`,
/// `description@de`, `slug@de`; in JSON lines `translations`): it imports back unchanged.
#[utoipa::path(post, path = "/api/admin/exports", tag = "admin", security(("bearer" = ["admin"])),
    request_body = ExportIn,
    responses((status = 202, description = "the export job", body = Data<JobStarted>), AdminErrors, BodyErrors, WriteErrors))]
pub async fn create_export(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(b): JsonBody<ExportIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let since = match &b.since {
        Some(s) => checks.check(
            "since",
            crate::util::parse_utc(s)
                .ok_or_else(|| "must be a date (2026-01-31) or an RFC 3339 UTC timestamp".to_owned()),
        ),
        None => None,
    };
    checks.finish()?;
    let args = serde_json::json!({ "kind": b.kind, "format": b.format, "since": since });
    let job = app
        .db
        .writer
        .run(move |tx| {
            let id = crate::jobs::enqueue(tx, &NewJob::new(crate::jobs::Kind::Export, args.clone()))?
                .expect("no unique key");
            audit(tx, &admin, "export.create", "job", id, None, Some(&args))?;
            Ok::<_, ApiError>(id)
        })
        .await?;
    Ok(data(StatusCode::ACCEPTED, &JobStarted { job_id: Id(job) }))
}

/// Download an export
///
/// The file of a completed export job, streamed (`text/csv` or `application/x-ndjson`).
/// 404 before the job is done (and for a job that is not an export), and once the file has
/// expired with its job (`jobs_keep_completed_hours`). Each download is audited.
#[utoipa::path(get, path = "/api/admin/exports/{job_id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("job_id" = String, Path, description = "the export job's id")),
    responses((status = 200, description = "the file", content(
        (String = "text/csv"), (String = "application/x-ndjson"))), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn download_export(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Export>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let job = app.db.read(move |c| crate::jobs::store::get(c, id).map_err(ApiError::from)).await?;
    let not_ready = || ApiError::not_found("export").with_detail("reason", "no such export, or it is not done yet");
    let Some(job) =
        job.filter(|j| j.kind == crate::jobs::Kind::Export.name() && j.state == crate::jobs::State::Completed)
    else {
        return Err(not_ready());
    };
    let format = job.args.get("format").and_then(|f| f.as_str()).and_then(Format::parse).ok_or_else(not_ready)?;
    let path = super::export_file(&app.config, id, format);
    let file = tokio::fs::File::open(&path).await.map_err(|_| not_ready())?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    // who took a copy of the shop's data, and when
    let audited = serde_json::json!({ "bytes": len });
    app.db
        .writer
        .run(move |tx| audit(tx, &admin, "export.download", "job", id, None, Some(&audited)).map_err(ApiError::from))
        .await?;
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
    };
    let kind = job.args.get("kind").and_then(|k| k.as_str()).unwrap_or("export");
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime)
        .header(header::CACHE_CONTROL, "private, no-store")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{kind}-{id}.{ext}\""));
    if let Some(len) = len {
        resp = resp.header(header::CONTENT_LENGTH, len);
    }
    Ok(resp.body(Body::from_stream(stream)).expect("valid response parts"))
}
