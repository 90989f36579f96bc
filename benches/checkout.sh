#!/usr/bin/env bash
# Load benchmark of the write path: checkouts of prepared guest carts (without a gift card,
# with one that pays the whole order, and with one that pays $1 of it), checkouts each
# paid through the payment provider's signed callback (the paid order a whole gift card
# leaves, reached without one), and the whole flow
# (guest session, add to cart, checkout), with synchronous=FULL, at 256 concurrent
# clients on 127.0.0.1, beside a static-bytes hyper server answering the same checkout
# response in the same run.
#
#   benches/checkout.sh                 # 256 clients, 8 s per scenario
#   CONNS=256 DURATION=8 PREPARE=200 benches/checkout.sh
#
# Every scenario runs on its own fresh copy of the same shop, and is measured once the
# server is at rest after its carts were prepared. Every run is bounded by
# DURATION (and the checkout scenario by the carts prepared).
# Results go to bench-out/checkout-results.txt.
CONNS=${CONNS:-256}
PREPARE=${PREPARE:-200}
source "$(dirname "$0")/lib.sh"

BASE=$OUT/shop-base.db
DB=$OUT/shop.db
SF_PORT=18484
ST_PORT=18485
LOAD=target/release/examples/shop_load

# the shop every scenario starts from: each run gets a fresh copy of it, so no scenario
# measures what an earlier one left behind (a bigger database, a longer log to checkpoint)
rm -f "$BASE" "$BASE-wal" "$BASE-shm"
"$SF" seed --products 10000 --db "$BASE" --quiet >/dev/null
# stock enough for every run: the benchmark measures ordering, not selling out
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE inventory SET available = 100000000'); c.commit()" "$BASE"
printf 'bench-admin-password\n' | "$SF" admin create --email checkout@example.com --password-stdin --db "$BASE" >/dev/null
python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')" "$BASE"

