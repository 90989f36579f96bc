//! Refunds: money going back to the customer, in one or more refunds per order, each by
//! amount or by lines.
//!
//! Invariants:
//! - A refund is ONE writer unit: its row and lines, each line's refunded (and cancelled)
//!   count, the stock of units that had not shipped, the order's status and history row,
//!   and either its settlement (a refund the shop made itself: `succeeded`, with the
//!   `order.refunded` event and the customer's mail) or the `refund` job that sends it to
//!   the payment provider (`pending` until the provider answers).
//! - What refunds not failed add up to never exceeds what was captured (`orders.captured`:
//!   the order's total once paid, plus a balance paid after an edit): checked here against the unit's own reads, and the writer runs units one
//!   after the other, so two refunds racing for the same money cannot both take it.
//! - By lines, a line's part of the total (subtotal less discount, plus shipping and tax)
//!   is apportioned by its line total with the largest remainder, and a unit's part by
//!   the same rule within the line ([`part_of_units`]), all in minor units: refunding every
//!   unit of every line, in any order and any number of refunds, adds up to the total
//!   exactly.
//! - Units refunded before they shipped go back to stock in the refund's unit, once
//!   (`order_items.cancelled`), and will not ship. Units that shipped come back, if they
//!   do, through a return.
//! - What gift cards paid of the order is given back to them first (`to_gift_card`, credited
//!   when the refund succeeds); only the rest goes to the payment provider.
//! - A refund is settled once: `pending` → `succeeded` or `failed` by a conditional update.
//!   A failed refund gives its amount and its line units back to what may be refunded;
//!   the units it cancelled stay cancelled (they are back on sale).
//! - The order is `refunded` when everything captured was refunded (nothing more ships)
//!   and `partially_refunded` while only part of it is (it may still ship); an order that
//!   was cancelled keeps its status. What an edit gave back ([`Ask::Edit`]) counts on
//!   neither side: it is money the order no longer costs, not goods given back.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::fulfillment::Take;
use super::lifecycle::{OrderStatus, TransitionError};
use super::store;
use crate::app::Effects;
use crate::db::writer::WriteTx;
use crate::domain::{Id, Money, Timestamp};
use crate::error::ApiError;

/// What a refund gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// this many minor units
    Amount(i64),
    /// these units of these lines, at their apportioned part of the total
    Lines(Vec<Take>),
    /// as `Lines`, for units that shipped and came back in a return: none is cancelled
    /// (they are not among those left to ship)
    Returned(Vec<Take>),
    /// everything captured that has not been refunded yet
    Rest,
    /// this many minor units, given back because an edit lowered the order's total (see
    /// [`super::edits`]): money, not goods, so the order keeps its status
    Edit(i64),
}

/// Why a refund was refused (the unit changes nothing).
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("an order that is {0} has no payment to refund")]
    NotCaptured(OrderStatus),
    #[error("the order has no line {line}")]
    NoSuchLine { index: usize, line: i64 },
    #[error("line {line} has {left} unit(s) left to refund, not {asked}")]
    TooMany { index: usize, line: i64, left: i64, asked: i64 },
    #[error("{left} is left to refund of what was captured, not {asked}")]
    ExceedsCaptured { left: i64, asked: i64 },
    #[error("nothing is left to refund")]
    NothingLeft,
    #[error("these units cost nothing: there is no money to give back for them")]
    Free,
}

impl From<rusqlite::Error> for RefundError {
    fn from(e: rusqlite::Error) -> Self {
        RefundError::Transition(TransitionError::Store(e))
    }
}

impl From<RefundError> for ApiError {
    fn from(e: RefundError) -> Self {
        use axum::http::StatusCode;
        let message = e.to_string();
        match e {
            RefundError::Transition(e) => e.into(),
            RefundError::NotCaptured(_) => ApiError::new(StatusCode::CONFLICT, "invalid_transition", message),
            RefundError::NoSuchLine { index, line } => {
                let mut checks = crate::http::Checks::new();
                checks.error(&format!("lines[{index}].line_id"), format!("the order has no line {line}"));
                checks.finish().expect_err("one error")
            }
            RefundError::TooMany { .. } => ApiError::new(StatusCode::CONFLICT, "over_refund", message),
            RefundError::ExceedsCaptured { .. } | RefundError::NothingLeft => {
                ApiError::new(StatusCode::CONFLICT, "exceeds_captured", message)
            }
            RefundError::Free => ApiError::new(StatusCode::CONFLICT, "nothing_to_refund", message),
        }
    }
}

