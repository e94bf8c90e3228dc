//! `rosey web` as an operator runs it: next to a live nats-server, a
//! db-service and a bot, driven by a real headless Chromium (Debian's
//! `chromium`) and by plain HTTP.
//!
//! - a replay with the page open stores exactly what it stores without it
//!   (v0.5.0's page cut every session, defect 9), and the page then shows
//!   the replay's recent chat and chatters;
//! - the say form, with a token from `rosey token create`, makes the running
//!   bot say the line exactly once; a chat line with `<script>` is text;
//! - the say API refuses a missing, unknown or revoked token (401, nothing
//!   written) and a missing or empty message (400), and takes v0.5.0's
//!   `X-API-Token` and plain-text tokens.

mod support;

use std::path::Path;
use std::time::Duration;

use rosey::cytube::echo::typed_text;
use rosey::store::{Store, StoreReader};
use rosey_sim::browser::Browser;
use rosey_sim::cytube::{FakeConfig, FakeCytube};
use rosey_sim::nats_server::NatsServer;
use serde_json::Value;
use support::http::{http, listen_address, sample};
use support::process::{eventually, within, Command, Process, PATIENCE};
use support::{direct_dump, fixture_path, load_fixture};

const BOT: &str = "Rosey";
const PASSWORD: &str = "hunter2-secret";

/// `rosey --nats-url <url> --db <db>`.
fn rosey(url: &str, db: &Path) -> Command {
    let mut command = support::process::rosey(url);
    command.args(["--db", db.to_str().unwrap()]);
    command
}

async fn db_service(url: &str, db: &Path) -> Process {
    let mut command = rosey(url, db);
    command.arg("db-service");
    let service = Process::spawn(command);
    service.wait_for_log("db-service subscribed").await;
    service
}

/// `rosey web` on a free port; returns it and its base URL.
async fn web(url: &str, db: &Path) -> (Process, String) {
    let mut command = rosey(url, db);
    command.args(["web", "--listen", "127.0.0.1:0"]);
    let web = Process::spawn(command);
    let marker = "serving the status page at ";
    web.wait_for_log(marker).await;
    let base = listen_address(&web.log(), marker);
    (web, base)
}

