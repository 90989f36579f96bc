//! Who the client is: its address as the server should see it. Behind a load balancer or
//! reverse proxy the TCP peer is the proxy; the client is then the last address in
//! `X-Forwarded-For` that is not one of the configured `trusted_proxies` (each proxy
//! appends the address it heard from, so entries left of an untrusted one may be forged
//! by the client and are ignored). Without trusted proxies the header is never read.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address (an extension of every routed request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

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

/// The client address of a routed request.
pub fn client_ip<B>(req: &axum::http::Request<B>) -> Option<IpAddr> {
    req.extensions().get::<ClientAddr>().map(|c| c.0)
}

/// Parses `trusted_proxies` entries: addresses or CIDR ranges.
pub fn parse_trusted(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|e| {
            e.parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("trusted_proxies: {e:?} is not an address or a CIDR range"))
        })
        .collect()
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
        let trusted = parse_trusted(&["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
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
        assert!(parse_trusted(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_trusted(&["proxy".into()]).is_err());
    }
}
