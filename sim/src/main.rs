//! `rosey-sim`: replay recorded chat through the Rosey bot in virtual time.
//!
//! ```text
//! cargo run --release -p rosey-sim                      # the embedded evening, direct mode, in memory
//! cargo run --release -p rosey-sim -- run fixtures/chat/evening.jsonl --mode direct --db /tmp/e.db
//! cargo run -p rosey-sim -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use rosey::bot::Protocol;
use rosey::fixture::Fixture;
use rosey::store::Store;
use rosey::trace::Trace;

/// Replay recorded CyTube chat through the Rosey bot and db-service in virtual time.
#[derive(Parser)]
#[command(name = "rosey-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a fixture (default: the embedded evening.jsonl) and print a summary.
    Run(RunArgs),
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// A chat fixture (.jsonl). Without one, the embedded evening fixture runs.
    fixture: Option<PathBuf>,
    /// Where the bot's commands go: `direct` calls the store itself.
    #[arg(long, value_enum, default_value_t = Mode::Direct)]
    mode: Mode,
    /// The SQLite database to write (created, or upgraded in place and added
    /// to). Without it the database lives in memory.
    #[arg(long)]
    db: Option<PathBuf>,
    /// The outbound protocol the bot speaks: `hardened` or `v0.5`.
    #[arg(long, default_value_t = Protocol::Hardened)]
    protocol: Protocol,
    /// Write the trace, one JSON line per event, to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum Mode {
    /// No bus: the bot calls the store in-process.
    #[default]
    Direct,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(err),
    };
    init_logging();
    let result = match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> rosey::Result<()> {
    let fixture = match &args.fixture {
        Some(path) => Fixture::load(path)?,
        None => Fixture::parse(rosey_sim::EMBEDDED_EVENING, "embedded evening.jsonl")?,
    };
    let now = rosey::clock::unix_seconds(fixture.header.start_unix_ms);
    let store = match &args.db {
        Some(path) => Store::open(path, now)?,
        None => Store::open_in_memory(now)?,
    };
    let trace = Trace::new(args.trace.is_some());
    let wall = std::time::Instant::now();
    let (output, store) = match args.mode {
        Mode::Direct => rosey_sim::direct::run_direct(&fixture, store, args.protocol, trace.clone()),
    };
    let wall = wall.elapsed();
    drop(store);
    if let Some(path) = &args.trace {
        let mut text = trace.lines().join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("cannot write the trace to {}: {e}", path.display()))?;
    }
    print!("{}", rosey::bot::summary::render(&output.report, &output.said, wall, &trace.hash_hex()));
    Ok(())
}

/// Help and version print as clap formats them; a usage error becomes one
/// line naming the problem.
fn clap_exit(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = err.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see --help)");
            ExitCode::from(2)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
