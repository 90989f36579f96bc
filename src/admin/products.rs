//! Products: create, change, retire, stock, price and variants — each one writer unit with its
//! audit row; the writer's hooks make the change show in every cached view and in search
//! before the administrator hears back.

use super::*;
use crate::catalog::store;
use crate::http::path::{res, PathId};

/// A variant as administrators see it: its options, its own price, its stock.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StockOut {
    variant_id: Id,
    sku: String,
    /// what the shop's choice of variant says, e.g. "Black / M"
    name: String,
    /// option name → value, e.g. {"Colour": "Black"}; empty for a product's only variant
    options: std::collections::BTreeMap<String, String>,
    /// minor units; null: the product's price
    base_price: Option<i64>,
    sale_price: Option<i64>,
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
    #[schema(extensions(("x-enum" = json!(STATUSES))))]
    status: String,
    base_price: i64,
    sale_price: Option<i64>,
    weight_grams: i64,
    in_stock: bool,
    /// each unit paid for issues a gift card of its price, the code mailed to the buyer
    gift_card: bool,
    stock: Vec<StockOut>,
    /// in order; the first is the one lists show
    images: Vec<crate::media::ImageOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductIn {
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub sku: String,
    #[schema(max_length = 300, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: String,
    /// default: made from the name
    #[serde(default)]
    #[schema(extensions(("x-pattern" = json!(crate::domain::SLUG_PATTERN))))]
    pub slug: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
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
    #[schema(extensions(("x-enum" = json!(STATUSES))))]
    pub status: Option<String>,
    /// initial stock of the default variant
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
    /// a gift card: each unit paid for issues a card of its price, the code mailed to the
    /// buyer (default false)
    #[serde(default)]
    pub gift_card: Option<bool>,
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

/// A product's statuses: only active products are sold and listed.
const STATUSES: &[&str] = &["active", "draft", "retired"];

fn check_status(checks: &mut Checks, status: Option<&str>) {
    if status.is_some_and(|s| !STATUSES.contains(&s)) {
        checks.error("status", format!("must be one of: {}", STATUSES.join(", ")));
    }
}

/// A product's status, as a list's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductStatus {
    Active,
    Draft,
    Retired,
}

impl crate::http::Choice for ProductStatus {
    fn choices() -> Vec<(&'static str, ProductStatus)> {
        vec![("active", ProductStatus::Active), ("draft", ProductStatus::Draft), ("retired", ProductStatus::Retired)]
    }
}

impl ProductStatus {
    fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Draft => "draft",
            ProductStatus::Retired => "retired",
        }
    }
}

const LIST_STATUS: OneOf<ProductStatus> = OneOf::new("status", "only products of this status (all by default)");
const LIST_Q: Param = Param::text("q", 200, crate::http::Shape::Words)
    .doc("words of the name, description, brand or category (the last also as a prefix), or a whole sku");
const LOW_STOCK: Param = Param::flag("low_stock").doc(
    "only products with a variant of 5 or fewer units for sale, newest variant first; `before` is then a variant id; \
     not with q or status (422)",
);

crate::http::query_params!(
    /// `GET /api/admin/products`
    struct AdminProductsQuery [LIST_Q, LIST_STATUS.param, LOW_STOCK]
);

/// A page of the administrators' product list.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminProductPage {
    data: Vec<AdminProductOut>,
    meta: AdminListMeta,
}

