//! The storefront's public pages: home, category, product, search. Each is made from the
//! public catalog API's own answers (the same handlers, the same checks, the same cached
//! bytes) and kept in the same cache: a page depends on exactly what the answers it was
//! made from depend on, so a commit that changes one of them drops the page too, on every
//! node. The pages are the same for everyone (nothing personal is on them), so the cache's
//! fast path answers them like the catalog's JSON.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::de::DeserializeOwned;

use super::layout::{self, card, money, pages, price, stars, tile, Frame};
use super::view::*;
use super::words::{t, tf};
use crate::app::AppState;
use crate::cache::{Entry, Served};
use crate::catalog::handlers as api;
use crate::error::ApiError;
use crate::http::query::encode_pairs;
use crate::http::{Negotiation, QueryParams, Rendered};

/// Products on a page of a list.
const PER_PAGE: &str = "24";

/// A page through the response cache: `build` makes its HTML and names the tags of the
/// answers it read.
async fn cached_page(
    app: &AppState,
    neg: &Negotiation,
    key: String,
    build: impl Future<Output = Result<(String, Vec<String>), ApiError>>,
) -> Result<Response, ApiError> {
    let (entry, served) = app
        .cache
        .get_or_load(key, &[], async move {
            let (html, tags) = build.await?;
            Ok((Rendered::html(html), tags))
        })
        .await?;
    Ok(api::respond_cached(app, &entry.rendered, neg, served))
}

/// What a page read from the API: the answer's fields, its tags added to the page's.
fn read<T: DeserializeOwned>(answer: (Arc<Entry>, Served), tags: &mut Vec<String>) -> Result<T, ApiError> {
    let (entry, _) = answer;
    tags.extend_from_slice(entry.tags());
    serde_json::from_slice(&entry.rendered.json).map_err(|e| {
        tracing::error!(error = %e, "a page cannot read an API answer");
        ApiError::internal()
    })
}

fn uri(path_and_query: &str) -> Result<Uri, ApiError> {
    path_and_query.parse().map_err(|_| ApiError::bad_request("invalid_query", "the address cannot be read"))
}

/// The cookie a shopper's choice of language is kept in (the footer's switch).
pub const LANGUAGE_COOKIE: &str = "sf_lang";

/// The language the request's `sf_lang` cookie names, if it has one of a tag's length.
pub fn language_cookie(headers: &HeaderMap) -> Option<String> {
    crate::http::cookies(headers, LANGUAGE_COOKIE)
        .next()
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| v.len() <= 10)
}

/// The cookie a shopper's choice of currency is kept in (the footer's switch).
pub const CURRENCY_COOKIE: &str = "sf_cur";

/// The currency the request's `sf_cur` cookie names, if it has one of a code's length.
pub fn currency_cookie(headers: &HeaderMap) -> Option<String> {
    crate::http::cookies(headers, CURRENCY_COOKIE)
        .next()
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| v.len() == 3)
}

/// The currency a page shows prices in: the shopper's choice (the `sf_cur` cookie) when
/// the shop sells in it and it is not the default (`None`: the default).
pub fn chosen_currency(app: &crate::app::App, headers: &HeaderMap) -> Option<String> {
    let setting = app.live().currencies.clone();
    let code = currency_cookie(headers)?;
    let enabled = crate::domain::currencies::enabled(&setting);
    (enabled.iter().skip(1).any(|e| e.code.as_str() == code)).then_some(code)
}

/// What a storefront page is in: its language — the shopper's choice (the `sf_lang`
/// cookie), else their browser's (`Accept-Language`), among the shop's (the `locales`
/// setting) — and its prices: the shopper's currency (the `sf_cur` cookie) and, when some
/// prices are for customer groups, the logged-in customer's groups.
#[derive(Clone)]
pub struct Lang {
    /// `None`: the default language
    pub chosen: Option<String>,
    /// the shop's languages, the default first
    pub enabled: Vec<String>,
    /// `None`: the default currency
    pub currency: Option<String>,
    /// the shop's currencies, the default first
    pub currencies: Vec<String>,
    /// the shopper's customer groups with price lists (none for a guest)
    pub groups: Vec<i64>,
}

