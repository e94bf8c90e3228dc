//! `rosey-sim test <folder>`: every scenario in a folder against its declared
//! outcome, like a test runner: a line per scenario, a summary, a non-zero
//! exit when any fails, and JUnit XML for CI.

use std::path::{Path, PathBuf};

use crate::error::{Result, SimError};
use crate::run::{Overrides, Prepared};
use crate::scenario::Mode;
use crate::sweep::{failed_invariants, junit_case, replay_command};

/// The scenario files (`*.toml`) in `folder`, by name.
///
/// # Errors
/// When the folder cannot be read or holds no scenario.
pub fn scenarios_in(folder: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(folder).map_err(|e| SimError::scenario(folder, format!("cannot read the folder: {e}")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(SimError::Usage(format!("{} holds no scenario (*.toml)", folder.display())));
    }
    Ok(paths)
}

/// Runs every scenario in `folder` once, with its own seed; prints each
/// verdict; with `junit`, writes a test case per scenario. Returns whether all passed.
///
/// # Errors
/// Only when the folder cannot be read: a scenario that cannot be loaded or
/// run is a failed test case, and the others still run.
pub fn test_folder(folder: &Path, junit: Option<&Path>) -> Result<bool> {
    let mut cases = Vec::new();
    let started = std::time::Instant::now();
    for path in scenarios_in(folder)? {
        let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let run_started = std::time::Instant::now();
        let result = Prepared::load(&path, Mode::Bus).and_then(|prepared| prepared.run(Overrides::default()));
        let seconds = run_started.elapsed().as_secs_f64();
        let seed = result.as_ref().map_or(1, |run| run.seed);
        match &result {
            Ok(run) if run.passed => {
                let expectation = run
                    .expected_violation
                    .as_ref()
                    .map_or("every invariant holds".to_string(), |n| format!("{n} fails"));
                println!("PASS {name} ({expectation}, {seconds:.1} s)");
            }
            Ok(run) => println!(
                "FAIL {name}: {}\n     {}",
                failed_invariants(run),
                replay_command(&path, seed, Overrides::default())
            ),
            Err(error) => println!("FAIL {name}: {error}"),
        }
        cases.push(junit_case(&path, &name, &result, seconds, seed, Overrides::default()));
    }
    let failed = cases.iter().filter(|c| c.failure.is_some()).count();
    println!(
        "{} scenarios in {:.1} s: {} passed, {failed} failed",
        cases.len(),
        started.elapsed().as_secs_f64(),
        cases.len() - failed
    );
    if let Some(junit) = junit {
        crate::junit::write(junit, &format!("rosey-sim test {}", folder.display()), &cases)?;
    }
    Ok(failed == 0)
}
