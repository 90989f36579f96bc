//! The dashboard's translations: a panel on each product's, category's and brand's page
//! listing the shop's other languages, and a page per language to write the name,
//! description and address (slug) in it, or remove them — each the admin API's
//! ([`crate::admin::translations`]).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::admin::{csrf, page_with, when, AdminPage};
use super::admin_products::{api_errors, field};
use super::buy::see_other;
use super::session::check_csrf;
use super::words::{n_, t, tf, Lang};
use crate::admin::translations::{delete_of, owner_id, put_of, TranslationIn};
use crate::app::AppState;
use crate::catalog::translations::{self as tr, Owner, TranslationOut};
use crate::domain::locale;
use crate::error::ApiError;

/// A language's name in itself, for the common ones (the tag stands for the rest).
pub fn language_name(tag: &str) -> &'static str {
    match tag.split('-').next().unwrap_or(tag) {
        "en" => "English",
        "de" => "Deutsch",
        "fr" => "Français",
        "es" => "Español",
        "it" => "Italiano",
        "nl" => "Nederlands",
        "pt" => "Português",
        "pl" => "Polski",
        "sv" => "Svenska",
        "da" => "Dansk",
        "nb" | "no" => "Norsk",
        "fi" => "Suomi",
        "cs" => "Čeština",
        "el" => "Ελληνικά",
        "tr" => "Türkçe",
        "ja" => "日本語",
        "zh" => "中文",
        "ko" => "한국어",
        _ => "",
    }
}

/// "Deutsch (de)", or the tag alone.
pub fn language_label(tag: &str) -> String {
    match language_name(tag) {
        "" => tag.to_owned(),
        name => format!("{name} ({tag})"),
    }
}

/// What shoppers see of an owner's texts, with `{language}` the default's.
fn seen_by_shoppers(owner: Owner) -> &'static str {
    match owner {
        Owner::Product => {
            n_("Shoppers see the product in their language where it is translated, and in {language} where not.")
        }
        Owner::Category => {
            n_("Shoppers see the category in their language where it is translated, and in {language} where not.")
        }
        Owner::Brand => {
            n_("Shoppers see the brand in their language where it is translated, and in {language} where not.")
        }
    }
}

/// Where an owner's dashboard page is.
fn owner_path(owner: Owner, id: i64) -> String {
    let base = match owner {
        Owner::Product => "/admin/products",
        Owner::Category => "/admin/categories",
        Owner::Brand => "/admin/brands",
    };
    format!("{base}/{id}")
}

/// The owner a translation page's path names.
fn owner_of(uri: &Uri) -> Owner {
    let p = uri.path();
    if p.starts_with("/admin/categories/") {
        Owner::Category
    } else if p.starts_with("/admin/brands/") {
        Owner::Brand
    } else {
        Owner::Product
    }
}

/// The translations panel of an owner's page.
pub async fn panel(w: Lang, app: &AppState, owner: Owner, id: i64) -> Result<Markup, ApiError> {
    let live = app.live();
    let enabled: Vec<String> = locale::enabled(&live.locales).into_iter().map(str::to_owned).collect();
    let done = app.db.read(move |c| Ok::<_, ApiError>(tr::list(c, owner, id)?)).await?;
    let base = owner_path(owner, id);
    Ok(html! {
        section.panel.spaced aria-labelledby="translations" {
            h2 #translations { (t(w, "Translations")) }
            @if enabled.len() < 2 {
                p.meta {
                    (tf(w, "The shop is in {language} alone. To sell in more languages, name them in ", &[("language", &language_label(&enabled[0]))]))
                    a href="/admin/settings" { (t(w, "Settings")) } (t(w, " (Languages of the catalog)."))
                }
            } @else {
                p.meta { (tf(w, seen_by_shoppers(owner), &[("language", &language_label(&enabled[0]))])) }
                table.lines aria-labelledby="translations" {
                    thead { tr { th scope="col" { (t(w, "Language")) } th scope="col" { (t(w, "Name")) } th scope="col" { (t(w, "Address")) } th scope="col" { span.skip { (t(w, "Change")) } } } }
                    tbody {
                        @for tag in &enabled[1..] {
                            @let tr = done.iter().find(|tr| tr.locale == *tag);
                            tr {
                                td data-label=(t(w, "Language")) { (language_label(tag)) }
                                td data-label=(t(w, "Name")) { @if let Some(tr) = tr { (tr.name) } @else { span.meta { (t(w, "Not translated")) } } }
                                td data-label=(t(w, "Address")) { @if let Some(tr) = tr { code { (tr.slug) } } }
                                td { a href=(format!("{base}/translations/{tag}")) { @if tr.is_some() { (t(w, "Edit")) } @else { (t(w, "Translate")) } span.skip { (t(w, " into ")) (language_label(tag)) } } }
                            }
                        }
                    }
                }
            }
        }
    })
}

#[derive(Deserialize, Default)]
pub struct TranslationForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    slug: String,
}