/// Products, any status
///
/// Newest first in keyset pages (`before`), at the same cost at any depth and at any size
/// of catalog: by status (drafts and retired ones by their own index), by words (FTS5; a
/// whole sku first), or with low stock (a variant of 5 or fewer units for sale).
#[utoipa::path(get, path = "/api/admin/products", tag = "admin", operation_id = "admin_list_products", security(("bearer" = ["admin"])),
    params(AdminProductsQuery, PageBefore),
    responses((status = 200, description = "products", body = AdminProductPage), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_products(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let text = q.text(&LIST_Q);
    let status = q.one_of(&LIST_STATUS).map(ProductStatus::as_str);
    let low_stock = q.flag(&LOW_STOCK);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    let terms = text.as_deref().map(|t| (t, crate::catalog::model::SearchTerms::parse(t)));
    if let Some((_, None)) = terms {
        q.error("q", "must contain at least one letter or digit");
    }
    if low_stock && (text.is_some() || status.is_some()) {
        q.error("low_stock", "lists low stock alone: not with q or status");
    }
    q.finish()?;
    let listing = match terms {
        _ if low_stock => store::AdminListing::LowStock,
        Some((raw, Some(t))) => {
            store::AdminListing::Matching { fts: t.fts_query(), sku: raw.trim().to_owned(), status }
        }
        _ => store::AdminListing::All { status },
    };
    let body = app
        .db
        .read(move |conn| {
            let (ids, next) = store::admin_product_ids(conn, &listing, before, limit)?;
            let mut data = Vec::with_capacity(ids.len());
            for id in ids {
                data.extend(store::admin_product(conn, id)?);
            }
            let meta = AdminListMeta { next_before: next.map(|n| n.to_string()) };
            Ok::<_, ApiError>(serde_json::to_vec(&serde_json::json!({"data": data, "meta": meta})).expect("serializes"))
        })
        .await?;
    Ok(crate::http::respond::private_json(StatusCode::OK, body))
}

/// One product, any status
#[utoipa::path(get, path = "/api/admin/products/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    responses((status = 200, description = "the product", body = Data<AdminProductOut>), AdminErrors, NotFound, ReadErrors))]
pub async fn get_product(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Product>,
) -> Result<Response, ApiError> {
    let p = app.db.read(move |conn| store::admin_product(conn, id).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &p.ok_or_else(PathId::<res::Product>::not_found)?))
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
    let slug = slug_or_made(&mut checks, b.slug.as_deref(), name.as_deref());
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
    let currency = crate::domain::currencies::default_of(&app.live().currencies);
    let product = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let mut checks = Checks::new();
            if !store::category_exists(tx, b.category_id.0)? {
                checks.error("category_id", "no such category");
            }
            if let Some(brand) = b.brand_id {
                if !store::brand_exists(tx, brand.0)? {
                    checks.error("brand_id", "no such brand");
                }
            }
            checks.finish()?;
            if store::product_taken(tx, Some(&sku), Some(&slug), 0)? {
                return Err(conflict("product_exists", "a product with this sku or slug exists"));
            }
            let new = store::NewProduct {
                sku: &sku,
                slug: &slug,
                name: &name,
                description: &description,
                category_id: b.category_id.0,
                brand_id: b.brand_id.map(|x| x.0),
                base_price: b.base_price,
                sale_price: b.sale_price,
                status: b.status.as_deref().unwrap_or("active"),
                weight_grams: b.weight_grams.unwrap_or(0),
                quantity: b.quantity.unwrap_or(0),
            };
            let id = store::insert_product(tx, &new, now)?;
            if b.gift_card == Some(true) {
                tx.prepare_cached("UPDATE products SET gift_card = 1 WHERE id = ?1")?.execute([id])?;
            }
            let after = store::admin_product(tx, id)?;
            audit(tx, &admin, "product.create", "product", id, None, after.as_ref())?;
            crate::webhooks::emit_product(tx, "product.created", id, currency, now)?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &product))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(max_length = 300, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: Option<String>,
    #[schema(max_length = 20000, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub description: Option<String>,
    #[schema(extensions(("x-pattern" = json!(crate::domain::SLUG_PATTERN))))]
    pub slug: Option<String>,
    pub category_id: Option<Id>,
    pub brand_id: Option<Id>,
    #[schema(extensions(("x-enum" = json!(STATUSES))))]
    pub status: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub weight_grams: Option<i64>,
    /// a gift card: each unit paid for issues a card of its price (orders placed before
    /// the change keep what they were)
    pub gift_card: Option<bool>,
}

/// Runs `change` on product `id` in one writer unit with its audit row (before/after).
async fn change_product<F>(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    action: &'static str,
    change_it: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&WriteTx, i64) -> Result<(), ApiError> + Send + 'static,
{
    let (product, ()) = change(app, admin, id, action, change_it).await?;
    Ok(data(StatusCode::OK, &product))
}

/// Runs `change` on product `id` in one writer unit with its audit row (before/after) and
/// its webhook events; answers the product after it, and what `change` answered.
pub(super) async fn change<F, T>(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    action: &'static str,
    change: F,
) -> Result<(Option<serde_json::Value>, T), ApiError>
where
    F: FnOnce(&WriteTx, i64) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let threshold = app.live().low_stock_threshold;
    let currency = crate::domain::currencies::default_of(&app.live().currencies);
    app.db
        .writer
        .run(move |tx| {
            let before = store::admin_product(tx, id)?.ok_or_else(|| ApiError::not_found("product"))?;
            let out = change(tx, id)?;
            let after = store::admin_product(tx, id)?;
            audit(tx, &admin, action, "product", id, Some(&before), after.as_ref())?;
            if let Some(after) = &after {
                announce(tx, action, id, &before, after, threshold, currency)?;
            }
            Ok::<_, ApiError>((after, out))
        })
        .await
}

