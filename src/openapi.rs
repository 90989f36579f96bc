//! The OpenAPI 3.1 document of the served API, built once. Choices the contract leaves
//! open (parameter ranges, error codes, pagination details) are recorded here.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::http::Rendered;

fn param(name: &str, location: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": location, "required": location == "path", "schema": schema, "description": description})
}

fn int(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn errors(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let desc = match *c {
            "304" => "Not modified (If-None-Match matched the ETag)",
            "400" => "Malformed request: invalid_query, unknown_parameter, invalid_cursor",
            "404" => "not_found",
            "414" => "uri_too_long: query string over 4096 bytes",
            "422" => "validation_failed: details name each bad field",
            "503" => "unavailable: overloaded (with Retry-After) or not ready",
            _ => "error",
        };
        let v = if *c == "304" {
            json!({"description": desc})
        } else {
            json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        };
        m.insert((*c).to_owned(), v);
    }
    Value::Object(m)
}

fn ok(schema: Value, description: &str) -> Value {
    json!({"description": description,
           "headers": {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}},
                       "X-Request-Id": {"schema": {"type": "string"}}},
           "content": {"application/json": {"schema": schema}}})
}

fn responses(ok_resp: Value, errs: &[&str]) -> Value {
    let mut r = errors(errs);
    r["200"] = ok_resp;
    r
}

fn list_of(item: &str, meta: &str) -> Value {
    json!({"type": "object", "required": ["data", "meta"], "properties": {
        "data": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "meta": {"$ref": format!("#/components/schemas/{meta}")}}})
}

fn one(item: &str) -> Value {
    json!({"type": "object", "required": ["data"], "properties": {"data": {"$ref": format!("#/components/schemas/{item}")}}})
}

fn filter_params() -> Vec<Value> {
    vec![
        param(
            "category",
            "query",
            json!({"type": "string"}),
            "category slug; products of its sub-categories are included; unknown slug → 422",
        ),
        param("brand", "query", json!({"type": "string"}), "brand slug; unknown slug → 422"),
        param("min_price", "query", json!({"type": "integer", "minimum": 0}), "minimum current price in minor units"),
        param(
            "max_price",
            "query",
            json!({"type": "integer", "minimum": 0}),
            "maximum current price in minor units; min_price > max_price → 422",
        ),
        param("in_stock", "query", json!({"type": "boolean"}), "only products with stock"),
    ]
}

