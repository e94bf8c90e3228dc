//! The CyTube client against a tiny in-test CyTube: a socketconfig route on one port and a
//! socket.io websocket (tokio-websockets' server side) on another.
//!
//! Most tests dial through [`MemDialer`], in-memory streams behind the client's `Dialer`
//! seam, with tokio's clock paused: nothing waits on real time, so a 145 s ping timeout or a
//! 12 s connect-bucket wait takes no time, and every step is ordered by the frames
//! themselves (no sleeps standing in for synchronisation). One test runs the same client
//! on real loopback TCP with `TcpDialer`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rosey::cytube::client::{
    ChannelUrl, ConnectOptions, Connection, CytubeError, Dialer, Login, Secret, Session, SessionConfig, SessionEvent,
    SocketServer, TcpDialer,
};
use rosey::cytube::ChatEvent;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

/// CyTube's open packet (pingInterval 25 s, pingTimeout 120 s).
const OPEN: &str =
    r#"0{"sid":"gVNBu5lIqvkx2gQsAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":120000,"maxPayload":1048576}"#;
const SOCKETCONFIG: &str = r#"{"servers":[{"url":"http://cytube.test:1337","secure":false}]}"#;

fn config(login: Option<Login>) -> SessionConfig {
    SessionConfig::new(ChannelUrl::parse("http://cytube.test:8080/r/testchan").unwrap(), login)
}

fn rosey() -> Option<Login> {
    Some(Login { name: "rosey".into(), password: Some(Secret::new("hunter2")) })
}

