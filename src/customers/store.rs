//! All SQL of customers, sessions, addresses, throttling and password resets. Reads take a
//! pooled `&Connection`; writes take the writer's `&WriteTx`.

use rusqlite::{params, Connection, OptionalExtension};

use super::model::{Address, AddressOut, CustomerOut, SessionOut};
use crate::db::writer::WriteTx;
use crate::domain::{Id, Timestamp};

pub struct NewSession<'a> {
    pub token_hash: &'a [u8; 32],
    pub customer_id: Option<i64>,
    pub device: &'a str,
    pub client_addr: &'a str,
    pub now: i64,
    pub expires_at: i64,
    /// opened with a second factor (a TOTP or recovery code)
    pub second_factor: bool,
}

pub fn insert_session(tx: &WriteTx, s: &NewSession) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO sessions(token_hash, customer_id, device, client_addr, created_at, last_seen_at, expires_at,
                              second_factor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
    )?
    .execute(params![
        &s.token_hash[..],
        s.customer_id,
        s.device,
        s.client_addr,
        s.now,
        s.expires_at,
        s.second_factor
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Revokes one session of `customer` (or the session itself when `customer` is None).
pub fn revoke_session(tx: &WriteTx, id: i64, customer: Option<i64>, now: i64) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE sessions SET revoked_at = ?3
             WHERE id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR customer_id = ?2)",
        )?
        .execute(params![id, customer, now])?;
    Ok(n == 1)
}

pub fn revoke_all_sessions(tx: &WriteTx, customer: i64, now: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached("UPDATE sessions SET revoked_at = ?2 WHERE customer_id = ?1 AND revoked_at IS NULL")?
        .execute(params![customer, now])
}

/// Ends every session of `customer` but `keep`.
pub fn revoke_other_sessions(tx: &WriteTx, customer: i64, keep: i64, now: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached("UPDATE sessions SET revoked_at = ?3 WHERE customer_id = ?1 AND id <> ?2 AND revoked_at IS NULL")?
        .execute(params![customer, keep, now])
}

/// The password hash and e-mail of a customer.
pub fn password_of(conn: &Connection, customer: i64) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT password_hash, email FROM customers WHERE id = ?1")?
        .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub fn sessions_of(conn: &Connection, customer: i64, now: i64, current: i64) -> rusqlite::Result<Vec<SessionOut>> {
    conn.prepare_cached(
        "SELECT id, device, client_addr, created_at, last_seen_at, expires_at FROM sessions
         WHERE customer_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id DESC",
    )?
    .query_map(params![customer, now], |r| {
        let id: i64 = r.get(0)?;
        Ok(SessionOut {
            id: Id(id),
            device: r.get(1)?,
            client_addr: r.get(2)?,
            created_at: Timestamp(r.get(3)?),
            last_seen_at: Timestamp(r.get(4)?),
            expires_at: Timestamp(r.get(5)?),
            current: id == current,
        })
    })?
    .collect()
}

pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
}

pub fn credentials(conn: &Connection, email: &str) -> rusqlite::Result<Option<Credentials>> {
    conn.prepare_cached("SELECT id, password_hash FROM customers WHERE email = ?1")?
        .query_row([email], |r| Ok(Credentials { id: r.get(0)?, password_hash: r.get(1)? }))
        .optional()
}

pub fn customer_id_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM customers WHERE email = ?1")?.query_row([email], |r| r.get(0)).optional()
}

pub fn customer(conn: &Connection, id: i64) -> rusqlite::Result<Option<CustomerOut>> {
    conn.prepare_cached("SELECT id, email, name, role, created_at, locale FROM customers WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(CustomerOut {
                id: Id(r.get(0)?),
                email: r.get(1)?,
                name: r.get(2)?,
                role: r.get(3)?,
                created_at: Timestamp(r.get(4)?),
                locale: r.get(5)?,
            })
        })
        .optional()
}

pub fn insert_customer(
    tx: &WriteTx,
    email: &str,
    name: &str,
    password_hash: &str,
    role: &str,
    locale: Option<&str>,
    now: i64,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO customers(email, name, password_hash, role, locale, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![email, name, password_hash, role, locale, now])?;
    Ok(tx.last_insert_rowid())
}

pub fn update_customer(
    tx: &WriteTx,
    id: i64,
    name: Option<&str>,
    email: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE customers SET name = coalesce(?2, name), email = coalesce(?3, email), updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, name, email, now])?;
    Ok(())
}

/// The language of a customer's mail (`None`: the shop's default).
pub fn set_locale(tx: &WriteTx, id: i64, locale: Option<&str>, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE customers SET locale = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, locale, now])?;
    Ok(())
}

/// The account with this e-mail, if there is one, and the language of its mail.
pub fn reader_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<(i64, Option<String>)>> {
    conn.prepare_cached("SELECT id, locale FROM customers WHERE email = ?1")?
        .query_row([email], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub fn set_password(tx: &WriteTx, id: i64, hash: &str, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE customers SET password_hash = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, hash, now])?;
    Ok(())
}

