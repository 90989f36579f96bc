//! Order edits: the owner changes what an order holds before anything of it ships — more or
//! fewer units of a line, a line removed, a product added.
//!
//! Invariants:
//! - An edit is ONE writer unit: the lines, the stock, the totals, the money (a refund or a
//!   balance due), the history row (and the caller's audit row). Refused, it changes
//!   nothing.
//! - Only a `pending` or `paid` order with nothing shipped, cancelled or refunded (other
//!   than by an earlier edit) is edited; anything else is 409 `not_editable`.
//! - Lines that stay keep their unit price (what the customer agreed to); an added
//!   product is priced as it sells now, on the line of its variant if the order has one.
//! - Stock moves by the difference only, in the order's own state: a pending order's
//!   units are reserved (available → reserved, refused when short) or released; a paid
//!   order's are sold (available decreases, refused when short) or put back on sale.
//!   Stock never goes below zero: the decrement is conditional.
//! - The totals are those checkout would give the new lines: the order's discount code,
//!   granted once, keeps its kind and value (its minimum subtotal still applies, its dates
//!   and use count do not); shipping stays what was charged; tax at the rate of the
//!   order's address, included in the prices or added on top as that rate says.
//! - Money: what the customer paid and was not given back is `captured − refunded`. An edit
//!   of a paid order that brings the total under it refunds the difference in the same
//!   unit (to the order's gift cards first, see [`super::refunds`]); one that brings the
//!   total above it leaves a `balance_due`, paid by the payment webhook or recorded by the
//!   owner ([`collect_balance`]). A pending order's amount due simply follows its total
//!   (the payment webhook checks the amount due when it pays); what gift cards paid of it
//!   can only shrink by a cancel, so an edit that would bring the total under it is
//!   refused.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::checkout::ShortLine;
use super::lifecycle::{OrderStatus, TransitionError};
use super::refunds::{self, Ask, RefundError};
use super::store;
use crate::app::Effects;
use crate::cart::pricing::Totals;
use crate::db::writer::WriteTx;
use crate::domain::{Id, Quantity};
use crate::mail::words::{say, Lang, W};

/// What an edit asks (already checked for shape: ids ≥ 1, quantities in range).
#[derive(Debug, Clone, Default)]
pub struct Edit {
    /// (variant, units) to add
    pub add: Vec<(i64, i64)>,
    /// (line, new quantity; 0 removes it)
    pub change: Vec<(i64, i64)>,
    /// lines to remove
    pub remove: Vec<i64>,
}

/// Why an edit was refused (the unit changes nothing).
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("{0}")]
    NotEditable(String),
    /// a field of the request names nothing the edit can use
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    #[error("not enough stock")]
    OutOfStock(Vec<ShortLine>),
    #[error("gift cards paid {paid} minor units of this order, more than the edited total {total}")]
    UnderGiftCards { paid: i64, total: i64 },
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

impl From<EditError> for crate::error::ApiError {
    fn from(e: EditError) -> Self {
        use crate::error::ApiError;
        use axum::http::StatusCode;
        match e {
            EditError::Transition(e) => e.into(),
            EditError::NotEditable(m) => ApiError::new(StatusCode::CONFLICT, "not_editable", m),
            EditError::Field { field, message } => {
                let mut checks = crate::http::Checks::new();
                checks.error(&field, message);
                checks.finish().expect_err("one error was recorded")
            }
            EditError::OutOfStock(lines) => super::checkout::out_of_stock(&lines),
            e @ EditError::UnderGiftCards { .. } => {
                ApiError::new(StatusCode::CONFLICT, "under_gift_cards", e.to_string())
            }
            EditError::Refund(e) => e.into(),
            EditError::Store(e) => e.into(),
        }
    }
}

/// A line as it was or is, for the audit row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineWas {
    pub sku: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// the total before and after
    pub before: i64,
    pub after: i64,
    /// the lines before and after
    pub lines_before: Vec<LineWas>,
    pub lines_after: Vec<LineWas>,
    /// what the customer owes now (positive: the amount due of a pending order, or the
    /// balance due of a paid one) or was given back by this edit (negative)
    pub balance: i64,
    /// the refund the edit made
    pub refund: Option<i64>,
}

struct OldLine {
    line: i64,
    variant: i64,
    product: i64,
    unit_price: i64,
    quantity: i64,
    gift_card: bool,
    sku: String,
    name: String,
}

/// A line as the edit leaves it.
struct NewLine {
    /// its line number (`None`: added)
    line: Option<i64>,
    variant: i64,
    product: i64,
    sku: String,
    name: String,
    unit_price: i64,
    quantity: i64,
}

