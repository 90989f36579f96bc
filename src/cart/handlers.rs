//! Cart endpoints. Changes are writer units that check stock as they change the cart (a
//! cart reserves nothing: checkout does); the cart is then rendered on a reader.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{price, render, resolve_variant, store, CartOut, Destination};
use crate::app::AppState;
use crate::auth::Session;
use crate::domain::{text, Country, Id, Quantity};
use crate::error::ApiError;
use crate::http::path::{res, PathId};
use crate::http::query_params;
use crate::http::respond::data;
use crate::http::{Checks, JsonBody, Param, QueryParams, Shape};
use crate::openapi::{AuthErrors, BodyErrors, Data, ErrorBody, NotFound, QueryErrors, ReadErrors, WriteErrors};
use crate::util::now_ms;

const COUNTRY: Param = Param::text("country", 2, Shape::Country)
    .doc("ISO 3166-1 alpha-2 country code, either case; blank or absent: no destination yet");
const SHIPPING_COUNTRY: Param =
    Param::text("country", 2, Shape::Country).required().doc("ISO 3166-1 alpha-2 country code, either case");
const REGION: Param =
    Param::text("state", 100, Shape::Line).doc("region within the country: selects a regional tax rate");

query_params!(
    /// Where the cart would go, for its shipping and tax.
    pub struct DestinationQuery [COUNTRY, REGION]
);
query_params!(
    /// Where shipping options are asked for.
    pub struct ShippingQuery [SHIPPING_COUNTRY, REGION]
);

/// `?country=XX[&state=YY]`: where the cart would go.
fn destination(q: &mut QueryParams, required: bool) -> Option<Destination> {
    let country = q.text(if required { &SHIPPING_COUNTRY } else { &COUNTRY });
    let region = q.text(&REGION).unwrap_or_default();
    let country = Country::parse(&country?).expect("the parameter's shape is a country code");
    Some(Destination { country, region })
}

/// The session's cart
///
/// Items, quantities, unit and line prices, subtotal, discount, shipping (the cheapest
/// option for the destination), tax and total. A session without a cart sees an empty one
/// (`id` null).
#[utoipa::path(get, path = "/api/cart", tag = "cart", security(("bearer" = [])),
    params(DestinationQuery),
    responses((status = 200, description = "the cart", body = Data<CartOut>), AuthErrors, QueryErrors, ReadErrors))]
pub async fn view(State(app): State<AppState>, session: Session, mut q: QueryParams) -> Result<Response, ApiError> {
    let dest = destination(&mut q, false);
    q.finish()?;
    Ok(data(StatusCode::OK, &render(&app, session, dest).await?))
}

/// A product (its first variant with stock for the quantity) or a variant, and how many.
/// One of `product_id` and `variant_id` is needed (422 otherwise); with both, the variant
/// must be the product's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddIn {
    pub product_id: Option<Id>,
    pub variant_id: Option<Id>,
    pub quantity: i64,
}

impl utoipa::PartialSchema for AddIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::line_in_schema()
    }
}
impl utoipa::ToSchema for AddIn {}

/// 409 naming each line the stock cannot cover (never the exact stock).
pub fn out_of_stock(items: Vec<serde_json::Value>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "out_of_stock", "the stock cannot cover some items").with_detail("items", items)
}

/// 409 naming the one line that cannot have `requested` units.
fn short_of(product_id: i64, variant_id: i64, requested: i64) -> ApiError {
    out_of_stock(vec![json!({"product_id": Id(product_id), "variant_id": Id(variant_id), "requested": requested})])
}

const CURRENCY: Param = Param::raw_matching("currency", 3, crate::domain::currencies::PATTERN, |s| {
    crate::domain::Currency::parse(s).map(drop).ok_or_else(|| "must be a currency code (3 capital letters)".to_owned())
})
.doc(
    "the cart's currency from now on: one the shop sells in (`GET /api/currencies`, else 422); the cart and its \
     order are priced in it. Without it the cart keeps its own (a new one: the default)",
);

query_params!(
    /// The currency a cart is priced in.
    pub struct CurrencyQuery [CURRENCY]
);

