//! The dashboard's draft orders: the list, a new draft (the customer's e-mail, the items by
//! SKU, the address), a draft's page (priced as checkout would price it, with what stands
//! in the way of completing it) where the owner changes it, drops it, or completes it —
//! into an order that awaits payment, whose payment link the page shows once, or into a
//! paid one. Every form goes through the API's own handler.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, get, list_params, older, page_with, when, AdminPage};
use super::admin_system::refused;
use super::buy::{answered, see_other};
use super::buy::{COUNTRIES, PAYMENT_METHODS};
use super::forms::{field, id_of, input, minor_units, Fields};
use super::layout::{self, money};
use super::session::{check_csrf, CSRF_FIELD};
use super::view::{Address, Money};
use super::words::{n_, said, t, tf, Lang};
use crate::admin;
use crate::admin::drafts::{CompleteIn, DraftChangeIn, DraftIn, DraftLineIn, ShopOrigin};
use crate::app::AppState;
use crate::customers::model::AddressIn;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::{JsonBody, QueryParams};

#[derive(Debug, Deserialize)]
struct Line {
    sku: String,
    name: String,
    quantity: i64,
    unit_price: Money,
    list_price: Money,
    custom_price: bool,
    line_total: Money,
    available: i64,
    for_sale: bool,
}

#[derive(Debug, Deserialize)]
struct ShippingOption {
    code: String,
    name: String,
    price: Money,
}

#[derive(Debug, Deserialize)]
struct Problem {
    message: String,
}

#[derive(Debug, Deserialize)]
struct Draft {
    id: String,
    status: String,
    customer_id: Option<String>,
    email: String,
    lines: Vec<Line>,
    shipping_address: Address,
    shipping_option: Option<String>,
    shipping_options: Vec<ShippingOption>,
    discount_code: Option<String>,
    payment_method: String,
    note: String,
    currency: String,
    subtotal: Money,
    discount: Money,
    shipping: Money,
    tax: Money,
    tax_included: bool,
    total: Money,
    problems: Vec<Problem>,
    order_id: Option<String>,
    order_status: Option<String>,
    updated_at: String,
}

#[derive(Debug, Deserialize)]
struct Completed {
    id: String,
    status: String,
    total: Money,
    email: String,
    payment_url: Option<String>,
}

fn amount(m: &Money) -> String {
    format!("{}.{:02}", m.amount / 100, m.amount % 100)
}

/// `GET /admin/draft-orders?status=&before=`
pub async fn list(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["status", "before"])?;
    let status = get(&p, "status");
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50")];
    api.extend(status.map(|s| ("status", s)));
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let rows: Vec<Draft> = answered(
        admin::drafts::list_drafts(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?).await,
    )
    .await?;
    let main = html! {
        p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } (t(w, " / Draft orders")) }
        h1 { (t(w, "Draft orders")) }
        p.meta { (t(w, "An order you build for a customer — taken on the phone or agreed by mail. Nothing is reserved until you complete it: then it becomes an order that waits for payment behind a payment link, or one you mark as paid.")) }
        p { a.button href="/admin/draft-orders/new" { (t(w, "New draft order")) } }
        nav.tabs aria-label=(t(w, "By status")) {
            a href="/admin/draft-orders" aria-current=[status.is_none().then_some("page")] { (t(w, "All")) }
            @for s in [n_("open"), n_("completed")] {
                a href=(format!("/admin/draft-orders?status={s}")) aria-current=[(status == Some(s)).then_some("page")] { (t(w, s)) }
            }
        }
        @if rows.is_empty() { p.empty { (t(w, "No draft orders here.")) } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Draft")) } th scope="col" { (t(w, "For")) } th scope="col" { (t(w, "Items")) } th scope="col" { (t(w, "Total")) } th scope="col" { (t(w, "Status")) } th scope="col" { (t(w, "Changed")) } } }
                tbody { @for d in &rows { tr {
                    td { a href=(format!("/admin/draft-orders/{}", d.id)) { (t(w, "Draft #")) (d.id) } }
                    td { (d.email) }
                    td data-label=(t(w, "Items")) { (d.lines.iter().map(|l| l.quantity).sum::<i64>()) }
                    td data-label=(t(w, "Total")) { (money(&d.total)) }
                    td data-label=(t(w, "Status")) {
                        span class=(format!("status {}", d.status)) { (said(w, &d.status)) }
                        @if let Some(o) = &d.order_id { " → " a href=(format!("/admin/orders/{o}")) { (t(w, "order #")) (o) } }
                    }
                    td data-label=(t(w, "Changed")) { (when(&d.updated_at)) }
                } } }
            }
            (older(w, "/admin/draft-orders", &status.map(|s| vec![("status", s)]).unwrap_or_default(), rows.len(), rows.last().map(|d| d.id.as_str())))
        }
    };
    Ok(page_with(&app, &a, t(w, "Draft orders"), "/admin/orders", main))
}

