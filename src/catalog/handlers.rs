//! Catalog endpoints: parse and validate the request at the boundary, read through the
//! pool (SQLite and JSON rendering both run on a reader thread, never on the async
//! workers), answer with a validator and public caching headers.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};

use super::model::*;
use super::store::{self, Filter, Slice};
use super::tags::Tag;
use super::{listing, search_index};
use crate::app::AppState;
use crate::cache::{Entry, Served};
use crate::domain::{is_slug, Id};
use crate::error::ApiError;
use crate::http::query_params;
use crate::http::{Caching, Choice, Negotiation, OneOf, Param, QueryParams, Rendered, Shape};
use crate::openapi::{Data, NotFound, NotModified, QueryErrors, ReadErrors};
use std::sync::Arc;

/// Offset pagination stops here; deeper pages are for cursors, whose cost does not grow.
pub const MAX_OFFSET: i64 = 10_000;
pub const MAX_PER_PAGE: i64 = 100;
const DEFAULT_PER_PAGE: i64 = 20;

fn public(app: &AppState) -> Caching {
    app.catalog_caching.clone()
}

/// A public catalog response through the response cache: `load` runs on a miss (it
/// returns the body and the tags it depends on beyond `tags`; see [`crate::cache`]).
///
/// The key is the path with the request's accepted parameters spelled canonically, so
/// reordered or re-encoded queries share one entry. The server's fast path looks up the
/// raw target, which is that key whenever the client spelled it canonically (the usual
/// case: one front end, one spelling); other spellings come here and hit the same entry.
async fn entry(
    app: &AppState,
    uri: &Uri,
    canonical: &crate::http::query::Canonical,
    tags: &[Tag],
    load: impl std::future::Future<Output = Result<(Vec<u8>, Vec<Tag>), ApiError>>,
) -> Result<(Arc<Entry>, Served), ApiError> {
    let key = canonical.key(uri.path());
    let names: Vec<&str> = tags.iter().map(|t| t.name().expect("the tags of a kind of response name no row")).collect();
    // a language chosen by Accept-Language is in the key but not in the request's target:
    // that target names the default language's entry, never this one
    let raw =
        uri.path_and_query().map(|p| p.as_str()).filter(|raw| *raw != key && !canonical.negotiated).map(str::to_owned);
    let (entry, served) = app
        .cache
        .get_or_load(key, &names, async move {
            load.await.map(|(body, extra)| (Rendered::new(body), extra.iter().map(Tag::to_string).collect()))
        })
        .await?;
    if let Some(raw) = raw {
        // a client that spells its queries its own way keeps the fast path too
        app.cache.alias(&raw, &entry);
    }
    Ok((entry, served))
}

/// A cached catalog response as clients get it — from the handlers above and from the
/// server's fast path for hits alike: the body negotiated (gzip, 304), the catalog's
/// `Cache-Control`, and `X-Cache` when the debug header is on.
pub fn respond_cached<B: From<bytes::Bytes> + Default>(
    app: &AppState,
    rendered: &Rendered,
    neg: &Negotiation,
    served: Served,
) -> axum::http::Response<B> {
    let caching = match rendered.media {
        crate::http::Media::Json => public(app),
        crate::http::Media::Html => crate::http::Caching::Revalidate,
    };
    let mut resp = rendered.respond(neg, caching);
    // (a comma: more than one language; a cheap test on every cached answer)
    let live = app.live();
    let languages = live.locales.contains(',');
    // a page's currency is the shopper's choice, a cookie (the API's is in the query)
    let groups =
        app.group_prices.any() || (rendered.media == crate::http::Media::Html && live.currencies.contains(','));
    if languages || groups {
        // the language may come from Accept-Language (and a page's from the shopper's
        // choice, a cookie), a customer group's prices from the token (a page's session
        // cookie): shared caches must keep them apart
        let vary = match (rendered.media, languages, groups) {
            (crate::http::Media::Json, true, false) => "accept-encoding, accept-language",
            (crate::http::Media::Json, false, _) => "accept-encoding, authorization",
            (crate::http::Media::Json, true, true) => "accept-encoding, accept-language, authorization",
            (crate::http::Media::Html, true, _) => "accept-encoding, accept-language, cookie",
            (crate::http::Media::Html, false, _) => "accept-encoding, cookie",
        };
        resp.headers_mut().insert(axum::http::header::VARY, axum::http::HeaderValue::from_static(vary));
    }
    if app.config.cache_debug_header {
        resp.headers_mut().insert("x-cache", axum::http::HeaderValue::from_static(served.header()));
    }
    resp
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("catalog values always serialize")
}

/// `{"data": [...], "meta": {...}}`
#[derive(Serialize)]
struct Page<T, M> {
    data: T,
    meta: M,
}

/// A product list: plain summaries, or JSON objects cut down to a sparse fieldset.
#[derive(Serialize)]
#[serde(untagged)]
enum Products {
    Full(Vec<ProductSummary>),
    Sparse(Vec<Value>),
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request("invalid_cursor", "the cursor is malformed, expired or belongs to another list")
}

fn unknown(field: &str, what: &str) -> ApiError {
    let mut fields = BTreeMap::new();
    fields.insert(field.to_owned(), format!("no {what} with this slug"));
    ApiError::validation(fields)
}

/// Filters shared by product lists and search, as sent (slugs not yet resolved).
struct FilterParams {
    category: Option<String>,
    brand: Option<String>,
    min_price: Option<i64>,
    max_price: Option<i64>,
    in_stock: bool,
}

