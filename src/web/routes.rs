//! The route table: the whole API at a glance, each route with its policy beside it
//! ([`Policy`]: rate-limit rule, what an API key may do, time limit, body limit, whether
//! the fast path may answer). Every route is registered through `routes!` from a handler
//! that carries its `#[utoipa::path]` description, so the router, the OpenAPI document
//! and the policies are one table: a route cannot be served without being documented and
//! given a policy, nor documented without being served.

use axum::http::Method;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::ops;
use super::policy::Policy;
use crate::admin;
use crate::admin::resources as res;
use crate::app::AppState;
use crate::auth::api_keys::Area;
use crate::bulk::handlers as bulk;
use crate::cart::handlers as cart;
use crate::catalog::handlers as catalog;
use crate::customers::handlers as customers;
use crate::customers::two_factor;
use crate::gift_cards::handlers as gift_cards;
use crate::limits::Rule;
use crate::orders::handlers as orders;
use crate::pages::{
    account, admin as dashboard, admin_bulk, admin_customers, admin_drafts, admin_gift_cards, admin_images,
    admin_orders, admin_price_lists, admin_products, admin_returns, admin_system as system, admin_tables,
    admin_translations, admin_variants, admin_view, assets, buy, shop,
};
use crate::reviews;
use crate::webhooks::handlers as webhooks;

/// The router with its description, and each route's policy as declared.
pub struct Table {
    pub router: OpenApiRouter<AppState>,
    pub declared: Vec<(String, Method, Policy)>,
}

impl Table {
    /// Registers handlers (of one path) under one policy.
    fn add(mut self, handlers: UtoipaMethodRouter<AppState>, policy: Policy) -> Table {
        for (path, item) in handlers.1.paths.iter() {
            let ops = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, _) in ops.into_iter().filter(|(_, there)| *there) {
                self.declared.push((path.clone(), method, policy));
            }
        }
        self.router = self.router.routes(handlers);
        self
    }

    /// The dashboard's pages of each table of reference data (`pages::admin_tables`).
    fn tables(mut self) -> Table {
        let page = Policy::page();
        for t in admin_tables::TABLES {
            self = self
                .page(t.path, &[Method::GET], get(admin_tables::list), page)
                .page(t.path, &[Method::POST], post(admin_tables::create), page)
                .page(t.item, &[Method::GET], get(admin_tables::show), page)
                .page(t.item, &[Method::POST], post(admin_tables::update), page)
                .page(t.delete, &[Method::POST], post(admin_tables::delete), page);
        }
        self
    }

    /// The dashboard's form of a price list's prices (`pages::admin_price_lists`).
    fn price_lists(self) -> Table {
        self.page("/admin/price-lists/{id}/prices", &[Method::POST], post(admin_price_lists::save), Policy::page())
    }

    /// The dashboard's page of one translation (`pages::admin_translations`) at `path`.
    fn translations(self, path: &str) -> Table {
        let page = Policy::page();
        self.page(path, &[Method::GET], get(admin_translations::show), page)
            .page(path, &[Method::POST], post(admin_translations::save), page)
            .page(&format!("{path}/delete"), &[Method::POST], post(admin_translations::remove), page)
    }

    /// Registers a web page (not in the API's document) under one policy.
    fn page(mut self, path: &str, methods: &[Method], handler: MethodRouter<AppState>, policy: Policy) -> Table {
        for method in methods {
            self.declared.push((path.to_owned(), method.clone(), policy));
        }
        self.router = self.router.route(path, handler);
        self
    }
}

