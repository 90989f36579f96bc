//! The storefront's personal pages: the cart, checkout and the order. Each page and each form
//! is the JSON API's handler called with the session the `sf_session` cookie names
//! ([`super::session`]): the same checks (stock, limits, idempotency), the same writer
//! units. Personal pages are never cached (`private, no-store`); every form on them carries
//! the session's CSRF token, and the checkout form an idempotency key, so a form sent twice
//! places one order.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::forms::{beside_line_or, field, form_lines, refused, Fields};
use super::layout::{self, money, Frame};
use super::session::{self, check_csrf, CsrfForm, PageSession, CSRF_FIELD};
use super::view::*;
use super::words::{self, t, tf, Lang};
use crate::app::AppState;
use crate::auth::Session;
use crate::cart::handlers as cart_api;
use crate::customers::handlers as customers_api;
use crate::domain::Id;
use crate::error::ApiError;
use crate::http::path::PathId;
use crate::http::{JsonBody, QueryParams};
use crate::orders::handlers as orders_api;

/// What an API handler answered: its `data` on success, its error otherwise.
pub(crate) async fn answered<T: DeserializeOwned>(r: Result<Response, ApiError>) -> Result<T, ApiError> {
    let mut resp = r?;
    if let Some(e) = resp.extensions_mut().remove::<ApiError>() {
        return Err(e);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await.map_err(|_| ApiError::internal())?;
    serde_json::from_slice::<Data<T>>(&bytes).map(|d| d.data).map_err(|e| {
        tracing::error!(error = %e, "a page cannot read an API answer");
        ApiError::internal()
    })
}

/// [`answered`] for a storefront page: a refusal in the shopper's language (see
/// [`words::refusal`]).
pub(crate) async fn answered_in<T: DeserializeOwned>(w: Lang, r: Result<Response, ApiError>) -> Result<T, ApiError> {
    answered(r).await.map_err(|e| words::refusal(w, e))
}

/// What an API handler answered as a whole (a list with its `meta`), its error otherwise.
pub(crate) async fn answered_whole<T: DeserializeOwned>(r: Result<Response, ApiError>) -> Result<T, ApiError> {
    let mut resp = r?;
    if let Some(e) = resp.extensions_mut().remove::<ApiError>() {
        return Err(e);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.map_err(|_| ApiError::internal())?;
    serde_json::from_slice::<T>(&bytes).map_err(|e| {
        tracing::error!(error = %e, "a page cannot read an API answer");
        ApiError::internal()
    })
}

/// An API handler that answers without a body (204): its error, if it failed.
pub(crate) fn done(r: Result<Response, ApiError>) -> Result<(), ApiError> {
    match r?.extensions_mut().remove::<ApiError>() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn to_view<T: DeserializeOwned>(v: &impl serde::Serialize) -> Result<T, ApiError> {
    serde_json::to_value(v).and_then(serde_json::from_value).map_err(|e| {
        tracing::error!(error = %e, "a page cannot read an API answer");
        ApiError::internal()
    })
}

/// A personal page: never kept by any cache.
pub(crate) fn private_page(status: StatusCode, html: String, ps: &PageSession) -> Response {
    let mut resp = Response::new(axum::body::Body::from(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    crate::http::respond::page_headers(h);
    if ps.stale_cookie {
        h.append(header::SET_COOKIE, session::clear_cookie(ps.secure));
    }
    resp
}

/// 303 to `to` (after a form), with the cookie of a session opened on the way.
pub(crate) fn see_other(to: &str, new_cookie: Option<HeaderValue>) -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_str(to).expect("addresses the pages make are ASCII"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Some(c) = new_cookie {
        h.append(header::SET_COOKIE, c);
    }
    resp
}

/// The frame of a shopper's page, in the shopper's language (see [`super::words`]).
fn frame<'a>(app: &'a AppState, ps: &PageSession, title: &'a str) -> Frame<'a> {
    Frame { lang: ps.lang.clone(), words: ps.words, ..Frame::plain(app.live().shop_name.clone(), title, "") }
}

/// A payment method as a sentence names it ("by card").
fn payment_name(code: &str, w: Lang) -> String {
    match code {
        "card" => t(w, "card").to_owned(),
        "paypal" => "PayPal".to_owned(),
        "bank_transfer" => t(w, "bank transfer").to_owned(),
        "cash_on_delivery" => t(w, "cash on delivery").to_owned(),
        other => other.replace('_', " "),
    }
}

/// A country's name in the shopper's language (its code when the checkout does not list it).
fn country_name(code: &str, w: Lang) -> String {
    COUNTRIES.iter().find(|(c, _)| *c == code).map_or_else(|| code.to_owned(), |(_, name)| t(w, name).to_owned())
}

fn csrf_field(ps: &PageSession) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(ps.csrf()); }
}

fn whole(field: &str, v: &str) -> Result<i64, ApiError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::validation([(field.to_owned(), "must be a whole number".to_owned())].into()))
}

// --- the cart ----------------------------------------------------------------------------

/// `GET /cart`
pub async fn cart(State(app): State<AppState>, ps: PageSession) -> Result<Response, ApiError> {
    cart_page(&app, &ps, None).await
}

/// The cart's gift card: the one applied (what it pays, or why it cannot), or the field to
/// apply one, with what went wrong with the code typed.
fn gift_card_form(ps: &PageSession, c: &Cart, problem: Option<(&str, &str)>) -> Markup {
    let w = ps.words;
    html! {
        @match &c.gift_card {
            Some(g) => {
                dl.gift-card {
                    dt { (tf(w, "Gift card …{last4}", &[("last4", &g.last4)])) } dd { "−" (money(&g.applies)) }
                }
                @if let Some(p) = &g.problem { p.notice { (p) } }
                @else { p.meta { (tf(w, "Balance {balance}; it pays at checkout, the rest by your payment method.", &[("balance", &money(&g.balance))])) } }
                form.inline method="post" action="/cart/gift-card/remove" {
                    (csrf_field(ps))
                    button.quiet type="submit" aria-label=(tf(w, "Remove the gift card ending {last4}", &[("last4", &g.last4)])) { (t(w, "Remove gift card")) }
                }
            }
            None => {
                form.discount method="post" action="/cart/gift-card" {
                    (csrf_field(ps))
                    label for="gift-card-code" { (t(w, "Gift card")) }
                    div.inline-row {
                        input #gift-card-code type="text" name="code" maxlength="40" autocomplete="off" placeholder="XXXX-XXXX-XXXX-XXXX"
                            value=(problem.map_or("", |(typed, _)| typed))
                            aria-invalid=[problem.map(|_| "true")]
                            aria-describedby=[problem.map(|_| "gift-card-code-error")];
                        button.quiet type="submit" { (t(w, "Apply")) }
                    }
                    @if let Some((_, why)) = problem { span.field-error #gift-card-code-error { (why) } }
                }
            }
        }
    }
}

/// `POST /cart/gift-card`: the API's gift card; one that does not apply is said why beside
/// the field.
pub async fn apply_gift_card(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CodeForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    let code = f.code.trim().to_owned();
    let body = crate::gift_cards::handlers::GiftCardIn { code: code.clone() };
    let r = crate::gift_cards::handlers::apply_gift_card(State(app.clone()), session, JsonBody(body)).await;
    match answered_in::<serde_json::Value>(ps.words, r).await {
        Ok(_) => Ok(see_other("/cart", None)),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let why = e.details.get("code").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or(e.message.clone());
            cart_view(&app, &ps, None, Some((&code, &why))).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /cart/gift-card/remove`
pub async fn remove_gift_card(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    done(crate::gift_cards::handlers::remove_gift_card(State(app.clone()), session).await)?;
    Ok(see_other("/cart", None))
}

/// The cart, with what went wrong with the code a shopper typed (422 then).
async fn cart_page(app: &AppState, ps: &PageSession, code_problem: Option<(&str, &str)>) -> Result<Response, ApiError> {
    cart_view(app, ps, code_problem, None).await
}

/// The cart, with what went wrong with the discount code or the gift card code typed.
async fn cart_view(
    app: &AppState,
    ps: &PageSession,
    code_problem: Option<(&str, &str)>,
    card_problem: Option<(&str, &str)>,
) -> Result<Response, ApiError> {
    let app = app.clone();
    let cart: Option<Cart> = match &ps.session {
        Some(s) => Some(to_view(&crate::cart::render(&app, s.clone(), None).await?)?),
        None => None,
    };
    let w = ps.words;
    let main = html! {
        h1 { (t(w, "Your cart")) }
        @match cart.as_ref().filter(|c| !c.items.is_empty()) {
            None => {
                div.empty { p { (t(w, "Your cart is empty.")) } a.button href="/" { (t(w, "Continue shopping")) } }
            }
            Some(c) => {
                div.cart {
                    table.lines {
                        caption.skip { (t(w, "Items in your cart")) }
                        thead { tr { th scope="col" { (t(w, "Product")) } th scope="col" { (t(w, "Price")) } th scope="col" { (t(w, "Quantity")) } th scope="col" { (t(w, "Total")) } th scope="col" { span.skip { (t(w, "Remove")) } } } }
                        tbody {
                            @for i in &c.items {
                                tr {
                                    td {
                                        a href=(format!("/p/{}", i.slug)) { (i.name) }
                                        @if !i.variant_name.is_empty() { br; span.meta { (i.variant_name) } }
                                        @if !i.in_stock { br; span.stock.out { (t(w, "Not enough in stock")) } }
                                    }
                                    td { (money(&i.unit_price)) }
                                    td {
                                        form.inline method="post" action=(format!("/cart/items/{}", i.id)) {
                                            (csrf_field(ps))
                                            label.skip for=(format!("qty-{}", i.id)) { (tf(w, "Quantity of {name}", &[("name", &i.name)])) }
                                            input id=(format!("qty-{}", i.id)) type="number" name="quantity" value=(i.quantity) min="0" max="1000" inputmode="numeric";
                                            button.quiet type="submit" { (t(w, "Update")) }
                                        }
                                    }
                                    td { (money(&i.line_total)) }
                                    td {
                                        form.inline method="post" action=(format!("/cart/items/{}/remove", i.id)) {
                                            (csrf_field(ps))
                                            button.quiet type="submit" aria-label=(tf(w, "Remove {name}", &[("name", &i.name)])) { (t(w, "Remove")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    aside.summary aria-label=(t(w, "Summary")) {
                        dl {
                            dt { (t(w, "Items")) } dd { (c.item_count) }
                            dt { (t(w, "Subtotal")) } dd { (money(&c.subtotal)) }
                            @if c.discount.amount > 0 {
                                dt { (t(w, "Discount")) @if let Some(code) = &c.discount_code { " (" (code) ")" } } dd { "−" (money(&c.discount)) }
                            }
                        }
                        @if let Some(p) = &c.discount_problem { p.notice { (p) } }
                        @match &c.discount_code {
                            Some(code) => {
                                form.inline method="post" action="/cart/discount/remove" {
                                    (csrf_field(ps))
                                    button.quiet type="submit" aria-label=(tf(w, "Remove the code {code}", &[("code", code)])) { (t(w, "Remove code")) }
                                }
                            }
                            None => {
                                form.discount method="post" action="/cart/discount" {
                                    (csrf_field(ps))
                                    label for="discount-code" { (t(w, "Discount code")) }
                                    div.inline-row {
                                        input #discount-code type="text" name="code" maxlength="64" autocomplete="off"
                                            value=(code_problem.map_or("", |(typed, _)| typed))
                                            aria-invalid=[code_problem.map(|_| "true")]
                                            aria-describedby=[code_problem.map(|_| "discount-code-error")];
                                        button.quiet type="submit" { (t(w, "Apply")) }
                                    }
                                    @if let Some((_, why)) = code_problem { span.field-error #discount-code-error { (why) } }
                                }
                            }
                        }
                        (gift_card_form(ps, c, card_problem))
                        p.meta { (t(w, "Shipping, and any tax not included in the prices, are added at checkout.")) }
                        a.button href="/checkout" { (t(w, "Check out")) }
                    }
                }
            }
        }
    };
    let status = if code_problem.is_some() || card_problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    // the cart's currency can change here too
    let mut f = frame(&app, ps, t(w, "Cart"));
    let shown = cart.as_ref().map(|c| c.subtotal.currency.clone());
    f.currencies = super::shop::currency_switch(&app, shown, "/cart");
    Ok(private_page(status, layout::page(&f, main), ps))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    csrf: Option<String>,
}

/// `POST /cart/discount`: the API's promotion code; one that does not apply is said why
/// beside the field.
pub async fn apply_discount(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CodeForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    let code = f.code.trim().to_owned();
    let body = cart_api::DiscountIn { code: code.clone() };
    let r = cart_api::apply_discount(State(app.clone()), session, JsonBody(body)).await;
    match answered_in::<serde_json::Value>(ps.words, r).await {
        Ok(_) => Ok(see_other("/cart", None)),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let why = e.details.get("code").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or(e.message.clone());
            cart_page(&app, &ps, Some((&code, &why))).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /cart/discount/remove`
pub async fn remove_discount(
    State(app): State<AppState>,
    ps: PageSession,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    done(cart_api::remove_discount(State(app.clone()), session).await)?;
    Ok(see_other("/cart", None))
}

#[derive(Deserialize)]
pub struct AddForm {
    variant_id: String,
    quantity: String,
}

/// `POST /cart/items` (the product page's form): puts a variant in the cart, opening a
/// guest session first when there is none. The product page is the same for everyone (it
/// is cached), so this form cannot carry a session's token: it is checked as every page
/// form is, by where it was posted from (see `crate::web::context`), and the cookie is
/// `SameSite=Strict`.
pub async fn add(
    State(app): State<AppState>,
    ps: PageSession,
    client: customers_api::Client,
    mut parts: Parts,
    Form(f): Form<AddForm>,
) -> Result<Response, ApiError> {
    let quantity = whole("quantity", &f.quantity)?;
    let variant = Id::parse(f.variant_id.trim())
        .ok_or_else(|| ApiError::validation([("variant_id".to_owned(), "no such product".to_owned())].into()))?;
    let (session, cookie) = match ps.session {
        Some(s) => (s, None),
        None => {
            // a guest session is opened only for a variant that can be put in a cart (the
            // API's own check; the cart's stock check follows in its writer unit)
            app.db
                .read(move |conn| {
                    crate::cart::resolve_variant(conn, None, Some(variant), quantity.max(1))
                        .map(|_| ())
                        .map_err(|e| e.at("variant_id"))
                })
                .await?;
            if !(1..=crate::domain::Quantity::MAX).contains(&quantity) {
                let range = format!("must be 1 to {}", crate::domain::Quantity::MAX);
                return Err(ApiError::validation([("quantity".to_owned(), range)].into()));
            }
            #[derive(Deserialize)]
            struct Token {
                token: String,
            }
            let t: Token = answered(customers_api::guest(State(app.clone()), client).await).await?;
            let s = session::authenticate(&mut parts, &app, &t.token).await?.ok_or_else(ApiError::internal)?;
            let ttl = app.config.session_ttl_days * 24 * 3600;
            (s, Some(session::set_cookie(&t.token, ttl, ps.secure)))
        }
    };
    let body = cart_api::AddIn { product_id: None, variant_id: Some(variant), quantity };
    // the cart is priced in the footer's currency
    let query = match super::shop::cart_currency(&app, &parts.headers) {
        Some(c) => crate::http::query::encode_pairs([("currency", c.as_str())]),
        None => String::new(),
    };
    let q = crate::http::QueryParams::parse(&query)?;
    let _: serde_json::Value = answered(cart_api::add(State(app.clone()), session, q, JsonBody(body)).await).await?;
    Ok(see_other("/cart", cookie))
}

#[derive(Deserialize)]
pub struct QuantityForm {
    quantity: String,
    csrf: Option<String>,
}

fn session_of(ps: &PageSession) -> Result<Session, ApiError> {
    ps.session.clone().ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, "csrf_failed", "your session has ended; reload the page and try again")
    })
}

/// `POST /cart/items/{id}`: a line's new quantity (0 removes it).
pub async fn update_item(
    State(app): State<AppState>,
    ps: PageSession,
    Path(item): Path<String>,
    Form(f): Form<QuantityForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    let quantity = whole("quantity", &f.quantity)?;
    let item = Id::parse(&item).ok_or_else(|| ApiError::not_found("cart item"))?;
    let answer = if quantity == 0 {
        cart_api::remove_item(State(app.clone()), session, PathId(item.0, PhantomData)).await
    } else {
        let body = cart_api::QuantityIn { quantity };
        cart_api::update_item(State(app.clone()), session, PathId(item.0, PhantomData), JsonBody(body)).await
    };
    let _: serde_json::Value = answered(answer).await?;
    Ok(see_other("/cart", None))
}

/// `POST /cart/items/{id}/remove`
pub async fn remove_item(
    State(app): State<AppState>,
    ps: PageSession,
    Path(item): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    let item = Id::parse(&item).ok_or_else(|| ApiError::not_found("cart item"))?;
    let _: serde_json::Value =
        answered(cart_api::remove_item(State(app.clone()), session, PathId(item.0, PhantomData)).await).await?;
    Ok(see_other("/cart", None))
}

// --- checkout ------------------------------------------------------------------------------

/// Countries the checkout form offers (ISO 3166-1 alpha-2); the shop's shipping rates decide
/// which of them it ships to.
pub(crate) const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("AT", "Austria"),
    ("CH", "Switzerland"),
    ("SE", "Sweden"),
    ("DK", "Denmark"),
    ("NO", "Norway"),
    ("FI", "Finland"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("JP", "Japan"),
];

/// The payment methods the checkout form and a draft order offer.
pub(crate) const PAYMENT_METHODS: &[(&str, &str)] = &[
    ("card", "Card (on delivery of the payment link)"),
    ("paypal", "PayPal"),
    ("bank_transfer", "Bank transfer"),
    ("cash_on_delivery", "Cash on delivery"),
];

#[derive(Debug, Default, Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    shipping_option: String,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    idempotency_key: String,
    csrf: Option<String>,
}

