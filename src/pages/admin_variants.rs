//! A product's variants in the dashboard: the list on the product's page with the form that
//! adds one (its options typed one per line, "Colour: Black"), and a variant's page to change
//! its sku, options, name and price — each the admin API's (`crate::admin::products`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, page_with, AdminPage};
use super::admin_products::{load, parse_price, product_id, product_page, refusal, units, Product, Stock};
use super::buy::{answered, see_other};
use super::session::check_csrf;
use super::words::{t, tf, Lang};
use crate::admin::products as api;
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::JsonBody;

/// The add and change forms' fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct VariantForm {
    csrf: Option<String>,
    #[serde(default)]
    sku: String,
    /// one option a line: `Colour: Black`
    #[serde(default)]
    options: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    sale_price: String,
    #[serde(default)]
    quantity: String,
}

/// `Colour: Black` lines as the API's option map; a line without its colon is an error.
fn parse_options(w: Lang, typed: &str, errors: &mut BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in typed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                if out.insert(k.trim().to_owned(), v.trim().to_owned()).is_some() {
                    errors
                        .insert("options".into(), tf(w, "the option “{name}” is given twice", &[("name", &k.trim())]));
                }
            }
            _ => {
                errors.insert("options".into(), t(w, "one option a line, as Name: Value (Colour: Black)").into());
            }
        }
    }
    out
}

fn options_text(options: &BTreeMap<String, String>) -> String {
    options.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
}

fn field(
    id: &str,
    label: &str,
    name: &str,
    value: &str,
    errors: &BTreeMap<String, String>,
    hint: Option<&str>,
) -> Markup {
    let error = errors.get(name);
    let described = error.map(|_| format!("{id}-error"));
    html! {
        div.field {
            label for=(id) { (label) }
            @if let Some(h) = hint { span.hint { (h) } }
            @if name == "options" {
                textarea id=(id) name=(name) rows="3" aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()] { (value) }
            } @else {
                input id=(id) name=(name) value=(value) aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()]
                    inputmode=[(name.contains("price") || name == "quantity").then_some("decimal")];
            }
            @if let Some(e) = error { span.field-error id=(format!("{id}-error")) { (e) } }
        }
    }
}

fn price_of(w: Lang, p: &Product, v: &Stock, cur: crate::domain::Currency) -> String {
    match v.base_price {
        Some(b) => match v.sale_price {
            Some(s) => tf(w, "{price} (was {before})", &[("price", &units(s, cur)), ("before", &units(b, cur))]),
            None => units(b, cur),
        },
        None => tf(w, "{price} (the product's)", &[("price", &units(p.base_price, cur))]),
    }
}

/// The variants of the product's page, and the form that adds one.
pub(crate) fn section(a: &AdminPage, p: &Product, adding: Option<(&VariantForm, &BTreeMap<String, String>)>) -> Markup {
    let w = a.w;
    let empty = (VariantForm::default(), BTreeMap::new());
    let (f, errors) = adding.unwrap_or((&empty.0, &empty.1));
    html! {
        section.panel.spaced aria-labelledby="variants" {
            h2 #variants { (t(w, "Variants")) }
            table.lines {
                thead { tr { th scope="col" { (t(w, "Variant")) } th scope="col" { (t(w, "SKU")) } th scope="col" { (t(w, "Price")) } th scope="col" { (t(w, "For sale")) } } }
                tbody { @for v in &p.stock { tr #(format!("variant-{}", v.variant_id)) {
                    td { a href=(format!("/admin/products/{}/variants/{}", p.id, v.variant_id)) { (v.name) }
                         @if !v.options.is_empty() { br; span.meta { (options_text(&v.options).replace('\n', ", ")) } } }
                    td data-label=(t(w, "SKU")) { code { (v.sku) } }
                    td data-label=(t(w, "Price")) { (price_of(w, p, v, a.currency)) }
                    td data-label=(t(w, "For sale")) { (v.available) }
                } } }
            }
            h3 #add-variant { (t(w, "Add a variant")) }
            @if !errors.is_empty() { div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } } }
            form method="post" action=(format!("/admin/products/{}/variants", p.id)) novalidate aria-labelledby="add-variant" {
                (csrf(&a.ps))
                div.row {
                    (field("v-sku", t(w, "SKU"), "sku", &f.sku, errors, None))
                    (field("v-quantity", t(w, "For sale"), "quantity", &f.quantity, errors, None))
                }
                (field("v-options", t(w, "Options"), "options", &f.options, errors, Some(t(w, "one a line, e.g. Colour: Black"))))
                div.row {
                    (field("v-name", t(w, "Name (optional)"), "name", &f.name, errors, None))
                    (field("v-price", t(w, "Own price (optional)"), "price", &f.price, errors, None))
                    (field("v-sale", t(w, "Own sale price"), "sale_price", &f.sale_price, errors, None))
                }
                button type="submit" { (t(w, "Add variant")) }
            }
        }
    }
}

/// The API's body from a form: options, name, price; `None` with errors said by field.
fn parsed(
    w: Lang,
    f: &VariantForm,
    cur: crate::domain::Currency,
    errors: &mut BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Option<i64>, Option<i64>) {
    let options = parse_options(w, &f.options, errors);
    let base = (!f.price.trim().is_empty()).then(|| parse_price(w, "price", &f.price, cur, errors)).flatten();
    let sale =
        (!f.sale_price.trim().is_empty()).then(|| parse_price(w, "sale_price", &f.sale_price, cur, errors)).flatten();
    (options, base, sale)
}

