//! What a product costs a shopper: in the currency asked for, for the customer groups the
//! shopper is in, now. One [`Market`] says which price lists apply; the same rule then
//! prices lists, search, product pages, carts and checkouts (as SQL, [`Market::sql`]), and
//! the listing index's price columns (in Rust, [`Market::effective`]); a test holds the two
//! to the same answers.
//!
//! The rule, per product (or per variant: a list's price for the variant, else the list's
//! price for its product):
//! - its own price: in the default currency the product's (sale price if any); in another,
//!   the price that a list for everyone and all the time in that currency sets, else the
//!   default's converted at the currency's rate ([`crate::domain::currencies`]);
//! - the price a shopper pays is the lowest of its own and those of the lists that apply to
//!   the shopper now (a customer group's, a sale's time window, a list for everyone in the
//!   default currency) — "the lowest applicable price";
//! - what it shows as its regular price is its own regular price (before any sale); when
//!   the price paid is lower, that is its sale price.

use rusqlite::{params, Connection};

use crate::domain::currencies::{self, Enabled};

/// The price lists that apply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    pub currency: Enabled,
    /// whether `currency` is the shop's default
    pub default: bool,
    /// lists for everyone and all the time in a currency other than the default: they set
    /// products' own prices in it (ids, ascending)
    general: Vec<i64>,
    /// lists whose prices compete as the lowest (ids, ascending)
    special: Vec<i64>,
}

/// A price list's terms.
struct Terms {
    id: i64,
    group: Option<i64>,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
}

impl Market {
    /// The market of `currency` (an enabled one; `None`: the default) for a shopper in
    /// `groups` at `now`.
    pub fn load(
        conn: &Connection,
        setting: &str,
        currency: Option<&str>,
        groups: &[i64],
        now: i64,
    ) -> rusqlite::Result<Market> {
        let enabled = currencies::enabled(setting);
        let chosen =
            currency.and_then(|c| enabled.iter().find(|e| e.code.as_str() == c)).copied().unwrap_or(enabled[0]);
        let default = chosen.code == enabled[0].code;
        let mut stmt = conn.prepare_cached(
            "SELECT id, customer_group_id, starts_at, ends_at FROM price_lists WHERE currency = ?1 ORDER BY id",
        )?;
        let terms = stmt.query_map(params![chosen.code.as_str()], |r| {
            Ok(Terms { id: r.get(0)?, group: r.get(1)?, starts_at: r.get(2)?, ends_at: r.get(3)? })
        })?;
        let (mut general, mut special) = (Vec::new(), Vec::new());
        for t in terms {
            let t = t?;
            let applies = t.group.is_none_or(|g| groups.contains(&g))
                && t.starts_at.is_none_or(|s| s <= now)
                && t.ends_at.is_none_or(|e| now < e);
            if !applies {
                continue;
            }
            if !default && t.group.is_none() && t.starts_at.is_none() && t.ends_at.is_none() {
                general.push(t.id);
            } else {
                special.push(t.id);
            }
        }
        Ok(Market { currency: chosen, default, general, special })
    }

    /// A market of the given lists (`general`: setting products' own prices in a currency
    /// other than the default; `special`: competing as the lowest), as [`Market::load`]
    /// would find them: for tests and tools that plan its SQL without a shop.
    pub fn of_lists(currency: Enabled, default: bool, general: Vec<i64>, special: Vec<i64>) -> Market {
        Market { currency, default, general, special }
    }

    /// The default currency with no list applying: products' own prices as stored.
    pub fn is_plain(&self) -> bool {
        self.default && self.special.is_empty()
    }

    /// Says which prices these are, for the listing index's columns: the currency, its
    /// rate and the lists.
    pub fn key(&self) -> String {
        let ids = |v: &[i64]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        format!(
            "{}:{}:g{}:s{}",
            self.currency.code.as_str(),
            self.currency.rate_ppm,
            ids(&self.general),
            ids(&self.special)
        )
    }

    /// The currency code.
    pub fn code(&self) -> &str {
        self.currency.code.as_str()
    }

