//! Translations of the catalog: a product's, category's or brand's name, description and
//! slug in one of the shop's other languages (see [`crate::domain::locale`]). Written by the
//! administrators' `PUT …/translations/{locale}` in one writer unit with its audit row;
//! read by every catalog answer in that language, field by field over the default's.
//!
//! A change touches its owner's row in the same unit (a product's `updated_at`; a
//! category's or brand's change noted as such), so the writer's hooks invalidate what
//! shows it and re-index its words exactly as for a change of the owner itself.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::writer::WriteTx;
use crate::domain::Timestamp;

/// What a translation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Product,
    Category,
    Brand,
}

impl Owner {
    fn table(self) -> &'static str {
        match self {
            Owner::Product => "product_translations",
            Owner::Category => "category_translations",
            Owner::Brand => "brand_translations",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Owner::Product => "product_id",
            Owner::Category => "category_id",
            Owner::Brand => "brand_id",
        }
    }

    fn owners(self) -> &'static str {
        match self {
            Owner::Product => "products",
            Owner::Category => "categories",
            Owner::Brand => "brands",
        }
    }

    /// The word in messages and audit rows.
    pub fn word(self) -> &'static str {
        match self {
            Owner::Product => "product",
            Owner::Category => "category",
            Owner::Brand => "brand",
        }
    }

    /// The longest name the owner itself may have.
    pub fn max_name(self) -> usize {
        match self {
            Owner::Product => 300,
            Owner::Category | Owner::Brand => 200,
        }
    }
}

/// One translation.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TranslationOut {
    /// a language of the `locales` setting other than the default
    #[schema(example = "de")]
    pub locale: String,
    pub name: String,
    /// empty: the default language's description shows
    pub description: String,
    /// unique within its language; the catalog finds the owner by it in that language
    pub slug: String,
    pub updated_at: Timestamp,
}

fn out(r: &rusqlite::Row<'_>) -> rusqlite::Result<TranslationOut> {
    Ok(TranslationOut {
        locale: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        slug: r.get(3)?,
        updated_at: Timestamp(r.get(4)?),
    })
}

/// Whether `owner` `id` exists.
pub fn owner_exists(conn: &Connection, owner: Owner, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)", owner.owners()))?
        .query_row([id], |r| r.get(0))
}

/// Every translation of `owner` `id`, by language.
pub fn list(conn: &Connection, owner: Owner, id: i64) -> rusqlite::Result<Vec<TranslationOut>> {
    conn.prepare_cached(&format!(
        "SELECT locale, name, description, slug, updated_at FROM {} WHERE {} = ?1 ORDER BY locale",
        owner.table(),
        owner.column()
    ))?
    .query_map([id], out)?
    .collect()
}

/// One translation.
pub fn get(conn: &Connection, owner: Owner, id: i64, locale: &str) -> rusqlite::Result<Option<TranslationOut>> {
    conn.prepare_cached(&format!(
        "SELECT locale, name, description, slug, updated_at FROM {} WHERE {} = ?1 AND locale = ?2",
        owner.table(),
        owner.column()
    ))?
    .query_row(params![id, locale], out)
    .optional()
}

/// Whether `slug` in `locale` would name another than `owner` `id`: another's translation
/// in that language, or another's own slug (which every language finds too).
pub fn slug_taken(conn: &Connection, owner: Owner, id: i64, locale: &str, slug: &str) -> rusqlite::Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {t} WHERE locale = ?1 AND slug = ?2 AND {c} <> ?3)
             OR EXISTS (SELECT 1 FROM {o} WHERE slug = ?2 AND id <> ?3)",
        t = owner.table(),
        c = owner.column(),
        o = owner.owners()
    );
    conn.prepare_cached(&sql)?.query_row(params![locale, slug, id], |r| r.get(0))
}

/// The translation as it is to be: name and slug checked, description possibly empty.
pub struct Change<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub slug: &'a str,
}

/// Sets `owner` `id`'s translation into `locale` (the caller checked the owner exists and
/// the slug is free); answers it. Touches the owner (see the module's note).
pub fn put(
    tx: &WriteTx,
    owner: Owner,
    id: i64,
    locale: &str,
    c: &Change<'_>,
    now: i64,
) -> rusqlite::Result<TranslationOut> {
    tx.prepare_cached(&format!(
        "INSERT INTO {t}({col}, locale, name, description, slug, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT({col}, locale) DO UPDATE SET name = excluded.name, description = excluded.description,
             slug = excluded.slug, updated_at = excluded.updated_at",
        t = owner.table(),
        col = owner.column()
    ))?
    .execute(params![id, locale, c.name, c.description, c.slug, now])?;
    touch(tx, owner, id, now)?;
    Ok(get(tx, owner, id, locale)?.expect("just written"))
}

