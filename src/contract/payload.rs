//! Payload shapes, one struct per subject, exactly as v0.5.0 names the fields.
//!
//! `at_ms` is this project's addition (contract section 5): the Unix
//! milliseconds at which the bot observed or decided what it sends. It is
//! omitted when absent, so a payload without it is byte-for-byte v0.5.0's.

use serde::{Deserialize, Serialize};

/// v0.5.0's default for `outbound.get` `limit` when the request omits it.
pub const DEFAULT_OUTBOUND_LIMIT: i64 = 50;
/// v0.5.0's default for `outbound.get` `max_retries`.
pub const DEFAULT_MAX_RETRIES: i64 = 3;
/// The `limit` the bot itself sends (v0.5.0's bot sends 20).
pub const BOT_OUTBOUND_LIMIT: i64 = 20;
/// v0.5.0's default for `recent_chat.get` `limit`.
pub const DEFAULT_RECENT_CHAT_LIMIT: i64 = 50;
/// How long a request waits for its reply: v0.5.0's bot waits 2 s.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn default_outbound_limit() -> i64 {
    DEFAULT_OUTBOUND_LIMIT
}
fn default_max_retries() -> i64 {
    DEFAULT_MAX_RETRIES
}
fn default_recent_chat_limit() -> i64 {
    DEFAULT_RECENT_CHAT_LIMIT
}

/// `rosey.db.user.joined` and `rosey.db.user.left`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.message.log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLog {
    pub username: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.stats.user_count`; a missing count reads as 0, as in v0.5.0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsUserCount {
    #[serde(default)]
    pub chat_count: i64,
    #[serde(default)]
    pub connected_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.stats.high_water`; `connected_count` is null until the bot has
/// seen a `usercount`. It is always written (as null when unknown), as v0.5.0 does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsHighWater {
    #[serde(default)]
    pub chat_count: i64,
    #[serde(default)]
    pub connected_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.status.update`: the fields are wrapped in `status_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    #[serde(default)]
    pub status_data: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.messages.outbound.mark_sent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkSent {
    pub message_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.messages.outbound.mark_failed` (this project's addition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkFailed {
    pub message_id: i64,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub permanent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// `rosey.db.messages.outbound.get` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundGet {
    #[serde(default = "default_outbound_limit")]
    pub limit: i64,
    #[serde(default = "default_max_retries")]
    pub max_retries: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// One element of the `outbound.get` reply array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRow {
    pub id: i64,
    pub timestamp: i64,
    pub message: String,
    pub retry_count: i64,
    pub last_error: Option<String>,
}

/// `rosey.db.messages.outbound.enqueue` request (this project's addition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueRequest {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
    /// Makes a retried enqueue idempotent: a second request with the same
    /// id answers the first one's row instead of adding another. Sent by a
    /// JetStream bot, which retries enqueues a lost reply left in doubt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `rosey.db.messages.outbound.enqueue` reply: `{"id": n}` or `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `rosey.db.stats.recent_chat.get` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentChatGet {
    #[serde(default = "default_recent_chat_limit")]
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// One element of the `recent_chat.get` reply array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentChatRow {
    pub timestamp: i64,
    pub username: String,
    pub message: String,
}
