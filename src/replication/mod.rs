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
//!   serves that position, after waiting up to `replica_wait_ms`, else by the primary
//!   (the front layer does this: `crate::web::replica`).

pub mod follow;
pub mod forward;
pub mod litestream;

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::http::request_id::COMMIT_HEADER;

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
    /// requests waiting for the copy or forwarded to the primary at once: past it, 503
    pub in_flight: Arc<tokio::sync::Semaphore>,
}

/// How many requests a replica keeps waiting for its copy or forwarded at once.
pub const MAX_IN_FLIGHT: usize = 1024;

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
    Ok(crate::http::cookies(headers, "sf_commit").filter_map(|p| p.parse::<u64>().ok()).max())
}
