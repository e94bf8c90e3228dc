//! A read-only view of the database, for the status page.
//!
//! v0.5.0's page opened the database per request and closed it in its
//! teardown, and every close cut the bot's session (defect 9). This reader
//! opens one connection with `SQLITE_OPEN_READ_ONLY` and keeps it for the
//! life of the page: it can neither write, nor migrate, nor checkpoint, nor
//! close anything the db-service holds. In WAL mode its reads see the last
//! commit without blocking the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::StoreError;
use super::RecentChat;
use crate::contract::DEFAULT_MAX_RETRIES;

/// How long a read waits for a lock (only a checkpoint or recovery holds one).
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The newest lines first, like the page shows them.
const RECENT_NEWEST_FIRST: &str = "
SELECT timestamp, username, message FROM recent_chat ORDER BY timestamp DESC, id DESC LIMIT ?1";

const TOP_CHATTERS: &str = "
SELECT username, total_chat_lines, last_seen FROM user_stats
WHERE total_chat_lines > 0 ORDER BY total_chat_lines DESC, username LIMIT ?1";

const HISTORY: &str = "
SELECT timestamp, chat_users, connected_users FROM user_count_history
WHERE timestamp >= ?1 ORDER BY timestamp, id";

const ONLINE: &str = "
SELECT username FROM user_stats WHERE current_session_start IS NOT NULL ORDER BY username LIMIT ?1";

const OUTBOUND: &str = "
SELECT id, timestamp, message, sent, sent_timestamp, retry_count, last_error FROM outbound_messages
ORDER BY id DESC LIMIT ?1";

/// The page's connection.
#[derive(Debug)]
pub struct StoreReader {
    conn: Connection,
    path: PathBuf,
}

/// `channel_stats` and the totals the page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelTotals {
    pub max_users: i64,
    pub max_users_timestamp: Option<i64>,
    pub max_connected: i64,
    pub max_connected_timestamp: Option<i64>,
    /// Users ever seen.
    pub users_seen: i64,
    /// Chat lines ever counted (`user_stats.total_chat_lines` summed).
    pub chat_lines: i64,
    /// Lines kept in `recent_chat` (the last 150 hours).
    pub recent_lines: i64,
}

/// A user by lines said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chatter {
    pub username: String,
    pub chat_lines: i64,
    pub last_seen: i64,
}

/// One `user_count_history` sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountSample {
    pub timestamp: i64,
    pub chat_users: i64,
    pub connected_users: i64,
}

/// Where an outbound message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundState {
    /// Waiting for its first attempt.
    Queued,
    /// Failed transiently; tried again after its backoff.
    Retrying,
    /// Said, and marked so.
    Sent,
    /// Failed for good: a permanent failure, or `max_retries` transient ones.
    Failed,
}

/// One outbound message, with its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundEntry {
    pub id: i64,
    pub timestamp: i64,
    pub message: String,
    pub state: OutboundState,
    pub sent_timestamp: Option<i64>,
    pub retry_count: i64,
    pub last_error: Option<String>,
}

