//! What the catalog API returns, and the validated inputs it takes (sorts, cursors,
//! full-text terms).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{Currency, Id, Money, Timestamp};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryRef {
    pub id: Id,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandRef {
    pub id: Id,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Image {
    pub url: String,
    pub thumbnail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rating {
    /// Mean of approved reviews, two decimals; 0 when there are none.
    pub average: f64,
    pub count: i64,
}

impl Rating {
    pub fn new(x100: i64, count: i64) -> Rating {
        Rating { average: x100 as f64 / 100.0, count }
    }
}

/// A product in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub slug: String,
    /// What the customer pays now (the sale price while on sale).
    pub price: Money,
    pub base_price: Money,
    pub sale_price: Option<Money>,
    pub image: Option<Image>,
    pub category: CategoryRef,
    pub brand: Option<BrandRef>,
    pub in_stock: bool,
    pub rating: Rating,
    pub created_at: Timestamp,
}

/// Names accepted by `fields=` on product lists.
pub const SUMMARY_FIELDS: &[&str] = &[
    "id",
    "sku",
    "name",
    "slug",
    "price",
    "base_price",
    "sale_price",
    "image",
    "category",
    "brand",
    "in_stock",
    "rating",
    "created_at",
];

pub fn prices(base: i64, sale: Option<i64>, currency: Currency) -> (Money, Money, Option<Money>) {
    let base_m = Money::new(base, currency);
    let sale_m = sale.map(|s| Money::new(s, currency));
    (sale_m.unwrap_or(base_m), base_m, sale_m)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageFull {
    pub url: String,
    pub thumbnail: String,
    pub alt: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributeValue {
    pub attribute: String,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variant {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub base_price: Money,
    pub sale_price: Option<Money>,
    pub in_stock: bool,
    pub attributes: Vec<AttributeValue>,
}

/// A product option and its values across variants (for a picker), e.g. Colour: Black, Navy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductOption {
    pub attribute: String,
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatingSummary {
    pub average: f64,
    pub count: i64,
    /// approved reviews per star, "1" to "5"
    pub distribution: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Review {
    pub id: Id,
    pub rating: i64,
    pub title: String,
    pub body: String,
    /// first name and initial of the reviewer
    pub author: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDetail {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price: Money,
    pub base_price: Money,
    pub sale_price: Option<Money>,
    pub in_stock: bool,
    pub category: CategoryRef,
    pub brand: Option<BrandRef>,
    pub images: Vec<ImageFull>,
    pub options: Vec<ProductOption>,
    pub variants: Vec<Variant>,
    pub rating: RatingSummary,
    pub reviews: Vec<Review>,
    pub weight_grams: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryNode {
    pub id: Id,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub depth: i64,
    /// active products in this category and all below it
    pub product_count: i64,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryChild {
    pub id: Id,
    pub name: String,
    pub slug: String,
    pub product_count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryDetail {
    pub id: Id,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub depth: i64,
    pub product_count: i64,
    pub parent: Option<CategoryRef>,
    /// from the root down to this category (breadcrumbs)
    pub path: Vec<CategoryRef>,
    pub children: Vec<CategoryChild>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Brand {
    pub id: Id,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub logo_url: Option<String>,
    pub product_count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bestseller {
    #[serde(flatten)]
    pub product: ProductSummary,
    pub units_sold: i64,
}

// ----------------------------------------------------------------------------------------
// What the lists answer, for the OpenAPI document (the lists are written straight from
// SQLite's row buffers, so these types describe the bytes rather than produce them)
// ----------------------------------------------------------------------------------------

/// A product in a list cut to `fields=`: the fields of [`ProductSummary`], each present
/// unless `fields` leaves it out.
pub struct SparseProductSummary;

impl PartialSchema for SparseProductSummary {
    fn schema() -> RefOr<Schema> {
        match ProductSummary::schema() {
            RefOr::T(Schema::Object(mut o)) => {
                o.required.clear();
                o.description = Some("a product summary; every field is present unless fields= leaves it out".into());
                RefOr::T(Schema::Object(o))
            }
            other => other,
        }
    }
}
impl ToSchema for SparseProductSummary {}

/// `meta` of an offset page (`page`) of products.
#[derive(Serialize, ToSchema)]
pub struct OffsetMeta {
    pub current_page: i64,
    pub per_page: i64,
    /// every product matching the filters
    pub total: i64,
    pub last_page: i64,
    /// where keyset pagination continues after this page (null on the last page)
    pub next_cursor: Option<String>,
}

/// `meta` of a keyset page (`cursor`) of products.
#[derive(Serialize, ToSchema)]
pub struct KeysetMeta {
    pub per_page: i64,
    pub next_cursor: Option<String>,
    pub prev_cursor: Option<String>,
    pub has_more: bool,
}

/// `meta` of a product list: offset or keyset, by the parameters sent.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ListMeta {
    Offset(OffsetMeta),
    Keyset(KeysetMeta),
}

/// `GET /api/products`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProductPage {
    pub data: Vec<SparseProductSummary>,
    pub meta: ListMeta,
}

/// `meta` of a page of reviews.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReviewMeta {
    pub per_page: i64,
    /// approved reviews of the product
    pub total: i64,
    pub has_more: bool,
    pub next_cursor: Option<String>,
    pub prev_cursor: Option<String>,
}

/// `GET /api/products/{slug}/reviews`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReviewPage {
    pub data: Vec<Review>,
    pub meta: ReviewMeta,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BestsellerMeta {
    pub days: i64,
    pub limit: i64,
}

/// `GET /api/products/bestsellers`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BestsellerPage {
    pub data: Vec<Bestseller>,
    pub meta: BestsellerMeta,
}

/// A category facet: matches in the category and below it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CategoryFacet {
    pub id: Id,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<Id>,
    pub depth: i64,
    pub count: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BrandFacet {
    pub id: Id,
    pub name: String,
    pub slug: String,
    pub count: i64,
}

/// A price band, `[min, max)` in the current price; the last has no upper bound.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PriceBandFacet {
    pub min: Money,
    pub max: Option<Money>,
    pub count: i64,
}

/// Counts over every match (not only the page).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Facets {
    pub categories: Vec<CategoryFacet>,
    /// the 50 brands with most matches
    pub brands: Vec<BrandFacet>,
    pub price_bands: Vec<PriceBandFacet>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SearchMeta {
    /// the search text as understood
    pub q: String,
    pub current_page: i64,
    pub per_page: i64,
    pub total: i64,
    pub last_page: i64,
    pub facets: Facets,
}

/// `GET /api/search`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SearchPage {
    pub data: Vec<ProductSummary>,
    pub meta: SearchMeta,
}

// ----------------------------------------------------------------------------------------
// Sorting and keyset cursors
// ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Newest,
    PriceAsc,
    PriceDesc,
    Popular,
    Rating,
}

impl Sort {
    pub const CHOICES: &'static [(&'static str, Sort)] = &[
        ("newest", Sort::Newest),
        ("price_asc", Sort::PriceAsc),
        ("price_desc", Sort::PriceDesc),
        ("popular", Sort::Popular),
        ("rating", Sort::Rating),
    ];

    pub fn name(self) -> &'static str {
        Sort::CHOICES.iter().find(|(_, s)| *s == self).map(|(n, _)| *n).expect("every sort is listed")
    }

    /// The sort key column (an integer) on `products p`.
    pub fn key(self) -> &'static str {
        match self {
            Sort::Newest => "p.created_at",
            Sort::PriceAsc | Sort::PriceDesc => "p.price",
            Sort::Popular => "p.sales_count",
            Sort::Rating => "p.rating_x100",
        }
    }

    /// The index that yields this order on its own.
    pub fn index(self) -> &'static str {
        match self {
            Sort::Newest => "idx_products_newest",
            Sort::PriceAsc | Sort::PriceDesc => "idx_products_price",
            Sort::Popular => "idx_products_popular",
            Sort::Rating => "idx_products_rating",
        }
    }

    pub fn descending(self) -> bool {
        !matches!(self, Sort::PriceAsc)
    }
}

