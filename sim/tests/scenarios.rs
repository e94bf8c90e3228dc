//! Every committed scenario, as CI runs it: it meets its expectation, and the
//! same seed twice gives the same trace. The bug zoo fails under v0.5 with the
//! named invariant (its verdict and evidence pinned with insta) and passes
//! under the hardened protocol.

use std::path::{Path, PathBuf};

use rosey::bot::Protocol;
use rosey::delivery::Delivery;
use rosey_sim::run::{Overrides, Prepared};
use rosey_sim::scenario::Mode;

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/scenarios exists")
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

fn name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_scenario_meets_its_expectation_and_replays_identically() {
    let paths = scenarios();
    assert!(paths.len() >= 9, "expected the zoo, the swarm and the evening scenarios, found {paths:?}");
    for path in paths {
        let prepared = Prepared::load(&path, Mode::Bus).unwrap();
        let first = prepared.run(Overrides::default()).unwrap();
        assert!(first.passed, "{}: {:#?}", name(&path), first.verdicts.iter().filter(|v| !v.holds).collect::<Vec<_>>());
        let second = prepared.run(Overrides::default()).unwrap();
        assert_eq!(first.trace_hash, second.trace_hash, "{}: the same seed gave another trace", name(&path));
    }
}

#[test]
fn bug_zoo_fails_under_v05_and_passes_hardened() {
    let zoo: Vec<PathBuf> = scenarios().into_iter().filter(|p| name(p).starts_with("zoo-")).collect();
    assert_eq!(zoo.len(), 6, "one scenario per v0.5.0 defect, and one across a chat reconnect: {zoo:?}");
    for path in zoo {
        let prepared = Prepared::load(&path, Mode::Bus).unwrap();
        let expected = prepared.scenario.expect_violation.clone().expect("a zoo scenario names its violation");
        let v05 = prepared.run(Overrides { protocol: Some(Protocol::V05), ..Overrides::default() }).unwrap();
        let violated = v05.verdicts.iter().find(|v| v.name == expected).unwrap();
        assert!(!violated.holds, "{}: {expected} held under v0.5", name(&path));
        assert!(
            !violated.evidence.is_empty() || expected == "counted_once",
            "{}: no trace lines show why",
            name(&path)
        );
        insta::assert_yaml_snapshot!(name(&path), violated);

        let hardened = prepared.run(Overrides { protocol: Some(Protocol::Hardened), ..Overrides::default() }).unwrap();
        let broken: Vec<_> = hardened.verdicts.iter().filter(|v| !v.holds).collect();
        assert!(broken.is_empty(), "{} under hardened: {broken:#?}", name(&path));
    }
}

/// JetStream makes the bus's faults harmless: every zoo scenario, on the
/// hardened protocol with JetStream delivery, keeps every invariant, with
/// `no_loss` strict (the database equals direct mode's, whatever the bus lost).
#[test]
fn bug_zoo_holds_everything_under_jetstream() {
    let zoo: Vec<PathBuf> = scenarios().into_iter().filter(|p| name(p).starts_with("zoo-")).collect();
    for path in zoo {
        let prepared = Prepared::load(&path, Mode::Bus).unwrap();
        let variant = Overrides {
            protocol: Some(Protocol::Hardened),
            delivery: Some(Delivery::Jetstream),
            ..Overrides::default()
        };
        let run = prepared.run(variant).unwrap();
        let broken: Vec<_> = run.verdicts.iter().filter(|v| !v.holds).collect();
        assert!(broken.is_empty(), "{} under jetstream: {broken:#?}", name(&path));
    }
}

/// A slice of the JetStream evening swarm on every CI run (500 seeds: the
/// README's `rosey-sim sweep` command).
#[test]
fn evening_swarm_under_jetstream_keeps_every_invariant() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/evening-swarm-jetstream.toml");
    let prepared = Prepared::load(&path, Mode::Bus).unwrap();
    for seed in 2..=3 {
        let run = prepared.run(Overrides { seed: Some(seed), ..Overrides::default() }).unwrap();
        let broken: Vec<_> = run.verdicts.iter().filter(|v| !v.holds).collect();
        assert!(broken.is_empty(), "seed {seed}, faults {:?}: {broken:#?}", run.faults);
    }
}

/// A slice of the swarm on every CI run (the full 1,000 seeds: `rosey-sim sweep`).
#[test]
fn swarm_seeds_keep_every_invariant() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/swarm.toml");
    let prepared = Prepared::load(&path, Mode::Bus).unwrap();
    for seed in 1..=40 {
        let run = prepared.run(Overrides { seed: Some(seed), ..Overrides::default() }).unwrap();
        let broken: Vec<_> = run.verdicts.iter().filter(|v| !v.holds).collect();
        assert!(broken.is_empty(), "seed {seed}, faults {:?}: {broken:#?}", run.faults);
    }
}

/// `failover-jetstream.toml` moves the writer twice, as its description says: `db`
/// applies until it crashes at 20 s, `db2` until it is cut off at 90 s, `db3` after;
/// and at no time do two of them apply (each apply lies in its host's term).
#[test]
fn the_failover_scenario_moves_the_writer_to_each_standby_in_turn() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/failover-jetstream.toml");
    let prepared = Prepared::load(&path, Mode::Bus).unwrap();
    for seed in [1, 2, 3] {
        let run = prepared.run(Overrides { seed: Some(seed), ..Overrides::default() }).unwrap();
        assert!(run.passed, "seed {seed}: {:#?}", run.verdicts);
        let applies: Vec<(String, i64)> = run
            .trace
            .records()
            .into_iter()
            .filter(|r| matches!(r.event, rosey::trace::TraceEvent::Apply { .. }))
            .map(|r| (r.host, r.t))
            .collect();
        let hosts_in = |from: i64, until: i64| -> std::collections::BTreeSet<String> {
            applies.iter().filter(|(_, t)| (from..until).contains(t)).map(|(h, _)| h.clone()).collect()
        };
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(hosts_in(0, 20_000), names(&["db"]), "seed {seed}: before the crash");
        assert_eq!(hosts_in(21_000, 90_000), names(&["db2"]), "seed {seed}: after the crash");
        assert_eq!(hosts_in(100_000, i64::MAX), names(&["db3"]), "seed {seed}: after db2 was cut off");
    }
}
