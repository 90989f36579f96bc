//! Administration (role `admin`, checked by the `AdminSession` extractor on every route):
//! the response cache's view and flush; products (create, change, retire), their stock and
//! price; review moderation; the audit log. Every change writes its audit row (who, what,
//! before and after, from where) in the same writer unit, and the writer's hooks make it
//! show in every cached view and in search before the admin hears back.

pub mod resources;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::AppState;
pub use crate::customers::auth::AdminSession;
use crate::error::ApiError;
use crate::http::respond::data;
use crate::http::QueryParams;
use crate::openapi::{AdminErrors, BodyErrors, Data, ErrorBody, NotFound, QueryErrors, ReadErrors, WriteErrors};
use utoipa::{IntoParams, ToSchema};

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

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct FlushQuery {
    /// catalog, listing, listing:price, search, categories, brands, reviews, product:N or
    /// variant:N; without it, everything
    #[param(
        pattern = "^(catalog|listing|listing:price|search|categories|brands|reviews|product:[1-9][0-9]{0,18}|variant:[1-9][0-9]{0,18})$"
    )]
    tag: Option<String>,
}

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
    let tag = q.text("tag", 100);
    q.finish()?;
    match &tag {
        Some(t) if crate::catalog::tags::Tag::parse(t).is_none() => {
            let mut e = ApiError::validation(
                [("tag".to_owned(), "must be a cache tag: catalog, listing, listing:price, search, categories, brands, reviews, product:N or variant:N".to_owned())].into(),
            );
            e.message = "unknown cache tag".into();
            return Err(e);
        }
        Some(t) => app.cache.invalidate(std::slice::from_ref(t)).await,
        None => app.cache.clear().await,
    }
    tracing::info!(admin.customer = admin.0.customer_id, tag = tag.as_deref().unwrap_or("*"), "cache flushed");
    Ok(data(StatusCode::OK, &FlushOut { flushed: tag.unwrap_or_else(|| "*".into()) }))
}

// --- catalog administration ---------------------------------------------------------------

use axum::extract::Path;
use rusqlite::{params, OptionalExtension};
use serde::Deserialize;

use crate::db::writer::WriteTx;
use crate::domain::{is_slug, text, Id};
use crate::http::{Checks, JsonBody};
use crate::util::now_ms;

/// A variant's stock as administrators see it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StockOut {
    variant_id: Id,
    sku: String,
    /// units for sale
    available: i64,
    /// units held by pending orders
    reserved: i64,
}

/// A product as administrators see it (every column that matters, any status).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminProductOut {
    id: Id,
    sku: String,
    slug: String,
    name: String,
    description: String,
    category_id: Id,
    brand_id: Option<Id>,
    #[schema(pattern = "^(active|draft|retired)$")]
    status: String,
    base_price: i64,
    sale_price: Option<i64>,
    weight_grams: i64,
    in_stock: bool,
    stock: Vec<StockOut>,
}

/// The product as administrators see it (every column that matters, any status).
fn product_json(tx: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = tx
        .prepare_cached(
            "SELECT json_object('id', cast(p.id AS TEXT), 'sku', p.sku, 'slug', p.slug, 'name', p.name,
                    'description', p.description, 'category_id', cast(p.category_id AS TEXT),
                    'brand_id', cast(p.brand_id AS TEXT), 'status', p.status,
                    'base_price', p.base_price, 'sale_price', p.sale_price, 'weight_grams', p.weight_grams,
                    'in_stock', json(CASE p.in_stock WHEN 1 THEN 'true' ELSE 'false' END),
                    'stock', (SELECT json_group_array(json_object('variant_id', cast(v.id AS TEXT), 'sku', v.sku,
                                     'available', coalesce(i.available, 0), 'reserved', coalesce(i.reserved, 0)))
                              FROM variants v LEFT JOIN inventory i ON i.variant_id = v.id WHERE v.product_id = p.id))
             FROM products p WHERE p.id = ?1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(text.map(|t| serde_json::from_str(&t).expect("SQLite writes JSON")))
}