/// The form of a draft: new (`d` none) or an open one.
fn form(
    a: &AdminPage,
    d: Option<&Draft>,
    errors: &BTreeMap<String, String>,
    sent: &Fields,
    (custom_prices, currencies): (bool, &[String]),
) -> Markup {
    let w = a.w;
    let err = |k: &str| errors.get(k).map(String::as_str);
    // what the field shows: what was sent (a refused form), or the draft's
    let val = |name: &str, stored: &str| -> String {
        if sent.is_empty() {
            stored.to_owned()
        } else {
            field(sent, name).unwrap_or("").to_owned()
        }
    };
    let to = d.map(|d| &d.shipping_address);
    let lines: Vec<&Line> = d.map(|d| d.lines.iter().collect()).unwrap_or_default();
    let rows = lines.len() + 1;
    let action = match d {
        Some(d) => format!("/admin/draft-orders/{}", d.id),
        None => "/admin/draft-orders".to_owned(),
    };
    let country = val("shipping_address.country", to.map_or("US", |a| a.country.as_str()));
    let method = val("payment_method", d.map_or("card", |d| d.payment_method.as_str()));
    let currency = val("currency", d.map_or(currencies.first().map_or("USD", String::as_str), |d| d.currency.as_str()));
    html! {
        form.draft method="post" action=(action) aria-labelledby="draft-items" {
            (csrf(&a.ps))
            fieldset {
                legend { (t(w, "Customer")) }
                (input("email", t(w, "Customer's e-mail (an account's own makes the order theirs)"), &val("email", d.map_or("", |d| d.email.as_str())), "email", true, 254, err("email").or(err("customer_id")), "name@example.com"))
            }
            table.lines.draft-lines {
                caption #draft-items { (t(w, "Items (quantity 0 removes a line)")) }
                thead { tr {
                    th scope="col" { (t(w, "Item")) } th scope="col" { (t(w, "SKU")) } th scope="col" { (t(w, "Quantity")) }
                    @if custom_prices { th scope="col" { (t(w, "Own price (optional)")) } }
                } }
                tbody { @for i in 0..rows {
                    @let l = lines.get(i).copied();
                    @let (sku, q, own) = (format!("lines[{i}].sku"), format!("lines[{i}].quantity"), format!("lines[{i}].unit_price"));
                    tr {
                        td {
                            @if let Some(l) = l {
                                strong { (l.name) } br;
                                span.meta { (money(&l.unit_price)) (t(w, " each"))
                                    @if l.custom_price { (t(w, " (sells at ")) (money(&l.list_price)) ")" }
                                    " · " (l.available) (t(w, " in stock"))
                                    @if !l.for_sale { " · " strong { (t(w, "not for sale")) } } }
                            } @else { span.meta { (t(w, "Add a product by its SKU")) } }
                        }
                        td data-label=(t(w, "SKU")) {
                            input id=(id_of(&sku)) type="text" name=(sku) maxlength="100" aria-label=(if l.is_some() { tf(w, "SKU of line {n}", &[("n", &(i + 1))]) } else { t(w, "SKU of a product to add").to_owned() })
                                value=(val(&sku, l.map_or("", |l| l.sku.as_str())))
                                aria-invalid=[err(&sku).map(|_| "true")] aria-describedby=[err(&sku).map(|_| format!("{}-error", id_of(&sku)))];
                            @if let Some(m) = err(&sku) { p.field-error id=(format!("{}-error", id_of(&sku))) { (m) } }
                        }
                        td data-label=(t(w, "Quantity")) {
                            input id=(id_of(&q)) type="number" name=(q) min="0" max="1000" aria-label=(tf(w, "Quantity of line {n}", &[("n", &(i + 1))]))
                                value=(val(&q, &l.map_or("1".to_owned(), |l| l.quantity.to_string())))
                                aria-invalid=[err(&q).map(|_| "true")] aria-describedby=[err(&q).map(|_| format!("{}-error", id_of(&q)))];
                            @if let Some(m) = err(&q) { p.field-error id=(format!("{}-error", id_of(&q))) { (m) } }
                        }
                        @if custom_prices {
                            td data-label=(t(w, "Own price")) {
                                input id=(id_of(&own)) type="text" inputmode="decimal" name=(own) maxlength="15" aria-label=(tf(w, "Own unit price of line {n}", &[("n", &(i + 1))]))
                                    placeholder=[l.map(|l| amount(&l.list_price))]
                                    value=(val(&own, &l.filter(|l| l.custom_price).map(|l| amount(&l.unit_price)).unwrap_or_default()))
                                    aria-invalid=[err(&own).map(|_| "true")] aria-describedby=[err(&own).map(|_| format!("{}-error", id_of(&own)))];
                                @if let Some(m) = err(&own) { p.field-error id=(format!("{}-error", id_of(&own))) { (m) } }
                            }
                        }
                    }
                } }
            }
            @if let Some(m) = err("lines") { p.field-error #lines-error { (m) } }
            fieldset {
                legend { (t(w, "Shipping address")) }
                (input("shipping_address.name", t(w, "Name"), &val("shipping_address.name", to.map_or("", |a| a.name.as_str())), "text", true, 200, err("shipping_address.name"), ""))
                (input("shipping_address.line1", t(w, "Address"), &val("shipping_address.line1", to.map_or("", |a| a.line1.as_str())), "text", true, 200, err("shipping_address.line1"), ""))
                (input("shipping_address.line2", t(w, "Address, line 2 (optional)"), &val("shipping_address.line2", to.map_or("", |a| a.line2.as_str())), "text", false, 200, err("shipping_address.line2"), ""))
                (input("shipping_address.city", t(w, "City"), &val("shipping_address.city", to.map_or("", |a| a.city.as_str())), "text", true, 100, err("shipping_address.city"), ""))
                (input("shipping_address.state", t(w, "State or region (optional)"), &val("shipping_address.state", to.map_or("", |a| a.state.as_str())), "text", false, 100, err("shipping_address.state"), ""))
                (input("shipping_address.postal_code", t(w, "Postal code"), &val("shipping_address.postal_code", to.map_or("", |a| a.postal_code.as_str())), "text", true, 20, err("shipping_address.postal_code"), ""))
                div.field {
                    label for="f-shipping_address-country" { (t(w, "Country")) }
                    select #f-shipping_address-country name="shipping_address.country"
                        aria-invalid=[err("shipping_address.country").map(|_| "true")] aria-describedby=[err("shipping_address.country").map(|_| "f-shipping_address-country-error")] {
                        @for (code, name) in COUNTRIES { option value=(code) selected[*code == country] { (t(w, name)) } }
                    }
                    @if let Some(m) = err("shipping_address.country") { p.field-error #f-shipping_address-country-error { (m) } }
                }
            }
            fieldset {
                legend { (t(w, "Shipping, discount and payment")) }
                @if let Some(d) = d.filter(|d| !d.shipping_options.is_empty()) {
                    @let chosen = val("shipping_option", d.shipping_option.as_deref().unwrap_or(""));
                    div.field {
                        label for="f-shipping_option" { (t(w, "Shipping")) }
                        select #f-shipping_option name="shipping_option"
                            aria-invalid=[err("shipping_option").map(|_| "true")] aria-describedby=[err("shipping_option").map(|_| "f-shipping_option-error")] {
                            option value="" selected[chosen.is_empty()] { (t(w, "The cheapest")) }
                            @for o in &d.shipping_options { option value=(o.code) selected[o.code == chosen] { (o.name) " — " (money(&o.price)) } }
                        }
                        @if let Some(m) = err("shipping_option") { p.field-error #f-shipping_option-error { (m) } }
                    }
                }
                (input("discount_code", t(w, "Discount code (optional)"), &val("discount_code", d.and_then(|d| d.discount_code.as_deref()).unwrap_or("")), "text", false, 64, err("discount_code"), ""))
                div.field {
                    label for="f-payment_method" { (t(w, "The customer pays by")) }
                    select #f-payment_method name="payment_method" {
                        @for (code, name) in PAYMENT_METHODS { option value=(code) selected[*code == method] { (t(w, name)) } }
                    }
                }
                @if currencies.len() > 1 {
                    div.field {
                        label for="f-currency" { (t(w, "Currency (prices and the order)")) }
                        select #f-currency name="currency" aria-invalid=[err("currency").map(|_| "true")] {
                            @for c in currencies { option value=(c) selected[*c == currency] { (c) } }
                        }
                        @if let Some(m) = err("currency") { p.field-error #f-currency-error { (m) } }
                    }
                }
                (input("note", t(w, "Note for the shop (optional)"), &val("note", d.map_or("", |d| d.note.as_str())), "text", false, 500, err("note"), ""))
            }
            button type="submit" { @if d.is_some() { (t(w, "Save draft")) } @else { (t(w, "Create draft")) } }
            " " a href="/admin/draft-orders" { (t(w, "Cancel")) }
        }
    }
}

fn new_page(app: &AppState, a: &AdminPage, errors: &BTreeMap<String, String>, sent: &Fields) -> Response {
    let w = a.w;
    let main = html! {
        p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } " / " a href="/admin/draft-orders" { (t(w, "Draft orders")) } (t(w, " / New")) }
        h1 { (t(w, "New draft order")) }
        (summary_of_errors(w, errors))
        (form(a, None, errors, sent, (app.live().draft_custom_prices, &crate::domain::currencies::codes(&app.live().currencies))))
    };
    with_status(page_with(app, a, t(w, "New draft order"), "/admin/orders", main), errors)
}

