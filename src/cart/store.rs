//! All SQL of carts, promotions, shipping and tax rates. A guest's cart belongs to its
//! session; a customer's cart to the customer (one open cart each, by unique index).

use rusqlite::{params, Connection, OptionalExtension};

use super::pricing::{Promotion, ShippingRate};
use crate::auth::Session;
use crate::db::writer::WriteTx;

/// What a customer pays for a variant now: its own price when it has one, else the
/// product's (sale price first), the same rule the product page shows.
pub const UNIT_PRICE: &str = "CASE WHEN v.base_price IS NOT NULL THEN coalesce(v.sale_price, v.base_price) \
     ELSE coalesce(p.sale_price, p.base_price) END";

/// A session's open cart: what is applied to it besides its lines.
#[derive(Debug, Clone)]
pub struct OpenCart {
    pub id: i64,
    pub discount_code: Option<String>,
    pub gift_card: Option<i64>,
}

/// The session's open cart, if it has one.
pub fn open_cart(conn: &Connection, s: &Session) -> rusqlite::Result<Option<OpenCart>> {
    let map = |r: &rusqlite::Row| Ok(OpenCart { id: r.get(0)?, discount_code: r.get(1)?, gift_card: r.get(2)? });
    match s.customer_id {
        Some(c) => conn
            .prepare_cached(
                "SELECT id, discount_code, gift_card_id FROM carts INDEXED BY idx_carts_customer
                 WHERE customer_id = ?1 AND status = 'open' AND customer_id IS NOT NULL",
            )?
            .query_row([c], map)
            .optional(),
        None => conn
            .prepare_cached(
                "SELECT id, discount_code, gift_card_id FROM carts INDEXED BY idx_carts_session
                 WHERE session_id = ?1 AND status = 'open' AND customer_id IS NULL",
            )?
            .query_row([s.id], map)
            .optional(),
    }
}

/// The session's open cart, created when it has none.
pub fn ensure_cart(tx: &WriteTx, s: &Session, now: i64) -> rusqlite::Result<i64> {
    if let Some(cart) = open_cart(tx, s)? {
        return Ok(cart.id);
    }
    tx.prepare_cached("INSERT INTO carts(session_id, customer_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)")?
        .execute(params![s.id, s.customer_id, now])?;
    Ok(tx.last_insert_rowid())
}