/// One audit row, in the same writer unit as the change it records.
pub(crate) fn audit(
    tx: &WriteTx,
    admin: &AdminSession,
    action: &str,
    entity: &str,
    id: i64,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log(actor_id, action, entity, entity_id, before, after, client_addr, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        admin.0.customer_id,
        action,
        entity,
        id,
        before.map(|v| v.to_string()),
        after.map(|v| v.to_string()),
        admin.0.session.client_addr,
        now_ms()
    ])?;
    Ok(())
}

fn product_id(raw: &str) -> Result<i64, ApiError> {
    Id::parse(raw).map(|i| i.0).ok_or_else(|| ApiError::not_found("product"))
}

fn exists(tx: &rusqlite::Connection, table: &str, id: i64) -> rusqlite::Result<bool> {
    tx.prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"))?.query_row([id], |r| r.get(0))
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductIn {
    #[schema(max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub sku: String,
    #[schema(max_length = 300, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: String,
    /// default: made from the name
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9-]{1,200}$")]
    pub slug: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
    /// a category that exists (else 422)
    pub category_id: Id,
    /// a brand that exists (else 422)
    #[serde(default)]
    pub brand_id: Option<Id>,
    /// minor units
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub base_price: i64,
    /// minor units, below base_price
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub sale_price: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub weight_grams: Option<i64>,
    /// active (default), draft or retired
    #[serde(default)]
    #[schema(pattern = "^(active|draft|retired)$")]
    pub status: Option<String>,
    /// initial stock of the default variant
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
}

fn check_prices(checks: &mut Checks, base: Option<i64>, sale: Option<i64>) {
    if base.is_some_and(|b| !(0..=10_000_000_000).contains(&b)) {
        checks.error("base_price", "must be 0 to 10,000,000,000 minor units");
    }
    if let (Some(b), Some(s)) = (base, sale) {
        if s < 0 || s >= b {
            checks.error("sale_price", "must be at least 0 and below base_price");
        }
    }
}

fn check_status(checks: &mut Checks, status: Option<&str>) {
    if status.is_some_and(|s| !matches!(s, "active" | "draft" | "retired")) {
        checks.error("status", "must be active, draft or retired");
    }
}

/// Create a product
///
/// With its default variant and initial stock (`quantity`); the slug defaults from the
/// name; audited.
#[utoipa::path(post, path = "/api/admin/products", tag = "admin", security(("bearer" = ["admin"])),
    request_body = NewProductIn,
    responses((status = 201, description = "the product", body = Data<AdminProductOut>), AdminErrors, BodyErrors,
        (status = 409, description = "product_exists (sku or slug)", body = ErrorBody), WriteErrors))]
pub async fn create_product(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(b): JsonBody<NewProductIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let sku = checks.check("sku", text(&b.sku, 64, false));
    let name = checks.check("name", text(&b.name, 300, false));
    let description = checks.check("description", text(b.description.as_deref().unwrap_or(""), 20_000, true));
    let slug = match &b.slug {
        Some(s) if is_slug(s) => Some(s.clone()),
        Some(_) => {
            checks.error("slug", "must be 1-200 of a-z, 0-9 and -");
            None
        }
        None => name.as_deref().map(crate::domain::slugify).filter(|s| is_slug(s)),
    };
    if slug.is_none() && b.slug.is_none() && name.is_some() {
        checks.error("slug", "cannot be made from the name; give one");
    }
    check_prices(&mut checks, Some(b.base_price), b.sale_price);
    check_status(&mut checks, b.status.as_deref());
    if b.weight_grams.is_some_and(|w| !(0..=1_000_000).contains(&w)) {
        checks.error("weight_grams", "must be 0 to 1,000,000");
    }
    if b.quantity.is_some_and(|q| !(0..=1_000_000_000).contains(&q)) {
        checks.error("quantity", "must be 0 to 1,000,000,000");
    }
    checks.finish()?;
    let (sku, name, description, slug) =
        (sku.expect("checked"), name.expect("checked"), description.expect("checked"), slug.expect("checked"));
    let product = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let mut checks = Checks::new();
            if !exists(tx, "categories", b.category_id.0)? {
                checks.error("category_id", "no such category");
            }
            if b.brand_id.is_some_and(|br| !exists(tx, "brands", br.0).unwrap_or(false)) {
                checks.error("brand_id", "no such brand");
            }
            checks.finish()?;
            let taken: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1 OR slug = ?2)")?
                .query_row(params![sku, slug], |r| r.get(0))?;
            if taken {
                return Err(conflict("product_exists", "a product with this sku or slug exists"));
            }
            tx.prepare_cached(
                "INSERT INTO products(sku, slug, name, description, category_id, brand_id, base_price, sale_price,
                                      status, weight_grams, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            )?
            .execute(params![
                sku,
                slug,
                name,
                description,
                b.category_id.0,
                b.brand_id.map(|x| x.0),
                b.base_price,
                b.sale_price,
                b.status.as_deref().unwrap_or("active"),
                b.weight_grams.unwrap_or(0),
                now
            ])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO variants(product_id, sku, name, position, created_at) VALUES (?1, ?2, 'Default', 0, ?3)",
            )?
            .execute(params![id, sku, now])?;
            let variant = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)",
            )?
            .execute(params![variant, b.quantity.unwrap_or(0), now])?;
            let after = product_json(tx, id)?;
            audit(tx, &admin, "product.create", "product", id, None, after.as_ref())?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &product))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(max_length = 300, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: Option<String>,
    #[schema(max_length = 20000, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
    #[schema(pattern = "^[a-z0-9-]{1,200}$")]
    pub slug: Option<String>,
    pub category_id: Option<Id>,
    pub brand_id: Option<Id>,
    #[schema(pattern = "^(active|draft|retired)$")]
    pub status: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub weight_grams: Option<i64>,
}

