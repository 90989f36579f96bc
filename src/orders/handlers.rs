//! Order endpoints: checkout from the cart, buy now, history, detail, cancel, and the
//! payment provider's webhook.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::checkout::{place, LineSource, Placed, PlacedOut, Placement};
use super::store;
use super::{lifecycle, Actor, Event, OrderStatus, TransitionError};
use crate::app::AppState;
use crate::auth::Session;
use crate::customers::model::AddressIn;
use crate::domain::{text, Email, Id, PaymentMethod, Quantity};
use crate::error::ApiError;
use crate::http::idempotency::{idempotency_key, request_hash, IdempotencyHeader};
use crate::http::path::{res, PathId};
use crate::http::respond::{data, private_json};
use crate::http::{Checks, JsonWithBytes, Param, QueryParams};
use crate::openapi::{
    AuthErrors, BodyErrors, Data, ErrorBody, NotFound, PlaceErrors, QueryErrors, ReadErrors, WriteErrors,
};
use crate::util::now_ms;

/// Most lines in one buy-now order.
const MAX_LINES: usize = 100;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutIn {
    pub shipping_address: AddressIn,
    /// an offline method (card, paypal, bank_transfer, cash_on_delivery) or a payment
    /// provider's reference such as `pm_card_visa`: 1 to 255 visible ASCII characters
    #[schema(extensions(("x-pattern" = json!(crate::domain::PaymentMethod::PATTERN))))]
    pub payment_method: String,
    /// a shipping option's code (see /api/cart/shipping-options); default the cheapest
    #[serde(default)]
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub shipping_option: Option<String>,
    /// where a guest's confirmation goes (a customer's goes to the account's address)
    #[serde(default)]
    #[schema(max_length = 254, extensions(("x-pattern" = json!(crate::domain::Email::PATTERN))))]
    pub email: Option<String>,
}

/// A product (its first variant with stock) or a variant, and how many; one of the ids is
/// needed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    pub product_id: Option<Id>,
    pub variant_id: Option<Id>,
    pub quantity: i64,
}

impl utoipa::PartialSchema for ItemIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::cart::line_in_schema()
    }
}
impl utoipa::ToSchema for ItemIn {}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyNowIn {
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<ItemIn>,
    pub shipping_address: AddressIn,
    /// an offline method (card, paypal, bank_transfer, cash_on_delivery) or a payment
    /// provider's reference such as `pm_card_visa`: 1 to 255 visible ASCII characters
    #[schema(extensions(("x-pattern" = json!(crate::domain::PaymentMethod::PATTERN))))]
    pub payment_method: String,
    /// a shipping option's code (see /api/cart/shipping-options); default the cheapest
    #[serde(default)]
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub shipping_option: Option<String>,
    /// where a guest's confirmation goes (a customer's goes to the account's address)
    #[serde(default)]
    #[schema(max_length = 254, extensions(("x-pattern" = json!(crate::domain::Email::PATTERN))))]
    pub email: Option<String>,
    /// a promotion code
    #[serde(default)]
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub discount_code: Option<String>,
    /// the order's currency: one of the shop's (the `currencies` setting; else 422);
    /// default the shop's default. Its prices are the shopper's there (price lists, else
    /// the default's converted).
    #[serde(default)]
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
}

/// The fields both ways of ordering take for delivery and payment.
trait PlacementFields {
    fn fields(&self) -> (&AddressIn, &str, Option<&str>, Option<&str>);
}

macro_rules! placement_fields {
    ($($t:ty),*) => {$(
        impl PlacementFields for $t {
            fn fields(&self) -> (&AddressIn, &str, Option<&str>, Option<&str>) {
                (&self.shipping_address, &self.payment_method, self.shipping_option.as_deref(), self.email.as_deref())
            }
        }
    )*};
}
placement_fields!(CheckoutIn, BuyNowIn);

