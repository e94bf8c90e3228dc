//! What the benches share: the bot and its events, a db-service / echo
//! responder / chat flooder on a live nats-server (each on its own thread and
//! runtime, stopped and joined on drop), a turmoil rig that runs jobs on a
//! long-lived simulation, and the percentile files `benches/report.sh` reads.
//!
//! Benches are not replays: the determinism rules do not apply here (wall
//! clock, threads), except that nothing inside a turmoil host blocks on
//! another thread (no `spawn_blocking`).
//!
//! # Layout
//!
//! - `setup`: the start time and sizes, runtimes, databases, connections, the flood line.
//! - `feed`: the bot, its events, and the measured bot-side loop.
//! - `sim`: the turmoil builder, rig and hosts.
//! - `live`: the worker threads on a live nats-server.
//! - `percentiles`: the files `benches/report.sh` reads.

// Every bench binary compiles its own copy of this module and uses only part
// of it: what one bench leaves unused is not dead.
#![allow(dead_code, unused_imports)]

mod feed;
mod live;
mod percentiles;
mod setup;
mod sim;

pub use feed::{bot_cost, send_all, Drain, Feed, Kind, Step, KINDS};
pub use live::{live_echo, live_flood, live_jetstream_service, live_postgres_service, live_service, Worker};
pub use percentiles::{criterion_home, write_percentiles, Samples};
pub use setup::{
    batch_group, batch_size, bench_mode, direct_link, flood_line, nats_connect, nats_options, runtime, sim_options,
    wal_store, CHANNEL_USERS, CHUNK, ECHO_SUBJECT, T0_MS,
};
pub use sim::{sim_db_host, sim_flood_host, sim_wait_for_service, HostResult, Jobs, SimRig};
