//! API tokens for `POST /api/say`, in v0.5.0's `api_tokens` table.
//!
//! v0.5.0 stored tokens in plain text. New tokens are stored as
//! `sha256:<hex digest>`, so a copy of the database gives nobody a working
//! token; a v0.5.0 file's plain-text rows keep working, so its clients do not
//! break. A presented token is compared, in constant time, against every
//! row that is not revoked, both as its digest and as itself: how long a
//! check takes says nothing about how much of a guess was right. The table
//! is small (one row per client), so reading it whole is cheap.
//!
//! Tokens are never logged; `rosey token list` shows a fingerprint (the
//! first 12 hex digits of the digest), which `rosey token revoke` accepts too.

use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::StoreError;
use super::{SqliteStore, UnixSeconds};

/// How a stored digest starts.
const HASHED: &str = "sha256:";

/// Hex digits of the digest shown as a token's fingerprint.
const FINGERPRINT_LEN: usize = 12;

/// Random bytes in a new token (256 bits), written as 64 hex digits after `rosey_`.
const TOKEN_BYTES: usize = 32;

/// A token as `rosey token list` shows it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub fingerprint: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub last_used: Option<i64>,
    pub revoked: bool,
    /// A v0.5.0 row, stored in plain text.
    pub plain_text: bool,
}

/// What a token check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// The token is valid; `key` is its row's `token` column.
    Valid { key: String },
    /// No such token, or it was revoked (the caller answers both alike).
    Refused,
}

/// `sha256:<hex>` of `token`.
fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(HASHED.len() + 64);
    hex.push_str(HASHED);
    for byte in hash {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The fingerprint of a stored row (a digest's head; a plain token's digest's head).
fn fingerprint(stored: &str) -> String {
    let hashed = if stored.starts_with(HASHED) { stored.to_string() } else { digest(stored) };
    hashed[HASHED.len()..HASHED.len() + FINGERPRINT_LEN].to_string()
}

fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; TOKEN_BYTES];
    // ThreadRng is a CSPRNG seeded from the operating system.
    rand::rng().fill_bytes(&mut bytes);
    let mut token = String::from("rosey_");
    for byte in bytes {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

/// Checks `presented` against the table with `conn` (the page's read-only
/// connection will do: checking writes nothing).
///
/// # Errors
/// When the table cannot be read.
pub fn check_token(conn: &Connection, presented: &str) -> Result<TokenCheck, rusqlite::Error> {
    let presented_digest = digest(presented);
    let mut stmt = conn.prepare_cached("SELECT token FROM api_tokens WHERE COALESCE(revoked, 0) = 0")?;
    let stored: Vec<String> = stmt.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
    let mut found = None;
    for key in stored {
        let candidate = if key.starts_with(HASHED) { &presented_digest } else { presented };
        // Both comparisons' costs depend on lengths only, never on contents.
        let equal: bool = candidate.as_bytes().ct_eq(key.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(key);
        }
    }
    Ok(found.map_or(TokenCheck::Refused, |key| TokenCheck::Valid { key }))
}

impl SqliteStore {
    /// Creates a token and returns it: the only time it is ever shown.
    ///
    /// # Errors
    /// When the row cannot be written.
    pub fn create_api_token(&mut self, description: Option<&str>, now: UnixSeconds) -> Result<String, StoreError> {
        let token = new_token();
        let stored = digest(&token);
        self.write(|conn| {
            conn.execute(
                "INSERT INTO api_tokens (token, description, created_at, revoked) VALUES (?1, ?2, ?3, 0)",
                (&stored, description, now),
            )?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Every token, oldest first.
    pub fn list_api_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT token, description, created_at, last_used, COALESCE(revoked, 0)
                 FROM api_tokens ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([], |row| {
                let stored: String = row.get(0)?;
                Ok(TokenInfo {
                    fingerprint: fingerprint(&stored),
                    plain_text: !stored.starts_with(HASHED),
                    description: row.get(1)?,
                    created_at: row.get(2)?,
                    last_used: row.get(3)?,
                    revoked: row.get::<_, i64>(4)? != 0,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Revokes the token given as itself or as its fingerprint; returns how
    /// many rows that revoked (0: no such token; a fingerprint names one row).
    pub fn revoke_api_token(&mut self, token_or_fingerprint: &str) -> Result<usize, StoreError> {
        let wanted = token_or_fingerprint.trim();
        let keys: Vec<String> = self.read(|conn| {
            let mut stmt = conn.prepare("SELECT token FROM api_tokens")?;
            let keys = stmt.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(keys)
        })?;
        let by_token: Vec<&String> = keys.iter().filter(|key| **key == digest(wanted) || *key == wanted).collect();
        let matches: Vec<&String> = if by_token.is_empty() && wanted.len() >= FINGERPRINT_LEN {
            keys.iter().filter(|key| fingerprint(key) == wanted).collect()
        } else {
            by_token
        };
        if matches.len() != 1 {
            return Ok(0);
        }
        let key = matches[0].clone();
        self.write(|conn| Ok(conn.execute("UPDATE api_tokens SET revoked = 1 WHERE token = ?1", [&key])?))
    }

    /// Records that the token stored as `key` was used at `now`.
    pub fn touch_api_token(&mut self, key: &str, now: UnixSeconds) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute("UPDATE api_tokens SET last_used = ?2 WHERE token = ?1", (key, now))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_new_token_is_stored_hashed_and_checks() -> TestResult {
        let mut store = SqliteStore::open_in_memory(10)?;
        let token = store.create_api_token(Some("ci"), 10)?;
        assert!(token.starts_with("rosey_") && token.len() == 6 + 64, "{token}");
        let check = store.read(|conn| Ok(check_token(conn, &token)?))?;
        let TokenCheck::Valid { key } = check else { panic!("refused: {check:?}") };
        assert_eq!(key, digest(&token));
        assert!(!key.contains(&token[6..]), "the token itself is not stored");
        assert_eq!(store.read(|conn| Ok(check_token(conn, "rosey_wrong")?))?, TokenCheck::Refused);
        let listed = store.list_api_tokens()?;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].description.as_deref(), Some("ci"));
        assert!(!listed[0].plain_text);
        Ok(())
    }

    #[test]
    fn a_v05_plain_token_keeps_working_until_revoked() -> TestResult {
        let mut store = SqliteStore::open_in_memory(10)?;
        store.write(|conn| {
            conn.execute("INSERT INTO api_tokens (token, description, created_at) VALUES ('t0k', 'web', 1)", [])?;
            Ok(())
        })?;
        let check = store.read(|conn| Ok(check_token(conn, "t0k")?))?;
        assert_eq!(check, TokenCheck::Valid { key: "t0k".into() });
        assert!(store.list_api_tokens()?[0].plain_text);
        assert_eq!(store.revoke_api_token("t0k")?, 1);
        assert_eq!(store.read(|conn| Ok(check_token(conn, "t0k")?))?, TokenCheck::Refused);
        Ok(())
    }

    #[test]
    fn revoke_by_fingerprint_and_unknown_tokens() -> TestResult {
        let mut store = SqliteStore::open_in_memory(10)?;
        let token = store.create_api_token(None, 10)?;
        assert_eq!(store.revoke_api_token("no-such-token")?, 0);
        let fingerprint = store.list_api_tokens()?[0].fingerprint.clone();
        assert_eq!(store.revoke_api_token(&fingerprint)?, 1);
        assert!(store.list_api_tokens()?[0].revoked);
        assert_eq!(store.read(|conn| Ok(check_token(conn, &token)?))?, TokenCheck::Refused);
        Ok(())
    }
}
