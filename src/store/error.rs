//! The store's error type: a struct carrying a [`StoreErrorKind`], the database path when
//! it is known, and the SQLite error underneath when there is one.
//!
//! Written by hand (no thiserror), in the shape of ripgrep's globset error: callers match on
//! [`StoreError::kind`], users read the `Display` text, which says what to do next. The
//! SQLite error is not repeated in `Display`; it is the [`std::error::Error::source`], so
//! print the whole chain to see it.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// An error from the SQLite store.
#[derive(Debug)]
pub struct StoreError {
    /// What went wrong; callers branch on this.
    kind: StoreErrorKind,
    /// The database file, when the error happened on one (never for an in-memory store).
    path: Option<PathBuf>,
    /// The PostgreSQL server (its URL without the password), when the error happened on one.
    server: Option<String>,
    /// The database's own error underneath (SQLite's or PostgreSQL's), kept whole for the
    /// error chain.
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Any other SQLite failure; the source holds SQLite's own message.
    Sqlite,
    /// The file could not be opened or created (missing directory, no permission).
    CannotOpen,
    /// Another connection held the database locked for longer than the busy timeout.
    Busy,
    /// The file was written by a newer rosey: its `PRAGMA user_version` is above ours.
    NewerSchema {
        /// The `user_version` found in the file.
        found: i64,
        /// The newest version this build understands ([`crate::store::SCHEMA_VERSION`]).
        supported: i64,
    },
    /// The file exists but is not an SQLite database.
    NotADatabase,
    /// The file is an SQLite database, but not one rosey (any version) wrote: it has
    /// other tables and none of ours, or a negative `user_version`. Left untouched.
    ForeignDatabase {
        /// What was found, for the message.
        detail: String,
    },
    /// SQLite gave the open batch's transaction up (disk full, I/O error) before this
    /// operation, held back in the batch, was written: it is lost with the batch.
    BatchLost,
    /// An outbound message was empty.
    EmptyMessage,
    /// A known status field carried a JSON object or array.
    InvalidStatusValue {
        /// The field's name.
        field: String,
    },
    /// A status value PostgreSQL's typed column cannot hold (SQLite would have kept it as
    /// text): a non-numeric string for a number, a fraction for an integer.
    UntypedStatusValue {
        /// The field's name.
        field: String,
        /// The column's PostgreSQL type.
        column_type: &'static str,
    },
    /// Any other PostgreSQL failure; the source holds the server's own message.
    Postgres,
    /// The PostgreSQL server could not be reached, refused the login, or the connection
    /// was lost (an open batch is lost with it).
    PostgresUnavailable,
    /// The database already has a different rosey schema version table layout or a
    /// version this build does not know how to reach.
    SchemaMismatch {
        /// What was found, for the message.
        detail: String,
    },
}

impl StoreError {
    /// An error of `kind` with no SQLite source and no path yet.
    pub(crate) fn new(kind: StoreErrorKind) -> StoreError {
        StoreError { kind, path: None, server: None, source: None }
    }

