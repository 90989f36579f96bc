-- storefront schema: the one schema of the product.
--
-- A fresh database is created from this file as a whole; `PRAGMA user_version` is then set
-- to the version the binary knows (src/db/migrate.rs), and older databases are upgraded by
-- the steps listed there. Every query on a request path has an index here; the test
-- `query_plans` checks each plan with EXPLAIN QUERY PLAN, before and after ANALYZE.
--
-- Conventions: money is INTEGER minor units; timestamps are INTEGER unix milliseconds (UTC);
-- ids are INTEGER rowids (clients see them as opaque strings).

-- ---------------------------------------------------------------------------------------
-- Catalog
-- ---------------------------------------------------------------------------------------

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER REFERENCES categories(id) ON DELETE RESTRICT,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        TEXT    NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 200),
    description TEXT    NOT NULL DEFAULT '',
    position    INTEGER NOT NULL DEFAULT 0,
    depth       INTEGER NOT NULL DEFAULT 0 CHECK (depth >= 0),
    created_at  INTEGER NOT NULL
);
-- children of a category, in display order (tree walks, sub-category filter)
CREATE INDEX idx_categories_parent ON categories(parent_id, position);

CREATE TABLE brands (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        TEXT    NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 200),
    description TEXT    NOT NULL DEFAULT '',
    logo_url    TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE products (
    id           INTEGER PRIMARY KEY,
    sku          TEXT    NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    slug         TEXT    NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description  TEXT    NOT NULL DEFAULT '',
    category_id  INTEGER NOT NULL REFERENCES categories(id),
    brand_id     INTEGER REFERENCES brands(id),
    currency     TEXT    NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
    base_price   INTEGER NOT NULL CHECK (base_price >= 0),
    sale_price   INTEGER CHECK (sale_price IS NULL OR (sale_price >= 0 AND sale_price < base_price)),
    -- what a customer pays now; the price filters and sorts run on it
    price        INTEGER GENERATED ALWAYS AS (coalesce(sale_price, base_price)) VIRTUAL,
    -- 'active' products are listed and searchable; 'retired' ones stay for order history
    status       TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'draft', 'retired')),
    -- 1 while any variant has available stock; kept by the inventory triggers below
    in_stock     INTEGER NOT NULL DEFAULT 0 CHECK (in_stock IN (0, 1)),
    -- approved review counts per star; the summary columns derive from them
    ratings_1    INTEGER NOT NULL DEFAULT 0,
    ratings_2    INTEGER NOT NULL DEFAULT 0,
    ratings_3    INTEGER NOT NULL DEFAULT 0,
    ratings_4    INTEGER NOT NULL DEFAULT 0,
    ratings_5    INTEGER NOT NULL DEFAULT 0,
    rating_count INTEGER GENERATED ALWAYS AS (ratings_1 + ratings_2 + ratings_3 + ratings_4 + ratings_5) VIRTUAL,
    -- average rating x100, rounded half up: an integer so keyset cursors compare exactly
    rating_x100  INTEGER GENERATED ALWAYS AS (
        CASE WHEN ratings_1 + ratings_2 + ratings_3 + ratings_4 + ratings_5 = 0 THEN 0
        ELSE ((ratings_1 + 2 * ratings_2 + 3 * ratings_3 + 4 * ratings_4 + 5 * ratings_5) * 100
              + (ratings_1 + ratings_2 + ratings_3 + ratings_4 + ratings_5) / 2)
             / (ratings_1 + ratings_2 + ratings_3 + ratings_4 + ratings_5) END) VIRTUAL,
    -- units sold, all time (sort=popular)
    sales_count  INTEGER NOT NULL DEFAULT 0 CHECK (sales_count >= 0),
    weight_grams INTEGER NOT NULL DEFAULT 0 CHECK (weight_grams >= 0),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- Uniqueness as named indexes rather than inline UNIQUE: the same constraint, but a bulk
-- load can build them once, sorted, after the rows are in.
CREATE UNIQUE INDEX idx_products_sku  ON products(sku);
CREATE UNIQUE INDEX idx_products_slug ON products(slug);
-- Listing indexes: one per sort, partial on active products so a listing walks only what
-- it may show. Keyset pagination seeks into them with a row-value comparison.
CREATE INDEX idx_products_newest  ON products(created_at, id)   WHERE status = 'active';
CREATE INDEX idx_products_price   ON products(price, id)        WHERE status = 'active';
CREATE INDEX idx_products_popular ON products(sales_count, id)  WHERE status = 'active';
CREATE INDEX idx_products_rating  ON products(rating_x100, id)  WHERE status = 'active';
-- filtered listings: category (with its sub-categories) and brand, newest first within
CREATE INDEX idx_products_category ON products(category_id, created_at, id) WHERE status = 'active';
CREATE INDEX idx_products_brand    ON products(brand_id, created_at, id)    WHERE status = 'active';
-- search: the columns facets, filters and sorts need for every full-text match, looked up
-- by id in a narrow index instead of in the (wide) product rows
CREATE INDEX idx_products_facets ON products(id, category_id, brand_id, price, in_stock, created_at, sales_count, rating_x100)
    WHERE status = 'active';

CREATE TABLE product_images (
    id            INTEGER PRIMARY KEY,
    product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    url           TEXT    NOT NULL,
    thumbnail_url TEXT    NOT NULL,
    alt           TEXT    NOT NULL DEFAULT '',
    position      INTEGER NOT NULL DEFAULT 0
);
-- position 0 is the primary image shown in listings
CREATE UNIQUE INDEX idx_product_images_product ON product_images(product_id, position);

