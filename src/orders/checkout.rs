//! Placing an order — checkout from the cart and buy-now alike — as ONE writer unit:
//! claim the idempotency key, reserve stock with a conditional decrement per line, price,
//! insert the order, its lines and its first status, count the promotion's use, close the
//! cart, enqueue the confirmation mail and store the response. A failure anywhere is a
//! [`PlaceError`] and rolls the unit's savepoint back: there is no state in which half of
//! it happened. The HTTP side (parsing, idempotency headers, answers) is in
//! [`super::handlers`]; errors become the client's in one `From`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::Serialize;

use super::store::{self, NewOrder};
use super::OrderStatus;
use crate::auth::Session;
use crate::cart::{self, resolve_variant, Destination, LineError};
use crate::customers::model::Address;
use crate::db::writer::WriteTx;
use crate::domain::{Email, Id, Money, PaymentMethod, Quantity};
use crate::error::{ApiError, StoreError};
use crate::mail;
use crate::openapi::Data;
use crate::util::now_ms;

/// The validated parts both ways of ordering share.
pub struct Placement {
    pub address: Address,
    pub payment_method: PaymentMethod,
    pub shipping_option: Option<String>,
    pub email: Option<Email>,
    /// the language the request chose (`Accept-Language`; none: the default): a guest's
    /// order's mail is written in it, a customer's in the account's
    pub locale: Option<String>,
    /// buy now: the currency asked for (none: the default); a cart's order is in the cart's
    pub currency: Option<String>,
}

/// The answer to an order placed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlacedOut {
    order_id: Id,
    /// `paid` when a gift card paid the whole total
    status: OrderStatus,
    total: Money,
    /// what the cart's gift card paid of the total
    gift_card_paid: Money,
    /// what is left to pay by `payment_method`
    amount_due: Money,
}

/// What the writer unit of an order answers: a new order, or a stored response.
pub enum Placed {
    New(Vec<u8>),
    Replayed(u16, Vec<u8>),
}

/// A line the stock cannot cover (never the exact stock).
#[derive(Debug, Clone, Serialize)]
pub struct ShortLine {
    pub product_id: Id,
    pub variant_id: Id,
    pub sku: String,
    pub requested: i64,
}

