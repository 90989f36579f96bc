//! Draft orders as the owner handles them: build one for a customer or an e-mail address,
//! read it priced as checkout would price it, change it, drop it, and complete it into an
//! order that awaits payment (with a payment link) or is paid (see
//! [`crate::orders::drafts`]). Each change is one writer unit with its audit row.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::*;
use crate::customers::model::AddressIn;
use crate::domain::{Email, PaymentMethod, Quantity};
use crate::http::path::{res, PathId};
use crate::orders::drafts::{self, Draft, DraftLine, DraftOut, MAX_LINES, MAX_UNIT_PRICE};

/// A line of a draft.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftLineIn {
    #[schema(value_type = String, example = "31")]
    pub variant_id: Id,
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
    /// the owner's price for one unit (minor units), when the `draft_custom_prices` setting
    /// allows; absent: the price it sells at
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub unit_price: Option<i64>,
}

/// A new draft order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftIn {
    /// the customer it is for (the order shows in their account)…
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "7")]
    pub customer_id: Option<Id>,
    /// …or an e-mail address (a customer's own address makes it that customer's)
    #[serde(default)]
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// the lines (each variant once); none yet is allowed, completing needs one
    #[schema(max_items = 100)]
    pub lines: Vec<DraftLineIn>,
    pub shipping_address: AddressIn,
    /// a shipping option's code; absent: the cheapest for the address
    #[serde(default)]
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub shipping_option: Option<String>,
    /// a promotion code (checked when read and when completed)
    #[serde(default)]
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub discount_code: Option<String>,
    /// how the customer pays: an offline method (`card` by default) or a provider's
    /// reference
    #[serde(default)]
    #[schema(pattern = "^[!-~]{1,255}$")]
    pub payment_method: Option<String>,
    /// for the shop
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub note: Option<String>,
    /// the currency it is priced in and its order will be: one of the shop's (the
    /// `currencies` setting; else 422); default the shop's default
    #[serde(default)]
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
}

/// A change to an open draft: each field given replaces the draft's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftChangeIn {
    /// makes it this customer's (and forgets `email`)
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "7")]
    pub customer_id: Option<Id>,
    /// makes it this address's (and forgets `customer_id`, unless it is a customer's own)
    #[serde(default)]
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// all the lines, replacing the draft's
    #[serde(default)]
    #[schema(max_items = 100)]
    pub lines: Option<Vec<DraftLineIn>>,
    #[serde(default)]
    pub shipping_address: Option<AddressIn>,
    /// null: the cheapest
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>, max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub shipping_option: Option<Option<String>>,
    /// null: none
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>, max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub discount_code: Option<Option<String>>,
    #[serde(default)]
    #[schema(pattern = "^[!-~]{1,255}$")]
    pub payment_method: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub note: Option<String>,
    /// one of the shop's currencies (else 422): its prices are read in it from now
    #[serde(default)]
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
}

/// A currency asked for a draft: one of the shop's (`None` for the default), or the error
/// on `checks`.
fn check_currency(checks: &mut Checks, asked: Option<&str>, setting: &str) -> Option<Option<String>> {
    let e = checks.check("currency", crate::domain::currencies::sold(setting, asked?))?;
    Some((e.code != crate::domain::currencies::default_of(setting)).then(|| e.code.as_str().to_owned()))
}

/// Who a draft is for, as asked.
enum For {
    Customer(i64),
    Email(Email),
}

/// The checked fields of a draft's request (`None`: not given).
#[derive(Default)]
struct Fields {
    who: Option<For>,
    lines: Option<Vec<DraftLine>>,
    address: Option<String>,
    shipping_option: Option<Option<String>>,
    discount_code: Option<Option<String>>,
    payment_method: Option<String>,
    note: Option<String>,
    /// `Some(None)`: the default
    currency: Option<Option<String>>,
}

