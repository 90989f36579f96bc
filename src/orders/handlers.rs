//! Order endpoints: checkout from the cart, buy now, history, detail, cancel, and the
//! payment provider's webhook.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::close_pending;
use super::store::{self, NewOrder, StockMove};
use crate::app::AppState;
use crate::cart::handlers::{out_of_stock, resolve_variant};
use crate::cart::{self, Destination};
use crate::customers::auth::Session;
use crate::customers::model::{Address, AddressIn};
use crate::db::writer::WriteTx;
use crate::domain::{text, Email, Id, Money, PaymentMethod, Quantity};
use crate::error::ApiError;
use crate::http::respond::{data, private_json};
use crate::http::{Checks, JsonWithBytes, QueryParams};
use crate::mail;
use crate::util::now_ms;

/// Most lines in one buy-now order.
const MAX_LINES: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutIn {
    pub shipping_address: AddressIn,
    pub payment_method: String,
    #[serde(default)]
    pub shipping_option: Option<String>,
    /// where a guest's confirmation goes (a customer's goes to the account's address)
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    pub product_id: Option<Id>,
    pub variant_id: Option<Id>,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyNowIn {
    pub items: Vec<ItemIn>,
    pub shipping_address: AddressIn,
    pub payment_method: String,
    #[serde(default)]
    pub shipping_option: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub discount_code: Option<String>,
}

/// The validated parts both ways of ordering share.
struct Placement {
    address: Address,
    payment_method: PaymentMethod,
    shipping_option: Option<String>,
    email: Option<Email>,
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

fn validate_placement(checks: &mut Checks, body: &impl PlacementFields) -> Option<Placement> {
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
    Some(Placement { address: address?, payment_method: payment_method?, shipping_option, email })
}

/// `Idempotency-Key` (or `X-Idempotency-Key`): 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key").or_else(|| headers.get("x-idempotency-key")) else {
        return Ok(None);
    };
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 255 || !b.iter().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(String::from_utf8_lossy(b).into_owned()))
}