async fn translation_page(
    app: &AppState,
    a: &AdminPage,
    owner: Owner,
    id: i64,
    tag: &str,
    typed: Option<&TranslationForm>,
    errors: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let w = a.w;
    let live = app.live();
    let enabled = locale::enabled(&live.locales);
    if !enabled.iter().skip(1).any(|tr| *tr == tag) {
        return Err(ApiError::not_found("language"));
    }
    let default = enabled[0].to_owned();
    let tag_owned = tag.to_owned();
    let (own, now) = app
        .db
        .read(move |c| Ok::<_, ApiError>((tr::own_texts(c, owner, id)?, tr::get(c, owner, id, &tag_owned)?)))
        .await?;
    let Some((own_name, own_description, own_slug)) = own else { return Err(ApiError::not_found(owner.word())) };
    let shown =
        |now: &Option<TranslationOut>, f: fn(&TranslationOut) -> &str| now.as_ref().map(f).unwrap_or("").to_owned();
    let (name, description, slug) = match typed {
        Some(f) => (f.name.clone(), f.description.clone(), f.slug.clone()),
        None => (shown(&now, |tr| &tr.name), shown(&now, |tr| &tr.description), shown(&now, |tr| &tr.slug)),
    };
    let base = owner_path(owner, id);
    let language = language_label(tag);
    let title = tf(w, "{name} in {language}", &[("name", &own_name), ("language", &language)]);
    let main = html! {
        p.crumbs { a href=(base) { (own_name) } (t(w, " / Translations")) }
        h1 { (own_name) " — " span lang=(tag) { (language) } }
        @if !errors.is_empty() { div.error role="alert" { p { (t(w, "Nothing was saved: please check the fields marked below.")) } } }
        div.checkout {
            div {
                form.panel method="post" action=(format!("{base}/translations/{tag}")) novalidate lang=(tag) {
                    (csrf(&a.ps))
                    (field("name", t(w, "Name"), &name, errors))
                    div.field {
                        label for="f-description" { (tf(w, "Description (empty: the {language} one shows)", &[("language", &language_label(&default))])) }
                        textarea #f-description name="description" rows="5" { (description) }
                        @if let Some(e) = errors.get("description") { span.field-error { (e) } }
                    }
                    (field("slug", t(w, "Address (slug; empty: made from the name)"), &slug, errors))
                    button type="submit" { (t(w, "Save translation")) }
                }
                @if let Some(tr) = &now {
                    form.panel.spaced method="post" action=(format!("{base}/translations/{tag}/delete")) {
                        (csrf(&a.ps))
                        p.meta {
                            (tf(w, "Saved {when}. Removing it shows the {language} texts in {translated} again.", &[
                                ("when", &when(&crate::util::rfc3339(tr.updated_at.0))),
                                ("language", &language_label(&default)),
                                ("translated", &language),
                            ]))
                        }
                        button.quiet type="submit" { (t(w, "Remove translation")) }
                    }
                }
            }
            aside.panel lang=(default) {
                h2 { (tf(w, "In {language}", &[("language", &language_label(&default))])) }
                dl {
                    dt { (t(w, "Name")) } dd { (own_name) }
                    dt { (t(w, "Description")) } dd { @if own_description.is_empty() { span.meta { (t(w, "None")) } } @else { (own_description) } }
                    dt { (t(w, "Address")) } dd { code { (own_slug) } }
                }
            }
        }
    };
    let here = match owner {
        Owner::Product => "/admin/products",
        Owner::Category | Owner::Brand => "/admin/categories",
    };
    let mut resp = page_with(app, a, &title, here, main);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /admin/{products|categories|brands}/{id}/translations/{locale}`
pub async fn show(
    State(app): State<AppState>,
    a: AdminPage,
    uri: Uri,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let owner = owner_of(&uri);
    translation_page(&app, &a, owner, owner_id(owner, &id)?, &tag, None, &BTreeMap::new()).await
}

/// `POST …/translations/{locale}`: the API's change; back to the owner's page.
pub async fn save(
    State(app): State<AppState>,
    a: AdminPage,
    uri: Uri,
    Path((id, tag)): Path<(String, String)>,
    Form(f): Form<TranslationForm>,
) -> Result<Response, ApiError> {
    let w = a.w;
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let owner = owner_of(&uri);
    let id = owner_id(owner, &id)?;
    let slug = f.slug.trim();
    let body = TranslationIn {
        name: f.name.clone(),
        description: Some(f.description.replace("\r\n", "\n").replace('\n', " ")),
        slug: (!slug.is_empty()).then(|| slug.to_owned()),
    };
    match put_of(&app, a.admin.clone(), owner, id, &tag, body).await {
        Ok(_) => Ok(see_other(&format!("{}?saved=translation#translations", owner_path(owner, id)), None)),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let mut errors = api_errors(w, &e);
            if e.code == "slug_taken" {
                errors.remove("name");
                errors.insert("slug".into(), t(w, "another one has this address in this language").into());
            }
            translation_page(&app, &a, owner, id, &tag, Some(&f), &errors).await
        }
        Err(e) => Err(e),
    }
}

/// `POST …/translations/{locale}/delete`
pub async fn remove(
    State(app): State<AppState>,
    a: AdminPage,
    uri: Uri,
    Path((id, tag)): Path<(String, String)>,
    Form(f): Form<super::session::CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let owner = owner_of(&uri);
    let id = owner_id(owner, &id)?;
    delete_of(&app, a.admin.clone(), owner, id, &tag).await?;
    Ok(see_other(&format!("{}?saved=translation_removed#translations", owner_path(owner, id)), None))
}