/// The language a page is in, among the shop's `locales` setting: the shopper's choice (the
/// `sf_lang` cookie, the default included), else their browser's (`Accept-Language`);
/// `None`: the default.
fn chosen_language(locales: &str, headers: &HeaderMap) -> Option<String> {
    let enabled: Vec<&str> = crate::domain::locale::enabled(locales);
    match language_cookie(headers).as_deref() {
        Some(c) => {
            crate::domain::locale::best_for(c, &enabled).filter(|l| Some(l) != enabled.first()).map(str::to_owned)
        }
        None => crate::domain::locale::choose(
            None,
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
            &enabled,
        ),
    }
}

/// The language of a page's own words and its tag (see [`Lang::words`], [`Lang::tag`]),
/// for a page that shows no catalog prices (the cart's, an account's, an error's).
pub fn page_language(app: &crate::app::App, headers: &HeaderMap) -> (super::words::Lang, String) {
    let locales = app.live().locales.clone();
    let default = crate::domain::locale::enabled(&locales).first().copied().unwrap_or("en").to_owned();
    let tag = chosen_language(&locales, headers).unwrap_or(default);
    (super::words::Lang::of(Some(&tag), &tag), tag)
}

impl Lang {
    pub fn of(app: &crate::app::App, headers: &HeaderMap) -> Lang {
        let live = app.live();
        Lang {
            chosen: chosen_language(&live.locales, headers),
            enabled: crate::domain::locale::enabled(&live.locales).into_iter().map(str::to_owned).collect(),
            currency: chosen_currency(app, headers),
            currencies: crate::domain::currencies::codes(&live.currencies),
            groups: Vec::new(),
        }
    }

    /// [`Lang::of`] with the logged-in customer's groups (when some prices are for groups).
    pub async fn of_shopper(app: &AppState, headers: &HeaderMap) -> Result<Lang, ApiError> {
        let mut lang = Lang::of(app, headers);
        if app.group_prices.any() {
            if let Some(token) = super::session::cookie_token(headers) {
                let hash = crate::auth::token_hash(&token);
                let now = crate::util::now_ms();
                lang.groups = app
                    .db
                    .read(move |c| {
                        crate::catalog::prices::priced_groups_of_token(c, &hash, now).map_err(ApiError::from)
                    })
                    .await?;
            }
        }
        Ok(lang)
    }

    /// The language of the shop's own words on the page (see [`super::words`]).
    pub fn words(&self) -> super::words::Lang {
        super::words::Lang::of(self.chosen.as_deref(), &self.enabled[0])
    }

    /// The currency the page's prices are in: the shopper's, else the default.
    pub fn shown_currency(&self) -> &str {
        self.currency.as_deref().unwrap_or(&self.currencies[0])
    }

    /// An API answer with prices: its address and parameters in this language, currency
    /// and the shopper's groups.
    fn priced(&self, path: &str, query: &str) -> Result<(Uri, QueryParams), ApiError> {
        let query = match &self.currency {
            Some(c) if query.is_empty() => encode_pairs([("currency", c.as_str())]),
            Some(c) => format!("{query}&{}", encode_pairs([("currency", c.as_str())])),
            None => query.to_owned(),
        };
        let (uri, q) = self.api(path, &query)?;
        Ok((uri, if self.groups.is_empty() { q } else { q.with_groups(self.groups.clone()) }))
    }

    /// The page's tag (for `lang=`).
    pub fn tag(&self) -> &str {
        self.chosen.as_deref().unwrap_or_else(|| self.enabled.first().map_or("en", String::as_str))
    }

    /// An API answer's address and parameters in this language.
    fn api(&self, path: &str, query: &str) -> Result<(Uri, QueryParams), ApiError> {
        let query = match &self.chosen {
            Some(l) if query.is_empty() => encode_pairs([("locale", l.as_str())]),
            Some(l) => format!("{query}&{}", encode_pairs([("locale", l.as_str())])),
            None => query.to_owned(),
        };
        let target = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        Ok((uri(&target)?, QueryParams::parse(&query)?))
    }

    /// A page's cache key in this language (no address has a space: none can ask for it).
    fn key(&self, page_key: String) -> String {
        let mut key = page_key;
        if let Some(l) = &self.chosen {
            key.push_str(&format!(" [{l}]"));
        }
        if let Some(c) = &self.currency {
            key.push_str(&format!(" [{c}]"));
        }
        if !self.groups.is_empty() {
            let groups: Vec<String> = self.groups.iter().map(i64::to_string).collect();
            key.push_str(&format!(" [g{}]", groups.join(",")));
        }
        key
    }
}

