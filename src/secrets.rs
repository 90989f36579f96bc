//! Secrets at rest. The database travels: replicas, Litestream's copies, backups and
//! archives all hold it. What would let a reader of a copy act as someone — the TOTP secrets
//! of two-factor login, webhook signing secrets, a password-reset mail not yet sent — is
//! stored sealed (ChaCha20-Poly1305, a random nonce per value) with a key that lives outside
//! the database: a file (`secrets_key_file`, by default beside the database, created 0600
//! on first start) that is not replicated or backed up with it. `storefront secrets rotate`
//! seals everything again under a new key.
//!
//! A sealed value is text: `sf1:` and the base64 of nonce and ciphertext. A value without
//! the prefix is a plain one from before sealing; the server seals those at start.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

const PREFIX: &str = "sf1:";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// Seals and opens values with the key of the key file (and, midway through a rotation,
/// the next key too).
pub struct Sealer {
    key: LessSafeKey,
    /// a rotation's next key, while its file exists beside the key (an interrupted
    /// rotation): values sealed with either open
    next: Option<LessSafeKey>,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the secrets key file {0}: {1}")]
    KeyFile(PathBuf, String),
    #[error("a sealed value does not open with the secrets key (another shop's database, or the wrong key file)")]
    WrongKey,
}

impl From<SecretsError> for crate::error::ApiError {
    fn from(e: SecretsError) -> crate::error::ApiError {
        tracing::error!(error = %e, "a sealed secret could not be opened");
        crate::error::ApiError::internal()
    }
}

fn key_of(bytes: &[u8]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key"))
}

fn read_key(path: &Path) -> Result<LessSafeKey, SecretsError> {
    let bad = |why: &str| SecretsError::KeyFile(path.to_owned(), why.to_owned());
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    let bytes = hex_decode(text.trim()).filter(|b| b.len() == 32).ok_or_else(|| bad("not 64 hex digits"))?;
    Ok(key_of(&bytes))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect())
        .flatten()
}

/// Writes a new random key to `path` (which must not exist), readable by its owner only.
fn write_new_key(path: &Path) -> Result<LessSafeKey, SecretsError> {
    let bad = |e: std::io::Error| SecretsError::KeyFile(path.to_owned(), e.to_string());
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let mut file = crate::util::create_private(path).map_err(bad)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    file.write_all(format!("{hex}\n").as_bytes()).map_err(bad)?;
    file.sync_all().map_err(bad)?;
    Ok(key_of(&bytes))
}

/// Where a rotation writes the next key before it re-seals.
fn next_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".next");
    PathBuf::from(p)
}

impl Sealer {
    /// The key at `path`, made (0600) when there is none.
    pub fn load_or_create(path: &Path) -> Result<Sealer, SecretsError> {
        let key = if path.exists() { read_key(path)? } else { write_new_key(path)? };
        let next = next_path(path);
        let next = if next.exists() { Some(read_key(&next)?) } else { None };
        Ok(Sealer { key, next, path: path.to_owned() })
    }

    /// `plain`, sealed.
    pub fn seal(&self, plain: &[u8]) -> String {
        seal_with(&self.key, plain)
    }

    /// A sealed value's plain bytes; a value that was never sealed is returned as it is.
    pub fn open(&self, stored: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let Some(body) = stored.strip_prefix(PREFIX.as_bytes()) else { return Ok(stored.to_vec()) };
        let raw = B64.decode(body).map_err(|_| SecretsError::WrongKey)?;
        for key in std::iter::once(&self.key).chain(self.next.as_ref()) {
            if let Some(plain) = open_with(key, &raw) {
                return Ok(plain);
            }
        }
        Err(SecretsError::WrongKey)
    }

    /// A sealed text's plain text.
    pub fn open_text(&self, stored: &str) -> Result<String, SecretsError> {
        String::from_utf8(self.open(stored.as_bytes())?).map_err(|_| SecretsError::WrongKey)
    }

