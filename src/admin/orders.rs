//! Orders as the shop sees them: every order by status, and the shop's changes —
//! fulfil, cancel, refund — through the one order lifecycle ([`crate::orders::lifecycle`]).

use super::*;
use crate::http::path::{res, PathId};

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminOrderOut {
    id: Id,
    status: crate::orders::OrderStatus,
    customer_id: Option<Id>,
    email: String,
    /// minor units
    total: i64,
    created_at: crate::domain::Timestamp,
}

const STATUS: OneOf<crate::orders::OrderStatus> = OneOf::new("status", "");

crate::http::query_params!(
    struct AdminOrdersQuery [STATUS.param]
);

/// The statuses an administrator may move an order to (each an event of its lifecycle).
const TRANSITIONS: &[&str] = &["fulfilled", "cancelled", "refunded"];

/// Orders, newest first, by status
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", security(("bearer" = ["admin"])),
    params(AdminOrdersQuery, PageBefore),
    responses((status = 200, description = "orders", body = Data<Vec<AdminOrderOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn orders(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q.one_of(&STATUS);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    use crate::orders::store::{ADMIN_LIST_BY_STATUS_JSON, ADMIN_LIST_JSON};
    match status {
        None => json_list(&app, ADMIN_LIST_JSON, vec![before.into(), limit.into()]).await,
        Some(s) => {
            json_list(&app, ADMIN_LIST_BY_STATUS_JSON, vec![s.as_str().to_owned().into(), before.into(), limit.into()])
                .await
        }
    }
}

/// One order
///
/// With its lines, totals and status history. An order moved to the archive
/// (`storefront archive`) is read from its month's file.
#[utoipa::path(get, path = "/api/admin/orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    responses((status = 200, description = "the order", body = Data<crate::orders::store::OrderOut>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn order(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let dir = app.config.archive_dir();
    let order = app
        .db
        .read(move |conn| {
            if let Some(o) = crate::orders::store::detail(conn, id)? {
                return Ok(Some(o));
            }
            match crate::archive::archived_file(conn, &dir, id)? {
                Some(file) => crate::archive::archived_order(&file, id).map_err(|e| {
                    tracing::error!(order.id = id, file = %file.display(), error = %e, "an archived order cannot be read");
                    ApiError::internal()
                }),
                None => Ok(None),
            }
        })
        .await?;
    Ok(data(StatusCode::OK, &order.ok_or_else(|| ApiError::not_found("order"))?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusIn {
    /// `fulfilled` (a paid order shipped), `cancelled` (pending or paid: stock returns),
    /// `refunded` (paid or fulfilled: cancelled, refund due; stock returns unless shipped)
    #[schema(extensions(("x-enum" = json!(TRANSITIONS))))]
    pub status: String,
    /// shown in the order's status history
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub note: Option<String>,
}

/// Change an order's status
///
/// `fulfilled` (paid → fulfilled), `cancelled` (pending or paid; stock returns),
/// `refunded` (paid: stock returns; fulfilled: it does not); audited.
#[utoipa::path(patch, path = "/api/admin/orders/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "an order id")),
    request_body = OrderStatusIn,
    responses((status = 200, description = "the order", body = Data<crate::orders::store::OrderOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "invalid_transition", body = ErrorBody), WriteErrors))]
pub async fn update_order(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Order>,
    JsonBody(b): JsonBody<OrderStatusIn>,
) -> Result<Response, ApiError> {
    use crate::orders::{lifecycle, store as orders, Actor, Event};
    let mut checks = Checks::new();
    let event = match b.status.as_str() {
        "fulfilled" => Some(Event::Fulfil),
        "cancelled" => Some(Event::Cancel(Actor::Shop)),
        "refunded" => Some(Event::Refund),
        _ => {
            checks.error("status", format!("must be one of: {}", TRANSITIONS.join(", ")));
            None
        }
    };
    let note = checks.check("note", text(b.note.as_deref().unwrap_or(""), 500, true));
    checks.finish()?;
    let (event, note, to) = (event.expect("checked"), note.expect("checked"), b.status);
    let fx = app.effects();
    let order = app
        .db
        .writer
        .run(move |tx| {
            let (from, now_is) = lifecycle::apply(tx, id, event, Some(&note), now_ms(), fx).map_err(|e| match e {
                crate::orders::TransitionError::NotAllowed { from } => {
                    conflict("invalid_transition", &format!("an order that is {from} cannot become {to}"))
                }
                e => e.into(),
            })?;
            audit(
                tx,
                &admin,
                &format!("order.{to}"),
                "order",
                id,
                Some(&serde_json::json!({"status": from})),
                Some(&serde_json::json!({"status": now_is})),
            )?;
            Ok::<_, ApiError>(orders::detail(tx, id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &order))
}
