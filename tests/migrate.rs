//! `rosey migrate`, the binary, between SQLite files and a real PostgreSQL: a v0.5.0 file
//! lands whole with its ids, the copy back equals the original, a second run writes
//! nothing, the source is never touched, ids are never handed out twice afterwards, and no
//! password is printed.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rosey::store::{DbDump, DbLocation, Snapshot, Store};
use rosey_sim::postgres_server::PostgresServer;
use serde_json::json;
use support::{load_fixture, run_within};

/// The replayed evening plus lines far enough apart that retention deletes the first:
/// the id sequence then runs ahead of the highest id left.
fn sqlite_source(path: &Path) -> DbDump {
    let fixture = load_fixture("evening.jsonl");
    let store = Store::open(path, fixture.header.start_unix_ms / 1000).unwrap();
    let (_, mut store) =
        rosey_sim::direct::run_direct(&fixture, store, rosey::bot::Protocol::Hardened, rosey::trace::Trace::new(false));
    let later = fixture.header.start_unix_ms / 1000 + 151 * 3600;
    store.user_chat_message("late", "after the retention window", later).unwrap();
    store.enqueue_outbound_message("nul\0in a message", later).unwrap();
    store.dump().unwrap()
}

fn migrate(from: &str, to: &str) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command.args(["migrate", "--quiet", "--from", from, "--to", to]);
    let (status, output) = run_within(&mut command, Duration::from_secs(120), "rosey migrate");
    assert!(status.success(), "rosey migrate failed:\n{output}");
    output
}

/// The `total` line's (rows, written).
fn totals(output: &str) -> (u64, u64) {
    let line =
        output.lines().find(|line| line.starts_with("total")).unwrap_or_else(|| panic!("no total in:\n{output}"));
    let numbers: Vec<u64> = line.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect();
    (numbers[0], numbers[1])
}

fn dump_of(location: &str) -> DbDump {
    Store::connect(&DbLocation::parse(location), 0).unwrap().dump().unwrap()
}

fn without_nul(mut dump: DbDump) -> DbDump {
    for value in dump.tables.iter_mut().flat_map(|t| t.rows.iter_mut()).flat_map(|row| row.iter_mut()) {
        if let serde_json::Value::String(text) = value {
            *text = text.replace('\0', "\u{FFFD}");
        }
    }
    dump
}

#[test]
fn sqlite_to_postgres_and_back_keeps_every_row_and_id_and_repeats_as_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("bot_data.db");
    let original = sqlite_source(&source);
    let source_bytes = std::fs::read(&source).unwrap();
    let server = PostgresServer::start();
    let url = format!("postgres://rosey:pg-secret@127.0.0.1:{}/rosey", server.port());

    let first = migrate(source.to_str().unwrap(), &url);
    assert!(!first.contains("pg-secret"), "{first}");
    assert!(first.contains("rosey:***@127.0.0.1"), "{first}");
    let (rows, written) = totals(&first);
    assert!(rows > 1000, "{first}");
    assert_eq!(written, rows, "a fresh database takes every row:\n{first}");
    assert_eq!(dump_of(&url), without_nul(original.clone()), "PostgreSQL holds the file's rows, ids and all");

    let again = migrate(source.to_str().unwrap(), &url);
    assert_eq!(totals(&again), (rows, 0), "a second run changes nothing:\n{again}");
    assert_eq!(std::fs::read(&source).unwrap(), source_bytes, "the source file is never written");

    let back = dir.path().join("back.db");
    let returned = migrate(&url, &format!("sqlite:{}", back.display()));
    assert_eq!(totals(&returned).0, rows);
    assert_eq!(dump_of(back.to_str().unwrap()), without_nul(original), "and back again, unchanged");

    // Ids go on where the source's sequences stood, never reusing one retention deleted.
    let mut on_postgres = Store::connect(&DbLocation::parse(&url), 0).unwrap();
    let mut on_sqlite = Store::open(&source, 0).unwrap();
    let at = 2_000_000_000;
    for store in [&mut on_postgres, &mut on_sqlite] {
        store.user_chat_message("next", "one more", at).unwrap();
    }
    let newest = |store: &Store| store.dump().unwrap().table("recent_chat").unwrap().rows.last().unwrap()[0].clone();
    assert_eq!(newest(&on_postgres), newest(&on_sqlite));
    let next_id = |store: &mut Store| store.enqueue_outbound_message("id?", at).unwrap();
    assert_eq!(next_id(&mut on_postgres), next_id(&mut on_sqlite));
}

/// A v0.5.0 file (older columns, its own ids) copies whole, its missing columns at their
/// defaults, and the file itself stays a v0.5.0 file.
#[test]
fn a_v05_file_copies_into_postgres_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("v05.db");
    let conn = rusqlite::Connection::open(&source).unwrap();
    conn.execute_batch(
        "CREATE TABLE user_stats (username TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
           total_chat_lines INTEGER DEFAULT 0, total_time_connected INTEGER DEFAULT 0, current_session_start INTEGER);
         CREATE TABLE outbound_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL,
           message TEXT NOT NULL, sent INTEGER DEFAULT 0, sent_timestamp INTEGER);
         CREATE TABLE channel_stats (id INTEGER PRIMARY KEY CHECK (id = 1), max_users INTEGER DEFAULT 0,
           max_users_timestamp INTEGER, last_updated INTEGER);
         INSERT INTO channel_stats VALUES (1, 40, 1599999999, 1600000000);
         INSERT INTO user_stats VALUES ('alice', 1500000000, 1600000000, 1234, 987654, NULL);
         INSERT INTO outbound_messages (id, timestamp, message, sent, sent_timestamp) VALUES (7, 1600000000, 'old', 1, 1600000001);",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&source).unwrap();
    let server = PostgresServer::start();
    migrate(source.to_str().unwrap(), &server.url());
    assert_eq!(std::fs::read(&source).unwrap(), before, "the v0.5.0 file is not upgraded in place");
    let dump = dump_of(&server.url());
    let table = |name: &str| dump.table(name).unwrap().rows.clone();
    assert_eq!(
        table("user_stats"),
        vec![vec![json!("alice"), json!(1500000000), json!(1600000000), json!(1234), json!(987654), json!(null)]]
    );
    assert_eq!(
        table("outbound_messages"),
        vec![vec![json!(7), json!(1600000000), json!("old"), json!(1), json!(1600000001), json!(0), json!(null)]]
    );
    assert_eq!(
        table("channel_stats"),
        vec![vec![json!(1), json!(40), json!(1599999999), json!(0), json!(null), json!(1600000000)]]
    );
}

#[test]
fn migrating_a_database_onto_itself_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    Store::open(&path, 0).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command.args(["migrate", "--from"]).arg(&path).arg("--to").arg(format!("sqlite:{}", path.display()));
    let (status, output) = run_within(&mut command, Duration::from_secs(30), "rosey migrate");
    assert!(!status.success());
    assert!(output.contains("both name"), "{output}");
}

/// `Snapshot` is what moves; reading one never needs a server for SQLite.
#[test]
fn an_sqlite_snapshot_reads_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let mut store = Store::open(&path, 0).unwrap();
    store.enqueue_outbound_message_once("r1", "hi", 5).unwrap();
    drop(store);
    let snapshot: Snapshot = rosey::store::SqliteStore::snapshot_file(&path).unwrap();
    let names: Vec<&str> = snapshot.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!(snapshot.sequences.get("outbound_messages"), Some(&1));
    assert_eq!(
        snapshot.tables.iter().find(|t| t.name == "enqueue_requests").unwrap().rows,
        vec![vec![json!("r1"), json!(1)]]
    );
}