/// Each part of `total` in proportion to `weights` (largest remainder, ties to the earlier
/// one): the parts add up to `total` exactly. All-zero weights share it equally.
pub fn shares(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: i128 = weights.iter().map(|w| *w as i128).sum();
    let (weights, sum): (Vec<i128>, i128) = if sum > 0 {
        (weights.iter().map(|w| *w as i128).collect(), sum)
    } else {
        (vec![1; weights.len()], weights.len() as i128)
    };
    let total = total as i128;
    let mut parts: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - parts.iter().sum::<i128>();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    // stable: equal remainders keep the earlier line first
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(total * weights[i] % sum));
    for i in by_remainder {
        if left <= 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts.into_iter().map(|p| p as i64).collect()
}

/// What `asked` more units of a line of `quantity` units cost when the line's part of the
/// total is `part` and `before` of its units were refunded already: the cumulative split
/// `⌊part·k/quantity⌋` taken between `before` and `before + asked`, so every unit is paid
/// back once and all of them add up to `part`.
pub fn part_of_units(part: i64, quantity: i64, before: i64, asked: i64) -> i64 {
    let at = |k: i64| (part as i128 * k as i128 / quantity.max(1) as i128) as i64;
    at(before + asked) - at(before)
}

/// One line of an order as a refund sees it.
struct Line {
    line: i64,
    quantity: i64,
    line_total: i64,
    fulfilled: i64,
    cancelled: i64,
    refunded: i64,
}

/// Where a refund's money goes back through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// the payment provider sends it back (the refund is `pending` until it does)
    Provider,
    /// nothing to send a provider: the shop paid it back itself (an offline payment, or no
    /// provider connected: recorded), or all of it goes back to gift cards
    Offline,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Provider => "provider",
            Method::Offline => "offline",
        }
    }
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    fn parse(s: &str) -> RefundStatus {
        match s {
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            _ => RefundStatus::Pending,
        }
    }
}

