//! The catalog: categories, brands, products with variants, images, stock status and
//! reviews, bestsellers, and full-text search with facets. Public, read-heavy and
//! cacheable: every endpoint answers with an ETag and public `Cache-Control`.
//!
//! `handlers` parse and validate requests, `store` holds all the SQL, `model` the types
//! clients see.

pub mod bestsellers;
pub mod handlers;
pub mod listing;
pub mod model;
pub mod prices;
pub mod search_index;
pub mod store;
pub mod tags;
pub mod translations;
pub mod warm;
