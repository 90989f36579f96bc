//! Customer and session endpoints. Every change is one writer unit; password hashing runs
//! off the async workers before the unit is sent, so the writer never waits for argon2.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::model::*;
use super::store::{self, NewSession};
use crate::app::AppState;
use crate::auth::{self, CustomerSession, Session};
use crate::cart;
use crate::domain::{text, Email, NewPassword};
use crate::error::ApiError;
use crate::http::path::{res, PathId};
use crate::http::respond::{data, no_content};
use crate::http::{Checks, JsonBody};
use crate::mail;
use crate::openapi::{AuthErrors, BodyErrors, Data, NotFound, WriteErrors};
use crate::util::now_ms;

#[derive(Serialize, utoipa::ToSchema)]
struct TokenOut {
    /// opaque bearer token; only its SHA-256 is stored
    token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<CustomerOut>,
}

/// Who is asking: address and device, and the guest session whose cart a login adopts.
pub struct Client {
    addr: String,
    /// one of the operator's own addresses: not locked out per address
    exempt: bool,
    device: String,
    guest_session: Option<i64>,
}

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Client, ApiError> {
        // a guest token on register/login brings its cart along; any other token, or a
        // stale one, is simply not a guest session to merge
        let guest_session = match parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            true => match Session::from_request_parts(parts, app).await {
                Ok(s) if s.customer_id.is_none() => Some(s.id),
                _ => None,
            },
            false => None,
        };
        Ok(Client {
            addr: auth::client_addr(parts),
            exempt: auth::client_exempt(parts),
            device: auth::device(parts),
            guest_session,
        })
    }
}

fn too_many(retry_after_ms: i64) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many failed attempts; try later");
    e.retry_after = Some(((retry_after_ms + 999) / 1000).max(1) as u64);
    e
}

/// In the unit of the attempt itself, before any password is checked: 429 when the
/// account (`email`, when the attempt names one) or the client address has used up its
/// failed attempts; otherwise the attempt is recorded as failed (a success marks it so
/// later). Checking and recording in one writer unit means concurrent guesses queue up
/// behind each other and only the allowed number ever reach the password.
fn claim_attempt(
    tx: &crate::db::writer::WriteTx,
    config: &crate::config::Config,
    kind: &'static str,
    email: Option<&str>,
    (addr, exempt): (&str, bool),
    now: i64,
) -> Result<i64, ApiError> {
    let window = config.auth_window_secs as i64 * 1000;
    // one account however its e-mail is cased; one client however it picks its address
    // within an IPv6 /64
    let folded = email.map(str::to_lowercase);
    let email = folded.as_deref();
    let addr = &crate::limits::address_key_of(addr);
    let f = store::failures(tx, kind, email.unwrap_or(""), addr, now - window)?;
    let free_at = |oldest: Option<i64>| oldest.map_or(window, |t| t + window - now);
    if email.is_some() && f.by_email >= config.auth_failures_per_account as i64 {
        return Err(too_many(free_at(f.oldest_email)));
    }
    // the operator's own address (limit_exempt) is not locked out as an address
    if !exempt && f.by_addr >= config.auth_failures_per_address as i64 {
        return Err(too_many(free_at(f.oldest_addr)));
    }
    store::record_attempt(tx, kind, email.unwrap_or(""), addr, false, now)?;
    Ok(tx.last_insert_rowid())
}

/// A logged-in customer proving it is them (changing the e-mail, turning 2FA off): the
/// attempt is claimed against the account's failed-login throttle before the password is
/// hashed, as a login is. Answers the attempt, for the caller to mark succeeded in the unit
/// of its change; 403 `invalid_password` (the attempt stays failed) when it is wrong.
pub(crate) async fn check_password(
    app: &AppState,
    account: &str,
    hash: String,
    (addr, exempt): (&str, bool),
    password: String,
    field: &str,
) -> Result<i64, ApiError> {
    let (config, account, addr) = (app.config.clone(), account.to_owned(), addr.to_owned());
    let attempt = app
        .db
        .writer
        .run(move |tx| claim_attempt(tx, &config, "login", Some(&account), (&addr, exempt), now_ms()))
        .await?;
    if !auth::verify_password(&app.hasher, password, Some(hash)).await? {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "invalid_password", "the password is wrong")
            .with_detail(field, "is wrong"));
    }
    Ok(attempt)
}

