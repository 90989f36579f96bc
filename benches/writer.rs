//! The writer under concurrent load: a realistic write (a conditional stock decrement, as
//! checkout does it, with a restock when a variant runs out) submitted by 256 concurrent
//! callers, with group commit (the default) and with one transaction per unit. Both run
//! with `synchronous=FULL`, so every commit is a WAL sync. Throughput is units/s; the
//! writer's own mean batch size and commit latency are printed after each run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use storefront::db::writer::{Writer, WriterConfig};
use storefront::db::{self, Synchronous};
use storefront::error::StoreError;

const CONCURRENCY: u64 = 256;
const VARIANTS: i64 = 10_000;

fn setup(max_batch: usize) -> (Writer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut conn = db::open_write(&path, Synchronous::Full).unwrap();
    db::migrate::migrate(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO categories(id, name, slug, created_at) VALUES (1, 'c', 'c', 0);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO products(id, sku, slug, name, category_id, base_price, created_at, updated_at)
             SELECT i, 'S' || i, 's' || i, 'p', 1, 1000, 0, 0 FROM n;
         INSERT INTO variants(id, product_id, sku, name, created_at) SELECT id, id, sku, 'd', 0 FROM products;
         INSERT INTO inventory(variant_id, available, reserved, updated_at) SELECT id, 50, 0, 0 FROM variants;",
    )
    .unwrap();
    (Writer::start(conn, WriterConfig { queue_capacity: 8192, max_batch }).unwrap(), dir)
}

fn reserve(w: &Writer, variant: i64) -> impl std::future::Future<Output = Result<bool, StoreError>> + '_ {
    w.run(move |tx| {
        let n = tx
            .prepare_cached(
                "UPDATE inventory SET available = available - 1, reserved = reserved + 1, updated_at = ?2
                 WHERE variant_id = ?1 AND available >= 1",
            )?
            .execute(rusqlite::params![variant, 1])?;
        if n == 0 {
            tx.prepare_cached("UPDATE inventory SET available = 50, reserved = 0 WHERE variant_id = ?1")?
                .execute([variant])?;
        }
        Ok(n == 1)
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("writer_stock_update");
    group.throughput(Throughput::Elements(CONCURRENCY));
    group.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    for (name, max_batch) in [("group_commit", 512usize), ("txn_per_unit", 1)] {
        let (w, _dir) = setup(max_batch);
        let w = Arc::new(w);
        let counter = Arc::new(AtomicU64::new(1));
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let tasks: Vec<_> = (0..CONCURRENCY)
                        .map(|_| {
                            let w = w.clone();
                            let n = counter.fetch_add(7919, Ordering::Relaxed);
                            tokio::spawn(async move { reserve(&w, (n as i64 % VARIANTS) + 1).await.unwrap() })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
            });
        });
        let s = w.stats();
        eprintln!(
            "{name}: {} units in {} commits (mean batch {:.1}, max {}), mean commit latency {:.0} µs",
            s.units, s.batches, s.mean_batch, s.max_batch, s.mean_commit_micros
        );
        w.shutdown();
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