/// A product's or category's page that is not found at `slug` in the page's language may
/// be at it in another of the shop's (a link shared by a shopper reading another): sent on
/// to its address in this one.
async fn elsewhere(
    app: &AppState,
    lang: &Lang,
    prefix: &'static str,
    slug: &str,
    shown: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    match shown {
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND && lang.enabled.len() > 1 => {
            let address = format!("{prefix}{slug}");
            let others: Vec<String> =
                lang.enabled.iter().skip(1).filter(|l| Some(*l) != lang.chosen.as_ref()).cloned().collect();
            let target = lang.chosen.clone();
            let found = app
                .db
                .read(move |c| {
                    for l in &others {
                        let to = crate::catalog::translations::address_in(c, &address, Some(l), target.as_deref())?;
                        if to != address {
                            return Ok::<_, ApiError>(Some(to));
                        }
                    }
                    Ok(None)
                })
                .await?;
            match found {
                Some(to) => Ok(axum::response::Redirect::to(&to).into_response()),
                None => Err(e),
            }
        }
        other => other,
    }
}

/// The parameters a page takes (others, e.g. a campaign's, are ignored), sorted by name:
/// the page's canonical query.
fn page_params(raw: Option<&str>, names: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let q = QueryParams::parse(raw.unwrap_or(""))?;
    let mut kept: Vec<(String, String)> =
        q.pairs().iter().filter(|(k, v)| names.contains(&k.as_str()) && !v.trim().is_empty()).cloned().collect();
    kept.sort();
    Ok(kept)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A page's address with its parameters spelled one way (the cache's key for it): sorted,
/// percent-encoded, a space as `+` as forms send it.
fn key(path: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", encode_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).replace("%20", "+"))
    }
}

/// A list's address as a form sent it (empty fields, another order) is sent on to its
/// one spelling, which the cache answers ahead of the router.
fn canonical_or_redirect(path: &str, raw: Option<&str>, params: &[(String, String)]) -> Result<String, Box<Response>> {
    let key = key(path, params);
    let asked = match raw {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    };
    if asked == key {
        Ok(key)
    } else {
        Err(Box::new(axum::response::Redirect::to(&key).into_response()))
    }
}

/// A whole number of the shop's currency (a filter's "from 20"), in minor units.
fn minor_units(field: &str, v: &str, currency: &str) -> Result<String, ApiError> {
    let per_unit = 10u64.pow(crate::domain::currencies::minor_digits(currency));
    match v.trim().parse::<u32>() {
        Ok(n) => Ok((n as u64 * per_unit).to_string()),
        Err(_) => Err(ApiError::validation([(field.to_owned(), "must be a whole number".to_owned())].into())),
    }
}

/// The API's query for a list page: `fixed`, a page of [`PER_PAGE`], the page's parameters
/// named in `passed` as they are, its price range in whole units as minor units, in stock.
fn api_query(
    mut q: Vec<(&'static str, String)>,
    params: &[(String, String)],
    passed: &[&'static str],
    currency: &str,
) -> Result<String, ApiError> {
    q.push(("per_page", PER_PAGE.to_owned()));
    for name in passed {
        if let Some(v) = get(params, name) {
            q.push((name, v.to_owned()));
        }
    }
    for (name, api) in [("min", "min_price"), ("max", "max_price")] {
        if let Some(v) = get(params, name) {
            q.push((api, minor_units(name, v, currency)?));
        }
    }
    if get(params, "in_stock").is_some() {
        q.push(("in_stock", "true".to_owned()));
    }
    Ok(encode_pairs(q.iter().map(|(k, v)| (*k, v.as_str()))))
}

fn frame<'a>(app: &'a AppState, title: &'a str, q: &'a str, lang: &Lang, back: &str) -> Frame<'a> {
    Frame {
        shop: app.live().shop_name.clone(),
        title,
        q,
        lang: lang.tag().to_owned(),
        words: lang.words(),
        languages: (lang.enabled.len() > 1).then(|| layout::Languages {
            enabled: lang.enabled.clone(),
            chosen: lang.tag().to_owned(),
            back: back.to_owned(),
        }),
        currencies: (lang.currencies.len() > 1).then(|| layout::Currencies {
            enabled: lang.currencies.clone(),
            chosen: lang.shown_currency().to_owned(),
            back: back.to_owned(),
        }),
    }
}

