//! `rosey-sim`: replay recorded chat through the Rosey bot and db-service in
//! virtual time, with faults, and check what correct means.
//!
//! ```text
//! cargo run --release -p rosey-sim                      # the embedded evening, direct mode, in memory
//! cargo run --release -p rosey-sim -- run fixtures/chat/evening.jsonl --mode bus
//! cargo run --release -p rosey-sim -- run fixtures/scenarios/zoo-lost-mark-sent.toml
//! cargo run --release -p rosey-sim -- sweep fixtures/scenarios/swarm.toml --seeds 1..1001
//! cargo run --release -p rosey-sim -- check-determinism fixtures/scenarios/swarm.toml --seed 7
//! cargo run --release -p rosey-sim -- test fixtures/scenarios --junit scenarios.xml
//! cargo run --release -p rosey-sim -- shrink fixtures/scenarios/zoo-lost-mark-sent.toml --out minimal.toml
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rosey::bot::Protocol;
use rosey::delivery::Delivery;
use rosey::fixture::Fixture;
use rosey::store::Store;
use rosey::trace::Trace;
use rosey_sim::run::{Overrides, Prepared, RunResult};
use rosey_sim::scenario::Mode;
use rosey_sim::SimError;

type Result<T> = std::result::Result<T, SimError>;

