//! The JetStream seam's async-nats implementation against a live
//! `nats-server -js` (one server and one temporary store directory per
//! test), where the generic conformance checks (`sim/tests/conformance.rs`,
//! run against the sim bus and nats-server alike) cannot reach: the config
//! the server gets, a kill -9 of the server, the binary, `rosey watch`.
//!
//! Waits are polls of the server's state or of what arrives, each with a
//! deadline; the only sleeps let an `ack_wait` elapse where a redelivery (or
//! its absence) is what is being tested.

mod support;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use rosey::contract::Subject;
use rosey::delivery::{stream_subjects, JetStreamSettings};
use rosey::transport::{
    ConsumerConfig, NatsTransport, StreamConfig, StreamConsumer, StreamMessage, Transport, ACK_PAYLOAD,
};
use rosey_sim::nats_server::NatsServer;
use rosey_sim::wait::{ack_floor_reaches, eventually, DEADLINE};
use support::*;
use tempfile::TempDir;

/// The redelivery wait the consumer tests use: short, so a test waits little.
const ACK_WAIT: Duration = Duration::from_secs(1);

const JOINED: &str = "rosey.db.user.joined";

/// A JetStream server over a fresh store directory (kept as long as the server).
fn jetstream_server() -> (NatsServer, TempDir) {
    let store = tempfile::tempdir().expect("a temporary directory");
    (NatsServer::start_jetstream(store.path()), store)
}

/// The stream the db-service makes, under a test's name.
fn stream(name: &str) -> StreamConfig {
    StreamConfig { name: name.to_string(), ..JetStreamSettings::default().stream }
}

fn consumer(name: &str) -> ConsumerConfig {
    ConsumerConfig { durable_name: name.to_string(), ack_wait: ACK_WAIT, max_ack_pending: 100 }
}

