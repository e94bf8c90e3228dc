//! What the status page shows, read in one go from the store: the page's
//! first render and every server-sent update are the same [`Snapshot`].

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cytube::echo::typed_text;
use crate::store::{ChannelTotals, Chatter, CountSample, OutboundEntry, StoreError, StoreReader};

/// Chat lines, chatters and outbound messages the page lists.
pub const PAGE_ROWS: i64 = 50;
const TOP_CHATTERS: i64 = 10;
/// The chart's window: the last day of samples, ending at the newest one
/// (a replayed recording's samples lie in the past).
const CHART_SECONDS: i64 = 24 * 3600;

/// The page's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub status: StatusView,
    pub totals: ChannelTotals,
    pub online: Vec<String>,
    pub top_chatters: Vec<Chatter>,
    pub recent_chat: Vec<ChatLineView>,
    pub outbound: Vec<OutboundEntry>,
    pub history: Vec<CountSample>,
}

/// `current_status`, named for the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusView {
    pub bot_name: Option<String>,
    pub bot_rank: Option<f64>,
    pub bot_connected: bool,
    pub channel: Option<String>,
    pub chat_users: i64,
    pub connected_users: i64,
    pub media_title: Option<String>,
    pub media_duration: Option<i64>,
    pub last_updated: Option<i64>,
}

/// A chat line as CyTube's own page shows it: `text` is the stored HTML
/// (escaped by the server) decoded once, to be shown as text, never markup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatLineView {
    pub timestamp: i64,
    pub username: String,
    /// As stored (and as v0.5.0's API returned it).
    pub message: String,
    pub text: String,
}

impl StatusView {
    pub fn from_row(row: &Map<String, Value>) -> StatusView {
        let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_string);
        let int = |key: &str| row.get(key).and_then(Value::as_i64);
        StatusView {
            bot_name: text("bot_name"),
            bot_rank: row.get("bot_rank").and_then(Value::as_f64),
            bot_connected: int("bot_connected").unwrap_or(0) != 0,
            channel: text("channel_name"),
            chat_users: int("current_chat_users").unwrap_or(0),
            connected_users: int("current_connected_users").unwrap_or(0),
            media_title: text("current_media_title"),
            media_duration: int("current_media_duration"),
            last_updated: int("last_updated"),
        }
    }
}

impl ChatLineView {
    pub fn of(line: crate::store::RecentChat) -> ChatLineView {
        ChatLineView {
            text: typed_text(&line.message),
            timestamp: line.timestamp,
            username: line.username,
            message: line.message,
        }
    }
}

impl Snapshot {
    /// Reads everything the page shows.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn read(reader: &StoreReader) -> Result<Snapshot, StoreError> {
        let newest = reader.newest_count_sample()?;
        let history = match newest {
            Some(end) => reader.history_since(end - CHART_SECONDS)?,
            None => Vec::new(),
        };
        Ok(Snapshot {
            status: StatusView::from_row(&reader.current_status()?),
            totals: reader.totals()?,
            online: reader.users_online(PAGE_ROWS)?,
            top_chatters: reader.top_chatters(TOP_CHATTERS)?,
            recent_chat: reader.recent_chat(PAGE_ROWS)?.into_iter().map(ChatLineView::of).collect(),
            outbound: reader.outbound(PAGE_ROWS)?,
            history,
        })
    }
}
