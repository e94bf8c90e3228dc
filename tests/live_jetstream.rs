//! The JetStream seam's async-nats implementation against a live
//! `nats-server -js` (one server and one temporary store directory per
//! test): what the db-service and the bot rely on, checked on the real thing.
//!
//! Waits are polls of the server's state or of what arrives, each with a
//! deadline; the only sleeps let an `ack_wait` elapse where a redelivery (or
//! its absence) is what is being tested.

mod support;

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rosey::contract::Subject;
use rosey::delivery::{stream_subjects, JetStreamSettings};
use rosey::transport::{
    ConsumerConfig, NatsTransport, StreamConfig, StreamConsumer, StreamMessage, Subscription, Transport,
    TransportError, ACK_PAYLOAD,
};
use rosey_sim::nats_server::NatsServer;
use support::*;
use tempfile::TempDir;

/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

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
    let pending = transport.publish_with_ack(subject, payload, msg_id).await.expect("the publish is queued");
    pending.await.expect("the stream acknowledges the publish")
}

async fn ack(transport: &NatsTransport, message: &StreamMessage) {
    transport.publish(&message.ack_subject, Bytes::from_static(ACK_PAYLOAD)).await.expect("the ack is sent");
}

/// The consumer's next delivery, failing the test when none comes in time.
async fn next_within(consumer: &mut impl StreamConsumer, limit: Duration) -> StreamMessage {
    tokio::time::timeout(limit, consumer.next())
        .await
        .unwrap_or_else(|_| panic!("no delivery within {limit:?}"))
        .expect("the consumer is alive")
}

/// Polls the consumer's ack floor until it is `floor`, failing past the deadline.
async fn ack_floor_reaches(consumer: &mut impl StreamConsumer, floor: u64) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = consumer.ack_floor().await.expect("the consumer's info");
        if now == floor {
            return;
        }
        assert!(Instant::now() < deadline, "the ack floor is {now}, not {floor}, after {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `probe` until it returns `Some`, failing with `what` past the deadline.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut probe: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn ensure_stream_is_idempotent_and_updates_a_limit() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    let config = stream("IDEMPOTENT");
    let first = transport.ensure_stream(&config).await.expect("the stream is created");
    assert_eq!((first.messages, first.last_seq), (0, 0));
    publish_acked(&transport, JOINED, joined("amy"), "m-1").await;
    let again = transport.ensure_stream(&config).await.expect("the same config is accepted again");
    assert_eq!((again.messages, again.last_seq), (1, 1), "a second ensure keeps what is stored");

    let limited = StreamConfig { max_messages: Some(1_000), ..config.clone() };
    let updated = transport.ensure_stream(&limited).await.expect("a changed limit is an update");
    assert_eq!(updated.messages, 1);
    let info = async_nats::jetstream::new(transport.client().clone())
        .get_stream("IDEMPOTENT")
        .await
        .expect("the stream exists")
        .cached_info()
        .clone();
    assert_eq!(info.config.max_messages, 1_000, "the server applied the new limit");
    assert_eq!(info.config.subjects, stream_subjects());
    assert_eq!(info.config.duplicate_window, config.duplicate_window);
}

#[tokio::test]
async fn acked_publishes_get_increasing_sequences() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    transport.ensure_stream(&stream("SEQS")).await.unwrap();
    let mut pending = Vec::new();
    for n in 1..=5 {
        let subject = if n % 2 == 0 { "rosey.db.user.left" } else { JOINED };
        pending.push(transport.publish_with_ack(subject, joined("amy"), &format!("seq-{n}")).await.unwrap());
    }
    let mut seqs = Vec::new();
    for ack in pending {
        let ack = ack.await.expect("acked");
        assert_eq!((ack.stream.as_str(), ack.duplicate), ("SEQS", false));
        seqs.push(ack.seq);
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5], "pipelined publishes are stored in the order sent");
    let state = transport.stream_state("SEQS").await.unwrap();
    assert_eq!((state.first_seq, state.last_seq, state.messages), (1, 5, 5));
}

#[tokio::test]
async fn a_repeated_message_id_is_acked_as_a_duplicate_and_stored_once() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    transport.ensure_stream(&stream("DUPS")).await.unwrap();
    let first = publish_acked(&transport, JOINED, joined("amy"), "bot-x-1").await;
    let second = publish_acked(&transport, JOINED, joined("amy"), "bot-x-1").await;
    assert!(!first.duplicate);
    assert!(second.duplicate, "the same id within the window is a duplicate");
    assert_eq!(second.seq, first.seq, "a duplicate's ack names the original's sequence");
    let state = transport.stream_state("DUPS").await.unwrap();
    assert_eq!(state.messages, 1, "the duplicate was not stored");
}