fn filter_params(q: &mut QueryParams) -> FilterParams {
    let category = q.text(&CATEGORY);
    let brand = q.text(&BRAND);
    let min_price = q.int(&MIN_PRICE);
    let max_price = q.int(&MAX_PRICE);
    if let (Some(min), Some(max)) = (min_price, max_price) {
        if min > max {
            q.error("min_price", "must not be greater than max_price");
            q.error("max_price", "must not be less than min_price");
        }
    }
    let in_stock = q.flag(&IN_STOCK);
    FilterParams { category, brand, min_price, max_price, in_stock }
}

/// Resolves slugs to ids; an unknown slug is a 422 naming the field.
/// In `locale`, a slug may be a translation's too.
fn resolve(
    conn: &rusqlite::Connection,
    f: FilterParams,
    fts: Option<String>,
    locale: Option<String>,
    pricing: &Pricing,
) -> Result<Filter, ApiError> {
    let l = locale.as_deref();
    let category = match &f.category {
        Some(s) => Some(
            (if is_slug(s) { store::category_id(conn, s, l)? } else { None })
                .ok_or_else(|| unknown("category", "category"))?,
        ),
        None => None,
    };
    let brand = match &f.brand {
        Some(s) => Some(
            (if is_slug(s) { store::brand_id(conn, s, l)? } else { None }).ok_or_else(|| unknown("brand", "brand"))?,
        ),
        None => None,
    };
    Ok(Filter {
        category,
        brand,
        min_price: f.min_price,
        max_price: f.max_price,
        in_stock: f.in_stock,
        fts,
        locale,
        market: pricing.market(conn)?,
        default_currency: pricing.default_currency(),
    })
}

const CURRENCY: Param = Param::raw_matching("currency", 3, crate::domain::currencies::PATTERN, |s| {
    crate::domain::Currency::parse(s).map(drop).ok_or_else(|| "must be a currency code (3 capital letters)".to_owned())
})
.doc(
    "the currency of prices: one the shop sells in (`GET /api/currencies`, else 422); without it, the default. \
     Prices, price filters, price sorts and price facets are in it",
);

/// What the prices of an answer depend on: its currency and the shopper's customer groups
/// (see [`super::prices`]).
#[derive(Debug, Clone)]
pub struct Pricing {
    setting: String,
    currency: Option<String>,
    groups: Vec<i64>,
}

impl Pricing {
    /// The prices in `currency` (an enabled one; `None`: the default) for a shopper in `groups`.
    pub fn new(app: &AppState, currency: Option<String>, groups: Vec<i64>) -> Pricing {
        Pricing { setting: app.live().currencies.clone(), currency, groups }
    }

    /// The market now (`None`: products' own prices as stored).
    pub fn market(&self, conn: &rusqlite::Connection) -> rusqlite::Result<Option<super::prices::Market>> {
        let m = super::prices::Market::load(
            conn,
            &self.setting,
            self.currency.as_deref(),
            &self.groups,
            crate::util::now_ms(),
        )?;
        Ok((!m.is_plain()).then_some(m))
    }

    /// The shop's default currency: of products' own prices.
    pub fn default_currency(&self) -> crate::domain::Currency {
        crate::domain::currencies::default_of(&self.setting)
    }
}

/// The currency a request asks for (`currency=`; 422 for one the shop does not sell in).
pub fn currency_of(app: &AppState, q: &mut QueryParams) -> Option<String> {
    super::prices::currency_in(app, q, &CURRENCY)
}

/// The prices of a catalog answer: in the currency asked for, for the shopper's customer
/// groups with price lists — a page's session's, or the bearer token's (an unknown or
/// ended one is a guest's: catalog answers are public). The groups are in the cache key,
/// never in the request's own target (see [`QueryParams::negotiate`]).
async fn pricing_of(app: &AppState, q: &mut QueryParams) -> Result<Pricing, ApiError> {
    let currency = currency_of(app, q);
    let groups = match (q.groups(), q.bearer()) {
        (Some(g), _) => g.to_vec(),
        (None, Some(token)) => {
            let hash = crate::auth::token_hash(token);
            let now = crate::util::now_ms();
            app.db
                .read(move |conn| super::prices::priced_groups_of_token(conn, &hash, now).map_err(ApiError::from))
                .await?
        }
        (None, None) => Vec::new(),
    };
    if !groups.is_empty() {
        q.negotiate("groups", groups.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(","));
    }
    Ok(Pricing::new(app, currency, groups))
}

/// The language of a catalog answer (see [`QueryParams::locale`]).
fn locale_of(app: &AppState, q: &mut QueryParams) -> Option<String> {
    let live = app.live();
    q.locale(&LOCALE, &crate::domain::locale::enabled(&live.locales))
}

enum Paging {
    Offset {
        page: i64,
    },
    /// `cursor` given: keyset pagination (an empty cursor is the first page)
    Keyset(Option<Cursor>),
}

fn paging(q: &mut QueryParams, scope: &str, per_page: i64) -> Result<Paging, ApiError> {
    let keyset = q.has(CURSOR.name);
    let cursor = q.raw(&CURSOR);
    let page = q.int(&PAGE);
    if keyset {
        if page.is_some() {
            q.error("page", "use either page or cursor, not both");
        }
        return match cursor.as_deref() {
            None | Some("") => Ok(Paging::Keyset(None)),
            Some(token) => Cursor::decode(token, scope).map(|c| Paging::Keyset(Some(c))).ok_or_else(bad_cursor),
        };
    }
    let page = page.unwrap_or(1);
    if (page - 1) * per_page >= MAX_OFFSET {
        q.error("page", format!("offset pagination ends at item {MAX_OFFSET}; use cursor pagination to go deeper"));
    }
    Ok(Paging::Offset { page })
}

fn fields_param(q: &mut QueryParams) -> Option<Vec<String>> {
    let raw = q.text(&FIELDS)?;
    let mut fields = Vec::new();
    for f in raw.split(',').map(str::trim) {
        if !SUMMARY_FIELDS.contains(&f) {
            q.error("fields", format!("unknown field {f:?}; known: {}", SUMMARY_FIELDS.join(", ")));
            return None;
        }
        if !fields.iter().any(|x| x == f) {
            fields.push(f.to_owned());
        }
    }
    if fields.is_empty() {
        q.error("fields", "name at least one field");
        return None;
    }
    Some(fields)
}

