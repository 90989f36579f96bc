//! The OpenAPI 3.1 document, generated from the code. Every route of the router is
//! registered with `utoipa_axum::routes!` from a handler carrying `#[utoipa::path]`, so a
//! route cannot exist without its description; bodies and answers are the Rust types the
//! handlers read and write (`ToSchema`), and query parameters by the
//! [`Param`](crate::http::Param) constants the handlers read them through. What this module adds is shared: the schemas of
//! the domain's value types (ids, money, timestamps), the error envelope and the sets of
//! error answers operations share, the security scheme, and the choices the contract
//! leaves open.
//!
//! Security is stated per operation: `security: []` on public routes, `bearer` on the
//! rest, `bearer: [admin]` where the role `admin` is needed (OpenAPI 3.1 lets a bearer
//! requirement list role names).

use std::collections::BTreeMap;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, OpenApi, RefOr};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use crate::domain::{Country, Currency, Id, Money, Timestamp};

/// A line of text a person typed: 1 or more visible characters, no control characters
/// (leading and trailing white space is trimmed by the server).
pub const LINE: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// A line of text that may be empty: no control characters.
pub const OPTIONAL_LINE: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

// --- rules stated from their constants -----------------------------------------------------

/// utoipa takes a field's `pattern` only as a literal. A field whose rule is a constant
/// names it instead, `#[schema(extensions(("x-pattern" = json!(CONSTANT))))]` (or
/// `"x-enum"` with a list of names), and the document's rendering lifts each into its
/// keyword here: the rule is spelled once, where the server checks it.
///
/// A field that excludes another and must be there when the other is not carries
/// `"x-either" = json!("other")`; its object gets `oneOf`: this one given, or the other.
pub fn lift_rules(doc: &mut serde_json::Value) {
    match doc {
        serde_json::Value::Object(map) => {
            let either: Vec<(String, serde_json::Value)> = map
                .get_mut("properties")
                .and_then(|p| p.as_object_mut())
                .map(|props| {
                    props
                        .iter_mut()
                        .filter_map(|(name, field)| {
                            let other = field.as_object_mut()?.remove("x-either")?;
                            Some((name.clone(), other))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some((name, other)) = either.into_iter().next() {
                // there, and not null (a null field is one not given)
                let one = |field: &str| serde_json::json!({ "required": [field], "properties": { field: { "not": { "type": "null" } } } });
                let other = other.as_str().unwrap_or_default().to_owned();
                map.insert("oneOf".to_owned(), serde_json::json!([one(&name), one(&other)]));
            }
            if let Some(rule) = map.remove("x-pattern") {
                map.insert("pattern".to_owned(), rule);
            }
            if let Some(mut names) = map.remove("x-enum") {
                // an optional field also takes null
                let nullable = map.get("type").and_then(|t| t.as_array()).is_some_and(|t| t.contains(&"null".into()));
                if let (true, Some(names)) = (nullable, names.as_array_mut()) {
                    names.push(serde_json::Value::Null);
                }
                map.insert("enum".to_owned(), names);
            }
            map.values_mut().for_each(lift_rules);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(lift_rules),
        _ => {}
    }
}

/// What the API says about itself: the conventions every operation shares.
const DESCRIPTION: &str = "E-commerce storefront API.\n\n\
Success bodies are `{\"data\": ...}` (lists add `\"meta\"`); errors are \
`{\"error\": {code, message, details, request_id}}`. Money is integer minor units with an ISO \
4217 currency. Ids are opaque strings. Timestamps are RFC 3339 UTC.\n\n\
Public catalog responses carry `ETag` and `Cache-Control: public, max-age, \
stale-while-revalidate`, answer `If-None-Match` with 304, and are gzip-compressed on \
`Accept-Encoding: gzip`. Personal responses are `Cache-Control: private, no-store`. Every \
response carries `X-Request-Id` (a client-sent one of 1-128 visible ASCII characters is \
echoed). Every successful write answer carries `X-Storefront-Commit: <position>` and sets \
the cookie `sf_commit`: the position of the commit that holds it. A read that presents a \
position (the `X-Storefront-Commit` header, else the `sf_commit` cookie) is answered by a \
replica only from a copy that holds it: the replica waits up to `replica_wait_ms`, then \
the primary answers (read-your-writes across nodes). A malformed `X-Storefront-Commit` is \
400 `invalid_commit` on every node; a malformed cookie is ignored. A replica forwards every \
write to its primary; when the primary cannot be reached the answer is 503 \
`primary_unavailable` with `Retry-After` (a write retried with the same `Idempotency-Key` \
is done once).\n\n\
Query parameters an operation does not list are refused with 400 `unknown_parameter`; a \
parameter given twice, or a query string that is not percent-encoded UTF-8, is 400 \
`invalid_query`; a query string over 4096 bytes is 414. JSON bodies must be \
`application/json` (else 415), at most 64 KiB (else 413), JSON (else 400 `malformed_json`) \
and of the stated shape: a missing or unknown field or a wrong type is 422 \
`validation_failed` naming the field. Text fields are trimmed; a required one must keep at \
least one character.";

// --- the domain's value types ----------------------------------------------------------

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[1-9][0-9]{0,18}$"))
            .description(Some("an opaque id"))
            .into()
    }
}
impl ToSchema for Id {}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .description(Some("ISO 4217 currency code"))
            .into()
    }
}
impl ToSchema for Currency {}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("amount", ObjectBuilder::new().schema_type(Type::Integer).description(Some("minor units")))
            .property("currency", Currency::schema())
            .required("amount")
            .required("currency")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .description(Some("an amount of money: integer minor units, never a float"))
            .into()
    }
}
impl ToSchema for Money {}

