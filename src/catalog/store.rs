//! All catalog SQL. Read functions take a read-only `&Connection` from the pool and use
//! cached prepared statements. Listing statements name their index (`INDEXED BY`) or fix
//! their join order (`CROSS JOIN`), so the plan is the same whatever statistics ANALYZE
//! leaves behind; the `query_plans` test checks every statement here.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::model::*;
use crate::db::writer::WriteTx;
use crate::domain::{Currency, Id, Timestamp};

/// Which products a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// category id; its sub-categories are included
    pub category: Option<i64>,
    pub brand: Option<i64>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
    /// an FTS5 MATCH expression (from [`SearchTerms::fts_query`])
    pub fts: Option<String>,
    /// the language of the summaries' texts (`None`: the default; see [`crate::domain::locale`])
    pub locale: Option<String>,
    /// the prices shown, filtered and sorted by (`None`: products' own, as stored; see
    /// [`super::prices`])
    pub market: Option<super::prices::Market>,
    /// the currency of products' own prices: the shop's default (a market's replace them)
    pub default_currency: Currency,
}

/// Which slice of a sorted list.
#[derive(Debug, Clone, Copy)]
pub enum Slice {
    Offset(i64),
    After { key: i64, id: i64 },
    Before { key: i64, id: i64 },
}

/// The category and all categories below it.
const SUBTREE: &str = "(WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL \
     SELECT c2.id FROM categories c2 JOIN sub ON c2.parent_id = sub.id) SELECT id FROM sub)";

const SUMMARY_COLUMNS: &str = "p.id, p.sku, p.name, p.slug, p.base_price, p.sale_price, p.currency, p.in_stock, \
     p.rating_x100, p.rating_count, p.created_at, c.id, c.name, c.slug, b.id, b.name, b.slug, i.url, i.thumbnail_url";

const SUMMARY_JOINS: &str = "JOIN categories c ON c.id = p.category_id \
     LEFT JOIN brands b ON b.id = p.brand_id \
     LEFT JOIN product_images i ON i.product_id = p.id AND i.position = 0";

/// Number of columns [`summary_from_row`] reads.
const SUMMARY_WIDTH: usize = 19;

/// [`SUMMARY_COLUMNS`] and [`SUMMARY_JOINS`] with the texts in `locale` (`None`: as stored),
/// each falling back to the default's where there is no translation.
fn summary_sql(
    locale: Option<&str>,
    market: Option<&super::prices::Market>,
    default: Currency,
) -> (std::borrow::Cow<'static, str>, std::borrow::Cow<'static, str>) {
    use super::translations::{field, join, Owner};
    let (columns, joins): (std::borrow::Cow<'static, str>, std::borrow::Cow<'static, str>) = match locale {
        None => (SUMMARY_COLUMNS.into(), SUMMARY_JOINS.into()),
        Some(l) => (
            format!(
                "p.id, p.sku, {}, {}, p.base_price, p.sale_price, p.currency, p.in_stock, p.rating_x100, p.rating_count, \
                 p.created_at, c.id, {}, {}, b.id, {}, {}, i.url, i.thumbnail_url",
                field("p", "name"),
                field("p", "slug"),
                field("c", "name"),
                field("c", "slug"),
                field("b", "name"),
                field("b", "slug")
            )
            .into(),
            format!(
                "{SUMMARY_JOINS}{}{}{}",
                join(Owner::Product, "p", l),
                join(Owner::Category, "c", l),
                join(Owner::Brand, "b", l)
            )
            .into(),
        ),
    };
    (columns.replacen(STORED_PRICES, &prices_sql(market, default), 1).into(), joins)
}

/// The price columns of a summary as stored (a market's replace them). A product's own
/// prices are in the shop's default currency, whatever its row's `currency` column says
/// (it is no longer read): a shop changing its default keeps its numbers, in the new one.
const STORED_PRICES: &str = "p.base_price, p.sale_price, p.currency";

/// The SQL of a summary's price columns: a market's, or products' own in `default`.
fn prices_sql(market: Option<&super::prices::Market>, default: Currency) -> String {
    match market {
        Some(m) => m.summary_columns("p"),
        None => format!("p.base_price, p.sale_price, '{}'", default.as_str()),
    }
}

/// The SQL of the price a list filters and sorts by.
fn price_key(market: Option<&super::prices::Market>) -> String {
    match market {
        None => "p.price".to_owned(),
        Some(m) => m.sql("p", None).1,
    }
}

fn currency(s: &str) -> Currency {
    Currency::parse(s).unwrap_or(Currency::USD)
}

fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<ProductSummary> {
    let cur = currency(&r.get::<_, String>(6)?);
    let (price, base_price, sale_price) = prices(r.get(4)?, r.get(5)?, cur);
    let brand = match r.get::<_, Option<i64>>(14)? {
        Some(id) => Some(BrandRef { id: Id(id), name: r.get(15)?, slug: r.get(16)? }),
        None => None,
    };
    let image = match r.get::<_, Option<String>>(17)? {
        Some(url) => Some(Image { url, thumbnail: r.get(18)? }),
        None => None,
    };
    Ok(ProductSummary {
        id: Id(r.get(0)?),
        sku: r.get(1)?,
        name: r.get(2)?,
        slug: r.get(3)?,
        price,
        base_price,
        sale_price,
        image,
        category: CategoryRef { id: Id(r.get(11)?), name: r.get(12)?, slug: r.get(13)? },
        brand,
        in_stock: r.get::<_, i64>(7)? != 0,
        rating: Rating::new(r.get(8)?, r.get(9)?),
        created_at: Timestamp(r.get(10)?),
    })
}

/// The category whose slug is `slug`: in `locale` (its translation's) first, then its own.
pub fn category_id(conn: &Connection, slug: &str, locale: Option<&str>) -> rusqlite::Result<Option<i64>> {
    if let Some(l) = locale {
        if let Some(id) = super::translations::owner_by_slug(conn, super::translations::Owner::Category, l, slug)? {
            return Ok(Some(id));
        }
    }
    conn.prepare_cached("SELECT id FROM categories WHERE slug = ?1")?.query_row([slug], |r| r.get(0)).optional()
}

/// The brand whose slug is `slug`: in `locale` (its translation's) first, then its own.
pub fn brand_id(conn: &Connection, slug: &str, locale: Option<&str>) -> rusqlite::Result<Option<i64>> {
    if let Some(l) = locale {
        if let Some(id) = super::translations::owner_by_slug(conn, super::translations::Owner::Brand, l, slug)? {
            return Ok(Some(id));
        }
    }
    conn.prepare_cached("SELECT id FROM brands WHERE slug = ?1")?.query_row([slug], |r| r.get(0)).optional()
}

