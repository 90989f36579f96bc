//! Rate limits: one mechanism (GCRA, the generic cell rate algorithm) for every route class
//! that costs something or can be abused — logins, registrations, resets, 2FA codes, guest
//! sessions, cart writes, discount codes, gift card codes, checkouts, reviews, searches and catalog reads
//! that missed the cache (hits are answered ahead of the router and cost next to nothing).
//!
//! Each rule has a quota per client address (IPv6 by its /64: one subscriber usually holds
//! a whole /64) and one per account (the bearer token's session, or the e-mail an auth
//! request names). A quota is `N` per period: a burst of `N`, refilled evenly. A refused
//! request gets 429 with `Retry-After`; every answer of a limited route carries
//! `RateLimit: limit=…, remaining=…, reset=…` and `RateLimit-Policy: N;w=SECONDS` (the IETF
//! httpapi draft's fields) for the tightest quota it was checked against.
//!
//! With Redis configured (`redis_url`, the cache on or off) the quotas are shared by every
//! node through [`crate::redis`] (one Lua script per check, GCRA with Redis's clock; keys
//! expire once full again); when Redis is away or slow a node falls back to its own
//! in-memory limiter (governor), so limits hold per node rather than not at all.

use std::net::IpAddr;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::telemetry::Metrics;

/// The route classes that are limited (each route's rule is declared beside it in the
/// route table, `crate::web::routes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Login,
    Register,
    Reset,
    TwoFactor,
    Guest,
    CartWrite,
    Discount,
    GiftCard,
    Checkout,
    Review,
    Search,
    Catalog,
}

impl Rule {
    pub const ALL: [Rule; 12] = [
        Rule::Login,
        Rule::Register,
        Rule::Reset,
        Rule::TwoFactor,
        Rule::Guest,
        Rule::CartWrite,
        Rule::Discount,
        Rule::GiftCard,
        Rule::Checkout,
        Rule::Review,
        Rule::Search,
        Rule::Catalog,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Login => "login",
            Rule::Register => "register",
            Rule::Reset => "reset",
            Rule::TwoFactor => "two_factor",
            Rule::Guest => "guest",
            Rule::CartWrite => "cart_write",
            Rule::Discount => "discount",
            Rule::GiftCard => "gift_card",
            Rule::Checkout => "checkout",
            Rule::Review => "review",
            Rule::Search => "search",
            Rule::Catalog => "catalog",
        }
    }
}

/// `N` requests per period (a burst of `N`, refilled evenly), written `"N/PERIOD"` with
/// the period in `s`, `m` or `h`, e.g. `"30/1m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate, String> {
        let bad = || format!("{s:?} is not a rate like \"30/1m\" (N per a period in s, m or h)");
        let (n, p) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let p = p.trim();
        let unit = match p.chars().last() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            _ => return Err(bad()),
        };
        let amount: u64 = p[..p.len() - 1].parse().map_err(|_| bad())?;
        if count == 0 || count > 1_000_000 || amount == 0 || amount * unit > 86_400 {
            return Err(format!("{s:?}: the count must be 1 to 1000000 and the period 1 s to 24 h"));
        }
        Ok(Rate { count, period: Duration::from_secs(amount * unit) })
    }

    /// The time one request's allowance takes to come back.
    fn interval(self) -> Duration {
        self.period / self.count
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.period.as_secs();
        match s {
            s if s % 3600 == 0 => write!(f, "{}/{}h", self.count, s / 3600),
            s if s % 60 == 0 => write!(f, "{}/{}m", self.count, s / 60),
            s => write!(f, "{}/{}s", self.count, s),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let s = String::deserialize(d)?;
        Rate::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One rule's quotas; a quota left out does not limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    pub per_address: Option<Rate>,
    pub per_account: Option<Rate>,
}

/// Every rule's quotas (the `[rate_limits.<rule>]` tables of the configuration). A rule
/// given in the file replaces its defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub login: Quotas,
    pub register: Quotas,
    pub reset: Quotas,
    pub two_factor: Quotas,
    pub guest: Quotas,
    pub cart_write: Quotas,
    pub discount: Quotas,
    pub gift_card: Quotas,
    pub checkout: Quotas,
    pub review: Quotas,
    pub search: Quotas,
    pub catalog: Quotas,
}

