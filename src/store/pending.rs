//! Chat lines held back inside a batch and written together: the group-commit hot path.
//!
//! Written one by one, a chat line costs a savepoint, an upsert, an insert that reads and
//! writes `sqlite_sequence` (`AUTOINCREMENT` loads and saves its counter once per
//! statement) and the retention `DELETE`. Held back, a batch's lines cost one savepoint,
//! one upsert per distinct user and one multi-row insert per [`CHUNK`] lines, and the
//! `DELETE` only when it can remove something.
//!
//! # Exactness
//! The database ends as if every line had been applied alone, in order:
//! - held lines are written before any other operation, before any read, at commit, and
//!   when [`MAX_PENDING`] are held, so nothing ever observes them missing;
//! - ids come in the lines' order (the `VALUES` order), and `AUTOINCREMENT` never reuses
//!   an id, so deletions in between would not have changed them;
//! - a user's lines fold into one upsert: first line's time as `first_seen` for a new
//!   user, last line's as `last_seen`, the count added (what k upserts do), users in
//!   order of first appearance (so new rows get the same rowids too);
//! - a line is held only when the retention `DELETE` it would run removes nothing (see
//!   [`Oldest`]); any other line is applied alone, after the held ones;
//! - when the flush fails its savepoint is rolled back and its lines are applied again one
//!   by one, each in its own savepoint, so exactly the failing line is rejected.
//!
//! # Errors
//! A held line's failure shows when the flush runs, inside a later call; it is kept as a
//! [`DeferredChatError`] for [`SqliteStore::take_deferred_errors`] and never fails that call.
//! If SQLite gives the whole transaction up during a flush (disk full, I/O error), the
//! held lines are lost with the batch, as its earlier operations are, and each is reported
//! with kind [`StoreErrorKind::BatchLost`].

use indexmap::IndexMap;
use rusqlite::Connection;

use super::chat::{write_line, RETENTION_SECS};
use super::error::{StoreError, StoreErrorKind};
use super::{SqliteStore, UnixSeconds};

/// How many lines a batch holds before writing them: `DbService`'s default `max_batch`, so
/// a full batch of chat flushes once, at its commit.
pub(super) const MAX_PENDING: usize = 1024;

/// Rows per multi-row statement. Shorter runs use the largest power of two that fits, so
/// the statement cache holds a fixed handful of texts (7 per statement kind).
const CHUNK: usize = 64;

/// `MIN(timestamp)` reads the index; `None` for an empty table.
const OLDEST: &str = "SELECT MIN(timestamp) FROM recent_chat";

/// One held line.
#[derive(Debug)]
pub(super) struct PendingLine {
    username: String,
    message: String,
    now: UnixSeconds,
}

/// What the open transaction knows of the oldest `recent_chat` timestamp, held lines
/// included. Other processes may write the file between transactions, and a rolled-back
/// savepoint may bring old rows back, so it is forgotten at every batch boundary, on every
/// rollback and after every line applied alone, and read again (cheap with the index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Oldest {
    /// Read `MIN(timestamp)` before trusting anything.
    #[default]
    Unknown,
    /// The oldest timestamp; `None` when there are no lines at all.
    Known(Option<UnixSeconds>),
}

/// The held lines of the open batch and what they leave to report.
#[derive(Debug, Default)]
pub(super) struct PendingChat {
    /// In the order they were applied.
    lines: Vec<PendingLine>,
    /// Covers the table and `lines`.
    pub(super) oldest: Oldest,
    /// Held lines the flush rejected, for [`SqliteStore::take_deferred_errors`].
    rejected: Vec<DeferredChatError>,
}

/// A chat line that was accepted into a batch (its call returned `Ok(true)`) and failed
/// when the batch wrote it; nothing of it was written.
#[derive(Debug)]
pub struct DeferredChatError {
    /// Who said it, as passed to [`SqliteStore::user_chat_message`].
    pub username: String,
    /// What was said.
    pub message: String,
    /// The `now` it was applied at.
    pub now: UnixSeconds,
    /// Why it was rejected.
    pub error: StoreError,
}

