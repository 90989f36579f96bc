//! Review moderation: the queue, and approving or rejecting (which moves the product's
//! rating at once).

use super::*;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminReviewOut {
    id: Id,
    product_id: Id,
    customer_id: Id,
    rating: i64,
    title: String,
    body: String,
    #[schema(pattern = "^(pending|approved|rejected)$")]
    status: String,
    created_at: crate::domain::Timestamp,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ModerationQuery {
    /// default pending
    #[param(pattern = "^(pending|approved|rejected)$")]
    status: Option<String>,
    /// default 50
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// The review moderation queue, oldest first
#[utoipa::path(get, path = "/api/admin/reviews", tag = "admin", security(("bearer" = ["admin"])),
    params(ModerationQuery),
    responses((status = 200, description = "reviews", body = Data<Vec<AdminReviewOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn reviews(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q
        .choice("status", &[("pending", "pending"), ("approved", "approved"), ("rejected", "rejected")])
        .unwrap_or("pending");
    let limit = q.int("per_page", 1, 200).unwrap_or(50);
    q.finish()?;
    json_list(
        &app,
        "SELECT coalesce(json_group_array(json_object('id', cast(r.id AS TEXT), 'product_id', cast(r.product_id AS TEXT),
                        'customer_id', cast(r.customer_id AS TEXT), 'rating', r.rating, 'title', r.title, 'body', r.body,
                        'status', r.status,
                        'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at / 1000.0, 'unixepoch'))), '[]')
                 FROM (SELECT * FROM reviews WHERE status = ?1 ORDER BY id LIMIT ?2) r",
        vec![status.to_owned().into(), limit.into()],
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationIn {
    #[schema(pattern = "^(approved|rejected|pending)$")]
    pub status: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ModerationOut {
    id: Id,
    status: String,
}

/// Moderate a review
///
/// Approving counts the rating toward the product's summary at once; audited.
#[utoipa::path(patch, path = "/api/admin/reviews/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a review id")),
    request_body = ModerationIn,
    responses((status = 200, description = "the new status", body = Data<ModerationOut>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn moderate_review(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ModerationIn>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&id).map(|i| i.0).ok_or_else(|| ApiError::not_found("review"))?;
    if !matches!(b.status.as_str(), "approved" | "rejected" | "pending") {
        return Err(ApiError::validation(
            [("status".to_owned(), "must be approved, rejected or pending".to_owned())].into(),
        ));
    }
    let status = b.status;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let before: Option<String> = tx
                .prepare_cached("SELECT status FROM reviews WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let before = before.ok_or_else(|| ApiError::not_found("review"))?;
            tx.prepare_cached("UPDATE reviews SET status = ?2 WHERE id = ?1")?.execute(params![id, status])?;
            audit(
                tx,
                &admin,
                "review.moderate",
                "review",
                id,
                Some(&serde_json::json!({"status": before})),
                Some(&serde_json::json!({"status": status})),
            )?;
            Ok::<_, ApiError>(ModerationOut { id: Id(id), status })
        })
        .await?;
    Ok(data(StatusCode::OK, &out))
}
