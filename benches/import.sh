#!/usr/bin/env bash
# Bulk data at a million products: `storefront export products` of the generated
# 1,000,000-product catalog to CSV, then `storefront import products` of that file into a
# shop with the same categories and brands and no products (every row a new product), and
# the same file again (every row unchanged). Wall time, rows/s and peak RSS of each (GNU
# time), so "memory does not grow with the file" is a number.
#
#   benches/import.sh                  # PRODUCTS=1000000
#
# Results go to bench-out/import-results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench-out
mkdir -p "$OUT"
PRODUCTS=${PRODUCTS:-1000000}
cargo build --release --quiet --bin storefront
SF=target/release/storefront
SRC=$OUT/catalog-$PRODUCTS.db
[ -f "$SRC" ] || "$SF" seed --products "$PRODUCTS" --db "$SRC" --quiet >/dev/null
CSV=$OUT/products-$PRODUCTS.csv
DST=$OUT/import-$PRODUCTS.db
rm -f "$CSV" "$DST" "$DST-wal" "$DST-shm" "$DST.lock"

# an empty shop with the source's categories and brands
"$SF" migrate --db "$DST" >/dev/null
python3 - "$DST" "$SRC" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("ATTACH DATABASE ? AS src", (sys.argv[2],))
c.execute("INSERT INTO categories SELECT * FROM src.categories")
c.execute("INSERT INTO brands SELECT * FROM src.brands")
c.commit()
PY

run() { # label, command...
    local label=$1
    shift
    /usr/bin/time -q -f "%e %M" -o "$OUT/time.txt" "$@" > "$OUT/$label.out" 2> "$OUT/$label.err" || [ $? -eq 2 ]
    read -r secs kb < "$OUT/time.txt"
    echo "$label $secs $kb"
}

{
    run export "$SF" export products --format csv --out "$CSV" --db "$SRC"
    run import_new "$SF" import products "$CSV" --db "$DST"
    run import_unchanged "$SF" import products "$CSV" --db "$DST"
} > "$OUT/import-runs.txt"
ROWS=$(($(wc -l < "$CSV") - 1))
python3 - "$OUT/import-runs.txt" "$ROWS" "$(stat -c %s "$CSV")" <<'PY' | tee "$OUT/import-results.txt"
import sys
rows, size = int(sys.argv[2]), int(sys.argv[3])
print(f"{rows:,} products, CSV {size / 1e6:.0f} MB")
for line in open(sys.argv[1]):
    label, secs, kb = line.split()
    secs, mb = float(secs), int(kb) / 1024
    print(f"{label:17} {secs:7.1f} s  {rows / secs:9,.0f} rows/s  peak RSS {mb:5.0f} MB")
PY
tail -1 "$OUT/import_new.out" | sed 's/^/import (new):       /'
tail -1 "$OUT/import_unchanged.out" | sed 's/^/import (unchanged): /'