/// The FROM clause and WHERE conditions (with their values) of a product list.
fn list_source(filter: &Filter, sort: Sort) -> (String, Vec<String>, Vec<Value>) {
    let mut conds = vec!["p.status = 'active'".to_owned()];
    let mut values = Vec::new();
    let from = if let Some(fts) = &filter.fts {
        conds.push("products_fts MATCH ?".into());
        values.push(Value::Text(fts.clone()));
        // full-text first: the matches drive the join
        "products_fts CROSS JOIN products p ON p.id = products_fts.rowid".to_owned()
    } else if filter.category.is_some() {
        "products p INDEXED BY idx_products_category".to_owned()
    } else if filter.brand.is_some() {
        "products p INDEXED BY idx_products_brand".to_owned()
    } else if filter.market.is_some() && matches!(sort, Sort::PriceAsc | Sort::PriceDesc) {
        // a market's prices are computed: no index orders them
        "products p".to_owned()
    } else {
        format!("products p INDEXED BY {}", sort.index())
    };
    if let Some(c) = filter.category {
        conds.push(format!("p.category_id IN {SUBTREE}"));
        values.push(Value::Integer(c));
    }
    if let Some(b) = filter.brand {
        conds.push("p.brand_id = ?".into());
        values.push(Value::Integer(b));
    }
    if let Some(min) = filter.min_price {
        conds.push(format!("{} >= ?", price_key(filter.market.as_ref())));
        values.push(Value::Integer(min));
    }
    if let Some(max) = filter.max_price {
        conds.push(format!("{} <= ?", price_key(filter.market.as_ref())));
        values.push(Value::Integer(max));
    }
    if filter.in_stock {
        conds.push("p.in_stock = 1".into());
    }
    (from, conds, values)
}

/// Runs the query of one page and hands each row (up to `limit + 1`, the extra one telling
/// whether more lie beyond) to `visit`, in query order: display order, or its reverse when
/// walking backwards. The row's last column is its sort key.
fn visit_page(
    conn: &Connection,
    filter: &Filter,
    sort: Sort,
    slice: Slice,
    limit: i64,
    mut visit: impl FnMut(&Row<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let (from, mut conds, mut values) = list_source(filter, sort);
    let key: std::borrow::Cow<'static, str> = match (sort, &filter.market) {
        (Sort::PriceAsc | Sort::PriceDesc, Some(m)) => price_key(Some(m)).into(),
        _ => sort.key().into(),
    };
    let desc = sort.descending();
    let backwards = matches!(slice, Slice::Before { .. });
    let (k, id) = match slice {
        Slice::After { key, id } | Slice::Before { key, id } => (Some(key), id),
        Slice::Offset(_) => (None, 0),
    };
    if let Some(k) = k {
        let op = if desc != backwards { "<" } else { ">" };
        conds.push(format!("({key}, p.id) {op} (?, ?)"));
        values.push(Value::Integer(k));
        values.push(Value::Integer(id));
    }
    let dir = if desc != backwards { "DESC" } else { "ASC" };
    let offset = match slice {
        Slice::Offset(o) => o,
        _ => 0,
    };
    let (columns, joins) = summary_sql(filter.locale.as_deref(), filter.market.as_ref(), filter.default_currency);
    let sql = format!(
        "SELECT {columns}, {key} FROM {from} {joins} WHERE {} ORDER BY {key} {dir}, p.id {dir} LIMIT ? OFFSET ?",
        conds.join(" AND ")
    );
    values.push(Value::Integer(limit + 1));
    values.push(Value::Integer(offset));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(values.iter()))?;
    while let Some(r) = rows.next()? {
        visit(r)?;
    }
    Ok(())
}

/// One page of products and whether more rows lie beyond it (in the direction of travel).
/// Each summary comes with its sort key, for cursors.
pub fn list_products(
    conn: &Connection,
    filter: &Filter,
    sort: Sort,
    slice: Slice,
    limit: i64,
) -> rusqlite::Result<(Vec<(ProductSummary, i64)>, bool)> {
    let mut rows: Vec<(ProductSummary, i64)> = Vec::with_capacity(limit as usize + 1);
    visit_page(conn, filter, sort, slice, limit, |r| {
        rows.push((summary_from_row(r)?, r.get(SUMMARY_WIDTH)?));
        Ok(())
    })?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if matches!(slice, Slice::Before { .. }) {
        rows.reverse();
    }
    Ok((rows, more))
}

/// What [`write_products`] wrote.
pub struct Written {
    pub count: usize,
    pub more: bool,
    /// (sort key, id) of the first and last product written
    pub first: Option<(i64, i64)>,
    pub last: Option<(i64, i64)>,
    /// the products written, in order
    pub ids: Vec<i64>,
}

/// Writes a forward page (offset or after a cursor) straight from SQLite's row buffers
/// into `out` as a JSON array of summaries — the same JSON as serializing
/// [`ProductSummary`], without copying each field into an owned string first. `fields`,
/// a bit per entry of [`SUMMARY_FIELDS`], restricts what is written.
pub fn write_products(
    conn: &Connection,
    filter: &Filter,
    sort: Sort,
    slice: Slice,
    limit: i64,
    fields: u32,
    out: &mut Vec<u8>,
) -> rusqlite::Result<Written> {
    debug_assert!(!matches!(slice, Slice::Before { .. }), "backward pages go through list_products");
    let mut w = Written { count: 0, more: false, first: None, last: None, ids: Vec::with_capacity(limit as usize) };
    out.push(b'[');
    visit_page(conn, filter, sort, slice, limit, |r| {
        if w.count as i64 == limit {
            w.more = true;
            return Ok(());
        }
        let at = (r.get::<_, i64>(SUMMARY_WIDTH)?, r.get::<_, i64>(0)?);
        w.first.get_or_insert(at);
        w.last = Some(at);
        w.ids.push(at.1);
        if w.count > 0 {
            out.push(b',');
        }
        write_summary(r, fields, out)?;
        w.count += 1;
        Ok(())
    })?;
    out.push(b']');
    Ok(w)
}

fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into()))
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn json_money(out: &mut Vec<u8>, amount: i64, currency: &str) {
    out.extend_from_slice(b"{\"amount\":");
    out.extend_from_slice(itoa::Buffer::new().format(amount).as_bytes());
    out.extend_from_slice(b",\"currency\":");
    json_str(out, currency);
    out.push(b'}');
}

/// `{"id": "..", "name": .., "slug": ..}` from columns `at`, `at + 1`, `at + 2`, or `null`
/// when the id is NULL (a product without a brand).
fn json_ref(out: &mut Vec<u8>, r: &Row<'_>, at: usize) -> rusqlite::Result<()> {
    match r.get::<_, Option<i64>>(at)? {
        None => out.extend_from_slice(b"null"),
        Some(id) => {
            out.extend_from_slice(b"{\"id\":");
            json_str(out, itoa::Buffer::new().format(id));
            out.extend_from_slice(b",\"name\":");
            json_str(out, text(r, at + 1)?);
            out.extend_from_slice(b",\"slug\":");
            json_str(out, text(r, at + 2)?);
            out.push(b'}');
        }
    }
    Ok(())
}