struct Opened {
    token: String,
    customer: Option<CustomerOut>,
}

/// Opens a session for `customer` in the writer unit `tx` (adopting the guest's cart).
fn open_session(
    tx: &crate::db::writer::WriteTx,
    (app_ttl_ms, max_lines): (i64, usize),
    (customer, second_factor): (Option<i64>, bool),
    client: &Client,
    now: i64,
) -> Result<Opened, ApiError> {
    let (token, hash) = auth::new_token();
    let ns = NewSession {
        token_hash: &hash,
        customer_id: customer,
        device: &client.device,
        client_addr: &client.addr,
        now,
        expires_at: now + app_ttl_ms,
        second_factor,
    };
    store::insert_session(tx, &ns)?;
    let mut out = None;
    if let Some(c) = customer {
        if let Some(guest) = client.guest_session {
            cart::store::adopt_guest_cart(tx, guest, c, max_lines, now)?;
        }
        out = store::customer(tx, c)?;
    }
    Ok(Opened { token, customer: out })
}

fn ttl_ms(app: &AppState) -> i64 {
    app.config.session_ttl_days as i64 * 24 * 3600 * 1000
}

/// Create a customer account and a session
///
/// A guest token in `Authorization` brings its cart along.
#[utoipa::path(post, path = "/api/auth/register", tag = "customers", security((), ("bearer" = [])),
    request_body = RegisterIn,
    responses((status = 201, description = "the account and its first session", body = Data<TokenOut>),
        BodyErrors,
        (status = 409, description = "email_taken", body = crate::openapi::ErrorBody),
        WriteErrors))]
pub async fn register(
    State(app): State<AppState>,
    client: Client,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<RegisterIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let email = checks.check("email", Email::parse(&body.email));
    let password = checks.check("password", NewPassword::parse(&body.password));
    let name = checks.check("name", text(&body.name, 200, false));
    let locales = app.live().locales.clone();
    let locale = match &body.locale {
        Some(asked) => checks.check("locale", crate::domain::locale::of_customer(asked, &locales)).flatten(),
        None => crate::domain::locale::of_header(
            headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
            &locales,
        ),
    };
    checks.finish()?;
    let (email, password, name) = (email.expect("checked"), password.expect("checked"), name.expect("checked"));
    let hash = auth::hash_password(&app.hasher, password.expose().to_owned()).await?;
    let ttl = ttl_ms(&app);
    let max_lines = app.live().cart_max_lines;
    let opened = app
        .db
        .writer
        .run(move |tx| {
            if store::customer_id_by_email(tx, email.as_str())?.is_some() {
                return Err(ApiError::new(StatusCode::CONFLICT, "email_taken", "an account with this e-mail exists")
                    .with_detail("email", "is already registered"));
            }
            let now = now_ms();
            let id = store::insert_customer(tx, email.as_str(), &name, &hash, "customer", locale.as_deref(), now)?;
            let event = serde_json::json!({"id": id.to_string(), "email": email.as_str(), "name": name.as_str()});
            crate::webhooks::emit(tx, "customer.registered", &event, now)?;
            open_session(tx, (ttl, max_lines), (Some(id), false), &client, now)
        })
        .await?;
    tracing::info!(customer.id = ?opened.customer.as_ref().map(|c| c.id), "customer registered");
    Ok(data(StatusCode::CREATED, &TokenOut { token: opened.token, customer: opened.customer }))
}

