//! The bot and db-service against a live nats-server (one server per test,
//! started by [`rosey_sim::nats_server::NatsServer`]; a missing nats-server
//! fails the test with what to install).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rosey::bot::{Bot, InstantTimeline, Protocol, ReplayReport, Runner, RunnerConfig, TokioTimeline};
use rosey::chat::RecordingChat;
use rosey::contract::{Command, Reply, Subject};
use rosey::link::{BusLink, DbLink, LinkError, Outbox};
use rosey::service::ServiceConfig;
use rosey::store::Store;
use rosey::trace::Trace;
use rosey::transport::{Subscription, Transport};
use rosey_sim::nats_server::NatsServer;
use serde_json::json;
use support::*;

const T0: i64 = 1_731_000_000;

fn bot_for(fixture: &rosey::fixture::Fixture, protocol: Protocol) -> Bot {
    Bot::new(&fixture.header.channel, &fixture.header.bot, fixture.header.start_unix_ms, protocol)
}

/// Replays `fixture` through a hardened bot over `link`, as fast as possible.
async fn replay_max_speed(link: &impl DbLink, fixture: &rosey::fixture::Fixture) -> (ReplayReport, RecordingChat) {
    let bot = bot_for(fixture, Protocol::Hardened);
    let config = RunnerConfig::default();
    let runner =
        Runner::new(bot, link, RecordingChat::default(), InstantTimeline::default(), Trace::new(false), config);
    let (report, chat, _) = runner.replay(fixture).await;
    (report, chat)
}

/// The bot's `outbound.get`: a request whose reply proves the service has
/// applied everything sent before it on the same connection.
fn poll() -> Command {
    rosey::bot::Outbound::new(Protocol::Hardened).request(0)
}

/// Every subject, published by a plain client, lands in SQLite as the direct
/// store call would write it.
#[tokio::test]
async fn every_subject_reaches_sqlite() {
    let server = NatsServer::start();
    let svc = service(&server.url(), Store::open_in_memory(T0).unwrap(), ServiceConfig::default()).await;
    let client = connect(&server.url(), "client").await;
    let body = async {
        svc.ready.await.unwrap();
        let at = |s: i64| (T0 + s) * 1000;
        let events = [
            (Subject::UserJoined, json!({"username": "amy", "at_ms": at(0)})),
            (Subject::MessageLog, json!({"username": "amy", "message": "hi", "at_ms": at(5)})),
            (Subject::StatsUserCount, json!({"chat_count": 1, "connected_count": 4, "at_ms": at(6)})),
            (Subject::StatsHighWater, json!({"chat_count": 1, "connected_count": 4, "at_ms": at(7)})),
            (Subject::StatusUpdate, json!({"status_data": {"bot_name": "Rosey", "playlist_items": 3}, "at_ms": at(8)})),
            (Subject::UserLeft, json!({"username": "amy", "at_ms": at(60)})),
        ];
        for (subject, payload) in events {
            client.publish(subject.as_str(), Bytes::from(payload.to_string())).await.unwrap();
        }
        let request = |subject: Subject, payload: serde_json::Value| {
            let client = &client;
            async move {
                let reply = client
                    .request(subject.as_str(), Bytes::from(payload.to_string()), Duration::from_secs(5))
                    .await
                    .unwrap();
                Reply::decode(subject, &reply.payload).unwrap()
            }
        };
        let first = request(Subject::OutboundEnqueue, json!({"message": " one ", "at_ms": at(10)})).await;
        let second = request(Subject::OutboundEnqueue, json!({"message": "two", "at_ms": at(10)})).await;
        let (Reply::Enqueued(first), Reply::Enqueued(second)) = (first, second) else { panic!("enqueue replies") };
        let (first, second) = (first.id.unwrap(), second.id.unwrap());
        client
            .publish(
                Subject::OutboundMarkSent.as_str(),
                Bytes::from(json!({"message_id": first, "at_ms": at(12)}).to_string()),
            )
            .await
            .unwrap();
        client
            .publish(
                Subject::OutboundMarkFailed.as_str(),
                Bytes::from(
                    json!({"message_id": second, "error": "muted", "permanent": true, "at_ms": at(12)}).to_string(),
                ),
            )
            .await
            .unwrap();
        let Reply::Outbound(unsent) = request(Subject::OutboundGet, json!({"at_ms": at(13)})).await else { panic!() };
        assert!(unsent.is_empty(), "both messages are settled: {unsent:?}");
        let Reply::RecentChat(recent) = request(Subject::RecentChatGet, json!({"limit": 5})).await else { panic!() };
        assert_eq!(recent.len(), 1);
        assert_eq!((recent[0].username.as_str(), recent[0].message.as_str()), ("amy", "hi"));
        svc.stop.send(()).unwrap();
    };
    let ((report, store), ()) = tokio::join!(svc.run, body);
    assert_eq!(report.applied_total(), 12);
    let dump = store.dump().unwrap();
    let amy = &dump.table("user_stats").unwrap().rows[0];
    assert_eq!(amy[..6], [json!("amy"), json!(T0), json!(T0 + 60), json!(1), json!(60), json!(null)]);
    let outbound = &dump.table("outbound_messages").unwrap().rows;
    assert_eq!(outbound[0][2..5], [json!("one"), json!(1), json!(T0 + 12)]);
    assert_eq!(outbound[1][2..7], [json!("two"), json!(1), json!(T0 + 12), json!(1), json!("muted")]);
    let history = &dump.table("user_count_history").unwrap().rows;
    assert_eq!(history[0][1..], [json!(T0 + 6), json!(1), json!(4)]);
    let status = &dump.table("current_status").unwrap().rows[0];
    assert_eq!((status[1].clone(), status[7].clone()), (json!("Rosey"), json!(3)));
}