/// The webhook events of a product change: retired, updated, stock fallen low.
fn announce(
    tx: &WriteTx,
    action: &str,
    id: i64,
    before: &serde_json::Value,
    after: &serde_json::Value,
    threshold: i64,
    currency: crate::domain::Currency,
) -> rusqlite::Result<()> {
    let now = now_ms();
    let status = |v: &serde_json::Value| v["status"].as_str().unwrap_or_default().to_owned();
    if status(after) == "retired" && status(before) != "retired" {
        crate::webhooks::emit_product(tx, "product.retired", id, currency, now)?;
    } else if action != "product.inventory" && before != after {
        crate::webhooks::emit_product(tx, "product.updated", id, currency, now)?;
    }
    let stock = |v: &serde_json::Value| -> Vec<(String, i64)> {
        v["stock"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        (s["variant_id"].as_str().unwrap_or_default().to_owned(), s["available"].as_i64().unwrap_or(0))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let was = stock(before);
    for (variant, available) in stock(after) {
        let Some(old) = was.iter().find(|(v, _)| *v == variant).map(|(_, a)| *a) else { continue };
        if let Ok(variant) = variant.parse::<i64>() {
            crate::webhooks::stock_fell(tx, variant, old, available, threshold, now)?;
        }
    }
    Ok(())
}

/// Change a product
///
/// Name, description, slug, category, brand, status (active, draft, retired), weight,
/// whether it is a gift card; audited. Changes show in every cached view at once.
#[utoipa::path(patch, path = "/api/admin/products/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    request_body = ProductPatch,
    responses((status = 200, description = "the product", body = Data<AdminProductOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "slug_taken", body = ErrorBody), WriteErrors))]
pub async fn update_product(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Product>,
    JsonBody(b): JsonBody<ProductPatch>,
) -> Result<Response, ApiError> {
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
        if let Some(c) = b.category_id {
            if !store::category_exists(tx, c.0)? {
                checks.error("category_id", "no such category");
            }
        }
        if let Some(brand) = b.brand_id {
            if !store::brand_exists(tx, brand.0)? {
                checks.error("brand_id", "no such brand");
            }
        }
        checks.finish()?;
        if let Some(slug) = &b.slug {
            if store::product_taken(tx, None, Some(slug), id)? {
                return Err(conflict("slug_taken", "another product has this slug"));
            }
        }
        let change = store::ProductChange {
            name: name.as_deref(),
            description: description.as_deref(),
            slug: b.slug.as_deref(),
            category_id: b.category_id.map(|c| c.0),
            brand_id: b.brand_id.map(|x| x.0),
            status: b.status.as_deref(),
            weight_grams: b.weight_grams,
        };
        store::update_product(tx, id, &change, now_ms())?;
        if let Some(g) = b.gift_card {
            tx.prepare_cached("UPDATE products SET gift_card = ?2 WHERE id = ?1")?.execute(rusqlite::params![id, g])?;
        }
        Ok(())
    })
    .await
}

