//! Query strings parsed into validated values at the boundary.
//!
//! Rules: percent-decoding must yield UTF-8 (else 400 `invalid_query`); a parameter may
//! appear once (else 400); parameters an endpoint does not know are refused (400
//! `unknown_parameter`), so a typo like `min_prcie` is reported instead of silently
//! ignored; every value problem is collected and reported together as one 422 naming each
//! bad field.
//!
//! Each parameter is spelled once, as a [`Param`] constant beside its handler: name, kind,
//! bounds, default and doc. The handler reads the request through it and the OpenAPI
//! document describes it from it ([`query_params!`]), so the two
//! cannot disagree.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::Required;

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
    /// the request's `Accept-Language`, for [`QueryParams::locale`] (the header's bytes,
    /// shared, not copied)
    accept_language: Option<axum::http::HeaderValue>,
    /// the request's `Authorization`, for answers whose prices depend on the shopper's
    /// customer groups (see [`QueryParams::bearer`])
    authorization: Option<axum::http::HeaderValue>,
    /// the shopper's customer groups as a page knows them (its session), for the same
    groups: Option<Vec<i64>>,
    /// a value was chosen by a header rather than the query (see [`Canonical::negotiated`])
    negotiated: bool,
}

/// The accepted parameters of a request, spelled one way: sorted by name, each value as
/// parsed (`page=02` is `page=2`, `in_stock=1` is `in_stock=true`, text trimmed, empty
/// text left out) and percent-encoded alike. Response-cache keys are built from it, so a
/// query reordered or re-encoded is the same entry, not another miss.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Canonical {
    pub query: String,
    /// a request header chose part of the answer (`Accept-Language` the language): the key
    /// says which, but the request's own target does not, so it must not name the entry
    pub negotiated: bool,
}

/// What is percent-encoded in a canonical value: everything but unreserved characters.
const ENCODE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl Canonical {
    /// The cache key of `path` with these parameters.
    pub fn key(&self, path: &str) -> String {
        if self.query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", self.query)
        }
    }
}

/// `name=value&…` with each part percent-encoded as in a canonical key, in the order given.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.extend(percent_encoding::utf8_percent_encode(k, ENCODE));
        out.push('=');
        out.extend(percent_encoding::utf8_percent_encode(v, ENCODE));
    }
    out
}

/// A raw parameter's pattern in code: why a value does not match it.
pub type FormCheck = fn(&str) -> Result<(), String>;

/// One query parameter: its name, what it accepts and its one-line doc.
#[derive(Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    doc: &'static str,
    required: bool,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Int {
        min: i64,
        max: i64,
        default: Option<i64>,
    },
    /// `true`/`false` (also `1`/`0`); absent is false
    Bool,
    /// trimmed; empty is absent
    Text {
        max: usize,
        shape: Shape,
    },
    /// as sent, empty kept; `pattern` (anchored) states what it accepts, and `check` is that
    /// pattern in code (said beside the parameter when a value fails it)
    Raw {
        max: usize,
        pattern: Option<(&'static str, FormCheck)>,
    },
    /// one of the names; the first is the default when `defaulted`
    Choice {
        names: fn() -> Vec<&'static str>,
        defaulted: bool,
    },
}

/// What a text parameter holds beyond "no control characters".
#[derive(Clone, Copy)]
pub enum Shape {
    /// any line of text
    Line,
    /// at least one letter or digit
    Words,
    /// a comma-separated list of these names
    List(&'static [&'static str]),
    /// a two-letter country code, either case
    Country,
    /// a language tag (`de`, `pt-BR`), either case
    Locale,
}

/// No control characters (C0, DEL, C1): what every text parameter refuses.
const CHAR: &str = r"[^\x00-\x1F\x7F-\x9F]";
/// White space that is not a control character.
const SPACE: &str = r"[^\S\x00-\x1F\x7F-\x9F]";