/// Refunds `ask` of `order` in the writer unit `tx` (see the module's invariants), for
/// `reason`, by administrator `by`. Returns the refund's id.
#[allow(clippy::too_many_arguments)]
pub fn create(
    tx: &WriteTx,
    order: i64,
    ask: &Ask,
    reason: &str,
    by: Option<i64>,
    now: i64,
    fx: Effects,
) -> Result<i64, RefundError> {
    let head: Option<(OrderStatus, i64, Option<i64>, String, i64, i64)> = tx
        .prepare_cached(
            "SELECT status, total, paid_at, payment_method, gift_card_paid, captured FROM orders WHERE id = ?1",
        )?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    let (status, total, paid_at, payment_method, by_card, captured) = head.ok_or(TransitionError::NotFound)?;
    if paid_at.is_none() || matches!(status, OrderStatus::Pending | OrderStatus::Expired) {
        return Err(RefundError::NotCaptured(status));
    }
    let left = captured - refunded(tx, order)?;
    if left <= 0 {
        return Err(RefundError::NothingLeft);
    }
    let lines = lines_of(tx, order)?;
    let parts = shares(total, &lines.iter().map(|l| l.line_total).collect::<Vec<_>>());
    // (index into lines, units, their part of the total)
    let mut taken: Vec<(usize, i64, i64)> = Vec::new();
    let amount = match ask {
        Ask::Amount(a) | Ask::Edit(a) if *a > left => return Err(RefundError::ExceedsCaptured { left, asked: *a }),
        Ask::Amount(a) | Ask::Edit(a) => *a,
        Ask::Lines(take) | Ask::Returned(take) => {
            for (index, t) in take.iter().enumerate() {
                let Some(i) = lines.iter().position(|l| l.line == t.line) else {
                    return Err(RefundError::NoSuchLine { index, line: t.line });
                };
                let l = &lines[i];
                if t.quantity > l.quantity - l.refunded {
                    return Err(RefundError::TooMany {
                        index,
                        line: t.line,
                        left: l.quantity - l.refunded,
                        asked: t.quantity,
                    });
                }
                taken.push((i, t.quantity, part_of_units(parts[i], l.quantity, l.refunded, t.quantity)));
            }
            let sum: i64 = taken.iter().map(|t| t.2).sum();
            if sum == 0 {
                return Err(RefundError::Free);
            }
            // money already given back by amount comes off the last of it
            sum.min(left)
        }
        Ask::Rest => {
            for (i, l) in lines.iter().enumerate() {
                let units = l.quantity - l.refunded;
                if units > 0 {
                    taken.push((i, units, part_of_units(parts[i], l.quantity, l.refunded, units)));
                }
            }
            left
        }
    };
    // the lines' parts add up to the amount: a cap takes from the last lines first
    let mut over = taken.iter().map(|t| t.2).sum::<i64>() - amount;
    for t in taken.iter_mut().rev() {
        if over <= 0 {
            break;
        }
        let cut = over.min(t.2);
        t.2 -= cut;
        over -= cut;
    }
    // what gift cards paid goes back to them first; the rest by the payment method
    let to_card = if by_card > 0 { amount.min((by_card - to_gift_cards(tx, order)?).max(0)) } else { 0 };
    let method = if to_card < amount
        && fx.refund_provider
        && crate::domain::PaymentMethod::parse(&payment_method).is_ok_and(|m| m.is_provider())
    {
        Method::Provider
    } else {
        Method::Offline
    };
    tx.prepare_cached(
        "INSERT INTO refunds(order_id, amount, reason, status, method, created_by, created_at, to_gift_card, edit)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![order, amount, reason, method.as_str(), by, now, to_card, matches!(ask, Ask::Edit(_))])?;
    let id = tx.last_insert_rowid();
    for (i, units, part) in &taken {
        let l = &lines[*i];
        let cancel = match ask {
            Ask::Returned(_) => 0,
            _ => (*units).min(l.quantity - l.fulfilled - l.cancelled).max(0),
        };
        tx.prepare_cached(
            "INSERT INTO refund_lines(refund_id, order_id, line, quantity, cancelled, amount) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![id, order, l.line, units, cancel, part])?;
        tx.prepare_cached("UPDATE order_items SET refunded = refunded + ?3 WHERE order_id = ?1 AND line = ?2")?
            .execute(params![order, l.line, units])?;
        if cancel > 0 {
            store::cancel_units(tx, order, l.line, cancel, now)?;
        }
        // gift cards it sold are void: the money for them goes back
        if let Err((unused, asked)) = crate::gift_cards::void_bought(tx, order, l.line, *units, id, now)? {
            return Err(TransitionError::GiftCardsUsed { line: l.line, unused, asked }.into());
        }
    }
    let cur = store::currency_of(tx, order)?;
    let note = match method {
        Method::Offline => {
            format!("refund {id} of {} recorded as paid back: {reason}", crate::mail::amount(amount, cur.as_str()))
        }
        Method::Provider => format!(
            "refund {id} of {} sent to the payment provider: {reason}",
            crate::mail::amount(amount, cur.as_str())
        ),
    };
    resettle(tx, order, &note, now)?;
    match method {
        Method::Offline => {
            // its history row is the one above
            settle_with(tx, id, Settled::Succeeded { provider_ref: None }, now, fx, false)?;
        }
        Method::Provider => {
            crate::jobs::enqueue(
                tx,
                &crate::jobs::NewJob::new(crate::jobs::Kind::Refund, serde_json::json!({ "refund_id": id }))
                    .unique(format!("refund:{id}")),
            )?;
        }
    }
    Ok(id)
}

/// How the provider settled a refund.
#[derive(Debug, Clone)]
pub enum Settled {
    Succeeded { provider_ref: Option<String> },
    Failed { error: String },
}

/// Settles pending refund `id` (once: a settled one is left as it is, and `false` says so):
/// a success sends subscribers `order.refunded` and the customer the "refund" mail; a
/// failure gives its amount and units back to what may be refunded. In the writer unit
/// `tx`, with the order's history row and status.
pub fn settle(tx: &WriteTx, id: i64, how: Settled, now: i64, fx: Effects) -> rusqlite::Result<bool> {
    settle_with(tx, id, how, now, fx, true)
}

fn settle_with(tx: &WriteTx, id: i64, how: Settled, now: i64, fx: Effects, history: bool) -> rusqlite::Result<bool> {
    let (status, provider_ref, error) = match &how {
        Settled::Succeeded { provider_ref } => ("succeeded", provider_ref.as_deref(), None),
        Settled::Failed { error } => ("failed", None, Some(error.as_str())),
    };
    let moved = tx
        .prepare_cached(
            "UPDATE refunds SET status = ?2, provider_ref = ?3, error = ?4, settled_at = ?5
             WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, status, provider_ref, error, now])?;
    if moved != 1 {
        return Ok(false);
    }
    let (order, amount, to_card): (i64, i64, i64) = tx
        .prepare_cached("SELECT order_id, amount, to_gift_card FROM refunds WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    match how {
        Settled::Succeeded { .. } => {
            if to_card > 0 {
                crate::gift_cards::refund_to_cards(tx, order, id, to_card, now)?;
            }
            crate::webhooks::emit_order(tx, "order.refunded", order, now)?;
            refund_mail(tx, order, id, amount, now, fx)?;
            if history {
                let status = super::lifecycle::status(tx, order)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                let note = format!("refund {id} confirmed by the payment provider");
                store::add_history(tx, order, status.as_str(), &note, now)?;
            }
        }
        Settled::Failed { error } => {
            let lines: Vec<(i64, i64)> = tx
                .prepare_cached("SELECT line, quantity FROM refund_lines WHERE refund_id = ?1")?
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (line, quantity) in lines {
                tx.prepare_cached("UPDATE order_items SET refunded = refunded - ?3 WHERE order_id = ?1 AND line = ?2")?
                    .execute(params![order, line, quantity])?;
            }
            crate::gift_cards::unvoid(tx, order, id, now)?;
            resettle(tx, order, &format!("refund {id} failed: {error}"), now)?;
        }
    }
    Ok(true)
}

/// Minor units of `order`'s refunds (not failed) that go back to its gift cards.
fn to_gift_cards(conn: &Connection, order: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT coalesce(sum(to_gift_card), 0) FROM refunds INDEXED BY idx_refunds_order
         WHERE order_id = ?1 AND status <> 'failed'",
    )?
    .query_row([order], |r| r.get(0))
}

