//! Importing products: a CSV (header row) or JSON-lines file of
//! `sku, name, slug?, description?, category (slug), brand (slug)?, price, sale_price?, stock, active?`
//! is read as a stream, checked row by row, and upserted by `sku` in batches, one writer
//! unit per batch (so the shop keeps serving between them), each row in a savepoint of its
//! own: a bad row is reported with its line, field and reason, and the good rows around it
//! go in. The writer's hooks make every imported product listed, searchable and correctly
//! cached as its batch commits.
//!
//! Upsert rules: a new sku creates an active product (draft with `active=false`) with one
//! variant holding `stock`; a known sku gets the row's name, category, price, sale price
//! (empty: none) and stock, and its slug, description, brand and status when given. A row
//! that changes nothing writes nothing: importing a file twice changes nothing the second
//! time. Prices are integer minor units (1999 for 19.99).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::db::writer::WriteTx;
use crate::domain::{is_slug, slugify, text};

/// Rows per writer unit.
pub const BATCH: usize = 500;
/// Rejected rows kept in a report (all are counted).
pub const KEEP_REJECTED: usize = 1000;
/// The longest row a file may hold: a row is read whole into memory before it is checked,
/// so a longer one (a missing closing quote, a file that is not CSV) fails the import
/// naming its line instead of growing a buffer without end.
pub const MAX_ROW_BYTES: u64 = 1 << 20;
/// Bytes read ahead of the row being parsed (the read buffer).
const READ_AHEAD: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
    /// By a file's extension (`.csv`, `.jsonl`, `.ndjson`).
    pub fn of_path(p: &Path) -> Option<Format> {
        p.extension().and_then(|e| e.to_str()).and_then(|e| Format::parse(&e.to_ascii_lowercase()))
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// A row the file got wrong: where, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rejected {
    /// the line of the file (1 is a CSV file's header)
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// A checked row.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub sku: String,
    pub name: String,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub category: String,
    pub brand: Option<String>,
    pub price: i64,
    pub sale_price: Option<i64>,
    pub stock: i64,
    pub active: Option<bool>,
    /// the row's translations (columns `name@de`, `description@de`, `slug@de`; in JSON
    /// lines `"translations": {"de": {"name": …}}`), by language
    pub translations: Vec<TranslationRow>,
}

/// A row's translation into one language.
#[derive(Debug, Clone)]
pub struct TranslationRow {
    pub locale: String,
    pub name: String,
    pub description: Option<String>,
    pub slug: Option<String>,
}

/// The texts a translation column names (`name@de`): 0 name, 1 description, 2 slug.
const TRANSLATED: [&str; 3] = ["name", "description", "slug"];

/// A translation column's (text, language), the language spelled as the shop spells
/// tags (`pt-br` is `pt-BR`); `None` for any other column.
fn translation_column(name: &str) -> Option<(usize, String)> {
    let (text, tag) = name.split_once('@')?;
    let kind = TRANSLATED.iter().position(|t| *t == text)?;
    let tag = match tag.split_once('-') {
        Some((l, r)) => format!("{}-{}", l.to_ascii_lowercase(), r.to_ascii_uppercase()),
        None => tag.to_ascii_lowercase(),
    };
    crate::domain::locale::is_tag(&tag).then_some((kind, tag))
}

/// A row's translation cells: (text, language, value).
type RawTranslations = Vec<(usize, String, Option<String>)>;

const FIELDS: [&str; 10] =
    ["sku", "name", "slug", "description", "category", "brand", "price", "sale_price", "stock", "active"];

/// Why a file cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {reason}")]
    Header { line: u64, reason: String },
    #[error("line {line}: the row is longer than {} MiB", MAX_ROW_BYTES >> 20)]
    RowTooLong { line: u64 },
}