impl SqliteStore {
    /// Holds a chat line of the open batch when its retention `DELETE` would remove
    /// nothing; `false` when it must be applied alone (or the oldest line is unsure).
    pub(super) fn hold_line(&self, username: &str, message: &str, now: UnixSeconds) -> bool {
        let cutoff = now.saturating_sub(RETENTION_SECS);
        let Some(oldest) = self.oldest_line() else { return false };
        if oldest.is_some_and(|oldest| oldest < cutoff) {
            return false;
        }
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.oldest = Oldest::Known(Some(oldest.map_or(now, |oldest| oldest.min(now))));
            pending.lines.push(PendingLine { username: username.to_owned(), message: message.to_owned(), now });
            pending.lines.len() >= MAX_PENDING
        };
        if full {
            self.flush_pending();
        }
        true
    }

    /// The oldest timestamp among `recent_chat` and the held lines (`Some(None)`: no line
    /// at all), read from the file when unknown; `None` when it cannot be read.
    fn oldest_line(&self) -> Option<Option<UnixSeconds>> {
        if let Oldest::Known(oldest) = self.pending.borrow().oldest {
            return Some(oldest);
        }
        // A REAL or TEXT minimum (never written by us nor v0.5.0) fails to read as i64:
        // then every line is applied alone, with its DELETE, as before.
        let stored: Option<UnixSeconds> = self.conn.prepare_cached(OLDEST).ok()?.query_row([], |r| r.get(0)).ok()?;
        let mut pending = self.pending.borrow_mut();
        let held = pending.lines.iter().map(|line| line.now).min();
        let oldest = match (stored, held) {
            (Some(stored), Some(held)) => Some(stored.min(held)),
            (stored, held) => stored.or(held),
        };
        pending.oldest = Oldest::Known(oldest);
        Some(oldest)
    }

    /// Forgets the oldest timestamp: the table may have changed behind what is known.
    pub(super) fn forget_oldest(&self) {
        self.pending.borrow_mut().oldest = Oldest::Unknown;
    }

    /// Drops the held lines unwritten (the batch is being discarded).
    pub(super) fn discard_pending(&self) {
        let mut pending = self.pending.borrow_mut();
        pending.lines.clear();
        pending.oldest = Oldest::Unknown;
    }

    /// Writes the held lines, if any; see the module docs for what happens on failure.
    pub(super) fn flush_pending(&self) {
        let lines = std::mem::take(&mut self.pending.borrow_mut().lines);
        if lines.is_empty() {
            return;
        }
        let written = self.atomically(|conn| {
            insert_lines(conn, &lines)?;
            count_lines(conn, &lines)
        });
        if written.is_ok() {
            return;
        }
        self.forget_oldest();
        let mut rejected = Vec::new();
        for line in lines {
            let result = if self.batch_open.get() {
                self.atomically(|conn| write_line(conn, &line.username, &line.message, line.now))
            } else {
                Err(StoreError::new(StoreErrorKind::BatchLost))
            };
            if let Err(error) = result {
                rejected.push(DeferredChatError {
                    username: line.username,
                    message: line.message,
                    now: line.now,
                    error,
                });
            }
        }
        self.forget_oldest();
        self.pending.borrow_mut().rejected.extend(rejected);
    }

    /// Takes the errors of chat lines that a batch accepted and then failed to write,
    /// oldest first. Call it after [`SqliteStore::commit_batch`] (or after any call) to count
    /// them: [`SqliteStore::user_chat_message`] inside a batch returns `Ok(true)` for a line it
    /// holds back, and the line's failure, if any, surfaces only here.
    pub fn take_deferred_errors(&mut self) -> Vec<DeferredChatError> {
        std::mem::take(&mut self.pending.borrow_mut().rejected)
    }
}

/// Splits `items` into runs of [`CHUNK`], then of decreasing powers of two.
fn runs<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let size = if items.len() >= CHUNK { CHUNK } else { 1 << items.len().ilog2() };
        let (run, rest) = items.split_at(size);
        items = rest;
        Some(run)
    })
}

/// `head` followed by `rows` copies of `row`, comma-separated, then `tail`.
fn multi_row(head: &str, row: &str, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 1) + tail.len());
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(row);
    }
    sql.push_str(tail);
    sql
}

