//! What the pages read of the API's answers: the JSON of the public catalog endpoints (the
//! very bytes the cache keeps for them), taken back into the fields a page shows.

use serde::Deserialize;

use super::words::n_;

#[derive(Debug, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Deserialize)]
pub struct Ref {
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Deserialize)]
pub struct Rating {
    pub average: f64,
    pub count: i64,
}

#[derive(Debug, Deserialize)]
pub struct Summary {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub price: Money,
    pub base_price: Money,
    pub sale_price: Option<Money>,
    pub category: Ref,
    pub brand: Option<Ref>,
    pub in_stock: bool,
    pub rating: Rating,
    pub image: Option<Image>,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub url: String,
    pub thumbnail: String,
    #[serde(default)]
    pub alt: String,
}

#[derive(Debug, Deserialize)]
pub struct Variant {
    pub id: String,
    pub name: String,
    pub price: Money,
    pub sale_price: Option<Money>,
    pub in_stock: bool,
}

#[derive(Debug, Deserialize)]
pub struct ProductOption {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Review {
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub created_at: String,
}

#[derive(Debug, Deserialize)]
pub struct Detail {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price: Money,
    pub base_price: Money,
    pub sale_price: Option<Money>,
    pub in_stock: bool,
    pub category: Ref,
    pub brand: Option<Ref>,
    pub options: Vec<ProductOption>,
    pub variants: Vec<Variant>,
    pub rating: Rating,
    pub reviews: Vec<Review>,
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize)]
pub struct CategoryNode {
    pub name: String,
    pub slug: String,
    pub product_count: i64,
}

#[derive(Debug, Deserialize)]
pub struct CategoryChild {
    pub name: String,
    pub slug: String,
    pub product_count: i64,
}

#[derive(Debug, Deserialize)]
pub struct CategoryDetail {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub path: Vec<Ref>,
    pub children: Vec<CategoryChild>,
}

#[derive(Debug, Deserialize)]
pub struct Brand {
    pub name: String,
    pub slug: String,
    pub product_count: i64,
}

#[derive(Debug, Deserialize)]
pub struct Data<T> {
    pub data: T,
}

#[derive(Debug, Deserialize)]
pub struct Listed<T, M> {
    pub data: T,
    pub meta: M,
}

#[derive(Debug, Deserialize)]
pub struct OffsetMeta {
    pub current_page: i64,
    pub total: i64,
    pub last_page: i64,
}

#[derive(Debug, Deserialize)]
pub struct FacetRef {
    pub name: String,
    pub slug: String,
    pub count: i64,
    #[serde(default)]
    pub depth: i64,
}

#[derive(Debug, Deserialize)]
pub struct PriceBand {
    pub min: Money,
    pub max: Option<Money>,
    pub count: i64,
}

#[derive(Debug, Deserialize)]
pub struct Facets {
    pub categories: Vec<FacetRef>,
    pub brands: Vec<FacetRef>,
    pub price_bands: Vec<PriceBand>,
}

#[derive(Debug, Deserialize)]
pub struct SearchMeta {
    pub current_page: i64,
    pub total: i64,
    pub last_page: i64,
    pub facets: Facets,
}

#[derive(Debug, Deserialize)]
pub struct CartItem {
    pub id: String,
    pub name: String,
    pub variant_name: String,
    pub slug: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
    pub in_stock: bool,
}

#[derive(Debug, Deserialize)]
pub struct Cart {
    pub items: Vec<CartItem>,
    pub item_count: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub discount_code: Option<String>,
    #[serde(default)]
    pub discount_problem: Option<String>,
    #[serde(default)]
    pub gift_card: Option<CartGiftCard>,
}

/// The gift card applied to a cart.
#[derive(Debug, Deserialize)]
pub struct CartGiftCard {
    pub last4: String,
    pub balance: Money,
    pub applies: Money,
    #[serde(default)]
    pub problem: Option<String>,
}

/// What a gift card paid of an order.
#[derive(Debug, Deserialize)]
pub struct GiftCardPayment {
    pub last4: String,
    pub amount: Money,
    pub returned: Money,
}

#[derive(Debug, Deserialize)]
pub struct ShippingOption {
    pub code: String,
    pub name: String,
    pub price: Money,
}

#[derive(Debug, Deserialize)]
pub struct Placed {
    pub order_id: String,
}

#[derive(Debug, Deserialize)]
pub struct OrderItem {
    pub line: i64,
    pub name: String,
    pub quantity: i64,
    /// units shipped so far
    pub fulfilled: i64,
    /// units refunded
    #[serde(default)]
    pub refunded: i64,
    /// units refunded before they shipped (they will not ship)
    #[serde(default)]
    pub cancelled: i64,
    /// units that may still be asked back in a return
    #[serde(default)]
    pub returnable: i64,
    pub unit_price: Money,
    pub line_total: Money,
    #[serde(default)]
    pub sku: String,
}