/// `GET /`: the categories and what sells best.
pub async fn home(State(app): State<AppState>, neg: Negotiation, headers: HeaderMap) -> Result<Response, ApiError> {
    let a = app.clone();
    let lang = Lang::of_shopper(&app, &headers).await?;
    cached_page(&app, &neg, lang.key("/".to_owned()), async move {
        let mut tags = Vec::new();
        let (u, q) = lang.api("/api/categories", "")?;
        let tree: Data<Vec<CategoryNode>> = read(Box::pin(api::categories_entry(&a, &u, q)).await?, &mut tags)?;
        // a best seller is a product summary with its units sold
        let (u, q) = lang.priced("/api/products/bestsellers", "limit=8")?;
        let best: Data<Vec<Summary>> = read(Box::pin(api::bestsellers_entry(&a, &u, q)).await?, &mut tags)?;
        let mut shown = best.data;
        let w = lang.words();
        let heading = if shown.is_empty() {
            // nothing sold yet: the newest
            let (u, q) = lang.priced("/api/products", "per_page=8")?;
            let newest: Listed<Vec<Summary>, OffsetMeta> =
                read(Box::pin(api::list_products_entry(&a, &u, q)).await?, &mut tags)?;
            shown = newest.data;
            t(w, "New in")
        } else {
            t(w, "Best sellers")
        };
        let main = html! {
            section.hero {
                h1 { (tf(w, "Welcome to {shop}", &[("shop", &a.live().shop_name)])) }
                p { (t(w, "Browse by category, or search for what you need.")) }
            }
            h2 { (t(w, "Shop by category")) }
            ul.cats {
                @for c in &tree.data {
                    li { a href=(format!("/c/{}", c.slug)) { (c.name) span { (tf(w, "{n} products", &[("n", &c.product_count)])) } } }
                }
            }
            h2 { (heading) }
            @if shown.is_empty() {
                p.empty { (t(w, "No products yet.")) }
            } @else {
                ul.grid { @for p in &shown { (card(p, w)) } }
            }
        };
        Ok((layout::page(&frame(&a, "", "", &lang, "/"), main), tags))
    })
    .await
}

const CATEGORY_PARAMS: &[&str] = &["brand", "in_stock", "max", "min", "page", "sort"];