/// `fields` as a bit per entry of [`SUMMARY_FIELDS`] (all bits when not given).
fn field_mask(fields: &Option<Vec<String>>) -> u32 {
    match fields {
        None => (1 << SUMMARY_FIELDS.len()) - 1,
        Some(f) => {
            SUMMARY_FIELDS.iter().enumerate().filter(|(_, n)| f.iter().any(|x| x == *n)).fold(0, |m, (i, _)| m | 1 << i)
        }
    }
}

/// Closes `{"data":[...]` with `,"meta":{...}}`.
/// The tag of each product a response shows.
fn product_tags(ids: &[i64]) -> Vec<Tag> {
    ids.iter().map(|id| Tag::Product(*id)).collect()
}

fn finish_page<M: Serialize>(mut out: Vec<u8>, meta: &M) -> Result<Vec<u8>, ApiError> {
    out.extend_from_slice(b",\"meta\":");
    serde_json::to_writer(&mut out, meta).expect("writing to a Vec cannot fail");
    out.push(b'}');
    Ok(out)
}

/// Products, restricted to `fields` when given.
fn render_products(items: Vec<ProductSummary>, fields: &Option<Vec<String>>) -> Products {
    match fields {
        None => Products::Full(items),
        Some(fields) => Products::Sparse(
            items
                .into_iter()
                .map(|p| {
                    let Value::Object(mut m) = serde_json::to_value(p).expect("summaries serialize") else {
                        unreachable!("a struct serializes to an object")
                    };
                    m.retain(|k, _| fields.iter().any(|f| f == k));
                    Value::Object(m)
                })
                .collect(),
        ),
    }
}

// --- parameters: each read through its constant, which the document states ------------------

impl Choice for Sort {
    fn choices() -> Vec<(&'static str, Sort)> {
        Sort::CHOICES.to_vec()
    }
}

/// The order of search results: relevance (`None`) or one of the list sorts.
impl Choice for Option<Sort> {
    fn choices() -> Vec<(&'static str, Option<Sort>)> {
        std::iter::once(("relevance", None)).chain(Sort::CHOICES.iter().map(|(n, s)| (*n, Some(*s)))).collect()
    }
}

const CATEGORY: Param = Param::text("category", 200, Shape::Line)
    .doc("category slug; products of its sub-categories are included; a slug that names no category is 422");
const BRAND: Param = Param::text("brand", 200, Shape::Line).doc("brand slug; a slug that names no brand is 422");
/// The highest price a filter takes: what an `i32` of major units holds, in minor units.
const PRICE_MAX: i64 = 2_147_483_647_000;
const MIN_PRICE: Param = Param::int("min_price", 0, PRICE_MAX).doc("lowest current price, minor units");
const MAX_PRICE: Param =
    Param::int("max_price", 0, PRICE_MAX).doc("highest current price, minor units; below min_price is 422");
const IN_STOCK: Param = Param::flag("in_stock").doc("only products with stock (true, false, 1 or 0)");
const LIST_Q: Param = Param::text("q", 200, Shape::Words).doc(
    "full-text filter: every word required, the last also as a prefix; at least one letter or digit (blank: no filter)",
);
const SORT: OneOf<Sort> = OneOf::defaulted("sort", "");
const PAGE: Param = Param::int("page", 1, MAX_OFFSET).doc(
    "offset pagination, from 1; offset pages stop at item 10,000 (page × per_page); not together with cursor (422)",
);
const PER_PAGE: Param = Param::int("per_page", 1, MAX_PER_PAGE).default(DEFAULT_PER_PAGE).doc("page size");
const CURSOR: Param = Param::raw("cursor", 200).doc(
    "keyset pagination: a meta.next_cursor or meta.prev_cursor of this list and sort, or empty for the first page; \
     its cost does not grow with depth; not together with page. A cursor of another list or sort is 400 invalid_cursor",
);
const FIELDS: Param = Param::text("fields", 500, Shape::List(SUMMARY_FIELDS))
    .doc("sparse fieldset: comma-separated fields of the summary (blank: all)");
const SEARCH_Q: Param =
    Param::text("q", 200, Shape::Words).required().doc("the search text: at least one letter or digit");
const SEARCH_SORT: OneOf<Option<Sort>> = OneOf::defaulted(
    "sort",
    "relevance: products matched without a typo first, then with one, then two; among those, every word in the \
     name first, then in name, brand or category, then anywhere (description too); ties by units sold",
);
const TYPOS: Param = Param::int("typos", 0, 2).default(2).doc(
    "the most typos a word of `q` may have and still match: a word of 5 letters or more may have one, of 9 or more \
     two (a letter added, missed, changed or two swapped; one on the first letter counts twice); 0 turns it off",
);
const SEARCH_PAGE: Param =
    Param::int("page", 1, MAX_SEARCH_DEPTH).default(1).doc("from 1; results stop at item 1,000 (page × per_page)");
const REVIEWS_CURSOR: Param = Param::raw("cursor", 200)
    .doc("a meta.next_cursor or meta.prev_cursor of this product's reviews; a malformed one is 400 invalid_cursor");
const REVIEWS_PER_PAGE: Param = Param::int("per_page", 1, 50).default(10);
const DAYS: Param = Param::int("days", 1, 365).default(30).doc("the window in days");
const LIMIT: Param = Param::int("limit", 1, MAX_PER_PAGE).default(DEFAULT_PER_PAGE).doc("how many");
const LOCALE: Param = Param::text("locale", 6, Shape::Locale).doc(
    "the language of names, descriptions and slugs: one of the shop's (the `locales` setting); without it, \
     `Accept-Language` chooses; a language the shop lacks falls back to its own language's tag (de-AT to de), else \
     to the default; a text without a translation shows the default's",
);