/// A v0.5.0 bot publishes events with plain core publishes: the stream
/// captures them too, without a message id.
#[tokio::test]
async fn a_core_publish_to_a_captured_subject_is_stored() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    transport.ensure_stream(&stream("CORE")).await.unwrap();
    let old_bot = connect(&server.url(), "v0.5.0-bot").await;
    old_bot.publish(JOINED, joined("amy")).await.unwrap();
    old_bot
        .publish(Subject::MessageLog.as_str(), Bytes::from_static(br#"{"username":"amy","message":"hi"}"#))
        .await
        .unwrap();
    old_bot.round_trip().await.unwrap();
    let state = eventually("both core publishes stored", || async {
        let state = transport.stream_state("CORE").await.ok()?;
        (state.messages == 2).then_some(state)
    })
    .await;
    assert_eq!(state.last_seq, 2);
    let mut consumer = transport.durable_consumer("CORE", &consumer("core-reader")).await.unwrap();
    let first = next_within(&mut consumer, DEADLINE).await;
    assert_eq!((first.subject.as_str(), first.payload.clone()), (JOINED, joined("amy")));
}

/// Requests stay core request/reply: the responder answers, the stream does
/// not (its PubAck would be the reply), and nothing is stored.
#[tokio::test]
async fn request_subjects_are_not_captured() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    transport.ensure_stream(&stream("NOREQ")).await.unwrap();
    // While nobody subscribes, nothing but a stream could answer an acked publish.
    for subject in Subject::ALL.into_iter().filter(|s| s.is_request()).map(Subject::as_str) {
        let acked = transport.publish_with_ack(subject, Bytes::from_static(b"{}"), "req").await.unwrap().await;
        assert_eq!(acked, Err(TransportError::NoResponders), "{subject} must not be captured");
    }
    let responder = connect(&server.url(), "responder").await;
    let mut gets = responder.subscribe(Subject::OutboundGet.as_str(), None).await.unwrap();
    responder.round_trip().await.unwrap();
    let answer = async {
        let request = gets.next().await.expect("the request arrives");
        responder.publish(&request.reply.expect("a request has a reply subject"), Bytes::from_static(b"[]")).await
    };
    let (reply, answered) =
        tokio::join!(transport.request(Subject::OutboundGet.as_str(), Bytes::from_static(b"{}"), DEADLINE), answer);
    answered.unwrap();
    assert_eq!(reply.expect("the responder's reply").payload, Bytes::from_static(b"[]"));
    assert_eq!(transport.stream_state("NOREQ").await.unwrap().messages, 0);
}

/// The durable consumer: in order, each with its stream sequence, once;
/// what is not acked within `ack_wait` comes again with `delivered` = 2;
/// what is acked does not; the ack floor follows the acks.
#[tokio::test]
async fn the_durable_consumer_redelivers_only_what_was_not_acked() {
    let (server, _store) = jetstream_server();
    let transport = connect(&server.url(), "js").await;
    transport.ensure_stream(&stream("REDELIVER")).await.unwrap();
    for name in ["amy", "bob", "cat"] {
        publish_acked(&transport, JOINED, joined(name), name).await;
    }
    let mut reader = transport.durable_consumer("REDELIVER", &consumer("reader")).await.unwrap();
    let mut first = Vec::new();
    for expected in 1..=3 {
        let message = next_within(&mut reader, DEADLINE).await;
        assert_eq!((message.stream_seq, message.delivered), (expected, 1), "{message:?}");
        assert_eq!(message.subject, JOINED, "a delivery carries the subject it was published on");
        assert!(message.ack_subject.starts_with("$JS.ACK.REDELIVER.reader.1."), "{}", message.ack_subject);
        first.push(message);
    }
    assert_eq!(first[1].payload, joined("bob"));
    ack(&transport, &first[0]).await;
    ack(&transport, &first[2]).await;
    // Only the first is below the floor: the second is still pending.
    ack_floor_reaches(&mut reader, 1).await;

    // Past ack_wait, the unacked second comes again, and only it.
    let again = next_within(&mut reader, ACK_WAIT * 3).await;
    assert_eq!((again.stream_seq, again.delivered, again.payload.clone()), (2, 2, joined("bob")), "{again:?}");
    assert!(again.ack_subject.starts_with("$JS.ACK.REDELIVER.reader.2.2."), "{}", again.ack_subject);
    ack(&transport, &again).await;
    ack_floor_reaches(&mut reader, 3).await;
    // Wait out two more ack_waits: nothing acked comes back.
    tokio::time::sleep(ACK_WAIT * 2).await;
    transport.round_trip().await.unwrap();
    assert_eq!(reader.try_next(), None, "an acked message was delivered again");

    let next = publish_acked(&transport, JOINED, joined("dan"), "dan").await;
    let fourth = next_within(&mut reader, DEADLINE).await;
    assert_eq!((fourth.stream_seq, fourth.delivered), (next.seq, 1));
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
    ack_floor_reaches(&mut reader, 3).await;
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
    ack_floor_reaches(&mut reader, 5).await;
    // The duplicate window survives too: a republish of an id is still dropped.
    let republished = publish_acked(&transport, JOINED, joined("u5"), "id-5").await;
    assert!(republished.duplicate && republished.seq == 5, "{republished:?}");
}

/// A graceful stop (SIGTERM) flushes the consumer's acks: after a restart on
/// the same port and store its ack floor is exactly what was acknowledged,
/// and delivery resumes right after it.
#[tokio::test]
async fn a_graceful_restart_keeps_the_consumers_position_exactly() {
    let (mut server, _store) = jetstream_server();
    five_stored_three_acked(&server, "STOPPED").await;
    server.stop();
    server.restart();

    let transport = reconnect_after_restart(&server, "STOPPED").await;
    let mut reader = transport.durable_consumer("STOPPED", &consumer("reader")).await.unwrap();
    assert_eq!(reader.ack_floor().await.unwrap(), 3, "acks lost in a graceful restart");
    let next = next_within(&mut reader, DEADLINE).await;
    assert_eq!((next.stream_seq, next.payload.clone()), (4, joined("u4")), "{next:?}");
}

#[tokio::test]
async fn without_jetstream_ensure_stream_says_to_start_nats_server_js() {
    let server = NatsServer::start();
    let transport = connect(&server.url(), "core-only").await;
    let error = transport.ensure_stream(&stream("NONE")).await.expect_err("a core server has no JetStream");
    assert_eq!(error, TransportError::JetStreamUnavailable);
    let line = error.to_string();
    assert!(!line.contains('\n') && line.contains("nats-server -js"), "{line}");
    assert_eq!(transport.stream_state("NONE").await, Err(TransportError::JetStreamUnavailable));
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
