//! Every statement the catalog store runs, captured as it runs (SQLite's trace hook), is
//! checked with EXPLAIN QUERY PLAN: no full scan of a large table, and no sort of the whole
//! catalog for an unfiltered listing. Checked on fresh statistics, after a raw ANALYZE
//! (which leaves STAT4 samples) and after the server's own `optimize`.

use crate::common;

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, OpenFlags};
use storefront::catalog::model::{SearchTerms, Sort};
use storefront::catalog::prices::Market;
use storefront::catalog::store::{self, Filter, Slice};

thread_local! {
    /// The statements this test's thread ran while tracing (per thread: the tests of this
    /// file run side by side, each on its own connection and thread).
    static CAPTURED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn captured() -> Vec<String> {
    CAPTURED.with(|c| c.borrow().clone())
}

fn clear_captured() {
    CAPTURED.with(|c| c.borrow_mut().clear());
}

fn capture(e: TraceEvent<'_>) {
    if let TraceEvent::Stmt(stmt, text) = e {
        // trigger sub-programs report "-- TRIGGER name"; the statement text is what we plan
        if !text.starts_with("--") {
            CAPTURED.with(|c| c.borrow_mut().push(stmt.sql().into_owned()));
        }
    }
}

/// Tables whose full scan would grow with the catalog or the order history.
const LARGE: &[&str] = &[
    "p",
    "products",
    "variants",
    "v",
    "product_images",
    "i",
    "reviews",
    "r",
    "inventory",
    "order_items",
    "orders",
    "product_sales_daily",
    "customers",
    "customer_group_members",
    "cu",
    "vav",
    "variant_attribute_values",
    "returns",
    "return_lines",
    "product_translations",
    "tp",
    "price_list_prices",
    "pla",
    "plb",
];

fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    // plans are made without values, as for a statement prepared once and reused
    let nulls = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect()
}

/// Runs every store function the catalog endpoints use, with each kind of input, in the
/// default language and in another (translations joined).
fn exercise(conn: &Connection) {
    for locale in [None, Some("de")] {
        exercise_in(conn, locale);
    }
}

fn exercise_in(conn: &Connection, locale: Option<&str>) {
    let cat = store::category_id(conn, "electronics", locale).unwrap().unwrap();
    let brand: i64 = conn.query_row("SELECT min(id) FROM brands", [], |r| r.get(0)).unwrap();
    let fts = SearchTerms::parse("classic").unwrap().fts_query();
    // every combination of the list filters: category at each depth, brand, price, stock
    let sub = store::category_id(conn, "electronics-audio", locale).unwrap().unwrap();
    let leaf = store::category_id(conn, "electronics-audio-essentials", locale).unwrap().unwrap();
    let locale_of = || locale.map(str::to_owned);
    let mut filters = Vec::new();
    for category in [None, Some(cat), Some(sub), Some(leaf)] {
        for brand in [None, Some(brand)] {
            for (min_price, max_price) in [(None, None), (Some(1000), Some(5000)), (None, Some(5000))] {
                for in_stock in [false, true] {
                    filters.push(Filter {
                        category,
                        brand,
                        min_price,
                        max_price,
                        in_stock,
                        fts: None,
                        locale: locale_of(),
                        market: None,
                        default_currency: storefront::domain::Currency::USD,
                    });
                }
            }
        }
    }
    filters.push(Filter { fts: Some(fts.clone()), locale: locale_of(), ..Filter::default() });
    filters.push(Filter {
        fts: Some(fts),
        category: Some(cat),
        min_price: Some(100),
        locale: locale_of(),
        ..Filter::default()
    });
    for f in &filters {
        for (_, sort) in Sort::CHOICES {
            for slice in [Slice::Offset(40), Slice::After { key: 5000, id: 10 }, Slice::Before { key: 5000, id: 10 }] {
                store::list_products(conn, f, *sort, slice, 20).unwrap();
            }
        }
        store::count_products(conn, f).unwrap();
        if f.fts.is_some() {
            store::search_hits(conn, f, None).unwrap();
            store::search_hits(conn, f, Some(Sort::PriceAsc)).unwrap();
        }
    }
    let slug: String = conn.query_row("SELECT slug FROM products WHERE id = 7", [], |r| r.get(0)).unwrap();
    // products' pages and summaries in markets: the price lists' prices are index searches
    let euros = storefront::domain::currencies::Enabled {
        code: storefront::domain::Currency::parse("EUR").unwrap(),
        rate_ppm: 920_000,
    };
    let markets = [
        None,
        Some(Market::of_lists(euros, false, vec![1, 2], vec![3])),
        Some(Market::of_lists(euros, false, Vec::new(), Vec::new())),
        Some(Market::of_lists(storefront::domain::currencies::enabled("USD")[0], true, Vec::new(), vec![4, 5])),
    ];
    for m in &markets {
        store::product_detail(conn, &slug, locale, m.as_ref(), storefront::domain::Currency::USD).unwrap().unwrap();
        store::bestsellers(conn, 0, 20, locale, m.as_ref(), storefront::domain::Currency::USD).unwrap();
        store::summaries_by_ids(conn, &[1, 2, 3], locale, m.as_ref(), storefront::domain::Currency::USD).unwrap();
        store::write_products_by_ids(
            conn,
            &[3, 1, 2],
            u32::MAX,
            locale,
            m.as_ref(),
            storefront::domain::Currency::USD,
            &mut Vec::new(),
        )
        .unwrap();
        // a cart's lines, priced
        storefront::cart::store::variant_line(conn, 7, 1, m.as_ref()).unwrap();
    }
    store::product_id(conn, &slug).unwrap();
    for slice in [None, Some(Slice::After { key: i64::MAX, id: 0 }), Some(Slice::Before { key: 0, id: 0 })] {
        store::reviews(conn, 7, slice, 10).unwrap();
    }
    store::brand_refs(conn, &[1, 2]).unwrap();
    store::brand_id(conn, "x", locale).unwrap();
    store::categories_in(conn, true, locale).unwrap();
    store::categories_in(conn, false, locale).unwrap();
    store::index_row_by_id(conn, 7).unwrap();
    store::fts_ids(conn, &SearchTerms::parse("classic").unwrap().fts_query_in(&["name"])).unwrap();
    store::category_detail(conn, "electronics-audio", locale).unwrap().unwrap();
    store::brands(conn, locale).unwrap();
    // the dashboard's product lists (drafts, retired, low stock each by their own index)
    use store::AdminListing;
    let fts = SearchTerms::parse("classic").unwrap().fts_query();
    for listing in [
        AdminListing::All { status: None },
        AdminListing::All { status: Some("active") },
        AdminListing::All { status: Some("draft") },
        AdminListing::All { status: Some("retired") },
        AdminListing::Matching { fts, sku: "SKU-1".into(), status: None },
        AdminListing::LowStock,
    ] {
        store::admin_product_ids(conn, &listing, i64::MAX, 50).unwrap();
    }
    store::admin_product(conn, 1).unwrap();
}

