//! Two db-services on one database, one applying and one standing by, and the applying
//! one killed (SIGKILL) mid-replay: the standby takes the writer's lease and resumes from
//! the applied stream sequence in the database, and the database ends equal to the
//! direct-mode replay: nothing lost, nothing applied twice. Run on both backends: a real
//! PostgreSQL (the lease is an advisory lock the server drops with the dead session) and an
//! SQLite file (a lock file the kernel drops with the dead process).
//!
//! The bot, both db-services and nats-server (`-js`) are real processes; the fixture is
//! `evening.jsonl` at speed 600 (about 18 s), the kill fires once [`KILL_AT`] stream
//! sequences are committed. The killed service is then started again and must stand by.
//! How long the takeover took is printed (`--nocapture`), not asserted.

mod support;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rosey::delivery::DEFAULT_STREAM;
use rosey::store::{DbLocation, Store};
use rosey_sim::nats_server::NatsServer;
use rosey_sim::postgres_server::PostgresServer;
use support::{assert_same_as_direct, direct_dump, fixture_path, load_fixture, rosey_on, wait_until, Logged};
use tempfile::TempDir;

const STEP: Duration = Duration::from_secs(20);
const REPLAY: Duration = Duration::from_secs(90);
const FIXTURE: &str = "evening.jsonl";
const SPEED: &str = "600";
const KILL_AT: u64 = 1_000;
const ACK_WAIT_MS: &str = "2000";
const HOLDING: &str = "[db] holding the writer's lease";
const STANDING_BY: &str = "[db] standing by";
const CONSUMING: &str = "[NATS] db-service consuming the stream";

/// One real-time replay at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Setup {
    nats: NatsServer,
    dir: TempDir,
    /// The `--db` both services share.
    db: String,
    /// Keeps the PostgreSQL server alive for the test.
    _postgres: Option<PostgresServer>,
}

impl Setup {
    fn new(postgres: bool) -> Setup {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = dir.path().join("store");
        std::fs::create_dir(&store).expect("the store directory");
        let nats = NatsServer::start_jetstream(&store);
        let (db, postgres) = if postgres {
            let server = PostgresServer::start();
            (server.url(), Some(server))
        } else {
            (dir.path().join("rosey.db").display().to_string(), None)
        };
        Setup { nats, dir, db, _postgres: postgres }
    }

    fn rosey(&self) -> Command {
        let mut command = rosey_on(&self.nats.url(), "jetstream");
        command.args(["--ack-wait-ms", ACK_WAIT_MS, "--standby-retry-ms", "200"]);
        command
    }

    /// A db-service on the shared database, serving its metrics on a port of its own.
    fn service(&self) -> Logged {
        Logged::spawn(self.rosey().args(["--db", &self.db, "--metrics-listen", "127.0.0.1:0", "db-service"]))
    }

    fn bot(&self) -> Logged {
        let chat = format!("replay:{},speed={SPEED}", fixture_path(FIXTURE).display());
        let bot_db = self.dir.path().join("bot.db");
        let mut bot =
            Logged::spawn(self.rosey().arg("--db").arg(bot_db).args(["bot", "--mode", "nats", "--chat", &chat]));
        bot.wait_for("[NATS] bot publishing into the stream", STEP);
        bot
    }

    fn store(&self) -> Store {
        Store::connect(&DbLocation::parse(&self.db), 0).expect("the test database opens")
    }

    /// The applied stream sequence in the database.
    fn applied_seq(&self, reader: &Store) -> u64 {
        reader.applied_stream_seq(DEFAULT_STREAM).unwrap_or(0)
    }
}

/// `rosey_db_applying` and `rosey_db_terms_total` as `service` serves them.
fn leadership_of(service: &mut Logged) -> (f64, f64) {
    let line = service.wait_for(METRICS_AT, STEP);
    let base = support::http::listen_address(&line, METRICS_AT);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (status, text) = runtime.block_on(support::http::http(&base, "GET", "/metrics", &[], ""));
    assert_eq!(status, 200, "{text}");
    let read = |series: &str| support::http::sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    (read("rosey_db_applying"), read("rosey_db_terms_total"))
}