/// The sorts of a list: (value, label; the label in the page's language, see [`super::words`]).
const SORTS: &[(&str, &str)] = &[
    ("", "Newest"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("popular", "Best selling"),
    ("rating", "Top rated"),
];

/// `GET /c/{slug}`: a category's products with filters (brand, price, in stock), sorts and
/// pages.
pub async fn category(
    State(app): State<AppState>,
    neg: Negotiation,
    headers: HeaderMap,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    if !crate::domain::is_slug(&slug) {
        return Err(ApiError::not_found("category"));
    }
    let lang = Lang::of_shopper(&app, &headers).await?;
    let params = page_params(raw.as_deref(), CATEGORY_PARAMS)?;
    let page_key = match canonical_or_redirect(&format!("/c/{slug}"), raw.as_deref(), &params) {
        Ok(k) => k,
        Err(redirect) => return Ok(*redirect),
    };
    let a = app.clone();
    let back = page_key.clone();
    let (lang_after, slug_after) = (lang.clone(), slug.clone());
    let shown = cached_page(&app, &neg, lang.key(page_key), async move {
        let mut tags = Vec::new();
        let (u, q) = lang.api(&format!("/api/categories/{slug}"), "")?;
        let cat: Data<CategoryDetail> = read(Box::pin(api::category_entry(&a, &u, Ok(Path(slug.clone())), q)).await?, &mut tags)?;
        let cat = cat.data;
        let query = api_query(vec![("category", slug.clone())], &params, &["brand", "sort", "page"], lang.shown_currency())?;
        let (u, q) = lang.priced("/api/products", &query)?;
        let list: Listed<Vec<Summary>, OffsetMeta> = read(Box::pin(api::list_products_entry(&a, &u, q)).await?, &mut tags)?;
        let (u, q) = lang.api("/api/brands", "")?;
        let brands: Data<Vec<Brand>> = read(Box::pin(api::brands_entry(&a, &u, q)).await?, &mut tags)?;
        let here = |page: i64| {
            let mut p: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "page").cloned().collect();
            if page > 1 {
                p.push(("page".into(), page.to_string()));
            }
            p.sort();
            key(&format!("/c/{}", cat.slug), &p)
        };
        let sort = get(&params, "sort").unwrap_or("");
        let w = lang.words();
        let main = html! {
            nav.crumbs aria-label=(t(w, "Breadcrumb")) {
                a href="/" { (t(w, "Home")) }
                @for c in &cat.path { " / " a href=(format!("/c/{}", c.slug)) { (c.name) } }
            }
            h1 { (cat.name) }
            @if !cat.description.is_empty() { p { (cat.description) } }
            @if !cat.children.is_empty() {
                ul.cats {
                    @for c in &cat.children {
                        li { a href=(format!("/c/{}", c.slug)) { (c.name) span { (tf(w, "{n} products", &[("n", &c.product_count)])) } } }
                    }
                }
            }
            div.listing {
                form.filters method="get" action=(format!("/c/{}", cat.slug)) aria-label=(t(w, "Filters")) {
                    fieldset {
                        legend { (t(w, "Brand")) }
                        div.field {
                            label for="brand" { (t(w, "Brand")) }
                            select #brand name="brand" {
                                option value="" { (t(w, "Any brand")) }
                                @for b in brands.data.iter().filter(|b| b.product_count > 0) {
                                    option value=(b.slug) selected[get(&params, "brand") == Some(b.slug.as_str())] { (b.name) }
                                }
                            }
                        }
                    }
                    fieldset {
                        legend { (t(w, "Price")) }
                        div.range {
                            div.field { label for="min" { (t(w, "From")) } input #min type="number" name="min" min="0" inputmode="numeric" value=[get(&params, "min")]; }
                            div.field { label for="max" { (t(w, "To")) } input #max type="number" name="max" min="0" inputmode="numeric" value=[get(&params, "max")]; }
                        }
                    }
                    fieldset {
                        legend { (t(w, "Availability")) }
                        label { input type="checkbox" name="in_stock" value="1" checked[get(&params, "in_stock").is_some()]; " " (t(w, "In stock only")) }
                    }
                    @if !sort.is_empty() { input type="hidden" name="sort" value=(sort); }
                    button type="submit" { (t(w, "Apply filters")) }
                }
                section aria-label=(t(w, "Products")) {
                    div.toolbar {
                        span.count { (tf(w, "{n} products", &[("n", &list.meta.total)])) }
                        form method="get" action=(format!("/c/{}", cat.slug)) {
                            @for (k, v) in params.iter().filter(|(k, _)| k != "sort" && k != "page") {
                                input type="hidden" name=(k) value=(v);
                            }
                            label for="sort" { (t(w, "Sort by ")) }
                            select #sort name="sort" data-autosubmit {
                                @for (value, label) in SORTS {
                                    option value=(value) selected[sort == *value] { (t(w, label)) }
                                }
                            }
                            " "
                            button.quiet type="submit" data-autosubmit-hide { (t(w, "Sort")) }
                        }
                    }
                    @if list.data.is_empty() {
                        p.empty { (t(w, "No products match these filters.")) }
                    } @else {
                        ul.grid { @for p in &list.data { (card(p, w)) } }
                    }
                    (pages(list.meta.current_page, list.meta.last_page.min(crate::catalog::handlers::MAX_OFFSET / 24), here, w))
                }
            }
        };
        Ok((layout::page(&frame(&a, &cat.name, "", &lang, &back), main), tags))
    })
    .await;
    elsewhere(&app, &lang_after, "/c/", &slug_after, shown).await
}

/// `GET /p/{slug}`: one product, its variants, the form that puts it in the cart, reviews.
/// A product's pictures: the primary one large, the others as thumbnails that open the
/// picture; a product without a picture the shop keeps shows its tile.
fn gallery(p: &Detail, w: super::words::Lang) -> maud::Markup {
    let stored: Vec<&Image> = p.images.iter().filter(|i| crate::media::is_stored_url(&i.url)).collect();
    let Some((first, rest)) = stored.split_first() else {
        return tile(&p.id, &p.name, true);
    };
    let alt = |i: &Image| if i.alt.is_empty() { p.name.clone() } else { i.alt.clone() };
    html! {
        div.gallery {
            img.photo.big src=(first.url) alt=(alt(first)) width="800" height="800";
            @if !rest.is_empty() {
                ul.thumbs aria-label=(t(w, "More pictures")) {
                    @for i in rest {
                        li { a href=(i.url) { img.photo src=(i.thumbnail) alt=(alt(i)) loading="lazy" width="120" height="120"; } }
                    }
                }
            }
        }
    }
}

