//! A routed request against its route's rate-limit rule (declared in the route table):
//! keyed here by the client's address (IPv6 by its /64); the per-session quota is charged
//! once the bearer token is authenticated (the `Session` extractor, see
//! [`crate::limits::AccountQuota`]), so a made-up token is never a key. And the `RateLimit`
//! fields every answer of a limited route carries (see [`crate::limits`] for the mechanism
//! and the quotas).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response};

use crate::app::AppState;
use crate::limits::{address_key, Dim, Rule, Verdict};

/// What a request is counted as before it is authenticated: its client's address.
pub struct Keys {
    address: Option<String>,
}

impl Keys {
    pub fn of(req: &Request) -> Keys {
        crate::http::client::client_of(req).map_or(Keys { address: None }, Keys::for_client)
    }

    pub fn for_client(client: crate::http::client::ClientAddr) -> Keys {
        // the operator's own requests are not counted per address
        Keys { address: (!client.exempt).then(|| address_key(client.ip)) }
    }

    /// A write a replica forwards, counted on the replica under keys of their own (the
    /// primary counts it again under its keys: shared through Redis, the two do not add up
    /// to half a quota).
    pub fn forwarded(client: crate::http::client::ClientAddr) -> Keys {
        Keys { address: (!client.exempt).then(|| format!("replica:{}", address_key(client.ip))) }
    }
}

/// Checks a request with these keys against `rule`; `None` when limits are off.
pub async fn check(app: &AppState, rule: Rule, k: Keys) -> Option<Verdict> {
    let keys: Vec<(Dim, &str)> = k.address.as_deref().map(|a| (Dim::Address, a)).into_iter().collect();
    let verdict = app.limits.check(rule, &keys).await;
    if verdict.is_some_and(|v| !v.allowed) {
        app.metrics.rate_limited(rule.name());
    }
    verdict
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