#[tokio::test(start_paused = true)]
async fn session_joins_then_logs_in_answers_pings_and_passes_events_through() {
    let dialer = MemDialer::default();
    let resolves = dialer.serve_http(8080, 200, SOCKETCONFIG);
    let mut sockets = dialer.listen(1337);
    let server = tokio::spawn(async move {
        let mut ws = accept(&mut sockets).await;
        handshake(&mut ws).await;
        send(&mut ws, r#"42["rank",-1]"#).await;
        let join = recv(&mut ws).await;
        let login = recv(&mut ws).await;
        send(&mut ws, "2").await;
        let pong = recv(&mut ws).await;
        send(&mut ws, r#"42["chatMsg",{"username":"alice","msg":"thanks rosey","meta":{},"time":1796109560671}]"#)
            .await;
        send(&mut ws, r#"42["login",{"success":true,"name":"rosey"}]"#).await;
        let chat = recv(&mut ws).await;
        (join, login, pong, chat)
    });

    let mut config = config(rosey());
    config.channel_password = Some(Secret::new("chanpw"));
    let mut session = Session::new(dialer.clone(), config);
    assert!(matches!(session.emit_chat("too early"), Err(CytubeError::NotConnected)));
    assert!(matches!(session.next().await, Some(SessionEvent::Connected { attempt: 1 })));
    assert!(session.is_connected());
    let mut events = Vec::new();
    while events.len() < 3 {
        match session.next().await {
            Some(SessionEvent::Event { name, data }) => events.push((name, data)),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(events[0], ("rank".to_string(), json!(-1)));
    assert_eq!(
        ChatEvent::parse(&events[1].0, &events[1].1).unwrap(),
        ChatEvent::ChatMsg { username: "alice".into(), msg: "thanks rosey".into(), time: Some(1796109560671) }
    );
    assert_eq!(events[2].1, json!({"success": true, "name": "rosey"}));
    session.emit_chat("hello <b>all</b>").unwrap();
    // The queued line is written by the next poll; the server answers nothing more.
    let (join, login, pong, chat) = drive_until(&mut session, server).await;

    assert_eq!(frame(&join), ("joinChannel".into(), json!({"name": "testchan", "pw": "chanpw"})));
    assert_eq!(frame(&login), ("login".into(), json!({"name": "rosey", "pw": "hunter2"})));
    assert_eq!(pong, "3");
    assert_eq!(frame(&chat), ("chatMsg".into(), json!({"msg": "hello <b>all</b>", "meta": {}})));
    assert_eq!(resolves.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn guests_log_in_with_a_name_only_and_anonymous_sessions_only_join() {
    for (login, expect_login) in [(Some(Login { name: "GuestBot".into(), password: None }), true), (None, false)] {
        let dialer = MemDialer::default();
        dialer.serve_http(8080, 200, SOCKETCONFIG);
        let mut sockets = dialer.listen(1337);
        let server = tokio::spawn(async move {
            let mut ws = accept(&mut sockets).await;
            handshake(&mut ws).await;
            let join = recv(&mut ws).await;
            // A ping: the next frame is the login, if one is coming, else the pong.
            send(&mut ws, "2").await;
            let mut frames = vec![join, recv(&mut ws).await];
            if frames[1] != "3" {
                frames.push(recv(&mut ws).await);
            }
            frames
        });
        let mut session = Session::new(dialer.clone(), config(login));
        assert!(matches!(session.next().await, Some(SessionEvent::Connected { .. })));
        let frames = drive_until(&mut session, server).await;
        assert_eq!(frame(&frames[0]), ("joinChannel".into(), json!({"name": "testchan"})));
        if expect_login {
            assert_eq!(frame(&frames[1]), ("login".into(), json!({"name": "GuestBot"})));
            assert_eq!(frames[2], "3");
        } else {
            assert_eq!(frames, vec![frames[0].clone(), "3".to_string()]);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn next_event_fails_with_ping_timeout_when_the_server_stops_pinging() {
    let dialer = MemDialer::default();
    let mut sockets = dialer.listen(1337);
    let server = tokio::spawn(async move {
        let mut ws = accept(&mut sockets).await;
        handshake(&mut ws).await;
        send(&mut ws, "2").await;
        let pong = recv(&mut ws).await;
        // Then silence, with the socket open: a half-open connection.
        (pong, ws)
    });
    let server_url = SocketServer { url: "http://cytube.test:1337".into(), secure: false };
    let mut connection = Connection::open(&dialer, &server_url, &ConnectOptions::default()).await.unwrap();
    assert_eq!(connection.liveness(), Duration::from_secs(145), "pingInterval + pingTimeout");
    let started = Instant::now();
    let err = connection.next_event().await.unwrap_err();
    assert!(matches!(err, CytubeError::PingTimeout { after } if after == Duration::from_secs(145)), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(145), "{:?}", started.elapsed());
    let (pong, _ws) = server.await.unwrap();
    assert_eq!(pong, "3");

    // The window is overridable, and each ping restarts it.
    let mut sockets = dialer.listen(1338);
    let server = tokio::spawn(async move {
        let mut ws = accept(&mut sockets).await;
        handshake(&mut ws).await;
        for _ in 0..3 {
            rosey::timers::sleep(Duration::from_secs(4)).await;
            send(&mut ws, "2").await;
            assert_eq!(recv(&mut ws).await, "3");
        }
        ws
    });
    let options = ConnectOptions { liveness: Some(Duration::from_secs(5)), ..ConnectOptions::default() };
    let server_url = SocketServer { url: "http://cytube.test:1338".into(), secure: false };
    let mut connection = Connection::open(&dialer, &server_url, &options).await.unwrap();
    let started = Instant::now();
    let err = connection.next_event().await.unwrap_err();
    assert!(matches!(err, CytubeError::PingTimeout { .. }), "{err}");
    assert_eq!(started.elapsed().as_secs(), 12 + 5, "three pings 4 s apart, then 5 s of silence");
    drop(server.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_refused_connect_waits_for_the_bucket_then_reconnects_rejoins_and_logs_in_again() {
    let dialer = MemDialer::default();
    let resolves = dialer.serve_http(8080, 200, SOCKETCONFIG);
    let mut sockets = dialer.listen(1337);
    let server = tokio::spawn(async move {
        // 1: refused by the connect bucket.
        let mut ws = accept(&mut sockets).await;
        send(&mut ws, OPEN).await;
        assert_eq!(recv(&mut ws).await, "40");
        send(&mut ws, r#"44{"message":"Rate limit exceeded"}"#).await;
        drop(ws);
        // 2: up, then the server restarts (engine close).
        let mut ws = accept(&mut sockets).await;
        let refused_until = Instant::now();
        handshake(&mut ws).await;
        let first = [recv(&mut ws).await, recv(&mut ws).await];
        send(&mut ws, "1").await;
        drop(ws);
        // 3: up again, joined and logged in again.
        let mut ws = accept(&mut sockets).await;
        handshake(&mut ws).await;
        let second = [recv(&mut ws).await, recv(&mut ws).await];
        send(&mut ws, r#"42["kick",{"reason":"Duplicate login"}]"#).await;
        (refused_until, first, second, ws)
    });
    let started = Instant::now();
    let mut session = Session::new(dialer.clone(), config(rosey()));
    let Some(SessionEvent::ConnectFailed { attempt: 1, error, retry_in }) = session.next().await else {
        panic!("the first attempt is refused")
    };
    assert!(matches!(&error, CytubeError::ConnectRefused { message } if message == "Rate limit exceeded"));
    assert!(!error.is_fatal());
    assert!(retry_in >= Duration::from_secs(12), "a refused connect waits a full refill: {retry_in:?}");
    assert!(matches!(session.next().await, Some(SessionEvent::Connected { attempt: 2 })));
    let Some(SessionEvent::Disconnected { reason, .. }) = session.next().await else { panic!("the engine closes") };
    assert!(matches!(reason, CytubeError::Closed { .. }), "{reason}");
    assert!(!session.is_connected());
    assert!(matches!(session.emit_chat("between connections"), Err(CytubeError::NotConnected)));
    assert!(matches!(session.next().await, Some(SessionEvent::Connected { attempt: 3 })));
    // The duplicate-login kick passes through as an event, then ends the session for good.
    assert!(matches!(session.next().await, Some(SessionEvent::Event { name, .. }) if name == "kick"));
    let Some(SessionEvent::Fatal(fatal)) = session.next().await else { panic!("a duplicate login is fatal") };
    assert!(fatal.to_string().contains("another login as `rosey` took this connection's place"), "{fatal}");
    assert!(fatal.to_string().contains("will not retry"), "{fatal}");
    assert!(session.next().await.is_none());
    assert!(session.next().await.is_none());

    let (refused_until, first, second, _ws) = server.await.unwrap();
    assert!(refused_until - started >= Duration::from_secs(12));
    for frames in [first, second] {
        assert_eq!(frame(&frames[0]).0, "joinChannel");
        assert_eq!(frame(&frames[1]).0, "login");
    }
    assert_eq!(resolves.load(Ordering::SeqCst), 3, "every attempt re-resolves the socket config");
    assert_eq!(session.attempts(), 3, "no attempt after the fatal kick");
}

#[tokio::test(start_paused = true)]
async fn a_missing_channel_and_a_failed_login_are_fatal_and_say_why() {
    let dialer = MemDialer::default();
    dialer.serve_http(8080, 404, r#"{"error":"Channel \"testchan\" does not exist."}"#);
    let mut session = Session::new(dialer.clone(), config(rosey()));
    let Some(SessionEvent::Fatal(err)) = session.next().await else { panic!("404 is fatal") };
    assert!(matches!(err, CytubeError::NoSuchChannel { .. }));
    assert!(err.to_string().contains(r#"the server says "Channel "testchan" does not exist.""#), "{err}");
    assert!(session.next().await.is_none());

    let dialer = MemDialer::default();
    dialer.serve_http(8080, 200, SOCKETCONFIG);
    let mut sockets = dialer.listen(1337);
    let server = tokio::spawn(async move {
        let mut ws = accept(&mut sockets).await;
        handshake(&mut ws).await;
        recv(&mut ws).await;
        recv(&mut ws).await;
        send(&mut ws, r#"42["login",{"success":false,"error":"Invalid username/password combination"}]"#).await;
        ws
    });
    let mut session = Session::new(dialer.clone(), config(rosey()));
    assert!(matches!(session.next().await, Some(SessionEvent::Connected { .. })));
    assert!(matches!(session.next().await, Some(SessionEvent::Event { name, .. }) if name == "login"));
    let Some(SessionEvent::Fatal(err)) = session.next().await else { panic!("a failed login is fatal") };
    let text = err.to_string();
    assert!(text.contains("login as `rosey` failed: \"Invalid username/password combination\""), "{text}");
    assert!(!text.contains("hunter2") && !format!("{err:?}").contains("hunter2"), "{text}");
    drop(server.await.unwrap());
}

/// `next` is polled in the bot's `select!` loop beside its timers: a poll dropped halfway
/// through a connect attempt must not restart (and re-spend a connect token on) the attempt.
#[tokio::test(start_paused = true)]
async fn next_is_cancel_safe_while_connecting() {
    let dialer = MemDialer::default();
    let resolves = dialer.serve_http(8080, 200, SOCKETCONFIG);
    let mut sockets = dialer.listen(1337);
    let server = tokio::spawn(async move {
        let mut ws = accept(&mut sockets).await;
        // A slow server: the open packet comes 3 s after the upgrade.
        rosey::timers::sleep(Duration::from_secs(3)).await;
        handshake(&mut ws).await;
        let frames = [recv(&mut ws).await, recv(&mut ws).await];
        send(&mut ws, r#"42["usercount",3]"#).await;
        (frames, ws)
    });
    let mut session = Session::new(dialer.clone(), config(rosey()));
    let mut cancelled = 0;
    let mut events = Vec::new();
    while events.len() < 2 {
        tokio::select! {
            biased;
            event = session.next() => events.push(event.unwrap()),
            () = rosey::timers::sleep(Duration::from_millis(100)) => cancelled += 1,
        }
    }
    assert!(cancelled >= 29, "the attempt outlived {cancelled} dropped polls");
    assert!(matches!(events[0], SessionEvent::Connected { attempt: 1 }), "{:?}", events[0]);
    assert!(matches!(&events[1], SessionEvent::Event { name, .. } if name == "usercount"), "{:?}", events[1]);
    assert_eq!(session.attempts(), 1);
    assert_eq!(resolves.load(Ordering::SeqCst), 1);
    let (frames, _ws) = server.await.unwrap();
    assert_eq!(frame(&frames[0]).0, "joinChannel");
    assert_eq!(frame(&frames[1]).0, "login");
}

#[tokio::test]
async fn the_same_client_runs_on_real_tcp() {
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sockets = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config_body = format!(
        r#"{{"servers":[{{"url":"http://127.0.0.1:{}","secure":false}}]}}"#,
        sockets.local_addr().unwrap().port()
    );
    let http_port = http.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = http.accept().await.unwrap();
        answer_http(stream, 200, &config_body).await;
    });
    let server = tokio::spawn(async move {
        let (stream, _) = sockets.accept().await.unwrap();
        let (request, mut ws) = ServerBuilder::new().accept(stream).await.unwrap();
        assert_eq!(request.uri(), "/socket.io/?EIO=4&transport=websocket");
        handshake(&mut ws).await;
        let join = recv(&mut ws).await;
        send(&mut ws, r#"42["usercount",1]"#).await;
        (join, ws)
    });
    let channel = ChannelUrl::parse(&format!("http://127.0.0.1:{http_port}/r/testchan")).unwrap();
    let mut session = Session::new(TcpDialer, SessionConfig::new(channel, None));
    assert!(matches!(session.next().await, Some(SessionEvent::Connected { attempt: 1 })));
    let Some(SessionEvent::Event { name, data }) = session.next().await else { panic!("an event") };
    assert_eq!(ChatEvent::parse(&name, &data).unwrap(), ChatEvent::Usercount(1));
    let (join, ws) = server.await.unwrap();
    assert_eq!(frame(&join), ("joinChannel".into(), json!({"name": "testchan"})));
    // The server goes away first, so the clean close finds EOF rather than waiting out its grace.
    drop(ws);
    session.close().await;
    assert!(session.next().await.is_none());
}

// --- The in-test CyTube -------------------------------------------------------------------

/// Dials in-memory streams: each `dial(host, port)` hands the other end to whoever
/// [`MemDialer::listen`]s on that port, or is refused.
#[derive(Clone, Default)]
struct MemDialer {
    ports: Arc<Mutex<HashMap<u16, mpsc::UnboundedSender<DuplexStream>>>>,
}

impl MemDialer {
    fn listen(&self, port: u16) -> mpsc::UnboundedReceiver<DuplexStream> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.ports.lock().unwrap().insert(port, tx);
        rx
    }

    /// Serves the socketconfig route on `port`, every time; returns the request count.
    fn serve_http(&self, port: u16, status: u16, body: &'static str) -> Arc<AtomicUsize> {
        let mut requests = self.listen(port);
        let count = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&count);
        tokio::spawn(async move {
            while let Some(stream) = requests.recv().await {
                counter.fetch_add(1, Ordering::SeqCst);
                answer_http(stream, status, body).await;
            }
        });
        count
    }
}

impl Dialer for MemDialer {
    type Stream = DuplexStream;

    fn dial(&self, _host: &str, port: u16) -> impl Future<Output = io::Result<DuplexStream>> + Send {
        let listener = self.ports.lock().unwrap().get(&port).cloned();
        let result = match listener {
            Some(listener) => {
                let (client, server) = tokio::io::duplex(1 << 16);
                listener.send(server).map(|()| client).map_err(|_| io::ErrorKind::ConnectionRefused.into())
            }
            None => Err(io::ErrorKind::ConnectionRefused.into()),
        };
        async move { result }
    }
}

/// Reads one request head, checks it is the socketconfig GET, and answers.
async fn answer_http<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S, status: u16, body: &str) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        if stream.read(&mut byte).await.unwrap() == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("GET /socketconfig/testchan.json HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
}

async fn accept(sockets: &mut mpsc::UnboundedReceiver<DuplexStream>) -> WebSocketStream<DuplexStream> {
    let stream = sockets.recv().await.expect("the client dials");
    let (request, ws) = ServerBuilder::new().accept(stream).await.unwrap();
    assert_eq!(request.uri(), "/socket.io/?EIO=4&transport=websocket");
    ws
}

/// The server's half of the Engine.IO open and the namespace connect.
async fn handshake<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
    send(ws, OPEN).await;
    assert_eq!(recv(ws).await, "40");
    send(ws, r#"40{"sid":"cRWB8j1ZP3Y8GUpGAAAC"}"#).await;
}

async fn send<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, text: &str) {
    ws.send(Message::text(text.to_string())).await.unwrap();
}

/// The next text frame from the client.
async fn recv<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> String {
    loop {
        let message = ws.next().await.expect("the client keeps the socket open").unwrap();
        if let Some(text) = message.as_text() {
            return text.to_string();
        }
    }
}

/// A `42[name, data]` frame, decoded.
fn frame(text: &str) -> (String, Value) {
    let array: Vec<Value> = serde_json::from_str(text.strip_prefix("42").expect("an event frame")).unwrap();
    (array[0].as_str().unwrap().to_string(), array.get(1).cloned().unwrap_or(Value::Null))
}

/// Polls the session (which writes queued frames and answers pings) until the server
/// script finishes; the session must not end or yield anything meanwhile.
async fn drive_until<T>(session: &mut Session<MemDialer>, server: tokio::task::JoinHandle<T>) -> T {
    tokio::pin!(server);
    tokio::select! {
        biased;
        result = &mut server => result.unwrap(),
        event = session.next() => panic!("unexpected {event:?} while the server script runs"),
    }
}