fn build() -> Value {
    let money = json!({"type": "object", "required": ["amount", "currency"], "properties": {
        "amount": {"type": "integer", "description": "minor units"}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}});
    let reff = json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"}}});
    let summary = json!({"type": "object", "required": ["id", "sku", "name", "slug", "price", "image", "category", "in_stock", "rating"],
        "properties": {
            "id": {"type": "string"}, "sku": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"},
            "price": {"$ref": "#/components/schemas/Money", "description": "what the customer pays now"},
            "base_price": {"$ref": "#/components/schemas/Money"},
            "sale_price": {"oneOf": [{"$ref": "#/components/schemas/Money"}, {"type": "null"}]},
            "image": {"oneOf": [{"type": "object", "properties": {"url": {"type": "string"}, "thumbnail": {"type": "string"}}}, {"type": "null"}]},
            "category": {"$ref": "#/components/schemas/Ref"},
            "brand": {"oneOf": [{"$ref": "#/components/schemas/Ref"}, {"type": "null"}]},
            "in_stock": {"type": "boolean"},
            "rating": {"type": "object", "properties": {"average": {"type": "number"}, "count": {"type": "integer"}}},
            "created_at": {"type": "string", "format": "date-time"}}});
    let mut sorts = vec![json!("relevance")];
    sorts.extend(crate::catalog::model::Sort::CHOICES.iter().map(|(n, _)| json!(n)));

    let mut list_params = filter_params();
    list_params.extend([
        param(
            "q",
            "query",
            json!({"type": "string", "maxLength": 200}),
            "full-text filter (words, all required; the last one also as a prefix)",
        ),
        param(
            "sort",
            "query",
            json!({"enum": ["newest", "price_asc", "price_desc", "popular", "rating"], "default": "newest"}),
            "order",
        ),
        param("page", "query", int(1, 10_000), "offset pagination (default 1); stops at item 10,000"),
        param("per_page", "query", int(1, 100), "page size (default 20)"),
        param(
            "cursor",
            "query",
            json!({"type": "string"}),
            "keyset pagination: a meta.next_cursor/prev_cursor; empty for the first page. Not with page.",
        ),
        param("fields", "query", json!({"type": "string"}), "sparse fieldset: comma-separated summary fields"),
    ]);
    let mut search_params =
        vec![param("q", "query", json!({"type": "string", "maxLength": 200}), "required search text")];
    search_params.extend(filter_params());
    search_params.extend([
        param(
            "sort",
            "query",
            json!({"enum": sorts, "default": "relevance"}),
            "order. relevance: products with every word in the name first, then in name/brand/category, then anywhere (description too); ties by units sold",
        ),
        param("page", "query", int(1, 1_000), "page (default 1); results stop at item 1,000"),
        param("per_page", "query", int(1, 100), "page size (default 20)"),
    ]);
    let slug = param("slug", "path", json!({"type": "string"}), "slug");
    let catalog_errs = ["304", "400", "414", "422", "503"];

    json!({
        "openapi": "3.1.0",
        "info": {"title": "storefront", "version": env!("CARGO_PKG_VERSION"),
                 "description": "E-commerce storefront API. Success bodies are {\"data\": ...} (lists add \"meta\"); errors are {\"error\": {code, message, details, request_id}}. Money is integer minor units with an ISO currency. Public catalog responses carry ETag and Cache-Control: public, max-age, stale-while-revalidate; gzip on Accept-Encoding. Every response carries X-Request-Id (a client-sent one of 1-128 visible ASCII characters is echoed). Unknown query parameters are refused with 400 unknown_parameter."},
        "paths": {
            "/api/products": {"get": {"summary": "List products", "parameters": list_params,
                "responses": responses(ok(list_of("ProductSummary", "PageMeta"), "a page of products"), &catalog_errs)}},
            "/api/products/bestsellers": {"get": {"summary": "Top sellers by units sold",
                "parameters": [param("days", "query", int(1, 365), "window in days (default 30)"), param("limit", "query", int(1, 100), "how many (default 20)")],
                "responses": responses(ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/ProductSummary"}, {"type": "object", "properties": {"units_sold": {"type": "integer"}}}]}}}}), "bestsellers"), &catalog_errs)}},
            "/api/products/{slug}": {"get": {"summary": "One product with category, brand, images, options, variants (in_stock, never counts), rating summary and the 10 newest approved reviews",
                "parameters": [slug.clone()], "responses": responses(ok(one("ProductDetail"), "the product"), &["304", "404", "503"])}},
            "/api/products/{slug}/reviews": {"get": {"summary": "Approved reviews, newest first, keyset-paginated",
                "parameters": [slug.clone(), param("cursor", "query", json!({"type": "string"}), "meta.next_cursor or prev_cursor"), param("per_page", "query", int(1, 50), "default 10")],
                "responses": responses(ok(list_of("Review", "CursorMeta"), "reviews"), &["304", "400", "404", "422"])}},
            "/api/categories": {"get": {"summary": "The category tree; product_count includes sub-categories",
                "responses": responses(ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/CategoryNode"}}}}), "the tree"), &["304"])}},
            "/api/categories/{slug}": {"get": {"summary": "One category with parent, path and children",
                "parameters": [slug], "responses": responses(ok(one("CategoryDetail"), "the category"), &["304", "404"])}},
            "/api/brands": {"get": {"summary": "All brands with product counts",
                "responses": responses(ok(json!({"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Brand"}}}}), "brands"), &["304"])}},
            "/api/search": {"get": {"summary": "Full-text search with facets (counts per category rolled up to ancestors, per brand (top 50), per price band) over all matches",
                "parameters": search_params,
                "responses": responses(ok(list_of("ProductSummary", "SearchMeta"), "ranked results and facets"), &catalog_errs)}},
            "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "the process answers"}}}},
            "/ready": {"get": {"summary": "Readiness: database readable, writer alive, not draining. With Redis configured, checks.redis is ok or degraded: a degraded Redis leaves the node ready (it serves from L1 and SQLite)",
                "responses": {"200": {"description": "ready"}, "503": {"description": "not_ready; details.checks names the failing checks", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {"schemas": {
            "Money": money,
            "Ref": reff,
            "ProductSummary": summary,
            "ProductDetail": {"allOf": [{"$ref": "#/components/schemas/ProductSummary"}, {"type": "object", "properties": {
                "description": {"type": "string"},
                "images": {"type": "array", "items": {"type": "object", "properties": {"url": {"type": "string"}, "thumbnail": {"type": "string"}, "alt": {"type": "string"}}}},
                "options": {"type": "array", "items": {"type": "object", "properties": {"attribute": {"type": "string"}, "name": {"type": "string"}, "values": {"type": "array", "items": {"type": "string"}}}}},
                "variants": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "sku": {"type": "string"}, "name": {"type": "string"}, "price": {"$ref": "#/components/schemas/Money"}, "in_stock": {"type": "boolean"}, "attributes": {"type": "array"}}}},
                "rating": {"type": "object", "properties": {"average": {"type": "number"}, "count": {"type": "integer"}, "distribution": {"type": "object"}}},
                "reviews": {"type": "array", "items": {"$ref": "#/components/schemas/Review"}}}}]},
            "Review": {"type": "object", "properties": {"id": {"type": "string"}, "rating": {"type": "integer", "minimum": 1, "maximum": 5}, "title": {"type": "string"}, "body": {"type": "string"}, "author": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}},
            "CategoryNode": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"}, "depth": {"type": "integer"}, "product_count": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/CategoryNode"}}}},
            "CategoryDetail": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"}, "product_count": {"type": "integer"}, "parent": {"oneOf": [{"$ref": "#/components/schemas/Ref"}, {"type": "null"}]}, "path": {"type": "array", "items": {"$ref": "#/components/schemas/Ref"}}, "children": {"type": "array"}}},
            "Brand": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"}, "description": {"type": "string"}, "logo_url": {"type": ["string", "null"]}, "product_count": {"type": "integer"}}},
            "PageMeta": {"type": "object", "description": "offset mode: current_page, per_page, total, last_page (and next_cursor to continue by keyset); keyset mode (cursor given): per_page, next_cursor, prev_cursor, has_more",
                "properties": {"current_page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}, "last_page": {"type": "integer"},
                               "next_cursor": {"type": ["string", "null"]}, "prev_cursor": {"type": ["string", "null"]}, "has_more": {"type": "boolean"}}},
            "CursorMeta": {"type": "object", "properties": {"per_page": {"type": "integer"}, "total": {"type": "integer"}, "next_cursor": {"type": ["string", "null"]}, "prev_cursor": {"type": ["string", "null"]}, "has_more": {"type": "boolean"}}},
            "SearchMeta": {"type": "object", "properties": {"q": {"type": "string"}, "current_page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}, "last_page": {"type": "integer"},
                "facets": {"type": "object", "properties": {"categories": {"type": "array"}, "brands": {"type": "array"}, "price_bands": {"type": "array", "items": {"type": "object", "properties": {"min": {"$ref": "#/components/schemas/Money"}, "max": {"oneOf": [{"$ref": "#/components/schemas/Money"}, {"type": "null"}]}, "count": {"type": "integer"}}}}}}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "details", "request_id"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}, "request_id": {"type": "string"}}}}}
        }}
    })
}

