//! The dashboard's reference data — promotions, shipping rates, tax rates, categories,
//! brands and customer groups — from the same one-description-per-table the admin API validates with
//! (`crate::admin::resources`): a keyset list, a form to add one, a page to change or delete
//! one. Every write is the API's (its validation, writer unit and audit row); this module
//! only turns the description into fields a shop owner reads — money in the shop's
//! currency, percentages, dates — and back.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::admin::{csrf, get, list_params, page_with, AdminPage};
use super::buy::{answered, answered_whole, see_other};
use super::layout::money;
use super::session::check_csrf;
use super::view::Money;
use super::words::{n_, said, t, tf, Lang};
use crate::admin::resources::{self as res, Field, FieldKind, Resource};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::query::encode_pairs;
use crate::http::QueryParams;
use crate::util::{parse_utc, rfc3339};

/// One kind of reference data as the dashboard shows it.
pub struct Table {
    pub res: &'static Resource,
    /// the list's path; a row is at `{path}/{id}`, its deletion `{path}/{id}/delete`
    pub path: &'static str,
    pub item: &'static str,
    pub delete: &'static str,
    pub title: &'static str,
    /// the form that adds one: its heading and button ("Add a promotion")
    pub add: &'static str,
    /// the button that deletes one ("Delete this promotion")
    pub remove: &'static str,
    /// the columns of the list (the rest show on a row's page)
    pub columns: &'static [&'static str],
    /// a line under the heading: what the table is for
    pub about: &'static str,
}

pub const TABLES: &[Table] = &[
    Table {
        res: &res::PROMOTIONS,
        path: "/admin/promotions",
        item: "/admin/promotions/{id}",
        delete: "/admin/promotions/{id}/delete",
        title: n_("Promotions"),
        add: n_("Add a promotion"),
        remove: n_("Delete this promotion"),
        columns: &["code", "kind", "value", "min_subtotal", "ends_at", "active"],
        about: n_("Discount codes shoppers enter in the cart."),
    },
    Table {
        res: &res::SHIPPING_RATES,
        path: "/admin/shipping-rates",
        item: "/admin/shipping-rates/{id}",
        delete: "/admin/shipping-rates/{id}/delete",
        title: n_("Shipping rates"),
        add: n_("Add a shipping rate"),
        remove: n_("Delete this shipping rate"),
        columns: &["name", "code", "country", "price", "free_above"],
        about: n_("What shoppers may choose at checkout, by country (* for anywhere else), order size and weight."),
    },
    Table {
        res: &res::TAX_RATES,
        path: "/admin/tax-rates",
        item: "/admin/tax-rates/{id}",
        delete: "/admin/tax-rates/{id}/delete",
        title: n_("Tax rates"),
        add: n_("Add a tax rate"),
        remove: n_("Delete this tax rate"),
        columns: &["name", "country", "region", "rate_bp", "inclusive"],
        about: n_("Tax by the shipping address's country and region: added to the prices, or, when included, \
                the part of them that is tax (gross prices, as shown in the EU)."),
    },
    Table {
        res: &res::CATEGORIES,
        path: "/admin/categories",
        item: "/admin/categories/{id}",
        delete: "/admin/categories/{id}/delete",
        title: n_("Categories"),
        add: n_("Add a category"),
        remove: n_("Delete this category"),
        columns: &["name", "slug", "parent_id", "position"],
        about: n_("The shop's departments and the categories below them."),
    },
    Table {
        res: &res::CUSTOMER_GROUPS,
        path: "/admin/customer-groups",
        item: "/admin/customer-groups/{id}",
        delete: "/admin/customer-groups/{id}/delete",
        title: n_("Customer groups"),
        add: n_("Add a customer group"),
        remove: n_("Delete this customer group"),
        columns: &["name", "description"],
        about: n_("Groups of customers (wholesale, VIP…): a customer's page says which they belong to. \
                Deleting a group takes its members out of it."),
    },
    Table {
        res: &res::PRICE_LISTS,
        path: "/admin/price-lists",
        item: "/admin/price-lists/{id}",
        delete: "/admin/price-lists/{id}/delete",
        title: n_("Price lists"),
        add: n_("Add a price list"),
        remove: n_("Delete this price list"),
        columns: &["name", "currency", "customer_group_id", "starts_at", "ends_at"],
        about: n_("Prices in a currency, for everyone or for one customer group, always or for a while (a sale that \
                starts and ends by itself). A shopper pays the lowest price that applies; a list for everyone \
                in another currency than the default sets its prices there instead of the conversion."),
    },
    Table {
        res: &res::BRANDS,
        path: "/admin/brands",
        item: "/admin/brands/{id}",
        delete: "/admin/brands/{id}/delete",
        title: n_("Brands"),
        add: n_("Add a brand"),
        remove: n_("Delete this brand"),
        columns: &["name", "slug"],
        about: n_("Makers shoppers filter by."),
    },
];

