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
    python3 - "$DB" "$URLS" <<'PY'
import bisect, random, re, sqlite3, sys
from collections import Counter
db, out = sys.argv[1], sys.argv[2]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
rng = random.Random(42)

def zipf(n, s=1.0):
    cum, t = [], 0.0
    for k in range(1, n + 1):
        t += 1.0 / k ** s
        cum.append(t)
    return lambda: bisect.bisect_left(cum, rng.random() * t)

products = [r[0] for r in c.execute(
    "SELECT slug FROM products INDEXED BY idx_products_popular WHERE status = 'active' "
    "ORDER BY sales_count DESC, id DESC LIMIT 200000")]
# categories by how many products they hold (their subtree), biggest first
cats = c.execute("SELECT id, parent_id, slug FROM categories").fetchall()
own = dict(c.execute("SELECT category_id, sum(n) FROM category_product_counts GROUP BY category_id"))
parent = {i: p for i, p, _ in cats}
size = Counter()
for i, _, _ in cats:
    at = i
    while at is not None:
        size[at] += own.get(i, 0)
        at = parent[at]
categories = [s for i, _, s in sorted(cats, key=lambda r: -size[r[0]])]
brands = [r[0] for r in c.execute(
    "SELECT b.slug FROM brands b JOIN brand_product_counts n ON n.brand_id = b.id "
    "GROUP BY b.id ORDER BY sum(n.n) DESC")]
words = Counter()
for (name,) in c.execute("SELECT name FROM products LIMIT 20000"):
    words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", name))
vocab = [w for w, _ in words.most_common(300)]
sorts = ["newest", "popular", "price_asc", "price_desc", "rating"]
prices = [(0, 2500), (2500, 5000), (5000, 10000), (10000, 25000), (25000, 100000)]
pick = {"product": zipf(len(products)), "category": zipf(len(categories)), "brand": zipf(len(brands)),
        "word": zipf(len(vocab)), "sort": zipf(len(sorts), 1.5), "page": zipf(20, 1.5)}

def listing():
    q = []
    if rng.random() < 0.85:
        q.append("category=" + categories[pick["category"]()])
    if rng.random() < 0.1:
        q.append("brand=" + brands[pick["brand"]()])
    if rng.random() < 0.15:
        lo, hi = prices[rng.randrange(len(prices))]
        q += [f"min_price={lo}", f"max_price={hi}"]
    if rng.random() < 0.25:
        q.append("in_stock=true")
    s = sorts[pick["sort"]()]
    if s != "newest":
        q.append("sort=" + s)
    page = pick["page"]() + 1
    if page > 1:
        q.append(f"page={page}")
    return "/api/products?" + "&".join(q)

lines = []
for _ in range(300_000):
    r = rng.random()
    if r < 0.50:
        lines.append("/api/products/" + products[pick["product"]()])
    elif r < 0.80:
        lines.append(listing())
    elif r < 0.88:
        s = "" if rng.random() < 0.7 else "&sort=" + sorts[pick["sort"]()]
        lines.append("/api/search?q=" + vocab[pick["word"]()] + s)
    elif r < 0.92:
        lines.append("/api/products?q=" + vocab[pick["word"]()] + "&sort=" + sorts[pick["sort"]()])
    elif r < 0.96:
        lines.append(rng.choice(["/api/categories", "/api/brands", "/api/products/bestsellers"]))
    else:
        lines.append("/api/products")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"{len(lines)} urls, {len(set(lines))} distinct", file=sys.stderr)
PY
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