/// Why an order was not placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    #[error("there is nothing to order")]
    EmptyCart,
    #[error("this cart has become an order already")]
    AlreadyOrdered,
    #[error("{field}: {error}")]
    Line { field: String, error: LineError },
    #[error("a line holds at most {} units", Quantity::MAX)]
    LineTooLarge,
    #[error("the stock cannot cover some items")]
    OutOfStock(Vec<ShortLine>),
    #[error("the code does not apply: {0}")]
    InvalidDiscount(String),
    #[error("no shipping option for this destination")]
    NoShipping { chosen: bool, options: Vec<String> },
    #[error("the gift card does not apply: {0}")]
    GiftCard(String),
    #[error("{what}: pay or cancel an unpaid order first")]
    TooManyHolds { what: String, retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How much unpaid orders may hold, per owner (the customer, or the guest session) and per
/// client address: an unpaid order reserves stock until it expires, so without a bound
/// one script could hold a shop's stock (and capped promotion codes) with orders it never
/// pays.
#[derive(Debug, Clone, Copy)]
pub struct Holds {
    pub orders_per_owner: i64,
    pub orders_per_address: i64,
    pub units_per_owner: i64,
    pub units_per_address: i64,
    /// how long a customer's unpaid order holds its stock
    pub customer_expiry_ms: i64,
    /// … and a guest's (shorter: a guest is cheap to become)
    pub guest_expiry_ms: i64,
}

impl Holds {
    pub fn from_config(c: &crate::config::Config) -> Holds {
        Holds {
            orders_per_owner: c.unpaid_orders_per_owner as i64,
            orders_per_address: c.unpaid_orders_per_address as i64,
            units_per_owner: c.reserved_units_per_owner as i64,
            units_per_address: c.reserved_units_per_address as i64,
            customer_expiry_ms: c.order_expiry_mins as i64 * 60_000,
            guest_expiry_ms: c.guest_order_expiry_mins as i64 * 60_000,
        }
    }
}

/// How many unpaid orders to look at for an orders bound of `bound`: one more than it
/// allows (past that, one more order is refused whatever the rest hold); all of them when
/// the orders are not bounded but the units are.
fn scan_bound(bound: i64) -> i64 {
    if bound == 0 {
        i64::MAX
    } else {
        bound + 1
    }
}

/// 429 when one more order of `units` would take the owner or the address over its holds.
fn check_holds(
    tx: &WriteTx,
    session: &Session,
    address: &str,
    units: i64,
    h: &Holds,
    now: i64,
) -> Result<(), PlaceError> {
    // one more than a bound allows is enough to refuse: no scan past it (0: no bound)
    let off = store::Pending::default;
    let owner = if h.orders_per_owner == 0 && h.units_per_owner == 0 {
        off()
    } else {
        store::pending_of_owner(tx, session.customer_id, session.id, scan_bound(h.orders_per_owner))?
    };
    let by_address = if address.is_empty() || (h.orders_per_address == 0 && h.units_per_address == 0) {
        off()
    } else {
        store::pending_of_address(tx, address, scan_bound(h.orders_per_address))?
    };
    let wait = |p: &store::Pending| p.first_expiry.map_or(60, |t| ((t - now).max(1000) / 1000) as u64);
    let over =
        |what: &str, p: &store::Pending| PlaceError::TooManyHolds { what: what.to_owned(), retry_after_secs: wait(p) };
    let over_bound = |n: i64, bound: i64| bound > 0 && n > bound;
    if over_bound(owner.orders + 1, h.orders_per_owner) {
        return Err(over(&format!("at most {} unpaid orders at a time", h.orders_per_owner), &owner));
    }
    if over_bound(owner.units + units, h.units_per_owner) {
        return Err(over(&format!("unpaid orders hold at most {} units at a time", h.units_per_owner), &owner));
    }
    if over_bound(by_address.orders + 1, h.orders_per_address) {
        return Err(over(&format!("at most {} unpaid orders from one address", h.orders_per_address), &by_address));
    }
    if over_bound(by_address.units + units, h.units_per_address) {
        return Err(over(
            &format!("unpaid orders from one address hold at most {} units", h.units_per_address),
            &by_address,
        ));
    }
    Ok(())
}

impl From<rusqlite::Error> for PlaceError {
    fn from(e: rusqlite::Error) -> PlaceError {
        PlaceError::Store(e.into())
    }
}

impl From<PlaceError> for ApiError {
    fn from(e: PlaceError) -> ApiError {
        let message = e.to_string();
        match e {
            PlaceError::KeyReused => ApiError::new(StatusCode::CONFLICT, "idempotency_key_reused", message),
            PlaceError::EmptyCart => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cart_empty", message),
            PlaceError::AlreadyOrdered => ApiError::new(StatusCode::CONFLICT, "cart_already_ordered", message),
            PlaceError::Line { field, error } => error.at(&field),
            PlaceError::LineTooLarge => ApiError::validation([("quantity".to_owned(), message)].into()),
            PlaceError::OutOfStock(lines) => out_of_stock(&lines),
            PlaceError::InvalidDiscount(why) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_discount", message).with_detail("code", why)
            }
            PlaceError::NoShipping { chosen, options } => {
                let e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "shipping_unavailable", message);
                if chosen {
                    e.with_detail("shipping_option", format!("choose one of: {}", options.join(", ")))
                } else {
                    e.with_detail("shipping_address.country", "no shipping to this country")
                }
            }
            PlaceError::GiftCard(why) => crate::gift_cards::invalid(&why),
            PlaceError::TooManyHolds { retry_after_secs, .. } => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_unpaid_orders", message);
                e.retry_after = Some(retry_after_secs);
                e
            }
            PlaceError::Store(e) => e.into(),
        }
    }
}

/// 409 naming each line the stock cannot cover.
pub fn out_of_stock(lines: &[ShortLine]) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "out_of_stock", "the stock cannot cover some items")
        .with_detail("items", serde_json::to_value(lines).expect("lines serialize"))
}

/// Where the lines come from.
pub enum LineSource {
    Cart,
    Items(Vec<(Option<Id>, Option<Id>, i64)>, Option<String>),
}

/// The whole of placing an order, in the writer's transaction (see the module's notes).
pub fn place(
    tx: &WriteTx,
    session: &Session,
    source: LineSource,
    p: &Placement,
    idem: Option<(&str, &[u8])>,
    holds: &Holds,
    fx: crate::app::Effects,
) -> Result<Placed, PlaceError> {
    let now = now_ms();
    let scope = session.owner_scope();
    let keyed = idem.map(|(key, hash)| crate::db::idempotency::Keyed { scope: &scope, key, hash });
    let answer = crate::db::idempotency::once(
        tx,
        keyed,
        now,
        || PlaceError::KeyReused,
        || Ok((201, place_new(tx, session, source, p, holds, fx, now)?)),
    )?;
    Ok(if answer.replayed { Placed::Replayed(answer.status, answer.body) } else { Placed::New(answer.body) })
}

