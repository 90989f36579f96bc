//! The one middleware every request passes: it gives the request an id (the client's
//! `X-Request-Id` when it sent a sane one), runs the handler inside a tracing span that
//! carries the id, renders every error as the JSON envelope of the contract (including
//! errors axum produces itself, like 404 for an unknown route or 405), stamps the id on the
//! response and writes one access-log line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::Response;
use axum::middleware::Next;
use tracing::Instrument;

use crate::error::ApiError;

pub const REQUEST_ID: &str = "x-request-id";

/// The commit position of a write's answer (API.md: read-your-writes).
pub const COMMIT_HEADER: &str = "x-storefront-commit";

/// The id of the request being served (an extension of the request).
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

fn process_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        crate::util::Rng::new(t ^ ((std::process::id() as u64) << 32)).next_u64()
    })
}

pub(crate) fn next_request_id() -> HeaderValue {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // 16 hex digits of the process prefix, 8 of the counter (no formatting machinery: this
    // runs for every request, cache hits included)
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 24];
    let (p, n) = (process_prefix(), n as u32);
    for (i, b) in id[..16].iter_mut().enumerate() {
        *b = HEX[((p >> (60 - 4 * i)) & 0xf) as usize];
    }
    for (i, b) in id[16..].iter_mut().enumerate() {
        *b = HEX[((n >> (28 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).expect("hex digits make a valid header")
}

/// A client-sent id is kept when it is 1–128 visible ASCII characters.
pub(crate) fn client_request_id(v: &HeaderValue) -> Option<HeaderValue> {
    let b = v.as_bytes();
    (!b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())).then(|| v.clone())
}

pub async fn request_context(
    axum::extract::State(app): axum::extract::State<crate::app::AppState>,
    mut req: Request,
    next: Next,
) -> Response<Body> {
    let started = Instant::now();
    let id = req.headers().get(REQUEST_ID).and_then(client_request_id).unwrap_or_else(next_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = crate::routes::template(req.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str()));
    let client = crate::http::client::client_ip(&req);
    let id_str = id.to_str().unwrap_or("-").to_owned();
    let span = tracing::info_span!("request", request_id = %id_str, method = %method, path = %path);

    // every request but an upload (which may take long while it keeps coming) is bounded
    let limit = std::time::Duration::from_secs(app.config.request_timeout_secs);
    let mut resp = if route == "/api/admin/imports" {
        next.run(req).instrument(span.clone()).await
    } else {
        match tokio::time::timeout(limit, next.run(req).instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => {
                let mut e = ApiError::unavailable("the request took too long; retry shortly", 1);
                e.code = "timeout";
                axum::response::IntoResponse::into_response(e)
            }
        }
    };

    let status = resp.status();
    if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
        // headers set on the way out (e.g. the RateLimit fields) stay
        let kept = std::mem::take(resp.headers_mut());
        resp = error_response(&err, &id_str);
        for (name, value) in kept.iter() {
            if !resp.headers().contains_key(name) && name != header::CONTENT_LENGTH {
                resp.headers_mut().insert(name.clone(), value.clone());
            }
        }
    } else if (status.is_client_error() || status.is_server_error())
        && resp.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()) != Some(b"application/json")
    {
        // An error made outside our handlers (unknown route, wrong method, extractor
        // rejection): give it the envelope too.
        resp = error_response(&ApiError::from_status(status), &id_str);
    }
    resp.headers_mut().insert(REQUEST_ID, id);
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD && resp.status().is_success() {
        // read-your-writes: the position this write is committed at (or later); a read
        // that presents it is answered from a copy at least that far
        let position = app.db.writer.position();
        let h = resp.headers_mut();
        h.insert(COMMIT_HEADER, HeaderValue::from(position));
        if let Ok(cookie) = HeaderValue::from_str(&format!("sf_commit={position}; Path=/; SameSite=Lax")) {
            h.append(header::SET_COOKIE, cookie);
        }
    }
    let took = started.elapsed();
    record(
        &app,
        &method,
        Entry { request_id: &id_str, route, path: &path, status: resp.status().as_u16(), duration: took, client },
    );
    let _enter = span.enter();
    let micros = took.as_micros() as u64;
    // a 503 from /ready is its answer (not ready: starting, lagging, draining), asked for
    // every second or two by each balancer: not a failure to log
    if resp.status().is_server_error() && route != "/ready" {
        tracing::warn!(status = resp.status().as_u16(), micros, "request failed");
    } else {
        tracing::debug!(status = resp.status().as_u16(), micros, "request");
    }
    resp
}

/// One answered request: counted in the metrics and, when the access log is on, a line
/// there (every way a request is answered: the router, the cache fast path, a replica's
/// forwarding).
pub(crate) fn record(app: &crate::app::App, method: &axum::http::Method, e: Entry<'_>) {
    app.metrics.request(method, e.route, e.status, e.duration);
    if let Some(log) = &app.access_log {
        log.log(&e.line(method.as_str()));
    }
}

/// What [`record`] takes of a request.
pub(crate) struct Entry<'a> {
    pub request_id: &'a str,
    pub route: &'static str,
    pub path: &'a str,
    pub status: u16,
    pub duration: std::time::Duration,
    pub client: Option<std::net::IpAddr>,
}

impl<'a> Entry<'a> {
    fn line(&self, method: &'a str) -> crate::http::access_log::Entry<'a> {
        crate::http::access_log::Entry {
            request_id: self.request_id,
            method,
            route: self.route,
            path: self.path,
            status: self.status,
            duration: self.duration,
            client: self.client,
        }
    }
}

/// The envelope for `err`, with the headers errors carry.
pub fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(err.body(request_id)));
    *resp.status_mut() = err.status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(secs) = err.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

impl axum::response::IntoResponse for ApiError {
    /// The body is rendered by [`request_context`], which knows the request id.
    fn into_response(self) -> axum::response::Response {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = self.status;
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The fast path for cache hits, ahead of the router: a GET of a catalog resource whose
/// exact target (path and query) has a fresh cached response is answered from it without
/// routing, extractors or middleware. Only validated requests ever filled the cache, so a
/// hit answers exactly what the full path would; anything else goes on to the router.
pub async fn cached_hit<B>(
    state: &crate::app::AppState,
    req: &axum::http::Request<B>,
    peer: std::net::SocketAddr,
) -> Option<Response<Body>> {
    if req.method() != axum::http::Method::GET || !state.cache.enabled() {
        return None;
    }
    let started = Instant::now();
    let path = req.uri().path();
    if !crate::routes::cached_prefixes().iter().any(|p| path.starts_with(p.as_str())) {
        return None;
    }
    let key = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let entry = state.cache.fresh_hit(key).await?;
    let neg = crate::http::Negotiation::from_headers(req.headers());
    let mut resp = crate::catalog::handlers::respond_cached(state, &entry.rendered, &neg, crate::cache::Served::HitL1);
    let id = req.headers().get(REQUEST_ID).and_then(client_request_id).unwrap_or_else(next_request_id);
    let route = crate::routes::path_template(path);
    let client = Some(crate::http::client::resolve(peer, req.headers(), &state.trusted_proxies));
    let line = Entry {
        request_id: id.to_str().unwrap_or("-"),
        route,
        path,
        status: resp.status().as_u16(),
        duration: started.elapsed(),
        client,
    };
    record(state, req.method(), line);
    resp.headers_mut().insert(REQUEST_ID, id);
    Some(resp)
}
