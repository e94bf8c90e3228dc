//! `rosey loadtest`: drive a chosen event mix through the bot's bus link at a
//! chosen rate against a running db-service, and report throughput and latency
//! in plain words (for people who do not read criterion output).
//!
//! # What is measured
//!
//! - **sent**: commands published by the unchanged [`Bot`](crate::bot::Bot)
//!   through a hardened [`BusLink`](crate::link::BusLink) (core or
//!   JetStream, as `delivery` says), as the bot would publish them (a `join`
//!   is two commands: `user.joined` and `stats.high_water`).
//! - **applied, dropped, backlog**: read from the db-service's own counters
//!   (`rosey.db.service.stats`) at every probe, minus their values at the
//!   start: commands applied, dropped because its backlog was full (core
//!   delivery's slow consumer), and sent-but-not-yet-through (the backlog;
//!   its peak is reported). The run ends when the counters show everything
//!   sent gone through; then one `recent_chat.get` checks the tail: the last
//!   (up to 1,000) chat lines, which carry the run's id and a sequence
//!   number, must all be in the database, in order. Point loadtest at one
//!   db-service: with several in a queue group the counters are one
//!   instance's. A v0.5.0 service has no counters: then applied is what was
//!   sent minus what the tail check missed.
//! - **outbound.get round trip**: every probe's poll, timed from the request
//!   to its reply on the publishing connection (where the bot's own poll
//!   waits), during the flood and after it (while the backlog drains, and
//!   at least 50 polls); timeouts counted in each phase.
//! - **event -> applied**: for every 256th command, from its send to the
//!   first counters that show it applied (up to one probe interval late).
//!
//! Run it against a scratch database: it writes chat lines, joins and status
//! rows like a busy channel would.
//!
//! # Layout
//!
//! - `args`: the flags, the event mix and its schedule, the rate, durations.
//! - `source`: event kinds -> the bot's commands, in a small channel.
//! - `probe`: sending, polling, reading the service's counters, the tail check.
//! - `prober`: the probes on their own thread and connection.
//! - `percentiles`, `report`: the statistics and the report's text.
//! - `run`: [`loadtest`], the sender and the progress ticker, then the drain.

mod args;
mod percentiles;
mod probe;
mod prober;
mod report;
mod run;
mod source;

pub use args::{EventKind, LoadtestArgs, Mix, Rate};
pub use percentiles::Percentiles;
pub use report::LoadtestReport;
pub use run::loadtest;