/// How a field is shown and typed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Plain,
    /// minor units, typed as `12.50`
    Money,
    /// unix ms, typed in a `datetime-local` field (UTC)
    Time,
    /// basis points, typed as a percentage (`20` or `7.5`)
    Percent,
    /// a promotion's value: a percentage for `percent`, money for `fixed`
    PromotionValue,
    /// amounts in other currencies, typed as `EUR 4.50, JPY 700`
    Amounts,
}

fn unit(field: &Field) -> Unit {
    if let FieldKind::Amounts(..) = field.kind {
        return Unit::Amounts;
    }
    match field.name {
        "price" | "min_subtotal" | "max_subtotal" | "free_above" => Unit::Money,
        "starts_at" | "ends_at" => Unit::Time,
        "rate_bp" => Unit::Percent,
        "value" => Unit::PromotionValue,
        _ => Unit::Plain,
    }
}

fn label(w: Lang, field: &Field) -> String {
    let en: String = match field.name {
        "min_subtotal" => n_("Minimum order").into(),
        "max_subtotal" => n_("Maximum order").into(),
        "free_above" => n_("Free from").into(),
        "starts_at" => n_("Starts (UTC)").into(),
        "ends_at" => n_("Ends (UTC)").into(),
        "usage_limit" => n_("Uses allowed").into(),
        "rate_bp" => n_("Rate (%)").into(),
        "inclusive" => n_("Included in prices").into(),
        "max_weight_grams" => n_("Maximum weight (g)").into(),
        "parent_id" => n_("Parent").into(),
        "logo_url" => n_("Logo address").into(),
        "customer_group_id" => n_("Customer group").into(),
        "country" => n_("Country").into(),
        "value_in" => n_("Discount in other currencies").into(),
        "min_subtotal_in" => n_("Minimum order in other currencies").into(),
        "price_in" => n_("Price in other currencies").into(),
        "free_above_in" => n_("Free from, in other currencies").into(),
        "code" => n_("Code").into(),
        "kind" => n_("Kind").into(),
        "position" => n_("Position").into(),
        "region" => n_("Region").into(),
        "slug" => n_("Slug").into(),
        "value" => n_("Value").into(),
        n => {
            let s = n.replace('_', " ");
            let mut c = s.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        }
    };
    said(w, &en).to_owned()
}