fn check_lines(checks: &mut Checks, lines: &[DraftLineIn], custom_prices: bool) -> Vec<DraftLine> {
    if lines.len() > MAX_LINES {
        checks.error("lines", format!("at most {MAX_LINES} lines"));
    }
    for (i, l) in lines.iter().enumerate() {
        if let Err(e) = Quantity::parse(l.quantity) {
            checks.error(&format!("lines[{i}].quantity"), e);
        }
        if let Some(p) = l.unit_price {
            if !(0..=MAX_UNIT_PRICE).contains(&p) {
                checks.error(&format!("lines[{i}].unit_price"), format!("must be 0 to {MAX_UNIT_PRICE} minor units"));
            } else if !custom_prices {
                checks.error(&format!("lines[{i}].unit_price"), "custom prices are turned off (draft_custom_prices)");
            }
        }
        if lines[..i].iter().any(|o| o.variant_id == l.variant_id) {
            checks.error(&format!("lines[{i}].variant_id"), "this variant has a line already: give its quantity there");
        }
    }
    lines
        .iter()
        .map(|l| DraftLine { variant_id: l.variant_id.0, quantity: l.quantity, unit_price: l.unit_price })
        .collect()
}

fn check_code(checks: &mut Checks, field: &str, v: &Option<String>) -> Option<Option<String>> {
    match v {
        None => Some(None),
        Some(s) => checks.check(field, text(s, 64, false)).map(Some),
    }
}

/// Checks a request's fields for shape (what needs the database is [`check_stored`]'s).
#[allow(clippy::too_many_arguments)]
fn check_fields(
    checks: &mut Checks,
    customer_id: Option<Id>,
    email: Option<&str>,
    lines: Option<&[DraftLineIn]>,
    address: Option<&AddressIn>,
    shipping_option: Option<&Option<String>>,
    discount_code: Option<&Option<String>>,
    payment_method: Option<&str>,
    note: Option<&str>,
    custom_prices: bool,
) -> Fields {
    let who = match (customer_id, email) {
        (Some(_), Some(_)) => {
            checks.error("customer_id", "give customer_id or email, not both");
            None
        }
        (Some(c), None) => Some(For::Customer(c.0)),
        (None, Some(e)) => checks.check("email", Email::parse(e)).map(For::Email),
        (None, None) => None,
    };
    Fields {
        who,
        lines: lines.map(|l| check_lines(checks, l, custom_prices)),
        address: address
            .and_then(|a| a.validate("shipping_address", checks))
            .map(|a| serde_json::to_string(&a).expect("addresses serialize")),
        shipping_option: shipping_option.and_then(|o| check_code(checks, "shipping_option", o)),
        discount_code: discount_code.and_then(|c| check_code(checks, "discount_code", c)),
        payment_method: payment_method
            .and_then(|m| checks.check("payment_method", PaymentMethod::parse(m)))
            .map(|m| m.as_str().to_owned()),
        note: note.and_then(|n| checks.check("note", text(n, 500, true))),
        currency: None,
    }
}

