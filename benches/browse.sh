#!/usr/bin/env bash
# A shop's browse traffic on a big catalog: a URL mix drawn with a Zipf skew — product
# pages by popularity, category lists (any depth) × sort × in_stock / brand / price filters
# × page, searches and text queries on lists by word frequency, and the home page's tree,
# brands, bestsellers and first page — against the storefront with the response cache off
# and on, and against the static-bytes server (every target answered with one list page's
# bytes) in the same run. Reports throughput as a ratio of the static server, p50/p99,
# the cache's hit ratio over the measured runs and the storefront's peak RSS.
#
#   benches/browse.sh                          # PRODUCTS=1000000, 2 rounds x 10 s, 64 connections
#   PRODUCTS=100000 ROUNDS=3 benches/browse.sh
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
source "$(dirname "$0")/lib.sh"

PRODUCTS=${PRODUCTS:-1000000}
CACHE_MB=${CACHE_MB:-256}
SF_PORT=18496
ST_PORT=18497
DB=$(catalog_db "$PRODUCTS")
URLS=$OUT/browse-urls-$PRODUCTS.txt
export URLS
# an admin to read the cache's counters (created once; the catalog is otherwise untouched)
printf 'bench-admin-password\n' | "$SF" admin create --email browse@example.com --password-stdin --db "$DB" \
    >/dev/null 2>&1 || true

# the URL mix, drawn once per catalog with a fixed seed
if [ ! -s "$URLS" ]; then
    python3 benches/browse_urls.py "$DB" "$URLS"
fi

SCRIPT=benches/browse.lua
token() {
    curl -sf -XPOST "http://127.0.0.1:$1/api/auth/login" -H 'content-type: application/json' \
        -d '{"email": "browse@example.com", "password": "bench-admin-password"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])'
}
cache_counts() {
    curl -sf "http://127.0.0.1:$1/api/admin/cache" -H "authorization: Bearer $2" |
        python3 -c 'import json,sys; l1 = json.load(sys.stdin)["data"]["l1"]; print(l1["hits"], l1["misses"])'
}

declare -A SF_R ST_R P50 P99 ERRS HIT RSS
for mb in 0 "$CACHE_MB"; do
    PIDS=()
    start_storefront $SF_PORT --db "$DB" --cache-mb "$mb"
    curl -sf -H 'accept-encoding: gzip' "http://127.0.0.1:$SF_PORT/api/products?category=$(sed -n 's/.*category=\([^&]*\).*/\1/p' "$URLS" | head -1)" \
        -o "$OUT/browse-list.body"
    start_static $ST_PORT "*=$OUT/browse-list.body"
    name=cache_off
    [ "$mb" != 0 ] && name=cache_on
    TOKEN=$(token $SF_PORT)
    # one unmeasured run: the page cache of the database file, and with the cache on its fill
    measure "http://127.0.0.1:$SF_PORT" -s "$SCRIPT" >/dev/null
    [ "$mb" != 0 ] && read -r h0 m0 < <(cache_counts $SF_PORT "$TOKEN")
    for round in $(seq "$ROUNDS"); do
        read -r st _ _ _ < <(measure "http://127.0.0.1:$ST_PORT" -s "$SCRIPT")
        read -r sf p50 p99 errs < <(measure "http://127.0.0.1:$SF_PORT" -s "$SCRIPT")
        SF_R[$name]+="$sf "; ST_R[$name]+="$st "; P50[$name]+="$p50 "; P99[$name]+="$p99 "; ERRS[$name]+="$errs "
    done
    if [ "$mb" != 0 ]; then
        read -r h1 m1 < <(cache_counts $SF_PORT "$TOKEN")
        HIT[$name]=$(python3 -c "print(f'{($h1-$h0)/max(1,($h1-$h0)+($m1-$m0)):.3f}')")
    fi
    RSS[$name]=$(grep VmHWM "/proc/$SF_PID/status" | awk '{printf "%.0f MB", $2/1024}')
    cleanup
    wait 2>/dev/null || true
done
{
    printf '\nbrowse mix, %d products, %d rounds x %d s, %d connections, gzip, medians\n' \
        "$PRODUCTS" "$ROUNDS" "$DURATION" "$CONNS"
    header
    for name in cache_off cache_on; do
        row "$name" "${SF_R[$name]}" "${ST_R[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRS[$name]}"
    done
    echo "cache hit ratio (L1, measured runs): ${HIT[cache_on]}"
    echo "storefront peak RSS: cache off ${RSS[cache_off]}, cache on (${CACHE_MB} MiB budget) ${RSS[cache_on]}"
} | tee "$OUT/browse-results-$PRODUCTS.txt"