/// One summary as JSON, field by field in [`ProductSummary`]'s order.
fn write_summary(r: &Row<'_>, fields: u32, out: &mut Vec<u8>) -> rusqlite::Result<()> {
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, idx: usize| -> bool {
        if fields & (1 << idx) == 0 {
            return false;
        }
        out.push(if first { b'{' } else { b',' });
        first = false;
        json_str(out, SUMMARY_FIELDS[idx]);
        out.push(b':');
        true
    };
    let currency = text(r, 6)?;
    let base: i64 = r.get(4)?;
    let sale: Option<i64> = r.get(5)?;
    if key(out, 0) {
        json_str(out, itoa::Buffer::new().format(r.get::<_, i64>(0)?));
    }
    if key(out, 1) {
        json_str(out, text(r, 1)?);
    }
    if key(out, 2) {
        json_str(out, text(r, 2)?);
    }
    if key(out, 3) {
        json_str(out, text(r, 3)?);
    }
    if key(out, 4) {
        json_money(out, sale.unwrap_or(base), currency);
    }
    if key(out, 5) {
        json_money(out, base, currency);
    }
    if key(out, 6) {
        match sale {
            Some(s) => json_money(out, s, currency),
            None => out.extend_from_slice(b"null"),
        }
    }
    if key(out, 7) {
        match r.get_ref(17)? {
            rusqlite::types::ValueRef::Null => out.extend_from_slice(b"null"),
            _ => {
                out.extend_from_slice(b"{\"url\":");
                json_str(out, text(r, 17)?);
                out.extend_from_slice(b",\"thumbnail\":");
                json_str(out, text(r, 18)?);
                out.push(b'}');
            }
        }
    }
    if key(out, 8) {
        json_ref(out, r, 11)?;
    }
    if key(out, 9) {
        json_ref(out, r, 14)?;
    }
    if key(out, 10) {
        out.extend_from_slice(if r.get::<_, i64>(7)? != 0 { b"true" } else { b"false" });
    }
    if key(out, 11) {
        out.extend_from_slice(b"{\"average\":");
        serde_json::to_writer(&mut *out, &(r.get::<_, i64>(8)? as f64 / 100.0)).expect("writing to a Vec cannot fail");
        out.extend_from_slice(b",\"count\":");
        out.extend_from_slice(itoa::Buffer::new().format(r.get::<_, i64>(9)?).as_bytes());
        out.push(b'}');
    }
    if key(out, 12) {
        let mut buf = [0u8; crate::util::RFC3339_LEN];
        json_str(out, crate::util::rfc3339_into(r.get(10)?, &mut buf));
    }
    if first {
        out.push(b'{');
    }
    out.push(b'}');
    Ok(())
}

/// How many products a filter matches. Category/brand/stock filters read the counter tables
/// the triggers keep; price and text filters count the matching rows.
pub fn count_products(conn: &Connection, filter: &Filter) -> rusqlite::Result<i64> {
    let stock = if filter.in_stock { " AND in_stock = 1" } else { "" };
    if filter.fts.is_none() && filter.min_price.is_none() && filter.max_price.is_none() {
        match (filter.category, filter.brand) {
            (None, None) => {
                let sql = format!("SELECT coalesce(sum(n), 0) FROM product_totals WHERE 1{stock}");
                return conn.prepare_cached(&sql)?.query_row([], |r| r.get(0));
            }
            (Some(c), None) => {
                let sql = format!(
                    "SELECT coalesce(sum(n), 0) FROM category_product_counts WHERE category_id IN {SUBTREE}{stock}"
                );
                return conn.prepare_cached(&sql)?.query_row([c], |r| r.get(0));
            }
            (None, Some(b)) => {
                let sql = format!("SELECT coalesce(sum(n), 0) FROM brand_product_counts WHERE brand_id = ?{stock}");
                return conn.prepare_cached(&sql)?.query_row([b], |r| r.get(0));
            }
            (Some(_), Some(_)) => {}
        }
    }
    // a price range alone is counted on the price index
    let sort = if filter.min_price.is_some() || filter.max_price.is_some() { Sort::PriceAsc } else { Sort::Newest };
    let (from, conds, values) = list_source(filter, sort);
    let sql = format!("SELECT count(*) FROM {from} WHERE {}", conds.join(" AND "));
    conn.prepare_cached(&sql)?.query_row(params_from_iter(values.iter()), |r| r.get(0))
}

