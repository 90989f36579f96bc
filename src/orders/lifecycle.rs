//! One order lifecycle: the statuses an order can have, the events that move it, and the
//! one function that applies an event — used by the customer's cancel, the payment
//! webhook, expiry and every administrator's change alike.
//!
//! ```text
//!                          ship part ┌──────┐ ship part
//!                                    ▼      │
//!   pending ──pay──▶ paid ──ship──▶ partially_fulfilled ──ship the rest──▶ fulfilled
//!      │               │  └────────────────── ship all ─────────────────────▶ │
//!      │ cancel,       │ cancel
//!      │ payment fails │ (stock returns, the money goes back)
//!      ▼               ▼
//!  cancelled ◀─────────┘
//!   expired ◀── expire (pending only)
//!
//!   paid, partially_fulfilled, fulfilled ──refund part──▶ partially_refunded (still ships)
//!                                         ──refund all───▶ refunded (unshipped stock returns)
//! ```
//!
//! Shipping is a fulfillment ([`super::fulfillment`]): it records what left and moves the
//! order by what is left to ship. Refunds ([`super::refunds`]) move it by what went back.
//!
//! Invariants:
//! - A move is a conditional update of the status (`WHERE status = from`): if someone else
//!   moved the order first, nothing else happens — no stock moves, no history row.
//! - Stock follows the status: reserved → sold on payment, reserved → available when a
//!   pending order closes, sold → available when a paid order is cancelled or refunded
//!   before it shipped. Each stock update must touch its inventory row; otherwise the whole
//!   unit fails (the writer's savepoint undoes it).
//! - A pending order that closes gives its promotion use back, and what gift cards paid of
//!   it back on the cards.
//! - A payment issues the gift cards bought in the order (their codes go by mail).
//! - Every move writes one status-history row, its webhook event (`order.paid`, …) and,
//!   for a payment, the receipt mail — in the same unit.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::store::{self, StockMove};
use crate::app::Effects;
use crate::cart;
use crate::db::writer::WriteTx;

/// Where an order stands. `pending` holds reserved stock; `paid` has sold it;
/// `partially_fulfilled` has shipped some of it and `fulfilled` all of it;
/// `partially_refunded` gave part of the money back (and may still ship), `refunded` all of
/// it (nothing more ships); `cancelled` and `expired` have returned what they held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    PartiallyFulfilled,
    Fulfilled,
    Cancelled,
    Expired,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::PartiallyFulfilled,
        OrderStatus::Fulfilled,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyFulfilled => "partially_fulfilled",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Paid and not closed: what it cost may still change hands (a balance due after an
    /// edit is still owed).
    pub fn is_open_after_payment(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid
                | OrderStatus::PartiallyFulfilled
                | OrderStatus::Fulfilled
                | OrderStatus::PartiallyRefunded
        )
    }
}

impl crate::http::Choice for OrderStatus {
    fn choices() -> Vec<(&'static str, OrderStatus)> {
        OrderStatus::ALL.map(|s| (s.as_str(), s)).to_vec()
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for OrderStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for OrderStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        OrderStatus::parse(s).ok_or_else(|| FromSqlError::Other(format!("unknown order status {s:?}").into()))
    }
}

/// Who asked for a cancellation (it shows in the status history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Customer,
    Shop,
}

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// the payment provider reports a payment
    Pay,
    /// the payment provider reports a failed payment
    PaymentFailed,
    /// unpaid past its deadline
    Expire,
    Cancel(Actor),
    /// the shop shipped everything left to ship
    Fulfil,
    /// the shop shipped part of what is left
    ShipPart,
}

/// What an event does from a status: the new status, the stock move, the default note.
struct Step {
    to: OrderStatus,
    stock: Option<StockMove>,
    note: &'static str,
}

