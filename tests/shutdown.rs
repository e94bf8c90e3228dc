//! SIGTERM always stops: with its nats-server gone, `rosey db-service` and
//! `rosey bot` wait for it only for the drain timeout, then the service
//! commits what it received and the bot reports what it could not deliver;
//! a second signal exits at once.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rosey_sim::nats_server::NatsServer;
use support::{fixture_path, wait_until, Logged};

/// Long enough for a process start, a log line, a connection.
const STEP: Duration = Duration::from_secs(20);
/// What a process may take past its bound to actually exit.
const MARGIN: Duration = Duration::from_secs(3);

fn rosey(url: &str, db: &Path, drain_ms: u64) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command.env_remove("ROSEY_CONFIG").env("ROSEY_LOG", "info").args(["--nats-url", url, "--db"]).arg(db);
    command.args(["--drain-timeout-ms", &drain_ms.to_string(), "--request-timeout-ms", "500"]);
    command
}

fn users(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM user_stats", [], |r| r.get(0)).unwrap_or(0)
}

/// A db-service and a bot replaying in real time over `server`, once the
/// service has committed the bot's first userlist; then the server is killed
/// and both have seen the disconnect.
fn running_then_server_killed(server: &mut NatsServer, db: &Path, drain_ms: u64) -> (Logged, Logged) {
    let mut service = Logged::spawn(rosey(&server.url(), db, drain_ms).arg("db-service"));
    service.wait_for("db-service subscribed", STEP);
    let chat = format!("replay:{},speed=1", fixture_path("evening.jsonl").display());
    let bot_db = db.with_extension("bot.db");
    let mut bot = Logged::spawn(rosey(&server.url(), &bot_db, drain_ms).args(["bot", "--chat", &chat]));
    bot.wait_for("userlist received", STEP);
    wait_until("the service has committed the first userlist", STEP, || users(db) >= 10);
    server.kill();
    service.wait_for("[NATS] disconnected", STEP);
    bot.wait_for("[NATS] disconnected", STEP);
    (service, bot)
}

/// Before: with the server gone, both ignored SIGTERM (the service was still
/// running 30 s later). Now both exit within the drain timeout (plus the
/// bot's last poll), the service having committed what it received and the
/// bot saying what it could not deliver.
#[test]
fn sigterm_stops_service_and_bot_within_the_drain_timeout_when_the_server_is_gone() {
    let mut server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let drain = Duration::from_millis(1_000);
    let (service, bot) = running_then_server_killed(&mut server, &db, drain.as_millis() as u64);
    let committed = users(&db);
    service.signal("TERM");
    bot.signal("TERM");

    let (status, report, log) = service.finish_within(drain + MARGIN, "the db-service");
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("did not answer the drain in time"), "{log}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("the service prints its report");
    assert!(report["commits"].as_u64() > Some(0), "{report}");
    assert_eq!(users(&db), committed, "what the service received is still there");

    let request_timeout = Duration::from_millis(500);
    let (status, summary, log) = bot.finish_within(drain + request_timeout + MARGIN, "the bot");
    assert!(status.success(), "{status:?}\n{log}");
    assert!(summary.contains("virtual duration:"), "{summary}");
    assert!(summary.contains("commands sent, but not confirmed by the server before exit"), "{summary}\n{log}");
}

/// A second SIGTERM does not wait for the (here 60 s) drain: the process
/// exits at once with 143 (128 + SIGTERM).
#[test]
fn a_second_sigterm_exits_at_once() {
    let mut server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let (mut service, mut bot) = running_then_server_killed(&mut server, &db, 60_000);
    for process in [&mut service, &mut bot] {
        process.signal("TERM");
        process.wait_for("a second signal exits at once", STEP);
        process.signal("TERM");
    }
    for (process, what) in [(service, "the db-service"), (bot, "the bot")] {
        let (status, _, log) = process.finish_within(MARGIN, what);
        assert_eq!(status.code(), Some(143), "{what}: {status:?}\n{log}");
        assert!(log.contains("second shutdown signal: exiting at once"), "{log}");
    }
}