/// Writes the summaries of the given products (active ones only), in the order given, as
/// a JSON array into `out` (see [`write_products`] for `fields`); returns the ids written.
pub fn write_products_by_ids(
    conn: &Connection,
    ids: &[i64],
    fields: u32,
    locale: Option<&str>,
    market: Option<&super::prices::Market>,
    default: Currency,
    out: &mut Vec<u8>,
) -> rusqlite::Result<Vec<i64>> {
    let mut written = Vec::with_capacity(ids.len());
    out.push(b'[');
    if !ids.is_empty() {
        let list = serde_json::to_string(ids).expect("integers serialize");
        // json_each yields the array in order and drives the join (CROSS JOIN)
        let (columns, joins) = summary_sql(locale, market, default);
        let sql = format!(
            "SELECT {columns} FROM json_each(?1) j CROSS JOIN products p ON p.id = j.value {joins} \
             WHERE p.status = 'active' ORDER BY j.key"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([list])?;
        while let Some(r) = rows.next()? {
            if !written.is_empty() {
                out.push(b',');
            }
            written.push(r.get(0)?);
            write_summary(r, fields, out)?;
        }
    }
    out.push(b']');
    Ok(written)
}

/// Summaries of the given products (active ones only), in the order given.
pub fn summaries_by_ids(
    conn: &Connection,
    ids: &[i64],
    locale: Option<&str>,
    market: Option<&super::prices::Market>,
    default: Currency,
) -> rusqlite::Result<Vec<ProductSummary>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).expect("integers serialize");
    let (columns, joins) = summary_sql(locale, market, default);
    let sql = format!(
        "SELECT {columns} FROM json_each(?1) j CROSS JOIN products p ON p.id = j.value {joins} \
         WHERE p.status = 'active'"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut by_id: HashMap<i64, ProductSummary> =
        stmt.query_map([list], summary_from_row)?.map(|r| r.map(|s| (s.id.0, s))).collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// A product page: 4 queries whatever the product (product with category and brand,
/// images, variants with stock and attribute values, newest approved reviews).
///
/// In `locale`, its texts are the translations' where there are, and its slug may be the
/// translation's or its own.
pub fn product_detail(
    conn: &Connection,
    slug: &str,
    locale: Option<&str>,
    market: Option<&super::prices::Market>,
    default: Currency,
) -> rusqlite::Result<Option<ProductDetail>> {
    use super::translations::{field, join, owner_by_slug, Owner};
    const HEAD: &str =
        "SELECT p.id, p.sku, p.name, p.slug, p.description, p.base_price, p.sale_price, p.currency, p.in_stock,
                    p.ratings_1, p.ratings_2, p.ratings_3, p.ratings_4, p.ratings_5, p.rating_x100,
                    p.weight_grams, p.created_at, p.updated_at,
                    c.id, c.name, c.slug, b.id, b.name, b.slug
             FROM products p JOIN categories c ON c.id = p.category_id LEFT JOIN brands b ON b.id = p.brand_id";
    let (sql, key): (std::borrow::Cow<'static, str>, rusqlite::types::Value) = match locale {
        None => (format!("{HEAD} WHERE p.slug = ?1 AND p.status = 'active'").into(), slug.to_owned().into()),
        Some(l) => {
            let head = HEAD
                .replacen(
                    "p.name, p.slug, p.description",
                    &format!("{}, {}, {}", field("p", "name"), field("p", "slug"), field("p", "description")),
                    1,
                )
                .replacen("c.name, c.slug", &format!("{}, {}", field("c", "name"), field("c", "slug")), 1)
                .replacen("b.name, b.slug", &format!("{}, {}", field("b", "name"), field("b", "slug")), 1);
            let joins = format!(
                "{}{}{}",
                join(Owner::Product, "p", l),
                join(Owner::Category, "c", l),
                join(Owner::Brand, "b", l)
            );
            // the translation's slug first; the product's own is found in every language
            match owner_by_slug(conn, Owner::Product, l, slug)? {
                Some(id) => (format!("{head}{joins} WHERE p.id = ?1 AND p.status = 'active'").into(), id.into()),
                None => {
                    (format!("{head}{joins} WHERE p.slug = ?1 AND p.status = 'active'").into(), slug.to_owned().into())
                }
            }
        }
    };
    let sql = sql.replacen(STORED_PRICES, &prices_sql(market, default), 1);
    let head = conn
        .prepare_cached(&sql)?
        .query_row([key], |r| {
            let cur = currency(&r.get::<_, String>(7)?);
            let (price, base_price, sale_price) = prices(r.get(5)?, r.get(6)?, cur);
            let mut distribution = BTreeMap::new();
            let mut count = 0;
            for star in 1..=5 {
                let n: i64 = r.get(8 + star)?;
                count += n;
                distribution.insert(star.to_string(), n);
            }
            let brand = match r.get::<_, Option<i64>>(21)? {
                Some(id) => Some(BrandRef { id: Id(id), name: r.get(22)?, slug: r.get(23)? }),
                None => None,
            };
            Ok(ProductDetail {
                id: Id(r.get(0)?),
                sku: r.get(1)?,
                name: r.get(2)?,
                slug: r.get(3)?,
                description: r.get(4)?,
                price,
                base_price,
                sale_price,
                in_stock: r.get::<_, i64>(8)? != 0,
                category: CategoryRef { id: Id(r.get(18)?), name: r.get(19)?, slug: r.get(20)? },
                brand,
                images: Vec::new(),
                options: Vec::new(),
                variants: Vec::new(),
                rating: RatingSummary { average: r.get::<_, i64>(14)? as f64 / 100.0, count, distribution },
                reviews: Vec::new(),
                weight_grams: r.get(15)?,
                created_at: Timestamp(r.get(16)?),
                updated_at: Timestamp(r.get(17)?),
            })
        })
        .optional()?;
    let Some(mut p) = head else { return Ok(None) };
    let pid = p.id.0;

    p.images = conn
        .prepare_cached("SELECT url, thumbnail_url, alt FROM product_images WHERE product_id = ?1 ORDER BY position")?
        .query_map([pid], |r| Ok(ImageFull { url: r.get(0)?, thumbnail: r.get(1)?, alt: r.get(2)? }))?
        .collect::<Result<_, _>>()?;

    let base = p.base_price.amount;
    let sale = p.sale_price.map(|m| m.amount);
    let cur = p.price.currency;
    const VARIANTS: &str = "SELECT v.id, v.sku, v.name, v.base_price, v.sale_price, coalesce(i.available, 0) > 0,
                a.slug, a.name, av.value
         FROM variants v JOIN products p ON p.id = v.product_id
         LEFT JOIN inventory i ON i.variant_id = v.id";
    let variants_sql: std::borrow::Cow<'static, str> = match market {
        None => VARIANTS.into(),
        // the market's prices of each variant (never NULL: a variant's own or its product's)
        Some(m) => {
            let (base, paid) = m.sql("p", Some("v"));
            VARIANTS
                .replacen(
                    "v.base_price, v.sale_price",
                    &format!("{base}, CASE WHEN ({paid}) < ({base}) THEN ({paid}) END"),
                    1,
                )
                .into()
        }
    };
    let mut stmt = conn.prepare_cached(&format!(
        "{variants_sql}
         LEFT JOIN variant_attribute_values vav ON vav.variant_id = v.id
         LEFT JOIN attribute_values av ON av.id = vav.attribute_value_id
         LEFT JOIN attributes a ON a.id = av.attribute_id

         WHERE v.product_id = ?1
         ORDER BY v.position, v.id, a.id"
    ))?;
    let mut rows = stmt.query([pid])?;
    while let Some(r) = rows.next()? {
        let vid: i64 = r.get(0)?;
        if p.variants.last().map(|v| v.id.0) != Some(vid) {
            // a variant without its own price takes the product's base and sale price
            let (vb, vs) = match r.get::<_, Option<i64>>(3)? {
                Some(b) => (b, r.get::<_, Option<i64>>(4)?),
                None => (base, sale),
            };
            let (price, base_price, sale_price) = prices(vb, vs, cur);
            p.variants.push(Variant {
                id: Id(vid),
                sku: r.get(1)?,
                name: r.get(2)?,
                price,
                base_price,
                sale_price,
                in_stock: r.get(5)?,
                attributes: Vec::new(),
            });
        }
        if let Some(attr) = r.get::<_, Option<String>>(6)? {
            let av = AttributeValue { attribute: attr, name: r.get(7)?, value: r.get(8)? };
            match p.options.iter_mut().find(|o| o.attribute == av.attribute) {
                Some(o) if !o.values.contains(&av.value) => o.values.push(av.value.clone()),
                Some(_) => {}
                None => p.options.push(ProductOption {
                    attribute: av.attribute.clone(),
                    name: av.name.clone(),
                    values: vec![av.value.clone()],
                }),
            }
            p.variants.last_mut().expect("pushed above").attributes.push(av);
        }
    }

    p.reviews = reviews(conn, pid, None, 10)?.0;
    Ok(Some(p))
}

