//! Customers as administrators see them: a keyset list searchable by e-mail or name at any
//! size (a whole e-mail by its unique index, words and prefixes through `customers_fts`),
//! one customer with their latest orders and live sessions, the groups a customer belongs
//! to (set whole, one writer unit with its audit row), and ending every session of an
//! account (one writer unit with its audit row).

use super::*;
use crate::customers::model::SessionOut;
use crate::domain::Timestamp;
use crate::http::path::{res, PathId};
use crate::orders::store::OrderSummary;
use rusqlite::{Connection, OptionalExtension};

const LIST_Q: Param = Param::text("q", 200, crate::http::Shape::Words)
    .doc("a whole e-mail, or words of the name or e-mail (the last also as a prefix when 3 letters or more)");

const GROUP: Param = Param::int("group", 1, i64::MAX).doc("only the members of this customer group (its id)");

crate::http::query_params!(
    /// `GET /api/admin/customers`
    struct AdminCustomersQuery [LIST_Q, GROUP]
);

/// A customer group a customer belongs to.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct GroupRef {
    pub id: Id,
    pub name: String,
}

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
    /// the customer groups they belong to, by name
    pub groups: Vec<GroupRef>,
    pub created_at: Timestamp,
    /// the language of their mail (a tag of the `locales` setting; null: the default)
    pub locale: Option<String>,
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
                EXISTS (SELECT 1 FROM two_factor t WHERE t.customer_id = c.id AND t.enabled_at IS NOT NULL), c.locale
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
            groups: Vec::new(),
            locale: r.get(6)?,
        })
    })
    .optional()?
    .map(|mut c| {
        c.groups = groups_of(conn, id)?;
        Ok(c)
    })
    .transpose()
}

/// The groups `customer` belongs to, by name.
pub fn groups_of(conn: &Connection, customer: i64) -> rusqlite::Result<Vec<GroupRef>> {
    conn.prepare_cached(
        "SELECT g.id, g.name FROM customer_group_members m JOIN customer_groups g ON g.id = m.group_id
         WHERE m.customer_id = ?1 ORDER BY g.name COLLATE NOCASE, g.id",
    )?
    .query_map([customer], |r| Ok(GroupRef { id: Id(r.get(0)?), name: r.get(1)? }))?
    .collect()
}

/// A page of a group's members, newest first below a customer id: a walk of the
/// membership table's primary key (the query-plan test holds it to that).
pub const GROUP_MEMBERS: &str =
    "SELECT customer_id FROM customer_group_members WHERE group_id = ?1 AND customer_id < ?2
                                 ORDER BY customer_id DESC LIMIT ?3";