query_params!(
    /// Filters of product lists and search.
    pub struct FilterQuery [CATEGORY, BRAND, MIN_PRICE, MAX_PRICE, IN_STOCK, LOCALE, CURRENCY]
);
query_params!(
    /// The language and currency of a catalog answer with prices.
    pub struct ProductQuery [LOCALE, CURRENCY]
);
query_params!(
    /// The language of a catalog answer.
    pub struct LocaleQuery [LOCALE]
);
query_params!(
    /// `GET /api/products` beyond the filters.
    pub struct ListQuery [LIST_Q, TYPOS, SORT.param, PAGE, PER_PAGE, CURSOR, FIELDS]
);
query_params!(
    /// `GET /api/search` beyond the filters.
    pub struct SearchQuery [SEARCH_Q, TYPOS, SEARCH_SORT.param, SEARCH_PAGE, PER_PAGE]
);
query_params!(
    /// `GET /api/products/{slug}/reviews`
    pub struct ReviewsQuery [REVIEWS_CURSOR, REVIEWS_PER_PAGE]
);
query_params!(
    /// `GET /api/products/bestsellers`
    pub struct BestsellersQuery [DAYS, LIMIT, LOCALE, CURRENCY]
);

/// List products
///
/// Filters combine; offset pagination (`page`, with `meta.total` and `meta.last_page`) or
/// keyset pagination (`cursor`, with `meta.next_cursor`, `prev_cursor`, `has_more`).
#[utoipa::path(get, path = "/api/products", tag = "catalog", security(()),
    params(FilterQuery, ListQuery),
    responses((status = 200, description = "a page of products", body = ProductPage), NotModified, QueryErrors, ReadErrors))]
pub async fn list_products(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = list_products_entry(&app, &uri, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`list_products`]'s cached answer (the web pages read it too).
pub async fn list_products_entry(
    app: &AppState,
    uri: &Uri,
    mut q: QueryParams,
) -> Result<(Arc<Entry>, Served), ApiError> {
    let filters = filter_params(&mut q);
    let locale = locale_of(app, &mut q);
    let pricing = Box::pin(pricing_of(app, &mut q)).await?;
    let typos = q.int_or_default(&TYPOS) as u8;
    let terms = match q.text(&LIST_Q) {
        Some(text) => match SearchTerms::parse(&text) {
            Some(t) => Some(SearchTerms { typos, ..t }),
            None => {
                q.error("q", "must contain at least one letter or digit");
                None
            }
        },
        None => None,
    };
    let has_q = terms.is_some();
    let sort = q.one_of_or_default(&SORT);
    let per_page = q.int_or_default(&PER_PAGE);
    let fields = fields_param(&mut q);
    let paging = paging(&mut q, sort.name(), per_page);
    let canonical = q.finish()?;
    let paging = paging?;
    // what the page depends on beyond the products it shows (see cache::tags_of)
    let by_price =
        matches!(sort, Sort::PriceAsc | Sort::PriceDesc) || filters.min_price.is_some() || filters.max_price.is_some();
    let mut tags = vec![Tag::Catalog, Tag::Listing];
    if has_q {
        tags.extend([Tag::ListingByPrice, Tag::Search]);
    } else if by_price {
        tags.push(Tag::ListingByPrice);
    }
    if filters.in_stock {
        tags.push(Tag::ListingStock);
    }
    if sort == Sort::Popular {
        tags.push(Tag::ListingSales);
    }

    let db = app.db.clone();
    let index = app.search.clone();
    let load = async move {
        let body = db
            .read(move |conn| {
                let filter = resolve(conn, filters, terms.as_ref().map(|t| t.fts_query()), locale, &pricing)?;
                let mask = field_mask(&fields);
                let mut out = Vec::with_capacity(4096 + per_page as usize * 640);
                out.extend_from_slice(b"{\"data\":");
                let offset = matches!(paging, Paging::Offset { .. });
                let slice = match &paging {
                    Paging::Offset { page } => listing::Slice::Offset(((page - 1) * per_page) as usize),
                    Paging::Keyset(None) => listing::Slice::Offset(0),
                    Paging::Keyset(Some(c)) if c.before => listing::Slice::Before(c.key, c.id),
                    Paging::Keyset(Some(c)) => listing::Slice::After(c.key, c.id),
                };
                let ask = listing::Ask {
                    sort,
                    slice,
                    limit: per_page as usize,
                    with_total: offset,
                    strategy: listing::Strategy::Auto,
                };
                // the page written to `out`: the ids shown, (key, id) of its first and last
                // rows, whether more lie beyond it in the direction of travel, the total
                let (ids, first, last, more, total) = match index.list(conn, &filter, terms.as_ref(), &ask)? {
                    // the in-memory listing (see catalog::listing)
                    Some(p) => {
                        let ids: Vec<i64> = p.rows.iter().map(|(id, _)| *id).collect();
                        let written = store::write_products_by_ids(
                            conn,
                            &ids,
                            mask,
                            filter.locale.as_deref(),
                            filter.market.as_ref(),
                            filter.default_currency,
                            &mut out,
                        )?;
                        let first = p.rows.first().map(|&(id, k)| (k, id));
                        let last = p.rows.last().map(|&(id, k)| (k, id));
                        (written, first, last, p.more, p.total.map(|t| t as i64))
                    }
                    // SQLite until the index is built
                    None => match &paging {
                        Paging::Keyset(Some(c)) if c.before => {
                            // walking back: rows come in reverse and are turned around first
                            let before = Slice::Before { key: c.key, id: c.id };
                            let (rows, more) = store::list_products(conn, &filter, sort, before, per_page)?;
                            let first = rows.first().map(|(p, k)| (*k, p.id.0));
                            let last = rows.last().map(|(p, k)| (*k, p.id.0));
                            let ids = rows.iter().map(|(p, _)| p.id.0).collect();
                            let items = rows.into_iter().map(|(p, _)| p).collect();
                            serde_json::to_writer(&mut out, &render_products(items, &fields))
                                .expect("catalog values always serialize");
                            (ids, first, last, more, None)
                        }
                        _ => {
                            let slice = match &paging {
                                Paging::Offset { page } => Slice::Offset((page - 1) * per_page),
                                Paging::Keyset(Some(c)) => Slice::After { key: c.key, id: c.id },
                                Paging::Keyset(None) => Slice::Offset(0),
                            };
                            let w = store::write_products(conn, &filter, sort, slice, per_page, mask, &mut out)?;
                            let total = if offset { Some(store::count_products(conn, &filter)?) } else { None };
                            (w.ids, w.first, w.last, w.more, total)
                        }
                    },
                };
                let cursor = |before: bool| {
                    move |(key, id): (i64, i64)| Cursor { scope: sort.name().into(), before, key, id }.encode()
                };
                let body = match &paging {
                    Paging::Offset { page } => {
                        let total = total.unwrap_or_default();
                        let meta = OffsetMeta {
                            current_page: *page,
                            per_page,
                            total,
                            last_page: ((total + per_page - 1) / per_page).max(1),
                            next_cursor: if more { last.map(cursor(false)) } else { None },
                        };
                        finish_page(out, &meta)
                    }
                    Paging::Keyset(from) => {
                        let (next_cursor, prev_cursor) = if from.as_ref().is_some_and(|c| c.before) {
                            (last.map(cursor(false)), if more { first.map(cursor(true)) } else { None })
                        } else {
                            (
                                if more { last.map(cursor(false)) } else { None },
                                if from.is_some() { first.map(cursor(true)) } else { None },
                            )
                        };
                        finish_page(
                            out,
                            &KeysetMeta { per_page, has_more: next_cursor.is_some(), next_cursor, prev_cursor },
                        )
                    }
                };
                body.map(|b| (b, ids))
            })
            .await?;
        Ok((body.0, product_tags(&body.1)))
    };
    entry(app, uri, &canonical, &tags, load).await
}

fn slug_param(
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    what: &str,
) -> Result<String, ApiError> {
    match slug {
        Ok(Path(s)) if is_slug(&s) => Ok(s),
        // a slug that cannot exist (bad characters, invalid UTF-8, too long) is simply not found
        _ => Err(ApiError::not_found(what)),
    }
}

/// One product
///
/// With category, brand, images, options, variants (`in_stock`, never counts), rating
/// summary and the 10 newest approved reviews.
#[utoipa::path(get, path = "/api/products/{slug}", tag = "catalog", security(()),
    params(("slug" = String, Path, description = "the product's slug (in the language asked for, or its own)"), ProductQuery),
    responses((status = 200, description = "the product", body = Data<ProductDetail>), NotModified, NotFound, QueryErrors, ReadErrors))]
