//! The bot in a live channel, as an operator runs it: the `rosey` binary
//! against the fake CyTube (faithful to the real server's protocol), a live
//! nats-server and a db-service. Users join, chat and leave; `rosey say` is
//! said once and marked sent; the server drops the bot mid-session and the
//! bot comes back with nothing counted twice and nothing said meanwhile lost;
//! a recording of the same session replays to the same chat; a duplicate
//! login stops the bot with a clear error; long lines are refused and a
//! burst of outbound lines is never throttled by the server.

mod support;

use std::path::Path;
use std::time::Duration;

use rosey::store::Store;
use rosey_sim::cytube::{FakeConfig, FakeCytube};
use rosey_sim::nats_server::NatsServer;
use support::process::{eventually, rosey, within, Process};

/// The bot's account on the fake, and its password (never printed).
const BOT: &str = "Rosey";
const PASSWORD: &str = "hunter2-secret";

fn fake_config() -> FakeConfig {
    let config = FakeConfig {
        usercount_debounce: Duration::ZERO,
        guest_login_delay: Duration::ZERO,
        afk_timeout: None,
        ..FakeConfig::default()
    };
    config.with_account(BOT, PASSWORD, 2)
}

/// The chat lines of a database, as (user, text), in id order.
fn chat_rows(db: &Path) -> Vec<(String, String)> {
    let store = Store::open(db, 0).expect("the database opens");
    store.recent_chat(10_000).unwrap().into_iter().map(|r| (r.username, r.message)).collect()
}

fn count(rows: &[(String, String)], user: &str, text: &str) -> usize {
    rows.iter().filter(|(u, m)| u == user && m == text).count()
}

async fn db_service(url: &str, db: &Path) -> Process {
    let mut command = rosey(url);
    command.args(["--db", db.to_str().unwrap(), "db-service"]);
    let service = Process::spawn(command);
    service.wait_for_log("db-service subscribed").await;
    service
}

