//! The dashboard's products: the list (words, status, low stock; keyset pages at any size
//! of catalog), a new product (with its stock), and one product's page — its details, price,
//! stock per variant, retiring it. Every form is the admin API's handler with its checks,
//! its audit row and the cache invalidation that shows the change in the shop at once.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, get, list_params, page_with, AdminPage};
use super::buy::{answered, answered_whole, see_other};
use super::session::{check_csrf, CsrfForm};
use super::words::{n_, said, t, Lang};
use crate::admin::products as api;
use crate::app::AppState;
use crate::catalog::handlers as catalog_api;
use crate::catalog::prices::Seen;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::{JsonBody, QueryParams};

#[derive(Deserialize)]
pub(crate) struct Stock {
    pub(crate) variant_id: String,
    pub(crate) sku: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) base_price: Option<i64>,
    pub(crate) sale_price: Option<i64>,
    pub(crate) available: i64,
    reserved: i64,
}

#[derive(Deserialize)]
pub(crate) struct Product {
    pub(crate) id: String,
    pub(crate) sku: String,
    slug: String,
    pub(crate) name: String,
    description: String,
    category_id: String,
    brand_id: Option<String>,
    status: String,
    pub(crate) base_price: i64,
    sale_price: Option<i64>,
    #[serde(default)]
    gift_card: bool,
    pub(crate) stock: Vec<Stock>,
    #[serde(default)]
    pub(crate) images: Vec<super::admin_images::ImageRow>,
}

#[derive(Deserialize)]
struct ProductList {
    data: Vec<Product>,
    meta: ListMeta,
}

#[derive(Deserialize)]
struct ListMeta {
    next_before: Option<String>,
}

/// `1250` → `12.50` (`1250` in yen): minor units of `currency` as an owner types them.
pub(crate) fn units(minor: i64, currency: crate::domain::Currency) -> String {
    super::forms::typed_amount(minor, currency.as_str())
}

/// What an owner types as a price in `currency` (`19.99`, `20`, `20.5`; whole yen) in
/// minor units, below a billion whole units.
pub(crate) fn parse_price(
    w: Lang,
    field: &str,
    typed: &str,
    currency: crate::domain::Currency,
    errors: &mut BTreeMap<String, String>,
) -> Option<i64> {
    let whole_unit = 10i64.pow(crate::domain::currencies::minor_digits(currency.as_str()));
    let price = super::forms::minor_units_in(typed, currency.as_str()).filter(|n| *n < 1_000_000_000 * whole_unit);
    if price.is_none() {
        let like = if whole_unit == 1 { t(w, "a price like 1500") } else { t(w, "a price like 19.99") };
        errors.insert(field.to_owned(), like.to_owned());
    }
    price
}

const TABS: &[(&str, &str)] =
    &[("", n_("All")), ("active", n_("Active")), ("draft", n_("Drafts")), ("retired", n_("Retired"))];

