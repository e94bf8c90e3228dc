//! Chat lines a PostgreSQL batch holds back and writes together: the group-commit hot
//! path, the same rule as SQLite's (`store::pending`, whose module docs prove it exact).
//!
//! Applied one by one, a line costs a savepoint, an upsert, an insert and the retention
//! `DELETE`, each a round trip to the server; and the `DELETE`, prepared once, runs with a
//! generic plan that scans the table. Held back, a batch's lines cost one savepoint, one
//! upsert of every user's folded count and one insert of every line (both through
//! `unnest` of arrays, so one prepared statement serves any number of rows), and no
//! `DELETE`: a line is held only when its `DELETE` would remove nothing, which the store
//! knows from the oldest timestamp ([`PgStore::oldest_line`]).
//!
//! Held lines are written before any other operation that touches what they change and
//! before any read, at commit, and when [`MAX_PENDING`] are held; the outbound queue's
//! operations pass them, as on SQLite. When the flush fails, its savepoint is rolled back
//! and the lines are applied again one by one, so exactly the failing one is rejected and
//! reported by [`PgStore::take_deferred_errors`].

use super::super::chat::RETENTION_SECS;
use super::super::error::{StoreError, StoreErrorKind};
use super::super::pending::tally;
use super::super::{DeferredChatError, UnixSeconds};
use super::{atomically, sql, PgStore};

/// As SQLite's: `DbService`'s default `max_batch`.
const MAX_PENDING: usize = 1024;

/// The lines' ids are the next `cardinality` of the table's sequence, in line order.
const INSERT_LINES: &str = "
WITH next AS (
    UPDATE rosey_sequence SET seq = seq + cardinality($1::BIGINT[]) WHERE name = 'recent_chat' RETURNING seq
)
INSERT INTO recent_chat (id, timestamp, username, message)
SELECT next.seq - cardinality($1::BIGINT[]) + x.n, x.at, x.username, x.message
FROM next, unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS x(at, username, message, n)
ORDER BY x.n";

/// One row per user: the first line's time for a new user, the last line's as
/// `last_seen`, the count added; what one `UPSERT_CHATTER` per line leaves.
const COUNT_LINES: &str = "
INSERT INTO user_stats AS u (username, first_seen, last_seen, total_chat_lines)
SELECT x.username, x.first_seen, x.last_seen, x.lines
FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) WITH ORDINALITY
    AS x(username, first_seen, last_seen, lines, n)
ORDER BY x.n
ON CONFLICT (username) DO UPDATE SET
    total_chat_lines = COALESCE(u.total_chat_lines, 0) + excluded.total_chat_lines,
    last_seen = excluded.last_seen";

const OLDEST: &str = "SELECT MIN(timestamp) FROM recent_chat";

/// One held line.
#[derive(Debug, Clone)]
pub(super) struct PendingLine {
    username: String,
    message: String,
    now: UnixSeconds,
}

/// The open batch's held lines and what the store knows of the oldest line.
#[derive(Debug, Default)]
pub(super) struct PendingChat {
    lines: Vec<PendingLine>,
    /// `None`: unknown (read it again); `Some(None)`: no line at all.
    oldest: Option<Option<UnixSeconds>>,
    rejected: Vec<DeferredChatError>,
}

