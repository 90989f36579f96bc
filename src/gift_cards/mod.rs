//! Gift cards: a code worth a balance in one currency, issued by the owner or sold as a
//! product, spent at checkout as (part of) an order's payment.
//!
//! Invariants:
//! - The code is shown once, when the card is issued (and mailed, for a card bought in an
//!   order); only its SHA-256 is kept. Codes are 16 characters of a 32-letter alphabet
//!   (80 random bits), so a hash lookup is the whole check and guessing is hopeless; the
//!   routes that take a code are rate-limited besides (`rate_limits.gift_card`).
//! - The balance moves only with a new ledger entry, in the writer unit that moves it:
//!   `issued`, `spent` on an order, `released` when that order closed unpaid, `refunded`
//!   when a refund of that order succeeded, `disabled` / `enabled` (no money moves). The
//!   entry holds the balance after it, and so does the card's row, written with it. It
//!   never goes below zero (a CHECK on the row and on every entry, and a debit that finds
//!   less than it takes writes nothing).
//! - The ledger is appended in the order written, and a card's entries are linked backwards
//!   (the card's `last_entry`, each entry's `prev`). A spend rewrites the card's row in
//!   place, on the page the unit has just read it from, and appends an entry and the
//!   order's index entry: nothing goes into the middle of a full page, which would split it.
//! - Checkout spends from the card in the order's own unit: the writer runs units one
//!   after the other, so however many checkouts race for one card, each reads the balance
//!   the previous one left and takes at most that.
//! - A refund gives back to the order's cards first (what they paid and was not given back
//!   yet), the rest by the order's payment method; the card's part is credited when the
//!   refund succeeds.

pub mod handlers;

use axum::http::StatusCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::Effects;
use crate::db::writer::WriteTx;
use crate::domain::{Currency, Id, Money, Timestamp};
use crate::error::ApiError;

/// The letters of a code: no 0/O, 1/I to misread.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Characters in a code (dashes aside).
pub const CODE_LEN: usize = 16;

/// A new code, `XXXX-XXXX-XXXX-XXXX`.
pub fn new_code() -> String {
    let mut b = [0u8; CODE_LEN];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    let mut s = String::with_capacity(CODE_LEN + 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push('-');
        }
        s.push(ALPHABET[(*x & 31) as usize] as char);
    }
    s
}

/// A code as typed (any case, spaces and dashes anywhere) in its one form, or `None` when
/// it cannot be a code at all.
pub fn normalize(typed: &str) -> Option<String> {
    let s: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (s.len() == CODE_LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

fn hash(normal: &str) -> [u8; 32] {
    Sha256::new().chain_update(b"storefront gift card\0").chain_update(normal.as_bytes()).finalize().into()
}

/// Where a card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// it can pay
    Active,
    /// its balance is spent
    UsedUp,
    Expired,
    /// the shop turned it off
    Disabled,
}

/// A card as stored.
#[derive(Debug, Clone)]
pub struct Card {
    pub id: i64,
    pub last4: String,
    pub currency: String,
    pub initial: i64,
    /// the balance after its last ledger entry
    pub balance: i64,
    /// its last ledger entry (the next one's `prev`)
    pub last_entry: Option<i64>,
    pub expires_at: Option<i64>,
    pub disabled_at: Option<i64>,
    pub note: String,
    pub order_id: Option<i64>,
    pub created_at: i64,
}

impl Card {
    pub fn status(&self, now: i64) -> CardStatus {
        if self.disabled_at.is_some() {
            CardStatus::Disabled
        } else if self.expires_at.is_some_and(|e| e <= now) {
            CardStatus::Expired
        } else if self.balance == 0 {
            CardStatus::UsedUp
        } else {
            CardStatus::Active
        }
    }

    /// Why the card cannot pay now, in words for the shopper.
    pub fn problem(&self, now: i64) -> Option<&'static str> {
        match self.status(now) {
            CardStatus::Active => None,
            CardStatus::UsedUp => Some("this gift card has no balance left"),
            CardStatus::Expired => Some("this gift card has expired"),
            CardStatus::Disabled => Some("this gift card cannot be used"),
        }
    }
}

