//! The owner's dashboard at `/admin`: the admin API's handlers called with the cookie's
//! session, checked by the API's own admin extractor (role `admin`; the second factor when
//! `admin_require_2fa` is on). Home is the work queue — orders to fulfil, reviews waiting,
//! failed jobs — with today's figures; each section is a keyset list of the API's. Every
//! form carries the session's CSRF token; every change is the API's, with its audit row.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::account::{log_in, login_form, LoginForm, LoginView};
use super::assets;
use super::buy::{answered, done, private_page, see_other};
use super::layout::money;
use super::session::{self, check_csrf, CsrfForm, PageSession, CSRF_FIELD};
use super::view::Money;
use super::words::{n_, said, t, tf, Lang};
use crate::admin;
use crate::admin::dashboard::{History, Sample, Span};
use crate::app::AppState;
use crate::auth::AdminSession;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::query::encode_pairs;
use crate::http::{JsonBody, QueryParams};

/// An administrator's page request: the API's admin check on the cookie's session.
pub struct AdminPage {
    pub admin: AdminSession,
    pub ps: PageSession,
    /// the shop's default currency: of products' prices and the shop's own amounts
    pub currency: crate::domain::Currency,
    /// the market the catalog is shown as (see [`super::admin_view`])
    pub view: super::admin_view::View,
    /// the language of the dashboard's own words ([`super::admin_view::dashboard_words`])
    pub w: Lang,
    /// the page's own address (path and query): where a switch of language returns to
    pub address: String,
}

impl FromRequestParts<AppState> for AdminPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<AdminPage, Response> {
        let ps = PageSession::from_request_parts(parts, app).await.map_err(IntoResponse::into_response)?;
        let Some(token) = ps.token.clone() else {
            return Err(see_other("/admin/login", None));
        };
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| see_other("/admin/login", None))?;
        parts.headers.insert(header::AUTHORIZATION, bearer);
        let checked = AdminSession::from_request_parts(parts, app).await;
        parts.headers.remove(header::AUTHORIZATION);
        match checked {
            Ok(admin) => {
                let live = app.live();
                let currency = crate::domain::currencies::default_of(&live.currencies);
                let view = super::admin_view::View::of(&live, &parts.headers);
                let w = super::admin_view::dashboard_words(&parts.headers);
                let address = parts.uri.path_and_query().map_or("/admin", |p| p.as_str()).to_owned();
                Ok(AdminPage { admin, ps, currency, view, w, address })
            }
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(see_other("/admin/login", None)),
            Err(e) if e.code == "two_factor_required" => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "two_factor_required",
                "administrators of this shop log in with a second factor: turn on two-factor login in your account \
                 (Account → Turn on two-factor login), then log in again",
            )
            .into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The dashboard's sections, in the order of its menu.
const SECTIONS: &[(&str, &str)] = &[
    ("/admin", n_("Home")),
    ("/admin/orders", n_("Orders")),
    ("/admin/returns", n_("Returns")),
    ("/admin/gift-cards", n_("Gift cards")),
    ("/admin/products", n_("Products")),
    ("/admin/customers", n_("Customers")),
    ("/admin/reviews", n_("Reviews")),
    ("/admin/promotions", n_("Promotions")),
    ("/admin/shipping-rates", n_("Shipping & tax")),
    ("/admin/categories", n_("Categories")),
    ("/admin/jobs", n_("Jobs")),
    ("/admin/webhooks", n_("System")),
];

fn frame(app: &AppState, a: &AdminPage, title: &str, here: &str, main: Markup) -> String {
    let (w, ps) = (a.w, &a.ps);
    let shop = &app.live().shop_name;
    html! {
        (DOCTYPE)
        html lang=(w.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (tf(w, "{shop} dashboard", &[("shop", shop)])) }
                link rel="stylesheet" href=(assets::url("style.css"));
                link rel="icon" href="data:,";
                script src=(assets::url("shop.js")) defer {}
            }
            body.admin {
                a.skip href="#main" { (t(w, "Skip to content")) }
                header.top {
                    div.wrap {
                        a.brand href="/admin" { (shop) " " span.meta { (t(w, "dashboard")) } }
                        nav aria-label=(t(w, "Dashboard")) {
                            @for (href, label) in SECTIONS {
                                a href=(href) aria-current=[(*href == here).then_some("page")] { (t(w, label)) }
                            }
                            a href="/" { (t(w, "View shop")) }
                        }
                        form.inline method="post" action="/admin/logout" {
                            input type="hidden" name=(CSRF_FIELD) value=(ps.csrf());
                            button.quiet type="submit" { (t(w, "Log out")) }
                        }
                    }
                }
                main #main.wrap { (main) }
                footer.bottom {
                    div.wrap {
                        span { (shop) " · " (t(w, "dashboard")) }
                        (super::admin_view::language_switch(a))
                    }
                }
            }
        }
    }
    .into_string()
}