/// What the writer unit of an order answers: a new order, or a stored response.
enum Placed {
    New(Vec<u8>),
    Replayed(u16, Vec<u8>),
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

/// Where the lines come from.
enum Source {
    Cart,
    Items(Vec<(Option<Id>, Option<Id>, i64)>, Option<String>),
}

/// The whole of placing an order, in the writer's transaction (see the module's notes).
fn place(
    tx: &WriteTx,
    session: &Session,
    source: Source,
    p: &Placement,
    idem: Option<(&str, &[u8])>,
    expiry_ms: i64,
) -> Result<Placed, ApiError> {
    let now = now_ms();
    let scope = session.owner_scope();
    if let Some((key, hash)) = idem {
        if let Some(stored) = store::idempotency_get(tx, &scope, key)? {
            if stored.request_hash == hash {
                return Ok(Placed::Replayed(stored.status, stored.body));
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
    }
    let (lines, cart_id, code) = match source {
        Source::Cart => {
            let Some((cart, code)) = cart::store::open_cart(tx, session)? else { return Err(empty_cart()) };
            (cart::store::lines(tx, cart)?, Some(cart), code)
        }
        Source::Items(items, code) => {
            let mut by_variant: BTreeMap<i64, i64> = BTreeMap::new();
            let mut order: Vec<i64> = Vec::new();
            for (i, (product, variant, quantity)) in items.into_iter().enumerate() {
                let v = resolve_variant(tx, product, variant, quantity, &format!("items[{i}]"))?;
                if !by_variant.contains_key(&v.variant_id) {
                    order.push(v.variant_id);
                }
                *by_variant.entry(v.variant_id).or_default() += quantity;
            }
            let mut lines = Vec::with_capacity(order.len());
            for variant in order {
                let line = cart::store::variant_line(tx, variant, by_variant[&variant])?;
                lines.extend(line);
            }
            (lines, None, code)
        }
    };
    if lines.is_empty() {
        return Err(empty_cart());
    }
    // every line still for sale, and the stock for all of it: reserve, naming each short one
    let mut short = Vec::new();
    for l in &lines {
        if l.quantity > Quantity::MAX {
            return Err(ApiError::validation(
                [("quantity".to_owned(), format!("a line holds at most {}", Quantity::MAX))].into(),
            ));
        }
        if !l.active || !store::reserve(tx, l.variant_id, l.quantity, now)? {
            short.push(json!({"product_id": Id(l.product_id), "variant_id": Id(l.variant_id),
                              "sku": l.sku, "requested": l.quantity}));
        }
    }
    if !short.is_empty() {
        return Err(out_of_stock(short)); // the savepoint undoes the reservations made
    }
    let dest = Destination { country: p.address.country.clone(), region: p.address.state.clone() };
    let priced = cart::price(tx, lines, code.as_deref(), Some(&dest), p.shipping_option.as_deref(), now)?;
    if let Some(why) = &priced.discount_problem {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_discount",
            format!("the code does not apply: {why}"),
        )
        .with_detail("code", why.clone()));
    }
    let Some(shipping) = priced.shipping.clone() else {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "shipping_unavailable",
            "no shipping option for this destination",
        );
        if p.shipping_option.is_some() {
            e = e.with_detail(
                "shipping_option",
                format!(
                    "choose one of: {}",
                    priced.options.iter().map(|o| o.code.as_str()).collect::<Vec<_>>().join(", ")
                ),
            );
        } else {
            e = e.with_detail("shipping_address.country", "no shipping to this country");
        }
        return Err(e);
    };
    if let Some(code) = &priced.discount_code {
        if !cart::store::use_promotion(tx, code)? {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_discount",
                "the code does not apply: this code has been used up",
            )
            .with_detail("code", "this code has been used up"));
        }
    }
    let email = match (session.customer_id, &p.email) {
        (Some(c), _) => crate::customers::store::customer(tx, c)?.map(|c| c.email).unwrap_or_default(),
        (None, Some(e)) => e.as_str().to_owned(),
        (None, None) => String::new(),
    };
    let t = priced.totals;
    let address = serde_json::to_string(&p.address).expect("addresses serialize");
    let order = store::insert_order(
        tx,
        &NewOrder {
            customer_id: session.customer_id,
            session_id: session.id,
            cart_id,
            email: &email,
            shipping_address: &address,
            shipping_option: &shipping.code,
            payment_method: p.payment_method.as_str(),
            discount_code: priced.discount_code.as_deref(),
            subtotal: t.subtotal,
            discount: t.discount,
            shipping: t.shipping,
            tax: t.tax,
            total: t.total,
            now,
            expires_at: now + expiry_ms,
        },
    )?;
    for (i, l) in priced.lines.iter().enumerate() {
        let name = if l.variant_name.is_empty() || l.variant_name == "Default" {
            l.product_name.clone()
        } else {
            format!("{} ({})", l.product_name, l.variant_name)
        };
        store::insert_item(
            tx,
            order,
            i as i64 + 1,
            l.product_id,
            l.variant_id,
            &l.sku,
            &name,
            l.unit_price,
            l.quantity,
        )?;
    }
    store::add_history(tx, order, "pending", "order placed; stock reserved", now)?;
    if let Some(cart) = cart_id {
        if !cart::store::mark_ordered(tx, cart, now)? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "cart_already_ordered",
                "this cart has become an order already",
            ));
        }
    }
    if !email.is_empty() {
        let body = format!(
            "Thank you for your order {order}.\n\nTotal: {}.{:02} USD\nIt is reserved for you until you pay.",
            t.total / 100,
            t.total % 100
        );
        mail::enqueue(tx, "order_confirmation", &email, &format!("Your order {order}"), &body, now)?;
    }
    let body = serde_json::to_vec(&json!({"data": {"order_id": Id(order), "status": "pending",
        "total": Money::new(t.total, crate::domain::Currency::USD)}}))
    .expect("order responses serialize");
    if let Some((key, hash)) = idem {
        store::idempotency_put(tx, &scope, key, hash, 201, &body, now)?;
    }
    tracing::info!(order.id = order, total = t.total, "order placed");
    Ok(Placed::New(body))
}

