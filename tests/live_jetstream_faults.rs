//! Issue 10's live proof: with `--delivery jetstream` on both sides, a
//! kill -9 of nats-server (restarted on the same port and store directory),
//! a kill -9 of the db-service (started again), and both in one run lose
//! nothing and apply nothing twice: the database equals the direct-mode
//! replay of the same fixture, whole tables compared, time columns aside.
//!
//! The bot and the db-service are the `rosey` binary; the fixture is
//! `evening.jsonl` (6,193 lines, 4,944 commands into the stream) at speed
//! 600, about 18 s: the smoke fixture's few dozen commands are through in
//! well under a second at any speed that keeps the test short, so a fault
//! could not be placed inside the replay with any margin. Here it fires
//! once the db-service has committed [`KILL_AT`] stream sequences (read
//! from its SQLite file, read-only) while the bot still runs, and the test
//! checks afterwards that this was some but not all of the stream.
//!
//! Every wait is a poll of a condition (a log line, the database, the
//! stream) with a deadline. Processes are killed when a test fails: the
//! servers by [`NatsServer`]'s drop, the binaries by [`Logged`]'s. The
//! three tests run one at a time: each is a real-time replay, and three at
//! once on a small machine would mostly test the scheduler.
//!
//! The numbers (republished, duplicates, redeliveries skipped) are printed;
//! run with `--nocapture` to see them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use rosey::delivery::DEFAULT_STREAM;
use rosey::store::Store;
use rosey::transport::{StreamState, Transport};
use rosey_sim::nats_server::NatsServer;
use support::{assert_same_as_direct, connect, direct_dump, fixture_path, load_fixture, rosey_on, wait_until, Logged};
use tempfile::TempDir;

/// Long enough for a process start, a log line, a reconnect.
const STEP: Duration = Duration::from_secs(20);
/// The whole replay, faults and catching up included (about 18 s undisturbed).
const REPLAY: Duration = Duration::from_secs(90);
const FIXTURE: &str = "evening.jsonl";
const SPEED: &str = "600";
/// The fault fires once the db-service has applied this many stream
/// sequences: about a fifth of the replay's 4,944.
const KILL_AT: u64 = 1_000;
/// How long the db-service's deliveries wait for an ack before the server
/// redelivers them (default 5 s): short, so the redeliveries after a kill
/// of the service come back soon.
const ACK_WAIT_MS: &str = "2000";

/// One replay at a time (see the module docs).
static SERIAL: Mutex<()> = Mutex::new(());

/// A JetStream server, its store, and the database file the db-service writes.
struct Setup {
    server: NatsServer,
    dir: TempDir,
    db: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = dir.path().join("store");
        std::fs::create_dir(&store).expect("the store directory");
        let server = NatsServer::start_jetstream(&store);
        let db = dir.path().join("rosey.db");
        Setup { server, dir, db }
    }

    fn rosey(&self) -> Command {
        let mut command = rosey_on(&self.server.url(), "jetstream");
        command.args(["--ack-wait-ms", ACK_WAIT_MS]);
        command
    }

    /// A db-service on the database, once it consumes the stream.
    fn service(&self) -> Logged {
        let mut service = Logged::spawn(self.rosey().arg("--db").arg(&self.db).arg("db-service"));
        service.wait_for("[NATS] db-service consuming the stream", STEP);
        service
    }

    /// The bot replaying the fixture, once it publishes into the stream.
    fn bot(&self) -> Logged {
        let chat = format!("replay:{},speed={SPEED}", fixture_path(FIXTURE).display());
        let bot_db = self.dir.path().join("bot.db");
        let mut bot =
            Logged::spawn(self.rosey().arg("--db").arg(bot_db).args(["bot", "--mode", "nats", "--chat", &chat]));
        bot.wait_for("[NATS] bot publishing into the stream", STEP);
        bot
    }

    /// The highest stream sequence the database has committed, read-only
    /// (0 before the db-service made its bookkeeping table).
    fn applied_seq(&self) -> u64 {
        applied_seq(&self.db)
    }

    /// Waits until the db-service has applied [`KILL_AT`] sequences while
    /// the bot is still replaying; returns what it had applied.
    fn mid_replay(&self, bot: &mut Logged) -> u64 {
        wait_until(&format!("the db-service has applied {KILL_AT} stream sequences"), REPLAY, || {
            assert!(bot.is_running(), "the bot finished before the fault: applied {}", self.applied_seq());
            self.applied_seq() >= KILL_AT
        });
        self.applied_seq()
    }

    /// The stream as the server sees it now.
    fn stream_state(&self) -> StreamState {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let transport = connect(&self.server.url(), "test-probe").await;
            transport.stream_state(DEFAULT_STREAM).await.expect("the stream exists")
        })
    }
}