/// `GET /checkout`
pub async fn checkout(
    State(app): State<AppState>,
    ps: PageSession,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // `?country=XX` picks the destination whose delivery options are shown
    let q = QueryParams::parse(raw.as_deref().unwrap_or(""))?;
    let asked = q.pairs().iter().find(|(k, _)| k == "country").map(|(_, v)| v.to_ascii_uppercase());
    let country = asked.filter(|c| COUNTRIES.iter().any(|(code, _)| code == c)).unwrap_or_else(|| "US".to_owned());
    let form =
        CheckoutForm { country, payment_method: "card".into(), idempotency_key: new_key(), ..CheckoutForm::default() };
    checkout_page(&app, &ps, form, StatusCode::OK, None, BTreeMap::new()).await
}

fn new_key() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn checkout_page(
    app: &AppState,
    ps: &PageSession,
    form: CheckoutForm,
    status: StatusCode,
    problem: Option<String>,
    errors: BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let Some(session) = ps.session.clone() else {
        return Ok(see_other("/cart", None));
    };
    let cart: Cart = to_view(&crate::cart::render(app, session.clone(), None).await?)?;
    if cart.items.is_empty() {
        return Ok(see_other("/cart", None));
    }
    let options: Vec<ShippingOption> = answered(
        cart_api::shipping_options(
            State(app.clone()),
            session,
            QueryParams::parse(&format!("country={}", form.country))?,
        )
        .await,
    )
    .await
    .unwrap_or_default();
    let w = ps.words;
    let field = |name: &str, label: &'static str, value: &str, kind: &str, required: bool, autocomplete: &str| {
        let key = if name == "email" { "email".to_owned() } else { format!("shipping_address.{name}") };
        let error = errors.get(&key).or_else(|| errors.get(name));
        let id = format!("f-{name}");
        html! {
            div.field {
                label for=(id) { (t(w, label)) @if !required { (t(w, " (optional)")) } }
                input id=(id) type=(kind) name=(name) value=(value) required[required] autocomplete=(autocomplete)
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| format!("{id}-error"))];
                @if let Some(e) = error { span.field-error id=(format!("{id}-error")) { (e) } }
            }
        }
    };
    let main = html! {
        h1 { (t(w, "Checkout")) }
        @if let Some(p) = &problem { div.error role="alert" { p { (p) } } }
        @if !errors.is_empty() && problem.is_none() {
            div.error role="alert" { p { (t(w, "Please check the fields marked below.")) } }
        }
        div.checkout {
            form.panel method="post" action="/checkout" novalidate {
                (csrf_field(ps))
                input type="hidden" name="idempotency_key" value=(form.idempotency_key);
                fieldset {
                    legend { (t(w, "Contact")) }
                    (field("email", "E-mail for the confirmation", &form.email, "email", session_is_guest(ps), "email"))
                }
                fieldset {
                    legend { (t(w, "Shipping address")) }
                    (field("name", "Full name", &form.name, "text", true, "name"))
                    (field("line1", "Address", &form.line1, "text", true, "address-line1"))
                    (field("line2", "Apartment, suite", &form.line2, "text", false, "address-line2"))
                    div.row {
                        (field("city", "City", &form.city, "text", true, "address-level2"))
                        (field("state", "State or region", &form.state, "text", false, "address-level1"))
                        (field("postal_code", "Postal code", &form.postal_code, "text", true, "postal-code"))
                    }
                    div.field {
                        label for="f-country" { (t(w, "Country")) }
                        select #f-country name="country" autocomplete="country" {
                            @for (code, name) in COUNTRIES {
                                option value=(code) selected[form.country == *code] { (t(w, name)) }
                            }
                        }
                    }
                }
                fieldset {
                    legend { (t(w, "Delivery")) }
                    @if options.is_empty() {
                        p.notice { (t(w, "The shop does not ship to this country.")) }
                    }
                    @for (i, o) in options.iter().enumerate() {
                        label.choice {
                            input type="radio" name="shipping_option" value=(o.code)
                                checked[form.shipping_option == o.code || (form.shipping_option.is_empty() && i == 0)];
                            " " (o.name) " — " (money(&o.price))
                        }
                    }
                    @if let Some(e) = errors.get("shipping_option") { span.field-error { (e) } }
                }
                fieldset {
                    legend { (t(w, "Payment")) }
                    @for (code, name) in PAYMENT_METHODS {
                        label.choice {
                            input type="radio" name="payment_method" value=(code) checked[form.payment_method == *code];
                            " " (t(w, name))
                        }
                    }
                    @if let Some(e) = errors.get("payment_method") { span.field-error { (e) } }
                }
                button type="submit" { (t(w, "Place order")) }
            }
            aside.summary aria-label=(t(w, "Your order")) {
                h2 { (t(w, "Your order")) }
                ul.plain {
                    @for i in &cart.items { li { (i.quantity) " × " (i.name) span.meta { " " (money(&i.line_total)) } } }
                }
                dl {
                    dt { (t(w, "Subtotal")) } dd { (money(&cart.subtotal)) }
                    @if cart.discount.amount > 0 { dt { (t(w, "Discount")) } dd { "−" (money(&cart.discount)) } }
                }
                @if let Some(g) = &cart.gift_card {
                    @if let Some(p) = &g.problem { p.notice { (tf(w, "Gift card …{last4}", &[("last4", &g.last4)])) ": " (p) ". " a href="/cart" { (t(w, "Remove it in the cart")) } } }
                    @else { p.meta { (tf(w, "Gift card …{last4} pays up to {balance}; the rest is paid by the method you choose.", &[("last4", &g.last4), ("balance", &money(&g.balance))])) } }
                }
                p.meta { (t(w, "Shipping, and tax for your address unless the prices include it, are added when the order is placed.")) }
            }
        }
    };
    Ok(private_page(status, layout::page(&frame(app, ps, t(w, "Checkout")), main), ps))
}

