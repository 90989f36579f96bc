//! The front layer: a request's whole way through the server, in one place.
//!
//! 1. [`server`] accepts the connection (a cap on open connections, a share per client
//!    address, accept backoff, graceful shutdown) and hands each request on.
//! 2. [`replica`]: on a replica, a write goes to the primary and a read that presents a
//!    commit position the copy lacks waits for it; a malformed position is refused.
//! 3. [`fast_path`]: a GET whose route allows it and whose answer is cached is answered
//!    from the cache, before any routing.
//! 4. [`routes`]: the route table; each route declares its [`policy`] beside it.
//! 5. [`context`]: the middleware around every routed request: request id, the route's
//!    policy (API-key access, body limit, rate limit through [`limits`], time limit), the
//!    error envelope, the commit position of a write, metrics and the access log.
//! 6. The handler, in its domain (`crate::catalog`, `crate::orders`, …), which reads
//!    through the read pool and writes through the one writer (`crate::db`).
//!
//! [`spec`] builds the OpenAPI document from the same table; [`ops`] holds the
//! operations endpoints (health, readiness, metrics — `crate::app::metrics` reads what the
//! scrape shows —, the document). Nothing below this
//! layer imports it.

pub mod context;
pub mod fast_path;
pub mod limits;
pub mod ops;
pub mod policy;
pub mod replica;
pub mod routes;
pub mod server;
pub mod spec;

pub use server::{run, shutdown_signal};
