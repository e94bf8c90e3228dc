//! The PostgreSQL store: the same operations, semantics and transactions as the SQLite
//! store (contract section 5), on a server several db-services can share.
//!
//! # Layout
//! - `worker`: the blocking client on its own thread (it cannot run on a tokio thread).
//! - `schema`: the DDL in PostgreSQL's types, `rosey_schema`'s version, creation at start.
//! - `sql`: the statements, one per SQLite statement.
//! - `status`: status values converted as SQLite's column affinity would store them.
//! - `copy`: snapshots for `rosey migrate`, read and absorbed.
//! - `dump`: the whole database in [`DbDump`]'s format, comparable with an SQLite dump.
//!
//! # Transactions
//! As on SQLite: outside a batch each operation is its own transaction; inside one
//! ([`PgStore::begin_batch`] to [`PgStore::commit_batch`]) each runs in a savepoint, so a
//! failed operation is rolled back whole and the batch goes on. A lost connection loses the
//! open batch (the server rolls it back) and every later operation fails with
//! [`StoreErrorKind::PostgresUnavailable`] until the store is opened again.
//!
//! Chat lines inside a batch are held back and written together, as on SQLite (`pending`).
//!
//! # Where it differs
//! PostgreSQL's columns are
//! typed, so a status value SQLite would have kept as text in a number column is refused
//! ([`StoreErrorKind::UntypedStatusValue`]). PostgreSQL's text cannot hold a NUL character
//! (SQLite's can): a NUL in any text is stored as U+FFFD, the replacement character, so
//! the line is kept, and the same name maps to the same user every time ([`pg_text`]).

mod copy;
mod dump;
mod pending;
mod schema;
mod sql;
mod status;
mod worker;

use std::cell::{Cell, RefCell};

use serde_json::{Map, Value};

use super::chat::{is_chat, RETENTION_SECS};
use super::error::{StoreError, StoreErrorKind};
use super::location::PostgresUrl;
use super::outbound::backoff_over;
use super::{DbDump, OutboundMessage, RecentChat, UnixSeconds};
use worker::{Conn, Worker};

/// A connection to a rosey database on a PostgreSQL server, its schema created or checked.
pub struct PgStore {
    worker: Worker,
    /// The server, password removed, for error messages.
    server: String,
    /// Whether a batch transaction is open on the connection. `Cell`s, as on SQLite:
    /// reads (`&self`) write the held lines first, and that can lose the batch.
    batch_open: Cell<bool>,
    /// Whether the open batch's transaction has begun on the server: `BEGIN` goes out with
    /// the batch's first write, so a batch that only reads (a poll) costs no round trips
    /// of its own.
    tx_begun: Cell<bool>,
    /// The open batch's held chat lines (see `pending`).
    pending: RefCell<pending::PendingChat>,
    /// Whether this session holds the writer's lease (see `store::lease`).
    leading: bool,
}

/// The advisory lock key of the writer's lease ("rosey_le"); advisory locks are per
/// database, so each rosey database has its own.
const LEASE_KEY: i64 = 0x726f_7365_795f_6c65;

impl PgStore {
    /// Connects to `url` and creates the schema, or checks and upgrades it; `now` stamps the
    /// singleton rows a new database starts with.
    pub fn connect(url: &PostgresUrl, now: UnixSeconds) -> Result<PgStore, StoreError> {
        let server = url.to_string();
        let worker = Worker::connect(url.secret()).map_err(|err| err.on_server(&server))?;
        let store = PgStore {
            worker,
            server,
            batch_open: Cell::new(false),
            tx_begun: Cell::new(false),
            pending: RefCell::default(),
            leading: false,
        };
        store.worker.run(move |conn| schema::migrate(&mut conn.client, now)).map_err(|err| store.here(err))?;
        Ok(store)
    }

    /// Takes the writer's lease (a session advisory lock) if no other session holds it.
    pub fn try_lead(&mut self) -> Result<bool, StoreError> {
        if self.leading {
            return Ok(true);
        }
        self.leading = self.read(|conn| {
            let row = conn.client.query_one("SELECT pg_try_advisory_lock($1)", &[&LEASE_KEY])?;
            Ok(row.get::<_, bool>(0))
        })?;
        Ok(self.leading)
    }

    /// Gives the lease up.
    pub fn step_down(&mut self) {
        if std::mem::take(&mut self.leading) {
            let released = self.read(|conn| conn.client.execute("SELECT pg_advisory_unlock($1)", &[&LEASE_KEY]));
            if let Err(err) = released {
                tracing::warn!(error = %err, "cannot release the lease (the server drops it with the session)");
            }
        }
    }

    /// Whether the connection is gone (and with it any lease and open batch).
    pub fn is_lost(&self) -> bool {
        self.worker.run(|conn| Ok(conn.client.is_closed())).unwrap_or(true)
    }

