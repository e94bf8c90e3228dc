//! The `rosey-sim` binary as a user meets it: a summary on success, and a
//! one-line error with a non-zero exit (never a panic or a backtrace) on bad
//! arguments and bad fixtures.

use std::path::Path;
use std::process::{Command, Output};

fn rosey_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rosey-sim"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the rosey-sim binary runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/chat").join(name).display().to_string()
}

/// Asserts a failed run printed exactly one line on stderr containing `needle`.
fn assert_one_line_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected failure, got success; stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "expected one line, got: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_argument_is_a_one_line_error() {
    assert_one_line_error(&rosey_sim(&["run", "--frobnicate"]), "--frobnicate");
    assert_one_line_error(&rosey_sim(&["fly"]), "fly");
}

#[test]
fn missing_fixture_is_a_one_line_error() {
    assert_one_line_error(&rosey_sim(&["run", "/no/such/fixture.jsonl"]), "/no/such/fixture.jsonl");
}

#[test]
fn bad_header_and_non_json_line_are_one_line_errors_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_header = dir.path().join("bad_header.jsonl");
    std::fs::write(&bad_header, "{\"rosey_fixture\": 9, \"channel\": \"c\"}\n").unwrap();
    assert_one_line_error(&rosey_sim(&["run", bad_header.to_str().unwrap()]), "bad_header.jsonl:1: bad header");

    let non_json = dir.path().join("non_json.jsonl");
    std::fs::write(
        &non_json,
        "{\"rosey_fixture\": 1, \"channel\": \"c\", \"bot\": \"B\", \"start_unix_ms\": 0}\n{\"at_ms\": 0, \"event\": \"usercount\", \"data\": 1}\nnot json at all\n",
    )
    .unwrap();
    let db = dir.path().join("never.db");
    let output = rosey_sim(&["run", non_json.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_one_line_error(&output, "non_json.jsonl:3: not JSON");
    assert!(!db.exists(), "a fixture that does not parse must not create the database");
}

#[test]
fn bad_database_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    std::fs::write(&db, "these are my notes, not a database").unwrap();
    assert_one_line_error(&rosey_sim(&["run", &fixture("smoke.jsonl"), "--db", db.to_str().unwrap()]), "notes.db");
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "these are my notes, not a database");
}

#[test]
fn run_prints_a_summary_and_twice_the_same_trace_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for run in 0..2 {
        let db = dir.path().join(format!("e{run}.db"));
        let output = rosey_sim(&["run", &fixture("smoke.jsonl"), "--mode", "direct", "--db", db.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        for section in ["events handled:", "skipped:", "lines said:", "virtual duration:", "wall time:", "trace hash:"]
        {
            assert!(stdout.contains(section), "summary lacks {section:?}:\n{stdout}");
        }
        hashes.push(stdout.lines().find(|l| l.starts_with("trace hash:")).unwrap().to_string());
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn trace_file_has_one_json_line_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let output = rosey_sim(&["run", &fixture("smoke.jsonl"), "--trace", trace.to_str().unwrap()]);
    assert!(output.status.success());
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.lines().count() > 10);
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("every trace line is JSON");
        assert!(value["t"].is_i64() && value["host"].is_string() && value["kind"].is_string(), "{line}");
    }
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios").join(name).display().to_string()
}

/// The same seed in two separate processes: the same trace hash (nothing
/// process-local, such as a hash seed, leaks into a run).
#[test]
fn a_seed_replays_identically_across_processes() {
    let hash = |output: Output| {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout.lines().find(|l| l.starts_with("trace hash:")).map(str::to_string).expect("a trace hash")
    };
    let first = hash(rosey_sim(&["run", &scenario("swarm.toml"), "--seed", "11"]));
    let second = hash(rosey_sim(&["run", &scenario("swarm.toml"), "--seed", "11"]));
    assert_eq!(first, second);
}

