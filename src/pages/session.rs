//! The pages' session: the same session token the JSON API takes as a bearer token, carried
//! by the `sf_session` cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when the client
//! reached the shop over TLS), and the CSRF token every personal page's form carries,
//! derived from it. (The front layer also refuses any page form posted from another site:
//! see `crate::web::context`.)

use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use sha2::Digest;

use crate::app::AppState;
use crate::auth::Session;
use crate::error::ApiError;

pub const COOKIE: &str = "sf_session";

/// The name of the CSRF field of a form.
pub const CSRF_FIELD: &str = "csrf";

/// The token of the request's `sf_session` cookie, if it has a sane one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    crate::http::cookies(headers, COOKIE).next().map(str::to_owned).filter(|v| {
        !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// `Set-Cookie` for a session token living `max_age_secs`.
pub fn set_cookie(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("a token is visible ASCII")
}

/// `Set-Cookie` that ends the session's cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}")).expect("ASCII")
}

/// A session's CSRF token: a hash of its secret token (a page on another site can read
/// neither), the same for every form of the session.
pub fn csrf_token(session_token: &str) -> String {
    let h = sha2::Sha256::digest(format!("storefront csrf\0{session_token}").as_bytes());
    h[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A form whose only field is its CSRF token (a button that does one thing).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

/// A form's CSRF field checked against the session's: 403 `csrf_failed` otherwise.
pub fn check_csrf(session_token: Option<&str>, sent: Option<&str>) -> Result<(), ApiError> {
    let ok = match (session_token, sent) {
        (Some(t), Some(s)) => {
            let want = csrf_token(t);
            want.len() == s.len() && want.bytes().zip(s.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "this form has expired or did not come from this shop; go back, reload the page and try again",
        ))
    }
}

/// A page request's session: its cookie's token, authenticated exactly as the API
/// authenticates a bearer token. No cookie, or one whose session ended: none.
pub struct PageSession {
    pub session: Option<Session>,
    pub token: Option<String>,
    /// the cookie to send back is `Secure`
    pub secure: bool,
    /// the request carried a cookie whose session has ended (the page clears it)
    pub stale_cookie: bool,
    /// the language of the shop's own words on the page (see [`super::words`])
    pub words: super::words::Lang,
    /// its tag, for the page's `lang`
    pub lang: String,
}

impl PageSession {
    pub fn csrf(&self) -> String {
        self.token.as_deref().map(csrf_token).unwrap_or_default()
    }
}

/// The session of `token`, as the API's extractor finds it (the caller's parts give the
/// client's address).
pub async fn authenticate(parts: &mut Parts, app: &AppState, token: &str) -> Result<Option<Session>, ApiError> {
    parts.extensions.remove::<Session>();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ApiError::internal())?;
    parts.headers.insert(header::AUTHORIZATION, bearer);
    let found = Session::from_request_parts(parts, app).await;
    parts.headers.remove(header::AUTHORIZATION);
    match found {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(None),
        Err(e) => Err(e),
    }
}

impl FromRequestParts<AppState> for PageSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<PageSession, ApiError> {
        let secure = app.clients.over_tls(parts);
        let (words, lang) = super::shop::page_language(app, &parts.headers);
        // pages take their session from the cookie only
        if parts.headers.contains_key(header::AUTHORIZATION) {
            parts.headers.remove(header::AUTHORIZATION);
        }
        let Some(token) = cookie_token(&parts.headers) else {
            return Ok(PageSession { session: None, token: None, secure, stale_cookie: false, words, lang });
        };
        match authenticate(parts, app, &token).await? {
            Some(s) => {
                Ok(PageSession { session: Some(s), token: Some(token), secure, stale_cookie: false, words, lang })
            }
            None => Ok(PageSession { session: None, token: None, secure, stale_cookie: true, words, lang }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_among_others_and_odd_values_are_not() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; sf_session=abcDEF_12-3; sf_commit=9"));
        assert_eq!(cookie_token(&h).as_deref(), Some("abcDEF_12-3"));
        h.insert(header::COOKIE, HeaderValue::from_static("sf_session=\"quoted\""));
        assert_eq!(cookie_token(&h), None);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        assert!(check_csrf(Some("t1"), Some(&csrf_token("t1"))).is_ok());
        assert!(check_csrf(Some("t1"), Some(&csrf_token("t2"))).is_err());
        assert!(check_csrf(Some("t1"), None).is_err());
        assert!(check_csrf(None, Some(&csrf_token("t1"))).is_err());
    }
}
