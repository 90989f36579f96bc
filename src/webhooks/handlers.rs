//! `/api/admin/webhooks`: subscriptions, their delivery log, manual retries. Every change
//! is audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, Delivery, Subscription};
use super::EventType;
use crate::admin::{audit, AdminSession, PageBefore, BEFORE, PER_PAGE};
use crate::app::AppState;
use crate::domain::{Id, Timestamp};
use crate::error::ApiError;
use crate::http::path::{res, PathId};
use crate::http::respond::{data, no_content};
use crate::http::{Checks, JsonBody, QueryParams};
use crate::openapi::{AdminErrors, BodyErrors, Data, NotFound, QueryErrors, ReadErrors, WriteErrors};
use crate::util::now_ms;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionIn {
    /// where deliveries are POSTed: an http:// or https:// URL
    #[schema(max_length = 2000, extensions(("x-pattern" = json!(crate::domain::URL_PATTERN))))]
    pub url: String,
    /// the event types to send (at least one), e.g. order.paid
    #[schema(min_items = 1, max_items = 32)]
    pub events: Vec<EventType>,
    /// default true
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    #[schema(max_length = 2000, extensions(("x-pattern" = json!(crate::domain::URL_PATTERN))))]
    pub url: Option<String>,
    #[schema(min_items = 1, max_items = 32)]
    pub events: Option<Vec<EventType>>,
    pub active: Option<bool>,
}

/// A subscription with how its endpoint is doing.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionOut {
    #[serde(flatten)]
    subscription: Subscription,
    health: store::Health,
}

fn with_health(c: &rusqlite::Connection, subscription: Subscription) -> rusqlite::Result<SubscriptionOut> {
    let health = store::health(c, subscription.id.0)?;
    Ok(SubscriptionOut { subscription, health })
}

/// A new subscription, with its signing secret (shown this once).
#[derive(Serialize, ToSchema)]
pub struct CreatedOut {
    #[serde(flatten)]
    subscription: Subscription,
    /// the HMAC-SHA256 key of `Storefront-Signature`; shown only in this answer
    secret: String,
}

fn check_url(checks: &mut Checks, url: &str, allow_private: bool) -> Option<String> {
    let ok = url.len() <= 2000 && crate::domain::matches_url_pattern(url) && url.parse::<axum::http::Uri>().is_ok();
    if !ok {
        checks.error("url", "must be an http:// or https:// URL with a host, at most 2000 characters");
        return None;
    }
    // a literal internal address is refused now; a name, at each delivery (see target)
    match super::target::refused_literal(url).filter(|_| !allow_private) {
        Some(why) => {
            checks.error("url", why);
            None
        }
        None => Some(url.to_owned()),
    }
}

fn check_events(checks: &mut Checks, events: &[EventType]) -> Option<Vec<String>> {
    if events.is_empty() || events.len() > 32 {
        checks.error("events", "must list 1 to 32 event types");
        None
    } else {
        let mut list = events.to_vec();
        list.sort();
        list.dedup();
        Some(list.into_iter().map(|e| e.as_str().to_owned()).collect())
    }
}

fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("whsec_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Subscribe a URL to events
///
/// Answers the subscription with its signing `secret`, which is not shown again. Every
/// delivery is signed with it: `Storefront-Signature: t=<unix seconds>,v1=<hex>` where `v1`
/// is HMAC-SHA256 over `"<t>.<raw body>"`. Audited.
#[utoipa::path(post, path = "/api/admin/webhooks", tag = "admin", security(("bearer" = ["admin"])),
    request_body = SubscriptionIn,
    responses((status = 201, description = "the subscription and its secret", body = Data<CreatedOut>),
        AdminErrors, BodyErrors, WriteErrors))]
pub async fn create_webhook(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(b): JsonBody<SubscriptionIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let url = check_url(&mut checks, b.url.trim(), app.config.webhook_private_targets);
    let events = check_events(&mut checks, &b.events);
    checks.finish()?;
    let (url, events) = (url.expect("checked"), events.expect("checked"));
    let active = b.active.unwrap_or(true);
    let secret = new_secret();
    // kept sealed (see crate::secrets): a copy of the database does not give it away
    let s = app.secrets.seal(secret.as_bytes());
    let subscription = app
        .db
        .writer
        .run(move |tx| {
            let id = store::create(tx, &url, &events, &s, active, now_ms())?;
            let sub = store::subscription(tx, id)?.expect("just inserted");
            audit(
                tx,
                &admin,
                "webhook.create",
                "webhook",
                id,
                None,
                Some(&serde_json::to_value(&sub).expect("serializes")),
            )?;
            Ok::<_, ApiError>(sub)
        })
        .await?;
    Ok(data(StatusCode::CREATED, &CreatedOut { subscription, secret }))
}

/// Webhook subscriptions
///
/// Each with its endpoint's `health`: `failing` when its oldest waiting delivery is being
/// retried or its latest settled one gave up.
#[utoipa::path(get, path = "/api/admin/webhooks", tag = "admin", security(("bearer" = ["admin"])),
    responses((status = 200, description = "every subscription", body = Data<Vec<SubscriptionOut>>), AdminErrors, QueryErrors, ReadErrors))]
pub async fn list_webhooks(
    State(app): State<AppState>,
    _admin: AdminSession,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let subs = app
        .db
        .read(|c| {
            let subs = store::subscriptions(c)?;
            subs.into_iter().map(|s| with_health(c, s)).collect::<rusqlite::Result<Vec<_>>>().map_err(ApiError::from)
        })
        .await?;
    Ok(data(StatusCode::OK, &subs))
}