fn validate_placement(
    checks: &mut Checks,
    body: &impl PlacementFields,
    headers: &HeaderMap,
    app: &AppState,
) -> Option<Placement> {
    let (address, payment_method, shipping_option, email) = body.fields();
    let address = address.validate("shipping_address", checks);
    let payment_method = checks.check("payment_method", PaymentMethod::parse(payment_method));
    let shipping_option = match shipping_option {
        Some(s) => Some(checks.check("shipping_option", text(s, 64, false))?),
        None => None,
    };
    let email = match email {
        Some(e) => Some(checks.check("email", Email::parse(e))?),
        None => None,
    };
    let header = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let locale = crate::domain::locale::of_header(header, &app.live().locales);
    Some(Placement {
        address: address?,
        payment_method: payment_method?,
        shipping_option,
        email,
        locale,
        currency: None,
    })
}

fn respond(placed: Placed) -> Response {
    match placed {
        Placed::New(body) => private_json(StatusCode::CREATED, body),
        Placed::Replayed(status, body) => {
            let mut r = private_json(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body);
            r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            r
        }
    }
}

/// Place an order from the cart
///
/// Honours `Idempotency-Key` (or `X-Idempotency-Key`; 1-255 visible ASCII): the same key
/// and body (compared as canonical JSON) replay the first 201 with `Idempotent-Replayed:
/// true` and create nothing; the same key with another body is 409
/// `idempotency_key_reused`; keys are scoped to the customer (or guest session) and kept
/// 48 hours. Failed attempts are not stored, so a retry after a 409 `out_of_stock` tries
/// again. In one transaction: stock is reserved (a conditional decrement per line; stock
/// never goes below zero), the order, its lines and status history are written, the
/// promotion's use is counted, the confirmation mail is queued. An unpaid order expires
/// after `order_expiry_mins` (default 30; a guest's after `guest_order_expiry_mins`, 15)
/// and its stock returns. Unpaid orders are bounded per customer or guest session and per
/// client address (`unpaid_orders_per_owner` 5, `reserved_units_per_owner` 50,
/// `unpaid_orders_per_address` 20, `reserved_units_per_address` 200): beyond them, 429
/// `too_many_unpaid_orders` with `Retry-After` until the earliest of them expires.
#[utoipa::path(post, path = "/api/checkout", tag = "orders", security(("bearer" = [])),
    params(IdempotencyHeader),
    request_body = CheckoutIn,
    responses((status = 201, description = "the order, pending payment", body = Data<PlacedOut>), AuthErrors, BodyErrors,
        PlaceErrors, WriteErrors))]
pub async fn checkout(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: JsonWithBytes<CheckoutIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let b = &body.value;
    let mut checks = Checks::new();
    let placement = validate_placement(&mut checks, b, &headers, &app);
    checks.finish()?;
    submit(&app, session, key, "/api/checkout", &body.canonical, LineSource::Cart, placement.expect("checked")).await
}

/// Sends a validated order to the writer as one unit and answers it (new or replayed).
async fn submit(
    app: &AppState,
    session: Session,
    key: Option<String>,
    path: &str,
    canonical: &[u8],
    source: LineSource,
    placement: Placement,
) -> Result<Response, ApiError> {
    let hash = request_hash(path, canonical);
    let holds = crate::orders::checkout::Holds::from_config(&app.live());
    let fx = app.effects();
    let placed = app
        .db
        .writer
        .run(move |tx| place(tx, &session, source, &placement, key.as_deref().map(|k| (k, &hash[..])), &holds, fx))
        .await?;
    Ok(respond(placed))
}

/// Buy now, without a cart
///
/// Honours `Idempotency-Key` (or `X-Idempotency-Key`; 1-255 visible ASCII): the same key
/// and body (compared as canonical JSON) replay the first 201 with `Idempotent-Replayed:
/// true` and create nothing; the same key with another body is 409
/// `idempotency_key_reused`; keys are scoped to the customer (or guest session) and kept
/// 48 hours. Failed attempts are not stored, so a retry after a 409 `out_of_stock` tries
/// again. In one transaction: stock is reserved (a conditional decrement per line; stock
/// never goes below zero), the order, its lines and status history are written, the
/// promotion's use is counted, the confirmation mail is queued. An unpaid order expires
/// after `order_expiry_mins` (default 30; a guest's after `guest_order_expiry_mins`, 15)
/// and its stock returns. Unpaid orders are bounded per customer or guest session and per
/// client address (`unpaid_orders_per_owner` 5, `reserved_units_per_owner` 50,
/// `unpaid_orders_per_address` 20, `reserved_units_per_address` 200): beyond them, 429
/// `too_many_unpaid_orders` with `Retry-After` until the earliest of them expires.
#[utoipa::path(post, path = "/api/orders", tag = "orders", security(("bearer" = [])),
    params(IdempotencyHeader),
    request_body = BuyNowIn,
    responses((status = 201, description = "the order, pending payment", body = Data<PlacedOut>), AuthErrors, BodyErrors,
        PlaceErrors, WriteErrors))]
