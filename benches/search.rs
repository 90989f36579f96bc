//! Search on a 100,000-product generated catalog (`cargo bench --bench search`;
//! `SEARCH_PRODUCTS=1000000` for a million): the in-memory index against the same search
//! on SQLite's FTS5 index alone, for a word matching about a tenth of the catalog
//! (relevance order, first page, with facets) and for a narrow two-word query; then the
//! latency (p50, p99) of uncached searches for 400 words of the catalog's vocabulary as
//! written and with a typo (two letters swapped), of suggestions for their first letters,
//! and the bytes the typo lookup adds to the index. `SEARCH_DB=path` searches a catalog
//! generated before (`storefront seed`) instead; `SEARCH_TYPOS_ONLY=1` stops after the
//! latencies.

use criterion::{criterion_group, criterion_main, Criterion};
use storefront::catalog::model::{SearchTerms, Sort};
use storefront::catalog::search_index::{fts_matches, SearchIndex};
use storefront::catalog::store::Filter;
use storefront::db::{self, Synchronous};
use storefront::seed::{self, SeedOptions};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // `SEARCH_DB`: a catalog generated before (`storefront seed`), searched as it is
    let given = std::env::var("SEARCH_DB").ok().filter(|_| std::env::args().any(|a| a == "--bench"));
    let path = given.as_ref().map_or_else(|| dir.path().join("bench.db"), std::path::PathBuf::from);
    let mut conn = db::open_write(&path, Synchronous::Normal).unwrap();
    db::migrate::migrate(&mut conn).unwrap();
    // `cargo test --benches` runs each benchmark once, unoptimized: a small catalog there
    let products = if std::env::args().any(|a| a == "--bench") {
        std::env::var("SEARCH_PRODUCTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000)
    } else {
        2_000
    };
    if given.is_none() {
        seed::seed(&mut conn, SeedOptions::today(products, 42)).unwrap();
        db::optimize(&conn).unwrap();
    }
    let index = SearchIndex::default();
    index.build(&path);
    assert!(index.is_ready());
    let read = db::open_read(&path).unwrap();

    typos(&index, &conn);
    // `SEARCH_TYPOS_ONLY`: the latencies above, without the comparison with FTS5 below
    if std::env::var("SEARCH_TYPOS_ONLY").is_ok() {
        return;
    }
    for q in ["classic", "classic ", "classic lamp"] {
        let terms = SearchTerms { typos: 0, ..SearchTerms::parse(q).unwrap() };
        let filter = Filter { fts: Some(terms.fts_query()), ..Filter::default() };
        let m = index.search(&conn, &terms, &filter, None, 0, 20).unwrap().unwrap();
        let f = fts_matches(&read, &terms, &filter, None, 0, 20).unwrap();
        assert_eq!((m.total, &m.page), (f.total, &f.page), "both paths find the same");
        println!("q={q:?}: {} matches", m.total);
        let mut g = c.benchmark_group(format!("search {q:?}"));
        g.bench_function("memory index", |b| {
            b.iter(|| index.search(&conn, &terms, &filter, None, 0, 20).unwrap().unwrap().total);
        });
        g.bench_function("fts5", |b| b.iter(|| fts_matches(&read, &terms, &filter, None, 0, 20).unwrap().total));
        g.finish();
    }
}

/// p50 and p99 of `times`, in milliseconds.
fn percentiles(mut times: Vec<std::time::Duration>) -> (f64, f64) {
    times.sort_unstable();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)].as_secs_f64() * 1e3;
    (at(50), at(99))
}

/// Searches for words of the vocabulary at every frequency, as written and with two
/// letters swapped, and suggestions for their beginnings: each timed once (uncached).
fn typos(index: &SearchIndex, read: &rusqlite::Connection) {
    read.execute_batch("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, products_fts, 'row')").unwrap();
    let all: Vec<String> = read
        .prepare("SELECT term FROM temp.vocab WHERE length(term) >= 5 AND term GLOB '[a-z]*' ORDER BY doc DESC")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let n = 400.min(all.len());
    let words: Vec<&String> = (0..n).map(|i| &all[i * (all.len() - 1) / (n - 1).max(1)]).collect();
    let time = |f: &dyn Fn()| {
        let start = std::time::Instant::now();
        f();
        start.elapsed()
    };
    let sorted = |q: &str, sort: Option<Sort>| {
        let terms = SearchTerms::parse(q).unwrap();
        let filter = Filter { fts: Some(terms.fts_query()), ..Filter::default() };
        index.search(read, &terms, &filter, sort, 0, 20).unwrap().unwrap().total
    };
    let search = |q: &str| sorted(q, None);
    let (mut exact, mut typo, mut suggest, mut found) = (Vec::new(), Vec::new(), Vec::new(), 0);
    let mut by_price = Vec::new();
    for w in &words {
        exact.push(time(&|| {
            search(&format!("{w} "));
        }));
        by_price.push(time(&|| {
            sorted(&format!("{w} "), Some(Sort::PriceAsc));
        }));
        // two letters in the middle swapped: one typo (a transposition)
        let mut chars: Vec<char> = w.chars().collect();
        let mid = chars.len() / 2;
        chars.swap(mid - 1, mid);
        let typed: String = chars.into_iter().collect();
        typo.push(time(&|| {
            search(&format!("{typed} "));
        }));
        found += usize::from(search(&format!("{typed} ")) > 0);
        let start: String = w.chars().take(3 + w.len() % 3).collect();
        suggest.push(time(&|| {
            index.suggest(&SearchTerms::parse(&start).unwrap(), 8).unwrap();
        }));
    }
    let ((e50, e99), (t50, t99), (s50, s99)) = (percentiles(exact), percentiles(typo), percentiles(suggest));
    let (p50, p99) = percentiles(by_price);
    let (bytes, typo_bytes) = index.bytes().unwrap();
    println!("{n} words: as written p50 {e50:.2} ms, p99 {e99:.2} ms; with a typo p50 {t50:.2} ms, p99 {t99:.2} ms ({found} found)");
    println!("sorted by price p50 {p50:.2} ms, p99 {p99:.2} ms");
    println!("suggest p50 {s50:.2} ms, p99 {s99:.2} ms");
    println!(
        "index {:.1} MB, of which the typo lookup {:.1} KB ({:.2}%)",
        bytes as f64 / 1e6,
        typo_bytes as f64 / 1e3,
        100.0 * typo_bytes as f64 / (bytes - typo_bytes) as f64
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
