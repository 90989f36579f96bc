//! The catalog in the dashboard as one market sees it: the owner picks one of the shop's
//! currencies and one of its languages (a cookie of the dashboard's own, `sf_admin_view`).
//! The products' list then shows each product's name in that language and the price a
//! shopper there pays now, by the rule every catalog answer prices by
//! ([`crate::catalog::prices`]); each product's page shows its price in every currency,
//! how that price is set, and the price lists that price it.
//!
//! The choice changes only what the dashboard shows: forms still take the default
//! language's texts and the default currency's prices (each other language and currency
//! is set on its own page: a translation, a price list).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};

use super::admin::{csrf, shown_in, AdminPage};
use super::admin_translations::{language_label, language_name};
use super::buy::see_other;
use super::session::check_csrf;
use super::words::{t, tf, Lang};
use crate::app::AppState;
use crate::catalog::prices::{self, Market, Seen};
use crate::domain::{currencies, locale};
use crate::error::ApiError;

/// The languages the dashboard's own words are in: every one the storefront's are in,
/// whichever the shop sells in (its owner's language need not be a shop's).
pub const DASHBOARD_LANGUAGES: [&str; 4] = ["en", "de", "fr", "es"];

/// The cookie that keeps the language of the dashboard's own words (`de`).
pub const LANGUAGE_COOKIE: &str = "sf_admin_lang";

/// The language of the dashboard's own words — menus, labels, notices — for a request:
/// the owner's choice (the footer's switch, [`LANGUAGE_COOKIE`]), else their browser's
/// (`Accept-Language`), else English. The catalog's texts follow the view's language
/// instead ([`View`]): an owner may read the dashboard in German while checking the
/// shop's French names.
pub fn dashboard_words(headers: &HeaderMap) -> Lang {
    let chosen =
        crate::http::cookies(headers, LANGUAGE_COOKIE).next().and_then(|c| locale::best_for(c, &DASHBOARD_LANGUAGES));
    let tag = chosen.or_else(|| {
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())?;
        locale::negotiate(accept, &DASHBOARD_LANGUAGES)
    });
    Lang::of(tag, "en")
}

/// The cookie that keeps the owner's choice: `EUR.de` (either part empty: the default).
pub const COOKIE: &str = "sf_admin_view";

/// The market the dashboard shows the catalog as: `None` is the shop's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// an enabled currency other than the default
    pub currency: Option<String>,
    /// an enabled language other than the default
    pub locale: Option<String>,
}

impl View {
    /// The request's choice, kept only while the shop still sells in that currency and
    /// language (a choice the settings have since removed shows the default).
    pub fn of(live: &crate::config::Config, headers: &HeaderMap) -> View {
        let Some(raw) = crate::http::cookies(headers, COOKIE).next() else { return View::default() };
        let (currency, lang) = raw.split_once('.').unwrap_or((raw, ""));
        let codes = currencies::codes(&live.currencies);
        let locales = locale::enabled(&live.locales);
        View {
            currency: codes.iter().skip(1).find(|c| c.as_str() == currency).cloned(),
            locale: locales.iter().skip(1).find(|l| **l == lang).map(|l| (*l).to_owned()),
        }
    }

    /// Whether it is the shop's default currency and language.
    pub fn is_default(&self) -> bool {
        self.currency.is_none() && self.locale.is_none()
    }
}

/// A form's field as asked: trimmed, `None` when empty (the shop's default).
fn asked(v: &str) -> Option<&str> {
    Some(v.trim()).filter(|v| !v.is_empty())
}

