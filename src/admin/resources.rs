//! The admin API's reference data — categories, brands, promotions, shipping rates, tax
//! rates — as one description per table: which fields a client may set and how each is
//! validated. Create, change and delete are then the same code for all five: validated at
//! the boundary, one writer unit with its audit row, the row answered as JSON.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, OptionalExtension};
use serde_json::{Map, Value};

use super::{audit, AdminSession};
use crate::app::AppState;
use crate::db::writer::WriteTx;
use crate::domain::{is_slug, text, Country, Id};
use crate::error::ApiError;
use crate::http::respond::{data, no_content};
use crate::http::{Checks, JsonBody};
use crate::util::now_ms;

pub enum FieldKind {
    Text(usize),
    Slug,
    Int(i64, i64),
    /// an id of a row of this table
    Ref(&'static str),
    Enum(&'static [&'static str]),
    Country,
    /// a country code or `*`
    Zone,
    /// true or false, and which when a new row does not say
    Flag(bool),
    /// one of the shop's currencies (the `currencies` setting)
    Currency,
    /// amounts in the shop's other currencies than the default, each within the bounds: a
    /// JSON object of currency code → minor units of it (`{"EUR": 450}`), stored as its
    /// text; an empty object is none
    Amounts(i64, i64),
}

pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub nullable: bool,
}

const fn field(name: &'static str, kind: FieldKind, required: bool, nullable: bool) -> Field {
    Field { name, kind, required, nullable }
}

pub struct Resource {
    pub table: &'static str,
    pub entity: &'static str,
    pub fields: &'static [Field],
}

const MONEY: FieldKind = FieldKind::Int(0, 10_000_000_000);
const TIME: FieldKind = FieldKind::Int(0, 253_402_300_799_999);

pub const CATEGORIES: Resource = Resource {
    table: "categories",
    entity: "category",
    fields: &[
        field("name", FieldKind::Text(200), true, false),
        field("slug", FieldKind::Slug, true, false),
        field("description", FieldKind::Text(5000), false, false),
        field("parent_id", FieldKind::Ref("categories"), false, true),
        field("position", FieldKind::Int(0, 1_000_000), false, false),
    ],
};
pub const BRANDS: Resource = Resource {
    table: "brands",
    entity: "brand",
    fields: &[
        field("name", FieldKind::Text(200), true, false),
        field("slug", FieldKind::Slug, true, false),
        field("description", FieldKind::Text(5000), false, false),
        field("logo_url", FieldKind::Text(500), false, true),
    ],
};
pub const PROMOTIONS: Resource = Resource {
    table: "promotions",
    entity: "promotion",
    fields: &[
        field("code", FieldKind::Text(64), true, false),
        field("kind", FieldKind::Enum(&["percent", "fixed"]), true, false),
        field("value", FieldKind::Int(1, 10_000_000_000), true, false),
        field("min_subtotal", MONEY, false, false),
        field("starts_at", TIME, false, true),
        field("ends_at", TIME, false, true),
        field("usage_limit", FieldKind::Int(1, 1_000_000_000), false, true),
        field("active", FieldKind::Flag(true), false, false),
        field("value_in", FieldKind::Amounts(1, 10_000_000_000), false, true),
        field("min_subtotal_in", FieldKind::Amounts(0, 10_000_000_000), false, true),
    ],
};
pub const SHIPPING_RATES: Resource = Resource {
    table: "shipping_rates",
    entity: "shipping_rate",
    fields: &[
        field("code", FieldKind::Text(64), true, false),
        field("name", FieldKind::Text(200), true, false),
        field("country", FieldKind::Zone, true, false),
        field("min_subtotal", MONEY, false, false),
        field("max_subtotal", MONEY, false, true),
        field("max_weight_grams", FieldKind::Int(0, 100_000_000), false, true),
        field("price", MONEY, true, false),
        field("free_above", MONEY, false, true),
        field("price_in", FieldKind::Amounts(0, 10_000_000_000), false, true),
        field("free_above_in", FieldKind::Amounts(0, 10_000_000_000), false, true),
    ],
};
pub const TAX_RATES: Resource = Resource {
    table: "tax_rates",
    entity: "tax_rate",
    fields: &[
        field("country", FieldKind::Country, true, false),
        field("region", FieldKind::Text(100), false, false),
        field("name", FieldKind::Text(200), true, false),
        field("rate_bp", FieldKind::Int(0, 10_000), true, false),
        // prices shown in its country or region include it (gross prices): the tax is
        // the part of them it holds, not added on top
        field("inclusive", FieldKind::Flag(false), false, false),
    ],
};