    /// Whether `stored` is sealed already.
    pub fn is_sealed(stored: &[u8]) -> bool {
        stored.starts_with(PREFIX.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a rotation: writes the next key beside the key and answers a sealer for it.
    /// Values sealed with it open with this sealer too (see [`Sealer::load_or_create`]),
    /// so a rotation interrupted after this point loses nothing.
    pub fn begin_rotation(&self) -> Result<Sealer, SecretsError> {
        let next = next_path(&self.path);
        if next.exists() {
            std::fs::remove_file(&next).map_err(|e| SecretsError::KeyFile(next.clone(), e.to_string()))?;
        }
        let key = write_new_key(&next)?;
        Ok(Sealer { key, next: None, path: self.path.clone() })
    }

    /// Ends a rotation once every value is sealed with the next key: it becomes the key.
    pub fn finish_rotation(&self) -> Result<(), SecretsError> {
        std::fs::rename(next_path(&self.path), &self.path)
            .map_err(|e| SecretsError::KeyFile(self.path.clone(), e.to_string()))
    }
}

fn seal_with(key: &LessSafeKey, plain: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).expect("the operating system's random source is available");
    let mut data = plain.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .expect("sealing a value in memory cannot fail");
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&data);
    format!("{PREFIX}{}", B64.encode(raw))
}

fn open_with(key: &LessSafeKey, raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() < NONCE_LEN {
        return None;
    }
    let (nonce, data) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut data = data.to_vec();
    let plain = key.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
    Some(plain.to_vec())
}

/// Where the columns that hold sealed values are, for sealing plain ones and rotating:
/// `(table, column, rows to take)`.
pub const SEALED: &[(&str, &str, &str)] = &[
    ("two_factor", "secret", "1"),
    ("webhook_subscriptions", "secret", "1"),
    // a reset mail's code, a gift card mail's codes, a payment link, until sent (then the body is blanked;
    // the kinds of mail::SECRET_KINDS)
    ("mail_outbox", "body", concat!("kind IN ", secret_kinds!(), " AND sent_at IS NULL")),
];

/// Seals, in `conn`'s transaction, every value of [`SEALED`] that `open` opens and `seal`
/// seals differently: plain values at start (`open` of a plain value is itself), or every
/// value in a rotation. Answers how many changed.
pub fn reseal(
    conn: &rusqlite::Connection,
    open: &Sealer,
    seal: &Sealer,
    only_plain: bool,
) -> Result<usize, anyhow::Error> {
    let mut n = 0;
    for (table, column, rows) in SEALED {
        let select = format!("SELECT rowid, CAST({column} AS BLOB) FROM {table} WHERE {rows}");
        let values: Vec<(i64, Vec<u8>)> = conn
            .prepare(&select)?
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default())))?
            .collect::<rusqlite::Result<_>>()?;
        let update = format!("UPDATE {table} SET {column} = ?2 WHERE rowid = ?1");
        for (rowid, stored) in values {
            if only_plain && Sealer::is_sealed(&stored) {
                continue;
            }
            let plain = open.open(&stored)?;
            let sealed = seal.seal(&plain);
            // a blob column keeps a blob, a text column text
            if *column == "secret" && *table == "two_factor" {
                conn.execute(&update, rusqlite::params![rowid, sealed.as_bytes()])?;
            } else {
                conn.execute(&update, rusqlite::params![rowid, sealed])?;
            }
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_seal_open_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let s = Sealer::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = s.seal(b"the code 123456");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("123456"));
        assert_ne!(s.seal(b"the code 123456"), sealed, "a nonce per value");
        assert_eq!(s.open(sealed.as_bytes()).unwrap(), b"the code 123456");
        assert_eq!(s.open(b"plain from before").unwrap(), b"plain from before");
        // the same file opens it again; another key does not
        assert_eq!(Sealer::load_or_create(&path).unwrap().open_text(&sealed).unwrap(), "the code 123456");
        let other = Sealer::load_or_create(&dir.path().join("other")).unwrap();
        assert!(matches!(other.open(sealed.as_bytes()), Err(SecretsError::WrongKey)));
        // a rotation: while the next key's file exists, both open
        let next = s.begin_rotation().unwrap();
        let resealed = next.seal(b"the code 123456");
        let midway = Sealer::load_or_create(&path).unwrap();
        assert!(midway.open(sealed.as_bytes()).is_ok() && midway.open(resealed.as_bytes()).is_ok());
        next.finish_rotation().unwrap();
        let after = Sealer::load_or_create(&path).unwrap();
        assert_eq!(after.open_text(&resealed).unwrap(), "the code 123456");
        assert!(after.open(sealed.as_bytes()).is_err(), "the old key is gone");
    }
}