/// Appends the lines to `recent_chat`, in order.
fn insert_lines(conn: &Connection, lines: &[PendingLine]) -> Result<(), StoreError> {
    for run in runs(lines) {
        let sql = multi_row("INSERT INTO recent_chat (timestamp, username, message) VALUES ", "(?,?,?)", run.len(), "");
        let mut stmt = conn.prepare_cached(&sql)?;
        for (i, line) in run.iter().enumerate() {
            stmt.raw_bind_parameter(3 * i + 1, line.now)?;
            stmt.raw_bind_parameter(3 * i + 2, &line.username)?;
            stmt.raw_bind_parameter(3 * i + 3, &line.message)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// One user's lines in a flush.
pub(super) struct Tally {
    /// The first line's time: `first_seen` for a new user.
    pub(super) first: UnixSeconds,
    /// The last line's time: `last_seen`.
    pub(super) last: UnixSeconds,
    /// How many lines: added to `total_chat_lines`.
    pub(super) lines: i64,
}

/// Folds `(username, now)` lines into one [`Tally`] per user, users in order of first
/// appearance: what one upsert per line leaves, as one row per user (both backends).
pub(super) fn tally<'a>(lines: impl Iterator<Item = (&'a str, UnixSeconds)>) -> IndexMap<&'a str, Tally> {
    let mut tallies: IndexMap<&str, Tally> = IndexMap::new();
    for (username, now) in lines {
        tallies
            .entry(username)
            .and_modify(|tally| {
                tally.last = now;
                tally.lines += 1;
            })
            .or_insert(Tally { first: now, last: now, lines: 1 });
    }
    tallies
}