pub(crate) fn page_with(app: &AppState, a: &AdminPage, title: &str, here: &str, main: Markup) -> Response {
    private_page(StatusCode::OK, frame(app, a, title, here, main), &a.ps)
}

pub(crate) fn csrf(ps: &PageSession) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(ps.csrf()); }
}

/// An amount of `currency`, as pages show it.
pub(crate) fn shown_in(amount: i64, currency: &str) -> String {
    money(&Money { amount, currency: currency.to_owned() })
}

/// Amounts in several currencies, added up by currency as the dashboard shows them:
/// `$120.00 + €45.00` (none: nothing, in `default`).
pub(crate) fn totals_shown<'a>(amounts: impl IntoIterator<Item = (&'a str, i64)>, default: &str) -> String {
    let mut sums: Vec<(&str, i64)> = Vec::new();
    for (currency, amount) in amounts {
        match sums.iter_mut().find(|(c, _)| *c == currency) {
            Some((_, n)) => *n += amount,
            None => sums.push((currency, amount)),
        }
    }
    if sums.is_empty() {
        return shown_in(0, default);
    }
    sums.iter().map(|(c, n)| shown_in(*n, c)).collect::<Vec<_>>().join(" + ")
}

pub(crate) fn when(ts: &str) -> String {
    ts.get(..16).unwrap_or(ts).replace('T', " ")
}

// --- log in and out ------------------------------------------------------------------------

/// `GET /admin/login`
pub async fn login_page(
    State(app): State<AppState>,
    ps: PageSession,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let w = super::admin_view::dashboard_words(&headers);
    let v = LoginView {
        action: "/admin/login",
        heading: t(w, "Log in to the dashboard"),
        email: "",
        problem: None,
        ask_code: false,
        words: w,
    };
    let html = super::layout::page(
        &super::layout::Frame::plain(app.live().shop_name.clone(), t(w, "Dashboard login"), "").in_language(w),
        login_form(&v),
    );
    Ok(private_page(StatusCode::OK, html, &ps))
}

/// `POST /admin/login`: the API's login; an account that is not an administrator's is
/// told so, and its new session ends at once.
pub async fn login(
    State(app): State<AppState>,
    ps: PageSession,
    mut parts: Parts,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let shop = app.live().shop_name.clone();
    let w = super::admin_view::dashboard_words(&parts.headers);
    let again = |status: StatusCode, words: &str, ask_code: bool, email: &str| {
        let v = LoginView {
            action: "/admin/login",
            heading: t(w, "Log in to the dashboard"),
            email,
            problem: Some(words),
            ask_code,
            words: w,
        };
        let frame = super::layout::Frame::plain(shop.clone(), t(w, "Dashboard login"), "").in_language(w);
        let html = super::layout::page(&frame, login_form(&v));
        private_page(status, html, &ps)
    };
    let token = match log_in(&app, &mut parts, &f, w).await? {
        Ok(t) => t,
        Err((status, ask_code, words)) => return Ok(again(status, &words, ask_code, &f.email)),
    };
    let session = session::authenticate(&mut parts, &app, &token).await?.ok_or_else(ApiError::internal)?;
    if session.role != crate::auth::Role::Admin {
        done(crate::customers::handlers::logout(State(app.clone()), session).await)?;
        let why = t(w, "This account is not an administrator of the shop.");
        return Ok(again(StatusCode::FORBIDDEN, why, false, &f.email));
    }
    let mut resp = see_other("/admin", None);
    let ttl = app.config.session_ttl_days * 24 * 3600;
    resp.headers_mut().append(header::SET_COOKIE, session::set_cookie(&token, ttl, ps.secure));
    Ok(resp)
}

/// `POST /admin/logout`
pub async fn logout(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    super::account::log_out(&app, &ps, &f, "/admin/login").await
}

// --- home: the work queue -----------------------------------------------------------------