pub async fn product(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = product_entry(&app, &uri, slug, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`product`]'s cached answer (the web pages read it too).
pub async fn product_entry(
    app: &AppState,
    uri: &Uri,
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    mut q: QueryParams,
) -> Result<(Arc<Entry>, Served), ApiError> {
    let locale = locale_of(app, &mut q);
    let pricing = Box::pin(pricing_of(app, &mut q)).await?;
    let canonical = q.finish()?;
    let slug = slug_param(slug, "product")?;
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| {
                match store::product_detail(
                    conn,
                    &slug,
                    locale.as_deref(),
                    pricing.market(conn)?.as_ref(),
                    pricing.default_currency(),
                )? {
                    Some(p) => {
                        let mut tags = vec![Tag::Product(p.id.0)];
                        tags.extend(p.variants.iter().map(|v| Tag::Variant(v.id.0)));
                        Ok((to_json(&Data { data: p }), tags))
                    }
                    None => Err(ApiError::not_found("product")),
                }
            })
            .await?;
        Ok(body)
    };
    entry(app, uri, &canonical, &[Tag::Catalog, Tag::Reviews], load).await
}

/// Approved reviews of a product, newest first, keyset-paginated
#[utoipa::path(get, path = "/api/products/{slug}/reviews", tag = "catalog", security(()),
    params(("slug" = String, Path, description = "the product's slug"), ReviewsQuery),
    responses((status = 200, description = "a page of reviews", body = ReviewPage), NotModified, NotFound, QueryErrors, ReadErrors))]
pub async fn product_reviews(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = product_reviews_entry(&app, &uri, slug, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`product_reviews`]'s cached answer (the web pages read it too).
pub async fn product_reviews_entry(
    app: &AppState,
    uri: &Uri,
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    mut q: QueryParams,
) -> Result<(Arc<Entry>, Served), ApiError> {
    let per_page = q.int_or_default(&REVIEWS_PER_PAGE);
    let cursor = q.raw(&REVIEWS_CURSOR).filter(|c| !c.is_empty());
    let canonical = q.finish()?;
    let slug = slug_param(slug, "product")?;
    let cursor = match cursor {
        Some(token) => Some(Cursor::decode(&token, "reviews").ok_or_else(bad_cursor)?),
        None => None,
    };
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| {
                let (pid, total) = store::product_id(conn, &slug)?.ok_or_else(|| ApiError::not_found("product"))?;
                let slice = cursor.as_ref().map(|c| {
                    if c.before {
                        Slice::Before { key: c.key, id: c.id }
                    } else {
                        Slice::After { key: c.key, id: c.id }
                    }
                });
                let backwards = matches!(slice, Some(Slice::Before { .. }));
                let (rows, more) = store::reviews(conn, pid, slice, per_page)?;
                let (has_next, has_prev) = if backwards { (true, more) } else { (more, cursor.is_some()) };
                let enc = |r: &Review, before: bool| {
                    Cursor { scope: "reviews".into(), before, key: r.created_at.0, id: r.id.0 }.encode()
                };
                let next_cursor = if has_next { rows.last().map(|r| enc(r, false)) } else { None };
                let prev_cursor = if has_prev { rows.first().map(|r| enc(r, true)) } else { None };
                let meta = json!({"per_page": per_page, "total": total, "has_more": next_cursor.is_some(),
                              "next_cursor": next_cursor, "prev_cursor": prev_cursor});
                Ok::<_, ApiError>(to_json(&Page { data: rows, meta }))
            })
            .await?;
        Ok((body, Vec::new()))
    };
    entry(app, uri, &canonical, &[Tag::Catalog, Tag::Reviews], load).await
}