/// A position in a keyset-ordered list: the sort key and id of a row, and which side of it
/// the page lies on. Encoded as an opaque URL-safe token bound to its scope (the sort it
/// came from), so a cursor of one list is refused by another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub scope: String,
    /// true: the page before this row; false: the page after it
    pub before: bool,
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("1|{}|{}|{}|{}", self.scope, if self.before { 'b' } else { 'a' }, self.key, self.id);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes a token of `scope`; `None` for anything malformed or of another scope.
    pub fn decode(token: &str, scope: &str) -> Option<Cursor> {
        if token.len() > 200 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let mut parts = raw.split('|');
        let (v, s, d, k, i) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if v != "1" || s != scope || parts.next().is_some() {
            return None;
        }
        let before = match d {
            "a" => false,
            "b" => true,
            _ => return None,
        };
        Some(Cursor { scope: s.to_owned(), before, key: k.parse().ok()?, id: i.parse().ok()? })
    }
}

// ----------------------------------------------------------------------------------------
// Full-text terms
// ----------------------------------------------------------------------------------------

/// Free text from a user turned into a safe FTS5 query: words only (letters and digits),
/// each quoted, all required; the last word also matches as a prefix when it has three or
/// more characters (search as you type). FTS5 syntax and SQL in the input are just text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    pub words: Vec<String>,
    pub prefix_last: bool,
    /// the most typos a word may have and still match (`typos=`; 2 by default): words of
    /// 5 letters or more may have one, of 9 or more two (see `search_index::typo_budget`)
    pub typos: u8,
}