impl Shape {
    /// The shape as a regular expression (unanchored).
    fn body(self) -> String {
        match self {
            Shape::Line => format!("{CHAR}*"),
            Shape::Words => format!(r"{CHAR}*[^\W_]{CHAR}*"),
            Shape::List(names) => {
                let one = format!("({})", names.join("|"));
                format!("{SPACE}*{one}({SPACE}*,{SPACE}*{one})*{SPACE}*")
            }
            Shape::Country => {
                crate::domain::Country::INPUT_PATTERN.trim_start_matches('^').trim_end_matches('$').to_owned()
            }
            Shape::Locale => "[A-Za-z]{2,3}(-[A-Za-z]{2})?".to_owned(),
        }
    }
}

impl Param {
    const fn new(name: &'static str, kind: Kind) -> Param {
        Param { name, doc: "", required: false, kind }
    }

    /// An integer within `[min, max]`.
    pub const fn int(name: &'static str, min: i64, max: i64) -> Param {
        Param::new(name, Kind::Int { min, max, default: None })
    }

    /// `true`/`false` (also `1`/`0`), false when absent.
    pub const fn flag(name: &'static str) -> Param {
        Param::new(name, Kind::Bool)
    }

    /// Text of at most `max` characters, trimmed; blank is absent.
    pub const fn text(name: &'static str, max: usize, shape: Shape) -> Param {
        Param::new(name, Kind::Text { max, shape })
    }

    /// Text as sent (an empty value is kept: it may mean "the first page").
    pub const fn raw(name: &'static str, max: usize) -> Param {
        Param::new(name, Kind::Raw { max, pattern: None })
    }

    /// Raw text accepted only whole-matching `pattern` (anchored), which `check` tests.
    pub const fn raw_matching(name: &'static str, max: usize, pattern: &'static str, check: FormCheck) -> Param {
        Param::new(name, Kind::Raw { max, pattern: Some((pattern, check)) })
    }

    pub const fn doc(mut self, doc: &'static str) -> Param {
        self.doc = doc;
        self
    }

    pub const fn required(mut self) -> Param {
        self.required = true;
        self
    }

    /// The value used when an integer parameter is absent.
    pub const fn default(mut self, value: i64) -> Param {
        if let Kind::Int { min, max, .. } = self.kind {
            self.kind = Kind::Int { min, max, default: Some(value) };
        } else {
            panic!("only an integer parameter has a numeric default");
        }
        self
    }

    /// The parameter as the OpenAPI document states it.
    pub fn parameter(&self) -> Parameter {
        let schema = match self.kind {
            Kind::Int { min, max, default } => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(min))
                .maximum(Some(max))
                .default(default.map(Into::into)),
            Kind::Bool => ObjectBuilder::new().schema_type(Type::Boolean).default(Some(false.into())),
            Kind::Text { max, shape } => {
                let body = shape.body();
                // blank is absent: an optional parameter also takes white space alone
                let blank_too = !self.required && !matches!(shape, Shape::Line);
                let pattern = if blank_too { format!("^({SPACE}*|{body})$") } else { format!("^{body}$") };
                ObjectBuilder::new().schema_type(Type::String).max_length(Some(max)).pattern(Some(pattern))
            }
            Kind::Raw { max, pattern } => {
                ObjectBuilder::new().schema_type(Type::String).max_length(Some(max)).pattern(pattern.map(|(p, _)| p))
            }
            Kind::Choice { names, defaulted } => {
                let names = names();
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .default(if defaulted { names.first().map(|n| (*n).into()) } else { None })
                    .enum_values(Some(names))
            }
        };
        ParameterBuilder::new()
            .name(self.name)
            .parameter_in(ParameterIn::Query)
            .required(if self.required { Required::True } else { Required::False })
            .description((!self.doc.is_empty()).then_some(self.doc))
            .schema(Some(schema))
            .build()
    }
}

/// The values a choice parameter takes, by name; the first is the default where the
/// parameter has one.
pub trait Choice: Copy + 'static {
    fn choices() -> Vec<(&'static str, Self)>;
}