-- Every product has at least one variant (its default one); carts and inventory hold variants.
CREATE TABLE variants (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    sku        TEXT    NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    name       TEXT    NOT NULL,
    -- NULL: the product's price applies
    base_price INTEGER CHECK (base_price IS NULL OR base_price >= 0),
    sale_price INTEGER CHECK (sale_price IS NULL OR sale_price >= 0),
    position   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_variants_product ON variants(product_id, position);
CREATE UNIQUE INDEX idx_variants_sku ON variants(sku);

CREATE TABLE attributes (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE
);

CREATE TABLE attribute_values (
    id           INTEGER PRIMARY KEY,
    attribute_id INTEGER NOT NULL REFERENCES attributes(id) ON DELETE CASCADE,
    value        TEXT    NOT NULL,
    UNIQUE (attribute_id, value)
);

CREATE TABLE variant_attribute_values (
    variant_id         INTEGER NOT NULL REFERENCES variants(id) ON DELETE CASCADE,
    attribute_value_id INTEGER NOT NULL REFERENCES attribute_values(id) ON DELETE CASCADE,
    PRIMARY KEY (variant_id, attribute_value_id)
) WITHOUT ROWID;

-- Stock per variant. `available` can be sold; `reserved` is held by pending orders.
-- The CHECKs are the last line of defence: stock can never go below zero.
CREATE TABLE inventory (
    variant_id INTEGER PRIMARY KEY REFERENCES variants(id) ON DELETE CASCADE,
    available  INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at INTEGER NOT NULL
);

-- products.in_stock follows inventory: recomputed only when a variant crosses zero.
CREATE TRIGGER trg_inventory_insert AFTER INSERT ON inventory
WHEN new.available > 0
BEGIN
    UPDATE products SET in_stock = 1
    WHERE id = (SELECT product_id FROM variants WHERE id = new.variant_id) AND in_stock = 0;
END;

CREATE TRIGGER trg_inventory_update AFTER UPDATE OF available ON inventory
WHEN (old.available > 0) <> (new.available > 0)
BEGIN
    UPDATE products SET in_stock = EXISTS (
        SELECT 1 FROM variants v JOIN inventory i ON i.variant_id = v.id
        WHERE v.product_id = products.id AND i.available > 0)
    WHERE id = (SELECT product_id FROM variants WHERE id = new.variant_id);
END;

CREATE TRIGGER trg_inventory_delete AFTER DELETE ON inventory
WHEN old.available > 0
BEGIN
    UPDATE products SET in_stock = EXISTS (
        SELECT 1 FROM variants v JOIN inventory i ON i.variant_id = v.id
        WHERE v.product_id = products.id AND i.available > 0)
    WHERE id = (SELECT product_id FROM variants WHERE id = old.variant_id);
END;

-- Counts of active products per category and per brand, split by stock, kept by triggers,
-- so the `total` of a listing filtered by category/brand/in_stock is a sum over a few rows
-- instead of a count over the catalog.
CREATE TABLE category_product_counts (
    category_id INTEGER NOT NULL,
    in_stock    INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (category_id, in_stock)
) WITHOUT ROWID;

CREATE TABLE brand_product_counts (
    brand_id INTEGER NOT NULL,
    in_stock INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (brand_id, in_stock)
) WITHOUT ROWID;

-- the same for the whole catalog: an unfiltered listing's total is one row
CREATE TABLE product_totals (
    in_stock INTEGER PRIMARY KEY,
    n        INTEGER NOT NULL
);

CREATE TRIGGER trg_products_counts_insert AFTER INSERT ON products
WHEN new.status = 'active'
BEGIN
    INSERT INTO product_totals(in_stock, n) VALUES (new.in_stock, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO category_product_counts(category_id, in_stock, n) VALUES (new.category_id, new.in_stock, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO brand_product_counts(brand_id, in_stock, n) VALUES (coalesce(new.brand_id, 0), new.in_stock, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER trg_products_counts_update AFTER UPDATE OF category_id, brand_id, in_stock, status ON products
WHEN old.category_id IS NOT new.category_id OR old.brand_id IS NOT new.brand_id
  OR old.in_stock <> new.in_stock OR old.status <> new.status
BEGIN
    UPDATE product_totals SET n = n - 1 WHERE old.status = 'active' AND in_stock = old.in_stock;
    INSERT INTO product_totals(in_stock, n) SELECT new.in_stock, 1 WHERE new.status = 'active'
        ON CONFLICT DO UPDATE SET n = n + 1;
    UPDATE category_product_counts SET n = n - 1
        WHERE old.status = 'active' AND category_id = old.category_id AND in_stock = old.in_stock;
    UPDATE brand_product_counts SET n = n - 1
        WHERE old.status = 'active' AND brand_id = coalesce(old.brand_id, 0) AND in_stock = old.in_stock;
    INSERT INTO category_product_counts(category_id, in_stock, n)
        SELECT new.category_id, new.in_stock, 1 WHERE new.status = 'active'
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO brand_product_counts(brand_id, in_stock, n)
        SELECT coalesce(new.brand_id, 0), new.in_stock, 1 WHERE new.status = 'active'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER trg_products_counts_delete AFTER DELETE ON products
WHEN old.status = 'active'
BEGIN
    UPDATE product_totals SET n = n - 1 WHERE in_stock = old.in_stock;
    UPDATE category_product_counts SET n = n - 1
        WHERE category_id = old.category_id AND in_stock = old.in_stock;
    UPDATE brand_product_counts SET n = n - 1
        WHERE brand_id = coalesce(old.brand_id, 0) AND in_stock = old.in_stock;
END;

-- Full-text index over name, description, brand and category of active products.
-- Contentless (the text lives in products) with delete support; rowid = products.id.
-- detail=column: no word positions. Searches are words and prefixes, never phrases, and
-- bm25 keeps its column weights; the index is about half the size and builds faster.
CREATE VIRTUAL TABLE products_fts USING fts5(
    name, description, brand, category,
    content = '', contentless_delete = 1, detail = column,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER trg_products_fts_insert AFTER INSERT ON products
WHEN new.status = 'active'
BEGIN
    INSERT INTO products_fts(rowid, name, description, brand, category) VALUES (
        new.id, new.name, new.description,
        coalesce((SELECT name FROM brands WHERE id = new.brand_id), ''),
        (SELECT name FROM categories WHERE id = new.category_id));
END;

CREATE TRIGGER trg_products_fts_update AFTER UPDATE OF name, description, brand_id, category_id, status ON products
BEGIN
    DELETE FROM products_fts WHERE rowid = old.id AND old.status = 'active';
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT new.id, new.name, new.description,
               coalesce((SELECT name FROM brands WHERE id = new.brand_id), ''),
               (SELECT name FROM categories WHERE id = new.category_id)
        WHERE new.status = 'active';
END;

CREATE TRIGGER trg_products_fts_delete AFTER DELETE ON products
WHEN old.status = 'active'
BEGIN
    DELETE FROM products_fts WHERE rowid = old.id;
END;

CREATE TRIGGER trg_brands_fts_rename AFTER UPDATE OF name ON brands
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE brand_id = new.id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT p.id, p.name, p.description, new.name, c.name
        FROM products p JOIN categories c ON c.id = p.category_id
        WHERE p.brand_id = new.id AND p.status = 'active';
END;

CREATE TRIGGER trg_categories_fts_rename AFTER UPDATE OF name ON categories
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE category_id = new.id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT p.id, p.name, p.description, coalesce(b.name, ''), new.name
        FROM products p LEFT JOIN brands b ON b.id = p.brand_id
        WHERE p.category_id = new.id AND p.status = 'active';
END;

-- ---------------------------------------------------------------------------------------
-- Customers, orders and reviews (the parts the catalog reads: ratings and bestsellers)
-- ---------------------------------------------------------------------------------------

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT    NOT NULL,
    -- argon2 PHC string; '!' for accounts that cannot log in with a password
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id),
    -- the last three statuses since version 12 (whose upgrade widens this CHECK in place)
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'expired', 'partially_fulfilled', 'refunded', 'partially_refunded')),
    currency    TEXT    NOT NULL,
    subtotal    INTEGER NOT NULL,
    discount    INTEGER NOT NULL DEFAULT 0,
    shipping    INTEGER NOT NULL DEFAULT 0,
    tax         INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    paid_at     INTEGER,
    -- added in version 2 (ALTER TABLE in the upgrade step, hence their place and defaults)
    session_id       INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    cart_id          INTEGER REFERENCES carts(id) ON DELETE SET NULL,
    email            TEXT    NOT NULL DEFAULT '',
    -- JSON: {name, line1, line2, city, state, postal_code, country}
    shipping_address TEXT    NOT NULL DEFAULT '{}',
    shipping_option  TEXT    NOT NULL DEFAULT '',
    payment_method   TEXT    NOT NULL DEFAULT '',
    discount_code    TEXT,
    -- a pending order's deadline: past it, the expiry task releases its stock
    expires_at       INTEGER,
    updated_at       INTEGER NOT NULL DEFAULT 0,
    -- the payment provider's reference, set by the payment webhook
    payment_ref      TEXT
);
CREATE INDEX idx_orders_customer ON orders(customer_id, id);

CREATE TABLE order_items (
    order_id   INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line       INTEGER NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products(id),
    variant_id INTEGER NOT NULL REFERENCES variants(id),
    sku        TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    unit_price INTEGER NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    line_total INTEGER NOT NULL,
    PRIMARY KEY (order_id, line)
) WITHOUT ROWID;

-- Units sold per product per UTC day, written when an order is paid: bestsellers of the
-- last N days read a day range of this table instead of aggregating every order line.
CREATE TABLE product_sales_daily (
    day        INTEGER NOT NULL, -- days since 1970-01-01 (UTC)
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    units      INTEGER NOT NULL,
    PRIMARY KEY (day, product_id)
) WITHOUT ROWID;

CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title       TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at  INTEGER NOT NULL
);
-- one review per customer and product
CREATE UNIQUE INDEX idx_reviews_customer_product ON reviews(customer_id, product_id);
-- approved reviews of a product, newest first (detail page and keyset listing)
CREATE INDEX idx_reviews_product_approved ON reviews(product_id, created_at, id) WHERE status = 'approved';

