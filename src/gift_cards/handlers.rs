//! The shopper's side of gift cards: applying one to the cart, taking it off, and looking
//! up a card's balance. Every route that takes a code is rate-limited (`gift_card`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{by_code, invalid, normalize, CardStatus};
use crate::app::AppState;
use crate::auth::Session;
use crate::cart::{render, store, CartOut};
use crate::domain::{Money, Timestamp};
use crate::error::ApiError;
use crate::http::respond::data;
use crate::http::{query_params, Checks, JsonBody, Param, QueryParams, Shape};
use crate::openapi::{AuthErrors, BodyErrors, Data, ErrorBody, NotFound, QueryErrors, ReadErrors, WriteErrors};
use crate::util::now_ms;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardIn {
    /// the card's code, any case, with or without its dashes
    #[schema(max_length = 40, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub code: String,
}

const NO_SUCH: &str = "no gift card has this code";

/// Apply a gift card to the cart
///
/// At checkout the card pays what its balance covers (the whole order, or part of it with
/// the rest by `payment_method`); the cart shows what it `applies` and the `amount_due`.
/// One card per cart: applying another replaces it. A code that does not apply is 422
/// `invalid_gift_card` saying why (no such code, used up, expired, disabled). Rate-limited
/// per address and per session.
#[utoipa::path(post, path = "/api/cart/gift-card", tag = "cart", security(("bearer" = [])),
    request_body = GiftCardIn,
    responses((status = 200, description = "the cart with the card", body = Data<CartOut>), AuthErrors, BodyErrors,
        (status = 422, description = "validation_failed, or invalid_gift_card: details.code says why", body = ErrorBody), WriteErrors))]
pub async fn apply_gift_card(
    State(app): State<AppState>,
    session: Session,
    JsonBody(body): JsonBody<GiftCardIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    if body.code.len() > 40 {
        checks.error("code", "at most 40 characters");
    }
    checks.finish()?;
    let code = body.code;
    let s = session.clone();
    let default = crate::domain::currencies::default_of(&app.live().currencies);
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let Some(cart) = store::open_cart(tx, &s)?.map(|c| c.id) else { return Err(invalid("the cart is empty")) };
            let card = by_code(tx, &code)?.ok_or_else(|| invalid(NO_SUCH))?;
            if let Some(why) = card.problem(now) {
                return Err(invalid(why));
            }
            // (a cart without a currency of its own is in the default)
            let in_cart = store::currency_of(tx, cart)?.unwrap_or_else(|| default.as_str().to_owned());
            if card.currency != in_cart {
                return Err(invalid(&format!("this gift card is in {}; the cart is in {in_cart}", card.currency)));
            }
            store::set_gift_card(tx, cart, Some(card.id), now)?;
            Ok(())
        })
        .await?;
    Ok(data(StatusCode::OK, &render(&app, session, None).await?))
}

/// Take the gift card off the cart
#[utoipa::path(delete, path = "/api/cart/gift-card", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "the cart", body = Data<CartOut>), AuthErrors, WriteErrors))]
pub async fn remove_gift_card(State(app): State<AppState>, session: Session) -> Result<Response, ApiError> {
    let s = session.clone();
    app.db
        .writer
        .run(move |tx| {
            if let Some(cart) = store::open_cart(tx, &s)?.map(|c| c.id) {
                store::set_gift_card(tx, cart, None, now_ms())?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(data(StatusCode::OK, &render(&app, session, None).await?))
}

const CODE: Param = Param::text("code", 40, Shape::Words).required().doc("the card's code, any case, dashes optional");

query_params!(
    /// The card looked up.
    pub struct BalanceQuery [CODE]
);

/// A gift card's balance, as its holder may see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceOut {
    /// the code's last four characters
    pub last4: String,
    pub status: CardStatus,
    pub balance: Money,
    pub expires_at: Option<Timestamp>,
}

/// A gift card's balance
///
/// By its code (404 when no card has it). Rate-limited per address and per session
/// (`rate_limits.gift_card`) against guessing; codes are 80 random bits besides.
#[utoipa::path(get, path = "/api/gift-cards/balance", tag = "cart", security(()),
    params(BalanceQuery),
    responses((status = 200, description = "the card's balance", body = Data<BalanceOut>), QueryErrors, NotFound, ReadErrors))]
pub async fn gift_card_balance(State(app): State<AppState>, mut q: QueryParams) -> Result<Response, ApiError> {
    let code = q.text(&CODE);
    q.finish()?;
    let code = code.expect("finish() refuses a request without a code");
    let not_found = || ApiError::not_found("gift card");
    if normalize(&code).is_none() {
        return Err(not_found());
    }
    let card = app.db.read(move |conn| by_code(conn, &code).map_err(ApiError::from)).await?.ok_or_else(not_found)?;
    let now = now_ms();
    let out = BalanceOut {
        last4: card.last4.clone(),
        status: card.status(now),
        balance: super::money(card.balance, &card.currency),
        expires_at: card.expires_at.map(Timestamp),
    };
    Ok(data(StatusCode::OK, &out))
}
