//! Orders as the shop sees them: every order by status, and the shop's changes —
//! fulfil, cancel, refund — through the one order lifecycle ([`crate::orders::lifecycle`]).

use super::*;
use crate::db::idempotency::{once, Keyed};
use crate::http::path::{res, PathId};

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminOrderOut {
    id: Id,
    status: crate::orders::OrderStatus,
    customer_id: Option<Id>,
    email: String,
    /// minor units of `currency`
    total: i64,
    /// the order's currency
    #[schema(example = "USD")]
    currency: String,
    created_at: crate::domain::Timestamp,
}

const STATUS: OneOf<crate::orders::OrderStatus> = OneOf::new("status", "");

crate::http::query_params!(
    struct AdminOrdersQuery [STATUS.param]
);

/// The statuses an administrator may move an order to (each an event of its lifecycle).
const TRANSITIONS: &[&str] = &["fulfilled", "cancelled", "refunded"];

/// Orders, newest first, by status
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", security(("bearer" = ["admin"])),
    params(AdminOrdersQuery, PageBefore),
    responses((status = 200, description = "orders", body = Data<Vec<AdminOrderOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn orders(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q.one_of(&STATUS);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    use crate::orders::store::{ADMIN_LIST_BY_STATUS_JSON, ADMIN_LIST_JSON};
    match status {
        None => json_list(&app, ADMIN_LIST_JSON, vec![before.into(), limit.into()]).await,
        Some(s) => {
            json_list(&app, ADMIN_LIST_BY_STATUS_JSON, vec![s.as_str().to_owned().into(), before.into(), limit.into()])
                .await
        }
    }
}

/// One order
///
/// With its lines, totals and status history. An order moved to the archive
/// (`storefront archive`) is read from its month's file.
#[utoipa::path(get, path = "/api/admin/orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    responses((status = 200, description = "the order", body = Data<crate::orders::store::OrderOut>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn order(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let dir = app.config.archive_dir();
    let order = app
        .db
        .read(move |conn| {
            if let Some(o) = crate::orders::store::detail(conn, id)? {
                return Ok(Some(o));
            }
            match crate::archive::archived_file(conn, &dir, id)? {
                Some(file) => crate::archive::archived_order(&file, id).map_err(|e| {
                    tracing::error!(order.id = id, file = %file.display(), error = %e, "an archived order cannot be read");
                    ApiError::internal()
                }),
                None => Ok(None),
            }
        })
        .await?;
    Ok(data(StatusCode::OK, &order.ok_or_else(|| ApiError::not_found("order"))?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusIn {
    /// `fulfilled` (a paid or partially fulfilled order: everything left ships, without
    /// tracking), `cancelled` (pending or paid: stock returns; a paid order's payment goes
    /// back), `refunded` (paid, shipped or partially refunded: everything not refunded yet
    /// goes back, as `POST .../refunds` would; what had not shipped returns to stock)
    #[schema(extensions(("x-enum" = json!(TRANSITIONS))))]
    pub status: String,
    /// shown in the order's status history
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub note: Option<String>,
}

/// Change an order's status
///
/// `fulfilled` (paid or partially fulfilled → fulfilled: a shipment of everything left,
/// without tracking; `POST .../fulfillments` records one with it), `cancelled` (pending or
/// paid; stock returns, and a paid order's payment goes back as a refund), `refunded`
/// (a refund of everything not refunded yet, as `POST .../refunds` makes it: what had not
/// shipped returns to stock); audited.
#[utoipa::path(patch, path = "/api/admin/orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    request_body = OrderStatusIn,
    responses((status = 200, description = "the order", body = Data<crate::orders::store::OrderOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "invalid_transition", body = ErrorBody), WriteErrors))]
pub async fn update_order(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    JsonBody(b): JsonBody<OrderStatusIn>,
) -> Result<Response, ApiError> {
    use crate::orders::{lifecycle, store as orders, Actor, Event};
    let mut checks = Checks::new();
    let event = match b.status.as_str() {
        "fulfilled" => Some(Some(Event::Fulfil)),
        "cancelled" => Some(Some(Event::Cancel(Actor::Shop))),
        // not a lifecycle event: a refund of the rest
        "refunded" => Some(None),
        _ => {
            checks.error("status", format!("must be one of: {}", TRANSITIONS.join(", ")));
            None
        }
    };
    let note = checks.check("note", text(b.note.as_deref().unwrap_or(""), 500, true));
    checks.finish()?;
    let (event, note, to) = (event.expect("checked"), note.expect("checked"), b.status);
    let fx = app.effects();
    let order = app
        .db
        .writer
        .run(move |tx| {
            let refused = |e| match e {
                crate::orders::TransitionError::NotAllowed { from } => {
                    conflict("invalid_transition", &format!("an order that is {from} cannot become {to}"))
                }
                e => ApiError::from(e),
            };
            let (from, now_is) = match event {
                None => {
                    use crate::orders::refunds::{create, Ask, RefundError};
                    let from = lifecycle::status(tx, id)?.ok_or_else(|| ApiError::not_found("order"))?;
                    let reason = if note.is_empty() { "refunded by the shop" } else { note.as_str() };
                    create(tx, id, &Ask::Rest, reason, Some(admin.0.customer_id), now_ms(), fx).map_err(
                        |e| match e {
                            RefundError::Transition(e) => refused(e),
                            RefundError::NotCaptured(from) => {
                                refused(crate::orders::TransitionError::NotAllowed { from })
                            }
                            e => e.into(),
                        },
                    )?;
                    (from, lifecycle::status(tx, id)?.unwrap_or(from))
                }
                Some(Event::Fulfil) => {
                    // everything left ships, without carrier or tracking: a fulfillment like any
                    use crate::orders::fulfillment::{ship, Carriage, ShipError};
                    let from = lifecycle::status(tx, id)?.ok_or_else(|| ApiError::not_found("order"))?;
                    ship(tx, id, None, &Carriage::default(), Some(&note), now_ms(), fx).map_err(|e| match e {
                        ShipError::Transition(e) => refused(e),
                        e => e.into(),
                    })?;
                    (from, crate::orders::OrderStatus::Fulfilled)
                }
                Some(event) => lifecycle::apply(tx, id, event, Some(&note), now_ms(), fx).map_err(refused)?,
            };
            audit(
                tx,
                &admin,
                &format!("order.{to}"),
                "order",
                id,
                Some(&serde_json::json!({"status": from})),
                Some(&serde_json::json!({"status": now_is})),
            )?;
            Ok::<_, ApiError>(orders::detail(tx, id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &order))
}

// --- shipments ----------------------------------------------------------------------------

/// One line of a shipment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipLineIn {
    /// the order's line (its `items[].line`)
    #[schema(minimum = 1, maximum = 1000000)]
    pub line_id: i64,
    /// units of it in this shipment; at most what is left to ship of it
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentIn {
    /// what ships; without it, everything left to ship. A line named twice ships the sum.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Option<Vec<ShipLineIn>>,
    /// who carries it, e.g. `UPS`
    #[schema(max_length = 100, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub carrier: String,
    /// the number the carrier follows it by (a carrier's delivery report names it)
    #[schema(max_length = 100, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub tracking_number: String,
    /// where the customer follows it: an http:// or https:// address
    #[serde(default)]
    #[schema(max_length = 2000, extensions(("x-pattern" = json!(crate::domain::URL_PATTERN))))]
    pub tracking_url: Option<String>,
    /// shown in the order's status history
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub note: Option<String>,
}

/// Ship an order, or part of it
///
/// Records a shipment of `lines` (without them: everything left to ship) with its carrier
/// and tracking number. The order becomes `partially_fulfilled` while anything is left, and
/// `fulfilled` when nothing is; the customer gets the "shipped" mail with the tracking
/// number and subscribers the `order.fulfilled` event, all in one unit. Stock does not
/// move (payment sold it). Asking for more of a line than is left is 409
/// `over_fulfillment` and ships nothing. Answers the order. Audited.
#[utoipa::path(post, path = "/api/admin/orders/{id}/fulfillments", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    request_body = FulfillmentIn,
    responses((status = 201, description = "shipped: the order with its shipments", body = Data<crate::orders::store::OrderOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "invalid_transition (not paid, or all shipped) or over_fulfillment", body = ErrorBody), WriteErrors))]
pub async fn create_fulfillment(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    JsonBody(b): JsonBody<FulfillmentIn>,
) -> Result<Response, ApiError> {
    use crate::orders::fulfillment::{self, Carriage, Take};
    let mut checks = Checks::new();
    let carrier = checks.check("carrier", text(&b.carrier, 100, false));
    let tracking = checks.check("tracking_number", text(&b.tracking_number, 100, false));
    let url = match b.tracking_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) if u.len() <= 2000 && crate::domain::matches_url_pattern(u) => Some(u.to_owned()),
        Some(_) => {
            checks.error("tracking_url", "must be an http:// or https:// address, at most 2000 characters");
            None
        }
        None => None,
    };
    let note = checks.check("note", text(b.note.as_deref().unwrap_or(""), 500, true));
    let mut take = Vec::new();
    if let Some(lines) = &b.lines {
        if lines.is_empty() {
            checks.error("lines", "name at least one line, or leave lines out to ship everything left");
        }
        if lines.len() > 200 {
            checks.error("lines", "at most 200 lines");
        }
        for (i, l) in lines.iter().enumerate() {
            if !(1..=1_000_000).contains(&l.line_id) {
                checks.error(&format!("lines[{i}].line_id"), "must be a line of the order (1 or more)");
            }
            if let Err(e) = crate::domain::Quantity::parse(l.quantity) {
                checks.error(&format!("lines[{i}].quantity"), e);
            }
            // a line named twice ships the sum (checked against what is left like any)
            match take.iter_mut().find(|t: &&mut Take| t.line == l.line_id) {
                Some(t) => t.quantity += l.quantity,
                None => take.push(Take { line: l.line_id, quantity: l.quantity }),
            }
        }
    }
    checks.finish()?;
    let carriage = Carriage { carrier, tracking_number: tracking, tracking_url: url };
    let note = note.expect("checked");
    let whole = b.lines.is_none();
    let fx = app.effects();
    let order = app
        .db
        .writer
        .run(move |tx| {
            let before = crate::orders::lifecycle::status(tx, id)?;
            let fid = fulfillment::ship(tx, id, (!whole).then_some(&take[..]), &carriage, Some(&note), now_ms(), fx)?;
            let out = crate::orders::store::detail(tx, id)?.ok_or_else(|| ApiError::not_found("order"))?;
            let shipped = out.fulfillments.iter().find(|f| f.id.0 == fid).map(|f| serde_json::to_value(f).ok());
            audit(
                tx,
                &admin,
                "order.fulfillment",
                "order",
                id,
                Some(&serde_json::json!({"status": before})),
                Some(&serde_json::json!({"status": out.status, "fulfillment": shipped.flatten()})),
            )?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &order))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentPatch {
    /// `true`: the shipment arrived (a delivery cannot be taken back)
    #[schema(extensions(("x-enum" = json!([true]))))]
    pub delivered: bool,
}

/// Mark a shipment delivered
///
/// Once: a shipment already delivered (by the shop or the carrier's report) keeps its first
/// time. Adds a line to the order's history and sends subscribers `order.delivered`.
/// Answers the order. Audited.
#[utoipa::path(patch, path = "/api/admin/orders/{id}/fulfillments/{fulfillment_id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id"), ("fulfillment_id" = String, Path, description = "one of its shipments")),
    request_body = FulfillmentPatch,
    responses((status = 200, description = "the order with its shipments", body = Data<crate::orders::store::OrderOut>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn update_fulfillment(
    State(app): State<AppState>,
    admin: AdminSession,
    axum::extract::Path((id, fid)): axum::extract::Path<(String, String)>,
    JsonBody(b): JsonBody<FulfillmentPatch>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&id).map(|i| i.0).ok_or_else(PathId::<res::Order>::not_found)?;
    let fid = Id::parse(&fid).map(|i| i.0).ok_or_else(|| ApiError::not_found("fulfillment"))?;
    if !b.delivered {
        let mut checks = Checks::new();
        checks.error("delivered", "must be true: a delivery cannot be taken back");
        checks.finish()?;
    }
    let order = app
        .db
        .writer
        .run(move |tx| {
            use crate::orders::fulfillment::{deliver, Delivered};
            match deliver(tx, id, fid, now_ms())? {
                None if crate::orders::lifecycle::status(tx, id)?.is_none() => {
                    return Err(ApiError::not_found("order"))
                }
                None => return Err(ApiError::not_found("fulfillment")),
                Some(Delivered::Now) => audit(
                    tx,
                    &admin,
                    "order.delivered",
                    "order",
                    id,
                    None,
                    Some(&serde_json::json!({"fulfillment_id": Id(fid)})),
                )?,
                Some(Delivered::Already) => {}
            }
            Ok::<_, ApiError>(crate::orders::store::detail(tx, id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &order))
}

// --- refunds ------------------------------------------------------------------------------

/// One line of a refund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineIn {
    /// the order's line (its `items[].line`)
    #[schema(minimum = 1, maximum = 1000000)]
    pub line_id: i64,
    /// units of it refunded; at most those not refunded yet
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundIn {
    /// minor units to give back (give this or `lines`, not both)
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000000000i64, extensions(("x-either" = json!("lines"))))]
    pub amount: Option<i64>,
    /// units to give back, each at its part of the total (give this or `amount`). A line
    /// named twice refunds the sum.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Option<Vec<RefundLineIn>>,
    /// why: shown to the customer in the refund mail and kept in the order's history
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub reason: String,
}

/// Refund an order, or part of it
///
/// By `amount` (minor units) or by `lines` (each unit at its part of the order's total:
/// the subtotal less the discount, plus shipping and tax, apportioned by line totals with
/// the largest remainder, in minor units, so refunding every unit adds up to the total
/// exactly; capped at what is left to refund). Never more than was captured: what refunds
/// not failed add up to stays at most the order's total (409 `exceeds_captured`); more
/// units of a line than are left to refund is 409 `over_refund`; an order never paid is
/// 409 `invalid_transition`. Units refunded before they shipped go back to stock and will
/// not ship. The order becomes `partially_refunded` (it still ships), or `refunded` when
/// everything was given back.
///
/// Units of a line that sold gift cards void as many of its cards, untouched ones (their
/// balance 0, turned off, in the refund's unit); when fewer are untouched, nothing is
/// refunded (409 `gift_card_used`). A refund that fails makes them valid again.
///
/// An order paid through the payment provider (`payment_provider_url` set, a provider's
/// payment method) is refunded by the provider: the refund is `pending` until the `refund`
/// job's call is answered (`succeeded`, or `failed` with the provider's reason; a provider
/// that is down is retried behind its circuit breaker). Any other refund is recorded as
/// paid back by the shop: `succeeded` at once. A success sends subscribers
/// `order.refunded` and the customer the refund mail.
///
/// Honours `Idempotency-Key` (or `X-Idempotency-Key`): the same key and body replay the
/// first 201 with `Idempotent-Replayed: true` and refund nothing more; the same key with
/// another body is 409 `idempotency_key_reused`. Keys are scoped to the order and kept 48
/// hours. Audited.
#[utoipa::path(post, path = "/api/admin/orders/{id}/refunds", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id"), crate::http::idempotency::IdempotencyHeader),
    request_body = RefundIn,
    responses((status = 201, description = "the refund: `succeeded`, or `pending` until the payment provider answers", body = Data<crate::orders::refunds::RefundOut>),
        AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "exceeds_captured, over_refund, nothing_to_refund (the units cost nothing), gift_card_used (gift cards it sold have been spent from), invalid_transition (never paid) or idempotency_key_reused", body = ErrorBody), WriteErrors))]
