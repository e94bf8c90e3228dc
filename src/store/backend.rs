//! [`Store`]: one interface over the two backends, SQLite (embedded, the default) and
//! PostgreSQL (a server several hosts share), chosen by the `db` setting's
//! [`DbLocation`].
//!
//! Every operation the bot, the db-service and the harness use is here, with the same
//! meaning on both (contract section 5); each backend's module documents how it gets there
//! and where the two differ. What only SQLite has (a file to checkpoint, copy or read
//! tokens from) is reached through [`Store::as_sqlite`].

use std::path::Path;

use serde_json::{Map, Value};

use super::error::StoreError;
use super::location::DbLocation;
#[cfg(feature = "postgres")]
use super::postgres::PgStore;
use super::{DbDump, DeferredChatError, Journal, OutboundMessage, RecentChat, SqliteStore, UnixSeconds};

/// A rosey database on either backend.
#[derive(Debug)]
pub enum Store {
    /// A file (or memory), through rusqlite.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

/// Runs the same call on whichever backend the store is.
macro_rules! on_backend {
    ($store:expr, $backend:ident => $call:expr) => {
        match $store {
            Store::Sqlite($backend) => $call,
            #[cfg(feature = "postgres")]
            Store::Postgres($backend) => $call,
        }
    };
}

impl Store {
    /// Opens (or creates) the database `location` names and brings its schema up to date.
    ///
    /// # Errors
    /// Those of [`SqliteStore::open`] and [`PgStore::connect`]; a PostgreSQL URL in a build
    /// without the `postgres` feature says so.
    pub fn connect(location: &DbLocation, now: UnixSeconds) -> Result<Store, StoreError> {
        match location {
            DbLocation::Sqlite(path) => SqliteStore::open(path, now).map(Store::Sqlite),
            #[cfg(feature = "postgres")]
            DbLocation::Postgres(url) => PgStore::connect(url, now).map(Store::Postgres),
            #[cfg(not(feature = "postgres"))]
            DbLocation::Postgres(url) => Err(StoreError::new(super::StoreErrorKind::PostgresUnavailable).on_server(
                &format!("{url} (this build has no PostgreSQL support: build with the `postgres` feature)"),
            )),
        }
    }

    /// [`SqliteStore::open`].
    pub fn open(path: &Path, now: UnixSeconds) -> Result<Store, StoreError> {
        SqliteStore::open(path, now).map(Store::Sqlite)
    }

    /// [`SqliteStore::open_with`].
    pub fn open_with(path: &Path, journal: Journal, now: UnixSeconds) -> Result<Store, StoreError> {
        SqliteStore::open_with(path, journal, now).map(Store::Sqlite)
    }

    /// [`SqliteStore::open_in_memory`].
    pub fn open_in_memory(now: UnixSeconds) -> Result<Store, StoreError> {
        SqliteStore::open_in_memory(now).map(Store::Sqlite)
    }