pub fn product_id(conn: &Connection, slug: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.prepare_cached("SELECT id, rating_count FROM products WHERE slug = ?1 AND status = 'active'")?
        .query_row([slug], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn author(name: &str) -> String {
    let mut parts = name.split_whitespace();
    let first = parts.next().unwrap_or("Customer");
    match parts.last().and_then(|l| l.chars().next()) {
        Some(initial) => format!("{first} {initial}."),
        None => first.to_owned(),
    }
}

/// Approved reviews, newest first, after/before a (created_at, id) position.
pub fn reviews(
    conn: &Connection,
    product_id: i64,
    slice: Option<Slice>,
    limit: i64,
) -> rusqlite::Result<(Vec<Review>, bool)> {
    let (cond, dir, values): (&str, &str, Vec<Value>) = match slice {
        Some(Slice::After { key, id }) => ("AND (r.created_at, r.id) < (?2, ?3)", "DESC", vec![key.into(), id.into()]),
        Some(Slice::Before { key, id }) => ("AND (r.created_at, r.id) > (?2, ?3)", "ASC", vec![key.into(), id.into()]),
        _ => ("", "DESC", vec![]),
    };
    let sql = format!(
        "SELECT r.id, r.rating, r.title, r.body, r.created_at, cu.name
         FROM reviews r JOIN customers cu ON cu.id = r.customer_id
         WHERE r.product_id = ?1 AND r.status = 'approved' {cond}
         ORDER BY r.created_at {dir}, r.id {dir} LIMIT {}",
        limit + 1
    );
    let mut all = vec![Value::Integer(product_id)];
    all.extend(values);
    let mut out: Vec<Review> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(all.iter()), |r| {
            Ok(Review {
                id: Id(r.get(0)?),
                rating: r.get(1)?,
                title: r.get(2)?,
                body: r.get(3)?,
                author: author(&r.get::<_, String>(5)?),
                created_at: Timestamp(r.get(4)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    let more = out.len() as i64 > limit;
    out.truncate(limit as usize);
    if dir == "ASC" {
        out.reverse();
    }
    Ok((out, more))
}

/// Top sellers by units sold since `since_day` (days since the epoch, UTC).
pub fn bestsellers(
    conn: &Connection,
    since_day: i64,
    limit: i64,
    locale: Option<&str>,
    market: Option<&super::prices::Market>,
    default: Currency,
) -> rusqlite::Result<Vec<Bestseller>> {
    let (columns, joins) = summary_sql(locale, market, default);
    let sql = format!(
        "WITH top AS (SELECT product_id, sum(units) AS units FROM product_sales_daily WHERE day >= ?1
                      GROUP BY product_id ORDER BY units DESC, product_id LIMIT ?2)
         SELECT {columns}, top.units FROM top CROSS JOIN products p ON p.id = top.product_id {joins}
         WHERE p.status = 'active' ORDER BY top.units DESC, p.id LIMIT ?3"
    );
    // ask for a few more in case some top sellers have been retired since
    conn.prepare_cached(&sql)?
        .query_map(params![since_day, limit * 2 + 10, limit], |r| {
            Ok(Bestseller { product: summary_from_row(r)?, units_sold: r.get(SUMMARY_WIDTH)? })
        })?
        .collect()
}

/// Every category with its own active-product count, for building the tree.
#[derive(Debug, Clone)]
pub struct CategoryRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub depth: i64,
    pub own_count: i64,
}

/// Every category, parents before children. `with_counts` adds descriptions and
/// active-product counts (the tree endpoint); without, it is the cheap list search facets
/// use to name and roll up their counts.
pub fn categories(conn: &Connection, with_counts: bool) -> rusqlite::Result<Vec<CategoryRow>> {
    categories_in(conn, with_counts, None)
}

/// [`categories`] with names, slugs and descriptions in `locale`.
pub fn categories_in(conn: &Connection, with_counts: bool, locale: Option<&str>) -> rusqlite::Result<Vec<CategoryRow>> {
    use super::translations::{field, join, Owner};
    let sql: std::borrow::Cow<'static, str> = match (with_counts, locale) {
        (true, None) => "SELECT c.id, c.parent_id, c.name, c.slug, c.description, c.depth,
                coalesce((SELECT sum(n) FROM category_product_counts k WHERE k.category_id = c.id), 0)
         FROM categories c ORDER BY c.depth, c.position, c.id"
            .into(),
        (false, None) => {
            "SELECT id, parent_id, name, slug, '', depth, 0 FROM categories ORDER BY depth, position, id".into()
        }
        (with_counts, Some(l)) => format!(
            "SELECT c.id, c.parent_id, {}, {}, {}, c.depth, {}
             FROM categories c{} ORDER BY c.depth, c.position, c.id",
            field("c", "name"),
            field("c", "slug"),
            if with_counts { field("c", "description") } else { "''".into() },
            if with_counts {
                "coalesce((SELECT sum(n) FROM category_product_counts k WHERE k.category_id = c.id), 0)"
            } else {
                "0"
            },
            join(Owner::Category, "c", l)
        )
        .into(),
    };
    conn.prepare_cached(&sql)?
        .query_map([], |r| {
            Ok(CategoryRow {
                id: r.get(0)?,
                parent_id: r.get(1)?,
                name: r.get(2)?,
                slug: r.get(3)?,
                description: r.get(4)?,
                depth: r.get(5)?,
                own_count: r.get(6)?,
            })
        })?
        .collect()
}

fn subtree_count(conn: &Connection, id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "SELECT coalesce(sum(n), 0) FROM category_product_counts WHERE category_id IN {SUBTREE}"
    ))?
    .query_row([id], |r| r.get(0))
}

/// A category's page; in `locale`, its texts and those of its path and children are the
/// translations' where there are, and its slug may be the translation's or its own.
pub fn category_detail(
    conn: &Connection,
    slug: &str,
    locale: Option<&str>,
) -> rusqlite::Result<Option<CategoryDetail>> {
    use super::translations::{field, join, Owner};
    let Some(found) = category_id(conn, slug, locale)? else { return Ok(None) };
    let texts = |alias: &str| match locale {
        None => format!("{alias}.name, {alias}.slug"),
        Some(_) => format!("{}, {}", field(alias, "name"), field(alias, "slug")),
    };
    let joined = |alias: &str| locale.map(|l| join(Owner::Category, alias, l)).unwrap_or_default();
    let description = if locale.is_some() { field("c", "description") } else { "c.description".into() };
    let row = conn
        .prepare_cached(&format!(
            "SELECT c.id, {}, {description}, c.depth FROM categories c{} WHERE c.id = ?1",
            texts("c"),
            joined("c")
        ))?
        .query_row([found], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((id, name, slug, description, depth)) = row else {
        return Ok(None);
    };
    // ancestors, nearest first
    let mut path: Vec<CategoryRef> = conn
        .prepare_cached(
            &format!("WITH RECURSIVE up(id, lvl) AS (SELECT parent_id, 1 FROM categories WHERE id = ?1
                 UNION ALL SELECT c.parent_id, up.lvl + 1 FROM categories c JOIN up ON c.id = up.id WHERE up.id IS NOT NULL)
             SELECT c.id, {} FROM up JOIN categories c ON c.id = up.id{} ORDER BY up.lvl", texts("c"), joined("c")),
        )?
        .query_map([id], |r| Ok(CategoryRef { id: Id(r.get(0)?), name: r.get(1)?, slug: r.get(2)? }))?
        .collect::<Result<_, _>>()?;
    let parent = path.first().cloned();
    path.reverse();
    path.push(CategoryRef { id: Id(id), name: name.clone(), slug: slug.clone() });
    let child_rows: Vec<(i64, String, String)> = conn
        .prepare_cached(&format!(
            "SELECT c.id, {} FROM categories c{} WHERE c.parent_id = ?1 ORDER BY c.position, c.id",
            texts("c"),
            joined("c")
        ))?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut children = Vec::with_capacity(child_rows.len());
    for (cid, cname, cslug) in child_rows {
        children.push(CategoryChild {
            id: Id(cid),
            name: cname,
            slug: cslug,
            product_count: subtree_count(conn, cid)?,
        });
    }
    Ok(Some(CategoryDetail {
        id: Id(id),
        name,
        slug,
        description,
        depth,
        product_count: subtree_count(conn, id)?,
        parent,
        path,
        children,
    }))
}

/// Every brand by name; in `locale`, with the translations' texts (and by their names).
pub fn brands(conn: &Connection, locale: Option<&str>) -> rusqlite::Result<Vec<Brand>> {
    use super::translations::{field, join, Owner};
    let sql: std::borrow::Cow<'static, str> = match locale {
        None => "SELECT b.id, b.name, b.slug, b.description, b.logo_url,
                coalesce((SELECT sum(n) FROM brand_product_counts k WHERE k.brand_id = b.id), 0)
         FROM brands b ORDER BY b.name, b.id"
            .into(),
        Some(l) => format!(
            "SELECT b.id, {name}, {}, {}, b.logo_url,
                coalesce((SELECT sum(n) FROM brand_product_counts k WHERE k.brand_id = b.id), 0)
             FROM brands b{} ORDER BY {name}, b.id",
            field("b", "slug"),
            field("b", "description"),
            join(Owner::Brand, "b", l),
            name = field("b", "name"),
        )
        .into(),
    };
    conn.prepare_cached(&sql)?
        .query_map([], |r| {
            Ok(Brand {
                id: Id(r.get(0)?),
                name: r.get(1)?,
                slug: r.get(2)?,
                description: r.get(3)?,
                logo_url: r.get(4)?,
                product_count: r.get(5)?,
            })
        })?
        .collect()
}

/// One full-text match with what facets and sorting need.
pub struct Hit {
    pub id: i64,
    pub category_id: i64,
    pub brand_id: Option<i64>,
    pub price: i64,
    pub sales_count: i64,
    pub sort_key: i64,
}

/// Every active product matching `filter` (whose `fts` must be set), in one pass over the
/// full-text matches; the columns come from the narrow `idx_products_facets`.
pub fn search_hits(conn: &Connection, filter: &Filter, sort: Option<Sort>) -> rusqlite::Result<Vec<Hit>> {
    let (_, conds, values) = list_source(filter, Sort::Newest);
    let price = price_key(filter.market.as_ref());
    let key = match sort {
        Some(Sort::PriceAsc | Sort::PriceDesc) => price.clone(),
        Some(s) => s.key().to_owned(),
        None => "0".to_owned(),
    };
    let sql = format!(
        "SELECT p.id, p.category_id, p.brand_id, {price}, p.sales_count, {key}
         FROM products_fts CROSS JOIN products p INDEXED BY idx_products_facets ON p.id = products_fts.rowid
         WHERE {} ORDER BY products_fts.rowid",
        conds.join(" AND ")
    );
    conn.prepare_cached(&sql)?
        .query_map(params_from_iter(values.iter()), |r| {
            Ok(Hit {
                id: r.get(0)?,
                category_id: r.get(1)?,
                brand_id: r.get(2)?,
                price: r.get(3)?,
                sales_count: r.get(4)?,
                sort_key: r.get(5)?,
            })
        })?
        .collect()
}

/// Ids matching a full-text expression, ascending (the index alone, no product rows).
pub fn fts_ids(conn: &Connection, expr: &str) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT rowid FROM products_fts WHERE products_fts MATCH ?1 ORDER BY rowid")?
        .query_map([expr], |r| r.get(0))?
        .collect()
}

