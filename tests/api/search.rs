//! The in-memory search index against SQLite's FTS5: the same results for every kind of
//! query (words as written), every committed change visible to the next search, and
//! changes made while the index is being built applied once it is ready; words with typos
//! found and ranked below exact ones, and completions as the shopper types.

use std::time::Duration;

use crate::common::{make_db, Data, TestApp};
use rusqlite::Connection;
use storefront::app::AppState;
use storefront::catalog::model::{SearchTerms, Sort};
use storefront::catalog::search_index::{fts_matches, Matches, SearchIndex};
use storefront::catalog::store::Filter;
use storefront::config::Config;
use storefront::error::StoreError;

fn slugs(v: &serde_json::Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap().to_owned()).collect()
}

/// Everything a client sees of a search, comparable between the two paths.
fn seen(m: &Matches) -> (usize, Vec<i64>, String) {
    (m.total, m.page.clone(), m.facets())
}

fn both(
    index: &SearchIndex,
    conn: &Connection,
    q: &str,
    filter: &Filter,
    sort: Option<Sort>,
    start: usize,
    end: usize,
) -> (usize, Vec<i64>, String) {
    // FTS5 matches words as written: the index without typos answers the same
    let terms = SearchTerms { typos: 0, ..SearchTerms::parse(q).unwrap() };
    let filter = Filter { fts: Some(terms.fts_query()), ..filter.clone() };
    let fast = index.search(conn, &terms, &filter, sort, start, end).unwrap().expect("index ready");
    let slow = fts_matches(conn, &terms, &filter, sort, start, end).unwrap();
    let (fast, slow) = (seen(&fast), seen(&slow));
    assert_eq!(fast, slow, "q={q:?} filter={filter:?} sort={sort:?} page={start}..{end}");
    fast
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_agrees_with_fts5_on_every_kind_of_query() {
    let app = TestApp::builder().seeded(4_000, 11).start().await;
    let conn = app.conn();
    // words at every frequency, straight from the FTS5 vocabulary
    conn.execute_batch("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, products_fts, 'row')").unwrap();
    let words: Vec<(String, i64)> = conn
        .prepare("SELECT term, doc FROM temp.vocab WHERE length(term) >= 3 ORDER BY doc DESC")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(words.len() > 50, "a generated catalog has a vocabulary");
    let pick: Vec<&str> = (0..12).map(|i| words[i * (words.len() - 1) / 11].0.as_str()).collect();
    let mut queries: Vec<String> = pick.iter().map(|w| format!("{w} ")).collect(); // whole words
    queries.extend(pick.iter().map(|w| w[..3].to_owned())); // prefixes, as typed
    queries.extend(pick.windows(2).map(|p| format!("{} {}", p[0], p[1]))); // two words, the last a prefix
    queries.extend([words[0].0.clone(), format!("{} {}", words[0].0, words[1].0), "zzzzqq".into()]);

    let category: i64 = conn.query_row("SELECT id FROM categories WHERE depth = 0 LIMIT 1", [], |r| r.get(0)).unwrap();
    let brand: i64 = conn.query_row("SELECT id FROM brands LIMIT 1", [], |r| r.get(0)).unwrap();
    let filters = [
        Filter::default(),
        Filter { in_stock: true, ..Filter::default() },
        Filter { category: Some(category), ..Filter::default() },
        Filter { brand: Some(brand), min_price: Some(1_000), max_price: Some(20_000), ..Filter::default() },
    ];
    let sorts = [
        None,
        Some(Sort::Newest),
        Some(Sort::PriceAsc),
        Some(Sort::PriceDesc),
        Some(Sort::Popular),
        Some(Sort::Rating),
    ];
    let (mut nonempty, mut most_sorted) = (0, 0);
    for q in &queries {
        for f in &filters {
            for s in sorts {
                let (total, page, _) = both(&app.state.search, &conn, q, f, s, 0, 20);
                if total > 0 {
                    nonempty += 1;
                    assert_eq!(page.len(), total.min(20));
                }
                if s.is_some() {
                    most_sorted = most_sorted.max(total);
                }
            }
        }
        // later and deep pages
        both(&app.state.search, &conn, q, &Filter::default(), None, 20, 40);
        both(&app.state.search, &conn, q, &Filter::default(), Some(Sort::PriceDesc), 100, 200);
    }
    assert!(nonempty > 100, "the queries find things ({nonempty} non-empty)");
    // an explicit sort over this many matches takes its page from the listing's order
    assert!(most_sorted >= 256, "some sorted searches match many ({most_sorted} at most)");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fts5_only_serves_the_same_answers() {
    let indexed = TestApp::builder().fixture("small-catalog.sql").start().await;
    // the same file: the fixture's times are relative to when it is loaded
    let fts = TestApp::builder().same_data_as(&indexed).config(|c| c.search_index = false).start().await;
    assert!(indexed.state.search.is_ready());
    assert!(!fts.state.search.is_ready());
    for q in ["wireless", "headph", "H%C3%A9adphones", "speaker&sort=price_desc", "acme&in_stock=true", "zzzz"] {
        // (FTS5 matches words as written: typos need the index)
        let a = indexed.json(&format!("/api/search?q={q}&typos=0")).await;
        let b = fts.json(&format!("/api/search?q={q}&typos=0")).await;
        assert_eq!(a, b, "q={q}");
    }
    indexed.stop().await;
    fts.stop().await;
}

async fn write(app: &TestApp, sql: &'static str) {
    app.state.db.writer.run(move |tx| tx.execute_batch(sql).map_err(StoreError::from)).await.unwrap();
}

/// Adds an active product: `values` are its id, sku, slug, name, description, category,
/// brand and price.
async fn add_product(app: &TestApp, values: &str) {
    let sql = format!(
        "INSERT INTO products(id, sku, slug, name, description, category_id, brand_id, base_price, status,
                              created_at, updated_at)
         VALUES ({values}, 'active', 1, 1)"
    );
    app.state.db.writer.run(move |tx| tx.execute_batch(&sql).map_err(StoreError::from)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commit_shows_in_the_next_search() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let search = |q: &'static str| {
        let app = &app;
        async move { slugs(&app.json(&format!("/api/search?q={q}")).await) }
    };
    assert_eq!(search("boom").await, vec!["boom-speaker"]);

    write(&app, "UPDATE products SET name = 'Thunder Speaker', updated_at = 1 WHERE id = 3").await;
    assert_eq!(search("thunder").await, vec!["boom-speaker"], "a renamed product is found by its new name");
    assert!(search("boom").await.is_empty(), "and no longer by its old one");

    write(&app, "UPDATE products SET status = 'retired' WHERE id = 1").await;
    assert_eq!(search("wireless").await, vec!["nimbus-earbuds"], "a retired product leaves search");
    write(&app, "UPDATE products SET status = 'active' WHERE id = 1").await;
    assert_eq!(search("wireless").await, vec!["aurora-wireless-headphones", "nimbus-earbuds"]);

    add_product(&app, "6, 'ZEP-1', 'zephyr-blender', 'Zephyr Blender', 'Blends.', 6, 2, 8999").await;
    assert_eq!(search("zephyr").await, vec!["zephyr-blender"], "a new product is found at once");

    write(&app, "UPDATE brands SET name = 'Initech' WHERE id = 1").await;
    assert_eq!(search("initech").await, vec!["aurora-wireless-headphones", "boom-speaker"], "by its new brand name");
    assert!(search("acme").await.is_empty());
    write(&app, "UPDATE categories SET name = 'Galley' WHERE id = 6").await;
    assert_eq!(search("galley").await, vec!["chef-knife", "zephyr-blender"], "by its new category name");

    // columns without text: price, stock
    assert_eq!(search("speaker&max_price=3000").await, Vec::<String>::new());
    write(&app, "UPDATE products SET sale_price = 2500 WHERE id = 3").await;
    assert_eq!(search("speaker&max_price=3000").await, vec!["boom-speaker"], "a price change filters at once");
    assert_eq!(search("wireless&in_stock=true").await, vec!["aurora-wireless-headphones"]);
    write(&app, "UPDATE inventory SET available = 5 WHERE variant_id = 21").await;
    assert_eq!(search("wireless&in_stock=true").await, vec!["aurora-wireless-headphones", "nimbus-earbuds"]);

    write(&app, "DELETE FROM product_images WHERE product_id = 6; DELETE FROM products WHERE id = 6").await;
    assert!(search("zephyr").await.is_empty(), "a deleted product is gone");

    // and after all of it, the index still answers what FTS5 answers
    let conn = app.conn();
    for q in ["speaker", "wireless", "galley", "initech", "thunder", "spe"] {
        both(&app.state.search, &conn, q, &Filter::default(), None, 0, 20);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_committed_while_the_index_builds_are_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_db(dir.path(), &Data::Seeded(20_000, 5));
    let config = Config { db: path, log_level: "warn".into(), ..Config::default() };
    let state = tokio::task::spawn_blocking(move || AppState::open(config)).await.unwrap().unwrap();
    // while the build runs (about a tenth of a second here): rename, retire, insert
    state
        .db
        .writer
        .run(|tx| {
            tx.execute_batch(
                "UPDATE products SET name = 'Quuxly Gadget' WHERE id = 10;
                 UPDATE products SET status = 'retired' WHERE id = 11;
                 INSERT INTO products(sku, slug, name, category_id, base_price, created_at, updated_at)
                     SELECT 'NEW-1', 'frobnic-widget', 'Frobnic Widget', category_id, 100, 1, 1 FROM products WHERE id = 12;",
            )
            .map_err(StoreError::from)
        })
        .await
        .unwrap();
    let name_11: String = {
        let conn = storefront::db::open_read(&state.db.path).unwrap();
        conn.query_row("SELECT name FROM products WHERE id = 11", [], |r| r.get(0)).unwrap()
    };
    let ready = async {
        while !state.search.is_ready() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), ready).await.unwrap();
    let find = |q: &str| {
        let terms = SearchTerms::parse(q).unwrap();
        let filter = Filter { fts: Some(terms.fts_query()), ..Filter::default() };
        let conn = storefront::db::open_read(&state.db.path).unwrap();
        state.search.search(&conn, &terms, &filter, None, 0, 100).unwrap().unwrap().page
    };
    assert_eq!(find("quuxly"), vec![10]);
    assert_eq!(find("frobnic").len(), 1);
    assert!(!find(&name_11).contains(&11), "the retired product is not found");
    state.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_with_typos_match_below_exact_ones_and_suggestions_complete_the_last_word() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let search = |q: &'static str| {
        let app = &app;
        async move { slugs(&app.json(&format!("/api/search?q={q}")).await) }
    };
    let both = ["aurora-wireless-headphones", "nimbus-earbuds"];
    // one typo: a letter missed, added, changed, two swapped (the last word of a query is
    // also a prefix, as typed: "wireles" finds "wireless" without a typo)
    for q in ["wirless", "wirreless", "wiraless", "wierless", "WIRLESS"] {
        assert_eq!(search(q).await, both, "q={q}");
    }
    // two typos from 9 letters; a typo on the first letter counts twice
    assert_eq!(search("hedphonez").await, both, "two typos in a 10-letter word");
    assert_eq!(search("xeadphones").await, both, "the first letter, in a word long enough for two");
    assert_eq!(search("qireless").await, Vec::<String>::new(), "the first letter of an 8-letter word");
    assert_eq!(search("wxrxless").await, Vec::<String>::new(), "two typos in an 8-letter word");
    assert_eq!(search("boon").await, Vec::<String>::new(), "no typo under 5 letters");
    // typos=0 turns it off, typos=1 bounds it
    assert_eq!(search("wiraless&typos=0").await, Vec::<String>::new());
    assert_eq!(search("hedphonez&typos=1").await, Vec::<String>::new());
    // the listing's q and the facets work the same
    let listed = app.json("/api/products?q=wiraless&sort=price_asc").await;
    assert_eq!(slugs(&listed), ["nimbus-earbuds", "aurora-wireless-headphones"]);
    let exact = app.json("/api/search?q=wireless").await;
    let typo = app.json("/api/search?q=wiraless").await;
    assert_eq!(exact["meta"]["facets"], typo["meta"]["facets"]);
    assert_eq!(exact["meta"]["total"], typo["meta"]["total"]);

    // a product matched with a typo ranks below those matched exactly, even by its name
    add_product(&app, "6, 'STAND-1', 'headphone-stand', 'Headphone Stand', 'Holds a pair.', 5, 2, 2999").await;
    assert_eq!(
        search("headphones").await,
        ["aurora-wireless-headphones", "nimbus-earbuds", "headphone-stand"],
        "exact in the name, exact in the category, then a typo in the name"
    );
    assert_eq!(search("headphones&typos=0").await, both);

    // suggestions: the last word completed among names, brands and categories
    let suggest = |q: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/api/search/suggest?q={q}")).await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["text"].as_str().unwrap().to_owned(), s["matches"].as_i64().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        suggest("head").await,
        [("headphones".to_owned(), 2), ("headphone".to_owned(), 1)],
        "most matches first"
    );
    assert_eq!(suggest("wireless%20head").await, [("wireless headphones".to_owned(), 2)]);
    assert_eq!(suggest("nimbus%20head").await, [("nimbus headphones".to_owned(), 1)]);
    assert_eq!(suggest("kitch").await, [("kitchen".to_owned(), 1)]);
    // with a typo (from 5 letters), after the exact completions
    assert_eq!(suggest("speek").await, [("speaker".to_owned(), 1), ("speakers".to_owned(), 1)]);
    assert!(suggest("speek&typos=0").await.is_empty());
    assert!(suggest("zzzz").await.is_empty());
    // a word only in a description is not suggested
    assert!(suggest("cancel").await.is_empty(), "\"cancelling\" is in a description only");
    // and a new product's words at once
    write(&app, "UPDATE products SET name = 'Headset Stand', updated_at = 2 WHERE id = 6").await;
    assert_eq!(
        suggest("heads").await,
        [("headset".to_owned(), 1), ("headphones".to_owned(), 2)],
        "as typed first, then a typo away (headp…)"
    );
    // bad input: a clear 4xx
    for (q, status) in
        [("", 422), ("q=%20%21", 422), ("q=head&limit=0", 422), ("q=head&typos=3", 422), ("q=head&x=1", 400)]
    {
        let r = app.get(&format!("/api/search/suggest?{q}")).await;
        assert_eq!(r.status, status, "{q}: {}", r.text());
    }
    app.stop().await;
}
