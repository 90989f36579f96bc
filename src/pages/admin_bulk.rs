//! The dashboard's imports and job pages: a CSV or JSON-lines file uploaded from a form
//! goes, as it arrives, to the admin API's import (the same checks of its shape, the same
//! job); the job's page shows its progress while it runs (it reloads itself each second,
//! no script needed) and, when done, what it did and each bad row with its line and reason.

use std::marker::PhantomData;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use maud::{html, PreEscaped};
use serde::Deserialize;

use super::admin::{csrf, page_with, AdminPage};
use super::buy::{answered, see_other};
use super::session::check_csrf;
use super::words::{n_, said, t, tf};
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::QueryParams;

/// `GET /admin/imports`
pub async fn imports(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    Ok(page_with(&app, &a, t(a.w, "Import products"), "/admin/products", form(&a, None)))
}

fn form(a: &AdminPage, problem: Option<&str>) -> maud::Markup {
    let w = a.w;
    html! {
        p.crumbs { a href="/admin/products" { (t(w, "Products")) } (t(w, " / import")) }
        h1 { (t(w, "Import products")) }
        @if let Some(p) = problem { div.error role="alert" { p { (p) } } }
        form.panel method="post" action="/admin/imports" enctype="multipart/form-data" {
            (csrf(&a.ps))
            p { (t(w, "A CSV file with a header row, or JSON lines, of "))
                code { (t(w, "sku, name, category, price, stock")) } (t(w, " and optionally "))
                code { (t(w, "slug, description, brand, sale_price, active")) }
                (t(w, " (prices in cents). Rows are matched by SKU: new ones are created, known ones updated; bad rows are listed with their line.")) }
            div.field {
                label for="file" { (t(w, "File")) }
                input #file type="file" name="file" accept=".csv,.jsonl,.ndjson,text/csv,application/x-ndjson" required;
            }
            button type="submit" { (t(w, "Import")) }
        }
    }
}

#[derive(Deserialize)]
struct Started {
    job_id: String,
}