/// A value of a row as the list and the form show it; its amounts (but those per currency)
/// in `default`, the shop's default currency.
fn shown(
    w: Lang,
    field: &Field,
    row: &Map<String, Value>,
    parents: &BTreeMap<String, String>,
    form: bool,
    default: &str,
) -> String {
    let in_default = |amount: i64| money(&Money { amount, currency: default.to_owned() });
    let v = row.get(field.name).unwrap_or(&Value::Null);
    if v.is_null() {
        // a price list without a group is everyone's
        return if field.name == "customer_group_id" && !form { t(w, "Everyone").to_owned() } else { String::new() };
    }
    if let (Unit::Amounts, Value::Object(amounts)) = (unit(field), v) {
        return amounts_shown(amounts, form);
    }
    let int = v.as_i64();
    match (unit(field), int) {
        (Unit::Money, Some(n)) if form => super::forms::typed_amount(n, default),
        (Unit::Money, Some(n)) => in_default(n),
        (Unit::Time, Some(n)) if form => rfc3339(n)[..16].to_owned(),
        (Unit::Time, Some(n)) => rfc3339(n)[..16].replace('T', " "),
        (Unit::Percent, Some(n)) => {
            let s = format!("{}.{:02}", n / 100, n % 100);
            let s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
            if form {
                s
            } else {
                format!("{s} %")
            }
        }
        (Unit::PromotionValue, Some(n)) => {
            if row.get("kind").and_then(Value::as_str) == Some("fixed") {
                if form {
                    super::forms::typed_amount(n, default)
                } else {
                    in_default(n)
                }
            } else if form {
                n.to_string()
            } else {
                format!("{n} %")
            }
        }
        _ => match (&field.kind, v) {
            (FieldKind::Ref(_), Value::String(id)) if !form => parents.get(id).cloned().unwrap_or_else(|| id.clone()),
            (FieldKind::Flag(_), Value::Bool(b)) if !form => (if *b { t(w, "yes") } else { t(w, "no") }).to_owned(),
            // a promotion's kind, as the API names it
            (_, Value::String(s)) if !form && field.name == "kind" => said(w, s).to_owned(),
            (FieldKind::Flag(_), Value::Bool(b)) => b.to_string(),
            (_, Value::String(s)) => s.clone(),
            (_, v) => v.to_string(),
        },
    }
}

/// Amounts per currency as the form types them (`EUR 4.50, JPY 700`) or the page shows them
/// (`€4.50, ¥700`).
fn amounts_shown(amounts: &Map<String, Value>, form: bool) -> String {
    let each = amounts.iter().filter_map(|(code, v)| {
        let amount = v.as_i64()?;
        Some(if form {
            format!("{code} {}", super::forms::typed_amount(amount, code))
        } else {
            money(&Money { amount, currency: code.clone() })
        })
    });
    each.collect::<Vec<_>>().join(", ")
}

/// Amounts per currency as typed (`EUR 4.50, JPY 700`: a code and an amount in it, each
/// currency once), as the API takes them; or what is wrong.
fn amounts_typed(w: Lang, typed: &str) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for part in typed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || tf(w, "“{part}” is not a currency code and an amount, like EUR 4.50", &[("part", &part)]);
        let (code, amount) = part.split_once(' ').ok_or_else(bad)?;
        let code = code.trim().to_ascii_uppercase();
        if crate::domain::Currency::parse(&code).is_none() {
            return Err(bad());
        }
        let minor = super::forms::minor_units_in(amount, &code).ok_or_else(|| {
            let like = super::forms::typed_amount(450, &code);
            tf(w, "the amount in {code} must be like {amount}", &[("code", &code), ("amount", &like)])
        })?;
        if out.insert(code.clone(), Value::from(minor)).is_some() {
            return Err(tf(w, "{code} is named twice", &[("code", &code)]));
        }
    }
    Ok(out)
}

