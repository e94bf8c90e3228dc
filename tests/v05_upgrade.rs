//! A database written by Rosey v0.5.0 opens, upgrades in place, keeps its
//! rows and takes a replay: real users have years of stats in those files.

use rosey::bot::Protocol;
use rosey::fixture::Fixture;
use rosey::store::{Store, SCHEMA_VERSION};
use rosey::trace::Trace;
use rosey_sim::direct::run_direct;

/// v0.5.0's DDL as an older install created it: outbound_messages without
/// retry_count/last_error, channel_stats without max_connected (added later by
/// v0.5.0's own ALTER TABLE upgrades).
const V05_DDL: &str = "
CREATE TABLE user_stats (username TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
  total_chat_lines INTEGER DEFAULT 0, total_time_connected INTEGER DEFAULT 0, current_session_start INTEGER);
CREATE TABLE user_actions (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, username TEXT NOT NULL,
  action_type TEXT NOT NULL, details TEXT);
CREATE TABLE channel_stats (id INTEGER PRIMARY KEY CHECK (id = 1), max_users INTEGER DEFAULT 0,
  max_users_timestamp INTEGER, last_updated INTEGER);
CREATE TABLE user_count_history (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL,
  chat_users INTEGER NOT NULL, connected_users INTEGER NOT NULL);
CREATE INDEX idx_user_count_timestamp ON user_count_history(timestamp);
CREATE TABLE recent_chat (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, username TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE INDEX idx_recent_chat_timestamp ON recent_chat(timestamp DESC);
CREATE TABLE current_status (id INTEGER PRIMARY KEY CHECK (id = 1), bot_name TEXT, bot_rank REAL, bot_afk INTEGER DEFAULT 0,
  channel_name TEXT, current_chat_users INTEGER DEFAULT 0, current_connected_users INTEGER DEFAULT 0,
  playlist_items INTEGER DEFAULT 0, current_media_title TEXT, current_media_duration INTEGER, bot_start_time INTEGER,
  bot_connected INTEGER DEFAULT 0, last_updated INTEGER);
CREATE TABLE outbound_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, message TEXT NOT NULL,
  sent INTEGER DEFAULT 0, sent_timestamp INTEGER);
CREATE INDEX idx_outbound_sent ON outbound_messages(sent, timestamp);
CREATE TABLE api_tokens (token TEXT PRIMARY KEY, description TEXT, created_at INTEGER NOT NULL, last_used INTEGER,
  revoked INTEGER DEFAULT 0);
CREATE INDEX idx_api_tokens_revoked ON api_tokens(revoked, token);
INSERT INTO channel_stats (id, max_users, last_updated) VALUES (1, 40, 1600000000);
INSERT INTO current_status (id, last_updated) VALUES (1, 1600000000);
INSERT INTO user_stats VALUES ('alice', 1500000000, 1600000000, 1234, 987654, NULL);
INSERT INTO user_stats VALUES ('oldtimer', 1400000000, 1500000000, 42, 3600, NULL);
INSERT INTO recent_chat (timestamp, username, message) VALUES (1600000000, 'alice', 'years ago');
INSERT INTO outbound_messages (timestamp, message, sent, sent_timestamp) VALUES (1600000000, 'old news', 1, 1600000001);
INSERT INTO api_tokens VALUES ('tok', 'dashboard', 1500000000, NULL, 0);
";

#[test]
fn v05_database_upgrades_keeps_rows_and_takes_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot_data.db");
    rusqlite::Connection::open(&path).unwrap().execute_batch(V05_DDL).unwrap();

    let fixture =
        Fixture::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/chat/smoke.jsonl")).unwrap();
    let store = Store::open(&path, fixture.header.start_unix_ms / 1000).expect("a v0.5.0 file opens");
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let (_, store) = run_direct(&fixture, store, Protocol::Hardened, Trace::new(false));
    drop(store);

    let db = rusqlite::Connection::open(&path).unwrap();
    let alice: (i64, i64, i64) = db
        .query_row(
            "SELECT first_seen, total_chat_lines, total_time_connected FROM user_stats WHERE username = 'alice'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(alice.0, 1_500_000_000, "first_seen of an old user is kept");
    assert!(alice.1 >= 1234 && alice.2 >= 987_654, "old totals are kept (and may grow): {alice:?}");
    let oldtimer: i64 =
        db.query_row("SELECT total_chat_lines FROM user_stats WHERE username = 'oldtimer'", [], |r| r.get(0)).unwrap();
    assert_eq!(oldtimer, 42);
    let max_users: i64 = db.query_row("SELECT max_users FROM channel_stats", [], |r| r.get(0)).unwrap();
    assert_eq!(max_users, 40, "a high-water mark the smoke fixture does not beat is kept");
    let old: (String, i64, i64) = db
        .query_row("SELECT message, sent, retry_count FROM outbound_messages WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(old, ("old news".into(), 1, 0), "old outbound rows gain retry_count = 0");
    let tokens: i64 = db.query_row("SELECT COUNT(*) FROM api_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(tokens, 1);
    let new_users: i64 =
        db.query_row("SELECT COUNT(*) FROM user_stats WHERE first_seen >= 1700000000", [], |r| r.get(0)).unwrap();
    assert!(new_users > 0, "the replay added its users");
    let recent: i64 = db.query_row("SELECT COUNT(*) FROM recent_chat", [], |r| r.get(0)).unwrap();
    assert!(recent > 1, "the replay added chat (the 2020 line ages out by retention)");
}
