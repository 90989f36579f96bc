//! The prices of a price list (the lists themselves are a table of reference data, see
//! [`super::resources::PRICE_LISTS`]): read in pages, set or removed in batches of up to
//! [`MAX_BATCH`], each batch one writer unit with its audit row.

use axum::extract::State;

use super::*;
use crate::http::path::{res, PathId};
use serde_json::json;

/// The most prices one `PUT` sets or removes.
pub const MAX_BATCH: usize = 1000;

/// One price of a list, as sent: for a product (each of its variants without a price of
/// its own in the list) or for one variant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceIn {
    /// the product whose price this is (exactly one of `product_id` and `variant_id`)
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[1-9][0-9]{0,18}$")]
    pub product_id: Option<Id>,
    /// the variant whose price this is
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[1-9][0-9]{0,18}$")]
    pub variant_id: Option<Id>,
    /// the price in the list's currency, in minor units; `null` removes the list's price
    /// for it
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub amount: Option<i64>,
    /// a sale price below `amount` (shown against it, struck through)
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub sale: Option<i64>,
}

/// One price of a list, as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceOut {
    #[schema(value_type = String)]
    pub product_id: Id,
    /// none: the product's price
    #[schema(value_type = Option<String>)]
    pub variant_id: Option<Id>,
    /// the product's SKU, or the variant's
    pub sku: String,
    pub name: String,
    pub amount: i64,
    pub sale: Option<i64>,
    pub currency: String,
}

/// A page of a list's prices.
#[derive(Serialize, ToSchema)]
pub struct PricePage {
    data: Vec<PriceOut>,
    meta: PriceMeta,
}

/// Where a list of prices goes on.
#[derive(Serialize, ToSchema)]
pub struct PriceMeta {
    /// `after` of the next page (none: this is the last)
    next_after: Option<String>,
}

/// What a batch did.
#[derive(Serialize, ToSchema)]
pub struct PricesSet {
    /// prices set (created or changed)
    pub set: usize,
    /// prices removed
    pub removed: usize,
}

use serde::Serialize;

fn after_key(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

const AFTER: Param = Param::raw_matching("after", 41, "^[0-9]{1,19}\\.[0-9]{1,19}$", |s| {
    after_key(s).map(drop).ok_or_else(|| "must be next_after of a page".to_owned())
})
.doc("the prices after this one (`next_after` of the previous page)");

crate::http::query_params!(
    /// Pages of a price list's prices, by product and variant.
    pub(crate) struct PricesAfter [AFTER, PER_PAGE]
);

fn list_exists(conn: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached("SELECT currency FROM price_lists WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()
}

/// The prices of a list, by product then variant, in pages.
pub fn page(
    conn: &rusqlite::Connection,
    list: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<(Vec<PriceOut>, Option<String>), ApiError> {
    let Some(currency) = list_exists(conn, list)? else { return Err(ApiError::not_found("price list")) };
    let mut stmt = conn.prepare_cached(
        "SELECT pp.product_id, pp.variant_id, coalesce(v.sku, p.sku), p.name || coalesce(' — ' || nullif(v.name, ''), ''),
                pp.amount, pp.sale
         FROM price_list_prices pp JOIN products p ON p.id = pp.product_id
         LEFT JOIN variants v ON v.id = pp.variant_id
         WHERE pp.price_list_id = ?1 AND (pp.product_id, pp.variant_id) > (?2, ?3)
         ORDER BY pp.product_id, pp.variant_id LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![list, after.0, after.1, limit], |r| {
        let variant: i64 = r.get(1)?;
        Ok(PriceOut {
            product_id: Id(r.get(0)?),
            variant_id: (variant != 0).then_some(Id(variant)),
            sku: r.get(2)?,
            name: r.get(3)?,
            amount: r.get(4)?,
            sale: r.get(5)?,
            currency: currency.clone(),
        })
    })?;
    let data = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let next = (data.len() as i64 == limit)
        .then(|| data.last().map(|p| format!("{}.{}", p.product_id.0, p.variant_id.map_or(0, |v| v.0))))
        .flatten();
    Ok((data, next))
}

/// A list's prices
///
/// By product, then variant (a product's own price first), in pages (`after`).
#[utoipa::path(get, path = "/api/admin/price-lists/{id}/prices", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a price list's id"), PricesAfter),
    responses((status = 200, description = "its prices", body = PricePage), AdminErrors, NotFound, QueryErrors,
        ReadErrors))]
pub async fn list_prices(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::PriceList>,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let after = q.raw(&AFTER).map(|s| after_key(&s).expect("checked by its pattern")).unwrap_or((0, -1));
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    let (data, next_after) = app.db.read(move |conn| page(conn, id, after, limit)).await?;
    Ok(crate::http::respond::private_json(
        StatusCode::OK,
        serde_json::to_vec(&PricePage { data, meta: PriceMeta { next_after } }).expect("serializes"),
    ))
}

/// A price checked: (product or variant, amount and sale or removal).
struct Checked {
    product: Option<i64>,
    variant: Option<i64>,
    price: Option<(i64, Option<i64>)>,
}

fn check(items: &[PriceIn]) -> Result<Vec<Checked>, ApiError> {
    let mut checks = Checks::new();
    if items.is_empty() || items.len() > MAX_BATCH {
        checks.error("body", format!("must hold 1 to {MAX_BATCH} prices"));
    }
    let mut out = Vec::new();
    for (i, p) in items.iter().enumerate() {
        let at = |f: &str| format!("[{i}].{f}");
        match (p.product_id, p.variant_id) {
            (Some(_), Some(_)) | (None, None) => {
                checks.error(&at("product_id"), "give exactly one of product_id and variant_id");
            }
            _ => {}
        }
        let money = 0..=1_000_000_000;
        match (p.amount, p.sale) {
            (Some(a), _) if !money.contains(&a) => checks.error(&at("amount"), "must be 0 to 1000000000"),
            (Some(a), Some(s)) if !(0..a).contains(&s) => {
                checks.error(&at("sale"), "must be at least 0 and below the amount");
            }
            (None, Some(_)) => checks.error(&at("sale"), "cannot go with a removal (amount null)"),
            _ => {}
        }
        out.push(Checked {
            product: p.product_id.map(|i| i.0),
            variant: p.variant_id.map(|i| i.0),
            price: p.amount.map(|a| (a, p.sale)),
        });
    }
    checks.finish()?;
    Ok(out)
}

/// Set or remove a list's prices
///
/// Each entry sets the list's price of a product (which each of its variants without a
/// price of its own in the list takes) or of one variant, with an optional sale price
/// below it; `amount: null` removes it. At most 1,000 entries; all or none apply (422
/// naming the entry, such as `[3].variant_id`, for a product or variant there is not).
/// Setting the same prices again changes nothing. Catalog answers, carts and checkouts in
/// the list's currency (and group) use them from the answer on.
#[utoipa::path(put, path = "/api/admin/price-lists/{id}/prices", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a price list's id")),
    request_body = Vec<PriceIn>,
    responses((status = 200, description = "what changed", body = Data<PricesSet>), AdminErrors, BodyErrors, NotFound,
        WriteErrors))]
