//! The periodic tasks' payloads and the shutdown sequence.

use serde_json::{json, Map, Value};

use super::handlers::{left, Bot};
use crate::contract::{Command, StatsUserCount, StatusUpdate};

/// Status every 10 s, user counts every 300 s, outbound every 2 s: the first
/// tick of each at one period after virtual 0 (contract section 5).
pub const OUTBOUND_PERIOD_MS: i64 = 2_000;
pub const STATUS_PERIOD_MS: i64 = 10_000;
pub const USER_COUNT_PERIOD_MS: i64 = 300_000;

impl Bot {
    /// The 10 s `status.update`.
    pub fn status(&self, at_ms: i64, connected: bool) -> Command {
        let state = &self.state;
        let mut fields = Map::new();
        fields.insert("bot_name".into(), json!(state.bot_name));
        if let Some(rank) = state.bot_rank {
            fields.insert("bot_rank".into(), json!(rank));
        }
        fields.insert("bot_afk".into(), json!(i64::from(state.bot_afk)));
        fields.insert("channel_name".into(), json!(state.channel));
        fields.insert("current_chat_users".into(), json!(state.users.len()));
        fields.insert("current_connected_users".into(), json!(state.connected_or_listed()));
        fields.insert("bot_start_time".into(), json!(crate::clock::unix_seconds(self.start_unix_ms)));
        fields.insert("bot_connected".into(), json!(i64::from(connected)));
        fields.insert("playlist_items".into(), json!(state.playlist.len()));
        if let Some(media) = &state.media {
            fields.insert("current_media_title".into(), json!(media.title));
            fields.insert("current_media_duration".into(), media.duration.map_or(Value::Null, Value::from));
        }
        Command::Status(StatusUpdate { status_data: fields, at_ms: Some(at_ms) })
    }

    /// The 300 s `stats.user_count`, only while the userlist is non-empty.
    pub fn user_count(&self, at_ms: i64) -> Option<Command> {
        if self.state.users.is_empty() {
            return None;
        }
        Some(Command::UserCount(StatsUserCount {
            chat_count: self.state.users.len() as i64,
            connected_count: self.state.connected_or_listed(),
            at_ms: Some(at_ms),
        }))
    }

    /// Shutting down: `user.left` for every listed user, which closes their
    /// sessions at this instant; the list is then empty.
    pub fn shutdown(&mut self, at_ms: i64) -> Vec<Command> {
        let out = self.state.users.keys().map(|name| left(name, Some(at_ms))).collect();
        self.state.users.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::Protocol;
    use super::*;
    use crate::cytube::ChatEvent;

    fn feed(bot: &mut Bot, name: &str, data: Value) {
        bot.handle(&ChatEvent::parse(name, &data).unwrap(), 0);
    }

    #[test]
    fn status_reports_channel_bot_and_media() {
        let mut bot = Bot::new("lounge", "Rosey", 1_731_000_000_999, Protocol::Hardened);
        feed(&mut bot, "userlist", json!([{"name": "Rosey"}, {"name": "a"}]));
        feed(&mut bot, "rank", json!(2));
        feed(&mut bot, "setAFK", json!({"name": "Rosey", "afk": true}));
        feed(&mut bot, "playlist", json!([{"uid": 1}, {"uid": 2}]));
        let Command::Status(status) = bot.status(10_000, true) else { unreachable!() };
        assert_eq!(
            Value::Object(status.status_data.clone()),
            json!({
                "bot_name": "Rosey", "bot_rank": 2.0, "bot_afk": 1, "channel_name": "lounge",
                "current_chat_users": 2, "current_connected_users": 2,
                "bot_start_time": 1_731_000_000, "bot_connected": 1, "playlist_items": 2
            })
        );
        feed(&mut bot, "changeMedia", json!({"title": "Song", "seconds": 200}));
        feed(&mut bot, "usercount", json!(7));
        let Command::Status(status) = bot.status(20_000, true) else { unreachable!() };
        assert_eq!(status.status_data["current_media_title"], json!("Song"));
        assert_eq!(status.status_data["current_media_duration"], json!(200));
        assert_eq!(status.status_data["current_connected_users"], json!(7));
    }

    #[test]
    fn rank_is_omitted_until_known_and_media_clears_when_the_playlist_empties() {
        let mut bot = Bot::new("lounge", "Rosey", 0, Protocol::Hardened);
        feed(&mut bot, "playlist", json!([{"uid": 1}]));
        feed(&mut bot, "changeMedia", json!({"title": "Song", "seconds": 200}));
        let Command::Status(status) = bot.status(10_000, true) else { unreachable!() };
        assert!(!status.status_data.contains_key("bot_rank"));
        assert_eq!(status.status_data["current_media_title"], json!("Song"));
        feed(&mut bot, "delete", json!({"uid": 1}));
        let Command::Status(status) = bot.status(20_000, true) else { unreachable!() };
        assert_eq!(status.status_data["playlist_items"], json!(0));
        assert!(!status.status_data.contains_key("current_media_title"));
    }

    #[test]
    fn user_count_only_while_someone_is_listed() {
        let mut bot = Bot::new("lounge", "Rosey", 0, Protocol::Hardened);
        assert_eq!(bot.user_count(300_000), None);
        feed(&mut bot, "addUser", json!({"name": "a"}));
        let Some(Command::UserCount(count)) = bot.user_count(300_000) else { panic!("a listed user") };
        assert_eq!((count.chat_count, count.connected_count), (1, 1));
    }

    #[test]
    fn shutdown_leaves_every_listed_user_in_order() {
        let mut bot = Bot::new("lounge", "Rosey", 0, Protocol::Hardened);
        feed(&mut bot, "userlist", json!([{"name": "b"}, {"name": "a"}]));
        let names: Vec<_> = bot
            .shutdown(9)
            .into_iter()
            .map(|c| match c {
                Command::UserLeft(u) => (u.username, u.at_ms),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(names, [("b".to_string(), Some(9)), ("a".to_string(), Some(9))]);
        assert!(bot.state.users.is_empty());
    }
}
