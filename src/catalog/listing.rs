//! The in-memory listing index behind `/api/products`: every filter × sort × page of the
//! product list at a cost that does not grow with the catalog or the category.
//!
//! Why in memory, and why this shape (measured at 1,000,000 products, see the README): in
//! SQLite a top-level category sorted by price is "read every product of the subtree, sort,
//! keep 20" — 600–800 ms — because no single index serves `category IN subtree` and an
//! order at once; a denormalized product-per-ancestor table with an index per sort gets page
//! 1 flat but not the exact totals of a price range (a count over the whole subtree), and
//! costs five more B-trees on every write. Here two structures share the search index's
//! per-product columns ([`Doc`], [`Cold`]):
//!
//! - **Orders**: for the whole catalog and for each category holding at least
//!   [`SCOPE_MIN`] products, the products in each sort order (chunked sorted `u32` lists,
//!   so a product that moves costs a binary search and a 1,024-entry shift). A page walks
//!   an order from its start or from the cursor, testing the remaining filters, until it has
//!   `offset + limit + 1` matches: page 1 and every cursor page cost the same at any depth.
//! - **Buckets**: per category, its products' filter and sort columns side by side. When a
//!   walk would be long (a small category, a rare brand, a narrow price range) the page is
//!   chosen instead by one sequential pass over the buckets of the category's subtree,
//!   keeping the top `offset + limit + 1`; that pass also counts exact totals.
//!
//! Totals come from counters (per category and stock state, per brand) when the filter is
//! category/brand/stock only, and from the bucket pass otherwise.
//!
//! Invariants (kept by [`Listing::remove`] before and [`Listing::insert`] after every change
//! of a product's columns):
//! - an active product is in every order of the whole catalog and of each of its ancestor
//!   categories (itself included) that has orders, and in exactly one bucket, its category's;
//!   an inactive one is in none;
//! - each order is sorted ascending by (key, id); descending sorts walk it backwards.

use super::model::Sort;
use super::search_index::{self, Cold, Doc, Rank, TopK};

/// A category with at least this many products (its subtree) gets orders of its own;
/// smaller ones are answered by a pass over their buckets (≤ 50,000 rows ≈ 0.1 ms).
pub const SCOPE_MIN: usize = 50_000;

/// Orders are kept in chunks of up to twice this many ids.
const CHUNK: usize = 1024;

/// The sort keys an order can be kept by (both price sorts walk the same order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Created,
    Price,
    Sales,
    Rating,
}

const KEYS: [Key; 4] = [Key::Created, Key::Price, Key::Sales, Key::Rating];

impl Key {
    fn of(sort: Sort) -> Key {
        match sort {
            Sort::Newest => Key::Created,
            Sort::PriceAsc | Sort::PriceDesc => Key::Price,
            Sort::Popular => Key::Sales,
            Sort::Rating => Key::Rating,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A product's sort key, as the SQL lists compare it.
pub fn sort_key(sort: Sort, d: &Doc, c: &Cold) -> i64 {
    value(Key::of(sort), d, c)
}

#[inline(always)]
fn value(key: Key, d: &Doc, c: &Cold) -> i64 {
    match key {
        Key::Created => c.created_at,
        Key::Price => c.price,
        Key::Sales => d.sales as i64,
        Key::Rating => c.rating_x100 as i64,
    }
}

/// The per-product columns, indexed by product id.
#[derive(Clone, Copy)]
pub struct Columns<'a> {
    pub docs: &'a [Doc],
    pub cold: &'a [Cold],
}

impl Columns<'_> {
    #[inline(always)]
    fn at(&self, key: Key, id: u32) -> (i64, u32) {
        (value(key, &self.docs[id as usize], &self.cold[id as usize]), id)
    }
}

/// A position in an order: (chunk, index in the chunk).
type Pos = (usize, usize);

/// Product ids sorted ascending by (key, id), in chunks of 1..=2×[`CHUNK`]. The keys are
/// not stored: comparisons read the columns, so the order must be told of a product's
/// change before its columns change ([`Order::remove`]) and after ([`Order::insert`]).
struct Order {
    key: Key,
    chunks: Vec<Vec<u32>>,
}

impl Order {
    fn build(key: Key, ids: &[u32], cols: Columns<'_>) -> Order {
        let mut keyed: Vec<(i64, u32)> = ids.iter().map(|&id| cols.at(key, id)).collect();
        keyed.sort_unstable();
        Order { key, chunks: keyed.chunks(CHUNK).map(|c| c.iter().map(|(_, id)| *id).collect()).collect() }
    }

    /// The first position holding a (key, id) ≥ `target` (the end when none).
    fn lower_bound(&self, target: (i64, u32), cols: Columns<'_>) -> Pos {
        let key = self.key;
        let c = self.chunks.partition_point(|ch| cols.at(key, *ch.last().expect("chunks are never empty")) < target);
        match self.chunks.get(c) {
            None => (self.chunks.len(), 0),
            Some(ch) => (c, ch.partition_point(|&id| cols.at(key, id) < target)),
        }
    }

    fn insert(&mut self, id: u32, cols: Columns<'_>) {
        let (mut c, mut i) = self.lower_bound(cols.at(self.key, id), cols);
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if c == self.chunks.len() {
            c -= 1;
            i = self.chunks[c].len();
        }
        let ch = &mut self.chunks[c];
        ch.insert(i, id);
        if ch.len() > 2 * CHUNK {
            let tail = ch.split_off(CHUNK);
            self.chunks.insert(c + 1, tail);
        }
    }

