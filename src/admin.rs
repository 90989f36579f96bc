//! Administration (role `admin`): the operator's view of the response cache. The rest of
//! the admin API (catalog, promotions, rates, orders, moderation, audit) builds on the
//! same extractor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::AppState;
use crate::customers::auth::AdminSession;
use crate::error::ApiError;
use crate::http::respond::data;
use crate::http::QueryParams;

/// `GET /api/admin/cache`: per tier, hits, misses, hit ratio, entries, bytes, evictions.
pub async fn cache_stats(
    State(app): State<AppState>,
    _admin: AdminSession,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    Ok(data(StatusCode::OK, &serde_json::json!({"l1": app.cache.stats().await})))
}

/// `DELETE /api/admin/cache?tag=…`: marks every entry with the tag stale (no tag: all).
pub async fn cache_flush(
    State(app): State<AppState>,
    admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let tag = q.text("tag", 100);
    q.finish()?;
    match &tag {
        Some(t) => app.cache.bump([t.as_str()]),
        None => app.cache.clear(),
    }
    tracing::info!(admin.customer = admin.0.customer_id, tag = tag.as_deref().unwrap_or("*"), "cache flushed");
    Ok(data(StatusCode::OK, &serde_json::json!({"flushed": tag.unwrap_or_else(|| "*".into())})))
}
