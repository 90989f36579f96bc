//! The replica's front: what a node does with a request before anything else. A
//! malformed commit position is refused on every node; on a replica a write is forwarded
//! to the primary, and a read that presents a position the copy does not hold yet waits
//! for it (up to `replica_wait_ms`), then goes to the primary.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, Response};

use super::context::{record, Entry};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::request_id::{self, REQUEST_ID};
use crate::replication::{presented_position, Replica};

/// What a node does with a request before anything else: a malformed position is
/// refused; on a replica, a write is forwarded to the primary, and a read that presents
/// a position this node does not serve yet waits for it, then goes to the primary.
/// `Err` is the answer; `Ok` hands the request on.
pub async fn front<B>(app: &AppState, req: Request<B>, peer: SocketAddr) -> Result<Request<B>, Response<Body>>
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let replica = app.replication.replica();
    let position = match presented_position(req.headers(), replica.is_some()) {
        Ok(p) => p,
        Err(e) => return Err(answer_error(app, &req, &e)),
    };
    let Some(replica) = replica else { return Ok(req) };
    let write = !matches!(*req.method(), Method::GET | Method::HEAD);
    let behind = position.is_some_and(|p| p > replica.follow.position());
    if !write && !behind {
        return Ok(req);
    }
    if write {
        // the replica's own quotas, before the primary is troubled
        if let Some(refused) = own_quota(app, &req, peer).await {
            return Err(refused);
        }
    }
    // waiting and forwarding hold a place each; past the bound, a prompt 503
    let Ok(_place) = replica.in_flight.clone().try_acquire_owned() else {
        let mut e = ApiError::unavailable("this replica is busy; retry shortly", 1);
        e.code = "busy";
        return Err(answer_error(app, &req, &e));
    };
    if !write {
        // a claim beyond what the primary has reached counts as its head
        let claimed = position.expect("a read that waits presented a position");
        let p = replica.follow.credible(claimed, &replica.forward).await;
        if p <= replica.follow.position() || replica.follow.wait_for(p, replica.wait).await {
            return Ok(req);
        }
    }
    Err(forward(app, replica, req, peer, write).await)
}

/// The per-address quota of the route a forwarded write would take, checked on the
/// replica (the primary checks its own too): a refused write never reaches the primary.
async fn own_quota<B>(app: &AppState, req: &Request<B>, peer: SocketAddr) -> Option<Response<Body>> {
    let route = super::policy::routes().of_path(req.uri().path())?;
    let rule = route.policy(req.method())?.rate?;
    let client = app.clients.of(peer, req.headers());
    let verdict = super::limits::check(app, rule, super::limits::Keys::forwarded(client)).await?;
    if verdict.allowed {
        return None;
    }
    let mut resp = answer_error(app, req, &crate::limits::refused(rule, &verdict));
    super::limits::set_headers(&mut resp, &verdict);
    Some(resp)
}

fn answer_error<B>(app: &AppState, req: &Request<B>, e: &ApiError) -> Response<Body> {
    let id = request_id::of_request(req.headers());
    let mut resp = e.response(id.to_str().unwrap_or("-"));
    let line = Entry {
        request_id: id.to_str().unwrap_or("-"),
        route: super::policy::path_template(req.uri().path()),
        path: req.uri().path(),
        status: resp.status().as_u16(),
        duration: Duration::ZERO,
        client: None,
    };
    record(app, req.method(), line);
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}

async fn forward<B>(app: &AppState, replica: &Replica, req: Request<B>, peer: SocketAddr, write: bool) -> Response<Body>
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let started = Instant::now();
    let id = request_id::of_request(req.headers());
    let client = app.clients.of(peer, req.headers()).ip;
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let entry = super::policy::routes().of_path(&path);
    let route = entry.map_or("unmatched", |r| r.template);
    // an upload is bounded by its body's idle time, not by request_timeout_secs
    let streamed = entry.and_then(|r| r.policy(&method)).is_some_and(|p| p.timeout == super::policy::Timeout::Streamed);
    let mut resp = match replica.forward.forward(req, client, &id, streamed).await {
        Ok(resp) => {
            if write {
                // the primary's own word on how far it is
                if let Some(p) = crate::replication::forward::commit_position(resp.headers()) {
                    replica.follow.note_head(p, started);
                }
            }
            resp
        }
        Err(e) => e.response(id.to_str().unwrap_or("-")),
    };
    let line = Entry {
        request_id: id.to_str().unwrap_or("-"),
        route,
        path: &path,
        status: resp.status().as_u16(),
        duration: started.elapsed(),
        client: Some(client),
    };
    record(app, &method, line);
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}