pub const MAX_SEARCH_WORDS: usize = 12;

impl SearchTerms {
    pub fn parse(q: &str) -> Option<SearchTerms> {
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.chars().take(64).collect::<String>().to_lowercase())
            .take(MAX_SEARCH_WORDS)
            .collect();
        if words.is_empty() {
            return None;
        }
        let ends_in_word = q.chars().last().is_some_and(|c| c.is_alphanumeric());
        let prefix_last = ends_in_word && words.last().is_some_and(|w| w.chars().count() >= 3);
        Some(SearchTerms { words, prefix_last, typos: 2 })
    }

    /// The MATCH expression restricted to some columns, e.g. `{name brand} : (...)`.
    pub fn fts_query_in(&self, columns: &[&str]) -> String {
        format!("{{{}}} : ({})", columns.join(" "), self.fts_query())
    }

    /// The FTS5 MATCH expression.
    pub fn fts_query(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push('"');
            out.push_str(w);
            out.push('"');
            if self.prefix_last && i == self.words.len() - 1 {
                out.push('*');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let c = Cursor { scope: "newest".into(), before: false, key: 1_700_000_000_000, id: 42 };
        let t = c.encode();
        assert_eq!(Cursor::decode(&t, "newest"), Some(c));
        assert_eq!(Cursor::decode(&t, "price_asc"), None, "scope is checked");
        assert_eq!(Cursor::decode("not-a-cursor", "newest"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("1|newest|a|x|1"), "newest"), None);
    }

    #[test]
    fn search_terms_neutralise_syntax() {
        let t = SearchTerms::parse("red\" OR 1=1; DROP TABLE products; -- NEAR(").unwrap();
        assert_eq!(t.fts_query(), "\"red\" \"or\" \"1\" \"1\" \"drop\" \"table\" \"products\" \"near\"");
        assert_eq!(SearchTerms::parse("class").unwrap().fts_query(), "\"class\"*");
        assert_eq!(SearchTerms::parse("tv ").unwrap().fts_query(), "\"tv\"");
        assert!(SearchTerms::parse(" \"*()- ").is_none());
    }
}