    /// The lists (general, special), for the listing index's columns.
    pub fn lists(&self) -> (&[i64], &[i64]) {
        (&self.general, &self.special)
    }

    /// The price paid in this market, from the default's own price (`own_default`: the
    /// product's price, its sale price if any), the lowest of the general lists' prices for
    /// it and the lowest of the special lists' (both as paid: a list's sale price if any).
    pub fn effective(&self, own_default: i64, general: Option<i64>, special: Option<i64>) -> i64 {
        let own = match (self.default, general) {
            (true, _) => own_default,
            (false, Some(g)) => g,
            (false, None) => self.currency.convert(own_default),
        };
        special.map_or(own, |s| s.min(own))
    }

    /// SQL of `x` (an integer expression of the default's minor units) in this currency:
    /// [`currencies::convert`] in SQLite's 64-bit integers (the whole and the fraction of
    /// the rate apart, so no product of two large numbers can overflow).
    fn convert_sql(&self, x: &str) -> String {
        let ppm = self.currency.rate_ppm;
        if ppm == currencies::ONE {
            return x.to_owned();
        }
        let (whole, frac) = (ppm / currencies::ONE, ppm % currencies::ONE);
        format!("(({x}) * {whole} + (({x}) * {frac} + 500000) / 1000000)")
    }

    /// SQL of the lowest of `column` (`amount`, or `coalesce(sale, amount)`) in `lists`
    /// for product `p` (and variant `v`: a list's price for the variant, else its price for
    /// the product); NULL when none of them prices it.
    fn entry_sql(lists: &[i64], column: &str, p: &str, v: Option<&str>) -> Option<String> {
        if lists.is_empty() {
            return None;
        }
        let ids = lists.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let product = format!(
            "(SELECT min({column}) FROM price_list_prices pla WHERE pla.product_id = {p}.id AND pla.variant_id = 0 \
             AND pla.price_list_id IN ({ids}){})",
            match v {
                None => String::new(),
                Some(v) => format!(
                    " AND NOT EXISTS (SELECT 1 FROM price_list_prices plb WHERE plb.price_list_id = pla.price_list_id \
                     AND plb.product_id = {p}.id AND plb.variant_id = {v}.id)"
                ),
            }
        );
        Some(match v {
            None => product,
            Some(v) => {
                let variant = format!(
                    "(SELECT min({column}) FROM price_list_prices WHERE product_id = {p}.id AND variant_id = {v}.id \
                     AND price_list_id IN ({ids}))"
                );
                format!("coalesce(min({variant}, {product}), {variant}, {product})")
            }
        })
    }

    /// SQL of (regular price, price paid) of product `p` — or of its variant `v`, whose own
    /// price (when set) stands for the product's — in this market.
    pub fn sql(&self, p: &str, v: Option<&str>) -> (String, String) {
        let (base, paid) = match v {
            None => (format!("{p}.base_price"), format!("coalesce({p}.sale_price, {p}.base_price)")),
            Some(v) => (
                format!("coalesce({v}.base_price, {p}.base_price)"),
                format!(
                    "CASE WHEN {v}.base_price IS NOT NULL THEN coalesce({v}.sale_price, {v}.base_price) \
                     ELSE coalesce({p}.sale_price, {p}.base_price) END"
                ),
            ),
        };
        let (base, own) = if self.default {
            (base, paid)
        } else {
            let (cb, cp) = (self.convert_sql(&base), self.convert_sql(&paid));
            match (
                Self::entry_sql(&self.general, "amount", p, v),
                Self::entry_sql(&self.general, "coalesce(sale, amount)", p, v),
            ) {
                (Some(gb), Some(gp)) => (format!("coalesce({gb}, {cb})"), format!("coalesce({gp}, {cp})")),
                _ => (cb, cp),
            }
        };
        let paid = match Self::entry_sql(&self.special, "coalesce(sale, amount)", p, v) {
            Some(s) => format!("min({own}, coalesce({s}, {own}))"),
            None => own,
        };
        (base, paid)
    }

