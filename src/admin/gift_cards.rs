//! Gift cards as the shop handles them: issue one (its code shown in that answer only),
//! list them, read one with its ledger, turn one off or on, change its note or expiry.
//! Each change is one writer unit with its audit row (never the code).

use super::*;
use crate::gift_cards::{self as cards, GiftCardOut, NewCard};
use crate::http::path::{res, PathId};
use crate::util::{now_ms, parse_utc};

/// The most one card may hold: 100,000.00.
const MAX_AMOUNT: i64 = 10_000_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardIn {
    /// minor units
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub amount: i64,
    /// one of the shop's currencies (the `currencies` setting; else 422): the card pays
    /// only carts and orders in it
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// when it stops paying (UTC date or timestamp, in the future); absent: never
    #[serde(default)]
    #[schema(extensions(("x-pattern" = json!(crate::util::UTC_PATTERN))))]
    pub expires_at: Option<String>,
    /// for the shop (who it is for, why it was given)
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub note: Option<String>,
}

/// A card just issued: the only answer that carries its code.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct IssuedOut {
    /// `XXXX-XXXX-XXXX-XXXX`: give it to the customer now; only its hash is kept
    pub code: String,
    #[serde(flatten)]
    pub card: GiftCardOut,
}

fn expiry(checks: &mut Checks, field: &str, v: &str, now: i64) -> Option<i64> {
    match parse_utc(v) {
        None => {
            checks.error(field, "must be a UTC date (2027-01-31) or timestamp (2027-01-31T12:00:00Z)");
            None
        }
        Some(at) if at <= now => {
            checks.error(field, "must be in the future");
            None
        }
        Some(at) => Some(at),
    }
}

/// Issue a gift card
///
/// `amount` in one of the shop's currencies (minor units of it), optional expiry and note. The answer (201) is the only
/// one that carries the `code`: only its hash is kept, so a lost code cannot be shown again
/// (disable the card and issue another). Audited, without the code.
#[utoipa::path(post, path = "/api/admin/gift-cards", tag = "admin", security(("bearer" = ["admin"])),
    request_body = GiftCardIn,
    responses((status = 201, description = "the card, with its code", body = Data<IssuedOut>), AdminErrors, BodyErrors, WriteErrors))]
pub async fn create_gift_card(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(b): JsonBody<GiftCardIn>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let mut checks = Checks::new();
    if !(1..=MAX_AMOUNT).contains(&b.amount) {
        checks.error("amount", "must be 1 to 10000000 (minor units)");
    }
    checks.check("currency", crate::domain::currencies::sold(&app.live().currencies, &b.currency));
    let expires_at = b.expires_at.as_deref().and_then(|v| expiry(&mut checks, "expires_at", v, now));
    let note = checks.check("note", text(b.note.as_deref().unwrap_or(""), 500, true));
    checks.finish()?;
    let note = note.expect("checked");
    let out = app
        .db
        .writer
        .run(move |tx| {
            let new = NewCard {
                amount: b.amount,
                currency: &b.currency,
                expires_at,
                note: &note,
                order: None,
                created_by: Some(admin.0.customer_id),
            };
            let (id, code) = cards::issue(tx, &new, now)?;
            let card = cards::detail(tx, id, now)?.ok_or_else(ApiError::internal)?;
            audit(tx, &admin, "gift_card.issue", "gift_card", id, None, Some(&without_ledger(&card)))?;
            Ok::<_, ApiError>(IssuedOut { code, card })
        })
        .await?;
    Ok(data(StatusCode::CREATED, &out))
}

const CODE: Param = Param::text("code", 40, crate::http::Shape::Line).doc("the one card with this code (as typed)");

crate::http::query_params!(
    struct GiftCardsQuery [CODE]
);