/// A personal operation: bearer auth, a JSON body (when `body` names a schema), its
/// success status and schema, and its error statuses with what they mean here.
fn op(summary: &str, body: Option<&str>, status: &str, out: Value, errs: &[(&str, &str)]) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert(
        status.to_owned(),
        json!({"description": "success", "headers": {"Cache-Control": {"schema": {"const": "private, no-store"}}},
        "content": {"application/json": {"schema": out}}}),
    );
    for (code, desc) in errs {
        responses.insert((*code).to_owned(), json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
    }
    let mut o = json!({"summary": summary, "security": [{"bearer": []}], "responses": responses});
    if let Some(b) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
    }
    o
}

fn data_of(schema: &str) -> Value {
    json!({"type": "object", "properties": {"data": {"$ref": format!("#/components/schemas/{schema}")}}})
}

const BAD_BODY: (&str, &str) = ("400", "malformed_json: the body is not JSON");
const BAD_TYPE: (&str, &str) = ("415", "unsupported_media_type: the body must be application/json");
const TOO_BIG: (&str, &str) = ("413", "payload_too_large: over 64 KiB");
const INVALID: (&str, &str) = ("422", "validation_failed: details name each bad field");
const NO_AUTH: (&str, &str) = ("401", "unauthenticated (no token), invalid_token (expired, revoked, unknown) or login_required (a guest token where a customer is needed)");
const NOT_FOUND: (&str, &str) = ("404", "not_found (also for another customer's resources)");
const OVERLOADED: (&str, &str) = ("503", "unavailable: the writer's queue is full (Retry-After)");