/// `POST /admin/imports` (multipart): the file field streams into the API's import.
pub async fn upload(State(app): State<AppState>, a: AdminPage, mut parts: Multipart) -> Result<Response, ApiError> {
    let bad = |m: &'static str| ApiError::validation([("file".to_owned(), t(a.w, m).to_owned())].into());
    // the form's token comes first (the browser sends fields in their order)
    let mut csrf_sent = None;
    let started = loop {
        let Some(mut field) = parts.next_field().await.map_err(|_| bad(n_("the upload could not be read")))? else {
            break Err(bad(n_("choose a file")));
        };
        match field.name() {
            Some("csrf") => csrf_sent = Some(field.text().await.map_err(|_| bad(n_("the upload could not be read")))?),
            Some("file") => {
                check_csrf(a.ps.token.as_deref(), csrf_sent.as_deref())?;
                let name = field.file_name().unwrap_or("").to_ascii_lowercase();
                let kind = if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
                    "application/x-ndjson"
                } else {
                    "text/csv"
                };
                let mut headers = HeaderMap::new();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
                // the field's chunks, as they arrive, are the API handler's body
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
                let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                }));
                let import = crate::bulk::handlers::create_import(State(app.clone()), a.admin.clone(), headers, body);
                let feed = async move {
                    loop {
                        match field.chunk().await {
                            Ok(Some(chunk)) => {
                                if tx.send(Ok(chunk)).await.is_err() {
                                    break; // the import stopped reading (refused)
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                                break;
                            }
                        }
                    }
                };
                let (answer, ()) = tokio::join!(import, feed);
                break answered::<Started>(answer).await;
            }
            _ => {}
        }
    };
    match started {
        Ok(s) => Ok(see_other(&format!("/admin/jobs/{}", s.job_id), None)),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            let words = e
                .details
                .values()
                .filter_map(|v| v.as_str())
                .next()
                .map(str::to_owned)
                .unwrap_or_else(|| e.message.clone());
            let mut resp = page_with(&app, &a, t(a.w, "Import products"), "/admin/products", form(&a, Some(&words)));
            *resp.status_mut() = e.status;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct Progress {
    done: i64,
    total: Option<i64>,
}

#[derive(Deserialize)]
struct AttemptError {
    error: String,
}

#[derive(Deserialize)]
struct Job {
    id: String,
    kind: String,
    state: String,
    progress: Option<Progress>,
    #[serde(default)]
    errors: Vec<AttemptError>,
    result: Option<serde_json::Value>,
    #[serde(default)]
    args: serde_json::Value,
    created_at: String,
}

/// `GET /admin/jobs/{id}`: a job's progress (reloading while it runs) and its outcome.
pub async fn job(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let w = a.w;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("job"))?;
    let j: Job = answered(
        crate::admin::jobs::get_job(
            State(app.clone()),
            a.admin.clone(),
            PathId(id.0, PhantomData),
            QueryParams::parse("")?,
        )
        .await,
    )
    .await?;
    let running = matches!(j.state.as_str(), "available" | "scheduled" | "running");
    let result = j.result.as_ref();
    let count = |k: &str| result.and_then(|r| r[k].as_i64()).unwrap_or(0);
    let rejected: Vec<(i64, String, String)> = result
        .and_then(|r| r["rejected"].as_array())
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
                    (r["line"].as_i64().unwrap_or(0), s("field"), s("reason"))
                })
                .collect()
        })
        .unwrap_or_default();
    let exported = j.args["kind"].as_str().unwrap_or("data");
    let main = html! {
        @if running {
            // reloads itself while the job runs: live progress without a script
            (PreEscaped(r#"<meta http-equiv="refresh" content="1">"#))
        }
        @if j.kind == "export" {
            p.crumbs { a href="/admin/exports" { (t(w, "Exports")) } " / #" (j.id) }
            h1 { (t(w, "Export of ")) (exported) " #" (j.id) " " span class=(format!("status {}", j.state)) #job-state { (said(w, &j.state)) } }
        } @else {
            p.crumbs { a href="/admin/jobs" { (t(w, "Jobs")) } " / #" (j.id) }
            h1 { (said(w, &j.kind.replace('_', " "))) " #" (j.id) " " span class=(format!("status {}", j.state)) #job-state { (said(w, &j.state)) } }
        }
        section.panel {
            @if let Some(p) = &j.progress {
                @let total = p.total.unwrap_or(0).max(p.done);
                label for="progress" { (p.done) (t(w, " of ")) (total) (t(w, " rows")) }
                progress #progress value=(p.done) max=(total.max(1)) { (p.done) (t(w, " of ")) (total) }
            }
            @if running { p.meta { (t(w, "This page follows the job until it is done.")) } }
            @if j.kind == "export" {
                @if result.is_some() {
                    dl.outcome {
                        dt { (t(w, "Rows")) } dd #rows { (count("rows")) }
                        dt { (t(w, "Size")) } dd { ((count("bytes") + 1023) / 1024) (t(w, " KB")) }
                    }
                    @if j.state == "completed" {
                        p { a.button #download href=(format!("/admin/exports/{}", j.id)) download { (tf(w, "Download the {format} file", &[("format", &exported)])) } }
                    }
                }
            } @else if result.is_some() {
                dl.outcome {
                    dt { (t(w, "Created")) } dd #created { (count("created")) }
                    dt { (t(w, "Updated")) } dd #updated { (count("updated")) }
                    dt { (t(w, "Unchanged")) } dd { (count("unchanged")) }
                    dt { (t(w, "Bad rows")) } dd #rejected-count { (count("rejected_count").max(rejected.len() as i64)) }
                }
            }
            @if !j.errors.is_empty() {
                h2 { (t(w, "Errors")) }
                ul.plain { @for e in &j.errors { li { code { (e.error) } } } }
            }
            p.meta { (t(w, "Started ")) (j.created_at.get(..16).unwrap_or(&j.created_at).replace('T', " ")) }
        }
        @if !rejected.is_empty() {
            section.spaced aria-labelledby="bad-rows" {
                h2 #bad-rows { (t(w, "Bad rows")) }
                table.lines {
                    thead { tr { th scope="col" { (t(w, "Line")) } th scope="col" { (t(w, "Field")) } th scope="col" { (t(w, "Why")) } } }
                    tbody { @for (line, field, reason) in &rejected { tr { td { (line) } td { code { (field) } } td { (reason) } } } }
                }
            }
        }
        @if j.state == "failed" || j.state == "cancelled" {
            form.spaced method="post" action=(format!("/admin/jobs/{}/retry", j.id)) { (csrf(&a.ps)) button type="submit" { (t(w, "Retry")) } }
        }
    };
    let here = if j.kind == "export" { "/admin/webhooks" } else { "/admin/jobs" };
    Ok(page_with(&app, &a, &format!("{}{}", t(w, "Job #"), j.id), here, main))
}
