//! Translations of products, categories and brands (see [`crate::catalog::translations`]):
//! listed, set whole and removed per language, each change one writer unit with its audit
//! row. The language must be one of the `locales` setting other than the default (the
//! owner's own fields are the default's).

use axum::extract::Path;
use axum::response::IntoResponse;

use super::*;
use crate::catalog::translations::{self as tr, Owner, TranslationOut};
use crate::domain::locale;
use crate::http::path::{res, PathId};

/// A translation, set whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslationIn {
    /// the name in this language
    #[schema(min_length = 1, max_length = 300, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: String,
    /// the description in this language; absent or empty: the default language's shows
    #[serde(default)]
    #[schema(max_length = 20000, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub description: Option<String>,
    /// unique within the language (409 otherwise); default: made from the name
    #[serde(default)]
    #[schema(extensions(("x-pattern" = json!(crate::domain::SLUG_PATTERN))))]
    pub slug: Option<String>,
}

use serde_json::json;

/// The language of a `{locale}` path segment: one of the shop's others than the default
/// (422 naming them otherwise).
fn language(app: &AppState, raw: &str) -> Result<String, String> {
    let live = app.live();
    let enabled = locale::enabled(&live.locales);
    if locale::is_tag(raw) && enabled.iter().skip(1).any(|t| *t == raw) {
        return Ok(raw.to_owned());
    }
    let others = enabled[1..].join(", ");
    Err(if others.is_empty() {
        format!("the shop has one language ({}); add others to the locales setting first", enabled[0])
    } else {
        format!("must be one of the shop's languages other than the default ({}): {others}", enabled[0])
    })
}

/// The owner's id in a path (a malformed one is not found, as an unknown one).
pub fn owner_id(owner: Owner, raw: &str) -> Result<i64, ApiError> {
    crate::domain::Id::parse(raw).map(|id| id.0).ok_or_else(|| ApiError::not_found(owner.word()))
}

async fn list_of(app: &AppState, owner: Owner, id: i64) -> Result<Response, ApiError> {
    let list = app
        .db
        .read(move |conn| {
            if !tr::owner_exists(conn, owner, id)? {
                return Err(ApiError::not_found(owner.word()));
            }
            Ok(tr::list(conn, owner, id)?)
        })
        .await?;
    Ok(data(StatusCode::OK, &list))
}

/// Checks `body` and sets the translation (the dashboard's form calls it too).
pub async fn put_of(
    app: &AppState,
    admin: AdminSession,
    owner: Owner,
    id: i64,
    raw_locale: &str,
    body: TranslationIn,
) -> Result<TranslationOut, ApiError> {
    let mut checks = Checks::new();
    let name = checks.check("name", text(&body.name, owner.max_name(), false));
    let description = checks.check("description", text(body.description.as_deref().unwrap_or(""), 20_000, true));
    let slug = slug_or_made(&mut checks, body.slug.as_deref(), name.as_deref());
    let locale = checks.check("locale", language(app, raw_locale));
    checks.finish()?;
    let (name, description, slug, locale) =
        (name.expect("checked"), description.expect("checked"), slug.expect("checked"), locale.expect("checked"));
    app.db
        .writer
        .run(move |tx| {
            if !tr::owner_exists(tx, owner, id)? {
                return Err(ApiError::not_found(owner.word()));
            }
            if tr::slug_taken(tx, owner, id, &locale, &slug)? {
                return Err(conflict(
                    "slug_taken",
                    &format!("another {} has this slug in {locale} (or as its own)", owner.word()),
                ));
            }
            let before = tr::get(tx, owner, id, &locale)?;
            let change = tr::Change { name: &name, description: &description, slug: &slug };
            let after = tr::put(tx, owner, id, &locale, &change, now_ms())?;
            audit(
                tx,
                &admin,
                &format!("{}.translation", owner.word()),
                owner.word(),
                id,
                before.map(|b| json!(b)).as_ref(),
                Some(&json!(after)),
            )?;
            Ok(after)
        })
        .await
}

