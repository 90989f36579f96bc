//! The route table: the whole API at a glance. Every route is registered through
//! `routes!` from a handler that carries its `#[utoipa::path]` description, so the router
//! and the OpenAPI document are one table: a route cannot be served without being
//! documented, nor documented without being served.

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admin;
use crate::admin::resources as res;
use crate::app::AppState;
use crate::bulk::handlers as bulk;
use crate::cart::handlers as cart;
use crate::catalog::handlers as catalog;
use crate::customers::handlers as customers;
use crate::http::middleware::request_context;
use crate::jobs::handlers as jobs;
use crate::ops;
use crate::orders::handlers as orders;
use crate::reviews;
use crate::webhooks::handlers as webhooks;

/// The routes with their descriptions.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        // catalog (public, cacheable)
        .routes(routes!(catalog::list_products))
        .routes(routes!(catalog::bestsellers))
        .routes(routes!(catalog::product))
        .routes(routes!(catalog::product_reviews, reviews::post))
        .routes(routes!(catalog::categories))
        .routes(routes!(catalog::category))
        .routes(routes!(catalog::brands))
        .routes(routes!(catalog::search))
        // customers and sessions
        .routes(routes!(customers::register))
        .routes(routes!(customers::login))
        .routes(routes!(customers::guest))
        .routes(routes!(customers::logout))
        .routes(routes!(customers::sessions))
        .routes(routes!(customers::revoke_session))
        .routes(routes!(customers::forgot_password))
        .routes(routes!(customers::reset_password))
        .routes(routes!(crate::customers::two_factor::setup))
        .routes(routes!(crate::customers::two_factor::enable))
        .routes(routes!(crate::customers::two_factor::disable))
        .routes(routes!(customers::me, customers::update_me))
        .routes(routes!(customers::addresses, customers::add_address))
        .routes(routes!(customers::delete_address))
        // cart, checkout, orders
        .routes(routes!(cart::view, cart::add))
        .routes(routes!(cart::update_item, cart::remove_item))
        .routes(routes!(cart::apply_discount, cart::remove_discount))
        .routes(routes!(cart::shipping_options))
        .routes(routes!(orders::checkout))
        .routes(routes!(orders::list, orders::buy_now))
        .routes(routes!(orders::detail))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::payment_webhook))
        // administration
        .routes(routes!(admin::cache::cache_stats, admin::cache::cache_flush))
        .routes(routes!(admin::products::create_product))
        .routes(routes!(admin::products::update_product, admin::products::retire_product))
        .routes(routes!(admin::products::set_inventory))
        .routes(routes!(admin::products::set_price))
        .routes(routes!(admin::reviews::reviews))
        .routes(routes!(admin::reviews::moderate_review))
        .routes(routes!(admin::audit::audit_log))
        .routes(routes!(admin::orders::orders))
        .routes(routes!(admin::orders::order, admin::orders::update_order))
        .routes(routes!(res::create_category))
        .routes(routes!(res::update_category, res::delete_category))
        .routes(routes!(res::create_brand))
        .routes(routes!(res::update_brand, res::delete_brand))
        .routes(routes!(res::create_promotion))
        .routes(routes!(res::update_promotion, res::delete_promotion))
        .routes(routes!(res::create_shipping_rate))
        .routes(routes!(res::update_shipping_rate, res::delete_shipping_rate))
        .routes(routes!(res::create_tax_rate))
        .routes(routes!(res::update_tax_rate, res::delete_tax_rate))
        .routes(routes!(bulk::create_import))
        .routes(routes!(bulk::create_export))
        .routes(routes!(bulk::download_export))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::cancel_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::get_webhook, webhooks::update_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::webhook_deliveries))
        .routes(routes!(webhooks::retry_delivery))
        .routes(routes!(admin::api_keys::create_key, admin::api_keys::list_keys))
        .routes(routes!(admin::api_keys::get_key, admin::api_keys::revoke_key))
        // operations
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// Where the server's fast path may find cached responses: the shortest path prefixes
/// covering every public GET of the catalog, as the route table describes them.
pub fn cached_prefixes() -> &'static [String] {
    static PREFIXES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PREFIXES.get_or_init(|| {
        let mut prefixes: Vec<String> = crate::openapi::spec()
            .paths
            .paths
            .iter()
            .filter(|(_, item)| {
                item.get.as_ref().is_some_and(|op| {
                    let public = op.security.as_ref().is_some_and(|s| s.iter().all(|r| *r == Default::default()));
                    public && op.tags.as_ref().is_some_and(|t| t.iter().any(|t| t == "catalog"))
                })
            })
            .map(|(path, _)| path.split('{').next().unwrap_or(path).trim_end_matches('/').to_owned())
            .collect();
        prefixes.sort();
        prefixes.dedup();
        let covered = |p: &String, all: &[String]| all.iter().any(|q| q != p && p.starts_with(q.as_str()));
        let all = prefixes.clone();
        prefixes.retain(|p| !covered(p, &all));
        prefixes
    })
}

/// The route template of a matched path as a `&'static str` (a metrics label made once
/// per route), or `unmatched`.
pub fn template(matched: Option<&str>) -> &'static str {
    static TEMPLATES: std::sync::OnceLock<std::collections::HashMap<String, &'static str>> = std::sync::OnceLock::new();
    let all = TEMPLATES.get_or_init(|| {
        crate::openapi::spec()
            .paths
            .paths
            .keys()
            .map(|p| (p.clone(), &*Box::leak(p.clone().into_boxed_str())))
            .collect()
    });
    matched.and_then(|m| all.get(m).copied()).unwrap_or("unmatched")
}

/// The route template of a request's path, for requests answered ahead of the router:
/// cache hits on the fast path (see [`cached_prefixes`]) and what a replica forwards to
/// its primary. `unmatched` when none fits.
pub fn path_template(path: &str) -> &'static str {
    static ROUTER: std::sync::OnceLock<matchit::Router<&'static str>> = std::sync::OnceLock::new();
    let router = ROUTER.get_or_init(|| {
        let mut r = matchit::Router::new();
        for p in crate::openapi::spec().paths.paths.keys() {
            // two spellings of one template (a parameter named differently by two
            // methods) keep the first
            let _ = r.insert(p.clone(), template(Some(p)));
        }
        r
    });
    router.at(path).map_or("unmatched", |m| *m.value)
}

pub fn router(state: AppState) -> Router {
    let _ = cached_prefixes(); // built now, not on the first request
    let _ = path_template("/");
    let (router, _) = api().split_for_parts();
    // the limits inside the request context: a 429 gets the envelope, the id, the metrics
    router
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::limits::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fast_path_covers_the_public_catalog_reads() {
        assert_eq!(super::cached_prefixes(), ["/api/brands", "/api/categories", "/api/products", "/api/search"]);
    }

    #[test]
    fn paths_map_to_their_templates() {
        assert_eq!(super::path_template("/api/products/blue-shirt"), "/api/products/{slug}");
        assert_eq!(super::path_template("/api/products"), "/api/products");
        assert_eq!(super::path_template("/api/nothing"), "unmatched");
        assert_eq!(super::template(Some("/api/cart")), "/api/cart");
        assert_eq!(super::template(Some("/made/up")), "unmatched");
    }

    #[test]
    fn the_documented_cache_tags_are_the_catalogs() {
        let doc = crate::openapi::to_json();
        let params = doc["paths"]["/api/admin/cache"]["delete"]["parameters"].as_array().unwrap();
        let tag = params.iter().find(|p| p["name"] == "tag").unwrap();
        assert_eq!(tag["schema"]["pattern"], crate::catalog::tags::Tag::PATTERN);
    }
}
