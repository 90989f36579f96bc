//! The dashboard's gift cards: issue one (its code shown on the answer page only, once),
//! find one by the code a customer reads out, the list newest first, and one card's page
//! with its ledger and the switch that turns it off or on. Every form goes through the
//! API's own handler (`/api/admin/gift-cards`): one writer unit with its audit row.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::admin::{csrf, get, list_params, older, page_with, when, AdminPage};
use super::buy::{answered, see_other};
use super::forms::{field, refused, Fields};
use super::layout::money;
use super::view::Money;
use super::words::{n_, t, tf};
use crate::admin;
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::{JsonBody, QueryParams};

#[derive(Deserialize)]
struct Card {
    id: String,
    last4: String,
    status: String,
    initial_amount: Money,
    balance: Money,
    expires_at: Option<String>,
    note: String,
    order_id: Option<String>,
    created_at: String,
    #[serde(default)]
    ledger: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    kind: String,
    amount: Money,
    balance: Money,
    order_id: Option<String>,
    note: String,
    at: String,
}

fn status_words(status: &str) -> &'static str {
    match status {
        "active" => n_("Active"),
        "used_up" => n_("Used up"),
        "expired" => n_("Expired"),
        "disabled" => n_("Disabled"),
        _ => n_("Unknown"),
    }
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "issued" => n_("Issued"),
        "spent" => n_("Spent"),
        "released" => n_("Given back (order not paid)"),
        "refunded" => n_("Refunded to the card"),
        "disabled" => n_("Turned off"),
        "enabled" => n_("Turned on"),
        _ => n_("Other"),
    }
}

/// `GET /admin/gift-cards?code=&before=`
pub async fn list(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = list_params(raw.as_deref(), &["code", "before"])?;
    list_page(&app, &a, get(&p, "code"), get(&p, "before"), None, &BTreeMap::new(), &Vec::new()).await
}