/// Replay recorded CyTube chat through the Rosey bot and db-service in virtual time.
#[derive(Parser)]
#[command(name = "rosey-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario (.toml) or replay a fixture (.jsonl; default: the embedded evening).
    Run(RunArgs),
    /// Run a scenario over a range of seeds on every core; print each failing seed's replay command.
    Sweep {
        /// The scenario (.toml).
        scenario: PathBuf,
        /// Seeds: A..B (B excluded) or A..=B.
        #[arg(long, value_parser = parse_seeds)]
        seeds: (u64, u64),
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Override the scenario's protocol.
        #[arg(long)]
        protocol: Option<Protocol>,
        /// Override the scenario's delivery: `core` or `jetstream`.
        #[arg(long, value_enum)]
        delivery: Option<Delivery>,
        /// Write JUnit XML (a test case per seed) to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Shrink a failing run to the smallest scenario and fixture that still fail the same invariant.
    Shrink {
        /// The scenario (.toml) whose run fails.
        scenario: PathBuf,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// The invariant to keep failing (default: the first that fails).
        #[arg(long)]
        invariant: Option<String>,
        /// Where to write the minimal scenario; its fixture goes beside it as <name>.jsonl.
        #[arg(long, default_value = "minimal.toml")]
        out: PathBuf,
        /// Stop after this many runs (each step is one run).
        #[arg(long, default_value_t = 400)]
        max_runs: usize,
    },
    /// Draw a trace as one self-contained HTML page (a sequence diagram, lane per host).
    View {
        /// The trace (.jsonl, from `run --trace`).
        trace: PathBuf,
        /// Where to write the page.
        #[arg(short, long, default_value = "run.html")]
        out: PathBuf,
        /// The scenario the trace came from: its faults are shaded.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The seed the trace came from (swarm scenarios draw their faults per seed).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run a scenario against the live stack: a real nats-server, real sockets, the faults for real.
    Live {
        /// The scenario (.toml).
        scenario: PathBuf,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// How many times faster than real time (virtual time scales; 1 is faithful).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Write JUnit XML (one test case) to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Run every scenario in a folder against its declared outcome, like a test runner.
    Test {
        /// The folder of scenarios (*.toml).
        folder: PathBuf,
        /// Write JUnit XML (a test case per scenario) to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Run a scenario twice with one seed and compare the traces line by line.
    CheckDeterminism {
        /// The scenario (.toml) or fixture (.jsonl).
        scenario: PathBuf,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Where bare fixtures run.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
    },
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// A scenario (.toml) or a chat fixture (.jsonl). Without one, the embedded evening fixture replays.
    scenario: Option<PathBuf>,
    /// The seed (default: the scenario's, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// `direct` calls the store in-process; `bus` runs the simulated bus under turmoil.
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// The outbound protocol: `hardened` or `v0.5` (default: the scenario's).
    #[arg(long)]
    protocol: Option<Protocol>,
    /// Bus runs: `core` or `jetstream` delivery (default: the scenario's).
    #[arg(long, value_enum)]
    delivery: Option<Delivery>,
    /// The SQLite file to write: direct replays of a fixture create it or upgrade and add to it;
    /// bus and scenario runs write their final database to it as a new file.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Write the trace, one JSON line per event, to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Scenario and bus runs: write the final database (every table, rows in key order) as JSON to this file.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Scenario and bus runs: write JUnit XML (one test case) to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Scenario and bus runs: draw the run (faults, verdicts, evidence) as one HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Bus runs: step turmoil every tick instead of passing quiet stretches in
    /// one step. The run is the same (same trace hash), only slower: a check.
    #[arg(long)]
    every_tick: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return rosey::app::clap_exit(err),
    };
    init_logging();
    let result = match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => run(args),
        Command::Sweep { scenario, seeds, jobs, protocol, delivery, junit } => {
            let variant = Overrides { protocol, delivery, ..Overrides::default() };
            rosey_sim::sweep::sweep(&scenario, seeds, jobs, variant, junit.as_deref())
        }
        Command::Shrink { scenario, seed, invariant, out, max_runs } => {
            shrink(&scenario, seed, invariant.as_deref(), &out, max_runs)
        }
        Command::View { trace, out, scenario, seed } => view(&trace, &out, scenario.as_deref(), seed),
        Command::Live { scenario, seed, speed, junit } => live(&scenario, seed, speed, junit.as_deref()),
        Command::Test { folder, junit } => rosey_sim::suite::test_folder(&folder, junit.as_deref()),
        Command::CheckDeterminism { scenario, seed, mode } => check_determinism(&scenario, seed, mode),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {}", chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, one sentence after another.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn run(args: RunArgs) -> Result<bool> {
    let is_fixture = args.scenario.as_ref().is_none_or(|p| p.extension().is_some_and(|e| e == "jsonl"));
    let mode = args.mode.unwrap_or(Mode::Direct);
    if is_fixture && mode == Mode::Direct {
        return replay_fixture(&args).map(|()| true);
    }
    let path =
        args.scenario.as_ref().ok_or_else(|| SimError::Usage("bus mode needs a fixture or scenario path".into()))?;
    if let Some(db) = &args.db {
        check_new_database_path(db)?;
    }
    let prepared = Prepared::load(path, mode)?;
    let overrides = Overrides {
        seed: args.seed,
        mode: args.mode,
        protocol: args.protocol,
        delivery: args.delivery,
        every_tick: args.every_tick,
    };
    let wall = std::time::Instant::now();
    let result = prepared.run_saving(overrides, args.db.as_deref());
    let wall = wall.elapsed();
    if let Some(junit) = &args.junit {
        let seed = result.as_ref().map_or(args.seed.unwrap_or(prepared.scenario.seed), |run| run.seed);
        let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let variant = Overrides { protocol: args.protocol, delivery: args.delivery, ..Overrides::default() };
        let case = rosey_sim::sweep::junit_case(path, &name, &result, wall.as_secs_f64(), seed, variant);
        rosey_sim::junit::write(junit, "rosey-sim run", &[case])?;
    }
    let result = result?;
    if let Some(html) = &args.html {
        let context = rosey_sim::view::Context {
            title: format!("{} seed {}", path.display(), result.seed),
            faults: &result.faults,
            effects: &result.effects,
            verdicts: &result.verdicts,
        };
        let page = rosey_sim::view::render(&result.trace.records(), &context);
        std::fs::write(html, page).map_err(|e| SimError::write("page", html, e))?;
        println!("drew the run: {}", html.display());
    }
    write_trace(args.trace.as_deref(), &result.trace)?;
    if let (Some(path), Some(dump)) = (&args.dump, &result.dump) {
        let text = serde_json::to_string_pretty(dump).map_err(|e| SimError::write("dump", path, e.into()))?;
        std::fs::write(path, text).map_err(|e| SimError::write("dump", path, e))?;
    }
    print!("{}", rosey::bot::summary::render(&result.report, &result.said, wall, &result.trace_hash));
    print!("{}", rosey_sim::sweep::render_result(&result, path));
    Ok(result.passed)
}

/// A simulated run writes its database as a new file, so the path must not
/// hold one yet (direct replays of a fixture add to an existing file instead).
/// Checked before anything runs, so a refused `--db` touches no file.
fn check_new_database_path(db: &Path) -> Result<()> {
    if db.exists() {
        return Err(SimError::Usage(format!(
            "--db {}: the file exists; a simulated run writes its database to a new file \
             (remove it or choose another path; direct replays of a fixture add to an existing file)",
            db.display()
        )));
    }
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(SimError::Usage(format!("--db {}: the folder {} does not exist", db.display(), folder.display())));
    }
    Ok(())
}

/// The plain replay: a fixture, direct mode, optionally into a database file.
fn replay_fixture(args: &RunArgs) -> Result<()> {
    let fixture = match &args.scenario {
        Some(path) => Fixture::load(path)?,
        None => Fixture::parse(rosey_sim::EMBEDDED_EVENING, "embedded evening.jsonl")?,
    };
    let now = rosey::clock::unix_seconds(fixture.header.start_unix_ms);
    let store = match &args.db {
        Some(path) => Store::open(path, now),
        None => Store::open_in_memory(now),
    }?;
    let trace = Trace::new(args.trace.is_some());
    let wall = std::time::Instant::now();
    let protocol = args.protocol.unwrap_or_default();
    let (output, store) = rosey_sim::direct::run_direct(&fixture, store, protocol, trace.clone());
    let wall = wall.elapsed();
    drop(store);
    write_trace(args.trace.as_deref(), &trace)?;
    print!("{}", rosey::bot::summary::render(&output.report, &output.said, wall, &trace.hash_hex()));
    Ok(())
}

fn write_trace(path: Option<&Path>, trace: &Trace) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let mut text = trace.lines().join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(|e| SimError::write("trace", path, e))
}