/// Stopping the db-service closes no session (contract section 5: a restart
/// closes nothing); only the bot's shutdown `user.left`s do.
#[tokio::test]
async fn stopping_the_service_leaves_sessions_open() {
    let server = NatsServer::start();
    let svc = service(&server.url(), Store::open_in_memory(T0).unwrap(), ServiceConfig::default()).await;
    let client = connect(&server.url(), "client").await;
    let body = async {
        svc.ready.await.unwrap();
        let joined = json!({"username": "amy", "at_ms": T0 * 1000});
        client.publish(Subject::UserJoined.as_str(), Bytes::from(joined.to_string())).await.unwrap();
        client.round_trip().await.unwrap();
        svc.stop.send(()).unwrap();
    };
    let ((report, store), ()) = tokio::join!(svc.run, body);
    assert_eq!(report.applied_total(), 1);
    let dump = store.dump().unwrap();
    let amy = &dump.table("user_stats").unwrap().rows[0];
    assert_eq!((amy[4].clone(), amy[5].clone()), (json!(0), json!(T0)), "the session is still open");
}

/// evening.jsonl through the live bus writes the same database as direct mode.
#[tokio::test]
async fn evening_over_live_bus_equals_direct_mode() {
    evening_over_live_bus_into(Store::open_in_memory(T0).unwrap()).await;
}

/// The same replay with the db-service writing to a real PostgreSQL.
#[tokio::test]
async fn evening_over_live_bus_into_postgres_equals_direct_mode() {
    let postgres = rosey_sim::postgres_server::PostgresServer::start();
    let store = Store::connect(&rosey::store::DbLocation::parse(&postgres.url()), T0).unwrap();
    evening_over_live_bus_into(store).await;
}

/// Replays the evening through a db-service applying into `store` and checks the result
/// against the direct-mode replay, time columns included.
async fn evening_over_live_bus_into(store: Store) {
    let fixture = load_fixture("evening.jsonl");
    let server = NatsServer::start();
    let svc = service(&server.url(), store, ServiceConfig::default()).await;
    let link = BusLink::new(connect(&server.url(), "bot").await, Outbox::Hold);
    let body = async {
        svc.ready.await.unwrap();
        let (report, chat) = replay_max_speed(&link, &fixture).await;
        link.transport().round_trip().await.unwrap();
        // A request after the last event: the service has applied everything before it.
        link.request(poll(), Duration::from_secs(5)).await.unwrap();
        svc.stop.send(()).unwrap();
        (report, chat)
    };
    let ((service_report, store), (report, chat)) = tokio::join!(svc.run, body);
    assert!(report.link_failures.is_empty(), "{:?}", report.link_failures);
    assert_eq!(service_report.malformed.len(), 0);
    assert_eq!(service_report.store_errors, 0);
    assert_eq!(chat.said.len() as u64, report.outbound.said);
    let expected = direct_dump(&fixture);
    let got = store.dump().unwrap();
    assert_eq!(got.without_time_columns(), expected.without_time_columns());
    // Every command carries at_ms, so even the time columns agree.
    assert_eq!(got, expected);
}

