//! Times each way the listing index can answer a list — walk an order, a pass over the
//! buckets, a pass over a price range — on a catalog file, for the combinations that
//! decide between them; what the cost model in `catalog::listing` is calibrated on.
//!
//!   cargo run --release --example listing_probe -- bench-out/catalog-1000000.db

use std::time::Instant;

use storefront::catalog::listing::{Ask, Slice, Strategy};
use storefront::catalog::model::Sort;
use storefront::catalog::search_index::SearchIndex;
use storefront::catalog::store::{self, Filter};

fn main() {
    let path = std::env::args().nth(1).expect("usage: listing_probe CATALOG.db");
    let conn = storefront::db::open_read(std::path::Path::new(&path)).expect("open");
    let index = SearchIndex::default();
    let started = Instant::now();
    index.build(std::path::Path::new(&path));
    println!("index built in {:.1} s", started.elapsed().as_secs_f64());
    let dept = store::category_id(&conn, "electronics", None).unwrap();
    let sub = store::category_id(&conn, "electronics-audio", None).unwrap();
    let brands: Vec<(i64, i64)> = conn
        .prepare("SELECT brand_id, count(*) FROM products GROUP BY brand_id ORDER BY 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (tail, big) = (brands[brands.len() / 10].0, brands[brands.len() - 1].0);
    let prices = [None, Some((2000, 9000)), Some((4990, 5010))];
    println!("{:>58} {:>9} {:>9} {:>9} {:>9} {:>9}", "filter / page", "auto", "walk", "scan", "range", "brand");
    for category in [None, dept, sub] {
        for brand in [None, Some(big), Some(tail)] {
            for price in prices {
                for in_stock in [false, true] {
                    let filter = Filter {
                        category,
                        brand,
                        min_price: price.map(|p| p.0),
                        max_price: price.map(|p| p.1),
                        in_stock,
                        fts: None,
                        locale: None,
                        market: None,
                        default_currency: Default::default(),
                    };
                    for (name, slice, with_total) in
                        [("page 1", Slice::Offset(0), true), ("page 500", Slice::Offset(9980), true)]
                    {
                        let sort = Sort::Rating;
                        let mut row = Vec::new();
                        for strategy in
                            [Strategy::Auto, Strategy::Walk, Strategy::Scan, Strategy::Range, Strategy::Brand]
                        {
                            let ask = Ask { sort, slice, limit: 20, with_total, strategy };
                            let mut best = f64::MAX;
                            for _ in 0..3 {
                                let t = Instant::now();
                                std::hint::black_box(index.list(&conn, &filter, None, &ask).unwrap());
                                best = best.min(t.elapsed().as_secs_f64() * 1000.0);
                            }
                            row.push(best);
                        }
                        let label = format!("c={category:?} b={brand:?} p={price:?} s={in_stock} {name}");
                        println!(
                            "{label:>58} {:9.3} {:9.3} {:9.3} {:9.3} {:9.3}",
                            row[0], row[1], row[2], row[3], row[4]
                        );
                    }
                }
            }
        }
    }
}
