//! Returns as the shop handles them: the list by status, one return, and its steps —
//! approve, reject, receive (restocking per line), refund — through
//! [`crate::orders::returns`], each one writer unit with its audit row.

use super::*;
use crate::http::path::{res, PathId};
use crate::orders::returns::{self, Action, Arrived, ReturnOut, ReturnStatus};
use crate::util::now_ms;

const STATUS: OneOf<ReturnStatus> = OneOf::new("status", "only returns that are this");

crate::http::query_params!(
    struct ReturnsQuery [STATUS.param]
);

/// Returns, newest first, by status
///
/// Keyset pages: `before` is the last id of the previous page.
#[utoipa::path(get, path = "/api/admin/returns", tag = "admin", security(("bearer" = ["admin"])),
    params(ReturnsQuery, PageBefore),
    responses((status = 200, description = "returns", body = Data<Vec<ReturnOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_returns(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q.one_of(&STATUS);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    let list = app.db.read(move |conn| returns::list(conn, status, before, limit).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &list))
}

/// One return
///
/// With its lines (asked, received, restocked), its history and its refund.
#[utoipa::path(get, path = "/api/admin/returns/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a return id")),
    responses((status = 200, description = "the return", body = Data<ReturnOut>), AdminErrors, NotFound, ReadErrors))]
pub async fn get_return(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Return>,
) -> Result<Response, ApiError> {
    let out = app.db.read(move |conn| returns::one(conn, id).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &out.ok_or_else(|| ApiError::not_found("return"))?))
}

/// The steps of a return.
const ACTIONS: &[&str] = &["approve", "reject", "receive", "refund"];

/// One line of what arrived.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLineIn {
    /// the order's line (its `items[].line`), one the return asked for
    #[schema(minimum = 1, maximum = 1000000)]
    pub line_id: i64,
    /// units that arrived: at most those asked (0: none of this line)
    #[schema(minimum = 0, maximum = 1000)]
    pub quantity: i64,
    /// whether they go back on sale (default true)
    #[serde(default = "yes")]
    pub restock: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnActionIn {
    /// approve, reject, receive or refund
    #[schema(extensions(("x-enum" = json!(ACTIONS))))]
    pub action: String,
    /// with `receive` only: what arrived (without it: every unit asked, all back on sale)
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Option<Vec<ReceivedLineIn>>,
    /// for the customer (a rejection's reason, where to send the parcel); kept in the
    /// return's history
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub note: Option<String>,
}

/// Move a return on
///
/// `approve` a request; `reject` a request or an approved return; `receive` what arrived of
/// a requested or approved return (`lines`, each at most the units asked, `restock` per
/// line puts them back on sale; without lines, everything asked arrived and goes back on
/// sale) — subscribers get `return.received`; `refund` the received units of a received
/// return (a refund by lines, each unit at its exact part of the order's total, sent as
/// `POST /api/admin/orders/{id}/refunds` sends it; a return whose refund failed may be
/// refunded again). A step the return's status does not allow is 409
/// `invalid_transition`, more units than asked 409 `over_return`, a refund of nothing
/// received 409 `nothing_to_refund`. The customer gets a mail at each step (the refund's
/// own mail when it succeeds). Audited.
#[utoipa::path(patch, path = "/api/admin/returns/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a return id")),
    request_body = ReturnActionIn,
    responses((status = 200, description = "the return", body = Data<ReturnOut>), AdminErrors, BodyErrors, NotFound,
        (status = 409, description = "invalid_transition, over_return, nothing_to_refund, or a refund's exceeds_captured", body = ErrorBody), WriteErrors))]
pub async fn update_return(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Return>,
    JsonBody(b): JsonBody<ReturnActionIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let note = checks.check("note", text(b.note.as_deref().unwrap_or(""), 500, true));
    let mut arrived: Vec<Arrived> = Vec::new();
    if let Some(lines) = &b.lines {
        if b.action != "receive" {
            checks.error("lines", "only a receive names lines");
        }
        if lines.is_empty() {
            checks.error("lines", "name at least one line, or leave lines out: everything asked arrived");
        }
        if lines.len() > 200 {
            checks.error("lines", "at most 200 lines");
        }
        for (i, l) in lines.iter().enumerate() {
            if !(1..=1_000_000).contains(&l.line_id) {
                checks.error(&format!("lines[{i}].line_id"), "must be a line of the order (1 or more)");
            } else if arrived.iter().any(|a| a.line == l.line_id) {
                checks.error(&format!("lines[{i}].line_id"), "name each line once");
            }
            if !(0..=1000).contains(&l.quantity) {
                checks.error(&format!("lines[{i}].quantity"), "must be 0 to 1000");
            }
            arrived.push(Arrived { line: l.line_id, quantity: l.quantity, restock: l.restock });
        }
    }
    let action = match b.action.as_str() {
        "approve" => Some(Action::Approve),
        "reject" => Some(Action::Reject),
        "receive" => Some(Action::Receive(b.lines.is_some().then_some(arrived))),
        "refund" => Some(Action::Refund),
        _ => {
            checks.error("action", format!("must be one of: {}", ACTIONS.join(", ")));
            None
        }
    };
    checks.finish()?;
    let (action, note) = (action.expect("checked"), note.expect("checked"));
    let fx = app.effects();
    let out = app
        .db
        .writer
        .run(move |tx| {
            let before = returns::act(tx, id, &action, &note, Some(admin.0.customer_id), now_ms(), fx)?;
            let out = returns::one(tx, id)?.ok_or_else(ApiError::internal)?;
            audit(
                tx,
                &admin,
                &format!("return.{}", action.name()),
                "return",
                id,
                Some(&serde_json::json!({"status": before})),
                Some(&serde_json::to_value(&out).unwrap_or_default()),
            )?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    Ok(data(StatusCode::OK, &out))
}
