//! The catalog's languages: which ones the shop writes its catalog in (the `locales`
//! setting, the first the default) and which of them a request gets.
//!
//! A request names its language with `locale=` or, without it, by `Accept-Language`
//! (RFC 9110 §12.5.4: ranges by quality, `*`, a range matching a tag and the tags it
//! prefixes). A language the shop does not have falls back: `de-AT` to `de`, `pt` to the
//! first enabled `pt-…`, anything else to the default. Names, descriptions and slugs
//! without a translation fall back field by field to the default language's.
//!
//! Only a language other than the default is carried further (`Some`): the default's
//! answers are the product rows as stored, cached under the keys they always had.

/// A language tag as the shop spells it: a language of 2 or 3 lowercase letters, and an
/// optional region of 2 uppercase letters (`en`, `de`, `pt-BR`).
pub fn is_tag(s: &str) -> bool {
    let (lang, region) = match s.split_once('-') {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

/// The pattern [`is_tag`] accepts, for the OpenAPI document.
pub const PATTERN: &str = "^[a-z]{2,3}(-[A-Z]{2})?$";

/// The most languages a shop may enable.
pub const MAX_LOCALES: usize = 20;

/// The `locales` setting as a list (the default first), or why it cannot be one.
pub fn parse_list(setting: &str) -> Result<Vec<&str>, String> {
    let mut tags: Vec<&str> = Vec::new();
    for t in setting.split(',').map(str::trim) {
        // a language named twice counts once, where it first stands
        if !is_tag(t) || !tags.contains(&t) {
            tags.push(t);
        }
    }
    if let Some(bad) = tags.iter().find(|t| !is_tag(t)) {
        return Err(format!(
            "must be language tags separated by commas, the default first (like \"en, de, pt-BR\"); {bad:?} is not one"
        ));
    }
    if tags.len() > MAX_LOCALES {
        return Err(format!("must name at most {MAX_LOCALES} languages"));
    }
    Ok(tags)
}

/// The enabled languages of `setting` (the default first); a setting that cannot be read
/// (the configuration's checks refuse one) is the default's alone.
pub fn enabled(setting: &str) -> Vec<&str> {
    parse_list(setting).unwrap_or_else(|_| vec![setting.split(',').next().unwrap_or("en").trim()])
}

/// Of the enabled languages, the one for `wanted` (a tag, any case): the same tag, else
/// the enabled tag of its language (`de-AT` → `de`, `pt` → `pt-BR`). `None`: none fits.
pub fn best_for<'a>(wanted: &str, enabled: &[&'a str]) -> Option<&'a str> {
    if let Some(t) = enabled.iter().find(|t| t.eq_ignore_ascii_case(wanted)) {
        return Some(t);
    }
    let lang = wanted.split('-').next().unwrap_or(wanted);
    enabled.iter().find(|t| t.split('-').next().is_some_and(|l| l.eq_ignore_ascii_case(lang))).copied()
}

/// The enabled language an `Accept-Language` header asks for first, if any (`*` is the
/// default; a range with `q=0` is never chosen).
pub fn negotiate<'a>(header: &str, enabled: &[&'a str]) -> Option<&'a str> {
    let mut ranges: Vec<(u16, usize, &str)> = Vec::new();
    for (i, part) in header.split(',').enumerate().take(32) {
        let mut bits = part.split(';');
        let range = bits.next().unwrap_or("").trim();
        let q = bits
            .filter_map(|b| b.trim().strip_prefix("q=").or_else(|| b.trim().strip_prefix("Q=")))
            .next()
            .map_or(Some(1000), quality);
        match q {
            Some(q) if q > 0 && !range.is_empty() => ranges.push((q, i, range)),
            _ => {}
        }
    }
    // highest quality first; among equals, the order sent
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, range) in ranges {
        if range == "*" {
            return enabled.first().copied();
        }
        if let Some(t) = best_for(range, enabled) {
            return Some(t);
        }
    }
    None
}

/// A quality value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn quality(s: &str) -> Option<u16> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The language of a catalog answer: `asked` (the `locale=` parameter, a tag) if given,
/// else the `Accept-Language` header's choice; `None` for the default language.
pub fn choose(asked: Option<&str>, header: Option<&str>, enabled: &[&str]) -> Option<String> {
    if enabled.len() < 2 {
        return None;
    }
    let chosen = match asked {
        Some(a) => best_for(a, enabled),
        None => header.and_then(|h| negotiate(h, enabled)),
    };
    chosen.filter(|c| Some(c) != enabled.first()).map(str::to_owned)
}

/// A language a client names for itself (a customer's, for mail): the shop's language
/// for `asked` (`de-AT` → `de`), `None` for the default; or the client's error.
pub fn of_customer(asked: &str, setting: &str) -> Result<Option<String>, String> {
    let enabled = enabled(setting);
    match is_tag(asked).then(|| best_for(asked, &enabled)).flatten() {
        Some(t) if Some(&t) == enabled.first() => Ok(None),
        Some(t) => Ok(Some(t.to_owned())),
        None => Err(format!("must be one of the shop's languages: {}", enabled.join(", "))),
    }
}

/// The language an `Accept-Language` header asks for among the shop's (`None`: the
/// default).
pub fn of_header(header: Option<&str>, setting: &str) -> Option<String> {
    choose(None, header, &enabled(setting))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_lists() {
        for good in ["en", "de", "pt-BR", "fil"] {
            assert!(is_tag(good), "{good}");
        }
        for bad in ["", "e", "EN", "english", "pt-br", "pt-BRA", "de-", "-DE", "de_DE", "d3"] {
            assert!(!is_tag(bad), "{bad}");
        }
        assert_eq!(parse_list("en, de,pt-BR").unwrap(), ["en", "de", "pt-BR"]);
        assert_eq!(parse_list("en,de,en").unwrap(), ["en", "de"]);
        assert!(parse_list("en,,de").is_err());
        assert!(parse_list("").is_err());
        assert_eq!(enabled("en, x"), ["en"]);
    }

    #[test]
    fn negotiation_by_quality_then_order_with_fallback_by_language() {
        let shop = ["en", "de", "pt-BR"];
        assert_eq!(negotiate("de-AT,de;q=0.9,en;q=0.8", &shop), Some("de"));
        assert_eq!(negotiate("fr-FR, fr;q=0.9, en;q=0.5", &shop), Some("en"));
        assert_eq!(negotiate("en;q=0.4, pt;q=0.8", &shop), Some("pt-BR"));
        assert_eq!(negotiate("fr, *;q=0.1", &shop), Some("en"));
        assert_eq!(negotiate("de;q=0, fr", &shop), None);
        assert_eq!(negotiate("de;q=2", &shop), None);
        assert_eq!(negotiate("", &shop), None);
        assert_eq!(choose(None, Some("de-CH"), &shop).as_deref(), Some("de"));
        assert_eq!(choose(Some("DE"), Some("pt"), &shop).as_deref(), Some("de"));
        assert_eq!(choose(Some("en"), Some("de"), &shop), None);
        assert_eq!(choose(Some("ja"), Some("de"), &shop), None);
        assert_eq!(choose(None, Some("de"), &["en"]), None);
    }
}