pub async fn create_refund(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    headers: axum::http::HeaderMap,
    body: crate::http::JsonWithBytes<RefundIn>,
) -> Result<Response, ApiError> {
    use crate::orders::fulfillment::Take;
    use crate::orders::refunds::{self, Ask};
    let key = crate::http::idempotency::idempotency_key(&headers)?;
    let b = &body.value;
    let mut checks = Checks::new();
    let reason = checks.check("reason", text(&b.reason, 500, false));
    let ask = match (b.amount, &b.lines) {
        (Some(_), Some(_)) => {
            checks.error("amount", "give amount or lines, not both");
            None
        }
        (None, None) => {
            checks.error("amount", "give amount (minor units) or lines");
            None
        }
        (Some(a), None) => {
            if !(1..=100_000_000_000).contains(&a) {
                checks.error("amount", "must be 1 to 100000000000 minor units");
            }
            Some(Ask::Amount(a))
        }
        (None, Some(lines)) => {
            if lines.is_empty() {
                checks.error("lines", "name at least one line");
            }
            if lines.len() > 200 {
                checks.error("lines", "at most 200 lines");
            }
            let mut take: Vec<Take> = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                if !(1..=1_000_000).contains(&l.line_id) {
                    checks.error(&format!("lines[{i}].line_id"), "must be a line of the order (1 or more)");
                }
                if let Err(e) = crate::domain::Quantity::parse(l.quantity) {
                    checks.error(&format!("lines[{i}].quantity"), e);
                }
                match take.iter_mut().find(|t| t.line == l.line_id) {
                    Some(t) => t.quantity += l.quantity,
                    None => take.push(Take { line: l.line_id, quantity: l.quantity }),
                }
            }
            Some(Ask::Lines(take))
        }
    };
    checks.finish()?;
    let (ask, reason) = (ask.expect("checked"), reason.expect("checked"));
    let hash = crate::http::idempotency::request_hash("/api/admin/orders/refunds", &body.canonical);
    let fx = app.effects();
    let answer = app
        .db
        .writer
        .run(move |tx| {
            let scope = format!("refund:{id}");
            let now = now_ms();
            let keyed = key.as_deref().map(|key| Keyed { scope: &scope, key, hash: &hash });
            once(tx, keyed, now, key_reused, || {
                let before = crate::orders::lifecycle::status(tx, id)?;
                let rid = refunds::create(tx, id, &ask, &reason, Some(admin.0.customer_id), now, fx)?;
                let out = refunds::one(tx, rid)?.ok_or_else(ApiError::internal)?;
                let after = crate::orders::lifecycle::status(tx, id)?;
                audit(
                    tx,
                    &admin,
                    "order.refund",
                    "order",
                    id,
                    Some(&serde_json::json!({"status": before})),
                    Some(&serde_json::json!({"status": after, "refund": out})),
                )?;
                Ok((201, serde_json::to_vec(&crate::openapi::Data { data: &out }).expect("refunds serialize")))
            })
        })
        .await?;
    Ok(answer.into_response())
}

