//! One store suite, run against both backends: SQLite (in memory) and a real PostgreSQL
//! (a throw-away cluster per test, `rosey_sim::postgres_server`). Every case goes through
//! the public [`Store`] interface and reads results back with [`Store::dump`], so the same
//! assertions hold the two to contract section 5's semantics: sessions and time connected,
//! chat lines and their 150 h retention, the high-water marks, the status row, the
//! outbound queue's backoff and marks, batches, and JetStream's applied sequence.
//!
//! The SQLite-only details (held chat lines, savepoint recovery after SQLite gives a
//! transaction up, v0.5.0 files) stay in the unit tests beside the SQLite code.

use rosey::store::{DbDump, DbLocation, Store, StoreErrorKind, SCHEMA_VERSION};
use rosey_sim::postgres_server::PostgresServer;
use serde_json::{json, Map, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Declares each case once and runs it as `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_backends {
    ($(fn $name:ident($store:ident) $body:block)*) => {
        mod cases {
            use super::*;
            $(pub fn $name($store: &mut Store) -> TestResult $body)*
        }
        mod sqlite {
            $(#[test]
            fn $name() -> super::TestResult {
                let mut store = rosey::store::Store::open_in_memory(0)?;
                super::cases::$name(&mut store)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() -> super::TestResult {
                let server = rosey_sim::postgres_server::PostgresServer::start();
                let mut store = super::connect(&server)?;
                super::cases::$name(&mut store)
            })*
        }
    };
}

fn connect(server: &PostgresServer) -> Result<Store, rosey::store::StoreError> {
    Store::connect(&DbLocation::parse(&server.url()), 0)
}

/// The row of `table` whose first column is `key`, as JSON values.
fn row(dump: &DbDump, table: &str, key: Value) -> Option<Vec<Value>> {
    dump.table(table)?.rows.iter().find(|row| row.first() == Some(&key)).cloned()
}

fn rows(dump: &DbDump, table: &str) -> Vec<Vec<Value>> {
    dump.table(table).map(|t| t.rows.clone()).unwrap_or_default()
}

/// (first_seen, last_seen, total_chat_lines, total_time_connected, current_session_start)
fn user(store: &Store, name: &str) -> Result<Option<Vec<Value>>, rosey::store::StoreError> {
    Ok(row(&store.dump()?, "user_stats", json!(name)).map(|row| row[1..].to_vec()))
}

fn status_fields(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

on_both_backends! {
    fn sessions_add_up_and_rejoins_count_the_open_one(store) {
        store.user_joined("Alice", 100)?;
        assert_eq!(user(store, "Alice")?, Some(vec![json!(100), json!(100), json!(0), json!(0), json!(100)]));
        assert_eq!(user(store, "alice")?, None, "usernames are case-sensitive");
        store.user_left("Alice", 160)?;
        store.user_joined("Alice", 200)?;
        store.user_joined("Alice", 230)?;
        store.user_left("Alice", 240)?;
        assert_eq!(user(store, "Alice")?, Some(vec![json!(100), json!(240), json!(0), json!(100), Value::Null]));
        store.user_left("Alice", 900)?;
        store.user_left("ghost", 900)?;
        assert_eq!(user(store, "Alice")?.map(|u| u[1].clone()), Some(json!(240)), "no open session, no change");
        assert_eq!(user(store, "ghost")?, None);
        Ok(())
    }

    fn a_clock_stepping_back_never_subtracts_time(store) {
        store.user_joined("alice", 100)?;
        store.user_left("alice", 90)?;
        assert_eq!(user(store, "alice")?, Some(vec![json!(100), json!(90), json!(0), json!(0), Value::Null]));
        store.user_joined("", 100)?;
        assert_eq!(rows(&store.dump()?, "user_stats").len(), 1, "an empty username is ignored");
        Ok(())
    }

    fn close_ends_every_open_session_and_commits(store) {
        store.user_joined("alice", 100)?;
        store.user_joined("bob", 150)?;
        store.user_joined("carol", 120)?;
        store.user_left("carol", 130)?;
        store.begin_batch()?;
        store.close(200)?;
        assert!(!store.in_batch());
        assert_eq!(user(store, "alice")?, Some(vec![json!(100), json!(200), json!(0), json!(100), Value::Null]));
        assert_eq!(user(store, "bob")?, Some(vec![json!(150), json!(200), json!(0), json!(50), Value::Null]));
        assert_eq!(user(store, "carol")?, Some(vec![json!(120), json!(130), json!(0), json!(10), Value::Null]));
        Ok(())
    }

    fn chat_counts_lines_and_skips_what_is_not_chat(store) {
        assert!(store.user_chat_message("bob", "hi", 10)?);
        assert!(store.user_chat_message("bob", "again", 12)?);
        assert!(!store.user_chat_message("[server]", "restart", 13)?);
        assert!(!store.user_chat_message("", "x", 13)?);
        assert!(!store.user_chat_message("bob", "", 13)?);
        assert_eq!(user(store, "bob")?, Some(vec![json!(10), json!(12), json!(2), json!(0), Value::Null]));
        let chat = rows(&store.dump()?, "recent_chat");
        assert_eq!(chat, vec![
            vec![json!(1), json!(10), json!("bob"), json!("hi")],
            vec![json!(2), json!(12), json!("bob"), json!("again")],
        ]);
        Ok(())
    }

    fn recent_chat_is_the_newest_lines_oldest_first_ties_by_id(store) {
        for (i, at) in [5, 7, 7, 9].into_iter().enumerate() {
            store.user_chat_message("u", &format!("line {i}"), at)?;
        }
        let newest: Vec<String> = store.recent_chat(3)?.into_iter().map(|c| c.message).collect();
        assert_eq!(newest, ["line 1", "line 2", "line 3"]);
        assert!(store.recent_chat(-1)?.is_empty(), "a negative limit is 0");
        Ok(())
    }

    fn retention_drops_lines_older_than_150_hours(store) {
        store.user_chat_message("old", "first", 1_000)?;
        store.user_chat_message("mid", "second", 2_000)?;
        store.user_chat_message("new", "third", 1_000 + 150 * 3600 + 1)?;
        let kept: Vec<Value> = rows(&store.dump()?, "recent_chat").into_iter().map(|r| r[3].clone()).collect();
        assert_eq!(kept, [json!("second"), json!("third")]);
        assert_eq!(user(store, "old")?.map(|u| u[2].clone()), Some(json!(1)), "counts stay");
        Ok(())
    }

    fn high_water_marks_move_only_when_beaten(store) {
        store.update_high_water_mark(5, Some(7), 100)?;
        store.update_high_water_mark(4, Some(0), 110)?;
        store.update_high_water_mark(5, None, 120)?;
        let marks = row(&store.dump()?, "channel_stats", json!(1)).ok_or("no channel_stats row")?;
        assert_eq!(marks, vec![json!(1), json!(5), json!(100), json!(7), json!(100), json!(100)]);
        store.update_high_water_mark(3, Some(9), 130)?;
        let marks = row(&store.dump()?, "channel_stats", json!(1)).ok_or("no channel_stats row")?;
        assert_eq!(marks, vec![json!(1), json!(5), json!(100), json!(9), json!(130), json!(130)]);
        store.log_user_count(3, 9, 131)?;
        assert_eq!(rows(&store.dump()?, "user_count_history"), vec![vec![json!(1), json!(131), json!(3), json!(9)]]);
        Ok(())
    }

    fn status_takes_known_fields_only_and_typed_as_sqlite_stores_them(store) {
        assert!(!store.update_current_status(&status_fields(json!({"unknown": 1})), 50)?);
        let fields = json!({"bot_name": "rosey", "bot_rank": 3, "bot_afk": true, "playlist_items": 4,
            "current_media_title": null, "extra": "ignored"});
        assert!(store.update_current_status(&status_fields(fields), 60)?);
        let status = row(&store.dump()?, "current_status", json!(1)).ok_or("no current_status row")?;
        assert_eq!(status, vec![json!(1), json!("rosey"), json!(3.0), json!(1), Value::Null, json!(0), json!(0),
            json!(4), Value::Null, Value::Null, Value::Null, json!(0), json!(60)]);
        let refused = store.update_current_status(&status_fields(json!({"bot_name": "x", "bot_rank": [1]})), 70);
        assert!(matches!(refused.map_err(|e| e.kind().clone()), Err(StoreErrorKind::InvalidStatusValue { .. })));
        let after = row(&store.dump()?, "current_status", json!(1)).ok_or("no current_status row")?;
        assert_eq!(after, status, "nothing of a refused update is written");
        Ok(())
    }

    fn outbound_backoff_marks_and_retries(store) {
        let first = store.enqueue_outbound_message("hello", 0)?;
        let second = store.enqueue_outbound_message("world", 0)?;
        assert!(matches!(store.enqueue_outbound_message("", 0).map_err(|e| e.kind().clone()), Err(StoreErrorKind::EmptyMessage)));
        let due = |store: &Store, now| -> Result<Vec<i64>, rosey::store::StoreError> {
            Ok(store.get_unsent_outbound_messages(50, 3, now)?.into_iter().map(|m| m.id).collect())
        };
        assert_eq!(due(store, 0)?, [first, second]);
        assert!(store.mark_outbound_failed(first, "muted", false, 10)?);
        assert_eq!(due(store, 119)?, [second], "one failure waits 2 minutes from the enqueue");
        assert_eq!(due(store, 120)?, [first, second]);
        assert!(store.mark_outbound_sent(second, 130)?);
        assert!(!store.mark_outbound_sent(second, 140)?, "a repeated mark changes nothing");
        assert!(store.mark_outbound_failed(first, "muted", false, 150)?);
        assert!(store.mark_outbound_failed(first, "gone", true, 500)?);
        assert!(due(store, 10_000)?.is_empty());
        let queue = rows(&store.dump()?, "outbound_messages");
        assert_eq!(queue, vec![
            vec![json!(first), json!(0), json!("hello"), json!(1), json!(500), json!(3), json!("gone")],
            vec![json!(second), json!(0), json!("world"), json!(1), json!(130), json!(0), Value::Null],
        ]);
        Ok(())
    }

    fn an_enqueue_retried_with_its_request_id_adds_one_row(store) {
        let first = store.enqueue_outbound_message_once("bot-1-e1", "hello", 10)?;
        let again = store.enqueue_outbound_message_once("bot-1-e1", "hello", 12)?;
        let other = store.enqueue_outbound_message_once("bot-1-e2", "hello", 12)?;
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_eq!(rows(&store.dump()?, "outbound_messages").len(), 2);
        Ok(())
    }

    fn a_batch_commits_whole_or_is_aborted_whole(store) {
        store.begin_batch()?;
        store.begin_batch()?;
        store.user_joined("alice", 10)?;
        store.user_chat_message("alice", "in the batch", 11)?;
        store.log_user_count(9, 9, 11)?;
        assert_eq!(store.recent_chat(5)?.len(), 1, "reads inside a batch see its writes");
        store.abort_batch();
        assert!(!store.in_batch());
        assert_eq!(user(store, "alice")?, None, "an aborted batch leaves nothing");
        assert!(store.recent_chat(5)?.is_empty());
        store.begin_batch()?;
        store.user_joined("bob", 20)?;
        assert!(store.enqueue_outbound_message("", 21).is_err(), "a failed operation");
        store.log_user_count(1, 1, 22)?;
        store.commit_batch()?;
        store.commit_batch()?;
        store.user_chat_message("bob", "after", 23)?;
        let dump = store.dump()?;
        assert!(row(&dump, "user_stats", json!("bob")).is_some(), "the batch survives a failed operation");
        assert_eq!(rows(&dump, "user_count_history"), vec![vec![json!(1), json!(22), json!(1), json!(1)]],
            "the aborted batch's id is handed out again, as AUTOINCREMENT does");
        assert_eq!(rows(&dump, "recent_chat")[0][0], json!(1));
        Ok(())
    }

    fn the_applied_stream_sequence_only_rises(store) {
        store.prepare_delivery()?;
        assert_eq!(store.applied_stream_seq("ROSEY")?, 0);
        store.record_applied_seq("ROSEY", 40)?;
        store.record_applied_seq("ROSEY", 12)?;
        store.record_applied_seq("ROSEY_OUTBOUND", 3)?;
        assert_eq!(store.applied_stream_seq("ROSEY")?, 40);
        assert_eq!(store.applied_stream_seq("ROSEY_OUTBOUND")?, 3);
        store.begin_batch()?;
        store.record_applied_seq("ROSEY", 41)?;
        store.abort_batch();
        assert_eq!(store.applied_stream_seq("ROSEY")?, 40, "rolled back with its batch");
        Ok(())
    }

    fn the_schema_version_is_recorded(store) {
        assert_eq!(store.schema_version()?, SCHEMA_VERSION);
        Ok(())
    }
}

/// A second db-service opening the same PostgreSQL database finds the schema in place
/// and the rows kept; the singleton rows are not reset.
#[test]
fn postgres_reopens_an_existing_database_unchanged() -> TestResult {
    let server = PostgresServer::start();
    let before = {
        let mut store = connect(&server)?;
        store.user_joined("alice", 10)?;
        store.update_high_water_mark(4, Some(5), 11)?;
        store.enqueue_outbound_message("hi", 12)?;
        store.dump()?
    };
    let store = Store::connect(&DbLocation::parse(&server.url()), 999)?;
    assert_eq!(store.dump()?, before);
    assert_eq!(store.schema_version()?, SCHEMA_VERSION);
    Ok(())
}

/// A wrong password is refused with an error that names the server but never the password.
#[test]
fn postgres_errors_never_show_the_password() {
    let server = PostgresServer::start();
    let url = format!("postgres://nobody:s3cret-pw@127.0.0.1:{}/missing_db", server.port());
    let err = Store::connect(&DbLocation::parse(&url), 0).expect_err("no such database");
    let mut shown = format!("{err} / {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        shown.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(shown.contains("nobody:***@127.0.0.1"), "{shown}");
}

/// PostgreSQL holds a batch's chat lines and writes them together; when that write fails
/// it applies them one by one, so exactly the failing line is rejected (reported as a
/// deferred error) and the rest of the batch stays.
#[test]
fn postgres_rejects_exactly_the_held_line_that_fails() -> TestResult {
    let server = PostgresServer::start();
    let mut store = connect(&server)?;
    server.execute(
        rosey_sim::postgres_server::DATABASE,
        "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN
             IF NEW.message = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse_boom BEFORE INSERT ON recent_chat FOR EACH ROW EXECUTE FUNCTION refuse_boom();",
    );
    store.begin_batch()?;
    store.user_joined("alice", 10)?;
    for (message, at) in [("one", 11), ("boom", 12), ("three", 13)] {
        assert!(store.user_chat_message("alice", message, at)?, "held: accepted now, written later");
    }
    store.commit_batch()?;
    let rejected = store.take_deferred_errors();
    assert_eq!(rejected.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(), ["boom"]);
    let dump = store.dump()?;
    let kept: Vec<Value> = rows(&dump, "recent_chat").into_iter().map(|r| r[3].clone()).collect();
    assert_eq!(kept, [json!("one"), json!("three")]);
    assert_eq!(user(&store, "alice")?.map(|u| u[2].clone()), Some(json!(2)), "two lines counted");
    Ok(())
}
