#!/usr/bin/env bash
# Lists in other markets at scale: a copy of the generated catalog gets a price list in
# euros for every tenth product (the rest convert at 0.92) and a wholesale group's list in
# dollars for every twentieth; then every combination of category × price range × sort ×
# page (page 1, offset page 500, cursor page 1, a cursor 10,000 rows deep) is requested
# uncached, one at a time, in dollars, in euros and as a wholesale customer. The report:
# the first request of each market (it learns the market's price column and orders) with
# the latency of price changes committed one after another meanwhile (beside the same
# changes with no market being learned), p50/p99/max per market, and the node's RSS
# before and after the markets were learned.
#
#   benches/markets.sh                   # PRODUCTS=1000000 REPEAT=3
#   PRODUCTS=100000 benches/markets.sh
source "$(dirname "$0")/lib.sh"

PRODUCTS=${PRODUCTS:-1000000}
REPEAT=${REPEAT:-3}
SF_PORT=18495
DB=$OUT/markets-$PRODUCTS.db
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$(catalog_db "$PRODUCTS")" "$DB"
printf 'bench-admin-password\n' | "$SF" admin create --email markets@example.com --password-stdin --db "$DB" >/dev/null

STOREFRONT_CURRENCIES="USD, EUR 0.92" start_storefront $SF_PORT --db "$DB" --cache-mb 0
python3 - "$SF_PORT" "$REPEAT" "$PRODUCTS" "$SF_PID" <<'PY' | tee "$OUT/markets-$PRODUCTS.txt"
import http.client, json, random, statistics, sys, threading, time, itertools
port, repeat, products, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)

def call(method, path, token=None, body=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    t = time.perf_counter()
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t) * 1000
    assert r.status < 300, (method, path, r.status, data[:300])
    return ms, json.loads(data) if data else None

def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

admin = call("POST", "/api/auth/login", body={"email": "markets@example.com", "password": "bench-admin-password"})[1]["data"]["token"]
rng = random.Random(7)
euro = call("POST", "/api/admin/price-lists", admin, {"name": "Euro", "currency": "EUR"})[1]["data"]["id"]
group = call("POST", "/api/admin/customer-groups", admin, {"name": "Wholesale"})[1]["data"]["id"]
trade = call("POST", "/api/admin/price-lists", admin,
             {"name": "Wholesale", "currency": "USD", "customer_group_id": group})[1]["data"]["id"]
started = time.perf_counter()
for lst, step in [(euro, 10), (trade, 20)]:
    ids = list(range(step, products + 1, step))
    for i in range(0, len(ids), 1000):
        batch = [{"product_id": str(p), "amount": rng.randrange(500, 60000)} for p in ids[i:i + 1000]]
        call("PUT", f"/api/admin/price-lists/{lst}/prices", admin, batch)
set_s = time.perf_counter() - started
customer = call("POST", "/api/auth/register", body={"email": "trade@example.com", "password": "correct horse 1",
                                                     "name": "Trader"})[1]["data"]["token"]
me = call("GET", "/api/me", customer)[1]["data"]["id"]
call("PUT", f"/api/admin/customers/{me}/groups", admin, {"group_ids": [group]})
print(f"products {products}: {products // 10} euro prices and {products // 20} wholesale prices set in {set_s:.1f} s "
      f"(batches of 1,000)")

tree = call("GET", "/api/categories")[1]["data"]
dept = tree[0]
sub = dept["children"][0]
categories = [None, dept["slug"], sub["slug"]]
prices = [None, (2000, 9000)]
sorts = ["price_asc", "price_desc", "newest"]
markets = {"dollars": ("", None), "euros": ("&currency=EUR", None), "wholesale": ("", customer)}

def writes_during(action):
    """action()'s answer, and the latencies (ms) of product price changes sent one after
    another on a connection of their own while it ran"""
    w = http.client.HTTPConnection("127.0.0.1", port)
    lat, started, stop = [], threading.Event(), threading.Event()
    def loop():
        i = 0
        while not stop.is_set():
            i += 1
            t = time.perf_counter()
            w.request("PUT", f"/api/admin/products/{1 + i * 7919 % products}/price",
                      body=json.dumps({"base": 1000 + i % 5000}),
                      headers={"content-type": "application/json", "authorization": f"Bearer {admin}"})
            r = w.getresponse()
            r.read()
            assert r.status == 200, r.status
            lat.append((time.perf_counter() - t) * 1000)
            started.set()
    th = threading.Thread(target=loop)
    th.start()
    assert started.wait(30), "no price change was answered"
    out = action()
    stop.set()
    th.join()
    return out, lat

def said(lat):
    lat = sorted(lat)
    return f"{len(lat)} changes, p50 {lat[len(lat) // 2]:.1f} ms, max {lat[-1]:.1f} ms"

_, alone = writes_during(lambda: time.sleep(1))
print(f"price changes with no market being learned: {said(alone)}")
rss_before = rss_mb()
learned = {}
for name, (extra, token) in markets.items():
    (ms, _), lat = writes_during(lambda: call("GET", f"/api/products?sort=price_asc&per_page=20{extra}", token))
    learned[name] = ms
    print(f"first price-sorted list in {name}: {ms:.0f} ms; price changes meanwhile: {said(lat)}")
rss_after = rss_mb()
print(f"RSS {rss_before:.0f} MB before the markets were learned, {rss_after:.0f} MB after "
      f"(+{rss_after - rss_before:.0f} MB for two markets)")

for name, (extra, token) in markets.items():
    every, slow = [], []
    for cat, price, sort in itertools.product(categories, prices, sorts):
        parts = [f"sort={sort}", "per_page=20"]
        if cat: parts.append(f"category={cat}")
        if price: parts += [f"min_price={price[0]}", f"max_price={price[1]}"]
        base = "/api/products?" + "&".join(parts) + extra
        _, body = call("GET", base + "&page=500", token)
        deep = body["meta"].get("next_cursor")
        pages = {"page 1": base + "&page=1", "page 500": base + "&page=500", "cursor 1": base + "&cursor="}
        if deep:
            pages["cursor 10000"] = base + "&cursor=" + deep
        for page, url in pages.items():
            call("GET", url, token)
            ms = [call("GET", url, token)[0] for _ in range(repeat)]
            every += ms
            slow.append((statistics.median(ms), f"{cat} {price} {sort} {page}"))
    every.sort()
    q = lambda p: every[min(len(every) - 1, int(len(every) * p))]
    worst = max(slow)
    print(f"{name:>9}: {len(slow)} lists x {repeat}: p50 {q(0.5):.2f} ms  p99 {q(0.99):.2f} ms  "
          f"max {every[-1]:.2f} ms  (slowest: {worst[1]}, {worst[0]:.2f} ms)")
PY
