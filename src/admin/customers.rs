//! Customers as administrators see them: a keyset list searchable by e-mail or name at any
//! size (a whole e-mail by its unique index, words and prefixes through `customers_fts`),
//! one customer with their latest orders and live sessions, and ending every session of an
//! account (one writer unit with its audit row).

use super::*;
use crate::customers::model::SessionOut;
use crate::domain::Timestamp;
use crate::http::path::{res, PathId};
use crate::orders::store::OrderSummary;
use rusqlite::{Connection, OptionalExtension};

const LIST_Q: Param = Param::text("q", 200, crate::http::Shape::Words)
    .doc("a whole e-mail, or words of the name or e-mail (the last also as a prefix when 3 letters or more)");

crate::http::query_params!(
    /// `GET /api/admin/customers`
    struct AdminCustomersQuery [LIST_Q]
);

/// A customer in the administrators' list.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CustomerRow {
    pub id: Id,
    pub email: String,
    pub name: String,
    #[schema(extensions(("x-enum" = json!(["customer", "admin"]))))]
    pub role: String,
    /// two-factor login is on
    pub two_factor: bool,
    pub created_at: Timestamp,
}

/// A page of the administrators' customer list.
#[derive(serde::Serialize, ToSchema)]
pub struct CustomerPage {
    data: Vec<CustomerRow>,
    meta: AdminListMeta,
}

/// One customer with what the dashboard shows of them.
#[derive(serde::Serialize, ToSchema)]
pub struct CustomerDetail {
    #[serde(flatten)]
    customer: CustomerRow,
    /// the newest 20 orders
    orders: Vec<OrderSummary>,
    /// the sessions that are neither ended nor expired, newest first
    sessions: Vec<SessionOut>,
}

/// What ending a customer's sessions did.
#[derive(serde::Serialize, ToSchema)]
pub struct SessionsEnded {
    /// how many live sessions were ended
    ended: i64,
}

fn customer_row(conn: &Connection, id: i64) -> rusqlite::Result<Option<CustomerRow>> {
    conn.prepare_cached(
        "SELECT c.id, c.email, c.name, c.role, c.created_at,
                EXISTS (SELECT 1 FROM two_factor t WHERE t.customer_id = c.id AND t.enabled_at IS NOT NULL)
         FROM customers c WHERE c.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(CustomerRow {
            id: Id(r.get(0)?),
            email: r.get(1)?,
            name: r.get(2)?,
            role: r.get(3)?,
            created_at: Timestamp(r.get(4)?),
            two_factor: r.get(5)?,
        })
    })
    .optional()
}

/// The ids of a page: newest first below `before`, optionally matching `q`.
fn customer_ids(conn: &Connection, q: Option<&str>, before: i64, limit: i64) -> rusqlite::Result<Vec<i64>> {
    let ids = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<Vec<i64>> {
        conn.prepare_cached(sql)?.query_map(args, |r| r.get(0))?.collect()
    };
    let Some(q) = q else {
        return ids("SELECT id FROM customers WHERE id < ?1 ORDER BY id DESC LIMIT ?2", &[&before, &limit]);
    };
    let Some(terms) = crate::catalog::model::SearchTerms::parse(q) else { return Ok(Vec::new()) };
    let mut found = ids(
        "SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
        &[&terms.fts_query(), &before, &limit],
    )?;
    if before == i64::MAX {
        // an e-mail typed whole comes first
        let exact = ids("SELECT id FROM customers WHERE email = ?1", &[&q.trim()])?;
        for e in exact {
            if !found.contains(&e) {
                found.insert(0, e);
                found.truncate(limit as usize);
            }
        }
    }
    Ok(found)
}

/// Customers
///
/// Newest first in keyset pages (`before`), at the same cost at any depth and any number
/// of customers; `q` finds a whole e-mail, or words of the name or e-mail.
#[utoipa::path(get, path = "/api/admin/customers", tag = "admin", operation_id = "admin_list_customers",
    security(("bearer" = ["admin"])),
    params(AdminCustomersQuery, PageBefore),
    responses((status = 200, description = "customers", body = CustomerPage), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list(State(app): State<AppState>, _admin: AdminSession, mut q: QueryParams) -> Result<Response, ApiError> {
    let text = q.text(&LIST_Q);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    if text.as_deref().is_some_and(|t| crate::catalog::model::SearchTerms::parse(t).is_none()) {
        q.error("q", "must contain at least one letter or digit");
    }
    q.finish()?;
    let page = app
        .db
        .read(move |conn| {
            let ids = customer_ids(conn, text.as_deref(), before, limit)?;
            let next = (ids.len() as i64 == limit).then(|| ids.last().map(|l| l.to_string())).flatten();
            let mut data = Vec::with_capacity(ids.len());
            for id in ids {
                data.extend(customer_row(conn, id)?);
            }
            Ok::<_, ApiError>(CustomerPage { data, meta: AdminListMeta { next_before: next } })
        })
        .await?;
    Ok(crate::http::respond::private_json(StatusCode::OK, serde_json::to_vec(&page).expect("serializes")))
}

/// One customer
///
/// With their newest orders and their live sessions.
#[utoipa::path(get, path = "/api/admin/customers/{id}", tag = "admin", operation_id = "admin_get_customer",
    security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a customer id")),
    responses((status = 200, description = "the customer", body = Data<CustomerDetail>), AdminErrors, NotFound, ReadErrors))]
pub async fn get(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Customer>,
) -> Result<Response, ApiError> {
    let detail = app
        .db
        .read(move |conn| {
            let Some(customer) = customer_row(conn, id)? else { return Ok(None) };
            let orders = crate::orders::store::list(conn, Some(id), 0, None, 20)?;
            let sessions = crate::customers::store::sessions_of(conn, id, now_ms(), 0)?;
            Ok::<_, ApiError>(Some(CustomerDetail { customer, orders, sessions }))
        })
        .await?;
    Ok(data(StatusCode::OK, &detail.ok_or_else(PathId::<res::Customer>::not_found)?))
}

/// End a customer's sessions
///
/// Every live session of the account ends at once (each device must log in again; API
/// keys are not touched); audited.
#[utoipa::path(delete, path = "/api/admin/customers/{id}/sessions", tag = "admin",
    operation_id = "admin_end_customer_sessions", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a customer id")),
    responses((status = 200, description = "the sessions ended", body = Data<SessionsEnded>), AdminErrors, NotFound,
        WriteErrors))]
pub async fn end_sessions(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Customer>,
) -> Result<Response, ApiError> {
    let ended = app
        .db
        .writer
        .run(move |tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1)")?
                .query_row([id], |r| r.get(0))?;
            if !exists {
                return Err(PathId::<res::Customer>::not_found());
            }
            let ended = crate::customers::store::revoke_all_sessions(tx, id, now_ms())? as i64;
            audit(
                tx,
                &admin,
                "customer.sessions_end",
                "customer",
                id,
                None,
                Some(&serde_json::json!({"ended": ended})),
            )?;
            Ok(ended)
        })
        .await?;
    Ok(data(StatusCode::OK, &SessionsEnded { ended }))
}