/// One webhook subscription
#[utoipa::path(get, path = "/api/admin/webhooks/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a subscription id")),
    responses((status = 200, description = "the subscription and its health", body = Data<SubscriptionOut>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn get_webhook(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Subscription>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.finish()?;
    let sub = app
        .db
        .read(move |c| store::subscription(c, id)?.map(|s| with_health(c, s)).transpose().map_err(ApiError::from))
        .await?;
    Ok(data(StatusCode::OK, &sub.ok_or_else(|| ApiError::not_found("webhook subscription"))?))
}

/// Change a webhook subscription
///
/// URL, events, active (an inactive subscription keeps its pending deliveries and sends
/// them when made active again). Audited.
#[utoipa::path(patch, path = "/api/admin/webhooks/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a subscription id")),
    request_body = SubscriptionPatch,
    responses((status = 200, description = "the subscription", body = Data<Subscription>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn update_webhook(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Subscription>,
    JsonBody(b): JsonBody<SubscriptionPatch>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let url = b.url.as_deref().and_then(|u| check_url(&mut checks, u.trim(), app.config.webhook_private_targets));
    let events = b.events.as_deref().and_then(|e| check_events(&mut checks, e));
    checks.finish()?;
    let active = b.active;
    let sub = app
        .db
        .writer
        .run(move |tx| {
            let before = store::subscription(tx, id)?.ok_or_else(|| ApiError::not_found("webhook subscription"))?;
            store::update(tx, id, url.as_deref(), events.as_deref(), active, now_ms())?;
            let after = store::subscription(tx, id)?.expect("exists");
            if after.active && !before.active {
                // what waited while it was inactive goes now
                crate::jobs::enqueue(tx, &super::job(id))?;
            }
            let json = |s: &Subscription| serde_json::to_value(s).expect("serializes");
            audit(tx, &admin, "webhook.update", "webhook", id, Some(&json(&before)), Some(&json(&after)))?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(data(StatusCode::OK, &sub))
}

/// Delete a webhook subscription (with its delivery log)
#[utoipa::path(delete, path = "/api/admin/webhooks/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a subscription id")),
    responses((status = 204, description = "deleted"), AdminErrors, NotFound, WriteErrors))]
pub async fn delete_webhook(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Subscription>,
) -> Result<Response, ApiError> {
    app.db
        .writer
        .run(move |tx| {
            let before = store::subscription(tx, id)?.ok_or_else(|| ApiError::not_found("webhook subscription"))?;
            store::delete(tx, id)?;
            audit(
                tx,
                &admin,
                "webhook.delete",
                "webhook",
                id,
                Some(&serde_json::to_value(&before).expect("serializes")),
                None,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

/// A subscription's deliveries, newest first
///
/// Each delivery's event, state (`pending`, `succeeded`, `failed`), attempts, and the last
/// attempt's response status or error.
#[utoipa::path(get, path = "/api/admin/webhooks/{id}/deliveries", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a subscription id"), PageBefore),
    responses((status = 200, description = "deliveries", body = Data<Vec<Delivery>>), AdminErrors, NotFound, QueryErrors, ReadErrors))]
pub async fn webhook_deliveries(
    State(app): State<AppState>,
    _admin: AdminSession,
    PathId(id, _): PathId<res::Subscription>,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let before = q.int(&BEFORE).unwrap_or(i64::MAX);
    let limit = q.int_or_default(&PER_PAGE);
    q.finish()?;
    let list = app
        .db
        .read(move |c| {
            if store::subscription(c, id)?.is_none() {
                return Err(ApiError::not_found("webhook subscription"));
            }
            Ok(store::deliveries(c, id, before, limit)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &list))
}

#[derive(Serialize, ToSchema)]
pub struct RetriedOut {
    delivery_id: Id,
    state: String,
    next_at: Timestamp,
}

/// Send a delivery again
///
/// The delivery becomes pending with its attempts starting over; it is sent in its turn
/// (after older pending deliveries of the subscription).
#[utoipa::path(post, path = "/api/admin/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a subscription id"), ("delivery_id" = String, Path, description = "a delivery id")),
    responses((status = 202, description = "queued", body = Data<RetriedOut>), AdminErrors, NotFound, WriteErrors))]
pub async fn retry_delivery(
    State(app): State<AppState>,
    admin: AdminSession,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&id).map(|i| i.0).ok_or_else(PathId::<res::Subscription>::not_found)?;
    let delivery = Id::parse(&delivery).map(|i| i.0).ok_or_else(|| ApiError::not_found("delivery"))?;
    let now = now_ms();
    app.db
        .writer
        .run(move |tx| {
            store::retry(tx, id, delivery, now).map_err(|e| match e {
                store::RetryError::NotFound => ApiError::not_found("delivery"),
                store::RetryError::Store(e) => e.into(),
            })?;
            audit(tx, &admin, "webhook.delivery.retry", "webhook_delivery", delivery, None, None)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(data(
        StatusCode::ACCEPTED,
        &RetriedOut { delivery_id: Id(delivery), state: "pending".into(), next_at: Timestamp(now) },
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_match_the_documented_pattern() {
        for ok in
            ["http://127.0.0.1:8080/hooks", "https://shop.example.com/a/b?x=1&y=2", "https://h", "http://a-b.c:1/"]
        {
            assert!(crate::domain::matches_url_pattern(ok), "{ok}");
        }
        for bad in [
            "ftp://x",
            "http://",
            "http://a b",
            "https://a:123456/",
            "http://a/\"x",
            "https://ex.com/{x}",
            "http://h#frag",
        ] {
            assert!(!crate::domain::matches_url_pattern(bad), "{bad}");
        }
    }
}
