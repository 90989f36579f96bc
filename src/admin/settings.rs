//! The settings an owner changes while the shop runs (see [`crate::settings`]): listed with
//! what each does, its value now and its configured value; changed in one writer unit with
//! its audit row, on every node before the administrator hears back.

use super::*;
use crate::settings::{self, SettingOut};

/// Change run-time settings: each key a setting of [`settings::RUNTIME`], its new value,
/// or `null` to take the change back (the configured value stands again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)] // read as a map; this is what the document says of it
pub struct SettingsPatch {
    /// every page's title and header
    #[schema(min_length = 1, max_length = 100, nullable, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    shop_name: Option<String>,
    /// `inventory.low` is sent when a variant's available stock falls to this or below
    #[schema(minimum = 0, nullable)]
    low_stock_threshold: Option<i64>,
    /// most lines one cart holds
    #[schema(minimum = 1, maximum = 1000, nullable)]
    cart_max_lines: Option<i64>,
    /// a customer's unpaid order holds its stock this long
    #[schema(minimum = 1, maximum = 525600, nullable)]
    order_expiry_mins: Option<i64>,
    /// a guest's unpaid order holds its stock this long
    #[schema(minimum = 1, maximum = 525600, nullable)]
    guest_order_expiry_mins: Option<i64>,
    /// administrators' requests need a session opened with a second factor
    #[schema(nullable)]
    admin_require_2fa: Option<bool>,
    /// days after delivery (or shipping) a customer may ask to return items; 0: the shop
    /// takes no returns through the storefront
    #[schema(minimum = 0, maximum = 3650, nullable)]
    return_window_days: Option<i64>,
    /// a draft order's line may carry the owner's own unit price
    #[schema(nullable)]
    draft_custom_prices: Option<bool>,
    /// the catalog's languages: language tags separated by commas, the default first
    /// (`en, de, pt-BR`); at most 20
    #[schema(
        min_length = 2,
        max_length = 200,
        nullable,
        pattern = "^ *[a-z]{2,3}(-[A-Z]{2})? *(, *[a-z]{2,3}(-[A-Z]{2})? *){0,19}$"
    )]
    locales: Option<String>,
    /// the currencies sold in: the default first, then each other with its rate from the
    /// default (`USD, EUR 0.92, JPY 1.5`); at most 20
    #[schema(
        min_length = 3,
        max_length = 400,
        nullable,
        pattern = "^ *[A-Z]{3} *(, *[A-Z]{3} +([1-9][0-9]{0,5}(\\.[0-9]{1,6})?|0\\.[0-9]{0,5}[1-9]) *){0,19}$"
    )]
    currencies: Option<String>,
}

async fn described(app: &AppState) -> Result<Vec<SettingOut>, ApiError> {
    let rows = app.db.read(|c| settings::stored(c).map_err(ApiError::from)).await?;
    Ok(settings::described(&app.settings, &rows))
}

/// The settings that change at run time
///
/// Each with what it does, its value now (on every node), its configured value and, when
/// changed here, when and by whom.
#[utoipa::path(get, path = "/api/admin/settings", tag = "admin", security(("bearer" = ["admin"])),
    responses((status = 200, description = "every run-time setting", body = Data<Vec<SettingOut>>), AdminErrors, ReadErrors))]
pub async fn list_settings(State(app): State<AppState>, _admin: AdminSession) -> Result<Response, ApiError> {
    Ok(data(StatusCode::OK, &described(&app).await?))
}

/// Change settings while the shop runs
///
/// Only the keys given change; `null` takes a change back, and a value equal to the
/// configured one is the same as `null`. Checked by the configuration's own rules (a value
/// out of bounds or of the wrong kind is 422, naming its key, and nothing changes); in
/// force on every node before the answer. Audited as `settings.update`.
#[utoipa::path(patch, path = "/api/admin/settings", tag = "admin", security(("bearer" = ["admin"])),
    request_body = SettingsPatch,
    responses((status = 200, description = "every run-time setting, as it now stands", body = Data<Vec<SettingOut>>), AdminErrors, BodyErrors, WriteErrors))]
pub async fn update_settings(
    State(app): State<AppState>,
    admin: AdminSession,
    JsonBody(body): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Response, ApiError> {
    change(&app, admin, body).await?;
    Ok(data(StatusCode::OK, &described(&app).await?))
}

/// The change itself (the dashboard's form calls it too): checked, then one writer unit
/// with its audit row.
pub async fn change(
    app: &AppState,
    admin: AdminSession,
    body: serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    if body.is_empty() {
        return Err(ApiError::validation([("settings".into(), "name at least one setting to change".into())].into()));
    }
    let changes: Vec<(String, Option<serde_json::Value>)> =
        body.into_iter().map(|(k, v)| (k, (!v.is_null()).then_some(v))).collect();
    let now = app.live();
    settings::apply(app.settings.started(), &now, &changes).map_err(ApiError::validation)?;
    // what is stored: the value, or nothing when it is the configured one
    let started = serde_json::to_value(app.settings.started()).expect("the configuration serializes");
    let current = serde_json::to_value(&*now).expect("the configuration serializes");
    let stored: Vec<(String, Option<serde_json::Value>)> = changes
        .into_iter()
        .map(|(k, v)| {
            let v = v.filter(|v| started.get(&k) != Some(v));
            (k, v)
        })
        .collect();
    let before: serde_json::Map<String, serde_json::Value> =
        stored.iter().map(|(k, _)| (k.clone(), current.get(k).cloned().unwrap_or_default())).collect();
    let after: serde_json::Map<String, serde_json::Value> = stored
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| started.get(k).cloned().unwrap_or_default())))
        .collect();
    app.db
        .writer
        .run(move |tx| {
            let now = now_ms();
            for (key, value) in &stored {
                settings::put(tx, key, value.as_ref(), Some(admin.0.customer_id), now)?;
            }
            audit(tx, &admin, "settings.update", "settings", None, Some(&before.into()), Some(&after.into()))?;
            Ok::<_, ApiError>(())
        })
        .await
}
