//! API keys for integrations: `POST /api/admin/api-keys {name, scopes}` answers the key
//! once; it is used as `Authorization: Bearer sf_…` on the admin API, where each route
//! needs a scope — `<area>:read` for GETs, `<area>:write` for changes (write includes
//! read) — and is revoked with `DELETE`. Only the SHA-256 of a key is stored. Every action
//! of a key is audited under its id (and the administrator who made it); keys are made,
//! listed and revoked only by administrators in person, never by another key.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{audit, AdminSession};
use crate::app::AppState;
use crate::customers::auth::{Role, Session};
use crate::domain::{text, Id, Timestamp};
use crate::error::{ApiError, StoreError};
use crate::http::respond::{data, no_content};
use crate::http::{Checks, JsonBody, QueryParams};
use crate::openapi::{AdminErrors, BodyErrors, Data, NotFound, QueryErrors, ReadErrors, WriteErrors};
use crate::util::now_ms;

/// Every key begins so (a bearer token that does is looked up as a key).
pub const PREFIX: &str = "sf_";

/// The areas of the admin API a scope names, by the first path segment after
/// `/api/admin/`.
const AREAS: &[(&str, &[&str])] = &[
    (
        "catalog",
        &["products", "categories", "brands", "promotions", "shipping-rates", "tax-rates", "reviews", "imports"],
    ),
    ("orders", &["orders"]),
    ("exports", &["exports"]),
    ("webhooks", &["webhooks"]),
    ("jobs", &["jobs"]),
    ("audit", &["audit"]),
    ("cache", &["cache"]),
];

/// The scopes a key may hold.
pub fn all_scopes() -> Vec<String> {
    AREAS.iter().flat_map(|(a, _)| [format!("{a}:read"), format!("{a}:write")]).collect()
}

/// 403 unless `scopes` allow `method` on `route` (a template under `/api/admin/`).
pub fn allowed(scopes: &[String], method: &Method, route: &str) -> Result<(), ApiError> {
    let segment = route.strip_prefix("/api/admin/").and_then(|r| r.split('/').next()).unwrap_or("");
    let Some((area, _)) = AREAS.iter().find(|(_, segments)| segments.contains(&segment)) else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", "API keys cannot use this route"));
    };
    let write = !matches!(*method, Method::GET | Method::HEAD);
    let needed = format!("{area}:{}", if write { "write" } else { "read" });
    let ok = scopes.iter().any(|s| *s == needed || (!write && *s == format!("{area}:write")));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", format!("this needs the scope {needed}"))
            .with_detail("scope", needed))
    }
}

/// The session of an API key (only on the admin API).
pub async fn authenticate(parts: &Parts, app: &AppState, hash: [u8; 32], now: i64) -> Result<Session, ApiError> {
    let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the API key is revoked or unknown");
    if !parts.uri.path().starts_with("/api/admin/") {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "API keys work on /api/admin routes only",
        ));
    }
    let row = app
        .db
        .read(move |c| {
            c.prepare_cached(
                "SELECT k.id, k.scopes, k.created_by, k.last_used_at FROM api_keys k
                 JOIN customers c ON c.id = k.created_by AND c.role = 'admin'
                 WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
            )?
            .query_row([&hash[..]], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?))
            })
            .optional()
            .map_err(StoreError::from)
        })
        .await?;
    let (id, scopes, creator, last_used) = row.ok_or_else(invalid)?;
    if last_used.is_none_or(|t| now - t > 60_000) {
        // best effort, off the request's path: a lost touch only ages `last_used_at`
        let writer = app.db.writer.clone();
        tokio::spawn(async move {
            let _ = writer
                .run(move |tx| {
                    tx.execute("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", params![id, now])
                        .map_err(StoreError::from)
                })
                .await;
        });
    }
    Ok(Session {
        id: 0,
        customer_id: Some(creator),
        role: Role::Admin,
        client_addr: crate::customers::auth::client_addr(parts),
        two_factor: false,
        api_key: Some((id, serde_json::from_str(&scopes).unwrap_or_default())),
    })
}

/// A scope: `<area>:read`, or `<area>:write` (which includes read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "catalog:read")]
    CatalogRead,
    #[serde(rename = "catalog:write")]
    CatalogWrite,
    #[serde(rename = "orders:read")]
    OrdersRead,
    #[serde(rename = "orders:write")]
    OrdersWrite,
    #[serde(rename = "exports:read")]
    ExportsRead,
    #[serde(rename = "exports:write")]
    ExportsWrite,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    #[serde(rename = "jobs:read")]
    JobsRead,
    #[serde(rename = "jobs:write")]
    JobsWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "audit:write")]
    AuditWrite,
    #[serde(rename = "cache:read")]
    CacheRead,
    #[serde(rename = "cache:write")]
    CacheWrite,
}

impl Scope {
    fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    /// what the key is for, e.g. "warehouse sync"
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// at least one of `<area>:read` and `<area>:write` (write includes read), areas
    /// `catalog, orders, exports, webhooks, jobs, audit, cache`
    #[schema(min_items = 1, max_items = 14)]
    pub scopes: Vec<Scope>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    id: Id,
    name: String,
    scopes: Vec<String>,
    /// the key's first characters
    prefix: String,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    key_info: KeyOut,
    /// the key, for `Authorization: Bearer <key>`; shown only in this answer
    key: String,
}

fn key_out(r: &rusqlite::Row) -> rusqlite::Result<KeyOut> {
    let scopes: String = r.get(2)?;
    Ok(KeyOut {
        id: Id(r.get(0)?),
        name: r.get(1)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        prefix: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        last_used_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
    })
}