#[derive(Deserialize)]
struct OrderRow {
    id: String,
    status: String,
    email: String,
    total: i64,
    currency: String,
    created_at: String,
}

#[derive(Deserialize)]
struct ReviewRow {
    id: String,
    product_id: String,
    rating: i64,
    title: String,
    body: String,
    created_at: String,
}

#[derive(Deserialize)]
struct JobError {
    error: String,
}

#[derive(Deserialize)]
struct JobRow {
    id: String,
    kind: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    created_at: String,
    #[serde(default)]
    errors: Vec<JobError>,
}

/// Today's orders per hour as bars (inline SVG, no script).
fn hours_chart(w: Lang, by_hour: &[i64; 24]) -> Markup {
    let max = by_hour.iter().copied().max().unwrap_or(0).max(1);
    let (width, h) = (240, 48);
    let label = by_hour
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(h, n)| format!("{h:02}h: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg.chart viewBox=(format!("0 0 {width} {}", h + 12)) width=(width) height=(h + 12) role="img"
            aria-label=(if label.is_empty() { t(w, "No orders yet today").to_owned() } else { tf(w, "Orders per hour today: {hours}", &[("hours", &label)]) }) {
            @for (i, n) in by_hour.iter().enumerate() {
                @let bar = (*n * h as i64 / max) as i32;
                rect x=(i * 10 + 1) y=(h - bar) width="8" height=(bar.max(1)) class=(if *n > 0 { "bar" } else { "bar none" }) {}
            }
            @for hour in [0, 6, 12, 18] {
                text x=(hour * 10 + 1) y=(h + 11) class="axis" { (format!("{hour:02}")) }
            }
        }
    }
}

/// The last hour, a bar a minute (inline SVG, no script): `value` of each span, drawn
/// against the largest; a span without a value is an empty slot.
fn minutes_chart(
    w: Lang,
    spans: &[Span],
    what: &str,
    value: impl Fn(&Span) -> Option<f64>,
    shown: impl Fn(f64) -> String,
) -> Markup {
    let (width, h) = (240usize, 48i64);
    let slots = History::KEEP;
    let values: Vec<Option<f64>> = spans.iter().rev().take(slots).rev().map(&value).collect();
    let finite = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let max = values.iter().filter_map(finite).fold(0.0f64, f64::max);
    let last = values.iter().rev().find_map(finite);
    let label = match last {
        Some(v) => {
            let (latest, highest) = (shown(v), shown(max));
            tf(
                w,
                "{what}, a bar a minute over the last hour; the latest {latest}, the highest {highest}",
                &[("what", &what), ("latest", &latest), ("highest", &highest)],
            )
        }
        None => tf(w, "{what}: nothing yet", &[("what", &what)]),
    };
    let bar_w = width as f64 / slots as f64;
    let offset = slots - values.len();
    html! {
        svg.chart viewBox=(format!("0 0 {width} {}", h + 12)) width=(width) height=(h + 12) role="img" aria-label=(label) {
            @for (i, v) in values.iter().enumerate() {
                @let bar = match v { Some(x) if x.is_finite() && max > 0.0 => ((x / max) * h as f64).round() as i64, Some(_) => h, None => 0 };
                rect x=(format!("{:.1}", (offset + i) as f64 * bar_w)) y=(h - bar.max(1)) width=(format!("{:.1}", (bar_w - 0.6).max(0.5)))
                    height=(bar.max(1)) class=(if bar > 0 { "bar" } else { "bar none" }) {}
            }
            text x="0" y=(h + 11) class="axis" { (t(w, "−60 min")) }
            text x=(width) y=(h + 11) class="axis" text-anchor="end" { (t(w, "now")) }
        }
    }
}

