//! Where deliveries may go. A subscription names a URL; unless `webhook_private_targets`
//! is on, the address it reaches must be a public one, so an administrator's URL (or an API
//! key's) cannot make the server call the cloud's metadata service, its own loopback or the
//! network behind it (SSRF). A literal host is checked when the subscription is made; every
//! delivery resolves its host once, refuses it when any address is internal and connects to
//! the addresses it vetted (the connector asks no one else).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Whether `ip` is an address on the public Internet: not loopback, private (RFC 1918),
/// link-local, unique-local (fc00::/7), shared (CGNAT, 100.64/10), "this network" (0/8),
/// multicast, broadcast, unspecified, benchmarking or documentation, nor an IPv6 form
/// that embeds such an IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4 inside IPv6: ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::/96
    // (NAT64) and 2002::/16 (6to4) reach the IPv4 address they carry
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return !ip.is_unspecified() && !ip.is_loopback() && public_v4(Ipv4Addr::from(embedded(s[6], s[7])));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return public_v4(Ipv4Addr::from(embedded(s[6], s[7])));
    }
    if s[0] == 0x2002 {
        return public_v4(Ipv4Addr::from(embedded(s[1], s[2])));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8))
}

fn embedded(hi: u16, lo: u16) -> u32 {
    (u32::from(hi) << 16) | u32::from(lo)
}

/// The address a URL's host names by itself, without a lookup: a dotted quad, an IPv6
/// literal in brackets, or one of the other spellings a resolver takes as an IPv4 address
/// (`2130706433`, `0x7f.1`, `0177.0.0.1`: inet_aton's forms).
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    inet_aton(host).map(|v4| IpAddr::V4(Ipv4Addr::from(v4)))
}

/// inet_aton: one to four parts, each decimal, octal (`0` first) or hexadecimal (`0x`);
/// the last part fills the bytes the others leave.
fn inet_aton(host: &str) -> Option<u32> {
    let parts: Vec<&str> = host.strip_suffix('.').unwrap_or(host).split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        values.push(if digits.is_empty() { 0 } else { u64::from_str_radix(digits, radix).ok()? });
    }
    let (last, head) = values.split_last()?;
    if head.iter().any(|v| *v > 255) || *last >= 1u64 << (8 * (4 - head.len())) {
        return None;
    }
    let mut out = 0u64;
    for (i, v) in head.iter().enumerate() {
        out |= v << (24 - 8 * i);
    }
    Some((out | last) as u32)
}

/// Why a subscription's URL may not be used, when its host is a literal internal address.
pub fn refused_literal(url: &str) -> Option<String> {
    let uri = url.parse::<axum::http::Uri>().ok()?;
    let ip = literal_ip(uri.host()?)?;
    (!is_public(ip)).then(|| {
        format!(
            "must reach a public address, not {ip} (loopback, private, link-local and other internal addresses \
             need webhook_private_targets)"
        )
    })
}

/// The resolver of the delivery client: one lookup per connection, every address vetted.
#[derive(Clone)]
pub struct VettingResolver {
    pub allow_private: bool,
}

/// What a delivery refused to reach (the delivery log says "refused", nothing more).
pub const REFUSED: &str = "refused: the target is not a public address";

impl tower::Service<Name> for VettingResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, REFUSED));
            }
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn every_spelling_of_an_address_is_read() {
        let v4 = |s: &str| literal_ip(s).map(|ip| ip.to_string());
        assert_eq!(v4("2130706433").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("0x7f000001").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("0177.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("0xa9.254.169.254").as_deref(), Some("169.254.169.254"));
        assert_eq!(v4("[::1]").as_deref(), Some("::1"));
        assert_eq!(v4("example.com"), None);
        assert_eq!(v4("1.2.3.4.5"), None);
        assert_eq!(v4("256.1.1.1"), None);
        assert!(refused_literal("http://2130706433/hook").is_some());
        assert!(refused_literal("http://[::ffff:10.0.0.1]:8080/hook").is_some());
        assert!(refused_literal("https://example.com/hook").is_none());
        assert!(refused_literal("https://93.184.216.34/hook").is_none());
    }
}
