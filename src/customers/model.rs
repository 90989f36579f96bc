//! What clients send and see of customers, sessions and addresses. Request bodies refuse
//! unknown fields; their values are validated into domain types by the handlers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{text, Country, Id, Timestamp};
use crate::http::Checks;

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOut {
    pub id: Id,
    pub email: String,
    pub name: String,
    #[schema(pattern = "^(customer|admin)$")]
    pub role: String,
    pub created_at: Timestamp,
    /// the language the shop's mail to this customer is written in, and their orders' (a
    /// tag of the `locales` setting; null: the shop's default)
    #[schema(pattern = "^[a-z]{2,3}(-[A-Z]{2})?$")]
    pub locale: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub id: Id,
    pub device: String,
    pub client_addr: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    /// the session of the token that asked
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressOut {
    pub id: Id,
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterIn {
    #[schema(max_length = 254, extensions(("x-pattern" = json!(crate::domain::Email::PATTERN))))]
    pub email: String,
    /// 8 to 256 characters
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: String,
    /// the language the shop's mail is written in: one of the shop's (the `locales`
    /// setting; a regional tag takes its language's, `de-AT` → `de`; else 422). Default:
    /// the one `Accept-Language` asks for, else the shop's default.
    #[serde(default)]
    #[schema(pattern = "^[a-z]{2,3}(-[A-Z]{2})?$")]
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    #[schema(max_length = 254, extensions(("x-pattern" = json!(crate::domain::Email::PATTERN))))]
    pub email: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// with two-factor login on: a current code from the authenticator, or a recovery code
    #[schema(min_length = 1, max_length = 32)]
    pub otp: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotIn {
    #[schema(max_length = 254, extensions(("x-pattern" = json!(crate::domain::Email::PATTERN))))]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetIn {
    /// the code from the mail
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
    /// the new password, 8 to 256 characters
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: Option<String>,
    #[schema(max_length = 254, extensions(("x-pattern" = json!(crate::domain::Email::PATTERN))))]
    pub email: Option<String>,
    /// the account's password: required to change the e-mail (which is where reset codes
    /// go, so a stolen session must not be able to move it)
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: Option<String>,
    /// the language the shop's mail is written in: one of the shop's (the `locales`
    /// setting; else 422); the default's tag goes back to the default
    #[schema(pattern = "^[a-z]{2,3}(-[A-Z]{2})?$")]
    pub locale: Option<String>,
}

/// A postal address as clients send it (shipping addresses of checkout use it too).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressIn {
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub name: String,
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub line1: String,
    #[serde(default)]
    #[schema(max_length = 200, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub line2: Option<String>,
    #[schema(max_length = 100, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub city: String,
    /// region: selects a regional tax rate
    #[serde(default)]
    #[schema(max_length = 100, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub state: Option<String>,
    #[schema(max_length = 20, extensions(("x-pattern" = json!(crate::openapi::LINE))))]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, either case
    #[schema(extensions(("x-pattern" = json!(crate::domain::Country::INPUT_PATTERN))))]
    pub country: String,
    #[serde(default)]
    #[schema(max_length = 40, extensions(("x-pattern" = json!(crate::openapi::OPTIONAL_LINE))))]
    pub phone: Option<String>,
}

/// A validated postal address.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: Country,
    pub phone: String,
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl AddressIn {
    /// Validates every field, recording errors under `prefix.field`.
    pub fn validate(&self, prefix: &str, checks: &mut Checks) -> Option<Address> {
        let f = |n: &str| if prefix.is_empty() { n.to_owned() } else { format!("{prefix}.{n}") };
        let name = checks.check(&f("name"), text(&self.name, 200, false));
        let line1 = checks.check(&f("line1"), text(&self.line1, 200, false));
        let line2 = checks.check(&f("line2"), text(self.line2.as_deref().unwrap_or(""), 200, true));
        let city = checks.check(&f("city"), text(&self.city, 100, false));
        let state = checks.check(&f("state"), text(self.state.as_deref().unwrap_or(""), 100, true));
        let postal_code = checks.check(&f("postal_code"), text(&self.postal_code, 20, false));
        let country = checks.check(&f("country"), Country::parse(&self.country));
        let phone = checks.check(&f("phone"), text(self.phone.as_deref().unwrap_or(""), 40, true));
        Some(Address {
            name: name?,
            line1: line1?,
            line2: line2?,
            city: city?,
            state: state?,
            postal_code: postal_code?,
            country: country?,
            phone: phone?,
        })
    }
}