/// Runs `change` on product `id` in one writer unit with its audit row (before/after).
async fn change_product<F>(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    action: &'static str,
    change: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&WriteTx, i64) -> Result<(), ApiError> + Send + 'static,
{
    let product = app
        .db
        .writer
        .run(move |tx| {
            let before = product_json(tx, id)?.ok_or_else(|| ApiError::not_found("product"))?;
            change(tx, id)?;
            tx.prepare_cached("UPDATE products SET updated_at = ?2 WHERE id = ?1")?.execute(params![id, now_ms()])?;
            let after = product_json(tx, id)?;
            audit(tx, &admin, action, "product", id, Some(&before), after.as_ref())?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::OK, &product))
}

/// Change a product
///
/// Name, description, slug, category, brand, status (active, draft, retired), weight;
/// audited. Changes show in every cached view at once.
#[utoipa::path(patch, path = "/api/admin/products/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    request_body = ProductPatch,
    responses((status = 200, description = "the product", body = Data<AdminProductOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "slug_taken", body = ErrorBody), WriteErrors))]
pub async fn update_product(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ProductPatch>,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    let mut checks = Checks::new();
    let name = b.name.as_deref().and_then(|n| checks.check("name", text(n, 300, false)));
    let description = b.description.as_deref().and_then(|d| checks.check("description", text(d, 20_000, true)));
    if b.slug.as_deref().is_some_and(|s| !is_slug(s)) {
        checks.error("slug", "must be 1-200 of a-z, 0-9 and -");
    }
    check_status(&mut checks, b.status.as_deref());
    if b.weight_grams.is_some_and(|w| !(0..=1_000_000).contains(&w)) {
        checks.error("weight_grams", "must be 0 to 1,000,000");
    }
    checks.finish()?;
    change_product(&app, admin, id, "product.update", move |tx, id| {
        let mut checks = Checks::new();
        if b.category_id.is_some_and(|c| !exists(tx, "categories", c.0).unwrap_or(false)) {
            checks.error("category_id", "no such category");
        }
        if b.brand_id.is_some_and(|br| !exists(tx, "brands", br.0).unwrap_or(false)) {
            checks.error("brand_id", "no such brand");
        }
        checks.finish()?;
        if let Some(slug) = &b.slug {
            let taken: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE slug = ?1 AND id <> ?2)")?
                .query_row(params![slug, id], |r| r.get(0))?;
            if taken {
                return Err(conflict("slug_taken", "another product has this slug"));
            }
        }
        tx.prepare_cached(
            "UPDATE products SET name = coalesce(?2, name), description = coalesce(?3, description),
                    slug = coalesce(?4, slug), category_id = coalesce(?5, category_id),
                    brand_id = coalesce(?6, brand_id), status = coalesce(?7, status),
                    weight_grams = coalesce(?8, weight_grams)
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            name,
            description,
            b.slug,
            b.category_id.map(|c| c.0),
            b.brand_id.map(|x| x.0),
            b.status,
            b.weight_grams
        ])?;
        Ok(())
    })
    .await
}