/// The routes with their descriptions and policies.
pub fn table() -> Table {
    let open = Policy::open();
    let catalog_read = open.rate(Rule::Catalog).fast_path();
    let admin = Policy::admin;
    // public pages are the same for everyone and cached like the catalog's JSON
    let public_page = Policy::page().rate(Rule::Catalog).fast_path();
    let get_ = &[Method::GET];
    let post_ = &[Method::POST];
    Table { router: OpenApiRouter::with_openapi(crate::openapi::base()), declared: Vec::new() }
        // catalog (public, cacheable: hits are answered ahead of the router)
        .add(routes!(catalog::list_products), catalog_read)
        .add(routes!(catalog::bestsellers), catalog_read)
        .add(routes!(catalog::product), catalog_read)
        .add(routes!(catalog::product_reviews), catalog_read)
        .add(routes!(reviews::post), open.rate(Rule::Review))
        .add(routes!(catalog::categories), catalog_read)
        .add(routes!(catalog::category), catalog_read)
        .add(routes!(catalog::brands), catalog_read)
        .add(routes!(catalog::currencies), catalog_read)
        .add(routes!(catalog::search), open.rate(Rule::Search).fast_path())
        .add(routes!(catalog::suggest), open.rate(Rule::Search).fast_path())
        .add(routes!(crate::media::handlers::serve), open)
        // customers and sessions
        .add(routes!(customers::register), open.rate(Rule::Register))
        .add(routes!(customers::login), open.rate(Rule::Login))
        .add(routes!(customers::guest), open.rate(Rule::Guest))
        .add(routes!(customers::logout), open)
        .add(routes!(customers::sessions), open)
        .add(routes!(customers::revoke_session), open)
        .add(routes!(customers::forgot_password), open.rate(Rule::Reset))
        .add(routes!(customers::reset_password), open.rate(Rule::Reset))
        .add(routes!(two_factor::setup), open.rate(Rule::TwoFactor))
        .add(routes!(two_factor::enable), open.rate(Rule::TwoFactor))
        .add(routes!(two_factor::disable), open.rate(Rule::TwoFactor))
        .add(routes!(customers::me, customers::update_me), open)
        .add(routes!(customers::addresses, customers::add_address), open)
        .add(routes!(customers::delete_address), open)
        // cart, checkout, orders
        .add(routes!(cart::view), open)
        .add(routes!(cart::add), open.rate(Rule::CartWrite))
        .add(routes!(cart::update_item, cart::remove_item), open.rate(Rule::CartWrite))
        .add(routes!(cart::apply_discount, cart::remove_discount), open.rate(Rule::Discount))
        .add(routes!(gift_cards::apply_gift_card, gift_cards::remove_gift_card), open.rate(Rule::GiftCard))
        .add(routes!(gift_cards::gift_card_balance), open.rate(Rule::GiftCard))
        .add(routes!(cart::shipping_options), open)
        .add(routes!(orders::checkout), open.rate(Rule::Checkout))
        .add(routes!(orders::list), open)
        .add(routes!(orders::buy_now), open.rate(Rule::Checkout))
        .add(routes!(orders::detail), open)
        .add(routes!(orders::cancel), open)
        .add(routes!(orders::request_return), open)
        .add(routes!(orders::payment_webhook), open)
        .add(routes!(orders::carrier_webhook), open)
        // administration: each route in the area an API key's scope names
        .add(routes!(admin::cache::cache_stats, admin::cache::cache_flush), admin(Area::Cache))
        .add(routes!(admin::settings::list_settings, admin::settings::update_settings), admin(Area::Settings))
        .add(routes!(admin::products::create_product, admin::products::list_products), admin(Area::Catalog))
        .add(
            routes!(admin::products::get_product, admin::products::update_product, admin::products::retire_product),
            admin(Area::Catalog),
        )
        .add(routes!(admin::products::set_inventory), admin(Area::Catalog))
        .add(routes!(admin::products::set_price), admin(Area::Catalog))
        .add(routes!(admin::products::add_variant), admin(Area::Catalog))
        .add(routes!(admin::products::update_variant), admin(Area::Catalog))
        // a picture streams in as long as it keeps coming; its handler bounds it (media_max_mb)
        .add(routes!(admin::images::upload_image), admin(Area::Catalog).upload())
        .add(routes!(admin::images::update_image, admin::images::delete_image), admin(Area::Catalog))
        .add(routes!(admin::reviews::reviews), admin(Area::Catalog))
        .add(routes!(admin::reviews::moderate_review), admin(Area::Catalog))
        .add(routes!(admin::audit::audit_log), admin(Area::Audit))
        .add(routes!(admin::orders::orders), admin(Area::Orders))
        .add(routes!(admin::orders::order, admin::orders::update_order), admin(Area::Orders))
        .add(routes!(admin::orders::create_fulfillment), admin(Area::Orders))
        .add(routes!(admin::orders::create_refund), admin(Area::Orders))
        .add(routes!(admin::orders::edit_order), admin(Area::Orders))
        .add(routes!(admin::orders::balance_paid), admin(Area::Orders))
        .add(routes!(admin::drafts::create_draft, admin::drafts::list_drafts), admin(Area::Orders))
        .add(
            routes!(admin::drafts::get_draft, admin::drafts::update_draft, admin::drafts::delete_draft),
            admin(Area::Orders),
        )
        .add(routes!(admin::drafts::complete_draft), admin(Area::Orders))
        .add(routes!(admin::drafts::new_payment_link), admin(Area::Orders))
        .add(routes!(admin::orders::update_fulfillment), admin(Area::Orders))
        .add(routes!(admin::gift_cards::create_gift_card, admin::gift_cards::list_gift_cards), admin(Area::Orders))
        .add(routes!(admin::gift_cards::get_gift_card, admin::gift_cards::update_gift_card), admin(Area::Orders))
        .add(routes!(admin::returns::list_returns), admin(Area::Orders))
        .add(routes!(admin::returns::get_return, admin::returns::update_return), admin(Area::Orders))
        .add(routes!(res::create_category), admin(Area::Catalog))
        .add(routes!(res::update_category, res::delete_category), admin(Area::Catalog))
        .add(routes!(res::create_brand), admin(Area::Catalog))
        .add(routes!(res::update_brand, res::delete_brand), admin(Area::Catalog))
        .add(routes!(admin::translations::list_product_translations), admin(Area::Catalog))
        .add(
            routes!(admin::translations::put_product_translation, admin::translations::delete_product_translation),
            admin(Area::Catalog),
        )
        .add(routes!(admin::translations::list_category_translations), admin(Area::Catalog))
        .add(
            routes!(admin::translations::put_category_translation, admin::translations::delete_category_translation),
            admin(Area::Catalog),
        )
        .add(routes!(admin::translations::list_brand_translations), admin(Area::Catalog))
        .add(
            routes!(admin::translations::put_brand_translation, admin::translations::delete_brand_translation),
            admin(Area::Catalog),
        )
        .add(routes!(admin::customers::list), admin(Area::Orders))
        .add(routes!(admin::customers::get), admin(Area::Orders))
        .add(routes!(admin::customers::set_groups), admin(Area::Orders))
        .add(routes!(res::create_customer_group, res::list_customer_groups), admin(Area::Orders))
        .add(routes!(res::update_customer_group, res::delete_customer_group), admin(Area::Orders))
        .add(routes!(res::create_price_list, res::list_price_lists), admin(Area::Catalog))
        .add(routes!(res::update_price_list, res::delete_price_list), admin(Area::Catalog))
        .add(routes!(admin::price_lists::list_prices, admin::price_lists::put_prices), admin(Area::Catalog))
        // ending an account's sessions is a person's act, not an integration's
        .add(routes!(admin::customers::end_sessions), Policy::in_person())
        .add(routes!(res::create_promotion, res::list_promotions), admin(Area::Catalog))
        .add(routes!(res::update_promotion, res::delete_promotion), admin(Area::Catalog))
        .add(routes!(res::create_shipping_rate, res::list_shipping_rates), admin(Area::Catalog))
        .add(routes!(res::update_shipping_rate, res::delete_shipping_rate), admin(Area::Catalog))
        .add(routes!(res::create_tax_rate, res::list_tax_rates), admin(Area::Catalog))
        .add(routes!(res::update_tax_rate, res::delete_tax_rate), admin(Area::Catalog))
        .add(routes!(bulk::create_import), admin(Area::Catalog).upload())
        .add(routes!(bulk::create_export), admin(Area::Exports))
        .add(routes!(bulk::download_export), admin(Area::Exports))
        .add(routes!(admin::jobs::list_jobs), admin(Area::Jobs))
        .add(routes!(admin::jobs::get_job, admin::jobs::cancel_job), admin(Area::Jobs))
        .add(routes!(admin::jobs::retry_job), admin(Area::Jobs))
        .add(routes!(webhooks::create_webhook, webhooks::list_webhooks), admin(Area::Webhooks))
        .add(routes!(webhooks::get_webhook, webhooks::update_webhook, webhooks::delete_webhook), admin(Area::Webhooks))
        .add(routes!(webhooks::webhook_deliveries), admin(Area::Webhooks))
        .add(routes!(webhooks::retry_delivery), admin(Area::Webhooks))
        .add(routes!(admin::api_keys::create_key, admin::api_keys::list_keys), Policy::in_person())
        .add(routes!(admin::api_keys::get_key, admin::api_keys::revoke_key), Policy::in_person())
        // operations
        .add(routes!(ops::health), open)
        .add(routes!(ops::ready), open)
        .add(routes!(ops::metrics), open)
        .add(routes!(ops::openapi), open)
        // web pages: the storefront
        .page("/", get_, get(shop::home), public_page)
        .page("/c/{slug}", get_, get(shop::category), public_page)
        .page("/p/{slug}", get_, get(shop::product), public_page)
        .page("/search", get_, get(shop::search), Policy::page().rate(Rule::Search).fast_path())
        .page("/language", post_, post(shop::language), Policy::page())
        .page("/currency", post_, post(shop::currency), Policy::page())
        .page("/assets/{file}", get_, get(assets::serve), Policy::page())
        // the shopper's own pages: never cached; forms post only from the shop's own pages
        .page("/cart", get_, get(buy::cart), Policy::page())
        .page("/cart/items", post_, post(buy::add), Policy::page().rate(Rule::CartWrite))
        .page("/cart/items/{id}", post_, post(buy::update_item), Policy::page().rate(Rule::CartWrite))
        .page("/cart/items/{id}/remove", post_, post(buy::remove_item), Policy::page().rate(Rule::CartWrite))
        .page("/cart/discount", post_, post(buy::apply_discount), Policy::page().rate(Rule::Discount))
        .page("/cart/discount/remove", post_, post(buy::remove_discount), Policy::page().rate(Rule::CartWrite))
        .page("/cart/gift-card", post_, post(buy::apply_gift_card), Policy::page().rate(Rule::GiftCard))
        .page("/cart/gift-card/remove", post_, post(buy::remove_gift_card), Policy::page().rate(Rule::CartWrite))
        .page(
            "/checkout",
            &[Method::GET, Method::POST],
            get(buy::checkout).post(buy::place),
            Policy::page().rate(Rule::Checkout),
        )
        .page("/orders/{id}", get_, get(buy::order), Policy::page())
        .page("/orders/{id}/returns", post_, post(buy::request_return), Policy::page())
        .page("/account", get_, get(account::account), Policy::page())
        .page("/account/login", get_, get(account::login_page), Policy::page())
        .page("/account/login", post_, post(account::login), Policy::page().rate(Rule::Login))
        .page("/account/register", get_, get(account::register_page), Policy::page())
        .page("/account/register", post_, post(account::register), Policy::page().rate(Rule::Register))
        .page("/account/logout", post_, post(account::logout), Policy::page())
        .page("/account/language", post_, post(account::set_language), Policy::page())
        .page("/account/sessions/{id}/end", post_, post(account::end_session), Policy::page())
        .page("/account/2fa/setup", post_, post(account::two_factor_setup), Policy::page().rate(Rule::TwoFactor))
        .page("/account/2fa/enable", post_, post(account::two_factor_enable), Policy::page().rate(Rule::TwoFactor))
        // the owner's dashboard: the admin API's handlers and checks
        .page("/admin/login", get_, get(dashboard::login_page), Policy::page())
        .page("/admin/login", post_, post(dashboard::login), Policy::page().rate(Rule::Login))
        .page("/admin/logout", post_, post(dashboard::logout), Policy::page())
        .page("/admin", get_, get(dashboard::home), Policy::page())
        .page("/admin/orders", get_, get(dashboard::orders), Policy::page())
        .page("/admin/orders/{id}", get_, get(admin_orders::order), Policy::page())
        .page("/admin/draft-orders", get_, get(admin_drafts::list), Policy::page())
        .page("/admin/draft-orders", post_, post(admin_drafts::create), Policy::page())
        .page("/admin/draft-orders/new", get_, get(admin_drafts::new), Policy::page())
        .page("/admin/draft-orders/{id}", get_, get(admin_drafts::show), Policy::page())
        .page("/admin/draft-orders/{id}", post_, post(admin_drafts::save), Policy::page())
        .page("/admin/draft-orders/{id}/complete", post_, post(admin_drafts::complete), Policy::page())
        .page("/admin/draft-orders/{id}/delete", post_, post(admin_drafts::delete), Policy::page())
        .page("/admin/draft-orders/{id}/payment-link", post_, post(admin_drafts::payment_link), Policy::page())
        .page("/admin/orders/{id}/status", post_, post(admin_orders::order_status), Policy::page())
        .page("/admin/orders/{id}/fulfillments", post_, post(admin_orders::ship), Policy::page())
        .page("/admin/orders/{id}/refunds", post_, post(admin_orders::refund), Policy::page())
        .page("/admin/orders/{id}/edit", get_, get(admin_orders::edit), Policy::page())
        .page("/admin/orders/{id}/edit", post_, post(admin_orders::save_edit), Policy::page())
        .page("/admin/orders/{id}/balance", post_, post(admin_orders::balance), Policy::page())
        .page("/admin/orders/{id}/fulfillments/{fid}/delivered", post_, post(admin_orders::delivered), Policy::page())
        .translations("/admin/products/{id}/translations/{locale}")
        .translations("/admin/categories/{id}/translations/{locale}")
        .translations("/admin/brands/{id}/translations/{locale}")
        .page("/admin/returns", get_, get(admin_returns::list), Policy::page())
        .page("/admin/returns/{id}", get_, get(admin_returns::show), Policy::page())
        .page("/admin/returns/{id}/{step}", post_, post(admin_returns::step), Policy::page())
        .page("/admin/gift-cards", get_, get(admin_gift_cards::list), Policy::page())
        .page("/admin/gift-cards", post_, post(admin_gift_cards::issue), Policy::page())
        .page("/admin/gift-cards/{id}", get_, get(admin_gift_cards::show), Policy::page())
        .page("/admin/gift-cards/{id}", post_, post(admin_gift_cards::switch), Policy::page())
        .page("/admin/view", post_, post(admin_view::choose), Policy::page())
        .page("/admin/language", post_, post(admin_view::language), Policy::page())
        .page("/admin/products", get_, get(admin_products::list), Policy::page())
        .page("/admin/products/new", get_, get(admin_products::new_page), Policy::page())
        .page("/admin/products/new", post_, post(admin_products::create), Policy::page())
        .page("/admin/products/{id}", get_, get(admin_products::show), Policy::page())
        .page("/admin/products/{id}", post_, post(admin_products::update), Policy::page())
        .page("/admin/products/{id}/price", post_, post(admin_products::price), Policy::page())
        .page("/admin/products/{id}/stock", post_, post(admin_products::stock), Policy::page())
        .page("/admin/products/{id}/retire", post_, post(admin_products::retire), Policy::page())
        .page("/admin/products/{id}/variants", post_, post(admin_variants::add), Policy::page())
        .page("/admin/products/{id}/variants/{variant_id}", get_, get(admin_variants::show), Policy::page())
        .page("/admin/products/{id}/variants/{variant_id}", post_, post(admin_variants::update), Policy::page())
        // a picture streams in as long as it keeps coming; the API's upload bounds it
        .page("/admin/products/{id}/images", post_, post(admin_images::upload), Policy::page().upload())
        .page("/admin/products/{id}/images/{image_id}", post_, post(admin_images::update), Policy::page())
        .page("/admin/products/{id}/images/{image_id}/delete", post_, post(admin_images::delete), Policy::page())
        .page("/admin/reviews", get_, get(dashboard::reviews), Policy::page())
        .page("/admin/reviews/{id}", post_, post(dashboard::moderate), Policy::page())
        .page("/admin/customers", get_, get(admin_customers::list), Policy::page())
        .page("/admin/customers/{id}", get_, get(admin_customers::show), Policy::page())
        .page("/admin/customers/{id}/groups", post_, post(admin_customers::set_groups), Policy::page())
        .page("/admin/customers/{id}/sessions/end", post_, post(admin_customers::end_sessions), Policy::page())
        .tables()
        .price_lists()
        .page("/admin/jobs", get_, get(dashboard::jobs), Policy::page())
        .page("/admin/jobs/{id}", get_, get(admin_bulk::job), Policy::page())
        .page("/admin/imports", get_, get(admin_bulk::imports), Policy::page())
        // the file streams to the API's import, which bounds it (import_max_mb)
        .page(
            "/admin/imports",
            post_,
            post(admin_bulk::upload).layer(axum::extract::DefaultBodyLimit::disable()),
            Policy::page().upload(),
        )
        .page("/admin/jobs/{id}/{action}", post_, post(dashboard::job_action), Policy::page())
        // system: webhooks, API keys, exports, the audit log, the cache
        .page("/admin/webhooks", get_, get(system::webhooks), Policy::page())
        .page("/admin/webhooks", post_, post(system::create_webhook), Policy::page())
        .page("/admin/webhooks/{id}", get_, get(system::webhook), Policy::page())
        .page("/admin/webhooks/{id}", post_, post(system::update_webhook), Policy::page())
        .page("/admin/webhooks/{id}/delete", post_, post(system::delete_webhook), Policy::page())
        .page(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
            post_,
            post(system::retry_delivery),
            Policy::page(),
        )
        .page("/admin/api-keys", get_, get(system::api_keys), Policy::page())
        .page("/admin/api-keys", post_, post(system::create_key), Policy::page())
        .page("/admin/api-keys/{id}/revoke", post_, post(system::revoke_key), Policy::page())
        .page("/admin/exports", get_, get(system::exports), Policy::page())
        .page("/admin/exports", post_, post(system::create_export), Policy::page())
        .page("/admin/exports/{id}", get_, get(system::download), Policy::page())
        .page("/admin/audit", get_, get(system::audit), Policy::page())
        .page("/admin/cache", get_, get(system::cache), Policy::page())
        .page("/admin/cache/flush", post_, post(system::flush), Policy::page())
        .page("/admin/settings", get_, get(system::settings), Policy::page())
        .page("/admin/settings", post_, post(system::save_settings), Policy::page())
        .page("/admin/settings/reset", post_, post(system::reset_setting), Policy::page())
}

