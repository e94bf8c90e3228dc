//! Raw socket event -> [`ChatEvent`].

use serde_json::{Map, Value};

use super::event::{ChatEvent, EventError, MediaInfo, User, UserlistUpdate};
use crate::contract::kind_of;

impl ChatEvent {
    /// Normalizes one socket event.
    ///
    /// # Errors
    ///
    /// When a field the bot or the database uses is missing or of the wrong
    /// type (contract: chatMsg `username`/`msg`, addUser/userLeave `name`,
    /// usercount a non-negative integer, ...). Unknown event names are not
    /// errors: they become [`ChatEvent::Other`].
    pub fn parse(name: &str, data: &Value) -> Result<ChatEvent, EventError> {
        let bad = |reason: String| EventError { event: name.to_string(), reason };
        let event = match name {
            "userlist" => {
                let entries =
                    data.as_array().ok_or_else(|| bad(format!("expected an array of users, got {}", kind_of(data))))?;
                let mut update = UserlistUpdate { users: Vec::new(), dropped: Vec::new() };
                for (index, entry) in entries.iter().enumerate() {
                    match parse_user(entry) {
                        Ok(user) => update.users.push(user),
                        Err(reason) => update.dropped.push(format!("entry {index}: {reason}")),
                    }
                }
                ChatEvent::Userlist(update)
            }
            "addUser" => ChatEvent::AddUser(parse_user(data).map_err(bad)?),
            "userLeave" => ChatEvent::UserLeave { name: name_field(object(data).map_err(bad)?).map_err(bad)? },
            "chatMsg" => {
                let fields = object(data).map_err(bad)?;
                ChatEvent::ChatMsg {
                    username: string_field(fields, "username").map_err(bad)?,
                    msg: string_field(fields, "msg").map_err(bad)?,
                    time: fields.get("time").and_then(Value::as_i64),
                }
            }
            "usercount" => match data.as_i64() {
                Some(count) if count >= 0 => ChatEvent::Usercount(count),
                _ => return Err(bad(format!("expected a non-negative integer, got {data}"))),
            },
            "setAFK" => {
                let fields = object(data).map_err(bad)?;
                let afk =
                    fields.get("afk").and_then(Value::as_bool).ok_or_else(|| bad("`afk` must be a boolean".into()))?;
                ChatEvent::SetAfk { name: name_field(fields).map_err(bad)?, afk }
            }
            "setUserRank" => {
                let fields = object(data).map_err(bad)?;
                let rank =
                    fields.get("rank").and_then(Value::as_f64).ok_or_else(|| bad("`rank` must be a number".into()))?;
                ChatEvent::SetUserRank { name: name_field(fields).map_err(bad)?, rank }
            }
            "setUserMeta" => {
                let fields = object(data).map_err(bad)?;
                let meta = fields
                    .get("meta")
                    .and_then(Value::as_object)
                    .ok_or_else(|| bad("`meta` must be an object".into()))?;
                ChatEvent::SetUserMeta {
                    name: name_field(fields).map_err(bad)?,
                    afk: meta.get("afk").and_then(Value::as_bool),
                    muted: meta.get("muted").and_then(Value::as_bool),
                }
            }
            "rank" => {
                ChatEvent::Rank(data.as_f64().ok_or_else(|| bad(format!("expected a number, got {}", kind_of(data))))?)
            }
            "setPermissions" => {
                let fields = object(data).map_err(bad)?;
                ChatEvent::SetPermissions { chat: fields.get("chat").and_then(Value::as_f64) }
            }
            "pm" => ChatEvent::Pm,
            "playlist" => {
                let items =
                    data.as_array().ok_or_else(|| bad(format!("expected an array of items, got {}", kind_of(data))))?;
                ChatEvent::Playlist { uids: items.iter().map(|item| uid_of(item.get("uid"))).collect() }
            }
            "queue" => {
                let fields = object(data).map_err(bad)?;
                let item = fields
                    .get("item")
                    .and_then(Value::as_object)
                    .ok_or_else(|| bad("`item` must be an object".into()))?;
                ChatEvent::Queue { uid: uid_of(item.get("uid")) }
            }
            "delete" => ChatEvent::Delete { uid: uid_of(object(data).map_err(bad)?.get("uid")) },
            "moveVideo" => ChatEvent::MoveVideo,
            "setCurrent" => ChatEvent::SetCurrent { uid: uid_of(Some(data)) },
            "changeMedia" => {
                let fields = object(data).map_err(bad)?;
                ChatEvent::ChangeMedia(MediaInfo {
                    title: string_field(fields, "title").map_err(bad)?,
                    duration: fields.get("seconds").and_then(Value::as_f64).map(|s| s as i64),
                })
            }
            "rosey:say" => {
                ChatEvent::Say { message: string_field(object(data).map_err(bad)?, "message").map_err(bad)? }
            }
            "rosey:connect" => ChatEvent::Connect,
            "rosey:disconnect" => ChatEvent::Disconnect,
            other if other.starts_with("rosey:") => {
                return Err(bad("unknown operator action (known: rosey:say, rosey:connect, rosey:disconnect)".into()))
            }
            other => ChatEvent::Other { name: other.to_string() },
        };
        Ok(event)
    }
}

