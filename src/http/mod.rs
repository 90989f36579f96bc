//! HTTP plumbing shared by every domain: query parsing, response building, the
//! request-context middleware.

pub mod access_log;
pub mod body;
pub mod client;
pub mod middleware;
pub mod query;
pub mod respond;
pub mod strict;

pub use body::{Checks, JsonBody, JsonWithBytes};
pub use query::QueryParams;
pub use respond::{Caching, Negotiation, Rendered};