/// The router of the table, with the front layer's middleware around every route.
pub fn router(state: AppState) -> Router {
    let _ = super::policy::routes(); // built now, not on the first request
    let (router, _) = table().router.split_for_parts();
    router.layer(axum::middleware::from_fn_with_state(state.clone(), super::context::request_context)).with_state(state)
}

#[cfg(test)]
mod tests {
    use super::super::policy::{path_template, routes, template};
    use super::*;

    #[test]
    fn the_fast_path_covers_the_public_catalog_reads() {
        let mut fast: Vec<&str> = routes()
            .all()
            .filter(|r| r.methods().any(|(m, p)| *m == Method::GET && p.fast_path))
            .map(|r| r.template)
            .collect();
        fast.sort_unstable();
        assert_eq!(
            fast,
            [
                "/",
                "/api/brands",
                "/api/categories",
                "/api/categories/{slug}",
                "/api/currencies",
                "/api/products",
                "/api/products/bestsellers",
                "/api/products/{slug}",
                "/api/products/{slug}/reviews",
                "/api/search",
                "/api/search/suggest",
                "/c/{slug}",
                "/p/{slug}",
                "/search"
            ]
        );
        // and each of the API's is public in the document (the storefront's pages are not
        // in it: they are not the API)
        let doc = super::super::spec::to_json();
        for t in fast.into_iter().filter(|t| t.starts_with("/api/")) {
            assert_eq!(doc["paths"][t]["get"]["security"], serde_json::json!([{}]), "{t}");
        }
    }

