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
//! JetStream, when the bus host is started with a [`JetStreamStore`]
//! (`nats-server -js -sd DIR`), built over core subjects as nats-server
//! builds it, so [`SimTransport`] speaks to it exactly as async-nats does:
//! `$JS.API.STREAM.CREATE|UPDATE|INFO.<stream>` and
//! `$JS.API.CONSUMER.CREATE|DURABLE.CREATE|INFO.<stream>.<consumer>` with
//! nats-server's JSON (a subset: name, subjects, storage, duplicate_window,
//! max_age, max_bytes, max_msgs; durable, ack_wait, max_ack_pending) and
//! its error codes; capture of every matching publish (with or without a
//! `Nats-Msg-Id`, with or without a reply, which then gets the PubAck);
//! the duplicate window; limits dropping the oldest (at once when an
//! update lowers them); pull requests on
//! `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` (`batch`, `expires`,
//! `no_wait`) served redeliveries first, never past `max_ack_pending`,
//! ended by a 408 status when they expire, and dropped when their inbox
//! loses its subscriber (nats-server skips a request nobody listens for);
//! deliveries whose reply is the
//! 9-token `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`;
//! acks (`+ACK` or empty, also `-NAK`, `+WPI`, `+TERM`), the ack floor, and
//! redelivery after `ack_wait`. Without a store, `$JS.API.>` finds no
//! responders, as on a server started without `-js`.
//!
//! What survives a crash or bounce of the bus host is what nats-server
//! keeps on disk: file streams with their messages, dedup ids and consumer
//! state (delivered, pending with their ack timers, ack floor) live in the
//! caller's [`JetStreamStore`]; memory streams are dropped when the next
//! incarnation starts. Waiting pull requests belong to their connection and
//! die with it; what they had delivered stays unacked and comes again after
//! `ack_wait`. [`SimConsumer`] re-pulls after every reconnect, as
//! async-nats' `messages()` does.
//!
//! ```no_run
//! use rosey_sim::bus::{self, BusServerOptions, JetStreamStore};
//!
//! let mut sim = bus::sim_builder(42, 1_731_000_000_000).build();
//! // Outside the host closure: the "store dir" that outlives restarts.
//! let store = JetStreamStore::new();
//! sim.host("bus", move || {
//!     bus::serve_with(4222, BusServerOptions { jetstream: Some(store.clone()), ..Default::default() })
//! });
//! ```
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
//! - Headers: only `Nats-Msg-Id` (publish) and a status code (delivery)
//!   travel; no free-form headers. No auth, TLS, cluster routes or server INFO.
//! - JetStream is a subset: one server, no clustering or replicas, no
//!   mirrors/sources, KV or object store; retention "limits" and discard
//!   "old" only; consumers are durable pull consumers with ack_policy
//!   explicit, deliver_policy all, max_deliver -1 and no filter subject
//!   (others are refused with a JSON error); no heartbeats, flow control,
//!   `max_bytes` in pull requests, `-NAK` delays or `+NXT`. Unknown API
//!   subjects find no responders (nats-server answers some of them).
//! - `max_bytes` counts subject + msg id + payload (nats-server adds a
//!   per-message overhead); the ack subject's `<ts>` is simulated Unix time.
//! - Durable consumer creation: the same durable with another ack_wait or
//!   max_ack_pending is updated in place; nats-server 2.9 does likewise for
//!   those fields but refuses changes to others, which the bus never has.
//! - A crash of the bus host keeps every ack the bus had applied: the store
//!   is written as it changes, so a crash and a bounce are the same to it.
//!   nats-server 2.9.10 writes a consumer's acks about 100 ms after they
//!   arrive, so after a `kill -9` the acks of the last ~100 ms can be lost
//!   and those messages delivered again (`delivered` 2). The conformance
//!   suite compares graceful restarts only; `tests/live_jetstream.rs` pins
//!   the kill -9 case on nats-server, and the db-service's applied sequence
//!   is what makes such a redelivery harmless.
//! - Acked publishes use one inbox subscription per publish; async-nats
//!   multiplexes them over one wildcard subscription (same wire behaviour).
//!
//! # Layout
//!
//! - `frame`: the length-prefixed binary wire format.
//! - `subject`: subject validation and wildcard matching.
//! - `router`: subscriptions, queue-group choice, no-responders; hands publishes to JetStream first.
//! - `jetstream`: the server side of JetStream (`api` JSON, `stream`, `consumer`, [`JetStreamStore`]).
//! - `js_client`: the JetStream calls of [`SimTransport`]; `consumer`: [`SimConsumer`], its pull loop.
//! - `server`: [`serve`], the bus host (accept, per-connection read/write tasks, PINGs).
//! - `state`: what the client's handles and its task share: [`SimBusOptions`],
//!   [`ClientStats`], the outgoing queue and the live subscriptions.
//! - `client`: [`SimTransport`], the handle, and its subscriptions.
//! - `connection`: the client's background connect / liveness / reconnect task.

mod client;
mod connection;
mod consumer;
pub mod frame;
mod jetstream;
mod js_client;
mod router;
mod server;
mod state;
pub mod subject;

use std::time::{Duration, SystemTime};

pub use client::{SimSubscription, SimTransport};
pub use consumer::{SimConsumer, PULL_BATCH, PULL_EXPIRES};
pub use jetstream::{JetStreamStats, JetStreamStore};
pub use server::{serve, serve_jetstream, serve_with, BusServerOptions};
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
    // Hosts are stepped in an order drawn from the seed, not in the order they
    // were added: a bug that needs one host to run before another within a
    // tick shows up across seeds (and replays under its seed).
    builder.enable_random_order();
    builder
}