/// `rosey [--db DB] bot --chat CHANNEL --mode MODE`, logged in as the bot's account.
fn bot(url: &str, channel: &str, db: Option<&Path>, mode: &str) -> Process {
    let mut command = rosey(url);
    command.args(["--cytube-user", BOT, "--cytube-password", PASSWORD]);
    if let Some(db) = db {
        command.args(["--db", db.to_str().unwrap()]);
    }
    command.args(["bot", "--chat", channel, "--mode", mode]);
    Process::spawn(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_bot_counts_once_says_once_and_survives_a_drop() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, recording) = (dir.path().join("live.db"), dir.path().join("recording.jsonl"));
    let (fake, base) = FakeCytube::start_local(fake_config()).await.unwrap();
    let channel = format!("cytube:{base}/testchan");
    fake.user_join("alice", 1);
    assert!(fake.user_chat("alice", "said before the bot came"));

    let service = db_service(&server.url(), &db).await;
    let mut record = rosey(&server.url());
    record.args(["record", "--chat", &channel, "--out", recording.to_str().unwrap(), "--bot", BOT]);
    let recorder = Process::spawn(record);
    within("the recorder to connect", fake.wait_for_stats(|s| s.sockets >= 1)).await;
    let bot = bot(&server.url(), &channel, None, "nats");
    within("the bot to log in", fake.wait_for_user(BOT)).await;
    bot.wait_for_log("userlist received").await;

    fake.user_join("bob", 0);
    assert!(fake.user_chat("bob", "hi Rosey"));
    assert!(fake.user_chat("alice", "snake_case & <tags> https://example.test/?a=1&b=2"));
    let mut say = rosey(&server.url());
    say.args(["say", "Welcome, bob!"]);
    let (status, id, log) = Process::spawn(say).finish().await;
    assert!(status.success(), "rosey say failed: {log}");
    assert!(id.trim().parse::<i64>().is_ok(), "rosey say printed {id:?}");
    assert_eq!(within("the bot to say it", fake.wait_for_said(BOT, 1)).await, ["Welcome, bob!"]);
    let marked = || {
        let store = Store::open(&db, 0).unwrap();
        let unsent = store.get_unsent_outbound_messages(50, 3, i64::MAX / 2).unwrap();
        async move { unsent.is_empty() }
    };
    eventually("the said line to be marked sent", marked).await;

    // The server drops every socket; while the bot is away bob leaves and
    // alice says something, which only the re-join's history can tell it.
    let connects = fake.stats().socket_connects;
    fake.drop_connections();
    assert!(fake.user_leave("bob"));
    assert!(fake.user_chat("alice", "said while you were away"));
    within("the bot and the recorder to reconnect", fake.wait_for_stats(|s| s.socket_connects >= connects + 2)).await;
    within("the bot to log in again", fake.wait_for_user(BOT)).await;
    assert!(fake.user_chat("alice", "back to normal"));
    eventually("the last line to be stored", || {
        let found = count(&chat_rows(&db), "alice", "back to normal") == 1;
        async move { found }
    })
    .await;

    eventually("the recorder to write the last line", || {
        let written = std::fs::read_to_string(&recording).is_ok_and(|text| text.contains("back to normal"));
        async move { written }
    })
    .await;
    let (bot_status, summary, bot_log) = bot.stop().await;
    let (recorder_status, _, recorder_log) = recorder.stop().await;
    let (service_status, _, _) = service.stop().await;
    assert!(bot_status.success(), "bot: {bot_status:?}\n{bot_log}");
    assert!(recorder_status.success(), "recorder: {recorder_status:?}\n{recorder_log}");
    assert!(service_status.success());
    assert!(summary.contains("Welcome, bob!"), "{summary}");
    for log in [&bot_log, &recorder_log] {
        assert!(!log.contains(PASSWORD), "a password was printed:\n{log}");
    }

    let rows = chat_rows(&db);
    assert_eq!(count(&rows, "alice", "said before the bot came"), 0, "the first join's history is not chat");
    let escaped = rows.iter().filter(|(u, m)| u == "alice" && m.contains("snake_case &amp; &lt;tags&gt;")).count();
    assert_eq!(escaped, 1, "the line as the server sent it (escaped, linked), once: {rows:#?}");
    for (user, text) in [
        ("bob", "hi Rosey"),
        (BOT, "Welcome, bob!"),
        ("alice", "said while you were away"),
        ("alice", "back to normal"),
    ] {
        assert_eq!(count(&rows, user, text), 1, "{user}: {text:?} in {rows:#?}");
    }
    assert_eq!(fake.said(BOT), ["Welcome, bob!"], "said exactly once across the reconnect");
    let dump = Store::open(&db, 0).unwrap().dump().unwrap();
    let users = dump.table("user_stats").unwrap();
    let column = |name: &str| users.columns.iter().position(|c| c == name).unwrap();
    let bob = users.rows.iter().find(|r| r[column("username")] == "bob").expect("bob has a row");
    assert!(bob[column("current_session_start")].is_null(), "bob left while the bot was away: {bob:?}");

    // The recording of the same session replays to the same chat.
    let fixture = rosey::fixture::Fixture::load(&recording).expect("the recording is a valid fixture");
    assert!(fixture.skipped.is_empty(), "{:?}", fixture.skipped);
    let replayed = Store::open_in_memory(fixture.header.start_unix_ms / 1000).unwrap();
    let (_, replayed) = rosey_sim::direct::run_direct(
        &fixture,
        replayed,
        rosey::bot::Protocol::Hardened,
        rosey::trace::Trace::new(false),
    );
    // Each line once, and at the same time within a second.
    let timed = |store: &Store| -> Vec<(String, String, i64)> {
        let mut rows: Vec<_> =
            store.recent_chat(10_000).unwrap().into_iter().map(|r| (r.username, r.message, r.timestamp)).collect();
        rows.sort();
        rows
    };
    let live_store = Store::open(&db, 0).unwrap();
    let (live_timed, replayed_timed) = (timed(&live_store), timed(&replayed));
    let untimed =
        |rows: &[(String, String, i64)]| rows.iter().map(|(u, m, _)| (u.clone(), m.clone())).collect::<Vec<_>>();
    assert_eq!(
        untimed(&replayed_timed),
        untimed(&live_timed),
        "the recording's replay stores the chat the live bot stored"
    );
    for (live, replayed) in live_timed.iter().zip(&replayed_timed) {
        assert!((live.2 - replayed.2).abs() <= 1, "{live:?} stored at another second in the replay: {replayed:?}");
    }
    // The same users, with the same line counts.
    let users = |store: &Store| -> Vec<(serde_json::Value, serde_json::Value)> {
        let dump = store.dump().unwrap();
        let table = dump.table("user_stats").unwrap();
        let column = |name: &str| table.columns.iter().position(|c| c == name).unwrap();
        let (name, lines) = (column("username"), column("total_chat_lines"));
        table.rows.iter().map(|row| (row[name].clone(), row[lines].clone())).collect()
    };
    assert_eq!(users(&replayed), users(&live_store), "the replay's users and line counts are the live bot's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_login_stops_the_bot_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, base) = FakeCytube::start_local(fake_config()).await.unwrap();
    let channel = format!("cytube:{base}/testchan");
    let first_db = dir.path().join("first.db");
    let first = bot("nats://127.0.0.1:1", &channel, Some(&first_db), "direct");
    within("the first bot to log in", fake.wait_for_user(BOT)).await;
    first.wait_for_log("userlist received").await;
    let second_db = dir.path().join("second.db");
    let second = bot("nats://127.0.0.1:1", &channel, Some(&second_db), "direct");
    let (status, _, log) = first.finish().await;
    assert!(!status.success(), "the kicked bot must exit non-zero");
    assert!(log.contains("another login"), "the error names the cause:\n{log}");
    assert!(!log.contains(PASSWORD));
    let (status, _, log) = second.stop().await;
    assert!(status.success(), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lines_are_refused_and_a_burst_is_never_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("burst.db");
    let (fake, base) = FakeCytube::start_local(fake_config()).await.unwrap();
    let channel = format!("cytube:{base}/testchan");
    {
        let mut store = Store::open(&db, 1).unwrap();
        for i in 0..25 {
            store.enqueue_outbound_message(&format!("burst line {i}"), 1).unwrap();
        }
        store.enqueue_outbound_message(&"x".repeat(400), 1).unwrap();
    }
    let bot = bot("nats://127.0.0.1:1", &channel, Some(&db), "direct");
    let said = within("25 lines said", fake.wait_for_said(BOT, 25)).await;
    assert_eq!(said, (0..25).map(|i| format!("burst line {i}")).collect::<Vec<_>>());
    assert_eq!(fake.cooldowns(BOT), 0, "the bot never sends into the server's throttle");
    let refused = || {
        let dump = Store::open(&db, 0).unwrap().dump().unwrap();
        let table = dump.table("outbound_messages").unwrap().clone();
        async move {
            let error = table.columns.iter().position(|c| c == "last_error").unwrap();
            table.rows.iter().any(|r| r[error].as_str().is_some_and(|e| e.contains("CyTube keeps at most 320")))
        }
    };
    eventually("the long line to be refused", refused).await;
    let (status, _, log) = bot.stop().await;
    assert!(status.success(), "{log}");
    assert_eq!(fake.said(BOT).len(), 25, "nothing said twice, the long line never");
}
