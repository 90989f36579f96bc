//! The static files of the pages, embedded in the binary: each served at
//! `/assets/{name}.{hash}.{ext}`, its name carrying a hash of its bytes, so it can be cached
//! for good (`immutable`): a new build with other bytes has another name. Compressed once,
//! when first asked for.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Path;
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, Response, StatusCode};
use sha2::Digest;

use crate::http::respond::{accepts_gzip, gzip};

/// One embedded file.
pub struct Asset {
    /// `style.css`
    pub name: &'static str,
    pub content_type: &'static str,
    bytes: &'static [u8],
}

/// Every file the pages use.
pub const FILES: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/style.css"),
    },
    Asset {
        name: "shop.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/shop.js"),
    },
];

struct Built {
    /// `/assets/style.3f9a0c1b2d.css`
    url: String,
    gzip: Vec<u8>,
    etag: HeaderValue,
}

fn built() -> &'static [Built] {
    static BUILT: OnceLock<Vec<Built>> = OnceLock::new();
    BUILT.get_or_init(|| {
        FILES
            .iter()
            .map(|a| {
                let hash = sha2::Sha256::digest(a.bytes);
                let hex: String = hash[..5].iter().map(|b| format!("{b:02x}")).collect();
                let (stem, ext) = a.name.rsplit_once('.').expect("asset names have an extension");
                Built {
                    url: format!("/assets/{stem}.{hex}.{ext}"),
                    gzip: gzip(a.bytes, 9),
                    etag: HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex digits"),
                }
            })
            .collect()
    })
}

/// The address of an embedded file by its name (`style.css`).
pub fn url(name: &str) -> &'static str {
    let i = FILES.iter().position(|a| a.name == name).unwrap_or_else(|| panic!("no asset {name}"));
    &built()[i].url
}

/// `GET /assets/{file}`: an embedded file by its hashed name; any other name is 404.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response<Body> {
    let wanted = format!("/assets/{file}");
    let Some(i) = built().iter().position(|b| b.url == wanted) else {
        let mut resp = Response::new(Body::from("no such file"));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        return resp;
    };
    let (asset, b) = (&FILES[i], &built()[i]);
    let mut resp = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == b.etag) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else if headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(accepts_gzip) {
        let mut r = Response::new(Body::from(b.gzip.clone()));
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::from(asset.bytes))
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::ETAG, b.etag.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_carry_a_hash_of_the_bytes() {
        let u = super::url("style.css");
        assert!(
            u.starts_with("/assets/style.") && u.ends_with(".css") && u.len() == "/assets/style..css".len() + 10,
            "{u}"
        );
    }
}
