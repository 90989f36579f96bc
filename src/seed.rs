//! Deterministic catalog generator: categories three levels deep, brands, products with
//! variants (colour/size attribute values), 1–5 images, skewed prices with some on sale,
//! stock with some sold out, customers, past paid orders (so bestsellers and the `popular`
//! sort have data) and reviews written by customers who bought the product.
//!
//! The same seed and anchor day give the same catalog: every product is a pure function of
//! `(seed, index)`, so the order phase can re-derive a product's price and name instead of
//! keeping the whole catalog in memory.
//!
//! Loading runs on a connection set up by [`crate::db::configure_bulk_load`] in large
//! transactions with cached statements; the schema's triggers keep the full-text index, the
//! stock flags, the listing counters and the rating summaries exactly as a live server would.

use std::collections::HashSet;

use indicatif::{ProgressBar, ProgressStyle};
use rusqlite::{params, Connection};

pub use crate::domain::slugify;
pub use crate::util::{Rng, DAY_MS};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub products: u64,
    pub seed: u64,
    /// "Now" for the generated history, unix ms; orders fall in the 120 days before it.
    pub anchor_ms: i64,
    pub progress: bool,
    /// Past orders to generate; `None` gives one for every two products (at least 100).
    pub orders: Option<u64>,
    /// The shop's default currency: the one its prices are in, and so its past orders.
    pub currency: crate::domain::Currency,
}