fn joined(name: &str) -> Bytes {
    Bytes::from(format!(r#"{{"username":"{name}"}}"#))
}

/// Publishes with `msg_id` and awaits the server's ack.
async fn publish_acked(
    transport: &NatsTransport,
    subject: &str,
    payload: Bytes,
    msg_id: &str,
) -> rosey::transport::PubAck {
    let pending = transport.publish_with_ack(subject, payload, msg_id, None).await.expect("the publish is queued");
    pending.await.expect("the stream acknowledges the publish")
}

async fn ack(transport: &NatsTransport, message: &StreamMessage) {
    transport.publish(&message.ack_subject, Bytes::from_static(ACK_PAYLOAD)).await.expect("the ack is sent");
}

/// The consumer's next delivery, failing the test when none comes in time.
async fn next_within(consumer: &mut impl StreamConsumer, limit: Duration) -> StreamMessage {
    rosey::timers::timeout(limit, consumer.next())
        .await
        .unwrap_or_else(|_| panic!("no delivery within {limit:?}"))
        .expect("the consumer is alive")
}

#[tokio::test]
async fn ensure_stream_gives_the_server_the_config() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    let config = stream("CONFIG");
    transport.ensure_stream(&config).await.expect("the stream is created");
    let limited = StreamConfig { max_messages: Some(1_000), ..config.clone() };
    transport.ensure_stream(&limited).await.expect("a changed limit is an update");
    let info = async_nats::jetstream::new(transport.client().clone())
        .get_stream("CONFIG")
        .await
        .expect("the stream exists")
        .cached_info()
        .clone();
    assert_eq!(info.config.max_messages, 1_000, "the server applied the new limit");
    assert_eq!(info.config.subjects, stream_subjects());
    assert_eq!(info.config.duplicate_window, config.duplicate_window);
    assert_eq!(info.config.max_bytes, i64::try_from(config.max_bytes.unwrap()).unwrap());
}

/// Five messages stored, a durable consumer that has acknowledged the first
/// three (the server's ack floor says so), and the connection closed.
async fn five_stored_three_acked(server: &NatsServer, stream_name: &str) {
    let transport = connect(&server.url(), "before").await;
    transport.ensure_stream(&stream(stream_name)).await.unwrap();
    for n in 1..=5 {
        publish_acked(&transport, JOINED, joined(&format!("u{n}")), &format!("id-{n}")).await;
    }
    let mut reader = transport.durable_consumer(stream_name, &consumer("reader")).await.unwrap();
    for expected in 1..=3 {
        let message = next_within(&mut reader, DEADLINE).await;
        assert_eq!(message.stream_seq, expected);
        ack(&transport, &message).await;
    }
    ack_floor_reaches(&reader, 3).await;
}

/// The server back on its port and store: the stream as it was before.
async fn reconnect_after_restart(server: &NatsServer, stream_name: &str) -> NatsTransport {
    let transport = connect(&server.url(), "after").await;
    let state =
        eventually("the stream back after the restart", || async { transport.stream_state(stream_name).await.ok() })
            .await;
    assert_eq!((state.first_seq, state.last_seq, state.messages), (1, 5, 5), "stored messages lost in the restart");
    transport
}

/// kill -9 of the server, then a restart on the same port and store: every
/// acknowledged publish is still stored (nats-server writes a message before
/// it acks it), and so is the durable consumer, with its deliveries.
///
/// Its acks are not all there: nats-server 2.9.10 writes a consumer's acks
/// to disk about 100 ms after they arrive (measured: a kill 50 ms after the
/// ack floor reached 3 came back with 0, a kill 150 ms after with 3), so
/// what was acked just before a kill -9 is delivered again, `delivered` 2.
/// That is what the db-service's applied sequence is for. Nothing after the
/// floor is skipped: delivery resumes at floor + 1 and runs to the end.
#[tokio::test]
async fn the_stream_and_the_consumer_survive_a_kill_9_and_resume_at_or_before_the_acks() {
    let (mut server, _store) = jetstream_server();
    five_stored_three_acked(&server, "KILLED").await;
    server.kill();
    server.restart();

    let transport = reconnect_after_restart(&server, "KILLED").await;
    let mut reader = transport.durable_consumer("KILLED", &consumer("reader")).await.unwrap();
    let floor = reader.ack_floor().await.unwrap();
    assert!(floor <= 3, "the floor went past what was acked: {floor}");
    for expected in floor + 1..=5 {
        let message = next_within(&mut reader, DEADLINE).await;
        assert_eq!(message.stream_seq, expected, "delivery resumes at the surviving floor + 1, in order: {message:?}");
        // Every message was delivered (the first time) before the kill.
        assert!(message.delivered >= 2, "a delivery before the kill was forgotten: {message:?}");
        assert_eq!(message.payload, joined(&format!("u{expected}")));
        ack(&transport, &message).await;
    }
    ack_floor_reaches(&reader, 5).await;
    // The duplicate window survives too: a republish of an id is still dropped.
    let republished = publish_acked(&transport, JOINED, joined("u5"), "id-5").await;
    assert!(republished.duplicate && republished.seq == 5, "{republished:?}");
}

/// The binary's two JetStream sides against a server without it: each
/// exits non-zero with one line that says how to enable it.
#[test]
fn db_service_and_bot_with_jetstream_delivery_refuse_a_core_server() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let fixture = fixture_path("evening.jsonl");
    let chat = format!("replay:{},speed=max", fixture.display());
    let sides: [(&str, Vec<&str>); 2] = [
        ("db-service", vec!["db-service", "--delivery", "jetstream"]),
        ("bot", vec!["bot", "--mode", "nats", "--delivery", "jetstream", "--chat", &chat]),
    ];
    for (what, args) in sides {
        let output = Command::new(env!("CARGO_BIN_EXE_rosey"))
            .args(["--nats-url", &server.url(), "--db", db.to_str().unwrap()])
            .args(&args)
            .env_remove("ROSEY_CONFIG")
            .env("ROSEY_LOG", "error")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what} exited 0: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|line| line.contains("nats-server -js")).collect();
        assert_eq!(errors.len(), 1, "{what}: {stderr}");
        assert!(errors[0].starts_with("error: the NATS server has no JetStream"), "{what}: {stderr}");
    }
}