fn summary_of_errors(w: Lang, errors: &BTreeMap<String, String>) -> Markup {
    html! {
        @if let Some(m) = errors.get("form") { div.error role="alert" #draft-error { p { (m) } } }
        @else if !errors.is_empty() { div.error role="alert" #draft-error { p { (t(w, "Nothing was saved: see the fields below.")) } } }
    }
}

fn with_status(mut resp: Response, errors: &BTreeMap<String, String>) -> Response {
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// `GET /admin/draft-orders/new`
pub async fn new(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    Ok(new_page(&app, &a, &BTreeMap::new(), &Vec::new()))
}

/// The draft a form describes, as the API takes it, with where each API line came from
/// (the form's row) — or the form's own errors.
struct Asked {
    email: String,
    lines: Vec<DraftLineIn>,
    rows: Vec<usize>,
    address: AddressIn,
    shipping_option: Option<String>,
    discount_code: Option<String>,
    payment_method: String,
    note: String,
}

async fn read_form(w: Lang, app: &AppState, f: &Fields) -> Result<Result<Asked, BTreeMap<String, String>>, ApiError> {
    let mut bad = BTreeMap::new();
    let text = |n: &str| field(f, n).unwrap_or("").trim().to_owned();
    let (mut lines, mut rows, mut wanted) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=crate::orders::drafts::MAX_LINES {
        let (sku_f, q_f, p_f) =
            (format!("lines[{i}].sku"), format!("lines[{i}].quantity"), format!("lines[{i}].unit_price"));
        if field(f, &sku_f).is_none() {
            break;
        }
        let sku = text(&sku_f);
        if sku.is_empty() {
            continue;
        }
        let quantity = match text(&q_f).parse::<i64>() {
            Ok(q) if (0..=1000).contains(&q) => q,
            _ => {
                bad.insert(q_f, t(w, "a whole number from 0 to 1000").to_owned());
                continue;
            }
        };
        if quantity == 0 {
            continue;
        }
        let typed = text(&p_f);
        let unit_price = if typed.is_empty() {
            None
        } else {
            match minor_units(&typed) {
                Some(p) => Some(p),
                None => {
                    bad.insert(p_f, t(w, "an amount such as 12.50").to_owned());
                    continue;
                }
            }
        };
        wanted.push((i, sku, quantity, unit_price));
    }
    // every SKU in one read
    let skus: Vec<String> = wanted.iter().map(|(_, sku, ..)| sku.clone()).collect();
    let found = app
        .db
        .read(move |conn| {
            skus.iter()
                .map(|sku| crate::catalog::store::variant_by_sku(conn, sku))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(ApiError::from)
        })
        .await?;
    for ((i, sku, quantity, unit_price), variant) in wanted.into_iter().zip(found) {
        match variant {
            Some(v) => {
                lines.push(DraftLineIn { variant_id: Id(v), quantity, unit_price });
                rows.push(i);
            }
            None => {
                bad.insert(
                    format!("lines[{i}].sku"),
                    tf(w, "no product or variant has the SKU {sku}", &[("sku", &sku)]),
                );
            }
        }
    }
    if !bad.is_empty() {
        return Ok(Err(bad));
    }
    let opt = |n: &str| Some(text(n)).filter(|s| !s.is_empty());
    Ok(Ok(Asked {
        email: text("email"),
        lines,
        rows,
        address: AddressIn {
            name: text("shipping_address.name"),
            line1: text("shipping_address.line1"),
            line2: opt("shipping_address.line2"),
            city: text("shipping_address.city"),
            state: opt("shipping_address.state"),
            postal_code: text("shipping_address.postal_code"),
            country: text("shipping_address.country"),
            phone: None,
        },
        shipping_option: opt("shipping_option"),
        discount_code: opt("discount_code"),
        payment_method: opt("payment_method").unwrap_or_else(|| "card".to_owned()),
        note: text("note"),
    }))
}

/// The API's errors in the form's names: `lines[j]` is the form's row `rows[j]`; a
/// variant is named by its SKU.
fn in_form_names(errors: BTreeMap<String, String>, rows: &[usize]) -> BTreeMap<String, String> {
    errors
        .into_iter()
        .map(|(k, v)| {
            let Some(rest) = k.strip_prefix("lines[") else { return (k, v) };
            let Some((j, tail)) = rest.split_once(']') else { return (k, v) };
            let Some(row) = j.parse::<usize>().ok().and_then(|j| rows.get(j)) else { return (k, v) };
            let tail = if tail == ".variant_id" { ".sku" } else { tail };
            (format!("lines[{row}]{tail}"), v)
        })
        .collect()
}

/// `POST /admin/draft-orders`: the API's new draft, from the form.
pub async fn create(State(app): State<AppState>, a: AdminPage, Form(f): Form<Fields>) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let asked = match read_form(a.w, &app, &f).await? {
        Ok(asked) => asked,
        Err(bad) => return Ok(new_page(&app, &a, &bad, &f)),
    };
    let rows = asked.rows.clone();
    let b = DraftIn {
        customer_id: None,
        email: Some(asked.email),
        lines: asked.lines,
        shipping_address: asked.address,
        shipping_option: asked.shipping_option,
        discount_code: asked.discount_code,
        payment_method: Some(asked.payment_method),
        note: Some(asked.note),
        currency: field(&f, "currency").map(str::to_owned),
    };
    match answered::<Draft>(admin::drafts::create_draft(State(app.clone()), a.admin.clone(), JsonBody(b)).await).await {
        Ok(d) => Ok(see_other(&format!("/admin/draft-orders/{}", d.id), None)),
        Err(e) => Ok(new_page(&app, &a, &in_form_names(refused(w, e)?, &rows), &f)),
    }
}

async fn load(app: &AppState, a: &AdminPage, id: i64) -> Result<Draft, ApiError> {
    answered(admin::drafts::get_draft(State(app.clone()), a.admin.clone(), PathId(id, PhantomData)).await).await
}

fn draft_page(app: &AppState, a: &AdminPage, d: &Draft, errors: &BTreeMap<String, String>, sent: &Fields) -> Response {
    let w = a.w;
    let open = d.status == "open";
    let main = html! {
        p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } " / " a href="/admin/draft-orders" { (t(w, "Draft orders")) } " / #" (d.id) }
        h1 { (t(w, "Draft order #")) (d.id) " " span class=(format!("status {}", d.status)) { (said(w, &d.status)) } }
        (summary_of_errors(w, errors))
        @if let Some(o) = &d.order_id {
            div.notice role="status" {
                p { (t(w, "This draft became ")) a href=(format!("/admin/orders/{o}")) { (t(w, "order #")) (o) } "."
                    @if let Some(st) = &d.order_status { (t(w, " It is ")) strong { (st) } "." } }
                @if d.order_status.as_deref() == Some("pending") {
                    form method="post" action=(format!("/admin/draft-orders/{}/payment-link", d.id)) {
                        (csrf(&a.ps))
                        p { (t(w, "Lost the link? A new one replaces it (the old one stops working) and is mailed to ")) (d.email) "." }
                        button type="submit" { (t(w, "Send a new payment link")) }
                    }
                }
            }
        }
        div.checkout {
            section.panel aria-labelledby="draft-items" {
                @if open { (form(a, Some(d), errors, sent, (app.live().draft_custom_prices, &crate::domain::currencies::codes(&app.live().currencies)))) }
                @else {
                    h2 #draft-items { (t(w, "Items")) }
                    ul { @for l in &d.lines { li { (l.quantity) " × " (l.name) " — " (money(&l.line_total)) } } }
                }
            }
            aside.summary aria-labelledby="draft-total" {
                h2 #draft-total { (t(w, "What the customer pays")) }
                dl {
                    dt { (t(w, "Subtotal")) } dd { (money(&d.subtotal)) }
                    @if d.discount.amount > 0 { dt { (t(w, "Discount")) @if let Some(c) = &d.discount_code { " (" (c) ")" } } dd { "−" (money(&d.discount)) } }
                    dt { (t(w, "Shipping")) } dd { (money(&d.shipping)) }
                    (layout::tax_row(&d.tax, d.tax_included))
                    dt { strong { (t(w, "Total")) } } dd.draft-total { strong { (money(&d.total)) } }
                }
                p.meta { (t(w, "For ")) (d.email) @if d.customer_id.is_some() { (t(w, " (a customer of the shop)")) } }
                @if open {
                    @if !d.problems.is_empty() {
                        div.error #draft-problems {
                            p { strong { (t(w, "Before it can be completed:")) } }
                            ul { @for p in &d.problems { li { (p.message) } } }
                        }
                    } @else {
                        form.complete method="post" action=(format!("/admin/draft-orders/{}/complete", d.id)) aria-labelledby="complete-title" {
                            (csrf(&a.ps))
                            h2 #complete-title { (t(w, "Complete")) }
                            p.meta { (t(w, "Completing reserves the stock and makes the order; the customer is mailed.")) }
                            (input("hold_hours", t(w, "Hold the stock for (hours, until paid)"), field(sent, "hold_hours").unwrap_or("72"), "number", false, 4, errors.get("hold_hours").map(String::as_str), ""))
                            button type="submit" name="paid" value="no" { (t(w, "Send a payment link")) }
                            " "
                            button.quiet type="submit" name="paid" value="yes" { (t(w, "Mark as paid")) }
                        }
                    }
                    form.inline method="post" action=(format!("/admin/draft-orders/{}/delete", d.id)) {
                        (csrf(&a.ps))
                        button.quiet type="submit" { (t(w, "Delete draft")) }
                    }
                }
            }
        }
    };
    with_status(page_with(app, a, &format!("{}{}", t(w, "Draft order #"), d.id), "/admin/orders", main), errors)
}