/// Removes `owner` `id`'s translation into `locale`; whether there was one.
pub fn delete(tx: &WriteTx, owner: Owner, id: i64, locale: &str, now: i64) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(&format!("DELETE FROM {} WHERE {} = ?1 AND locale = ?2", owner.table(), owner.column()))?
        .execute(params![id, locale])?;
    if n > 0 {
        touch(tx, owner, id, now)?;
    }
    Ok(n > 0)
}

fn touch(tx: &WriteTx, owner: Owner, id: i64, now: i64) -> rusqlite::Result<()> {
    match owner {
        // a product's page, its summaries and its words change as if it had been edited
        Owner::Product => {
            tx.prepare_cached("UPDATE products SET updated_at = ?2 WHERE id = ?1")?.execute(params![id, now])?;
        }
        // category and brand names show across the catalog (and in search's facets)
        Owner::Category | Owner::Brand => tx.note_only(owner.owners(), "translation", id),
    }
    Ok(())
}

/// SQL for a catalog answer's texts in a language: for a table aliased `alias` whose
/// owner column is `owner.column()`, the join of its translations (`LEFT JOIN`, so a row
/// without one keeps the default's), aliased `t{alias}`. `locale` is a checked tag
/// ([`crate::domain::locale::is_tag`]), so it is written into the statement as a literal: each
/// language has its own cached statement.
pub fn join(owner: Owner, alias: &str, locale: &str) -> String {
    debug_assert!(crate::domain::locale::is_tag(locale));
    format!(
        " LEFT JOIN {t} t{alias} ON t{alias}.{c} = {alias}.id AND t{alias}.locale = '{locale}'",
        t = owner.table(),
        c = owner.column()
    )
}

/// The text column `field` of `alias` in the language joined by [`join`], falling back to
/// the default's (an empty translated description shows the default's).
pub fn field(alias: &str, field: &str) -> String {
    if field == "description" {
        format!("coalesce(nullif(t{alias}.{field}, ''), {alias}.{field})")
    } else {
        format!("coalesce(t{alias}.{field}, {alias}.{field})")
    }
}

/// The id of the `owner` whose slug is `slug` in `locale` (its translation's), if any.
pub fn owner_by_slug(conn: &Connection, owner: Owner, locale: &str, slug: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(&format!("SELECT {} FROM {} WHERE locale = ?1 AND slug = ?2", owner.column(), owner.table()))?
        .query_row(params![locale, slug], |r| r.get(0))
        .optional()
}

/// The owner's own name, description and slug (the default language's), if it exists.
pub fn own_texts(conn: &Connection, owner: Owner, id: i64) -> rusqlite::Result<Option<(String, String, String)>> {
    conn.prepare_cached(&format!("SELECT name, description, slug FROM {} WHERE id = ?1", owner.owners()))?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
}

/// A storefront address (`/p/{slug}` or `/c/{slug}`, with its query) as it reads in
/// `target` (`None`: the default language), from how it reads in `current`: the slug of
/// the same product or category in the other language. Other addresses are as they are.
pub fn address_in(
    conn: &Connection,
    address: &str,
    current: Option<&str>,
    target: Option<&str>,
) -> rusqlite::Result<String> {
    let (path, query) = address.split_once('?').map_or((address, None), |(p, q)| (p, Some(q)));
    let (owner, slug) = match (path.strip_prefix("/p/"), path.strip_prefix("/c/")) {
        (Some(s), _) => (Owner::Product, s),
        (_, Some(s)) => (Owner::Category, s),
        _ => return Ok(address.to_owned()),
    };
    let own: Option<i64> = conn
        .prepare_cached(&format!("SELECT id FROM {} WHERE slug = ?1", owner.owners()))?
        .query_row([slug], |r| r.get(0))
        .optional()?;
    let id = match (current, own) {
        (Some(l), _) => owner_by_slug(conn, owner, l, slug)?.or(own),
        (None, own) => own,
    };
    let Some(id) = id else { return Ok(address.to_owned()) };
    let slug = match target {
        Some(l) => get(conn, owner, id, l)?.map(|t| t.slug),
        None => None,
    };
    let slug = match slug {
        Some(s) => s,
        None => own_texts(conn, owner, id)?.map(|t| t.2).unwrap_or_default(),
    };
    let prefix = if owner == Owner::Product { "/p/" } else { "/c/" };
    Ok(match query {
        Some(q) => format!("{prefix}{slug}?{q}"),
        None => format!("{prefix}{slug}"),
    })
}
