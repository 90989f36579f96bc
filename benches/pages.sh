#!/usr/bin/env bash
# The pages people look at, on a catalog of PRODUCTS products and ORDERS past orders:
#  1. cached storefront pages (home, a category, a product, a search) under load: wrk, 64
#     connections, gzip, beside the static-bytes server answering the same bytes in the
#     same run (throughput ratio, p50/p99);
#  2. uncached product and category pages (response cache off): one request at a time over
#     many distinct products, categories, sorts and pages (p50/p99/max);
#  3. every dashboard page (cookie session of an admin, response cache off): one request at
#     a time, each page REPEAT times — the home work queue, order lists (every status, a
#     keyset page deep in the list), an order, product lists (search, retired, low stock, a
#     deep page), a product, customers, the reference tables, reviews, jobs, imports,
#     webhooks, API keys, exports, the audit log, the cache, returns, gift cards and draft orders
#     (p50/p99/max per page).
# Times of 2 and 3 are taken at the client on 127.0.0.1, so they bound the server's time.
#
#   benches/pages.sh                          # PRODUCTS=1000000 ORDERS=1000000 REPEAT=40
#   PRODUCTS=100000 ORDERS=100000 benches/pages.sh
source "$(dirname "$0")/lib.sh"

PRODUCTS=${PRODUCTS:-1000000}
ORDERS=${ORDERS:-1000000}
REPEAT=${REPEAT:-40}
SF_PORT=18498
ST_PORT=18499
DB=$OUT/pages-$PRODUCTS-$ORDERS.db
[ -f "$DB" ] || "$SF" seed --products "$PRODUCTS" --orders "$ORDERS" --db "$DB" --quiet >/dev/null
printf 'bench-admin-password\n' | "$SF" admin create --email pages@example.com --password-stdin --db "$DB" \
    >/dev/null 2>&1 || true

# -- 1. cached storefront pages under load ------------------------------------------------
start_storefront $SF_PORT --db "$DB" --cache-mb 256
read -r CAT PRODUCT < <(curl -sf "http://127.0.0.1:$SF_PORT/api/products?per_page=1&page=2500" |
    python3 -c 'import json,sys; p = json.load(sys.stdin)["data"][0]; print(p["category"]["slug"], p["slug"])')
declare -A URLS=([home]="/" [category]="/c/$CAT" [product]="/p/$PRODUCT" [search]="/search?q=classic")
ORDER=(home category product search)
ROUTES=()
for name in "${ORDER[@]}"; do
    curl -sf -H 'accept-encoding: gzip' "http://127.0.0.1:$SF_PORT${URLS[$name]}" -o "$OUT/page-$name.body"
    ROUTES+=("${URLS[$name]}=$OUT/page-$name.body")
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
CACHED_RSS=$(grep VmHWM "/proc/$SF_PID/status" | awk '{printf "%.0f MB", $2/1024}')
{
    printf '\ncached storefront pages: %d rounds x %d s, %d connections, gzip, medians\n' "$ROUNDS" "$DURATION" "$CONNS"
    header
    for name in "${ORDER[@]}"; do
        row "$name" "${SF_R[$name]}" "${ST_R[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRS[$name]}"
    done
} > "$OUT/pages-cached.txt"
cleanup
wait 2>/dev/null || true
PIDS=()

# -- 2 and 3. uncached pages and the dashboard, one request at a time ----------------------
start_storefront $SF_PORT --db "$DB" --cache-mb 0
python3 - "$SF_PORT" "$REPEAT" > "$OUT/pages-sequential.txt" <<'PY'
import http.client, json, statistics, sys, time, random
port, repeat = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)

def get(path, headers={}):
    t = time.perf_counter()
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    assert r.status == 200, (path, r.status, body[:300])
    return ms, body

def api(path, headers={}):
    return json.loads(get(path, headers)[1])

def report(name, ms):
    ms = sorted(ms)
    q = lambda p: ms[min(len(ms) - 1, int(len(ms) * p))]
    print(f"{name:34s} {len(ms):6d} {q(0.5):8.2f} {q(0.99):8.2f} {ms[-1]:8.2f}")

