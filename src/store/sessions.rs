//! Presence: joins, leaves and closing every session, which together keep
//! `user_stats.total_time_connected`.
//!
//! A session is open while `current_session_start` is non-null. Unlike v0.5.0, a re-join
//! on an open session first counts it (v0.5.0 overwrote it), and a session's length is
//! never negative: a clock that steps back counts as zero time, not as time taken away.

use super::error::StoreError;
use super::{SqliteStore, UnixSeconds};

/// Inserts a new user with an open session, or closes an open session (adding it to the
/// total) and opens a new one.
const JOIN: &str = "
INSERT INTO user_stats (username, first_seen, last_seen, current_session_start)
VALUES (?1, ?2, ?2, ?2)
ON CONFLICT (username) DO UPDATE SET
    total_time_connected = COALESCE(total_time_connected, 0)
        + COALESCE(MAX(0, excluded.current_session_start - current_session_start), 0),
    last_seen = excluded.last_seen,
    current_session_start = excluded.current_session_start";

/// Closes one user's open session; touches nothing when there is none.
const LEAVE: &str = "
UPDATE user_stats SET
    total_time_connected = COALESCE(total_time_connected, 0) + MAX(0, ?2 - current_session_start),
    current_session_start = NULL,
    last_seen = ?2
WHERE username = ?1 AND current_session_start IS NOT NULL";

/// Closes every open session.
const CLOSE_ALL: &str = "
UPDATE user_stats SET
    total_time_connected = COALESCE(total_time_connected, 0) + MAX(0, ?1 - current_session_start),
    current_session_start = NULL,
    last_seen = ?1
WHERE current_session_start IS NOT NULL";

impl SqliteStore {
    /// Records `username` joining at `now`: a new row with an open session, or, for a known
    /// user, `last_seen` and a new session (an open one is first added to the total).
    /// An empty username is ignored.
    pub fn user_joined(&mut self, username: &str, now: UnixSeconds) -> Result<(), StoreError> {
        if username.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            conn.prepare_cached(JOIN)?.execute((username, now))?;
            Ok(())
        })
    }

    /// Records `username` leaving at `now`: an open session is added to the total and
    /// closed, and `last_seen` moves. With no open session (or no row) nothing changes.
    pub fn user_left(&mut self, username: &str, now: UnixSeconds) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(LEAVE)?.execute((username, now))?;
            Ok(())
        })
    }

    /// Closes every open session at `now` (adding it to its user's total, `last_seen` =
    /// `now`), then commits the open batch, if any.
    ///
    /// The store stays usable afterwards; dropping it closes the connection. Note that
    /// the db-service does not call this on a restart or a crash (contract section 5):
    /// sessions end with the bot's user.left events.
    pub fn close(&mut self, now: UnixSeconds) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(CLOSE_ALL)?.execute([now])?;
            Ok(())
        })?;
        self.commit_batch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// (first_seen, last_seen, total_time_connected, current_session_start)
    type Row = (i64, i64, i64, Option<i64>);

    fn row(store: &SqliteStore, username: &str) -> rusqlite::Result<Option<Row>> {
        let mut stmt = store.conn.prepare(
            "SELECT first_seen, last_seen, total_time_connected, current_session_start \
             FROM user_stats WHERE username = ?1",
        )?;
        let mut rows = stmt.query_map([username], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.next().transpose()
    }

    #[test]
    fn join_creates_user_with_open_session() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("Alice", 100)?;
        assert_eq!(row(&store, "Alice")?, Some((100, 100, 0, Some(100))));
        assert_eq!(row(&store, "alice")?, None, "usernames are case-sensitive");
        Ok(())
    }

    #[test]
    fn leave_adds_session_to_total() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("alice", 100)?;
        store.user_left("alice", 160)?;
        assert_eq!(row(&store, "alice")?, Some((100, 160, 60, None)));
        store.user_joined("alice", 200)?;
        store.user_left("alice", 230)?;
        assert_eq!(row(&store, "alice")?, Some((100, 230, 90, None)));
        Ok(())
    }

    /// v0.5.0 overwrote an open session on a re-join, losing its time (defect 6).
    #[test]
    fn rejoin_on_open_session_counts_it_first() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("alice", 100)?;
        store.user_joined("alice", 130)?;
        assert_eq!(row(&store, "alice")?, Some((100, 130, 30, Some(130))));
        store.user_left("alice", 140)?;
        assert_eq!(row(&store, "alice")?, Some((100, 140, 40, None)));
        Ok(())
    }

    #[test]
    fn leave_without_session_changes_nothing() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_left("ghost", 50)?;
        assert_eq!(row(&store, "ghost")?, None);
        store.user_joined("alice", 100)?;
        store.user_left("alice", 110)?;
        store.user_left("alice", 500)?;
        assert_eq!(row(&store, "alice")?, Some((100, 110, 10, None)), "last_seen kept");
        Ok(())
    }

    #[test]
    fn empty_username_join_is_ignored() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("", 100)?;
        let users: i64 = store.conn.query_row("SELECT COUNT(*) FROM user_stats", [], |r| r.get(0))?;
        assert_eq!(users, 0);
        Ok(())
    }

    #[test]
    fn clock_stepping_back_never_subtracts_time() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("alice", 100)?;
        store.user_left("alice", 90)?;
        assert_eq!(row(&store, "alice")?, Some((100, 90, 0, None)));
        Ok(())
    }

    #[test]
    fn close_ends_every_open_session_only() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("alice", 100)?;
        store.user_joined("bob", 150)?;
        store.user_joined("carol", 120)?;
        store.user_left("carol", 130)?;
        store.begin_batch()?;
        store.close(200)?;
        assert!(!store.in_batch(), "close commits the open batch");
        assert_eq!(row(&store, "alice")?, Some((100, 200, 100, None)));
        assert_eq!(row(&store, "bob")?, Some((150, 200, 50, None)));
        assert_eq!(row(&store, "carol")?, Some((120, 130, 10, None)));
        Ok(())
    }
}
