//! Outgoing webhooks: administrators subscribe URLs to event types; every event is written
//! in the writer unit that caused it, with one delivery per matching subscription, and one
//! `webhook` job per subscription sends its deliveries.
//!
//! - Each delivery is `POST <url>` with `{id, type, created_at, data}`, signed
//!   (`Storefront-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`). A 2xx within
//!   10 s acknowledges it; anything else is retried with the queue's backoff (about a day
//!   with the default `webhook_attempts`), then the delivery is `failed` and can be retried by
//!   hand.
//! - In order per subscription: its job sends the oldest pending delivery first and waits
//!   (snoozes) while that one waits for its retry.
//! - Isolation: each subscription has its own job, and each endpoint its own circuit
//!   breaker, so a slow or dead receiver holds one worker slot for at most the 10 s timeout
//!   and never delays another's deliveries; requests never wait on any delivery.
//! - No subscription, no rows: an event nobody listens to is not stored.

pub mod deliver;
pub mod handlers;
pub mod store;
pub mod target;

use serde_json::Value;

use crate::db::writer::WriteTx;
use crate::jobs::NewJob;

/// An event type, as subscriptions name them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum EventType {
    #[serde(rename = "order.placed")]
    OrderPlaced,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.expired")]
    OrderExpired,
    #[serde(rename = "order.fulfilled")]
    OrderFulfilled,
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    #[serde(rename = "order.delivered")]
    OrderDelivered,
    #[serde(rename = "return.requested")]
    ReturnRequested,
    #[serde(rename = "return.received")]
    ReturnReceived,
    #[serde(rename = "product.created")]
    ProductCreated,
    #[serde(rename = "product.updated")]
    ProductUpdated,
    #[serde(rename = "product.retired")]
    ProductRetired,
    #[serde(rename = "inventory.low")]
    InventoryLow,
    #[serde(rename = "customer.registered")]
    CustomerRegistered,
    /// an order's lines changed (an edit); `data` is the order as edited
    #[serde(rename = "order.edited")]
    OrderEdited,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        EVENT_TYPES[self as usize]
    }
}

/// Every event type's name, in [`EventType`]'s order.
pub const EVENT_TYPES: &[&str] = &[
    "order.placed",
    "order.paid",
    "order.cancelled",
    "order.expired",
    "order.fulfilled",
    "order.refunded",
    "order.delivered",
    "return.requested",
    "return.received",
    "product.created",
    "product.updated",
    "product.retired",
    "inventory.low",
    "customer.registered",
    "order.edited",
];

/// The job that sends subscription `id`'s deliveries.
pub fn job(subscription: i64) -> NewJob {
    NewJob::new(crate::jobs::Kind::Webhook, serde_json::json!({ "subscription_id": subscription }))
        .unique(format!("webhook:{subscription}"))
}

/// Records event `kind` with `data` for every active subscription to it, in the unit of
/// `tx`, and enqueues their senders. Returns the event's id (none when nobody listens).
pub fn emit(tx: &WriteTx, kind: &str, data: &Value, now: i64) -> rusqlite::Result<Option<i64>> {
    emit_with(tx, kind, now, || Ok(Some(data.clone())))
}

/// [`emit`] with the data made by `data` only when someone listens (`None`: no event).
pub fn emit_with(
    tx: &WriteTx,
    kind: &str,
    now: i64,
    data: impl FnOnce() -> rusqlite::Result<Option<Value>>,
) -> rusqlite::Result<Option<i64>> {
    debug_assert!(EVENT_TYPES.contains(&kind), "unknown event type {kind}");
    let subscribers = store::subscribers(tx, kind)?;
    if subscribers.is_empty() {
        return Ok(None);
    }
    let Some(data) = data()? else { return Ok(None) };
    let event = store::insert_event(tx, kind, &data, now)?;
    for sub in subscribers {
        store::insert_delivery(tx, sub, event, now)?;
        crate::jobs::enqueue(tx, &job(sub))?;
    }
    Ok(Some(event))
}

/// An order's event, with the order as its data.
pub fn emit_order(tx: &WriteTx, kind: &str, order: i64, now: i64) -> rusqlite::Result<Option<i64>> {
    emit_with(tx, kind, now, || json_row(tx, ORDER_JSON, order))
}

/// A product's event (created, updated, retired), with the product as its data.
/// `currency`: the shop's default, of products' own prices.
pub fn emit_product(
    tx: &WriteTx,
    kind: &str,
    product: i64,
    currency: crate::domain::Currency,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    emit_with(tx, kind, now, || {
        use rusqlite::OptionalExtension;
        let text: Option<String> = tx
            .prepare_cached(PRODUCT_JSON)?
            .query_row(rusqlite::params![product, currency.as_str()], |r| r.get(0))
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(Value::Null)))
    })
}

/// The one JSON row `sql` makes of `id`, if there is one.
fn json_row(tx: &WriteTx, sql: &str, id: i64) -> rusqlite::Result<Option<Value>> {
    use rusqlite::OptionalExtension;
    let text: Option<String> = tx.prepare_cached(sql)?.query_row([id], |r| r.get(0)).optional()?;
    Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(Value::Null)))
}

