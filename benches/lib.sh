# Shared by the load scenarios (sourced, not run): the release build, the 100,000-product
# catalog, starting the storefront and the static-bytes baseline server, wrk runs and the
# median table. Every server started here is stopped on exit; targets are 127.0.0.1 only
# and every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
OUT=bench-out
mkdir -p "$OUT"
cargo build --release --quiet --bin storefront --example static_server --example shop_load
SF=${SF:-target/release/storefront}
ST=target/release/examples/static_server

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# catalog_db N -> path of a generated N-product catalog (built once, kept in bench-out/)
catalog_db() {
    local db=$OUT/catalog-$1.db
    [ -f "$db" ] || "$SF" seed --products "$1" --db "$db" --quiet >/dev/null
    echo "$db"
}

# start_storefront PORT serve-args... : serves and waits until ready; sets SF_PID
start_storefront() {
    local port=$1
    shift
    # the load comes from one address, and its sessions leave orders unpaid: no rate limits,
    # no bounds on connections or unpaid orders per client (the tests check those)
    printf 'rate_limits_enabled = false\nmax_connections_per_address = 100000\nunpaid_orders_per_owner = 0\nreserved_units_per_owner = 0\nunpaid_orders_per_address = 0\nreserved_units_per_address = 0\n' > "$OUT/bench.toml"
    STOREFRONT_CONFIG="$OUT/bench.toml" "$SF" serve --listen "127.0.0.1:$port" --log-level warn "$@" &
    SF_PID=$!
    PIDS+=("$SF_PID")
    # a million-product catalog takes ~10 s to index before the node is ready
    for _ in $(seq 1200); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return; sleep 0.1; done
    echo "the storefront on port $port did not become ready" >&2
    exit 1
}

# start_static PORT path=file... : the baseline, answering each path with the file's bytes
start_static() {
    local port=$1
    shift
    "$ST" "127.0.0.1:$port" "$@" &
    PIDS+=($!)
    sleep 0.5
}

# measure URL [wrk args...] -> "rps p50_ms p99_ms non2xx"
measure() {
    command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }
    local url=$1
    shift
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def lat(p):
    m = re.search(r"^\s+" + p + r"%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
p50, p99 = lat("50"), lat("99")
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errs.group(1) if errs else 0}")'
}

# row NAME "sf rps..." "static rps..." "p50s..." "p99s..." "errors..." : one line of
# medians (the ratio is the median of the per-round ratios)
row() {
    python3 - "$@" <<'PY'
import statistics, sys
name, *cols = sys.argv[1:]
sf, st, p50, p99, errs = [[float(x) for x in c.split()] for c in cols]
ratio = f"{statistics.median(a / b for a, b in zip(sf, st)):.3f}" if st else "-"
stm = f"{statistics.median(st):.0f}" if st else "-"
print(f"{name:16} {statistics.median(sf):10.0f} {stm:>10} {ratio:>7} {statistics.median(p50):9.2f} {statistics.median(p99):9.2f} {sum(errs):6.0f}")
PY
}

header() {
    printf '%-16s %10s %10s %7s %9s %9s %6s\n' scenario storefront static ratio p50_ms p99_ms errors
}
