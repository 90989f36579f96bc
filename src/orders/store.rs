//! All SQL of orders: stock reservation and release, order rows, status history
//! and payment events. Every function that changes stock takes the
//! writer's transaction; the conditional decrement is what keeps stock from going below
//! zero (the CHECK constraints on `inventory` are the backstop).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::OrderStatus;
use crate::db::writer::WriteTx;
use crate::domain::{Currency, Id, Money, Timestamp};

/// Moves `quantity` of a variant from available to reserved, if that much is available;
/// returns the units left available (`None`: not enough).
pub fn reserve(tx: &WriteTx, variant: i64, quantity: i64, now: i64) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached(
        "UPDATE inventory SET available = available - ?2, reserved = reserved + ?2, updated_at = ?3
         WHERE variant_id = ?1 AND available >= ?2 RETURNING available",
    )?
    .query_row(params![variant, quantity, now], |r| r.get(0))
    .optional()
}

/// Sells `quantity` more of a variant straight from available (an edit of a paid order),
/// if that much is available; returns the units left available (`None`: not enough).
pub fn sell(tx: &WriteTx, variant: i64, quantity: i64, now: i64) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached(
        "UPDATE inventory SET available = available - ?2, updated_at = ?3
         WHERE variant_id = ?1 AND available >= ?2 RETURNING available",
    )?
    .query_row(params![variant, quantity, now], |r| r.get(0))
    .optional()
}

/// Moves `quantity` reserved units of a variant back to available (a pending order edited
/// down). The unit fails when the variant has no inventory row.
pub fn release(tx: &WriteTx, variant: i64, quantity: i64, now: i64) -> rusqlite::Result<()> {
    let moved = tx
        .prepare_cached(
            "UPDATE inventory SET reserved = reserved - ?2, available = available + ?2, updated_at = ?3
             WHERE variant_id = ?1",
        )?
        .execute(params![variant, quantity, now])?;
    if moved != 1 {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    Ok(())
}

/// Puts `units` sold (not shipped) units of a variant back on sale: a paid order edited
/// down.
pub fn put_back(tx: &WriteTx, variant: i64, product: i64, units: i64, now: i64) -> rusqlite::Result<()> {
    add_stock(tx, variant, product, units, now)
}

/// Counts `delta` more (or fewer) units of `product` sold: bestsellers and
/// `sort=popular` read these.
pub fn count_sale(tx: &WriteTx, product: i64, delta: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE products SET sales_count = max(0, sales_count + ?2) WHERE id = ?1")?
        .execute(params![product, delta])?;
    crate::catalog::tags::note_sale(tx, product);
    tx.prepare_cached(
        "INSERT INTO product_sales_daily(day, product_id, units) VALUES (?1, ?2, max(0, ?3))
         ON CONFLICT(day, product_id) DO UPDATE SET units = max(0, units + ?3)",
    )?
    .execute(params![now.div_euclid(86_400_000), product, delta])?;
    Ok(())
}

/// What happens to an order's reserved stock when it leaves `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockMove {
    /// paid: reserved units are sold
    Sell,
    /// cancelled or expired while pending: reserved units return to sale
    Release,
    /// cancelled after payment: sold units not yet shipped return to sale
    Restock,
}