/// 409 for a key used with another request.
fn key_reused() -> ApiError {
    conflict("idempotency_key_reused", "this Idempotency-Key was used with a different request")
}

// --- edits --------------------------------------------------------------------------------

/// A product added by an edit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditAddIn {
    #[schema(value_type = String, example = "31")]
    pub variant_id: Id,
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// A line's new quantity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditChangeIn {
    /// the order's line (its `items[].line`)
    #[schema(minimum = 1, maximum = 1000000)]
    pub line_id: i64,
    /// the line's new quantity; 0 removes it
    #[schema(minimum = 0, maximum = 1000)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditIn {
    /// products to add, each at its price now (on the line of its variant if the order
    /// has one)
    #[serde(default)]
    #[schema(max_items = 100)]
    pub add: Option<Vec<EditAddIn>>,
    /// lines whose quantity changes (each at its unit price when ordered)
    #[serde(default)]
    #[schema(max_items = 100)]
    pub change: Option<Vec<EditChangeIn>>,
    /// lines to remove
    #[serde(default)]
    #[schema(max_items = 100, value_type = Option<Vec<i64>>)]
    pub remove: Option<Vec<i64>>,
}

/// An edited order.
#[derive(serde::Serialize, ToSchema)]
pub struct EditedOut {
    #[serde(flatten)]
    pub order: crate::orders::store::OrderOut,
    /// what the customer owes now (a pending order's amount due, or the balance a paid
    /// order's higher total left to pay), or, negative, what this edit gave back
    pub balance: crate::domain::Money,
    /// the refund that gave it back
    pub refund_id: Option<Id>,
}

