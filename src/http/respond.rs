//! Building responses: JSON bodies with `ETag`, `If-None-Match` → 304, gzip when the
//! client accepts it (with `Vary: Accept-Encoding`) and the `Cache-Control` policy of the
//! API contract: public catalog responses may be cached by anyone (with
//! `stale-while-revalidate`), anything personal is `private, no-store`.

use std::io::Write;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Response, StatusCode};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Bodies smaller than this are not worth compressing.
const GZIP_MIN: usize = 512;

/// What the request says about representations: accepted encodings and validators.
#[derive(Debug, Clone, Default)]
pub struct Negotiation {
    pub gzip: bool,
    pub if_none_match: Option<HeaderValue>,
}

impl<S: Send + Sync> FromRequestParts<S> for Negotiation {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Negotiation::from_headers(&parts.headers))
    }
}

impl Negotiation {
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Negotiation {
        let gzip = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(accepts_gzip);
        Negotiation { gzip, if_none_match: headers.get(header::IF_NONE_MATCH).cloned() }
    }
}

/// Does an `Accept-Encoding` value accept gzip (`gzip`, `x-gzip` or `*`, with q > 0)?
pub fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if !(coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") || coding == "*") {
            return false;
        }
        parts.all(|p| {
            let p = p.trim();
            match p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                Some(q) => q.trim().parse::<f32>().map(|q| q > 0.0).unwrap_or(false),
                None => true,
            }
        })
    })
}

/// Caching policy of a response.
#[derive(Debug, Clone)]
pub enum Caching {
    /// Shared caches may keep it: `public, max-age=…, stale-while-revalidate=…`.
    Public { max_age: u64, swr: u64 },
    /// A `Cache-Control` value rendered once (see [`Caching::prebuilt`]).
    Prebuilt(HeaderValue),
    /// Personal or operational: `private, no-store`.
    Private,
    /// Anyone may keep it but must ask again before using it (web pages: never stale
    /// after a commit, and a 304 when nothing changed): `public, no-cache`.
    Revalidate,
}

impl Caching {
    /// The same policy with its header rendered once, for the hot paths.
    pub fn prebuilt(self) -> Caching {
        Caching::Prebuilt(self.header())
    }

    fn header(&self) -> HeaderValue {
        match self {
            Caching::Public { max_age, swr } => {
                HeaderValue::from_str(&format!("public, max-age={max_age}, stale-while-revalidate={swr}"))
                    .expect("digits and ascii make a valid header")
            }
            Caching::Prebuilt(v) => v.clone(),
            Caching::Private => HeaderValue::from_static("private, no-store"),
            Caching::Revalidate => HeaderValue::from_static("public, no-cache"),
        }
    }
}

/// What a rendered body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Media {
    Json,
    Html,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        match self {
            Media::Json => HeaderValue::from_static("application/json"),
            Media::Html => HeaderValue::from_static("text/html; charset=utf-8"),
        }
    }
}

/// A rendered body with its validator and (optionally) its gzip form. The cache tier keeps
/// these as they are, so a hit does no JSON and no compression work.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// the body (JSON, or a web page's HTML: see `media`)
    pub json: Bytes,
    pub media: Media,
    pub gzip: Option<Bytes>,
    /// Strong validator of the identity representation, quoted.
    pub etag: HeaderValue,
    /// The validator of the gzip representation, derived once.
    gzip_etag: HeaderValue,
}

impl Rendered {
    pub fn new(json: Vec<u8>) -> Rendered {
        let etag = etag_of(&json);
        Rendered::from_parts(Bytes::from(json), Media::Json, None, etag)
    }

    /// A web page.
    pub fn html(html: String) -> Rendered {
        let etag = etag_of(html.as_bytes());
        Rendered::from_parts(Bytes::from(html), Media::Html, None, etag)
    }

    /// A response kept elsewhere (the second cache tier), put back together.
    pub fn from_parts(json: Bytes, media: Media, gzip: Option<Bytes>, etag: HeaderValue) -> Rendered {
        let gzip_etag = gzip_etag(&etag);
        Rendered { json, media, gzip, etag, gzip_etag }
    }