/// Names and slugs of the given brands.
pub fn brand_refs(conn: &Connection, ids: &[i64]) -> rusqlite::Result<HashMap<i64, BrandRef>> {
    let list = serde_json::to_string(ids).expect("integers serialize");
    conn.prepare_cached("SELECT b.id, b.name, b.slug FROM json_each(?1) j CROSS JOIN brands b ON b.id = j.value")?
        .query_map([list], |r| {
            Ok((r.get::<_, i64>(0)?, BrandRef { id: Id(r.get(0)?), name: r.get(1)?, slug: r.get(2)? }))
        })?
        .collect()
}

/// One product as the in-memory search index holds it: the text it indexes and the
/// columns facets, filters and sorts read.
pub struct IndexRow {
    pub id: i64,
    pub active: bool,
    pub in_stock: bool,
    pub category_id: i64,
    pub brand_id: Option<i64>,
    pub price: i64,
    pub created_at: i64,
    pub sales_count: i64,
    pub rating_x100: i64,
    pub name: String,
    pub description: String,
}

/// The indexed texts are the product's own with its translations' after them: search finds
/// a product by its words in every language.
const INDEX_COLUMNS: &str = "p.id, p.status = 'active', p.in_stock, p.category_id, p.brand_id, p.price, \
     p.created_at, p.sales_count, p.rating_x100, \
     p.name || coalesce((SELECT ' ' || group_concat(t.name, ' ') FROM product_translations t WHERE t.product_id = p.id), ''), \
     p.description || coalesce((SELECT ' ' || group_concat(t.description, ' ') FROM product_translations t \
                                 WHERE t.product_id = p.id AND t.description <> ''), '')";

fn index_row(r: &Row) -> rusqlite::Result<IndexRow> {
    Ok(IndexRow {
        id: r.get(0)?,
        active: r.get(1)?,
        in_stock: r.get(2)?,
        category_id: r.get(3)?,
        brand_id: r.get(4)?,
        price: r.get(5)?,
        created_at: r.get(6)?,
        sales_count: r.get(7)?,
        rating_x100: r.get(8)?,
        name: r.get(9)?,
        description: r.get(10)?,
    })
}

/// Every active product in id order, for building the search index at start-up (one pass
/// over the table: a start-up load, not a request path).
pub fn index_rows_all(conn: &Connection, mut visit: impl FnMut(IndexRow)) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare(&format!("SELECT {INDEX_COLUMNS} FROM products p WHERE p.status = 'active' ORDER BY p.id"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        visit(index_row(r)?);
    }
    Ok(())
}

/// One product's index row (any status), by id.
pub fn index_row_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<IndexRow>> {
    conn.prepare_cached(&format!("SELECT {INDEX_COLUMNS} FROM products p WHERE p.id = ?1"))?
        .query_row([id], index_row)
        .optional()
}

/// Every brand: id, name, slug.
pub fn all_brand_refs(conn: &Connection) -> rusqlite::Result<Vec<BrandRef>> {
    conn.prepare_cached("SELECT id, name, slug FROM brands ORDER BY id")?
        .query_map([], |r| Ok(BrandRef { id: Id(r.get(0)?), name: r.get(1)?, slug: r.get(2)? }))?
        .collect()
}

// ----------------------------------------------------------------------------------------
// Administration: the writes of the admin API's product routes (each inside the writer
// unit of its route, with the audit row)
// ----------------------------------------------------------------------------------------