/// Edit an order before it ships
///
/// Adds products, changes or removes lines of a `pending` or `paid` order that has nothing
/// shipped, cancelled or refunded (409 `not_editable` otherwise). Lines that stay keep
/// their unit price; an added product is priced as it sells now. Stock moves by the
/// difference in the order's own state (a pending order's reservation, a paid order's
/// sale; 409 `out_of_stock` names each short line and nothing changes). The totals are
/// those checkout would give the new lines: the order's discount code keeps its kind and
/// value (its minimum subtotal still applies), shipping stays what was charged, tax is at
/// the rate of the order's address.
///
/// A paid order whose total falls below what was paid is refunded the difference in the
/// same unit (to its gift cards first; `balance` negative, `refund_id` set); one whose
/// total rises above it has a `balance_due`, paid by the payment webhook (`succeeded`
/// with that amount) or recorded by `POST .../balance`. A pending order's amount due
/// follows its total (409 `under_gift_cards` when gift cards paid more than the new
/// total). One unit with its history row and audit row. Honours `Idempotency-Key` as
/// refunds do.
#[utoipa::path(post, path = "/api/admin/orders/{id}/edits", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id"), crate::http::idempotency::IdempotencyHeader),
    request_body = EditIn,
    responses((status = 200, description = "the order with its new totals and `balance`", body = Data<EditedOut>),
        AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "not_editable, out_of_stock, under_gift_cards, exceeds_captured or idempotency_key_reused", body = ErrorBody), WriteErrors))]