/// Add to the cart
///
/// Stock is checked (a line holds at most 1000 units; nothing is reserved until
/// checkout). A cart holds at most `cart_max_lines` lines (100 by default). With
/// `currency=` the cart is priced in that currency from now on (its order too).
#[utoipa::path(post, path = "/api/cart", tag = "cart", security(("bearer" = [])),
    params(CurrencyQuery),
    request_body = AddIn,
    responses((status = 201, description = "the cart", body = Data<CartOut>), AuthErrors, BodyErrors, QueryErrors,
        (status = 409, description = "out_of_stock: details.items names the line; cart_full: the cart has cart_max_lines lines", body = ErrorBody), WriteErrors))]
pub async fn add(
    State(app): State<AppState>,
    session: Session,
    mut q: QueryParams,
    JsonBody(body): JsonBody<AddIn>,
) -> Result<Response, ApiError> {
    let currency = crate::catalog::prices::currency_in(&app, &mut q, &CURRENCY);
    q.finish()?;
    let mut checks = Checks::new();
    let quantity = checks.check("quantity", Quantity::parse(body.quantity));
    checks.finish()?;
    let quantity = quantity.expect("checked").0;
    let s = session.clone();
    let max_lines = app.live().cart_max_lines;
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let field = if body.variant_id.is_some() { "variant_id" } else { "product_id" };
            let v = resolve_variant(tx, body.product_id, body.variant_id, quantity).map_err(|e| e.at(field))?;
            let cart = store::ensure_cart(tx, &s, now)?;
            let had = store::item_quantity(tx, cart, v.variant_id)?;
            if had == 0 && store::line_count(tx, cart)? >= max_lines as i64 {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "cart_full",
                    format!("a cart holds at most {max_lines} lines; remove one first"),
                ));
            }
            let wanted = had + quantity;
            if wanted > Quantity::MAX {
                return Err(ApiError::validation(
                    [("quantity".to_owned(), format!("a line holds at most {}", Quantity::MAX))].into(),
                ));
            }
            if wanted > v.available {
                return Err(short_of(v.product_id, v.variant_id, wanted));
            }
            store::add_item(tx, cart, v.variant_id, quantity, now)?;
            if let Some(c) = &currency {
                store::set_currency(tx, cart, Some(c), now)?;
            }
            Ok(())
        })
        .await?;
    Ok(data(StatusCode::CREATED, &render(&app, session, None).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityIn {
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// Change a line's quantity
#[utoipa::path(patch, path = "/api/cart/items/{id}", tag = "cart", security(("bearer" = [])),
    params(("id" = String, Path, description = "a cart item id")),
    request_body = QuantityIn,
    responses((status = 200, description = "the cart", body = Data<CartOut>), AuthErrors, BodyErrors, NotFound,
        (status = 409, description = "out_of_stock: details.items names the line", body = ErrorBody), WriteErrors))]
pub async fn update_item(
    State(app): State<AppState>,
    session: Session,
    PathId(item, _): PathId<res::CartItem>,
    JsonBody(body): JsonBody<QuantityIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let quantity = checks.check("quantity", Quantity::parse(body.quantity));
    checks.finish()?;
    let quantity = quantity.expect("checked").0;
    let s = session.clone();
    app.db
        .writer
        .run(move |tx| {
            let not_found = || ApiError::not_found("cart item");
            let cart = store::open_cart(tx, &s)?.ok_or_else(not_found)?.id;
            let variant = store::item_variant(tx, cart, item)?.ok_or_else(not_found)?;
            let v = store::variant(tx, variant)?.ok_or_else(not_found)?;
            if quantity > v.available || !v.active {
                return Err(short_of(v.product_id, v.variant_id, quantity));
            }
            store::set_quantity(tx, cart, item, quantity, now_ms())?;
            Ok(())
        })
        .await?;
    Ok(data(StatusCode::OK, &render(&app, session, None).await?))
}

/// Remove a line
#[utoipa::path(delete, path = "/api/cart/items/{id}", tag = "cart", security(("bearer" = [])),
    params(("id" = String, Path, description = "a cart item id")),
    responses((status = 200, description = "the cart without the line", body = Data<CartOut>), AuthErrors, NotFound, WriteErrors))]