fn applied_seq(db: &Path) -> u64 {
    use rusqlite::OpenFlags;
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else { return 0 };
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT applied_seq FROM delivery_progress WHERE stream = ?1", [DEFAULT_STREAM], |row| {
        row.get::<_, i64>(0)
    })
    .map_or(0, |seq| seq as u64)
}

/// The line without its terminal colours.
fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            plain.push(c);
        }
    }
    plain
}

/// `key=<number>` from a log line.
fn field(line: &str, key: &str) -> u64 {
    let needle = format!(" {key}=");
    let at = line.find(&needle).unwrap_or_else(|| panic!("no {key}= in {line:?}")) + needle.len();
    line[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a number")
}

/// What a scenario measured.
struct Measured {
    /// When the fault fired: applied by the db-service, of `stored` in the end.
    applied_at_fault: u64,
    stored: u64,
    acked: u64,
    republished: u64,
    duplicates: u64,
    peak_unacked: u64,
    /// Redeliveries the (last) db-service skipped as already applied.
    redelivered: u64,
}

/// Lets the bot finish, checks that the stream holds each of its commands
/// once, waits until the db-service has applied all of it, stops it, and
/// compares the database with the direct-mode replay.
fn finish(setup: &Setup, bot: Logged, mut service: Logged, applied_at_fault: u64) -> Measured {
    let (status, summary, log) = bot.finish_within(REPLAY, "the bot");
    assert!(status.success(), "the bot: {status:?}\n{log}");
    assert!(!summary.contains("not acknowledged by the stream"), "{summary}");
    let delivery =
        log.lines().find(|line| line.contains("[NATS] JetStream delivery")).expect("the bot's delivery line");
    let delivery = &strip_ansi(delivery);
    assert_eq!(field(delivery, "unacked"), 0, "the bot exited with unacknowledged commands: {delivery}");
    let acked = field(delivery, "acked");
    let failed_enqueues: Vec<&str> =
        log.lines().filter(|line| line.contains("request failed") && line.contains("outbound.enqueue")).collect();
    println!("enqueue requests that failed (each is held, or reached the service after all): {failed_enqueues:#?}");

    // Each command the bot had acknowledged is stored once: one message
    // each, none twice (the duplicate window dropped the republished copies).
    let stream = setup.stream_state();
    assert_eq!((stream.first_seq, stream.last_seq, stream.messages), (1, acked, acked), "{delivery}");
    assert!(
        applied_at_fault > 0 && applied_at_fault < stream.last_seq,
        "the fault was not mid-replay: {applied_at_fault} of {}",
        stream.last_seq
    );

    wait_until(&format!("the db-service has applied the stream's {} sequences", stream.last_seq), REPLAY, || {
        assert!(service.is_running(), "the db-service exited:\n{}", service.log.join("\n"));
        setup.applied_seq() >= stream.last_seq
    });
    service.signal("TERM");
    let (status, report, log) = service.finish_within(STEP, "the db-service");
    assert!(status.success(), "the db-service: {status:?}\n{log}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("the db-service prints its report");
    assert_eq!(report["applied_seq"].as_u64(), Some(stream.last_seq), "{report}");
    assert_eq!(report["store_errors"].as_u64(), Some(0), "{report}");

    let got = Store::open(&setup.db, 0).unwrap().dump().unwrap();
    assert_same_as_direct(&got, &direct_dump(&load_fixture(FIXTURE)));
    Measured {
        applied_at_fault,
        stored: stream.last_seq,
        acked,
        republished: field(delivery, "republished"),
        duplicates: field(delivery, "duplicates"),
        peak_unacked: field(delivery, "peak_unacked"),
        redelivered: report["redelivered"].as_u64().unwrap_or(0),
    }
}

fn report(scenario: &str, m: &Measured) {
    println!(
        "{scenario}: fault at applied_seq {} of {} stored; bot acked={} republished={} duplicates={} \
         peak_unacked={}; db-service skipped {} redeliveries",
        m.applied_at_fault, m.stored, m.acked, m.republished, m.duplicates, m.peak_unacked, m.redelivered
    );
}

/// (a) nats-server is killed (SIGKILL) mid-replay and restarted on the same
/// port and store directory once the bot has noticed the outage and failed
/// a poll in it. The server comes back with every message it acknowledged
/// but without its consumer's acks of the last ~100 ms: those messages are
/// delivered again (`delivered` 2) and skipped (how many depends on where
/// the kill lands: from 0 to over 1,000 measured, so it is printed, not
/// asserted).
#[test]
fn kill_9_of_nats_server_mid_replay_loses_nothing_and_applies_nothing_twice() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut setup = Setup::new();
    let mut service = setup.service();
    let mut bot = setup.bot();
    let applied_at_fault = setup.mid_replay(&mut bot);
    let (bot_mark, service_mark) = (bot.mark(), service.mark());
    setup.server.kill();
    let down = bot.wait_since(bot_mark, "[NATS] disconnected", STEP);
    bot.wait_since(bot.log.iter().rposition(|l| *l == down).unwrap(), "outbound poll failed", STEP);
    let bot_mark = bot.mark();
    setup.server.restart();
    bot.wait_since(bot_mark, "[NATS] connected", STEP);
    service.wait_since(service_mark, "[NATS] connected", STEP);
    let measured = finish(&setup, bot, service, applied_at_fault);
    // How many committed messages come back depends on where the kill lands
    // (0 to over 1,000 measured): printed, not asserted. That they are
    // skipped is proved deterministically in live_jetstream.rs
    // (`deliveries_the_database_already_applied_are_skipped`).
    report("nats-server kill -9", &measured);
}

/// (b) The db-service is killed (SIGKILL) mid-replay; once the bot has
/// failed a poll for want of it (the bot keeps publishing into the stream
/// meanwhile), it is started again on the same database. What it had
/// delivered but not acknowledged comes again, what it had committed is
/// skipped, the rest is applied once.
#[test]
fn kill_9_of_the_db_service_mid_replay_loses_nothing_and_applies_nothing_twice() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new();
    let mut service = setup.service();
    let mut bot = setup.bot();
    let applied_at_fault = setup.mid_replay(&mut bot);
    let mark = bot.mark();
    service.kill();
    bot.wait_since(mark, "outbound poll failed", STEP);
    let service = setup.service();
    let measured = finish(&setup, bot, service, applied_at_fault);
    report("db-service kill -9", &measured);
}

/// (c) Both in one run: the db-service is killed mid-replay, then, while it
/// is down, nats-server too; the server is restarted on its port and store,
/// and once the bot is connected again, the db-service is started again.
#[test]
fn kill_9_of_both_mid_replay_loses_nothing_and_applies_nothing_twice() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut setup = Setup::new();
    let mut service = setup.service();
    let mut bot = setup.bot();
    let applied_at_fault = setup.mid_replay(&mut bot);
    let mark = bot.mark();
    service.kill();
    bot.wait_since(mark, "outbound poll failed", STEP);
    let mark = bot.mark();
    setup.server.kill();
    let down = bot.wait_since(mark, "[NATS] disconnected", STEP);
    bot.wait_since(bot.log.iter().rposition(|l| *l == down).unwrap(), "outbound poll failed", STEP);
    let mark = bot.mark();
    setup.server.restart();
    bot.wait_since(mark, "[NATS] connected", STEP);
    let service = setup.service();
    let measured = finish(&setup, bot, service, applied_at_fault);
    report("db-service and nats-server kill -9", &measured);
}
