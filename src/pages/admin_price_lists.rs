//! The dashboard's prices of a price list: a panel on the list's page with its prices (a
//! product's, or one variant's, with a sale price when there is one) and a form to set or
//! remove one by SKU — each the admin API's ([`crate::admin::price_lists`]).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, AdminPage};
use super::admin_products::field;
use super::buy::see_other;
use super::layout::money;
use super::session::check_csrf;
use super::view::Money;
use super::words::{t, tf};
use crate::admin::price_lists::{self as pl, PriceIn};
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;

/// How many prices the panel shows (the API pages through the rest).
const SHOWN: i64 = 200;

/// The panel: the list's prices and the form that sets one. `typed` and `errors`: a form
/// sent back with what was wrong.
pub async fn panel(
    app: &AppState,
    a: &AdminPage,
    list: i64,
    errors: &BTreeMap<String, String>,
    typed: Option<&PriceForm>,
) -> Result<Markup, ApiError> {
    let w = a.w;
    let (prices, more) =
        app.db.read(move |conn| pl::page(conn, list, (0, -1), SHOWN).map(|(p, next)| (p, next.is_some()))).await?;
    let action = format!("/admin/price-lists/{list}/prices");
    let m = |amount: i64, currency: &str| money(&Money { amount, currency: currency.to_owned() });
    let typed_or = |f: fn(&PriceForm) -> &str| typed.map(f).unwrap_or("").to_owned();
    Ok(html! {
        section.panel aria-labelledby="prices" {
            h2 #prices { (t(w, "Prices")) }
            p.meta { (t(w, "A product's price here is each of its variants' unless a variant has its own. \
                      Shoppers pay the lowest price that applies to them.")) }
            @if prices.is_empty() { p.empty { (t(w, "No prices yet: add the first below.")) } }
            @else {
                table.lines {
                    thead { tr { th scope="col" { (t(w, "SKU")) } th scope="col" { (t(w, "Product")) } th scope="col" { (t(w, "Price")) }
                                 th scope="col" { (t(w, "Sale price")) } th scope="col" { span.skip { (t(w, "Remove")) } } } }
                    tbody { @for p in &prices {
                        tr {
                            td data-label=(t(w, "SKU")) { (p.sku) }
                            td data-label=(t(w, "Product")) { a href=(format!("/admin/products/{}", p.product_id.0)) { (p.name) } }
                            td data-label=(t(w, "Price")) { (m(p.amount, &p.currency)) }
                            td data-label=(t(w, "Sale price")) { @if let Some(s) = p.sale { (m(s, &p.currency)) } @else { "—" } }
                            td {
                                form.inline method="post" action=(action) {
                                    (csrf(&a.ps))
                                    input type="hidden" name="sku" value=(p.sku);
                                    input type="hidden" name="remove" value="1";
                                    button.quiet type="submit" aria-label=(tf(w, "Remove the price of {sku}", &[("sku", &p.sku)])) { (t(w, "Remove")) }
                                }
                            }
                        }
                    } }
                }
                @if more { p.meta { (t(w, "The first ")) (SHOWN) (t(w, " prices are shown; the API lists them all.")) } }
            }
            h3 { (t(w, "Set a price")) }
            @if let Some(e) = errors.get("form") { div.error role="alert" { p { (e) } } }
            form #set-price method="post" action=(action) novalidate {
                (csrf(&a.ps))
                (field("sku", t(w, "Product or variant SKU"), &typed_or(|t| &t.sku), errors))
                (field("amount", t(w, "Price"), &typed_or(|t| &t.amount), errors))
                (field("sale", t(w, "Sale price (optional)"), &typed_or(|t| &t.sale), errors))
                button type="submit" { (t(w, "Set price")) }
            }
        }
    })
}

/// The form that sets (or, with `remove`, removes) one price.
#[derive(Debug, Default, Deserialize)]
pub struct PriceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    sale: String,
    #[serde(default)]
    remove: String,
}

/// `POST /admin/price-lists/{id}/prices`: the API's set (or removal) of one price; back to
/// the list's page, or the page with the form's errors beside its fields.
pub async fn save(
    State(app): State<AppState>,
    a: AdminPage,
    Path(raw): Path<String>,
    Form(f): Form<PriceForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), Some(&f.csrf))?;
    let list = Id::parse(&raw).ok_or_else(|| ApiError::not_found("price list"))?.0;
    let mut errors = BTreeMap::new();
    let sku = f.sku.trim().to_owned();
    // a SKU names a variant, or a product (its price: each variant without one of its own)
    let found = {
        let sku = sku.clone();
        app.db
            .read(move |conn| {
                use rusqlite::OptionalExtension;
                let product: Option<i64> = conn
                    .prepare_cached("SELECT id FROM products WHERE sku = ?1")?
                    .query_row([&sku], |r| r.get(0))
                    .optional()?;
                let variant: Option<i64> = match product {
                    Some(_) => None,
                    None => conn
                        .prepare_cached("SELECT id FROM variants WHERE sku = ?1")?
                        .query_row([&sku], |r| r.get(0))
                        .optional()?,
                };
                Ok::<_, ApiError>((product, variant))
            })
            .await?
    };
    if sku.is_empty() {
        errors.insert("sku".to_owned(), t(w, "is required").to_owned());
    } else if found == (None, None) {
        errors.insert("sku".to_owned(), t(w, "no product or variant has this SKU").to_owned());
    }
    let remove = !f.remove.is_empty();
    let amount = if remove {
        None
    } else {
        match super::forms::minor_units(f.amount.trim()) {
            Some(a) => Some(a),
            None => {
                errors.insert("amount".to_owned(), t(w, "an amount like 12.50").to_owned());
                None
            }
        }
    };
    let sale = match f.sale.trim() {
        "" => None,
        s => match super::forms::minor_units(s) {
            Some(v) => Some(v),
            None => {
                errors.insert("sale".to_owned(), t(w, "an amount like 9.99, or nothing").to_owned());
                None
            }
        },
    };
    if errors.is_empty() {
        let item = PriceIn { product_id: found.0.map(Id), variant_id: found.1.map(Id), amount, sale };
        match pl::set_prices(&app, a.admin.clone(), list, vec![item]).await {
            Ok(_) => return Ok(see_other(&format!("/admin/price-lists/{list}?saved=1#prices"), None)),
            Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
                for (k, v) in &e.details {
                    let name = k.rsplit('.').next().unwrap_or(k);
                    let name = if name == "product_id" || name == "variant_id" { "sku" } else { name };
                    errors.insert(name.to_owned(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
                }
                if errors.is_empty() {
                    errors.insert("form".to_owned(), e.message);
                }
            }
            Err(e) => return Err(e),
        }
    }
    super::admin_tables::price_list_page(&app, &a, list, &f, &errors).await
}
