//! The dashboard's "System" section: webhook subscriptions (their endpoint's health, their
//! deliveries, retries), API keys (made and revoked in person; a key is shown once),
//! exports (the job's page follows its progress, then offers the file), the audit log and
//! the response cache (figures per tier, flushing a tag), the settings that change while
//! the shop runs. Every action is the admin API's
//! handler, with its checks and its audit row.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{csrf, get, list_params, older, page_with, when, AdminPage};
use super::buy::{answered, see_other};
use super::session::{check_csrf, CsrfForm, CSRF_FIELD};
use super::words::{n_, said, t, tf, Lang};
use crate::admin;
use crate::app::AppState;
use crate::auth::api_keys::Area;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::{JsonBody, QueryParams};
use crate::webhooks::{self, EVENT_TYPES};

/// The section's tabs (its menu entry is the first).
const TABS: &[(&str, &str)] = &[
    ("/admin/webhooks", n_("Webhooks")),
    ("/admin/api-keys", n_("API keys")),
    ("/admin/exports", n_("Exports")),
    ("/admin/audit", n_("Audit log")),
    ("/admin/cache", n_("Cache")),
    ("/admin/settings", n_("Settings")),
];

fn tabs(w: Lang, here: &str) -> Markup {
    html! {
        nav.tabs aria-label=(t(w, "System")) {
            @for (href, name) in TABS { a href=(href) aria-current=[(*href == here).then_some("page")] { (t(w, name)) } }
        }
    }
}

fn page(app: &AppState, a: &AdminPage, title: &str, main: Markup) -> Response {
    page_with(app, a, title, "/admin/webhooks", main)
}

pub(crate) use super::forms::{field, refused, Fields};

fn checked_csrf(a: &AdminPage, f: &Fields) -> Result<(), ApiError> {
    check_csrf(a.ps.token.as_deref(), field(f, CSRF_FIELD))
}

fn error_box(errors: &BTreeMap<String, String>) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error role="alert" {
                @for (k, v) in errors { p { @if k != "form" { strong { (k.replace('_', " ")) ": " } } (v) } }
            }
        }
    }
}

fn status_code(s: StatusCode, mut r: Response) -> Response {
    *r.status_mut() = s;
    r
}

// --- webhooks ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Health {
    state: String,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<String>,
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
    url: String,
    events: Vec<String>,
    active: bool,
    created_at: String,
    health: Health,
}

#[derive(Deserialize)]
struct Delivery {
    id: String,
    event: String,
    state: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<String>,
    next_at: Option<String>,
    created_at: String,
}

fn health(w: Lang, h: &Health) -> Markup {
    let (class, words) = match h.state.as_str() {
        "ok" => ("status fulfilled", n_("delivering")),
        "failing" => ("status cancelled", n_("failing")),
        _ => ("status pending", n_("nothing sent yet")),
    };
    html! {
        span class=(class) { (t(w, words)) }
        @if h.state == "failing" {
            br;
            span.meta {
                @if let Some(s) = h.last_status { (t(w, "answered ")) (s) } @else if let Some(e) = &h.last_error { (e) }
                @if let Some(at) = &h.last_attempt_at { " · " (when(at)) }
            }
        }
    }
}

/// The subscriptions whose endpoint is failing (the home page's queue lists them).
pub(crate) async fn failing_webhooks(app: &AppState, a: &AdminPage) -> Result<Vec<(String, String)>, ApiError> {
    let subs: Vec<Subscription> =
        answered(webhooks::handlers::list_webhooks(State(app.clone()), a.admin.clone(), QueryParams::parse("")?).await)
            .await?;
    Ok(subs.into_iter().filter(|s| s.active && s.health.state == "failing").map(|s| (s.id, s.url)).collect())
}

/// The form's events: every type, ticked as `chosen`.
fn event_boxes(w: Lang, chosen: &[String], errors: &BTreeMap<String, String>) -> Markup {
    html! {
        fieldset.field #events aria-describedby=[errors.get("events").map(|_| "events-error")] {
            legend { (t(w, "Events")) }
            div.choices {
                @for e in EVENT_TYPES {
                    label.choice { input type="checkbox" name="event" value=(e) checked[chosen.iter().any(|c| c == e)]; code { (e) } }
                }
            }
            @if let Some(m) = errors.get("events") { p.field-error #events-error { (m) } }
        }
    }
}