#[cfg(feature = "live")]
fn live(path: &Path, seed: Option<u64>, speed: f64, junit: Option<&Path>) -> Result<bool> {
    let prepared = Prepared::load(path, Mode::Bus)?;
    let seed = seed.unwrap_or(prepared.scenario.seed);
    let wall = std::time::Instant::now();
    let result = rosey_sim::live::run_live(&prepared, seed, speed);
    let wall = wall.elapsed();
    if let Some(junit) = junit {
        let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let case = rosey_sim::sweep::junit_case(path, &name, &result, wall.as_secs_f64(), seed, Overrides::default());
        rosey_sim::junit::write(junit, "rosey-sim live", &[case])?;
    }
    let result = result?;
    println!("live: a real nats-server, {speed}x real time, {:.1} s", wall.as_secs_f64());
    print!("{}", rosey::bot::summary::render(&result.report, &result.said, wall, &result.trace_hash));
    print!("{}", rosey_sim::sweep::render_result(&result, path));
    Ok(result.passed)
}

#[cfg(not(feature = "live"))]
fn live(_: &Path, _: Option<u64>, _: f64, _: Option<&Path>) -> Result<bool> {
    Err(SimError::Usage(
        "this rosey-sim was built without live runs: cargo run --release -p rosey-sim --features live -- live <scenario>"
            .into(),
    ))
}

fn view(trace: &Path, out: &Path, scenario: Option<&Path>, seed: Option<u64>) -> Result<bool> {
    let text =
        std::fs::read_to_string(trace).map_err(|e| SimError::Usage(format!("cannot read {}: {e}", trace.display())))?;
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let record = rosey::trace::TraceRecord::parse(line)
            .map_err(|e| SimError::Usage(format!("{}:{}: not a trace line: {e}", trace.display(), number + 1)))?;
        records.push(record);
    }
    let faults = match scenario {
        Some(path) => {
            let prepared = Prepared::load(path, Mode::Bus)?;
            prepared.faults_for(seed.unwrap_or(prepared.scenario.seed))
        }
        None => Vec::new(),
    };
    let effects = rosey_sim::coverage::effects(&faults, &records);
    let context = rosey_sim::view::Context {
        title: trace.display().to_string(),
        faults: &faults,
        effects: &effects,
        verdicts: &[],
    };
    std::fs::write(out, rosey_sim::view::render(&records, &context)).map_err(|e| SimError::write("page", out, e))?;
    println!("drew {} records: {}", records.len(), out.display());
    Ok(true)
}

fn shrink(path: &Path, seed: Option<u64>, invariant: Option<&str>, out: &Path, max_runs: usize) -> Result<bool> {
    let started = std::time::Instant::now();
    let shrunk = rosey_sim::shrink::shrink(path, seed, invariant, max_runs, &mut |line| println!("{line}"))?;
    let fixture = rosey_sim::shrink::write(&shrunk, path, out)?;
    println!(
        "shrunk in {} runs ({:.1} s): {} fails with {} of {} faults and {} of {} fixture lines",
        shrunk.runs,
        started.elapsed().as_secs_f64(),
        shrunk.invariant,
        shrunk.faults_after,
        shrunk.faults_before,
        shrunk.lines_after,
        shrunk.lines_before
    );
    println!("wrote {} and {}", out.display(), fixture.display());
    println!("replay: cargo run --release -p rosey-sim -- run {} --trace minimal-trace.jsonl", out.display());
    Ok(true)
}

fn check_determinism(path: &Path, seed: Option<u64>, mode: Option<Mode>) -> Result<bool> {
    let prepared = Prepared::load(path, mode.unwrap_or(Mode::Bus))?;
    let overrides = Overrides { seed, mode, ..Overrides::default() };
    let first: RunResult = prepared.run(overrides)?;
    let second: RunResult = prepared.run(overrides)?;
    let (a, b) = (first.trace.lines(), second.trace.lines());
    match a.iter().zip(&b).position(|(x, y)| x != y) {
        None if a.len() == b.len() => {
            println!("deterministic: seed {}, {} trace lines, hash {} twice", first.seed, a.len(), first.trace_hash);
            Ok(true)
        }
        None => {
            println!("NOT deterministic: one run has {} trace lines, the other {}", a.len(), b.len());
            Ok(false)
        }
        Some(index) => {
            println!("NOT deterministic: seed {}, first difference at trace line {}:", first.seed, index + 1);
            println!("  first run:  {}", a[index]);
            println!("  second run: {}", b[index]);
            Ok(false)
        }
    }
}

fn parse_seeds(text: &str) -> std::result::Result<(u64, u64), String> {
    let (from, to, inclusive) = if let Some((a, b)) = text.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = text.split_once("..") {
        (a, b, false)
    } else {
        return Err(format!("expected A..B or A..=B, got {text:?}"));
    };
    let from: u64 = from.trim().parse().map_err(|_| format!("bad seed {from:?}"))?;
    let to: u64 = to.trim().parse().map_err(|_| format!("bad seed {to:?}"))?;
    let end = if inclusive { to.saturating_add(1) } else { to };
    if end <= from {
        return Err(format!("empty seed range {text:?}"));
    }
    Ok((from, end))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
