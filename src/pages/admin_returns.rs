//! The dashboard's returns: the list by where they stand (to answer, waiting for the
//! parcel, to refund, refunded, rejected) and one return's page with the step it is at —
//! approve or reject with a note for the customer, receive what arrived (units per line,
//! and whether they go back on sale), refund what arrived. Each form goes through
//! `PATCH /api/admin/returns/{id}`'s own handler: one writer unit with its stock, refund,
//! mail, event and audit row.

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
use super::forms::{beside_line, field, form_lines, Fields};
use super::layout::money;
use super::view::{Money, Refund, Return};
use super::words::{n_, said, t};
use crate::admin;
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::{JsonBody, QueryParams};

/// The tabs: (status, label), the work first.
const TABS: &[(&str, &str)] = &[
    ("requested", n_("To answer")),
    ("approved", n_("Waiting for the parcel")),
    ("received", n_("To refund")),
    ("refunded", n_("Refunded")),
    ("rejected", n_("Rejected")),
];

/// `GET /admin/returns?status=&before=`: one tab at a time, newest first.
pub async fn list(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["status", "before"])?;
    let status = get(&p, "status").unwrap_or("requested");
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50"), ("status", status)];
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let rows: Vec<Return> = answered(
        admin::returns::list_returns(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?)
            .await,
    )
    .await?;
    let main = html! {
        h1 { (t(w, "Returns")) }
        nav.tabs aria-label=(t(w, "By status")) {
            @for (s, label) in TABS {
                a href=(format!("/admin/returns?status={s}")) aria-current=[(status == *s).then_some("page")] { (t(w, label)) }
            }
        }
        @if rows.is_empty() { p.empty { (t(w, "No returns here.")) } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Return")) } th scope="col" { (t(w, "Order")) } th scope="col" { (t(w, "Items")) } th scope="col" { (t(w, "Asked")) } } }
                tbody { @for r in &rows { tr {
                    td { a href=(format!("/admin/returns/{}", r.id)) { (t(w, "Return #")) (r.id) } }
                    td data-label=(t(w, "Order")) { a href=(format!("/admin/orders/{}", r.order_id)) { "#" (r.order_id) } }
                    td data-label=(t(w, "Items")) { (r.contents()) }
                    td data-label=(t(w, "Asked")) { (when(&r.created_at)) }
                } } }
            }
            (older(w, "/admin/returns", &[("status", status)], rows.len(), rows.last().map(|r| r.id.as_str())))
        }
    };
    Ok(page_with(&app, &a, t(w, "Returns"), "/admin/returns", main))
}

#[derive(Deserialize)]
struct OrderOfReturn {
    email: String,
    status: String,
    total: Money,
    refunds: Vec<Refund>,
}

async fn load(app: &AppState, a: &AdminPage, id: i64) -> Result<(Return, OrderOfReturn), ApiError> {
    let r: Return =
        answered(admin::returns::get_return(State(app.clone()), a.admin.clone(), PathId(id, PhantomData)).await)
            .await?;
    let order = Id::parse(&r.order_id).ok_or_else(ApiError::internal)?;
    let o: OrderOfReturn = answered(
        admin::orders::order(
            State(app.clone()),
            a.admin.clone(),
            PathId(order.0, PhantomData),
            QueryParams::parse("")?,
        )
        .await,
    )
    .await?;
    Ok((r, o))
}

/// `GET /admin/returns/{id}`
pub async fn show(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("return"))?;
    let (r, o) = load(&app, &a, id.0).await?;
    Ok(return_page(&app, &a, r, o, &BTreeMap::new(), &Vec::new()))
}