/// Log in
///
/// Throttled: after `auth_failures_per_account` (default 5) failed attempts for an account,
/// or `auth_failures_per_address` (50) from a client address, within `auth_window_secs`
/// (900), 429 with `Retry-After`. A guest token in `Authorization` merges its cart into the
/// customer's (quantities added).
#[utoipa::path(post, path = "/api/auth/login", tag = "customers", security((), ("bearer" = [])),
    request_body = LoginIn,
    responses((status = 200, description = "a new session", body = Data<TokenOut>),
        BodyErrors,
        (status = 401, description = "invalid_credentials (the same answer for unknown accounts); otp_required: two-factor login is on and otp is missing; invalid_otp", body = crate::openapi::ErrorBody),
        (status = 429, description = "rate_limited, with Retry-After", body = crate::openapi::ErrorBody),
        WriteErrors))]
pub async fn login(
    State(app): State<AppState>,
    client: Client,
    JsonBody(body): JsonBody<LoginIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let email = checks.check("email", Email::parse(&body.email));
    if body.password.is_empty() || body.password.len() > 1024 {
        checks.error("password", "must be 1 to 1024 characters");
    }
    checks.finish()?;
    let email = email.expect("checked");
    app.limits.check_account(&app.metrics, crate::limits::Rule::Login, &email.as_str().to_lowercase()).await?;
    let (config, claimed_email, addr) = (app.config.clone(), email.as_str().to_owned(), client.addr.clone());
    let attempt = app
        .db
        .writer
        .run(move |tx| claim_attempt(tx, &config, "login", Some(&claimed_email), (&addr, client.exempt), now_ms()))
        .await?;
    let lookup = email.as_str().to_owned();
    let creds = app.db.read(move |conn| store::credentials(conn, &lookup).map_err(ApiError::from)).await?;
    let ok = auth::verify_password(&app.hasher, body.password, creds.as_ref().map(|c| c.password_hash.clone())).await?;
    let customer = creds.filter(|_| ok).map(|c| c.id);
    let ttl = ttl_ms(&app);
    let max_lines = app.live().cart_max_lines;
    let (otp, secrets) = (body.otp, app.secrets.clone());
    let opened = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let mut second_factor = false;
            if let Some(c) = customer {
                // the second factor, when it is on: a missing or wrong code leaves the
                // attempt counted as failed
                if matches!(super::two_factor::state(tx, c)?, Some((_, true, _))) {
                    second_factor = true;
                    match &otp {
                        None => {
                            return Err(ApiError::new(
                                StatusCode::UNAUTHORIZED,
                                "otp_required",
                                "this account logs in with a two-factor code: send otp",
                            ))
                        }
                        Some(code) if !super::two_factor::use_code(tx, &secrets, c, code, now)? => {
                            return Err(ApiError::new(
                                StatusCode::UNAUTHORIZED,
                                "invalid_otp",
                                "the two-factor code is wrong, used or expired",
                            ))
                        }
                        Some(_) => {}
                    }
                }
                store::attempt_succeeded(tx, attempt)?;
            }
            match customer {
                Some(c) => open_session(tx, (ttl, max_lines), (Some(c), second_factor), &client, now).map(Some),
                None => Ok(None),
            }
        })
        .await?;
    match opened {
        Some(o) => Ok(data(StatusCode::OK, &TokenOut { token: o.token, customer: o.customer })),
        None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong e-mail or password")),
    }
}

/// An anonymous session that can hold a cart and place orders
#[utoipa::path(post, path = "/api/auth/guest", tag = "customers", security(()),
    responses((status = 201, description = "the guest's token", body = Data<TokenOut>), WriteErrors))]
pub async fn guest(State(app): State<AppState>, client: Client) -> Result<Response, ApiError> {
    let ttl = ttl_ms(&app);
    let max_lines = app.live().cart_max_lines;
    let client = Client { guest_session: None, ..client };
    let opened =
        app.db.writer.run(move |tx| open_session(tx, (ttl, max_lines), (None, false), &client, now_ms())).await?;
    Ok(data(StatusCode::CREATED, &TokenOut { token: opened.token, customer: None }))
}