pub const CUSTOMER_GROUPS: Resource = Resource {
    table: "customer_groups",
    entity: "customer_group",
    fields: &[
        field("name", FieldKind::Text(100), true, false),
        field("description", FieldKind::Text(1000), false, false),
    ],
};

pub const PRICE_LISTS: Resource = Resource {
    table: "price_lists",
    entity: "price_list",
    fields: &[
        field("name", FieldKind::Text(200), true, false),
        field("currency", FieldKind::Currency, true, false),
        field("customer_group_id", FieldKind::Ref("customer_groups"), false, true),
        field("starts_at", TIME, false, true),
        field("ends_at", TIME, false, true),
    ],
};

/// A field's value from JSON, or the message of why it is not one.
fn value(field: &Field, v: &Value) -> Result<Sql, String> {
    if v.is_null() {
        return if field.nullable { Ok(Sql::Null) } else { Err("must not be null".into()) };
    }
    let int = || v.as_i64().ok_or_else(|| "must be a whole number".to_owned());
    let string = || v.as_str().ok_or_else(|| "must be a string".to_owned());
    Ok(match &field.kind {
        FieldKind::Text(max) => Sql::Text(text(string()?, *max, !field.required)?),
        FieldKind::Slug => {
            let s = string()?;
            if !is_slug(s) {
                return Err("must be 1-200 of a-z, 0-9 and -".into());
            }
            Sql::Text(s.to_owned())
        }
        FieldKind::Int(lo, hi) => {
            let n = int()?;
            if !(*lo..=*hi).contains(&n) {
                return Err(format!("must be {lo} to {hi}"));
            }
            Sql::Integer(n)
        }
        FieldKind::Ref(_) => {
            let id: Id = serde_json::from_value(v.clone()).map_err(|_| "must be an id".to_owned())?;
            Sql::Integer(id.0)
        }
        FieldKind::Enum(choices) => {
            let s = string()?;
            if !choices.contains(&s) {
                return Err(format!("must be one of {}", choices.join(", ")));
            }
            Sql::Text(s.to_owned())
        }
        FieldKind::Country => Sql::Text(Country::parse(string()?)?.as_str().to_owned()),
        FieldKind::Zone => match string()? {
            "*" => Sql::Text("*".into()),
            s => Sql::Text(Country::parse(s)?.as_str().to_owned()),
        },
        FieldKind::Flag(_) => Sql::Integer(v.as_bool().ok_or_else(|| "must be true or false".to_owned())? as i64),
        FieldKind::Currency => {
            let s = string()?;
            crate::domain::Currency::parse(s)
                .ok_or_else(|| "must be a currency code (3 capital letters)".to_owned())?;
            Sql::Text(s.to_owned())
        }
        FieldKind::Amounts(lo, hi) => {
            let map = v.as_object().ok_or_else(|| "must be an object of currency codes and amounts".to_owned())?;
            let mut amounts = BTreeMap::new();
            for (code, amount) in map {
                crate::domain::Currency::parse(code)
                    .ok_or_else(|| format!("{code:?} is not a currency code (3 capital letters)"))?;
                let n = amount.as_i64().ok_or_else(|| format!("the amount in {code} must be a whole number"))?;
                if !(*lo..=*hi).contains(&n) {
                    return Err(format!("the amount in {code} must be {lo} to {hi} (minor units of it)"));
                }
                amounts.insert(code.clone(), n);
            }
            if amounts.is_empty() {
                Sql::Null
            } else {
                Sql::Text(serde_json::to_string(&amounts).expect("amounts serialize"))
            }
        }
    })
}

/// The body's fields, validated; on create every required field must be there.
fn fields(r: &Resource, body: &Map<String, Value>, create: bool) -> Result<Vec<(&'static str, Sql)>, ApiError> {
    let mut checks = Checks::new();
    let mut out = Vec::new();
    for key in body.keys() {
        if !r.fields.iter().any(|f| f.name == key) {
            checks.error(key, "is not a field of this resource");
        }
    }
    for field in r.fields {
        match body.get(field.name) {
            Some(v) => {
                if let Some(s) = checks.check(field.name, value(field, v)) {
                    out.push((field.name, s));
                }
            }
            None if create && field.required => checks.error(field.name, "is required"),
            None => {}
        }
    }
    if !create && out.is_empty() && body.is_empty() {
        checks.error("body", "names no field to change");
    }
    checks.finish()?;
    Ok(out)
}

