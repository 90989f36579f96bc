//! Carts: lines of variants with quantities, a promotion code, and prices for a
//! destination (shipping by zone and weight, tax by country or region). A guest session
//! holds its own cart; at login it becomes (or merges into) the customer's.
//!
//! `pricing` holds the money rules (pure functions), `store` the SQL, `handlers` the
//! endpoints. Checkout (in `orders`) prices a cart with the same [`price`] function, on
//! the writer's transaction, so the order costs exactly what the cart showed.

pub mod handlers;
pub mod pricing;
pub mod store;

use rusqlite::Connection;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Session;
use crate::domain::{Country, Currency, Id, Money, Quantity};
use crate::error::ApiError;
use crate::util::now_ms;
use pricing::{shipping_options, ShippingOption, Totals};
use store::Line;

#[derive(Debug, Clone)]
pub struct Destination {
    pub country: Country,
    pub region: String,
}

/// Lines and what they cost, for a destination when one is known.
#[derive(Debug)]
pub struct Priced {
    pub lines: Vec<Line>,
    pub totals: Totals,
    /// the code that applied
    pub discount_code: Option<String>,
    /// why the cart's code does not apply (it is kept, and checkout refuses it)
    pub discount_problem: Option<String>,
    pub options: Vec<ShippingOption>,
    /// the option the totals include
    pub shipping: Option<ShippingOption>,
    pub weight_grams: i64,
    /// the currency of every amount
    pub currency: Currency,
}

/// Prices `lines` (priced in `market`: none, the products' own prices, in `default`, the shop's default currency) with the promotion
/// `code` for `destination`, choosing `shipping_code` (or the cheapest option). In a
/// currency other than the default, a fixed promotion's amounts and the shipping rates'
/// convert at its rate (see [`crate::domain::currencies`]).
#[allow(clippy::too_many_arguments)]
pub fn price(
    conn: &Connection,
    lines: Vec<Line>,
    code: Option<&str>,
    destination: Option<&Destination>,
    shipping_code: Option<&str>,
    now: i64,
    market: Option<&Market>,
    default: Currency,
) -> rusqlite::Result<Priced> {
    let conv = |x: i64| crate::catalog::prices::convert(market, x);
    let currency = crate::catalog::prices::currency_of(market, default);
    let subtotal: i64 = lines.iter().map(|l| l.unit_price * l.quantity).sum();
    let weight_grams: i64 = lines.iter().map(|l| l.weight_grams * l.quantity).sum();
    let (mut discount, mut discount_code, mut discount_problem) = (0, None, None);
    if let Some(code) = code {
        match promotion_in(conn, code, market)? {
            None => discount_problem = Some("no such code".to_owned()),
            Some(p) => match p.discount(subtotal, now) {
                Ok(d) => {
                    discount = d;
                    discount_code = Some(p.code);
                }
                Err(why) => discount_problem = Some(why),
            },
        }
    }
    let (mut options, mut shipping, mut tax) = (Vec::new(), None, pricing::TaxRate::default());
    if let Some(d) = destination {
        let mut rates = store::shipping_rates(conn, d.country.as_str())?;
        for (_, r) in rates.iter_mut() {
            r.min_subtotal = conv(r.min_subtotal);
            r.max_subtotal = r.max_subtotal.map(conv);
            r.price = amount_in(market, r.price, r.price_in.as_deref());
            r.free_above = own_amount(market, r.free_above_in.as_deref()).or(r.free_above.map(conv));
        }
        options = shipping_options(&rates, d.country.as_str(), subtotal - discount, weight_grams, currency);
        shipping = match shipping_code {
            Some(c) => options.iter().find(|o| o.code == c).cloned(),
            None => options.first().cloned(),
        };
        tax = store::tax_rate(conn, d.country.as_str(), &d.region)?;
    }
    let totals = Totals::new(subtotal, discount, shipping.as_ref().map_or(0, |s| s.price.amount), tax);
    Ok(Priced { lines, totals, discount_code, discount_problem, options, shipping, weight_grams, currency })
}

