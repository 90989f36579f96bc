//! The dashboard's customers: a list searchable by e-mail or name at any size and by group,
//! a customer's page with their orders, groups and live sessions, setting their groups and
//! ending every session of the account — each the admin API's (`crate::admin::customers`).

use std::marker::PhantomData;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::admin::{csrf, get, list_params, page_with, totals_shown, when, AdminPage};
use super::buy::{answered, answered_whole, see_other};
use super::layout::money;
use super::session::{check_csrf, CsrfForm};
use super::view::Money;
use super::words::{said, t, tf};
use crate::admin;
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::QueryParams;

#[derive(Deserialize)]
struct Row {
    id: String,
    email: String,
    name: String,
    role: String,
    two_factor: bool,
    groups: Vec<Group>,
    created_at: String,
    locale: Option<String>,
}

#[derive(Deserialize)]
struct Group {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Groups {
    data: Vec<Group>,
}

/// The shop's customer groups (the first 100, newest first), for a filter or a form.
async fn all_groups(app: &AppState) -> Result<Vec<Group>, ApiError> {
    let q = QueryParams::parse("per_page=100")?;
    let groups: Groups =
        answered_whole(admin::resources::list(app.clone(), &admin::resources::CUSTOMER_GROUPS, q).await).await?;
    let mut groups = groups.data;
    groups.sort_by_key(|g| g.name.to_lowercase());
    Ok(groups)
}

#[derive(Deserialize)]
struct Meta {
    next_before: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Row>,
    meta: Meta,
}

#[derive(Deserialize)]
struct OrderRow {
    id: String,
    status: String,
    item_count: i64,
    total: Money,
    created_at: String,
}

#[derive(Deserialize)]
struct SessionRow {
    device: String,
    client_addr: String,
    created_at: String,
    last_seen_at: String,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(flatten)]
    row: Row,
    orders: Vec<OrderRow>,
    sessions: Vec<SessionRow>,
}

/// `GET /admin/customers?q=&group=&before=`
pub async fn list(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["q", "group", "before"])?;
    let q = get(&p, "q");
    let group = get(&p, "group").filter(|g| !g.is_empty());
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50")];
    api.extend(q.map(|q| ("q", q)));
    api.extend(group.map(|g| ("group", g)));
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let page: Page = answered_whole(
        admin::customers::list(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?).await,
    )
    .await?;
    let groups = all_groups(&app).await?;
    let more = page.meta.next_before.map(|b| {
        let mut next: Vec<(&str, &str)> = q.map(|q| ("q", q)).into_iter().collect();
        next.extend(group.map(|g| ("group", g)));
        next.push(("before", &b));
        format!("/admin/customers?{}", encode_pairs(next))
    });
    let main = html! {
        h1 { (t(w, "Customers")) }
        (super::admin_tables::tab_nav(w, super::admin_tables::CUSTOMERS, "/admin/customers"))
        form.search-row role="search" method="get" action="/admin/customers" {
            label for="customer-q" { (t(w, "Find a customer")) }
            input #customer-q type="search" name="q" value=(q.unwrap_or("")) placeholder=(t(w, "e-mail or name"));
            @if !groups.is_empty() {
                label for="customer-group" { (t(w, "In group")) }
                select #customer-group name="group" data-autosubmit {
                    option value="" { (t(w, "Any")) }
                    @for g in &groups { option value=(g.id) selected[group == Some(g.id.as_str())] { (g.name) } }
                }
            }
            button type="submit" { (t(w, "Search")) }
        }
        @if page.data.is_empty() { p.empty { @if q.is_some() || group.is_some() { (t(w, "No customer matches.")) } @else { (t(w, "No customers yet.")) } } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Name")) } th scope="col" { (t(w, "E-mail")) } th scope="col" { (t(w, "Groups")) } th scope="col" { (t(w, "Role")) } th scope="col" { (t(w, "Two-factor")) } th scope="col" { (t(w, "Joined")) } } }
                tbody { @for c in &page.data { tr {
                    td { a href=(format!("/admin/customers/{}", c.id)) { (c.name) } }
                    td { (c.email) }
                    td.groups data-label=(t(w, "Groups")) { (c.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")) }
                    td data-label=(t(w, "Role")) { (c.role) }
                    td data-label=(t(w, "Two-factor")) { @if c.two_factor { (t(w, "on")) } @else { (t(w, "off")) } } td data-label=(t(w, "Joined")) { (when(&c.created_at)) }
                } } }
            }
            @if let Some(href) = more { nav.pages aria-label=(t(w, "More")) { a href=(href) rel="next" { (t(w, "Older →")) } } }
        }
    };
    Ok(page_with(&app, &a, t(w, "Customers"), "/admin/customers", main))
}