/// Lays `f` over `d`, checking what needs the database (422 naming the field).
fn check_stored(tx: &WriteTx, d: &mut Draft, f: Fields) -> Result<(), ApiError> {
    let mut checks = Checks::new();
    match f.who {
        Some(For::Customer(c)) => match crate::customers::store::customer(tx, c)? {
            Some(found) => {
                d.customer_id = Some(c);
                d.email = found.email;
            }
            None => checks.error("customer_id", format!("no customer {c}")),
        },
        Some(For::Email(e)) => {
            d.customer_id = crate::customers::store::customer_id_by_email(tx, e.as_str())?;
            d.email = e.as_str().to_owned();
        }
        None => {}
    }
    if let Some(lines) = f.lines {
        // each line's product: one statement for all of them
        let ids = serde_json::to_string(&lines.iter().map(|l| l.variant_id).collect::<Vec<_>>()).expect("ids");
        let gift: std::collections::HashMap<i64, bool> = tx
            .prepare_cached(
                "SELECT v.id, p.gift_card FROM variants v JOIN products p ON p.id = v.product_id
                 WHERE v.id IN (SELECT value FROM json_each(?1))",
            )?
            .query_map([ids], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (i, l) in lines.iter().enumerate() {
            match gift.get(&l.variant_id) {
                None => checks.error(&format!("lines[{i}].variant_id"), format!("no variant {}", l.variant_id)),
                Some(true) if l.unit_price.is_some() => checks.error(
                    &format!("lines[{i}].unit_price"),
                    "a gift card sells at its price (the card it issues is worth that)",
                ),
                Some(_) => {}
            }
        }
        d.lines = lines;
    }
    if let Some(a) = f.address {
        d.shipping_address = a;
    }
    if let Some(o) = f.shipping_option {
        d.shipping_option = o;
    }
    if let Some(c) = f.discount_code {
        d.discount_code = c;
    }
    if let Some(m) = f.payment_method {
        d.payment_method = m;
    }
    if let Some(n) = f.note {
        d.note = n;
    }
    if let Some(c) = f.currency {
        d.currency = c;
    }
    checks.finish()
}

/// Create a draft order
///
/// For a customer (`customer_id`) or an e-mail address (one that is a customer's own makes
/// it theirs), with lines, a shipping address, and optionally a shipping option, a
/// discount code, the payment method and a note. Nothing is reserved: the answer is the
/// draft priced as checkout would price it now, with `problems` naming what would stop it
/// completing. A line's `unit_price` sets the owner's own price when the
/// `draft_custom_prices` setting allows (422 otherwise). Audited.
#[utoipa::path(post, path = "/api/admin/draft-orders", tag = "admin", security(("bearer" = ["admin"])),
    request_body = DraftIn,
    responses((status = 201, description = "the draft, priced", body = Data<DraftOut>), AdminErrors, BodyErrors, WriteErrors))]
pub async fn create_draft(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(b): JsonBody<DraftIn>,
) -> Result<Response, ApiError> {
    let custom_prices = app.live().draft_custom_prices;
    let mut checks = Checks::new();
    if b.customer_id.is_none() && b.email.is_none() {
        checks.error("email", "give customer_id or email");
    }
    let f = check_fields(
        &mut checks,
        b.customer_id,
        b.email.as_deref(),
        Some(&b.lines),
        Some(&b.shipping_address),
        Some(&b.shipping_option),
        Some(&b.discount_code),
        Some(b.payment_method.as_deref().unwrap_or("card")),
        Some(b.note.as_deref().unwrap_or("")),
        custom_prices,
    );
    let setting = app.live().currencies.clone();
    let f = Fields { currency: check_currency(&mut checks, b.currency.as_deref(), &setting), ..f };
    checks.finish()?;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let mut d = Draft {
                id: 0,
                customer_id: None,
                email: String::new(),
                lines: Vec::new(),
                shipping_address: String::new(),
                shipping_option: None,
                discount_code: None,
                payment_method: String::new(),
                note: String::new(),
                order_id: None,
                completed_at: None,
                created_by: Some(admin.0.customer_id),
                created_at: now,
                updated_at: now,
                currency: None,
            };
            check_stored(tx, &mut d, f)?;
            d.id = drafts::insert(tx, &d)?;
            let out = drafts::out(tx, &d, custom_prices, &setting, now)?;
            audit(tx, &admin, "draft_order.create", "draft_order", d.id, None, Some(&summary(&d, Some(&out.total))))?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &out))
}

/// A draft's fields for an audit row, as stored (what it cost, when priced: `total`).
fn summary(d: &Draft, total: Option<&crate::domain::Money>) -> serde_json::Value {
    serde_json::json!({
        "customer_id": d.customer_id,
        "email": d.email,
        "lines": d.lines.iter().map(|l| serde_json::json!({
            "variant_id": l.variant_id, "quantity": l.quantity, "unit_price": l.unit_price,
        })).collect::<Vec<_>>(),
        "shipping_option": d.shipping_option,
        "discount_code": d.discount_code,
        "payment_method": d.payment_method,
        "total": total,
    })
}

