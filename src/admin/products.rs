//! Products: create, change, retire, stock and price — each one writer unit with its
//! audit row; the writer's hooks make the change show in every cached view and in search
//! before the administrator hears back.

use super::*;

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

fn product_id(raw: &str) -> Result<i64, ApiError> {
    Id::parse(raw).map(|i| i.0).ok_or_else(|| ApiError::not_found("product"))
}

fn exists(tx: &rusqlite::Connection, table: &str, id: i64) -> rusqlite::Result<bool> {
    tx.prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"))?.query_row([id], |r| r.get(0))
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
