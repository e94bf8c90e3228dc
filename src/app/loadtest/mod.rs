//! `rosey loadtest`: drive a chosen event mix through the bot's bus link at a
//! chosen rate against a running db-service, and report throughput and latency
//! in plain words (for people who do not read criterion output).
//!
//! # What is measured
//!
//! - **sent**: commands published by the unchanged [`Bot`](crate::bot::Bot)
//!   through a hardened [`BusLink`](crate::link::BusLink), as the bot would
//!   publish them (a `join` is two commands: `user.joined` and `stats.high_water`).
//! - **applied**: commands the db-service is proven to have reached, by round
//!   trips. Every `outbound.get` probe is published after the commands counted
//!   before it, on the same connection; the service reads one subscription in
//!   arrival order, so its reply proves it has applied everything counted
//!   before the probe. A final probe after the last send covers the whole
//!   run. Then one `recent_chat.get` checks the tail: the last (up to 1,000)
//!   chat lines, which carry the run's id and a sequence number, must all be
//!   in the database, in order; any missing there (a slow consumer dropped
//!   them) are subtracted. With several db-services in one queue group the
//!   order proof does not hold: point loadtest at one instance.
//! - **outbound.get round trip**: every probe, timed from the request to its
//!   reply, on the publishing connection (where the bot's own poll waits).
//! - **event → applied**: for each answered probe, the age of the oldest
//!   command it proved applied (the first sent after the previous probe). It
//!   includes up to one probe interval of waiting for the probe to be sent.
//!
//! Run it against a scratch database: it writes chat lines, joins and status
//! rows like a busy channel would.
//!
//! # Layout
//!
//! - `args`: the flags, the event mix and its schedule, the rate, durations.
//! - `source`: event kinds -> the bot's commands, in a small channel.
//! - `probe`: sending, and proving what the db-service applied.
//! - `percentiles`, `report`: the statistics and the report's text.
//! - `run`: [`loadtest`], the sender, prober and progress ticker together.

mod args;
mod percentiles;
mod probe;
mod report;
mod run;
mod source;

pub use args::{EventKind, LoadtestArgs, Mix, Rate};
pub use percentiles::Percentiles;
pub use report::LoadtestReport;
pub use run::loadtest;