fn session_is_guest(ps: &PageSession) -> bool {
    ps.session.as_ref().is_none_or(|s| s.customer_id.is_none())
}

/// `POST /checkout`: the order, placed by the API's checkout; its fields' problems come
/// back on the form.
pub async fn place(
    State(app): State<AppState>,
    ps: PageSession,
    asked: HeaderMap,
    Form(f): Form<CheckoutForm>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), f.csrf.as_deref())?;
    let session = session_of(&ps)?;
    let opt = |s: &str| if s.trim().is_empty() { serde_json::Value::Null } else { serde_json::Value::from(s) };
    let body = serde_json::json!({
        "shipping_address": {
            "name": f.name, "line1": f.line1, "line2": opt(&f.line2), "city": f.city, "state": opt(&f.state),
            "postal_code": f.postal_code, "country": f.country,
        },
        "payment_method": f.payment_method,
        "shipping_option": opt(&f.shipping_option),
        "email": if session.customer_id.is_none() { opt(&f.email) } else { serde_json::Value::Null },
    });
    let mut headers = HeaderMap::new();
    // a guest's order mail is written in the language the shop is read in
    if let Some(lang) = super::shop::Lang::of(&app, &asked).chosen {
        if let Ok(v) = HeaderValue::from_str(&lang) {
            headers.insert(axum::http::header::ACCEPT_LANGUAGE, v);
        }
    }
    if !f.idempotency_key.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&f.idempotency_key) {
            headers.insert("idempotency-key", v);
        }
    }
    let outcome = match crate::http::body::typed::<orders_api::CheckoutIn>(body.clone()) {
        Ok(value) => {
            let canonical = serde_json::to_vec(&body).expect("a value serializes");
            let with = crate::http::JsonWithBytes { value, bytes: canonical.clone().into(), canonical };
            answered::<Placed>(orders_api::checkout(State(app.clone()), session, headers, with).await).await
        }
        Err(e) => Err(e),
    };
    match outcome.map_err(|e| words::refusal(ps.words, e)) {
        Ok(placed) => Ok(see_other(&format!("/orders/{}", placed.order_id), None)),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors: BTreeMap<String, String> = e
                .details
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                .collect();
            checkout_page(&app, &ps, f, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await
        }
        Err(e) if e.status.is_client_error() => {
            let status = e.status;
            checkout_page(&app, &ps, f, status, Some(e.message), BTreeMap::new()).await
        }
        Err(e) => Err(e),
    }
}