/// The admin API's reference data: one description per table drives validation, so the
/// document is built from the same description.
fn resource_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use crate::admin::resources::{Kind, Resource, BRANDS, CATEGORIES, PROMOTIONS, SHIPPING_RATES, TAX_RATES};
    let list: [(&str, &str, &Resource); 5] = [
        ("/api/admin/categories", "AdminCategory", &CATEGORIES),
        ("/api/admin/brands", "AdminBrand", &BRANDS),
        ("/api/admin/promotions", "AdminPromotion", &PROMOTIONS),
        ("/api/admin/shipping-rates", "AdminShippingRate", &SHIPPING_RATES),
        ("/api/admin/tax-rates", "AdminTaxRate", &TAX_RATES),
    ];
    for (path, schema, r) in list {
        let mut props = Map::new();
        for f in r.fields {
            let mut t = match &f.kind {
                Kind::Text(max) => json!({"type": "string", "maxLength": max}),
                Kind::Slug => json!({"type": "string", "pattern": "^[a-z0-9-]{1,200}$"}),
                Kind::Int(lo, hi) => json!({"type": "integer", "minimum": lo, "maximum": hi}),
                Kind::Ref(table) => json!({"type": "string", "description": format!("id of a row of {table}")}),
                Kind::Enum(choices) => json!({"enum": choices}),
                Kind::Country => json!({"type": "string", "pattern": "^[A-Za-z]{2}$"}),
                Kind::Zone => json!({"type": "string", "description": "a country code, or * for anywhere else"}),
                Kind::Flag => json!({"type": "boolean"}),
            };
            if f.nullable {
                t = json!({"oneOf": [t, {"type": "null"}]});
            }
            props.insert(f.name.to_owned(), t);
        }
        let required: Vec<&str> = r.fields.iter().filter(|f| f.required).map(|f| f.name).collect();
        schemas.insert(
            schema.to_owned(),
            json!({"type": "object", "additionalProperties": false, "required": required, "properties": props}),
        );
        let errs = [
            BAD_BODY,
            TOO_BIG,
            BAD_TYPE,
            INVALID,
            NO_AUTH,
            ("403", "forbidden: not an admin"),
            ("409", "conflict (a unique value is taken) or in_use (other rows refer to it)"),
        ];
        let entity = r.entity;
        paths.insert(
            path.to_owned(),
            json!({"post": op(&format!("Create a {entity}; audited"), Some(schema), "201", data_of(schema), &errs)}),
        );
        let mut with_nf = errs.to_vec();
        with_nf.push(NOT_FOUND);
        paths.insert(format!("{path}/{{id}}"), json!({
            "patch": op(&format!("Change some fields of a {entity} (required fields may not be removed); audited"), Some(schema), "200", data_of(schema), &with_nf),
            "delete": op(&format!("Delete a {entity} that nothing refers to; audited"), None, "204", json!({}), &[NO_AUTH, ("403", "forbidden"), NOT_FOUND, ("409", "in_use")])}));
    }
}