/// What the shipped alert rules (deploy/prometheus/alerts.yml) would fire on at this
/// instant, read from the same figures a scrape gets: the page shows it without Prometheus.
fn warnings(w: Lang, scrape: &str) -> Vec<String> {
    let value = |name: &str, label: Option<&str>| -> Vec<(String, f64)> {
        scrape
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, v) = l.rsplit_once(' ')?;
                let (n, labels) = series.split_once('{').map_or((series, ""), |(n, rest)| (n, rest));
                if n != name {
                    return None;
                }
                let which = label
                    .and_then(|k| labels.split(&format!("{k}=\"")).nth(1))
                    .and_then(|s| s.split('"').next())
                    .unwrap_or("")
                    .to_owned();
                Some((which, v.parse::<f64>().ok()?))
            })
            .collect()
    };
    let one = |name: &str| value(name, None).first().map(|(_, v)| *v);
    let mut out = Vec::new();
    if one("storefront_writer_alive") == Some(0.0) {
        out.push(t(w, "The writer has stopped: changes are refused until the server restarts.").to_owned());
    }
    if let (Some(depth), Some(cap)) = (one("storefront_writer_queue_depth"), one("storefront_writer_queue_capacity")) {
        if cap > 0.0 && depth / cap > 0.5 {
            let full = format!("{:.0}", depth / cap * 100.0);
            out.push(tf(
                w,
                "The writer queue is {full} % full: changes wait, and are refused when it is full.",
                &[("full", &full)],
            ));
        }
    }
    for (queue, lag) in value("storefront_job_lag_seconds", Some("queue")) {
        if lag > if queue == "high" { 30.0 } else { 300.0 } {
            let lag = format!("{lag:.0}");
            out.push(tf(
                w,
                "Jobs in the {queue} queue wait {lag} s: background work (mail, webhooks, imports) falls behind.",
                &[("queue", &queue), ("lag", &lag)],
            ));
        }
    }
    if let Some(lag) = one("storefront_replica_lag_seconds").filter(|l| *l > 5.0) {
        let lag = format!("{lag:.1}");
        out.push(tf(w, "This replica is {lag} s behind the primary.", &[("lag", &lag)]));
    }
    if one("storefront_litestream_up") == Some(0.0) {
        out.push(t(w, "Replication (Litestream) is down: changes are not reaching the replica storage.").to_owned());
    }
    if let (Some(free), Some(size)) = (one("storefront_disk_free_bytes"), one("storefront_disk_size_bytes")) {
        if size > 0.0 && free / size < 0.10 {
            let free = format!("{:.0}", free / size * 100.0);
            out.push(tf(
                w,
                "The database disk is {free} % free: archive old orders or grow the volume.",
                &[("free", &free)],
            ));
        }
    }
    out
}

#[derive(Deserialize)]
struct LowStock {
    id: String,
    name: String,
    stock: Vec<StockRow>,
}

#[derive(Deserialize)]
struct StockRow {
    sku: String,
    available: i64,
}