fn step(from: OrderStatus, event: Event) -> Option<Step> {
    use OrderStatus::*;
    let s = |to, stock, note| Some(Step { to, stock, note });
    match (from, event) {
        (Pending, Event::Pay) => s(Paid, Some(StockMove::Sell), "payment received"),
        (Pending, Event::PaymentFailed) => s(Cancelled, Some(StockMove::Release), "payment failed"),
        (Pending, Event::Expire) => s(Expired, Some(StockMove::Release), "not paid in time"),
        (Pending, Event::Cancel(Actor::Customer)) => {
            s(Cancelled, Some(StockMove::Release), "cancelled by the customer")
        }
        (Pending, Event::Cancel(Actor::Shop)) => s(Cancelled, Some(StockMove::Release), "cancelled by the shop"),
        (Paid, Event::Cancel(Actor::Customer)) => {
            s(Cancelled, Some(StockMove::Restock), "cancelled by the customer; the payment goes back")
        }
        (Paid, Event::Cancel(Actor::Shop)) => {
            s(Cancelled, Some(StockMove::Restock), "cancelled by the shop; the payment goes back")
        }
        (Paid | PartiallyFulfilled, Event::Fulfil) => s(Fulfilled, None, "shipped"),
        (Paid | PartiallyFulfilled, Event::ShipPart) => s(PartiallyFulfilled, None, "part of the order shipped"),
        // part of the money went back: the order still ships, and says so in its history
        (PartiallyRefunded, Event::Fulfil) => s(PartiallyRefunded, None, "shipped"),
        (PartiallyRefunded, Event::ShipPart) => s(PartiallyRefunded, None, "part of the order shipped"),
        _ => None,
    }
}

/// Why an event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("no such order")]
    NotFound,
    #[error("an order that is {from} cannot take this change")]
    NotAllowed { from: OrderStatus },
    /// a refund (or a paid order's cancellation) would give back gift cards it sold that
    /// have been spent from
    #[error("the gift cards of line {line} have been used: {unused} of them can be refunded, not {asked}")]
    GiftCardsUsed { line: i64, unused: i64, asked: i64 },
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

impl From<TransitionError> for crate::error::ApiError {
    fn from(e: TransitionError) -> Self {
        use crate::error::ApiError;
        match e {
            TransitionError::NotFound => ApiError::not_found("order"),
            TransitionError::NotAllowed { from } => ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "invalid_transition",
                format!("an order that is {from} cannot take this change"),
            ),
            e @ TransitionError::GiftCardsUsed { .. } => {
                ApiError::new(axum::http::StatusCode::CONFLICT, "gift_card_used", e.to_string())
            }
            TransitionError::Store(e) => e.into(),
        }
    }
}

/// The order's status, when it exists.
pub fn status(tx: &rusqlite::Connection, order: i64) -> rusqlite::Result<Option<OrderStatus>> {
    use rusqlite::OptionalExtension;
    tx.prepare_cached("SELECT status FROM orders WHERE id = ?1")?.query_row([order], |r| r.get(0)).optional()
}