    /// Removes `id`, found by the key its columns hold now.
    fn remove(&mut self, id: u32, cols: Columns<'_>) {
        let (c, i) = self.lower_bound(cols.at(self.key, id), cols);
        if let Some(ch) = self.chunks.get_mut(c) {
            if ch.get(i) == Some(&id) {
                ch.remove(i);
                if ch.is_empty() {
                    self.chunks.remove(c);
                }
                return;
            }
        }
        debug_assert!(false, "product {id} was not in its order");
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// Visits ids from `from` towards the end (`forward`) or towards the start (the one
    /// before `from` first), until `visit` returns false.
    /// `ahead`: prefetch the columns of the rows ahead (not when most rows are skipped
    /// without reading them).
    fn walk(&self, from: Pos, forward: bool, cols: Columns<'_>, ahead: bool, mut visit: impl FnMut(u32) -> bool) {
        if forward {
            let mut i = from.1;
            for ch in self.chunks.iter().skip(from.0) {
                for (j, &id) in ch.iter().enumerate().skip(i) {
                    if let Some(&next) = ch.get(j + 16).filter(|_| ahead) {
                        prefetch(cols, next);
                    }
                    if !visit(id) {
                        return;
                    }
                }
                i = 0;
            }
        } else {
            let (c, i) = from;
            let last = c.min(self.chunks.len());
            for (n, ch) in self.chunks[..(last + 1).min(self.chunks.len())].iter().enumerate().rev() {
                let end = if n == c { i } else { ch.len() };
                for j in (0..end).rev() {
                    if ahead && j >= 16 {
                        prefetch(cols, ch[j - 16]);
                    }
                    if !visit(ch[j]) {
                        return;
                    }
                }
            }
        }
    }

    fn start(&self) -> Pos {
        (0, 0)
    }

    fn end(&self) -> Pos {
        (self.chunks.len(), 0)
    }
}

#[inline(always)]
fn prefetch(cols: Columns<'_>, id: u32) {
    search_index::prefetch(cols.docs, id as usize);
    search_index::prefetch(cols.cold, id as usize);
}

/// The orders of one scope: the whole catalog, or one category's subtree.
struct Scope {
    orders: [Order; 4],
    /// the in-stock products by price: exact totals of a price range with `in_stock`
    stocked_price: Order,
}

impl Scope {
    fn build(ids: &[u32], cols: Columns<'_>) -> Scope {
        let stocked: Vec<u32> = ids.iter().copied().filter(|&id| cols.docs[id as usize].in_stock).collect();
        Scope {
            orders: KEYS.map(|k| Order::build(k, ids, cols)),
            stocked_price: Order::build(Key::Price, &stocked, cols),
        }
    }

    fn price_order(&self, in_stock: bool) -> &Order {
        if in_stock {
            &self.stocked_price
        } else {
            &self.orders[Key::Price.index()]
        }
    }
}

/// One category's own products (not its sub-categories'), column by column, so a pass
/// over a subtree reads memory in sequence.
#[derive(Default)]
struct Bucket {
    ids: Vec<u32>,
    brand: Vec<u32>,
    price: Vec<i64>,
    in_stock: Vec<bool>,
    created: Vec<i64>,
    sales: Vec<u32>,
    rating: Vec<i32>,
    stocked: usize,
}

impl Bucket {
    fn push(&mut self, id: u32, d: &Doc, c: &Cold) -> u32 {
        self.ids.push(id);
        self.brand.push(d.brand);
        self.price.push(c.price);
        self.in_stock.push(d.in_stock);
        self.created.push(c.created_at);
        self.sales.push(d.sales);
        self.rating.push(c.rating_x100);
        self.stocked += d.in_stock as usize;
        (self.ids.len() - 1) as u32
    }

    /// Removes the row at `at` by moving the last row there; returns the id moved, if any.
    fn swap_remove(&mut self, at: usize) -> Option<u32> {
        self.stocked -= self.in_stock[at] as usize;
        self.ids.swap_remove(at);
        self.brand.swap_remove(at);
        self.price.swap_remove(at);
        self.in_stock.swap_remove(at);
        self.created.swap_remove(at);
        self.sales.swap_remove(at);
        self.rating.swap_remove(at);
        self.ids.get(at).copied()
    }

    #[inline(always)]
    fn key(&self, key: Key, i: usize) -> i64 {
        match key {
            Key::Created => self.created[i],
            Key::Price => self.price[i],
            Key::Sales => self.sales[i] as i64,
            Key::Rating => self.rating[i] as i64,
        }
    }
}

/// Which products a list shows, in the index's terms (positions, not ids).
#[derive(Debug, Clone, Default)]
pub struct Want {
    /// category position; its subtree is included
    pub category: Option<u32>,
    /// brand position (0: products without a brand never match a brand filter)
    pub brand: Option<u32>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
}

impl Want {
    fn priced(&self) -> bool {
        self.min_price.is_some() || self.max_price.is_some()
    }

    #[inline(always)]
    fn price_ok(&self, price: i64) -> bool {
        self.min_price.is_none_or(|m| price >= m) && self.max_price.is_none_or(|m| price <= m)
    }