/// The form that switches the view, for the page at `back`: shown when the shop sells in
/// more than one currency or language.
pub fn switch(app: &AppState, a: &AdminPage, back: &str) -> Markup {
    let w = a.w;
    let live = app.live();
    let codes = currencies::codes(&live.currencies);
    let locales = locale::enabled(&live.locales);
    if codes.len() < 2 && locales.len() < 2 {
        return html! {};
    }
    let shown_currency = a.view.currency.as_deref().unwrap_or(&codes[0]);
    let shown_locale = a.view.locale.as_deref().unwrap_or(locales[0]);
    html! {
        form.view-switch method="post" action="/admin/view" aria-label=(t(w, "Show the catalog as a market sees it")) {
            (csrf(&a.ps))
            input type="hidden" name="back" value=(back);
            @if codes.len() > 1 {
                div.field {
                    label for="view-currency" { (t(w, "Prices in")) }
                    select #view-currency name="currency" {
                        @for c in &codes { option value=(c) selected[c == shown_currency] { (c) } }
                    }
                }
            }
            @if locales.len() > 1 {
                div.field {
                    label for="view-locale" { (t(w, "Names in")) }
                    select #view-locale name="locale" {
                        @for l in &locales { option value=(l) selected[*l == shown_locale] { (language_label(l)) } }
                    }
                }
            }
            button.quiet type="submit" { (t(w, "Show")) }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ViewForm {
    csrf: Option<String>,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    back: String,
}

/// `POST /admin/view`: keeps the currency and language the catalog is shown in; back to
/// the dashboard page the form was on. A currency or language the shop does not sell in
/// is 422 and keeps the choice as it was.
pub async fn choose(State(app): State<AppState>, a: AdminPage, Form(f): Form<ViewForm>) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let live = app.live();
    // the API's own checks of a currency and a language asked for (empty: the default)
    let currency = asked(&f.currency).map(|c| currencies::sold(&live.currencies, c)).transpose();
    let lang = asked(&f.locale).map(|l| locale::of_customer(l, &live.locales)).transpose();
    let (currency, lang) = match (currency, lang) {
        (Ok(c), Ok(l)) => (c.map(|e| e.code.as_str().to_owned()).unwrap_or_default(), l.flatten().unwrap_or_default()),
        (c, l) => {
            let errors = [("currency", c.err()), ("locale", l.err())];
            return Err(ApiError::validation(
                errors.into_iter().filter_map(|(k, e)| Some((k.to_owned(), e?))).collect(),
            ));
        }
    };
    let back = in_dashboard(&f.back);
    let value = format!("{currency}.{lang}");
    let secure = if a.ps.secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; Path=/admin; Max-Age=31536000; SameSite=Strict; HttpOnly{secure}");
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?;
    let mut resp = see_other(back, None);
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// The market of the view's currency for shoppers of no group now; `None`: the default's
/// own prices.
fn market_of(conn: &rusqlite::Connection, setting: &str, currency: Option<&str>) -> rusqlite::Result<Option<Market>> {
    let m = Market::load(conn, setting, currency, &[], crate::util::now_ms())?;
    Ok((!m.is_plain()).then_some(m))
}

/// What shoppers in the view's market see of `products` (their ids); `None` when the view
/// is the shop's default (the list's own answer says it).
pub async fn seen(app: &AppState, a: &AdminPage, products: Vec<i64>) -> Result<Option<HashMap<i64, Seen>>, ApiError> {
    if a.view.is_default() || products.is_empty() {
        return Ok(None);
    }
    let setting = app.live().currencies.clone();
    let view = a.view.clone();
    let seen = app
        .db
        .read(move |conn| {
            let market = market_of(conn, &setting, view.currency.as_deref())?;
            Ok::<_, ApiError>(prices::seen(conn, market.as_ref(), view.locale.as_deref(), &products)?)
        })
        .await?;
    Ok(Some(seen))
}

/// One currency's row of a product's prices: what shoppers of no group pay now, and how.
struct InCurrency {
    code: String,
    seen: Option<Seen>,
    how: String,
}

/// The panel of a product's page: its price in every currency the shop sells in, how each
/// is set, and every price list's price for it.
pub async fn prices_panel(w: Lang, app: &AppState, product: i64) -> Result<Markup, ApiError> {
    let live = app.live();
    let enabled = currencies::enabled(&live.currencies);
    if enabled.len() < 2 {
        return Ok(html! {});
    }
    let setting = live.currencies.clone();
    let (rows, lists) = app
        .db
        .read(move |conn| {
            let lists = prices::list_prices_of(conn, product)?;
            let now = crate::util::now_ms();
            let mut rows = Vec::new();
            for (i, e) in enabled.iter().enumerate() {
                let code = e.code.as_str().to_owned();
                let market = market_of(conn, &setting, Some(&code))?;
                let seen = prices::seen(conn, market.as_ref(), None, &[product])?.remove(&product);
                let everyone =
                    |l: &&prices::ListPrice| l.currency == code && l.group.is_none() && l.variant_sku.is_none();
                let how = if i == 0 {
                    t(w, "its own price").to_owned()
                } else if let Some(l) =
                    lists.iter().filter(everyone).find(|l| l.starts_at.is_none() && l.ends_at.is_none())
                {
                    tf(w, "price list “{list}”", &[("list", &l.list)])
                } else {
                    tf(
                        w,
                        "converted from {currency} at {rate}",
                        &[("currency", &enabled[0].code.as_str()), ("rate", &e.rate().to_string())],
                    )
                };
                let lowered = lists.iter().filter(everyone).find(|l| {
                    (l.starts_at.is_some() || l.ends_at.is_some() || i == 0)
                        && l.starts_at.is_none_or(|s| s <= now)
                        && l.ends_at.is_none_or(|t| now < t)
                        && seen.as_ref().is_some_and(|s| l.sale.unwrap_or(l.amount) == s.paid)
                });
                let how = match lowered {
                    Some(l) => tf(w, "{how}; now “{list}” is lower", &[("how", &how), ("list", &l.list)]),
                    None => how,
                };
                rows.push(InCurrency { code, seen, how });
            }
            Ok::<_, ApiError>((rows, lists))
        })
        .await?;
    let window = |l: &prices::ListPrice| match (l.starts_at, l.ends_at) {
        (None, None) => String::new(),
        (s, e) => format!(
            " · {}–{}",
            s.map(|t| super::admin::when(&crate::util::rfc3339(t))).unwrap_or_default(),
            e.map(|t| super::admin::when(&crate::util::rfc3339(t))).unwrap_or_default()
        ),
    };
    Ok(html! {
        section.panel.spaced #prices-by-currency aria-labelledby="in-currencies" {
            h2 #in-currencies { (t(w, "In each currency")) }
            p.meta { (t(w, "What a shopper who is in no customer group pays now.")) }
            table.lines {
                thead { tr { th scope="col" { (t(w, "Currency")) } th scope="col" { (t(w, "Shoppers pay")) } th scope="col" { (t(w, "How it is set")) } } }
                tbody { @for r in &rows { tr {
                    td { (r.code) }
                    td data-label=(t(w, "Shoppers pay")) {
                        @if let Some(s) = &r.seen {
                            (shown_in(s.paid, &r.code))
                            @if s.paid < s.regular { " " s.meta { (shown_in(s.regular, &r.code)) } }
                        }
                    }
                    td data-label=(t(w, "How it is set")) { (r.how) }
                } } }
            }
            @if !lists.is_empty() {
                h3 { (t(w, "Price lists with a price for it")) }
                ul.plain {
                    @for l in &lists {
                        li {
                            a href=(format!("/admin/price-lists/{}", l.list_id)) { (l.list) }
                            " · " (shown_in(l.sale.unwrap_or(l.amount), &l.currency))
                            @if l.sale.is_some() { " " s.meta { (shown_in(l.amount, &l.currency)) } }
                            @if let Some(sku) = &l.variant_sku { span.meta { (t(w, " · variant ")) (sku) } }
                            @if let Some(g) = &l.group { span.meta { (t(w, " · for ")) (g) } }
                            span.meta { (window(l)) }
                        }
                    }
                }
            }
        }
    })
}