/// `GET /admin/draft-orders/{id}`
pub async fn show(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("draft order"))?;
    let d = load(&app, &a, id.0).await?;
    Ok(draft_page(&app, &a, &d, &BTreeMap::new(), &Vec::new()))
}

/// `POST /admin/draft-orders/{id}`: the API's change, from the form (all of it).
pub async fn save(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("draft order"))?;
    let errors = match read_form(a.w, &app, &f).await? {
        Err(bad) => bad,
        Ok(asked) => {
            let rows = asked.rows.clone();
            let b = DraftChangeIn {
                customer_id: None,
                email: Some(asked.email),
                lines: Some(asked.lines),
                shipping_address: Some(asked.address),
                shipping_option: Some(asked.shipping_option),
                discount_code: Some(asked.discount_code),
                payment_method: Some(asked.payment_method),
                note: Some(asked.note),
                currency: field(&f, "currency").map(str::to_owned),
            };
            let done = answered::<Draft>(
                admin::drafts::update_draft(
                    State(app.clone()),
                    a.admin.clone(),
                    PathId(id.0, PhantomData),
                    JsonBody(b),
                )
                .await,
            )
            .await;
            match done {
                Ok(_) => return Ok(see_other(&format!("/admin/draft-orders/{}", id.0), None)),
                Err(e) => in_form_names(refused(w, e)?, &rows),
            }
        }
    };
    let d = load(&app, &a, id.0).await?;
    Ok(draft_page(&app, &a, &d, &errors, &f))
}