# wait_idle PID: until the process has used under 5% of a core for a second (a new node
# warms its caches after it is ready: a run must not measure that), at most 60 s
wait_idle() {
    local hz last now
    hz=$(getconf CLK_TCK)
    ticks() { awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
    last=$(ticks "$1")
    for _ in $(seq 60); do
        sleep 1
        now=$(ticks "$1")
        (( (now - last) * 20 < hz )) && return
        last=$now
    done
    echo "the storefront (pid $1) did not become idle" >&2
}

# fresh_shop: the storefront on a new copy of the base shop (SF_PID), the last one stopped
fresh_shop() {
    if [[ -n ${SF_PID:-} ]]; then
        grep VmHWM /proc/$SF_PID/status | awk '{print $2}' >> "$OUT/checkout-rss.txt"
        kill "$SF_PID"
        wait "$SF_PID" 2>/dev/null || true
    fi
    rm -f "$DB" "$DB-wal" "$DB-shm"
    cp "$BASE" "$DB"
    start_storefront $SF_PORT --db "$DB"
    wait_idle "$SF_PID"
}
# the payment provider's callback secret: the paid scenario pays each order as a provider would
export STOREFRONT_PAYMENT_WEBHOOK_SECRET=checkout-bench-payment-secret
: > "$OUT/checkout-rss.txt"
fresh_shop

# the static baseline answers what a checkout answers
T=$(curl -sf -XPOST http://127.0.0.1:$SF_PORT/api/auth/guest | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')
curl -sf -XPOST http://127.0.0.1:$SF_PORT/api/cart -H "authorization: Bearer $T" -H 'content-type: application/json' -d '{"product_id":"1","quantity":1}' >/dev/null
curl -sf -XPOST http://127.0.0.1:$SF_PORT/api/checkout -H "authorization: Bearer $T" -H 'content-type: application/json' \
    -d '{"shipping_address":{"name":"Load Test","line1":"1 Main St","city":"Austin","state":"TX","postal_code":"73301","country":"US"},"payment_method":"card"}' -o "$OUT/checkout.json"
start_static $ST_PORT "/api/checkout=$OUT/checkout.json"

# gift cards as the owner issues them (POST /api/admin/gift-cards answers each code once):
# one per client per round, each the largest a card may hold, so that every checkout of
# the gift-card scenario spends from a card of its own client
issue_cards() {
    python3 - "$SF_PORT" "$CONNS" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
def call(method, path, body, headers={}):
    c.request(method, path, body=json.dumps(body), headers={"content-type": "application/json", **headers})
    r = c.getresponse()
    v = json.loads(r.read())
    assert r.status in (200, 201), (path, r.status, v)
    return v["data"]
token = call("POST", "/api/auth/login", {"email": "checkout@example.com", "password": "bench-admin-password"})["token"]
auth = {"authorization": f"Bearer {token}"}
codes = [call("POST", "/api/admin/gift-cards", {"amount": 10_000_000, "currency": "USD", "note": "checkout bench"}, auth)["code"]
         for _ in range(int(sys.argv[2]))]
print(",".join(codes))
PY
}

: > "$OUT/checkout-runs.jsonl"
export CLK_TCK=$(getconf CLK_TCK)
# the owner's token: the partial scenario issues a card of $1 for each cart it prepares
owner_token() {
    curl -sf -XPOST http://127.0.0.1:$SF_PORT/api/auth/login -H 'content-type: application/json' \
        -d '{"email":"checkout@example.com","password":"bench-admin-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])'
}
for round in $(seq "$ROUNDS"); do
    "$LOAD" 127.0.0.1:$ST_PORT static "$CONNS" "$DURATION" >> "$OUT/checkout-runs.jsonl"
    fresh_shop
    SERVER_PID=$SF_PID PREPARE=$PREPARE "$LOAD" 127.0.0.1:$SF_PORT checkout "$CONNS" "$DURATION" 2>/dev/null >> "$OUT/checkout-runs.jsonl"
    fresh_shop
    SERVER_PID=$SF_PID GIFT_CODES=$(issue_cards) PREPARE=$PREPARE "$LOAD" 127.0.0.1:$SF_PORT checkout_gift "$CONNS" "$DURATION" 2>/dev/null >> "$OUT/checkout-runs.jsonl"
    fresh_shop
    SERVER_PID=$SF_PID ADMIN_TOKEN=$(owner_token) PREPARE=$PREPARE "$LOAD" 127.0.0.1:$SF_PORT checkout_gift_part "$CONNS" "$DURATION" 2>/dev/null >> "$OUT/checkout-runs.jsonl"
    fresh_shop
    SERVER_PID=$SF_PID PAY_SECRET=$STOREFRONT_PAYMENT_WEBHOOK_SECRET PREPARE=$PREPARE "$LOAD" 127.0.0.1:$SF_PORT checkout_paid "$CONNS" "$DURATION" 2>/dev/null >> "$OUT/checkout-runs.jsonl"
    fresh_shop
    SERVER_PID=$SF_PID "$LOAD" 127.0.0.1:$SF_PORT flow "$CONNS" "$DURATION" >> "$OUT/checkout-runs.jsonl"
done
curl -sf http://127.0.0.1:$SF_PORT/ready > "$OUT/checkout-ready.json"
python3 - "$OUT/checkout-runs.jsonl" "$OUT/checkout-ready.json" "$CONNS" <<'PY' | tee "$OUT/checkout-results.txt"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
# the writer's statistics are shown to administrators only; without them, no writer line
w = json.load(open(sys.argv[2]))["data"]["checks"].get("writer_stats")
med = lambda xs: statistics.median(xs)
static = [r["rate"] for r in runs if r["scenario"] == "static"]
print(f"{len(static)} rounds, {sys.argv[3]} clients, medians")
print(f"{'scenario':18} {'per s':>8} {'static':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU µs/op':>9}")
for s in ["checkout", "checkout_gift", "checkout_gift_part", "checkout_paid", "flow"]:
    rs = [r for r in runs if r["scenario"] == s]
    ratio = med([r["rate"] / st for r, st in zip(rs, static)])
    cpu = [r["cpu_us_per_op"] for r in rs if r.get("cpu_us_per_op")]
    print(f"{s:18} {med([r['rate'] for r in rs]):8.0f} {med(static):8.0f} {ratio:6.3f} "
          f"{med([r['p50_ms'] for r in rs]):7.1f} {med([r['p99_ms'] for r in rs]):7.1f} {sum(r['errors'] for r in rs):6} "
          f"{med(cpu) if cpu else 0:9.0f}")
# each round's scenarios ran one after the other on the same fresh shop: a gift card's
# cost is the median of the rounds' own ratios, which the machine's drift between rounds
# does not move
rates = lambda s: [r["rate"] for r in runs if r["scenario"] == s]
paired = lambda s: med([g / c for g, c in zip(rates(s), rates("checkout"))])
print(f"checkout with a gift card paying part of the order / without: {paired('checkout_gift_part'):.3f} "
      f"(rounds: {', '.join(f'{g / c:.2f}' for g, c in zip(rates('checkout_gift_part'), rates('checkout')))})")
print(f"checkout with a gift card paying the whole order / without: {paired('checkout_gift'):.3f}")
# a whole card leaves a paid order in one request: without a card, that order is placed
# and then paid by the provider's callback (two requests, two writer units)
paid = med([g / p for g, p in zip(rates("checkout_gift"), rates("checkout_paid"))])
print(f"paid orders per second, a gift card paying the whole order / placed then paid without one: {paid:.3f} "
      f"(rounds: {', '.join(f'{g / p:.2f}' for g, p in zip(rates('checkout_gift'), rates('checkout_paid')))})")
# the server's CPU time per order, all its threads: what a card adds to each order's cost
cpus = lambda s: [r.get("cpu_us_per_op") or 0 for r in runs if r["scenario"] == s]
if all(cpus("checkout")):
    cost = lambda s: med([c / g for g, c in zip(cpus(s), cpus("checkout")) if g])
    print(f"server CPU per order, without a card / with one paying part: {cost('checkout_gift_part'):.3f}, "
          f"paying all: {cost('checkout_gift'):.3f}")
    if all(cpus("checkout_paid")):
        paid_cost = med([p / g for g, p in zip(cpus("checkout_gift"), cpus("checkout_paid")) if g])
        print(f"server CPU per paid order, placed then paid without a card / paid by a whole card: {paid_cost:.3f}")
if w:
    print(f"writer: mean batch {w['mean_batch']:.1f} units, mean commit {w['mean_commit_micros'] / 1000:.2f} ms, "
          f"{w['units']} units in {w['batches']} batches, {w['units_failed']} failed")
PY
grep VmHWM /proc/$SF_PID/status | awk '{print $2}' >> "$OUT/checkout-rss.txt"
sort -n "$OUT/checkout-rss.txt" | tail -1 | awk '{printf "storefront peak RSS (largest of the runs): %d MB\n", $1 / 1024}' \
    | tee -a "$OUT/checkout-results.txt"
