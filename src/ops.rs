//! Operations endpoints: liveness, readiness and the OpenAPI document.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::respond::private_json;
use crate::http::{Caching, Negotiation, QueryParams};

/// `GET /health`: the process answers.
pub async fn health(State(app): State<AppState>) -> Response {
    let body = json!({"data": {"status": "ok", "uptime_secs": app.started.elapsed().as_secs(),
                               "version": env!("CARGO_PKG_VERSION")}});
    private_json(StatusCode::OK, serde_json::to_vec(&body).expect("static shape"))
}

/// `GET /ready`: database readable, writer alive, not draining. 503 names the failing checks.
pub async fn ready(State(app): State<AppState>, q: QueryParams) -> Result<Response, ApiError> {
    q.finish()?;
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    let readable = tokio::time::timeout(
        Duration::from_secs(2),
        app.db.read(|c| {
            c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)).map_err(ApiError::from)
        }),
    )
    .await;
    let db_ok = matches!(readable, Ok(Ok(n)) if n > 0);
    checks.insert("database".into(), json!(if db_ok { "ok" } else { "failing" }));
    ok &= db_ok;
    let writer_ok = app.db.writer.is_alive();
    checks.insert("writer".into(), json!(if writer_ok { "ok" } else { "stopped" }));
    ok &= writer_ok;
    // informational: read jobs waiting for a reader, write units waiting for the writer
    checks.insert("read_queue".into(), json!(app.db.read_queue_depth()));
    let writer = app.db.writer.stats();
    checks.insert("write_queue".into(), json!(writer.queue_depth));
    // group commit at work: batches, units per batch, commit latency
    checks.insert("writer_stats".into(), json!(writer));
    // the second cache tier: when it is away the node serves without it (degraded, ready)
    if let Some(l2) = app.cache.l2() {
        checks.insert("redis".into(), json!(l2.status()));
    }
    let draining = app.draining.load(Ordering::SeqCst);
    checks.insert("draining".into(), json!(draining));
    ok &= !draining;
    if ok {
        let body = json!({"data": {"status": "ready", "checks": checks}});
        Ok(private_json(StatusCode::OK, serde_json::to_vec(&body).expect("static shape")))
    } else {
        let mut e = ApiError::unavailable("not ready", 5);
        e.code = "not_ready";
        Err(e.with_detail("checks", serde_json::Value::Object(checks)))
    }
}

/// `GET /openapi.json`
pub async fn openapi(neg: Negotiation, q: QueryParams) -> Result<Response, ApiError> {
    q.finish()?;
    Ok(crate::openapi::document().respond(&neg, Caching::Public { max_age: 300, swr: 3600 }))
}