/// The API's body from a posted form: each field of the description typed as the form
/// shows it. Empty optional fields are null (or left as they are on a change when they
/// cannot be null); errors are the form's, by field.
/// `default`: the shop's default currency, of the amounts but those per currency.
fn body_of(
    w: Lang,
    tb: &Table,
    form: &BTreeMap<String, String>,
    create: bool,
    default: &str,
) -> Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut body = Map::new();
    let mut errors = BTreeMap::new();
    let kind = form.get("kind").map(String::as_str);
    for f in tb.res.fields {
        let typed = form.get(f.name).map(|s| s.trim()).unwrap_or("");
        if let FieldKind::Flag(_) = f.kind {
            body.insert(f.name.into(), Value::Bool(form.contains_key(f.name)));
            continue;
        }
        if typed.is_empty() {
            if f.nullable && !create {
                body.insert(f.name.into(), Value::Null);
            } else if matches!(f.kind, FieldKind::Text(_)) && !f.required {
                body.insert(f.name.into(), Value::String(String::new()));
            } else if f.required {
                errors.insert(f.name.to_owned(), t(w, "is required").to_owned());
            }
            continue;
        }
        let value = match (unit(f), &f.kind) {
            (Unit::Amounts, _) => match amounts_typed(w, typed) {
                Ok(amounts) => Ok(Value::Object(amounts)),
                Err(e) => {
                    errors.insert(f.name.to_owned(), e);
                    continue;
                }
            },
            (Unit::Money, _) => super::forms::minor_units_in(typed, default).map(Value::from).ok_or(
                if super::forms::typed_amount(1, default) == "1" {
                    n_("an amount like 1250")
                } else {
                    n_("an amount like 12.50")
                },
            ),
            // basis points are hundredths, as cents are
            (Unit::Percent, _) => {
                super::forms::minor_units(typed).map(Value::from).ok_or(n_("a percentage like 20 or 7.5"))
            }
            (Unit::Time, _) => parse_utc(&format!("{typed}:00Z"))
                .or_else(|| parse_utc(typed))
                .map(Value::from)
                .ok_or(n_("a date and time")),
            (Unit::PromotionValue, _) if kind == Some("fixed") => super::forms::minor_units_in(typed, default)
                .map(Value::from)
                .ok_or(if super::forms::typed_amount(1, default) == "1" {
                    n_("an amount like 500")
                } else {
                    n_("an amount like 5.00")
                }),
            (_, FieldKind::Int(..)) => typed.parse::<i64>().map(Value::from).map_err(|_| n_("a whole number")),
            _ => Ok(Value::String(typed.to_owned())),
        };
        match value {
            Ok(v) => {
                body.insert(f.name.into(), v);
            }
            Err(e) => {
                errors.insert(f.name.to_owned(), t(w, e).to_owned());
            }
        }
    }
    if errors.is_empty() {
        Ok(body)
    } else {
        Err(errors)
    }
}

/// The API's validation errors by field (a rule of the table or a conflict on the form).
fn api_errors(w: Lang, e: &ApiError) -> BTreeMap<String, String> {
    let mut errors = super::forms::by_field(w, e, "form");
    // a problem of the whole body is the form's
    if let Some(body) = errors.get("body").cloned() {
        errors.insert("form".to_owned(), body);
    }
    errors
}

/// Every category as (id, indented name), for the parent field and the list.
async fn categories(app: &AppState) -> Result<Vec<(String, String)>, ApiError> {
    Ok(super::admin_products::category_choices(app)
        .await?
        .into_iter()
        .map(|(id, name, depth)| (id, format!("{}{name}", "\u{a0}\u{a0}".repeat(depth))))
        .collect())
}

/// The rows a table's reference field chooses from, as (id, name): categories (indented)
/// for a category's parent, customer groups for a price list's group.
async fn choices(app: &AppState, tb: &Table) -> Result<Vec<(String, String)>, ApiError> {
    match tb.res.table {
        "categories" => categories(app).await,
        "price_lists" => {
            app.db
                .read(|conn| {
                    conn.prepare_cached(
                        "SELECT cast(id AS TEXT), name FROM customer_groups ORDER BY name COLLATE NOCASE LIMIT 500",
                    )?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<(String, String)>>>()
                    .map_err(ApiError::from)
                })
                .await
        }
        _ => Ok(Vec::new()),
    }
}

