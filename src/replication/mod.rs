//! Scale-out: a primary that replicates its database with Litestream, and replicas that
//! serve reads from their own copy of it and forward writes to the primary.
//!
//! - Primary (`--replicate-to URL`): the server runs and supervises `litestream replicate`
//!   ([`litestream`]); `/ready` and the metrics report it.
//! - Replica (`--replica-of URL --replicate-from URL`): the copy is kept current by
//!   Litestream's follow mode ([`follow::prepare`]) and read only; what each commit changed
//!   reaches this node's caches and search index through the copy's change log
//!   ([`follow::Follow`]); writes go to the primary ([`forward`]).
//! - Read-your-writes: a write's answer carries its commit position (`X-Storefront-Commit`,
//!   the `sf_commit` cookie); a read that presents one is answered by a replica only once it
//!   serves that position, after waiting up to `replica_wait_ms`, else by the primary.

pub mod follow;
pub mod forward;
pub mod litestream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, Response};

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::middleware::{
    client_request_id, error_response, next_request_id, record, Entry, COMMIT_HEADER, REQUEST_ID,
};

/// This node's part in replication.
pub enum Replication {
    /// one node on its own database
    Standalone,
    /// the primary: its database is replicated by the supervised Litestream
    Primary(Arc<litestream::Supervisor>),
    Replica(Arc<Replica>),
}

pub struct Replica {
    pub follow: Arc<follow::Follow>,
    pub forward: Arc<forward::Forwarder>,
    /// the follow-mode restore this node runs (none when a sidecar keeps the copy)
    pub litestream: Option<Arc<litestream::Supervisor>>,
    /// `replica_wait_ms`
    pub wait: Duration,
    /// `replica_max_lag_ms`
    pub max_lag: Duration,
}

impl Replication {
    pub fn replica(&self) -> Option<&Arc<Replica>> {
        match self {
            Replication::Replica(r) => Some(r),
            _ => None,
        }
    }

    pub fn litestream(&self) -> Option<&Arc<litestream::Supervisor>> {
        match self {
            Replication::Primary(s) => Some(s),
            Replication::Replica(r) => r.litestream.as_ref(),
            Replication::Standalone => None,
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Replication::Standalone => "standalone",
            Replication::Primary(_) => "primary",
            Replication::Replica(_) => "replica",
        }
    }

    /// Stops Litestream (a primary's last changes are shipped first) and the tailer.
    pub fn stop(&self) {
        if let Replication::Replica(r) = self {
            r.follow.stop();
        }
        if let Some(s) = self.litestream() {
            s.stop(Duration::from_secs(10));
        }
    }
}

/// The position a request presents: `X-Storefront-Commit`, else the `sf_commit` cookie
/// (`cookies`: replicas only look at them). A malformed header is refused (400); a
/// malformed cookie is ignored.
pub fn presented_position(headers: &HeaderMap, cookies: bool) -> Result<Option<u64>, ApiError> {
    if let Some(v) = headers.get(COMMIT_HEADER) {
        return match v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(p) => Ok(Some(p)),
            None => Err(ApiError::bad_request(
                "invalid_commit",
                "X-Storefront-Commit must be a commit position (a non-negative integer) from a write's answer",
            )),
        };
    }
    if !cookies {
        return Ok(None);
    }
    Ok(headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("sf_commit="))
        .filter_map(|p| p.parse::<u64>().ok())
        .max())
}

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
    if !write {
        match position {
            Some(p) if p > replica.follow.position() => {
                if replica.follow.wait_for(p, replica.wait).await {
                    return Ok(req);
                }
            }
            _ => return Ok(req),
        }
    }
    Err(forward(app, replica, req, peer, write).await)
}

fn answer_error<B>(app: &AppState, req: &Request<B>, e: &ApiError) -> Response<Body> {
    let id = req.headers().get(REQUEST_ID).and_then(client_request_id).unwrap_or_else(next_request_id);
    let mut resp = error_response(e, id.to_str().unwrap_or("-"));
    let line = Entry {
        request_id: id.to_str().unwrap_or("-"),
        route: crate::routes::path_template(req.uri().path()),
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
    let id = req.headers().get(REQUEST_ID).and_then(client_request_id).unwrap_or_else(next_request_id);
    let client = crate::http::client::resolve(peer, req.headers(), &app.trusted_proxies);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = crate::routes::path_template(&path);
    let mut resp = match replica.forward.forward(req, client, &id).await {
        Ok(resp) => {
            if write {
                // the primary's own word on how far it is
                if let Some(p) = forward::commit_position(resp.headers()) {
                    replica.follow.note_head(p, started);
                }
            }
            resp
        }
        Err(e) => error_response(&e, id.to_str().unwrap_or("-")),
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