/// `rosey --delivery jetstream watch` shows the stream's view: each stored
/// message once, with its sequence and id, decoded like core traffic; a
/// request (never captured) as core traffic; and the consumer's acks with
/// their delivery count, so a redelivery is visible.
#[test]
fn watch_shows_stored_messages_with_their_ids_and_the_acks() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let (server, _store) = jetstream_server();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let transport = runtime.block_on(async {
        let transport = connect(&server.url(), "bot").await;
        transport.ensure_stream(&JetStreamSettings::default().stream).await.unwrap();
        transport
    });
    let mut watch = Command::new(env!("CARGO_BIN_EXE_rosey"))
        .args(["--nats-url", &server.url(), "--delivery", "jetstream", "watch", "--count", "6"])
        .env_remove("ROSEY_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read on a thread, so a missing line fails the test instead of hanging it.
    let (tx, out) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
    let banner = out.recv_timeout(DEADLINE).expect("a banner");
    assert!(banner.starts_with("watching rosey.> and the stream ROSEY_DB"), "{banner}");

    let stream = JetStreamSettings::default().stream.name;
    runtime.block_on(async {
        publish_acked(&transport, JOINED, joined("amy"), "bot-t-1").await;
        publish_acked(&transport, "rosey.db.user.left", Bytes::from_static(b"{oops"), "bot-t-2").await;
        // A v0.5.0 bot's core publish: stored without an id.
        transport.publish(JOINED, joined("bob")).await.unwrap();
        transport.publish(Subject::OutboundGet.as_str(), Bytes::from_static(br#"{"limit":20}"#)).await.unwrap();
        transport.round_trip().await.unwrap();
        // The db-service's part: ack the first, let the second's ack_wait
        // pass so it is delivered again, then ack that.
        let mut reader = transport.durable_consumer(&stream, &consumer("rosey-db")).await.unwrap();
        let first = next_within(&mut reader, DEADLINE).await;
        ack(&transport, &first).await;
        let unacked = next_within(&mut reader, DEADLINE).await;
        assert_eq!(unacked.stream_seq, 2);
        loop {
            let message = next_within(&mut reader, ACK_WAIT * 3).await;
            if message.stream_seq == 2 {
                assert_eq!(message.delivered, 2);
                ack(&transport, &message).await;
                break;
            }
        }
        transport.round_trip().await.unwrap();
    });
    let lines: Vec<String> = (0..6).map_while(|_| out.recv_timeout(DEADLINE).ok()).collect();
    let status = wait_within(&mut watch, DEADLINE);
    assert!(status.is_some_and(|s| s.success()), "watch after 6 lines: {status:?}\n{}", lines.join("\n"));
    let find = |what: &str, needles: &[&str]| {
        let found: Vec<&String> = lines.iter().filter(|line| needles.iter().all(|n| line.contains(n))).collect();
        assert_eq!(found.len(), 1, "{what}: one line with {needles:?} in\n{}", lines.join("\n"));
        found[0].clone()
    };
    let amy = find("stored event", &["seq=1 id=bot-t-1 ", "amy"]);
    assert_eq!(amy, format!("{JOINED:<40} {:<8} seq=1 id=bot-t-1 {}", "event", r#"{"username":"amy"}"#));
    find("stored malformed", &["rosey.db.user.left", "MALFORMED", "seq=2 id=bot-t-2 {oops"]);
    find("a core publish, stored", &["event", "seq=3 id=- ", "bob"]);
    find("a request, core", &["rosey.db.messages.outbound.get", "request", r#"{"limit":20}"#]);
    let ack_first = find("the first ack", &["$JS.ACK.ROSEY_DB.rosey-db ", "seq=1 delivered=1 +ACK"]);
    assert!(ack_first.starts_with(&format!("{:<40} {:<8} seq=1", "$JS.ACK.ROSEY_DB.rosey-db", "ack")), "{ack_first}");
    find("the redelivery's ack", &["$JS.ACK.ROSEY_DB.rosey-db ", "seq=2 delivered=2 +ACK"]);
    assert_eq!(lines.iter().filter(|line| line.starts_with(JOINED)).count(), 2, "a stored message shown twice");
}

/// The evening through the bot's JetStream link (ids, acks) or through a
/// v0.5.0-style core link (plain publishes, which the stream captures), into
/// a JetStream db-service: both write the direct replay's database.
async fn evening_into_a_jetstream_service(jetstream_bot: bool) {
    use rosey::bot::{Bot, InstantTimeline, Protocol, Runner, RunnerConfig};
    use rosey::chat::RecordingChat;
    use rosey::contract::{Command, RecentChatGet, Request};
    use rosey::delivery::{Delivery, DEFAULT_ACK_WINDOW};
    use rosey::link::{BusLink, DbLink, Outbox};
    use rosey::service::ServiceConfig;
    use rosey::store::Store;
    use rosey::trace::Trace;

    let (server, _store_dir) = jetstream_server();
    let fixture = load_fixture("evening.jsonl");
    let start = fixture.header.start_unix_ms / 1000;
    let config = ServiceConfig { delivery: Delivery::Jetstream, ..ServiceConfig::default() };
    let svc = service(&server.url(), Store::open_in_memory(start).unwrap(), config).await;
    let transport = connect(&server.url(), "bot").await;
    let link = if jetstream_bot {
        BusLink::jetstream(transport, "bot-test".into(), DEFAULT_ACK_WINDOW)
    } else {
        BusLink::new(transport, Outbox::None)
    };
    let body = async {
        svc.ready.await.unwrap();
        let bot =
            Bot::new(&fixture.header.channel, &fixture.header.bot, fixture.header.start_unix_ms, Protocol::Hardened);
        let runner = Runner::new(
            bot,
            &link,
            RecordingChat::default(),
            InstantTimeline::default(),
            Trace::new(false),
            RunnerConfig::default(),
        );
        let (report, _chat, _) = runner.replay(&fixture).await;
        // A read after the last event: answered once the service has applied
        // the stream up to what it held when the read arrived.
        link.settle(DEADLINE).await.unwrap();
        link.transport().round_trip().await.unwrap();
        let read = Command::Request(Request::RecentChat(RecentChatGet { limit: 1, at_ms: None }));
        link.before_read(DEADLINE).await.unwrap();
        link.request(read, DEADLINE).await.unwrap();
        svc.stop.send(()).unwrap();
        report
    };
    let ((service_report, store), report) = tokio::join!(svc.run, body);
    assert!(report.link_failures.is_empty(), "{:?}", report.link_failures);
    assert_eq!(service_report.malformed.len(), 0);
    // One stream message per event and mark sent, and no more.
    let streamed: u64 = report
        .sent_by_subject
        .iter()
        .filter(|(subject, _)| Subject::parse(subject).is_some_and(|s| !s.is_request()))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(service_report.applied_seq, streamed, "{service_report:?}");
    if jetstream_bot {
        let stats = report.jetstream.or(link.stream_stats()).unwrap();
        assert_eq!((stats.unacked, stats.duplicates), (0, 0), "{stats:?}");
    }
    let got = store.dump().unwrap();
    assert_eq!(got.without_time_columns(), direct_dump(&fixture).without_time_columns());
}

#[tokio::test]
async fn the_evening_through_the_jetstream_bot_equals_direct_mode() {
    evening_into_a_jetstream_service(true).await;
}

/// Contract: a v0.5.0 bot knows nothing of JetStream; its plain publishes
/// land in the stream and the JetStream db-service applies them all.
#[tokio::test]
async fn a_v05_bots_plain_publishes_are_captured_and_applied() {
    evening_into_a_jetstream_service(false).await;
}

/// Requests stay core request/reply under JetStream delivery, outside the
/// stream: an enqueue that finds no db-service is held by the bot's link
/// (as core delivery's hardened outbox does) and sent once a db-service
/// answers a request again. Before, it failed with "no responders" and the
/// line was lost: the JetStream link held nothing.
#[tokio::test]
async fn an_enqueue_with_no_db_service_is_held_and_sent_once_one_answers() {
    use rosey::contract::{EnqueueRequest, Reply, Request};
    use rosey::delivery::Delivery;
    use rosey::link::{BusLink, DbLink};
    use rosey::service::ServiceConfig;
    use rosey::store::Store;

    let (server, _store) = jetstream_server();
    let link = BusLink::jetstream(connect(&server.url(), "bot").await, "bot-t".into(), 16);
    let enqueue = rosey::contract::Command::Request(Request::Enqueue(EnqueueRequest {
        message: "held line".into(),
        at_ms: Some(1_731_000_000_000),
        request_id: None,
    }));
    let reply = link.request(enqueue, DEADLINE).await.expect("held, not failed");
    let Reply::Enqueued(reply) = reply else { panic!("an enqueue reply: {reply:?}") };
    assert_eq!(reply.id, None, "nobody could have stored it: {reply:?}");
    assert_eq!(link.outbox_stats().held, 1);

    let config = ServiceConfig { delivery: Delivery::Jetstream, ..ServiceConfig::default() };
    let svc = service(&server.url(), Store::open_in_memory(1_731_000_000).unwrap(), config).await;
    let body = async {
        svc.ready.await.unwrap();
        let poll = rosey::bot::Outbound::new(rosey::bot::Protocol::Hardened).request(1_731_000_001_000);
        link.request(poll, DEADLINE).await.expect("the db-service answers the poll");
        assert_eq!(link.outbox_stats().held, 0, "the answer released the held enqueue");
        svc.stop.send(()).unwrap();
    };
    let ((_, store), ()) = tokio::join!(svc.run, body);
    let dump = store.dump().unwrap();
    let rows = &dump.table("outbound_messages").unwrap().rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][2], serde_json::json!("held line"));
}

/// What a crash between the commit and the acks leaves: a database that has
/// applied messages the consumer will deliver again. Played here by a second
/// consumer (a fresh durable, so the server delivers the whole stream again)
/// over the first one's database: every delivery is at or below the applied
/// sequence, so each is skipped and acked, and the database does not change.
#[tokio::test]
async fn deliveries_the_database_already_applied_are_skipped() {
    use rosey::delivery::Delivery;
    use rosey::service::ServiceConfig;
    use rosey::store::Store;

    let (server, _store_dir) = jetstream_server();
    let db = tempfile::tempdir().unwrap();
    let path = db.path().join("applied.db");
    let config = |durable: &str| {
        let mut config = ServiceConfig { delivery: Delivery::Jetstream, ..ServiceConfig::default() };
        config.jetstream.consumer.durable_name = durable.into();
        config
    };
    let client = connect(&server.url(), "client").await;

    let first = service(&server.url(), Store::open(&path, 1_731_000_000).unwrap(), config("first")).await;
    let body = async {
        first.ready.await.unwrap();
        for n in 0..5 {
            publish_acked(&client, JOINED, joined(&format!("user{n}")), &format!("j{n}")).await;
        }
        read_after_the_stream(&client).await;
        first.stop.send(()).unwrap();
    };
    let ((report, store), ()) = tokio::join!(first.run, body);
    assert_eq!((report.applied_seq, report.redelivered), (5, 0), "{report:?}");
    let before = store.dump().unwrap();
    drop(store);

    let second = service(&server.url(), Store::open(&path, 1_731_000_000).unwrap(), config("second")).await;
    let body = async {
        second.ready.await.unwrap();
        // The second consumer acks what it skips: its ack floor says when all five came.
        let jetstream = async_nats::jetstream::new(client.client().clone());
        eventually("the second consumer acknowledges the whole stream", || async {
            let stream = jetstream.get_stream(rosey::delivery::DEFAULT_STREAM).await.ok()?;
            let consumer: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer("second").await.ok()?;
            (consumer.cached_info().ack_floor.stream_sequence == 5).then_some(())
        })
        .await;
        second.stop.send(()).unwrap();
    };
    let ((report, store), ()) = tokio::join!(second.run, body);
    assert_eq!((report.applied_seq, report.redelivered), (5, 5), "{report:?}");
    assert_eq!(report.applied_total(), 0, "a skipped delivery applies nothing: {report:?}");
    assert_eq!(store.dump().unwrap(), before, "nothing applied twice");
}

/// A read, answered once the db-service has applied the stream up to it.
async fn read_after_the_stream(reader: &NatsTransport) {
    use rosey::contract::{Command, RecentChatGet, Request};
    let read = Command::Request(Request::RecentChat(RecentChatGet { limit: 1, at_ms: None }));
    let reply = reader.request(read.subject().as_str(), Bytes::from(read.encode()), DEADLINE).await;
    assert!(reply.is_ok(), "the read: {reply:?}");
}

/// A poll behind 20,000 chat lines in the stream, with a slow disk (30 ms
/// per commit): the mark sent before it (and stored behind the chat) is
/// applied ahead, read straight from the stream, and the poll is answered
/// while the chat is still being applied. The consumer, reaching the mark
/// later, only acks it: applied once.
#[tokio::test]
async fn a_poll_reads_its_marks_ahead_of_a_chat_backlog_in_the_stream() {
    use rosey::contract::{Reply, SERVICE_STATS};
    use rosey::delivery::Delivery;
    use rosey::service::{ServiceConfig, ServiceStats};
    use rosey::store::Store;
    use serde_json::json;

    const LINES: u64 = 20_000;
    let (server, _store_dir) = jetstream_server();
    let config = ServiceConfig { delivery: Delivery::Jetstream, ..ServiceConfig::default() };
    let store = Store::open_in_memory(1_731_000_000).unwrap();
    let svc = slow_service(&server.url(), store, config, Duration::from_millis(30)).await;
    let client = connect(&server.url(), "client").await;
    let ask = |subject: &'static str, payload: serde_json::Value| {
        let client = &client;
        async move {
            let reply = client.request(subject, Bytes::from(payload.to_string()), DEADLINE).await.unwrap();
            reply.payload
        }
    };
    let body = async {
        svc.ready.await.unwrap();
        let enqueued = ask(Subject::OutboundEnqueue.as_str(), json!({"message": "said during the flood"})).await;
        let Ok(Reply::Enqueued(enqueued)) = Reply::decode(Subject::OutboundEnqueue, &enqueued) else { panic!() };
        for n in 0..LINES {
            let line = json!({"username": "amy", "message": format!("line {n}")});
            client.publish(Subject::MessageLog.as_str(), Bytes::from(line.to_string())).await.unwrap();
        }
        let mark = json!({"message_id": enqueued.id.expect("an id")});
        publish_acked(&client, Subject::OutboundMarkSent.as_str(), Bytes::from(mark.to_string()), "mark-1").await;
        let rows = ask(Subject::OutboundGet.as_str(), json!({})).await;
        let stats: ServiceStats = serde_json::from_slice(&ask(SERVICE_STATS, json!({})).await).unwrap();
        read_after_the_stream(&client).await;
        svc.stop.send(()).unwrap();
        (Reply::decode(Subject::OutboundGet, &rows).unwrap(), stats)
    };
    let ((report, _), (rows, stats)) = tokio::join!(svc.run, body);
    assert_eq!(rows, Reply::Outbound(vec![]), "the mark behind the chat was applied before the answer");
    let applied_then = stats.report.applied.get(Subject::MessageLog.as_str()).copied().unwrap_or(0);
    assert!(applied_then < LINES, "the poll waited for the chat: {stats:?}");
    assert!(stats.backlog > 0, "{stats:?}");
    assert_eq!(report.read_ahead, 1, "{report:?}");
    assert_eq!(report.applied[Subject::OutboundMarkSent.as_str()], 1, "applied once: {report:?}");
    assert_eq!(report.applied[Subject::MessageLog.as_str()], LINES);
    assert_eq!(report.applied_seq, LINES + 1);
}
