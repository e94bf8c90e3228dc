//! The bug zoo against the live stack (`rosey-sim live`): a real
//! nats-server, the bot and the db-service on real sockets, each fault done
//! for real (a proxy cuts, holds or slows a link, a db-service is killed and
//! restarted, the server restarted, the fake CyTube's server restarted).
//! Each scenario gives the verdict it gives in the simulator: v0.5.0 fails
//! the same invariant live, so the simulator's bug is a production bug, and
//! the hardened protocol passes.
//!
//! Built with `--features live` (`bash .ci/run` runs it).

use std::path::{Path, PathBuf};

use rosey_sim::run::{Overrides, Prepared};
use rosey_sim::scenario::Mode;

/// Real time runs this many times faster than the fixture's time.
const SPEED: f64 = 2.0;

fn zoo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios").join(format!("{name}.toml"))
}

fn failing(run: &rosey_sim::run::RunResult) -> Vec<&'static str> {
    run.verdicts.iter().filter(|v| !v.holds).map(|v| v.name).collect()
}

/// The scenario in the simulator and live: the same invariants fail.
fn same_verdict_live(name: &str) {
    let prepared = Prepared::load(&zoo(name), Mode::Bus).unwrap();
    let simulated = prepared.run(Overrides::default()).unwrap();
    let live = rosey_sim::live::run_live(&prepared, prepared.scenario.seed, SPEED).unwrap();
    let expected = prepared.scenario.expect_violation.as_deref().unwrap();
    assert!(simulated.passed, "{name}: the simulator shows {expected} failing");
    let report = rosey_sim::sweep::render_result(&live, &zoo(name));
    assert!(live.passed, "{name}: live, {expected} fails too\n{report}");
    assert_eq!(failing(&live), failing(&simulated), "{name}: the same invariants fail live\n{report}");
}

#[test]
fn lost_mark_sent_says_a_line_again_live() {
    same_verdict_live("zoo-lost-mark-sent");
}

#[test]
fn a_db_service_down_loses_events_live() {
    same_verdict_live("zoo-db-down");
}

#[test]
fn two_db_services_without_a_queue_group_count_twice_live() {
    same_verdict_live("zoo-double-count");
}

#[test]
fn no_mark_failed_retries_a_muted_line_forever_live() {
    same_verdict_live("zoo-no-mark-failed");
}

#[test]
fn a_burst_on_slow_commits_starves_the_polls_live() {
    same_verdict_live("zoo-burst-slow-commits");
}

/// `name` under the hardened protocol and `delivery`, live: every invariant holds.
fn hardened_passes_live(name: &str, delivery: rosey::delivery::Delivery) {
    let mut prepared = Prepared::load(&zoo(name), Mode::Bus).unwrap();
    prepared.scenario.protocol = rosey::bot::Protocol::Hardened;
    prepared.scenario.delivery = delivery;
    prepared.scenario.expect_violation = None;
    let live = rosey_sim::live::run_live(&prepared, 1, SPEED).unwrap();
    let report = rosey_sim::sweep::render_result(&live, &zoo(name));
    assert!(live.passed, "{name} hardened over {delivery}, live: every invariant holds\n{report}");
}

/// The hardened protocol under the same faults: every invariant holds live.
#[test]
fn the_hardened_bot_passes_the_zoo_live() {
    for name in ["zoo-lost-mark-sent", "zoo-db-down"] {
        hardened_passes_live(name, rosey::delivery::Delivery::Core);
    }
}

/// Over JetStream (a `-js` nats-server) a db-service down loses nothing, strictly.
#[test]
fn jetstream_loses_nothing_while_the_db_service_is_down_live() {
    hardened_passes_live("zoo-db-down", rosey::delivery::Delivery::Jetstream);
}

/// With the fake CyTube on a real socket: a mark_sent lost while the chat
/// connection drops makes v0.5.0 say the line twice, live as in the simulator.
#[test]
fn a_reconnect_says_a_line_twice_live() {
    let prepared = Prepared::load(&zoo("zoo-reconnect-said-twice"), Mode::Bus).unwrap();
    let simulated = prepared.run(Overrides::default()).unwrap();
    let live = rosey_sim::live::run_live(&prepared, prepared.scenario.seed, 1.0).unwrap();
    let report = rosey_sim::sweep::render_result(&live, &zoo("zoo-reconnect-said-twice"));
    assert!(simulated.passed && live.passed, "said_once fails live too\n{report}");
    // How often the line is retried while the bot is away depends on which
    // host runs first within a tick (seeded in the simulator, the kernel's
    // live): what fails live must fail in the simulator too.
    let (live_failing, simulated_failing) = (failing(&live), failing(&simulated));
    assert!(
        live_failing.iter().all(|name| simulated_failing.contains(name)),
        "live fails {live_failing:?}, the simulator {simulated_failing:?}\n{report}"
    );
}

/// `chat_restart` live: the fake CyTube's server stopped (its ports closed,
/// every socket dropped) and started again on the same ports. The hardened
/// bot reconnects and re-joins, and every invariant holds, as in the
/// simulator; the restart bit both ways.
#[test]
fn a_chat_server_restart_loses_nothing_live() {
    let path = zoo("chat-restart");
    let prepared = Prepared::load(&path, Mode::Bus).unwrap();
    let simulated = prepared.run(Overrides::default()).unwrap();
    let live = rosey_sim::live::run_live(&prepared, prepared.scenario.seed, 1.0).unwrap();
    let report = rosey_sim::sweep::render_result(&live, &path);
    assert!(simulated.passed && live.passed, "every invariant holds live too\n{report}");
    for (run, how) in [(&simulated, "in the simulator"), (&live, "live")] {
        let effect = &run.effects[0];
        assert!(
            effect.took_effect,
            "the restart dropped the bot's chat connection {how}: {}\n{report}",
            effect.evidence
        );
    }
}

/// A one-way partition through the live proxy stops one direction only:
/// replies still come back while what the client sends waits, and arrives,
/// in order, once the partition ends; a new connection is refused meanwhile.
#[test]
fn a_one_way_partition_stops_one_direction_of_the_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = rosey_sim::live::proxy::Proxy::start(upstream.local_addr().unwrap().port()).await.unwrap();
        let mut client = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
        let (mut server, _) = upstream.accept().await.unwrap();

        proxy.set(|link| link.cut_up = true);
        client.write_all(b"sent during the cut").await.unwrap();
        server.write_all(b"reply").await.unwrap();
        let mut reply = [0u8; 5];
        let patience = std::time::Duration::from_secs(10);
        rosey::timers::timeout(patience, client.read_exact(&mut reply))
            .await
            .expect("the other direction flows during the cut")
            .unwrap();
        assert_eq!(&reply, b"reply");

        let mut refused = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(refused.read(&mut byte).await.unwrap_or(0), 0, "a new connection is closed at once");

        proxy.set(|link| link.cut_up = false);
        let mut held = [0u8; 19];
        rosey::timers::timeout(patience, server.read_exact(&mut held))
            .await
            .expect("what waited arrives once the cut ends")
            .unwrap();
        assert_eq!(&held, b"sent during the cut", "what waited arrives once the cut ends");
    });
}