fn q(per_address: &str, per_account: Option<&str>) -> Quotas {
    Quotas {
        per_address: Some(Rate::parse(per_address).expect("a valid default")),
        per_account: per_account.map(|r| Rate::parse(r).expect("a valid default")),
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            // the account of an auth request is the e-mail it names; failed passwords are
            // throttled separately (auth_failures_per_account)
            login: q("30/1m", Some("10/1m")),
            register: q("10/1h", None),
            reset: q("10/15m", Some("3/15m")),
            two_factor: q("20/1m", Some("10/5m")),
            // offices and mobile carriers put many shoppers behind one address
            guest: q("120/1h", None),
            cart_write: q("600/1m", Some("120/1m")),
            discount: q("60/10m", Some("10/10m")),
            // a code is looked up by hash and guessing 80 bits is hopeless; still, nobody
            // needs more tries than this
            gift_card: q("30/10m", Some("10/10m")),
            checkout: q("60/10m", Some("10/10m")),
            review: q("30/1h", Some("10/1h")),
            search: q("300/1m", None),
            catalog: q("1200/1m", None),
        }
    }
}

impl RateLimits {
    pub fn of(&self, rule: Rule) -> Quotas {
        match rule {
            Rule::Login => self.login,
            Rule::Register => self.register,
            Rule::Reset => self.reset,
            Rule::TwoFactor => self.two_factor,
            Rule::Guest => self.guest,
            Rule::CartWrite => self.cart_write,
            Rule::Discount => self.discount,
            Rule::GiftCard => self.gift_card,
            Rule::Checkout => self.checkout,
            Rule::Review => self.review,
            Rule::Search => self.search,
            Rule::Catalog => self.catalog,
        }
    }
}

/// Which quota of a rule a key counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Address,
    Account,
}

type Local = governor::RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The outcome of a check against the tightest quota it met.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// seconds until the quota is full again (allowed) or the next request may pass (refused)
    pub reset_secs: u64,
    pub window_secs: u64,
}

pub struct Limiter {
    enabled: bool,
    rules: Vec<(Rule, Dim, Rate, Local)>,
    /// the node's Redis, when configured: quotas shared by every node
    shared: Option<std::sync::Arc<crate::redis::Redis>>,
}

impl Limiter {
    pub fn new(config: &crate::config::Config, shared: Option<std::sync::Arc<crate::redis::Redis>>) -> Limiter {
        let mut rules = Vec::new();
        for rule in Rule::ALL {
            let quotas = config.rate_limits.of(rule);
            for (dim, rate) in [(Dim::Address, quotas.per_address), (Dim::Account, quotas.per_account)] {
                if let Some(rate) = rate {
                    let burst = std::num::NonZeroU32::new(rate.count).expect("rates count at least 1");
                    let quota = governor::Quota::with_period(rate.interval())
                        .expect("a period over a count is never zero")
                        .allow_burst(burst);
                    let local = governor::RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>();
                    rules.push((rule, dim, rate, local));
                }
            }
        }
        Limiter { enabled: config.rate_limits_enabled, rules, shared }
    }

    /// Checks one request of `rule` against each of its quotas that has a key here.
    /// Every quota is charged (a refused request counts too: a flood does not get through
    /// by alternating).
    pub async fn check(&self, rule: Rule, keys: &[(Dim, &str)]) -> Option<Verdict> {
        if !self.enabled {
            return None;
        }
        let mut tightest: Option<Verdict> = None;
        for (r, dim, rate, local) in &self.rules {
            if *r != rule {
                continue;
            }
            let Some((_, key)) = keys.iter().find(|(d, _)| d == dim) else { continue };
            let key = format!("{}:{}:{}", rule.name(), if *dim == Dim::Address { "a" } else { "u" }, key);
            if local.len() >= MAX_KEYS {
                local.retain_recent();
            }
            let shared = match &self.shared {
                Some(redis) => redis.rate_limit(&key, rate.interval(), rate.count).await,
                None => None,
            };
            let v = match shared {
                Some((allowed, remaining, wait)) => Verdict {
                    allowed,
                    limit: rate.count,
                    remaining,
                    reset_secs: if allowed {
                        (rate.interval() * (rate.count - remaining)).as_secs()
                    } else {
                        wait.as_secs_f64().ceil() as u64
                    }
                    .max(1),
                    window_secs: rate.period.as_secs(),
                },
                None => match local.check_key(&key) {
                    Ok(snapshot) => {
                        let remaining = snapshot.remaining_burst_capacity();
                        Verdict {
                            allowed: true,
                            limit: rate.count,
                            remaining,
                            reset_secs: (rate.interval() * (rate.count - remaining.min(rate.count))).as_secs().max(1),
                            window_secs: rate.period.as_secs(),
                        }
                    }
                    Err(not_until) => Verdict {
                        allowed: false,
                        limit: rate.count,
                        remaining: 0,
                        reset_secs: (not_until.wait_time_from(DefaultClock::default().now()).as_secs_f64().ceil()
                            as u64)
                            .max(1),
                        window_secs: rate.period.as_secs(),
                    },
                },
            };
            // a refused request is charged nothing more
            if !v.allowed {
                return Some(v);
            }
            tightest = Some(match tightest {
                None => v,
                Some(t) if !t.allowed => t,
                Some(_) if !v.allowed => v,
                Some(t) => {
                    if v.remaining < t.remaining {
                        v
                    } else {
                        t
                    }
                }
            });
        }
        tightest
    }