    /// Every filter but the category (which the scope or the buckets already imply).
    #[inline(always)]
    pub fn matches(&self, d: &Doc, c: &Cold) -> bool {
        d.active && (!self.in_stock || d.in_stock) && self.brand.is_none_or(|b| b == d.brand) && self.price_ok(c.price)
    }
}

/// Which part of the sorted list a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    Offset(usize),
    /// strictly after (key, id) in display order
    After(i64, i64),
    /// strictly before (key, id) in display order; the page is the last `limit` of those
    Before(i64, i64),
}

/// A page: (id, sort key) in display order, whether more lie beyond it in the direction
/// of travel, and the total when asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<(i64, i64)>,
    pub more: bool,
    pub total: Option<usize>,
}

/// Which page of a list, in which order.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub sort: Sort,
    pub slice: Slice,
    pub limit: usize,
    /// count the total (offset pages)
    pub with_total: bool,
    pub strategy: Strategy,
}

/// How a page was chosen (for tests and the query-cost benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// the cheapest for the request
    Auto,
    /// walk an order (when the scope has orders)
    Walk,
    /// a pass over the buckets
    Scan,
    /// a pass over the price range of the scope's price order (when filtered by price)
    Range,
    /// a pass over the products a text query matched (with `q`)
    Matches,
    /// a pass over the brand's products (with `brand`)
    Brand,
}

pub struct Listing {
    scopes: Vec<Scope>,
    /// per category position: its scope (the whole catalog is scope 0)
    scope_of: Vec<Option<usize>>,
    /// per category position: the categories of its subtree, itself first
    subtree: Vec<Vec<u32>>,
    /// per category position: its parent's
    parent: Vec<Option<u32>>,
    buckets: Vec<Bucket>,
    /// per product id: its row in its category's bucket (u32::MAX: not listed)
    slot: Vec<u32>,
    /// per brand position: how many of its products are in stock
    brand_stocked: Vec<usize>,
    /// per brand position: its products, ascending
    brand_ids: Vec<Vec<u32>>,
    listed: usize,
    stocked: usize,
    scope_min: usize,
}

impl Listing {
    /// A listing of nothing (until the index is built).
    pub fn empty() -> Listing {
        Listing {
            scopes: Vec::new(),
            scope_of: Vec::new(),
            subtree: Vec::new(),
            parent: Vec::new(),
            buckets: Vec::new(),
            slot: Vec::new(),
            brand_stocked: Vec::new(),
            brand_ids: Vec::new(),
            listed: 0,
            stocked: 0,
            scope_min: SCOPE_MIN,
        }
    }

    /// Builds the listing of every active product. `parent` gives each category's parent
    /// position (parents before children); `brands` is the number of brand positions.
    pub fn build(parent: Vec<Option<u32>>, brands: usize, cols: Columns<'_>, scope_min: usize) -> Listing {
        let n = parent.len();
        let mut subtree: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
        // children after parents: walking backwards adds each finished subtree to its parent
        for i in (0..n).rev() {
            if let Some(p) = parent[i] {
                let below = subtree[i].clone();
                subtree[p as usize].extend(below);
            }
        }
        let mut listing = Listing {
            scopes: Vec::new(),
            scope_of: vec![None; n],
            subtree,
            parent,
            buckets: (0..n).map(|_| Bucket::default()).collect(),
            slot: vec![u32::MAX; cols.docs.len()],
            brand_stocked: vec![0; brands],
            brand_ids: vec![Vec::new(); brands],
            listed: 0,
            stocked: 0,
            scope_min,
        };
        let active: Vec<u32> = (0..cols.docs.len() as u32).filter(|&id| cols.docs[id as usize].active).collect();
        for &id in &active {
            listing.add_to_bucket(id, cols);
        }
        listing.scopes.push(Scope::build(&active, cols));
        for c in 0..n {
            let size: usize = listing.subtree[c].iter().map(|&s| listing.buckets[s as usize].ids.len()).sum();
            if size >= scope_min {
                let ids: Vec<u32> =
                    listing.subtree[c].iter().flat_map(|&s| listing.buckets[s as usize].ids.iter().copied()).collect();
                listing.scope_of[c] = Some(listing.scopes.len());
                listing.scopes.push(Scope::build(&ids, cols));
            }
        }
        listing
    }

    fn add_to_bucket(&mut self, id: u32, cols: Columns<'_>) {
        let (d, c) = (&cols.docs[id as usize], &cols.cold[id as usize]);
        let Some(bucket) = self.buckets.get_mut(d.category as usize) else { return };
        if self.slot.len() <= id as usize {
            self.slot.resize(id as usize + 1, u32::MAX);
        }
        self.slot[id as usize] = bucket.push(id, d, c);
        if let Some(n) = self.brand_stocked.get_mut(d.brand as usize) {
            *n += d.in_stock as usize;
        }
        if let Some(list) = self.brand_ids.get_mut(d.brand as usize) {
            // new products have the highest ids: usually an append
            let at = list.partition_point(|&x| x < id);
            list.insert(at, id);
        }
        self.listed += 1;
        self.stocked += d.in_stock as usize;
    }