/// Two db-services in one queue group share the events and count each once.
#[tokio::test]
async fn two_services_in_a_queue_group_count_every_event_once() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = service(&server.url(), Store::open(&path, T0).unwrap(), ServiceConfig::default()).await;
    let b = service(&server.url(), Store::open(&path, T0).unwrap(), ServiceConfig::default()).await;
    let client = connect(&server.url(), "client").await;
    const LINES: u64 = 400;
    let body = async {
        a.ready.await.unwrap();
        b.ready.await.unwrap();
        for i in 0..LINES {
            let payload =
                json!({"username": format!("user{}", i % 7), "message": format!("line {i}"), "at_ms": T0 * 1000});
            client.publish(Subject::MessageLog.as_str(), Bytes::from(payload.to_string())).await.unwrap();
        }
        // Every publish has been routed by the server; each service makes its
        // own round trip when stopped, so it drains everything routed to it.
        client.round_trip().await.unwrap();
        a.stop.send(()).unwrap();
        b.stop.send(()).unwrap();
    };
    let ((report_a, _), (report_b, _), ()) = tokio::join!(a.run, b.run, body);
    let applied = |r: &rosey::service::ServiceReport| r.applied.get(Subject::MessageLog.as_str()).copied().unwrap_or(0);
    assert_eq!(applied(&report_a) + applied(&report_b), LINES, "a: {report_a:?}\nb: {report_b:?}");
    let store = Store::open(&path, T0).unwrap();
    let dump = store.dump().unwrap();
    let lines: i64 = dump.table("user_stats").unwrap().rows.iter().map(|r| r[3].as_i64().unwrap()).sum();
    assert_eq!(lines as u64, LINES);
    assert_eq!(dump.table("recent_chat").unwrap().rows.len() as u64, LINES);
}

/// No db-service at all: the bot's polls get "no responders" at once and the
/// bot carries on; a service that never answers makes them time out.
#[tokio::test]
async fn no_responders_and_timeouts_reach_the_bot() {
    let fixture = load_fixture("smoke.jsonl");
    let server = NatsServer::start();
    let link = BusLink::new(connect(&server.url(), "bot").await, Outbox::Hold);
    let err = link.request(poll(), Duration::from_secs(5)).await;
    assert!(err.as_ref().is_err_and(LinkError::is_no_responders), "{err:?}");

    let (report, chat) = replay_max_speed(&link, &fixture).await;
    assert!(chat.said.is_empty());
    assert_eq!(report.outbound.poll_failures, report.outbound.polls);
    assert!(report.link_failures.keys().any(|k| k.contains("no responders")), "{:?}", report.link_failures);

    // A silent responder: subscribed, never replies.
    let silent = connect(&server.url(), "silent").await;
    let mut subscription = silent.subscribe("rosey.db.>", None).await.unwrap();
    silent.round_trip().await.unwrap();
    let request = link.request(poll(), Duration::from_millis(200));
    let (result, swallowed) = tokio::join!(request, subscription.next());
    assert!(result.as_ref().is_err_and(LinkError::is_timed_out), "{result:?}");
    assert!(swallowed.is_some_and(|m| m.subject == Subject::OutboundGet.as_str()));
}