pub async fn buy_now(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: JsonWithBytes<BuyNowIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let b = &body.value;
    let mut checks = Checks::new();
    let placement = validate_placement(&mut checks, b, &headers, &app);
    if b.items.is_empty() || b.items.len() > MAX_LINES {
        checks.error("items", format!("must hold 1 to {MAX_LINES} items"));
    }
    let mut items = Vec::with_capacity(b.items.len());
    for (i, it) in b.items.iter().enumerate() {
        if it.product_id.is_none() && it.variant_id.is_none() {
            checks.error(&format!("items[{i}]"), "give product_id or variant_id");
        }
        if let Some(q) = checks.check(&format!("items[{i}].quantity"), Quantity::parse(it.quantity)) {
            items.push((it.product_id, it.variant_id, q.0));
        }
    }
    let code = match &b.discount_code {
        Some(c) => checks.check("discount_code", text(c, 64, false)),
        None => None,
    };
    let setting = app.live().currencies.clone();
    let currency =
        b.currency.as_deref().and_then(|c| checks.check("currency", crate::domain::currencies::sold(&setting, c)));
    let currency = currency.map(|e| e.code.as_str().to_owned());
    checks.finish()?;
    let source = LineSource::Items(items, code);
    let placement = Placement { currency, ..placement.expect("checked") };
    submit(&app, session, key, "/api/orders", &body.canonical, source, placement).await
}

fn cursor_encode(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o|{id}"))
}

fn cursor_decode(s: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    text.strip_prefix("o|")?.parse().ok().filter(|id: &i64| *id > 0)
}

#[derive(Serialize, utoipa::ToSchema)]
struct OrderPageMeta {
    per_page: i64,
    has_more: bool,
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OrderPage {
    data: Vec<store::OrderSummary>,
    meta: OrderPageMeta,
}

const CURSOR: Param = Param::raw("cursor", 100).doc(
    "meta.next_cursor of the previous page; empty for the first page; one the server did not issue is 400 invalid_cursor",
);
const PER_PAGE: Param = Param::int("per_page", 1, 100).default(20);

crate::http::query_params!(
    struct OrderListQuery [CURSOR, PER_PAGE]
);

/// The session's orders, newest first, keyset-paginated
///
/// A customer sees every order of the account; a guest the orders of its session.
#[utoipa::path(get, path = "/api/orders", tag = "orders", security(("bearer" = [])),
    params(OrderListQuery),
    responses((status = 200, description = "a page of orders", body = OrderPage), AuthErrors, QueryErrors, ReadErrors))]
pub async fn list(State(app): State<AppState>, session: Session, mut q: QueryParams) -> Result<Response, ApiError> {
    let per_page = q.int_or_default(&PER_PAGE);
    let before = match q.raw(&CURSOR) {
        None => None,
        Some(c) if c.is_empty() => None,
        Some(c) => Some(cursor_decode(&c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "the cursor is malformed or belongs to another list")
        })?),
    };
    q.finish()?;
    let mut rows = app
        .db
        .read(move |conn| {
            store::list(conn, session.customer_id, session.id, before, per_page + 1).map_err(ApiError::from)
        })
        .await?;
    let has_more = rows.len() as i64 > per_page;
    rows.truncate(per_page as usize);
    let next = if has_more { rows.last().map(|o| cursor_encode(o.id.0)) } else { None };
    let body =
        serde_json::to_vec(&OrderPage { data: rows, meta: OrderPageMeta { per_page, has_more, next_cursor: next } })
            .expect("orders serialize");
    Ok(private_json(StatusCode::OK, body))
}