/// A file read through a count of the bytes since the last row ended; the reader fails
/// (`ErrorKind::FileTooLarge`, recognised by [`too_long`]) when one row, plus the read
/// buffer's look-ahead, passes [`MAX_ROW_BYTES`].
struct RowCap {
    file: File,
    since_row: Arc<AtomicU64>,
}

impl RowCap {
    fn open(path: &Path) -> std::io::Result<(RowCap, Arc<AtomicU64>)> {
        let since_row = Arc::new(AtomicU64::new(0));
        Ok((RowCap { file: File::open(path)?, since_row: since_row.clone() }, since_row))
    }
}

impl Read for RowCap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let since = self.since_row.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if since > MAX_ROW_BYTES + READ_AHEAD as u64 {
            return Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, "row too long"));
        }
        Ok(n)
    }
}

fn too_long(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::FileTooLarge
}

/// A row's fields as text, before checking (CSV cells, or JSON values).
type Raw = [Option<String>; 10];

fn check(line: u64, raw: Raw, cells: RawTranslations) -> Result<Row, Rejected> {
    let reject = |field: &str, reason: &str| Rejected { line, field: field.into(), reason: reason.into() };
    let [sku, name, slug, description, category, brand, price, sale_price, stock, active] = raw;
    let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let sku = given(sku).ok_or_else(|| reject("sku", "is required"))?;
    let sku = text(&sku, 64, false).map_err(|e| reject("sku", &e))?;
    let name = given(name).ok_or_else(|| reject("name", "is required"))?;
    let name = text(&name, 300, false).map_err(|e| reject("name", &e))?;
    let slug = given(slug);
    if slug.as_deref().is_some_and(|s| !is_slug(s)) {
        return Err(reject("slug", "must be 1 to 200 lower-case letters, digits or '-'"));
    }
    let description = match given(description) {
        Some(d) => Some(text(&d, 20_000, true).map_err(|e| reject("description", &e))?),
        None => None,
    };
    let category = given(category).ok_or_else(|| reject("category", "is required (a category's slug)"))?;
    let brand = given(brand);
    let int = |field: &str, v: Option<String>, max: i64| -> Result<Option<i64>, Rejected> {
        match given(v) {
            None => Ok(None),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Ok(Some(n)),
                Ok(_) => Err(reject(field, &format!("must be 0 to {max}"))),
                Err(_) => Err(reject(
                    field,
                    if field.ends_with("price") {
                        "must be a whole number of minor units (1999 for 19.99)"
                    } else {
                        "must be a whole number"
                    },
                )),
            },
        }
    };
    let price = int("price", price, 10_000_000_000)?.ok_or_else(|| reject("price", "is required (minor units)"))?;
    let sale_price = int("sale_price", sale_price, 10_000_000_000)?;
    if sale_price.is_some_and(|s| s >= price) {
        return Err(reject("sale_price", "must be below price"));
    }
    let stock = int("stock", stock, 1_000_000_000)?.ok_or_else(|| reject("stock", "is required"))?;
    let active = match given(active).map(|s| s.to_ascii_lowercase()) {
        None => None,
        Some(s) => match s.as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => return Err(reject("active", "must be true or false")),
        },
    };
    // a language with any text given needs its name
    let mut translations: Vec<TranslationRow> = Vec::new();
    let mut tags: Vec<&str> = cells.iter().filter(|c| given(c.2.clone()).is_some()).map(|c| c.1.as_str()).collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        let cell = |kind: usize| given(cells.iter().find(|c| c.0 == kind && c.1 == tag).and_then(|c| c.2.clone()));
        let field = |kind: usize| format!("{}@{tag}", TRANSLATED[kind]);
        let name =
            cell(0).ok_or_else(|| reject(&field(0), &format!("is required when the row translates into {tag}")))?;
        let name = text(&name, 300, false).map_err(|e| reject(&field(0), &e))?;
        let description = match cell(1) {
            Some(d) => Some(text(&d, 20_000, true).map_err(|e| reject(&field(1), &e))?),
            None => None,
        };
        let slug = cell(2);
        if slug.as_deref().is_some_and(|s| !is_slug(s)) {
            return Err(reject(&field(2), "must be 1 to 200 lower-case letters, digits or '-'"));
        }
        translations.push(TranslationRow { locale: tag.to_owned(), name, description, slug });
    }
    Ok(Row { line, sku, name, slug, description, category, brand, price, sale_price, stock, active, translations })
}

