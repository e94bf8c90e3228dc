//! The `rosey` binary's commands, as library functions so tests and the
//! binary share them. Each takes resolved [`Settings`](crate::config::Settings)
//! and, where it runs until told to stop, a shutdown future.

mod bot;
mod db_service;
mod say;
mod watch;

pub use bot::{run_bot, BotMode, ChatSpec, Speed};
pub use db_service::run_db_service;
pub use say::say;
pub use watch::watch;
