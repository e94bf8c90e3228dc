//! `rosey-sim shrink`: from a failing run to the smallest scenario that
//! still fails the same invariant.
//!
//! Delta debugging (ddmin) over the fault schedule first, then each
//! remaining fault's window narrowed, then its intensity lowered
//! (probabilities, burst sizes, latencies, commit delays), then the fixture
//! cut: the lines after the failure, then lines that do not matter. Each
//! step is one full run; a step is kept only when the run still fails the
//! target invariant, so the result fails it too, with the same seed.
//!
//! What makes this work is that each fault's randomness is its own (see
//! `faulty_link::Drops`): removing one fault does not change what another
//! does. A swarm seed's drawn faults are written out explicitly first.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Result, SimError};
use crate::fault::{Fault, FaultSpec};
use crate::run::{Overrides, Prepared};
use crate::scenario::Scenario;
use rosey::fixture::Fixture;

/// A window this narrow is not narrowed further.
const MIN_WINDOW_MS: i64 = 200;
/// A drop probability this low is not lowered further.
const MIN_PROBABILITY: f64 = 0.05;

/// The fixture as lines of text, so a candidate is a subset of them and the
/// result is written back exactly as recorded.
#[derive(Debug, Clone)]
struct FixtureText {
    header: Value,
    /// Every event line: its line number in the original and its text.
    lines: Vec<(usize, String)>,
}

impl FixtureText {
    fn load(path: &Path) -> Result<FixtureText> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::scenario(path, format!("cannot read the fixture {}: {e}", path.display())))?;
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| SimError::scenario(path, "empty fixture"))?;
        let header: Value =
            serde_json::from_str(header).map_err(|e| SimError::scenario(path, format!("bad header: {e}")))?;
        Ok(FixtureText { header, lines: lines.map(|(i, l)| (i + 1, l.to_string())).collect() })
    }

    /// The text of a fixture holding `keep` (indexes into `lines`); a cut
    /// fixture has no `end_ms`, so the replay ends after its last line.
    fn text(&self, keep: &[usize], cut: bool) -> String {
        let mut header = self.header.clone();
        if cut {
            if let Some(fields) = header.as_object_mut() {
                fields.remove("end_ms");
            }
        }
        let mut text = header.to_string();
        text.push('\n');
        for &index in keep {
            text.push_str(&self.lines[index].1);
            text.push('\n');
        }
        text
    }
}

/// What shrinking did.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The invariant that fails throughout.
    pub invariant: String,
    pub seed: u64,
    /// The minimal scenario (its fixture in `fixture_text`).
    pub scenario: Scenario,
    pub fixture_text: String,
    pub faults_before: usize,
    pub faults_after: usize,
    pub lines_before: usize,
    pub lines_after: usize,
    /// Runs spent, the first included.
    pub runs: usize,
}

/// The shrinker's state: the current smallest failing candidate.
struct Shrinker<'a> {
    scenario: Scenario,
    fixture: FixtureText,
    seed: u64,
    invariant: String,
    faults: Vec<Fault>,
    keep: Vec<usize>,
    cut: bool,
    runs: usize,
    max_runs: usize,
    log: &'a mut dyn FnMut(&str),
}

/// Shrinks the failing run of `path` at `seed` (default: the scenario's).
/// `invariant` picks the one to keep failing (default: the first that fails);
/// `log` receives a line per step.
///
/// # Errors
/// When the scenario cannot be loaded, or its run does not fail.
pub fn shrink(
    path: &Path,
    seed: Option<u64>,
    invariant: Option<&str>,
    max_runs: usize,
    log: &mut dyn FnMut(&str),
) -> Result<Shrunk> {
    let prepared = Prepared::load(path, crate::scenario::Mode::Bus)?;
    let seed = seed.unwrap_or(prepared.scenario.seed);
    let first = prepared.run(Overrides { seed: Some(seed), ..Overrides::default() })?;
    let failing: Vec<&str> = first.verdicts.iter().filter(|v| !v.holds).map(|v| v.name).collect();
    let invariant = match invariant {
        Some(name) if failing.contains(&name) => name.to_string(),
        Some(name) => {
            return Err(SimError::Usage(format!(
                "{name} holds in seed {seed} of {} (failing: {}); nothing to shrink",
                path.display(),
                if failing.is_empty() { "none".to_string() } else { failing.join(", ") }
            )))
        }
        None => failing.first().map(|n| n.to_string()).ok_or_else(|| {
            SimError::Usage(format!("every invariant holds in seed {seed} of {}: nothing to shrink", path.display()))
        })?,
    };
    let fixture = FixtureText::load(&prepared.scenario.fixture_path())?;
    // The swarm's draw for this seed, written out: from here on the schedule is explicit.
    let faults = prepared.faults_for(seed);
    let mut scenario = prepared.scenario.clone();
    scenario.swarm = None;
    scenario.faults = Vec::new();
    scenario.seed = seed;
    scenario.expect_violation = Some(invariant.clone());
    let keep: Vec<usize> = (0..fixture.lines.len()).collect();
    log(&format!(
        "seed {seed} fails {invariant}: {} faults, {} fixture lines; shrinking (at most {max_runs} runs)",
        faults.len(),
        keep.len()
    ));
    let mut shrinker =
        Shrinker { scenario, fixture, seed, invariant, faults, keep, cut: false, runs: 1, max_runs, log };
    let (faults_before, lines_before) = (shrinker.faults.len(), shrinker.keep.len());
    shrinker.drop_faults()?;
    shrinker.narrow_windows()?;
    shrinker.lower_intensity()?;
    shrinker.cut_after_failure()?;
    shrinker.drop_lines()?;
    let mut scenario = shrinker.scenario.clone();
    scenario.faults = shrinker.faults.clone();
    Ok(Shrunk {
        invariant: shrinker.invariant.clone(),
        seed,
        fixture_text: shrinker.fixture.text(&shrinker.keep, shrinker.cut),
        scenario,
        faults_before,
        faults_after: shrinker.faults.len(),
        lines_before,
        lines_after: shrinker.keep.len(),
        runs: shrinker.runs,
    })
}

