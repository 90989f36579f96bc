//! The in-memory search index behind `/api/search`: postings per word, with which fields
//! the word appears in, and the columns facets, filters and sorts read, for every active
//! product.
//!
//! Why in memory: a search for a word that matches a tenth of a 100,000-product catalog
//! visits 10,000 documents. FTS5 alone costs ~35 ns a matched row before SQLite hands it
//! over, and the relevance tiers need three passes plus a lookup of the facet columns per
//! match — about 7 ms a search, so 64 concurrent searches queued for hundreds of ms. Here a
//! search is a merge of sorted `u32` lists and a pass over a dense array: ~0.1 ms for the
//! same 10,000 matches. SQLite stays the source of truth: the index is built from it at
//! start and kept current by the writer's post-commit hook, which runs before any writer
//! caller hears back — so no search after an acknowledged write sees the old product.
//! Until the first build completes (or if it cannot be built), searches run on FTS5, with
//! the same words, tiers and facets (a test compares the two).
//!
//! Invariants:
//! - Postings are sorted by product id, one entry per product, with a bit per field.
//! - A product is in the postings exactly when it is active; its `Doc` records the hash
//!   of the text it was indexed with, so a stock or sales change reindexes nothing.
//! - Words are normalized the way the FTS5 table's `unicode61 remove_diacritics 2`
//!   tokenizer does: runs of letters and digits, lower-cased, diacritics removed.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use fst::{IntoStreamer, Streamer};
use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder};
use rusqlite::Connection;

use super::handlers::PRICE_BANDS;
use super::listing::{self, Ask, Columns, Listing, Page, Want};
use super::model::{BrandRef, SearchTerms, Sort};
use super::store::{self, CategoryRow, Filter, IndexRow};
use crate::db::writer::{ChangeSet, TableChange};
use crate::domain::Id;

const NAME: u8 = 1;
const BRAND: u8 = 2;
const CATEGORY: u8 = 4;
const DESCRIPTION: u8 = 8;

/// A search sorted explicitly with at least this many matches takes its page from the
/// listing (see [`Index::search`]).
const LISTED_MIN: usize = 256;

/// A word's matches carry its typos in the bits above the fields.
const TYPO_SHIFT: u8 = 4;
const FIELDS: u8 = (1 << TYPO_SHIFT) - 1;

/// Most words one query word may stand for with typos: the closest, then the commonest.
const MAX_DERIVED: usize = 50;

/// Words added since the typo lookup's FST was built are read from a plain set; past this
/// many, the FST is built again.
const FRESH_MAX: usize = 20_000;

/// How many typos a query word of `chars` characters may have and still match (as
/// Meilisearch does: none under 5, one from 5, two from 9), at most `max` (`typos=`).
pub fn typo_budget(chars: usize, max: u8) -> u8 {
    let budget = match chars {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    };
    budget.min(max)
}

/// The Levenshtein automaton builders (transpositions count as one typo), made once.
fn automaton(typos: u8) -> &'static LevenshteinAutomatonBuilder {
    static ONE: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    static TWO: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    match typos {
        1 => ONE.get_or_init(|| LevenshteinAutomatonBuilder::new(1, true)),
        _ => TWO.get_or_init(|| LevenshteinAutomatonBuilder::new(2, true)),
    }
}

/// Past this many changed products in one commit, rebuilding is cheaper than patching.
const REBUILD_AFTER: usize = 5_000;

/// Calls `f` with each normalized word of `text`.
pub fn words(text: &str, mut f: impl FnMut(&str)) {
    let mut buf = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            fold(c, &mut buf);
        } else if !buf.is_empty() {
            f(&buf);
            buf.clear();
        }
    }
    if !buf.is_empty() {
        f(&buf);
    }
}

/// Lower case without diacritics: `É` → `e`.
fn fold(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    unicode_normalization::char::decompose_canonical(c, |d| {
        if !unicode_normalization::char::is_combining_mark(d) {
            out.extend(d.to_lowercase());
        }
    });
}

/// A word's normalized form (a query word is a single run of letters and digits already).
fn normalized(word: &str) -> String {
    let mut out = String::new();
    words(word, |w| out.push_str(w));
    out
}

#[derive(Default)]
struct Postings {
    ids: Vec<u32>,
    fields: Vec<u8>,
}

impl Postings {
    fn insert(&mut self, id: u32, fields: u8) {
        // new products have the highest ids: usually an append
        match self.ids.last() {
            Some(&last) if last >= id => match self.ids.binary_search(&id) {
                Ok(i) => self.fields[i] |= fields,
                Err(i) => {
                    self.ids.insert(i, id);
                    self.fields.insert(i, fields);
                }
            },
            _ => {
                self.ids.push(id);
                self.fields.push(fields);
            }
        }
    }

    fn remove_all(&mut self, ids: &BTreeSet<u32>) {
        if ids.len() <= 16 {
            for id in ids {
                if let Ok(i) = self.ids.binary_search(id) {
                    self.ids.remove(i);
                    self.fields.remove(i);
                }
            }
        } else {
            let mut keep = 0;
            for i in 0..self.ids.len() {
                if !ids.contains(&self.ids[i]) {
                    self.ids[keep] = self.ids[i];
                    self.fields[keep] = self.fields[i];
                    keep += 1;
                }
            }
            self.ids.truncate(keep);
            self.fields.truncate(keep);
        }
    }
}

/// What every search reads of every match: facets and relevance. 16 bytes, so the array
/// of a 100,000-product catalog (1.6 MB) stays in the CPU's cache — a search reads one
/// per match at scattered places, and those reads are most of its time.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Doc {
    /// position in `Refs::categories`
    pub category: u32,
    /// position in `Refs::brand_list` + 1; 0 for none
    pub brand: u32,
    /// units sold (relevance ties); saturates at u32::MAX
    pub sales: u32,
    /// index into `PRICE_BANDS`
    pub band: u8,
    pub active: bool,
    pub in_stock: bool,
}

/// What only price filters and explicit sorts read.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Cold {
    pub price: i64,
    pub created_at: i64,
    pub rating_x100: i32,
}

/// Category and brand names, shared with the handlers that render facets.
pub struct Refs {
    /// parents before children
    pub categories: Vec<CategoryRow>,
    category_pos: HashMap<i64, u32>,
    /// position of each category's parent
    parent_pos: Vec<Option<u32>>,
    pub brands: HashMap<i64, BrandRef>,
    brand_list: Vec<i64>,
    brand_pos: HashMap<i64, u32>,
    /// Each category's and brand's facet entry as JSON up to its count, rendered once: a
    /// search lists every category with matches, and escaping the same names per request
    /// was a tenth of its time.
    category_json: Vec<String>,
    brand_json: HashMap<i64, String>,
    /// the same in each language with a translation of a category or brand
    localized: HashMap<String, Facets>,
    /// each category's and brand's words as indexed: its name in every language
    category_words: Vec<String>,
    brand_words: HashMap<i64, String>,
}

/// The facet entries of one language (see [`Refs`]).
struct Facets {
    category_json: Vec<String>,
    brand_json: HashMap<i64, String>,
    brand_names: HashMap<i64, String>,
}

/// A category's facet entry as JSON up to its count.
fn category_head(c: &CategoryRow, name: &str, slug: &str) -> String {
    #[derive(serde::Serialize)]
    struct Head<'a> {
        id: Id,
        name: &'a str,
        slug: &'a str,
        parent_id: Option<Id>,
        depth: i64,
    }
    let head = Head { id: Id(c.id), name, slug, parent_id: c.parent_id.map(Id), depth: c.depth };
    let head = serde_json::to_string(&head).expect("category facets serialize");
    format!("{},\"count\":", &head[..head.len() - 1])
}

/// A brand's facet entry as JSON up to its count.
fn brand_head(b: &BrandRef) -> String {
    let head = serde_json::to_string(b).expect("brand facets serialize");
    format!("{},\"count\":", &head[..head.len() - 1])
}