/// Removes the translation (the dashboard's form calls it too).
pub async fn delete_of(
    app: &AppState,
    admin: AdminSession,
    owner: Owner,
    id: i64,
    raw_locale: &str,
) -> Result<(), ApiError> {
    let locale = language(app, raw_locale).map_err(|why| ApiError::validation([("locale".to_owned(), why)].into()))?;
    app.db
        .writer
        .run(move |tx| {
            if !tr::owner_exists(tx, owner, id)? {
                return Err(ApiError::not_found(owner.word()));
            }
            let Some(before) = tr::get(tx, owner, id, &locale)? else {
                return Err(ApiError::not_found("translation"));
            };
            tr::delete(tx, owner, id, &locale, now_ms())?;
            audit(tx, &admin, &format!("{}.translation", owner.word()), owner.word(), id, Some(&json!(before)), None)?;
            Ok(())
        })
        .await
}

/// The three routes of one owner's translations.
macro_rules! translation_routes {
    ($owner:expr, $res:ty, $list:ident, $put:ident, $delete:ident, $all:literal, $one:literal, $word:literal) => {
        #[doc = concat!("A ", $word, "'s translations")]
        ///
        /// Every language it is translated into, by language.
        #[utoipa::path(get, path = $all, tag = "admin", security(("bearer" = ["admin"])),
            params(("id" = String, Path, description = concat!("a ", $word, " id"))),
            responses((status = 200, description = "its translations", body = Data<Vec<TranslationOut>>), AdminErrors,
                NotFound, ReadErrors))]
        pub async fn $list(
            State(app): State<AppState>,
            _admin: AdminSession,
            PathId(id, _): PathId<$res>,
        ) -> Result<Response, ApiError> {
            list_of(&app, $owner, id).await
        }

        #[doc = concat!("Set a ", $word, "'s translation")]
        ///
        /// Its name, description and slug in `locale`, set whole (created or replaced). The
        /// catalog shows them to requests in that language (`locale=` or `Accept-Language`)
        /// and finds it by the slug in that language; search finds it by its words in every
        /// language. 422 for a language the `locales` setting does not list (or the
        /// default's: those are the owner's own fields); 409 `slug_taken` for a slug that
        /// names another in that language. Audited.
        #[utoipa::path(put, path = $one, tag = "admin",
            security(("bearer" = ["admin"])),
            params(("id" = String, Path, description = concat!("a ", $word, " id")),
                ("locale" = String, Path, description = "a language of the locales setting other than the default",
                    pattern = "^[a-z]{2,3}(-[A-Z]{2})?$")),
            request_body = TranslationIn,
            responses((status = 200, description = "the translation", body = Data<TranslationOut>), AdminErrors,
                BodyErrors, NotFound, (status = 409, description = "slug_taken", body = ErrorBody), WriteErrors))]
        pub async fn $put(
            State(app): State<AppState>,
            admin: AdminSession,
            Path((id, locale)): Path<(String, String)>,
            JsonBody(body): JsonBody<TranslationIn>,
        ) -> Result<Response, ApiError> {
            let out = put_of(&app, admin, $owner, owner_id($owner, &id)?, &locale, body).await?;
            Ok(data(StatusCode::OK, &out))
        }

        #[doc = concat!("Remove a ", $word, "'s translation")]
        ///
        /// The language shows the default's fields again. 404 when there is none. Audited.
        #[utoipa::path(delete, path = $one, tag = "admin",
            security(("bearer" = ["admin"])),
            params(("id" = String, Path, description = concat!("a ", $word, " id")),
                ("locale" = String, Path, description = "a language of the locales setting other than the default",
                    pattern = "^[a-z]{2,3}(-[A-Z]{2})?$")),
            responses((status = 204, description = "removed"), AdminErrors, NotFound, BodyErrors, WriteErrors))]
        pub async fn $delete(
            State(app): State<AppState>,
            admin: AdminSession,
            Path((id, locale)): Path<(String, String)>,
        ) -> Result<Response, ApiError> {
            delete_of(&app, admin, $owner, owner_id($owner, &id)?, &locale).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    };
}

translation_routes!(
    Owner::Product,
    res::Product,
    list_product_translations,
    put_product_translation,
    delete_product_translation,
    "/api/admin/products/{id}/translations",
    "/api/admin/products/{id}/translations/{locale}",
    "product"
);
translation_routes!(
    Owner::Category,
    res::Category,
    list_category_translations,
    put_category_translation,
    delete_category_translation,
    "/api/admin/categories/{id}/translations",
    "/api/admin/categories/{id}/translations/{locale}",
    "category"
);
translation_routes!(
    Owner::Brand,
    res::Brand,
    list_brand_translations,
    put_brand_translation,
    delete_brand_translation,
    "/api/admin/brands/{id}/translations",
    "/api/admin/brands/{id}/translations/{locale}",
    "brand"
);