/// `GET /admin/customers/{id}?ended=`
pub async fn show(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let w = a.w;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("customer"))?;
    let asked_for = list_params(raw.as_deref(), &["ended", "groups"])?;
    let ended = asked_for.iter().find(|(k, _)| k == "ended").map(|(_, n)| n.clone());
    let groups_saved = asked_for.iter().any(|(k, _)| k == "groups");
    let groups = all_groups(&app).await?;
    let d: Detail =
        answered(admin::customers::get(State(app.clone()), a.admin.clone(), PathId(id.0, PhantomData)).await).await?;
    let c = &d.row;
    let main = html! {
        p.crumbs { a href="/admin/customers" { (t(w, "Customers")) } " / " (c.name) }
        h1 { (c.name) }
        @if let Some(n) = &ended { p.notice role="status" { (if n == "1" { t(w, "Ended 1 session.").to_owned() } else { tf(w, "Ended {n} sessions.", &[("n", n)]) }) } }
        @if groups_saved { p.notice role="status" { (t(w, "Groups saved.")) } }
        div.checkout {
            section.panel aria-labelledby="orders" {
                h2 #orders { (t(w, "Orders")) }
                @if d.orders.is_empty() { p.empty { (t(w, "No orders yet.")) } }
                @else {
                    table.lines {
                        thead { tr { th scope="col" { (t(w, "Order")) } th scope="col" { (t(w, "Status")) } th scope="col" { (t(w, "Items")) } th scope="col" { (t(w, "Total")) } th scope="col" { (t(w, "Placed")) } } }
                        tbody { @for o in &d.orders { tr {
                            td data-label=(t(w, "Order")) { a href=(format!("/admin/orders/{}", o.id)) { "#" (o.id) } }
                            td data-label=(t(w, "Status")) { span class=(format!("status {}", o.status)) { (said(w, &o.status)) } }
                            td data-label=(t(w, "Items")) { (o.item_count) } td data-label=(t(w, "Total")) { (money(&o.total)) }
                            td data-label=(t(w, "Placed")) { (when(&o.created_at)) }
                        } } }
                    }
                }
                h2 #sessions { (t(w, "Signed in on")) }
                @if d.sessions.is_empty() { p.empty { (t(w, "No live session.")) } }
                @else {
                    table.lines aria-labelledby="sessions" {
                        thead { tr { th scope="col" { (t(w, "Device")) } th scope="col" { (t(w, "From")) } th scope="col" { (t(w, "Since")) } th scope="col" { (t(w, "Last seen")) } } }
                        tbody { @for s in &d.sessions { tr {
                            td data-label=(t(w, "Device")) { (if s.device.is_empty() { "unknown" } else { &s.device }) }
                            td data-label=(t(w, "From")) { (s.client_addr) }
                            td data-label=(t(w, "Since")) { (when(&s.created_at)) } td data-label=(t(w, "Last seen")) { (when(&s.last_seen_at)) }
                        } } }
                    }
                    form method="post" action=(format!("/admin/customers/{}/sessions/end", c.id)) {
                        (csrf(&a.ps))
                        button.danger type="submit" { (t(w, "End every session")) }
                    }
                }
            }
            aside.summary {
                h2 { (t(w, "Account")) }
                dl {
                    dt { (t(w, "E-mail")) } dd { (c.email) }
                    dt { (t(w, "Role")) } dd { (c.role) }
                    dt { (t(w, "Two-factor login")) } dd { @if c.two_factor { (t(w, "on")) } @else { (t(w, "off")) } }
                    dt { (t(w, "Mail language")) } dd #customer-locale {
                        @match &c.locale {
                            Some(l) => { (super::admin_translations::language_label(l)) }
                            None => { (t(w, "The shop's default")) }
                        }
                    }
                    dt { (t(w, "Joined")) } dd { (when(&c.created_at)) }
                    dt { (t(w, "Paid (latest 20 orders)")) } dd { (paid_by_currency(&d.orders, a.currency.as_str())) }
                }
                form #customer-groups method="post" action=(format!("/admin/customers/{}/groups", c.id)) {
                    (csrf(&a.ps))
                    fieldset.field {
                        legend { (t(w, "Groups")) }
                        @if groups.is_empty() { p.meta { (t(w, "No groups yet: ")) a href="/admin/customer-groups" { (t(w, "add one")) } "." } }
                        @for g in &groups {
                            label.choice {
                                input type="checkbox" name="group" value=(g.id) checked[c.groups.iter().any(|m| m.id == g.id)];
                                " " (g.name)
                            }
                        }
                    }
                    @if !groups.is_empty() { button type="submit" { (t(w, "Save groups")) } }
                }
            }
        }
    };
    Ok(page_with(&app, &a, &c.name, "/admin/customers", main))
}

/// `POST /admin/customers/{id}/sessions/end`
pub async fn end_sessions(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("customer"))?;
    #[derive(Deserialize)]
    struct Ended {
        ended: i64,
    }
    let e: Ended =
        answered(admin::customers::end_sessions(State(app.clone()), a.admin.clone(), PathId(id.0, PhantomData)).await)
            .await?;
    Ok(see_other(&format!("/admin/customers/{}?ended={}", id.0, e.ended), None))
}

/// `POST /admin/customers/{id}/groups`: the checked groups become the customer's.
pub async fn set_groups(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let token = f.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    check_csrf(a.ps.token.as_deref(), token)?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("customer"))?;
    let mut groups = Vec::new();
    for (k, v) in &f {
        match (k.as_str(), Id::parse(v)) {
            ("group", Some(g)) => groups.push(g.0),
            ("group", None) => {
                return Err(ApiError::validation([("group".into(), t(a.w, "not a group").into())].into()))
            }
            _ => {}
        }
    }
    admin::customers::set_groups_of(&app, a.admin.clone(), id.0, groups).await?;
    Ok(see_other(&format!("/admin/customers/{}?groups=1", id.0), None))
}

/// What the orders paid (paid or fulfilled ones), by currency: `$120.00 + €45.00`.
fn paid_by_currency(orders: &[OrderRow], default: &str) -> String {
    let paid = orders.iter().filter(|o| matches!(o.status.as_str(), "paid" | "partially_fulfilled" | "fulfilled"));
    totals_shown(paid.map(|o| (o.total.currency.as_str(), o.total.amount)), default)
}