/// Revoke the current token
#[utoipa::path(post, path = "/api/auth/logout", tag = "customers", security(("bearer" = [])),
    responses((status = 204, description = "revoked"), AuthErrors, WriteErrors))]
pub async fn logout(State(app): State<AppState>, session: Session) -> Result<Response, ApiError> {
    app.db.writer.run(move |tx| store::revoke_session(tx, session.id, None, now_ms()).map_err(ApiError::from)).await?;
    Ok(no_content())
}

/// The customer's live sessions
///
/// Device from `User-Agent`, client address, created, last seen (updated at most once a
/// minute).
#[utoipa::path(get, path = "/api/auth/sessions", tag = "customers", security(("bearer" = [])),
    responses((status = 200, description = "the sessions", body = Data<Vec<SessionOut>>), AuthErrors))]
pub async fn sessions(State(app): State<AppState>, me: CustomerSession) -> Result<Response, ApiError> {
    let list = app
        .db
        .read(move |conn| store::sessions_of(conn, me.customer_id, now_ms(), me.session.id).map_err(ApiError::from))
        .await?;
    Ok(data(StatusCode::OK, &list))
}

/// Revoke one of the customer's sessions
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "a session id")),
    responses((status = 204, description = "revoked"), AuthErrors, NotFound, WriteErrors))]
pub async fn revoke_session(
    State(app): State<AppState>,
    me: CustomerSession,
    PathId(id, _): PathId<res::Session>,
) -> Result<Response, ApiError> {
    let done = app
        .db
        .writer
        .run(move |tx| store::revoke_session(tx, id, Some(me.customer_id), now_ms()).map_err(ApiError::from))
        .await?;
    if done {
        Ok(no_content())
    } else {
        Err(ApiError::not_found("session"))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct SentOut {
    sent: bool,
}

/// Ask for a password-reset code by mail
///
/// Always 202, whether or not the account exists (the answer must not tell who has an
/// account); the mail goes to the outbox.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "customers", security(()),
    request_body = ForgotIn,
    responses((status = 202, description = "accepted", body = Data<SentOut>),
        BodyErrors, (status = 429, description = "rate_limited, with Retry-After", body = crate::openapi::ErrorBody), WriteErrors))]
pub async fn forgot_password(
    State(app): State<AppState>,
    client: Client,
    JsonBody(body): JsonBody<ForgotIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let email = checks.check("email", Email::parse(&body.email));
    checks.finish()?;
    let email = email.expect("checked");
    app.limits.check_account(&app.metrics, crate::limits::Rule::Reset, &email.as_str().to_lowercase()).await?;
    let ttl = app.config.reset_token_ttl_mins as i64 * 60_000;
    let send = app.mailer.sends();
    let (config, secrets) = (app.config.clone(), app.secrets.clone());
    let locales = app.live().locales.clone();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            // every request counts against the limit: it sends mail
            claim_attempt(tx, &config, "reset", Some(email.as_str()), (&client.addr, client.exempt), now)?;
            if let Some((customer, tag)) = store::reader_by_email(tx, email.as_str())? {
                let (token, hash) = auth::new_token();
                store::insert_reset(tx, customer, &hash, now, now + ttl)?;
                use crate::mail::words::{say, Lang, W};
                let lang = Lang::in_shop(tag.as_deref(), &locales);
                let body = say(lang, W::ResetBody, &[("code", &token), ("minutes", &(ttl / 60_000))]);
                // sealed until sent, then not kept (see crate::secrets, mail::REDACTED)
                let body = secrets.seal(body.as_bytes());
                let subject = say(lang, W::ResetSubject, &[]);
                mail::enqueue(tx, send, "password_reset", email.as_str(), &subject, &body, now)?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(data(StatusCode::ACCEPTED, &SentOut { sent: true }))
}

/// Set a new password with the code from the mail
///
/// Ends every session of the account and revokes the API keys it made. Throttled by client
/// address.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "customers", security(()),
    request_body = ResetIn,
    responses((status = 204, description = "the password is set"),
        BodyErrors, (status = 429, description = "rate_limited, with Retry-After", body = crate::openapi::ErrorBody), WriteErrors))]