fn return_page(
    app: &AppState,
    a: &AdminPage,
    r: Return,
    o: OrderOfReturn,
    errors: &BTreeMap<String, String>,
    sent: &Fields,
) -> Response {
    let w = a.w;
    let refund = r.refund_id.as_ref().and_then(|id| o.refunds.iter().find(|f| &f.id == id));
    let refund_failed = r.status == "refunded" && refund.is_none_or(|f| f.status == "failed");
    let main = html! {
        p.crumbs { a href="/admin/returns" { (t(w, "Returns")) } " / #" (r.id) }
        h1 { (t(w, "Return #")) (r.id) " " span class=(format!("status return-{}", r.status)) { (t(w, r.shop_words())) } }
        @if let Some(m) = errors.get("form") { div.error role="alert" { p { (m) } } }
        @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "Nothing changed: see the fields below.")) } } }
        div.checkout {
            section.panel {
                p { (t(w, "Order ")) a href=(format!("/admin/orders/{}", r.order_id)) { "#" (r.order_id) } " · " (o.email)
                    " · " (money(&o.total)) " · " (o.status.replace('_', " ")) }
                table.lines {
                    thead { tr { th scope="col" { (t(w, "Item")) } th scope="col" { (t(w, "Asked back")) } th scope="col" { (t(w, "Why")) } th scope="col" { (t(w, "Arrived")) } th scope="col" { (t(w, "Back on sale")) } } }
                    tbody { @for l in &r.lines { tr {
                        td { strong { (l.name) } } td data-label=(t(w, "Asked back")) { (l.quantity) } td data-label=(t(w, "Why")) { (l.reason) }
                        td data-label=(t(w, "Arrived")) { (l.received) } td data-label=(t(w, "Back on sale")) { (l.restocked) }
                    } } }
                }
                @if !r.note.is_empty() { p.meta { (t(w, "Note to the customer: ")) (r.note) } }
                @if let Some(f) = refund {
                    p { (t(w, "Refund ")) strong { (money(&f.amount)) } " · " span class=(format!("refund-status {}", f.status)) { (t(w, f.status_words())) } }
                    @if let Some(e) = &f.error { p.field-error { (e) } }
                }
                h2 { (t(w, "History")) }
                ol.plain { @for h in &r.history { li { span.meta { (when(&h.at)) } " " strong { (said(w, &h.status)) } @if !h.note.is_empty() { " — " (super::words::note(w, &h.note)) } } } }
            }
            aside.summary {
                @match r.status.as_str() {
                    "requested" | "approved" => {
                        (receive_form(a, &r, errors, sent))
                        (answer_form(a, &r, errors, sent))
                    }
                    "received" => { (refund_form(a, &r, t(w, "Refund what arrived"))) }
                    "refunded" if refund_failed => { (refund_form(a, &r, t(w, "Send the refund again"))) }
                    _ => { h2 { (t(w, "Done")) } p.meta { (t(w, "Nothing more to do with this return.")) } }
                }
            }
        }
    };
    let mut resp = page_with(app, a, &format!("{}{}", t(w, "Return #"), r.id), "/admin/returns", main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// What arrived, per line: units, and whether they go back on sale.
fn receive_form(a: &AdminPage, r: &Return, errors: &BTreeMap<String, String>, sent: &Fields) -> Markup {
    let w = a.w;
    let err = |k: &str| errors.get(k).map(String::as_str);
    html! {
        h2 #receive { (t(w, "The parcel arrived")) }
        form.receive method="post" action=(format!("/admin/returns/{}/receive", r.id)) aria-labelledby="receive" {
            (csrf(&a.ps))
            @for l in &r.lines {
                @let got = format!("got_{}", l.line_id);
                @let back = format!("back_{}", l.line_id);
                fieldset.return-line {
                    legend { (l.name) " " span.meta { "(" (l.quantity) (t(w, " asked back)")) } }
                    div.field {
                        label for=(got) { (t(w, "Units that arrived")) }
                        input id=(got) type="number" name=(got) min="0" max=(l.quantity)
                            value=(field(sent, &got).map(str::to_owned).unwrap_or_else(|| l.quantity.to_string()))
                            aria-invalid=[err(&got).map(|_| "true")] aria-describedby=[err(&got).map(|_| format!("{got}-error"))];
                        @if let Some(m) = err(&got) { p.field-error id=(format!("{got}-error")) { (m) } }
                    }
                    label.choice { input type="checkbox" name=(back) value="1" checked[sent.is_empty() || field(sent, &back).is_some()]; (t(w, "Back on sale")) }
                }
            }
            @if let Some(m) = err("lines") { p.field-error #lines-error { (m) } }
            button type="submit" { (t(w, "Receive")) }
        }
    }
}

/// Approve (a request) or reject, with a note the customer reads.
fn answer_form(a: &AdminPage, r: &Return, errors: &BTreeMap<String, String>, sent: &Fields) -> Markup {
    let w = a.w;
    let err = errors.get("note").map(String::as_str);
    html! {
        h2 #answer { (t(w, "Answer the customer")) }
        form.answer method="post" action=(format!("/admin/returns/{}/answer", r.id)) aria-labelledby="answer" {
            (csrf(&a.ps))
            div.field {
                label for="f-note" { (t(w, "Note (the customer reads it: where to send the parcel, or why not)")) }
                input #f-note type="text" name="note" maxlength="500" value=(field(sent, "note").unwrap_or(""))
                    aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| "f-note-error")];
                @if let Some(m) = err { p.field-error #f-note-error { (m) } }
            }
            div.actions {
                @if r.status == "requested" { button type="submit" name="action" value="approve" { (t(w, "Approve")) } }
                button.secondary type="submit" name="action" value="reject" { (t(w, "Reject")) }
            }
        }
    }
}

fn refund_form(a: &AdminPage, r: &Return, label: &str) -> Markup {
    let w = a.w;
    html! {
        h2 #refund { (t(w, "Refund")) }
        p.meta { (t(w, "Each unit that arrived is refunded at its share of the order's total.")) }
        form.refund method="post" action=(format!("/admin/returns/{}/refund", r.id)) aria-labelledby="refund" {
            (csrf(&a.ps))
            button type="submit" { (label) }
        }
    }
}

/// `POST /admin/returns/{id}/{step}`: `answer` (approve or reject, with a note), `receive`
/// (`got_{line}` units, `back_{line}` ticked to restock) or `refund`, through the API.
pub async fn step(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, step)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    super::session::check_csrf(a.ps.token.as_deref(), field(&f, super::session::CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("return"))?;
    let note = field(&f, "note").map(str::to_owned).filter(|n| !n.trim().is_empty());
    let (sent, mut bad) = form_lines(&f, "got_");
    let body = match step.as_str() {
        "answer" => {
            admin::returns::ReturnActionIn { action: field(&f, "action").unwrap_or("").to_owned(), lines: None, note }
        }
        "receive" => {
            if sent.is_empty() && bad.is_empty() {
                bad.insert(
                    "lines".to_owned(),
                    t(w, "nothing arrived? Count at least one unit, or reject the return").to_owned(),
                );
            }
            let lines = sent
                .iter()
                .map(|&(line, units)| admin::returns::ReceivedLineIn {
                    line_id: line,
                    quantity: units,
                    restock: field(&f, &format!("back_{line}")).is_some(),
                })
                .collect();
            admin::returns::ReturnActionIn { action: "receive".to_owned(), lines: Some(lines), note }
        }
        "refund" => admin::returns::ReturnActionIn { action: "refund".to_owned(), lines: None, note: None },
        _ => return Err(ApiError::not_found("page")),
    };
    let errors = if !bad.is_empty() {
        bad
    } else {
        let done = answered::<serde_json::Value>(
            admin::returns::update_return(
                State(app.clone()),
                a.admin.clone(),
                PathId(id.0, PhantomData),
                JsonBody(body),
            )
            .await,
        )
        .await;
        match done {
            Ok(_) => return Ok(see_other(&format!("/admin/returns/{}", id.0), None)),
            Err(e) => refused(w, e)?.into_iter().map(|(k, v)| (beside_line(&k, &sent, "got_"), v)).collect(),
        }
    };
    let (r, o) = load(&app, &a, id.0).await?;
    Ok(return_page(&app, &a, r, o, &errors, &f))
}