/// Garbage on every subject is counted and skipped; the service keeps going,
/// answers a bad request with an error, and the valid commands around the
/// garbage are all applied.
#[tokio::test]
async fn malformed_payloads_leave_the_service_running_and_the_database_consistent() {
    let server = NatsServer::start();
    let svc = service(&server.url(), Store::open_in_memory(T0).unwrap(), ServiceConfig::default()).await;
    let client = connect(&server.url(), "client").await;
    let garbage: [&[u8]; 4] = [
        b"not json",
        b"[1,2]",
        br#"{"username": 5, "message_id": "x", "chat_count": "many", "status_data": 3, "limit": "all", "message": 7}"#,
        b"\xff\xfe",
    ];
    let body = async {
        svc.ready.await.unwrap();
        for subject in Subject::ALL {
            for payload in garbage {
                if subject.is_request() {
                    let reply = client
                        .request(subject.as_str(), Bytes::from_static(payload), Duration::from_secs(5))
                        .await
                        .unwrap();
                    let text = String::from_utf8_lossy(&reply.payload).into_owned();
                    assert!(text.contains("\"error\""), "{subject}: {text}");
                } else {
                    client.publish(subject.as_str(), Bytes::from_static(payload)).await.unwrap();
                }
            }
            let valid = json!({"username": "ok", "message": "still here", "at_ms": T0 * 1000});
            client.publish(Subject::MessageLog.as_str(), Bytes::from(valid.to_string())).await.unwrap();
        }
        let reply = client
            .request(Subject::RecentChatGet.as_str(), Bytes::from_static(b"{}"), Duration::from_secs(5))
            .await
            .unwrap();
        let Reply::RecentChat(rows) = Reply::decode(Subject::RecentChatGet, &reply.payload).unwrap() else { panic!() };
        assert_eq!(rows.len(), Subject::ALL.len());
        svc.stop.send(()).unwrap();
    };
    let ((report, store), ()) = tokio::join!(svc.run, body);
    for subject in Subject::ALL {
        assert_eq!(report.malformed.get(subject.as_str()), Some(&4), "{subject}: {:?}", report.malformed);
    }
    assert_eq!(report.store_errors, 0);
    let dump = store.dump().unwrap();
    assert_eq!(dump.table("user_stats").unwrap().rows.len(), 1);
    assert_eq!(dump.table("outbound_messages").unwrap().rows.len(), 0);
}

/// The server is killed and restarted on the same port mid-replay: bot and
/// service reconnect by themselves, nothing panics, the replay finishes, and
/// the loss is reported (commands the bot sent that the service never applied).
#[tokio::test]
async fn server_restart_mid_replay_is_survived_and_loss_is_reported() {
    let fixture = load_fixture("evening.jsonl");
    let server = Arc::new(Mutex::new(NatsServer::start()));
    let url = server.lock().unwrap().url();
    let svc = service(&url, Store::open_in_memory(T0).unwrap(), ServiceConfig::default()).await;
    let link = KillingLink {
        inner: BusLink::new(connect(&url, "bot").await, Outbox::Hold),
        server: server.clone(),
        sends: Mutex::new(0),
        kill_at: 2_000,
        restart_at: 2_300,
    };
    let body = async {
        svc.ready.await.unwrap();
        let config = RunnerConfig { request_timeout: Duration::from_millis(500), ..RunnerConfig::default() };
        // 3 hours in about 2 seconds: slow enough for the clients to reconnect
        // while the replay is still going.
        let runner = Runner::new(
            bot_for(&fixture, Protocol::Hardened),
            &link,
            RecordingChat::default(),
            TokioTimeline::new(5_400.0),
            Trace::new(false),
            config,
        );
        let (report, _, _) = runner.replay(&fixture).await;
        link.inner.transport().round_trip().await.unwrap();
        let sync = poll();
        link.inner.request(sync, Duration::from_secs(10)).await.unwrap();
        svc.stop.send(()).unwrap();
        report
    };
    let ((service_report, _store), report) = tokio::join!(svc.run, body);
    assert!(*link.sends.lock().unwrap() > link.restart_at, "the replay went on past the restart");
    let mut lost_total = 0;
    for (subject, sent) in &report.sent_by_subject {
        let applied = service_report.applied.get(subject).copied().unwrap_or(0);
        assert!(applied <= *sent, "{subject}: applied {applied} > sent {sent}");
        lost_total += sent - applied;
        println!("{subject}: sent {sent}, applied {applied}, lost {}", sent - applied);
    }
    println!("lost in the restart: {lost_total} commands");
    // Fewer than restart_at commands were sent before the restart, so applying
    // more than that proves the service applied commands sent after it.
    assert!(
        service_report.applied_total() > link.restart_at as u64,
        "the service kept applying after the restart: {service_report:?}"
    );
}

