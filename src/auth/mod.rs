//! Authentication, below every domain: tokens, passwords, sessions, API keys and the
//! two-factor requirement, with the extractors `customers`, `admin`, the other domains and
//! the front layer use.
//!
//! - A session token is 32 random bytes (URL-safe base64); the database keeps only its
//!   SHA-256, so a copy of the database grants no session. Revoking sets `revoked_at`.
//! - Passwords are hashed with argon2id (the crate's defaults: 19 MiB, 2 passes) on the
//!   blocking pool, at most [`HASHING_AT_ONCE`] at a time so a burst of logins cannot
//!   exhaust memory or starve the async workers.
//! - [`Session`] authenticates any bearer token (guest or customer); [`CustomerSession`]
//!   also requires a logged-in customer; [`AdminSession`] the `admin` role, and of an API
//!   key ([`api_keys`]) the scope of the route's area.

use std::net::SocketAddr;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

pub mod api_keys;
mod store;

use crate::app::AppState;
use crate::error::{ApiError, StoreError};
use crate::util::now_ms;

/// Password hashes computed at once (each takes ~19 MiB and one core for tens of ms).
pub const HASHING_AT_ONCE: usize = 2;

/// `last_seen` is written at most this often per session (a write per request would make
/// every authenticated read a write).
const TOUCH_EVERY_MS: i64 = 60_000;

/// A new random token and the hash the database keeps.
pub fn new_token() -> (String, [u8; 32]) {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        // a session token never reads as an API key (they are told apart by the prefix)
        if token.starts_with(api_keys::PREFIX) {
            continue;
        }
        let hash = token_hash(&token);
        return (token, hash);
    }
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Where password hashes wait their turn: [`HASHING_AT_ONCE`] run, at most `queue` wait,
/// and any more are refused at once (503 + Retry-After) — a flood of logins then costs
/// the flood, not every other customer's login.
pub struct Hasher {
    permits: Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    queue: usize,
}

impl Hasher {
    pub fn new(queue: usize) -> Hasher {
        Hasher { permits: Semaphore::new(HASHING_AT_ONCE), waiting: Default::default(), queue }
    }

    /// Takes one hashing slot until the permit is dropped: a fault injected by tests (a
    /// burst that holds every slot).
    pub async fn occupy(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.permits.acquire().await.expect("the hashing semaphore is never closed")
    }

    /// Runs an argon2 computation on the blocking pool, bounded.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        use std::sync::atomic::Ordering;
        let permit = match self.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!(queue = self.queue, "password hashing queue full; refusing");
                    return Err(ApiError::unavailable("too many sign-ins at once; retry shortly", 2));
                }
                let p = self.permits.acquire().await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                p.map_err(|_| ApiError::unavailable("shutting down", 5))?
            }
        };
        let out = tokio::task::spawn_blocking(f).await.map_err(|e| {
            tracing::error!(error = %e, "password hashing task failed");
            ApiError::internal()
        });
        drop(permit);
        out
    }
}

pub async fn hash_password(hasher: &Hasher, password: String) -> Result<String, ApiError> {
    hasher
        .run(move || {
            let mut raw = [0u8; 16];
            getrandom::fill(&mut raw).expect("the operating system's random source is available");
            let salt = SaltString::encode_b64(&raw)?;
            Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "hashing a password failed");
            ApiError::internal()
        })
}

/// Checks `password` against a stored hash. With no hash (unknown account) it checks a
/// dummy one, so the answer takes as long either way and reveals nothing.
pub async fn verify_password(hasher: &Hasher, password: String, stored: Option<String>) -> Result<bool, ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    hasher
        .run(move || {
            let dummy = DUMMY.get_or_init(|| {
                let salt = SaltString::encode_b64(b"storefront-dummy").expect("a fixed valid salt");
                Argon2::default().hash_password(b"no account", &salt).expect("hashing a constant").to_string()
            });
            let (phc, real) = match &stored {
                Some(s) => (s.as_str(), true),
                None => (dummy.as_str(), false),
            };
            let ok = PasswordHash::new(phc)
                .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
                .unwrap_or(false);
            ok && real
        })
        .await
}

/// The client's address as the server saw it.
pub fn client_addr(parts: &Parts) -> String {
    match parts.extensions.get::<crate::http::client::ClientAddr>() {
        Some(c) => c.ip.to_string(),
        None => parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default(),
    }
}

/// Whether the client is one of the operator's own (`limit_exempt`): not held to
/// per-address bounds.
pub fn client_exempt(parts: &Parts) -> bool {
    parts.extensions.get::<crate::http::client::ClientAddr>().is_some_and(|c| c.exempt)
}

/// `User-Agent`, cut to a sane length: how a session's device is shown.
pub fn device(parts: &Parts) -> String {
    let ua = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    ua.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Guest,
    Customer,
    Admin,
}

