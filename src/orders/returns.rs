//! Returns: a customer asks to send back units that shipped, with a reason per line; the
//! shop approves or rejects the request, receives what arrives (putting it back on sale or
//! not, per line) and refunds it.
//!
//! Invariants:
//! - Each step is ONE writer unit: the return's row and lines, its history row, the stock
//!   of what was received and restocked, the refund (with its own effects, see
//!   [`super::refunds`]), the customer's mail, the event and, from the admin API, the audit
//!   row. A step that is refused changes nothing.
//! - A step moves the return by a conditional read in the unit and the writer runs units
//!   one after the other, so a return received twice (two admins, a double click) is
//!   received and restocked once: the second finds it `received` and is refused.
//! - A unit is returned at most once: what a line may still be asked back is what shipped,
//!   less what returns that were not rejected hold, less what was refunded after it shipped
//!   outside a return ([`returnable`]).
//! - The money goes back through a refund by lines of the received units, at their exact
//!   part of the order's total ([`super::refunds::Ask::Returned`]): never above what was
//!   captured, and none of those units counts as never shipped.
//!
//! Statuses: `requested` → `approved` | `rejected`; `requested` | `approved` → `received`
//! (a parcel may arrive before the shop answered); `received` → `refunded`. A `refunded`
//! return whose refund failed may be refunded again.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::lifecycle::{OrderStatus, TransitionError};
use super::refunds::{self, Ask, RefundError};
use super::store;
use crate::app::Effects;
use crate::db::writer::WriteTx;
use crate::domain::{Id, Timestamp};
use crate::error::ApiError;

const DAY_MS: i64 = 86_400_000;

/// Where a return stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    Requested,
    Approved,
    Rejected,
    Received,
    Refunded,
}

impl ReturnStatus {
    pub const ALL: [ReturnStatus; 5] = [
        ReturnStatus::Requested,
        ReturnStatus::Approved,
        ReturnStatus::Received,
        ReturnStatus::Refunded,
        ReturnStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Requested => "requested",
            ReturnStatus::Approved => "approved",
            ReturnStatus::Rejected => "rejected",
            ReturnStatus::Received => "received",
            ReturnStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnStatus> {
        ReturnStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl crate::http::Choice for ReturnStatus {
    fn choices() -> Vec<(&'static str, ReturnStatus)> {
        ReturnStatus::ALL.map(|s| (s.as_str(), s)).to_vec()
    }
}

impl std::fmt::Display for ReturnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a request: the order's line, how many of its units, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub line: i64,
    pub quantity: i64,
    pub reason: String,
}

/// One line of what arrived: the order's line, how many units, and whether they go back on
/// sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrived {
    pub line: i64,
    pub quantity: i64,
    pub restock: bool,
}

/// What the shop does with a return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
    /// what arrived (`None`: everything asked, all back on sale)
    Receive(Option<Vec<Arrived>>),
    /// refund the received units
    Refund,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Receive(_) => "receive",
            Action::Refund => "refund",
        }
    }
}

/// Why a step was refused (the unit changes nothing).
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error("no such order")]
    NoOrder,
    #[error("no such return")]
    NoReturn,
    #[error("an order that is {0} has nothing to return")]
    OrderNotReturnable(OrderStatus),
    #[error("the shop takes no returns")]
    NoReturns,
    #[error("the order has no line {line}")]
    NoSuchLine { index: usize, line: i64 },
    #[error("the return does not hold line {line}")]
    NotInReturn { index: usize, line: i64 },
    #[error("{name}: {left} unit(s) may be returned, not {asked}")]
    TooMany { index: usize, name: String, left: i64, asked: i64 },
    #[error("{name}: the return asked for {asked} unit(s), not {got}")]
    MoreThanAsked { index: usize, name: String, asked: i64, got: i64 },
    #[error("{name} can no longer be returned: the {days}-day return window closed")]
    WindowClosed { index: usize, name: String, days: u64 },
    #[error("a return that is {from} cannot be {action}")]
    NotAllowed { from: ReturnStatus, action: &'static str },
    #[error("nothing arrived: receive at least one unit, or reject the return")]
    NothingArrived,
    #[error(transparent)]
    Refund(RefundError),
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

impl From<RefundError> for ReturnError {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::Transition(TransitionError::Store(e)) => ReturnError::Store(e),
            e => ReturnError::Refund(e),
        }
    }
}