    #[test]
    fn paths_map_to_their_templates() {
        assert_eq!(path_template("/api/products/blue-shirt"), "/api/products/{slug}");
        assert_eq!(path_template("/api/products"), "/api/products");
        assert_eq!(path_template("/api/nothing"), "unmatched");
        assert_eq!(template(Some("/api/cart")), "/api/cart");
        assert_eq!(template(Some("/made/up")), "unmatched");
    }

    #[test]
    fn every_rule_limits_a_route_and_every_admin_route_has_its_key_policy() {
        use crate::auth::api_keys::KeyAccess;
        let mut seen = std::collections::HashSet::new();
        for route in routes().all() {
            for (_, policy) in route.methods() {
                seen.extend(policy.rate);
                let admin = route.template.starts_with("/api/admin/");
                assert_eq!(policy.keys != KeyAccess::NotAdmin, admin, "{}", route.template);
                // what only a person may do: make and revoke keys, end a customer's sessions
                let in_person = route.template.starts_with("/api/admin/api-keys")
                    || route.template == "/api/admin/customers/{id}/sessions";
                assert_eq!(policy.keys == KeyAccess::InPerson, in_person, "{}", route.template);
            }
        }
        for rule in Rule::ALL {
            assert!(seen.contains(&rule), "{} covers no route", rule.name());
        }
    }

    #[test]
    fn the_documented_cache_tags_are_the_catalogs() {
        let doc = super::super::spec::to_json();
        let params = doc["paths"]["/api/admin/cache"]["delete"]["parameters"].as_array().unwrap();
        let tag = params.iter().find(|p| p["name"] == "tag").unwrap();
        assert_eq!(tag["schema"]["pattern"], crate::catalog::tags::Tag::PATTERN);
    }
}