fn form_fields(
    w: Lang,
    tb: &Table,
    values: &Map<String, Value>,
    typed: Option<&BTreeMap<String, String>>,
    errors: &BTreeMap<String, String>,
    cats: &[(String, String)],
    currencies: &[String],
) -> Markup {
    let none = BTreeMap::new();
    let default = currencies.first().map_or("USD", String::as_str);
    html! {
        @for f in tb.res.fields {
            @let id = format!("f-{}", f.name);
            @let e = errors.get(f.name);
            @let value = typed.and_then(|tb| tb.get(f.name).cloned()).unwrap_or_else(|| shown(w, f, values, &none, true, default));
            @let described = e.map(|_| format!("{id}-error"));
            div.field {
                @match &f.kind {
                    FieldKind::Flag(default) => {
                        label.choice {
                            input id=(id) type="checkbox" name=(f.name) value="true"
                                checked[typed.map_or(values.get(f.name).and_then(Value::as_bool).unwrap_or(*default), |tb| tb.contains_key(f.name))];
                            " " (label(w, f))
                        }
                    }
                    FieldKind::Enum(choices) => {
                        label for=(id) { (label(w, f)) }
                        select id=(id) name=(f.name) aria-invalid=[e.map(|_| "true")] aria-describedby=[described.clone()] {
                            @for c in *choices { option value=(c) selected[value == *c] { (said(w, c)) } }
                        }
                    }
                    FieldKind::Currency => {
                        label for=(id) { (label(w, f)) }
                        select id=(id) name=(f.name) aria-invalid=[e.map(|_| "true")] aria-describedby=[described.clone()] {
                            @for c in currencies { option value=(c) selected[value == *c] { (c) } }
                        }
                    }
                    FieldKind::Ref(table) => {
                        label for=(id) { (label(w, f)) }
                        select id=(id) name=(f.name) aria-invalid=[e.map(|_| "true")] aria-describedby=[described.clone()] {
                            option value="" { (if *table == "customer_groups" { t(w, "Everyone") } else { t(w, "None (top level)") }) }
                            @for (cid, name) in cats {
                                @if values.get("id").and_then(Value::as_str) != Some(cid.as_str()) {
                                    option value=(cid) selected[value == *cid] { (name) }
                                }
                            }
                        }
                    }
                    FieldKind::Text(max) if *max > 1000 => {
                        label for=(id) { (label(w, f)) }
                        textarea id=(id) name=(f.name) rows="3" maxlength=(max) aria-invalid=[e.map(|_| "true")] aria-describedby=[described.clone()] { (value) }
                    }
                    _ => {
                        label for=(id) { (label(w, f)) @if !f.required { span.meta { (t(w, " (optional)")) } } }
                        @let kind = match unit(f) { Unit::Time => "datetime-local", _ => "text" };
                        @let mode = match (unit(f), &f.kind) { (Unit::Plain, FieldKind::Int(..)) => Some("numeric"), (Unit::Plain, _) | (Unit::Time, _) | (Unit::Amounts, _) => None, _ => Some("decimal") };
                        input id=(id) type=(kind) name=(f.name) value=(value) inputmode=[mode]
                            required[f.required] aria-invalid=[e.map(|_| "true")] aria-describedby=[described.clone()];
                        @if unit(f) == Unit::PromotionValue { span.hint { (t(w, "A percentage for percent promotions, an amount for fixed ones.")) } }
                        @if unit(f) == Unit::Amounts { span.hint { (t(w, "Each currency's code and amount, like EUR 4.50, JPY 700. A currency left out converts at its rate.")) } }
                    }
                }
                @if let Some(e) = e { span.field-error id=(format!("{id}-error")) { (e) } }
            }
        }
    }
}

fn item_path(tb: &Table, id: &str) -> String {
    tb.item.replace("{id}", id)
}

#[derive(serde::Deserialize)]
struct Rows {
    data: Vec<Map<String, Value>>,
    meta: Meta,
}

#[derive(serde::Deserialize)]
struct Meta {
    next_before: Option<String>,
}