enum Reader {
    /// `next_line`: where the next row starts (the parser's own position runs on inside a row)
    Csv {
        records: csv::StringRecordsIntoIter<RowCap>,
        columns: Vec<Option<usize>>,
        /// the translation columns: (column, text, language)
        translated: Vec<(usize, usize, String)>,
        next_line: u64,
    },
    Jsonl {
        lines: std::io::Lines<BufReader<RowCap>>,
        line: u64,
    },
}

/// The rows of a file, read as a stream a batch at a time.
pub struct Source {
    reader: Reader,
    since_row: Arc<AtomicU64>,
    done: bool,
}

/// One batch of a file: the checked rows and the rejected ones.
#[derive(Debug, Default)]
pub struct Batch {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
    /// lines read for this batch (rows, good or bad)
    pub read: u64,
}

impl Source {
    pub fn open(path: &Path, format: Format) -> Result<Source, FileError> {
        let (file, since_row) = RowCap::open(path)?;
        let reader = match format {
            Format::Csv => {
                let mut r = csv_reader(file);
                let header = r.headers().map_err(|e| match e.kind() {
                    csv::ErrorKind::Io(io) if too_long(io) => FileError::RowTooLong { line: 1 },
                    _ => FileError::Header { line: 1, reason: e.to_string() },
                })?;
                let header = header.clone();
                since_row.store(0, Ordering::Relaxed);
                let names: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
                if let Some(unknown) =
                    names.iter().find(|n| !FIELDS.contains(&n.as_str()) && translation_column(n).is_none())
                {
                    return Err(FileError::Header {
                        line: 1,
                        reason: format!(
                            "unknown column {unknown:?}; the columns are {} and name@, description@ and slug@ a \
                             language (name@de)",
                            FIELDS.join(", ")
                        ),
                    });
                }
                for required in ["sku", "name", "category", "price", "stock"] {
                    if !names.iter().any(|n| n == required) {
                        return Err(FileError::Header {
                            line: 1,
                            reason: format!("the header has no {required:?} column"),
                        });
                    }
                }
                let columns = FIELDS.iter().map(|f| names.iter().position(|n| n == f)).collect();
                let translated = names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| translation_column(n).map(|(k, t)| (i, k, t)))
                    .collect();
                Reader::Csv { next_line: r.position().line(), records: r.into_records(), columns, translated }
            }
            Format::Jsonl => Reader::Jsonl { lines: BufReader::with_capacity(READ_AHEAD, file).lines(), line: 0 },
        };
        Ok(Source { reader, since_row, done: false })
    }

    /// Reads up to `n` rows.
    pub fn next_batch(&mut self, n: usize) -> Result<Batch, FileError> {
        let mut batch = Batch::default();
        while !self.done && batch.read < n as u64 {
            match &mut self.reader {
                Reader::Csv { records, columns, translated, next_line } => match records.next() {
                    None => self.done = true,
                    Some(Err(e)) => {
                        let line = e.position().map_or(0, |p| p.line());
                        if let csv::ErrorKind::Io(io) = e.kind() {
                            if too_long(io) {
                                return Err(FileError::RowTooLong { line: *next_line });
                            }
                        }
                        if e.is_io_error() {
                            return Err(FileError::Io(std::io::Error::other(e.to_string())));
                        }
                        batch.read += 1;
                        batch.rejected.push(Rejected { line, field: "row".into(), reason: e.to_string() });
                    }
                    Some(Ok(rec)) => {
                        self.since_row.store(0, Ordering::Relaxed);
                        *next_line = records.reader().position().line();
                        batch.read += 1;
                        let line = rec.position().map_or(0, |p| p.line());
                        // a cell an export defused comes back as it was (see bulk::formula)
                        let raw: Raw = std::array::from_fn(|i| {
                            columns[i].and_then(|c| rec.get(c)).map(|s| super::formula::restore(s).to_owned())
                        });
                        let cells = translated
                            .iter()
                            .map(|(c, k, t)| {
                                (*k, t.clone(), rec.get(*c).map(|s| super::formula::restore(s).to_owned()))
                            })
                            .collect();
                        match check(line, raw, cells) {
                            Ok(row) => batch.rows.push(row),
                            Err(r) => batch.rejected.push(r),
                        }
                    }
                },
                Reader::Jsonl { lines, line } => match lines.next() {
                    None => self.done = true,
                    Some(Err(e)) if too_long(&e) => return Err(FileError::RowTooLong { line: *line + 1 }),
                    Some(Err(e)) => return Err(FileError::Io(e)),
                    Some(Ok(text)) => {
                        self.since_row.store(0, Ordering::Relaxed);
                        *line += 1;
                        if text.trim().is_empty() {
                            continue;
                        }
                        batch.read += 1;
                        match json_row(*line, &text).and_then(|(raw, cells)| check(*line, raw, cells)) {
                            Ok(row) => batch.rows.push(row),
                            Err(r) => batch.rejected.push(r),
                        }
                    }
                },
            }
        }
        Ok(batch)
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

fn json_row(line: u64, text: &str) -> Result<(Raw, RawTranslations), Rejected> {
    let reject = |field: &str, reason: String| Rejected { line, field: field.into(), reason };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| reject("row", format!("not JSON: {e}")))?;
    let serde_json::Value::Object(map) = value else { return Err(reject("row", "must be a JSON object".into())) };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str()) && *k != "translations") {
        return Err(reject(unknown, format!("unknown field; the fields are {} and translations", FIELDS.join(", "))));
    }
    // {"de": {"name": …, "description": …, "slug": …}}
    let mut cells = Vec::new();
    match map.get("translations") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(by_tag)) => {
            for (tag, texts) in by_tag {
                let Some((_, tag)) = translation_column(&format!("name@{tag}")) else {
                    return Err(reject("translations", format!("{tag:?} is not a language tag (de, pt-BR)")));
                };
                let serde_json::Value::Object(texts) = texts else {
                    return Err(reject("translations", format!("{tag}: must be an object of name, description, slug")));
                };
                for (k, v) in texts {
                    let Some(kind) = TRANSLATED.iter().position(|t| t == k) else {
                        return Err(reject("translations", format!("{tag}: unknown text {k:?}")));
                    };
                    let v = match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        _ => return Err(reject("translations", format!("{tag}.{k}: must be a string"))),
                    };
                    cells.push((kind, tag.clone(), v));
                }
            }
        }
        Some(_) => return Err(reject("translations", "must be an object by language".into())),
    }
    let mut raw: Raw = Default::default();
    for (i, f) in FIELDS.iter().enumerate() {
        raw[i] = match map.get(*f) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            Some(_) => return Err(reject(f, "must be a string, a number or a boolean".into())),
        };
    }
    Ok((raw, cells))
}

