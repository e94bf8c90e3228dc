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
mod error;
mod stream;

use std::future::Future;
use std::time::Duration;

pub use bus::{BusLink, Outbox, OutboxStats, OUTBOX_CAPACITY};
pub use direct::DirectLink;
pub use dual::DualLink;
pub use error::{BadReply, LinkError};
pub use stream::StreamStats;

use crate::contract::{Command, Reply};

/// The bot's way to the database.
pub trait DbLink {
    /// Sends a fire-and-forget command (event, mark).
    fn send(&self, command: Command) -> impl Future<Output = Result<(), LinkError>>;

    /// Sends a request and waits for its reply at most `timeout` (bus links).
    fn request(&self, command: Command, timeout: Duration) -> impl Future<Output = Result<Reply, LinkError>>;

    /// Waits, at most `timeout`, until a read sent now will see every command
    /// sent before it (JetStream: until they are acknowledged). The runner
    /// calls it itself before a poll, not inside the poll it keeps in flight
    /// while events go on: a send that waits for room in the ack window must
    /// never wait for a future nobody polls. Nothing to wait for by default.
    fn before_read(&self, timeout: Duration) -> impl Future<Output = Result<(), LinkError>> {
        let _ = timeout;
        async { Ok(()) }
    }

    /// What the link holds and counts now, for `/metrics`. Nothing for a
    /// link without a bus.
    fn vitals(&self) -> LinkVitals {
        LinkVitals::default()
    }
}

/// A link's state as `/metrics` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkVitals {
    /// Commands held while no db-service answers.
    pub outbox_held: usize,
    /// With JetStream delivery: acks, duplicates, republishes.
    pub stream: Option<StreamStats>,
}
