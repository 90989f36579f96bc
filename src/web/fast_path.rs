//! The fast path for cache hits, ahead of the router: a GET of a route whose policy lets
//! the fast path answer it (public catalog reads, the same for everyone), whose exact
//! target (path and query) has a fresh cached response, is answered from it without
//! routing, extractors or middleware. Only validated requests ever filled the cache, so a
//! hit answers exactly what the full path would; anything else goes on to the router.
//!
//! A hit in the cache's hot front is answered at once ([`immediate`]), before the server
//! awaits or clones anything for the request — when the replica front has nothing to do
//! with it (it presents no commit position). Other hits ([`cached_hit`]) come after the
//! replica front, from the main map.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, Method, Request, Response};
use bytes::Bytes;
use http_body_util::Full;

use super::context::{record, Entry};
use super::policy::{self, Route};
use crate::app::AppState;
use crate::cache::{self, Served};
use crate::http::request_id::{self, COMMIT_HEADER, REQUEST_ID};

/// The route of a request the fast path may answer, and its cache key.
fn candidate<'r, B>(state: &AppState, req: &'r Request<B>) -> Option<(&'static Route, &'r str)> {
    if req.method() != Method::GET || !state.cache.enabled() {
        return None;
    }
    let path = req.uri().path();
    let route = policy::routes().of_path(path)?;
    if !route.policy(&Method::GET).is_some_and(|p| p.fast_path) {
        return None;
    }
    // a language chosen by the request's headers is not in its target: its answer is
    // cached under a key of its own, which the handler makes
    if in_another_language(state, req, route) {
        return None;
    }
    // so are the prices of a shopper in a customer group (a token names the shopper; a
    // page's session is its cookie), and a page's in the shopper's currency (its cookie)
    if state.group_prices.any() && shopper_named(req, route) {
        return None;
    }
    if in_another_currency(state, req, route) {
        return None;
    }
    Some((route, req.uri().path_and_query().map_or(path, |p| p.as_str())))
}

/// Whether the request's headers choose a language other than the default: its
/// `Accept-Language` (for the API without `locale=`), or for the storefront's pages the
/// shopper's choice (the `sf_lang` cookie), else `Accept-Language` (see `pages::shop::Lang`).
fn in_another_language<B>(state: &AppState, req: &Request<B>, route: &Route) -> bool {
    let h = req.headers();
    let page = route.policy(&Method::GET).is_some_and(|p| p.kind == policy::Kind::Page);
    if !(h.contains_key(header::ACCEPT_LANGUAGE) || page && h.contains_key(header::COOKIE)) {
        return false;
    }
    if !page && req.uri().query().unwrap_or("").split('&').any(|p| p.starts_with("locale=")) {
        return false;
    }
    let live = state.live();
    if !live.locales.contains(',') {
        return false; // one language
    }
    let enabled = crate::domain::locale::enabled(&live.locales);
    if enabled.len() < 2 {
        return false;
    }
    let chosen = match page.then(|| crate::pages::shop::language_cookie(h)).flatten() {
        Some(c) => crate::domain::locale::best_for(&c, &enabled),
        None => h
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::domain::locale::negotiate(v, &enabled)),
    };
    chosen.is_some_and(|l| Some(&l) != enabled.first())
}

/// Whether a page request's cookie chooses a currency other than the default.
fn in_another_currency<B>(state: &AppState, req: &Request<B>, route: &Route) -> bool {
    let page = route.policy(&Method::GET).is_some_and(|p| p.kind == policy::Kind::Page);
    page && req.headers().contains_key(header::COOKIE)
        && state.live().currencies.contains(',')
        && crate::pages::shop::chosen_currency(state, req.headers()).is_some()
}

/// Whether the request names its shopper: a token (the API), a session cookie (a page).
fn shopper_named<B>(req: &Request<B>, route: &Route) -> bool {
    let h = req.headers();
    if route.policy(&Method::GET).is_some_and(|p| p.kind == policy::Kind::Page) {
        crate::http::cookies(h, crate::pages::session::COOKIE).next().is_some()
    } else {
        h.contains_key(header::AUTHORIZATION)
    }
}

/// A hit in the hot front, for a request the replica front lets through untouched.
pub fn immediate<B>(state: &AppState, req: &Request<B>, peer: SocketAddr) -> Option<Response<Full<Bytes>>> {
    let h = req.headers();
    if h.contains_key(COMMIT_HEADER) || (state.replication.replica().is_some() && h.contains_key(header::COOKIE)) {
        return None;
    }
    let started = Instant::now();
    let (route, key) = candidate(state, req)?;
    let entry = state.cache.fresh_hot(key, started)?;
    Some(answer(state, req, peer, route, &entry, started))
}

/// A fresh entry of the main map (after the replica front).
pub async fn cached_hit<B>(state: &AppState, req: &Request<B>, peer: SocketAddr) -> Option<Response<Full<Bytes>>> {
    let started = Instant::now();
    let (route, key) = candidate(state, req)?;
    let entry = state.cache.fresh_hit(key).await?;
    Some(answer(state, req, peer, route, &entry, started))
}

fn answer<B>(
    state: &AppState,
    req: &Request<B>,
    peer: SocketAddr,
    route: &'static Route,
    entry: &Arc<cache::Entry>,
    started: Instant,
) -> Response<Full<Bytes>> {
    let neg = crate::http::Negotiation::from_headers(req.headers());
    let mut resp = crate::catalog::handlers::respond_cached(state, &entry.rendered, &neg, Served::HitL1);
    let id = request_id::of_request(req.headers());
    let client = Some(state.clients.of(peer, req.headers()).ip);
    let line = Entry {
        request_id: id.to_str().unwrap_or("-"),
        route: route.template,
        path: req.uri().path(),
        status: resp.status().as_u16(),
        duration: started.elapsed(),
        client,
    };
    record(state, req.method(), line);
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}