fn empty_cart() -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cart_empty", "there is nothing to order")
}

fn request_hash(path: &str, canonical: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(canonical);
    h.finalize().to_vec()
}

/// `POST /api/checkout`
pub async fn checkout(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: JsonWithBytes<CheckoutIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let b = &body.value;
    let mut checks = Checks::new();
    let placement = validate_placement(&mut checks, b);
    checks.finish()?;
    submit(&app, session, key, "/api/checkout", &body.canonical, Source::Cart, placement.expect("checked")).await
}

/// Sends a validated order to the writer as one unit and answers it (new or replayed).
async fn submit(
    app: &AppState,
    session: Session,
    key: Option<String>,
    path: &str,
    canonical: &[u8],
    source: Source,
    placement: Placement,
) -> Result<Response, ApiError> {
    let hash = request_hash(path, canonical);
    let expiry = app.config.order_expiry_mins as i64 * 60_000;
    let placed = app
        .db
        .writer
        .run(move |tx| place(tx, &session, source, &placement, key.as_deref().map(|k| (k, &hash[..])), expiry))
        .await?;
    Ok(respond(placed))
}

/// `POST /api/orders`: buy now, without a cart.
pub async fn buy_now(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: JsonWithBytes<BuyNowIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let b = &body.value;
    let mut checks = Checks::new();
    let placement = validate_placement(&mut checks, b);
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
    checks.finish()?;
    let source = Source::Items(items, code);
    submit(&app, session, key, "/api/orders", &body.canonical, source, placement.expect("checked")).await
}

fn cursor_encode(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o|{id}"))
}

fn cursor_decode(s: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    text.strip_prefix("o|")?.parse().ok().filter(|id: &i64| *id > 0)
}

#[derive(Serialize)]
struct OrderPage {
    data: Vec<store::OrderSummary>,
    meta: serde_json::Value,
}