pub async fn reset_password(
    State(app): State<AppState>,
    client: Client,
    JsonBody(body): JsonBody<ResetIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let password = checks.check("password", NewPassword::parse(&body.password));
    if body.token.is_empty() || body.token.len() > 128 {
        checks.error("token", "must be the code from the mail");
    }
    checks.finish()?;
    let password = password.expect("checked");
    // the reset codes are 256-bit random, but a client guessing them is still throttled,
    // by its address (the code names no account)
    let (config, addr) = (app.config.clone(), client.addr.clone());
    let attempt = app
        .db
        .writer
        .run(move |tx| claim_attempt(tx, &config, "reset", None, (&addr, client.exempt), now_ms()))
        .await?;
    let hash = auth::hash_password(&app.hasher, password.expose().to_owned()).await?;
    let token_hash = auth::token_hash(&body.token);
    let done = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            match store::use_reset(tx, &token_hash, now)? {
                Some(customer) => {
                    store::attempt_succeeded(tx, attempt)?;
                    store::set_password(tx, customer, &hash, now)?;
                    store::revoke_all_sessions(tx, customer, now)?;
                    // and the API keys the account made: whoever had the account may have
                    // made one to keep
                    tx.execute(
                        "UPDATE api_keys SET revoked_at = ?2 WHERE created_by = ?1 AND revoked_at IS NULL",
                        rusqlite::params![customer, now],
                    )?;
                    Ok::<_, ApiError>(true)
                }
                None => Ok(false),
            }
        })
        .await?;
    if done {
        Ok(no_content())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_token",
            "the reset code is wrong, used or expired",
        )
        .with_detail("token", "is wrong, used or expired"))
    }
}

/// The customer's profile
#[utoipa::path(get, path = "/api/me", tag = "customers", security(("bearer" = [])),
    responses((status = 200, description = "the profile", body = Data<CustomerOut>), AuthErrors))]
pub async fn me(State(app): State<AppState>, me: CustomerSession) -> Result<Response, ApiError> {
    let c = app.db.read(move |conn| store::customer(conn, me.customer_id).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &c.ok_or_else(|| ApiError::not_found("customer"))?))
}

/// Change the name or e-mail
///
/// A new e-mail needs `current_password` (reset codes go to the e-mail, so a stolen session
/// must not be able to move it); it ends every other session of the account. Wrong
/// passwords count against the login throttle of the account.
#[utoipa::path(patch, path = "/api/me", tag = "customers", security(("bearer" = [])),
    request_body = ProfileIn,
    responses((status = 200, description = "the profile", body = Data<CustomerOut>), AuthErrors, BodyErrors,
        (status = 403, description = "password_required: a new e-mail needs current_password; invalid_password: it is wrong", body = crate::openapi::ErrorBody),
        (status = 409, description = "email_taken", body = crate::openapi::ErrorBody),
        (status = 429, description = "rate_limited: too many wrong passwords (Retry-After)", body = crate::openapi::ErrorBody),
        WriteErrors))]
