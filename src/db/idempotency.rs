//! Writes under an `Idempotency-Key`: the first answer is stored in the unit that made it;
//! the same key and request replay it; the same key with another request is refused.
//!
//! Invariants:
//! - The lookup, the write and the stored answer are one writer unit ([`once`]): two
//!   requests racing under one key are serialized by the writer, so the second replays.
//! - A key is scoped (per order, per shopper…) and kept [`KEEP_MS`]; the request is known
//!   by its hash ([`crate::http::idempotency::request_hash`]).

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use rusqlite::{params, OptionalExtension};

use super::writer::WriteTx;

/// Keys are kept this long (the contract promises at least 24 hours).
pub const KEEP_MS: i64 = 48 * 3600 * 1000;

/// A key's request, in its scope.
#[derive(Debug, Clone, Copy)]
pub struct Keyed<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub hash: &'a [u8],
}

/// What a keyed write answers.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// the stored answer of an earlier request under the key
    pub replayed: bool,
}

impl Answer {
    /// The JSON answer, marked `Idempotent-Replayed: true` when replayed.
    pub fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut resp = crate::http::respond::private_json(status, self.body);
        if self.replayed {
            resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        resp
    }
}

/// Runs `write` once per key in the writer unit `tx`: without a key it simply runs; with
/// one it replays the answer stored under it for the same request, is `reused()` for
/// another, and otherwise runs `write` and stores its answer in the same unit.
pub fn once<E: From<rusqlite::Error>>(
    tx: &WriteTx,
    keyed: Option<Keyed<'_>>,
    now: i64,
    reused: impl FnOnce() -> E,
    write: impl FnOnce() -> Result<(u16, Vec<u8>), E>,
) -> Result<Answer, E> {
    if let Some(k) = keyed {
        let stored: Option<(Vec<u8>, u16, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT request_hash, status, response FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![k.scope, k.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((hash, status, body)) = stored {
            if hash != k.hash {
                return Err(reused());
            }
            return Ok(Answer { status, body, replayed: true });
        }
    }
    let (status, body) = write()?;
    if let Some(k) = keyed {
        tx.prepare_cached(
            "INSERT INTO idempotency_keys(scope, key, request_hash, status, response, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![k.scope, k.key, k.hash, status, body, now])?;
    }
    Ok(Answer { status, body, replayed: false })
}

/// Forgets the keys older than [`KEEP_MS`].
pub fn purge(tx: &WriteTx, now: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?.execute([now - KEEP_MS])
}
