#!/usr/bin/env bash
# The job queue's benchmark: no-op jobs end to end (throughput, and enqueue-to-start
# latency at a paced 1,000 jobs/s), checkout orders/s alone and with jobs running beside
# it, and mail jobs through a local SMTP server (aiosmtpd from ./.venv, installed by
# ./test.sh). The server runs inside examples/jobs_bench.rs (jobs are enqueued through its
# writer, as the product enqueues them); the checkout load is examples/shop_load. Everything
# on 127.0.0.1, every phase bounded by SECS.
#
#   benches/jobs.sh                      # SECS=8 N=100000 M=5000 CONNS=64
#
# Results go to bench-out/jobs-results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench-out
mkdir -p "$OUT"
export SECS=${SECS:-8} N=${N:-100000} M=${M:-5000} CONNS=${CONNS:-64}
cargo build --release --quiet --bin storefront --example jobs_bench --example shop_load
SF=target/release/storefront
export LOAD=target/release/examples/shop_load
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

fresh_db() {
    local db=$OUT/jobs-$1.db
    rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
    "$SF" seed --products 10000 --db "$db" --quiet >/dev/null
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE inventory SET available = 100000000'); c.commit()" "$db"
    echo "$db"
}

: > "$OUT/jobs-runs.jsonl"
target/release/examples/jobs_bench "$(fresh_db noop)" 18490 noop | tee -a "$OUT/jobs-runs.jsonl"

SMTP_PORT=18491
.venv/bin/python -m aiosmtpd -n -l 127.0.0.1:$SMTP_PORT -c aiosmtpd.handlers.Sink &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT) 2>/dev/null && break; sleep 0.1; done
SMTP_URL=smtp://127.0.0.1:$SMTP_PORT target/release/examples/jobs_bench "$(fresh_db mail)" 18492 mail | tee -a "$OUT/jobs-runs.jsonl"

python3 - "$OUT/jobs-runs.jsonl" <<'PY' | tee "$OUT/jobs-results.txt"
import json, sys
runs = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    runs.setdefault(r["phase"], []).append(r)
g = lambda p: runs[p][0]
t = g("noop_throughput")
print(f"no-op jobs end to end: {t['per_sec']:,.0f} jobs/s ({t['jobs']:,} in {t['secs']:.1f} s)")
l = g("noop_latency_paced_1000")
print(f"enqueue-to-start at 1,000 jobs/s: p50 {l['p50_ms']} ms, p99 {l['p99_ms']} ms ({l['jobs']} jobs)")
import statistics
med = statistics.median
alone = [r["load"] for r in runs["checkout_alone"]]
beside = runs["checkout_with_1000_jobs_per_sec"]
flood = runs["checkout_with_flood"]
ratios = [b["load"]["rate"] / a["rate"] for a, b in zip(alone, beside)]
flood_ratios = [f["load"]["rate"] / a["rate"] for a, f in zip(alone, flood)]
print(f"{len(alone)} rounds, medians; orders = shop_load's flow (guest session, add to cart, checkout), 64 clients")
print(f"orders alone: {med([a['rate'] for a in alone]):,.0f} orders/s "
      f"(p50 {med([a['p50_ms'] for a in alone]):.1f} ms, p99 {med([a['p99_ms'] for a in alone]):.1f} ms)")
print(f"orders + 1,000 jobs/s: {med([b['load']['rate'] for b in beside]):,.0f} orders/s = {med(ratios):.2f}x alone "
      f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
      f"jobs start p50 {med([b['p50_ms'] for b in beside])} ms, p99 {med([b['p99_ms'] for b in beside])} ms")
print(f"orders + flooded queue: {med([f['load']['rate'] for f in flood]):,.0f} orders/s = {med(flood_ratios):.2f}x alone, "
      f"beside {med([f['jobs_per_sec'] for f in flood]):,.0f} jobs/s")
m = g("mail_throughput")
print(f"mail to a local SMTP server (aiosmtpd): {m['per_sec']:,.0f} mails/s ({m['mails']:,} in {m['secs']:.1f} s)")
for e in runs["end"]:
    print(f"peak RSS {e['peak_rss_mb']:.0f} MB, writer mean batch {e['writer_mean_batch']:.1f}, mean commit {e['writer_mean_commit_ms']:.2f} ms")
PY