/// `GET /admin/products?q=&status=&low_stock=&before=`
pub async fn list(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["q", "status", "low_stock", "before"])?;
    let (q, status, low) = (get(&p, "q"), get(&p, "status"), get(&p, "low_stock").is_some());
    let mut query: Vec<(&str, &str)> = vec![("per_page", "50")];
    if low {
        query.push(("low_stock", "true"));
    } else {
        query.extend(q.map(|q| ("q", q)));
        query.extend(status.map(|s| ("status", s)));
    }
    query.extend(get(&p, "before").map(|b| ("before", b)));
    let list: ProductList = answered_whole(
        api::list_products(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(query))?).await,
    )
    .await?;
    let ids: Vec<i64> = list.data.iter().filter_map(|p| Id::parse(&p.id)).map(|i| i.0).collect();
    let seen = super::admin_view::seen(&app, &a, ids).await?;
    let seen_of = |p: &Product| Id::parse(&p.id).and_then(|i| seen.as_ref()?.get(&i.0));
    let view_currency = a.view.currency.as_deref().unwrap_or(a.currency.as_str());
    let back = match raw.as_deref() {
        Some(q) if !q.is_empty() => format!("/admin/products?{q}"),
        _ => "/admin/products".to_owned(),
    };
    let filter: Vec<(&str, &str)> = if low {
        vec![("low_stock", "1")]
    } else {
        q.map(|q| ("q", q)).into_iter().chain(status.map(|s| ("status", s))).collect()
    };
    let tabs: Vec<(&str, &str, String)> = TABS
        .iter()
        .map(|(s, label)| {
            let f: Vec<(&str, &str)> =
                q.map(|q| ("q", q)).into_iter().chain((!s.is_empty()).then_some(("status", *s))).collect();
            let href = if f.is_empty() {
                "/admin/products".to_owned()
            } else {
                format!("/admin/products?{}", encode_pairs(f))
            };
            (*s, t(w, label), href)
        })
        .collect();
    let main = html! {
        div.toolbar {
            h1 { (t(w, "Products")) }
            div.actions {
                a.button.quiet href="/admin/imports" { (t(w, "Import a file")) }
                a.button href="/admin/products/new" { (t(w, "New product")) }
            }
        }
        (super::admin_view::switch(&app, &a, &back))
        form.search-row method="get" action="/admin/products" role="search" {
            label.skip for="pq" { (t(w, "Find products")) }
            input #pq type="search" name="q" value=[q] placeholder=(t(w, "Name, words or a SKU"));
            @if let Some(s) = status { input type="hidden" name="status" value=(s); }
            button type="submit" { (t(w, "Find")) }
        }
        nav.tabs aria-label=(t(w, "By status")) {
            @for (s, label, href) in &tabs {
                a href=(href) aria-current=[(!low && status.unwrap_or("") == *s).then_some("page")] { (label) }
            }
            a href="/admin/products?low_stock=1" aria-current=[low.then_some("page")] { (t(w, "Low stock")) }
        }
        @if list.data.is_empty() { p.empty { (t(w, "No products here.")) } }
        @else {
            table.lines {
                thead { tr {
                    th scope="col" { (t(w, "Product")) @if let Some(l) = &a.view.locale { span.meta { " (" (super::admin_translations::language_name(l)) ")" } } }
                    th scope="col" { (t(w, "SKU")) } th scope="col" { (t(w, "Status")) }
                    th scope="col" { (t(w, "Price")) @if seen.is_some() { span.meta { " (" (view_currency) ")" } } }
                    th scope="col" { (t(w, "For sale")) }
                } }
                tbody { @for p in &list.data { tr {
                    td {
                        @match (seen_of(p), &a.view.locale) {
                            (Some(Seen { name: Some(n), .. }), Some(l)) => { a href=(format!("/admin/products/{}", p.id)) lang=(l) { (n) } }
                            (_, Some(_)) => { a href=(format!("/admin/products/{}", p.id)) { (p.name) } span.meta.untranslated { (t(w, " · not translated")) } }
                            _ => { a href=(format!("/admin/products/{}", p.id)) { (p.name) } }
                        }
                    }
                    td data-label=(t(w, "SKU")) { code { (p.sku) } }
                    td data-label=(t(w, "Status")) { span class=(format!("status {}", p.status)) { (said(w, &p.status)) } }
                    td.price data-label=(t(w, "Price")) {
                        @if let Some(s) = seen_of(p) {
                            (super::admin::shown_in(s.paid, view_currency)) @if s.paid < s.regular { " " s.meta { (super::admin::shown_in(s.regular, view_currency)) } }
                        } @else {
                            (super::admin::shown_in(p.sale_price.unwrap_or(p.base_price), a.currency.as_str())) @if p.sale_price.is_some() { " " s.meta { (super::admin::shown_in(p.base_price, a.currency.as_str())) } }
                        }
                    }
                    td data-label=(t(w, "For sale")) { (p.stock.iter().map(|s| s.available).sum::<i64>()) }
                } } }
            }
            @if let Some(next) = &list.meta.next_before {
                @let q: Vec<(&str, &str)> = filter.iter().copied().chain([("before", next.as_str())]).collect();
                nav.pages aria-label=(t(w, "More")) { a href=(format!("/admin/products?{}", encode_pairs(q))) rel="next" { (t(w, "Older →")) } }
            }
        }
    };
    Ok(page_with(&app, &a, t(w, "Products"), "/admin/products", main))
}