/// `GET /admin`: the work queue and today's figures.
pub async fn home(State(app): State<AppState>, a: AdminPage) -> Result<Response, ApiError> {
    let w = a.w;
    let q = |s: &str| QueryParams::parse(s);
    let to_fulfil: Vec<OrderRow> =
        answered(admin::orders::orders(State(app.clone()), a.admin.clone(), q("status=paid&per_page=10")?).await)
            .await?;
    let reviews: Vec<ReviewRow> =
        answered(admin::reviews::reviews(State(app.clone()), a.admin.clone(), q("status=pending&per_page=5")?).await)
            .await?;
    let mut returns: Vec<super::view::Return> = Vec::new();
    for status in ["requested", "received"] {
        let q = q(&format!("status={status}&per_page=5"))?;
        returns.extend(
            answered::<Vec<super::view::Return>>(
                admin::returns::list_returns(State(app.clone()), a.admin.clone(), q).await,
            )
            .await?,
        );
    }
    let failed: Vec<JobRow> =
        answered(admin::jobs::list_jobs(State(app.clone()), a.admin.clone(), q("state=failed&per_page=5")?).await)
            .await?;
    let day = crate::util::now_ms().div_euclid(crate::util::DAY_MS) * crate::util::DAY_MS;
    let today = app.db.read(move |conn| admin::dashboard::today(conn, day).map_err(ApiError::from)).await?;
    let low: Vec<LowStock> = answered(
        admin::products::list_products(State(app.clone()), a.admin.clone(), q("low_stock=true&per_page=5")?).await,
    )
    .await?;
    let hooks = super::admin_system::failing_webhooks(&app, &a).await?;
    let cache = app.cache.stats().await;
    let scrape = crate::app::metrics::scrape(&app).await;
    // the figures since start, and the last hour's spans ending at them (the scrape read once)
    let now = Sample::from_scrape(crate::util::now_ms(), &scrape, cache.hits, cache.misses);
    let (requests, p95) = (now.requests, Sample::p95_of(&now.buckets));
    let spans = app.history.spans(&now);
    let warnings = warnings(w, &scrape);
    let lag = app.replication.replica().map(|r| r.follow.lag());
    let main = html! {
        h1 { (t(w, "Today")) }
        @if !warnings.is_empty() {
            div.error role="alert" #warnings { @for warning in &warnings { p { (warning) } } }
        }
        div.figures {
            div.figure { span.n { (today.orders) } span.what { (t(w, "orders today")) } (hours_chart(w, &today.by_hour)) }
            div.figure {
                span.n { (totals_shown(today.revenue.iter().map(|(c, n)| (c.as_str(), *n)), a.currency.as_str())) }
                span.what { (t(w, "paid today")) }
            }
            div.figure #requests {
                span.n { (requests as u64) } span.what { (t(w, "requests since start")) }
                (minutes_chart(w, &spans, t(w, "Requests per minute"), |s| Some(s.requests), |v| format!("{v:.0}")))
            }
            div.figure #p95 {
                span.n { @match p95 { Some(s) if s.is_finite() => { "≤ " (format!("{:.0} ms", s * 1000.0)) } Some(_) => { (t(w, "slow")) } None => { "–" } } }
                span.what { (t(w, "p95 answer time")) }
                (minutes_chart(w, &spans, t(w, "95th percentile answer time per minute"), |s| s.p95, |v| if v.is_finite() { format!("{:.0} ms", v * 1000.0) } else { t(w, "over 10 s").into() }))
            }
            div.figure #hits {
                span.n { (format!("{:.0} %", cache.hit_ratio * 100.0)) } span.what { (t(w, "cache hits")) }
                (minutes_chart(w, &spans, t(w, "Cache hit ratio per minute"), |s| s.cache_hit_ratio, |v| format!("{:.0} %", v * 100.0)))
            }
            @if let Some(lag) = lag { div.figure { span.n { (format!("{:.1} s", lag.as_secs_f64())) } span.what { (t(w, "replica lag")) } } }
        }
        div.queue {
            section.panel aria-labelledby="fulfil" {
                h2 #fulfil { (t(w, "Orders to fulfil")) }
                @if to_fulfil.is_empty() { p.empty { (t(w, "Nothing to ship.")) } }
                @else {
                    table.lines {
                        thead { tr { th scope="col" { (t(w, "Order")) } th scope="col" { (t(w, "Customer")) } th scope="col" { (t(w, "Total")) } th scope="col" { (t(w, "Placed")) } } }
                        tbody { @for o in &to_fulfil { tr {
                            td { a href=(format!("/admin/orders/{}", o.id)) { "#" (o.id) } }
                            td data-label=(t(w, "Customer")) { (o.email) } td data-label=(t(w, "Total")) { (shown_in(o.total, &o.currency)) } td data-label=(t(w, "Placed")) { (when(&o.created_at)) }
                        } } }
                    }
                    p { a href="/admin/orders?status=paid" { (t(w, "All orders to fulfil →")) } }
                }
            }
            @if !returns.is_empty() {
                section.panel aria-labelledby="returns" {
                    h2 #returns { (t(w, "Returns to handle")) }
                    ul.plain { @for r in &returns { li {
                        a href=(format!("/admin/returns/{}", r.id)) { (t(w, "Return #")) (r.id) } " · " (r.shop_words())
                        " " span.meta { (r.contents()) }
                    } } }
                    p { a href="/admin/returns" { (t(w, "All returns →")) } }
                }
            }
            section.panel aria-labelledby="waiting" {
                h2 #waiting { (t(w, "Reviews waiting")) }
                @if reviews.is_empty() { p.empty { (t(w, "No review waits for you.")) } }
                @else {
                    ul.plain { @for r in &reviews { li { (r.rating) "★ " strong { (r.title) } } } }
                    p { a href="/admin/reviews" { (t(w, "Moderate reviews →")) } }
                }
            }
            section.panel aria-labelledby="low" {
                h2 #low { (t(w, "Low stock")) }
                @if low.is_empty() { p.empty { (t(w, "Everything is in stock.")) } }
                @else {
                    ul.plain { @for p in &low { li {
                        a href=(format!("/admin/products/{}", p.id)) { (p.name) }
                        " " span.meta { @for (i, v) in p.stock.iter().filter(|v| v.available <= 5).enumerate() { @if i > 0 { ", " } (v.sku) ": " (v.available) (t(w, " left")) } }
                    } } }
                    p { a href="/admin/products?low_stock=1" { (t(w, "All low stock →")) } }
                }
            }
            @if !hooks.is_empty() {
                section.panel aria-labelledby="hooks" {
                    h2 #hooks { (t(w, "Webhooks failing")) }
                    ul.plain { @for (id, url) in &hooks { li { a href=(format!("/admin/webhooks/{id}")) { (url) } } } }
                }
            }
            section.panel aria-labelledby="failed" {
                h2 #failed { (t(w, "Failed jobs")) }
                @if failed.is_empty() { p.empty { (t(w, "No job has failed.")) } }
                @else {
                    ul.plain { @for j in &failed { li { a href=(format!("/admin/jobs?state=failed#job-{}", j.id)) { (j.kind) " #" (j.id) } } } }
                    p { a href="/admin/jobs?state=failed" { (t(w, "Failed jobs →")) } }
                }
            }
        }
    };
    Ok(page_with(&app, &a, t(w, "Home"), "/admin", main))
}