pub async fn remove_item(
    State(app): State<AppState>,
    session: Session,
    PathId(item, _): PathId<res::CartItem>,
) -> Result<Response, ApiError> {
    let s = session.clone();
    app.db
        .writer
        .run(move |tx| {
            let removed = match store::open_cart(tx, &s)? {
                Some(cart) => store::remove_item(tx, cart.id, item, now_ms())?,
                None => false,
            };
            if removed {
                Ok(())
            } else {
                Err(ApiError::not_found("cart item"))
            }
        })
        .await?;
    Ok(data(StatusCode::OK, &render(&app, session, None).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountIn {
    /// a promotion code, any case
    #[schema(max_length = 64, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub code: String,
}

fn invalid_discount(why: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_discount", format!("the code does not apply: {why}"))
        .with_detail("code", why)
}

/// Apply a promotion code
///
/// Percent or fixed amount, minimum subtotal, validity window, usage limit; a code that
/// does not apply is 422 `invalid_discount` saying why.
#[utoipa::path(post, path = "/api/cart/discount", tag = "cart", security(("bearer" = [])),
    request_body = DiscountIn,
    responses((status = 200, description = "the cart", body = Data<CartOut>), AuthErrors, BodyErrors,
        (status = 422, description = "validation_failed, or invalid_discount: details.code says why", body = ErrorBody), WriteErrors))]
pub async fn apply_discount(
    State(app): State<AppState>,
    session: Session,
    JsonBody(body): JsonBody<DiscountIn>,
) -> Result<Response, ApiError> {
    let mut checks = Checks::new();
    let code = checks.check("code", text(&body.code, 64, false));
    checks.finish()?;
    let code = code.expect("checked");
    let s = session.clone();
    let setting = app.live().currencies.clone();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            let Some(cart) = store::open_cart(tx, &s)?.map(|c| c.id) else {
                return Err(invalid_discount("the cart is empty"));
            };
            let market = super::market_of(tx, &setting, Some(cart), s.customer_id, now)?;
            let lines = store::lines(tx, cart, market.as_ref())?;
            let default = crate::domain::currencies::default_of(&setting);
            let p = price(tx, lines, Some(&code), None, None, now, market.as_ref(), default)?;
            if let Some(why) = p.discount_problem {
                return Err(invalid_discount(&why));
            }
            store::set_discount(tx, cart, p.discount_code.as_deref(), now)?;
            Ok(())
        })
        .await?;
    Ok(data(StatusCode::OK, &render(&app, session, None).await?))
}

/// Remove the promotion code
#[utoipa::path(delete, path = "/api/cart/discount", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "the cart", body = Data<CartOut>), AuthErrors, WriteErrors))]
pub async fn remove_discount(State(app): State<AppState>, session: Session) -> Result<Response, ApiError> {
    let s = session.clone();
    app.db
        .writer
        .run(move |tx| {
            if let Some(cart) = store::open_cart(tx, &s)?.map(|c| c.id) {
                store::set_discount(tx, cart, None, now_ms())?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(data(StatusCode::OK, &render(&app, session, None).await?))
}

/// Shipping options for the cart to a destination
///
/// By zone, subtotal and weight; `country` is required.
#[utoipa::path(get, path = "/api/cart/shipping-options", tag = "cart", security(("bearer" = [])),
    params(ShippingQuery),
    responses((status = 200, description = "the options, cheapest first", body = Data<Vec<crate::cart::pricing::ShippingOption>>), AuthErrors, QueryErrors, ReadErrors))]
pub async fn shipping_options(
    State(app): State<AppState>,
    session: Session,
    mut q: QueryParams,
) -> Result<Response, ApiError> {
    let dest = destination(&mut q, true);
    q.finish()?;
    let dest = dest.expect("finish() refuses a request without a country");
    let setting = app.live().currencies.clone();
    let options = app
        .db
        .read(move |conn| {
            let now = now_ms();
            let cart = store::open_cart(conn, &session)?;
            let market = super::market_of(conn, &setting, cart.as_ref().map(|c| c.id), session.customer_id, now)?;
            let (lines, code) = match cart {
                Some(c) => (store::lines(conn, c.id, market.as_ref())?, c.discount_code),
                None => (Vec::new(), None),
            };
            let default = crate::domain::currencies::default_of(&setting);
            Ok::<_, ApiError>(
                price(conn, lines, code.as_deref(), Some(&dest), None, now, market.as_ref(), default)?.options,
            )
        })
        .await?;
    Ok(data(StatusCode::OK, &options))
}