/// What the shop's settings say of the values: a currency must be one the shop sells in.
fn check_settings(app: &AppState, r: &Resource, values: &[(&'static str, Sql)]) -> Result<(), ApiError> {
    let mut checks = Checks::new();
    let setting = app.live().currencies.clone();
    for (name, v) in values {
        let field = r.fields.iter().find(|f| f.name == *name).expect("validated names");
        match (&field.kind, v) {
            (FieldKind::Currency, Sql::Text(code)) => {
                if let Err(e) = crate::domain::currencies::sold(&setting, code) {
                    checks.error(name, e);
                }
            }
            (FieldKind::Amounts(..), Sql::Text(json)) => {
                let amounts: BTreeMap<String, i64> = serde_json::from_str(json).expect("validated above");
                let mut codes = crate::domain::currencies::codes(&setting);
                let default = codes.remove(0);
                for code in amounts.keys().filter(|c| !codes.contains(c)) {
                    checks.error(
                        name,
                        if *code == default {
                            format!("{code} is the default currency: its amount is the field's own")
                        } else if codes.is_empty() {
                            format!("{code} is not sold in: the shop sells only in {default}")
                        } else {
                            format!("{code} is not sold in: the shop's other currencies are {}", codes.join(", "))
                        },
                    );
                }
            }
            _ => {}
        }
    }
    checks.finish()
}

/// The SQL of a row as a JSON object (ids as strings, like the rest of the API).
fn json_object(r: &Resource) -> String {
    let mut cols = vec!["'id', cast(id AS TEXT)".to_owned()];
    for f in r.fields {
        cols.push(match f.kind {
            FieldKind::Ref(_) => format!("'{0}', cast({0} AS TEXT)", f.name),
            FieldKind::Flag(_) => format!("'{0}', json(CASE {0} WHEN 0 THEN 'false' ELSE 'true' END)", f.name),
            FieldKind::Amounts(..) => format!("'{0}', json({0})", f.name),
            _ => format!("'{0}', {0}", f.name),
        });
    }
    format!("json_object({})", cols.join(", "))
}

/// The row as JSON.
fn row(tx: &rusqlite::Connection, r: &Resource, id: i64) -> rusqlite::Result<Option<Value>> {
    let sql = format!("SELECT {} FROM {} WHERE id = ?1", json_object(r), r.table);
    let t: Option<String> = tx.prepare_cached(&sql)?.query_row([id], |x| x.get(0)).optional()?;
    Ok(t.map(|t| serde_json::from_str(&t).expect("SQLite writes JSON")))
}

/// One row, as its page shows it (404 when there is none).
pub async fn one(app: &AppState, r: &'static Resource, raw: &str) -> Result<Map<String, Value>, ApiError> {
    let id = resource_id(r, raw)?;
    let row = app.db.read(move |conn| row(conn, r, id).map_err(ApiError::from)).await?;
    match row {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::not_found(r.entity)),
    }
}

/// A keyset page of the rows, newest first: `{"data": [...], "meta": {"next_before"}}`.
pub async fn list(app: AppState, r: &'static Resource, mut q: crate::http::QueryParams) -> Result<Response, ApiError> {
    let before = q.int(&super::BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&super::PER_PAGE);
    q.finish()?;
    let page = app
        .db
        .read(move |conn| {
            let sql = format!("SELECT id, {} FROM {} WHERE id < ?1 ORDER BY id DESC LIMIT ?2", json_object(r), r.table);
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(rusqlite::params![before, limit], |x| Ok((x.get::<_, i64>(0)?, x.get::<_, String>(1)?)))?;
            let mut data = Vec::new();
            let mut last = None;
            for row in rows {
                let (id, json) = row?;
                last = Some(id);
                data.push(serde_json::from_str::<Value>(&json).expect("SQLite writes JSON"));
            }
            let next = if data.len() as i64 == limit { last.map(|l| l.to_string()) } else { None };
            Ok::<_, ApiError>(serde_json::json!({"data": data, "meta": super::AdminListMeta { next_before: next }}))
        })
        .await?;
    Ok(crate::http::respond::private_json(StatusCode::OK, serde_json::to_vec(&page).expect("serializes")))
}

/// A rule of the table (UNIQUE, CHECK, a row still in use) turned into the client's error.
fn sql_error(r: &Resource, e: rusqlite::Error) -> ApiError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                return ApiError::new(StatusCode::CONFLICT, "conflict", format!("another {} has this value", r.entity))
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY | rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "in_use",
                    format!("the {} is referred to by other rows", r.entity),
                )
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => {
                return ApiError::validation(
                    [("body".to_owned(), format!("the values break a rule of {}", r.table))].into(),
                )
            }
            _ => {}
        }
    }
    ApiError::from(e)
}