/// A product as administrators see it (every column that matters, any status), as JSON.
pub fn admin_product(conn: &Connection, id: i64) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = conn
        .prepare_cached(
            "SELECT json_object('id', cast(p.id AS TEXT), 'sku', p.sku, 'slug', p.slug, 'name', p.name,
                    'description', p.description, 'category_id', cast(p.category_id AS TEXT),
                    'brand_id', cast(p.brand_id AS TEXT), 'status', p.status,
                    'base_price', p.base_price, 'sale_price', p.sale_price, 'weight_grams', p.weight_grams,
                    'in_stock', json(CASE p.in_stock WHEN 1 THEN 'true' ELSE 'false' END),
                    'gift_card', json(CASE p.gift_card WHEN 1 THEN 'true' ELSE 'false' END),
                    'stock', (SELECT json_group_array(json_object('variant_id', cast(v.id AS TEXT), 'sku', v.sku,
                                     'name', v.name,
                                     'options', json((SELECT json_group_object(a.name, av.value)
                                                      FROM variant_attribute_values vav
                                                      JOIN attribute_values av ON av.id = vav.attribute_value_id
                                                      JOIN attributes a ON a.id = av.attribute_id
                                                      WHERE vav.variant_id = v.id)),
                                     'base_price', v.base_price, 'sale_price', v.sale_price,
                                     'available', coalesce(i.available, 0), 'reserved', coalesce(i.reserved, 0))
                                     ORDER BY v.position, v.id)
                              FROM variants v LEFT JOIN inventory i ON i.variant_id = v.id WHERE v.product_id = p.id),
                    'images', (SELECT json_group_array(json_object('id', cast(pi.id AS TEXT), 'url', pi.url,
                                     'thumbnail', pi.thumbnail_url, 'alt', pi.alt, 'position', pi.position,
                                     'thumbnail_ready', json(CASE WHEN pi.media IS NULL OR pi.thumbnail_media IS NOT NULL
                                                                  THEN 'true' ELSE 'false' END))
                                     ORDER BY pi.position)
                               FROM product_images pi WHERE pi.product_id = p.id))
             FROM products p WHERE p.id = ?1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(text.map(|t| serde_json::from_str(&t).expect("SQLite writes JSON")))
}

/// Which products an administrator's list shows (any status).
#[derive(Debug, Clone)]
pub enum AdminListing {
    /// newest first, optionally of one status
    All { status: Option<&'static str> },
    /// an FTS5 query over name, description, brand and category (and an exact sku), newest first
    Matching { fts: String, sku: String, status: Option<&'static str> },
    /// products with a variant of 5 or fewer units for sale, by that variant, newest first
    LowStock,
}

/// A keyset page of an administrator's product list: the product ids, and the key the
/// next page starts below (a product id; for `LowStock`, a variant id).
pub fn admin_product_ids(
    conn: &Connection,
    listing: &AdminListing,
    before: i64,
    limit: i64,
) -> rusqlite::Result<(Vec<i64>, Option<i64>)> {
    let ids = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<Vec<(i64, i64)>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    // each status its own statement. Drafts and retired ones walk the partial index
    // `idx_products_status` (status <> 'active'): SQLite uses a partial index only when the
    // query's WHERE holds the index's own term, so the statement says it too.
    let rows = match listing {
        AdminListing::All { status: None } => {
            ids("SELECT id, id FROM products WHERE id < ?1 ORDER BY id DESC LIMIT ?2", &[&before, &limit])?
        }
        AdminListing::All { status: Some("active") } => ids(
            "SELECT id, id FROM products WHERE status = 'active' AND id < ?1 ORDER BY id DESC LIMIT ?2",
            &[&before, &limit],
        )?,
        AdminListing::All { status: Some("draft") } => ids(
            "SELECT id, id FROM products WHERE status = 'draft' AND status <> 'active' AND id < ?1
             ORDER BY id DESC LIMIT ?2",
            &[&before, &limit],
        )?,
        AdminListing::All { status: Some(_) } => ids(
            "SELECT id, id FROM products WHERE status = 'retired' AND status <> 'active' AND id < ?1
             ORDER BY id DESC LIMIT ?2",
            &[&before, &limit],
        )?,
        AdminListing::Matching { fts, sku, status } => {
            let mut found = ids(
                "SELECT f.rowid, f.rowid FROM products_fts f JOIN products p ON p.id = f.rowid
                 WHERE products_fts MATCH ?1 AND f.rowid < ?2 AND (?3 IS NULL OR p.status = ?3)
                 ORDER BY f.rowid DESC LIMIT ?4",
                &[fts, &before, status, &limit],
            )?;
            if before == i64::MAX {
                // a sku typed whole comes first
                let exact =
                    ids("SELECT id, id FROM products WHERE sku = ?1 AND (?2 IS NULL OR status = ?2)", &[sku, status])?;
                for e in exact {
                    if !found.contains(&e) {
                        found.insert(0, e);
                    }
                }
            }
            found
        }
        AdminListing::LowStock => ids(
            "SELECT v.product_id, i.variant_id FROM inventory i JOIN variants v ON v.id = i.variant_id
             WHERE i.available <= 5 AND i.variant_id < ?1 ORDER BY i.variant_id DESC LIMIT ?2",
            &[&before, &limit],
        )?,
    };
    let next = (rows.len() as i64 >= limit).then(|| rows.last().map(|(_, key)| *key)).flatten();
    let mut out: Vec<i64> = Vec::with_capacity(rows.len());
    for (id, _) in rows {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok((out, next))
}

pub fn category_exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM categories WHERE id = ?1)")?.query_row([id], |r| r.get(0))
}

pub fn brand_exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM brands WHERE id = ?1)")?.query_row([id], |r| r.get(0))
}

/// Whether a product other than `except` has this sku or this slug.
pub fn product_taken(conn: &Connection, sku: Option<&str>, slug: Option<&str>, except: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE (sku = ?1 OR slug = ?2) AND id <> ?3)")?
        .query_row(params![sku, slug, except], |r| r.get(0))
}

/// A new product as the admin API creates it.
pub struct NewProduct<'a> {
    pub sku: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub category_id: i64,
    pub brand_id: Option<i64>,
    pub base_price: i64,
    pub sale_price: Option<i64>,
    pub status: &'a str,
    pub weight_grams: i64,
    /// initial stock of its default variant
    pub quantity: i64,
}

/// Inserts a product with its default variant and that variant's stock; returns its id.
pub fn insert_product(tx: &WriteTx, p: &NewProduct<'_>, now: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO products(sku, slug, name, description, category_id, brand_id, base_price, sale_price,
                              status, weight_grams, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    )?
    .execute(params![
        p.sku,
        p.slug,
        p.name,
        p.description,
        p.category_id,
        p.brand_id,
        p.base_price,
        p.sale_price,
        p.status,
        p.weight_grams,
        now
    ])?;
    let id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO variants(product_id, sku, name, position, created_at) VALUES (?1, ?2, 'Default', 0, ?3)",
    )?
    .execute(params![id, p.sku, now])?;
    let variant = tx.last_insert_rowid();
    tx.prepare_cached("INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)")?
        .execute(params![variant, p.quantity, now])?;
    Ok(id)
}

/// The fields a change sets (absent: kept).
#[derive(Default)]
pub struct ProductChange<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub category_id: Option<i64>,
    pub brand_id: Option<i64>,
    pub status: Option<&'a str>,
    pub weight_grams: Option<i64>,
}

pub fn update_product(tx: &WriteTx, id: i64, c: &ProductChange<'_>, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE products SET name = coalesce(?2, name), description = coalesce(?3, description),
                slug = coalesce(?4, slug), category_id = coalesce(?5, category_id),
                brand_id = coalesce(?6, brand_id), status = coalesce(?7, status),
                weight_grams = coalesce(?8, weight_grams), updated_at = ?9
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        c.name,
        c.description,
        c.slug,
        c.category_id,
        c.brand_id,
        c.status,
        c.weight_grams,
        now
    ])?;
    Ok(())
}

