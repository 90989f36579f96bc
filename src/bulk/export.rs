//! Exporting products, orders or customers as CSV or JSON lines, streamed: one read
//! transaction (a consistent snapshot while the shop keeps writing), rows written as they
//! are read, memory flat whatever the size. A products export has the import's columns
//! (with each language's translation: `name@de`, `description@de`, `slug@de`; in JSON
//! lines `translations`), so it imports back as it is.

use std::io::Write;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::import::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Products,
    Orders,
    Customers,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "products" => Some(Kind::Products),
            "orders" => Some(Kind::Orders),
            "customers" => Some(Kind::Customers),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Products => "products",
            Kind::Orders => "orders",
            Kind::Customers => "customers",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Products => {
                &["sku", "name", "slug", "description", "category", "brand", "price", "sale_price", "stock", "active"]
            }
            Kind::Orders => &[
                "id",
                "created_at",
                "status",
                "customer_id",
                "email",
                "currency",
                "subtotal",
                "discount",
                "shipping",
                "tax",
                "total",
                "items",
                "paid_at",
            ],
            Kind::Customers => &["id", "email", "name", "role", "created_at"],
        }
    }

    /// Rows changed (products) or created (orders, customers) at or after `?1`, by id.
    fn sql(self) -> &'static str {
        match self {
            Kind::Products => {
                "SELECT p.sku, p.name, p.slug, p.description, c.slug, b.slug, p.base_price, p.sale_price,
                        (SELECT coalesce(i.available, 0) FROM variants v LEFT JOIN inventory i ON i.variant_id = v.id
                          WHERE v.product_id = p.id ORDER BY v.position, v.id LIMIT 1),
                        CASE p.status WHEN 'active' THEN 'true' ELSE 'false' END
                 FROM products p JOIN categories c ON c.id = p.category_id LEFT JOIN brands b ON b.id = p.brand_id
                 WHERE p.updated_at >= ?1 AND p.status <> 'retired' ORDER BY p.id"
            }
            Kind::Orders => {
                "SELECT o.id, strftime('%Y-%m-%dT%H:%M:%fZ', o.created_at / 1000.0, 'unixepoch'), o.status,
                        o.customer_id, o.email, o.currency, o.subtotal, o.discount, o.shipping, o.tax, o.total,
                        (SELECT coalesce(sum(quantity), 0) FROM order_items WHERE order_id = o.id),
                        strftime('%Y-%m-%dT%H:%M:%fZ', o.paid_at / 1000.0, 'unixepoch')
                 FROM orders o WHERE o.created_at >= ?1 ORDER BY o.id"
            }
            Kind::Customers => {
                "SELECT id, email, name, role, strftime('%Y-%m-%dT%H:%M:%fZ', created_at / 1000.0, 'unixepoch')
                 FROM customers WHERE created_at >= ?1 ORDER BY id"
            }
        }
    }

    fn count_sql(self) -> &'static str {
        match self {
            Kind::Products => "SELECT count(*) FROM products WHERE updated_at >= ?1 AND status <> 'retired'",
            Kind::Orders => "SELECT count(*) FROM orders WHERE created_at >= ?1",
            Kind::Customers => "SELECT count(*) FROM customers WHERE created_at >= ?1",
        }
    }
}

/// Columns written as JSON numbers in JSON lines (and `active` as a boolean).
fn numeric(kind: Kind, column: &str) -> bool {
    match kind {
        Kind::Products => matches!(column, "price" | "sale_price" | "stock"),
        Kind::Orders => matches!(column, "subtotal" | "discount" | "shipping" | "tax" | "total" | "items"),
        Kind::Customers => false,
    }
}

