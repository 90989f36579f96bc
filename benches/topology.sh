#!/usr/bin/env bash
# The scale-out topology on 127.0.0.1: a primary replicating with Litestream (100 ms
# intervals) to a directory, replicas following their own copies, nginx in front with
# deploy/nginx/storefront.conf. Measures, in one run:
# - read throughput of the browse mix (benches/browse_urls.py) through nginx to one
#   replica and to two, as ratios against the static-bytes server behind the same nginx
#   configuration, with p50/p99;
# - checkout orders/s through the balancer (the whole flow: guest session, add to cart,
#   checkout; writes go to the primary);
# - the lag a client sees from the primary to a replica (examples/lag_probe.rs), idle and
#   under that checkout load;
# - each process's peak RSS.
# Every process shares the machine's cores: on one machine this measures what the
# topology costs, not how far it scales (see the README).
#
#   benches/topology.sh                          # PRODUCTS=100000, 2 rounds x 8 s, 64 connections
#   PRODUCTS=10000 ROUNDS=1 DURATION=5 benches/topology.sh
ROUNDS=${ROUNDS:-2}
source "$(dirname "$0")/lib.sh"
PRODUCTS=${PRODUCTS:-100000}
LITESTREAM=${LITESTREAM:-.venv/bin/litestream}
[ -x "$LITESTREAM" ] || { echo "litestream is required: ./test.sh installs it into .venv" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is required: apt-get install nginx" >&2; exit 1; }
cargo build --release --quiet --example lag_probe
PROBE=target/release/examples/lag_probe
LOAD=target/release/examples/shop_load

T=$OUT/topology
rm -rf "$T"
mkdir -p "$T"
CATALOG=$(catalog_db "$PRODUCTS")
URLS=$OUT/browse-urls-$PRODUCTS.txt
export URLS
[ -s "$URLS" ] || python3 benches/browse_urls.py "$CATALOG" "$URLS"
cp "$CATALOG" "$T/primary.db"
# stock enough for every run: the benchmark measures ordering, not selling out
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE inventory SET available = 100000000'); c.commit()" "$T/primary.db"

P_PORT=18520 R1_PORT=18521 R2_PORT=18522 ST_PORT=18523 LB1_PORT=18524 LB2_PORT=18525 LBS_PORT=18526
CONFIG=$T/topology.toml
printf 'rate_limits_enabled = false\nmax_connections_per_address = 100000\nunpaid_orders_per_owner = 0\nreserved_units_per_owner = 0\nunpaid_orders_per_address = 0\nreserved_units_per_address = 0\nlitestream = "%s"\nreplication_interval_ms = 100\ntrusted_proxies = ["127.0.0.1/32"]\ncache_mb = 256\n' \
    "$(realpath "$LITESTREAM")" > "$CONFIG"

serve() { # PORT args... -> pid in SERVED
    local port=$1
    shift
    "$SF" serve --config "$CONFIG" --listen "127.0.0.1:$port" --log-level warn "$@" &
    SERVED=$!
    PIDS+=("$SERVED")
    for _ in $(seq 1200); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return; sleep 0.1; done
    echo "port $port never became ready" >&2
    exit 1
}
serve $P_PORT --db "$T/primary.db" --replicate-to "file://$(realpath "$T")/storage"
P_PID=$SERVED
serve $R1_PORT --db "$T/replica1.db" --replica-of "http://127.0.0.1:$P_PORT" --replicate-from "file://$(realpath "$T")/storage"
R1_PID=$SERVED
serve $R2_PORT --db "$T/replica2.db" --replica-of "http://127.0.0.1:$P_PORT" --replicate-from "file://$(realpath "$T")/storage"
R2_PID=$SERVED
# the static baseline answers every target with one list page's bytes
curl -sf -H 'accept-encoding: gzip' "http://127.0.0.1:$R1_PORT/api/products" -o "$T/list.body"
start_static $ST_PORT "*=$T/list.body"

lb() { # NAME PORT REPLICA1 REPLICA2-or-"" PRIMARY
    local dir
    dir=$(realpath "$T")/$1
    mkdir -p "$dir"
    sed -e "s/10.0.0.11:8080/$3/" -e "s/10.0.0.10:8080/$5/" -e "s/listen 80;/listen 127.0.0.1:$2;/" \
        deploy/nginx/storefront.conf > "$dir/storefront.conf"
    if [ -n "$4" ]; then sed -i "s/10.0.0.12:8080/$4/" "$dir/storefront.conf"; else sed -i "/10.0.0.12:8080/d" "$dir/storefront.conf"; fi
    printf 'pid nginx.pid;\nerror_log error.log warn;\ndaemon off;\nworker_processes 1;\nevents { worker_connections 4096; }\nhttp { access_log off; include storefront.conf; }\n' > "$dir/nginx.conf"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e stderr &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && return; sleep 0.05; done
}
lb lb1 $LB1_PORT "127.0.0.1:$R1_PORT" "" "127.0.0.1:$P_PORT"
lb lb2 $LB2_PORT "127.0.0.1:$R1_PORT" "127.0.0.1:$R2_PORT" "127.0.0.1:$P_PORT"
lb lbs $LBS_PORT "127.0.0.1:$ST_PORT" "127.0.0.1:$ST_PORT" "127.0.0.1:$ST_PORT"

# idle lag
"$PROBE" 127.0.0.1:$P_PORT 127.0.0.1:$R1_PORT 5 > "$T/lag-idle.json"

# reads: warm each replica's cache once with the whole mix, then the rounds
DURATION_SAVED=$DURATION
DURATION=$((DURATION * 2)) measure "http://127.0.0.1:$LB2_PORT" -s benches/browse.lua >/dev/null
: > "$T/reads.txt"
for round in $(seq "$ROUNDS"); do
    echo "static $(measure "http://127.0.0.1:$LBS_PORT" -s benches/browse.lua)" >> "$T/reads.txt"
    echo "one $(measure "http://127.0.0.1:$LB1_PORT" -s benches/browse.lua)" >> "$T/reads.txt"
    echo "two $(measure "http://127.0.0.1:$LB2_PORT" -s benches/browse.lua)" >> "$T/reads.txt"
done
DURATION=$DURATION_SAVED

# checkout through the balancer, with the lag probe running beside it; then straight to
# the primary (what the balancer's hop costs)
"$PROBE" 127.0.0.1:$P_PORT 127.0.0.1:$R1_PORT "$DURATION" > "$T/lag-load.json" &
PROBE_PID=$!
PRODUCTS=1000 "$LOAD" 127.0.0.1:$LB2_PORT flow "$CONNS" "$DURATION" > "$T/checkout.json"
wait $PROBE_PID
PRODUCTS=1000 "$LOAD" 127.0.0.1:$P_PORT flow "$CONNS" "$DURATION" > "$T/checkout-direct.json"

# resident memory: anonymous (the process's own) and file-backed (the copy's memory map,
# counted once per connection that maps it, though the kernel holds its pages once)
mem() { awk '/VmHWM/ { h = $2 } /RssAnon/ { a = $2 } /RssFile/ { f = $2 } END { printf "%.0f/%.0f/%.0f", h / 1024, a / 1024, f / 1024 }' "/proc/$1/status"; }
python3 - "$T" "$(mem $P_PID)" "$(mem $R1_PID)" "$(mem $R2_PID)" "$PRODUCTS" "$CONNS" <<'PY' | tee "$OUT/topology-results.txt"
import json, statistics, sys
t, p_rss, r1_rss, r2_rss, products, conns = sys.argv[1:]
rows = {}
for line in open(f"{t}/reads.txt"):
    name, rps, p50, p99, errs = line.split()
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99), int(errs)))
med = lambda xs: statistics.median(xs)
static = [r[0] for r in rows["static"]]
print(f"{products} products, {conns} connections, {len(static)} rounds, medians; nginx in front of each")
print(f"{'reads through nginx':28} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7}")
for name, label in [("static", "static server"), ("one", "one replica"), ("two", "two replicas")]:
    rs = rows[name]
    ratio = med([a[0] / s for a, s in zip(rs, static)])
    print(f"{label:28} {med([r[0] for r in rs]):8.0f} {ratio:6.3f} {med([r[1] for r in rs]):7.2f} {med([r[2] for r in rs]):7.2f} {sum(r[3] for r in rs):7d}")
two_one = med([a[0] / b[0] for a, b in zip(rows["two"], rows["one"])])
print(f"two replicas / one replica: {two_one:.2f}x")
for name, label in [("checkout", "through nginx"), ("checkout-direct", "straight to the primary")]:
    c = json.load(open(f"{t}/{name}.json"))
    print(f"checkout flow {label}: {c['rate']:.0f} orders/s, p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms, errors {c['errors']}")
for name in ["idle", "load"]:
    l = json.load(open(f"{t}/lag-{name}.json"))
    print(f"lag primary -> replica ({name}): p50 {l['p50_ms']:.0f} ms, p99 {l['p99_ms']:.0f} ms, max {l['max_ms']:.0f} ms over {l['samples']} samples")
print(f"memory MB (peak RSS/anonymous/file-backed now): primary {p_rss}, replicas {r1_rss} and {r2_rss}")
PY