pub async fn edit_order(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    headers: axum::http::HeaderMap,
    body: crate::http::JsonWithBytes<EditIn>,
) -> Result<Response, ApiError> {
    let key = crate::http::idempotency::idempotency_key(&headers)?;
    let edit = edit_of(&body.value)?;
    let hash = crate::http::idempotency::request_hash("/api/admin/orders/edits", &body.canonical);
    let fx = app.effects();
    let answer = app
        .db
        .writer
        .run(move |tx| {
            let scope = format!("edit:{id}");
            let now = now_ms();
            let keyed = key.as_deref().map(|key| Keyed { scope: &scope, key, hash: &hash });
            once(tx, keyed, now, key_reused, || Ok((200, edit_in(tx, &admin, id, &edit, now, fx)?.1)))
        })
        .await?;
    Ok(answer.into_response())
}

/// The checked shape of an edit (422 naming each bad field).
pub fn edit_of(b: &EditIn) -> Result<crate::orders::edits::Edit, ApiError> {
    let mut checks = Checks::new();
    let mut edit = crate::orders::edits::Edit::default();
    for (i, a) in b.add.iter().flatten().enumerate() {
        if let Err(e) = crate::domain::Quantity::parse(a.quantity) {
            checks.error(&format!("add[{i}].quantity"), e);
        }
        edit.add.push((a.variant_id.0, a.quantity));
    }
    for (i, c) in b.change.iter().flatten().enumerate() {
        if !(1..=1_000_000).contains(&c.line_id) {
            checks.error(&format!("change[{i}].line_id"), "must be a line of the order (1 or more)");
        }
        if !(0..=crate::domain::Quantity::MAX).contains(&c.quantity) {
            checks.error(
                &format!("change[{i}].quantity"),
                format!("must be 0 (remove) to {}", crate::domain::Quantity::MAX),
            );
        }
        if b.change.iter().flatten().take(i).any(|d| d.line_id == c.line_id) {
            checks.error(&format!("change[{i}].line_id"), "this line is named twice");
        }
        edit.change.push((c.line_id, c.quantity));
    }
    for (i, line) in b.remove.iter().flatten().enumerate() {
        if !(1..=1_000_000).contains(line) {
            checks.error(&format!("remove[{i}]"), "must be a line of the order (1 or more)");
        }
        if !edit.remove.contains(line) {
            edit.remove.push(*line);
        }
    }
    for (field, n) in [
        ("add", b.add.as_ref().map_or(0, Vec::len)),
        ("change", b.change.as_ref().map_or(0, Vec::len)),
        ("remove", b.remove.as_ref().map_or(0, Vec::len)),
    ] {
        if n > 100 {
            checks.error(field, "at most 100");
        }
    }
    if edit.add.is_empty() && edit.change.is_empty() && edit.remove.is_empty() {
        checks.error("add", "give add, change or remove");
    }
    checks.finish()?;
    Ok(edit)
}

