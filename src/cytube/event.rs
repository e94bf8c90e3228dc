//! The normalized event types.

/// A user as the bot keeps it: the fields of CyTube's user object it uses.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Case-sensitive key, used exactly as sent.
    pub name: String,
    /// CyTube rank (0 guest, 1 registered, 2 moderator, ...); 0 when absent.
    pub rank: f64,
    /// `meta.afk`; false when absent.
    pub afk: bool,
    /// `meta.muted`; false when absent.
    pub muted: bool,
}

/// A `userlist` event: the good entries, and the bad ones that were dropped alone.
#[derive(Debug, Clone, PartialEq)]
pub struct UserlistUpdate {
    pub users: Vec<User>,
    /// One reason per dropped entry, with its index in the array.
    pub dropped: Vec<String>,
}

/// What is playing: from `changeMedia` (or the current `playlist` item).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    pub title: String,
    /// `seconds`; `None` when absent (live streams).
    pub duration: Option<i64>,
}

/// A normalized CyTube socket event or operator action.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Userlist(UserlistUpdate),
    AddUser(User),
    UserLeave {
        name: String,
    },
    ChatMsg {
        username: String,
        msg: String,
        /// CyTube's own `time` (Unix ms) when it is an integer: what tells a
        /// history line replayed on a re-join from one already stored.
        time: Option<i64>,
    },
    Usercount(i64),
    SetAfk {
        name: String,
        afk: bool,
    },
    SetUserRank {
        name: String,
        rank: f64,
    },
    /// `setUserMeta`: only the `afk` and `muted` keys the bot uses, when present.
    SetUserMeta {
        name: String,
        afk: Option<bool>,
        muted: Option<bool>,
    },
    /// The bot's own rank.
    Rank(f64),
    /// `setPermissions`: the minimum rank to chat, when the object says.
    SetPermissions {
        chat: Option<f64>,
    },
    /// A private message: touches nothing in the database.
    Pm,
    /// `playlist`: the whole playlist, as item uids.
    Playlist {
        uids: Vec<String>,
    },
    Queue {
        uid: String,
    },
    Delete {
        uid: String,
    },
    MoveVideo,
    SetCurrent {
        uid: String,
    },
    ChangeMedia(MediaInfo),
    /// `rosey:say`: the operator enqueues an outbound message.
    Say {
        message: String,
    },
    /// `rosey:connect`: a new socket connection to the channel; its join
    /// sequence (history, then `userlist`) follows. Written by `rosey record`
    /// and produced by the live client, so a replay applies the same history rule.
    Connect,
    /// `rosey:disconnect`: the connection was lost (noticed by a closed socket
    /// or missing pings); the bot reports `bot_connected = 0` until the next connect.
    Disconnect,
    /// Any other CyTube event: legal, passes through, counted by name.
    Other {
        name: String,
    },
}

impl ChatEvent {
    /// A stable short name for summaries and traces (the CyTube event name).
    pub fn kind(&self) -> &str {
        match self {
            ChatEvent::Userlist(_) => "userlist",
            ChatEvent::AddUser(_) => "addUser",
            ChatEvent::UserLeave { .. } => "userLeave",
            ChatEvent::ChatMsg { .. } => "chatMsg",
            ChatEvent::Usercount(_) => "usercount",
            ChatEvent::SetAfk { .. } => "setAFK",
            ChatEvent::SetUserRank { .. } => "setUserRank",
            ChatEvent::SetUserMeta { .. } => "setUserMeta",
            ChatEvent::Rank(_) => "rank",
            ChatEvent::SetPermissions { .. } => "setPermissions",
            ChatEvent::Pm => "pm",
            ChatEvent::Playlist { .. } => "playlist",
            ChatEvent::Queue { .. } => "queue",
            ChatEvent::Delete { .. } => "delete",
            ChatEvent::MoveVideo => "moveVideo",
            ChatEvent::SetCurrent { .. } => "setCurrent",
            ChatEvent::ChangeMedia(_) => "changeMedia",
            ChatEvent::Say { .. } => "rosey:say",
            ChatEvent::Connect => "rosey:connect",
            ChatEvent::Disconnect => "rosey:disconnect",
            ChatEvent::Other { name } => name,
        }
    }
}

/// Why an event was rejected: the event name and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub event: String,
    pub reason: String,
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.event, self.reason)
    }
}

impl std::error::Error for EventError {}