use crate::catalog::prices::{amount_in, own_amount, Market};

/// The promotion `code` with its amounts (a fixed discount, a minimum subtotal) in the
/// currency of `market`: its own there, else converted.
pub fn promotion_in(
    conn: &Connection,
    code: &str,
    market: Option<&Market>,
) -> rusqlite::Result<Option<pricing::Promotion>> {
    Ok(store::promotion(conn, code)?.map(|mut p| {
        p.min_subtotal = amount_in(market, p.min_subtotal, p.min_subtotal_in.as_deref());
        if p.kind != "percent" {
            p.value = amount_in(market, p.value, p.value_in.as_deref());
        }
        p
    }))
}

/// The market a cart is priced in: its currency, for its shopper's groups, now (none: the
/// products' own prices).
pub fn market_of(
    conn: &Connection,
    setting: &str,
    cart: Option<i64>,
    customer: Option<i64>,
    now: i64,
) -> rusqlite::Result<Option<Market>> {
    let currency = match cart {
        Some(c) => store::currency_of(conn, c)?,
        None => None,
    };
    crate::catalog::prices::for_shopper(conn, setting, currency.as_deref(), customer, now)
}

/// Why a line names nothing that can be sold.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("give product_id or variant_id")]
    NoProductOrVariant,
    #[error("no such product for sale")]
    NotForSale,
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

impl LineError {
    /// The client's error, naming the line's field (`product_id`, `items[2]`).
    pub fn at(self, field: &str) -> crate::error::ApiError {
        match self {
            LineError::Store(e) => e.into(),
            e => crate::error::ApiError::validation([(field.to_owned(), e.to_string())].into()),
        }
    }
}

/// Which variant a request means, checked for sale: by `variant_id`, or the default of
/// `product_id` (the first variant with stock for `quantity`).
pub fn resolve_variant(
    conn: &Connection,
    product: Option<Id>,
    variant: Option<Id>,
    quantity: i64,
) -> Result<store::Sellable, LineError> {
    let found = match (product, variant) {
        (_, Some(v)) => store::variant(conn, v.0)?.filter(|s| product.is_none_or(|p| p.0 == s.product_id)),
        (Some(p), None) => store::default_variant(conn, p.0, quantity)?,
        (None, None) => return Err(LineError::NoProductOrVariant),
    };
    match found {
        Some(s) if s.active => Ok(s),
        _ => Err(LineError::NotForSale),
    }
}