/// An authenticated bearer token.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub role: Role,
    pub client_addr: String,
    /// the client is one of the operator's own ([`client_exempt`])
    pub client_exempt: bool,
    /// the customer has two-factor login enabled
    pub two_factor: bool,
    /// this session was opened with a second factor (or turned it on)
    pub second_factor: bool,
    /// set when the bearer is an API key (see [`api_keys`]): its id and
    /// scopes; `customer_id` is then the administrator who made it
    pub api_key: Option<(i64, Vec<String>)>,
}

impl Session {
    /// Whose idempotency keys and carts these are: the customer, or the guest session.
    pub fn owner_scope(&self) -> String {
        match self.customer_id {
            Some(c) => format!("c{c}"),
            None => format!("s{}", self.id),
        }
    }
}

fn unauthenticated(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("unauthenticated", "send Authorization: Bearer <token>"))?;
    let value = value.to_str().map_err(|_| unauthenticated("invalid_token", "the token is not valid"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 128 {
        return Err(unauthenticated("invalid_token", "send Authorization: Bearer <token>"));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Session, ApiError> {
        let session = authenticate(parts, app).await?;
        // the route's per-session quota, keyed by the session a real token names
        if let Some(crate::limits::AccountQuota(rule)) = parts.extensions.remove() {
            app.limits.check_account(&app.metrics, rule, &format!("s{}", session.id)).await?;
        }
        Ok(session)
    }
}

/// The session of the request's bearer token (once per request: it is kept in the
/// request's extensions).
async fn authenticate(parts: &mut Parts, app: &AppState) -> Result<Session, ApiError> {
    if let Some(s) = parts.extensions.get::<Session>() {
        return Ok(s.clone());
    }
    let token = bearer(parts)?;
    let hash = token_hash(token);
    let now = now_ms();
    if token.starts_with(api_keys::PREFIX) {
        return api_keys::authenticate(parts, app, hash, now).await;
    }
    let row = app.db.read(move |conn| store::session_by_token(conn, &hash).map_err(StoreError::from)).await?;
    let row = match row {
        Some(r) if r.revoked_at.is_none() && r.expires_at > now => r,
        _ => return Err(unauthenticated("invalid_token", "the token is expired, revoked or unknown")),
    };
    if now - row.last_seen_at > TOUCH_EVERY_MS {
        // best effort and off the request's path: a lost touch only ages `last_seen`
        let writer = app.db.writer.clone();
        let id = row.id;
        tokio::spawn(async move {
            let _ = writer.run(move |tx| store::touch_session(tx, id, now).map_err(StoreError::from)).await;
        });
    }
    let role = match (row.customer_id, row.role.as_deref()) {
        (None, _) => Role::Guest,
        (Some(_), Some("admin")) => Role::Admin,
        (Some(_), _) => Role::Customer,
    };
    let session = Session {
        id: row.id,
        customer_id: row.customer_id,
        role,
        client_addr: client_addr(parts),
        client_exempt: client_exempt(parts),
        two_factor: row.two_factor,
        second_factor: row.second_factor,
        api_key: None,
    };
    parts.extensions.insert(session.clone());
    Ok(session)
}

/// A session of a logged-in customer (a guest token is refused with 401).
#[derive(Debug, Clone)]
pub struct CustomerSession {
    pub session: Session,
    pub customer_id: i64,
}

impl FromRequestParts<AppState> for CustomerSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<CustomerSession, ApiError> {
        let session = Session::from_request_parts(parts, app).await?;
        match session.customer_id {
            Some(customer_id) => Ok(CustomerSession { session, customer_id }),
            None => Err(unauthenticated("login_required", "log in as a customer to use this")),
        }
    }
}

/// A session of an administrator (others get 403).
#[derive(Debug, Clone)]
pub struct AdminSession(pub CustomerSession);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<AdminSession, ApiError> {
        let c = CustomerSession::from_request_parts(parts, app).await?;
        if c.session.role != Role::Admin {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs the admin role"));
        }
        match &c.session.api_key {
            // a key may do what its scopes allow on this route, nothing else
            Some((_, scopes)) => {
                let write = !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
                api_keys::allowed(scopes, api_keys::access_of(parts), write)?;
            }
            None if app.live().admin_require_2fa && !c.session.second_factor => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "two_factor_required",
                    "administrators must use a session opened with a second factor: turn two-factor login on \
                     (POST /api/auth/2fa/setup, then /enable) or log in again with a code",
                ));
            }
            None => {}
        }
        Ok(AdminSession(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(token_hash(&a), ha);
        assert_eq!(a.len(), 43);
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_accounts_never_do() {
        let hasher = Hasher::new(4);
        let h = hash_password(&hasher, "correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&hasher, "correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify_password(&hasher, "wrong horse".into(), Some(h)).await.unwrap());
        assert!(!verify_password(&hasher, "no account".into(), None).await.unwrap());
        assert!(!verify_password(&hasher, "x".into(), Some("not a hash".into())).await.unwrap());
    }
}
