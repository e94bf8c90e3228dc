//! The schema: v0.5.0's eight tables, with their names, columns, indexes, defaults and
//! CHECKs kept exactly, so v0.5.0 tools still read our files and we read theirs.
//!
//! One object is ours, not v0.5.0's: `idx_recent_chat_timestamp_id`, which serves
//! `recent_chat.get`'s `ORDER BY timestamp DESC, id DESC` without a sort (v0.5.0's
//! `timestamp DESC` index breaks ties by ascending rowid, so it cannot) and the retention's
//! `MIN(timestamp)`. An index is invisible to v0.5.0's queries, so its files stay theirs.
//!
//! Columns that an upgrade adds with `ALTER TABLE` land at the end of their table; [`TABLES`]
//! holds the canonical order, which [`crate::store::DbDump`] uses so an upgraded file dumps
//! like a fresh one.

/// One table of the schema, as the dump and the upgrade check see it.
pub(super) struct Table {
    /// The table's name.
    pub(super) name: &'static str,
    /// The primary-key column, which orders rows in a dump.
    pub(super) key: &'static str,
    /// Every column, in declaration order.
    pub(super) columns: &'static [&'static str],
}

/// The eight tables, in schema order.
pub(super) const TABLES: [Table; 8] = [
    Table {
        name: "user_stats",
        key: "username",
        columns: &[
            "username",
            "first_seen",
            "last_seen",
            "total_chat_lines",
            "total_time_connected",
            "current_session_start",
        ],
    },
    Table { name: "user_actions", key: "id", columns: &["id", "timestamp", "username", "action_type", "details"] },
    Table {
        name: "channel_stats",
        key: "id",
        columns: &[
            "id",
            "max_users",
            "max_users_timestamp",
            "max_connected",
            "max_connected_timestamp",
            "last_updated",
        ],
    },
    Table { name: "user_count_history", key: "id", columns: &["id", "timestamp", "chat_users", "connected_users"] },
    Table { name: "recent_chat", key: "id", columns: &["id", "timestamp", "username", "message"] },
    Table {
        name: "current_status",
        key: "id",
        columns: &[
            "id",
            "bot_name",
            "bot_rank",
            "bot_afk",
            "channel_name",
            "current_chat_users",
            "current_connected_users",
            "playlist_items",
            "current_media_title",
            "current_media_duration",
            "bot_start_time",
            "bot_connected",
            "last_updated",
        ],
    },
    Table {
        name: "outbound_messages",
        key: "id",
        columns: &["id", "timestamp", "message", "sent", "sent_timestamp", "retry_count", "last_error"],
    },
    Table {
        name: "api_tokens",
        key: "token",
        columns: &["token", "description", "created_at", "last_used", "revoked"],
    },
];

/// Section 2's DDL. `IF NOT EXISTS` throughout, so the same text creates a new file and
/// fills the gaps of a v0.5.0 one.
pub(super) const DDL: &str = "
CREATE TABLE IF NOT EXISTS user_stats (
    username TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    total_chat_lines INTEGER DEFAULT 0,
    total_time_connected INTEGER DEFAULT 0,
    current_session_start INTEGER
);
CREATE TABLE IF NOT EXISTS user_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,
    username TEXT NOT NULL,
    action_type TEXT NOT NULL,
    details TEXT
);
CREATE TABLE IF NOT EXISTS channel_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    max_users INTEGER DEFAULT 0,
    max_users_timestamp INTEGER,
    max_connected INTEGER DEFAULT 0,
    max_connected_timestamp INTEGER,
    last_updated INTEGER
);
CREATE TABLE IF NOT EXISTS user_count_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,
    chat_users INTEGER NOT NULL,
    connected_users INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_user_count_timestamp ON user_count_history(timestamp);
CREATE TABLE IF NOT EXISTS recent_chat (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,
    username TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_recent_chat_timestamp ON recent_chat(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_recent_chat_timestamp_id ON recent_chat(timestamp DESC, id DESC);
CREATE TABLE IF NOT EXISTS current_status (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    bot_name TEXT,
    bot_rank REAL,
    bot_afk INTEGER DEFAULT 0,
    channel_name TEXT,
    current_chat_users INTEGER DEFAULT 0,
    current_connected_users INTEGER DEFAULT 0,
    playlist_items INTEGER DEFAULT 0,
    current_media_title TEXT,
    current_media_duration INTEGER,
    bot_start_time INTEGER,
    bot_connected INTEGER DEFAULT 0,
    last_updated INTEGER
);
CREATE TABLE IF NOT EXISTS outbound_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,
    message TEXT NOT NULL,
    sent INTEGER DEFAULT 0,
    sent_timestamp INTEGER,
    retry_count INTEGER DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS idx_outbound_sent ON outbound_messages(sent, timestamp);
CREATE TABLE IF NOT EXISTS api_tokens (
    token TEXT PRIMARY KEY,
    description TEXT,
    created_at INTEGER NOT NULL,
    last_used INTEGER,
    revoked INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_api_tokens_revoked ON api_tokens(revoked, token);
";

#[cfg(test)]
mod tests {
    use super::super::migrate::columns_of;
    use super::super::SqliteStore;
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn ddl_creates_the_listed_columns_in_order() -> TestResult {
        let store = SqliteStore::open_in_memory(0)?;
        for table in &TABLES {
            assert_eq!(columns_of(&store.conn, table.name)?, table.columns, "{}", table.name);
        }
        Ok(())
    }

    #[test]
    fn ddl_creates_v05_indexes_and_ours() -> TestResult {
        let store = SqliteStore::open_in_memory(0)?;
        let indexes: Vec<(String, String)> = store
            .conn
            .prepare(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' \
                 AND name LIKE 'idx_%' ORDER BY name",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let expected = [
            ("idx_api_tokens_revoked", "api_tokens"),
            ("idx_outbound_sent", "outbound_messages"),
            ("idx_recent_chat_timestamp", "recent_chat"),
            ("idx_recent_chat_timestamp_id", "recent_chat"),
            ("idx_user_count_timestamp", "user_count_history"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(i, t)| ((*i).to_owned(), (*t).to_owned())).collect();
        assert_eq!(indexes, expected);
        Ok(())
    }

    /// `recent_chat.get` walks the new index instead of sorting the whole table.
    #[test]
    fn recent_chat_order_uses_the_index_without_a_sort() -> TestResult {
        let store = SqliteStore::open_in_memory(0)?;
        let plan: Vec<String> = store
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id, timestamp, username, message FROM recent_chat \
                 ORDER BY timestamp DESC, id DESC LIMIT 5",
            )?
            .query_map([], |r| r.get(3))?
            .collect::<Result<_, _>>()?;
        let plan = plan.join("; ");
        assert!(plan.contains("idx_recent_chat_timestamp_id"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        Ok(())
    }

    #[test]
    fn singleton_tables_refuse_a_second_row() -> TestResult {
        let store = SqliteStore::open_in_memory(0)?;
        assert!(store.conn.execute("INSERT INTO channel_stats (id) VALUES (2)", []).is_err());
        assert!(store.conn.execute("INSERT INTO current_status (id) VALUES (2)", []).is_err());
        Ok(())
    }
}
