"""The browse mix of benches/browse.sh and benches/topology.sh: 300,000 request targets drawn
once per catalog with a fixed seed and a Zipf skew (half product pages by popularity, 30%
category lists of any depth x sort x filters x page, 8% searches and 4% text queries on
lists by word frequency, the home page's tree, brands, bestsellers and first page).

usage: python3 benches/browse_urls.py CATALOG.db OUT.txt
"""
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
