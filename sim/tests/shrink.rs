//! The shrinker: a bug-zoo scenario padded with harmless faults shrinks back
//! to its one essential fault and a shorter fixture, and the minimal
//! scenario it writes still fails the same invariant when run on its own.

use std::path::Path;

use rosey_sim::run::{Overrides, Prepared};
use rosey_sim::scenario::Scenario;
use rosey_sim::shrink;

fn smoke() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/chat/smoke.jsonl").display().to_string()
}

/// zoo-lost-mark-sent (v0.5.0 says a line again when its mark_sent is lost),
/// plus three faults that have nothing to do with it.
fn padded_zoo(dir: &Path) -> std::path::PathBuf {
    let scenario = format!(
        r#"
fixture = "{fixture}"
seed = 1
mode = "bus"
protocol = "v0.5"
expect_violation = "said_once"

[[faults]]
kind = "latency"
a = "bot"
b = "bus"
ms = 5
from_ms = 1000
until_ms = 3000

[[faults]]
kind = "drop"
subject = "rosey.db.messages.outbound.mark_sent"
probability = 1.0
from_ms = 5000
until_ms = 15000

[[faults]]
kind = "slow_store"
commit_ms = 5
from_ms = 0
until_ms = 20000

[[faults]]
kind = "drop"
subject = "rosey.db.stats.user_count"
probability = 1.0
from_ms = 20000
until_ms = 25000
"#,
        fixture = smoke()
    );
    let path = dir.join("padded.toml");
    std::fs::write(&path, scenario).unwrap();
    path
}

#[test]
fn a_padded_zoo_scenario_shrinks_to_its_one_essential_fault() {
    let dir = tempfile::tempdir().unwrap();
    let path = padded_zoo(dir.path());
    let mut log = Vec::new();
    let shrunk = shrink::shrink(&path, None, None, 400, &mut |line| log.push(line.to_string())).unwrap();
    let log = log.join("\n");
    assert_eq!(shrunk.invariant, "said_once", "{log}");
    assert_eq!((shrunk.faults_before, shrunk.faults_after), (4, 1), "{log}");
    let fault = serde_json::to_value(&shrunk.scenario.faults[0]).unwrap();
    assert_eq!(fault["kind"], "drop", "{log}");
    assert_eq!(fault["subject"], "rosey.db.messages.outbound.mark_sent", "{log}");
    let (from, until) = shrunk.scenario.faults[0].window();
    assert!(from >= 5000 && until <= 15000 && until - from < 10_000, "the window narrowed: {from}..{until}\n{log}");
    assert!(shrunk.lines_after < shrunk.lines_before, "the fixture was cut: {log}");
    assert!(log.contains("dropping faults:") && log.contains("kept without"), "{log}");

    // The written scenario stands on its own and fails the same way.
    let out = dir.path().join("minimal.toml");
    let fixture = shrink::write(&shrunk, &path, &out).unwrap();
    assert_eq!(fixture, dir.path().join("minimal.jsonl"));
    let minimal = Scenario::load(&out).unwrap();
    assert_eq!(minimal.faults.len(), 1);
    let run = Prepared::new(minimal).unwrap().run(Overrides::default()).unwrap();
    let said_once = run.verdicts.iter().find(|v| v.name == "said_once").unwrap();
    assert!(!said_once.holds, "the minimal scenario still fails said_once");
    assert!(run.passed, "and declares it");
}

#[test]
fn a_run_that_does_not_fail_has_nothing_to_shrink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clean.toml");
    std::fs::write(&path, format!("fixture = \"{}\"\nmode = \"bus\"\n", smoke())).unwrap();
    let error = shrink::shrink(&path, None, None, 50, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("nothing to shrink"), "{error}");
}