fn url_field(w: Lang, value: &str, errors: &BTreeMap<String, String>) -> Markup {
    html! {
        div.field {
            label for="url" { (t(w, "Endpoint URL")) }
            input #url type="url" name="url" value=(value) required maxlength="2000" placeholder=(t(w, "https://example.com/hooks/storefront"))
                aria-invalid=[errors.get("url").map(|_| "true")] aria-describedby=[errors.get("url").map(|_| "url-error")];
            @if let Some(m) = errors.get("url") { p.field-error #url-error { (m) } }
        }
    }
}

fn subscription_body(f: &Fields) -> Value {
    let events: Vec<&str> = f.iter().filter(|(k, _)| k == "event").map(|(_, v)| v.as_str()).collect();
    json!({ "url": field(f, "url").unwrap_or("").trim(), "events": events, "active": field(f, "active").is_some() })
}

/// `GET /admin/webhooks`
pub async fn webhooks(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    webhooks_page(&app, &a, &Fields::new(), &BTreeMap::new(), None).await
}

async fn webhooks_page(
    app: &AppState,
    a: &AdminPage,
    typed: &Fields,
    errors: &BTreeMap<String, String>,
    made: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let subs: Vec<Subscription> =
        answered(webhooks::handlers::list_webhooks(State(app.clone()), a.admin.clone(), QueryParams::parse("")?).await)
            .await?;
    let chosen: Vec<String> = typed.iter().filter(|(k, _)| k == "event").map(|(_, v)| v.clone()).collect();
    let main = html! {
        h1 { (t(w, "Webhooks")) }
        (tabs(w, "/admin/webhooks"))
        p.meta { (t(w, "Events POSTed to your endpoints as they happen, signed with each subscription's secret, retried until they arrive.")) }
        @if let Some((id, secret)) = &made {
            div.notice role="status" #secret-notice {
                p { strong { (t(w, "Subscription #")) (id) (t(w, " made.")) } (t(w, " Its signing secret is shown this once — copy it into the receiving end now:")) }
                p { code.secret #secret { (secret) } }
            }
        }
        @if subs.is_empty() { p.empty { (t(w, "No subscriptions yet.")) } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Endpoint")) } th scope="col" { (t(w, "Events")) } th scope="col" { (t(w, "Health")) } th scope="col" { (t(w, "Since")) } } }
                tbody { @for s in &subs { tr #(format!("webhook-{}", s.id)) {
                    td { a href=(format!("/admin/webhooks/{}", s.id)) { (s.url) } @if !s.active { " " span.status.expired { (t(w, "paused")) } } }
                    td data-label=(t(w, "Events")) { (s.events.join(", ")) }
                    td data-label=(t(w, "Health")) { (health(w, &s.health)) }
                    td data-label=(t(w, "Since")) { (when(&s.created_at)) }
                } } }
            }
        }
        section.panel aria-labelledby="add" {
            h2 #add { (t(w, "Add a subscription")) }
            (error_box(errors))
            form method="post" action="/admin/webhooks" novalidate {
                (csrf(&a.ps))
                (url_field(w, field(typed, "url").unwrap_or(""), errors))
                (event_boxes(w, &chosen, errors))
                label.choice { input type="checkbox" name="active" value="1" checked[typed.is_empty() || field(typed, "active").is_some()]; (t(w, "Active")) }
                button type="submit" { (t(w, "Add subscription")) }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(status_code(status, page(app, a, t(a.w, "Webhooks"), main)))
}

/// `POST /admin/webhooks`: the secret is on the answer page, once.
pub async fn create_webhook(
    State(app): State<AppState>,
    a: AdminPage,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let body = serde_json::from_value(subscription_body(&f));
    let made = match body {
        Ok(b) => {
            answered::<Value>(
                webhooks::handlers::create_webhook(State(app.clone()), a.admin.clone(), JsonBody(b)).await,
            )
            .await
        }
        Err(_) => {
            Err(ApiError::validation([("events".to_owned(), t(a.w, "choose known event types").to_owned())].into()))
        }
    };
    match made {
        Ok(v) => {
            let id = v["id"].as_str().unwrap_or("").to_owned();
            let secret = v["secret"].as_str().unwrap_or("").to_owned();
            webhooks_page(&app, &a, &Fields::new(), &BTreeMap::new(), Some((id, secret))).await
        }
        Err(e) => webhooks_page(&app, &a, &f, &refused(a.w, e)?, None).await,
    }
}

/// `GET /admin/webhooks/{id}?before=&saved=&retried=`: the subscription, its deliveries.
pub async fn webhook(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = list_params(raw.as_deref(), &["before", "saved", "retried"])?;
    webhook_page(&app, &a, &id, &p, None, &BTreeMap::new()).await
}

async fn webhook_page(
    app: &AppState,
    a: &AdminPage,
    id: &str,
    p: &[(String, String)],
    typed: Option<&Fields>,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let sid = Id::parse(id).ok_or_else(|| ApiError::not_found("webhook subscription"))?;
    let s: Subscription = answered(
        webhooks::handlers::get_webhook(
            State(app.clone()),
            a.admin.clone(),
            PathId(sid.0, PhantomData),
            QueryParams::parse("")?,
        )
        .await,
    )
    .await?;
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50")];
    api.extend(get(p, "before").map(|b| ("before", b)));
    let deliveries: Vec<Delivery> = answered(
        webhooks::handlers::webhook_deliveries(
            State(app.clone()),
            a.admin.clone(),
            PathId(sid.0, PhantomData),
            QueryParams::parse(&encode_pairs(api))?,
        )
        .await,
    )
    .await?;
    let chosen: Vec<String> = match typed {
        Some(t) => t.iter().filter(|(k, _)| k == "event").map(|(_, v)| v.clone()).collect(),
        None => s.events.clone(),
    };
    let url = typed.and_then(|t| field(t, "url")).unwrap_or(&s.url);
    let active = typed.map_or(s.active, |t| field(t, "active").is_some());
    let main = html! {
        p.crumbs { a href="/admin/webhooks" { (t(w, "Webhooks")) } " / #" (s.id) }
        h1 { (s.url) }
        @if get(p, "saved").is_some() { p.notice role="status" { (t(w, "Saved.")) } }
        @if let Some(d) = get(p, "retried") { p.notice role="status" { (t(w, "Delivery #")) (d) (t(w, " will be sent again in its turn.")) } }
        p #health { (t(w, "Health: ")) (health(w, &s.health)) }
        section.panel aria-labelledby="deliveries" {
            h2 #deliveries { (t(w, "Deliveries")) }
            @if deliveries.is_empty() { p.empty { (t(w, "Nothing sent yet.")) } }
            @else {
                table.lines {
                    thead { tr { th scope="col" { (t(w, "Event")) } th scope="col" { (t(w, "State")) } th scope="col" { (t(w, "Attempts")) } th scope="col" { (t(w, "Last answer")) } th scope="col" { span.skip { (t(w, "Actions")) } } } }
                    tbody { @for d in &deliveries { tr #(format!("delivery-{}", d.id)) {
                        td { code { (d.event) } br; span.meta { "#" (d.id) " · " (when(&d.created_at)) } }
                        td data-label=(t(w, "State")) {
                            span class=(format!("status {}", match d.state.as_str() { "succeeded" => "fulfilled", "failed" => "cancelled", _ => "pending" })) { (said(w, &d.state)) }
                            @if let Some(n) = &d.next_at { br; span.meta { (t(w, "next try ")) (when(n)) } }
                        }
                        td data-label=(t(w, "Attempts")) { (d.attempts) }
                        td data-label=(t(w, "Last answer")) {
                            @if let Some(s) = d.last_status { (s) } @else if let Some(e) = &d.last_error { code { (e) } } @else { "—" }
                            @if let Some(at) = &d.last_attempt_at { br; span.meta { (when(at)) } }
                        }
                        td {
                            @if d.state != "pending" {
                                form.inline method="post" action=(format!("/admin/webhooks/{}/deliveries/{}/retry", s.id, d.id)) {
                                    (csrf(&a.ps)) button.quiet type="submit" { (t(w, "Send again")) }
                                }
                            }
                        }
                    } } }
                }
                (older(w, &format!("/admin/webhooks/{}", s.id), &[], deliveries.len(), deliveries.last().map(|d| d.id.as_str())))
            }
        }
        form.panel method="post" action=(format!("/admin/webhooks/{}", s.id)) novalidate {
            h2 { (t(w, "Change")) }
            (error_box(errors))
            (csrf(&a.ps))
            (url_field(w, url, errors))
            (event_boxes(w, &chosen, errors))
            label.choice { input type="checkbox" name="active" value="1" checked[active]; (t(w, "Active (a paused subscription keeps its deliveries and sends them when active again)")) }
            button type="submit" { (t(w, "Save")) }
        }
        form.panel method="post" action=(format!("/admin/webhooks/{}/delete", s.id)) {
            (csrf(&a.ps))
            p.meta { (t(w, "Deleting ends the subscription and its delivery log; this cannot be undone.")) }
            button.danger type="submit" { (t(w, "Delete subscription")) }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let title = format!("{}{}", t(w, "Webhook #"), s.id);
    Ok(status_code(status, page(app, a, &title, main)))
}

/// `POST /admin/webhooks/{id}`
pub async fn update_webhook(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let sid = Id::parse(&id).ok_or_else(|| ApiError::not_found("webhook subscription"))?;
    let changed = match serde_json::from_value(subscription_body(&f)) {
        Ok(b) => {
            answered::<Value>(
                webhooks::handlers::update_webhook(
                    State(app.clone()),
                    a.admin.clone(),
                    PathId(sid.0, PhantomData),
                    JsonBody(b),
                )
                .await,
            )
            .await
        }
        Err(_) => {
            Err(ApiError::validation([("events".to_owned(), t(a.w, "choose known event types").to_owned())].into()))
        }
    };
    match changed {
        Ok(_) => Ok(see_other(&format!("/admin/webhooks/{}?saved=1", sid.0), None)),
        Err(e) => webhook_page(&app, &a, &id, &[], Some(&f), &refused(a.w, e)?).await,
    }
}

/// `POST /admin/webhooks/{id}/delete`
pub async fn delete_webhook(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let sid = Id::parse(&id).ok_or_else(|| ApiError::not_found("webhook subscription"))?;
    super::buy::done(
        webhooks::handlers::delete_webhook(State(app.clone()), a.admin.clone(), PathId(sid.0, PhantomData)).await,
    )?;
    Ok(see_other("/admin/webhooks", None))
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery_id}/retry`
pub async fn retry_delivery(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, delivery)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let _: Value = answered(
        webhooks::handlers::retry_delivery(State(app.clone()), a.admin.clone(), Path((id.clone(), delivery.clone())))
            .await,
    )
    .await?;
    let (sid, did) = (Id::parse(&id).map_or(0, |i| i.0), Id::parse(&delivery).map_or(0, |i| i.0));
    Ok(see_other(&format!("/admin/webhooks/{sid}?retried={did}"), None))
}

// --- API keys ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Key {
    id: String,
    name: String,
    scopes: Vec<String>,
    prefix: String,
    created_at: String,
    last_used_at: Option<String>,
}

/// `GET /admin/api-keys`
pub async fn api_keys(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    keys_page(&app, &a, &Fields::new(), &BTreeMap::new(), None).await
}

async fn keys_page(
    app: &AppState,
    a: &AdminPage,
    typed: &Fields,
    errors: &BTreeMap<String, String>,
    made: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let keys: Vec<Key> =
        answered(admin::api_keys::list_keys(State(app.clone()), a.admin.clone(), QueryParams::parse("")?).await)
            .await?;
    let main = html! {
        h1 { (t(w, "API keys")) }
        (tabs(w, "/admin/api-keys"))
        p.meta { (t(w, "For integrations: ")) code { (t(w, "Authorization: Bearer <key>")) } (t(w, " on the admin API, each key limited to the areas you give it. Only a key's fingerprint is kept.")) }
        @if let Some((name, key)) = &made {
            div.notice role="status" #key-notice {
                p { strong { (t(w, "Key “")) (name) (t(w, "” made.")) } (t(w, " It is shown this once — copy it now:")) }
                p { code.secret #new-key { (key) } }
            }
        }
        @if keys.is_empty() { p.empty { (t(w, "No keys yet.")) } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Name")) } th scope="col" { (t(w, "Key")) } th scope="col" { (t(w, "Scopes")) } th scope="col" { (t(w, "Last used")) } th scope="col" { span.skip { (t(w, "Actions")) } } } }
                tbody { @for k in &keys { tr #(format!("key-{}", k.id)) {
                    td { (k.name) br; span.meta { (t(w, "made ")) (when(&k.created_at)) } }
                    td data-label=(t(w, "Key")) { code { (k.prefix) "…" } }
                    td data-label=(t(w, "Scopes")) { (k.scopes.join(", ")) }
                    td data-label=(t(w, "Last used")) { @if let Some(t) = &k.last_used_at { (when(t)) } @else { (t(w, "never")) } }
                    td {
                        form.inline method="post" action=(format!("/admin/api-keys/{}/revoke", k.id)) {
                            (csrf(&a.ps)) button.danger type="submit" aria-label=(tf(w, "Revoke {name}", &[("name", &k.name)])) { (t(w, "Revoke")) }
                        }
                    }
                } } }
            }
        }
        section.panel aria-labelledby="add" {
            h2 #add { (t(w, "Make a key")) }
            (error_box(errors))
            form method="post" action="/admin/api-keys" novalidate {
                (csrf(&a.ps))
                div.field {
                    label for="name" { (t(w, "What it is for")) }
                    input #name name="name" value=(field(typed, "name").unwrap_or("")) required maxlength="100" placeholder=(t(w, "warehouse sync"))
                        aria-invalid=[errors.get("name").map(|_| "true")] aria-describedby=[errors.get("name").map(|_| "name-error")];
                    @if let Some(m) = errors.get("name") { p.field-error #name-error { (m) } }
                }
                table.lines.scopes {
                    caption { (t(w, "Access per area (write includes read)")) }
                    thead { tr { th scope="col" { (t(w, "Area")) } th scope="col" { (t(w, "None")) } th scope="col" { (t(w, "Read")) } th scope="col" { (t(w, "Write")) } } }
                    tbody { @for area in Area::ALL {
                        @let n = area.name();
                        @let now = field(typed, n).unwrap_or("");
                        tr {
                            th scope="row" { (n) }
                            @for (v, what) in [("", t(w, "no access")), ("read", t(w, "read")), ("write", t(w, "write"))] {
                                td { input type="radio" name=(n) value=(v) checked[now == v] aria-label=(format!("{n}: {what}")); }
                            }
                        }
                    } }
                }
                button type="submit" { (t(w, "Make key")) }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(status_code(status, page(app, a, t(a.w, "API keys"), main)))
}

/// `POST /admin/api-keys`: the key is on the answer page, once.
pub async fn create_key(
    State(app): State<AppState>,
    a: AdminPage,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let scopes: Vec<String> = Area::ALL
        .iter()
        .filter_map(|area| match field(&f, area.name()) {
            Some(level @ ("read" | "write")) => Some(format!("{}:{level}", area.name())),
            _ => None,
        })
        .collect();
    let made = match serde_json::from_value(json!({ "name": field(&f, "name").unwrap_or("").trim(), "scopes": scopes }))
    {
        Ok(b) => answered::<Value>(admin::api_keys::create_key(State(app.clone()), a.admin.clone(), JsonBody(b)).await)
            .await
            .map_err(|mut e| {
                if e.details.contains_key("scopes") {
                    e.details.insert("scopes".into(), json!(t(a.w, "give the key access to at least one area")));
                }
                e
            }),
        Err(_) => Err(ApiError::validation([("scopes".to_owned(), t(a.w, "unknown scope").to_owned())].into())),
    };
    match made {
        Ok(v) => {
            let name = v["name"].as_str().unwrap_or("").to_owned();
            let key = v["key"].as_str().unwrap_or("").to_owned();
            keys_page(&app, &a, &Fields::new(), &BTreeMap::new(), Some((name, key))).await
        }
        Err(e) => keys_page(&app, &a, &f, &refused(a.w, e)?, None).await,
    }
}

/// `POST /admin/api-keys/{id}/revoke`
pub async fn revoke_key(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let kid = Id::parse(&id).ok_or_else(|| ApiError::not_found("API key"))?;
    super::buy::done(
        admin::api_keys::revoke_key(State(app.clone()), a.admin.clone(), PathId(kid.0, PhantomData)).await,
    )?;
    Ok(see_other("/admin/api-keys", None))
}

// --- exports ----------------------------------------------------------------------------------

#[derive(Deserialize)]
struct JobRow {
    id: String,
    state: String,
    args: Value,
    result: Option<Value>,
    created_at: String,
}

/// `GET /admin/exports`: start one; the latest ones with their files.
pub async fn exports(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    exports_page(&app, &a, &Fields::new(), &BTreeMap::new()).await
}

async fn exports_page(
    app: &AppState,
    a: &AdminPage,
    typed: &Fields,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let jobs: Vec<JobRow> = answered(
        admin::jobs::list_jobs(State(app.clone()), a.admin.clone(), QueryParams::parse("kind=export&per_page=20")?)
            .await,
    )
    .await?;
    let kind = field(typed, "kind").unwrap_or("orders");
    let format = field(typed, "format").unwrap_or("csv");
    let main = html! {
        h1 { (t(w, "Exports")) }
        (tabs(w, "/admin/exports"))
        p.meta { (t(w, "A copy of the shop's products, orders or customers as a file, written in the background from one consistent snapshot.")) }
        section.panel aria-labelledby="start" {
            h2 #start { (t(w, "Export")) }
            (error_box(errors))
            form method="post" action="/admin/exports" novalidate {
                (csrf(&a.ps))
                div.row {
                    div.field {
                        label for="kind" { (t(w, "What")) }
                        select #kind name="kind" {
                            @for (k, name) in [("products", t(w, "Products")), ("orders", t(w, "Orders")), ("customers", t(w, "Customers"))] { option value=(k) selected[kind == k] { (name) } }
                        }
                    }
                    div.field {
                        label for="format" { (t(w, "Format")) }
                        select #format name="format" {
                            option value="csv" selected[format == "csv"] { (t(w, "CSV")) }
                            option value="jsonl" selected[format == "jsonl"] { (t(w, "JSON lines")) }
                        }
                    }
                    div.field {
                        label for="since" { (t(w, "Since (optional)")) }
                        input #since type="date" name="since" value=(field(typed, "since").unwrap_or(""))
                            aria-invalid=[errors.get("since").map(|_| "true")] aria-describedby=[errors.get("since").map(|_| "since-error")];
                        @if let Some(m) = errors.get("since") { p.field-error #since-error { (m) } }
                    }
                }
                button type="submit" { (t(w, "Start export")) }
            }
        }
        @if !jobs.is_empty() {
            h2 { (t(w, "Latest exports")) }
            table.lines {
                thead { tr { th scope="col" { (t(w, "Export")) } th scope="col" { (t(w, "State")) } th scope="col" { (t(w, "Rows")) } th scope="col" { (t(w, "File")) } } }
                tbody { @for j in &jobs { tr {
                    td { a href=(format!("/admin/jobs/{}", j.id)) { (j.args["kind"].as_str().unwrap_or("export")) " #" (j.id) } br; span.meta { (when(&j.created_at)) } }
                    td data-label=(t(w, "State")) { (said(w, &j.state)) }
                    td data-label=(t(w, "Rows")) { @if let Some(n) = j.result.as_ref().and_then(|r| r["rows"].as_i64()) { (n) } }
                    td { @if j.state == "completed" { a href=(format!("/admin/exports/{}", j.id)) download { (t(w, "Download")) } } }
                } } }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(status_code(status, page(app, a, t(a.w, "Exports"), main)))
}

/// `POST /admin/exports`: to the job's page, which follows it.
pub async fn create_export(
    State(app): State<AppState>,
    a: AdminPage,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let mut body = json!({ "kind": field(&f, "kind").unwrap_or(""), "format": field(&f, "format").unwrap_or("") });
    if let Some(since) = field(&f, "since").filter(|s| !s.trim().is_empty()) {
        body["since"] = json!(since.trim());
    }
    let started = match serde_json::from_value(body) {
        Ok(b) => {
            answered::<Value>(
                crate::bulk::handlers::create_export(State(app.clone()), a.admin.clone(), JsonBody(b)).await,
            )
            .await
        }
        Err(_) => Err(ApiError::validation(
            [("form".to_owned(), t(a.w, "choose what to export and a format").to_owned())].into(),
        )),
    };
    match started {
        Ok(v) => Ok(see_other(&format!("/admin/jobs/{}", v["job_id"].as_str().unwrap_or("")), None)),
        Err(e) => exports_page(&app, &a, &f, &refused(a.w, e)?).await,
    }
}

/// `GET /admin/exports/{job_id}`: the file, as the API streams it (and audits it).
pub async fn download(State(app): State<AppState>, a: AdminPage, Path(id): Path<String>) -> Result<Response, ApiError> {
    let jid = Id::parse(&id).ok_or_else(|| ApiError::not_found("export"))?;
    let mut resp = crate::bulk::handlers::download_export(
        State(app.clone()),
        a.admin.clone(),
        PathId(jid.0, PhantomData),
        QueryParams::parse("")?,
    )
    .await?;
    if let Some(e) = resp.extensions_mut().remove::<ApiError>() {
        return Err(e);
    }
    Ok(resp)
}

// --- audit log --------------------------------------------------------------------------------

#[derive(Deserialize)]
struct AuditRow {
    id: String,
    actor_id: Option<String>,
    api_key_id: Option<String>,
    action: String,
    entity: String,
    entity_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    client_addr: String,
    at: String,
}

/// `GET /admin/audit?before=`
pub async fn audit(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["before"])?;
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50")];
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let rows: Vec<AuditRow> = answered(
        admin::audit::audit_log(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?).await,
    )
    .await?;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let main = html! {
        h1 { (t(w, "Audit log")) }
        (tabs(w, "/admin/audit"))
        p.meta { (t(w, "Every change to prices, stock, orders, settings and access: who, what it was before and after, from where.")) }
        @if rows.is_empty() { p.empty { (t(w, "Nothing recorded yet.")) } }
        @else {
            table.lines #audit {
                thead { tr { th scope="col" { (t(w, "When")) } th scope="col" { (t(w, "Who")) } th scope="col" { (t(w, "What")) } th scope="col" { (t(w, "Change")) } } }
                tbody { @for r in &rows { tr {
                    td { (when(&r.at)) }
                    td data-label=(t(w, "Who")) {
                        @if let Some(c) = &r.actor_id { a href=(format!("/admin/customers/{c}")) { "#" (c) } } @else { (t(w, "system")) }
                        @if let Some(k) = &r.api_key_id { br; span.meta { (t(w, "API key #")) (k) } }
                        br; span.meta { (r.client_addr) }
                    }
                    td data-label=(t(w, "What")) { code { (r.action) } br; span.meta { (r.entity) @if let Some(id) = &r.entity_id { " #" (id) } } }
                    td data-label=(t(w, "Change")) {
                        @if r.before.is_some() || r.after.is_some() {
                            details {
                                summary { (t(w, "Before and after")) }
                                div.diff {
                                    @if let Some(b) = &r.before { pre { (pretty(b)) } }
                                    @if let Some(x) = &r.after { pre { (pretty(x)) } }
                                }
                            }
                        }
                    }
                } } }
            }
            (older(w, "/admin/audit", &[], rows.len(), rows.last().map(|r| r.id.as_str())))
        }
    };
    Ok(page(&app, &a, t(a.w, "Audit log"), main))
}

// --- cache ------------------------------------------------------------------------------------

/// The cache's figures as the dashboard names them (the API's keys).
const FIGURES: &[(&str, &str)] = &[
    ("status", n_("status")),
    ("enabled", n_("enabled")),
    ("entries", n_("entries")),
    ("bytes", n_("bytes")),
    ("budget_bytes", n_("budget bytes")),
    ("hot_entries", n_("hot entries")),
    ("hot_bytes", n_("hot bytes")),
    ("hits", n_("hits")),
    ("misses", n_("misses")),
    ("hit_ratio", n_("hit ratio")),
    ("evictions", n_("evictions")),
    ("stale_hits_refused", n_("stale hits refused")),
    ("tag_bumps", n_("tag bumps")),
];

fn figures(w: Lang, tier: &serde_json::Map<String, Value>) -> Markup {
    let name = |k: &str| match FIGURES.iter().find(|(key, _)| *key == k) {
        Some((_, en)) => t(w, en).to_owned(),
        None => k.replace('_', " "),
    };
    html! {
        dl.figures-list {
            @for (k, v) in tier {
                dt { (name(k)) }
                dd { @match v { Value::Number(n) if k.ends_with("ratio") => (format!("{:.1} %", n.as_f64().unwrap_or(0.0) * 100.0)),
                    Value::String(s) => (s), Value::Number(n) => (n.to_string()), Value::Bool(b) => (if *b { t(w, "yes") } else { t(w, "no") }), other => (other.to_string()) } }
            }
        }
    }
}

/// `GET /admin/cache?flushed=`
pub async fn cache(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = list_params(raw.as_deref(), &["flushed"])?;
    cache_page(&app, &a, get(&p, "flushed"), "", &BTreeMap::new()).await
}

async fn cache_page(
    app: &AppState,
    a: &AdminPage,
    flushed: Option<&str>,
    typed: &str,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let stats: Value =
        answered(admin::cache::cache_stats(State(app.clone()), a.admin.clone(), QueryParams::parse("")?).await).await?;
    let empty = serde_json::Map::new();
    let main = html! {
        h1 { (t(w, "Cache")) }
        (tabs(w, "/admin/cache"))
        p.meta { (t(w, "Pages and answers are kept ready to send; a change marks what it touched stale at once, on every node.")) }
        @if let Some(tag) = flushed { p.notice role="status" { @if tag == "*" { (t(w, "Everything flushed.")) } @else { (t(w, "Flushed ")) code { (tag) } "." } } }
        div.checkout {
            section.panel aria-labelledby="l1" { h2 #l1 { (t(w, "In memory")) } (figures(w, stats["l1"].as_object().unwrap_or(&empty))) }
            section.panel aria-labelledby="l2" { h2 #l2 { (t(w, "Redis")) } (figures(w, stats["l2"].as_object().unwrap_or(&empty))) }
        }
        section.panel aria-labelledby="flush" {
            h2 #flush { (t(w, "Flush")) }
            (error_box(errors))
            form method="post" action="/admin/cache/flush" novalidate {
                (csrf(&a.ps))
                div.field {
                    label for="tag" { (t(w, "Tag (empty: everything)")) }
                    input #tag name="tag" value=(typed) maxlength="100" placeholder=(t(w, "product:42, listing, search…"))
                        aria-invalid=[errors.get("tag").map(|_| "true")] aria-describedby=[errors.get("tag").map(|_| "tag-error")];
                    @if let Some(m) = errors.get("tag") { p.field-error #tag-error { (m) } }
                }
                button type="submit" { (t(w, "Flush")) }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(status_code(status, page(app, a, t(a.w, "Cache"), main)))
}

/// `POST /admin/cache/flush`
pub async fn flush(State(app): State<AppState>, a: AdminPage, Form(f): Form<Fields>) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let tag = field(&f, "tag").unwrap_or("").trim().to_owned();
    let q = if tag.is_empty() { String::new() } else { encode_pairs([("tag", tag.as_str())]) };
    let flushed: Result<Value, ApiError> =
        answered(admin::cache::cache_flush(State(app.clone()), a.admin.clone(), QueryParams::parse(&q)?).await).await;
    match flushed {
        Ok(v) => {
            let t = v["flushed"].as_str().unwrap_or("*").to_owned();
            Ok(see_other(&format!("/admin/cache?{}", encode_pairs([("flushed", t.as_str())])), None))
        }
        Err(e) => cache_page(&app, &a, None, &tag, &refused(a.w, e)?).await,
    }
}

// --- settings -------------------------------------------------------------------------------

/// How the page names each run-time setting.
fn setting_label(key: &str) -> &'static str {
    match key {
        "shop_name" => n_("Shop name"),
        "low_stock_threshold" => n_("Low-stock alert at (units)"),
        "cart_max_lines" => n_("Most lines in one cart"),
        "order_expiry_mins" => n_("A customer's unpaid order expires after (minutes)"),
        "guest_order_expiry_mins" => n_("A guest's unpaid order expires after (minutes)"),
        "admin_require_2fa" => n_("Administrators must log in with a second factor"),
        "return_window_days" => n_("Customers may ask for a return for (days after delivery; 0: no returns)"),
        "draft_custom_prices" => n_("Draft orders may set their own prices"),
        "locales" => n_("Languages of the catalog (language tags separated by commas, the default first: en, de, fr)"),
        "currencies" => {
            n_("Currencies sold in (the default first, then each other with its rate from the default: USD, EUR 0.92)")
        }
        _ => n_("Setting"),
    }
}

fn shown(w: Lang, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => t(w, "on").into(),
        Value::Bool(false) => t(w, "off").into(),
        other => other.to_string(),
    }
}

/// `GET /admin/settings?saved=`
pub async fn settings(
    State(app): State<AppState>,
    a: AdminPage,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = list_params(raw.as_deref(), &["saved"])?;
    settings_page(&app, &a, get(&p, "saved"), &BTreeMap::new(), &BTreeMap::new()).await
}

async fn settings_page(
    app: &AppState,
    a: &AdminPage,
    saved: Option<&str>,
    typed: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let list: Vec<Value> = answered(admin::settings::list_settings(State(app.clone()), a.admin.clone()).await).await?;
    let main = html! {
        h1 { (t(w, "Settings")) }
        (tabs(w, "/admin/settings"))
        p.meta { (t(w, "These change while the shop runs, on every node at once. The rest of the configuration is read at start (the configuration file, the environment, the flags).")) }
        @match saved {
            Some("nothing") => p.notice role="status" { (t(w, "Nothing to save: every value was already in force.")) },
            Some("reset") => p.notice role="status" { (t(w, "Back to the configured value.")) },
            Some(_) => p.notice role="status" { (t(w, "Saved. In force now.")) },
            None => {},
        }
        @if errors.keys().any(|k| crate::settings::RUNTIME.contains(&k.as_str())) {
            div.error role="alert" { p { (t(w, "Nothing was saved: a value below is not one the shop can use.")) } }
        }
        (error_box(&errors.iter().filter(|(k, _)| !crate::settings::RUNTIME.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()))
        section.panel aria-labelledby="runtime" {
            h2 #runtime { (t(w, "Run-time settings")) }
            form #settings method="post" action="/admin/settings" novalidate {
                (csrf(&a.ps))
                @for s in &list {
                    @let key = s["key"].as_str().unwrap_or_default();
                    @let id = format!("s-{key}");
                    @let hint = format!("{id}-hint");
                    @let error = errors.get(key);
                    @let described_by = if error.is_some() { format!("{hint} {id}-error") } else { hint.clone() };
                    @let value = typed.get(key).cloned().unwrap_or_else(|| shown(Lang::En, &s["value"]));
                    div.field {
                        @if s["value"].is_boolean() {
                            label.check for=(id) {
                                input id=(id) type="checkbox" name=(key) value="on" checked[value == "on"] aria-describedby=(hint);
                                " " (t(w, setting_label(key)))
                            }
                        } @else {
                            label for=(id) { (t(w, setting_label(key))) }
                            @if s["value"].is_number() {
                                input id=(id) name=(key) type="number" inputmode="numeric" value=(value)
                                    min=[s["minimum"].as_i64()] max=[s["maximum"].as_i64()]
                                    aria-invalid=[error.map(|_| "true")] aria-describedby=(described_by);
                            } @else {
                                input id=(id) name=(key) type="text" value=(value) maxlength="100"
                                    aria-invalid=[error.map(|_| "true")] aria-describedby=(described_by);
                            }
                        }
                        p.meta id=(hint) {
                            @let doc = s["description"].as_str().unwrap_or_default().replace('`', "");
                            (said(w, &doc))
                            (t(w, " Configured: ")) strong { (shown(w, &s["configured"])) } "."
                            @if let Some(at) = s["changed_at"].as_str() { (t(w, " Changed here ")) (when(at)) "." }
                        }
                        @if let Some(m) = error { p.field-error id=(format!("{id}-error")) { (m) } }
                    }
                }
                button type="submit" { (t(w, "Save settings")) }
            }
        }
        @let changed: Vec<&Value> = list.iter().filter(|s| s["changed_at"].is_string()).collect();
        @if !changed.is_empty() {
            section.panel aria-labelledby="changed" {
                h2 #changed { (t(w, "Changed here")) }
                ul.plain {
                    @for s in changed {
                        @let key = s["key"].as_str().unwrap_or_default();
                        li {
                            form method="post" action="/admin/settings/reset" {
                                (csrf(&a.ps))
                                input type="hidden" name="key" value=(key);
                                (t(w, setting_label(key))) ": " strong { (shown(w, &s["value"])) } (t(w, " (configured: ")) (shown(w, &s["configured"])) ") "
                                button.quiet type="submit" aria-label=(tf(w, "Use the configured value of “{setting}”", &[("setting", &t(w, setting_label(key)))])) { (t(w, "Use the configured value")) }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(status_code(status, page(app, a, t(a.w, "Settings"), main)))
}

/// `POST /admin/settings`: the values that differ from those in force, through the API's change.
pub async fn save_settings(
    State(app): State<AppState>,
    a: AdminPage,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let now = serde_json::to_value(&*app.live()).expect("the configuration serializes");
    let mut body = serde_json::Map::new();
    let mut typed = BTreeMap::new();
    for key in crate::settings::RUNTIME {
        let current = now.get(key).cloned().unwrap_or_default();
        let value = match &current {
            // an unticked box is not sent
            Value::Bool(_) => Value::Bool(field(&f, key).is_some()),
            Value::Number(_) => {
                let Some(text) = field(&f, key) else { continue };
                let text = text.trim();
                typed.insert(key.to_owned(), text.to_owned());
                text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.to_owned()))
            }
            _ => {
                let Some(text) = field(&f, key) else { continue };
                typed.insert(key.to_owned(), text.to_owned());
                Value::String(text.trim().to_owned())
            }
        };
        if value != current {
            body.insert(key.to_owned(), value);
        }
    }
    if body.is_empty() {
        return Ok(see_other("/admin/settings?saved=nothing", None));
    }
    match admin::settings::change(&app, a.admin.clone(), body).await {
        Ok(()) => Ok(see_other("/admin/settings?saved=1", None)),
        Err(e) => settings_page(&app, &a, None, &typed, &refused(a.w, e)?).await,
    }
}

/// `POST /admin/settings/reset`: one setting back to its configured value.
pub async fn reset_setting(
    State(app): State<AppState>,
    a: AdminPage,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    checked_csrf(&a, &f)?;
    let key = field(&f, "key").unwrap_or_default().to_owned();
    let body = serde_json::Map::from_iter([(key, Value::Null)]);
    match admin::settings::change(&app, a.admin.clone(), body).await {
        Ok(()) => Ok(see_other("/admin/settings?saved=reset", None)),
        Err(e) => settings_page(&app, &a, None, &BTreeMap::new(), &refused(a.w, e)?).await,
    }
}
