//! The HTTP server: an accept loop over hyper with a cap on open connections, backoff on
//! accept errors, and a graceful shutdown that stops accepting, lets in-flight requests
//! finish up to a deadline, and only then returns (the caller then stops the writer, which
//! commits what it holds).

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use http_body_util::{Either as BodyEither, Full};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What the server answers: a cached body as it is, or what the router made.
type Answer = hyper::Response<BodyEither<Full<bytes::Bytes>, axum::body::Body>>;

use crate::app::AppState;

/// Serves `state` on `listener` until `shutdown` resolves, then drains.
pub async fn run(state: AppState, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let router = super::routes::router(state.clone());
    // background work for as long as the server runs: the job runner (which also runs the
    // shop's recurring tasks) and this node's own recurring tasks
    let runner = crate::jobs::runner::start(state.clone());
    let mut node_tasks = crate::app::tasks::start_node_tasks(&state);
    if let Some(redis) = &state.redis {
        // the node's one handle on Redis (the rate limits share it): the cache's second
        // tier keeps its connection when the cache is on, a keeper otherwise
        let c = &state.config;
        if state.cache.enabled() {
            let l2 = crate::cache::L2::new(redis.clone(), Duration::from_secs(c.cache_ttl_secs));
            state.cache.attach_l2(l2, Duration::from_secs(c.redis_detached_max_age_secs));
        } else {
            node_tasks.push(tokio::spawn(redis.clone().keep()));
        }
    }
    if let Some(replica) = state.replication.replica() {
        // a replica asks its primary how far it is (its lag)
        node_tasks.push(tokio::spawn(replica.follow.clone().probe(replica.forward.clone())));
    }
    if let Some(addr) = state.config.metrics_listen {
        // /metrics on a listener of its own
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(%addr, "metrics listening");
        node_tasks.push(tokio::spawn(super::ops::serve_metrics(state.clone(), listener)));
    }
    let max_connections = state.config.max_connections;
    // Each open connection holds a permit; at the cap, accepting pauses and new clients
    // wait in the kernel's backlog instead of exhausting file descriptors.
    let permits = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let body_timeout = Duration::from_secs(state.config.request_body_timeout_secs);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(body_timeout).keep_alive(true).max_buf_size(64 * 1024);
    // connections per client address (IPv6 by /64), trusted proxies exempt
    let per_address = Arc::new(PerAddress::new(state.config.max_connections_per_address));

    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, max_connections, "listening");
    }
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the connection semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => {
                backoff = Duration::from_millis(5);
                x
            }
            Err(e) => {
                // Usually EMFILE/ENFILE or a connection reset before accept: back off
                // instead of spinning, up to a second.
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // a proxy's connections carry many clients; the operator's own are not capped
        let held = if state.clients.trusts(peer.ip()) || state.clients.exempts(peer.ip()) {
            None
        } else {
            match per_address.enter(peer.ip()) {
                Some(h) => Some(h),
                None => {
                    // over its share: a short answer and the connection is closed
                    tokio::spawn(refuse_connection(stream));
                    continue;
                }
            }
        };
        // the peer's address travels with each request (throttling, session records)
        let (router, app) = (router.clone(), state.clone());
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            // a hit in the cache's hot front is answered at once: nothing cloned or awaited
            if let Some(resp) = super::fast_path::immediate(&app, &req, peer) {
                return Either::Left(std::future::ready(Ok::<Answer, Infallible>(resp.map(BodyEither::Left))));
            }
            let (router, app) = (router.clone(), app.clone());
            Either::Right(async move {
                let _in_flight = InFlight::enter(&app.metrics.in_flight);
                // a replica forwards writes, and reads its copy cannot answer yet
                let mut req = match super::replica::front(&app, req, peer).await {
                    Ok(req) => req,
                    Err(answer) => return Ok(answer.map(BodyEither::Right)),
                };
                if let Some(resp) = super::fast_path::cached_hit(&app, &req, peer).await {
                    return Ok(resp.map(BodyEither::Left));
                }
                let client = app.clients.of(peer, req.headers());
                req.extensions_mut().insert(client);
                req.extensions_mut().insert(crate::http::body::BodyTimeout(body_timeout));
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                let answer: Result<Answer, Infallible> = router.oneshot(req).await.map(|r| r.map(BodyEither::Right));
                answer
            })
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            let _held = held;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }

    state.draining.store(true, Ordering::SeqCst);
    for task in node_tasks {
        task.abort();
    }
    drop(listener);
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    tracing::info!(grace_secs = grace.as_secs(), "shutting down: draining connections");
    // connections drain and the runner lets its running jobs finish, side by side
    let drain = async {
        match tokio::time::timeout(grace, graceful.shutdown()).await {
            Ok(()) => tracing::info!("all connections drained"),
            Err(_) => tracing::warn!("grace period over; closing remaining connections"),
        }
    };
    let jobs = async {
        if let Some(r) = runner {
            r.shutdown().await;
        }
    };
    tokio::join!(drain, jobs);
    Ok(())
}

/// Open connections per client address.
struct PerAddress {
    max: usize,
    open: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One connection counted against its address until dropped.
struct Held(Arc<PerAddress>, String);

impl PerAddress {
    fn new(max: usize) -> PerAddress {
        PerAddress { max, open: Default::default() }
    }

    fn enter(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<Held> {
        let key = crate::limits::address_key(ip);
        // a short critical section, never held across an await
        let mut open = self.open.lock().expect("connection counts poisoned");
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Held(self.clone(), key))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().expect("connection counts poisoned");
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Answers a connection over its address's share with 503 and closes it.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let id = crate::http::request_id::next_request_id();
    let mut e = crate::error::ApiError::unavailable("too many open connections from this address", 5);
    e.code = "too_many_connections";
    let body = e.body(id.to_str().unwrap_or(""));
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\n\
         x-request-id: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        id.to_str().unwrap_or(""),
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Counts a request in `storefront_http_requests_in_flight` until it is answered (or its
/// connection dropped it).
struct InFlight<'a>(&'a std::sync::atomic::AtomicI64);

impl<'a> InFlight<'a> {
    fn enter(n: &'a std::sync::atomic::AtomicI64) -> InFlight<'a> {
        n.fetch_add(1, Ordering::Relaxed);
        InFlight(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
