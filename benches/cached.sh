#!/usr/bin/env bash
# Load benchmark of cached catalog reads: the response cache on (cache_mb 64), gzip
# accepted, 64 connections on 127.0.0.1, beside a static-bytes hyper server answering the
# same (gzip) bytes in the same run. Needs wrk; reuses the 100,000-product catalog of
# benches/load.sh (built here when missing). Every run is bounded by DURATION.
#
#   benches/cached.sh                   # 3 rounds x 8 s
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
OUT=bench-out
DB=$OUT/catalog-100000.db
SF_PORT=18486
ST_PORT=18487
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet --bin storefront --example static_server
SF=target/release/storefront
ST=target/release/examples/static_server
[ -f "$DB" ] || "$SF" seed --products 100000 --db "$DB" --quiet

cleanup() { kill "${SF_PID:-}" "${ST_PID:-}" 2>/dev/null || true; }
trap cleanup EXIT
"$SF" serve --db "$DB" --listen 127.0.0.1:$SF_PORT --cache-mb 64 --log-level warn &
SF_PID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$SF_PORT/ready >/dev/null && break; sleep 0.1; done

SLUG=$(curl -sf "http://127.0.0.1:$SF_PORT/api/products?per_page=1&page=2500&fields=slug" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["slug"])')
declare -A URLS=([detail]="/api/products/$SLUG" [list20]="/api/products?per_page=20" [search]="/api/search?q=classic")
ORDER=(detail list20 search)
ROUTES=()
for name in "${ORDER[@]}"; do
    curl -sf -H 'accept-encoding: gzip' "http://127.0.0.1:$SF_PORT${URLS[$name]}" -o "$OUT/cached-$name.body"
    ROUTES+=("${URLS[$name]}=$OUT/cached-$name.body")
done
"$ST" 127.0.0.1:$ST_PORT "${ROUTES[@]}" &
ST_PID=$!
sleep 0.5

measure() { # url -> "rps p50 p99"
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H 'accept-encoding: gzip' "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def lat(p):
    v, u = re.search(r"^\s+" + p + r"%\s+([\d.]+)(us|ms|s)\s*$", t, re.M).groups()
    v = float(v)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
p50, p99 = lat("50"), lat("99")
print(f"{rps:.0f} {p50:.2f} {p99:.2f}")'
}
declare -A SF_R ST_R P50 P99
for round in $(seq "$ROUNDS"); do
    for name in "${ORDER[@]}"; do
        read -r st _ _ < <(measure "http://127.0.0.1:$ST_PORT${URLS[$name]}")
        read -r sf p50 p99 < <(measure "http://127.0.0.1:$SF_PORT${URLS[$name]}")
        SF_R[$name]+="$sf "; ST_R[$name]+="$st "; P50[$name]+="$p50 "; P99[$name]+="$p99 "
    done
done
{
    printf '\n%d rounds x %d s, %d connections, gzip, cache on, medians\n' "$ROUNDS" "$DURATION" "$CONNS"
    printf '%-8s %10s %10s %7s %8s %8s\n' scenario storefront static ratio p50_ms p99_ms
    for name in "${ORDER[@]}"; do
        python3 - "$name" "${SF_R[$name]}" "${ST_R[$name]}" "${P50[$name]}" "${P99[$name]}" <<'PY'
import statistics, sys
name, sf, st, p50, p99 = sys.argv[1], *[[float(x) for x in a.split()] for a in sys.argv[2:]]
ratio = statistics.median(a / b for a, b in zip(sf, st))
print(f"{name:8} {statistics.median(sf):10.0f} {statistics.median(st):10.0f} {ratio:7.3f} {statistics.median(p50):8.2f} {statistics.median(p99):8.2f}")
PY
    done
    curl -sf "http://127.0.0.1:$SF_PORT/ready" >/dev/null
    grep VmHWM /proc/$SF_PID/status | sed 's/^/storefront peak RSS: /'
} | tee "$OUT/cached-results.txt"