/// Retire a product
///
/// Hidden from listings, search and its page; order history keeps it; audited.
#[utoipa::path(delete, path = "/api/admin/products/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    responses((status = 200, description = "the retired product", body = Data<AdminProductOut>), AdminErrors, NotFound, WriteErrors))]
/// `DELETE /api/admin/products/{id}`: retires it (hidden from listings and search; order
/// history keeps it).
pub async fn retire_product(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    change_product(&app, admin, id, "product.retire", |tx, id| {
        tx.prepare_cached("UPDATE products SET status = 'retired' WHERE id = ?1")?.execute([id])?;
        Ok(())
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryIn {
    /// units available for sale
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub quantity: i64,
    /// which variant (default: the product's first)
    #[serde(default)]
    pub variant_id: Option<Id>,
}

/// Set a product's stock
///
/// Units available for sale of a variant (default the first); units held by pending
/// orders stay reserved; audited.
#[utoipa::path(put, path = "/api/admin/products/{id}/inventory", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    request_body = InventoryIn,
    responses((status = 200, description = "the product", body = Data<AdminProductOut>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
/// `PUT /api/admin/products/{id}/inventory`: sets the units available for sale (units held
/// by pending orders stay reserved).
pub async fn set_inventory(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<InventoryIn>,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    if !(0..=1_000_000_000).contains(&b.quantity) {
        return Err(ApiError::validation([("quantity".to_owned(), "must be 0 to 1,000,000,000".to_owned())].into()));
    }
    change_product(&app, admin, id, "product.inventory", move |tx, id| {
        let variant: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM variants WHERE product_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY position, id LIMIT 1",
            )?
            .query_row(params![id, b.variant_id.map(|v| v.0)], |r| r.get(0))
            .optional()?;
        let variant = variant.ok_or_else(|| {
            ApiError::validation([("variant_id".to_owned(), "no such variant of this product".to_owned())].into())
        })?;
        tx.prepare_cached(
            "INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT(variant_id) DO UPDATE SET available = excluded.available, updated_at = excluded.updated_at",
        )?
        .execute(params![variant, b.quantity, now_ms()])?;
        Ok(())
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceIn {
    /// minor units
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub base: i64,
    /// minor units, below base (else 422); absent or null: no sale
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub sale: Option<i64>,
}

/// Set a product's price
///
/// Audited; reaches the product's page, the lists that show it and price-sorted lists.
#[utoipa::path(put, path = "/api/admin/products/{id}/price", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    request_body = PriceIn,
    responses((status = 200, description = "the product", body = Data<AdminProductOut>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn set_price(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<PriceIn>,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    let mut checks = Checks::new();
    check_prices(&mut checks, Some(b.base), b.sale);
    checks.finish()?;
    change_product(&app, admin, id, "product.price", move |tx, id| {
        tx.prepare_cached("UPDATE products SET base_price = ?2, sale_price = ?3 WHERE id = ?1")?
            .execute(params![id, b.base, b.sale])?;
        // only the price (and updated_at, which lists do not show): see cache::tags_of
        crate::catalog::tags::note_price_only(tx, id);
        Ok(())
    })
    .await
}

/// A read whose one row is a JSON array built by SQLite (`json_group_array`), answered
/// as `{"data": [...]}`.
async fn json_list(app: &AppState, sql: &'static str, args: Vec<rusqlite::types::Value>) -> Result<Response, ApiError> {
    let list: String = app
        .db
        .read(move |conn| {
            conn.prepare_cached(sql)?.query_row(rusqlite::params_from_iter(args), |r| r.get(0)).map_err(ApiError::from)
        })
        .await?;
    let list: serde_json::Value = serde_json::from_str(&list).expect("SQLite writes JSON");
    Ok(data(StatusCode::OK, &list))
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminReviewOut {
    id: Id,
    product_id: Id,
    customer_id: Id,
    rating: i64,
    title: String,
    body: String,
    #[schema(pattern = "^(pending|approved|rejected)$")]
    status: String,
    created_at: crate::domain::Timestamp,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ModerationQuery {
    /// default pending
    #[param(pattern = "^(pending|approved|rejected)$")]
    status: Option<String>,
    /// default 50
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// The review moderation queue, oldest first
#[utoipa::path(get, path = "/api/admin/reviews", tag = "admin", security(("bearer" = ["admin"])),
    params(ModerationQuery),
    responses((status = 200, description = "reviews", body = Data<Vec<AdminReviewOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn reviews(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q
        .choice("status", &[("pending", "pending"), ("approved", "approved"), ("rejected", "rejected")])
        .unwrap_or("pending");
    let limit = q.int("per_page", 1, 200).unwrap_or(50);
    q.finish()?;
    json_list(
        &app,
        "SELECT coalesce(json_group_array(json_object('id', cast(r.id AS TEXT), 'product_id', cast(r.product_id AS TEXT),
                        'customer_id', cast(r.customer_id AS TEXT), 'rating', r.rating, 'title', r.title, 'body', r.body,
                        'status', r.status,
                        'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at / 1000.0, 'unixepoch'))), '[]')
                 FROM (SELECT * FROM reviews WHERE status = ?1 ORDER BY id LIMIT ?2) r",
        vec![status.to_owned().into(), limit.into()],
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationIn {
    #[schema(pattern = "^(approved|rejected|pending)$")]
    pub status: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ModerationOut {
    id: Id,
    status: String,
}

/// Moderate a review
///
/// Approving counts the rating toward the product's summary at once; audited.
#[utoipa::path(patch, path = "/api/admin/reviews/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a review id")),
    request_body = ModerationIn,
    responses((status = 200, description = "the new status", body = Data<ModerationOut>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn moderate_review(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ModerationIn>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&id).map(|i| i.0).ok_or_else(|| ApiError::not_found("review"))?;
    if !matches!(b.status.as_str(), "approved" | "rejected" | "pending") {
        return Err(ApiError::validation(
            [("status".to_owned(), "must be approved, rejected or pending".to_owned())].into(),
        ));
    }
    let status = b.status;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let before: Option<String> = tx
                .prepare_cached("SELECT status FROM reviews WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let before = before.ok_or_else(|| ApiError::not_found("review"))?;
            tx.prepare_cached("UPDATE reviews SET status = ?2 WHERE id = ?1")?.execute(params![id, status])?;
            audit(
                tx,
                &admin,
                "review.moderate",
                "review",
                id,
                Some(&serde_json::json!({"status": before})),
                Some(&serde_json::json!({"status": status})),
            )?;
            Ok::<_, ApiError>(ModerationOut { id: Id(id), status })
        })
        .await?;
    Ok(data(StatusCode::OK, &out))
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditOut {
    id: Id,
    /// who
    actor_id: Option<Id>,
    /// what, e.g. product.price
    action: String,
    entity: String,
    entity_id: Id,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    /// from where
    client_addr: String,
    /// when
    at: crate::domain::Timestamp,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct PageBefore {
    /// rows with ids below this one (the last id of the previous page)
    #[param(minimum = 1)]
    before: Option<i64>,
    /// default 50
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// The audit log of sensitive actions, newest first
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", security(("bearer" = ["admin"])),
    params(PageBefore),
    responses((status = 200, description = "audit rows", body = Data<Vec<AuditOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn audit_log(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let before = q.int("before", 1, i64::MAX).unwrap_or(i64::MAX);
    let limit = q.int("per_page", 1, 200).unwrap_or(50);
    q.finish()?;
    json_list(
        &app,
        "SELECT coalesce(json_group_array(json_object('id', cast(a.id AS TEXT), 'actor_id', cast(a.actor_id AS TEXT),
                        'action', a.action, 'entity', a.entity, 'entity_id', cast(a.entity_id AS TEXT),
                        'before', json(a.before), 'after', json(a.after), 'client_addr', a.client_addr,
                        'at', strftime('%Y-%m-%dT%H:%M:%fZ', a.created_at / 1000.0, 'unixepoch'))), '[]')
                 FROM (SELECT * FROM audit_log WHERE id < ?1 ORDER BY id DESC LIMIT ?2) a",
        vec![before.into(), limit.into()],
    )
    .await
}

// --- orders -------------------------------------------------------------------------------

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminOrderOut {
    id: Id,
    status: crate::orders::OrderStatus,
    customer_id: Option<Id>,
    email: String,
    /// minor units
    total: i64,
    created_at: crate::domain::Timestamp,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct AdminOrdersQuery {
    #[param(inline)]
    status: Option<crate::orders::OrderStatus>,
}

/// Orders, newest first, by status
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", security(("bearer" = ["admin"])),
    params(AdminOrdersQuery, PageBefore),
    responses((status = 200, description = "orders", body = Data<Vec<AdminOrderOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn orders(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let statuses = crate::orders::OrderStatus::ALL.map(|s| (s.as_str(), s));
    let status = q.choice("status", &statuses);
    let before = q.int("before", 1, i64::MAX).unwrap_or(i64::MAX);
    let limit = q.int("per_page", 1, 200).unwrap_or(50);
    q.finish()?;
    json_list(
        &app,
        "SELECT coalesce(json_group_array(json_object('id', cast(o.id AS TEXT), 'status', o.status,
                        'customer_id', cast(o.customer_id AS TEXT), 'email', o.email, 'total', o.total,
                        'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', o.created_at / 1000.0, 'unixepoch'))), '[]')
                 FROM (SELECT * FROM orders INDEXED BY idx_orders_status
                       WHERE (?1 IS NULL OR status = ?1) AND id < ?2 ORDER BY id DESC LIMIT ?3) o",
        vec![
            status.map_or(rusqlite::types::Value::Null, |s| s.as_str().to_owned().into()),
            before.into(),
            limit.into(),
        ],
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusIn {
    /// `fulfilled` (a paid order shipped), `cancelled` (pending or paid: stock returns),
    /// `refunded` (paid or fulfilled: cancelled, refund due; stock returns unless shipped)
    #[schema(pattern = "^(fulfilled|cancelled|refunded)$")]
    pub status: String,
    /// shown in the order's status history
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub note: Option<String>,
}

/// Change an order's status
///
/// `fulfilled` (paid → fulfilled), `cancelled` (pending or paid; stock returns),
/// `refunded` (paid: stock returns; fulfilled: it does not); audited.
#[utoipa::path(patch, path = "/api/admin/orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    request_body = OrderStatusIn,
    responses((status = 200, description = "the order", body = Data<crate::orders::store::OrderOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "invalid_transition", body = ErrorBody), WriteErrors))]
pub async fn update_order(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OrderStatusIn>,
) -> Result<Response, ApiError> {
    use crate::orders::{lifecycle, store as orders, Actor, Event};
    let id = Id::parse(&id).map(|i| i.0).ok_or_else(|| ApiError::not_found("order"))?;
    let mut checks = Checks::new();
    let event = match b.status.as_str() {
        "fulfilled" => Some(Event::Fulfil),
        "cancelled" => Some(Event::Cancel(Actor::Shop)),
        "refunded" => Some(Event::Refund),
        _ => {
            checks.error("status", "must be fulfilled, cancelled or refunded");
            None
        }
    };
    let note = checks.check("note", text(b.note.as_deref().unwrap_or(""), 500, true));
    checks.finish()?;
    let (event, note, to) = (event.expect("checked"), note.expect("checked"), b.status);
    let order = app
        .db
        .writer
        .run(move |tx| {
            let (from, now_is) = lifecycle::apply(tx, id, event, Some(&note), now_ms()).map_err(|e| match e {
                crate::orders::TransitionError::NotAllowed { from } => {
                    conflict("invalid_transition", &format!("an order that is {from} cannot become {to}"))
                }
                e => e.into(),
            })?;
            audit(
                tx,
                &admin,
                &format!("order.{to}"),
                "order",
                id,
                Some(&serde_json::json!({"status": from})),
                Some(&serde_json::json!({"status": now_is})),
            )?;
            Ok::<_, ApiError>(orders::detail(tx, id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &order))
}