impl OrderItem {
    /// Units still to ship.
    pub fn to_ship(&self) -> i64 {
        self.quantity - self.fulfilled - self.cancelled
    }
}

#[derive(Debug, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Deserialize)]
pub struct StatusChange {
    pub status: String,
    pub note: Option<String>,
    pub at: String,
}

#[derive(Debug, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub email: Option<String>,
    pub items: Vec<OrderItem>,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub shipping_option: Option<String>,
    pub tax: Money,
    /// the tax is part of the prices (an inclusive rate), not added on top
    #[serde(default)]
    pub tax_included: bool,
    pub total: Money,
    pub shipping_address: Address,
    pub payment_method: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub status_history: Vec<StatusChange>,
    pub fulfillments: Vec<Shipment>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default)]
    pub returns: Vec<Return>,
    #[serde(default)]
    pub gift_card_payments: Vec<GiftCardPayment>,
    pub amount_due: Option<Money>,
    /// what an edit left to pay of a paid order
    pub balance_due: Option<Money>,
}

#[derive(Debug, Deserialize)]
pub struct ShipmentLine {
    pub line_id: i64,
    pub quantity: i64,
}

/// One shipment of an order.
#[derive(Debug, Deserialize)]
pub struct Shipment {
    pub id: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub lines: Vec<ShipmentLine>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// One line of a refund.
#[derive(Debug, Deserialize)]
pub struct RefundLine {
    pub line_id: i64,
    pub quantity: i64,
}

/// One refund of an order.
#[derive(Debug, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: Money,
    pub reason: String,
    pub status: String,
    pub error: Option<String>,
    pub lines: Vec<RefundLine>,
    pub created_at: String,
}

impl Refund {
    /// "1 × Blue mug": what it was for, by the order's item names ("" for an amount).
    pub fn contents(&self, items: &[OrderItem]) -> String {
        contents(self.lines.iter().map(|l| (l.line_id, l.quantity)), items)
    }

    /// How it stands, in the shop's words.
    pub fn status_words(&self) -> &'static str {
        match self.status.as_str() {
            "succeeded" => n_("refunded"),
            "failed" => n_("failed"),
            _ => n_("waiting for the payment provider"),
        }
    }
}

/// One line of a return.
#[derive(Debug, Deserialize)]
pub struct ReturnLine {
    pub line_id: i64,
    pub name: String,
    pub quantity: i64,
    pub reason: String,
    pub received: i64,
    pub restocked: i64,
}

/// One step of a return.
#[derive(Debug, Deserialize)]
pub struct ReturnStep {
    pub status: String,
    pub note: String,
    pub at: String,
}

/// A return of items of an order.
#[derive(Debug, Deserialize)]
pub struct Return {
    pub id: String,
    pub order_id: String,
    pub status: String,
    pub note: String,
    pub lines: Vec<ReturnLine>,
    pub refund_id: Option<String>,
    pub history: Vec<ReturnStep>,
    pub created_at: String,
}

impl Return {
    /// "1 × Blue mug, 2 × Red mug": the units asked back.
    pub fn contents(&self) -> String {
        self.lines.iter().map(|l| format!("{} × {}", l.quantity, l.name)).collect::<Vec<_>>().join(", ")
    }

    /// Where it stands, in the shopper's words.
    pub fn shopper_words(&self) -> &'static str {
        match self.status.as_str() {
            "requested" => "asked for: the shop will answer",
            "approved" => "approved: please send the items back",
            "rejected" => "not accepted",
            "received" => "the items arrived: your refund follows",
            _ => "refunded",
        }
    }

    /// Where it stands, in the shop's words.
    pub fn shop_words(&self) -> &'static str {
        match self.status.as_str() {
            "requested" => n_("to answer"),
            "approved" => n_("waiting for the parcel"),
            "rejected" => n_("rejected"),
            "received" => n_("to refund"),
            _ => n_("refunded"),
        }
    }
}

/// "2 × Blue mug, 1 × Red mug": (line, units) pairs by the order's item names.
fn contents(lines: impl Iterator<Item = (i64, i64)>, items: &[OrderItem]) -> String {
    lines
        .map(|(line, units)| {
            let name = items.iter().find(|i| i.line == line).map(|i| i.name.as_str()).unwrap_or("an item");
            format!("{units} × {name}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Shipment {
    /// "2 × Blue mug, 1 × Red mug": what left, by the order's item names.
    pub fn contents(&self, items: &[OrderItem]) -> String {
        contents(self.lines.iter().map(|l| (l.line_id, l.quantity)), items)
    }
}