/// Minor units refunded (or being refunded) of `order`: every refund but failed ones.
pub fn refunded(conn: &Connection, order: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT coalesce(sum(amount), 0) FROM refunds INDEXED BY idx_refunds_order
         WHERE order_id = ?1 AND status <> 'failed'",
    )?
    .query_row([order], |r| r.get(0))
}

fn lines_of(conn: &Connection, order: i64) -> rusqlite::Result<Vec<Line>> {
    conn.prepare_cached(
        "SELECT line, quantity, line_total, fulfilled, cancelled, refunded
         FROM order_items WHERE order_id = ?1 ORDER BY line",
    )?
    .query_map([order], |r| {
        Ok(Line {
            line: r.get(0)?,
            quantity: r.get(1)?,
            line_total: r.get(2)?,
            fulfilled: r.get(3)?,
            cancelled: r.get(4)?,
            refunded: r.get(5)?,
        })
    })?
    .collect()
}

/// Puts an open order's status where its money and shipments say (see the module's
/// invariants), with a history row saying `note`. A cancelled order keeps its status.
fn resettle(tx: &WriteTx, order: i64, note: &str, now: i64) -> rusqlite::Result<()> {
    let from: OrderStatus =
        tx.prepare_cached("SELECT status FROM orders WHERE id = ?1")?.query_row([order], |r| r.get(0))?;
    let open = matches!(
        from,
        OrderStatus::Paid
            | OrderStatus::PartiallyFulfilled
            | OrderStatus::Fulfilled
            | OrderStatus::PartiallyRefunded
            | OrderStatus::Refunded
    );
    if !open {
        return store::add_history(tx, order, from.as_str(), note, now);
    }
    // what was captured and is still owed goods for, and what of it went back
    let (owed, back): (i64, i64) = tx
        .prepare_cached(
            "SELECT o.captured - coalesce(sum(r.amount) FILTER (WHERE r.edit), 0),
                    coalesce(sum(r.amount) FILTER (WHERE NOT r.edit), 0)
             FROM orders o LEFT JOIN refunds r ON r.order_id = o.id AND r.status <> 'failed'
             WHERE o.id = ?1",
        )?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let to = if back > 0 && back >= owed {
        OrderStatus::Refunded
    } else if back > 0 {
        OrderStatus::PartiallyRefunded
    } else {
        // nothing refunded (the refunds failed): where its shipments put it
        let (shipped, unshipped): (i64, i64) = tx
            .prepare_cached(
                "SELECT coalesce(sum(fulfilled), 0), coalesce(sum(quantity - fulfilled - cancelled), 0)
                 FROM order_items WHERE order_id = ?1",
            )?
            .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))?;
        match (shipped > 0, unshipped > 0) {
            (false, _) => OrderStatus::Paid,
            (true, true) => OrderStatus::PartiallyFulfilled,
            (true, false) => OrderStatus::Fulfilled,
        }
    };
    if to == OrderStatus::Refunded {
        // all the money went back: what had not shipped will not, and is back on sale
        let unshipped: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT line, quantity - fulfilled - cancelled FROM order_items
                 WHERE order_id = ?1 AND quantity - fulfilled - cancelled > 0",
            )?
            .query_map([order], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (line, units) in unshipped {
            store::cancel_units(tx, order, line, units, now)?;
        }
    }
    if to != from {
        tx.prepare_cached("UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![order, to, now])?;
    }
    store::add_history(tx, order, to.as_str(), note, now)
}

