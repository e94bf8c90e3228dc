//! The db-service: database commands in, store operations and replies out.
//!
//! [`apply_command`] is the one mapping from a [`Command`](crate::contract::Command)
//! to store operations; the direct link and the bus-facing [`DbService`] both
//! use it, so direct mode and bus mode cannot disagree about what a message means.

mod apply_command;
mod jetstream;
mod runtime;

pub use apply_command::{apply_command, command_now};
pub use runtime::{
    CommitDelay, CommitMode, DbService, ServiceConfig, ServiceReport, DEFAULT_DRAIN_TIMEOUT, DEFAULT_QUEUE_GROUP,
};
