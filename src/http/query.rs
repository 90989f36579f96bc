//! Query strings parsed into validated values at the boundary.
//!
//! Rules: percent-decoding must yield UTF-8 (else 400 `invalid_query`); a parameter may
//! appear once (else 400); parameters an endpoint does not know are refused (400
//! `unknown_parameter`), so a typo like `min_prcie` is reported instead of silently
//! ignored; every value problem is collected and reported together as one 422 naming each
//! bad field.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// Longest query string accepted (bytes); longer is 414.
pub const MAX_QUERY_LEN: usize = 4096;

pub struct QueryParams {
    pairs: Vec<(String, String)>,
    errors: BTreeMap<String, String>,
    /// each accepted parameter's value in its one canonical spelling (see [`Canonical`])
    accepted: BTreeMap<String, String>,
}

/// The accepted parameters of a request, spelled one way: sorted by name, each value as
/// parsed (`page=02` is `page=2`, `in_stock=1` is `in_stock=true`, text trimmed, empty
/// text left out) and percent-encoded alike. Response-cache keys are built from it, so a
/// query reordered or re-encoded is the same entry, not another miss.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Canonical(pub String);

/// What is percent-encoded in a canonical value: everything but unreserved characters.
const ENCODE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl Canonical {
    /// The cache key of `path` with these parameters.
    pub fn key(&self, path: &str) -> String {
        if self.0.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", self.0)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        QueryParams::parse(parts.uri.query().unwrap_or(""))
    }
}

fn decode(raw: &str) -> Option<String> {
    let bytes: Vec<u8> = raw.bytes().map(|b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&bytes).decode_utf8().ok().map(|s| s.into_owned())
}

