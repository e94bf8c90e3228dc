//! Sweeps: one scenario over many seeds, on every core.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rosey::delivery::Delivery;

use crate::error::Result;
use crate::run::{Overrides, Prepared, RunResult};

/// Runs seeds `[from, to)`; prints a progress bar, every failing seed with the
/// command that replays it, and the rate; with `junit`, writes one test case
/// per seed there. Returns whether every seed passed.
pub fn sweep(
    path: &Path,
    (from, to): (u64, u64),
    jobs: Option<usize>,
    variant: Overrides,
    junit: Option<&Path>,
) -> Result<bool> {
    let prepared = Prepared::load(path, crate::scenario::Mode::Bus)?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let total = to - from;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {per_sec}, eta {eta} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let next = AtomicU64::new(from);
    let (results, received) = mpsc::channel::<(u64, Result<RunResult>, f64)>();
    let started = std::time::Instant::now();
    let mut failures: Vec<(u64, String)> = Vec::new();
    let mut cases = Vec::new();
    let mut coverage = crate::coverage::Coverage::default();
    // Each worker runs whole simulations; a simulation itself stays on one thread.
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (next, results, prepared) = (&next, results.clone(), &prepared);
            scope.spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= to {
                    break;
                }
                let started = std::time::Instant::now();
                let result = prepared.run(Overrides { seed: Some(seed), ..variant });
                if results.send((seed, result, started.elapsed().as_secs_f64())).is_err() {
                    break;
                }
            });
        }
        drop(results);
        for (seed, result, seconds) in received {
            bar.inc(1);
            cases.push((seed, junit_case(path, &format!("seed {seed}"), &result, seconds, seed, variant)));
            if let Ok(run) = &result {
                coverage.add(&run.effects);
            }
            let failure = match result {
                Ok(run) if run.passed => None,
                Ok(run) => Some(failed_invariants(&run)),
                Err(error) => Some(error.to_string()),
            };
            if let Some(why) = failure {
                bar.println(format!("seed {seed} FAILED: {why}\n  replay: {}", replay_command(path, seed, variant)));
                failures.push((seed, why));
            }
        }
    });
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    failures.sort();
    println!(
        "{} seeds in {elapsed:.1} s on {jobs} threads ({:.0} seeds/minute): {} passed, {} failed",
        total,
        total as f64 * 60.0 / elapsed.max(1e-9),
        total as usize - failures.len(),
        failures.len()
    );
    for (seed, why) in &failures {
        println!("  seed {seed}: {why}\n    {}", replay_command(path, *seed, variant));
    }
    print!("{}", coverage.render());
    let never_bit = coverage.never_bit(&prepared.menu());
    if !never_bit.is_empty() {
        println!(
            "FAILED: fault kinds that never took effect across the sweep: {} (more seeds, or a scenario where they can bite)",
            never_bit.join(", ")
        );
    }
    if let Some(junit) = junit {
        cases.sort_by_key(|(seed, _)| *seed);
        let cases: Vec<_> = cases.into_iter().map(|(_, case)| case).collect();
        crate::junit::write(junit, &format!("rosey-sim sweep {}", path.display()), &cases)?;
    }
    Ok(failures.is_empty() && never_bit.is_empty())
}

/// One run as a JUnit test case: a failure names the failing invariant and
/// carries the run's report, replay command included.
pub fn junit_case(
    path: &Path,
    name: &str,
    result: &Result<RunResult>,
    seconds: f64,
    seed: u64,
    variant: Overrides,
) -> crate::junit::Case {
    let failure = match result {
        Ok(run) if run.passed => None,
        Ok(run) => Some((failed_invariants(run), render_result(run, path))),
        Err(error) => Some((error.to_string(), format!("{error}\nreplay: {}", replay_command(path, seed, variant)))),
    };
    crate::junit::Case { suite: path.display().to_string(), name: name.to_string(), seconds, failure }
}

pub(crate) fn failed_invariants(run: &RunResult) -> String {
    match &run.expected_violation {
        Some(name) => format!("expected {name} to fail, but every invariant held"),
        None => run
            .verdicts
            .iter()
            .filter(|v| !v.holds)
            .map(|v| format!("{}: {}", v.name, v.detail))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The one command that replays a seed (with the protocol and delivery the sweep overrode).
pub fn replay_command(path: &Path, seed: u64, variant: Overrides) -> String {
    let protocol = variant.protocol.map(|p| format!(" --protocol {p}")).unwrap_or_default();
    let delivery = variant.delivery.map(|d| format!(" --delivery {d}")).unwrap_or_default();
    format!(
        "cargo run --release -p rosey-sim -- run {} --seed {seed}{protocol}{delivery} --trace seed-{seed}.jsonl",
        path.display()
    )
}

/// The verdict part of a run's report.
pub fn render_result(run: &RunResult, path: &Path) -> String {
    let mut out = String::new();
    let delivery = match run.delivery {
        Delivery::Core => String::new(),
        other => format!(", delivery: {other}"),
    };
    out.push_str(
        &format!("mode: {:?}, protocol: {}{delivery}, seed: {}\n", run.mode, run.protocol, run.seed).to_lowercase(),
    );
    out.push_str(&format!("faults: {}\n", run.faults.len()));
    for (fault, effect) in run.faults.iter().zip(&run.effects) {
        let bit = if effect.took_effect { "took effect" } else { "NO EFFECT" };
        out.push_str(&format!(
            "  {}\n    {bit}: {}\n",
            serde_json::to_string(fault).unwrap_or_default(),
            effect.evidence
        ));
    }
    if let Some(outbox) = run.outbox {
        out.push_str(&format!(
            "bus: {} commands dropped by faults; outbox at the end: {} held, {} overflowed\n",
            run.dropped_by_faults, outbox.held, outbox.overflowed
        ));
    }
    out.push_str("invariants:\n");
    for verdict in &run.verdicts {
        let mark = if verdict.holds { "ok  " } else { "FAIL" };
        out.push_str(&format!("  {mark} {:<16} {}\n", verdict.name, verdict.detail));
        for line in &verdict.evidence {
            out.push_str(&format!("         {line}\n"));
        }
    }
    let expectation = match &run.expected_violation {
        Some(name) => format!("expected {name} to fail"),
        None => "expected every invariant to hold".to_string(),
    };
    let outcome = if run.passed { "PASS" } else { "FAIL" };
    out.push_str(&format!("result: {outcome} ({expectation})\n"));
    if !run.passed {
        let variant = Overrides { protocol: Some(run.protocol), delivery: Some(run.delivery), ..Overrides::default() };
        out.push_str(&format!("replay: {}\n", replay_command(path, run.seed, variant)));
    }
    out
}