    /// The scopes a product of category `category` belongs to.
    fn scopes_of(&self, category: u32) -> impl Iterator<Item = usize> + '_ {
        let mut at = Some(category);
        let mut steps = 0;
        std::iter::once(0).chain(std::iter::from_fn(move || loop {
            // bounded by the number of categories, should the data ever hold a cycle
            let c = at?;
            steps += 1;
            if steps > self.parent.len() {
                return None;
            }
            at = self.parent.get(c as usize).copied().flatten();
            if let Some(s) = self.scope_of.get(c as usize).copied().flatten() {
                return Some(s);
            }
        }))
    }

    /// Takes product `id` out, as its columns say now (call before they change).
    pub fn remove(&mut self, id: u32, cols: Columns<'_>) {
        let Some(&at) = self.slot.get(id as usize) else { return };
        if at == u32::MAX {
            return;
        }
        let d = &cols.docs[id as usize];
        let scopes: Vec<usize> = self.scopes_of(d.category).collect();
        for s in scopes {
            let scope = &mut self.scopes[s];
            for order in &mut scope.orders {
                order.remove(id, cols);
            }
            if d.in_stock {
                scope.stocked_price.remove(id, cols);
            }
        }
        if let Some(list) = self.brand_ids.get_mut(d.brand as usize) {
            if let Ok(at) = list.binary_search(&id) {
                list.remove(at);
            }
        }
        let bucket = &mut self.buckets[d.category as usize];
        if let Some(moved) = bucket.swap_remove(at as usize) {
            self.slot[moved as usize] = at;
        }
        self.slot[id as usize] = u32::MAX;
        if let Some(n) = self.brand_stocked.get_mut(d.brand as usize) {
            *n -= d.in_stock as usize;
        }
        self.listed -= 1;
        self.stocked -= d.in_stock as usize;
    }

    /// Puts product `id` in, as its columns say now (call after they changed); inactive
    /// products stay out.
    pub fn insert(&mut self, id: u32, cols: Columns<'_>) {
        let d = &cols.docs[id as usize];
        if !d.active || self.slot.get(id as usize).is_some_and(|&s| s != u32::MAX) {
            return;
        }
        self.add_to_bucket(id, cols);
        let scopes: Vec<usize> = self.scopes_of(d.category).collect();
        for s in scopes {
            let scope = &mut self.scopes[s];
            for order in &mut scope.orders {
                order.insert(id, cols);
            }
            if d.in_stock {
                scope.stocked_price.insert(id, cols);
            }
        }
    }

    /// Whether a category has outgrown the pass over its buckets (the listing should be
    /// rebuilt to give it orders of its own).
    pub fn needs_rebuild(&self) -> bool {
        (0..self.buckets.len()).any(|c| {
            self.scope_of[c].is_none()
                && self.subtree[c].iter().map(|&s| self.buckets[s as usize].ids.len()).sum::<usize>()
                    >= 4 * self.scope_min
        })
    }

    pub fn len(&self) -> usize {
        self.listed
    }

    pub fn is_empty(&self) -> bool {
        self.listed == 0
    }

    /// The products of the subtree of `category` (the whole catalog for `None`).
    fn size(&self, category: Option<u32>, in_stock: bool) -> usize {
        match category {
            None if in_stock => self.stocked,
            None => self.listed,
            Some(c) => self.subtree[c as usize]
                .iter()
                .map(|&s| {
                    let b = &self.buckets[s as usize];
                    if in_stock {
                        b.stocked
                    } else {
                        b.ids.len()
                    }
                })
                .sum(),
        }
    }

    /// The products of brand position `b` (an unknown one has none).
    fn brand_size(&self, b: u32, in_stock: bool) -> usize {
        match in_stock {
            true => self.brand_stocked.get(b as usize).copied().unwrap_or(0),
            false => self.brand_ids.get(b as usize).map_or(0, Vec::len),
        }
    }

    /// The total a counter can give without a pass.
    fn counted(&self, want: &Want) -> Option<usize> {
        if want.priced() {
            return None;
        }
        match (want.category, want.brand) {
            (c, None) => Some(self.size(c, want.in_stock)),
            (None, Some(b)) => Some(self.brand_size(b, want.in_stock)),
            (Some(_), Some(_)) => None,
        }
    }

    /// An upper bound of how many products match `want` (and `matched`), from counters
    /// and the price order: what a walk's length is estimated by.
    fn upper_bound(&self, want: &Want, range: Option<&PriceRange>, matched: Option<&Matched<'_>>) -> usize {
        let mut upper = self.size(want.category, want.in_stock);
        if let Some(b) = want.brand {
            upper = upper.min(self.brand_size(b, want.in_stock));
        }
        if let Some(r) = range {
            upper = upper.min(r.count);
        }
        if let Some(m) = matched {
            upper = upper.min(m.ids.len());
        }
        upper
    }

    /// Per category position: whether it is in the subtree of `category`.
    pub fn allowed(&self, category: u32) -> Vec<bool> {
        let mut allowed = vec![false; self.buckets.len()];
        for &s in &self.subtree[category as usize] {
            allowed[s as usize] = true;
        }
        allowed
    }

    /// Where the price range of `want` lies in the price order of scope `s`.
    fn price_range(&self, s: usize, want: &Want, cols: Columns<'_>) -> PriceRange {
        let order = self.scopes[s].price_order(want.in_stock);
        let from = want.min_price.map_or(order.start(), |p| order.lower_bound((p, 0), cols));
        let to = want.max_price.map_or(order.end(), |p| order.lower_bound((p, u32::MAX), cols));
        let rank = |(c, i): Pos| order.chunks[..c.min(order.chunks.len())].iter().map(Vec::len).sum::<usize>() + i;
        PriceRange { scope: s, from, to, count: rank(to).saturating_sub(rank(from)) }
    }

    /// One page of the list `want` (narrowed to the products a text query `matched`, when
    /// given) as `ask` says.
    pub fn page(&self, cols: Columns<'_>, want: &Want, ask: &Ask, matched: Option<&Matched<'_>>) -> Page {
        let Ask { sort, slice, limit, with_total, strategy } = *ask;
        if want.category.is_some_and(|c| c as usize >= self.buckets.len()) {
            return Page { rows: Vec::new(), more: false, total: with_total.then_some(0) };
        }
        let scope = match want.category {
            None => Some(0),
            Some(c) => self.scope_of[c as usize],
        };
        let need = match slice {
            Slice::Offset(o) => o + limit + 1,
            _ => limit + 1,
        };
        let counted = match matched {
            _ if !with_total => None,
            // a price range alone in a scope with orders: its place in the price order
            None if want.priced() && want.brand.is_none() && scope.is_some() => {
                scope.map(|s| self.price_range(s, want, cols).count)
            }
            None => self.counted(want),
            Some(m) if want.category.is_none() && want.brand.is_none() && !want.priced() && !want.in_stock => {
                Some(m.ids.len())
            }
            Some(_) => None,
        };
        let range = match scope {
            Some(s) if want.priced() => Some(self.price_range(s, want, cols)),
            _ => None,
        };
        let size = self.size(want.category, false);
        let upper = self.upper_bound(want, range.as_ref(), matched);
        // the cost of each way in scattered row reads, as measured at a million products:
        // a walk step or a row of a price range or of a brand ~8 ns, a bucket row read in
        // sequence ~3 ns, a matched id (ascending) ~4 ns
        // (with a text query, a step whose bit is off reads no columns: ~4× cheaper)
        let steps = need.saturating_mul(size) / upper.max(1);
        let walk_cost = scope.map(|_| if matched.is_some() { steps / 4 + need } else { steps });
        let scan_cost = size * 2 / 5;
        let range_cost = range.as_ref().map(|r| r.count);
        let matches_cost = matched.map(|m| m.ids.len() / 2);
        let brand_cost = want.brand.map(|b| self.brand_size(b, false));
        let pass = |strategy: Strategy| -> Strategy {
            match strategy {
                Strategy::Range if range.is_some() => Strategy::Range,
                Strategy::Matches if matched.is_some() => Strategy::Matches,
                Strategy::Brand if want.brand.is_some() => Strategy::Brand,
                Strategy::Scan | Strategy::Range | Strategy::Matches | Strategy::Brand => Strategy::Scan,
                _ => {
                    let mut best = (scan_cost, Strategy::Scan);
                    for (cost, s) in [
                        (range_cost, Strategy::Range),
                        (matches_cost, Strategy::Matches),
                        (brand_cost, Strategy::Brand),
                    ] {
                        if let Some(c) = cost.filter(|c| *c < best.0) {
                            best = (c, s);
                        }
                    }
                    best.1
                }
            }
        };
        let pass_cost = |how: Strategy| match how {
            Strategy::Range => range_cost.unwrap_or(usize::MAX),
            Strategy::Matches => matches_cost.unwrap_or(usize::MAX),
            Strategy::Brand => brand_cost.unwrap_or(usize::MAX),
            _ => scan_cost,
        };
        let walked = match (scope, strategy) {
            (Some(s), Strategy::Walk) => self.walk(&self.scopes[s], cols, want, matched, sort, slice, need, usize::MAX),
            (Some(s), Strategy::Auto) => {
                let walk_cost = walk_cost.unwrap_or(usize::MAX);
                let other = pass_cost(pass(Strategy::Auto));
                if walk_cost <= other {
                    // the estimate assumes matches spread evenly; a walk that runs far past it
                    // gives way to the pass
                    let budget = walk_cost.saturating_mul(4).max(256).min(other.max(256));
                    // in steps: with a text query most steps cost a quarter
                    let budget = if matched.is_some() { budget.saturating_mul(4) } else { budget };
                    self.walk(&self.scopes[s], cols, want, matched, sort, slice, need, budget)
                } else {
                    None
                }
            }
            _ => None,
        };
        let how = pass(strategy);
        let (found, total) = match walked {
            Some(found) => {
                let total = match (with_total, counted) {
                    (false, _) => None,
                    (true, Some(n)) => Some(n),
                    (true, None) => Some(self.pass(how, cols, want, range.as_ref(), matched, sort, None, 0).1),
                };
                (found, total)
            }
            None => {
                let (found, n) = self.pass(how, cols, want, range.as_ref(), matched, sort, Some(slice), need);
                (found, if with_total { counted.or(Some(n)) } else { None })
            }
        };
        let skip = match slice {
            Slice::Offset(o) => o,
            _ => 0,
        };
        let mut rows: Vec<(i64, i64)> = found
            .into_iter()
            .skip(skip)
            .map(|id| (id as i64, sort_key(sort, &cols.docs[id as usize], &cols.cold[id as usize])))
            .collect();
        let more = rows.len() > limit;
        rows.truncate(limit);
        if matches!(slice, Slice::Before(..)) {
            rows.reverse();
        }
        Page { rows, more, total }
    }

    /// Walks an order from the page's start, collecting up to `need` matches in the
    /// direction of travel; `None` when `budget` rows did not suffice.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        scope: &Scope,
        cols: Columns<'_>,
        want: &Want,
        matched: Option<&Matched<'_>>,
        sort: Sort,
        slice: Slice,
        need: usize,
        budget: usize,
    ) -> Option<Vec<u32>> {
        let key = Key::of(sort);
        let order = &scope.orders[key.index()];
        // display order is ascending only for price_asc; walking back reverses it
        let backwards = matches!(slice, Slice::Before(..));
        let forward = sort.descending() == backwards;
        let mut from = match slice {
            Slice::Offset(_) => {
                if forward {
                    order.start()
                } else {
                    order.end()
                }
            }
            Slice::After(k, id) | Slice::Before(k, id) => {
                let Ok(id) = u32::try_from(id) else { return Some(Vec::new()) };
                let at = order.lower_bound((k, id), cols);
                // strictly past the cursor's row
                let here = order.chunks.get(at.0).and_then(|c| c.get(at.1)).map(|&x| cols.at(key, x));
                if forward && here == Some((k, id)) {
                    next(order, at)
                } else {
                    at
                }
            }
        };
        // a price order starts at the price range's near end and stops at its far end
        let (near, far) = if forward { (want.min_price, want.max_price) } else { (want.max_price, want.min_price) };
        if key == Key::Price {
            if let Some(p) = near {
                let bound =
                    if forward { order.lower_bound((p, 0), cols) } else { order.lower_bound((p, u32::MAX), cols) };
                let later = if forward { bound > from } else { bound < from };
                if later {
                    from = bound;
                }
            }
        }
        let mut found = Vec::with_capacity(need.min(4096));
        let mut steps = 0usize;
        let mut exhausted = true;
        order.walk(from, forward, cols, matched.is_none(), |id| {
            steps += 1;
            // a text query's bit first: most rows stop there without a read of their columns
            if matched.is_some_and(|m| !m.has(id)) {
                return steps < budget || {
                    exhausted = false;
                    false
                };
            }
            let (d, c) = (&cols.docs[id as usize], &cols.cold[id as usize]);
            if key == Key::Price && far.is_some_and(|p| if forward { c.price > p } else { c.price < p }) {
                return false;
            }
            if want.matches(d, c) {
                found.push(id);
                if found.len() == need {
                    return false;
                }
            }
            if steps >= budget {
                exhausted = false;
                return false;
            }
            true
        });
        (exhausted || found.len() == need).then_some(found)
    }

    /// One pass over the candidates `how` names — the buckets of the subtree, the price
    /// range of the scope's price order, or the matched ids: the first `need` matches of
    /// `slice` in the direction of travel (none when `slice` is `None`) and how many match
    /// in all.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        how: Strategy,
        cols: Columns<'_>,
        want: &Want,
        range: Option<&PriceRange>,
        matched: Option<&Matched<'_>>,
        sort: Sort,
        slice: Option<Slice>,
        need: usize,
    ) -> (Vec<u32>, usize) {
        let key = Key::of(sort);
        let backwards = matches!(slice, Some(Slice::Before(..)));
        // the rank order of the direction of travel
        let dir = if sort.descending() != backwards { Sort::PriceDesc } else { Sort::PriceAsc };
        let bound = match slice {
            Some(Slice::After(k, id) | Slice::Before(k, id)) => Some(Rank::new(Some(dir), id, 0, 0, k)),
            _ => None,
        };
        let mut top = TopK::new(if slice.is_some() { need } else { 0 });
        let mut total = 0;
        let mut offer = |id: u32, k: i64| {
            total += 1;
            if slice.is_some() {
                let r = Rank::new(Some(dir), id as i64, 0, 0, k);
                if bound.is_none_or(|bound| r > bound) {
                    top.push(r);
                }
            }
        };
        match (how, range, matched) {
            (Strategy::Range, Some(r), _) => {
                // the scope's own price order: the category is implied
                let order = self.scopes[r.scope].price_order(want.in_stock);
                let to = r.to;
                let mut at = r.from;
                order.walk(r.from, true, cols, true, |id| {
                    if at >= to {
                        return false;
                    }
                    at = next(order, at);
                    let (d, c) = (&cols.docs[id as usize], &cols.cold[id as usize]);
                    if want.matches(d, c) && matched.is_none_or(|m| m.has(id)) {
                        offer(id, value(key, d, c));
                    }
                    true
                });
            }
            (Strategy::Brand, _, _) if want.brand.is_some() => {
                let empty = Vec::new();
                let ids = want.brand.and_then(|b| self.brand_ids.get(b as usize)).unwrap_or(&empty);
                let allowed = want.category.map(|c| self.allowed(c));
                for (i, &id) in ids.iter().enumerate() {
                    if let Some(&ahead) = ids.get(i + 16) {
                        prefetch(cols, ahead);
                    }
                    let (d, c) = (&cols.docs[id as usize], &cols.cold[id as usize]);
                    if want.matches(d, c)
                        && allowed.as_ref().is_none_or(|a| a[d.category as usize])
                        && matched.is_none_or(|m| m.has(id))
                    {
                        offer(id, value(key, d, c));
                    }
                }
            }
            (Strategy::Matches, _, Some(m)) => {
                let allowed = want.category.map(|c| self.allowed(c));
                for (i, &id) in m.ids.iter().enumerate() {
                    if let Some(&ahead) = m.ids.get(i + 16) {
                        prefetch(cols, ahead);
                    }
                    let (d, c) = (&cols.docs[id as usize], &cols.cold[id as usize]);
                    if want.matches(d, c) && allowed.as_ref().is_none_or(|a| a[d.category as usize]) {
                        offer(id, value(key, d, c));
                    }
                }
            }
            _ => {
                let all: Vec<u32>;
                let categories: &[u32] = match want.category {
                    Some(c) => &self.subtree[c as usize],
                    None => {
                        all = (0..self.buckets.len() as u32).collect();
                        &all
                    }
                };
                // one branch-free test a row over columns read in sequence: a pass over a
                // million rows is ~1 ms
                let (lo, hi) = (want.min_price.unwrap_or(i64::MIN), want.max_price.unwrap_or(i64::MAX));
                let (any_brand, brand) = (want.brand.is_none(), want.brand.unwrap_or(0));
                let any_stock = !want.in_stock;
                for &c in categories {
                    let b = &self.buckets[c as usize];
                    let n = b.ids.len();
                    let (ids, price, stock, brands) = (&b.ids[..n], &b.price[..n], &b.in_stock[..n], &b.brand[..n]);
                    for i in 0..n {
                        let ok = (any_stock | stock[i])
                            & (any_brand | (brands[i] == brand))
                            & (price[i] >= lo)
                            & (price[i] <= hi);
                        if ok && matched.is_none_or(|m| m.has(ids[i])) {
                            offer(ids[i], b.key(key, i));
                        }
                    }
                }
            }
        }
        let ids = top.page(0, Some(dir)).into_iter().map(|id| id as u32).collect();
        (ids, total)
    }
}