/// The ids of a page: newest first below `before`, optionally matching `q` and only the
/// members of `group` (a group's members by its primary key, at any depth).
fn customer_ids(
    conn: &Connection,
    q: Option<&str>,
    group: Option<i64>,
    before: i64,
    limit: i64,
) -> rusqlite::Result<Vec<i64>> {
    let ids = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<Vec<i64>> {
        conn.prepare_cached(sql)?.query_map(args, |r| r.get(0))?.collect()
    };
    let Some(q) = q else {
        return match group {
            None => ids("SELECT id FROM customers WHERE id < ?1 ORDER BY id DESC LIMIT ?2", &[&before, &limit]),
            Some(g) => ids(GROUP_MEMBERS, &[&g, &before, &limit]),
        };
    };
    let Some(terms) = crate::catalog::model::SearchTerms::parse(q) else { return Ok(Vec::new()) };
    let mut found = match group {
        None => ids(
            "SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
            &[&terms.fts_query(), &before, &limit],
        )?,
        Some(g) => ids(
            "SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?1 AND rowid < ?2
               AND rowid IN (SELECT customer_id FROM customer_group_members WHERE group_id = ?4)
             ORDER BY rowid DESC LIMIT ?3",
            &[&terms.fts_query(), &before, &limit, &g],
        )?,
    };
    if before == i64::MAX {
        // an e-mail typed whole comes first
        let exact = ids(
            "SELECT id FROM customers WHERE email = ?1
               AND (?2 IS NULL OR id IN (SELECT customer_id FROM customer_group_members WHERE group_id = ?2))",
            &[&q.trim(), &group],
        )?;
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
/// of customers; `q` finds a whole e-mail, or words of the name or e-mail; `group` lists
/// a customer group's members (an id that names no group lists none).
#[utoipa::path(get, path = "/api/admin/customers", tag = "admin", operation_id = "admin_list_customers",
    security(("bearer" = ["admin"])),
    params(AdminCustomersQuery, PageBefore),
    responses((status = 200, description = "customers", body = CustomerPage), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list(State(app): State<AppState>, _admin: AdminSession, mut q: QueryParams) -> Result<Response, ApiError> {
    let text = q.text(&LIST_Q);
    let group = q.int(&GROUP);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    if text.as_deref().is_some_and(|t| crate::catalog::model::SearchTerms::parse(t).is_none()) {
        q.error("q", "must contain at least one letter or digit");
    }
    q.finish()?;
    let page = app
        .db
        .read(move |conn| {
            let ids = customer_ids(conn, text.as_deref(), group, before, limit)?;
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

/// The groups a customer belongs to, set whole.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupsIn {
    /// every group the customer belongs to from now on (empty: none); each must exist
    #[schema(max_items = 100)]
    pub group_ids: Vec<Id>,
}

/// Set a customer's groups
///
/// The customer belongs to exactly `group_ids` from now on (the same id twice counts once);
/// an id that names no group is 422 at its place and nothing changes. One writer unit with
/// its audit row (`customer.groups`, before and after). Answers the customer.
#[utoipa::path(put, path = "/api/admin/customers/{id}/groups", tag = "admin", operation_id = "admin_set_customer_groups",
    security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a customer id")),
    request_body = GroupsIn,
    responses((status = 200, description = "the customer, with the groups now", body = Data<CustomerRow>), AdminErrors,
        BodyErrors, NotFound, WriteErrors))]
pub async fn set_groups(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Customer>,
    JsonBody(body): JsonBody<GroupsIn>,
) -> Result<Response, ApiError> {
    let row = set_groups_of(&app, admin, id, body.group_ids.into_iter().map(|g| g.0).collect()).await?;
    Ok(data(StatusCode::OK, &row))
}

/// The change itself (the dashboard's form calls it too).
pub async fn set_groups_of(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    groups: Vec<i64>,
) -> Result<CustomerRow, ApiError> {
    if groups.len() > 100 {
        return Err(ApiError::validation([("group_ids".into(), "at most 100 groups".into())].into()));
    }
    app.db
        .writer
        .run(move |tx| {
            let Some(before) = customer_row(tx, id)? else { return Err(PathId::<res::Customer>::not_found()) };
            let mut problems = std::collections::BTreeMap::new();
            for (i, g) in groups.iter().enumerate() {
                let exists: bool = tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM customer_groups WHERE id = ?1)")?
                    .query_row([g], |r| r.get(0))?;
                if !exists {
                    problems.insert(format!("group_ids[{i}]"), "no such customer group".to_owned());
                }
            }
            if !problems.is_empty() {
                return Err(ApiError::validation(problems));
            }
            let now = now_ms();
            let keep = serde_json::to_string(&groups).expect("numbers");
            tx.prepare_cached(
                "DELETE FROM customer_group_members WHERE customer_id = ?1
                   AND group_id NOT IN (SELECT value FROM json_each(?2))",
            )?
            .execute(rusqlite::params![id, keep])?;
            for g in &groups {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO customer_group_members(group_id, customer_id, added_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(rusqlite::params![g, id, now])?;
            }
            let after = customer_row(tx, id)?.ok_or_else(PathId::<res::Customer>::not_found)?;
            let names = |c: &CustomerRow| c.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
            audit(
                tx,
                &admin,
                "customer.groups",
                "customer",
                id,
                Some(&serde_json::json!({"groups": names(&before)})),
                Some(&serde_json::json!({"groups": names(&after)})),
            )?;
            Ok(after)
        })
        .await
}