/// Counts the lines for their users, one upsert row per user: what one upsert per line
/// (`chat::UPSERT_USER`) leaves.
fn count_lines(conn: &Connection, lines: &[PendingLine]) -> Result<(), StoreError> {
    let tallies = tally(lines.iter().map(|line| (line.username.as_str(), line.now)));
    let users: Vec<(&str, Tally)> = tallies.into_iter().collect();
    for run in runs(&users) {
        let sql = multi_row(
            "INSERT INTO user_stats (username, first_seen, last_seen, total_chat_lines) VALUES ",
            "(?,?,?,?)",
            run.len(),
            " ON CONFLICT (username) DO UPDATE SET \
             total_chat_lines = COALESCE(total_chat_lines, 0) + excluded.total_chat_lines, \
             last_seen = excluded.last_seen",
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        for (i, (username, tally)) in run.iter().enumerate() {
            stmt.raw_bind_parameter(4 * i + 1, *username)?;
            stmt.raw_bind_parameter(4 * i + 2, tally.first)?;
            stmt.raw_bind_parameter(4 * i + 3, tally.last)?;
            stmt.raw_bind_parameter(4 * i + 4, tally.lines)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn runs_are_full_chunks_then_powers_of_two() {
        let items: Vec<usize> = (0..CHUNK * 2 + 13).collect();
        let sizes: Vec<usize> = runs(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [CHUNK, CHUNK, 8, 4, 1]);
        assert_eq!(runs::<usize>(&[]).count(), 0);
    }

    /// Applies `lines` with the batch holding them, and one by one outside any batch;
    /// the two databases must be equal.
    fn held_equals_alone(lines: &[(&str, &str, i64)], preload: &[(i64, &str)]) -> TestResult {
        let mut held = SqliteStore::open_in_memory(0)?;
        let mut alone = SqliteStore::open_in_memory(0)?;
        for store in [&mut held, &mut alone] {
            for (ts, text) in preload {
                store.conn.execute(
                    "INSERT INTO recent_chat (timestamp, username, message) VALUES (?1, 'old', ?2)",
                    (ts, text),
                )?;
            }
        }
        held.begin_batch()?;
        for (user, text, now) in lines {
            assert!(held.user_chat_message(user, text, *now)?);
        }
        held.commit_batch()?;
        for (user, text, now) in lines {
            alone.user_chat_message(user, text, *now)?;
        }
        assert_eq!(held.dump()?, alone.dump()?);
        let seq = |store: &SqliteStore| -> rusqlite::Result<i64> {
            store.conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'recent_chat'", [], |r| r.get(0))
        };
        assert_eq!(seq(&held)?, seq(&alone)?);
        assert!(held.take_deferred_errors().is_empty());
        Ok(())
    }

    #[test]
    fn held_lines_write_what_lines_alone_write() -> TestResult {
        let many: Vec<(String, String, i64)> =
            (0..300).map(|i| (format!("user{}", i % 7), format!("line {i}"), 1000 + i / 10)).collect();
        let many: Vec<(&str, &str, i64)> = many.iter().map(|(u, m, t)| (u.as_str(), m.as_str(), *t)).collect();
        held_equals_alone(&many, &[])?;
        // Time going back and forth, and a user that already exists.
        held_equals_alone(&[("a", "x", 50), ("b", "y", 40), ("a", "z", 45), ("b", "w", 60)], &[(30, "kept")])
    }

    /// The retention of a held batch is exact when time jumps past 150 h mid-batch, when
    /// an old row already sits in the table, and when a late line comes in behind a jump.
    #[test]
    fn retention_is_exact_across_jumps_and_old_rows() -> TestResult {
        let r = RETENTION_SECS;
        held_equals_alone(&[("a", "1", 100), ("a", "2", 100 + r), ("a", "3", 101 + r)], &[])?;
        held_equals_alone(&[("a", "1", 100 + r), ("b", "2", 99 + r)], &[(100, "at the edge"), (99, "too old")])?;
        held_equals_alone(&[("a", "1", 10 * r), ("a", "late", 10), ("a", "after", 10 + r + 1)], &[(11, "x")])
    }

    /// A row older than what the batch knows, written behind its back, is seen once the
    /// knowledge is forgotten: at the next batch.
    #[test]
    fn retention_rereads_the_oldest_line_at_each_batch() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.begin_batch()?;
        store.user_chat_message("a", "first", 1000)?;
        store.commit_batch()?;
        // Another process, between transactions.
        store.conn.execute("INSERT INTO recent_chat (timestamp, username, message) VALUES (5, 'x', 'ancient')", [])?;
        store.begin_batch()?;
        store.user_chat_message("a", "second", 1000 + RETENTION_SECS - 100)?;
        store.commit_batch()?;
        let texts: Vec<String> = store.recent_chat(10)?.into_iter().map(|line| line.message).collect();
        assert_eq!(texts, ["first", "second"], "the ancient row is expired");
        Ok(())
    }

    #[test]
    fn a_read_in_the_middle_of_a_batch_sees_held_lines() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.begin_batch()?;
        store.user_chat_message("a", "one", 10)?;
        store.user_chat_message("b", "two", 11)?;
        assert_eq!(store.recent_chat(10)?.len(), 2);
        let users = store.dump()?.table("user_stats").map(|t| t.rows.len());
        assert_eq!(users, Some(2));
        store.user_chat_message("a", "three", 12)?;
        store.user_joined("c", 13)?;
        let chatters: i64 =
            store.conn.query_row("SELECT total_chat_lines FROM user_stats WHERE username = 'a'", [], |r| r.get(0))?;
        assert_eq!(chatters, 2, "the next operation wrote the held line first");
        store.commit_batch()?;
        Ok(())
    }

    #[test]
    fn a_failing_held_line_is_rejected_alone() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.conn.execute_batch(
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON recent_chat WHEN NEW.message = 'bad' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )?;
        store.begin_batch()?;
        store.user_joined("z", 1)?;
        assert!(store.user_chat_message("a", "good", 10)?);
        assert!(store.user_chat_message("b", "bad", 11)?, "held: its failure comes later");
        assert!(store.user_chat_message("c", "fine", 12)?);
        store.commit_batch()?;
        let rejected = store.take_deferred_errors();
        assert_eq!(rejected.len(), 1);
        assert_eq!((rejected[0].username.as_str(), rejected[0].message.as_str(), rejected[0].now), ("b", "bad", 11));
        assert!(store.take_deferred_errors().is_empty(), "taken once");
        let texts: Vec<String> = store.recent_chat(10)?.into_iter().map(|line| line.message).collect();
        assert_eq!(texts, ["good", "fine"]);
        let users: Vec<String> = store
            .conn
            .prepare("SELECT username FROM user_stats ORDER BY username")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(users, ["a", "c", "z"], "b's line left no row");
        Ok(())
    }

    #[test]
    fn a_full_buffer_is_written_before_the_batch_ends() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.begin_batch()?;
        for i in 0..MAX_PENDING {
            store.user_chat_message("a", &format!("{i}"), 10)?;
        }
        assert!(store.pending.borrow().lines.is_empty());
        let stored: i64 = store.conn.query_row("SELECT COUNT(*) FROM recent_chat", [], |r| r.get(0))?;
        assert_eq!(stored as usize, MAX_PENDING);
        store.commit_batch()?;
        Ok(())
    }

    #[test]
    fn an_aborted_batch_drops_its_held_lines() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.begin_batch()?;
        store.user_chat_message("a", "gone", 10)?;
        store.abort_batch();
        assert!(store.recent_chat(10)?.is_empty());
        assert_eq!(store.dump()?.table("user_stats").map(|t| t.rows.len()), Some(0));
        Ok(())
    }
}