// --- orders ----------------------------------------------------------------------------------

const ORDER_STATUSES: &[&str] = &[
    n_("pending"),
    n_("paid"),
    n_("partially_fulfilled"),
    n_("fulfilled"),
    n_("partially_refunded"),
    n_("refunded"),
    n_("cancelled"),
    n_("expired"),
];
const PER_PAGE: i64 = 50;

/// A keyset list's "older" link: the same filter, `before` the last id shown.
pub(crate) fn older(w: Lang, path: &str, filter: &[(&str, &str)], rows: usize, last_id: Option<&str>) -> Markup {
    let href = last_id.filter(|_| rows as i64 == PER_PAGE).map(|id| {
        let q: Vec<(&str, &str)> = filter.iter().copied().chain([("before", id)]).collect();
        format!("{path}?{}", encode_pairs(q))
    });
    html! {
        @if let Some(href) = href {
            nav.pages aria-label=(t(w, "More")) { a href=(href) rel="next" { (t(w, "Older →")) } }
        }
    }
}

pub(crate) fn list_params(raw: Option<&str>, names: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let q = QueryParams::parse(raw.unwrap_or(""))?;
    Ok(q.pairs().iter().filter(|(k, v)| names.contains(&k.as_str()) && !v.is_empty()).cloned().collect())
}

pub(crate) fn get<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `GET /admin/orders?status=&before=`
pub async fn orders(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["status", "before"])?;
    let status = get(&p, "status");
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50")];
    api.extend(status.map(|s| ("status", s)));
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let rows: Vec<OrderRow> = answered(
        admin::orders::orders(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?).await,
    )
    .await?;
    let main = html! {
        h1 { (t(w, "Orders")) }
        p { a.button.quiet href="/admin/draft-orders" { (t(w, "Draft orders")) } " " a.button href="/admin/draft-orders/new" { (t(w, "Create an order")) } }
        nav.tabs aria-label=(t(w, "By status")) {
            a href="/admin/orders" aria-current=[status.is_none().then_some("page")] { (t(w, "All")) }
            @for s in ORDER_STATUSES {
                a href=(format!("/admin/orders?status={s}")) aria-current=[(status == Some(*s)).then_some("page")] { (t(w, s)) }
            }
        }
        @if rows.is_empty() { p.empty { (t(w, "No orders here.")) } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Order")) } th scope="col" { (t(w, "Status")) } th scope="col" { (t(w, "Customer")) } th scope="col" { (t(w, "Total")) } th scope="col" { (t(w, "Placed")) } } }
                tbody { @for o in &rows { tr {
                    td { a href=(format!("/admin/orders/{}", o.id)) { "#" (o.id) } }
                    td data-label=(t(w, "Status")) { span class=(format!("status {}", o.status)) { (said(w, &o.status)) } }
                    td data-label=(t(w, "Customer")) { (o.email) } td data-label=(t(w, "Total")) { (shown_in(o.total, &o.currency)) } td data-label=(t(w, "Placed")) { (when(&o.created_at)) }
                } } }
            }
            (older(w, "/admin/orders", &status.map(|s| vec![("status", s)]).unwrap_or_default(), rows.len(), rows.last().map(|o| o.id.as_str())))
        }
    };
    Ok(page_with(&app, &a, t(w, "Orders"), "/admin/orders", main))
}

// --- reviews ---------------------------------------------------------------------------------