impl SeedOptions {
    /// Anchored at the start of the current UTC day.
    pub fn today(products: u64, seed: u64) -> SeedOptions {
        let now = crate::util::now_ms();
        SeedOptions {
            products,
            seed,
            anchor_ms: now - now.rem_euclid(DAY_MS),
            progress: false,
            orders: None,
            currency: crate::domain::Currency::USD,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub categories: u64,
    pub brands: u64,
    pub products: u64,
    pub variants: u64,
    pub images: u64,
    pub customers: u64,
    pub orders: u64,
    pub reviews: u64,
}

// ----------------------------------------------------------------------------------------
// Vocabulary
// ----------------------------------------------------------------------------------------

struct Department {
    name: &'static str,
    subs: [(&'static str, &'static [&'static str]); 6],
    variant: VariantKind,
}

#[derive(Clone, Copy, PartialEq)]
enum VariantKind {
    Colour,
    Size,
    ColourAndSize,
}

const LEAF_KINDS: [&str; 5] = ["Essentials", "Pro", "Compact", "Sets", "Accessories"];

const DEPARTMENTS: [Department; 8] = [
    Department {
        name: "Electronics",
        variant: VariantKind::Colour,
        subs: [
            ("Audio", &["Headphones", "Earbuds", "Speaker", "Soundbar", "Amplifier"]),
            ("Computers", &["Laptop", "Keyboard", "Mouse", "Monitor", "Docking Station"]),
            ("Phones", &["Smartphone", "Phone Case", "Charger", "Power Bank", "Cable"]),
            ("Cameras", &["Camera", "Lens", "Tripod", "Camera Bag", "Action Camera"]),
            ("Gaming", &["Controller", "Gaming Headset", "Console Stand", "Gamepad", "Racing Wheel"]),
            ("Smart Home", &["Smart Plug", "Thermostat", "Doorbell", "Smart Bulb", "Hub"]),
        ],
    },
    Department {
        name: "Home & Kitchen",
        variant: VariantKind::Colour,
        subs: [
            ("Cookware", &["Frying Pan", "Saucepan", "Dutch Oven", "Wok", "Stock Pot"]),
            ("Appliances", &["Blender", "Toaster", "Kettle", "Coffee Maker", "Air Fryer"]),
            ("Furniture", &["Chair", "Desk", "Bookshelf", "Side Table", "Stool"]),
            ("Bedding", &["Duvet", "Pillow", "Sheet Set", "Blanket", "Mattress Topper"]),
            ("Lighting", &["Desk Lamp", "Floor Lamp", "Pendant Light", "Wall Light", "String Lights"]),
            ("Storage", &["Storage Box", "Shelf Unit", "Laundry Basket", "Organizer", "Drawer Set"]),
        ],
    },
    Department {
        name: "Clothing",
        variant: VariantKind::ColourAndSize,
        subs: [
            ("Men", &["T-Shirt", "Shirt", "Chinos", "Jacket", "Hoodie"]),
            ("Women", &["Dress", "Blouse", "Skirt", "Cardigan", "Jeans"]),
            ("Kids", &["Romper", "Pyjamas", "Raincoat", "Leggings", "Sweatshirt"]),
            ("Shoes", &["Sneakers", "Boots", "Sandals", "Loafers", "Running Shoes"]),
            ("Outerwear", &["Parka", "Windbreaker", "Gilet", "Trench Coat", "Fleece"]),
            ("Activewear", &["Sports Bra", "Running Shorts", "Track Pants", "Base Layer", "Tank Top"]),
        ],
    },
    Department {
        name: "Sports & Outdoors",
        variant: VariantKind::Size,
        subs: [
            ("Camping", &["Tent", "Sleeping Bag", "Camping Stove", "Lantern", "Backpack"]),
            ("Cycling", &["Bike Helmet", "Bike Light", "Cycling Gloves", "Bike Lock", "Saddle"]),
            ("Fitness", &["Yoga Mat", "Dumbbell", "Kettlebell", "Resistance Band", "Foam Roller"]),
            ("Water Sports", &["Wetsuit", "Swim Goggles", "Paddle", "Dry Bag", "Snorkel"]),
            ("Team Sports", &["Football", "Basketball", "Shin Guards", "Goalkeeper Gloves", "Kit Bag"]),
            ("Climbing", &["Harness", "Chalk Bag", "Climbing Shoes", "Carabiner", "Rope"]),
        ],
    },
    Department {
        name: "Beauty",
        variant: VariantKind::Size,
        subs: [
            ("Skincare", &["Moisturiser", "Serum", "Cleanser", "Face Mask", "Sunscreen"]),
            ("Hair Care", &["Shampoo", "Conditioner", "Hair Oil", "Hair Dryer", "Brush"]),
            ("Makeup", &["Lipstick", "Mascara", "Foundation", "Eyeliner", "Palette"]),
            ("Fragrance", &["Eau de Parfum", "Eau de Toilette", "Body Mist", "Cologne", "Gift Set"]),
            ("Bath & Body", &["Body Wash", "Bath Salts", "Body Lotion", "Hand Cream", "Soap"]),
            ("Grooming", &["Razor", "Beard Oil", "Trimmer", "Shaving Cream", "Aftershave"]),
        ],
    },
    Department {
        name: "Toys & Games",
        variant: VariantKind::Colour,
        subs: [
            ("Board Games", &["Strategy Game", "Party Game", "Family Game", "Card Game", "Puzzle Game"]),
            ("Building Sets", &["Brick Set", "Construction Kit", "Marble Run", "Model Kit", "Magnetic Tiles"]),
            ("Puzzles", &["Jigsaw", "3D Puzzle", "Brain Teaser", "Floor Puzzle", "Puzzle Box"]),
            ("Outdoor Play", &["Kite", "Water Blaster", "Scooter", "Trampoline", "Swing"]),
            ("Dolls", &["Doll", "Doll House", "Action Figure", "Plush Toy", "Puppet"]),
            ("Learning", &["Science Kit", "Globe", "Microscope", "Coding Robot", "Flash Cards"]),
        ],
    },
    Department {
        name: "Books & Media",
        variant: VariantKind::Colour,
        subs: [
            ("Fiction", &["Novel", "Short Stories", "Thriller", "Fantasy Saga", "Mystery"]),
            ("Non-Fiction", &["Biography", "History Book", "Essay Collection", "Memoir", "Travel Guide"]),
            ("Children's Books", &["Picture Book", "Activity Book", "Bedtime Stories", "Comic", "Atlas"]),
            ("Music", &["Vinyl Record", "CD Box Set", "Songbook", "Sheet Music", "Cassette"]),
            ("Film", &["Blu-ray", "DVD Box Set", "Film Poster", "Director's Cut", "Documentary"]),
            ("Stationery", &["Notebook", "Fountain Pen", "Planner", "Sketchbook", "Pencil Set"]),
        ],
    },
    Department {
        name: "Garden & Tools",
        variant: VariantKind::Size,
        subs: [
            ("Power Tools", &["Drill", "Circular Saw", "Sander", "Jigsaw Tool", "Impact Driver"]),
            ("Hand Tools", &["Hammer", "Screwdriver Set", "Spanner Set", "Pliers", "Tape Measure"]),
            ("Gardening", &["Pruning Shears", "Watering Can", "Garden Hose", "Rake", "Spade"]),
            ("Outdoor Living", &["Parasol", "Garden Bench", "Fire Pit", "Hammock", "Planter"]),
            ("Grills", &["Charcoal Grill", "Gas Grill", "Grill Tools", "Smoker", "Pizza Oven"]),
            ("Workshop", &["Workbench", "Tool Chest", "Vice", "Work Light", "Safety Glasses"]),
        ],
    },
];

const SYLLABLES_A: [&str; 24] = [
    "Nor", "Vel", "Astr", "Bra", "Cor", "Dun", "El", "Fen", "Gal", "Hal", "Ion", "Jas", "Kel", "Lum", "Mor", "Nex",
    "Orb", "Pel", "Quin", "Ros", "Sol", "Tor", "Ulv", "Zen",
];
const SYLLABLES_B: [&str; 16] =
    ["vex", "ora", "ion", "ada", "ell", "ix", "um", "ara", "ento", "ika", "on", "ro", "wyn", "tis", "ley", "mar"];
const BRAND_SUFFIX: [&str; 6] = ["", "", " Labs", " & Co", " Works", " Studio"];

/// Adjectives with weights: the first one ("classic") lands in about one product in ten,
/// which the search benchmark uses as its "10% of the catalog" term.
const ADJECTIVES: [(&str, u32); 16] = [
    ("Classic", 100),
    ("Essential", 90),
    ("Premium", 80),
    ("Lightweight", 70),
    ("Deluxe", 60),
    ("Compact", 60),
    ("Modern", 60),
    ("Vintage", 50),
    ("Rugged", 50),
    ("Ultra", 50),
    ("Everyday", 60),
    ("Signature", 50),
    ("Urban", 60),
    ("Heritage", 40),
    ("Nordic", 60),
    ("Studio", 60),
];
const MATERIALS: [&str; 12] = [
    "Cotton",
    "Bamboo",
    "Steel",
    "Oak",
    "Walnut",
    "Ceramic",
    "Leather",
    "Linen",
    "Carbon",
    "Aluminium",
    "Wool",
    "Recycled",
];
const FEATURES: [&str; 16] = [
    "water resistant",
    "machine washable",
    "hand finished",
    "energy efficient",
    "easy to clean",
    "built to last",
    "travel friendly",
    "ergonomic",
    "quiet",
    "fast charging",
    "stackable",
    "breathable",
    "non-slip",
    "dishwasher safe",
    "scratch resistant",
    "plastic free",
];
const COLOURS: [&str; 10] = ["Black", "White", "Navy", "Grey", "Red", "Green", "Sand", "Olive", "Blue", "Pink"];
const SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "XXL"];
const REVIEW_TITLES: [[&str; 3]; 5] = [
    ["Disappointing", "Broke quickly", "Not as described"],
    ["Not great", "Could be better", "Mediocre quality"],
    ["It's fine", "Does the job", "Average"],
    ["Very good", "Happy with it", "Good value"],
    ["Excellent", "Love it", "Perfect"],
];

// ----------------------------------------------------------------------------------------
// The catalog as pure functions of (seed, index)
// ----------------------------------------------------------------------------------------

struct Tree {
    /// (department index, sub index, leaf index, category id) of every leaf
    leaves: Vec<(usize, usize, usize, i64)>,
}

fn brand_count(products: u64) -> u64 {
    (products / 400).clamp(40, 2_000)
}

fn brand_name(seed: u64, i: u64) -> String {
    let mut r = Rng::derive(seed, 2, i);
    let base = format!("{}{}", r.pick(&SYLLABLES_A), r.pick(&SYLLABLES_B));
    // the index keeps names unique however many brands there are
    let suffix = r.pick(&BRAND_SUFFIX);
    if i < (SYLLABLES_A.len() * SYLLABLES_B.len()) as u64 / 2 {
        format!("{base}{suffix}")
    } else {
        format!("{base} {}{suffix}", i)
    }
}

/// One generated product (no ids of other rows but its category leaf and brand number).
pub struct ProductSpec {
    pub index: u64,
    pub sku: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub leaf: usize,
    pub brand: u64,
    pub base_price: i64,
    pub sale_price: Option<i64>,
    pub weight_grams: i64,
    pub images: u64,
    pub variants: Vec<VariantSpec>,
}

pub struct VariantSpec {
    pub name: String,
    pub colour: Option<usize>,
    pub size: Option<usize>,
    pub available: i64,
    /// extra price for this variant over the product's (larger sizes cost more)
    pub surcharge: i64,
}

impl ProductSpec {
    pub fn price(&self) -> i64 {
        self.sale_price.unwrap_or(self.base_price)
    }
}

fn product_spec(seed: u64, index: u64, leaves: usize, brands: u64) -> ProductSpec {
    let mut r = Rng::derive(seed, 1, index);
    let leaf = (r.next_u64() % leaves as u64) as usize;
    let (d, s) = (leaf / 30, (leaf / 5) % 6);
    let dept = &DEPARTMENTS[d];
    let (_, nouns) = dept.subs[s];
    // brands are skewed: a few big ones, a long tail
    let brand = ((r.unit().powf(2.0)) * brands as f64) as u64 % brands;
    let weights: Vec<u32> = ADJECTIVES.iter().map(|a| a.1).collect();
    let adjective = ADJECTIVES[r.weighted(&weights)].0;
    let material = if r.chance(0.5) { Some(*r.pick(&MATERIALS)) } else { None };
    let noun = r.pick(nouns);
    let model = r.range(100, 9999);
    let name = match material {
        Some(m) => format!("{adjective} {m} {noun} {model}"),
        None => format!("{adjective} {noun} {model}"),
    };
    let sku = format!("SKU-{:08}", index + 1);
    let slug = format!("{}-{}", slugify(&name), index + 1);
    let f1 = r.pick(&FEATURES);
    let f2 = r.pick(&FEATURES);
    let description = format!(
        "The {} is a {} {} for everyday use: {} and {}. {} Designed in our {} line, it comes with a two-year warranty.",
        name,
        adjective.to_lowercase(),
        noun.to_lowercase(),
        f1,
        f2,
        match material {
            Some(m) => format!("Made from {} with attention to detail.", m.to_lowercase()),
            None => "Made with attention to detail.".to_owned(),
        },
        dept.subs[s].0.to_lowercase(),
    );
    // log-skewed prices from 2.99 to ~2,000.00, ending in .99
    let units = (2.99f64.ln() + r.unit().powf(1.6) * (2000f64.ln() - 2.99f64.ln())).exp();
    let base_price = (units as i64).max(2) * 100 + 99;
    let sale_price = if r.chance(0.2) {
        let off = r.range(10, 40) as i64;
        Some(((base_price * (100 - off) / 100) / 100).max(1) * 100 + 49).filter(|p| *p < base_price)
    } else {
        None
    };
    let images = r.range(1, 5);
    let sold_out = r.chance(0.12);
    let mut variants = Vec::new();
    let kind = if r.chance(0.45) { None } else { Some(dept.variant) };
    let stock = |r: &mut Rng| {
        if sold_out || r.chance(0.05) {
            0
        } else {
            (r.unit().powf(2.0) * 200.0) as i64 + 1
        }
    };
    match kind {
        None => variants.push(VariantSpec {
            name: "Default".into(),
            colour: None,
            size: None,
            available: stock(&mut r),
            surcharge: 0,
        }),
        Some(VariantKind::Colour) => {
            let n = r.range(2, 4) as usize;
            let start = r.range(0, COLOURS.len() as u64 - 1) as usize;
            for k in 0..n {
                let c = (start + k) % COLOURS.len();
                variants.push(VariantSpec {
                    name: COLOURS[c].into(),
                    colour: Some(c),
                    size: None,
                    available: stock(&mut r),
                    surcharge: 0,
                });
            }
        }
        Some(VariantKind::Size) => {
            let n = r.range(3, 5) as usize;
            for sz in 0..n {
                variants.push(VariantSpec {
                    name: SIZES[sz + 1].into(),
                    colour: None,
                    size: Some(sz + 1),
                    available: stock(&mut r),
                    surcharge: if sz + 1 >= 4 { 200 } else { 0 },
                });
            }
        }
        Some(VariantKind::ColourAndSize) => {
            let c0 = r.range(0, COLOURS.len() as u64 - 1) as usize;
            for c in [c0, (c0 + 3) % COLOURS.len()] {
                for (sz, size) in SIZES.iter().enumerate().take(4).skip(1) {
                    variants.push(VariantSpec {
                        name: format!("{} / {}", COLOURS[c], size),
                        colour: Some(c),
                        size: Some(sz),
                        available: stock(&mut r),
                        surcharge: 0,
                    });
                }
            }
        }
    }
    ProductSpec {
        index,
        sku,
        slug,
        name,
        description,
        leaf,
        brand,
        base_price,
        sale_price,
        weight_grams: r.range(50, 5_000) as i64,
        images,
        variants,
    }
}

/// Maps a popularity rank to a product index, so the best sellers are spread over the
/// catalog instead of being the oldest products.
fn ranked_product(rank: u64, n: u64) -> u64 {
    // a multiplier coprime with n makes `rank * m + c mod n` a permutation
    let mut m = 2_654_435_761u64 % n.max(2);
    while gcd(m, n) != 1 {
        m += 1;
    }
    (rank.wrapping_mul(m) + 7) % n
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

struct OrderSpec {
    customer: u64,
    day_offset: i64,
    lines: Vec<(u64, usize, i64)>, // product index, variant index, quantity
}

// ----------------------------------------------------------------------------------------
// Loading
// ----------------------------------------------------------------------------------------

/// Fails unless the catalog is empty: the generator makes a whole catalog, not additions.
pub fn ensure_empty(conn: &Connection) -> anyhow::Result<()> {
    let existing: i64 = conn.query_row("SELECT count(*) FROM products", [], |r| r.get(0))?;
    anyhow::ensure!(existing == 0, "the database already holds {existing} products; seed needs an empty catalog");
    Ok(())
}

/// Shipping rates, tax rates and promotion codes of the demo shop (and the tests).
pub const STORE_SETTINGS: &str = include_str!("../fixtures/store-settings.sql");

/// Generates the catalog into `conn`, whose catalog must be empty. Runs in a few large
/// transactions; returns what it wrote.
pub fn seed(conn: &mut Connection, opts: SeedOptions) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(opts.products > 0, "--products must be at least 1");
    ensure_empty(conn)?;

    // Secondary indexes are dropped for the load and built afterwards: one sorted build
    // per index is several times cheaper than a million random-order inserts into each.
    // The full-text trigger goes too: FTS5 flushes its in-memory terms at every statement
    // savepoint, so a trigger-fed load writes one tiny segment per product. The index is
    // filled by one INSERT ... SELECT at the end instead.
    let deferred: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL
             AND ((type = 'index' AND tbl_name IN ('products', 'variants', 'product_images', 'reviews', 'orders'))
                  OR (type = 'trigger' AND tbl_name IN ('products', 'inventory', 'reviews')))",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, sql) in &deferred {
        let kind = if sql.starts_with("CREATE TRIGGER") { "TRIGGER" } else { "INDEX" };
        conn.execute_batch(&format!("DROP {kind} {name}"))?;
    }
    // Full-text index: buffer more terms in memory and skip incremental merges while
    // loading; one merge at the end.
    conn.execute_batch(
        "INSERT INTO products_fts(products_fts, rank) VALUES ('hashsize', 268435456);
         INSERT INTO products_fts(products_fts, rank) VALUES ('automerge', 0);",
    )?;
    let started = std::time::Instant::now();
    let loaded = load(conn, opts);
    tracing::info!(secs = started.elapsed().as_secs_f32(), "rows loaded");
    // Restore the indexes and settings whether or not the load succeeded, so the schema
    // is never left incomplete.
    for (_, sql) in &deferred {
        let sql = sql
            .replacen("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
            .replacen("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX IF NOT EXISTS", 1)
            .replacen("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1);
        conn.execute_batch(&sql)?;
    }
    tracing::info!(secs = started.elapsed().as_secs_f32(), "indexes built");
    conn.execute_batch(
        "INSERT INTO products_fts(products_fts, rank) VALUES ('hashsize', 1048576);
         INSERT INTO products_fts(products_fts, rank) VALUES ('automerge', 4);",
    )?;
    let report = loaded?;
    // The loader wrote in_stock and the ratings itself: the counters and the text remain.
    rebuild_counters(conn)?;
    tracing::info!("counters built");
    conn.execute_batch(FULL_TEXT)?;
    tracing::info!("full-text rows indexed");
    conn.execute_batch(FULL_TEXT_OPTIMIZE)?;
    tracing::info!(secs = started.elapsed().as_secs_f32(), "full-text index built");
    conn.execute_batch(STORE_SETTINGS)?;
    Ok(report)
}

/// The listing counters (whole catalog, per category, per brand; by stock) from one pass
/// over the narrow facet index instead of one scan of the wide product rows per table.
fn rebuild_counters(conn: &Connection) -> rusqlite::Result<()> {
    use std::collections::HashMap;
    let mut total: HashMap<i64, i64> = HashMap::new();
    let mut by_category: HashMap<(i64, i64), i64> = HashMap::new();
    let mut by_brand: HashMap<(i64, i64), i64> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT category_id, coalesce(brand_id, 0), in_stock FROM products INDEXED BY idx_products_facets
         WHERE status = 'active'",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (c, b, s): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        *total.entry(s).or_default() += 1;
        *by_category.entry((c, s)).or_default() += 1;
        *by_brand.entry((b, s)).or_default() += 1;
    }
    conn.execute_batch(
        "DELETE FROM product_totals; DELETE FROM category_product_counts; DELETE FROM brand_product_counts;",
    )?;
    let mut ins = conn.prepare("INSERT INTO product_totals(in_stock, n) VALUES (?1, ?2)")?;
    for (s, n) in total {
        ins.execute(params![s, n])?;
    }
    let mut ins = conn.prepare("INSERT INTO category_product_counts(category_id, in_stock, n) VALUES (?1, ?2, ?3)")?;
    for ((c, s), n) in by_category {
        ins.execute(params![c, s, n])?;
    }
    let mut ins = conn.prepare("INSERT INTO brand_product_counts(brand_id, in_stock, n) VALUES (?1, ?2, ?3)")?;
    for ((b, s), n) in by_brand {
        ins.execute(params![b, s, n])?;
    }
    Ok(())
}

/// The full-text rows of every active product, in one statement (one savepoint, so FTS5
/// buffers terms instead of flushing a segment per row).
const FULL_TEXT: &str = "DELETE FROM products_fts;
         INSERT INTO products_fts(rowid, name, description, brand, category)
             SELECT p.id, p.name, p.description, coalesce(b.name, ''), c.name
             FROM products p JOIN categories c ON c.id = p.category_id LEFT JOIN brands b ON b.id = p.brand_id
             WHERE p.status = 'active' ORDER BY p.id;";

/// Merges the full-text index into one segment (done once after a bulk load).
const FULL_TEXT_OPTIMIZE: &str = "INSERT INTO products_fts(products_fts) VALUES ('optimize');";

fn load(conn: &mut Connection, opts: SeedOptions) -> anyhow::Result<SeedReport> {
    let n = opts.products;
    let brands = brand_count(n);
    let customers = (n / 10).clamp(50, 200_000);
    let order_count = opts.orders.unwrap_or((n / 2).max(100));
    let now = opts.anchor_ms;
    let mut report = SeedReport::default();

    let bar = if opts.progress {
        let bar = ProgressBar::new(n * 2 + order_count);
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {percent:>3}% {pos}/{len} ({per_sec}, eta {eta})")
                .expect("static progress template")
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    // -- reference data -------------------------------------------------------------------
    bar.set_message("catalog");
    let tx = conn.transaction()?;
    let tree = {
        let mut cat = tx.prepare_cached(
            "INSERT INTO categories(id, parent_id, name, slug, description, position, depth, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut id = 0i64;
        let mut leaves = Vec::new();
        for (d, dept) in DEPARTMENTS.iter().enumerate() {
            id += 1;
            let dept_id = id;
            let dept_slug = slugify(dept.name);
            cat.execute(params![
                dept_id,
                None::<i64>,
                dept.name,
                dept_slug,
                format!("Everything in {}.", dept.name),
                d as i64,
                0,
                now - 800 * DAY_MS
            ])?;
            for (s, (sub, _)) in dept.subs.iter().enumerate() {
                id += 1;
                let sub_id = id;
                let sub_slug = format!("{dept_slug}-{}", slugify(sub));
                cat.execute(params![
                    sub_id,
                    dept_id,
                    sub,
                    sub_slug,
                    format!("{sub} in {}.", dept.name),
                    s as i64,
                    1,
                    now - 800 * DAY_MS
                ])?;
                for (l, kind) in LEAF_KINDS.iter().enumerate() {
                    id += 1;
                    let name = format!("{sub} {kind}");
                    cat.execute(params![
                        id,
                        sub_id,
                        name,
                        format!("{sub_slug}-{}", slugify(kind)),
                        format!("{name}."),
                        l as i64,
                        2,
                        now - 800 * DAY_MS
                    ])?;
                    leaves.push((d, s, l, id));
                }
            }
        }
        report.categories = id as u64;
        Tree { leaves }
    };
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO brands(id, name, slug, description, logo_url, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for b in 0..brands {
            let name = brand_name(opts.seed, b);
            let slug = format!("{}-{}", slugify(&name), b + 1);
            st.execute(params![
                b as i64 + 1,
                name,
                slug,
                format!("{name} makes things people keep."),
                format!("/media/brands/{slug}.png"),
                now - 900 * DAY_MS
            ])?;
        }
        report.brands = brands;
        tx.execute_batch(
            "INSERT INTO attributes(id, name, slug) VALUES (1, 'Colour', 'colour'), (2, 'Size', 'size');",
        )?;
        let mut av = tx.prepare_cached("INSERT INTO attribute_values(id, attribute_id, value) VALUES (?1, ?2, ?3)")?;
        for (i, c) in COLOURS.iter().enumerate() {
            av.execute(params![i as i64 + 1, 1, c])?;
        }
        for (i, s) in SIZES.iter().enumerate() {
            av.execute(params![100 + i as i64 + 1, 2, s])?;
        }
        let mut cu = tx.prepare_cached(
            "INSERT INTO customers(id, email, name, password_hash, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, '!', 'customer', ?4, ?4)",
        )?;
        for c in 0..customers {
            let mut r = Rng::derive(opts.seed, 3, c);
            let first =
                r.pick(&["Alex", "Sam", "Jo", "Maria", "Chen", "Priya", "Noah", "Lea", "Omar", "Ines", "Yuki", "Ola"]);
            let last =
                r.pick(&["Smith", "Garcia", "Khan", "Muller", "Rossi", "Kim", "Novak", "Silva", "Berg", "Okafor"]);
            cu.execute(params![
                c as i64 + 1,
                format!("customer{}@example.com", c + 1),
                format!("{first} {last}"),
                now - 700 * DAY_MS
            ])?;
        }
        report.customers = customers;
    }
    tx.commit()?;

    tracing::info!("reference data loaded");
    // -- past orders, decided before products so products carry their sales counts ---------
    let mut sales = vec![0i64; n as usize];
    let orders: Vec<OrderSpec> = (0..order_count)
        .map(|o| {
            let mut r = Rng::derive(opts.seed, 4, o);
            let lines = r.weighted(&[50, 30, 15, 5]) + 1;
            let mut picked = Vec::with_capacity(lines);
            for _ in 0..lines {
                let rank = (r.unit().powf(3.0) * n as f64) as u64 % n;
                let p = ranked_product(rank, n);
                if picked.iter().any(|(q, _, _)| *q == p) {
                    continue;
                }
                let qty = r.weighted(&[80, 15, 5]) as i64 + 1;
                picked.push((p, r.range(0, 5) as usize, qty));
            }
            OrderSpec {
                customer: r.range(0, customers - 1),
                day_offset: -(r.unit().powf(1.5) * 120.0) as i64 - 1,
                lines: picked,
            }
        })
        .collect();
    for o in &orders {
        for (p, _, q) in &o.lines {
            sales[*p as usize] += q;
        }
    }

    // -- products ---------------------------------------------------------------------------
    bar.set_message("products");
    let leaves = tree.leaves.len();
    const CHUNK: u64 = 50_000;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let tx = conn.transaction()?;
        {
            let mut prod = tx.prepare_cached(
                "INSERT INTO products(id, sku, slug, name, description, category_id, brand_id, currency, base_price,
                    sale_price, status, in_stock, sales_count, weight_grams, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'USD', ?8, ?9, 'active', ?10, ?11, ?12, ?13, ?13)",
            )?;
            let mut var = tx.prepare_cached(
                "INSERT INTO variants(id, product_id, sku, name, base_price, sale_price, position, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut vav = tx.prepare_cached(
                "INSERT INTO variant_attribute_values(variant_id, attribute_value_id) VALUES (?1, ?2)",
            )?;
            let mut inv = tx.prepare_cached(
                "INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)",
            )?;
            let mut img = tx.prepare_cached(
                "INSERT INTO product_images(product_id, url, thumbnail_url, alt, position) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for i in start..end {
                let p = product_spec(opts.seed, i, leaves, brands);
                let id = i as i64 + 1;
                let created = now - 730 * DAY_MS + (i as i64 * (730 * DAY_MS) / n as i64);
                let in_stock = p.variants.iter().any(|v| v.available > 0);
                prod.execute(params![
                    id,
                    p.sku,
                    p.slug,
                    p.name,
                    p.description,
                    tree.leaves[p.leaf].3,
                    p.brand as i64 + 1,
                    p.base_price,
                    p.sale_price,
                    in_stock as i64,
                    sales[i as usize],
                    p.weight_grams,
                    created
                ])?;
                for (k, v) in p.variants.iter().enumerate() {
                    let vid = variant_id(id, k);
                    let (vb, vs) = if v.surcharge > 0 {
                        (Some(p.base_price + v.surcharge), p.sale_price.map(|s| s + v.surcharge))
                    } else {
                        (None, None)
                    };
                    var.execute(params![vid, id, format!("{}-{}", p.sku, k + 1), v.name, vb, vs, k as i64, created])?;
                    if let Some(c) = v.colour {
                        vav.execute(params![vid, c as i64 + 1])?;
                    }
                    if let Some(s) = v.size {
                        vav.execute(params![vid, 100 + s as i64 + 1])?;
                    }
                    inv.execute(params![vid, v.available, created])?;
                    report.variants += 1;
                }
                for k in 0..p.images {
                    img.execute(params![
                        id,
                        format!("/media/products/{}/{}.jpg", p.sku, k + 1),
                        format!("/media/products/{}/{}-thumb.jpg", p.sku, k + 1),
                        format!("{} image {}", p.name, k + 1),
                        k as i64
                    ])?;
                    report.images += 1;
                }
            }
        }
        tx.commit()?;
        bar.inc(end - start);
        start = end;
    }
    report.products = n;

    tracing::info!("products loaded");
    // -- orders, bestseller days and reviews ----------------------------------------------
    bar.set_message("orders");
    let mut reviewed: HashSet<(u64, u64)> = HashSet::new();
    let mut ratings: std::collections::HashMap<i64, [i64; 5]> = std::collections::HashMap::new();
    let tx = conn.transaction()?;
    {
        let mut ord = tx.prepare_cached(
            "INSERT INTO orders(id, customer_id, status, currency, subtotal, discount, shipping, tax, total, created_at, paid_at,
                                email, shipping_address, shipping_option, payment_method, updated_at)
             SELECT ?1, ?2, ?3, ?9, ?4, 0, ?5, ?6, ?7, ?8, ?8, c.email,
                    json_object('name', c.name, 'line1', (?1 % 997 + 1) || ' Market Street', 'line2', '',
                                'city', 'Springfield', 'state', 'CA', 'postal_code', '94100', 'country', 'US',
                                'phone', ''),
                    'standard', 'card', ?8
             FROM customers c WHERE c.id = ?2",
        )?;
        let mut item = tx.prepare_cached(
            "INSERT INTO order_items(order_id, line, product_id, variant_id, sku, name, unit_price, quantity, line_total,
                                     fulfilled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        // a shipped order's one parcel, delivered a few days after it left
        let mut parcel = tx.prepare_cached(
            "INSERT INTO fulfillments(id, order_id, carrier, tracking_number, tracking_url, created_at, delivered_at)
             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut parcel_line = tx.prepare_cached(
            "INSERT INTO fulfillment_lines(fulfillment_id, order_id, line, quantity) VALUES (?1, ?1, ?2, ?3)",
        )?;
        let mut daily = tx.prepare_cached(
            "INSERT INTO product_sales_daily(day, product_id, units) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET units = units + excluded.units",
        )?;
        let mut rev = tx.prepare_cached(
            "INSERT INTO reviews(product_id, customer_id, rating, title, body, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (o, spec) in orders.iter().enumerate() {
            if spec.lines.is_empty() {
                continue;
            }
            let mut r = Rng::derive(opts.seed, 5, o as u64);
            let order_id = o as i64 + 1;
            let created = now + spec.day_offset * DAY_MS + r.range(0, DAY_MS as u64 - 1) as i64;
            let mut subtotal = 0;
            let lines: Vec<_> = spec
                .lines
                .iter()
                .map(|(pi, vi, q)| {
                    let p = product_spec(opts.seed, *pi, leaves, brands);
                    let v = *vi % p.variants.len();
                    let unit = p.price() + p.variants[v].surcharge;
                    subtotal += unit * q;
                    (p, v, *q, unit)
                })
                .collect();
            let shipping = if subtotal >= 5_000 { 0 } else { 499 };
            let tax = subtotal * 8 / 100;
            let status = if spec.day_offset < -7 { "fulfilled" } else { "paid" };
            ord.execute(params![
                order_id,
                spec.customer as i64 + 1,
                status,
                subtotal,
                shipping,
                tax,
                subtotal + shipping + tax,
                created,
                opts.currency.as_str()
            ])?;
            let shipped = status == "fulfilled";
            if shipped {
                // its own stream: the reviews drawn below stay what they were
                let mut r = Rng::derive(opts.seed, 7, o as u64);
                let (carrier, tracking) = if r.chance(0.5) {
                    ("UPS", format!("1Z{:06}A{:09}", opts.seed % 1_000_000, order_id))
                } else {
                    ("USPS", format!("9400{:018}", order_id))
                };
                let url = match carrier {
                    "UPS" => format!("https://www.ups.com/track?tracknum={tracking}"),
                    _ => format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}"),
                };
                let sent = created + DAY_MS + r.range(0, DAY_MS as u64 - 1) as i64;
                let arrived = (sent + r.range(2, 5) as i64 * DAY_MS).min(now - 1);
                parcel.execute(params![order_id, carrier, tracking, url, sent.min(now - 1), arrived])?;
            }
            for (line, (p, v, q, unit)) in lines.iter().enumerate() {
                let pid = p.index as i64 + 1;
                item.execute(params![
                    order_id,
                    line as i64 + 1,
                    pid,
                    variant_id(pid, *v),
                    p.sku,
                    p.name,
                    unit,
                    q,
                    unit * q,
                    if shipped { *q } else { 0 }
                ])?;
                if shipped {
                    parcel_line.execute(params![order_id, line as i64 + 1, q])?;
                }
                daily.execute(params![created.div_euclid(DAY_MS), pid, q])?;
                if r.chance(0.3) && reviewed.insert((spec.customer, p.index)) {
                    let rating = r.weighted(&[5, 7, 13, 30, 45]) + 1;
                    let status = match r.weighted(&[90, 8, 2]) {
                        0 => "approved",
                        1 => "pending",
                        _ => "rejected",
                    };
                    let title = r.pick(&REVIEW_TITLES[rating - 1]);
                    let body = format!(
                        "{} Bought the {} {} days ago; {}.",
                        title,
                        p.name,
                        r.range(3, 60),
                        if rating >= 4 { "would buy again" } else { "expected more for the price" }
                    );
                    let at = (created + r.range(2, 14) as i64 * DAY_MS).min(now - 1);
                    rev.execute(params![pid, spec.customer as i64 + 1, rating as i64, title, body, status, at])?;
                    if status == "approved" {
                        ratings.entry(pid).or_insert([0; 5])[rating - 1] += 1;
                    }
                    report.reviews += 1;
                }
            }
            report.orders += 1;
            bar.inc(1);
        }
        // the rating summaries the review trigger would have kept, written while the
        // rating index is still dropped
        let mut upd = tx.prepare_cached(
            "UPDATE products SET ratings_1 = ?2, ratings_2 = ?3, ratings_3 = ?4, ratings_4 = ?5, ratings_5 = ?6
             WHERE id = ?1",
        )?;
        for (pid, h) in &ratings {
            upd.execute(params![pid, h[0], h[1], h[2], h[3], h[4]])?;
        }
    }
    tx.commit()?;
    bar.inc(n);
    bar.finish_and_clear();
    Ok(report)
}

/// Variant ids are derived from the product id so the order phase can name them without a
/// lookup; every product has at most 99 variants in generated data.
fn variant_id(product_id: i64, k: usize) -> i64 {
    product_id * 100 + k as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_are_a_pure_function_of_seed_and_index() {
        let a = product_spec(7, 123, 240, 40);
        let b = product_spec(7, 123, 240, 40);
        assert_eq!((a.name, a.base_price, a.variants.len()), (b.name, b.base_price, b.variants.len()));
        let c = product_spec(8, 123, 240, 40);
        assert!(c.slug != b.slug || c.base_price != b.base_price);
    }

    #[test]
    fn ranked_product_is_a_permutation() {
        for n in [1u64, 2, 10, 97, 1000] {
            let mut seen: Vec<u64> = (0..n).map(|r| ranked_product(r, n)).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len() as u64, n);
        }
    }

    #[test]
    fn slugify_makes_url_safe_slugs() {
        assert_eq!(slugify("Home & Kitchen"), "home-kitchen");
        assert_eq!(slugify("  Eau de Parfum!"), "eau-de-parfum");
        assert_eq!(slugify("Children's Books"), "children-s-books");
    }
}
