//! Chat lines: the per-user line count, the `recent_chat` log and its 150 h retention.
//!
//! This is the hot path under a chat burst. Outside a batch a line is one transaction;
//! inside one it is usually held back and written with the batch's other lines (see
//! `pending`), and otherwise applied alone in its own savepoint.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::{SqliteStore, UnixSeconds};

/// How long `recent_chat` keeps a line: 150 hours, as v0.5.0.
pub(super) const RETENTION_SECS: i64 = 150 * 3600;

/// Counts a line for its user, creating the user (with no session) when unknown.
const UPSERT_USER: &str = "
INSERT INTO user_stats (username, first_seen, last_seen, total_chat_lines)
VALUES (?1, ?2, ?2, 1)
ON CONFLICT (username) DO UPDATE SET
    total_chat_lines = COALESCE(total_chat_lines, 0) + 1,
    last_seen = excluded.last_seen";

const INSERT_LINE: &str = "INSERT INTO recent_chat (timestamp, username, message) VALUES (?1, ?2, ?3)";

const EXPIRE: &str = "DELETE FROM recent_chat WHERE timestamp < ?1";

/// The newest `?1` lines (ties broken by id), handed back oldest first.
const RECENT: &str = "
SELECT timestamp, username, message FROM (
    SELECT id, timestamp, username, message FROM recent_chat
    ORDER BY timestamp DESC, id DESC LIMIT ?1
) ORDER BY timestamp, id";

/// Applies one chat line alone: count, append, expire. Run inside [`SqliteStore::write`]'s
/// transaction or savepoint.
pub(super) fn write_line(conn: &Connection, username: &str, message: &str, now: UnixSeconds) -> Result<(), StoreError> {
    conn.prepare_cached(UPSERT_USER)?.execute((username, now))?;
    conn.prepare_cached(INSERT_LINE)?.execute((now, username, message))?;
    conn.prepare_cached(EXPIRE)?.execute([now.saturating_sub(RETENTION_SECS)])?;
    Ok(())
}

/// One line of `recent_chat`, as the `rosey.db.stats.recent_chat.get` reply carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentChat {
    /// When the line was stored (Unix seconds).
    pub timestamp: i64,
    /// Who said it, exactly as sent.
    pub username: String,
    /// What was said.
    pub message: String,
}

/// Whether a line is chat: a non-empty user that is not a bracketed system name such as
/// `[server]` or `[voteskip]` (v0.5.0 compared against `server` and so stored them), and
/// a non-empty message.
pub(super) fn is_chat(username: &str, message: &str) -> bool {
    let bracketed = username.starts_with('[') && username.ends_with(']');
    !username.is_empty() && !bracketed && !message.is_empty()
}

impl SqliteStore {
    /// Records a chat line at `now`: counts it for `username` (creating the user when
    /// unknown), appends it to `recent_chat` and drops lines older than 150 hours.
    ///
    /// # Returns
    /// `false`, having written nothing, when the line is not chat (see the contract,
    /// section 5: empty or bracketed username, or empty message).
    ///
    /// # Errors
    /// Inside a batch a line may be held back and written later: then this returns
    /// `Ok(true)` and a failure to write it surfaces in [`SqliteStore::take_deferred_errors`].
    pub fn user_chat_message(&mut self, username: &str, message: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        if !is_chat(username, message) {
            return Ok(false);
        }
        if self.in_batch() && self.hold_line(username, message, now) {
            return Ok(true);
        }
        let written = self.write(|conn| write_line(conn, username, message, now));
        // Its DELETE may have removed the oldest lines.
        self.forget_oldest();
        written.map(|()| true)
    }

