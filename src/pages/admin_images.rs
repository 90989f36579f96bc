//! A product's pictures in the dashboard: the section of the product's page that shows them
//! in order (the first is the one the shop's lists show), uploads one (a plain file field:
//! it works without JavaScript), changes a picture's text, moves it and deletes it — each
//! the admin API's (`crate::admin::images`), with its checks and audit row.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, AdminPage};
use super::admin_products::{api_errors, load, product_id, product_page, Product};
use super::buy::{answered, see_other};
use super::session::check_csrf;
use super::words::{t, tf};
use crate::admin::images as api;
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::JsonBody;

/// One picture as the page shows it (the admin API's image).
#[derive(Debug, Deserialize)]
pub(crate) struct ImageRow {
    id: String,
    url: String,
    thumbnail: String,
    alt: String,
    thumbnail_ready: bool,
}

/// The "Pictures" section: each picture with its text, its place and its delete button;
/// the upload form under them. `errors`: the upload's (`file`, `alt`).
pub(crate) fn section(a: &AdminPage, p: &Product, errors: &BTreeMap<String, String>) -> Markup {
    let w = a.w;
    let base = format!("/admin/products/{}/images", p.id);
    let last = p.images.len().saturating_sub(1);
    let file_error = errors.get("file");
    let alt_error = errors.get("alt");
    html! {
        section.panel.spaced aria-labelledby="images" {
            h2 #images { (t(w, "Pictures")) }
            @if p.images.is_empty() {
                p.meta { (t(w, "No pictures yet: the shop shows the product's initials.")) }
            } @else {
                p.meta { (t(w, "The first picture is the one the shop's lists show.")) }
                ol.pictures {
                    @for (i, img) in p.images.iter().enumerate() {
                        li #(format!("image-{}", img.id)) {
                            a href=(img.url) { img.photo src=(img.thumbnail) alt=(if img.alt.is_empty() { tf(w, "Picture {n}", &[("n", &(i + 1))]) } else { img.alt.clone() }) width="160" height="120" loading="lazy"; }
                            div {
                                p.meta {
                                    @if i == 0 { strong { (t(w, "Shown in lists")) } } @else { (t(w, "Picture ")) (i + 1) }
                                    @if !img.thumbnail_ready { (t(w, " · making its thumbnail…")) }
                                }
                                form method="post" action=(format!("{base}/{}", img.id)) {
                                    (csrf(&a.ps))
                                    label for=(format!("alt-{}", img.id)) { (t(w, "What it shows")) }
                                    div.inline-row {
                                        input id=(format!("alt-{}", img.id)) type="text" name="alt" maxlength="300" value=(img.alt);
                                        button.quiet type="submit" { (t(w, "Save text")) }
                                    }
                                }
                                div.inline-row {
                                    @if i > 0 {
                                        form method="post" action=(format!("{base}/{}", img.id)) {
                                            (csrf(&a.ps)) input type="hidden" name="move" value="first";
                                            button.quiet type="submit" { (t(w, "Show first")) }
                                        }
                                        form method="post" action=(format!("{base}/{}", img.id)) {
                                            (csrf(&a.ps)) input type="hidden" name="move" value="up";
                                            button.quiet type="submit" aria-label=(tf(w, "Move picture {n} up", &[("n", &(i + 1))])) { (t(w, "↑ Up")) }
                                        }
                                    }
                                    @if i < last {
                                        form method="post" action=(format!("{base}/{}", img.id)) {
                                            (csrf(&a.ps)) input type="hidden" name="move" value="down";
                                            button.quiet type="submit" aria-label=(tf(w, "Move picture {n} down", &[("n", &(i + 1))])) { (t(w, "↓ Down")) }
                                        }
                                    }
                                    form method="post" action=(format!("{base}/{}/delete", img.id)) {
                                        (csrf(&a.ps))
                                        button.quiet type="submit" aria-label=(tf(w, "Delete picture {n}", &[("n", &(i + 1))])) { (t(w, "Delete")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 #add-image { (t(w, "Add a picture")) }
            form method="post" action=(base) enctype="multipart/form-data" aria-labelledby="add-image" {
                (csrf(&a.ps))
                div.field {
                    label for="i-file" { (t(w, "Picture (JPEG, PNG or WebP)")) }
                    input #i-file type="file" name="file" accept="image/jpeg,image/png,image/webp" required aria-invalid=[file_error.map(|_| "true")];
                    @if let Some(e) = file_error { span.field-error { (e) } }
                }
                div.field {
                    label for="i-alt" { (t(w, "What it shows (for people who cannot see it)")) }
                    input #i-alt type="text" name="alt" maxlength="300" aria-invalid=[alt_error.map(|_| "true")];
                    @if let Some(e) = alt_error { span.field-error { (e) } }
                }
                button type="submit" { (t(w, "Upload picture")) }
            }
        }
    }
}

/// The product's page again with what the API said beside the upload form.
async fn refused(app: &AppState, a: &AdminPage, id: i64, e: ApiError) -> Result<Response, ApiError> {
    let w = a.w;
    if e.status == StatusCode::NOT_FOUND || !e.status.is_client_error() {
        return Err(e);
    }
    let mut errors = api_errors(w, &e);
    // a refusal that names no field of the form is said beside the file
    if !errors.contains_key("file") && !errors.contains_key("alt") {
        let words = errors.into_values().next().unwrap_or_else(|| e.message.clone());
        errors = [("file".to_owned(), words)].into();
    }
    let p = load(app, a, id).await?;
    product_page(app, a, p, None, &errors, e.status, None, None).await
}

/// `POST /admin/products/{id}/images`: the form's file through the API's upload.
pub async fn upload(
    State(app): State<AppState>,
    a: AdminPage,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    let max = app.config.media_max_mb as usize * 1024 * 1024;
    let idle = std::time::Duration::from_secs(app.config.request_body_timeout_secs);
    let form = match api::read_form(&headers, body, max, idle).await {
        Ok(f) => f,
        Err(e) => return refused(&app, &a, id, e).await,
    };
    check_csrf(a.ps.token.as_deref(), form.fields.get("csrf").map(String::as_str))?;
    let Some(bytes) = form.file.filter(|b| !b.is_empty()) else {
        let e = ApiError::validation([("file".into(), t(a.w, "choose a picture to upload").into())].into());
        return refused(&app, &a, id, e).await;
    };
    let alt = form.fields.get("alt").map(String::as_str).unwrap_or_default();
    match api::add_image(&app, a.admin.clone(), id, bytes, alt).await {
        Ok(_) => Ok(see_other(&format!("/admin/products/{id}?saved=image#images"), None)),
        Err(e) => refused(&app, &a, id, e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct ImageForm {
    csrf: Option<String>,
    alt: Option<String>,
    /// `first`, `up` or `down`
    #[serde(rename = "move")]
    to: Option<String>,
}

/// `POST /admin/products/{id}/images/{image_id}`: its text, or a move.
pub async fn update(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, image)): Path<(String, String)>,
    Form(f): Form<ImageForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let pid = product_id(&id)?;
    let position = match f.to.as_deref() {
        None => None,
        Some(to) => {
            let p = load(&app, &a, pid).await?;
            let at = p.images.iter().position(|i| i.id == image).ok_or_else(|| ApiError::not_found("image"))? as i64;
            Some(match to {
                "first" => 0,
                "up" => (at - 1).max(0),
                "down" => at + 1,
                _ => return Err(ApiError::validation([("move".into(), t(a.w, "first, up or down").into())].into())),
            })
        }
    };
    let body = api::ImagePatch { position, alt: f.alt.map(|s| s.trim().to_owned()) };
    let changed = answered::<serde_json::Value>(
        api::update_image(State(app.clone()), a.admin.clone(), Path((id.clone(), image.clone())), JsonBody(body)).await,
    )
    .await;
    match changed {
        Ok(_) => Ok(see_other(&format!("/admin/products/{pid}?saved=image_changed#images"), None)),
        Err(e) => refused(&app, &a, pid, e).await,
    }
}

/// `POST /admin/products/{id}/images/{image_id}/delete`
pub async fn delete(
    State(app): State<AppState>,
    a: AdminPage,
    Path((id, image)): Path<(String, String)>,
    Form(f): Form<super::session::CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let pid = product_id(&id)?;
    api::delete_image(State(app.clone()), a.admin.clone(), Path((id, image))).await?;
    Ok(see_other(&format!("/admin/products/{pid}?saved=image_deleted#images"), None))
}