    /// A PostgreSQL error, sorted into the kinds a user can act on differently.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(err: postgres::Error) -> StoreError {
        let kind = if err.is_closed() || err.as_db_error().is_none() {
            StoreErrorKind::PostgresUnavailable
        } else {
            StoreErrorKind::Postgres
        };
        StoreError { kind, path: None, server: None, source: Some(Box::new(err)) }
    }

    /// Names `path` as the database, replacing any path set (an error on a temporary copy
    /// is reported against the file it was copied from).
    pub(crate) fn moved_to(mut self, path: &Path) -> StoreError {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Attaches the PostgreSQL server (already stripped of its password) unless one is set.
    pub(crate) fn on_server(mut self, server: &str) -> StoreError {
        if self.server.is_none() && self.path.is_none() {
            self.server = Some(server.to_owned());
        }
        self
    }

    /// Attaches the database path unless one is already set.
    pub(crate) fn at(mut self, path: Option<&Path>) -> StoreError {
        if self.path.is_none() {
            self.path = path.map(Path::to_path_buf);
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &StoreErrorKind {
        &self.kind
    }

    /// The database file the error happened on, when known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl From<rusqlite::Error> for StoreError {
    /// Sorts SQLite's result codes into the kinds a user can act on differently.
    fn from(err: rusqlite::Error) -> StoreError {
        let kind = match err.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => StoreErrorKind::NotADatabase,
            Some(ErrorCode::CannotOpen) => StoreErrorKind::CannotOpen,
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreErrorKind::Busy,
            _ => StoreErrorKind::Sqlite,
        };
        StoreError { kind, path: None, server: None, source: Some(Box::new(err)) }
    }
}

/// Displays a path, a server, or "the in-memory database" when there is neither.
struct Where<'a>(Option<&'a Path>, Option<&'a str>);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(path), _) => write!(f, "database file {}", path.display()),
            (None, Some(server)) => write!(f, "PostgreSQL database {server}"),
            (None, None) => f.write_str("the in-memory database"),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Where(self.path(), self.server.as_deref());
        match &self.kind {
            StoreErrorKind::Sqlite => match self.path() {
                Some(_) => write!(
                    f,
                    "SQLite failed on {at}: check that the file is readable and writable \
                     and that the disk is not full (SQLite's error is the cause)"
                ),
                None => write!(f, "SQLite failed on {at} (SQLite's error is the cause)"),
            },
            StoreErrorKind::CannotOpen => write!(
                f,
                "cannot open {at}: check that its directory exists and that rosey may \
                 write there"
            ),
            StoreErrorKind::Busy => write!(
                f,
                "{at} stayed locked by another connection for more than 5 s: stop the \
                 other writer or try again"
            ),
            StoreErrorKind::NewerSchema { found, supported } => write!(
                f,
                "{at} has schema version {found}, but this rosey supports up to \
                 {supported}: upgrade rosey, or point it at another database file"
            ),
            StoreErrorKind::NotADatabase => write!(
                f,
                "{at} is not an SQLite database: point rosey at its database file, or \
                 move this file away so that a new database can be created there"
            ),
            StoreErrorKind::ForeignDatabase { detail } => write!(
                f,
                "{at} is an SQLite database that rosey did not create ({detail}); it was \
                 left untouched: point rosey at its own database file or at a new path"
            ),
            StoreErrorKind::BatchLost => write!(
                f,
                "SQLite gave up the open batch on {at} before this chat line was written: \
                 it is lost with the batch (check the disk; an earlier error says why)"
            ),
            StoreErrorKind::EmptyMessage => f.write_str("an outbound message must not be empty: send some text"),
            StoreErrorKind::InvalidStatusValue { field } => write!(
                f,
                "status field `{field}` must be null, a boolean, a number or a string, \
                 not an object or an array; nothing was written: fix the sender"
            ),
            StoreErrorKind::UntypedStatusValue { field, column_type } => write!(
                f,
                "status field `{field}` does not fit {at}'s {column_type} column; nothing \
                 was written: send a {column_type} value"
            ),
            StoreErrorKind::Postgres => {
                write!(f, "PostgreSQL failed on {at} (the server's error is the cause)")
            }
            StoreErrorKind::PostgresUnavailable => write!(
                f,
                "cannot reach {at}, or the connection was lost: check that the server runs, \
                 that the URL's host, port, user and database are right, and that the \
                 password is (the driver's error is the cause)"
            ),
            StoreErrorKind::SchemaMismatch { detail } => write!(
                f,
                "{at} holds tables rosey cannot use ({detail}); it was left untouched: \
                 point rosey at its own database"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|err| err as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn sqlite_codes_map_to_actionable_kinds() {
        let notadb = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB), None);
        let err = StoreError::from(notadb).at(Some(Path::new("/srv/rosey.db")));
        assert_eq!(err.kind(), &StoreErrorKind::NotADatabase);
        assert!(err.to_string().contains("/srv/rosey.db"), "{err}");
        assert!(err.source().is_some());

        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        assert_eq!(StoreError::from(busy).kind(), &StoreErrorKind::Busy);
    }

    #[test]
    fn newer_schema_message_says_upgrade_rosey() {
        let err = StoreError::new(StoreErrorKind::NewerSchema { found: 7, supported: 1 }).at(Some(Path::new("bot.db")));
        let text = err.to_string();
        assert!(text.contains("bot.db") && text.contains("upgrade rosey"), "{text}");
        assert!(err.source().is_none());
    }

    #[test]
    fn path_is_attached_once() {
        let err =
            StoreError::new(StoreErrorKind::Sqlite).at(Some(Path::new("first.db"))).at(Some(Path::new("second.db")));
        assert_eq!(err.path(), Some(Path::new("first.db")));
    }
}