/// Top sellers by units sold in the last `days`
///
/// Precomputed for every window: a sale shows here within `bestsellers_refresh_secs` (60 s
/// by default); ties by product id.
#[utoipa::path(get, path = "/api/products/bestsellers", tag = "catalog", security(()),
    params(BestsellersQuery),
    responses((status = 200, description = "best sellers, most units first", body = BestsellerPage), NotModified, QueryErrors, ReadErrors))]
pub async fn bestsellers(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = bestsellers_entry(&app, &uri, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`bestsellers`]'s cached answer (the web pages read it too).
pub async fn bestsellers_entry(
    app: &AppState,
    uri: &Uri,
    mut q: QueryParams,
) -> Result<(Arc<Entry>, Served), ApiError> {
    let limit = q.int_or_default(&LIMIT);
    let days = q.int_or_default(&DAYS);
    let locale = locale_of(app, &mut q);
    let pricing = Box::pin(pricing_of(app, &mut q)).await?;
    let canonical = q.finish()?;
    let today = crate::util::now_ms().div_euclid(crate::util::DAY_MS);
    let board = app.bestsellers.for_day(today);
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| {
                let market = pricing.market(conn)?;
                let (m, default) = (market.as_ref(), pricing.default_currency());
                let top = match board {
                    Some(board) => {
                        let top = board.top(days);
                        let units: HashMap<i64, i64> = top.iter().copied().collect();
                        // retired products are left out: read a few more than the page, and the
                        // rest of the board only when that is not enough
                        let ids: Vec<i64> = top.iter().map(|(id, _)| *id).collect();
                        let first = ids.len().min(limit as usize + 5);
                        let l = locale.as_deref();
                        let mut shown = store::summaries_by_ids(conn, &ids[..first], l, m, default)?;
                        if shown.len() < limit as usize && first < ids.len() {
                            shown.extend(store::summaries_by_ids(conn, &ids[first..], l, m, default)?);
                        }
                        shown
                            .into_iter()
                            .take(limit as usize)
                            .map(|p| Bestseller { units_sold: units[&p.id.0], product: p })
                            .collect()
                    }
                    None => store::bestsellers(conn, today - days + 1, limit, locale.as_deref(), m, default)?,
                };
                let ids: Vec<i64> = top.iter().map(|b| b.product.id.0).collect();
                Ok::<_, ApiError>((to_json(&Page { data: top, meta: json!({"days": days, "limit": limit}) }), ids))
            })
            .await?;
        Ok((body.0, product_tags(&body.1)))
    };
    entry(app, uri, &canonical, &[Tag::Catalog, Tag::Listing, Tag::Bestsellers], load).await
}

/// The category tree
///
/// `product_count` includes sub-categories.
#[utoipa::path(get, path = "/api/categories", tag = "catalog", security(()),
    params(LocaleQuery),
    responses((status = 200, description = "the tree", body = Data<Vec<CategoryNode>>), NotModified, QueryErrors, ReadErrors))]
pub async fn categories(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = categories_entry(&app, &uri, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`categories`]'s cached answer (the web pages read it too).
pub async fn categories_entry(app: &AppState, uri: &Uri, mut q: QueryParams) -> Result<(Arc<Entry>, Served), ApiError> {
    let locale = locale_of(app, &mut q);
    let canonical = q.finish()?;
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| {
                let rows = store::categories_in(conn, true, locale.as_deref())?;
                Ok::<_, ApiError>(to_json(&Data { data: build_tree(&rows) }))
            })
            .await?;
        Ok((body, Vec::new()))
    };
    entry(app, uri, &canonical, &[Tag::Catalog, Tag::Categories], load).await
}

fn build_tree(rows: &[store::CategoryRow]) -> Vec<CategoryNode> {
    let mut children: HashMap<Option<i64>, Vec<&store::CategoryRow>> = HashMap::new();
    for r in rows {
        children.entry(r.parent_id).or_default().push(r);
    }
    fn node(
        r: &store::CategoryRow,
        children: &HashMap<Option<i64>, Vec<&store::CategoryRow>>,
        depth: usize,
    ) -> CategoryNode {
        let kids: Vec<CategoryNode> = if depth > 64 {
            Vec::new() // a cycle cannot come from the API, but never recurse without end
        } else {
            children
                .get(&Some(r.id))
                .map(|v| v.iter().map(|c| node(c, children, depth + 1)).collect())
                .unwrap_or_default()
        };
        CategoryNode {
            id: Id(r.id),
            name: r.name.clone(),
            slug: r.slug.clone(),
            description: r.description.clone(),
            depth: r.depth,
            product_count: r.own_count + kids.iter().map(|k| k.product_count).sum::<i64>(),
            children: kids,
        }
    }
    children.get(&None).map(|roots| roots.iter().map(|r| node(r, &children, 0)).collect()).unwrap_or_default()
}