/// A link that kills the server at the `kill_at`-th send and restarts it at
/// the `restart_at`-th: the fault fires at a point of the replay, not after a sleep.
struct KillingLink<T: Transport> {
    inner: BusLink<T>,
    server: Arc<Mutex<NatsServer>>,
    sends: Mutex<usize>,
    kill_at: usize,
    restart_at: usize,
}

impl<T: Transport> KillingLink<T> {
    fn count(&self) {
        let mut sends = self.sends.lock().unwrap();
        *sends += 1;
        if *sends == self.kill_at {
            self.server.lock().unwrap().kill();
        } else if *sends == self.restart_at {
            self.server.lock().unwrap().restart();
        }
    }
}

impl<T: Transport> DbLink for KillingLink<T> {
    async fn send(&self, command: Command) -> Result<(), LinkError> {
        self.count();
        self.inner.send(command).await
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        self.count();
        self.inner.request(command, timeout).await
    }
}

/// What the db-service reports of itself (`rosey.db.service.stats`), asked through `client`.
async fn stats_of(client: &impl Transport) -> rosey::service::ServiceStats {
    let reply = client
        .request(rosey::contract::SERVICE_STATS, Bytes::from_static(b"{}"), Duration::from_secs(10))
        .await
        .expect("the db-service answers its counters");
    serde_json::from_slice(&reply.payload).expect("counters as JSON")
}

/// A burst of 20,000 chat lines, then an enqueue and a poll, against a
/// service with a slow disk (30 ms per commit: the burst takes it ~600 ms).
/// Returns the poll's rows and the service's counters right after its reply.
async fn poll_behind_a_burst(
    config: ServiceConfig,
) -> (Vec<rosey::contract::OutboundRow>, rosey::service::ServiceStats) {
    const LINES: usize = 20_000;
    let server = NatsServer::start();
    let store = Store::open_in_memory(T0).unwrap();
    let svc = slow_service(&server.url(), store, config, Duration::from_millis(30)).await;
    let client = connect(&server.url(), "client").await;
    let body = async {
        svc.ready.await.unwrap();
        for n in 0..LINES {
            let line = json!({"username": "amy", "message": format!("line {n}"), "at_ms": T0 * 1000});
            client.publish(Subject::MessageLog.as_str(), Bytes::from(line.to_string())).await.unwrap();
        }
        let ask = |subject: Subject, payload: serde_json::Value| {
            let client = &client;
            async move {
                let reply = client
                    .request(subject.as_str(), Bytes::from(payload.to_string()), Duration::from_secs(30))
                    .await
                    .unwrap();
                Reply::decode(subject, &reply.payload).unwrap()
            }
        };
        ask(Subject::OutboundEnqueue, json!({"message": "behind the burst", "at_ms": T0 * 1000})).await;
        let Reply::Outbound(rows) = ask(Subject::OutboundGet, json!({"at_ms": T0 * 1000})).await else {
            panic!("outbound rows")
        };
        let stats = stats_of(&client).await;
        svc.stop.send(()).unwrap();
        (rows, stats)
    };
    let ((report, _), (rows, stats)) = tokio::join!(svc.run, body);
    assert_eq!(report.applied[Subject::MessageLog.as_str()], LINES as u64, "every line applied by the end");
    (rows, stats)
}

/// The outbound lane: a poll behind a backlog of chat is answered before the
/// backlog is applied, and it reflects the enqueue sent before it.
#[tokio::test]
async fn a_poll_is_answered_ahead_of_a_chat_backlog() {
    let (rows, stats) = poll_behind_a_burst(ServiceConfig::default()).await;
    assert_eq!(rows.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(), ["behind the burst"]);
    let applied = stats.report.applied.get(Subject::MessageLog.as_str()).copied().unwrap_or(0);
    assert!(applied < 20_000, "the poll waited for the whole backlog: {stats:?}");
    assert!(stats.backlog > 0, "{stats:?}");
}

/// v0.5.0's order (one queue): the same poll waits for every line before it.
#[tokio::test]
async fn without_the_outbound_lane_the_poll_waits_for_the_backlog() {
    let config = ServiceConfig { outbound_lane: false, ..ServiceConfig::default() };
    let (rows, stats) = poll_behind_a_burst(config).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(stats.report.applied[Subject::MessageLog.as_str()], 20_000, "{stats:?}");
}