pub async fn put_prices(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::PriceList>,
    JsonBody(items): JsonBody<Vec<PriceIn>>,
) -> Result<Response, ApiError> {
    let done = set_prices(&app, admin, id, items).await?;
    Ok(data(StatusCode::OK, &done))
}

/// Checks and sets `items` in list `id` (the dashboard's form calls it too).
pub async fn set_prices(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    items: Vec<PriceIn>,
) -> Result<PricesSet, ApiError> {
    let items = check(&items)?;
    app
        .db
        .writer
        .run(move |tx| {
            if list_exists(tx, id)?.is_none() {
                return Err(ApiError::not_found("price list"));
            }
            let mut checks = Checks::new();
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let found: Option<(i64, i64)> = match (item.product, item.variant) {
                    (Some(p), _) => {
                        use rusqlite::OptionalExtension;
                        tx.prepare_cached("SELECT id, 0 FROM products WHERE id = ?1")?
                            .query_row([p], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?
                    }
                    (None, Some(v)) => {
                        use rusqlite::OptionalExtension;
                        tx.prepare_cached("SELECT product_id, id FROM variants WHERE id = ?1")?
                            .query_row([v], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?
                    }
                    (None, None) => unreachable!("checked"),
                };
                match found {
                    Some(key) => rows.push((key, item.price)),
                    None if item.product.is_some() => checks.error(&format!("[{i}].product_id"), "no such product"),
                    None => checks.error(&format!("[{i}].variant_id"), "no such variant"),
                }
            }
            checks.finish()?;
            let now = now_ms();
            let (mut set, mut removed) = (0, 0);
            let (mut before, mut after) = (Vec::new(), Vec::new());
            for ((product, variant), price) in rows {
                use rusqlite::OptionalExtension;
                let old: Option<(i64, Option<i64>)> = tx
                    .prepare_cached(
                        "SELECT amount, sale FROM price_list_prices
                         WHERE price_list_id = ?1 AND product_id = ?2 AND variant_id = ?3",
                    )?
                    .query_row(params![id, product, variant], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if old == price {
                    continue;
                }
                let key = json!({"product_id": product.to_string(), "variant_id": (variant != 0).then(|| variant.to_string())});
                if let Some((a, s)) = old {
                    before.push(json!({"of": key, "amount": a, "sale": s}));
                }
                match price {
                    Some((amount, sale)) => {
                        tx.prepare_cached(
                            "INSERT INTO price_list_prices(price_list_id, product_id, variant_id, amount, sale, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (price_list_id, product_id, variant_id)
                             DO UPDATE SET amount = excluded.amount, sale = excluded.sale, updated_at = excluded.updated_at",
                        )?
                        .execute(params![id, product, variant, amount, sale, now])?;
                        after.push(json!({"of": key, "amount": amount, "sale": sale}));
                        set += 1;
                    }
                    None => {
                        tx.prepare_cached(
                            "DELETE FROM price_list_prices WHERE price_list_id = ?1 AND product_id = ?2 AND variant_id = ?3",
                        )?
                        .execute(params![id, product, variant])?;
                        removed += 1;
                    }
                }
            }
            if set + removed > 0 {
                audit(tx, &admin, "price_list.prices", "price_list", id, Some(&json!(before)), Some(&json!(after)))?;
            }
            Ok::<_, ApiError>(PricesSet { set, removed })
        })
        .await
}