fn check_refs(tx: &rusqlite::Connection, r: &Resource, values: &[(&'static str, Sql)]) -> Result<(), ApiError> {
    let mut checks = Checks::new();
    for (name, v) in values {
        let field = r.fields.iter().find(|f| f.name == *name).expect("validated names");
        if let (FieldKind::Ref(table), Sql::Integer(id)) = (&field.kind, v) {
            let ok: bool = tx
                .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"))?
                .query_row([id], |x| x.get(0))?;
            if !ok {
                checks.error(name, "no such row");
            }
        }
    }
    checks.finish()
}

/// Categories keep their depth: recomputed for a moved category and all below it, after
/// refusing a parent that is the category itself or one of its descendants.
fn after_category(tx: &WriteTx, id: i64) -> Result<(), ApiError> {
    let cycle: bool = tx
        .prepare_cached(
            "WITH RECURSIVE up(id, n) AS (SELECT parent_id, 0 FROM categories WHERE id = ?1
                 UNION ALL SELECT c.parent_id, n + 1 FROM categories c JOIN up ON c.id = up.id WHERE n < 1000)
             SELECT EXISTS (SELECT 1 FROM up WHERE id = ?1)",
        )?
        .query_row([id], |x| x.get(0))?;
    if cycle {
        return Err(ApiError::validation(
            [("parent_id".to_owned(), "cannot be the category itself or one below it".to_owned())].into(),
        ));
    }
    tx.prepare_cached(
        "WITH RECURSIVE sub(id, depth) AS (
             SELECT id, coalesce((SELECT p.depth + 1 FROM categories p WHERE p.id = c.parent_id), 0) FROM categories c WHERE id = ?1
             UNION ALL SELECT c.id, sub.depth + 1 FROM categories c JOIN sub ON c.parent_id = sub.id)
         UPDATE categories SET depth = (SELECT depth FROM sub WHERE sub.id = categories.id) WHERE id IN (SELECT id FROM sub)",
    )?
    .execute([id])?;
    Ok(())
}

fn after_write(r: &Resource, tx: &WriteTx, id: i64) -> Result<(), ApiError> {
    if r.table == "categories" {
        after_category(tx, id)?;
    }
    Ok(())
}

fn resource_id(r: &Resource, raw: &str) -> Result<i64, ApiError> {
    Id::parse(raw).map(|i| i.0).ok_or_else(|| ApiError::not_found(r.entity))
}

pub async fn create(
    app: AppState,
    admin: AdminSession,
    r: &'static Resource,
    body: Map<String, Value>,
) -> Result<Response, ApiError> {
    let values = fields(r, &body, true)?;
    check_settings(&app, r, &values)?;
    let out = app
        .db
        .writer
        .run(move |tx| {
            check_refs(tx, r, &values)?;
            let cols: Vec<&str> = values.iter().map(|(n, _)| *n).chain(["created_at"]).collect();
            let marks = vec!["?"; cols.len()].join(", ");
            let sql = format!("INSERT INTO {}({}) VALUES ({marks})", r.table, cols.join(", "));
            let args = values.iter().map(|(_, v)| v.clone()).chain([Sql::Integer(now_ms())]);
            tx.prepare_cached(&sql)?.execute(params_from_iter(args)).map_err(|e| sql_error(r, e))?;
            let id = tx.last_insert_rowid();
            after_write(r, tx, id)?;
            let after = row(tx, r, id)?;
            audit(tx, &admin, &format!("{}.create", r.entity), r.entity, id, None, after.as_ref())?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &out))
}