/// Is `owner` the session's (its customer's, or the guest session's own)?
fn owns(session: &Session, owner: &store::Owner) -> bool {
    match session.customer_id {
        Some(c) => owner.customer_id == Some(c),
        None => owner.customer_id.is_none() && owner.session_id == Some(session.id),
    }
}

/// The form of a payment link's key (a key that cannot be one is bad input whoever asks).
fn pay_key_form(k: &str) -> Result<(), String> {
    if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        Ok(())
    } else {
        Err("must be 1 to 100 of A-Z, a-z, 0-9, _ and -".into())
    }
}

const PAY_KEY: Param = Param::raw_matching("key", 100, "^[A-Za-z0-9_-]{1,100}$", pay_key_form)
    .doc("the key of the order's payment link (an order the shop made from a draft): opens it without a session");

crate::http::query_params!(
    pub struct OrderKeyQuery [PAY_KEY]
);

/// One order with items, totals and status history
///
/// For its owner's session, or with `key`: the key of the payment link the shop sent for
/// an order it made from a draft (no session needed). 404 for another's order or a key
/// that does not open it (its existence is not revealed); 422 for a `key` that is not of
/// the key's form, whoever asks.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", security(("bearer" = []), ()),
    params(("id" = String, Path, description = "an order id"), OrderKeyQuery),
    responses((status = 200, description = "the order", body = Data<store::OrderOut>), AuthErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn detail(
    State(app): State<AppState>,
    session: Result<Session, ApiError>,
    PathId(id, _): PathId<res::Order>,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    // a key that cannot be one is bad input whoever asks (the owner's session included)
    let key = q.raw(&PAY_KEY);
    q.finish()?;
    // without a key, the owner's session (401 without one)
    let session = match (&key, session) {
        (None, Err(e)) => return Err(e),
        (_, s) => s.ok(),
    };
    let order = app
        .db
        .read(move |conn| {
            let opens = match &key {
                Some(k) => super::drafts::key_opens(conn, id, k)?,
                None => false,
            };
            if !opens {
                match (store::owner(conn, id)?, &session) {
                    (Some(o), Some(s)) if owns(s, &o) => {}
                    _ => return Ok(None),
                }
            }
            store::detail(conn, id).map_err(ApiError::from)
        })
        .await?;
    Ok(data(StatusCode::OK, &order.ok_or_else(|| ApiError::not_found("order"))?))
}

/// Cancel an order
///
/// While pending (reserved stock returns) or paid but not fulfilled (sold stock returns;
/// the refund is due).
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "an order id")),
    responses((status = 200, description = "the order", body = Data<store::OrderOut>), AuthErrors, NotFound,
        (status = 409, description = "cannot_cancel: the order has shipped or is closed", body = ErrorBody), WriteErrors))]
pub async fn cancel(
    State(app): State<AppState>,
    session: Session,
    PathId(id, _): PathId<res::Order>,
) -> Result<Response, ApiError> {
    let fx = app.effects();
    let order = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            match store::owner(tx, id)? {
                Some(o) if owns(&session, &o) => {}
                _ => return Err(ApiError::not_found("order")),
            };
            match lifecycle::apply(tx, id, Event::Cancel(Actor::Customer), None, now, fx) {
                Ok(_) => Ok(store::detail(tx, id)?),
                Err(TransitionError::NotAllowed { from }) => Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "cannot_cancel",
                    format!("an order that is {from} can no longer be cancelled"),
                )),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    Ok(data(StatusCode::OK, &order.ok_or_else(|| ApiError::not_found("order"))?))
}

/// One line of a return request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineIn {
    /// the order's line (its `items[].line`)
    #[schema(minimum = 1, maximum = 1000000)]
    pub line_id: i64,
    /// units of it to send back; at most those shipped and not returned or refunded yet
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
    /// why: shown to the shop, kept with the return
    #[schema(min_length = 1, max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnIn {
    /// the units to send back, each line named once
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<ReturnLineIn>,
}

