//! Shipments: an order ships in one or more fulfillments, each naming the lines and
//! quantities that left, with the carrier and tracking number the customer follows.
//!
//! Invariants:
//! - A fulfillment is ONE writer unit: its rows, each line's shipped count, the order's
//!   move (`partially_fulfilled` while anything is left, `fulfilled` when nothing is), its
//!   status-history row, the `order.fulfilled` event and the "shipped" mail. A request that
//!   asks for more than is left changes nothing.
//! - `order_items.fulfilled` never exceeds the line's quantity (checked here against the
//!   unit's own reads, and by the table's CHECK as the backstop), so two shipments racing
//!   for the last units cannot both take them: the writer runs them one after the other
//!   and the second finds nothing left.
//! - Stock does not move: payment already sold the units; shipping them hands them over.
//! - Delivery is a fact that happens once: the first report (the shop's, or the carrier's
//!   signed webhook) sets `delivered_at`; later ones change nothing.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::lifecycle::{self, Event, OrderStatus, TransitionError};
use crate::app::Effects;
use crate::db::writer::WriteTx;
use crate::domain::{Id, Timestamp};
use crate::error::ApiError;

/// How a shipment travels; all `None` when the shop only marked the order shipped.
#[derive(Debug, Clone, Default)]
pub struct Carriage {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
}

/// One line of a shipment, as asked: the order's line and how many of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub line: i64,
    pub quantity: i64,
}

/// Why a shipment was refused (the unit changes nothing).
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// `lines[i]` names no line of the order
    #[error("the order has no line {line}")]
    NoSuchLine { index: usize, line: i64 },
    /// `lines[i]` asks for more than is left to ship of its line
    #[error("line {line} has {left} left to ship, not {asked}")]
    TooMany { index: usize, line: i64, left: i64, asked: i64 },
}

impl From<rusqlite::Error> for ShipError {
    fn from(e: rusqlite::Error) -> Self {
        ShipError::Transition(TransitionError::Store(e))
    }
}

impl From<ShipError> for ApiError {
    fn from(e: ShipError) -> Self {
        use axum::http::StatusCode;
        match e {
            ShipError::Transition(TransitionError::NotAllowed { from }) => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_transition",
                format!("an order that is {from} has nothing to ship"),
            ),
            ShipError::Transition(e) => e.into(),
            ShipError::NoSuchLine { index, line } => {
                let mut checks = crate::http::Checks::new();
                checks.error(&format!("lines[{index}].line_id"), format!("the order has no line {line}"));
                checks.finish().expect_err("one error")
            }
            e @ ShipError::TooMany { .. } => ApiError::new(StatusCode::CONFLICT, "over_fulfillment", e.to_string()),
        }
    }
}