pub async fn product(
    State(app): State<AppState>,
    neg: Negotiation,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    if !crate::domain::is_slug(&slug) {
        return Err(ApiError::not_found("product"));
    }
    let a = app.clone();
    let lang = Lang::of_shopper(&app, &headers).await?;
    let back = format!("/p/{slug}");
    let (lang_after, slug_after) = (lang.clone(), slug.clone());
    let shown = cached_page(&app, &neg, lang.key(format!("/p/{slug}")), async move {
        let mut tags = Vec::new();
        let (u, q) = lang.priced(&format!("/api/products/{slug}"), "")?;
        let p: Data<Detail> = read(Box::pin(api::product_entry(&a, &u, Ok(Path(slug.clone())), q)).await?, &mut tags)?;
        let p = p.data;
        let single = p.variants.len() == 1;
        let w = lang.words();
        let options = p.options.iter().map(|o| o.name.to_lowercase()).collect::<Vec<_>>().join(t(w, " and "));
        let main = html! {
            nav.crumbs aria-label=(t(w, "Breadcrumb")) {
                a href="/" { (t(w, "Home")) } " / "
                a href=(format!("/c/{}", p.category.slug)) { (p.category.name) }
            }
            div.product {
                (gallery(&p, w))
                div.buy {
                    h1 { (p.name) }
                    p.meta {
                        @if let Some(b) = &p.brand { (tf(w, "by {brand}", &[("brand", &b.name)])) " · " }
                        (tf(w, "SKU {sku}", &[("sku", &p.sku)]))
                    }
                    (price(&p.price, &p.base_price, p.sale_price.as_ref(), w))
                    div { (stars(p.rating.average, p.rating.count, w)) }
                    @if p.in_stock {
                        form method="post" action="/cart/items" {
                            @if single {
                                input type="hidden" name="variant_id" value=(p.variants[0].id);
                            } @else {
                                div.field {
                                    label for="variant" { (tf(w, "Choose {options}", &[("options", &options)])) }
                                    select #variant name="variant_id" required {
                                        @for v in &p.variants {
                                            option value=(v.id) disabled[!v.in_stock] {
                                                (v.name) " — " (money(&v.price))
                                                @if v.sale_price.is_some() { (t(w, " (sale)")) }
                                                @if !v.in_stock { (t(w, " — sold out")) }
                                            }
                                        }
                                    }
                                }
                            }
                            div.field {
                                label for="quantity" { (t(w, "Quantity")) }
                                input #quantity type="number" name="quantity" value="1" min="1" max="99" inputmode="numeric" required;
                            }
                            input type="hidden" name="slug" value=(p.slug);
                            button type="submit" { (t(w, "Add to cart")) }
                        }
                        p.stock.in { (t(w, "In stock")) }
                    } @else {
                        p.stock.out { (t(w, "Out of stock")) }
                    }
                    h2 { (t(w, "Description")) }
                    p.desc { (p.description) }
                }
            }
            section.reviews aria-labelledby="reviews" {
                h2 #reviews { (t(w, "Reviews")) }
                @if p.reviews.is_empty() {
                    p.empty { (t(w, "No reviews yet.")) }
                }
                @for r in &p.reviews {
                    article.review {
                        h3 { (r.title) }
                        div { (stars(r.rating as f64, 1, w)) " " span.meta { (r.author) ", " (r.created_at.get(..10).unwrap_or(&r.created_at)) } }
                        p { (r.body) }
                    }
                }
            }
        };
        Ok((layout::page(&frame(&a, &p.name, "", &lang, &back), main), tags))
    })
    .await;
    elsewhere(&app, &lang_after, "/p/", &slug_after, shown).await
}

const SEARCH_PARAMS: &[&str] = &["brand", "category", "in_stock", "max", "min", "page", "q", "sort"];

