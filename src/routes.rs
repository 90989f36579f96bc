//! The route table: the whole API at a glance.

use axum::routing::{delete, get, patch, post};
use axum::Router;

use crate::admin::resources as res;
use crate::app::AppState;
use crate::cart::handlers as cart;
use crate::catalog::handlers as catalog;
use crate::customers::handlers as customers;
use crate::http::middleware::request_context;
use crate::ops;
use crate::orders::handlers as orders;

pub fn router(state: AppState) -> Router {
    Router::new()
        // catalog (public, cacheable)
        .route("/api/products", get(catalog::list_products))
        .route("/api/products/bestsellers", get(catalog::bestsellers))
        .route("/api/products/{slug}", get(catalog::product))
        .route("/api/products/{slug}/reviews", get(catalog::product_reviews).post(crate::reviews::post))
        .route("/api/categories", get(catalog::categories))
        .route("/api/categories/{slug}", get(catalog::category))
        .route("/api/brands", get(catalog::brands))
        .route("/api/search", get(catalog::search))
        // customers and sessions
        .route("/api/auth/register", post(customers::register))
        .route("/api/auth/login", post(customers::login))
        .route("/api/auth/guest", post(customers::guest))
        .route("/api/auth/logout", post(customers::logout))
        .route("/api/auth/sessions", get(customers::sessions))
        .route("/api/auth/sessions/{id}", delete(customers::revoke_session))
        .route("/api/auth/password/forgot", post(customers::forgot_password))
        .route("/api/auth/password/reset", post(customers::reset_password))
        .route("/api/me", get(customers::me).patch(customers::update_me))
        .route("/api/me/addresses", get(customers::addresses).post(customers::add_address))
        .route("/api/me/addresses/{id}", delete(customers::delete_address))
        // cart, checkout, orders
        .route("/api/cart", get(cart::view).post(cart::add))
        .route("/api/cart/items/{id}", patch(cart::update_item).delete(cart::remove_item))
        .route("/api/cart/discount", post(cart::apply_discount).delete(cart::remove_discount))
        .route("/api/cart/shipping-options", get(cart::shipping_options))
        .route("/api/checkout", post(orders::checkout))
        .route("/api/orders", get(orders::list).post(orders::buy_now))
        .route("/api/orders/{id}", get(orders::detail))
        .route("/api/orders/{id}/cancel", post(orders::cancel))
        .route("/api/webhooks/payments", post(orders::payment_webhook))
        // administration
        .route("/api/admin/cache", get(crate::admin::cache_stats).delete(crate::admin::cache_flush))
        .route("/api/admin/products", post(crate::admin::create_product))
        .route("/api/admin/products/{id}", patch(crate::admin::update_product).delete(crate::admin::retire_product))
        .route("/api/admin/products/{id}/inventory", axum::routing::put(crate::admin::set_inventory))
        .route("/api/admin/products/{id}/price", axum::routing::put(crate::admin::set_price))
        .route("/api/admin/reviews", get(crate::admin::reviews))
        .route("/api/admin/reviews/{id}", patch(crate::admin::moderate_review))
        .route("/api/admin/audit", get(crate::admin::audit_log))
        .route("/api/admin/orders", get(crate::admin::orders))
        .route("/api/admin/orders/{id}", patch(crate::admin::update_order))
        .route("/api/admin/categories", post(res::create_category))
        .route("/api/admin/categories/{id}", patch(res::update_category).delete(res::delete_category))
        .route("/api/admin/brands", post(res::create_brand))
        .route("/api/admin/brands/{id}", patch(res::update_brand).delete(res::delete_brand))
        .route("/api/admin/promotions", post(res::create_promotion))
        .route("/api/admin/promotions/{id}", patch(res::update_promotion).delete(res::delete_promotion))
        .route("/api/admin/shipping-rates", post(res::create_shipping_rate))
        .route("/api/admin/shipping-rates/{id}", patch(res::update_shipping_rate).delete(res::delete_shipping_rate))
        .route("/api/admin/tax-rates", post(res::create_tax_rate))
        .route("/api/admin/tax-rates/{id}", patch(res::update_tax_rate).delete(res::delete_tax_rate))
        // operations
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/openapi.json", get(ops::openapi))
        .layer(axum::middleware::from_fn(request_context))
        .with_state(state)
}