/// `POST /admin/draft-orders/{id}/delete`
pub async fn delete(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("draft order"))?;
    let admin = a.admin.clone();
    let done = app.db.writer.run(move |tx| admin::drafts::delete_in(tx, &admin, id.0)).await;
    match done {
        Ok(()) => Ok(see_other("/admin/draft-orders", None)),
        Err(e) => {
            let errors = refused(w, e)?;
            let d = load(&app, &a, id.0).await?;
            Ok(draft_page(&app, &a, &d, &errors, &Vec::new()))
        }
    }
}

/// `POST /admin/draft-orders/{id}/complete`: the API's completion; the answer shows the
/// payment link, this once.
pub async fn complete(
    State(app): State<AppState>,
    a: AdminPage,
    origin: ShopOrigin,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("draft order"))?;
    let w = a.w;
    let mut errors = BTreeMap::new();
    let hold_hours = match field(&f, "hold_hours").unwrap_or("72").trim().parse::<i64>() {
        Ok(h) if (1..=720).contains(&h) => Some(h),
        _ => {
            errors.insert("hold_hours".to_owned(), t(w, "a whole number of hours from 1 to 720").to_owned());
            None
        }
    };
    if errors.is_empty() {
        let b = CompleteIn { paid: field(&f, "paid") == Some("yes"), hold_hours };
        match admin::drafts::complete(&app, a.admin.clone(), origin, id.0, b).await {
            Ok(done) => {
                let value = serde_json::to_value(&done).map_err(|_| ApiError::internal())?;
                let c: Completed = serde_json::from_value(value).map_err(|_| ApiError::internal())?;
                return Ok(completed_page(&app, &a, id.0, &c));
            }
            // the draft's lines are the form's rows
            Err(e) => {
                errors = in_form_names(refused(w, e)?, &(0..crate::orders::drafts::MAX_LINES).collect::<Vec<_>>());
            }
        }
    }
    let d = load(&app, &a, id.0).await?;
    Ok(draft_page(&app, &a, &d, &errors, &Vec::new()))
}