/// The write half: customers and sessions, cart, checkout, orders, reviews, webhook.
fn write_paths() -> Value {
    let body_errs = [BAD_BODY, TOO_BIG, BAD_TYPE, INVALID, OVERLOADED];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        body_errs.iter().chain(extra).copied().collect()
    };
    let cart = data_of("Cart");
    let order_created = json!({"type": "object", "properties": {"data": {"type": "object", "properties": {
        "order_id": {"type": "string"}, "status": {"const": "pending"}, "total": {"$ref": "#/components/schemas/Money"}}}}});
    let idem = "Honours Idempotency-Key (or X-Idempotency-Key; 1-255 visible ASCII): the same key and body (compared as canonical JSON) replay the first 201 with Idempotent-Replayed: true and create nothing; the same key with another body is 409 idempotency_key_reused; keys are scoped to the customer (or guest session) and kept 48 hours. Failed attempts are not stored, so a retry after a 409 out_of_stock tries again. In one transaction: stock is reserved (a conditional decrement per line; stock never goes below zero), the order, its lines and status history are written, the promotion's use is counted, the confirmation mail is queued. An unpaid order expires after order_expiry_mins (default 30) and its stock returns.";
    json!({
        "/api/auth/register": {"post": op("Create a customer account and a session. A guest token in Authorization brings its cart along.", Some("Register"), "201", data_of("TokenAndCustomer"), &with(&[("409", "email_taken")]))},
        "/api/auth/login": {"post": op("Log in. Throttled: after auth_failures_per_account (default 5) failed attempts for an account, or auth_failures_per_address (50) from a client address, within auth_window_secs (900), 429 with Retry-After. A guest token in Authorization merges its cart into the customer's (quantities added).", Some("Login"), "200", data_of("TokenAndCustomer"), &with(&[("401", "invalid_credentials (the same answer for unknown accounts)"), ("429", "rate_limited, with Retry-After")]))},
        "/api/auth/guest": {"post": op("An anonymous session that can hold a cart and place orders", None, "201", json!({"type": "object", "properties": {"data": {"type": "object", "properties": {"token": {"type": "string"}}}}}), &[OVERLOADED])},
        "/api/auth/logout": {"post": op("Revoke the current token", None, "204", json!({}), &[NO_AUTH])},
        "/api/auth/sessions": {"get": op("The customer's live sessions (device from User-Agent, client address, created, last seen; last_seen is updated at most once a minute)", None, "200", json!({"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}}}), &[NO_AUTH])},
        "/api/auth/sessions/{id}": {"delete": op("Revoke one of the customer's sessions", None, "204", json!({}), &[NO_AUTH, NOT_FOUND])},
        "/api/auth/password/forgot": {"post": op("Send a single-use reset code (valid reset_token_ttl_mins, default 60) through the mail outbox. Always 202, whether or not the account exists. Throttled like login.", Some("Forgot"), "202", json!({}), &with(&[("429", "rate_limited")]))},
        "/api/auth/password/reset": {"post": op("Set a new password with the mailed code; ends every session of the account", Some("Reset"), "204", json!({}), &with(&[("422", "invalid_token: wrong, used or expired code"), ("429", "rate_limited")]))},
        "/api/me": {
            "get": op("The customer's profile", None, "200", data_of("Customer"), &[NO_AUTH]),
            "patch": op("Change name or e-mail", Some("Profile"), "200", data_of("Customer"), &with(&[NO_AUTH, ("409", "email_taken")]))},
        "/api/me/addresses": {
            "get": op("Saved addresses", None, "200", json!({"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/AddressOut"}}}}), &[NO_AUTH]),
            "post": op("Save an address (at most 20)", Some("Address"), "201", data_of("AddressOut"), &with(&[NO_AUTH, ("409", "too_many_addresses")]))},
        "/api/me/addresses/{id}": {"delete": op("Delete a saved address", None, "204", json!({}), &[NO_AUTH, NOT_FOUND])},
        "/api/cart": {
            "get": {"summary": "The session's cart with unit and line prices, subtotal, discount, item count; with ?country=XX[&state=YY] also the cheapest shipping option and the tax of that destination. Prices: line total = unit × quantity; percent discounts and tax (basis points, on the subtotal after discount; shipping is not taxed) are rounded half up to a minor unit once; total = subtotal − discount + shipping + tax.",
                    "security": [{"bearer": []}],
                    "parameters": [param("country", "query", json!({"type": "string", "pattern": "^[A-Za-z]{2}$"}), "destination country"), param("state", "query", json!({"type": "string"}), "region, for regional tax")],
                    "responses": {"200": {"description": "the cart", "content": {"application/json": {"schema": cart.clone()}}}, "401": {"description": NO_AUTH.1}, "422": {"description": INVALID.1}}},
            "post": op("Add a product (its first variant with stock for the quantity) or a variant; quantities add up to at most 1000 a line", Some("AddToCart"), "201", cart.clone(), &with(&[NO_AUTH, ("409", "out_of_stock: details.items names each short line (never the stock count)")]))},
        "/api/cart/items/{id}": {
            "patch": op("Change a line's quantity", Some("Quantity"), "200", cart.clone(), &with(&[NO_AUTH, NOT_FOUND, ("409", "out_of_stock")])),
            "delete": op("Remove a line; answers the cart", None, "200", cart.clone(), &[NO_AUTH, NOT_FOUND])},
        "/api/cart/discount": {
            "post": op("Apply a promotion code (percent or fixed; minimum subtotal, validity window, usage limit)", Some("Discount"), "200", cart.clone(), &with(&[NO_AUTH, ("422", "invalid_discount: the message and details.code say why")])),
            "delete": op("Remove the code", None, "200", cart, &[NO_AUTH])},
        "/api/cart/shipping-options": {"get": {"summary": "Shipping options for the cart to ?country= (rates of that country, else the catch-all ones; by subtotal band and weight), cheapest first",
            "security": [{"bearer": []}], "parameters": [param("country", "query", json!({"type": "string"}), "required"), param("state", "query", json!({"type": "string"}), "region")],
            "responses": {"200": {"description": "options", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/ShippingOption"}}}}}}}, "422": {"description": INVALID.1}}}},
        "/api/checkout": {"post": op(&format!("Order the cart (a cart becomes at most one order). {idem}"), Some("Checkout"), "201", order_created.clone(),
            &with(&[NO_AUTH, ("400", "invalid_idempotency_key"), ("409", "out_of_stock (details.items), idempotency_key_reused, cart_already_ordered"), ("422", "validation_failed, cart_empty, invalid_discount, shipping_unavailable")]))},
        "/api/orders": {
            "get": {"summary": "The customer's (or guest session's) orders, newest first, keyset-paginated", "security": [{"bearer": []}],
                    "parameters": [param("cursor", "query", json!({"type": "string"}), "meta.next_cursor"), param("per_page", "query", int(1, 100), "default 20")],
                    "responses": {"200": {"description": "orders", "content": {"application/json": {"schema": list_of("OrderSummary", "CursorMeta")}}}, "401": {"description": NO_AUTH.1}, "422": {"description": INVALID.1}}},
            "post": op(&format!("Buy now, without a cart: items of product_id (its first variant with stock) or variant_id. {idem}"), Some("BuyNow"), "201", order_created,
                       &with(&[NO_AUTH, ("400", "invalid_idempotency_key"), ("409", "out_of_stock, idempotency_key_reused"), ("422", "validation_failed, invalid_discount, shipping_unavailable")]))},
        "/api/orders/{id}": {"get": op("One order with items, totals, shipping address and status history", None, "200", data_of("Order"), &[NO_AUTH, NOT_FOUND])},
        "/api/orders/{id}/cancel": {"post": op("Cancel a pending order (its reserved stock returns) or a paid one not yet fulfilled (its stock returns; a refund is due)", None, "200", data_of("Order"), &[NO_AUTH, NOT_FOUND, ("409", "cannot_cancel")])},
        "/api/products/{slug}/reviews": {"post": op("Review a product you bought (a paid or fulfilled order of yours contains it); one per product; held for moderation (status pending)", Some("ReviewIn"), "201", data_of("ReviewOut"),
            &with(&[NO_AUTH, NOT_FOUND, ("403", "purchase_required"), ("409", "already_reviewed")]))},
        "/api/admin/cache": {
            "get": op("Response cache per tier. l1: hits, misses, hit ratio, entries, bytes, budget, evictions, tag bumps. l2 (Redis, when configured): status (ok, degraded), hits, misses, hit ratio, stores, stale stores refused, errors, invalidations published/unpublished/received, and the Redis server's keys, used memory and evicted keys (role admin)", None, "200", json!({}), &[NO_AUTH, ("403", "forbidden: not an admin")]),
            "delete": op("Mark every entry with ?tag= stale (product:N, variant:N, listing, search, categories, brands, reviews, catalog), on every node and in Redis; without a tag, everything (Redis: a new generation). A tag is letters, digits, ':', '_', '-', '.' (else 400 invalid_query)", None, "200", json!({}), &[NO_AUTH, ("403", "forbidden")])},
        "/api/admin/products": {"post": op("Create a product with its default variant and initial stock (quantity); slug defaults from the name; audited", Some("AdminNewProduct"), "201", json!({}), &with(&[NO_AUTH, ("403", "forbidden"), ("409", "product_exists (sku or slug)")]))},
        "/api/admin/products/{id}": {
            "patch": op("Change name, description, slug, category_id, brand_id, status (active, draft, retired), weight_grams; audited", Some("AdminProductPatch"), "200", json!({}), &with(&[NO_AUTH, ("403", "forbidden"), NOT_FOUND, ("409", "slug_taken")])),
            "delete": op("Retire: hidden from listings, search and its page; order history keeps it; audited", None, "200", json!({}), &[NO_AUTH, ("403", "forbidden"), NOT_FOUND])},
        "/api/admin/products/{id}/inventory": {"put": op("{quantity, variant_id?}: units available for sale (reserved units stay reserved); audited", Some("AdminInventory"), "200", json!({}), &with(&[NO_AUTH, ("403", "forbidden"), NOT_FOUND]))},
        "/api/admin/products/{id}/price": {"put": op("{base, sale?} in minor units, sale below base; audited", Some("AdminPrice"), "200", json!({}), &with(&[NO_AUTH, ("403", "forbidden"), NOT_FOUND]))},
        "/api/admin/reviews": {"get": op("Moderation queue: ?status=pending (default), approved or rejected; oldest first; per_page up to 200", None, "200", json!({}), &[NO_AUTH, ("403", "forbidden")])},
        "/api/admin/reviews/{id}": {"patch": op("{status: approved | rejected | pending}; approval counts toward the product's rating at once; audited", Some("AdminModeration"), "200", json!({}), &with(&[NO_AUTH, ("403", "forbidden"), NOT_FOUND]))},
        "/api/admin/orders": {"get": op("Orders newest first, ?status= (pending, paid, fulfilled, cancelled, expired), ?before=<id>&per_page=", None, "200", json!({}), &[NO_AUTH, ("403", "forbidden"), INVALID])},
        "/api/admin/orders/{id}": {"patch": op("{status, note?}: fulfilled (paid → fulfilled), cancelled (pending or paid; stock returns), refunded (paid: stock returns; fulfilled: it does not); audited", Some("AdminOrderStatus"), "200", data_of("Order"), &with(&[NO_AUTH, ("403", "forbidden"), NOT_FOUND, ("409", "invalid_transition")]))},
        "/api/admin/audit": {"get": op("Audit log, newest first: who (actor_id), what (action, entity, before, after), when, from where; ?before=<id>&per_page=", None, "200", json!({}), &[NO_AUTH, ("403", "forbidden")])},
        "/api/webhooks/payments": {"post": {"summary": "Payment provider callback. X-Signature: sha256=<hex HMAC-SHA256 of the raw body with payment_webhook_secret>. Each event_id is applied once: a replay answers the recorded outcome with replayed: true and changes nothing. succeeded on a pending order: paid (reserved stock becomes sold); failed: the order is cancelled and its stock returns; an event for an order that is no longer pending is recorded as ignored; an amount that differs from the total is 409 amount_mismatch.",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaymentEvent"}}}},
            "responses": {"200": {"description": "applied or replayed"}, "401": {"description": "invalid_signature (also when no secret is configured)"}, "404": {"description": "no such order"}, "409": {"description": "amount_mismatch"}, "422": {"description": INVALID.1}}}}
    })
}

fn write_schemas() -> Value {
    let s = |v: &str| json!({"type": "string", "description": v});
    let address = json!({"type": "object", "required": ["name", "line1", "city", "postal_code", "country"], "additionalProperties": false, "properties": {
        "name": {"type": "string", "maxLength": 200}, "line1": {"type": "string", "maxLength": 200}, "line2": {"type": "string"}, "city": {"type": "string"},
        "state": {"type": "string", "description": "region: selects a regional tax rate"}, "postal_code": {"type": "string", "maxLength": 20},
        "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"}, "phone": {"type": "string", "maxLength": 40}}});
    let payment = json!({"type": "string", "pattern": crate::domain::PaymentMethod::PATTERN,
        "description": format!("an offline method ({}) or a payment provider's reference such as pm_card_visa", crate::domain::PaymentMethod::OFFLINE.join(", "))});
    json!({
        "Register": {"type": "object", "required": ["email", "password", "name"], "additionalProperties": false, "properties": {"email": {"type": "string", "format": "email"}, "password": {"type": "string", "minLength": 8, "maxLength": 256}, "name": {"type": "string", "maxLength": 200}}},
        "Login": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {"email": {"type": "string"}, "password": {"type": "string"}}},
        "Forgot": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}},
        "Reset": {"type": "object", "required": ["token", "password"], "properties": {"token": s("the code from the mail"), "password": {"type": "string", "minLength": 8}}},
        "Profile": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}, "email": {"type": "string"}}},
        "Customer": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": ["customer", "admin"]}, "created_at": {"type": "string", "format": "date-time"}}},
        "TokenAndCustomer": {"type": "object", "properties": {"token": s("opaque bearer token; only its SHA-256 is stored"), "customer": {"$ref": "#/components/schemas/Customer"}}},
        "Session": {"type": "object", "properties": {"id": {"type": "string"}, "device": {"type": "string"}, "client_addr": {"type": "string"}, "created_at": {"type": "string"}, "last_seen_at": {"type": "string"}, "expires_at": {"type": "string"}, "current": {"type": "boolean"}}},
        "Address": address,
        "AddressOut": {"allOf": [{"$ref": "#/components/schemas/Address"}, {"type": "object", "properties": {"id": {"type": "string"}, "created_at": {"type": "string"}}}]},
        "AddToCart": {"type": "object", "required": ["quantity"], "additionalProperties": false, "properties": {"product_id": {"type": "string"}, "variant_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "maximum": 1000}}},
        "Quantity": {"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer", "minimum": 1, "maximum": 1000}}},
        "Discount": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string", "maxLength": 64}}},
        "ShippingOption": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "price": {"$ref": "#/components/schemas/Money"}}},
        "Cart": {"type": "object", "properties": {"id": {"type": ["string", "null"]}, "items": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "product_id": {"type": "string"}, "variant_id": {"type": "string"}, "sku": {"type": "string"}, "name": {"type": "string"}, "variant_name": {"type": "string"}, "slug": {"type": "string"},
            "image": {"type": ["string", "null"]}, "quantity": {"type": "integer"}, "unit_price": {"$ref": "#/components/schemas/Money"}, "line_total": {"$ref": "#/components/schemas/Money"}, "in_stock": {"type": "boolean"}}}},
            "item_count": {"type": "integer"}, "subtotal": {"$ref": "#/components/schemas/Money"}, "discount": {"$ref": "#/components/schemas/Money"}, "discount_code": {"type": ["string", "null"]},
            "discount_problem": s("why the cart's code no longer applies (checkout refuses it)"), "shipping": {"$ref": "#/components/schemas/Money"},
            "shipping_option": {"oneOf": [{"$ref": "#/components/schemas/ShippingOption"}, {"type": "null"}]}, "tax": {"$ref": "#/components/schemas/Money"}, "total": {"$ref": "#/components/schemas/Money"}}},
        "Checkout": {"type": "object", "required": ["shipping_address", "payment_method"], "additionalProperties": false, "properties": {"shipping_address": {"$ref": "#/components/schemas/Address"}, "payment_method": payment.clone(), "shipping_option": s("an option code; default the cheapest"), "email": s("a guest's address for the confirmation")}},
        "BuyNow": {"type": "object", "required": ["items", "shipping_address", "payment_method"], "additionalProperties": false, "properties": {
            "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "object", "required": ["quantity"], "properties": {"product_id": {"type": "string"}, "variant_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "maximum": 1000}}}},
            "shipping_address": {"$ref": "#/components/schemas/Address"}, "payment_method": payment, "shipping_option": {"type": "string"}, "email": {"type": "string"}, "discount_code": {"type": "string"}}},
        "OrderSummary": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"enum": ["pending", "paid", "fulfilled", "cancelled", "expired"]}, "item_count": {"type": "integer"}, "total": {"$ref": "#/components/schemas/Money"}, "created_at": {"type": "string"}}},
        "Order": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"}, "email": {"type": "string"}, "items": {"type": "array"}, "subtotal": {"$ref": "#/components/schemas/Money"}, "discount": {"$ref": "#/components/schemas/Money"},
            "shipping": {"$ref": "#/components/schemas/Money"}, "tax": {"$ref": "#/components/schemas/Money"}, "total": {"$ref": "#/components/schemas/Money"}, "shipping_address": {"$ref": "#/components/schemas/Address"},
            "payment_method": {"type": "string"}, "created_at": {"type": "string"}, "paid_at": {"type": ["string", "null"]}, "expires_at": {"type": ["string", "null"]},
            "status_history": {"type": "array", "items": {"type": "object", "properties": {"status": {"type": "string"}, "note": {"type": "string"}, "at": {"type": "string"}}}}}},
        "ReviewIn": {"type": "object", "required": ["rating"], "additionalProperties": false, "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}, "title": {"type": "string", "maxLength": 200}, "body": {"type": "string", "maxLength": 5000}}},
        "ReviewOut": {"type": "object", "properties": {"id": {"type": "string"}, "product_id": {"type": "string"}, "rating": {"type": "integer"}, "title": {"type": "string"}, "body": {"type": "string"}, "status": {"const": "pending"}, "created_at": {"type": "string"}}},
        "AdminNewProduct": {"type": "object", "required": ["sku", "name", "category_id", "base_price"], "additionalProperties": false, "properties": {
            "sku": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"}, "description": {"type": "string"}, "category_id": {"type": "string"}, "brand_id": {"type": "string"},
            "base_price": {"type": "integer", "minimum": 0}, "sale_price": {"type": "integer"}, "weight_grams": {"type": "integer"}, "status": {"enum": ["active", "draft", "retired"]}, "quantity": {"type": "integer", "minimum": 0}}},
        "AdminProductPatch": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "slug": {"type": "string"}, "category_id": {"type": "string"}, "brand_id": {"type": "string"}, "status": {"enum": ["active", "draft", "retired"]}, "weight_grams": {"type": "integer"}}},
        "AdminInventory": {"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer", "minimum": 0}, "variant_id": {"type": "string"}}},
        "AdminPrice": {"type": "object", "required": ["base"], "properties": {"base": {"type": "integer", "minimum": 0}, "sale": {"type": "integer", "minimum": 0}}},
        "AdminOrderStatus": {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["fulfilled", "cancelled", "refunded"]}, "note": {"type": "string", "maxLength": 500}}},
        "AdminModeration": {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["approved", "rejected", "pending"]}}},
        "PaymentEvent": {"type": "object", "required": ["event_id", "order_id", "status"], "properties": {"event_id": {"type": "string"}, "order_id": {"type": "string"}, "status": {"enum": ["succeeded", "failed"]}, "amount": {"type": "integer"}, "reference": {"type": "string"}}}
    })
}

/// The document, rendered once (with its gzip form).
pub fn document() -> &'static Rendered {
    static DOC: OnceLock<Rendered> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = build();
        // the write half: its paths (reviews' POST joins the catalog's GET) and schemas
        for (path, ops) in write_paths().as_object().expect("an object").clone() {
            let entry = doc["paths"].as_object_mut().expect("paths").entry(path).or_insert_with(|| json!({}));
            for (method, op) in ops.as_object().expect("operations").clone() {
                entry[method] = op;
            }
        }
        for (name, schema) in write_schemas().as_object().expect("an object").clone() {
            doc["components"]["schemas"][name] = schema;
        }
        let (mut paths, mut schemas) = (Map::new(), Map::new());
        resource_paths(&mut paths, &mut schemas);
        for (k, v) in paths {
            doc["paths"][k] = v;
        }
        for (k, v) in schemas {
            doc["components"]["schemas"][k] = v;
        }
        doc["components"]["securitySchemes"] = json!({"bearer": {"type": "http", "scheme": "bearer", "description": "an opaque session token from /api/auth/register, login or guest"}});
        Rendered::new(serde_json::to_vec(&doc).expect("the document serializes")).with_gzip(6)
    })
}
