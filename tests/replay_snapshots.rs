//! Every committed fixture replayed in direct mode, pinned with insta: the
//! final database (every table, rows in key order) and the lines the bot said.
//!
//! A changed snapshot is a behaviour change: review it with `cargo insta
//! review` against contract section 5 before accepting it.

use std::path::{Path, PathBuf};

use rosey::bot::Protocol;
use rosey::fixture::Fixture;
use rosey::store::{DbLocation, Store};
use rosey::trace::Trace;
use rosey_sim::direct::{run_direct, RunOutput};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/chat").join(name)
}

fn replay(name: &str) -> (RunOutput, Store, Trace) {
    let fixture = Fixture::load(&fixture_path(name)).expect("committed fixtures are sound");
    let store = Store::open_in_memory(fixture.header.start_unix_ms / 1000).expect("in-memory store opens");
    let trace = Trace::new(false);
    let (output, store) = run_direct(&fixture, store, Protocol::Hardened, trace.clone());
    (output, store, trace)
}

/// The same replay into a throw-away PostgreSQL database (the server lives as long as the
/// returned handle).
fn replay_on_postgres(name: &str) -> (RunOutput, Store, rosey_sim::postgres_server::PostgresServer) {
    let fixture = Fixture::load(&fixture_path(name)).expect("committed fixtures are sound");
    let server = rosey_sim::postgres_server::PostgresServer::start();
    let store = Store::connect(&DbLocation::parse(&server.url()), fixture.header.start_unix_ms / 1000)
        .expect("the test PostgreSQL accepts the store");
    let (output, store) = run_direct(&fixture, store, Protocol::Hardened, Trace::new(false));
    (output, store, server)
}

/// PostgreSQL ends with the very database SQLite does (which the snapshots above pin),
/// row for row, but for the one documented difference: PostgreSQL's text cannot hold NUL,
/// which it stores as U+FFFD.
fn snapshot_on_postgres(name: &str) {
    let file = format!("{name}.jsonl");
    let (output, store, _server) = replay_on_postgres(&file);
    let (sqlite_output, sqlite, _) = replay(&file);
    let mut expected = sqlite.dump().expect("dump");
    for row in expected.tables.iter_mut().flat_map(|table| table.rows.iter_mut()) {
        for value in row.iter_mut() {
            if let serde_json::Value::String(text) = value {
                *text = text.replace('\0', "\u{FFFD}");
            }
        }
    }
    assert_eq!(store.dump().expect("dump"), expected, "{name}: PostgreSQL and SQLite differ");
    assert_eq!(output.said, sqlite_output.said, "{name}: said lines differ");
}

#[test]
fn smoke_fixture_snapshot_on_postgres() {
    snapshot_on_postgres("smoke");
}

#[test]
fn evening_fixture_snapshot_on_postgres() {
    snapshot_on_postgres("evening");
}

#[test]
fn messy_fixture_snapshot_on_postgres() {
    snapshot_on_postgres("messy");
}

fn snapshot(name: &str) {
    let (output, store, _) = replay(&format!("{name}.jsonl"));
    let dump = store.dump().expect("dump");
    insta::assert_yaml_snapshot!(format!("{name}_database"), dump);
    insta::assert_yaml_snapshot!(format!("{name}_said"), output.said);
    insta::assert_yaml_snapshot!(format!("{name}_skipped"), output.report.skipped);
}

#[test]
fn smoke_fixture_snapshot() {
    snapshot("smoke");
}

#[test]
fn evening_fixture_snapshot() {
    snapshot("evening");
}

#[test]
fn messy_fixture_snapshot() {
    snapshot("messy");
}

/// The same fixture twice: the same trace hash and the same database, to the byte.
#[test]
fn replay_is_deterministic() {
    for name in ["smoke.jsonl", "evening.jsonl", "messy.jsonl"] {
        let (first_out, first_db, first_trace) = replay(name);
        let (second_out, second_db, second_trace) = replay(name);
        assert_eq!(first_trace.hash_hex(), second_trace.hash_hex(), "{name}: trace hash differs");
        assert_eq!(first_db.dump().unwrap(), second_db.dump().unwrap(), "{name}: database differs");
        assert_eq!(first_out.said, second_out.said, "{name}: said lines differ");
    }
}

/// A file database written twice from scratch holds the same content.
#[test]
fn file_replays_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::load(&fixture_path("smoke.jsonl")).unwrap();
    let now = fixture.header.start_unix_ms / 1000;
    let mut dumps = Vec::new();
    for run in 0..2 {
        let path = dir.path().join(format!("run{run}.db"));
        let store = Store::open(&path, now).unwrap();
        let (_, store) = run_direct(&fixture, store, Protocol::Hardened, Trace::new(false));
        drop(store);
        dumps.push(Store::open(&path, now).unwrap().dump().unwrap());
    }
    assert_eq!(dumps[0], dumps[1]);
}
