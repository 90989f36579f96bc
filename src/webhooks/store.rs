//! Every SQL statement of outgoing webhooks.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::db::writer::WriteTx;
use crate::domain::{Id, Timestamp};

/// Active subscriptions to event `kind`.
pub fn subscribers(conn: &Connection, kind: &str) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT s.id FROM webhook_subscriptions s
         WHERE s.active = 1 AND EXISTS (SELECT 1 FROM json_each(s.events) WHERE value = ?1) ORDER BY s.id",
    )?
    .query_map([kind], |r| r.get(0))?
    .collect()
}

pub fn anyone_listens(conn: &Connection, kind: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM webhook_subscriptions s
         WHERE s.active = 1 AND EXISTS (SELECT 1 FROM json_each(s.events) WHERE value = ?1))",
    )?
    .query_row([kind], |r| r.get(0))
}

pub fn insert_event(tx: &WriteTx, kind: &str, data: &serde_json::Value, now: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached("INSERT INTO webhook_events(type, data, created_at) VALUES (?1, ?2, ?3)")?.execute(params![
        kind,
        data.to_string(),
        now
    ])?;
    Ok(tx.last_insert_rowid())
}

pub fn insert_delivery(tx: &WriteTx, subscription: i64, event: i64, now: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO webhook_deliveries(subscription_id, event_id, next_at, created_at) VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![subscription, event, now])?;
    Ok(tx.last_insert_rowid())
}

/// Deletes up to `limit` events (with their deliveries) created before `before`.
pub fn purge(tx: &WriteTx, before: i64, limit: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events WHERE created_at < ?1 LIMIT ?2)
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id
                             AND d.state = 'pending')",
    )?
    .execute(params![before, limit])
}

// --- subscriptions ------------------------------------------------------------------------

/// A subscription as administrators see it (never its secret, after creation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: Id,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn subscription_row(r: &rusqlite::Row) -> rusqlite::Result<Subscription> {
    let events: String = r.get(2)?;
    Ok(Subscription {
        id: Id(r.get(0)?),
        url: r.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        active: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        updated_at: Timestamp(r.get(5)?),
    })
}

pub fn subscription(conn: &Connection, id: i64) -> rusqlite::Result<Option<Subscription>> {
    conn.prepare_cached(
        "SELECT id, url, events, active, created_at, updated_at FROM webhook_subscriptions WHERE id = ?1",
    )?
    .query_row([id], subscription_row)
    .optional()
}

pub fn subscriptions(conn: &Connection) -> rusqlite::Result<Vec<Subscription>> {
    conn.prepare_cached(
        "SELECT id, url, events, active, created_at, updated_at FROM webhook_subscriptions ORDER BY id",
    )?
    .query_map([], subscription_row)?
    .collect()
}

/// How a subscription's endpoint is doing, judged from its deliveries.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (the latest settled delivery arrived), `failing` (the oldest waiting delivery is
    /// being retried, or the latest settled one gave up) or `idle` (nothing sent yet)
    #[schema(pattern = "^(ok|failing|idle)$")]
    pub state: &'static str,
    /// the HTTP status of the attempt judged (null: no answer)
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
}

/// The health of subscription `id`: at most two rows read, by index, however long its log.
/// Deliveries go out in order, so the pending ones are the newest but for retried ones:
/// the oldest pending one tells whether the endpoint answers now; the newest one before
/// it, how the last settled delivery ended.
pub fn health(conn: &Connection, id: i64) -> rusqlite::Result<Health> {
    type Attempt = (i64, String, i64, Option<i64>, Option<String>, Option<i64>);
    let row = |r: &rusqlite::Row| -> rusqlite::Result<Attempt> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    };
    let judged = |state, (_, _, _, status, error, at): Attempt| Health {
        state,
        last_status: status,
        last_error: error,
        last_attempt_at: at.map(Timestamp),
    };
    let oldest_pending = conn
        .prepare_cached(
            "SELECT id, state, attempts, last_status, last_error, last_attempt_at FROM webhook_deliveries
             WHERE subscription_id = ?1 AND state = 'pending' ORDER BY id LIMIT 1",
        )?
        .query_row([id], row)
        .optional()?;
    if let Some(p) = oldest_pending.clone().filter(|p| p.2 > 0) {
        return Ok(judged("failing", p));
    }
    let settled = conn
        .prepare_cached(
            "SELECT id, state, attempts, last_status, last_error, last_attempt_at FROM webhook_deliveries
             WHERE subscription_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![id, oldest_pending.map_or(i64::MAX, |p| p.0)], row)
        .optional()?;
    Ok(match settled {
        None => Health { state: "idle", last_status: None, last_error: None, last_attempt_at: None },
        Some(s) if s.1 == "failed" => judged("failing", s),
        Some(s) => judged("ok", s),
    })
}

/// The URL and secret a delivery needs, if the subscription exists and is active.
pub fn target(conn: &Connection, id: i64) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT url, secret FROM webhook_subscriptions WHERE id = ?1 AND active = 1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub fn create(
    tx: &WriteTx,
    url: &str,
    events: &[String],
    secret: &str,
    active: bool,
    now: i64,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO webhook_subscriptions(url, events, secret, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![url, serde_json::to_string(events).expect("strings serialize"), secret, active, now])?;
    Ok(tx.last_insert_rowid())
}

