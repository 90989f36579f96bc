//! The SQL that authenticates a bearer token: the session a token's hash names, and
//! the touch that keeps its `last_seen_at` roughly current.

use rusqlite::{params, Connection, OptionalExtension};

use crate::db::writer::WriteTx;

pub struct SessionRow {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub role: Option<String>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_seen_at: i64,
    pub two_factor: bool,
    pub second_factor: bool,
}

pub fn session_by_token(conn: &Connection, hash: &[u8; 32]) -> rusqlite::Result<Option<SessionRow>> {
    conn.prepare_cached(
        "SELECT s.id, s.customer_id, c.role, s.expires_at, s.revoked_at, s.last_seen_at,
                EXISTS (SELECT 1 FROM two_factor t WHERE t.customer_id = s.customer_id AND t.enabled_at IS NOT NULL),
                s.second_factor
         FROM sessions s LEFT JOIN customers c ON c.id = s.customer_id
         WHERE s.token_hash = ?1",
    )?
    .query_row([&hash[..]], |r| {
        Ok(SessionRow {
            id: r.get(0)?,
            customer_id: r.get(1)?,
            role: r.get(2)?,
            expires_at: r.get(3)?,
            revoked_at: r.get(4)?,
            last_seen_at: r.get(5)?,
            two_factor: r.get(6)?,
            second_factor: r.get(7)?,
        })
    })
    .optional()
}

pub fn touch_session(tx: &WriteTx, id: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2")?
        .execute(params![id, now])?;
    Ok(())
}