/// `SELECT` of a card's columns (`g`), then `$rest` (a literal: the statement is one
/// constant, not formatted per call).
macro_rules! select_cards {
    ($rest:literal) => {
        concat!(
            "SELECT g.id, g.last4, g.currency, g.initial, g.balance, g.last_entry, g.expires_at, g.disabled_at, ",
            "g.note, g.order_id, g.created_at FROM gift_cards g ",
            $rest
        )
    };
}

fn card_of(r: &rusqlite::Row) -> rusqlite::Result<Card> {
    Ok(Card {
        id: r.get(0)?,
        last4: r.get(1)?,
        currency: r.get(2)?,
        initial: r.get(3)?,
        balance: r.get(4)?,
        last_entry: r.get(5)?,
        expires_at: r.get(6)?,
        disabled_at: r.get(7)?,
        note: r.get(8)?,
        order_id: r.get(9)?,
        created_at: r.get(10)?,
    })
}

pub fn card(conn: &Connection, id: i64) -> rusqlite::Result<Option<Card>> {
    conn.prepare_cached(select_cards!("WHERE g.id = ?1"))?.query_row([id], card_of).optional()
}

/// The card with this code (as typed), if there is one.
pub fn by_code(conn: &Connection, typed: &str) -> rusqlite::Result<Option<Card>> {
    let Some(normal) = normalize(typed) else { return Ok(None) };
    conn.prepare_cached(select_cards!("WHERE g.code_hash = ?1"))?.query_row([&hash(&normal)[..]], card_of).optional()
}

/// What a new card is.
pub struct NewCard<'a> {
    pub amount: i64,
    pub currency: &'a str,
    pub expires_at: Option<i64>,
    pub note: &'a str,
    /// bought in this order, at this line
    pub order: Option<(i64, i64)>,
    pub created_by: Option<i64>,
}

/// Issues a card (with its first ledger row) in the writer unit `tx`. Returns its id and
/// its code: the only time the code exists outside the customer's hands.
pub fn issue(tx: &WriteTx, c: &NewCard, now: i64) -> rusqlite::Result<(i64, String)> {
    let code = new_code();
    let normal = normalize(&code).expect("a new code is a code");
    tx.prepare_cached(
        "INSERT INTO gift_cards(code_hash, last4, currency, initial, expires_at, note, order_id, order_line,
                                created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        &hash(&normal)[..],
        &normal[CODE_LEN - 4..],
        c.currency,
        c.amount,
        c.expires_at,
        c.note,
        c.order.map(|o| o.0),
        c.order.map(|o| o.1),
        c.created_by,
        now
    ])?;
    let id = tx.last_insert_rowid();
    // the first entry: the one after none, at a balance of zero
    next_entry(tx, id, (None, 0), c.amount, "issued", c.order.map(|o| o.0), None, c.note, now)?;
    Ok((id, code))
}

