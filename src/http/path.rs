//! `{id}` in a path: an opaque id (`crate::domain::Id`) parsed at the boundary. A malformed
//! id names nothing, so it is answered like an id that names nothing: 404 `not_found` with
//! the resource's name ([`PathId::not_found`] is that answer for the handler's own miss).

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::domain::Id;
use crate::error::ApiError;

/// What a path's id names (its word in a 404).
pub trait Resource {
    const NAME: &'static str;
}

/// The id in a route's `{id}`, of a resource `R`.
pub struct PathId<R>(pub i64, pub PhantomData<R>);

impl<R: Resource> PathId<R> {
    /// The 404 of an id that names no `R` (the same as a malformed one's).
    pub fn not_found() -> ApiError {
        ApiError::not_found(R::NAME)
    }
}

impl<S: Send + Sync, R: Resource + Send> FromRequestParts<S> for PathId<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| Self::not_found())?;
        Id::parse(&raw).map(|id| PathId(id.0, PhantomData)).ok_or_else(Self::not_found)
    }
}

macro_rules! resources {
    ($($name:ident => $word:literal),+ $(,)?) => {
        $(
            pub struct $name;
            impl super::Resource for $name {
                const NAME: &'static str = $word;
            }
        )+
    };
}

/// The resources named by an id in a path.
pub mod res {
    resources!(
        Address => "address",
        ApiKey => "API key",
        Brand => "brand",
        CartItem => "cart item",
        Category => "category",
        Customer => "customer",
        DraftOrder => "draft order",
        Export => "export",
        GiftCard => "gift card",
        Job => "job",
        Order => "order",
        PriceList => "price list",
        Product => "product",
        Return => "return",
        Review => "review",
        Session => "session",
        Subscription => "webhook subscription",
    );
}