/// Sets the units for sale of `variant` (a variant of `product`; default its first).
/// False when the product has no such variant.
pub fn set_available(
    tx: &WriteTx,
    product: i64,
    variant: Option<i64>,
    quantity: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    let variant: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM variants WHERE product_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY position, id LIMIT 1",
        )?
        .query_row(params![product, variant], |r| r.get(0))
        .optional()?;
    let Some(variant) = variant else { return Ok(false) };
    tx.prepare_cached(
        "INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)
         ON CONFLICT(variant_id) DO UPDATE SET available = excluded.available, updated_at = excluded.updated_at",
    )?
    .execute(params![variant, quantity, now])?;
    tx.prepare_cached("UPDATE products SET updated_at = ?2 WHERE id = ?1")?.execute(params![product, now])?;
    Ok(true)
}

/// Whether variant `variant` is one of product `product`'s.
pub fn variant_of(conn: &Connection, product: i64, variant: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM variants WHERE id = ?1 AND product_id = ?2)")?
        .query_row(params![variant, product], |r| r.get(0))
}

/// The variant with this SKU, or the first variant of the product with it.
pub fn variant_by_sku(conn: &Connection, sku: &str) -> rusqlite::Result<Option<i64>> {
    let variant: Option<i64> =
        conn.prepare_cached("SELECT id FROM variants WHERE sku = ?1")?.query_row([sku], |r| r.get(0)).optional()?;
    if variant.is_some() {
        return Ok(variant);
    }
    conn.prepare_cached(
        "SELECT v.id FROM products p JOIN variants v ON v.product_id = p.id WHERE p.sku = ?1 ORDER BY v.id LIMIT 1",
    )?
    .query_row([sku], |r| r.get(0))
    .optional()
}

/// Whether a variant other than `except` has this SKU.
pub fn variant_sku_taken(conn: &Connection, sku: &str, except: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM variants WHERE sku = ?1 AND id <> ?2)")?
        .query_row(params![sku, except], |r| r.get(0))
}

/// Whether another variant of `product` than `except` has exactly these options (by the
/// options' slugs and values; none is a set too: one variant without options).
pub fn variant_options_taken(
    conn: &Connection,
    product: i64,
    options: &[(String, String)],
    except: i64,
) -> rusqlite::Result<bool> {
    let key = |pairs: &mut Vec<(String, String)>| {
        pairs.sort();
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\u{1f}")
    };
    let wanted = key(&mut options.iter().map(|(k, v)| (crate::domain::slugify(k), v.clone())).collect());
    let mut stmt = conn.prepare_cached(
        "SELECT v.id, a.slug, av.value FROM variants v
         LEFT JOIN variant_attribute_values vav ON vav.variant_id = v.id
         LEFT JOIN attribute_values av ON av.id = vav.attribute_value_id
         LEFT JOIN attributes a ON a.id = av.attribute_id
         WHERE v.product_id = ?1 AND v.id <> ?2 ORDER BY v.id",
    )?;
    let mut sets: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    let mut rows = stmt.query(params![product, except])?;
    while let Some(r) = rows.next()? {
        let set = sets.entry(r.get(0)?).or_default();
        if let (Some(a), Some(v)) = (r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?) {
            set.push((a, v));
        }
    }
    Ok(sets.values_mut().any(|set| key(set) == wanted))
}

/// Adds a variant (last in order) with its stock; returns its id.
pub fn insert_variant(
    tx: &WriteTx,
    product: i64,
    sku: &str,
    name: &str,
    quantity: i64,
    now: i64,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO variants(product_id, sku, name, position, created_at)
         VALUES (?1, ?2, ?3, (SELECT coalesce(max(position), -1) + 1 FROM variants WHERE product_id = ?1), ?4)",
    )?
    .execute(params![product, sku, name, now])?;
    let variant = tx.last_insert_rowid();
    tx.prepare_cached("INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)")?
        .execute(params![variant, quantity, now])?;
    tx.prepare_cached("UPDATE products SET updated_at = ?2 WHERE id = ?1")?.execute(params![product, now])?;
    Ok(variant)
}

/// A variant's fields a change sets (absent: kept).
#[derive(Default)]
pub struct VariantChange<'a> {
    pub sku: Option<&'a str>,
    pub name: Option<&'a str>,
    /// Some(None): the product's price again; Some(Some((base, sale))): its own
    pub price: Option<Option<(i64, Option<i64>)>>,
}

pub fn update_variant(
    tx: &WriteTx,
    product: i64,
    variant: i64,
    c: &VariantChange<'_>,
    now: i64,
) -> rusqlite::Result<()> {
    let (set_price, base, sale) = match c.price {
        None => (false, None, None),
        Some(None) => (true, None, None),
        Some(Some((b, s))) => (true, Some(b), s),
    };
    tx.prepare_cached(
        "UPDATE variants SET sku = coalesce(?2, sku), name = coalesce(?3, name),
                base_price = CASE WHEN ?4 THEN ?5 ELSE base_price END,
                sale_price = CASE WHEN ?4 THEN ?6 ELSE sale_price END
         WHERE id = ?1",
    )?
    .execute(params![variant, c.sku, c.name, set_price, base, sale])?;
    tx.prepare_cached("UPDATE products SET updated_at = ?2 WHERE id = ?1")?.execute(params![product, now])?;
    Ok(())
}

/// Gives a variant exactly these options (name and value each; the option and the value
/// are made the first time a product uses them).
pub fn set_variant_options(tx: &WriteTx, variant: i64, options: &[(String, String)]) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM variant_attribute_values WHERE variant_id = ?1")?.execute([variant])?;
    for (name, value) in options {
        let slug = crate::domain::slugify(name);
        tx.prepare_cached("INSERT INTO attributes(name, slug) VALUES (?1, ?2) ON CONFLICT(slug) DO NOTHING")?
            .execute(params![name, slug])?;
        let attribute: i64 =
            tx.prepare_cached("SELECT id FROM attributes WHERE slug = ?1")?.query_row([&slug], |r| r.get(0))?;
        tx.prepare_cached(
            "INSERT INTO attribute_values(attribute_id, value) VALUES (?1, ?2) ON CONFLICT(attribute_id, value) DO NOTHING",
        )?
        .execute(params![attribute, value])?;
        let value: i64 = tx
            .prepare_cached("SELECT id FROM attribute_values WHERE attribute_id = ?1 AND value = ?2")?
            .query_row(params![attribute, value], |r| r.get(0))?;
        tx.prepare_cached(
            "INSERT INTO variant_attribute_values(variant_id, attribute_value_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![variant, value])?;
    }
    Ok(())
}

/// Sets a product's prices; the unit is noted as a price change only, so the commit
/// reaches the product's page, the lists showing it, price-ordered lists and searches.
pub fn set_price(tx: &WriteTx, id: i64, base: i64, sale: Option<i64>, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE products SET base_price = ?2, sale_price = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, base, sale, now])?;
    super::tags::note_price_only(tx, id);
    Ok(())
}