/// Applies `mv` to every line of `order`.
pub fn move_stock(tx: &WriteTx, order: i64, mv: StockMove, now: i64) -> rusqlite::Result<()> {
    let sql = match mv {
        StockMove::Sell => "UPDATE inventory SET reserved = reserved - ?2, updated_at = ?3 WHERE variant_id = ?1",
        StockMove::Release => {
            "UPDATE inventory SET reserved = reserved - ?2, available = available + ?2, updated_at = ?3
             WHERE variant_id = ?1"
        }
        StockMove::Restock => "UPDATE inventory SET available = available + ?2, updated_at = ?3 WHERE variant_id = ?1",
    };
    if mv == StockMove::Restock {
        // what has shipped stays shipped, and what a refund put back is back: a restock
        // returns the units neither fulfilled nor cancelled, and cancels them
        let lines: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT line, quantity - fulfilled - cancelled FROM order_items
                 WHERE order_id = ?1 AND quantity - fulfilled - cancelled > 0",
            )?
            .query_map([order], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (line, units) in lines {
            cancel_units(tx, order, line, units, now)?;
        }
        return Ok(());
    }
    // the other moves happen before anything ships or is refunded
    let lines: Vec<(i64, i64, i64)> = tx
        .prepare_cached("SELECT variant_id, quantity, product_id FROM order_items WHERE order_id = ?1")?
        .query_map([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt = tx.prepare_cached(sql)?;
    for (variant, quantity, product) in lines {
        // a sale moves reserved units out (available, and so in_stock, stay as they were)
        let moved = if mv == StockMove::Sell {
            stmt.execute(params![variant, quantity, now])?
        } else {
            crate::catalog::tags::stock_move(tx, product, || stmt.execute(params![variant, quantity, now]))?
        };
        if moved != 1 {
            // every line's variant has its inventory row (CHECKs keep both counts >= 0): a
            // missing one is corruption, and the unit must not half-happen
            return Err(rusqlite::Error::QueryReturnedNoRows);
        }
        if mv == StockMove::Sell {
            count_sale(tx, product, quantity, now)?;
        }
    }
    Ok(())
}

/// Puts `units` sold units of `order`'s `line` that had not shipped back on sale, and
/// counts them cancelled (they will not ship: a paid order cancelled, or a refund before
/// shipping) and not sold. The unit fails when the line's variant has no inventory row.
pub fn cancel_units(tx: &WriteTx, order: i64, line: i64, units: i64, now: i64) -> rusqlite::Result<()> {
    let (variant, product): (i64, i64) = tx
        .prepare_cached(
            "UPDATE order_items SET cancelled = cancelled + ?3 WHERE order_id = ?1 AND line = ?2
             RETURNING variant_id, product_id",
        )?
        .query_row(params![order, line, units], |r| Ok((r.get(0)?, r.get(1)?)))?;
    count_sale(tx, product, -units, now)?;
    add_stock(tx, variant, product, units, now)
}

/// `received` units of `order`'s `line` that shipped came back in a return: no longer
/// counted sold, and `restocked` of them on sale again.
pub fn returned(tx: &WriteTx, order: i64, line: i64, received: i64, restocked: i64, now: i64) -> rusqlite::Result<()> {
    let (variant, product): (i64, i64) = tx
        .prepare_cached("SELECT variant_id, product_id FROM order_items WHERE order_id = ?1 AND line = ?2")?
        .query_row(params![order, line], |r| Ok((r.get(0)?, r.get(1)?)))?;
    count_sale(tx, product, -received, now)?;
    if restocked > 0 {
        add_stock(tx, variant, product, restocked, now)?;
    }
    Ok(())
}

/// `units` more of `variant` available, with the product's cache tags told. The unit
/// fails when the variant has no inventory row.
fn add_stock(tx: &WriteTx, variant: i64, product: i64, units: i64, now: i64) -> rusqlite::Result<()> {
    let moved = crate::catalog::tags::stock_move(tx, product, || {
        tx.prepare_cached("UPDATE inventory SET available = available + ?2, updated_at = ?3 WHERE variant_id = ?1")?
            .execute(params![variant, units, now])
    })?;
    if moved != 1 {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    Ok(())
}

pub struct NewOrder<'a> {
    pub customer_id: Option<i64>,
    pub session_id: Option<i64>,
    pub cart_id: Option<i64>,
    pub email: &'a str,
    pub shipping_address: &'a str,
    pub shipping_option: &'a str,
    pub payment_method: &'a str,
    pub discount_code: Option<&'a str>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    /// `tax` is part of the prices, not added to the total
    pub tax_included: bool,
    pub total: i64,
    pub now: i64,
    pub expires_at: i64,
    /// the client's address key (an IPv6 /64), for the holds per address
    pub client_addr: &'a str,
    /// what gift cards pay of it (their ledger rows are written with it); all of it: the
    /// order is placed `paid`, its payment captured (otherwise `pending`)
    pub gift_card_paid: i64,
    /// the currency of every amount
    pub currency: &'a str,
    /// the language its mail is written in (a tag of the `locales` setting; none: the
    /// default)
    pub locale: Option<&'a str>,
}

/// Unpaid orders and the units they hold, with the earliest of their deadlines.
#[derive(Debug, Default)]
pub struct Pending {
    pub orders: i64,
    pub units: i64,
    pub first_expiry: Option<i64>,
}

/// The figures of at most `?2` unpaid orders (the oldest) among those `{WHERE}` selects:
/// a bound is checked against one more than it allows, so the work is the bound's, not the
/// history's (an address that placed thousands of unpaid orders costs 21 rows, not
/// thousands).
fn pending_sql(from_where: &str) -> String {
    format!(
        "SELECT count(*), coalesce(sum((SELECT sum(quantity) FROM order_items i WHERE i.order_id = o.id)), 0),
                min(o.expires_at)
         FROM (SELECT id, expires_at FROM {from_where} ORDER BY id LIMIT ?2) o"
    )
}

/// The unpaid orders of a customer, or of a guest session (at most `limit` of them).
pub fn pending_of_owner(
    conn: &Connection,
    customer: Option<i64>,
    session: i64,
    limit: i64,
) -> rusqlite::Result<Pending> {
    let row = |r: &rusqlite::Row| Ok(Pending { orders: r.get(0)?, units: r.get(1)?, first_expiry: r.get(2)? });
    match customer {
        Some(c) => conn
            .prepare_cached(&pending_sql("orders WHERE customer_id = ?1 AND status = 'pending'"))?
            .query_row(params![c, limit], row),
        None => conn
            .prepare_cached(&pending_sql(
                "orders INDEXED BY idx_orders_session
                 WHERE session_id = ?1 AND status = 'pending' AND customer_id IS NULL",
            ))?
            .query_row(params![session, limit], row),
    }
}

/// The unpaid orders placed from one client address (at most `limit` of them).
pub fn pending_of_address(conn: &Connection, address: &str, limit: i64) -> rusqlite::Result<Pending> {
    conn.prepare_cached(&pending_sql(
        "orders INDEXED BY idx_orders_pending_addr WHERE client_addr = ?1 AND status = 'pending'",
    ))?
    .query_row(params![address, limit], |r| {
        Ok(Pending { orders: r.get(0)?, units: r.get(1)?, first_expiry: r.get(2)? })
    })
}

pub fn insert_order(tx: &WriteTx, o: &NewOrder) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO orders(customer_id, session_id, cart_id, status, currency, subtotal, discount, shipping, tax, total,
                            email, shipping_address, shipping_option, payment_method, discount_code,
                            created_at, updated_at, expires_at, client_addr, gift_card_paid, paid_at, captured,
                            tax_included, locale)
         VALUES (?1, ?2, ?3, CASE WHEN ?18 THEN 'paid' ELSE 'pending' END, ?20, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                 ?12, ?13, ?14, ?14, ?15, ?16, ?17, CASE WHEN ?18 THEN ?14 END, CASE WHEN ?18 THEN ?8 ELSE 0 END, ?19,
                 ?21)",
    )?
    .execute(params![
        o.customer_id,
        o.session_id,
        o.cart_id,
        o.subtotal,
        o.discount,
        o.shipping,
        o.tax,
        o.total,
        o.email,
        o.shipping_address,
        o.shipping_option,
        o.payment_method,
        o.discount_code,
        o.now,
        o.expires_at,
        o.client_addr,
        o.gift_card_paid,
        o.gift_card_paid > 0 && o.gift_card_paid == o.total,
        o.tax_included,
        o.currency,
        o.locale
    ])?;
    Ok(tx.last_insert_rowid())
}