pub fn update(
    tx: &WriteTx,
    id: i64,
    url: Option<&str>,
    events: Option<&[String]>,
    active: Option<bool>,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached(
            "UPDATE webhook_subscriptions SET url = coalesce(?2, url), events = coalesce(?3, events),
                 active = coalesce(?4, active), updated_at = ?5
             WHERE id = ?1",
        )?
        .execute(params![id, url, events.map(|e| serde_json::to_string(e).expect("strings serialize")), active, now])?
        == 1)
}

pub fn delete(tx: &WriteTx, id: i64) -> rusqlite::Result<bool> {
    Ok(tx.prepare_cached("DELETE FROM webhook_subscriptions WHERE id = ?1")?.execute([id])? == 1)
}

// --- deliveries ---------------------------------------------------------------------------

/// A delivery as administrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Id,
    pub event_id: Id,
    /// the event's type, e.g. order.paid
    pub event: String,
    /// pending, succeeded or failed
    #[schema(pattern = "^(pending|succeeded|failed)$")]
    pub state: String,
    pub attempts: i64,
    /// the HTTP status of the last attempt (null: no answer, or not tried yet)
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    /// a pending delivery's next try
    pub next_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// A subscription's deliveries, newest first, below id `before`.
pub fn deliveries(conn: &Connection, subscription: i64, before: i64, limit: i64) -> rusqlite::Result<Vec<Delivery>> {
    conn.prepare_cached(
        "SELECT d.id, d.event_id, e.type, d.state, d.attempts, d.last_status, d.last_error, d.last_attempt_at,
                d.next_at, d.created_at, d.delivered_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE d.subscription_id = ?1 AND d.id < ?2 ORDER BY d.id DESC LIMIT ?3",
    )?
    .query_map(params![subscription, before, limit], |r| {
        let state: String = r.get(3)?;
        let next: i64 = r.get(8)?;
        Ok(Delivery {
            id: Id(r.get(0)?),
            event_id: Id(r.get(1)?),
            event: r.get(2)?,
            attempts: r.get(4)?,
            last_status: r.get(5)?,
            last_error: r.get(6)?,
            last_attempt_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
            next_at: (state == "pending").then_some(Timestamp(next)),
            created_at: Timestamp(r.get(9)?),
            delivered_at: r.get::<_, Option<i64>>(10)?.map(Timestamp),
            state,
        })
    })?
    .collect()
}

/// The next delivery a subscription's job sends: its oldest pending one.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub event_id: i64,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_at: i64,
}

pub fn head(conn: &Connection, subscription: i64) -> rusqlite::Result<Option<Pending>> {
    conn.prepare_cached(
        "SELECT d.id, e.id, e.type, e.data, e.created_at, d.attempts, d.next_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE d.subscription_id = ?1 AND d.state = 'pending' ORDER BY d.id LIMIT 1",
    )?
    .query_row([subscription], |r| {
        Ok(Pending {
            id: r.get(0)?,
            event_id: r.get(1)?,
            kind: r.get(2)?,
            data: r.get(3)?,
            created_at: r.get(4)?,
            attempts: r.get(5)?,
            next_at: r.get(6)?,
        })
    })
    .optional()
}

/// Records an attempt: `Ok` delivered; else `next_at` for a retry, or `None` when it was
/// the last attempt (the delivery is `failed`).
pub fn record_attempt(
    tx: &WriteTx,
    delivery: i64,
    status: Option<u16>,
    error: Option<&str>,
    delivered: bool,
    next_at: Option<i64>,
    now: i64,
) -> rusqlite::Result<()> {
    let state = if delivered {
        "succeeded"
    } else if next_at.is_some() {
        "pending"
    } else {
        "failed"
    };
    tx.prepare_cached(
        "UPDATE webhook_deliveries SET state = ?2, attempts = attempts + 1, last_status = ?3, last_error = ?4,
             last_attempt_at = ?5, next_at = coalesce(?6, next_at),
             delivered_at = CASE WHEN ?2 = 'succeeded' THEN ?5 END
         WHERE id = ?1 AND state = 'pending'",
    )?
    .execute(params![delivery, state, status, error, now, next_at])?;
    Ok(())
}

/// Why a delivery retry was refused.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such delivery")]
    NotFound,
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

/// Sends a delivery again: pending at once, with its attempts starting over. Returns
/// nothing new for a delivery already pending (it goes as soon as its turn comes).
pub fn retry(tx: &WriteTx, subscription: i64, delivery: i64, now: i64) -> Result<(), RetryError> {
    let n = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ?3, delivered_at = NULL
             WHERE id = ?1 AND subscription_id = ?2",
        )?
        .execute(params![delivery, subscription, now])?;
    if n == 0 {
        return Err(RetryError::NotFound);
    }
    crate::jobs::enqueue(tx, &super::job(subscription))?;
    Ok(())
}
