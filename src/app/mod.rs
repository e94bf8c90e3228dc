//! The `rosey` binary's commands, as library functions so tests and the
//! binary share them. Each takes resolved [`Settings`](crate::config::Settings)
//! and, where it runs until told to stop, a shutdown future.

//!
//! The commands that speak to a nats-server need the `nats` feature (on by
//! default); the simulator builds without it, and uses only the
//! protocol mappings, the duration parser and [`clap_exit`].

#[cfg(feature = "nats")]
mod bot;
#[cfg(feature = "nats")]
mod db_service;
mod duration;
#[cfg(feature = "nats")]
mod loadtest;
mod metrics_server;
mod migrate;
mod protocol;
mod record;
#[cfg(feature = "nats")]
mod say;
#[cfg(feature = "nats")]
mod token;
#[cfg(feature = "nats")]
mod watch;
#[cfg(feature = "nats")]
mod web;

#[cfg(feature = "nats")]
pub use bot::{bot_session_config, run_bot, BotMode, ChatSpec, Speed};
#[cfg(feature = "nats")]
pub use db_service::run_db_service;
pub use duration::parse_duration;
#[cfg(feature = "nats")]
pub use loadtest::{loadtest, EventKind, LoadtestArgs, LoadtestReport, Mix, Percentiles, Rate};
pub use metrics_server::start_metrics_server;
pub use migrate::{migrate, MigrateArgs, MigrateReport};
pub use protocol::{outbox_for, service_config};
pub use record::{record, RecordArgs, RecordReport};
#[cfg(feature = "nats")]
pub use say::say;
#[cfg(feature = "nats")]
pub use token::{token, TokenCommand};
#[cfg(feature = "nats")]
pub use watch::watch;
#[cfg(feature = "nats")]
pub use web::{run_web, Snapshot};

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
