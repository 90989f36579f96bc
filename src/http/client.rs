//! Who the client is: its address as the server should see it. Behind a load balancer or
//! reverse proxy the TCP peer is the proxy; the client is then the last address in
//! `X-Forwarded-For` that is not one of the configured `trusted_proxies` (each proxy
//! appends the address it heard from, so entries left of an untrusted one may be forged
//! by the client and are ignored). Without trusted proxies the header is never read.
//! Loopback is trusted by default: a proxy on the same host (nginx, Caddy, HAProxy, a
//! tunnel) names its clients.
//!
//! A client at one of the `limit_exempt` (by default loopback: a request from the box
//! itself that names no other client) is the operator's own — health checks, scripts, a
//! load test run on the machine — and is not held to per-address limits and bounds;
//! per-session, per-account and per-e-mail ones still apply.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address (an extension of every routed request), and whether it is one of
/// the operator's own (`limit_exempt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    pub exempt: bool,
}

/// Who is trusted to name a client, and whose requests are the operator's own.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    pub trusted: Vec<IpNet>,
    pub exempt: Vec<IpNet>,
    /// the first peer seen sending `X-Forwarded-For` without being trusted: a proxy
    /// missing from `trusted_proxies` makes all its clients one (said once, and in /ready)
    untrusted_forwarder: Arc<OnceLock<IpAddr>>,
}

impl Clients {
    pub fn new(trusted: &[String], exempt: &[String]) -> Result<Clients, String> {
        Ok(Clients {
            trusted: parse_nets("trusted_proxies", trusted)?,
            exempt: parse_nets("limit_exempt", exempt)?,
            untrusted_forwarder: Arc::default(),
        })
    }

    /// The client of a request from `peer` with `headers`.
    pub fn of(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientAddr {
        let ip = resolve(peer, headers, &self.trusted);
        if ip == canonical(peer.ip()) && self.untrusted_forwarder.get().is_none() && !self.trusts(peer.ip()) {
            self.note_untrusted(peer.ip(), headers);
        }
        ClientAddr { ip, exempt: self.exempt.iter().any(|n| n.contains(&ip)) }
    }

    #[cold]
    fn note_untrusted(&self, peer: IpAddr, headers: &HeaderMap) {
        if headers.contains_key("x-forwarded-for") && self.untrusted_forwarder.set(canonical(peer)).is_ok() {
            tracing::warn!(
                %peer,
                "X-Forwarded-For from a peer not in trusted_proxies: the header is ignored, and if the peer is a \
                 load balancer or proxy, all its clients count as one client (list it in trusted_proxies)"
            );
        }
    }

    /// The first peer that sent `X-Forwarded-For` without being trusted, if any.
    pub fn untrusted_forwarder(&self) -> Option<IpAddr> {
        self.untrusted_forwarder.get().copied()
    }

    /// Whether `peer` may name a client.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&canonical(peer)))
    }

    /// Whether the client reached the shop over TLS: a trusted proxy (it terminated TLS)
    /// says so in `X-Forwarded-Proto`. A direct connection is plain HTTP (the server
    /// speaks no TLS itself), and an untrusted peer's header is ignored.
    pub fn over_tls(&self, parts: &Parts) -> bool {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        peer.is_some_and(|ip| self.trusts(ip))
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }

    /// Whether a peer at `ip` is the operator's own (connection caps are per peer).
    pub fn exempts(&self, ip: IpAddr) -> bool {
        self.exempt.iter().any(|n| n.contains(&canonical(ip)))
    }
}

/// The client of a request from `peer` with `headers`.
pub fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer.ip());
    if trusted.is_empty() || !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let mut client = peer;
    // every X-Forwarded-For line, read right to left
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else { break };
        client = ip;
        if !trusted.iter().any(|n| n.contains(&ip)) {
            break;
        }
    }
    client
}

/// IPv4 clients seen over an IPv6 socket as themselves.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of a routed request.
pub fn client_of<B>(req: &axum::http::Request<B>) -> Option<ClientAddr> {
    req.extensions().get::<ClientAddr>().copied()
}

/// Parses the entries of the setting `name`: addresses or CIDR ranges.
pub fn parse_nets(name: &str, entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|e| {
            e.parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{name}: {e:?} is not an address or a CIDR range"))
        })
        .collect()
}

/// Loopback, IPv4 and IPv6: the defaults of `trusted_proxies` and `limit_exempt`.
pub fn loopback() -> Vec<String> {
    vec!["127.0.0.0/8".to_owned(), "::1".to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_forwarded_address_counts_only_from_trusted_proxies() {
        let proxy: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.9:40000".parse().unwrap();
        let trusted = parse_nets("t", &["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // no trusted proxies: the header is ignored
        assert_eq!(resolve(proxy, &headers(&["203.0.113.7"]), &[]), ip("10.0.0.5"));
        // an untrusted peer cannot claim another address
        assert_eq!(resolve(stranger, &headers(&["203.0.113.7"]), &trusted), ip("198.51.100.9"));
        // through a trusted proxy: the address it heard from
        assert_eq!(resolve(proxy, &headers(&["203.0.113.7"]), &trusted), ip("203.0.113.7"));
        // a forged entry left of the real one is ignored; trusted hops are skipped
        assert_eq!(resolve(proxy, &headers(&["1.2.3.4, 203.0.113.7, 10.0.0.9"]), &trusted), ip("203.0.113.7"));
        assert_eq!(resolve(proxy, &headers(&["1.2.3.4", "203.0.113.7"]), &trusted), ip("203.0.113.7"));
        // garbage stops the walk at the last good hop
        assert_eq!(resolve(proxy, &headers(&["nonsense"]), &trusted), ip("10.0.0.5"));
        assert!(parse_nets("t", &["10.0.0.0/33".into()]).is_err());
        assert!(parse_nets("t", &["proxy".into()]).is_err());
    }

    /// The defaults: a same-host proxy names its clients; the box itself, naming nobody
    /// else, is the operator's own; nobody else is.
    #[test]
    fn loopback_is_trusted_and_its_own_requests_are_exempt() {
        let clients = Clients::new(&loopback(), &loopback()).unwrap();
        let local: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let local6: SocketAddr = "[::1]:50000".parse().unwrap();
        let remote: SocketAddr = "203.0.113.7:50000".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // a load test or a health check from the box
        assert_eq!(clients.of(local, &headers(&[])), ClientAddr { ip: ip("127.0.0.1"), exempt: true });
        assert!(clients.of(local6, &headers(&[])).exempt);
        // a same-host nginx naming its client: that client, held to every limit
        assert_eq!(
            clients.of(local, &headers(&["198.51.100.4"])),
            ClientAddr { ip: ip("198.51.100.4"), exempt: false }
        );
        // a client cannot pass itself off as the box, directly or through the proxy
        assert_eq!(clients.of(remote, &headers(&["127.0.0.1"])), ClientAddr { ip: ip("203.0.113.7"), exempt: false });
        assert!(!clients.of(local, &headers(&["127.0.0.1, 198.51.100.4"])).exempt);
        // with no exemptions, the box is held to the limits too
        assert!(!Clients::new(&loopback(), &[]).unwrap().of(local, &headers(&[])).exempt);
    }
}
