//! The OpenAPI document of the route table, built once: what the handlers describe,
//! plus what the front layer adds from each route's policy — the 429 answers and
//! `RateLimit` fields of rate-limited operations, and the scope an API key needs
//! (`x-api-key-scope`).

use std::sync::OnceLock;

use axum::http::Method;
use utoipa::openapi::{OpenApi, RefOr};

use super::policy::routes;
use crate::auth::api_keys::KeyAccess;
use crate::http::Rendered;
use crate::openapi::{error_response, header};

/// The description of the route table, built once.
pub fn spec() -> &'static OpenApi {
    static SPEC: OnceLock<OpenApi> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut doc = super::routes::table().router.into_openapi();
        document_policies(&mut doc);
        doc
    })
}

/// Every rate-limited operation (see [`crate::limits`]) answers 429 with `Retry-After`
/// and the `RateLimit` fields, which its other answers carry too; every admin operation
/// names the scope an API key needs for it.
fn document_policies(doc: &mut OpenApi) {
    let defaults = crate::limits::RateLimits::default();
    for (path, item) in doc.paths.paths.iter_mut() {
        let Some(route) = routes().of_template(path) else { continue };
        let ops = [
            (Method::GET, item.get.as_mut()),
            (Method::POST, item.post.as_mut()),
            (Method::PUT, item.put.as_mut()),
            (Method::PATCH, item.patch.as_mut()),
            (Method::DELETE, item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let (Some(op), Some(policy)) = (op, route.policy(&method)) else { continue };
            let scope = match policy.keys {
                KeyAccess::NotAdmin => None,
                KeyAccess::InPerson => Some("none: administrators in person only".to_owned()),
                KeyAccess::Area(area) => Some(area.scope(method != Method::GET)),
            };
            if let Some(scope) = scope {
                op.extensions.get_or_insert_with(Default::default).insert("x-api-key-scope".into(), scope.into());
            }
            let Some(rule) = policy.rate else { continue };
            let q = defaults.of(rule);
            let quota = |r: Option<crate::limits::Rate>| r.map_or("unlimited".to_owned(), |r| r.to_string());
            let description = format!(
                "rate_limited: over the `{}` rule (by default {} per client address, {} per account or session); \
                 details.rule names it",
                rule.name(),
                quota(q.per_address),
                quota(q.per_account)
            );
            // an operation's own 429 (e.g. too many unpaid orders) stays described
            let own = match op.responses.responses.get("429") {
                Some(RefOr::T(r)) => format!("{}; or ", r.description),
                _ => String::new(),
            };
            let RefOr::T(mut r) = error_response(429, &format!("{own}{description}")) else { continue };
            r.headers.insert(
                "RateLimit".into(),
                RefOr::T(header("limit=N, remaining=R, reset=SECONDS: the tightest quota checked")),
            );
            r.headers.insert("RateLimit-Policy".into(), RefOr::T(header("N;w=SECONDS: that quota")));
            op.responses.responses.insert("429".into(), RefOr::T(r));
        }
    }
}

/// The document of the route table, rendered once (with its gzip form).
pub fn document() -> &'static Rendered {
    static DOC: OnceLock<Rendered> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(spec()).expect("the document serializes");
        crate::openapi::lift_rules(&mut doc);
        Rendered::new(serde_json::to_vec(&doc).expect("JSON serializes")).with_gzip(6)
    })
}

/// The document as JSON (for tests and `storefront openapi`).
pub fn to_json() -> serde_json::Value {
    serde_json::from_slice(&document().json).expect("the document is JSON")
}

#[cfg(test)]
mod tests {
    use crate::domain::{Email, PaymentMethod};

    /// Fields name their rule's constant (`x-pattern`, `x-enum`); the served document states
    /// it in the JSON Schema keyword, and no marker is left behind.
    #[test]
    fn the_documented_rules_are_the_servers() {
        let doc = super::to_json();
        let text = doc.to_string();
        assert!(!text.contains("x-pattern") && !text.contains("x-enum"), "a rule marker was left in the document");
        let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();
        for (schema_name, field) in [("RegisterIn", "email"), ("LoginIn", "email"), ("ForgotIn", "email")] {
            assert_eq!(schema(schema_name)[field]["pattern"], Email::PATTERN, "{schema_name}.{field}");
        }
        assert_eq!(schema("CheckoutIn")["payment_method"]["pattern"], PaymentMethod::PATTERN);
        assert_eq!(schema("BuyNowIn")["payment_method"]["pattern"], PaymentMethod::PATTERN);
        let address = schema("AddressIn");
        for f in ["name", "line1", "city", "postal_code"] {
            assert_eq!(address[f]["pattern"], crate::openapi::LINE, "AddressIn.{f}");
        }
        for f in ["line2", "state", "phone"] {
            assert_eq!(address[f]["pattern"], crate::openapi::OPTIONAL_LINE, "AddressIn.{f}");
        }
        assert_eq!(address["country"]["pattern"], crate::domain::Country::INPUT_PATTERN);
        assert!(address["state"]["description"].is_string(), "a lifted rule keeps the field's description");
        assert_eq!(schema("NewProductIn")["slug"]["pattern"], crate::domain::SLUG_PATTERN);
        assert_eq!(schema("ExportIn")["since"]["pattern"], crate::util::UTC_PATTERN);
        assert_eq!(schema("ModerationIn")["status"]["enum"], serde_json::json!(crate::reviews::ReviewStatus::NAMES));
        // an optional field's names also take null, as the server does
        assert_eq!(schema("NewProductIn")["status"]["enum"], serde_json::json!(["active", "draft", "retired", null]));
        // every pattern left in the document is a regular expression (the lifted ones too)
        fn patterns(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::String(p)) = m.get("pattern") {
                        out.push(p.clone());
                    }
                    m.values().for_each(|v| patterns(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| patterns(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        patterns(&doc, &mut all);
        assert!(all.len() > 40, "{}", all.len());
        assert!(all.iter().all(|p| p.starts_with('^') && p.ends_with('$')), "{all:?}");
    }
}
