#!/usr/bin/env bash
# The cost of every product list, uncached, one request at a time: category at each depth
# (none, a department, a sub-category, a leaf) × brand (none, the biggest, one from the
# tail) × price range (none, wide, narrow) × in_stock × every sort × page (page 1, offset
# page 500, cursor page 1, a cursor 10,000 rows deep), plus text queries on the list.
# Each combination is requested REPEAT times after one warm-up; the report gives p50/p99/
# max over all requests and the slowest combinations (by their median).
#
#   benches/listing_cost.sh                  # PRODUCTS=1000000 REPEAT=5
#   PRODUCTS=100000 benches/listing_cost.sh
source "$(dirname "$0")/lib.sh"

PRODUCTS=${PRODUCTS:-1000000}
REPEAT=${REPEAT:-5}
SF_PORT=18494
DB=$(catalog_db "$PRODUCTS")

start_storefront $SF_PORT --db "$DB" --cache-mb 0
python3 - "$SF_PORT" "$REPEAT" "$PRODUCTS" <<'PY' | tee "$OUT/listing-cost-$PRODUCTS.txt"
import http.client, json, statistics, sys, time, itertools
port, repeat, products = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)

def get(path):
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    assert r.status == 200, (path, r.status, body[:300])
    return ms, body

tree = json.loads(get("/api/categories")[1])["data"]
dept = tree[0]
sub = dept["children"][0]
leaf = sub["children"][0]
by_size = sorted(json.loads(get("/api/brands")[1])["data"], key=lambda b: b["product_count"])
big_brand = by_size[-1]["slug"]
tail_brand = by_size[len(by_size) // 10]["slug"]
categories = [None, dept["slug"], sub["slug"], leaf["slug"]]
brands = [None, big_brand, tail_brand]
prices = [None, (2000, 9000), (4990, 5010)]
sorts = ["newest", "price_asc", "price_desc", "popular", "rating"]

def query(cat, brand, price, stock, sort, q=None):
    parts = [f"sort={sort}", "per_page=20"]
    if q: parts.append(f"q={q}")
    if cat: parts.append(f"category={cat}")
    if brand: parts.append(f"brand={brand}")
    if price: parts += [f"min_price={price[0]}", f"max_price={price[1]}"]
    if stock: parts.append("in_stock=true")
    return "/api/products?" + "&".join(parts)

combos = []
for cat, brand, price, stock, sort in itertools.product(categories, brands, prices, [False, True], sorts):
    combos.append(((cat, brand, price, stock, sort), query(cat, brand, price, stock, sort)))
for q, cat, stock, sort in itertools.product(["classic", "steel"], [None, dept["slug"]], [False, True], sorts):
    combos.append(((f"q={q}", cat, None, stock, sort), query(cat, None, None, stock, sort, q)))

timings = []  # (median ms, label)
every = []
for label, base in combos:
    # page 500 gives the total and a cursor 10,000 rows deep
    _, body = get(base + "&page=500")
    deep = json.loads(body)["meta"].get("next_cursor")
    pages = {"page 1": base + "&page=1", "page 500": base + "&page=500", "cursor 1": base + "&cursor="}
    if deep:
        pages["cursor 10000"] = base + "&cursor=" + deep
    for name, url in pages.items():
        get(url)
        ms = [get(url)[0] for _ in range(repeat)]
        every += ms
        timings.append((statistics.median(ms), max(ms), f"{label} {name}"))

every.sort()
q = lambda p: every[min(len(every) - 1, int(len(every) * p))]
print(f"products {products}: {len(timings)} combinations x {repeat} requests, uncached, one at a time")
print(f"all requests: p50 {q(0.5):.2f} ms  p99 {q(0.99):.2f} ms  max {every[-1]:.2f} ms")
print("slowest combinations (median, max):")
for med, mx, label in sorted(timings, reverse=True)[:12]:
    print(f"  {med:7.2f} {mx:7.2f}  {label}")
PY
