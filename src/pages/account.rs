//! The customer's pages: register, log in (with the two-factor code when it is on), the
//! account (orders, sessions, two-factor login) and log out — the API's customer handlers
//! called with the cookie's session. The login and register forms are open to anyone (no
//! session yet to bind a token to); like every page form they are taken only from the
//! shop's own pages (see `crate::web::context`).

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::buy::{answered, answered_in, done, private_page, see_other};
use super::layout::{self, money, Frame};
use super::session::{self, check_csrf, CsrfForm, PageSession, CSRF_FIELD};
use super::view::Money;
use super::words::{t, tf, Lang};
use crate::app::AppState;
use crate::auth::CustomerSession;
use crate::customers::handlers as customers_api;
use crate::customers::two_factor as two_factor_api;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::{JsonBody, QueryParams};
use crate::orders::handlers as orders_api;

/// The frame of a shopper's page, in the shopper's language (see [`super::words`]).
fn frame<'a>(app: &'a AppState, ps: &PageSession, title: &'a str) -> Frame<'a> {
    Frame { lang: ps.lang.clone(), words: ps.words, ..Frame::plain(app.live().shop_name.clone(), title, "") }
}

/// Who is asking, as the API's login and register see it: with the cookie's guest session,
/// whose cart the account takes over.
pub async fn client_of(parts: &mut Parts, app: &AppState) -> Result<customers_api::Client, ApiError> {
    if let Some(token) = session::cookie_token(&parts.headers) {
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            parts.headers.insert(header::AUTHORIZATION, v);
        }
    }
    let client = customers_api::Client::from_request_parts(parts, app).await;
    parts.headers.remove(header::AUTHORIZATION);
    client
}

#[derive(Deserialize)]
struct Opened {
    token: String,
}

// --- log in and register -------------------------------------------------------------------

/// What a login form shows.
pub struct LoginView<'a> {
    pub action: &'a str,
    pub heading: &'a str,
    pub email: &'a str,
    pub problem: Option<&'a str>,
    /// the account logs in with a second factor: the code field is required
    pub ask_code: bool,
    /// the language of the form's words
    pub words: Lang,
}