async fn list_page(
    app: &AppState,
    a: &AdminPage,
    code: Option<&str>,
    before: Option<&str>,
    issued: Option<(&str, &Card)>,
    errors: &BTreeMap<String, String>,
    sent: &Fields,
) -> Result<Response, ApiError> {
    let w = a.w;
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50")];
    api.extend(code.map(|c| ("code", c)));
    api.extend(before.map(|b| ("before", b)));
    let rows: Vec<Card> = answered(
        admin::gift_cards::list_gift_cards(
            State(app.clone()),
            a.admin.clone(),
            QueryParams::parse(&encode_pairs(api))?,
        )
        .await,
    )
    .await?;
    let err = |k: &str| errors.get(k).map(String::as_str);
    let currencies = crate::domain::currencies::codes(&app.live().currencies);
    let typed_currency = field(sent, "currency");
    let input = |name: &str, label: &str, kind: &str, hint: &str| {
        let id = format!("f-{name}");
        let e = err(name);
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) type=(kind) name=(name) value=(field(sent, name).unwrap_or(""))
                    aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{id}-hint"));
                span.meta id=(format!("{id}-hint")) { @if let Some(e) = e { span.field-error { (e) } } @else { (hint) } }
            }
        }
    };
    let main = html! {
        h1 { (t(w, "Gift cards")) }
        @if let Some((code, c)) = issued {
            div.notice.issued role="status" {
                p { (t(w, "Gift card of ")) strong { (money(&c.initial_amount)) } (t(w, " issued. Its code:")) }
                p.code { code #new-code { (code) } }
                p { (t(w, "Give it to the customer now: it is not shown again (only a fingerprint of it is kept).")) }
            }
        }
        @if let Some(m) = err("form") { div.error role="alert" { p { (m) } } }
        @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "No card was issued: see the fields below.")) } } }
        div.checkout {
            section {
                form.inline.search method="get" action="/admin/gift-cards" role="search" {
                    label for="find-code" { (t(w, "Find by code")) }
                    input #find-code type="search" name="code" value=(code.unwrap_or("")) placeholder=(t(w, "XXXX-XXXX-XXXX-XXXX")) autocomplete="off";
                    button.quiet type="submit" { (t(w, "Find")) }
                }
                @if rows.is_empty() {
                    p.empty { @if code.is_some() { (t(w, "No gift card has this code.")) } @else { (t(w, "No gift cards yet.")) } }
                } @else {
                    table.lines {
                        caption.skip { (t(w, "Gift cards, newest first")) }
                        thead { tr { th scope="col" { (t(w, "Card")) } th scope="col" { (t(w, "Balance")) } th scope="col" { (t(w, "Status")) } th scope="col" { (t(w, "Issued")) } th scope="col" { (t(w, "Note")) } } }
                        tbody { @for c in &rows { tr {
                            td { a href=(format!("/admin/gift-cards/{}", c.id)) { "…" (c.last4) } }
                            td data-label=(t(w, "Balance")) { (money(&c.balance)) span.meta { (t(w, " of ")) (money(&c.initial_amount)) } }
                            td data-label=(t(w, "Status")) { span class=(format!("status card-{}", c.status)) { (t(w, status_words(&c.status))) } }
                            td data-label=(t(w, "Issued")) { (when(&c.created_at)) }
                            td data-label=(t(w, "Note")) { (c.note) }
                        } } }
                    }
                    @if code.is_none() { (older(w, "/admin/gift-cards", &[], rows.len(), rows.last().map(|c| c.id.as_str()))) }
                }
            }
            aside.summary {
                h2 #issue { (t(w, "Issue a gift card")) }
                form method="post" action="/admin/gift-cards" aria-labelledby="issue" novalidate {
                    (csrf(&a.ps))
                    @if currencies.len() > 1 {
                        div.field {
                            label for="currency" { (t(w, "Currency")) }
                            select #currency name="currency" {
                                @for c in &currencies { option value=(c) selected[typed_currency == Some(c.as_str())] { (c) } }
                            }
                        }
                        (input("amount", t(w, "Amount"), "text", "e.g. 25.00"))
                    } @else {
                        (input("amount", &tf(w, "Amount ({currency})", &[("currency", &currencies[0])]), "text", t(w, "e.g. 25.00")))
                    }
                    (input("expires_at", t(w, "Expires on (optional)"), "date", t(w, "leave empty: never")))
                    (input("note", t(w, "Note (optional)"), "text", t(w, "who it is for, why")))
                    button type="submit" { (t(w, "Issue")) }
                }
            }
        }
    };
    let mut resp = page_with(app, a, t(w, "Gift cards"), "/admin/gift-cards", main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct Issued {
    code: String,
    #[serde(flatten)]
    card: Card,
}

/// `POST /admin/gift-cards`: issues a card through the API and shows its code once.
pub async fn issue(State(app): State<AppState>, a: AdminPage, Form(f): Form<Fields>) -> Result<Response, ApiError> {
    let w = a.w;
    super::session::check_csrf(a.ps.token.as_deref(), field(&f, super::session::CSRF_FIELD))?;
    let mut errors = BTreeMap::new();
    let currency = field(&f, "currency").unwrap_or(a.currency.as_str()).to_owned();
    let amount = super::forms::minor_units_in(field(&f, "amount").unwrap_or(""), &currency);
    if amount.is_none() {
        errors.insert(
            "amount".to_owned(),
            tf(w, "an amount like {amount}", &[("amount", &super::forms::typed_amount(2500, &currency))]),
        );
    }
    let text = |k: &str| field(&f, k).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    if errors.is_empty() {
        let body = admin::gift_cards::GiftCardIn {
            amount: amount.expect("checked"),
            currency,
            expires_at: text("expires_at"),
            note: text("note"),
        };
        let done = answered::<Issued>(
            admin::gift_cards::create_gift_card(State(app.clone()), a.admin.clone(), JsonBody(body)).await,
        )
        .await;
        match done {
            Ok(issued) => {
                return list_page(&app, &a, None, None, Some((&issued.code, &issued.card)), &errors, &Vec::new()).await
            }
            Err(e) => errors = refused(w, e)?,
        }
    }
    list_page(&app, &a, None, None, None, &errors, &f).await
}

async fn load(app: &AppState, a: &AdminPage, id: i64) -> Result<Card, ApiError> {
    answered(admin::gift_cards::get_gift_card(State(app.clone()), a.admin.clone(), PathId(id, PhantomData)).await).await
}

/// `GET /admin/gift-cards/{id}`
pub async fn show(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("gift card"))?;
    let c = load(&app, &a, id.0).await?;
    Ok(card_page(&app, &a, &c))
}

