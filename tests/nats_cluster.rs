//! The bus past one machine: a three-node nats-server cluster on loopback (routes,
//! JetStream with the stream replicated on all three), the bot given every node's URL and
//! the db-service only one, and that one node, the stream's leader, killed (SIGKILL)
//! mid-replay. The cluster elects a new leader from the two left, the db-service finds
//! them through the routes the server told it about (it was never given their URLs), the
//! bot through its list, and the database ends equal to the direct-mode replay: nothing
//! lost, nothing applied twice.

mod support;

use std::time::Duration;

use rosey::delivery::{JetStreamSettings, DEFAULT_STREAM};
use rosey::store::Store;
use rosey::transport::Transport;
use rosey_sim::nats_server::NatsCluster;
use support::{assert_same_as_direct, direct_dump, fixture_path, load_fixture, rosey_on, wait_until, Logged};

const STEP: Duration = Duration::from_secs(30);
const REPLAY: Duration = Duration::from_secs(120);
const FIXTURE: &str = "evening.jsonl";
const KILL_AT: u64 = 1_000;

/// Creates the replicated stream through any node, retrying while the cluster elects its
/// JetStream leader; returns the name of the node that leads the stream.
fn replicated_stream(cluster: &NatsCluster) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let transport = support::connect(&cluster.urls(), "test-setup").await;
        let mut config = JetStreamSettings::default().stream;
        config.replicas = 3;
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            match transport.ensure_stream(&config).await {
                Ok(_) => break,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::info!(%error, "the cluster is not ready for the stream yet");
                    transport.round_trip().await.unwrap();
                }
                Err(error) => panic!("the cluster did not take the replicated stream within {STEP:?}: {error}"),
            }
        }
        let first = cluster.urls().split(',').next().unwrap_or_default().to_string();
        let client = async_nats::connect(first).await.expect("the cluster accepts a client");
        let jetstream = async_nats::jetstream::new(client);
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let mut stream = jetstream.get_stream(DEFAULT_STREAM).await.expect("the stream exists");
            let info = stream.info().await.expect("stream info");
            let cluster = info.cluster.clone().unwrap_or_else(|| panic!("no cluster info: {info:?}"));
            let replicas = cluster.replicas.len();
            if let (Some(leader), 2) = (cluster.leader, replicas) {
                return leader;
            }
            assert!(tokio::time::Instant::now() < deadline, "the stream has no leader and two replicas: {info:?}");
            transport.round_trip().await.unwrap();
        }
    })
}

#[test]
fn killing_the_stream_leader_mid_replay_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = NatsCluster::start(3, dir.path());
    let leader = replicated_stream(&cluster);
    let leader_url = cluster.node(&leader).url();
    let db = dir.path().join("rosey.db");
    let rosey = |urls: &str| {
        let mut command = rosey_on(urls, "jetstream");
        command.args(["--stream-replicas", "3", "--ack-wait-ms", "2000"]);
        command
    };
    // The db-service knows only the leader; the servers tell it about the others.
    let mut service = Logged::spawn(rosey(&leader_url).arg("--db").arg(&db).arg("db-service"));
    service.wait_for("[NATS] db-service consuming the stream", STEP);
    let chat = format!("replay:{},speed=600", fixture_path(FIXTURE).display());
    let mut bot = Logged::spawn(
        rosey(&cluster.urls())
            .arg("--db")
            .arg(dir.path().join("bot.db"))
            .args(["bot", "--mode", "nats", "--chat", &chat]),
    );
    bot.wait_for("[NATS] bot publishing into the stream", STEP);

    let reader = Store::open(&db, 0).unwrap();
    let applied = || reader.applied_stream_seq(DEFAULT_STREAM).unwrap_or(0);
    wait_until(&format!("the db-service has applied {KILL_AT} stream sequences"), REPLAY, || {
        assert!(bot.is_running(), "the bot finished before the fault");
        applied() >= KILL_AT
    });
    let at_kill = applied();
    let mark = service.mark();
    cluster.node(&leader).kill();
    service.wait_since(mark, "[NATS] connected", STEP);

    let (status, summary, log) = bot.finish_within(REPLAY, "the bot");
    assert!(status.success(), "the bot: {status:?}\n{log}");
    assert!(!summary.contains("not acknowledged by the stream"), "{summary}");
    let expected = direct_dump(&load_fixture(FIXTURE));
    let last_seq = {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let probe = support::connect(&cluster.urls(), "test-probe").await;
            probe.stream_state(DEFAULT_STREAM).await.expect("the stream survives a node").last_seq
        })
    };
    assert!(at_kill > 0 && at_kill < last_seq, "the kill was not mid-replay: {at_kill} of {last_seq}");
    wait_until(&format!("the db-service has applied all {last_seq} sequences"), REPLAY, || {
        assert!(service.is_running(), "the db-service exited:\n{}", service.log.join("\n"));
        applied() >= last_seq
    });
    service.signal("TERM");
    let (status, report, log) = service.finish_within(STEP, "the db-service");
    assert!(status.success(), "{status:?}\n{log}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("the db-service prints its report");
    assert_eq!(report["store_errors"].as_u64(), Some(0), "{report}");
    drop(reader);
    assert_same_as_direct(&Store::open(&db, 0).unwrap().dump().unwrap(), &expected);
    println!(
        "cluster: killed the stream leader {leader} at applied_seq {at_kill} of {last_seq}; the db-service \
         skipped {} redeliveries",
        report["redelivered"].as_u64().unwrap_or(0)
    );
}