/// `POST /admin/products/{id}/variants`
pub async fn add(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<VariantForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = product_id(&id)?;
    let mut errors = BTreeMap::new();
    let (options, base_price, sale_price) = parsed(a.w, &f, a.currency, &mut errors);
    let quantity = match f.quantity.trim() {
        "" => None,
        q => q.parse::<i64>().map(Some).unwrap_or_else(|_| {
            errors.insert("quantity".into(), t(w, "a whole number").into());
            None
        }),
    };
    let outcome = if errors.is_empty() {
        let body = api::VariantIn {
            sku: f.sku.trim().to_owned(),
            options,
            name: Some(f.name.trim().to_owned()).filter(|n| !n.is_empty()),
            base_price,
            sale_price,
            quantity,
        };
        answered::<serde_json::Value>(
            api::add_variant(
                State(app.clone()),
                a.admin.clone(),
                crate::http::path::PathId(id, std::marker::PhantomData),
                JsonBody(body),
            )
            .await,
        )
        .await
        .map_err(|e| refusal(a.w, e))
    } else {
        Err(Ok(errors))
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/products/{id}?saved=variant"), None)),
        Err(Ok(errors)) => {
            let p = load(&app, &a, id).await?;
            product_page(
                &app,
                &a,
                p,
                None,
                &BTreeMap::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((&f, &errors)),
            )
            .await
        }
        Err(Err(e)) => Err(e),
    }
}

fn variant_page(
    app: &AppState,
    a: &AdminPage,
    p: &Product,
    v: &Stock,
    f: Option<&VariantForm>,
    errors: &BTreeMap<String, String>,
    saved: bool,
) -> Response {
    let w = a.w;
    let as_is = VariantForm {
        sku: v.sku.clone(),
        options: options_text(&v.options),
        name: v.name.clone(),
        price: v.base_price.map(|b| units(b, a.currency)).unwrap_or_default(),
        sale_price: v.sale_price.map(|s| units(s, a.currency)).unwrap_or_default(),
        ..Default::default()
    };
    let f = f.unwrap_or(&as_is);
    let main = html! {
        p.crumbs { a href="/admin/products" { (t(w, "Products")) } " / " a href=(format!("/admin/products/{}", p.id)) { (p.sku) } " / " (v.sku) }
        h1 { (p.name) " — " (v.name) }
        @if saved { p.notice role="status" { (t(w, "Saved.")) } }
        @if !errors.is_empty() { div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } } }
        form.panel method="post" action=(format!("/admin/products/{}/variants/{}", p.id, v.variant_id)) novalidate {
            (csrf(&a.ps))
            div.row {
                (field("v-sku", t(w, "SKU"), "sku", &f.sku, errors, None))
                (field("v-name", t(w, "Name"), "name", &f.name, errors, Some(t(w, "what the shop's choice of variant says"))))
            }
            (field("v-options", t(w, "Options"), "options", &f.options, errors, Some(t(w, "one a line, e.g. Colour: Black"))))
            div.row {
                (field("v-price", t(w, "Own price"), "price", &f.price, errors, Some(t(w, "empty: the product's price"))))
                (field("v-sale", t(w, "Own sale price"), "sale_price", &f.sale_price, errors, None))
            }
            button type="submit" { (t(w, "Save")) }
        }
        p.meta { (t(w, "A variant stays for the orders that name it; to stop selling it, set its stock to 0 on the product's page.")) }
    };
    let mut resp = page_with(app, a, &format!("{} — {}", p.name, v.name), "/admin/products", main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

fn find<'a>(p: &'a Product, variant: &str) -> Result<&'a Stock, ApiError> {
    p.stock.iter().find(|v| v.variant_id == variant).ok_or_else(|| ApiError::not_found("variant"))
}

/// `GET /admin/products/{id}/variants/{variant_id}[?saved=1]`
pub async fn show(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, variant)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let p = load(&app, &a, product_id(&id)?).await?;
    let v = find(&p, &Id::parse(&variant).map(|i| i.0.to_string()).unwrap_or_default())?;
    let saved = raw.as_deref() == Some("saved=1");
    Ok(variant_page(&app, &a, &p, v, None, &BTreeMap::new(), saved))
}

/// `POST /admin/products/{id}/variants/{variant_id}`
pub async fn update(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, variant)): Path<(String, String)>,
    Form(f): Form<VariantForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let pid = product_id(&id)?;
    let mut errors = BTreeMap::new();
    let (options, base_price, sale_price) = parsed(a.w, &f, a.currency, &mut errors);
    if base_price.is_none() && sale_price.is_some() && errors.is_empty() {
        errors.insert("sale_price".into(), t(w, "give the variant its own price with its sale price").into());
    }
    let outcome = if errors.is_empty() {
        let body = api::VariantPatch {
            sku: Some(f.sku.trim().to_owned()),
            options: Some(options),
            name: Some(f.name.trim().to_owned()).filter(|n| !n.is_empty()),
            base_price: Some(base_price),
            sale_price,
        };
        answered::<serde_json::Value>(
            api::update_variant(
                State(app.clone()),
                a.admin.clone(),
                Path((id.clone(), variant.clone())),
                JsonBody(body),
            )
            .await,
        )
        .await
        .map_err(|e| refusal(a.w, e))
    } else {
        Err(Ok(errors))
    };
    match outcome {
        Ok(_) => Ok(see_other(
            &format!("/admin/products/{pid}/variants/{}?saved=1", Id::parse(&variant).map_or(0, |i| i.0)),
            None,
        )),
        Err(Ok(errors)) => {
            let p = load(&app, &a, pid).await?;
            let v = find(&p, &Id::parse(&variant).map(|i| i.0.to_string()).unwrap_or_default())?;
            Ok(variant_page(&app, &a, &p, v, Some(&f), &errors, false))
        }
        Err(Err(e)) => Err(e),
    }
}