    /// Adds the gzip form (done once, by whoever keeps the value).
    pub fn with_gzip(mut self, level: u32) -> Rendered {
        if self.json.len() >= GZIP_MIN {
            self.gzip = Some(Bytes::from(gzip(&self.json, level)));
        }
        self
    }

    /// The response for `neg`, with `caching`.
    /// The answer with its body as `B` (the server's fast path answers a body hyper
    /// writes without boxing it).
    pub fn respond<B: From<Bytes> + Default>(&self, neg: &Negotiation, caching: Caching) -> Response<B> {
        let gzip_tag = &self.gzip_etag;
        if let Some(inm) = &neg.if_none_match {
            if etag_matches(inm, &self.etag) || etag_matches(inm, gzip_tag) {
                let mut resp = Response::new(B::default());
                *resp.status_mut() = StatusCode::NOT_MODIFIED;
                let h = resp.headers_mut();
                h.insert(header::ETAG, if neg.gzip { gzip_tag.clone() } else { self.etag.clone() });
                h.insert(header::CACHE_CONTROL, caching.header());
                h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                return resp;
            }
        }
        let compressed = if neg.gzip && self.json.len() >= GZIP_MIN {
            Some(match &self.gzip {
                Some(g) => g.clone(),
                None => Bytes::from(gzip(&self.json, 1)),
            })
        } else {
            None
        };
        let mut resp = match &compressed {
            Some(g) => Response::new(B::from(g.clone())),
            None => Response::new(B::from(self.json.clone())),
        };
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, self.media.content_type());
        if self.media == Media::Html {
            page_headers(h);
        }
        h.insert(header::CACHE_CONTROL, caching.header());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if compressed.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            h.insert(header::ETAG, gzip_tag.clone());
        } else {
            h.insert(header::ETAG, self.etag.clone());
        }
        resp
    }
}

/// What every web page says about itself: where its parts may come from (only the shop's
/// own origin; no inline script; forms post only here; never framed) and that its types
/// are not to be guessed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub fn page_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

/// A private JSON response (no validator, no shared caching).
pub fn private_json(status: StatusCode, json: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(json));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, Caching::Private.header());
    resp
}

pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::new(level));
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// A strong ETag from the body: CRC-32 and length, as `"<crc>-<len>"`.
pub fn etag_of(body: &[u8]) -> HeaderValue {
    let crc = crc32fast::hash(body);
    HeaderValue::from_str(&format!("\"{crc:08x}{:x}\"", body.len())).expect("hex digits make a valid header")
}

fn gzip_etag(etag: &HeaderValue) -> HeaderValue {
    let s = etag.to_str().unwrap_or("\"\"");
    let inner = s.trim_matches('"');
    HeaderValue::from_str(&format!("\"{inner}-gzip\"")).expect("derived from a valid etag")
}

/// `If-None-Match` uses the weak comparison: `W/` prefixes are ignored, `*` matches.
pub fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let want = etag.as_bytes();
    list.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/").as_bytes() == want)
}

/// `{"data": ...}` as a private response: what personal endpoints answer.
pub fn data<T: serde::Serialize>(status: StatusCode, data: &T) -> Response<Body> {
    #[derive(serde::Serialize)]
    struct Data<'a, T> {
        data: &'a T,
    }
    private_json(status, serde_json::to_vec(&Data { data }).expect("API values always serialize"))
}

/// 204 with the private caching policy.
pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.headers_mut().insert(header::CACHE_CONTROL, Caching::Private.header());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn etags_match_weakly_and_by_list() {
        let tag = etag_of(b"hello");
        let list = HeaderValue::from_str(&format!("\"x\", W/{}", tag.to_str().unwrap())).unwrap();
        assert!(etag_matches(&list, &tag));
        assert!(!etag_matches(&HeaderValue::from_static("\"other\""), &tag));
        assert_ne!(etag_of(b"hello"), etag_of(b"hellp"));
    }
}