impl StoreReader {
    /// Opens `path` read-only. The file must exist: the page shows a
    /// database, it never creates one.
    ///
    /// # Errors
    /// When the file is missing, not a database, or not readable.
    pub fn open(path: &Path) -> Result<StoreReader, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let opened = Connection::open_with_flags(path, flags).and_then(|conn| {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // Fails here, not on the first request, for a file that is not a database.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get::<_, i64>(0))?;
            Ok(conn)
        });
        let conn = opened.map_err(|err| StoreError::from(err).at(Some(path)))?;
        Ok(StoreReader { conn, path: path.to_path_buf() })
    }

    fn at<T>(&self, result: rusqlite::Result<T>) -> Result<T, StoreError> {
        result.map_err(|err| StoreError::from(err).at(Some(&self.path)))
    }

    /// `current_status` as v0.5.0's `/api/current` showed it: every column by name.
    pub fn current_status(&self) -> Result<Map<String, Value>, StoreError> {
        let read = self.conn.query_row("SELECT * FROM current_status WHERE id = 1", [], |row| {
            let mut fields = Map::new();
            for (index, name) in row.as_ref().column_names().enumerate() {
                fields.insert(name.to_string(), sql_value(row.get_ref(index)?));
            }
            Ok(fields)
        });
        Ok(self.at(read.optional())?.unwrap_or_default())
    }

    pub fn totals(&self) -> Result<ChannelTotals, StoreError> {
        let read = self.conn.query_row(
            "SELECT max_users, max_users_timestamp, max_connected, max_connected_timestamp,
                    (SELECT count(*) FROM user_stats),
                    (SELECT COALESCE(sum(total_chat_lines), 0) FROM user_stats),
                    (SELECT count(*) FROM recent_chat)
             FROM channel_stats WHERE id = 1",
            [],
            |row| {
                Ok(ChannelTotals {
                    max_users: row.get::<_, Option<i64>>(0)?.unwrap_or(0),
                    max_users_timestamp: row.get(1)?,
                    max_connected: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    max_connected_timestamp: row.get(3)?,
                    users_seen: row.get(4)?,
                    chat_lines: row.get(5)?,
                    recent_lines: row.get(6)?,
                })
            },
        );
        self.at(read)
    }

    pub fn top_chatters(&self, limit: i64) -> Result<Vec<Chatter>, StoreError> {
        self.rows(TOP_CHATTERS, limit, |row| {
            Ok(Chatter { username: row.get(0)?, chat_lines: row.get(1)?, last_seen: row.get(2)? })
        })
    }

    /// The connection, for token checks (which only read).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The newest `limit` chat lines, newest first.
    pub fn recent_chat(&self, limit: i64) -> Result<Vec<RecentChat>, StoreError> {
        self.rows(RECENT_NEWEST_FIRST, limit, |row| {
            Ok(RecentChat { timestamp: row.get(0)?, username: row.get(1)?, message: row.get(2)? })
        })
    }

    /// User-count samples taken at or after `since` (Unix seconds), oldest first.
    pub fn history_since(&self, since: i64) -> Result<Vec<CountSample>, StoreError> {
        self.rows(HISTORY, since, |row| {
            Ok(CountSample { timestamp: row.get(0)?, chat_users: row.get(1)?, connected_users: row.get(2)? })
        })
    }

    /// Users with an open session (joined, not yet left), by name.
    pub fn users_online(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        self.rows(ONLINE, limit, |row| row.get(0))
    }

    /// When the newest user-count sample was taken.
    pub fn newest_count_sample(&self) -> Result<Option<i64>, StoreError> {
        let read = self.conn.query_row("SELECT max(timestamp) FROM user_count_history", [], |row| row.get(0));
        self.at(read)
    }

    /// The newest `limit` outbound messages, newest first.
    pub fn outbound(&self, limit: i64) -> Result<Vec<OutboundEntry>, StoreError> {
        self.rows(OUTBOUND, limit, |row| {
            let sent = row.get::<_, Option<i64>>(3)?.unwrap_or(0) != 0;
            let retry_count = row.get::<_, Option<i64>>(5)?.unwrap_or(0);
            let last_error: Option<String> = row.get(6)?;
            let state = match (sent, last_error.is_some()) {
                (true, false) => OutboundState::Sent,
                (true, true) => OutboundState::Failed,
                (false, _) if retry_count >= DEFAULT_MAX_RETRIES => OutboundState::Failed,
                (false, _) if retry_count > 0 => OutboundState::Retrying,
                (false, _) => OutboundState::Queued,
            };
            Ok(OutboundEntry {
                id: row.get(0)?,
                timestamp: row.get(1)?,
                message: row.get(2)?,
                state,
                sent_timestamp: row.get(4)?,
                retry_count,
                last_error,
            })
        })
    }

    fn rows<T>(
        &self,
        sql: &str,
        param: i64,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let read = (|| {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([param.max(0)], map)?;
            rows.collect::<rusqlite::Result<Vec<T>>>()
        })();
        self.at(read)
    }
}

fn sql_value(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(text) => Value::String(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn reads_what_the_store_wrote_and_cannot_write() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bot_data.db");
        let mut store = SqliteStore::open(&path, 100)?;
        store.user_joined("alice", 100)?;
        store.user_chat_message("alice", "hi &lt;b&gt;", 101)?;
        store.enqueue_outbound_message("queued", 102)?;
        let failed = store.enqueue_outbound_message("refused", 103)?;
        store.mark_outbound_failed(failed, "muted", true, 104)?;
        store.log_user_count(3, 5, 105)?;

        let reader = StoreReader::open(&path)?;
        assert_eq!(reader.recent_chat(10)?[0].message, "hi &lt;b&gt;");
        assert_eq!(reader.top_chatters(10)?[0].username, "alice");
        assert_eq!(reader.history_since(0)?.len(), 1);
        let states: Vec<_> = reader.outbound(10)?.into_iter().map(|e| e.state).collect();
        assert_eq!(states, vec![OutboundState::Failed, OutboundState::Queued]);
        assert_eq!(reader.totals()?.users_seen, 1);
        assert!(reader.current_status()?.contains_key("bot_name"));
        let write = reader.conn.execute("DELETE FROM recent_chat", []);
        assert!(write.is_err(), "a read-only connection refused the write");
        Ok(())
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let error = StoreReader::open(Path::new("/nonexistent/bot_data.db")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/bot_data.db"), "{error}");
    }
}
