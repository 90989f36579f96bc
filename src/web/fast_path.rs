//! The fast path for cache hits, ahead of the router: a GET of a route whose policy lets
//! the fast path answer it (public catalog reads, the same for everyone), whose exact
//! target (path and query) has a fresh cached response, is answered from it without
//! routing, extractors or middleware. Only validated requests ever filled the cache, so a
//! hit answers exactly what the full path would; anything else goes on to the router.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request, Response};

use super::context::{record, Entry};
use super::policy;
use crate::app::AppState;
use crate::http::request_id::{self, REQUEST_ID};

pub async fn cached_hit<B>(state: &AppState, req: &Request<B>, peer: SocketAddr) -> Option<Response<Body>> {
    if req.method() != Method::GET || !state.cache.enabled() {
        return None;
    }
    let started = Instant::now();
    let path = req.uri().path();
    let route = policy::routes().of_path(path)?;
    if !route.policy(&Method::GET).is_some_and(|p| p.fast_path) {
        return None;
    }
    let key = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let entry = state.cache.fresh_hit(key).await?;
    let neg = crate::http::Negotiation::from_headers(req.headers());
    let mut resp = crate::catalog::handlers::respond_cached(state, &entry.rendered, &neg, crate::cache::Served::HitL1);
    let id = request_id::of_request(req.headers());
    let client = Some(crate::http::client::resolve(peer, req.headers(), &state.trusted_proxies));
    let line = Entry {
        request_id: id.to_str().unwrap_or("-"),
        route: route.template,
        path,
        status: resp.status().as_u16(),
        duration: started.elapsed(),
        client,
    };
    record(state, req.method(), line);
    resp.headers_mut().insert(REQUEST_ID, id);
    Some(resp)
}