    /// The schema version recorded in `rosey_schema`.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.worker.run(|conn| Ok(schema::version(&mut conn.client)?.unwrap_or(0))).map_err(|err| self.here(err))
    }

    /// Opens a group-commit batch; does nothing when one is open.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch_open.get() {
            return Ok(());
        }
        self.batch_open.set(true);
        self.tx_begun.set(false);
        // Another process may have changed the database since our last transaction.
        self.forget_oldest();
        Ok(())
    }

    /// Commits the open batch; does nothing when none is open. On failure the batch is
    /// rolled back whole and closed.
    pub fn commit_batch(&mut self) -> Result<(), StoreError> {
        self.flush_pending();
        if !self.batch_open.get() {
            return Ok(());
        }
        self.batch_open.set(false);
        self.forget_oldest();
        if !self.tx_begun.replace(false) {
            return Ok(());
        }
        self.worker
            .run(|conn| {
                let committed = conn.client.batch_execute("COMMIT").map_err(StoreError::postgres);
                if committed.is_err() {
                    let _ = conn.client.batch_execute("ROLLBACK");
                }
                committed
            })
            .map_err(|err| self.here(err))
    }

    /// Rolls the open batch back whole and closes it.
    pub fn abort_batch(&mut self) {
        self.discard_pending();
        if !self.batch_open.get() {
            return;
        }
        self.batch_open.set(false);
        if !self.tx_begun.replace(false) {
            return;
        }
        if let Err(err) = self.worker.run(|conn| conn.client.batch_execute("ROLLBACK").map_err(StoreError::postgres)) {
            tracing::warn!(error = %self.here(err), "rollback failed");
        }
    }

    /// Whether a batch is open.
    pub fn in_batch(&self) -> bool {
        self.batch_open.get()
    }

    /// Runs one writing operation atomically, after the held chat lines: its own
    /// transaction outside a batch, a savepoint inside one. On failure nothing of it stays;
    /// when the connection itself failed, the open batch is gone with it.
    fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.flush_pending();
        self.write_outbound(op)
    }

    /// [`PgStore::write`] for the outbound queue, whose tables chat lines never touch:
    /// held lines need not be written first (a poll behind a chat burst does not pay).
    fn write_outbound<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let in_batch = self.batch_open.get();
        let begin = self.begins_batch();
        let (result, batch_lost) = self.worker.run(move |conn| Ok(atomically(conn, in_batch, begin, op)))?;
        self.began(begin, batch_lost);
        if result.is_err() {
            // What the savepoint undid may have held older lines than we know of.
            self.forget_oldest();
        }
        if batch_lost && self.batch_open.get() {
            tracing::warn!(server = %self.server, "PostgreSQL aborted the open batch; its earlier operations are lost");
            self.batch_open.set(false);
            self.discard_pending();
        }
        result.map_err(|err| self.here(StoreError::postgres(err)))
    }

    /// Whether the next write must begin the open batch's transaction first.
    fn begins_batch(&self) -> bool {
        self.batch_open.get() && !self.tx_begun.get()
    }

    /// Notes that a write that had to begin the batch's transaction did (unless the
    /// batch was lost on the way).
    fn began(&self, begin: bool, batch_lost: bool) {
        if begin && !batch_lost {
            self.tx_begun.set(true);
        }
    }

    /// Runs a reading operation after writing the held chat lines; inside a batch it sees
    /// the batch's writes.
    fn read<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.flush_pending();
        self.read_outbound(op)
    }

    /// [`PgStore::read`] without writing the held lines (as [`PgStore::write_outbound`]).
    fn read_outbound<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.worker.run(move |conn| op(conn).map_err(StoreError::postgres)).map_err(|err| self.here(err))
    }

    fn here(&self, err: StoreError) -> StoreError {
        err.on_server(&self.server)
    }

    /// See [`super::SqliteStore::user_joined`].
    pub fn user_joined(&mut self, username: &str, now: UnixSeconds) -> Result<(), StoreError> {
        if username.is_empty() {
            return Ok(());
        }
        let username = pg_text(username);
        self.write(move |conn| {
            let statement = conn.statement(sql::JOIN)?;
            conn.client.execute(&statement, &[&username, &now]).map(drop)
        })
    }

    /// See [`super::SqliteStore::user_left`].
    pub fn user_left(&mut self, username: &str, now: UnixSeconds) -> Result<(), StoreError> {
        let username = pg_text(username);
        self.write(move |conn| {
            let statement = conn.statement(sql::LEAVE)?;
            conn.client.execute(&statement, &[&username, &now]).map(drop)
        })
    }

    /// See [`super::SqliteStore::close`].
    pub fn close(&mut self, now: UnixSeconds) -> Result<(), StoreError> {
        self.write(move |conn| {
            let statement = conn.statement(sql::CLOSE_ALL)?;
            conn.client.execute(&statement, &[&now]).map(drop)
        })?;
        self.commit_batch()
    }

    /// See [`super::SqliteStore::user_chat_message`].
    pub fn user_chat_message(&mut self, username: &str, message: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        if !is_chat(username, message) {
            return Ok(false);
        }
        let (username, message) = (pg_text(username), pg_text(message));
        if self.batch_open.get() {
            if self.hold_line(username.clone(), message.clone(), now) {
                return Ok(true);
            }
        } else {
            // Between transactions another process may have written older lines.
            self.forget_oldest();
        }
        let cutoff = now.saturating_sub(RETENTION_SECS);
        // The DELETE runs only when it can remove something: prepared once, it plans for
        // any cutoff and scans the table.
        let expires = self.oldest_line().is_none_or(|oldest| oldest.is_some_and(|oldest| oldest < cutoff));
        let written = self.write(move |conn| {
            let upsert = conn.statement(sql::UPSERT_CHATTER)?;
            conn.client.execute(&upsert, &[&username, &now])?;
            let insert = conn.statement(sql::INSERT_LINE)?;
            conn.client.execute(&insert, &[&now, &username, &message])?;
            if expires {
                let expire = conn.statement(sql::EXPIRE)?;
                conn.client.execute(&expire, &[&cutoff])?;
            }
            Ok(true)
        });
        // Its DELETE may have removed the oldest lines.
        self.forget_oldest();
        written
    }

    /// See [`super::SqliteStore::recent_chat`].
    pub fn recent_chat(&self, limit: i64) -> Result<Vec<RecentChat>, StoreError> {
        let limit = limit.max(0);
        self.read(move |conn| {
            let statement = conn.statement(sql::RECENT)?;
            let rows = conn.client.query(&statement, &[&limit])?;
            Ok(rows
                .iter()
                .map(|row| RecentChat { timestamp: row.get(0), username: row.get(1), message: row.get(2) })
                .collect())
        })
    }

    /// See [`super::SqliteStore::log_user_count`].
    pub fn log_user_count(
        &mut self,
        chat_users: i64,
        connected_users: i64,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let statement = conn.statement(sql::LOG_COUNT)?;
            conn.client.execute(&statement, &[&now, &chat_users, &connected_users]).map(drop)
        })
    }

    /// See [`super::SqliteStore::update_high_water_mark`].
    pub fn update_high_water_mark(
        &mut self,
        chat_count: i64,
        connected_count: Option<i64>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let statement = conn.statement(sql::HIGH_WATER)?;
            conn.client.execute(&statement, &[&chat_count, &connected_count, &now]).map(drop)
        })
    }

    /// See [`super::SqliteStore::update_current_status`].
    pub fn update_current_status(&mut self, fields: &Map<String, Value>, now: UnixSeconds) -> Result<bool, StoreError> {
        let Some(update) = status::StatusUpdate::from_fields(fields, now).map_err(|err| self.here(err))? else {
            return Ok(false);
        };
        self.write(move |conn| {
            let statement = conn.statement(&update.sql)?;
            conn.client.execute(&statement, &update.params()).map(|_| true)
        })
    }

    /// See [`super::SqliteStore::enqueue_outbound_message`].
    pub fn enqueue_outbound_message(&mut self, message: &str, now: UnixSeconds) -> Result<i64, StoreError> {
        if message.is_empty() {
            return Err(self.here(StoreError::new(StoreErrorKind::EmptyMessage)));
        }
        let message = pg_text(message);
        self.write_outbound(move |conn| {
            let statement = conn.statement(sql::ENQUEUE)?;
            Ok(conn.client.query_one(&statement, &[&now, &message])?.get(0))
        })
    }

    /// See [`super::SqliteStore::enqueue_outbound_message_once`].
    pub fn enqueue_outbound_message_once(
        &mut self,
        request_id: &str,
        message: &str,
        now: UnixSeconds,
    ) -> Result<i64, StoreError> {
        if message.is_empty() {
            return Err(self.here(StoreError::new(StoreErrorKind::EmptyMessage)));
        }
        let (request_id, message) = (pg_text(request_id), pg_text(message));
        self.write_outbound(move |conn| {
            let known = conn.statement(sql::KNOWN_REQUEST)?;
            if let Some(row) = conn.client.query_opt(&known, &[&request_id])? {
                return Ok(row.get(0));
            }
            let enqueue = conn.statement(sql::ENQUEUE)?;
            let id: i64 = conn.client.query_one(&enqueue, &[&now, &message])?.get(0);
            let record = conn.statement(sql::RECORD_REQUEST)?;
            conn.client.execute(&record, &[&request_id, &id])?;
            Ok(id)
        })
    }

    /// See [`super::SqliteStore::get_unsent_outbound_messages`].
    pub fn get_unsent_outbound_messages(
        &self,
        limit: i64,
        max_retries: i64,
        now: UnixSeconds,
    ) -> Result<Vec<OutboundMessage>, StoreError> {
        let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read_outbound(move |conn| {
            let statement = conn.statement(sql::CANDIDATES)?;
            let rows = conn.client.query(&statement, &[&max_retries])?;
            Ok(rows
                .iter()
                .map(|row| OutboundMessage {
                    id: row.get(0),
                    timestamp: row.get(1),
                    message: row.get(2),
                    retry_count: row.get(3),
                    last_error: row.get(4),
                })
                .filter(|msg| backoff_over(msg.timestamp, msg.retry_count, now))
                .take(limit)
                .collect())
        })
    }

    /// See [`super::SqliteStore::mark_outbound_sent`].
    pub fn mark_outbound_sent(&mut self, id: i64, now: UnixSeconds) -> Result<bool, StoreError> {
        self.write_outbound(move |conn| {
            let statement = conn.statement(sql::MARK_SENT)?;
            Ok(conn.client.execute(&statement, &[&id, &now])? > 0)
        })
    }

    /// See [`super::SqliteStore::mark_outbound_failed`].
    pub fn mark_outbound_failed(
        &mut self,
        id: i64,
        error: &str,
        permanent: bool,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let error = pg_text(error);
        self.write_outbound(move |conn| {
            let changed = if permanent {
                let statement = conn.statement(sql::MARK_FAILED_PERMANENT)?;
                conn.client.execute(&statement, &[&id, &error, &now])?
            } else {
                let statement = conn.statement(sql::MARK_FAILED_TRANSIENT)?;
                conn.client.execute(&statement, &[&id, &error])?
            };
            Ok(changed > 0)
        })
    }

    /// See [`super::SqliteStore::applied_stream_seq`].
    pub fn applied_stream_seq(&self, stream: &str) -> Result<u64, StoreError> {
        let stream = stream.to_owned();
        self.read(move |conn| {
            let statement = conn.statement(sql::APPLIED)?;
            let seq: Option<i64> = conn.client.query_opt(&statement, &[&stream])?.map(|row| row.get(0));
            Ok(seq.map_or(0, |seq| u64::try_from(seq).unwrap_or(0)))
        })
    }

    /// See [`super::SqliteStore::record_applied_seq`].
    pub fn record_applied_seq(&mut self, stream: &str, seq: u64) -> Result<(), StoreError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let stream = stream.to_owned();
        self.write(move |conn| {
            let statement = conn.statement(sql::RECORD_APPLIED)?;
            conn.client.execute(&statement, &[&stream, &seq]).map(drop)
        })
    }

    /// See [`super::SqliteStore::dump`].
    pub fn dump(&self) -> Result<DbDump, StoreError> {
        self.flush_pending();
        let in_transaction = self.batch_open.get() && self.tx_begun.get();
        self.read_outbound(move |conn| dump::dump(&mut conn.client, in_transaction))
    }
}