/// One category with its parent, path and children
#[utoipa::path(get, path = "/api/categories/{slug}", tag = "catalog", security(()),
    params(("slug" = String, Path, description = "the category's slug (in the language asked for, or its own)"), LocaleQuery),
    responses((status = 200, description = "the category", body = Data<CategoryDetail>), NotModified, NotFound, QueryErrors, ReadErrors))]
pub async fn category(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = category_entry(&app, &uri, slug, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`category`]'s cached answer (the web pages read it too).
pub async fn category_entry(
    app: &AppState,
    uri: &Uri,
    slug: Result<Path<String>, axum::extract::rejection::PathRejection>,
    mut q: QueryParams,
) -> Result<(Arc<Entry>, Served), ApiError> {
    let locale = locale_of(app, &mut q);
    let canonical = q.finish()?;
    let slug = slug_param(slug, "category")?;
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| match store::category_detail(conn, &slug, locale.as_deref())? {
                Some(c) => Ok(to_json(&Data { data: c })),
                None => Err(ApiError::not_found("category")),
            })
            .await?;
        Ok((body, Vec::new()))
    };
    entry(app, uri, &canonical, &[Tag::Catalog, Tag::Categories], load).await
}

/// All brands with their product counts
#[utoipa::path(get, path = "/api/brands", tag = "catalog", security(()),
    params(LocaleQuery),
    responses((status = 200, description = "brands", body = Data<Vec<Brand>>), NotModified, QueryErrors, ReadErrors))]
pub async fn brands(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = brands_entry(&app, &uri, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`brands`]'s cached answer (the web pages read it too).
pub async fn brands_entry(app: &AppState, uri: &Uri, mut q: QueryParams) -> Result<(Arc<Entry>, Served), ApiError> {
    let locale = locale_of(app, &mut q);
    let canonical = q.finish()?;
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| Ok::<_, ApiError>(to_json(&Data { data: store::brands(conn, locale.as_deref())? })))
            .await?;
        Ok((body, Vec::new()))
    };
    entry(app, uri, &canonical, &[Tag::Catalog, Tag::Brands], load).await
}

/// A currency the shop sells in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CurrencyOut {
    /// ISO 4217
    #[schema(pattern = "^[A-Z]{3}$")]
    pub code: String,
    /// whether it is the default: products' own prices are in it
    pub default: bool,
    /// minor units of it per minor unit of the default (`"0.92"`; the default's is `"1"`),
    /// a decimal as text: the default's prices convert at it, rounded half up, for each
    /// product without a price list's price in it
    #[schema(pattern = "^([1-9][0-9]{0,5}(\\.[0-9]{1,6})?|0\\.[0-9]{0,5}[1-9])$")]
    pub rate: String,
}

/// The currencies the shop sells in
///
/// The default first. Catalog answers, carts and search take one as `currency=` (422 for
/// any other); carts and orders keep theirs.
#[utoipa::path(get, path = "/api/currencies", tag = "catalog", security(()),
    responses((status = 200, description = "the currencies", body = Data<Vec<CurrencyOut>>), NotModified, QueryErrors,
        ReadErrors))]
pub async fn currencies(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let canonical = q.finish()?;
    let setting = app.live().currencies.clone();
    let load = async move {
        let list: Vec<CurrencyOut> = crate::domain::currencies::enabled(&setting)
            .iter()
            .enumerate()
            .map(|(i, e)| CurrencyOut { code: e.code.as_str().to_owned(), default: i == 0, rate: e.rate() })
            .collect();
        Ok((to_json(&Data { data: list }), Vec::new()))
    };
    let (entry, served) = entry(&app, &uri, &canonical, &[Tag::Catalog], load).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// Price bands of the search facets, in minor units: [lower, upper).
pub const PRICE_BANDS: &[(i64, Option<i64>)] = &[
    (0, Some(1_000)),
    (1_000, Some(2_500)),
    (2_500, Some(5_000)),
    (5_000, Some(10_000)),
    (10_000, Some(25_000)),
    (25_000, Some(50_000)),
    (50_000, None),
];

/// Search results are ranked in memory; pages stop at this depth.
const MAX_SEARCH_DEPTH: i64 = 1_000;

/// Full-text search with facets
///
/// Over name, description, brand and category. Facets count every match: per category
/// (rolled up to its ancestors), per brand (the top 50), per price band.
#[utoipa::path(get, path = "/api/search", tag = "catalog", security(()),
    params(SearchQuery, FilterQuery),
    responses((status = 200, description = "ranked results and facets", body = SearchPage), NotModified, QueryErrors, ReadErrors))]
pub async fn search(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let (entry, served) = search_entry(&app, &uri, q).await?;
    Ok(respond_cached(&app, &entry.rendered, &neg, served))
}

