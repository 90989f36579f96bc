//! Where quick_cache serves better than moka (`cargo bench --bench cache_maps`): lookups
//! of hot keys (a skewed pick of 10,000 catalog paths) in the map types the response
//! cache could use, one thread and two threads at once (this machine's two cores), and the
//! response cache's own hit path (map lookup plus the freshness check of the entry's tags).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use storefront::cache::ResponseCache;
use storefront::http::Rendered;

const KEYS: usize = 10_000;
const BATCH: usize = 1024;

/// A skewed sequence of key indexes: most lookups go to a few hundred keys, as catalog
/// traffic does (a power-law pick, deterministic).
fn picks(n: usize) -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            ((KEYS as f64).powf(u) as usize).min(KEYS) - 1
        })
        .collect()
}

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("/api/products/product-slug-number-{i}")).collect()
}

/// Runs `per_thread` on `threads` threads at once; the time of the slowest.
fn threaded(threads: usize, iters: u64, per_thread: impl Fn(u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| per_thread(iters));
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let picks = picks(BATCH);
    let value = Arc::new(vec![0u8; 2048]);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();

    let moka: moka::future::Cache<String, Arc<Vec<u8>>> = moka::future::Cache::builder()
        .max_capacity(64 << 20)
        .weigher(|k: &String, v: &Arc<Vec<u8>>| (k.len() + v.len()) as u32)
        .build();
    let quick: quick_cache::sync::Cache<String, Arc<Vec<u8>>> = quick_cache::sync::Cache::new(KEYS);
    rt.block_on(async {
        for k in &keys {
            moka.insert(k.clone(), value.clone()).await;
        }
    });
    for k in &keys {
        quick.insert(k.clone(), value.clone());
    }
    // the response cache, filled through its own path
    let cache = Arc::new(ResponseCache::new(64, Duration::from_secs(600)));
    let body = Rendered::new(br#"{"data":{"id":"1","name":"a product"}}"#.to_vec());
    rt.block_on(async {
        for k in &keys {
            let tags = ["catalog", "listing"];
            let _ = cache
                .get_or_load(k.clone(), &tags, async {
                    Ok((body.clone(), vec!["product:1".to_owned(), "variant:1".to_owned()]))
                })
                .await;
        }
    });

    let mut g = c.benchmark_group(format!("{BATCH} hot lookups"));
    g.bench_function("moka future, 1 thread", |b| {
        b.iter(|| {
            rt.block_on(async {
                for &i in &picks {
                    std::hint::black_box(moka.get(keys[i].as_str()).await);
                }
            });
        });
    });
    g.bench_function("quick_cache, 1 thread", |b| {
        b.iter(|| {
            for &i in &picks {
                std::hint::black_box(quick.get(keys[i].as_str()));
            }
        });
    });
    g.bench_function("response cache peek, 1 thread", |b| {
        b.iter(|| {
            rt.block_on(async {
                for &i in &picks {
                    std::hint::black_box(cache.fresh_hit(&keys[i]).await);
                }
            });
        });
    });
    g.bench_function("moka future, 2 threads", |b| {
        b.iter_custom(|iters| {
            threaded(2, iters, |n| {
                let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                rt.block_on(async {
                    for _ in 0..n {
                        for &i in &picks {
                            std::hint::black_box(moka.get(keys[i].as_str()).await);
                        }
                    }
                });
            })
        });
    });
    g.bench_function("quick_cache, 2 threads", |b| {
        b.iter_custom(|iters| {
            threaded(2, iters, |n| {
                for _ in 0..n {
                    for &i in &picks {
                        std::hint::black_box(quick.get(keys[i].as_str()));
                    }
                }
            })
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
