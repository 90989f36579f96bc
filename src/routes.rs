//! The route table: the whole API at a glance.

use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::catalog::handlers as catalog;
use crate::http::middleware::request_context;
use crate::ops;

pub fn router(state: AppState) -> Router {
    Router::new()
        // catalog (public, cacheable)
        .route("/api/products", get(catalog::list_products))
        .route("/api/products/bestsellers", get(catalog::bestsellers))
        .route("/api/products/{slug}", get(catalog::product))
        .route("/api/products/{slug}/reviews", get(catalog::product_reviews))
        .route("/api/categories", get(catalog::categories))
        .route("/api/categories/{slug}", get(catalog::category))
        .route("/api/brands", get(catalog::brands))
        .route("/api/search", get(catalog::search))
        // operations
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/openapi.json", get(ops::openapi))
        .layer(axum::middleware::from_fn(request_context))
        .with_state(state)
}