rng = random.Random(7)
print(f"{'page (uncached, one at a time)':34s} {'reqs':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
# categories at every depth
tree = api("/api/categories")["data"]
cats = []
def walk(ns):
    for n in ns:
        cats.append(n["slug"])
        walk(n.get("children") or [])
walk(tree)
# products: a spread over the whole catalog (the first ten of every category, sorted three ways)
slugs = set()
for cat in cats:
    for sort in ("newest", "price_asc", "rating"):
        slugs.update(p["slug"] for p in api(f"/api/products?category={cat}&sort={sort}&per_page=10&fields=slug")["data"])
slugs = sorted(slugs)
rng.shuffle(slugs)
for s in slugs[:50]:
    get(f"/p/{s}")
report("/p/{slug}", [get(f"/p/{s}")[0] for s in slugs[50:50 + repeat * 20]])
# categories at every depth × sort × page
targets = [f"/c/{s}?sort={sort}&page={page}" for s in cats
           for sort in ("newest", "price_asc", "price_desc", "popular", "rating") for page in (1, 2, 50)]
rng.shuffle(targets)
targets = targets[: repeat * 20]
def canonical(path):
    # a category page asked with its default sort or first page answers 303 to its canonical address
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    return r.getheader("location") if r.status == 303 else path
targets = [canonical(t) for t in targets]
for t in targets[:50]:
    get(t)
report("/c/{slug} (every depth, sort, page)", [get(t)[0] for t in targets])

c.request("POST", "/api/auth/login", headers={"content-type": "application/json"},
          body=json.dumps({"email": "pages@example.com", "password": "bench-admin-password"}))
token = json.loads(c.getresponse().read())["data"]["token"]
auth = {"authorization": f"Bearer {token}"}
cookie = {"cookie": f"sf_session={token}"}
orders = api("/api/admin/orders?per_page=100", auth)["data"]
deep = api("/api/admin/orders?per_page=100&status=paid", auth)["data"]
for _ in range(50):  # a keyset page deep in the list of paid orders
    nxt = api(f"/api/admin/orders?per_page=100&status=paid&before={deep[-1]['id']}", auth)["data"]
    if not nxt:
        break
    deep = nxt
products = api("/api/admin/products?per_page=100", auth)["data"]
customers = api("/api/admin/customers?per_page=100&before=50000", auth)["data"]

def send(method, path, body):
    c.request(method, path, body=json.dumps(body), headers={"content-type": "application/json", **auth})
    r = c.getresponse()
    v = json.loads(r.read())
    assert r.status in (200, 201), (path, r.status, v)
    return v["data"]

# the after-sale lists hold rows of their own: gift cards and draft orders made through
# the API (the seed makes none), each list then read at its first page and a cursor deep in it
cards = [send("POST", "/api/admin/gift-cards", {"amount": 5000 + i, "currency": "USD", "note": f"pages bench {i}"})
         for i in range(repeat * 5)]
address = {"name": "Page Bench", "line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "73301",
           "country": "US"}
variants = [p["stock"][0]["variant_id"] for p in products[:10]]
drafts = [send("POST", "/api/admin/draft-orders",
               {"email": f"draft{i}@example.com", "shipping_address": address,
                "lines": [{"variant_id": variants[i % len(variants)], "quantity": 1}]})
          for i in range(repeat)]
pages = {
    "/admin (home work queue)": ["/admin"],
    "/admin/orders": ["/admin/orders"],
    "/admin/orders?status=… (each)": [f"/admin/orders?status={s}" for s in
                                      ("pending", "paid", "fulfilled", "cancelled", "expired")],
    "/admin/orders?before=… (deep)": [f"/admin/orders?status=paid&before={deep[-1]['id']}"],
    "/admin/orders/{id}": [f"/admin/orders/{o['id']}" for o in orders],
    "/admin/products": ["/admin/products"],
    "/admin/products?q=…": [f"/admin/products?q={w}" for w in ("classic", "steel", "wool%20jacket", "zzzz")],
    "/admin/products?status=retired": ["/admin/products?status=retired"],
    "/admin/products?low_stock=1": ["/admin/products?low_stock=1"],
    "/admin/products?before=… (deep)": [f"/admin/products?before={products[-1]['id']}"],
    "/admin/products/{id}": [f"/admin/products/{p['id']}" for p in products],
    "/admin/customers": ["/admin/customers"],
    "/admin/customers?q=…": [f"/admin/customers?q={w}" for w in ("grace", "example.com", customers[7]["email"])],
    "/admin/customers/{id}": [f"/admin/customers/{c['id']}" for c in customers],
    "/admin/promotions, rates, categories": ["/admin/promotions", "/admin/shipping-rates", "/admin/tax-rates",
                                             "/admin/categories", "/admin/brands"],
    "/admin/reviews": ["/admin/reviews"],
    "/admin/jobs": ["/admin/jobs"],
    "/admin/imports": ["/admin/imports"],
    "/admin/webhooks, api-keys, exports": ["/admin/webhooks", "/admin/api-keys", "/admin/exports"],
    "/admin/audit, cache": ["/admin/audit", "/admin/cache"],
    "/admin/returns": ["/admin/returns", "/admin/returns?status=requested"],
    "/admin/gift-cards": ["/admin/gift-cards", f"/admin/gift-cards?before={cards[len(cards) // 2]['id']}"],
    "/admin/gift-cards/{id}": [f"/admin/gift-cards/{g['id']}" for g in cards[:20]],
    "/admin/draft-orders": ["/admin/draft-orders", f"/admin/draft-orders?before={drafts[len(drafts) // 2]['id']}"],
    "/admin/draft-orders/{id}": [f"/admin/draft-orders/{d['id']}" for d in drafts[:20]],
}
print()
print(f"{'dashboard page (one at a time)':34s} {'reqs':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
worst = []
for name, urls in pages.items():
    for u in urls:
        get(u, cookie)
    ms = [get(urls[i % len(urls)], cookie)[0] for i in range(repeat * max(1, min(len(urls), 5)))]
    worst += ms
    report(name, ms)
report("every dashboard request", worst)
PY
SEQ_RSS=$(grep VmHWM "/proc/$SF_PID/status" | awk '{printf "%.0f MB", $2/1024}')
{
    printf '\npages, %d products, %d orders\n' "$PRODUCTS" "$ORDERS"
    printf '\ncached storefront pages: %d rounds x %d s, %d connections, gzip, medians\n' "$ROUNDS" "$DURATION" "$CONNS"
    header
    for name in "${ORDER[@]}"; do
        row "$name" "${SF_R[$name]}" "${ST_R[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERRS[$name]}"
    done
    echo "storefront peak RSS (cache 256 MiB): $CACHED_RSS"
    echo
    cat "$OUT/pages-sequential.txt"
    echo "storefront peak RSS (cache off): $SEQ_RSS"
} | tee "$OUT/pages-results-$PRODUCTS.txt"