/// `rosey token create`; returns the token it printed.
async fn create_token(url: &str, db: &Path) -> String {
    let mut command = rosey(url, db);
    command.args(["token", "create", "--description", "test"]);
    let (status, out, log) = Process::spawn(command).finish().await;
    assert!(status.success(), "token create failed: {log}");
    let token = out.trim().to_string();
    assert!(token.starts_with("rosey_"), "token create printed {out:?}");
    assert!(!log.contains(&token), "the token is never logged: {log}");
    token
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn outbound_rows(db: &Path) -> Vec<(i64, String)> {
    let reader = StoreReader::open(db).unwrap();
    reader.outbound(1000).unwrap().into_iter().map(|e| (e.id, e.message)).collect()
}

async fn browser() -> Browser {
    Browser::launch().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_the_page_open_stores_the_same_and_the_page_shows_it() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot_data.db");
    let service = db_service(&server.url(), &db).await;
    let (web, base) = web(&server.url(), &db).await;

    // The page stays open (and its API busy) for the whole replay.
    let mut page = browser().await;
    page.goto(&format!("{base}/")).await.unwrap();
    if let Err(error) = page.wait_for("document.body.dataset.updates >= 1", PATIENCE).await {
        panic!("{error}\nthe page's log:\n{}", web.log());
    }
    let rounds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let poller = {
        let (base, rounds) = (base.clone(), rounds.clone());
        tokio::spawn(async move {
            loop {
                for path in ["/api/stats", "/api/current", "/api/recent_chat", "/api/outbound", "/api/history/24"] {
                    let (status, body) = http(&base, "GET", path, &[], "").await;
                    assert_eq!(status, 200, "{path}: {body}");
                }
                rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    eventually("the API to be polled", || {
        let polled = rounds.load(std::sync::atomic::Ordering::Relaxed) > 0;
        async move { polled }
    })
    .await;
    let fixture = fixture_path("evening.jsonl");
    let mut bot = rosey(&server.url(), &db);
    bot.args(["bot", "--chat", &format!("replay:{},speed=max", fixture.display())]);
    let (status, _, log) = Process::spawn(bot).finish().await;
    assert!(status.success(), "the replay failed: {log}");
    poller.abort();
    let stopped = poller.await.expect_err("the poller runs until aborted");
    assert!(stopped.is_cancelled(), "the API failed while the replay ran: {stopped}");

    // The page follows by itself (server-sent events) to the last line stored.
    let reader = StoreReader::open(&db).unwrap();
    let newest = reader.recent_chat(50).unwrap();
    let expected_text = typed_text(&newest[0].message);
    let condition = format!(
        "document.querySelector('#recent-chat li .msg')?.textContent === {}",
        serde_json::to_string(&expected_text).unwrap()
    );
    page.wait_for(&condition, PATIENCE).await.unwrap();
    let shown = page.eval("[...document.querySelectorAll('#recent-chat li')].map(li => [li.querySelector('.user').textContent, li.querySelector('.msg').textContent])").await.unwrap();
    let expected: Vec<(String, String)> = newest.iter().map(|l| (l.username.clone(), typed_text(&l.message))).collect();
    assert_eq!(shown, serde_json::to_value(&expected).unwrap(), "the page lists the 50 newest lines, newest first");
    let top = page
        .eval("[...document.querySelectorAll('#top-chatters tbody tr')].map(tr => tr.cells[0].textContent)")
        .await
        .unwrap();
    let chatters: Vec<String> = reader.top_chatters(10).unwrap().into_iter().map(|c| c.username).collect();
    assert!(!chatters.is_empty());
    assert_eq!(top, serde_json::to_value(&chatters).unwrap(), "the page shows the top chatters");
    let status = reader.current_status().unwrap();
    let chat_users = page.eval("document.getElementById('chat-users').textContent").await.unwrap();
    assert_eq!(chat_users, Value::String(status["current_chat_users"].to_string()));
    page.close().await;

    // Defect 9: with the page open the database is what the replay alone makes.
    let (status, _, log) = service.stop().await;
    assert!(status.success(), "{log}");
    let (_, _, web_log) = web.stop().await;
    assert!(!web_log.contains("ERROR"), "{web_log}");
    let got = Store::open(&db, 0).unwrap().dump().unwrap();
    let expected = direct_dump(&load_fixture("evening.jsonl"));
    assert_eq!(got.without_time_columns(), expected.without_time_columns());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_say_form_makes_the_live_bot_say_once_and_markup_in_chat_is_text() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot_data.db");
    let config = FakeConfig {
        usercount_debounce: Duration::ZERO,
        guest_login_delay: Duration::ZERO,
        afk_timeout: None,
        ..FakeConfig::default()
    }
    .with_account(BOT, PASSWORD, 2);
    let (fake, base_url) = FakeCytube::start_local(config).await.unwrap();
    let service = db_service(&server.url(), &db).await;
    let mut bot = rosey(&server.url(), &db);
    bot.args(["--cytube-user", BOT, "--cytube-password", PASSWORD, "--metrics-listen", "127.0.0.1:0", "bot"]);
    bot.args(["--chat", &format!("cytube:{base_url}/testchan"), "--mode", "nats"]);
    let bot = Process::spawn(bot);
    within("the bot to log in", fake.wait_for_user(BOT)).await;
    bot.wait_for_log("userlist received").await;
    let token = create_token(&server.url(), &db).await;
    let (web, base) = web(&server.url(), &db).await;

    fake.user_join("alice", 1);
    let script = "<script>window.pwned = 1</script> <b>bold?</b> & done";
    assert!(fake.user_chat("alice", script));
    let mut page = browser().await;
    page.goto(&format!("{base}/")).await.unwrap();
    let condition = format!(
        "[...document.querySelectorAll('#recent-chat .msg')].some(m => m.textContent === {})",
        serde_json::to_string(script).unwrap()
    );
    page.wait_for(&condition, PATIENCE).await.unwrap();
    let injected =
        page.eval("document.querySelectorAll('#recent-chat script, #recent-chat b:not(.user)').length").await;
    assert_eq!(injected.unwrap(), Value::from(0), "chat markup is shown as text, never as elements");
    assert_eq!(page.eval("window.pwned === undefined").await.unwrap(), Value::Bool(true));
    page.wait_for("[...document.querySelectorAll('#online li')].some(li => li.textContent === 'alice')", PATIENCE)
        .await
        .unwrap();

    // The say form, with the token, through the running bot.
    let line = "Hello from the status page!";
    let fill = format!(
        "document.getElementById('say-token').value = {}; document.getElementById('say-message').value = {}; \
         document.getElementById('say-button').click(); true",
        serde_json::to_string(&token).unwrap(),
        serde_json::to_string(line).unwrap()
    );
    page.eval(&fill).await.unwrap();
    let result = page.wait_for("document.getElementById('say-result').textContent.startsWith('queued #') && document.getElementById('say-result').textContent", PATIENCE).await.unwrap();
    let id: i64 = result.as_str().unwrap().trim_start_matches("queued #").parse().unwrap();
    assert_eq!(within("the bot to say it", fake.wait_for_said(BOT, 1)).await, [line]);
    let sent = format!(
        "[...document.querySelectorAll('#outbound tbody tr')].some(tr => tr.cells[0].textContent === '{id}' && tr.cells[2].textContent === 'sent')"
    );
    page.wait_for(&sent, PATIENCE).await.unwrap();
    // Marked sent in the database: no later poll can return it.
    assert_eq!(fake.said(BOT), [line], "said exactly once");
    assert_eq!(outbound_rows(&db), [(id, line.to_string())]);
    page.close().await;

    // The running bot's /metrics agrees.
    let metrics = listen_address(&bot.log(), "serving Prometheus metrics at ");
    let (status, text) = http(&metrics, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200, "{text}");
    for (series, check) in [
        ("rosey_bot_lines_said_total", &(|v: f64| v == 1.0) as &dyn Fn(f64) -> bool),
        ("rosey_bot_chat_connected", &|v| v == 1.0),
        ("rosey_bus_connected", &|v| v == 1.0),
        ("rosey_bot_channel_users", &|v| v >= 2.0),
        ("rosey_bot_polls_failed_total", &|v| v == 0.0),
        ("rosey_bot_request_duration_seconds_count{subject=\"rosey.db.messages.outbound.get\"}", &|v| v >= 1.0),
    ] {
        let value = sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(check(value), "{series} = {value}\n{text}");
    }

    let (_, _, web_log) = web.stop().await;
    assert!(!web_log.contains(&token), "the token is never logged: {web_log}");
    let (_, _, bot_log) = bot.stop().await;
    assert!(!bot_log.contains(PASSWORD));
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_say_api_needs_a_valid_token_and_a_message() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot_data.db");
    let service = db_service(&server.url(), &db).await;
    let token = create_token(&server.url(), &db).await;
    // A v0.5.0 client's plain-text token, as v0.5.0's page stored it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("INSERT INTO api_tokens (token, description, created_at) VALUES ('v05-plain', 'old', 1)", []).unwrap();
    drop(conn);
    let (web, base) = web(&server.url(), &db).await;
    let bearer = format!("Bearer {token}");
    let body = r#"{"message": "hi there"}"#;

    let refused = [
        (vec![], "missing API token"),
        (vec![("Authorization", "Bearer rosey_not-a-token")], "unknown or revoked"),
        (vec![("X-API-Token", "guess")], "unknown or revoked"),
    ];
    for (headers, why) in refused {
        let (status, answer) = http(&base, "POST", "/api/say", &headers, body).await;
        assert_eq!(status, 401, "{headers:?}: {answer}");
        assert!(json(&answer)["error"].as_str().unwrap().contains(why), "{answer}");
    }
    for bad in ["{}", r#"{"message": ""}"#, r#"{"message": "   "}"#, "not json"] {
        let (status, answer) = http(&base, "POST", "/api/say", &[("Authorization", &bearer)], bad).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    assert!(outbound_rows(&db).is_empty(), "a refused request writes nothing");

    let (status, answer) = http(&base, "POST", "/api/say", &[("Authorization", &bearer)], body).await;
    assert_eq!((status, json(&answer)), (200, serde_json::json!({"queued": true, "id": 1})));
    let (status, answer) = http(&base, "POST", "/api/say", &[("X-API-Token", &token)], body).await;
    assert_eq!((status, json(&answer)), (200, serde_json::json!({"queued": true, "id": 2})));
    let (status, _) = http(&base, "POST", "/api/say", &[("X-API-Token", "v05-plain")], body).await;
    assert_eq!(status, 200, "v0.5.0's plain-text token still works");

    let mut revoke = rosey(&server.url(), &db);
    revoke.args(["token", "revoke", &token]);
    let (status, _, log) = Process::spawn(revoke).finish().await;
    assert!(status.success(), "{log}");
    let (status, _) = http(&base, "POST", "/api/say", &[("Authorization", &bearer)], body).await;
    assert_eq!(status, 401, "a revoked token is refused");
    assert_eq!(outbound_rows(&db).len(), 3);

    let mut list = rosey(&server.url(), &db);
    list.args(["token", "list"]);
    let (_, listed, _) = Process::spawn(list).finish().await;
    assert!(listed.contains("revoked") && listed.contains("v0.5"), "{listed}");
    assert!(!listed.contains(&token) && !listed.contains("v05-plain"), "list never shows a token: {listed}");

    for (path, expected) in [
        ("/api/history/abc", 400),
        ("/api/history/0", 400),
        ("/api/recent_chat?limit=0", 400),
        ("/api/recent_chat?limit=5", 200),
        ("/api/nope", 404),
        ("/api/stats", 200),
        ("/api/current", 200),
        ("/api/outbound", 200),
    ] {
        let (status, answer) = http(&base, "GET", path, &[], "").await;
        assert_eq!(status, expected, "{path}: {answer}");
        json(&answer);
    }
    let (_, outbound) = http(&base, "GET", "/api/outbound", &[], "").await;
    assert_eq!(json(&outbound).as_array().map(Vec::len), Some(3));

    let (_, _, web_log) = web.stop().await;
    assert!(!web_log.contains(&token) && !web_log.contains("v05-plain"), "tokens are never logged: {web_log}");
    service.stop().await;
}