fn card_page(app: &AppState, a: &AdminPage, c: &Card) -> Response {
    let w = a.w;
    let off = c.status == "disabled";
    let main = html! {
        p.crumbs { a href="/admin/gift-cards" { (t(w, "Gift cards")) } " / …" (c.last4) }
        h1 { (t(w, "Gift card …")) (c.last4) " " span class=(format!("status card-{}", c.status)) { (t(w, status_words(&c.status))) } }
        div.checkout {
            section.panel {
                dl.facts {
                    dt { (t(w, "Balance")) } dd { strong { (money(&c.balance)) } (t(w, " of ")) (money(&c.initial_amount)) }
                    dt { (t(w, "Issued")) } dd { (when(&c.created_at)) }
                    dt { (t(w, "Expires")) } dd { @match &c.expires_at { Some(e) => { (when(e)) }, None => { (t(w, "never")) } } }
                    @if let Some(o) = &c.order_id { dt { (t(w, "Bought in")) } dd { a href=(format!("/admin/orders/{o}")) { (t(w, "order #")) (o) } } }
                    @if !c.note.is_empty() { dt { (t(w, "Note")) } dd { (c.note) } }
                }
                h2 { (t(w, "Ledger")) }
                table.lines {
                    caption.skip { (t(w, "Every movement of the balance, oldest first")) }
                    thead { tr { th scope="col" { (t(w, "When")) } th scope="col" { (t(w, "What")) } th scope="col" { (t(w, "Amount")) } th scope="col" { (t(w, "Balance after")) } th scope="col" { (t(w, "Order")) } } }
                    tbody { @for l in &c.ledger { tr {
                        td { (when(&l.at)) }
                        td data-label=(t(w, "What")) { (kind_words(&l.kind)) @if !l.note.is_empty() { br; span.meta { (l.note) } } }
                        td data-label=(t(w, "Amount")) { @if l.amount.amount > 0 { "+" } (money(&l.amount)) }
                        td data-label=(t(w, "Balance after")) { (money(&l.balance)) }
                        td data-label=(t(w, "Order")) { @if let Some(o) = &l.order_id { a href=(format!("/admin/orders/{o}")) { "#" (o) } } }
                    } } }
                }
            }
            aside.summary {
                h2 #switch { @if off { (t(w, "Turn it back on")) } @else { (t(w, "Turn it off")) } }
                p.meta { @if off { (t(w, "It can pay again, with the balance it has.")) } @else { (t(w, "It keeps its balance but cannot pay: for a code that was lost or stolen.")) } }
                form method="post" action=(format!("/admin/gift-cards/{}", c.id)) aria-labelledby="switch" {
                    (csrf(&a.ps))
                    input type="hidden" name="disabled" value=(if off { "false" } else { "true" });
                    button.secondary[!off] type="submit" { @if off { (t(w, "Turn on")) } @else { (t(w, "Turn off")) } }
                }
            }
        }
    };
    page_with(app, a, &format!("{}{}", t(w, "Gift card …"), c.last4), "/admin/gift-cards", main)
}

/// `POST /admin/gift-cards/{id}`: turns the card off or on through the API.
pub async fn switch(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    super::session::check_csrf(a.ps.token.as_deref(), field(&f, super::session::CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("gift card"))?;
    let body = admin::gift_cards::GiftCardChangeIn {
        disabled: Some(field(&f, "disabled") == Some("true")),
        note: None,
        expires_at: None,
    };
    answered::<serde_json::Value>(
        admin::gift_cards::update_gift_card(
            State(app.clone()),
            a.admin.clone(),
            PathId(id.0, PhantomData),
            JsonBody(body),
        )
        .await,
    )
    .await?;
    Ok(see_other(&format!("/admin/gift-cards/{}", id.0), None))
}