impl Shrinker<'_> {
    /// Whether `faults` over `keep` still fails the invariant (one run).
    fn fails(&mut self, faults: &[Fault], keep: &[usize], cut: bool) -> Result<bool> {
        self.runs += 1;
        let text = self.fixture.text(keep, cut);
        let fixture = Fixture::parse(&text, "shrink candidate")?;
        let mut scenario = self.scenario.clone();
        scenario.faults = faults.to_vec();
        let prepared = Prepared::with_fixture(scenario, fixture)?;
        let run = prepared.run(Overrides { seed: Some(self.seed), ..Overrides::default() })?;
        Ok(run.verdicts.iter().any(|v| v.name == self.invariant && !v.holds))
    }

    fn out_of_runs(&self) -> bool {
        self.runs >= self.max_runs
    }

    /// Tries the candidate; adopts it when it still fails.
    fn attempt(&mut self, what: String, faults: Vec<Fault>, keep: Vec<usize>, cut: bool) -> Result<bool> {
        let kept = self.fails(&faults, &keep, cut)?;
        let mark = if kept { "kept" } else { "no  " };
        (self.log)(&format!("  [{:>3} runs] {mark} {what}", self.runs));
        if kept {
            self.faults = faults;
            self.keep = keep;
            self.cut = cut;
        }
        Ok(kept)
    }

    /// ddmin over the fault list: remove halves, then quarters, ..., then single faults.
    fn drop_faults(&mut self) -> Result<()> {
        (self.log)("dropping faults:");
        self.ddmin(
            |shrinker| shrinker.faults.len(),
            |shrinker, start, end| {
                let mut candidate = shrinker.faults.clone();
                let gone: Vec<Fault> = candidate.drain(start..end).collect();
                let what = format!("without {}", describe_all(&gone));
                shrinker.attempt(what, candidate, shrinker.keep.clone(), shrinker.cut)
            },
        )
    }

    /// Delta debugging over a list of `len` items: tries the list without
    /// each of 2, 4, 8, ... chunks (`without(start, end)` runs one candidate
    /// and says whether it was kept), until no single item can go or the
    /// run budget is spent.
    fn ddmin(
        &mut self,
        len: impl Fn(&Self) -> usize,
        mut without: impl FnMut(&mut Self, usize, usize) -> Result<bool>,
    ) -> Result<()> {
        let mut chunks = 2;
        while len(self) > 0 && !self.out_of_runs() {
            let size = len(self).div_ceil(chunks);
            let mut removed = false;
            let mut start = 0;
            while start < len(self) && !self.out_of_runs() {
                let end = (start + size).min(len(self));
                if without(self, start, end)? {
                    removed = true;
                } else {
                    start = end;
                }
            }
            if !removed {
                if size == 1 {
                    break;
                }
                chunks = (chunks * 2).min(len(self).max(1));
            }
        }
        Ok(())
    }

    /// Each fault's window, halved from either end while it still fails.
    fn narrow_windows(&mut self) -> Result<()> {
        (self.log)("narrowing windows:");
        for index in 0..self.faults.len() {
            while !self.out_of_runs() {
                let fault = &self.faults[index];
                let (from, until) = fault.window();
                let width = until - from;
                if width <= MIN_WINDOW_MS {
                    break;
                }
                let middle = from + width / 2;
                let mut narrowed = false;
                for (a, b) in [(from, middle), (middle, until)] {
                    let mut candidate = self.faults.clone();
                    candidate[index].from_ms = a;
                    candidate[index].until_ms = b;
                    let what = format!("{} over {a}..{b} ms", describe(&candidate[index]));
                    if self.attempt(what, candidate, self.keep.clone(), self.cut)? {
                        narrowed = true;
                        break;
                    }
                }
                if !narrowed {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Probabilities, burst sizes, latencies and commit delays, halved while it still fails.
    fn lower_intensity(&mut self) -> Result<()> {
        (self.log)("lowering intensity:");
        for index in 0..self.faults.len() {
            while !self.out_of_runs() {
                let mut candidate = self.faults.clone();
                let lowered = match &mut candidate[index].what {
                    FaultSpec::Drop { probability, .. } if *probability / 2.0 >= MIN_PROBABILITY => {
                        *probability /= 2.0;
                        true
                    }
                    FaultSpec::Burst { lines, .. } if *lines > 1 => {
                        *lines /= 2;
                        true
                    }
                    FaultSpec::Latency { ms, .. } if *ms > 1 => {
                        *ms /= 2;
                        true
                    }
                    FaultSpec::SlowStore { commit_ms } if *commit_ms > 1 => {
                        *commit_ms /= 2;
                        true
                    }
                    _ => false,
                };
                if !lowered {
                    break;
                }
                let what = describe(&candidate[index]);
                if !self.attempt(what, candidate, self.keep.clone(), self.cut)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The shortest prefix of the fixture that still fails (binary search).
    fn cut_after_failure(&mut self) -> Result<()> {
        (self.log)("cutting the fixture after the failure:");
        let (mut low, mut high) = (0, self.keep.len());
        while low < high && !self.out_of_runs() {
            let middle = (low + high) / 2;
            let candidate = self.keep[..middle].to_vec();
            let what = format!("the first {middle} of {} lines", self.keep.len());
            if self.attempt(what, self.faults.clone(), candidate, true)? {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        Ok(())
    }

    /// ddmin over the remaining lines, within the run budget.
    fn drop_lines(&mut self) -> Result<()> {
        (self.log)("dropping fixture lines that do not matter:");
        self.ddmin(
            |shrinker| shrinker.keep.len(),
            |shrinker, start, end| {
                let mut candidate = shrinker.keep.clone();
                candidate.drain(start..end);
                let first = shrinker.fixture.lines[shrinker.keep[start]].0;
                let what = format!("without {} line(s) from line {first}", end - start);
                shrinker.attempt(what, shrinker.faults.clone(), candidate, shrinker.cut)
            },
        )
    }
}

fn describe(fault: &Fault) -> String {
    serde_json::to_string(fault).unwrap_or_default()
}

fn describe_all(faults: &[Fault]) -> String {
    faults.iter().map(describe).collect::<Vec<_>>().join(", ")
}

/// The minimal scenario as TOML, its fixture named `fixture_name` beside it.
pub fn scenario_toml(shrunk: &Shrunk, original: &Path, fixture_name: &str) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Faults<'a> {
        faults: &'a [Fault],
    }
    let s = &shrunk.scenario;
    let mut text = String::new();
    let description = format!(
        "Shrunk from {} seed {}: {} fails with {} of {} faults and {} of {} fixture lines ({} runs).",
        original.display(),
        shrunk.seed,
        shrunk.invariant,
        shrunk.faults_after,
        shrunk.faults_before,
        shrunk.lines_after,
        shrunk.lines_before,
        shrunk.runs
    );
    text.push_str(&format!("description = {}\n", toml_string(&description)));
    text.push_str(&format!("fixture = {}\n", toml_string(fixture_name)));
    text.push_str(&format!("seed = {}\n", s.seed));
    text.push_str(&format!("mode = {}\n", toml_string(&enum_name(&s.mode))));
    text.push_str(&format!("protocol = {}\n", toml_string(&s.protocol.to_string())));
    text.push_str(&format!("db_services = {}\n", s.db_services));
    text.push_str(&format!("chat = {}\n", toml_string(&enum_name(&s.chat))));
    text.push_str(&format!("delivery = {}\n", toml_string(&s.delivery.to_string())));
    text.push_str(&format!("ack_window = {}\n", s.ack_window));
    text.push_str(&format!("tick_ms = {}\n", s.tick_ms));
    text.push_str(&format!("expect_violation = {}\n", toml_string(&shrunk.invariant)));
    if !s.faults.is_empty() {
        let faults = toml::to_string(&Faults { faults: &s.faults })
            .map_err(|e| SimError::Usage(format!("cannot write the faults as TOML: {e}")))?;
        text.push('\n');
        text.push_str(&faults);
    }
    Ok(text)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn enum_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Writes the minimal scenario to `out` and its fixture beside it
/// (`<out stem>.jsonl`); returns the fixture's path.
///
/// # Errors
/// When either file cannot be written.
pub fn write(shrunk: &Shrunk, original: &Path, out: &Path) -> Result<PathBuf> {
    let stem = out.file_stem().map_or_else(|| "minimal".to_string(), |s| s.to_string_lossy().into_owned());
    let fixture_name = format!("{stem}.jsonl");
    let fixture_path = out.with_file_name(&fixture_name);
    std::fs::write(&fixture_path, &shrunk.fixture_text).map_err(|e| SimError::write("fixture", &fixture_path, e))?;
    let toml = scenario_toml(shrunk, original, &fixture_name)?;
    std::fs::write(out, toml).map_err(|e| SimError::write("scenario", out, e))?;
    Ok(fixture_path)
}
