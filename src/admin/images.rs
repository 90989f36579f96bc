//! A product's images: upload (a multipart form; the picture's format read from its bytes,
//! its size bounded, its pixels bounded from its header), delete, order and alternative
//! text — each one writer unit with its audit row and the product's `product.updated`
//! event; the thumbnail is made by a job, and removed files by another.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::products::change;
use super::*;
use crate::http::path::{res, PathId};
use crate::jobs::{Kind, NewJob};
use crate::media::{self, ImageOut, Refused};

/// An upload's form: these two fields and no other.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by `read_form`; this is what the document says of it
pub struct ImageUpload {
    /// the picture: JPEG, PNG or WebP (its bytes decide, never its name or declared type),
    /// up to `media_max_mb` (10) MiB and 40 megapixels
    #[schema(value_type = String, format = Binary)]
    file: String,
    /// what the picture shows, for people who cannot see it (a form field is text, so
    /// whatever is sent in it is read as text)
    #[schema(max_length = 300, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    alt: Option<String>,
}

/// What a multipart form brought: the `file` field's bytes and the text fields.
#[derive(Debug, Default)]
pub struct Form {
    pub file: Option<Vec<u8>>,
    pub fields: BTreeMap<String, String>,
}

/// Text fields a form may have, and their longest value.
const MAX_FIELDS: usize = 16;
const MAX_FIELD: usize = 16 * 1024;

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("a picture is at most {} MiB", max / 1024 / 1024),
    )
}

/// Reads a `multipart/form-data` body: the file in its field `file` (at most `max` bytes,
/// else 413), the other fields as text. A body that is not multipart is 415; a client that
/// sends nothing for `idle` is 408.
pub async fn read_form(headers: &HeaderMap, body: Body, max: usize, idle: Duration) -> Result<Form, ApiError> {
    let boundary = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the picture as multipart/form-data, in the field file",
            )
        })?;
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new().whole_stream((max + MAX_FIELDS * MAX_FIELD + 64 * 1024) as u64).per_field(max as u64),
    );
    let mut form = multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
    let broken = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => too_large(max),
        e => ApiError::bad_request("body_read", format!("the form could not be read: {e}")),
    };
    let timed = |_| crate::http::body::body_timed_out(idle);
    let mut out = Form::default();
    while let Some(mut field) = tokio::time::timeout(idle, form.next_field()).await.map_err(timed)?.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        let limit = if name == "file" { max } else { MAX_FIELD };
        while let Some(chunk) = tokio::time::timeout(idle, field.chunk()).await.map_err(timed)?.map_err(broken)? {
            if bytes.len() + chunk.len() > limit {
                return Err(if name == "file" {
                    too_large(max)
                } else {
                    ApiError::validation([(name, format!("at most {MAX_FIELD} bytes"))].into())
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "file" {
            if out.file.is_some() {
                return Err(ApiError::validation([("file".into(), "send one picture at a time".into())].into()));
            }
            out.file = Some(bytes);
        } else {
            if out.fields.len() >= MAX_FIELDS {
                return Err(ApiError::validation([("body".into(), "too many fields".into())].into()));
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| ApiError::validation([(name.clone(), "must be UTF-8 text".into())].into()))?;
            out.fields.insert(name, text);
        }
    }
    Ok(out)
}

/// Adds a picture to product `id`: checked, kept in `media_dir`, its row, its thumbnail's
/// job (unless the same picture has one already), its audit row, in one writer unit.
pub async fn add_image(
    app: &AppState,
    admin: AdminSession,
    id: i64,
    bytes: Vec<u8>,
    alt: &str,
) -> Result<ImageOut, ApiError> {
    let mut checks = Checks::new();
    let alt = checks.check("alt", text(alt, media::MAX_ALT, true));
    let format = match media::inspect(&bytes) {
        Ok((format, _, _)) => Some(format),
        Err(Refused::Format) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the file is not a JPEG, PNG or WebP picture",
            ))
        }
        Err(Refused::Broken(why)) => {
            checks.error("file", why);
            None
        }
    };
    checks.finish()?;
    let (alt, format) = (alt.expect("checked"), format.expect("checked"));
    let name = media::name_of(&bytes, format);
    let store = media::store_of(&app.config);
    let bytes = std::sync::Arc::new(bytes);
    let (s, n, b) = (store.clone(), name.clone(), bytes.clone());
    tokio::task::spawn_blocking(move || s.put(&n, &b)).await.map_err(|_| ApiError::internal())?.map_err(|e| {
        tracing::error!(error = %e, "keeping an uploaded picture failed");
        ApiError::internal()
    })?;
    let (_, image) = change(app, admin, id, "product.image_add", move |tx, id| {
        if media::count(tx, id)? >= media::MAX_IMAGES {
            return Err(conflict("too_many_images", "a product has at most 20 images; delete one first"));
        }
        // a sweep may have removed the same bytes a moment ago (another image deleted)
        if !store.has(&name) {
            store.put(&name, &bytes).map_err(|e| {
                tracing::error!(error = %e, "keeping an uploaded picture failed");
                ApiError::internal()
            })?;
        }
        let made = media::made_thumbnail(tx, &name)?;
        let to_make = made.is_none();
        let image = media::insert(tx, id, &name, &alt, made)?;
        if to_make {
            let job = NewJob::new(Kind::MediaThumbnail, serde_json::json!({ "media": name }))
                .unique(format!("thumbnail:{name}"));
            crate::jobs::enqueue(tx, &job)?;
        }
        let images = media::images_of(tx, id)?;
        Ok(images.into_iter().find(|i| i.id.0 == image).expect("just added"))
    })
    .await?;
    Ok(image)
}

