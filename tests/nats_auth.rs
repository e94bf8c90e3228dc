//! The sample authorization config (`docs/deploy/nats-auth.conf`) on a real nats-server,
//! with the `rosey` binary in each role: the bot and the db-service do their whole job with
//! exactly the permissions it grants (JetStream delivery, the strictest case), an operator
//! can enqueue a line and nothing else, and a write outside a user's permissions is
//! refused by the server, writes no row, and is logged clearly by the client.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rosey::store::Store;
use rosey_sim::nats_server::NatsServer;
use support::{
    assert_same_as_direct, direct_dump, fixture_path, load_fixture, rosey_on, run_within, wait_until, Logged,
};

const STEP: Duration = Duration::from_secs(20);
const PASSWORDS: [(&str, &str); 3] = [
    ("ROSEY_BOT_PASSWORD", "bot-pw-1"),
    ("ROSEY_DB_PASSWORD", "db-pw-2"),
    ("ROSEY_OPERATOR_PASSWORD", "operator-pw-3"),
];

fn sample_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy/nats-auth.conf")
}

/// `rosey` logged in as `user` with its password, JetStream delivery.
fn rosey_as(server: &NatsServer, user: &str, password: &str) -> Command {
    rosey_delivering(server, user, password, "jetstream")
}

fn rosey_delivering(server: &NatsServer, user: &str, password: &str, delivery: &str) -> Command {
    let mut command = rosey_on(&server.url(), delivery);
    command.args(["--nats-user", user, "--nats-password", password]);
    command
}

fn row_count(db: &Path, table: &str) -> usize {
    let dump = Store::open(db, 0).unwrap().dump().unwrap();
    dump.table(table).map_or(0, |t| t.rows.len())
}

#[test]
fn each_role_does_its_job_and_nothing_more_under_the_sample_config() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("js");
    std::fs::create_dir(&store_dir).unwrap();
    let server = NatsServer::start_configured(&sample_config(), &store_dir, &PASSWORDS);
    let db = dir.path().join("rosey.db");

    let mut service = Logged::spawn(rosey_as(&server, "rosey-db", "db-pw-2").arg("--db").arg(&db).arg("db-service"));
    service.wait_for("[NATS] db-service consuming the stream", STEP);

    // The bot replays the smoke fixture with only the bot's permissions.
    let fixture = load_fixture("smoke.jsonl");
    let chat = format!("replay:{},speed=max", fixture_path("smoke.jsonl").display());
    let bot_db = dir.path().join("bot.db");
    let mut bot = rosey_as(&server, "rosey-bot", "bot-pw-1");
    bot.arg("--db").arg(&bot_db).args(["bot", "--mode", "nats", "--chat", &chat]);
    let (status, output) = run_within(&mut bot, Duration::from_secs(60), "the bot");
    assert!(status.success(), "the bot, as rosey-bot:\n{output}");
    assert!(!output.contains("refused"), "the sample config refused the bot something:\n{output}");

    // The operator may enqueue: its line lands, and is the barrier for what follows.
    let mut say = rosey_as(&server, "rosey-operator", "operator-pw-3");
    say.args(["say", "hello from the operator"]);
    let (status, output) = run_within(&mut say, STEP, "rosey say");
    assert!(status.success(), "rosey say, as rosey-operator:\n{output}");
    let queued = row_count(&db, "outbound_messages");
    let users_before = row_count(&db, "user_stats");
    let chat_before = row_count(&db, "recent_chat");
    assert!(users_before > 0 && chat_before > 0);

    // The operator replaying chat as if it were the bot: every event is refused.
    let mut forger = rosey_delivering(&server, "rosey-operator", "operator-pw-3", "core");
    forger.args(["--request-timeout-ms", "200"]).arg("--db").arg(dir.path().join("forger.db"));
    forger.args(["bot", "--mode", "nats", "--chat", &chat]);
    let (_, forged) = run_within(&mut forger, Duration::from_secs(120), "the forging bot");
    assert!(forged.contains("[NATS] the server refused this client"), "{forged}");
    assert!(
        forged.to_lowercase().contains("permissions violation for publish to \"rosey.db.user.joined\""),
        "{forged}"
    );
    assert!(!forged.contains("operator-pw-3"), "a password in the log:\n{forged}");

    // A second line from the operator: once it is in, everything before it is too.
    let mut again = rosey_as(&server, "rosey-operator", "operator-pw-3");
    again.args(["say", "second line"]);
    let (status, output) = run_within(&mut again, STEP, "rosey say");
    assert!(status.success(), "{output}");
    wait_until("the operator's second line is in the database", STEP, || row_count(&db, "outbound_messages") > queued);
    assert_eq!(row_count(&db, "user_stats"), users_before, "a refused join wrote a row");
    assert_eq!(row_count(&db, "recent_chat"), chat_before, "a refused chat line wrote a row");

    service.signal("TERM");
    let (status, _, log) = service.finish_within(STEP, "the db-service");
    assert!(status.success(), "{log}");
    assert!(!log.contains("refused"), "the sample config refused the db-service something:\n{log}");
    let mut got = Store::open(&db, 0).unwrap().dump().unwrap();
    let expected = direct_dump(&fixture);
    // After the bot's own lines come the operator's two and the two `rosey:say` lines the
    // forging replay enqueued: enqueueing is what an operator may do.
    let replayed = expected.table("outbound_messages").unwrap().rows.len();
    let table = got.tables.iter_mut().find(|t| t.name == "outbound_messages").unwrap();
    let extra: Vec<String> =
        table.rows.split_off(replayed).iter().map(|row| row[2].as_str().unwrap_or_default().to_string()).collect();
    let said = rosey_sim::chathost::enqueued_texts(&fixture);
    let mut wanted = vec!["hello from the operator".to_string()];
    wanted.extend(said);
    wanted.push("second line".to_string());
    assert_eq!(extra, wanted);
    assert_same_as_direct(&got, &expected);
}