impl Refs {
    pub fn load(conn: &Connection) -> rusqlite::Result<Refs> {
        let categories = store::categories(conn, false)?;
        let category_pos: HashMap<i64, u32> = categories.iter().enumerate().map(|(i, c)| (c.id, i as u32)).collect();
        let parent_pos = categories.iter().map(|c| c.parent_id.and_then(|p| category_pos.get(&p).copied())).collect();
        let list = store::all_brand_refs(conn)?;
        let brand_list: Vec<i64> = list.iter().map(|b| b.id.0).collect();
        let brand_pos = brand_list.iter().enumerate().map(|(i, id)| (*id, i as u32 + 1)).collect();
        let category_json = categories.iter().map(|c| category_head(c, &c.name, &c.slug)).collect();
        let brand_json = list.iter().map(|b| (b.id.0, brand_head(b))).collect();
        // translations: (owner, locale, name, slug)
        let translated = |sql: &str| -> rusqlite::Result<Vec<(i64, String, String, String)>> {
            conn.prepare_cached(sql)?.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
        };
        let cat_tr = translated(
            "SELECT category_id, locale, name, slug FROM category_translations ORDER BY locale, category_id",
        )?;
        let brand_tr =
            translated("SELECT brand_id, locale, name, slug FROM brand_translations ORDER BY locale, brand_id")?;
        let mut category_words: Vec<String> = categories.iter().map(|c| c.name.clone()).collect();
        let mut brand_words: HashMap<i64, String> = list.iter().map(|b| (b.id.0, b.name.clone())).collect();
        let mut localized: HashMap<String, Facets> = HashMap::new();
        let mut locales: Vec<&str> = cat_tr.iter().chain(&brand_tr).map(|t| t.1.as_str()).collect();
        locales.sort_unstable();
        locales.dedup();
        for l in locales {
            let cats: HashMap<i64, (&str, &str)> =
                cat_tr.iter().filter(|t| t.1 == l).map(|t| (t.0, (t.2.as_str(), t.3.as_str()))).collect();
            let brands: HashMap<i64, (&str, &str)> =
                brand_tr.iter().filter(|t| t.1 == l).map(|t| (t.0, (t.2.as_str(), t.3.as_str()))).collect();
            let mut facets =
                Facets { category_json: Vec::new(), brand_json: HashMap::new(), brand_names: HashMap::new() };
            for c in &categories {
                let (name, slug) = cats.get(&c.id).copied().unwrap_or((&c.name, &c.slug));
                facets.category_json.push(category_head(c, name, slug));
            }
            for b in &list {
                let (name, slug) = brands.get(&b.id.0).copied().unwrap_or((&b.name, &b.slug));
                let r = BrandRef { id: b.id, name: name.to_owned(), slug: slug.to_owned() };
                facets.brand_json.insert(b.id.0, brand_head(&r));
                facets.brand_names.insert(b.id.0, r.name);
            }
            localized.insert(l.to_owned(), facets);
        }
        for (id, _, name, _) in &cat_tr {
            if let Some(&pos) = category_pos.get(id) {
                let words = &mut category_words[pos as usize];
                words.push(' ');
                words.push_str(name);
            }
        }
        for (id, _, name, _) in &brand_tr {
            if let Some(words) = brand_words.get_mut(id) {
                words.push(' ');
                words.push_str(name);
            }
        }
        let brands = list.into_iter().map(|b| (b.id.0, b)).collect();
        Ok(Refs {
            categories,
            category_pos,
            parent_pos,
            brands,
            brand_list,
            brand_pos,
            category_json,
            brand_json,
            localized,
            category_words,
            brand_words,
        })
    }

    /// A category's words as indexed: its name in every language.
    fn category_name(&self, pos: u32) -> &str {
        &self.category_words[pos as usize]
    }

    /// A brand's words as indexed: its name in every language.
    fn brand_name(&self, pos: u32) -> &str {
        match pos {
            0 => "",
            p => self.brand_words.get(&self.brand_list[p as usize - 1]).map_or("", |b| b.as_str()),
        }
    }
}

/// The most markets (currency and price lists, see [`super::prices`]) whose price columns
/// the index keeps at once; one more replaces the oldest. A market costs about what the
/// default's listing does (~125 bytes a product: ~126 MB at a million products).
const MAX_MARKETS: usize = 4;

/// A market's prices as the index sorts, filters and counts by them: its own price column
/// and listing, learned on the first request that needs them, kept current with every
/// product change like the default's, dropped when a price list changes.
struct MarketView {
    market: super::prices::Market,
    cold: Vec<Cold>,
    listing: Listing,
    /// per product: the lowest price (as paid) its general lists set, and its special lists
    general: HashMap<u32, i64>,
    special: HashMap<u32, i64>,
    /// when it was learned (the oldest goes first)
    learned: Instant,
}

impl MarketView {
    /// Learns `market`'s columns from the default's (`docs`, `cold`, with `refs`'
    /// categories and brands) and its price lists as `conn` reads them.
    fn build(
        conn: &Connection,
        docs: &[Doc],
        cold: &[Cold],
        refs: &Refs,
        market: &super::prices::Market,
    ) -> rusqlite::Result<MarketView> {
        let (general_lists, special_lists) = market.lists();
        let (mut general, mut special) = (HashMap::new(), HashMap::new());
        let mut stmt = conn.prepare_cached(
            "SELECT product_id, coalesce(sale, amount) FROM price_list_prices WHERE price_list_id = ?1 AND variant_id = 0",
        )?;
        for (lists, into) in [(general_lists, &mut general), (special_lists, &mut special)] {
            for &list in lists {
                let rows = stmt.query_map([list], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (id, price) = row?;
                    let Ok(id) = u32::try_from(id) else { continue };
                    into.entry(id).and_modify(|p: &mut i64| *p = (*p).min(price)).or_insert(price);
                }
            }
        }
        let mut view = MarketView {
            market: market.clone(),
            cold: Vec::with_capacity(cold.len()),
            listing: Listing::empty(),
            general,
            special,
            learned: Instant::now(),
        };
        view.cold = (0..cold.len() as u32).map(|id| view.priced(id, &cold[id as usize])).collect();
        view.listing = Listing::build(
            refs.parent_pos.clone(),
            refs.brand_list.len() + 1,
            Columns { docs, cold: &view.cold },
            listing::SCOPE_MIN,
        );
        Ok(view)
    }

    /// Brings a market learned from the columns `docs` and `cold` up to the index's: each
    /// product whose columns changed since (or that is new) leaves the market's orders as
    /// it was and joins them as it is, as a commit's update does. The categories and
    /// brands must be the same (`Index::structure` says so).
    fn catch_up(&mut self, docs: &[Doc], cold: &[Cold], index: &Index) {
        let changed: Vec<u32> = (0..index.docs.len())
            .filter(|&i| docs.get(i) != Some(&index.docs[i]) || cold.get(i) != Some(&index.cold[i]))
            .map(|i| i as u32)
            .collect();
        for &id in changed.iter().filter(|&&id| (id as usize) < docs.len()) {
            self.listing.remove(id, Columns { docs, cold: &self.cold });
        }
        self.cold.resize(index.cold.len(), Cold::default());
        for &id in &changed {
            self.cold[id as usize] = self.priced(id, &index.cold[id as usize]);
            self.listing.insert(id, Columns { docs: &index.docs, cold: &self.cold });
        }
    }

    /// The default's columns of a product with its price in this market.
    fn priced(&self, id: u32, own: &Cold) -> Cold {
        let price = self.market.effective(own.price, self.general.get(&id).copied(), self.special.get(&id).copied());
        Cold { price, ..*own }
    }

    fn bytes(&self) -> usize {
        self.cold.capacity() * std::mem::size_of::<Cold>() + (self.general.len() + self.special.len()) * 16
    }
}

/// The price columns a request reads: the default's or a market's.
#[derive(Clone, Copy)]
struct Priced<'a> {
    cold: &'a [Cold],
    listing: &'a Listing,
    /// a market's: price bands come from its prices, not the docs'
    market: bool,
}

struct Index {
    docs: Vec<Doc>,
    cold: Vec<Cold>,
    /// markets' price columns by [`super::prices::Market::key`] (shared with the requests
    /// reading one, which hold the index's read lock meanwhile: a commit's update, under
    /// its write lock, finds each one unshared)
    markets: RwLock<HashMap<String, Arc<MarketView>>>,
    /// changes (from [`next_structure`]) whenever the markets are forgotten or the
    /// categories, brands or orders are rebuilt: a market learned from columns copied
    /// before can no longer be brought up to date, and is learned again
    structure: AtomicU64,
    /// per product, the hash of the text it was indexed with (name, description, brand
    /// and category names): a change that leaves it alone reindexes nothing
    texts: Vec<u64>,
    terms: HashMap<Box<str>, Postings>,
    /// the same words in order, for prefix queries
    sorted: BTreeSet<Box<str>>,
    /// the words as an FST, for the words within a few typos of a query word (a
    /// Levenshtein automaton walks it); words removed since stay in it (`terms` says
    /// whether a word still matches anything)
    vocab: fst::Set<Vec<u8>>,
    /// words added since `vocab` was built
    fresh: BTreeSet<Box<str>>,
    refs: Arc<Refs>,
    /// the product lists' orders and buckets over the same columns
    listing: Listing,
}

enum State {
    /// Not built yet: changes committed meanwhile are applied once it is.
    /// `all`: a commit changed too many products to list; the build starts over.
    Building {
        changed: BTreeSet<i64>,
        refs_changed: bool,
        all: bool,
    },
    Ready(Box<Index>),
    /// Could not be built (see the log): FTS5 answers searches.
    Off,
}

