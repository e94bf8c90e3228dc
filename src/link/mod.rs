//! How the bot reaches the database: the [`DbLink`] seam.
//!
//! The bot's runner only ever calls `send` (fire-and-forget events and marks)
//! and `request` (outbound polls, enqueues). Three links implement it:
//!
//! - [`DirectLink`]: no bus, the store is called in-process (`[DB]` in logs);
//!   the seed's fallback path and the benchmarks' baseline.
//! - [`BusLink`]: over any [`Transport`](crate::transport::Transport), live
//!   NATS or the simulated bus (`[NATS]` in logs).
//! - [`DualLink`]: the seed's pattern, bus primary and the store as fallback
//!   when the bus is unavailable.

mod bus;
mod direct;
mod dual;

use std::future::Future;
use std::time::Duration;

pub use bus::{BusLink, OutboxStats, OUTBOX_CAPACITY};
pub use direct::DirectLink;
pub use dual::DualLink;

use crate::contract::{Command, Reply};

/// Why a send or request did not get through; the cases stay apart because
/// the bot reacts differently to each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// No reply within the request timeout.
    TimedOut,
    /// Nobody subscribes to the subject (the db-service is down).
    NoResponders,
    /// The bus connection is down and the message could not be queued.
    Disconnected(String),
    /// The payload exceeds the bus's max payload.
    PayloadTooLarge(usize),
    /// The reply could not be decoded.
    BadReply(String),
    /// The store failed (direct mode).
    Store(String),
    /// Anything else the transport reported.
    Other(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::TimedOut => f.write_str("request timed out"),
            LinkError::NoResponders => f.write_str("no responders (is the db-service running?)"),
            LinkError::Disconnected(why) => write!(f, "disconnected: {why}"),
            LinkError::PayloadTooLarge(size) => write!(f, "payload of {size} bytes exceeds the server's max_payload"),
            LinkError::BadReply(why) => write!(f, "bad reply: {why}"),
            LinkError::Store(why) => write!(f, "store: {why}"),
            LinkError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LinkError {}

/// The bot's way to the database.
pub trait DbLink {
    /// Sends a fire-and-forget command (event, mark).
    fn send(&self, command: Command) -> impl Future<Output = Result<(), LinkError>>;

    /// Sends a request and waits for its reply at most `timeout` (bus links).
    fn request(&self, command: Command, timeout: Duration) -> impl Future<Output = Result<Reply, LinkError>>;
}
