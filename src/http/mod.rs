//! HTTP plumbing shared by every domain: query parsing, bodies, response building, client
//! addresses, request ids. The way a request takes through the server is the front
//! layer's ([`crate::web`]).

pub mod access_log;
pub mod body;
pub mod client;
pub mod idempotency;
pub mod path;
pub mod query;
pub mod request_id;
pub mod respond;
pub mod strict;

pub use body::{Checks, JsonBody, JsonWithBytes};
pub(crate) use query::query_params;
pub use query::{Choice, OneOf, Param, QueryParams, Shape};
pub use respond::{Caching, Media, Negotiation, Rendered};

/// The values of the request's cookies named `name`, as sent (every `Cookie` header).
pub fn cookies<'h>(headers: &'h axum::http::HeaderMap, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}