/// Where a price range lies in a scope's price order, and how many products it holds.
struct PriceRange {
    scope: usize,
    from: Pos,
    to: Pos,
    count: usize,
}

/// The products a text query matched: ascending ids (active products only) and the same
/// as a bit set.
pub struct Matched<'a> {
    pub ids: &'a [u32],
    pub bits: &'a [u64],
}

impl Matched<'_> {
    /// A bit set of `ids` for a catalog whose ids are below `len`.
    pub fn bits(ids: &[u32], len: usize) -> Vec<u64> {
        let mut bits = vec![0u64; len.div_ceil(64)];
        for &id in ids {
            if let Some(w) = bits.get_mut(id as usize / 64) {
                *w |= 1 << (id % 64);
            }
        }
        bits
    }

    #[inline(always)]
    fn has(&self, id: u32) -> bool {
        self.bits.get(id as usize / 64).is_some_and(|w| (w >> (id % 64)) & 1 == 1)
    }
}

/// The position after `at`.
fn next(order: &Order, (c, i): Pos) -> Pos {
    if i + 1 < order.chunks[c].len() {
        (c, i + 1)
    } else {
        (c + 1, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    const SORTS: [Sort; 5] = [Sort::Newest, Sort::PriceAsc, Sort::PriceDesc, Sort::Popular, Sort::Rating];

    struct World {
        docs: Vec<Doc>,
        cold: Vec<Cold>,
        parent: Vec<Option<u32>>,
    }

    impl World {
        fn cols(&self) -> Columns<'_> {
            Columns { docs: &self.docs, cold: &self.cold }
        }

        fn random(rng: &mut Rng, n: usize) -> World {
            // 0: root; 1..=3 under it; 4..=9 under those
            let parent = vec![None, Some(0), Some(0), Some(0), Some(1), Some(1), Some(2), Some(2), Some(3), None];
            let mut w = World { docs: vec![Doc::default(); n], cold: vec![Cold::default(); n], parent };
            for id in 1..n {
                w.set(id, rng);
            }
            w
        }

        fn set(&mut self, id: usize, rng: &mut Rng) {
            self.docs[id] = Doc {
                category: (rng.next_u64() % 10) as u32,
                brand: (rng.next_u64() % 6) as u32,
                sales: (rng.next_u64() % 5) as u32,
                band: 0,
                active: !rng.next_u64().is_multiple_of(10),
                in_stock: !rng.next_u64().is_multiple_of(3),
            };
            self.cold[id] = Cold {
                price: (rng.next_u64() % 50) as i64 * 100,
                created_at: (rng.next_u64() % 200) as i64,
                rating_x100: (rng.next_u64() % 6) as i32 * 100,
            };
        }

        fn in_subtree(&self, mut c: u32, root: u32) -> bool {
            loop {
                if c == root {
                    return true;
                }
                match self.parent[c as usize] {
                    Some(p) => c = p,
                    None => return false,
                }
            }
        }

        /// Everything `want` shows (of `only`, when given), in display order, with sort keys.
        fn brute(&self, want: &Want, sort: Sort, only: Option<&[u32]>) -> Vec<(i64, i64)> {
            let mut rows: Vec<(i64, i64)> = (0..self.docs.len())
                .filter(|&id| {
                    let (d, c) = (&self.docs[id], &self.cold[id]);
                    want.matches(d, c)
                        && want.category.is_none_or(|root| self.in_subtree(d.category, root))
                        && only.is_none_or(|o| o.contains(&(id as u32)))
                })
                .map(|id| (id as i64, sort_key(sort, &self.docs[id], &self.cold[id])))
                .collect();
            rows.sort_by_key(|&(id, k)| (k, id));
            if sort.descending() {
                rows.reverse();
            }
            rows
        }
    }

    fn wants() -> Vec<Want> {
        let mut out = Vec::new();
        for category in [None, Some(0), Some(1), Some(4), Some(9)] {
            for brand in [None, Some(2)] {
                for (min_price, max_price) in [(None, None), (Some(1000), Some(3000)), (None, Some(500))] {
                    for in_stock in [false, true] {
                        out.push(Want { category, brand, min_price, max_price, in_stock });
                    }
                }
            }
        }
        out
    }

    /// Every filter × sort × slice, every strategy, against a brute-force computation —
    /// with scopes for every category (so walks are exercised everywhere) and for none.
    fn check(world: &World, listing: &Listing, rng: &mut Rng) {
        let cols = world.cols();
        // a text query's matches: a third of the active products
        let ids: Vec<u32> = (0..world.docs.len() as u32)
            .filter(|&id| world.docs[id as usize].active && rng.next_u64().is_multiple_of(3))
            .collect();
        let bits = Matched::bits(&ids, world.docs.len());
        let matched = Matched { ids: &ids, bits: &bits };
        for want in wants() {
            for (sort, only) in SORTS.iter().flat_map(|s| [(*s, None), (*s, Some(&matched))]) {
                let all = world.brute(&want, sort, only.map(|m| m.ids));
                let strategies = [
                    Strategy::Auto,
                    Strategy::Walk,
                    Strategy::Scan,
                    Strategy::Range,
                    Strategy::Matches,
                    Strategy::Brand,
                ];
                for strategy in strategies {
                    let ctx = format!("{want:?} {sort:?} {strategy:?} matched: {}", only.is_some());
                    for (offset, limit) in [(0, 7), (7, 7), (0, 1000), (all.len().saturating_sub(3), 5)] {
                        let p = listing.page(
                            cols,
                            &want,
                            &Ask { sort, slice: Slice::Offset(offset), limit, with_total: true, strategy },
                            only,
                        );
                        let expect: Vec<(i64, i64)> = all.iter().skip(offset).take(limit).copied().collect();
                        assert_eq!(p.rows, expect, "offset {offset} {ctx}");
                        assert_eq!(p.total, Some(all.len()), "total {ctx}");
                        assert_eq!(p.more, all.len() > offset + limit, "more at offset {offset} {ctx}");
                    }
                    // every cursor both ways
                    for (i, &(id, k)) in all.iter().enumerate() {
                        let p = listing.page(
                            cols,
                            &want,
                            &Ask { sort, slice: Slice::After(k, id), limit: 4, with_total: false, strategy },
                            only,
                        );
                        let expect: Vec<(i64, i64)> = all.iter().skip(i + 1).take(4).copied().collect();
                        assert_eq!(p.rows, expect, "after #{i} {ctx}");
                        assert_eq!(p.more, all.len() > i + 5, "more after #{i} {ctx}");
                        let p = listing.page(
                            cols,
                            &want,
                            &Ask { sort, slice: Slice::Before(k, id), limit: 4, with_total: false, strategy },
                            only,
                        );
                        let expect: Vec<(i64, i64)> = all[i.saturating_sub(4)..i].to_vec();
                        assert_eq!(p.rows, expect, "before #{i} {ctx}");
                        assert_eq!(p.more, i > 4, "more before #{i} {ctx}");
                    }
                }
            }
        }
    }

    fn patch(world: &mut World, listing: &mut Listing, rng: &mut Rng, changes: usize) {
        for _ in 0..changes {
            let id = 1 + (rng.next_u64() as usize % (world.docs.len() - 1));
            listing.remove(id as u32, world.cols());
            world.set(id, rng);
            listing.insert(id as u32, world.cols());
        }
    }

    #[test]
    fn pages_match_brute_force_before_and_after_changes() {
        let mut rng = Rng::new(7);
        for scope_min in [0, usize::MAX] {
            let mut world = World::random(&mut rng, 400);
            let mut listing = Listing::build(world.parent.clone(), 6, world.cols(), scope_min);
            check(&world, &listing, &mut rng);
            patch(&mut world, &mut listing, &mut rng, 300);
            check(&world, &listing, &mut rng);
            // new products at the end, some retired
            world.docs.resize(600, Doc::default());
            world.cold.resize(600, Cold::default());
            for id in 400..600 {
                world.set(id, &mut rng);
                listing.insert(id as u32, world.cols());
            }
            check(&world, &listing, &mut rng);
        }
    }

    #[test]
    fn orders_split_and_stay_sorted_across_chunks() {
        let mut rng = Rng::new(3);
        let mut world = World::random(&mut rng, 6000);
        let mut listing = Listing::build(world.parent.clone(), 6, world.cols(), 0);
        patch(&mut world, &mut listing, &mut rng, 5000);
        for scope in &listing.scopes {
            for order in &scope.orders {
                assert!(order.chunks.iter().all(|c| !c.is_empty() && c.len() <= 2 * CHUNK));
                let flat: Vec<(i64, u32)> =
                    order.chunks.iter().flatten().map(|&id| world.cols().at(order.key, id)).collect();
                assert!(flat.windows(2).all(|w| w[0] < w[1]), "{:?} sorted", order.key);
            }
        }
        for scope in &listing.scopes {
            let flat: Vec<u32> = scope.stocked_price.chunks.iter().flatten().copied().collect();
            assert!(flat.iter().all(|&id| world.docs[id as usize].in_stock && world.docs[id as usize].active));
            let keyed: Vec<(i64, u32)> = flat.iter().map(|&id| world.cols().at(Key::Price, id)).collect();
            assert!(keyed.windows(2).all(|w| w[0] < w[1]), "in-stock price order sorted");
        }
        assert_eq!(listing.scopes[0].stocked_price.len(), listing.stocked);
        assert_eq!(listing.scopes[0].orders[0].len(), listing.len());
        let want = Want::default();
        let sort = Sort::Newest;
        let all = world.brute(&want, sort, None);
        let (id, k) = all[4000];
        let p = listing.page(
            world.cols(),
            &want,
            &Ask { sort, slice: Slice::After(k, id), limit: 20, with_total: false, strategy: Strategy::Walk },
            None,
        );
        assert_eq!(p.rows, all[4001..4021].to_vec());
    }
}
