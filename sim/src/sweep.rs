//! Sweeps: one scenario over many seeds, on every core.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rosey::delivery::Delivery;

use crate::error::Result;
use crate::run::{Overrides, Prepared, RunResult};

/// Runs seeds `[from, to)`; prints a progress bar, every failing seed with the
/// command that replays it, and the rate. Returns whether every seed passed.
pub fn sweep(path: &Path, (from, to): (u64, u64), jobs: Option<usize>, variant: Overrides) -> Result<bool> {
    let prepared = Prepared::load(path, crate::scenario::Mode::Bus)?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let total = to - from;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {per_sec}, eta {eta} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let next = AtomicU64::new(from);
    let (results, received) = mpsc::channel::<(u64, Result<RunResult>)>();
    let started = std::time::Instant::now();
    let mut failures: Vec<(u64, String)> = Vec::new();
    // Each worker runs whole simulations; a simulation itself stays on one thread.
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (next, results, prepared) = (&next, results.clone(), &prepared);
            scope.spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= to {
                    break;
                }
                let result = prepared.run(Overrides { seed: Some(seed), ..variant });
                if results.send((seed, result)).is_err() {
                    break;
                }
            });
        }
        drop(results);
        for (seed, result) in received {
            bar.inc(1);
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
    Ok(failures.is_empty())
}

fn failed_invariants(run: &RunResult) -> String {
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
    for fault in &run.faults {
        out.push_str(&format!("  {}\n", serde_json::to_string(fault).unwrap_or_default()));
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