/// A form's page to return to: a dashboard page, else the dashboard's home.
fn in_dashboard(back: &str) -> &str {
    let back = back.trim();
    let ours = back == "/admin" || back.starts_with("/admin/") || back.starts_with("/admin?");
    if ours && !back.contains('\\') && !back.contains("//") && back.len() <= 2000 {
        back
    } else {
        "/admin"
    }
}

/// The footer's form that picks the language of the dashboard's own words, each language
/// named in itself.
pub fn language_switch(a: &AdminPage) -> Markup {
    let w = a.w;
    html! {
        form.language method="post" action="/admin/language" {
            (csrf(&a.ps))
            input type="hidden" name="back" value=(a.address);
            label for="dashboard-language" { (t(w, "Dashboard language")) }
            select #dashboard-language name="lang" {
                @for tag in DASHBOARD_LANGUAGES {
                    option value=(tag) lang=(tag) selected[tag == w.tag()] { (language_name(tag)) }
                }
            }
            button.quiet type="submit" { (t(w, "Change")) }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LanguageForm {
    csrf: Option<String>,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    back: String,
}

/// `POST /admin/language`: keeps the language of the dashboard's own words (a year, in a
/// cookie of the dashboard's own) and returns to the page the form was on. A language
/// the dashboard does not speak is 422 and keeps the choice as it was.
pub async fn language(a: AdminPage, Form(f): Form<LanguageForm>) -> Result<Response, ApiError> {
    check_csrf(a.ps.token.as_deref(), f.csrf.as_deref())?;
    let Some(tag) = DASHBOARD_LANGUAGES.iter().find(|l| **l == f.lang.trim()) else {
        let why = format!("must be one of the dashboard's languages: {}", DASHBOARD_LANGUAGES.join(", "));
        return Err(ApiError::validation([("lang".to_owned(), why)].into()));
    };
    let secure = if a.ps.secure { "; Secure" } else { "" };
    let cookie = format!("{LANGUAGE_COOKIE}={tag}; Path=/admin; Max-Age=31536000; SameSite=Strict; HttpOnly{secure}");
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?;
    let mut resp = see_other(in_dashboard(&f.back), None);
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}