/// Applies `event` to `order` in the writer unit `tx` (see the module's invariants), with
/// `note` in the status history instead of the default one when given. Returns the status
/// the order had and the one it has now.
pub fn apply(
    tx: &WriteTx,
    order: i64,
    event: Event,
    note: Option<&str>,
    now: i64,
    fx: Effects,
) -> Result<(OrderStatus, OrderStatus), TransitionError> {
    let from = status(tx, order)?.ok_or(TransitionError::NotFound)?;
    let Some(step) = step(from, event) else { return Err(TransitionError::NotAllowed { from }) };
    let paid_at = (step.to == OrderStatus::Paid).then_some(now);
    let moved = tx
        .prepare_cached(
            "UPDATE orders SET status = ?3, updated_at = ?4, paid_at = coalesce(?5, paid_at),
                    captured = CASE WHEN ?5 IS NULL THEN captured ELSE total END
             WHERE id = ?1 AND status = ?2",
        )?
        .execute(rusqlite::params![order, from, step.to, now, paid_at])?;
    if moved != 1 {
        // moved by someone else between the read and the update: the unit changes nothing
        return Err(TransitionError::NotAllowed { from });
    }
    if let Some(mv) = step.stock {
        store::move_stock(tx, order, mv, now)?;
    }
    if from == OrderStatus::Pending && step.to != OrderStatus::Paid {
        let (code, gift_card_paid): (Option<String>, i64) = tx
            .prepare_cached("SELECT discount_code, gift_card_paid FROM orders WHERE id = ?1")?
            .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if let Some(code) = code {
            cart::store::release_promotion(tx, &code)?;
        }
        if gift_card_paid > 0 {
            // what gift cards paid of an order never paid in full goes back on them
            crate::gift_cards::release(tx, order, now)?;
        }
    }
    let note = note.filter(|n| !n.is_empty()).unwrap_or(step.note);
    store::add_history(tx, order, step.to.as_str(), note, now)?;
    let kind = match event {
        Event::Pay => "order.paid",
        Event::Fulfil | Event::ShipPart => "order.fulfilled",
        Event::Expire => "order.expired",
        Event::PaymentFailed | Event::Cancel(_) => "order.cancelled",
    };
    crate::webhooks::emit_order(tx, kind, order, now)?;
    if step.to == OrderStatus::Paid {
        receipt(tx, order, now, fx.clone())?;
        // gift cards bought in it are issued, their codes mailed
        crate::gift_cards::issue_bought(tx, order, now, fx.clone())?;
    }
    if from == OrderStatus::Paid && step.to == OrderStatus::Cancelled {
        // a paid order cancelled: its payment goes back, in this unit
        use super::refunds::{create, Ask, RefundError};
        match create(tx, order, &Ask::Rest, "order cancelled", None, now, fx) {
            Ok(_) | Err(RefundError::NothingLeft | RefundError::NotCaptured(_)) => {}
            Err(RefundError::Transition(e)) => return Err(e),
            Err(e) => return Err(TransitionError::Store(rusqlite::Error::ToSqlConversionFailure(e.into()))),
        }
    }
    Ok((from, step.to))
}

/// The payment receipt mail.
fn receipt(tx: &WriteTx, order: i64, now: i64, fx: Effects) -> rusqlite::Result<()> {
    let (email, total, currency, by_card): (String, i64, String, i64) = tx
        .prepare_cached("SELECT email, total, currency, gift_card_paid FROM orders WHERE id = ?1")?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    if email.is_empty() {
        return Ok(());
    }
    use crate::mail::words::{say, W};
    let lang = crate::mail::order_lang(tx, order, &fx)?;
    let gift = if by_card > 0 {
        say(lang, W::ReceiptGift, &[("amount", &lang.amount(by_card, &currency))])
    } else {
        String::new()
    };
    let paid = lang.amount(total, &currency);
    let body = say(lang, W::ReceiptBody, &[("order", &order), ("amount", &paid), ("gift", &gift)]);
    let subject = say(lang, W::ReceiptSubject, &[("order", &order)]);
    crate::mail::enqueue(tx, fx.mail, "payment_receipt", &email, &subject, &body, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_and_only_listed_moves_exist() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        use OrderStatus::*;
        // closed orders take nothing
        for from in [Cancelled, Expired, Refunded] {
            for e in [
                Event::Pay,
                Event::PaymentFailed,
                Event::Expire,
                Event::Cancel(Actor::Shop),
                Event::Fulfil,
                Event::ShipPart,
            ] {
                assert!(step(from, e).is_none(), "{from} takes no {e:?}");
            }
        }
        for from in [Fulfilled, PartiallyFulfilled] {
            for actor in [Actor::Customer, Actor::Shop] {
                assert!(step(from, Event::Cancel(actor)).is_none(), "a shipped order is not cancelled");
            }
        }
        assert!(step(Fulfilled, Event::ShipPart).is_none() && step(Pending, Event::Fulfil).is_none());
        assert!(step(Paid, Event::Expire).is_none(), "a paid order does not expire");
        assert!(step(Refunded, Event::ShipPart).is_none(), "a refunded order ships nothing more");
        assert!(step(PartiallyRefunded, Event::ShipPart).is_some_and(|s| s.to == PartiallyRefunded));
    }
}
