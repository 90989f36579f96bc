//! The frame every page shares (head, header with search, footer), the pieces pages are made
//! of (prices, stars, product cards, page links) and the error page.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::assets;
use super::view::{Money, Summary};
use super::words::{t, tf, Lang};
use crate::error::ApiError;

/// What the frame shows around a page.
pub struct Frame<'a> {
    /// the shop's name now (a run-time setting)
    pub shop: String,
    pub title: &'a str,
    /// the search box's text
    pub q: &'a str,
    /// the language of the page's content (`lang=`)
    pub lang: String,
    /// the language of the shop's own words on the page (see [`super::words`])
    pub words: Lang,
    /// the storefront's language switch, when the shop has more than one
    pub languages: Option<Languages>,
    pub currencies: Option<Currencies>,
}

impl<'a> Frame<'a> {
    /// A page in the shop's own words (English), without a language switch.
    pub fn plain(shop: String, title: &'a str, q: &'a str) -> Frame<'a> {
        Frame { shop, title, q, lang: "en".into(), words: Lang::En, languages: None, currencies: None }
    }

    /// This frame with its own words, and its language, in `w`.
    pub fn in_language(self, w: Lang) -> Frame<'a> {
        Frame { lang: w.tag().into(), words: w, ..self }
    }
}

/// The footer's currency switch.
pub struct Currencies {
    /// the shop's currencies, the default first
    pub enabled: Vec<String>,
    /// the page's
    pub chosen: String,
    /// where the switch returns to
    pub back: String,
}

/// The footer's language switch.
pub struct Languages {
    /// the shop's languages, the default first
    pub enabled: Vec<String>,
    /// the page's
    pub chosen: String,
    /// where the switch returns to
    pub back: String,
}