#[derive(Deserialize)]
struct TreeNode {
    id: String,
    name: String,
    #[serde(default)]
    children: Vec<TreeNode>,
}

#[derive(Deserialize)]
struct BrandRow {
    id: String,
    name: String,
}

/// The category tree, flattened with its depth, and the brands: the public API's answers.
/// Every category as (id, name, depth), in the tree's order.
pub(crate) async fn category_choices(app: &AppState) -> Result<Vec<(String, String, usize)>, ApiError> {
    let tree = read(
        catalog_api::categories_entry(app, &"/api/categories".parse().expect("a path"), QueryParams::parse("")?)
            .await?,
    );
    #[derive(Deserialize)]
    struct Data<T> {
        data: T,
    }
    let tree: Data<Vec<TreeNode>> = serde_json::from_slice(&tree).map_err(|_| ApiError::internal())?;
    fn walk(nodes: &[TreeNode], depth: usize, out: &mut Vec<(String, String, usize)>) {
        for n in nodes {
            out.push((n.id.clone(), n.name.clone(), depth));
            walk(&n.children, depth + 1, out);
        }
    }
    let mut flat = Vec::new();
    walk(&tree.data, 0, &mut flat);
    Ok(flat)
}

fn read(e: (std::sync::Arc<crate::cache::Entry>, crate::cache::Served)) -> bytes::Bytes {
    e.0.rendered.json.clone()
}

async fn choices(app: &AppState) -> Result<(Vec<(String, String, usize)>, Vec<BrandRow>), ApiError> {
    let flat = category_choices(app).await?;
    let brands =
        read(catalog_api::brands_entry(app, &"/api/brands".parse().expect("a path"), QueryParams::parse("")?).await?);
    #[derive(Deserialize)]
    struct Data<T> {
        data: T,
    }
    let brands: Data<Vec<BrandRow>> = serde_json::from_slice(&brands).map_err(|_| ApiError::internal())?;
    Ok((flat, brands.data))
}

/// A product's form, new or as it is.
#[derive(Debug, Default, Deserialize)]
pub struct ProductForm {
    csrf: Option<String>,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    brand_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    sale_price: String,
    #[serde(default)]
    quantity: String,
    /// the checkbox: present when ticked
    #[serde(default)]
    gift_card: Option<String>,
}

pub(crate) fn field(name: &str, label: &str, value: &str, errors: &BTreeMap<String, String>) -> Markup {
    let e = errors.get(name);
    html! {
        div.field {
            label for=(format!("f-{name}")) { (label) }
            input id=(format!("f-{name}")) name=(name) value=(value) aria-invalid=[e.map(|_| "true")]
                aria-describedby=[e.map(|_| format!("f-{name}-error"))] type="text";
            @if let Some(e) = e { span.field-error id=(format!("f-{name}-error")) { (e) } }
        }
    }
}

