//! The mail outbox: a mail is a row written in the same transaction as what it announces
//! (an order, a password reset), so no mail is lost and none is sent for something that
//! rolled back. The job runner sends from here; `storefront mail pending` lists what waits.

use rusqlite::{params, Connection};

use crate::db::writer::WriteTx;

pub fn enqueue(tx: &WriteTx, kind: &str, to: &str, subject: &str, body: &str, now: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO mail_outbox(kind, to_email, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind, to, subject, body, now])?;
    Ok(tx.last_insert_rowid())
}

#[derive(Debug, serde::Serialize)]
pub struct Mail {
    pub id: i64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
}

/// Mail not sent yet, oldest first.
pub fn pending(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<Mail>> {
    conn.prepare_cached(
        "SELECT id, kind, to_email, subject, body, created_at FROM mail_outbox
         WHERE sent_at IS NULL ORDER BY id LIMIT ?1",
    )?
    .query_map([limit], |r| {
        Ok(Mail {
            id: r.get(0)?,
            kind: r.get(1)?,
            to: r.get(2)?,
            subject: r.get(3)?,
            body: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?
    .collect()
}