/// The "refund" mail: how much is on its way back, and for what.
fn refund_mail(tx: &WriteTx, order: i64, id: i64, amount: i64, now: i64, fx: Effects) -> rusqlite::Result<()> {
    let (email, reason, to_card): (String, String, i64) = tx
        .prepare_cached(
            "SELECT o.email, r.reason, r.to_gift_card FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    if email.is_empty() {
        return Ok(());
    }
    use crate::mail::words::{say, W};
    let lang = crate::mail::order_lang(tx, order, &fx)?;
    let cur = store::currency_of(tx, order)?;
    let words = |m: i64| lang.amount(m, cur.as_str());
    let mut body = say(lang, W::RefundBody, &[("amount", &words(amount)), ("order", &order), ("reason", &reason)]);
    let items: Vec<(String, i64)> = tx
        .prepare_cached(
            "SELECT i.name, l.quantity FROM refund_lines l JOIN order_items i ON i.order_id = l.order_id AND i.line = l.line
             WHERE l.refund_id = ?1 ORDER BY l.line",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if !items.is_empty() {
        body.push_str(&say(lang, W::RefundFor, &[]));
        for (name, quantity) in items {
            body.push_str(&format!("  {quantity} x {name}\n"));
        }
    }
    if to_card >= amount {
        body.push_str(&say(lang, W::RefundAllCard, &[("amount", &words(to_card))]));
    } else {
        if to_card > 0 {
            body.push_str(&say(lang, W::RefundPartCard, &[("amount", &words(to_card))]));
        }
        body.push_str(&say(lang, W::RefundBank, &[]));
    }
    let subject = say(lang, W::RefundSubject, &[("order", &order)]);
    crate::mail::enqueue(tx, fx.mail, "order_refunded", &email, &subject, &body, now)?;
    Ok(())
}

/// One line of a refund in an answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundLineOut {
    /// the order's line (its `items[].line`)
    pub line_id: i64,
    pub quantity: i64,
    /// units of it that had not shipped: back in stock, and they will not ship
    pub cancelled: i64,
    /// its part of the refund's amount
    pub amount: Money,
}

/// A refund in an answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundOut {
    pub id: Id,
    pub order_id: Id,
    pub amount: Money,
    pub reason: String,
    pub status: RefundStatus,
    pub method: Method,
    /// the part of `amount` that goes back to the order's gift cards (the rest goes by
    /// `method`)
    pub to_gift_card: Money,
    /// the provider's reference, once it confirmed
    pub provider_ref: Option<String>,
    /// why it failed
    pub error: Option<String>,
    /// empty for a refund by amount
    pub lines: Vec<RefundLineOut>,
    pub created_at: Timestamp,
    /// when it succeeded or failed
    pub settled_at: Option<Timestamp>,
}