impl From<ReturnError> for ApiError {
    fn from(e: ReturnError) -> Self {
        use axum::http::StatusCode;
        let message = e.to_string();
        let at_line = |index: usize, message: String| {
            let mut checks = crate::http::Checks::new();
            checks.error(&format!("lines[{index}].line_id"), message);
            checks.finish().expect_err("one error")
        };
        match e {
            ReturnError::NoOrder => ApiError::not_found("order"),
            ReturnError::NoReturn => ApiError::not_found("return"),
            ReturnError::NoSuchLine { index, .. } | ReturnError::NotInReturn { index, .. } => at_line(index, message),
            ReturnError::OrderNotReturnable(_) | ReturnError::NotAllowed { .. } => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", message)
            }
            ReturnError::NoReturns | ReturnError::WindowClosed { .. } => {
                ApiError::new(StatusCode::CONFLICT, "return_window_closed", message)
            }
            ReturnError::TooMany { .. } | ReturnError::MoreThanAsked { .. } => {
                ApiError::new(StatusCode::CONFLICT, "over_return", message)
            }
            ReturnError::NothingArrived => ApiError::new(StatusCode::CONFLICT, "nothing_to_refund", message),
            ReturnError::Refund(e) => e.into(),
            ReturnError::Store(e) => e.into(),
        }
    }
}

/// One line of an order as a return sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returnable {
    pub line: i64,
    pub name: String,
    /// units shipped
    pub shipped: i64,
    /// units that may still be asked back
    pub left: i64,
    /// when its last shipment arrived (or left, when no delivery was reported); `None`:
    /// nothing of it shipped
    pub since: Option<i64>,
}

/// Each line of `order` with what may still be asked back of it (see the module's
/// invariants), in line order.
pub fn returnable(conn: &Connection, order: i64) -> rusqlite::Result<Vec<Returnable>> {
    conn.prepare_cached(
        "SELECT i.line, i.name, i.fulfilled,
                i.fulfilled
                - coalesce((SELECT sum(CASE WHEN r.status IN ('requested', 'approved') THEN l.quantity ELSE l.received END)
                            FROM return_lines l JOIN returns r ON r.id = l.return_id
                            WHERE l.order_id = i.order_id AND l.line = i.line AND r.status <> 'rejected'), 0)
                - max(0, i.refunded - i.cancelled
                    - coalesce((SELECT sum(l.received) FROM return_lines l
                                JOIN returns r ON r.id = l.return_id
                                JOIN refunds f ON f.id = r.refund_id
                                WHERE l.order_id = i.order_id AND l.line = i.line
                                  AND r.status = 'refunded' AND f.status <> 'failed'), 0)),
                (SELECT max(coalesce(f.delivered_at, f.created_at)) FROM fulfillment_lines fl
                 JOIN fulfillments f ON f.id = fl.fulfillment_id
                 WHERE fl.order_id = i.order_id AND fl.line = i.line)
         FROM order_items i WHERE i.order_id = ?1 ORDER BY i.line",
    )?
    .query_map([order], |r| {
        Ok(Returnable {
            line: r.get(0)?,
            name: r.get(1)?,
            shipped: r.get(2)?,
            left: r.get::<_, i64>(3)?.max(0),
            since: r.get(4)?,
        })
    })?
    .collect()
}

/// Whether a line shipped at `since` may still be returned at `now` with a window of
/// `days` (0: no returns).
pub fn in_window(since: Option<i64>, days: u64, now: i64) -> bool {
    days > 0 && since.is_some_and(|s| now <= s.saturating_add((days as i64).saturating_mul(DAY_MS)))
}

