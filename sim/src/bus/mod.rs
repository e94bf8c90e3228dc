//! A deterministic NATS stand-in for turmoil: a bus server that runs as a
//! simulated host, and [`SimTransport`], the project's
//! [`Transport`](rosey::transport::Transport) over it.
//!
//! async-nats cannot run over turmoil's TCP (it has no connector hook), so
//! the bot and db-service reach the simulated bus through this client
//! instead, unchanged, behind the same trait as `NatsTransport`.
//!
//! # Examples
//!
//! ```no_run
//! use rosey::transport::Transport;
//! use rosey_sim::bus::{self, SimBusOptions, SimTransport};
//!
//! let mut sim = bus::sim_builder(42, 1_731_000_000_000).build();
//! sim.host("bus", || bus::serve(4222));
//! sim.client("bot", async {
//!     let options = SimBusOptions { name: "bot".into(), ..SimBusOptions::default() };
//!     let transport = SimTransport::connect(bus::BUS_ADDR, options);
//!     transport.publish("rosey.db.user.joined", "{}".into()).await?;
//!     transport.round_trip().await?;
//!     Ok(())
//! });
//! sim.run().unwrap();
//! ```
//!
//! # What it models
//!
//! Core NATS as Rosey uses it: subjects with `*` and `>` wildcards; plain
//! subscriptions (each gets a copy) and queue groups (one member per group
//! gets each message); request/reply through inboxes; an immediate
//! no-responders answer to a request nobody subscribes to (nats-server >=
//! 2.2); per-connection ordering; at-most-once delivery (nothing is retried
//! or persisted); PING/PONG; slow-consumer limits on both sides; reconnects
//! with async-nats' backoff, re-subscription and publish buffering.
//!
//! # Where it differs from nats-server and async-nats
//!
//! - Queue groups: nats-server picks a member at random; the bus takes
//!   matching members round-robin per group name, in subscription order, so
//!   a seed replays exactly. Only "exactly one member per group" is common
//!   ground; tests must not assume either distribution of the other.
//! - Liveness: async-nats PINGs every 60 s and gives up after 2 unanswered;
//!   nats-server PINGs every 2 min. The sim defaults are 1 s / 2 s on the
//!   client and 2 s x 2 on the bus, because turmoil TCP never errors on a
//!   partition: a dead stream is only found by a missed PONG.
//! - Inboxes are `_INBOX.<name>.<n>`, a counter instead of a random nuid:
//!   client names must be unique within one sim.
//! - Publish subjects with wildcards or empty tokens are refused
//!   (`InvalidSubject`); async-nats and a non-pedantic server let them through.
//! - Buffer full while disconnected: `publish` fails with `Disconnected`
//!   (and counts it); async-nats blocks the caller until there is room.
//! - A round trip whose PING was lost with a connection fails at once with
//!   `Disconnected`; `NatsTransport` would time out after 10 s.
//! - No headers, JetStream, auth, TLS, cluster routes or server INFO.
//!
//! # Layout
//!
//! - `frame`: the length-prefixed binary wire format.
//! - `subject`: subject validation and wildcard matching.
//! - `router`: subscriptions, queue-group choice, no-responders.
//! - `server`: [`serve`], the bus host (accept, per-connection read/write tasks, PINGs).
//! - `state`: what the client's handles and its task share: [`SimBusOptions`],
//!   [`ClientStats`], the outgoing queue and the live subscriptions.
//! - `client`: [`SimTransport`], the handle, and its subscriptions.
//! - `connection`: the client's background connect / liveness / reconnect task.

mod client;
mod connection;
pub mod frame;
mod router;
mod server;
mod state;
pub mod subject;

use std::time::{Duration, SystemTime};

pub use client::{SimSubscription, SimTransport};
pub use server::{serve, serve_with, BusServerOptions};
pub use state::{ClientStats, SimBusOptions};

/// Where the bus host listens in a sim: `sim.host("bus", || serve(4222))`.
pub const BUS_ADDR: &str = "bus:4222";

/// Simulated time per turmoil step. 1 ms is turmoil's default and the
/// finest that matters here: every network hop takes at least one tick, so a
/// coarser tick stretches every exchange (a request/reply is four hops) and
/// blurs the ordering a test can observe, for wall-clock speed. Wall cost
/// is per tick, not per message: measured in release (the ignored
/// `sim_speed` test), a bus plus two clients run about 300x real time,
/// which with turmoil's default latency is ~3,900 sequential request/replies
/// and ~7,300 round trips per wall second.
pub const TICK: Duration = Duration::from_millis(1);

/// A turmoil builder for a reproducible run: seeded, with a fixed epoch,
/// a [`TICK`] of 1 ms and a 6-hour limit (an evening of chat fits; turmoil's
/// default of 10 s does not). Link latency stays at turmoil's default
/// (0-100 ms, exponential, mean about 20 ms per segment). Callers log the seed:
/// turmoil has no getter for it.
///
/// # Examples
///
/// ```
/// let mut builder = rosey_sim::bus::sim_builder(7, 1_731_000_000_000);
/// builder.simulation_duration(std::time::Duration::from_secs(60));
/// let _sim = builder.build();
/// ```
pub fn sim_builder(seed: u64, epoch_unix_ms: i64) -> turmoil::Builder {
    let epoch = if epoch_unix_ms >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(epoch_unix_ms.unsigned_abs())
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_millis(epoch_unix_ms.unsigned_abs())
    };
    let mut builder = turmoil::Builder::new();
    builder.rng_seed(seed).epoch(epoch).tick_duration(TICK).simulation_duration(Duration::from_secs(6 * 60 * 60));
    builder
}