/// Ask to return items of an order
///
/// Units that shipped may be asked back within `return_window_days` of their delivery (of
/// their shipment, when no delivery was reported), each once: 409 `return_window_closed`
/// past it (or when the shop takes no returns), 409 `over_return` for more units than may
/// still be returned, 409 `invalid_transition` for an order that has not shipped or was
/// refunded, 422 at `lines[i].line_id` for a line the order does not have. The return is
/// `requested`; the customer gets a mail and subscribers `return.requested`. 404 for
/// another's order.
#[utoipa::path(post, path = "/api/orders/{id}/returns", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "an order id")),
    request_body = ReturnIn,
    responses((status = 201, description = "the return, `requested`", body = Data<super::returns::ReturnOut>), AuthErrors, BodyErrors, NotFound,
        (status = 409, description = "return_window_closed, over_return or invalid_transition", body = ErrorBody), WriteErrors))]
pub async fn request_return(
    State(app): State<AppState>,
    session: Session,
    PathId(id, _): PathId<res::Order>,
    crate::http::JsonBody(b): crate::http::JsonBody<ReturnIn>,
) -> Result<Response, ApiError> {
    use super::returns::{self, Asked};
    let mut checks = Checks::new();
    if b.lines.is_empty() {
        checks.error("lines", "name at least one line");
    }
    if b.lines.len() > 200 {
        checks.error("lines", "at most 200 lines");
    }
    let mut asked: Vec<Asked> = Vec::with_capacity(b.lines.len());
    for (i, l) in b.lines.iter().enumerate() {
        if !(1..=1_000_000).contains(&l.line_id) {
            checks.error(&format!("lines[{i}].line_id"), "must be a line of the order (1 or more)");
        } else if asked.iter().any(|a| a.line == l.line_id) {
            checks.error(&format!("lines[{i}].line_id"), "name each line once");
        }
        if let Err(e) = Quantity::parse(l.quantity) {
            checks.error(&format!("lines[{i}].quantity"), e);
        }
        let reason = checks.check(&format!("lines[{i}].reason"), text(&l.reason, 500, false));
        asked.push(Asked { line: l.line_id, quantity: l.quantity, reason: reason.unwrap_or_default() });
    }
    checks.finish()?;
    let fx = app.effects();
    let window = app.live().return_window_days;
    let out = app
        .db
        .writer
        .run(move |tx| {
            match store::owner(tx, id)? {
                Some(o) if owns(&session, &o) => {}
                _ => return Err(ApiError::not_found("order")),
            };
            let rid = returns::request(tx, id, &asked, window, now_ms(), fx)?;
            returns::one(tx, rid)?.ok_or_else(ApiError::internal)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &out))
}

/// What a payment provider reports of a charge.
const OUTCOMES: &[&str] = &["succeeded", "failed"];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentEventIn {
    /// the provider's event id: each is applied once
    #[schema(max_length = 128, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub event_id: String,
    pub order_id: Id,
    /// `succeeded` or `failed`
    #[schema(extensions(("x-enum" = json!(OUTCOMES))))]
    pub status: String,
    /// what was charged, minor units (checked when given against what the order leaves to
    /// pay: its total less what gift cards paid, its `amount_due`)
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    #[schema(max_length = 128, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub reference: Option<String>,
    /// the provider's payment method reference; when the order was placed with one, a
    /// success naming another is refused (409 `payment_method_mismatch`)
    #[serde(default)]
    #[schema(extensions(("x-pattern" = json!(crate::domain::PaymentMethod::PATTERN))))]
    pub payment_method: Option<String>,
}

/// What a payment event did.
#[derive(Serialize, utoipa::ToSchema)]
struct PaymentOutcome {
    order_id: Id,
    /// paid, failed, balance_paid (a paid order's balance after an edit), ignored (the
    /// order was no longer pending), amount_mismatch or payment_method_mismatch
    outcome: String,
    /// the order's status after the event (null if the order is no longer kept)
    status: Option<OrderStatus>,
    /// the event had been applied before: nothing changed
    replayed: bool,
}

