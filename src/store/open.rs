//! Opening a store: the file (or memory), the busy timeout, the journal settings, and
//! then the migration.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use tracing::warn;

use super::error::StoreError;
use super::{migrate, SqliteStore, UnixSeconds};

/// How long a statement waits for another connection's lock before failing with
/// [`crate::store::StoreErrorKind::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Room in the statement cache for every fixed statement of the store (about 25), the 14
/// multi-row texts of held chat lines (`pending`) and the status-update variants, so the
/// chat path's statements are never evicted (the default holds 16).
const STATEMENT_CACHE: usize = 96;

/// How the file is journaled and synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Journal {
    /// WAL with `synchronous = NORMAL`: a commit appends to the log without an fsync
    /// (a power cut may lose the last commits, never corrupt the file). Our default.
    #[default]
    Wal,
    /// SQLite's defaults, as v0.5.0 ran: rollback journal (`DELETE`), `synchronous = FULL`,
    /// an fsync per commit. For benchmarks against v0.5.0.
    V05Default,
}

impl SqliteStore {
    /// Opens (creating or upgrading) the database at `path` in WAL mode.
    ///
    /// # Errors
    /// A [`StoreError`] that carries the path, of kind (see
    /// [`crate::store::StoreErrorKind`]): `NotADatabase` for a file that is not SQLite,
    /// `NewerSchema` for a file from a newer rosey, `ForeignDatabase` for another
    /// program's database, or SQLite's own failures (`CannotOpen`, `Busy`, `Sqlite`).
    pub fn open(path: &Path, now: UnixSeconds) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, Journal::Wal, now)
    }

    /// Opens the database at `path` with the given journal settings; `now` stamps the
    /// singleton rows of a new file. Errors as [`SqliteStore::open`].
    pub fn open_with(path: &Path, journal: Journal, now: UnixSeconds) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(|err| StoreError::from(err).at(Some(path)))?;
        SqliteStore::setup(conn, Some(path.to_path_buf()), Some(journal), now)
    }

    /// A fresh private database in memory, for tests and dry runs.
    pub fn open_in_memory(now: UnixSeconds) -> Result<SqliteStore, StoreError> {
        SqliteStore::setup(Connection::open_in_memory()?, None, None, now)
    }

    fn setup(
        conn: Connection,
        path: Option<PathBuf>,
        journal: Option<Journal>,
        now: UnixSeconds,
    ) -> Result<SqliteStore, StoreError> {
        let prepared = (|| {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            // A savepoint copies every page it first touches to a sub-journal, a temporary
            // file once it passes 64 KiB: a batch's held chat lines touch hundreds of pages,
            // and writing them to disk was an eighth of a chat line's cost. In memory they
            // are a memcpy; the sub-journal lives only until the savepoint ends.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            if let Some(journal) = journal {
                set_journal(&conn, journal)?;
            }
            migrate::migrate(&conn, now)
        })();
        prepared.map_err(|err| err.at(path.as_deref()))?;
        Ok(SqliteStore { conn, path, batch_open: Cell::new(false), pending: RefCell::default(), lease: None })
    }

    /// Writes a consistent copy of the whole database to a new file at `path`
    /// (SQLite's `VACUUM INTO`): how a simulated run's database, in memory or
    /// in a temporary folder, is kept for the user to open.
    ///
    /// # Errors
    /// When `path` already holds data (SQLite refuses to overwrite it), its
    /// folder is missing, or a batch is open.
    pub fn save_copy(&self, path: &Path) -> Result<(), StoreError> {
        self.flush_pending();
        let target = path.to_string_lossy();
        self.conn.execute("VACUUM INTO ?1", [target.as_ref()]).map_err(|err| StoreError::from(err).at(Some(path)))?;
        Ok(())
    }

    /// The file's `PRAGMA user_version` ([`crate::store::SCHEMA_VERSION`] once opened).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(migrate::user_version)
    }
}

/// Sets the journal mode and sync level. Both are per connection except WAL, which sticks
/// to the file; so `V05Default` sets DELETE explicitly rather than trusting the default.
fn set_journal(conn: &Connection, journal: Journal) -> Result<(), StoreError> {
    let (mode, synchronous) = match journal {
        Journal::Wal => ("WAL", "NORMAL"),
        Journal::V05Default => ("DELETE", "FULL"),
    };
    let got: String = conn.pragma_update_and_check(None, "journal_mode", mode, |row| row.get(0))?;
    if !got.eq_ignore_ascii_case(mode) {
        warn!(wanted = mode, got = %got, "SQLite kept another journal mode");
    }
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::StoreErrorKind;
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn expect_err(result: Result<SqliteStore, StoreError>) -> Result<StoreError, String> {
        match result {
            Err(err) => Ok(err),
            Ok(store) => Err(format!("opened: {store:?}")),
        }
    }

    #[test]
    fn non_sqlite_file_is_rejected_with_its_path() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("notes.txt");
        let text = "these are my notes, not a database\n".repeat(100);
        std::fs::write(&path, &text)?;
        let err = expect_err(SqliteStore::open(&path, 0))?;
        assert_eq!(err.kind(), &StoreErrorKind::NotADatabase);
        assert_eq!(err.path(), Some(path.as_path()));
        let message = err.to_string();
        assert!(message.contains("notes.txt") && message.contains("not an SQLite database"));
        assert_eq!(std::fs::read_to_string(&path)?, text, "file untouched");
        Ok(())
    }

    #[test]
    fn missing_directory_is_cannot_open() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("no/such/dir/rosey.db");
        let err = expect_err(SqliteStore::open(&path, 0))?;
        assert_eq!(err.kind(), &StoreErrorKind::CannotOpen);
        assert!(err.to_string().contains("no/such/dir"), "{err}");
        Ok(())
    }

    #[test]
    fn journal_modes_are_set_as_asked() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("j.db");
        let mode = |store: &SqliteStore| -> rusqlite::Result<(String, i64)> {
            Ok((
                store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                store.conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
            ))
        };
        let store = SqliteStore::open(&path, 0)?;
        assert_eq!(mode(&store)?, ("wal".to_owned(), 1));
        drop(store);
        let store = SqliteStore::open_with(&path, Journal::V05Default, 0)?;
        assert_eq!(mode(&store)?, ("delete".to_owned(), 2));
        Ok(())
    }

    #[test]
    fn two_stores_share_one_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("shared.db");
        let mut first = SqliteStore::open(&path, 0)?;
        let mut second = SqliteStore::open(&path, 0)?;
        first.user_chat_message("alice", "one", 1)?;
        second.user_chat_message("bob", "two", 2)?;
        assert_eq!(first.recent_chat(10)?.len(), 2);
        Ok(())
    }
}
