//! The `Idempotency-Key` header: how the document states it, how a request's key is
//! read, and the hash that tells a replay from another request under the same key.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// What an `Idempotency-Key` may be: 1 to 255 visible ASCII characters.
const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

/// The `Idempotency-Key` header as the document states it.
pub struct IdempotencyHeader;

impl utoipa::IntoParams for IdempotencyHeader {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        vec![utoipa::openapi::path::ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(utoipa::openapi::path::ParameterIn::Header)
            .required(utoipa::openapi::Required::False)
            .description(Some("1-255 visible ASCII characters"))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(IDEMPOTENCY_KEY_PATTERN))))
            .build()]
    }
}

/// The request's `Idempotency-Key` ([`IDEMPOTENCY_KEY_PATTERN`]), if any.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key").or_else(|| headers.get("x-idempotency-key")) else {
        return Ok(None);
    };
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 255 || !b.iter().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(String::from_utf8_lossy(b).into_owned()))
}

/// What a request under a key was: its path and canonical body.
pub fn request_hash(path: &str, canonical: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(canonical);
    h.finalize().to_vec()
}