/// `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (the prefix is optional).
fn signature_ok(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers.get("x-signature").and_then(|v| v.to_str().ok()) else { return false };
    let hex = sig.trim().strip_prefix("sha256=").unwrap_or(sig.trim());
    let Some(expected) = decode_hex(hex) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok() // constant time
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The payment provider's callback
///
/// `X-Signature: sha256=<hex HMAC-SHA256 of the raw body with payment_webhook_secret>`.
/// Each `event_id` is applied once: a replay answers the recorded outcome with `replayed:
/// true` and changes nothing. `succeeded` on a pending order: paid (reserved stock becomes
/// sold); `failed`: the order is cancelled and its stock returns; an event for an order
/// that is no longer pending is recorded as ignored, except `succeeded` with `amount` equal
/// to the `balance_due` an edit left on a paid order: that balance is paid
/// (`balance_paid`). An amount that differs from what is due (the total less what gift
/// cards paid), or a provider's payment method other than the one the order was placed with, is 409 and
/// changes nothing.
#[utoipa::path(post, path = "/api/webhooks/payments", tag = "orders", security(()),
    params(("X-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>")),
    request_body = PaymentEventIn,
    responses((status = 200, description = "applied or replayed", body = Data<PaymentOutcome>),
        (status = 401, description = "invalid_signature (also when no secret is configured); the body is not looked at", body = ErrorBody),
        BodyErrors, NotFound,
        (status = 409, description = "amount_mismatch or payment_method_mismatch", body = Data<PaymentOutcome>),
        WriteErrors))]
pub async fn payment_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: JsonWithBytes<serde_json::Value>,
) -> Result<Response, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", "the signature does not match");
    let secret = app.config.payment_webhook_secret.as_deref().ok_or_else(unauthorized)?;
    if !signature_ok(secret, &headers, &body.bytes) {
        return Err(unauthorized());
    }
    // the shape is checked only for a signed call: an unsigned caller learns nothing
    let e: PaymentEventIn = crate::http::body::typed(body.value)?;
    let mut checks = Checks::new();
    let event = checks.check("event_id", text(&e.event_id, 128, false));
    if !OUTCOMES.contains(&e.status.as_str()) {
        checks.error("status", format!("must be one of: {}", OUTCOMES.join(", ")));
    }
    let reference = match &e.reference {
        Some(r) => checks.check("reference", text(r, 128, false)),
        None => None,
    };
    let paid_with = match &e.payment_method {
        Some(m) => checks.check("payment_method", PaymentMethod::parse(m)),
        None => None,
    };
    checks.finish()?;
    let event = event.expect("checked");
    let order = e.order_id.0;
    let fx = app.effects();
    let (outcome, replayed, status) = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            if let Some((o, outcome)) = store::payment_event(tx, &event)? {
                return Ok((outcome, true, lifecycle::status(tx, o)?));
            }
            let Some(owner) = store::owner(tx, order)? else { return Err(ApiError::not_found("order")) };
            let ordered_with = PaymentMethod::parse(&owner.payment_method).ok();
            let method_differs = match (&ordered_with, &paid_with) {
                (Some(ordered), Some(paid)) => ordered.is_provider() && ordered != paid,
                _ => false,
            };
            let pending = owner.status == OrderStatus::Pending;
            let outcome = match e.status.as_str() {
                "succeeded" if pending && e.amount.is_some_and(|a| a != owner.total - owner.gift_card_paid) => {
                    "amount_mismatch"
                }
                "succeeded" if pending && method_differs => "payment_method_mismatch",
                // a paid order's balance after an edit, paid by its exact amount
                "succeeded"
                    if owner.status.is_open_after_payment()
                        && owner.balance_due > 0
                        && e.amount == Some(owner.balance_due) =>
                {
                    super::edits::collect_balance(tx, order, "through the payment provider", now)?;
                    if let Some(r) = &reference {
                        store::set_payment_ref(tx, order, r)?;
                    }
                    "balance_paid"
                }
                "succeeded" if pending => {
                    lifecycle::apply(tx, order, Event::Pay, None, now, fx)?;
                    if let Some(r) = &reference {
                        store::set_payment_ref(tx, order, r)?;
                    }
                    "paid"
                }
                _ if pending => {
                    lifecycle::apply(tx, order, Event::PaymentFailed, None, now, fx)?;
                    "failed"
                }
                // already paid, cancelled or expired: nothing changes (a late payment on a
                // closed order is recorded for a refund)
                _ => "ignored",
            };
            store::record_payment_event(tx, &event, order, outcome, now)?;
            Ok::<_, ApiError>((outcome.to_owned(), false, lifecycle::status(tx, order)?))
        })
        .await?;
    let code = match outcome.as_str() {
        "amount_mismatch" | "payment_method_mismatch" => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    Ok(data(code, &PaymentOutcome { order_id: Id(order), outcome, status, replayed }))
}