/// What a search found: the total, the requested page and the facet counts.
pub struct Matches {
    pub total: usize,
    /// product ids of the page, in display order
    pub page: Vec<i64>,
    /// matches per category (not yet rolled up to ancestors)
    pub by_category: Vec<(i64, i64)>,
    pub by_brand: Vec<(i64, i64)>,
    pub by_band: Vec<i64>,
    pub refs: Arc<Refs>,
}

/// Facets show at most this many brands, the most frequent first.
const MAX_BRAND_FACETS: usize = 50;

impl Matches {
    /// `{"categories": [...], "brands": [...], "price_bands": [...]}`: every category with
    /// matches in it or below it (counts rolled up, parents first), the brands with the most
    /// matches (ties by name), and every price band.
    /// In `locale`, the names and slugs are the translations' where there are.
    /// `currency`: of the price bands (a market's; the bands are the same numbers in it).
    pub fn write_facets(&self, out: &mut Vec<u8>, locale: Option<&str>, currency: crate::domain::Currency) {
        let refs = &self.refs;
        let local = locale.and_then(|l| refs.localized.get(l));
        let category_json = local.map_or(&refs.category_json, |f| &f.category_json);
        let brand_json = local.map_or(&refs.brand_json, |f| &f.brand_json);
        let mut rolled = vec![0i64; refs.categories.len()];
        for (id, n) in &self.by_category {
            let mut at = refs.category_pos.get(id).copied();
            // bounded by the number of categories, should the data ever hold a cycle
            for _ in 0..refs.categories.len() {
                let Some(i) = at else { break };
                rolled[i as usize] += n;
                at = refs.parent_pos[i as usize];
            }
        }
        out.extend_from_slice(b"{\"categories\":[");
        let mut first = true;
        for (head, n) in category_json.iter().zip(&rolled).filter(|(_, n)| **n > 0) {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
            out.push(b'}');
        }
        let mut brands: Vec<(&BrandRef, i64, &str)> = self
            .by_brand
            .iter()
            .filter_map(|(id, n)| refs.brands.get(id).map(|b| (b, *n)))
            .map(|(b, n)| {
                (b, n, local.and_then(|f| f.brand_names.get(&b.id.0)).map_or(b.name.as_str(), String::as_str))
            })
            .collect();
        brands.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(b.2)));
        out.extend_from_slice(b"],\"brands\":[");
        for (i, (b, n, _)) in brands.iter().take(MAX_BRAND_FACETS).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(brand_json[&b.id.0].as_bytes());
            out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"price_bands\":");
        let bands: Vec<serde_json::Value> = PRICE_BANDS
            .iter()
            .zip(&self.by_band)
            .map(|((lo, hi), n)| {
                let m = |a: i64| crate::domain::Money::new(a, currency);
                serde_json::json!({"min": m(*lo), "max": hi.map(m), "count": n})
            })
            .collect();
        serde_json::to_writer(&mut *out, &bands).expect("price bands serialize");
        out.push(b'}');
    }

    /// The facets as a string (see [`Matches::write_facets`]).
    pub fn facets(&self) -> String {
        let mut out = Vec::new();
        self.write_facets(&mut out, None, crate::domain::Currency::USD);
        String::from_utf8(out).expect("facets are JSON text")
    }
}

/// A candidate's place in display order as one integer pair, so ranking 10,000 matches
/// compares integers instead of calling a comparator: relevance (tier, better sellers
/// first, then id) or the chosen sort (ties by id, in the sort's direction).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank(u128, u64);

impl Rank {
    pub fn new(sort: Option<Sort>, id: i64, tier: u8, sales_count: i64, sort_key: i64) -> Rank {
        // i64 order as u64 order
        let biased = |v: i64| (v as u64) ^ (1 << 63);
        let id = biased(id);
        match sort {
            None => Rank((tier as u128) << 64 | !biased(sales_count) as u128, id),
            Some(s) if s.descending() => Rank(!biased(sort_key) as u128, !id),
            Some(_) => Rank(biased(sort_key) as u128, id),
        }
    }

    fn id(self, sort: Option<Sort>) -> i64 {
        let id = match sort {
            Some(s) if s.descending() => !self.1,
            _ => self.1,
        };
        (id ^ (1 << 63)) as i64
    }
}

/// The first `end` candidates in display order, kept while candidates stream past, so a
/// page of a search with 10,000 matches neither stores nor sorts them all. Deep pages
/// (past [`TopK::SHORT`]) collect every candidate and select once instead: inserting into
/// a long sorted run costs too much when candidates arrive in order.
pub struct TopK {
    top: Vec<Rank>,
    end: usize,
}

impl TopK {
    const SHORT: usize = 64;

    pub fn new(end: usize) -> Self {
        TopK { top: Vec::with_capacity(end.min(Self::SHORT) + 1), end }
    }

    #[inline(always)]
    pub fn push(&mut self, r: Rank) {
        // after the first few hundred candidates, nearly all stop here
        if self.top.len() == self.end && self.end <= Self::SHORT && self.end > 0 && r >= self.top[self.end - 1] {
            return;
        }
        self.admit(r);
    }

    #[inline(never)]
    fn admit(&mut self, r: Rank) {
        let end = self.end;
        if end > Self::SHORT {
            self.top.push(r);
        } else if end > 0 && (self.top.len() < end || r < self.top[end - 1]) {
            let at = self.top.partition_point(|t| *t < r);
            self.top.insert(at, r);
            self.top.truncate(end);
        }
    }

    /// Ids of `start..end`.
    pub fn page(mut self, start: usize, sort: Option<Sort>) -> Vec<i64> {
        if self.end > Self::SHORT && self.top.len() > start {
            let end = self.end.min(self.top.len());
            self.top.select_nth_unstable(end - 1);
            self.top.truncate(end);
            self.top.sort_unstable();
        }
        self.top.get(start..).unwrap_or(&[]).iter().map(|r| r.id(sort)).collect()
    }
}

pub fn price_band(price: i64) -> usize {
    PRICE_BANDS.iter().position(|(lo, hi)| price >= *lo && hi.is_none_or(|hi| price < hi)).unwrap_or(0)
}

pub struct SearchIndex {
    state: RwLock<State>,
    /// A read-only connection of the index's own, used by the writer's hook to read what
    /// a commit changed (the pool's connections belong to the reader threads).
    conn: Mutex<Option<Connection>>,
    /// held while a market is learned: one at a time, so a burst of first requests after a
    /// price list changed learns each market once (the others wait, then read it)
    learning: Mutex<()>,
}

/// A value of `Index::structure` never used before.
fn next_structure() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Default for SearchIndex {
    fn default() -> Self {
        SearchIndex {
            state: RwLock::new(State::Building { changed: BTreeSet::new(), refs_changed: false, all: false }),
            conn: Mutex::new(None),
            learning: Mutex::new(()),
        }
    }
}

impl SearchIndex {
    /// An index that is never built: SQLite answers everything.
    pub fn off() -> SearchIndex {
        SearchIndex { state: RwLock::new(State::Off), conn: Mutex::new(None), learning: Mutex::new(()) }
    }

    /// Builds the index from the database at `path`; changes committed meanwhile are
    /// recorded by [`SearchIndex::apply`] and applied at the end.
    pub fn build(&self, path: &Path) {
        let started = Instant::now();
        let conn = match crate::db::open_read(path) {
            Ok(c) => c,
            Err(e) => return self.fail(&e),
        };
        // a bulk change during the build (too many rows to list) starts it over
        for _ in 0..3 {
            let mut index = match build_index(&conn) {
                Ok(index) => index,
                Err(e) => return self.fail(&e),
            };
            let mut conn_slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            let State::Building { changed, refs_changed, all } = &mut *state else { return };
            if *all {
                *state = State::Building { changed: BTreeSet::new(), refs_changed: false, all: false };
                continue;
            }
            if let Err(e) = refresh(&conn, &mut index, changed, *refs_changed) {
                drop(state);
                return self.fail(&e);
            }
            let products = index.docs.iter().filter(|d| d.active).count();
            tracing::info!(
                products,
                words = index.terms.len(),
                ms = started.elapsed().as_millis() as u64,
                "search index ready"
            );
            *state = State::Ready(Box::new(index));
            *conn_slot = Some(conn);
            return;
        }
        self.fail(&"the catalog kept changing in bulk while the index was built");
    }

    /// Builds the index again from scratch (a replica whose copy was restored anew);
    /// searches are answered by SQLite meanwhile. An index that is off stays off.
    pub fn rebuild(&self, path: &Path) {
        {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            if matches!(*state, State::Off) {
                return;
            }
            *state = State::Building { changed: BTreeSet::new(), refs_changed: false, all: false };
        }
        self.build(path);
    }

    fn fail(&self, e: &dyn std::fmt::Display) {
        tracing::error!(error = %e, "search index could not be built; searches use FTS5");
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = State::Off;
    }