async fn product_form(
    app: &AppState,
    a: &AdminPage,
    f: &ProductForm,
    errors: &BTreeMap<String, String>,
    new: bool,
    action: &str,
) -> Result<Markup, ApiError> {
    let w = a.w;
    let (categories, brands) = choices(app).await?;
    let cat_error = errors.get("category_id");
    Ok(html! {
        form.panel method="post" action=(action) novalidate {
            (csrf(&a.ps))
            @if new { (field("sku", t(w, "SKU"), &f.sku, errors)) }
            (field("name", t(w, "Name"), &f.name, errors))
            @if !new { (field("slug", t(w, "Address (slug)"), &f.slug, errors)) }
            div.field {
                label for="f-description" { (t(w, "Description")) }
                textarea #f-description name="description" rows="5" { (f.description) }
                @if let Some(e) = errors.get("description") { span.field-error { (e) } }
            }
            div.row {
                div.field {
                    label for="f-category_id" { (t(w, "Category")) }
                    select #f-category_id name="category_id" aria-invalid=[cat_error.map(|_| "true")] {
                        option value="" { (t(w, "Choose a category")) }
                        @for (id, name, depth) in &categories {
                            option value=(id) selected[f.category_id == *id] { ("\u{a0}\u{a0}".repeat(*depth)) (name) }
                        }
                    }
                    @if let Some(e) = cat_error { span.field-error { (e) } }
                }
                div.field {
                    label for="f-brand_id" { (t(w, "Brand")) }
                    select #f-brand_id name="brand_id" {
                        option value="" { (t(w, "No brand")) }
                        @for b in &brands { option value=(b.id) selected[f.brand_id == b.id] { (b.name) } }
                    }
                }
                div.field {
                    label for="f-status" { (t(w, "Status")) }
                    select #f-status name="status" {
                        @for (s, label) in [("active", t(w, "Active: for sale")), ("draft", t(w, "Draft: not shown")), ("retired", t(w, "Retired"))] {
                            @if new && s == "retired" {} @else {
                                option value=(s) selected[f.status == s] { (label) }
                            }
                        }
                    }
                }
            }
            label.choice {
                input type="checkbox" name="gift_card" value="1" checked[f.gift_card.is_some()];
                (t(w, " A gift card: each one paid for issues a card of its price, the code mailed to the buyer"))
            }
            @if new {
                div.row {
                    (field("price", t(w, "Price"), &f.price, errors))
                    (field("sale_price", t(w, "Sale price (optional)"), &f.sale_price, errors))
                    (field("quantity", t(w, "Stock"), &f.quantity, errors))
                }
            }
            button type="submit" { @if new { (t(w, "Create product")) } @else { (t(w, "Save details")) } }
        }
    })
}

/// `GET /admin/products/new`
pub async fn new_page(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    let w = a.w;
    let f = ProductForm { status: "active".into(), quantity: "0".into(), ..Default::default() };
    let form = product_form(&app, &a, &f, &BTreeMap::new(), true, "/admin/products/new").await?;
    let main = html! { p.crumbs { a href="/admin/products" { (t(w, "Products")) } (t(w, " / new")) } h1 { (t(w, "New product")) } (form) };
    Ok(page_with(&app, &a, t(w, "New product"), "/admin/products", main))
}

/// A change the API refused, for its form: what to say beside each field — or, for a
/// product or variant that is not there, the error page.
pub(crate) fn refusal(w: Lang, e: ApiError) -> Result<BTreeMap<String, String>, ApiError> {
    if e.status == StatusCode::NOT_FOUND {
        Err(e)
    } else {
        Ok(api_errors(w, &e))
    }
}

pub(crate) fn api_errors(w: Lang, e: &ApiError) -> BTreeMap<String, String> {
    let mut errors = super::forms::by_field(w, e, "name");
    // the form's names for the API's fields
    for (api, form) in [("base_price", "price"), ("base", "price"), ("sale", "sale_price")] {
        if let Some(v) = errors.remove(api) {
            errors.insert(form.to_owned(), v);
        }
    }
    errors
}

