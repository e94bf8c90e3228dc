//! The one migration, run on every open: it creates a new file, or upgrades a v0.5.0 file
//! (or one of ours at an older version) in place, to [`SCHEMA_VERSION`], and refuses files
//! it must not touch.
//!
//! v0.5.0 never set `user_version`, so version 0 means "new, or written by v0.5.0". Its
//! upgrade is additive only (missing tables and indexes, the four columns older v0.5.0
//! files lack, the two singleton rows), so every existing row survives. Version 1 -> 2 adds
//! one index; the same `IF NOT EXISTS` DDL does it, so every step runs the same code.

use rusqlite::Connection;
use tracing::info;

use super::error::{StoreError, StoreErrorKind};
use super::schema::{DDL, TABLES};
use super::{UnixSeconds, SCHEMA_VERSION};

/// The columns later v0.5.0 releases added with `ALTER TABLE`, in the order they added them.
const LATER_COLUMNS: [(&str, &str, &str); 4] = [
    ("outbound_messages", "retry_count", "INTEGER DEFAULT 0"),
    ("outbound_messages", "last_error", "TEXT"),
    ("channel_stats", "max_connected", "INTEGER DEFAULT 0"),
    ("channel_stats", "max_connected_timestamp", "INTEGER"),
];

/// Reads `PRAGMA user_version`.
pub(super) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Brings the file to [`SCHEMA_VERSION`], or says why it cannot.
///
/// The upgrade runs in one `BEGIN IMMEDIATE` transaction and reads the version again
/// under that lock, so two processes opening one new file at once migrate it once.
pub(super) fn migrate(conn: &Connection, now: UnixSeconds) -> Result<(), StoreError> {
    if check_version(user_version(conn)?)? {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match migrate_locked(conn, now) {
        Ok(()) => conn.execute_batch("COMMIT").map_err(StoreError::from),
        Err(err) => {
            if !conn.is_autocommit() {
                // The original error is the one to report.
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(err)
        }
    }
}

/// `Ok(true)` when the file is current, `Ok(false)` when it needs the migration.
fn check_version(version: i64) -> Result<bool, StoreError> {
    if version > SCHEMA_VERSION {
        return Err(StoreError::new(StoreErrorKind::NewerSchema { found: version, supported: SCHEMA_VERSION }));
    }
    if version < 0 {
        return Err(StoreError::new(StoreErrorKind::ForeignDatabase { detail: format!("user_version {version}") }));
    }
    Ok(version == SCHEMA_VERSION)
}

fn migrate_locked(conn: &Connection, now: UnixSeconds) -> Result<(), StoreError> {
    if check_version(user_version(conn)?)? {
        return Ok(());
    }
    let version = user_version(conn)?;
    let existing = user_tables(conn)?;
    let ours = existing.iter().filter(|name| TABLES.iter().any(|table| table.name == name.as_str())).count();
    if ours == 0 && !existing.is_empty() {
        return Err(StoreError::new(StoreErrorKind::ForeignDatabase {
            detail: format!("its tables are {}", existing.join(", ")),
        }));
    }
    if ours > 0 {
        info!(tables = ours, from = version, to = SCHEMA_VERSION, "upgrading the database in place");
    }
    conn.execute_batch(DDL)?;
    for (table, column, decl) in LATER_COLUMNS {
        if !columns_of(conn, table)?.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    for table in &TABLES {
        let have = columns_of(conn, table.name)?;
        if let Some(missing) = table.columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Err(StoreError::new(StoreErrorKind::ForeignDatabase {
                detail: format!("table {} has no column {missing}", table.name),
            }));
        }
    }
    conn.execute("INSERT OR IGNORE INTO channel_stats (id, max_users, last_updated) VALUES (1, 0, ?1)", [now])?;
    conn.execute("INSERT OR IGNORE INTO current_status (id, last_updated) VALUES (1, ?1)", [now])?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// The names of the file's own tables (SQLite's internal `sqlite_*` tables left out).
fn user_tables(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
         ESCAPE '\\' ORDER BY name",
    )?;
    let names = stmt.query_map([], |row| row.get(0))?;
    Ok(names.collect::<Result<_, _>>()?)
}

/// The columns of `table`, in the file's order.
pub(super) fn columns_of(conn: &Connection, table: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |row| row.get(0))?;
    Ok(names.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::super::SqliteStore;
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// v0.5.0's DDL as an older v0.5.0 release wrote it: without outbound retry_count and
    /// last_error, nor channel_stats max_connected and max_connected_timestamp.
    const OLD_V05: &str = "
        CREATE TABLE user_stats (username TEXT PRIMARY KEY, first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL, total_chat_lines INTEGER DEFAULT 0,
            total_time_connected INTEGER DEFAULT 0, current_session_start INTEGER);
        CREATE TABLE user_actions (id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp INTEGER NOT NULL, username TEXT NOT NULL, action_type TEXT NOT NULL,
            details TEXT);
        CREATE TABLE channel_stats (id INTEGER PRIMARY KEY CHECK (id = 1),
            max_users INTEGER DEFAULT 0, max_users_timestamp INTEGER, last_updated INTEGER);
        CREATE TABLE user_count_history (id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp INTEGER NOT NULL, chat_users INTEGER NOT NULL,
            connected_users INTEGER NOT NULL);
        CREATE INDEX idx_user_count_timestamp ON user_count_history(timestamp);
        CREATE TABLE recent_chat (id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp INTEGER NOT NULL, username TEXT NOT NULL, message TEXT NOT NULL);
        CREATE INDEX idx_recent_chat_timestamp ON recent_chat(timestamp DESC);
        CREATE TABLE current_status (id INTEGER PRIMARY KEY CHECK (id = 1), bot_name TEXT,
            bot_rank REAL, bot_afk INTEGER DEFAULT 0, channel_name TEXT,
            current_chat_users INTEGER DEFAULT 0, current_connected_users INTEGER DEFAULT 0,
            playlist_items INTEGER DEFAULT 0, current_media_title TEXT,
            current_media_duration INTEGER, bot_start_time INTEGER,
            bot_connected INTEGER DEFAULT 0, last_updated INTEGER);
        CREATE TABLE outbound_messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp INTEGER NOT NULL, message TEXT NOT NULL, sent INTEGER DEFAULT 0,
            sent_timestamp INTEGER);
        CREATE INDEX idx_outbound_sent ON outbound_messages(sent, timestamp);
        CREATE TABLE api_tokens (token TEXT PRIMARY KEY, description TEXT,
            created_at INTEGER NOT NULL, last_used INTEGER, revoked INTEGER DEFAULT 0);
        CREATE INDEX idx_api_tokens_revoked ON api_tokens(revoked, token);

        INSERT INTO user_stats VALUES ('alice', 100, 500, 7, 300, 400);
        INSERT INTO user_stats VALUES ('bob', 50, 60, 2, 10, NULL);
        INSERT INTO channel_stats VALUES (1, 5, 200, 210);
        INSERT INTO current_status (id, bot_name, last_updated) VALUES (1, 'rosey', 490);
        INSERT INTO recent_chat (timestamp, username, message) VALUES (450, 'alice', 'old');
        INSERT INTO outbound_messages (timestamp, message) VALUES (480, 'queued');
        INSERT INTO api_tokens (token, description, created_at) VALUES ('t0k', 'web', 1);
    ";

    fn write_file(path: &Path, sql: &str) -> rusqlite::Result<()> {
        Connection::open(path)?.execute_batch(sql)
    }

    fn expect_err(result: Result<SqliteStore, StoreError>) -> Result<StoreError, String> {
        match result {
            Err(err) => Ok(err),
            Ok(store) => Err(format!("opened: {store:?}")),
        }
    }

    #[test]
    fn new_file_gets_schema_and_singletons() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("new.db");
        let store = SqliteStore::open(&path, 77)?;
        assert_eq!(store.schema_version()?, SCHEMA_VERSION);
        let dump = store.dump()?;
        assert_eq!(dump.tables.len(), 8);
        let stats = dump.table("channel_stats").ok_or("no channel_stats")?;
        assert_eq!(stats.rows[0][5], json!(77));
        drop(store);
        let again = SqliteStore::open(&path, 999)?;
        assert_eq!(again.dump()?, dump, "reopening writes nothing");
        Ok(())
    }

    #[test]
    fn old_v05_file_is_upgraded_in_place_keeping_rows() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("v05.db");
        write_file(&path, OLD_V05)?;
        let mut store = SqliteStore::open(&path, 1000)?;
        assert_eq!(store.schema_version()?, SCHEMA_VERSION);

        let dump = store.dump()?;
        let fresh = SqliteStore::open_in_memory(0)?.dump()?;
        for (old, new) in dump.tables.iter().zip(&fresh.tables) {
            assert_eq!(old.columns, new.columns, "{}", old.name);
        }
        let rows = |name: &str| dump.table(name).map(|t| t.rows.clone()).unwrap_or_default();
        assert_eq!(
            rows("channel_stats"),
            [vec![json!(1), json!(5), json!(200), json!(0), json!(null), json!(210)]],
            "the row is kept, not re-inserted, and the added columns take their defaults"
        );
        assert_eq!(
            rows("outbound_messages"),
            [vec![json!(1), json!(480), json!("queued"), json!(0), json!(null), json!(0), json!(null)]]
        );
        assert_eq!(rows("user_stats").len(), 2);
        assert_eq!(rows("recent_chat").len(), 1);
        assert_eq!(rows("api_tokens")[0][0], json!("t0k"));
        assert_eq!(rows("current_status")[0][1], json!("rosey"));

        // The upgraded file takes new operations.
        store.user_left("alice", 1000)?;
        assert!(store.user_chat_message("carol", "new here", 1001)?);
        store.update_high_water_mark(3, Some(9), 1002)?;
        let queued = store.get_unsent_outbound_messages(10, 3, 1003)?;
        assert_eq!(queued.len(), 1);
        assert!(store.mark_outbound_failed(queued[0].id, "not connected", false, 1004)?);
        let dump = store.dump()?;
        let rows = |name: &str| dump.table(name).map(|t| t.rows.clone()).unwrap_or_default();
        assert_eq!(rows("user_stats")[0], [json!("alice"), json!(100), json!(1000), json!(7), json!(900), json!(null)]);
        assert_eq!(rows("channel_stats")[0][3..], [json!(9), json!(1002), json!(1002)]);
        assert_eq!(rows("outbound_messages")[0][5..], [json!(1), json!("not connected")]);
        assert_eq!(rows("recent_chat").len(), 2);
        Ok(())
    }

    /// A file of schema 1 (this project's build before the index) gets the index and keeps
    /// every row: 1 -> 2 is additive.
    #[test]
    fn version_1_file_gets_the_new_index_and_keeps_rows() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("v1.db");
        {
            let mut store = SqliteStore::open(&path, 10)?;
            store.user_chat_message("alice", "kept", 20)?;
        }
        let conn = Connection::open(&path)?;
        conn.execute_batch("DROP INDEX idx_recent_chat_timestamp_id; PRAGMA user_version = 1;")?;
        drop(conn);
        let store = SqliteStore::open(&path, 30)?;
        assert_eq!(store.schema_version()?, SCHEMA_VERSION);
        let index: i64 = store.conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_recent_chat_timestamp_id'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(index, 1);
        assert_eq!(store.recent_chat(10)?.len(), 1);
        let stamped: i64 = store.conn.query_row("SELECT last_updated FROM channel_stats", [], |r| r.get(0))?;
        assert_eq!(stamped, 10, "the singleton rows are kept, not stamped again");
        Ok(())
    }

    #[test]
    fn v05_file_missing_tables_gets_them_and_singletons() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("partial.db");
        write_file(
            &path,
            "CREATE TABLE user_stats (username TEXT PRIMARY KEY, first_seen INTEGER NOT NULL,
                last_seen INTEGER NOT NULL, total_chat_lines INTEGER DEFAULT 0,
                total_time_connected INTEGER DEFAULT 0, current_session_start INTEGER);
             INSERT INTO user_stats VALUES ('alice', 1, 2, 3, 4, NULL);",
        )?;
        let store = SqliteStore::open(&path, 50)?;
        let dump = store.dump()?;
        assert_eq!(dump.table("user_stats").map(|t| t.rows.len()), Some(1));
        assert_eq!(dump.table("channel_stats").map(|t| t.rows.len()), Some(1));
        assert_eq!(dump.table("current_status").map(|t| t.rows.len()), Some(1));
        Ok(())
    }

    #[test]
    fn newer_schema_is_rejected_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("future.db");
        write_file(&path, &format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))?;
        let err = expect_err(SqliteStore::open(&path, 0))?;
        assert_eq!(err.kind(), &StoreErrorKind::NewerSchema { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
        let text = err.to_string();
        assert!(text.contains("future.db") && text.contains("upgrade rosey"), "{text}");
        let tables: i64 = Connection::open(&path)?.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
        assert_eq!(tables, 0);
        Ok(())
    }

    #[test]
    fn foreign_database_is_rejected_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("other.db");
        write_file(&path, "CREATE TABLE recipes (name TEXT);")?;
        let err = expect_err(SqliteStore::open(&path, 0))?;
        assert!(matches!(err.kind(), StoreErrorKind::ForeignDatabase { .. }), "{err}");
        assert!(err.to_string().contains("recipes"), "{err}");
        let conn = Connection::open(&path)?;
        assert_eq!(user_version(&conn)?, 0);
        Ok(())
    }
}