/// `POST /admin/draft-orders/{id}/payment-link`: the API's new link, shown this once.
pub async fn payment_link(
    State(app): State<AppState>,
    a: AdminPage,
    origin: ShopOrigin,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("draft order"))?;
    match admin::drafts::payment_link(&app, a.admin.clone(), origin, id.0).await {
        Ok(out) => {
            let order = out.order_id.0;
            let main = html! {
                p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } " / " a href="/admin/draft-orders" { (t(w, "Draft orders")) } " / #" (id.0) }
                h1 { (t(w, "A new payment link for order #")) (order) }
                div.notice role="status" { p { (t(w, "The customer is mailed this link; the one sent before no longer opens the order.")) } }
                (link_field(w, &out.payment_url))
                p { a.button href=(format!("/admin/orders/{order}")) { (t(w, "Go to the order")) } }
            };
            Ok(page_with(&app, &a, &format!("{}{}", t(w, "Order #"), order), "/admin/orders", main))
        }
        Err(e) => {
            let errors = refused(w, e)?;
            let d = load(&app, &a, id.0).await?;
            Ok(draft_page(&app, &a, &d, &errors, &Vec::new()))
        }
    }
}

/// A payment link in a read-only field, said this once.
fn link_field(w: Lang, url: &str) -> Markup {
    html! {
        div.field {
            label for="payment-link" { (t(w, "Payment link (shown this once: copy it now if you want to send it yourself)")) }
            div.copy-row {
                input #payment-link type="text" readonly value=(url);
                // shown by the script, which copies the link (the field can be copied by hand without it)
                button.quiet type="button" data-copy="payment-link" hidden aria-describedby="copy-said" { (t(w, "Copy")) }
            }
            span #copy-said.meta role="status" {}
        }
    }
}

fn completed_page(app: &AppState, a: &AdminPage, draft: i64, c: &Completed) -> Response {
    let w = a.w;
    let main = html! {
        p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } " / " a href="/admin/draft-orders" { (t(w, "Draft orders")) } " / #" (draft) }
        h1 { (t(w, "Order #")) (c.id) (t(w, " is placed")) }
        div.notice role="status" {
            p { (t(w, "Draft #")) (draft) (t(w, " became ")) a href=(format!("/admin/orders/{}", c.id)) { (t(w, "order #")) (c.id) } ": "
                strong { (said(w, &c.status)) } ", " (money(&c.total)) "." }
            @if !c.email.is_empty() { p { (c.email) (t(w, " is mailed the order")) @if c.payment_url.is_some() { (t(w, " with this link")) } "." } }
        }
        @if let Some(url) = &c.payment_url { (link_field(w, url)) }
        p { a.button href=(format!("/admin/orders/{}", c.id)) { (t(w, "Go to the order")) } }
    };
    page_with(app, a, &format!("{}{}", t(w, "Order #"), c.id), "/admin/orders", main)
}
