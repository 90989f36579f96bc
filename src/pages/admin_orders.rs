//! The dashboard's order page: the lines and what of them has shipped, the shipments with
//! their tracking, a form to ship a parcel (all that is left, or some of it), "delivered"
//! per shipment, refunds (by items or by amount) with where each stands, and the status
//! changes an owner makes by hand. Each form goes through the API's own handler, so the
//! page does what `POST /api/admin/orders/{id}/fulfillments` and `.../refunds` do — one
//! writer unit with its mail, event and audit row. The refund form carries an idempotency
//! key made when the page was drawn, so sending it twice refunds once.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, page_with, when, AdminPage};
use super::admin_system::refused;
use super::buy::{answered, see_other};
use super::forms::{beside_line, field, form_lines, input, Fields};
use super::layout::money;
use super::session::{check_csrf, CSRF_FIELD};
use super::view::{Address, Money, OrderItem, Refund, Return, Shipment};
use super::words::{said, t, tf, Lang};
use crate::admin;
use crate::app::AppState;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::{JsonBody, QueryParams};

#[derive(Deserialize)]
struct Change {
    status: String,
    note: Option<String>,
    at: String,
}

#[derive(Deserialize)]
struct OrderDetail {
    id: String,
    status: String,
    email: String,
    items: Vec<OrderItem>,
    total: Money,
    shipping_address: Address,
    shipping_option: Option<String>,
    payment_method: String,
    created_at: String,
    paid_at: Option<String>,
    status_history: Vec<Change>,
    fulfillments: Vec<Shipment>,
    refunds: Vec<Refund>,
    refunded: Money,
    #[serde(default)]
    returns: Vec<Return>,
    balance_due: Money,
    captured: Money,
}

impl OrderDetail {
    /// Minor units that may still be refunded (none before payment).
    fn refundable(&self) -> i64 {
        if self.paid_at.is_none() || matches!(self.status.as_str(), "pending" | "expired") {
            0
        } else {
            self.captured.amount - self.refunded.amount
        }
    }

    /// Whether an edit may change it: pending or paid, nothing of it shipped, cancelled or
    /// refunded.
    fn editable(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "paid")
            && self.items.iter().all(|i| i.fulfilled == 0 && i.cancelled == 0 && i.refunded == 0)
    }
}

/// What an administrator may move an order to by hand from where it is (shipping has its
/// own form).
fn next_statuses(status: &str) -> &'static [&'static str] {
    match status {
        "pending" => &["cancelled"],
        "paid" => &["cancelled", "refunded"],
        "partially_fulfilled" | "fulfilled" | "partially_refunded" => &["refunded"],
        _ => &[],
    }
}

fn can_ship(status: &str) -> bool {
    matches!(status, "paid" | "partially_fulfilled" | "partially_refunded")
}

async fn load(app: &AppState, a: &AdminPage, id: i64) -> Result<OrderDetail, ApiError> {
    answered(
        admin::orders::order(State(app.clone()), a.admin.clone(), PathId(id, PhantomData), QueryParams::parse("")?)
            .await,
    )
    .await
}

/// `GET /admin/orders/{id}`
pub async fn order(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let o = load(&app, &a, id.0).await?;
    Ok(order_page(&app, &a, o, &BTreeMap::new(), &Vec::new()))
}