/// Which drafts a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftState {
    Open,
    Completed,
}

impl crate::http::Choice for DraftState {
    fn choices() -> Vec<(&'static str, Self)> {
        vec![("open", DraftState::Open), ("completed", DraftState::Completed)]
    }
}

const STATUS: OneOf<DraftState> = OneOf::new("status", "only open drafts, or only completed ones");

crate::http::query_params!(
    pub struct DraftsQuery [STATUS.param]
);

/// Draft orders, newest first
///
/// Keyset pages: `before` is the last id of the previous page; `status` keeps the open or
/// the completed ones. Each is priced now.
#[utoipa::path(get, path = "/api/admin/draft-orders", tag = "admin", security(("bearer" = ["admin"])),
    params(DraftsQuery, PageBefore),
    responses((status = 200, description = "drafts", body = Data<Vec<DraftOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_drafts(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q.one_of(&STATUS);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    let custom_prices = app.live().draft_custom_prices;
    let setting = app.live().currencies.clone();
    let list = app
        .db
        .read(move |conn| {
            let now = now_ms();
            let open = status.map(|s| s == DraftState::Open);
            drafts::list(conn, open, before, limit)?
                .iter()
                .map(|d| drafts::out(conn, d, custom_prices, &setting, now).map_err(ApiError::from))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(data(StatusCode::OK, &list))
}

/// One draft order
///
/// Priced now as checkout would price it, with the shipping options for its address and
/// `problems` naming what would stop it completing (a line no longer for sale, a code that
/// does not apply, no shipping to the address).
#[utoipa::path(get, path = "/api/admin/draft-orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a draft order id")),
    responses((status = 200, description = "the draft", body = Data<DraftOut>), AdminErrors, NotFound, ReadErrors))]
pub async fn get_draft(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::DraftOrder>,
) -> Result<Response, ApiError> {
    let custom_prices = app.live().draft_custom_prices;
    let setting = app.live().currencies.clone();
    let out = app
        .db
        .read(move |conn| match drafts::load(conn, id)? {
            Some(d) => Ok::<_, ApiError>(Some(drafts::out(conn, &d, custom_prices, &setting, now_ms())?)),
            None => Ok(None),
        })
        .await?;
    Ok(data(StatusCode::OK, &out.ok_or_else(|| ApiError::not_found("draft order"))?))
}

/// Change a draft order
///
/// Each field given replaces the draft's (`lines`: all of them). `customer_id` and `email`
/// each replace the other. 409 `draft_completed` once it became an order. Audited.
#[utoipa::path(patch, path = "/api/admin/draft-orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a draft order id")),
    request_body = DraftChangeIn,
    responses((status = 200, description = "the draft, priced", body = Data<DraftOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "draft_completed", body = ErrorBody), WriteErrors))]
pub async fn update_draft(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::DraftOrder>,
    JsonBody(b): JsonBody<DraftChangeIn>,
) -> Result<Response, ApiError> {
    let custom_prices = app.live().draft_custom_prices;
    let mut checks = Checks::new();
    let f = check_fields(
        &mut checks,
        b.customer_id,
        b.email.as_deref(),
        b.lines.as_deref(),
        b.shipping_address.as_ref(),
        b.shipping_option.as_ref(),
        b.discount_code.as_ref(),
        b.payment_method.as_deref(),
        b.note.as_deref(),
        custom_prices,
    );
    let setting = app.live().currencies.clone();
    let f = Fields { currency: check_currency(&mut checks, b.currency.as_deref(), &setting), ..f };
    checks.finish()?;
    let out = app.db.writer.run(move |tx| update_in(tx, &admin, id, f, (custom_prices, &setting), now_ms())).await?;
    Ok(data(StatusCode::OK, &out))
}