/// Rows in a file (one quick pass), for the progress's total.
/// A row longer than [`MAX_ROW_BYTES`] fails the count, naming its line.
pub fn count_rows(path: &Path, format: Format) -> Result<u64, FileError> {
    let (file, since_row) = RowCap::open(path)?;
    Ok(match format {
        Format::Csv => {
            let mut r = csv_reader(file);
            let mut rec = csv::ByteRecord::new();
            let mut n = 0;
            if let Err(e) = r.headers() {
                if matches!(e.kind(), csv::ErrorKind::Io(io) if too_long(io)) {
                    return Err(FileError::RowTooLong { line: 1 });
                }
            }
            let mut next_line = r.position().line();
            loop {
                match r.read_byte_record(&mut rec) {
                    Ok(true) => {
                        since_row.store(0, Ordering::Relaxed);
                        next_line = r.position().line();
                        n += 1;
                    }
                    Ok(false) => break,
                    Err(e) => match e.kind() {
                        csv::ErrorKind::Io(io) if too_long(io) => {
                            return Err(FileError::RowTooLong { line: next_line })
                        }
                        // a malformed row is the checking pass's to report
                        _ => break,
                    },
                }
            }
            n
        }
        Format::Jsonl => {
            let mut n = 0;
            for (i, l) in BufReader::with_capacity(READ_AHEAD, file).split(b'\n').enumerate() {
                let l =
                    l.map_err(|e| if too_long(&e) { FileError::RowTooLong { line: i as u64 + 1 } } else { e.into() })?;
                since_row.store(0, Ordering::Relaxed);
                if !l.iter().all(u8::is_ascii_whitespace) {
                    n += 1;
                }
            }
            n
        }
    })
}

