//! Cache warming: the pages shoppers open first — the category tree, the brands, the first
//! listing page, the bestsellers and the pages of the best-selling products — are filled
//! at start and again every `cache_warm_interval_secs` (the `cache_warm` task of
//! [`crate::jobs::schedule`]), so the hottest pages are loaded
//! soon after a commit invalidated them, before a client asks. The loaders are the
//! handlers themselves, called directly with the request a client would send (a target
//! still fresh costs a cache hit): no HTTP, no router, and the cache knows nothing of it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};

use super::handlers;
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::{Negotiation, QueryParams};

/// The best sellers' slugs, most sold first.
fn bestseller_slugs(conn: &rusqlite::Connection, products: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT slug FROM products INDEXED BY idx_products_popular WHERE status = 'active'
         ORDER BY sales_count DESC, id DESC LIMIT ?1",
    )?
    .query_map([products], |r| r.get::<_, String>(0))?
    .collect()
}

/// Fills every warm target once; returns how many answered.
pub async fn warm(app: &AppState) -> usize {
    let products = app.config.cache_warm_products as i64;
    let slugs =
        app.db.read(move |conn| bestseller_slugs(conn, products).map_err(ApiError::from)).await.unwrap_or_default();
    let neg = || Negotiation::from_headers(&HeaderMap::new());
    let uri = |s: &str| s.parse::<Uri>().expect("warm targets are valid paths");
    let q = || QueryParams::parse("").expect("an empty query parses");
    let st = || State(app.clone());
    let mut answered = 0;
    let mut count = |r: Result<axum::response::Response, ApiError>| answered += usize::from(r.is_ok());
    count(handlers::categories(st(), uri("/api/categories"), neg(), q()).await);
    count(handlers::brands(st(), uri("/api/brands"), neg(), q()).await);
    count(handlers::list_products(st(), uri("/api/products"), neg(), q()).await);
    count(handlers::bestsellers(st(), uri("/api/products/bestsellers"), neg(), q()).await);
    for slug in slugs {
        let target = uri(&format!("/api/products/{slug}"));
        count(handlers::product(st(), target, neg(), Ok(Path(slug)), q()).await);
    }
    answered
}