impl QueryParams {
    pub fn parse(query: &str) -> Result<QueryParams, ApiError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(ApiError::new(
                axum::http::StatusCode::URI_TOO_LONG,
                "uri_too_long",
                format!("the query string is longer than {MAX_QUERY_LEN} bytes"),
            ));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (Some(k), Some(v)) = (decode(k), decode(v)) else {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "the query string is not valid percent-encoded UTF-8",
                ));
            };
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(ApiError::bad_request("invalid_query", format!("parameter {k:?} is given more than once"))
                    .with_detail(&k, "given more than once"));
            }
            pairs.push((k, v));
        }
        Ok(QueryParams { pairs, errors: BTreeMap::new(), accepted: BTreeMap::new() })
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == name)?;
        Some(self.pairs.swap_remove(i).1)
    }

    fn accept(&mut self, name: &str, value: impl std::fmt::Display) {
        self.accepted.insert(name.to_owned(), value.to_string());
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.entry(name.to_owned()).or_insert_with(|| message.into());
    }

    /// Whether the parameter was sent at all (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// A text value, trimmed; empty counts as absent. Longer than `max` chars is an error.
    pub fn text(&mut self, name: &str, max: usize) -> Option<String> {
        let v = self.take(name)?;
        if v.chars().count() > max {
            self.error(name, format!("must be at most {max} characters"));
            return None;
        }
        if v.chars().any(|c| c.is_control()) {
            self.error(name, "must not contain control characters");
            return None;
        }
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        self.accept(name, v);
        Some(v.to_owned())
    }

    /// Like [`text`](Self::text) but an empty value is returned as `Some("")`.
    pub fn raw(&mut self, name: &str, max: usize) -> Option<String> {
        let v = self.take(name)?;
        // characters, as the document's maxLength counts them
        if v.chars().count() > max {
            self.error(name, format!("must be at most {max} characters"));
            return None;
        }
        self.accept(name, &v);
        Some(v)
    }

    /// An integer within `[min, max]`.
    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.take(name)?;
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => {
                self.accept(name, n);
                Some(n)
            }
            Ok(_) => {
                self.error(name, format!("must be between {min} and {max}"));
                None
            }
            Err(_) => {
                self.error(name, format!("must be a whole number between {min} and {max}"));
                None
            }
        }
    }

    /// `true`/`false` (also `1`/`0`).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let v = self.take(name)?;
        let b = match v.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                self.error(name, "must be true or false");
                None
            }
        };
        if let Some(b) = b {
            self.accept(name, b);
        }
        b
    }

    /// One of `choices`.
    pub fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Option<T> {
        let v = self.take(name)?;
        match choices.iter().find(|(k, _)| *k == v.trim()) {
            Some((k, t)) => {
                self.accept(name, k);
                Some(*t)
            }
            None => {
                let names: Vec<&str> = choices.iter().map(|(k, _)| *k).collect();
                self.error(name, format!("must be one of: {}", names.join(", ")));
                None
            }
        }
    }

    /// Ends parsing: refuses unknown parameters (400), then reports collected value
    /// errors (422); otherwise the accepted parameters, canonically spelled.
    pub fn finish(self) -> Result<Canonical, ApiError> {
        if !self.pairs.is_empty() {
            let mut e =
                ApiError::bad_request("unknown_parameter", format!("unknown query parameter {:?}", self.pairs[0].0));
            for (k, _) in &self.pairs {
                e = e.with_detail(k, "not a parameter of this endpoint");
            }
            return Err(e);
        }
        if !self.errors.is_empty() {
            return Err(ApiError::validation(self.errors));
        }
        let mut out = String::new();
        for (k, v) in &self.accepted {
            if !out.is_empty() {
                out.push('&');
            }
            out.extend(percent_encoding::utf8_percent_encode(k, ENCODE));
            out.push('=');
            out.extend(percent_encoding::utf8_percent_encode(v, ENCODE));
        }
        Ok(Canonical(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_request() {
        let canon = |q: &str| {
            let mut p = QueryParams::parse(q).unwrap();
            p.int("page", 1, 100);
            p.boolean("in_stock");
            p.text("q", 100);
            p.choice("sort", &[("newest", 0), ("price_asc", 1)]);
            p.finish().unwrap().key("/api/products")
        };
        let a = canon("page=2&in_stock=true&q=red+shoes&sort=price_asc");
        assert_eq!(a, "/api/products?in_stock=true&page=2&q=red%20shoes&sort=price_asc");
        for same in [
            "sort=price_asc&q=red%20shoes&page=02&in_stock=1",
            "q=%72ed+shoes&in_stock=true&sort=price_asc&page=+2",
            "page=2&in_stock=true&q=++red+shoes++&sort=price_asc",
        ] {
            assert_eq!(canon(same), a, "{same}");
        }
        assert_eq!(canon(""), "/api/products");
        assert_eq!(canon("q="), "/api/products", "empty text is absent");
        assert_ne!(canon("page=3"), canon("page=2"));
    }

    #[test]
    fn parses_and_validates() {
        let mut q = QueryParams::parse("page=2&q=red+shoes&sort=price_asc&x=%E2%9C%93").unwrap();
        assert_eq!(q.int("page", 1, 10), Some(2));
        assert_eq!(q.text("q", 100).as_deref(), Some("red shoes"));
        assert_eq!(q.choice("sort", &[("price_asc", 1), ("newest", 0)]), Some(1));
        assert_eq!(q.text("x", 5).as_deref(), Some("✓"));
        assert!(q.finish().is_ok());
    }

    #[test]
    fn refuses_bad_encoding_duplicates_unknown_and_bad_values() {
        assert_eq!(QueryParams::parse("q=%FF").err().unwrap().code, "invalid_query");
        assert_eq!(QueryParams::parse("a=1&a=2").err().unwrap().code, "invalid_query");
        let long = "q=".to_owned() + &"a".repeat(MAX_QUERY_LEN);
        assert_eq!(QueryParams::parse(&long).err().unwrap().status.as_u16(), 414);
        let q = QueryParams::parse("nope=1").unwrap();
        assert_eq!(q.finish().unwrap_err().code, "unknown_parameter");
        let mut q = QueryParams::parse("page=-1&per_page=abc").unwrap();
        q.int("page", 1, 10);
        q.int("per_page", 1, 10);
        let e = q.finish().unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.details.contains_key("page") && e.details.contains_key("per_page"));
    }
}