#[allow(clippy::too_many_arguments)]
pub fn insert_item(
    tx: &WriteTx,
    order: i64,
    line: i64,
    product: i64,
    variant: i64,
    sku: &str,
    name: &str,
    unit_price: i64,
    quantity: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO order_items(order_id, line, product_id, variant_id, sku, name, unit_price, quantity, line_total)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7 * ?8)",
    )?
    .execute(params![order, line, product, variant, sku, name, unit_price, quantity])?;
    Ok(())
}

/// The priced lines of a new order as its items, numbered from 1.
pub fn insert_lines(tx: &WriteTx, order: i64, lines: &[crate::cart::store::Line]) -> rusqlite::Result<()> {
    for (i, l) in lines.iter().enumerate() {
        let name = l.item_name();
        insert_item(tx, order, i as i64 + 1, l.product_id, l.variant_id, &l.sku, &name, l.unit_price, l.quantity)?;
    }
    Ok(())
}

pub fn add_history(tx: &WriteTx, order: i64, status: &str, note: &str, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO order_status_history(order_id, status, note, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![order, status, note, now])?;
    Ok(())
}

/// Whose an order is.
pub struct Owner {
    pub customer_id: Option<i64>,
    pub session_id: Option<i64>,
    pub status: OrderStatus,
    pub total: i64,
    pub discount_code: Option<String>,
    pub payment_method: String,
    /// what gift cards paid of the total (the rest is due by `payment_method`)
    pub gift_card_paid: i64,
    /// what an edit left to pay of a paid order
    pub balance_due: i64,
}

