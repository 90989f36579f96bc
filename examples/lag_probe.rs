//! Replica lag as a client sees it, for `benches/topology.sh`: every 20 ms it asks the
//! primary how far it is (`GET /health`, `X-Storefront-Commit`), then asks the replica
//! until it is that far too; the time between is one sample. Bounded by SECS.
//!
//! usage: lag_probe PRIMARY_ADDR REPLICA_ADDR SECS
//! Prints one JSON line: samples, p50/p99/max lag in ms.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The commit position a node's `/health` reports.
async fn position(addr: SocketAddr) -> Option<u64> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw)).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&raw);
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-storefront-commit:").map(|v| v.trim().to_owned()))?
        .parse()
        .ok()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: lag_probe PRIMARY_ADDR REPLICA_ADDR SECS");
        std::process::exit(2);
    }
    let primary: SocketAddr = args[1].parse().expect("PRIMARY_ADDR like 127.0.0.1:8080");
    let replica: SocketAddr = args[2].parse().expect("REPLICA_ADDR like 127.0.0.1:8081");
    let secs: u64 = args[3].parse().expect("SECS");
    let end = Instant::now() + Duration::from_secs(secs);
    let mut samples: Vec<f64> = Vec::new();
    let mut lost = 0;
    while Instant::now() < end {
        let asked = Instant::now();
        let Some(target) = position(primary).await else {
            lost += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let deadline = asked + Duration::from_secs(30);
        loop {
            if position(replica).await.is_some_and(|p| p >= target) {
                samples.push(asked.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if Instant::now() > deadline {
                lost += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let next = asked + Duration::from_millis(20);
        tokio::time::sleep_until(next.into()).await;
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if samples.is_empty() {
            0.0
        } else {
            samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1]
        }
    };
    println!(
        "{{\"samples\": {}, \"p50_ms\": {:.1}, \"p99_ms\": {:.1}, \"max_ms\": {:.1}, \"lost\": {lost}}}",
        samples.len(),
        pct(0.5),
        pct(0.99),
        samples.last().copied().unwrap_or(0.0)
    );
}
