//! Customers and their sessions: registration, login (throttled per account and per
//! client address), guest sessions, logout and session management, profile and
//! addresses, password reset by single-use token sent through the mail outbox.
//!
//! Tokens, password hashing and the session extractors live below the domains, in
//! [`crate::auth`]; here `store` holds the SQL, `handlers` the endpoints, `model` the types.

pub mod handlers;
pub mod model;
pub mod store;
pub mod two_factor;

use std::path::Path;

use crate::auth;
use crate::db;
use crate::domain::{Email, NewPassword};

/// `storefront admin create`: creates an administrator, or makes an existing account one
/// with the new password.
pub fn create_admin(path: &Path, email: &Email, name: &str, password: &str) -> anyhow::Result<()> {
    let password = NewPassword::parse(password).map_err(|m| anyhow::anyhow!("the password {m}"))?;
    let name = crate::domain::text(name, 200, false).map_err(|m| anyhow::anyhow!("--name {m}"))?;
    let mut conn = db::open_write(path, db::Synchronous::Full)?;
    db::migrate::migrate(&mut conn)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let hash = runtime
        .block_on(auth::hash_password(&auth::Hasher::new(1), password.expose().to_owned()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = crate::util::now_ms();
    conn.execute(
        "INSERT INTO customers(email, name, password_hash, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'admin', ?4, ?4)
         ON CONFLICT(email) DO UPDATE SET role = 'admin', password_hash = excluded.password_hash,
                                          updated_at = excluded.updated_at",
        rusqlite::params![email.as_str(), name, hash, now],
    )?;
    Ok(())
}
