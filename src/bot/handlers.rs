//! Event handlers (contract section 5, "Bot").

use indexmap::IndexMap;

use super::history::ChatHistory;
use super::outbound::{Outbound, Protocol};
use crate::channel::ChannelState;
use crate::contract::{Command, EnqueueRequest, MessageLog, StatsHighWater, UserEvent};
use crate::cytube::{ChatEvent, User};

/// The bot's state: the channel as it sees it and the outbound bookkeeping.
#[derive(Debug, Clone)]
pub struct Bot {
    pub state: ChannelState,
    /// When the bot started (Unix ms): status `bot_start_time`. Under replay
    /// the virtual start.
    pub start_unix_ms: i64,
    pub outbound: Outbound,
    /// Chat lines of CyTube's history replays that were not stored: every one
    /// on the first connection, those already seen on a re-join.
    pub history_lines: u64,
    /// History lines a re-join recovered (said while the bot was away).
    pub recovered_lines: u64,
    /// What the bot has seen of the chat, for the history rule.
    pub history: ChatHistory,
}

impl Bot {
    pub fn new(channel: &str, bot_name: &str, start_unix_ms: i64, protocol: Protocol) -> Bot {
        Bot {
            state: ChannelState::new(channel, bot_name),
            start_unix_ms,
            outbound: Outbound::new(protocol),
            history_lines: 0,
            recovered_lines: 0,
            history: ChatHistory::default(),
        }
    }

    /// Handles one event observed at Unix ms `at_ms`; returns what to send,
    /// in order.
    pub fn handle(&mut self, event: &ChatEvent, at_ms: i64) -> Vec<Command> {
        let at = Some(at_ms);
        let state = &mut self.state;
        match event {
            ChatEvent::Userlist(update) => {
                let rejoined = !state.userlist_seen && self.history.is_rejoin();
                state.userlist_seen = true;
                let mut listed: IndexMap<String, User> = IndexMap::new();
                for user in &update.users {
                    listed.insert(user.name.clone(), user.clone());
                }
                let mut out: Vec<Command> = listed
                    .keys()
                    .filter(|name| !state.users.contains_key(*name))
                    .map(|name| joined(name, at))
                    .collect();
                out.extend(state.users.keys().filter(|name| !listed.contains_key(*name)).map(|name| left(name, at)));
                state.users = listed;
                out.push(self.high_water(at));
                if rejoined {
                    out.extend(self.outbound.on_rejoined(at_ms));
                }
                out
            }
            ChatEvent::AddUser(user) => {
                if let Some(entry) = state.users.get_mut(&user.name) {
                    *entry = user.clone();
                    return Vec::new();
                }
                state.users.insert(user.name.clone(), user.clone());
                vec![joined(&user.name, at), self.high_water(at)]
            }
            ChatEvent::UserLeave { name } => {
                state.users.shift_remove(name);
                vec![left(name, at)]
            }
            ChatEvent::ChatMsg { username, msg, time } => {
                let mut at = at;
                if !state.userlist_seen {
                    if !self.history.is_new(*time, username, msg) {
                        self.history.saw(*time, username, msg);
                        self.history_lines += 1;
                        // A line of the bot's in flight when the socket dropped,
                        // already seen: the server had accepted it.
                        if *username == state.bot_name {
                            return self.outbound.on_own_line(msg, at_ms);
                        }
                        return Vec::new();
                    }
                    // Said while the bot was away: stored once, at CyTube's time.
                    self.recovered_lines += 1;
                    at = *time;
                }
                self.history.saw(*time, username, msg);
                let mut out = vec![Command::MessageLog(MessageLog {
                    username: username.clone(),
                    message: msg.clone(),
                    at_ms: at,
                })];
                if *username == state.bot_name {
                    out.extend(self.outbound.on_own_line(msg, at_ms));
                }
                out
            }
            ChatEvent::Connect => {
                // A connection before any userlist is still the first one.
                let rejoin = state.userlist_seen || self.history.is_rejoin();
                self.history.connected(rejoin);
                state.userlist_seen = false;
                state.chat_connected = true;
                Vec::new()
            }
            ChatEvent::Disconnect => {
                state.chat_connected = false;
                Vec::new()
            }
            ChatEvent::Usercount(count) => {
                state.usercount = Some(*count);
                vec![self.high_water(at)]
            }
            ChatEvent::SetAfk { name, afk } => {
                state.set_user_meta(name, Some(*afk), None);
                Vec::new()
            }
            ChatEvent::SetUserMeta { name, afk, muted } => {
                state.set_user_meta(name, *afk, *muted);
                Vec::new()
            }
            ChatEvent::SetUserRank { name, rank } => {
                if let Some(user) = state.users.get_mut(name) {
                    user.rank = *rank;
                }
                Vec::new()
            }
            ChatEvent::Rank(rank) => {
                state.bot_rank = Some(*rank);
                Vec::new()
            }
            ChatEvent::SetPermissions { chat } => {
                state.chat_min_rank = *chat;
                Vec::new()
            }
            ChatEvent::Playlist { uids } => {
                state.set_playlist(uids.clone());
                Vec::new()
            }
            ChatEvent::Queue { uid } => {
                state.playlist.push(uid.clone());
                Vec::new()
            }
            ChatEvent::Delete { uid } => {
                state.delete_item(uid);
                Vec::new()
            }
            ChatEvent::ChangeMedia(media) => {
                state.media = Some(media.clone());
                Vec::new()
            }
            ChatEvent::Say { message } => vec![Command::Request(crate::contract::Request::Enqueue(EnqueueRequest {
                message: message.clone(),
                at_ms: at,
                request_id: None,
            }))],
            ChatEvent::Pm | ChatEvent::MoveVideo | ChatEvent::SetCurrent { .. } | ChatEvent::Other { .. } => Vec::new(),
        }
    }

