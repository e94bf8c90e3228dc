//! The fake CyTube server, driven by a raw socket.io client written here
//! over tokio-websockets' client side (the project's own CyTube client is
//! someone else's work; these tests must not lean on it).
//!
//! Tests that wait on the server's timers (pings, the usercount debounce)
//! pause tokio time, so they take no wall time; the rest run in real time
//! and wait only on frames, with a timeout so a missing frame fails fast.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rosey_sim::cytube::{FakeConfig, FakeCytube, MemoryPorts};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_websockets::{ClientBuilder, Message, WebSocketStream};

/// The real server's view of a bot joining and logging in, recorded.
const RECORDING: &str = include_str!("../../fixtures/chat/cytube-real-session.jsonl");

/// A raw socket.io client: frames in and out, pings answered unless told not to.
struct Client<S> {
    ws: WebSocketStream<S>,
    answer_pings: bool,
    /// How long to wait for a frame; virtual time in paused tests.
    patience: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Opens the websocket on `stream` and reads the Engine.IO open packet.
    async fn open(stream: S, authority: &str) -> (Client<S>, Value) {
        let uri = format!("ws://{authority}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = ClientBuilder::new().uri(&uri).unwrap().connect_on(stream).await.expect("websocket upgrade");
        let mut client = Client { ws, answer_pings: true, patience: Duration::from_secs(10) };
        let open = client.frame().await.expect("an open packet");
        let open: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet type 0")).unwrap();
        (client, open)
    }

    /// The next text frame, or `None` when the connection ended.
    async fn frame(&mut self) -> Option<String> {
        loop {
            let next = rosey::timers::timeout(self.patience, self.ws.next()).await.expect("a frame in time");
            match next {
                Some(Ok(message)) if message.is_text() => {
                    let text = message.as_text().unwrap().to_string();
                    if text == "2" && self.answer_pings {
                        self.send("3").await;
                        continue;
                    }
                    return Some(text);
                }
                Some(Ok(message)) if message.is_close() => return None,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_string())).await.expect("send");
    }

    async fn emit(&mut self, name: &str, data: Value) {
        self.send(&format!("42{}", json!([name, data]))).await;
    }

    /// The next frame as an event: `42` frames as (name, data), others as (frame, null).
    async fn event(&mut self) -> (String, Value) {
        let frame = self.frame().await.expect("the connection is open");
        match frame.strip_prefix("42") {
            Some(body) => {
                let mut args: Vec<Value> = serde_json::from_str(body).unwrap();
                let data = if args.len() > 1 { args.remove(1) } else { Value::Null };
                (args[0].as_str().unwrap().to_string(), data)
            }
            None => (frame, Value::Null),
        }
    }

    /// Events up to and including the first named `last`.
    async fn events_until(&mut self, last: &str) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        loop {
            let event = self.event().await;
            let done = event.0 == last;
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Sends `40` and reads the answer (`40{"sid"}`, or `44{...}`).
    async fn connect_namespace(&mut self) -> String {
        self.send("40").await;
        self.frame().await.expect("an answer to 40")
    }
}

/// Any stream the client can run on: TCP, or an in-memory pipe.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A client on either transport.
type TestClient = Client<Box<dyn Io>>;

/// A started fake and how to reach it.
struct Server {
    fake: FakeCytube,
    /// `http://127.0.0.1:<port>` (the in-memory fake pretends).
    base: String,
    memory: Option<MemoryPorts>,
}

impl Server {
    /// On loopback TCP, real time.
    async fn tcp(config: FakeConfig) -> Server {
        let (fake, base) = FakeCytube::start_local(config).await.expect("the fake starts");
        Server { fake, base, memory: None }
    }

    /// On in-memory pipes, for paused time.
    fn memory(config: FakeConfig) -> Server {
        let (fake, ports) = FakeCytube::start_in_memory(config);
        Server { fake, base: "http://127.0.0.1:8080".into(), memory: Some(ports) }
    }

    async fn dial(&self, web: bool) -> Box<dyn Io> {
        match &self.memory {
            Some(ports) => Box::new(if web { ports.web.connect() } else { ports.io.connect() }.unwrap()),
            None if web => Box::new(TcpStream::connect(self.base.trim_start_matches("http://")).await.unwrap()),
            None => Box::new(TcpStream::connect(self.io_authority().await).await.unwrap()),
        }
    }

    /// GETs a path on the web port: (status, body).
    async fn http_get(&self, path: &str) -> (u16, String) {
        let mut stream = self.dial(true).await;
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    /// `host:port` of the socket.io server, from socketconfig.
    async fn io_authority(&self) -> String {
        let (_, body) = Box::pin(self.http_get("/socketconfig/testchan.json")).await;
        let config: Value = serde_json::from_str(&body).unwrap();
        config["servers"][0]["url"].as_str().unwrap().trim_start_matches("http://").to_string()
    }

    /// A websocket past the open packet.
    async fn open(&self) -> (TestClient, Value) {
        let authority = self.io_authority().await;
        Client::open(self.dial(false).await, &authority).await
    }

    /// A connected socket.io socket, past `40` and `rank -1`.
    async fn socket(&self) -> TestClient {
        let (mut client, _) = self.open().await;
        let answer = client.connect_namespace().await;
        assert!(answer.starts_with("40{\"sid\":"), "{answer}");
        assert_eq!(client.event().await, ("rank".into(), json!(-1)));
        client
    }

    /// A socket that joined the channel and read the join sequence.
    async fn joined(&self) -> TestClient {
        let mut client = self.socket().await;
        client.emit("joinChannel", json!({ "name": "testchan" })).await;
        client.events_until("usercount").await;
        client
    }
}

/// Settings for tests: several guests may share 127.0.0.1, and every
/// `usercount` goes out at once (the debounce has its own test), so a
/// join's sequence always ends with one.
fn config() -> FakeConfig {
    let config =
        FakeConfig { guest_login_delay: Duration::ZERO, usercount_debounce: Duration::ZERO, ..FakeConfig::default() };
    config.with_account("rosey", "hunter2", 2)
}

#[tokio::test]
async fn socketconfig_names_the_socket_io_port_and_404s_invalid_names() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    let (status, body) = server.http_get("/socketconfig/testchan.json").await;
    assert_eq!(status, 200);
    let io = server.io_authority().await;
    assert!(body.starts_with(r#"{"servers":[{"url":"http://127.0.0.1:"#), "{body}");
    assert!(body.ends_with(r#","secure":false}]}"#), "{body}");
    assert_ne!(io, server.base.trim_start_matches("http://"), "two ports, as the real server");
    assert_eq!(server.http_get("/socketconfig/another_one.json").await.0, 200, "any valid name is answered");
    let (status, body) = server.http_get("/socketconfig/no%20such!.json").await;
    assert_eq!((status, body.as_str()), (404, r#"{"error":"Channel \"no%20such!\" does not exist."}"#));
    let (_, open) = server.open().await;
    assert_eq!(open["pingInterval"], 25_000);
    assert_eq!(open["pingTimeout"], 120_000);
    assert_eq!(open["maxPayload"], 1_048_576);
    assert_eq!(open["upgrades"], json!([]));
    assert_eq!(fake.stats().http_requests, 6, "these helpers fetch socketconfig before every websocket");
}

/// The recorded session, from the bot's connect to its `setUserRank`: the
/// fake must send the same events in the same order with the same data
/// (times and IP cloaks aside).
#[tokio::test]
async fn join_and_login_match_the_real_recording_event_for_event() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    let recorded: Vec<Value> = RECORDING.lines().skip(1).map(|line| serde_json::from_str(line).unwrap()).collect();
    let end = recorded.iter().position(|e| e["event"] == "setUserRank").unwrap();
    let recorded = &recorded[..=end];
    // The recording's history: four lines from an earlier visit.
    for line in recorded.iter().filter(|e| e["event"] == "chatMsg") {
        let name = line["data"]["username"].as_str().unwrap();
        fake.user_join(name, 0);
        assert!(fake.user_chat(name, line["data"]["msg"].as_str().unwrap()));
        fake.user_leave(name);
    }

    let (mut bot, _) = server.open().await;
    assert!(bot.connect_namespace().await.starts_with("40{"));
    let mut seen = vec![bot.event().await];
    bot.emit("joinChannel", json!({ "name": "testchan" })).await;
    seen.extend(bot.events_until("usercount").await);
    bot.emit("login", json!({ "name": "rosey", "pw": "hunter2" })).await;
    seen.extend(bot.events_until("setUserRank").await);

    let names = |events: &[(String, Value)]| events.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    let recorded: Vec<(String, Value)> =
        recorded.iter().map(|e| (e["event"].as_str().unwrap().to_string(), e["data"].clone())).collect();
    assert_eq!(names(&seen), names(&recorded));
    for ((name, got), (_, want)) in seen.iter().zip(&recorded) {
        let (mut got, mut want) = (got.clone(), want.clone());
        for value in [&mut got, &mut want] {
            if name == "chatMsg" {
                value["time"] = json!(0);
            }
            if let Some(users) = value.as_array_mut() {
                users.iter_mut().for_each(|user| user["meta"]["ip"] = json!("cloaked"));
            }
        }
        assert_eq!(got, want, "{name}");
    }
}

#[tokio::test]
async fn guest_and_registered_logins_answer_like_the_real_server() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    fake.user_join("alice", 1);
    let mut wrong = server.joined().await;
    wrong.emit("login", json!({ "name": "rosey", "pw": "nope" })).await;
    let failed = json!({ "success": false, "error": "Invalid username/password combination" });
    assert_eq!(wrong.event().await, ("login".into(), failed));
    wrong.emit("login", json!({ "name": "ROSEY" })).await;
    let registered = json!({ "success": false, "error": "That username is registered." });
    assert_eq!(wrong.event().await, ("login".into(), registered));
    wrong.emit("login", json!({ "name": "Alice" })).await;
    let in_use = json!({ "success": false, "error": "That name is already in use on this channel." });
    assert_eq!(wrong.event().await, ("login".into(), in_use));

    let mut guest = server.joined().await;
    guest.emit("login", json!({ "name": "GuestBob" })).await;
    assert_eq!(guest.event().await, ("rank".into(), json!(0)));
    assert_eq!(guest.event().await, ("login".into(), json!({ "success": true, "name": "GuestBob", "guest": true })));
    let (name, user) = guest.event().await;
    assert_eq!((name.as_str(), &user["name"], &user["rank"]), ("addUser", &json!("GuestBob"), &json!(0)));

    wrong.emit("login", json!({ "name": "rosey", "pw": "hunter2" })).await;
    let events = wrong.events_until("setUserRank").await;
    assert!(events.contains(&("login".into(), json!({ "success": true, "name": "rosey" }))), "{events:?}");
    assert_eq!(events.last().unwrap().1, json!({ "name": "rosey", "rank": 2 }));
    assert_eq!(fake.users(), ["alice", "rosey", "GuestBob"], "members in join order");
}

#[tokio::test]
async fn chat_is_echoed_escaped_cut_and_linked_and_anonymous_chat_is_dropped() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    let mut watcher = server.joined().await;
    let mut guest = server.joined().await;
    guest.emit("login", json!({ "name": "GuestBob" })).await;
    guest.events_until("addUser").await;
    watcher.events_until("addUser").await;

    watcher.emit("chatMsg", json!({ "msg": "anonymous sockets cannot chat", "meta": {} })).await;
    let lines = [
        "<b>html?</b> & 'single' \"double\"".to_string(),
        format!("LONG:{}", "x".repeat(400)),
        "a link http://example.com/path?q=1 here".to_string(),
        "/me waves".to_string(),
        "> greentext".to_string(),
    ];
    for line in &lines {
        guest.emit("chatMsg", json!({ "msg": line, "meta": {} })).await;
    }
    let echoes = fake.wait_for_said("GuestBob", lines.len()).await;
    assert_eq!(echoes[0], "&lt;b&gt;html?&lt;/b&gt; &amp; 'single' \"double\"");
    assert_eq!(echoes[1].encode_utf16().count(), 320);
    assert_eq!(
        echoes[2],
        "a link <a href=\"http://example.com/path?q=1\" target=\"_blank\" rel=\"noopener noreferrer\">http://example.com/path?q=1</a> here"
    );
    assert_eq!(echoes[3..], ["waves", "&gt; greentext"]);
    for client in [&mut guest, &mut watcher] {
        let heard: Vec<(String, Value)> = [client.event().await, client.event().await].into();
        assert_eq!(heard[0].0, "chatMsg", "the sender hears its own echo, the watcher the line");
        assert_eq!(heard[0].1["username"], "GuestBob");
        assert_eq!(heard[0].1["msg"], echoes[0]);
        assert_eq!(heard[1].1["msg"], echoes[1]);
        client.events_until("chatMsg").await;
        let (_, me) = client.event().await;
        assert_eq!(me["meta"], json!({ "addClass": "action", "action": true }));
        let (_, green) = client.event().await;
        assert_eq!(green["meta"], json!({ "addClass": "greentext" }));
    }
    assert!(fake.said("").is_empty());
    assert_eq!(fake.chat_log().len(), lines.len());
}

#[tokio::test]
async fn a_flood_of_24_lines_echoes_20_and_sends_4_cooldowns() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    let mut bot = server.joined().await;
    bot.emit("login", json!({ "name": "rosey", "pw": "hunter2" })).await;
    bot.events_until("setUserRank").await;
    for n in 1..=24 {
        bot.emit("chatMsg", json!({ "msg": format!("flood {n}"), "meta": {} })).await;
    }
    let mut heard = Vec::new();
    while heard.len() < 24 {
        heard.push(bot.event().await);
    }
    let echoed: Vec<String> =
        heard.iter().filter(|e| e.0 == "chatMsg").map(|e| e.1["msg"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = (1..=20).map(|n| format!("flood {n}")).collect();
    assert_eq!(echoed, expected);
    assert_eq!(heard.iter().filter(|e| *e == &("cooldown".to_string(), json!(100))).count(), 4);
    assert_eq!(fake.cooldowns("rosey"), 4);
    assert_eq!(fake.said("rosey"), expected);
}

#[tokio::test]
async fn a_second_login_kicks_the_older_socket() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    let mut old = server.joined().await;
    old.emit("login", json!({ "name": "rosey", "pw": "hunter2" })).await;
    old.events_until("setUserRank").await;
    let mut new = server.joined().await;
    old.events_until("usercount").await;
    new.emit("login", json!({ "name": "rosey", "pw": "hunter2" })).await;
    assert_eq!(old.event().await, ("kick".into(), json!({ "reason": "Duplicate login" })));
    assert_eq!(old.frame().await.as_deref(), Some("41"), "the socket.io disconnect");
    let events = new.events_until("addUser").await;
    assert!(events.contains(&("userLeave".into(), json!({ "name": "rosey" }))), "{events:?}");
    assert_eq!(fake.users(), ["rosey"]);
    assert_eq!(fake.stats().kicks, 1);
}

#[tokio::test]
async fn drop_connections_cuts_every_socket_and_refused_connects_get_44() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    let mut first = server.joined().await;
    let mut second = server.joined().await;
    fake.drop_connections();
    for client in [&mut first, &mut second] {
        while client.frame().await.is_some() {}
    }
    assert_eq!(fake.stats().open_connections, 0);
    assert_eq!(fake.stats().members, 0);

    fake.refuse_connects(true);
    let (mut refused, _) = server.open().await;
    assert_eq!(refused.connect_namespace().await, r#"44{"message":"Rate limit exceeded"}"#);
    fake.refuse_connects(false);
    assert!(refused.connect_namespace().await.starts_with("40{\"sid\":"), "a later 40 on the same engine works");
    let stats = fake.stats();
    assert_eq!((stats.refused, stats.socket_connects, stats.connects), (1, 3, 3));
}

#[tokio::test]
async fn the_connect_bucket_refuses_the_sixth_connect_in_a_row() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    fake.set_connect_bucket(true);
    let mut answers = Vec::new();
    for _ in 0..6 {
        let (mut client, _) = server.open().await;
        answers.push(client.connect_namespace().await);
    }
    assert!(answers[..5].iter().all(|a| a.starts_with("40{")), "{answers:?}");
    assert_eq!(answers[5], r#"44{"message":"Rate limit exceeded"}"#);
}

#[tokio::test]
async fn the_last_15_lines_are_replayed_on_join_and_survive_a_restart() {
    let server = Server::tcp(config()).await;
    let fake = &server.fake;
    fake.user_join("alice", 1);
    for n in 1..=20 {
        // Past the burst the throttle wants 100 ms between lines; a fresh
        // simulated user per line keeps this test off the clock.
        let name = format!("u{n}");
        fake.user_join(&name, 0);
        assert!(fake.user_chat(&name, &format!("line {n}")));
    }
    let history = |events: &[(String, Value)]| -> Vec<String> {
        events.iter().filter(|e| e.0 == "chatMsg").map(|e| e.1["msg"].as_str().unwrap().to_string()).collect()
    };
    let expected: Vec<String> = (6..=20).map(|n| format!("line {n}")).collect();
    let mut viewer = server.socket().await;
    viewer.emit("joinChannel", json!({ "name": "testchan" })).await;
    assert_eq!(history(&viewer.events_until("drinkCount").await), expected);

    fake.restart();
    while viewer.frame().await.is_some() {}
    assert!(fake.users().is_empty());
    let mut again = server.socket().await;
    again.emit("joinChannel", json!({ "name": "testchan" })).await;
    assert_eq!(history(&again.events_until("drinkCount").await), expected);
    assert_eq!(fake.stats().restarts, 1);
}

/// Paused time: the server's 25 s ping and 120 s timeout pass in no wall time.
#[tokio::test(start_paused = true)]
async fn a_client_that_never_answers_a_ping_is_dropped_after_the_timeout() {
    let server = Server::memory(config());
    let fake = &server.fake;
    let mut silent = server.joined().await;
    let mut polite = server.joined().await;
    silent.events_until("usercount").await;
    silent.answer_pings = false;
    silent.patience = Duration::from_secs(10_000);
    polite.patience = Duration::from_secs(10_000);
    // The polite client answers its pings in the background until it hears something else.
    let polite = tokio::spawn(async move { (polite.event().await, polite) });
    let start = tokio::time::Instant::now();
    assert_eq!(silent.frame().await.as_deref(), Some("2"));
    assert_eq!(start.elapsed().as_secs(), 25);
    assert_eq!(silent.frame().await, None, "closed for the missing pong");
    assert_eq!(start.elapsed().as_secs(), 145);
    assert_eq!(fake.stats().ping_timeouts, 1);
    let (heard, _polite) = polite.await.unwrap();
    assert_eq!(heard, ("usercount".into(), json!(1)), "the polite one is still here");
    assert_eq!(fake.stats().sockets, 1);
}

/// Paused time: the usercount debounce holds the second change 10 s.
#[tokio::test(start_paused = true)]
async fn other_users_join_go_afk_and_leave_as_the_recording_shows() {
    let server = Server::memory(FakeConfig { usercount_debounce: Duration::from_secs(10), ..config() });
    let fake = &server.fake;
    let mut bot = server.joined().await;
    bot.patience = Duration::from_secs(10_000);
    bot.emit("login", json!({ "name": "rosey", "pw": "hunter2" })).await;
    bot.events_until("setUserRank").await;
    let start = tokio::time::Instant::now();
    fake.user_join("alice", 1);
    let names: Vec<String> = [bot.event().await, bot.event().await, bot.event().await].map(|e| e.0).into();
    assert_eq!(names, ["setUserRank", "addUser", "chatMsg"]);
    fake.user_afk("alice", true);
    assert_eq!(bot.event().await.0, "setUserMeta");
    assert_eq!(bot.event().await, ("setAFK".into(), json!({ "name": "alice", "afk": true })));
    assert_eq!(bot.event().await, ("usercount".into(), json!(2)), "the trailing edge");
    assert_eq!(start.elapsed().as_secs(), 10);
    fake.user_leave("alice");
    assert_eq!(bot.event().await, ("userLeave".into(), json!({ "name": "alice" })));
    assert_eq!(bot.event().await, ("usercount".into(), json!(1)));
}

/// One guest session on the turmoil fake: socketconfig over turmoil TCP,
/// the websocket, join, login, a line and its echo; returns the history
/// the join replayed.
async fn turmoil_session(name: &str, line: &str) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let mut web = turmoil::net::TcpStream::connect("cytube:8080").await?;
    web.write_all(b"GET /socketconfig/testchan.json HTTP/1.1\r\nHost: cytube\r\n\r\n").await?;
    let mut response = String::new();
    web.read_to_string(&mut response).await?;
    let config: Value = serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1)?;
    let authority = config["servers"][0]["url"].as_str().unwrap().trim_start_matches("http://").to_string();
    assert_eq!(authority, "cytube:1337");
    let (mut client, _) = Client::open(turmoil::net::TcpStream::connect(authority.as_str()).await?, &authority).await;
    assert!(client.connect_namespace().await.starts_with("40{"));
    assert_eq!(client.event().await, ("rank".into(), json!(-1)));
    client.emit("joinChannel", json!({ "name": "testchan" })).await;
    let history =
        client.events_until("usercount").await.into_iter().filter(|e| e.0 == "chatMsg").map(|e| e.1).collect();
    client.emit("login", json!({ "name": name })).await;
    client.events_until("addUser").await;
    client.emit("chatMsg", json!({ "msg": line, "meta": {} })).await;
    let (event, echo) = client.event().await;
    assert_eq!((event.as_str(), &echo["username"], &echo["msg"]), ("chatMsg", &json!(name), &json!(line)));
    let time = echo["time"].as_i64().unwrap();
    assert!((EPOCH_MS..EPOCH_MS + 60_000).contains(&time), "chat time {time} comes from the sim's clock");
    Ok(history)
}

/// The sim's Unix epoch in the turmoil test.
const EPOCH_MS: i64 = 1_731_000_000_000;

#[test]
fn the_fake_runs_on_turmoil_tcp_and_a_bounced_host_keeps_the_history() {
    let fake = FakeCytube::for_turmoil(FakeConfig { public_host: "cytube".into(), ..config() });
    let mut sim = rosey_sim::bus::sim_builder(7, EPOCH_MS).build();
    let host = fake.clone();
    sim.host("cytube", move || {
        let fake = host.clone();
        async move { fake.serve_turmoil(8080, 1337).await }
    });
    sim.client("bot", async {
        let history = turmoil_session("GuestBob", "hello over turmoil").await?;
        assert!(history.is_empty());
        Ok(())
    });
    sim.run().unwrap();
    assert_eq!(fake.said("GuestBob"), ["hello over turmoil"]);

    sim.bounce("cytube");
    sim.client("again", async {
        let history = turmoil_session("GuestAnn", "after the restart").await?;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["msg"], "hello over turmoil");
        Ok(())
    });
    sim.run().unwrap();
    assert_eq!(fake.stats().restarts, 1);
    assert_eq!(fake.users(), ["GuestAnn"]);
}

#[tokio::test]
async fn a_channel_password_gates_the_join_until_it_is_given() {
    let server = Server::tcp(FakeConfig { channel_password: Some("sesame".into()), ..config() }).await;
    let mut bare = server.socket().await;
    bare.emit("joinChannel", json!({ "name": "testchan" })).await;
    assert_eq!(bare.event().await, ("needPassword".into(), json!(false)), "no password given");
    let mut wrong = server.socket().await;
    wrong.emit("joinChannel", json!({ "name": "testchan", "pw": "open" })).await;
    assert_eq!(wrong.event().await, ("needPassword".into(), json!(true)));
    wrong.emit("channelPassword", json!("still wrong")).await;
    assert_eq!(wrong.event().await, ("needPassword".into(), json!(true)));
    wrong.emit("channelPassword", json!("sesame")).await;
    assert_eq!(wrong.event().await, ("cancelNeedPassword".into(), Value::Null));
    assert_eq!(wrong.event().await.0, "setPermissions", "then the join sequence");
    let events = wrong.events_until("usercount").await;
    assert_eq!(events.last().unwrap().1, json!(1), "the one at the gate is not a member");
    assert_eq!(server.fake.stats().members, 1);
}

/// Paused time: ten idle minutes pass in no wall time.
#[tokio::test(start_paused = true)]
async fn ten_idle_minutes_mark_a_user_afk_and_a_line_brings_them_back() {
    let server = Server::memory(config());
    let mut guest = server.joined().await;
    guest.patience = Duration::from_secs(10_000);
    guest.emit("login", json!({ "name": "GuestBob" })).await;
    guest.events_until("addUser").await;
    let start = tokio::time::Instant::now();
    assert_eq!(guest.event().await.0, "setUserMeta");
    assert_eq!(guest.event().await, ("setAFK".into(), json!({ "name": "GuestBob", "afk": true })));
    assert_eq!(start.elapsed().as_secs(), 600);
    guest.emit("chatMsg", json!({ "msg": "back", "meta": {} })).await;
    assert_eq!(guest.event().await.0, "setUserMeta");
    assert_eq!(guest.event().await, ("setAFK".into(), json!({ "name": "GuestBob", "afk": false })));
    assert_eq!(guest.event().await.1["msg"], "back");
}
