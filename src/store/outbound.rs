//! The outbound queue: messages the bot is to say in chat, with retry backoff and marks.
//!
//! A message is eligible while it is unsent, has been tried fewer than `max_retries`
//! times, and either was never tried or waited `2^retry_count` minutes since it was
//! enqueued (the backoff counts from the enqueue time, as v0.5.0). Marks change only
//! unsent rows, so a repeated mark (a lost acknowledgement retried) moves nothing.

use serde::{Deserialize, Serialize};

use super::error::{StoreError, StoreErrorKind};
use super::{SqliteStore, UnixSeconds};

const ENQUEUE: &str = "INSERT INTO outbound_messages (timestamp, message, sent) VALUES (?1, ?2, 0)";

pub(super) const CREATE_ENQUEUE_REQUESTS: &str = "CREATE TABLE IF NOT EXISTS enqueue_requests (
    request_id TEXT PRIMARY KEY,
    outbound_id INTEGER NOT NULL
)";

const KNOWN_REQUEST: &str = "SELECT outbound_id FROM enqueue_requests WHERE request_id = ?1";

const RECORD_REQUEST: &str = "INSERT INTO enqueue_requests (request_id, outbound_id) VALUES (?1, ?2)";

/// Candidates in queue order; the backoff is checked in Rust (see [`backoff_over`]).
const CANDIDATES: &str = "
SELECT id, timestamp, message, retry_count, last_error FROM outbound_messages
WHERE sent = 0 AND retry_count < ?1
ORDER BY timestamp, id";

const MARK_SENT: &str = "UPDATE outbound_messages SET sent = 1, sent_timestamp = ?2 WHERE id = ?1 AND sent = 0";

const MARK_FAILED_PERMANENT: &str = "
UPDATE outbound_messages
SET sent = 1, sent_timestamp = ?3, retry_count = COALESCE(retry_count, 0) + 1, last_error = ?2
WHERE id = ?1 AND sent = 0";

const MARK_FAILED_TRANSIENT: &str = "
UPDATE outbound_messages
SET retry_count = COALESCE(retry_count, 0) + 1, last_error = ?2
WHERE id = ?1 AND sent = 0";

/// One queued message, as the `rosey.db.messages.outbound.get` reply carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The row id, which marks refer to.
    pub id: i64,
    /// When it was enqueued (Unix seconds); the backoff counts from here.
    pub timestamp: i64,
    /// The text to say.
    pub message: String,
    /// Failed attempts so far.
    pub retry_count: i64,
    /// The last failure's description, if any.
    pub last_error: Option<String>,
}

/// Whether the backoff of a message enqueued at `timestamp` and tried `retry_count` times
/// is over at `now`: `retry_count = 0 OR timestamp + (1 << retry_count) * 60 <= now`.
///
/// Computed in i128 so that no count overflows: from 64 tries on the wait exceeds any
/// span of `i64` seconds. A negative count waits nothing, as SQLite's `1 << -n` (= 0).
pub(super) fn backoff_over(timestamp: i64, retry_count: i64, now: UnixSeconds) -> bool {
    let wait: i128 = match retry_count {
        0 => return true,
        n if n < 0 => 0,
        n if n >= 64 => return false,
        n => (1i128 << n) * 60,
    };
    i128::from(timestamp) + wait <= i128::from(now)
}

impl SqliteStore {
    /// Queues `message` (stored as given; the caller trims) at `now`.
    ///
    /// # Returns
    /// The new row's id.
    ///
    /// # Errors
    /// [`StoreErrorKind::EmptyMessage`] for an empty message; no row is written.
    pub fn enqueue_outbound_message(&mut self, message: &str, now: UnixSeconds) -> Result<i64, StoreError> {
        if message.is_empty() {
            return Err(self.here(StoreError::new(StoreErrorKind::EmptyMessage)));
        }
        self.write_outbound(|conn| {
            conn.prepare_cached(ENQUEUE)?.execute((now, message))?;
            Ok(conn.last_insert_rowid())
        })
    }