fn csv_reader(file: RowCap) -> csv::Reader<RowCap> {
    csv::ReaderBuilder::new().flexible(true).buffer_capacity(READ_AHEAD).from_reader(file)
}

/// What a batch did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Applied {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejected>,
}

/// What an import needs of the shop's settings.
#[derive(Debug, Clone)]
pub struct Shop {
    /// the shop's languages, the default first (a row's translations must be into the others)
    pub locales: Vec<String>,
    /// the default currency: of the products' prices (in their events)
    pub currency: crate::domain::Currency,
}

impl Shop {
    pub fn of(live: &crate::config::Config) -> Shop {
        Shop {
            locales: crate::domain::locale::enabled(&live.locales).into_iter().map(str::to_owned).collect(),
            currency: crate::domain::currencies::default_of(&live.currencies),
        }
    }
}

/// Upserts `rows` in the writer unit `tx`, each in a savepoint of its own.
pub fn apply(tx: &WriteTx, rows: &[Row], now: i64, shop: &Shop) -> rusqlite::Result<Applied> {
    let locales = &shop.locales;
    let mut out = Applied::default();
    let announce_created = crate::webhooks::store::anyone_listens(tx, "product.created")?;
    let announce_updated = crate::webhooks::store::anyone_listens(tx, "product.updated")?;
    for row in rows {
        tx.execute_batch("SAVEPOINT import_row")?;
        match upsert(tx, row, now).and_then(|outcome| translate(tx, row, outcome, now, locales)) {
            Ok(outcome) => {
                tx.execute_batch("RELEASE import_row")?;
                match outcome {
                    Upserted::Created(id) => {
                        out.created += 1;
                        if announce_created {
                            crate::webhooks::emit_product(tx, "product.created", id, shop.currency, now)?;
                        }
                    }
                    Upserted::Updated(id) => {
                        out.updated += 1;
                        if announce_updated {
                            crate::webhooks::emit_product(tx, "product.updated", id, shop.currency, now)?;
                        }
                    }
                    Upserted::Unchanged => out.unchanged += 1,
                }
            }
            Err(RowError::Rejected(field, reason)) => {
                tx.execute_batch("ROLLBACK TO import_row; RELEASE import_row")?;
                out.rejected.push(Rejected { line: row.line, field, reason });
            }
            Err(RowError::Sql(e)) => {
                tx.execute_batch("ROLLBACK TO import_row; RELEASE import_row")?;
                if tx.is_autocommit() {
                    return Err(e); // the transaction itself is gone
                }
                out.rejected.push(Rejected { line: row.line, field: "row".into(), reason: format!("not stored: {e}") });
            }
        }
    }
    Ok(out)
}

enum Upserted {
    Created(i64),
    Updated(i64),
    Unchanged,
}