/// What a carrier may report; only `delivered` changes anything.
const CARRIER_STATUSES: &[&str] = &["in_transit", "out_for_delivery", "delivered", "exception"];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CarrierEventIn {
    /// the shipment's tracking number, as the shop recorded it
    #[schema(max_length = 100, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub tracking_number: String,
    #[schema(extensions(("x-enum" = json!(CARRIER_STATUSES))))]
    pub status: String,
}

/// What a carrier's report did.
#[derive(Serialize, utoipa::ToSchema)]
struct CarrierOutcome {
    order_id: Id,
    fulfillment_id: Id,
    /// `delivered` (this report), `already_delivered` (an earlier one did; nothing changed)
    /// or `noted` (a status other than delivered: nothing changes)
    outcome: &'static str,
}

/// A carrier's delivery report
///
/// `X-Signature: sha256=<hex HMAC-SHA256 of the raw body with carrier_webhook_secret>`,
/// like the payment webhook. `delivered` marks the shipment with that tracking number
/// delivered, once (a repeat changes nothing); other statuses are acknowledged and change
/// nothing. 404 when no shipment has the tracking number.
#[utoipa::path(post, path = "/api/webhooks/carriers", tag = "orders", security(()),
    params(("X-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>")),
    request_body = CarrierEventIn,
    responses((status = 200, description = "applied, repeated or noted", body = Data<CarrierOutcome>),
        (status = 401, description = "invalid_signature (also when no secret is configured); the body is not looked at", body = ErrorBody),
        BodyErrors, NotFound, WriteErrors))]
pub async fn carrier_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: JsonWithBytes<serde_json::Value>,
) -> Result<Response, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", "the signature does not match");
    let secret = app.config.carrier_webhook_secret.as_deref().ok_or_else(unauthorized)?;
    if !signature_ok(secret, &headers, &body.bytes) {
        return Err(unauthorized());
    }
    let e: CarrierEventIn = crate::http::body::typed(body.value)?;
    let mut checks = Checks::new();
    let tracking = checks.check("tracking_number", text(&e.tracking_number, 100, false));
    if !CARRIER_STATUSES.contains(&e.status.as_str()) {
        checks.error("status", format!("must be one of: {}", CARRIER_STATUSES.join(", ")));
    }
    checks.finish()?;
    let tracking = tracking.expect("checked");
    let delivered = e.status == "delivered";
    let out = app
        .db
        .writer
        .run(move |tx| {
            use super::fulfillment::{by_tracking, deliver, Delivered};
            let (order, fid) = by_tracking(tx, &tracking)?.ok_or_else(|| ApiError::not_found("shipment"))?;
            let outcome = if !delivered {
                "noted"
            } else {
                match deliver(tx, order, fid, now_ms())? {
                    Some(Delivered::Now) => "delivered",
                    _ => "already_delivered",
                }
            };
            Ok::<_, ApiError>(CarrierOutcome { order_id: Id(order), fulfillment_id: Id(fid), outcome })
        })
        .await?;
    Ok(data(StatusCode::OK, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_hex_round_trip() {
        assert_eq!(cursor_decode(&cursor_encode(42)), Some(42));
        assert_eq!(cursor_decode("bm9wZQ"), None);
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
    }
}