fn object(data: &Value) -> Result<&Map<String, Value>, String> {
    data.as_object().ok_or_else(|| format!("expected an object, got {}", kind_of(data)))
}

fn string_field(fields: &Map<String, Value>, key: &str) -> Result<String, String> {
    match fields.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("`{key}` must be a string, got {}", kind_of(other))),
        None => Err(format!("`{key}` is missing")),
    }
}

/// A user name: a non-empty string.
fn name_field(fields: &Map<String, Value>) -> Result<String, String> {
    let name = string_field(fields, "name")?;
    if name.is_empty() {
        return Err("`name` is empty".into());
    }
    Ok(name)
}

fn parse_user(data: &Value) -> Result<User, String> {
    let fields = object(data)?;
    let meta = fields.get("meta").and_then(Value::as_object);
    let flag = |key: &str| meta.and_then(|m| m.get(key)).and_then(Value::as_bool).unwrap_or(false);
    Ok(User {
        name: name_field(fields)?,
        rank: fields.get("rank").and_then(Value::as_f64).unwrap_or(0.0),
        afk: flag("afk"),
        muted: flag("muted"),
    })
}

/// Playlist uids are numbers in CyTube; strings are accepted too. A missing
/// uid becomes "" (the item counts but cannot be deleted by uid).
fn uid_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(name: &str, data: Value) -> Result<ChatEvent, EventError> {
        ChatEvent::parse(name, &data)
    }

    #[test]
    fn well_formed_events_normalize() {
        assert_eq!(
            parse("chatMsg", json!({"username": "bob", "msg": "hi", "meta": {}, "time": 1})),
            Ok(ChatEvent::ChatMsg { username: "bob".into(), msg: "hi".into(), time: Some(1) })
        );
        assert_eq!(
            parse("addUser", json!({"name": "amy", "rank": 2, "profile": {}, "meta": {"afk": true, "muted": false}})),
            Ok(ChatEvent::AddUser(User { name: "amy".into(), rank: 2.0, afk: true, muted: false }))
        );
        assert_eq!(parse("usercount", json!(7)), Ok(ChatEvent::Usercount(7)));
        assert_eq!(
            parse("changeMedia", json!({"title": "Song", "seconds": 215, "duration": "03:35"})),
            Ok(ChatEvent::ChangeMedia(MediaInfo { title: "Song".into(), duration: Some(215) }))
        );
        assert_eq!(
            parse("playlist", json!([{"uid": 4, "media": {}}, {"uid": "x"}, {}])),
            Ok(ChatEvent::Playlist { uids: vec!["4".into(), "x".into(), String::new()] })
        );
        assert_eq!(
            parse("mediaUpdate", json!({"currentTime": 3})),
            Ok(ChatEvent::Other { name: "mediaUpdate".into() })
        );
    }

    #[test]
    fn userlist_drops_bad_entries_alone() {
        let Ok(ChatEvent::Userlist(update)) = parse(
            "userlist",
            json!([{"name": "a"}, {"rank": 1}, {"name": null}, "zed", {"name": "b", "meta": {"muted": true}}]),
        ) else {
            panic!("a userlist with some bad entries is still a userlist");
        };
        let names: Vec<_> = update.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(update.users[1].muted);
        assert_eq!(update.dropped.len(), 3);
        assert!(update.dropped[0].starts_with("entry 1: `name` is missing"));
    }

    #[test]
    fn malformed_events_say_what_is_wrong() {
        let cases = [
            ("chatMsg", json!({"msg": "hi"}), "`username` is missing"),
            ("chatMsg", json!({"username": "a", "msg": 5}), "`msg` must be a string, got a number"),
            ("chatMsg", json!("text"), "expected an object, got a string"),
            ("addUser", json!({"name": 3}), "`name` must be a string"),
            ("addUser", json!({"name": ""}), "`name` is empty"),
            ("userLeave", json!({}), "`name` is missing"),
            ("usercount", json!(-1), "non-negative integer"),
            ("usercount", json!(2.5), "non-negative integer"),
            ("usercount", json!("7"), "non-negative integer"),
            ("userlist", json!({}), "expected an array"),
            ("setAFK", json!({"name": "a"}), "`afk` must be a boolean"),
            ("rank", json!("high"), "expected a number"),
            ("rosey:say", json!({}), "`message` is missing"),
            ("rosey:shout", json!({}), "unknown operator action"),
        ];
        for (name, data, reason) in cases {
            let err = parse(name, data.clone()).unwrap_err();
            assert_eq!(err.event, name);
            assert!(err.reason.contains(reason), "{name} {data}: got {err}");
        }
    }
}
