//! Draft orders: an order the owner builds for a customer or an e-mail address (taken on
//! the phone, agreed by mail), priced as checkout prices a cart, and completed into an
//! order that awaits payment behind a payment link, or is paid.
//!
//! Invariants:
//! - A draft holds no stock and no use of its discount code: it is lines, an address and a
//!   code. What it costs is computed whenever it is read, with the same
//!   [`crate::cart::price`] as checkout, so the draft shows what completing it would
//!   charge now.
//! - A line may carry its own unit price (when the `draft_custom_prices` setting allows);
//!   the others are priced as they sell when read and when completed. A gift card is sold
//!   at its price only (the card it issues is worth that).
//! - Completing is ONE writer unit ([`complete`]): the lines priced, every unit reserved
//!   (409 `out_of_stock` naming each short line, and nothing changes), the order with its
//!   lines and first history row, the code's use, the customer's mail, `order.placed`, and,
//!   when paid, the payment as the payment webhook records it (stock sold, `order.paid`,
//!   cards bought issued). A draft completes once: the writer runs two completions one
//!   after the other and the second is 409 `draft_completed`.
//! - An order awaiting payment gets a payment link: a random key of which only the hash is
//!   kept (on the draft). It opens the order's page and `GET /api/orders/{id}?key=`
//!   without a session; it is shown once, in the completion's answer and in the
//!   customer's mail (sealed until sent).

use axum::http::StatusCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::checkout::{PlaceError, ShortLine};
use super::lifecycle::{self, Event, OrderStatus};
use super::store::{self, NewOrder};
use crate::app::Effects;
use crate::cart::{self, Destination};
use crate::catalog::prices::Market;
use crate::db::writer::WriteTx;
use crate::domain::{Currency, Id, Money, Timestamp};
use crate::error::ApiError;

/// The most lines a draft holds.
pub const MAX_LINES: usize = 100;
/// The highest unit price a line may be given (minor units).
pub const MAX_UNIT_PRICE: i64 = 100_000_000;

/// A line as a draft keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftLine {
    pub variant_id: i64,
    pub quantity: i64,
    /// the owner's price for one unit; absent: the price it sells at
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<i64>,
}

/// A draft as stored.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub email: String,
    pub lines: Vec<DraftLine>,
    /// JSON of a validated [`crate::customers::model::Address`]
    pub shipping_address: String,
    pub shipping_option: Option<String>,
    pub discount_code: Option<String>,
    pub payment_method: String,
    pub note: String,
    pub order_id: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// the currency it is priced in (none: the default), as a cart's
    pub currency: Option<String>,
}

impl Draft {
    pub fn is_open(&self) -> bool {
        self.completed_at.is_none()
    }
}

const COLUMNS: &str = "id, customer_id, email, lines, shipping_address, shipping_option, discount_code,
     payment_method, note, order_id, completed_at, created_by, created_at, updated_at, currency";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Draft> {
    let lines: String = r.get(3)?;
    Ok(Draft {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        email: r.get(2)?,
        lines: serde_json::from_str(&lines).unwrap_or_default(),
        shipping_address: r.get(4)?,
        shipping_option: r.get(5)?,
        discount_code: r.get(6)?,
        payment_method: r.get(7)?,
        note: r.get(8)?,
        order_id: r.get(9)?,
        completed_at: r.get(10)?,
        created_by: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        currency: r.get(14)?,
    })
}

pub fn load(conn: &Connection, id: i64) -> rusqlite::Result<Option<Draft>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM draft_orders WHERE id = ?1"))?.query_row([id], row).optional()
}

/// Drafts with ids below `before`, newest first; `open`: only those not completed (or only
/// those completed).
pub fn list(conn: &Connection, open: Option<bool>, before: i64, limit: i64) -> rusqlite::Result<Vec<Draft>> {
    match open {
        None => conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM draft_orders WHERE id < ?1 ORDER BY id DESC LIMIT ?2"))?
            .query_map(params![before, limit], row)?
            .collect(),
        Some(open) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM draft_orders WHERE status = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
            ))?
            .query_map(params![if open { "open" } else { "completed" }, before, limit], row)?
            .collect(),
    }
}