// --- the order -----------------------------------------------------------------------------

/// Where an order stands, in the shopper's words.
pub(crate) fn status_words(status: &str, w: Lang) -> &'static str {
    t(
        w,
        match status {
            "pending" => "Waiting for payment",
            "paid" => "Paid — being prepared",
            "partially_fulfilled" => "Partly shipped — the rest follows",
            "fulfilled" => "Shipped",
            "cancelled" => "Cancelled",
            "expired" => "Expired (not paid in time)",
            "refunded" => "Refunded",
            "partially_refunded" => "Partly refunded",
            _ => "In progress",
        },
    )
}

/// The date of a timestamp, "2026-12-05".
fn day(ts: &str) -> &str {
    ts.get(..10).unwrap_or(ts)
}

/// `GET /orders/{id}[?key=]`: the order's confirmation and where it stands, for its owner,
/// or for whoever holds the payment link the shop sent (`key`).
pub async fn order(
    State(app): State<AppState>,
    ps: PageSession,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let q = QueryParams::parse(raw.as_deref().unwrap_or(""))?;
    let key = q.pairs().iter().find(|(k, _)| k == "key").map(|(_, v)| v.clone());
    order_page(&app, &ps, id, key.as_deref(), &BTreeMap::new(), &Vec::new()).await
}

