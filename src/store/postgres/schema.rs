//! The schema on PostgreSQL: v0.5.0's eight tables with their names, columns, defaults,
//! CHECKs and indexes, in PostgreSQL's types, plus the additive tables SQLite creates on
//! demand (`enqueue_requests`, `delivery_progress`) and `rosey_schema`, which holds the
//! version SQLite keeps in `PRAGMA user_version`.
//!
//! Types: SQLite's `INTEGER` columns are `BIGINT` (i64, as SQLite stores them), `REAL` is
//! `DOUBLE PRECISION`, `TEXT` is `TEXT`, and `INTEGER PRIMARY KEY AUTOINCREMENT` is
//! `BIGSERIAL`. Our inserts take their ids from `rosey_sequence`, a counter row per table
//! updated in the inserting transaction, as SQLite's `sqlite_sequence` is: ids in insert
//! order, never reused, and an id a rolled-back (or crashed) transaction drew is handed
//! out again, so ids match SQLite's exactly (a `BIGSERIAL`'s sequence is outside
//! transactions and would leave gaps). The `BIGSERIAL` default stays for other writers.

use postgres::Client;

use super::super::error::{StoreError, StoreErrorKind};
use super::super::schema::TABLES;
use super::super::{UnixSeconds, SCHEMA_VERSION};

pub(super) const DDL: &str = "
CREATE TABLE IF NOT EXISTS user_stats (
    username TEXT PRIMARY KEY,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    total_chat_lines BIGINT DEFAULT 0,
    total_time_connected BIGINT DEFAULT 0,
    current_session_start BIGINT
);
CREATE TABLE IF NOT EXISTS user_actions (
    id BIGSERIAL PRIMARY KEY,
    timestamp BIGINT NOT NULL,
    username TEXT NOT NULL,
    action_type TEXT NOT NULL,
    details TEXT
);
CREATE TABLE IF NOT EXISTS channel_stats (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    max_users BIGINT DEFAULT 0,
    max_users_timestamp BIGINT,
    max_connected BIGINT DEFAULT 0,
    max_connected_timestamp BIGINT,
    last_updated BIGINT
);
CREATE TABLE IF NOT EXISTS user_count_history (
    id BIGSERIAL PRIMARY KEY,
    timestamp BIGINT NOT NULL,
    chat_users BIGINT NOT NULL,
    connected_users BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_user_count_timestamp ON user_count_history(timestamp);
CREATE TABLE IF NOT EXISTS recent_chat (
    id BIGSERIAL PRIMARY KEY,
    timestamp BIGINT NOT NULL,
    username TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_recent_chat_timestamp ON recent_chat(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_recent_chat_timestamp_id ON recent_chat(timestamp DESC, id DESC);
CREATE TABLE IF NOT EXISTS current_status (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    bot_name TEXT,
    bot_rank DOUBLE PRECISION,
    bot_afk BIGINT DEFAULT 0,
    channel_name TEXT,
    current_chat_users BIGINT DEFAULT 0,
    current_connected_users BIGINT DEFAULT 0,
    playlist_items BIGINT DEFAULT 0,
    current_media_title TEXT,
    current_media_duration BIGINT,
    bot_start_time BIGINT,
    bot_connected BIGINT DEFAULT 0,
    last_updated BIGINT
);
CREATE TABLE IF NOT EXISTS outbound_messages (
    id BIGSERIAL PRIMARY KEY,
    timestamp BIGINT NOT NULL,
    message TEXT NOT NULL,
    sent BIGINT DEFAULT 0,
    sent_timestamp BIGINT,
    retry_count BIGINT DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS idx_outbound_sent ON outbound_messages(sent, timestamp);
CREATE TABLE IF NOT EXISTS api_tokens (
    token TEXT PRIMARY KEY,
    description TEXT,
    created_at BIGINT NOT NULL,
    last_used BIGINT,
    revoked BIGINT DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_api_tokens_revoked ON api_tokens(revoked, token);
CREATE TABLE IF NOT EXISTS enqueue_requests (
    request_id TEXT PRIMARY KEY,
    outbound_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivery_progress (
    stream TEXT PRIMARY KEY,
    applied_seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rosey_sequence (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rosey_schema (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
";

/// The tables whose ids `rosey_sequence` hands out.
pub(super) const SEQUENCED: [&str; 4] = ["user_actions", "user_count_history", "recent_chat", "outbound_messages"];

/// Serialises schema creation between db-services starting together: concurrent
/// `CREATE TABLE IF NOT EXISTS` can otherwise collide in PostgreSQL's catalog.
const MIGRATION_LOCK: i64 = 0x726f_7365_795f_6d69; // "rosey_mi"

/// Creates the schema or checks an existing one, in one transaction: a database with a
/// newer version, or with one of our tables missing a column, is left untouched.
pub(super) fn migrate(client: &mut Client, now: UnixSeconds) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(StoreError::postgres)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(StoreError::postgres)?;
    let found = version(&mut tx)?;
    if let Some(found) = found {
        if found > SCHEMA_VERSION {
            return Err(StoreError::new(StoreErrorKind::NewerSchema { found, supported: SCHEMA_VERSION }));
        }
    }
    tx.batch_execute(DDL).map_err(StoreError::postgres)?;
    for table in &TABLES {
        let have: Vec<String> = tx
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&table.name],
            )
            .map_err(StoreError::postgres)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(missing) = table.columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Err(StoreError::new(StoreErrorKind::SchemaMismatch {
                detail: format!("table {} has no column {missing}", table.name),
            }));
        }
    }
    tx.execute(
        "INSERT INTO channel_stats (id, max_users, last_updated) VALUES (1, 0, $1) ON CONFLICT DO NOTHING",
        &[&now],
    )
    .map_err(StoreError::postgres)?;
    tx.execute("INSERT INTO current_status (id, last_updated) VALUES (1, $1) ON CONFLICT DO NOTHING", &[&now])
        .map_err(StoreError::postgres)?;
    for table in SEQUENCED {
        tx.execute(
            &format!(
                "INSERT INTO rosey_sequence (name, seq) SELECT $1, COALESCE(MAX(id), 0) FROM \"{table}\" \
                 ON CONFLICT (name) DO NOTHING"
            ),
            &[&table],
        )
        .map_err(StoreError::postgres)?;
    }
    tx.execute(
        "INSERT INTO rosey_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = $1",
        &[&SCHEMA_VERSION],
    )
    .map_err(StoreError::postgres)?;
    if found != Some(SCHEMA_VERSION) {
        tracing::info!(from = ?found, to = SCHEMA_VERSION, "PostgreSQL schema created or upgraded");
    }
    tx.commit().map_err(StoreError::postgres)
}

/// The version in `rosey_schema`, `None` before the first migration.
pub(super) fn version(client: &mut impl postgres::GenericClient) -> Result<Option<i64>, StoreError> {
    let exists: bool =
        client.query_one("SELECT to_regclass('rosey_schema') IS NOT NULL", &[]).map_err(StoreError::postgres)?.get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt("SELECT version FROM rosey_schema WHERE id = 1", &[]).map_err(StoreError::postgres)?;
    Ok(row.map(|row| row.get(0)))
}