enum RowError {
    Rejected(String, String),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for RowError {
    fn from(e: rusqlite::Error) -> Self {
        RowError::Sql(e)
    }
}

fn id_by_slug(tx: &WriteTx, table: &str, slug: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached(&format!("SELECT id FROM {table} WHERE slug = ?1"))?.query_row([slug], |r| r.get(0)).optional()
}

fn slug_owner(tx: &WriteTx, slug: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT id FROM products WHERE slug = ?1")?.query_row([slug], |r| r.get(0)).optional()
}

fn upsert(tx: &WriteTx, row: &Row, now: i64) -> Result<Upserted, RowError> {
    let category = id_by_slug(tx, "categories", &row.category)?.ok_or_else(|| {
        RowError::Rejected("category".into(), format!("no category with the slug {:?}", row.category))
    })?;
    let brand = match &row.brand {
        Some(b) => Some(
            id_by_slug(tx, "brands", b)?
                .ok_or_else(|| RowError::Rejected("brand".into(), format!("no brand with the slug {b:?}")))?,
        ),
        None => None,
    };
    let existing: Option<i64> =
        tx.prepare_cached("SELECT id FROM products WHERE sku = ?1")?.query_row([&row.sku], |r| r.get(0)).optional()?;
    match existing {
        None => {
            let slug = match &row.slug {
                Some(s) => {
                    if slug_owner(tx, s)?.is_some() {
                        return Err(RowError::Rejected("slug".into(), "is taken by another product".into()));
                    }
                    s.clone()
                }
                None => free_slug(tx, row)?,
            };
            let status = if row.active == Some(false) { "draft" } else { "active" };
            let new = crate::catalog::store::NewProduct {
                sku: &row.sku,
                slug: &slug,
                name: &row.name,
                description: row.description.as_deref().unwrap_or(""),
                category_id: category,
                brand_id: brand,
                base_price: row.price,
                sale_price: row.sale_price,
                status,
                weight_grams: 0,
                quantity: row.stock,
            };
            Ok(Upserted::Created(crate::catalog::store::insert_product(tx, &new, now)?))
        }
        Some(id) => {
            if let Some(s) = &row.slug {
                if slug_owner(tx, s)?.is_some_and(|owner| owner != id) {
                    return Err(RowError::Rejected("slug".into(), "is taken by another product".into()));
                }
            }
            let status = row.active.map(|a| if a { "active" } else { "draft" });
            // only what differs is written: an unchanged row invalidates nothing
            let changed = tx
                .prepare_cached(
                    "UPDATE products SET name = ?2, slug = coalesce(?3, slug), description = coalesce(?4, description),
                         category_id = ?5, brand_id = coalesce(?6, brand_id), base_price = ?7, sale_price = ?8,
                         status = coalesce(?9, status), updated_at = ?10
                     WHERE id = ?1 AND (name IS NOT ?2 OR slug IS NOT coalesce(?3, slug)
                         OR description IS NOT coalesce(?4, description) OR category_id IS NOT ?5
                         OR brand_id IS NOT coalesce(?6, brand_id) OR base_price IS NOT ?7
                         OR sale_price IS NOT ?8 OR status IS NOT coalesce(?9, status))",
                )?
                .execute(params![
                    id,
                    row.name,
                    row.slug,
                    row.description,
                    category,
                    brand,
                    row.price,
                    row.sale_price,
                    status,
                    now
                ])?;
            let variant: Option<i64> = tx
                .prepare_cached("SELECT id FROM variants WHERE product_id = ?1 ORDER BY position, id LIMIT 1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let mut restocked = 0;
            if let Some(v) = variant {
                restocked = tx
                    .prepare_cached(
                        "INSERT INTO inventory(variant_id, available, reserved, updated_at) VALUES (?1, ?2, 0, ?3)
                         ON CONFLICT(variant_id) DO UPDATE SET available = excluded.available, updated_at = excluded.updated_at
                         WHERE available IS NOT excluded.available",
                    )?
                    .execute(params![v, row.stock, now])?;
            }
            Ok(if changed + restocked > 0 { Upserted::Updated(id) } else { Upserted::Unchanged })
        }
    }
}

/// Writes the row's translations of the product `outcome` names (those that differ from
/// what is stored); a product otherwise unchanged whose translation changed is updated.
fn translate(tx: &WriteTx, row: &Row, outcome: Upserted, now: i64, locales: &[String]) -> Result<Upserted, RowError> {
    use crate::catalog::translations::{self as tr, Owner};
    let id = match outcome {
        Upserted::Created(id) | Upserted::Updated(id) => id,
        Upserted::Unchanged if row.translations.is_empty() => return Ok(outcome),
        Upserted::Unchanged => {
            tx.prepare_cached("SELECT id FROM products WHERE sku = ?1")?.query_row([&row.sku], |r| r.get(0))?
        }
    };
    let mut changed = false;
    for t in &row.translations {
        let field = |text: &str| format!("{text}@{}", t.locale);
        if !locales.iter().skip(1).any(|l| *l == t.locale) {
            let others = locales.iter().skip(1).cloned().collect::<Vec<_>>().join(", ");
            return Err(RowError::Rejected(
                field("name"),
                if others.is_empty() {
                    "the shop has one language: add others to the locales setting first".into()
                } else {
                    format!("must be a language of the shop other than its default: {others}")
                },
            ));
        }
        let slug = match &t.slug {
            Some(s) => s.clone(),
            None => Some(slugify(&t.name))
                .filter(|s| is_slug(s))
                .ok_or_else(|| RowError::Rejected(field("slug"), "cannot be made from the name; give one".into()))?,
        };
        if tr::slug_taken(tx, Owner::Product, id, &t.locale, &slug)? {
            return Err(RowError::Rejected(field("slug"), format!("another product has this slug in {}", t.locale)));
        }
        let description = t.description.as_deref().unwrap_or("");
        let now_stored = tr::get(tx, Owner::Product, id, &t.locale)?;
        if now_stored.is_some_and(|n| n.name == t.name && n.description == description && n.slug == slug) {
            continue;
        }
        tr::put(tx, Owner::Product, id, &t.locale, &tr::Change { name: &t.name, description, slug: &slug }, now)?;
        changed = true;
    }
    Ok(match outcome {
        Upserted::Unchanged if changed => Upserted::Updated(id),
        other => other,
    })
}

/// A slug for a new product: from its name, else its sku; made unique with the sku.
fn free_slug(tx: &WriteTx, row: &Row) -> Result<String, RowError> {
    let base = Some(slugify(&row.name)).filter(|s| !s.is_empty()).unwrap_or_else(|| slugify(&row.sku));
    let mut candidates = vec![base.clone(), format!("{base}-{}", slugify(&row.sku))];
    candidates.retain(|c| is_slug(c));
    for c in candidates {
        if slug_owner(tx, &c)?.is_none() {
            return Ok(c);
        }
    }
    Err(RowError::Rejected("slug".into(), "none given, and the name's and sku's are taken; give one".into()))
}

/// What a whole import did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// rows read (good and bad)
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// rows rejected, all counted
    pub rejected_count: u64,
    /// the first 1,000 rejected rows: line, field, reason
    pub rejected: Vec<Rejected>,
}

impl Report {
    pub fn reject(&mut self, r: Rejected) {
        self.rejected_count += 1;
        if self.rejected.len() < KEEP_REJECTED {
            self.rejected.push(r);
        }
    }
    pub fn add(&mut self, read: u64, applied: Applied) {
        self.rows += read;
        self.created += applied.created;
        self.updated += applied.updated;
        self.unchanged += applied.unchanged;
        for r in applied.rejected {
            self.reject(r);
        }
        self.rejected.sort_by_key(|r| r.line);
    }
}
