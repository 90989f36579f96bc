//! What clients send and see of customers, sessions and addresses. Request bodies refuse
//! unknown fields; their values are validated into domain types by the handlers.

use serde::{Deserialize, Serialize};

use crate::domain::{text, Country, Id, Timestamp};
use crate::http::Checks;

#[derive(Debug, Serialize)]
pub struct CustomerOut {
    pub id: Id,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterIn {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotIn {
    pub email: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetIn {
    pub token: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileIn {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// A postal address as clients send it (shipping addresses of checkout use it too).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressIn {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
    #[serde(default)]
    pub phone: Option<String>,
}

/// A validated postal address.
#[derive(Debug, Clone, Serialize)]
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