    /// `ready`, `building` or `off` (disabled, or could not be built).
    pub fn status(&self) -> &'static str {
        match *self.state.read().unwrap_or_else(|e| e.into_inner()) {
            State::Ready(_) => "ready",
            State::Building { .. } => "building",
            State::Off => "off",
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(*self.state.read().unwrap_or_else(|e| e.into_inner()), State::Ready(_))
    }

    /// Bytes the built index holds for words and their postings (keys, ids, fields, the
    /// ordered copy of the words) and for the columns, and of those the typo lookup's
    /// (the FST and the words added since), for the benchmarks; `None` until built.
    pub fn bytes(&self) -> Option<(usize, usize)> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let State::Ready(index) = &*state else { return None };
        let words: usize =
            index.terms.iter().map(|(w, p)| 2 * w.len() + p.ids.capacity() * 4 + p.fields.capacity()).sum();
        let columns = index.docs.capacity() * std::mem::size_of::<Doc>()
            + index.cold.capacity() * std::mem::size_of::<Cold>()
            + index.texts.capacity() * 8;
        let typos = index.vocab.as_fst().as_bytes().len() + index.fresh.iter().map(|w| w.len()).sum::<usize>();
        let markets: usize = index.markets.read().unwrap_or_else(|e| e.into_inner()).values().map(|m| m.bytes()).sum();
        Some((words + columns + typos + markets, typos))
    }

    /// The writer's post-commit hook: brings the index up to what was just committed.
    pub fn patch(&self, changes: &ChangeSet) {
        let products = changes.all_rows("products");
        let products = products.as_ref();
        let refs_changed = changes.touches("categories") || changes.touches("brands");
        if changes.touches("price_lists") || changes.touches("price_list_prices") {
            // markets' prices are learned again from the lists as they are now
            self.forget_markets();
        }
        if products.is_none() && !refs_changed {
            return;
        }
        let mut conn_slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match &mut *state {
            State::Off => {}
            State::Building { changed, refs_changed: r, all } => {
                match products {
                    Some(TableChange::Rows(ids)) => changed.extend(ids.iter().copied()),
                    Some(TableChange::All) => *all = true,
                    None => {}
                }
                *r |= refs_changed;
            }
            State::Ready(index) => {
                let Some(conn) = conn_slot.as_mut() else { return };
                let outcome = match products {
                    Some(TableChange::All) => build_index(conn).map(|fresh| **index = fresh),
                    Some(TableChange::Rows(ids)) if ids.len() > REBUILD_AFTER => {
                        build_index(conn).map(|fresh| **index = fresh)
                    }
                    Some(TableChange::Rows(ids)) => refresh(conn, index, ids, refs_changed),
                    None => refresh(conn, index, &BTreeSet::new(), refs_changed),
                };
                if let Err(e) = outcome {
                    // a stale index would show wrong results: fall back to FTS5 instead
                    tracing::error!(error = %e, "search index: could not apply a commit; searches use FTS5");
                    *state = State::Off;
                }
            }
        }
    }

    /// Forgets every market's price columns (a price list's window opened or closed: they
    /// are learned again on their next request).
    pub fn forget_markets(&self) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if let State::Ready(index) = &*state {
            index.markets.write().unwrap_or_else(|e| e.into_inner()).clear();
            index.structure.store(next_structure(), Ordering::Release);
        }
    }

    /// Learns `market`'s price columns unless the index knows them. The index's read lock
    /// is held only to copy the default's columns (~40 bytes a product) and, after the
    /// market is learned from the copy, to bring it up to the commits made meanwhile: a
    /// commit waits for a copy and a compare, not for the learning (half a second at a
    /// million products). When the markets were forgotten or the orders rebuilt meanwhile,
    /// it starts over (twice at most; then the request learns it under the lock).
    fn learn(&self, conn: &Connection, market: &super::prices::Market) -> rusqlite::Result<()> {
        let key = market.key();
        let known = |index: &Index| index.markets.read().unwrap_or_else(|e| e.into_inner()).contains_key(&key);
        {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            match &*state {
                State::Ready(index) if !known(index) => {}
                _ => return Ok(()),
            }
        }
        let _one = self.learning.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..3 {
            let (docs, cold, refs, structure) = {
                let state = self.state.read().unwrap_or_else(|e| e.into_inner());
                let State::Ready(index) = &*state else { return Ok(()) };
                if known(index) {
                    return Ok(());
                }
                let structure = index.structure.load(Ordering::Acquire);
                (index.docs.clone(), index.cold.clone(), index.refs.clone(), structure)
            };
            let mut view = MarketView::build(conn, &docs, &cold, &refs, market)?;
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let State::Ready(index) = &*state else { return Ok(()) };
            if index.structure.load(Ordering::Acquire) != structure {
                continue;
            }
            view.catch_up(&docs, &cold, index);
            if view.listing.needs_rebuild() {
                continue;
            }
            index.remember(key.clone(), view);
            return Ok(());
        }
        Ok(())
    }

    /// One page of a product list (with `terms`, of the products matching them), or `None`
    /// when the index is not available (use SQLite). The total is counted when asked for,
    /// or when it costs nothing extra.
    ///
    /// In a market (`filter.market`) a list ordered or filtered by price reads the market's
    /// price column, learned on first use (`conn` reads its price lists).
    pub fn list(
        &self,
        conn: &Connection,
        filter: &Filter,
        terms: Option<&SearchTerms>,
        ask: &Ask,
    ) -> rusqlite::Result<Option<Page>> {
        let by_price = matches!(ask.sort, Sort::PriceAsc | Sort::PriceDesc)
            || filter.min_price.is_some()
            || filter.max_price.is_some();
        if let Some(m) = filter.market.as_ref().filter(|_| by_price) {
            self.learn(conn, m)?;
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let State::Ready(index) = &*state else { return Ok(None) };
        let Ok(want) = index.want(filter) else {
            return Ok(Some(Page { rows: Vec::new(), more: false, total: Some(0) }));
        };
        let run = |priced: Priced<'_>| match terms {
            Some(terms) => index.list_matching(priced, terms, &want, ask),
            None => priced.listing.page(Columns { docs: &index.docs, cold: priced.cold }, &want, ask, None),
        };
        match &filter.market {
            Some(m) if by_price => index.in_market(conn, m, run).map(Some),
            _ => Ok(Some(run(index.priced()))),
        }
    }

    /// Runs a search, or `None` when the index is not available (use FTS5).
    ///
    /// In a market (`filter.market`) its price column orders, filters and counts the
    /// price bands (learned on first use; `conn` reads its price lists).
    pub fn search(
        &self,
        conn: &Connection,
        terms: &SearchTerms,
        filter: &Filter,
        sort: Option<Sort>,
        start: usize,
        end: usize,
    ) -> rusqlite::Result<Option<Matches>> {
        if let Some(m) = &filter.market {
            self.learn(conn, m)?;
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let State::Ready(index) = &*state else { return Ok(None) };
        let run = |priced: Priced<'_>| index.search(priced, terms, filter, sort, start, end);
        match &filter.market {
            Some(m) => index.in_market(conn, m, run).map(Some),
            None => Ok(Some(run(index.priced()))),
        }
    }
}

impl SearchIndex {
    /// Completions of the last word of `terms` as a prefix (within its typos) among the
    /// words of names, brands and categories, each with how many products it and the words
    /// before it match; `None` until the index is built.
    pub fn suggest(&self, terms: &SearchTerms, limit: usize) -> Option<Vec<Suggestion>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let State::Ready(index) = &*state else { return None };
        Some(index.suggest(terms, limit))
    }
}

/// A completed query: the words before the last as typed, the last completed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub text: String,
    /// products that match it (every word, the completed one in a name, brand or category)
    pub matches: usize,
    /// typos the completion took (0: the last word as typed starts it)
    pub typos: u8,
}

/// Words starting with a prefix read in order for suggestions, at most (the commonest of
/// them are counted).
const SUGGEST_SCAN: usize = 2_000;
/// Candidate completions counted, at most.
const SUGGEST_COUNTED: usize = 24;