#[test]
fn check_determinism_reports_identical_traces() {
    let output = rosey_sim(&["check-determinism", &scenario("zoo-db-down.toml"), "--seed", "3"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.starts_with("deterministic: seed 3,"), "{stdout}");
}

#[test]
fn sweep_of_the_swarm_passes_on_hardened_and_every_fault_kind_bit() {
    let output = rosey_sim(&["sweep", &scenario("swarm.toml"), "--seeds", "1..=60"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("60 seeds in") && stdout.contains("60 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("fault coverage (took effect / scheduled):"), "{stdout}");
    for kind in
        ["partition", "hold", "latency", "drop", "crash_db", "restart_bus", "slow_store", "chat_fail", "mute", "burst"]
    {
        let line =
            stdout.lines().find(|l| l.trim_start().starts_with(kind)).unwrap_or_else(|| panic!("no {kind}: {stdout}"));
        let bit: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(bit > 0, "{kind} took effect at least once: {stdout}");
    }

    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn a_failing_run_exits_non_zero_and_prints_its_replay_command() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("expects-the-impossible.toml");
    std::fs::write(
        &broken,
        format!(
            "fixture = {:?}\nmode = \"bus\"\nprotocol = \"hardened\"\nexpect_violation = \"said_once\"\n",
            fixture("smoke.jsonl")
        ),
    )
    .unwrap();
    let output = rosey_sim(&["run", broken.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("result: FAIL (expected said_once to fail)"), "{stdout}");
    assert!(stdout.contains("replay: cargo run --release -p rosey-sim -- run"), "{stdout}");

    let output = rosey_sim(&["sweep", broken.to_str().unwrap(), "--seeds", "1..3"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("2 seeds in") && stdout.contains("0 passed, 2 failed"), "{stdout}");
    assert!(stdout.contains("--seed 1") && stdout.contains("--seed 2"), "{stdout}");
}

#[test]
fn bad_scenarios_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "fixture = \"x.jsonl\"\nexpect_violation = \"nonsense\"\n").unwrap();
    assert_one_line_error(&rosey_sim(&["run", bad.to_str().unwrap()]), "is not an invariant");
    std::fs::write(&bad, "fixture = \"x.jsonl\"\n[[faults]]\nkind = \"partition\"\na = \"bot\"\nb = \"moon\"\nfrom_ms = 1\nuntil_ms = 2\n")
        .unwrap();
    assert_one_line_error(&rosey_sim(&["run", bad.to_str().unwrap()]), "unknown host \"moon\"");
    assert_one_line_error(&rosey_sim(&["sweep", bad.to_str().unwrap(), "--seeds", "5..2"]), "empty seed range");
}

/// `--mode bus --db FILE` keeps the simulated run's final database as a
/// SQLite file, the same rows a direct replay writes; a refused `--db`
/// touches no file.
#[test]
fn bus_run_writes_its_database_and_a_refused_db_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (bus_db, direct_db) = (dir.path().join("bus.db"), dir.path().join("direct.db"));
    let bus = rosey_sim(&["run", &fixture("smoke.jsonl"), "--mode", "bus", "--db", bus_db.to_str().unwrap()]);
    assert!(bus.status.success(), "{}", String::from_utf8_lossy(&bus.stderr));
    let direct = rosey_sim(&["run", &fixture("smoke.jsonl"), "--db", direct_db.to_str().unwrap()]);
    assert!(direct.status.success(), "{}", String::from_utf8_lossy(&direct.stderr));
    let open = |path: &Path| rosey::store::Store::open(path, 0).expect("the written file is a rosey database");
    let (bus_dump, direct_dump) = (open(&bus_db).dump().unwrap(), open(&direct_db).dump().unwrap());
    assert!(bus_dump.table("recent_chat").is_some_and(|t| !t.rows.is_empty()), "the bus run wrote no chat");
    assert_eq!(bus_dump.table("recent_chat"), direct_dump.table("recent_chat"));
    assert_eq!(bus_dump.table("user_stats"), direct_dump.table("user_stats"));

    // An existing file is refused before anything runs, and left as it was.
    let before = std::fs::read(&bus_db).unwrap();
    let again = rosey_sim(&["run", &fixture("smoke.jsonl"), "--mode", "bus", "--db", bus_db.to_str().unwrap()]);
    assert_one_line_error(&again, "the file exists");
    assert_eq!(std::fs::read(&bus_db).unwrap(), before, "a refused --db changed the file");
    // A missing folder, or a scenario that does not load, creates nothing.
    let nowhere = dir.path().join("no/such/folder/x.db");
    let missing = rosey_sim(&["run", &scenario("zoo-db-down.toml"), "--db", nowhere.to_str().unwrap()]);
    assert_one_line_error(&missing, "does not exist");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "fixture = \"nope.jsonl\"\n").unwrap();
    let never = dir.path().join("never.db");
    assert_one_line_error(&rosey_sim(&["run", bad.to_str().unwrap(), "--db", never.to_str().unwrap()]), "nope.jsonl");
    assert!(!never.exists(), "a scenario that does not load must not create the database");
}

/// A folder with one scenario that meets its expectation and one that does not.
fn scenario_folder(dir: &Path) {
    let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/zoo-lost-mark-sent.toml");
    let text = std::fs::read_to_string(zoo).unwrap().replace("../chat/smoke.jsonl", &fixture("smoke.jsonl"));
    std::fs::write(dir.join("a-zoo.toml"), &text).unwrap();
    // The same faults under the hardened protocol: said_once holds, so expecting it to fail fails.
    std::fs::write(dir.join("b-wrong.toml"), text.replace("protocol = \"v0.5\"", "protocol = \"hardened\"")).unwrap();
}

#[test]
fn test_runs_a_folder_against_each_declared_outcome_and_writes_junit() {
    let dir = tempfile::tempdir().unwrap();
    scenario_folder(dir.path());
    let junit = dir.path().join("report.xml");
    let output = rosey_sim(&["test", dir.path().to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "one scenario fails: {stdout}");
    assert!(stdout.contains("PASS a-zoo (said_once fails"), "{stdout}");
    assert!(stdout.contains("FAIL b-wrong: expected said_once to fail"), "{stdout}");
    assert!(stdout.contains("2 scenarios in") && stdout.contains("1 passed, 1 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"tests="2" failures="1""#), "{xml}");
    assert!(xml.contains(r#"name="a-zoo""#) && xml.contains(r#"name="b-wrong""#), "{xml}");
    assert!(xml.contains("<failure message=\"expected said_once to fail, but every invariant held\""), "{xml}");
    assert!(
        xml.contains("replay: cargo run --release -p rosey-sim -- run"),
        "the failure says how to replay it: {xml}"
    );
}

#[test]
fn run_and_sweep_write_junit() {
    let dir = tempfile::tempdir().unwrap();
    scenario_folder(dir.path());
    let scenario = dir.path().join("a-zoo.toml");
    let junit = dir.path().join("run.xml");
    let output = rosey_sim(&["run", scenario.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"tests="1" failures="0""#) && xml.contains(r#"name="a-zoo""#), "{xml}");

    let junit = dir.path().join("sweep.xml");
    let output = rosey_sim(&[
        "sweep",
        scenario.to_str().unwrap(),
        "--seeds",
        "1..4",
        "--protocol",
        "hardened",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"tests="3" failures="0""#), "{xml}");
    for seed in 1..4 {
        assert!(xml.contains(&format!(r#"name="seed {seed}""#)), "{xml}");
    }
}

#[test]
fn a_sweep_fails_when_a_fault_kind_never_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    // A drop on a subject the smoke fixture never sends cannot bite.
    let text = format!(
        "fixture = \"{}\"\nmode = \"bus\"\n\n[[faults]]\nkind = \"drop\"\nsubject = \"rosey.db.stats.recent_chat.get\"\nprobability = 1.0\nfrom_ms = 5000\nuntil_ms = 9000\n",
        fixture("smoke.jsonl")
    );
    let path = dir.path().join("toothless.toml");
    std::fs::write(&path, text).unwrap();
    let output = rosey_sim(&["sweep", path.to_str().unwrap(), "--seeds", "1..3"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "every invariant held: {stdout}");
    assert!(stdout.contains("never took effect across the sweep: drop"), "{stdout}");
}

#[test]
fn live_says_what_it_cannot_run() {
    let output = rosey_sim(&["live", &scenario("zoo-reconnect-said-twice.toml"), "--speed", "2"]);
    let needle = if cfg!(feature = "live") { "runs live at --speed 1 only" } else { "--features live" };
    assert_one_line_error(&output, needle);
}
