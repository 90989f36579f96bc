//! A replica's way to its primary: every write, and a read the copy cannot answer yet,
//! goes there as it came (streamed both ways: a large import upload is never held in
//! memory), with the client's address in `X-Forwarded-For` (the primary lists its replicas
//! in `trusted_proxies`) and every end-to-end header, the idempotency key included.
//!
//! Bounded: connecting waits `primary_connect_timeout_ms`, the answer's head
//! `request_timeout_secs`; a primary that cannot be reached is a 503 with `Retry-After`
//! (`primary_unavailable`), never a hang. A write whose answer was lost may have been
//! committed: retried with the same `Idempotency-Key`, it is answered once.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::Config;
use crate::error::ApiError;

type PrimaryClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

pub struct Forwarder {
    scheme: axum::http::uri::Scheme,
    authority: axum::http::uri::Authority,
    client: PrimaryClient,
    answer_timeout: Duration,
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
/// (`transfer-encoding` too: each side frames its own message.)
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl Forwarder {
    pub fn new(config: &Config, primary: &str) -> anyhow::Result<Forwarder> {
        let uri: Uri = primary.parse()?;
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned()) else {
            anyhow::bail!("replica_of must be the primary's base URL, like http://primary:8080");
        };
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_millis(config.primary_connect_timeout_ms)));
        http.set_nodelay(true);
        http.enforce_http(false);
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(https);
        Ok(Forwarder { scheme, authority, client, answer_timeout: Duration::from_secs(config.request_timeout_secs) })
    }

    fn uri(&self, path_and_query: &str) -> Uri {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .expect("a valid base and a path the server accepted")
    }

    /// Sends `req` (from the client at `client`) to the primary and hands back its answer;
    /// `streamed` (an upload, whose body may take long while it keeps coming): no bound on
    /// the wait for the answer beyond the body's own idle time.
    pub async fn forward<B>(
        &self,
        req: Request<B>,
        client: IpAddr,
        request_id: &HeaderValue,
        streamed: bool,
    ) -> Result<Response<Body>, ApiError>
    where
        B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let (mut parts, body) = req.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        parts.uri = self.uri(&target);
        strip_hop_by_hop(&mut parts.headers);
        let h = &mut parts.headers;
        h.insert(header::HOST, HeaderValue::from_str(self.authority.as_str()).expect("an authority is a valid host"));
        // the client as this node resolved it (through its own trusted proxies)
        h.remove("x-forwarded-for");
        h.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(&client.to_string()).expect("an address"),
        );
        h.insert(HeaderName::from_static(crate::http::request_id::REQUEST_ID), request_id.clone());
        let req = Request::from_parts(parts, Body::new(body));
        let limit = if streamed { Duration::MAX } else { self.answer_timeout };
        let answer = match tokio::time::timeout(limit, self.client.request(req)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, target, "forwarding to the primary failed");
                return Err(unavailable());
            }
            Err(_) => {
                tracing::warn!(target, "the primary did not answer in time");
                return Err(unavailable());
            }
        };
        let (mut parts, body) = answer.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }

    /// The primary's position, from its `/health` (bounded to a second).
    pub async fn primary_position(&self) -> Option<u64> {
        let req =
            Request::get(self.uri("/health")).header(header::HOST, self.authority.as_str()).body(Body::empty()).ok()?;
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(1), self.client.request(req)).await.ok()?.ok()?;
        let position = commit_position(answer.headers());
        // the body is small; read it so the connection goes back to the pool
        let left = Duration::from_secs(1).saturating_sub(started.elapsed());
        let _ = tokio::time::timeout(left, http_body_util::BodyExt::collect(answer.into_body())).await;
        position
    }
}

/// The position an answer carries (`X-Storefront-Commit`).
pub fn commit_position(headers: &HeaderMap) -> Option<u64> {
    headers.get(crate::http::request_id::COMMIT_HEADER)?.to_str().ok()?.parse().ok()
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // and any header the Connection header names
    let named: Vec<String> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        h.remove(name);
    }
}

fn unavailable() -> ApiError {
    let mut e = ApiError::unavailable("the primary cannot be reached; retry shortly", 1);
    e.code = "primary_unavailable";
    e
}
