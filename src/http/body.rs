//! JSON request bodies, refused the way the contract says: a body that is not
//! `application/json` is 415, one over [`MAX_BODY`] is 413, one that is not JSON is 400
//! `malformed_json`, and one of the wrong shape (a missing field, a string where a number
//! belongs, an unknown field) is 422 naming the field. Handlers then validate values into
//! domain types, again naming each bad field.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body the API reads by default (a cart, a checkout, an address: a few
/// KB at most); a route's policy may set its own ([`MaxBody`]).
pub const MAX_BODY: usize = 64 * 1024;

/// The largest JSON body of the request's route (an extension the front layer sets from
/// the route's policy; [`MAX_BODY`] without it).
#[derive(Debug, Clone, Copy)]
pub struct MaxBody(pub usize);

/// A JSON body deserialized into `T` (whose fields should `deny_unknown_fields`).
pub struct JsonBody<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A JSON body with the bytes it came as (a signature is checked over the bytes) and its
/// canonical form (keys sorted, no spaces: what an idempotency key's "same body" means).
pub struct JsonWithBytes<T> {
    pub value: T,
    pub bytes: Bytes,
    pub canonical: Vec<u8>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonWithBytes<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = read_json(req).await?;
        let raw: serde_json::Value = serde_json::from_slice(&bytes).map_err(malformed)?;
        let canonical = serde_json::to_vec(&raw).expect("a parsed value serializes");
        let value = typed(raw)?;
        Ok(JsonWithBytes { value, bytes, canonical })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = read_json(req).await?;
        parse(&bytes).map(JsonBody)
    }
}

fn malformed(e: serde_json::Error) -> ApiError {
    ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
}

/// A parsed JSON value into `T`, with the 422 of a wrong shape.
pub fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(super::strict::Strict(value)).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::validation(BTreeMap::from([(field, e.into_inner().to_string())]))
    })
}

/// How long a request's body may take to arrive (an extension the server sets from
/// `request_body_timeout_secs`): a client that stops sending half-way is answered 408
/// instead of holding its connection and task.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

impl BodyTimeout {
    pub fn of(req: &Request) -> std::time::Duration {
        req.extensions().get::<BodyTimeout>().map_or(std::time::Duration::from_secs(10), |t| t.0)
    }
}

/// The 408 of a body that did not arrive in time.
pub fn body_timed_out(limit: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!("the request body did not arrive within {} s", limit.as_secs()),
    )
}

async fn read_json(req: Request) -> Result<Bytes, ApiError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_json(ct) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let limit = BodyTimeout::of(&req);
    let max = req.extensions().get::<MaxBody>().map_or(MAX_BODY, |m| m.0);
    let read = tokio::time::timeout(limit, axum::body::to_bytes(req.into_body(), max));
    read.await.map_err(|_| body_timed_out(limit))?.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {max} bytes"),
        )
    })
}

/// Parses a JSON body into `T` with the errors described above.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    typed(serde_json::from_slice(bytes).map_err(malformed)?)
}

/// Collects one message per bad field and turns them into one 422.
#[derive(Default)]
pub struct Checks(BTreeMap<String, String>);

impl Checks {
    pub fn new() -> Checks {
        Checks::default()
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    /// Records the error of `result` (if any) under `field` and returns its value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(m) => {
                self.error(field, m);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        product_id: String,
        quantity: i64,
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(parse::<Item>(b"{").unwrap_err().code, "malformed_json");
        let e = parse::<Item>(br#"{"product_id": "1", "quantity": "two"}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (422, "validation_failed"));
        assert!(e.details.contains_key("quantity"), "{:?}", e.details);
        let e = parse::<Item>(br#"{"quantity": 1}"#).unwrap_err();
        assert!(e.details.contains_key("body"), "{:?}", e.details);
        assert!(parse::<Item>(br#"{"product_id": "1", "quantity": 1, "x": 0}"#).is_err());
        assert!(is_json("application/json; charset=utf-8") && !is_json("text/plain"));
    }
}