/// `text` as PostgreSQL can store it: NUL (which its text type refuses) becomes U+FFFD.
pub(crate) fn pg_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// Runs `op` in a savepoint (inside a batch, whose transaction it begins first when
/// `begin`) or its own transaction; returns its result and whether the batch was lost on
/// the way.
fn atomically<T>(
    conn: &mut Conn,
    in_batch: bool,
    begin: bool,
    op: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>,
) -> (Result<T, postgres::Error>, bool) {
    if begin {
        if let Err(err) = conn.client.batch_execute("BEGIN") {
            return (Err(err), true);
        }
    }
    let (begin, end, undo) = if in_batch {
        (
            "SAVEPOINT rosey_op",
            "RELEASE SAVEPOINT rosey_op",
            "ROLLBACK TO SAVEPOINT rosey_op; RELEASE SAVEPOINT rosey_op",
        )
    } else {
        ("BEGIN", "COMMIT", "ROLLBACK")
    };
    if let Err(err) = conn.client.batch_execute(begin) {
        return (Err(err), in_batch);
    }
    match op(conn).and_then(|value| conn.client.batch_execute(end).map(|()| value)) {
        Ok(value) => (Ok(value), false),
        Err(err) => {
            let undone = conn.client.batch_execute(undo).is_ok();
            if !undone && in_batch {
                let _ = conn.client.batch_execute("ROLLBACK");
            }
            (Err(err), in_batch && !undone)
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("server", &self.server)
            .field("batch_open", &self.batch_open.get())
            .finish_non_exhaustive()
    }
}
