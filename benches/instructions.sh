#!/usr/bin/env bash
# Instructions per uncached request, counted by callgrind: repeatable whatever else the
# machine is doing, so two builds compare where wrk's throughput is too noisy to tell a few
# per cent apart. Each build serves the 100,000-product catalog (--cache-mb 0) under
# valgrind with instrumentation off; after a warm-up, it is switched on (callgrind_control)
# for N identical requests on one keep-alive connection and off again: the count of that
# window over N is the cost of one request (start-up and indexing are not counted).
#
#   benches/instructions.sh                      # this build
#   OLD=path/to/other/storefront benches/instructions.sh   # and another, side by side
#
# Targets 127.0.0.1 only; needs valgrind, curl and python3. Results go to
# bench-out/instructions.md.
PRODUCTS=${PRODUCTS:-100000}
N=${N:-200}
source "$(dirname "$0")/lib.sh"
command -v callgrind_control >/dev/null || { echo "valgrind is required: apt-get install valgrind" >&2; exit 1; }

# the catalog, made by the older build when there is one (a newer one upgrades its copy;
# an older one refuses a newer schema)
if [ -n "${OLD:-}" ]; then
    DB=$OUT/catalog-old-$PRODUCTS.db
    [ -f "$DB" ] || "$OLD" seed --products "$PRODUCTS" --db "$DB" --quiet >/dev/null
else
    DB=$(catalog_db "$PRODUCTS")
fi
PORT=18490
printf 'rate_limits_enabled = false\n' > "$OUT/instructions.toml"

# per_request BINARY URL -> instructions of one request, averaged over N
per_request() {
    local bin=$1 url=$2 dump=$OUT/callgrind.out
    rm -f "$dump"*
    rm -f "$OUT/instructions.db"*
    cp "$DB" "$OUT/instructions.db"
    STOREFRONT_CONFIG="$OUT/instructions.toml" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$dump" --log-file="$OUT/callgrind.log" "$bin" serve --listen "127.0.0.1:$PORT" \
        --log-level error --db "$OUT/instructions.db" --cache-mb 0 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1200); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.5; done
    client() {
        python3 - "$PORT" "$url" "$1" <<'PY'
import http.client, sys
port, url, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", url)
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
    }
    client 20
    callgrind_control -i on "$pid" >/dev/null
    client "$N"
    callgrind_control -i off "$pid" >/dev/null
    callgrind_control -d "$pid" >/dev/null
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    local total
    total=$(cat "$dump".* | awk '/^totals:/ {s += $2} END {print s}')
    echo $((total / N))
}

# the scenarios of load.sh that need no walk: a product, a page of 20, a search
rm -f "$OUT/instructions.db"*
cp "$DB" "$OUT/instructions.db"
start_storefront 18491 --db "$OUT/instructions.db" --cache-mb 0
SLUG=$(curl -sf "http://127.0.0.1:18491/api/products?per_page=1&page=2500&fields=slug" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["slug"])')
kill "$SF_PID"
wait "$SF_PID" 2>/dev/null || true
declare -A URLS=([detail]="/api/products/$SLUG" [list20]="/api/products?per_page=20" [search]="/api/search?q=classic")

{
    echo "instructions per uncached request ($PRODUCTS products; callgrind, $N requests each)"
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
