//! Two-factor login: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of
//! clock drift either way) and single-use recovery codes.
//!
//! `setup` makes a secret (shown once, with an `otpauth://` URL for authenticator apps);
//! `enable` takes a first good code and answers ten recovery codes (shown once, kept as
//! SHA-256 hashes); from then on `login` needs `otp` — a current code, or a recovery code
//! — and answers 401 `otp_required` without it. A code works once: the step it belongs to
//! is remembered, and an older or equal step is refused. `disable` needs a code and the
//! password. Wrong codes count against the account's failed-login throttle.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;

use super::auth::{self, CustomerSession};
use super::store;
use crate::app::AppState;
use crate::db::writer::WriteTx;
use crate::error::ApiError;
use crate::http::respond::data;
use crate::http::JsonBody;
use crate::openapi::{AuthErrors, BodyErrors, Data, ErrorBody, WriteErrors};
use crate::util::now_ms;

const STEP: u64 = 30;
const ISSUER: &str = "Storefront";
const RECOVERY_CODES: usize = 10;

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP, secret.to_vec())
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The step of `code` within one step of `now_secs`, if it is a good code newer than
/// `last_step`.
pub fn code_step(secret: &[u8], code: &str, now_secs: u64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret);
    let now = now_secs / STEP;
    (now.saturating_sub(1)..=now + 1)
        .filter(|s| *s as i64 > last_step)
        .find(|s| same(&t.generate(s * STEP), code))
        .map(|s| s as i64)
}

fn hash_code(code: &str) -> [u8; 32] {
    let normal: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    auth::token_hash(&normal)
}

/// The second factor of `customer`: `(secret, enabled, last_step)`.
pub fn state(conn: &Connection, customer: i64) -> rusqlite::Result<Option<(Vec<u8>, bool, i64)>> {
    conn.prepare_cached("SELECT secret, enabled_at IS NOT NULL, last_step FROM two_factor WHERE customer_id = ?1")?
        .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
}

/// Checks `otp` (a current code or an unused recovery code) for `customer` in the writer
/// unit and uses it up. `false` when it is wrong, used or old.
pub fn use_code(
    tx: &WriteTx,
    secrets: &crate::secrets::Sealer,
    customer: i64,
    otp: &str,
    now_ms: i64,
) -> Result<bool, ApiError> {
    let Some((sealed, true, last)) = state(tx, customer)? else { return Ok(false) };
    let secret = secrets.open(&sealed)?;
    if let Some(step) = code_step(&secret, otp, (now_ms / 1000) as u64, last) {
        tx.prepare_cached("UPDATE two_factor SET last_step = ?2 WHERE customer_id = ?1")?
            .execute(params![customer, step])?;
        return Ok(true);
    }
    let n = tx
        .prepare_cached(
            "UPDATE recovery_codes SET used_at = ?3 WHERE customer_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        )?
        .execute(params![customer, &hash_code(otp)[..], now_ms])?;
    Ok(n == 1)
}

#[derive(Serialize, ToSchema)]
pub struct SetupOut {
    /// the shared secret, base32 (for typing into an authenticator)
    secret: String,
    /// the same as an `otpauth://totp/…` URL (for a QR code)
    otpauth_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeIn {
    /// a 6-digit code from the authenticator
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableIn {
    /// a current code or a recovery code
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct EnabledOut {
    enabled: bool,
    /// single-use codes for when the authenticator is lost; shown only in this answer
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recovery_codes: Vec<String>,
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

fn wrong_code() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "invalid_code", "the code is wrong, used or expired")
}

/// Start two-factor login
///
/// Makes a new secret (replacing one not yet enabled). 409 `two_factor_enabled` when it
/// is on already.
#[utoipa::path(post, path = "/api/auth/2fa/setup", tag = "customers", security(("bearer" = [])),
    responses((status = 200, description = "the secret, shown this once", body = Data<SetupOut>), AuthErrors,
        (status = 409, description = "two_factor_enabled", body = ErrorBody), WriteErrors))]
pub async fn setup(State(app): State<AppState>, me: CustomerSession) -> Result<Response, ApiError> {
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).expect("the operating system's random source is available");
    let id = me.customer_id;
    // kept sealed (see crate::secrets): a copy of the database does not give it away
    let sealed = app.secrets.seal(&secret);
    let email = app
        .db
        .writer
        .run(move |tx| {
            if matches!(state(tx, id)?, Some((_, true, _))) {
                return Err(conflict("two_factor_enabled", "two-factor login is on; disable it first"));
            }
            tx.execute(
                "INSERT INTO two_factor(customer_id, secret, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(customer_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = excluded.created_at",
                params![id, sealed.as_bytes(), now_ms()],
            )?;
            Ok(store::customer(tx, id)?.map(|c| c.email).unwrap_or_default())
        })
        .await?;
    let b32 = totp(&secret).get_secret_base32();
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let url = format!(
        "otpauth://totp/{}:{}?secret={b32}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        enc(ISSUER),
        enc(&email),
        enc(ISSUER)
    );
    Ok(data(StatusCode::OK, &SetupOut { secret: b32, otpauth_url: url }))
}