const COLUMNS: &str = "id, name, scopes, prefix, created_at, last_used_at";

/// Keys are managed by administrators in person.
fn in_person(admin: &AdminSession) -> Result<(), ApiError> {
    match admin.0.session.api_key {
        Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", "API keys cannot manage API keys")),
        None => Ok(()),
    }
}

/// Make an API key
///
/// Answers the key once (only its SHA-256 is kept). Audited.
#[utoipa::path(post, path = "/api/admin/api-keys", tag = "admin", security(("bearer" = ["admin"])),
    request_body = KeyIn,
    responses((status = 201, description = "the key, shown this once", body = Data<CreatedKey>), AdminErrors, BodyErrors, WriteErrors))]
pub async fn create_key(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(body): JsonBody<KeyIn>,
) -> Result<Response, ApiError> {
    in_person(&admin)?;
    let mut checks = Checks::new();
    let name = checks.check("name", text(&body.name, 100, false));
    let known = all_scopes();
    if body.scopes.is_empty() || body.scopes.len() > known.len() {
        checks.error("scopes", format!("give 1 to {} scopes", known.len()));
    }
    checks.finish()?;
    let name = name.expect("checked");
    let mut scopes: Vec<String> = body.scopes.iter().map(|s| s.name()).collect();
    scopes.sort();
    scopes.dedup();
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("the operating system's random source is available");
    use base64::Engine as _;
    let key = format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let hash = crate::customers::auth::token_hash(&key);
    let prefix: String = key.chars().take(10).collect();
    let creator = admin.0.customer_id;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            tx.execute(
                "INSERT INTO api_keys(name, key_hash, prefix, scopes, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, &hash[..], prefix, serde_json::to_string(&scopes).expect("strings serialize"), creator, now],
            )?;
            let id = tx.last_insert_rowid();
            let out = tx.query_row(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"), [id], key_out)?;
            audit(tx, &admin, "api_key.create", "api_key", id, None, Some(&serde_json::to_value(&out).expect("serializes")))?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &CreatedKey { key_info: out, key }))
}

/// The API keys in use, newest first
#[utoipa::path(get, path = "/api/admin/api-keys", tag = "admin", security(("bearer" = ["admin"])),
    responses((status = 200, description = "the keys", body = Data<Vec<KeyOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_keys(State(app): State<AppState>, admin: AdminSession, q: QueryParams) -> Result<Response, ApiError> {
    in_person(&admin)?;
    q.finish()?;
    let keys = app
        .db
        .read(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY id DESC LIMIT 1000"
            ))?
            .query_map([], key_out)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(ApiError::from)
        })
        .await?;
    Ok(data(StatusCode::OK, &keys))
}

fn key_id(raw: &str) -> Result<i64, ApiError> {
    Id::parse(raw).map(|i| i.0).ok_or_else(|| ApiError::not_found("API key"))
}

/// One API key
#[utoipa::path(get, path = "/api/admin/api-keys/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an API key id")),
    responses((status = 200, description = "the key (never the key itself)", body = Data<KeyOut>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn get_key(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    in_person(&admin)?;
    q.finish()?;
    let id = key_id(&id)?;
    let key = app
        .db
        .read(move |c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND revoked_at IS NULL"))?
                .query_row([id], key_out)
                .optional()
                .map_err(ApiError::from)
        })
        .await?;
    Ok(data(StatusCode::OK, &key.ok_or_else(|| ApiError::not_found("API key"))?))
}

/// Revoke an API key
///
/// It stops working at once and is gone from the API (the audit log keeps its history:
/// what it was made with, what it did). Audited.
#[utoipa::path(delete, path = "/api/admin/api-keys/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an API key id")),
    responses((status = 204, description = "revoked"), AdminErrors, NotFound, WriteErrors))]
pub async fn revoke_key(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    in_person(&admin)?;
    let id = key_id(&id)?;
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let n = tx.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )?;
            if n == 0 {
                return Err(ApiError::not_found("API key"));
            }
            audit(tx, &admin, "api_key.revoke", "api_key", id, None, None)?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_type_names_every_scope() {
        let all = all_scopes();
        for s in &all {
            let parsed: Scope = serde_json::from_value(serde_json::json!(s)).unwrap();
            assert_eq!(&parsed.name(), s);
        }
        assert_eq!(all.len(), 14);
    }

    #[test]
    fn scopes_allow_their_area_only() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let w = s(&["catalog:write"]);
        assert!(allowed(&w, &Method::PUT, "/api/admin/products/{id}/price").is_ok());
        assert!(allowed(&w, &Method::GET, "/api/admin/reviews").is_ok(), "write includes read");
        assert!(allowed(&w, &Method::GET, "/api/admin/orders").is_err());
        let r = s(&["orders:read"]);
        assert!(allowed(&r, &Method::GET, "/api/admin/orders/{id}").is_ok());
        assert!(allowed(&r, &Method::PATCH, "/api/admin/orders/{id}").is_err());
        assert!(allowed(&s(&["cache:write"]), &Method::GET, "/api/admin/api-keys").is_err());
        // every admin route but the keys' own belongs to an area
        let doc = crate::openapi::to_json();
        for path in doc["paths"].as_object().unwrap().keys().filter(|p| p.starts_with("/api/admin/")) {
            let all = all_scopes();
            let ok = allowed(&all, &Method::POST, path).is_ok();
            assert_eq!(ok, !path.starts_with("/api/admin/api-keys"), "{path}");
        }
    }
}