pub async fn update(
    app: AppState,
    admin: AdminSession,
    r: &'static Resource,
    raw: String,
    body: Map<String, Value>,
) -> Result<Response, ApiError> {
    let id = resource_id(r, &raw)?;
    let values = fields(r, &body, false)?;
    check_settings(&app, r, &values)?;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let before = row(tx, r, id)?.ok_or_else(|| ApiError::not_found(r.entity))?;
            check_refs(tx, r, &values)?;
            if !values.is_empty() {
                let sets: Vec<String> = values.iter().map(|(n, _)| format!("{n} = ?")).collect();
                let sql = format!("UPDATE {} SET {} WHERE id = ?", r.table, sets.join(", "));
                let args = values.iter().map(|(_, v)| v.clone()).chain([Sql::Integer(id)]);
                tx.prepare_cached(&sql)?.execute(params_from_iter(args)).map_err(|e| sql_error(r, e))?;
            }
            after_write(r, tx, id)?;
            let after = row(tx, r, id)?;
            audit(tx, &admin, &format!("{}.update", r.entity), r.entity, id, Some(&before), after.as_ref())?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::OK, &out))
}

pub async fn delete(
    app: AppState,
    admin: AdminSession,
    r: &'static Resource,
    raw: String,
) -> Result<Response, ApiError> {
    let id = resource_id(r, &raw)?;
    app.db
        .writer
        .run(move |tx| {
            let before = row(tx, r, id)?.ok_or_else(|| ApiError::not_found(r.entity))?;
            tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", r.table))?
                .execute([id])
                .map_err(|e| sql_error(r, e))?;
            audit(tx, &admin, &format!("{}.delete", r.entity), r.entity, id, Some(&before), None)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

/// The schema of a resource's body (`response`: of the row answered, with its id) from its
/// description: the same fields and rules the validation above applies.
/// What a schema of a resource is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// a create: the required fields are required
    Create,
    /// a change: any of the fields
    Change,
    /// the row as answered, with its id
    Row,
}

/// What the document says of every field of amounts per currency.
const AMOUNTS: &str = "amounts in the shop's other currencies (each one of the currencies setting other than the \
                       default, else 422): currency code → minor units of it; a currency without one converts the \
                       default's amount at its rate; {} or null: none";

/// What the document says of a field whose name alone does not.
fn about(table: &str, field: &str) -> Option<&'static str> {
    Some(match (table, field) {
        ("tax_rates", "rate_bp") => "basis points: 2000 = 20 %",
        ("customer_groups", "name") => "unique, whatever the case (409 when taken)",
        ("price_lists", "customer_group_id") => {
            "only customers of this group get its prices (none: every shopper); deleting the group deletes the list"
        }
        ("price_lists", "starts_at") => "its prices apply from this time (ms since the epoch; none: from now)",
        ("price_lists", "ends_at") => {
            "its prices apply until this time (ms since the epoch, after starts_at, else 422; none: without end)"
        }
        ("promotions", "value_in") => {
            "a fixed promotion's discount in each other currency (a percent promotion's is the same in every \
             currency: 422 \"the values break a rule of promotions\")"
        }
        ("promotions", "min_subtotal_in") => "the minimum order in each other currency",
        ("shipping_rates", "price_in") => "the rate's price in each other currency",
        ("shipping_rates", "free_above_in") => "the order from which the rate is free, in each other currency",
        ("tax_rates", "inclusive") => {
            "prices shown in its country or region include this tax (gross prices): an order's tax is the part of \
             its goods (less the discount) that is tax, `× rate / (10000 + rate)`, and is not added to the total \
             (its `tax_included` is true). Default false: the tax is added on top."
        }
        _ => return None,
    })
}

pub fn schema_of(r: &Resource, body: Body) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let response = body == Body::Row;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    let mut o = ObjectBuilder::new();
    if response {
        o = o.property("id", <Id as utoipa::PartialSchema>::schema()).required("id");
    }
    for f in r.fields {
        let t = match &f.kind {
            FieldKind::Text(max) => ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(*max))
                .pattern(Some(if f.required { crate::openapi::LINE } else { crate::openapi::OPTIONAL_LINE })),
            FieldKind::Slug => {
                ObjectBuilder::new().schema_type(Type::String).pattern(Some(crate::domain::SLUG_PATTERN))
            }
            FieldKind::Int(lo, hi) => {
                ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(*lo)).maximum(Some(*hi))
            }
            FieldKind::Ref(table) => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[1-9][0-9]{0,18}$"))
                .description(Some(format!("the id of a row of {table} (else 422)"))),
            FieldKind::Enum(choices) => {
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some(choices.iter().copied()))
            }
            FieldKind::Country => ObjectBuilder::new().schema_type(Type::String).pattern(Some(if response {
                "^[A-Z]{2}$"
            } else {
                crate::domain::Country::INPUT_PATTERN
            })),
            FieldKind::Zone => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(if response { "^([A-Z]{2}|\\*)$" } else { "^([A-Za-z]{2}|\\*)$" }))
                .description(Some("a country code, or * for anywhere else")),
            FieldKind::Flag(default) => {
                ObjectBuilder::new().schema_type(Type::Boolean).default(Some((*default).into()))
            }
            FieldKind::Currency => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(crate::domain::currencies::PATTERN))
                .description(Some("one of the shop's currencies (the currencies setting; else 422)")),
            FieldKind::Amounts(lo, hi) => ObjectBuilder::new()
                .schema_type(Type::Object)
                .property_names(Some(
                    ObjectBuilder::new().schema_type(Type::String).pattern(Some(crate::domain::currencies::PATTERN)),
                ))
                .additional_properties(Some(
                    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(*lo)).maximum(Some(*hi)),
                ))
                .max_properties(Some(crate::domain::currencies::MAX_CURRENCIES))
                .description(Some(AMOUNTS)),
        };
        let t = match (about(r.table, f.name), &f.kind) {
            (Some(d), FieldKind::Amounts(..)) => t.description(Some(format!("{d}: {AMOUNTS}"))),
            (Some(d), _) => t.description(Some(d)),
            (None, _) => t,
        };
        let t: Schema = if f.nullable {
            OneOfBuilder::new().item(t).item(ObjectBuilder::new().schema_type(Type::Null)).into()
        } else {
            t.into()
        };
        o = o.property(f.name, t);
        if (f.required && body == Body::Create) || response {
            o = o.required(f.name);
        }
    }
    if body == Body::Change {
        o = o.min_properties(Some(1));
    }
    if !response {
        o = o.additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
    }
    o.into()
}