    /// The SQLite store, when this is one.
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            Store::Sqlite(store) => Some(store),
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => None,
        }
    }

    /// Which backend, for logs: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => "postgres",
        }
    }

    /// Takes the writer's lease if no other store holds it; `true` while this one does
    /// (see `store::lease`).
    pub fn try_lead(&mut self) -> Result<bool, StoreError> {
        on_backend!(self, store => store.try_lead())
    }

    /// Gives the writer's lease up.
    pub fn step_down(&mut self) {
        on_backend!(self, store => store.step_down())
    }

    /// Whether the database connection is gone for good (PostgreSQL: the session ended;
    /// an SQLite file never goes away under its store).
    pub fn is_lost(&self) -> bool {
        match self {
            Store::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            Store::Postgres(store) => store.is_lost(),
        }
    }

    /// The schema version the database records.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        on_backend!(self, store => store.schema_version())
    }

    /// Opens a group-commit batch; does nothing when one is open.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        on_backend!(self, store => store.begin_batch())
    }

    /// Commits the open batch; does nothing when none is open.
    pub fn commit_batch(&mut self) -> Result<(), StoreError> {
        on_backend!(self, store => store.commit_batch())
    }

    /// Rolls the open batch back whole and closes it.
    pub fn abort_batch(&mut self) {
        on_backend!(self, store => store.abort_batch())
    }

    /// Whether a batch is open.
    pub fn in_batch(&self) -> bool {
        on_backend!(self, store => store.in_batch())
    }

    /// Chat lines a batch accepted and failed to write later.
    pub fn take_deferred_errors(&mut self) -> Vec<DeferredChatError> {
        on_backend!(self, store => store.take_deferred_errors())
    }

    /// A user joined at `now`.
    pub fn user_joined(&mut self, username: &str, now: UnixSeconds) -> Result<(), StoreError> {
        on_backend!(self, store => store.user_joined(username, now))
    }

    /// A user left at `now`.
    pub fn user_left(&mut self, username: &str, now: UnixSeconds) -> Result<(), StoreError> {
        on_backend!(self, store => store.user_left(username, now))
    }

    /// Closes every open session at `now`, then commits the open batch.
    pub fn close(&mut self, now: UnixSeconds) -> Result<(), StoreError> {
        on_backend!(self, store => store.close(now))
    }

    /// A chat line at `now`; `false` when it is not chat.
    pub fn user_chat_message(&mut self, username: &str, message: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        on_backend!(self, store => store.user_chat_message(username, message, now))
    }

    /// The newest `limit` chat lines, oldest first.
    pub fn recent_chat(&self, limit: i64) -> Result<Vec<RecentChat>, StoreError> {
        on_backend!(self, store => store.recent_chat(limit))
    }

    /// Appends a user count sample.
    pub fn log_user_count(
        &mut self,
        chat_users: i64,
        connected_users: i64,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        on_backend!(self, store => store.log_user_count(chat_users, connected_users, now))
    }

    /// Raises the high-water marks the counts beat.
    pub fn update_high_water_mark(
        &mut self,
        chat_count: i64,
        connected_count: Option<i64>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        on_backend!(self, store => store.update_high_water_mark(chat_count, connected_count, now))
    }

    /// Sets the known status fields present; `false` when none is.
    pub fn update_current_status(&mut self, fields: &Map<String, Value>, now: UnixSeconds) -> Result<bool, StoreError> {
        on_backend!(self, store => store.update_current_status(fields, now))
    }

    /// Queues a message; returns its id.
    pub fn enqueue_outbound_message(&mut self, message: &str, now: UnixSeconds) -> Result<i64, StoreError> {
        on_backend!(self, store => store.enqueue_outbound_message(message, now))
    }

    /// Queues a message at most once per `request_id`; returns its id.
    pub fn enqueue_outbound_message_once(
        &mut self,
        request_id: &str,
        message: &str,
        now: UnixSeconds,
    ) -> Result<i64, StoreError> {
        on_backend!(self, store => store.enqueue_outbound_message_once(request_id, message, now))
    }

    /// Up to `limit` messages eligible at `now`, oldest first.
    pub fn get_unsent_outbound_messages(
        &self,
        limit: i64,
        max_retries: i64,
        now: UnixSeconds,
    ) -> Result<Vec<OutboundMessage>, StoreError> {
        on_backend!(self, store => store.get_unsent_outbound_messages(limit, max_retries, now))
    }

    /// Marks a message sent; whether a row changed.
    pub fn mark_outbound_sent(&mut self, id: i64, now: UnixSeconds) -> Result<bool, StoreError> {
        on_backend!(self, store => store.mark_outbound_sent(id, now))
    }

    /// Records a failed attempt; whether a row changed.
    pub fn mark_outbound_failed(
        &mut self,
        id: i64,
        error: &str,
        permanent: bool,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        on_backend!(self, store => store.mark_outbound_failed(id, error, permanent, now))
    }

    /// Creates the JetStream bookkeeping table where it is created on demand.
    pub fn prepare_delivery(&mut self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.prepare_delivery(),
            // Created with the schema.
            #[cfg(feature = "postgres")]
            Store::Postgres(_) => Ok(()),
        }
    }

    /// The highest stream sequence whose effects are stored (0: none).
    pub fn applied_stream_seq(&self, stream: &str) -> Result<u64, StoreError> {
        on_backend!(self, store => store.applied_stream_seq(stream))
    }

    /// Records `seq` as applied, in the open transaction.
    pub fn record_applied_seq(&mut self, stream: &str, seq: u64) -> Result<(), StoreError> {
        on_backend!(self, store => store.record_applied_seq(stream, seq))
    }

    /// Every row of every table.
    pub fn dump(&self) -> Result<DbDump, StoreError> {
        on_backend!(self, store => store.dump())
    }
}