    /// Keys the local limiters hold (the memory they take grows with it).
    pub fn keys(&self) -> usize {
        self.rules.iter().map(|(_, _, _, local)| local.len()).sum()
    }

    /// Forgets keys whose quotas are full again (memory stays bounded by recent clients).
    pub fn upkeep(&self) {
        for (_, _, _, local) in &self.rules {
            local.retain_recent();
            local.shrink_to_fit();
        }
    }
}

/// The key of a client address: the address itself, or an IPv6 address's /64.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// [`address_key`] of an address as text (a session records its client's address so);
/// text that is no address is its own key.
pub fn address_key_of(addr: &str) -> String {
    addr.parse::<IpAddr>().map_or_else(|_| addr.to_owned(), address_key)
}

/// A request's per-session quota, left for the `Session` extractor to charge once the
/// bearer token is authenticated (a token nobody issued is never a key, and costs no
/// memory); taken out when charged, so a request pays it once.
#[derive(Debug, Clone, Copy)]
pub struct AccountQuota(pub Rule);

/// Keys one node's local limiter of a rule keeps at most: past it, keys whose quotas are
/// full again are forgotten at once (as [`Limiter::upkeep`] does periodically).
const MAX_KEYS: usize = 100_000;

/// The 429 of a refused request.
pub fn refused(rule: Rule, v: &Verdict) -> ApiError {
    let mut e = ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many {} requests; retry in {} s", rule.name().replace('_', " "), v.reset_secs),
    );
    e.retry_after = Some(v.reset_secs);
    e.with_detail("rule", serde_json::json!(rule.name()))
}

impl Limiter {
    /// A check of `rule` by account only (the e-mail an auth request names), from a handler.
    pub async fn check_account(&self, metrics: &Metrics, rule: Rule, account: &str) -> Result<(), ApiError> {
        match self.check(rule, &[(Dim::Account, account)]).await {
            Some(v) if !v.allowed => {
                metrics.rate_limited(rule.name());
                Err(refused(rule, &v))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        let r = Rate::parse("30/1m").unwrap();
        assert_eq!((r.count, r.period), (30, Duration::from_secs(60)));
        assert_eq!(r.to_string(), "30/1m");
        assert_eq!(Rate::parse(" 5 / 15m ").unwrap().to_string(), "5/15m");
        assert_eq!(Rate::parse("100/2h").unwrap().period, Duration::from_secs(7200));
        for bad in ["", "30", "0/1m", "30/0m", "30/1d", "x/1m", "30/25h", "-1/1m"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    /// A request one quota refuses is charged no other.
    #[tokio::test]
    async fn a_refused_request_is_charged_nothing_more() {
        let mut c = crate::config::Config { rate_limits_enabled: true, ..Default::default() };
        c.rate_limits.checkout.per_address = Some(Rate::parse("1/1m").unwrap());
        c.rate_limits.checkout.per_account = Some(Rate::parse("3/1m").unwrap());
        let l = Limiter::new(&c, None);
        let both = [(Dim::Address, "192.0.2.1"), (Dim::Account, "s1")];
        assert!(l.check(Rule::Checkout, &both).await.unwrap().allowed);
        for _ in 0..5 {
            assert!(!l.check(Rule::Checkout, &both).await.unwrap().allowed, "the address is over");
        }
        // the account paid once, for the first request only
        let account = l.check(Rule::Checkout, &[(Dim::Account, "s1")]).await.unwrap();
        assert!(account.allowed && account.remaining == 1, "{account:?}");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
