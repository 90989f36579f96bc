#!/usr/bin/env bash
# Memory of the response cache against its budget: the storefront with --cache-mb BUDGET
# is sent every page of PAGES distinct products (far more than the budget holds), then
# the same with the cache off; the difference in peak RSS is what the cache costs. The
# cache's own view (entries, bytes charged, evictions) comes from GET /api/admin/cache.
#
#   benches/cache_memory.sh              # BUDGET=16 MiB, PAGES=30000
source "$(dirname "$0")/lib.sh"

BUDGET=${BUDGET:-16}
PAGES=${PAGES:-30000}
SF_PORT=18492
DB=$OUT/cache-memory.db
cp "$(catalog_db 100000)" "$DB"
rm -f "$DB-wal" "$DB-shm"
printf 'bench-admin-password\n' | "$SF" admin create --email bench@example.com --password-stdin --db "$DB" >/dev/null

# fill PORT: every product page once with gzip (the cache keeps both forms), in key order
fill() {
    python3 - "$1" "$PAGES" <<'PY'
import http.client, json, sys
port, pages = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
slugs, cursor = [], ""
while len(slugs) < pages:
    c.request("GET", f"/api/products?per_page=100&fields=slug&cursor={cursor}")
    body = json.loads(c.getresponse().read())
    slugs += [p["slug"] for p in body["data"]]
    cursor = body["meta"]["next_cursor"]
    if not cursor:
        break
for s in slugs[:pages]:
    c.request("GET", f"/api/products/{s}", headers={"Accept-Encoding": "gzip"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
}

rss() { grep VmHWM "/proc/$1/status" | awk '{print $2}'; }

declare -A RSS
for mb in 0 "$BUDGET"; do
    PIDS=()
    start_storefront $SF_PORT --db "$DB" --cache-mb "$mb"
    fill $SF_PORT
    RSS[$mb]=$(rss "$SF_PID")
    if [ "$mb" != 0 ]; then
        TOKEN=$(curl -sf -XPOST "http://127.0.0.1:$SF_PORT/api/auth/login" -H 'content-type: application/json' \
            -d '{"email": "bench@example.com", "password": "bench-admin-password"}' |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')
        STATS=$(curl -sf "http://127.0.0.1:$SF_PORT/api/admin/cache" -H "authorization: Bearer $TOKEN")
    fi
    kill "$SF_PID"
    wait "$SF_PID" 2>/dev/null || true
done
python3 - "$BUDGET" "$PAGES" "${RSS[0]}" "${RSS[$BUDGET]}" "$STATS" <<'PY' | tee "$OUT/cache-memory-results.txt"
import json, sys
budget, pages, off, on, stats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
l1 = stats["data"]["l1"]
mib = lambda kb: kb / 1024
print(f"\n{pages} distinct product pages (identity + gzip) through a {budget} MiB cache")
print(f"peak RSS cache off {mib(off):.1f} MiB, cache on {mib(on):.1f} MiB: the cache costs {mib(on - off):.1f} MiB "
      f"= {(on - off) / 1024 / budget:.2f}x its budget")
print(f"moka: {l1['entries']} entries, {l1['bytes'] / 2**20:.1f} MiB charged; hot front: {l1['hot_entries']} entries, "
      f"{l1['hot_bytes'] / 2**20:.1f} MiB; evictions {l1['evictions']}; budget {l1['budget_bytes'] / 2**20:.0f} MiB")
PY
