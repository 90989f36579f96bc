//! Administration (role `admin`, checked by the `AdminSession` extractor on every route),
//! a module per domain: [`cache`] (the response cache's view and flush), [`products`]
//! (create, change, retire, stock, price), [`reviews`] (moderation), [`audit`] (the log),
//! [`orders`] (through the order lifecycle) and [`resources`] (categories, brands,
//! promotions, shipping and tax rates from one description per table). Every change
//! writes its audit row (who, what, before and after, from where) in the same writer unit,
//! and the writer's hooks make it show in every cached view and in search before the
//! administrator hears back. What they share is here.

pub mod api_keys;
pub mod audit;
pub mod cache;
pub mod customers;
pub mod dashboard;
pub mod drafts;
pub mod gift_cards;
pub mod images;
pub mod jobs;
pub mod orders;
pub mod price_lists;
pub mod products;
pub mod resources;
pub mod returns;
pub mod reviews;
pub mod settings;
pub mod translations;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::AppState;
pub use crate::auth::AdminSession;
use crate::error::ApiError;
use crate::http::respond::data;
use crate::http::{OneOf, Param, QueryParams};
use crate::openapi::{AdminErrors, BodyErrors, Data, ErrorBody, NotFound, QueryErrors, ReadErrors, WriteErrors};
use utoipa::ToSchema;

use rusqlite::params;
use serde::Deserialize;

use crate::db::writer::WriteTx;
use crate::domain::{is_slug, text, Id};
use crate::http::{Checks, JsonBody};
use crate::util::now_ms;

/// One audit row, in the same writer unit as the change it records.
pub(crate) fn audit(
    tx: &WriteTx,
    admin: &AdminSession,
    action: &str,
    entity: &str,
    id: impl Into<Option<i64>>,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log(actor_id, action, entity, entity_id, before, after, client_addr, created_at, api_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        admin.0.customer_id,
        action,
        entity,
        id.into(),
        before.map(|v| v.to_string()),
        after.map(|v| v.to_string()),
        admin.0.session.client_addr,
        now_ms(),
        admin.0.session.api_key.as_ref().map(|(id, _)| *id)
    ])?;
    Ok(())
}

/// `Some` of what was sent, `null` included: absent stays `None` (with `#[serde(default)]`),
/// so a change can tell "leave it" from "clear it".
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// The slug sent, checked, or one made from the (checked) `name` when none was sent;
/// `None` with the reason noted in `checks` when neither works.
fn slug_or_made(checks: &mut Checks, sent: Option<&str>, name: Option<&str>) -> Option<String> {
    let slug = match sent {
        Some(s) if is_slug(s) => Some(s.to_owned()),
        Some(_) => {
            checks.error("slug", "must be 1-200 of a-z, 0-9 and -");
            None
        }
        None => name.map(crate::domain::slugify).filter(|s| is_slug(s)),
    };
    if slug.is_none() && sent.is_none() && name.is_some() {
        checks.error("slug", "cannot be made from the name; give one");
    }
    slug
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

/// A read whose one row is a JSON array built by SQLite (`json_group_array`), answered
/// as `{"data": [...]}`.
async fn json_list(app: &AppState, sql: &'static str, args: Vec<rusqlite::types::Value>) -> Result<Response, ApiError> {
    let list: String = app
        .db
        .read(move |conn| {
            conn.prepare_cached(sql)?.query_row(rusqlite::params_from_iter(args), |r| r.get(0)).map_err(ApiError::from)
        })
        .await?;
    let list: serde_json::Value = serde_json::from_str(&list).expect("SQLite writes JSON");
    Ok(data(StatusCode::OK, &list))
}

/// Rows with ids below this one: the last id of the previous page (absent: from the newest).
pub(crate) const BEFORE: Param =
    Param::int("before", 1, i64::MAX).doc("rows with ids below this one (the last id of the previous page)");
/// An administrator's page size.
pub(crate) const PER_PAGE: Param = Param::int("per_page", 1, 200).default(50);

crate::http::query_params!(
    /// Keyset pages of an administrator's list, newest first.
    pub(crate) struct PageBefore [BEFORE, PER_PAGE]
);

/// Where an administrator's list goes on.
#[derive(serde::Serialize, ToSchema)]
pub struct AdminListMeta {
    /// `before` of the next page (none: this is the last)
    pub next_before: Option<String>,
}
