//! The response cache as administrators see it: hit ratios per tier, and flushing.

use super::*;

/// What the cache view answers: free-form counters per tier.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CacheStatsOut {
    /// the in-process tier: hits, misses, hit_ratio, entries, bytes, budget_bytes,
    /// evictions, tag bumps
    l1: std::collections::BTreeMap<String, serde_json::Value>,
    /// Redis, when configured: status (ok, degraded), hits, misses, hit ratio, stores,
    /// stale stores refused, errors, invalidations published, unpublished and received,
    /// the server's keys, used memory and evicted keys; `{"enabled": false}` without it
    l2: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct FlushOut {
    /// the tag flushed, or `*` for everything
    flushed: String,
}

/// A tag of the catalog's (an empty or blank one too is refused, never read as "everything").
fn tag_form(t: &str) -> Result<(), String> {
    match crate::catalog::tags::Tag::parse(t) {
        Some(_) => Ok(()),
        None => {
            Err("must be a cache tag: catalog, listing, listing:price, listing:stock, listing:sales, bestsellers, \
                     search, categories, brands, reviews, product:N or variant:N"
                .into())
        }
    }
}

const TAG: Param = Param::raw_matching("tag", 100, crate::catalog::tags::Tag::PATTERN, tag_form).doc(
    "catalog, listing, listing:price, listing:stock, listing:sales, bestsellers, search, categories, brands, reviews, \
     product:N or variant:N; without it, everything",
);

crate::http::query_params!(
    struct FlushQuery [TAG]
);

/// The response cache per tier
///
/// Hit ratios, entries, bytes, evictions; for Redis also its status and server figures.
#[utoipa::path(get, path = "/api/admin/cache", tag = "admin", security(("bearer" = ["admin"])),
    responses((status = 200, description = "per tier", body = Data<CacheStatsOut>), AdminErrors, QueryErrors))]
pub async fn cache_stats(
    State(app): State<AppState>,
    _admin: AdminSession,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let l2 = match app.cache.l2() {
        Some(l2) => serde_json::to_value(l2.stats().await).expect("plain data"),
        None => serde_json::json!({"enabled": false, "status": "off"}),
    };
    Ok(data(StatusCode::OK, &serde_json::json!({"l1": app.cache.stats().await, "l2": l2})))
}

/// Flush the response cache
///
/// Marks every entry with `tag` stale, on every node and in Redis; without a tag,
/// everything (Redis: a new generation). A tag that is not one of the catalog's is 422.
#[utoipa::path(delete, path = "/api/admin/cache", tag = "admin", security(("bearer" = ["admin"])),
    params(FlushQuery),
    responses((status = 200, description = "flushed", body = Data<FlushOut>), AdminErrors, QueryErrors))]
pub async fn cache_flush(
    State(app): State<AppState>,
    admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let tag = q.raw(&TAG);
    q.finish().map_err(|mut e| {
        if e.details.contains_key("tag") {
            e.message = "unknown cache tag".into();
        }
        e
    })?;
    match &tag {
        Some(t) => app.cache.invalidate(std::slice::from_ref(t)).await,
        None => app.cache.clear().await,
    }
    tracing::info!(admin.customer = admin.0.customer_id, tag = tag.as_deref().unwrap_or("*"), "cache flushed");
    Ok(data(StatusCode::OK, &FlushOut { flushed: tag.unwrap_or_else(|| "*".into()) }))
}