pub async fn update_me(
    State(app): State<AppState>,
    me: CustomerSession,
    JsonBody(body): JsonBody<ProfileIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let name = body.name.as_deref().and_then(|n| checks.check("name", text(n, 200, false)));
    let email = body.email.as_deref().and_then(|e| checks.check("email", Email::parse(e)));
    if body.current_password.as_ref().is_some_and(|p| p.is_empty() || p.len() > 1024) {
        checks.error("current_password", "must be 1 to 1024 characters");
    }
    let locales = app.live().locales.clone();
    let locale =
        body.locale.as_deref().and_then(|l| checks.check("locale", crate::domain::locale::of_customer(l, &locales)));
    let id = me.customer_id;
    let current = app.db.read(move |conn| store::password_of(conn, id).map_err(ApiError::from)).await?;
    let (hash, old_email) = current.ok_or_else(|| ApiError::not_found("customer"))?;
    let moving = email.as_ref().is_some_and(|e| !e.as_str().eq_ignore_ascii_case(&old_email));
    checks.finish()?;
    if moving && body.current_password.is_none() {
        // a re-authentication, not a malformed request: 403 like a wrong password
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_required",
            "changing the e-mail needs the account's current_password",
        )
        .with_detail("current_password", "is required to change the e-mail"));
    }
    let attempt = match moving {
        true => {
            let password = body.current_password.clone().unwrap_or_default();
            Some(
                check_password(
                    &app,
                    &old_email,
                    hash,
                    (&me.session.client_addr, me.session.client_exempt),
                    password,
                    "current_password",
                )
                .await?,
            )
        }
        false => None,
    };
    let session = me.session.id;
    let c = app
        .db
        .writer
        .run(move |tx| {
            let now = now_ms();
            if let Some(e) = &email {
                if store::customer_id_by_email(tx, e.as_str())?.is_some_and(|other| other != me.customer_id) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "email_taken",
                        "an account with this e-mail exists",
                    )
                    .with_detail("email", "is already registered"));
                }
            }
            store::update_customer(tx, me.customer_id, name.as_deref(), email.as_ref().map(|e| e.as_str()), now)?;
            if let Some(l) = &locale {
                store::set_locale(tx, me.customer_id, l.as_deref(), now)?;
            }
            if let Some(a) = attempt {
                store::attempt_succeeded(tx, a)?;
            }
            if moving {
                store::revoke_other_sessions(tx, me.customer_id, session, now)?;
            }
            Ok(store::customer(tx, me.customer_id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &c.ok_or_else(|| ApiError::not_found("customer"))?))
}

/// The customer's saved addresses
#[utoipa::path(get, path = "/api/me/addresses", tag = "customers", security(("bearer" = [])),
    responses((status = 200, description = "the addresses", body = Data<Vec<AddressOut>>), AuthErrors))]
pub async fn addresses(State(app): State<AppState>, me: CustomerSession) -> Result<Response, ApiError> {
    let list = app.db.read(move |conn| store::addresses(conn, me.customer_id).map_err(ApiError::from)).await?;
    Ok(data(StatusCode::OK, &list))
}

/// Save an address
#[utoipa::path(post, path = "/api/me/addresses", tag = "customers", security(("bearer" = [])),
    request_body = AddressIn,
    responses((status = 201, description = "the saved address", body = Data<AddressOut>), AuthErrors, BodyErrors,
        (status = 409, description = "too_many_addresses", body = crate::openapi::ErrorBody), WriteErrors))]
pub async fn add_address(
    State(app): State<AppState>,
    me: CustomerSession,
    JsonBody(body): JsonBody<AddressIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let address = body.validate("", &mut checks);
    checks.finish()?;
    let address = address.expect("checked");
    let list = app
        .db
        .writer
        .run(move |tx| {
            if store::count_addresses(tx, me.customer_id)? >= store::MAX_ADDRESSES {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "too_many_addresses",
                    format!("at most {} addresses; delete one first", store::MAX_ADDRESSES),
                ));
            }
            let id = store::insert_address(tx, me.customer_id, &address, now_ms())?;
            let all = store::addresses(tx, me.customer_id)?;
            Ok(all.into_iter().find(|a| a.id.0 == id))
        })
        .await?;
    Ok(data(StatusCode::CREATED, &list))
}

/// Delete a saved address
#[utoipa::path(delete, path = "/api/me/addresses/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "an address id")),
    responses((status = 204, description = "deleted"), AuthErrors, NotFound, WriteErrors))]
pub async fn delete_address(
    State(app): State<AppState>,
    me: CustomerSession,
    PathId(id, _): PathId<res::Address>,
) -> Result<Response, ApiError> {
    let done =
        app.db.writer.run(move |tx| store::delete_address(tx, me.customer_id, id).map_err(ApiError::from)).await?;
    if done {
        Ok(no_content())
    } else {
        Err(ApiError::not_found("address"))
    }
}
