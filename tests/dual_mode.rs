//! Dual mode starts without a bus: an unreachable server at start is the same
//! as a connection lost later. Commands go to the store (`[DB]`), the
//! connection is retried in the background, and the bot moves to the bus
//! (`[NATS]`) once a db-service answers there; the database ends up as a
//! direct replay's.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rosey::store::Store;
use rosey_sim::nats_server::NatsServer;
use support::{dead_port, direct_dump, fixture_path, load_fixture, run_within, Logged};

/// Long enough for a process start, a log line, a connection.
const STEP: Duration = Duration::from_secs(20);

fn rosey(port: u16, db: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command
        .env_remove("ROSEY_CONFIG")
        .env("ROSEY_LOG", "info")
        .args(["--nats-url", &format!("nats://127.0.0.1:{port}")]);
    command.arg("--db").arg(db);
    command
}

fn dual_bot(port: u16, db: &Path, speed: &str) -> Command {
    let chat = format!("replay:{},speed={speed}", fixture_path("smoke.jsonl").display());
    let mut command = rosey(port, db);
    command.args(["bot", "--mode", "dual", "--chat", &chat]);
    command
}

/// Before: `--mode dual` with no server exited at once with "cannot connect
/// to NATS" and wrote nothing. Now the whole replay goes to the store.
#[test]
fn dual_mode_without_a_server_replays_into_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let (status, output) = run_within(&mut dual_bot(dead_port(), &db, "max"), STEP, "the dual-mode bot");
    assert!(status.success(), "{output}");
    assert!(output.contains("[DB] bus down; writing to the store directly"), "{output}");
    assert!(output.contains("virtual duration: 62.000 s"), "{output}");
    let expected = direct_dump(&load_fixture("smoke.jsonl"));
    let got = Store::open(&db, 0).unwrap().dump().unwrap();
    assert_eq!(got, expected, "every command carries at_ms: even the time columns agree");
}

/// No server when the bot starts; one (with a db-service on the same
/// database) starts mid-replay. The bot writes to the store, then moves to
/// the bus once the service answers, and never back. Each command went one
/// way, so the database is the direct replay's.
#[test]
fn dual_mode_moves_to_the_bus_when_a_server_starts_mid_replay() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let port = dead_port();
    // The smoke fixture's minute in 12 s: time to start a server and a service.
    let mut bot = Logged::spawn(&mut dual_bot(port, &db, "5"));
    bot.wait_for("[DB] bus down; writing to the store directly", STEP);

    let _server = NatsServer::start_on(port, &[]);
    let mut service = Logged::spawn(rosey(port, &db).arg("db-service"));
    service.wait_for("db-service subscribed", STEP);
    bot.wait_for("[NATS] a db-service answers; sending over the bus", STEP);
    let (status, summary, log) = bot.finish_within(STEP, "the dual-mode bot");
    assert!(status.success(), "{status:?}\n{log}");
    assert!(!summary.contains("link failures"), "{summary}");
    let switched = log.find("[NATS] a db-service answers").unwrap();
    assert!(!log[switched..].contains("[DB]"), "back to the store after the switch:\n{log}");

    service.signal("TERM");
    let (status, report, log) = service.finish_within(STEP, "the db-service");
    assert!(status.success(), "{status:?}\n{log}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("the service prints its report");
    let applied: u64 = report["applied"].as_object().unwrap().values().filter_map(|n| n.as_u64()).sum();
    assert!(applied > 0, "the service applied what came over the bus: {report}");

    let expected = direct_dump(&load_fixture("smoke.jsonl"));
    let got = Store::open(&db, 0).unwrap().dump().unwrap();
    assert_eq!(got.without_time_columns(), expected.without_time_columns());
}