-- products.ratings_N follow approved reviews
CREATE TRIGGER trg_reviews_insert AFTER INSERT ON reviews
WHEN new.status = 'approved'
BEGIN
    UPDATE products SET
        ratings_1 = ratings_1 + (new.rating = 1), ratings_2 = ratings_2 + (new.rating = 2),
        ratings_3 = ratings_3 + (new.rating = 3), ratings_4 = ratings_4 + (new.rating = 4),
        ratings_5 = ratings_5 + (new.rating = 5)
    WHERE id = new.product_id;
END;

CREATE TRIGGER trg_reviews_update AFTER UPDATE OF status, rating ON reviews
WHEN old.status = 'approved' OR new.status = 'approved'
BEGIN
    UPDATE products SET
        ratings_1 = ratings_1 - (old.status = 'approved' AND old.rating = 1) + (new.status = 'approved' AND new.rating = 1),
        ratings_2 = ratings_2 - (old.status = 'approved' AND old.rating = 2) + (new.status = 'approved' AND new.rating = 2),
        ratings_3 = ratings_3 - (old.status = 'approved' AND old.rating = 3) + (new.status = 'approved' AND new.rating = 3),
        ratings_4 = ratings_4 - (old.status = 'approved' AND old.rating = 4) + (new.status = 'approved' AND new.rating = 4),
        ratings_5 = ratings_5 - (old.status = 'approved' AND old.rating = 5) + (new.status = 'approved' AND new.rating = 5)
    WHERE id = new.product_id;
END;

CREATE TRIGGER trg_reviews_delete AFTER DELETE ON reviews
WHEN old.status = 'approved'
BEGIN
    UPDATE products SET
        ratings_1 = ratings_1 - (old.rating = 1), ratings_2 = ratings_2 - (old.rating = 2),
        ratings_3 = ratings_3 - (old.rating = 3), ratings_4 = ratings_4 - (old.rating = 4),
        ratings_5 = ratings_5 - (old.rating = 5)
    WHERE id = old.product_id;
END;

-- ---------------------------------------------------------------------------------------
-- version 2: sessions, carts, checkout, orders, idempotency, mail outbox
-- (the upgrade step from version 1 runs this section as it stands, after its ALTERs)
-- ---------------------------------------------------------------------------------------

-- An opaque bearer token per session; only its SHA-256 is stored. Guest sessions have no
-- customer and can hold a cart.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB    NOT NULL,
    customer_id  INTEGER REFERENCES customers(id) ON DELETE CASCADE,
    device       TEXT    NOT NULL DEFAULT '',
    client_addr  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX idx_sessions_token ON sessions(token_hash);
CREATE INDEX idx_sessions_customer ON sessions(customer_id, id) WHERE customer_id IS NOT NULL;