/// [`search`]'s cached answer (the web pages read it too).
pub async fn search_entry(app: &AppState, uri: &Uri, mut q: QueryParams) -> Result<(Arc<Entry>, Served), ApiError> {
    let text = q.text(&SEARCH_Q);
    let typos = q.int_or_default(&TYPOS) as u8;
    let terms = text.as_deref().and_then(|t| {
        SearchTerms::parse(t).map(|t| SearchTerms { typos, ..t }).or_else(|| {
            q.error("q", "must contain at least one letter or digit");
            None
        })
    });
    let filters = filter_params(&mut q);
    let locale = locale_of(app, &mut q);
    let pricing = Box::pin(pricing_of(app, &mut q)).await?;
    let sort = q.one_of_or_default(&SEARCH_SORT);
    let per_page = q.int_or_default(&PER_PAGE);
    let page = q.int_or_default(&SEARCH_PAGE);
    if (page - 1) * per_page >= MAX_SEARCH_DEPTH {
        q.error("page", format!("search results end at item {MAX_SEARCH_DEPTH}; refine the query"));
    }
    let canonical = q.finish()?;
    let terms = terms.expect("finish() refuses a request without valid terms");
    let text = text.unwrap_or_default();

    let start = ((page - 1) * per_page) as usize;
    let end = start + per_page as usize;
    // what the page depends on beyond the products it shows (see catalog::tags)
    let mut tags = vec![Tag::Catalog, Tag::Search];
    if filters.in_stock {
        tags.push(Tag::ListingStock);
    }
    if matches!(sort, None | Some(Sort::Popular)) {
        // relevance breaks ties by units sold
        tags.push(Tag::ListingSales);
    }
    let index = app.search.clone();
    let db = app.db.clone();
    let load = async move {
        let body = db
            .read(move |conn| {
                let filter = resolve(conn, filters, Some(terms.fts_query()), locale, &pricing)?;
                let m = match index.search(conn, &terms, &filter, sort, start, end)? {
                    Some(m) => m,
                    None => search_index::fts_matches(conn, &terms, &filter, sort, start, end)?,
                };
                let items = store::summaries_by_ids(
                    conn,
                    &m.page,
                    filter.locale.as_deref(),
                    filter.market.as_ref(),
                    filter.default_currency,
                )?;
                let shown: Vec<i64> = items.iter().map(|p| p.id.0).collect();
                let total = m.total as i64;
                let meta = SearchMetaHead {
                    q: &text,
                    current_page: page,
                    per_page,
                    total,
                    last_page: ((total + per_page - 1) / per_page).max(1),
                };
                // {"data": [...], "meta": {..., "facets": {...}}}, the facets written straight
                // from their pre-rendered parts
                let mut out = Vec::with_capacity(64 * 1024);
                out.extend_from_slice(b"{\"data\":");
                serde_json::to_writer(&mut out, &items).expect("catalog values always serialize");
                out.extend_from_slice(b",\"meta\":");
                serde_json::to_writer(&mut out, &meta).expect("catalog values always serialize");
                out.pop(); // the closing brace of meta
                out.extend_from_slice(b",\"facets\":");
                let currency = super::prices::currency_of(filter.market.as_ref(), filter.default_currency);
                m.write_facets(&mut out, filter.locale.as_deref(), currency);
                out.extend_from_slice(b"}}");
                Ok::<_, ApiError>((out, shown))
            })
            .await?;
        Ok((body.0, product_tags(&body.1)))
    };
    entry(app, uri, &canonical, &tags, load).await
}

const SUGGEST_Q: Param = Param::text("q", 200, Shape::Words)
    .required()
    .doc("what the shopper has typed so far: the last word is completed, the words before it narrow the matches");
const SUGGEST_LIMIT: Param = Param::int("limit", 1, 20).default(8);

query_params!(
    /// `GET /api/search/suggest`
    pub struct SuggestQuery [SUGGEST_Q, TYPOS, SUGGEST_LIMIT]
);

/// Suggestions as the shopper types: `{"data": [...], "meta": {"q": ...}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SuggestPage {
    pub data: Vec<search_index::Suggestion>,
    pub meta: SuggestMeta,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SuggestMeta {
    /// the text as understood
    pub q: String,
}

/// Search as you type
///
/// Completes the last word of `q` as a prefix, within its typos (as `/api/search` allows
/// them), among the words of product names, brands and categories; the words before it
/// narrow the count. The completions that take no typo come first, then those that take
/// one or two; among those, the ones matching most products. Each says how many products
/// `/api/search?q=<text>` finds with the completed word in a name, brand or category.
/// Answered from the search index: until it is built (the node is not ready yet), the list
/// is empty.
#[utoipa::path(get, path = "/api/search/suggest", tag = "catalog", security(()),
    params(SuggestQuery),
    responses((status = 200, description = "completions, best first", body = SuggestPage), NotModified, QueryErrors, ReadErrors))]
pub async fn suggest(
    State(app): State<AppState>,
    uri: Uri,
    neg: Negotiation,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let text = q.text(&SUGGEST_Q);
    let typos = q.int_or_default(&TYPOS) as u8;
    let limit = q.int_or_default(&SUGGEST_LIMIT) as usize;
    let terms = text.as_deref().and_then(|t| {
        SearchTerms::parse(t).map(|t| SearchTerms { typos, ..t }).or_else(|| {
            q.error("q", "must contain at least one letter or digit");
            None
        })
    });
    let canonical = q.finish()?;
    let terms = terms.expect("finish() refuses a request without valid terms");
    let understood = terms.words.join(" ");
    let index = app.search.clone();
    let load = async move {
        // not cached while the index builds: the answer would outlive it
        let data = index.suggest(&terms, limit).ok_or_else(|| {
            ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "index_building", "the search index is building")
        })?;
        let page = SuggestPage { data, meta: SuggestMeta { q: terms.words.join(" ") } };
        Ok((serde_json::to_vec(&page).expect("suggestions serialize"), Vec::new()))
    };
    match entry(&app, &uri, &canonical, &[Tag::Catalog, Tag::Search], load).await {
        Ok((entry, served)) => Ok(respond_cached(&app, &entry.rendered, &neg, served)),
        Err(e) if e.code == "index_building" => {
            let page = SuggestPage { data: Vec::new(), meta: SuggestMeta { q: understood } };
            Ok(crate::http::respond::private_json(
                axum::http::StatusCode::OK,
                serde_json::to_vec(&page).expect("suggestions serialize"),
            ))
        }
        Err(e) => Err(e),
    }
}

/// [`SearchMeta`] but for the facets, which are written after it.
#[derive(Serialize)]
struct SearchMetaHead<'a> {
    q: &'a str,
    current_page: i64,
    per_page: i64,
    total: i64,
    last_page: i64,
}
