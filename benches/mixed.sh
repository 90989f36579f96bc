#!/usr/bin/env bash
# Cached reads of the first listing page while 1% of requests are admin price changes of
# random products — each one invalidates that page (and the product's own) — against the
# static-bytes server answering the same page in the same run, all at 64 connections
# through the same wrk script (benches/mixed.lua). Also the same page with no writes, so
# the cost of invalidation shows as the gap between the two.
#
#   benches/mixed.sh                     # 3 rounds x 8 s
#   WRITE_EVERY=20 benches/mixed.sh      # 5% writes
source "$(dirname "$0")/lib.sh"

SF_PORT=18490
ST_PORT=18491
WRITE_EVERY=${WRITE_EVERY:-100}
DB=$OUT/mixed.db
# a copy of the catalog: the run changes prices
cp "$(catalog_db 100000)" "$DB"
rm -f "$DB-wal" "$DB-shm"
printf 'bench-admin-password\n' | "$SF" admin create --email bench@example.com --password-stdin --db "$DB" >/dev/null
start_storefront $SF_PORT --db "$DB" --cache-mb 64
export SF_TOKEN
SF_TOKEN=$(curl -sf -XPOST "http://127.0.0.1:$SF_PORT/api/auth/login" -H 'content-type: application/json' \
    -d '{"email": "bench@example.com", "password": "bench-admin-password"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')
LIST=/api/products?per_page=20
curl -sf -H 'accept-encoding: gzip' "http://127.0.0.1:$SF_PORT$LIST" -o "$OUT/mixed-list20.body"
start_static $ST_PORT "$LIST=$OUT/mixed-list20.body"

SCRIPT=benches/mixed.lua
declare -A SF_R ST_R P50 P99 ERRS
for round in $(seq "$ROUNDS"); do
    read -r st _ _ _ < <(WRITE_EVERY=0 measure "http://127.0.0.1:$ST_PORT" -s "$SCRIPT")
    for name in reads_only mixed; do
        every=$WRITE_EVERY
        [ "$name" = reads_only ] && every=0
        read -r sf p50 p99 errs < <(WRITE_EVERY=$every measure "http://127.0.0.1:$SF_PORT" -s "$SCRIPT")
        SF_R[$name]+="$sf "; ST_R[$name]+="$st "; P50[$name]+="$p50 "; P99[$name]+="$p99 "; ERRS[$name]+="$errs "
    done
done
{
    printf '\n%d rounds x %d s, %d connections, gzip, cache on, medians; mixed: 1 request in %d is an admin price change\n' \
        "$ROUNDS" "$DURATION" "$CONNS" "$WRITE_EVERY"
    header
    for name in reads_only mixed; do
        row "$name" "${SF_R[$name]}" "${ST_R[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRS[$name]}"
    done
    curl -sf "http://127.0.0.1:$SF_PORT/ready" | python3 -c '
import json, sys
w = json.load(sys.stdin)["data"]["checks"]["writer_stats"]
print("writer:", {k: w[k] for k in w if k in ("batches", "units", "mean_batch", "mean_commit_ms")})'
    curl -sf "http://127.0.0.1:$SF_PORT/api/admin/cache" -H "authorization: Bearer $SF_TOKEN" | python3 -c '
import json, sys
l1 = json.load(sys.stdin)["data"]["l1"]
print("l1:", {k: l1[k] for k in ("hits", "misses", "hit_ratio", "stale_hits_refused", "tag_bumps", "entries", "bytes")})'
    grep VmHWM /proc/$SF_PID/status | sed 's/^/storefront peak RSS: /'
} | tee "$OUT/mixed-results.txt"