/// When each line last arrived (or left, when no delivery was reported): the start of its
/// return window.
fn last_arrival(o: &Order, line: i64) -> Option<i64> {
    o.fulfillments
        .iter()
        .filter(|f| f.lines.iter().any(|l| l.line_id == line))
        .filter_map(|f| crate::util::parse_utc(f.delivered_at.as_deref().unwrap_or(&f.created_at)))
        .max()
}

/// The lines a shopper may ask to return now: (item, units, last day to ask).
fn returnable_now<'o>(app: &AppState, o: &'o Order) -> Vec<(&'o OrderItem, i64, String)> {
    let days = app.live().return_window_days;
    let now = crate::util::now_ms();
    o.items
        .iter()
        .filter(|i| i.returnable > 0)
        .filter_map(|i| {
            let since = last_arrival(o, i.line);
            crate::orders::returns::in_window(since, days, now).then(|| {
                let until = since.unwrap_or(now) + days as i64 * 86_400_000;
                (i, i.returnable, crate::util::rfc3339(until)[..10].to_owned())
            })
        })
        .collect()
}

async fn order_page(
    app: &AppState,
    ps: &PageSession,
    id: Id,
    key: Option<&str>,
    errors: &BTreeMap<String, String>,
    sent: &Fields,
) -> Result<Response, ApiError> {
    if key.is_none() && ps.session.is_none() {
        return Err(ApiError::not_found("order"));
    }
    let session = ps.session.clone().ok_or_else(|| ApiError::not_found("order"));
    let q = QueryParams::parse(&key.map(|k| crate::http::query::encode_pairs([("key", k)])).unwrap_or_default())
        .map_err(|_| ApiError::not_found("order"))?;
    let o: Order =
        answered(orders_api::detail(State(app.clone()), session, PathId(id.0, PhantomData), q).await).await?;
    let a = &o.shipping_address;
    // returns are asked for from the owner's session, not through a payment link
    let can_return = if key.is_some() { Vec::new() } else { returnable_now(app, &o) };
    let err = |k: &str| errors.get(k).map(String::as_str);
    let w = ps.words;
    let method = payment_name(&o.payment_method, w);
    let title = tf(w, "Order {id}", &[("id", &o.id)]);
    let main = html! {
        h1 { (title) }
        div.notice role="status" {
            p { strong { (status_words(&o.status, w)) } }
            @if o.status == "pending" {
                p {
                    @match &o.expires_at {
                        Some(x) => {
                            @let until = format!("{} {}", x.get(..10).unwrap_or(x), x.get(11..16).unwrap_or(x));
                            (tf(w, "Thank you! Your order is placed and its items are held for you until {until} UTC.", &[("until", &until)]))
                        }
                        None => { (t(w, "Thank you! Your order is placed and its items are held for you.")) }
                    }
                }
                @if let Some(due) = o.amount_due.as_ref().filter(|d| d.amount > 0) {
                    p.to-pay { (t(w, "To pay:")) " " strong { (money(due)) } " " (tf(w, "by {method}, quoting order {id} as the reference.", &[("method", &method), ("id", &o.id)])) }
                }
            }
            @if let Some(e) = &o.email { p.meta { (tf(w, "A confirmation goes to {email}.", &[("email", e)])) } }
        }
        div.checkout {
            section.panel aria-labelledby="items" {
                h2 #items { (t(w, "Items")) }
                table.lines {
                    thead { tr { th scope="col" { (t(w, "Product")) } th scope="col" { (t(w, "Price")) } th scope="col" { (t(w, "Quantity")) } th scope="col" { (t(w, "Total")) } } }
                    tbody {
                        @for i in &o.items {
                            tr { td { strong { (i.name) } } td data-label=(t(w, "Price")) { (money(&i.unit_price)) } td data-label=(t(w, "Quantity")) { (i.quantity) } td data-label=(t(w, "Total")) { (money(&i.line_total)) } }
                        }
                    }
                }
                dl {
                    dt { (t(w, "Subtotal")) } dd { (money(&o.subtotal)) }
                    @if o.discount.amount > 0 { dt { (t(w, "Discount")) } dd { "−" (money(&o.discount)) } }
                    dt { (t(w, "Shipping")) @if let Some(s) = &o.shipping_option { " (" (s) ")" } } dd { (money(&o.shipping)) }
                    (layout::tax_row_in(&o.tax, o.tax_included, w))
                    dt { strong { (t(w, "Total")) } } dd { strong { (money(&o.total)) } }
                    @for g in &o.gift_card_payments {
                        dt { (tf(w, "Paid by gift card …{last4}", &[("last4", &g.last4)])) } dd { "−" (money(&g.amount)) }
                        @if g.returned.amount > 0 { dt { (tf(w, "Back on gift card …{last4}", &[("last4", &g.last4)])) } dd { (money(&g.returned)) } }
                    }
                    @if let Some(due) = o.amount_due.as_ref().filter(|_| !o.gift_card_payments.is_empty()) {
                        dt { strong { @if o.status == "pending" { (t(w, "To pay")) } @else { (tf(w, "Paid by {method}", &[("method", &method)])) } } } dd { strong { (money(due)) } }
                    }
                    @if let Some(b) = o.balance_due.as_ref().filter(|b| b.amount > 0) {
                        dt.balance-due { strong { (t(w, "Balance due")) } } dd.balance-due { strong { (money(b)) } }
                    }
                }
                @if o.balance_due.as_ref().is_some_and(|b| b.amount > 0) {
                    p.notice role="status" { (t(w, "Your order was changed after you paid and costs more now: the shop will ask you for the balance.")) }
                }
                @if !o.fulfillments.is_empty() {
                    h2 #shipments { (t(w, "Shipments")) }
                    ol.shipments aria-labelledby="shipments" {
                        @for (n, f) in o.fulfillments.iter().enumerate() {
                            li.shipment #(format!("shipment-{}", f.id)) {
                                p {
                                    strong { (tf(w, "Parcel {n}", &[("n", &(n + 1))])) } " · " (tf(w, "sent {day}", &[("day", &day(&f.created_at))]))
                                    @if let Some(d) = &f.delivered_at { " · " strong.ok { (tf(w, "delivered {day}", &[("day", &day(d))])) } }
                                    @else { " · " (t(w, "on its way")) }
                                }
                                p { (f.contents(&o.items)) }
                                @if f.carrier.is_some() || f.tracking_number.is_some() {
                                    p.meta {
                                        @if let Some(c) = &f.carrier { (c) " " }
                                        @if let Some(n) = &f.tracking_number { (t(w, "tracking number")) " " code { (n) } }
                                    }
                                }
                                @if let Some(u) = &f.tracking_url {
                                    p { a href=(u) rel="noopener noreferrer" { (tf(w, "Track parcel {n}", &[("n", &(n + 1))])) } }
                                }
                            }
                        }
                    }
                }
                @if !o.refunds.is_empty() {
                    h2 #refunds { (t(w, "Refunds")) }
                    ol.refunds aria-labelledby="refunds" {
                        @for r in &o.refunds {
                            li.refund #(format!("refund-{}", r.id)) {
                                p { strong { (money(&r.amount)) } " · " (day(&r.created_at)) " · "
                                    span class=(format!("refund-status {}", r.status)) {
                                        (t(w, match r.status.as_str() {
                                            "succeeded" => "on its way back to you",
                                            "failed" => "could not be sent; the shop will be in touch",
                                            _ => "being processed",
                                        }))
                                    }
                                }
                                @let what = r.contents(&o.items);
                                @if !what.is_empty() { p { (what) } }
                                p.meta { (r.reason) }
                            }
                        }
                    }
                }
                @if !o.returns.is_empty() {
                    h2 #returns { (t(w, "Returns")) }
                    ol.returns aria-labelledby="returns" {
                        @for r in &o.returns {
                            li.return #(format!("return-{}", r.id)) {
                                p { strong { (tf(w, "Return {id}", &[("id", &r.id)])) } " · " (day(&r.created_at)) " · "
                                    span class=(format!("return-status {}", r.status)) { (t(w, r.shopper_words())) } }
                                p { (r.contents()) }
                                @if !r.note.is_empty() { p.meta { (tf(w, "From the shop: {note}", &[("note", &r.note)])) } }
                            }
                        }
                    }
                }
                @if !can_return.is_empty() {
                    h2 #return-items { (t(w, "Return items")) }
                    @if let Some(m) = err("form") { div.error role="alert" { p { (m) } } }
                    @else if !errors.is_empty() { div.error role="alert" { p { (t(w, "Nothing was asked for: see the fields below.")) } } }
                    form.return-form method="post" action=(format!("/orders/{}/returns", o.id)) aria-labelledby="return-items" {
                        (csrf_field(ps))
                        @for (item, units, until) in &can_return {
                            @let q = format!("ret_{}", item.line);
                            @let why = format!("why_{}", item.line);
                            fieldset.return-line {
                                legend { (item.name) " " span.meta { (tf(w, "(up to {units}, until {until})", &[("units", units), ("until", until)])) } }
                                div.field {
                                    label for=(q) { (t(w, "Units to send back")) }
                                    input id=(q) type="number" name=(q) min="0" max=(units)
                                        value=(field(sent, &q).unwrap_or("0"))
                                        aria-invalid=[err(&q).map(|_| "true")] aria-describedby=[err(&q).map(|_| format!("{q}-error"))];
                                    @if let Some(m) = err(&q) { p.field-error id=(format!("{q}-error")) { (m) } }
                                }
                                div.field {
                                    label for=(why) { (t(w, "Why")) }
                                    input id=(why) type="text" name=(why) maxlength="500" value=(field(sent, &why).unwrap_or(""))
                                        aria-invalid=[err(&why).map(|_| "true")] aria-describedby=[err(&why).map(|_| format!("{why}-error"))];
                                    @if let Some(m) = err(&why) { p.field-error id=(format!("{why}-error")) { (m) } }
                                }
                            }
                        }
                        @if let Some(m) = err("lines") { p.field-error #lines-error { (m) } }
                        button type="submit" { (t(w, "Ask to return")) }
                    }
                }
            }
            aside.summary {
                h2 { (t(w, "Shipping to")) }
                address {
                    (a.name) br; (a.line1) br;
                    @if !a.line2.is_empty() { (a.line2) br; }
                    (a.city) @if !a.state.is_empty() { ", " (a.state) } " " (a.postal_code) br; (country_name(&a.country, w))
                }
                h2 { (t(w, "Payment")) }
                p { (method) }
                h2 { (t(w, "History")) }
                ol.plain {
                    @for h in &o.status_history {
                        li { span.meta { (h.at.get(..16).unwrap_or(&h.at).replace('T', " ")) } " " (status_words(&h.status, w))
                             @if let Some(n) = &h.note { " — " (words::note(w, n)) } }
                    }
                }
                p.meta { (tf(w, "Placed {day}", &[("day", &day(&o.created_at))])) }
            }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(private_page(status, layout::page(&frame(app, ps, &title), main), ps))
}