fn order_page(
    app: &AppState,
    a: &AdminPage,
    o: OrderDetail,
    errors: &BTreeMap<String, String>,
    sent: &Fields,
) -> Response {
    let w = a.w;
    let ad = &o.shipping_address;
    let status_words = said(w, &o.status).replace('_', " ");
    let main = html! {
        p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } " / #" (o.id) }
        h1 { (t(w, "Order #")) (o.id) " " span class=(format!("status {}", o.status)) { (status_words) } }
        @if let Some(p) = errors.get("form") { div.error role="alert" { p { (p) } } }
        @else if errors.keys().any(|k| k.starts_with("refund:")) { div.error role="alert" { p { (t(w, "Nothing was refunded: see the refund form.")) } } }
        @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "Nothing was shipped: see the fields below.")) } } }
        div.checkout {
            section.panel {
                table.lines {
                    thead { tr { th scope="col" { (t(w, "Item")) } th scope="col" { (t(w, "Quantity")) } th scope="col" { (t(w, "Shipped")) } th scope="col" { (t(w, "Refunded")) } th scope="col" { (t(w, "Total")) } } }
                    tbody { @for l in &o.items { tr {
                        td { strong { (l.name) } } td data-label=(t(w, "Quantity")) { (l.quantity) } td data-label=(t(w, "Shipped")) { (l.fulfilled) (t(w, " of ")) (l.quantity) }
                        td data-label=(t(w, "Refunded")) { (l.refunded) @if l.cancelled > 0 { span.meta { " (" (l.cancelled) (t(w, " not shipped)")) } } }
                        td data-label=(t(w, "Total")) { (money(&l.line_total)) }
                    } } }
                }
                p { strong { (t(w, "Total ")) (money(&o.total)) } (t(w, " · paid by ")) (said(w, &o.payment_method.replace('_', " ")))
                    @if let Some(s) = &o.shipping_option { " · " (s) (t(w, " delivery")) }
                    @if o.refunded.amount > 0 { " · " strong { (money(&o.refunded)) (t(w, " refunded")) } } }
                @if o.editable() { p { a.button.quiet href=(format!("/admin/orders/{}/edit", o.id)) { (t(w, "Edit items")) } } }
                (shipments(a, &o))
                (refunds(w, &o))
                @if !o.returns.is_empty() {
                    h2 #returns { (t(w, "Returns")) }
                    ol.returns aria-labelledby="returns" {
                        @for r in &o.returns {
                            li.return #(format!("return-{}", r.id)) {
                                p { a href=(format!("/admin/returns/{}", r.id)) { (t(w, "Return #")) (r.id) } " · " (when(&r.created_at)) " · "
                                    span class=(format!("return-status {}", r.status)) { (t(w, r.shop_words())) } }
                                p { (r.contents()) }
                            }
                        }
                    }
                }
                h2 { (t(w, "History")) }
                ol.plain { @for h in &o.status_history { li { span.meta { (when(&h.at)) } " " strong { (said(w, &h.status).replace('_', " ")) } @if let Some(n) = &h.note { " — " (super::words::note(w, n)) } } } }
            }
            aside.summary {
                h2 { (t(w, "Customer")) }
                p { (o.email) }
                address { (ad.name) br; (ad.line1) br; @if !ad.line2.is_empty() { (ad.line2) br; } (ad.city) " " (ad.state) " " (ad.postal_code) br; (ad.country) }
                p.meta { (t(w, "Placed ")) (when(&o.created_at)) }
                @if o.balance_due.amount > 0 {
                    h2 #balance { (t(w, "Balance due")) }
                    p.balance-due { strong { (money(&o.balance_due)) } (t(w, " is left to pay since the order was edited. The payment provider's payment of it is recorded by itself; record one made some other way:")) }
                    form method="post" action=(format!("/admin/orders/{}/balance", o.id)) aria-labelledby="balance" {
                        (csrf(&a.ps))
                        button type="submit" { (t(w, "Record ")) (money(&o.balance_due)) (t(w, " as paid")) }
                    }
                }
                @if can_ship(&o.status) { (ship_form(a, &o, errors, sent)) }
                @if o.refundable() > 0 { (refund_form(a, &o, errors, sent)) }
                @if !next_statuses(&o.status).is_empty() {
                    h2 { (t(w, "Change status")) }
                    form method="post" action=(format!("/admin/orders/{}/status", o.id)) {
                        (csrf(&a.ps))
                        div.field {
                            label for="status" { (t(w, "New status")) }
                            select #status name="status" { @for s in next_statuses(&o.status) { option value=(s) { (said(w, s)) } } }
                        }
                        div.field {
                            label for="note" { (t(w, "Note (in the order's history)")) }
                            input #note type="text" name="note" maxlength="500";
                        }
                        button type="submit" { (t(w, "Change status")) }
                    }
                }
            }
        }
    };
    let mut resp = page_with(app, a, &format!("{}{}", t(w, "Order #"), o.id), "/admin/orders", main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// The shipments so far, each with its tracking and "delivered" (or the button that says so).
fn shipments(a: &AdminPage, o: &OrderDetail) -> Markup {
    let w = a.w;
    html! {
        @if !o.fulfillments.is_empty() {
            h2 #shipments { (t(w, "Shipments")) }
            ol.shipments aria-labelledby="shipments" {
                @for (n, f) in o.fulfillments.iter().enumerate() {
                    li.shipment #(format!("shipment-{}", f.id)) {
                        p { strong { (t(w, "Parcel ")) (n + 1) } (t(w, " · sent ")) (when(&f.created_at)) }
                        p { (f.contents(&o.items)) }
                        p.meta {
                            @if let Some(c) = &f.carrier { (c) " " }
                            @if let Some(t) = &f.tracking_number { code { (t) } }
                            @if f.carrier.is_none() && f.tracking_number.is_none() { (t(w, "no tracking")) }
                            @if let Some(u) = &f.tracking_url { " · " a href=(u) rel="noopener noreferrer" { (tf(w, "track parcel {n}", &[("n", &(n + 1))])) } }
                        }
                        @if let Some(d) = &f.delivered_at { p.ok { (t(w, "Delivered ")) (when(d)) } }
                        @else {
                            form.inline method="post" action=(format!("/admin/orders/{}/fulfillments/{}/delivered", o.id, f.id)) {
                                (csrf(&a.ps))
                                button.secondary type="submit" aria-label=(tf(w, "Mark parcel {n} delivered", &[("n", &(n + 1))])) { (t(w, "Mark delivered")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn ship_form(a: &AdminPage, o: &OrderDetail, errors: &BTreeMap<String, String>, sent: &Fields) -> Markup {
    let w = a.w;
    let err = |k: &str| errors.get(k).map(String::as_str);
    let value = |k: &str, default: String| field(sent, k).map(str::to_owned).unwrap_or(default);
    let left: Vec<&OrderItem> = o.items.iter().filter(|i| i.to_ship() > 0).collect();
    html! {
        h2 #ship { (t(w, "Ship a parcel")) }
        form.ship method="post" action=(format!("/admin/orders/{}/fulfillments", o.id)) aria-labelledby="ship" {
            (csrf(&a.ps))
            // the shop decides; it is told before it ships what is not paid for
            @if o.balance_due.amount > 0 {
                p.notice.ship-unpaid role="note" { (t(w, "Not paid in full: ")) strong { (money(&o.balance_due)) } (t(w, " added by an edit is still to pay. What ships now may be unpaid.")) }
            }
            fieldset.ship-lines aria-describedby=[err("lines").map(|_| "lines-error")] {
                legend { (t(w, "In this parcel (what is left to ship)")) }
                @for item in &left {
                    @let id = format!("q-{}", item.line);
                    @let line_error = err(&format!("line_{}", item.line));
                    div.field {
                        label for=(id) { (item.name) " " span.meta { "(" (item.to_ship()) (t(w, " left)")) } }
                        input id=(id) type="number" name=(format!("line_{}", item.line)) min="0" max=(item.to_ship())
                            value=(value(&format!("line_{}", item.line), item.to_ship().to_string()))
                            aria-invalid=[line_error.map(|_| "true")] aria-describedby=[line_error.map(|_| format!("{id}-error"))];
                        @if let Some(m) = line_error { p.field-error id=(format!("{id}-error")) { (m) } }
                    }
                }
                @if let Some(m) = err("lines") { p.field-error #lines-error { (m) } }
            }
            (input("carrier", t(w, "Carrier"), &value("carrier", String::new()), "text", true, 100, err("carrier"), "UPS"))
            (input("tracking_number", t(w, "Tracking number"), &value("tracking_number", String::new()), "text", true, 100, err("tracking_number"), ""))
            (input("tracking_url", t(w, "Tracking page (optional)"), &value("tracking_url", String::new()), "url", false, 2000, err("tracking_url"), "https://"))
            (input("note", t(w, "Note (in the order's history, optional)"), &value("note", String::new()), "text", false, 500, err("note"), ""))
            button type="submit" { (t(w, "Ship")) }
        }
    }
}

/// The refunds so far, each with where it stands.
fn refunds(w: Lang, o: &OrderDetail) -> Markup {
    html! {
        @if !o.refunds.is_empty() {
            h2 #refunds { (t(w, "Refunds")) }
            ol.refunds aria-labelledby="refunds" {
                @for r in &o.refunds {
                    li.refund #(format!("refund-{}", r.id)) {
                        p { strong { (money(&r.amount)) } " · " (when(&r.created_at)) " · "
                            span class=(format!("refund-status {}", r.status)) { (t(w, r.status_words())) } }
                        @let what = r.contents(&o.items);
                        @if !what.is_empty() { p { (what) } }
                        p.meta { (r.reason) }
                        @if let Some(e) = &r.error { p.field-error { (e) } }
                    }
                }
            }
        }
    }
}

/// Refund by items (each at its part of the total) or by an amount.
fn refund_form(a: &AdminPage, o: &OrderDetail, errors: &BTreeMap<String, String>, sent: &Fields) -> Markup {
    let w = a.w;
    let err = |k: &str| errors.get(&format!("refund:{k}")).map(String::as_str);
    let value = |k: &str| field(sent, k).unwrap_or("").to_owned();
    let left: Vec<&OrderItem> = o.items.iter().filter(|i| i.quantity > i.refunded).collect();
    // a new key per drawing of the form: the same form sent twice refunds once
    let key = field(sent, "key").map(str::to_owned).unwrap_or_else(new_key);
    html! {
        h2 #refund { (t(w, "Refund")) }
        p.meta { (money(&Money { amount: o.refundable(), currency: o.total.currency.clone() })) (t(w, " can still be refunded.")) }
        form.refund method="post" action=(format!("/admin/orders/{}/refunds", o.id)) aria-labelledby="refund" {
            (csrf(&a.ps))
            input type="hidden" name="key" value=(key);
            @if let Some(m) = err("form") { p.field-error #refund-form-error role="alert" { (m) } }
            @if !left.is_empty() {
                fieldset.refund-lines aria-describedby=[err("lines").map(|_| "refund-lines-error")] {
                    legend { (t(w, "Items to refund (each at its share of the total)")) }
                    @for item in &left {
                        @let id = format!("r-{}", item.line);
                        @let line_error = err(&format!("rline_{}", item.line));
                        div.field {
                            label for=(id) { (item.name) " " span.meta { "(" (item.quantity - item.refunded) (t(w, " not refunded)")) } }
                            input id=(id) type="number" name=(format!("rline_{}", item.line)) min="0" max=(item.quantity - item.refunded)
                                value=(field(sent, &format!("rline_{}", item.line)).unwrap_or("0"))
                                aria-invalid=[line_error.map(|_| "true")] aria-describedby=[line_error.map(|_| format!("{id}-error"))];
                            @if let Some(m) = line_error { p.field-error id=(format!("{id}-error")) { (m) } }
                        }
                    }
                    @if let Some(m) = err("lines") { p.field-error #refund-lines-error { (m) } }
                }
            }
            div.field {
                label for="f-amount" { (t(w, "Or an amount (")) (o.total.currency) ")" }
                input #f-amount type="text" name="amount" inputmode="decimal" placeholder="0.00" value=(value("amount"))
                    aria-invalid=[err("amount").map(|_| "true")] aria-describedby=[err("amount").map(|_| "f-amount-error")];
                @if let Some(m) = err("amount") { p.field-error #f-amount-error { (m) } }
            }
            div.field {
                label for="f-reason" { (t(w, "Reason (the customer reads it)")) }
                input #f-reason type="text" name="reason" required maxlength="500" value=(value("reason"))
                    aria-invalid=[err("reason").map(|_| "true")] aria-describedby=[err("reason").map(|_| "f-reason-error")];
                @if let Some(m) = err("reason") { p.field-error #f-reason-error { (m) } }
            }
            button type="submit" { (t(w, "Refund")) }
        }
    }
}

/// A fresh idempotency key for a form.
fn new_key() -> String {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).expect("the operating system's random source is available");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /admin/orders/{id}/refunds`: the API's refund, from the form's item quantities
/// (`rline_{n}`, 0 leaves a line out) or amount, with its reason and idempotency key.
pub async fn refund(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let (sent, bad) = form_lines(&f, "rline_");
    let mut bad: BTreeMap<String, String> = bad.into_iter().map(|(k, v)| (format!("refund:{k}"), v)).collect();
    let lines: Vec<serde_json::Value> =
        sent.iter().map(|&(line, units)| serde_json::json!({"line_id": line, "quantity": units})).collect();
    let amount_text = field(&f, "amount").unwrap_or("").trim();
    let amount = if amount_text.is_empty() {
        None
    } else {
        match super::forms::minor_units(amount_text) {
            Some(a) => Some(a),
            None => {
                bad.insert("refund:amount".to_owned(), t(w, "must be an amount such as 12.50").to_owned());
                None
            }
        }
    };
    if lines.is_empty() && amount_text.is_empty() && bad.is_empty() {
        bad.insert("refund:lines".to_owned(), t(w, "choose the items to refund, or enter an amount").to_owned());
    }
    let errors = if !bad.is_empty() {
        bad
    } else {
        let mut body = serde_json::json!({ "reason": field(&f, "reason").unwrap_or("") });
        if !lines.is_empty() {
            body["lines"] = serde_json::Value::Array(lines);
        }
        if let Some(a) = amount {
            body["amount"] = a.into();
        }
        let mut headers = axum::http::HeaderMap::new();
        if let Some(k) = field(&f, "key").and_then(|k| axum::http::HeaderValue::from_str(k).ok()) {
            headers.insert("idempotency-key", k);
        }
        let refunded = match serde_json::from_value::<admin::orders::RefundIn>(body.clone()) {
            Ok(value) => {
                let canonical = serde_json::to_vec(&body).expect("a value serializes");
                let with = crate::http::JsonWithBytes { value, bytes: canonical.clone().into(), canonical };
                answered::<serde_json::Value>(
                    admin::orders::create_refund(
                        State(app.clone()),
                        a.admin.clone(),
                        PathId(id.0, PhantomData),
                        headers,
                        with,
                    )
                    .await,
                )
                .await
            }
            Err(e) => Err(ApiError::bad_request("invalid_body", e.to_string())),
        };
        match refunded {
            Ok(_) => return Ok(see_other(&format!("/admin/orders/{}#refunds", id.0), None)),
            // a refusal without a field (409: more than was captured…) is the form's
            Err(e) => refused(w, e)?
                .into_iter()
                .map(|(k, v)| (format!("refund:{}", beside_line(&k, &sent, "rline_")), v))
                .collect(),
        }
    };
    let o = load(&app, &a, id.0).await?;
    Ok(order_page(&app, &a, o, &errors, &f))
}

/// `POST /admin/orders/{id}/fulfillments`: the API's shipment, from the form's quantities
/// (`line_{n}`, 0 leaves a line out), carrier, tracking number and page.
pub async fn ship(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let (sent, mut bad) = form_lines(&f, "line_");
    if sent.is_empty() && bad.is_empty() {
        bad.insert("lines".to_owned(), t(w, "put at least one item in the parcel").to_owned());
    }
    let errors = if !bad.is_empty() {
        bad
    } else {
        let body = admin::orders::FulfillmentIn {
            lines: Some(
                sent.iter().map(|&(line_id, quantity)| admin::orders::ShipLineIn { line_id, quantity }).collect(),
            ),
            carrier: field(&f, "carrier").unwrap_or("").to_owned(),
            tracking_number: field(&f, "tracking_number").unwrap_or("").to_owned(),
            tracking_url: field(&f, "tracking_url").map(str::to_owned).filter(|u| !u.trim().is_empty()),
            note: field(&f, "note").map(str::to_owned).filter(|n| !n.trim().is_empty()),
        };
        let shipped = answered::<serde_json::Value>(
            admin::orders::create_fulfillment(
                State(app.clone()),
                a.admin.clone(),
                PathId(id.0, PhantomData),
                JsonBody(body),
            )
            .await,
        )
        .await;
        match shipped {
            Ok(_) => return Ok(see_other(&format!("/admin/orders/{}#shipments", id.0), None)),
            Err(e) => refused(w, e)?.into_iter().map(|(k, v)| (beside_line(&k, &sent, "line_"), v)).collect(),
        }
    };
    let o = load(&app, &a, id.0).await?;
    Ok(order_page(&app, &a, o, &errors, &f))
}

/// `POST /admin/orders/{id}/fulfillments/{fid}/delivered`: the API's "delivered".
pub async fn delivered(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, fid)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let back = format!("/admin/orders/{id}#shipments");
    answered::<serde_json::Value>(
        admin::orders::update_fulfillment(
            State(app.clone()),
            a.admin.clone(),
            Path((id, fid)),
            JsonBody(admin::orders::FulfillmentPatch { delivered: true }),
        )
        .await,
    )
    .await?;
    Ok(see_other(&back, None))
}

#[derive(Deserialize)]
pub struct StatusForm {
    csrf: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

/// `POST /admin/orders/{id}/status`: the API's order change (its lifecycle, stock, mail,
/// events, audit row).
pub async fn order_status(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let body = admin::orders::OrderStatusIn {
        status: f.status.clone(),
        note: Some(f.note.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    let changed = answered::<serde_json::Value>(
        admin::orders::update_order(State(app.clone()), a.admin.clone(), PathId(id.0, PhantomData), JsonBody(body))
            .await,
    )
    .await;
    match changed {
        Ok(_) => Ok(see_other(&format!("/admin/orders/{}", id.0), None)),
        Err(e) => {
            let errors = refused(w, e)?;
            let o = load(&app, &a, id.0).await?;
            // the status form's refusal is the whole form's
            let errors = BTreeMap::from([("form".to_owned(), errors.into_values().collect::<Vec<_>>().join("; "))]);
            Ok(order_page(&app, &a, o, &errors, &Vec::new()))
        }
    }
}

// --- edits --------------------------------------------------------------------------------

/// `GET /admin/orders/{id}/edit`: the order's lines with their quantities, and a product to
/// add by SKU.
pub async fn edit(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let o = load(&app, &a, id.0).await?;
    Ok(edit_page(&app, &a, o, &BTreeMap::new(), &Vec::new()))
}

fn edit_page(
    app: &AppState,
    a: &AdminPage,
    o: OrderDetail,
    errors: &BTreeMap<String, String>,
    sent: &Fields,
) -> Response {
    let w = a.w;
    let err = |k: &str| errors.get(k).map(String::as_str);
    let key = field(sent, "key").map(str::to_owned).unwrap_or_else(new_key);
    let paid = o.status != "pending";
    let main = html! {
        p.crumbs { a href="/admin/orders" { (t(w, "Orders")) } " / " a href=(format!("/admin/orders/{}", o.id)) { "#" (o.id) } (t(w, " / Edit")) }
        h1 { (t(w, "Edit order #")) (o.id) }
        @if let Some(m) = err("form") { div.error role="alert" #edit-error { p { (m) } } }
        @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "Nothing was changed: see the fields below.")) } } }
        @if !o.editable() {
            p { (t(w, "This order can no longer be edited: something of it has shipped, been cancelled or refunded.")) }
            p { a href=(format!("/admin/orders/{}", o.id)) { (t(w, "Back to the order")) } }
        } @else {
            p.meta { (t(w, "Lines keep the price they were ordered at; a product you add is priced as it sells now. Stock moves with the change. "))
                @if paid { (t(w, "The order is paid: a lower total refunds the difference, a higher one leaves a balance for the customer to pay.")) }
                @else { (t(w, "The order is not paid yet: the customer pays the new total.")) } }
            form.edit method="post" action=(format!("/admin/orders/{}/edit", o.id)) aria-labelledby="edit-lines" {
                (csrf(&a.ps))
                input type="hidden" name="key" value=(key);
                table.lines {
                    caption #edit-lines { (t(w, "Items (0 removes a line)")) }
                    thead { tr { th scope="col" { (t(w, "Item")) } th scope="col" { (t(w, "Price")) } th scope="col" { (t(w, "Quantity")) } } }
                    tbody { @for l in &o.items {
                        @let name = format!("q_{}", l.line);
                        @let id = format!("f-{name}");
                        tr {
                            td { strong { (l.name) } @if !l.sku.is_empty() { br; span.meta { (l.sku) } } }
                            td data-label=(t(w, "Price")) { (money(&l.unit_price)) }
                            td data-label=(t(w, "Quantity")) {
                                input id=(id) type="number" name=(name) min="0" max="1000" required aria-label=(tf(w, "Quantity of {name}", &[("name", &l.name)]))
                                    value=(field(sent, &name).map(str::to_owned).unwrap_or_else(|| l.quantity.to_string()))
                                    aria-invalid=[err(&name).map(|_| "true")] aria-describedby=[err(&name).map(|_| format!("{id}-error"))];
                                @if let Some(m) = err(&name) { p.field-error id=(format!("{id}-error")) { (m) } }
                            }
                        }
                    } }
                }
                fieldset {
                    legend { (t(w, "Add a product (optional)")) }
                    (input("add_sku", t(w, "SKU of the product or variant"), field(sent, "add_sku").unwrap_or(""), "text", false, 100, err("add_sku"), ""))
                    (input("add_quantity", t(w, "Quantity"), field(sent, "add_quantity").unwrap_or("1"), "number", false, 4, err("add_quantity"), ""))
                }
                button type="submit" { (t(w, "Save changes")) }
                " " a href=(format!("/admin/orders/{}", o.id)) { (t(w, "Cancel")) }
            }
        }
    };
    let mut resp = page_with(app, a, &format!("{}{}", t(w, "Edit order #"), o.id), "/admin/orders", main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// `POST /admin/orders/{id}/edit`: the API's edit, from the lines' quantities (`q_{line}`,
/// those that changed; 0 removes) and a product to add by SKU, with the form's idempotency
/// key.
pub async fn save_edit(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let o = load(&app, &a, id.0).await?;
    let mut bad: BTreeMap<String, String> = BTreeMap::new();
    // the lines whose quantity changed, in the order sent (the API's change[i] is the i-th)
    let mut change: Vec<(i64, i64)> = Vec::new();
    for l in &o.items {
        let name = format!("q_{}", l.line);
        let Some(typed) = field(&f, &name) else { continue };
        match typed.trim().parse::<i64>() {
            Ok(q) if (0..=1000).contains(&q) => {
                if q != l.quantity {
                    change.push((l.line, q));
                }
            }
            _ => {
                bad.insert(name, t(w, "a whole number from 0 to 1000").to_owned());
            }
        }
    }
    let sku = field(&f, "add_sku").unwrap_or("").trim().to_owned();
    let mut add = None;
    if !sku.is_empty() {
        let quantity = match field(&f, "add_quantity").unwrap_or("1").trim().parse::<i64>() {
            Ok(q) if (1..=1000).contains(&q) => q,
            _ => {
                bad.insert("add_quantity".to_owned(), t(w, "a whole number from 1 to 1000").to_owned());
                0
            }
        };
        let wanted = sku.clone();
        let variant = app
            .db
            .read(move |conn| crate::catalog::store::variant_by_sku(conn, &wanted).map_err(ApiError::from))
            .await?;
        match variant {
            Some(v) => add = Some((v, quantity)),
            None => {
                bad.insert("add_sku".to_owned(), tf(w, "no product or variant has the SKU {sku}", &[("sku", &sku)]));
            }
        }
    }
    if bad.is_empty() && change.is_empty() && add.is_none() {
        bad.insert("form".to_owned(), t(w, "Nothing to save: change a quantity or add a product.").to_owned());
    }
    let errors = if !bad.is_empty() {
        bad
    } else {
        let mut body = serde_json::json!({});
        if !change.is_empty() {
            body["change"] = change.iter().map(|&(l, q)| serde_json::json!({"line_id": l, "quantity": q})).collect();
        }
        if let Some((v, q)) = add {
            body["add"] = serde_json::json!([{"variant_id": v.to_string(), "quantity": q}]);
        }
        let mut headers = axum::http::HeaderMap::new();
        if let Some(k) = field(&f, "key").and_then(|k| axum::http::HeaderValue::from_str(k).ok()) {
            headers.insert("idempotency-key", k);
        }
        let value: admin::orders::EditIn =
            serde_json::from_value(body.clone()).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        let canonical = serde_json::to_vec(&body).expect("a value serializes");
        let with = crate::http::JsonWithBytes { value, bytes: canonical.clone().into(), canonical };
        let edited = answered::<serde_json::Value>(
            admin::orders::edit_order(State(app.clone()), a.admin.clone(), PathId(id.0, PhantomData), headers, with)
                .await,
        )
        .await;
        match edited {
            Ok(_) => return Ok(see_other(&format!("/admin/orders/{}", id.0), None)),
            // change[i] is the i-th changed line's field; add[0] is the SKU's
            Err(e) => refused(w, e)?
                .into_iter()
                .map(|(k, v)| {
                    let at = |rest: &str| rest.split_once(']').and_then(|(i, _)| i.parse::<usize>().ok());
                    let to = match (k.strip_prefix("change["), k.strip_prefix("add[")) {
                        (Some(rest), _) => at(rest).and_then(|i| change.get(i)).map(|(l, _)| format!("q_{l}")),
                        (_, Some(rest)) if rest.ends_with(".quantity") => Some("add_quantity".to_owned()),
                        (_, Some(_)) => Some("add_sku".to_owned()),
                        _ => None,
                    };
                    (to.unwrap_or(k), v)
                })
                .collect(),
        }
    };
    let o = load(&app, &a, id.0).await?;
    Ok(edit_page(&app, &a, o, &errors, &f))
}

/// `POST /admin/orders/{id}/balance`: the API's "balance paid".
pub async fn balance(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let done = answered::<serde_json::Value>(
        admin::orders::balance_paid(State(app.clone()), a.admin.clone(), PathId(id.0, PhantomData)).await,
    )
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/admin/orders/{}", id.0), None)),
        Err(e) => {
            let errors = refused(w, e)?;
            let o = load(&app, &a, id.0).await?;
            Ok(order_page(&app, &a, o, &errors, &Vec::new()))
        }
    }
}
