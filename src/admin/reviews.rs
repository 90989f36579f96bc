//! Review moderation: the queue, and approving or rejecting (which moves the product's
//! rating at once).

use super::*;
use crate::http::path::{res, PathId};
use crate::reviews::ReviewStatus;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminReviewOut {
    id: Id,
    product_id: Id,
    customer_id: Id,
    rating: i64,
    title: String,
    body: String,
    #[schema(extensions(("x-enum" = json!(ReviewStatus::NAMES))))]
    status: String,
    created_at: crate::domain::Timestamp,
}

const STATUS: OneOf<ReviewStatus> = OneOf::defaulted("status", "");

crate::http::query_params!(
    struct ModerationQuery [STATUS.param, PER_PAGE]
);

/// The review moderation queue, oldest first
#[utoipa::path(get, path = "/api/admin/reviews", tag = "admin", security(("bearer" = ["admin"])),
    params(ModerationQuery),
    responses((status = 200, description = "reviews", body = Data<Vec<AdminReviewOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn reviews(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let status = q.one_of_or_default(&STATUS).as_str();
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    json_list(&app, crate::reviews::MODERATION_QUEUE_JSON, vec![status.to_owned().into(), limit.into()]).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationIn {
    #[schema(extensions(("x-enum" = json!(ReviewStatus::NAMES))))]
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
    PathId(id, _): PathId<res::Review>,
    JsonBody(b): JsonBody<ModerationIn>,
) -> Result<Response, ApiError> {
    let Some(status) = ReviewStatus::parse(&b.status) else {
        return Err(ApiError::validation(
            [("status".to_owned(), format!("must be one of: {}", ReviewStatus::NAMES.join(", ")))].into(),
        ));
    };
    let status = status.as_str().to_owned();
    let out = app
        .db
        .writer
        .run(move |tx| {
            let before = crate::reviews::status(tx, id)?.ok_or_else(|| ApiError::not_found("review"))?;
            crate::reviews::set_status(tx, id, &status)?;
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