impl PartialSchema for Country {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Z]{2}$"))
            .description(Some("ISO 3166-1 alpha-2 country code"))
            .into()
    }
}
impl ToSchema for Country {}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 UTC"))
            .into()
    }
}
impl ToSchema for Timestamp {}

// --- envelopes -----------------------------------------------------------------------------

/// `{"data": ...}`
#[derive(serde::Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// The error envelope of every 4xx and 5xx answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    pub error: ErrorFields,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorFields {
    /// a stable snake_case code, e.g. `validation_failed`
    pub code: String,
    /// what went wrong, for people
    pub message: String,
    /// per bad field (422) or per check (503 `not_ready`): what is wrong with it
    pub details: BTreeMap<String, serde_json::Value>,
    /// the `X-Request-Id` of the request
    pub request_id: String,
}

pub fn header(description: &str) -> Header {
    let mut h = Header::new(ObjectBuilder::new().schema_type(Type::String));
    h.description = Some(description.to_owned());
    h
}

/// An error answer: the envelope, with what the status means for the operation.
pub fn error_response(status: u16, description: &str) -> RefOr<Response> {
    let mut r = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(ErrorBody::schema())).build());
    if matches!(status, 429 | 503) {
        r = r.header("Retry-After", header("seconds to wait before trying again"));
    }
    r.into()
}

/// A set of error answers several operations share.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $description:literal),+ $(,)? }) => {
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$(($status, $description)),+]
                    .into_iter()
                    .map(|(s, d): (u16, &str)| (s.to_string(), error_response(s, d)))
                    .collect()
            }
        }
    };
}

error_set!(
    /// What any operation with a query string may answer.
    QueryErrors {
        400 => "invalid_query (not percent-encoded UTF-8, a parameter given twice), unknown_parameter, invalid_cursor",
        414 => "uri_too_long: a query string over 4096 bytes",
        422 => "validation_failed: details name each bad parameter",
    }
);
error_set!(
    /// What any operation with a JSON body may answer.
    BodyErrors {
        400 => "malformed_json: the body is not JSON",
        413 => "payload_too_large: the body is over 64 KiB",
        415 => "unsupported_media_type: the body must be application/json",
        422 => "validation_failed: details name each bad field (a missing or unknown field, a wrong type, a bad value)",
    }
);
error_set!(
    /// A bearer token is needed.
    AuthErrors {
        401 => "unauthenticated (no token), invalid_token (expired, revoked, unknown) or login_required (a guest token where a customer is needed)",
    }
);
error_set!(
    /// The role `admin` is needed.
    AdminErrors {
        401 => "unauthenticated (no token) or invalid_token (expired, revoked, unknown)",
        403 => "forbidden: the token is not an administrator's",
    }
);
error_set!(
    /// A write goes through the single writer, whose queue is bounded.
    WriteErrors {
        503 => "unavailable: the writer's queue is full or the writer has stopped (Retry-After)",
    }
);
error_set!(
    /// A read goes through the read pool, whose queue is bounded.
    ReadErrors {
        503 => "unavailable: every reader is busy and the wait is over read_wait_ms (Retry-After)",
    }
);
error_set!(
    /// The id or slug in the path names nothing (or nothing of the caller's).
    NotFound {
        404 => "not_found (also for another customer's resources: their existence is not revealed)",
    }
);
error_set!(
    /// What placing an order (checkout, buy-now) may answer beyond a body's errors.
    PlaceErrors {
        400 => "malformed_json, or invalid_idempotency_key",
        409 => "out_of_stock (details.items names the lines), idempotency_key_reused, cart_already_ordered",
        429 => "too_many_unpaid_orders: the customer, guest session or client address holds its most unpaid orders or units (Retry-After: until the earliest expires)",
        422 => "validation_failed (details name each bad field, e.g. a line for no product on sale), cart_empty, invalid_discount, shipping_unavailable",
    }
);
error_set!(
    /// Public catalog answers are cacheable.
    NotModified {
        304 => "not modified: If-None-Match matched the ETag",
    }
);

// --- the document --------------------------------------------------------------------------

/// The parts of the document no handler owns: title, conventions, security scheme.
pub fn base() -> OpenApi {
    let mut doc = OpenApi::default();
    doc.info.title = "storefront".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(DESCRIPTION.into());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "an opaque session token from /api/auth/register, /api/auth/login or /api/auth/guest; \
                     operations that need the role admin list it as the requirement's role",
                ))
                .build(),
        ),
    );
    doc
}
