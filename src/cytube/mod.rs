//! CyTube socket events, normalized.
//!
//! The bot never looks at raw JSON: [`ChatEvent::parse`] turns a socket event
//! `(name, data)` into a typed event or an [`EventError`] that says what is
//! wrong, so handlers only see well-formed input and a malformed event becomes
//! a counted skip rather than a panic (the seed's "event normalization").
//!
//! Only the fields the bot or the database uses are checked; everything else a
//! real CyTube server sends (profiles, aliases, ips, media metadata) is ignored.
//!
//! [`client`] is the live connection that produces those events: socket config, socket.io
//! over a websocket on any byte stream, join, login, reconnects.

pub mod client;
pub mod echo;
mod event;
mod parse;

pub use event::{ChatEvent, EventError, MediaInfo, User, UserlistUpdate};