/// The three routes of one resource, with the schemas of its bodies.
macro_rules! resource_handlers {
    ($create:ident, $update:ident, $delete:ident, $res:expr, $path:literal, $item:literal, $body:ident, $patch:ident, $row:ident) => {
        #[doc = concat!("A ", stringify!($body), " as clients send it to create one.")]
        pub struct $body;
        impl utoipa::PartialSchema for $body {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema_of(&$res, Body::Create)
            }
        }
        impl utoipa::ToSchema for $body {}
        #[doc = concat!("The fields of a ", stringify!($body), " a change sends.")]
        pub struct $patch;
        impl utoipa::PartialSchema for $patch {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema_of(&$res, Body::Change)
            }
        }
        impl utoipa::ToSchema for $patch {}
        #[doc = concat!("A ", stringify!($row), " as the API answers it.")]
        pub struct $row;
        impl utoipa::PartialSchema for $row {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema_of(&$res, Body::Row)
            }
        }
        impl utoipa::ToSchema for $row {}

        /// Create one; audited
        #[utoipa::path(post, path = $path, tag = "admin", security(("bearer" = ["admin"])),
            request_body = $body,
            responses((status = 201, description = "created", body = crate::openapi::Data<$row>),
                crate::openapi::AdminErrors, crate::openapi::BodyErrors,
                (status = 409, description = "conflict: a unique value is taken", body = crate::openapi::ErrorBody),
                crate::openapi::WriteErrors))]
        pub async fn $create(
            State(app): State<AppState>,
            admin: AdminSession,
            JsonBody(b): JsonBody<Map<String, Value>>,
        ) -> Result<Response, ApiError> {
            create(app, admin, &$res, b).await
        }

        /// Change some fields of one (required fields may not be removed); audited
        #[utoipa::path(patch, path = $item, tag = "admin", security(("bearer" = ["admin"])),
            params(("id" = String, Path, description = "its id")),
            request_body = $patch,
            responses((status = 200, description = "changed", body = crate::openapi::Data<$row>),
                crate::openapi::AdminErrors, crate::openapi::BodyErrors, crate::openapi::NotFound,
                (status = 409, description = "conflict: a unique value is taken", body = crate::openapi::ErrorBody),
                crate::openapi::WriteErrors))]
        pub async fn $update(
            State(app): State<AppState>,
            admin: AdminSession,
            Path(id): Path<String>,
            JsonBody(b): JsonBody<Map<String, Value>>,
        ) -> Result<Response, ApiError> {
            update(app, admin, &$res, id, b).await
        }

        /// Delete one that nothing refers to; audited
        #[utoipa::path(delete, path = $item, tag = "admin", security(("bearer" = ["admin"])),
            params(("id" = String, Path, description = "its id")),
            responses((status = 204, description = "deleted"), crate::openapi::AdminErrors, crate::openapi::NotFound,
                (status = 409, description = "in_use: other rows refer to it", body = crate::openapi::ErrorBody),
                crate::openapi::WriteErrors))]
        pub async fn $delete(
            State(app): State<AppState>,
            admin: AdminSession,
            Path(id): Path<String>,
        ) -> Result<Response, ApiError> {
            delete(app, admin, &$res, id).await
        }
    };
}

