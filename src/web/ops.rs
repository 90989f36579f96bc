//! Operations endpoints: liveness, readiness, the metrics scrape and the OpenAPI document.

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

#[derive(serde::Serialize, utoipa::ToSchema)]
struct HealthOut {
    #[schema(pattern = "^ok$")]
    status: &'static str,
    uptime_secs: u64,
    version: &'static str,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ReadyOut {
    #[schema(pattern = "^ready$")]
    status: String,
    /// database, writer (ok or stopped), catalog_index, redis (ok or degraded, when
    /// configured), draining; for an administrator's token also the queue depths and the
    /// writer's statistics
    checks: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Liveness: the process answers
#[utoipa::path(get, path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "alive; `X-Storefront-Commit` is the commit position this node's data has reached (replicas measure their lag with the primary's)", body = crate::openapi::Data<HealthOut>,
        headers(("X-Storefront-Commit" = u64, description = "the position of this node's last commit (a replica: the last its copy holds)")))))]
pub async fn health(State(app): State<AppState>) -> Response {
    let body = crate::openapi::Data {
        data: HealthOut {
            status: "ok",
            uptime_secs: app.started.elapsed().as_secs(),
            version: env!("CARGO_PKG_VERSION"),
        },
    };
    let mut resp = private_json(StatusCode::OK, serde_json::to_vec(&body).expect("static shape"));
    // how far this node's data goes: a replica asks its primary this way (its lag)
    resp.headers_mut().insert(crate::http::request_id::COMMIT_HEADER, app.db.writer.position().into());
    resp
}

/// Readiness
///
/// Database readable, writer alive, not draining. With Redis configured, `checks.redis`
/// is ok or degraded: a degraded Redis leaves the node ready (it serves from L1 and
/// SQLite). A replica reports `replica_lag_ms` (and `primary`, `commit_position`) and is
/// not ready while its lag is over `replica_max_lag_ms`; `replication` shows the
/// supervised Litestream, when there is one. 503 names the failing checks. Internals (queue depths, the writer's
/// statistics) are shown to administrators only.
#[utoipa::path(get, path = "/ready", tag = "operations", security((), ("bearer" = [])),
    responses((status = 200, description = "ready", body = crate::openapi::Data<ReadyOut>), crate::openapi::QueryErrors,
        (status = 503, description = "not_ready: details.checks names the failing checks (also while draining)", body = crate::openapi::ErrorBody)))]
