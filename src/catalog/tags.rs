//! The catalog's cache vocabulary: what a cached catalog response depends on, as tags, and
//! the one function from what a commit changed to the tags it touches. The response cache
//! stores and bumps tags as opaque strings and knows nothing of catalog tables; everything
//! that spells a tag is here.
//!
//! Who carries what:
//! - every catalog response: [`Tag::Catalog`] (names, images, variants and attributes
//!   show across many responses, so their changes reach everything; so do the run-time
//!   settings, the shop's name on every page);
//! - a product page: [`Tag::Product`] and a [`Tag::Variant`] per variant, [`Tag::Reviews`];
//! - lists and bestsellers: [`Tag::Listing`] and [`Tag::Product`] of each product shown,
//!   plus [`Tag::ListingByPrice`] when prices order or filter them, [`Tag::ListingStock`]
//!   when filtered by `in_stock`, [`Tag::ListingSales`] when units sold order them;
//! - bestsellers: [`Tag::Bestsellers`] (bumped when the board is rebuilt, see
//!   [`super::bestsellers`]), [`Tag::Listing`] and [`Tag::Product`] of each product shown;
//! - searches: [`Tag::Search`] and [`Tag::Product`] of each product shown, plus the stock
//!   and sales tags as lists; the tree: [`Tag::Categories`]; brands: [`Tag::Brands`].
//!
//! What the busiest writes reach: checkout and payment change stock and units sold, and
//! note so ([`stock_move`], [`note_sale`]); a product selling out or coming back reaches its
//! page, the lists and searches showing it and those filtered by `in_stock` — not every
//! list; a sale reaches what units sold order (popular lists, relevance, bestsellers).

use std::fmt;

use crate::db::writer::{ChangeSet, TableChange, WriteTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    Catalog,
    Listing,
    ListingByPrice,
    ListingStock,
    ListingSales,
    Bestsellers,
    Search,
    Categories,
    Brands,
    Reviews,
    Product(i64),
    Variant(i64),
}

impl Tag {
    /// The tags an administrator may flush, as `DELETE /api/admin/cache?tag=` takes them.
    pub const PATTERN: &'static str =
        "^(catalog|listing|listing:price|listing:stock|listing:sales|bestsellers|search|categories|brands|reviews|product:[1-9][0-9]{0,18}|variant:[1-9][0-9]{0,18})$";

    /// The name of a tag that names no row (`listing`, `search`, ...); `None` for
    /// [`Tag::Product`] and [`Tag::Variant`].
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Tag::Catalog => "catalog",
            Tag::Listing => "listing",
            Tag::ListingByPrice => "listing:price",
            Tag::ListingStock => "listing:stock",
            Tag::ListingSales => "listing:sales",
            Tag::Bestsellers => "bestsellers",
            Tag::Search => "search",
            Tag::Categories => "categories",
            Tag::Brands => "brands",
            Tag::Reviews => "reviews",
            Tag::Product(_) | Tag::Variant(_) => return None,
        })
    }

    pub fn parse(s: &str) -> Option<Tag> {
        let id = |rest: &str| {
            (!rest.starts_with('0') && rest.len() <= 19 && rest.bytes().all(|b| b.is_ascii_digit()))
                .then(|| rest.parse::<i64>().ok())
                .flatten()
        };
        Some(match s {
            "catalog" => Tag::Catalog,
            "listing" => Tag::Listing,
            "listing:price" => Tag::ListingByPrice,
            "listing:stock" => Tag::ListingStock,
            "listing:sales" => Tag::ListingSales,
            "bestsellers" => Tag::Bestsellers,
            "search" => Tag::Search,
            "categories" => Tag::Categories,
            "brands" => Tag::Brands,
            "reviews" => Tag::Reviews,
            _ => match s.split_once(':') {
                Some(("product", rest)) => Tag::Product(id(rest)?),
                Some(("variant", rest)) => Tag::Variant(id(rest)?),
                _ => return None,
            },
        })
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.name()) {
            (_, Some(name)) => f.write_str(name),
            (Tag::Product(id), None) => write!(f, "product:{id}"),
            (Tag::Variant(id), None) => write!(f, "variant:{id}"),
            _ => unreachable!("every other tag has a name"),
        }
    }
}

/// The note a unit leaves when it changed only products' prices (see [`note_price_only`]).
const PRICE_ONLY: (&str, &str) = ("products", "price");

/// Records in the writer unit `tx` that it changed only the price of `product`, so the
/// commit reaches the product's page, the lists showing it, price-ordered lists and
/// searches — not every list.
pub fn note_price_only(tx: &WriteTx, product: i64) {
    tx.note_only(PRICE_ONLY.0, PRICE_ONLY.1, product);
}