async fn rows(app: &AppState, tb: &'static Table, before: Option<&str>) -> Result<Rows, ApiError> {
    let mut q: Vec<(&str, &str)> = vec![("per_page", "50")];
    q.extend(before.map(|b| ("before", b)));
    answered_whole(res::list(app.clone(), tb.res, QueryParams::parse(&encode_pairs(q))?).await).await
}

async fn list_page(
    app: &AppState,
    a: &AdminPage,
    tb: &'static Table,
    before: Option<&str>,
    typed: Option<&BTreeMap<String, String>>,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let Rows { data: rows, meta } = rows(app, tb, before).await?;
    let cats = choices(app, tb).await?;
    let default = a.currency.as_str();
    let parents: BTreeMap<String, String> =
        cats.iter().map(|(id, n)| (id.clone(), n.trim_start_matches('\u{a0}').to_owned())).collect();
    let fields: Vec<&Field> = tb.columns.iter().filter_map(|c| tb.res.fields.iter().find(|f| f.name == *c)).collect();
    let main = html! {
        h1 { (t(w, tb.title)) }
        (tabs(w, tb))
        p.meta { (t(w, tb.about)) }
        @if rows.is_empty() { p.empty { (t(w, "None yet.")) } }
        @else {
            table.lines {
                thead { tr { @for f in &fields { th scope="col" { (label(w, f)) } } } }
                tbody { @for r in &rows {
                    @let id = r.get("id").and_then(Value::as_str).unwrap_or("");
                    tr { @for (i, f) in fields.iter().enumerate() {
                        @if i == 0 { td { a href=(item_path(tb, id)) { (shown(w, f, r, &parents, false, default)) } } }
                        @else { td data-label=(label(w, f)) { (shown(w, f, r, &parents, false, default)) } }
                    } }
                } }
            }
            @if let Some(next) = &meta.next_before {
                nav.pages aria-label=(t(w, "More")) { a href=(format!("{}?before={next}", tb.path)) rel="next" { (t(w, "Older →")) } }
            }
        }
        section.panel aria-labelledby="add" {
            h2 #add { (t(w, tb.add)) }
            @if let Some(e) = errors.get("form") { div.error role="alert" { p { (e) } } }
            @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } } }
            form method="post" action=(tb.path) novalidate {
                (csrf(&a.ps))
                (form_fields(w, tb, &Map::new(), typed, errors, &cats, &crate::domain::currencies::codes(&app.live().currencies)))
                button type="submit" { (t(w, tb.add)) }
            }
        }
    };
    let mut resp = page_with(app, a, t(w, tb.title), section(tb).0, main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

#[allow(clippy::too_many_arguments)] // the page's parts: its row, a form sent back, a panel of its own
async fn item_page(
    app: &AppState,
    a: &AdminPage,
    tb: &'static Table,
    row: Map<String, Value>,
    typed: Option<&BTreeMap<String, String>>,
    errors: &BTreeMap<String, String>,
    saved: bool,
    extra: Option<Markup>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let cats = choices(app, tb).await?;
    let id = row.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
    // named by the list's first column (a tax rate by its name, a promotion by its code)
    let name = tb
        .columns
        .first()
        .and_then(|c| tb.res.fields.iter().find(|f| f.name == *c))
        .map(|f| shown(w, f, &row, &BTreeMap::new(), false, a.currency.as_str()))
        .unwrap_or_default();
    // categories and brands are translated on their pages
    use crate::catalog::translations::Owner;
    let owner = match tb.res.table {
        "categories" => Some(Owner::Category),
        "brands" => Some(Owner::Brand),
        _ => None,
    };
    let translations = match (owner, crate::domain::Id::parse(&id)) {
        (Some(owner), Some(n)) => Some(super::admin_translations::panel(w, app, owner, n.0).await?),
        _ => None,
    };
    // a price list's prices are set on its page
    let prices = match (extra, tb.res.table, crate::domain::Id::parse(&id)) {
        (Some(panel), _, _) => Some(panel),
        (None, "price_lists", Some(n)) => {
            Some(super::admin_price_lists::panel(app, a, n.0, &BTreeMap::new(), None).await?)
        }
        _ => None,
    };
    let main = html! {
        p.crumbs { a href=(tb.path) { (t(w, tb.title)) } " / " (name) }
        h1 { (name) }
        @if saved { p.notice role="status" { (t(w, "Saved.")) } }
        @if let Some(e) = errors.get("form") { div.error role="alert" { p { (e) } } }
        @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } } }
        form.panel method="post" action=(item_path(tb, &id)) novalidate {
            (csrf(&a.ps))
            (form_fields(w, tb, &row, typed, errors, &cats, &crate::domain::currencies::codes(&app.live().currencies)))
            button type="submit" { (t(w, "Save")) }
        }
        @if let Some(tb) = &translations { (tb) }
        @if let Some(p) = &prices { (p) }
        form.panel method="post" action=(tb.delete.replace("{id}", &id)) {
            (csrf(&a.ps))
            p.meta { (t(w, "Deleting cannot be undone, and what other rows still use cannot be deleted.")) }
            button.danger type="submit" { (t(w, tb.remove)) }
        }
    };
    let mut resp = page_with(app, a, &name, section(tb).0, main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// The customers' pages: the list and the groups (as tabs).
pub const CUSTOMERS: &[(&str, &str)] =
    &[("/admin/customers", n_("Customers")), ("/admin/customer-groups", n_("Groups"))];

/// The menu entry a table's pages are under, and the tables that share it (as tabs).
fn section(tb: &Table) -> (&'static str, &'static [(&'static str, &'static str)]) {
    const RATES: &[(&str, &str)] =
        &[("/admin/shipping-rates", n_("Shipping rates")), ("/admin/tax-rates", n_("Tax rates"))];
    const CATALOG: &[(&str, &str)] = &[("/admin/categories", n_("Categories")), ("/admin/brands", n_("Brands"))];
    const PRICING: &[(&str, &str)] =
        &[("/admin/promotions", n_("Promotions")), ("/admin/price-lists", n_("Price lists"))];
    match tb.res.table {
        "promotions" | "price_lists" => ("/admin/promotions", PRICING),
        "shipping_rates" | "tax_rates" => ("/admin/shipping-rates", RATES),
        "categories" | "brands" => ("/admin/categories", CATALOG),
        "customer_groups" => ("/admin/customers", CUSTOMERS),
        _ => (tb.path, &[]),
    }
}

fn tabs(w: Lang, tb: &Table) -> Markup {
    tab_nav(w, section(tb).1, tb.path)
}

/// Pages that share a menu entry, as tabs, `here` the current one.
pub fn tab_nav(w: Lang, tabs: &[(&str, &'static str)], here: &str) -> Markup {
    html! {
        @if !tabs.is_empty() {
            nav.tabs aria-label=(t(w, "Tables")) {
                @for (href, name) in tabs { a href=(href) aria-current=[(*href == here).then_some("page")] { (t(w, name)) } }
            }
        }
    }
}

fn table_of(path: &str) -> &'static Table {
    TABLES.iter().find(|tb| path.starts_with(tb.path)).expect("routes are made from TABLES")
}

/// `GET /admin/{table}?before=`
pub async fn list(
    State(app): State<AppState>,
    a: AdminPage,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let tb = table_of(uri.path());
    let p = list_params(raw.as_deref(), &["before"])?;
    list_page(&app, &a, tb, get(&p, "before"), None, &BTreeMap::new()).await
}

/// `POST /admin/{table}`: the API's create.
pub async fn create(
    State(app): State<AppState>,
    a: AdminPage,
    uri: axum::http::Uri,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), form.get("csrf").map(String::as_str))?;
    let tb = table_of(uri.path());
    let outcome = match body_of(a.w, tb, &form, true, a.currency.as_str()) {
        Ok(body) => answered::<Map<String, Value>>(res::create(app.clone(), a.admin.clone(), tb.res, body).await)
            .await
            .map_err(|e| api_errors(a.w, &e)),
        Err(errors) => Err(errors),
    };
    match outcome {
        Ok(row) => {
            let id = row.get("id").and_then(Value::as_str).unwrap_or("");
            Ok(see_other(&format!("{}?saved=1", item_path(tb, id)), None))
        }
        Err(errors) => list_page(&app, &a, tb, None, Some(&form), &errors).await,
    }
}