CREATE TABLE addresses (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    line1       TEXT    NOT NULL,
    line2       TEXT    NOT NULL DEFAULT '',
    city        TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT '',
    postal_code TEXT    NOT NULL,
    country     TEXT    NOT NULL CHECK (length(country) = 2),
    phone       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_addresses_customer ON addresses(customer_id, id);

-- Every login and password-reset attempt, for throttling (per account and per client
-- address) and for the record. Purged after a day.
CREATE TABLE auth_attempts (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('login', 'reset')),
    email       TEXT    NOT NULL COLLATE NOCASE,
    client_addr TEXT    NOT NULL,
    succeeded   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_auth_attempts_email ON auth_attempts(kind, email, created_at) WHERE succeeded = 0;
CREATE INDEX idx_auth_attempts_addr  ON auth_attempts(kind, client_addr, created_at) WHERE succeeded = 0;
CREATE INDEX idx_auth_attempts_time  ON auth_attempts(created_at);

-- Single-use, expiring password-reset tokens (stored as SHA-256).
CREATE TABLE password_resets (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    token_hash  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE UNIQUE INDEX idx_password_resets_token ON password_resets(token_hash);
CREATE INDEX idx_password_resets_expiry ON password_resets(expires_at);

-- Mail waiting to be sent: written in the same transaction as what it announces; the job
-- runner sends from here (`storefront mail pending` lists it).
CREATE TABLE mail_outbox (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    to_email   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX idx_mail_outbox_pending ON mail_outbox(id) WHERE sent_at IS NULL;

-- Promotion codes: percent (value 1..100) or fixed (value in minor units) off the subtotal.
CREATE TABLE promotions (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL COLLATE NOCASE,
    kind         TEXT    NOT NULL CHECK (kind IN ('percent', 'fixed')),
    value        INTEGER NOT NULL CHECK (value > 0 AND (kind = 'fixed' OR value <= 100)),
    min_subtotal INTEGER NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
    starts_at    INTEGER,
    ends_at      INTEGER,
    usage_limit  INTEGER CHECK (usage_limit IS NULL OR usage_limit > 0),
    times_used   INTEGER NOT NULL DEFAULT 0 CHECK (usage_limit IS NULL OR times_used <= usage_limit),
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_promotions_code ON promotions(code);

-- Shipping rates by destination country ('*' anywhere), by subtotal and weight bands.
CREATE TABLE shipping_rates (
    id               INTEGER PRIMARY KEY,
    code             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    country          TEXT    NOT NULL,
    min_subtotal     INTEGER NOT NULL DEFAULT 0,
    max_subtotal     INTEGER,
    max_weight_grams INTEGER,
    price            INTEGER NOT NULL CHECK (price >= 0),
    -- free when the subtotal after discount reaches this
    free_above       INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX idx_shipping_rates_country ON shipping_rates(country, price);

-- Tax by destination: a country's rate, or a region's (state) that replaces it.
CREATE TABLE tax_rates (
    id         INTEGER PRIMARY KEY,
    country    TEXT    NOT NULL,
    region     TEXT    NOT NULL DEFAULT '',
    name       TEXT    NOT NULL,
    -- basis points: 2000 = 20 %
    rate_bp    INTEGER NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_tax_rates_place ON tax_rates(country, region);

-- One open cart per guest session or per customer; a cart becomes at most one order.
CREATE TABLE carts (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    customer_id   INTEGER REFERENCES customers(id) ON DELETE CASCADE,
    status        TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ordered', 'merged')),
    discount_code TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_carts_customer ON carts(customer_id) WHERE status = 'open' AND customer_id IS NOT NULL;
CREATE UNIQUE INDEX idx_carts_session  ON carts(session_id)  WHERE status = 'open' AND customer_id IS NULL;

CREATE TABLE cart_items (
    id         INTEGER PRIMARY KEY,
    cart_id    INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    variant_id INTEGER NOT NULL REFERENCES variants(id),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    added_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_cart_items_variant ON cart_items(cart_id, variant_id);

CREATE UNIQUE INDEX idx_orders_cart ON orders(cart_id) WHERE cart_id IS NOT NULL;
CREATE INDEX idx_orders_session ON orders(session_id, id) WHERE session_id IS NOT NULL;
CREATE INDEX idx_orders_expiry ON orders(expires_at) WHERE status = 'pending';
-- the admin's order list by status, newest first
CREATE INDEX idx_orders_status ON orders(status, id);

CREATE TABLE order_status_history (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    status     TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_order_status_history_order ON order_status_history(order_id, id);

-- Idempotency keys of checkout and buy-now: the first response, replayed for a retry
-- with the same key and body. Scoped to the session's owner; kept at least 24 hours.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    response     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX idx_idempotency_keys_created ON idempotency_keys(created_at);

-- Payment provider events already applied: a replayed webhook changes nothing.
CREATE TABLE payment_events (
    event_id    TEXT    PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    outcome     TEXT    NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Sensitive actions (every admin change): who, what, before and after (JSON), from where.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    action      TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    entity_id   INTEGER,
    before      TEXT,
    after       TEXT,
    client_addr TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

-- ---------------------------------------------------------------------------------------
-- version 3: the job queue, outgoing webhooks, archived orders
-- (the upgrade step from version 2 runs this section as it stands)
-- ---------------------------------------------------------------------------------------

-- Background work (src/jobs). A job is written in the writer unit of the change it belongs
-- to and taken by the runner with a lease; see src/jobs/mod.rs for the states.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,
    queue          TEXT    NOT NULL CHECK (queue IN ('high', 'default', 'low')),
    -- the queue as a number (high 0, default 1, low 2): available jobs are taken in this order
    priority       INTEGER NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('scheduled', 'available', 'running', 'retryable',
                                                      'completed', 'failed', 'cancelled')),
    -- JSON
    args           TEXT    NOT NULL DEFAULT '{}',
    -- while a job with this key waits (scheduled, available, retryable), another is not enqueued
    unique_key     TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at         INTEGER NOT NULL,
    -- a running job's lease: its holder renews it; past it, another worker may take the job
    locked_until   INTEGER,
    locked_by      TEXT,
    progress_done  INTEGER,
    progress_total INTEGER,
    -- JSON array of {attempt, at, error}, one per failed attempt
    errors         TEXT    NOT NULL DEFAULT '[]',
    -- JSON: what a finished job reports (an import's rejected rows, an export's file)
    result         TEXT,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER
);
CREATE INDEX idx_jobs_available ON jobs(priority, run_at, id) WHERE state = 'available';
CREATE INDEX idx_jobs_waiting ON jobs(run_at) WHERE state IN ('scheduled', 'retryable');
CREATE INDEX idx_jobs_leases ON jobs(locked_until) WHERE state = 'running';
CREATE UNIQUE INDEX idx_jobs_unique ON jobs(unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
-- the admin's list by state (and queue), newest first
CREATE INDEX idx_jobs_state ON jobs(state, queue, id);
-- pruning and archiving of finished jobs
CREATE INDEX idx_jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;

-- Outgoing webhooks: subscriptions, the events they are sent, and one delivery per
-- subscription and event (src/webhooks).
CREATE TABLE webhook_subscriptions (
    id         INTEGER PRIMARY KEY,
    url        TEXT    NOT NULL,
    -- JSON array of event types
    events     TEXT    NOT NULL,
    -- the HMAC-SHA256 key deliveries are signed with (kept: every delivery needs it)
    secret     TEXT    NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    type       TEXT    NOT NULL,
    -- JSON: the event's data
    data       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_webhook_events_created ON webhook_events(created_at);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- a pending delivery is not tried again before this
    next_at         INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
-- in order per subscription: the oldest pending delivery goes first
CREATE INDEX idx_webhook_deliveries_pending ON webhook_deliveries(subscription_id, id) WHERE state = 'pending';
CREATE INDEX idx_webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id);
CREATE INDEX idx_webhook_deliveries_event ON webhook_deliveries(event_id);

-- Orders moved to a monthly archive file by `storefront archive`: where to find each.
CREATE TABLE archived_orders (
    order_id    INTEGER PRIMARY KEY,
    customer_id INTEGER,
    -- the archive file's month, e.g. 2026-01 (orders-2026-01.db)
    month       TEXT    NOT NULL,
    archived_at INTEGER NOT NULL
);
CREATE INDEX idx_archived_orders_customer ON archived_orders(customer_id, order_id) WHERE customer_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------
-- version 4: what the purge task deletes is found by index (expired and revoked sessions,
-- old carts, sent mail); unpaid orders are counted per client address (an IPv6 /64)
ALTER TABLE orders ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
CREATE INDEX idx_orders_pending_addr ON orders(client_addr, id) WHERE status = 'pending';
CREATE INDEX idx_sessions_expiry  ON sessions(expires_at);
CREATE INDEX idx_sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX idx_carts_updated    ON carts(updated_at);
CREATE INDEX idx_mail_outbox_sent ON mail_outbox(sent_at) WHERE sent_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------
-- version 5: two-factor login (TOTP, RFC 6238) with recovery codes; API keys
CREATE TABLE two_factor (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    -- the shared TOTP secret (20 random bytes): the server must read it to check codes
    secret      BLOB    NOT NULL,
    -- NULL between setup and the first good code
    enabled_at  INTEGER,
    -- the last 30-second step whose code was used: a code works once
    last_step   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    code_hash   BLOB    NOT NULL,
    used_at     INTEGER
);
CREATE INDEX idx_recovery_codes_customer ON recovery_codes(customer_id);
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- SHA-256 of the key; the key itself is shown once, when made
    key_hash     BLOB    NOT NULL,
    -- the key's first characters, to tell keys apart in lists
    prefix       TEXT    NOT NULL,
    -- JSON array of scopes, e.g. ["catalog:write", "orders:read"]
    scopes       TEXT    NOT NULL,
    created_by   INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX idx_api_keys_hash ON api_keys(key_hash);
ALTER TABLE audit_log ADD COLUMN api_key_id INTEGER;

-- ---------------------------------------------------------------------------------------
-- version 6: the change log. The writer appends one row per committed transaction that
-- changed something, in that transaction: its position is the commit's position (the
-- X-Storefront-Commit of write responses), and its changes (table → rows) let a replica
-- reading a copy of this file learn what changed, as the primary's commit hooks do.
CREATE TABLE change_log (
    position     INTEGER PRIMARY KEY,
    committed_at INTEGER NOT NULL,
    -- JSON: {"table": [rowid, ...] | "all", ...} (aspects as "table@aspect")
    changes      TEXT    NOT NULL
);

-- ---------------------------------------------------------------------------------------
-- version 7: a session remembers whether it was opened with a second factor (a TOTP or
-- recovery code at login, or the code that turned two-factor login on): what
-- admin_require_2fa asks of a session, not of its account.
ALTER TABLE sessions ADD COLUMN second_factor INTEGER NOT NULL DEFAULT 0;

-- ----------------------------------------------------------------------------------------
-- version 8: the dashboard's product lists without a scan: drafts and retired products by
-- status (active ones are most of the table: the primary key walks them), and low stock
-- (5 or fewer units for sale) by variant.
CREATE INDEX idx_products_status ON products(status, id) WHERE status <> 'active';
CREATE INDEX idx_inventory_low ON inventory(variant_id) WHERE available <= 5;

-- ----------------------------------------------------------------------------------------
-- version 9: the dashboard's customer search without a scan: the words of every
-- customer's name and e-mail (an e-mail splits into its parts), newest first by rowid.
CREATE VIRTUAL TABLE customers_fts USING fts5(
    name, email,
    content = '', contentless_delete = 1, detail = column,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO customers_fts(rowid, name, email) SELECT id, name, email FROM customers;
CREATE TRIGGER trg_customers_fts_insert AFTER INSERT ON customers
BEGIN
    INSERT INTO customers_fts(rowid, name, email) VALUES (new.id, new.name, new.email);
END;
CREATE TRIGGER trg_customers_fts_update AFTER UPDATE OF name, email ON customers
BEGIN
    DELETE FROM customers_fts WHERE rowid = old.id;
    INSERT INTO customers_fts(rowid, name, email) VALUES (new.id, new.name, new.email);
END;
CREATE TRIGGER trg_customers_fts_delete AFTER DELETE ON customers
BEGIN
    DELETE FROM customers_fts WHERE rowid = old.id;
END;

-- ----------------------------------------------------------------------------------------
-- version 10: the dashboard's list of one kind of job (its exports) without a scan of the
-- queue's history.
CREATE INDEX idx_jobs_kind ON jobs(kind, id);

-- ----------------------------------------------------------------------------------------
-- version 11: uploaded product images, and settings changed at run time.
--
-- `media` and `thumbnail_media` name the stored files
-- ("{sha-256 of the bytes}.{ext}" in media_dir; NULL for an image given by address), so a
-- file no image names any more can be removed.
ALTER TABLE product_images ADD COLUMN media TEXT;
ALTER TABLE product_images ADD COLUMN thumbnail_media TEXT;
CREATE INDEX idx_product_images_media ON product_images(media) WHERE media IS NOT NULL;
CREATE INDEX idx_product_images_thumbnail ON product_images(thumbnail_media) WHERE thumbnail_media IS NOT NULL;

-- Settings an owner changed at run time (storefront's `settings` module): each a key of the
-- configuration that is safe to change without a restart, its value as JSON; a stored value
-- wins over the configuration file until it is taken back (the row deleted).
CREATE TABLE settings (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by INTEGER REFERENCES customers(id) ON DELETE SET NULL
);

-- ----------------------------------------------------------------------------------------
-- version 12: shipments. An order ships in one or more fulfillments, each with its lines
-- and quantities; `order_items.fulfilled` counts the units of a line shipped so far, so
-- what is left to ship is one subtraction. (The upgrade also widens the CHECK of
-- `orders.status`, in place: see the migrate module.)
ALTER TABLE order_items ADD COLUMN fulfilled INTEGER NOT NULL DEFAULT 0 CHECK (fulfilled >= 0 AND fulfilled <= quantity);

CREATE TABLE fulfillments (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    -- NULL when the shop marked the order shipped without telling how
    carrier         TEXT,
    tracking_number TEXT,
    tracking_url    TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX idx_fulfillments_order ON fulfillments(order_id, id);
-- a carrier's delivery report names its tracking number
CREATE INDEX idx_fulfillments_tracking ON fulfillments(tracking_number) WHERE tracking_number IS NOT NULL;

CREATE TABLE fulfillment_lines (
    fulfillment_id INTEGER NOT NULL REFERENCES fulfillments(id) ON DELETE CASCADE,
    order_id       INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (fulfillment_id, line),
    FOREIGN KEY (order_id, line) REFERENCES order_items(order_id, line) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX idx_fulfillment_lines_order ON fulfillment_lines(order_id);

-- ----------------------------------------------------------------------------------------
-- version 13: refunds. Money goes back in one or more refunds, each by amount or by lines;
-- `order_items.refunded` counts the units of a line refunded (by refunds not failed), and
-- `order_items.cancelled` the units refunded before they shipped: those went back to
-- stock and will not ship, so what is left to ship is `quantity - fulfilled - cancelled`.
ALTER TABLE order_items ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= quantity);
ALTER TABLE order_items ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0 CHECK (cancelled >= 0 AND fulfilled + cancelled <= quantity);

CREATE TABLE refunds (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    -- minor units of the order's currency
    amount       INTEGER NOT NULL CHECK (amount > 0),
    reason       TEXT    NOT NULL,
    -- pending: sent to the payment provider, not confirmed yet; failed: no money moved
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- 'provider' (the payment provider sends it back) or 'offline' (the shop did: recorded)
    method       TEXT    NOT NULL CHECK (method IN ('provider', 'offline')),
    provider_ref TEXT,
    error        TEXT,
    created_by   INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    settled_at   INTEGER
);
CREATE INDEX idx_refunds_order ON refunds(order_id, id);
-- the dashboard's refunds waiting for the provider
CREATE INDEX idx_refunds_pending ON refunds(id) WHERE status = 'pending';

CREATE TABLE refund_lines (
    refund_id INTEGER NOT NULL REFERENCES refunds(id) ON DELETE CASCADE,
    order_id  INTEGER NOT NULL,
    line      INTEGER NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    -- units of it that had not shipped: back in stock at the refund, and they will not ship
    cancelled INTEGER NOT NULL DEFAULT 0 CHECK (cancelled >= 0 AND cancelled <= quantity),
    -- its part of the refund's amount
    amount    INTEGER NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (refund_id, line),
    FOREIGN KEY (order_id, line) REFERENCES order_items(order_id, line) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX idx_refund_lines_order ON refund_lines(order_id);

-- ----------------------------------------------------------------------------------------
-- version 14: returns. A customer asks to send back shipped units (a reason per line);
-- the shop approves or rejects, receives what arrived (restocking it or not, per line) and
-- refunds it. `return_lines` counts per line what was asked, what arrived and what went
-- back on sale; `return_history` is each return's trail, like an order's.
CREATE TABLE returns (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    status      TEXT    NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'received', 'refunded')),
    -- the shop's last word to the customer (a rejection's reason, instructions)
    note        TEXT    NOT NULL DEFAULT '',
    -- the refund of what arrived, once made
    refund_id   INTEGER REFERENCES refunds(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX idx_returns_order ON returns(order_id, id);
-- the dashboard's lists, one status at a time, newest first
CREATE INDEX idx_returns_status ON returns(status, id);

CREATE TABLE return_lines (
    return_id INTEGER NOT NULL REFERENCES returns(id) ON DELETE CASCADE,
    order_id  INTEGER NOT NULL,
    line      INTEGER NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    reason    TEXT    NOT NULL,
    received  INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= quantity),
    restocked INTEGER NOT NULL DEFAULT 0 CHECK (restocked >= 0 AND restocked <= received),
    PRIMARY KEY (return_id, line),
    FOREIGN KEY (order_id, line) REFERENCES order_items(order_id, line) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX idx_return_lines_order ON return_lines(order_id);

CREATE TABLE return_history (
    id         INTEGER PRIMARY KEY,
    return_id  INTEGER NOT NULL REFERENCES returns(id) ON DELETE CASCADE,
    order_id   INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_return_history_return ON return_history(return_id, id);
CREATE INDEX idx_return_history_order ON return_history(order_id);

-- ----------------------------------------------------------------------------------------
-- version 15: gift cards. A card's code is shown once and kept only as its SHA-256 (codes
-- are 80 random bits: no slow hash is needed against guessing); `last4` names it to
-- people. Its balance moves only with a row of its ledger, in the same unit: issued,
-- spent on an order, released (the order closed unpaid), refunded to it, disabled.
-- `orders.gift_card_paid` is what gift cards paid of an order's total (the rest is due
-- by the order's payment method); `refunds.to_gift_card` is the part of a refund that
-- goes back to the order's cards (credited when the refund succeeds).
CREATE TABLE gift_cards (
    id          INTEGER PRIMARY KEY,
    code_hash   BLOB    NOT NULL UNIQUE,
    last4       TEXT    NOT NULL,
    currency    TEXT    NOT NULL DEFAULT 'USD',
    -- minor units
    initial     INTEGER NOT NULL CHECK (initial > 0),
    balance     INTEGER NOT NULL CHECK (balance >= 0),
    expires_at  INTEGER,
    disabled_at INTEGER,
    note        TEXT    NOT NULL DEFAULT '',
    -- the order that bought it (a gift card sold as a product), and its line
    order_id    INTEGER REFERENCES orders(id) ON DELETE SET NULL,
    order_line  INTEGER,
    created_by  INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_gift_cards_order ON gift_cards(order_id) WHERE order_id IS NOT NULL;

CREATE TABLE gift_card_ledger (
    id           INTEGER PRIMARY KEY,
    gift_card_id INTEGER NOT NULL REFERENCES gift_cards(id) ON DELETE CASCADE,
    -- signed minor units: what the entry added to the balance
    amount       INTEGER NOT NULL,
    -- the balance after it
    balance      INTEGER NOT NULL CHECK (balance >= 0),
    kind         TEXT    NOT NULL CHECK (kind IN ('issued', 'spent', 'released', 'refunded', 'disabled', 'enabled')),
    order_id     INTEGER,
    refund_id    INTEGER,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX idx_gift_card_ledger_card ON gift_card_ledger(gift_card_id, id);
CREATE INDEX idx_gift_card_ledger_order ON gift_card_ledger(order_id) WHERE order_id IS NOT NULL;

ALTER TABLE carts ADD COLUMN gift_card_id INTEGER REFERENCES gift_cards(id) ON DELETE SET NULL;
ALTER TABLE orders ADD COLUMN gift_card_paid INTEGER NOT NULL DEFAULT 0 CHECK (gift_card_paid >= 0);
ALTER TABLE refunds ADD COLUMN to_gift_card INTEGER NOT NULL DEFAULT 0 CHECK (to_gift_card >= 0);
-- a product that is a gift card: each unit paid for issues a card of its unit price
ALTER TABLE products ADD COLUMN gift_card INTEGER NOT NULL DEFAULT 0;

-- ----------------------------------------------------------------------------------------
-- version 16: order edits. `captured` is what the customer paid of an order (its total
-- when it was paid; a balance paid after an edit adds to it); `balance_due` is what an
-- edit that raised a paid order's total leaves to pay. `refunds.edit` marks the refund an
-- edit that lowered a paid order's total gave back: money, not goods, so it does not make
-- the order (partially) refunded.
ALTER TABLE orders ADD COLUMN captured INTEGER NOT NULL DEFAULT 0 CHECK (captured >= 0);
ALTER TABLE orders ADD COLUMN balance_due INTEGER NOT NULL DEFAULT 0 CHECK (balance_due >= 0);
ALTER TABLE refunds ADD COLUMN edit INTEGER NOT NULL DEFAULT 0;
-- before edits, what was captured of a paid order was its total
UPDATE orders SET captured = total WHERE paid_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------
-- version 17: draft orders. An order the owner builds: its lines (JSON: [{variant_id,
-- quantity, unit_price?}]), address, shipping option and code, for a customer or an
-- e-mail address. Completing it makes the order (`order_id`; NULL again once that order
-- is archived) and, for one that awaits payment, keeps the hash of its payment link's key.
CREATE TABLE draft_orders (
    id               INTEGER PRIMARY KEY,
    status           TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    customer_id      INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    email            TEXT    NOT NULL DEFAULT '',
    lines            TEXT    NOT NULL DEFAULT '[]',
    shipping_address TEXT    NOT NULL DEFAULT '{}',
    shipping_option  TEXT,
    discount_code    TEXT,
    payment_method   TEXT    NOT NULL DEFAULT 'card',
    note             TEXT    NOT NULL DEFAULT '',
    order_id         INTEGER REFERENCES orders(id) ON DELETE SET NULL,
    pay_key_hash     BLOB,
    created_by       INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    completed_at     INTEGER
);
CREATE INDEX idx_draft_orders_status ON draft_orders(status, id);
CREATE INDEX idx_draft_orders_order ON draft_orders(order_id) WHERE order_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------
-- version 18: tax-inclusive prices, and customer groups. A tax rate whose `inclusive` is set is part of the
-- prices shoppers see in its country or region (gross prices, as EU shops show them): the
-- tax is the part of the price it holds, not added on top. An order keeps which kind of
-- tax it was placed with (`tax_included`).
ALTER TABLE tax_rates ADD COLUMN inclusive INTEGER NOT NULL DEFAULT 0 CHECK (inclusive IN (0, 1));
ALTER TABLE orders ADD COLUMN tax_included INTEGER NOT NULL DEFAULT 0 CHECK (tax_included IN (0, 1));
-- Customer groups (wholesale, VIP…): a customer belongs to any number of them; a group's
-- members are listed newest first by the primary key.
CREATE TABLE customer_groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_customer_groups_name ON customer_groups(name COLLATE NOCASE);
CREATE TABLE customer_group_members (
    group_id    INTEGER NOT NULL REFERENCES customer_groups(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (group_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX idx_customer_group_members_customer ON customer_group_members(customer_id, group_id);

-- ---------------------------------------------------------------------------------------
-- version 19: translations. A product's, category's or brand's name, description and slug
-- in a language other than the shop's default (the `locales` setting); a field without a
-- translation shows the default's. A translated slug is unique within its language.
CREATE TABLE product_translations (
    product_id  INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    locale      TEXT    NOT NULL CHECK (length(locale) BETWEEN 2 AND 6),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description TEXT    NOT NULL DEFAULT '',
    slug        TEXT    NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (product_id, locale)
);
CREATE UNIQUE INDEX idx_product_translations_slug ON product_translations(locale, slug);
CREATE TABLE category_translations (
    category_id INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    locale      TEXT    NOT NULL CHECK (length(locale) BETWEEN 2 AND 6),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT    NOT NULL DEFAULT '',
    slug        TEXT    NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (category_id, locale)
);
CREATE UNIQUE INDEX idx_category_translations_slug ON category_translations(locale, slug);
CREATE TABLE brand_translations (
    brand_id    INTEGER NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    locale      TEXT    NOT NULL CHECK (length(locale) BETWEEN 2 AND 6),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT    NOT NULL DEFAULT '',
    slug        TEXT    NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (brand_id, locale)
);
CREATE UNIQUE INDEX idx_brand_translations_slug ON brand_translations(locale, slug);

-- ---------------------------------------------------------------------------------------
-- version 20: currencies and price lists. A price list sets products' (or single variants')
-- prices in one currency, for everyone or for one customer group, always or within a time
-- window. A shopper pays the lowest price of those that apply (see the catalog's `prices`
-- module); a list for everyone and all the time in a currency other than the default
-- replaces the conversion of the default's prices in it. A cart keeps the currency it was
-- last asked in (NULL: the default), and its order that one.
CREATE TABLE price_lists (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency          TEXT    NOT NULL CHECK (length(currency) = 3),
    customer_group_id INTEGER REFERENCES customer_groups(id) ON DELETE CASCADE,
    starts_at         INTEGER,
    ends_at           INTEGER,
    created_at        INTEGER NOT NULL,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);
CREATE INDEX idx_price_lists_currency ON price_lists(currency, id);
-- variant_id 0: the product's price (each of its variants without one of its own)
CREATE TABLE price_list_prices (
    price_list_id INTEGER NOT NULL REFERENCES price_lists(id) ON DELETE CASCADE,
    product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    variant_id    INTEGER NOT NULL DEFAULT 0,
    amount        INTEGER NOT NULL CHECK (amount >= 0),
    sale          INTEGER CHECK (sale IS NULL OR (sale >= 0 AND sale < amount)),
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (price_list_id, product_id, variant_id)
) WITHOUT ROWID;
CREATE INDEX idx_price_list_prices_product ON price_list_prices(product_id, price_list_id);
ALTER TABLE carts ADD COLUMN currency TEXT;

-- ---------------------------------------------------------------------------------------
-- version 21: amounts per currency, and the language of mail. A fixed promotion's discount and a promotion's minimum
-- order, and a shipping rate's price and free-from threshold, may be set in each other
-- currency the shop sells in: a JSON object of currency code → amount in that currency's
-- minor units (`{"EUR": 450}`). A currency without its own amount converts the default's at
-- its rate. A percent promotion's value is the same in every currency.
ALTER TABLE promotions ADD COLUMN value_in TEXT
    CHECK (value_in IS NULL OR (json_valid(value_in) AND kind = 'fixed'));
ALTER TABLE promotions ADD COLUMN min_subtotal_in TEXT CHECK (min_subtotal_in IS NULL OR json_valid(min_subtotal_in));
ALTER TABLE shipping_rates ADD COLUMN price_in TEXT CHECK (price_in IS NULL OR json_valid(price_in));
ALTER TABLE shipping_rates ADD COLUMN free_above_in TEXT CHECK (free_above_in IS NULL OR json_valid(free_above_in));
-- The language a customer reads the shop's mail in (a tag of the `locales` setting; NULL:
-- the default), and the one an order was placed in (its customer's, else the one the
-- shopper's request chose): the order's mail is written in it.
ALTER TABLE customers ADD COLUMN locale TEXT;
ALTER TABLE orders ADD COLUMN locale TEXT;
-- The currency a draft order is priced in (NULL: the default), as a cart's.
ALTER TABLE draft_orders ADD COLUMN currency TEXT;

-- ---------------------------------------------------------------------------------------
-- version 22: a gift card's ledger kept together by card. Its rows are clustered by
-- (card, seq), its `seq` counting the card's entries from 1, and a card's balance is the
-- `balance` of its last entry: spending from a card writes one entry (and the order's index
-- entry), where it also rewrote the card's row and two more index entries.
CREATE TABLE gift_card_entries (
    gift_card_id INTEGER NOT NULL REFERENCES gift_cards(id) ON DELETE CASCADE,
    -- the card's entries in order, from 1
    seq          INTEGER NOT NULL CHECK (seq > 0),
    -- signed minor units: what the entry added to the balance
    amount       INTEGER NOT NULL,
    -- the balance after it
    balance      INTEGER NOT NULL CHECK (balance >= 0),
    kind         TEXT    NOT NULL CHECK (kind IN ('issued', 'spent', 'released', 'refunded', 'disabled', 'enabled')),
    order_id     INTEGER,
    refund_id    INTEGER,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (gift_card_id, seq)
) WITHOUT ROWID;
INSERT INTO gift_card_entries(gift_card_id, seq, amount, balance, kind, order_id, refund_id, note, created_at)
    SELECT gift_card_id, row_number() OVER (PARTITION BY gift_card_id ORDER BY id), amount, balance, kind,
           order_id, refund_id, note, created_at
    FROM gift_card_ledger;
DROP TABLE gift_card_ledger;
ALTER TABLE gift_card_entries RENAME TO gift_card_ledger;
CREATE INDEX idx_gift_card_ledger_order ON gift_card_ledger(order_id) WHERE order_id IS NOT NULL;
ALTER TABLE gift_cards DROP COLUMN balance;

-- ---------------------------------------------------------------------------------------
-- version 23: the full-text index finds a product by its words in every language, as the
-- in-memory index does: a product's row holds its own name and description with its
-- translations' after them, and its brand's and category's names with theirs. The view
-- says the indexed texts once; the triggers keep the rows current as products, brands,
-- categories and their translations change.
CREATE VIEW products_fts_text(id, status, category_id, brand_id, name, description, brand, category) AS
SELECT p.id, p.status, p.category_id, p.brand_id,
       p.name || coalesce((SELECT ' ' || group_concat(t.name, ' ') FROM product_translations t
                           WHERE t.product_id = p.id), ''),
       p.description || coalesce((SELECT ' ' || group_concat(t.description, ' ') FROM product_translations t
                                  WHERE t.product_id = p.id AND t.description <> ''), ''),
       coalesce((SELECT b.name || coalesce((SELECT ' ' || group_concat(bt.name, ' ') FROM brand_translations bt
                                            WHERE bt.brand_id = b.id), '')
                 FROM brands b WHERE b.id = p.brand_id), ''),
       (SELECT c.name || coalesce((SELECT ' ' || group_concat(ct.name, ' ') FROM category_translations ct
                                   WHERE ct.category_id = c.id), '')
        FROM categories c WHERE c.id = p.category_id)
FROM products p;

DROP TRIGGER trg_products_fts_insert;
CREATE TRIGGER trg_products_fts_insert AFTER INSERT ON products
WHEN new.status = 'active'
BEGIN
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text WHERE id = new.id;
END;

DROP TRIGGER trg_products_fts_update;
CREATE TRIGGER trg_products_fts_update AFTER UPDATE OF name, description, brand_id, category_id, status ON products
BEGIN
    DELETE FROM products_fts WHERE rowid = old.id AND old.status = 'active';
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE id = new.id AND new.status = 'active';
END;

DROP TRIGGER trg_brands_fts_rename;
CREATE TRIGGER trg_brands_fts_rename AFTER UPDATE OF name ON brands
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE brand_id = new.id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE brand_id = new.id AND status = 'active';
END;

DROP TRIGGER trg_categories_fts_rename;
CREATE TRIGGER trg_categories_fts_rename AFTER UPDATE OF name ON categories
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE category_id = new.id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE category_id = new.id AND status = 'active';
END;

-- a translation added, changed or removed: its product's row (its brand's or category's
-- products' rows) again
CREATE TRIGGER trg_product_translations_fts_insert AFTER INSERT ON product_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN (SELECT id FROM products WHERE id = new.product_id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE id = new.product_id AND status = 'active';
END;
CREATE TRIGGER trg_product_translations_fts_update AFTER UPDATE ON product_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE id IN (old.product_id, new.product_id) AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE id IN (old.product_id, new.product_id) AND status = 'active';
END;
CREATE TRIGGER trg_product_translations_fts_delete AFTER DELETE ON product_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN (SELECT id FROM products WHERE id = old.product_id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE id = old.product_id AND status = 'active';
END;
CREATE TRIGGER trg_brand_translations_fts AFTER INSERT ON brand_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE brand_id = new.brand_id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE brand_id = new.brand_id AND status = 'active';
END;
CREATE TRIGGER trg_brand_translations_fts_update AFTER UPDATE OF name ON brand_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE brand_id IN (old.brand_id, new.brand_id) AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE brand_id IN (old.brand_id, new.brand_id) AND status = 'active';
END;
CREATE TRIGGER trg_brand_translations_fts_delete AFTER DELETE ON brand_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE brand_id = old.brand_id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE brand_id = old.brand_id AND status = 'active';
END;
CREATE TRIGGER trg_category_translations_fts AFTER INSERT ON category_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE category_id = new.category_id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE category_id = new.category_id AND status = 'active';
END;
CREATE TRIGGER trg_category_translations_fts_update AFTER UPDATE OF name ON category_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE category_id IN (old.category_id, new.category_id) AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE category_id IN (old.category_id, new.category_id) AND status = 'active';
END;
CREATE TRIGGER trg_category_translations_fts_delete AFTER DELETE ON category_translations
BEGIN
    DELETE FROM products_fts WHERE rowid IN
        (SELECT id FROM products WHERE category_id = old.category_id AND status = 'active');
    INSERT INTO products_fts(rowid, name, description, brand, category)
        SELECT id, name, description, brand, category FROM products_fts_text
        WHERE category_id = old.category_id AND status = 'active';
END;

-- the rows of products that have a translation (or whose brand or category has) again
DELETE FROM products_fts WHERE rowid IN
    (SELECT p.id FROM products p
     WHERE p.status = 'active'
       AND (EXISTS (SELECT 1 FROM product_translations t WHERE t.product_id = p.id)
            OR EXISTS (SELECT 1 FROM brand_translations t WHERE t.brand_id = p.brand_id)
            OR EXISTS (SELECT 1 FROM category_translations t WHERE t.category_id = p.category_id)));
INSERT INTO products_fts(rowid, name, description, brand, category)
    SELECT v.id, v.name, v.description, v.brand, v.category FROM products_fts_text v
    WHERE v.status = 'active'
      AND (EXISTS (SELECT 1 FROM product_translations t WHERE t.product_id = v.id)
           OR EXISTS (SELECT 1 FROM brand_translations t WHERE t.brand_id = v.brand_id)
           OR EXISTS (SELECT 1 FROM category_translations t WHERE t.category_id = v.category_id));

-- ---------------------------------------------------------------------------------------
-- version 24: a gift card's balance on its row, its ledger appended in the order written.
-- Spending from a card rewrites the card's row in place (the page the order's unit has just
-- read it from) and appends an entry at the ledger's end. An entry clustered by card (version
-- 22) went into the middle of a full page and split it, and every split made the commit
-- sweep the writer's whole page cache. A card's entries are linked backwards instead of
-- indexed: `gift_cards.last_entry` is its newest, each entry's `prev` the card's one before
-- it, and a card's ledger is read by walking them. The `kind` CHECK is a chain of `=`:
-- `IN` over more than two values builds a temporary index for every row written.
CREATE TABLE gift_card_entries (
    id           INTEGER PRIMARY KEY,
    gift_card_id INTEGER NOT NULL REFERENCES gift_cards(id) ON DELETE CASCADE,
    -- the card's entry before this one (NULL: its first)
    prev         INTEGER,
    -- signed minor units: what the entry added to the balance
    amount       INTEGER NOT NULL,
    -- the balance after it
    balance      INTEGER NOT NULL CHECK (balance >= 0),
    kind         TEXT    NOT NULL CHECK (kind = 'issued' OR kind = 'spent' OR kind = 'released'
                                         OR kind = 'refunded' OR kind = 'disabled' OR kind = 'enabled'),
    order_id     INTEGER,
    refund_id    INTEGER,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
-- the entries in the order they were written (their time, then by card as they were numbered)
INSERT INTO gift_card_entries(id, gift_card_id, prev, amount, balance, kind, order_id, refund_id, note, created_at)
    SELECT n, gift_card_id, lag(n) OVER (PARTITION BY gift_card_id ORDER BY seq), amount, balance, kind,
           order_id, refund_id, note, created_at
    FROM (SELECT row_number() OVER (ORDER BY created_at, gift_card_id, seq) AS n, * FROM gift_card_ledger);
DROP TABLE gift_card_ledger;
ALTER TABLE gift_card_entries RENAME TO gift_card_ledger;
CREATE INDEX idx_gift_card_ledger_order ON gift_card_ledger(order_id) WHERE order_id IS NOT NULL;
ALTER TABLE gift_cards ADD COLUMN balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0);
ALTER TABLE gift_cards ADD COLUMN last_entry INTEGER;
UPDATE gift_cards SET last_entry = (SELECT max(l.id) FROM gift_card_ledger l WHERE l.gift_card_id = gift_cards.id);
UPDATE gift_cards SET balance = coalesce((SELECT l.balance FROM gift_card_ledger l WHERE l.id = gift_cards.last_entry), 0);
