//! `GET /media/{file}`: a stored picture by its name (the hash of its bytes), cached for
//! good. A replica that does not have a file asks its primary for it once, checks the
//! bytes against their name, and keeps them.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Response, StatusCode};
use http_body_util::BodyExt;

use super::{name_of, parse_name, Store};
use crate::app::AppState;
use crate::error::ApiError;
use crate::replication::Replication;

/// A stored picture
///
/// An uploaded product image or its thumbnail, by the name its address carries (the
/// SHA-256 of its bytes and its format's extension): the same address is always the same
/// bytes, so it is cached for a year (`immutable`). Answers 304 to `If-None-Match` with its
/// ETag. Any other name is 404.
#[utoipa::path(get, path = "/media/{file}", tag = "catalog", security(()),
    params(("file" = String, Path, description = "`{sha-256}.{jpg|png|webp}`, as an image's `url` or `thumbnail` gives it")),
    responses(
        (status = 200, description = "the picture", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp")),
            headers(("ETag" = String, description = "the hash in the name"), ("Cache-Control" = String, description = "public, max-age=31536000, immutable"))),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 404, description = "not_found: no stored file of this name", body = crate::openapi::ErrorBody),
        (status = 503, description = "a replica could not reach its primary for a file it lacks", body = crate::openapi::ErrorBody)))]
pub async fn serve(
    State(app): State<AppState>,
    Path(file): Path<String>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let format = parse_name(&file).ok_or_else(|| ApiError::not_found("file"))?;
    let hash = file.split_once('.').map_or("", |(h, _)| h);
    let etag = HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex digits");
    if req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v == etag) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r.headers_mut().insert(header::ETAG, etag);
        return Ok(r);
    }
    let store = super::store_of(&app.config);
    let path = store.path(&file);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match &app.replication {
            Replication::Replica(replica) => from_primary(&app, replica, &store, &file, req).await?,
            _ => return Err(ApiError::not_found("file")),
        },
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "reading a stored picture failed");
            return Err(ApiError::internal());
        }
    };
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::ETAG, etag);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(resp)
}

/// A replica's missing file: the primary's bytes, if they are what the name says.
async fn from_primary(
    app: &AppState,
    replica: &crate::replication::Replica,
    store: &Store,
    file: &str,
    req: Request,
) -> Result<Vec<u8>, ApiError> {
    let client = crate::http::client::client_of(&req).map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.ip);
    let id = crate::http::request_id::of_request(req.headers());
    let ask = axum::http::Request::get(super::url_of(file)).body(Body::empty()).expect("a valid request");
    let answer = replica.forward.forward(ask, client, &id, false).await?;
    if answer.status() != StatusCode::OK {
        return Err(ApiError::not_found("file"));
    }
    let max = app.config.media_max_mb as usize * 1024 * 1024;
    let body = http_body_util::Limited::new(answer.into_body(), max).collect().await.map_err(|e| {
        tracing::warn!(error = %e, file, "reading a picture from the primary failed");
        ApiError::unavailable("the primary's answer broke off", 1)
    })?;
    let bytes = body.to_bytes().to_vec();
    let format = parse_name(file).expect("checked");
    if name_of(&bytes, format) != file {
        tracing::warn!(file, "the primary's bytes do not match their name");
        return Err(ApiError::not_found("file"));
    }
    let (store, name, keep) = (store.clone(), file.to_owned(), bytes.clone());
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.put(&name, &keep)).await {
        tracing::warn!(error = %e, file, "keeping a picture from the primary failed");
    }
    Ok(bytes)
}
