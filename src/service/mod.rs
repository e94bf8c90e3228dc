//! The db-service: database commands in, store operations and replies out.
//!
//! [`apply_command`] is the one mapping from a [`Command`](crate::contract::Command)
//! to store operations; the direct link and the bus-facing [`DbService`] both
//! use it, so direct mode and bus mode cannot disagree about what a message means.

mod apply_command;
mod jetstream;
mod lanes;
mod leadership;
mod runtime;

pub use apply_command::{apply_command, command_now};
pub use lanes::DEFAULT_MAX_BACKLOG;
pub use leadership::{serve_elected, Leadership, DEFAULT_RETRY_EVERY, DEFAULT_STEP_DOWN_AFTER};
pub use runtime::{
    CommitDelay, CommitMode, DbService, ServiceConfig, ServiceReport, ServiceStats, DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_QUEUE_GROUP,
};
