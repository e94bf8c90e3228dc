//! `rosey-sim`: replay recorded chat through the unchanged Rosey bot and
//! db-service in virtual time, deterministically.
//!
//! # Layout
//!
//! - [`direct`]: direct mode, the bot calling the store itself, no bus.
//! - [`bus`]: the simulated NATS bus (server host and client transport).
//! - [`cytube`]: a fake CyTube server (socket.io over tokio or turmoil TCP).
//! - [`world`]: bus mode, the bot and db-service(s) on turmoil hosts; [`clock`]: virtual time there.
//! - [`chathost`]: `chat = "cytube"`, the fake on a host, simulated users, the bot's real client.
//! - [`scenario`], [`fault`]: scenario files and the fault menu.
//! - [`standin`], [`faulty_link`]: the chat stand-in and the dropping link.
//! - [`invariants`]: what correct means, checked after every run.
//! - [`error`]: [`SimError`], what went wrong and what to do.
//! - [`run`]: one run of a scenario, from fixture to verdicts.
//! - [`sweep`]: many seeds on every core, and the report of a run.
//! - [`nats_server`]: a nats-server child process for live tests and benches.
//! - [`wait`]: waiting for a condition against a deadline, in tests.

pub mod browser;
pub mod bus;
pub mod chathost;
pub mod clock;
pub mod coverage;
pub mod cytube;
pub mod direct;
pub mod error;
pub mod fault;
pub mod faulty_link;
pub mod invariants;
pub mod junit;
#[cfg(feature = "live")]
pub mod live;
pub mod nats_server;
#[cfg(feature = "postgres")]
pub mod postgres_server;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod standin;
pub mod suite;
pub mod sweep;
pub mod view;
pub mod wait;
pub mod world;

pub use error::SimError;

/// The evening fixture, embedded so `rosey-sim` runs with no arguments.
pub const EMBEDDED_EVENING: &str = include_str!("../../fixtures/chat/evening.jsonl");