/// The list route of a resource (promotions, shipping and tax rates: categories and brands
/// are listed by the public catalog).
macro_rules! resource_list {
    ($list:ident, $res:expr, $path:literal, $row:ident, $page:ident, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $page {
            data: Vec<$row>,
            meta: super::AdminListMeta,
        }

        #[doc = concat!("List ", $what)]
        ///
        /// Newest first in keyset pages (`before`).
        #[utoipa::path(get, path = $path, tag = "admin", security(("bearer" = ["admin"])),
                            params(super::PageBefore),
                            responses((status = 200, description = $what, body = $page),
                                crate::openapi::AdminErrors, crate::openapi::QueryErrors, crate::openapi::ReadErrors))]
        pub async fn $list(
            State(app): State<AppState>,
            _admin: AdminSession,
            q: crate::http::QueryParams,
        ) -> Result<Response, ApiError> {
            list(app, &$res, q).await
        }
    };
}

resource_list!(list_promotions, PROMOTIONS, "/api/admin/promotions", PromotionOut, PromotionPage, "promotions");
resource_list!(
    list_shipping_rates,
    SHIPPING_RATES,
    "/api/admin/shipping-rates",
    ShippingRateOut,
    ShippingRatePage,
    "shipping rates"
);
resource_list!(list_tax_rates, TAX_RATES, "/api/admin/tax-rates", TaxRateOut, TaxRatePage, "tax rates");
resource_list!(
    list_customer_groups,
    CUSTOMER_GROUPS,
    "/api/admin/customer-groups",
    CustomerGroupOut,
    CustomerGroupPage,
    "customer groups"
);

resource_handlers!(
    create_category,
    update_category,
    delete_category,
    CATEGORIES,
    "/api/admin/categories",
    "/api/admin/categories/{id}",
    CategoryIn,
    CategoryPatch,
    CategoryOut
);
resource_handlers!(
    create_brand,
    update_brand,
    delete_brand,
    BRANDS,
    "/api/admin/brands",
    "/api/admin/brands/{id}",
    BrandIn,
    BrandPatch,
    BrandOut
);
resource_handlers!(
    create_promotion,
    update_promotion,
    delete_promotion,
    PROMOTIONS,
    "/api/admin/promotions",
    "/api/admin/promotions/{id}",
    PromotionIn,
    PromotionPatch,
    PromotionOut
);
resource_handlers!(
    create_shipping_rate,
    update_shipping_rate,
    delete_shipping_rate,
    SHIPPING_RATES,
    "/api/admin/shipping-rates",
    "/api/admin/shipping-rates/{id}",
    ShippingRateIn,
    ShippingRatePatch,
    ShippingRateOut
);
resource_handlers!(
    create_tax_rate,
    update_tax_rate,
    delete_tax_rate,
    TAX_RATES,
    "/api/admin/tax-rates",
    "/api/admin/tax-rates/{id}",
    TaxRateIn,
    TaxRatePatch,
    TaxRateOut
);
resource_list!(list_price_lists, PRICE_LISTS, "/api/admin/price-lists", PriceListOut, PriceListPage, "price lists");
resource_handlers!(
    create_price_list,
    update_price_list,
    delete_price_list,
    PRICE_LISTS,
    "/api/admin/price-lists",
    "/api/admin/price-lists/{id}",
    PriceListIn,
    PriceListPatch,
    PriceListOut
);
resource_handlers!(
    create_customer_group,
    update_customer_group,
    delete_customer_group,
    CUSTOMER_GROUPS,
    "/api/admin/customer-groups",
    "/api/admin/customer-groups/{id}",
    CustomerGroupIn,
    CustomerGroupPatch,
    CustomerGroupOut
);