const METRICS_AT: &str = "serving Prometheus metrics at ";

fn failover(postgres: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new(postgres);
    let mut first = setup.service();
    first.wait_for(HOLDING, STEP);
    first.wait_for(CONSUMING, STEP);
    let mut second = setup.service();
    second.wait_for(STANDING_BY, STEP);
    assert_eq!(leadership_of(&mut first), (1.0, 1.0), "the holder applies");
    assert_eq!(leadership_of(&mut second), (0.0, 0.0), "the standby does not");

    let mut bot = setup.bot();
    let reader = setup.store();
    wait_until(&format!("the active db-service has applied {KILL_AT} stream sequences"), REPLAY, || {
        assert!(bot.is_running(), "the bot finished before the fault");
        setup.applied_seq(&reader) >= KILL_AT
    });
    let at_kill = setup.applied_seq(&reader);
    let mark = second.mark();
    let killed = Instant::now();
    first.kill();
    second.wait_since(mark, HOLDING, STEP);
    second.wait_since(mark, CONSUMING, STEP);
    let takeover = killed.elapsed();
    assert_eq!(leadership_of(&mut second), (1.0, 1.0), "the standby took over");

    // The killed instance comes back as the standby: the lease has a holder.
    let mut restarted = setup.service();
    restarted.wait_for(STANDING_BY, STEP);
    assert_eq!(leadership_of(&mut restarted), (0.0, 0.0), "the restarted one stands by");

    let (status, summary, log) = bot.finish_within(REPLAY, "the bot");
    assert!(status.success(), "the bot: {status:?}\n{log}");
    assert!(!summary.contains("not acknowledged by the stream"), "{summary}");
    let last_seq = {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            use rosey::transport::Transport;
            let probe = support::connect(&setup.nats.url(), "test-probe").await;
            probe.stream_state(DEFAULT_STREAM).await.expect("the stream exists").last_seq
        })
    };
    assert!(at_kill > 0 && at_kill < last_seq, "the kill was not mid-replay: {at_kill} of {last_seq}");
    wait_until(&format!("the new holder has applied all {last_seq} sequences"), REPLAY, || {
        assert!(second.is_running(), "the new holder exited:\n{}", second.log.join("\n"));
        setup.applied_seq(&reader) >= last_seq
    });
    for service in [&restarted, &second] {
        service.signal("TERM");
    }
    let (status, report, log) = second.finish_within(STEP, "the new holder");
    assert!(status.success(), "{status:?}\n{log}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("the db-service prints its report");
    assert_eq!(report["store_errors"].as_u64(), Some(0), "{report}");
    let (status, standby_report, log) = restarted.finish_within(STEP, "the standby");
    assert!(status.success(), "{status:?}\n{log}");
    let standby_report: serde_json::Value = serde_json::from_str(&standby_report).unwrap();
    assert_eq!(standby_report["commits"].as_u64(), Some(0), "a standby applies nothing: {standby_report}");

    drop(reader);
    assert_same_as_direct(&setup.store().dump().unwrap(), &direct_dump(&load_fixture(FIXTURE)));
    println!(
        "{} failover: killed at applied_seq {at_kill} of {last_seq}; the standby consumed the stream {takeover:?} \
         after the kill and skipped {} redeliveries",
        if postgres { "PostgreSQL" } else { "SQLite" },
        report["redelivered"].as_u64().unwrap_or(0)
    );
}

#[test]
fn postgres_standby_takes_over_from_a_killed_holder_losing_and_doubling_nothing() {
    failover(true);
}

#[test]
fn sqlite_standby_takes_over_from_a_killed_holder_losing_and_doubling_nothing() {
    failover(false);
}