pub async fn ready(
    State(app): State<AppState>,
    q: QueryParams,
    admin: Result<crate::auth::AdminSession, ApiError>,
) -> Result<Response, ApiError> {
    q.finish()?;
    let admin = admin.is_ok();
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
    if let Some(replica) = app.replication.replica() {
        // a replica has no writer: its writes go to the primary. Ready while its copy is
        // within `replica_max_lag_ms` of the primary (as far as it knows: while the primary
        // does not answer, the copy serves reads as it is)
        checks.insert("writer".into(), json!("primary"));
        // in whole milliseconds, as reported: ready exactly while `replica_lag_ms` is within
        // the bound
        let lag_ms = replica.follow.lag().as_millis();
        checks.insert("replica_lag_ms".into(), json!(lag_ms as u64));
        checks.insert("primary".into(), json!(if replica.follow.primary_reachable() { "ok" } else { "unreachable" }));
        checks.insert("commit_position".into(), json!(replica.follow.position()));
        if lag_ms > replica.max_lag.as_millis() {
            checks.insert("replica_lag".into(), json!("over replica_max_lag_ms"));
            ok = false;
        }
    } else {
        let writer_ok = app.db.writer.is_alive();
        checks.insert("writer".into(), json!(if writer_ok { "ok" } else { "stopped" }));
        ok &= writer_ok;
    }
    // Litestream (a primary's replicate, a replica's follow-mode restore): reported, not
    // a reason to stop serving (the alert on storefront_litestream_up is)
    if let Some(s) = app.replication.litestream() {
        let mut status = s.status();
        // what went wrong (paths, storage errors) is for administrators
        if !admin {
            if let Some(o) = status.as_object_mut() {
                o.remove("last_error");
            }
        }
        checks.insert("replication".into(), status);
    }
    if admin {
        // informational: read jobs waiting for a reader, write units waiting for the writer
        checks.insert("read_queue".into(), json!(app.db.read_queue_depth()));
        let writer = app.db.writer.stats();
        checks.insert("write_queue".into(), json!(writer.queue_depth));
        // group commit at work: batches, units per batch, commit latency
        checks.insert("writer_stats".into(), json!(writer));
        // who the clients are: a proxy this node does not trust makes its clients one
        if let Some(peer) = app.clients.untrusted_forwarder() {
            checks.insert(
                "forwarded_for".into(),
                json!(format!("{peer} sent X-Forwarded-For but is not in trusted_proxies: its clients count as one")),
            );
        }
        if let Some(warning) = crate::app::trust_warning(&app.config) {
            checks.insert("trusted_proxies".into(), json!(warning));
        }
    }
    // the in-memory catalog index answers lists and searches; while it is built a node
    // would answer them from SQLite, which at a million products is 100× slower: not ready
    // (an index that is off or could not be built leaves SQLite answering, ready)
    let index = app.search.status();
    checks.insert("catalog_index".into(), json!(index));
    ok &= index != "building";
    // the second cache tier (or, with the cache off, the shared rate limits): when Redis
    // is away the node serves without it (degraded, ready)
    if let Some(l2) = app.cache.l2() {
        checks.insert("redis".into(), json!(l2.status()));
    } else if let Some(redis) = &app.redis {
        checks.insert("redis".into(), json!(if redis.up() { "ok" } else { "degraded" }));
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

/// This document (OpenAPI 3.1)
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "the document", content_type = "application/json", body = Object), crate::openapi::NotModified, crate::openapi::QueryErrors))]
pub async fn openapi(neg: Negotiation, q: QueryParams) -> Result<Response, ApiError> {
    q.finish()?;
    Ok(super::spec::document().respond(&neg, Caching::Public { max_age: 300, swr: 3600 }))
}

/// Metrics in the Prometheus text format
///
/// Every name is prefixed `storefront_` and in base units (seconds, bytes). Request
/// counters and latency histograms are labelled by method, route template and (counters)
/// status; figures the process keeps anyway (cache hits, queue depths, jobs per state,
/// CPU, memory, disk) are read at each scrape. With `metrics_token` set, the token is
/// asked for (`Authorization: Bearer`); with `metrics_listen` set, this listener answers
/// 404 and the metrics are on that one.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "the metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "unauthenticated: metrics_token is set and the request does not carry it", body = crate::openapi::ErrorBody),
        crate::openapi::NotFound, crate::openapi::QueryErrors))]
pub async fn metrics(
    State(app): State<AppState>,
    own: Option<axum::Extension<MetricsListener>>,
    headers: axum::http::HeaderMap,
    q: QueryParams,
) -> Result<Response, ApiError> {
    if app.config.metrics_listen.is_some() && own.is_none() {
        return Err(ApiError::not_found("route"));
    }
    if let Some(token) = &app.config.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // compared in constant time: the token is a secret
        let same =
            given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
        if !same {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "the metrics need their token"));
        }
    }
    q.finish()?;
    let text = crate::app::metrics::scrape(&app).await;
    let mut resp = Response::new(axum::body::Body::from(text));
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    h.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Marks a request that came on `metrics_listen`, the metrics' own listener.
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// Serves `/metrics` alone on `listener` until the task is aborted.
pub async fn serve_metrics(app: AppState, listener: tokio::net::TcpListener) {
    let router = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .layer(axum::Extension(MetricsListener))
        .with_state(app);
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}