    /// The newest `limit` lines (ordered by timestamp, then id), oldest first. A negative
    /// limit is taken as 0 (SQLite would read it as "no limit").
    pub fn recent_chat(&self, limit: i64) -> Result<Vec<RecentChat>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(RECENT)?;
            let rows = stmt.query_map([limit.max(0)], |row| {
                Ok(RecentChat { timestamp: row.get(0)?, username: row.get(1)?, message: row.get(2)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn lines(store: &SqliteStore, username: &str) -> rusqlite::Result<Option<(i64, i64, i64)>> {
        let mut stmt =
            store.conn.prepare("SELECT first_seen, last_seen, total_chat_lines FROM user_stats WHERE username = ?1")?;
        let mut rows = stmt.query_map([username], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.next().transpose()
    }

    fn texts(store: &SqliteStore) -> Result<Vec<String>, StoreError> {
        Ok(store.recent_chat(1000)?.into_iter().map(|line| line.message).collect())
    }

    #[test]
    fn chat_from_unknown_user_creates_row_without_session() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        assert!(store.user_chat_message("alice", "hi", 100)?);
        assert_eq!(lines(&store, "alice")?, Some((100, 100, 1)));
        let session: Option<i64> =
            store
                .conn
                .query_row("SELECT current_session_start FROM user_stats WHERE username = 'alice'", [], |r| r.get(0))?;
        assert_eq!(session, None);
        assert!(store.user_chat_message("alice", "again", 120)?);
        assert_eq!(lines(&store, "alice")?, Some((100, 120, 2)));
        Ok(())
    }

    #[test]
    fn chat_from_joined_user_keeps_session() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("bob", 10)?;
        store.user_chat_message("bob", "yo", 20)?;
        let got: (i64, Option<i64>) = store.conn.query_row(
            "SELECT total_chat_lines, current_session_start FROM user_stats WHERE username = 'bob'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!(got, (1, Some(10)));
        Ok(())
    }

    #[test]
    fn bracketed_or_empty_lines_are_not_chat() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        for (user, msg) in [("[server]", "hi"), ("[voteskip]", "x"), ("[x]", "m"), ("[]", "m")] {
            assert!(!store.user_chat_message(user, msg, 5)?, "{user}");
        }
        assert!(!store.user_chat_message("", "hi", 5)?);
        assert!(!store.user_chat_message("alice", "", 5)?);
        let users: i64 = store.conn.query_row("SELECT COUNT(*) FROM user_stats", [], |r| r.get(0))?;
        assert_eq!(users, 0);
        assert!(store.recent_chat(10)?.is_empty());

        assert!(store.user_chat_message("[x", "half open", 6)?);
        assert!(store.user_chat_message("x]", "half closed", 7)?);
        assert!(store.user_chat_message("server", "plain name", 8)?);
        assert_eq!(texts(&store)?, ["half open", "half closed", "plain name"]);
        Ok(())
    }

    #[test]
    fn retention_keeps_exactly_150_hours() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_chat_message("a", "at 1000", 1000)?;
        store.user_chat_message("a", "at 1001", 1001)?;
        store.user_chat_message("a", "now", 1001 + RETENTION_SECS)?;
        assert_eq!(texts(&store)?, ["at 1001", "now"], "1000 is one second too old");
        store.user_chat_message("a", "later", 1002 + RETENTION_SECS)?;
        assert_eq!(texts(&store)?, ["now", "later"]);
        Ok(())
    }

    #[test]
    fn recent_chat_returns_newest_oldest_first_with_id_ties() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_chat_message("a", "one", 10)?;
        store.user_chat_message("b", "two", 20)?;
        store.user_chat_message("c", "three", 20)?;
        store.user_chat_message("d", "four", 20)?;
        let got = store.recent_chat(2)?;
        assert_eq!(
            got,
            [
                RecentChat { timestamp: 20, username: "c".into(), message: "three".into() },
                RecentChat { timestamp: 20, username: "d".into(), message: "four".into() },
            ]
        );
        assert_eq!(texts(&store)?, ["one", "two", "three", "four"]);
        assert!(store.recent_chat(0)?.is_empty());
        assert!(store.recent_chat(-1)?.is_empty(), "negative is not unlimited");
        Ok(())
    }
}
