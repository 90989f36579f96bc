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
pub mod handlers;
pub mod lifecycle;
pub mod store;

pub use lifecycle::{Actor, Event, OrderStatus, TransitionError};

use std::time::Duration;

use crate::app::AppState;
use crate::db::writer::WriteTx;
use crate::error::ApiError;
use crate::util::now_ms;

/// Expires due pending orders (releasing their stock and promotion uses), at most `limit`
/// in one unit. Returns how many.
pub fn expire_due(tx: &WriteTx, now: i64, limit: i64) -> rusqlite::Result<usize> {
    let mut n = 0;
    for id in store::expired(tx, now, limit)? {
        match lifecycle::apply(tx, id, Event::Expire, None, now) {
            Ok(_) => n += 1,
            // paid or cancelled since it was listed: nothing to expire
            Err(TransitionError::NotAllowed { .. } | TransitionError::NotFound) => {}
            Err(TransitionError::Store(e)) => return Err(e),
        }
    }
    Ok(n)
}

/// One round of upkeep: expire due orders, purge old idempotency keys and auth records.
pub async fn upkeep(app: &AppState) -> Result<usize, ApiError> {
    app.db
        .writer
        .run(|tx| {
            let now = now_ms();
            let expired = expire_due(tx, now, 500)?;
            store::purge_idempotency(tx, now)?;
            crate::customers::store::purge(tx, now)?;
            Ok::<_, ApiError>(expired)
        })
        .await
}

/// Runs [`upkeep`] every `every` until the writer stops.
pub fn spawn_upkeep(app: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // the first round one period after start, not in the middle of it
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match upkeep(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "expired unpaid orders"),
                Err(e) if e.status.as_u16() == 503 => {
                    if !app.db.writer.is_alive() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "order upkeep failed"),
            }
        }
    })
}
