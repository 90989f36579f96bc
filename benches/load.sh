#!/usr/bin/env bash
# Load benchmark of the catalog read path, uncached (--cache-mb 0), on a 100,000-product
# catalog, against a static-bytes hyper server answering the same bytes in the same run.
#
#   benches/load.sh            # wrk at 64 connections, 10 s per scenario
#   DURATION=5 CONNS=64 PRODUCTS=100000 benches/load.sh
#
# Targets 127.0.0.1 only; every run is bounded by DURATION. Needs wrk (Debian: apt-get
# install wrk), curl and python3. Results go to bench-out/load-results.md.
PRODUCTS=${PRODUCTS:-100000}
DURATION=${DURATION:-10}
source "$(dirname "$0")/lib.sh"

SF_PORT=18480
ST_PORT=18481
start_storefront $SF_PORT --db "$(catalog_db "$PRODUCTS")" --cache-mb 0
# the scenarios
SLUG=$(curl -sf "http://127.0.0.1:$SF_PORT/api/products?per_page=1&page=2500&fields=slug" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["slug"])')
# the keyset cursor of page 2,500 (items 49,981..50,000): walk there 100 at a time
CURSOR=""
for _ in $(seq 499); do
    CURSOR=$(curl -sf "http://127.0.0.1:$SF_PORT/api/products?per_page=100&fields=id&cursor=$CURSOR" | python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["next_cursor"])')
done
CURSOR=$(curl -sf "http://127.0.0.1:$SF_PORT/api/products?per_page=80&fields=id&cursor=$CURSOR" | python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["next_cursor"])')
TERM_Q=classic
declare -A URLS=(
    [detail]="/api/products/$SLUG"
    [list20]="/api/products?per_page=20"
    [keyset_page1]="/api/products?per_page=20&cursor="
    [keyset_page2500]="/api/products?per_page=20&cursor=$CURSOR"
    [search]="/api/search?q=$TERM_Q"
)
ORDER=(detail list20 keyset_page1 keyset_page2500 search)

ROUTES=()
for name in "${ORDER[@]}"; do
    curl -sf "http://127.0.0.1:$SF_PORT${URLS[$name]}" -o "$OUT/$name.json"
    ROUTES+=("${URLS[$name]}=$OUT/$name.json")
done
MATCHES=$(python3 -c "import json; print(json.load(open('$OUT/search.json'))['meta']['total'])")

start_static $ST_PORT "${ROUTES[@]}"

# Rounds interleave static and storefront for every scenario; medians are reported, so a
# burst of noise from another tenant of the machine moves one sample, not the figure.
declare -A SF_R ST_R P50 P99 ERRS
for round in $(seq "$ROUNDS"); do
    for name in "${ORDER[@]}"; do
        url=${URLS[$name]}
        read -r st_rps _ _ _ < <(measure "http://127.0.0.1:$ST_PORT$url")
        read -r sf_rps p50 p99 errs < <(measure "http://127.0.0.1:$SF_PORT$url")
        SF_R[$name]+="$sf_rps "; ST_R[$name]+="$st_rps "; P50[$name]+="$p50 "; P99[$name]+="$p99 "; ERRS[$name]+="$errs "
    done
    for c in 1 4; do
        read -r rps p50 p99 errs < <(THREADS=1 CONNS=$c measure "http://127.0.0.1:$SF_PORT${URLS[search]}")
        SF_R[search@$c]+="$rps "; P50[search@$c]+="$p50 "; P99[search@$c]+="$p99 "; ERRS[search@$c]+="$errs "
    done
done
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
{
    printf '\n%d rounds x %d s, %d connections, medians\n' "$ROUNDS" "$DURATION" "$CONNS"
    printf '%-16s %10s %10s %7s %9s %9s %6s\n' scenario storefront static ratio p50_ms p99_ms errors
    for name in "${ORDER[@]}" search@1 search@4; do
        sf=$(median ${SF_R[$name]})
        if [ -n "${ST_R[$name]:-}" ]; then
            st=$(median ${ST_R[$name]})
            ratio=$(python3 -c "import statistics; s=[float(x) for x in '${SF_R[$name]}'.split()]; t=[float(x) for x in '${ST_R[$name]}'.split()]; print(f'{statistics.median(a/b for a, b in zip(s, t)):.3f}')")
        else
            st=-; ratio=-
        fi
        errs=$(python3 -c "print(sum(int(x) for x in '${ERRS[$name]}'.split()))")
        printf '%-16s %10.0f %10s %7s %9s %9s %6s\n' "$name" "$sf" "$st" "$ratio" "$(median ${P50[$name]})" "$(median ${P99[$name]})" "$errs"
    done
    echo "search term '$TERM_Q' matches $MATCHES of $PRODUCTS products; search@N: N connections"
    grep VmHWM /proc/$SF_PID/status | sed 's/^/storefront peak RSS: /'
} | tee "$OUT/load-results.txt"
