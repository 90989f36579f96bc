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
}

/// Prices `lines` with the promotion `code` for `destination`, choosing `shipping_code`
/// (or the cheapest option).
pub fn price(
    conn: &Connection,
    lines: Vec<Line>,
    code: Option<&str>,
    destination: Option<&Destination>,
    shipping_code: Option<&str>,
    now: i64,
) -> rusqlite::Result<Priced> {
    let subtotal: i64 = lines.iter().map(|l| l.unit_price * l.quantity).sum();
    let weight_grams: i64 = lines.iter().map(|l| l.weight_grams * l.quantity).sum();
    let (mut discount, mut discount_code, mut discount_problem) = (0, None, None);
    if let Some(code) = code {
        match store::promotion(conn, code)? {
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
        options = shipping_options(
            &store::shipping_rates(conn, d.country.as_str())?,
            d.country.as_str(),
            subtotal - discount,
            weight_grams,
        );
        shipping = match shipping_code {
            Some(c) => options.iter().find(|o| o.code == c).cloned(),
            None => options.first().cloned(),
        };
        tax = store::tax_rate(conn, d.country.as_str(), &d.region)?;
    }
    let totals = Totals::new(subtotal, discount, shipping.as_ref().map_or(0, |s| s.price.amount), tax);
    Ok(Priced { lines, totals, discount_code, discount_problem, options, shipping, weight_grams })
}

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
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
            let problem = c.problem(now).map(str::to_owned);
            let applies = if problem.is_some() { 0 } else { c.balance.min(self.total.amount) };
            self.amount_due = usd(self.total.amount - applies);
            self.gift_card =
                Some(CartGiftCardOut { last4: c.last4, balance: usd(c.balance), applies: usd(applies), problem });
        }
        self
    }

    pub fn new(id: Option<i64>, p: Priced) -> CartOut {
        let t = p.totals;
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
    app.db
        .read(move |conn| {
            let now = now_ms();
            let Some((id, code)) = store::open_cart(conn, &session)? else {
                return Ok(CartOut::new(None, price(conn, Vec::new(), None, None, None, now)?));
            };
            let lines = store::lines(conn, id)?;
            let card = match store::gift_card_of(conn, id)? {
                Some(card) => crate::gift_cards::card(conn, card)?,
                None => None,
            };
            Ok::<_, ApiError>(
                CartOut::new(Some(id), price(conn, lines, code.as_deref(), destination.as_ref(), None, now)?)
                    .with_gift_card(card, now),
            )
        })
        .await
}