async fn one(app: &AppState, tb: &'static Table, id: &str) -> Result<Map<String, Value>, ApiError> {
    res::one(app, tb.res, id).await
}

/// `GET /admin/{table}/{id}`
pub async fn show(
    State(app): State<AppState>,
    a: AdminPage,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let tb = table_of(uri.path());
    let saved = list_params(raw.as_deref(), &["saved"])?.iter().any(|(k, _)| k == "saved");
    let row = one(&app, tb, &id).await?;
    item_page(&app, &a, tb, row, None, &BTreeMap::new(), saved, None).await
}

/// A price list's page with its prices form sent back: what was typed, and why it was
/// refused beside each field (422).
pub async fn price_list_page(
    app: &AppState,
    a: &AdminPage,
    list: i64,
    typed: &super::admin_price_lists::PriceForm,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let tb = table_of("/admin/price-lists");
    let row = one(app, tb, &list.to_string()).await?;
    let panel = super::admin_price_lists::panel(app, a, list, errors, Some(typed)).await?;
    let mut resp = item_page(app, a, tb, row, None, &BTreeMap::new(), false, Some(panel)).await?;
    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

/// `POST /admin/{table}/{id}`: the API's change.
pub async fn update(
    State(app): State<AppState>,
    a: AdminPage,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), form.get("csrf").map(String::as_str))?;
    let tb = table_of(uri.path());
    let row = one(&app, tb, &id).await?;
    let outcome = match body_of(a.w, tb, &form, false, a.currency.as_str()) {
        Ok(body) => {
            answered::<Map<String, Value>>(res::update(app.clone(), a.admin.clone(), tb.res, id.clone(), body).await)
                .await
                .map_err(|e| api_errors(a.w, &e))
        }
        Err(errors) => Err(errors),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("{}?saved=1", item_path(tb, &id)), None)),
        Err(errors) => item_page(&app, &a, tb, row, Some(&form), &errors, false, None).await,
    }
}