/// `POST /admin/products/new`: the API's create, with its stock.
pub async fn create(
    State(app): State<AppState>,
    a: AdminPage,
    Form(f): Form<ProductForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let mut errors = BTreeMap::new();
    let price = parse_price(w, "price", &f.price, a.currency, &mut errors);
    let sale = if f.sale_price.trim().is_empty() {
        None
    } else {
        parse_price(w, "sale_price", &f.sale_price, a.currency, &mut errors)
    };
    let quantity = match f.quantity.trim().parse::<i64>() {
        Ok(q) => Some(q),
        Err(_) => {
            errors.insert("quantity".into(), t(w, "a whole number").into());
            None
        }
    };
    let category = Id::parse(&f.category_id);
    if category.is_none() {
        errors.insert("category_id".into(), t(w, "choose a category").into());
    }
    let outcome = match (errors.is_empty(), price, quantity, category) {
        (true, Some(base_price), Some(quantity), Some(category_id)) => {
            let body = api::NewProductIn {
                sku: f.sku.trim().to_owned(),
                name: f.name.trim().to_owned(),
                slug: None,
                description: Some(f.description.clone()).filter(|d| !d.trim().is_empty()),
                category_id,
                brand_id: Id::parse(&f.brand_id),
                base_price,
                sale_price: sale,
                weight_grams: None,
                status: Some(f.status.clone()).filter(|s| !s.is_empty()),
                quantity: Some(quantity),
                gift_card: Some(f.gift_card.is_some()),
            };
            #[derive(Deserialize)]
            struct Created {
                id: String,
            }
            answered::<Created>(api::create_product(State(app.clone()), a.admin.clone(), JsonBody(body)).await)
                .await
                .map_err(|e| api_errors(w, &e))
                .map(|c| c.id)
        }
        _ => Err(errors),
    };
    match outcome {
        Ok(id) => Ok(see_other(&format!("/admin/products/{id}"), None)),
        Err(errors) => {
            let form = product_form(&app, &a, &f, &errors, true, "/admin/products/new").await?;
            let main = html! {
                p.crumbs { a href="/admin/products" { (t(w, "Products")) } (t(w, " / new")) }
                h1 { (t(w, "New product")) }
                div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } }
                (form)
            };
            let mut resp = page_with(&app, &a, t(w, "New product"), "/admin/products", main);
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

pub(crate) async fn load(app: &AppState, a: &AdminPage, id: i64) -> Result<Product, ApiError> {
    answered(api::get_product(State(app.clone()), a.admin.clone(), PathId(id, PhantomData)).await).await
}

pub(crate) fn product_id(raw: &str) -> Result<i64, ApiError> {
    Id::parse(raw).map(|i| i.0).ok_or_else(|| ApiError::not_found("product"))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn product_page(
    app: &AppState,
    a: &AdminPage,
    p: Product,
    f: Option<&ProductForm>,
    errors: &BTreeMap<String, String>,
    status: StatusCode,
    saved: Option<&str>,
    adding: Option<(&super::admin_variants::VariantForm, &BTreeMap<String, String>)>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let as_is = ProductForm {
        sku: p.sku.clone(),
        name: p.name.clone(),
        slug: p.slug.clone(),
        description: p.description.clone(),
        category_id: p.category_id.clone(),
        brand_id: p.brand_id.clone().unwrap_or_default(),
        status: p.status.clone(),
        gift_card: p.gift_card.then(|| "1".to_owned()),
        ..Default::default()
    };
    let details =
        product_form(app, a, f.unwrap_or(&as_is), errors, false, &format!("/admin/products/{}", p.id)).await?;
    let price_error = errors.get("price").or_else(|| errors.get("sale_price"));
    let translations =
        super::admin_translations::panel(w, app, crate::catalog::translations::Owner::Product, product_id(&p.id)?)
            .await?;
    let in_currencies = super::admin_view::prices_panel(w, app, product_id(&p.id)?).await?;
    let main = html! {
        p.crumbs { a href="/admin/products" { (t(w, "Products")) } " / " (p.sku) }
        div.toolbar {
            h1 { (p.name) " " span class=(format!("status {}", p.status)) { (said(w, &p.status)) } }
            @if p.status == "active" { a href=(format!("/p/{}", p.slug)) { (t(w, "View in the shop →")) } }
        }
        @if !errors.is_empty() { div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } } }
        @if let Some(words) = saved { div.notice #saved role="status" { p { (said(w, words)) } } }
        div.checkout {
            div { (details) }
            aside {
                form.panel method="post" action=(format!("/admin/products/{}/price", p.id)) {
                    (csrf(&a.ps))
                    h2 { (t(w, "Price")) }
                    div.field {
                        label for="f-price" { (t(w, "Price")) }
                        input #f-price type="text" name="price" inputmode="decimal" value=(units(p.base_price, a.currency)) aria-invalid=[price_error.map(|_| "true")];
                    }
                    div.field {
                        label for="f-sale" { (t(w, "Sale price (empty: no sale)")) }
                        input #f-sale type="text" name="sale_price" inputmode="decimal" value=(p.sale_price.map(|s| units(s, a.currency)).unwrap_or_default());
                    }
                    @if let Some(e) = price_error { span.field-error { (e) } }
                    button type="submit" { (t(w, "Set price")) }
                }
                (in_currencies)
                section.panel.spaced aria-labelledby="stock" {
                    h2 #stock { (t(w, "Stock")) }
                    @for s in &p.stock {
                        form method="post" action=(format!("/admin/products/{}/stock", p.id)) {
                            (csrf(&a.ps))
                            input type="hidden" name="variant_id" value=(s.variant_id);
                            div.field {
                                label for=(format!("f-stock-{}", s.variant_id)) { @if p.stock.len() > 1 { (s.name) " · " } (s.sku) (t(w, " — for sale")) }
                                div.inline-row {
                                    input id=(format!("f-stock-{}", s.variant_id)) type="number" name="quantity" min="0" value=(s.available);
                                    button.quiet type="submit" { (t(w, "Set")) }
                                }
                                span.meta { (s.reserved) (t(w, " held by unpaid orders")) }
                            }
                        }
                    }
                    @if let Some(e) = errors.get("quantity") { span.field-error { (e) } }
                }
                @if p.status != "retired" {
                    form.panel.spaced method="post" action=(format!("/admin/products/{}/retire", p.id)) {
                        (csrf(&a.ps))
                        p.meta { (t(w, "A retired product leaves the shop; its orders keep it.")) }
                        button.quiet type="submit" { (t(w, "Retire product")) }
                    }
                }
            }
        }
        (super::admin_variants::section(a, &p, adding))
        (super::admin_images::section(a, &p, errors))
        (translations)
    };
    let mut resp = page_with(app, a, &p.name, "/admin/products", main);
    *resp.status_mut() = status;
    Ok(resp)
}

/// What a change that just succeeded says on the page it returns to.
const SAVED: &[(&str, &str)] = &[
    ("details", n_("The details are saved.")),
    ("price", n_("The price is set.")),
    ("stock", n_("The stock is set.")),
    ("retired", n_("The product is retired: it has left the shop.")),
    ("variant", n_("The variant is added.")),
    ("image", n_("The picture is added; its thumbnail is being made.")),
    ("image_changed", n_("The picture is changed.")),
    ("image_deleted", n_("The picture is deleted.")),
    ("translation", n_("The translation is saved.")),
    ("translation_removed", n_("The translation is removed.")),
];

/// `GET /admin/products/{id}[?saved=…]`
pub async fn show(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = load(&app, &a, product_id(&id)?).await?;
    let params = list_params(raw.as_deref(), &["saved"])?;
    let saved = get(&params, "saved").and_then(|s| SAVED.iter().find(|(k, _)| *k == s)).map(|(_, words)| *words);
    product_page(&app, &a, p, None, &BTreeMap::new(), StatusCode::OK, saved, None).await
}

/// `POST /admin/products/{id}`: the details, through the API's change.
pub async fn update(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<ProductForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = product_id(&id)?;
    let body = api::ProductPatch {
        name: Some(f.name.trim().to_owned()),
        description: Some(f.description.clone()),
        slug: Some(f.slug.trim().to_owned()),
        category_id: Id::parse(&f.category_id),
        brand_id: Id::parse(&f.brand_id),
        status: Some(f.status.clone()),
        weight_grams: None,
        gift_card: Some(f.gift_card.is_some()),
    };
    let changed = answered::<serde_json::Value>(
        api::update_product(State(app.clone()), a.admin.clone(), PathId(id, PhantomData), JsonBody(body)).await,
    )
    .await;
    match changed {
        Ok(_) => Ok(see_other(&format!("/admin/products/{id}?saved=details"), None)),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let p = load(&app, &a, id).await?;
            product_page(&app, &a, p, Some(&f), &api_errors(w, &e), e.status, None, None).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct PriceForm {
    csrf: Option<String>,
    #[serde(default)]
    price: String,
    #[serde(default)]
    sale_price: String,
}

/// `POST /admin/products/{id}/price`
pub async fn price(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<PriceForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = product_id(&id)?;
    let w = a.w;
    let mut errors = BTreeMap::new();
    let base = parse_price(w, "price", &f.price, a.currency, &mut errors);
    let sale = if f.sale_price.trim().is_empty() {
        None
    } else {
        parse_price(w, "sale_price", &f.sale_price, a.currency, &mut errors)
    };
    let outcome = match base {
        Some(base) if errors.is_empty() => answered::<serde_json::Value>(
            api::set_price(
                State(app.clone()),
                a.admin.clone(),
                PathId(id, PhantomData),
                JsonBody(api::PriceIn { base, sale }),
            )
            .await,
        )
        .await
        .map_err(|e| refusal(a.w, e)),
        _ => Err(Ok(errors)),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/products/{id}?saved=price"), None)),
        Err(Ok(errors)) => {
            let p = load(&app, &a, id).await?;
            product_page(&app, &a, p, None, &errors, StatusCode::UNPROCESSABLE_ENTITY, None, None).await
        }
        Err(Err(e)) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct StockForm {
    csrf: Option<String>,
    #[serde(default)]
    variant_id: String,
    #[serde(default)]
    quantity: String,
}

/// `POST /admin/products/{id}/stock`: one variant's units for sale.
pub async fn stock(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<StockForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = product_id(&id)?;
    let outcome = match f.quantity.trim().parse::<i64>() {
        Ok(quantity) => {
            let body = api::InventoryIn { quantity, variant_id: Id::parse(&f.variant_id) };
            answered::<serde_json::Value>(
                api::set_inventory(State(app.clone()), a.admin.clone(), PathId(id, PhantomData), JsonBody(body)).await,
            )
            .await
            .map_err(|e| refusal(a.w, e))
        }
        Err(_) => Err(Ok([("quantity".to_owned(), t(w, "a whole number").to_owned())].into())),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/products/{id}?saved=stock"), None)),
        Err(Ok(mut errors)) => {
            if let Some(v) = errors.remove("name") {
                errors.insert("quantity".into(), v);
            }
            let p = load(&app, &a, id).await?;
            product_page(&app, &a, p, None, &errors, StatusCode::UNPROCESSABLE_ENTITY, None, None).await
        }
        Err(Err(e)) => Err(e),
    }
}

/// `POST /admin/products/{id}/retire`
pub async fn retire(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = product_id(&id)?;
    super::buy::done(api::retire_product(State(app.clone()), a.admin.clone(), PathId(id, PhantomData)).await)?;
    Ok(see_other(&format!("/admin/products/{id}?saved=retired"), None))
}

#[cfg(test)]
mod tests {
    #[test]
    fn prices_are_read_as_owners_type_them() {
        let mut e = Default::default();
        assert_eq!(
            super::parse_price(crate::pages::words::Lang::En, "p", "19.99", crate::domain::Currency::USD, &mut e),
            Some(1999)
        );
        assert_eq!(
            super::parse_price(crate::pages::words::Lang::En, "p", "20", crate::domain::Currency::USD, &mut e),
            Some(2000)
        );
        assert_eq!(
            super::parse_price(crate::pages::words::Lang::En, "p", "20.5", crate::domain::Currency::USD, &mut e),
            Some(2050)
        );
        assert_eq!(
            super::parse_price(crate::pages::words::Lang::En, "p", "1,299.00", crate::domain::Currency::USD, &mut e),
            Some(129900)
        );
        assert!(e.is_empty());
        for bad in ["", "abc", "1.999", "-5", "1e3", ". 5"] {
            let mut e = Default::default();
            assert_eq!(
                super::parse_price(crate::pages::words::Lang::En, "p", bad, crate::domain::Currency::USD, &mut e),
                None,
                "{bad}"
            );
            assert!(e.contains_key("p"));
        }
    }
}
