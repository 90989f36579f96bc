#!/usr/bin/env bash
# Instructions per uncached request, counted by callgrind: repeatable whatever else the
# machine is doing, so two builds compare where wrk's throughput is too noisy to tell a few
# per cent apart. Each build serves the 100,000-product catalog (--cache-mb 0) under
# valgrind twice, answering MANY and then FEW identical requests on one keep-alive
# connection, the FEW run held open as long as the MANY run took (the node's timers tick by
# the clock, and under valgrind a request takes long); (total(MANY) - total(FEW)) /
# (MANY - FEW) is the cost of one request, start-up, indexing and timers cancelled out.
#
#   benches/instructions.sh                      # this build
#   OLD=path/to/other/storefront benches/instructions.sh   # and another, side by side
#
# Targets 127.0.0.1 only; needs valgrind, curl and python3. Results go to
# bench-out/instructions.md.
PRODUCTS=${PRODUCTS:-100000}
FEW=${FEW:-20}
MANY=${MANY:-220}
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "valgrind is required: apt-get install valgrind" >&2; exit 1; }

DB=$(catalog_db "$PRODUCTS")
PORT=18490
printf 'rate_limits_enabled = false\n' > "$OUT/instructions.toml"

# total BINARY URL N [HOLD] -> "instructions seconds" of a run that starts, answers N
# requests (over at least HOLD seconds) and stops
total() {
    local bin=$1 url=$2 n=$3 hold=${4:-0} log=$OUT/callgrind.log
    cp "$DB" "$OUT/instructions.db"
    STOREFRONT_CONFIG="$OUT/instructions.toml" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        --log-file="$log" "$bin" serve --listen "127.0.0.1:$PORT" --log-level warn \
        --db "$OUT/instructions.db" --cache-mb 0 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1200); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.5; done
    local took
    took=$(python3 - "$PORT" "$url" "$n" "$hold" <<'PY'
import http.client, sys, time
port, url, n, hold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
started = time.monotonic()
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", url)
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
time.sleep(max(0.0, hold - (time.monotonic() - started)))
print(f"{time.monotonic() - started:.2f}")
PY
)
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$(grep -m1 "Collected" "$log" | awk '{print $4}') $took"
}

per_request() {
    local few many took
    read -r many took < <(total "$1" "$2" "$MANY")
    read -r few _ < <(total "$1" "$2" "$FEW" "$took")
    echo $(( (many - few) / (MANY - FEW) ))
}

# the scenarios of load.sh that need no walk: a product, a page of 20, a search
start_storefront 18491 --db "$DB" --cache-mb 0
SLUG=$(curl -sf "http://127.0.0.1:18491/api/products?per_page=1&page=2500&fields=slug" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["slug"])')
kill "$SF_PID"
wait "$SF_PID" 2>/dev/null || true
declare -A URLS=([detail]="/api/products/$SLUG" [list20]="/api/products?per_page=20" [search]="/api/search?q=classic")

{
    echo "instructions per uncached request ($PRODUCTS products; callgrind, $FEW vs $MANY requests)"
    printf '%-10s %14s %14s %9s\n' scenario this other this/other
    for name in detail list20 search; do
        this=$(per_request "$SF" "${URLS[$name]}")
        if [ -n "${OLD:-}" ]; then
            other=$(per_request "$OLD" "${URLS[$name]}")
            printf '%-10s %14d %14d %9.3f\n' "$name" "$this" "$other" "$(python3 -c "print($this / $other)")"
        else
            printf '%-10s %14d %14s %9s\n' "$name" "$this" - -
        fi
    done
} | tee "$OUT/instructions.md"
