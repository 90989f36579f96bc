//! The OpenAPI 3.1 document of the served API, built once. Choices the contract leaves
//! open (parameter ranges, error codes, pagination details) are recorded here.

use std::sync::OnceLock;

use serde_json::{json, Value};

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
            "/ready": {"get": {"summary": "Readiness: database readable, writer alive, not draining",
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

/// The document, rendered once (with its gzip form).
pub fn document() -> &'static Rendered {
    static DOC: OnceLock<Rendered> = OnceLock::new();
    DOC.get_or_init(|| Rendered::new(serde_json::to_vec(&build()).expect("the document serializes")).with_gzip(6))
}