/// Retire a product
///
/// Hidden from listings, search and its page; order history keeps it; audited. A retired
/// product is not deleted: administrators still see it, its price and stock can change, and
/// a change of its status to `active` or `draft` brings it back.
#[utoipa::path(delete, path = "/api/admin/products/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    responses((status = 200, description = "the retired product", body = Data<AdminProductOut>), AdminErrors, NotFound, WriteErrors))]
pub async fn retire_product(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Product>,
) -> Result<Response, ApiError> {
    change_product(&app, admin, id, "product.retire", |tx, id| {
        let retired = store::ProductChange { status: Some("retired"), ..Default::default() };
        store::update_product(tx, id, &retired, now_ms())?;
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
pub async fn set_inventory(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Product>,
    JsonBody(b): JsonBody<InventoryIn>,
) -> Result<Response, ApiError> {
    if !(0..=1_000_000_000).contains(&b.quantity) {
        return Err(ApiError::validation([("quantity".to_owned(), "must be 0 to 1,000,000,000".to_owned())].into()));
    }
    change_product(&app, admin, id, "product.inventory", move |tx, id| {
        if !store::set_available(tx, id, b.variant_id.map(|v| v.0), b.quantity, now_ms())? {
            return Err(ApiError::validation(
                [("variant_id".to_owned(), "no such variant of this product".to_owned())].into(),
            ));
        }
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
    PathId(id, _): PathId<res::Product>,
    JsonBody(b): JsonBody<PriceIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    check_prices(&mut checks, Some(b.base), b.sale);
    checks.finish()?;
    change_product(&app, admin, id, "product.price", move |tx, id| {
        store::set_price(tx, id, b.base, b.sale, now_ms())?;
        Ok(())
    })
    .await
}

/// A variant's options as sent: 1 to 3 options of 1-50 characters, values of 1-100, no
/// two options that are the same by their slug.
fn check_options(checks: &mut Checks, options: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if options.len() > 3 {
        checks.error("options", "at most 3 options, e.g. colour, size and material");
        return out;
    }
    for (name, value) in options {
        let (Ok(n), Ok(v)) = (text(name, 50, false), text(value, 100, false)) else {
            checks.error("options", "each option a name of 1 to 50 characters and a value of 1 to 100");
            return Vec::new();
        };
        let slug = crate::domain::slugify(&n);
        if slug.is_empty() {
            checks.error("options", format!("the option name {n:?} needs a letter or digit"));
            return Vec::new();
        }
        if out.iter().any(|(m, _)| crate::domain::slugify(m) == slug) {
            checks.error("options", format!("the option {n:?} is given twice"));
            return Vec::new();
        }
        out.push((n, v));
    }
    out
}

/// What the shop's choice shows for a variant without a name: its values, "Black / M".
fn name_of(options: &[(String, String)]) -> String {
    if options.is_empty() {
        "Default".to_owned()
    } else {
        options.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" / ")
    }
}

/// A variant's options in the document: name → value, at most 3.
fn options_schema(nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let value = ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(100));
    let kind: SchemaType =
        if nullable { [Type::Object, Type::Null].into_iter().collect() } else { Type::Object.into() };
    ObjectBuilder::new()
        .schema_type(kind)
        .additional_properties(Some(value))
        .max_properties(Some(3))
        .description(Some("option name → value, e.g. {\"Colour\": \"Black\", \"Size\": \"M\"}"))
        .build()
}

fn new_options_schema() -> utoipa::openapi::Object {
    options_schema(false)
}

fn changed_options_schema() -> utoipa::openapi::Object {
    options_schema(true)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantIn {
    /// unique among all variants
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub sku: String,
    /// option name → value, e.g. {"Colour": "Black", "Size": "M"}: at most 3; no other
    /// variant of the product may have the same ones (409 `variant_exists`)
    #[serde(default)]
    #[schema(schema_with = new_options_schema)]
    pub options: std::collections::BTreeMap<String, String>,
    /// what the shop's choice of variant says; default: the option values, "Black / M"
    #[serde(default)]
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: Option<String>,
    /// minor units; absent: the product's price
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub base_price: Option<i64>,
    /// minor units, below base_price (which it needs)
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub sale_price: Option<i64>,
    /// units for sale
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
}

/// A variant's price as sent: its own (base, sale), or none (the product's).
fn check_variant_price(checks: &mut Checks, base: Option<i64>, sale: Option<i64>) -> Option<(i64, Option<i64>)> {
    check_prices(checks, base, sale);
    if base.is_none() && sale.is_some() {
        checks.error("sale_price", "a variant's sale price needs its own base_price");
    }
    base.map(|b| (b, sale))
}

fn variant_conflicts(
    tx: &WriteTx,
    product: i64,
    variant: i64,
    sku: Option<&str>,
    options: Option<&[(String, String)]>,
) -> Result<(), ApiError> {
    if let Some(sku) = sku {
        if store::variant_sku_taken(tx, sku, variant)? {
            return Err(conflict("sku_taken", "another variant has this sku"));
        }
    }
    if let Some(options) = options {
        if store::variant_options_taken(tx, product, options, variant)? {
            return Err(conflict("variant_exists", "another variant of this product has these options"));
        }
    }
    Ok(())
}

/// Add a variant to a product
///
/// With its options (made the first time a product uses them), its own price or the
/// product's, and its stock; audited. It shows on the product's page at once.
#[utoipa::path(post, path = "/api/admin/products/{id}/variants", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    request_body = VariantIn,
    responses((status = 201, description = "the product with its variants", body = Data<AdminProductOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "sku_taken or variant_exists", body = ErrorBody), WriteErrors))]
pub async fn add_variant(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Product>,
    JsonBody(b): JsonBody<VariantIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let sku = checks.check("sku", text(&b.sku, 64, false));
    let options = check_options(&mut checks, &b.options);
    let name = b.name.as_deref().and_then(|n| checks.check("name", text(n, 200, false)));
    let price = check_variant_price(&mut checks, b.base_price, b.sale_price);
    if b.quantity.is_some_and(|q| !(0..=1_000_000_000).contains(&q)) {
        checks.error("quantity", "must be 0 to 1,000,000,000");
    }
    checks.finish()?;
    let sku = sku.expect("checked");
    let name = name.unwrap_or_else(|| name_of(&options));
    let quantity = b.quantity.unwrap_or(0);
    let mut resp = change_product(&app, admin, id, "product.variant_add", move |tx, id| {
        variant_conflicts(tx, id, 0, Some(&sku), Some(&options))?;
        let now = now_ms();
        let variant = store::insert_variant(tx, id, &sku, &name, quantity, now)?;
        store::set_variant_options(tx, variant, &options)?;
        if price.is_some() {
            store::update_variant(
                tx,
                id,
                variant,
                &store::VariantChange { price: Some(price), ..Default::default() },
                now,
            )?;
        }
        Ok(())
    })
    .await?;
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantPatch {
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub sku: Option<String>,
    /// replaces the variant's options
    #[schema(schema_with = changed_options_schema)]
    pub options: Option<std::collections::BTreeMap<String, String>>,
    /// default with new options: their values, "Black / M"
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: Option<String>,
    /// minor units; null: the product's price again (with no sale of its own)
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10_000_000_000_i64)]
    pub base_price: Option<Option<i64>>,
    /// minor units, below base_price (which it needs)
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub sale_price: Option<i64>,
}

/// Change a variant
///
/// Its sku, options, name or price (`base_price: null` gives it the product's price
/// again); audited. A variant is not deleted — orders name it —: a variant no longer sold
/// has its stock set to 0.
#[utoipa::path(patch, path = "/api/admin/products/{id}/variants/{variant_id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id"), ("variant_id" = String, Path, description = "one of its variants")),
    request_body = VariantPatch,
    responses((status = 200, description = "the product with its variants", body = Data<AdminProductOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "sku_taken or variant_exists", body = ErrorBody), WriteErrors))]