/// The same search on SQLite alone: one FTS5 pass over every match (with the facet
/// columns from a narrow covering index), two more over name and name/brand/category for
/// the relevance tiers. Used until the in-memory index is ready, or when it is turned off.
pub fn fts_matches(
    conn: &Connection,
    terms: &SearchTerms,
    filter: &Filter,
    sort: Option<Sort>,
    start: usize,
    end: usize,
) -> rusqlite::Result<Matches> {
    let hits = store::search_hits(conn, filter, sort)?;
    let mut tiers = vec![2u8; hits.len()];
    if sort.is_none() && !hits.is_empty() {
        // hits and tier ids both ascend by id: a linear merge assigns tiers
        let by_meta = store::fts_ids(conn, &terms.fts_query_in(&["name", "brand", "category"]))?;
        let by_name = store::fts_ids(conn, &terms.fts_query_in(&["name"]))?;
        for (ids, tier) in [(by_meta, 1u8), (by_name, 0u8)] {
            let mut i = 0;
            for (h, t) in hits.iter().zip(tiers.iter_mut()) {
                while i < ids.len() && ids[i] < h.id {
                    i += 1;
                }
                if ids.get(i) == Some(&h.id) {
                    *t = tier;
                }
            }
        }
    }
    let mut by_category: BTreeMap<i64, i64> = BTreeMap::new();
    let mut by_brand: BTreeMap<i64, i64> = BTreeMap::new();
    let mut by_band = vec![0i64; PRICE_BANDS.len()];
    let mut top = TopK::new(end);
    for (h, tier) in hits.iter().zip(tiers) {
        *by_category.entry(h.category_id).or_default() += 1;
        if let Some(b) = h.brand_id {
            *by_brand.entry(b).or_default() += 1;
        }
        by_band[price_band(h.price)] += 1;
        top.push(Rank::new(sort, h.id, tier, h.sales_count, h.sort_key));
    }
    Ok(Matches {
        total: hits.len(),
        page: top.page(start, sort),
        by_category: by_category.into_iter().collect(),
        by_brand: by_brand.into_iter().collect(),
        by_band,
        refs: Arc::new(Refs::load(conn)?),
    })
}

/// Asks the CPU to start loading `items[i]`: a search reads one doc per match at scattered
/// positions (a list walk one per step), and without this each read waits for memory in
/// turn.
#[inline(always)]
#[allow(unsafe_code)] // the one unsafe block of the crate: a CPU hint
pub fn prefetch<T>(items: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(d) = items.get(i) {
        // SAFETY: a prefetch is a hint that never faults; the pointer is a valid element.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((d as *const T).cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, i);
}

/// Several postings as one: every product in any of them, each with the fields of all of
/// them and the fewest typos any of them took (in the bits above the fields).
///
/// Merged two at a time, the two shortest first (the optimal merge order): each merge is
/// one linear pass over two lists already in id order, so a union costs its entries times
/// the levels they go through, never a sort, and the longest list (a common word) is read
/// once, in the last merge.
fn union<'a>(lists: impl Iterator<Item = (&'a Postings, u8)>) -> Postings {
    let mut runs: Vec<Run<'a>> = lists.map(|(p, typos)| Run::Word(p, typos)).collect();
    loop {
        runs.sort_unstable_by_key(|r| std::cmp::Reverse(r.len()));
        match (runs.pop(), runs.pop()) {
            (None, _) => return Postings::default(),
            (Some(one), None) => return merge(&one, &Run::Merged(Postings::default())),
            (Some(a), Some(b)) => runs.push(Run::Merged(merge(&a, &b))),
        }
    }
}

/// A list [`union`] merges: a word's postings (its typos for every entry) or a merge's.
enum Run<'a> {
    Word(&'a Postings, u8),
    Merged(Postings),
}

impl Run<'_> {
    fn len(&self) -> usize {
        match self {
            Run::Word(p, _) => p.ids.len(),
            Run::Merged(p) => p.ids.len(),
        }
    }

    /// The ids and the fields with their typos of entry `i`.
    #[inline(always)]
    fn at(&self, i: usize) -> (u32, u8) {
        match self {
            Run::Word(p, typos) => (p.ids[i], (p.fields[i] & FIELDS) | typos << TYPO_SHIFT),
            Run::Merged(p) => (p.ids[i], p.fields[i]),
        }
    }
}

/// Two runs as one, in id order: an id in both has the fields of both and the fewer typos.
fn merge(a: &Run, b: &Run) -> Postings {
    let (n, m) = (a.len(), b.len());
    let mut out = Postings { ids: Vec::with_capacity(n + m), fields: Vec::with_capacity(n + m) };
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        let ((x, fx), (y, fy)) = (a.at(i), b.at(j));
        let (id, f) = match x.cmp(&y) {
            std::cmp::Ordering::Less => {
                i += 1;
                (x, fx)
            }
            std::cmp::Ordering::Greater => {
                j += 1;
                (y, fy)
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
                let typos = (fx >> TYPO_SHIFT).min(fy >> TYPO_SHIFT);
                (x, ((fx | fy) & FIELDS) | typos << TYPO_SHIFT)
            }
        };
        out.ids.push(id);
        out.fields.push(f);
    }
    for k in i..n {
        let (id, f) = a.at(k);
        out.ids.push(id);
        out.fields.push(f);
    }
    for k in j..m {
        let (id, f) = b.at(k);
        out.ids.push(id);
        out.fields.push(f);
    }
    out
}

fn text_hash(row: &IndexRow, refs: &Refs, category: u32, brand: u32) -> u64 {
    let mut h = DefaultHasher::new();
    (&row.name, &row.description, refs.category_name(category), refs.brand_name(brand)).hash(&mut h);
    h.finish()
}