/// Writes a new draft (`d.id` is ignored); its id.
pub fn insert(tx: &WriteTx, d: &Draft) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO draft_orders(customer_id, email, lines, shipping_address, shipping_option, discount_code,
                                  payment_method, note, created_by, created_at, updated_at, currency)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
    )?
    .execute(params![
        d.customer_id,
        d.email,
        serde_json::to_string(&d.lines).expect("lines serialize"),
        d.shipping_address,
        d.shipping_option,
        d.discount_code,
        d.payment_method,
        d.note,
        d.created_by,
        d.created_at,
        d.currency,
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Writes an open draft's fields as `d` holds them.
pub fn save(tx: &WriteTx, d: &Draft) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE draft_orders SET customer_id = ?2, email = ?3, lines = ?4, shipping_address = ?5,
                shipping_option = ?6, discount_code = ?7, payment_method = ?8, note = ?9, updated_at = ?10,
                currency = ?11
         WHERE id = ?1 AND status = 'open'",
    )?
    .execute(params![
        d.id,
        d.customer_id,
        d.email,
        serde_json::to_string(&d.lines).expect("lines serialize"),
        d.shipping_address,
        d.shipping_option,
        d.discount_code,
        d.payment_method,
        d.note,
        d.updated_at,
        d.currency,
    ])?;
    Ok(())
}

/// Deletes an open draft; whether it did.
pub fn delete(tx: &WriteTx, id: i64) -> rusqlite::Result<bool> {
    Ok(tx.prepare_cached("DELETE FROM draft_orders WHERE id = ?1 AND status = 'open'")?.execute([id])? == 1)
}