/// Asks to return `lines` of `order` in the writer unit `tx`, within a window of
/// `window_days`. Returns the new return's id.
pub fn request(
    tx: &WriteTx,
    order: i64,
    lines: &[Asked],
    window_days: u64,
    now: i64,
    fx: Effects,
) -> Result<i64, ReturnError> {
    let status = super::lifecycle::status(tx, order)?.ok_or(ReturnError::NoOrder)?;
    if !matches!(status, OrderStatus::PartiallyFulfilled | OrderStatus::Fulfilled | OrderStatus::PartiallyRefunded) {
        return Err(ReturnError::OrderNotReturnable(status));
    }
    if window_days == 0 {
        return Err(ReturnError::NoReturns);
    }
    let can = returnable(tx, order)?;
    for (index, a) in lines.iter().enumerate() {
        let Some(l) = can.iter().find(|l| l.line == a.line) else {
            return Err(ReturnError::NoSuchLine { index, line: a.line });
        };
        if l.shipped > 0 && !in_window(l.since, window_days, now) {
            return Err(ReturnError::WindowClosed { index, name: l.name.clone(), days: window_days });
        }
        if a.quantity > l.left {
            return Err(ReturnError::TooMany { index, name: l.name.clone(), left: l.left, asked: a.quantity });
        }
    }
    tx.prepare_cached(
        "INSERT INTO returns(order_id, status, created_at, updated_at) VALUES (?1, 'requested', ?2, ?2)",
    )?
    .execute(params![order, now])?;
    let id = tx.last_insert_rowid();
    for a in lines {
        tx.prepare_cached(
            "INSERT INTO return_lines(return_id, order_id, line, quantity, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, order, a.line, a.quantity, a.reason])?;
    }
    history(tx, id, order, ReturnStatus::Requested, "asked by the customer", now)?;
    store::add_history(tx, order, status.as_str(), &format!("return {id} requested"), now)?;
    let out = one(tx, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    mail(tx, &out, "return_requested", now, fx)?;
    event(tx, "return.requested", &out, now)?;
    Ok(id)
}

/// Does `action` to return `id` in the writer unit `tx`, with `note` for the customer, by
/// administrator `by`. Returns the return's status before.
pub fn act(
    tx: &WriteTx,
    id: i64,
    action: &Action,
    note: &str,
    by: Option<i64>,
    now: i64,
    fx: Effects,
) -> Result<ReturnStatus, ReturnError> {
    let head: Option<(i64, String, Option<i64>)> = tx
        .prepare_cached("SELECT order_id, status, refund_id FROM returns WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (order, from, refund) = head.ok_or(ReturnError::NoReturn)?;
    let from = ReturnStatus::parse(&from).ok_or(ReturnError::NoReturn)?;
    let refused = || ReturnError::NotAllowed { from, action: past(action) };
    let mut refund_made = None;
    let to = match action {
        Action::Approve if from == ReturnStatus::Requested => ReturnStatus::Approved,
        Action::Reject if matches!(from, ReturnStatus::Requested | ReturnStatus::Approved) => ReturnStatus::Rejected,
        Action::Receive(arrived) if matches!(from, ReturnStatus::Requested | ReturnStatus::Approved) => {
            receive(tx, id, order, arrived.as_deref(), now)?;
            ReturnStatus::Received
        }
        Action::Refund if from == ReturnStatus::Received || (from == ReturnStatus::Refunded && failed(tx, refund)?) => {
            let take: Vec<super::fulfillment::Take> = tx
                .prepare_cached(
                    "SELECT line, received FROM return_lines WHERE return_id = ?1 AND received > 0 ORDER BY line",
                )?
                .query_map([id], |r| Ok(super::fulfillment::Take { line: r.get(0)?, quantity: r.get(1)? }))?
                .collect::<Result<_, _>>()?;
            if take.is_empty() {
                return Err(ReturnError::NothingArrived);
            }
            let reason = if note.is_empty() { format!("return {id}") } else { format!("return {id}: {note}") };
            let rid = refunds::create(tx, order, &Ask::Returned(take), &reason, by, now, fx.clone())?;
            tx.prepare_cached("UPDATE returns SET refund_id = ?2 WHERE id = ?1")?.execute(params![id, rid])?;
            refund_made = Some(rid);
            ReturnStatus::Refunded
        }
        _ => return Err(refused()),
    };
    tx.prepare_cached(
        "UPDATE returns SET status = ?2, note = CASE WHEN ?3 = '' THEN note ELSE ?3 END, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, to.as_str(), note, now])?;
    // the row's status says what happened; its note says what else there is to know
    let said = match (refund_made, note.is_empty()) {
        (Some(rid), true) => format!("refund {rid}"),
        (Some(rid), false) => format!("refund {rid}: {note}"),
        (None, _) => note.to_owned(),
    };
    history(tx, id, order, to, &said, now)?;
    let status = super::lifecycle::status(tx, order)?.ok_or(ReturnError::NoOrder)?;
    store::add_history(tx, order, status.as_str(), &format!("return {id} {}", past(action)), now)?;
    match to {
        ReturnStatus::Approved | ReturnStatus::Rejected | ReturnStatus::Received => {
            let out = one(tx, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            mail(tx, &out, &format!("return_{}", to.as_str()), now, fx)?;
            if to == ReturnStatus::Received {
                event(tx, "return.received", &out, now)?;
            }
        }
        // the refund sends its own mail and `order.refunded` once it succeeds
        ReturnStatus::Refunded | ReturnStatus::Requested => {}
    }
    Ok(from)
}

fn past(action: &Action) -> &'static str {
    match action {
        Action::Approve => "approved",
        Action::Reject => "rejected",
        Action::Receive(_) => "received",
        Action::Refund => "refunded",
    }
}

/// Whether refund `id` failed (so the return's money may be sent again).
fn failed(conn: &Connection, refund: Option<i64>) -> rusqlite::Result<bool> {
    let Some(refund) = refund else { return Ok(true) };
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM refunds WHERE id = ?1")?
        .query_row([refund], |r| r.get(0))
        .optional()?;
    Ok(status.is_none_or(|s| s == "failed"))
}

/// Records what arrived of return `id` and puts what should be back on sale.
fn receive(tx: &WriteTx, id: i64, order: i64, arrived: Option<&[Arrived]>, now: i64) -> Result<(), ReturnError> {
    let asked: Vec<(i64, i64, String)> = tx
        .prepare_cached(
            "SELECT l.line, l.quantity, i.name FROM return_lines l
             JOIN order_items i ON i.order_id = l.order_id AND i.line = l.line
             WHERE l.return_id = ?1 ORDER BY l.line",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let arrived: Vec<Arrived> = match arrived {
        None => asked
            .iter()
            .map(|(line, quantity, _)| Arrived { line: *line, quantity: *quantity, restock: true })
            .collect(),
        Some(arrived) => {
            for (index, a) in arrived.iter().enumerate() {
                let Some((_, quantity, name)) = asked.iter().find(|(l, _, _)| *l == a.line) else {
                    return Err(ReturnError::NotInReturn { index, line: a.line });
                };
                if a.quantity > *quantity {
                    let name = name.clone();
                    return Err(ReturnError::MoreThanAsked { index, name, asked: *quantity, got: a.quantity });
                }
            }
            arrived.to_vec()
        }
    };
    if arrived.iter().all(|a| a.quantity == 0) {
        return Err(ReturnError::NothingArrived);
    }
    for a in arrived.iter().filter(|a| a.quantity > 0) {
        let restocked = if a.restock { a.quantity } else { 0 };
        tx.prepare_cached("UPDATE return_lines SET received = ?3, restocked = ?4 WHERE return_id = ?1 AND line = ?2")?
            .execute(params![id, a.line, a.quantity, restocked])?;
        store::returned(tx, order, a.line, a.quantity, restocked, now)?;
    }
    Ok(())
}

fn history(tx: &WriteTx, id: i64, order: i64, status: ReturnStatus, note: &str, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO return_history(return_id, order_id, status, note, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, order, status.as_str(), note, now])?;
    Ok(())
}

/// Event `kind` with the return as the API answers it (serialized only when someone listens).
fn event(tx: &WriteTx, kind: &str, out: &ReturnOut, now: i64) -> rusqlite::Result<()> {
    crate::webhooks::emit_with(tx, kind, now, || Ok(serde_json::to_value(out).ok()))?;
    Ok(())
}

/// The customer's mail `kind` at a step of return `out`.
fn mail(tx: &WriteTx, out: &ReturnOut, kind: &str, now: i64, fx: Effects) -> rusqlite::Result<()> {
    let id = out.id.0;
    let email: String =
        tx.prepare_cached("SELECT email FROM orders WHERE id = ?1")?.query_row([out.order_id.0], |r| r.get(0))?;
    if email.is_empty() {
        return Ok(());
    }
    let order = out.order_id.0;
    use crate::mail::words::{say, W};
    let lang = crate::mail::order_lang(tx, order, &fx)?;
    let (subject, opening) = match kind {
        "return_requested" => (W::ReturnRequestedSubject, W::ReturnRequestedBody),
        "return_approved" => (W::ReturnApprovedSubject, W::ReturnApprovedBody),
        "return_rejected" => (W::ReturnRejectedSubject, W::ReturnRejectedBody),
        _ => (W::ReturnReceivedSubject, W::ReturnReceivedBody),
    };
    let subject = say(lang, subject, &[("order", &order)]);
    let mut body = say(lang, opening, &[("order", &order), ("id", &id)]);
    if !out.note.is_empty() {
        body.push_str(&format!("\n{}\n", out.note));
    }
    body.push('\n');
    for l in &out.lines {
        let units = if kind == "return_received" { l.received } else { l.quantity };
        if units > 0 {
            body.push_str(&format!("  {units} x {}\n", l.name));
        }
    }
    crate::mail::enqueue(tx, fx.mail, kind, &email, &subject, &body, now)?;
    Ok(())
}

/// One line of a return in an answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReturnLineOut {
    /// the order's line (its `items[].line`)
    pub line_id: i64,
    /// the line's product name, as ordered
    pub name: String,
    /// units asked back
    pub quantity: i64,
    /// why, in the customer's words
    pub reason: String,
    /// units that arrived
    pub received: i64,
    /// units of those back on sale
    pub restocked: i64,
}

/// One step in a return's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReturnHistoryOut {
    pub status: ReturnStatus,
    pub note: String,
    pub at: Timestamp,
}

/// A return in an answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReturnOut {
    pub id: Id,
    pub order_id: Id,
    pub status: ReturnStatus,
    /// the shop's last word to the customer (empty: none)
    pub note: String,
    pub lines: Vec<ReturnLineOut>,
    /// the refund of what arrived, once made
    pub refund_id: Option<Id>,
    pub history: Vec<ReturnHistoryOut>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Return `id`.
pub fn one(conn: &Connection, id: i64) -> rusqlite::Result<Option<ReturnOut>> {
    let Some(mut out) = conn
        .prepare_cached(
            "SELECT id, order_id, status, note, refund_id, created_at, updated_at FROM returns WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(ReturnOut {
                id: Id(r.get(0)?),
                order_id: Id(r.get(1)?),
                status: ReturnStatus::parse(&r.get::<_, String>(2)?).unwrap_or(ReturnStatus::Requested),
                note: r.get(3)?,
                lines: Vec::new(),
                refund_id: r.get::<_, Option<i64>>(4)?.map(Id),
                history: Vec::new(),
                created_at: Timestamp(r.get(5)?),
                updated_at: Timestamp(r.get(6)?),
            })
        })
        .optional()?
    else {
        return Ok(None);
    };
    out.lines = conn
        .prepare_cached(
            "SELECT l.line, i.name, l.quantity, l.reason, l.received, l.restocked
             FROM return_lines l JOIN order_items i ON i.order_id = l.order_id AND i.line = l.line
             WHERE l.return_id = ?1 ORDER BY l.line",
        )?
        .query_map([id], |r| {
            Ok(ReturnLineOut {
                line_id: r.get(0)?,
                name: r.get(1)?,
                quantity: r.get(2)?,
                reason: r.get(3)?,
                received: r.get(4)?,
                restocked: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    out.history = conn
        .prepare_cached(
            "SELECT status, note, created_at FROM return_history INDEXED BY idx_return_history_return
             WHERE return_id = ?1 ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(ReturnHistoryOut {
                status: ReturnStatus::parse(&r.get::<_, String>(0)?).unwrap_or(ReturnStatus::Requested),
                note: r.get(1)?,
                at: Timestamp(r.get(2)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(out))
}

/// The returns of an order, oldest first.
pub fn of_order(conn: &Connection, order: i64) -> rusqlite::Result<Vec<ReturnOut>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM returns INDEXED BY idx_returns_order WHERE order_id = ?1 ORDER BY id")?
        .query_map([order], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter().filter_map(|id| one(conn, id).transpose()).collect()
}

/// Returns of `status` (all: `None`) with ids below `before`, newest first, `limit` of them.
pub fn list(
    conn: &Connection,
    status: Option<ReturnStatus>,
    before: i64,
    limit: i64,
) -> rusqlite::Result<Vec<ReturnOut>> {
    let ids: Vec<i64> = match status {
        Some(s) => conn
            .prepare_cached(
                "SELECT id FROM returns INDEXED BY idx_returns_status WHERE status = ?1 AND id < ?2
                 ORDER BY id DESC LIMIT ?3",
            )?
            .query_map(params![s.as_str(), before, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached("SELECT id FROM returns WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?
            .query_map(params![before, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
    };
    ids.into_iter().filter_map(|id| one(conn, id).transpose()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_whole_days_from_when_the_line_arrived() {
        let at = 1_700_000_000_000;
        assert!(in_window(Some(at), 30, at + 30 * DAY_MS));
        assert!(!in_window(Some(at), 30, at + 30 * DAY_MS + 1));
        assert!(!in_window(Some(at), 0, at));
        assert!(!in_window(None, 30, at));
    }

    #[test]
    fn statuses_read_back_as_written() {
        for s in ReturnStatus::ALL {
            assert_eq!(ReturnStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