pub fn owner(conn: &Connection, order: i64) -> rusqlite::Result<Option<Owner>> {
    conn.prepare_cached(
        "SELECT customer_id, session_id, status, total, discount_code, payment_method, gift_card_paid, balance_due
         FROM orders WHERE id = ?1",
    )?
    .query_row([order], |r| {
        Ok(Owner {
            customer_id: r.get(0)?,
            session_id: r.get(1)?,
            status: r.get(2)?,
            total: r.get(3)?,
            discount_code: r.get(4)?,
            payment_method: r.get(5)?,
            gift_card_paid: r.get(6)?,
            balance_due: r.get(7)?,
        })
    })
    .optional()
}

/// The currency of order `order` (the default's when there is no such order).
pub fn currency_of(conn: &Connection, order: i64) -> rusqlite::Result<Currency> {
    let c: Option<String> = conn
        .prepare_cached("SELECT currency FROM orders WHERE id = ?1")?
        .query_row([order], |r| r.get(0))
        .optional()?;
    Ok(c.as_deref().and_then(Currency::parse).unwrap_or(Currency::USD))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    pub id: Id,
    pub status: OrderStatus,
    pub item_count: i64,
    pub total: Money,
    pub created_at: Timestamp,
}

/// The orders of a customer (or of a guest session), newest first, `before` an id.
pub fn list(
    conn: &Connection,
    customer: Option<i64>,
    session: i64,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<OrderSummary>> {
    let map = |r: &rusqlite::Row| {
        Ok(OrderSummary {
            id: Id(r.get(0)?),
            status: r.get(1)?,
            item_count: r.get(2)?,
            total: Money::new(r.get(3)?, Currency::parse(&r.get::<_, String>(5)?).unwrap_or(Currency::USD)),
            created_at: Timestamp(r.get(4)?),
        })
    };
    let before = before.unwrap_or(i64::MAX);
    let items = "(SELECT coalesce(sum(quantity), 0) FROM order_items WHERE order_id = o.id)";
    match customer {
        Some(c) => conn
            .prepare_cached(&format!(
                "SELECT o.id, o.status, {items}, o.total, o.created_at, o.currency FROM orders o INDEXED BY idx_orders_customer
                 WHERE o.customer_id = ?1 AND o.id < ?2 ORDER BY o.id DESC LIMIT ?3"
            ))?
            .query_map(params![c, before, limit], map)?
            .collect(),
        None => conn
            .prepare_cached(&format!(
                "SELECT o.id, o.status, {items}, o.total, o.created_at, o.currency FROM orders o INDEXED BY idx_orders_session
                 WHERE o.session_id = ?1 AND o.id < ?2 AND o.session_id IS NOT NULL ORDER BY o.id DESC LIMIT ?3"
            ))?
            .query_map(params![session, before, limit], map)?
            .collect(),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderItemOut {
    pub line: i64,
    pub product_id: Id,
    pub variant_id: Id,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: i64,
    /// units of this line shipped so far
    pub fulfilled: i64,
    /// units of this line refunded (by refunds that did not fail)
    pub refunded: i64,
    /// units of this line refunded before they shipped: back in stock, they will not ship
    /// (what is left to ship is `quantity - fulfilled - cancelled`)
    pub cancelled: i64,
    /// units of this line that may still be asked back in a return: shipped, not held by a
    /// return that was not rejected, not refunded after shipping (the return window is
    /// `return_window_days` from its delivery, or its shipment when none was reported)
    pub returnable: i64,
    pub line_total: Money,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryOut {
    pub status: OrderStatus,
    pub note: String,
    pub at: Timestamp,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderOut {
    pub id: Id,
    pub status: OrderStatus,
    pub email: String,
    pub items: Vec<OrderItemOut>,
    pub subtotal: Money,
    pub discount: Money,
    pub discount_code: Option<String>,
    pub shipping: Money,
    pub shipping_option: String,
    pub tax: Money,
    /// whether `tax` is part of the prices (an inclusive rate: the total does not add it)
    /// rather than added on top
    pub tax_included: bool,
    pub total: Money,
    /// null for orders from before addresses were recorded
    #[schema(value_type = Option<crate::customers::model::Address>)]
    pub shipping_address: serde_json::Value,
    /// an offline method or the payment provider's reference
    pub payment_method: String,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub status_history: Vec<HistoryOut>,
    /// the shipments, oldest first
    pub fulfillments: Vec<super::fulfillment::FulfillmentOut>,
    /// the refunds, oldest first
    pub refunds: Vec<super::refunds::RefundOut>,
    /// minor units refunded or being refunded (refunds that did not fail)
    pub refunded: Money,
    /// the returns the customer asked for, oldest first
    pub returns: Vec<super::returns::ReturnOut>,
    /// what gift cards paid of the total, by card
    pub gift_card_payments: Vec<crate::gift_cards::GiftCardPaymentOut>,
    /// what is left to pay by `payment_method`: the total less what gift cards paid
    pub amount_due: Money,
    /// what an edit that raised the total of a paid order left to pay (zero otherwise,
    /// and once paid)
    pub balance_due: Money,
    /// what the customer paid, gift cards included (zero until paid): refunds never add
    /// up to more
    pub captured: Money,
}

pub fn detail(conn: &Connection, order: i64) -> rusqlite::Result<Option<OrderOut>> {
    detail_in(conn, order, Parts::ALL)
}

/// What a database holds of orders: an archive file written by an older version may
/// predate shipments, refunds or returns.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub shipments: bool,
    pub refunds: bool,
    pub returns: bool,
    /// the gift cards' ledger (an archive file never holds it)
    pub gift_cards: bool,
    /// `orders.gift_card_paid` (an archive file written before version 15 has not)
    pub gift_card_paid: bool,
    /// `orders.balance_due` (an archive file written before version 16 has not)
    pub balance_due: bool,
    /// `orders.tax_included` (an archive file written before version 18 has not)
    pub tax_included: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        shipments: true,
        refunds: true,
        returns: true,
        gift_cards: true,
        gift_card_paid: true,
        balance_due: true,
        tax_included: true,
    };
}

/// [`detail`] from a database that may not hold every part of an order (see [`Parts`]).
pub fn detail_in(conn: &Connection, order: i64, parts: Parts) -> rusqlite::Result<Option<OrderOut>> {
    let head = conn
        .prepare_cached(&format!(
            "SELECT id, status, email, subtotal, discount, discount_code, shipping, shipping_option, tax, total,
                        shipping_address, payment_method, created_at, paid_at, expires_at, {}, {}, {}, currency
                 FROM orders WHERE id = ?1",
            if parts.gift_card_paid { "gift_card_paid" } else { "0" },
            if parts.balance_due {
                "balance_due, captured"
            } else {
                "0, CASE WHEN paid_at IS NULL THEN 0 ELSE total END"
            },
            if parts.tax_included { "tax_included" } else { "0" },
        ))?
        .query_row([order], |r| {
            let cur = Currency::parse(&r.get::<_, String>(19)?).unwrap_or(Currency::USD);
            let usd = |m: i64| Money::new(m, cur);
            let address: String = r.get(10)?;
            let status: OrderStatus = r.get(1)?;
            let expires: Option<i64> = r.get(14)?;
            Ok(OrderOut {
                id: Id(r.get(0)?),
                email: r.get(2)?,
                items: Vec::new(),
                subtotal: usd(r.get(3)?),
                discount: usd(r.get(4)?),
                discount_code: r.get(5)?,
                shipping: usd(r.get(6)?),
                shipping_option: r.get(7)?,
                tax: usd(r.get(8)?),
                tax_included: r.get(18)?,
                total: usd(r.get(9)?),
                // orders from before schema version 2 recorded no address: null
                shipping_address: serde_json::from_str(&address)
                    .ok()
                    .filter(|a: &serde_json::Value| a.as_object().is_some_and(|o| !o.is_empty()))
                    .unwrap_or(serde_json::Value::Null),
                payment_method: r.get(11)?,
                created_at: Timestamp(r.get(12)?),
                paid_at: r.get::<_, Option<i64>>(13)?.map(Timestamp),
                expires_at: expires.filter(|_| status == OrderStatus::Pending).map(Timestamp),
                status,
                status_history: Vec::new(),
                fulfillments: Vec::new(),
                refunds: Vec::new(),
                refunded: usd(0),
                returns: Vec::new(),
                gift_card_payments: Vec::new(),
                amount_due: usd(r.get::<_, i64>(9)? - r.get::<_, i64>(15)?),
                // a closed order owes nothing more
                balance_due: usd(if status.is_open_after_payment() { r.get(16)? } else { 0 }),
                captured: usd(r.get(17)?),
            })
        })
        .optional()?;
    let Some(mut o) = head else { return Ok(None) };
    let cur = o.total.currency;
    let usd = |m: i64| Money::new(m, cur);
    let fulfilled = if parts.shipments { "fulfilled" } else { "0" };
    let refunded = if parts.refunds { "refunded, cancelled" } else { "0, 0" };
    o.items = conn
        .prepare_cached(&format!(
            "SELECT line, product_id, variant_id, sku, name, unit_price, quantity, line_total, {fulfilled}, {refunded}
             FROM order_items WHERE order_id = ?1 ORDER BY line"
        ))?
        .query_map([order], |r| {
            Ok(OrderItemOut {
                line: r.get(0)?,
                product_id: Id(r.get(1)?),
                variant_id: Id(r.get(2)?),
                sku: r.get(3)?,
                name: r.get(4)?,
                unit_price: usd(r.get(5)?),
                quantity: r.get(6)?,
                line_total: usd(r.get(7)?),
                fulfilled: r.get(8)?,
                refunded: r.get(9)?,
                cancelled: r.get(10)?,
                returnable: 0,
            })
        })?
        .collect::<Result<_, _>>()?;
    o.status_history = conn
        .prepare_cached(
            "SELECT status, note, created_at FROM order_status_history INDEXED BY idx_order_status_history_order
             WHERE order_id = ?1 ORDER BY id",
        )?
        .query_map([order], |r| Ok(HistoryOut { status: r.get(0)?, note: r.get(1)?, at: Timestamp(r.get(2)?) }))?
        .collect::<Result<_, _>>()?;
    if parts.shipments {
        o.fulfillments = super::fulfillment::of_order(conn, order)?;
    }
    if parts.refunds {
        o.refunds = super::refunds::of_order(conn, order)?;
        o.refunded = usd(o
            .refunds
            .iter()
            .filter(|r| r.status != super::refunds::RefundStatus::Failed)
            .map(|r| r.amount.amount)
            .sum());
    }
    if parts.gift_cards && o.amount_due.amount < o.total.amount {
        o.gift_card_payments = crate::gift_cards::payments_of(conn, order)?;
    }
    if parts.returns {
        o.returns = super::returns::of_order(conn, order)?;
        // nothing shipped, nothing to return: no need to ask
        let shipped = o.items.iter().any(|i| i.fulfilled > 0);
        for r in if shipped { super::returns::returnable(conn, order)? } else { Vec::new() } {
            if let Some(i) = o.items.iter_mut().find(|i| i.line == r.line) {
                i.returnable = r.left;
            }
        }
    }
    Ok(Some(o))
}

/// Pending orders past their deadline (oldest first), at most `limit`.
pub fn expired(conn: &Connection, now: i64, limit: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT id FROM orders INDEXED BY idx_orders_expiry
         WHERE status = 'pending' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
    )?
    .query_map(params![now, limit], |r| r.get(0))?
    .collect()
}

// --- payment events ---------------------------------------------------------------------

pub fn payment_event(conn: &Connection, event: &str) -> rusqlite::Result<Option<(i64, String)>> {
    conn.prepare_cached("SELECT order_id, outcome FROM payment_events WHERE event_id = ?1")?
        .query_row([event], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub fn record_payment_event(tx: &WriteTx, event: &str, order: i64, outcome: &str, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO payment_events(event_id, order_id, outcome, received_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![event, order, outcome, now])?;
    Ok(())
}

pub fn set_payment_ref(tx: &WriteTx, order: i64, reference: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE orders SET payment_ref = ?2 WHERE id = ?1")?.execute(params![order, reference])?;
    Ok(())
}

/// Orders as the shop sees them, newest first, as one JSON array written by SQLite
/// (`GET /api/admin/orders`), from a keyset walk: `$walk` selects the page's orders.
macro_rules! admin_list_json {
    ($walk:literal) => {
        concat!(
            "SELECT coalesce(json_group_array(json_object('id', cast(o.id AS TEXT), 'status', o.status,
                    'customer_id', cast(o.customer_id AS TEXT), 'email', o.email, 'total', o.total,
                    'currency', o.currency, 'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', o.created_at / 1000.0, 'unixepoch'))), '[]')
             FROM (",
            $walk,
            ") o"
        )
    };
}

/// All orders below id ?1, ?2 of them: the primary key walked back. (A status as an optional
/// filter, `?1 IS NULL OR status = ?1`, can walk neither this nor the status index, and sorts
/// every order: one statement per shape.)
pub const ADMIN_LIST_JSON: &str = admin_list_json!("SELECT * FROM orders WHERE id < ?1 ORDER BY id DESC LIMIT ?2");

/// The orders of status ?1 below id ?2, ?3 of them: `idx_orders_status` walked back.
pub const ADMIN_LIST_BY_STATUS_JSON: &str =
    admin_list_json!("SELECT * FROM orders WHERE status = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