fn check_plans(conn: &mut Connection, when: &str) {
    clear_captured();
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(capture));
    exercise(conn);
    conn.trace_v2(TraceEventCodes::empty(), None);
    let mut statements = captured();
    statements.sort();
    statements.dedup();
    assert!(statements.len() > 60, "captured {} statements", statements.len());
    for sql in &statements {
        let lines = plan(conn, sql);
        for line in &lines {
            let full_scan = line.strip_prefix("SCAN ").map(|rest| {
                let table = rest.split_whitespace().next().unwrap_or("");
                LARGE.contains(&table) && !rest.contains(" USING ")
            });
            assert!(full_scan != Some(true), "{when}: full scan in\n{sql}\nplan: {lines:#?}");
        }
        // an unfiltered listing walks its sort index: no sort of the whole catalog
        let unfiltered_listing = sql.contains("INDEXED BY idx_products_")
            && !sql.contains("idx_products_category")
            && !sql.contains("idx_products_brand")
            && sql.contains("ORDER BY");
        if unfiltered_listing {
            assert!(
                !lines.iter().any(|l| l.contains("TEMP B-TREE")),
                "{when}: listing sorts instead of walking its index\n{sql}\nplan: {lines:#?}"
            );
        }
    }
}

#[test]
fn catalog_query_plans_stay_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::make_db(dir.path(), &common::Data::Seeded(3000, 9));
    // connections set up exactly as the server's read pool sets them up
    let open = || {
        let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        storefront::db::configure_read(&c).unwrap();
        c
    };

    // the checker sees a full scan when there is one
    let lines = plan(&open(), "SELECT id FROM products p WHERE p.description = ?");
    assert!(lines.iter().any(|l| l == "SCAN p"), "{lines:?}");

    check_plans(&mut open(), "with sqlite_stat1");
    check_no_reprepare(&mut open());

    // a user's raw ANALYZE leaves STAT4 samples
    {
        let w = Connection::open(&path).unwrap();
        w.execute_batch("ANALYZE").unwrap();
        let n: i64 = w.query_row("SELECT count(*) FROM sqlite_stat4", [], |r| r.get(0)).unwrap();
        assert!(n > 0, "ANALYZE wrote STAT4 samples");
    }
    check_plans(&mut open(), "after raw ANALYZE with STAT4");

    // the server's optimize keeps stat1 and drops the samples
    {
        let w = Connection::open(&path).unwrap();
        storefront::db::optimize(&w).unwrap();
        let n: i64 = w.query_row("SELECT count(*) FROM sqlite_stat4", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        let n: i64 = w.query_row("SELECT count(*) FROM sqlite_stat1", [], |r| r.get(0)).unwrap();
        assert!(n > 0);
    }
    check_plans(&mut open(), "after optimize");
    check_no_reprepare(&mut open());
}