/// Edits order `id` in the writer unit `tx` with its audit row; answers what it did and
/// its JSON.
pub fn edit_in(
    tx: &crate::db::writer::WriteTx,
    admin: &AdminSession,
    id: i64,
    edit: &crate::orders::edits::Edit,
    now: i64,
    fx: crate::app::Effects,
) -> Result<(crate::orders::edits::Edited, Vec<u8>), ApiError> {
    let done = crate::orders::edits::apply(tx, id, edit, now, fx)?;
    audit(
        tx,
        admin,
        "order.edit",
        "order",
        id,
        Some(&serde_json::json!({"items": done.lines_before, "total": done.before})),
        Some(&serde_json::json!({"items": done.lines_after, "total": done.after, "balance": done.balance})),
    )?;
    let order = crate::orders::store::detail(tx, id)?.ok_or_else(ApiError::internal)?;
    let out = EditedOut {
        balance: crate::domain::Money::new(done.balance, order.total.currency),
        order,
        refund_id: done.refund.map(Id),
    };
    let bytes = serde_json::to_vec(&crate::openapi::Data { data: &out }).expect("orders serialize");
    Ok((done, bytes))
}

/// Record an order's balance as paid
///
/// The balance due that an edit left on a paid order (its `balance_due`), paid some other
/// way than the payment webhook (cash, a bank transfer): what was captured grows by it.
/// 409 `nothing_due` when nothing is due. Audited.
#[utoipa::path(post, path = "/api/admin/orders/{id}/balance", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    responses((status = 200, description = "the order", body = Data<crate::orders::store::OrderOut>),
        AdminErrors, NotFound,
        (status = 409, description = "nothing_due", body = ErrorBody), WriteErrors))]
pub async fn balance_paid(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
) -> Result<Response, ApiError> {
    let order = app.db.writer.run(move |tx| balance_paid_in(tx, &admin, id, now_ms())).await?;
    Ok(data(StatusCode::OK, &order))
}

/// [`balance_paid`] in the writer unit `tx`.
pub fn balance_paid_in(
    tx: &crate::db::writer::WriteTx,
    admin: &AdminSession,
    id: i64,
    now: i64,
) -> Result<crate::orders::store::OrderOut, ApiError> {
    if crate::orders::lifecycle::status(tx, id)?.is_none() {
        return Err(ApiError::not_found("order"));
    }
    let Some(amount) = crate::orders::edits::collect_balance(tx, id, "recorded by the shop", now)? else {
        return Err(conflict("nothing_due", "this order has no balance due"));
    };
    audit(tx, admin, "order.balance_paid", "order", id, None, Some(&serde_json::json!({"amount": amount})))?;
    crate::orders::store::detail(tx, id)?.ok_or_else(ApiError::internal)
}