    /// SQL of the three price columns a summary reads: regular price, sale price (NULL
    /// unless below the regular one), currency.
    pub fn summary_columns(&self, p: &str) -> String {
        let (base, paid) = self.sql(p, None);
        format!("{base}, CASE WHEN ({paid}) < ({base}) THEN ({paid}) END, '{}'", self.code())
    }
}

/// Whether any price list is for a customer group, on this node: while none is, a catalog
/// answer is the same for every shopper in a currency, and the server's fast path may
/// answer requests that carry a token. Kept current by a commit hook (on every node) from
/// the `price_lists` table.
#[derive(Default)]
pub struct GroupPrices {
    any: std::sync::atomic::AtomicBool,
    /// when the `price_windows` task last looked (ms; 0: never)
    checked: std::sync::atomic::AtomicI64,
    /// a price list changed: the task looks again at once
    changed: tokio::sync::Notify,
}

impl GroupPrices {
    pub fn any(&self) -> bool {
        self.any.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until a price list changes, at most `limit`.
    pub async fn changed_within(&self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, self.changed.notified()).await;
    }

    /// The `price_windows` task's look at the clock: whether a price list started or ended
    /// since its last look (its first: none), and when the next one does.
    pub fn windows(&self, path: &std::path::Path, now: i64) -> rusqlite::Result<(bool, Option<i64>)> {
        let conn = crate::db::open_read(path)?;
        let since = self.checked.swap(now, std::sync::atomic::Ordering::AcqRel);
        let passed = since > 0 && {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM price_lists WHERE (starts_at > ?1 AND starts_at <= ?2)
                                                          OR (ends_at > ?1 AND ends_at <= ?2))",
            )?
            .query_row(params![since, now], |r| r.get::<_, bool>(0))?
        };
        Ok((passed, next_boundary(&conn, now)?))
    }

    /// Reads the table again.
    pub fn reload(&self, conn: &Connection) -> rusqlite::Result<()> {
        let any: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM price_lists WHERE customer_group_id IS NOT NULL)")?
            .query_row([], |r| r.get(0))?;
        self.any.store(any, std::sync::atomic::Ordering::Release);
        self.changed.notify_one();
        Ok(())
    }

    /// [`GroupPrices::reload`] from a connection of its own (a commit hook's); a failure
    /// says so and assumes there are (the safe side: requests with a token skip the fast
    /// path).
    pub fn reload_from(&self, path: &std::path::Path) {
        if let Err(e) = crate::db::open_read(path).and_then(|conn| self.reload(&conn)) {
            tracing::error!(error = %e, "cannot read the price lists; assuming some are for customer groups");
            self.any.store(true, std::sync::atomic::Ordering::Release);
            self.changed.notify_one();
        }
    }
}

/// The currency a request asks for in parameter `p` (a raw one of the currency pattern).
pub fn currency_in(
    app: &crate::app::AppState,
    q: &mut crate::http::QueryParams,
    p: &crate::http::Param,
) -> Option<String> {
    let asked = q.raw(p)?;
    if let Err(e) = crate::domain::currencies::sold(&app.live().currencies, &asked) {
        q.error("currency", e);
        return None;
    }
    Some(asked)
}

/// The customer groups with price lists of the customer whose session token hashes to
/// `hash` (none for a guest, an unknown or ended session): what a catalog answer's prices
/// depend on beyond its currency.
pub fn priced_groups_of_token(conn: &Connection, hash: &[u8; 32], now: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT DISTINCT m.group_id FROM sessions s
         JOIN customer_group_members m ON m.customer_id = s.customer_id
         WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2
           AND EXISTS (SELECT 1 FROM price_lists pl WHERE pl.customer_group_id = m.group_id)
         ORDER BY m.group_id",
    )?
    .query_map(params![&hash[..], now], |r| r.get(0))?
    .collect()
}

