//! Search on a 100,000-product generated catalog (`cargo bench --bench search`): the in-memory index against the same
//! search on SQLite's FTS5 index alone, for a word matching about a tenth of the catalog
//! (relevance order, first page, with facets) and for a narrow two-word query.

use criterion::{criterion_group, criterion_main, Criterion};
use storefront::catalog::model::SearchTerms;
use storefront::catalog::search_index::{fts_matches, SearchIndex};
use storefront::catalog::store::Filter;
use storefront::db::{self, Synchronous};
use storefront::seed::{self, SeedOptions};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut conn = db::open_write(&path, Synchronous::Normal).unwrap();
    db::migrate::migrate(&mut conn).unwrap();
    // `cargo test --benches` runs each benchmark once, unoptimized: a small catalog there
    let products = if std::env::args().any(|a| a == "--bench") { 100_000 } else { 2_000 };
    seed::seed(&mut conn, SeedOptions::today(products, 42)).unwrap();
    db::optimize(&conn).unwrap();
    let index = SearchIndex::default();
    index.build(&path);
    assert!(index.is_ready());
    let read = db::open_read(&path).unwrap();

    for q in ["classic", "classic ", "classic lamp"] {
        let terms = SearchTerms::parse(q).unwrap();
        let filter = Filter { fts: Some(terms.fts_query()), ..Filter::default() };
        let m = index.search(&terms, &filter, None, 0, 20).unwrap();
        let f = fts_matches(&read, &terms, &filter, None, 0, 20).unwrap();
        assert_eq!((m.total, &m.page), (f.total, &f.page), "both paths find the same");
        println!("q={q:?}: {} matches", m.total);
        let mut g = c.benchmark_group(format!("search {q:?}"));
        g.bench_function("memory index", |b| b.iter(|| index.search(&terms, &filter, None, 0, 20).unwrap().total));
        g.bench_function("fts5", |b| b.iter(|| fts_matches(&read, &terms, &filter, None, 0, 20).unwrap().total));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
