//! The `rosey` binary's commands, as library functions so tests and the
//! binary share them. Each takes resolved [`Settings`](crate::config::Settings)
//! and, where it runs until told to stop, a shutdown future.

mod bot;
mod db_service;
mod duration;
mod loadtest;
mod record;
mod say;
mod watch;

pub use bot::{bot_session_config, outbox_for, run_bot, BotMode, ChatSpec, Speed};
pub use db_service::{run_db_service, service_config};
pub use duration::parse_duration;
pub use loadtest::{loadtest, EventKind, LoadtestArgs, LoadtestReport, Mix, Percentiles, Rate};
pub use record::{record, RecordArgs, RecordReport};
pub use say::say;
pub use watch::watch;

/// Turns a clap parse failure into the process's exit: help and version print
/// as clap formats them (exit 0); a usage error becomes one line naming the
/// problem (exit 2), never clap's multi-line usage dump.
pub fn clap_exit(err: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            std::process::ExitCode::SUCCESS
        }
        _ => {
            let rendered = err.to_string();
            eprintln!("{} (see --help)", rendered.lines().next().unwrap_or("invalid arguments"));
            std::process::ExitCode::from(2)
        }
    }
}