/// Add an image to a product
///
/// A `multipart/form-data` upload: the picture in the field `file` (JPEG, PNG or WebP,
/// told by its bytes — never by its name or declared type; up to `media_max_mb` MiB and
/// 40 megapixels, 12,000 pixels a side) and `alt`, what it shows. It becomes the product's
/// last image (order them with PATCH; the first is the one lists show), is served at
/// `/media/{sha-256}.{ext}` at once, and its thumbnail (480 pixels on its longest side) is
/// made by a job: until then `thumbnail` is the picture's own address and
/// `thumbnail_ready` false. At most 20 images a product. Audited.
#[utoipa::path(post, path = "/api/admin/products/{id}/images", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id")),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "the image", body = Data<ImageOut>), AdminErrors, NotFound,
        (status = 400, description = "body_read: the form could not be read to its end", body = ErrorBody),
        (status = 408, description = "request_timeout: nothing of the form arrived for request_body_timeout_secs", body = ErrorBody),
        (status = 409, description = "too_many_images", body = ErrorBody),
        (status = 413, description = "payload_too_large: over media_max_mb", body = ErrorBody),
        (status = 415, description = "unsupported_media_type: not a multipart form, or the file not a JPEG, PNG or WebP picture", body = ErrorBody),
        (status = 422, description = "validation_failed: no file, a picture that cannot be read or is too large in pixels, alt too long", body = ErrorBody),
        WriteErrors))]
pub async fn upload_image(
    State(app): State<AppState>,
    admin: AdminSession,
    PathId(id, _): PathId<res::Product>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let max = app.config.media_max_mb as usize * 1024 * 1024;
    let idle = Duration::from_secs(app.config.request_body_timeout_secs);
    let mut form = read_form(&headers, body, max, idle).await?;
    if let Some(unknown) = form.fields.keys().find(|k| *k != "alt") {
        return Err(ApiError::validation([(unknown.clone(), "unknown field; send file and alt".into())].into()));
    }
    let Some(bytes) = form.file.take().filter(|b| !b.is_empty()) else {
        return Err(ApiError::validation([("file".into(), "send the picture in the field file".into())].into()));
    };
    let alt = form.fields.remove("alt").unwrap_or_default();
    let image = add_image(&app, admin, id, bytes, &alt).await?;
    Ok(data(StatusCode::CREATED, &image))
}

/// `{product id, image id}` of a path.
fn ids(id: &str, image: &str) -> Result<(i64, i64), ApiError> {
    let id = Id::parse(id).map(|i| i.0).ok_or_else(PathId::<res::Product>::not_found)?;
    let image = Id::parse(image).map(|i| i.0).ok_or_else(|| ApiError::not_found("image"))?;
    Ok((id, image))
}

/// Delete a product's image
///
/// The others close up (the next becomes the primary image when the first goes); the
/// files no image names any more are removed by a job. Audited.
#[utoipa::path(delete, path = "/api/admin/products/{id}/images/{image_id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id"), ("image_id" = String, Path, description = "one of its images")),
    responses((status = 204, description = "deleted"), AdminErrors, NotFound, WriteErrors))]
pub async fn delete_image(
    State(app): State<AppState>,
    admin: AdminSession,
    axum::extract::Path((id, image)): axum::extract::Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, image) = ids(&id, &image)?;
    change(&app, admin, id, "product.image_delete", move |tx, id| {
        let files = media::files_of(tx, id, image)?.ok_or_else(|| ApiError::not_found("image"))?;
        media::delete(tx, id, image)?;
        if !files.is_empty() {
            crate::jobs::enqueue(tx, &NewJob::new(Kind::MediaSweep, serde_json::json!({ "names": files })))?;
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImagePatch {
    /// its place among the product's images, 0 first (the primary image); past the end:
    /// last. The others keep their order.
    #[schema(minimum = 0, maximum = 1000)]
    pub position: Option<i64>,
    #[schema(max_length = 300, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub alt: Option<String>,
}

/// Move an image, or change its text
///
/// `position` moves it (0: the primary image, the one lists show); `alt` is what it shows.
/// Answers the product's images in their new order. Audited.
#[utoipa::path(patch, path = "/api/admin/products/{id}/images/{image_id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "a product id"), ("image_id" = String, Path, description = "one of its images")),
    request_body = ImagePatch,
    responses((status = 200, description = "the product's images, in order", body = Data<Vec<ImageOut>>), AdminErrors, BodyErrors, NotFound, WriteErrors))]
pub async fn update_image(
    State(app): State<AppState>,
    admin: AdminSession,
    axum::extract::Path((id, image)): axum::extract::Path<(String, String)>,
    JsonBody(b): JsonBody<ImagePatch>,
) -> Result<Response, ApiError> {
    let (id, image) = ids(&id, &image)?;
    let mut checks = Checks::new();
    if b.position.is_some_and(|p| !(0..=1000).contains(&p)) {
        checks.error("position", "must be 0 to 1000");
    }
    let alt = b.alt.as_deref().and_then(|a| checks.check("alt", text(a, media::MAX_ALT, true)));
    checks.finish()?;
    let position = b.position;
    let (_, images) = change(&app, admin, id, "product.image_update", move |tx, id| {
        if media::files_of(tx, id, image)?.is_none() {
            return Err(ApiError::not_found("image"));
        }
        if let Some(alt) = &alt {
            media::set_alt(tx, id, image, alt)?;
        }
        if let Some(position) = position {
            media::move_to(tx, id, image, position)?;
        }
        Ok(media::images_of(tx, id)?)
    })
    .await?;
    Ok(data(StatusCode::OK, &images))
}