/// The customer groups with price lists of `customer` (see [`priced_groups_of_token`]).
pub fn priced_groups(conn: &Connection, customer: Option<i64>) -> rusqlite::Result<Vec<i64>> {
    let Some(c) = customer else { return Ok(Vec::new()) };
    conn.prepare_cached(
        "SELECT m.group_id FROM customer_group_members m WHERE m.customer_id = ?1
           AND EXISTS (SELECT 1 FROM price_lists pl WHERE pl.customer_group_id = m.group_id)
         ORDER BY m.group_id",
    )?
    .query_map([c], |r| r.get(0))?
    .collect()
}

/// The customer groups of `customer` (none for a guest).
pub fn groups_of(conn: &Connection, customer: Option<i64>) -> rusqlite::Result<Vec<i64>> {
    let Some(c) = customer else { return Ok(Vec::new()) };
    conn.prepare_cached("SELECT group_id FROM customer_group_members WHERE customer_id = ?1 ORDER BY group_id")?
        .query_map([c], |r| r.get(0))?
        .collect()
}

/// The market of a shopper (`customer`: none for a guest) in `currency` (none: the
/// default) now; `None` when it is the products' own prices.
pub fn for_shopper(
    conn: &Connection,
    setting: &str,
    currency: Option<&str>,
    customer: Option<i64>,
    now: i64,
) -> rusqlite::Result<Option<Market>> {
    let groups = groups_of(conn, customer)?;
    let m = Market::load(conn, setting, currency, &groups, now)?;
    Ok((!m.is_plain()).then_some(m))
}

/// An amount in the default currency (a shipping rate's, a fixed promotion's) in the
/// currency of `market`.
pub fn convert(market: Option<&Market>, amount: i64) -> i64 {
    match market {
        Some(m) if !m.default => m.currency.convert(amount),
        _ => amount,
    }
}

/// The amount a row sets for itself in the currency of `market`, if it is not the default
/// and `own` (a JSON object of currency code → minor units, as the admin API stores it)
/// has one.
pub fn own_amount(market: Option<&Market>, own: Option<&str>) -> Option<i64> {
    let m = market.filter(|m| !m.default)?;
    let amounts: std::collections::BTreeMap<String, i64> = serde_json::from_str(own?).ok()?;
    amounts.get(m.currency.code.as_str()).copied()
}

/// `amount` (of the default) in the currency of `market`: the row's own amount there (see
/// [`own_amount`]), else converted at the rate.
pub fn amount_in(market: Option<&Market>, amount: i64, own: Option<&str>) -> i64 {
    own_amount(market, own).unwrap_or_else(|| convert(market, amount))
}

/// The currency of `market` (none: `default`).
pub fn currency_of(market: Option<&Market>, default: crate::domain::Currency) -> crate::domain::Currency {
    market.map_or(default, |m| m.currency.code)
}

/// The next moment after `now` at which a price list starts or ends (what the catalog
/// shows changes then), if any.
pub fn next_boundary(conn: &Connection, now: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT min(t) FROM (SELECT starts_at AS t FROM price_lists WHERE starts_at > ?1
                             UNION ALL SELECT ends_at FROM price_lists WHERE ends_at > ?1)",
    )?
    .query_row([now], |r| r.get(0))
}

/// A product as shoppers of no customer group see it in one market and language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// its name in the language asked for; `None`: not translated (the default's shows)
    pub name: Option<String>,
    /// its regular price
    pub regular: i64,
    /// the price paid now (below `regular` when a sale or a list lowers it)
    pub paid: i64,
}

