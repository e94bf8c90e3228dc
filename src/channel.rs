//! Channel state as the bot sees it: who is here, how many watch, what plays,
//! and what the bot itself may do.
//!
//! The userlist is an [`IndexMap`] so that iterating it (for the shutdown
//! `user.left`s, the userlist diff) follows arrival order on every run: a
//! `HashMap` would leak its random hash seed into the order of published events.

use indexmap::IndexMap;

use crate::cytube::{MediaInfo, User};

/// What the bot knows about its channel.
#[derive(Debug, Clone)]
pub struct ChannelState {
    /// The channel's name (status `channel_name`).
    pub channel: String,
    /// The bot's own user name (status `bot_name`).
    pub bot_name: String,
    /// Users present, by case-sensitive name, in arrival order.
    pub users: IndexMap<String, User>,
    /// The last `usercount` (everyone connected, anonymous viewers included).
    pub usercount: Option<i64>,
    /// The bot's own rank, from the `rank` event.
    pub bot_rank: Option<f64>,
    /// The bot's own afk flag, from `setAFK`/`setUserMeta` about itself.
    pub bot_afk: bool,
    /// Whether a moderator muted the bot (`setUserMeta` meta.muted).
    pub bot_muted: bool,
    /// The minimum rank to chat, from `setPermissions`; `None` = not gated.
    pub chat_min_rank: Option<f64>,
    /// Playlist item uids, in playlist order.
    pub playlist: Vec<String>,
    /// What plays now, from `changeMedia`.
    pub media: Option<MediaInfo>,
    /// Whether this connection's first `userlist` has arrived: chat lines
    /// before it are CyTube's history replay, not chat.
    pub userlist_seen: bool,
    /// Whether the bot's chat connection is up (status `bot_connected`): false
    /// from a `rosey:disconnect` until the next `rosey:connect`.
    pub chat_connected: bool,
}

/// Why the bot may not chat right now. Both are permanent for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatBlock {
    /// `setPermissions` requires a higher rank than the bot has.
    PermissionDenied,
    /// A moderator muted the bot.
    Muted,
}

impl std::fmt::Display for ChatBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChatBlock::PermissionDenied => "permission denied",
            ChatBlock::Muted => "muted",
        })
    }
}

impl ChannelState {
    pub fn new(channel: &str, bot_name: &str) -> ChannelState {
        ChannelState {
            channel: channel.to_string(),
            bot_name: bot_name.to_string(),
            users: IndexMap::new(),
            usercount: None,
            bot_rank: None,
            bot_afk: false,
            bot_muted: false,
            chat_min_rank: None,
            playlist: Vec::new(),
            media: None,
            userlist_seen: false,
            chat_connected: true,
        }
    }

    /// connected_count for user counts and status: the last `usercount`, else
    /// the userlist size (v0.5.0's fallback).
    pub fn connected_or_listed(&self) -> i64 {
        self.usercount.unwrap_or(self.users.len() as i64)
    }

    /// The bot's rank for permission checks: the `rank` event, else its own
    /// userlist entry, else 0 (a guest).
    pub fn effective_bot_rank(&self) -> f64 {
        self.bot_rank.or_else(|| self.users.get(&self.bot_name).map(|u| u.rank)).unwrap_or(0.0)
    }

    /// Checks the bot may chat: permission first, then mute (v0.5.0's order).
    pub fn may_chat(&self) -> Result<(), ChatBlock> {
        if let Some(min) = self.chat_min_rank {
            if self.effective_bot_rank() < min {
                return Err(ChatBlock::PermissionDenied);
            }
        }
        if self.bot_muted {
            return Err(ChatBlock::Muted);
        }
        Ok(())
    }

    /// Applies a user's afk/muted change; when it is the bot, its own flags too.
    pub fn set_user_meta(&mut self, name: &str, afk: Option<bool>, muted: Option<bool>) {
        if let Some(user) = self.users.get_mut(name) {
            if let Some(afk) = afk {
                user.afk = afk;
            }
            if let Some(muted) = muted {
                user.muted = muted;
            }
        }
        if name == self.bot_name {
            if let Some(afk) = afk {
                self.bot_afk = afk;
            }
            if let Some(muted) = muted {
                self.bot_muted = muted;
            }
        }
    }

    /// Removes a playlist item; when the playlist empties nothing plays.
    pub fn delete_item(&mut self, uid: &str) {
        if let Some(index) = self.playlist.iter().position(|u| u == uid) {
            self.playlist.remove(index);
        }
        if self.playlist.is_empty() {
            self.media = None;
        }
    }

    /// Replaces the playlist; an empty one means nothing plays.
    pub fn set_playlist(&mut self, uids: Vec<String>) {
        self.playlist = uids;
        if self.playlist.is_empty() {
            self.media = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, rank: f64) -> User {
        User { name: name.into(), rank, afk: false, muted: false }
    }

    #[test]
    fn permission_uses_rank_event_then_own_entry_then_guest() {
        let mut state = ChannelState::new("lounge", "Rosey");
        assert_eq!(state.may_chat(), Ok(()));
        state.chat_min_rank = Some(1.0);
        assert_eq!(state.may_chat(), Err(ChatBlock::PermissionDenied));
        state.users.insert("Rosey".into(), user("Rosey", 1.0));
        assert_eq!(state.may_chat(), Ok(()));
        state.bot_rank = Some(0.5);
        assert_eq!(state.may_chat(), Err(ChatBlock::PermissionDenied));
    }

    #[test]
    fn muting_the_bot_blocks_chat_and_unmuting_restores_it() {
        let mut state = ChannelState::new("lounge", "Rosey");
        state.set_user_meta("Rosey", None, Some(true));
        assert_eq!(state.may_chat(), Err(ChatBlock::Muted));
        state.set_user_meta("rosey", None, Some(false));
        assert_eq!(state.may_chat(), Err(ChatBlock::Muted), "names are case-sensitive");
        state.set_user_meta("Rosey", Some(true), Some(false));
        assert_eq!(state.may_chat(), Ok(()));
        assert!(state.bot_afk);
    }

    #[test]
    fn connected_falls_back_to_userlist_size() {
        let mut state = ChannelState::new("lounge", "Rosey");
        state.users.insert("a".into(), user("a", 0.0));
        assert_eq!(state.connected_or_listed(), 1);
        state.usercount = Some(9);
        assert_eq!(state.connected_or_listed(), 9);
    }
}
