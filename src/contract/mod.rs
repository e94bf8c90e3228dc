//! The wire contract between the bot and the db-service: subjects and payloads.
//!
//! One module owns every subject name and payload shape so the bot, the
//! db-service, the simulator and the tests cannot drift apart. The format is
//! Rosey v0.5.0's (JSON, UTF-8, field names as v0.5.0's code reads them), plus
//! the additions of contract section 5: `mark_failed`, `enqueue`, and an
//! optional `at_ms` field on everything the bot sends.
//!
//! Decoding is strict about the fields it uses (a wrong type is an error, never
//! a guess) and tolerant of everything else (unknown fields are ignored), the
//! way a v0.5.0 service reads a newer bot and the other way round.

mod command;
mod payload;
mod reply;
mod subject;

pub(crate) use command::kind_of;
pub use command::{Command, DecodeError, Request};
pub use payload::{
    EnqueueReply, EnqueueRequest, MarkFailed, MarkSent, MessageLog, OutboundGet, OutboundRow, RecentChatGet,
    RecentChatRow, StatsHighWater, StatsUserCount, StatusUpdate, UserEvent, BOT_OUTBOUND_LIMIT, DEFAULT_MAX_RETRIES,
    DEFAULT_OUTBOUND_LIMIT, DEFAULT_RECENT_CHAT_LIMIT, DEFAULT_REQUEST_TIMEOUT,
};
pub use reply::Reply;
pub use subject::{Subject, OUTBOUND_PREFIX, SERVICE_STATS, SUBJECT_PREFIX, WILDCARD};