/// What shoppers in `market` (none: the default currency with no list applying) reading
/// `locale` (none: the default) see of each of `products`, by the rule every catalog
/// answer prices by ([`Market::sql`]): for the dashboard's view of the catalog as one
/// market sees it. Products that do not exist are left out.
pub fn seen(
    conn: &Connection,
    market: Option<&Market>,
    locale: Option<&str>,
    products: &[i64],
) -> rusqlite::Result<std::collections::HashMap<i64, Seen>> {
    use crate::catalog::translations::{join, Owner};
    let (regular, paid) = match market {
        Some(m) => m.sql("p", None),
        None => ("p.base_price".to_owned(), "coalesce(p.sale_price, p.base_price)".to_owned()),
    };
    let (name, joined) = match locale {
        Some(l) => ("tp.name".to_owned(), join(Owner::Product, "p", l)),
        None => ("NULL".to_owned(), String::new()),
    };
    // the ids are a page of the dashboard's list: each one a bound parameter
    let marks = vec!["?"; products.len()].join(", ");
    let sql = format!("SELECT p.id, {name}, {regular}, {paid} FROM products p{joined} WHERE p.id IN ({marks})");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(products), |r| {
        Ok((r.get::<_, i64>(0)?, Seen { name: r.get(1)?, regular: r.get(2)?, paid: r.get(3)? }))
    })?;
    rows.collect()
}

/// A price a price list sets for a product (or one of its variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPrice {
    pub list_id: i64,
    pub list: String,
    pub currency: String,
    /// the customer group it is for (none: everyone)
    pub group: Option<String>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    /// the variant's SKU, when the price is one variant's
    pub variant_sku: Option<String>,
    pub amount: i64,
    pub sale: Option<i64>,
}