pub async fn update_variant(
    State(app): State<AppState>,
    admin: AdminSession,
    axum::extract::Path((id, variant)): axum::extract::Path<(String, String)>,
    JsonBody(b): JsonBody<VariantPatch>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&id).map(|i| i.0).ok_or_else(PathId::<res::Product>::not_found)?;
    let variant = Id::parse(&variant).map(|i| i.0).ok_or_else(|| ApiError::not_found("variant"))?;
    let mut checks = Checks::new();
    let sku = b.sku.as_deref().and_then(|s| checks.check("sku", text(s, 64, false)));
    let options = b.options.as_ref().map(|o| check_options(&mut checks, o));
    // new options without a name: the name follows the options
    let name = match b.name.as_deref() {
        Some(n) => checks.check("name", text(n, 200, false)),
        None => options.as_deref().map(name_of),
    };
    let price = match b.base_price {
        Some(base) => Some(check_variant_price(&mut checks, base, b.sale_price)),
        None if b.sale_price.is_some() => {
            checks.error("sale_price", "give the variant's base_price with its sale price");
            None
        }
        None => None,
    };
    checks.finish()?;
    change_product(&app, admin, id, "product.variant_update", move |tx, id| {
        if !store::variant_of(tx, id, variant)? {
            return Err(ApiError::not_found("variant"));
        }
        variant_conflicts(tx, id, variant, sku.as_deref(), options.as_deref())?;
        let now = now_ms();
        let change = store::VariantChange { sku: sku.as_deref(), name: name.as_deref(), price };
        store::update_variant(tx, id, variant, &change, now)?;
        if let Some(options) = &options {
            store::set_variant_options(tx, variant, options)?;
        }
        Ok(())
    })
    .await
}