fn build_index(conn: &Connection) -> rusqlite::Result<Index> {
    crate::db::begin_read(conn)?;
    let result = (|| {
        let refs = Refs::load(conn)?;
        let mut index = Index {
            docs: Vec::new(),
            cold: Vec::new(),
            markets: RwLock::new(HashMap::new()),
            structure: AtomicU64::new(next_structure()),
            texts: Vec::new(),
            terms: HashMap::new(),
            sorted: BTreeSet::new(),
            vocab: fst::Set::default(),
            fresh: BTreeSet::new(),
            refs: Arc::new(refs),
            listing: Listing::empty(),
        };
        let mut scratch = Vec::new();
        let mut failed = None;
        store::index_rows_all(conn, |row| {
            if failed.is_none() {
                failed = index.add(&row, &mut scratch).err();
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        index.relist();
        index.build_vocab();
        Ok(index)
    })();
    conn.execute_batch("COMMIT")?;
    result
}

/// Re-reads the given products (and the category and brand names when they changed).
fn refresh(conn: &Connection, index: &mut Index, ids: &BTreeSet<i64>, refs_changed: bool) -> rusqlite::Result<()> {
    crate::db::begin_read(conn)?;
    let result = (|| {
        let mut ids = ids.clone();
        if refs_changed {
            let refs = Refs::load(conn)?;
            // positions move when categories or brands are added or removed: every doc
            // whose names may have changed is re-read
            for (id, doc) in index.docs.iter().enumerate() {
                if doc.active {
                    ids.insert(id as i64);
                }
            }
            index.refs = Arc::new(refs);
        }
        let mut rows = Vec::with_capacity(ids.len());
        for &id in &ids {
            rows.push((id, store::index_row_by_id(conn, id)?));
        }
        // the listing is told of each product before its columns change and after; new
        // category or brand positions rebuild it instead
        let relisted: Vec<u32> = if refs_changed {
            Vec::new()
        } else {
            ids.iter().filter_map(|&id| u32::try_from(id).ok()).filter(|&id| (id as usize) < index.docs.len()).collect()
        };
        let markets = index.markets.get_mut().unwrap_or_else(|e| e.into_inner());
        for &id in &relisted {
            let cols = Columns { docs: &index.docs, cold: &index.cold };
            index.listing.remove(id, cols);
            for m in markets.values_mut() {
                let m = Arc::get_mut(m).expect("a market is shared only under the index's read lock");
                m.listing.remove(id, Columns { docs: &index.docs, cold: &m.cold });
            }
        }
        // one removal pass for every product whose indexed text changes
        let mut reindex = BTreeSet::new();
        for (id, row) in &rows {
            let Ok(id32) = u32::try_from(*id) else { continue };
            let old = index.docs.get(id32 as usize).copied().unwrap_or_default();
            let keep = match row {
                Some(r) if r.active && old.active => {
                    let (cat, brand) = index.positions(r)?;
                    text_hash(r, &index.refs, cat, brand) == index.texts[id32 as usize]
                }
                _ => false,
            };
            if old.active && !keep {
                reindex.insert(id32);
            }
        }
        if !reindex.is_empty() {
            for postings in index.terms.values_mut() {
                postings.remove_all(&reindex);
            }
            index.terms.retain(|_, p| !p.ids.is_empty());
            let terms = &index.terms;
            index.sorted.retain(|w| terms.contains_key(w));
            index.fresh.retain(|w| terms.contains_key(w));
            for id in &reindex {
                index.docs[*id as usize].active = false;
            }
        }
        let mut scratch = Vec::new();
        for (id, row) in rows {
            match row {
                Some(r) if r.active => {
                    let doc = index.docs.get(r.id as usize).copied().unwrap_or_default();
                    if doc.active {
                        // text unchanged: only the columns
                        let (category, brand) = index.positions(&r)?;
                        index.set_doc(r.id as usize, &r, category, brand);
                    } else {
                        index.add(&r, &mut scratch)?;
                    }
                }
                _ => {
                    if let Some(doc) = usize::try_from(id).ok().and_then(|i| index.docs.get_mut(i)) {
                        doc.active = false;
                    }
                }
            }
        }
        if index.fresh.len() > FRESH_MAX {
            index.build_vocab();
        }
        let markets = index.markets.get_mut().unwrap_or_else(|e| e.into_inner());
        if refs_changed || index.listing.needs_rebuild() || markets.values().any(|m| m.listing.needs_rebuild()) {
            // markets learn their columns again on their next request
            markets.clear();
            index.structure.store(next_structure(), Ordering::Release);
            index.relist();
        } else {
            let cols = Columns { docs: &index.docs, cold: &index.cold };
            for m in markets.values_mut() {
                let len = index.cold.len();
                let m = Arc::get_mut(m).expect("a market is shared only under the index's read lock");
                m.cold.resize(len, Cold::default());
            }
            for &id in &ids {
                if let Ok(id) = u32::try_from(id) {
                    if (id as usize) < index.docs.len() {
                        index.listing.insert(id, cols);
                        for m in markets.values_mut() {
                            let m = Arc::get_mut(m).expect("a market is shared only under the index's read lock");
                            m.cold[id as usize] = m.priced(id, &index.cold[id as usize]);
                            m.listing.insert(id, Columns { docs: &index.docs, cold: &m.cold });
                        }
                    }
                }
            }
        }
        Ok(())
    })();
    conn.execute_batch("COMMIT")?;
    result
}

fn unknown(what: &str, id: i64) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(format!("product refers to an unknown {what} {id}").into())
}

impl Index {
    /// Builds the typo lookup's FST from every word (and empties `fresh`).
    fn build_vocab(&mut self) {
        self.vocab = fst::Set::from_iter(self.sorted.iter().map(|w| w.as_bytes())).expect("sorted, unique words");
        self.fresh.clear();
    }

    /// The words within `budget` typos of `word` (of every word starting so when
    /// `prefix`), not counting those that match it without a typo: a typo on the first
    /// letter counts twice (people rarely miss it); the closest first, then the commonest,
    /// at most [`MAX_DERIVED`].
    fn derived(&self, word: &str, prefix: bool, budget: u8) -> Vec<(&str, &Postings, u8)> {
        let builder = automaton(budget);
        let dfa = if prefix { builder.build_prefix_dfa(word) } else { builder.build_dfa(word) };
        let first = word.chars().next();
        let mut found: Vec<(u8, usize, &str)> = Vec::new();
        let mut consider = |candidate: &[u8]| {
            let Ok(candidate) = std::str::from_utf8(candidate) else { return };
            if candidate == word || prefix && candidate.starts_with(word) {
                return;
            }
            let Distance::Exact(mut typos) = dfa.eval(candidate) else { return };
            if candidate.chars().next() != first {
                typos += 1;
            }
            if typos == 0 || typos > budget {
                return;
            }
            if let Some((w, p)) = self.terms.get_key_value(candidate) {
                found.push((typos, p.ids.len(), w));
            }
        };
        let mut stream = self.vocab.search(&dfa).into_stream();
        while let Some(candidate) = stream.next() {
            consider(candidate);
        }
        for candidate in &self.fresh {
            consider(candidate.as_bytes());
        }
        found.sort_unstable_by_key(|&(typos, n, w)| (typos, std::cmp::Reverse(n), w));
        found.dedup_by_key(|f| f.2);
        found.truncate(MAX_DERIVED);
        found.into_iter().map(|(typos, _, w)| (w, &self.terms[w], typos)).collect()
    }

    fn suggest(&self, terms: &SearchTerms, limit: usize) -> Vec<Suggestion> {
        let Some((last, head)) = terms.words.split_last() else { return Vec::new() };
        let last = normalized(last);
        // what the words before the last match, in any field
        let before: Option<Vec<u32>> = (!head.is_empty()).then(|| {
            let head = SearchTerms { words: head.to_vec(), prefix_last: false, typos: terms.typos };
            self.matching(&head).into_iter().map(|(id, _)| id).collect()
        });
        if before.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
        // the commonest words the last starts, then those within its typos
        let mut candidates: Vec<(&str, &Postings, u8)> = self
            .sorted
            .range::<str, _>((Bound::Included(last.as_str()), Bound::Unbounded))
            .take_while(|w| w.starts_with(last.as_str()))
            .take(SUGGEST_SCAN)
            .map(|w| (&**w, &self.terms[w], 0))
            .collect();
        candidates.sort_unstable_by_key(|(w, p, _)| (std::cmp::Reverse(p.ids.len()), *w));
        candidates.truncate(SUGGEST_COUNTED);
        let budget = typo_budget(last.chars().count(), terms.typos);
        if budget > 0 {
            candidates.extend(self.derived(&last, true, budget).into_iter().take(SUGGEST_COUNTED / 2));
        }
        let mut out: Vec<Suggestion> = Vec::new();
        for (word, postings, typos) in candidates {
            let shown = |i: usize| postings.fields[i] & (NAME | BRAND | CATEGORY) != 0;
            let matches = match &before {
                None => (0..postings.ids.len()).filter(|&i| shown(i)).count(),
                Some(before) => {
                    // both ascend: a merge
                    let (mut i, mut j, mut n) = (0, 0, 0);
                    while i < postings.ids.len() && j < before.len() {
                        match postings.ids[i].cmp(&before[j]) {
                            std::cmp::Ordering::Less => i += 1,
                            std::cmp::Ordering::Greater => j += 1,
                            std::cmp::Ordering::Equal => {
                                n += usize::from(shown(i));
                                i += 1;
                                j += 1;
                            }
                        }
                    }
                    n
                }
            };
            if matches > 0 {
                let mut text: Vec<String> = head.iter().map(|w| normalized(w)).collect();
                text.push(word.to_owned());
                out.push(Suggestion { text: text.join(" "), matches, typos });
            }
        }
        out.sort_by(|a, b| a.typos.cmp(&b.typos).then(b.matches.cmp(&a.matches)).then(a.text.cmp(&b.text)));
        out.dedup_by(|a, b| a.text == b.text);
        out.truncate(limit);
        out
    }

    /// The default's price columns.
    fn priced(&self) -> Priced<'_> {
        Priced { cold: &self.cold, listing: &self.listing, market: false }
    }

    /// Runs `f` on `market`'s price columns, learning them first when they are not known.
    fn in_market<T>(
        &self,
        conn: &Connection,
        market: &super::prices::Market,
        f: impl FnOnce(Priced<'_>) -> T,
    ) -> rusqlite::Result<T> {
        let key = market.key();
        let known = |markets: &RwLock<HashMap<String, Arc<MarketView>>>| {
            markets.read().unwrap_or_else(|e| e.into_inner()).get(&key).cloned()
        };
        let m = match known(&self.markets) {
            Some(m) => m,
            // forgotten since `SearchIndex::learn` (a price list changed just now): learned
            // here, under the read lock
            None => self.remember(key, MarketView::build(conn, &self.docs, &self.cold, &self.refs, market)?),
        };
        Ok(f(Priced { cold: &m.cold, listing: &m.listing, market: true }))
    }

    /// Keeps a market learned (replacing the one learned longest ago when there are
    /// `MAX_MARKETS`).
    fn remember(&self, key: String, view: MarketView) -> Arc<MarketView> {
        let view = Arc::new(view);
        let mut markets = self.markets.write().unwrap_or_else(|e| e.into_inner());
        if markets.len() >= MAX_MARKETS && !markets.contains_key(&key) {
            let oldest = markets.iter().min_by_key(|(_, m)| m.learned).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                markets.remove(&k);
            }
        }
        markets.insert(key, view.clone());
        view
    }

    /// Builds the listing afresh from the columns.
    fn relist(&mut self) {
        let cols = Columns { docs: &self.docs, cold: &self.cold };
        self.listing =
            Listing::build(self.refs.parent_pos.clone(), self.refs.brand_list.len() + 1, cols, listing::SCOPE_MIN);
    }

    /// The filter in the index's terms: positions instead of ids (an unknown brand matches
    /// nothing; an unknown category is `Err`).
    fn want(&self, filter: &Filter) -> Result<Want, ()> {
        let category = match filter.category {
            None => None,
            Some(c) => Some(*self.refs.category_pos.get(&c).ok_or(())?),
        };
        let brand = filter.brand.map(|b| self.refs.brand_pos.get(&b).copied().unwrap_or(u32::MAX));
        Ok(Want {
            category,
            brand,
            min_price: filter.min_price,
            max_price: filter.max_price,
            in_stock: filter.in_stock,
        })
    }

    /// A page of the products matching `terms` and `want`, in `sort` order: the listing's
    /// ways narrowed to the matches (a walk of the sort order testing a bit per product
    /// when the matches are many, a pass over them when they are few).
    fn list_matching(&self, priced: Priced<'_>, terms: &SearchTerms, want: &Want, ask: &Ask) -> Page {
        let ids: Vec<u32> = self.matching(terms).into_iter().map(|(id, _)| id).collect();
        let bits = listing::Matched::bits(&ids, self.docs.len());
        let matched = listing::Matched { ids: &ids, bits: &bits };
        priced.listing.page(Columns { docs: &self.docs, cold: priced.cold }, want, ask, Some(&matched))
    }

    fn positions(&self, row: &IndexRow) -> rusqlite::Result<(u32, u32)> {
        let category =
            *self.refs.category_pos.get(&row.category_id).ok_or_else(|| unknown("category", row.category_id))?;
        let brand = match row.brand_id {
            None => 0,
            Some(b) => *self.refs.brand_pos.get(&b).ok_or_else(|| unknown("brand", b))?,
        };
        Ok((category, brand))
    }

    /// Sets the columns of product `at` (which the arrays already hold).
    fn set_doc(&mut self, at: usize, row: &IndexRow, category: u32, brand: u32) {
        self.docs[at] = Doc {
            category,
            brand,
            sales: row.sales_count.clamp(0, u32::MAX as i64) as u32,
            band: price_band(row.price) as u8,
            active: true,
            in_stock: row.in_stock,
        };
        self.cold[at] =
            Cold { price: row.price, created_at: row.created_at, rating_x100: row.rating_x100.clamp(0, 500) as i32 };
    }

    /// Indexes an active product that is not in the postings.
    fn add(&mut self, row: &IndexRow, scratch: &mut Vec<(String, u8)>) -> rusqlite::Result<()> {
        let id = u32::try_from(row.id)
            .ok()
            .filter(|id| *id < u32::MAX)
            .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(0, row.id))?;
        let at = id as usize;
        // ids index a dense array: refuse ids so sparse that it would be mostly holes
        if at > 2 * self.docs.len() + 1_000_000 {
            return Err(rusqlite::Error::IntegralValueOutOfRange(0, row.id));
        }
        let (category, brand) = self.positions(row)?;
        scratch.clear();
        let refs = self.refs.clone();
        for (text, field) in [
            (row.name.as_str(), NAME),
            (refs.brand_name(brand), BRAND),
            (refs.category_name(category), CATEGORY),
            (row.description.as_str(), DESCRIPTION),
        ] {
            words(text, |w| scratch.push((w.to_owned(), field)));
        }
        scratch.sort_unstable();
        let mut i = 0;
        while i < scratch.len() {
            let mut fields = 0;
            let mut j = i;
            while j < scratch.len() && scratch[j].0 == scratch[i].0 {
                fields |= scratch[j].1;
                j += 1;
            }
            let word = scratch[i].0.as_str();
            match self.terms.get_mut(word) {
                Some(p) => p.insert(id, fields),
                None => {
                    let mut p = Postings::default();
                    p.insert(id, fields);
                    self.terms.insert(word.into(), p);
                    self.sorted.insert(word.into());
                    self.fresh.insert(word.into());
                }
            }
            i = j;
        }
        if self.docs.len() <= at {
            self.docs.resize(at + 1, Doc::default());
            self.cold.resize(at + 1, Cold::default());
            self.texts.resize(at + 1, 0);
        }
        self.set_doc(at, row, category, brand);
        self.texts[at] = text_hash(row, &refs, category, brand);
        Ok(())
    }

    /// The products matching every word, ascending, with their relevance tier: the typos
    /// it took first (a product every word matches exactly before one matched with a
    /// typo), then where the words are: every word in the name, every word in the name,
    /// brand or category, anywhere (3 × typos + 0, 1 or 2).
    fn matching(&self, terms: &SearchTerms) -> Vec<(u32, u8)> {
        // a word's tier in one product, from the fields it appears in
        fn tier(fields: u8) -> u8 {
            if fields & NAME != 0 {
                0
            } else if fields & (BRAND | CATEGORY) != 0 {
                1
            } else {
                2
            }
        }
        let mut owned: Vec<Postings> = Vec::new();
        let mut lists: Vec<&Postings> = Vec::new();
        let last = terms.words.len() - 1;
        for (i, w) in terms.words.iter().enumerate() {
            let w = normalized(w);
            let prefix = i == last && terms.prefix_last;
            let exact: Vec<&Postings> = if prefix {
                self.sorted.range::<str, _>((Bound::Included(w.as_str()), Bound::Unbounded))
            } else {
                self.sorted.range::<str, _>((Bound::Included(w.as_str()), Bound::Included(w.as_str())))
            }
            .take_while(|t| t.starts_with(w.as_str()))
            .map(|t| &self.terms[t])
            .collect();
            let budget = typo_budget(w.chars().count(), terms.typos);
            let derived = if budget > 0 { self.derived(&w, prefix, budget) } else { Vec::new() };
            match (exact.as_slice(), derived.is_empty()) {
                ([], true) => return Vec::new(),
                ([one], true) => lists.push(one),
                _ => owned
                    .push(union(exact.into_iter().map(|p| (p, 0)).chain(derived.into_iter().map(|(_, p, t)| (p, t))))),
            }
        }
        lists.extend(owned.iter());
        lists.sort_by_key(|p| p.ids.len());
        let Some((first, rest)) = lists.split_first() else { return Vec::new() };
        if rest.is_empty() {
            // one word (the commonest query): its list as it is, in one pass
            return first
                .ids
                .iter()
                .zip(&first.fields)
                .map(|(id, f)| (*id, (*f >> TYPO_SHIFT) * 3 + tier(*f & FIELDS)))
                .collect();
        }
        // (id, tier, typos)
        let mut out: Vec<(u32, u8, u8)> =
            first.ids.iter().zip(&first.fields).map(|(id, f)| (*id, tier(*f & FIELDS), *f >> TYPO_SHIFT)).collect();
        for list in rest {
            let mut lo = 0;
            out.retain_mut(|(id, t, typos)| {
                // ids ascend in both: search forward from the last position
                match list.ids[lo..].binary_search(id) {
                    Ok(i) => {
                        lo += i;
                        let f = list.fields[lo];
                        *t = (*t).max(tier(f & FIELDS));
                        *typos += f >> TYPO_SHIFT;
                        true
                    }
                    Err(i) => {
                        lo += i;
                        false
                    }
                }
            });
            if out.is_empty() {
                break;
            }
        }
        out.into_iter().map(|(id, t, typos)| (id, typos * 3 + t)).collect()
    }

    fn search(
        &self,
        priced: Priced<'_>,
        terms: &SearchTerms,
        filter: &Filter,
        sort: Option<Sort>,
        start: usize,
        end: usize,
    ) -> Matches {
        let refs = &self.refs;
        let cold = priced.cold;
        // the filter's category and everything below it, by position (parents come first)
        let allowed: Option<Vec<bool>> = filter.category.map(|c| match refs.category_pos.get(&c) {
            Some(&root) => self.listing.allowed(root),
            None => vec![false; refs.categories.len()],
        });
        let brand = filter.brand.map(|b| refs.brand_pos.get(&b).copied().unwrap_or(u32::MAX));
        let mut by_category = vec![0i64; refs.categories.len()];
        let mut by_brand = vec![0i64; refs.brand_list.len() + 1];
        let mut by_band = vec![0i64; PRICE_BANDS.len()];
        let mut top = TopK::new(end);
        let mut total = 0;
        let price_filtered = filter.min_price.is_some() || filter.max_price.is_some();
        let matches = self.matching(terms);
        // an explicit sort over many matches: the page is the listing's, its sort order
        // narrowed to the matches (a walk testing a bit per product, or a pass over the
        // matches when they are few, as its cost model chooses), so the pass below only
        // counts and ranks nothing
        let listed = sort.filter(|_| matches.len() >= LISTED_MIN);
        // explicit sorts but popular, and price filters, read the cold columns too
        let cold_read = price_filtered || matches!(sort, Some(s) if s != Sort::Popular && listed.is_none());
        for (i, &(id, tier)) in matches.iter().enumerate() {
            if let Some(&(ahead, _)) = matches.get(i + 16) {
                prefetch(&self.docs, ahead as usize);
                if cold_read {
                    prefetch(cold, ahead as usize);
                }
            }
            let d = &self.docs[id as usize];
            if !d.active
                || allowed.as_ref().is_some_and(|a| !a[d.category as usize])
                || brand.is_some_and(|b| b != d.brand)
                || (filter.in_stock && !d.in_stock)
            {
                continue;
            }
            if price_filtered {
                let price = cold[id as usize].price;
                if filter.min_price.is_some_and(|m| price < m) || filter.max_price.is_some_and(|m| price > m) {
                    continue;
                }
            }
            by_category[d.category as usize] += 1;
            by_brand[d.brand as usize] += 1;
            by_band[if priced.market { price_band(cold[id as usize].price) } else { d.band as usize }] += 1;
            total += 1;
            if listed.is_some() {
                continue;
            }
            let sort_key = match sort {
                None => 0,
                Some(Sort::Newest) => cold[id as usize].created_at,
                Some(Sort::PriceAsc | Sort::PriceDesc) => cold[id as usize].price,
                Some(Sort::Popular) => d.sales as i64,
                Some(Sort::Rating) => cold[id as usize].rating_x100 as i64,
            };
            top.push(Rank::new(sort, id as i64, tier, d.sales as i64, sort_key));
        }
        let page = match listed {
            None => top.page(start, sort),
            Some(sort) => match self.want(filter) {
                Ok(want) => {
                    let ids: Vec<u32> = matches.iter().map(|(id, _)| *id).collect();
                    let bits = listing::Matched::bits(&ids, self.docs.len());
                    let ask = Ask {
                        sort,
                        slice: listing::Slice::Offset(start),
                        limit: end.saturating_sub(start),
                        with_total: false,
                        strategy: listing::Strategy::Auto,
                    };
                    let cols = Columns { docs: &self.docs, cold };
                    let matched = listing::Matched { ids: &ids, bits: &bits };
                    priced.listing.page(cols, &want, &ask, Some(&matched)).rows.into_iter().map(|(id, _)| id).collect()
                }
                // a category that is not one: nothing passed the filter above
                Err(()) => Vec::new(),
            },
        };
        Matches {
            total,
            page,
            by_category: by_category
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (refs.categories[i].id, *n))
                .collect(),
            by_brand: by_brand
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (refs.brand_list[i - 1], *n))
                .collect(),
            by_band,
            refs: self.refs.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        words(text, |w| out.push(w.to_owned()));
        out
    }

    /// A market learned from a copy of the columns while commits change prices, stock and
    /// add products ends the same as one learned from the index as it is after them: the
    /// same prices and the same pages in every price order (the whole list and a category).
    #[test]
    fn a_market_learned_from_a_copy_catches_up_with_the_commits_made_meanwhile() {
        use crate::catalog::prices::Market;
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::db::open_write(&dir.path().join("shop.db"), crate::db::Synchronous::Normal).unwrap();
        crate::db::migrate::migrate(&mut conn).unwrap();
        let now = crate::util::now_ms();
        conn.execute_batch(&format!(
            "INSERT INTO categories(id, parent_id, name, slug, description, position, depth, created_at) VALUES
                 (1, NULL, 'Audio', 'audio', '', 0, 0, 0), (2, 1, 'Speakers', 'speakers', '', 0, 1, 0),
                 (3, NULL, 'Home', 'home', '', 1, 0, 0);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
             INSERT INTO products(id, sku, slug, name, description, category_id, base_price, sale_price, status,
                                  created_at, updated_at)
                 SELECT i, 'P-' || i, 'p-' || i, 'Product ' || i, '', 1 + i % 3, 500 + i * 7919 % 20000,
                        CASE WHEN i % 13 = 0 THEN 300 END, 'active', i, i FROM n;
             INSERT INTO variants(id, product_id, sku, name, position, created_at)
                 SELECT id, id, sku || '-V', 'Default', 0, 0 FROM products;
             INSERT INTO inventory(variant_id, available, reserved, updated_at) SELECT id, 5, 0, 0 FROM variants;
             INSERT INTO price_lists(id, name, currency, created_at) VALUES (1, 'Euro', 'EUR', {now});
             INSERT INTO price_list_prices(price_list_id, product_id, amount, updated_at)
                 SELECT 1, id, 100 + id % 50, {now} FROM products WHERE id % 7 = 0;"
        ))
        .unwrap();
        let mut index = build_index(&conn).unwrap();
        let setting = "USD, EUR 0.9";
        let market = Market::load(&conn, setting, Some("EUR"), &[], now).unwrap();
        let (docs, cold) = (index.docs.clone(), index.cold.clone());

        // commits meanwhile: prices up and down (some listed in euros), one sold out, two new
        conn.execute_batch(&format!(
            "UPDATE products SET base_price = base_price * 3 WHERE id % 11 = 0;
             UPDATE products SET base_price = 1, sale_price = NULL WHERE id IN (5, 14, 21);
             UPDATE inventory SET available = 0 WHERE variant_id IN (SELECT id FROM variants WHERE product_id = 9);
             INSERT INTO products(id, sku, slug, name, description, category_id, base_price, status, created_at, updated_at)
                 SELECT 401, 'NEW-401', 'new-401', 'New One', '', category_id, 50, 'active', {now}, {now}
                 FROM products WHERE id = 3;
             INSERT INTO products(id, sku, slug, name, description, category_id, base_price, status, created_at, updated_at)
                 SELECT 402, 'NEW-402', 'new-402', 'New Two', '', category_id, 999999, 'active', {now}, {now}
                 FROM products WHERE id = 4;"
        ))
        .unwrap();
        let changed: BTreeSet<i64> =
            (1..=402).filter(|id| id % 11 == 0 || [5, 14, 21, 9, 401, 402].contains(id)).collect();
        refresh(&conn, &mut index, &changed, false).unwrap();
        assert!(index.docs.len() > docs.len(), "the new products are in the columns");

        let mut learned = MarketView::build(&conn, &docs, &cold, &index.refs, &market).unwrap();
        learned.catch_up(&docs, &cold, &index);
        let fresh = MarketView::build(&conn, &index.docs, &index.cold, &index.refs, &market).unwrap();
        assert!(learned.cold == fresh.cold, "the same prices");
        let category = index.docs[3].category;
        for sort in [Sort::PriceAsc, Sort::PriceDesc] {
            for want_category in [None, Some(category)] {
                let want =
                    Want { category: want_category, brand: None, min_price: None, max_price: None, in_stock: false };
                let ask = Ask {
                    sort,
                    slice: listing::Slice::Offset(0),
                    limit: 500,
                    with_total: true,
                    strategy: listing::Strategy::Auto,
                };
                let page = |m: &MarketView| {
                    m.listing.page(Columns { docs: &index.docs, cold: &m.cold }, &want, &ask, None).rows
                };
                let (a, b) = (page(&learned), page(&fresh));
                assert!(a.len() > 20, "{sort:?} {want_category:?}: {}", a.len());
                assert_eq!(a, b, "{sort:?} in {want_category:?}");
            }
        }
    }

    #[test]
    fn words_fold_case_and_diacritics_like_unicode61() {
        assert_eq!(all("Héadphones, CAFÉ-crème 2000!"), vec!["headphones", "cafe", "creme", "2000"]);
        assert_eq!(all("  --  "), Vec::<String>::new());
        assert_eq!(all("Ærø Straße"), vec!["ærø", "straße"]);
    }

    #[test]
    fn postings_stay_sorted_and_unique() {
        let mut p = Postings::default();
        for id in [5, 1, 9, 5, 3] {
            p.insert(id, NAME);
        }
        p.insert(3, DESCRIPTION);
        assert_eq!(p.ids, vec![1, 3, 5, 9]);
        assert_eq!(p.fields, vec![NAME, NAME | DESCRIPTION, NAME, NAME]);
        p.remove_all(&[3, 9].into_iter().collect());
        assert_eq!(p.ids, vec![1, 5]);
        let many: BTreeSet<u32> = (0..100).collect();
        p.remove_all(&many);
        assert!(p.ids.is_empty() && p.fields.is_empty());
    }

    #[test]
    fn a_union_has_every_id_once_with_all_its_fields_and_its_fewest_typos() {
        let list = |pairs: &[(u32, u8)]| Postings {
            ids: pairs.iter().map(|p| p.0).collect(),
            fields: pairs.iter().map(|p| p.1).collect(),
        };
        let exact = list(&[(2, NAME), (4, DESCRIPTION), (6, NAME), (8, BRAND), (10, NAME)]);
        let one = list(&[(1, NAME), (4, NAME), (11, CATEGORY)]);
        let two = list(&[(4, BRAND), (6, DESCRIPTION), (12, NAME)]);
        let u = union([(&one, 1), (&exact, 0), (&two, 2)].into_iter());
        assert_eq!(u.ids, vec![1, 2, 4, 6, 8, 10, 11, 12]);
        let typos = |f: u8| f >> TYPO_SHIFT;
        let fields: Vec<(u8, u8)> = u.fields.iter().map(|f| (f & FIELDS, typos(*f))).collect();
        assert_eq!(
            fields,
            vec![
                (NAME, 1),
                (NAME, 0),
                (DESCRIPTION | NAME | BRAND, 0),
                (NAME | DESCRIPTION, 0),
                (BRAND, 0),
                (NAME, 0),
                (CATEGORY, 1),
                (NAME, 2)
            ]
        );
        // the longest list need not be first nor exact
        let u = union([(&list(&[(3, NAME)]), 0), (&list(&[(1, NAME), (3, BRAND), (5, NAME)]), 2)].into_iter());
        assert_eq!(u.ids, vec![1, 3, 5]);
        assert_eq!(u.fields[1], (NAME | BRAND), "the fewest typos: 0");
        assert!(union(std::iter::empty()).ids.is_empty());
    }
}