/// `POST /orders/{id}/returns`: the API's return request, from the form's units
/// (`ret_{line}`, 0 leaves a line out) and reasons (`why_{line}`).
pub async fn request_return(
    State(app): State<AppState>,
    ps: PageSession,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ApiError> {
    check_csrf(ps.token.as_deref(), field(&f, CSRF_FIELD))?;
    let id = Id::parse(&id).ok_or_else(|| ApiError::not_found("order"))?;
    let session = session_of(&ps)?;
    let (sent, mut bad) = form_lines(&f, "ret_");
    if sent.is_empty() && bad.is_empty() {
        bad.insert("lines".to_owned(), "choose how many units of an item to send back".to_owned());
    }
    let errors = if !bad.is_empty() {
        bad
    } else {
        let body = orders_api::ReturnIn {
            lines: sent
                .iter()
                .map(|&(line, units)| orders_api::ReturnLineIn {
                    line_id: line,
                    quantity: units,
                    reason: field(&f, &format!("why_{line}")).unwrap_or("").to_owned(),
                })
                .collect(),
        };
        let asked = answered_in::<serde_json::Value>(
            ps.words,
            orders_api::request_return(State(app.clone()), session, PathId(id.0, PhantomData), JsonBody(body)).await,
        )
        .await;
        match asked {
            Ok(_) => return Ok(see_other(&format!("/orders/{}#returns", id.0), None)),
            Err(e) => refused(ps.words, e)?
                .into_iter()
                .map(|(k, v)| (beside_line_or(&k, &sent, "ret_", Some("why_")), v))
                .collect(),
        }
    };
    order_page(&app, &ps, id, None, &errors, &f).await
}