/// `POST /admin/{table}/{id}/delete`: the API's delete; a row still in use stays, and its
/// page says why.
pub async fn delete(
    State(app): State<AppState>,
    a: AdminPage,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), form.get("csrf").map(String::as_str))?;
    let tb = table_of(uri.path());
    let row = one(&app, tb, &id).await?;
    match super::buy::done(res::delete(app.clone(), a.admin.clone(), tb.res, id.clone()).await) {
        Ok(()) => Ok(see_other(tb.path, None)),
        Err(e) if e.status == StatusCode::CONFLICT => {
            let errors = BTreeMap::from([("form".to_owned(), e.message.clone())]);
            let mut resp = item_page(&app, &a, tb, row, None, &errors, false, None).await?;
            *resp.status_mut() = StatusCode::CONFLICT;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{label, TABLES};
    use crate::pages::words::{translations_of, Lang};

    #[test]
    fn every_field_of_every_table_is_named_in_every_language() {
        for tb in TABLES {
            for f in tb.res.fields {
                let en = label(Lang::En, f);
                assert!(translations_of(&en).is_some(), "no translations of {en:?} ({}.{})", tb.res.table, f.name);
                if let crate::admin::resources::FieldKind::Enum(choices) = f.kind {
                    for c in choices {
                        assert!(translations_of(c).is_some(), "no translations of the choice {c:?} ({})", f.name);
                    }
                }
            }
        }
    }
}
