//! The store: v0.5.0's schema and operations, with the defects of section 3 of the
//! contract fixed as its section 5 says, on SQLite (embedded, the default) or PostgreSQL.
//! [`Store`] is the one interface over both; [`SqliteStore`] is the SQLite backend, whose
//! modules are listed here, and `postgres` the PostgreSQL one.
//!
//! # Layout
//! - `backend`: [`Store`], dispatching to the backend [`DbLocation`] names.
//! - `location`: the `db` setting (a path, `sqlite:PATH`, `postgres://...`), never shown
//!   with its password.
//! - `postgres`: the PostgreSQL backend (feature `postgres`).
//! - `schema`: the eight tables and their DDL.
//! - `open`: opening a file or memory, the busy timeout and the journal settings.
//! - `migrate`: creating a new file, upgrading a v0.5.0 file in place.
//! - `sessions`: joins, leaves and [`SqliteStore::close`] (time connected).
//! - `chat`: chat lines, `recent_chat` and its 150 h retention.
//! - `pending`: chat lines a batch holds back and writes together, and their errors.
//! - `stats`: user counts, high-water marks, the bot's current status.
//! - `outbound`: the outbound message queue, its backoff and its marks.
//! - `checkpoint`: WAL checkpoints on their own thread, for the db-service binary.
//! - `copy`: a whole database as a [`Snapshot`], and absorbing one (`rosey migrate`).
//! - `lease`: one applying db-service per database (a lock file; an advisory lock on
//!   PostgreSQL).
//! - `delivery`: the applied JetStream sequence, in the same transaction as the effects.
//! - `dump`: every row of every table as JSON values, for snapshots and comparisons.
//! - `error`: [`StoreError`].
//!
//! # Time
//! The store never reads a clock: every writing operation takes `now` (Unix seconds) from
//! the caller, which is how replay, simulation and the bus's `at_ms` all produce the same
//! database as a direct run.
//!
//! # Transactions
//! Outside a batch every operation is its own `BEGIN IMMEDIATE` transaction. Between
//! [`SqliteStore::begin_batch`] and [`SqliteStore::commit_batch`] operations share one transaction
//! (group commit: one sync for many events) and each runs inside a `SAVEPOINT`, so an
//! operation that fails is rolled back whole while the rest of the batch stays. Chat lines
//! are the exception that makes group commit fast: a batch holds them back and writes them
//! together before anything else touches or reads the database, with the same result and
//! the same one-line-rejected failure; their errors arrive through
//! [`SqliteStore::take_deferred_errors`] (see `pending`).
//! `IMMEDIATE` takes the write lock up front, so two processes sharing a file wait for
//! each other (up to the 5 s busy timeout) instead of failing on a lock upgrade.

mod backend;
mod chat;
mod checkpoint;
mod copy;
mod delivery;
mod dump;
mod error;
mod lease;
mod location;
mod migrate;
mod open;
mod outbound;
mod pending;
#[cfg(feature = "postgres")]
mod postgres;
mod reader;
mod schema;
mod sessions;
mod stats;
mod tokens;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;

use rusqlite::Connection;
use tracing::warn;

pub use backend::Store;
pub use chat::RecentChat;
pub use checkpoint::Checkpointer;
pub use copy::{snapshot_of, Progress, Snapshot, TableCopy};
pub use dump::{DbDump, TableDump};
pub use error::{StoreError, StoreErrorKind};
pub use location::{DbLocation, PostgresUrl};
pub use open::Journal;
pub use outbound::OutboundMessage;
pub use pending::DeferredChatError;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use reader::{ChannelTotals, Chatter, CountSample, OutboundEntry, OutboundState, StoreReader};
pub use tokens::{check_token, TokenCheck, TokenInfo};

/// Seconds since the Unix epoch, as the store writes them.
pub type UnixSeconds = i64;

/// The `PRAGMA user_version` this build writes, and the newest it opens.
///
/// 1: v0.5.0's schema (upgraded in place). 2: plus `idx_recent_chat_timestamp_id`. Each
/// step only adds objects, so a v0.5.0 service still works on a version 2 file.
pub const SCHEMA_VERSION: i64 = 2;