/// What an edit changed of a line, for the order's history and the customer's mail.
enum Change<'a> {
    Removed(&'a str),
    Quantity(&'a str, i64, i64),
    Added(i64, &'a str),
}

/// The changes as `lang` says them: `KNIFE-1 removed, BOOM-1 1 → 3, 2 × MUG-1 added`.
fn told(changes: &[Change], lang: Lang) -> String {
    let each = changes.iter().map(|c| match *c {
        Change::Removed(sku) => say(lang, W::EditRemoved, &[("sku", &sku)]),
        Change::Quantity(sku, was, now) => format!("{sku} {was} → {now}"),
        Change::Added(quantity, sku) => say(lang, W::EditAdded, &[("quantity", &quantity), ("sku", &sku)]),
    });
    each.collect::<Vec<_>>().join(", ")
}

/// Applies `edit` to `order` in the writer unit `tx` (see the module's invariants).
pub fn apply(tx: &WriteTx, order: i64, edit: &Edit, now: i64, fx: Effects) -> Result<Edited, EditError> {
    type Head = (OrderStatus, i64, String, i64, Option<String>, String, i64, i64, i64);
    let head: Option<Head> = tx
        .prepare_cached(
            "SELECT status, total, email, shipping, discount_code, shipping_address, gift_card_paid, captured,
                    discount
             FROM orders WHERE id = ?1",
        )?
        .query_row([order], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })
        .optional()?;
    let (status, before, email, shipping, code, address, by_card, captured, discount_before) =
        head.ok_or(TransitionError::NotFound)?;
    if !matches!(status, OrderStatus::Pending | OrderStatus::Paid) {
        return Err(EditError::NotEditable(format!("an order that is {status} cannot be edited")));
    }
    let mut old: Vec<OldLine> = Vec::new();
    let rows = tx
        .prepare_cached(
            "SELECT i.line, i.variant_id, i.product_id, i.unit_price, i.quantity,
                    i.fulfilled + i.cancelled + i.refunded, coalesce(p.gift_card, 0), i.sku, i.name
             FROM order_items i LEFT JOIN products p ON p.id = i.product_id
             WHERE i.order_id = ?1 ORDER BY i.line",
        )?
        .query_map([order], |r| {
            let touched: i64 = r.get(5)?;
            Ok((
                OldLine {
                    line: r.get(0)?,
                    variant: r.get(1)?,
                    product: r.get(2)?,
                    unit_price: r.get(3)?,
                    quantity: r.get(4)?,
                    gift_card: r.get(6)?,
                    sku: r.get(7)?,
                    name: r.get(8)?,
                },
                touched,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (line, touched) in rows {
        if touched > 0 {
            return Err(EditError::NotEditable(format!(
                "line {} has shipped, been cancelled or refunded in part: edit before that",
                line.line
            )));
        }
        old.push(line);
    }
    let other_refunds: i64 = tx
        .prepare_cached("SELECT count(*) FROM refunds WHERE order_id = ?1 AND status <> 'failed' AND NOT edit")?
        .query_row([order], |r| r.get(0))?;
    if other_refunds > 0 {
        return Err(EditError::NotEditable("it has been refunded in part: edit before that".into()));
    }

    // the new quantity of every line
    let mut wanted: BTreeMap<i64, i64> = old.iter().map(|l| (l.line, l.quantity)).collect();
    for (i, line) in edit.remove.iter().enumerate() {
        match wanted.get_mut(line) {
            Some(q) => *q = 0,
            None => return Err(no_line(format!("remove[{i}]"), *line)),
        }
    }
    for (i, (line, quantity)) in edit.change.iter().enumerate() {
        if edit.remove.contains(line) {
            return Err(EditError::Field {
                field: format!("change[{i}].line_id"),
                message: format!("line {line} is also removed: change it or remove it"),
            });
        }
        match wanted.get_mut(line) {
            Some(q) => *q = *quantity,
            None => return Err(no_line(format!("change[{i}].line_id"), *line)),
        }
    }
    if status == OrderStatus::Paid {
        // the cards a gift card line sold were issued when it was paid
        if let Some(l) = old.iter().find(|l| l.gift_card && wanted[&l.line] != l.quantity) {
            return Err(EditError::NotEditable(format!(
                "line {} sold gift cards, issued when the order was paid: they cannot be taken back by an edit",
                l.line
            )));
        }
    }
    let mut lines: Vec<NewLine> = Vec::new();
    for l in &old {
        lines.push(NewLine {
            line: Some(l.line),
            variant: l.variant,
            product: l.product,
            sku: l.sku.clone(),
            name: l.name.clone(),
            unit_price: l.unit_price,
            quantity: wanted[&l.line],
        });
    }
    // lines added sell at the order's currency's prices for its customer's groups, now
    let (currency, customer): (String, Option<i64>) = tx
        .prepare_cached("SELECT currency, customer_id FROM orders WHERE id = ?1")?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if crate::domain::currencies::find(&fx.currencies, &currency).is_none() {
        return Err(EditError::Field {
            field: "add".into(),
            message: format!("the order is in {currency}, which the shop no longer sells in"),
        });
    }
    let market = crate::catalog::prices::for_shopper(tx, &fx.currencies, Some(&currency), customer, now)?;
    for (i, (variant, quantity)) in edit.add.iter().enumerate() {
        let field = format!("add[{i}].variant_id");
        let Some(v) = crate::cart::store::variant_line(tx, *variant, *quantity, market.as_ref())? else {
            return Err(EditError::Field { field, message: format!("no variant {variant}") });
        };
        if !v.active {
            return Err(EditError::Field { field, message: format!("variant {variant} is not for sale") });
        }
        let gift_card: bool = tx
            .prepare_cached("SELECT gift_card FROM products WHERE id = ?1")?
            .query_row([v.product_id], |r| r.get(0))?;
        if gift_card {
            return Err(EditError::Field {
                field,
                message: "gift cards are sold at checkout, not added by an edit".into(),
            });
        }
        match lines.iter_mut().find(|l| l.variant == *variant) {
            Some(l) => l.quantity += quantity,
            None => lines.push(NewLine {
                line: None,
                variant: v.variant_id,
                product: v.product_id,
                sku: v.sku.clone(),
                name: crate::cart::store::item_name(&v.product_name, &v.variant_name),
                unit_price: v.unit_price,
                quantity: *quantity,
            }),
        }
    }
    if let Some(l) = lines.iter().find(|l| l.quantity > Quantity::MAX) {
        return Err(EditError::NotEditable(format!("at most {} units of {} on one line", Quantity::MAX, l.sku)));
    }
    if lines.iter().all(|l| l.quantity == 0) {
        return Err(EditError::NotEditable("an order keeps at least one line: cancel it instead".into()));
    }
    let unchanged =
        lines.iter().all(|l| l.line.is_some_and(|n| old.iter().any(|o| o.line == n && o.quantity == l.quantity)));
    if unchanged {
        return Err(EditError::NotEditable("the edit changes nothing".into()));
    }

    // stock, by the difference, in the order's state
    let mut short = Vec::new();
    for l in &lines {
        let was = l.line.and_then(|n| old.iter().find(|o| o.line == n)).map_or(0, |o| o.quantity);
        let delta = l.quantity - was;
        if delta == 0 {
            continue;
        }
        let taken = match (status, delta > 0) {
            (OrderStatus::Pending, true) => {
                crate::catalog::tags::stock_move(tx, l.product, || store::reserve(tx, l.variant, delta, now))?
            }
            (_, true) => crate::catalog::tags::stock_move(tx, l.product, || store::sell(tx, l.variant, delta, now))?,
            (OrderStatus::Pending, false) => {
                crate::catalog::tags::stock_move(tx, l.product, || store::release(tx, l.variant, -delta, now))?;
                None
            }
            (_, false) => {
                store::put_back(tx, l.variant, l.product, -delta, now)?;
                None
            }
        };
        if delta > 0 {
            match taken {
                Some(left) => crate::webhooks::stock_fell(tx, l.variant, left + delta, left, fx.low_stock, now)?,
                None => short.push(ShortLine {
                    product_id: Id(l.product),
                    variant_id: Id(l.variant),
                    sku: l.sku.clone(),
                    requested: delta,
                }),
            }
        }
        if status == OrderStatus::Paid {
            store::count_sale(tx, l.product, delta, now)?;
        }
    }
    if !short.is_empty() {
        return Err(EditError::OutOfStock(short)); // the savepoint undoes what moved
    }

    // the lines
    let mut next = old.iter().map(|l| l.line).max().unwrap_or(0) + 1;
    let mut changes = Vec::new();
    for l in &lines {
        let was = l.line.and_then(|n| old.iter().find(|o| o.line == n)).map_or(0, |o| o.quantity);
        match l.line {
            Some(n) if l.quantity == 0 => {
                tx.prepare_cached("DELETE FROM order_items WHERE order_id = ?1 AND line = ?2")?
                    .execute(params![order, n])?;
                changes.push(Change::Removed(&l.sku));
            }
            Some(n) if l.quantity != was => {
                tx.prepare_cached(
                    "UPDATE order_items SET quantity = ?3, line_total = unit_price * ?3 WHERE order_id = ?1 AND line = ?2",
                )?
                .execute(params![order, n, l.quantity])?;
                changes.push(Change::Quantity(&l.sku, was, l.quantity));
            }
            Some(_) => {}
            None => {
                store::insert_item(tx, order, next, l.product, l.variant, &l.sku, &l.name, l.unit_price, l.quantity)?;
                next += 1;
                changes.push(Change::Added(l.quantity, &l.sku));
            }
        }
    }

    // the totals
    let subtotal: i64 = lines.iter().map(|l| l.unit_price * l.quantity).sum();
    let discount = match &code {
        Some(c) if discount_before > 0 => {
            crate::cart::promotion_in(tx, c, market.as_ref())?.map_or(0, |p| p.granted(subtotal).unwrap_or(0))
        }
        _ => 0,
    };
    let to: serde_json::Value = serde_json::from_str(&address).unwrap_or_default();
    let text = |k: &str| to.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let rate = crate::cart::store::tax_rate(tx, &text("country"), &text("state"))?;
    let t = Totals::new(subtotal, discount, shipping, rate);
    if status == OrderStatus::Pending && by_card > t.total {
        return Err(EditError::UnderGiftCards { paid: by_card, total: t.total });
    }
    tx.prepare_cached(
        "UPDATE orders SET subtotal = ?2, discount = ?3, tax = ?4, total = ?5, updated_at = ?6, tax_included = ?7
         WHERE id = ?1",
    )?
    .execute(params![order, t.subtotal, t.discount, t.tax, t.total, now, t.tax_included])?;
    let cur = store::currency_of(tx, order)?;
    let words = |m: i64| crate::mail::amount(m, cur.as_str());
    let said = told(&changes, Lang::En);
    store::add_history(
        tx,
        order,
        status.as_str(),
        &format!("edited: {said}; total {} → {}", words(before), words(t.total)),
        now,
    )?;

    // the money
    let (balance, refund) = if status == OrderStatus::Pending {
        (t.total - by_card, None)
    } else {
        let kept = captured - refunds::refunded(tx, order)?;
        let (due, refund) = if t.total < kept {
            let id = refunds::create(tx, order, &Ask::Edit(kept - t.total), "order edited", None, now, fx.clone())?;
            (0, Some((id, kept - t.total)))
        } else {
            (t.total - kept, None)
        };
        tx.prepare_cached("UPDATE orders SET balance_due = ?2 WHERE id = ?1")?.execute(params![order, due])?;
        match refund {
            Some((id, amount)) => (-amount, Some(id)),
            None => (due, None),
        }
    };
    if !email.is_empty() {
        // the customer hears what changed and what it means for what they pay
        let lang = crate::mail::order_lang(tx, order, &fx)?;
        let words = |m: i64| lang.amount(m, cur.as_str());
        let (total, was) = (words(t.total), words(before));
        let changes = told(&changes, lang);
        let mut body =
            say(lang, W::EditBody, &[("order", &order), ("changes", &changes), ("total", &total), ("before", &was)]);
        body.push_str(&match (status, balance) {
            (OrderStatus::Pending, due) => say(lang, W::EditToPay, &[("amount", &words(due))]),
            (_, b) if b < 0 => say(lang, W::EditGiveBack, &[("amount", &words(-b))]),
            (_, 0) => say(lang, W::EditNothing, &[]),
            (_, b) => say(lang, W::EditLeft, &[("amount", &words(b))]),
        });
        let subject = say(lang, W::EditSubject, &[("order", &order)]);
        crate::mail::enqueue(tx, fx.mail, "order_edited", &email, &subject, &body, now)?;
    }
    crate::webhooks::emit_order(tx, "order.edited", order, now)?;
    let was = |sku: &str, quantity, unit_price| LineWas { sku: sku.to_owned(), quantity, unit_price };
    Ok(Edited {
        before,
        after: t.total,
        lines_before: old.iter().map(|l| was(&l.sku, l.quantity, l.unit_price)).collect(),
        lines_after: lines.iter().filter(|l| l.quantity > 0).map(|l| was(&l.sku, l.quantity, l.unit_price)).collect(),
        balance,
        refund,
    })
}

fn no_line(field: String, line: i64) -> EditError {
    EditError::Field { field, message: format!("the order has no line {line}") }
}

/// Records the balance due of a paid order (after an edit raised its total) as paid:
/// what was captured grows by it, with a history row saying `how`. Returns the amount, or
/// `None` when nothing was due.
pub fn collect_balance(tx: &WriteTx, order: i64, how: &str, now: i64) -> rusqlite::Result<Option<i64>> {
    let due: Option<(OrderStatus, i64)> = tx
        .prepare_cached("SELECT status, balance_due FROM orders WHERE id = ?1")?
        .query_row([order], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((status, due)) = due.filter(|(s, due)| s.is_open_after_payment() && *due > 0) else { return Ok(None) };
    tx.prepare_cached(
        "UPDATE orders SET captured = captured + balance_due, balance_due = 0, updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![order, now])?;
    store::add_history(
        tx,
        order,
        status.as_str(),
        &format!("balance of {} paid: {how}", crate::mail::amount(due, store::currency_of(tx, order)?.as_str())),
        now,
    )?;
    Ok(Some(due))
}
