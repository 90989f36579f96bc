//! Checkout, buy-now, orders, cancellation, expiry and the payment webhook.
//!
//! Invariants:
//! - Placing an order is ONE writer unit: claim the idempotency key, reserve stock with a
//!   conditional decrement per line, price, insert the order, its lines and its first
//!   status, count the promotion's use, close the cart, enqueue the confirmation mail and
//!   store the response. A failure anywhere rolls the unit's savepoint back: there is no
//!   state in which half of it happened.
//! - Stock is conserved: for every variant, available + reserved + sold (units of paid or
//!   fulfilled orders) is what was stocked. Reserving moves available → reserved, paying
//!   reserved → sold, cancelling or expiring a pending order reserved → available.
//! - The writer runs units one at a time, so two requests with one idempotency key are
//!   serialized: the second finds the first's stored response.

pub mod checkout;
pub mod drafts;
pub mod edits;
pub mod fulfillment;
pub mod handlers;
pub mod lifecycle;
pub mod provider;
pub mod refunds;
pub mod returns;
pub mod store;

pub use lifecycle::{Actor, Event, OrderStatus, TransitionError};

use crate::app::AppState;
use crate::db::writer::WriteTx;
use crate::error::ApiError;
use crate::util::now_ms;

/// Expires due pending orders (releasing their stock and promotion uses), at most `limit`
/// in one unit. Returns how many.
pub fn expire_due(tx: &WriteTx, now: i64, limit: i64, fx: crate::app::Effects) -> rusqlite::Result<usize> {
    let mut n = 0;
    for id in store::expired(tx, now, limit)? {
        match lifecycle::apply(tx, id, Event::Expire, None, now, fx.clone()) {
            Ok(_) => n += 1,
            // paid or cancelled since it was listed: nothing to expire
            Err(TransitionError::NotAllowed { .. } | TransitionError::NotFound) => {}
            // only the cancellation of a paid order refunds (and so checks gift cards it sold)
            Err(TransitionError::GiftCardsUsed { .. }) => {}
            Err(TransitionError::Store(e)) => return Err(e),
        }
    }
    Ok(n)
}

/// One round of the `order_expiry` task: expire due pending orders, in units of at most 500
/// until none is due. Returns how many.
pub async fn expire_round(app: &AppState) -> Result<usize, ApiError> {
    let mut total = 0;
    loop {
        let fx = app.effects();
        let n = app.db.writer.run(move |tx| Ok::<_, ApiError>(expire_due(tx, now_ms(), 500, fx)?)).await?;
        total += n;
        if n < 500 {
            break;
        }
    }
    if total > 0 {
        tracing::info!(orders = total, "expired unpaid orders");
    }
    Ok(total)
}