/// At login: the guest session's cart becomes the customer's, or is merged into the one
/// the customer already has (quantities added, capped at a line's maximum).
pub fn adopt_guest_cart(
    tx: &WriteTx,
    guest_session: i64,
    customer: i64,
    max_lines: usize,
    now: i64,
) -> rusqlite::Result<()> {
    let guest: Option<(i64, Option<String>)> = tx
        .prepare_cached(
            "SELECT id, discount_code FROM carts INDEXED BY idx_carts_session
             WHERE session_id = ?1 AND status = 'open' AND customer_id IS NULL",
        )?
        .query_row([guest_session], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((guest_cart, guest_code)) = guest else { return Ok(()) };
    let own: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM carts INDEXED BY idx_carts_customer
             WHERE customer_id = ?1 AND status = 'open' AND customer_id IS NOT NULL",
        )?
        .query_row([customer], |r| r.get(0))
        .optional()?;
    match own {
        None => {
            tx.prepare_cached("UPDATE carts SET customer_id = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![guest_cart, customer, now])?;
        }
        Some(own) => {
            // lines of both: quantities add up (to the line's bound)
            tx.prepare_cached(
                "UPDATE cart_items AS o SET quantity = min(1000, o.quantity + g.quantity)
                 FROM cart_items AS g WHERE o.cart_id = ?2 AND g.cart_id = ?1 AND g.variant_id = o.variant_id",
            )?
            .execute(params![guest_cart, own])?;
            // the guest's other lines join while the cart has room (its oldest first)
            let room = (max_lines as i64 - line_count(tx, own)?).max(0);
            tx.prepare_cached(
                "INSERT INTO cart_items(cart_id, variant_id, quantity, added_at)
                 SELECT ?2, g.variant_id, g.quantity, g.added_at FROM cart_items AS g
                 WHERE g.cart_id = ?1
                   AND NOT EXISTS (SELECT 1 FROM cart_items o WHERE o.cart_id = ?2 AND o.variant_id = g.variant_id)
                 ORDER BY g.added_at, g.id LIMIT ?3",
            )?
            .execute(params![guest_cart, own, room])?;
            tx.prepare_cached(
                "UPDATE carts SET discount_code = coalesce(discount_code, ?2),
                        gift_card_id = coalesce(gift_card_id, (SELECT gift_card_id FROM carts WHERE id = ?4)),
                        updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![own, guest_code, now, guest_cart])?;
            tx.prepare_cached("UPDATE carts SET status = 'merged', updated_at = ?2 WHERE id = ?1")?
                .execute(params![guest_cart, now])?;
        }
    }
    Ok(())
}

/// One line of a cart, with what pricing and stock checks need.
#[derive(Debug, Clone)]
pub struct Line {
    pub item_id: i64,
    pub variant_id: i64,
    pub quantity: i64,
    pub product_id: i64,
    pub product_name: String,
    pub slug: String,
    pub sku: String,
    pub variant_name: String,
    pub unit_price: i64,
    pub weight_grams: i64,
    pub available: i64,
    /// the product can still be bought (active)
    pub active: bool,
    pub thumbnail: Option<String>,
}

impl Line {
    /// The name an order's line keeps: see [`item_name`].
    pub fn item_name(&self) -> String {
        item_name(&self.product_name, &self.variant_name)
    }
}

/// The name of a product's variant on an order: "Product (Variant)", or the product's
/// name alone for its only, unnamed ("Default") variant.
pub fn item_name(product: &str, variant: &str) -> String {
    if variant.is_empty() || variant == "Default" {
        product.to_owned()
    } else {
        format!("{product} ({variant})")
    }
}

/// The currency a cart was last asked in (none: the default).
pub fn currency_of(conn: &Connection, cart: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT currency FROM carts WHERE id = ?1")?.query_row([cart], |r| r.get(0))
}

/// Sets the currency of a cart (none: the default).
pub fn set_currency(tx: &WriteTx, cart: i64, currency: Option<&str>, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE carts SET currency = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![cart, currency, now])?;
    Ok(())
}

/// Columns of a [`Line`] after its item id, variant and quantity: its unit price in
/// `market` (none: the variant's own price, else its product's).
fn line_columns(market: Option<&crate::catalog::prices::Market>) -> String {
    let unit = match market {
        None => UNIT_PRICE.to_owned(),
        Some(m) => m.sql("p", Some("v")).1,
    };
    format!(
        "p.id, p.name, p.slug, v.sku, v.name, {unit}, p.weight_grams, coalesce(i.available, 0),
         p.status = 'active',
         (SELECT thumbnail_url FROM product_images WHERE product_id = p.id ORDER BY position LIMIT 1)"
    )
}

fn line(r: &rusqlite::Row) -> rusqlite::Result<Line> {
    Ok(Line {
        item_id: r.get(0)?,
        variant_id: r.get(1)?,
        quantity: r.get(2)?,
        product_id: r.get(3)?,
        product_name: r.get(4)?,
        slug: r.get(5)?,
        sku: r.get(6)?,
        variant_name: r.get(7)?,
        unit_price: r.get(8)?,
        weight_grams: r.get(9)?,
        available: r.get(10)?,
        active: r.get(11)?,
        thumbnail: r.get(12)?,
    })
}

pub fn lines(
    conn: &Connection,
    cart: i64,
    market: Option<&crate::catalog::prices::Market>,
) -> rusqlite::Result<Vec<Line>> {
    conn.prepare_cached(&format!(
        "SELECT ci.id, ci.variant_id, ci.quantity, {}
         FROM cart_items ci
         JOIN variants v ON v.id = ci.variant_id
         JOIN products p ON p.id = v.product_id
         LEFT JOIN inventory i ON i.variant_id = v.id
         WHERE ci.cart_id = ?1
         ORDER BY ci.id",
        line_columns(market)
    ))?
    .query_map([cart], line)?
    .collect()
}

