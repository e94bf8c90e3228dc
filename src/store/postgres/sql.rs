//! The store's statements in PostgreSQL's dialect, one for each SQLite statement of the
//! same name in `store::{sessions, chat, stats, outbound, delivery}`, with the same effect.
//!
//! Dialect notes: `$n` parameters; SQLite's two-argument `MAX` is `GREATEST` (which skips
//! NULLs where `MAX` returns NULL; every use is inside `COALESCE` or behind `IS NOT NULL`,
//! so the results agree); `ON CONFLICT ... DO UPDATE` names the old row through the
//! table's alias; a subquery in `FROM` needs an alias; text keys sort with `COLLATE "C"`,
//! byte order, as SQLite's `BINARY`; ids come from `rosey_sequence` in the inserting
//! transaction, as SQLite's `AUTOINCREMENT` takes them from `sqlite_sequence` (see
//! `schema`).

pub(super) const JOIN: &str = "
INSERT INTO user_stats AS u (username, first_seen, last_seen, current_session_start)
VALUES ($1, $2, $2, $2)
ON CONFLICT (username) DO UPDATE SET
    total_time_connected = COALESCE(u.total_time_connected, 0)
        + COALESCE(GREATEST(0, excluded.current_session_start - u.current_session_start), 0),
    last_seen = excluded.last_seen,
    current_session_start = excluded.current_session_start";

pub(super) const LEAVE: &str = "
UPDATE user_stats SET
    total_time_connected = COALESCE(total_time_connected, 0) + GREATEST(0, $2 - current_session_start),
    current_session_start = NULL,
    last_seen = $2
WHERE username = $1 AND current_session_start IS NOT NULL";

pub(super) const CLOSE_ALL: &str = "
UPDATE user_stats SET
    total_time_connected = COALESCE(total_time_connected, 0) + GREATEST(0, $1 - current_session_start),
    current_session_start = NULL,
    last_seen = $1
WHERE current_session_start IS NOT NULL";

pub(super) const UPSERT_CHATTER: &str = "
INSERT INTO user_stats AS u (username, first_seen, last_seen, total_chat_lines)
VALUES ($1, $2, $2, 1)
ON CONFLICT (username) DO UPDATE SET
    total_chat_lines = COALESCE(u.total_chat_lines, 0) + 1,
    last_seen = excluded.last_seen";

pub(super) const INSERT_LINE: &str = "
WITH next AS (UPDATE rosey_sequence SET seq = seq + 1 WHERE name = 'recent_chat' RETURNING seq)
INSERT INTO recent_chat (id, timestamp, username, message) SELECT seq, $1, $2, $3 FROM next";

pub(super) const EXPIRE: &str = "DELETE FROM recent_chat WHERE timestamp < $1";

pub(super) const RECENT: &str = "
SELECT timestamp, username, message FROM (
    SELECT id, timestamp, username, message FROM recent_chat
    ORDER BY timestamp DESC, id DESC LIMIT $1
) AS newest ORDER BY timestamp, id";

pub(super) const LOG_COUNT: &str = "
WITH next AS (UPDATE rosey_sequence SET seq = seq + 1 WHERE name = 'user_count_history' RETURNING seq)
INSERT INTO user_count_history (id, timestamp, chat_users, connected_users) SELECT seq, $1, $2, $3 FROM next";

/// `$2` is typed explicitly: PostgreSQL cannot infer a type for a parameter that is only
/// ever compared.
pub(super) const HIGH_WATER: &str = "
UPDATE channel_stats SET
    max_users = CASE WHEN $1 > COALESCE(max_users, 0) THEN $1 ELSE max_users END,
    max_users_timestamp =
        CASE WHEN $1 > COALESCE(max_users, 0) THEN $3 ELSE max_users_timestamp END,
    max_connected = CASE WHEN $2::BIGINT <> 0 AND $2::BIGINT > COALESCE(max_connected, 0)
        THEN $2::BIGINT ELSE max_connected END,
    max_connected_timestamp = CASE WHEN $2::BIGINT <> 0 AND $2::BIGINT > COALESCE(max_connected, 0)
        THEN $3 ELSE max_connected_timestamp END,
    last_updated = $3
WHERE id = 1 AND ($1 > COALESCE(max_users, 0)
    OR ($2::BIGINT <> 0 AND $2::BIGINT > COALESCE(max_connected, 0)))";

pub(super) const ENQUEUE: &str = "
WITH next AS (UPDATE rosey_sequence SET seq = seq + 1 WHERE name = 'outbound_messages' RETURNING seq)
INSERT INTO outbound_messages (id, timestamp, message, sent) SELECT seq, $1, $2, 0 FROM next RETURNING id";

pub(super) const KNOWN_REQUEST: &str = "SELECT outbound_id FROM enqueue_requests WHERE request_id = $1";

pub(super) const RECORD_REQUEST: &str = "INSERT INTO enqueue_requests (request_id, outbound_id) VALUES ($1, $2)";

pub(super) const CANDIDATES: &str = "
SELECT id, timestamp, message, retry_count, last_error FROM outbound_messages
WHERE sent = 0 AND retry_count < $1
ORDER BY timestamp, id";

pub(super) const MARK_SENT: &str =
    "UPDATE outbound_messages SET sent = 1, sent_timestamp = $2 WHERE id = $1 AND sent = 0";

pub(super) const MARK_FAILED_PERMANENT: &str = "
UPDATE outbound_messages
SET sent = 1, sent_timestamp = $3, retry_count = COALESCE(retry_count, 0) + 1, last_error = $2
WHERE id = $1 AND sent = 0";

pub(super) const MARK_FAILED_TRANSIENT: &str = "
UPDATE outbound_messages
SET retry_count = COALESCE(retry_count, 0) + 1, last_error = $2
WHERE id = $1 AND sent = 0";

pub(super) const APPLIED: &str = "SELECT applied_seq FROM delivery_progress WHERE stream = $1";

pub(super) const RECORD_APPLIED: &str = "
INSERT INTO delivery_progress AS d (stream, applied_seq) VALUES ($1, $2)
ON CONFLICT (stream) DO UPDATE SET applied_seq = GREATEST(d.applied_seq, excluded.applied_seq)";
