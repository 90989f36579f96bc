//! The job queue's benchmark (run by `benches/jobs.sh`): the real server in this process on
//! 127.0.0.1:PORT, jobs enqueued through its writer as the product enqueues them, and the
//! checkout load generator (`shop_load`) beside it. Prints one JSON line per phase.
//!
//! usage: jobs_bench DB PORT noop|mail
//! - `noop`: no-op jobs end to end, as fast as they go (N, default 100,000); enqueue-to-start
//!   latency at a paced 1,000 jobs/s; orders alone (shop_load's `flow`: guest session, add to
//!   cart, checkout); orders with 1,000 jobs/s beside them; orders with the queue flooded
//! - `mail`: M (default 5,000) mails through the outbox to the SMTP server at SMTP_URL
//!
//! The three order phases run ROUNDS times (default 3), interleaved, so that a noisy moment
//! of a shared machine falls on one round rather than on one side of a comparison.
//!
//! env: SECS (per timed phase, default 8), CONNS (checkout clients, 64), LOAD (the
//! shop_load binary), N, M, CONCURRENCY (jobs at once, default 64), ROUNDS.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use storefront::app::AppState;
use storefront::config::Config;
use storefront::error::StoreError;
use storefront::jobs::{Kind, NewJob};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.to_owned()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Waits until the runner has completed `target` jobs in all; returns false after `limit`.
async fn until_completed(app: &AppState, target: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while app.jobs.completed.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

async fn enqueue_noops(app: &AppState, n: usize) -> Vec<i64> {
    app.db
        .writer
        .run(move |tx| {
            (0..n)
                .map(|_| {
                    storefront::jobs::enqueue(tx, &NewJob::new(Kind::Noop, json!({}))).map(|id| id.expect("no key"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)
        })
        .await
        .expect("enqueue")
}

/// Enqueues `rate` no-ops a second for `secs`, ten every 1/100 s (jobs come with the units
/// of the shop's own writes, several at a time: not one writer unit each); returns their ids.
async fn paced(app: AppState, rate: u64, secs: u64) -> Vec<i64> {
    let mut ids = Vec::new();
    let per_tick = (rate / 100).max(1) as usize;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        tick.tick().await;
        ids.extend(enqueue_noops(&app, per_tick).await);
    }
    ids
}

/// Enqueue-to-start latency (ms) of `ids`, from the rows (created_at → started_at).
async fn latencies(app: &AppState, ids: Vec<i64>) -> (i64, i64, usize) {
    let mut lat: Vec<i64> = app
        .db
        .read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            let mut s =
                c.prepare("SELECT started_at - created_at FROM jobs WHERE id = ?1 AND started_at IS NOT NULL")?;
            for id in ids {
                if let Ok(v) = s.query_row([id], |r| r.get::<_, i64>(0)) {
                    out.push(v);
                }
            }
            Ok::<_, StoreError>(out)
        })
        .await
        .expect("read latencies");
    lat.sort_unstable();
    (percentile(&lat, 0.5), percentile(&lat, 0.99), lat.len())
}

fn checkout(port: u16, secs: u64) -> std::process::Child {
    let load = std::env::var("LOAD").unwrap_or_else(|_| "target/release/examples/shop_load".into());
    Command::new(load)
        .args([format!("127.0.0.1:{port}"), "flow".into(), env("CONNS", 64u64).to_string(), secs.to_string()])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start shop_load")
}

fn checkout_rate(child: std::process::Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("shop_load ran");
    serde_json::from_slice(&out.stdout).unwrap_or(json!(null))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 4, "usage: jobs_bench DB PORT noop|mail");
    let (db, port, mode) = (args[1].clone(), args[2].parse::<u16>()?, args[3].clone());
    let secs: u64 = env("SECS", 8);
    let config = Config {
        db: db.into(),
        log_level: "warn".into(),
        jobs_concurrency: env("CONCURRENCY", 64),
        smtp_url: std::env::var("SMTP_URL").ok(),
        cache_warm_products: 0,
        // the orders come from one address
        rate_limits_enabled: false,
        max_connections_per_address: 100_000,
        unpaid_orders_per_owner: 0,
        reserved_units_per_owner: 0,
        unpaid_orders_per_address: 0,
        reserved_units_per_address: 0,
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let app = AppState::open(config)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(storefront::web::run(app.clone(), listener, async {
            let _ = stopped.await;
        }));
        while !app.search.is_ready() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let done = || app.jobs.completed.load(Ordering::Relaxed);
        if mode == "noop" {
            // 1. throughput alone
            let n: usize = env("N", 100_000);
            let base = done();
            let started = Instant::now();
            for _ in 0..n / 1000 {
                enqueue_noops(&app, 1000).await;
            }
            let ok = until_completed(&app, base + (n / 1000 * 1000) as u64, Duration::from_secs(300)).await;
            let secs_taken = started.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({"phase": "noop_throughput", "jobs": n, "secs": secs_taken,
                                  "per_sec": n as f64 / secs_taken, "finished": ok})
            );
            // 2. latency at a paced 1,000/s, alone
            let ids = paced(app.clone(), 1000, secs).await;
            until_completed(&app, done(), Duration::from_secs(10)).await;
            let (p50, p99, count) = latencies(&app, ids).await;
            println!("{}", json!({"phase": "noop_latency_paced_1000", "jobs": count, "p50_ms": p50, "p99_ms": p99}));
            for _round in 0..env("ROUNDS", 3) {
                // 3. checkout alone
                let alone = checkout_rate(checkout(port, secs));
                println!("{}", json!({"phase": "checkout_alone", "load": alone}));
                // 4. checkout with 1,000 jobs/s beside it
                let child = checkout(port, secs);
                let ids = paced(app.clone(), 1000, secs).await;
                let beside = checkout_rate(child);
                let (p50, p99, count) = latencies(&app, ids).await;
                println!(
                    "{}",
                    json!({"phase": "checkout_with_1000_jobs_per_sec", "load": beside,
                                  "jobs": count, "p50_ms": p50, "p99_ms": p99})
                );
                // 5. checkout with the queue flooded
                let child = checkout(port, secs);
                let base = done();
                let flood_started = Instant::now();
                let end = flood_started + Duration::from_secs(secs);
                let mut enqueued = 0u64;
                while Instant::now() < end {
                    enqueue_noops(&app, 500).await;
                    enqueued += 500;
                    // keep at most ~20,000 waiting: a flood, not an unbounded backlog
                    while enqueued - (done() - base) > 20_000 && Instant::now() < end {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                let ran = done() - base;
                let flooded = checkout_rate(child);
                println!(
                    "{}",
                    json!({"phase": "checkout_with_flood", "load": flooded,
                                  "jobs_per_sec": ran as f64 / flood_started.elapsed().as_secs_f64()})
                );
            }
        } else {
            anyhow::ensure!(app.mailer.sends(), "the mail phase needs SMTP_URL");
            let m: usize = env("M", 5000);
            let base = done();
            let started = Instant::now();
            for chunk in 0..m.div_ceil(500) {
                let k = 500.min(m - chunk * 500);
                app.db
                    .writer
                    .run(move |tx| {
                        for i in 0..k {
                            storefront::mail::enqueue(
                                tx,
                                true,
                                "order_confirmation",
                                &format!("buyer{i}@example.com"),
                                "Your order",
                                "Thank you for your order.",
                                storefront::util::now_ms(),
                            )?;
                        }
                        Ok::<_, StoreError>(())
                    })
                    .await?;
            }
            let ok = until_completed(&app, base + m as u64, Duration::from_secs(600)).await;
            let t = started.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({"phase": "mail_throughput", "mails": m, "secs": t, "per_sec": m as f64 / t, "finished": ok})
            );
        }
        let w = app.db.writer.stats();
        println!(
            "{}",
            json!({"phase": "end", "peak_rss_mb": peak_rss_mb(), "writer_mean_batch": w.mean_batch,
                              "writer_mean_commit_ms": w.mean_commit_micros / 1000.0})
        );
        let _ = stop.send(());
        let _ = server.await;
        anyhow::Ok(())
    })?;
    Ok(())
}
