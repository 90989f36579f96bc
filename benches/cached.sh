#!/usr/bin/env bash
# Load benchmark of cached catalog reads: the response cache on (cache_mb 64), gzip
# accepted, 64 connections on 127.0.0.1, beside a static-bytes hyper server answering the
# same (gzip) bytes in the same run. Uses the 100,000-product catalog of benches/load.sh.
#
#   benches/cached.sh                   # 3 rounds x 8 s
source "$(dirname "$0")/lib.sh"

SF_PORT=18486
ST_PORT=18487
start_storefront $SF_PORT --db "$(catalog_db 100000)" --cache-mb 64

SLUG=$(curl -sf "http://127.0.0.1:$SF_PORT/api/products?per_page=1&page=2500&fields=slug" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["slug"])')
declare -A URLS=([detail]="/api/products/$SLUG" [list20]="/api/products?per_page=20" [search]="/api/search?q=classic")
ORDER=(detail list20 search)
ROUTES=()
for name in "${ORDER[@]}"; do
    curl -sf -H 'accept-encoding: gzip' "http://127.0.0.1:$SF_PORT${URLS[$name]}" -o "$OUT/cached-$name.body"
    ROUTES+=("${URLS[$name]}=$OUT/cached-$name.body")
done
start_static $ST_PORT "${ROUTES[@]}"

declare -A SF_R ST_R P50 P99 ERRS
for round in $(seq "$ROUNDS"); do
    for name in "${ORDER[@]}"; do
        read -r st _ _ _ < <(measure "http://127.0.0.1:$ST_PORT${URLS[$name]}" -H 'accept-encoding: gzip')
        read -r sf p50 p99 errs < <(measure "http://127.0.0.1:$SF_PORT${URLS[$name]}" -H 'accept-encoding: gzip')
        SF_R[$name]+="$sf "; ST_R[$name]+="$st "; P50[$name]+="$p50 "; P99[$name]+="$p99 "; ERRS[$name]+="$errs "
    done
done
{
    printf '\n%d rounds x %d s, %d connections, gzip, cache on, medians\n' "$ROUNDS" "$DURATION" "$CONNS"
    header
    for name in "${ORDER[@]}"; do
        row "$name" "${SF_R[$name]}" "${ST_R[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRS[$name]}"
    done
    grep VmHWM /proc/$SF_PID/status | sed 's/^/storefront peak RSS: /'
} | tee "$OUT/cached-results.txt"
