//! The one middleware every routed request passes. It finds the route's policy and
//! applies it: gives the request an id (the client's `X-Request-Id` when it sent a sane
//! one), tells the session extractor what an API key may do here and the body reader how
//! large a body may be, checks the route's rate-limit rule, bounds the handler's time;
//! then renders every error as the JSON envelope of the contract (including errors axum
//! produces itself, like 404 for an unknown route or 405), stamps the id and a write's
//! commit position on the answer, and records it (metrics, access log).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, Response};
use axum::middleware::Next;
use tracing::Instrument;

use super::policy::{self, BodyLimit, Kind, Timeout};
use crate::app::{App, AppState};
use crate::auth::api_keys::KeyAccess;
use crate::error::ApiError;
use crate::http::body::{MaxBody, MAX_BODY};
use crate::http::request_id::{self, RequestId, COMMIT_HEADER, REQUEST_ID};

pub async fn request_context(State(app): State<AppState>, mut req: Request, next: Next) -> Response<Body> {
    let started = Instant::now();
    let id = request_id::of_request(req.headers());
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().and_then(|m| policy::routes().of_template(m.as_str()));
    let policy = route.and_then(|r| r.policy(&method)).copied();
    let template = route.map_or("unmatched", |r| r.template);
    let path = req.uri().path().to_owned();
    let accept = req.headers().get(header::ACCEPT).cloned();
    // a page's errors are pages too: a known page route, or an address no route serves
    // asked for by a browser
    let page = match policy {
        Some(p) => p.kind == Kind::Page,
        None => !path.starts_with("/api/") && wants_html(&accept),
    };
    // what an error page needs to speak the shopper's language: its cookies and
    // `Accept-Language` (a page's only)
    let speaks = page.then(|| {
        let h = req.headers();
        (h.get(header::COOKIE).cloned(), h.get(header::ACCEPT_LANGUAGE).cloned())
    });
    let client = crate::http::client::client_of(&req).map(|c| c.ip);
    let id_str = id.to_str().unwrap_or("-").to_owned();
    let span = tracing::info_span!("request", request_id = %id_str, method = %method, path = %path);

    let ext = req.extensions_mut();
    ext.insert(RequestId(id.clone()));
    // what the extractors read of the policy, where it is not their default (each
    // extension is an allocation on every request of the route)
    if let Some(keys) = policy.map(|p| p.keys).filter(|k| *k != KeyAccess::NotAdmin) {
        ext.insert(keys);
    }
    if let Some(BodyLimit::Json(max)) = policy.map(|p| p.body).filter(|b| *b != BodyLimit::Json(MAX_BODY)) {
        ext.insert(MaxBody(max));
    }
    // a page's form posted from another site's page is refused before anything else
    let forged = policy.is_some_and(|p| p.kind == Kind::Page)
        && method != Method::GET
        && method != Method::HEAD
        && cross_site(req.headers());
    let limited = match policy.and_then(|p| p.rate).filter(|_| !forged) {
        Some(rule) => {
            // the per-session quota, charged once the token is authenticated
            req.extensions_mut().insert(crate::limits::AccountQuota(rule));
            Some((rule, super::limits::check(&app, rule, super::limits::Keys::of(&req)).await))
        }
        None => None,
    };
    let mut resp = match limited {
        _ if forged => axum::response::IntoResponse::into_response(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "cross_site_form",
            "this form was sent from another site; the shop takes its forms only from its own pages",
        )),
        Some((rule, Some(v))) if !v.allowed => {
            let mut resp = axum::response::IntoResponse::into_response(crate::limits::refused(rule, &v));
            super::limits::set_headers(&mut resp, &v);
            resp
        }
        _ => {
            let run = next.run(req).instrument(span.clone());
            let mut resp = match policy.map_or(Timeout::Request, |p| p.timeout) {
                // an upload may take long while it keeps coming (its idle time is bounded)
                Timeout::Streamed => run.await,
                Timeout::Request => {
                    match tokio::time::timeout(Duration::from_secs(app.config.request_timeout_secs), run).await {
                        Ok(r) => r,
                        Err(_) => {
                            let mut e = ApiError::unavailable("the request took too long; retry shortly", 1);
                            e.code = "timeout";
                            axum::response::IntoResponse::into_response(e)
                        }
                    }
                }
            };
            if let Some((_, Some(v))) = &limited {
                super::limits::set_headers(&mut resp, v);
            }
            resp
        }
    };

    let status = resp.status();
    let failed = status.is_client_error() || status.is_server_error();
    // a page that answers an error with a page of its own (a form with its fields'
    // problems) keeps it
    let own_page = resp.extensions().get::<ApiError>().is_none()
        && resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if page && failed {
        if !own_page {
            let err = resp.extensions_mut().remove::<ApiError>().unwrap_or_else(|| ApiError::from_status(status));
            let kept = std::mem::take(resp.headers_mut());
            resp = html_error(&app, &err, &id_str, speaks.unwrap_or_default());
            for (name, value) in kept.iter() {
                if !resp.headers().contains_key(name) && name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE
                {
                    resp.headers_mut().insert(name.clone(), value.clone());
                }
            }
        }
    } else if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
        // headers set on the way out (e.g. the RateLimit fields) stay
        let kept = std::mem::take(resp.headers_mut());
        resp = err.response(&id_str);
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
        resp = ApiError::from_status(status).response(&id_str);
    }
    resp.headers_mut().insert(REQUEST_ID, id);
    if method != Method::GET && method != Method::HEAD && resp.status().is_success() {
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
        Entry {
            request_id: &id_str,
            route: template,
            path: &path,
            status: resp.status().as_u16(),
            duration: took,
            client,
        },
    );
    let _enter = span.enter();
    let micros = took.as_micros() as u64;
    // a 503 from /ready is its answer (not ready: starting, lagging, draining), asked for
    // every second or two by each balancer: not a failure to log
    if resp.status().is_server_error() && template != "/ready" {
        tracing::warn!(status = resp.status().as_u16(), micros, "request failed");
    } else {
        tracing::debug!(status = resp.status().as_u16(), micros, "request");
    }
    resp
}