/// Writes every row of `kind` changed since `since` (unix ms) to `out`; `progress(done,
/// total)` is called every 1,000 rows and at the end. Returns the rows written.
pub fn write(
    conn: &Connection,
    kind: Kind,
    format: Format,
    since: i64,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<u64> {
    conn.execute_batch("BEGIN")?;
    let result = write_in_snapshot(conn, kind, format, since, out, progress);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn write_in_snapshot(
    conn: &Connection,
    kind: Kind,
    format: Format,
    since: i64,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let total: i64 = conn.query_row(kind.count_sql(), [since], |r| r.get(0))?;
    let total = total as u64;
    progress(0, total);
    // a products export carries the languages its products are translated into
    let locales: Vec<String> = if kind == Kind::Products {
        let tags: Vec<String> = conn
            .prepare("SELECT DISTINCT locale FROM product_translations ORDER BY locale")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tags.into_iter().filter(|t| crate::domain::locale::is_tag(t)).collect()
    } else {
        Vec::new()
    };
    let mut columns: Vec<String> = kind.columns().iter().map(|c| (*c).to_owned()).collect();
    let mut sql = kind.sql().to_owned();
    if !locales.is_empty() {
        let (mut extra, mut joins) = (String::new(), String::new());
        for (i, l) in locales.iter().enumerate() {
            for text in ["name", "description", "slug"] {
                columns.push(format!("{text}@{l}"));
                extra.push_str(&format!(", t{i}.{text}"));
            }
            joins.push_str(&format!(
                " LEFT JOIN product_translations t{i} ON t{i}.product_id = p.id AND t{i}.locale = '{l}'"
            ));
        }
        sql = sql
            .replacen(
                "CASE p.status WHEN 'active' THEN 'true' ELSE 'false' END",
                &format!("CASE p.status WHEN 'active' THEN 'true' ELSE 'false' END{extra}"),
                1,
            )
            .replacen(
                "LEFT JOIN brands b ON b.id = p.brand_id",
                &format!("LEFT JOIN brands b ON b.id = p.brand_id{joins}"),
                1,
            );
    }
    let base = kind.columns().len();
    enum Sink<'a> {
        Csv(Box<csv::Writer<&'a mut dyn Write>>),
        Json(&'a mut dyn Write),
    }
    let mut sink = match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().buffer_capacity(64 * 1024).from_writer(out);
            w.write_record(&columns)?;
            Sink::Csv(Box::new(w))
        }
        Format::Jsonl => Sink::Json(out),
    };
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([since])?;
    let mut n = 0u64;
    let mut cells: Vec<Option<String>> = Vec::with_capacity(columns.len());
    let mut line = Vec::with_capacity(1024);
    while let Some(r) = rows.next()? {
        cells.clear();
        for i in 0..columns.len() {
            cells.push(match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => None,
                rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        match &mut sink {
            Sink::Csv(w) => {
                // text, not numbers, may carry a spreadsheet formula
                let text = |i: usize| matches!(r.get_ref(i), Ok(rusqlite::types::ValueRef::Text(_)));
                for (i, c) in cells.iter().enumerate() {
                    match c.as_deref() {
                        Some(s) if text(i) => w.write_field(super::formula::neutralize(s).as_bytes())?,
                        other => w.write_field(other.unwrap_or(""))?,
                    }
                }
                w.write_record(None::<&[u8]>)?;
            }
            Sink::Json(out) => {
                let mut obj = serde_json::Map::with_capacity(columns.len());
                for (c, v) in columns.iter().zip(&cells).take(base) {
                    let value = match v {
                        None => serde_json::Value::Null,
                        Some(s) if kind == Kind::Products && c == "active" => serde_json::Value::Bool(s == "true"),
                        Some(s) if numeric(kind, c) => {
                            s.parse::<i64>().map(Into::into).unwrap_or_else(|_| s.clone().into())
                        }
                        Some(s) => serde_json::Value::String(s.clone()),
                    };
                    obj.insert(c.clone(), value);
                }
                // {"translations": {"de": {"name": …, "description": …, "slug": …}}}, the
                // languages it is translated into
                let mut by_tag = serde_json::Map::new();
                for (i, l) in locales.iter().enumerate() {
                    let at = base + 3 * i;
                    if let Some(name) = &cells[at] {
                        let mut t = serde_json::Map::new();
                        t.insert("name".into(), name.clone().into());
                        t.insert("description".into(), cells[at + 1].clone().unwrap_or_default().into());
                        t.insert("slug".into(), cells[at + 2].clone().unwrap_or_default().into());
                        by_tag.insert(l.clone(), t.into());
                    }
                }
                if !by_tag.is_empty() {
                    obj.insert("translations".into(), by_tag.into());
                }
                line.clear();
                serde_json::to_writer(&mut line, &obj)?;
                line.push(b'\n');
                out.write_all(&line)?;
            }
        }
        n += 1;
        if n.is_multiple_of(1000) {
            progress(n, total.max(n));
        }
    }
    let out = match sink {
        Sink::Csv(w) => (*w).into_inner().map_err(|e| anyhow::anyhow!("writing the export: {}", e.error()))?,
        Sink::Json(out) => out,
    };
    out.flush()?;
    progress(n, total.max(n));
    Ok(n)
}