pub fn page(frame: &Frame<'_>, main: Markup) -> String {
    let title =
        if frame.title.is_empty() { frame.shop.to_owned() } else { format!("{} · {}", frame.title, frame.shop) };
    let w = frame.words;
    html! {
        (DOCTYPE)
        html lang=(frame.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(assets::url("style.css"));
                link rel="icon" href="data:,";
                script src=(assets::url("shop.js")) defer {}
            }
            body {
                a.skip href="#main" { (t(w, "Skip to content")) }
                header.top {
                    div.wrap {
                        a.brand href="/" { (frame.shop) }
                        form.search role="search" action="/search" method="get" {
                            label.skip for="q" { (t(w, "Search the shop")) }
                            input #q type="search" name="q" value=(frame.q) placeholder=(t(w, "Search products")) required maxlength="200"
                                autocomplete="off" list="q-suggestions" data-suggest;
                            datalist #q-suggestions {}
                            button type="submit" { (t(w, "Search")) }
                        }
                        nav aria-label=(t(w, "Your shop")) {
                            a href="/cart" { (t(w, "Cart")) }
                            a href="/account" { (t(w, "Account")) }
                        }
                    }
                }
                main #main.wrap { (main) }
                footer.bottom {
                    div.wrap {
                        span { "© " (frame.shop) " · " a href="/account" { (t(w, "Your account")) } " · " a href="/cart" { (t(w, "Your cart")) } }
                        @if let Some(l) = &frame.languages {
                            form.language method="post" action="/language" {
                                input type="hidden" name="back" value=(l.back);
                                label for="language" { (t(w, "Language")) }
                                select #language name="locale" {
                                    @for t in &l.enabled {
                                        option value=(t) lang=(t) selected[*t == l.chosen] { (super::admin_translations::language_label(t)) }
                                    }
                                }
                                button.quiet type="submit" { (t(w, "Change")) }
                            }
                        }
                        @if let Some(c) = &frame.currencies {
                            form.language.currency-switch method="post" action="/currency" {
                                input type="hidden" name="back" value=(c.back);
                                label for="currency" { (t(w, "Currency")) }
                                select #currency name="currency" {
                                    @for code in &c.enabled {
                                        option value=(code) selected[*code == c.chosen] { (code) }
                                    }
                                }
                                button.quiet type="submit" { (t(w, "Change")) }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The tax line of a summary: "Tax" added on top, or "Tax included" when it is the part of
/// the prices that is tax (an inclusive rate), which the total does not add again.
pub fn tax_row(tax: &Money, included: bool) -> maud::Markup {
    tax_row_in(tax, included, Lang::En)
}

/// [`tax_row`] in the shopper's language.
pub fn tax_row_in(tax: &Money, included: bool, w: Lang) -> maud::Markup {
    maud::html! {
        @if included { dt { (t(w, "Tax included")) } dd.tax-included { "(" (money(tax)) ")" } }
        @else { dt { (t(w, "Tax")) } dd { (money(tax)) } }
    }
}

use crate::domain::currencies::minor_digits;

/// `$19.99`, `€5.00`, `¥500`, `CHF 12.50`.
pub fn money(m: &Money) -> String {
    let symbol = match m.currency.as_str() {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        "KRW" => "₩",
        _ => "",
    };
    let digits = minor_digits(m.currency.as_str());
    let sign = if m.amount < 0 { "−" } else { "" }; // the minus sign, as the totals write it
    let a = m.amount.unsigned_abs();
    let (whole, cents) = if digits == 0 { (a, None) } else { (a / 100, Some(a % 100)) };
    // thousands grouped: 1,605.99
    let digits_of = whole.to_string();
    let mut grouped = String::with_capacity(digits_of.len() + digits_of.len() / 3);
    for (i, c) in digits_of.chars().enumerate() {
        if i > 0 && (digits_of.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = match cents {
        Some(c) => format!("{grouped}.{c:02}"),
        None => grouped,
    };
    if symbol.is_empty() {
        format!("{sign}{} {number}", m.currency)
    } else {
        format!("{sign}{symbol}{number}")
    }
}

/// The price, with the regular one struck through during a sale.
pub fn price(now: &Money, base: &Money, sale: Option<&Money>, w: Lang) -> Markup {
    html! {
        span.price {
            @if sale.is_some() {
                span.now.sale { (money(now)) }
                s { span.skip { (t(w, "was ")) } (money(base)) }
            } @else {
                span.now { (money(now)) }
            }
        }
    }
}

pub fn stars(average: f64, count: i64, w: Lang) -> Markup {
    let rating = format!("{average:.1}");
    let full = average.round().clamp(0.0, 5.0) as usize;
    html! {
        @if count > 0 {
            span.stars title=(tf(w, "{rating} out of 5", &[("rating", &rating)])) {
                span aria-hidden="true" { ("★".repeat(full)) ("☆".repeat(5 - full)) }
                span.skip { (tf(w, "{rating} out of 5 stars", &[("rating", &rating)])) }
            }
            " "
            span.meta { "(" (count) ")" }
        }
    }
}

/// A coloured tile with a product's initials, where a photo would be.
pub fn tile(id: &str, name: &str, big: bool) -> Markup {
    let hue = id.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32)) % 6;
    let initials: String = name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
    html! {
        div class=(format!("tile h{hue}{}", if big { " big" } else { "" })) aria-hidden="true" { (initials.to_uppercase()) }
    }
}

/// A product's picture in a list: its primary image's thumbnail when it is one the shop
/// keeps, else its tile. (The name beside it says what it is: the picture is decoration.)
pub fn thumb(p: &Summary) -> Markup {
    match p.image.as_ref().filter(|i| crate::media::is_stored_url(&i.thumbnail)) {
        Some(i) => {
            html! { img.photo src=(i.thumbnail) alt="" loading="lazy" decoding="async" width="480" height="360"; }
        }
        None => tile(&p.id, &p.name, false),
    }
}

pub fn card(p: &Summary, w: Lang) -> Markup {
    html! {
        li {
            article.card {
                (thumb(p))
                div.body {
                    a.title href=(format!("/p/{}", p.slug)) { (p.name) }
                    span.meta {
                        @if let Some(b) = &p.brand { (b.name) " · " }
                        (p.category.name)
                    }
                    (price(&p.price, &p.base_price, p.sale_price.as_ref(), w))
                    div { (stars(p.rating.average, p.rating.count, w)) }
                    @if !p.in_stock { span.stock.out { (t(w, "Out of stock")) } }
                }
            }
        }
    }
}

/// Links to the pages of a list: `href(n)` is the address of page n.
pub fn pages(current: i64, last: i64, href: impl Fn(i64) -> String, w: Lang) -> Markup {
    html! {
        @if last > 1 {
            nav.pages aria-label=(t(w, "Pages")) {
                @if current > 1 { a href=(href(current - 1)) rel="prev" { (t(w, "← Previous")) } }
                span.here aria-current="page" { (tf(w, "Page {n} of {last}", &[("n", &current), ("last", &last)])) }
                @if current < last { a href=(href(current + 1)) rel="next" { (t(w, "Next →")) } }
            }
        }
    }
}

/// An error as a page: what went wrong, in words, and the way back.
/// In the shopper's language `w` (whose tag is `lang`); the error's own message (what was
/// wrong with the request, from the API) is the shop's English.
pub fn error_page(shop: &str, e: &ApiError, request_id: &str, w: Lang, lang: &str) -> String {
    let (title, words) = match e.status.as_u16() {
        404 => ("Not found", "There is nothing at this address. It may have moved, or the product is no longer sold."),
        400 | 422 => ("That did not work", "Something in the request could not be used:"),
        409 => ("That did not work", "The shop could not do this now:"),
        403 => ("Not allowed", "This page or action is not open to you."),
        429 => ("Too many requests", "Please wait a moment and try again."),
        503 => ("Busy", "The shop is busy right now; please try again in a moment."),
        _ => ("Something went wrong", "The shop could not answer this request. Please try again."),
    };
    let (title, words) = (t(w, title), t(w, words));
    let frame = Frame { lang: lang.to_owned(), words: w, ..Frame::plain(shop.to_owned(), title, "") };
    page(
        &frame,
        html! {
            h1 { (title) }
            div.error role="alert" {
                p { (words) }
                @if matches!(e.status.as_u16(), 400 | 403 | 409 | 422) {
                    p { (e.message) }
                    @if !e.details.is_empty() {
                        ul {
                            @for (k, v) in &e.details {
                                li { strong { (k) } ": " (v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())) }
                            }
                        }
                    }
                }
            }
            p { a href="/" { (t(w, "Back to the shop")) } }
            p.meta { (t(w, "Reference:")) " " code { (request_id) } }
            (PreEscaped(""))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(amount: i64, currency: &str) -> String {
        money(&Money { amount, currency: currency.to_owned() })
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(m(160599, "USD"), "$1,605.99");
        assert_eq!(m(5, "USD"), "$0.05");
        assert_eq!(m(123456789, "EUR"), "€1,234,567.89");
        assert_eq!(m(-1999, "GBP"), "−£19.99");
        assert_eq!(m(1500, "JPY"), "¥1,500");
        assert_eq!(m(1250, "CHF"), "CHF 12.50");
    }
}