/// `GET /search?q=`: ranked results with their facets (categories, brands, price bands).
pub async fn search(
    State(app): State<AppState>,
    neg: Negotiation,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let lang = Lang::of_shopper(&app, &headers).await?;
    let params = page_params(raw.as_deref(), SEARCH_PARAMS)?;
    let page_key = match canonical_or_redirect("/search", raw.as_deref(), &params) {
        Ok(k) => k,
        Err(redirect) => return Ok(*redirect),
    };
    let a = app.clone();
    let back = page_key.clone();
    cached_page(&app, &neg, lang.key(page_key), async move {
        let text = get(&params, "q").unwrap_or("").to_owned();
        let mut tags = Vec::new();
        let link = |change: &[(&str, Option<String>)]| {
            let mut p: Vec<(String, String)> =
                params.iter().filter(|(k, _)| k != "page" && !change.iter().any(|(c, _)| c == k)).cloned().collect();
            p.extend(change.iter().filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v))));
            p.sort();
            key("/search", &p)
        };
        let w = lang.words();
        if text.trim().is_empty() {
            let main = html! {
                h1 { (t(w, "Search")) }
                p { (t(w, "Type what you are looking for in the search box above.")) }
            };
            return Ok((layout::page(&frame(&a, t(w, "Search"), "", &lang, &back), main), tags));
        }
        let query =
            api_query(vec![("q", text.clone())], &params, &["category", "brand", "sort", "page"], lang.shown_currency())?;
        let (u, q) = lang.priced("/api/search", &query)?;
        let found: Listed<Vec<Summary>, SearchMeta> = read(Box::pin(api::search_entry(&a, &u, q)).await?, &mut tags)?;
        let f = &found.meta.facets;
        let sort = get(&params, "sort").unwrap_or("");
        let title = tf(w, "Search: {text}", &[("text", &text)]);
        let per_unit = 10i64.pow(crate::domain::currencies::minor_digits(lang.shown_currency()));
        let main = html! {
            h1 { (tf(w, "Results for “{text}”", &[("text", &text)])) }
            div.listing {
                aside.filters aria-label=(t(w, "Narrow the results")) {
                    @if !f.categories.is_empty() {
                        fieldset {
                            legend { (t(w, "Category")) }
                            ul {
                                @for c in f.categories.iter().filter(|c| c.depth == 0).take(12) {
                                    li {
                                        @if get(&params, "category") == Some(c.slug.as_str()) {
                                            strong { (c.name) } a href=(link(&[("category", None)])) { (t(w, "(any)")) }
                                        } @else {
                                            a href=(link(&[("category", Some(c.slug.clone()))])) { (c.name) }
                                            span.n { (c.count) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if !f.brands.is_empty() {
                        fieldset {
                            legend { (t(w, "Brand")) }
                            ul {
                                @for b in f.brands.iter().take(12) {
                                    li {
                                        @if get(&params, "brand") == Some(b.slug.as_str()) {
                                            strong { (b.name) } a href=(link(&[("brand", None)])) { (t(w, "(any)")) }
                                        } @else {
                                            a href=(link(&[("brand", Some(b.slug.clone()))])) { (b.name) }
                                            span.n { (b.count) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if f.price_bands.iter().any(|b| b.count > 0) || get(&params, "min").is_some() || get(&params, "max").is_some() {
                    fieldset {
                        legend { (t(w, "Price")) }
                        ul {
                            @for band in f.price_bands.iter().filter(|b| b.count > 0) {
                                li {
                                    a href=(link(&[("min", Some((band.min.amount / per_unit).to_string())), ("max", band.max.as_ref().map(|m| (m.amount / per_unit).to_string()))])) {
                                        (money(&band.min))
                                        @if let Some(m) = &band.max { " – " (money(m)) } @else { (t(w, " and up")) }
                                    }
                                    span.n { (band.count) }
                                }
                            }
                            @if get(&params, "min").is_some() || get(&params, "max").is_some() {
                                li { a href=(link(&[("min", None), ("max", None)])) { (t(w, "Any price")) } }
                            }
                        }
                    }
                    }
                }
                section aria-label=(t(w, "Results")) {
                    div.toolbar {
                        span.count { (tf(w, "{n} results", &[("n", &found.meta.total)])) }
                        form method="get" action="/search" {
                            @for (k, v) in params.iter().filter(|(k, _)| k != "sort" && k != "page") {
                                input type="hidden" name=(k) value=(v);
                            }
                            label for="sort" { (t(w, "Sort by ")) }
                            select #sort name="sort" data-autosubmit {
                                option value="" selected[sort.is_empty()] { (t(w, "Relevance")) }
                                @for (value, label) in SORTS.iter().skip(1) {
                                    option value=(value) selected[sort == *value] { (t(w, label)) }
                                }
                                option value="newest" selected[sort == "newest"] { (t(w, "Newest")) }
                            }
                            " "
                            button.quiet type="submit" data-autosubmit-hide { (t(w, "Sort")) }
                        }
                    }
                    @if found.data.is_empty() {
                        p.empty { (tf(w, "Nothing matches “{text}”. Try fewer or other words.", &[("text", &text)])) }
                    } @else {
                        ul.grid { @for p in &found.data { (card(p, w)) } }
                    }
                    (pages(found.meta.current_page, found.meta.last_page.min(1000 / 24), |n| {
                        let mut p: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "page").cloned().collect();
                        if n > 1 { p.push(("page".into(), n.to_string())); }
                        p.sort();
                        key("/search", &p)
                    }, w))
                }
            }
        };
        Ok((layout::page(&frame(&a, &title, &text, &lang, &back), main), tags))
    })
    .await
}

/// The footer's currency switch (none when the shop sells in one), `chosen` the page's
/// (none: the default), returning to `back`.
pub fn currency_switch(app: &AppState, chosen: Option<String>, back: &str) -> Option<layout::Currencies> {
    let enabled: Vec<String> = crate::domain::currencies::codes(&app.live().currencies);
    (enabled.len() > 1).then(|| layout::Currencies {
        chosen: chosen.unwrap_or_else(|| enabled[0].clone()),
        enabled,
        back: back.to_owned(),
    })
}

/// The currency a shopper's cart takes from the footer's choice: the `sf_cur` cookie's,
/// when the shop sells in it (the default included).
pub fn cart_currency(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let setting = app.live().currencies.clone();
    currency_cookie(headers).filter(|c| crate::domain::currencies::find(&setting, c).is_some())
}

#[derive(serde::Deserialize)]
pub struct CurrencyForm {
    #[serde(default)]
    currency: String,
    #[serde(default)]
    back: String,
}

/// `POST /currency`: keeps the shopper's choice of currency (a year, in a cookie), prices
/// their open cart in it, and returns to the page they were on.
pub async fn currency(
    State(app): State<AppState>,
    ps: super::session::PageSession,
    axum::Form(f): axum::Form<CurrencyForm>,
) -> Result<Response, ApiError> {
    let setting = app.live().currencies.clone();
    let code = f.currency.trim().to_owned();
    if crate::domain::currencies::find(&setting, &code).is_none() {
        let sold: Vec<String> =
            crate::domain::currencies::enabled(&setting).iter().map(|e| e.code.as_str().to_owned()).collect();
        let why = format!("must be one of the shop's currencies: {}", sold.join(", "));
        return Err(ApiError::validation([("currency".to_owned(), why)].into()));
    }
    if let Some(s) = ps.session {
        let c = code.clone();
        app.db
            .writer
            .run(move |tx| {
                if let Some(cart) = crate::cart::store::open_cart(tx, &s)?.map(|c| c.id) {
                    crate::cart::store::set_currency(tx, cart, Some(&c), crate::util::now_ms())?;
                }
                Ok::<_, ApiError>(())
            })
            .await?;
    }
    let back = safe_back(&f.back);
    let mut resp = super::buy::see_other(&back, None);
    let cookie = format!("{CURRENCY_COOKIE}={code}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly");
    resp.headers_mut()
        .insert(header::SET_COOKIE, axum::http::HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?);
    Ok(resp)
}

/// A form's `back`: a page of this shop only (else the home page).
fn safe_back(back: &str) -> String {
    let back = back.trim();
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') && back.len() <= 2000 {
        back.to_owned()
    } else {
        "/".to_owned()
    }
}

#[derive(serde::Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    locale: String,
    #[serde(default)]
    back: String,
}

/// `POST /language`: keeps the shopper's choice of language (a year, in a cookie) and
/// returns to the page they were on, at its address in that language.
pub async fn language(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LanguageForm>,
) -> Result<Response, ApiError> {
    let current = Lang::of(&app, &headers);
    let Some(tag) = current.enabled.iter().find(|t| **t == f.locale.trim()).cloned() else {
        let why = format!("must be one of the shop's languages: {}", current.enabled.join(", "));
        return Err(ApiError::validation([("locale".to_owned(), why)].into()));
    };
    // back to a page of this shop only
    let back = safe_back(&f.back);
    let target = (Some(&tag) != current.enabled.first()).then(|| tag.clone());
    let from = current.chosen.clone();
    let back = app
        .db
        .read(move |c| {
            Ok::<_, ApiError>(crate::catalog::translations::address_in(c, &back, from.as_deref(), target.as_deref())?)
        })
        .await?;
    let mut resp = super::buy::see_other(&back, None);
    let cookie = format!("{LANGUAGE_COOKIE}={tag}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly");
    resp.headers_mut()
        .insert(header::SET_COOKIE, axum::http::HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?);
    Ok(resp)
}