/// Runs every store statement twice with the server's connection settings: none may be
/// re-prepared (each re-prepare is a full parse and plan, on every request).
fn check_no_reprepare(conn: &mut Connection) {
    use rusqlite::StatementStatus;
    clear_captured();
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(capture));
    exercise(conn);
    exercise(conn);
    conn.trace_v2(TraceEventCodes::empty(), None);
    let mut statements = captured();
    statements.sort();
    statements.dedup();
    for sql in &statements {
        let stmt = conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "re-prepared on rebinding:\n{sql}");
    }
}

#[test]
fn without_the_planner_guarantee_a_bound_limit_reprepares() {
    // the control for check_no_reprepare: the counter does move when the trap is there
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1), (2), (3);").unwrap();
    let mut stmt = conn.prepare("SELECT a FROM t ORDER BY a LIMIT ?1").unwrap();
    for n in [1, 2, 3] {
        stmt.query_map([n], |r| r.get::<_, i64>(0)).unwrap().for_each(drop);
    }
    assert!(stmt.get_status(rusqlite::StatementStatus::RePrepare) > 0);
}

#[test]
fn product_detail_runs_a_fixed_number_of_queries() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::make_db(dir.path(), &common::Data::Seeded(500, 2));
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    // products with 1 and with 6 variants, with and without reviews: always 4 statements
    let slugs: Vec<String> = common::column(
        &conn,
        "SELECT slug FROM products WHERE id IN (SELECT min(product_id) FROM variants GROUP BY
             (SELECT count(*) FROM variants v2 WHERE v2.product_id = variants.product_id)) LIMIT 4",
    );
    assert!(slugs.len() >= 2);
    for slug in slugs {
        clear_captured();
        conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(capture));
        store::product_detail(&conn, &slug, None, None, storefront::domain::Currency::USD).unwrap().unwrap();
        conn.trace_v2(TraceEventCodes::empty(), None);
        assert_eq!(captured().len(), 4, "{slug}");
    }
}

/// The dashboard's keyset lists walk an index back from their key: no sort of the table and
/// no scan of it, whatever the statistics say.
#[test]
fn dashboard_lists_walk_an_index() {
    use storefront::orders::store::{ADMIN_LIST_BY_STATUS_JSON, ADMIN_LIST_JSON};
    let dir = tempfile::tempdir().unwrap();
    let path = common::make_db(dir.path(), &common::Data::Seeded(3000, 9));
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    storefront::db::configure_read(&conn).unwrap();
    let walks = |lines: &[String]| {
        !lines.iter().any(|l| l.contains("TEMP B-TREE"))
            && !lines.iter().any(|l| {
                l.strip_prefix("SCAN ").is_some_and(|rest| {
                    LARGE.contains(&rest.split_whitespace().next().unwrap_or("")) && !rest.contains(" USING ")
                })
            })
    };

    // the control: an optional status cannot walk either index, and the checker sees it
    let optional = "SELECT * FROM orders INDEXED BY idx_orders_status
                    WHERE (?1 IS NULL OR status = ?1) AND id < ?2 ORDER BY id DESC LIMIT ?3";
    assert!(!walks(&plan(&conn, optional)), "{:?}", plan(&conn, optional));

    let mut statements = vec![
        ADMIN_LIST_JSON.to_owned(),
        ADMIN_LIST_BY_STATUS_JSON.to_owned(),
        storefront::admin::customers::GROUP_MEMBERS.to_owned(),
    ];
    // the product lists, as they run
    clear_captured();
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(capture));
    use store::AdminListing;
    for status in [None, Some("active"), Some("draft"), Some("retired")] {
        store::admin_product_ids(&conn, &AdminListing::All { status }, i64::MAX, 50).unwrap();
    }
    store::admin_product_ids(&conn, &AdminListing::LowStock, i64::MAX, 50).unwrap();
    // the returns, by each status and all of them
    use storefront::orders::returns::{self, ReturnStatus};
    for status in ReturnStatus::ALL.into_iter().map(Some).chain([None]) {
        returns::list(&conn, status, i64::MAX, 50).unwrap();
    }
    // the gift cards, each with its balance
    storefront::gift_cards::list(&conn, i64::MAX, 50, 0).unwrap();
    conn.trace_v2(TraceEventCodes::empty(), None);
    statements.extend(captured());
    assert_eq!(statements.len(), 15);
    for sql in &statements {
        let lines = plan(&conn, sql);
        assert!(walks(&lines), "a dashboard list sorts or scans:\n{sql}\nplan: {lines:#?}");
    }
    // the gift cards: their key walked back, each balance on its own row (nothing joined)
    let cards = statements.iter().find(|s| s.contains("FROM gift_cards g")).unwrap();
    let lines = plan(&conn, cards);
    assert_eq!(lines.len(), 1, "{lines:?}");
    // drafts and retired ones by their own (partial) index, not the whole catalog's key
    for status in ["draft", "retired"] {
        let sql = statements.iter().find(|s| s.contains(&format!("status = '{status}'"))).unwrap();
        let lines = plan(&conn, sql);
        assert!(lines.iter().any(|l| l.contains("idx_products_status")), "{status}: {lines:?}");
    }
}
