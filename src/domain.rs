//! Validated value types shared by the domains. Money is an integer number of minor units
//! with an ISO 4217 currency; ids are integers inside and opaque strings outside.

pub mod currencies;
pub mod locale;

use serde::{Serialize, Serializer};

/// An ISO 4217 currency code (three ASCII uppercase letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Option<Currency> {
        let b = s.as_bytes();
        (b.len() == 3 && b.iter().all(|c| c.is_ascii_uppercase())).then(|| Currency([b[0], b[1], b[2]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("only ASCII letters are stored")
    }
}

/// A new shop's default currency (the `currencies` setting's own default).
impl Default for Currency {
    fn default() -> Currency {
        Currency::USD
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `{"amount": 1999, "currency": "USD"}`: never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money { amount, currency }
    }
}

/// An integer id, shown to clients as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub i64);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

/// A URL slug: 1–200 of `a-z`, `0-9` and `-`.
/// What [`is_slug`] accepts, as the OpenAPI document states it.
pub const SLUG_PATTERN: &str = "^[a-z0-9-]{1,200}$";

pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A slug made from a name: lower-case ASCII letters and digits, a dash for each run of
/// anything else, none at the ends.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A timestamp as RFC 3339 UTC in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; crate::util::RFC3339_LEN];
        s.serialize_str(crate::util::rfc3339_into(self.0, &mut buf))
    }
}

/// An id as a client sends it: the opaque string it was given (a JSON number is accepted
/// too). Parsed at the boundary; `Id::parse` refuses anything that is not one of ours.
impl Id {
    pub fn parse(s: &str) -> Option<Id> {
        (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|v| *v > 0)
            .map(Id)
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(i64),
        }
        let bad = || serde::de::Error::custom("not a valid id");
        match Raw::deserialize(d).map_err(|_: D::Error| bad())? {
            Raw::S(s) => Id::parse(&s).ok_or_else(bad),
            Raw::N(n) if n > 0 => Ok(Id(n)),
            Raw::N(_) => Err(bad()),
        }
    }
}

/// An e-mail address of the shape `local@domain.tld`: one `@`, no spaces or control
/// characters, at most 64 characters before the `@` and 254 in all. Compared
/// case-insensitively by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The rule as the OpenAPI document states it (with `maxLength` 254).
    pub const PATTERN: &'static str = r"^[^@\s\x00-\x1F\x7F-\x9F]{1,64}@[^@\s.\x00-\x1F\x7F-\x9F]([^@\s\x00-\x1F\x7F-\x9F]*[^@\s.\x00-\x1F\x7F-\x9F])?\.[^@\s\x00-\x1F\x7F-\x9F]*[^@\s.\x00-\x1F\x7F-\x9F]$";

    pub fn parse(s: &str) -> Result<Email, String> {
        let bad = || "must be an e-mail address".to_owned();
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let visible = |part: &str| !part.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@');
        let ok = s.chars().count() <= 254
            && (1..=64).contains(&local.chars().count())
            && visible(local)
            && visible(domain)
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.chars().skip(1).any(|c| c == '.');
        if ok {
            Ok(Email(s.to_owned()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 256 characters. Never logged, never stored (only its argon2 hash).
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(s: &str) -> Result<NewPassword, String> {
        match s.chars().count() {
            0..=7 => Err("must be at least 8 characters".into()),
            257.. => Err("must be at most 256 characters".into()),
            _ => Ok(NewPassword(s.to_owned())),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// A quantity of one line: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(pub i64);

impl Quantity {
    pub const MAX: i64 = 1000;

    pub fn parse(n: i64) -> Result<Quantity, String> {
        if (1..=Quantity::MAX).contains(&n) {
            Ok(Quantity(n))
        } else {
            Err(format!("must be between 1 and {}", Quantity::MAX))
        }
    }
}

/// How an order is paid: one of the offline methods the shop settles itself, or a payment
/// provider's reference (`pm_card_visa`, a PayPal order id, ...), kept with the order and
/// matched against the provider's payment webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMethod {
    Offline(&'static str),
    Provider(String),
}

impl PaymentMethod {
    /// Methods the shop settles without a provider.
    pub const OFFLINE: &'static [&'static str] = &["card", "paypal", "bank_transfer", "cash_on_delivery"];
    /// Longest provider reference.
    pub const MAX_LEN: usize = 255;
    /// The rule as the OpenAPI document states it: 1 to 255 visible ASCII characters.
    pub const PATTERN: &'static str = "^[!-~]{1,255}$";

    pub fn parse(s: &str) -> Result<PaymentMethod, String> {
        if let Some(name) = Self::OFFLINE.iter().find(|m| **m == s) {
            return Ok(PaymentMethod::Offline(name));
        }
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "must be one of {} or a payment provider's reference of 1 to {} visible ASCII characters",
                Self::OFFLINE.join(", "),
                Self::MAX_LEN
            ));
        }
        Ok(PaymentMethod::Provider(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            PaymentMethod::Offline(name) => name,
            PaymentMethod::Provider(reference) => reference,
        }
    }

    /// A provider's reference, which its payment events must name when they name one.
    pub fn is_provider(&self) -> bool {
        matches!(self, PaymentMethod::Provider(_))
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country(String);

impl Country {
    /// What [`Country::parse`] accepts, as the OpenAPI document states it.
    pub const INPUT_PATTERN: &'static str = "^[A-Za-z]{2}$";

    pub fn parse(s: &str) -> Result<Country, String> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Country(s.to_ascii_uppercase()))
        } else {
            Err("must be a two-letter country code (ISO 3166-1)".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short line of text a person typed (a name, an address line): at most `max`
/// characters as sent, no control characters, trimmed; unless `optional`, something must
/// remain after trimming. (The OpenAPI document states it as `maxLength` and the
/// pattern [`crate::openapi::LINE`], or `OPTIONAL_LINE`.)
pub fn text(s: &str, max: usize, optional: bool) -> Result<String, String> {
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    let s = s.trim();
    if s.is_empty() && !optional {
        return Err("must not be empty".into());
    }
    Ok(s.to_owned())
}

/// A web address a person may follow or a hook may call, as the document states it ([`matches_url_pattern`]
/// checks it): http or https, a host name or address, an optional port, path and query of
/// plain URL characters.
pub const URL_PATTERN: &str =
    "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?([?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$";

/// [`URL_PATTERN`], by hand.
pub fn matches_url_pattern(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else { return false };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let plain = |s: &str, extra: &[u8]| {
        s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@%/-".contains(&b) || extra.contains(&b))
    };
    host_ok && port_ok && plain(path, b"") && query.is_none_or(|q| plain(q, b"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_judged_as_sent_then_trimmed() {
        assert_eq!(text("  Ada  ", 7, false), Ok("Ada".into()));
        assert!(text("  Ada   ", 7, false).is_err(), "the length counts what was sent");
        assert!(text("\tAda", 10, false).is_err(), "a control character at an edge is refused, not trimmed");
        assert!(text("   ", 10, false).is_err());
        assert_eq!(text("   ", 10, true), Ok(String::new()));
    }

    #[test]
    fn emails_have_one_at_and_a_dotted_domain() {
        for ok in ["a@b.co", "ö@ü.de", "x@é.fr"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["a@b@c.com", "a@.b.c", "a@bc", "a@b.c.", " a@b.co", "@b.co"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