impl PgStore {
    /// Holds a line of the open batch when its retention `DELETE` would remove nothing;
    /// `false` when it must be applied alone (or the oldest line cannot be read).
    pub(super) fn hold_line(&self, username: String, message: String, now: UnixSeconds) -> bool {
        let Some(oldest) = self.oldest_line() else { return false };
        if oldest.is_some_and(|oldest| oldest < now.saturating_sub(RETENTION_SECS)) {
            return false;
        }
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.oldest = Some(Some(oldest.map_or(now, |oldest| oldest.min(now))));
            pending.lines.push(PendingLine { username, message, now });
            pending.lines.len() >= MAX_PENDING
        };
        if full {
            self.flush_pending();
        }
        true
    }

    /// The oldest timestamp among `recent_chat` and the held lines, read when unknown.
    pub(super) fn oldest_line(&self) -> Option<Option<UnixSeconds>> {
        if let Some(oldest) = self.pending.borrow().oldest {
            return Some(oldest);
        }
        let stored: Option<UnixSeconds> =
            self.read_outbound(|conn| conn.client.query_one(OLDEST, &[])?.try_get(0)).ok()?;
        let mut pending = self.pending.borrow_mut();
        let held = pending.lines.iter().map(|line| line.now).min();
        let oldest = match (stored, held) {
            (Some(stored), Some(held)) => Some(stored.min(held)),
            (stored, held) => stored.or(held),
        };
        pending.oldest = Some(oldest);
        Some(oldest)
    }

    /// Forgets the oldest timestamp: the table may have changed behind what is known.
    pub(super) fn forget_oldest(&self) {
        self.pending.borrow_mut().oldest = None;
    }

    /// Drops the held lines unwritten (the batch is being discarded).
    pub(super) fn discard_pending(&self) {
        let mut pending = self.pending.borrow_mut();
        pending.lines.clear();
        pending.oldest = None;
    }

    /// Writes the held lines, if any; on failure, line by line (see the module docs).
    pub(super) fn flush_pending(&self) {
        let lines = std::mem::take(&mut self.pending.borrow_mut().lines);
        if lines.is_empty() {
            return;
        }
        let in_batch = self.batch_open.get();
        let begin = self.begins_batch();
        let together = lines.clone();
        let flushed =
            self.worker.run(move |conn| Ok(atomically(conn, in_batch, begin, |conn| write_lines(conn, &together))));
        if let Ok((_, batch_lost)) = &flushed {
            self.began(begin, *batch_lost);
        }
        match flushed {
            Ok((Ok(()), _)) => return,
            Ok((Err(_), true)) | Err(_) => {
                tracing::warn!(server = %self.server, "PostgreSQL aborted the open batch; its earlier operations are lost");
                self.batch_open.set(false);
            }
            Ok((Err(_), false)) => {}
        }
        self.forget_oldest();
        for line in lines {
            let (username, message, now) = (line.username.clone(), line.message.clone(), line.now);
            let result = if self.batch_open.get() {
                self.write_outbound(move |conn| {
                    for (statement, params) in [
                        (sql::UPSERT_CHATTER, vec![&username as &(dyn postgres::types::ToSql + Sync), &now]),
                        (sql::INSERT_LINE, vec![&now, &username, &message]),
                    ] {
                        let statement = conn.statement(statement)?;
                        conn.client.execute(&statement, &params)?;
                    }
                    Ok(())
                })
            } else {
                Err(StoreError::new(StoreErrorKind::BatchLost))
            };
            if let Err(error) = result {
                self.pending.borrow_mut().rejected.push(DeferredChatError {
                    username: line.username,
                    message: line.message,
                    now: line.now,
                    error,
                });
            }
        }
        self.forget_oldest();
    }

    /// See [`super::super::SqliteStore::take_deferred_errors`].
    pub fn take_deferred_errors(&mut self) -> Vec<DeferredChatError> {
        std::mem::take(&mut self.pending.borrow_mut().rejected)
    }
}

/// Counts the lines for their users (one folded row each) and appends them, in order.
fn write_lines(conn: &mut super::worker::Conn, lines: &[PendingLine]) -> Result<(), postgres::Error> {
    let tallies = tally(lines.iter().map(|line| (line.username.as_str(), line.now)));
    let users: Vec<&str> = tallies.keys().copied().collect();
    let firsts: Vec<i64> = tallies.values().map(|t| t.first).collect();
    let lasts: Vec<i64> = tallies.values().map(|t| t.last).collect();
    let counts: Vec<i64> = tallies.values().map(|t| t.lines).collect();
    let count = conn.statement(COUNT_LINES)?;
    conn.client.execute(&count, &[&users, &firsts, &lasts, &counts])?;
    let times: Vec<i64> = lines.iter().map(|line| line.now).collect();
    let names: Vec<&str> = lines.iter().map(|line| line.username.as_str()).collect();
    let messages: Vec<&str> = lines.iter().map(|line| line.message.as_str()).collect();
    let insert = conn.statement(INSERT_LINES)?;
    conn.client.execute(&insert, &[&times, &names, &messages])?;
    Ok(())
}