    /// A connection (re)starts: chat lines are history again until the next `userlist`.
    pub fn on_connect(&mut self) {
        self.state.userlist_seen = false;
    }

    /// high_water with the userlist size and the last `usercount` (null before one).
    fn high_water(&self, at_ms: Option<i64>) -> Command {
        Command::HighWater(StatsHighWater {
            chat_count: self.state.users.len() as i64,
            connected_count: self.state.usercount,
            at_ms,
        })
    }
}

pub(super) fn joined(name: &str, at_ms: Option<i64>) -> Command {
    Command::UserJoined(UserEvent { username: name.to_string(), at_ms })
}

pub(super) fn left(name: &str, at_ms: Option<i64>) -> Command {
    Command::UserLeft(UserEvent { username: name.to_string(), at_ms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bot() -> Bot {
        Bot::new("lounge", "Rosey", 0, Protocol::Hardened)
    }

    fn event(name: &str, data: serde_json::Value) -> ChatEvent {
        ChatEvent::parse(name, &data).expect("test events are well-formed")
    }

    fn subjects(commands: &[Command]) -> Vec<String> {
        commands
            .iter()
            .map(|c| match c {
                Command::UserJoined(u) => format!("joined {}", u.username),
                Command::UserLeft(u) => format!("left {}", u.username),
                Command::HighWater(h) => format!("high_water {} {:?}", h.chat_count, h.connected_count),
                Command::MessageLog(m) => format!("log {}: {}", m.username, m.message),
                other => other.subject().to_string(),
            })
            .collect()
    }

    #[test]
    fn chat_before_the_first_userlist_is_history() {
        let mut bot = bot();
        assert!(bot.handle(&event("chatMsg", json!({"username": "a", "msg": "old"})), 0).is_empty());
        assert_eq!(bot.history_lines, 1);
        bot.handle(&event("userlist", json!([{"name": "a"}])), 0);
        let out = bot.handle(&event("chatMsg", json!({"username": "a", "msg": "new"})), 5);
        assert_eq!(subjects(&out), ["log a: new"]);
        assert_eq!(out[0].at_ms(), Some(5));
    }

    #[test]
    fn userlist_diffs_against_the_bots_list_then_one_high_water() {
        let mut bot = bot();
        let out = bot.handle(&event("userlist", json!([{"name": "a"}, {"name": "b"}, {"nope": 1}])), 0);
        assert_eq!(subjects(&out), ["joined a", "joined b", "high_water 2 None"]);
        bot.handle(&event("usercount", json!(9)), 1);
        let out = bot.handle(&event("userlist", json!([{"name": "b"}, {"name": "c"}])), 2);
        assert_eq!(subjects(&out), ["joined c", "left a", "high_water 2 Some(9)"]);
    }

    #[test]
    fn duplicate_add_user_replaces_and_publishes_nothing() {
        let mut bot = bot();
        let out = bot.handle(&event("addUser", json!({"name": "a", "rank": 0})), 0);
        assert_eq!(subjects(&out), ["joined a", "high_water 1 None"]);
        assert!(bot.handle(&event("addUser", json!({"name": "a", "rank": 3})), 1).is_empty());
        assert_eq!(bot.state.users["a"].rank, 3.0);
    }

    #[test]
    fn leave_of_a_stranger_still_publishes_user_left() {
        let mut bot = bot();
        let out = bot.handle(&event("userLeave", json!({"name": "ghost"})), 0);
        assert_eq!(subjects(&out), ["left ghost"]);
    }

    #[test]
    fn usercount_is_remembered_and_published_as_high_water() {
        let mut bot = bot();
        bot.handle(&event("addUser", json!({"name": "a"})), 0);
        let out = bot.handle(&event("usercount", json!(12)), 0);
        assert_eq!(subjects(&out), ["high_water 1 Some(12)"]);
        let out = bot.handle(&event("addUser", json!({"name": "b"})), 0);
        assert_eq!(subjects(&out), ["joined b", "high_water 2 Some(12)"]);
    }

    #[test]
    fn say_becomes_one_enqueue_and_pm_touches_nothing() {
        let mut bot = bot();
        let out = bot.handle(&event("rosey:say", json!({"message": " hi "})), 7);
        assert_eq!(subjects(&out), ["rosey.db.messages.outbound.enqueue"]);
        assert!(bot.handle(&event("pm", json!({"username": "a", "msg": "x", "to": "Rosey"})), 8).is_empty());
    }
}