/// `GET /api/orders?cursor=&per_page=`: newest first.
pub async fn list(State(app): State<AppState>, session: Session, mut q: QueryParams) -> Result<Response, ApiError> {
    let per_page = q.int("per_page", 1, 100).unwrap_or(20);
    let before = match q.raw("cursor", 100) {
        None => None,
        Some(c) if c.is_empty() => None,
        Some(c) => Some(cursor_decode(&c).ok_or_else(|| {
            ApiError::validation([("cursor".to_owned(), "is not a cursor of this list".to_owned())].into())
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
    let body = serde_json::to_vec(&OrderPage {
        data: rows,
        meta: json!({"per_page": per_page, "has_more": has_more, "next_cursor": next}),
    })
    .expect("orders serialize");
    Ok(private_json(StatusCode::OK, body))
}

fn order_id(raw: &str) -> Result<i64, ApiError> {
    Id::parse(raw).map(|i| i.0).ok_or_else(|| ApiError::not_found("order"))
}

/// Is `owner` the session's (its customer's, or the guest session's own)?
fn owns(session: &Session, owner: &store::Owner) -> bool {
    match session.customer_id {
        Some(c) => owner.customer_id == Some(c),
        None => owner.customer_id.is_none() && owner.session_id == Some(session.id),
    }
}

/// `GET /api/orders/{id}`: 404 for another's order (its existence is not revealed).
pub async fn detail(
    State(app): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = order_id(&id)?;
    let order = app
        .db
        .read(move |conn| {
            match store::owner(conn, id)? {
                Some(o) if owns(&session, &o) => {}
                _ => return Ok(None),
            }
            store::detail(conn, id).map_err(ApiError::from)
        })
        .await?;
    Ok(data(StatusCode::OK, &order.ok_or_else(|| ApiError::not_found("order"))?))
}

/// `POST /api/orders/{id}/cancel`: while pending (reserved stock returns) or paid but not
/// fulfilled (sold stock returns; the refund is due).
pub async fn cancel(
    State(app): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = order_id(&id)?;
    let order = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let owner = match store::owner(tx, id)? {
                Some(o) if owns(&session, &o) => o,
                _ => return Err(ApiError::not_found("order")),
            };
            let done = match owner.status.as_str() {
                "pending" => close_pending(tx, id, "cancelled", "cancelled by the customer", now)?,
                "paid" => {
                    let moved = store::transition(tx, id, &["paid"], "cancelled", now)?;
                    if moved {
                        store::move_stock(tx, id, StockMove::Restock, now)?;
                        store::add_history(tx, id, "cancelled", "cancelled by the customer; refund due", now)?;
                    }
                    moved
                }
                _ => false,
            };
            if !done {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "cannot_cancel",
                    format!("an order that is {} can no longer be cancelled", owner.status),
                ));
            }
            Ok(store::detail(tx, id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &order.ok_or_else(|| ApiError::not_found("order"))?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentEventIn {
    pub event_id: String,
    pub order_id: Id,
    /// `succeeded` or `failed`
    pub status: String,
    /// what was charged, minor units (checked against the order's total when given)
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub reference: Option<String>,
    /// the provider's payment method reference; when the order was placed with one, a
    /// success naming another is refused (409 `payment_method_mismatch`)
    #[serde(default)]
    pub payment_method: Option<String>,
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
    if s.len() % 2 != 0 || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// `POST /api/webhooks/payments`: marks an order paid or failed, exactly once per event.
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
    if !matches!(e.status.as_str(), "succeeded" | "failed") {
        checks.error("status", "must be succeeded or failed");
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
    let (outcome, replayed, status) = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            if let Some((o, outcome)) = store::payment_event(tx, &event)? {
                let status = store::owner(tx, o)?.map(|o| o.status).unwrap_or_default();
                return Ok((outcome, true, status));
            }
            let Some(owner) = store::owner(tx, order)? else { return Err(ApiError::not_found("order")) };
            let ordered_with = PaymentMethod::parse(&owner.payment_method).ok();
            let method_differs = match (&ordered_with, &paid_with) {
                (Some(ordered), Some(paid)) => ordered.is_provider() && ordered != paid,
                _ => false,
            };
            let outcome = match (e.status.as_str(), owner.status.as_str()) {
                ("succeeded", "pending") if e.amount.is_some_and(|a| a != owner.total) => "amount_mismatch",
                ("succeeded", "pending") if method_differs => "payment_method_mismatch",
                ("succeeded", "pending") => {
                    store::transition(tx, order, &["pending"], "paid", now)?;
                    store::move_stock(tx, order, StockMove::Sell, now)?;
                    store::add_history(tx, order, "paid", "payment received", now)?;
                    if let Some(r) = &reference {
                        store::set_payment_ref(tx, order, r)?;
                    }
                    "paid"
                }
                ("failed", "pending") => {
                    close_pending(tx, order, "cancelled", "payment failed", now)?;
                    "failed"
                }
                // already paid, cancelled or expired: nothing changes (a late payment on a
                // closed order is recorded for a refund)
                _ => "ignored",
            };
            store::record_payment_event(tx, &event, order, outcome, now)?;
            let status = store::owner(tx, order)?.map(|o| o.status).unwrap_or_default();
            Ok::<_, ApiError>((outcome.to_owned(), false, status))
        })
        .await?;
    let code = match outcome.as_str() {
        "amount_mismatch" | "payment_method_mismatch" => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    Ok(data(code, &json!({"order_id": Id(order), "outcome": outcome, "status": status, "replayed": replayed})))
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