pub fn login_form(v: &LoginView<'_>) -> Markup {
    let w = v.words;
    html! {
        div.narrow {
            h1 { (v.heading) }
            @if let Some(p) = v.problem { div.error role="alert" { p { (p) } } }
            form.panel method="post" action=(v.action) {
                div.field {
                    label for="email" { (t(w, "E-mail")) }
                    input #email type="email" name="email" value=(v.email) required autocomplete="username" autofocus[!v.ask_code];
                }
                div.field {
                    label for="password" { (t(w, "Password")) }
                    input #password type="password" name="password" required autocomplete="current-password";
                }
                div.field {
                    label for="otp" { (t(w, "Two-factor code")) @if !v.ask_code { (t(w, " (if you turned it on)")) } }
                    input #otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code" maxlength="32"
                        required[v.ask_code] autofocus[v.ask_code];
                }
                button type="submit" { (t(w, "Log in")) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    otp: String,
}

/// Logs in through the API's login; `Ok(token)`, or the page's words for why not (the
/// status, whether the code is needed, the message).
pub async fn log_in(
    app: &AppState,
    parts: &mut Parts,
    f: &LoginForm,
    w: Lang,
) -> Result<Result<String, (StatusCode, bool, String)>, ApiError> {
    let client = client_of(parts, app).await?;
    let body = crate::customers::model::LoginIn {
        email: f.email.trim().to_owned(),
        password: f.password.clone(),
        otp: Some(f.otp.trim().to_owned()).filter(|o| !o.is_empty()),
    };
    match answered_in::<Opened>(w, customers_api::login(State(app.clone()), client, JsonBody(body)).await).await {
        Ok(o) => Ok(Ok(o.token)),
        Err(e) if e.status.is_client_error() => {
            let ask_code = matches!(e.code, "otp_required" | "invalid_otp");
            let words = match e.code {
                "otp_required" => t(w, "Enter the code from your authenticator app (or a recovery code).").to_owned(),
                "invalid_otp" => t(w, "That code is wrong, used or expired. Try the current one.").to_owned(),
                "invalid_credentials" => t(w, "Wrong e-mail or password.").to_owned(),
                _ if !e.details.is_empty() => e
                    .details
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => e.message.clone(),
            };
            Ok(Err((e.status, ask_code, words)))
        }
        Err(e) => Err(e),
    }
}

fn with_cookie(mut resp: Response, token: &str, app: &AppState, secure: bool) -> Response {
    let ttl = app.config.session_ttl_days * 24 * 3600;
    resp.headers_mut().append(header::SET_COOKIE, session::set_cookie(token, ttl, secure));
    resp
}

/// `GET /account/login`
pub async fn login_page(State(app): State<AppState>, ps: PageSession) -> Result<Response, ApiError> {
    if ps.session.as_ref().is_some_and(|s| s.customer_id.is_some()) {
        return Ok(see_other("/account", None));
    }
    let w = ps.words;
    let v = LoginView {
        action: "/account/login",
        heading: t(w, "Log in"),
        email: "",
        problem: None,
        ask_code: false,
        words: w,
    };
    let main = html! {
        (login_form(&v))
        p.narrow { (t(w, "New here?")) " " a href="/account/register" { (t(w, "Create an account")) } }
    };
    Ok(private_page(StatusCode::OK, layout::page(&frame(&app, &ps, t(w, "Log in")), main), &ps))
}

/// `POST /account/login`
pub async fn login(
    State(app): State<AppState>,
    ps: PageSession,
    mut parts: Parts,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let w = ps.words;
    match log_in(&app, &mut parts, &f, w).await? {
        Ok(token) => Ok(with_cookie(see_other("/account", None), &token, &app, ps.secure)),
        Err((status, ask_code, words)) => {
            let v = LoginView {
                action: "/account/login",
                heading: t(w, "Log in"),
                email: &f.email,
                problem: Some(&words),
                ask_code,
                words: w,
            };
            Ok(private_page(status, layout::page(&frame(&app, &ps, t(w, "Log in")), login_form(&v)), &ps))
        }
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

fn register_form(
    f: &RegisterForm,
    problem: Option<&str>,
    errors: &std::collections::BTreeMap<String, serde_json::Value>,
    w: Lang,
) -> Markup {
    let err = |k: &str| errors.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    html! {
        div.narrow {
            h1 { (t(w, "Create an account")) }
            @if let Some(p) = problem { div.error role="alert" { p { (p) } } }
            form.panel method="post" action="/account/register" {
                @for (name, label, kind, value, auto) in [("name", "Your name", "text", f.name.as_str(), "name"),
                                                        ("email", "E-mail", "email", f.email.as_str(), "email"),
                                                        ("password", "Password (at least 8 characters)", "password", "", "new-password")] {
                    div.field {
                        label for=(name) { (t(w, label)) }
                        input id=(name) type=(kind) name=(name) value=(value) required autocomplete=(auto)
                            aria-invalid=[err(name).map(|_| "true")] aria-describedby=[err(name).map(|_| format!("{name}-error"))];
                        @if let Some(e) = err(name) { span.field-error id=(format!("{name}-error")) { (e) } }
                    }
                }
                button type="submit" { (t(w, "Create account")) }
            }
            p { (t(w, "Have an account?")) " " a href="/account/login" { (t(w, "Log in")) } }
        }
    }
}

/// `GET /account/register`
pub async fn register_page(State(app): State<AppState>, ps: PageSession) -> Result<Response, ApiError> {
    let f = RegisterForm { name: String::new(), email: String::new(), password: String::new() };
    let w = ps.words;
    let main = register_form(&f, None, &Default::default(), w);
    Ok(private_page(StatusCode::OK, layout::page(&frame(&app, &ps, t(w, "Create an account")), main), &ps))
}

/// `POST /account/register`
pub async fn register(
    State(app): State<AppState>,
    ps: PageSession,
    mut parts: Parts,
    Form(f): Form<RegisterForm>,
) -> Result<Response, ApiError> {
    let client = client_of(&mut parts, &app).await?;
    // the mail's language: the one the shopper reads the shop in
    let lang = super::shop::Lang::of(&app, &parts.headers);
    let body = crate::customers::model::RegisterIn {
        email: f.email.trim().to_owned(),
        password: f.password.clone(),
        name: f.name.trim().to_owned(),
        locale: lang.chosen.clone().or_else(|| lang.enabled.first().cloned()),
    };
    let headers = parts.headers.clone();
    let r = customers_api::register(State(app.clone()), client, headers, JsonBody(body)).await;
    match answered_in::<Opened>(ps.words, r).await {
        Ok(o) => Ok(with_cookie(see_other("/account", None), &o.token, &app, ps.secure)),
        Err(e) if e.status.is_client_error() => {
            let problem = if e.details.is_empty() { Some(e.message.as_str()) } else { None };
            let main = register_form(&f, problem, &e.details, ps.words);
            Ok(private_page(e.status, layout::page(&frame(&app, &ps, t(ps.words, "Create an account")), main), &ps))
        }
        Err(e) => Err(e),
    }
}

// --- the account -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct Me {
    email: String,
    name: String,
    locale: Option<String>,
}

#[derive(Deserialize)]
struct OrderRow {
    id: String,
    status: String,
    item_count: i64,
    total: Money,
    created_at: String,
}

#[derive(Deserialize)]
struct SessionRow {
    id: String,
    device: String,
    client_addr: String,
    last_seen_at: String,
    current: bool,
}

/// The logged-in customer of a page (none: the page sends to the login page).
fn customer(ps: &PageSession) -> Option<CustomerSession> {
    ps.session
        .as_ref()
        .and_then(|s| s.customer_id.map(|customer_id| CustomerSession { session: s.clone(), customer_id }))
}

/// `GET /account`: orders, sessions, two-factor login.
pub async fn account(
    State(app): State<AppState>,
    ps: PageSession,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Some(me) = customer(&ps) else {
        return Ok(see_other("/account/login", None));
    };
    let saved = query.as_deref() == Some("language=saved");
    let languages: Vec<String> =
        crate::domain::locale::enabled(&app.live().locales).into_iter().map(str::to_owned).collect();
    let profile: Me = answered(customers_api::me(State(app.clone()), me.clone()).await).await?;
    let orders: Vec<OrderRow> =
        answered(orders_api::list(State(app.clone()), me.session.clone(), QueryParams::parse("per_page=20")?).await)
            .await?;
    let sessions: Vec<SessionRow> = answered(customers_api::sessions(State(app.clone()), me.clone()).await).await?;
    let csrf = html! { input type="hidden" name=(CSRF_FIELD) value=(ps.csrf()); };
    let w = ps.words;
    let main = html! {
        div.toolbar {
            h1 { (t(w, "Your account")) }
            form method="post" action="/account/logout" { (csrf) button.quiet type="submit" { (t(w, "Log out")) } }
        }
        p { (profile.name) " · " (profile.email) }
        section aria-labelledby="orders" {
            h2 #orders { (t(w, "Orders")) }
            @if orders.is_empty() {
                p.empty { (t(w, "No orders yet.")) }
            } @else {
                table.lines {
                    thead { tr { th scope="col" { (t(w, "Order")) } th scope="col" { (t(w, "Placed")) } th scope="col" { (t(w, "Items")) } th scope="col" { (t(w, "Status")) } th scope="col" { (t(w, "Total")) } } }
                    tbody {
                        @for o in &orders {
                            tr {
                                td { a href=(format!("/orders/{}", o.id)) { "#" (o.id) } }
                                td { (o.created_at.get(..10).unwrap_or(&o.created_at)) }
                                td { (o.item_count) }
                                td { (super::buy::status_words(&o.status, w)) }
                                td { (money(&o.total)) }
                            }
                        }
                    }
                }
            }
        }
        @if languages.len() > 1 {
            section.panel.spaced aria-labelledby="mail-language" {
                h2 #mail-language { (t(w, "Language of our e-mails")) }
                form.inline-row method="post" action="/account/language" {
                    (csrf)
                    label.skip for="mail-locale" { (t(w, "Language")) }
                    select #mail-locale name="locale" {
                        @for l in &languages {
                            option value=(l) selected[profile.locale.as_deref().unwrap_or(&languages[0]) == l.as_str()] {
                                (super::admin_translations::language_label(l))
                            }
                        }
                    }
                    button.quiet type="submit" { (t(w, "Save")) }
                }
                @if saved { p.notice role="status" { (t(w, "Saved: your next e-mails are in this language.")) } }
            }
        }
        section.panel.spaced aria-labelledby="security" {
            h2 #security { (t(w, "Two-factor login")) }
            @if me.session.two_factor {
                p { (t(w, "On: logging in asks for a code from your authenticator app.")) }
            } @else {
                p { (t(w, "Off. With it on, logging in also asks for a code from an authenticator app.")) }
                form method="post" action="/account/2fa/setup" { (csrf) button type="submit" { (t(w, "Turn on two-factor login")) } }
            }
        }
        section.spaced aria-labelledby="sessions" {
            h2 #sessions { (t(w, "Where you are logged in")) }
            table.lines {
                thead { tr { th scope="col" { (t(w, "Device")) } th scope="col" { (t(w, "Address")) } th scope="col" { (t(w, "Last seen")) } th scope="col" { span.skip { (t(w, "End")) } } } }
                tbody {
                    @for s in &sessions {
                        tr {
                            td { (s.device) @if s.current { " " strong { (t(w, "(this one)")) } } }
                            td { (s.client_addr) }
                            td { (s.last_seen_at.get(..16).unwrap_or(&s.last_seen_at).replace('T', " ")) }
                            td {
                                @if !s.current {
                                    form.inline method="post" action=(format!("/account/sessions/{}/end", s.id)) {
                                        (csrf) button.quiet type="submit" aria-label=(tf(w, "End the session on {device}", &[("device", &s.device)])) { (t(w, "End")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(private_page(StatusCode::OK, layout::page(&frame(&app, &ps, t(w, "Your account")), main), &ps))
}

#[derive(Deserialize)]
pub struct LanguageForm {
    csrf: Option<String>,
    locale: String,
}

/// `POST /account/language`: the language of the customer's mail (the API's profile
/// change).
pub async fn set_language(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<LanguageForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let Some(me) = customer(&ps) else {
        return Ok(see_other("/account/login", None));
    };
    let body =
        crate::customers::model::ProfileIn { name: None, email: None, current_password: None, locale: Some(f.locale) };
    done(customers_api::update_me(State(app.clone()), me, JsonBody(body)).await)?;
    Ok(see_other("/account?language=saved", None))
}

/// `POST /account/logout`
pub async fn logout(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    log_out(&app, &ps, &f, "/").await
}

/// Ends the page's session (the API's logout) and its cookie; then to `to`.
pub async fn log_out(app: &AppState, ps: &PageSession, f: &CsrfForm, to: &str) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    if let Some(s) = ps.session.clone() {
        done(customers_api::logout(State(app.clone()), s).await)?;
    }
    let mut resp = see_other(to, None);
    resp.headers_mut().append(header::SET_COOKIE, session::clear_cookie(ps.secure));
    Ok(resp)
}

/// `POST /account/sessions/{id}/end`
pub async fn end_session(
    State(app): State<AppState>,
    ps: PageSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let Some(me) = customer(&ps) else {
        return Ok(see_other("/account/login", None));
    };
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("session"))?;
    done(customers_api::revoke_session(State(app.clone()), me, PathId(id.0, PhantomData)).await)?;
    Ok(see_other("/account", None))
}

#[derive(Deserialize)]
struct SetupOut {
    secret: String,
    otpauth_url: String,
}

/// `POST /account/2fa/setup`: a new secret to put in an authenticator, and the form that
/// turns the second factor on with its first code.
pub async fn two_factor_setup(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let Some(me) = customer(&ps) else {
        return Ok(see_other("/account/login", None));
    };
    let s: SetupOut = answered(two_factor_api::setup(State(app.clone()), me).await).await?;
    let main = two_factor_form(&ps, &s.secret, &s.otpauth_url, None);
    Ok(private_page(StatusCode::OK, layout::page(&frame(&app, &ps, t(ps.words, "Two-factor login")), main), &ps))
}

fn two_factor_form(ps: &PageSession, secret: &str, url: &str, problem: Option<&str>) -> Markup {
    let w = ps.words;
    html! {
        div.narrow {
            h1 { (t(w, "Turn on two-factor login")) }
            @if let Some(p) = problem { div.error role="alert" { p { (p) } } }
            div.panel {
                p { (t(w, "Add this key to your authenticator app (or open the link on your phone):")) }
                p { code.secret { (secret) } }
                p { a href=(url) { (t(w, "Open in an authenticator app")) } }
                form method="post" action="/account/2fa/enable" {
                    input type="hidden" name=(CSRF_FIELD) value=(ps.csrf());
                    input type="hidden" name="secret" value=(secret);
                    input type="hidden" name="otpauth_url" value=(url);
                    div.field {
                        label for="code" { (t(w, "The 6-digit code it shows")) }
                        input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="32";
                    }
                    button type="submit" { (t(w, "Turn on")) }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct EnableForm {
    csrf: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    otpauth_url: String,
}

#[derive(Deserialize)]
struct EnabledOut {
    #[serde(default)]
    recovery_codes: Vec<String>,
}

/// `POST /account/2fa/enable`: on, with the recovery codes shown this once.
pub async fn two_factor_enable(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<EnableForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let Some(me) = customer(&ps) else {
        return Ok(see_other("/account/login", None));
    };
    let body = two_factor_api::CodeIn { code: f.code.trim().to_owned() };
    match answered::<EnabledOut>(two_factor_api::enable(State(app.clone()), me, JsonBody(body)).await).await {
        Ok(out) => {
            let w = ps.words;
            let main = html! {
                div.narrow {
                    h1 { (t(w, "Two-factor login is on")) }
                    div.panel {
                        p { (t(w, "Keep these recovery codes somewhere safe. Each logs you in once if you lose your authenticator; they are shown only now.")) }
                        ul.codes { @for c in &out.recovery_codes { li { code { (c) } } } }
                        a.button href="/account" { (t(w, "Back to your account")) }
                    }
                }
            };
            Ok(private_page(StatusCode::OK, layout::page(&frame(&app, &ps, t(w, "Two-factor login")), main), &ps))
        }
        Err(e) if e.status.is_client_error() => {
            let main = two_factor_form(
                &ps,
                &f.secret,
                &f.otpauth_url,
                Some(t(ps.words, "That code is wrong or expired; try the current one.")),
            );
            Ok(private_page(e.status, layout::page(&frame(&app, &ps, t(ps.words, "Two-factor login")), main), &ps))
        }
        Err(e) => Err(e),
    }
}