/// Turn two-factor login on
///
/// With a first good code; answers the recovery codes (shown this once). Every other session
/// of the account ends (they were opened without a second factor); this one counts as opened
/// with one.
#[utoipa::path(post, path = "/api/auth/2fa/enable", tag = "customers", security(("bearer" = [])),
    request_body = CodeIn,
    responses((status = 200, description = "on, with recovery codes", body = Data<EnabledOut>), AuthErrors, BodyErrors,
        (status = 403, description = "invalid_code", body = ErrorBody),
        (status = 409, description = "two_factor_enabled, or two_factor_not_set_up (call setup first)", body = ErrorBody),
        WriteErrors))]
pub async fn enable(
    State(app): State<AppState>,
    me: CustomerSession,
    JsonBody(body): JsonBody<CodeIn>,
) -> Result<Response, ApiError> {
    let id = me.customer_id;
    let session = me.session.id;
    let secrets = app.secrets.clone();
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<[u8; 32]> = codes.iter().map(|c| hash_code(c)).collect();
    app.db
        .writer
        .run(move |tx| {
            let (sealed, enabled, last) =
                state(tx, id)?.ok_or_else(|| conflict("two_factor_not_set_up", "call /api/auth/2fa/setup first"))?;
            let secret = secrets.open(&sealed)?;
            if enabled {
                return Err(conflict("two_factor_enabled", "two-factor login is on already"));
            }
            let now = now_ms();
            let step = code_step(&secret, &body.code, (now / 1000) as u64, last).ok_or_else(wrong_code)?;
            tx.execute(
                "UPDATE two_factor SET enabled_at = ?2, last_step = ?3 WHERE customer_id = ?1",
                params![id, now, step],
            )?;
            tx.execute("DELETE FROM recovery_codes WHERE customer_id = ?1", [id])?;
            for h in &hashes {
                tx.execute("INSERT INTO recovery_codes(customer_id, code_hash) VALUES (?1, ?2)", params![id, &h[..]])?;
            }
            // this session has just shown a code; every other one was opened without one
            tx.execute("UPDATE sessions SET second_factor = 1 WHERE id = ?1", [session])?;
            super::store::revoke_other_sessions(tx, id, session, now)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(data(StatusCode::OK, &EnabledOut { enabled: true, recovery_codes: codes }))
}

/// Turn two-factor login off
///
/// Needs a code (or a recovery code) and the password; wrong ones count against the
/// account's failed-login throttle.
#[utoipa::path(post, path = "/api/auth/2fa/disable", tag = "customers", security(("bearer" = [])),
    request_body = DisableIn,
    responses((status = 200, description = "off", body = Data<EnabledOut>), AuthErrors, BodyErrors,
        (status = 403, description = "invalid_code or invalid_password", body = ErrorBody),
        (status = 409, description = "two_factor_not_enabled", body = ErrorBody),
        (status = 429, description = "rate_limited: too many wrong codes or passwords (Retry-After)", body = ErrorBody),
        WriteErrors))]
pub async fn disable(
    State(app): State<AppState>,
    me: CustomerSession,
    JsonBody(body): JsonBody<DisableIn>,
) -> Result<Response, ApiError> {
    let id = me.customer_id;
    let current = app.db.read(move |c| store::password_of(c, id).map_err(ApiError::from)).await?;
    let (hash, email) = current.ok_or_else(|| ApiError::not_found("customer"))?;
    let on = app.db.read(move |c| state(c, id).map_err(ApiError::from)).await?;
    if !matches!(on, Some((_, true, _))) {
        return Err(conflict("two_factor_not_enabled", "two-factor login is off"));
    }
    let attempt = super::handlers::check_password(
        &app,
        &email,
        hash,
        (&me.session.client_addr, me.session.client_exempt),
        body.password,
        "password",
    )
    .await?;
    let (code, secrets) = (body.code, app.secrets.clone());
    app.db
        .writer
        .run(move |tx| {
            if !use_code(tx, &secrets, id, &code, now_ms())? {
                return Err(wrong_code());
            }
            store::attempt_succeeded(tx, attempt)?;
            tx.execute("DELETE FROM two_factor WHERE customer_id = ?1", [id])?;
            tx.execute("DELETE FROM recovery_codes WHERE customer_id = ?1", [id])?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(data(StatusCode::OK, &EnabledOut { enabled: false, recovery_codes: Vec::new() }))
}

/// `xxxx-xxxx-xxxx` of lowercase letters and digits (60 bits).
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut raw = [0u8; 12];
    getrandom::fill(&mut raw).expect("the operating system's random source is available");
    let chars: Vec<char> = raw.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!(
        "{}-{}-{}",
        chars[..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..].iter().collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_the_rfc_and_of_this_step_only_once() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits
        let secret = b"12345678901234567890";
        assert_eq!(totp(secret).generate(59), "287082");
        assert_eq!(totp(secret).generate(1_111_111_109), "081804");
        assert_eq!(code_step(secret, "287082", 59, 0), Some(1));
        assert_eq!(code_step(secret, "287082", 59, 1), None, "a used step is refused");
        assert_eq!(code_step(secret, "287082", 59 + 30, 0), Some(1), "one step of drift");
        assert_eq!(code_step(secret, "287082", 59 + 90, 0), None, "older is refused");
        assert_eq!(code_step(secret, "28708", 59, 0), None);
        assert_eq!(code_step(secret, "abcdef", 59, 0), None);
        let r = recovery_code();
        assert_eq!(r.len(), 14);
        assert_eq!(hash_code(&r), hash_code(&r.to_uppercase().replace('-', " ")));
    }
}