/// Places a new order (no key, or a key not seen): its answer's body.
fn place_new(
    tx: &WriteTx,
    session: &Session,
    source: LineSource,
    p: &Placement,
    holds: &Holds,
    fx: crate::app::Effects,
    now: i64,
) -> Result<Vec<u8>, PlaceError> {
    // the cart's currency (buy now: the default) for the shopper's groups, now
    let cart = match source {
        LineSource::Cart => Some(cart::store::open_cart(tx, session)?.ok_or(PlaceError::EmptyCart)?),
        LineSource::Items(..) => None,
    };
    let market = match (&cart, &p.currency) {
        // buy now in a currency of the shop's (checked by the handler)
        (None, Some(c)) => {
            crate::catalog::prices::for_shopper(tx, &fx.currencies, Some(c.as_str()), session.customer_id, now)?
        }
        _ => cart::market_of(tx, &fx.currencies, cart.as_ref().map(|c| c.id), session.customer_id, now)?,
    };
    let m = market.as_ref();
    let currency = crate::catalog::prices::currency_of(m, crate::domain::currencies::default_of(&fx.currencies));
    let (lines, cart_id, code, gift_card) = match source {
        LineSource::Cart => {
            let c = cart.expect("read above");
            (cart::store::lines(tx, c.id, m)?, Some(c.id), c.discount_code, c.gift_card)
        }
        LineSource::Items(items, code) => {
            let mut by_variant: BTreeMap<i64, i64> = BTreeMap::new();
            let mut order: Vec<i64> = Vec::new();
            for (i, (product, variant, quantity)) in items.into_iter().enumerate() {
                let v = resolve_variant(tx, product, variant, quantity)
                    .map_err(|e| PlaceError::Line { field: format!("items[{i}]"), error: e })?;
                if !by_variant.contains_key(&v.variant_id) {
                    order.push(v.variant_id);
                }
                *by_variant.entry(v.variant_id).or_default() += quantity;
            }
            let mut lines = Vec::with_capacity(order.len());
            for variant in order {
                let line = cart::store::variant_line(tx, variant, by_variant[&variant], m)?;
                lines.extend(line);
            }
            (lines, None, code, None)
        }
    };
    if lines.is_empty() {
        return Err(PlaceError::EmptyCart);
    }
    // the operator's own requests are not bounded per address (an empty key counts nowhere)
    let client_key =
        if session.client_exempt { String::new() } else { crate::limits::address_key_of(&session.client_addr) };
    check_holds(tx, session, &client_key, lines.iter().map(|l| l.quantity).sum(), holds, now)?;
    let expiry_ms = if session.customer_id.is_some() { holds.customer_expiry_ms } else { holds.guest_expiry_ms };
    if lines.iter().any(|l| l.quantity > Quantity::MAX) {
        return Err(PlaceError::LineTooLarge);
    }
    let dest = Destination { country: p.address.country.clone(), region: p.address.state.clone() };
    let priced = cart::price(tx, lines, code.as_deref(), Some(&dest), p.shipping_option.as_deref(), now, m, currency)?;
    if let Some(why) = &priced.discount_problem {
        return Err(PlaceError::InvalidDiscount(why.clone()));
    }
    let Some(shipping) = priced.shipping.clone() else {
        return Err(PlaceError::NoShipping {
            chosen: p.shipping_option.is_some(),
            options: priced.options.iter().map(|o| o.code.clone()).collect(),
        });
    };
    let t = priced.totals;
    // the cart's gift card pays what its balance covers, in this unit (see crate::gift_cards)
    let take = match gift_card {
        Some(card) => {
            let take = crate::gift_cards::can_pay(tx, card, t.total, currency.as_str(), now)
                .map_err(|e| PlaceError::GiftCard(e.to_string()))?;
            if take.amount == 0 && t.total > 0 {
                return Err(PlaceError::GiftCard("this gift card has no balance left".into()));
            }
            Some(take)
        }
        None => None,
    };
    let by_card = take.as_ref().map_or(0, |t| t.amount);
    let due = t.total - by_card;
    // paid in full by the card: placed paid, its stock sold at once (not reserved, then sold)
    let paid = by_card > 0 && due == 0;
    // every line still for sale, and the stock for all of it, naming each short one
    let mut short = Vec::new();
    for l in &priced.lines {
        let left = if l.active {
            crate::catalog::tags::stock_move(tx, l.product_id, || {
                if paid {
                    store::sell(tx, l.variant_id, l.quantity, now)
                } else {
                    store::reserve(tx, l.variant_id, l.quantity, now)
                }
            })?
        } else {
            None
        };
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
        return Err(PlaceError::OutOfStock(short)); // the savepoint undoes the moves made
    }
    if let Some(code) = &priced.discount_code {
        if !cart::store::use_promotion(tx, code)? {
            return Err(PlaceError::InvalidDiscount("this code has been used up".into()));
        }
    }
    let (email, locale) = match (session.customer_id, &p.email) {
        (Some(c), _) => crate::customers::store::customer(tx, c)?.map(|c| (c.email, c.locale)).unwrap_or_default(),
        (None, Some(e)) => (e.as_str().to_owned(), p.locale.clone()),
        (None, None) => (String::new(), p.locale.clone()),
    };
    let address = serde_json::to_string(&p.address).expect("addresses serialize");
    let order = store::insert_order(
        tx,
        &NewOrder {
            customer_id: session.customer_id,
            session_id: Some(session.id),
            cart_id,
            email: &email,
            shipping_address: &address,
            shipping_option: &shipping.code,
            payment_method: p.payment_method.as_str(),
            discount_code: priced.discount_code.as_deref(),
            subtotal: t.subtotal,
            discount: t.discount,
            shipping: t.shipping,
            tax: t.tax,
            tax_included: t.tax_included,
            total: t.total,
            now,
            expires_at: now + expiry_ms,
            client_addr: &client_key,
            gift_card_paid: by_card,
            currency: currency.as_str(),
            locale: locale.as_deref(),
        },
    )?;
    store::insert_lines(tx, order, &priced.lines)?;
    if paid {
        for l in &priced.lines {
            store::count_sale(tx, l.product_id, l.quantity, now)?;
        }
    }
    if let Some(take) = take.filter(|t| t.amount > 0) {
        crate::gift_cards::spend(tx, &take, order, now).map_err(|e| PlaceError::GiftCard(e.to_string()))?;
    }
    let (status, said) = if paid {
        (OrderStatus::Paid, "order placed and paid by gift card; stock sold")
    } else {
        (OrderStatus::Pending, "order placed; stock reserved")
    };
    store::add_history(tx, order, status.as_str(), said, now)?;
    if let Some(cart) = cart_id {
        if !cart::store::mark_ordered(tx, cart, now)? {
            return Err(PlaceError::AlreadyOrdered);
        }
    }
    // one mail: what was ordered and what is left to pay (nothing: it is the receipt too)
    if !email.is_empty() {
        use crate::mail::words::{say, W};
        let lang = fx.lang(locale.as_deref());
        let words = |m: i64| lang.amount(m, currency.as_str());
        let mut body = say(lang, W::ConfirmThanks, &[("order", &order), ("total", &words(t.total))]);
        if by_card > 0 {
            body.push_str(&say(lang, W::PaidByCard, &[("amount", &words(by_card))]));
        }
        if due > 0 {
            body.push_str(&say(lang, W::ToPayReserved, &[("amount", &words(due))]));
        } else {
            body.push_str(&say(lang, W::NothingLeft, &[]));
        }
        let subject = say(lang, W::ConfirmSubject, &[("order", &order)]);
        mail::enqueue(tx, fx.mail, "order_confirmation", &email, &subject, &body, now)?;
    }
    crate::webhooks::emit_order(tx, "order.placed", order, now)?;
    if paid {
        crate::webhooks::emit_order(tx, "order.paid", order, now)?;
        // gift cards bought in it are issued, their codes mailed
        crate::gift_cards::issue_bought(tx, order, now, fx)?;
    }
    let usd = |m: i64| Money::new(m, currency);
    let placed = PlacedOut {
        order_id: Id(order),
        status,
        total: usd(t.total),
        gift_card_paid: usd(by_card),
        amount_due: usd(due),
    };
    let body = serde_json::to_vec(&Data { data: placed }).expect("order responses serialize");
    tracing::info!(order.id = order, total = t.total, "order placed");
    Ok(body)
}
