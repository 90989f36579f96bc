//! API keys for integrations: `POST /api/admin/api-keys {name, scopes}` answers the key
//! once; it is used as `Authorization: Bearer sf_…` on the admin API, where each route
//! needs a scope — `<area>:read` for GETs, `<area>:write` for changes (write includes
//! read) — and is revoked with `DELETE`. Only the SHA-256 of a key is stored. Every action
//! of a key is audited under its id (and the administrator who made it); keys are made,
//! listed and revoked only by administrators in person, never by another key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{audit, AdminSession};
use crate::app::AppState;
use crate::auth::api_keys::{all_scopes, Scope, PREFIX};
use crate::domain::{text, Id, Timestamp};
use crate::error::ApiError;
use crate::http::path::{res, PathId};
use crate::http::respond::{data, no_content};
use crate::http::{Checks, JsonBody, QueryParams};
use crate::openapi::{AdminErrors, BodyErrors, Data, NotFound, QueryErrors, ReadErrors, WriteErrors};
use crate::util::now_ms;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    /// what the key is for, e.g. "warehouse sync"
    #[schema(min_length = 1, max_length = 100, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
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
    let hash = crate::auth::token_hash(&key);
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

/// One API key
#[utoipa::path(get, path = "/api/admin/api-keys/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an API key id")),
    responses((status = 200, description = "the key (never the key itself)", body = Data<KeyOut>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn get_key(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::ApiKey>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    in_person(&admin)?;
    q.finish()?;
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
    PathId(id, _): PathId<res::ApiKey>,
) -> Result<Response, ApiError> {
    in_person(&admin)?;
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
