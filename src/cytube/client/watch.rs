//! The join and login outcome, read off the event stream (sans-IO).
//!
//! CyTube answers `joinChannel` and `login` with events, not replies, so the session watches
//! every event for the ones that end it:
//!
//! - `login {success: false, error}`: the login failed. Fatal, except CyTube's guest
//!   throttle ("Guest logins are restricted to one per IP address per 60 seconds."), which
//!   passes by itself.
//! - `kick {reason}`: "Duplicate login" is fatal (another login under the bot's name took
//!   its place, `channel.js:424-428`); any other reason is a disconnect.
//! - `needPassword <wrong>`: the channel has a password and the join lacked it (`false`) or
//!   had a wrong one (`true`) (`accesscontrol.js`). A login with channel rank >= 2 still
//!   passes: the server then sends `cancelNeedPassword`. So with a registered login the
//!   gate stays open until the channel rank arrives (the first `rank` after `login
//!   {success: true}`): below 2 it is fatal. Anonymous and guest sessions cannot pass it.

use serde_json::Value;

use super::error::CytubeError;

/// CyTube's guest throttle message starts with this.
const GUEST_THROTTLE: &str = "Guest logins are restricted";

/// The watcher for one connection.
#[derive(Debug)]
pub(crate) struct JoinWatch {
    channel: String,
    /// The login name, if any.
    name: Option<String>,
    /// Whether the login is a registered account (the only kind that can pass a password gate).
    registered: bool,
    /// `login {success: true}` arrived.
    logged_in: bool,
    /// `needPassword` arrived and is not cancelled yet: whether the password given was wrong.
    gate: Option<bool>,
}

impl JoinWatch {
    pub(crate) fn new(channel: &str, name: Option<&str>, registered: bool) -> JoinWatch {
        JoinWatch {
            channel: channel.to_string(),
            name: name.map(str::to_string),
            registered,
            logged_in: false,
            gate: None,
        }
    }

    /// Looks at one event; `Some` when it ends the connection (fatal or not).
    pub(crate) fn observe(&mut self, event: &str, data: &Value) -> Option<CytubeError> {
        match event {
            "kick" => {
                let reason = data.get("reason").and_then(Value::as_str).unwrap_or("no reason given").to_string();
                if reason == "Duplicate login" {
                    let name = self.name.clone().unwrap_or_else(|| "(anonymous)".into());
                    return Some(CytubeError::DuplicateLogin { name });
                }
                Some(CytubeError::Kicked { reason })
            }
            "login" => {
                if data.get("success").and_then(Value::as_bool) == Some(true) {
                    self.logged_in = true;
                    return None;
                }
                let message = data.get("error").and_then(Value::as_str).unwrap_or("no reason given").to_string();
                let name = data
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| self.name.clone())
                    .unwrap_or_default();
                let retry = message.starts_with(GUEST_THROTTLE);
                Some(CytubeError::LoginFailed { name, message, retry })
            }
            "needPassword" => {
                let wrong = data.as_bool().unwrap_or(false);
                if self.registered {
                    self.gate = Some(wrong);
                    None
                } else {
                    Some(CytubeError::ChannelPassword { channel: self.channel.clone(), wrong })
                }
            }
            "cancelNeedPassword" => {
                self.gate = None;
                None
            }
            "rank" if self.logged_in => match (self.gate, data.as_f64()) {
                (Some(wrong), Some(rank)) if rank < 2.0 => {
                    Some(CytubeError::ChannelPassword { channel: self.channel.clone(), wrong })
                }
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn feed(watch: &mut JoinWatch, events: &[(&str, Value)]) -> Option<CytubeError> {
        events.iter().find_map(|(name, data)| watch.observe(name, data))
    }

    /// The join and login of `cytube-real-session.jsonl` (a registered moderator bot), event
    /// by event, with the large payloads cut down.
    #[test]
    fn the_recorded_join_and_login_end_nothing() {
        let recorded = [
            ("rank", json!(-1)),
            ("setPermissions", json!({"chat": 0, "chatclear": 2})),
            ("setPlaylistLocked", json!(true)),
            ("emoteList", json!([])),
            ("chatMsg", json!({"username": "alice", "msg": "thanks rosey", "meta": {}, "time": 1796109560671u64})),
            ("drinkCount", json!(0)),
            ("setMotd", json!("")),
            ("channelOpts", json!({"password": false})),
            ("playlist", json!([])),
            ("userlist", json!([])),
            ("usercount", json!(1)),
            ("rank", json!(1)),
            ("login", json!({"success": true, "name": "rosey"})),
            ("addUser", json!({"name": "rosey", "rank": 1, "profile": {"image": "", "text": ""}, "meta": {}})),
            ("rank", json!(2)),
            ("setUserRank", json!({"name": "rosey", "rank": 2})),
        ];
        let mut watch = JoinWatch::new("testchan", Some("rosey"), true);
        assert!(feed(&mut watch, &recorded).is_none());
    }

    #[test]
    fn duplicate_login_is_fatal_other_kicks_are_not() {
        let mut watch = JoinWatch::new("c", Some("rosey"), true);
        let err = watch.observe("kick", &json!({"reason": "Duplicate login"})).unwrap();
        assert!(matches!(err, CytubeError::DuplicateLogin { .. }) && err.is_fatal());
        let err = watch.observe("kick", &json!({"reason": "Rate limit exceeded"})).unwrap();
        assert!(matches!(err, CytubeError::Kicked { .. }) && !err.is_fatal());
    }

    #[test]
    fn failed_logins_are_fatal_but_the_guest_throttle() {
        let mut watch = JoinWatch::new("c", Some("rosey"), true);
        let err = watch
            .observe("login", &json!({"success": false, "error": "Invalid username/password combination"}))
            .unwrap();
        assert!(err.is_fatal());
        assert!(err.to_string().contains("Invalid username/password combination"), "{err}");
        let mut watch = JoinWatch::new("c", Some("GuestBot"), false);
        let throttle = "Guest logins are restricted to one per IP address per 60 seconds.";
        let err = watch.observe("login", &json!({"success": false, "error": throttle})).unwrap();
        assert!(!err.is_fatal(), "{err}");
    }

    #[test]
    fn a_password_gate_is_fatal_unless_the_login_carries_moderator_rank() {
        let mut guest = JoinWatch::new("c", Some("GuestBot"), false);
        let err = guest.observe("needPassword", &json!(false)).unwrap();
        assert!(err.is_fatal() && err.to_string().contains("needs a channel password"), "{err}");

        let mut moderator = JoinWatch::new("c", Some("rosey"), true);
        let passed = feed(
            &mut moderator,
            &[
                ("needPassword", json!(true)),
                ("rank", json!(1)),
                ("login", json!({"success": true, "name": "rosey"})),
                ("rank", json!(2)),
                ("cancelNeedPassword", Value::Null),
                ("rank", json!(2)),
            ],
        );
        assert!(passed.is_none());

        let mut user = JoinWatch::new("c", Some("rosey"), true);
        let err = feed(
            &mut user,
            &[
                ("needPassword", json!(true)),
                ("rank", json!(1)),
                ("login", json!({"success": true, "name": "rosey"})),
                ("rank", json!(1)),
            ],
        )
        .unwrap();
        assert!(err.is_fatal() && err.to_string().contains("refused the channel password"), "{err}");
    }
}