/// `GET /admin/reviews?status=&before=`: pending first; approve or reject each.
pub async fn reviews(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["status", "before"])?;
    let status = get(&p, "status").unwrap_or("pending");
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50"), ("status", status)];
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let rows: Vec<ReviewRow> = answered(
        admin::reviews::reviews(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?).await,
    )
    .await?;
    let main = html! {
        h1 { (t(w, "Reviews")) }
        nav.tabs aria-label=(t(w, "By status")) {
            @for s in [n_("pending"), n_("approved"), n_("rejected")] {
                a href=(format!("/admin/reviews?status={s}")) aria-current=[(status == s).then_some("page")] { (t(w, s)) }
            }
        }
        @if rows.is_empty() { p.empty { (t(w, "No reviews here.")) } }
        @for r in &rows {
            article.review #(format!("review-{}", r.id)) {
                h2 { (r.rating) "★ " (r.title) }
                p { (r.body) }
                p.meta { (t(w, "Product ")) a href=(format!("/admin/products/{}", r.product_id)) { "#" (r.product_id) } " · " (when(&r.created_at)) }
                div.actions {
                    @for (action, label) in [("approved", t(w, "Approve")), ("rejected", t(w, "Reject"))] {
                        @if action != status {
                            form.inline method="post" action=(format!("/admin/reviews/{}", r.id)) {
                                (csrf(&a.ps))
                                input type="hidden" name="status" value=(action);
                                input type="hidden" name="back" value=(status);
                                button.quiet[action == "rejected"] type="submit" aria-label=(format!("{label} “{}”", r.title)) { (label) }
                            }
                        }
                    }
                }
            }
        }
        (older(w, "/admin/reviews", &[("status", status)], rows.len(), rows.last().map(|r| r.id.as_str())))
    };
    Ok(page_with(&app, &a, t(w, "Reviews"), "/admin/reviews", main))
}

#[derive(Deserialize)]
pub struct ModerationForm {
    csrf: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    back: String,
}

/// `POST /admin/reviews/{id}`
pub async fn moderate(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    Form(f): Form<ModerationForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("review"))?;
    let body = admin::reviews::ModerationIn { status: f.status };
    let _: serde_json::Value = answered(
        admin::reviews::moderate_review(State(app.clone()), a.admin.clone(), PathId(id.0, PhantomData), JsonBody(body))
            .await,
    )
    .await?;
    let back = if ["pending", "approved", "rejected"].contains(&f.back.as_str()) { f.back } else { "pending".into() };
    Ok(see_other(&format!("/admin/reviews?status={back}"), None))
}

// --- jobs ------------------------------------------------------------------------------------

const JOB_STATES: &[&str] =
    &[n_("failed"), n_("available"), n_("scheduled"), n_("running"), n_("completed"), n_("cancelled")];

/// `GET /admin/jobs?state=&before=`: failed first; retry or cancel each.
pub async fn jobs(State(app): State<AppState>, a: AdminPage, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let w = a.w;
    let p = list_params(raw.as_deref(), &["state", "before"])?;
    let state = get(&p, "state").unwrap_or("failed");
    let mut api: Vec<(&str, &str)> = vec![("per_page", "50"), ("state", state)];
    api.extend(get(&p, "before").map(|b| ("before", b)));
    let rows: Vec<JobRow> = answered(
        admin::jobs::list_jobs(State(app.clone()), a.admin.clone(), QueryParams::parse(&encode_pairs(api))?).await,
    )
    .await?;
    let main = html! {
        h1 { (t(w, "Jobs")) }
        nav.tabs aria-label=(t(w, "By state")) {
            @for s in JOB_STATES {
                a href=(format!("/admin/jobs?state={s}")) aria-current=[(state == *s).then_some("page")] { (t(w, s)) }
            }
        }
        @if rows.is_empty() { p.empty { (t(w, "No jobs here.")) } }
        @else {
            table.lines {
                thead { tr { th scope="col" { (t(w, "Job")) } th scope="col" { (t(w, "State")) } th scope="col" { (t(w, "Attempts")) } th scope="col" { (t(w, "Last error")) } th scope="col" { span.skip { (t(w, "Actions")) } } } }
                tbody { @for j in &rows { tr #(format!("job-{}", j.id)) {
                    td { a href=(format!("/admin/jobs/{}", j.id)) { (j.kind) " #" (j.id) } br; span.meta { (when(&j.created_at)) } }
                    td data-label=(t(w, "State")) { (said(w, &j.state)) }
                    td data-label=(t(w, "Attempts")) { (j.attempts) " / " (j.max_attempts) }
                    td data-label=(t(w, "Last error")) { @if let Some(e) = j.errors.last() { code { (e.error) } } }
                    td {
                        @if j.state == "failed" || j.state == "cancelled" {
                            form.inline method="post" action=(format!("/admin/jobs/{}/retry", j.id)) { (csrf(&a.ps)) button.quiet type="submit" { (t(w, "Retry")) } }
                        }
                        @if j.state == "available" || j.state == "scheduled" {
                            form.inline method="post" action=(format!("/admin/jobs/{}/cancel", j.id)) { (csrf(&a.ps)) button.quiet type="submit" { (t(w, "Cancel")) } }
                        }
                    }
                } } }
            }
            (older(w, "/admin/jobs", &[("state", state)], rows.len(), rows.last().map(|j| j.id.as_str())))
        }
    };
    Ok(page_with(&app, &a, t(w, "Jobs"), "/admin/jobs", main))
}

