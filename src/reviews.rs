//! Posting reviews: only a customer with a paid (or fulfilled) order containing the
//! product may review it, once per product; reviews wait for moderation (`pending`) and
//! count toward the rating summary when approved (the triggers on `reviews` keep it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::CustomerSession;
use crate::db::writer::WriteTx;
use crate::domain::{is_slug, text, Id, Timestamp};
use crate::error::ApiError;
use crate::http::respond::data;
use crate::http::{Checks, JsonBody};
use crate::util::now_ms;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewIn {
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[serde(default)]
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(max_length = 5000, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub body: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewOut {
    pub id: Id,
    pub product_id: Id,
    pub rating: i64,
    pub title: String,
    pub body: String,
    /// `pending` until a moderator decides
    #[schema(value_type = String, pattern = "^pending$")]
    pub status: &'static str,
    pub created_at: Timestamp,
}

/// Review a product you bought
///
/// A paid or fulfilled order of yours must contain it; one review per product; held for
/// moderation (`pending`).
#[utoipa::path(post, path = "/api/products/{slug}/reviews", tag = "catalog", security(("bearer" = [])),
    params(("slug" = String, Path, description = "the product's slug")),
    request_body = ReviewIn,
    responses((status = 201, description = "the review, pending moderation", body = crate::openapi::Data<ReviewOut>),
        crate::openapi::AuthErrors, crate::openapi::BodyErrors, crate::openapi::NotFound,
        (status = 403, description = "purchase_required", body = crate::openapi::ErrorBody),
        (status = 409, description = "already_reviewed", body = crate::openapi::ErrorBody),
        crate::openapi::WriteErrors))]
pub async fn post(
    State(app): State<AppState>,
    me: CustomerSession,
    Path(slug): Path<String>,
    JsonBody(b): JsonBody<ReviewIn>,
) -> Result<Response, ApiError> {
    if !is_slug(&slug) {
        return Err(ApiError::not_found("product"));
    }
    let mut checks = Checks::new();
    if !(1..=5).contains(&b.rating) {
        checks.error("rating", "must be a whole number from 1 to 5");
    }
    let title = checks.check("title", text(b.title.as_deref().unwrap_or(""), 200, true));
    let body = checks.check("body", text(b.body.as_deref().unwrap_or(""), 5000, true));
    checks.finish()?;
    let (title, body, rating) = (title.expect("checked"), body.expect("checked"), b.rating);
    let review = app
        .db
        .writer
        .run(move |tx| {
            let product: Option<i64> = tx
                .prepare_cached("SELECT id FROM products WHERE slug = ?1 AND status = 'active'")?
                .query_row([&slug], |r| r.get(0))
                .optional()?;
            let product = product.ok_or_else(|| ApiError::not_found("product"))?;
            let bought: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM orders o JOIN order_items oi ON oi.order_id = o.id
                     WHERE o.customer_id = ?1 AND o.status IN ('paid', 'partially_fulfilled', 'fulfilled') AND oi.product_id = ?2)",
                )?
                .query_row(params![me.customer_id, product], |r| r.get(0))?;
            if !bought {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "purchase_required",
                    "only customers who bought this product may review it",
                ));
            }
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM reviews WHERE customer_id = ?1 AND product_id = ?2)")?
                .query_row(params![me.customer_id, product], |r| r.get(0))?;
            if exists {
                return Err(ApiError::new(StatusCode::CONFLICT, "already_reviewed", "you have reviewed this product"));
            }
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO reviews(product_id, customer_id, rating, title, body, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            )?
            .execute(params![product, me.customer_id, rating, title, body, now])?;
            Ok(ReviewOut {
                id: Id(tx.last_insert_rowid()),
                product_id: Id(product),
                rating,
                title,
                body,
                status: "pending",
                created_at: Timestamp(now),
            })
        })
        .await?;
    Ok(data(StatusCode::CREATED, &review))
}

// --- moderation (the admin API's reviews) -------------------------------------------------

/// Where a review stands in moderation: only approved reviews are shown and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
}

impl ReviewStatus {
    /// Pending first: the moderation queue's default.
    pub const ALL: [ReviewStatus; 3] = [ReviewStatus::Pending, ReviewStatus::Approved, ReviewStatus::Rejected];
    pub const NAMES: [&'static str; 3] = ["pending", "approved", "rejected"];

    pub fn as_str(self) -> &'static str {
        ReviewStatus::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        ReviewStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl crate::http::Choice for ReviewStatus {
    fn choices() -> Vec<(&'static str, ReviewStatus)> {
        ReviewStatus::ALL.map(|s| (s.as_str(), s)).to_vec()
    }
}

/// The moderation queue of one status, oldest first: one JSON array written by SQLite.
pub const MODERATION_QUEUE_JSON: &str =
    "SELECT coalesce(json_group_array(json_object('id', cast(r.id AS TEXT), 'product_id', cast(r.product_id AS TEXT),
            'customer_id', cast(r.customer_id AS TEXT), 'rating', r.rating, 'title', r.title, 'body', r.body,
            'status', r.status,
            'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at / 1000.0, 'unixepoch'))), '[]')
     FROM (SELECT * FROM reviews WHERE status = ?1 ORDER BY id LIMIT ?2) r";

/// A review's moderation status, if the review exists.
pub fn status(conn: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT status FROM reviews WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()
}

/// Sets a review's moderation status (the triggers on `reviews` move the rating summary).
pub fn set_status(tx: &WriteTx, id: i64, status: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE reviews SET status = ?2 WHERE id = ?1")?.execute(params![id, status])?;
    Ok(())
}