/// Was this request sent by another site's page? Browsers say where a request comes from:
/// `Sec-Fetch-Site` (anything but `same-origin`, or `none` for what the user typed, is
/// another site), or, from older ones, `Origin` (its host must be the request's). A client
/// that sends neither is not a browser acting for another site.
fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match headers.get(header::ORIGIN) {
        Some(origin) => {
            let authority = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, a)| a);
            authority.is_none() || authority.map(str::as_bytes) != headers.get(header::HOST).map(|h| h.as_bytes())
        }
        None => false,
    }
}

/// Does the client ask for a page (a browser's `Accept: text/html,…`)?
fn wants_html(accept: &Option<HeaderValue>) -> bool {
    accept.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// An error as a page, with the status and `Retry-After` of the error.
/// In the language `speaks` (the request's cookies and `Accept-Language`) asks for.
fn html_error(
    app: &App,
    err: &ApiError,
    request_id: &str,
    speaks: (Option<HeaderValue>, Option<HeaderValue>),
) -> Response<Body> {
    let mut asked = axum::http::HeaderMap::new();
    for (name, value) in [(header::COOKIE, speaks.0), (header::ACCEPT_LANGUAGE, speaks.1)] {
        if let Some(v) = value {
            asked.insert(name, v);
        }
    }
    let (words, lang) = crate::pages::shop::page_language(app, &asked);
    let page = crate::pages::error_page(&app.live().shop_name, err, request_id, words, &lang);
    let mut resp = Response::new(Body::from(page));
    *resp.status_mut() = err.status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    crate::http::respond::page_headers(h);
    if let Some(secs) = err.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// One answered request: counted in the metrics and, when the access log is on, a line
/// there (every way a request is answered: the router, the cache fast path, a replica's
/// forwarding).
pub(crate) fn record(app: &App, method: &Method, e: Entry<'_>) {
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
    pub duration: Duration,
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
