//! API keys as credentials: a bearer token that begins with [`PREFIX`] is looked up as a
//! key (only its SHA-256 is stored) and stands for the administrator who made it, limited
//! to its scopes. A scope is `<area>:read` (GETs) or `<area>:write` (changes, and reads);
//! which area a route belongs to — or that keys cannot use it at all — is declared beside
//! the route in the route table ([`KeyAccess`], carried by each request). Making, listing
//! and revoking keys are the admin API's (`crate::admin::api_keys`).

use axum::http::request::Parts;
use axum::http::StatusCode;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Role, Session};
use crate::app::AppState;
use crate::error::{ApiError, StoreError};

/// Every key begins so (a bearer token that does is looked up as a key).
pub const PREFIX: &str = "sf_";

/// The areas of the admin API a scope names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Catalog,
    Orders,
    Exports,
    Webhooks,
    Jobs,
    Audit,
    Cache,
    Settings,
}

impl Area {
    pub const ALL: [Area; 8] = [
        Area::Catalog,
        Area::Orders,
        Area::Exports,
        Area::Webhooks,
        Area::Jobs,
        Area::Audit,
        Area::Cache,
        Area::Settings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Area::Catalog => "catalog",
            Area::Orders => "orders",
            Area::Exports => "exports",
            Area::Webhooks => "webhooks",
            Area::Jobs => "jobs",
            Area::Audit => "audit",
            Area::Cache => "cache",
            Area::Settings => "settings",
        }
    }

    /// The scope this area needs for a read or a write.
    pub fn scope(self, write: bool) -> String {
        format!("{}:{}", self.name(), if write { "write" } else { "read" })
    }
}

/// What a route lets an API key do: declared in the route table, inserted into each
/// request by the front layer, read by the session extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    /// not an admin route: keys are refused (401)
    NotAdmin,
    /// an admin route only administrators in person may use (403 for a key)
    InPerson,
    /// an admin route in this area
    Area(Area),
}

/// The scopes a key may hold.
pub fn all_scopes() -> Vec<String> {
    Area::ALL.iter().flat_map(|a| [a.scope(false), a.scope(true)]).collect()
}

/// 403 unless `scopes` allow a read (or a `write`) under `access`.
pub fn allowed(scopes: &[String], access: KeyAccess, write: bool) -> Result<(), ApiError> {
    let area = match access {
        KeyAccess::Area(area) => area,
        KeyAccess::NotAdmin | KeyAccess::InPerson => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", "API keys cannot use this route"))
        }
    };
    let needed = area.scope(write);
    let ok = scopes.iter().any(|s| *s == needed || (!write && *s == area.scope(true)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", format!("this needs the scope {needed}"))
            .with_detail("scope", needed))
    }
}

/// What the route table declared for this request (a request the table did not route
/// is no admin route).
pub fn access_of(parts: &Parts) -> KeyAccess {
    parts.extensions.get::<KeyAccess>().copied().unwrap_or(KeyAccess::NotAdmin)
}

/// The session of an API key (only on the admin API).
pub async fn authenticate(parts: &Parts, app: &AppState, hash: [u8; 32], now: i64) -> Result<Session, ApiError> {
    let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the API key is revoked or unknown");
    if access_of(parts) == KeyAccess::NotAdmin {
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
        client_addr: super::client_addr(parts),
        client_exempt: super::client_exempt(parts),
        two_factor: false,
        second_factor: false,
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
    #[serde(rename = "settings:read")]
    SettingsRead,
    #[serde(rename = "settings:write")]
    SettingsWrite,
}

impl Scope {
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
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
        assert_eq!(all.len(), 16);
    }

    #[test]
    fn scopes_allow_their_area_only() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let w = s(&["catalog:write"]);
        assert!(allowed(&w, KeyAccess::Area(Area::Catalog), true).is_ok());
        assert!(allowed(&w, KeyAccess::Area(Area::Catalog), false).is_ok(), "write includes read");
        assert!(allowed(&w, KeyAccess::Area(Area::Orders), false).is_err());
        let r = s(&["orders:read"]);
        assert!(allowed(&r, KeyAccess::Area(Area::Orders), false).is_ok());
        assert!(allowed(&r, KeyAccess::Area(Area::Orders), true).is_err());
        assert!(allowed(&all_scopes(), KeyAccess::InPerson, false).is_err());
        assert!(allowed(&all_scopes(), KeyAccess::NotAdmin, false).is_err());
    }
}
