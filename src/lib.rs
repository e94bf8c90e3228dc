//! Rosey's database path after its move to NATS: the bot and the db-service,
//! written once and runnable against live NATS, a simulated bus, or straight
//! against SQLite.
//!
//! # Layout
//!
//! - [`contract`]: subjects and payloads, byte-compatible with Rosey v0.5.0.
//! - [`cytube`]: raw CyTube socket events -> normalized [`cytube::ChatEvent`]s, and the
//!   client that receives them from a real channel.
//! - [`channel`]: userlist, counts, afk, ranks, permissions, playlist.
//! - [`fixture`]: recorded chat with virtual times, for replays.
//! - [`store`]: the SQLite schema (v0.5.0's names), migrations and operations.
//! - [`bot`]: sans-IO handlers, periodic tasks, the outbound protocol, and the
//!   [`bot::Runner`] that drives them in virtual time.
//! - [`delivery`]: core NATS or JetStream, and the stream and consumer JetStream uses.
//! - [`link`]: the bot's way to the database (direct, bus, dual).
//! - [`live`]: the bot in a real channel: a CyTube session as its chat source and sink.
//! - [`service`]: the db-service (command -> store operation, replies).
//! - [`chat`], [`clock`], [`trace`]: the injected edges: chat sink, time, run trace.
//! - [`timers`]: every timer, registered so the simulator can skip quiet stretches.
//!
//! Logic never reads the wall clock, iterates a `HashMap`, spawns threads or
//! draws unseeded randomness: time comes from a [`clock::Clock`] or a
//! [`bot::Timeline`], so one seed replays one run exactly.

pub mod app;
pub mod bot;
pub mod channel;
pub mod chat;
pub mod clock;
pub mod config;
pub mod contract;
pub mod cytube;
pub mod delivery;
pub mod fixture;
pub mod link;
pub mod live;
pub mod markup;
pub mod metrics;
pub mod service;
pub mod store;
pub mod timers;
pub mod trace;
pub mod transport;

/// Boxed error for binaries and test bodies; library modules use typed errors.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result with the boxed [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
