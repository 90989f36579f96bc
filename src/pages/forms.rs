//! What the pages' forms share: the fields as sent (names may repeat: checkboxes), the
//! per-line quantities of an order's items, and where an API error about `lines[i]` shows.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use maud::{html, Markup};

use crate::error::ApiError;

/// A form's fields, repeated names kept (checkboxes).
pub(crate) type Fields = Vec<(String, String)>;

pub(crate) fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// What a refusal says by field: each detail as `text` says it (none: left out), and its
/// message under `whole` when no detail is said.
fn fields_of(e: &ApiError, whole: &str, text: fn(&serde_json::Value) -> Option<String>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        e.details.iter().filter_map(|(k, v)| text(v).map(|t| (k.clone(), t))).collect();
    if out.is_empty() {
        out.insert(whole.to_owned(), e.message.clone());
    }
    out
}

/// What a refused change says, field by field (`form` for the whole): its text details.
fn problems(e: &ApiError) -> BTreeMap<String, String> {
    fields_of(e, "form", |v| v.as_str().map(str::to_owned))
}

/// What a refusal says by field, in `w` where the pages know the API's words
/// ([`super::words::refusal`]): every detail (one that is not text as JSON), and its
/// message under `whole` when it names no field.
pub(crate) fn by_field(w: super::words::Lang, e: &ApiError, whole: &str) -> BTreeMap<String, String> {
    fields_of(&super::words::refusal(w, e.clone()), whole, |v| {
        Some(v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
    })
}

/// A refused change is shown on its form (4xx but 403), in the reader's language where
/// the API's message is one the pages know ([`super::words::refusal`]); anything else is
/// the error page.
pub(crate) fn refused(w: super::words::Lang, e: ApiError) -> Result<BTreeMap<String, String>, ApiError> {
    if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN && e.status != StatusCode::NOT_FOUND {
        Ok(problems(&super::words::refusal(w, e)))
    } else {
        Err(e)
    }
}

/// Minor units of an amount of `currency` as people type it: whole yen or won (`2,500`;
/// no decimals in use), else as [`minor_units`].
pub(crate) fn minor_units_in(typed: &str, currency: &str) -> Option<i64> {
    if crate::domain::currencies::minor_digits(currency) == 0 {
        typed.trim().replace(',', "").parse::<i64>().ok().filter(|n| *n >= 0)
    } else {
        minor_units(typed)
    }
}

/// `minor` of `currency` as a form field holds it for typing again: `4.50`, `700`.
pub(crate) fn typed_amount(minor: i64, currency: &str) -> String {
    if crate::domain::currencies::minor_digits(currency) == 0 {
        minor.to_string()
    } else {
        format!("{}.{:02}", minor / 100, minor % 100)
    }
}

/// Minor units of an amount as people type it: `12.50`, `12.5`, `12`, `$12`, `1,200.00`;
/// anything else is not an amount.
pub(crate) fn minor_units(typed: &str) -> Option<i64> {
    let t = typed.trim().trim_start_matches('$').replace(',', "");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || whole.len() > 12 || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    Some(whole * 100 + format!("{frac:0<2}").parse::<i64>().ok()?)
}

/// The item quantities a form sent as `{prefix}{line}` fields, in its order (0 leaves a line
/// out), and the fields that are not whole numbers, each with what is wrong.
pub(crate) fn form_lines(f: &Fields, prefix: &str) -> (Vec<(i64, i64)>, BTreeMap<String, String>) {
    let (mut lines, mut bad) = (Vec::new(), BTreeMap::new());
    for (k, v) in f {
        let Some(line) = k.strip_prefix(prefix).and_then(|l| l.parse::<i64>().ok()) else { continue };
        match v.trim().parse::<i64>() {
            Ok(0) => {}
            Ok(units) => lines.push((line, units)),
            Err(_) => {
                bad.insert(format!("{prefix}{line}"), "must be a whole number".to_owned());
            }
        }
    }
    (lines, bad)
}

/// The form field an API error key names: `lines[i].…` is the field of the i-th line sent
/// (`{prefix}{line}`, or `{reason_prefix}{line}` for its `reason`).
pub(crate) fn beside_line(key: &str, sent: &[(i64, i64)], prefix: &str) -> String {
    beside_line_or(key, sent, prefix, None)
}

/// [`beside_line`], with a line's `reason` beside its own field.
pub(crate) fn beside_line_or(key: &str, sent: &[(i64, i64)], prefix: &str, reason_prefix: Option<&str>) -> String {
    let Some((i, rest)) = key.strip_prefix("lines[").and_then(|rest| rest.split_once(']')) else {
        return key.to_owned();
    };
    let Some((line, _)) = i.parse::<usize>().ok().and_then(|i| sent.get(i)) else { return key.to_owned() };
    match reason_prefix {
        Some(p) if rest == ".reason" => format!("{p}{line}"),
        _ => format!("{prefix}{line}"),
    }
}

/// An input's id from its name (`lines[0].sku` → `f-lines-0-sku`).
pub(crate) fn id_of(name: &str) -> String {
    let mut id = String::from("f-");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_owned()
}

/// A labelled input with its error beside it (`aria-describedby`); a number takes no
/// `maxlength` but a floor of 0.
#[allow(clippy::too_many_arguments)]
pub(crate) fn input(
    name: &str,
    label: &str,
    value: &str,
    kind: &str,
    required: bool,
    max: usize,
    error: Option<&str>,
    hint: &str,
) -> Markup {
    let id = id_of(name);
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) type=(kind) name=(name) value=(value) required[required] maxlength=[(kind != "number").then_some(max)]
                min=[(kind == "number").then_some("0")]
                placeholder=[(!hint.is_empty()).then_some(hint)]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| format!("{id}-error"))];
            @if let Some(m) = error { p.field-error id=(format!("{id}-error")) { (m) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_type_them() {
        for (typed, minor) in [
            ("12.50", Some(1250)),
            ("12.5", Some(1250)),
            ("12", Some(1200)),
            ("$1,200.00", Some(120_000)),
            (".5", Some(50)),
        ] {
            assert_eq!(minor_units(typed), minor, "{typed}");
        }
        for typed in ["", ".", "1.234", "-3", "ten", "1e3"] {
            assert_eq!(minor_units(typed), None, "{typed}");
        }
    }

    #[test]
    fn an_error_about_the_ith_line_lands_beside_that_line() {
        let sent = [(7, 1), (3, 2)];
        assert_eq!(beside_line("lines[1].quantity", &sent, "q_"), "q_3");
        assert_eq!(beside_line_or("lines[0].reason", &sent, "q_", Some("why_")), "why_7");
        assert_eq!(beside_line("lines[5].quantity", &sent, "q_"), "lines[5].quantity");
        assert_eq!(beside_line("amount", &sent, "q_"), "amount");
    }
}
