//! Errors in two tiers. Domain and storage code return their own `thiserror` enums; they
//! become one [`ApiError`] at the HTTP boundary, which owns the status, a stable `code`
//! and the JSON envelope of the API contract. Infrastructure failures are mapped to
//! statuses here and nowhere else: a full writer queue or an exhausted pool is 503 with
//! `Retry-After`, a UNIQUE violation is 409, anything unexpected is a 500 whose details are
//! logged once and never shown to the client.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::Value;

/// Failures of the storage layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0} is busy")]
    Busy(&'static str),
    /// a read ran past its time limit and was interrupted
    #[error("the read took too long")]
    TimedOut,
    #[error("the writer has stopped")]
    WriterGone,
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("a database task panicked: {0}")]
    Panicked(String),
    #[error("transaction aborted: {0}")]
    Aborted(String),
    #[error("constraint violated: {0}")]
    Constraint(String),
    #[error("sqlite: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                StoreError::Constraint(msg.clone().unwrap_or_else(|| e.to_string()))
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::OperationInterrupted => {
                StoreError::TimedOut
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                StoreError::Busy("database")
            }
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

/// An error as the client sees it: `{"error": {code, message, details, request_id}}`.
/// The request id is filled in by the request-id middleware, which knows it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: BTreeMap<String, Value>,
    /// Seconds for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: BTreeMap::new(), retry_after: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 422 with one message per bad field.
    pub fn validation(fields: BTreeMap<String, String>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "some fields are invalid; see details",
        );
        e.details = fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        e
    }

    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        e.retry_after = Some(retry_after);
        e
    }

    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The default error for a bare status (axum's own 404/405 and the like).
    pub fn from_status(status: StatusCode) -> ApiError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed on this resource"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported content type"),
            StatusCode::URI_TOO_LONG => ("uri_too_long", "request URI too long"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ("headers_too_large", "request headers too large"),
            s if s.is_client_error() => ("bad_request", "bad request"),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "service unavailable"),
            _ => ("internal", "an internal error occurred"),
        };
        ApiError::new(status, code, message)
    }

    /// The envelope as an answer, with the headers errors carry.
    pub fn response(&self, request_id: &str) -> axum::response::Response {
        use axum::http::header;
        let mut resp = axum::response::Response::new(axum::body::Body::from(self.body(request_id)));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
        h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        resp
    }

    /// The JSON envelope.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        let body = serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "request_id": request_id,
            }
        });
        serde_json::to_vec(&body).expect("an error envelope always serializes")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Busy(what) => {
                tracing::warn!(resource = what, "overloaded, refusing request");
                ApiError::unavailable(format!("the server is busy ({what}); retry shortly"), 1)
            }
            StoreError::WriterGone => ApiError::unavailable("the server is shutting down", 5),
            StoreError::TimedOut => {
                tracing::warn!("a read ran past its time limit and was interrupted");
                let mut e = ApiError::unavailable("the request took too long; retry shortly", 1);
                e.code = "timeout";
                e
            }
            StoreError::Constraint(msg) => {
                tracing::info!(error = %msg, "constraint violation");
                ApiError::new(StatusCode::CONFLICT, "conflict", "the change conflicts with existing data")
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::from(StoreError::from(e))
    }
}

impl axum::response::IntoResponse for ApiError {
    /// The body is rendered by the front layer's request context, which knows the
    /// request id.
    fn into_response(self) -> axum::response::Response {
        let mut resp = axum::response::Response::new(axum::body::Body::empty());
        *resp.status_mut() = self.status;
        resp.extensions_mut().insert(self);
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