fn names<T: Choice>() -> Vec<&'static str> {
    T::choices().into_iter().map(|(n, _)| n).collect()
}

/// A parameter that takes one of `T`'s names.
pub struct OneOf<T> {
    pub param: Param,
    _t: PhantomData<fn() -> T>,
}

impl<T: Choice> OneOf<T> {
    pub const fn new(name: &'static str, doc: &'static str) -> OneOf<T> {
        OneOf {
            param: Param::new(name, Kind::Choice { names: names::<T>, defaulted: false }).doc(doc),
            _t: PhantomData,
        }
    }

    /// Absent is the first of `T`'s choices.
    pub const fn defaulted(name: &'static str, doc: &'static str) -> OneOf<T> {
        OneOf { param: Param::new(name, Kind::Choice { names: names::<T>, defaulted: true }).doc(doc), _t: PhantomData }
    }
}

/// A unit type whose `IntoParams` lists these [`Param`]s (or `OneOf`s' `.param`), for
/// `#[utoipa::path(params(..))]`.
macro_rules! query_params {
    ($(#[$m:meta])* $vis:vis struct $name:ident [$($p:expr),* $(,)?]) => {
        $(#[$m])*
        $vis struct $name;
        impl utoipa::IntoParams for $name {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                vec![$($crate::http::query::Param::parameter(&$p)),*]
            }
        }
    };
}
pub(crate) use query_params;

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut q = QueryParams::parse(parts.uri.query().unwrap_or(""))?;
        q.accept_language = parts.headers.get(axum::http::header::ACCEPT_LANGUAGE).cloned();
        q.authorization = parts.headers.get(axum::http::header::AUTHORIZATION).cloned();
        Ok(q)
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
        Ok(QueryParams {
            pairs,
            errors: BTreeMap::new(),
            accepted: BTreeMap::new(),
            accept_language: None,
            authorization: None,
            groups: None,
            negotiated: false,
        })
    }

    /// The bearer token of the request's `Authorization`, if it names one.
    pub fn bearer(&self) -> Option<&str> {
        let v = self.authorization.as_ref()?.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 128).then_some(token)
    }

    /// The shopper's customer groups, as a page that knows its session sets them.
    pub fn with_groups(mut self, groups: Vec<i64>) -> QueryParams {
        self.groups = Some(groups);
        self
    }

    /// The groups [`QueryParams::with_groups`] set.
    pub fn groups(&self) -> Option<&[i64]> {
        self.groups.as_deref()
    }

    /// A part of the answer that the request's headers (or session) chose rather than its
    /// query: in the cache key, and the request's own target never names the entry.
    pub fn negotiate(&mut self, name: &str, value: impl std::fmt::Display) {
        self.accept(name, value);
        self.negotiated = true;
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

    /// The parameters as sent (decoded), in order; those read so far are gone.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether the parameter was sent at all (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// A required parameter that is absent is an error.
    fn absent(&mut self, p: &Param) {
        if p.required {
            self.error(p.name, "is required");
        }
    }

    /// A text parameter, trimmed; blank counts as absent. Too long, control characters or
    /// a shape it does not have is an error.
    pub fn text(&mut self, p: &Param) -> Option<String> {
        let Kind::Text { max, shape } = p.kind else { panic!("{} is not a text parameter", p.name) };
        let Some(v) = self.take(p.name) else {
            self.absent(p);
            return None;
        };
        if v.chars().count() > max {
            self.error(p.name, format!("must be at most {max} characters"));
            return None;
        }
        if v.chars().any(|c| c.is_control()) {
            self.error(p.name, "must not contain control characters");
            return None;
        }
        let v = v.trim();
        if v.is_empty() {
            self.absent(p);
            return None;
        }
        let refused = match shape {
            Shape::Line | Shape::List(_) => None,
            Shape::Words => {
                (!v.chars().any(char::is_alphanumeric)).then(|| "must contain at least one letter or digit".to_owned())
            }
            Shape::Country => crate::domain::Country::parse(v).err(),
            Shape::Locale => {
                let (lang, region) = v.split_once('-').map_or((v, None), |(l, r)| (l, Some(r)));
                let ok = (2..=3).contains(&lang.len())
                    && lang.bytes().all(|b| b.is_ascii_alphabetic())
                    && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()));
                (!ok).then(|| "must be a language tag, like de or pt-BR".to_owned())
            }
        };
        if let Some(message) = refused {
            self.error(p.name, message);
            return None;
        }
        self.accept(p.name, v);
        Some(v.to_owned())
    }

    /// The language of a catalog answer (see [`crate::domain::locale::choose`]): `p`'s
    /// value (a language tag) when sent, else the `Accept-Language` header's choice, among
    /// `enabled` (the `locales` setting); `None` for the default. The canonical key holds
    /// the language chosen (not the one asked for), whichever way it was chosen.
    pub fn locale(&mut self, p: &Param, enabled: &[&str]) -> Option<String> {
        let asked = self.text(p);
        self.accepted.remove(p.name);
        let header = self.accept_language.as_ref().and_then(|v| v.to_str().ok());
        let chosen = crate::domain::locale::choose(asked.as_deref(), header, enabled);
        if let Some(l) = &chosen {
            self.accept(p.name, l);
            if asked.is_none() {
                self.negotiated = true;
            }
        }
        chosen
    }

    /// A raw parameter as sent: an empty value is returned as `Some("")`.
    pub fn raw(&mut self, p: &Param) -> Option<String> {
        let Kind::Raw { max, pattern } = p.kind else { panic!("{} is not a raw parameter", p.name) };
        let Some(v) = self.take(p.name) else {
            self.absent(p);
            return None;
        };
        // characters, as the document's maxLength counts them
        if v.chars().count() > max {
            self.error(p.name, format!("must be at most {max} characters"));
            return None;
        }
        if let Some((_, check)) = pattern {
            if let Err(why) = check(&v) {
                self.error(p.name, why);
                return None;
            }
        }
        self.accept(p.name, &v);
        Some(v)
    }

    /// An integer parameter within its bounds, as sent.
    pub fn int(&mut self, p: &Param) -> Option<i64> {
        let Kind::Int { min, max, .. } = p.kind else { panic!("{} is not an integer parameter", p.name) };
        let Some(v) = self.take(p.name) else {
            self.absent(p);
            return None;
        };
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => {
                self.accept(p.name, n);
                Some(n)
            }
            Ok(_) => {
                self.error(p.name, format!("must be between {min} and {max}"));
                None
            }
            Err(_) => {
                self.error(p.name, format!("must be a whole number between {min} and {max}"));
                None
            }
        }
    }

    /// An integer parameter, or its default when absent (or wrong: the error is reported).
    pub fn int_or_default(&mut self, p: &Param) -> i64 {
        let Kind::Int { default: Some(default), .. } = p.kind else { panic!("{} has no default", p.name) };
        self.int(p).unwrap_or(default)
    }

    /// A flag: false when absent.
    pub fn flag(&mut self, p: &Param) -> bool {
        assert!(matches!(p.kind, Kind::Bool), "{} is not a flag", p.name);
        let Some(v) = self.take(p.name) else { return false };
        match v.trim() {
            "true" | "1" => {
                self.accept(p.name, true);
                true
            }
            "false" | "0" => {
                self.accept(p.name, false);
                false
            }
            _ => {
                self.error(p.name, "must be true or false");
                false
            }
        }
    }

    /// One of `T`'s choices, by name.
    pub fn one_of<T: Choice>(&mut self, p: &OneOf<T>) -> Option<T> {
        let name = p.param.name;
        let Some(v) = self.take(name) else {
            self.absent(&p.param);
            return None;
        };
        let choices = T::choices();
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

    /// One of `T`'s choices, the first when absent.
    pub fn one_of_or_default<T: Choice>(&mut self, p: &OneOf<T>) -> T {
        assert!(matches!(p.param.kind, Kind::Choice { defaulted: true, .. }), "{} has no default", p.param.name);
        self.one_of(p).unwrap_or_else(|| T::choices()[0].1)
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
        Ok(Canonical { query: out, negotiated: self.negotiated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Order {
        Newest,
        PriceAsc,
    }
    impl Choice for Order {
        fn choices() -> Vec<(&'static str, Order)> {
            vec![("newest", Order::Newest), ("price_asc", Order::PriceAsc)]
        }
    }
    const PAGE: Param = Param::int("page", 1, 100).default(1);
    const IN_STOCK: Param = Param::flag("in_stock");
    const Q: Param = Param::text("q", 100, Shape::Words);
    const SORT: OneOf<Order> = OneOf::defaulted("sort", "");

    #[test]
    fn one_spelling_per_request() {
        let canon = |q: &str| {
            let mut p = QueryParams::parse(q).unwrap();
            p.int(&PAGE);
            p.flag(&IN_STOCK);
            p.text(&Q);
            p.one_of(&SORT);
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
        assert_eq!(q.int_or_default(&PAGE), 2);
        assert_eq!(q.text(&Q).as_deref(), Some("red shoes"));
        assert_eq!(q.one_of_or_default(&SORT), Order::PriceAsc);
        assert_eq!(q.text(&Param::text("x", 5, Shape::Line)).as_deref(), Some("✓"));
        assert!(q.finish().is_ok());
        let mut q = QueryParams::parse("").unwrap();
        assert_eq!((q.int_or_default(&PAGE), q.one_of_or_default(&SORT), q.flag(&IN_STOCK)), (1, Order::Newest, false));
    }

    #[test]
    fn refuses_bad_encoding_duplicates_unknown_and_bad_values() {
        assert_eq!(QueryParams::parse("q=%FF").err().unwrap().code, "invalid_query");
        assert_eq!(QueryParams::parse("a=1&a=2").err().unwrap().code, "invalid_query");
        let long = "q=".to_owned() + &"a".repeat(MAX_QUERY_LEN);
        assert_eq!(QueryParams::parse(&long).err().unwrap().status.as_u16(), 414);
        let q = QueryParams::parse("nope=1").unwrap();
        assert_eq!(q.finish().unwrap_err().code, "unknown_parameter");
        let mut q = QueryParams::parse("page=-1&per_page=abc&q=%2B%2B&sort=oldest&country=x1").unwrap();
        q.int(&PAGE);
        q.int(&Param::int("per_page", 1, 10));
        q.text(&Q);
        q.one_of(&SORT);
        q.text(&Param::text("country", 2, Shape::Country));
        q.text(&Param::text("needed", 2, Shape::Line).required());
        let e = q.finish().unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        for field in ["page", "per_page", "q", "sort", "country", "needed"] {
            assert!(e.details.contains_key(field), "{field}: {:?}", e.details);
        }
    }

    /// The document states what the reader accepts: bounds, default, length and shape.
    #[test]
    fn the_document_states_the_reader() {
        let json = |p: &Param| serde_json::to_value(p.parameter()).unwrap();
        let page = json(&PAGE);
        assert_eq!((page["schema"]["minimum"].as_i64(), page["schema"]["maximum"].as_i64()), (Some(1), Some(100)));
        assert_eq!(page["schema"]["default"], 1);
        assert_eq!(page["required"], false);
        assert_eq!(json(&SORT.param)["schema"]["enum"], serde_json::json!(["newest", "price_asc"]));
        assert_eq!(json(&SORT.param)["schema"]["default"], "newest");
        let fields = json(&Param::text("fields", 50, Shape::List(&["id", "name"])));
        let pattern = fields["schema"]["pattern"].as_str().unwrap().to_owned();
        assert!(pattern.contains("(id|name)"), "{pattern}");
        let required = json(&Q.required());
        assert_eq!(required["required"], true);
        assert_eq!(required["schema"]["pattern"], format!("^{}$", Shape::Words.body()));
    }
}
