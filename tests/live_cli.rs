//! The `rosey` binary against a live nats-server, as an operator runs it.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use rosey::store::Store;
use rosey_sim::nats_server::NatsServer;
use support::*;

fn rosey(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command.args(["--nats-url", url]).env_remove("ROSEY_CONFIG").env("ROSEY_LOG", "info");
    command
}

/// Starts `rosey db-service` and returns once it logged its subscription.
fn start_db_service(url: &str, db: &Path) -> Child {
    let mut child = rosey(url)
        .args(["--db", db.to_str().unwrap(), "db-service"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rosey runs");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("db-service subscribed") {
            break;
        }
        assert!(!line.contains("ERROR"), "db-service failed to start: {line}");
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

fn sigterm(child: &mut Child) -> String {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = std::mem::replace(child, Command::new("true").spawn().unwrap()).wait_with_output().unwrap();
    assert!(output.status.success(), "db-service exit: {:?}", output.status);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The issue's "done when": db-service, then the bot replaying evening.jsonl
/// at max speed over the bus, then SIGTERM to the service: the database
/// matches the direct-mode replay, time columns aside.
#[test]
fn evening_via_cli_matches_direct_mode() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let mut service = start_db_service(&server.url(), &db);
    let fixture = fixture_path("evening.jsonl");
    let bot = rosey(&server.url())
        .args(["bot", "--chat", &format!("replay:{},speed=max", fixture.display())])
        .output()
        .unwrap();
    assert!(bot.status.success(), "bot failed: {}", String::from_utf8_lossy(&bot.stderr));
    let report = sigterm(&mut service);
    assert!(report.contains("\"malformed\": {}"), "{report}");
    let expected = direct_dump(&load_fixture("evening.jsonl"));
    let got = Store::open(&db, 0).unwrap().dump().unwrap();
    assert_eq!(got.without_time_columns(), expected.without_time_columns());
}

/// `rosey say hello` while a bot runs: the bot says it exactly once and the
/// row is marked sent.
#[test]
fn say_while_the_bot_runs_is_said_once_and_marked_sent() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let mut service = start_db_service(&server.url(), &db);
    // A quiet channel that lasts 5 virtual seconds, replayed in real time:
    // the bot polls at 2 s and 4 s and 6 s.
    let fixture = dir.path().join("quiet.jsonl");
    std::fs::write(
        &fixture,
        concat!(
            r#"{"rosey_fixture": 1, "channel": "lounge", "bot": "Rosey", "start_unix_ms": 1731000000000, "end_ms": 5000}"#,
            "\n",
            r#"{"at_ms": 0, "event": "userlist", "data": [{"name": "Rosey", "rank": 2}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let bot = rosey(&server.url())
        .args(["bot", "--chat", &format!("replay:{}", fixture.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let say = rosey(&server.url()).args(["say", "hello"]).output().unwrap();
    assert!(say.status.success(), "say failed: {}", String::from_utf8_lossy(&say.stderr));
    let id: i64 = String::from_utf8_lossy(&say.stdout).trim().parse().expect("say prints the id");
    let bot = bot.wait_with_output().unwrap();
    assert!(bot.status.success());
    let summary = String::from_utf8_lossy(&bot.stdout);
    assert_eq!(summary.matches("] hello").count(), 1, "said exactly once:\n{summary}");
    assert!(summary.contains("lines said: 1"), "{summary}");
    sigterm(&mut service);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (message, sent): (String, i64) = conn
        .query_row("SELECT message, sent FROM outbound_messages WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((message.as_str(), sent), ("hello", 1));
}

#[test]
fn say_without_a_db_service_says_what_to_start() {
    let server = NatsServer::start();
    let output = rosey(&server.url()).args(["say", "hello"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("start one with `rosey db-service`"), "{stderr}");
}

#[test]
fn watch_shows_decoded_traffic() {
    let server = NatsServer::start();
    let mut watch = rosey(&server.url())
        .args(["watch", "--count", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(watch.stdout.take().unwrap()).lines();
    let banner = out.next().unwrap().unwrap();
    assert!(banner.starts_with("watching rosey.>"), "{banner}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use rosey::transport::Transport;
        let client = connect(&server.url(), "pub").await;
        client.publish("rosey.db.user.joined", bytes::Bytes::from_static(br#"{"username":"amy"}"#)).await.unwrap();
        client.publish("rosey.db.user.left", bytes::Bytes::from_static(b"{oops")).await.unwrap();
        client.round_trip().await.unwrap();
    });
    let first = out.next().unwrap().unwrap();
    let second = out.next().unwrap().unwrap();
    assert!(first.starts_with("rosey.db.user.joined") && first.contains("event") && first.contains("amy"), "{first}");
    assert!(second.contains("MALFORMED"), "{second}");
    assert!(watch.wait().unwrap().success());
}

/// SIGTERM to a running bot: it stops the replay, and its shutdown leaves
/// every listed user (closing their sessions), as at a replay's end.
#[test]
fn sigterm_stops_the_bot_and_closes_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db");
    let fixture = fixture_path("evening.jsonl");
    let mut bot = Command::new(env!("CARGO_BIN_EXE_rosey"))
        .args(["--db", db.to_str().unwrap(), "bot", "--mode", "direct", "--chat"])
        .arg(format!("replay:{},speed=1", fixture.display()))
        .env("ROSEY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(bot.stderr.take().unwrap()).lines();
    for line in log.by_ref() {
        // Logged once the first userlist's users are in the database with open sessions.
        if line.unwrap().contains("userlist received") {
            break;
        }
    }
    std::thread::spawn(move || log.for_each(drop));
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let status = Command::new("kill").args(["-TERM", &bot.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = bot.wait_with_output().unwrap();
    assert!(output.status.success(), "the bot exits cleanly on SIGTERM");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("virtual duration:"), "{summary}");
    let open: i64 = conn
        .query_row("SELECT COUNT(*) FROM user_stats WHERE current_session_start IS NOT NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(open, 0, "every session is closed by the bot's shutdown");
    let users: i64 = conn.query_row("SELECT COUNT(*) FROM user_stats", [], |r| r.get(0)).unwrap();
    assert!(users >= 10, "the first userlist's users were recorded before the signal: {users}");
}

/// Credentials reach the server: a token-protected server accepts the right
/// token and refuses a missing one with a message naming the URL.
#[test]
fn token_auth_is_used_and_a_refusal_is_explained() {
    let server = NatsServer::start_with(&["--auth", "s3cret"]);
    let with_token = rosey(&server.url()).args(["--nats-token", "s3cret", "say", "hi"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&with_token.stderr);
    assert!(stderr.contains("no db-service is listening"), "connected, then found no service: {stderr}");
    let without = rosey(&server.url()).args(["say", "hi"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(!without.status.success());
    assert!(stderr.contains("cannot connect to NATS at") && stderr.contains(&server.url()), "{stderr}");
}
