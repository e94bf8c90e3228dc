//! `rosey-sim`: replay recorded chat through the unchanged Rosey bot and
//! db-service in virtual time, deterministically.
//!
//! # Layout
//!
//! - [`direct`]: direct mode, the bot calling the store itself, no bus.
//! - [`nats_server`]: a nats-server child process for live tests and benches.

pub mod direct;
pub mod nats_server;

/// The evening fixture, embedded so `rosey-sim` runs with no arguments.
pub const EMBEDDED_EVENING: &str = include_str!("../../fixtures/chat/evening.jsonl");