const ORDER_JSON: &str = "SELECT json_object('id', cast(o.id AS TEXT), 'status', o.status,
        'customer_id', cast(o.customer_id AS TEXT), 'email', o.email,
        'subtotal', json_object('amount', o.subtotal, 'currency', o.currency),
        'discount', json_object('amount', o.discount, 'currency', o.currency),
        'shipping', json_object('amount', o.shipping, 'currency', o.currency),
        'tax', json_object('amount', o.tax, 'currency', o.currency),
        'tax_included', json(CASE WHEN o.tax_included THEN 'true' ELSE 'false' END),
        'total', json_object('amount', o.total, 'currency', o.currency),
        'items', (SELECT json_group_array(json_object('product_id', cast(i.product_id AS TEXT),
                     'variant_id', cast(i.variant_id AS TEXT), 'sku', i.sku, 'name', i.name,
                     'line', i.line, 'quantity', i.quantity, 'fulfilled', i.fulfilled, 'refunded', i.refunded,
                     'unit_price', json_object('amount', i.unit_price, 'currency', o.currency)))
                  FROM order_items i WHERE i.order_id = o.id),
        'fulfillments', (SELECT json_group_array(json_object('id', cast(f.id AS TEXT), 'carrier', f.carrier,
                     'tracking_number', f.tracking_number, 'tracking_url', f.tracking_url,
                     'lines', (SELECT json_group_array(json_object('line_id', l.line, 'quantity', l.quantity))
                               FROM fulfillment_lines l WHERE l.fulfillment_id = f.id),
                     'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', f.created_at / 1000.0, 'unixepoch'),
                     'delivered_at', strftime('%Y-%m-%dT%H:%M:%fZ', f.delivered_at / 1000.0, 'unixepoch')))
                  FROM fulfillments f WHERE f.order_id = o.id),
        'refunds', (SELECT json_group_array(json_object('id', cast(r.id AS TEXT), 'status', r.status,
                     'amount', json_object('amount', r.amount, 'currency', o.currency), 'reason', r.reason,
                     'method', r.method, 'provider_ref', r.provider_ref,
                     'lines', (SELECT json_group_array(json_object('line_id', l.line, 'quantity', l.quantity))
                               FROM refund_lines l WHERE l.refund_id = r.id),
                     'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at / 1000.0, 'unixepoch'),
                     'settled_at', strftime('%Y-%m-%dT%H:%M:%fZ', r.settled_at / 1000.0, 'unixepoch')))
                  FROM refunds r WHERE r.order_id = o.id),
        'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', o.created_at / 1000.0, 'unixepoch'))
    FROM orders o WHERE o.id = ?1";

const PRODUCT_JSON: &str = "SELECT json_object('id', cast(p.id AS TEXT), 'sku', p.sku, 'slug', p.slug, 'name', p.name,
        'status', p.status, 'category_id', cast(p.category_id AS TEXT),
        'brand_id', cast(p.brand_id AS TEXT), 'in_stock', json(CASE WHEN p.in_stock THEN 'true' ELSE 'false' END),
        'price', json_object('amount', p.price, 'currency', ?2))
    FROM products p WHERE p.id = ?1";

/// `inventory.low` when a variant's available stock went from above `threshold` to at or
/// below it (once per crossing, not on every sale below it).
pub fn stock_fell(
    tx: &WriteTx,
    variant: i64,
    before: i64,
    after: i64,
    threshold: i64,
    now: i64,
) -> rusqlite::Result<()> {
    if !(before > threshold && after <= threshold) {
        return Ok(());
    }
    emit_with(tx, "inventory.low", now, || {
        use rusqlite::OptionalExtension;
        let text: Option<String> = tx
            .prepare_cached(
                "SELECT json_object('product_id', cast(v.product_id AS TEXT), 'variant_id', cast(v.id AS TEXT),
                     'sku', v.sku, 'available', ?2, 'threshold', ?3)
                 FROM variants v WHERE v.id = ?1",
            )?
            .query_row(rusqlite::params![variant, after, threshold], |r| r.get(0))
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(Value::Null)))
    })?;
    Ok(())
}

/// The signature header's value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_type_names_are_their_serde_names() {
        use super::EventType::*;
        let all = [
            OrderPlaced,
            OrderPaid,
            OrderCancelled,
            OrderExpired,
            OrderFulfilled,
            OrderRefunded,
            OrderDelivered,
            ReturnRequested,
            ReturnReceived,
            ProductCreated,
            ProductUpdated,
            ProductRetired,
            InventoryLow,
            CustomerRegistered,
            OrderEdited,
        ];
        assert_eq!(all.len(), super::EVENT_TYPES.len());
        for t in all {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn signature_is_hmac_sha256_over_t_dot_body() {
        // computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            super::signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        let s = super::signature("k", 1, b"x");
        assert!(s.starts_with("t=1,v1=") && s.len() == "t=1,v1=".len() + 64, "{s}");
        assert_ne!(super::signature("k", 1, b"x"), super::signature("k", 2, b"x"), "the time is signed");
    }
}