/// The refunds of an order, oldest first.
pub fn of_order(conn: &Connection, order: i64) -> rusqlite::Result<Vec<RefundOut>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM refunds INDEXED BY idx_refunds_order WHERE order_id = ?1 ORDER BY id")?
        .query_map([order], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter().filter_map(|id| one(conn, id).transpose()).collect()
}

/// Refund `id`.
pub fn one(conn: &Connection, id: i64) -> rusqlite::Result<Option<RefundOut>> {
    let Some(mut out) = conn
        .prepare_cached(
            "SELECT r.id, r.order_id, r.amount, r.reason, r.status, r.method, r.provider_ref, r.error, r.created_at,
                    r.settled_at, r.to_gift_card, o.currency
             FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.id = ?1",
        )?
        .query_row([id], |r| {
            let cur = crate::domain::Currency::parse(&r.get::<_, String>(11)?).unwrap_or(crate::domain::Currency::USD);
            let usd = |a: i64| Money::new(a, cur);
            Ok(RefundOut {
                id: Id(r.get(0)?),
                order_id: Id(r.get(1)?),
                amount: usd(r.get(2)?),
                reason: r.get(3)?,
                status: RefundStatus::parse(&r.get::<_, String>(4)?),
                method: if r.get::<_, String>(5)? == "provider" { Method::Provider } else { Method::Offline },
                provider_ref: r.get(6)?,
                error: r.get(7)?,
                lines: Vec::new(),
                created_at: Timestamp(r.get(8)?),
                settled_at: r.get::<_, Option<i64>>(9)?.map(Timestamp),
                to_gift_card: usd(r.get(10)?),
            })
        })
        .optional()?
    else {
        return Ok(None);
    };
    out.lines = conn
        .prepare_cached(
            "SELECT line, quantity, cancelled, amount FROM refund_lines WHERE refund_id = ?1 ORDER BY line",
        )?
        .query_map([id], |r| {
            Ok(RefundLineOut {
                line_id: r.get(0)?,
                quantity: r.get(1)?,
                cancelled: r.get(2)?,
                amount: Money::new(r.get(3)?, out.amount.currency),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(out))
}

/// What the `refund` job sends the provider.
#[derive(Debug, Clone)]
pub struct ToSend {
    pub id: i64,
    pub order: i64,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub payment_method: String,
    pub payment_ref: Option<String>,
}

/// Refund `id` if it is still pending, with what the provider needs to send it.
pub fn pending(conn: &Connection, id: i64) -> rusqlite::Result<Option<ToSend>> {
    conn.prepare_cached(
        "SELECT r.id, r.order_id, r.amount - r.to_gift_card, o.currency, r.reason, o.payment_method, o.payment_ref
         FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.id = ?1 AND r.status = 'pending'",
    )?
    .query_row([id], |r| {
        Ok(ToSend {
            id: r.get(0)?,
            order: r.get(1)?,
            amount: r.get(2)?,
            currency: r.get(3)?,
            reason: r.get(4)?,
            payment_method: r.get(5)?,
            payment_ref: r.get(6)?,
        })
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_exactly_and_follow_the_weights() {
        assert_eq!(shares(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(shares(1000, &[300, 700]), vec![300, 700]);
        assert_eq!(shares(7, &[0, 0]), vec![4, 3]);
        assert_eq!(shares(0, &[5, 5]), vec![0, 0]);
        let mut seed = 7u64;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let n = (seed >> 60) as usize + 1;
            let total = (seed >> 20) as i64 % 1_000_000;
            let weights: Vec<i64> = (0..n).map(|i| ((seed >> (i * 3)) % 50_000) as i64).collect();
            let parts = shares(total, &weights);
            assert_eq!(parts.iter().sum::<i64>(), total, "{total} {weights:?}");
            assert!(parts.iter().all(|p| *p >= 0));
        }
    }

    #[test]
    fn units_refunded_in_any_steps_add_up_to_the_line_part() {
        for (part, quantity) in [(1000, 3), (1, 7), (999_999, 10), (0, 4)] {
            for steps in [vec![1; quantity as usize], vec![quantity], vec![2, quantity - 2]] {
                let mut before = 0;
                let mut sum = 0;
                for s in steps.into_iter().filter(|s| *s > 0) {
                    sum += part_of_units(part, quantity, before, s);
                    before += s;
                }
                assert_eq!((before, sum), (quantity, part));
            }
        }
    }
}
