//! The bot: channel events in, database commands out.
//!
//! [`Bot`] is sans-IO: its handlers take a normalized [`ChatEvent`] and the
//! instant it was observed, update the channel state and return the
//! [`Command`]s to send to the database side. They never await and never know
//! whether a bus or the store itself is on the other end; [`runner`] drives
//! them from a chat source and timers and hands their output to a
//! [`DbLink`](crate::link::DbLink). That one seam is what lets the same
//! handlers run in direct mode, on the simulated bus and on live NATS.
//!
//! [`ChatEvent`]: crate::cytube::ChatEvent
//! [`Command`]: crate::contract::Command

mod echo;
mod handlers;
mod history;
mod outbound;
mod periodic;
pub mod runner;
mod source;
pub mod summary;
mod timeline;
mod vitals;

pub use echo::ECHO_TIMEOUT_MS;
pub use handlers::Bot;
pub use outbound::{Outbound, OutboundReport, Protocol};
pub use periodic::{OUTBOUND_PERIOD_MS, STATUS_PERIOD_MS, USER_COUNT_PERIOD_MS};
pub use runner::{ReplayReport, Runner, RunnerConfig};
pub use source::{ChatSource, FixtureSource, SourceItem};
pub use timeline::{InstantTimeline, Timeline, TokioTimeline};