/// `POST /admin/jobs/{id}/retry` and `/cancel`
pub async fn job_action(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("job"))?;
    let pid = PathId(id.0, PhantomData);
    let answer = match action.as_str() {
        "retry" => admin::jobs::retry_job(State(app.clone()), a.admin.clone(), pid).await,
        "cancel" => admin::jobs::cancel_job(State(app.clone()), a.admin.clone(), pid).await,
        _ => return Err(ApiError::not_found("action")),
    };
    let _: serde_json::Value = answered(answer).await?;
    Ok(see_other("/admin/jobs?state=failed", None))
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn warnings_follow_the_alert_rules_thresholds() {
        let calm = "# TYPE storefront_writer_alive gauge\nstorefront_writer_alive 1\n\
                    storefront_writer_queue_depth 10\nstorefront_writer_queue_capacity 1024\n\
                    storefront_job_lag_seconds{queue=\"high\"} 29\nstorefront_job_lag_seconds{queue=\"low\"} 299\n\
                    storefront_disk_free_bytes 20\nstorefront_disk_size_bytes 100\n";
        assert!(super::warnings(Lang::En, calm).is_empty(), "{:?}", super::warnings(Lang::En, calm));
        let bad = calm
            .replace("storefront_writer_queue_depth 10", "storefront_writer_queue_depth 600")
            .replace("queue=\"high\"} 29", "queue=\"high\"} 31")
            .replace("storefront_disk_free_bytes 20", "storefront_disk_free_bytes 5")
            + "storefront_replica_lag_seconds 7.5\nstorefront_litestream_up 0\n";
        let w = super::warnings(Lang::En, &bad);
        assert_eq!(w.len(), 5, "{w:?}");
        assert!(w[0].contains("59 % full"), "{w:?}");
        assert!(w[1].contains("high queue wait 31 s"), "{w:?}");
        assert!(w.iter().any(|x| x.contains("7.5 s behind")));
        assert!(w.iter().any(|x| x.contains("5 % free")));
        assert_eq!(super::warnings(Lang::En, &calm.replace("writer_alive 1", "writer_alive 0")).len(), 1);
    }

    #[test]
    fn the_95th_percentile_is_read_from_the_histogram() {
        let scrape = "storefront_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 90\n\
                      storefront_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 10\n\
                      storefront_http_request_duration_seconds_bucket{route=\"/\",le=\"0.001\"} 80\n\
                      storefront_http_request_duration_seconds_bucket{route=\"/\",le=\"0.01\"} 90\n\
                      storefront_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 90\n\
                      storefront_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.001\"} 0\n\
                      storefront_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.01\"} 5\n\
                      storefront_http_request_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 10\n";
        use crate::admin::dashboard::Sample;
        let request_figures = |scrape: &str| {
            let s = Sample::from_scrape(0, scrape, 0, 0);
            (s.requests, Sample::p95_of(&s.buckets))
        };
        let (total, p95) = request_figures(scrape);
        assert_eq!(total, 100.0);
        assert_eq!(p95, Some(0.01), "95 of the 100 answers took at most 0.01 s");
        let slow = scrape.replace("route=\"/x\",le=\"0.01\"} 5", "route=\"/x\",le=\"0.01\"} 0");
        assert_eq!(request_figures(&slow).1, Some(f64::INFINITY), "only 90 within 0.01 s: beyond the last bound");
        assert_eq!(request_figures("").1, None);
    }
}