/// A connection to an SQLite rosey database, migrated to [`SCHEMA_VERSION`].
///
/// Dropping a store with a batch open discards that batch, as a crash would: call
/// [`SqliteStore::commit_batch`] (or [`SqliteStore::close`]) first.
pub struct SqliteStore {
    /// The one connection; its statement cache holds the hot-path statements.
    conn: Connection,
    /// The file, for error messages; `None` in memory.
    path: Option<PathBuf>,
    /// Whether a group-commit transaction is open. A `Cell`, like `pending`, because reads
    /// (`&self`) write the held lines first, and that can lose the batch.
    batch_open: Cell<bool>,
    /// The open batch's held chat lines, what it knows of the oldest line, and the lines
    /// it failed to write.
    pending: RefCell<pending::PendingChat>,
    /// The writer's lease, while this store holds it (see `lease`).
    lease: Option<std::fs::File>,
}

impl SqliteStore {
    /// Opens a group-commit batch; does nothing when one is already open.
    ///
    /// The batch holds the write lock until [`SqliteStore::commit_batch`], so keep it short when
    /// other processes share the file.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch_open.get() {
            return Ok(());
        }
        self.exec("BEGIN IMMEDIATE").map_err(|err| self.here(err))?;
        self.batch_open.set(true);
        // Another process may have changed the file since our last transaction.
        self.forget_oldest();
        Ok(())
    }

    /// Commits the open batch; does nothing when none is open.
    ///
    /// Held chat lines are written first; a line that fails then is rejected alone and
    /// reported by [`SqliteStore::take_deferred_errors`].
    ///
    /// # Errors
    /// When the commit fails the whole batch is rolled back and the batch is closed.
    pub fn commit_batch(&mut self) -> Result<(), StoreError> {
        self.flush_pending();
        if !self.batch_open.get() {
            return Ok(());
        }
        self.batch_open.set(false);
        self.forget_oldest();
        self.exec("COMMIT").map_err(|err| {
            self.rollback_if_open();
            self.here(err)
        })
    }

    /// Rolls the open batch back whole and closes it: nothing of it stays.
    pub fn abort_batch(&mut self) {
        self.discard_pending();
        if self.batch_open.get() {
            self.batch_open.set(false);
            self.rollback_if_open();
        }
    }

    /// Whether a batch is open.
    pub fn in_batch(&self) -> bool {
        self.batch_open.get()
    }

    /// Runs one writing operation atomically, after the held chat lines: its own
    /// transaction outside a batch, a savepoint inside one. On failure nothing of it stays.
    fn write<T>(&mut self, op: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.flush_pending();
        self.atomically(op)
    }

    /// [`SqliteStore::write`] for the outbound queue: its tables (`outbound_messages`,
    /// `enqueue_requests`) are never touched by chat lines, so held lines need not be
    /// written first, and a poll behind a burst of chat does not pay for their write.
    fn write_outbound<T>(&mut self, op: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.atomically(op)
    }

    /// [`SqliteStore::read`] for the outbound queue, without writing the held lines (as
    /// [`SqliteStore::write_outbound`]).
    fn read_outbound<T>(&self, op: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        op(&self.conn).map_err(|err| self.here(err))
    }

    /// [`SqliteStore::write`] without writing the held lines first: the flush itself runs here.
    fn atomically<T>(&self, op: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let (begin, end) = if self.batch_open.get() {
            ("SAVEPOINT rosey_op", "RELEASE rosey_op")
        } else {
            ("BEGIN IMMEDIATE", "COMMIT")
        };
        if let Err(err) = self.exec(begin) {
            self.forget_lost_batch();
            return Err(self.here(err));
        }
        let result = op(&self.conn).and_then(|value| {
            self.exec(end)?;
            Ok(value)
        });
        result.map_err(|err| {
            self.undo();
            self.here(err)
        })
    }

    /// Closes the batch if SQLite rolled its transaction back on its own.
    fn forget_lost_batch(&self) {
        if self.batch_open.get() && self.conn.is_autocommit() {
            warn!("SQLite aborted the open batch; its earlier operations are lost");
            self.batch_open.set(false);
            self.discard_pending();
        }
    }

    /// Backs out a failed [`SqliteStore::write`]. Some SQLite failures (disk full, I/O errors)
    /// roll back the whole transaction by themselves; a batch hit by one is lost, and the
    /// store goes back to one transaction per operation.
    fn undo(&self) {
        // What the savepoint undid may have held older lines than we know of.
        self.forget_oldest();
        if self.batch_open.get() {
            let undone = self.exec("ROLLBACK TO rosey_op").and_then(|()| self.exec("RELEASE rosey_op"));
            if undone.is_err() {
                // The savepoint is gone, so the transaction cannot be trusted either.
                warn!("could not roll back a failed operation; the open batch is discarded");
                self.batch_open.set(false);
                self.discard_pending();
                self.rollback_if_open();
            }
            self.forget_lost_batch();
        } else {
            self.rollback_if_open();
        }
    }

    fn rollback_if_open(&self) {
        if !self.conn.is_autocommit() {
            if let Err(err) = self.exec("ROLLBACK") {
                warn!(error = %err, "rollback failed");
            }
        }
    }

    /// Runs a reading operation after writing the held chat lines, so it sees every effect
    /// applied before it; attaches the path to its error.
    fn read<T>(&self, op: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.flush_pending();
        op(&self.conn).map_err(|err| self.here(err))
    }

    /// Runs one statement with no parameters and no rows, through the statement cache.
    fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    fn here(&self, err: StoreError) -> StoreError {
        err.at(self.path.as_deref())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.batch_open.get() {
            warn!("store dropped with a batch open; the batch is discarded");
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("batch_open", &self.batch_open.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn batch_keeps_good_operations_when_one_fails() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.begin_batch()?;
        assert!(store.in_batch());
        store.user_joined("alice", 10)?;
        // A failing multi-statement operation: the trigger aborts its last statement, after
        // user_stats and recent_chat were already written inside its savepoint.
        store.conn.execute_batch(
            "CREATE TEMP TRIGGER boom AFTER DELETE ON recent_chat \
             BEGIN SELECT RAISE(ABORT, 'boom'); END;
             INSERT INTO recent_chat (timestamp, username, message) VALUES (0, 'old', 'x');",
        )?;
        let failed = store.user_chat_message("bob", "hi", 150 * 3600 + 1);
        assert!(failed.is_err());
        assert!(store.in_batch(), "the batch survives a failed operation");
        store.conn.execute_batch("DROP TRIGGER boom")?;
        store.user_chat_message("carol", "hello", 20)?;
        store.commit_batch()?;
        assert!(!store.in_batch());

        let users: Vec<String> = store
            .conn
            .prepare("SELECT username FROM user_stats ORDER BY username")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(users, ["alice", "carol"], "bob's half-applied line is gone");
        let chat: i64 = store.conn.query_row("SELECT COUNT(*) FROM recent_chat", [], |r| r.get(0))?;
        assert_eq!(chat, 2, "the pre-existing row and carol's line");
        Ok(())
    }

    #[test]
    fn failed_operation_outside_batch_leaves_nothing() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.conn.execute_batch(
            "CREATE TEMP TRIGGER boom AFTER INSERT ON recent_chat \
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )?;
        assert!(store.user_chat_message("bob", "hi", 5).is_err());
        let users: i64 = store.conn.query_row("SELECT COUNT(*) FROM user_stats", [], |r| r.get(0))?;
        assert_eq!(users, 0);
        assert!(store.conn.is_autocommit(), "no transaction left open");
        Ok(())
    }

    #[test]
    fn commit_and_begin_are_idempotent() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.commit_batch()?;
        store.begin_batch()?;
        store.begin_batch()?;
        store.log_user_count(1, 2, 3)?;
        store.commit_batch()?;
        store.commit_batch()?;
        assert!(!store.in_batch());
        Ok(())
    }

    #[test]
    fn batch_is_visible_to_another_connection_only_after_commit() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("rosey.db");
        let mut writer = SqliteStore::open(&path, 0)?;
        let reader = SqliteStore::open(&path, 0)?;
        writer.begin_batch()?;
        writer.enqueue_outbound_message("hello", 1)?;
        assert!(reader.get_unsent_outbound_messages(10, 3, 1)?.is_empty());
        writer.commit_batch()?;
        assert_eq!(reader.get_unsent_outbound_messages(10, 3, 1)?.len(), 1);
        Ok(())
    }
}