/// The schema of a line as clients send it (a cart addition, a buy-now item): a product
/// (its first variant with stock for the quantity) or a variant, at least one of the two,
/// and how many.
pub fn line_in_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{
        AdditionalProperties, AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder, Type,
    };
    use utoipa::PartialSchema;
    let id = || OneOfBuilder::new().item(Id::schema()).item(ObjectBuilder::new().schema_type(Type::Null));
    let given =
        |name: &str| ObjectBuilder::new().required(name).property(name, ObjectBuilder::new().schema_type(Type::String));
    let fields = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("product_id", id())
        .property("variant_id", id())
        .property(
            "quantity",
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(Quantity::MAX)),
        )
        .required("quantity")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    AllOfBuilder::new()
        .item(fields)
        .item(AnyOfBuilder::new().item(given("product_id")).item(given("variant_id")))
        .description(Some(
            "a product (its first variant with stock for the quantity) or a variant, at least one of the two \
             (with both, the variant must be the product's), and how many",
        ))
        .into()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemOut {
    pub id: Id,
    pub product_id: Id,
    pub variant_id: Id,
    pub sku: String,
    pub name: String,
    pub variant_name: String,
    pub slug: String,
    pub image: Option<String>,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
    /// the stock covers this line now (no reservation until checkout)
    pub in_stock: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CartOut {
    pub id: Option<Id>,
    pub items: Vec<ItemOut>,
    pub item_count: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub discount_code: Option<String>,
    /// why the cart's code no longer applies (checkout refuses it)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_problem: Option<String>,
    pub shipping: Money,
    pub shipping_option: Option<ShippingOption>,
    pub tax: Money,
    /// whether `tax` is part of the prices (an inclusive rate: gross prices, the total
    /// does not add it) rather than added on top
    pub tax_included: bool,
    pub total: Money,
    /// the gift card applied to the cart: at checkout it pays what its balance covers
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gift_card: Option<CartGiftCardOut>,
    /// what is left to pay by the payment method: the total less what the gift card covers
    pub amount_due: Money,
}

/// The gift card applied to a cart.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CartGiftCardOut {
    /// the code's last four characters
    pub last4: String,
    pub balance: Money,
    /// what it would pay of this cart's total now
    pub applies: Money,
    /// why it cannot pay (used up, expired, disabled): checkout refuses it until it is removed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl CartOut {
    /// With the cart's gift card (`None`: none applied), as checkout would spend it now.
    pub fn with_gift_card(mut self, card: Option<crate::gift_cards::Card>, now: i64) -> CartOut {
        if let Some(c) = card {
            let cur = self.total.currency;
            let problem = c.problem(now).map(str::to_owned).or_else(|| {
                (c.currency != cur.as_str())
                    .then(|| format!("this gift card is in {}; the cart is in {}", c.currency, cur.as_str()))
            });
            let applies = if problem.is_some() { 0 } else { c.balance.min(self.total.amount) };
            self.amount_due = Money::new(self.total.amount - applies, cur);
            let card_money = |m| Money::new(m, Currency::parse(&c.currency).unwrap_or(cur));
            self.gift_card = Some(CartGiftCardOut {
                last4: c.last4.clone(),
                balance: card_money(c.balance),
                applies: Money::new(applies, cur),
                problem,
            });
        }
        self
    }

    pub fn new(id: Option<i64>, p: Priced) -> CartOut {
        let t = p.totals;
        let cur = p.currency;
        let usd = |m: i64| Money::new(m, cur);
        CartOut {
            id: id.map(Id),
            item_count: p.lines.iter().map(|l| l.quantity).sum(),
            items: p
                .lines
                .into_iter()
                .map(|l| ItemOut {
                    id: Id(l.item_id),
                    product_id: Id(l.product_id),
                    variant_id: Id(l.variant_id),
                    sku: l.sku,
                    name: l.product_name,
                    variant_name: l.variant_name,
                    slug: l.slug,
                    image: l.thumbnail,
                    quantity: l.quantity,
                    unit_price: usd(l.unit_price),
                    line_total: usd(l.unit_price * l.quantity),
                    in_stock: l.active && l.available >= l.quantity,
                })
                .collect(),
            subtotal: usd(t.subtotal),
            discount: usd(t.discount),
            discount_code: p.discount_code,
            discount_problem: p.discount_problem,
            shipping: usd(t.shipping),
            shipping_option: p.shipping,
            tax: usd(t.tax),
            tax_included: t.tax_included,
            total: usd(t.total),
            gift_card: None,
            amount_due: usd(t.total),
        }
    }
}

/// Renders the session's cart, priced for `destination` when given.
pub async fn render(app: &AppState, session: Session, destination: Option<Destination>) -> Result<CartOut, ApiError> {
    let setting = app.live().currencies.clone();
    let default = crate::domain::currencies::default_of(&setting);
    app.db
        .read(move |conn| {
            let now = now_ms();
            let Some(store::OpenCart { id, discount_code: code, gift_card }) = store::open_cart(conn, &session)? else {
                return Ok(CartOut::new(None, price(conn, Vec::new(), None, None, None, now, None, default)?));
            };
            let market = market_of(conn, &setting, Some(id), session.customer_id, now)?;
            let lines = store::lines(conn, id, market.as_ref())?;
            let card = match gift_card {
                Some(card) => crate::gift_cards::card(conn, card)?,
                None => None,
            };
            Ok::<_, ApiError>(
                CartOut::new(
                    Some(id),
                    price(conn, lines, code.as_deref(), destination.as_ref(), None, now, market.as_ref(), default)?,
                )
                .with_gift_card(card, now),
            )
        })
        .await
}