pub fn addresses(conn: &Connection, customer: i64) -> rusqlite::Result<Vec<AddressOut>> {
    conn.prepare_cached(
        "SELECT id, name, line1, line2, city, state, postal_code, country, phone, created_at
         FROM addresses WHERE customer_id = ?1 ORDER BY id",
    )?
    .query_map([customer], |r| {
        Ok(AddressOut {
            id: Id(r.get(0)?),
            name: r.get(1)?,
            line1: r.get(2)?,
            line2: r.get(3)?,
            city: r.get(4)?,
            state: r.get(5)?,
            postal_code: r.get(6)?,
            country: r.get(7)?,
            phone: r.get(8)?,
            created_at: Timestamp(r.get(9)?),
        })
    })?
    .collect()
}

/// Most addresses a customer keeps.
pub const MAX_ADDRESSES: i64 = 20;

pub fn count_addresses(tx: &WriteTx, customer: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached("SELECT count(*) FROM addresses WHERE customer_id = ?1")?.query_row([customer], |r| r.get(0))
}

pub fn insert_address(tx: &WriteTx, customer: i64, a: &Address, now: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO addresses(customer_id, name, line1, line2, city, state, postal_code, country, phone, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        customer,
        a.name,
        a.line1,
        a.line2,
        a.city,
        a.state,
        a.postal_code,
        a.country.as_str(),
        a.phone,
        now
    ])?;
    Ok(tx.last_insert_rowid())
}

pub fn delete_address(tx: &WriteTx, customer: i64, id: i64) -> rusqlite::Result<bool> {
    Ok(tx.prepare_cached("DELETE FROM addresses WHERE id = ?1 AND customer_id = ?2")?.execute(params![id, customer])?
        == 1)
}

// --- throttling -------------------------------------------------------------------------

pub fn record_attempt(
    tx: &WriteTx,
    kind: &str,
    email: &str,
    client_addr: &str,
    succeeded: bool,
    now: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO auth_attempts(kind, email, client_addr, succeeded, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind, email, client_addr, succeeded, now])?;
    Ok(())
}

/// An attempt recorded as failed before its password was checked turned out right.
pub fn attempt_succeeded(tx: &WriteTx, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE auth_attempts SET succeeded = 1 WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// Failed attempts since `since` for the account and for the client address, with the
/// oldest of each (when the window frees up).
pub struct Failures {
    pub by_email: i64,
    pub oldest_email: Option<i64>,
    pub by_addr: i64,
    pub oldest_addr: Option<i64>,
}

pub fn failures(conn: &Connection, kind: &str, email: &str, addr: &str, since: i64) -> rusqlite::Result<Failures> {
    let (by_email, oldest_email) = conn
        .prepare_cached(
            "SELECT count(*), min(created_at) FROM auth_attempts
             WHERE kind = ?1 AND email = ?2 AND created_at >= ?3 AND succeeded = 0",
        )?
        .query_row(params![kind, email, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (by_addr, oldest_addr) = conn
        .prepare_cached(
            "SELECT count(*), min(created_at) FROM auth_attempts
             WHERE kind = ?1 AND client_addr = ?2 AND created_at >= ?3 AND succeeded = 0",
        )?
        .query_row(params![kind, addr, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Failures { by_email, oldest_email, by_addr, oldest_addr })
}

// --- password resets --------------------------------------------------------------------

pub fn insert_reset(tx: &WriteTx, customer: i64, hash: &[u8; 32], now: i64, expires_at: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO password_resets(customer_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![customer, &hash[..], now, expires_at])?;
    Ok(())
}

/// Uses a reset token: the customer it belongs to, when it is unused and unexpired.
pub fn use_reset(tx: &WriteTx, hash: &[u8; 32], now: i64) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached(
        "UPDATE password_resets SET used_at = ?2
         WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING customer_id",
    )?
    .query_row(params![&hash[..], now], |r| r.get(0))
    .optional()
}

/// Purges what is only kept for a while: attempts older than a day, reset tokens a day
/// past their expiry (used or not).
/// Sessions that ended (expired or revoked) before `before`, at most `limit`.
pub fn purge_sessions(tx: &WriteTx, before: i64, limit: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM sessions WHERE id IN (
             SELECT id FROM sessions WHERE expires_at < ?1
             UNION SELECT id FROM sessions WHERE revoked_at < ?1
             LIMIT ?2)",
    )?
    .execute(params![before, limit])
}

pub fn purge(tx: &WriteTx, now: i64) -> rusqlite::Result<usize> {
    let day = 24 * 3600 * 1000;
    let mut n = tx.prepare_cached("DELETE FROM auth_attempts WHERE created_at < ?1")?.execute([now - day])?;
    n +=
        tx.prepare_cached("DELETE FROM password_resets WHERE expires_at < ?1 OR used_at < ?1")?.execute([now - day])?;
    Ok(n)
}