    /// [`SqliteStore::enqueue_outbound_message`], at most once per `request_id`: a
    /// retry of a request whose reply was lost gets the first one's id back.
    /// The ids live in an additive table (`enqueue_requests`) that v0.5.0
    /// never reads, written in the enqueue's own transaction.
    pub fn enqueue_outbound_message_once(
        &mut self,
        request_id: &str,
        message: &str,
        now: UnixSeconds,
    ) -> Result<i64, StoreError> {
        if message.is_empty() {
            return Err(self.here(StoreError::new(StoreErrorKind::EmptyMessage)));
        }
        self.write_outbound(|conn| {
            conn.execute_batch(CREATE_ENQUEUE_REQUESTS)?;
            let known = conn.prepare_cached(KNOWN_REQUEST)?.query_row([request_id], |row| row.get::<_, i64>(0));
            match known {
                Ok(id) => return Ok(id),
                Err(rusqlite::Error::QueryReturnedNoRows) => {}
                Err(err) => return Err(err.into()),
            }
            conn.prepare_cached(ENQUEUE)?.execute((now, message))?;
            let id = conn.last_insert_rowid();
            conn.prepare_cached(RECORD_REQUEST)?.execute(rusqlite::params![request_id, id])?;
            Ok(id)
        })
    }

    /// Up to `limit` messages eligible at `now`, oldest first (by timestamp, then id).
    /// A negative `limit` is taken as 0.
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
        self.read_outbound(|conn| {
            let mut stmt = conn.prepare_cached(CANDIDATES)?;
            let rows = stmt.query_map([max_retries], |row| {
                Ok(OutboundMessage {
                    id: row.get(0)?,
                    timestamp: row.get(1)?,
                    message: row.get(2)?,
                    retry_count: row.get(3)?,
                    last_error: row.get(4)?,
                })
            })?;
            let mut due = Vec::new();
            for row in rows {
                let msg = row?;
                if backoff_over(msg.timestamp, msg.retry_count, now) {
                    due.push(msg);
                    if due.len() == limit {
                        break;
                    }
                }
            }
            Ok(due)
        })
    }

    /// Marks message `id` sent at `now`.
    ///
    /// # Returns
    /// Whether a row changed: `false` for an unknown id or one already sent (whose
    /// `sent_timestamp` stays).
    pub fn mark_outbound_sent(&mut self, id: i64, now: UnixSeconds) -> Result<bool, StoreError> {
        self.write_outbound(|conn| Ok(conn.prepare_cached(MARK_SENT)?.execute((id, now))? > 0))
    }

    /// Records a failed attempt of unsent message `id`: `retry_count` + 1 and
    /// `last_error`; a `permanent` failure also retires it (`sent` = 1, `sent_timestamp` =
    /// `now`). Returns whether a row changed.
    pub fn mark_outbound_failed(
        &mut self,
        id: i64,
        error: &str,
        permanent: bool,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.write_outbound(|conn| {
            let changed = if permanent {
                conn.prepare_cached(MARK_FAILED_PERMANENT)?.execute((id, error, now))?
            } else {
                conn.prepare_cached(MARK_FAILED_TRANSIENT)?.execute((id, error))?
            };
            Ok(changed > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn ids(store: &SqliteStore, max_retries: i64, now: i64) -> Result<Vec<i64>, StoreError> {
        let msgs = store.get_unsent_outbound_messages(50, max_retries, now)?;
        Ok(msgs.into_iter().map(|m| m.id).collect())
    }

    #[test]
    fn a_retried_enqueue_with_the_same_request_id_adds_one_row() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let first = store.enqueue_outbound_message_once("bot-1-e1", "hello", 10)?;
        let again = store.enqueue_outbound_message_once("bot-1-e1", "hello", 12)?;
        let other = store.enqueue_outbound_message_once("bot-1-e2", "hello", 12)?;
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_eq!(ids(&store, 3, 20)?, vec![first, other]);
        Ok(())
    }

    fn fail(store: &mut SqliteStore, id: i64, times: usize) -> Result<(), StoreError> {
        for _ in 0..times {
            store.mark_outbound_failed(id, "not connected", false, 0)?;
        }
        Ok(())
    }

    #[test]
    fn backoff_opens_at_exact_boundary() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let fresh = store.enqueue_outbound_message("fresh", 1000)?;
        let once = store.enqueue_outbound_message("once", 1000)?;
        let twice = store.enqueue_outbound_message("twice", 1000)?;
        fail(&mut store, once, 1)?;
        fail(&mut store, twice, 2)?;
        assert_eq!(ids(&store, 3, 1000)?, [fresh], "retry 0 is due at once");
        assert_eq!(ids(&store, 3, 1119)?, [fresh]);
        assert_eq!(ids(&store, 3, 1120)?, [fresh, once], "2 minutes after enqueue");
        assert_eq!(ids(&store, 3, 1239)?, [fresh, once]);
        assert_eq!(ids(&store, 3, 1240)?, [fresh, once, twice], "4 minutes");
        Ok(())
    }

    #[test]
    fn max_retries_cuts_off() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let id = store.enqueue_outbound_message("m", 0)?;
        fail(&mut store, id, 3)?;
        assert_eq!(ids(&store, 3, 1_000_000)?, Vec::<i64>::new());
        assert_eq!(ids(&store, 4, 1_000_000)?, [id]);
        assert_eq!(ids(&store, 0, 1_000_000)?, Vec::<i64>::new());
        Ok(())
    }

    #[test]
    fn huge_retry_counts_do_not_overflow() -> TestResult {
        assert!(!backoff_over(0, 63, i64::MAX));
        assert!(!backoff_over(i64::MIN, 64, i64::MAX));
        assert!(!backoff_over(i64::MAX, 1, i64::MAX));
        assert!(backoff_over(i64::MIN, 58, i64::MAX), "2^58 minutes fit in 2^64 s");
        assert!(!backoff_over(i64::MIN, 59, i64::MAX));
        assert!(backoff_over(5, -3, 5));
        let mut store = SqliteStore::open_in_memory(0)?;
        store.enqueue_outbound_message("m", 0)?;
        store.conn.execute("UPDATE outbound_messages SET retry_count = ?1", [i64::MAX - 1])?;
        assert_eq!(ids(&store, i64::MAX, i64::MAX)?, Vec::<i64>::new());
        Ok(())
    }

    #[test]
    fn queue_order_is_timestamp_then_id() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let late = store.enqueue_outbound_message("late", 20)?;
        let a = store.enqueue_outbound_message("a", 10)?;
        let b = store.enqueue_outbound_message("b", 10)?;
        assert_eq!(ids(&store, 3, 30)?, [a, b, late]);
        let first = store.get_unsent_outbound_messages(1, 3, 30)?;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].message, "a");
        assert!(store.get_unsent_outbound_messages(-5, 3, 30)?.is_empty());
        Ok(())
    }

    #[test]
    fn mark_sent_is_idempotent() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let id = store.enqueue_outbound_message("hi", 10)?;
        assert!(store.mark_outbound_sent(id, 11)?);
        assert!(!store.mark_outbound_sent(id, 99)?, "repeat changes nothing");
        assert!(!store.mark_outbound_sent(id + 100, 99)?, "unknown id");
        assert!(!store.mark_outbound_failed(id, "late", true, 99)?);
        let (sent, at, retries): (i64, i64, i64) = store.conn.query_row(
            "SELECT sent, sent_timestamp, retry_count FROM outbound_messages WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!((sent, at, retries), (1, 11, 0));
        assert!(ids(&store, 3, 1000)?.is_empty());
        Ok(())
    }

    #[test]
    fn permanent_failure_retires_transient_counts() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let soft = store.enqueue_outbound_message("soft", 0)?;
        let hard = store.enqueue_outbound_message("hard", 0)?;
        assert!(store.mark_outbound_failed(soft, "socket closed", false, 5)?);
        assert!(store.mark_outbound_failed(hard, "muted", true, 6)?);
        let got = store.get_unsent_outbound_messages(10, 3, 1000)?;
        assert_eq!(
            got,
            [OutboundMessage {
                id: soft,
                timestamp: 0,
                message: "soft".into(),
                retry_count: 1,
                last_error: Some("socket closed".into()),
            }]
        );
        let row: (i64, Option<i64>, i64, String) = store.conn.query_row(
            "SELECT sent, sent_timestamp, retry_count, last_error FROM outbound_messages \
             WHERE id = ?1",
            [hard],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        assert_eq!(row, (1, Some(6), 1, "muted".into()));
        Ok(())
    }

    #[test]
    fn empty_message_is_rejected_without_row() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let err = store.enqueue_outbound_message("", 1).err();
        assert_eq!(err.map(|e| e.kind().clone()), Some(StoreErrorKind::EmptyMessage));
        assert!(ids(&store, 3, 10)?.is_empty());
        assert_eq!(store.enqueue_outbound_message(" x ", 1)?, 1, "stored as given");
        Ok(())
    }
}