/// Does `key` open `order` (the payment link of the draft it came from)?
pub fn key_opens(conn: &Connection, order: i64, key: &str) -> rusqlite::Result<bool> {
    let hash = crate::auth::token_hash(key);
    conn.prepare_cached("SELECT 1 FROM draft_orders WHERE order_id = ?1 AND pay_key_hash = ?2")?
        .query_row(params![order, &hash[..]], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// A line of a draft as it reads now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftLineOut {
    pub variant_id: Id,
    /// null when the variant no longer exists
    pub product_id: Option<Id>,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    /// what one unit costs on this draft: the owner's price, or the price it sells at now
    pub unit_price: Money,
    /// the price it sells at now
    pub list_price: Money,
    /// the owner set `unit_price`
    pub custom_price: bool,
    pub line_total: Money,
    /// units on sale now (completing reserves `quantity` of them)
    pub available: i64,
    /// still for sale (a retired product cannot be ordered)
    pub for_sale: bool,
}

/// A draft order, priced now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftOut {
    pub id: Id,
    /// `open`, or `completed` (it became `order_id`)
    #[schema(example = "open")]
    pub status: &'static str,
    pub customer_id: Option<Id>,
    /// where the order's mail goes (the customer's address when `customer_id` is set)
    pub email: String,
    pub lines: Vec<DraftLineOut>,
    #[schema(value_type = crate::customers::model::Address)]
    pub shipping_address: serde_json::Value,
    /// the option chosen; null: the cheapest
    pub shipping_option: Option<String>,
    /// the options for the address and these lines, cheapest first
    pub shipping_options: Vec<crate::cart::pricing::ShippingOption>,
    pub discount_code: Option<String>,
    /// why the code does not apply now (completing is refused until it does or is removed)
    pub discount_problem: Option<String>,
    pub payment_method: String,
    pub note: String,
    /// the currency of every amount (one of the shop's; the order will be in it)
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub tax: Money,
    /// whether `tax` is part of the prices (an inclusive rate) rather than added on top
    pub tax_included: bool,
    pub total: Money,
    /// what stands in the way of completing it now, each with its field (empty: it can be
    /// completed, stock permitting)
    pub problems: Vec<DraftProblem>,
    pub order_id: Option<Id>,
    /// where the order it became stands now (`pending`: it awaits payment, and a new
    /// payment link can be sent)
    pub order_status: Option<OrderStatus>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DraftProblem {
    pub field: String,
    pub message: String,
}

/// The market a draft is priced in: its currency, for its customer's groups, now (none:
/// the products' own prices).
fn market_of(conn: &Connection, d: &Draft, setting: &str, now: i64) -> rusqlite::Result<Option<Market>> {
    crate::catalog::prices::for_shopper(conn, setting, d.currency.as_deref(), d.customer_id, now)
}

/// A draft's lines as checkout would price them, with what stands in the way.
struct Lines {
    lines: Vec<cart::store::Line>,
    /// per line: the price it sells at, custom or not, a gift card
    list_prices: Vec<(i64, bool)>,
    problems: Vec<DraftProblem>,
}

/// The lines of `d` priced (`custom_prices`: the owner's unit prices stand).
fn lines_of(conn: &Connection, d: &Draft, custom_prices: bool, market: Option<&Market>) -> rusqlite::Result<Lines> {
    let mut out = Lines { lines: Vec::new(), list_prices: Vec::new(), problems: Vec::new() };
    for (i, l) in d.lines.iter().enumerate() {
        let field = format!("lines[{i}].variant_id");
        let Some(mut line) = cart::store::variant_line(conn, l.variant_id, l.quantity, market)? else {
            out.problems.push(DraftProblem { field, message: format!("no variant {} any more", l.variant_id) });
            continue;
        };
        if !line.active {
            out.problems.push(DraftProblem { field, message: format!("{} is not for sale", line.sku) });
        }
        let list = line.unit_price;
        if let Some(p) = l.unit_price {
            if !custom_prices {
                out.problems.push(DraftProblem {
                    field: format!("lines[{i}].unit_price"),
                    message: "custom prices are turned off (draft_custom_prices)".into(),
                });
            }
            line.unit_price = p;
        }
        out.list_prices.push((list, l.unit_price.is_some()));
        out.lines.push(line);
    }
    Ok(out)
}

fn destination(address: &serde_json::Value) -> Option<Destination> {
    let text = |k: &str| address.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let country = crate::domain::Country::parse(&text("country")).ok()?;
    Some(Destination { country, region: text("state") })
}

/// The draft as it reads now: priced, with what stands in the way of completing it.
pub fn out(conn: &Connection, d: &Draft, custom_prices: bool, setting: &str, now: i64) -> rusqlite::Result<DraftOut> {
    let address: serde_json::Value = serde_json::from_str(&d.shipping_address).unwrap_or_default();
    let market = market_of(conn, d, setting, now)?;
    let currency = crate::catalog::prices::currency_of(market.as_ref(), crate::domain::currencies::default_of(setting));
    let usd = |m: i64| Money::new(m, currency);
    let Lines { lines, list_prices, mut problems } = lines_of(conn, d, custom_prices, market.as_ref())?;
    let dest = destination(&address);
    let (code, option) = (d.discount_code.as_deref(), d.shipping_option.as_deref());
    let priced = cart::price(conn, lines, code, dest.as_ref(), option, now, market.as_ref(), currency)?;
    if priced.shipping.is_none() {
        let message = match &d.shipping_option {
            Some(_) if !priced.options.is_empty() => format!(
                "choose one of: {}",
                priced.options.iter().map(|o| o.code.as_str()).collect::<Vec<_>>().join(", ")
            ),
            _ => "the shop does not ship to this country".to_owned(),
        };
        let field = if d.shipping_option.is_some() { "shipping_option" } else { "shipping_address.country" };
        problems.push(DraftProblem { field: field.into(), message });
    }
    if let Some(why) = &priced.discount_problem {
        problems.push(DraftProblem { field: "discount_code".into(), message: why.clone() });
    }
    let t = &priced.totals;
    let lines = priced
        .lines
        .iter()
        .zip(&list_prices)
        .map(|(l, (list, custom))| DraftLineOut {
            variant_id: Id(l.variant_id),
            product_id: Some(Id(l.product_id)),
            sku: l.sku.clone(),
            name: l.item_name(),
            quantity: l.quantity,
            unit_price: usd(l.unit_price),
            list_price: usd(*list),
            custom_price: *custom,
            line_total: usd(l.unit_price * l.quantity),
            available: l.available,
            for_sale: l.active,
        })
        .collect();
    Ok(DraftOut {
        id: Id(d.id),
        status: if d.is_open() { "open" } else { "completed" },
        customer_id: d.customer_id.map(Id),
        email: d.email.clone(),
        lines,
        shipping_address: address,
        shipping_option: d.shipping_option.clone(),
        shipping_options: priced.options.clone(),
        discount_code: d.discount_code.clone(),
        discount_problem: priced.discount_problem.clone(),
        payment_method: d.payment_method.clone(),
        note: d.note.clone(),
        currency,
        subtotal: usd(t.subtotal),
        discount: usd(t.discount),
        shipping: usd(t.shipping),
        tax: usd(t.tax),
        tax_included: t.tax_included,
        total: usd(t.total),
        problems: if d.is_open() { problems } else { Vec::new() },
        order_id: d.order_id.map(Id),
        order_status: match d.order_id {
            Some(order) => lifecycle::status(conn, order)?,
            None => None,
        },
        created_at: Timestamp(d.created_at),
        updated_at: Timestamp(d.updated_at),
        completed_at: d.completed_at.map(Timestamp),
    })
}

/// Why a draft did not complete (the unit changes nothing).
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    #[error("no such draft order")]
    NotFound,
    /// it became this order (none: the order was archived since)
    #[error("this draft was completed")]
    Completed(Option<i64>),
    /// what stands in the way, by field
    #[error("the draft cannot be completed as it is")]
    Problems(Vec<DraftProblem>),
    /// a payment link is for the order a draft became
    #[error("this draft is not an order yet: complete it first")]
    Open,
    #[error(transparent)]
    Place(#[from] PlaceError),
    #[error(transparent)]
    Transition(#[from] lifecycle::TransitionError),
}

impl From<rusqlite::Error> for CompleteError {
    fn from(e: rusqlite::Error) -> Self {
        CompleteError::Place(e.into())
    }
}

impl From<CompleteError> for ApiError {
    fn from(e: CompleteError) -> ApiError {
        match e {
            CompleteError::NotFound => ApiError::not_found("draft order"),
            CompleteError::Completed(Some(order)) => {
                ApiError::new(StatusCode::CONFLICT, "draft_completed", format!("this draft became order {order}"))
                    .with_detail("order_id", order.to_string())
            }
            CompleteError::Completed(None) => {
                ApiError::new(StatusCode::CONFLICT, "draft_completed", "this draft was completed")
            }
            CompleteError::Problems(problems) => {
                let mut checks = crate::http::Checks::new();
                for p in problems {
                    checks.error(&p.field, p.message);
                }
                checks.finish().expect_err("a problem was recorded")
            }
            CompleteError::Open => ApiError::new(StatusCode::CONFLICT, "draft_open", e.to_string()),
            CompleteError::Place(e) => e.into(),
            CompleteError::Transition(e) => e.into(),
        }
    }
}

/// How a draft is completed.
#[derive(Debug, Clone)]
pub struct Completion {
    /// the payment is recorded now (else the order awaits it behind a payment link)
    pub paid: bool,
    /// how long an unpaid order holds its stock
    pub hold_ms: i64,
    /// the owner's unit prices stand (the `draft_custom_prices` setting)
    pub custom_prices: bool,
    /// where the shop is reached (`https://shop.example`): the payment link's start
    pub origin: String,
}

/// A completed draft: its order, and the payment link of one that awaits payment.
#[derive(Debug)]
pub struct Completed {
    pub order: i64,
    pub payment_url: Option<String>,
}

/// Completes draft `id` into an order in the writer unit `tx` (see the module's
/// invariants).
pub fn complete(tx: &WriteTx, id: i64, how: &Completion, now: i64, fx: Effects) -> Result<Completed, CompleteError> {
    let d = load(tx, id)?.ok_or(CompleteError::NotFound)?;
    if !d.is_open() {
        return Err(CompleteError::Completed(d.order_id));
    }
    // its mail goes to the customer, in their language (a new e-mail's: the shop's default)
    let (email, locale) = match d.customer_id {
        Some(c) => match crate::customers::store::customer(tx, c)? {
            Some(c) => (c.email, c.locale),
            None => {
                let message = format!("no customer {c} any more");
                return Err(CompleteError::Problems(vec![DraftProblem { field: "customer_id".into(), message }]));
            }
        },
        None => (d.email.clone(), None),
    };
    // a currency the shop no longer sells in: the draft waits for the owner to choose one
    if let Some(c) = d.currency.as_deref().filter(|c| crate::domain::currencies::find(&fx.currencies, c).is_none()) {
        let message = format!("the shop no longer sells in {c}");
        return Err(CompleteError::Problems(vec![DraftProblem { field: "currency".into(), message }]));
    }
    let market = market_of(tx, &d, &fx.currencies, now)?;
    let currency =
        crate::catalog::prices::currency_of(market.as_ref(), crate::domain::currencies::default_of(&fx.currencies));
    let Lines { lines, problems, .. } = lines_of(tx, &d, how.custom_prices, market.as_ref())?;
    if !problems.is_empty() {
        return Err(CompleteError::Problems(problems));
    }
    if lines.is_empty() {
        let message = "add at least one line".to_owned();
        return Err(CompleteError::Problems(vec![DraftProblem { field: "lines".into(), message }]));
    }
    // every unit, reserved: short lines are named and the savepoint undoes the rest
    let mut short = Vec::new();
    for l in &lines {
        let left =
            crate::catalog::tags::stock_move(tx, l.product_id, || store::reserve(tx, l.variant_id, l.quantity, now))?;
        match left {
            Some(left) => crate::webhooks::stock_fell(tx, l.variant_id, left + l.quantity, left, fx.low_stock, now)?,
            None => short.push(ShortLine {
                product_id: Id(l.product_id),
                variant_id: Id(l.variant_id),
                sku: l.sku.clone(),
                requested: l.quantity,
            }),
        }
    }
    if !short.is_empty() {
        return Err(PlaceError::OutOfStock(short).into());
    }
    let address: serde_json::Value = serde_json::from_str(&d.shipping_address).unwrap_or_default();
    let dest = destination(&address);
    let (code, option) = (d.discount_code.as_deref(), d.shipping_option.as_deref());
    let priced = cart::price(tx, lines, code, dest.as_ref(), option, now, market.as_ref(), currency)?;
    if let Some(why) = &priced.discount_problem {
        return Err(PlaceError::InvalidDiscount(why.clone()).into());
    }
    let Some(shipping) = priced.shipping.clone() else {
        return Err(PlaceError::NoShipping {
            chosen: d.shipping_option.is_some(),
            options: priced.options.iter().map(|o| o.code.clone()).collect(),
        }
        .into());
    };
    if let Some(code) = &priced.discount_code {
        if !cart::store::use_promotion(tx, code)? {
            return Err(PlaceError::InvalidDiscount("this code has been used up".into()).into());
        }
    }
    let t = priced.totals;
    let order = store::insert_order(
        tx,
        &NewOrder {
            customer_id: d.customer_id,
            session_id: None,
            cart_id: None,
            email: &email,
            shipping_address: &d.shipping_address,
            shipping_option: &shipping.code,
            payment_method: &d.payment_method,
            discount_code: priced.discount_code.as_deref(),
            subtotal: t.subtotal,
            discount: t.discount,
            shipping: t.shipping,
            tax: t.tax,
            tax_included: t.tax_included,
            total: t.total,
            now,
            expires_at: now + how.hold_ms,
            client_addr: "",
            gift_card_paid: 0,
            currency: currency.as_str(),
            locale: locale.as_deref(),
        },
    )?;
    store::insert_lines(tx, order, &priced.lines)?;
    store::add_history(
        tx,
        order,
        OrderStatus::Pending.as_str(),
        &format!("created by the shop from draft order {id}"),
        now,
    )?;
    // the payment link: its key is said once (here and in the mail), only its hash is kept
    let link = (!how.paid).then(|| {
        let (key, hash) = crate::auth::new_token();
        (format!("{}/orders/{order}?key={key}", how.origin.trim_end_matches('/')), hash)
    });
    if !email.is_empty() {
        use crate::mail::words::{say, W};
        let lang = fx.lang(locale.as_deref());
        let total = lang.amount(t.total, currency.as_str());
        let mut body = say(lang, W::DraftBody, &[("order", &order), ("total", &total)]);
        match &link {
            Some((url, _)) => {
                let until = crate::util::rfc3339(now + how.hold_ms).get(..16).unwrap_or_default().replace('T', " ");
                body.push_str(&say(lang, W::DraftPayLink, &[("amount", &total), ("url", url), ("until", &until)]));
            }
            None => body.push_str(&say(lang, W::DraftPaid, &[])),
        }
        // the link opens the order without a password: sealed until sent, then not kept
        // (crate::mail::SECRET_KINDS)
        let (kind, body) = match &link {
            Some(_) => ("payment_link", fx.secrets.seal(body.as_bytes())),
            None => ("order_confirmation", body),
        };
        let subject = say(lang, W::ConfirmSubject, &[("order", &order)]);
        crate::mail::enqueue(tx, fx.mail, kind, &email, &subject, &body, now)?;
    }
    crate::webhooks::emit_order(tx, "order.placed", order, now)?;
    if how.paid {
        lifecycle::apply(tx, order, Event::Pay, Some("payment recorded by the shop"), now, fx)?;
    }
    tx.prepare_cached(
        "UPDATE draft_orders SET status = 'completed', order_id = ?2, completed_at = ?3, updated_at = ?3,
                pay_key_hash = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, order, now, link.as_ref().map(|(_, h)| &h[..])])?;
    tracing::info!(order.id = order, draft.id = id, total = t.total, "draft order completed");
    Ok(Completed { order, payment_url: link.map(|(url, _)| url) })
}

/// A new payment link for the order draft `id` became, while it awaits payment, in one
/// writer unit: a new key (only its hash kept; the earlier link no longer opens the
/// order), mailed to the customer (sealed until sent), a history row. Returns the order
/// and the link, said this once.
pub fn new_link(tx: &WriteTx, id: i64, origin: &str, now: i64, fx: Effects) -> Result<(i64, String), CompleteError> {
    let d = load(tx, id)?.ok_or(CompleteError::NotFound)?;
    if d.is_open() {
        return Err(CompleteError::Open);
    }
    let order = d.order_id.ok_or(CompleteError::Completed(None))?;
    let from = lifecycle::status(tx, order)?.ok_or(CompleteError::Completed(None))?;
    if from != OrderStatus::Pending {
        return Err(lifecycle::TransitionError::NotAllowed { from }.into());
    }
    let (email, due, expires_at, currency): (String, i64, i64, String) = tx
        .prepare_cached("SELECT email, total - gift_card_paid, expires_at, currency FROM orders WHERE id = ?1")?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let (key, hash) = crate::auth::new_token();
    let url = format!("{}/orders/{order}?key={key}", origin.trim_end_matches('/'));
    tx.prepare_cached("UPDATE draft_orders SET pay_key_hash = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
        id,
        &hash[..],
        now
    ])?;
    if !email.is_empty() {
        use crate::mail::words::{say, W};
        let lang = crate::mail::order_lang(tx, order, &fx)?;
        let until = crate::util::rfc3339(expires_at).get(..16).unwrap_or_default().replace('T', " ");
        let due = lang.amount(due, &currency);
        let body = say(lang, W::NewLinkBody, &[("order", &order), ("amount", &due), ("url", &url), ("until", &until)]);
        // the link opens the order without a password (crate::mail::SECRET_KINDS)
        let body = fx.secrets.seal(body.as_bytes());
        let subject = say(lang, W::NewLinkSubject, &[("order", &order)]);
        crate::mail::enqueue(tx, fx.mail, "payment_link", &email, &subject, &body, now)?;
    }
    store::add_history(
        tx,
        order,
        OrderStatus::Pending.as_str(),
        "a new payment link was sent; the one before no longer opens the order",
        now,
    )?;
    Ok((order, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_shape_in_storage() {
        let lines = vec![
            DraftLine { variant_id: 11, quantity: 2, unit_price: None },
            DraftLine { variant_id: 31, quantity: 1, unit_price: Some(1000) },
        ];
        let json = serde_json::to_string(&lines).unwrap();
        assert_eq!(json, r#"[{"variant_id":11,"quantity":2},{"variant_id":31,"quantity":1,"unit_price":1000}]"#);
        assert_eq!(serde_json::from_str::<Vec<DraftLine>>(&json).unwrap(), lines);
    }
}