fn update_in(
    tx: &WriteTx,
    admin: &AdminSession,
    id: i64,
    f: Fields,
    (custom_prices, setting): (bool, &str),
    now: i64,
) -> Result<DraftOut, ApiError> {
    let mut d = drafts::load(tx, id)?.ok_or_else(|| ApiError::not_found("draft order"))?;
    if !d.is_open() {
        return Err(drafts::CompleteError::Completed(d.order_id).into());
    }
    let before = summary(&d, None);
    check_stored(tx, &mut d, f)?;
    d.updated_at = now;
    drafts::save(tx, &d)?;
    let out = drafts::out(tx, &d, custom_prices, setting, now)?;
    audit(tx, admin, "draft_order.update", "draft_order", id, Some(&before), Some(&summary(&d, Some(&out.total))))?;
    Ok(out)
}

/// Delete a draft order
///
/// Only while open (409 `draft_completed` once it became an order). Audited.
#[utoipa::path(delete, path = "/api/admin/draft-orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a draft order id")),
    responses((status = 204, description = "deleted"), AdminErrors, NotFound,
        (status = 409, description = "draft_completed", body = ErrorBody), WriteErrors))]
pub async fn delete_draft(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::DraftOrder>,
) -> Result<Response, ApiError> {
    app.db.writer.run(move |tx| delete_in(tx, &admin, id)).await?;
    Ok(crate::http::respond::no_content())
}

/// [`delete_draft`] in the writer unit `tx`.
pub fn delete_in(tx: &WriteTx, admin: &AdminSession, id: i64) -> Result<(), ApiError> {
    let d = drafts::load(tx, id)?.ok_or_else(|| ApiError::not_found("draft order"))?;
    if !d.is_open() {
        return Err(drafts::CompleteError::Completed(d.order_id).into());
    }
    drafts::delete(tx, id)?;
    audit(tx, admin, "draft_order.delete", "draft_order", id, Some(&summary(&d, None)), None)?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteIn {
    /// the payment is recorded now (taken on the phone, in cash…); absent or false: the
    /// order awaits payment, with a payment link
    #[serde(default)]
    pub paid: bool,
    /// how long an unpaid order holds its stock (hours; default 72)
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    pub hold_hours: Option<i64>,
}

/// A completed draft: its order.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CompletedOut {
    #[serde(flatten)]
    pub order: crate::orders::store::OrderOut,
    pub draft_id: Id,
    /// for an order that awaits payment: the page where the customer sees and pays it,
    /// without logging in (also in their mail). Said this once: only its key's hash is
    /// kept.
    pub payment_url: Option<String>,
}

/// Complete a draft order
///
/// Makes the order in one unit: the lines priced as now, every unit reserved (409
/// `out_of_stock` naming each short line; nothing changes), the code used, the customer
/// mailed, `order.placed` sent. With `paid: true` the payment is recorded at once (as the
/// payment webhook would: `paid`, stock sold, `order.paid`); otherwise the order is
/// `pending` for `hold_hours` with a `payment_url` (shown once) that opens it without a
/// login. 422 naming what stands in the way (the draft's `problems`); 409
/// `draft_completed` (with `order_id`) once it became an order: two completions at once
/// make one order. Audited.
#[utoipa::path(post, path = "/api/admin/draft-orders/{id}/complete", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a draft order id")),
    request_body = CompleteIn,
    responses((status = 201, description = "the order", body = Data<CompletedOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "draft_completed or out_of_stock", body = ErrorBody), WriteErrors))]
pub async fn complete_draft(
    State(app): State<AppState>,
    admin: AdminSession,
    origin: ShopOrigin,
    PathId(id, _): PathId<res::DraftOrder>,
    JsonBody(b): JsonBody<CompleteIn>,
) -> Result<Response, ApiError> {
    let out = complete(&app, admin, origin, id, b).await?;
    Ok(data(StatusCode::CREATED, &out))
}

