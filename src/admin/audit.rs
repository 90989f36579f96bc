//! The audit log of sensitive actions: who, what (before and after), when, from where.

use super::*;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditOut {
    id: Id,
    /// who
    actor_id: Option<Id>,
    /// what, e.g. product.price
    action: String,
    entity: String,
    /// null for what there is one of (the shop's settings)
    entity_id: Option<Id>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    /// from where
    client_addr: String,
    /// when
    at: crate::domain::Timestamp,
}

/// The audit log of sensitive actions, newest first
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", security(("bearer" = ["admin"])),
    params(PageBefore),
    responses((status = 200, description = "audit rows", body = Data<Vec<AuditOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn audit_log(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    json_list(
        &app,
        "SELECT coalesce(json_group_array(json_object('id', cast(a.id AS TEXT), 'actor_id', cast(a.actor_id AS TEXT),
                        'action', a.action, 'entity', a.entity, 'entity_id', cast(a.entity_id AS TEXT),
                        'before', json(a.before), 'after', json(a.after), 'client_addr', a.client_addr,
                        'api_key_id', cast(a.api_key_id AS TEXT),
                        'at', strftime('%Y-%m-%dT%H:%M:%fZ', a.created_at / 1000.0, 'unixepoch'))), '[]')
                 FROM (SELECT * FROM audit_log WHERE id < ?1 ORDER BY id DESC LIMIT ?2) a",
        vec![before.into(), limit.into()],
    )
    .await
}
