//! A routed request against its route's rate-limit rule (declared in the route table):
//! keyed by the client's address (IPv6 by its /64) and by the bearer token's session, and
//! the `RateLimit` fields every answer of a limited route carries (see [`crate::limits`]
//! for the mechanism and the quotas).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response};

use crate::app::AppState;
use crate::limits::{address_key, Dim, Rule, Verdict};

/// What a request is counted as: its client's address and its session.
pub struct Keys {
    address: Option<String>,
    token: Option<String>,
}

impl Keys {
    pub fn of(req: &Request) -> Keys {
        // the operator's own requests are not counted per address
        let address = crate::http::client::client_of(req).filter(|c| !c.exempt).map(|c| address_key(c.ip));
        Keys { address, token: token_key(req.headers()) }
    }
}

/// Checks a request with these keys against `rule`; `None` when limits are off.
pub async fn check(app: &AppState, rule: Rule, k: Keys) -> Option<Verdict> {
    let (address, token) = (k.address, k.token);
    let mut keys: Vec<(Dim, &str)> = Vec::with_capacity(2);
    if let Some(a) = &address {
        keys.push((Dim::Address, a));
    }
    if let Some(t) = &token {
        keys.push((Dim::Account, t));
    }
    let verdict = app.limits.check(rule, &keys).await;
    if verdict.is_some_and(|v| !v.allowed) {
        app.metrics.rate_limited(rule.name());
    }
    verdict
}

/// The key of a bearer token's session: a digest, so the limiter never holds a secret.
fn token_key(headers: &axum::http::HeaderMap) -> Option<String> {
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer "))?.trim();
    if token.is_empty() {
        return None;
    }
    let d = crate::auth::token_hash(token);
    Some(d[..12].iter().map(|b| format!("{b:02x}")).collect())
}

/// `RateLimit` and `RateLimit-Policy` (the IETF httpapi draft's fields) of the tightest
/// quota the request was checked against.
pub fn set_headers(resp: &mut Response<Body>, v: &Verdict) {
    let h = resp.headers_mut();
    if let Ok(value) =
        HeaderValue::from_str(&format!("limit={}, remaining={}, reset={}", v.limit, v.remaining, v.reset_secs))
    {
        h.insert("ratelimit", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{};w={}", v.limit, v.window_secs)) {
        h.insert("ratelimit-policy", value);
    }
}