/// Completes draft `id` (the dashboard's form does too).
pub async fn complete(
    app: &AppState,
    admin: AdminSession,
    origin: ShopOrigin,
    id: i64,
    b: CompleteIn,
) -> Result<CompletedOut, ApiError> {
    let hours = b.hold_hours.unwrap_or(72);
    if !(1..=720).contains(&hours) {
        let mut checks = Checks::new();
        checks.error("hold_hours", "must be 1 to 720");
        checks.finish()?;
    }
    let how = drafts::Completion {
        paid: b.paid,
        hold_ms: hours * 3_600_000,
        custom_prices: app.live().draft_custom_prices,
        origin: origin.0,
    };
    let fx = app.effects();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let done = drafts::complete(tx, id, &how, now, fx)?;
            let order = crate::orders::store::detail(tx, done.order)?.ok_or_else(ApiError::internal)?;
            audit(
                tx,
                &admin,
                "draft_order.complete",
                "draft_order",
                id,
                None,
                Some(&serde_json::json!({"order_id": order.id, "status": order.status, "total": order.total})),
            )?;
            Ok::<_, ApiError>(CompletedOut { order, draft_id: Id(id), payment_url: done.payment_url })
        })
        .await
}

/// A new payment link, as said once.
#[derive(Debug, serde::Serialize, Deserialize, ToSchema)]
pub struct PaymentLinkOut {
    pub draft_id: Id,
    pub order_id: Id,
    /// opens the order and its page without a session; the link sent before no longer does
    pub payment_url: String,
}

/// Send a new payment link
///
/// For the order a completed draft became, while it awaits payment (409
/// `invalid_transition` once paid, cancelled or expired; 409 `draft_open` for a draft not
/// completed): a new key replaces the old one, so the link sent before no longer opens the
/// order; the customer is mailed the new link, and it is in this answer, this once. The
/// order's history says so. Audited.
#[utoipa::path(post, path = "/api/admin/draft-orders/{id}/payment-link", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a draft order id")),
    responses((status = 201, description = "the new link", body = Data<PaymentLinkOut>), AdminErrors, NotFound,
        (status = 409, description = "draft_open, draft_completed (its order was archived) or invalid_transition (the order does not await payment)", body = ErrorBody), WriteErrors))]
pub async fn new_payment_link(
    State(app): State<AppState>,
    admin: AdminSession,
    origin: ShopOrigin,
    PathId(id, _): PathId<res::DraftOrder>,
) -> Result<Response, ApiError> {
    let out = payment_link(&app, admin, origin, id).await?;
    Ok(data(StatusCode::CREATED, &out))
}

/// [`new_payment_link`]'s unit, for the dashboard too.
pub async fn payment_link(
    app: &AppState,
    admin: AdminSession,
    origin: ShopOrigin,
    id: i64,
) -> Result<PaymentLinkOut, ApiError> {
    let fx = app.effects();
    app.db
        .writer
        .run(move |tx| {
            let (order, url) = drafts::new_link(tx, id, &origin.0, now_ms(), fx)?;
            audit(
                tx,
                &admin,
                "draft_order.payment_link",
                "draft_order",
                id,
                None,
                Some(&serde_json::json!({"order_id": Id(order)})),
            )?;
            Ok::<_, ApiError>(PaymentLinkOut { draft_id: Id(id), order_id: Id(order), payment_url: url })
        })
        .await
}

/// Where shoppers reach the shop (`https://shop.example`), for links in mail:
/// `public_url` when set; otherwise the address this request was sent to (`https` when a
/// trusted proxy says the client used it).
pub struct ShopOrigin(pub String);

impl FromRequestParts<AppState> for ShopOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<ShopOrigin, ApiError> {
        if let Some(url) = &app.config.public_url {
            return Ok(ShopOrigin(url.trim_end_matches('/').to_owned()));
        }
        let tls = app.clients.over_tls(parts);
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("localhost");
        Ok(ShopOrigin(format!("{}://{host}", if tls { "https" } else { "http" })))
    }
}