/// A product whose `in_stock` flipped (and nothing else of it changed).
const STOCK_FLIPPED: (&str, &str) = ("products", "stock");
/// A product whose row a stock trigger rewrote without a change.
const STOCK_KEPT: (&str, &str) = ("products", "stock_kept");
/// A product whose units sold grew (and nothing else of it changed).
const SOLD: (&str, &str) = ("products", "sold");

/// Runs `moved`, a change of `product`'s stock in the writer unit `tx`, and notes what it
/// did to the product's row (which the stock triggers rewrite): when `in_stock` flipped,
/// the product's page, the lists showing it and those filtered by stock; otherwise nothing
/// beyond the variants' own tags.
pub fn stock_move<T>(tx: &WriteTx, product: i64, moved: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let in_stock = |tx: &WriteTx| -> rusqlite::Result<Option<bool>> {
        use rusqlite::OptionalExtension;
        tx.prepare_cached("SELECT in_stock FROM products WHERE id = ?1")?.query_row([product], |r| r.get(0)).optional()
    };
    let before = in_stock(tx)?;
    let out = moved()?;
    let (table, aspect) = if in_stock(tx)? != before { STOCK_FLIPPED } else { STOCK_KEPT };
    tx.note_only(table, aspect, product);
    Ok(out)
}

/// Records in the writer unit `tx` that it only added to `product`'s units sold.
pub fn note_sale(tx: &WriteTx, product: i64) {
    tx.note_only(SOLD.0, SOLD.1, product);
}

/// Whether a commit recorded a sale (see [`note_sale`]).
pub fn records_sale(changes: &ChangeSet) -> bool {
    changes.tables.contains_key(&format!("{}@{}", SOLD.0, SOLD.1))
}

/// The tags a commit's changes can show in.
pub fn of_changes(changes: &ChangeSet) -> Vec<Tag> {
    let mut tags = Vec::new();
    // the run-time settings show on every page (the shop's name): everything
    if crate::settings::changed(changes) {
        tags.push(Tag::Catalog);
    }
    let price_only = format!("{}@{}", PRICE_ONLY.0, PRICE_ONLY.1);
    let flipped = format!("{}@{}", STOCK_FLIPPED.0, STOCK_FLIPPED.1);
    let sold = format!("{}@{}", SOLD.0, SOLD.1);
    let per_row = |table: &str, tag: fn(i64) -> Tag, tags: &mut Vec<Tag>| -> bool {
        match changes.tables.get(table) {
            Some(TableChange::Rows(ids)) => {
                tags.extend(ids.iter().map(|id| tag(*id)));
                true
            }
            Some(TableChange::All) => {
                tags.push(Tag::Catalog);
                true
            }
            None => false,
        }
    };
    if per_row("products", Tag::Product, &mut tags) {
        // summaries in lists, search hits, counts in the tree and on brands
        tags.extend([Tag::Listing, Tag::Search, Tag::Categories, Tag::Brands]);
    }
    if per_row(&price_only, Tag::Product, &mut tags) {
        tags.extend([Tag::ListingByPrice, Tag::Search]);
    }
    if per_row(&flipped, Tag::Product, &mut tags) {
        tags.push(Tag::ListingStock);
    }
    // units sold show in no summary: only in what they order
    if changes.tables.contains_key(&sold) {
        tags.push(Tag::ListingSales);
    }
    per_row("inventory", Tag::Variant, &mut tags);
    if changes.touches("reviews") {
        tags.push(Tag::Reviews);
    }
    if changes.touches("product_sales_daily") {
        tags.push(Tag::Listing);
    }
    // names, images, variants and attributes appear across many responses: everything
    let everywhere = [
        "categories",
        "brands",
        "product_images",
        "variants",
        "attributes",
        "attribute_values",
        "variant_attribute_values",
        // prices in other currencies and for groups: a list's change reaches every answer
        "price_lists",
        "price_list_prices",
    ];
    if everywhere.iter().any(|t| changes.touches(t)) {
        tags.push(Tag::Catalog);
    }
    tags
}

/// [`of_changes`] as the strings the cache stores.
pub fn keys_of_changes(changes: &ChangeSet) -> Vec<String> {
    of_changes(changes).iter().map(Tag::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_the_pattern_says_which() {
        let all = [
            Tag::Catalog,
            Tag::Listing,
            Tag::ListingByPrice,
            Tag::ListingStock,
            Tag::ListingSales,
            Tag::Bestsellers,
            Tag::Search,
            Tag::Categories,
            Tag::Brands,
            Tag::Reviews,
            Tag::Product(42),
            Tag::Variant(7),
        ];
        for t in all {
            assert_eq!(Tag::parse(&t.to_string()), Some(t));
        }
        for bad in ["", "product:", "product:0", "product:x", "variant:-1", "listing:name", "*"] {
            assert_eq!(Tag::parse(bad), None, "{bad}");
        }
    }
}
