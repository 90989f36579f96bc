//! Product lists on a generated catalog, checked against a brute-force computation over the
//! same database file: every filter and sort, offset totals, keyset walks that visit every
//! product exactly once (forwards and back), and search facets that add up.

use crate::common;

use std::collections::{HashMap, HashSet};

use crate::common::TestApp;
use serde_json::Value;

#[derive(Debug, Clone)]
struct P {
    id: i64,
    price: i64,
    created: i64,
    sales: i64,
    rating: i64,
    in_stock: bool,
    category: i64,
    brand: i64,
}

fn all_active(app: &TestApp) -> Vec<P> {
    let conn = app.conn();
    let mut stmt = conn
        .prepare(
            "SELECT id, coalesce(sale_price, base_price), created_at, sales_count,
                    CASE WHEN ratings_1+ratings_2+ratings_3+ratings_4+ratings_5 = 0 THEN 0 ELSE
                    ((ratings_1+2*ratings_2+3*ratings_3+4*ratings_4+5*ratings_5)*100 + (ratings_1+ratings_2+ratings_3+ratings_4+ratings_5)/2)
                    / (ratings_1+ratings_2+ratings_3+ratings_4+ratings_5) END,
                    in_stock, category_id, brand_id
             FROM products WHERE status = 'active'",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(P {
            id: r.get(0)?,
            price: r.get(1)?,
            created: r.get(2)?,
            sales: r.get(3)?,
            rating: r.get(4)?,
            in_stock: r.get::<_, i64>(5)? == 1,
            category: r.get(6)?,
            brand: r.get(7)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// category id → the ids of it and everything below it
fn subtrees(app: &TestApp) -> (HashMap<String, HashSet<i64>>, HashMap<i64, Option<i64>>) {
    let conn = app.conn();
    let rows: Vec<(i64, Option<i64>, String)> = conn
        .prepare("SELECT id, parent_id, slug FROM categories")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let parent: HashMap<i64, Option<i64>> = rows.iter().map(|(id, p, _)| (*id, *p)).collect();
    let mut out = HashMap::new();
    for (id, _, slug) in &rows {
        let set: HashSet<i64> = rows
            .iter()
            .filter(|(c, _, _)| {
                let mut at = Some(*c);
                while let Some(x) = at {
                    if x == *id {
                        return true;
                    }
                    at = parent[&x];
                }
                false
            })
            .map(|(c, _, _)| *c)
            .collect();
        out.insert(slug.clone(), set);
    }
    (out, parent)
}

fn brand_ids(app: &TestApp) -> HashMap<String, i64> {
    let conn = app.conn();
    let rows: Vec<(String, i64)> = conn
        .prepare("SELECT slug, id FROM brands")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.into_iter().collect()
}

fn sort_expected(ps: &mut [P], sort: &str) {
    match sort {
        "newest" => ps.sort_by_key(|a| std::cmp::Reverse((a.created, a.id))),
        "price_asc" => ps.sort_by_key(|a| (a.price, a.id)),
        "price_desc" => ps.sort_by_key(|a| std::cmp::Reverse((a.price, a.id))),
        "popular" => ps.sort_by_key(|a| std::cmp::Reverse((a.sales, a.id))),
        "rating" => ps.sort_by_key(|a| std::cmp::Reverse((a.rating, a.id))),
        _ => unreachable!(),
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().parse().unwrap()).collect()
}

const SORTS: [&str; 5] = ["newest", "price_asc", "price_desc", "popular", "rating"];

/// Every filter × sort: offset pages 1, 2 and a deep one with their totals, and a cursor
/// page from the middle, against a brute-force computation over the database file.
async fn check_filters_and_sorts(app: &TestApp) {
    let products = all_active(app);
    let (subtree, _) = subtrees(app);
    let brands = brand_ids(app);
    let (some_brand, brand_id) = brands.iter().min_by_key(|(s, _)| s.as_str()).map(|(s, i)| (s.clone(), *i)).unwrap();

    // (query, predicate)
    type Pred = Box<dyn Fn(&P) -> bool>;
    let dept = subtree["electronics"].clone();
    let dept2 = dept.clone();
    let sub = subtree["electronics-audio"].clone();
    let cases: Vec<(String, Pred)> = vec![
        (String::new(), Box::new(|_| true)),
        ("in_stock=true".into(), Box::new(|p| p.in_stock)),
        ("category=electronics".into(), Box::new(move |p| dept.contains(&p.category))),
        ("category=electronics-audio&in_stock=true".into(), Box::new(move |p| sub.contains(&p.category) && p.in_stock)),
        (format!("brand={some_brand}"), Box::new(move |p| p.brand == brand_id)),
        (
            format!("category=electronics&brand={some_brand}&max_price=20000"),
            Box::new(move |p| dept2.contains(&p.category) && p.brand == brand_id && p.price <= 20000),
        ),
        ("min_price=2000&max_price=9000".into(), Box::new(|p| (2000..=9000).contains(&p.price))),
        ("in_stock=true&min_price=50000".into(), Box::new(|p| p.in_stock && p.price >= 50000)),
    ];
    for (filter, pred) in &cases {
        for sort in SORTS {
            let mut want: Vec<P> = products.iter().filter(|p| pred(p)).cloned().collect();
            sort_expected(&mut want, sort);
            let want_ids: Vec<i64> = want.iter().map(|p| p.id).collect();
            // offset pages: the first two pages, a deep one, and the total
            for page in [1, 2, 9] {
                let v = app.json(&format!("/api/products?{filter}&sort={sort}&per_page=25&page={page}")).await;
                assert_eq!(v["meta"]["total"], want.len(), "total of ?{filter}&sort={sort}");
                assert_eq!(
                    ids(&v),
                    want_ids.iter().skip(25 * (page - 1)).take(25).copied().collect::<Vec<_>>(),
                    "page {page} of ?{filter}&sort={sort}"
                );
            }
            // a cursor from the middle of page 2 leads to the next 10, and back
            let v = app.json(&format!("/api/products?{filter}&sort={sort}&per_page=30&cursor=")).await;
            if let Some(next) = v["meta"]["next_cursor"].as_str() {
                let v = app.json(&format!("/api/products?{filter}&sort={sort}&per_page=10&cursor={next}")).await;
                assert_eq!(
                    ids(&v),
                    want_ids.iter().skip(30).take(10).copied().collect::<Vec<_>>(),
                    "?{filter}&sort={sort}"
                );
                let prev = v["meta"]["prev_cursor"].as_str().unwrap();
                let v = app.json(&format!("/api/products?{filter}&sort={sort}&per_page=10&cursor={prev}")).await;
                assert_eq!(ids(&v), want_ids[20..30].to_vec(), "back from ?{filter}&sort={sort}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_sorts_match_brute_force() {
    // the in-memory listing, and SQLite alone (as before the index is built) on the same file
    let indexed = TestApp::builder().seeded(3000, 11).start().await;
    assert_eq!(all_active(&indexed).len(), 3000);
    let sql = TestApp::builder().same_data_as(&indexed).config(|c| c.search_index = false).start().await;
    assert!(indexed.state.search.is_ready() && !sql.state.search.is_ready());
    check_filters_and_sorts(&indexed).await;
    check_filters_and_sorts(&sql).await;
    indexed.stop().await;
    sql.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_stay_exact_through_writes() {
    let app = TestApp::builder().seeded(3000, 12).start().await;
    // each a commit the index patches product by product: price, stock, sales, rating,
    // category moves, retirements and new products
    app.write("UPDATE products SET sale_price = min(1500, base_price - 1) WHERE id % 7 = 0").await;
    app.write(
        "UPDATE inventory SET available = 0 WHERE variant_id IN (SELECT id FROM variants WHERE product_id % 5 = 1)",
    )
    .await;
    app.write(
        "UPDATE inventory SET available = 4 WHERE variant_id IN (SELECT id FROM variants WHERE product_id % 9 = 2)",
    )
    .await;
    app.write("UPDATE products SET sales_count = sales_count + 3 WHERE id % 13 = 0").await;
    app.write("UPDATE products SET ratings_5 = ratings_5 + 1 WHERE id % 17 = 0").await;
    app.write(
        "UPDATE products SET category_id = (SELECT id FROM categories WHERE slug = 'electronics-audio')
         WHERE id % 19 = 0",
    )
    .await;
    app.write("UPDATE products SET status = 'retired' WHERE id % 11 = 0").await;
    app.write(
        "INSERT INTO products(sku, slug, name, description, category_id, brand_id, base_price, status, created_at, updated_at)
         SELECT 'NEW-' || id, 'new-' || slug, 'New ' || name, description, category_id, brand_id, base_price + 1,
                'active', created_at + 1, updated_at FROM products WHERE id % 23 = 0",
    )
    .await;
    check_filters_and_sorts(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_queries_on_lists_match_fts5() {
    let indexed = TestApp::builder().seeded(3000, 13).start().await;
    let fts = TestApp::builder().same_data_as(&indexed).config(|c| c.search_index = false).start().await;
    for q in ["classic", "cla", "classic%20steel", "zzzz"] {
        for filter in ["", "&category=electronics", "&in_stock=true&max_price=30000"] {
            for sort in SORTS {
                let base = format!("/api/products?q={q}{filter}&sort={sort}&per_page=15");
                for page in ["&page=1", "&page=3", "&cursor="] {
                    let a = indexed.json(&format!("{base}{page}")).await;
                    let b = fts.json(&format!("{base}{page}")).await;
                    assert_eq!(a, b, "{base}{page}");
                    if let Some(next) = a["meta"]["next_cursor"].as_str() {
                        let url = format!("{base}&cursor={next}");
                        let a = indexed.json(&url).await;
                        assert_eq!(a, fts.json(&url).await, "{url}");
                        if let Some(prev) = a["meta"]["prev_cursor"].as_str() {
                            let url = format!("{base}&cursor={prev}");
                            assert_eq!(indexed.json(&url).await, fts.json(&url).await, "{url}");
                        }
                    }
                }
            }
        }
    }
    indexed.stop().await;
    fts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_walks_visit_every_product_once_both_ways() {
    let app = TestApp::builder().seeded(1200, 5).start().await;
    let products = all_active(&app);
    for sort in SORTS {
        let mut want = products.clone();
        sort_expected(&mut want, sort);
        let want: Vec<i64> = want.iter().map(|p| p.id).collect();
        let mut pages: Vec<Value> = Vec::new();
        let mut seen = Vec::new();
        let mut url = format!("/api/products?sort={sort}&per_page=100&cursor=");
        loop {
            let v = app.json(&url).await;
            seen.extend(ids(&v));
            let next = v["meta"]["next_cursor"].as_str().map(str::to_owned);
            assert_eq!(v["meta"]["has_more"].as_bool(), Some(next.is_some()));
            pages.push(v);
            match next {
                Some(c) => url = format!("/api/products?sort={sort}&per_page=100&cursor={c}"),
                None => break,
            }
            assert!(pages.len() <= 20, "walk does not end");
        }
        assert_eq!(seen, want, "a forward walk ({sort}) yields every product exactly once, in order");
        // and back again with prev_cursor from the last page
        let mut back = pages.len() - 1;
        let mut v = pages[back].clone();
        while let Some(prev) = v["meta"]["prev_cursor"].as_str() {
            v = app.json(&format!("/api/products?sort={sort}&per_page=100&cursor={prev}")).await;
            back -= 1;
            // backward pages are rendered from structs, forward ones streamed from the rows:
            // the JSON must be the same
            assert_eq!(v["data"], pages[back]["data"], "walking back ({sort}) returns the same pages");
        }
        assert_eq!(back, 0, "the backward walk reaches the first page");
        // a cursor of one sort is refused by another
        let token = pages[0]["meta"]["next_cursor"].as_str().unwrap();
        let other = if sort == "newest" { "popular" } else { "newest" };
        let r = app.get(&format!("/api/products?sort={other}&cursor={token}")).await;
        assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_cursor"));
    }
    // offset pages hand over to keyset: next_cursor of page 1 continues with page 2
    let p1 = app.json("/api/products?per_page=30").await;
    let p2 = app.json("/api/products?per_page=30&page=2").await;
    let c = p1["meta"]["next_cursor"].as_str().unwrap();
    let k2 = app.json(&format!("/api/products?per_page=30&cursor={c}")).await;
    assert_eq!(ids(&k2), ids(&p2));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_facets_add_up() {
    let app = TestApp::builder().seeded(2000, 3).start().await;
    let products = all_active(&app);
    let (_, parent) = subtrees(&app);
    // the generator puts "classic" in about one name in ten
    let conn = app.conn();
    let matching: HashSet<i64> =
        common::column(&conn, "SELECT rowid FROM products_fts WHERE products_fts MATCH 'classic'")
            .into_iter()
            .collect();
    assert!(matching.len() > 100 && matching.len() < 400, "about 10%: {}", matching.len());
    let v = app.json("/api/search?q=classic&per_page=100").await;
    let meta = &v["meta"];
    assert_eq!(meta["total"], matching.len());
    let got = ids(&v);
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|id| matching.contains(id)));
    let bands: i64 =
        meta["facets"]["price_bands"].as_array().unwrap().iter().map(|b| b["count"].as_i64().unwrap()).sum();
    assert_eq!(bands, matching.len() as i64, "price bands partition the matches");
    let brands: i64 = meta["facets"]["brands"].as_array().unwrap().iter().map(|b| b["count"].as_i64().unwrap()).sum();
    assert_eq!(brands, matching.len() as i64, "every product has a brand and there are < 50 brands");
    let cats = meta["facets"]["categories"].as_array().unwrap();
    let top: i64 = cats.iter().filter(|c| c["depth"] == 0).map(|c| c["count"].as_i64().unwrap()).sum();
    assert_eq!(top, matching.len() as i64, "top-level category counts partition the matches");
    // each category's count equals the brute-force count of matches below it
    for c in cats {
        let id: i64 = c["id"].as_str().unwrap().parse().unwrap();
        let want = products
            .iter()
            .filter(|p| matching.contains(&p.id))
            .filter(|p| {
                let mut at = Some(p.category);
                while let Some(x) = at {
                    if x == id {
                        return true;
                    }
                    at = parent[&x];
                }
                false
            })
            .count();
        assert_eq!(c["count"].as_i64().unwrap(), want as i64, "category {}", c["slug"]);
    }
    // pages of relevance-ranked results do not overlap and cover the matches
    let mut all = HashSet::new();
    let pages = matching.len().div_ceil(100);
    for page in 1..=pages {
        let v = app.json(&format!("/api/search?q=classic&per_page=100&page={page}")).await;
        for id in ids(&v) {
            assert!(all.insert(id), "product {id} on two pages");
        }
    }
    assert_eq!(all, matching);
    app.stop().await;
}