/// Gift cards, newest first
///
/// Keyset pages: `before` is the last id of the previous page. With `code`, the one card
/// that has it (none when no card has it): a customer reading their code out.
#[utoipa::path(get, path = "/api/admin/gift-cards", tag = "admin", security(("bearer" = ["admin"])),
    params(GiftCardsQuery, PageBefore),
    responses((status = 200, description = "cards", body = Data<Vec<GiftCardOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_gift_cards(
    State(app): State<AppState>,
    _admin: AdminSession,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let code = q.text(&CODE);
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    let now = now_ms();
    let list = app
        .db
        .read(move |conn| {
            let found = match code {
                Some(code) => cards::by_code(conn, &code)?
                    .filter(|c| c.id < before)
                    .map(|c| vec![GiftCardOut::new(&c, now)])
                    .unwrap_or_default(),
                None => cards::list(conn, before, limit, now)?,
            };
            Ok::<_, ApiError>(found)
        })
        .await?;
    Ok(data(StatusCode::OK, &list))
}

/// One gift card
///
/// With its ledger: every movement of its balance (issued, spent on an order, released when
/// that order closed unpaid, refunded to it, disabled or enabled), oldest first.
#[utoipa::path(get, path = "/api/admin/gift-cards/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a gift card id")),
    responses((status = 200, description = "the card", body = Data<GiftCardOut>), AdminErrors, NotFound, ReadErrors))]
pub async fn get_gift_card(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::GiftCard>,
) -> Result<Response, ApiError> {
    let out = app.db.read(move |conn| cards::detail(conn, id, now_ms()).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &out.ok_or_else(|| ApiError::not_found("gift card"))?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardChangeIn {
    /// true: it cannot pay (it keeps its balance); false: it can again
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    #[schema(max_length = 500, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub note: Option<String>,
    /// a new expiry (in the future), or null: never
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>, extensions(("x-pattern" = json!(crate::util::UTC_PATTERN))))]
    pub expires_at: Option<Option<String>>,
}

/// Change a gift card
///
/// `disabled: true` stops it paying (checkouts with it are refused; its balance stays),
/// `false` lets it pay again — each a row of its ledger; a new `note` or `expires_at`
/// (null: never). Audited.
#[utoipa::path(patch, path = "/api/admin/gift-cards/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a gift card id")),
    request_body = GiftCardChangeIn,
    responses((status = 200, description = "the card", body = Data<GiftCardOut>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn update_gift_card(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::GiftCard>,
    JsonBody(b): JsonBody<GiftCardChangeIn>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let mut checks = Checks::new();
    let note = match &b.note {
        Some(n) => checks.check("note", text(n, 500, true)),
        None => None,
    };
    let expires_at: Option<Option<i64>> = match &b.expires_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) => expiry(&mut checks, "expires_at", v, now).map(Some),
    };
    checks.finish()?;
    let disabled = b.disabled;
    let out = app
        .db
        .writer
        .run(move |tx| {
            let before = cards::detail(tx, id, now)?.ok_or_else(|| ApiError::not_found("gift card"))?;
            if let Some(off) = disabled {
                let why = if off { "disabled by the shop" } else { "enabled by the shop" };
                cards::set_disabled(tx, id, off, why, now)?;
            }
            if let Some(n) = &note {
                tx.prepare_cached("UPDATE gift_cards SET note = ?2 WHERE id = ?1")?.execute(params![id, n])?;
            }
            if let Some(e) = expires_at {
                tx.prepare_cached("UPDATE gift_cards SET expires_at = ?2 WHERE id = ?1")?.execute(params![id, e])?;
            }
            let after = cards::detail(tx, id, now)?.ok_or_else(ApiError::internal)?;
            audit(
                tx,
                &admin,
                "gift_card.update",
                "gift_card",
                id,
                Some(&without_ledger(&before)),
                Some(&without_ledger(&after)),
            )?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::OK, &out))
}

/// The card's fields without its ledger (an audit row's before and after).
fn without_ledger(c: &GiftCardOut) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("ledger");
    }
    v
}