/// Every price list's price for `product`, by currency then list (at most a few dozen: a
/// shop has few lists).
pub fn list_prices_of(conn: &Connection, product: i64) -> rusqlite::Result<Vec<ListPrice>> {
    conn.prepare_cached(
        "SELECT pl.id, pl.name, pl.currency, g.name, pl.starts_at, pl.ends_at, v.sku, x.amount, x.sale
         FROM price_list_prices x JOIN price_lists pl ON pl.id = x.price_list_id
         LEFT JOIN customer_groups g ON g.id = pl.customer_group_id
         LEFT JOIN variants v ON x.variant_id <> 0 AND v.id = x.variant_id
         WHERE x.product_id = ?1 ORDER BY pl.currency, pl.id, x.variant_id",
    )?
    .query_map([product], |r| {
        Ok(ListPrice {
            list_id: r.get(0)?,
            list: r.get(1)?,
            currency: r.get(2)?,
            group: r.get(3)?,
            starts_at: r.get(4)?,
            ends_at: r.get(5)?,
            variant_sku: r.get(6)?,
            amount: r.get(7)?,
            sale: r.get(8)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, base_price INTEGER, sale_price INTEGER);
             CREATE TABLE variants (id INTEGER PRIMARY KEY, product_id INTEGER, base_price INTEGER, sale_price INTEGER);
             CREATE TABLE price_lists (id INTEGER PRIMARY KEY, currency TEXT, customer_group_id INTEGER,
                                       starts_at INTEGER, ends_at INTEGER);
             CREATE TABLE price_list_prices (price_list_id INTEGER, product_id INTEGER, variant_id INTEGER,
                                             amount INTEGER, sale INTEGER);
             INSERT INTO products VALUES (1, 1999, NULL), (2, 1000, 800), (3, 5000, NULL);
             INSERT INTO variants VALUES (10, 1, NULL, NULL), (11, 1, 2500, NULL), (30, 3, NULL, NULL);
             -- 1: EUR for everyone, 2: EUR for group 7, 3: a USD sale in a window, 4: EUR ended
             INSERT INTO price_lists VALUES (1, 'EUR', NULL, NULL, NULL), (2, 'EUR', 7, NULL, NULL),
                                            (3, 'USD', NULL, 100, 200), (4, 'EUR', NULL, 10, 20);
             INSERT INTO price_list_prices VALUES
                 (1, 1, 0, 1800, NULL), (1, 2, 0, 900, NULL), (2, 1, 0, 1700, 1500), (2, 1, 11, 2000, NULL),
                 (3, 3, 0, 4000, 3500), (4, 3, 0, 1, NULL);",
        )
        .unwrap();
        conn
    }

    fn sql_prices(conn: &Connection, m: &Market, id: i64) -> (i64, i64) {
        let (base, paid) = m.sql("p", None);
        conn.query_row(&format!("SELECT {base}, {paid} FROM products p WHERE p.id = ?1"), [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
    }

    fn variant_prices(conn: &Connection, m: &Market, id: i64) -> (i64, i64) {
        let (base, paid) = m.sql("p", Some("v"));
        conn.query_row(
            &format!("SELECT {base}, {paid} FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    /// The Rust rule, from the entries as the listing index reads them.
    fn rust_paid(conn: &Connection, m: &Market, id: i64) -> i64 {
        let (general, special) = m.lists();
        let lowest = |lists: &[i64]| -> Option<i64> {
            lists
                .iter()
                .filter_map(|l| {
                    conn.query_row(
                        "SELECT coalesce(sale, amount) FROM price_list_prices
                         WHERE price_list_id = ?1 AND product_id = ?2 AND variant_id = 0",
                        [*l, id],
                        |r| r.get::<_, i64>(0),
                    )
                    .ok()
                })
                .min()
        };
        let own: i64 = conn
            .query_row("SELECT coalesce(sale_price, base_price) FROM products WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        m.effective(own, lowest(general), lowest(special))
    }

    #[test]
    fn the_lowest_applicable_price_in_sql_and_in_rust() {
        let conn = db();
        let setting = "USD, EUR 0.5";
        // default currency, no group, outside the sale: as stored
        let plain = Market::load(&conn, setting, None, &[], 50).unwrap();
        assert!(plain.is_plain());
        assert_eq!(sql_prices(&conn, &plain, 2), (1000, 800));
        // in the sale's window the USD sale list competes
        let sale = Market::load(&conn, setting, None, &[], 150).unwrap();
        assert!(!sale.is_plain());
        assert_eq!(sql_prices(&conn, &sale, 3), (5000, 3500));
        assert_eq!(sql_prices(&conn, &sale, 1), (1999, 1999));
        assert_eq!(variant_prices(&conn, &sale, 30), (5000, 3500));
        // at its end it stops
        assert_eq!(sql_prices(&conn, &Market::load(&conn, setting, None, &[], 200).unwrap(), 3), (5000, 5000));
        // EUR: the list for everyone sets prices; the rest convert at 0.5 (sale price too)
        let eur = Market::load(&conn, setting, Some("EUR"), &[], 150).unwrap();
        assert_eq!(sql_prices(&conn, &eur, 1), (1800, 1800));
        assert_eq!(sql_prices(&conn, &eur, 2), (900, 900));
        assert_eq!(sql_prices(&conn, &eur, 3), (2500, 2500));
        // a variant with its own price and no list price for it takes the product's list price
        assert_eq!(variant_prices(&conn, &eur, 11), (1800, 1800));
        assert_eq!(variant_prices(&conn, &eur, 10), (1800, 1800));
        // group 7: its list's sale price is lower; its variant price (2000) is not
        let vip = Market::load(&conn, setting, Some("EUR"), &[7], 150).unwrap();
        assert_eq!(sql_prices(&conn, &vip, 1), (1800, 1500));
        assert_eq!(variant_prices(&conn, &vip, 10), (1800, 1500));
        assert_eq!(variant_prices(&conn, &vip, 11), (1800, 1800));
        for m in [&plain, &sale, &eur, &vip] {
            for id in 1..=3 {
                assert_eq!(rust_paid(&conn, m, id), sql_prices(&conn, m, id).1, "{} product {id}", m.key());
            }
        }
        // conversion in SQL rounds as in Rust, big amounts included
        let odd = Market::load(&conn, "USD, JPY 1.234567", Some("JPY"), &[], 0).unwrap();
        for x in [0i64, 1, 999, 1999, 123_456_789, 9_999_999_999] {
            let s: i64 =
                conn.query_row(&format!("SELECT {}", odd.convert_sql(&x.to_string())), [], |r| r.get(0)).unwrap();
            assert_eq!(s, odd.currency.convert(x), "{x}");
        }
        assert_eq!(next_boundary(&conn, 50).unwrap(), Some(100));
        assert_eq!(next_boundary(&conn, 150).unwrap(), Some(200));
        assert_eq!(next_boundary(&conn, 200).unwrap(), None);
    }
}