/// A line of `quantity` of a variant that is in no cart (buy now).
pub fn variant_line(
    conn: &Connection,
    variant: i64,
    quantity: i64,
    market: Option<&crate::catalog::prices::Market>,
) -> rusqlite::Result<Option<Line>> {
    conn.prepare_cached(&format!(
        "SELECT 0, v.id, ?2, {}
         FROM variants v JOIN products p ON p.id = v.product_id LEFT JOIN inventory i ON i.variant_id = v.id
         WHERE v.id = ?1",
        line_columns(market)
    ))?
    .query_row(params![variant, quantity], line)
    .optional()
}

/// A variant as a cart sees it: its product, whether it is on sale and its stock.
pub struct Sellable {
    pub variant_id: i64,
    pub product_id: i64,
    pub active: bool,
    pub available: i64,
}

fn sellable(r: &rusqlite::Row) -> rusqlite::Result<Sellable> {
    Ok(Sellable { variant_id: r.get(0)?, product_id: r.get(1)?, active: r.get(2)?, available: r.get(3)? })
}

pub fn variant(conn: &Connection, variant: i64) -> rusqlite::Result<Option<Sellable>> {
    conn.prepare_cached(
        "SELECT v.id, p.id, p.status = 'active', coalesce(i.available, 0)
         FROM variants v JOIN products p ON p.id = v.product_id LEFT JOIN inventory i ON i.variant_id = v.id
         WHERE v.id = ?1",
    )?
    .query_row([variant], sellable)
    .optional()
}

/// The variant a `product_id` stands for: the first (by position) with stock for
/// `quantity`, else the first.
pub fn default_variant(conn: &Connection, product: i64, quantity: i64) -> rusqlite::Result<Option<Sellable>> {
    conn.prepare_cached(
        "SELECT v.id, p.id, p.status = 'active', coalesce(i.available, 0)
         FROM variants v JOIN products p ON p.id = v.product_id LEFT JOIN inventory i ON i.variant_id = v.id
         WHERE v.product_id = ?1
         ORDER BY coalesce(i.available, 0) >= ?2 DESC, v.position, v.id LIMIT 1",
    )?
    .query_row(params![product, quantity], sellable)
    .optional()
}

pub fn item_quantity(conn: &Connection, cart: i64, variant: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(sum(quantity), 0) FROM cart_items WHERE cart_id = ?1 AND variant_id = ?2")?
        .query_row(params![cart, variant], |r| r.get(0))
}

/// Carts untouched since `before` that nobody comes back to: guests' carts, and carts
/// merged or ordered (a customer's open cart stays), at most `limit`. Orders keep their
/// own lines.
pub fn purge(tx: &WriteTx, before: i64, limit: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM carts WHERE id IN (
             SELECT id FROM carts WHERE updated_at < ?1 AND (customer_id IS NULL OR status <> 'open') LIMIT ?2)",
    )?
    .execute(params![before, limit])
}

/// How many lines cart `cart` has.
pub fn line_count(conn: &Connection, cart: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT count(*) FROM cart_items WHERE cart_id = ?1")?.query_row([cart], |r| r.get(0))
}

pub fn add_item(tx: &WriteTx, cart: i64, variant: i64, quantity: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO cart_items(cart_id, variant_id, quantity, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(cart_id, variant_id) DO UPDATE SET quantity = quantity + excluded.quantity",
    )?
    .execute(params![cart, variant, quantity, now])?;
    touch(tx, cart, now)
}

/// The variant of an item of this cart.
pub fn item_variant(conn: &Connection, cart: i64, item: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT variant_id FROM cart_items WHERE id = ?1 AND cart_id = ?2")?
        .query_row(params![item, cart], |r| r.get(0))
        .optional()
}

pub fn set_quantity(tx: &WriteTx, cart: i64, item: i64, quantity: i64, now: i64) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached("UPDATE cart_items SET quantity = ?3 WHERE id = ?1 AND cart_id = ?2")?
        .execute(params![item, cart, quantity])?;
    touch(tx, cart, now)?;
    Ok(n == 1)
}