/// Card `id`'s last ledger entry and its balance, if there is such a card.
fn last_entry(conn: &Connection, id: i64) -> rusqlite::Result<Option<(Option<i64>, i64)>> {
    conn.prepare_cached("SELECT last_entry, balance FROM gift_cards WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Card `card`'s entry after `last` (its last entry, none for a new card, and its balance):
/// `amount` (signed) onto the balance, appended to the ledger and written on the card's row.
/// The CHECKs refuse a balance below zero.
#[allow(clippy::too_many_arguments)]
fn next_entry(
    tx: &WriteTx,
    card: i64,
    last: (Option<i64>, i64),
    amount: i64,
    kind: &str,
    order: Option<i64>,
    refund: Option<i64>,
    note: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    let balance = last.1 + amount;
    tx.prepare_cached(
        "INSERT INTO gift_card_ledger(gift_card_id, prev, amount, balance, kind, order_id, refund_id, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![card, last.0, amount, balance, kind, order, refund, note, now])?;
    let entry = tx.last_insert_rowid();
    tx.prepare_cached("UPDATE gift_cards SET balance = ?2, last_entry = ?3 WHERE id = ?1")?
        .execute(params![card, balance, entry])?;
    Ok(balance)
}

/// Moves `amount` (signed) onto card `id`'s balance: a new ledger entry. Returns the
/// balance after it; `None` when a debit finds less than it takes (nothing changes then).
#[allow(clippy::too_many_arguments)]
fn move_balance(
    tx: &WriteTx,
    id: i64,
    amount: i64,
    kind: &str,
    order: Option<i64>,
    refund: Option<i64>,
    note: &str,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    match last_entry(tx, id)? {
        Some(last) if last.1 + amount >= 0 => {
            next_entry(tx, id, last, amount, kind, order, refund, note, now).map(Some)
        }
        _ => Ok(None),
    }
}

/// Why a card cannot pay for an order.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    #[error("{0}")]
    Unusable(&'static str),
    #[error("this gift card is in {card}; the order is in {order}")]
    Currency { card: String, order: String },
}

impl SpendError {
    pub fn into_api(self) -> ApiError {
        invalid(&self.to_string())
    }
}

/// 422 `invalid_gift_card` saying why (details.code).
pub fn invalid(why: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_gift_card", format!("the gift card does not apply: {why}"))
        .with_detail("code", why)
}

/// What a card pays of an order: read by [`can_pay`] in the order's writer unit, taken by
/// [`spend`] in the same unit.
#[derive(Debug, Clone)]
pub struct Take {
    pub card: i64,
    /// what it pays (minor units of the order's currency)
    pub amount: i64,
    /// the card's last ledger entry when it was read, and its balance
    last: (Option<i64>, i64),
}

/// What card `id` would pay of `due` (in `currency`) now: what its balance has, at most
/// `due`. Read in the order's writer unit, before the order is written, so the order's row
/// is written once with it (see [`spend`]).
pub fn can_pay(tx: &WriteTx, id: i64, due: i64, currency: &str, now: i64) -> Result<Take, SpendError> {
    let c = card(tx, id).map_err(unreadable)?.ok_or(SpendError::Unusable("no gift card has this code"))?;
    if let Some(why) = c.problem(now) {
        return Err(SpendError::Unusable(why));
    }
    if c.currency != currency {
        return Err(SpendError::Currency { card: c.currency, order: currency.to_owned() });
    }
    Ok(Take { card: id, amount: c.balance.min(due).max(0), last: (c.last_entry, c.balance) })
}

/// Takes what [`can_pay`] said, in the same unit, from its card for `order`, whose row
/// says it (`gift_card_paid`): the card's next ledger entry.
pub fn spend(tx: &WriteTx, take: &Take, order: i64, now: i64) -> Result<(), SpendError> {
    // the unit read the balance it takes from: nothing runs between the read and this, and
    // the entry's CHECK refuses a balance below zero besides
    let note = format!("order {order}");
    next_entry(tx, take.card, take.last, -take.amount, "spent", Some(order), None, &note, now).map_err(unreadable)?;
    Ok(())
}

fn unreadable(e: rusqlite::Error) -> SpendError {
    tracing::error!(error = %e, "gift card spend failed");
    SpendError::Unusable("the gift card could not be read")
}

/// What each card paid of `order` and has not had back: (card, amount), by card.
fn outstanding(conn: &Connection, order: i64) -> rusqlite::Result<Vec<(i64, i64)>> {
    conn.prepare_cached(
        "SELECT gift_card_id, -sum(amount) FROM gift_card_ledger INDEXED BY idx_gift_card_ledger_order
         WHERE order_id = ?1 AND kind IN ('spent', 'released', 'refunded')
         GROUP BY gift_card_id HAVING -sum(amount) > 0 ORDER BY min(created_at), gift_card_id",
    )?
    .query_map([order], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// An unpaid order closed (cancelled, expired, its payment failed): what its cards paid
/// goes back on them, in the order's unit.
pub fn release(tx: &WriteTx, order: i64, now: i64) -> rusqlite::Result<()> {
    for (card, amount) in outstanding(tx, order)? {
        move_balance(tx, card, amount, "released", Some(order), None, &format!("order {order} closed unpaid"), now)?;
    }
    Ok(())
}

/// A refund of `order` succeeded: `amount` of it goes back on the order's cards (the first
/// card first), in the refund's unit.
pub fn refund_to_cards(tx: &WriteTx, order: i64, refund: i64, amount: i64, now: i64) -> rusqlite::Result<()> {
    let mut left = amount;
    for (card, paid) in outstanding(tx, order)? {
        if left <= 0 {
            break;
        }
        let back = paid.min(left);
        let note = format!("refund {refund} of order {order}");
        move_balance(tx, card, back, "refunded", Some(order), Some(refund), &note, now)?;
        left -= back;
    }
    Ok(())
}

/// Refund `units` units of `order`'s `line` that bought gift cards: that many of its cards,
/// untouched (nothing spent from them), are voided (balance 0, off), in the refund's unit.
/// `Ok(None)`: the line bought no cards; `Err((unused, asked))`: fewer than `units` are
/// untouched, and nothing changed.
pub fn void_bought(
    tx: &WriteTx,
    order: i64,
    line: i64,
    units: i64,
    refund: i64,
    now: i64,
) -> rusqlite::Result<Result<Option<i64>, (i64, i64)>> {
    let cards: Vec<Card> = tx
        .prepare_cached(select_cards!("WHERE g.order_id = ?1 AND g.order_line = ?2 ORDER BY g.id"))?
        .query_map(params![order, line], card_of)?
        .collect::<rusqlite::Result<_>>()?;
    if cards.is_empty() {
        return Ok(Ok(None));
    }
    // untouched: its balance is still what it was issued with
    let unused: Vec<Card> = cards.into_iter().filter(|c| c.balance == c.initial).collect();
    if (unused.len() as i64) < units {
        return Ok(Err((unused.len() as i64, units)));
    }
    let note = format!("refund {refund} of order {order}: the card is void");
    for c in unused.into_iter().take(units as usize) {
        tx.prepare_cached("UPDATE gift_cards SET disabled_at = coalesce(disabled_at, ?2) WHERE id = ?1")?
            .execute(params![c.id, now])?;
        next_entry(tx, c.id, (c.last_entry, c.balance), -c.initial, "disabled", Some(order), Some(refund), &note, now)?;
    }
    Ok(Ok(Some(units)))
}

/// Refund `refund` failed: the cards it voided (see [`void_bought`]) are whole and usable
/// again, in the unit that records the failure.
pub fn unvoid(tx: &WriteTx, order: i64, refund: i64, now: i64) -> rusqlite::Result<()> {
    let voided: Vec<(i64, i64)> = tx
        .prepare_cached(
            "SELECT gift_card_id, -amount FROM gift_card_ledger INDEXED BY idx_gift_card_ledger_order
             WHERE order_id = ?1 AND refund_id = ?2 AND kind = 'disabled'",
        )?
        .query_map(params![order, refund], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (card, amount) in voided {
        tx.prepare_cached("UPDATE gift_cards SET disabled_at = NULL WHERE id = ?1")?.execute([card])?;
        let note = format!("refund {refund} failed: the card is valid again");
        move_balance(tx, card, amount, "enabled", Some(order), Some(refund), &note, now)?;
    }
    Ok(())
}

/// Turns a card off (or on again): it keeps its balance, and cannot pay while off.
/// Returns whether anything changed.
pub fn set_disabled(tx: &WriteTx, id: i64, disabled: bool, note: &str, now: i64) -> rusqlite::Result<bool> {
    let changed = tx
        .prepare_cached(
            "UPDATE gift_cards SET disabled_at = CASE WHEN ?2 THEN ?3 END
             WHERE id = ?1 AND (disabled_at IS NOT NULL) <> ?2",
        )?
        .execute(params![id, disabled, now])?
        > 0;
    if changed {
        move_balance(tx, id, 0, if disabled { "disabled" } else { "enabled" }, None, None, note, now)?;
    }
    Ok(changed)
}

/// One row of a card's ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerOut {
    /// `issued`, `spent`, `released`, `refunded`, `disabled` or `enabled`
    pub kind: String,
    /// what it added to the balance (negative: taken)
    pub amount: Money,
    /// the balance after it
    pub balance: Money,
    pub order_id: Option<Id>,
    pub refund_id: Option<Id>,
    pub note: String,
    pub at: Timestamp,
}

/// A gift card as the shop sees it (never its code, which is not kept).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GiftCardOut {
    pub id: Id,
    /// the code's last four characters, to tell cards apart
    pub last4: String,
    pub status: CardStatus,
    pub initial_amount: Money,
    pub balance: Money,
    pub expires_at: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
    pub note: String,
    /// the order that bought it, for a card sold as a product
    pub order_id: Option<Id>,
    pub created_at: Timestamp,
    /// every movement of its balance, oldest first (in `GET /api/admin/gift-cards/{id}`
    /// and the answers of its changes; lists leave it out)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Vec<LedgerOut>>,
}

fn money(amount: i64, currency: &str) -> Money {
    Money::new(amount, Currency::parse(currency).unwrap_or(Currency::USD))
}

impl GiftCardOut {
    pub fn new(c: &Card, now: i64) -> GiftCardOut {
        GiftCardOut {
            id: Id(c.id),
            last4: c.last4.clone(),
            status: c.status(now),
            initial_amount: money(c.initial, &c.currency),
            balance: money(c.balance, &c.currency),
            expires_at: c.expires_at.map(Timestamp),
            disabled_at: c.disabled_at.map(Timestamp),
            note: c.note.clone(),
            order_id: c.order_id.map(Id),
            created_at: Timestamp(c.created_at),
            ledger: None,
        }
    }
}

/// Card `id` with its ledger.
pub fn detail(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<Option<GiftCardOut>> {
    let Some(c) = card(conn, id)? else { return Ok(None) };
    let mut out = GiftCardOut::new(&c, now);
    // its entries walked back from its last, one seek each, then put oldest first
    let mut rows: Vec<LedgerOut> = conn
        .prepare_cached(
            "WITH RECURSIVE chain(prev, kind, amount, balance, order_id, refund_id, note, created_at) AS (
                 SELECT prev, kind, amount, balance, order_id, refund_id, note, created_at
                 FROM gift_card_ledger WHERE id = ?1
                 UNION ALL
                 SELECT l.prev, l.kind, l.amount, l.balance, l.order_id, l.refund_id, l.note, l.created_at
                 FROM chain c JOIN gift_card_ledger l ON l.id = c.prev)
             SELECT kind, amount, balance, order_id, refund_id, note, created_at FROM chain",
        )?
        .query_map([c.last_entry], |r| {
            Ok(LedgerOut {
                kind: r.get(0)?,
                amount: money(r.get(1)?, &c.currency),
                balance: money(r.get(2)?, &c.currency),
                order_id: r.get::<_, Option<i64>>(3)?.map(Id),
                refund_id: r.get::<_, Option<i64>>(4)?.map(Id),
                note: r.get(5)?,
                at: Timestamp(r.get(6)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    rows.reverse();
    out.ledger = Some(rows);
    Ok(Some(out))
}

/// Cards newest first, below id `before`, `limit` of them (the primary key walked back).
pub fn list(conn: &Connection, before: i64, limit: i64, now: i64) -> rusqlite::Result<Vec<GiftCardOut>> {
    conn.prepare_cached(select_cards!("WHERE g.id < ?1 ORDER BY g.id DESC LIMIT ?2"))?
        .query_map(params![before, limit], card_of)?
        .map(|c| c.map(|c| GiftCardOut::new(&c, now)))
        .collect()
}

/// What a gift card paid of an order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GiftCardPaymentOut {
    pub gift_card_id: Id,
    /// the code's last four characters
    pub last4: String,
    /// what it paid
    pub amount: Money,
    /// what went back on it (the order closed unpaid, or a refund)
    pub returned: Money,
}

/// The gift card payments of `order`, by card.
pub fn payments_of(conn: &Connection, order: i64) -> rusqlite::Result<Vec<GiftCardPaymentOut>> {
    conn.prepare_cached(
        "SELECT l.gift_card_id, g.last4, g.currency,
                -sum(CASE WHEN l.kind = 'spent' THEN l.amount ELSE 0 END),
                sum(CASE WHEN l.kind IN ('released', 'refunded') THEN l.amount ELSE 0 END)
         FROM gift_card_ledger l INDEXED BY idx_gift_card_ledger_order JOIN gift_cards g ON g.id = l.gift_card_id
         WHERE l.order_id = ?1 AND l.kind IN ('spent', 'released', 'refunded')
         GROUP BY l.gift_card_id ORDER BY min(l.created_at), l.gift_card_id",
    )?
    .query_map([order], |r| {
        let currency: String = r.get(2)?;
        Ok(GiftCardPaymentOut {
            gift_card_id: Id(r.get(0)?),
            last4: r.get(1)?,
            amount: money(r.get(3)?, &currency),
            returned: money(r.get(4)?, &currency),
        })
    })?
    .collect()
}

/// An order was paid: each unit of a line whose product is a gift card issues a card of
/// the unit's price, and the codes go to the order's e-mail, in the payment's unit.
pub fn issue_bought(tx: &WriteTx, order: i64, now: i64, fx: Effects) -> rusqlite::Result<()> {
    let lines: Vec<(i64, String, i64, i64)> = tx
        .prepare_cached(
            "SELECT i.line, i.name, i.unit_price, i.quantity FROM order_items i JOIN products p ON p.id = i.product_id
             WHERE i.order_id = ?1 AND p.gift_card = 1 AND i.unit_price > 0 ORDER BY i.line",
        )?
        .query_map([order], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    if lines.is_empty() {
        return Ok(());
    }
    let (email, currency): (String, String) = tx
        .prepare_cached("SELECT email, currency FROM orders WHERE id = ?1")?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut codes = Vec::new();
    for (line, name, price, quantity) in lines {
        for _ in 0..quantity {
            let note = format!("bought in order {order}");
            let new = NewCard {
                amount: price,
                currency: &currency,
                expires_at: None,
                note: &note,
                order: Some((order, line)),
                created_by: None,
            };
            let (_, code) = issue(tx, &new, now)?;
            codes.push((name.clone(), price, code));
        }
    }
    if email.is_empty() {
        return Ok(());
    }
    use crate::mail::words::{say, W};
    let lang = crate::mail::order_lang(tx, order, &fx)?;
    let mut body = say(lang, W::GiftBody, &[("order", &order)]);
    for (name, price, code) in &codes {
        let worth = lang.amount(*price, &currency);
        body.push_str(&say(lang, W::GiftLine, &[("name", name), ("code", code), ("amount", &worth)]));
    }
    body.push_str(&say(lang, W::GiftFooter, &[]));
    // sealed until sent, then not kept (crate::mail::SECRET_KINDS)
    let body = fx.secrets.seal(body.as_bytes());
    crate::mail::enqueue(
        tx,
        fx.mail,
        "gift_cards",
        &email,
        &say(lang, W::GiftSubject, &[("order", &order)]),
        &body,
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_readable_and_normalize_back() {
        let a = new_code();
        let b = new_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), CODE_LEN + 3);
        assert_eq!(a.matches('-').count(), 3);
        let n = normalize(&a).unwrap();
        assert_eq!(normalize(&format!("  {} ", a.to_lowercase().replace('-', " "))), Some(n.clone()));
        assert_eq!(hash(&n), hash(&normalize(&a).unwrap()));
        assert!(normalize("ABCD-EFGH-JKLM-NPQ0").is_none(), "0 is not in the alphabet");
        assert!(normalize("ABCD-EFGH-JKLM").is_none());
        assert!(normalize("").is_none());
    }

    #[test]
    fn status_reads_disabled_then_expired_then_balance() {
        let c = Card {
            id: 1,
            last4: "ABCD".into(),
            currency: "USD".into(),
            initial: 500,
            balance: 500,
            last_entry: Some(1),
            expires_at: Some(1000),
            disabled_at: None,
            note: String::new(),
            order_id: None,
            created_at: 0,
        };
        assert_eq!(c.status(999), CardStatus::Active);
        assert_eq!(c.status(1000), CardStatus::Expired);
        assert_eq!(Card { balance: 0, ..c.clone() }.status(0), CardStatus::UsedUp);
        assert_eq!(Card { disabled_at: Some(5), ..c }.status(0), CardStatus::Disabled);
    }
}