/// Ships `take` of `order` (`None`: everything left) in the writer unit `tx`, with `note`
/// in the status history when given. Returns the new fulfillment's id.
pub fn ship(
    tx: &WriteTx,
    order: i64,
    take: Option<&[Take]>,
    carriage: &Carriage,
    note: Option<&str>,
    now: i64,
    fx: Effects,
) -> Result<i64, ShipError> {
    let from = lifecycle::status(tx, order)?.ok_or(TransitionError::NotFound)?;
    if !matches!(from, OrderStatus::Paid | OrderStatus::PartiallyFulfilled | OrderStatus::PartiallyRefunded) {
        return Err(TransitionError::NotAllowed { from }.into());
    }
    // (line, name, left to ship: neither shipped nor refunded before it shipped)
    let lines: Vec<(i64, String, i64)> = tx
        .prepare_cached(
            "SELECT line, name, quantity - fulfilled - cancelled FROM order_items WHERE order_id = ?1 ORDER BY line",
        )?
        .query_map([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let chosen: Vec<(i64, &str, i64)> = match take {
        None => lines.iter().filter(|(_, _, left)| *left > 0).map(|(l, n, left)| (*l, n.as_str(), *left)).collect(),
        Some(take) => {
            let mut out = Vec::with_capacity(take.len());
            for (index, t) in take.iter().enumerate() {
                let Some((_, name, left)) = lines.iter().find(|(l, _, _)| *l == t.line) else {
                    return Err(ShipError::NoSuchLine { index, line: t.line });
                };
                if t.quantity > *left {
                    return Err(ShipError::TooMany { index, line: t.line, left: *left, asked: t.quantity });
                }
                out.push((t.line, name.as_str(), t.quantity));
            }
            out
        }
    };
    if chosen.is_empty() {
        // a paid order always has something left; this is a corrupt one
        return Err(TransitionError::NotAllowed { from }.into());
    }
    tx.prepare_cached(
        "INSERT INTO fulfillments(order_id, carrier, tracking_number, tracking_url, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![order, carriage.carrier, carriage.tracking_number, carriage.tracking_url, now])?;
    let id = tx.last_insert_rowid();
    for (line, _, quantity) in &chosen {
        tx.prepare_cached(
            "INSERT INTO fulfillment_lines(fulfillment_id, order_id, line, quantity) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, order, line, quantity])?;
        tx.prepare_cached("UPDATE order_items SET fulfilled = fulfilled + ?3 WHERE order_id = ?1 AND line = ?2")?
            .execute(params![order, line, quantity])?;
    }
    let left: i64 = tx
        .prepare_cached(
            "SELECT coalesce(sum(quantity - fulfilled - cancelled), 0) FROM order_items WHERE order_id = ?1",
        )?
        .query_row([order], |r| r.get(0))?;
    let event = if left == 0 { Event::Fulfil } else { Event::ShipPart };
    lifecycle::apply(tx, order, event, note, now, fx.clone())?;
    shipped_mail(tx, order, id, &chosen, carriage, left, now, fx)?;
    Ok(id)
}

/// The "shipped" mail: what left, and how to follow it.
#[allow(clippy::too_many_arguments)]
fn shipped_mail(
    tx: &WriteTx,
    order: i64,
    fulfillment: i64,
    lines: &[(i64, &str, i64)],
    carriage: &Carriage,
    left: i64,
    now: i64,
    fx: Effects,
) -> rusqlite::Result<()> {
    let email: String =
        tx.prepare_cached("SELECT email FROM orders WHERE id = ?1")?.query_row([order], |r| r.get(0))?;
    if email.is_empty() {
        return Ok(());
    }
    use crate::mail::words::{say, W};
    let lang = crate::mail::order_lang(tx, order, &fx)?;
    let of = [("order", &order as &dyn std::fmt::Display), ("shipment", &fulfillment)];
    let mut body = say(lang, if left == 0 { W::ShippedBody } else { W::ShippedPartBody }, &of);
    for (_, name, quantity) in lines {
        body.push_str(&format!("  {quantity} x {name}\n"));
    }
    if carriage.carrier.is_some() || carriage.tracking_number.is_some() {
        body.push('\n');
    }
    if let Some(c) = &carriage.carrier {
        body.push_str(&say(lang, W::Carrier, &[("carrier", c)]));
    }
    if let Some(t) = &carriage.tracking_number {
        body.push_str(&say(lang, W::Tracking, &[("tracking", t)]));
    }
    if let Some(url) = &carriage.tracking_url {
        body.push_str(&say(lang, W::FollowIt, &[("url", url)]));
    }
    if left > 0 {
        body.push_str(&say(lang, W::MoreToFollow, &[("left", &left)]));
    }
    let subject = say(lang, if left == 0 { W::ShippedSubject } else { W::ShippedPartSubject }, &of[..1]);
    crate::mail::enqueue(tx, fx.mail, "order_shipped", &email, &subject, &body, now)?;
    Ok(())
}

/// What a delivery report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// this report set it
    Now,
    /// an earlier report had
    Already,
}

/// Records that fulfillment `id` of `order` arrived (once: see the module's invariants):
/// a status-history row and the `order.delivered` event in the same unit. `None` when the
/// order has no such fulfillment.
pub fn deliver(tx: &WriteTx, order: i64, id: i64, now: i64) -> rusqlite::Result<Option<Delivered>> {
    let exists: Option<Option<i64>> = tx
        .prepare_cached("SELECT delivered_at FROM fulfillments WHERE id = ?1 AND order_id = ?2")?
        .query_row(params![id, order], |r| r.get(0))
        .optional()?;
    match exists {
        None => Ok(None),
        Some(Some(_)) => Ok(Some(Delivered::Already)),
        Some(None) => {
            tx.prepare_cached("UPDATE fulfillments SET delivered_at = ?2 WHERE id = ?1")?.execute(params![id, now])?;
            let status = lifecycle::status(tx, order)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            super::store::add_history(tx, order, status.as_str(), &format!("shipment {id} delivered"), now)?;
            crate::webhooks::emit_order(tx, "order.delivered", order, now)?;
            Ok(Some(Delivered::Now))
        }
    }
}

/// The order and fulfillment a tracking number names (the latest, should a carrier reuse
/// one).
pub fn by_tracking(conn: &Connection, tracking: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.prepare_cached(
        "SELECT order_id, id FROM fulfillments INDEXED BY idx_fulfillments_tracking
         WHERE tracking_number = ?1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row([tracking], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

/// One line of a shipment in an answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FulfillmentLineOut {
    /// the order's line (its `items[].line`)
    pub line_id: i64,
    pub quantity: i64,
}

/// A shipment in an order's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FulfillmentOut {
    pub id: Id,
    /// null when the shop marked the order shipped without telling how
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub lines: Vec<FulfillmentLineOut>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// The shipments of an order, oldest first.
pub fn of_order(conn: &Connection, order: i64) -> rusqlite::Result<Vec<FulfillmentOut>> {
    let mut out: Vec<FulfillmentOut> = conn
        .prepare_cached(
            "SELECT id, carrier, tracking_number, tracking_url, created_at, delivered_at
             FROM fulfillments INDEXED BY idx_fulfillments_order WHERE order_id = ?1 ORDER BY id",
        )?
        .query_map([order], |r| {
            Ok(FulfillmentOut {
                id: Id(r.get(0)?),
                carrier: r.get(1)?,
                tracking_number: r.get(2)?,
                tracking_url: r.get(3)?,
                lines: Vec::new(),
                created_at: Timestamp(r.get(4)?),
                delivered_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
            })
        })?
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let lines: Vec<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT fulfillment_id, line, quantity FROM fulfillment_lines INDEXED BY idx_fulfillment_lines_order
             WHERE order_id = ?1 ORDER BY fulfillment_id, line",
        )?
        .query_map([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (f, line, quantity) in lines {
        if let Some(o) = out.iter_mut().find(|o| o.id.0 == f) {
            o.lines.push(FulfillmentLineOut { line_id: line, quantity });
        }
    }
    Ok(out)
}