pub fn remove_item(tx: &WriteTx, cart: i64, item: i64, now: i64) -> rusqlite::Result<bool> {
    let n = tx.prepare_cached("DELETE FROM cart_items WHERE id = ?1 AND cart_id = ?2")?.execute(params![item, cart])?;
    touch(tx, cart, now)?;
    Ok(n == 1)
}

pub fn set_discount(tx: &WriteTx, cart: i64, code: Option<&str>, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE carts SET discount_code = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![cart, code, now])?;
    Ok(())
}

pub fn set_gift_card(tx: &WriteTx, cart: i64, card: Option<i64>, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE carts SET gift_card_id = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![cart, card, now])?;
    Ok(())
}

fn touch(tx: &WriteTx, cart: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE carts SET updated_at = ?2 WHERE id = ?1")?.execute(params![cart, now])?;
    Ok(())
}

/// A cart becomes an order: it is closed and can never become another.
pub fn mark_ordered(tx: &WriteTx, cart: i64, now: i64) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached("UPDATE carts SET status = 'ordered', updated_at = ?2 WHERE id = ?1 AND status = 'open'")?
        .execute(params![cart, now])?
        == 1)
}

pub fn promotion(conn: &Connection, code: &str) -> rusqlite::Result<Option<Promotion>> {
    conn.prepare_cached(
        "SELECT code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, times_used, active, value_in,
                min_subtotal_in
         FROM promotions WHERE code = ?1",
    )?
    .query_row([code], |r| {
        Ok(Promotion {
            code: r.get(0)?,
            kind: r.get(1)?,
            value: r.get(2)?,
            min_subtotal: r.get(3)?,
            starts_at: r.get(4)?,
            ends_at: r.get(5)?,
            usage_limit: r.get(6)?,
            times_used: r.get(7)?,
            active: r.get(8)?,
            value_in: r.get(9)?,
            min_subtotal_in: r.get(10)?,
        })
    })
    .optional()
}

/// Counts one use of a code, if it has uses left (the CHECK on `times_used` is the
/// backstop): false when it was used up meanwhile.
pub fn use_promotion(tx: &WriteTx, code: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached(
            "UPDATE promotions SET times_used = times_used + 1
             WHERE code = ?1 AND (usage_limit IS NULL OR times_used < usage_limit)",
        )?
        .execute([code])?
        == 1)
}

pub fn release_promotion(tx: &WriteTx, code: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE promotions SET times_used = times_used - 1 WHERE code = ?1 AND times_used > 0")?
        .execute([code])?;
    Ok(())
}

/// Rates for `country` and the catch-all ones, with the country each is for.
pub fn shipping_rates(conn: &Connection, country: &str) -> rusqlite::Result<Vec<(String, ShippingRate)>> {
    conn.prepare_cached(
        "SELECT country, code, name, min_subtotal, max_subtotal, max_weight_grams, price, free_above, price_in,
                free_above_in
         FROM shipping_rates WHERE country IN (?1, '*') ORDER BY price, id",
    )?
    .query_map([country], |r| {
        Ok((
            r.get(0)?,
            ShippingRate {
                code: r.get(1)?,
                name: r.get(2)?,
                min_subtotal: r.get(3)?,
                max_subtotal: r.get(4)?,
                max_weight_grams: r.get(5)?,
                price: r.get(6)?,
                free_above: r.get(7)?,
                price_in: r.get(8)?,
                free_above_in: r.get(9)?,
            },
        ))
    })?
    .collect()
}

/// The tax rate of a destination: the region's when it has one, else the country's, else
/// none.
pub fn tax_rate(conn: &Connection, country: &str, region: &str) -> rusqlite::Result<super::pricing::TaxRate> {
    Ok(conn
        .prepare_cached(
            "SELECT rate_bp, inclusive FROM tax_rates WHERE country = ?1 AND region IN (?2, '')
             ORDER BY region = ?2 DESC LIMIT 1",
        )?
        .query_row(params![country, region], |r| Ok(super::pricing::TaxRate { bp: r.get(0)?, inclusive: r.get(1)? }))
        .optional()?
        .unwrap_or_default())
}
